"""What gradcli graph explains besides the numbers: which variable feeds which, each
use's share of a gradient (a sum over paths), and where values stop being finite."""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcli.report import Array, BackendResult
from gradcli.spec import Program


def first_non_finite(program: Program, results: dict[str, BackendResult]) -> list[str]:
    """Where values first stop being finite (in program order), and where gradients do
    (going back from the loss)."""
    notes = []
    names = list(program.variables)
    sources = dict(program.statements)
    for kind, order, word in (("values", names, "values"), ("grads", names[::-1], "gradients")):
        for name in order:
            arrays = [
                r.arrays[f"{kind}.{name}"] for r in results.values() if f"{kind}.{name}" in r.arrays
            ]
            if any(not np.isfinite(a).all() for a in arrays):
                where = (
                    f"{name} = {sources[name].split('=', 1)[1].strip()}"
                    if name in sources
                    else f"input {name}"
                )
                direction = "" if kind == "values" else ", going back from the loss"
                notes.append(f"{word} first stop being finite at {where}{direction}")
                break
    return notes


def paths(
    program: Program,
    contributions: dict[int, list[tuple[int, int, Array]]],
    arrays: dict[str, Array],
) -> dict[str, Any]:
    """For every variable used more than once: each use's share of its gradient."""
    statement_of = {node: name for name, node in program.variables.items()}
    paths: dict[str, Any] = {}
    for name, node in program.variables.items():
        uses = contributions.get(node, [])
        if len(uses) < 2:
            continue
        total = arrays[f"grads.{name}"]
        shares: list[dict[str, Any]] = []
        for consumer, position, share in sorted(uses, key=lambda use: use[:2]):
            owner = program.nodes[consumer].statement
            via = program.statements[owner][0] if owner >= 0 else statement_of.get(consumer, "?")
            shares.append(
                {
                    "via": via,
                    "statement": program.statements[owner][1],
                    "expression": program.nodes[consumer].text,
                    "argument": position,
                    "grad": share,
                }
            )
        with np.errstate(all="ignore"):  # shares may be infinite: inf − inf is NaN here
            summed = np.sum([np.asarray(share["grad"]) for share in shares], axis=0)
            difference = float(np.abs(summed - total).max()) if total.size else 0.0
        paths[name] = {"uses": shares, "total": total, "max_abs_difference": difference}
    return paths


def path_sections(
    paths: dict[str, Any], results: dict[str, BackendResult]
) -> list[tuple[str, tuple[str, ...]]]:
    sections = []
    for name, path in paths.items():
        lines = []
        if not path["total"].size:  # an empty tensor: no element to show
            continue
        first = tuple(0 for _ in path["total"].shape)
        at = f"[{', '.join(map(str, first))}]" if first else ""
        for use in path["uses"]:
            value = float(use["grad"][first])
            role = f"{name} is argument {use['argument'] + 1} of {use['expression']}"
            with np.errstate(all="ignore"):  # inf − inf: a NaN sum, shown as such
                total_share = float(use["grad"].sum())
            lines.append(
                f"via {use['statement']}  ({role}): {name}.grad{at} share {value:.6g}, "
                f"all elements sum to {total_share:.6g}"
            )
        total = path["total"]
        lines.append(
            f"sum of the shares = {name}.grad: {name}.grad{at} = {float(total[first]):.6g}; "
            f"largest difference between the sum and {name}.grad: {path['max_abs_difference']:.3g}"
        )
        sections.append((f"{name}.grad is the sum over its {len(path['uses'])} uses", tuple(lines)))
    return sections


def _refs(program: Program, node: int, named: dict[int, str]) -> list[str]:
    """The named variables an expression reads directly (not through other variables)."""
    found: list[str] = []
    stack = list(program.nodes[node].args)
    while stack:
        arg = stack.pop(0)
        if arg in named:
            found.append(named[arg])
        else:
            stack.extend(program.nodes[arg].args)
    return list(dict.fromkeys(found))


def graph_lines(
    program: Program, shapes: list[tuple[int, ...]]
) -> tuple[list[str], list[dict[str, Any]]]:
    """Which variable feeds which, by which operation: lines for people, entries for JSON."""
    first_name: dict[int, str] = {}
    for name, node in program.variables.items():
        first_name.setdefault(node, name)
    sources = dict(program.statements)
    entries: list[dict[str, Any]] = []
    for name, node in program.variables.items():
        op = program.nodes[node].op
        reads = _refs(program, node, first_name) if name in sources else []
        ops = [
            n.op
            for n in program.nodes
            if n.statement >= 0 and program.statements[n.statement][0] == name and n.op != "const"
        ]
        entries.append(
            {"name": name, "op": op, "ops": ops, "reads": reads, "shape": list(shapes[node])}
        )
    last = program.statements[-1][0]
    lines = []
    for entry in entries:
        name = str(entry["name"])
        feeds = [e["name"] for e in entries if name in e["reads"]] + (
            ["loss"] if name == last else []
        )
        entry["feeds"] = feeds
        shape = "×".join(map(str, entry["shape"])) or "scalar"
        if name in sources:
            steps = " then ".join(entry["ops"])
            what = f"{sources[name]}  [{steps} of {', '.join(entry['reads'])} → {shape}]"
        else:
            what = f"{name}  input {shape}"
        lines.append(f"{what}  → {', '.join(feeds) or 'nothing'}")
    return lines, entries
