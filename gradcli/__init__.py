"""gradcli: see a derivative and check it through independent backends.

The command line is :mod:`gradcli.cli`; the library under it is :func:`softmax`,
:func:`layer` and :func:`graph`, which return a :class:`Report`;
:func:`gradcli.testing.assert_backends_agree` fails a pytest test with a readable report.
The package root stays light (no numpy, no torch, no rich): its attributes are imported
when first used, so that ``gradcli --help`` starts fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["InputError", "Report", "__version__", "check", "graph", "layer", "softmax"]

if TYPE_CHECKING:
    from gradcli.api import check, graph, layer, softmax
    from gradcli.errors import InputError
    from gradcli.report import Report


def __getattr__(name: str) -> Any:
    if name in ("softmax", "layer", "graph", "check"):
        from gradcli import api

        return getattr(api, name)
    if name == "Report":
        from gradcli.report import Report

        return Report
    if name == "InputError":
        from gradcli.errors import InputError

        return InputError
    raise AttributeError(f"module 'gradcli' has no attribute {name!r}")
