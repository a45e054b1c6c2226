"""The command line through click's CliRunner: exit statuses, parsed JSON, every error."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from gradcli import cli as cli_module
from gradcli.backends import analytic
from gradcli.cli import cli, main

E = np.exp([0.0, -2.0, -6.0])
S = E / E.sum()  # softmax(3, 1, -3) = 0.8789, 0.1189, 0.0022


def invoke(*args, stdin=None):
    runner = CliRunner(env={"COLUMNS": "100"})
    return runner.invoke(cli, list(args), input=stdin, catch_exceptions=False)


def softmax_json(*args, stdin=None):
    result = invoke("softmax", *args, "--json", stdin=stdin)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    return json.loads(result.stdout)


def test_tables_show_values_and_the_verdict():
    result = invoke("softmax", "3", "1", "-3", "--detail")
    assert result.exit_code == 0
    out = result.stdout
    assert "s = softmax(z / T) of 3 logits, T = 1, float64" in out
    assert "0.878878" in out
    assert "0.118943" in out
    assert "0.00217852" in out
    assert "Jacobian ∂s_i/∂z_j" in out
    assert "backends: numpy (analytic formulas), torch (autograd), fd (central differences)" in out
    assert "OK: numpy, torch and fd agree on softmax and jacobian within tolerance" in out
    assert result.stderr == ""


def test_json_document():
    doc = softmax_json("3", "1", "-3")
    assert doc["schema_version"] == 2
    assert doc["command"] == "softmax"
    assert doc["inputs"] == {"z": [3.0, 1.0, -3.0], "temperature": 1.0, "dtype": "float64"}
    assert set(doc["results"]) == {"numpy", "torch", "fd"}
    for name in ("numpy", "torch", "fd"):
        np.testing.assert_allclose(doc["results"][name]["softmax"], S, rtol=1e-9)
        jac = np.array(doc["results"][name]["jacobian"])
        np.testing.assert_allclose(jac[0, 1], -S[0] * S[1], rtol=1e-6)
    assert [c["backends"] for c in doc["comparisons"]] == [
        ["numpy", "torch"],
        ["numpy", "fd"],
        ["torch", "fd"],
    ] * 2
    first = doc["comparisons"][0]
    assert set(first) >= {
        "quantity",
        "backends",
        "max_abs_error",
        "max_rel_error",
        "worst_index",
        "worst_values",
        "allowed",
        "n_out_of_tolerance",
        "fraction_out_of_tolerance",
        "ok",
        "rtol",
        "atol",
    }
    assert doc["ok"] is True
    assert doc["non_finite"] == []
    assert doc["omitted"] == []
    assert doc["verdict"]["summary"].startswith("OK:")


def test_negative_numbers_and_options_in_any_order():
    a = softmax_json("3", "1", "-3", "--temperature", "2")
    b = softmax_json("--temperature", "2", "3", "1", "-3")
    c = json.loads(invoke("softmax", "--json", "--temperature=2", "--", "3", "1", "-3").stdout)
    assert a["results"] == b["results"] == c["results"]
    after_dash = invoke("softmax", "--", "3", "--json")
    assert "'--json' is not a finite decimal number" in after_dash.stderr  # `--` ends options
    np.testing.assert_allclose(
        a["results"]["numpy"]["softmax"], analytic.softmax(np.array([3, 1, -3.0]) / 2)
    )


def test_stdin_json_and_plain(tmp_path):
    assert softmax_json("-", stdin="[3, 1, -3]")["inputs"]["z"] == [3.0, 1.0, -3.0]
    assert softmax_json("-", stdin="3\n1\n-3\n")["inputs"]["z"] == [3.0, 1.0, -3.0]


def test_input_file(tmp_path):
    path = tmp_path / "z.npy"
    np.save(path, np.array([3.0, 1.0, -3.0]))
    assert softmax_json("--input", str(path))["inputs"]["z"] == [3.0, 1.0, -3.0]


def test_float32_and_backend_selection():
    doc = softmax_json("3", "1", "-3", "--dtype", "float32", "--backend", "fd,numpy")
    assert list(doc["results"]) == ["numpy", "fd"]
    assert doc["backends"]["numpy"]["precision"] == "float32"
    assert doc["comparisons"][0]["rtol"] == pytest.approx(1e-4, rel=1e-3)


def test_user_tolerances_are_used_as_given():
    doc = softmax_json("3", "1", "-3", "--rtol", "0.5", "--atol", "0")
    assert {(c["rtol"], c["atol"]) for c in doc["comparisons"]} == {(0.5, 0.0)}


def test_large_arrays_are_summarised_in_json():
    doc = softmax_json(*map(str, range(300)), "--backend", "numpy")
    jac = doc["results"]["numpy"]["jacobian"]
    assert jac["omitted"] is True
    assert jac["shape"] == [300, 300]
    assert "use --save" in jac["reason"]
    assert doc["omitted"] == ["numpy.jacobian"]
    assert len(doc["results"]["numpy"]["softmax"]) == 300


def test_save_writes_every_array(tmp_path):
    path = tmp_path / "out.npz"
    result = invoke("softmax", "3", "1", "-3", "--save", str(path))
    assert result.exit_code == 0
    assert f"saved 6 arrays to {path}" in result.stderr
    with np.load(path) as saved:
        assert sorted(saved.files) == sorted(
            f"{b}.{q}" for b in ("numpy", "torch", "fd") for q in ("softmax", "jacobian")
        )
        np.testing.assert_allclose(saved["numpy.softmax"], S, rtol=1e-9)
    assert [p.name for p in tmp_path.iterdir()] == ["out.npz"]  # no temporary left
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_disagreement_exits_1_and_names_the_odd_one_out(monkeypatch):
    monkeypatch.setattr(
        analytic, "softmax_jacobian", lambda s, t=1.0, out=None: np.diag(s * (1 - s)) / t
    )
    result = invoke("softmax", "3", "1", "-3", "--detail")
    assert result.exit_code == 1
    assert "DISAGREE: jacobian: torch and fd agree, numpy differs" in result.stdout
    assert "FAIL" in result.stdout
    doc = json.loads(invoke("softmax", "3", "1", "-3", "--json").stdout)
    assert doc["ok"] is False


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["3", "x", "-3"], None, "z, argument 2: 'x' is not a finite decimal number"),
        (["3", "-inf"], None, "z, argument 2: '-inf' is not a finite decimal number"),
        (["3", "nan"], None, "'nan' is not a finite decimal number"),
        (["3", "1e999"], None, "'1e999' overflows float64"),
        ([], None, "no input: give numbers"),
        (["-"], "", "stdin: no numbers given"),
        (["-"], "[1, NaN]", "stdin: NaN is not a finite number"),
        (["3", "-", "1"], None, "'-' (read stdin) cannot be mixed with numbers"),
        (["3", "--input", "z.npy"], None, "not several of them"),
        (["--input", "missing.npy"], None, "cannot read missing.npy"),
        (["3", "1", "--temperature", "0"], None, "--temperature 0: must lie in [1e-08, 1e+08]"),
        (["3", "1", "--temperature", "-2"], None, "--temperature -2: must lie in"),
        (["3", "1", "--temperature", "inf"], None, "'inf' is not a finite decimal number"),
        (
            ["3", "1", "--backend", "jax"],
            None,
            "--backend jax: unknown backend jax (choose from",
        ),
        (["3", "1", "--dtype", "float16"], None, "'float16' is not one of"),
        (["3", "1", "--rtol", "-1"], None, "--rtol -1: must be 0 or more"),
        (["3", "1", "--precision", "0"], None, "--precision 0: must be from 1 to 17"),
        (["3", "1", "--save", "out.txt"], None, "--save out.txt: the file name must end in .npz"),
        (["3", "1", "--save", "no/such/dir/out.npz"], None, "folder 'no/such/dir' does not exist"),
        (["3", "1", "-x"], None, "No such option '-x'"),
        (["1e39", "1", "--dtype", "float32"], None, "overflows float32"),
    ],
)
def test_bad_input_exits_2_with_one_clear_message(args, stdin, message):
    result = invoke("softmax", *args, stdin=stdin)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_main_maps_interrupt_and_bugs_to_their_statuses(monkeypatch, capsys):
    from gradcli.commands.softmax import problem

    def interrupted(spec, allocate=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(problem, "run", interrupted)
    with pytest.raises(SystemExit) as exit_info:
        main(["softmax", "3", "1"])
    assert exit_info.value.code == 130
    assert capsys.readouterr().err.strip() == "gradcli: interrupted"

    def buggy(spec, allocate=None):
        raise RuntimeError("boom")

    monkeypatch.setattr(problem, "run", buggy)
    with pytest.raises(SystemExit) as exit_info:
        main(["softmax", "3", "1"])
    assert exit_info.value.code == 70
    assert "this is a bug in gradcli" in capsys.readouterr().err


def test_main_exit_statuses(capsys):
    for args, status in ((["softmax", "3", "1"], 0), (["softmax", "x"], 2), (["--version"], 0)):
        with pytest.raises(SystemExit) as exit_info:
            main(args)
        assert exit_info.value.code == status
    assert "gradcli, version 0.1.0" in capsys.readouterr().out


def test_values_behind_double_dash_keeps_option_values():
    ctx = cli_module.softmax.make_context("softmax", ["1"])
    moved = cli_module.values_behind_double_dash(
        cli_module.softmax, ctx, ["3", "--temperature", "-2", "-1", "--json", "-inf", "--", "-x"]
    )
    assert moved == ["--temperature", "-2", "--json", "--", "3", "-1", "-inf", "-x"]


def run_gradcli(*args, **kwargs):
    env = {**os.environ, "COLUMNS": "100"}
    return subprocess.run([sys.executable, "-m", "gradcli", *args], env=env, **kwargs)


def imported_modules(*args):
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "gradcli", *args], capture_output=True, text=True
    )
    return {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}


def test_help_imports_neither_torch_nor_numpy_nor_rich():
    modules = imported_modules("--help")
    assert "click" in modules
    assert not {"torch", "numpy", "rich", "shutil", "gradcli.save", "pathlib"} & modules
    assert not {m for m in modules if m.endswith("_command")}  # commands load when they run


def test_a_numpy_only_run_never_imports_torch():
    modules = imported_modules("softmax", "3", "1", "-3", "--backend", "numpy,fd")
    assert "numpy" in modules
    assert "torch" not in modules


def test_python_dash_m_and_version():
    proc = run_gradcli("--version", capture_output=True, text=True)
    assert proc.returncode == 0
    assert proc.stdout == "gradcli, version 0.1.0\n"


def test_closed_stdout_ends_quietly_with_141():
    proc = subprocess.Popen(
        # larger than the pipe takes (4.4 MB): a small output would be written whole, and 0
        [sys.executable, "-m", "gradcli", "softmax", *map(str, range(250)), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    proc.stdout.read(10)
    proc.stdout.close()
    stderr = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait() == 141
    assert stderr == b""


@pytest.mark.parametrize("n", [3, 40])  # members kept in memory; members mapped into the file
def test_a_failed_save_leaves_no_partial_file(tmp_path, monkeypatch, n):
    import gradcli.npz

    def disk_full(fd, offset, length):
        os.write(fd, b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(gradcli.npz.os, "posix_fallocate", disk_full)
    values = [str(v) for v in range(n)]
    result = invoke("softmax", *values, "--save", str(tmp_path / "out.npz"))
    assert result.exit_code == 74  # one rule for every write: the output could not be written
    assert "--save" in result.stderr
    assert "No space left on device" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("env", "coloured"),
    [({}, False), ({"FORCE_COLOR": "1"}, True), ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, False)],
)
def test_colour_only_on_a_terminal_and_never_with_no_color(env, coloured):
    base = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR")}
    proc = subprocess.run(
        [sys.executable, "-m", "gradcli", "softmax", "3", "1", "-3", "--backend", "numpy"],
        env={**base, **env},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0
    # NO_COLOR forbids colour, not bold (no-color.org): look for foreground colour codes.
    colour_code = re.compile(r"\x1b\[(?:[0-9]+;)*3[0-8](?:;[0-9]+)*m")
    assert bool(colour_code.search(proc.stdout)) == coloured
