"""Every command's --json output is valid against the JSON Schema shipped in the package."""

import json
from importlib import resources

import numpy as np
import pytest
from click.testing import CliRunner

import gradcli
from gradcli.cli import cli

jsonschema = pytest.importorskip("jsonschema")


def schema(command):
    text = resources.files("gradcli").joinpath(f"schemas/{command}.schema.json").read_text()
    document = json.loads(text)
    jsonschema.Draft202012Validator.check_schema(document)
    return document


def check(command, *args, stdin=None):
    result = CliRunner().invoke(cli, [command, *args, "--json"], input=stdin)
    assert result.exit_code in (0, 1), result.output
    doc = json.loads(result.stdout)
    jsonschema.Draft202012Validator(schema(command)).validate(doc)
    return doc


@pytest.mark.parametrize(
    "args",
    [
        ["3", "1", "-3"],
        ["3", "1", "-3", "--dtype", "float32", "--backend", "numpy,fd"],
        [*map(str, range(300)), "--backend", "numpy"],  # an omitted (summarised) Jacobian
    ],
)
def test_softmax_documents(args):
    check("softmax", *args)


@pytest.mark.parametrize(
    "args",
    [
        ["--seed", "42"],
        ["--seed", "42", "--loss", "output", "--index", "0", "--explain", "W[0,0]"],
        ["--batch", "3", "--targets", "0,2,1"],
        ["--batch", "2", "--loss", "mse"],
        ["--loss", "sum"],
        ["--seed", "3", "--fd-mode", "directional"],
    ],
)
def test_layer_documents(args):
    check("layer", *args)


@pytest.mark.parametrize(
    "args",
    [
        [
            "b = a.sum(dim=0, keepdim=True); c = a/b; y = w@c",
            "--rand",
            "w=4x10",
            "--rand",
            "a=10x10",
        ],
        ["c = log(a); y = c * 2", "--var", "a=[0, 1]"],  # non-finite: exit 1, still valid
        ["y = (a * a).sum()", "--var", "a=[1, 2]"],
    ],
)
def test_graph_documents(args):
    check("graph", *args)


def test_the_schema_rejects_a_document_that_breaks_it():
    doc = json.loads(gradcli.softmax([3, 1, -3]).to_json())
    doc["comparisons"][0]["ok"] = "yes"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema("softmax"))


def test_the_report_api_writes_the_same_valid_documents():
    report = gradcli.graph("y = a @ a", {"a": np.eye(2)})
    jsonschema.validate(json.loads(report.to_json()), schema("graph"))


@pytest.mark.parametrize(
    "args",
    [
        ["examples/ops.py:softmax", "--jacobian", "softmax_jacobian", "--shape", "4"],
        [
            "examples/ops.py:softmax",
            "--jacobian",
            "softmax_jacobian_no_cross_terms",
            "--shape",
            "4",
        ],
        ["examples/ops.py:Square", "--shape", "2x3"],
    ],
)
def test_check_documents(args, monkeypatch):
    from pathlib import Path

    monkeypatch.chdir(Path(__file__).parent.parent)
    check("check", *args)


def test_kinks_and_references_are_in_the_document():
    doc = check("graph", "y = relu(a)", "--var", "a=[0, 1, -1]")
    (kink,) = doc["kinks"]
    assert kink["index"] == [0]
    assert kink["values"] == {"numpy": 0.0, "torch": 0.0}
    assert kink["left"] == 0.0
    assert kink["right"] == pytest.approx(1.0)
    (ref,) = doc["references"]
    assert ref["columns"]["richardson"] == 3
    assert doc["schema_version"] == 3


def test_an_infinite_derivative_is_valid_json():
    doc = check("graph", "y = sqrt(a)", "--var", "a=[0, 4]")
    (kink,) = doc["kinks"]
    assert kink["infinite"] is True
    assert kink["left"] is None  # −inf, written as null
