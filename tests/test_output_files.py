"""--save, --plot and --dot write what they are given (issue 21, "Files"): a regular
file is replaced atomically, a symlink is followed to its target (and stays a symlink),
a FIFO or a device is written through (never replaced, never deleted), and a name that
cannot work is one line, exit 2. Each case runs the real console script."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

GRADCLI = str(Path(sys.executable).with_name("gradcli"))
SOFTMAX = ["softmax", "3", "1", "-3", "--quiet"]
GRAPH = ["graph", "y = (a*a).sum()", "--rand", "a=3", "--quiet"]


def gradcli(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [GRADCLI, *argv], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def one_error(run: subprocess.CompletedProcess[str]) -> str:
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


REFUSED = {  # argv -> what the one line says
    "--dot ''": ([*GRAPH, "--dot", ""], "--dot '': give a file name"),
    "--plot ''": ([*SOFTMAX, "--plot", ""], "--plot '': give a file name"),
    "--save ''": ([*SOFTMAX, "--save", ""], "--save '': give a file name"),
    "--dot X --plot X": ([*GRAPH, "--dot", "g.png", "--plot", "g.png"], "name the same file"),
    "--dot X --save X": ([*GRAPH, "--dot", "g.npz", "--save", "g.npz"], "name the same file"),
    "--plot on a symlink loop": ([*SOFTMAX, "--plot", "loop.png"], "symbolic links"),
    "--save on a symlink loop": ([*SOFTMAX, "--save", "loop.npz"], "symbolic links"),
    "--dot on a folder": ([*GRAPH, "--dot", "folder"], "is a folder"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_name_that_cannot_work_is_one_line(case, tmp_path):
    argv, says = REFUSED[case]
    for a, b in (("loop.png", "loop2.png"), ("loop.npz", "loop2.npz")):
        os.symlink(b, tmp_path / a)
        os.symlink(a, tmp_path / b)
    (tmp_path / "folder").mkdir()
    line = one_error(gradcli(*argv, cwd=tmp_path))
    assert says in line, line
    assert not list(tmp_path.glob(".*tmp"))


@pytest.mark.parametrize("option", ["--save", "--dot"])
def test_a_symlink_is_followed_to_its_target(option, tmp_path):
    name = "out.npz" if option == "--save" else "out.dot"
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / name).write_text("old")
    os.symlink(f"real/{name}", tmp_path / name)
    run = gradcli(*(SOFTMAX if option == "--save" else GRAPH), option, name, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / name).is_symlink()  # still the user's symlink
    written = (tmp_path / "real" / name).read_bytes()
    assert written != b"old"
    if option == "--save":
        assert "fd.jacobian" in np.load(tmp_path / "real" / name).files
    else:
        assert written.startswith(b"digraph")
    assert not list(tmp_path.rglob(".*tmp"))


def test_a_fifo_is_written_through(tmp_path):
    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    run = gradcli(*SOFTMAX, "--save", str(fifo), cwd=tmp_path)
    reader.join(timeout=60)
    assert run.returncode == 0, run.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # not replaced by a regular file
    (tmp_path / "got.npz").write_bytes(received[0])
    assert "numpy.jacobian" in np.load(tmp_path / "got.npz").files


def test_dev_null_is_written_through_never_replaced(tmp_path):
    before = os.stat("/dev/null")
    run = gradcli(*GRAPH, "--dot", "/dev/null", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode)
    assert (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)


def test_a_symlink_to_stdout_writes_to_stdout(tmp_path):
    os.symlink("/proc/self/fd/1", tmp_path / "out.dot")
    run = gradcli(*GRAPH, "--dot", "out.dot", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "out.dot").is_symlink()
    assert run.stdout.startswith("digraph")


def test_a_240_character_file_name_works(tmp_path):
    name = "a" * 236 + ".npz"  # 240 bytes: the temporary's name must still fit in 255
    run = gradcli(*SOFTMAX, "--save", name, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "numpy.softmax" in np.load(tmp_path / name).files
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]
