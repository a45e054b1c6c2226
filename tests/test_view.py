"""The answer-first view at a fixed terminal width, through the real command line
(CliRunner), colourless: the issue's targets (lines at 80 columns, nothing wider than
the terminal, the culprit in the first lines) and golden output at 80 and 120 columns."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from inline_snapshot import snapshot

from gradcli.cli import cli

ROOT = Path(__file__).parent.parent
GRAPH = "b = a.sum(dim=0, keepdim=True); c = a/b; y = w@c"
SOFTMAX = ("softmax", "3", "1", "-3")
LAYER = ("layer", "--seed", "42")
GRAPH_RUN = ("graph", GRAPH, "--rand", "w=4x10", "--rand", "a=10x10", "--seed", "42")
FAILING_CHECK = (
    "check",
    "examples/ops.py:softmax",
    "--jacobian",
    "softmax_jacobian_no_cross_terms",
    "--shape",
    "5",
)


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the check's paths are relative, as a user types them


def view(*args: str, width: int = 80) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env={"COLUMNS": str(width), "NO_COLOR": "1"})
    return result.exit_code, result.stdout


@pytest.mark.parametrize(
    ("args", "status", "most"),
    # #19: the verdict and its worst entry (with max abs and max rel) open every view;
    # graph shows every variable's gradient as numbers, not only ranges
    [(SOFTMAX, 0, 16), (LAYER, 0, 30), (GRAPH_RUN, 0, 52), (FAILING_CHECK, 1, 32)],
    ids=["softmax", "layer", "graph", "check"],
)
@pytest.mark.parametrize("width", [80, 120])
def test_the_view_fits_its_line_budget_and_the_terminal(args, status, most, width):
    code, out = view(*args, width=width)
    assert code == status
    lines = out.splitlines()
    assert len(lines) <= most
    assert max(len(line) for line in lines) <= width
    assert not re.search(r"[\w.]…", out)  # no clipped number, name or status (rich's "0.0050…")


def test_a_failing_check_says_what_failed_in_its_first_five_lines():
    code, out = view(*FAILING_CHECK)
    assert code == 1
    head = " ".join(" ".join(out.splitlines()[:5]).split())  # the words, unwrapped
    assert head.startswith(
        "DISAGREE: J: torch and fd (finite differences) agree, yours differs in 60 of 75 "
        "entries, 3 of 3 trials"
    )
    assert "pattern: diagonal right, off-diagonal entries wrong" in head
    # the worst entry against the expected value, where the missing cross term is −s_i·s_j
    found = re.search(
        r"worst \(furthest beyond its allowed error\): J\[(\d),(\d)\] in trial (\d): "
        r"yours 0 vs torch (-0\.\d+)",
        head,
    )
    assert found is not None, head
    i, j, trial = (int(found.group(k)) for k in (1, 2, 3))
    x = json.loads(view(*FAILING_CHECK, "--json")[1])["inputs"]["x"][trial]
    s = [math.exp(v - max(x)) for v in x]
    s = [v / sum(s) for v in s]
    assert float(found.group(4)) == pytest.approx(-s[i] * s[j], rel=1e-5)  # 6 digits shown
    last = out.splitlines()[-3:]
    assert any(f"--trial {trial}" in line for line in last)


def test_the_rerun_line_reruns_just_the_failing_trial():
    full = json.loads(view(*FAILING_CHECK, "--json")[1])
    k = full["failing_trial"]["trial"]
    code, out = view(*FAILING_CHECK, "--trial", str(k), "--json")
    assert code == 1
    doc = json.loads(out)
    assert doc["failing_trial"]["trial"] == k
    assert {c["id"] for c in doc["comparisons"]} == {f"trial{k}.jacobian"}
    assert {(c["quantity"], c["trial"]) for c in doc["comparisons"]} == {("J", k)}
    assert doc["failing_trial"]["x"] == full["failing_trial"]["x"] == full["inputs"]["x"][k]
    assert doc["results"]["torch"][f"trial{k}"] == full["results"]["torch"][f"trial{k}"]


def test_a_vjp_failure_records_its_cotangent():
    code, out = view("check", "examples/ops.py:SquareForgotTwo", "--shape", "3", "--json")
    assert code == 1
    doc = json.loads(out)
    trial = doc["failing_trial"]
    assert trial["g"] == doc["cotangents"][trial["trial"]]
    # the forgotten 2 of d(x²) = 2x·g: yours is x·g, half of torch's
    x, g = trial["x"], trial["g"]
    yours = doc["results"]["yours"][f"trial{trial['trial']}"]["vjp"]
    assert yours == pytest.approx([a * b for a, b in zip(x, g, strict=True)], rel=1e-12)


def test_quiet_keeps_the_counts_and_the_pattern():
    code, out = view(*FAILING_CHECK, "--quiet")
    assert code == 1
    worst = json.loads(view(*FAILING_CHECK, "--json")[1])["worst"]
    assert out.startswith(
        "DISAGREE: J: torch and fd agree, yours differs in 60 of 75 entries, 3 of 3 trials; "
        "pattern: diagonal right, off-diagonal entries wrong; worst (furthest beyond its "
        f"allowed error): {worst['name']}: yours 0 vs torch "
    )
    assert out.count("\n") == 1


def test_detail_keeps_every_table():
    code, out = view(*SOFTMAX, "--detail", width=100)
    assert code == 0
    assert "Differences (the second backend is the reference)" in out
    assert out.count("0.106451") >= 3  # J[0,0] of each backend


def test_an_agreeing_result_is_shown_once():
    code, out = view(*SOFTMAX)
    assert code == 0
    assert out.count("0.106451") == 1
    assert out.count("-0.104537") == 2  # J[0,1] and J[1,0]


def test_softmax_at_80_columns():
    assert view(*SOFTMAX)[1] == snapshot("""\
OK: numpy, torch and fd (finite differences) agree on s and J within tolerance;
  every law holds
  worst (closest to its allowed error): J[1,2]: numpy -0.00025912038 vs fd
    -0.000259120379, allowed ±1.2e-11; max abs diff 1.31e-11, max rel diff
    2.71e-09
s = softmax(z / T) of 3 logits, T = 1, float64
                       J: Jacobian ∂s_i/∂z_j: J_ij = s_i(δ_ij − s_j)   (3×3)
i  z_i         s_i  │  i\\j            0            1            2
0    3    0.878878  │    0     0.106451    -0.104537  -0.00191466
1    1    0.118943  │    1    -0.104537     0.104796  -0.00025912
2   -3  0.00217852  │    2  -0.00191466  -0.00025912   0.00217378
  references: fd: J by central differences over 3 inputs, error ≤ 2.6e-10
  laws hold on numpy, torch and fd: s sums to 1; rows of J sum to 0; J symmetric
  more: --detail · --heatmap · --plot FILE.png · --explain 'J[0,1]'
""")


def test_softmax_at_120_columns():
    assert view(*SOFTMAX, width=120)[1] == snapshot("""\
OK: numpy, torch and fd (finite differences) agree on s and J within tolerance; every law holds
  worst (closest to its allowed error): J[1,2]: numpy -0.00025912038 vs fd -0.000259120379, allowed ±1.2e-11; max abs
    diff 1.31e-11, max rel diff 2.71e-09
s = softmax(z / T) of 3 logits, T = 1, float64
                       J: Jacobian ∂s_i/∂z_j: J_ij = s_i(δ_ij − s_j)   (3×3)
i  z_i         s_i  │  i\\j            0            1            2
0    3    0.878878  │    0     0.106451    -0.104537  -0.00191466
1    1    0.118943  │    1    -0.104537     0.104796  -0.00025912
2   -3  0.00217852  │    2  -0.00191466  -0.00025912   0.00217378
  references: fd: J by central differences over 3 inputs, error ≤ 2.6e-10
  laws hold on numpy, torch and fd: s sums to 1; rows of J sum to 0; J symmetric
  more: --detail · --heatmap · --plot FILE.png · --explain 'J[0,1]'
""")


def test_layer_at_80_columns():
    assert view(*LAYER)[1] == snapshot("""\
OK: numpy, torch and fd (finite differences) agree on z, s, loss, dL_ds, dL_dz,
  dW, db and dx within tolerance; every law holds
  worst (closest to its allowed error): dx[1]: numpy 0.141946064875 vs fd
    0.141946064925, allowed ±6.7e-10; max abs diff 4.99e-11, max rel diff
    6.46e-10
layer z = W·x + b, s = softmax(z), L = cross-entropy to class 0
3 → 3, seed 42, float64
W i\\j          0           1          2         b_i
    0   0.316337  -0.0705771   0.414073  -0.0572894
    1   0.227901   -0.468604   0.549201    -0.14919
    2   0.301538    0.330319  -0.429417    0.492786
  x_j  0.0660307     1.12724   0.467509
loss: L = 1.23869
                                   0          1          2
z = W·x + b                0.0776243  -0.405614   0.684289
s = softmax(z)              0.289764   0.178721   0.531515
dL_ds: ∂L/∂s                -3.45109          0          0
dL_dz: ∂L/∂z = Jᵀ·∂L/∂s    -0.710236   0.178721   0.531515
db: ∂L/∂b = Σ_rows ∂L/∂z   -0.710236   0.178721   0.531515
dx: ∂L/∂x = ∂L/∂z·W       -0.0236714   0.141946  -0.424177
dW: ∂L/∂W = (∂L/∂z)ᵀ·x   (3×3)
i\\j           0          1          2
  0  -0.0468974  -0.800607  -0.332042
  1   0.0118011   0.201462  0.0835539
  2   0.0350963   0.599145   0.248488
  references: fd: dL_ds, dL_dz, dW, db and dx by central differences over 21
    inputs in all, error ≤ 3.2e-09
  laws hold on numpy, torch and fd: s sums to 1; ∂L/∂z sums to 0; fused s −
    onehot(t) = Jᵀ·∂L/∂s; db = Σ_rows ∂L/∂z; dW = (∂L/∂z)ᵀ·x; dx = ∂L/∂z·W
  more: --detail · --heatmap · --plot FILE.png · --explain 'dW[0,0]'
""")


def test_layer_at_120_columns():
    assert view(*LAYER, width=120)[1] == snapshot("""\
OK: numpy, torch and fd (finite differences) agree on z, s, loss, dL_ds, dL_dz, dW, db and dx within tolerance; every
  law holds
  worst (closest to its allowed error): dx[1]: numpy 0.141946064875 vs fd 0.141946064925, allowed ±6.7e-10; max abs diff
    4.99e-11, max rel diff 6.46e-10
layer z = W·x + b, s = softmax(z), L = cross-entropy to class 0
3 → 3, seed 42, float64
W i\\j          0           1          2         b_i
    0   0.316337  -0.0705771   0.414073  -0.0572894
    1   0.227901   -0.468604   0.549201    -0.14919
    2   0.301538    0.330319  -0.429417    0.492786
  x_j  0.0660307     1.12724   0.467509
loss: L = 1.23869
                                   0          1          2
z = W·x + b                0.0776243  -0.405614   0.684289
s = softmax(z)              0.289764   0.178721   0.531515
dL_ds: ∂L/∂s                -3.45109          0          0
dL_dz: ∂L/∂z = Jᵀ·∂L/∂s    -0.710236   0.178721   0.531515
db: ∂L/∂b = Σ_rows ∂L/∂z   -0.710236   0.178721   0.531515
dx: ∂L/∂x = ∂L/∂z·W       -0.0236714   0.141946  -0.424177
dW: ∂L/∂W = (∂L/∂z)ᵀ·x   (3×3)
i\\j           0          1          2
  0  -0.0468974  -0.800607  -0.332042
  1   0.0118011   0.201462  0.0835539
  2   0.0350963   0.599145   0.248488
  references: fd: dL_ds, dL_dz, dW, db and dx by central differences over 21 inputs in all, error ≤ 3.2e-09
  laws hold on numpy, torch and fd: s sums to 1; ∂L/∂z sums to 0; fused s − onehot(t) = Jᵀ·∂L/∂s; db = Σ_rows ∂L/∂z; dW
    = (∂L/∂z)ᵀ·x; dx = ∂L/∂z·W
  more: --detail · --heatmap · --plot FILE.png · --explain 'dW[0,0]'
""")


def test_graph_at_80_columns():
    assert view(*GRAPH_RUN)[1] == snapshot("""\
OK: numpy, torch and fd (finite differences) agree on all 10 quantities within
  tolerance
  worst (closest to its allowed error): w.grad[1,6]: numpy 0.625877928 vs fd
    0.62587793, allowed ±1.4e-08; max abs diff 2.07e-09, max rel diff 3.31e-09
graph of 3 statements, loss = sum(y), float64
inputs w, a: torch.rand after torch.manual_seed(42), drawn in float32; computed
  in float64 (--dtype float32 prints what your PyTorch script prints)
w.grad: ∂L/∂w   (4×10)
i\\j        0        1         2       3        4       5         6  …         9
  0  1.37439  1.19099  0.945761  1.2483  1.02721  0.9939  0.625878  …  0.967572
  1  1.37439  1.19099  0.945761  1.2483  1.02721  0.9939  0.625878  …  0.967572
  2  1.37439  1.19099  0.945761  1.2483  1.02721  0.9939  0.625878  …  0.967572
  3  1.37439  1.19099  0.945761  1.2483  1.02721  0.9939  0.625878  …  0.967572
a.grad: ∂L/∂a   (10×10)
i\\j           0           1           2           3           4  …           9
  0    0.135375    0.195664    0.117008    0.201676    0.209302  …    0.244314
  1  -0.0450657  -0.0444979  -0.0620793  -0.0191028  -0.0299273  …  -0.0626335
  2   0.0279754   0.0527175   0.0104137   0.0702668   0.0669108  …   0.0616164
  3    0.118248    0.172868    0.100009     0.18072    0.186595  …    0.215179
  …           …           …           …           …           …  …           …
  9   -0.208273   -0.261722   -0.224062   -0.218795   -0.246308  …   -0.340264
b.grad: ∂L/∂b   (1×10)
i\\j          0         1         2          3          4  …          9
  0  -0.405865  -0.52471  -0.42017  -0.460559  -0.508276  …  -0.676387
c.grad: ∂L/∂c   (10×10)
i\\j        0        1        2        3        4        5        6  …        9
  0  3.03805  3.03805  3.03805  3.03805  3.03805  3.03805  3.03805  …  3.03805
  1  2.02521  2.02521  2.02521  2.02521  2.02521  2.02521  2.02521  …  2.02521
  2   2.4352   2.4352   2.4352   2.4352   2.4352   2.4352   2.4352  …   2.4352
  3  2.94192  2.94192  2.94192  2.94192  2.94192  2.94192  2.94192  …  2.94192
  …        …        …        …        …        …        …        …  …        …
  9  1.10911  1.10911  1.10911  1.10911  1.10911  1.10911  1.10911  …  1.10911
y.grad: ∂L/∂y   (4×10)
i\\j  0  1  2  3  4  5  6  7  8  9
  0  1  1  1  1  1  1  1  1  1  1
  1  1  1  1  1  1  1  1  1  1  1
  2  1  1  1  1  1  1  1  1  1  1
  3  1  1  1  1  1  1  1  1  1  1
variable  shape  value [min, max]         ∂L/∂· [min, max]
w         4×10   [0.00616044, 0.959306]   [0.625878, 1.37439]
a         10×10  [0.00291967, 0.999804]   [-0.496236, 0.291191]
b         1×10   [2.82272, 5.65558]       [-0.889158, -0.405865]
c         10×10  [0.000898922, 0.277436]  [1.10911, 3.03805]
y         4×10   [0.264973, 0.768379]     1
program: b = a.sum(dim=0, keepdim=True); c = a / b; y = w @ c
a.grad sums its 2 uses: a.grad[0,0] = -0.405865 (via b = a.sum(dim=0,
    keepdim=True)) + 0.54124 (via c = a / b) = 0.135375
  references: fd: w.grad and a.grad by central differences over 140 inputs in
    all, error ≤ 6.6e-09
  more: --detail · --heatmap · --plot FILE.png · --explain w.grad
""")


def test_graph_at_120_columns():
    assert view(*GRAPH_RUN, width=120)[1] == snapshot("""\
OK: numpy, torch and fd (finite differences) agree on all 10 quantities within tolerance
  worst (closest to its allowed error): w.grad[1,6]: numpy 0.625877928 vs fd 0.62587793, allowed ±1.4e-08; max abs diff
    2.07e-09, max rel diff 3.31e-09
graph of 3 statements, loss = sum(y), float64
inputs w, a: torch.rand after torch.manual_seed(42), drawn in float32; computed in float64 (--dtype float32 prints what
  your PyTorch script prints)
w.grad: ∂L/∂w   (4×10)
i\\j        0        1         2       3        4       5         6         7       8         9
  0  1.37439  1.19099  0.945761  1.2483  1.02721  0.9939  0.625878  0.836906  0.7891  0.967572
  1  1.37439  1.19099  0.945761  1.2483  1.02721  0.9939  0.625878  0.836906  0.7891  0.967572
  2  1.37439  1.19099  0.945761  1.2483  1.02721  0.9939  0.625878  0.836906  0.7891  0.967572
  3  1.37439  1.19099  0.945761  1.2483  1.02721  0.9939  0.625878  0.836906  0.7891  0.967572
a.grad: ∂L/∂a   (10×10)
i\\j           0           1           2           3           4           5           6           7  …           9
  0    0.135375    0.195664    0.117008    0.201676    0.209302    0.291191    0.143198    0.187127  …    0.244314
  1  -0.0450657  -0.0444979  -0.0620793  -0.0191028  -0.0299273  -0.0338275  -0.0465874    -0.17169  …  -0.0626335
  2   0.0279754   0.0527175   0.0104137   0.0702668   0.0669108   0.0977375   0.0302362  -0.0264435  …   0.0616164
  3    0.118248    0.172868    0.100009     0.18072    0.186595    0.260341    0.125184    0.153069  …    0.215179
  …           …           …           …           …           …           …           …           …  …           …
  9   -0.208273   -0.261722   -0.224062   -0.218795   -0.246308   -0.327804   -0.218246   -0.496236  …   -0.340264
b.grad: ∂L/∂b   (1×10)
i\\j          0         1         2          3          4          5         6          7          8          9
  0  -0.405865  -0.52471  -0.42017  -0.460559  -0.508276  -0.683715  -0.42607  -0.889158  -0.451921  -0.676387
c.grad: ∂L/∂c   (10×10)
i\\j        0        1        2        3        4        5        6        7        8        9
  0  3.03805  3.03805  3.03805  3.03805  3.03805  3.03805  3.03805  3.03805  3.03805  3.03805
  1  2.02521  2.02521  2.02521  2.02521  2.02521  2.02521  2.02521  2.02521  2.02521  2.02521
  2   2.4352   2.4352   2.4352   2.4352   2.4352   2.4352   2.4352   2.4352   2.4352   2.4352
  3  2.94192  2.94192  2.94192  2.94192  2.94192  2.94192  2.94192  2.94192  2.94192  2.94192
  …        …        …        …        …        …        …        …        …        …        …
  9  1.10911  1.10911  1.10911  1.10911  1.10911  1.10911  1.10911  1.10911  1.10911  1.10911
y.grad: ∂L/∂y   (4×10)
i\\j  0  1  2  3  4  5  6  7  8  9
  0  1  1  1  1  1  1  1  1  1  1
  1  1  1  1  1  1  1  1  1  1  1
  2  1  1  1  1  1  1  1  1  1  1
  3  1  1  1  1  1  1  1  1  1  1
variable  shape  value [min, max]         ∂L/∂· [min, max]        defined as
w         4×10   [0.00616044, 0.959306]   [0.625878, 1.37439]     input
a         10×10  [0.00291967, 0.999804]   [-0.496236, 0.291191]   input
b         1×10   [2.82272, 5.65558]       [-0.889158, -0.405865]  a.sum(dim=0, keepdim=True)
c         10×10  [0.000898922, 0.277436]  [1.10911, 3.03805]      a / b
y         4×10   [0.264973, 0.768379]     1                       w @ c
a.grad sums its 2 uses: a.grad[0,0] = -0.405865 (via b = a.sum(dim=0, keepdim=True)) + 0.54124 (via c = a / b) =
    0.135375
  references: fd: w.grad and a.grad by central differences over 140 inputs in all, error ≤ 6.6e-09
  more: --detail · --heatmap · --plot FILE.png · --explain w.grad
""")


def test_failing_check_at_80_columns():
    assert view(*FAILING_CHECK)[1] == snapshot("""\
DISAGREE: J: torch and fd (finite differences) agree, yours differs in 60 of 75
    entries, 3 of 3 trials
  pattern: diagonal right, off-diagonal entries wrong
  worst (furthest beyond its allowed error): J[3,1] in trial 2: yours 0 vs torch
    -0.109347, allowed ±6e-16; max abs diff 0.109, max rel diff 1
check softmax_jacobian_no_cross_terms (jacobian) of examples/ops.py:softmax: 3
  trials, x of shape (5,), float64
x (trial 2) = [-0.623274, 0.041326, -2.32503, -0.218792, -1.24591]
J in trial 2: yours, expected (torch)
yours i\\j            0           1            2           3            4
        0     0.156215           0            0           0            0
        1            0    0.234774            0           0            0
        2            0           0    0.0340854           0            0
        3            0           0            0    0.206046            0
        4            0           0            0           0    0.0931487
torch i\\j            0           1            2           3            4
        0     0.156215  -0.0729697  -0.00684615  -0.0562568    -0.020142
        1   -0.0729697    0.234774    -0.013307   -0.109347   -0.0391503
        2  -0.00684615   -0.013307    0.0340854  -0.0102591  -0.00367315
        3   -0.0562568   -0.109347   -0.0102591    0.206046   -0.0301833
        4    -0.020142  -0.0391503  -0.00367315  -0.0301833    0.0931487
yours − expected  (· within tolerance)
      i\\j            0           1            2           3            4
        0            ·       0.073      0.00685      0.0563       0.0201
        1        0.073           ·       0.0133       0.109       0.0392
        2      0.00685      0.0133            ·      0.0103      0.00367
        3       0.0563       0.109       0.0103           ·       0.0302
        4       0.0201      0.0392      0.00367      0.0302            ·
rerun this trial:
    gradcli check examples/ops.py:softmax --jacobian \\
    softmax_jacobian_no_cross_terms --shape 5 --trial 2
more: --detail (every backend, pair and tolerance) · --plot FILE.png
""")


def test_failing_check_at_120_columns():
    assert view(*FAILING_CHECK, width=120)[1] == snapshot("""\
DISAGREE: J: torch and fd (finite differences) agree, yours differs in 60 of 75 entries, 3 of 3 trials
  pattern: diagonal right, off-diagonal entries wrong
  worst (furthest beyond its allowed error): J[3,1] in trial 2: yours 0 vs torch -0.109347, allowed ±6e-16; max abs diff
    0.109, max rel diff 1
check softmax_jacobian_no_cross_terms (jacobian) of examples/ops.py:softmax: 3 trials, x of shape (5,), float64
x (trial 2) = [-0.623274, 0.041326, -2.32503, -0.218792, -1.24591]
J in trial 2: yours, expected (torch)
yours i\\j            0           1            2           3            4
        0     0.156215           0            0           0            0
        1            0    0.234774            0           0            0
        2            0           0    0.0340854           0            0
        3            0           0            0    0.206046            0
        4            0           0            0           0    0.0931487
torch i\\j            0           1            2           3            4
        0     0.156215  -0.0729697  -0.00684615  -0.0562568    -0.020142
        1   -0.0729697    0.234774    -0.013307   -0.109347   -0.0391503
        2  -0.00684615   -0.013307    0.0340854  -0.0102591  -0.00367315
        3   -0.0562568   -0.109347   -0.0102591    0.206046   -0.0301833
        4    -0.020142  -0.0391503  -0.00367315  -0.0301833    0.0931487
yours − expected  (· within tolerance)
      i\\j            0           1            2           3            4
        0            ·       0.073      0.00685      0.0563       0.0201
        1        0.073           ·       0.0133       0.109       0.0392
        2      0.00685      0.0133            ·      0.0103      0.00367
        3       0.0563       0.109       0.0103           ·       0.0302
        4       0.0201      0.0392      0.00367      0.0302            ·
rerun this trial: gradcli check examples/ops.py:softmax --jacobian softmax_jacobian_no_cross_terms --shape 5 --trial 2
more: --detail (every backend, pair and tolerance) · --plot FILE.png
""")


def test_did_you_mean_a_command():
    result = CliRunner().invoke(cli, ["sofmax", "1", "2"])
    assert result.exit_code == 2
    assert "No such command 'sofmax'. Did you mean 'softmax'?" in result.stderr


def test_did_you_mean_a_name_in_the_target_file():
    code = CliRunner().invoke(
        cli, ["check", "examples/ops.py:sofmax", "--jacobian", "softmax_jacobian", "--shape", "3"]
    )
    assert code.exit_code == 2
    assert "has no 'sofmax'; did you mean 'softmax'? (it has: softmax, softmax_jacobian," in (
        code.stderr
    )


@pytest.mark.parametrize(("habit", "torch"), [("axis", "dim"), ("keepdims", "keepdim")])
def test_numpy_habits_in_a_graph_program_are_named(habit, torch):
    result = CliRunner().invoke(cli, ["graph", f"y = a.sum({habit}=0)", "--var", "a=[1, 2]"])
    assert result.exit_code == 2
    assert f"has no argument '{habit}'; did you mean {torch}=?" in result.stderr


def test_check_help_and_readme_agree_on_the_backend_default():
    text = CliRunner().invoke(cli, ["check", "--help"], env={"COLUMNS": "200"}).stdout
    assert "[default: torch,fd]" in text
    assert "`--backend torch,fd` (the default)" in (ROOT / "docs/commands/check.md").read_text()


def test_graph_says_where_its_inputs_came_from_and_in_which_dtype():
    out = " ".join(view(*GRAPH_RUN)[1].split())  # as one line of words
    assert "inputs w, a: torch.rand after torch.manual_seed(42), drawn in float32; computed" in out
    assert "(--dtype float32 prints what your PyTorch script prints)" in out
    out32 = " ".join(view(*GRAPH_RUN, "--dtype", "float32")[1].split())
    assert "computed in float32" in out32
    assert "--dtype float32 prints" not in out32


def test_a_wide_failing_matrix_keeps_its_worst_entry_in_view():
    from gradcli.render.grid import Column, fit_columns, rows_shown

    assert rows_shown(10, 6, focus=5) == [0, 1, None, 5, None, 9]
    assert rows_shown(10, 6, focus=8) == [0, 1, 2, None, 8, 9]
    assert rows_shown(10, 6, focus=2) == [0, 1, 2, 3, None, 9]
    columns = [Column(str(j), ["-0.000889145"]) for j in range(10)]
    shown = [c.header for c in fit_columns([Column("i", ["0"])], columns, 60, focus=6)]
    assert "6" in shown
    assert shown[0] == "i"
    assert shown[-1] == "9"
    assert sum(len(c) for c in shown) + 2 * (len(shown) - 1) <= 60


def test_equal_looking_worst_values_get_the_digits_that_tell_them_apart(tmp_path):
    # a derivative off by 1e-8 relative: equal in the 6 digits a table shows
    module = tmp_path / "near.py"
    module.write_text(
        "import numpy as np\n"
        "def f(x):\n    return np.sin(x)\n"
        "def df(x):\n    return np.cos(x) * (1 + 1e-8)\n"
    )
    code, out = view("check", f"{module}:f", "--grad", "df", "--shape", "6", width=120)
    assert code == 1
    worst = out.splitlines()[2]
    assert worst.lstrip().startswith("worst (furthest beyond its allowed error):")
    words = worst.split()
    numbers = [
        words[words.index("yours") + 1].rstrip(","),
        words[words.index("fd") + 1].rstrip(","),
    ]
    assert numbers[0] != numbers[1]  # not "yours 0.945901, fd 0.945901"
    assert float(numbers[0]) / float(numbers[1]) == pytest.approx(1 + 1e-8, rel=1e-8)


def _readme_block(after: str) -> str:
    """The ``` block that follows `after` in the README or a page of docs/, unindented."""
    text = "\n".join(
        p.read_text() for p in [ROOT / "README.md", *sorted(ROOT.glob("docs/**/*.md"))]
    )
    start = text.index("```\n", text.index(after)) + 4
    block = text[start : text.index("```", start)]
    indent = len(block) - len(block.lstrip(" "))
    return "".join(line[indent:] + "\n" for line in block.rstrip(" ").splitlines())


def test_the_readme_shows_the_view_as_it_is():
    """The README's two pictures of the view are the real output at 80 columns."""
    assert _readme_block("what more there is to see. At `COLUMNS=80`:") == view(*SOFTMAX)[1]
    check = (*FAILING_CHECK, "--trials", "1")
    assert _readme_block("the command that reruns just the worst:") == view(*check)[1]


def test_a_batch_shows_its_matrices_side_by_side_while_they_fit():
    code, out = view("layer", "--batch", "2", "--seed", "1")
    assert code == 0
    lines = out.splitlines()
    assert len(lines) <= 38  # 49 with one matrix under the other
    assert max(len(line) for line in lines) <= 80
    assert all(line == line.rstrip() for line in lines)
    pairs = [line.split("│") for line in lines if "(2×3)" in line or "(3×3)" in line]
    assert [[p.split("   (")[0].strip() for p in pair] for pair in pairs] == [
        ["z = W·x + b", "s = softmax(z)"],
        ["dL_ds: ∂L/∂s", "dL_dz: ∂L/∂z = Jᵀ·∂L/∂s"],  # the one name, then what it is
        ["dW: ∂L/∂W = (∂L/∂z)ᵀ·x", "dx: ∂L/∂x = ∂L/∂z·W"],
    ]


def test_a_passing_check_of_matrices_shows_the_first_trial_and_says_so():
    args = ("check", "examples/linear.py:MyLinear", "--shape", "x=8x16", "--shape", "W=16x4")
    code, out = view(*args)
    assert code == 0
    assert "the results of trial 0 (trials 1, 2 with --detail)" in out
    assert "vjp.x in trial 0   (8×16)" in out
    assert "trial1.vjp" not in out.split("OK:")[0]  # the verdict names every trial
    assert "fd: vjp.x and vjp.W in each of 3 trials by central differences" in " ".join(out.split())
    assert len(out.splitlines()) == 28  # fd refines every column: its line wraps once more


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (("examples/ops.py:softmax", "--jacobian", "softmax_jacobian", "--shape", "5"), "J[0,0]"),
        # several inputs: the hint names the input (vjp[0] was refused, #19)
        (("examples/second.py:Cube", "--shape", "5", "--order", "2"), "vjp.x[0]"),
    ],
)
def test_checks_explain_hint_runs_as_typed(args, hint):
    code, out = view("check", *args, "--trials", "1")
    assert code == 0
    assert out.splitlines()[-1].endswith(f"--explain '{hint}'")
    code, explained = view("check", *args, "--trials", "1", "--explain", hint)
    assert code == 0
    assert f"{hint}, trial by trial" in explained


@pytest.mark.parametrize(
    ("program", "values", "value_range", "grad_range"),
    [
        ("y = log(a)", "[0, 1]", "[-inf, 0]", "[1, inf]"),
        ("y = sqrt(a) * 0", "[-1, 1, 4]", "0, 1 NaN", "0, 1 NaN"),
    ],
)
def test_a_result_that_is_not_finite_is_said_so_first_and_in_its_range(
    program, values, value_range, grad_range
):
    """Every backend gives the same -inf or NaN: the first line says "not finite" (as the
    verdict does), not "numpy and torch disagree ... -inf vs -inf"; the ranges keep ±inf
    and count NaN rather than leaving them out."""
    code, out = view("graph", program, "--var", f"a={values}")
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("NOT FINITE: y: 1 element not finite on numpy, torch and fd")
    assert sum("not finite" in line for line in lines) == 2  # y, then a.grad: each once
    assert "disagree in" not in out
    y_row = next(line for line in lines if line.startswith("y "))
    a_row = next(line for line in lines if line.startswith("a ") and "input" in line)
    assert value_range in y_row
    assert grad_range in a_row
