"""A pytest helper: fail with the report, not with a bare False.

from gradcli.testing import assert_backends_agree

def test_my_layer():
    assert_backends_agree(gradcli.layer(W, b, x, loss="mse", target=y))
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gradcli.report import Report


def assert_backends_agree(report: Report) -> None:
    """Raise AssertionError naming what differs, with the worst element of each failed
    comparison (both values and the allowed error), if the report is not ok."""
    __tracebackhide__ = True  # pytest shows the caller's line, not this one
    if report.ok:
        return
    lines = [report.verdict.summary, *("  " + d for d in report.verdict.details[1:])]
    for c in report.comparisons:
        if not c.ok:
            a, ref = c.backends
            lines.append(
                f"  {c.quantity} {a} vs {ref}: worst at {list(c.worst_index)}: "
                f"{a} {c.worst_values[0]!r} vs {ref} {c.worst_values[1]!r} "
                f"(|difference| {abs(c.worst_values[0] - c.worst_values[1]):.3g} > allowed "
                f"{c.allowed:.3g}); {c.n_out_of_tolerance} of {c.size} out of tolerance"
            )
    raise AssertionError("\n".join(lines))
