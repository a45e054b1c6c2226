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
