"""The common-case path of the comparison statistics equals the definition (`general_stats`)
on every input, with any sub-block size, for several pairs sharing a reference."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gradcli import blockstats, compare, references, sweep
from gradcli.blockstats import Allowed, Pair, Stats
from gradcli.report import Tolerance

VALUES = st.sampled_from(
    [0.0, -0.0, 1.0, -1.0, 0.5, 1e-300, 3e-17, -2.5e-9, 1e3, 7.25, math.nan, math.inf, -math.inf]
)


def _full(st_: Stats, m: int, n: int) -> tuple[object, ...]:
    """Every field, with the mask pieces assembled (pieces may be cut differently)."""
    outside = np.zeros((m, n), dtype=bool)
    for (r0, r1), mask in st_.outside:
        outside[r0:r1] = mask
    failing = np.zeros(n, dtype=bool) if st_.failing is None else st_.failing
    fields = (
        st_.max_abs,
        st_.max_rel,
        st_.n_out,
        st_.n_non_finite,
        st_.worst_ratio,
        st_.worst,
        st_.worst_a,
        st_.worst_ref,
        st_.worst_allowed,
        st_.worst_atol,
        st_.worst_error,
    )
    return (
        *tuple("nan" if isinstance(f, float) and math.isnan(f) else f for f in fields),
        failing.tolist(),
        outside.tolist(),
    )


@st.composite
def problems(draw: st.DrawFn) -> tuple[list[Pair], int, int]:
    m, n = draw(st.integers(1, 6)), draw(st.integers(1, 9))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    ref = rng.normal(size=(m, n)) * 10.0 ** rng.integers(-12, 3, size=(m, n))
    ref[rng.random((m, n)) < 0.2] = 0.0  # exact zeros: 0/0 in the relative error
    special = draw(st.booleans())
    if special:  # NaN, inf, tiny and signed zeros, anywhere
        for _ in range(draw(st.integers(1, 3))):
            ref[rng.integers(m), rng.integers(n)] = draw(VALUES)

    def near() -> np.ndarray:
        a = ref + rng.normal(size=(m, n)) * 10.0 ** rng.integers(-16, -2, size=(m, n))
        same = rng.random((m, n)) < 0.4
        a[same] = ref[same]  # exact agreement
        if special and draw(st.booleans()):
            a[rng.integers(m), rng.integers(n)] = draw(VALUES)
        return a.astype(draw(st.sampled_from([np.float64, np.float32])))

    rtol = draw(st.sampled_from([0.0, 1e-9, 1e-4, 0.5]))
    atol = draw(
        st.sampled_from(
            [np.asarray(0.0), np.asarray(1e-12), rng.random((m, 1)) * 1e-6, rng.random((m, n))]
        )
    )
    error = None
    if draw(st.booleans()):
        rows = rng.random(m) * 1e-8
        cols = rng.random(n) * draw(st.sampled_from([1.0, 1e3, math.inf]))
        refined = {int(j): rng.random(m) * 1e-9 for j in rng.choice(n, rng.integers(0, n + 1))}
        error = references.ErrorEstimate(rows, cols, refined)
    kinks: tuple[references.Kink, ...] = ()
    if draw(st.booleans()):
        kinks = (references.Kink(int(rng.integers(m)), int(rng.integers(n)), 0.0, 1.0),)
    allowed = Allowed(rtol, atol, error, draw(st.sampled_from([0.0, 2.0])), kinks)
    atol_view = atol if atol.ndim == 0 else np.broadcast_to(atol, (m, n))
    if atol_view.ndim and atol_view.strides[1] == 0:
        atol_view = atol_view[:, :1]
    # numpy–fd and torch–fd share fd and the band; numpy–torch has its own reference
    a, b = near(), near()
    pairs = [Pair(a, b, atol_view, allowed), Pair(a, ref, atol_view, allowed)]
    pairs.append(Pair(b, ref, atol_view, allowed))
    return pairs, m, n


@given(problems(), st.integers(1, 40), st.integers(1, 6))
def test_the_common_case_path_equals_the_definition(problem, sub_block, chunk_rows):
    """Block by block (the same blocks both ways: where the definition itself depends on
    the blocking, at an infinite ratio against a NaN, tests/test_compare.py decides)."""
    pairs, m, n = problem
    spans = [(r0, min(r0 + chunk_rows, m)) for r0 in range(0, m, chunk_rows)]
    old = sweep.SUB_BLOCK
    sweep.SUB_BLOCK = sub_block
    try:
        chunks = [sweep.chunk_stats(pairs, span) for span in spans]
    finally:
        sweep.SUB_BLOCK = old
    rows = max(1, sub_block // n)
    subs = [(s, min(s + rows, r1)) for r0, r1 in spans for s in range(r0, r1, rows)]
    for p, pair in enumerate(pairs):
        got = blockstats.merge([c[p] for c in chunks], n)
        expected = blockstats.merge([blockstats.general_stats(pair, sub) for sub in subs], n)
        assert _full(got, m, n) == _full(expected, m, n)


def test_the_common_case_is_taken_and_counts_only_past_a_ratio_of_one(monkeypatch):
    """No fallback on ordinary data: the definition is not called at all."""
    rng = np.random.default_rng(3)
    ref = rng.normal(size=(50, 40))
    a = ref * (1 + 1e-12 * rng.normal(size=ref.shape))
    a[7, 9] += 1e-3  # one element out
    calls = []
    monkeypatch.setattr(sweep, "general_stats", lambda *args: calls.append(args))
    monkeypatch.setattr(sweep, "SUB_BLOCK", 100)
    c, failing = compare.compare_view("J", ("numpy", "fd"), a, ref, Tolerance(1e-9, 1e-12))
    assert calls == []
    assert c.n_out_of_tolerance == 1
    assert c.worst_index == (7, 9)
    assert np.flatnonzero(failing).tolist() == [9]
    assert c.outside is not None
    assert np.argwhere(c.outside).tolist() == [[7, 9]]
    assert c.max_abs_error == pytest.approx(1e-3, rel=1e-6)


def test_pairs_compared_together_equal_pairs_compared_alone():
    """compare_views shares |fd| and the band between numpy–fd and torch–fd: the same
    Comparisons as one call per pair."""
    rng = np.random.default_rng(4)
    fd = rng.normal(size=(30, 30))
    numpy_, torch_ = fd + 1e-9 * rng.normal(size=fd.shape), fd.copy()
    torch_[3, 4] = 0.0
    error = references.ErrorEstimate(rng.random(30) * 1e-9, rng.random(30), {5: np.ones(30)})
    band = Allowed(1e-6, rng.random((30, 1)) * 1e-9, error)
    jobs = [
        (("numpy", "torch"), numpy_, torch_, Allowed(1e-6, band.atol, error)),
        (("numpy", "fd"), numpy_, fd, band),
        (("torch", "fd"), torch_, fd, band),
    ]
    together = compare.compare_views("J", jobs)
    alone = [compare.compare_view("J", names, a, ref, tol) for names, a, ref, tol in jobs]
    for (c1, f1), (c2, f2) in zip(together, alone, strict=True):
        assert c1 == c2
        assert (f1 == f2).all()
        assert (c1.outside is None) == (c2.outside is None)
        if c1.outside is not None:
            assert (c1.outside == c2.outside).all()
    assert [c.ok for c, _ in together] == [False, True, False]
