"""gradcli checking an engineer's own derivatives in pytest: `pytest examples/test_engineer.py`.

assert_gradients_correct fails with the tolerance, the mismatch count, the pattern and
the worst entry on its first line, which is what pytest's summary shows.
"""

import pytest
from linear import MyLinear, MyLinearWrongW, linear, linear_vjp, linear_vjp_wrong_w

from gradcli.testing import assert_gradients_correct

SHAPES = {"x": (8, 16), "W": (16, 4)}


def test_my_linear_vjp():
    assert_gradients_correct(linear, vjp=linear_vjp, shapes={**SHAPES, "b": (4,)})


def test_my_linear_function():
    assert_gradients_correct(MyLinear, shapes=SHAPES)


def test_a_wrong_vjp_fails_with_the_reason_first():
    with pytest.raises(AssertionError) as info:
        assert_gradients_correct(linear, vjp=linear_vjp_wrong_w, shapes={**SHAPES, "b": (4,)})
    first = str(info.value).splitlines()[0]
    assert first.startswith(
        "DISAGREE: vjp.W: torch and fd agree, yours differs in 192 of 192 entries, 3 of 3 trials"
    )
    assert "; pattern: wrong by a constant factor 0.125;" in first
    assert "; worst (furthest beyond its allowed error): vjp.W[" in first


def test_a_wrong_function_backward_fails():
    with pytest.raises(
        AssertionError, match=r"^DISAGREE: vjp\.W: torch and fd agree, yours differs"
    ):
        assert_gradients_correct(MyLinearWrongW, shapes=SHAPES)
