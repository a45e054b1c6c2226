"""The layers of gradcli, enforced (../shared/DESIGN.md, "Data flow"): data flows one way.

    cli ─► api (api, specs, explanations, testing) ─► commands/X ─► the machinery below
    (core, report, compare, references, backends, ops, render, …)

Every import is read from the source with `ast`, those inside functions included, since
gradcli imports lazily: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "gradcli"
COMMANDS = ("softmax", "layer", "graph", "check")
# the layer above the commands: it may import anything but the CLI
API = {
    "gradcli.api",
    "gradcli.api_check",
    "gradcli.arguments",
    "gradcli.check_inputs",
    "gradcli.specs",
    "gradcli.explanations",
    "gradcli.testing",
}
ENTRY = {"gradcli", "gradcli.__main__"}  # the package root and `python -m gradcli`


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(path: Path) -> set[str]:
    """Every gradcli module `path` imports, at module level or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # `from gradcli import core` imports the module gradcli.core
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name in MODULES}


def layer_of(name: str) -> str:
    if name in ENTRY:
        return "entry"
    if name == "gradcli.cli" or name.startswith("gradcli.cli."):
        return "cli"
    if name in API:
        return "api"
    if name.startswith("gradcli.commands."):
        return "command:" + name.split(".")[2]
    if name == "gradcli.commands":
        return "api"
    return "below"


def test_the_layers_are_all_there():
    """The test reads the real tree: a rename would otherwise make it pass vacuously."""
    layers = {layer_of(name) for name in MODULES}
    assert layers >= {"entry", "cli", "api", "below"} | {f"command:{c}" for c in COMMANDS}
    assert "gradcli.commands.check.problem" in MODULES
    assert "gradcli.core" in imports_of(MODULES["gradcli.commands.softmax.problem"])


ALLOWED = {
    "entry": {"entry", "cli", "api", "below"},
    "cli": {"entry", "cli", "api", "below"},
    "api": {"entry", "api", "below"} | {f"command:{c}" for c in COMMANDS},
    "below": {"entry", "below"},
}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_flow_one_way(name):
    """The CLI is over the API, the API over the commands, the commands over the
    machinery; a command never imports another command, nothing below imports up."""
    layer = layer_of(name)
    allowed = ALLOWED.get(layer, {"entry", "below", layer})  # a command: itself and below
    wrong = sorted(m for m in imports_of(MODULES[name]) if layer_of(m) not in allowed)
    assert not wrong, f"{name} ({layer}) imports {wrong}"


# The Report and what builds it know nothing of how it is shown: rich and Jupyter show a
# Report through the adapter render.shown hands the core (#19), not by an import.
UNDER_RENDER = (
    "gradcli.report",
    "gradcli.records",
    "gradcli.core",
    "gradcli.declaration",
    "gradcli.comparing",
    "gradcli.keys",
    "gradcli.findings",
    "gradcli.verdicts",
    "gradcli.compare",
    "gradcli.blockstats",
    "gradcli.sweep",
    "gradcli.references",
)
UNDER_RENDER_PACKAGES = ("gradcli.backends.", "gradcli.ops.")


@pytest.mark.parametrize(
    "name",
    sorted(n for n in MODULES if n in UNDER_RENDER or n.startswith(UNDER_RENDER_PACKAGES)),
)
def test_the_report_and_its_makers_never_import_render(name):
    shown = sorted(m for m in imports_of(MODULES[name]) if m.startswith("gradcli.render"))
    assert not shown, f"{name} imports {shown}"


def test_the_render_check_sees_an_import_of_render(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from gradcli.render import words\n")
    assert "gradcli.render.words" in imports_of(sample)
    assert set(UNDER_RENDER) <= set(MODULES)  # a rename would pass vacuously


@pytest.mark.parametrize("name", sorted(MODULES))
def test_only_the_cli_imports_click(name):
    uses = any(
        (isinstance(n, ast.Import) and any(a.name.split(".")[0] == "click" for a in n.names))
        or (isinstance(n, ast.ImportFrom) and (n.module or "").split(".")[0] == "click")
        for n in ast.walk(ast.parse(MODULES[name].read_text()))
    )
    assert not uses or layer_of(name) == "cli", f"{name} imports click"


def rebinds(path: Path) -> list[str]:
    """Assignments to another module's attributes: `mod.attr = …`, `setattr(mod, …)`,
    `vars(mod)[…] = …` where `mod` is a module this file imported."""
    tree = ast.parse(path.read_text())
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules |= {
                a.asname or a.name
                for a in node.names
                if f"{node.module}.{a.name}" in MODULES or node.module in ("os", "sys")
            }
    found = []
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            if (
                isinstance(target, ast.Attribute)
                and isinstance(target.value, ast.Name)
                and target.value.id in modules
            ):
                found.append(f"line {node.lineno}: {target.value.id}.{target.attr} = …")
            if (
                isinstance(target, ast.Subscript)
                and isinstance(target.value, ast.Call)
                and isinstance(target.value.func, ast.Name)
                and target.value.func.id == "vars"
            ):
                found.append(f"line {node.lineno}: vars(…)[…] = …")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "setattr"
            and node.args
            and isinstance(node.args[0], ast.Name)
            and node.args[0].id in modules
        ):
            found.append(f"line {node.lineno}: setattr({node.args[0].id}, …)")
    return found


# Rebinding the process's own streams is what a CLI does at its edge, in the modules
# that own them; nothing else rebinds another module's attributes.
STREAM_OWNERS = {"gradcli.cli.streams", "gradcli.cli", "gradcli.__main__"}


@pytest.mark.parametrize("name", sorted(set(MODULES) - STREAM_OWNERS))
def test_no_module_rebinds_another_modules_attributes(name):
    assert rebinds(MODULES[name]) == []


def test_the_rebinding_check_sees_a_rebinding(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from gradcli import references\nimport sys\n"
        "references.parallel = None\nsetattr(sys, 'stdout', None)\n"
        "vars(references)['parallel'] = None\n"
    )
    assert len(rebinds(sample)) == 3
