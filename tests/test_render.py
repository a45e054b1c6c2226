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
        {"backend": "numpy", "quantity": "jacobian", "count": 4, "first_index": [0, 0]}
    ]
    assert doc["ok"] is False
