"""What counts as a number on the command line. No numpy here: the CLI uses this while
parsing options, and `gradcli --help` must not pay for numpy."""

from __future__ import annotations

import math
import re

from gradcli.errors import InputError

# A finite decimal number. Python's float() is not the parser: it also accepts nan,
# inf, infinity and 1_000, and turns 1e999 into inf. Digits are ASCII only (`\d` would
# also take Arabic-Indic and other Unicode digits).
DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")

# Tokens that look like a (possibly malformed or non-finite) negative number rather than
# an option: `-3`, `-.5`, `-1e5`, `-inf`, `-nan`, `-Infinity`. The CLI treats them as
# values, so that they reach the number parser and get its message.
NEGATIVE_NUMBER_LIKE = re.compile(r"-(?:[0-9.]|inf|nan)", re.IGNORECASE)


def parse_number(token: str, where: str) -> float:
    """The finite float that `token` spells, or InputError naming `where` and the token."""
    if not DECIMAL.match(token):
        raise InputError(f"{where}: {token!r} is not a finite decimal number")
    value = float(token)
    if not math.isfinite(value):
        raise InputError(f"{where}: {token!r} overflows float64")
    return value
