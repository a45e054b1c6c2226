"""Exit statuses of gradcli, in one place (as httpie's ``ExitStatus``)."""

from enum import IntEnum


class ExitStatus(IntEnum):
    OK = 0  # every selected backend agrees and every law holds
    DISAGREE = 1  # some backends disagree, a law is broken, or a result is not finite
    USAGE = 2  # bad usage or bad input: nothing was computed
    IO_ERROR = 74  # the output could not be written (disk full …) (EX_IOERR)
    BUG = 70  # an unexpected exception: a bug in gradcli (EX_SOFTWARE), never read as 1
    BROKEN_PIPE = 141  # stdout closed early (`| head`), as a Unix tool killed by SIGPIPE
    INTERRUPTED = 130  # Ctrl-C
