"""gradcli: see a derivative and check it through independent backends.

The command line is :mod:`gradcli.cli`; the library under it is :func:`softmax`,
:func:`layer`, :func:`graph` and :func:`check`, which return a :class:`Report`;
:mod:`gradcli.testing` fails a pytest test with a readable report.
The package root stays light (no numpy, no torch, no rich, not even typing: the
`gradcli` command installs its signal handlers only after this module has run, so it
must run in microseconds): its attributes are imported when first used.
"""

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (25 ms)

__version__ = "0.1.0"
__all__ = [
    "InputError", "Report", "__version__", "check", "graph", "layer", "softmax", "testing",
]  # fmt: skip

if TYPE_CHECKING:
    from gradcli import testing
    from gradcli.api import check, graph, layer, softmax
    from gradcli.errors import InputError
    from gradcli.report import Report


def __dir__() -> list[str]:
    """The API beside the module's own names (they are imported when first used)."""
    return sorted({*globals(), *__all__} - {"TYPE_CHECKING"})


def __getattr__(name: str) -> object:
    if name in ("softmax", "layer", "graph", "check"):
        from gradcli import api

        return getattr(api, name)
    if name == "testing":
        import importlib

        return importlib.import_module("gradcli.testing")
    if name == "Report":
        from gradcli.report import Report

        return Report
    if name == "InputError":
        from gradcli.errors import InputError

        return InputError
    raise AttributeError(f"module 'gradcli' has no attribute {name!r}")
