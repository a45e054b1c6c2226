"""``python -m gradcli`` and the ``gradcli`` console script.

The CLI is imported inside `run`, so that a Ctrl-C during that import (about 50 ms)
also ends with status 130 and one line, not a traceback.
"""

import os
import sys


def run() -> None:
    try:
        from gradcli.cli import main
    except KeyboardInterrupt:
        sys.stderr.write("gradcli: interrupted\n")
        raise SystemExit(130) from None
    try:
        main()
    except SystemExit as exc:
        leave(exc.code)


def leave(code: object) -> None:
    """End the process with `code`, skipping Python's finalization once torch is loaded.

    With torch imported, finalization (tearing down its thousands of modules and
    objects, a last full garbage collection) takes about 0.4 s, measured on
    `python -c "import torch"`, and does nothing the OS does not do at exit. gradcli
    has nothing left to finalize: --save and --plot files are closed and renamed
    before the report is printed, and output goes through stdout and stderr, flushed
    here. Without torch the normal exit is cheap, and taken.
    """
    if "torch" not in sys.modules:
        raise SystemExit(code)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        raise SystemExit(code) from None  # let Python report or ignore it as it does
    os._exit(code if isinstance(code, int) else 0 if code is None else 1)


if __name__ == "__main__":
    run()
