"""gradcli's own .npz writer, checked against numpy's reader, zipfile's and np.savez."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zipfile

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gradcli import api
from gradcli.errors import OutputError
from gradcli.npz import ALIGN, NpzWriter, save_npz

ARRAYS = {
    "numpy.jacobian": np.random.default_rng(0).normal(size=(40, 30)),  # mapped: ≥ a page
    "numpy.softmax": np.arange(5, dtype=np.float32) / 7,
    "loss": np.array(0.25),
    "empty": np.zeros((0, 3)),
    "target": np.arange(6, dtype=np.int64).reshape(2, 3),
    "mask": np.array([True, False, True]),
    "variable.ω": np.full((2, 2), -1.5),  # a non-ASCII name (graph variables may have them)
}


def _same(loaded: np.ndarray, expected: np.ndarray) -> None:
    assert loaded.dtype == expected.dtype
    assert loaded.shape == expected.shape
    np.testing.assert_array_equal(loaded, expected)


def test_every_array_reads_back_with_numpy_and_zipfile(tmp_path):
    path = tmp_path / "out.npz"
    save_npz(str(path), ARRAYS)
    with np.load(path) as saved:
        assert saved.files == list(ARRAYS)  # in the order given
        for key, array in ARRAYS.items():
            _same(saved[key], array)
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None  # every CRC right
        assert [info.filename for info in archive.infolist()] == [f"{k}.npy" for k in ARRAYS]
    assert os.listdir(tmp_path) == ["out.npz"]


def test_zip64_end_records_where_32_bits_do_not_suffice(tmp_path, monkeypatch):
    import gradcli.npz

    monkeypatch.setattr(gradcli.npz, "ZIP64_FROM", (0, 0))  # as for a file over 4 GiB
    path = tmp_path / "out.npz"
    save_npz(str(path), ARRAYS)
    assert b"PK\x06\x06" in path.read_bytes()[-200:]  # the Zip64 end record is there
    with np.load(path) as saved:
        for key, array in ARRAYS.items():
            _same(saved[key], array)
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None


def test_no_arrays_make_an_empty_npz(tmp_path):
    path = tmp_path / "out.npz"
    save_npz(str(path), {})
    with np.load(path) as saved:
        assert saved.files == []


def test_the_same_arrays_as_np_savez_writes(tmp_path):
    ours, theirs = tmp_path / "ours.npz", tmp_path / "theirs.npz"
    save_npz(str(ours), ARRAYS)
    np.savez(theirs, **ARRAYS)
    with np.load(ours) as a, np.load(theirs) as b:
        assert a.files == b.files
        for key in a.files:
            _same(a[key], b[key])
            assert a.zip.read(f"{key}.npy")[128:] == b.zip.read(f"{key}.npy")[128:]  # data


@pytest.mark.skipif(shutil.which("unzip") is None, reason="no unzip here")
def test_unzip_accepts_it(tmp_path):
    path = tmp_path / "out.npz"
    save_npz(str(path), ARRAYS)
    listing = subprocess.run(["unzip", "-t", str(path)], capture_output=True, text=True)
    assert listing.returncode == 0, listing.stdout + listing.stderr
    assert "No errors detected" in listing.stdout


def test_an_array_made_by_empty_is_the_file_itself(tmp_path):
    path = tmp_path / "out.npz"
    with NpzWriter(str(path)) as writer:
        jac = writer.empty("numpy.jacobian", (64, 64), np.float64)
        jac[...] = np.arange(64 * 64).reshape(64, 64)
        data_address = jac.ctypes.data
        writer.finish({"numpy.jacobian": jac, "loss": np.array(1.0)})
    assert jac.ctypes.data == data_address  # not copied
    assert not jac.flags.writeable  # the CRC is of these values
    with np.load(path) as saved:
        _same(saved["numpy.jacobian"], np.arange(64 * 64.0).reshape(64, 64))
    # The data starts on an ALIGN boundary of the file, as mmap requires.
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("numpy.jacobian.npy")
    raw = path.read_bytes()
    name_length, extra_length = struct.unpack("<HH", raw[26:30])
    npy = info.header_offset + 30 + name_length + extra_length
    header_length = struct.unpack("<H", raw[npy + 8 : npy + 10])[0]
    assert (npy + 10 + header_length) % ALIGN == 0
    assert raw[npy : npy + 6] == b"\x93NUMPY"


def test_a_member_replaced_by_another_array_is_copied_in(tmp_path):
    path = tmp_path / "out.npz"
    other = np.ones((64, 64))
    with NpzWriter(str(path)) as writer:
        writer.empty("numpy.jacobian", (64, 64), np.float64)
        writer.finish({"numpy.jacobian": other})  # e.g. a backend that ignored `out`
    with np.load(path) as saved:
        _same(saved["numpy.jacobian"], other)


def test_a_member_of_another_shape_is_a_bug_not_a_silent_broadcast(tmp_path):
    with NpzWriter(str(tmp_path / "out.npz")) as writer:
        writer.empty("numpy.jacobian", (64, 64), np.float64)
        with pytest.raises(ValueError, match="does not match"):
            writer.finish({"numpy.jacobian": np.ones(64)})
    assert os.listdir(tmp_path) == []


def test_an_error_inside_the_block_leaves_nothing(tmp_path):
    def compute_and_fail(path):
        with NpzWriter(path) as writer:
            writer.empty("numpy.jacobian", (64, 64), np.float64)
            assert len(os.listdir(tmp_path)) == 1  # the temporary file
            raise RuntimeError("a backend failed")

    with pytest.raises(RuntimeError, match="a backend failed"):
        compute_and_fail(str(tmp_path / "out.npz"))
    assert os.listdir(tmp_path) == []


def test_an_existing_file_is_replaced_whole(tmp_path):
    path = tmp_path / "out.npz"
    path.write_bytes(b"an older result")
    save_npz(str(path), {"loss": np.array(2.0)})
    with np.load(path) as saved:
        assert saved.files == ["loss"]
    assert os.listdir(tmp_path) == ["out.npz"]


@pytest.mark.parametrize("failing", ["posix_fallocate", "pwrite"])
def test_a_full_disk_is_one_error_and_no_file(tmp_path, monkeypatch, failing):
    def full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, failing, full)
    path = tmp_path / "out.npz"
    with pytest.raises(OutputError, match=f"--save {path}: No space left on device"):
        save_npz(str(path), ARRAYS)
    assert os.listdir(tmp_path) == []


def test_short_writes_are_continued(tmp_path, monkeypatch):
    real = os.pwrite
    monkeypatch.setattr(os, "pwrite", lambda fd, data, offset: real(fd, data[:7], offset))
    path = tmp_path / "out.npz"
    save_npz(str(path), ARRAYS)
    with np.load(path) as saved:
        for key, array in ARRAYS.items():
            _same(saved[key], array)


def test_a_file_system_without_fallocate_still_works(tmp_path, monkeypatch):
    def unsupported(*args):
        raise OSError(95, "Operation not supported")

    monkeypatch.setattr(os, "posix_fallocate", unsupported)
    path = tmp_path / "out.npz"
    save_npz(str(path), ARRAYS)
    with np.load(path) as saved:
        _same(saved["numpy.jacobian"], ARRAYS["numpy.jacobian"])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_cli_computes_into_the_file_what_the_api_computes(tmp_path, dtype):
    from click.testing import CliRunner

    from gradcli.cli import cli

    z = np.linspace(-3, 3, 40)  # 40² Jacobians: members mapped into the file
    path = tmp_path / "out.npz"
    args = ["softmax", *map(str, z), "--dtype", dtype, "--save", str(path), "--quiet"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = api.softmax(z, dtype=dtype)
    with np.load(path) as saved:
        assert saved.files == list(report.arrays())
        for key, array in report.arrays().items():
            _same(saved[key], array)
        assert saved["torch.jacobian"].dtype == np.dtype(dtype)
        assert saved["fd.jacobian"].dtype == np.float64  # fd always works in float64


dtypes = st.sampled_from([np.float64, np.float32, np.int32, np.int64, np.bool_, np.complex128])
arrays = dtypes.flatmap(
    lambda dtype: hnp.arrays(dtype, hnp.array_shapes(min_dims=0, max_dims=3, max_side=40))
)


@given(st.dictionaries(st.text("abcxyzω._", min_size=1, max_size=8), arrays, max_size=5))
def test_any_arrays_round_trip(tmp_path_factory, members):
    path = tmp_path_factory.mktemp("npz") / "out.npz"
    save_npz(str(path), members)
    with np.load(path) as saved:
        assert saved.files == list(members)
        for key, array in members.items():
            loaded = saved[key]
            assert loaded.dtype == array.dtype
            assert loaded.shape == array.shape
            np.testing.assert_array_equal(loaded, array)  # NaN equals NaN here


def test_an_existing_file_is_replaced_in_one_atomic_step(tmp_path, monkeypatch):
    # os.replace, never unlink-then-rename: at every moment the target is the old file
    # or the new one.
    path = tmp_path / "out.npz"
    path.write_bytes(b"old")
    calls = []
    real_replace = os.replace
    monkeypatch.setattr(
        os, "replace", lambda a, b: calls.append(("replace", b)) or real_replace(a, b)
    )
    monkeypatch.setattr(os, "unlink", lambda p: calls.append(("unlink", p)))
    monkeypatch.setattr(os, "rename", lambda a, b: calls.append(("rename", b)))
    save_npz(str(path), ARRAYS)
    assert calls == [("replace", path)]
    with np.load(path) as saved:
        assert sorted(saved.files) == sorted(ARRAYS)


def test_the_same_arrays_give_the_same_bytes(tmp_path, monkeypatch):
    import time

    save_npz(str(tmp_path / "a.npz"), ARRAYS)
    monkeypatch.setattr(time, "time", lambda: 2e9)  # a clock far from now changes nothing
    monkeypatch.setattr(time, "localtime", lambda *a: time.gmtime(2e9))
    save_npz(str(tmp_path / "b.npz"), ARRAYS)
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
