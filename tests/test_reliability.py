"""Hostile input, limits and faults end in a clear error, never a traceback or a wrong "ok"."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradcli.cli import cli, main

VOCABULARY = [
    "softmax",
    "layer",
    "graph",
    "--json",
    "--backend",
    "numpy",
    "fd",
    "numpy,fd",
    "torch,fd",
    "--dtype",
    "float32",
    "float64",
    "float16",
    "--temperature",
    "--seed",
    "--in-features",
    "--out-features",
    "--batch",
    "--loss",
    "ce",
    "mse",
    "sum",
    "output",
    "hinge",
    "--target",
    "--targets",
    "0,1",
    "--index",
    "--explain",
    "W[0,0]",
    "b[1]",
    "x[0]",
    "x[9,9]",
    "--spec",
    "-",
    "--input",
    "missing.npy",
    "--rtol",
    "--atol",
    "--precision",
    "--rand",
    "a=3",
    "a=2x2",
    "a=0",
    "--var",
    "a=[1, 2]",
    "a=[[1], [2, 3]]",
    "y = a * 2",
    "y = a.sum()",
    "y = log(a)",
    "y = a @ a",
    "y = softmax(a, dim=5)",
    "-f",
    "--",
    "-3",
    "0",
    "1",
    "3",
    "2.5",
    "-inf",
    "nan",
    "1e999",
    "100000",
    "-1",
    "x",
    "",
    "--help",
    "--version",
    "--bogus",
    "-h",
]
STDIN = st.one_of(
    st.none(),
    st.sampled_from(
        ["[3, 1, -3]", "3 1 -3", "[NaN]", "", "{", '{"W": [[1]], "b": [0], "x": [1]}', "\x00\xff"]
    ),
    st.text(max_size=30),
)


def exit_status(result):
    return result.exit_code


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(VOCABULARY), max_size=8),
    STDIN,
    st.sampled_from(["softmax", "layer", "graph"]),
)
def test_random_arguments_never_crash(args, stdin, command):
    runner = CliRunner()
    here = os.getcwd()
    with tempfile.TemporaryDirectory() as scratch:  # --save and -f stay in here
        os.chdir(scratch)
        try:
            result = runner.invoke(cli, [command, *args], input=stdin)
        finally:
            os.chdir(here)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert exit_status(result) in (0, 1, 2), (args, result.output)
    assert "Traceback" not in result.output


CATALOGUE = [
    ["softmax", "3", "x"],
    ["softmax", "--input", "missing.npy"],
    ["softmax", "3", "1", "--bogus"],
    ["softmax", "3", "--dtype", "float16"],
    ["softmax", "1e999"],
    ["layer", "--in-features", "0"],
    ["layer", "--seed", "-1"],
    ["layer", "--seed", "1.5"],
    ["layer", "--target", "7"],
    ["layer", "--in-features", "100000", "--out-features", "100000"],
    ["layer", "--explain", "q[0]"],
    ["graph", "y = __import__('os')", "--var", "a=[1]"],
    ["graph", "y = a / b", "--var", "a=[1, 2]", "--var", "b=[1, 2, 3]"],
    ["graph", "y = a", "--rand", "a=100000x100000"],
    ["graph", "y = (" * 1000 + "a" + ")" * 1000, "--var", "a=[1]"],
    ["graph", "y = a * 2\n" * 50_000, "--var", "a=[1]"],
    ["nosuchcommand"],
]


@pytest.mark.parametrize("argv", CATALOGUE, ids=lambda a: " ".join(a)[:40])
def test_every_user_error_is_one_line_exit_2_nothing_on_stdout(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    out, err = capsys.readouterr()
    assert info.value.code == 2
    assert out == ""
    assert err.count("\n") == 1, err
    assert err.startswith("Error: ")


def run_cli(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "gradcli", *args], capture_output=True, **kwargs)


@pytest.mark.parametrize(
    "args",
    [
        ["softmax", "3", "1", "-3", "--json"],
        ["layer", "--seed", "7", "--batch", "3", "--json"],
        ["layer", "--seed", "7"],
        [
            "graph",
            "b = a.sum(0, keepdim=True); c = a / b; y = w @ c",
            "--rand",
            "w=4x10",
            "--rand",
            "a=10x10",
            "--json",
        ],
    ],
)
def test_same_command_same_bytes(args):
    first, second = run_cli(*args), run_cli(*args)
    assert first.returncode == second.returncode == 0
    assert first.stdout == second.stdout


def test_non_finite_results_keep_stderr_clean_json_strict_and_exit_1():
    proc = run_cli("graph", "c = log(a); y = c * 2", "--var", "a=[0, 1]", "--json", text=True)
    assert proc.returncode == 1
    assert proc.stderr == ""
    doc = json.loads(proc.stdout)  # strict: no NaN or Infinity tokens
    assert doc["ok"] is False
    assert doc["results"]["numpy"]["values"]["c"] == [None, 0.0]
    assert {
        "quantity": "c",
        "trial": None,
        "id": "values.c",
        "backend": "numpy",
        "count": 1,
        "first_index": [0],
    } in doc["non_finite"]
    assert "values first stop being finite at c = log(a)" in doc["notes"]
    table = run_cli("graph", "c = log(a); y = c * 2", "--var", "a=[0, 1]", text=True)
    assert table.returncode == 1
    assert "-inf" in table.stdout
    assert table.stderr == ""


def test_the_fast_exit_delivers_all_output_and_the_status():
    # With torch loaded the process leaves through os._exit (skipping 0.4 s of Python
    # finalization): buffered stdout must still arrive whole, and the status be kept.
    z = [str(v) for v in np.linspace(-2, 2, 200)]  # a JSON of about 1 MB through a pipe
    proc = run_cli("softmax", *z, "--json", "--rtol", "0", "--atol", "0", text=True)
    assert proc.returncode == 1  # fd is never exact: a disagreement
    doc = json.loads(proc.stdout)
    assert len(doc["results"]["numpy"]["jacobian"]) == 200
    assert doc["ok"] is False
    assert proc.stderr == ""


def test_ctrl_c_ends_with_130_and_no_traceback(tmp_path):
    z = tmp_path / "z.npy"
    np.save(z, np.random.default_rng(0).normal(size=8192))
    proc = subprocess.Popen(
        [sys.executable, "-m", "gradcli", "softmax", "--input", str(z), "--json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    time.sleep(3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert b"Traceback" not in err
    assert err.strip().endswith(b"gradcli: interrupted")


def test_a_write_error_is_reported_with_74():
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "gradcli", "softmax", "3", "1"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
        )
    assert proc.returncode == 74
    assert proc.stderr == "Error: cannot write the output: No space left on device\n"
