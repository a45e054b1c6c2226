"""The API's face: `dir(gradcli)` lists it without importing numpy or torch, the four
functions and the testing helpers carry numpy-style docstrings (Parameters, Returns,
Raises, Examples), and every example in them runs as written (doctest)."""

from __future__ import annotations

import doctest
import importlib
import inspect
import subprocess
import sys

import pytest

import gradcli

API = ["softmax", "layer", "graph", "check"]
HELPERS = ["assert_backends_agree", "assert_gradients_correct"]
MODULES = ["gradcli.api", "gradcli.api_check", "gradcli.testing"]


def test_dir_lists_the_api_and_imports_nothing_heavy():
    code = (
        "import sys, gradcli; names = dir(gradcli); "
        "print(' '.join(n for n in names if not n.startswith('_'))); "
        "print('numpy' in sys.modules, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    listed, heavy = out.splitlines()
    assert listed.split() == [
        "InputError",
        "Report",
        "check",
        "graph",
        "layer",
        "softmax",
        "testing",
    ]
    assert heavy == "False False"
    assert gradcli.testing.assert_gradients_correct is not None


@pytest.mark.parametrize(
    "function",
    [getattr(gradcli, n) for n in API] + [getattr(gradcli.testing, n) for n in HELPERS],
    ids=API + HELPERS,
)
def test_every_public_function_has_a_numpy_style_docstring(function):
    doc = inspect.getdoc(function)
    for section in ("Parameters", "Returns", "Raises", "Examples"):
        assert f"\n{section}\n{'-' * len(section)}\n" in doc, (function.__name__, section)
    assert ">>> " in doc.split("Examples", 1)[1]
    documented = doc.split("Parameters", 1)[1].split("Returns", 1)[0]
    for name in inspect.signature(function).parameters:
        assert name.strip("*") in documented, f"{function.__name__}: {name} is not documented"


def test_check_defaults_to_the_backends_it_takes():
    default = inspect.signature(gradcli.check).parameters["backends"].default
    assert tuple(default) == ("torch", "fd")
    with pytest.raises(gradcli.InputError, match="torch or fd"):
        gradcli.check(lambda x: x, grad=lambda x: x, shape=2, backends=["numpy"])


@pytest.mark.parametrize("name", MODULES)
def test_the_examples_run_as_written(name):
    module = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(module, optionflags=flags, verbose=False)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed"
