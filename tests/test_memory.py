"""The peak-memory model of gradcli.limits against the measured peak (maximum resident
set size) of whole gradcli processes: never below it (a refusal must come before an
out-of-memory kill), never far above it (or gradcli would refuse what fits). Sizes are
small enough to keep this file at a few seconds; numpy and fd only, so torch's import
does not dominate the peak."""

import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from gradcli import limits
from gradcli.cli import cli

BACKENDS = ("numpy", "fd")
MOST_ABOVE = 1.75  # the model may overstate the peak by this much, no more


# Linux carries a process's peak RSS across exec, so a child forked from this test
# process (hundreds of MiB once torch is imported) would report at least that: a small
# launcher process starts gradcli and reports its peak (wait4) instead. gradcli check
# runs the user's code in a worker process, and wait4 gives the largest process's peak,
# not their sum: the launcher also reads the peak (VmHWM) of gradcli and of each of its
# children every few milliseconds, and reports the larger of the two: the sum of the
# processes' peaks (at least the peak of their sum).
LAUNCHER = """
import os, subprocess, sys, time
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
peaks = {}
def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""
while True:
    pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
    if pid:
        break
    try:
        tasks = os.listdir(f"/proc/{proc.pid}/task")
    except OSError:
        tasks = []
    children = [c for t in tasks for c in read(f"/proc/{proc.pid}/task/{t}/children").split()]
    for p in [proc.pid, *map(int, children)]:
        for line in read(f"/proc/{p}/status").splitlines():
            if line.startswith("VmHWM:"):
                peaks[p] = max(peaks.get(p, 0), int(line.split()[1]) * 1024)
    time.sleep(0.005)
print(os.waitstatus_to_exitcode(status), max(usage.ru_maxrss * 1024, sum(peaks.values())))
"""


def peak_rss(args, cwd):
    """The maximum resident set size of `python -m gradcli ARGS`, in bytes."""
    command = [sys.executable, "-m", "gradcli", *args, "--backend", ",".join(BACKENDS), "--json"]
    launched = subprocess.run(
        [sys.executable, "-c", LAUNCHER, *command], cwd=cwd, capture_output=True, text=True
    )
    status, peak = launched.stdout.split()
    assert status == "0", launched.stderr
    return int(peak)


@pytest.mark.parametrize("n", [1536, 3072])
def test_the_softmax_model_bounds_the_measured_peak(n, tmp_path):
    np.save(tmp_path / "z.npy", np.random.default_rng(0).normal(size=n))
    measured = peak_rss(["softmax", "--input", "z.npy"], tmp_path)
    estimate = limits.softmax_peak(n, BACKENDS)
    assert measured <= estimate <= MOST_ABOVE * measured, (measured / 2**20, estimate / 2**20)


@pytest.mark.parametrize(("batch", "in_features"), [(6000, 300), (12000, 300)])
def test_the_layer_model_bounds_the_measured_peak(batch, in_features, tmp_path):
    args = ["layer", "--batch", str(batch), "--in-features", str(in_features)]
    measured = peak_rss(args, tmp_path)
    out_features = 3
    elements = out_features * in_features + out_features + batch * (in_features + 2 * out_features)
    estimate = limits.layer_peak(elements, [], BACKENDS, plot=False)
    assert measured <= estimate <= MOST_ABOVE * measured, (measured / 2**20, estimate / 2**20)


def test_the_plot_model_bounds_the_measured_peak(tmp_path):
    pytest.importorskip("matplotlib")
    n = 1024
    np.save(tmp_path / "z.npy", np.random.default_rng(0).normal(size=n))
    measured = peak_rss(["softmax", "--input", "z.npy", "--plot", "p.png"], tmp_path)
    estimate = limits.softmax_peak(n, BACKENDS, plot=True)
    assert measured <= estimate <= MOST_ABOVE * measured, (measured / 2**20, estimate / 2**20)


def test_the_graph_plot_model_bounds_the_measured_peak(tmp_path):
    pytest.importorskip("matplotlib")
    size = 900
    rand = ["--rand", f"a={size}x{size}", "--rand", f"b={size}x{size}"]
    measured = peak_rss(["graph", "y = (a * b).sum()", *rand, "--plot", "g.png"], tmp_path)
    nodes = [size * size] * 3 + [1]  # a, b, a * b, the sum
    estimate = limits.graph_plot_peak(nodes, BACKENDS, drawn=True)
    assert measured <= estimate <= MOST_ABOVE * measured, (measured / 2**20, estimate / 2**20)


@pytest.mark.parametrize(
    ("args", "what"),
    [
        (["softmax", "--input", "z.npy", "--plot", "p.png"], "--plot of 4096×4096 Jacobians"),
        (["softmax", "--input", "z.npy"], "3 dense 4096×4096 Jacobians"),
        (["layer", "--batch", "100000", "--in-features", "300"], "a 3×300 layer"),
        (["layer", "--in-features", "2000", "--out-features", "2000"], "a 2000×2000 layer"),
        (["layer", "--in-features", "1200", "--out-features", "1500", "--plot", "p.png"], "--plot"),
        (["graph", "y = a * 2", "--rand", "a=3000x3000", "--plot", "p.png"], "--plot of the"),
    ],
)
def test_what_would_not_fit_is_refused_before_anything_is_allocated(
    args, what, tmp_path, monkeypatch
):
    pytest.importorskip("matplotlib")
    # 1.2 GiB available, of which 70% may be used: n = 4096 with three backends (about
    # 1 GiB) does not fit, nor do its plot and a 2000×2000 layer; a 1200×1500 layer
    # (0.6 GiB) does, but not with its plot.
    monkeypatch.setattr(limits, "available_memory", lambda: int(1.2 * 2**30))
    monkeypatch.chdir(tmp_path)
    np.save("z.npy", np.zeros(4096))
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert what in result.stderr
    assert "of memory but 1.2 GiB is available" in result.stderr


# A forward in numpy alone, so that check's sides are yours and fd (torch is imported by
# check itself, and the model counts it).
NUMPY_SOFTMAX = """
import numpy as np


def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def softmax_jacobian(z):
    s = softmax(z)
    return np.diag(s) - np.outer(s, s)


def softmax_vjp(z, g):
    s = softmax(z)
    return s * (g - (g * s).sum())
"""


@pytest.mark.parametrize("n", [600, 1500])
def test_the_check_model_bounds_the_measured_peak(n, tmp_path):
    (tmp_path / "npsoftmax.py").write_text(NUMPY_SOFTMAX)
    args = ["check", "npsoftmax.py:softmax", "--jacobian", "softmax_jacobian"]
    measured = peak_rss([*args, "--shape", str(n), "--full"], tmp_path)
    estimate = limits.check_peak(n, n, sides=2, jacobian=True)  # yours and fd
    assert measured <= estimate <= MOST_ABOVE * measured, (measured / 2**20, estimate / 2**20)


def test_the_check_model_bounds_the_measured_peak_of_a_full_vjp_check(tmp_path):
    # --full in a VJP mode holds no Jacobian: the peak is the interpreter with torch
    (tmp_path / "npsoftmax.py").write_text(NUMPY_SOFTMAX)
    args = ["check", "npsoftmax.py:softmax", "--vjp", "softmax_vjp", "--shape", "1500"]
    measured = peak_rss([*args, "--full"], tmp_path)
    estimate = limits.check_peak(1500, 1500, sides=2, jacobian=False)
    assert measured <= estimate <= MOST_ABOVE * measured, (measured / 2**20, estimate / 2**20)


def test_the_check_model_bounds_the_measured_peak_of_a_directional_check(tmp_path):
    # 500 000 inputs: above the full check's size, each trial is checked along directions
    (tmp_path / "npsoftmax.py").write_text(NUMPY_SOFTMAX)
    args = ["check", "npsoftmax.py:softmax", "--vjp", "softmax_vjp", "--shape", "500000"]
    measured = peak_rss(args, tmp_path)
    estimate = limits.check_peak(500_000, 500_000, sides=2, jacobian=False)
    assert measured <= estimate <= MOST_ABOVE * measured, (measured / 2**20, estimate / 2**20)


def test_a_directional_check_that_would_not_fit_is_refused(tmp_path, monkeypatch):
    (tmp_path / "npsoftmax.py").write_text(NUMPY_SOFTMAX)
    monkeypatch.setattr(limits, "available_memory", lambda: int(1.2 * 2**30))
    monkeypatch.chdir(tmp_path)
    # 3e6 inputs and outputs at 8·(4·2 + 53) bytes each, the worker with torch loaded
    # and the supervisor's interpreter: 3.11 GiB
    args = ["check", "npsoftmax.py:softmax", "--vjp", "softmax_vjp", "--shape", "3000000"]
    result = CliRunner().invoke(cli, [*args, "--backend", "numpy,fd"])
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        "Error: the check would need about 3.11 GiB of memory but 1.2 GiB is available; "
        "use smaller inputs\n"
    )


def test_a_full_check_that_would_not_fit_is_refused(tmp_path, monkeypatch):
    (tmp_path / "npsoftmax.py").write_text(NUMPY_SOFTMAX)
    monkeypatch.setattr(limits, "available_memory", lambda: int(1.2 * 2**30))
    monkeypatch.chdir(tmp_path)
    args = ["check", "npsoftmax.py:softmax", "--jacobian", "softmax_jacobian", "--full"]
    # n = 4000: 16e6 Jacobian elements at 88 bytes, the worker with torch loaded and the
    # supervisor's interpreter, 1.69 GiB: beyond 70% of 1.2 GiB (n = 1500, 0.56 GiB, fits)
    result = CliRunner().invoke(cli, [*args, "--shape", "4000", "--backend", "numpy,fd"])
    assert result.exit_code == 2, result.output
    assert "the full check would need about 1.69 GiB of memory but 1.2 GiB is available" in (
        result.stderr
    )


# (program, --rand inputs, the element count of every node, written out by hand): fd
# differentiates every one of these along directions (more than 1000 input elements)
GRAPH_PROGRAMS = [
    ("y = (a * b).sum()", {"a": (600, 600), "b": (600, 600)}, [600 * 600] * 3 + [1]),
    ("y = (a * b).sum()", {"a": (1200, 1200), "b": (1200, 1200)}, [1200 * 1200] * 3 + [1]),
    ("y = (w @ a).sum()", {"w": (600, 600), "a": (600, 600)}, [600 * 600] * 3 + [1]),
    # the input dominates and every node after it is small: 1.1 GiB measured at 3000²,
    # where the model that counted nodes only said 0.99 GiB
    ("y = (w @ x).sum()", {"w": (2000, 2000), "x": (2000, 1)}, [2000 * 2000, 2000, 2000, 1]),
    ("y = (a @ b @ c).sum()", {"a": (400, 400), "b": (400, 400), "c": (400, 400)},
     [400 * 400] * 5 + [1]),
    ("y = softmax(w @ a, dim=0).sum()", {"w": (600, 600), "a": (600, 600)},
     [600 * 600] * 4 + [1]),
]  # fmt: skip


@pytest.mark.parametrize(("program", "shapes", "nodes"), GRAPH_PROGRAMS)
def test_the_graph_model_bounds_the_measured_peak(program, shapes, nodes, tmp_path):
    rand = [f"--rand={name}={'x'.join(map(str, shape))}" for name, shape in shapes.items()]
    measured = peak_rss(["graph", program, *rand], tmp_path)
    inputs = sum(int(np.prod(shape)) for shape in shapes.values())
    estimate = limits.graph_peak(nodes, BACKENDS, drawn=True, directional_inputs=inputs)
    assert measured <= estimate <= MOST_ABOVE * measured, (measured / 2**20, estimate / 2**20)


LINEAR = """
import numpy as np


def linear(x, W, b):
    return np.tanh(x @ W + b)


def linear_vjp(x, W, b, g):
    d = g * (1 - np.tanh(x @ W + b) ** 2)
    return d @ W.T, x.T @ d, d.sum(axis=0)
"""


@pytest.mark.parametrize(
    ("rows", "width", "full"),
    [(400, 250, False), (10, 30, True)],  # along directions; every element (1230 inputs)
)
def test_the_check_model_bounds_the_peak_of_a_forward_of_several_inputs(
    rows, width, full, tmp_path
):
    (tmp_path / "linear.py").write_text(LINEAR)
    np.save(tmp_path / "w.npy", np.random.default_rng(1).normal(size=(width, width)) / width)
    args = ["check", "linear.py:linear", "--vjp", "linear_vjp", "--shape", f"x={rows}x{width}"]
    args += ["--input", "W=w.npy", "--shape", f"b={width}", "--trials", "1"]
    args += ["--full"] if full else []
    measured = peak_rss(args, tmp_path)
    n_in, n_out = rows * width + width * width + width, rows * width
    estimate = limits.check_peak(n_in, n_out, sides=2, jacobian=False)  # yours and fd
    assert measured <= estimate <= MOST_ABOVE * measured, (measured / 2**20, estimate / 2**20)


def test_a_graph_that_would_not_fit_is_refused_before_it_runs(tmp_path, monkeypatch):
    # two 2500×2500 inputs and their product, 18.75e6 elements at 8·(3 + 4) bytes, the
    # 12.5e6 input elements fd moves along directions at 8·16, and torch loaded for
    # --rand: 2.78 GiB, beyond 70% of 1.2 GiB
    monkeypatch.setattr(limits, "available_memory", lambda: int(1.2 * 2**30))
    rand = ["--rand", "a=2500x2500", "--rand", "b=2500x2500"]
    result = CliRunner().invoke(cli, ["graph", "y = (a * b).sum()", *rand])
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        "Error: the program would need about 2.78 GiB of memory but 1.2 GiB is available; "
        "use smaller inputs\n"
    )
