"""graph --explain NAME or 'NAME[i,j]': where a variable's gradient comes from.

Each use of the variable sends a share of the gradient back through its operation's
VJP rule; the shares add up to the gradient (the multivariate chain rule):

    ∂L/∂a = Σ over the uses u of a:  VJP_u(∂L/∂out_u)

It reads a finished Report: the graph (who reads whom), the paths (each use's share,
computed by the numpy engine) and every backend's gradient.
"""

from __future__ import annotations

import ast
from typing import Any

import numpy as np

from gradcli.entries import parse_target
from gradcli.errors import InputError
from gradcli.report import Explanation, Report, Term

# How each operation sends ∂L/∂out (g) back to its argument, by argument position.
RULES: dict[str, tuple[str, ...]] = {
    "add": ("g (summed over broadcast axes)", "g (summed over broadcast axes)"),
    "sub": ("g", "−g"),
    "mul": ("g · b", "g · a"),
    "div": ("g / b", "−g · a / b²"),
    "pow": ("g · b · a^(b−1)", "g · a^b · log a"),
    "matmul": ("g @ Bᵀ", "Aᵀ @ g"),
    "neg": ("−g",),
    "sum": ("g repeated over the summed axes",),
    "mean": ("g repeated over the averaged axes, divided by their count",),
    "max": ("g to the maximal entries, shared equally among ties",),
    "exp": ("g · exp(a)",),
    "log": ("g / a",),
    "sqrt": ("g / (2√a)",),
    "abs": ("g · sign(a)",),
    "tanh": ("g · (1 − tanh²a)",),
    "sigmoid": ("g · σ(a)(1 − σ(a))",),
    "relu": ("g · [a > 0]",),
    "softmax": ("s ⊙ (g − Σ g⊙s), s = softmax(a)",),
    "log_softmax": ("g − softmax(a) · Σ g",),
    "transpose": ("gᵀ",),
    "reshape": ("g reshaped back to a's shape",),
    "index": ("g scattered into the indexed entries, 0 elsewhere",),
}
ELEMENTWISE = {"add", "sub", "mul", "div", "pow", "neg", "exp", "log", "sqrt", "abs", "tanh"}
ELEMENTWISE |= {"sigmoid", "relu"}
OPERATORS = {
    ast.Add: "add",
    ast.Sub: "sub",
    ast.Mult: "mul",
    ast.Div: "div",
    ast.Pow: "pow",
    ast.MatMult: "matmul",
}


def op_of(expression: str) -> str:
    """The outermost operation of an expression, by its syntax."""
    try:
        node = ast.parse(expression, mode="eval").body
    except SyntaxError:
        return ""
    if isinstance(node, ast.BinOp):
        return OPERATORS.get(type(node.op), "")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return "neg"
    if isinstance(node, ast.Subscript):
        return "index"
    if isinstance(node, ast.Attribute) and node.attr == "T":
        return "transpose"
    if isinstance(node, ast.Call):
        func = node.func
        return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return ""


def explain(report: Report, text: str) -> Explanation:
    graph = report.extra.get("graph", [])
    names = [node["name"] for node in graph]
    name, index = parse_target(text, names)
    backend = next(n for n in ("numpy", "torch", "fd") if f"grads.{name}" in _arrays(report, n))
    grads = {v: _arrays(report, backend).get(f"grads.{v}") for v in names}
    total = np.asarray(grads[name], dtype=np.float64)
    if index is not None and (len(index) != total.ndim or not _inside(index, total.shape)):
        raise InputError(f"--explain {text!r}: {name} has shape {total.shape}")
    at = index if index is not None else tuple(0 for _ in total.shape)
    where = f"[{','.join(map(str, at))}]" if at else ""
    uses = _uses(report, name, total)
    count = "its one use" if len(uses) == 1 else f"its {len(uses)} uses"
    lines = [f"∂L/∂{name} = the sum over {count}: each use's VJP of g = ∂L/∂(its output)"]
    terms = []
    for n, use in enumerate(uses, 1):
        op = op_of(use["expression"])
        rules = RULES.get(op, ())
        position = int(use["argument"])
        rule = rules[min(position, len(rules) - 1)] if rules else "its VJP rule"
        share = np.asarray(use["grad"], dtype=np.float64)
        role = f"argument {position + 1} of {op or 'the expression'}"
        lines.append(f"  use {n}: {use['statement']}   ({name} is {role}; rule {rule})")
        upstream = grads.get(use["via"]) if use["expression"] == _rhs(use["statement"]) else None
        flow = _flow(name, use["via"], upstream if op in ELEMENTWISE else None, share, at, where)
        if upstream is not None and op not in ELEMENTWISE:
            flow = _summary(use["via"], np.asarray(upstream)) + f" → share {flow}"
        lines.append(f"    {flow}")
        terms.append(Term(None, n - 1, op, (float(share[at]),), float(share[at])))
    shares = " + ".join(f"{t.product:.6g}" for t in terms)
    summed = sum(t.product for t in terms)
    lines.append(f"  {name}.grad{where} = {shares} = {summed:.6g}")
    given = [
        f"{b} {float(np.asarray(_arrays(report, b)[f'grads.{name}'])[at]):.6g}"
        for b in report.results
        if f"grads.{name}" in _arrays(report, b)
    ]
    lines.append(f"  {name}.grad{where} from " + ", ".join(given))
    return Explanation(
        text.strip(),
        f"∂L/∂{name}{where} = Σ_uses VJP_use(∂L/∂out){where}",
        ("share",),
        tuple(terms),
        float(summed),
        float(total[at]),
        backend,
        tuple(lines),
    )


def _arrays(report: Report, backend: str) -> Any:
    result = report.results.get(backend)
    return result.arrays if result is not None else {}


def _inside(index: tuple[int, ...], shape: tuple[int, ...]) -> bool:
    return all(0 <= i < n for i, n in zip(index, shape, strict=True))


def _rhs(statement: str) -> str:
    return statement.partition("=")[2].strip()


def _uses(report: Report, name: str, total: Any) -> list[dict[str, Any]]:
    """Each use with its share: from the paths when the variable is used more than once,
    else its one reader, whose share is the whole gradient."""
    paths = report.extra.get("paths") or {}
    if name in paths:
        return list(paths[name]["uses"])
    program = str(report.inputs.get("program", ""))
    statements = [s.strip() for s in program.replace("\n", ";").split(";") if s.strip()]
    for node in report.extra.get("graph", []):
        if name in node.get("reads", []):
            statement = next(s for s in statements if s.partition("=")[0].strip() == node["name"])
            rhs = _rhs(statement)
            argument = _argument_position(rhs, name)
            return [
                {
                    "via": node["name"],
                    "statement": statement,
                    "expression": rhs,
                    "argument": argument,
                    "grad": total,
                }
            ]
    return []  # the loss itself, or a variable that does not reach it


def _argument_position(expression: str, name: str) -> int:
    try:
        node = ast.parse(expression, mode="eval").body
    except SyntaxError:
        return 0
    args: list[ast.expr] = []
    if isinstance(node, ast.BinOp):
        args = [node.left, node.right]
    elif isinstance(node, ast.Call):
        func = node.func
        args = [func.value] if isinstance(func, ast.Attribute) else []
        args += list(node.args)
    for position, arg in enumerate(args):
        if any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(arg)):
            return position
    return 0


def _flow(name: str, via: str, upstream: Any, share: Any, at: tuple[int, ...], where: str) -> str:
    """The numbers of one use: g at the entry when the shapes line up, and the share."""
    if upstream is not None and np.shape(upstream) == share.shape:
        g = float(np.asarray(upstream)[at])
        local = f" × {float(share[at]) / g:.6g} (∂{via}/∂{name}{where})" if g else ""
        return f"g = ∂L/∂{via}{where} = {g:.6g}{local} → share {float(share[at]):.6g}"
    return f"{name}{where} = {float(share[at]):.6g}"


def _summary(via: str, upstream: Any) -> str:
    shape = "×".join(map(str, upstream.shape)) or "scalar"
    return f"g = ∂L/∂{via} ({shape}, sum {float(upstream.sum()):.6g})"
