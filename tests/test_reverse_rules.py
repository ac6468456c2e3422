"""Reverse mode against forward mode on the rule table and the MGH problems.

Every gradient from ``method="reverse"`` (the tape and its C sweep) is compared with
``method="dual"`` (the Dual's forward tangents: independent code that shares only the
rule table, which tests/test_dual_rules.py checks against complex step and analytic
formulas), to 1e-13 relative: max|g_r - g_d| <= 1e-13 * max(1, max|g_d|).

Covered: the More-Garbow-Hillstrom objectives at x0 and at a perturbed point; every
rule of dualfd._dual.RULES (SciPy's too), unary and binary, in every broadcasting
pattern and as operators; and the parity of reverse mode's function table with the
Dual's."""

import warnings
import zlib

import numpy as np
import pytest

import dualfd as dfd
from dualfd import Dual
from dualfd import _reverse
from dualfd._dual import RULES, _core

import problems as mgh

special = pytest.importorskip("scipy.special")
_core._register_scipy_special()

TOL = 1e-13


def rel_diff(got, ref):
    got, ref = np.asarray(got, dtype=float), np.asarray(ref, dtype=float)
    assert got.shape == ref.shape, (got.shape, ref.shape)
    if ref.size == 0:
        return 0.0
    return float(np.max(np.abs(got - ref)) / max(1.0, np.max(np.abs(ref))))


def assert_same_grad(f, x, tol=TOL, what=""):
    """grad(method='reverse') equals grad(method='dual') to tol, relative."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        gd = dfd.grad(f, method="dual")(x)
        gr = dfd.grad(f, method="reverse")(x)
    assert np.all(np.isfinite(gd)), what
    err = rel_diff(gr, gd)
    assert err <= tol, f"{what}: reverse differs from dual by {err:.3g} (relative)"


# --- the MGH objectives -------------------------------------------------------------------

def _mgh_points():
    rng = np.random.default_rng(13)
    out = []
    for p in mgh.PROBLEMS:
        out.append(pytest.param(p, np.array(p.x0), id=f"{p.name}-x0"))
        out.append(pytest.param(p, mgh.perturbed_points(p, rng, 1)[0],
                                id=f"{p.name}-perturbed"))
    return out


@pytest.mark.parametrize("p, x", _mgh_points())
def test_mgh_gradient(p, x):
    assert_same_grad(p.objective, x, what=p.name)
    # and the analytic gradient 2 J^T F, to the accuracy of its own rounding
    g = dfd.grad(p.objective, method="reverse")(x)
    assert rel_diff(g, p.gradient(x)) <= 1e-11, p.name


# --- the rule table -----------------------------------------------------------------------

def _resolve(rule):
    name, arity, f, lo, hi = rule
    if isinstance(f, str):
        f = getattr(special, name)
    return name, arity, f, lo, hi


RESOLVED = [_resolve(r) for r in RULES]
UNARY = [r for r in RESOLVED if r[1] == 1]
BINARY = [r for r in RESOLVED if r[1] == 2]
OPERATORS = {"add": lambda a, b: a + b, "subtract": lambda a, b: a - b,
             "multiply": lambda a, b: a * b, "divide": lambda a, b: a / b,
             "power": lambda a, b: a ** b, "remainder": lambda a, b: a % b,
             "floor_divide": lambda a, b: a // b}


def points(lo, hi, shape, rng):
    """Interior points of [lo, hi], away from integers (kinks of floor & co)."""
    x = lo + (hi - lo) * rng.uniform(0.05, 0.95, shape)
    near = np.abs(x - np.round(x)) < 0.02
    return np.where(near, x + 0.05, x)


def test_the_operators_name_rules():
    names = {r[0] for r in BINARY}
    assert set(OPERATORS) <= names


@pytest.mark.parametrize("shape", [(), (5,), (3, 4), (2, 1, 3)], ids=str)
@pytest.mark.parametrize("rule", UNARY, ids=lambda r: r[0])
def test_unary_rule(rule, shape):
    name, _, u, lo, hi = rule
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    x = points(lo, hi, shape, rng)
    w = rng.uniform(0.5, 1.5, shape)
    assert_same_grad(lambda t: np.sum(w * u(t)), x, what=f"{name} {shape}")
    # the same node used twice, and a constant scale before it
    assert_same_grad(lambda t: np.sum(u(t) * u(t)) + np.sum(u(1.0 * t)), x,
                     what=f"{name} {shape} twice")


# Binary patterns: each maps x (the traced vector) to the operands (a, b); `n` is x's size.
def _split(shapes):
    sizes = [int(np.prod(s)) for s in shapes]

    def f(x):
        out, k = [], 0
        for s, m in zip(shapes, sizes):
            out.append(x[k:k + m].reshape(s))
            k += m
        return out
    return f, sum(sizes)


def _patterns(rng, lo, hi):
    """name -> (make operands from x, x's size); constants drawn in [lo, hi]."""
    c0 = float(points(lo, hi, (), rng))
    C = points(lo, hi, (3, 4), rng)
    pats = {}
    same, n = _split([(3, 4), (3, 4)])
    pats["same-shape"] = (same, n)
    pats["scalar-const-right"] = (lambda x: (x.reshape(3, 4), c0), 12)
    pats["scalar-const-left"] = (lambda x: (c0, x.reshape(3, 4)), 12)
    pats["array-const-right"] = (lambda x: (x.reshape(3, 4), C), 12)
    pats["array-const-left"] = (lambda x: (C, x.reshape(3, 4)), 12)
    pats["0d-const-array-right"] = (lambda x: (x.reshape(3, 4), np.array(c0)), 12)
    outer, n = _split([(3, 1), (1, 4)])
    pats["(3,1)x(1,4)"] = (outer, n)
    pats["(1,4)x(3,1)"] = (lambda x: outer(x)[::-1], n)
    row, n = _split([(4,), (3, 4)])
    pats["(4,)x(3,4)"] = (row, n)
    pats["(3,4)x(4,)"] = (lambda x: row(x)[::-1], n)
    pats["(3,1)x(1,4)-const"] = (lambda x: (x.reshape(3, 1), C[:1]), 3)
    pats["(4,)-const-x(3,4)"] = (lambda x: (C[0], x.reshape(3, 4)), 12)
    zero, n = _split([(), ()])
    pats["0d"] = (zero, n)
    pats["0d-x-(3,4)"] = (lambda x: (x[0], x[1:].reshape(3, 4)), 13)
    pats["same-tracer"] = (lambda x: (x.reshape(3, 4), x.reshape(3, 4)), 12)
    return pats


PATTERNS = list(_patterns(np.random.default_rng(0), 0.0, 1.0))


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("rule", BINARY, ids=lambda r: r[0])
def test_binary_rule(rule, pattern):
    name, _, u, lo, hi = rule
    rng = np.random.default_rng(zlib.crc32((name + pattern).encode()))
    make, n = _patterns(rng, lo, hi)[pattern]
    x = points(lo, hi, (n,), rng)
    with np.errstate(all="ignore"):
        shape = np.broadcast(*[np.asarray(v) for v in make(x)]).shape
    w = rng.uniform(0.5, 1.5, shape)
    calls = [("ufunc", u)]
    if name in OPERATORS:
        calls.append(("operator", OPERATORS[name]))
    for how, op in calls:
        def f(t, op=op):
            a, b = make(t)
            return np.sum(w * op(a, b))
        assert_same_grad(f, x, what=f"{name} {pattern} {how}")


def test_scalar_x_is_0d():
    """A Python float x: the tracer is 0-d, the gradient a float."""
    g = dfd.grad(lambda t: np.sin(t) * t, method="reverse")(0.7)
    assert isinstance(g, float)
    assert abs(g - (np.cos(0.7) * 0.7 + np.sin(0.7))) <= 1e-15


# --- parity: one function table ------------------------------------------------------------

def test_supported_functions_are_the_duals():
    assert _reverse._supported_functions() == Dual.supported_functions()
    assert set(_reverse._dedicated()) <= (set(Dual.supported_functions())
                                          | set(Dual.supported_ufuncs()))


_DOMAIN = {r[0]: (r[3], r[4]) for r in RULES}


def _supported_ufuncs():
    _, ufuncs, _, _ = _core._registry()
    return sorted(ufuncs, key=lambda u: u.__name__)


def test_every_supported_ufunc_is_listed():
    names = {u.__name__ for u in _supported_ufuncs()}
    assert names <= set(Dual.supported_ufuncs())


@pytest.mark.parametrize("u", _supported_ufuncs(), ids=lambda u: u.__name__)
def test_every_supported_ufunc_runs_on_a_tracer(u):
    """Each ufunc of the Dual's table on Tracers (every operand traced, then a
    constant first operand), with the Dual's gradient."""
    lo, hi = _DOMAIN.get(u.__name__, (0.2, 0.8))
    rng = np.random.default_rng(zlib.crc32(u.__name__.encode()))
    if u is np.matmul:
        shapes = [(3, 3), (3, 3)]
    else:
        shapes = [(2, 3)] * u.nin
    make, n = _split(shapes)
    x = points(lo, hi, (n,), rng)

    def f(t):
        r = u(*make(t))
        return np.sum(np.sin(np.stack(r) if isinstance(r, tuple) else r))

    assert_same_grad(f, x, what=u.__name__)
    if u.nin > 1:
        c = points(lo, hi, shapes[0], rng)

        def h(t):
            ops = make(t)
            r = u(c, *ops[1:])
            return np.sum(np.cos(np.stack(r) if isinstance(r, tuple) else r))
        assert_same_grad(h, x, what=u.__name__ + " constant first")
