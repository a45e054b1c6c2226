"""An entry as people write it for --explain: NAME or NAME[i,j] (shared by the commands)."""

from __future__ import annotations

import re

from gradcli.errors import InputError

TARGET = re.compile(r"\s*([A-Za-z_]\w*)\s*(?:\[\s*([\d\s,]*)\])?\s*\Z")


def parse_target(text: str, names: list[str]) -> tuple[str, tuple[int, ...] | None]:
    match = TARGET.match(text)
    if not match:
        raise InputError(f"--explain {text!r}: write a variable's name, or NAME[i,j]")
    name, index = match.group(1), match.group(2)
    if name not in names:
        raise InputError(
            f"--explain {text!r}: no variable {name!r} in the program "
            f"(the variables: {', '.join(names)})"
        )
    if index is None:
        return name, None
    try:
        return name, tuple(int(part) for part in index.split(","))
    except ValueError:
        raise InputError(f"--explain {text!r}: the index is integers, such as a[0,0]") from None
