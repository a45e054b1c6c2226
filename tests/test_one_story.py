"""One story (#19): every way of telling a result — the default view, --detail, --heatmap,
--quiet, the JSON, the API's Report and the pytest helper — names the same worst entry
with the same name, opens with the same verdict, and the CLI's JSON is the API's.

The worst entry is checked against the arrays themselves: its two values are the two
backends' values at that entry, and no other entry of any pair is further beyond its
allowed error (on a pass: closer to it)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import gradcli
from gradcli.cli import cli
from gradcli.testing import assert_backends_agree, assert_gradients_correct

torch = pytest.importorskip("torch")

TANH = """\
import numpy as np


def forward(x, W, b):
    z = x @ W + b
    return z.tanh() if hasattr(z, "tanh") else np.tanh(z)


def vjp(x, W, b, g):
    y = forward(x, W, b)
    d = g * (1 - y)  # wrong: the derivative of tanh is 1 - y**2
    return d @ W.T, x.T @ d, d.sum(axis=0)
"""
SHAPES = ("--shape", "x=3x3", "--shape", "W=3x3", "--shape", "b=3")


def run(*args: str, width: int = 80) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env={"COLUMNS": str(width), "NO_COLOR": "1"})
    return result.exit_code, result.stdout


def words(text: str) -> str:
    return " ".join(text.split())  # wrapped lines joined: the words, as a person reads them


def ratios_of(doc: dict) -> list[tuple[float, str]]:
    """(|a − ref| / allowed at each pair's worst element, the pair) from the JSON."""
    out = []
    for c in doc["comparisons"]:
        a, ref = c["worst_values"]
        gap = abs(a - ref) if a is not None and ref is not None else float("inf")
        out.append((gap / c["allowed"] if c["allowed"] else float("inf"), c["quantity"]))
    return out


def told_the_same_way(argv: list[str], report: gradcli.Report, status: int) -> dict:
    """Every view, the JSON and the API name `report.worst`; returns the JSON."""
    worst = report.worst
    assert worst is not None
    name = str(worst.entry)
    code, default = run(*argv)
    assert code == status
    first = default.splitlines()[0]
    head = words("\n".join(default.splitlines()[:6]))
    assert name in head, head  # the headline names the worst entry
    for flag in ("--detail", "--heatmap"):
        code, other = run(*argv, flag)
        assert code == status
        assert other.splitlines()[0] == first, flag  # the verdict first, the same words
        assert name in words(other), flag
    code, quiet = run(*argv, "--quiet")
    assert code == status
    assert quiet.count("\n") == 1
    assert quiet.startswith(report.verdict.summary)
    assert f"{name}: " in quiet
    code, text = run(*argv, "--json")
    doc = json.loads(text)
    assert doc == json.loads(report.to_json())  # the CLI's JSON is the API's Report
    assert doc["worst"] == worst.to_dict()
    assert doc["worst"]["name"] == name
    assert doc["verdict"]["summary"] == report.verdict.summary
    # the view's first words are the summary's, "fd" spelled out on its first use
    spelled = words(report.verdict.summary).replace(" fd ", " fd (finite differences) ", 1)
    assert words(default).startswith(spelled)
    # the worst entry's numbers are the arrays' own, at that entry
    c = next(
        c
        for c in report.comparisons
        if c.key == worst.entry.key and set(c.backends) == {worst.backend, worst.reference}
    )
    yours = report.results[worst.backend].arrays[c.quantity][worst.entry.index]
    expected = report.results[worst.reference].arrays[c.quantity][worst.entry.index]
    assert (worst.value, worst.expected) == (float(yours), float(expected))
    assert worst.max_abs == c.max_abs_error
    assert worst.max_rel == c.max_rel_error
    return doc


def test_a_wrong_multi_input_vjp_is_one_story(tmp_path):
    (tmp_path / "tanhlayer.py").write_text(TANH)
    target, vjp = f"{tmp_path}/tanhlayer.py:forward", f"{tmp_path}/tanhlayer.py:vjp"
    argv = ["check", target, "--vjp", vjp, *SHAPES]
    shapes = {"x": (3, 3), "W": (3, 3), "b": (3,)}
    report = gradcli.check(target, vjp=vjp, shapes=shapes)
    assert not report.ok
    doc = told_the_same_way(argv, report, 1)
    worst = doc["worst"]
    # furthest beyond its allowed error of every pair, every quantity, every trial
    assert worst["difference"] / worst["allowed"] == pytest.approx(max(ratios_of(doc))[0])
    assert worst["quantity"] in {"vjp.x", "vjp.W", "vjp.b"}
    assert doc["failing_trial"]["trial"] == worst["trial"]
    # the pytest helper's first line is the same sentence, naming the same entry
    with pytest.raises(AssertionError) as info:
        assert_gradients_correct(target, vjp=vjp, shapes=shapes)
    assert str(info.value).splitlines()[0] == run(*argv, "--quiet")[1].rstrip("\n")
    # every block of numbers is titled with its quantity and trial
    code, default = run(*argv)
    shown = [line for line in default.splitlines() if ": yours, expected (" in line]
    assert shown
    assert all(" in trial " in line for line in shown)
    # --explain takes every quantity's printed name, the hint included
    for quantity in ("vjp.x", "vjp.W", "vjp.b"):
        index = "[0]" if quantity == "vjp.b" else "[0,1]"
        code, explained = run(*argv, "--explain", f"{quantity}{index}")
        assert code == 1
        assert f"{quantity}{index.replace(',', ', ')} in each trial" in explained
    code, _refused = run(*argv, "--explain", "vjp.w[0,1]")
    assert code == 2
    result = CliRunner().invoke(cli, [*argv, "--explain", "vjp.w[0,1]"])
    assert "did you mean vjp.W" in result.stderr


@pytest.mark.parametrize(
    ("argv", "call"),
    [
        (["softmax", "3", "1", "-3"], lambda: gradcli.softmax([3, 1, -3])),
        (["layer", "--seed", "42"], lambda: gradcli.layer(seed=42)),
        (
            ["graph", "b = a * 2; c = b.sum(); y = c * c", "--var", "a=[[1, 2], [3, 4]]"],
            lambda: gradcli.graph("b = a * 2; c = b.sum(); y = c * c", {"a": [[1, 2], [3, 4]]}),
        ),
    ],
    ids=["softmax", "layer", "graph"],
)
def test_a_pass_is_one_story(argv, call):
    report = call()
    assert report.ok
    assert_backends_agree(report)
    doc = told_the_same_way(argv, report, 0)
    # closest to its allowed error, of every pair (ties: the first declared)
    ratio = doc["worst"]["difference"] / doc["worst"]["allowed"]
    assert ratio == pytest.approx(max(ratios_of(doc))[0], rel=1e-5)
    assert "closest to its allowed error" in words(run(*argv)[1])


def test_not_finite_alike_is_said_so_first_and_once():
    argv = ["graph", "y = log(a)", "--var", "a=[0, 1]"]
    report = gradcli.graph("y = log(a)", {"a": [0.0, 1.0]})
    assert report.verdict.status == "NOT FINITE"
    code, out = run(*argv)
    assert code == 1
    assert out.startswith("NOT FINITE: y: 1 element not finite on numpy, torch and fd")
    assert words(out).count("y: 1 element not finite") == 1  # said once
    assert json.loads(run(*argv, "--json")[1])["verdict"]["status"] == "NOT FINITE"


def test_ties_go_to_the_declared_order():
    """Two pairs 1 ulp apart in |a − ref| / allowed are a tie: the first declared pair
    wins, whichever way this machine's rounding breaks it."""
    from dataclasses import replace

    from gradcli import verdicts
    from gradcli.keys import Key
    from gradcli.report import Comparison, Tolerance

    def pair(a: str, value: float) -> Comparison:
        return Comparison(
            "dx",
            (a, "fd"),
            (3,),
            Tolerance(1e-9, 1e-12),
            0.0,
            0.0,
            (1,),
            (value, 0.0),
            1.0,
            0,
            0,
            key=Key("dx"),
        )

    low, high = 0.5, np.nextafter(0.5, 1.0)
    for numpy_value, torch_value in ((low, high), (high, low)):
        chosen = verdicts.worst([pair("numpy", numpy_value), pair("torch", torch_value)])
        assert chosen is not None
        assert chosen.backends[0] == "numpy"
    clear = verdicts.worst([pair("numpy", 0.5), replace(pair("torch", 0.6))])
    assert clear is not None
    assert clear.backends[0] == "torch"
