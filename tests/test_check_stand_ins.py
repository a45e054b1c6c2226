"""Code that imports what is not installed here (issue 20, item 9): `--stub NAME` (the
API's stub=) stands in for it while the check runs, and the note says what was called."""

import sys
import textwrap

import pytest
from click.testing import CliRunner

import gradcli
from gradcli.cli import cli
from gradcli.commands.check.stand_ins import StandIn

pytest.importorskip("torch")

CODE = textwrap.dedent(
    """
    import torch
    import torchviz_absent
    from torchviz_absent import make_dot
    import triton_absent
    import triton_absent.language as tl
    from project_absent.models.core import Base


    @triton_absent.jit
    def kernel(x_ptr, BLOCK: tl.constexpr):
        return "the kernel itself"


    @triton_absent.autotune(configs=[], key=["n"])
    def tuned(n):
        return n + 1


    class Model(Base):
        def __init__(self):
            super().__init__(depth=3)


    def f(x):
        return torch.tanh(x)


    def g(x):
        return 1 - torch.tanh(x) ** 2


    def g_wrong(x):
        return 1 - torch.tanh(x)


    def g_plots(x):
        make_dot(x, show_attrs=True)
        Model()
        assert kernel(None, 4) == "the kernel itself" and tuned(1) == 2
        return 1 - torch.tanh(x) ** 2
    """
)
STUBS = ["--stub", "torchviz_absent", "--stub", "triton_absent", "--stub", "project_absent"]


@pytest.fixture
def here(tmp_path, monkeypatch):
    (tmp_path / "research.py").write_text(CODE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")


def run(*args):
    return CliRunner().invoke(cli, ["check", "research.py:f", "--shape", "3", *args])


def test_a_missing_module_is_one_line_that_says_how_to_stub_it(here):
    result = run("--grad", "g")
    assert result.exit_code == 2
    assert result.output == (
        "Error: TARGET 'research.py:f': importing it raised ModuleNotFoundError: No module "
        "named 'torchviz_absent'; if the check does not need torchviz_absent, --stub "
        "torchviz_absent stands in for it (--debug shows the traceback)\n"
    )


@pytest.mark.parametrize(
    ("grad", "code", "note"),
    [
        # autotune(configs=…) is called as the module is imported; jit(kernel) is not:
        # a decorator given the function returns it
        ("g", 0, "your code called triton_absent.autotune: each did nothing"),
        ("g_wrong", 1, "your code called triton_absent.autotune: each did nothing"),
        (
            "g_plots",
            0,
            "your code called triton_absent.autotune, torchviz_absent.make_dot, "
            "project_absent.models.core.Base: each did nothing and returned a stand-in",
        ),
    ],
)
def test_stand_ins_let_the_check_run_and_the_note_says_what_was_called(here, grad, code, note):
    result = run("--grad", grad, *STUBS)
    assert result.exit_code == code, result.output
    first = result.output.splitlines()[0]
    assert first.startswith("OK: yours, torch and fd" if code == 0 else "DISAGREE: grad:")
    said = " ".join(result.output.split())
    assert (
        "note: stand-ins (--stub) for torchviz_absent, triton_absent, project_absent: " + note
    ) in said


def test_the_api_leaves_the_import_system_as_it_was(here):
    sys.modules["project_absent"] = real = type(sys)("project_absent")  # as if installed
    finders = list(sys.meta_path)
    try:
        report = gradcli.check(
            "research.py:f",
            grad="g_plots",
            shape=3,
            stub=("torchviz_absent", "triton_absent", "project_absent"),
        )
        assert report.ok
        assert sys.meta_path == finders
        assert sys.modules["project_absent"] is real
        assert not [k for k, v in sys.modules.items() if isinstance(v, StandIn)]
    finally:
        del sys.modules["project_absent"]


@pytest.mark.parametrize("name", ["a b", "", "1abc", "torch..nn"])
def test_a_stub_that_is_not_a_module_name_is_refused(here, name):
    result = run("--grad", "g", *STUBS, "--stub", name)
    assert result.exit_code == 2
    assert result.output == f"Error: --stub {name!r}: expected a module name, such as torchviz\n"
