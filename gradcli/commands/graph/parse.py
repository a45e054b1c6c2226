"""The graph program: an expression language parsed with `ast`, never evaluated.

The text is parsed by ``ast.parse`` and walked against an allow-list: the operations and
their arguments come from the op registry (`gradcli.ops`), nothing else is accepted, and
a refusal names the statement and the piece before anything runs. The depth of every
expression is measured without recursion first, so that no later step (``ast.unparse``
included) can hit Python's recursion limit. The result is a small IR: a list of nodes
(an operation, the ids of its arguments and its literal parameters), which every
backend executes.
"""

from __future__ import annotations

import ast
import difflib
from typing import Any, NoReturn

from gradcli.commands.graph.shapes import shorten
from gradcli.commands.graph.words import HINTS, MODULES, kind_of
from gradcli.errors import InputError
from gradcli.ops import FUNCTIONS, OPERATORS, REGISTRY, REQUIRED, Op, Param
from gradcli.spec import Node, Program

MAX_PROGRAM_CHARS = 100_000
MAX_STATEMENTS = 1_000
MAX_NODES = 10_000
MAX_DEPTH = 64
MAX_INT = 2**63 - 1  # an integer literal (a dim, a size, an index) fits int64
# A slice step past the most elements a tensor may have (graph's MAX_ELEMENTS) takes only
# the first entry, and torch multiplies it by the stride in int64: 2**63 - 1 overflows.
MAX_STEP = 10_000_000
RESERVED = ("T", "dim", "keepdim")


def parse_program(text: str, inputs: tuple[str, ...]) -> Program:
    """Parse `text` (statements `name = expression`, separated by ; or newlines)."""
    if len(text) > MAX_PROGRAM_CHARS:
        raise InputError(
            f"the program has {len(text)} characters; the limit is {MAX_PROGRAM_CHARS}"
        )
    try:
        tree = ast.parse(text, mode="exec")
    except SyntaxError as exc:
        raise InputError(f"the program does not parse: {exc.msg} (line {exc.lineno})") from None
    except (RecursionError, MemoryError):
        raise InputError("the program is nested too deeply to parse") from None
    except ValueError as exc:  # e.g. a NUL byte
        raise InputError(f"the program does not parse: {exc}") from None
    if not tree.body:
        raise InputError("the program is empty: write statements such as 'y = a * b'")
    if len(tree.body) > MAX_STATEMENTS:
        raise InputError(
            f"the program has {len(tree.body)} statements; the limit is {MAX_STATEMENTS}"
        )
    if not inputs:
        raise InputError(
            "the program has no inputs, so there is nothing to differentiate: "
            "give each input with --var NAME=JSON or --rand NAME=SHAPE"
        )
    for number, statement in enumerate(tree.body):
        if _too_deep(statement):
            raise InputError(f"statement {number + 1}: expressions nest deeper than {MAX_DEPTH}")
    builder = _Builder(inputs)
    for number, statement in enumerate(tree.body):
        builder.statement(number, statement)
    unused = [name for name in inputs if name not in builder.used]
    if unused:
        raise InputError(f"input {unused[0]!r} is not used by the program")
    return Program(tuple(builder.nodes), builder.variables, inputs, tuple(builder.statements))


def _too_deep(statement: ast.stmt) -> bool:
    """Whether any expression nests deeper than MAX_DEPTH, found without recursion."""
    stack: list[tuple[ast.AST, int]] = [(statement, 0)]
    while stack:
        node, depth = stack.pop()
        depth += isinstance(node, ast.expr)
        if depth > MAX_DEPTH:
            return True
        stack.extend((child, depth) for child in ast.iter_child_nodes(node))
    return False


class _Builder:
    def __init__(self, inputs: tuple[str, ...]) -> None:
        self.nodes: list[Node] = []
        self.variables: dict[str, int] = {}
        self.statements: list[tuple[str, str]] = []
        self.used: set[str] = set()
        self.number = -1
        self.source = ""
        for name in inputs:
            self._check_name(name, "input")
            self.variables[name] = self._add(Node("input", (), (), name, -1))

    def statement(self, number: int, stmt: ast.stmt) -> None:
        self.number, self.source = number, ast.unparse(stmt)
        if not isinstance(stmt, ast.Assign) or len(stmt.targets) != 1:
            self.fail(f"{kind_of(stmt)} is not allowed; write 'name = expression'")
        target = stmt.targets[0]
        if not isinstance(target, ast.Name):
            self.fail("assign to a plain name, as in 'y = a @ b'")
        name = target.id
        self._check_name(name, "variable")
        if name in self.variables:
            self.fail(f"{name!r} is assigned twice (each name is assigned once)")
        node = self.expr(stmt.value)
        if isinstance(stmt.value, ast.Name):  # y = a: a variable of its own, a's value
            node = self.node("identity", (node,), (), stmt.value)
        self.variables[name] = node
        self.statements.append((name, self.source))

    def fail(self, message: str) -> NoReturn:
        raise InputError(f"statement {self.number + 1} ({shorten(self.source)!r}): {message}")

    def _check_name(self, name: str, what: str) -> None:
        if not name.isidentifier() or name.startswith("_"):
            raise InputError(
                f"{what} name {shorten(name)!r} is not allowed (letters, digits, _, not leading _)"
            )
        if name in FUNCTIONS or name in RESERVED:
            raise InputError(f"{what} name {name!r} would shadow a function of the language")

    def _add(self, node: Node) -> int:
        if len(self.nodes) >= MAX_NODES:
            raise InputError(f"the program has more than {MAX_NODES} operations")
        self.nodes.append(node)
        return len(self.nodes) - 1

    def node(self, op: str, args: tuple[int, ...], params: tuple[Any, ...], expr: ast.expr) -> int:
        return self._add(Node(op, args, params, ast.unparse(expr), self.number))

    def expr(self, expr: ast.expr) -> int:
        if isinstance(expr, ast.Name):
            if expr.id not in self.variables:
                hint = " (a function needs its argument)" if expr.id in FUNCTIONS else ""
                self.fail(f"unknown name {expr.id!r}{hint}; give inputs with --rand or --var")
            self.used.add(expr.id)
            return self.variables[expr.id]
        if isinstance(expr, ast.Constant):
            return self.node("const", (), (self.number_literal(expr),), expr)
        if isinstance(expr, ast.BinOp) and type(expr.op).__name__ in OPERATORS:
            left, right = self.expr(expr.left), self.expr(expr.right)
            return self.node(OPERATORS[type(expr.op).__name__], (left, right), (), expr)
        if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, (ast.USub, ast.UAdd)):
            operand = self.expr(expr.operand)
            return (
                operand if isinstance(expr.op, ast.UAdd) else self.node("neg", (operand,), (), expr)
            )
        if isinstance(expr, ast.Attribute) and expr.attr == "T":
            return self.node("T", (self.expr(expr.value),), (), expr)
        if isinstance(expr, ast.Subscript):
            base = self.expr(expr.value)
            return self.node("index", (base,), (self.index_key(expr.slice),), expr)
        if isinstance(expr, ast.Call):
            return self.call(expr)
        if isinstance(expr, ast.Attribute):
            self.fail(f"attribute {expr.attr!r} is not allowed (only .T and the method calls)")
        if isinstance(expr, ast.BinOp):
            self.fail(f"the operator {kind_of(expr.op)} is not allowed (+ - * / ** @)")
        return self.fail(f"{kind_of(expr)} is not allowed in this language")

    def call(self, call: ast.Call) -> int:
        func = call.func
        if isinstance(func, ast.Name):
            name, positional = func.id, list(call.args)
            self.known_function(name, "")
            if not positional:
                self.fail(f"{name}() needs a tensor argument")
            tensor = positional.pop(0)
        elif isinstance(func, ast.Attribute):
            name, tensor, positional = func.attr, func.value, list(call.args)
            self.known_function(name, ".")
            prefix = tensor.id if isinstance(tensor, ast.Name) else ""
            if prefix in MODULES and prefix not in self.variables:
                self.fail(f"write {name}(…) without the '{prefix}.' prefix")
        else:
            return self.fail("only calls of the language's functions are allowed")
        if any(isinstance(a, ast.Starred) for a in positional) or any(
            k.arg is None for k in call.keywords
        ):
            self.fail("* and ** arguments are not allowed")
        op = REGISTRY[name]
        tensors = [tensor, *positional[: op.tensors - 1]]
        if len(tensors) < op.tensors:
            self.fail(f"{name}() takes {op.tensors} tensors, as in {op.example}")
        args = tuple(self.expr(t) for t in tensors)
        params = self.bind(op, positional[op.tensors - 1 :], call.keywords)
        return self.node(name, args, params, call)

    def known_function(self, name: str, dot: str) -> None:
        if name in FUNCTIONS:
            return
        what = f"method .{name}()" if dot else f"{name}()"
        close = HINTS.get(name) or next(iter(difflib.get_close_matches(name, FUNCTIONS, 1)), None)
        hint = f"; did you mean {close}?" if close else f" ({', '.join(FUNCTIONS)})"
        self.fail(f"{what} is not {'allowed' if dot else 'an allowed function'}{hint}")

    def bind(
        self, op: Op, positional: list[ast.expr], keywords: list[ast.keyword]
    ) -> tuple[Any, ...]:
        """The literal parameters, by position then by keyword, as Python binds them."""
        given: dict[str, Any] = {}
        for param in op.params:
            if param.kind == "shape" and positional:
                given[param.name], positional = positional, []
            elif positional:
                given[param.name] = positional.pop(0)
        if positional:
            self.fail(f"{op.name}() has too many arguments, as in {op.example or op.name}")
        names = [p.name for p in op.params]
        for keyword in keywords:
            key = str(keyword.arg)
            if key not in names:
                close = HINTS.get(key) or next(iter(difflib.get_close_matches(key, names, 1)), None)
                hint = f"; did you mean {close}=?" if close in names else ""
                self.fail(f"{op.name}() has no argument {key!r}{hint}")
            if key in given:
                self.fail(f"{op.name}() got {key!r} twice")
            given[key] = keyword.value
        return tuple(self.literal(op, p, given.get(p.name, p.default)) for p in op.params)

    def literal(self, op: Op, param: Param, value: Any) -> Any:
        if value is REQUIRED:
            self.fail(f"{op.name}() needs {param.name}, as in {op.example}")
        if isinstance(value, ast.Constant) and value.value is None and param.kind == "dims":
            return None
        if param.kind == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, ast.Constant) and isinstance(value.value, bool):
                return value.value
            self.fail(f"{param.name} must be True or False")
        if param.kind == "int":
            return self.int_literal(value)
        if value is None:  # the default of dims: every dim
            return None
        items = value
        if param.kind == "shape" and isinstance(value, list) and len(value) == 1:
            items = value[0]
        if isinstance(items, (ast.Tuple, ast.List)):
            items = items.elts
        elif not isinstance(items, list):
            items = [items]
        if not items:
            what = "leave dim out to reduce every dim" if param.kind == "dims" else "give sizes"
            self.fail(f"{param.name} is empty; {what}")
        return tuple(self.int_literal(v) for v in items)

    def int_literal(self, expr: ast.expr) -> int:
        sign = 1
        if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.USub):
            sign, expr = -1, expr.operand
        if isinstance(expr, ast.Constant) and type(expr.value) is int:
            if expr.value > MAX_INT:
                self.fail(f"the integer {shorten(str(expr.value), 30)} is too large (> 2**63 - 1)")
            return sign * expr.value
        self.fail(f"{shorten(ast.unparse(expr))!r} must be an integer literal")

    def number_literal(self, expr: ast.Constant) -> float:
        raw = expr.value
        if not isinstance(raw, (int, float)) or isinstance(raw, bool):
            self.fail(f"constant {shorten(repr(raw))} is not a number")
        try:
            value = float(raw)
        except OverflowError:
            self.fail(f"constant {shorten(str(raw), 30)} overflows float64")
        if value != value or value in (float("inf"), float("-inf")):
            self.fail(f"constant {ast.unparse(expr)} is not finite")
        return value

    def index_key(self, expr: ast.expr) -> tuple[Any, ...]:
        items = expr.elts if isinstance(expr, ast.Tuple) else [expr]
        key: list[Any] = []
        for item in items:
            if isinstance(item, ast.Slice):
                parts = [
                    None if p is None else self.int_literal(p)
                    for p in (item.lower, item.upper, item.step)
                ]
                if parts[2] is not None and parts[2] <= 0:
                    self.fail("slice steps must be positive (as in PyTorch)")
                if parts[2] is not None and parts[2] > MAX_STEP:
                    self.fail(
                        f"the slice step {parts[2]} is past any axis (at most {MAX_STEP:,} "
                        "entries): it takes the first entry only; write 0:1"
                    )
                key.append(("slice", *parts))
            else:
                key.append(("int", self.int_literal(item)))
        return tuple(key)
