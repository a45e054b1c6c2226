"""gradcli's benchmark: each target against its baseline, measured in the same run.

    python bench/run.py [--repeat N] [--json FILE] [--markdown] [--only TARGET ...]

Whole-process cases run the command and its baseline alternately (interleaved, so that
drift in the machine's speed hits both), N times each, and compare medians of wall time
and of peak memory (the child's max RSS, from os.wait4). In-process cases time a library
call, and measure the analytic Jacobian's memory against its floor with tracemalloc.
Absolute numbers are this machine's; the ratios are what the targets are about.

Output format (--json), versioned:
  1: {"version": 1, "machine": {...}, "cases": [{"name", "measure", "value", "baseline",
     "ratio", "target", "ok", "unit"}]}
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from dataclasses import asdict, dataclass
from pathlib import Path

FORMAT_VERSION = 1
PYTHON = sys.executable
# The console script, as a user runs it (`python -m` would add runpy's import).
GRADCLI = [str(Path(sys.executable).with_name("gradcli"))]

MINIMAL_CLICK_HELP = """
import click


@click.group()
def cli():
    "A command group."


cli(["--help"])
"""

HAND_WRITTEN_SOFTMAX = """
import sys
import numpy as np
import torch

z = np.load(sys.argv[1])
n = z.size
s = np.exp(z - z.max())
s /= s.sum()
jac_numpy = np.diag(s) - np.outer(s, s)
jac_torch = torch.func.jacrev(lambda t: torch.softmax(t, dim=0))(torch.from_numpy(z)).numpy()
h = 6e-6
perturb = h * np.eye(n)


def softmax_rows(rows):
    e = np.exp(rows - rows.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


jac_fd = ((softmax_rows(z + perturb) - softmax_rows(z - perturb)) / (2 * h)).T
np.savez(sys.argv[2], numpy=jac_numpy, torch=jac_torch, fd=jac_fd)
"""


# The same work two ways: three 4096×4096 float64 Jacobians of a softmax, computed and
# saved as one .npz. "writer" computes them straight into gradcli's NpzWriter (the
# file's pages); "savez" computes them in memory and calls np.savez (zipfile). What
# the hand-written writer buys is the difference (docs/performance.md).
NPZ_WORK = """
import sys
import numpy as np
mode, path, n = sys.argv[1], sys.argv[2], 4096
z = np.random.default_rng(0).normal(size=n)
s = np.exp(z - z.max())
s /= s.sum()
def jacobian(out):
    np.multiply.outer(-s, s, out=out)
    out[np.diag_indices(n)] += s
if mode == "writer":
    from gradcli.npz import NpzWriter
    with NpzWriter(path) as writer:
        arrays = {}
        for key in ("numpy.jacobian", "torch.jacobian", "fd.jacobian"):
            arrays[key] = writer.empty(key, (n, n), np.float64)
            jacobian(arrays[key])
        writer.finish(arrays)
else:
    arrays = {}
    for key in ("numpy.jacobian", "torch.jacobian", "fd.jacobian"):
        arrays[key] = np.empty((n, n))
        jacobian(arrays[key])
    np.savez(path, **arrays)
"""


# gradcli's CLI from a given copy of its source (this branch, or `git archive` of the
# previous version): the same interpreter, the same entry point, only the code differs.
FROM_SOURCE = (
    "import sys; sys.path.insert(0, sys.argv.pop(1)); from gradcli.cli import main; "
    "main(sys.argv[1:])"
)

# A forward of ~50 ms per call that computes (not sleeps), for --jobs.
SLOW_FORWARD = """
import time
import numpy as np

def f(x):
    if x.ndim != 1:  # one point a call: a forward gradcli cannot batch
        raise ValueError("one point at a time")
    start = time.perf_counter()
    while time.perf_counter() - start < 0.05:  # 50 ms of computing, not sleeping
        pass
    return np.tanh(x)

def grad(x):
    return 1 - np.tanh(x) ** 2
"""

# issue 23: gradcli.check of a linear autograd.Function against gradcheck, in process.
LINEAR_FUNCTION = """
import json, statistics, sys, time
import torch
import gradcli

class Linear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, W, b):
        ctx.save_for_backward(x, W)
        return x @ W.T + b

    @staticmethod
    def backward(ctx, g):
        x, W = ctx.saved_tensors
        return g @ W, g.T @ x, g.sum(0)

torch.manual_seed(0)
x = torch.randn(16, 32, dtype=torch.float64, requires_grad=True)
W = torch.randn(8, 32, dtype=torch.float64, requires_grad=True)
b = torch.randn(8, dtype=torch.float64, requires_grad=True)
inputs = {"x": x.detach().numpy(), "W": W.detach().numpy(), "b": b.detach().numpy()}

def ours():
    assert gradcli.check(Linear, inputs=inputs).ok

def theirs():
    assert torch.autograd.gradcheck(Linear.apply, (x, W, b))

def timed(fn):
    start = time.perf_counter(); fn(); return time.perf_counter() - start

ours(); theirs()  # warm up
a, t = [], []
for i in range(int(sys.argv[1])):
    for fn, sink in ((ours, a), (theirs, t)) if i % 2 == 0 else ((theirs, t), (ours, a)):
        sink.append(timed(fn))
print(json.dumps([statistics.median(a), statistics.median(t)]))
"""


def previous_source(ref: str, work: Path) -> Path | None:
    """`git archive` of gradcli at `ref` (the previous version), or None outside git."""
    folder = work / "previous"
    folder.mkdir()
    root = Path(__file__).resolve().parent.parent
    archive = subprocess.run(
        ["git", "-C", str(root), "archive", ref, "gradcli"], capture_output=True, check=False
    )
    if archive.returncode != 0:
        return None
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder


def check_start(ref: str, work: Path, repeat: int) -> list[Result]:
    """gradcli check of a small function: this branch against `ref`, interleaved."""
    previous = previous_source(ref, work)
    if previous is None:
        return []
    root = str(Path(__file__).resolve().parent.parent)
    argv = [
        "check",
        f"{root}/examples/ops.py:softmax",
        "--jacobian",
        "softmax_jacobian",
        "--shape",
        "5",
    ]
    return compare_processes(
        f"5. gradcli check of a small function vs the previous version ({ref})",
        [PYTHON, "-c", FROM_SOURCE, root, *argv],
        [PYTHON, "-c", FROM_SOURCE, str(previous), *argv],
        repeat,
        1.1,
    )


def check_jobs(work: Path, repeat: int) -> list[Result]:
    """--jobs 2 against --jobs 1 with a forward of ~50 ms per call."""

    (work / "slow.py").write_text(SLOW_FORWARD)
    argv = ["check", str(work / "slow.py:f"), "--grad", "grad", "--shape", "32", "--trials", "2"]
    argv += ["--backend", "fd"]
    results = compare_processes(
        "6. gradcli check --jobs 2 vs --jobs 1, a forward of ~50 ms per call",
        [*GRADCLI, *argv, "--jobs", "2"],
        [*GRADCLI, *argv, "--jobs", "1"],
        repeat,
        1 / 1.8,
    )
    return results


def linear_function(repeat: int) -> Result:
    """issue 23: gradcli.check of a linear autograd.Function vs gradcheck, one thread."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    out = subprocess.run(
        [PYTHON, "-c", LINEAR_FUNCTION, str(repeat)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    ours, theirs = json.loads(out.stdout.strip().splitlines()[-1])
    name = "7. in process: check of a linear autograd.Function vs torch.autograd.gradcheck"
    return Result(name, "time", ours, theirs, 1.0, "s")


@dataclass
class Result:
    name: str
    measure: str  # "time" or "memory"
    value: float
    baseline: float
    target: float | None
    unit: str

    @property
    def ratio(self) -> float:
        return self.value / self.baseline

    @property
    def ok(self) -> bool | None:
        return None if self.target is None else self.ratio <= self.target


def run_once(command: list[str]) -> tuple[float, float]:
    """Wall time (s) and peak RSS (MiB) of one run of `command`."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"benchmark command failed ({proc.returncode}): {' '.join(command)}")
    return elapsed, usage.ru_maxrss / 1024


def compare_processes(
    name: str,
    command: list[str],
    baseline: list[str],
    repeat: int,
    time_target: float | None,
    memory_target: float | None = None,
) -> list[Result]:
    ours, theirs = [], []
    for i in range(repeat):
        pair = [(command, ours), (baseline, theirs)]
        for cmd, sink in pair if i % 2 == 0 else pair[::-1]:
            sink.append(run_once(cmd))
    results = [_median(name, "time", ours, theirs, 0, time_target, "s")]
    if memory_target is not None:
        results.append(_median(name, "memory", ours, theirs, 1, memory_target, "MiB"))
    return results


def _median(
    name: str,
    measure: str,
    ours: list[tuple[float, float]],
    theirs: list[tuple[float, float]],
    column: int,
    target: float | None,
    unit: str,
) -> Result:
    value = statistics.median(run[column] for run in ours)
    return Result(
        name, measure, value, statistics.median(run[column] for run in theirs), target, unit
    )


def npz_rows(script: Path, work: Path, repeat: int) -> list[Result]:
    """Time and peak memory of NPZ_WORK's two modes, interleaved (no targets: a record of
    what the hand-written writer buys)."""
    writer = [PYTHON, str(script), "writer", str(work / "writer.npz")]
    savez = [PYTHON, str(script), "savez", str(work / "savez.npz")]
    ours, theirs = [], []
    for i in range(repeat):
        pair = [(writer, ours), (savez, theirs)]
        for cmd, sink in pair if i % 2 == 0 else pair[::-1]:
            sink.append(run_once(cmd))
    name = "npz: three 4096² Jacobians into NpzWriter vs computed, then np.savez"
    return [
        _median(name, "time", ours, theirs, 0, None, "s"),
        _median(name, "memory", ours, theirs, 1, None, "MiB"),
    ]


def jacobian_memory(n: int) -> Result:
    """Peak memory of analytic.softmax_jacobian against the floor: n² float64 once."""
    import numpy as np

    from gradcli.backends import analytic

    s = analytic.softmax(np.random.default_rng(0).normal(size=n))
    tracemalloc.start()
    analytic.softmax_jacobian(s)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    floor = n * n * 8
    return Result(f"analytic Jacobian, n = {n}", "memory", peak / 2**20, floor / 2**20, 2.0, "MiB")


def in_process_softmax(n: int, repeat: int) -> Result:
    """`gradcli.softmax` (all three backends, laws, comparisons, the Report) against one
    numpy Jacobian, np.diag(s) − np.outer(s, s), timed alternately in the same run."""
    import numpy as np

    import gradcli

    z = np.random.default_rng(0).normal(size=n)
    gradcli.softmax(z)  # warm up: torch's import and first call

    def hand() -> None:
        s = np.exp(z - z.max())
        s /= s.sum()
        np.diag(s) - np.outer(s, s)

    # interleaved, so that drift in the machine's speed hits both
    ours, theirs = [], []
    for _ in range(repeat):
        ours.append(_timed(lambda: gradcli.softmax(z)))
        theirs.append(_timed(hand))
    return Result(
        f"in process: gradcli.softmax n = {n}, 3 backends vs one numpy Jacobian",
        "time",
        statistics.median(ours),
        statistics.median(theirs),
        10.0,
        "s",
    )


def _timed(fn: object) -> float:
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs of each command (default 7)")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument(
        "--markdown", action="store_true", help="also print the table as Markdown (docs/)"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=["1", "2", "3", "4", "5", "6", "7", "npz", "in-process"],
        help="run only these targets (default: all)",
    )
    parser.add_argument(
        "--previous", default="main", help="the git ref row 5 compares against (default main)"
    )
    args = parser.parse_args()
    import numpy as np

    import gradcli

    # Byte-compile gradcli as `pip install` does: an editable install (or
    # PYTHONDONTWRITEBYTECODE) would otherwise compile its source on every run,
    # while click, numpy and torch load precompiled bytecode.
    compileall.compile_dir(str(Path(gradcli.__file__).parent), quiet=1)

    work = Path(tempfile.mkdtemp(prefix="gradcli-bench-"))
    try:
        z = work / "z4096.npy"
        np.save(z, np.random.default_rng(0).normal(size=4096))
        script = work / "hand_written.py"
        script.write_text(HAND_WRITTEN_SOFTMAX)
        npz_work = work / "npz_work.py"
        npz_work.write_text(NPZ_WORK)
        r = args.repeat
        cases = {
            "1": lambda: compare_processes(
                "1. gradcli softmax 3 1 -3 vs python -c 'import torch'",
                [*GRADCLI, "softmax", "3", "1", "-3"],
                [PYTHON, "-c", "import torch"],
                r,
                1.05,
            ),
            "2": lambda: [
                *compare_processes(
                    "2. gradcli --help vs python -c 'import click'",
                    [*GRADCLI, "--help"],
                    [PYTHON, "-c", "import click"],
                    r,
                    1.1,
                ),
                *compare_processes(  # what --help costs any click CLI, for reference
                    "2. a minimal click group's --help vs python -c 'import click'",
                    [PYTHON, "-c", MINIMAL_CLICK_HELP],
                    [PYTHON, "-c", "import click"],
                    r,
                    None,
                ),
                *compare_processes(
                    "2. gradcli softmax 3 1 -3 --backend numpy vs python -c 'import click, numpy'",
                    [*GRADCLI, "softmax", "3", "1", "-3", "--backend", "numpy"],
                    [PYTHON, "-c", "import click, numpy"],
                    r,
                    None,
                ),
            ],
            "3": lambda: [
                *compare_processes(
                    "3. softmax n = 4096, 3 backends, --save vs the hand-written script",
                    [*GRADCLI, "softmax", "--input", str(z), "--save", str(work / "ours.npz")],
                    [PYTHON, str(script), str(z), str(work / "theirs.npz")],
                    max(3, r // 2),
                    0.5,
                    0.6,
                ),
                jacobian_memory(4096),
            ],
            "4": lambda: compare_processes(
                "4. layer 1000×1000, 3 backends, --save vs python -c 'import torch'",
                [
                    *GRADCLI,
                    "layer",
                    "--in-features",
                    "1000",
                    "--out-features",
                    "1000",
                    "--save",
                    str(work / "layer.npz"),
                ],
                [PYTHON, "-c", "import torch"],
                max(3, r // 2),
                2.0,
            ),
            "5": lambda: check_start(args.previous, work, r),
            "6": lambda: check_jobs(work, max(3, r // 2)),
            "7": lambda: [linear_function(r)],
            "npz": lambda: npz_rows(npz_work, work, max(3, r // 2)),
            "in-process": lambda: [in_process_softmax(4096, max(3, r))],
        }
        results = [result for key in args.only or cases for result in cases[key]()]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_table(results)
    if args.markdown:
        print_markdown(results)
    if args.json:
        Path(args.json).write_text(json.dumps(to_json(results), indent=2) + "\n")


def print_table(results: list[Result]) -> None:
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"gradcli benchmark on {machine}")
    print(
        f"{'case':<78} {'measure':<7} {'gradcli':>9} {'baseline':>9} {'ratio':>6} {'target':>7}  ok"
    )
    for r in results:
        target = "" if r.target is None else f"≤ {r.target:g}"
        ok = "" if r.ok is None else ("yes" if r.ok else "NO")
        print(
            f"{r.name:<78} {r.measure:<7} {r.value:>8.3g}{r.unit[0]} {r.baseline:>8.3g}{r.unit[0]} "
            f"{r.ratio:>6.2f} {target:>7}  {ok}"
        )


def print_markdown(results: list[Result]) -> None:
    print("\n| case | measure | gradcli | baseline | ratio | target |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in results:
        target = "" if r.target is None else f"≤ {r.target:g} {'✓' if r.ok else '✗'}"
        value, baseline = (_amount(v, r.unit) for v in (r.value, r.baseline))
        print(f"| {r.name} | {r.measure} | {value} | {baseline} | {r.ratio:.2f} | {target} |")


def _amount(value: float, unit: str) -> str:
    if unit == "s" and value < 1:
        return f"{value * 1000:.3g} ms"
    return f"{value:.0f} {unit}" if value >= 100 else f"{value:.3g} {unit}"


def to_json(results: list[Result]) -> dict[str, object]:
    return {
        "version": FORMAT_VERSION,
        "machine": {
            "machine": platform.machine(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
        },
        "cases": [{**asdict(r), "ratio": r.ratio, "ok": r.ok} for r in results],
    }


if __name__ == "__main__":
    main()
