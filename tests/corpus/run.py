"""Run a corpus case through gradcli, through torch.autograd.gradcheck, and check its
label against the independent reference."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from tests.corpus.cases import Case

TORCH_DTYPE = ("float64", "float32", "float16", "bfloat16")


def rounded(case: Case) -> np.ndarray[Any, Any]:
    """x as the dtype holds it (gradcli rounds it so; the labels are judged there)."""
    import torch

    t = torch.from_numpy(np.array(case.x, dtype=np.float64)).to(getattr(torch, case.dtype))
    return t.double().numpy()


def gradcli_ok(case: Case) -> bool:
    import gradcli

    kw: dict[str, Any] = {case.mode: case.derivative}
    report = gradcli.check(case.forward, x=case.x, dtype=case.dtype, **kw)
    return bool(report.ok)


def _numpy_in(t: Any, dtype: str) -> Any:
    import torch

    if dtype == "bfloat16":  # numpy has no bfloat16: float32 carries its values exactly
        return t.detach().to(torch.float32).numpy()
    return t.detach().numpy()


def gradcheck_ok(case: Case) -> bool:
    """torch.autograd.gradcheck at its default tolerances, of a Function whose backward is
    the case's derivative (run in the case's dtype, as gradcli runs it). An exception
    other than a failed check counts as a failure: the user gets no pass."""
    import torch

    dtype = getattr(torch, case.dtype)

    class Wrapped(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            ctx.save_for_backward(x)
            return case.forward(x)

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            (x,) = ctx.saved_tensors
            xn, gn = _numpy_in(x, case.dtype), _numpy_in(g, case.dtype)
            if case.mode == "grad":
                value = gn * case.derivative(xn)
            elif case.mode == "vjp":
                value = case.derivative(xn, gn)
            else:
                value = gn.reshape(-1) @ case.derivative(xn).reshape(gn.size, xn.size)
            return torch.from_numpy(np.array(value, dtype=np.float64)).to(dtype).reshape(x.shape)

    x = torch.from_numpy(np.array(case.x, dtype=np.float64)).to(dtype).requires_grad_()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return bool(torch.autograd.gradcheck(Wrapped.apply, (x,), raise_exception=False))
        except Exception:
            return False


def reference(case: Case) -> np.ndarray[Any, Any]:
    """The derivative at the rounded x, exactly (mpmath, 50 digits) or by float64 autograd
    of plain torch operations: as the case's derivative returns it (grad: f'(x); vjp:
    the gradient of ⟨g, f⟩ for g drawn here; jacobian: J)."""
    import torch

    x = rounded(case)
    if case.mp is not None:
        import mpmath

        mpmath.mp.dps = 50
        return np.array([float(case.mp(mpmath.mpf(float(v)))) for v in x.reshape(-1)]).reshape(
            x.shape
        )
    t = torch.from_numpy(x).requires_grad_()
    if case.mode == "jacobian":
        jac = torch.autograd.functional.jacobian(case.forward, t)
        return np.asarray(jac.numpy()).reshape(-1, x.size)
    y = case.forward(t)
    g = torch.from_numpy(cotangent(y.shape))
    (grad,) = torch.autograd.grad((y * g).sum(), t)
    return np.asarray(grad.numpy())


def cotangent(shape: tuple[int, ...]) -> np.ndarray[Any, Any]:
    return np.random.default_rng(7).standard_normal(shape)


def derivative64(case: Case) -> np.ndarray[Any, Any]:
    """The case's derivative in float64 at the rounded x (what the label is about)."""
    x = rounded(case)
    if case.mode == "vjp":
        import torch

        y = case.forward(torch.from_numpy(x))
        return np.asarray(case.derivative(x, cotangent(tuple(y.shape))), dtype=np.float64)
    return (
        np.asarray(case.derivative(x), dtype=np.float64).reshape(-1, x.size)
        if (case.mode == "jacobian")
        else np.asarray(case.derivative(x), dtype=np.float64)
    )


def jax_ok(case: Case) -> bool:
    """jax.test_util.check_grads (reverse mode, its default tolerances and step) of a
    jax.custom_vjp whose backward is the case's derivative: jax's way of checking a
    derivative it did not derive. The forward and the derivative are the case's numpy
    code, called through jax.pure_callback, in the case's dtype (jax_enable_x64 for
    float64). An exception other than a failed check counts as a failure."""
    import jax
    import jax.numpy as jnp
    from jax.test_util import check_grads

    jax.config.update("jax_enable_x64", True)
    dtype = jnp.dtype(case.dtype)
    x = jnp.asarray(rounded(case)).astype(dtype)
    y0 = np.asarray(case.forward(np.asarray(x)))
    out_shape = jax.ShapeDtypeStruct(y0.shape, dtype)
    in_shape = jax.ShapeDtypeStruct(x.shape, dtype)

    def forward_np(xv: Any) -> Any:
        return np.asarray(case.forward(np.asarray(xv)), dtype=dtype)

    def backward_np(xv: Any, gv: Any) -> Any:
        xn, gn = np.asarray(xv), np.asarray(gv)
        if case.mode == "grad":
            value = gn * np.asarray(case.derivative(xn))
        elif case.mode == "vjp":
            value = case.derivative(xn, gn)
        else:
            value = gn.reshape(-1) @ np.asarray(case.derivative(xn)).reshape(gn.size, xn.size)
        return np.asarray(value, dtype=dtype).reshape(xn.shape)

    @jax.custom_vjp
    def f(xv: Any) -> Any:
        return jax.pure_callback(forward_np, out_shape, xv)

    def f_fwd(xv: Any) -> Any:
        return f(xv), xv

    def f_bwd(xv: Any, g: Any) -> Any:
        return (jax.pure_callback(backward_np, in_shape, xv, g),)

    f.defvjp(f_fwd, f_bwd)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            check_grads(f, (x,), order=1, modes=("rev",))
        except AssertionError:
            return False
        except Exception:
            return False
    return True
