"""Hostile graph programs: each class refused by construction, with one `Error:` line and
exit status 2, or answered as torch answers it. Cases are generated (Hypothesis and
tables), not only the examples of the issue."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from gradcli.cli import cli
from gradcli.commands.graph import problem
from gradcli.commands.graph.parse import MAX_DEPTH, parse_program
from gradcli.errors import InputError
from gradcli.ops import FUNCTIONS, REGISTRY
from gradcli.spec import GraphSpec, RunOptions

torch = pytest.importorskip("torch")


def refused(*args: str) -> str:
    """Run `gradcli graph ARGS`; assert one Error: line, exit 2, nothing on stdout."""
    result = CliRunner(env={"COLUMNS": "80"}).invoke(cli, ["graph", *args])
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert len(lines[0]) < 400, lines[0]
    return lines[0]


def spec(program: str, backends=("numpy", "torch"), **inputs) -> GraphSpec:
    arrays = {k: np.asarray(v, dtype=float) for k, v in inputs.items()}
    options = RunOptions(tuple(backends), "float64")
    return GraphSpec(parse_program(program, tuple(arrays)), arrays, options=options)


# --- nesting: measured without recursion, whatever nests ----------------------------------

NESTINGS = {
    "unary minus": lambda n: "-" * n + "a",
    "unary plus and minus": lambda n: "-+" * (n // 2) + "a",
    "chained .T": lambda n: "a" + ".T" * n,
    "chained methods": lambda n: "a" + ".exp()" * n,
    "nested calls": lambda n: "exp(" * n + "a" + ")" * n,
    "a chain of +": lambda n: " + ".join(["a"] * (n + 1)),
    "a chain of **": lambda n: " ** ".join(["a"] * (n + 1)),
    "nested indexing": lambda n: "a" + "[0]" * n,
}


@given(st.sampled_from(sorted(NESTINGS)), st.integers(MAX_DEPTH + 1, 5000))
def test_nesting_beyond_the_limit_is_one_clear_error(kind, depth):
    with pytest.raises(InputError) as info:
        parse_program("y = " + NESTINGS[kind](depth), ("a",))
    assert "nest" in str(info.value)
    assert len(str(info.value)) < 200


@pytest.mark.parametrize("kind", ["unary minus", "chained .T", "nested calls", "a chain of +"])
def test_nesting_within_the_limit_parses(kind):
    program = parse_program("y = " + NESTINGS[kind](MAX_DEPTH - 2), ("a",))
    assert program.statements[0][0] == "y"


def test_parentheses_nest_without_operations_until_python_refuses():
    assert parse_program("y = " + "(" * 150 + "a" + ")" * 150, ("a",)).output == 1
    with pytest.raises(InputError, match="does not parse"):
        parse_program("y = " + "(" * 300 + "a" + ")" * 300, ("a",))


def test_400_minus_signs_and_900_transposes_through_the_command_line():
    assert "nest deeper than 64" in refused("y = " + "-" * 400 + "a", "--var", "a=[1]")
    assert "nest deeper than 64" in refused("y = a" + ".T" * 900, "--var", "a=[1]")


# --- sizes: integers that do not fit, element counts that would wrap int64 ---------------


@given(st.integers(63, 400))
def test_integer_literals_beyond_int64_are_refused(bits):
    big = str(2**bits)
    for program in (
        f"y = a.reshape({big})",
        f"y = a[{big}]",
        f"y = a.sum(dim={big})",
        f"y = transpose(a, 0, {big})",
        f"y = a[:{big}]",
    ):
        with pytest.raises(InputError, match="too large"):
            parse_program(program, ("a",))


@given(st.lists(st.integers(2, 2**31), min_size=2, max_size=6), st.booleans())
def test_a_reshape_whose_element_count_wraps_int64_is_refused(sizes, infer):
    shape = ", ".join(map(str, ([-1] if infer else []) + sizes))
    message = refused(f"y = a.reshape({shape})", "--var", "a=[1, 2, 3]")
    assert "cannot reshape (3,) (3 elements)" in message


def test_reshape_to_ten_to_the_twenty():
    assert "too large" in refused("y = a.reshape(100000000000000000000)", "--var", "a=[1]")
    assert "must be an integer literal" in refused("y = a.reshape(10**20)", "--var", "a=[1]")


def test_broadcasting_into_too_many_elements_is_refused_before_allocating():
    message = refused(
        "y = a.reshape(-1, 1) * a.reshape(1, -1)", "--rand", "a=200000", "--backend", "numpy"
    )
    assert "more than 10000000 elements" in message


def test_more_than_64_dims_is_refused():
    ones = ", ".join(["1"] * 65)
    assert "at most 64" in refused(f"y = a.reshape({ones})", "--var", "a=[1]")


# --- arguments: dims, repeated keywords, numpy habits ----------------------------------------

REDUCTIONS = ["sum", "mean", "max"]


@given(
    st.sampled_from(REDUCTIONS),
    st.lists(st.integers(-3, 2), min_size=2, max_size=4).filter(
        lambda dims: len({d % 3 for d in dims}) < len(dims)
    ),
)
def test_a_dim_given_twice_is_refused_as_in_torch(name, dims):
    program = f"y = a.{name}(dim=({', '.join(map(str, dims))},))"
    with pytest.raises(InputError, match="appears more than once"):
        problem.validate(spec(program, a=np.ones((2, 3, 4))))
    with pytest.raises(RuntimeError, match="appears multiple times"):
        getattr(torch, "amax" if name == "max" else name)(torch.ones(2, 3, 4), dim=tuple(dims))


@pytest.mark.parametrize("name", REDUCTIONS)
@pytest.mark.parametrize("empty", ["()", "[]"])
def test_an_empty_dim_is_refused(name, empty):
    # numpy reads axis=() as "no axis", torch as "every axis": gradcli asks
    with pytest.raises(InputError, match="leave dim out to reduce every dim"):
        parse_program(f"y = a.{name}(dim={empty})", ("a",))


def keyword_cases():
    for name in FUNCTIONS:
        for param in REGISTRY[name].params:
            value = {"bool": "True", "int": "0", "dims": "0", "shape": "(3,)"}[param.kind]
            yield name, param.name, value


@pytest.mark.parametrize(("name", "keyword", "value"), list(keyword_cases()))
def test_a_keyword_given_twice_is_refused(name, keyword, value):
    with pytest.raises(InputError, match=f"got '{keyword}' twice"):
        parse_program(f"y = a.{name}({keyword}={value}, {keyword}={value})", ("a",))


def test_a_parameter_given_by_position_and_by_keyword_is_refused():
    with pytest.raises(InputError, match="got 'dim' twice"):
        parse_program("y = a.sum(0, dim=0)", ("a",))
    with pytest.raises(InputError, match="got 'dim' twice"):
        parse_program("y = softmax(a, 0, dim=0)", ("a",))


@pytest.mark.parametrize(
    ("program", "hint"),
    [
        ("y = a.sum(axis=0)", "sum() has no argument 'axis'; did you mean dim=?"),
        (
            "y = a.mean(0, keepdims=True)",
            "mean() has no argument 'keepdims'; did you mean keepdim=?",
        ),
        ("y = softmax(a, axis=-1)", "softmax() has no argument 'axis'; did you mean dim=?"),
        ("y = a.max(dims=0)", "did you mean dim=?"),
        ("y = np.exp(a)", "write exp(…) without the 'np.' prefix"),
        ("y = torch.softmax(a, 0)", "write softmax(…) without the 'torch.' prefix"),
        ("y = amax(a)", "amax() is not an allowed function; did you mean max?"),
        ("y = a.dot(a)", "method .dot() is not allowed; did you mean matmul (or @)?"),
        ("y = sofmax(a, 0)", "did you mean softmax?"),
        ("y = a.sigmoud()", "did you mean sigmoid?"),
        ("y = a % 2", "the operator % is not allowed"),
    ],
)
def test_numpy_habits_get_a_did_you_mean(program, hint):
    with pytest.raises(InputError) as info:
        parse_program(program, ("a",))
    assert hint in str(info.value)


# --- empty tensors: torch's answer, or torch's refusal --------------------------------------

EMPTY_SHAPES = [(0,), (1, 0), (0, 3), (1, 0, 3)]
ON_EMPTY = [
    "a.sum()",
    "a.sum(dim=0)",
    "a.sum(dim=-1, keepdim=True)",
    "a.mean()",
    "a.mean(dim=0)",
    "a.max()",
    "a.max(dim=0)",
    "a.max(dim=-1)",
    "softmax(a, dim=0)",
    "softmax(a, dim=-1)",
    "log_softmax(a, dim=-1)",
    "a @ a.T",
    "a.T @ a",
    "exp(a) * 2",
    "a.reshape(-1)",
]


def torch_answer(expression: str, a: np.ndarray):
    """torch's value and gradient for the same expression, or the exception it raises."""
    t = torch.tensor(a, requires_grad=True)
    source = expression.replace("softmax(a", "torch.softmax(a").replace("log_torch.", "torch.log_")
    source = source.replace(".max(", ".amax(").replace("exp(a)", "torch.exp(a)")
    try:
        with warnings.catch_warnings():  # torch deprecates .T below 2-D (gradcli: identity)
            warnings.simplefilter("ignore", UserWarning)
            out = eval(source, {"torch": torch, "a": t})  # the test's own literal expressions
        (out if out.ndim == 0 else out.sum()).backward()
    except (RuntimeError, IndexError) as exc:
        return exc
    return out.detach().numpy(), t.grad.numpy()


@pytest.mark.parametrize("shape", EMPTY_SHAPES, ids=str)
@pytest.mark.parametrize("expression", ON_EMPTY)
def test_empty_tensors_get_torchs_answer_or_a_clear_refusal(expression, shape):
    a = np.zeros(shape)
    expected = torch_answer(expression, a)
    if isinstance(expected, Exception):
        with pytest.raises(InputError):
            problem.run(spec(f"y = {expression}", ("numpy", "torch", "fd"), a=a))
        return
    report = problem.run(spec(f"y = {expression}", ("numpy", "torch", "fd"), a=a))
    value, grad = expected
    for backend in ("numpy", "torch"):
        arrays = report.results[backend].arrays
        np.testing.assert_array_equal(arrays["values.y"], value)
        np.testing.assert_array_equal(arrays["grads.a"], grad)
    np.testing.assert_array_equal(report.results["fd"].arrays["grads.a"], grad)


@pytest.mark.parametrize("var", ["a=[]", "a=[[]]"])
@pytest.mark.parametrize("extra", [[], ["--heatmap"], ["--json"]])
def test_empty_tensors_through_the_command_line(var, extra):
    result = CliRunner(env={"COLUMNS": "80"}).invoke(
        cli, ["graph", "y = exp(a).sum(dim=-1)", "--var", var, *extra]
    )
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output


def test_plot_of_nothing_but_empty_tensors_is_refused(tmp_path):
    message = refused("y = exp(a)", "--var", "a=[[]]", "--plot", str(tmp_path / "p.png"))
    assert "nothing to draw" in message
    assert not (tmp_path / "p.png").exists()


# --- long expressions: a short message --------------------------------------------------------


@given(st.integers(1, 60), st.integers(100, 3000))
def test_a_shape_error_in_a_long_expression_is_one_short_line(depth, width):
    long_name = "w" + "x" * width
    expression = "exp(" * depth + "a" + ")" * depth
    program = f"{long_name} = {expression} + b"
    with pytest.raises(InputError) as info:
        problem.validate(spec(program, a=np.ones(2), b=np.ones(3)))
    message = str(info.value)
    assert "shapes (2,) and (3,) do not broadcast" in message
    assert len(message) < 250, message


def test_a_long_expression_through_the_command_line():
    terms = " * ".join(["exp(a)"] * 60)
    message = refused(f"y = ({terms}) @ b", "--var", "a=[1, 2]", "--var", "b=[1, 2, 3]")
    assert "inner sizes differ (2 and 3)" in message


# --- programs without inputs, and variables that no input reaches ------------------------------


@pytest.mark.parametrize("program", ["y = 1", "y = 2 ** 3 + 1", "c = 2; y = c * 3", "y = -1.5"])
def test_a_program_without_inputs_is_refused(program):
    assert "no inputs" in refused(program)


@pytest.mark.parametrize("program", ["c = 2 * 3; y = a * c", "q = a * 2; y = 2 ** 3 + 1"])
def test_a_variable_that_no_input_reaches_gets_the_same_gradient_from_numpy_and_torch(program):
    report = problem.run(spec(program, ("numpy", "torch", "fd"), a=[1.0, -2.0, 0.5]))
    assert report.ok, report.verdict.details
    for name in ("c", "y"):
        key = f"grads.{name}"
        if key in report.results["numpy"].arrays:
            np.testing.assert_array_equal(
                report.results["numpy"].arrays[key], report.results["torch"].arrays[key]
            )


# --- the work budget ------------------------------------------------------------------------


MATMULS = [
    "y = a @ b @ c",
    "--rand",
    "a=3000x3000",
    "--rand",
    "b=3000x3000",
    "--rand",
    "c=3000x3000",
]


@pytest.mark.parametrize(
    ("args", "advice"),
    [
        (MATMULS, "use smaller inputs"),
        (["y = a @ b", "--rand", "a=2000x2000", "--rand", "b=2000x2000"], "--backend numpy,torch"),
        (["y = a.exp().exp().exp().exp().exp()", "--rand", "a=2000x2000"], "--backend numpy,torch"),
    ],
)
def test_work_beyond_the_budget_is_refused_before_running(args, advice):
    message = refused(*args)
    assert "element operations" in message
    assert "the limit is 4e+09" in message
    assert advice in message


def test_the_work_estimate_counts_a_matmul_by_its_multiply_adds():
    from gradcli.commands.graph.shapes import forward_flops, node_shapes

    program = parse_program("y = a @ b", ("a", "b"))
    shapes = node_shapes(program, {"a": (64, 128), "b": (128, 32)})
    # 64·32·128 multiply-adds at 64 per element operation, plus reading the operands
    assert forward_flops(program, shapes) == 64 * 32 * 128 // 64 + 128 * 64


# --- token soup: whatever the text, InputError or an answer, never anything else ------------

TOKENS = [
    "a", "b", "+", "-", "*", "/", "**", "@", "(", ")", ".T", ".sum(", ".max(", ".mean(",
    "dim=", "keepdim=True", "0", "1", "-1", "2", ",", "[", "]", ":", "exp(", "log(", "sqrt(",
    "relu(", "abs(", "softmax(", "log_softmax(", "reshape(", "transpose(", "matmul(", "()",
    "axis=", "10**20", "1e308", " ", "(0, 0)", "None", "9223372036854775808",
]  # fmt: skip
SHAPES = st.sampled_from([(), (0,), (3,), (2, 3), (3, 2), (1, 0), (2, 1, 3)])


@given(
    st.lists(st.sampled_from(TOKENS), min_size=1, max_size=25),
    SHAPES,
    SHAPES,
    st.sampled_from([0.0, -1.0, 2.0, 1e-300, 1e300]),
)
def test_any_token_soup_is_an_answer_or_an_input_error(tokens, shape_a, shape_b, fill):
    text = "y = " + "".join(tokens)
    inputs = {"a": np.full(shape_a, fill), "b": np.full(shape_b, -fill)}
    try:
        program = parse_program(text, ("a", "b"))
    except InputError:
        return
    options = RunOptions(("numpy", "torch", "fd"), "float64")
    try:
        report = problem.run(GraphSpec(program, inputs, options=options))
    except InputError:
        return
    assert set(report.results) == {"numpy", "torch", "fd"}


# --- programs from the grammar: numpy's engine and torch agree wherever they run --------------

UNARY = ["exp({})", "log({})", "sqrt({})", "abs({})", "relu({})", "tanh({})", "sigmoid({})", "-{}"]
UNARY += ["{}.T", "{}.reshape(-1)", "{}[0]", "{}[..., 1:]", "transpose({}, 0, -1)"]
UNARY += [f"{{}}.{r}({d})" for r in ("sum", "mean", "max") for d in ("", "dim=0", "-1, True")]
UNARY += ["softmax({}, dim=-1)", "log_softmax({}, 0)"]
BINARY = ["({} + {})", "({} - {})", "({} * {})", "({} / {})", "({} ** {})", "({} @ {})"]
LEAF = st.sampled_from(["a", "b", "2", "0", "-1.5", "0.5"])
EXPRESSIONS = st.recursive(
    LEAF,
    lambda inner: st.one_of(
        st.builds(lambda f, x: f.format(x), st.sampled_from(UNARY), inner),
        st.builds(lambda f, x, y: f.format(x, y), st.sampled_from(BINARY), inner, inner),
    ),
    max_leaves=6,
)


@given(
    EXPRESSIONS,
    SHAPES,
    SHAPES,
    st.sampled_from(["hostile", "normal"]),
    st.integers(0, 2**16),
)
def test_grammar_programs_agree_between_numpy_and_torch_or_are_refused(
    expression, shape_a, shape_b, style, seed
):
    rng = np.random.default_rng(seed)
    pool = [-2.0, -1.0, 0.0, 0.0, 0.5, 1.0, 2.0]
    draw = (lambda size: rng.choice(pool, size=size)) if style == "hostile" else rng.normal
    text = f"y = {expression} * a.sum() + b.sum()"  # both inputs used
    inputs = {"a": draw(size=shape_a), "b": draw(size=shape_b)}
    try:
        report = problem.run(spec(text, ("numpy", "torch"), **inputs))
    except InputError:
        return
    numpy, torch_ = report.results["numpy"].arrays, report.results["torch"].arrays
    for key, ours in numpy.items():
        np.testing.assert_allclose(
            ours, torch_[key], rtol=1e-9, atol=1e-9, equal_nan=True, err_msg=f"{text}: {key}"
        )
