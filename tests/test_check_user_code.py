"""User code under `check` that misbehaves cannot forge a verdict, and bad names and
targets are one line (issue 13, the hostile sweep of #15's surfaces).

The law for what user code returns: however a forward and a derivative wrap their
results (views, float32, Fortran order, tensors with a graph, tuples of one), the
verdict is "agree" exactly when the derivative is right. And for what it does: a forward
that changes its input in place is checked as the function it computes from the input
it was given; one that is random is refused; one that swallows Ctrl-C is ended by a
second one."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import gradcli
from gradcli.errors import InputError
from gradcli.testing import assert_backends_agree, assert_gradients_correct
from tests.test_hostile import one_error_line

# Ways to hand back a float64 result: each keeps the values (float32 rounds them).
WRAPPERS = {
    "array": lambda y: y,
    "strided view": lambda y: np.stack([y, 2 * y], axis=-1)[..., 0],
    "reversed view": lambda y: y[::-1].copy()[::-1],
    "fortran order": lambda y: np.asfortranarray(y),
    "float32": lambda y: y.astype(np.float32),
    "tensor with a graph": lambda y: torch.from_numpy(np.array(y)).requires_grad_(True) * 1.0,
    "float32 tensor": lambda y: torch.from_numpy(np.array(y)).float(),
}
# a list or tuple from a forward is several outputs (README); one output in a tuple of one
FORWARD_WRAPPERS = {**WRAPPERS, "tuple of one": lambda y: (y,)}
# a derivative rounded to float32 in a float64 check is 1e-7 off, and judged by float64's
# tolerance (so it may disagree); every other wrapping keeps its values
GRAD_WRAPPERS = {
    **{k: w for k, w in WRAPPERS.items() if "float32" not in k},
    "nested list": lambda y: np.asarray(y).tolist(),
}
DERIVATIVES = {  # d/dx tanh(c·x), right and wrong in the ways hand derivations go wrong
    "right": lambda x, c: c * (1 - np.tanh(c * x) ** 2),
    "forgot the chain factor": lambda x, c: 1 - np.tanh(c * x) ** 2,
    "half": lambda x, c: 0.5 * c * (1 - np.tanh(c * x) ** 2),
    "sign": lambda x, c: -c * (1 - np.tanh(c * x) ** 2),
    "zero": lambda x, c: np.zeros_like(x),
}


@given(
    st.sampled_from(sorted(FORWARD_WRAPPERS)),
    st.sampled_from(sorted(GRAD_WRAPPERS)),
    st.sampled_from(sorted(DERIVATIVES)),
    st.sampled_from([2.0, 3.0, 0.5]),
    st.integers(0, 2**16),
)
def test_the_verdict_is_agree_exactly_when_the_derivative_is_right(
    wrap_forward, wrap_grad, derivative, c, seed
):
    def forward(x):
        return FORWARD_WRAPPERS[wrap_forward](np.tanh(c * x))

    def grad(x):
        return GRAD_WRAPPERS[wrap_grad](DERIVATIVES[derivative](np.asarray(x), c))

    report = gradcli.check(forward, grad=grad, shape=(2, 3), seed=seed, trials=1, backends=["fd"])
    assert report.ok == (derivative == "right"), report.verdict.summary


# A forward that changes its input in place computes y = f(moved x) from the x it was
# given; its derivative at x is what must be checked (the derivative used to be handed
# the moved x, and a derivative of the unmoved function passed).
MUTATIONS = {  # (the mutation, the moved x, its slope d(moved x)/dx)
    "x += 1": (lambda x: x.__iadd__(1.0), lambda x: x + 1.0, lambda x: np.ones_like(x)),
    "x *= 2": (lambda x: x.__imul__(2.0), lambda x: 2.0 * x, lambda x: np.full_like(x, 2.0)),
    "x[:] = x ** 2": (lambda x: x.__setitem__(slice(None), x**2), lambda x: x**2, lambda x: 2 * x),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
@pytest.mark.parametrize("where", ["forward", "derivative"])
def test_code_that_changes_its_input_in_place_cannot_move_the_point_checked(mutation, where):
    mutate, moved, slope = MUTATIONS[mutation]

    def forward(x):
        if where == "forward":
            mutate(x)
            return np.sin(x)
        return np.sin(moved(x))

    def chain_rule(x):  # d/dx sin(moved(x)), exactly: a numerical slope is off by ~1e-10
        return np.cos(moved(x)) * slope(x)

    def right(x):
        value = chain_rule(x.copy())
        if where == "derivative":
            mutate(x)
        return value

    def unmoved(x):  # the derivative of sin alone: wrong for the function computed
        return np.cos(x)

    for derivative, ok in ((right, True), (unmoved, False)):
        report = gradcli.check(forward, grad=derivative, shape=4, trials=2, backends=["fd"])
        assert report.ok == ok, (mutation, where, report.verdict.summary)


class Dropped(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 3)
        self.drop = torch.nn.Dropout(0.5)

    def forward(self, x):
        return self.drop(self.lin(x))


class Counter:
    calls = 0

    @classmethod
    def forward(cls, x):
        cls.calls += 1
        return np.tanh(x) + 1e-3 * cls.calls


RANDOM_FORWARDS = {
    "numpy noise": lambda x: np.tanh(x) + np.random.default_rng().normal(size=x.shape),
    "small noise": lambda x: np.tanh(x) * (1 + 1e-9 * np.random.default_rng().normal()),
    "torch noise": lambda x: torch.tanh(x) + torch.randn(x.shape, dtype=x.dtype),
    "state between calls": Counter.forward,
}


@pytest.mark.parametrize("name", sorted(RANDOM_FORWARDS))
def test_a_forward_that_is_not_a_function_is_refused_not_passed(name):
    forward = RANDOM_FORWARDS[name]
    with pytest.raises(InputError, match="different values for the same input"):
        gradcli.check(forward, grad=lambda x: np.zeros_like(x), shape=3, backends=["fd"])


def test_a_module_with_dropout_in_training_mode_is_refused():
    with pytest.raises(InputError, match="different values for the same input"):
        gradcli.check(Dropped, shapes={"x": (2, 4)})


# Names: the API's mappings and no_grad, by the rules the CLI's options use.
NOT_NAMES = st.one_of(
    st.sampled_from(["", "1x", "x-y", "x y", "x.", ".x", "é-", "x=1", "2"]),
    st.integers(),
    st.none(),
    st.tuples(st.just("x")),
)


@given(st.sampled_from(["inputs", "shapes", "args"]), NOT_NAMES)
def test_a_mapping_key_that_is_not_a_name_is_one_input_error(mapping, key):
    value = {"inputs": np.ones(3), "shapes": (3,), "args": 1.0}[mapping]
    with pytest.raises(InputError, match=f"^{mapping}: the key .* is not a name"):
        gradcli.check(np.tanh, grad=np.cos, **{mapping: {key: value}})


@given(st.lists(st.sampled_from(["x", "W", "b", "1x", ""]), min_size=1, max_size=4))
def test_no_grad_takes_names_each_once(names):
    def linear(x, W, b):
        return x @ W + b

    def linear_vjp(x, W, b, g):
        return g @ W.T, x.T @ g, g.sum(axis=0)

    shapes = {"x": (2, 3), "W": (3, 2), "b": (2,)}
    bad = any(n not in ("x", "W", "b") for n in names) or len(set(names)) < len(names)
    message = ""
    try:
        gradcli.check(linear, vjp=linear_vjp, shapes=shapes, no_grad=names, backends=["fd"])
    except InputError as refusal:
        message = str(refusal)
    assert "\n" not in message
    if bad:
        assert message.startswith("no_grad"), message
    else:  # every input, or a VJP that returns all three where two are differentiated
        assert message == "" or "no input to differentiate" in message or "vjp" in message


@pytest.mark.parametrize("both", ["x", "W"])
def test_an_input_given_twice_is_refused(both):
    shapes = {"x": (2, 3), "W": (3, 2)}
    with pytest.raises(InputError, match=f"{both} given both in inputs and in shapes"):
        gradcli.check(lambda x, W: x @ W, shapes=shapes, inputs={both: np.ones(shapes[both])})


# The command line: targets without a name, conflicts, and what is named in messages.
LOWP = "examples/lowp.py"


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (LOWP, f"TARGET '{LOWP}': name what to check, as {LOWP}:NAME ({LOWP} defines "
               "matmul_float32_sum, matmul_bf16_sum, Linear, LinearBf16Sum)"),
        (f"{LOWP}:", f"TARGET '{LOWP}:': name what to check, as {LOWP}:NAME"),
        (f"{LOWP}:1x", f"TARGET '{LOWP}:1x': '1x' is not a Python name"),
        (f"{LOWP}:Nope", f"TARGET '{LOWP}:Nope': examples/lowp.py has no 'Nope'"),
        ("missing.py", "TARGET 'missing.py': no file missing.py"),
        ("numpy.tanh", "write path.py:name or module.path:name; did you mean numpy:tanh?"),
        ("", "TARGET '': write path.py:name or module.path:name"),
    ],
)  # fmt: skip
def test_a_target_without_a_name_says_so_before_asking_for_inputs(target, message, capsys):
    err = one_error_line(["check", target], capsys)  # no --shape: the target comes first
    assert message in err, err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shape", "x=4x3", "--shape", "W=3x2", "--arg", "W=3"],
         "(W) given both as an input and by --arg"),
        (["--shape", "x=4x3", "--shape", "W=3x2", "--no-grad", "x", "--no-grad", "x"],
         "--no-grad x: given twice"),
        (["--shape", "x=4x3", "--shape", "W=3x2", "--no-grad", "1x"],
         "1x is not an input name"),
        (["--shape", "x=0x3", "--shape", "W=3x2"], "--shape x=0x3: every size must be 1"),
        (["--shape", "x=4x3", "--shape", "W=3x2", "--scale", "W=-1"],
         "--scale W=-1: must be 0 or more"),
    ],
)  # fmt: skip
def test_conflicting_or_malformed_inputs_are_one_line_naming_them(args, message, capsys):
    argv = ["check", "examples/linear.py:MyLinear", *args]
    assert message in one_error_line(argv, capsys)


@pytest.mark.parametrize(
    ("against", "message"),
    [
        ("torch.softmax", "the --against function torch.softmax raised TypeError"),
        ("torch.cumsum", "the --against function torch.cumsum raised TypeError"),
        # a different function: its output is not the forward's (was a traceback, 70)
        ("torch.sum", "the --against function torch.sum returns () where the forward "
                      "returns (6,): it must compute the same function"),
        ("examples/ops.py:softmax_jacobian", "the --against function "
         "examples/ops.py:softmax_jacobian returns (6, 6) where the forward returns (6,)"),
    ],
)  # fmt: skip
def test_an_against_function_that_fails_is_named_not_the_forward(against, message, capsys):
    argv = ["check", "examples/linear.py:my_gelu", "--grad", "my_gelu_grad", "--shape", "6"]
    err = one_error_line([*argv, "--against", against], capsys)
    assert err.startswith(f"Error: {message}"), err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--input", "x="], "--input x='': give a .npy or .json file"),
        (["--input", ""], "--input '': give a .npy or .json file"),
        (["--input", "examples/logits.json", "--shape", "3"],
         "the input given both by --shape and --input"),
    ],
)  # fmt: skip
def test_an_empty_or_doubled_input_is_one_line(args, message, capsys):
    argv = ["check", "examples/ops.py:softmax", "--jacobian", "softmax_jacobian", *args]
    assert message in one_error_line(argv, capsys)


HANGS = """
import os, time
import numpy as np


def hang(x):
    open(os.environ["MARKER"], "w").close()
    while True:
        try:
            time.sleep(0.05)
        except KeyboardInterrupt:
            pass  # swallowed, again and again


def hang_grad(x):
    return np.ones_like(x)
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_forward_that_swallows_ctrl_c_is_ended_by_a_second_one(sig, tmp_path):
    (tmp_path / "hangs.py").write_text(HANGS)
    marker = tmp_path / "entered"
    command = ["check", "hangs.py:hang", "--grad", "hang_grad", "--shape", "3", "--backend", "fd"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "gradcli", *command],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "MARKER": str(marker)},
    )
    while not marker.exists() and proc.poll() is None:  # the forward is running
        time.sleep(0.05)
    proc.send_signal(sig)
    time.sleep(0.3)
    assert proc.poll() is None  # the first one was swallowed by the forward
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig
    words = "interrupted" if sig == signal.SIGINT else "terminated by signal 15"
    assert err == f"gradcli: {words}\n".encode()
    assert out == b""


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: gradcli.check(None, grad=np.cos, shape=3), "forward None: expected a function"),
        (lambda: gradcli.check(3, grad=np.cos, shape=3), "forward 3: expected a function"),
        (lambda: assert_gradients_correct(np.tanh, grad=np.cos, shape=3, bogus=1),
         "assert_gradients_correct got bogus, which gradcli.check does not take"),
        (lambda: assert_backends_agree("a report"), "report a report: expected the Report"),
        (lambda: assert_backends_agree(None), "report None: expected the Report"),
        (lambda: assert_gradients_correct(np.tanh, grad=np.cos, shape=3, backends=["fd", "fd"]),
         "backends ['fd', 'fd']: fd is named twice"),
    ],
)  # fmt: skip
def test_the_pytest_helpers_and_check_refuse_bad_arguments_with_one_input_error(call, message):
    with pytest.raises(InputError) as refusal:
        call()
    assert str(refusal.value).startswith(message), str(refusal.value)
