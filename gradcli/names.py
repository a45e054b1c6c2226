"""Names that the command line offers before anything is imported (no dependencies), and
the closed sets they belong to, as the types that carry them."""

from typing import Literal

Dtype = Literal["float64", "float32", "float16", "bfloat16"]  # the last two: check only
Loss = Literal["ce", "mse", "sum", "output"]
Backend = Literal["numpy", "torch", "fd"]  # what a command can run (check: torch, fd)
FdMode = Literal["auto", "full", "directional"]
CheckMode = Literal["jacobian", "vjp", "grad", "function", "module"]
Second = Literal["", "order2", "hvp"]  # check: a first-order check, --order 2, --hvp

DTYPES: tuple[Dtype, ...] = ("float64", "float32")
LOSSES: tuple[Loss, ...] = ("ce", "mse", "sum", "output")
BACKENDS: tuple[Backend, ...] = ("numpy", "torch", "fd")
FD_MODES: tuple[FdMode, ...] = ("auto", "full", "directional")
CHECK_MODES: tuple[CheckMode, ...] = ("jacobian", "vjp", "grad", "function", "module")
SECONDS: tuple[Second, ...] = ("", "order2", "hvp")
