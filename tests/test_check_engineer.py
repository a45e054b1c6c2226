"""`gradcli check` on an engineer's real code: several inputs and outputs by name,
torch-only forwards, Functions with several inputs and non-tensor arguments, modules."""

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import gradcli
from gradcli.cli import cli
from gradcli.errors import InputError

torch = pytest.importorskip("torch")

EXAMPLES = Path(__file__).parent.parent / "examples"
LINEAR = str(EXAMPLES / "linear.py")
MODEL = str(EXAMPLES / "model.py")
XW = ["--shape", "x=8x16", "--shape", "W=16x4"]


def invoke(*args):
    return CliRunner().invoke(cli, ["check", *args])


def failed_quantities(report):
    return sorted({c.quantity.split(".", 1)[1] for c in report.comparisons if not c.ok})


def test_a_two_input_vjp_is_checked_input_by_input():
    from examples.linear import linear, linear_vjp, linear_vjp_wrong_w

    shapes = {"x": (8, 16), "W": (16, 4), "b": (4,)}
    right = gradcli.check(linear, vjp=linear_vjp, shapes=shapes)
    assert right.ok
    assert right.inputs["input_names"] == ["x", "W", "b"]
    assert "trial0.vjp.W" in right.results["yours"].arrays
    wrong = gradcli.check(linear, vjp=linear_vjp_wrong_w, shapes=shapes)
    assert not wrong.ok
    assert failed_quantities(wrong) == ["vjp.W"]  # x and b are right, and say so
    details = " ".join(wrong.verdict.details)
    assert (
        "vjp.W: torch and fd agree, yours differs in 192 of 192 entries, 3 of 3 trials" in details
    )  # 3 × 16×4
    assert "wrong by a constant factor 0.125" in details  # 1/8, the batch


def test_the_gradient_of_each_input_equals_the_known_formula():
    from examples.linear import linear, linear_vjp

    x = np.array([[1.0, -2.0], [0.0, 3.0]])
    w = np.array([[0.5, -1.0, 0.0], [2.0, 0.0, -0.5]])
    b = np.array([0.0, -1.0, 1.0])
    report = gradcli.check(linear, vjp=linear_vjp, inputs={"x": x, "W": w, "b": b}, seed=7)
    assert report.ok
    # the cotangent every side received: check's draw for trial 0
    g = np.random.default_rng([7, 0x636865636B, 0]).standard_normal((2, 3))
    expected = {"x": g @ w.T, "W": x.T @ g, "b": g.sum(axis=0)}
    for backend in ("yours", "torch", "fd"):
        for name, value in expected.items():
            got = report.results[backend].arrays[f"trial0.vjp.{name}"]
            np.testing.assert_allclose(got, value, rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize(
    ("target", "status", "failing"),
    [("MyLinear", 0, []), ("MyLinearWrongW", 1, ["vjp.W"])],
)
def test_a_two_input_function(target, status, failing):
    result = invoke(f"{LINEAR}:{target}", *XW, "--json")
    assert result.exit_code == status, result.output
    document = json.loads(result.stdout)
    assert document["inputs"]["input_names"] == ["x", "W"]
    assert document["inputs"]["mode"] == "function"
    bad = sorted({c["quantity"] for c in document["comparisons"] if not c["ok"]})
    assert bad == failing
    assert set(document["inputs"]["x"][0]) == {"x", "W"}


def test_a_function_with_a_non_tensor_argument():
    result = invoke(f"{LINEAR}:ScaledTanh", "--shape", "5", "--arg", "a=2.0", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["inputs"]["args"] == {"a": 2.0}
    missing = invoke(f"{LINEAR}:ScaledTanh", "--shape", "5")
    assert missing.exit_code == 2
    assert "takes (x, a), but the inputs and --arg name (x): give (a)" in missing.stderr


def test_a_torch_only_forward_and_derivative():
    result = invoke(f"{LINEAR}:torch_gelu", "--grad", "torch_gelu_grad", "--shape", "6")
    assert result.exit_code == 0, result.output
    wrong = gradcli.check(lambda x: torch.tanh(x), grad=lambda x: 1 - torch.tanh(x), shape=(5,))
    assert not wrong.ok


def test_a_forward_that_takes_neither_says_what_was_tried():
    def forward(x):
        raise TypeError(f"cannot take {type(x).__name__}")

    with pytest.raises(InputError) as info:
        gradcli.check(forward, grad=np.cos, shape=(3,))
    message = str(info.value)
    assert "on numpy arrays (float64) it raised TypeError: cannot take ndarray" in message
    assert "on torch tensors (float64) it raised TypeError: cannot take Tensor" in message


def test_several_outputs_take_one_cotangent_each():
    result = invoke(f"{LINEAR}:split", "--vjp", "split_vjp", "--shape", "5")
    assert result.exit_code == 0, result.output

    def wrong_vjp(x, g_sin, g_cos):
        return g_sin * np.cos(x)  # forgot the second output

    from examples.linear import split

    assert not gradcli.check(split, vjp=wrong_vjp, shape=(5,)).ok


def test_a_module_checks_every_parameter_by_name():
    right = invoke(f"{MODEL}:Net", "--shape", "x=8x16", "--json")
    assert right.exit_code == 0, right.output
    document = json.loads(right.stdout)
    assert document["inputs"]["input_names"] == ["x", "gamma", "beta", "fc1.weight", "fc1.bias"]
    wrong = invoke(f"{MODEL}:NetDropsATerm", "--shape", "x=8x16", "--json")
    assert wrong.exit_code == 1
    bad = {c["quantity"] for c in json.loads(wrong.stdout)["comparisons"] if not c["ok"]}
    assert bad == {"vjp.gamma"}


def test_a_module_takes_init_arguments_by_arg():
    result = invoke(f"{MODEL}:Net", "--shape", "x=4x6", "--arg", "features=6", "--arg", "hidden=3")
    assert result.exit_code == 0, result.output


@pytest.fixture
def user(tmp_path):
    (tmp_path / "user.py").write_text(
        textwrap.dedent("""
        import numpy as np
        import torch
        def f(x, W):
            return x @ W
        def vjp_wrong_shape(x, W, g):
            return g @ W.T, np.zeros((3, 3))
        def vjp_one(x, W, g):
            return g @ W.T
        class Broken(torch.nn.Module):
            def __init__(self):
                super().__init__()
                raise RuntimeError("cannot build")
        class NoneForW(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x, W):
                return x @ W
            @staticmethod
            def backward(ctx, g):
                return g[:, :3], None
        """)
    )
    return tmp_path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["{d}/user.py:f", "--vjp", "vjp_wrong_shape", "--shape", "x=2x3", "--shape", "W=3x4"],
            "your vjp (the gradient of W) returned shape (3, 3), expected (3, 4)",
        ),
        (
            ["{d}/user.py:f", "--vjp", "vjp_one", "--shape", "x=2x3", "--shape", "W=3x4"],
            "your vjp returned one ndarray, expected a tuple of 2",
        ),
        (
            ["{d}/user.py:f", "--vjp", "vjp_one", "--shape", "x=2x3", "--shape", "V=3x4"],
            "the forward takes (x, W), but the inputs and --arg name (x, V): (V) matches no",
        ),
        (
            ["{d}/user.py:Broken", "--shape", "x=3"],
            "building the module Broken raised RuntimeError",
        ),
        (
            ["{d}/user.py:NoneForW", "--shape", "x=2x3", "--shape", "W=3x4"],
            "your backward (the gradient of W, argument 1) returned None (expected an array of "
            "shape (3, 4))",
        ),
        (["{d}/user.py:f", "--vjp", "vjp_one", "--shape", "2x3", "--shape", "W=3x4"], "name each"),
        (["{d}/user.py:f", "--vjp", "vjp_one", "--shape", "x=2", "--shape", "x=3"], "given twice"),
        (["{d}/user.py:f", "--vjp", "vjp_one", "--shape", "x=2", "--scale", "W=-1"], "--scale"),
        (["{d}/user.py:f", "--vjp", "vjp_one", "--shape", "x=2", "--dist", "cauchy"], "--dist"),
    ],
)
def test_bad_targets_are_one_line(user, args, message):
    result = invoke(*[a.format(d=user) for a in args])
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_inputs_from_files_by_name_and_scales_per_input(tmp_path):
    w = np.arange(12.0).reshape(3, 4) / 10
    np.save(tmp_path / "w.npy", w)
    result = invoke(
        f"{LINEAR}:linear",
        "--vjp",
        "linear_vjp",
        "--input",
        f"W={tmp_path}/w.npy",
        "--shape",
        "x=2x3",
        "--shape",
        "b=4",
        "--scale",
        "x=1000",
        "--scale",
        "0.001",
        "--json",
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    trials = document["inputs"]["x"]
    assert len(trials) == 3
    np.testing.assert_array_equal(trials[1]["W"], w)
    assert max(abs(v) for row in trials[0]["x"] for v in row) > 10
    assert max(abs(v) for v in trials[0]["b"]) < 0.01


def test_one_input_keeps_its_json_and_keys():
    report = gradcli.check(np.tanh, grad=lambda x: 1 - np.tanh(x) ** 2, shape=(4,))
    assert list(report.results["yours"].arrays) == ["trial0.grad", "trial1.grad", "trial2.grad"]
    assert report.inputs["input_names"] == ["x"]
    assert isinstance(report.inputs["x"][0], np.ndarray)


def test_the_full_check_estimates_its_memory_first(monkeypatch):
    from gradcli import limits

    monkeypatch.setattr(limits, "available_memory", lambda: 10 * 2**20)
    with pytest.raises(InputError, match=r"the full check would need about .* leave out --full"):
        gradcli.check(
            lambda x: np.outer(x, x).ravel(),
            jacobian=lambda x: x,
            shape=(300,),
            full=True,
            backends=["fd"],
        )


LOWP = str(EXAMPLES / "lowp.py")


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_a_bf16_sum_is_caught_and_a_float32_sum_passes(dtype):
    import sys

    sys.path.insert(0, str(EXAMPLES))
    from lowp import Linear, LinearBf16Sum

    shapes = {"x": (4096, 8), "W": (8, 4)}
    right = gradcli.check(Linear, shapes=shapes, dtype=dtype, trials=2)
    assert right.ok, right.verdict.summary
    worst = max(c.max_abs_error / c.allowed for c in right.comparisons)
    assert worst < 0.5  # measured ≤ 0.23: a margin of 2× at least
    wrong = gradcli.check(LinearBf16Sum, shapes=shapes, dtype=dtype, trials=2)
    assert not wrong.ok
    assert failed_quantities(wrong) == ["vᵀJu.W"]  # dx sums 4 terms: right in any dtype
    note = next(n for n in wrong.notes if n.startswith(dtype))
    eps = {"bfloat16": 2.0**-7, "float16": 2.0**-10}[dtype]
    assert f"rtol = 2ε = {2 * eps:.3g}" in note
    assert "the references in float64 on the same rounded values" in note
    assert wrong.results["torch"].precision == "float64"


def test_low_precision_on_the_command_line():
    result = invoke(
        f"{LOWP}:LinearBf16Sum",
        "--shape",
        "x=4096x8",
        "--shape",
        "W=8x4",
        "--dtype",
        "bfloat16",
        "--trials",
        "1",
    )
    assert result.exit_code == 1, result.output
    assert "bfloat16: your code ran in bfloat16" in result.stdout


def test_a_numpy_forward_runs_in_float16_and_is_refused_bfloat16_with_both_tries():
    assert gradcli.check(
        np.tanh, grad=lambda x: 1 - np.tanh(x) ** 2, shape=(5,), dtype="float16"
    ).ok
    with pytest.raises(InputError, match="on torch tensors"):
        gradcli.check(
            lambda x: np.tanh(np.asarray(x)), grad=lambda x: x, shape=(5,), dtype="bfloat16"
        )


SECOND = str(EXAMPLES / "second.py")


def test_order_2_differentiates_the_functions_backward():
    import sys

    sys.path.insert(0, str(EXAMPLES))
    from second import Cube, CubeDetachedBackward

    right = gradcli.check(Cube, shape=(5,), order=2)
    assert right.ok, right.verdict.summary
    assert right.inputs["input_names"] == ["x", "grad_out"]
    # the second derivative of x³ along g: ∂(3x²g)/∂x = 6x·g, against the drawn values
    x, g = right.inputs["x"][0]["x"], right.inputs["x"][0]["grad_out"]
    first = 3 * x**2 * g  # G(x, g); its VJP with cotangent c is (6x·g·c, 3x²·c)
    c = np.random.default_rng([0, 0x636865636B, 0]).standard_normal(5)
    np.testing.assert_allclose(right.results["yours"].arrays["trial0.vjp.x"], 6 * x * g * c)
    np.testing.assert_allclose(right.results["torch"].arrays["trial0.vjp.grad_out"], 3 * x**2 * c)
    assert first.shape == (5,)
    assert gradcli.check(CubeDetachedBackward, shape=(5,)).ok  # right to first order
    wrong = gradcli.check(CubeDetachedBackward, shape=(5,), order=2)
    assert not wrong.ok
    assert failed_quantities(wrong) == ["vjp.x"]
    assert any("yours is zero" in d for d in wrong.verdict.details)


def test_hvp_is_checked_against_autograd_and_fd_of_the_gradient():
    import sys

    sys.path.insert(0, str(EXAMPLES))
    from second import quartic, quartic_hvp, quartic_hvp_wrong

    right = gradcli.check(quartic, hvp=quartic_hvp, shape=(3, 4))
    assert right.ok
    assert list(right.results) == ["yours", "torch", "fd"]
    wrong = gradcli.check(quartic, hvp=quartic_hvp_wrong, shape=(3, 4))
    assert not wrong.ok
    assert any("constant factor 0.333333" in d for d in wrong.verdict.details)
    result = invoke(f"{SECOND}:quartic", "--hvp", "quartic_hvp", "--shape", "5")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{s}:quartic", "--vjp", "quartic_hvp", "--order", "2"], "--order 2 is for a torch"),
        (["{s}:quartic", "--hvp", "quartic_hvp", "--order", "2"], "already second order"),
        (["{s}:quartic", "--hvp", "quartic_hvp", "--grad", "quartic_hvp"], "give one of"),
        (["{l}:split", "--hvp", "split_vjp"], "--hvp needs a forward that takes torch"),
    ],
)
def test_second_order_refusals(args, message):
    result = invoke(*[a.format(s=SECOND, l=LINEAR) for a in args], "--shape", "5")
    assert result.exit_code == 2, result.output
    assert message in result.stderr


def test_against_a_library_function():
    import sys

    sys.path.insert(0, str(EXAMPLES))
    from linear import my_gelu, my_gelu_grad, my_gelu_tanh

    right = gradcli.check(
        my_gelu, grad=my_gelu_grad, shape=(6,), against="torch.nn.functional.gelu"
    )
    assert right.ok, right.verdict.summary
    assert list(right.results) == ["yours", "torch", "against", "fd"]
    assert "trial0.forward" in right.results["against"].arrays
    assert "torch.nn.functional.gelu" in right.results["against"].method
    wrong = gradcli.check(
        my_gelu_tanh, grad=my_gelu_grad, shape=(6,), against=torch.nn.functional.gelu
    )
    assert not wrong.ok
    bad = {c.quantity for c in wrong.comparisons if not c.ok and c.backends == ("yours", "against")}
    assert bad == {"trial0.forward", "trial1.forward", "trial2.forward"}
    result = invoke(
        f"{LINEAR}:my_gelu", "--grad", "my_gelu_grad", "--shape", "6", "--against", "torch.nn.nope"
    )
    assert result.exit_code == 2
    assert "torch.nn has no 'nope'" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        [
            f"{LINEAR}:linear",
            "--vjp",
            "linear_vjp",
            "--shape",
            "x=2x3",
            "--shape",
            "W=3x4",
            "--shape",
            "b=4",
        ],
        [f"{MODEL}:Net", "--shape", "x=2x16"],
        [f"{LINEAR}:ScaledTanh", "--shape", "5", "--arg", "a=2.0"],
        [
            f"{LINEAR}:my_gelu",
            "--grad",
            "my_gelu_grad",
            "--shape",
            "6",
            "--against",
            "torch.nn.functional.gelu",
        ],
        [f"{LOWP}:Linear", "--shape", "x=64x8", "--shape", "W=8x4", "--dtype", "bfloat16"],
        [f"{SECOND}:quartic", "--hvp", "quartic_hvp", "--shape", "5", "--taylor"],
    ],
    ids=["several inputs", "module", "args", "against", "bfloat16", "hvp taylor"],
)
def test_check_documents_follow_the_schema(args):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(
        (Path(gradcli.__file__).parent / "schemas" / "check.schema.json").read_text()
    )
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.output
    jsonschema.validate(json.loads(result.stdout), schema)


def test_an_input_that_is_not_differentiated():
    result = invoke(
        f"{LINEAR}:MaskedScale",
        "--shape",
        "x=5",
        "--shape",
        "mask=5",
        "--shape",
        "w=5",
        "--no-grad",
        "mask",
        "--json",
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["inputs"]["input_names"] == ["x", "w"]
    assert document["inputs"]["no_grad"] == ["mask"]
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(
        (Path(gradcli.__file__).parent / "schemas" / "check.schema.json").read_text()
    )
    jsonschema.validate(document, schema)
    # without --no-grad the backend asks for the mask's gradient, and the Function says no
    asked = invoke(f"{LINEAR}:MaskedScale", "--shape", "x=5", "--shape", "mask=5", "--shape", "w=5")
    assert asked.exit_code == 2
    assert "mask must not need a gradient" in asked.stderr

    def forward(x, mask):
        return x * mask

    def vjp(x, mask, g):  # the derivative takes every input, returns the differentiated ones
        return g * mask

    mask = np.array([1.0, 0.0, 1.0])
    report = gradcli.check(
        forward, vjp=vjp, inputs={"mask": mask}, shapes={"x": (3,)}, no_grad="mask"
    )
    assert report.ok
    np.testing.assert_array_equal(report.results["yours"].arrays["trial0.vjp"][1], 0.0)
