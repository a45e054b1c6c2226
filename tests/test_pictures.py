"""--heatmap in the terminal and --plot to a file."""

import builtins

import numpy as np
import pytest
from click.testing import CliRunner

import gradcli
from gradcli.backends import analytic
from gradcli.cli import cli
from gradcli.render.table import render_text


def test_heatmap_shows_sign_magnitude_and_the_worst_element():
    report = gradcli.softmax([3, 1, -3], backends=["numpy", "fd"])
    text = render_text(report, width=100, heatmap=True)
    assert "Jacobian ∂s_i/∂z_j  3×3" in text
    # J = diag(s) − s sᵀ: positive diagonal, negative off-diagonal; the worst element is
    # marked, the smallest entry (−s_1·s_2 ≈ −2.6e-4, 2.6 decades below the largest) shaded ▓.
    assert "+█−█−▓" in text or "◆◆−█−▓" in text
    assert "◆◆" in text
    assert "|numpy − fd|" in text
    assert "i\\j" not in text  # grids instead of the value tables


def test_heatmap_marks_differences_beyond_tolerance(monkeypatch):
    monkeypatch.setattr(
        analytic, "softmax_jacobian", lambda s, t=1.0, out=None: np.diag(s * (1 - s)) / t
    )
    text = render_text(gradcli.softmax([3, 1, -3], backends=["numpy", "fd"]), heatmap=True)
    difference_rows = [
        line.split()[-1] for line in text.splitlines() if line.count("··") or "█" in line
    ]
    assert any("█" in row or "▓" in row for row in difference_rows)


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_plot_writes_a_figure(tmp_path, suffix):
    path = tmp_path / f"out{suffix}"
    result = CliRunner().invoke(cli, ["layer", "--seed", "3", "--plot", str(path), "--quiet"])
    assert result.exit_code == 0, result.output
    assert f"plotted to {path}" in result.stderr
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG") if suffix == ".png" else b"<svg" in data
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary left


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--plot", "out.pdf"], "--plot out.pdf: the file name must end in .png or .svg"),
        (["--plot", "no/such/out.png"], "its folder does not exist"),
    ],
)
def test_bad_plot_paths(args, message):
    result = CliRunner().invoke(cli, ["softmax", "3", "1", *args])
    assert result.exit_code == 2
    assert message in result.stderr


def test_plot_without_matplotlib_says_how_to_install(monkeypatch, tmp_path):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    result = CliRunner().invoke(cli, ["softmax", "3", "1", "--plot", str(tmp_path / "out.png")])
    assert result.exit_code == 2
    assert "--plot needs matplotlib: pip install 'gradcli[plot]'" in result.stderr
    assert list(tmp_path.iterdir()) == []
