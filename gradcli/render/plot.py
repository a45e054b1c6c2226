"""--plot FILE.png|.svg: a figure that answers as the terminal view does.

The title carries the command, what was computed (the inputs' summary) and the verdict.
Each array quantity is a row: its value (once, the most exact backend's), then its
difference to the reference as |a − ref| / allowed on a log scale whose colour bar marks
the tolerance (1), with every entry beyond it outlined; a failing check adds a scatter
of yours against expected (a wrong off-diagonal lies on y = 0, a factor is a slope).
Axes are labelled i (output) and j (input). `gradcli graph` draws its graph on top.
matplotlib is an optional extra (gradcli[plot]).
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from gradcli.errors import InputError
from gradcli.render import findings
from gradcli.report import Comparison, Report
from gradcli.save import atomic_write

FORMATS = (".png", ".svg")
MAX_ROWS = 4  # quantities shown; a program with more variables shows the first ones
FLOOR = -8.0  # log10 of the smallest ratio drawn: a zero difference is drawn here
ANNOTATED = 36  # matrices up to this many cells print their numbers in the cells
ANNOTATED_COLUMNS = 8  # and no wider: a row of 10 numbers runs together at this size


def check_plot_path(path: str) -> None:
    """Refuse a path or a missing matplotlib before anything is computed."""
    from gradcli.save import destination

    destination(path, "--plot")  # a folder, a symlink loop, an empty name: one line
    if Path(path).suffix.lower() not in FORMATS:
        raise InputError(f"--plot {path}: the file name must end in .png or .svg")
    if not Path(path).resolve().parent.is_dir():
        raise InputError(f"--plot {path}: its folder does not exist")
    from gradcli.render import mpl_home

    mpl_home.prepare()
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise InputError(
            "--plot needs matplotlib: pip install 'gradcli[plot]' (or pip install matplotlib)"
        ) from None


def save_plot(report: Report, path: str, command: str | None = None) -> None:
    from gradcli.render import mpl_home

    mpl_home.prepare()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not _rows(report):
        raise InputError("--plot: nothing to draw (every quantity is a scalar or empty)")
    figure = build_figure(report, command)
    suffix = Path(path).suffix.lower().lstrip(".")
    atomic_write(path, lambda handle: figure.savefig(handle, format=suffix), "--plot")
    plt.close(figure)


def build_figure(report: Report, command: str | None = None) -> Any:
    import matplotlib.pyplot as plt

    rows = _rows(report)
    failed = {f.base: f for f in findings.failures(report)}
    columns = 3 if failed else 2
    graph = report.command == "graph" and report.extra.get("graph")
    top = 1 if graph else 0
    heights = [1.7 if _is_vector(report, q) else 2.9 for q, _ in rows]
    if graph:
        from gradcli.render import graph_picture

        heights = [graph_picture.height(report), *heights]
    figure = plt.figure(figsize=(4.6 * columns, 1.0 + sum(heights)), layout="constrained")
    grid = figure.add_gridspec(top + len(rows), columns, height_ratios=heights or [1])
    if graph:
        graph_picture.draw(figure.add_subplot(grid[0, :]), report)
    for n, (quantity, comparison) in enumerate(rows):
        base = report.key(quantity).base
        _value_panel(figure, figure.add_subplot(grid[top + n, 0]), report, quantity)
        if comparison is not None:
            _difference_panel(figure, figure.add_subplot(grid[top + n, 1]), report, comparison)
        if base in failed:
            _scatter_panel(figure.add_subplot(grid[top + n, 2]), report, failed[base])
    figure.suptitle(_heading(report, command), fontsize=9, ha="left", x=0.01)
    return figure


def _heading(report: Report, command: str | None) -> str:
    from gradcli.render.view import headline

    lines = [f"$ {command or 'gradcli ' + report.command}", *report.title.splitlines()]
    for line in headline(report, 130):
        lines += textwrap.wrap(line, 130)
    return "\n".join(lines)


def _rows(report: Report) -> list[tuple[str, Comparison | None]]:
    """The quantities to draw with the comparison of each: for a failure its worst
    trial against the expected backend, else the pair nearest its tolerance."""
    failing = findings.failures(report)
    chosen: list[tuple[str, Comparison | None]] = [(f.worst.quantity, f.worst) for f in failing]
    seen = {report.key(q).base for q, _ in chosen}
    arrays = dict.fromkeys(  # an empty tensor has nothing to draw
        q for r in report.results.values() for q, a in r.arrays.items() if a.ndim and a.size
    )
    derivatives = [q for q in arrays if q == "jacobian" or q.startswith(("d", "grads.", "trial"))]
    first = ("jacobian", "dW", "db", "dx")  # the parameters' gradients before dL/ds, dL/dz
    derivatives.sort(key=lambda q: first.index(q) if q in first else len(first))
    for quantity in derivatives or list(arrays):
        base = report.key(quantity).base
        if base in seen:
            continue
        seen.add(base)
        pairs = [c for c in report.comparisons if c.quantity == quantity]
        chosen.append((quantity, max(pairs, key=findings.ratio) if pairs else None))
    return chosen[:MAX_ROWS]


def _is_vector(report: Report, quantity: str) -> bool:
    backend = findings.shown_backend(report, quantity)
    return int(np.ndim(report.results[backend].arrays[quantity])) <= 1


def _matrix(array: Any) -> Any:
    matrix = np.asarray(array, dtype=np.float64)
    if matrix.ndim <= 1:
        return matrix.reshape(1, -1)
    return matrix.reshape(-1, matrix.shape[-1])


def _axes_labels(ax: Any, report: Report, quantity: str, matrix: Any) -> None:
    key = report.key(quantity)
    jacobian = key.quantity in ("jacobian", "dW")
    ax.set_xlabel("j (input)" if jacobian else "index" if matrix.shape[0] == 1 else "column")
    ax.set_ylabel("i (output)" if jacobian else "" if matrix.shape[0] == 1 else "row")
    for axis, n in ((ax.xaxis, matrix.shape[1]), (ax.yaxis, matrix.shape[0])):
        axis.set_ticks(range(n) if n <= 12 else np.linspace(0, n - 1, 6).round().astype(int))
    ax.tick_params(labelsize=7)
    if matrix.shape[0] == 1:
        ax.set_yticks([])


def _value_panel(figure: Any, ax: Any, report: Report, quantity: str) -> None:
    backend = findings.shown_backend(report, quantity)
    matrix = _matrix(report.results[backend].arrays[quantity])
    finite = np.abs(matrix[np.isfinite(matrix)])
    limit = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    image = ax.imshow(matrix, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    figure.colorbar(image, ax=ax, shrink=0.85).ax.tick_params(labelsize=7)
    from gradcli.render.view_parts import label_of

    ax.set_title(f"{label_of(report, quantity)}\n({backend})", fontsize=8)
    _axes_labels(ax, report, quantity, matrix)
    if matrix.size <= ANNOTATED and matrix.shape[1] <= ANNOTATED_COLUMNS:
        for (i, j), value in np.ndenumerate(matrix):
            color = "white" if abs(value) > 0.6 * limit else "black"
            ax.text(j, i, f"{value:.3g}", ha="center", va="center", fontsize=6, color=color)


def _difference_panel(figure: Any, ax: Any, report: Report, c: Comparison) -> None:
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.patches import Rectangle

    a, ref = (_matrix(report.results[n].arrays[c.quantity]) for n in c.backends)
    ratio, outside = findings.ratios(a, ref, c)
    with np.errstate(all="ignore"):
        logs = np.where(np.isfinite(ratio), np.log10(np.maximum(ratio, 10.0**FLOOR)), 3.0)
    shape = np.shape(report.results[c.backends[0]].arrays[c.quantity])
    kinks = [k for k in report.kinks if k.quantity == c.quantity]
    spots = [
        tuple(int(v) for v in np.unravel_index(np.ravel_multi_index(k.index, shape), logs.shape))
        for k in kinks
    ]
    for i, j in spots:  # an interval there: a value inside it agrees
        if not outside[i, j]:
            logs[i, j] = FLOOR
    top = max(2.0, float(logs.max()))
    norm = TwoSlopeNorm(vmin=FLOOR, vcenter=0.0, vmax=top)
    image = ax.imshow(logs, cmap="RdYlGn_r", norm=norm, aspect="auto")
    bar = figure.colorbar(image, ax=ax, shrink=0.85)
    bar.set_label("|a − ref| / allowed", fontsize=7)
    step = 4 if logs.shape[0] == 1 else 2  # a vector's colour bar is short
    ticks = sorted([t for t in range(int(FLOOR), int(top) + 1, step) if t != 0] + [0])
    bar.set_ticks(ticks)
    bar.set_ticklabels(["1 = tolerance" if t == 0 else f"1e{t}" for t in ticks])
    bar.ax.axhline(0.0, color="black", linewidth=2)
    bar.ax.tick_params(labelsize=7)
    for i, j in zip(*np.nonzero(outside), strict=True):
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="black", lw=1.2))
    for i, j in spots:  # the derivative is an interval here: dashed, in yellow
        ax.add_patch(
            Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="#ffd23f", lw=2.5, ls="--")
        )
    beyond = f"{c.n_out_of_tolerance} of {c.size} beyond tolerance (outlined)"
    where = ",".join(map(str, c.worst_index))
    ax.set_title(
        f"|{c.backends[0]} − {c.backends[1]}|: max {c.max_abs_error:.2g}, {beyond}\n"
        f"colour: |a − ref| / allowed ({c.allowed:.2g} at [{where}])"
        + ("; dashed: a kink" if kinks else ""),
        fontsize=8,
    )
    _axes_labels(ax, report, c.quantity, logs)


def _scatter_panel(ax: Any, report: Report, failure: findings.Failure) -> None:
    """yours against expected over every trial: on the diagonal where right."""
    mine, expected = [], []
    for quantity in dict.fromkeys(c.quantity for c in report.comparisons):
        if report.key(quantity).base != failure.base:
            continue
        mine.append(np.ravel(report.results[failure.differing].arrays[quantity]))
        expected.append(np.ravel(report.results[failure.expected].arrays[quantity]))
    x, y = np.concatenate(expected), np.concatenate(mine)
    finite = np.isfinite(x) & np.isfinite(y)
    ax.scatter(x[finite], y[finite], s=10, color="#c0392b", alpha=0.7)
    span = [float(np.min(x[finite], initial=0)), float(np.max(x[finite], initial=0))]
    ax.plot(span, span, color="#555555", linewidth=1, label="y = x (right)")
    ax.axhline(0.0, color="#999999", linewidth=0.5)
    ax.set_xlabel(f"expected ({failure.expected})", fontsize=8)
    ax.set_ylabel(failure.differing, fontsize=8)
    pattern = f"\n{failure.pattern}" if failure.pattern else ""
    ax.set_title(f"{failure.differing} vs expected, every trial{pattern}", fontsize=8)
    ax.legend(fontsize=7, loc="best")
    ax.tick_params(labelsize=7)
