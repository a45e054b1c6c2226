"""The answer-first view at a fixed terminal width, through the real command line
(CliRunner), colourless: the issue's targets (lines at 80 columns, nothing wider than
the terminal, the culprit in the first lines) and golden output at 80 and 120 columns."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from inline_snapshot import snapshot

from gradcli.cli import cli

ROOT = Path(__file__).parent.parent
GRAPH = "b = a.sum(dim=0, keepdim=True); c = a/b; y = w@c"
SOFTMAX = ("softmax", "3", "1", "-3")
LAYER = ("layer", "--seed", "42")
GRAPH_RUN = ("graph", GRAPH, "--rand", "w=4x10", "--rand", "a=10x10", "--seed", "42")
FAILING_CHECK = (
    "check",
    "examples/ops.py:softmax",
    "--jacobian",
    "softmax_jacobian_no_cross_terms",
    "--shape",
    "5",
)


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the check's paths are relative, as a user types them


def view(*args: str, width: int = 80) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env={"COLUMNS": str(width), "NO_COLOR": "1"})
    return result.exit_code, result.stdout


@pytest.mark.parametrize(
    ("args", "status", "most"),
    [(SOFTMAX, 0, 16), (LAYER, 0, 30), (GRAPH_RUN, 0, 40), (FAILING_CHECK, 1, 30)],
    ids=["softmax", "layer", "graph", "check"],
)
@pytest.mark.parametrize("width", [80, 120])
def test_the_view_fits_its_line_budget_and_the_terminal(args, status, most, width):
    code, out = view(*args, width=width)
    assert code == status
    lines = out.splitlines()
    assert len(lines) <= most
    assert max(len(line) for line in lines) <= width
    assert not re.search(r"[\w.]…", out)  # no clipped number, name or status (rich's "0.0050…")


def test_a_failing_check_says_what_failed_in_its_first_five_lines():
    code, out = view(*FAILING_CHECK)
    assert code == 1
    head = "\n".join(out.splitlines()[:5])
    assert head.startswith("DISAGREE: jacobian: yours differs in 60 of 75 entries, 3 of 3 trials")
    assert "pattern: diagonal right, off-diagonal entries wrong" in head
    # the worst entry against the expected value: J[1,2] of trial 1, where the missing
    # cross term is −s_1·s_2 = −0.132248
    assert "worst: J[1,2] in trial 1: yours 0, torch -0.132248" in head
    last = out.splitlines()[-2:]
    assert any("--trial 1" in line for line in last)


def test_the_rerun_line_reruns_just_the_failing_trial():
    code, out = view(*FAILING_CHECK, "--trial", "1", "--json")
    assert code == 1
    doc = json.loads(out)
    assert doc["failing_trial"]["trial"] == 1
    assert [c["quantity"] for c in doc["comparisons"]] == ["trial1.jacobian"] * 3
    full = json.loads(view(*FAILING_CHECK, "--json")[1])
    assert doc["failing_trial"]["x"] == full["failing_trial"]["x"] == full["inputs"]["x"][1]
    assert doc["results"]["torch"]["trial1"] == full["results"]["torch"]["trial1"]


def test_a_vjp_failure_records_its_cotangent():
    code, out = view("check", "examples/ops.py:SquareForgotTwo", "--shape", "3", "--json")
    assert code == 1
    doc = json.loads(out)
    trial = doc["failing_trial"]
    assert trial["g"] == doc["cotangents"][trial["trial"]]
    # the forgotten 2 of d(x²) = 2x·g: yours is x·g, half of torch's
    x, g = trial["x"], trial["g"]
    yours = doc["results"]["yours"][f"trial{trial['trial']}"]["vjp"]
    assert yours == pytest.approx([a * b for a, b in zip(x, g, strict=True)], rel=1e-12)


def test_quiet_keeps_the_counts_and_the_pattern():
    code, out = view(*FAILING_CHECK, "--quiet")
    assert code == 1
    assert out == (
        "DISAGREE: jacobian: yours differs in 60 of 75 entries, 3 of 3 trials; "
        "pattern: diagonal right, off-diagonal entries wrong\n"
    )


def test_detail_keeps_every_table():
    code, out = view(*SOFTMAX, "--detail", width=100)
    assert code == 0
    assert "Differences (the second backend is the reference)" in out
    assert out.count("0.106451") >= 3 * 3  # J[0,0] of each backend, in the worst table too


def test_an_agreeing_result_is_shown_once():
    code, out = view(*SOFTMAX)
    assert code == 0
    assert out.count("0.106451") == 1
    assert out.count("-0.104537") == 2  # J[0,1] and J[1,0]


def test_softmax_at_80_columns():
    assert view(*SOFTMAX)[1] == snapshot()


def test_softmax_at_120_columns():
    assert view(*SOFTMAX, width=120)[1] == snapshot()


def test_layer_at_80_columns():
    assert view(*LAYER)[1] == snapshot()


def test_layer_at_120_columns():
    assert view(*LAYER, width=120)[1] == snapshot()


def test_graph_at_80_columns():
    assert view(*GRAPH_RUN)[1] == snapshot()


def test_graph_at_120_columns():
    assert view(*GRAPH_RUN, width=120)[1] == snapshot()


def test_failing_check_at_80_columns():
    assert view(*FAILING_CHECK)[1] == snapshot()


def test_failing_check_at_120_columns():
    assert view(*FAILING_CHECK, width=120)[1] == snapshot()
