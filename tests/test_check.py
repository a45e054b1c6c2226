"""gradcli check: correct derivatives pass, planted errors are caught and named, every
error in the user's code is one clear line."""

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import gradcli
from gradcli.cli import cli
from gradcli.testing import assert_backends_agree

EXAMPLES = Path(__file__).parent.parent / "examples"
OPS = str(EXAMPLES / "ops.py")
A = np.array([[1.0, 2.0, 0.0], [0.0, 1.0, -1.0], [3.0, 0.0, 1.0]])  # not symmetric


def invoke(*args):
    return CliRunner().invoke(cli, ["check", *args])


def f(x):  # y = A·tanh(x): a Jacobian that is not symmetric, J = A·diag(1 − tanh²x)
    torch = pytest.importorskip("torch")
    if isinstance(x, torch.Tensor):  # so that autograd is a backend too
        return torch.from_numpy(A).to(x.dtype) @ torch.tanh(x)
    return A @ np.tanh(x)


def jacobian(x):
    return A * (1 - np.tanh(x) ** 2)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_correct_derivatives_pass(dtype):
    assert gradcli.check(f, jacobian=jacobian, shape=(3,), dtype=dtype).ok
    assert gradcli.check(np.tanh, grad=lambda x: 1 - np.tanh(x) ** 2, shape=(4, 5), dtype=dtype).ok
    vjp = lambda x, g: (A * (1 - np.tanh(x) ** 2)).T @ g  # noqa: E731
    assert gradcli.check(f, vjp=vjp, shape=(3,), dtype=dtype).ok
    result = invoke(
        f"{OPS}:softmax", "--jacobian", "softmax_jacobian", "--shape", "6", "--dtype", dtype
    )
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("wrong", "pattern"),
    [
        # A has three zero off-diagonal entries: dropping them is right there
        (
            lambda x: np.diag(np.diag(jacobian(x))),
            "diagonal right, 3 of 6 off-diagonal entries wrong",
        ),
        (lambda x: -jacobian(x), "yours has the wrong sign"),
        (lambda x: jacobian(x).T, "yours is the transpose of the Jacobian"),
        (lambda x: 1.001 * jacobian(x), "wrong by a constant factor 1.001"),
        (
            lambda x: jacobian(x) + np.eye(3, k=1) * [[0], [0.01], [0]],  # J[1,2] only
            "diagonal right, 1 of 6 off-diagonal entries wrong",
        ),
    ],
    ids=["missing term", "wrong sign", "transposed", "factor 1.001", "one entry"],
)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_planted_errors_are_caught_and_named(wrong, pattern, dtype):
    report = gradcli.check(f, jacobian=wrong, shape=(3,), dtype=dtype)
    assert not report.ok
    details = " ".join(report.verdict.details)
    assert "torch and fd agree, yours differs" in details
    assert pattern in details


def test_a_forward_that_takes_only_numpy_is_checked_against_fd():
    report = gradcli.check(lambda x: np.asarray(x) ** 3, grad=lambda x: 3 * x**2, shape=(5,))
    assert report.ok
    assert list(report.results) == ["yours", "fd"]
    assert any("finite differences only" in n for n in report.notes)


def test_a_function_backward_is_checked():
    result = invoke(f"{OPS}:Square", "--shape", "4x6", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["inputs"]["mode"] == "function"
    wrong = invoke(f"{OPS}:SquareForgotTwo", "--shape", "4x6")
    assert wrong.exit_code == 1
    assert "wrong by a constant factor 0.5" in wrong.stdout


def test_large_inputs_are_checked_along_directions():
    report = gradcli.check(np.tanh, grad=lambda x: 1 - np.tanh(x) ** 2, shape=(5000,), trials=1)
    assert report.ok
    assert "trial0.vᵀJu" in report.results["yours"].arrays
    assert any("--full forces" in n for n in report.notes)
    wrong = gradcli.check(np.tanh, grad=lambda x: 1 - np.tanh(x), shape=(5000,), trials=1)
    assert not wrong.ok


def test_the_worst_entries_are_shown_side_by_side():
    result = invoke(
        f"{OPS}:softmax",
        "--jacobian",
        "softmax_jacobian_no_cross_terms",
        "--shape",
        "4",
        "--detail",
    )
    assert result.exit_code == 1
    assert (
        "Worst entries of J in trial 0, yours vs fd\n  [2, 0]: yours 0, fd -0.085438975"
        in result.stdout
    )
    assert "diagonal right, off-diagonal entries wrong" in result.stdout


def test_the_pytest_helper_fails_with_the_report():
    with pytest.raises(AssertionError, match="yours differs"):
        assert_backends_agree(gradcli.check(f, jacobian=lambda x: -jacobian(x), shape=(3,)))


@pytest.fixture
def user_module(tmp_path):
    path = tmp_path / "user.py"
    path.write_text(
        textwrap.dedent("""
        import numpy as np
        def forward(x):
            return np.sin(x)
        def raises(x):
            raise RuntimeError("my bug")
        def wrong_shape(x):
            return np.zeros(7)
        def not_an_array(x):
            return "text"
        not_callable = 3
    """)
    )
    (tmp_path / "broken.py").write_text("import nonexistent_module_xyz\n")
    return tmp_path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{d}/missing.py:f", "--grad", "g", "--shape", "3"], "no file"),
        (["{d}/user.py:nope", "--grad", "forward", "--shape", "3"], "has no 'nope'"),
        (
            ["{d}/broken.py:f", "--grad", "g", "--shape", "3"],
            "importing it raised ModuleNotFoundError",
        ),
        (
            ["no_such_module_xyz:f", "--grad", "g", "--shape", "3"],
            "importing it raised ModuleNotFoundError",
        ),
        (
            ["{d}/user.py:forward", "--grad", "raises", "--shape", "3"],
            "your grad raised RuntimeError: my bug",
        ),
        (
            ["{d}/user.py:forward", "--grad", "wrong_shape", "--shape", "3"],
            "returned shape (7,), expected (3,)",
        ),
        (
            ["{d}/user.py:forward", "--grad", "not_an_array", "--shape", "3"],
            "returned str, not an array",
        ),
        (
            ["{d}/user.py:raises", "--grad", "forward", "--shape", "3"],
            "the forward raised RuntimeError",
        ),
        (["{d}/user.py:forward", "--grad", "not_callable", "--shape", "3"], "is not callable"),
        (["{d}/user.py:forward", "--shape", "3"], "give --jacobian, --vjp or --grad"),
        (
            ["{d}/user.py:forward", "--grad", "forward", "--vjp", "forward", "--shape", "3"],
            "give one of",
        ),
        (["{d}/user.py:forward", "--grad", "forward"], "give the input as --shape"),
        (["{d}/user.py:forward", "--grad", "forward", "--shape", "3y4"], "sizes joined by x"),
        (["user.py", "--grad", "forward", "--shape", "3"], "no file user.py"),
    ],
)
def test_every_error_is_one_clear_line(user_module, args, message):
    result = invoke(*[a.format(d=user_module) for a in args])
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_debug_shows_the_traceback_of_the_users_code(user_module, capsys):
    from gradcli.cli import main

    with pytest.raises(SystemExit) as info:
        main(
            [
                "check",
                f"{user_module}/user.py:forward",
                "--grad",
                "raises",
                "--shape",
                "3",
                "--debug",
            ]
        )
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" in err
    assert 'raise RuntimeError("my bug")' in err


def test_input_file_and_save_keys(tmp_path):
    np.save(tmp_path / "z.npy", np.array([3.0, 1.0, -3.0]))
    out = tmp_path / "check.npz"
    result = invoke(
        f"{OPS}:softmax",
        "--vjp",
        "softmax_jacobian",
        "--input",
        str(tmp_path / "z.npy"),
        "--save",
        str(out),
    )
    # softmax_jacobian(z) is not a VJP: it returns (3, 3) where the VJP is (3,)
    assert result.exit_code == 2
    assert "your vjp raised TypeError" in result.stderr or "returned shape (3, 3)" in result.stderr
    good = invoke(
        f"{OPS}:softmax",
        "--jacobian",
        "softmax_jacobian",
        "--input",
        str(tmp_path / "z.npy"),
        "--save",
        str(out),
    )
    assert good.exit_code == 0, good.output
    with np.load(out) as saved:
        assert sorted(saved.files) == [
            "fd.trial0.jacobian",
            "torch.trial0.jacobian",
            "yours.trial0.jacobian",
        ]
        s = np.exp([0.0, -2.0, -6.0]) / np.exp([0.0, -2.0, -6.0]).sum()
        np.testing.assert_allclose(
            saved["yours.trial0.jacobian"], np.diag(s) - np.outer(s, s), rtol=1e-12
        )


def test_same_seed_same_inputs_and_uniform_scale():
    a = gradcli.check(np.tanh, grad=lambda x: 1 - np.tanh(x) ** 2, shape=(4,), seed=3)
    b = gradcli.check(np.tanh, grad=lambda x: 1 - np.tanh(x) ** 2, shape=(4,), seed=3)
    np.testing.assert_array_equal(a.inputs["x"][0], b.inputs["x"][0])
    result = invoke(
        f"{OPS}:softmax",
        "--jacobian",
        "softmax_jacobian",
        "--shape",
        "50",
        "--dist",
        "uniform",
        "--scale",
        "0.5",
        "--json",
    )
    doc = json.loads(result.stdout)
    assert max(abs(v) for x in doc["inputs"]["x"] for v in x) <= 0.5
    assert len(doc["inputs"]["x"]) == 3


def test_backend_chooses_the_references():
    only_fd = gradcli.check(f, jacobian=jacobian, shape=(3,), backends=["fd"])
    assert list(only_fd.results) == ["yours", "fd"]
    only_torch = invoke(
        f"{OPS}:softmax",
        "--jacobian",
        "softmax_jacobian",
        "--shape",
        "4",
        "--backend",
        "torch",
        "--json",
    )
    assert list(json.loads(only_torch.stdout)["results"]) == ["yours", "torch"]
    nothing = invoke(
        f"{OPS}:softmax", "--jacobian", "softmax_jacobian", "--shape", "4", "--backend", "numpy"
    )
    assert nothing.exit_code == 2
    assert "check needs torch or fd" in nothing.stderr
