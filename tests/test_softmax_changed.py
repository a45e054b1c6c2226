"""fd's fast softmax of one-entry perturbations gives the same bits as the definition
(`analytic.softmax` of the perturbed rows), on every input: ties at the maximum, a
changed entry above it, steps that vanish in rounding, temperatures far from 1."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gradcli.backends import analytic

LOGITS = st.floats(-800, 800, allow_nan=False)


@st.composite
def perturbations(draw):
    n = draw(st.integers(1, 40))
    x = draw(hnp.arrays(np.float64, n, elements=LOGITS))
    if draw(st.booleans()):  # fd perturbs the centred logits: the maximum is exactly 0
        x = x - x.max()
    k = draw(st.integers(1, 12))
    cols = draw(hnp.arrays(np.intp, k, elements=st.integers(0, n - 1)))
    steps = draw(hnp.arrays(np.float64, k, elements=st.sampled_from([1e-300, 1e-6, 0.5, 3.0])))
    signs = draw(hnp.arrays(np.float64, k, elements=st.sampled_from([-1.0, 1.0])))
    return x, cols, x[cols] + signs * steps


@settings(max_examples=300, deadline=None)
@given(perturbations(), st.sampled_from([1.0, 3.0, 0.7, 1e-3, 1e4]))
def test_the_fast_rows_equal_the_definition(case, temperature):
    x, cols, values = case
    rows = np.repeat(x[np.newaxis, :], cols.size, axis=0)
    rows[np.arange(cols.size), cols] = values
    with np.errstate(all="ignore"):
        expected = analytic.softmax(rows, temperature)
    got = analytic.softmax_changed(x, cols, values, temperature)
    assert got.shape == expected.shape
    assert np.array_equal(got.view(np.int64), expected.view(np.int64))


def test_a_changed_maximum_takes_the_definition():
    # row 0 raises x[1] above the maximum, row 1 lowers the maximum itself: both rows'
    # maximum moves; row 2 changes an entry below it
    x = np.array([0.0, -1.0, -2.0])
    got = analytic.softmax_changed(x, np.array([1, 0, 2]), np.array([0.5, -3.0, -2.5]))
    e = np.exp(np.array([[-0.5, 0.0, -2.5], [-2.0, 0.0, -1.0], [0.0, -1.0, -2.5]]))
    np.testing.assert_allclose(got, e / e.sum(axis=1, keepdims=True), rtol=1e-15)
