"""The softmax problem: s = softmax(z / T) and its Jacobian, through every backend.

This module decides what each backend is given (the dtype, the float64 shadow for fd,
the finite-difference step) and names the quantities; comparing and rendering are
shared with the other problems.
"""

from __future__ import annotations

import numpy as np

from gradcli import compare, core, limits, prefault, preload, references
from gradcli.backends import analytic, finite_diff
from gradcli.errors import InputError
from gradcli.inputs import check_fits_dtype
from gradcli.keys import Key
from gradcli.laws import sum_law, symmetry_law
from gradcli.params import MAX_TEMPERATURE, MIN_TEMPERATURE  # the one range, params'
from gradcli.render import shown
from gradcli.report import Array, BackendResult, LawCheck, Report, precision
from gradcli.spec import RunOptions, SoftmaxSpec

LABELS = {"softmax": "s = softmax(z / T)", "jacobian": "Jacobian ∂s_i/∂z_j"}


def validate(spec: SoftmaxSpec) -> None:
    """Refuse what cannot be computed well, before anything is computed."""
    dtype = spec.options.dtype
    z = spec.z
    if z.ndim != 1 or z.size == 0:
        raise InputError(f"z must be a non-empty vector, got shape {z.shape}")
    if not MIN_TEMPERATURE <= spec.temperature <= MAX_TEMPERATURE:
        raise InputError(
            f"--temperature {spec.temperature:g}: must lie in [{MIN_TEMPERATURE:g}, "
            f"{MAX_TEMPERATURE:g}]"
        )
    check_fits_dtype(z, dtype, "z")
    cast = z.astype(dtype)
    with np.errstate(over="ignore"):
        spread = cast.max() - cast.min()
    if not np.isfinite(spread):
        raise InputError(f"z: max(z) − min(z) overflows {dtype}; the logits span too wide a range")
    # The scaled spread, with room for fd's step (∛ε·|z|): beyond it (z ± h) / T overflows
    # float64 and fd's NaN would be a false disagreement with an exact Jacobian of 0.
    reach = float(z.max() - z.min()) + 1e-5 * max(1.0, float(np.abs(z).max()))
    if reach / spec.temperature > np.finfo(np.float64).max / 4:
        raise InputError(
            f"z / T overflows float64: the logits span {float(z.max() - z.min()):g} and "
            f"T = {spec.temperature:g}; use a larger --temperature"
        )
    n = z.size
    if n > limits.MAX_DENSE_N:
        each = n * n * 8
        raise InputError(
            f"z has {n} elements: a dense {n}×{n} Jacobian takes {limits.gib(each)} per "
            f"backend; gradcli softmax builds dense Jacobians up to n = {limits.MAX_DENSE_N}"
        )
    # Each backend keeps one n×n Jacobian; fd's float64 and the work blocks come on top.
    n_backends = len(spec.options.backends)
    limits.check_memory(
        limits.softmax_peak(n, spec.options.backends),  # the model tests/test_memory.py checks
        f"{n_backends} dense {n}×{n} Jacobians",
        "select fewer backends with --backend",
    )


def run(spec: SoftmaxSpec, allocate: limits.Allocate = limits.in_memory) -> Report:
    """Every backend's s and J, judged by the core. Each J is made by `allocate` (key
    "<backend>.jacobian"): --save has them computed straight into its file."""
    validate(spec)
    options = spec.options
    if "torch" in options.backends:  # imported on the other core while numpy and fd work
        preload.start("torch")
    z = spec.z.astype(options.dtype)
    t = float(np.asarray(spec.temperature, dtype=z.dtype))  # T as the checked dtype holds it
    computed: dict[str, BackendResult] = {}
    refs: list[core.NumericalReference] = []
    laws: dict[str, list[LawCheck]] = {}
    jacobians: dict[str, Array] = {
        name: allocate(
            f"{name}.jacobian", (z.size, z.size), np.float64 if name == "fd" else z.dtype
        )
        for name in options.backends
    }
    faulted_in = prefault.populate(list(jacobians.values()))  # while torch is imported

    def compute(name: str) -> None:
        if name == "fd":
            computed[name], reference = _fd(z, t, jacobians[name])
            refs.append(reference)
        else:
            make = _numpy if name == "numpy" else _torch
            computed[name] = make(z, spec.temperature, jacobians[name])
        laws[name] = _laws(computed[name], spec.temperature, options)

    with preload.overlapping():  # what needs no torch, while torch is imported
        for name in jacobians:
            if name != "torch":
                compute(name)
    if "torch" in jacobians:
        preload.finish("torch")
        compute("torch")
    faulted_in()
    results: dict[str, BackendResult] = {
        name: computed[name] for name in options.backends
    }  # in the order asked
    # Scales from the inputs: s lies in [0, 1]; row i of J is s_i(δ_ij − s_j)/T, whose
    # terms are at most s_i/T: a per-row magnitude (a global 1/T would let a Jacobian
    # with every small off-diagonal term missing pass).
    s64 = analytic.softmax(z.astype(np.float64), t)
    quantities = [
        core.Quantity("softmax", 1.0, z.size, key=Key("softmax", symbol="s")),
        core.Quantity(
            "jacobian",
            (s64 / t)[:, np.newaxis],
            z.size,
            (z.size, z.size),
            floor_scale=1 / t,
            key=Key("jacobian", symbol="J"),
        ),
    ]
    title = f"s = softmax(z / T) of {spec.z.size} logits, T = {spec.temperature:g}, {options.dtype}"
    return core.judge(
        core.Declaration(
            command="softmax",
            title=title,
            inputs={"z": spec.z, "temperature": spec.temperature, "dtype": options.dtype},
            labels=LABELS,
            shown=shown.ADAPTER,
        ),
        results,
        quantities,
        options=options,
        references_=refs,
        # the laws found above, but fd's again if the core refined its Jacobian
        laws=lambda done: tuple(
            law
            for name, r in done.items()
            for law in (
                laws[name]
                if not (name == "fd" and set(refs[0].derivative.methods_used) != {"cheap"})
                else _laws(r, spec.temperature, options)
            )
        ),
    )


def _numpy(z: np.ndarray, temperature: float, out: np.ndarray) -> BackendResult:
    s = analytic.softmax(z, temperature)
    jac = analytic.softmax_jacobian(s, temperature, out)
    return BackendResult(
        "numpy", "analytic formulas", precision(str(z.dtype)), {"softmax": s, "jacobian": jac}
    )


def _torch(z: np.ndarray, temperature: float, out: np.ndarray) -> BackendResult:
    from gradcli.backends import autograd

    s, jac = autograd.softmax_and_jacobian(z, temperature, out)
    arrays = {"softmax": s, "jacobian": jac}
    return BackendResult("torch", "autograd", precision(str(z.dtype)), arrays)


def _fd(z: np.ndarray, t: float, out: np.ndarray) -> tuple[BackendResult, core.NumericalReference]:
    """Central differences on the float64 shadow of z (the same values, promoted),
    refined (complex step: softmax is analytic) where a backend disagrees with them.

    The step is ∛ε·max(1, |u_j|) in units of u = (z − max z)/T: softmax ignores shifts,
    so `1000 1001 1002` has the scale of `0 1 2` (a step scaled by |z| there is a false
    alarm waiting to happen), and T is the scale on which softmax(z/T) changes. The
    rounding of s_i is relative to s_i, which also bounds |u_j·∂s_i/∂u_j| = |u_j|·s_i·s_j
    (≤ s_i/e): f_scale = s, bounded.
    """
    shadow = z.astype(np.float64)
    centred = shadow - shadow.max()
    step = t * finite_diff.cube_root_step(centred / t)
    s = analytic.softmax(shadow, t)
    differentiator = references.Differentiator(
        lambda rows: analytic.softmax(rows, t),
        centred,
        step,
        f_scale=s,
        bounded=True,
        f_changed=lambda cols, values: analytic.softmax_changed(centred, cols, values, t),
    )
    derivative = differentiator.cheap(out)
    reference = core.NumericalReference("fd", "jacobian", derivative, differentiator, analytic=True)
    result = BackendResult(
        "fd", "central differences", "fd", {"softmax": s, "jacobian": derivative.value}
    )
    return result, reference


def _laws(result: BackendResult, temperature: float, options: RunOptions) -> list[LawCheck]:
    """Softmax's own laws: s sums to 1, each row of J sums to 0, J is symmetric.

    Within the tolerance of the backend's own precision (atol on J's scale 1/T), or the
    user's --rtol/--atol as given.
    """
    precision, rtol, atol = (result.precision,), options.rtol, options.atol
    n = result.arrays["softmax"].size
    tol = compare.tolerance_for(precision, 1.0, n, rtol, atol)
    j_tol = compare.tolerance_for(precision, 1.0 / temperature, n, rtol, atol)
    s, jac = result.arrays["softmax"], result.arrays["jacobian"]
    return [
        sum_law(result.backend, "s sums to 1", s, 1.0, tol),
        sum_law(result.backend, "rows of J sum to 0", jac, 0.0, j_tol),
        symmetry_law(result.backend, jac, j_tol),
    ]
