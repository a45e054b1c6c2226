"""Every command in README.md, docs/, CHANGELOG.md and CONTRIBUTING.md runs as written,
from the repository root, and exits as the text says; so does every example of each
command's --help (1 where it names one of the deliberately wrong functions of examples/,
WRONG below; 0 otherwise).

What counts as a command:
- in a ```sh block, every line (a line ending in `\\` continues on the next);
- in a ```console block, every line starting with `$ `; the lines up to the next `$ ` are
  its output as shown;
- in prose, an inline code span `gradcli <command> …` (a sketch, with `…` or `...` or a
  placeholder in capitals such as TARGET or FILE.npz in it, is not a command).

What it must exit with: the N of a `# exit N` comment in the command; else, after a
console block's command, 2 when the output shown starts with `Error:` and 1 when it
starts with `DISAGREE`; after an inline span, the N of an `exits N` that follows it;
else 0. The output a console block shows must be the real output at COLUMNS=80, line for
line; a line that is only `…` stands for lines left out.

How: each command runs in a temporary copy of examples/ (the same relative paths as in
the repository root, so files that examples write, `--save out.npz`, land there, not in
the repository). gradcli runs in process through click's CliRunner (echo feeds its stdin,
jq runs as a process on its output); `python examples/…` and `pytest examples/…` run as
processes. Commands that install, lint, run the whole suite or a benchmark are not run
here: each is reported as skipped with the reason (SKIP below); .ci/run runs the set-up
ones, and test_the_set_up_commands_are_what_ci_runs holds them equal.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from gradcli.cli import cli

ROOT = Path(__file__).parent.parent
PAGES = [
    ROOT / "README.md",
    ROOT / "CHANGELOG.md",
    ROOT / "CONTRIBUTING.md",
    *sorted((ROOT / "docs").rglob("*.md")),
]
ENV = {"COLUMNS": "80", "NO_COLOR": "1"}
# a --help example cannot carry `# exit 1`: these names of examples/ are deliberately wrong
WRONG = ("_no_cross_terms", "_wrong", "WrongW", "ForgotTwo", "DropsATerm")

# (pattern matched at the start of a command, why it is not run here)
SKIP = [
    (r"python3? -m venv|pip |\. \.venv", "installs into an environment: .ci/run does it"),
    (r"pipx |uv tool ", "installs a tool from PyTorch's index: needs the network"),
    (r"pytest -n 2$|pytest$", "the whole test suite: .ci/run runs it"),
    (r"ruff |mypy", "lint: .ci/run runs it"),
    (r"bash \.ci/run", "CI itself"),
    (r"mkdocs ", "builds the site: .ci/run does it"),
    (r"(\S+=\S+ )*(nice -n \d+ )?mutmut ", "mutation testing: tens of minutes (CONTRIBUTING.md)"),
    (r"(\S+ )*python3? bench/run\.py", "the benchmark: never run in the test suite"),
    (r"eval |_GRADCLI_COMPLETE=", "changes the shell's completion"),
    (r"dot -T", "needs Graphviz"),
    (r"gradcli layer --in-features 1000", "runs as written, but takes a minute"),
]


@dataclass(frozen=True)
class Example:
    where: str  # "docs/commands/check.md:12"
    command: str
    status: int
    shown: tuple[str, ...] | None = None  # a console block's output, as shown

    def __str__(self) -> str:
        return f"{self.where}: {self.command}"


def marked_status(command: str) -> int | None:
    found = re.search(r"#\s*exit (\d+)", command)
    return int(found[1]) if found else None


def examples_in(path: Path) -> list[Example]:
    name = path.relative_to(ROOT).as_posix()
    lines = path.read_text().splitlines()
    found: list[Example] = []
    prose: list[tuple[int, str]] = []
    i = 0
    while i < len(lines):
        fence = re.match(r"( *)```(\w*)", lines[i])
        if not fence:
            prose.append((i, lines[i]))
            i += 1
            continue
        indent, kind = len(fence[1]), fence[2]
        start, i = i + 1, i + 1
        while not lines[i].strip().startswith("```"):
            i += 1
        block = [(n, line[indent:]) for n, line in enumerate(lines[start:i], start + 1)]
        i += 1
        if kind == "sh":
            found += sh_examples(name, block)
        elif kind == "console":
            found += console_examples(name, block)
    text = "\n".join(line for _, line in prose)
    for span in re.finditer(r"`(gradcli [a-z]+ [^`\n]+)`(\s*exits (\d))?", text):
        command = span[1].replace("\\|", "|")
        if "…" in command or "..." in command or re.search(r"\b[A-Z]{3,}\b", command):
            continue
        status = marked_status(command)
        if status is None:
            status = int(span[3]) if span[3] else 0
        line = prose[text[: span.start()].count("\n")][0] + 1
        found.append(Example(f"{name}:{line}", command, status))
    return found


def sh_examples(name: str, block: list[tuple[int, str]]) -> list[Example]:
    found, pending, first = [], "", 0
    for n, line in block:
        if not pending:
            first = n
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        command = (pending + line).strip()
        pending = ""
        if command and not command.startswith("#"):
            status = marked_status(command)
            found.append(Example(f"{name}:{first}", command, status or 0))
    return found


def console_examples(name: str, block: list[tuple[int, str]]) -> list[Example]:
    found = []
    starts = [k for k, (_, line) in enumerate(block) if line.startswith("$ ")]
    for k, start in enumerate(starts):
        n, line = block[start]
        end = starts[k + 1] if k + 1 < len(starts) else len(block)
        shown = tuple(text.rstrip() for _, text in block[start + 1 : end])
        command = line[2:].strip()
        status = marked_status(command)
        if status is None and shown:
            status = {"Error:": 2, "DISAGREE:": 1}.get(shown[0].split(" ")[0], 0)
        found.append(Example(f"{name}:{n}", command, status or 0, shown))
    return found


def all_examples() -> list[Example]:
    return [e for page in PAGES for e in examples_in(page)]


def distinct_examples() -> list[Example]:
    """Each command once (its first place), unless another place shows other output."""
    seen: dict[tuple[str, int, tuple[str, ...] | None], Example] = {}
    for e in all_examples():
        seen.setdefault((e.command, e.status, e.shown), e)
    return list(seen.values())


def help_examples() -> list[Example]:
    found = []
    for name in ("softmax", "layer", "graph", "check"):
        text = CliRunner().invoke(cli, [name, "--help"], env={"COLUMNS": "200"}).stdout
        block = text.split("Examples:", 1)[1].split("\n\n", 1)[0].replace("\\\n", " ")
        for line in block.splitlines():
            if "gradcli " in line:
                command = " ".join(line.split())
                status = 1 if any(w in command for w in WRONG) else 0
                found.append(Example(f"gradcli {name} --help", command, status))
    return found


def skip_reason(command: str) -> str | None:
    for pattern, reason in SKIP:
        if re.match(pattern, command):
            return reason
    return None


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the repository's examples/ at the same relative path."""
    shutil.copytree(
        ROOT / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("__pycache__")
    )
    monkeypatch.chdir(tmp_path)
    return tmp_path


def stages(command: str) -> list[list[str]]:
    words = shlex.split(command, comments=True)
    split, stage = [], []
    for word in [*words, "|"]:
        if word == "|":
            split.append(stage)
            stage = []
        else:
            stage.append(word)
    return split


def run(example: Example) -> tuple[int, str]:
    """Run the example's command as the shell would; the last stage's status and the
    output of the last gradcli stage (stdout and stderr, as a terminal shows them)."""
    status, stdin, output = 0, None, ""
    for stage in stages(example.command):
        program, args = stage[0], stage[1:]
        if program == "echo":
            stdin, status = " ".join(args) + "\n", 0
        elif program == "gradcli":
            result = CliRunner().invoke(cli, args, input=stdin, env=ENV)
            assert "Traceback" not in result.output, (str(example), result.output)
            status, stdin, output = result.exit_code, result.stdout, result.output
        elif program == "jq":
            done = subprocess.run(["jq", *args], input=stdin, capture_output=True, text=True)
            status, stdin = done.returncode, done.stdout
        elif program in ("python", "python3", "pytest"):
            argv = [sys.executable, *(["-m", *stage] if program == "pytest" else args)]
            env = {**os.environ, **ENV, "PYTHONDONTWRITEBYTECODE": "1"}
            done = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=env)
            status, stdin, output = done.returncode, done.stdout, done.stdout + done.stderr
        else:
            pytest.fail(f"{example}: no rule runs {program!r}: run it in run() or add it to SKIP")
    return status, output


def agrees(shown: tuple[str, ...], output: str) -> bool:
    """`shown` is `output` line for line, where a line `…` may stand for any lines."""
    real = [line.rstrip() for line in output.splitlines()]
    while shown and not shown[-1]:
        shown = shown[:-1]
    parts: list[list[str]] = [[]]
    for line in shown:
        if line.strip() == "…":
            parts.append([])
        else:
            parts[-1].append(line)
    if len(parts) == 1:
        return parts[0] == real
    first, *middle, last = parts
    if real[: len(first)] != first or (last and real[len(real) - len(last) :] != last):
        return False
    at, end = len(first), len(real) - len(last)
    for part in middle:
        while at + len(part) <= end and real[at : at + len(part)] != part:
            at += 1
        if at + len(part) > end:
            return False
        at += len(part)
    return at <= end


@pytest.mark.parametrize("example", distinct_examples(), ids=str)
def test_a_documented_command_runs_as_written(workdir: Path, example: Example) -> None:
    reason = skip_reason(example.command)
    if reason:
        pytest.skip(reason)
    status, output = run(example)
    assert status == example.status, (str(example), output)
    if example.shown:
        assert agrees(example.shown, output), (str(example), output)


@pytest.mark.parametrize("example", help_examples(), ids=str)
def test_a_help_example_runs_as_written(workdir: Path, example: Example) -> None:
    status, output = run(example)
    assert status == example.status, (str(example), output)


def test_the_set_up_commands_are_what_ci_runs() -> None:
    """The README's test command is the one .ci/run runs, after the same install."""
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    readme = [e.command for e in examples_in(ROOT / "README.md")]
    test_command = "pip install -c constraints.txt -e '.[test]' && pytest -n 2"
    assert test_command in readme
    assert "pip install -c constraints.txt -e '.[test]'" in ci
    assert "pytest -n 2" in ci
    assert any(c.endswith("pip install . && gradcli softmax 3 1 -3") for c in readme)
    assert "gradcli softmax 3 1 -3" in ci
    assert any(line.startswith("mkdocs build --strict") for line in ci)


def test_the_examples_were_found() -> None:
    found = all_examples()
    assert sum(e.where.startswith("README.md") for e in found) >= 10
    assert sum(e.where.startswith("docs/") for e in found) >= 60
    assert {e.status for e in found} == {0, 1, 2}
    assert sum(e.shown is not None for e in found) >= 5
    assert len(help_examples()) >= 14
