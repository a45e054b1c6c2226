"""`gradcli check`'s verdict off the beaten path: correct code passes at steep, shifted,
saturated and zero-gradient inputs, in float64 and float32; planted errors are caught
in the default (directional) mode; kinks are intervals; the Taylor test."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradcli

torch = pytest.importorskip("torch")


def np_or_torch(x, numpy_fn, torch_fn):
    return torch_fn(x) if isinstance(x, torch.Tensor) else numpy_fn(x)


def steep(x):
    return np_or_torch(x, lambda a: np.sin(1000 * a), lambda t: torch.sin(1000 * t))


def softmax(z):
    if isinstance(z, torch.Tensor):
        return torch.softmax(z, dim=-1)
    e = np.exp(z - z.max())
    return e / e.sum()


def softmax_jacobian(z):
    s = softmax(z)
    return np.diag(s) - np.outer(s, s)


def layer_norm(x):
    keep = {"keepdims": True} if isinstance(x, np.ndarray) else {"keepdim": True}
    d = x - x.mean(-1, **keep)
    return d / ((d * d).mean(-1, **keep) + 1e-5) ** 0.5


def layer_norm_vjp(x, g, denominator=None):
    n = x.shape[-1] if denominator is None else denominator
    d = x - x.mean(-1, keepdims=True)
    inv = 1 / np.sqrt((d * d).sum(-1, keepdims=True) / n + 1e-5)
    xhat = d * inv
    return inv * (g - g.mean(-1, keepdims=True) - xhat * (g * xhat).mean(-1, keepdims=True))


def logsumexp(x):
    if isinstance(x, torch.Tensor):
        return torch.logsumexp(x, dim=-1)
    m = x.max(-1, keepdims=True)
    return (m + np.log(np.exp(x - m).sum(-1, keepdims=True)))[..., 0]


def logsumexp_vjp(x, g):
    e = np.exp(x - x.max(-1, keepdims=True))
    return g[..., None] * e / e.sum(-1, keepdims=True)


@pytest.mark.parametrize("backends", [["torch", "fd"], ["fd"]])
def test_a_steep_function_with_its_exact_derivative_passes(backends):
    report = gradcli.check(
        steep, grad=lambda x: 1000 * np.cos(1000 * x), shape=(5,), backends=backends
    )
    assert report.ok, report.verdict.summary
    wrong = gradcli.check(
        steep, grad=lambda x: 1000.5 * np.cos(1000 * x), shape=(5,), backends=backends
    )
    assert not wrong.ok


@pytest.mark.parametrize("shift", [1e3, 1e4, -1e4])
def test_shifted_inputs_pass(shift):
    rng = np.random.default_rng(1)
    z = shift + rng.standard_normal(6)
    assert gradcli.check(softmax, jacobian=softmax_jacobian, x=z).ok
    x = shift + rng.standard_normal((3, 8))
    assert gradcli.check(layer_norm, vjp=layer_norm_vjp, x=x).ok
    assert gradcli.check(logsumexp, vjp=logsumexp_vjp, x=x).ok


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_zero_gradient_passes_and_a_small_offset_fails(dtype):
    def total(x):
        return layer_norm(x).sum()

    def total_vjp(x, g):
        return layer_norm_vjp(x, np.ones_like(x) * g)

    assert gradcli.check(total, vjp=total_vjp, shape=(3, 8), dtype=dtype).ok
    assert gradcli.check(total, vjp=total_vjp, shape=(3, 8), backends=["fd"], dtype=dtype).ok
    offset = 1e-7 if dtype == "float64" else 1e-3
    off = gradcli.check(total, vjp=lambda x, g: total_vjp(x, g) + offset, shape=(3, 8), dtype=dtype)
    assert not off.ok


def test_a_float32_softmax_jacobian_at_scale_30_passes():
    for seed in range(3):
        report = gradcli.check(
            softmax, jacobian=softmax_jacobian, shape=(8,), dtype="float32", seed=seed
        )
        assert report.ok, report.verdict.summary


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_layer_norm_vjp_with_n_minus_1_is_caught_in_directional_mode(dtype):
    wrong = gradcli.check(
        layer_norm,
        vjp=lambda x, g: layer_norm_vjp(x, g, x.shape[-1] - 1),
        shape=(4, 1000),
        dtype=dtype,
        trials=1,
    )
    assert "trial0.vᵀJu" in wrong.results["yours"].arrays  # the default, directional mode
    assert not wrong.ok
    right = gradcli.check(layer_norm, vjp=layer_norm_vjp, shape=(4, 1000), dtype=dtype, trials=1)
    assert right.ok, right.verdict.summary


def first_max(x):
    index = torch.argmax(x) if isinstance(x, torch.Tensor) else np.argmax(x)
    return x[index].reshape(1)


@pytest.mark.parametrize(
    ("value", "ok"), [(1.0, True), (0.0, True), (0.5, True), (1.5, False), (-0.5, False)]
)
def test_at_a_tie_the_jacobian_is_an_interval(value, ok):
    def jacobian(x):
        j = np.zeros((1, x.size))
        j[0, 1] = value  # x[1] and x[2] tie: ∂y/∂x[1] is anything in [0, 1]
        j[0, 2] = 1.0 - value if 0 <= value <= 1 else 0.0
        return j

    report = gradcli.check(first_max, jacobian=jacobian, x=np.array([1.0, 3.0, 3.0, -2.0]))
    assert report.ok is ok, report.verdict
    assert report.kinks
    kink = report.kinks[0]
    assert sorted((kink.left, kink.right)) == pytest.approx([0.0, 1.0], abs=1e-6)


def test_one_nan_in_yours_blames_yours_and_leaves_the_references_agreeing():
    def grad(x):
        d = 1 - np.tanh(x) ** 2
        d.flat[0] = np.nan
        return d

    report = gradcli.check(
        lambda x: torch.tanh(x) if isinstance(x, torch.Tensor) else np.tanh(x),
        grad=grad,
        shape=(5,),
    )
    assert not report.ok
    assert "not finite on yours" in report.verdict.summary
    between = [c for c in report.comparisons if c.backends == ("torch", "fd")]
    assert between
    assert all(c.ok for c in between)
    assert all(np.isfinite(c.tolerance.atol) for c in report.comparisons)


@pytest.mark.parametrize(("factor", "ok"), [(1.0, True), (1.0005, False), (0.999, False)])
def test_the_taylor_rate_is_2_when_right_and_1_when_wrong(factor, ok):
    report = gradcli.check(
        steep, grad=lambda x: factor * 1000 * np.cos(1000 * x), shape=(5,), taylor=True
    )
    taylor = [law for law in report.laws if "Taylor" in law.law]
    assert len(taylor) == 3
    assert all(law.ok for law in taylor) is ok
    rates = [law.rate for law in taylor if law.rate is not None]
    if ok:
        assert all(r > 1.8 for r in rates), rates
    else:
        assert any(r < 1.3 for r in rates), rates
    assert report.ok is ok


def test_a_forward_that_computes_in_float32_inside():
    def forward(x):  # float32 inside whatever it is given: noisy at 1e-7
        return np.sin(x.astype(np.float32)).astype(np.float64)

    for seed in range(3):
        assert gradcli.check(forward, grad=np.cos, shape=(5,), seed=seed).ok
    for factor in (1.01, 1.001):  # a wrong derivative still fails
        assert not gradcli.check(forward, grad=lambda x, f=factor: f * np.cos(x), shape=(5,)).ok


# (shift, scale) of the inputs: where f varies over `scale` around `shift`
PLACES = [(0.0, 1e-3), (1.0, 1e-3), (0.0, 1.0), (-1e3, 1.0), (1e4, 1.0), (0.0, 30.0), (1e4, 30.0)]


@settings(max_examples=12, deadline=None)
@given(
    place=st.sampled_from(PLACES),
    dtype=st.sampled_from(["float64", "float32"]),
    seed=st.integers(0, 2**16),
    entry=st.integers(0, 11),
)
def test_law_a_right_jacobian_passes_and_one_wrong_entry_fails(place, dtype, seed, entry):
    """y = tanh(A·x): the right Jacobian passes wherever x is; one entry of it off by
    1 % in float64, 10 % in float32 (where 1 − tanh² at saturation has only a few
    digits), fails, and the failing element is that entry."""
    shift, scale = place
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((3, 4))

    def forward(x):
        if isinstance(x, torch.Tensor):
            return torch.tanh(torch.from_numpy(a).to(x.dtype) @ (x - shift) / scale)
        return np.tanh(a @ (x - shift) / scale)

    def jacobian(x):
        return (1 - forward(x) ** 2)[:, None] * a / scale

    x = shift + scale * rng.standard_normal(4)
    assert gradcli.check(forward, jacobian=jacobian, x=x, dtype=dtype).ok
    i, j = divmod(entry, 4)

    def wrong(x):
        jac = jacobian(x)
        jac[i, j] *= 1.01 if dtype == "float64" else 1.1
        return jac

    report = gradcli.check(forward, jacobian=wrong, x=x, dtype=dtype)
    big = abs(jacobian(x.astype(dtype).astype(np.float64))[i, j]) > 1e-3 * np.abs(jacobian(x)).max()
    if big:  # an entry that is not negligible next to the others
        assert not report.ok
        failed = [c for c in report.comparisons if not c.ok and c.backends[0] == "yours"]
        assert all(c.worst_index == (i, j) for c in failed)


def test_a_function_steep_on_a_scale_far_below_its_shift():
    """fd's step is ∛ε·|x| (6e-3 at x = 1000), six times the scale over which this f
    varies (1e-3): Richardson's saturated differences agree with each other and are
    wrong; the forward takes complex input, so the complex step refines it, exactly."""
    a = np.array([[1.0, -2.0], [0.5, 1.0]])

    def forward(x):
        if isinstance(x, torch.Tensor):
            return torch.tanh(torch.from_numpy(a) @ (x + 1000) / 1e-3)
        return np.tanh(a @ (x + 1000) / 1e-3)

    def jacobian(x):
        return (1 - forward(x) ** 2)[:, None] * a / 1e-3

    x = -1000 + 1e-3 * np.array([0.3, 0.1])
    assert gradcli.check(forward, jacobian=jacobian, x=x).ok
