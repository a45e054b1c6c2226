"""Plain frozen dataclasses that describe what to compute: the CLI builds them, the
problems read them. Nothing here computes anything."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

from gradcli.names import DTYPES, LOSSES, Backend, CheckMode, Dtype, FdMode, Loss, Second  # noqa: F401  (re-exported)


@dataclass(frozen=True)
class RunOptions:
    """How to check, whatever the problem."""

    backends: tuple[Backend, ...] = ("numpy", "torch", "fd")
    dtype: Dtype = "float64"  # of numpy and torch; fd always works in float64
    rtol: float | None = None  # None: the default for the precisions compared
    atol: float | None = None  # None: the default, times the quantity's scale


@dataclass(frozen=True)
class SoftmaxSpec:
    """s = softmax(z / T) and its Jacobian ∂s/∂z."""

    z: NDArray[np.float64]  # the logits as given, before any cast to `options.dtype`
    temperature: float = 1.0
    options: RunOptions = RunOptions()


@dataclass(frozen=True)
class LossSpec:
    """The loss of a layer, one number (a mean over the batch).

    ce: `targets` holds one class per row (`per_row` says whether the user listed them
    one by one); mse: `y` is the target (a vector for every row, or one row each);
    sum: nothing; output: `index` is k in L = s_k.
    """

    kind: Loss
    targets: tuple[int, ...] = ()
    per_row: bool = False
    y: NDArray[np.float64] | None = None
    index: int | None = None


@dataclass(frozen=True)
class LayerSpec:
    """z = W·x + b, s = softmax(z), L(s): W is (out, in), x is (in,) or (batch, in)."""

    w: NDArray[np.float64]
    b: NDArray[np.float64]
    x: NDArray[np.float64]
    loss: LossSpec
    seed: int | None = None  # echoed in the JSON; None when W, b, x came from --spec
    explain: str | None = None  # 'W[i,j]', 'b[i]', 'x[j]' or 'x[r,j]'
    options: RunOptions = RunOptions()
    fd_mode: FdMode = "auto"  # "full", "directional", or "auto": full unless too costly


@dataclass(frozen=True)
class CheckSpec:
    """The user's forward and the derivative under test, at some random inputs."""

    forward: Any  # f(x, W, …) on numpy arrays or torch tensors; a built nn.Module; or None
    derivative: Any  # jacobian | vjp | grad; for "function", the Function class
    mode: CheckMode
    inputs: tuple[dict[str, NDArray[np.float64]], ...]  # one per trial: arrays by name
    names: dict[str, str]  # what the user named: {"target": …, "derivative": …}
    seed: int = 0
    full: bool = False  # full checks whatever the size (else directional above a size)
    debug: bool = False
    options: RunOptions = RunOptions()
    args: dict[str, Any] = field(default_factory=dict)  # non-array arguments, by keyword
    taylor: bool = False  # also the Taylor test: the remainder's rate, 2 or 1
    second: Second = ""  # "order2": a Function's backward differentiated; "hvp": FN(x, v) = Hv
    against: Any = None  # a library function: its forward and autograd, one more reference
    no_grad: tuple[str, ...] = ()  # inputs passed to the code but not differentiated
    first_trial: int = 0  # the number of inputs[0]: --trial K reruns trial K alone
    explain: str | None = None  # --explain ENTRY: yours, the references, one-sided slopes
    # a module built from its class: the parameters built constant, drawn (name, value built)
    drawn_parameters: tuple[tuple[str, float], ...] = ()
    surrogate: Literal["identity"] | float | None = None  # --surrogate: what yours is meant to be
    stubbed: tuple[str, ...] = ()  # --stub: modules standing in (commands/check/stand_ins)


@dataclass(frozen=True)
class Node:
    """One operation of a graph program (the IR that `gradcli graph` parses into)."""

    op: str  # "input", "const", "add", …, "sum", "index", "transpose", …
    args: tuple[int, ...]  # ids of the argument nodes
    params: tuple[Any, ...]  # literal parameters: dims, keepdim, index key, shape, value
    text: str  # the source of this expression
    statement: int  # the statement it belongs to (0-based); −1 for inputs


@dataclass(frozen=True)
class Program:
    nodes: tuple[Node, ...]
    variables: dict[str, int]  # every named variable (inputs first, then statements) -> node
    inputs: tuple[str, ...]
    statements: tuple[tuple[str, str], ...]  # (name, source of the whole statement)

    @property
    def output(self) -> int:
        return self.variables[self.statements[-1][0]]


@dataclass(frozen=True)
class GraphSpec:
    """A program and the values of its inputs (float64, before the cast to `dtype`)."""

    program: Program
    inputs: dict[str, NDArray[np.float64]]
    seed: int | None = None
    draws: tuple[str, ...] = ()  # how each --rand input was drawn, for the JSON
    options: RunOptions = RunOptions()
