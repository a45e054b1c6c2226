"""Size limits, a memory estimate made before any large allocation, and where large
results are allocated (in memory, or in the --save file)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

from gradcli.errors import InputError

# Where a large result is allocated: given its key as --save names it ("numpy.jacobian"),
# its shape and dtype, an empty array. In memory by default; with --save the CLI passes
# NpzWriter.empty, and the backend computes straight into the file.
Allocate = Callable[[str, tuple[int, ...], DTypeLike], NDArray[Any]]


def in_memory(key: str, shape: tuple[int, ...], dtype: DTypeLike) -> NDArray[Any]:
    """The default Allocate: np.empty."""
    return np.empty(shape, dtype=dtype)


# Largest n for which `gradcli softmax` builds dense n×n Jacobians: 8192² float64 is
# 512 MiB per backend. Beyond it the answer would not fit the tool's purpose (reading a
# Jacobian) and would take minutes; it is refused with a message, never an OOM kill.
MAX_DENSE_N = 8192

# Refuse work whose estimated peak exceeds this share of the memory the OS reports
# as available: the rest is left for the interpreter, torch and the page cache.
MEMORY_SHARE = 0.7


def available_memory() -> int | None:
    """MemAvailable from /proc/meminfo, in bytes; None where it cannot be read."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


# The peak-memory model, fitted to the maximum RSS of whole `gradcli` processes
# (tests/test_memory.py measures it again and holds the model to it: never below the
# measured peak, at most 1.6 times it). Measured on this machine, in MiB:
#   softmax n=2048 / 4096, numpy,fd: 144 / 437; all three backends: 389 / 812
#   layer --in-features 300 --batch 6000 / 12000 / 24000, numpy,fd: 440 / 841 / 1589;
#   all three backends at 24000: 1959
#   layer 1500×1500 (batch 1): 771; 3000×1500, numpy,fd: 965
#   softmax --plot n=1024 / 2048, numpy,fd: 187 / 454
#   graph "y = (a * b).sum()" --rand a=N×N --rand b=N×N, N = 700 / 1000 / 1400 / 2000,
#   numpy,fd: 392 / 563 / 886 / 1585; all three backends at 1400: 965
#   check examples/ops.py:softmax --jacobian --full, n = 300 / 600 / 1000 / 1500 / 2000,
#   numpy,fd: 239 / 275 / 318 / 388 / 481; all three backends at 1500 / 2500: 457 / 889;
#   check --vjp --full at n = 1500: 232 (torch is always imported by check); check --vjp
#   (directional) at n = 1e6 / 2e6: 749 / 1267, all three backends at 1e6: 813
# The interpreter with numpy is about 30 MiB; torch adds about 230 MiB.
BASE_BYTES = 64 * 2**20
TORCH_BYTES = 256 * 2**20
# A dense softmax: each backend keeps its n×n Jacobian and makes about half of one
# more while computing it (fd's float64 blocks, torch's graph); the comparisons one more.
SOFTMAX_JACOBIANS_PER_BACKEND = 1.5
# A layer: per element of W, b, x and of the batch's z and s (float64), every backend's
# copies, gradients, casts, directional projections, the references' steps and the
# comparisons' temporaries: 214-239 bytes were measured per x element, 218-224 per W
# element (with the references of issue 12; 152-172 before them).
LAYER_BYTES_PER_ELEMENT = 256
# --plot: matplotlib itself, then for each plotted quantity an image of every backend's
# array plus the difference panel's temporaries (a − ref, |·|, masks, LogNorm's copy).
PLOT_BASE_BYTES = 128 * 2**20
PLOT_COPIES_BEYOND_BACKENDS = 4
# check --full in a Jacobian mode: per element of the (outputs × inputs) Jacobian, about
# 68 bytes were measured with "yours" and fd (2 sides), 104-111 with torch too (3): each
# side's Jacobian with its casts and comparison temporaries, torch's rows held twice while
# building it, fd's error estimate and refinement.
CHECK_JACOBIAN_COPIES_PER_SIDE = 4
CHECK_JACOBIAN_COPIES_BEYOND_SIDES = 3
# Per input and output element (values, cotangents, each side's VJP and its casts, the
# directions and projections, fd's error estimates, the noise probes' block of points,
# the bands measured in float32): 487 bytes were measured with 2 sides (a directional
# --vjp check of 5e5 and 1e6 softmax inputs with yours and fd: 734 / 1199 MiB; 271 bytes
# before the measured bands of issue 20). And fd's blocks of perturbed rows and outputs
# (references.ELEMENTS_PER_BLOCK elements, four arrays, twice).
CHECK_VALUE_COPIES_PER_SIDE = 4
CHECK_VALUE_COPIES_BEYOND_SIDES = 53
CHECK_FD_BLOCK_BYTES = 2 * 8 * (1 << 16) * 4


def base_bytes(backends: tuple[str, ...]) -> int:
    return BASE_BYTES + (TORCH_BYTES if "torch" in backends else 0)


def softmax_peak(n: int, backends: tuple[str, ...], plot: bool = False) -> int:
    """Estimated peak RSS of `gradcli softmax` on n logits, --plot included."""
    jacobian = 8 * n * n
    computed = (SOFTMAX_JACOBIANS_PER_BACKEND * len(backends) + 1) * jacobian
    return int(base_bytes(backends) + computed + (plot_bytes([jacobian], backends) if plot else 0))


def layer_peak(elements: int, plotted: list[int], backends: tuple[str, ...], plot: bool) -> int:
    """Estimated peak RSS of `gradcli layer`: `elements` in W, b, x, z and s together;
    `plotted` the bytes of each gradient a --plot would draw."""
    computed = LAYER_BYTES_PER_ELEMENT * elements
    return int(base_bytes(backends) + computed + (plot_bytes(plotted, backends) if plot else 0))


# A graph run: per element of every node, each backend's value and gradient, the
# float64 shadow and its forward, the comparisons' temporaries; and where fd runs along
# directions (large inputs), per element of every *input*: its DIRECTIONS (8) directions,
# the moved copy of the input and the forward's temporaries (a complex copy when refined).
# Fitted to numpy,fd runs with --rand inputs (torch loaded), in MiB: (a * b).sum() at
# 1200² / 1400²: 628 / 886; (w @ a).sum() at 1000²: 510; (a @ b @ c @ d).sum() at 700²:
# 476; softmax(w @ a, dim=0).sum() at 1000²: 537; (w @ x).sum() with w 3000² and x 3000×1
# (the input dominates, the nodes after it are small): 1541. Counting per node only (the
# previous model) put that last one at 1419, below its peak.
GRAPH_COPIES_BEYOND_BACKENDS = 4
GRAPH_DIRECTIONAL_COPIES = 16


def graph_peak(
    elements: list[int], backends: tuple[str, ...], drawn: bool, directional_inputs: int = 0
) -> int:
    """Estimated peak RSS of `gradcli graph` (without --plot) with a tensor of each size
    in `elements` (every node); torch is loaded if it runs or draws the --rand inputs;
    `directional_inputs`: the input elements fd differentiates along directions (0 when
    fd runs element by element, or not at all)."""
    loaded = (*backends, "torch") if drawn else backends
    copies = len(backends) + GRAPH_COPIES_BEYOND_BACKENDS
    directional = 8 * GRAPH_DIRECTIONAL_COPIES * directional_inputs
    return int(base_bytes(loaded) + 8 * copies * sum(elements) + directional)


def graph_plot_peak(elements: list[int], backends: tuple[str, ...], drawn: bool) -> int:
    """Estimated peak RSS of `gradcli graph --plot` with a tensor of each size in
    `elements` (every node): each backend's value and gradient of each, and the plot of
    every gradient; torch is loaded if it runs or draws the --rand inputs (`drawn`).
    Measured: (a * b).sum() of two --rand 1000×1000, numpy and fd, 502 MiB."""
    loaded = (*backends, "torch") if drawn else backends
    computed = 2 * 8 * sum(elements) * (len(backends) + 1)
    plotted = int(base_bytes(loaded) + computed + plot_bytes([8 * e for e in elements], backends))
    return max(plotted, graph_peak(elements, backends, drawn))  # never below the run itself


def check_peak(n_in: int, n_out: int, sides: int, jacobian: bool) -> int:
    """Estimated peak RSS of `gradcli check` with `n_in` input and `n_out` output
    elements, comparing `sides` arrays (yours, torch, fd, against); `jacobian`: the check
    compares full Jacobians (--jacobian in full), not VJPs or directional derivatives.
    The supervisor (numpy) and the worker that runs the user's code (which always
    imports torch) are two processes: both interpreters are counted."""
    copies = CHECK_JACOBIAN_COPIES_PER_SIDE * sides + CHECK_JACOBIAN_COPIES_BEYOND_SIDES
    per_element = 8 * copies if jacobian else 0
    per_value = 8 * (CHECK_VALUE_COPIES_PER_SIDE * sides + CHECK_VALUE_COPIES_BEYOND_SIDES)
    computed = per_element * n_in * n_out + per_value * (n_in + n_out)
    return int(BASE_BYTES + base_bytes(("torch",)) + computed + CHECK_FD_BLOCK_BYTES)


def plot_bytes(plotted: list[int], backends: tuple[str, ...]) -> int:
    """What --plot adds: matplotlib, and copies of each plotted float64 array."""
    copies = len(backends) + PLOT_COPIES_BEYOND_BACKENDS
    return int(PLOT_BASE_BYTES + 1.25 * copies * sum(plotted))


def gib(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.3g} GiB"


def check_memory(n_bytes: int, what: str, advice: str) -> None:
    """Raise InputError if `n_bytes` would not fit in the memory available now."""
    available = available_memory()
    if available is not None and n_bytes > MEMORY_SHARE * available:
        raise InputError(
            f"{what} would need about {gib(n_bytes)} of memory but {gib(available)} is "
            f"available; {advice}"
        )
