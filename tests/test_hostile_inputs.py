"""Hostile inputs from the #21 sweep that reached a traceback: each is now one `Error:`
line and exit status 2, or answered exactly as numpy and torch answer it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from gradcli.cli import cli

pytest.importorskip("torch")


def run(*args: str, stdin: str | None = None):
    return CliRunner(env={"COLUMNS": "80"}).invoke(cli, list(args), input=stdin)


def refused(*args: str, stdin: str | None = None) -> str:
    result = run(*args, stdin=stdin)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


@given(st.integers(10_000_001, 2**63 - 1))
@settings(max_examples=20, deadline=None)
def test_a_slice_step_past_any_axis_is_refused(step):
    line = refused("graph", f"y = a[::{step}]", "--var", "a=[1, 2, 3]")
    assert f"the slice step {step} is past any axis" in line


def test_a_long_slice_step_within_the_limit_takes_the_first_entry():
    result = run("graph", "y = a[::10000000].sum()", "--var", "a=[5, 2, 3]", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["results"]["torch"]["values"]["y"] == 5.0
    assert doc["results"]["numpy"]["grads"]["a"] == [1.0, 0.0, 0.0]


@pytest.mark.parametrize("rows", [2**62, 2**63 - 1, 2**61 + 1])
def test_reshaping_an_empty_array_to_an_impossible_shape_is_refused(rows):
    line = refused("graph", f"y = a.reshape({rows}, 0).sum()", "--var", "a=[]")
    assert "no array has an axis that long" in line


def test_reshaping_an_empty_array_to_a_possible_empty_shape_works():
    result = run("graph", "y = a.reshape(1024, 0).sum()", "--var", "a=[]", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["results"]["numpy"]["values"]["y"] == 0.0


LAYER = {"W": [[1, 2], [3, 4]], "b": [0, 0], "x": [[1, 2], [3, 4]]}


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ({"targets": 5}, "unknown key 'targets'"),
        ({"targets": [0, 1]}, 'targets go in the loss: {"kind": "ce", "targets": [0, 1]}'),
        ({"los": {"kind": "ce"}}, "unknown key 'los'"),
        ({"loss": {"kind": "ce", "targets": 5}}, "targets 5: one class per row, as a list"),
        ({"loss": {"kind": "ce", "targets": "01"}}, "targets '01': one class per row"),
        ({"loss": {"kind": "ce", "tagret": 1}}, "loss: unknown key 'tagret'"),
    ],
)
def test_a_layer_spec_with_a_misplaced_or_misspelt_key_is_refused(extra, says):
    line = refused("layer", "--spec", "-", stdin=json.dumps({**LAYER, **extra}))
    assert says in line


def test_a_layer_spec_with_targets_in_the_loss_runs():
    spec = {**LAYER, "loss": {"kind": "ce", "targets": [0, 1]}}
    result = run("layer", "--spec", "-", "--json", stdin=json.dumps(spec))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["inputs"]["loss"]["targets"] == [0, 1]


def test_layer_json_output_still_reads_back_as_a_spec():
    out = run("layer", "--seed", "42", "--json").stdout
    result = run("layer", "--spec", "-", "--json", stdin=out)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["inputs"]["W"] == json.loads(out)["inputs"]["W"]


@pytest.mark.parametrize(
    ("program", "value"), [("y = a @ a", "[]"), ("y = (a @ a.T).sum()", "[[]]")]
)
@pytest.mark.parametrize("view", [(), ("--detail",), ("--heatmap",), ("--quiet",)])
def test_an_empty_matmul_is_zero_with_an_empty_gradient(program, value, view):
    result = run("graph", program, "--var", f"a={value}", *view)
    assert result.exit_code == 0, result.output
    doc = json.loads(run("graph", program, "--var", f"a={value}", "--json").stdout)
    assert doc["results"]["torch"]["values"]["y"] == 0.0
    assert doc["results"]["numpy"]["grads"]["a"] == json.loads(value)


@pytest.mark.parametrize("command", [["softmax", "3", "1", "-3"], ["graph", "y = (a * a).sum()"]])
def test_plot_with_a_home_that_cannot_be_written_is_quiet_and_leaves_nothing(tmp_path, command):
    """A read-only or missing HOME: matplotlib would warn twice and leave /tmp/matplotlib-*.
    /proc/nohome cannot be made even by root."""
    pytest.importorskip("matplotlib")
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("MPLCONFIGDIR", "XDG_CONFIG_HOME")}
    env.update(HOME="/proc/nohome", TMPDIR=str(temp), COLUMNS="80")
    args = [*command, "--var", "a=[1, 2]"] if command[0] == "graph" else command
    done = subprocess.run(
        [sys.executable, "-m", "gradcli", *args, "--plot", str(tmp_path / "out.png")],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [f"gradcli: plotted to {tmp_path / 'out.png'}"]
    assert (tmp_path / "out.png").stat().st_size > 1000
    assert list(temp.iterdir()) == []


@pytest.mark.parametrize("args", [["softmax", "3", "1", "-3"], ["layer", "--seed", "1", "--json"]])
def test_a_deleted_current_folder_is_one_error_line(tmp_path, args):
    """torch's MKL printed its own fatal error (exit 2 with no Error: line) there."""
    gone = tmp_path / "gone"
    gone.mkdir()
    code = (
        "import os, sys; os.chdir(sys.argv[1]); os.rmdir(sys.argv[1]); "
        "from gradcli.cli import main; main(sys.argv[2:])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(gone), *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == "Error: the current folder no longer exists; cd to one that does\n"


def limited(kib: int, *args: str) -> subprocess.CompletedProcess[str]:
    def limit() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (kib * 1024, kib * 1024))

    return subprocess.run(
        [sys.executable, "-m", "gradcli", *args],
        preexec_fn=limit, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_too_little_address_space_for_torch_is_one_error_line():
    done = limited(500_000, "softmax", "3", "1", "-3")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("Error: torch could not be loaded: ")
    assert len(done.stderr.splitlines()) == 1


def test_running_out_of_memory_after_the_prediction_is_one_error_line():
    """numpy without torch: a 3000-logit softmax's Jacobians under a 200 MB limit."""
    done = limited(200_000, "softmax", "--backend", "numpy,fd", *map(str, range(3000)))
    assert done.returncode == 2, done.stderr
    assert done.stderr == "Error: out of memory: the run needs more than this process may use\n"


def test_chunks_run_on_the_calling_thread_when_no_thread_can_start(monkeypatch):
    """Under ulimit -v a thread's stack may not be had: "can't start new thread" was a
    RuntimeError (exit 70); the caller does the work itself instead."""
    import threading

    from gradcli import parallel

    def refuse(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(parallel, "WORKERS", 4)
    monkeypatch.setattr(threading.Thread, "start", refuse)
    assert parallel.map_chunks(lambda k: k * k, list(range(50))) == [k * k for k in range(50)]
