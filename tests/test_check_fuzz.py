"""`gradcli check` under random combinations of its options (targets of every kind from
examples/, inputs by --shape and --input that fit, clash or are empty, --arg, --scale,
--dist, --no-grad, --order, --dtype, --trial, --explain, --against, --backend): whatever
the combination, the status is 0, 1 or 2, and 2 is one `Error:` line, never a traceback
(70)."""

import contextlib
import io
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gradcli.cli import main

EXAMPLES = Path(__file__).parent.parent / "examples"
TARGETS = [
    ["linear.py:linear", "--vjp", "linear_vjp"],
    ["linear.py:MyLinear"],
    ["ops.py:softmax", "--jacobian", "softmax_jacobian"],
    ["ops.py:Square"],
    ["second.py:Cube"],
    ["second.py:quartic", "--hvp", "quartic_hvp"],
    ["model.py:Net"],
    ["lowp.py:Linear"],
    ["linear.py:my_gelu", "--grad", "my_gelu_grad"],
    ["linear.py:split", "--vjp", "split_vjp"],
    ["linear.py:MaskedScale"],
    ["linear.py:ScaledTanh"],
]
NAMES = ["x=", "W=", "b=", "mask=", "w=", "z=", "q=", ""]
# option -> its values; options that take [NAME=] get every name in front of each value
VALUES = {
    "--shape": ["3", "2x3", "8x16", "16x4", "4", "0", "3x0", ""],
    "--input": ["w.npy", "nan.npy", "empty.npy", "x.npy", "logits.json", "missing.npy", ""],
    "--scale": ["1", "0", "-1", "1e300", "nan"],
    "--dist": ["normal", "uniform", "cauchy"],
    "--arg": ["a=2.0", "hidden=8", "a=(1,2)", "a='s'", "hidden=-1", "x=1", "a=None", "a=1e400"],
    "--no-grad": ["x", "W", "mask", "q", ""],
    "--order": ["1", "2", "3"],
    "--dtype": ["float32", "float16", "bfloat16"],
    "--trial": ["0", "1", "99"],
    "--explain": ["J[0,0]", "J[99,99]", "vjp.W[0,0]", "x", ""],
    "--against": ["torch.nn.functional.gelu", "torch.tanh", "torch.sum", "ops.py:softmax"],
    "--backend": ["fd", "torch", "torch,fd", "numpy", "fd,fd"],
}
TAKES_A_NAME = ("--shape", "--input", "--scale", "--dist")
FLAGS = ["--taylor", "--full", "--json", "--quiet", "--detail"]
OPTIONS = st.one_of(
    st.sampled_from(FLAGS).map(lambda flag: [flag]),
    *(
        st.tuples(
            st.sampled_from(NAMES if option in TAKES_A_NAME else [""]), st.sampled_from(v)
        ).map(lambda pair, option=option: [option, pair[0] + pair[1]])
        for option, v in VALUES.items()
    ),
)


@pytest.fixture(scope="module")
def examples_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    for path in EXAMPLES.glob("*.py"):
        shutil.copy(path, folder)
    shutil.copy(EXAMPLES / "logits.json", folder)
    np.save(folder / "w.npy", np.ones((16, 4)) / 4)
    np.save(folder / "nan.npy", np.array([1.0, np.nan]))
    np.save(folder / "empty.npy", np.zeros((0,)))
    np.save(folder / "x.npy", np.linspace(-1, 1, 5))
    return folder


@given(st.sampled_from(TARGETS), st.lists(OPTIONS, min_size=1, max_size=4))
def test_any_combination_of_check_options_is_0_1_or_one_error_line(examples_dir, target, options):
    argv = ["check", *target, "--trials", "1"]
    for option in options:
        argv += option
    err = io.StringIO()
    here = os.getcwd()
    os.chdir(examples_dir)
    try:
        with (
            contextlib.redirect_stdout(io.StringIO()),
            contextlib.redirect_stderr(err),
            pytest.raises(SystemExit) as ended,
        ):
            main(argv)
    finally:
        os.chdir(here)
    message = err.getvalue()
    assert ended.value.code in (0, 1, 2), (argv, message)
    if ended.value.code == 2:
        assert message.startswith("Error: "), (argv, message)
        assert message.count("\n") == 1, (argv, message)
