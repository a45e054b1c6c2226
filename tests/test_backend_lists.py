"""--backend and backends=: one rule (gradcli.params.backends) for the CLI and the API.
A list is accepted exactly when every item is a known name, given once; anything else
is one InputError (one `Error:` line, exit 2) that names the problem, with a
"did you mean" for a name that is a known one in other case, with spaces, or mistyped."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gradcli
from gradcli import params
from gradcli.errors import InputError
from gradcli.names import BACKENDS
from tests.test_hostile import one_error_line

CHECK_BACKENDS = ("torch", "fd")
VARIANTS = st.sampled_from(
    [*BACKENDS, "", " ", "Numpy", "TORCH", " fd", "fd ", "nump", "tourch", "jax", "f d", "numpy\t"]
)

TYPOS = {"nump": "numpy", "tourch": "torch", "f d": "fd"}  # close enough to suggest


def oracle(items, known, from_string):
    """What the rule must do, written out independently: the accepted tuple in the
    canonical order, or the words the refusal must contain."""
    names = [i.strip() for i in items] if from_string else list(items)
    if from_string and not "".join(items).strip() and len(items) == 1:
        return None, "choose at least one"
    if not names:
        return None, "choose at least one"
    seen = set()
    for name in names:
        if not name.strip():
            return None, "an empty backend name"
        if name not in known:
            folded = name.strip().lower()
            close = TYPOS.get(folded, folded) in known
            return None, "did you mean" if close else "unknown backend"
        if name in seen:
            return None, "named twice"
        seen.add(name)
    return tuple(k for k in known if k in names), None


@given(st.lists(VARIANTS, max_size=5), st.sampled_from([BACKENDS, CHECK_BACKENDS]))
def test_a_list_of_names_is_accepted_exactly_when_each_is_known_and_given_once(items, known):
    expected, words = oracle(items, known, from_string=False)
    if expected is not None:
        assert params.backends(items, "backends", known) == expected
    else:
        with pytest.raises(InputError, match=words) as refusal:
            params.backends(items, "backends", known)
        assert "\n" not in str(refusal.value)


@given(st.lists(VARIANTS, min_size=1, max_size=5), st.sampled_from([BACKENDS, CHECK_BACKENDS]))
def test_a_comma_separated_string_follows_the_same_rule(items, known):
    text = ",".join(items)
    expected, words = oracle(text.split(","), known, from_string=True)
    if expected is not None:
        assert params.backends(text, "--backend", known) == expected
    else:
        with pytest.raises(InputError, match=words):
            params.backends(text, "--backend", known)


@pytest.mark.parametrize(
    ("given_list", "message"),
    [
        ("torch,torch", "Error: --backend torch,torch: torch is named twice"),
        ("fd,numpy,fd", "Error: --backend fd,numpy,fd: fd is named twice"),
        ("numpy,,fd", "Error: --backend numpy,,fd: an empty backend name"),
        ("", "Error: --backend '': choose at least one of numpy, torch, fd"),
        ("Numpy", "Error: --backend Numpy: unknown backend Numpy; did you mean numpy?"),
        ("tourch", "Error: --backend tourch: unknown backend tourch; did you mean torch?"),
        ("jax", "Error: --backend jax: unknown backend jax (choose from numpy, torch, fd)"),
    ],
)
@pytest.mark.parametrize("command", ["softmax", "layer", "graph"])
def test_the_cli_refuses_a_bad_list_with_one_line_and_2(command, given_list, message, capsys):
    args = {
        "softmax": ["softmax", "3", "1", "-3"],
        "layer": ["layer", "--seed", "1"],
        "graph": ["graph", "y = a * a", "--var", "a=[1, 2]"],
    }[command]
    err = one_error_line([*args, "--backend", given_list], capsys)
    assert err.startswith(message), err


def test_check_refuses_a_repeated_backend(capsys):
    argv = ["check", "numpy:tanh", "--grad", "numpy:cos", "--shape", "3", "--backend", "fd,fd"]
    assert one_error_line(argv, capsys).startswith("Error: --backend fd,fd: fd is named twice")


@pytest.mark.parametrize(
    "call",
    [
        lambda b: gradcli.softmax([3, 1, -3], backends=b),
        lambda b: gradcli.layer(np.eye(2), [0.5, -1], [1, 0], backends=b),
        lambda b: gradcli.graph("y = a * a", {"a": np.array([1.0, 2.0])}, backends=b),
        lambda b: gradcli.check(np.tanh, grad=lambda x: 1 - np.tanh(x) ** 2, shape=3, backends=b),
    ],
)
@pytest.mark.parametrize("backends", [["torch", "torch"], ["fd", "fd"], "fd,fd", ("fd", " fd")])
def test_the_api_raises_input_error_for_a_repeated_backend(call, backends):
    with pytest.raises(InputError, match=r"named twice|unknown backend  fd; did you mean fd"):
        call(backends)
