"""Surrogate gradients (issue 20, item 10): a backward meant not to be the derivative
(a straight-through estimator's identity, a gradient reversal layer's −λ·g) is named by
its pattern when undeclared, and held to the surrogate when declared (--surrogate)."""

import json
import textwrap

import pytest
from click.testing import CliRunner

import gradcli
from gradcli.cli import cli

torch = pytest.importorskip("torch")

CODE = textwrap.dedent(
    """
    import torch


    def reversal(factor):
        class GradReverse(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x.view_as(x)

            @staticmethod
            def backward(ctx, g):
                return factor * g

        return GradReverse


    GradReverse = reversal(-0.5)
    GradReverseQuarter = reversal(-0.25)
    GradReverseAlmost = reversal(-0.5 * (1 + 1e-9))  # off by a relative 1e-9
    Fixed = reversal(1.0)  # the surrogate "fixed" into the true derivative


    class RoundSTE(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return torch.round(x)

        @staticmethod
        def backward(ctx, g):
            return g


    class RoundSTEDoubled(RoundSTE):
        @staticmethod
        def backward(ctx, g):
            return 2 * g
    """
)


@pytest.fixture
def here(tmp_path, monkeypatch):
    (tmp_path / "surrogates.py").write_text(CODE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")


def run(target, *args):
    return CliRunner().invoke(cli, ["check", f"surrogates.py:{target}", "--shape", "4", *args])


@pytest.mark.parametrize(
    ("target", "pattern"),
    [
        (
            "GradReverse",
            "pattern: wrong by a constant factor -0.5 (negated: a gradient reversal layer's? "
            "--surrogate -0.5 declares it)",
        ),
        (
            "RoundSTE",
            "pattern: yours passes the gradient through unchanged, an identity backward (a "
            "straight-through estimator's? --surrogate identity declares it)",
        ),
    ],
)
def test_an_undeclared_surrogate_disagrees_and_is_named(here, target, pattern):
    result = run(target)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == (
        "DISAGREE: vjp: torch and fd (finite differences) agree, yours differs in 12 of 12 "
        "entries, 3 of 3 trials"
    )
    assert lines[1] == "  " + pattern


@pytest.mark.parametrize(
    ("target", "surrogate"), [("GradReverse", "-0.5"), ("RoundSTE", "identity")]
)
def test_a_declared_surrogate_passes_and_says_the_derivative_differs(here, target, surrogate):
    result = run(target, "--surrogate", surrogate)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "OK: yours is the declared surrogate, not the derivative"
    assert lines[1] == (
        "  as declared, yours is not the derivative (vjp: torch and fd agree, yours differs "
        "in 12 of 12 entries, 3 of 3 trials)"
    )
    meant = "-0.5 × the derivative" if surrogate == "-0.5" else "the identity"
    assert f"note: declared surrogate: yours is meant to be {meant}" in result.output


@pytest.mark.parametrize(
    ("target", "surrogate", "meant"),
    [
        ("GradReverseQuarter", "-0.5", "-0.5 × the derivative"),
        ("GradReverseAlmost", "-0.5", "-0.5 × the derivative"),
        ("Fixed", "-0.5", "-0.5 × the derivative"),
        ("Fixed", "negated", "the derivative negated"),
        ("RoundSTEDoubled", "identity", "the identity (the gradient passed through unchanged)"),
    ],
)
def test_a_backward_that_is_not_the_declared_surrogate_fails(here, target, surrogate, meant):
    result = run(target, "--surrogate", surrogate)
    assert result.exit_code == 1, result.output
    said = result.output.split("check backward")[0]
    assert f"law broken on yours: vjp in trial 0: yours is {meant}, the declared surrogate" in said
    assert said.startswith("DISAGREE: ")


def test_the_surrogate_law_is_as_tight_as_the_comparison_it_replaces(here):
    report = gradcli.check("surrogates.py:GradReverseAlmost", shape=4, surrogate=-0.5)
    broken = [law for law in report.laws if not law.ok]
    assert len(broken) == 3  # every trial: a relative 1e-9 is 1e6 times float64's band
    assert all(law.max_violation > 100 * law.allowed for law in broken)


def test_the_api_and_the_json_tell_the_rule(here):
    report = gradcli.check("surrogates.py:GradReverse", shape=4, surrogate=-0.5)
    assert report.ok
    assert report.verdict.status == "OK"
    result = run("GradReverse", "--surrogate", "-0.5", "--json")
    document = json.loads(result.output)
    assert document["ok"] is True
    (finding,) = document["verdict"]["findings"]
    assert finding["finding"] == "excused"
    assert finding["rule"] == "surrogate"
    assert [f["quantity"] for f in finding["excused"]] == ["vjp"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "Error: --surrogate '0': a factor must be finite and not 0"),
        ("inf", "Error: --surrogate 'inf': a factor must be finite and not 0"),
        (
            "sideways",
            "Error: --surrogate 'sideways': expected identity, negated or a factor such as -0.5",
        ),
    ],
)
def test_a_surrogate_that_means_nothing_is_refused(here, value, message):
    result = run("GradReverse", "--surrogate", value)
    assert result.exit_code == 2
    assert result.output == message + "\n"


def test_the_taylor_test_and_a_surrogate_are_refused_together(here):
    result = run("GradReverse", "--surrogate", "-0.5", "--taylor")
    assert result.exit_code == 2
    assert result.output == (
        "Error: --taylor tests the derivative, and a --surrogate is meant not to be it: give one\n"
    )


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_a_declared_identity_holds_in_low_precision_and_a_doubled_one_does_not(here, dtype):
    # the derivative of round is 0, so the band is relative to what yours is meant to be
    right = run("RoundSTE", "--surrogate", "identity", "--dtype", dtype)
    assert right.exit_code == 0, right.output
    wrong = run("RoundSTEDoubled", "--surrogate", "identity", "--dtype", dtype)
    assert wrong.exit_code == 1, wrong.output
