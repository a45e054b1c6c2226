"""Six inputs of `gradcli check` that once reached a traceback (exit 70) or a wrong
verdict (issue 21, "Tracebacks or raw exceptions"): each is one `Error:` line and exit
2 through the real entry point (`python -m gradcli check …`, whose user code runs in a
worker), and gradcli's own InputError through the Python API (code run in process)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import gradcli

MODULE = textwrap.dedent(
    """
    import numpy as np
    import torch


    def f(x):
        return x * x


    def g(x):
        return 2 * x


    class OnMeta(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.empty(3, device="meta"))

        def forward(self, x):
            return x * self.w


    class NotAFunction:  # apply and backward, but no torch.autograd.Function
        apply = staticmethod(lambda x: 2 * x)
        backward = staticmethod(lambda ctx, g: 2 * g)


    def two_shapes(x):  # a sum on tensors, elementwise on arrays
        return (x * x).sum() if isinstance(x, torch.Tensor) else x * x


    def two_shapes_grad(x):
        return 2 * x
    """
)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "code.py").write_text(MODULE)
    np.save(tmp_path / "deep.npy", np.zeros((1,) * 64))
    deep: Any = 0.5
    for _ in range(64):
        deep = [deep]
    (tmp_path / "deep.json").write_text(json.dumps(deep))
    return tmp_path


# argv after `check`, and what the one Error line says
CASES = {
    "unhashable --arg literal": (
        ["code.py:f", "--grad", "g", "--shape", "3", "--arg", "k={[1]: 2}"],
        "Error: --arg k={[1]: 2}: not a value Python can make (unhashable type: 'list')",
    ),
    "64-dimensional .npy": (
        ["code.py:f", "--grad", "g", "--input", "deep.npy"],
        "Error: x: 64 dimensions; the limit is 32",
    ),
    "64-deep JSON": (
        ["code.py:f", "--grad", "g", "--input", "deep.json"],
        "Error: x: 64 dimensions; the limit is 32",
    ),
    "uniform at scale 1e308": (
        ["code.py:f", "--grad", "g", "--shape", "3", "--dist", "uniform", "--scale", "1e308"],
        "Error: --scale 1e308: at most 1e300",
    ),
    "parameters on the meta device": (
        ["code.py:OnMeta", "--shape", "3"],
        "Error: the module's parameter w is on the meta device, which holds no values",
    ),
    "apply and backward, not a Function": (
        ["code.py:NotAFunction", "--shape", "3"],
        "Error: TARGET NotAFunction has apply and backward but is not a torch.autograd.Function",
    ),
    "torch output of another shape": (
        ["code.py:two_shapes", "--grad", "two_shapes_grad", "--shape", "3"],
        "Error: the forward has shape () on tensors but (3,) on arrays",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_command_says_one_error_line(case: str, folder: Path) -> None:
    argv, expected = CASES[case]
    run = subprocess.run(
        [sys.executable, "-m", "gradcli", "check", *argv],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )
    assert (run.returncode, run.stdout) == (2, ""), run.stderr
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith(expected), lines[0]


def test_the_api_raises_its_own_error(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    monkeypatch.chdir(folder)  # "code.py:OnMeta" for the worker
    spec = importlib.util.spec_from_file_location("gradcli_refusals_code", folder / "code.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    calls: dict[str, tuple[Any, dict[str, Any], str]] = {
        "64 dims": (module.f, {"grad": module.g, "x": np.zeros((1,) * 64)}, "64 dimensions"),
        "scale": (
            module.f,
            {"grad": module.g, "shape": 3, "dist": "uniform", "scale": 1e308},
            "scale 1e+308: at most 1e300",
        ),
        "meta class": (module.OnMeta, {"shape": 3}, "on the meta device"),
        "meta instance": (module.OnMeta(), {"shape": 3}, "on the meta device"),
        "not a Function": (module.NotAFunction, {"shape": 3}, "not a torch.autograd.Function"),
        "two shapes": (
            module.two_shapes,
            {"grad": module.two_shapes_grad, "shape": 3},
            "has shape () on tensors but (3,) on arrays",
        ),
        "in a worker": (
            "code.py:OnMeta",
            {"shape": 3, "worker": True},
            "on the meta device",
        ),
    }
    for name, (forward, keywords, message) in calls.items():
        with pytest.raises(gradcli.InputError) as raised:
            gradcli.check(forward, **keywords)
        assert message in str(raised.value), (name, str(raised.value))


def test_a_large_scale_within_the_limit_is_still_drawn() -> None:
    """The limit refuses only what would overflow: 1e300 draws, uniform in ±1e300."""
    report = gradcli.check(np.sin, grad=np.cos, shape=4, scale=1e300, dist="uniform", trials=1)
    x = report.inputs["x"][0]
    assert x.shape == (4,)
    assert np.all(np.abs(x) <= 1e300)
    assert np.max(np.abs(x)) > 1e299
