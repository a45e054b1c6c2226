"""The seam of issue 21: the judge is the same code whether the user's code runs in
this process (evaluator.Local) or in a worker (remote.Remote), so the two give the
same report; and a block of points evaluated as one batch (issue 23) gives what the
points give one by one, or is not used."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import gradcli
from gradcli.commands.check import evaluator
from gradcli.commands.check.subject import Subject

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _same(a: gradcli.Report, b: gradcli.Report) -> None:
    assert a.ok == b.ok
    assert a.verdict.summary == b.verdict.summary
    left, right = a.arrays(), b.arrays()
    assert sorted(left) == sorted(right)
    for key in left:
        np.testing.assert_allclose(left[key], right[key], rtol=1e-9, atol=1e-12, err_msg=key)


@pytest.mark.parametrize(
    ("target", "derivative"),
    [
        ("ops.py:softmax", {"jacobian": "ops.py:softmax_jacobian"}),
        ("ops.py:softmax", {"jacobian": "ops.py:softmax_jacobian_no_cross_terms"}),
    ],
)
def test_in_process_and_in_a_worker_judge_alike(target, derivative):
    named = {k: str(EXAMPLES / v) for k, v in derivative.items()}
    here = gradcli.check(str(EXAMPLES / target), shape=5, **named)
    there = gradcli.check(str(EXAMPLES / target), shape=5, worker=True, **named)
    _same(here, there)
    assert json.loads(here.to_json())["ok"] == json.loads(there.to_json())["ok"]


def test_worker_true_needs_names():
    with pytest.raises(gradcli.InputError, match="worker=True runs code by name"):
        gradcli.check(np.tanh, grad=lambda x: 1 - np.tanh(x) ** 2, shape=3, worker=True)


def _local(forward):
    subject = Subject("forward", forward, None, ("x",), {}, takes_numpy=True)
    return evaluator.Local(subject, None)


def _points(n: int = 12) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    return [{"x": rng.normal(size=(4, 3))} for _ in range(n)]


def test_a_batch_is_the_points_one_by_one():
    calls = []

    def forward(x):
        calls.append(x.shape)
        return np.tanh(x) @ np.arange(3.0)

    points = _points()
    got = _local(forward).forward(points)
    alone = [np.tanh(p["x"]) @ np.arange(3.0) for p in points]
    for (y,), want in zip(got, alone, strict=True):
        np.testing.assert_allclose(y, want, rtol=1e-15)
    assert calls[0] == (12, 4, 3)  # one call for the block, two to check it
    assert len(calls) == 3


@pytest.mark.parametrize(
    "forward",
    [
        lambda x: x - x.mean(axis=0),  # the batch axis would be averaged over
        lambda x: x.sum(),  # a scalar whatever the batch
        lambda x: x.T @ x,  # the batch axis moves
    ],
)
def test_a_forward_that_mixes_the_batch_is_called_point_by_point(forward):
    points = _points()
    local = _local(forward)
    got = local.forward(points)
    for (y,), p in zip(got, points, strict=True):
        np.testing.assert_array_equal(y, forward(p["x"]))
    assert local._unbatchable == {"x": True}  # and not tried again for x


def test_a_linear_function_is_batched_and_still_checked():
    class Linear(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, W, b):
            ctx.save_for_backward(x, W)
            return x @ W.T + b

        @staticmethod
        def backward(ctx, g):
            x, W = ctx.saved_tensors
            return g @ W, g.T @ x, g.sum(0) * 1.001  # b's gradient 0.1% off

    shapes = {"x": (4, 5), "W": (3, 5), "b": (3,)}
    report = gradcli.check(Linear, shapes=shapes, trials=1)
    assert not report.ok
    failing = {c.quantity for c in report.comparisons if not c.ok}
    assert failing == {"trial0.vjp.b"}, failing
