"""Every view marks as out of tolerance exactly the entries the core judged out: the grid
of `yours − expected` (`·` within), the heatmap's difference grid, the plot's outlines and
colours, for a single check and over several trials.

The case that tells: a Jacobian whose rows have scales 1e6 and 1 (check's tolerance is
per row, a few ulps of its scale). Yours is off by 1e-9 at J[0,1] (within row 0's allowed
error, about 1.8e-9) and by 1e-10 at J[1,0] (outside row 1's, 1.8e-15). On the worst
entry's atol alone, 1e-9 ranks above 1e-10: the former ranking marked J[0,1] and left
J[1,0] unmarked. (Before #20's measured bands the gaps were 5e-7 and 1e-7 against allowed
errors of 1e-6 and 3.3e-8; a relative 5e-13 is now caught.)"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import gradcli
from gradcli.render import findings, heatmap, plot
from gradcli.render.view import view_lines

SCALES = np.array([1e6, 1.0])
WRONG = {(0, 1): 1e-9, (1, 0): 1e-10}  # within row 0's tolerance; outside row 1's


def scaled(x):
    """f(x) = (1e6·x_0, x_1): J = diag(1e6, 1)."""
    if isinstance(x, torch.Tensor):
        return x * torch.as_tensor(SCALES, dtype=x.dtype)
    return x * SCALES


def off_by_a_little(x):
    jacobian = np.diag(SCALES)
    for index, gap in WRONG.items():
        jacobian[index] += gap
    return jacobian


@pytest.fixture(scope="module")
def report():
    return gradcli.check(
        scaled, jacobian=off_by_a_little, x=np.array([0.3, -0.7]), backends=["torch"]
    )


def test_the_core_counts_one_entry_out_and_the_picture_marks_that_one(report):
    (c,) = report.comparisons
    assert c.n_out_of_tolerance == 1
    assert c.worst_index == (1, 0)
    assert c.allowed == pytest.approx(1.83e-15, rel=0.05)
    a, ref = (report.results[n].arrays[c.quantity] for n in c.backends)
    shown, outside = findings.ratios(a, ref, c)
    assert np.argwhere(outside).tolist() == [[1, 0]]
    assert shown[1, 0] > 1 >= shown[0, 1]  # the colour never crosses the core's judgement


def test_the_grid_of_differences_dots_the_entry_within_its_rows_tolerance(report):
    text = [t.plain for t in view_lines(report, width=80)]
    grid = text[text.index("yours − expected  (· within tolerance)") + 1 :][:3]
    assert [line.split() for line in grid] == [
        ["i\\j", "0", "1"],
        ["0", "·", "·"],  # 1e-9 is within row 0's allowed error
        ["1", "1e-10", "·"],
    ]


def test_the_heatmap_shades_only_the_entry_out_of_tolerance(report):
    (c,) = report.comparisons
    a, ref = (report.results[n].arrays[c.quantity] for n in c.backends)
    grid = heatmap._difference_grid(a, ref, c, c.worst_index).plain.splitlines()
    assert grid[0] == "····"
    assert grid[1][2:] == "··"
    assert grid[1][:2] not in ("··", "!!")  # a red shade for the decade beyond


def test_the_plot_outlines_only_the_entry_out_of_tolerance(report):
    figure = plot.build_figure(report, "gradcli check …")
    difference = next(ax for ax in figure.axes if "beyond tolerance" in ax.get_title())
    assert "1 of 4 beyond tolerance" in difference.get_title()
    assert [p.get_xy() for p in difference.patches] == [(-0.5, 0.5)]  # j = 0, i = 1


def test_several_trials_each_mark_their_own_entries():
    """Yours is off by 1e-9 at J[0,1] (within row 0's tolerance) in every trial, and by
    1e-10 at J[1,0] (outside row 1's) where x_0 < 0: each trial is judged and marked on
    its own mask."""

    def varying(x):
        jacobian = off_by_a_little(x)
        if x[0] > 0:
            jacobian[1, 0] -= WRONG[1, 0]
        return jacobian

    result = gradcli.check(scaled, jacobian=varying, shape=(2,), trials=4, backends=["torch"])
    signs = [float(np.asarray(x).reshape(-1)[0]) > 0 for x in result.inputs["x"]]
    assert sorted(set(signs)) == [False, True]  # both kinds of trial are drawn
    for trial, positive in enumerate(signs):
        c = next(c for c in result.comparisons if c.quantity == f"trial{trial}.jacobian")
        a, ref = (result.results[n].arrays[c.quantity] for n in c.backends)
        assert np.argwhere(findings.ratios(a, ref, c)[1]).tolist() == ([] if positive else [[1, 0]])
    (failure,) = findings.failures(result)
    failed = tuple(t for t, positive in enumerate(signs) if not positive)
    assert failure.trials_failed == failed
    assert failure.n_out == len(failed)
    text = [t.plain for t in view_lines(result, width=80)]
    counts = f"in {len(failed)} of 16 entries, {len(failed)} of 4 trials"
    assert text[0] == f"DISAGREE: J: yours differs from torch {counts}"
    grid = text[text.index("yours − expected  (· within tolerance)") + 1 :][:3]
    assert [line.split() for line in grid][1:] == [["0", "·", "·"], ["1", "1e-10", "·"]]
