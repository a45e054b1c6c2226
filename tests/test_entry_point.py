"""The `gradcli` command is scripts/gradcli, installed as it is: its first statement is
gradcli's, so a Ctrl-C at any moment after Python's own start-up is reported as gradcli
reports it (one line, 130), never as a traceback. (How often Python's start-up itself is
hit was measured, not tested: README, Reliability, Signals.)"""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
SCRIPT = ROOT / "scripts" / "gradcli"


def test_the_first_statement_of_the_script_puts_ctrl_c_in_gradcli_s_hands():
    tree = ast.parse(SCRIPT.read_text())
    first = tree.body[0]
    assert isinstance(first, ast.Try)  # no import before it: everything is inside
    assert [h.type.id for h in first.handlers] == ["KeyboardInterrupt"]
    assert SCRIPT.read_text().startswith("#!/usr/bin/env python")  # rewritten on install
    assert os.access(SCRIPT, os.X_OK)


def test_the_package_installs_the_script_not_a_generated_wrapper():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "scripts" not in project["project"]
    shared = project["tool"]["hatch"]["build"]["targets"]["wheel"]["shared-scripts"]
    assert shared == {"scripts/gradcli": "gradcli"}


def test_the_script_runs_gradcli():
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "softmax", "3", "1", "-3", "--backend=numpy,fd", "--quiet"],
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(b"OK: numpy and fd agree")


@pytest.mark.parametrize("where", ["gradcli/__init__.py", "gradcli/__main__.py"])
def test_ctrl_c_while_gradcli_is_imported_is_one_line_and_130(where, tmp_path):
    # a stand-in package, interrupted while it is imported, at the moment a real SIGINT
    # before gradcli's handlers would arrive
    (tmp_path / "gradcli").mkdir()
    for name in ("__init__.py", "__main__.py"):
        (tmp_path / "gradcli" / name).write_text("")
    (tmp_path / where).write_text("raise KeyboardInterrupt\n")
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "softmax", "3"],
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )
    assert proc.returncode == 130
    assert proc.stderr == b"gradcli: interrupted\n"
