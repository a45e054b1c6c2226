"""The comparison: errors, worst element, tolerance, verdict and the odd one out."""

import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gradcli import compare, laws, verdicts
from gradcli.keys import Key
from gradcli.render import words
from gradcli.report import Comparison, Tolerance


def test_compare_arrays_reports_the_worst_element_and_counts():
    a = np.array([1.0, 2.0, 3.0])
    ref = np.array([1.0, 2.1, 3.0])
    c = compare.compare_arrays("q", ("numpy", "fd"), a, ref, Tolerance(rtol=0.01, atol=0.0))
    assert c.max_abs_error == pytest.approx(0.1)
    assert c.max_rel_error == pytest.approx(0.1 / 2.1)
    assert c.worst_index == (1,)
    assert c.worst_values == (2.0, 2.1)
    assert c.allowed == pytest.approx(0.021)
    assert c.n_out_of_tolerance == 1
    assert c.fraction_out_of_tolerance == pytest.approx(1 / 3)
    assert not c.ok


def test_compare_arrays_passes_within_atol_plus_rtol():
    a = np.array([[1.0, 0.0], [0.0, 1.0 + 1e-7]])
    ref = np.eye(2)
    c = compare.compare_arrays("q", ("numpy", "torch"), a, ref, Tolerance(rtol=1e-7, atol=1e-9))
    assert c.ok
    assert c.worst_index == (1, 1)


def test_nan_against_nan_is_never_ok():
    a = np.array([np.nan, 1.0])
    c = compare.compare_arrays("q", ("numpy", "torch"), a, a.copy(), Tolerance(1.0, 1.0))
    assert not c.ok
    assert c.n_non_finite == 1
    assert c.worst_index == (0,)


def test_relative_error_against_an_exact_zero_is_infinite():
    c = compare.compare_arrays(
        "q", ("numpy", "fd"), np.array([1e-20]), np.array([0.0]), Tolerance(0.0, 1e-12)
    )
    assert math.isinf(c.max_rel_error)
    assert c.ok  # but atol covers it


def test_chunked_comparison_equals_one_pass(monkeypatch):
    rng = np.random.default_rng(1)
    a, ref = rng.normal(size=(7, 5)), rng.normal(size=(7, 5))
    whole = compare.compare_arrays("q", ("numpy", "fd"), a, ref, Tolerance(0.1, 0.1))
    monkeypatch.setattr(compare, "CHUNK", 4)
    assert compare.compare_arrays("q", ("numpy", "fd"), a, ref, Tolerance(0.1, 0.1)) == whole


def test_reference_is_fd_then_torch():
    assert compare.reference_order("numpy", "fd") == ("numpy", "fd")
    assert compare.reference_order("fd", "torch") == ("torch", "fd")
    assert compare.reference_order("torch", "numpy") == ("numpy", "torch")


def test_default_tolerance_takes_the_looser_side_and_scales_atol():
    tol = compare.tolerance_for(("float64", "fd"), scale=2.0, n_terms=1)
    assert tol.rtol == 1e-6
    assert tol.atol == pytest.approx(2.0 * (1e-8 + 2.0**-52 / 8))
    tol32 = compare.tolerance_for(("float32", "fd"), scale=1.0, n_terms=8192)
    assert tol32.rtol == 1e-4
    assert tol32.atol == pytest.approx(1e-6 + 8192 * 2.0**-23 / 8)


def test_allowed_grows_rtol_with_the_sums_and_never_takes_a_non_finite_scale():
    allowed = compare.allowed_for("float32", np.array([[2.0], [np.nan]]), n_terms=8192)
    assert allowed.rtol == pytest.approx(1e-4 + 8192 * 2.0**-23 / 8)
    assert isinstance(allowed.atol, np.ndarray)
    growth = 1e-6 + 8192 * 2.0**-23 / 8
    assert allowed.atol[0, 0] == pytest.approx(2.0 * growth + 2.0**-126)
    assert allowed.atol[1, 0] == 2.0**-126  # the NaN row scale became 0, not NaN
    user = compare.allowed_for("float64", 5.0, rtol=0.5, atol=0.25)
    assert (user.rtol, user.atol) == (0.5, 0.25)


def test_reference_error_widens_the_allowed_band_per_column():
    from gradcli.references import ErrorEstimate

    ref = np.zeros((2, 3))
    a = np.array([[1e-9, 1e-9, 0.0], [0.0, 0.0, 1e-9]])
    error = ErrorEstimate(np.ones(2), np.array([1e-9, 0.0, 0.0]))
    allowed = compare.Allowed(rtol=0.0, atol=1e-12, error=error, c=2.0)
    c, failing = compare.compare_view("J", ("numpy", "fd"), a, ref, allowed)
    assert c.n_out_of_tolerance == 2  # column 0 is covered by the reference's error
    assert failing.tolist() == [False, True, True]
    assert c.reference_error == 0.0  # at the worst element, in an exact column


def test_a_kink_accepts_values_between_the_slopes_and_refuses_others():
    from gradcli.references import Kink

    ref = np.array([0.5, 1.0])  # fd's midpoint at relu's kink, and a smooth element
    kink = (Kink(0, 0, 0.0, 1.0),)
    inside = compare.compare_view(
        "g", ("numpy", "fd"), np.array([0.0, 1.0]), ref, compare.Allowed(0.0, 1e-12, kinks=kink)
    )[0]
    assert inside.ok
    outside = compare.compare_view(
        "g", ("numpy", "fd"), np.array([1.5, 1.0]), ref, compare.Allowed(0.0, 1e-12, kinks=kink)
    )[0]
    assert not outside.ok
    assert outside.worst_values == (1.5, 1.0)  # judged against the interval's nearest end
    assert outside.max_abs_error == pytest.approx(0.5)


def test_user_tolerance_is_absolute():
    tol = compare.tolerance_for(("float32",), scale=100.0, n_terms=10, rtol=0.5, atol=0.25)
    assert tol == Tolerance(0.5, 0.25)


def _pair(a, ref, ok):
    return Comparison(
        "jacobian",
        (a, ref),
        (2,),
        Tolerance(0, 0),
        0.0 if ok else 0.5,
        0,
        (1,),
        (0, 0),
        0,
        0 if ok else 1,
        0,
    )


@pytest.mark.parametrize(
    ("oks", "message"),
    [
        ((False, True, False), "numpy and fd agree, torch differs"),
        ((False, False, True), "torch and fd agree, numpy differs"),
        ((True, False, False), "numpy and torch agree, fd differs"),
        ((False, False, False), "all three backends differ"),
        (
            (False, True, True),
            "numpy and torch differ from each other although each agrees with fd",
        ),
    ],
)
def test_odd_one_out(oks, message):
    pairs = [
        _pair("numpy", "torch", oks[0]),
        _pair("numpy", "fd", oks[1]),
        _pair("torch", "fd", oks[2]),
    ]
    (found,) = verdicts.differs([replace(c, key=Key("jacobian")) for c in pairs])
    assert words.who(found).startswith(message)


def test_verdict_of_two_backends_is_agree_or_disagree():
    (found,) = verdicts.differs([replace(_pair("numpy", "fd", False), key=Key("jacobian"))])
    assert (found.kind, found.odd, found.n_out, found.size) == ("pair", None, 1, 2)
    assert words.failure(found) == "jacobian: numpy and fd disagree in 1 of 2 entries"
    assert found.worst.entry.index == (1,)
    assert verdicts.differs([replace(_pair("numpy", "fd", True), key=Key("jacobian"))]) == []


def test_sum_law_and_symmetry_law():
    tol = Tolerance(1e-9, 1e-12)
    assert laws.sum_law("numpy", "sums to 1", np.array([0.25, 0.75]), 1.0, tol).ok
    broken = laws.sum_law("numpy", "sums to 1", np.array([0.25, 0.76]), 1.0, tol)
    assert not broken.ok
    assert broken.max_violation == pytest.approx(0.01)
    assert laws.symmetry_law("numpy", np.array([[1.0, 2.0], [2.0, 1.0]]), tol).ok
    asym = laws.symmetry_law("numpy", np.array([[1.0, 2.0], [2.5, 1.0]]), tol)
    assert not asym.ok
    assert asym.max_violation == pytest.approx(0.5)


finite_pairs = st.integers(1, 300).flatmap(
    lambda n: st.tuples(
        hnp.arrays(
            np.float64, n, elements=st.floats(-1e3, 1e3).filter(lambda v: v == 0 or abs(v) > 1e-300)
        ),
        hnp.arrays(np.float64, n, elements=st.floats(-1e-6, 1e-6)),
    )
)


@given(finite_pairs, st.floats(0, 1e-3), st.floats(1e-12, 1e-3), st.integers(1, 5))
def test_blocked_statistics_equal_the_definition(pair, rtol, atol, rows):
    """compare_view in row blocks against allclose written out in one pass."""
    ref, noise = pair
    a = ref + noise * (np.arange(ref.size) % 3 == 0)  # exact agreement on two thirds
    n = ref.size
    view = (1, n) if n % rows else (rows, n // rows)
    c, failing = compare.compare_view("q", ("numpy", "fd"), a, ref, Tolerance(rtol, atol), view)
    diff, allowed = np.abs(a - ref), atol + rtol * np.abs(ref)
    assert c.n_out_of_tolerance == int(np.sum(~(diff <= allowed)))
    assert c.max_abs_error == diff.max()
    ratio = diff / allowed
    assert ratio[np.ravel_multi_index(c.worst_index, a.shape)] == ratio.max()
    out_columns = (~(diff <= allowed)).reshape(view).any(axis=0)
    assert (failing == out_columns).all()
    if c.n_out_of_tolerance:
        assert c.outside is not None
        assert (c.outside == ~(diff <= allowed)).all()
    else:
        assert c.outside is None


def test_the_elements_outside_are_the_cores_own_under_per_row_scales():
    """The same 5e-4 difference is within row 0's scale and outside row 1's: the grid and
    the plot mark the one the core counted, not whichever ranks first on one atol."""
    from gradcli.render import findings

    ref = np.zeros((3, 4))
    a = ref.copy()
    a[0, 1] = 5e-4  # within 1e-3
    a[1, 2] = 5e-4  # beyond 1e-6
    a[2, 3] = 0.5  # within 1.0
    a[1, 0] = np.nan
    per_row = np.array([[1e-3], [1e-6], [1.0]])
    c, failing = compare.compare_view("J", ("numpy", "fd"), a, ref, compare.Allowed(0.0, per_row))
    assert c.n_out_of_tolerance == 2
    assert c.outside is not None
    assert np.argwhere(c.outside).tolist() == [[1, 0], [1, 2]]
    assert failing.tolist() == [True, False, True, False]
    shown, outside = findings.ratios(a, ref, c)
    assert np.argwhere(outside).tolist() == [[1, 0], [1, 2]]
    assert shown[0, 1] <= 1.0 < shown[1, 2]


def test_find_non_finite_is_not_fooled_by_a_sum_that_overflows():
    from gradcli.report import BackendResult

    huge = np.full(4, 1e308)  # finite, but its sum is inf: the exact check must decide
    bad = np.array([[1.0, 2.0], [np.inf, np.nan]])
    results = {"numpy": BackendResult("numpy", "formulas", "float64", {"a": huge, "b": bad})}
    (found,) = compare.find_non_finite(results)
    assert (found.backend, found.quantity, found.count, found.first_index) == (
        "numpy",
        "b",
        2,
        (1, 0),
    )


def test_what_a_comparison_saw_finite_is_not_searched_again():
    from gradcli.report import BackendResult

    j = np.array([[1.0, 2.0], [3.0, 4.0]])
    bad = np.array([[1.0, np.inf], [3.0, 4.0]])
    results = {
        "numpy": BackendResult("numpy", "formulas", "float64", {"J": j, "s": bad}),
        "fd": BackendResult("fd", "central differences", "fd", {"J": j + 1e-12, "s": bad}),
    }
    tol = Tolerance(1e-6, 1e-6)
    seen, _ = compare.compare_view("J", ("numpy", "fd"), j, j + 1e-12, tol)
    broken, _ = compare.compare_view("s", ("numpy", "fd"), bad, bad, tol)
    assert (seen.n_non_finite, broken.n_non_finite) == (0, 1)  # inf − inf is NaN
    known = compare.compared_finite([seen, broken])
    assert known == {("numpy", "J"), ("fd", "J")}
    assert compare.compared_finite([seen, broken], excluded={"J"}) == set()
    found = compare.find_non_finite(results, known)
    assert [(f.backend, f.quantity, f.count, f.first_index) for f in found] == [
        ("numpy", "s", 1, (0, 1)),
        ("fd", "s", 1, (0, 1)),
    ]
    # told (wrongly) that s is finite, it is not read: the comparisons decide
    assert compare.find_non_finite(results, known | {("numpy", "s"), ("fd", "s")}) == ()
