"""--explain for softmax, graph and check: the numbers of the explanation against the
formula computed here, and against the backends' own entries."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from gradcli.cli import cli

ROOT = Path(__file__).parent.parent
WORKED = "b = a.sum(dim=0, keepdim=True); c = a/b; y = w@c"


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env={"COLUMNS": "100"})
    return result.exit_code, result.stdout, result.stderr


def softmax(z: list[float], t: float = 1.0) -> list[float]:
    top = max(z)
    e = [math.exp((v - top) / t) for v in z]
    return [v / sum(e) for v in e]


def test_softmax_explains_an_off_diagonal_entry_as_minus_s_i_s_j():
    code, out, _ = invoke("softmax", "3", "1", "-3", "--explain", "J[0,1]", "--json")
    assert code == 0
    ex = json.loads(out)["explanation"]
    s = softmax([3, 1, -3])
    assert ex["total"] == pytest.approx(-s[0] * s[1], rel=1e-14)  # −0.104537
    assert ex["terms"][0]["factors"] == pytest.approx([s[0], -s[1]], rel=1e-14)
    assert ex["value"] == pytest.approx(ex["total"], rel=1e-14)
    text = invoke("softmax", "3", "1", "-3", "--explain", "J[0,1]")[1]
    assert "i ≠ j: δ_01 = 0, so J_01 = s_0(0 − s_1) = −s_0·s_1" in text
    assert "−0.878878 × 0.118943 = -0.104537" in text


def test_softmax_explains_a_diagonal_entry_with_a_temperature():
    code, out, _ = invoke(
        "softmax", "3", "1", "-3", "--temperature", "2", "--explain", "J[2,2]", "--json"
    )
    assert code == 0
    ex = json.loads(out)["explanation"]
    s = softmax([3, 1, -3], 2.0)
    assert ex["total"] == pytest.approx(s[2] * (1 - s[2]) / 2, rel=1e-13)
    assert ex["formula"] == "J_22 = s_2(δ_22 − s_2)/T"


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("J[3,0]", "i = 3 is out of range 0..2"),
        ("W[0,0]", "write J[i,j]"),
    ],
)
def test_softmax_refuses_a_bad_entry(target, message):
    code, _, err = invoke("softmax", "3", "1", "-3", "--explain", target)
    assert code == 2
    assert message in err


def test_graph_explains_a_gradient_as_the_sum_of_its_uses():
    args = ("graph", WORKED, "--rand", "w=4x10", "--rand", "a=10x10", "--seed", "42")
    code, out, _ = invoke(*args, "--explain", "a[2,3]", "--json")
    assert code == 0
    doc = json.loads(out)
    ex = doc["explanation"]
    grads = doc["results"]["numpy"]["grads"]
    values = doc["results"]["numpy"]["values"]
    a, b, gc = values["a"], values["b"], grads["c"]
    # use 2 (c = a / b, the numerator): ∂L/∂c / b at [2,3]
    share_div = gc[2][3] / b[0][3]
    # use 1 (b = a.sum(dim=0)): ∂L/∂b[0,3] reaches every a[i,3]
    share_sum = grads["b"][0][3]
    assert [t["product"] for t in ex["terms"]] == pytest.approx([share_sum, share_div], rel=1e-12)
    assert ex["total"] == pytest.approx(grads["a"][2][3], rel=1e-12)
    assert ex["value"] == pytest.approx(grads["a"][2][3], rel=1e-15)
    del a
    text = invoke(*args, "--explain", "a[2,3]")[1]
    assert "use 1: b = a.sum(dim=0, keepdim=True)" in text
    assert "use 2: c = a / b   (a is argument 1 of div; rule g / b)" in text


def test_graph_explains_a_variable_with_one_use():
    code, out, _ = invoke("graph", "y = exp(a)", "--var", "a=[0, -1.5]", "--explain", "a", "--json")
    assert code == 0
    ex = json.loads(out)["explanation"]
    assert ex["total"] == pytest.approx(1.0, rel=1e-15)  # exp(0)
    assert "rule g · exp(a)" in ex["lines"][1]


def test_graph_names_the_variables_when_the_name_is_wrong():
    code, _, err = invoke("graph", "y = exp(a)", "--var", "a=[1]", "--explain", "b")
    assert code == 2
    assert "no variable 'b' in the program (the variables: a, y)" in err


def test_check_explains_an_entry_in_every_trial(monkeypatch):
    monkeypatch.chdir(ROOT)
    code, out, _ = invoke(
        "check",
        "examples/ops.py:softmax",
        "--jacobian",
        "softmax_jacobian_no_cross_terms",
        "--shape",
        "4",
        "--trials",
        "2",
        "--explain",
        "J[0,1]",
        "--json",
    )
    assert code == 1
    doc = json.loads(out)
    ex = doc["explanation"]
    trials = [line for line in ex["lines"] if line.startswith("  trial")]
    slopes = [line for line in ex["lines"] if line.startswith("    one-sided slopes (fd): ")]
    for trial, line, sides in zip(range(2), trials, slopes, strict=True):
        s = softmax(doc["inputs"]["x"][trial])
        assert line.startswith(f"  trial {trial}: yours 0, torch ")
        torch_value = float(line.split("torch ")[1].split(",")[0])
        assert torch_value == pytest.approx(-s[0] * s[1], rel=1e-8)
        left, right = (float(w.rstrip(",")) for w in sides.split()[4::2])  # left L, right R
        assert left == pytest.approx(-s[0] * s[1], rel=1e-6)
        assert right == pytest.approx(-s[0] * s[1], rel=1e-6)


def test_check_explains_a_kink_by_its_one_sided_slopes(tmp_path):
    module = tmp_path / "relu_check.py"
    module.write_text(
        "import numpy as np\n"
        "def f(x):\n    return np.maximum(x, 0)\n"
        "def df(x):\n    return (x > 0).astype(float)\n"
    )
    values = tmp_path / "x.json"
    values.write_text("[-1.5, 0, 2]")
    common = ("check", f"{module}:f", "--grad", "df", "--input", str(values), "--explain")
    code, out, _ = invoke(*common, "grad[1]")
    assert code == 0
    assert "a kink: one-sided slopes 0 and 1; a value between them is a valid" in out
    code, out, _ = invoke(*common, "grad[2]")
    assert code == 0
    assert "    one-sided slopes (fd): left 1, right 1" in out
    code, _, err = invoke(*common, "grad[7]")
    assert code == 2
    assert err.startswith("Error: --explain")


def test_quiet_keeps_the_explanation():
    code, out, _ = invoke(
        "layer",
        "--seed",
        "42",
        "--loss",
        "output",
        "--index",
        "0",
        "--explain",
        "W[0,0]",
        "--quiet",
    )
    assert code == 0
    lines = out.splitlines()
    assert lines[-2] == "  sum = 0.0135892;  dW[0,0] from numpy = 0.0135892"
    assert lines[-1].startswith("OK: ")


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("softmax", ("3", "1", "-3", "--explain", "J[0,1]")),
        ("graph", ("b = a*a; y = exp(b) + a", "--var", "a=[1, 2]", "--explain", "a[1]")),
        (
            "check",
            (
                *("examples/ops.py:softmax", "--jacobian", "softmax_jacobian"),
                *("--shape", "3", "--explain", "J[0,1]"),
            ),
        ),
    ],
)
def test_explanations_are_in_the_json_schema(command, args, monkeypatch):
    import jsonschema

    monkeypatch.chdir(ROOT)
    code, out, _ = invoke(command, *args, "--json")
    assert code == 0
    doc = json.loads(out)
    schema = json.loads((ROOT / "gradcli" / "schemas" / f"{command}.schema.json").read_text())
    jsonschema.validate(doc, schema)
    assert doc["explanation"]["total"] == pytest.approx(doc["explanation"]["value"], rel=1e-12)
