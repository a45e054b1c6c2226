"""Closed and odd streams, signals, full disks and saves, through the real entry point
(`python -m gradcli` in a subprocess): exit statuses as the README documents them."""

import os
import resource
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

FAST = ["--backend", "numpy,fd"]  # no torch: 0.3 s a run instead of 2
COMMANDS = {
    "softmax": ["softmax", "3", "1", "-3", *FAST],
    "layer": ["layer", "--seed", "1", *FAST],
    "graph": ["graph", "y = a * a", "--var", "a=[1, 2]", *FAST],
}


def gradcli(*args, shell_suffix="", env=None, cwd=None):
    """Run gradcli through sh, so that redirections such as `>&-` are real."""
    command = " ".join([sys.executable, "-m", "gradcli", *(_quote(a) for a in args)])
    return subprocess.run(
        ["sh", "-c", command + shell_suffix],
        capture_output=True,
        # stderr buffered as on a stock machine: PYTHONUNBUFFERED hid a failing flush at exit
        env={**{k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}, **(env or {})},
        cwd=cwd,
    )


def _quote(arg):
    import shlex

    return shlex.quote(arg)


@pytest.mark.parametrize("output", ["--quiet", "--json", "--heatmap", ""])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_pipe_closed_early_is_0_or_141_never_1(command, output):
    args = [*COMMANDS[command], *([output] if output else [])]
    script = " ".join(_quote(a) for a in [sys.executable, "-m", "gradcli", *args])
    # `exec 3>&1` keeps nothing: `true` exits at once, so the pipe closes before the write
    proc = subprocess.run(
        ["bash", "-c", f"{script} | true; echo ${{PIPESTATUS[0]}}"], capture_output=True
    )
    assert int(proc.stdout) in (0, 141), proc.stderr
    assert proc.stderr == b""


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_closed_stdout_is_74_with_one_line(command):
    proc = gradcli(*COMMANDS[command], shell_suffix=" >&-")
    assert proc.returncode == 74
    assert proc.stderr == b"Error: cannot write the output: stdout is closed\n"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_closed_or_full_stderr_never_fails_a_run(command, tmp_path):
    closed = gradcli(*COMMANDS[command], "--save", str(tmp_path / "a.npz"), shell_suffix=" 2>&-")
    assert closed.returncode == 0
    assert closed.stdout
    full = gradcli(
        *COMMANDS[command], "--save", str(tmp_path / "b.npz"), shell_suffix=" 2>/dev/full"
    )
    assert full.returncode == 0  # the "saved" note could not be written: still a success
    assert (tmp_path / "b.npz").exists()


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_closed_stdin_is_an_input_error(command):
    args = {
        "softmax": ["softmax", "-"],
        "layer": ["layer", "--spec", "-"],
        "graph": ["graph", "-f", "-", "--var", "a=[1]"],
    }[command]
    proc = gradcli(*args, shell_suffix=" <&-")
    assert proc.returncode == 2
    assert proc.stderr.startswith(b"Error: stdin is closed")


@pytest.mark.parametrize(
    "env",
    [
        {"PYTHONIOENCODING": "ascii"},
        {"LC_ALL": "C", "PYTHONUTF8": "0"},
        {"PYTHONIOENCODING": "latin-1"},
    ],
)
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_stream_that_is_not_utf8_gets_ascii_for_the_math(command, env):
    proc = gradcli(*COMMANDS[command], env={"PYTHONUTF8": "0", **env})
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == b""
    text = proc.stdout.decode(env.get("PYTHONIOENCODING", "ascii"))
    assert "Traceback" not in text
    assert text.count("\n") > 5  # the whole report, not half of it


STREAM_ENCODINGS = {
    "ascii": {"PYTHONIOENCODING": "ascii"},
    "C locale": {"LC_ALL": "C", "PYTHONUTF8": "0"},
    "latin-1": {"PYTHONIOENCODING": "latin-1"},
    "cp437": {"PYTHONIOENCODING": "cp437"},
}


@pytest.mark.parametrize("stream", sorted(STREAM_ENCODINGS))
@pytest.mark.parametrize("command", ["", "softmax", "layer", "graph", "check"])
def test_every_help_is_the_utf8_help_with_the_fallback_for_what_the_stream_lacks(command, stream):
    from gradcli.cli.streams import ASCII_FALLBACK

    args = [*([command] if command else []), "--help"]
    utf8 = gradcli(*args, env={"PYTHONIOENCODING": "utf-8", "COLUMNS": "80"})
    assert utf8.returncode == 0
    env = STREAM_ENCODINGS[stream]
    proc = gradcli(*args, env={"PYTHONUTF8": "0", "COLUMNS": "80", **env})
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == b""
    encoding = env.get("PYTHONIOENCODING", "ascii")

    def fallback(char):
        try:
            char.encode(encoding)
        except UnicodeEncodeError:
            return ASCII_FALLBACK.get(char, "?")
        return char

    expected = "".join(fallback(c) for c in utf8.stdout.decode("utf-8"))
    assert proc.stdout.decode(encoding) == expected  # bytes of that encoding, never UTF-8
    if encoding == "ascii":
        assert proc.stdout.isascii()
    assert "?" not in set(expected) - set(utf8.stdout.decode())  # every symbol has its ASCII


@pytest.mark.parametrize("columns", ["0", "-1", "abc", "²", "5", "100000000", ""])
def test_any_columns_prints_the_report_at_a_sane_width(columns):
    proc = gradcli(*COMMANDS["softmax"], env={"COLUMNS": columns})
    assert proc.returncode == 0
    lines = proc.stdout.decode().splitlines()
    assert len(lines) > 10
    assert max(len(line) for line in lines) <= 1000
    if columns == "5":  # too narrow: printed as at the narrowest width gradcli lays out
        narrowest = gradcli(*COMMANDS["softmax"], env={"COLUMNS": "40"})
        assert proc.stdout == narrowest.stdout
        assert max(len(line) for line in lines) <= 40
    else:  # not a width: the default; or too wide: clamped, but a real width
        assert any(len(line) >= 60 for line in lines)


def test_bare_gradcli_prints_the_help():
    proc = gradcli()
    assert proc.returncode == 2
    assert proc.stderr.startswith(b"Usage: gradcli [OPTIONS] COMMAND [ARGS]...")
    assert b"Commands:" in proc.stderr
    assert b"\n" in proc.stderr.strip()  # the formatted help, not one long Error: line


def limited_file_size(limit):
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.parametrize(
    "args",
    [
        ["softmax", "--input", "z.npy", "--save", "out.npz", *FAST],
        ["softmax", "3", "1", "-3", "--plot", "p.png", *FAST],
        ["layer", "--seed", "1", "--save", "out.npz", *FAST],
        ["softmax", "--input", "z.npy", "--json", *FAST],
    ],
    ids=["save", "plot", "layer-save", "stdout"],
)
def test_a_full_disk_is_74_for_every_write_and_leaves_nothing(args, tmp_path):
    pytest.importorskip("matplotlib")
    np.save(tmp_path / "z.npy", np.linspace(-1, 1, 300))
    before = set(os.listdir(tmp_path))
    stdout = open(tmp_path / "stdout.txt", "w")  # noqa: SIM115
    with stdout:
        proc = subprocess.run(
            [sys.executable, "-m", "gradcli", *args],
            cwd=tmp_path,
            stdout=stdout,
            stderr=subprocess.PIPE,
            preexec_fn=limited_file_size(2000),
        )
    assert proc.returncode == 74, proc.stderr
    assert proc.stderr.startswith(b"Error: ")
    assert proc.stderr.count(b"\n") == 1
    assert set(os.listdir(tmp_path)) - before <= {"stdout.txt"}  # no result, no temporary


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_during_save_leaves_no_temporary_and_exits_128_plus_n(sig, tmp_path):
    np.save(tmp_path / "z.npy", np.random.default_rng(0).normal(size=4096))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gradcli",
            "softmax",
            "--input",
            "z.npy",
            "--save",
            "out.npz",
            *FAST,
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not any(f.startswith(".out.npz.") for f in os.listdir(tmp_path)):
        assert proc.poll() is None, "finished before the signal could be sent"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig
    assert b"Traceback" not in err
    assert sorted(os.listdir(tmp_path)) == ["z.npy"]


def test_the_same_command_saves_the_same_bytes(tmp_path):
    for name in ("a.npz", "b.npz"):
        proc = gradcli("layer", "--seed", "3", "--batch", "2", "--save", name, *FAST, cwd=tmp_path)
        assert proc.returncode == 0
        time.sleep(1.1)  # a timestamp taken from the clock would now differ
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()


def test_a_signal_just_after_the_temporary_is_made_leaves_nothing(tmp_path, monkeypatch):
    """A signal handler runs between bytecodes: after os.open has made the file and before
    temporary_beside returns it. Under load that moment was hit 5 times in 60 runs."""
    from gradcli import save

    real_open = os.open

    def open_then_signal(path, flags, mode=0o777):
        os.close(real_open(path, flags, mode))
        raise KeyboardInterrupt  # what the handler raises at that moment

    monkeypatch.setattr(save.os, "open", open_then_signal)
    with pytest.raises(KeyboardInterrupt):
        save.temporary_beside(tmp_path / "out.npz")
    monkeypatch.undo()
    assert os.listdir(tmp_path) == []
    assert not save.PENDING


@pytest.mark.parametrize("command", ["softmax", "layer", "graph"])
def test_json_to_a_text_only_stdout_in_process(command):
    """gradcli.cli.main run in process with sys.stdout an io.StringIO (no binary buffer):
    the JSON arrives as text, not as a TypeError (exit 70). Hypothesis found it through
    check's option fuzzing, at random."""
    import contextlib
    import io
    import json

    from gradcli.cli import main

    argv = {
        "softmax": ["softmax", "3", "1", "-3"],
        "layer": ["layer", "--seed", "1"],
        "graph": ["graph", "y = a * a", "--var", "a=[1, -2]"],
    }[command]
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as ended:
        main([*argv, *FAST, "--json"])
    assert ended.value.code == 0
    assert json.loads(out.getvalue())["ok"] is True
