"""The op registry: every operation's forward and VJP against torch autograd, at inputs
with negatives, zeros, ties and kinks, in float32 and float64; the complex-step law for
the complex forwards; and the kink finder.

Each VJP is called directly with a random upstream gradient g (not ones, which would
hide a rule that forgets g), so that deleting or changing any line of a rule fails here.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gradcli.backends import engine
from gradcli.commands.graph.parse import parse_program
from gradcli.ops import REGISTRY, kink_points, program_is_analytic

torch = pytest.importorskip("torch")

BROADCAST = [
    ((3, 4), (3, 4)),
    ((3, 4), (4,)),
    ((2, 1), (1, 3)),
    ((3,), ()),
    ((), (2, 2)),
    ((2, 3, 4), (3, 1)),
]
MATMUL = [
    ((3,), (3,)),
    ((3,), (3, 2)),
    ((2, 3), (3,)),
    ((2, 3), (3, 4)),
    ((2, 2, 3), (3, 4)),
    ((1, 2, 3), (4, 3, 2)),
    ((4,), (2, 4, 3)),
]
ALL = (None, False)
REDUCE = [
    ((3, 4), (None, False)),
    ((3, 4), (None, True)),
    ((3, 4), ((0,), False)),
    ((3, 4), ((-1,), True)),
    ((2, 3, 4), ((0, 2), False)),
    ((2, 3, 4), ((1,), True)),
    ((5,), ((0,), False)),
    ((), ((0,), False)),
]
# (op, argument shapes, params)
CASES = (
    [(name, shapes, ()) for name in ("add", "sub", "mul", "div", "pow") for shapes in BROADCAST]
    + [
        (name, (shape,), ())
        for name in ("identity", "neg", "exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu")
        for shape in ((7,), (3, 4), ())
    ]
    + [("T", (shape,), ()) for shape in ((3, 4), (5,), ())]
    + [("transpose", ((2, 3, 4),), dims) for dims in ((0, 2), (-1, 0), (1, 1))]
    + [("transpose", ((),), (0, -1))]  # a 0-d tensor: torch accepts dims 0 and -1
    + [("reshape", ((3, 4),), (shape,)) for shape in ((4, 3), (-1,), (2, -1, 2))]
    + [
        ("index", ((4, 5),), (key,))
        for key in (
            (("int", 1),),
            (("slice", 1, None, 2), ("int", -1)),
            (("slice", None, 3, None),),
        )
    ]
    + [(name, (shape,), p) for name in ("sum", "mean", "max") for shape, p in REDUCE]
    + [
        (name, (shape,), (dim,))
        for name in ("softmax", "log_softmax")
        for shape, dim in (((3, 4), 0), ((3, 4), -1), ((5,), 0), ((2, 3, 4), 1))
    ]
    + [("matmul", shapes, ()) for shapes in MATMUL]
)
# Values with zeros, negatives, ties and the kinks of relu, abs and max; pow sees 0⁰,
# 0⁻¹, (−2)^0.5 and (−1)² among them.
HOSTILE = np.array([-2.0, -1.0, -0.5, 0.0, 0.0, 0.5, 1.0, 2.0])
SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 3.0])  # where IEEE decides
TOLERANCE = {"float64": (1e-12, 1e-12), "float32": (2e-5, 2e-5)}


def draw(rng: np.random.Generator, shape: tuple[int, ...], style: str) -> np.ndarray:
    if style in ("hostile", "special"):
        return rng.choice(HOSTILE if style == "hostile" else SPECIAL, size=shape)
    return rng.normal(scale=2.0, size=shape)


def numpy_and_torch(name, args, params, g):
    op = REGISTRY[name]
    with np.errstate(all="ignore"):
        out = op.forward(args, params)
        grads = op.vjp(g.astype(out.dtype), args, out, params)
    tensors = [torch.from_numpy(a.copy()).requires_grad_(True) for a in args]
    t_out = op.torch(torch, tensors, params)
    t_grads = torch.autograd.grad(t_out, tensors, torch.from_numpy(g.astype(out.dtype).copy()))
    return out, grads, t_out.detach().numpy(), [t.numpy() for t in t_grads]


def assert_same(ours, theirs, dtype, what):
    rtol, atol = TOLERANCE[dtype]
    assert ours.shape == theirs.shape, what
    assert ours.dtype == theirs.dtype, what
    finite = np.isfinite(theirs)
    scale = float(np.abs(theirs[finite]).max()) if finite.any() else 1.0
    np.testing.assert_allclose(
        ours, theirs, rtol=rtol, atol=atol * max(scale, 1.0), equal_nan=True, err_msg=what
    )


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("style", ["hostile", "special", "normal"])
@pytest.mark.parametrize(
    ("name", "shapes", "params"), CASES, ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CASES]
)
def test_every_rule_matches_autograd(name, shapes, params, style, dtype):
    rng = np.random.default_rng(zlib.crc32(repr((name, shapes, params, style)).encode()))
    args = [draw(rng, s, style).astype(dtype) for s in shapes]
    with np.errstate(all="ignore"):
        out_shape = REGISTRY[name].forward(args, params).shape
    assert out_shape == REGISTRY[name].shape(shapes, params)
    g = rng.normal(size=out_shape)
    out, grads, t_out, t_grads = numpy_and_torch(name, args, params, g)
    assert_same(np.asarray(out), t_out, dtype, f"{name} forward")
    assert len(grads) == len(t_grads)
    for k, (ours, theirs) in enumerate(zip(grads, t_grads, strict=True)):
        assert_same(np.asarray(ours), theirs, dtype, f"{name} grad {k}")  # dtype included


def test_every_op_has_a_case():
    assert {c[0] for c in CASES} == set(REGISTRY)


# --- torch's rules at 0, at ties and at negative bases, spelled out ----------------------


def vjp(name, *args, params=()):
    arrays = [np.asarray(a, dtype=np.float64) for a in args]
    with np.errstate(all="ignore"):
        out = REGISTRY[name].forward(arrays, params)
        return REGISTRY[name].vjp(np.ones_like(out), arrays, out, params)


def test_pow_at_zero_and_negative_bases_as_torch():
    da, db = vjp("pow", [0.0, 0.0, 0.0, -2.0, -2.0, 2.0], [0.0, 2.0, -1.0, 2.0, 0.5, 0.0])
    np.testing.assert_array_equal(da, [0.0, 0.0, -np.inf, -4.0, np.nan, 0.0])
    np.testing.assert_array_equal(db, [0.0, 0.0, -np.inf, np.nan, np.nan, np.log(2.0)])
    (da,) = vjp("pow", [0.0, 2.0], 0.0)[:1]
    np.testing.assert_array_equal(da, [0.0, 0.0])  # y = a ** 0: 0, not 0·0⁻¹ = NaN


def test_elementwise_rules_at_zero_and_negatives_as_torch():
    a = [0.0, 4.0, -1.0]
    np.testing.assert_array_equal(vjp("sqrt", a)[0], [np.inf, 0.25, np.nan])
    np.testing.assert_array_equal(vjp("log", a)[0], [np.inf, 0.25, -1.0])
    np.testing.assert_array_equal(vjp("abs", a)[0], [0.0, 1.0, -1.0])
    np.testing.assert_array_equal(vjp("abs", [np.nan, -np.inf])[0], [0.0, -1.0])  # torch.sgn
    np.testing.assert_array_equal(vjp("relu", [np.nan, -0.0])[0], [1.0, 0.0])
    np.testing.assert_array_equal(vjp("relu", a)[0], [0.0, 1.0, 0.0])
    np.testing.assert_array_equal(vjp("max", [1.0, 3.0, 3.0], params=ALL)[0], [0.0, 0.5, 0.5])
    da, db = vjp("div", [0.0, 1.0, 1e-170], [0.0, 0.0, 1e-170])
    np.testing.assert_array_equal(da, [np.inf, np.inf, 1e170])
    np.testing.assert_array_equal(db, [np.nan, -np.inf, -1e170])  # (a/b)/b: no overflow


# --- the complex forwards: Im⟨g, f(x + ihv)⟩/h = ⟨vjp(g), v⟩ ----------------------------


@pytest.mark.parametrize(
    ("name", "shapes", "params"), CASES, ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CASES]
)
def test_complex_step_of_every_forward_is_its_vjp(name, shapes, params):
    rng = np.random.default_rng(zlib.crc32(repr((name, shapes, params)).encode()))
    positive = name in ("log", "sqrt", "pow")  # the real function's domain
    args = [
        rng.uniform(0.5, 2.0, size=s) if positive else rng.normal(scale=2.0, size=s) for s in shapes
    ]
    op, h = REGISTRY[name], 1e-30
    out = op.forward(args, params)
    g = rng.normal(size=out.shape)
    v = [rng.normal(size=s) for s in shapes]
    stepped = op.forward([a + 1j * h * d for a, d in zip(args, v, strict=True)], params)
    assert np.iscomplexobj(stepped)
    np.testing.assert_allclose(stepped.real, out, rtol=1e-14, atol=1e-300)
    directional = float(np.sum(g * stepped.imag)) / h
    expected = sum(
        float(np.sum(d * v_)) for d, v_ in zip(op.vjp(g, args, out, params), v, strict=True)
    )
    assert directional == pytest.approx(expected, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize(
    ("name", "a"),
    [("log", [-1.0, 2.0]), ("sqrt", [-4.0, 4.0])],
)
def test_complex_forwards_keep_the_real_domain(name, a):
    out = REGISTRY[name].forward([np.asarray(a, dtype=complex)], ())
    assert np.isnan(out[0])
    assert np.isfinite(out[1])


def test_complex_pow_of_a_negative_base():
    base = np.asarray([-2.0, -2.0, 2.0], dtype=complex)
    out = REGISTRY["pow"].forward([base, np.asarray([2.0, 0.5, 0.5], dtype=complex)], ())
    assert out[0] == pytest.approx(4.0)
    assert np.isnan(out[1])
    assert out[2] == pytest.approx(np.sqrt(2.0))


def test_complex_forwards_follow_the_real_branch_of_relu_abs_and_max():
    a = np.asarray([-1.5, 2.0, 0.0], dtype=complex) + 1e-20j
    # at 0, torch's choice of slope: 0 for both (relu(ih) = 0, not max(ih, 0) = ih)
    np.testing.assert_array_equal(REGISTRY["relu"].forward([a], ()).imag, [0.0, 1e-20, 0.0])
    np.testing.assert_array_equal(REGISTRY["abs"].forward([a], ()).imag, [-1e-20, 1e-20, 0.0])
    assert REGISTRY["max"].forward([a], ALL).imag == 1e-20


# --- the whole program: analytic or not, and where the kinks are --------------------------


@pytest.mark.parametrize(
    ("program", "analytic"),
    [
        ("y = softmax(a * 2, dim=0) @ a", True),
        ("y = sqrt(a) ** 2 / a + log(a) - tanh(a)", True),
        ("y = relu(a) + 1", False),
        ("y = a.max()", False),
        ("y = abs(a)", False),
    ],
)
def test_program_is_analytic(program, analytic):
    assert program_is_analytic(parse_program(program, ("a",))) is analytic


def test_the_complex_step_is_not_taken_at_an_infinite_slope():
    program = parse_program("y = sqrt(a) + a / a", ("a",))
    at_zero = engine.forward(program, {"a": np.array([0.0, 4.0])}, "float64")
    away = engine.forward(program, {"a": np.array([1.0, 4.0])}, "float64")
    assert program_is_analytic(program)
    assert not program_is_analytic(program, at_zero)
    assert program_is_analytic(program, away)


def test_kink_points_name_the_argument_and_the_place():
    program = parse_program(
        "b = relu(a - 1); c = sqrt(a); y = b.max() + c.sum() + abs(a).sum()", ("a",)
    )
    values = engine.forward(program, {"a": np.array([1.0, 0.0, 3.0, 3.0])}, "float64")
    found = {(k.op, k.argument_text, k.indices, k.kind) for k in kink_points(program, values)}
    assert found == {
        ("relu", "a - 1", ((0,),), "kink"),  # a − 1 = [0, −1, 2, 2]
        ("sqrt", "a", ((1,),), "infinite"),
        ("abs", "a", ((1,),), "kink"),
        ("max", "b", ((2,), (3,)), "tie"),  # b = [0, 0, 2, 2]
    }


def test_kink_points_of_pow_and_div():
    program = parse_program(
        "y = a ** 0.5 + a ** 2 + 1 / a + a ** -1 + a ** 0 + a ** 1 + a ** 1.5", ("a",)
    )
    values = engine.forward(program, {"a": np.array([0.0, 1.0])}, "float64")
    found = [(k.op, k.argument, k.indices, k.kind) for k in kink_points(program, values)]
    assert found == [
        ("pow", 0, ((0,),), "infinite"),  # a ** 0.5
        ("div", 1, ((0,),), "infinite"),  # 1 / a
        ("pow", 0, ((0,),), "infinite"),  # a ** -1; not a ** 0, a ** 1 or a ** 1.5
    ]
    assert [k.node for k in kink_points(program, values)] == [2, 7, 11]  # nodes: a, 0.5, pow, …
    assert kink_points(program, values)[1].description == "a pole where b = 0"


def test_kink_points_of_pow_with_a_broadcast_exponent():
    program = parse_program("y = a ** b", ("a", "b"))
    values = engine.forward(
        program, {"a": np.array([[0.0], [1.0]]), "b": np.array([2.0, 0.5])}, "float64"
    )
    (kink,) = kink_points(program, values)
    assert (kink.argument_text, kink.indices) == ("a", ((0, 0),))


def test_ties_of_max_are_counted_in_each_reduced_slice():
    program = parse_program("y = a.max(dim=0)", ("a",))
    a = np.array([[1.0, 3.0, 0.0], [1.0, 2.0, -1.0], [-1.0, 3.0, -2.0]])
    (kink,) = kink_points(program, engine.forward(program, {"a": a}, "float64"))
    assert kink.kind == "tie"
    assert kink.indices == ((0, 0), (0, 1), (1, 0), (2, 1))  # column 2's peak is alone
    program = parse_program("y = a.max(dim=-1)", ("a",))
    a = np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]])
    (kink,) = kink_points(program, engine.forward(program, {"a": a}, "float64"))
    assert kink.indices == ((0, 1), (0, 2))  # row 1's peak is alone


@given(st.lists(st.sampled_from([-1.0, 0.0, 0.5, 2.0]), min_size=1, max_size=6))
def test_a_kink_is_reported_exactly_where_an_argument_is_zero(values):
    program = parse_program("y = relu(a)", ("a",))
    forward = engine.forward(program, {"a": np.array(values)}, "float64")
    found = kink_points(program, forward)
    zeros = tuple((i,) for i, v in enumerate(values) if v == 0)
    assert [k.indices for k in found] == ([zeros] if zeros else [])


@pytest.mark.parametrize(
    "program",
    [
        "b = a.sum(dim=0, keepdim=True); c = a / b; y = (c @ a.T).sum()",
        "s = softmax(a * 3, dim=-1); y = (log_softmax(a, 0) * s).mean() + sigmoid(a).max()",
        "y = (sqrt(a) ** a - log(a) * tanh(a)).reshape(-1)[1:] + relu(a - 1).sum()",
    ],
)
def test_the_complex_step_of_a_whole_program_is_the_engines_gradient(program):
    parsed = parse_program(program, ("a",))
    a = np.random.default_rng(3).uniform(0.5, 2.0, size=(3, 3))
    grads, _ = engine.backward(parsed, engine.forward(parsed, {"a": a}, "float64"))
    h, stepped = 1e-30, np.empty_like(a)
    for j in np.ndindex(a.shape):
        x = a.astype(complex)
        x[j] += 1j * h
        out = engine.forward(parsed, {"a": x}, "complex128")[parsed.output]
        stepped[j] = out.sum().imag / h
    np.testing.assert_allclose(stepped, grads[parsed.variables["a"]], rtol=1e-13, atol=1e-15)


# --- the shape rule, the numpy forward and the torch twin accept the same things ------------

ARG_SHAPES = st.sampled_from([(), (0,), (1,), (3,), (2, 3), (3, 1), (1, 0, 3), (2, 3, 4)])
INTS = st.integers(-4, 3)
PARAM = {
    "int": INTS,
    "bool": st.booleans(),
    "dims": st.one_of(st.none(), st.lists(INTS, min_size=1, max_size=3).map(tuple)),
    "shape": st.lists(st.integers(-1, 4), min_size=1, max_size=4).map(tuple),
}
INDEX_KEYS = st.lists(
    st.one_of(
        INTS.map(lambda i: ("int", i)),
        st.tuples(st.none() | INTS, st.none() | INTS, st.none() | st.integers(1, 3)).map(
            lambda t: ("slice", *t)
        ),
    ),
    min_size=1,
    max_size=3,
).map(tuple)
# where gradcli refuses what torch would run
# softmax of a 0-d tensor (torch: 1), and .T of 3-D (deprecated in torch: it reverses dims)
STRICTER = {("softmax", 0), ("log_softmax", 0), ("T", 3)}


@given(st.sampled_from(sorted(REGISTRY)), st.data())
def test_the_shape_rule_accepts_exactly_what_numpy_and_torch_run(name, data):
    op = REGISTRY[name]
    shapes = [data.draw(ARG_SHAPES) for _ in range(op.tensors)]
    params = tuple(data.draw(PARAM[p.kind]) for p in op.params)
    if name == "index":
        params = (data.draw(INDEX_KEYS),)
    args = [np.ones(s) for s in shapes]
    try:
        expected = op.shape(shapes, params)
    except (ValueError, IndexError, TypeError):  # as graph_shapes.node_shapes catches
        expected = None
    tensors = [torch.ones(s, dtype=torch.float64) for s in shapes]
    try:
        t_shape = tuple(op.torch(torch, tensors, params).shape)
    except (RuntimeError, IndexError, ValueError, TypeError):
        t_shape = None
    if expected is None:
        assert t_shape is None or (name, len(shapes[0])) in STRICTER, (shapes, params, t_shape)
        return
    assert t_shape == expected, (shapes, params)
    with np.errstate(all="ignore"):
        out = op.forward(args, params)
        grads = op.vjp(np.ones(out.shape), args, out, params)
    assert out.shape == expected
    assert [g.shape for g in grads] == [tuple(s) for s in shapes]


@pytest.mark.parametrize(
    ("shapes", "message"),
    [
        (((), (3,)), "matmul needs tensors of at least 1 dim"),
        (((3,), ()), "matmul needs tensors of at least 1 dim"),
        (((2, 3), (4,)), "matmul: inner sizes differ (3 and 4)"),
        (((3,), (4, 2)), "matmul: inner sizes differ (3 and 4)"),
        (((5, 2, 3), (2, 4, 2)), "matmul: inner sizes differ (3 and 4)"),
    ],
)
def test_matmul_shape_errors_name_the_sizes(shapes, message):
    with pytest.raises(ValueError, match="matmul") as info:
        REGISTRY["matmul"].shape(shapes, ())
    assert str(info.value) == message


# --- the hand-derived formulas of backends/analytic.py on shapes the commands do not use ---


@pytest.mark.parametrize("shape", [(5,), (2, 3, 4)])
def test_analytic_softmax_vjp_on_one_row_and_on_batches_of_batches(shape):
    from gradcli.backends import analytic

    rng = np.random.default_rng(7)
    z, v = rng.normal(size=shape), rng.normal(size=shape)
    zt = torch.tensor(z, requires_grad=True)
    (expected,) = torch.autograd.grad(torch.softmax(zt, dim=-1), zt, torch.tensor(v))
    got = analytic.softmax_vjp(analytic.softmax(z), v)
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-12, atol=1e-15)
