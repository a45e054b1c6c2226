"""A law's worst element: the short path (allowed known ≥ the floor) gives what the
general one gives, on every input, NaN and inf included."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gradcli import laws
from gradcli.report import Tolerance

ELEMENTS = st.one_of(
    st.floats(0, 1e3),
    st.sampled_from([0.0, 1e-300, 5e-324, 1e-12, 1.0, math.inf, math.nan]),
)


def _fields(law):
    nan = "nan"
    return (law.ok, *(nan if math.isnan(v) else v for v in (law.max_violation, law.allowed)))


@given(
    st.integers(1, 60).flatmap(
        lambda n: st.tuples(
            hnp.arrays(np.float64, n, elements=ELEMENTS),
            hnp.arrays(np.float64, n, elements=st.floats(0, 1e3)),
        )
    ),
    st.sampled_from([1e-300, 1e-12, 1e-3]),
    st.sampled_from([0.0, 1e-9, 0.5]),
)
def test_the_short_path_equals_the_general_one(arrays, atol, rtol):
    violation, magnitude = arrays
    allowed = atol + rtol * magnitude  # as symmetry_law builds it: ≥ atol ≥ the floor
    short = laws._law("numpy", "law", violation, allowed, positive=True)
    general = laws._law("numpy", "law", violation, allowed)
    assert _fields(short) == _fields(general)


def test_symmetry_law_takes_the_short_path_and_still_fails_what_it_should():
    rng = np.random.default_rng(2)
    j = rng.normal(size=(300, 300))
    j = j + j.T
    tol = Tolerance(1e-9, 1e-12)
    assert laws.symmetry_law("numpy", j, tol).ok
    j[7, 250] += 1e-6
    broken = laws.symmetry_law("numpy", j, tol)
    assert not broken.ok
    assert broken.max_violation == abs(j[7, 250] - j[250, 7])
    j[7, 250] = np.nan
    assert not laws.symmetry_law("numpy", j, tol).ok


def test_a_violation_just_past_its_allowed_fails_on_the_short_path():
    allowed = np.array([2.0, 2.0, 3.0])
    for violation, ok in (([0.0, 2.0, 1.0], True), ([0.0, 3.0, 1.0], False)):
        law = laws._law("numpy", "law", np.array(violation), allowed, positive=True)
        assert law.ok is ok
        assert (law.max_violation, law.allowed) == (violation[1], 2.0)
    just_past = np.nextafter(2.0, 3.0)  # the rounded ratio is 1 + 2⁻⁵²: not below 1
    assert not laws._law("numpy", "law", np.array([just_past]), allowed[:1], positive=True).ok


# --- the screen (`laws._screen`): the same LawCheck as the definition ------------------

NEAR = st.one_of(
    st.floats(-1e-3, 1e-3),
    st.sampled_from([0.0, -0.0, 1e-300, 1e-12, -1e-12, 1e-9, 1.0, math.inf, math.nan]),
)


def _definition(law, *args):
    with pytest.MonkeyPatch.context() as m:
        m.setattr(laws, "_screen", lambda *a: None)
        return law(*args)


@st.composite
def near_symmetric(draw):
    n = draw(st.integers(1, 12))
    base = draw(hnp.arrays(np.float64, (n, n), elements=st.floats(-1, 1)))
    noise = draw(hnp.arrays(np.float64, (n, n), elements=NEAR))
    if draw(st.booleans()):
        base = base + base.T  # exactly symmetric, then perturbed where noise is not 0
    keep = draw(hnp.arrays(np.bool_, (n, n)))
    return base + np.where(keep, 0.0, noise)


TOLERANCES = st.builds(
    Tolerance,
    rtol=st.sampled_from([0.0, 1e-9, 1e-6, 0.5]),
    atol=st.sampled_from([1e-300, 1e-12, 1e-8, 1e-3]),
)


@settings(max_examples=300, deadline=None)
@given(near_symmetric(), TOLERANCES, st.sampled_from([1, 3, 256]))
def test_the_symmetry_screen_equals_the_definition(j, tol, tile):
    with pytest.MonkeyPatch.context() as m:
        m.setattr(laws, "TILE", tile)  # several tiles, the diagonal's and others
        expected = _definition(laws.symmetry_law, "numpy", j, tol)
        assert _fields(laws.symmetry_law("numpy", j, tol)) == _fields(expected)


@settings(max_examples=200, deadline=None)
@given(near_symmetric(), TOLERANCES, st.sampled_from([1, 3, 5, 256]), st.booleans())
def test_the_copied_tiles_give_what_the_tiles_in_place_give(j, tol, tile, single):
    # every row stride is a multiple of CONFLICT_STRIDE = 1 byte: every tile is copied
    j = j.astype(np.float32) if single else j
    with pytest.MonkeyPatch.context() as m:
        m.setattr(laws, "TILE", tile)
        m.setattr(laws, "CONFLICT_STRIDE", 1 << 40)  # never copied
        in_place = laws.symmetry_law("numpy", j, tol)
        m.setattr(laws, "CONFLICT_STRIDE", 1)
        assert _fields(laws.symmetry_law("numpy", j, tol)) == _fields(in_place)


def test_a_row_stride_of_4_kib_is_copied_and_a_broken_entry_still_found(monkeypatch):
    copied = []
    real = laws._copied
    monkeypatch.setattr(laws, "_copied", lambda b, c: copied.append(b.shape) or real(b, c))
    rng = np.random.default_rng(3)
    j = rng.normal(size=(512, 512))  # 512 float64 a row: 4096 bytes
    j = j + j.T
    tol = Tolerance(1e-9, 1e-12)
    law = laws.symmetry_law("numpy", j, tol)
    assert (law.ok, law.max_violation, law.allowed) == (True, 0.0, abs(j[0, 0]) * 1e-9 + 1e-12)
    assert copied == [(256, 256)] * 3  # the lower tiles of (0, 0), (0, 256), (256, 256)
    j[300, 10] += 1e-6
    broken = laws.symmetry_law("numpy", j, tol)
    assert not broken.ok
    assert broken.max_violation == abs(j[300, 10] - j[10, 300])
    copied.clear()
    smaller = np.ascontiguousarray(j[:500, :500])  # 4000-byte rows: read in place
    assert not laws.symmetry_law("numpy", smaller, tol).ok
    assert copied == []


@settings(max_examples=300, deadline=None)
@given(
    st.tuples(st.integers(1, 9), st.integers(1, 12)).flatmap(
        lambda shape: hnp.arrays(np.float64, shape, elements=st.one_of(st.floats(-1, 1), NEAR))
    ),
    TOLERANCES,
    st.sampled_from([0.0, 1.0]),
)
def test_the_sum_screen_equals_the_definition(terms, tol, target):
    expected = _definition(laws.sum_law, "numpy", "sums", terms, target, tol)
    assert _fields(laws.sum_law("numpy", "sums", terms, target, tol)) == _fields(expected)


def test_the_screen_decides_a_law_that_holds_and_leaves_a_broken_one(monkeypatch):
    # the screen runs on a correct Jacobian (not only on the definition's fallback)
    calls = []
    screen = laws._screen
    monkeypatch.setattr(laws, "_screen", lambda *a: calls.append(screen(*a)) or calls[-1])
    s = np.random.default_rng(0).dirichlet(np.ones(300))
    j = np.diag(s) - np.outer(s, s)
    tol = Tolerance(1e-9, 1e-12)
    assert laws.symmetry_law("numpy", j, tol).ok
    assert calls
    assert all(c is not None for c in calls)
    j[3, 200] += 1e-9
    calls.clear()
    broken = laws.symmetry_law("numpy", j, tol)
    assert not broken.ok
    assert broken.max_violation == abs(j[3, 200] - j[200, 3])
    assert None in calls  # the tile out of tolerance went to the definition


def test_the_screen_finds_the_worst_ratio_not_the_largest_violation():
    # violation 4e-3 at |J| = 10 (ratio 1/3) comes first; violation 1e-3 at J = 0 is the
    # worst (ratio 1/2): both pass the threshold, and the ratio decides
    j = np.zeros((3, 3))
    j[0, 1], j[1, 0] = 10.0, 10.004
    j[2, 0] = 1e-3
    tol = Tolerance(1e-3, 2e-3)
    law = laws.symmetry_law("numpy", j, tol)
    assert law.ok
    assert (law.max_violation, law.allowed) == (1e-3, 2e-3)
    assert _fields(law) == _fields(_definition(laws.symmetry_law, "numpy", j, tol))
