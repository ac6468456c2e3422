"""Sparsity detection by tracing index sets (dualfd._tracer).

References, never dualfd's own pattern: the dense forward-mode Jacobian (non-zeros
must lie in the pattern), analytic Jacobians and Hessians of the test problems (the
pattern must equal their structure), and the Dual's registry (everything the Dual
supports must be supported or refused with a reason).
"""

import warnings
import zlib

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st, HealthCheck

import dualfd as dfd
from dualfd._dual import RULES
from dualfd._dual._core import _registry
from dualfd import _tracer as T
from dualfd._tracer import (TracingError, hessian_sparsity, jacobian_sparsity,
                            trace_hessian, trace_jacobian)

import problems as P
from test_dual_coverage import ENTRIES, _flat_function, _inputs


def _dense(indptr, indices, shape):
    out = np.zeros(shape, bool)
    for i in range(shape[0]):
        out[i, indices[indptr[i]:indptr[i + 1]]] = True
    return out


def _pattern(f, x, *args):
    fshape, indptr, indices = trace_jacobian(f, np.shape(x), args, {})
    m = int(np.prod(fshape))
    assert indptr.dtype == np.int64 and indices.dtype == np.int64
    assert indptr.shape == (m + 1,)
    for i in range(m):       # sorted and unique per row
        row = indices[indptr[i]:indptr[i + 1]]
        assert np.all(np.diff(row) > 0)
    return _dense(indptr, indices, (m, np.size(x)))


def _dual_jacobian(f, x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(dfd.jacobian(f, method="dual")(x)).reshape(-1, np.size(x))


# --- never misses a non-zero: the coverage list -----------------------------------------

# Entries the tracer refuses by design, with the reason the error must name.
REFUSED = {
    "index.int64-cast": "dtype=int64",                 # a traced integer as an index
    "argsort": "argsort returns positions",
    "argmax": "argmax returns positions",
    "argmin": "argmin returns positions",
    "nonzero": "nonzero returns positions",
    "flatnonzero": "flatnonzero returns positions",
    "argwhere": "argwhere returns positions",
    "argpartition": "argpartition returns positions",
    # SciPy converts x to an object array and takes its max by comparing elements
    # (a branch on values): the tracer cannot follow it.
    "special.logsumexp": "branches on a traced value",
    "special.logsumexp-axis1-keepdims": "branches on a traced value",
    "special.softmax": "branches on a traced value",
}


@pytest.mark.parametrize("eid", [e for e in ENTRIES if e not in REFUSED])
def test_coverage_entry_pattern_contains_jacobian(eid):
    f = _flat_function(eid)
    x0 = np.concatenate([np.ravel(a) for a in _inputs(eid)])
    pattern = _pattern(f, x0)
    rng = np.random.default_rng(zlib.crc32(eid.encode()))
    # the coverage inputs, and the same inputs rescaled (same domains: 'pos', 'unit',
    # 'spd' stay valid under a factor in [0.9, 1.1])
    for x in (x0, x0 * rng.uniform(0.9, 1.1, x0.shape)):
        J = _dual_jacobian(f, x)
        assert J.shape == pattern.shape
        missed = np.argwhere((J != 0) & ~pattern)
        assert missed.size == 0, f"{eid}: pattern misses J entries {missed[:5].tolist()}"


@pytest.mark.parametrize("eid", sorted(REFUSED))
def test_coverage_entry_refused_with_reason(eid):
    f = _flat_function(eid)
    x0 = np.concatenate([np.ravel(a) for a in _inputs(eid)])
    with pytest.raises(TypeError, match=REFUSED[eid]) as info:
        trace_jacobian(f, x0.shape, (), {})
    assert "sparsity=" in str(info.value) and "np.where" in str(info.value)


# --- coverage parity with the Dual's registry -------------------------------------------

def test_every_registry_entry_supported_or_refused():
    functions, ufuncs, ufunc_methods, methods = _registry()
    missing = [T._fname(f) for f in functions
               if f not in T._FUNCS and f not in T._REFUSED]
    assert not missing, f"neither supported nor refused: {missing}"
    rules = T._rules()
    for u, entry in ufuncs.items():
        if entry[0] in (1, 2, 5):
            assert T._rule_name(entry, u) in rules, u.__name__
        else:
            assert entry[0] in (3, 4, 6), (u.__name__, entry)
    for u, method in ufunc_methods:
        assert (method == "reduce" and u.__name__ in T._REDUCE_METHODS) or (
            method == "accumulate" and u.__name__ == "add"), (u.__name__, method)
    unknown = set(methods) - set(T._methods()) - set(dir(T.Tracer))
    assert not unknown, unknown


def test_every_rule_partial_classified():
    # every partial of rules.def parses: zero ones are exactly the piecewise-constant
    # rules, constant ones the linear rules
    rules = T._rules()
    assert {r[0] for r in RULES} == set(rules)
    zero = {name for name, parts in rules.items() if all(z for z, _ in parts)}
    assert zero == {"sign", "floor", "ceil", "trunc", "rint", "floor_divide"}
    linear = {name for name, parts in rules.items()
              if all(not dep for _, dep in parts)} - zero
    assert linear == {"negative", "positive", "deg2rad", "rad2deg", "radians", "degrees",
                      "conjugate", "add", "subtract"}
    assert rules["multiply"] == ((False, {"b"}), (False, {"a"}))


# --- exactness where the structure is known ---------------------------------------------

def _structure(J):
    return np.asarray(J) != 0


@pytest.mark.parametrize("problem", [
    P.broyden_tridiagonal(12), P.broyden_banded(12), P.extended_rosenbrock(10),
    P.extended_powell_singular(12), P.discrete_boundary_value(11), P.trigonometric(7),
], ids=lambda p: p.name)
def test_problem_patterns_exact(problem):
    rng = np.random.default_rng(3)
    x = rng.uniform(0.5, 1.5, problem.n)     # no accidental zeros in J
    assert np.array_equal(_pattern(problem.residual, x), _structure(problem.jacobian(x)))


def _bratu(u, lam=1.0):
    """2-D Bratu residual on a k x k grid, zero Dirichlet boundary: the 5-point
    Laplacian plus lam exp(u)."""
    k = u.shape[0]
    p = np.pad(u, 1)
    lap = (4.0 * u - p[:-2, 1:-1] - p[2:, 1:-1] - p[1:-1, :-2] - p[1:-1, 2:]) \
        * (k + 1) ** 2
    return lap - lam * np.exp(u)


def _laplacian_structure(k):
    n = k * k
    S = np.eye(n, dtype=bool)
    for i in range(k):
        for j in range(k):
            r = i * k + j
            for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                if 0 <= i + di < k and 0 <= j + dj < k:
                    S[r, (i + di) * k + j + dj] = True
    return S


def test_bratu_2d_exact():
    k = 6
    assert np.array_equal(_pattern(_bratu, np.zeros((k, k))), _laplacian_structure(k))


def test_banded_constant_matrix_gives_banded_pattern():
    n = 9
    A = (np.diag(np.full(n, 2.0)) + np.diag(np.ones(n - 1), 1)
         + np.diag(np.ones(n - 2), -2))
    expect = A != 0
    assert np.array_equal(_pattern(lambda x: A @ x, np.zeros(n)), expect)
    assert np.array_equal(_pattern(lambda x: np.dot(A, np.sin(x)), np.zeros(n)), expect)
    assert np.array_equal(_pattern(lambda x: x @ A.T, np.zeros(n)), expect)


def test_zero_derivative_rules_drop_dependence():
    f = lambda x: np.concatenate([np.floor(x), np.sign(x) * 2.0, x // 3.0])
    assert not _pattern(f, np.zeros(4)).any()
    # heaviside: 0 in its first argument, not in its second
    g = lambda x: np.heaviside(x[:2], x[2:])
    assert np.array_equal(_pattern(g, np.zeros(4)),
                          np.array([[0, 0, 1, 0], [0, 0, 0, 1]], bool))


def test_value_dependent_selection_is_union_of_branches():
    f = lambda x: np.where(x[:3] > 0, x[:3], 2.0 * x[3:])
    expect = np.hstack([np.eye(3), np.eye(3)]).astype(bool)
    assert np.array_equal(_pattern(f, np.zeros(6)), expect)
    # a constant condition selects exactly
    mask = np.array([True, False, True])
    g = lambda x: np.where(mask, x[:3], x[3:])
    assert np.array_equal(_pattern(g, np.zeros(6)),
                          np.array([[1, 0, 0, 0, 0, 0], [0, 0, 0, 0, 1, 0],
                                    [0, 0, 1, 0, 0, 0]], bool))


def test_traced_condition_broadcasts_and_scalar_prepend():
    f = lambda x: np.where(x[:2, None] > 0, x[2:], 0.0).ravel()
    expect = np.array([[0, 0, 1, 0], [0, 0, 0, 1]] * 2, bool)
    assert np.array_equal(_pattern(f, np.zeros(4)), expect)
    g = lambda x: np.diff(x, prepend=0.0, append=x[0])
    expect = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 1], [1, 0, 1]], bool)
    assert np.array_equal(_pattern(g, np.zeros(3)), expect)


def test_writes_follow_views_and_copies():
    def f(x):
        y = np.zeros_like(x)
        v = y[1:3]                 # a view: writes reach y
        v[...] = x[:2] * x[3]
        c = x[[0, 1]]              # a copy: later writes to x do not reach it
        x2 = x.copy()
        x2[0] = 5.0
        y[0] = x2[0] + c[1]
        for i, row in enumerate(y.reshape(2, 2)):
            row += 0.0
        return y
    expect = np.array([[0, 1, 0, 0], [1, 0, 0, 1], [0, 1, 0, 1], [0, 0, 0, 0]], bool)
    assert np.array_equal(_pattern(f, np.zeros(4)), expect)
    J = _dual_jacobian(f, np.array([0.3, 0.7, 1.1, 1.3]))
    assert np.array_equal(J != 0, expect)


def test_writes_through_views_made_by_numpy_functions():
    def f(x):
        y = np.zeros_like(x)                  # (2, 3)
        np.reshape(y, (3, 2))[0] = x[1, :2]   # a view: reaches y[0, :2]
        np.transpose(y)[2] = x[0, 0]          # reaches y[:, 2]
        np.split(y, 2)[1][0, 0] = x[1, 2]     # reaches y[1, 0] (replaces x[0, 0])
        np.flip(x)[0, 0] = 0.0                # x[1, 2] := constant, after its use
        return np.concatenate([y.ravel(), x.ravel()])
    expect = np.zeros((12, 6), bool)
    expect[0, 3] = expect[1, 4] = expect[2, 0] = expect[3, 5] = expect[5, 0] = True
    expect[6:11, :5] = np.eye(5, dtype=bool)
    assert np.array_equal(_pattern(f, np.zeros((2, 3))), expect)
    J = _dual_jacobian(f, np.arange(1.0, 7.0).reshape(2, 3))
    assert np.array_equal(J != 0, expect)


def test_read_only_views_raise_as_numpy():
    with pytest.raises(ValueError, match="assignment destination is read-only"):
        trace_jacobian(lambda x: np.broadcast_to(x, (2, 3)).__setitem__(0, 1.0), (3,),
                       (), {})


def test_ufunc_methods_keep_numpy_defaults():
    # ufunc.reduce reduces axis 0 by default (np.max reduces all axes)
    f = lambda x: np.concatenate([np.maximum.reduce(x), np.add.reduce(x, axis=1),
                                  np.add.accumulate(x, axis=1).ravel()])
    expect = np.vstack([np.hstack([np.eye(3), np.eye(3)]),
                        np.repeat(np.eye(2), 3, axis=1),
                        np.kron(np.eye(2), np.tril(np.ones((3, 3))))]).astype(bool)
    assert np.array_equal(_pattern(f, np.zeros((2, 3))), expect)


def test_lists_of_traced_scalars_and_object_arrays():
    f = lambda x: np.array([x[0] * x[1], x[2], 1.0])
    assert np.array_equal(_pattern(f, np.zeros(3)),
                          np.array([[1, 1, 0], [0, 0, 1], [0, 0, 0]], bool))
    g = lambda x: [np.sin(e) for e in np.asarray(x)][::-1]
    assert np.array_equal(_pattern(g, np.zeros(3)), np.eye(3, dtype=bool)[::-1])
    # extra arguments are constants; a constant f gives an empty pattern
    h = lambda x, a, b=1.0: a * b
    fshape, indptr, indices = trace_jacobian(h, (3,), (np.ones(2),), {"b": 2.0})
    assert fshape == (2,) and indices.size == 0 and indptr.tolist() == [0, 0, 0]


def test_public_forms_return_scipy_patterns():
    pytest.importorskip("scipy")
    Pj = jacobian_sparsity(lambda x, c: x.ravel()[1:] * x.ravel()[:-1] + c,
                           np.ones((2, 2)), 3.0)
    assert Pj.shape == (3, 4) and Pj.dtype == bool
    assert np.array_equal(Pj.toarray(), np.array([[1, 1, 0, 0], [0, 1, 1, 0],
                                                  [0, 0, 1, 1]], bool))
    Ph = hessian_sparsity(lambda x: x[0] * np.sum(x ** 2), np.zeros(4))
    assert Ph.shape == (4, 4) and Ph.dtype == bool


@pytest.mark.parametrize("obj", [jacobian_sparsity, hessian_sparsity],
                         ids=lambda o: o.__name__)
def test_docstring_examples(obj):
    import doctest
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    tests = doctest.DocTestFinder(recurse=False).find(obj, globs={})
    assert tests and tests[0].examples
    for t in tests:
        runner.run(t)
    assert runner.failures == 0


# --- forms f may take: in-place writes, views, broadcasting, methods, constants --------

def _set(make, key, value_of):
    """f(x) = make(x) with make(x)[key] = value_of(x) written into it."""
    def f(x):
        y = make(x)
        y[key] = value_of(x)
        return y
    return f


def _write_rows(x):
    y = np.zeros_like(x).reshape(2, 2)
    for r in y:                  # rows are views
        r[0] = x[0] * x[3]
    return y.ravel()


def _store_like(x):
    g = np.zeros(4, dtype=x.dtype)   # an object array under the Dual and the tracer
    for i in range(4):
        g[i] = x[i] * x[-1]
    return g


def _t_write(x):
    y = np.zeros_like(x).reshape(2, 2)
    y.T[0] = x[3]
    return y.ravel()


FORMS = {
    "iadd-view": lambda x: (lambda y: (y[1:].__iadd__(x[:-1] * x[1:]), y)[1])(x * 1.0),
    "fancy-set": _set(np.zeros_like, [0, 0, 2], lambda x: x[[1, 2, 3]]),
    "bool-const-mask-set": _set(np.copy, np.array([True, False, True, False]),
                                lambda x: x[:2] ** 2),
    "bool-const-mask-get": lambda x: x[np.array([True, False, True, False])] * 3,
    "newaxis-bcast": lambda x: (x[:, None] * x[None, :]).ravel(),
    "outer-sub": lambda x: (x[:, None] - x).ravel(),
    "einsum-trace": lambda x: np.einsum("ii->i", x.reshape(2, 2)),
    "einsum-implicit":
        lambda x: np.einsum("ij,jk", x.reshape(2, 2), x.reshape(2, 2)).ravel(),
    "einsum-diag-sum": lambda x: np.einsum("ii", x.reshape(2, 2)),
    "matmul-1d-2d": lambda x: x[:2] @ x.reshape(2, 2),
    "matmul-const-left-batched": lambda x: (np.ones((3, 2, 2)) @ x.reshape(2, 2)).ravel(),
    "dot-const-sparse": lambda x: np.dot(np.array([[0., 1, 0, 0], [2, 0, 0, 3]]), x),
    "tensordot-const":
        lambda x: np.tensordot(np.array([[0., 1], [1, 0]]), x.reshape(2, 2), 1).ravel(),
    "kron-const": lambda x: np.kron(np.array([[1., 0], [0, 2]]), x.reshape(2, 2)).ravel(),
    "cumsum-rev": lambda x: np.cumsum(x[::-1])[::-1],
    "sort-axis0": lambda x: np.sort(x.reshape(2, 2), axis=0).ravel(),
    "where-bcast": lambda x: np.where(x[:2, None] > 0, x[2:], 0.0).ravel(),
    "roll-setitem": _set(np.copy, slice(None), lambda x: np.roll(x, 1) * x),
    "T-write": _t_write,
    "iter-write": _write_rows,
    "out-kw": lambda x: (lambda y: (np.multiply(x, 2.0, out=y), y)[1])(np.zeros_like(x)),
    "pad-edge": lambda x: np.pad(x, 2, mode="edge"),
    "pad-reflect": lambda x: np.pad(x, 2, mode="reflect"),
    "pad-const-val": lambda x: np.pad(x, 1, constant_values=3.0),
    "diff-prepend": lambda x: np.diff(x, prepend=0.0),
    "clip-traced": lambda x: np.clip(x[:2], x[2:], 5.0),
    "abs-method": lambda x: abs(x) ** 0.5,
    "pow-rev": lambda x: 2.0 ** x,
    "mean-keep": lambda x: x - x.mean(),
    "std-axis": lambda x: x.reshape(2, 2).std(axis=1),
    "var-method": lambda x: x.reshape(2, 2).var(axis=0),
    "trace-method": lambda x: x.reshape(2, 2).trace() * x,
    "astype": lambda x: x.astype(np.float64) * x.astype(float)[::-1],
    "take-method": lambda x: x.take([3, 0]),
    "repeat-method": lambda x: x.repeat(2),
    "swapaxes": lambda x: x.reshape(2, 2).swapaxes(0, 1).ravel() * x,
    "diag-1d": lambda x: np.diag(x).ravel(),
    "tril-const": lambda x: np.tril(x.reshape(2, 2) + 1.0).ravel(),
    "norm-inf": lambda x: np.linalg.norm(x, np.inf) * x,
    "solve-const": lambda x: np.linalg.solve(np.diag([1., 2, 3, 4]), x),
    "inv-blockdiag": lambda x: np.linalg.inv(x.reshape(2, 2)).ravel(),
    "maximum-scalar": lambda x: np.maximum(x, 0.5) * x[::-1],
    "select-traced": lambda x: np.select([x > 0, x < -1], [x, x[::-1]], default=x[0]),
    "put-dups": lambda x: (lambda y: (np.put(y, [0, 0], x[2:]), y)[1])(x.copy()),
    "fill-view": lambda x: (lambda y: (y[::2].fill(x[1]), y)[1])(x.copy()),
    "zeros-dtype": _store_like,
    "obj-asarray-ops": lambda x: np.cos(np.asarray(x)) * 2.0,
    "sum-list": lambda x: sum([x[0], x[1] * x[2]]),
    "vstack-scalars": lambda x: np.stack([x[0], x[3]]),
    "atleast": lambda x: np.atleast_2d(x[0]).ravel(),
    "meshgrid": lambda x: np.meshgrid(x[:2], x[2:])[1].ravel(),
    "cross": lambda x: np.cross(x[:3], np.array([1.0, 0.0, 0.0])),
    "interp": lambda x: np.interp(x[:2], [0.0, 1.0], x[2:]),
    "linspace": lambda x: np.linspace(x[0], x[1], 3),
    "prod-axis": lambda x: x.reshape(2, 2).prod(axis=1),
    "cumprod": lambda x: np.cumprod(x),
    "average-w": lambda x: np.average(x.reshape(2, 2), axis=1, weights=x[:2]),
    "heaviside": lambda x: np.heaviside(x, x[::-1]),
    "einsum-3": lambda x: np.einsum("i,i,i->", x, x, x) * x,
}


@pytest.mark.parametrize("name", sorted(FORMS))
def test_forms_never_miss(name):
    f = FORMS[name]
    pattern = _pattern(f, np.zeros(4))
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    for _ in range(3):
        x = rng.uniform(0.2, 1.5, 4) * rng.choice([-1.0, 1.0], 4)
        J = _dual_jacobian(f, x)
        assert J.shape == pattern.shape
        assert not np.any((J != 0) & ~pattern)


# --- hypothesis: random compositions of supported operations ----------------------------

# bounded where a chain could overflow (exp(exp(...)))
_UNARY = [np.sin, lambda v: np.exp(np.tanh(v)), np.tanh, np.abs, np.square, np.negative,
          lambda v: 2.0 * v,
          np.floor, np.cos]


def _apply(step, v, rng_seed):
    kind, arg = step
    rng = np.random.default_rng(rng_seed)
    if kind == "unary":
        return _UNARY[arg % len(_UNARY)](v)
    if kind == "slice":
        k = len(v)
        a = arg % max(k, 1)
        return v[a:] * v[:k - a] if k - a > 0 else v
    if kind == "concat":
        return np.concatenate([v, v[::-1][: 1 + arg % len(v)]])
    if kind == "cumsum":
        return np.cumsum(v)
    if kind == "sum":
        return v + np.sum(v[: 1 + arg % len(v)])
    if kind == "matmul":
        A = rng.standard_normal((len(v), len(v)))
        A[rng.random(A.shape) < 0.7] = 0.0
        return A @ v
    if kind == "roll":
        return np.roll(v, arg) - v
    return np.maximum(v, v[::-1])


_STEPS = st.tuples(st.sampled_from(["unary", "slice", "concat", "cumsum", "sum",
                                    "matmul", "roll", "max"]), st.integers(0, 20))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(_STEPS, min_size=1, max_size=5), n=st.integers(1, 7),
       seed=st.integers(0, 2 ** 16))
def test_random_compositions_never_miss(steps, n, seed):
    def f(x):
        v = x
        for i, s in enumerate(steps):
            v = _apply(s, v, seed + i)
            if len(v) > 40:
                v = v[:40]
        return v
    pattern = _pattern(f, np.zeros(n))
    for k in range(2):
        x = np.random.default_rng(seed + 100 + k).uniform(0.3, 1.7, n)
        J = _dual_jacobian(f, x)
        assert not np.any((J != 0) & ~pattern)


# --- Hessian patterns -------------------------------------------------------------------

def _hpattern(f, n):
    indptr, indices = trace_hessian(f, (n,), (), {})
    H = _dense(indptr, indices, (n, n))
    assert np.array_equal(H, H.T)
    return H


def test_hessian_sum_of_local_terms_exact():
    # f = sum_i sin(x_i x_{i+1}) + x_i^3: H tridiagonal (analytic)
    n = 6
    f = lambda x: np.sum(np.sin(x[:-1] * x[1:])) + np.sum(x ** 3)
    expect = (np.eye(n) + np.eye(n, k=1) + np.eye(n, k=-1)).astype(bool)
    assert np.array_equal(_hpattern(f, n), expect)


def test_hessian_chained_rosenbrock_tridiagonal():
    n = 7
    f = lambda x: np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)
    expect = (np.eye(n) + np.eye(n, k=1) + np.eye(n, k=-1)).astype(bool)
    H = _hpattern(f, n)
    assert np.array_equal(H, expect)
    x = np.random.default_rng(1).uniform(-1, 1, n)
    Hd = dfd.hessian(f)(x)
    assert not np.any((np.abs(Hd) > 1e-6 * np.abs(Hd).max()) & ~H)


def test_hessian_extended_rosenbrock_block_diagonal():
    prob = P.extended_rosenbrock(8)
    H = _hpattern(prob.objective, 8)
    expect = np.kron(np.eye(4), np.ones((2, 2))).astype(bool)
    assert np.array_equal(H, expect)


def test_hessian_arrowhead():
    n = 5
    f = lambda x: x[0] * np.sum(x ** 2)
    H = _hpattern(f, n)
    # analytic: H_00 = 6 x0, H_0j = 2 x_j, H_jj = 2 x0, else 0
    expect = np.eye(n, dtype=bool)
    expect[0, :] = expect[:, 0] = True
    assert np.array_equal(H, expect)


def test_hessian_linear_and_products():
    n = 4
    # linear: empty; x0 * x1: off-diagonal only; x2 / x3: (2,3), (3,3)
    assert not _hpattern(lambda x: np.sum(3.0 * x) - x[0], n).any()
    H = _hpattern(lambda x: x[0] * x[1] + x[2] / x[3], n)
    expect = np.zeros((n, n), bool)
    expect[0, 1] = expect[1, 0] = expect[2, 3] = expect[3, 2] = expect[3, 3] = True
    assert np.array_equal(H, expect)


@pytest.mark.parametrize("eid", ["linalg.det", "prod", "var", "dot-vec-vec",
                                 "einsum-matmul", "linalg.norm", "cumprod",
                                 "special.xlogy", "polyval"])
def test_hessian_contains_dense_hessian(eid):
    call = lambda x: np.sum(_flat_function(eid)(x))
    x0 = np.concatenate([np.ravel(a) for a in _inputs(eid)])
    H = _hpattern(call, x0.size)
    Hd = dfd.hessian(call)(x0)
    big = np.abs(Hd) > 1e-6 * max(np.abs(Hd).max(), 1e-300)
    assert not np.any(big & ~H)


def test_hessian_of_products_exact():
    # x . x: 2 I; x0 x1 + x1 x2 through einsum; a quadratic form with a banded A
    n = 5
    assert np.array_equal(_hpattern(lambda x: x @ x, n), np.eye(n, dtype=bool))
    expect = np.zeros((n, n), bool)
    expect[0, 1] = expect[1, 0] = expect[1, 2] = expect[2, 1] = True
    assert np.array_equal(_hpattern(lambda x: np.einsum("i,i->", x[:2], x[1:3]), n),
                          expect)
    A = np.eye(n) + np.eye(n, k=1)
    band = (A + A.T) != 0
    assert np.array_equal(_hpattern(lambda x: x @ (A @ x), n), band)


def test_hessian_needs_scalar():
    with pytest.raises(ValueError, match="needs a scalar f; f returned shape"):
        trace_hessian(lambda x: x * x, (3,), (), {})


# --- errors -----------------------------------------------------------------------------

@pytest.mark.parametrize("f, match", [
    (lambda x: x if x[0] > 0 else -x, "branches on a traced value"),
    (lambda x: x * float(x[0]), r"float\(\) of a traced element"),
    (lambda x: x * int(x[0]), r"int\(\) of a traced element"),
    (lambda x: x[x > 0], "traced boolean mask or traced integer is used as an index"),
    (lambda x: x[np.argmax(x)], "argmax returns positions"),
    (lambda x: x[:int(np.sum(x > 0))], "int()"),
    (lambda x: [1.0, 2.0, 3.0][x[0]] * x, "used as an index"),
    (lambda x: np.take(x, np.asarray(x, dtype=int)), "dtype=int64"),
    (lambda x: x.item(), r"x.item\(\) of a traced array"),
    (lambda x: complex(x[0]), r"complex\(\) of a traced element"),
])
def test_value_dependent_code_raises(f, match):
    with pytest.raises(TypeError, match=match) as info:
        trace_jacobian(f, (3,), (), {})
    assert isinstance(info.value, TracingError)
    assert "sparsity=" in str(info.value) and "np.where" in str(info.value)


def test_unsupported_function_named():
    with pytest.raises(TypeError,
                       match="numpy.median is not supported by the sparsity tracer"):
        trace_jacobian(lambda x: np.median(x), (3,), (), {})
    with pytest.raises(TypeError, match="numpy.multiply.accumulate is not supported"):
        trace_jacobian(lambda x: np.multiply.accumulate(x), (3,), (), {})
    with pytest.raises(TypeError,
                       match="numpy.sin under the sparsity tracer does not take"):
        trace_jacobian(lambda x: np.sin(x, where=True), (3,), (), {})
    with pytest.raises(TypeError, match="the ufunc|numpy.spacing is not supported"):
        trace_jacobian(lambda x: np.spacing(x), (3,), (), {})


def test_errors_of_f_propagate_unchanged():
    class Boom(Exception):
        pass

    def f(x):
        raise Boom("from f")
    with pytest.raises(Boom, match="from f"):
        trace_jacobian(f, (3,), (), {})
    with pytest.raises(ValueError, match="broadcast"):
        trace_jacobian(lambda x: x + np.ones(4), (3,), (), {})


def test_bad_return_named():
    with pytest.raises(TypeError, match="f must return a number, an array or a traced"):
        trace_jacobian(lambda x: "text", (3,), (), {})
