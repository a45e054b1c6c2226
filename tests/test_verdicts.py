"""The verdict off the beaten path (issue 12): steep, shifted, tiny and huge inputs and
zero gradients pass on correct code; kinks are answered with their one-sided slopes;
planted errors above the dtype's resolution fail, naming the odd one out."""

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from gradcli import core, references
from gradcli.backends import analytic
from gradcli.cli import cli
from gradcli.commands.layer import problem as layer
from gradcli.commands.layer.inputs import draw_layer
from gradcli.commands.softmax import problem as softmax
from gradcli.report import BackendResult
from gradcli.spec import LayerSpec, LossSpec, RunOptions, SoftmaxSpec


def graph_cli(program, *args):
    result = CliRunner().invoke(cli, ["graph", program, *args], env={"COLUMNS": "200"})
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("program", "value"),
    [
        ("y = exp(a*1000)", "a=[0.001]"),
        ("y = softmax(a*1000, dim=0)", "a=[0.001, 0.002, -0.001]"),
        ("y = sigmoid(a*1000)", "a=[0.001]"),
    ],
)
def test_steep_correct_programs_pass(program, value):
    code, output = graph_cli(program, "--var", value)
    assert code == 0, output
    assert "OK: numpy, torch and fd agree" in output


def test_relu_at_zero_is_a_kink_that_autograd_answers_with_a_subgradient():
    code, output = graph_cli("y = relu(a)", "--var", "a=[0, 1, -1]")
    assert code == 0, output
    assert "a[0] = 0: one-sided slopes 0 and 1; numpy and torch take 0" in output


def _relu_results(numpy_grad):
    x = np.array([0.0, 1.0, -1.0])
    d = references.Differentiator(lambda rows: np.maximum(rows, 0).sum(axis=1)[:, None], x)
    derivative = d.cheap()
    results = {
        "numpy": BackendResult("numpy", "VJP", "float64", {"g": np.array(numpy_grad)}),
        "torch": BackendResult("torch", "autograd", "float64", {"g": np.array([0.0, 1, 0])}),
        "fd": BackendResult("fd", "central", "fd", {"g": derivative.value.reshape(3)}),
    }
    ref = core.NumericalReference("fd", "g", derivative, d)
    return core.judge(
        core.Declaration("graph", "relu", {}),
        results,
        [core.Quantity("g", 1.0)],
        options=RunOptions(),
        references_=[ref],
    )


def test_a_value_outside_the_subdifferential_fails_and_is_named():
    report = _relu_results([1.5, 1.0, 0.0])
    assert not report.ok
    (kink,) = report.kinks
    assert (kink.index, kink.left, kink.ok) == ((0,), 0.0, False)
    assert kink.right == pytest.approx(1.0, abs=1e-9)
    assert kink.values == {"numpy": 1.5, "torch": 0.0}
    assert report.verdict.summary.startswith("DISAGREE: g: torch and fd agree, numpy differs")
    assert any("numpy takes 1.5" in d for d in report.verdict.details)


@pytest.mark.parametrize("inside", [0.0, 0.3, 1.0])
def test_every_value_inside_the_subdifferential_is_valid(inside):
    report = _relu_results([inside, 1.0, 0.0])
    assert report.ok, report.verdict.summary


def _layer(seed, kind, dtype, x_scale=1.0, shift=0.0, w_scale=1.0, batch=3, sizes=(5, 4)):
    d = draw_layer(seed, sizes[0], sizes[1], batch)
    loss = {
        "ce": LossSpec("ce", (1,)),
        "mse": LossSpec("mse", y=d["y"]),
        "sum": LossSpec("sum"),
        "output": LossSpec("output", index=1),
    }[kind]
    x = d["x"] * x_scale + shift
    return LayerSpec(d["W"] * w_scale, d["b"], x, loss, seed, options=RunOptions(dtype=dtype))


INPUTS = {  # (x scale, shift, W scale)
    "ordinary": (1.0, 0.0, 1.0),
    "steep": (30.0, 0.0, 1.0),
    "huge": (1e3, 0.0, 1.0),
    "shifted": (1.0, 1e4, 1.0),
    "tiny": (1e-8, 0.0, 1.0),
    "shifted, small W (log-sum-exp at 1e3)": (1.0, 1e3, 1e-3),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind", ["ce", "mse", "sum", "output"])
@pytest.mark.parametrize("inputs", list(INPUTS), ids=list(INPUTS))
def test_no_false_alarm_on_a_correct_layer(inputs, kind, dtype):
    report = layer.run(_layer(7, kind, dtype, *INPUTS[inputs]))
    assert report.ok, report.verdict.summary


def test_a_zero_gradient_is_judged_against_the_references_own_error():
    report = layer.run(_layer(3, "sum", "float64", batch=4, sizes=(20, 10)))
    assert report.ok, report.verdict.summary
    fd = report.results["fd"].arrays["dW"]
    assert 0 < np.abs(fd).max() < 1e-8  # fd's noise, not zero...
    (dw,) = [r for r in report.references if r.quantity == "dW"]
    assert np.abs(fd).max() <= 2 * dw.max_error  # ...and within its own estimate


@pytest.mark.parametrize(("dtype", "relative"), [("float64", 1e-6), ("float32", 1e-3)])
@pytest.mark.parametrize("which", [0, 1, 2])
def test_a_planted_layer_error_is_caught_and_numpy_named(monkeypatch, dtype, relative, which):
    real = analytic.linear_vjp

    def planted(dl_dz, w, x):
        out = list(real(dl_dz, w, x))
        out[which] = out[which] * (1 + relative)
        return tuple(out)

    monkeypatch.setattr(analytic, "linear_vjp", planted)
    report = layer.run(_layer(5, "ce", dtype, sizes=(6, 4)))
    assert not report.ok
    name = ["dW", "db", "dx"][which]
    assert report.verdict.summary.startswith(f"DISAGREE: {name}: torch and fd agree, numpy differs")


def test_a_planted_error_in_directional_mode_is_caught_as_in_full_mode(monkeypatch):
    real = analytic.linear_vjp
    monkeypatch.setattr(
        analytic,
        "linear_vjp",
        lambda dz, w, x: (real(dz, w, x)[0], *real(dz, w, x)[1:2], real(dz, w, x)[2] * 1.001),
    )
    base = _layer(2, "ce", "float32", batch=4, sizes=(300, 200))
    for mode in ("directional", "full"):
        spec = LayerSpec(base.w, base.b, base.x, base.loss, 2, options=base.options, fd_mode=mode)
        report = layer.run(spec)
        assert not report.ok, mode
        assert "torch and fd agree, numpy differs" in report.verdict.summary, mode


def _softmax(z, dtype="float64", temperature=1.0, backends=("numpy", "torch", "fd")):
    options = RunOptions(backends=backends, dtype=dtype)
    return softmax.run(SoftmaxSpec(np.asarray(z, dtype=float), temperature, options))


SOFTMAX_INPUTS = {
    "ordinary": (1.0, 0.0, 1.0),
    "steep (scale 30)": (30.0, 0.0, 1.0),
    "shifted (1e4 + N(0, 1))": (1.0, 1e4, 1.0),
    "tiny": (1e-8, 0.0, 1.0),
    "huge": (1e3, 0.0, 1.0),
    "cold (T = 1e-3)": (1.0, 0.0, 1e-3),
    "hot (T = 1e3)": (1.0, 0.0, 1e3),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("inputs", list(SOFTMAX_INPUTS), ids=list(SOFTMAX_INPUTS))
def test_no_false_alarm_on_a_correct_softmax(inputs, dtype):
    scale, shift, temperature = SOFTMAX_INPUTS[inputs]
    z = np.random.default_rng(11).normal(size=64) * scale + shift
    report = _softmax(z, dtype, temperature)
    assert report.ok, report.verdict.summary


@pytest.mark.parametrize(("dtype", "relative"), [("float64", 1e-7), ("float32", 1e-3)])
def test_a_planted_softmax_error_is_caught_and_numpy_named(monkeypatch, dtype, relative):
    real = analytic.softmax_jacobian

    def planted(s, temperature=1.0, out=None):
        jac = real(s, temperature, out)
        jac[3, 5] *= 1 + relative
        return jac

    monkeypatch.setattr(analytic, "softmax_jacobian", planted)
    report = _softmax(np.random.default_rng(1).normal(size=50), dtype)
    assert report.verdict.summary.startswith(
        "DISAGREE: jacobian: torch and fd agree, numpy differs, worst at [3, 5]"
    )
    (ref,) = report.references
    assert ref.columns["complex step"] >= 1  # refined where the cheap reference was not enough


def test_a_jacobian_without_its_off_diagonal_fails_at_n_4096_in_float32(monkeypatch):
    real = analytic.softmax_jacobian

    def diagonal_only(s, temperature=1.0, out=None):
        jac = real(s, temperature, out)
        diagonal = jac.diagonal().copy()
        jac[:] = 0
        jac.flat[:: s.size + 1] = diagonal
        return jac

    monkeypatch.setattr(analytic, "softmax_jacobian", diagonal_only)
    z = np.random.default_rng(0).normal(size=4096)
    report = _softmax(z, "float32", backends=("numpy", "torch"))
    (jacobian,) = [c for c in report.comparisons if c.quantity == "jacobian"]
    assert not jacobian.ok
    assert jacobian.n_out_of_tolerance > 0.75 * 4096 * 4095  # all but the tiniest s_i·s_j


def test_the_report_says_which_references_ran_and_how_precise_they_were():
    report = _softmax([3.0, 1.0, -3.0])
    (ref,) = report.references
    assert (ref.backend, ref.quantity, ref.columns) == ("fd", "jacobian", {"cheap": 3})
    assert 0 < ref.max_error < 1e-9
    doc = report.to_dict()
    assert doc["schema_version"] == 2
    assert doc["references"][0]["max_error"] == ref.max_error
    assert doc["kinks"] == []


GRAPH_PROGRAMS = {
    "layer-norm-like (sum is 0)": "c = a - a.mean(); y = c / sqrt((c*c).mean() + 0.00001)",
    "layer norm times w": "c = a - a.mean(); n = c / sqrt((c*c).mean() + 0.00001); y = n * w",
    "log-sum-exp": "m = a.max(); y = m + log(exp(a - m).sum())",
    "log_softmax": "y = log_softmax(a, dim=0)[0]",
    "sum of softmax (gradient 0)": "y = softmax(a, dim=0)",
    "tanh(a·w)": "y = tanh(a * w)",
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    ("scale", "shift"), [(1.0, 0.0), (30.0, 0.0), (1.0, 1e3), (1.0, 1e4), (1e-6, 1e-8)]
)
@pytest.mark.parametrize("program", list(GRAPH_PROGRAMS), ids=list(GRAPH_PROGRAMS))
def test_no_false_alarm_on_correct_graphs(program, scale, shift, dtype):
    from tests.test_graph import run

    rng = np.random.default_rng(4)
    text = GRAPH_PROGRAMS[program]
    inputs = {"a": list(rng.normal(size=8) * scale + shift)}
    if "w" in text:
        inputs["w"] = list(rng.normal(size=8))
    report = run(text, dtype=dtype, **inputs)
    assert report.ok, report.verdict.summary


@pytest.mark.parametrize(("dtype", "relative"), [("float64", 1e-6), ("float32", 1e-3)])
@pytest.mark.parametrize("shift", [0.0, 1e3])
def test_a_planted_vjp_error_in_a_graph_is_caught_and_numpy_named(
    monkeypatch, dtype, relative, shift
):
    import dataclasses

    from gradcli import ops
    from tests.test_graph import run

    real = ops.REGISTRY["tanh"]
    wrong = dataclasses.replace(
        real, vjp=lambda g, x, o, p: [v * (1 + relative) for v in real.vjp(g, x, o, p)]
    )
    monkeypatch.setitem(ops.REGISTRY, "tanh", wrong)
    a = list(np.random.default_rng(1).normal(size=6) + shift)
    report = run("c = a - a.mean(); y = tanh(c) * w", dtype=dtype, a=a, w=[1.0, 2, 3, 4, 5, 6])
    assert report.verdict.summary.startswith("DISAGREE: grads.a: torch and fd agree, numpy differs")


@given(
    st.floats(-3, 3),
    st.floats(-4, 4),
    st.floats(-3, 3),
    st.sampled_from(["float64", "float32"]),
    st.integers(2, 40),
)
def test_no_false_alarm_on_a_correct_softmax_anywhere(log_scale, log_shift, log_t, dtype, n):
    """Hypothesis: any size, steepness (10^±3), shift (±10^4) and temperature (10^±3)."""
    rng = np.random.default_rng(n)
    z = rng.normal(size=n) * 10.0**log_scale + np.sign(log_shift) * 10.0 ** abs(log_shift)
    report = _softmax(z, dtype, 10.0**log_t)
    assert report.ok, report.verdict.summary


@pytest.mark.parametrize("kind", ["ce", "mse", "sum", "output"])
@pytest.mark.parametrize("x_scale", [30.0, 1e3])
def test_no_false_alarm_on_a_large_float32_layer_in_directional_mode(kind, x_scale):
    """exp's rounding of z (a relative ε·|z| in every term after softmax) and mse's
    cancelling ∂L/∂s, at 300 → 200 with a batch of 4."""
    base = _layer(5, kind, "float32", x_scale, batch=4, sizes=(300, 200))
    spec = LayerSpec(
        base.w, base.b, base.x, base.loss, 5, options=base.options, fd_mode="directional"
    )
    report = layer.run(spec)
    assert report.ok, report.verdict.summary


def test_x_abs_x_relu_at_zero_has_derivative_zero_from_the_one_sided_slopes():
    # f = a·|a|·[a > 0]: f'' jumps at 0, so the central difference is first order there;
    # the one-sided slopes (both → 0) give the derivative, to well below a planted 1e-6
    f = lambda x: (np.abs(x) * np.maximum(x, 0)).sum(keepdims=True)  # noqa: E731
    d = references.central_differences(f, np.array([0.0, 2.0]))
    assert abs(d.value[0, 0]) <= d.error.dense()[0, 0] < 1e-8
    assert d.value[0, 1] == pytest.approx(4.0, rel=1e-9)
    assert d.kinks == []
    code, output = graph_cli("y = abs(a) * relu(a)", "--var", "a=[0, 2]")
    assert code == 0, output
    assert "OK: numpy, torch and fd agree" in output
