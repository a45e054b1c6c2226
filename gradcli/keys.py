"""What a number is: a quantity as a typed key, and an entry of it.

A command builds each key from its parts (the command's quantity, the trial, the output,
the input) where it knows them, and stores its arrays under `key.id`; everything after
(the core, the Report, render, JSON, --explain) reads the parts from the key. Nobody
splits a name to learn its parts: `id` and `str()` are made from the parts, never the
other way round.

Printed names (`str(key)`, the one name a person reads in tables, verdicts, JSON and
--explain):

    Key("dW")                                  dW
    Key("jacobian", symbol="J")                J
    Key("vjp", trial=2, input="W")             vjp.W in trial 2
    Key("jacobian", 0, output=1, input="W")    jacobian.out1.W in trial 0
    Key("grads", input="a")   (graph)          a.grad
    Key("values", input="y")  (graph)          y
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Key:
    """One quantity a command computed, by its parts."""

    quantity: str  # the command's quantity: "jacobian", "vjp", "dW", "grads", "values"
    trial: int | None = None  # check's trials
    output: int | None = None  # the forward's output, when it has several
    input: str | None = None  # the input (graph: the variable) it belongs to
    symbol: str | None = None  # the name people read when it is not `quantity` ("J")
    projected: bool = False  # along random directions v: "dW·v" (directional fd)

    @property
    def name(self) -> str:
        """The printed name without the trial: what --explain takes before "[i,j]"."""
        along = "·v" if self.projected else ""
        if self.quantity == "grads" and self.input is not None:
            return f"{self.input}.grad{along}"  # as PyTorch's retain_grad names it
        if self.quantity == "values" and self.input is not None:
            return self.input
        text = self.symbol or self.quantity
        if self.output is not None:
            text += f".out{self.output}"
        return (text if self.input is None else f"{text}.{self.input}") + along

    @property
    def id(self) -> str:
        """Where the backends' arrays are stored (the keys of --save and of `results`)."""
        return ".".join(self.path())

    @property
    def base(self) -> Key:
        """The same quantity over every trial."""
        return replace(self, trial=None)

    def path(self) -> tuple[str, ...]:
        """The nesting of this quantity in the JSON's `results`, {"trial0": {"vjp": …}}."""
        parts = [f"trial{self.trial}"] if self.trial is not None else []
        parts.append(self.quantity)
        if self.output is not None:
            parts.append(f"out{self.output}")
        if self.input is not None:
            parts.append(self.input)
        if self.projected:
            parts[-1] += "·v"
        return tuple(parts)

    def __str__(self) -> str:
        return self.name if self.trial is None else f"{self.name} in trial {self.trial}"


@dataclass(frozen=True)
class Entry:
    """One element of a quantity."""

    key: Key
    index: tuple[int, ...]

    @property
    def name(self) -> str:
        """The entry without its trial, as --explain takes it: "vjp.W[0,1]"."""
        where = ",".join(map(str, self.index))
        return f"{self.key.name}[{where}]" if self.index else self.key.name

    def __str__(self) -> str:
        trial = self.key.trial
        return self.name if trial is None else f"{self.name} in trial {trial}"


def plain(name: str) -> Key:
    """The key of a quantity with no parts beyond its name (softmax's, layer's)."""
    return Key(name)
