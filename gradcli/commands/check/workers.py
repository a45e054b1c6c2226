"""check's worker processes, seen from the supervisor: started, asked, timed, ended.

A worker is `python -P -m gradcli.commands.check.worker` in its own session (a Ctrl-C
at the terminal reaches the supervisor only, which then ends it: SIGINT, then SIGKILL
to its whole process group after GRACE seconds, forked children included). Its stdout
and stderr are pipes whose lines are shown on gradcli's stderr marked as the user's;
gradcli never waits for them to close (a forked child that sleeps keeps them open).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from gradcli.commands.check.wire import HEADER, MAX_FRAME, WireError, decode, write_frame

GRACE = 1.0  # seconds a worker has to end after SIGINT before it is killed
MARK = "[your code] "  # what the user's code printed, on gradcli's stderr


class Died(Exception):
    """The worker ended, broke the protocol or ran past the timeout: `how` says which."""

    def __init__(self, how: str) -> None:
        super().__init__(how)
        self.how = how


class Refused(Exception):
    """The worker answered with one line: the user's code raised (an InputError)."""


class Worker:
    def __init__(self, timeout: float | None) -> None:
        self.timeout = timeout
        self._ready = False
        to_worker, self._requests = os.pipe()
        self._replies, from_worker = os.pipe()
        root = str(Path(__file__).resolve().parents[3])  # where gradcli itself is
        code = (
            f"import sys; sys.path.append({root!r}); "
            "from gradcli.commands.check.worker import main; main(sys.argv)"
        )
        self.process = subprocess.Popen(
            [sys.executable, "-P", "-c", code, str(to_worker), str(from_worker)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(to_worker, from_worker),
            start_new_session=True,
        )
        os.close(to_worker)
        os.close(from_worker)
        self._echoes = [
            threading.Thread(target=_echo, args=(stream,), daemon=True)
            for stream in (self.process.stdout, self.process.stderr)
        ]
        for echo in self._echoes:
            echo.start()

    def send(self, request: dict[str, Any]) -> None:
        try:
            write_frame(self._requests, pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL))
        except (BrokenPipeError, OSError):
            raise Died(self._ended()) from None

    def receive(self) -> Any:
        if not self._ready:  # its start (imports of numpy and torch) is not timed
            self._ready = True
            self._receive(None)
        return self._receive(self.timeout)

    def _receive(self, timeout: float | None) -> Any:
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            (size,) = HEADER.unpack(self._read(HEADER.size, deadline))
            if size > MAX_FRAME:
                raise WireError(f"a frame of {size} bytes")
            reply = decode(self._read(size, deadline))
        except WireError as exc:
            raise Died(self._ended(str(exc))) from None
        if not isinstance(reply, dict) or not ({"ok", "error", "interrupted"} & set(reply)):
            raise Died("its process sent something that is not an answer")
        if "interrupted" in reply:  # the user's code raised KeyboardInterrupt: 130
            raise KeyboardInterrupt
        if "error" in reply:
            raise Refused(str(reply["error"]))
        return reply["ok"]

    def _read(self, size: int, deadline: float | None) -> bytes:
        chunks: list[bytes] = []
        while size:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                self.kill()
                raise Died(f"it ran past --timeout {self.timeout:g} s")
            ready, _, _ = select.select([self._replies], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._replies, min(size, 1 << 20))
            if not chunk:
                raise WireError("end of file")
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def _ended(self, detail: str = "") -> str:
        """How the worker ended: its exit status or signal (it is killed if it lives on
        with its replies closed)."""
        try:
            code = self.process.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            self.kill()
            return "it closed gradcli's channel to it" + (f" ({detail})" if detail else "")
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"its process was killed by {name}"
        if code == 0 and detail and detail != "end of file":
            return f"its process sent a broken answer ({detail})"
        return f"its process exited with status {code}"

    def interrupt(self) -> None:
        """Ctrl-C: SIGINT to the worker, SIGKILL to its group after GRACE seconds."""
        try:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.process.pid, signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=GRACE)
        finally:  # a second Ctrl-C during the grace period kills at once
            self.kill()

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=GRACE)

    def close(self) -> None:
        """End of requests: the worker exits; what it forked is ended with it, and its
        last lines are shown (waiting a moment at most for them)."""
        with contextlib.suppress(OSError):
            os.close(self._requests)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=GRACE)
        self.kill()
        for echo, stream in zip(
            self._echoes, (self.process.stdout, self.process.stderr), strict=True
        ):
            echo.join(timeout=0.2)
            if not echo.is_alive() and stream is not None:  # (a read in progress holds
                stream.close()  # the stream's lock: one still open is left to the thread)
        with contextlib.suppress(OSError):
            os.close(self._replies)


def _echo(stream: Any) -> None:
    """Each line the user's code writes, on gradcli's stderr, marked as theirs."""
    pending = b""
    try:
        while True:
            chunk = stream.read1(65536)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                _show(line)
    except (OSError, ValueError):
        pass
    if pending:
        _show(pending)


def _show(line: bytes) -> None:
    with contextlib.suppress(OSError, ValueError, AttributeError):
        sys.stderr.write(MARK + line.decode("utf-8", "replace") + "\n")
        sys.stderr.flush()
