"""Count false alarms and misses on tests/corpus for gradcli, torch.autograd.gradcheck and
jax.test_util.check_grads (each at its default tolerances; jax where it is installed, it
is no dependency of gradcli): python scripts/corpus_counts.py [--gradcli-only] [-v]."""

from __future__ import annotations

import importlib.util
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.corpus import run
from tests.corpus.cases import cases


def main() -> None:
    verbose = "-v" in sys.argv
    tools = {"gradcli": run.gradcli_ok}
    if "--gradcli-only" not in sys.argv:
        tools["gradcheck"] = run.gradcheck_ok
        if importlib.util.find_spec("jax") is not None:
            tools["jax"] = run.jax_ok
        else:
            print("jax is not installed: its column is left out (pip install jax jaxlib)")
    counts: dict[str, Counter[str]] = {t: Counter() for t in tools}
    start = time.perf_counter()
    for case in cases():
        line = [f"{case.name:30s} {case.label:7s}"]
        for tool, ok_of in tools.items():
            ok = ok_of(case)
            wrong = (case.label == "bug") == ok  # a bug passed, or a right one failed
            what = {"bug": "miss", "correct": "false alarm", "kink": "false alarm"}[case.label]
            counts[tool][case.label] += 1
            if wrong:
                counts[tool][what] += 1
            line.append(f"{tool} {'ok' if ok else 'FAIL'}{' <-- ' + what if wrong else ''}")
        if verbose:
            print("  ".join(line), flush=True)
    for tool, c in counts.items():
        right = c["correct"] + c["kink"]
        print(
            f"{tool}: false alarms {c['false alarm']} of {right} (correct and kinks), "
            f"misses {c['miss']} of {c['bug']} planted bugs"
        )
    print(f"{time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
