"""pytest helpers: fail with the reason, not with a bare False.

from gradcli.testing import assert_backends_agree, assert_gradients_correct

def test_my_layer():
    assert_backends_agree(gradcli.layer(W, b, x, loss="mse", target=y))

def test_my_linear():
    assert_gradients_correct(linear, vjp=linear_vjp, shapes={"x": (8, 16), "W": (16, 4)})
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gradcli.report import Report


def assert_backends_agree(report: Report) -> None:
    """Fail (AssertionError) unless every backend of `report` agrees.

    The message names what differs, with the worst element of each failed comparison
    (both values and the allowed error).

    Parameters
    ----------
    report : Report
        What gradcli.softmax, layer, graph or check returned.

    Returns
    -------
    None
        When the report is ok.

    Raises
    ------
    AssertionError
        The report is not ok; its first line is the verdict.
    gradcli.InputError
        `report` is not a gradcli Report.

    Examples
    --------
    >>> import gradcli
    >>> from gradcli.testing import assert_backends_agree
    >>> assert_backends_agree(gradcli.softmax([3, 1, -3], backends=["numpy", "fd"]))
    >>> assert_backends_agree("OK")
    Traceback (most recent call last):
    gradcli.errors.InputError: report OK: expected the Report of a gradcli call
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not this one
    from gradcli.report import Report

    if not isinstance(report, Report):
        from gradcli.errors import InputError
        from gradcli.params import shown

        raise InputError(f"report {shown(report)}: expected the Report of a gradcli call")
    if report.ok:
        return
    raise AssertionError(first_line(report))


def assert_gradients_correct(forward: Any, **check_arguments: Any) -> Report:
    """Check your derivative as ``gradcli.check(forward, **check_arguments)`` does, and
    fail the test if it is wrong.

    The failure's first line carries the reason, as numpy.testing.assert_allclose's
    does (pytest's summary shows that line), such as::

        DISAGREE: vjp.W: torch and fd agree, yours differs in 64 of 64 entries, 3 of 3
        trials; pattern: wrong by a constant factor 0.125; worst (furthest beyond its
        allowed error): vjp.W[12,1] in trial 0: yours -0.96783 vs torch -7.74264, allowed
        ±4.9e-08; max abs diff 6.77, max rel diff 0.875

    Parameters
    ----------
    forward : callable or str
        As for :func:`gradcli.check`.
    **check_arguments
        Any of gradcli.check's keyword arguments: the derivative (``vjp=``, ``grad=``,
        ...), the inputs (``shape=``, ``shapes={"x": (8, 16), "W": (16, 4)}``, ...).

    Returns
    -------
    Report
        The check's Report, when the gradients are right.

    Raises
    ------
    AssertionError
        Your derivative differs from the references.
    gradcli.InputError
        An argument gradcli.check refuses, or does not take.

    Examples
    --------
    >>> import numpy as np
    >>> from gradcli.testing import assert_gradients_correct
    >>> assert_gradients_correct(np.sin, grad=np.cos, shape=3, backends=["fd"]).ok
    True
    >>> assert_gradients_correct(np.sin, grad=np.sin, shape=3, backends=["fd"])
    Traceback (most recent call last):
    AssertionError: ...
    """
    __tracebackhide__ = True
    import inspect

    import gradcli

    accepted = inspect.signature(gradcli.check).parameters
    unknown = sorted(set(check_arguments) - set(accepted))
    if unknown:  # one InputError, as every bad argument of the API, not a TypeError
        raise gradcli.InputError(
            f"assert_gradients_correct got {', '.join(unknown)}, which gradcli.check does "
            f"not take (it takes {', '.join(k for k in accepted if k != 'forward')})"
        )
    report = gradcli.check(forward, **check_arguments)
    if report.ok:
        return report
    raise AssertionError(first_line(report))


def first_line(report: Report) -> str:
    """The reason a check failed, in one line, as numpy.testing.assert_allclose puts it:
    the verdict's first line (the same words as every view and the JSON's summary), its
    pattern, the one worst entry (Report.worst, the same entry the views name) with
    the max abs and max rel difference of its pair, and the other failures."""
    from gradcli.render import words

    return words.quiet_line(report)
