"""User code under `gradcli check` is untrusted: whatever the forward, the derivative or a
Function's backward does (exit, raise anything, print, return nonsense), the verdict is
not forged: one `Error:` line and exit 2 (Ctrl-C 130), stdout untouched.

The cases are generated: every misbehaviour in every role (forward, vjp, jacobian,
grad, a Function's backward)."""

import json
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

from gradcli.cli import cli, main

# What the user's code does instead of returning its result, and the message expected.
MISBEHAVIOURS = {
    "sys.exit(0)": ("import sys; sys.exit(0)", "raised SystemExit (it called sys.exit(0))"),
    "sys.exit(3)": ("import sys; sys.exit(3)", "raised SystemExit (it called sys.exit(3))"),
    "exit('bye')": ("raise SystemExit('bye')", "raised SystemExit (it called sys.exit('bye'))"),
    "GeneratorExit": ("raise GeneratorExit()", "raised GeneratorExit"),
    "RuntimeError": ("raise RuntimeError('my bug')", "raised RuntimeError: my bug"),
    "BrokenPipeError": ("raise BrokenPipeError('pipe')", "raised BrokenPipeError: pipe"),
    "MemoryError": ("raise MemoryError()", "raised MemoryError"),
    "RecursionError": ("def r(): return r()\n    r()", "raised RecursionError"),
    "bad __str__": (
        "class E(Exception):\n        def __str__(self): raise ValueError\n    raise E()",
        "raised E",
    ),
}
# What it returns instead of a gradient (roles whose result is read as an array).
RESULTS = {
    "None": ("None", "returned None"),
    "complex": ("x * 1j", "complex"),
    "complex tensor": ("torch.ones(x.shape, dtype=torch.complex128)", "complex"),
    "meta tensor": ("torch.empty(x.shape, device='meta')", "meta device"),
    "bad __float__": ("[Bad()] * x.size", "not an array of real numbers"),
    "huge int": ("[10**400] * x.size", "too large for a float"),
    "text": ("'text'", "returned str, not an array"),
    "strings": ("np.array(['a'] * x.size)", "not of numbers"),
    "wrong shape": ("np.zeros(x.size + 1)", "returned shape"),
}

MODULE = """
import numpy as np
import torch


class Bad:
    def __float__(self):
        raise RuntimeError("no float")


def forward(x):
    {forward}
    return np.sin(x)


def grad(x):
    {grad}
    return np.cos(x)


def vjp(x, g):
    {vjp}
    return g * np.cos(x)


class Function(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.sin(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        {backward}
        return g * torch.cos(x)
"""

ROLES = {
    "forward": (["{d}/user.py:forward", "--grad", "grad"], "the forward"),
    "grad": (["{d}/user.py:forward", "--grad", "grad"], "your grad"),
    "vjp": (["{d}/user.py:forward", "--vjp", "vjp"], "your vjp"),
    "backward": (["{d}/user.py:Function"], "your backward"),
}


def write_module(tmp_path, role, code):
    bodies = dict.fromkeys(("forward", "grad", "vjp", "backward"), "pass")
    bodies[role] = code.replace("\n    ", "\n        ") if role == "backward" else code
    (tmp_path / "user.py").write_text(MODULE.format(**bodies))
    return tmp_path


def run(tmp_path, role, *extra):
    args = [a.format(d=tmp_path) for a in ROLES[role][0]]
    return CliRunner().invoke(cli, ["check", *args, "--shape", "3", *extra])


@pytest.mark.parametrize("role", list(ROLES))
@pytest.mark.parametrize("case", list(MISBEHAVIOURS))
def test_anything_the_users_code_raises_is_one_line_naming_it(tmp_path, role, case):
    code, message = MISBEHAVIOURS[case]
    write_module(tmp_path, role, code)
    result = run(tmp_path, role)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert ROLES[role][1] in lines[0] or role == "forward"
    assert message in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("role", ["grad", "vjp", "backward"])
@pytest.mark.parametrize("case", list(RESULTS))
def test_anything_but_a_real_array_is_one_line(tmp_path, role, case):
    value, message = RESULTS[case]
    if role == "backward":
        value = value.replace("x.size", "x.numel()").replace("np.zeros", "torch.zeros")
    write_module(tmp_path, role, f"return {value}")
    result = run(tmp_path, role)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert message in result.stderr


def test_a_forward_returning_nonsense_is_one_line(tmp_path):
    for value, _ in RESULTS.values():
        if "x.size + 1" in value:
            continue
        (tmp_path / "user.py").write_text(
            MODULE.format(forward=f"return {value}", grad="pass", vjp="pass", backward="pass")
        )
        import importlib

        from gradcli.commands.check import target as check_target

        check_target._MODULES.clear()
        importlib.invalidate_caches()
        result = run(tmp_path, "forward")
        assert result.exit_code == 2, (value, result.output)
        assert result.stdout == ""
        assert "Traceback" not in result.stderr


def test_ctrl_c_in_the_users_code_stays_130(tmp_path, capsys):
    write_module(tmp_path, "vjp", "raise KeyboardInterrupt")
    with pytest.raises(SystemExit) as info:
        main(["check", f"{tmp_path}/user.py:forward", "--vjp", "vjp", "--shape", "3"])
    assert info.value.code == 130
    assert capsys.readouterr().err.strip() == "gradcli: interrupted"


@pytest.mark.parametrize("role", list(ROLES))
def test_prints_go_to_stderr_and_json_stays_valid(tmp_path, role):
    write_module(tmp_path, role, "print('hello from', 'user code', [1, 2])")
    result = run(tmp_path, role, "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["ok"] is True
    assert "hello from user code [1, 2]" in result.stderr


def test_a_closed_pipe_while_user_code_prints_is_not_the_forwards_error(tmp_path):
    write_module(tmp_path, "forward", "print('x' * 1000)")
    script = (
        f"gradcli check {tmp_path}/user.py:forward --grad grad --shape 40 --json --full"
        " | head -c 10 >/dev/null; echo status=${PIPESTATUS[0]}"
    )
    done = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert "raised BrokenPipeError" not in done.stderr
    assert done.stdout.strip() in ("status=0", "status=141"), done.stdout + done.stderr
    closed = subprocess.run(
        [
            sys.executable,
            "-m",
            "gradcli",
            "check",
            f"{tmp_path}/user.py:forward",
            "--grad",
            "grad",
            "--shape",
            "3",
            "--quiet",
        ],
        stderr=subprocess.DEVNULL,
        capture_output=False,
        stdout=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )
    assert closed.returncode == 0


def test_debug_shows_the_traceback_of_a_sys_exit(tmp_path, capsys):
    write_module(tmp_path, "backward", "import sys; sys.exit(0)")
    with pytest.raises(SystemExit) as info:
        main(["check", f"{tmp_path}/user.py:Function", "--shape", "3", "--debug"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" in err
    assert "sys.exit(0)" in err


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        ("np.zeros((3, 5))", "returned shape (3, 5) = (inputs, outputs): it is transposed"),
        ("np.zeros((5, 3, 1))", "returned shape (5, 3, 1), expected (5, 3) = (outputs, inputs)"),
        ("np.zeros(15)", "returned shape (15,), expected (5, 3)"),
    ],
)
def test_a_jacobian_of_any_other_shape_is_named_never_reshaped(tmp_path, returned, message):
    (tmp_path / "jac.py").write_text(
        textwrap.dedent(f"""
        import numpy as np
        A = np.arange(15.0).reshape(5, 3)
        def forward(x):
            return A @ x
        def jacobian(x):
            return {returned}
        """)
    )
    result = CliRunner().invoke(
        cli, ["check", f"{tmp_path}/jac.py:forward", "--jacobian", "jacobian", "--shape", "3"]
    )
    assert result.exit_code == 2, result.output
    assert message in result.stderr


def test_a_jacobian_as_y_shape_plus_x_shape_is_accepted(tmp_path):
    import numpy as np

    import gradcli

    a = np.arange(1.0, 7.0).reshape(2, 3)
    report = gradcli.check(
        lambda x: a @ x,
        jacobian=lambda x: np.einsum("ij,kl->ikjl", a, np.eye(4)),
        shape=(3, 4),
        backends=["fd"],
    )
    assert report.ok


def test_grad_is_refused_for_a_forward_that_is_not_elementwise(tmp_path):
    import numpy as np

    import gradcli
    from gradcli.errors import InputError

    with pytest.raises(InputError, match=r"--grad is for elementwise functions.*maps"):
        gradcli.check(lambda x: np.sum(x) * np.ones(2), grad=lambda x: x, shape=(3,))


def test_a_target_may_import_the_modules_beside_it(tmp_path):
    (tmp_path / "helpers_beside.py").write_text("import numpy as np\nSIN = np.sin\nCOS = np.cos\n")
    (tmp_path / "target.py").write_text(
        "from helpers_beside import SIN, COS\ndef f(x):\n    return SIN(x)\n"
        "def d(x):\n    return COS(x)\n"
    )
    result = CliRunner().invoke(
        cli, ["check", f"{tmp_path}/target.py:f", "--grad", "d", "--shape", "4"]
    )
    assert result.exit_code == 0, result.output


def test_user_code_runs_on_the_main_thread_one_call_at_a_time(tmp_path):
    import threading

    import numpy as np

    import gradcli

    seen, active = set(), []

    def forward(x):
        assert not active, "two calls at once"
        active.append(1)
        seen.add(threading.get_ident())
        active.pop()
        return np.tanh(x)

    assert gradcli.check(forward, grad=lambda x: 1 - np.tanh(x) ** 2, shape=(300,)).ok
    assert seen == {threading.main_thread().ident}
