"""--plot FILE.png|.svg: each array quantity as a figure, one panel per backend and one
for |difference| on a log scale. matplotlib is an optional extra (gradcli[plot])."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gradcli.errors import InputError
from gradcli.report import Report
from gradcli.save import atomic_write

FORMATS = (".png", ".svg")
MAX_ROWS = 6  # quantities shown; a program with more variables shows the first ones


def check_plot_path(path: str) -> None:
    """Refuse a path or a missing matplotlib before anything is computed."""
    if Path(path).suffix.lower() not in FORMATS:
        raise InputError(f"--plot {path}: the file name must end in .png or .svg")
    if not Path(path).resolve().parent.is_dir():
        raise InputError(f"--plot {path}: its folder does not exist")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise InputError(
            "--plot needs matplotlib: pip install 'gradcli[plot]' (or pip install matplotlib)"
        ) from None


def save_plot(report: Report, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    rows = _quantities(report)
    if not rows:
        raise InputError("--plot: nothing to draw (every quantity is a scalar or empty)")
    backends = list(report.results)
    figure, axes = plt.subplots(
        len(rows),
        len(backends) + 1,
        figsize=(3.2 * (len(backends) + 1), 2.8 * len(rows)),
        squeeze=False,
    )
    for row, quantity in zip(axes, rows, strict=True):
        arrays = {n: r.arrays[quantity] for n, r in report.results.items() if quantity in r.arrays}
        limit = max(float(np.nanmax(np.abs(_matrix(a)))) for a in arrays.values()) or 1.0
        for ax, name in zip(row, backends, strict=False):
            ax.set_title(f"{name}: {report.labels.get(quantity, quantity)}", fontsize=8)
            if name in arrays:
                image = ax.imshow(_matrix(arrays[name]), cmap="RdBu_r", vmin=-limit, vmax=limit)
                figure.colorbar(image, ax=ax, shrink=0.8)
            ax.set_xticks([])
            ax.set_yticks([])
        _difference_panel(row[-1], report, quantity, figure, LogNorm)
    figure.tight_layout()
    suffix = Path(path).suffix.lower().lstrip(".")
    atomic_write(path, lambda handle: figure.savefig(handle, format=suffix), "--plot")
    plt.close(figure)


def _difference_panel(ax: Any, report: Report, quantity: str, figure: Any, log_norm: Any) -> None:
    pairs = [c for c in report.comparisons if c.quantity == quantity]
    ax.set_xticks([])
    ax.set_yticks([])
    if not pairs:
        ax.set_title("no comparison", fontsize=8)
        return
    worst = max(pairs, key=lambda c: c.max_abs_error)
    a, ref = (_matrix(report.results[n].arrays[quantity]) for n in worst.backends)
    difference = np.abs(a - ref)
    positive = difference[difference > 0]
    ax.set_title(f"|{worst.backends[0]} − {worst.backends[1]}| (log)", fontsize=8)
    if positive.size:
        norm = log_norm(vmin=float(positive.min()), vmax=float(positive.max()))
        image = ax.imshow(np.where(difference > 0, difference, np.nan), cmap="magma", norm=norm)
        figure.colorbar(image, ax=ax, shrink=0.8)
    else:
        ax.text(0.5, 0.5, "identical", ha="center", va="center", transform=ax.transAxes)


def _quantities(report: Report) -> list[str]:
    seen = dict.fromkeys(  # an empty tensor has nothing to draw
        q for r in report.results.values() for q, a in r.arrays.items() if a.ndim and a.size
    )
    derivatives = [q for q in seen if q in ("jacobian",) or q.startswith(("d", "grads."))]
    return (derivatives or list(seen))[:MAX_ROWS]


def _matrix(array: Any) -> Any:
    matrix = np.asarray(array, dtype=np.float64)
    return matrix.reshape(1, -1) if matrix.ndim == 1 else matrix.reshape(-1, matrix.shape[-1])
