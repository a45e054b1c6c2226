"""gradcli.preload: an import on a background thread that whoever needs the module
waits for (or repeats, and fails on, if the thread's import failed)."""

import importlib
import sys
import time

import pytest

from gradcli import preload


@pytest.fixture
def module_dir(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [n for n in sys.modules if n.startswith("gradcli_preload_")]:
        del sys.modules[name]


def test_the_import_runs_on_a_thread_and_the_user_waits_for_it(module_dir):
    (module_dir / "gradcli_preload_slow.py").write_text(
        "import time\ntime.sleep(0.3)\nLOADED = time.monotonic()\n"
    )
    started = time.monotonic()
    preload.start("gradcli_preload_slow")
    assert time.monotonic() - started < 0.2  # start returns at once
    assert preload.pending()
    default = sys.getswitchinterval()
    with preload.overlapping():
        assert sys.getswitchinterval() == pytest.approx(preload.SWITCH_INTERVAL)  # µs inside
    assert sys.getswitchinterval() == default
    module = importlib.import_module("gradcli_preload_slow")  # waits for the thread's
    assert module.LOADED - started >= 0.3
    preload._threads["gradcli_preload_slow"].join(5)
    assert not preload.pending()
    with preload.overlapping():  # nothing under way: the interval is left alone
        assert sys.getswitchinterval() == default


def test_a_failed_import_is_raised_by_the_importer_that_needs_it(module_dir):
    (module_dir / "gradcli_preload_broken.py").write_text("raise ImportError('no such lib')\n")
    preload.start("gradcli_preload_broken")
    preload._threads["gradcli_preload_broken"].join(5)
    with pytest.raises(ImportError, match="no such lib"):
        importlib.import_module("gradcli_preload_broken")


def test_an_imported_module_starts_no_thread():
    preload.start("json")
    assert "json" not in preload._threads
