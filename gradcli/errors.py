"""Exceptions that the library raises and the CLI turns into exit statuses.

No imports: `gradcli.__main__` reads `Interrupted` before anything else is loaded.
"""


class InputError(ValueError):
    """The user's input is wrong: one clear line, exit status 2, no traceback.

    The message names the bad piece (the token, the file, the option) so that the
    user can fix it without reading gradcli's code.
    """


class OutputError(Exception):
    """A result could not be written (disk full, file too large, folder gone): one
    line, exit status 74, whatever the output was (stdout, --save, --plot). Not an
    OSError, so that click's own handling of OSError never sees it."""


class Interrupted(KeyboardInterrupt):
    """SIGINT, SIGTERM or SIGHUP, raised by gradcli's handler (see gradcli.__main__):
    a KeyboardInterrupt, so that every `with` block that cleans up after Ctrl-C (the
    --save temporary, user code under check) does the same for the other two. The
    process then ends with 128 + signum."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
