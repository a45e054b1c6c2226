"""gradcli layer: the derivations against known numbers, torch and fd, and every error."""

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from gradcli.backends import analytic
from gradcli.cli import cli
from gradcli.commands.layer import fd as layer_fd
from gradcli.commands.layer import problem
from gradcli.commands.layer.inputs import build_loss, draw_layer
from gradcli.errors import InputError
from gradcli.spec import LayerSpec, LossSpec, RunOptions


def run(w, b, x, loss, explain=None, **options):
    arrays = (np.asarray(a, dtype=float) for a in (w, b, x))
    return problem.run(LayerSpec(*arrays, loss, None, explain, RunOptions(**options)))


def invoke(*args, stdin=None):
    return CliRunner(env={"COLUMNS": "120"}).invoke(cli, ["layer", *args], input=stdin)


def layer_json(*args, stdin=None):
    result = invoke(*args, "--json", stdin=stdin)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_layer_worked_by_hand():
    # W = I, b = 0, x = (1, 0): z = (1, 0), s = (e, 1)/(e + 1); ce to class 0.
    s0, s1 = math.e / (math.e + 1), 1 / (math.e + 1)
    report = run(np.eye(2), [0, 0], [1, 0], LossSpec("ce", (0,)))
    assert report.ok
    for r in report.results.values():
        a = r.arrays
        np.testing.assert_allclose(a["z"], [1, 0], atol=1e-15)
        np.testing.assert_allclose(a["s"], [s0, s1], rtol=1e-14)
        assert float(a["loss"]) == pytest.approx(math.log(1 + math.exp(-1)), rel=1e-9)
        np.testing.assert_allclose(a["dL_ds"], [-1 / s0, 0], rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(a["dL_dz"], [s0 - 1, s1], rtol=1e-6)
        np.testing.assert_allclose(a["dW"], [[s0 - 1, 0], [s1, 0]], rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(a["db"], [s0 - 1, s1], rtol=1e-6)
        np.testing.assert_allclose(a["dx"], [s0 - 1, s1], rtol=1e-6)


def test_the_textbook_case_ds0_dw00_is_s0_one_minus_s0_times_x0():
    doc = layer_json("--seed", "42", "--loss", "output", "--index", "0")
    s0 = doc["results"]["numpy"]["s"][0]
    x0 = doc["inputs"]["x"][0]
    for name in ("numpy", "torch", "fd"):
        assert doc["results"][name]["dW"][0][0] == pytest.approx(s0 * (1 - s0) * x0, rel=1e-7)


def test_default_layer_is_3_by_3_cross_entropy_to_class_0_seeded():
    doc = layer_json("--seed", "42")
    d = draw_layer(42, 3, 3, None)
    np.testing.assert_array_equal(doc["inputs"]["W"], d["W"])
    np.testing.assert_array_equal(doc["inputs"]["x"], d["x"])
    assert doc["inputs"]["loss"] == {"kind": "ce", "target": 0}
    assert doc["inputs"]["seed"] == 42
    assert doc["inputs"]["dtype"] == "float64"
    assert set(doc["results"]["numpy"]) == {"z", "s", "loss", "dL_ds", "dL_dz", "dW", "db", "dx"}
    assert isinstance(doc["results"]["numpy"]["loss"], float)
    assert np.abs(d["W"]).max() <= 1 / math.sqrt(3)
    assert doc["ok"] is True


def test_same_seed_same_bytes():
    assert invoke("--seed", "7", "--json").stdout == invoke("--seed", "7", "--json").stdout
    assert invoke("--seed", "7", "--json").stdout != invoke("--seed", "8", "--json").stdout


def test_batch_shapes_and_mse():
    doc = layer_json(
        "--in-features", "5", "--out-features", "4", "--batch", "8", "--seed", "7", "--loss", "mse"
    )
    r = doc["results"]["torch"]
    assert np.shape(r["z"]) == (8, 4)
    assert np.shape(r["dW"]) == (4, 5)
    assert np.shape(r["db"]) == (4,)
    assert np.shape(r["dx"]) == (8, 5)
    y = np.array(doc["inputs"]["loss"]["target"])
    assert y.shape == (8, 4)
    np.testing.assert_allclose(y.sum(axis=1), 1.0)  # Dirichlet rows are distributions
    assert doc["ok"] is True


def test_json_out_is_a_valid_spec_in():
    first = invoke("--seed", "42", "--batch", "3", "--targets", "0,2,1", "--json").stdout
    second = layer_json("--spec", "-", stdin=first)
    assert second["results"] == json.loads(first)["results"]
    assert second["inputs"]["seed"] is None
    assert second["inputs"]["loss"] == {"kind": "ce", "targets": [0, 2, 1]}


def test_spec_loss_is_overridden_by_options(tmp_path):
    path = tmp_path / "layer.json"
    path.write_text(
        json.dumps(
            {
                "W": [[1, 2], [3, 4]],
                "b": [0, 1],
                "x": [0.5, -1],
                "loss": {"kind": "ce", "target": 1},
            }
        )
    )
    assert layer_json("--spec", str(path))["inputs"]["loss"] == {"kind": "ce", "target": 1}
    assert layer_json("--spec", str(path), "--target", "0")["inputs"]["loss"] == {
        "kind": "ce",
        "target": 0,
    }
    assert layer_json("--spec", str(path), "--loss", "output", "--index", "1")["inputs"][
        "loss"
    ] == {
        "kind": "output",
        "index": 1,
    }
    mse = layer_json("--spec", str(path), "--loss", "mse", "--target", "[0.25, 0.75]")
    assert mse["inputs"]["loss"] == {"kind": "mse", "target": [0.25, 0.75]}


def test_sum_loss_is_zero_gradient_and_says_so():
    doc = layer_json("--seed", "1", "--loss", "sum", "--batch", "3")
    assert doc["ok"] is True
    assert any("exactly zero" in note for note in doc["notes"])
    assert np.abs(doc["results"]["numpy"]["dW"]).max() < 1e-15
    assert doc["results"]["numpy"]["loss"] == pytest.approx(1.0)


def test_cross_entropy_stays_finite_where_softmax_underflows():
    report = run([[1000, 0], [0, 0]], [0, 0], [1, 1], LossSpec("ce", (1,)))
    assert report.ok, report.verdict.details
    assert float(report.results["torch"].arrays["loss"]) == pytest.approx(1000.0)
    np.testing.assert_allclose(report.results["numpy"].arrays["dW"], [[1, 1], [-1, -1]])
    assert {nf.backend for nf in report.non_finite if nf.quantity == "dL_ds"} == {
        "numpy",
        "torch",
        "fd",
    }
    assert "dL_ds" not in {c.quantity for c in report.comparisons}
    assert any("underflowed" in n for n in report.notes)
    fused = [law for law in report.laws if law.law.startswith("fused")]
    assert fused
    assert fused[0].ok


@given(
    st.integers(1, 6),
    st.integers(1, 6),
    st.one_of(st.none(), st.integers(1, 4)),
    st.sampled_from(["ce", "mse", "sum", "output"]),
    st.sampled_from(["float64", "float32"]),
    st.integers(0, 2**16),
    st.sampled_from([0.01, 1.0, 30.0]),
)
def test_backends_agree_over_shapes_losses_and_dtypes(n_in, n_out, batch, kind, dtype, seed, scale):
    d = draw_layer(seed, n_in, n_out, batch)
    loss = build_loss(
        kind,
        drawn_y=d["y"],
        target=seed % n_out if kind == "ce" else None,
        index=seed % n_out if kind == "output" else None,
    )
    report = problem.run(
        LayerSpec(d["W"] * scale, d["b"] * scale, d["x"], loss, seed, None, RunOptions(dtype=dtype))
    )
    assert report.ok, report.verdict.details


def forgot_the_mean_term(s, v):
    return s * v  # Jᵀv without − s (sᵀv): only the diagonal of J


def test_a_wrong_chain_rule_is_caught_and_named(monkeypatch):
    monkeypatch.setattr(analytic, "softmax_vjp", forgot_the_mean_term)
    d = draw_layer(3, 3, 3, None)
    report = run(d["W"], d["b"], d["x"], LossSpec("output", index=0))
    assert not report.ok
    assert "dL_dz: torch and fd agree, numpy differs" in " ".join(report.verdict.details)


def test_a_transposed_dw_is_caught(monkeypatch):
    right = analytic.linear_vjp
    monkeypatch.setattr(
        analytic, "linear_vjp", lambda g, w, x: (right(g, w, x)[0].T, *right(g, w, x)[1:])
    )
    d = draw_layer(5, 3, 3, None)
    report = run(d["W"], d["b"], d["x"], LossSpec("ce", (0,)))
    assert "dW: torch and fd agree, numpy differs" in report.verdict.summary


def test_numpy_only_layer_never_imports_torch():
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "gradcli", "layer", "--backend", "numpy,fd"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0
    assert "torch" not in {line.split("|")[-1].strip() for line in proc.stderr.splitlines()}


# --- --explain -----------------------------------------------------------------------


def test_explain_w_names_both_cases_and_sums_to_dw():
    doc = layer_json("--seed", "42", "--loss", "output", "--index", "0", "--explain", "W[0,0]")
    ex = doc["explanation"]
    assert ex["target"] == "dW[0,0]"  # W[0,0] is read as the view's name, dW[0,0]
    assert ex["formula"] == "∂L/∂W_00 = Σ_k ∂L/∂s_k · ∂s_k/∂z_0 · ∂z_0/∂W_00"
    assert [t["case"] for t in ex["terms"]] == [
        "k = i: s_0(1 − s_0)",
        "k ≠ i: −s_1 s_0",
        "k ≠ i: −s_2 s_0",
    ]
    assert ex["total"] == pytest.approx(doc["results"]["numpy"]["dW"][0][0], rel=1e-12)
    assert ex["value"] == doc["results"]["numpy"]["dW"][0][0]
    s = doc["results"]["numpy"]["s"]
    assert ex["terms"][0]["factors"] == pytest.approx(
        [1.0, s[0] * (1 - s[0]), doc["inputs"]["x"][0]]
    )
    text = invoke("--seed", "42", "--loss", "output", "--index", "0", "--explain", "dW[0,0]").stdout
    assert "Chain rule for dW[0,0]" in text
    assert "k = 0 (k = i: s_0(1 − s_0)):" in text


@pytest.mark.parametrize(
    ("args", "target", "value"),
    [
        (["--seed", "3"], "db[2]", ("db", (2,))),
        (["--seed", "3"], "x[1]", ("dx", (1,))),
        (["--seed", "3", "--batch", "2"], "dx[1,2]", ("dx", (1, 2))),
        (["--seed", "3"], "∂L/∂b[1]", ("db", (1,))),
        (["--seed", "3", "--batch", "6"], "W[1, 0]", ("dW", (1, 0))),
    ],
)
def test_explain_other_entries(args, target, value):
    doc = layer_json(*args, "--explain", target)
    quantity, index = value
    expected = np.array(doc["results"]["numpy"][quantity])[index]
    assert doc["explanation"]["total"] == pytest.approx(expected, rel=1e-12, abs=1e-15)


# --- errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--in-features", "0"], None, "--in-features 0: must be from 1 to 100000"),
        (["--out-features", "-3"], None, "--out-features -3: must be from 1 to 100000"),
        (["--batch", "0"], None, "--batch 0: must be from 1 to 100000"),
        (["--seed", "x"], None, "--seed x: expected an integer"),
        (["--target", "5"], None, "target class 5 is out of range 0..2"),
        (["--target", "1.5"], None, "a class for cross-entropy is an integer"),
        (["--loss", "output", "--index", "3"], None, "--index 3 is out of range 0..2"),
        (["--index", "1"], None, "--index goes with --loss output"),
        (["--loss", "sum", "--target", "1"], None, "--target goes with --loss ce or mse, not sum"),
        (
            ["--batch", "2", "--targets", "0,1,2"],
            None,
            "--targets lists 3 classes for a batch of 2",
        ),
        (["--targets", "0,x"], None, "expected classes separated by commas"),
        (
            ["--loss", "mse", "--target", "[0.5, 0.5]"],
            None,
            "mse target has shape (2,), expected (3,)",
        ),
        (["--loss", "mse", "--target", "[0.5, NaN, 0]"], None, "NaN is not a finite number"),
        (["--explain", "W[0]"], None, "dW takes two indices, dW[i,j]"),
        (["--explain", "W[3,0]"], None, "i = 3 is out of range 0..2"),
        (["--explain", "z[0]"], None, "write dW[i,j], db[i], dx[j] or dx[r,j]"),
        (["--batch", "2", "--explain", "x[0]"], None, "x is (batch, in) here: write dx[r,j]"),
        (
            ["--spec", "-", "--seed", "3"],
            '{"W": [[1]], "b": [0], "x": [1]}',
            "--seed cannot be used with it",
        ),
        (
            ["--spec", "-", "--in-features", "3"],
            '{"W": [[1]], "b": [0], "x": [1]}',
            "--in-features cannot be used",
        ),
        (
            ["--spec", "-"],
            '{"W": [[1, 2]], "b": [0, 1], "x": [1, 2]}',
            "b has shape (2,), but W (1, 2) needs (1,)",
        ),
        (
            ["--spec", "-"],
            '{"W": [[1, 2]], "b": [0], "x": [1, 2, 3]}',
            "x has shape (3,), but W (1, 2) needs",
        ),
        (["--spec", "-"], '{"W": [[1, NaN]], "b": [0], "x": [1, 2]}', "NaN is not a finite number"),
        (["--spec", "-"], '{"W": [[1, 2]], "b": [0]}', "missing x"),
        (["--spec", "-"], '{"W": [[1, 2], [3]], "b": [0], "x": [1, 2]}', "ragged nesting"),
        (["--spec", "-"], "{not json", "invalid JSON"),
        (["--spec", "-"], "[1, 2]", "expected a JSON object with W, b and x"),
        (
            ["--spec", "-"],
            '{"W": [[1]], "b": [0], "x": [1], "loss": {"kind": "ce", "target": 4}}',
            "target class 4 is out of range 0..0",
        ),
        (
            ["--spec", "-"],
            '{"W": [[1]], "b": [0], "x": [1], "loss": {"kind": "hinge"}}',
            "loss 'hinge' is not one of",
        ),
        (
            ["--spec", "-", "--loss", "mse"],
            '{"W": [[1]], "b": [0], "x": [1]}',
            "--loss mse needs --target",
        ),
        (["--spec", "missing.json"], None, "cannot read missing.json"),
        (
            ["--spec", "-"],
            '{"command": "softmax", "inputs": {}}',
            "a gradcli softmax document, not a layer",
        ),
    ],
)
def test_bad_layer_input_exits_2_with_one_clear_message(args, stdin, message):
    result = invoke(*args, stdin=stdin)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "title"),
    [
        ([], "L = cross-entropy to class 0"),
        (["--loss", "mse"], "L = mean squared error to y"),
        (["--loss", "sum"], "L = Σ s\n"),  # "mean over the batch" only with a batch
        (["--loss", "output", "--index", "2"], "L = s_2\n"),
        (["--loss", "sum", "--batch", "2"], "L = Σ s (mean over the batch)"),
        (
            ["--batch", "2", "--targets", "0,1"],
            "L = cross-entropy to classes [0, 1] (one per row, mean over the batch)",
        ),
        (["--batch", "3"], "L = cross-entropy to class 0 (mean over the batch)"),
        ([], "L = cross-entropy to class 0\n"),
    ],
)
def test_every_loss_renders_as_tables(args, title):
    result = invoke("--seed", "42", *args)
    assert result.exit_code == 0, result.output
    assert title in result.stdout
    assert (
        "OK: numpy, torch and fd (finite differences) agree on z, s, loss, dL_ds, dL_dz, dW, db"
        " and dx" in result.stdout
    )


# --- directional finite differences --------------------------------------------------


def test_a_large_layer_switches_to_directional_fd_and_says_so():
    d = draw_layer(0, 400, 300, 2)
    report = problem.run(
        LayerSpec(d["W"], d["b"], d["x"], LossSpec("ce", (1,)), 0, None, RunOptions())
    )
    assert report.ok, report.verdict.details
    assert report.results["fd"].method == "central differences along 8 random directions"
    assert "dW" not in report.results["fd"].arrays
    assert report.results["fd"].arrays["dW·v"].shape == (8,)
    assert any("8 random directions" in note and "--fd-mode full" in note for note in report.notes)
    compared = {(c.quantity, c.backends) for c in report.comparisons}
    assert ("dW·v", ("numpy", "fd")) in compared
    assert ("dW", ("numpy", "torch")) in compared


def test_directional_projections_are_dot_products_of_the_full_gradients():
    d = draw_layer(4, 3, 3, None)
    spec = LayerSpec(
        d["W"], d["b"], d["x"], LossSpec("ce", (0,)), 4, None, RunOptions(), "directional"
    )
    report = problem.run(spec)
    assert report.ok, report.verdict.details
    full = problem.run(
        LayerSpec(d["W"], d["b"], d["x"], LossSpec("ce", (0,)), 4, None, RunOptions(), "full")
    )
    from gradcli import directional as layer_directional

    dirs = layer_directional.directions(layer_fd.gradient_shapes(d["W"], d["x"].reshape(1, -1)), 4)
    expected = np.tensordot(dirs["dW"], full.results["fd"].arrays["dW"], axes=2)
    np.testing.assert_allclose(report.results["fd"].arrays["dW·v"], expected, rtol=1e-6)


def test_directional_fd_catches_a_transposed_dw(monkeypatch):
    right = analytic.linear_vjp
    monkeypatch.setattr(
        analytic, "linear_vjp", lambda g, w, x: (right(g, w, x)[0].T, *right(g, w, x)[1:])
    )
    d = draw_layer(5, 3, 3, None)
    spec = LayerSpec(
        d["W"], d["b"], d["x"], LossSpec("ce", (0,)), 5, None, RunOptions(), "directional"
    )
    report = problem.run(spec)
    assert not report.ok
    assert "dW·v: torch and fd agree, numpy differs" in " ".join(report.verdict.details)


def test_forcing_full_fd_on_a_huge_layer_is_refused_clearly():
    w, b, x = np.zeros((2000, 2000)), np.zeros(2000), np.zeros(2000)
    with pytest.raises(InputError, match="use --fd-mode directional"):
        problem.run(LayerSpec(w, b, x, LossSpec("ce", (0,)), None, None, RunOptions(), "full"))
