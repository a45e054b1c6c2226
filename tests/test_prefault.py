"""The background page-faulting of large results: the pages become resident, and what
is then written is what is read back."""

import sys

import numpy as np
import pytest

from gradcli import prefault
from gradcli.npz import NpzWriter


def _resident_kib() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="madvise populate: Linux")
def test_the_members_of_a_save_file_are_faulted_in_and_keep_what_is_written(tmp_path):
    n = 2048  # 32 MiB per member
    with NpzWriter(str(tmp_path / "out.npz")) as writer:
        arrays = {k: writer.empty(k, (n, n), np.float64) for k in ("a", "b")}
        before = _resident_kib()
        prefault.populate(list(arrays.values()))()
        grown = _resident_kib() - before
        for k, array in arrays.items():
            array[...] = 1.0 if k == "a" else np.arange(n)
        writer.finish(arrays)
    assert grown >= 0.9 * 2 * n * n * 8 / 1024  # both members resident before any write
    saved = np.load(tmp_path / "out.npz")
    assert (saved["a"] == 1.0).all()
    assert (saved["b"] == np.arange(n)).all()


def test_small_arrays_start_no_thread(monkeypatch):
    started = []
    monkeypatch.setattr(prefault.threading, "Thread", lambda **kw: started.append(kw))
    wait = prefault.populate([np.empty((100, 100))])
    wait()
    assert started == []


def test_the_pages_inside_an_unaligned_array():
    address, length = prefault._pages(np.empty(3 * 4096 // 8)[1:])  # starts 8 bytes in
    assert address % 4096 == 0
    assert length % 4096 == 0
    assert 0 < length <= 2 * 4096
