"""The words of the graph language's messages: what people call a piece of Python
syntax, and the names they bring from numpy and torch (with what the language calls
them), for "did you mean" hints."""

from __future__ import annotations

import ast

# numpy habits and near-misses, and what the language calls them
HINTS = {
    "axis": "dim",
    "axes": "dim",
    "dims": "dim",
    "keepdims": "keepdim",
    "amax": "max",
    "dot": "matmul (or @)",
    "mm": "matmul (or @)",
    "power": "**",
    "maximum": "max",
    "view": "reshape",
    "swapaxes": "transpose",
    "permute": "transpose",
}
MODULES = ("np", "numpy", "torch", "F", "math")


def kind_of(node: ast.AST) -> str:
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
        "Mod": "%",
        "FloorDiv": "//",
        "LShift": "<<",
        "RShift": ">>",
        "BitOr": "|",
        "BitAnd": "&",
        "BitXor": "^",
    }
    return names.get(type(node).__name__, type(node).__name__)
