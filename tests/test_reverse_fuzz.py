"""Random compositions (hypothesis): trees of unary and binary operations with
broadcasting, indexing (views and gathers), reductions, matmul, concatenate, where,
reshape, cumsum, prod and setitem into np.zeros_like(x), on x of shape (3, 4).  The
reverse gradient of sum(w * tree(x)) against the dual one (forward mode).

Tolerance 1e-12 relative to max(1, max|g_d|), not the 1e-13 of the single rules: a tree
sums up to hundreds of products in a different order in each mode, and rounding in
terms that cancel can reach a few 1e-14 of the largest entry."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dualfd as dfd

from test_reverse_rules import rel_diff

SHAPE = (3, 4)
RNG = np.random.default_rng(5)
C34 = RNG.uniform(-1, 1, SHAPE)
C4 = RNG.uniform(-1, 1, 4)
C31 = RNG.uniform(-1, 1, (3, 1))
M44 = RNG.uniform(-1, 1, (4, 4))
M34 = RNG.uniform(-1, 1, (3, 4))
MASK = RNG.uniform(size=SHAPE) > 0.5
W = RNG.uniform(0.5, 1.5, SHAPE)

# smooth and bounded where the input is anything (values stay O(1): no overflow)
UNARY = {
    "sin": np.sin, "cos": np.cos, "tanh": np.tanh, "arctan": np.arctan,
    "exp-sin": lambda a: np.exp(np.sin(a)), "log1p-sq": lambda a: np.log1p(a * a),
    "sqrt-1+sq": lambda a: np.sqrt(1.0 + a * a), "neg": lambda a: -a,
    "abs-shift": lambda a: abs(a + 3.5), "square-tanh": lambda a: np.tanh(a) ** 2,
    "expit": lambda a: 1.0 / (1.0 + np.exp(-a)),
}
BINARY = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (1.5 + np.sin(b)), "hypot": lambda a, b: np.hypot(a, b + 2.0),
    "arctan2": lambda a, b: np.arctan2(a, b * b + 1.0),
    "pow": lambda a, b: (1.5 + np.sin(a)) ** np.cos(b),
    "maximum": np.maximum, "minimum": np.minimum,
}
# make b (a (3, 4) node) into another broadcasting shape
SHAPERS = {
    "full": lambda b: b,
    "sum0": lambda b: np.sum(b, axis=0, keepdims=True),
    "mean1": lambda b: np.mean(b, axis=1, keepdims=True),
    "row": lambda b: b[1],
    "col": lambda b: b[:, 2:3],
    "elem": lambda b: b[2, 1],
    "sum-all": lambda b: 0.1 * b.sum(),
    "const-row": lambda b: C4,
    "const-col": lambda b: C31,
    "const-scalar": lambda b: 0.7,
}


def _setitem(a, b):
    z = np.zeros_like(a)
    z[1:] = a[1:]
    z[0] = b[0] * 2.0
    z[:, [3, 0]] += b[:, [0, 0]]
    return z


def _setitem_fancy(a, b):
    z = np.zeros_like(a)
    z[[0, 0, 2]] = b[[1, 2, 0]]          # repeated index: the last write wins
    z[1] = a[1]
    return z


def _inplace(a, b):
    # augmented assignment through fancy indices (a copy, then setitem); through a
    # slice (a view) it is refused, see test_reverse.py::test_augmented_slice_assign
    y = a.copy()
    y[[1, 2]] *= b[:2]
    y += 1.0
    y[[0]] -= b[[2]]
    y *= a
    return y


# (3, 4) -> (3, 4) structural operations on one or two nodes
STRUCT1 = {
    "flip": lambda a: a[::-1, ::-1],
    "fancy-rows": lambda a: a[[2, 0, 1]],
    "T-reshape": lambda a: a.T.reshape(SHAPE),
    "reshape-T": lambda a: a.reshape(4, 3).T,
    "matmul-const": lambda a: a @ M44,
    "cumsum": lambda a: 0.5 * np.cumsum(a, axis=1),
    "prod0": lambda a: a * np.prod(np.tanh(a), axis=0, keepdims=True),
    "roll": lambda a: np.roll(a, 1, axis=1),
    "mask-const": lambda a: np.where(MASK, a, C34),
    "sum-bcast": lambda a: a - np.mean(a),
    # extremes of a + distinct constants: no exact ties after clip, maximum with a
    # constant, tile... (ties that the Dual resolves but reverse mode refuses are
    # tested in test_reverse.py::test_tie_with_equal_tangents)
    "sort": lambda a: np.sort(a + 0.01 * C34, axis=1),
    "max0": lambda a: a - np.max(a + 0.01 * C34, axis=0, keepdims=True),
    "min-all": lambda a: a * np.min(a + 0.01 * C34),
    "clip": lambda a: np.clip(a, -0.5, 0.8),
    "flip-reshape": lambda a: np.flip(a.reshape(2, 6), 1).reshape(SHAPE),
    "tile": lambda a: np.tile(a[:, :2], (1, 2)),
    "repeat": lambda a: np.repeat(a[:, ::2], 2, axis=1),
    "triu": np.triu,
    "take-repeated": lambda a: np.take(a, [1, 1, 0], axis=0),
    "diag": lambda a: a + np.diag(a[:, :3])[:, None],
    "swapaxes": lambda a: np.swapaxes(a.reshape(2, 2, 3), 0, 2).reshape(SHAPE),
}
STRUCT2 = {
    "matmul": lambda a, b: 0.3 * (a @ b.T) @ M34,
    "concat": lambda a, b: np.concatenate([a[:1], b[1:]], axis=0),
    "concat1": lambda a, b: np.concatenate([a[:, :2], b[:, 2:]], axis=1),
    "where": lambda a, b: np.where(MASK, a, b),
    "stack-sum": lambda a, b: np.sum(np.stack([a, b]), axis=0),
    "setitem": _setitem,
    "setitem-fancy": _setitem_fancy,
    "inplace": _inplace,
}


def trees():
    leaf = st.sampled_from(["x", "x-view", "x-gather", "x-const"])
    return st.recursive(
        leaf,
        lambda kids: st.one_of(
            st.tuples(st.just("u"), st.sampled_from(sorted(UNARY)), kids),
            st.tuples(st.just("b"), st.sampled_from(sorted(BINARY)), kids, kids,
                      st.sampled_from(sorted(SHAPERS)), st.booleans()),
            st.tuples(st.just("s1"), st.sampled_from(sorted(STRUCT1)), kids),
            st.tuples(st.just("s2"), st.sampled_from(sorted(STRUCT2)), kids, kids)),
        max_leaves=8)


def evaluate(tree, x):
    if isinstance(tree, str):
        return {"x": lambda: x, "x-view": lambda: x[:, ::-1],
                "x-gather": lambda: x[[1, 2, 0]][:, [0, 3, 1, 2]],
                "x-const": lambda: x * C34}[tree]()
    kind = tree[0]
    if kind == "u":
        return UNARY[tree[1]](evaluate(tree[2], x))
    if kind == "b":
        a, b = evaluate(tree[2], x), SHAPERS[tree[4]](evaluate(tree[3], x))
        return BINARY[tree[1]](*((b, a) if tree[5] else (a, b)))
    if kind == "s1":
        return STRUCT1[tree[1]](evaluate(tree[2], x))
    return STRUCT2[tree[1]](evaluate(tree[2], x), evaluate(tree[3], x))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=trees(), seed=st.integers(0, 2 ** 16))
def test_random_composition(tree, seed):
    x = np.random.default_rng(seed).uniform(-1.5, 1.5, SHAPE)

    def f(t):
        y = evaluate(tree, t)
        return np.sum(W * y) if np.ndim(y) else 12.0 * y

    try:
        gd = dfd.grad(f, method="dual")(x)
    except (TypeError, ValueError) as e:     # ties in sort/max: the same refusal
        with pytest.raises(type(e)):
            dfd.grad(f, method="reverse")(x)
        return
    gr = dfd.grad(f, method="reverse")(x)
    err = rel_diff(gr, gd)
    assert err <= 1e-12, (tree, err)


# --- N-d broadcasting and strided views (the C records' coalesced loops) ----------------

BROADCAST_OPS = [np.add, np.subtract, np.multiply, np.divide, np.hypot, np.arctan2,
                 np.maximum, np.logaddexp, np.power]


@st.composite
def broadcast_case(draw):
    out = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=5)))

    def operand():
        k = draw(st.integers(0, len(out)))
        return tuple(1 if draw(st.booleans()) else s for s in out[len(out) - k:])
    return out, operand(), operand(), draw(st.sampled_from(BROADCAST_OPS)), \
        draw(st.sampled_from(["plain", "transposed", "reversed"]))


@settings(max_examples=200, deadline=None)
@given(case=broadcast_case(), seed=st.integers(0, 2 ** 16))
def test_nd_broadcasting(case, seed):
    _, sa, sb, op, view = case
    na, nb = int(np.prod(sa)), int(np.prod(sb))
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.5, 1.5, np.broadcast_shapes(sa, sb))
    x = rng.uniform(0.2, 1.0, na + nb)

    def f(t):
        a, b = t[:na].reshape(sa), t[na:].reshape(sb)
        if view == "transposed":
            a = a.T.copy().T           # a non-contiguous tracer of the same shape
        elif view == "reversed" and b.ndim:
            b = b[..., ::-1]
        return np.sum(w * op(a, b + 2.0))

    err = rel_diff(dfd.grad(f, method="reverse")(x), dfd.grad(f, method="dual")(x))
    assert err <= 1e-13, (case, err)


@settings(max_examples=150, deadline=None)
@given(shape=st.lists(st.integers(1, 3), min_size=4, max_size=4),
       perm=st.permutations(range(4)),
       steps=st.lists(st.sampled_from([1, -1, 2, -2]), min_size=4, max_size=4),
       seed=st.integers(0, 2 ** 16))
def test_strided_views(shape, perm, steps, seed):
    """Transposes and negative or strided slices of a 4-d x: views whose adjoint is an
    ACC record over the view's strides, and a reshape of them (a gather)."""
    n = int(np.prod(shape))
    key = tuple(slice(None, None, s) for s in steps)

    def f(t):
        v = np.transpose(t.reshape(shape), perm)[key]
        u = v.reshape(-1)
        return np.sum(np.sin(u) * np.arange(1.0, u.size + 1)) + np.sum(v.sum(axis=1) ** 2)

    x = np.random.default_rng(seed).uniform(-1, 1, n)
    err = rel_diff(dfd.grad(f, method="reverse")(x), dfd.grad(f, method="dual")(x))
    assert err <= 1e-13, err
