"""``python -m gradcli`` and the ``gradcli`` console script.

The CLI is imported inside `run`, so that a Ctrl-C during that import (about 50 ms)
also ends with status 130 and one line, not a traceback.
"""

import sys


def run() -> None:
    try:
        from gradcli.cli import main
    except KeyboardInterrupt:
        sys.stderr.write("gradcli: interrupted\n")
        raise SystemExit(130) from None
    main()


if __name__ == "__main__":
    run()
