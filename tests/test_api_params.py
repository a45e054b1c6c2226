"""The Python API checks every argument at its boundary by the rules the CLI uses
(gradcli.params): a bad argument is gradcli.InputError, never a TypeError, ValueError,
MemoryError, SystemExit or a silent acceptance; and the same options give the same
Report through the CLI and the API."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

import gradcli
from gradcli.cli import cli

EXAMPLES = Path(__file__).parent.parent / "examples"
FAST = {"backends": ["numpy", "fd"]}


def ops():
    import importlib.util

    spec = importlib.util.spec_from_file_location("gradcli_examples_ops", EXAMPLES / "ops.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The list, and the rest of each class: (call, what the message must name)
BAD_CALLS = [
    (lambda: gradcli.softmax([10**400, 1]), "overflows float64"),
    (lambda: gradcli.softmax([1, 2], temperature="abc"), "temperature: 'abc' is not a finite"),
    (lambda: gradcli.softmax([1, 2], temperature=None), "temperature None"),
    (lambda: gradcli.softmax([1, 2], temperature=100000001), "temperature 100000001: must lie"),
    (lambda: gradcli.softmax([1, 2], temperature=True), "temperature True"),
    (lambda: gradcli.softmax([1, 2], rtol="x"), "rtol: 'x' is not a finite"),
    (lambda: gradcli.softmax([1, 2], rtol=math.nan), "rtol nan"),
    (lambda: gradcli.softmax([1, 2], rtol=-1), "rtol -1: must be 0 or more"),
    (lambda: gradcli.softmax([1, 2], atol=math.inf), "atol inf"),
    (lambda: gradcli.softmax([1, 2], backends=[["numpy"]]), "unknown backend"),
    (lambda: gradcli.softmax([1, 2], backends=[]), "choose at least one"),
    (lambda: gradcli.softmax([1, 2], backends=None), "expected backend names"),
    (lambda: gradcli.softmax([1, 2], dtype="float16"), "dtype float16"),
    (lambda: gradcli.softmax([1, 2], dtype=np.float32), "dtype"),
    (lambda: gradcli.softmax([1 + 2j, 1]), "complex"),
    (lambda: gradcli.softmax(np.array([1, 2], dtype=complex)), "complex"),
    (lambda: gradcli.softmax("1 2"), "expected an array"),
    (lambda: gradcli.softmax(["1", "2"]), "expected numbers"),
    (lambda: gradcli.softmax([[1], [2, 3]]), "not an array"),
    (lambda: gradcli.softmax([True, False]), "expected numbers"),
    (lambda: gradcli.softmax(None), "expected an array"),
    (lambda: gradcli.softmax({"a": 1}), "expected an array"),
    (lambda: gradcli.softmax([[[[[[[[[1]]]]]]]]] * 2), "non-empty vector"),
    (lambda: gradcli.layer(np.eye(2), [0, 0], [1, 0], fd_mode="bogus"), "fd_mode bogus"),
    (lambda: gradcli.layer(np.eye(2), [0, 0], [1, 0], loss="hinge"), "loss hinge"),
    (lambda: gradcli.layer(np.eye(2), [0, 0], [1, 0], target=1, targets=[1]), "exclude"),
    (lambda: gradcli.layer(np.eye(2), [0, 0], [1, 0], target=10**5000), "target"),
    (lambda: gradcli.layer(np.eye(2), [0, 0], [1, 0], explain=""), "explain"),
    (lambda: gradcli.layer(np.eye(2), [0, 0], [1, 0], explain="W[" + "9" * 5000 + ",0]"), "index"),
    (lambda: gradcli.layer(np.eye(2), [0, 0], [1, 0], index="²", loss="output"), "index ²"),
    (lambda: gradcli.layer(np.eye(2), [0, 0], [1, 0], targets="0,²"), "targets 0,²"),
    (lambda: gradcli.layer(seed=-1), "seed -1"),
    (lambda: gradcli.layer(in_features=10**6), "in_features"),
    (lambda: gradcli.layer([[1e200]], [0], [1], dtype="float32"), "overflows float32"),
    (lambda: gradcli.graph(None, {"a": [1.0]}), "program"),
    (lambda: gradcli.graph("y = a * 2", [("a", [1.0])]), "inputs"),
    (lambda: gradcli.graph("y = a * 2", {1: [1.0]}), "string"),
    (lambda: gradcli.graph("y = a * 2", {"a": [1e39]}, dtype="float32"), "overflows float32"),
    (lambda: gradcli.graph("y = a * 2", {"a": [[[1]]] * 1}, rand={"a": "2"}), "given twice"),
    (lambda: gradcli.graph("y = a * 2", rand={"a": "²"}), "sizes joined by x"),
    (lambda: gradcli.graph("y = a * 2", rand={"a": "2:gauss"}), "distribution"),
    (lambda: gradcli.graph("y = a * 2", {"a": np.zeros((1,) * 33)}), "33 dimensions"),
    (lambda: gradcli.check(np.sin, grad=np.cos, shape=-1), "shape -1"),
    (lambda: gradcli.check(np.sin, grad=np.cos, shape=(100000, 100000)), "elements"),
    (lambda: gradcli.check(np.sin, grad=np.cos, shape=3, trials="3.0"), "trials 3.0"),
    (lambda: gradcli.check(np.sin, grad=np.cos, shape=3, trials=3.0), "trials 3.0"),
    (lambda: gradcli.check(np.sin, grad=np.cos, shape=3, trials=0), "trials 0"),
    (lambda: gradcli.check(np.sin, grad=np.cos, shape=3, seed=-1), "seed -1"),
    (lambda: gradcli.check(np.sin, grad=np.cos, shape=3, backends=["numpy"]), "torch or fd"),
    (lambda: gradcli.check(np.sin, grad=np.cos, x=[1 + 1j]), "complex"),
]


@pytest.mark.parametrize(("call", "named"), BAD_CALLS, ids=[m for _, m in BAD_CALLS])
def test_every_bad_argument_is_an_input_error_naming_it(call, named):
    with pytest.raises(gradcli.InputError) as info:
        call()
    assert named in str(info.value)
    assert len(str(info.value)) < 300


def test_numbers_may_be_given_as_the_strings_the_command_line_passes():
    as_text = gradcli.check(np.sin, grad=np.cos, shape="2x3", trials="2", seed="4", **FAST)
    as_numbers = gradcli.check(np.sin, grad=np.cos, shape=(2, 3), trials=2, seed=4, **FAST)
    assert as_text.ok
    assert as_text.to_json() == as_numbers.to_json()


def test_a_tensor_that_requires_grad_is_named():
    torch = pytest.importorskip("torch")
    with pytest.raises(gradcli.InputError, match="requires grad"):
        gradcli.softmax(torch.tensor([1.0, 2.0], requires_grad=True))
    report = gradcli.softmax(torch.tensor([1.0, 2.0]), **FAST)  # a plain tensor is an array
    assert report.ok


ANYTHING = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.just(10**5000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.complex_numbers(max_magnitude=10),
    st.text(max_size=8),
    st.lists(st.integers(-3, 3), max_size=3),
    st.lists(st.text(max_size=3), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    st.sampled_from(["numpy", "float32", "auto", "2x2", "0,1", "W[0,0]", "1e-9", "²"]),
)

PARAMETERS = {
    "softmax": (lambda v: gradcli.softmax([1.0, 2.0], **{**FAST, **v})),
    "layer": (lambda v: gradcli.layer(np.eye(2), [0.0, 0.0], [1.0, 0.0], **{**FAST, **v})),
}
NAMES = {
    "softmax": ["temperature", "dtype", "rtol", "atol", "backends"],
    "layer": ["loss", "target", "targets", "index", "explain", "fd_mode", "dtype", "rtol"],
}


@given(st.data())
def test_any_object_for_any_parameter_is_a_report_or_an_input_error(data):
    function = data.draw(st.sampled_from(sorted(PARAMETERS)))
    name = data.draw(st.sampled_from(NAMES[function]))
    value = data.draw(ANYTHING)
    if name == "backends" and value is not None and not isinstance(value, (str, list)):
        value = [value]
    try:
        report = PARAMETERS[function]({name: value})
    except gradcli.InputError as exc:
        message = str(exc)
        assert name.rstrip("s") in message or "backend" in message, message  # names it
    else:
        assert isinstance(report, gradcli.Report)


@given(st.lists(ANYTHING, min_size=1, max_size=4))
def test_any_values_as_logits_are_a_report_or_an_input_error(values):
    try:
        report = gradcli.softmax(values, **FAST)
    except gradcli.InputError:
        return
    assert report.results["numpy"].arrays["softmax"].shape == (len(values),)


# The same options through the CLI and the API: the same document.
SAME = [
    (
        ["softmax", "3", "1", "-3", "--temperature", "2"],
        lambda: gradcli.softmax([3, 1, -3], temperature=2),
    ),
    (
        ["softmax", "1000", "1001", "--dtype", "float32", "--backend", "numpy,fd"],
        lambda: gradcli.softmax([1000, 1001], dtype="float32", backends="numpy,fd"),
    ),
    (["layer", "--seed", "42"], lambda: gradcli.layer(seed=42)),
    (
        ["layer", "--seed", "7", "--batch", "3", "--in-features", "4", "--loss", "mse"],
        lambda: gradcli.layer(seed=7, batch=3, in_features=4, loss="mse"),
    ),
    (
        ["layer", "--seed", "1", "--loss", "output", "--index", "2", "--explain", "W[2,0]"],
        lambda: gradcli.layer(seed=1, loss="output", index=2, explain="W[2,0]"),
    ),
    (
        [
            "graph",
            "c = a / a.sum(0, keepdim=True); y = w @ c",
            "--rand",
            "w=4x10",
            "--rand",
            "a=10x10",
        ],
        lambda: gradcli.graph(
            "c = a / a.sum(0, keepdim=True); y = w @ c", rand={"w": "4x10", "a": "10x10"}
        ),
    ),
    (
        [
            "graph",
            "y = (a * b).sum()",
            "--rand",
            "a=3:normal",
            "--var",
            "b=[1, 2, 3]",
            "--seed",
            "5",
        ],
        lambda: gradcli.graph(
            "y = (a * b).sum()", {"b": [1, 2, 3]}, rand={"a": "3:normal"}, seed=5
        ),
    ),
]


@pytest.mark.parametrize(("argv", "call"), SAME, ids=[" ".join(a[:3]) for a, _ in SAME])
def test_the_cli_json_is_the_api_report(argv, call):
    result = CliRunner().invoke(cli, [*argv, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == json.loads(call().to_json())


def test_check_through_the_cli_and_the_api_is_one_path(tmp_path):
    module = ops()
    target = str(EXAMPLES / "ops.py")
    argv = ["check", f"{target}:softmax", "--jacobian", "softmax_jacobian", "--shape", "4"]
    result = CliRunner().invoke(cli, [*argv, "--seed", "3", "--json"])
    report = gradcli.check(module.softmax, jacobian=module.softmax_jacobian, shape=4, seed=3)
    cli_doc, api_doc = json.loads(result.stdout), json.loads(report.to_json())
    assert result.exit_code == (0 if report.ok else 1)
    assert cli_doc["ok"] == api_doc["ok"]
    assert cli_doc["comparisons"] == api_doc["comparisons"]
    refused = CliRunner().invoke(cli, [*argv, "--backend", "numpy"])
    assert refused.exit_code == 2
    with pytest.raises(gradcli.InputError) as info:
        gradcli.check(module.softmax, jacobian=module.softmax_jacobian, shape=4, backends=["numpy"])
    assert str(info.value) in refused.stderr


# Every option the CLI offers, through both: the same document (the CLI calls the API).
LINEAR = str(EXAMPLES / "linear.py")
OPS = str(EXAMPLES / "ops.py")


def linear():
    import importlib.util

    spec = importlib.util.spec_from_file_location("gradcli_examples_linear", LINEAR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SAME_OPTIONS = [
    (
        ["softmax", "3", "1", "-3", "--explain", "J[0,1]", "--rtol", "1e-5"],
        lambda: gradcli.softmax([3, 1, -3], explain="J[0,1]", rtol=1e-5),
    ),
    (
        ["layer", "--seed", "3", "--batch", "2", "--targets", "1,0", "--fd-mode", "directional"],
        lambda: gradcli.layer(seed=3, batch=2, targets=[1, 0], fd_mode="directional"),
    ),
    (
        ["graph", "y = (a * b).sum()", "--rand", "a=2x3", "--rand", "b=2x3", "--explain", "a"],
        lambda: gradcli.graph("y = (a * b).sum()", rand={"a": "2x3", "b": "2x3"}, explain="a"),
    ),
    (
        [
            "check", f"{LINEAR}:linear", "--vjp", "linear_vjp", "--shape", "x=3x4",
            "--shape", "W=4x2", "--shape", "b=2", "--scale", "2", "--scale", "W=0.1",
            "--dist", "b=uniform", "--trials", "4", "--trial", "2", "--seed", "5",
            "--taylor",
        ],
        lambda: gradcli.check(
            linear().linear, vjp=linear().linear_vjp, shapes={"x": "3x4", "W": (4, 2), "b": 2},
            scale={"": 2, "W": 0.1}, dist={"b": "uniform"}, trials=4, trial=2, seed=5,
            taylor=True,
        ),
    ),
    (
        ["check", f"{OPS}:softmax", "--jacobian", "softmax_jacobian", "--shape", "4",
         "--dist", "uniform", "--backend", "fd", "--dtype", "float32", "--explain", "J[0,1]"],
        lambda: gradcli.check(
            f"{OPS}:softmax", jacobian="softmax_jacobian", shape=4, dist="uniform",
            backends="fd", dtype="float32", explain="J[0,1]",
        ),
    ),
]  # fmt: skip


def comparable(doc):
    """The document but the target's name (path.py:name on the command line, the
    function's own name through the API): everything computed and judged."""
    return {**doc, "inputs": {k: v for k, v in doc["inputs"].items() if k != "target"}}


@pytest.mark.parametrize(
    ("argv", "call"),
    SAME_OPTIONS,
    ids=[" ".join(a[:2]) + f" {i}" for i, (a, _) in enumerate(SAME_OPTIONS)],
)
def test_every_option_gives_the_same_document_through_the_cli_and_the_api(argv, call):
    result = CliRunner().invoke(cli, [*argv, "--json"])
    report = call()
    assert result.exit_code == (0 if report.ok else 1), result.output
    assert comparable(json.loads(result.stdout)) == comparable(json.loads(report.to_json()))


def test_a_layer_spec_through_stdin_a_file_and_the_api(tmp_path):
    first = json.loads(gradcli.layer(seed=4, loss="mse").to_json())
    (tmp_path / "spec.json").write_text(json.dumps(first))
    through_stdin = CliRunner().invoke(
        cli, ["layer", "--spec", "-", "--json"], input=json.dumps(first)
    )
    through_file = CliRunner().invoke(
        cli, ["layer", "--spec", str(tmp_path / "spec.json"), "--loss", "sum", "--json"]
    )
    assert json.loads(through_stdin.stdout) == json.loads(gradcli.layer(spec=first).to_json())
    by_path = gradcli.layer(spec=str(tmp_path / "spec.json"), loss="sum")
    assert json.loads(through_file.stdout) == json.loads(by_path.to_json())
    assert json.loads(through_file.stdout)["inputs"]["loss"]["kind"] == "sum"  # overridden


def test_graph_dot_through_both(tmp_path):
    program = "c = a * 2; y = c.sum()"
    result = CliRunner().invoke(
        cli, ["graph", program, "--var", "a=[1, 2]", "--dot", str(tmp_path / "cli.dot"), "--quiet"]
    )
    assert result.exit_code == 0, result.output
    gradcli.graph(program, {"a": [1, 2]}, dot=str(tmp_path / "api.dot"))
    text = (tmp_path / "cli.dot").read_text()
    assert text.startswith("digraph")
    assert " c " in text.replace('"', " ")
    assert text == (tmp_path / "api.dot").read_text()


# The new parameters' refusals: the same rule, the CLI's words, one line and 2 on the CLI.
REFUSED = [
    (
        lambda: gradcli.check(np.sin, grad=np.cos, shapes={"x": 3}, scale={"x": -1}),
        "scale['x'] -1: must be 0 or more",
        ["--shape", "x=3", "--scale", "x=-1"],
        "--scale x=-1: must be 0 or more",
    ),
    (
        lambda: gradcli.check(np.sin, grad=np.cos, shape=3, dist="cauchy"),
        "dist cauchy: one of normal, uniform",
        ["--shape", "3", "--dist", "cauchy"],
        "--dist cauchy: one of normal, uniform",
    ),
    (
        lambda: gradcli.check(np.sin, grad=np.cos, shape=3, trials=2, trial=2),
        "trial 2: there are 2 trials, 0 to 1",
        ["--shape", "3", "--trials", "2", "--trial", "2"],
        "--trial 2: there are 2 trials, 0 to 1",
    ),
    (
        lambda: gradcli.check(np.sin, grad=np.cos, x=[1.0, 2.0], scale=2),
        "scale and dist are for inputs drawn with shape or shapes",
        ["--input", str(EXAMPLES / "logits.json"), "--scale", "2"],
        "--scale and --dist are for inputs drawn with --shape",
    ),
    (
        lambda: gradcli.check(np.sin, grad=np.cos, vjp=np.cos, shape=3),
        "give one of jacobian, vjp, grad and hvp",
        ["--shape", "3", "--vjp", "cos"],
        "give one of --jacobian, --vjp, --grad and --hvp",
    ),
    (
        lambda: gradcli.check(np.sin, grad=np.cos, shape=""),
        "shape '': sizes joined by x",
        ["--shape", ""],
        "--shape '': sizes joined by x",
    ),
    (
        lambda: gradcli.check(np.sin, grad=np.cos, x=[1.0], shapes={"W": 2}),
        "with several inputs, name each one",
        ["--input", str(EXAMPLES / "logits.json"), "--shape", "W=2"],
        "with several inputs, name each one",
    ),
]


@pytest.mark.parametrize(
    ("call", "said", "argv", "cli_said"), REFUSED, ids=[r[1][:30] for r in REFUSED]
)
def test_a_new_parameter_refused_through_the_api_and_the_cli(call, said, argv, cli_said, tmp_path):
    with pytest.raises(gradcli.InputError) as info:
        call()
    assert said in str(info.value)
    target = tmp_path / "f.py"
    target.write_text("import numpy as np\nsin = np.sin\ncos = np.cos\n")
    result = CliRunner().invoke(cli, ["check", f"{target}:sin", "--grad", "cos", *argv])
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: ")
    assert cli_said in lines[0]


@pytest.mark.parametrize(
    ("call", "said"),
    [
        (lambda: gradcli.softmax([1, 2], explain=""), "explain '': give an entry"),
        (lambda: gradcli.softmax([1, 2], explain="J[0,5]"), "j = 5 is out of range 0..1"),
        (lambda: gradcli.softmax([1, 2], plot="out.txt"), "must end in .png or .svg"),
        (lambda: gradcli.graph("y = a * 2", {"a": [1.0]}, explain="b"), "no variable 'b'"),
        (lambda: gradcli.graph("y = a * 2", {"a": [1.0]}, dot=""), "dot '': give a file name"),
        (lambda: gradcli.layer(spec={"W": [[1.0]]}), "spec: missing b, x"),
        (lambda: gradcli.layer(np.eye(2), spec={"W": [[1.0]]}), "W cannot be used with it"),
        (lambda: gradcli.layer(spec={"W": [[1]], "b": [0], "x": [1]}, loss="hinge"), "loss"),
    ],
)
def test_the_new_parameters_of_softmax_layer_and_graph_refuse_bad_values(call, said):
    with pytest.raises(gradcli.InputError) as info:
        call()
    assert said in str(info.value)
