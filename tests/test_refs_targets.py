"""Targets as people write them (issue 20, item 8) and autograd's rules on what a
backward returns (item 7), through the CLI as a user types them."""

import json
import textwrap

import pytest
from click.testing import CliRunner

from gradcli.cli import cli

torch = pytest.importorskip("torch")

CODE = textwrap.dedent(
    """
    import functools

    import numpy as np
    import torch


    class MyReLU(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.clamp(min=0)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * (x > 0)


    class WrongReLU(MyReLU):
        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * g * (x > 0)


    relu = MyReLU.apply  # PyTorch's tutorial
    wrong_relu = WrongReLU.apply


    class Scale(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            ctx.k = k
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g * ctx.k, None


    triple = functools.partial(Scale.apply, k=3.0)
    triple_positional = functools.partial(Scale.apply)


    class GELU:
        def __init__(self, c=0.044715):
            self.c = c

        def fn(self, x):
            return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + self.c * x**3)))

        def grad(self, x):
            a = np.sqrt(2 / np.pi)
            t = np.tanh(a * (x + self.c * x**3))
            return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * a * (1 + 3 * self.c * x * x)

        def grad_no_cubic(self, x):  # the cubic term's derivative forgotten
            a = np.sqrt(2 / np.pi)
            t = np.tanh(a * (x + self.c * x**3))
            return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * a


    def gelu_grad_default_c(x):  # GELU()'s derivative, whatever --arg c says
        return GELU().grad(x)


    def affine_forward(x, w, b):
        out = x.reshape(x.shape[0], -1) @ w + b
        return out, (x, w, b)


    def affine_backward(dout, cache):
        x, w, b = cache
        dx = (dout @ w.T).reshape(x.shape)
        dw = x.reshape(x.shape[0], -1).T @ dout
        db = dout.sum(axis=0)
        return dx, dw, db


    def affine_backward_wrong_db(dout, cache):
        dx, dw, db = affine_backward(dout, cache)
        return dx, dw, db / dout.shape[0]  # a mean where the sum belongs


    def softmax_loss(x, y):
        shifted = x - x.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        n = x.shape[0]
        y = np.asarray(y, dtype=int)
        loss = -log_probs[np.arange(n), y].sum() / n
        dx = np.exp(log_probs)
        dx[np.arange(n), y] -= 1
        return loss, dx / n


    def softmax_loss_no_n(x, y):
        loss, dx = softmax_loss(x, y)
        return loss, dx * x.shape[0]  # forgot to divide the gradient by N


    def squared_distance(x, y):
        return ((x - np.asarray(y)) ** 2).sum()


    def squared_distance_vjp_half(x, g, y):  # forgot the 2
        return g * (x - np.asarray(y))


    def no_convention(x):
        return x * 2, "cache"


    class TwoForThree(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, w, b):
            ctx.save_for_backward(x, w)
            return x @ w + b

        @staticmethod
        def backward(ctx, g):
            x, w = ctx.saved_tensors
            return g @ w.T, x.T @ g


    class GradForScale(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, scale):
            ctx.scale = scale
            return x * scale

        @staticmethod
        def backward(ctx, g):
            return g * ctx.scale, torch.tensor(1.0)


    class ExtraNone(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, scale):
            ctx.scale = scale
            return x * scale

        @staticmethod
        def backward(ctx, g):
            return g * ctx.scale, None, None
    """
)


@pytest.fixture
def user(tmp_path, monkeypatch):
    (tmp_path / "people.py").write_text(CODE)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def check(*args):
    result = CliRunner().invoke(cli, ["check", *args, "--json"], env={"COLUMNS": "80"})
    doc = json.loads(result.stdout) if result.stdout.strip() else None
    return result.exit_code, doc, result.stderr


def worst(doc, pair):
    """The largest |a − b| / max|b| of the comparisons between `pair`."""
    found = [c for c in doc["comparisons"] if tuple(c["backends"]) == pair]
    assert found, [c["backends"] for c in doc["comparisons"]]
    return max(c["max_rel_error"] for c in found)


@pytest.mark.parametrize(("target", "ok"), [("relu", True), ("wrong_relu", False)])
def test_a_functions_alias_is_the_function(user, target, ok):
    code, doc, err = check(f"people.py:{target}", "--shape", "6")
    assert code == (0 if ok else 1), err
    assert doc["inputs"]["mode"] == "function"
    if ok:
        assert worst(doc, ("yours", "torch")) == 0.0  # g·(x > 0) is exact
    else:  # 2·g where g: relative error 1 of the larger side
        assert worst(doc, ("yours", "torch")) == pytest.approx(1.0)


def test_a_partial_of_a_function_binds_its_arguments(user):
    code, doc, err = check("people.py:triple", "--shape", "5")
    assert code == 0, err
    assert doc["inputs"]["mode"] == "function"
    assert doc["inputs"]["args"] == {"k": 3.0}
    code, doc, err = check("people.py:triple_positional", "--shape", "x=5", "--arg", "k=2")
    assert code == 0, err


@pytest.mark.parametrize(
    ("grad", "ok", "args"),
    [
        ("GELU.grad", True, []),
        ("GELU.grad_no_cubic", False, []),
        ("GELU.grad", True, ["--arg", "c=0.1"]),
    ],
)
def test_a_class_method_and_its_derivative_share_one_instance(user, grad, ok, args):
    code, doc, err = check("people.py:GELU.fn", "--grad", grad, "--shape", "7", *args)
    assert code == (0 if ok else 1), err
    if ok:
        assert worst(doc, ("yours", "fd")) < 1e-10
    else:  # the cubic term is 3c·x² of the inner slope: far above fd's noise
        assert worst(doc, ("yours", "fd")) > 1e-3


def test_a_class_method_with_c_from_arg_is_checked_at_that_c(user):
    """With --arg c=0.1 the instance is GELU(c=0.1): the derivative at the default
    c = 0.044715 passes without the argument and fails against GELU(c=0.1)."""
    base = ("people.py:GELU.fn", "--grad", "gelu_grad_default_c", "--shape", "7")
    code, _, err = check(*base)
    assert code == 0, err
    code, doc, err = check(*base, "--arg", "c=0.1")
    assert code == 1, err
    assert worst(doc, ("yours", "fd")) > 1e-3


@pytest.mark.parametrize(
    ("args", "ok"),
    [
        (["people.py:affine_forward", "--vjp", "affine_backward"], True),
        (["people.py:affine_forward"], True),  # recognised: affine_backward beside it
        (["people.py:affine_forward", "--vjp", "affine_backward_wrong_db"], False),
    ],
)
def test_a_cs231n_layer_is_checked_as_written(user, args, ok):
    shapes = ["--shape", "x=4x3", "--shape", "w=3x5", "--shape", "b=5"]
    code, doc, err = check(*args, *shapes)
    assert code == (0 if ok else 1), err
    assert "(dout, cache), cs231n's backward" in doc["inputs"]["derivative"]
    if ok:
        assert worst(doc, ("yours", "fd")) < 1e-10
    else:
        wrong = [c for c in doc["comparisons"] if not c["ok"]]
        assert [c["quantity"].rpartition(".")[2] for c in wrong] == ["b"] * len(wrong)
        # db/N against db with N = 4: off by 3/4 of the right value
        assert max(c["max_rel_error"] for c in wrong) == pytest.approx(0.75, rel=1e-6)


@pytest.mark.parametrize(("target", "ok"), [("softmax_loss", True), ("softmax_loss_no_n", False)])
def test_a_cs231n_loss_returning_loss_and_dx_is_recognised(user, target, ok):
    code, doc, err = check(f"people.py:{target}", "--shape", "x=4x3", "--arg", "y=[0, 2, 1, 2]")
    assert code == (0 if ok else 1), err
    assert "returns (loss, dx) as cs231n's losses do" in doc["inputs"]["derivative"]
    if ok:
        assert worst(doc, ("yours", "fd")) < 1e-9
    else:  # N·dx against dx, N = 4
        assert worst(doc, ("yours", "fd")) == pytest.approx(3.0, rel=1e-6)


def test_an_unrecognised_pair_names_the_convention(user):
    code, _, err = check("people.py:no_convention", "--shape", "3")
    assert code == 2
    assert "a cs231n layer returning (out, cache): its backward(dout, cache) with --vjp" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["people.py:TwoForThree", "--shape", "x=2x3", "--shape", "w=3x4", "--shape", "b=4"],
            "your backward returned an incorrect number of gradients (expected 3, got 2): "
            "autograd raises this for TwoForThreeBackward",
        ),
        (
            ["people.py:GradForScale", "--shape", "x=3", "--arg", "scale=2.0"],
            "your backward returned a gradient different than None at position 2, but the "
            "corresponding forward input was not a tensor",
        ),
    ],
)
def test_a_backward_breaking_autograds_rules_is_refused_as_autograd_would(user, args, message):
    code, _, err = check(*args)
    assert code == 2
    assert message in " ".join(err.split())
    # autograd itself raises on it: the same rule, not gradcli's own
    import importlib
    import sys

    sys.path.insert(0, str(user))
    people = importlib.import_module("people")
    fn = getattr(people, args[0].partition(":")[2])
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    inputs = (
        (x, torch.randn(3, 4, dtype=torch.float64, requires_grad=True), torch.zeros(4))
        if fn is people.TwoForThree
        else (x, 2.0)
    )
    with pytest.raises(RuntimeError):
        fn.apply(*inputs).sum().backward()


def test_extra_none_gradients_are_dropped_as_autograd_drops_them(user):
    code, doc, err = check("people.py:ExtraNone", "--shape", "x=3", "--arg", "scale=2.0")
    assert code == 0, err
    assert worst(doc, ("yours", "torch")) == 0.0


def test_json_of_a_failing_numpy_loss_with_an_arg_is_one_document(user):
    """Issue 20, item 5: the failing trial's cotangent of a scalar loss is a 0-d array,
    which orjson refused (exit 70); it is a number in the document, and the exit is 1."""
    code, doc, err = check(
        "people.py:squared_distance",
        "--vjp",
        "squared_distance_vjp_half",
        "--shape",
        "x=3",
        "--arg",
        "y=[1, 2, 3]",
    )
    assert code == 1, err
    assert doc["ok"] is False
    assert isinstance(doc["failing_trial"]["g"], float)
    assert worst(doc, ("yours", "fd")) == pytest.approx(0.5, rel=1e-9)


NUMPY_INSIDE = textwrap.dedent(
    """
    import numpy as np
    import torch


    class NumpyTanh(torch.autograd.Function):  # "extending torch with numpy"
        @staticmethod
        def forward(ctx, x):
            y = np.tanh(x.detach().numpy())
            ctx.save_for_backward(torch.from_numpy(y))
            return torch.from_numpy(y)

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * (1 - y * y)


    class NumpyTanhWrong(NumpyTanh):
        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * (1 - y)
    """
)


@pytest.mark.parametrize(("target", "ok"), [("NumpyTanh", True), ("NumpyTanhWrong", False)])
def test_a_function_with_numpy_inside_is_checked_against_fd_alone(
    tmp_path, monkeypatch, target, ok
):
    (tmp_path / "npfn.py").write_text(NUMPY_INSIDE)
    monkeypatch.chdir(tmp_path)
    code, doc, err = check(f"npfn.py:{target}", "--shape", "5")
    assert code == (0 if ok else 1), err
    assert sorted({b for c in doc["comparisons"] for b in c["backends"]}) == ["fd", "yours"]
    assert any("numpy inside" in n and "finite differences only" in n for n in doc["notes"])
    if ok:
        assert worst(doc, ("yours", "fd")) < 1e-9
    else:  # 1 − y against 1 − y²: off by y(1 − y) / (1 − y²) = y / (1 + y)
        assert worst(doc, ("yours", "fd")) > 0.1
    code, _, err = check(f"npfn.py:{target}", "--shape", "5", "--backend", "torch")
    assert code == 2
    assert "numpy inside" in err
    assert "add fd to --backend" in err
