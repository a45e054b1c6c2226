"""An entry as people write it for --explain: NAME or NAME[i,j] (shared by the commands)."""

from __future__ import annotations

import difflib
import re

from gradcli.errors import InputError

# NAME, NAME.grad (as the view prints a gradient) or either with [i,j]
TARGET = re.compile(r"\s*([A-Za-z_]\w*)(?:\.grad)?\s*(?:\[\s*([\d\s,]*)\])?\s*\Z")


def parse_target(text: str, names: list[str]) -> tuple[str, tuple[int, ...] | None]:
    match = TARGET.match(text)
    if not match:
        raise InputError(f"--explain {text!r}: write a variable's name, or NAME[i,j]")
    name, index = match.group(1), match.group(2)
    if name not in names:
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.3)
        hint = f"did you mean {close[0]}? " if close else ""
        raise InputError(
            f"--explain {text!r}: {hint}no variable {name!r} in the program "
            f"(the variables: {', '.join(names)})"
        )
    if index is None:
        return name, None
    try:
        return name, tuple(int(part) for part in index.split(","))
    except ValueError:
        raise InputError(f"--explain {text!r}: the index is integers, such as a[0,0]") from None
