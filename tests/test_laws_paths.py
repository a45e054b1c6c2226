"""A law's worst element: the short path (allowed known ≥ the floor) gives what the
general one gives, on every input, NaN and inf included."""

import math

import numpy as np
from hypothesis import given
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
