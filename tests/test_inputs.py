"""Strict number reading: what is a number, and one clear message for what is not."""

import json

import numpy as np
import pytest

from gradcli import inputs
from gradcli.errors import InputError
from gradcli.tokens import NEGATIVE_NUMBER_LIKE, parse_number


@pytest.mark.parametrize(
    ("token", "value"),
    [
        ("3", 3.0),
        ("-3", -3.0),
        ("+2.5", 2.5),
        (".5", 0.5),
        ("-.5", -0.5),
        ("5.", 5.0),
        ("1e-3", 1e-3),
        ("-1E+2", -100.0),
        ("0", 0.0),
        ("1e-400", 0.0),
    ],
)
def test_finite_decimals_are_numbers(token, value):
    assert parse_number(token, "z") == value


@pytest.mark.parametrize(
    ("token", "why"),
    [
        ("nan", "not a finite decimal"),
        ("-inf", "not a finite decimal"),
        ("Infinity", "not a finite decimal"),
        ("1_000", "not a finite decimal"),
        ("0x10", "not a finite decimal"),
        ("x", "not a finite decimal"),
        ("", "not a finite decimal"),
        ("1e", "not a finite decimal"),
        ("--3", "not a finite decimal"),
        ("٣", "not a finite decimal"),
        (" 3", "not a finite decimal"),
        ("1e999", "overflows float64"),
        ("-1e309", "overflows float64"),
    ],
)
def test_everything_else_is_refused_by_name(token, why):
    with pytest.raises(InputError) as info:
        parse_number(token, "z")
    assert str(info.value).startswith(f"z: {token!r}")
    assert why in str(info.value)


@pytest.mark.parametrize("token", ["-3", "-.5", "-1e5", "-inf", "-NaN", "-Infinity", "-0"])
def test_negative_number_like_tokens_are_values_not_options(token):
    assert NEGATIVE_NUMBER_LIKE.match(token)


@pytest.mark.parametrize("token", ["-h", "--help", "--temperature", "-x", "-"])
def test_options_are_not_number_like(token):
    assert not NEGATIVE_NUMBER_LIKE.match(token)


@pytest.mark.parametrize(
    "text", ["[3, 1, -3]", "3 1 -3", "3,1,-3", "3\n1\n-3\n", "  3, 1\n -3  ", "[3.0,1,-3e0]"]
)
def test_text_forms(text):
    np.testing.assert_array_equal(inputs.parse_text(text, "stdin"), [3.0, 1.0, -3.0])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "stdin: no numbers given (the vector is empty)"),
        ("[]", "stdin: no numbers given (the vector is empty)"),
        ("[NaN, 1]", "stdin: NaN is not a finite number"),
        ("[1, Infinity]", "stdin: Infinity is not a finite number"),
        ("[1, 2", "stdin: invalid JSON"),
        ("[[1, 2], [3]]", "stdin: ragged nesting"),
        ("[[1, 2], [3, 4]]", "stdin: expected a flat list of numbers, got shape (2, 2)"),
        ("[true, 1]", "stdin[0]: expected a number, got a boolean"),
        ('[1, "2"]', "stdin[1]: expected a number, got a string"),
        ("[1, null]", "stdin[1]: expected a number, got null"),
        ("[1e999]", "stdin[0]: inf is not a finite number"),
        ("[1" + "0" * 400 + "]", "overflows float64"),
        ("3 x -3", "stdin, item 2: 'x' is not a finite decimal number"),
        ("[" * 100_000, "stdin: JSON nested too deeply"),
    ],
)
def test_bad_text_is_named(text, message):
    with pytest.raises(InputError) as info:
        inputs.parse_text(text, "stdin")
    assert message in str(info.value)


def test_json_objects_are_not_lists():
    with pytest.raises(InputError, match="expected a JSON list of numbers, got an object"):
        inputs.flat_vector(json.loads('{"z": [1]}'), "z.json")


def test_to_array_builds_matrices():
    np.testing.assert_array_equal(inputs.to_array([[1, 2], [3, 4]], "W"), [[1.0, 2.0], [3.0, 4.0]])


def test_files_by_suffix(tmp_path):
    np.save(tmp_path / "z.npy", np.array([3, 1, -3], dtype=np.int32))
    (tmp_path / "z.json").write_text("[3, 1, -3]")
    (tmp_path / "z.txt").write_text("3\n1\n-3\n")
    (tmp_path / "z.csv").write_text("3,1,-3\n")
    for name in ("z.npy", "z.json", "z.txt", "z.csv"):
        np.testing.assert_array_equal(
            inputs.read_vector_file(str(tmp_path / name)), [3.0, 1.0, -3.0]
        )


def test_npy_with_python_objects_is_never_unpickled(tmp_path):
    path = tmp_path / "evil.npy"
    np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match="holds Python objects; gradcli never unpickles"):
        inputs.read_vector_file(str(path))


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((2, 2)), "expected a 1-D array, got shape (2, 2)"),
        (np.zeros(0), "the array is empty"),
        (np.array([1.0, np.nan]), "element [1] is not finite"),
        (np.array([1 + 2j]), "dtype complex128 is not a real number type"),
        (np.array(["a"]), "is not a real number type"),
    ],
)
def test_bad_npy_contents(tmp_path, array, message):
    path = tmp_path / "z.npy"
    np.save(path, array)
    with pytest.raises(InputError) as info:
        inputs.read_vector_file(str(path))
    assert message in str(info.value)


def test_truncated_npy(tmp_path):
    path = tmp_path / "z.npy"
    np.save(path, np.arange(100.0))
    path.write_bytes(path.read_bytes()[:90])
    with pytest.raises(InputError, match=r"not a valid \.npy file"):
        inputs.read_vector_file(str(path))


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.npy", None, "cannot read"),
        ("z.xyz", b"3", "unknown file type '.xyz'"),
        ("z.txt", b"\xff\xfe", "not UTF-8 text"),
        ("z.txt", b"", "no numbers given"),
    ],
)
def test_bad_files(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError) as info:
        inputs.read_vector_file(str(path))
    assert message in str(info.value)


def test_values_that_overflow_float32_are_refused():
    with pytest.raises(InputError, match="1e\\+39 at \\[1\\] overflows float32"):
        inputs.check_fits_dtype(np.array([1.0, 1e39]), "float32", "z")
    inputs.check_fits_dtype(np.array([1.0, 1e39]), "float64", "z")


def test_a_huge_npy_is_refused_from_its_header_before_loading(tmp_path):
    path = tmp_path / "huge.npy"
    with open(path, "wb") as handle:  # a header that claims 10¹⁰ elements, and no data
        np.lib.format.write_array_header_1_0(
            handle, {"descr": "<f8", "fortran_order": False, "shape": (100_000, 100_000)}
        )
    with pytest.raises(InputError, match="shape \\(100000, 100000\\) of float64; the limit is"):
        inputs.read_vector_file(str(path))
