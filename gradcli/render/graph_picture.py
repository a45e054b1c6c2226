"""The graph of a `gradcli graph` program as a picture, as micrograd's draw_dot and
torchviz draw it: a box per variable (its shape, and summaries of its value and
gradient) and an oval per operation, with edges in data-flow order, left to right.

Drawn with matplotlib alone (it installs cleanly with pip; no Graphviz binary is
needed); `dot_text` writes the same graph as Graphviz text for `--dot FILE`.
"""

from __future__ import annotations

from typing import Any, BinaryIO

import numpy as np

from gradcli.report import Report


def nodes(report: Report) -> list[dict[str, Any]]:
    return list(report.extra.get("graph", []))


def levels(graph: list[dict[str, Any]]) -> dict[str, int]:
    """The data-flow depth of each variable: inputs at 0, a statement one past its reads."""
    depth: dict[str, int] = {}
    for node in graph:  # statements come in program order, so reads are known already
        reads = node.get("reads", [])
        depth[node["name"]] = 1 + max((depth.get(r, 0) for r in reads), default=-1)
    return depth


def summary(report: Report, quantity: str) -> str:
    """min…max of one variable's value or gradient (the most exact backend's)."""
    for backend in ("numpy", "torch", "fd"):
        result = report.results.get(backend)
        if result is not None and quantity in result.arrays:
            array = np.asarray(result.arrays[quantity], dtype=np.float64)
            finite = array[np.isfinite(array)]
            if array.size == 0:
                return "empty"
            if array.size == 1:
                return f"{float(array.reshape(-1)[0]):.4g}"
            if not finite.size:
                return "not finite"
            low, high = float(finite.min()), float(finite.max())
            return f"{low:.3g}" if low == high else f"{low:.3g} … {high:.3g}"
    return "—"


def _label(report: Report, node: dict[str, Any]) -> str:
    name = node["name"]
    shape = "×".join(map(str, node.get("shape", []))) or "scalar"
    value = summary(report, f"values.{name}")
    grad = summary(report, f"grads.{name}")
    return f"{name}  ({shape})\nvalue {value}\ngrad {grad}"


def _op_label(node: dict[str, Any]) -> str:
    return " → ".join(node.get("ops") or [node.get("op", "?")])


def dot_text(report: Report) -> str:
    """Graphviz text: `dot -Tsvg graph.dot > graph.svg` draws it."""
    out = ["digraph gradcli {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];']
    for node in nodes(report):
        name = node["name"]
        label = _label(report, node).replace("\n", "\\n").replace('"', '\\"')
        out.append(f'  "{name}" [shape=box, label="{label}"];')
        if node.get("op") != "input":
            out.append(f'  "{name}.op" [shape=oval, label="{_op_label(node)}"];')
            out.extend(f'  "{read}" -> "{name}.op";' for read in node.get("reads", []))
            out.append(f'  "{name}.op" -> "{name}";')
    last = nodes(report)[-1]["name"] if nodes(report) else None
    if last is not None:
        out.append('  "loss" [shape=oval, label="loss = sum"];')
        out.append(f'  "{last}" -> "loss";')
    out.append("}")
    return "\n".join(out) + "\n"


def save_dot(report: Report, path: str) -> None:
    from gradcli.save import atomic_write

    text = dot_text(report).encode()

    def write(handle: BinaryIO) -> None:
        handle.write(text)

    atomic_write(path, write, "--dot")


def draw(ax: Any, report: Report) -> None:
    """The graph on a matplotlib axis: variables in columns by depth, each operation
    between its arguments and its result, arrows from box edge to box edge."""
    graph = nodes(report)
    depth = levels(graph)
    columns: dict[int, list[str]] = {}
    for node in graph:
        columns.setdefault(depth[node["name"]], []).append(node["name"])
    where: dict[str, tuple[float, float]] = {}
    for level, names in columns.items():
        for row, name in enumerate(names):
            where[name] = (3.0 * level, -(row - (len(names) - 1) / 2) * 1.5)
    box = {"boxstyle": "round,pad=0.4", "facecolor": "#eef3fb", "edgecolor": "#4a6fa5"}
    oval = {"boxstyle": "round4,pad=0.3", "facecolor": "#fdf1dc", "edgecolor": "#c08a2e"}
    arrow = {"arrowstyle": "-|>", "color": "#555555", "shrinkA": 2, "shrinkB": 2}
    text = {"ha": "center", "va": "center", "fontsize": 7}
    artists = {
        node["name"]: ax.annotate(_label(report, node), where[node["name"]], bbox=box, **text)
        for node in graph
    }

    def connect(source: Any, target: Any) -> None:
        ax.annotate(
            "",
            xy=(0.0, 0.5),
            xycoords=target,
            xytext=(1.0, 0.5),
            textcoords=source,
            arrowprops=arrow,
        )

    for node in graph:
        if node.get("op") == "input":
            continue
        x, y = where[node["name"]]
        reads = node.get("reads", [])
        oy = float(np.mean([where[r][1] for r in reads] + [y]))
        op = ax.annotate(_op_label(node), (x - 1.5, oy), bbox=oval, **text)
        for read in reads:
            connect(artists[read], op)
        connect(op, artists[node["name"]])
    if graph:
        x, y = where[graph[-1]["name"]]
        loss = ax.annotate("loss = sum", (x + 2.2, y), bbox=oval, **text)
        connect(artists[graph[-1]["name"]], loss)
    xs = [p[0] for p in where.values()] or [0.0]
    ys = [p[1] for p in where.values()] or [0.0]
    ax.set_xlim(min(xs) - 1.3, max(xs) + 3.0)
    ax.set_ylim(min(ys) - 0.9, max(ys) + 0.9)
    ax.set_axis_off()
    ax.set_title("the program's graph: variables (boxes) and operations, data flowing right")


def height(report: Report) -> float:
    """Inches the drawing needs: more for a wider column of variables."""
    depth = levels(nodes(report))
    widest = max([list(depth.values()).count(d) for d in set(depth.values())] or [1])
    return 1.2 + 0.9 * widest
