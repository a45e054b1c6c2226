"""The graph program: an expression language parsed with `ast`, never evaluated.

The text is parsed by ``ast.parse`` and walked against an allow-list of node types,
names and methods; everything else is refused, naming the statement and the piece,
before anything runs. The result is a small IR: a list of nodes (an operation, the ids
of its arguments and its literal parameters), which both backends execute.
"""

from __future__ import annotations

import ast
from typing import Any, NoReturn

from gradcli.errors import InputError
from gradcli.spec import Node, Program

ELEMENTWISE = ("exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu")
REDUCTIONS = ("sum", "mean", "max")
FUNCTIONS = (*REDUCTIONS, *ELEMENTWISE, "softmax", "log_softmax", "matmul", "transpose", "reshape")
BINARY = {
    ast.Add: "add",
    ast.Sub: "sub",
    ast.Mult: "mul",
    ast.Div: "div",
    ast.Pow: "pow",
    ast.MatMult: "matmul",
}
SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**", "matmul": "@"}

MAX_PROGRAM_CHARS = 100_000
MAX_STATEMENTS = 1_000
MAX_NODES = 10_000
MAX_DEPTH = 64


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
    builder = _Builder(inputs)
    for number, statement in enumerate(tree.body):
        builder.statement(number, statement)
    unused = [name for name in inputs if name not in builder.used]
    if unused:
        raise InputError(f"input {unused[0]!r} is not used by the program")
    return Program(tuple(builder.nodes), builder.variables, inputs, tuple(builder.statements))


NUMPY_HABITS = {"axis": "dim", "keepdims": "keepdim"}  # "did you mean" for numpy spellings


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
            self.fail(f"{_kind(stmt)} is not allowed; write 'name = expression'")
        target = stmt.targets[0]
        if not isinstance(target, ast.Name):
            self.fail("assign to a plain name, as in 'y = a @ b'")
        name = target.id
        self._check_name(name, "variable")
        if name in self.variables:
            self.fail(f"{name!r} is assigned twice (each name is assigned once)")
        node = self.expr(stmt.value, 0)
        if isinstance(stmt.value, ast.Name):  # y = a: a variable of its own, a's value
            node = self.node("identity", (node,), (), stmt.value)
        self.variables[name] = node
        self.statements.append((name, self.source))

    def fail(self, message: str) -> NoReturn:
        raise InputError(f"statement {self.number + 1} ({self.source!r}): {message}")

    def _check_name(self, name: str, what: str) -> None:
        if not name.isidentifier() or name.startswith("_"):
            raise InputError(
                f"{what} name {name!r} is not allowed (letters, digits, _, not leading _)"
            )
        if name in FUNCTIONS or name in ("T", "dim", "keepdim"):
            raise InputError(f"{what} name {name!r} would shadow a function of the language")

    def _add(self, node: Node) -> int:
        if len(self.nodes) >= MAX_NODES:
            raise InputError(f"the program has more than {MAX_NODES} operations")
        self.nodes.append(node)
        return len(self.nodes) - 1

    def node(self, op: str, args: tuple[int, ...], params: tuple[Any, ...], expr: ast.expr) -> int:
        return self._add(Node(op, args, params, ast.unparse(expr), self.number))

    def expr(self, expr: ast.expr, depth: int) -> int:
        if depth > MAX_DEPTH:
            self.fail(f"expressions nest deeper than {MAX_DEPTH}")
        if isinstance(expr, ast.Name):
            if expr.id not in self.variables:
                hint = " (a function needs its argument)" if expr.id in FUNCTIONS else ""
                self.fail(f"unknown name {expr.id!r}{hint}; give inputs with --rand or --var")
            self.used.add(expr.id)
            return self.variables[expr.id]
        if isinstance(expr, ast.Constant):
            return self.node("const", (), (self.number_literal(expr),), expr)
        if isinstance(expr, ast.BinOp) and type(expr.op) in BINARY:
            left, right = self.expr(expr.left, depth + 1), self.expr(expr.right, depth + 1)
            return self.node(BINARY[type(expr.op)], (left, right), (), expr)
        if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, (ast.USub, ast.UAdd)):
            operand = self.expr(expr.operand, depth + 1)
            return (
                operand if isinstance(expr.op, ast.UAdd) else self.node("neg", (operand,), (), expr)
            )
        if isinstance(expr, ast.Attribute) and expr.attr == "T":
            return self.node("T", (self.expr(expr.value, depth + 1),), (), expr)
        if isinstance(expr, ast.Subscript):
            base = self.expr(expr.value, depth + 1)
            return self.node("index", (base,), (self.index_key(expr.slice),), expr)
        if isinstance(expr, ast.Call):
            return self.call(expr, depth)
        if isinstance(expr, ast.Attribute):
            self.fail(f"attribute {expr.attr!r} is not allowed (only .T and the method calls)")
        return self.fail(f"{_kind(expr)} is not allowed in this language")

    def call(self, call: ast.Call, depth: int) -> int:
        func = call.func
        if isinstance(func, ast.Name):
            name, positional = func.id, list(call.args)
            if name not in FUNCTIONS:
                self.fail(f"{name}() is not an allowed function ({', '.join(FUNCTIONS)})")
            if not positional:
                self.fail(f"{name}() needs a tensor argument")
            tensor = positional.pop(0)
        elif isinstance(func, ast.Attribute):
            name, tensor, positional = func.attr, func.value, list(call.args)
            if name not in FUNCTIONS:
                self.fail(f"method .{name}() is not allowed ({', '.join(FUNCTIONS)})")
        else:
            return self.fail("only calls of the language's functions are allowed")
        if any(isinstance(a, ast.Starred) for a in positional) or any(
            k.arg is None for k in call.keywords
        ):
            self.fail("* and ** arguments are not allowed")
        keywords = {k.arg: k.value for k in call.keywords if k.arg is not None}
        arg = self.expr(tensor, depth + 1)
        if name in ELEMENTWISE:
            self.no_more(name, positional, keywords)
            return self.node(name, (arg,), (), call)
        if name in REDUCTIONS:
            dim = self.take(name, positional, keywords, "dim", None)
            keepdim = self.take(name, positional, keywords, "keepdim", False)
            self.no_more(name, positional, keywords)
            return self.node(name, (arg,), (self.dims(dim), self.flag(keepdim)), call)
        if name in ("softmax", "log_softmax"):
            dim = self.take(name, positional, keywords, "dim", None)
            self.no_more(name, positional, keywords)
            if dim is None:
                self.fail(f"{name}() needs dim, as in {name}(x, dim=-1)")
            return self.node(name, (arg,), (self.int_literal(dim),), call)
        if name == "matmul":
            if len(positional) != 1 or keywords:
                self.fail("matmul() takes two tensors: matmul(a, b)")
            return self.node("matmul", (arg, self.expr(positional[0], depth + 1)), (), call)
        if name == "transpose":
            if len(positional) != 2 or keywords:
                self.fail("transpose() takes two dims: transpose(x, 0, 1)")
            return self.node(
                "transpose", (arg,), tuple(self.int_literal(p) for p in positional), call
            )
        if keywords:
            self.fail("reshape() takes the shape only: reshape(x, 2, 5) or reshape(x, (2, 5))")
        shape = (
            positional[0].elts
            if len(positional) == 1 and isinstance(positional[0], (ast.Tuple, ast.List))
            else positional
        )
        if not shape:
            self.fail("reshape() needs a shape")
        return self.node("reshape", (arg,), (tuple(self.int_literal(p) for p in shape),), call)

    def take(
        self,
        name: str,
        positional: list[ast.expr],
        keywords: dict[str, ast.expr],
        key: str,
        default: Any,
    ) -> Any:
        if key in keywords:
            return keywords.pop(key)
        return positional.pop(0) if positional else default

    def no_more(self, name: str, positional: list[ast.expr], keywords: dict[str, ast.expr]) -> None:
        if positional:
            self.fail(f"{name}() has too many arguments")
        if keywords:
            word = next(iter(keywords))
            habit = NUMPY_HABITS.get(word)
            hint = f" (numpy's {word}= is {habit}= here, as in torch)" if habit else ""
            self.fail(f"{name}() has no argument {word!r}{hint}")

    def dims(self, value: Any) -> tuple[int, ...] | None:
        if value is None or (isinstance(value, ast.Constant) and value.value is None):
            return None
        if isinstance(value, (ast.Tuple, ast.List)):
            return tuple(self.int_literal(v) for v in value.elts)
        return (self.int_literal(value),)

    def flag(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, ast.Constant) and isinstance(value.value, bool):
            return value.value
        self.fail("keepdim must be True or False")

    def int_literal(self, expr: ast.expr) -> int:
        sign = 1
        if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.USub):
            sign, expr = -1, expr.operand
        if isinstance(expr, ast.Constant) and type(expr.value) is int:
            return sign * expr.value
        self.fail(f"{ast.unparse(expr)!r} must be an integer literal")

    def number_literal(self, expr: ast.Constant) -> float:
        raw = expr.value
        if not isinstance(raw, (int, float)) or isinstance(raw, bool):
            self.fail(f"constant {raw!r} is not a number")
        try:
            value = float(raw)
        except OverflowError:
            self.fail(f"constant {raw!r} overflows float64")
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
                key.append(("slice", *parts))
            else:
                key.append(("int", self.int_literal(item)))
        return tuple(key)


def _kind(node: ast.AST) -> str:
    names = {
        "Lambda": "lambda",
        "ListComp": "a comprehension",
        "GeneratorExp": "a generator",
        "Import": "import",
        "ImportFrom": "import",
        "Expr": "a bare expression",
        "AugAssign": "augmented assignment",
        "Compare": "a comparison",
        "BoolOp": "and/or",
        "IfExp": "if/else",
        "Dict": "a dict",
        "Set": "a set",
        "List": "a list",
        "Tuple": "a tuple",
        "JoinedStr": "an f-string",
        "FunctionDef": "def",
        "NamedExpr": ":=",
    }
    return names.get(type(node).__name__, type(node).__name__)
