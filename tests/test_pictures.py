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
    assert "J: Jacobian ∂s_i/∂z_j: J_ij = s_i(δ_ij − s_j)  3×3" in text
    # J = diag(s) − s sᵀ: positive diagonal, negative off-diagonal; the smallest entry
    # (−s_1·s_2 ≈ −2.6e-4, 2.6 decades below the largest) shaded ▓. The worst element keeps
    # its own cell (underlined in colour) and is named under the title.
    assert "+█−█−▓" in text
    assert "◆◆" not in text
    assert "worst element (underlined): [" in text
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


def test_heatmap_names_no_worst_element_when_every_difference_is_0():
    report = gradcli.softmax([0.0, 0.0], backends=["numpy", "torch"])  # both exactly 1/4, −1/4
    assert all(c.max_abs_error == 0 for c in report.comparisons)
    text = render_text(report, width=100, heatmap=True)
    assert "worst element (underlined)" not in text


def _svg(tmp_path, *args):
    path = tmp_path / "out.svg"
    result = CliRunner().invoke(cli, [*args, "--plot", str(path), "--quiet"])
    assert result.exit_code in (0, 1), result.output
    return path.read_text()


def test_a_plot_carries_the_command_the_inputs_and_the_verdict(tmp_path):
    svg = _svg(tmp_path, "softmax", "3", "1", "-3")
    for words in ("gradcli softmax 3 1 -3", "of 3 logits", "agree on s and J"):
        assert words.replace(" ", "") in "".join(svg.split()), words  # svg text, one per glyph run
    assert "tolerance" in svg
    assert "j (input)" in svg
    assert "i (output)" in svg


def test_a_failing_check_plot_outlines_each_entry_beyond_tolerance(tmp_path):
    from gradcli.render import plot

    report = gradcli.check(
        lambda x: x * x, grad=lambda x: x, shape=(2, 3), trials=1, seed=1
    )  # the forgotten 2: every entry is wrong
    assert not report.ok
    figure = plot.build_figure(report, "gradcli check …")
    titles = [ax.get_title() for ax in figure.axes]
    assert any("6 of 6 beyond tolerance" in t for t in titles)
    difference = next(ax for ax in figure.axes if "beyond tolerance" in ax.get_title())
    assert len(difference.patches) == 6  # one outline per entry beyond tolerance
    scatter = next(ax for ax in figure.axes if "vs expected" in ax.get_title())
    assert "wrong by a constant factor 0.5" in scatter.get_title()


def test_graph_plot_draws_the_graph_and_dot_writes_it(tmp_path):
    dot = tmp_path / "graph.dot"
    program = "b = a.sum(dim=0, keepdim=True); c = a/b; y = w@c"
    svg = _svg(tmp_path, "graph", program, "--rand", "w=2x3", "--rand", "a=3x3", "--dot", str(dot))
    assert "program's graph" in svg
    text = dot.read_text()
    assert text.startswith("digraph gradcli {")
    for edge in (
        '"a" -> "b.op"',
        '"b" -> "c.op"',
        '"a" -> "c.op"',
        '"c.op" -> "c"',
        '"y" -> "loss"',
    ):
        assert edge in text
    assert 'label="matmul"' in text


def test_a_kink_is_drawn_dashed_and_as_agreeing():
    from gradcli.render import plot

    report = gradcli.graph("y = relu(a)", inputs={"a": [0.0, 1.0, -1.0]}, backends=["numpy", "fd"])
    assert report.ok
    assert [k.index for k in report.kinks] == [(0,)]
    figure = plot.build_figure(report)
    difference = next(ax for ax in figure.axes if "dashed: a kink" in ax.get_title())
    dashed = [p for p in difference.patches if p.get_linestyle() == "--"]
    assert len(dashed) == 1
    assert dashed[0].get_xy() == (-0.5, -0.5)  # a[0], where relu's slopes are 0 and 1
