"""``python -m gradcli`` and the ``gradcli`` console script.

Importing this module installs the handlers of SIGINT, SIGTERM and SIGHUP, before
anything but gradcli/__init__.py and gradcli/errors.py (microseconds) is loaded: a signal
at any later moment raises `Interrupted`, which unwinds like Ctrl-C (a --save
temporary is removed on the way) and ends the process with 128 + n and one line,
never a traceback. `_signal` is the C module: `signal` would import enum first.
"""

import _signal  # type: ignore[import-not-found]  # no stubs; `signal` re-exports it
import os
import sys

from gradcli.errors import Interrupted

HANDLED = ("SIGINT", "SIGTERM", "SIGHUP")


_signalled: list[int] = []


def _raise_interrupted(signum: int, frame: object) -> None:
    """The first signal unwinds (cleanup runs); a second one ends the process at once:
    code that swallows KeyboardInterrupt (a user's forward under `check` looping in
    `except KeyboardInterrupt: pass`) cannot keep gradcli from ending."""
    if _signalled:
        save = sys.modules.get("gradcli.save")
        if save is not None:  # the --save temporary, if one is being written
            try:  # noqa: SIM105  (contextlib costs 5 ms before the handlers are in place)
                save.remove_pending()
            except Exception:
                pass
        os._exit(interrupted(Interrupted(signum)))
    _signalled.append(signum)
    raise Interrupted(signum)


def install_signal_handlers() -> None:
    _signalled.clear()
    for name in HANDLED:
        if hasattr(_signal, name):
            _signal.signal(getattr(_signal, name), _raise_interrupted)


# At import: this module is the program's entry (`python -m gradcli`, and the console
# script imports it only to call run), and every microsecond before counts.
install_signal_handlers()


def run() -> None:
    install_signal_handlers()
    try:
        from gradcli.cli import main

        main()
    except SystemExit as exc:
        _leave_quietly(exc.code)
    except KeyboardInterrupt as exc:  # before main's own handler, or after it
        _leave_quietly(interrupted(exc))


def interrupted(exc: BaseException) -> int:
    """Say which signal ended the run (on stderr, if it can be written); its status."""
    signum = getattr(exc, "signum", 2)
    words = "interrupted" if signum == 2 else f"terminated by signal {signum}"
    try:  # noqa: SIM105  (contextlib costs 5 ms before the handlers are in place)
        os.write(2, f"gradcli: {words}\n".encode())
    except OSError:
        pass
    return 128 + signum


def _leave_quietly(code: object) -> None:
    try:
        leave(code)
    except KeyboardInterrupt as exc:  # a second signal while leaving
        os._exit(interrupted(exc))


def leave(code: object) -> None:
    """End the process with `code`, skipping Python's finalization once torch is loaded.

    With torch imported, finalization (tearing down its thousands of modules and
    objects, a last full garbage collection) takes about 0.4 s, measured on
    `python -c "import torch"`, and does nothing the OS does not do at exit. gradcli
    has nothing left to finalize: --save and --plot files are closed and renamed
    before the report is printed, and output goes through stdout and stderr, flushed
    here. Without torch the normal exit is cheap, and taken (unless gradcli.preload's
    thread is importing it: finalization must not run under that import).
    """
    preload = sys.modules.get("gradcli.preload")
    if "torch" not in sys.modules and not (preload is not None and preload.pending()):
        raise SystemExit(code)
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        raise SystemExit(code) from None  # let Python report or ignore it as it does
    os._exit(code if isinstance(code, int) else 0 if code is None else 1)


if __name__ == "__main__":
    # `python -m gradcli` put the current folder first on sys.path (the console script
    # does not): a rich.py or shlex.py there would shadow gradcli's own libraries. gradcli
    # itself is imported already, so its modules are still found.
    if sys.path and sys.path[0] in ("", os.getcwd()):
        del sys.path[0]
    run()
