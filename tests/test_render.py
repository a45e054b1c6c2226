"""Tables rendered at a fixed width without colour, compared with golden text."""

from pathlib import Path

import numpy as np
import pytest

from gradcli.backends import analytic
from gradcli.commands.softmax import problem
from gradcli.render import json as render_json
from gradcli.render.table import render_text
from gradcli.spec import RunOptions, SoftmaxSpec

GOLDEN = Path(__file__).parent / "golden"


def run(z, temperature=1.0, **options):
    return problem.run(SoftmaxSpec(np.asarray(z, dtype=float), temperature, RunOptions(**options)))


def check_golden(name, text):
    path = GOLDEN / name
    if not path.exists():  # first run writes it; review it and commit
        path.write_text(text)
    assert text == path.read_text()


def test_numpy_only_table_is_byte_stable():
    check_golden("softmax_numpy.txt", render_text(run([3, 1, -3], backends=("numpy",)), width=100))


def test_disagreement_table_is_byte_stable(monkeypatch):
    monkeypatch.setattr(
        analytic, "softmax_jacobian", lambda s, t=1.0, out=None: np.diag(s * (1 - s)) / t
    )
    text = render_text(run([3, 1, -3], backends=("numpy", "fd")), width=160)
    # fd's error digits are platform arithmetic: compare the structure around them.
    assert text.startswith("DISAGREE: J: numpy and fd (finite differences) disagree in 6 of 9")
    assert "worst (furthest beyond its allowed error): J[1,0]: numpy 0 vs fd -0.104537" in text
    assert "6/9 (66.7%)  FAIL" in text  # the six off-diagonal entries were dropped
    assert "rows of J sum to 0          0.106  1.07e-10  FAIL" in text


def test_large_inputs_show_a_corner_and_the_size():
    text = render_text(run(np.arange(30.0), 2.0, backends=("numpy",)), width=100, precision=3)
    check_golden("softmax_30_corner.txt", text)
    assert "showing 11 of 30 rows; all with --json or --save" in text
    assert "showing the 6×6 corner of 30×30; all with --json or --save" in text
    assert text.count("\n") < 50


@pytest.mark.parametrize("precision", [2, 6, 12])
def test_precision_sets_significant_digits(precision):
    text = render_text(run([3, 1, -3], backends=("numpy",)), precision=precision)
    assert f"{0.8787782427:.{precision}g}"[:3] in text
    s0 = analytic.softmax(np.array([3.0, 1.0, -3.0]))[0]
    assert f"{s0:.{precision}g}" in text


def test_json_is_strict_and_flags_non_finite(monkeypatch):
    monkeypatch.setattr(
        analytic, "softmax_jacobian", lambda s, t=1.0, out=None: np.full((s.size, s.size), np.inf)
    )
    data = render_json.dumps(run([3, 1], backends=("numpy",)))
    assert b"Infinity" not in data
    assert b"NaN" not in data
    import json

    doc = json.loads(data)
    assert doc["results"]["numpy"]["jacobian"] == [[None, None], [None, None]]
    assert doc["non_finite"] == [
        {
            "quantity": "J",
            "trial": None,
            "id": "jacobian",
            "backend": "numpy",
            "count": 4,
            "first_index": [0, 0],
        }
    ]
    assert doc["ok"] is False


def _tanh_check():
    import gradcli

    # a grad missing its square: 1 − tanh(x) for 1 − tanh²(x)
    return gradcli.check(lambda x: np.tanh(x), grad=lambda x: 1 - np.tanh(x), shape=(3, 3))


def test_detail_tables_fit_80_columns_without_folding_a_name():
    lines = render_text(_tanh_check(), width=80).splitlines()
    assert max(len(line) for line in lines) <= 80
    start = lines.index("Differences (the second backend is the reference)")
    assert lines[start : start + 12] == [
        "Differences (the second backend is the reference)",
        " " * 80,
        " quantity         a vs ref     max abs  max rel   rtol   atol  out of tol       ",
        " " + "─" * 78 + " ",
        " grad in trial 0  yours vs fd    0.975     1.54  2e-15  2e-15  9/9 (100%)  FAIL ",
        " grad in trial 1  yours vs fd     1.94     51.8  2e-15  2e-15  9/9 (100%)  FAIL ",
        " grad in trial 2  yours vs fd     1.03     1.71  2e-15  2e-15  9/9 (100%)  FAIL ",
        " " * 80,
        "pass: |a − ref| ≤ atol + rtol·|ref| + c·error(ref) for every element, all",
        "finite; at a kink, a inside [left, right] ± atol",
        "Worst element of each comparison (allowed = atol + rtol·|ref| + c·error, error:",
        "the reference's own error estimate)",
    ]
    # a table that fits keeps its edge (a blank line and column around it)
    assert lines[start + 12 : start + 15] == [
        " " * 65,
        " quantity         a vs ref      at        a        ref   allowed ",
        " " + "─" * 63 + " ",
    ]
    assert lines[-2:] == [
        "note: the forward does not take torch tensors: the check is your derivative",
        "against finite differences only",
    ]


def test_the_heatmap_hints_at_what_it_leaves_out_not_at_itself():
    text = render_text(run([3, 1, -3]), width=80, heatmap=True)
    assert "--heatmap" not in text
    assert text.splitlines()[-6:-1] == [
        "cells: sign (+ −) and |value| in 6 decades below the largest (░▒▓█);",
        "differences: ·· within tolerance, red beyond it; the worst element underlined",
        "  references: fd: J by central differences over 3 inputs, error ≤ 2.6e-10",
        "  laws hold on numpy, torch and fd: s sums to 1; rows of J sum to 0; J symmetric",
        "  more: --detail (every backend, pair and tolerance) · --plot FILE.png ·",
    ]
    assert text.endswith("    --explain 'J[0,1]'\n")
    # the default view still offers the heatmap
    from gradcli.render.table import render_view

    assert "--heatmap" in render_view(run([3, 1, -3]), width=80)


def test_names_fold_only_after_the_edge_and_a_space_between_columns_are_gone():
    import gradcli

    def forward(x, W, b):
        return np.tanh(W @ x + b)

    def vjp(x, W, b, v):  # 1 − y for 1 − y²
        g = v * (1 - np.tanh(W @ x + b))
        return W.T @ g, np.outer(g, x), g

    report = gradcli.check(forward, vjp=vjp, shapes={"x": (3,), "W": (3, 3), "b": (3,)})
    lines = render_text(report, width=80).splitlines()
    start = lines.index("Differences (the second backend is the reference)")
    assert lines[start + 1 : start + 5] == [
        "quantity         a vs ref    max abs max rel    rtol    atol out of tol     ",
        "─" * 76,
        "vjp.x in trial 0 yours vs fd    1.69    1.35 2.2e-15 3.8e-15 3/3 (100%) FAIL",
        "vjp.W in trial 0 yours vs fd    1.88    27.3 2.2e-15 2.5e-15 9/9 (100%) FAIL",
    ]
    # at 100 columns the table keeps its edge and both spaces
    wide = render_text(report, width=100).splitlines()
    at = wide.index("Differences (the second backend is the reference)")
    assert wide[at + 4].startswith(" vjp.x in trial 0  yours vs fd  ")
