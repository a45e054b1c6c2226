"""User code under `gradcli check` runs in a worker process (issue 21): whatever it does
there (exit, print below sys.stdout, fork, chdir, ignore SIGINT, patch gradcli, shadow
a library beside the target, crash, hang) changes neither the verdict, the output nor
the exit status, and a worker that dies is one line naming the phase with the input
that reproduces it saved.

Every case runs the real entry point (`python -m gradcli check …` in a subprocess) on a
user file made from a table: a hostile behaviour placed in the import, the forward or
the derivative, with a derivative that is right or wrong, with and without --json.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

RIGHT = "return 2 * (1 - np.tanh(2 * x) ** 2)"
WRONG = "return 1 - np.tanh(2 * x) ** 2"  # forgot the chain factor

# A behaviour: code run at a place. "ends" means the worker dies there (exit 2, one
# line); otherwise the check goes on and its verdict stands.
BEHAVIOURS: dict[str, tuple[str, bool]] = {
    "os._exit(0)": ("os._exit(0)", True),
    "os._exit(3)": ("os._exit(3)", True),
    "sys.exit(0)": ("sys.exit(0)", False),  # an exception: one line, as before (exit 2)
    "write to fd 1": ("os.write(1, b'OK: forged\\n{}\\n')", False),
    "sys.__stdout__": ("sys.__stdout__.write('OK: forged\\n'); sys.__stdout__.flush()", False),
    "a subprocess prints": ("subprocess.run(['echo', 'OK: forged'])", False),
    "chdir": ("os.chdir('/')", False),
    "ignore SIGINT": ("signal.signal(signal.SIGINT, signal.SIG_IGN)", False),
    "patch the report": (
        "import gradcli.report; gradcli.report.Report.ok = property(lambda s: True)",
        False,
    ),
    "patch the judge": ("import gradcli.core; gradcli.core.judge = None", False),
    "segfault": ("import ctypes; ctypes.string_at(0)", True),
    "abort": ("os.abort()", True),
    "SIGKILL itself": ("os.kill(os.getpid(), signal.SIGKILL)", True),
    # an interruption (130), whatever its signum says (it once picked exit status 0)
    "KeyboardInterrupt with signum -128": ("raise type('K', (KeyboardInterrupt,), "
                                           "{'signum': -128})()", False),
    "an exception whose str exits": (
        "raise type('E', (Exception,), {'__str__': lambda s: os._exit(0)})()",
        True,
    ),
    "a thread exits": (
        "threading.Thread(target=lambda: os._exit(0)).start(); time.sleep(5)",
        True,
    ),
}  # fmt: skip
PLACES = ("import", "forward", "derivative")


def user_file(folder: Path, behaviour: str, place: str, derivative: str) -> Path:
    code = BEHAVIOURS[behaviour][0]
    at = {p: (code if p == place else "pass") for p in PLACES}
    source = f"""
    import os, signal, subprocess, sys, threading, time
    import numpy as np
    {at["import"]}
    def f(x):
        {at["forward"]}
        return np.tanh(2 * x)
    def g(x):
        {at["derivative"]}
        {derivative}
    """
    path = folder / "target.py"
    path.write_text(textwrap.dedent(source))
    return path


def gradcli(*argv: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "80"}
    return subprocess.run(
        [sys.executable, "-m", "gradcli", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


CASES = [
    pytest.param(b, p, right, as_json, id=f"{b}-{p}-{'right' if right else 'wrong'}-{as_json}")
    for b, (_, ends) in BEHAVIOURS.items()
    for p in PLACES
    for right, as_json in ((False, True), (True, False))
    # the import does not depend on the derivative; a process that ends has no verdict
    if not (right and (p == "import" or ends))
]
HOSTILE_CASES = len(CASES)  # counted in the report of issue 21


@pytest.mark.parametrize(("behaviour", "place", "right", "as_json"), CASES)
def test_user_code_cannot_change_the_verdict_output_or_status(
    behaviour, place, right, as_json, tmp_path
):
    ends = BEHAVIOURS[behaviour][1]
    user_file(tmp_path, behaviour, place, RIGHT if right else WRONG)
    argv = ["check", "target.py:f", "--grad", "g", "--shape", "3", "--trials", "1"]
    run = gradcli(*argv, *(["--json"] if as_json else []), cwd=tmp_path)
    raises = behaviour == "sys.exit(0)"
    if behaviour.startswith("KeyboardInterrupt"):
        assert (run.returncode, run.stdout) == (130, ""), run.stderr
        assert run.stderr.strip().endswith("gradcli: interrupted")
        return
    if ends or raises:
        assert run.returncode == 2, run.stderr
        assert run.stdout == ""
        errors = [line for line in run.stderr.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1, run.stderr
        if ends:
            phase = {"import": "importing", "forward": "running the forward",
                     "derivative": "running your grad (trial 0)"}[place]  # fmt: skip
            assert phase in errors[0], errors[0]
        return
    assert run.returncode == (0 if right else 1), run.stderr
    if as_json:
        report = json.loads(run.stdout)  # parses: nothing of the user's on stdout
        assert report["ok"] is right
    else:
        assert "forged" not in run.stdout
        assert ("OK:" if right else "DISAGREE") in run.stdout
    if "forged" in BEHAVIOURS[behaviour][0]:
        assert "[your code] OK: forged" in run.stderr  # theirs, marked as theirs


def test_a_dead_worker_saves_the_input_that_reproduces_it(tmp_path):
    (tmp_path / "target.py").write_text(
        textwrap.dedent("""
        import os
        import numpy as np
        def f(x):
            return np.tanh(x)
        def g(x):
            if x[0] > 0.5:
                os._exit(7)
            return 1 - np.tanh(x) ** 2
        """)
    )
    run = gradcli("check", "target.py:f", "--grad", "g", "--input", "x=x.json", cwd=tmp_path)
    assert run.returncode == 2  # x.json does not exist: the input's error, one line
    (tmp_path / "x.json").write_text("[0.9, 0.1]")
    run = gradcli("check", "target.py:f", "--grad", "g", "--input", "x=x.json", cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    (line,) = [x for x in run.stderr.splitlines() if x.startswith("Error:")]
    assert "running your grad (trial 0): its process exited with status 7" in line
    saved = re.search(r"--input x=(\S+\.npy)", line)
    assert saved, line
    np.testing.assert_array_equal(np.load(saved.group(1)), [0.9, 0.1])
    again = gradcli("check", "target.py:f", "--grad", "g", "--input", f"x={saved.group(1)}",
                    cwd=tmp_path)  # fmt: skip
    assert again.returncode == 2
    assert "exited with status 7" in again.stderr


def test_a_hang_is_ended_by_the_timeout(tmp_path):
    (tmp_path / "target.py").write_text(
        "import time\nimport numpy as np\n"
        "def f(x):\n    return np.tanh(x)\n"
        "def g(x):\n    time.sleep(600)\n"
    )
    start = time.monotonic()
    argv = ["check", "target.py:f", "--grad", "g", "--shape", "3", "--timeout", "3"]
    run = gradcli(*argv, cwd=tmp_path)
    assert time.monotonic() - start < 100
    assert run.returncode == 2, run.stderr
    assert "running your grad (trial 0): it ran past --timeout 3 s" in run.stderr


def test_a_forked_child_that_sleeps_does_not_hold_the_output(tmp_path):
    """`gradcli check … | jq` ends when gradcli does: the child has the worker's pipes."""
    (tmp_path / "target.py").write_text(
        "import os, time\nimport numpy as np\n"
        "if os.fork() == 0:\n    time.sleep(60)\n    os._exit(0)\n"
        "def f(x):\n    return np.tanh(x)\n"
        "def g(x):\n    return 1 - np.tanh(x) ** 2\n"
    )
    start = time.monotonic()
    run = gradcli("check", "target.py:f", "--grad", "g", "--shape", "3", "--json", cwd=tmp_path)
    assert time.monotonic() - start < 50  # communicate() read stdout to its end
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["ok"] is True


@pytest.mark.parametrize("library", ["rich", "orjson", "shlex", "numpy_helpers"])
def test_a_module_beside_the_target_shadows_nothing_of_gradcli(library, tmp_path):
    (tmp_path / f"{library}.py").write_text("import os\nos._exit(9)\n")
    (tmp_path / "target.py").write_text(
        "import numpy as np\n"
        "def f(x):\n    return np.tanh(x)\n"
        "def g(x):\n    return 1 - np.tanh(x) ** 2\n"
    )
    run = gradcli("check", "target.py:f", "--grad", "g", "--shape", "3", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "OK:" in run.stdout


def test_chdir_in_user_code_does_not_move_the_files(tmp_path):
    (tmp_path / "target.py").write_text(
        "import os\nimport numpy as np\n"
        "def f(x):\n    os.chdir('/')\n    return np.tanh(x)\n"
        "def g(x):\n    return 1 - np.tanh(x) ** 2\n"
    )
    argv = ["check", "target.py:f", "--grad", "g", "--shape", "3", "--save", "out.npz"]
    run = gradcli(*argv, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert (
        sorted(p.name for p in tmp_path.iterdir()) == ["out.npz", "target.py"]
        or (tmp_path / "out.npz").is_file()
    )
    assert not list(tmp_path.glob(".*.tmp"))


def test_ctrl_c_ends_a_worker_that_ignores_it(tmp_path):
    (tmp_path / "target.py").write_text(
        "import signal, time\nimport numpy as np\n"
        "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "def f(x):\n    return np.tanh(x)\n"
        "def g(x):\n    time.sleep(600)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "gradcli", "check", "target.py:f", "--grad", "g", "--shape", "3"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:  # until the worker is in the derivative
        time.sleep(0.5)
        children = subprocess.run(
            ["pgrep", "-P", str(process.pid)], capture_output=True, text=True
        ).stdout.split()
        if children and _in_sleep(children[0]):
            break
    process.send_signal(signal.SIGINT)
    start = time.monotonic()
    out, err = process.communicate(timeout=30)
    assert time.monotonic() - start < 10
    assert process.returncode == 130, err
    assert out == ""
    assert (children and not Path(f"/proc/{children[0]}").exists()) or _zombie(children[0])


def _in_sleep(pid: str) -> bool:
    """The worker has loaded the target (it has a thread waiting in the derivative)."""
    try:
        return (
            "nanosleep" in Path(f"/proc/{pid}/wchan").read_text()
            or "hrtimer" in Path(f"/proc/{pid}/wchan").read_text()
        )
    except OSError:
        return False


def _zombie(pid: str) -> bool:
    try:
        return " Z " in Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
