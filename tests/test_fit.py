"""Nothing is cut and nothing is wider than the terminal (issue 14), generated over each
command's default and --detail output at 40, 60 and 80 columns, through the real command
line: a number, name or status cropped by rich reads "2.2e-…", "trial0.jacobi…" or "FA…"
(a "…" touching a character); a "…" standing alone is a row or column left out."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from gradcli.cli import cli

ROOT = Path(__file__).parent.parent
CROPPED = re.compile(r"[\w.+\-]…|…[\w.+\-]")
RUNS = {
    "softmax": ("softmax", "3", "1", "-3"),
    "softmax12": ("softmax", *map(str, range(1, 13))),
    "layer": ("layer", "--seed", "42"),
    "graph": ("graph", "y = w@a", "--rand", "w=4x10", "--rand", "a=10x3", "--seed", "1"),
    "check5": (
        "check",
        "examples/ops.py:softmax",
        "--jacobian",
        "softmax_jacobian",
        "--shape",
        "5",
    ),
    "check12": (
        "check",
        "examples/ops.py:softmax",
        "--jacobian",
        "softmax_jacobian",
        "--shape",
        "12",
    ),
    "failing": (
        "check",
        "examples/ops.py:softmax",
        "--jacobian",
        "softmax_jacobian_no_cross_terms",
        "--shape",
        "5",
    ),
    "module": ("check", "examples/model.py:NetDropsATerm", "--shape", "x=8x16", "--trials", "1"),
    "vjp": (
        *("check", "examples/linear.py:linear", "--vjp", "linear_vjp_wrong_w"),
        *("--shape", "x=8x16", "--shape", "W=16x4", "--shape", "b=4", "--trials", "1"),
    ),
    "directional": (
        *("check", "examples/linear.py:linear", "--vjp", "linear_vjp"),
        *("--shape", "x=300x10", "--shape", "W=10x4", "--shape", "b=4", "--trials", "1"),
    ),
    "graph10": (
        *("graph", "b = a.sum(dim=0, keepdim=True); c = a/b; y = w@c"),
        *("--rand", "w=4x10", "--rand", "a=10x10", "--seed", "42"),
    ),
    "explain": ("softmax", "3", "1", "-3", "--explain", "J[0,1]"),
}


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


@pytest.mark.parametrize(
    ("run", "detail", "width"),
    list(itertools.product(RUNS, [False, True], [40, 60, 80])),
)
def test_no_cell_is_cut_and_no_line_is_wider_than_the_terminal(run, detail, width):
    args = [*RUNS[run], *(["--detail"] if detail else [])]
    result = CliRunner().invoke(cli, args, env={"COLUMNS": str(width), "NO_COLOR": "1"})
    assert result.exit_code in (0, 1), result.output
    lines = result.stdout.splitlines()
    assert len(lines) > 3
    assert [line for line in lines if len(line) > width] == []
    assert [line for line in lines if CROPPED.search(line)] == []


def test_a_table_too_wide_for_any_fold_shows_every_value_as_records():
    from rich.console import Console

    from gradcli.render.blocks import titled_table

    table = titled_table("t")
    table.add_column("name")
    for header in ("max abs", "max rel", "rtol", "atol", "out of tol"):
        table.add_column(header, justify="right")
    table.add_row("trial0.vjp.fc1.bias", "2.78e-17", "7.58e-16", "1e-09", "8.3e-14", "0/144")
    console = Console(width=40, color_system=None, record=True, file=None)
    with console.capture() as capture:
        console.print(table)
    text = capture.get()
    assert "  max abs: 2.78e-17" in text
    assert "  out of tol: 0/144" in text
    assert "trial0.vjp.fc1.bias" in text
    assert max(map(len, text.splitlines())) <= 40


def test_a_matrix_gives_up_columns_not_digits():
    from rich.console import Console

    from gradcli.render.blocks import titled_table

    table = titled_table("J")
    table.droppable_from = 2
    table.add_column("backend")
    table.add_column("i\\j", justify="right")
    for j in range(8):
        table.add_column(str(j), justify="right")
    table.add_row("yours", "0", *[f"-0.00{j}12345" for j in range(8)])
    console = Console(width=60, color_system=None)
    with console.capture() as capture:
        console.print(table)
    text = capture.get()
    assert "-0.00012345" in text
    assert "-0.00712345" not in text  # the last columns gave way
    assert "column" in text.splitlines()[-1]  # and the note says how many
    assert not CROPPED.search(text)
    assert max(map(len, text.splitlines())) <= 60


@pytest.mark.parametrize("quiet", [True, False])
def test_an_ascii_stream_gets_ascii_from_a_directional_check(quiet):
    """click rewraps an ASCII stdout as UTF-8 unless written to as sys.stdout is: the
    directional check's "vᵀJu" must arrive as "v^TJu", not as UTF-8 bytes."""
    import os
    import subprocess
    import sys

    args = [
        *("check", "examples/linear.py:linear", "--vjp", "linear_vjp"),
        *("--shape", "x=300x10", "--shape", "W=10x4", "--shape", "b=4", "--trials", "1"),
        *(["--quiet"] if quiet else ["--detail"]),
    ]
    env = dict(os.environ, PYTHONIOENCODING="ascii", COLUMNS="80", PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "gradcli", *args], capture_output=True, env=env, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    done.stdout.decode("ascii")  # raises on any byte a stream in ASCII cannot take
    done.stderr.decode("ascii")
    assert b"v^TJu" in done.stdout


def test_json_on_an_ascii_stream_is_the_same_document_in_escapes():
    import json

    import orjson

    from gradcli.render.json import for_stream

    document = {"trial0.vᵀJu.x": [1.5, -2.0], "note": "∂L/∂· ≤ 1e-9 …", "astral": "𝔼"}
    data = orjson.dumps(document)
    escaped = for_stream(data, "ascii")
    assert escaped.isascii()
    assert b"v\\u1d40Ju" in escaped
    assert b"\\ud835\\udd3c" in escaped  # 𝔼 as a UTF-16 surrogate pair
    assert json.loads(escaped) == document
    assert for_stream(data, "utf-8") is data


SHAPES = """
import numpy as np


def wide(x):  # 12 inputs, 2 outputs
    return np.stack([(x * x).sum(), np.sin(x).sum()])


def wide_jacobian(x):
    j = np.stack([2 * x, np.cos(x)])
    j[1, 7] *= 1.5  # the culprit, in a middle column
    return j


def tall(x):  # 2 inputs, 12 outputs
    return np.arange(12.0) * x[0] + x[1] ** 2


def tall_jacobian(x):
    j = np.stack([np.arange(12.0), np.full(12, 2 * x[1])], axis=1)
    j[7, 1] += 0.25  # the culprit, in a middle row
    return j


def energy(x):  # 16 inputs, a number
    return (x * x).sum()


def energy_vjp(x, g):
    grad = 2 * x
    grad[9] = 0.0  # the culprit
    return g * grad
"""
# the culprit's (row, column) in the grid of yours − expected; the derivative's option
CULPRITS = {
    "wide": ("1", "7", "--jacobian", "12"),
    "tall": ("7", "1", "--jacobian", "2"),
    "energy": ("difference", "9", "--vjp", "16"),
}


def _table(lines: list[str], start: int, part: int = 0) -> dict[str, dict[str, str]]:
    """The table whose header line is lines[start] (the `part`-th of tables side by side,
    split at "│"), as {row label: {column: cell}}: cells hold no spaces."""
    header = lines[start].split("│")[part].split()
    columns = header[next((k + 1 for k, w in enumerate(header) if "i\\j" in w), 0) :]
    table = {}
    for line in lines[start + 1 :]:
        pieces = line.split("│")
        words = pieces[part].split() if part < len(pieces) else []
        if len(words) != len(columns) + 1:
            break
        table[words[0]] = dict(zip(columns, words[1:], strict=True))
    return table


@pytest.mark.parametrize("width", [40, 60, 80, 120])
@pytest.mark.parametrize("case", list(CULPRITS))
def test_yours_and_expected_stay_comparable_at_any_width(tmp_path, case, width):
    """A failing wide Jacobian (12 inputs), a tall one (12 outputs) and a long VJP: at
    every width yours and the expected result show the same columns and rows, the
    culprit's among them, its difference in the grid, and a note of the columns left
    out; when the two are not side by side their columns line up."""
    (tmp_path / "shapes.py").write_text(SHAPES)
    row, column, option, n = CULPRITS[case]
    derivative = f"{case}_jacobian" if option == "--jacobian" else f"{case}_vjp"
    args = ["check", f"{tmp_path}/shapes.py:{case}", option, derivative, "--shape", n]
    result = CliRunner().invoke(
        cli, [*args, "--trials", "1"], env={"COLUMNS": str(width), "NO_COLOR": "1"}
    )
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert [line for line in lines if len(line) > width] == []
    assert [line for line in lines if CROPPED.search(line)] == []
    if case == "energy":  # one table: yours, expected, the difference, a row each
        start = next(k for k, line in enumerate(lines) if lines[k + 1].startswith("yours "))
        table = _table(lines, start)
        assert set(table) == {"yours", "torch", "difference"}
        yours, expected, grid = table["yours"], table["torch"], table["difference"]
        assert yours[column] == "0"
    else:
        heads = [k for k, line in enumerate(lines) if "i\\j" in line]
        heads = heads[-2:] if "│" in lines[heads[-2]] else heads[-3:]
        assert "yours i\\j" in lines[heads[0]]
        if "│" in lines[heads[0]]:  # side by side
            tables = [_table(lines, heads[0]), _table(lines, heads[0], 1), _table(lines, heads[1])]
        else:
            tables = [_table(lines, k) for k in heads]
        yours, expected, grid = (t[row] for t in tables)
        assert set(tables[0]) == set(tables[1]) == set(tables[2])  # the same rows
        if "│" not in lines[heads[0]]:  # one above the other: the columns line up
            ends = [[m.end() for m in re.finditer(r"\S+", lines[k])][1:] for k in heads]
            assert ends[0][-len(ends[2]) :] == ends[1][-len(ends[2]) :] == ends[2]
    assert set(yours) == set(expected) == set(grid)  # the same columns
    assert column in grid
    assert yours[column] != expected[column]
    assert [c for c, cell in grid.items() if cell not in ("·", "…")] == [column]
    shown = {c for c in grid if c != "…"}
    total = 2 if case == "tall" else int(n)
    words = " ".join(result.stdout.split())  # a note may wrap
    assert words.count("left out at this width") == (len(shown) < total)


@given(
    st.integers(1, 300),
    st.integers(20, 200),
    st.data(),
)
def test_lazy_columns_fit_as_the_list_does_and_build_only_what_is_looked_at(n, width, data):
    from gradcli.render.grid import Column, LazyColumns, fit_columns

    cells = data.draw(
        st.lists(st.text("0123456789.-", min_size=1, max_size=12), min_size=n, max_size=n)
    )
    focus = data.draw(st.none() | st.integers(0, n - 1))
    built: list[int] = []

    def build(j: int) -> Column:
        built.append(j)
        return Column(str(j), [cells[j]])

    fixed = [Column("i", ["0"])]
    eager = fit_columns(fixed, [Column(str(j), [cells[j]]) for j in range(n)], width, focus)
    lazy = fit_columns(fixed, LazyColumns(n, build), width, focus)
    assert [c.header for c in lazy] == [c.header for c in eager]
    assert [c.cells for c in lazy] == [c.cells for c in eager]
    assert len(set(built)) <= min(n, width // 3 + 3)  # a column is ≥ 1 character + a gap
