"""gradcli graph: the program gradcli grew from, every VJP rule against autograd, the
allow-list against hostile programs, and every error path."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from gradcli.cli import cli
from gradcli.commands.graph import problem
from gradcli.commands.graph.parse import parse_program
from gradcli.errors import InputError
from gradcli.spec import GraphSpec, RunOptions

WORKED = "b = a.sum(dim=0, keepdim=True); c = a/b; y = w@c"


def invoke(*args, stdin=None):
    return CliRunner(env={"COLUMNS": "120"}).invoke(cli, ["graph", *args], input=stdin)


def graph_json(*args):
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def run(program, backends=("numpy", "torch", "fd"), dtype="float64", **inputs):
    arrays = {k: np.asarray(v, dtype=float) for k, v in inputs.items()}
    spec = GraphSpec(
        parse_program(program, tuple(arrays)), arrays, options=RunOptions(backends, dtype)
    )
    return problem.run(spec)


def test_the_program_gradcli_grew_from_matches_pytorch_for_seed_42():
    torch = pytest.importorskip("torch")
    torch.manual_seed(42)
    w = torch.rand((4, 10))
    a = torch.rand((10, 10), requires_grad=True)
    b = a.sum(dim=0, keepdim=True)
    c = a / b
    y = w @ c
    for t in (b, c, y):
        t.retain_grad()
    torch.sum(y).backward()
    doc = graph_json(
        WORKED, "--rand", "w=4x10", "--rand", "a=10x10", "--seed", "42", "--dtype", "float32"
    )
    assert doc["ok"] is True
    expected = {"y": y.grad, "c": c.grad, "b": b.grad, "a": a.grad}
    for backend in ("numpy", "torch"):
        for name, grad in expected.items():
            np.testing.assert_allclose(
                doc["results"][backend]["grads"][name], grad.numpy(), rtol=1e-5, atol=1e-6
            )
    np.testing.assert_array_equal(doc["inputs"]["values"]["w"], w.numpy())  # the same draws
    np.testing.assert_allclose(
        doc["results"]["fd"]["grads"]["a"], a.grad.numpy(), rtol=1e-4, atol=1e-5
    )
    assert doc["inputs"]["rand"] == ["w=4x10", "a=10x10"]
    assert doc["inputs"]["seed"] == 42


def test_a_reaches_the_loss_by_two_paths_that_add_up():
    doc = graph_json(WORKED, "--rand", "w=4x10", "--rand", "a=10x10", "--seed", "42")
    path = doc["paths"]["a"]
    assert [u["via"] for u in path["uses"]] == ["b", "c"]
    total = np.sum([u["grad"] for u in path["uses"]], axis=0)
    np.testing.assert_allclose(total, doc["results"]["numpy"]["grads"]["a"], rtol=1e-12)
    assert path["max_abs_difference"] < 1e-12
    text = invoke(
        WORKED, "--rand", "w=4x10", "--rand", "a=10x10", "--seed", "42", "--detail"
    ).stdout
    assert "a.grad is the sum over its 2 uses" in text
    assert "via c = a / b  (a is argument 1 of a / b)" in text
    assert "b = a.sum(dim=0, keepdim=True)  [sum of a → 1×10]  → c" in text
    assert "c = a / b  [div of a, b → 10×10]  → y" in text


def test_a_times_a_has_two_contributions():
    report = run("y = a * a", a=[1.0, -2.0, 3.0])
    paths = report.extra["paths"]["a"]["uses"]
    assert [u["argument"] for u in paths] == [0, 1]
    np.testing.assert_allclose(paths[0]["grad"], [1.0, -2.0, 3.0])
    np.testing.assert_allclose(report.results["numpy"].arrays["grads.a"], [2.0, -4.0, 6.0])


def test_a_variable_that_does_not_reach_the_loss_has_zero_gradient_and_says_so():
    report = run("q = exp(a); y = a * 2", a=[1.0, 2.0])
    assert report.ok
    np.testing.assert_array_equal(report.results["numpy"].arrays["grads.q"], [0.0, 0.0])
    np.testing.assert_array_equal(report.results["torch"].arrays["grads.q"], [0.0, 0.0])
    assert "q does not reach the loss: its gradient is zero" in report.notes


def test_a_0d_last_value_is_the_loss_itself():
    report = run("y = (a * a).sum()", a=[1.0, 2.0])
    assert report.title.startswith("graph of 1 statement, loss = y,")
    np.testing.assert_allclose(report.results["torch"].arrays["grads.a"], [2.0, 4.0])


def test_a_gradient_that_is_not_finite_is_never_ok():
    report = run("y = log(a)", a=[-1.0, 4.0])
    assert not report.ok
    # log(−1) is NaN; its gradient 1/a is finite, as torch says, so the value is named
    assert any(nf.quantity == "values.y" for nf in report.non_finite)


def test_an_infinite_derivative_is_named_and_infinity_agrees_with_it():
    report = run("y = sqrt(a)", a=[0.0, 4.0])
    assert report.ok
    (kink,) = report.kinks
    assert (kink.quantity, kink.index, kink.infinite) == ("grads.a", (0,), True)
    assert kink.values == {"numpy": np.inf, "torch": np.inf}
    assert (
        "a[0] = 0: the derivative is infinite; numpy and torch take inf" in report.verdict.summary
    )
    assert any(nf.quantity == "grads.a" for nf in report.non_finite)  # still listed (JSON null)


def test_var_from_json_and_npy(tmp_path):
    np.save(tmp_path / "z.npy", np.array([3.0, 1.0, -3.0]))
    a = graph_json("s = softmax(z, dim=0); y = s[0]", "--var", "z=[3, 1, -3]")
    b = graph_json("s = softmax(z, dim=0); y = s[0]", "--var", f"z=@{tmp_path / 'z.npy'}")
    assert a["results"] == b["results"]
    s = np.exp([0.0, -2.0, -6.0]) / np.exp([0.0, -2.0, -6.0]).sum()
    np.testing.assert_allclose(
        a["results"]["torch"]["grads"]["z"], s[0] * (np.eye(3)[0] - s), rtol=1e-12
    )


def test_program_from_a_file(tmp_path):
    path = tmp_path / "program.txt"
    path.write_text("b = a.sum(dim=0, keepdim=True)\nc = a/b\ny = w@c\n")
    doc = graph_json("-f", str(path), "--rand", "w=4x10", "--rand", "a=10x10", "--seed", "42")
    assert doc["inputs"]["program"] == "b = a.sum(dim=0, keepdim=True); c = a / b; y = w @ c"


def test_save_keys(tmp_path):
    out = tmp_path / "g.npz"
    result = invoke("y = a * 2", "--var", "a=[1, 2]", "--save", str(out))
    assert result.exit_code == 0
    with np.load(out) as saved:
        assert set(saved.files) == {
            "numpy.values.a",
            "numpy.grads.a",
            "numpy.values.y",
            "numpy.grads.y",
            "torch.values.a",
            "torch.grads.a",
            "torch.values.y",
            "torch.grads.y",
            "fd.values.a",
            "fd.values.y",
            "fd.grads.a",
        }


def test_numpy_only_with_var_never_imports_torch():
    import subprocess
    import sys

    proc = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "gradcli",
            "graph",
            "y = a * a",
            "--var",
            "a=[1, 2]",
            "--backend",
            "numpy,fd",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0
    assert "torch" not in {line.split("|")[-1].strip() for line in proc.stderr.splitlines()}


# --- every operation's backward rule against autograd --------------------------------

UNARY = [
    "exp(a)",
    "log(a)",
    "sqrt(a)",
    "abs(a)",
    "tanh(a)",
    "sigmoid(a)",
    "relu(a)",
    "-a",
    "a.exp()",
    "a ** 2",
    "a ** 0.5",
    "softmax(a, dim=-1)",
    "log_softmax(a, -1)",
    "a.T",
    "a.sum()",
    "a.sum(dim=0)",
    "a.mean(dim=-1, keepdim=True)",
    "max(a, dim=0)",
    "a.max()",
    "a[0]",
    "a[:, 1:]",
    "a[-1, 0]",
    "transpose(a, 0, 1)",
    "a.reshape(-1)",
    "a.reshape(1, -1)",
    "reshape(a, (-1,))",
    "matmul(a, a.T)",
    "a.sum(0, True)",
    "a.mean()",
    "+a",
]


@given(
    st.sampled_from(UNARY),
    st.integers(1, 4),
    st.integers(2, 4),
    st.integers(0, 2**16),
    st.sampled_from(["float64", "float32"]),
)
def test_unary_rules_against_autograd(expression, rows, cols, seed, dtype):
    a = np.random.default_rng(seed).uniform(0.2, 2.0, size=(rows, cols))  # log, sqrt need a > 0
    report = run(f"y = {expression}", dtype=dtype, a=a)
    assert report.ok, report.verdict.details


SHAPES = [
    ((3,), (3,)),
    ((2, 3), (3,)),
    ((2, 3), (1, 3)),
    ((2, 1), (1, 3)),
    ((3,), ()),
    ((), (2, 2)),
]
BINARY = ["a + b", "a - b", "a * b", "a / b", "a ** b"]


DTYPES = st.sampled_from(["float64", "float32"])


@given(st.sampled_from(BINARY), st.sampled_from(SHAPES), st.integers(0, 2**16), DTYPES)
def test_binary_rules_with_broadcasting_against_autograd(expression, shapes, seed, dtype):
    rng = np.random.default_rng(seed)
    a, b = (rng.uniform(0.5, 2.0, size=s) for s in shapes)
    report = run(f"y = {expression}", dtype=dtype, a=a, b=b)
    assert report.ok, report.verdict.details


MATMUL = [
    ((3,), (3,)),
    ((3,), (3, 2)),
    ((2, 3), (3,)),
    ((2, 3), (3, 4)),
    ((2, 2, 3), (3, 4)),
    ((1, 2, 3), (4, 3, 2)),
]


@given(st.sampled_from(MATMUL), st.integers(0, 2**16), DTYPES)
def test_matmul_rule_against_autograd(shapes, seed, dtype):
    rng = np.random.default_rng(seed)
    a, b = (rng.normal(size=s) for s in shapes)
    report = run("y = a @ b", dtype=dtype, a=a, b=b)
    assert report.ok, report.verdict.details


def test_max_shares_the_gradient_among_ties():
    report = run("y = a.max()", a=[1.0, 3.0, 3.0])
    np.testing.assert_allclose(report.results["numpy"].arrays["grads.a"], [0.0, 0.5, 0.5])
    assert report.ok


# --- the allow-list ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("program", "message"),
    [
        ("y = __import__('os').system('echo hi')", "method .system() is not allowed"),
        ("y = __import__('os')", "__import__() is not an allowed function"),
        ("y = a.__class__", "attribute '__class__' is not allowed"),
        ("y = a.numpy()", "method .numpy() is not allowed"),
        ("y = (lambda: a)()", "only calls of the language's functions are allowed"),
        ("y = [v for v in a]", "a comprehension is not allowed"),
        ("import os", "import is not allowed"),
        ("y = exec('1')", "exec() is not an allowed function"),
        ("y = open('/etc/passwd')", "open() is not an allowed function"),
        ("y = a if a else a", "if/else is not allowed"),
        ("y = a < a", "a comparison is not allowed"),
        ("y = 'text'", "constant 'text' is not a number"),
        ("y = True", "constant True is not a number"),
        ("y = a; y = a", "'y' is assigned twice"),
        ("sum = a * 2", "would shadow a function"),
        ("y = a[a]", "must be an integer literal"),
        ("y = a[::-1]", "slice steps must be positive"),
        ("y = a.sum(dim=0, out=a)", "sum() has no argument 'out'"),
        ("y = softmax(a)", "softmax() needs dim"),
        ("y = a ** 1e999", "is not finite"),
        ("a.x = 1", "assign to a plain name"),
        ("y += a", "augmented assignment is not allowed"),
        ("y = z * 2", "unknown name 'z'"),
        ("y = a *", "the program does not parse"),
        ("", "the program is empty"),
        ("y = " + "(" * 300 + "a" + ")" * 300, "nest"),
        ("y = " + "-" * 100 + "a", "expressions nest deeper than 64"),
        ("y = a\0", "does not parse"),
        ("y = a * 1\n" * 2000, "the program has"),
    ],
)
def test_hostile_and_invalid_programs_are_refused_before_running(program, message):
    with pytest.raises(InputError) as info:
        parse_program(program, ("a",))
    assert message in str(info.value)


# --- errors through the command line -----------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["y = a / b", "--var", "a=[[1, 2], [3, 4]]", "--var", "b=[1, 2, 3]"],
            "statement 1 ('y = a / b'): a / b: shapes (2, 2) and (3,) do not broadcast",
        ),
        (
            ["y = a @ b", "--var", "a=[[1, 2]]", "--var", "b=[[1, 2]]"],
            "matmul: inner sizes differ (2 and 1)",
        ),
        (["y = a.sum(dim=2)", "--var", "a=[[1, 2]]"], "dim 2 is out of range for a 2-D tensor"),
        (["y = a.reshape(3)", "--var", "a=[1, 2]"], "cannot reshape (2,) (2 elements) to (3,)"),
        (["y = a[5]", "--var", "a=[1, 2]"], "index 5 is out of bounds"),
        (["y = a * 2", "--rand", "a=100000x100000"], "10000000000 elements; the limit is 10000000"),
        (["y = a * 2", "--rand", "a=4y4"], "the shape is sizes joined by x"),
        (["y = a * 2", "--rand", "a=4:cauchy"], "the distribution is :normal or :uniform"),
        (["y = a * 2", "--var", "a"], "write NAME=JSON or NAME=@file.npy"),
        (["y = a * 2", "--var", "a=[1, NaN]"], "NaN is not a finite number"),
        (["y = a * 2", "--var", "a=[1]", "--var", "a=[2]"], "'a' is given twice"),
        (["y = a * 2", "--var", "a=[1]", "--var", "b=[2]"], "input 'b' is not used by the program"),
        (["y = a * 2", "--var", "a=@missing.npy"], "cannot read missing.npy"),
        (["--var", "a=[1]"], "give the program as an argument or with -f FILE"),
        (
            ["y = a", "-f", "p.txt", "--var", "a=[1]"],
            "give the program as an argument or with -f FILE",
        ),
        (["-f", "missing.txt", "--var", "a=[1]"], "cannot read missing.txt"),
        (["y = a.exp()", "--var", "a=[1, 2]", "--backend", "fd", "--rand", "b=3000"], "not used"),
    ],
)
def test_bad_graph_input_exits_2_with_one_clear_message(args, message):
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_large_inputs_switch_fd_to_directional_derivatives_and_say_so():
    a = np.random.default_rng(0).uniform(0.5, 2.0, size=3000)
    report = run("y = (a * a).sum()", a=a)
    assert report.ok, report.verdict.details
    assert report.results["fd"].method == "central differences along 8 random directions"
    assert "grads.a" not in report.results["fd"].arrays
    assert report.results["fd"].arrays["grads.a·v"].shape == (8,)
    assert any("8 random directions" in note for note in report.notes)


def test_directional_fd_catches_a_wrong_rule(monkeypatch):
    import dataclasses

    from gradcli.ops import REGISTRY

    right = REGISTRY["mul"]
    wrong = dataclasses.replace(
        right, vjp=lambda g, x, o, p: [1.01 * s for s in right.vjp(g, x, o, p)]
    )
    monkeypatch.setitem(REGISTRY, "mul", wrong)
    report = run("y = (a * a).sum()", a=np.random.default_rng(1).uniform(0.5, 2.0, size=3000))
    assert not report.ok
    assert "a.grad·v: torch and fd agree, numpy differs in 8 of 8 entries" in " ".join(
        report.verdict.details
    )
