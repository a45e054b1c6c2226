"""What a shell user meets before running anything: completion in bash, zsh and fish
(click's protocol: `_GRADCLI_COMPLETE=<shell>_source` prints the script, the script asks
`_GRADCLI_COMPLETE=<shell>_complete` with COMP_WORDS and COMP_CWORD), and every --help
fitting 80 columns with its examples pasteable (one line, or continued with ` \\`)."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
SCRIPT = ROOT / "scripts" / "gradcli"
COMMANDS = ["softmax", "layer", "graph", "check"]


def gradcli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The installed command's own script (its stdout handling is what is tested)."""
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        timeout=60,
    )


def complete(shell: str, words: str, cword: str) -> list[str]:
    proc = gradcli(
        env={"_GRADCLI_COMPLETE": f"{shell}_complete", "COMP_WORDS": words, "COMP_CWORD": cword}
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    return proc.stdout.splitlines()


@pytest.mark.parametrize(
    ("shell", "names"),
    [
        ("bash", ["_gradcli_completion()", "complete -o nosort -F _gradcli_completion gradcli"]),
        ("zsh", ["#compdef gradcli", "_gradcli_completion()", "zsh_complete"]),
        ("fish", ["function _gradcli_completion", "complete --no-files --command gradcli"]),
    ],
)
def test_the_completion_script_is_printed(shell, names):
    proc = gradcli(env={"_GRADCLI_COMPLETE": f"{shell}_source"})
    assert proc.returncode == 0, proc.stderr
    assert f"_GRADCLI_COMPLETE={shell}_complete" in proc.stdout
    for name in names:
        assert name in proc.stdout, proc.stdout


def test_bash_completes_commands_options_choices_and_files():
    assert complete("bash", "gradcli so", "1") == ["plain,softmax"]
    assert complete("bash", "gradcli", "1") == [f"plain,{c}" for c in sorted(COMMANDS)]
    assert complete("bash", "gradcli softmax 3 -1 --te", "4") == ["plain,--temperature"]
    assert complete("bash", "gradcli layer --loss m", "3") == ["plain,mse"]
    assert complete("bash", "gradcli softmax --save ou", "3") == ["file,ou"]  # the shell's files


def test_zsh_completes_with_the_help_of_each_candidate():
    # zsh's lines come in threes: type, value, help ("_" for none)
    assert complete("zsh", "gradcli softmax --dtype ", "3") == [
        "plain", "float64", "_", "plain", "float32", "_",
    ]  # fmt: skip
    lines = complete("zsh", "gradcli check --hv", "2")
    assert lines[:2] == ["plain", "--hvp"]
    assert lines[2].startswith("Your Hessian-vector product")


def test_fish_completes_the_token_under_the_cursor():
    # fish passes the command line up to the cursor and the token being completed
    lines = complete("fish", "gradcli layer --lo", "--lo")
    assert len(lines) == 1
    assert lines[0].startswith("plain,--loss\tce (cross-entropy)")
    graph = "plain,graph\tEvery gradient of a small tensor program."
    assert complete("fish", "gradcli gr", "gr") == [graph]


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_bash_itself_completes_through_the_sourced_script(tmp_path):
    """The whole path: bash sources the script, its function runs `gradcli` (a stand-in
    on PATH that runs this tree) and fills COMPREPLY."""
    stand_in = tmp_path / "gradcli"
    stand_in.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{SCRIPT}" "$@"\n')
    stand_in.chmod(0o755)
    script = (
        'eval "$(_GRADCLI_COMPLETE=bash_source gradcli)"\n'
        "COMP_WORDS=(gradcli graph --ra); COMP_CWORD=2\n"
        "_gradcli_completion gradcli\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        ["bash", "--norc", "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["--rand"]


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_every_help_fits_80_columns_and_its_examples_paste(command):
    proc = gradcli(*([command] if command else []), "--help", env={"COLUMNS": "80"})
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    too_wide = [line for line in lines if len(line) > 80]
    assert not too_wide, too_wide
    examples = proc.stdout.split("Examples:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert examples[0].lstrip().startswith("gradcli ")
    for before, line in itertools.pairwise(examples):
        # a line is a command of its own, or the continuation of one ending in " \"
        assert line.lstrip().startswith(("gradcli ", "echo ")) or before.endswith(" \\"), line
