"""A loss that is not finite is named as such, never turned into a kink with NaN slopes
(issue 12, case 3); an infinite derivative at a finite loss (sqrt at 0) stays one."""

import json
import warnings

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import gradcli
from gradcli import references
from gradcli.cli import cli


def graph(program, value, dtype="float64"):
    args = ["graph", program, "--var", value, "--dtype", dtype]
    text = CliRunner().invoke(cli, args, env={"COLUMNS": "80"})
    doc = CliRunner().invoke(cli, [*args, "--json"])
    return text.exit_code, text.output, json.loads(doc.stdout)


@pytest.mark.parametrize(
    ("program", "value", "dtype", "said"),
    [
        (
            "y = log(a)",
            "a=[0, 1]",
            "float64",
            "NOT FINITE: y: 1 element not finite on numpy, torch and fd alike",
        ),
        (
            "y = log(a)",
            "a=[0, 1]",
            "float32",
            "NOT FINITE: y: 1 element not finite on numpy, torch and fd alike",
        ),
        (
            "y = exp(a)",
            "a=[800]",
            "float64",
            "NOT FINITE: y: 1 element not finite on numpy, torch and fd alike",
        ),
        # fd's float64 is finite: the backends differ, a disagreement
        (
            "y = exp(a)",
            "a=[100, 1]",
            "float32",
            "DISAGREE: y: 1 element not finite on numpy and torch",
        ),
        (
            "y = 1 / a",
            "a=[0, 2]",
            "float64",
            "NOT FINITE: y: 1 element not finite on numpy, torch and fd alike",
        ),
    ],
)
def test_an_infinite_loss_is_named_not_finite_and_is_no_kink(program, value, dtype, said):
    code, output, doc = graph(program, value, dtype)
    assert code == 1
    assert doc["verdict"]["summary"] == f"{said}, first at [0]"
    assert output.startswith(said.split(":")[0] + ": y: 1 element not finite on")
    assert output.count("y: 1 element not finite") == 1  # said once
    assert doc["kinks"] == []
    assert "slopes nan" not in output
    assert "kink" not in output


def test_one_sided_slopes_that_are_nan_are_no_kink():
    d = references.central_differences(lambda x: np.log(x).sum(keepdims=True), np.array([0.0, 1.0]))
    assert d.kinks == []
    assert not np.isfinite(d.value).any()  # the loss is −inf: no difference of it is a number


def test_sqrt_at_zero_is_still_an_infinite_derivative():
    code, output, doc = graph("y = sqrt(a)", "a=[0, 4]")
    assert code == 0, output
    ((kink),) = doc["kinks"]
    assert kink["infinite"] is True
    assert doc["results"]["torch"]["grads"]["a"][1] == 0.25


def test_check_of_log_at_zero_names_the_infinity_quietly():
    def log(x):
        return torch.log(x) if isinstance(x, torch.Tensor) else np.log(x)

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning from explaining the failure
        report = gradcli.check(log, grad=lambda x: 1 / x, x=np.array([0.0, 1.0]))
    # log's derivative at 0 is +inf on every side: not finite alike (fd's step from
    # log(0) = -inf reaches a finite value, not the same infinity: no constant there)
    assert report.verdict.summary.startswith(
        "NOT FINITE: grad in trial 0: 1 element not finite on yours, torch and fd alike, "
        "first at [0]"
    )
    assert report.kinks == ()


@pytest.mark.parametrize(
    ("program", "message"),
    [
        (
            "y = a * 1e39",
            "Error: statement 1 ('y = a * 1e+39'): 1e+39: the constant overflows float32 "
            "(largest is 3.4028235e+38)\n",
        ),
        (
            "b = a + 1; y = b / -3.5e38",
            "Error: statement 2 ('y = b / -3.5e+38'): 3.5e+38: the constant overflows "
            "float32 (largest is 3.4028235e+38)\n",
        ),
    ],
)
def test_a_constant_that_overflows_float32_is_refused_as_an_input_is(program, message):
    args = ["graph", program, "--var", "a=[1]", "--dtype", "float32"]
    result = CliRunner().invoke(cli, args, env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert result.output == message
    # in float64 the same constant is a number like any other
    assert CliRunner().invoke(cli, args[:-2]).exit_code == 0
    with pytest.raises(gradcli.InputError, match="the constant overflows float32"):
        gradcli.graph(program, {"a": [1.0]}, dtype="float32")
