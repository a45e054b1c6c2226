"""The Python API under the CLI: the same reports, JSON, rendering, and the pytest helper."""

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import gradcli
from gradcli.backends import analytic
from gradcli.cli import cli
from gradcli.testing import assert_backends_agree


def test_softmax_report_matches_the_cli_json():
    report = gradcli.softmax([3, 1, -3])
    assert report.ok
    assert isinstance(report, gradcli.Report)
    cli_json = json.loads(CliRunner().invoke(cli, ["softmax", "3", "1", "-3", "--json"]).stdout)
    assert json.loads(report.to_json()) == cli_json
    np.testing.assert_allclose(
        report.results["torch"].arrays["softmax"], [0.8788782, 0.1189432, 0.0021785], atol=1e-7
    )


def test_layer_and_graph_reports():
    layer = gradcli.layer(
        np.eye(2), [0, 0], [1, 0], loss="mse", target=[0.5, 0.5], explain="W[0,0]"
    )
    assert layer.ok
    assert layer.explanation is not None
    assert layer.explanation.total == pytest.approx(
        float(layer.results["numpy"].arrays["dW"][0, 0])
    )
    graph = gradcli.graph("y = (a * a).sum()", {"a": [1.0, 2.0]})
    np.testing.assert_allclose(graph.results["numpy"].arrays["grads.a"], [2.0, 4.0])
    assert graph.ok


def test_bad_input_raises_input_error_with_the_cli_message():
    with pytest.raises(gradcli.InputError, match="must lie in"):
        gradcli.softmax([1, 2], temperature=0)
    with pytest.raises(gradcli.InputError, match="not finite"):
        gradcli.softmax([1, float("nan")])
    with pytest.raises(gradcli.InputError, match="unknown backend jax"):
        gradcli.softmax([1, 2], backends=["jax"])
    with pytest.raises(gradcli.InputError, match="unknown name 'q'"):
        gradcli.graph("y = q * 2", {"a": [1.0]})


def test_repr_rich_and_jupyter():
    report = gradcli.softmax([3, 1, -3], backends=["numpy", "fd"])
    assert repr(report) == (
        "<gradcli Report softmax: OK: numpy and fd agree on s and J within "
        "tolerance; every law holds>"
    )
    from rich.console import Console

    console = Console(record=True, width=100, color_system=None, file=io.StringIO())
    console.print(report)
    text = console.export_text()  # the default view, verdict first (not --detail's tables)
    assert text.startswith("OK: numpy and fd (finite differences) agree on s and J")
    assert "Jacobian ∂s_i/∂z_j" in text
    assert "Differences (the second backend is the reference)" not in text
    html = report._repr_html_()
    assert html.startswith("<!DOCTYPE html>")
    assert "0.878878" in html


def test_assert_backends_agree_passes_and_fails_readably(monkeypatch):
    assert_backends_agree(gradcli.softmax([3, 1, -3]))
    monkeypatch.setattr(
        analytic, "softmax_jacobian", lambda s, t=1.0, out=None: np.diag(s * (1 - s)) / t
    )
    with pytest.raises(AssertionError) as info:
        assert_backends_agree(gradcli.softmax([3, 1, -3]))
    message = str(info.value)
    assert message.startswith("DISAGREE: J: torch and fd agree, numpy differs in 6 of 9 entries")
    assert (
        "worst (furthest beyond its allowed error): J[1,0]: numpy 0 vs torch -0.104537" in message
    )


def test_quiet_prints_only_the_verdict():
    result = CliRunner().invoke(cli, ["softmax", "3", "1", "-3", "--quiet"])
    assert result.exit_code == 0
    assert result.stdout == (
        "OK: numpy, torch and fd agree on s and J within tolerance; every law holds; "
        "worst (closest to its allowed error): J[1,2]: numpy -0.00025912038 vs fd "
        "-0.000259120379, allowed ±1.2e-11; max abs diff 1.31e-11, max rel diff 2.71e-09\n"
    )
    both = CliRunner().invoke(cli, ["layer", "--quiet", "--json"])
    assert both.exit_code == 2
    assert "--quiet and --json exclude each other" in both.stderr


def test_the_package_is_typed_and_import_stays_light():
    assert (Path(gradcli.__file__).parent / "py.typed").exists()
    code = "import sys, gradcli; print('numpy' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    assert out == "False False\n"
