"""Independent checks of tests/problems.py (the Moré-Garbow-Hillstrom set).

Nothing here uses dualfd: the problems are the reference the library is tested
against, so they are checked with NumPy and SciPy only — analytic Jacobians against
complex steps and against a tiny forward-mode dual stand-in that allows exactly the
operations a residual may use, batches against columns, and least_squares from x0
against the paper's f* (which also checks the data tables digit by digit).
"""

import warnings

import numpy as np
import pytest
from scipy.optimize import least_squares, rosen, rosen_der

import problems as mgh

H = 1e-30   # complex step: no subtractive cancellation, so any h this small is exact


def cs_jacobian(F, x):
    """J[:, j] = Im F(x + i h e_j) / h, one column at a time."""
    x = np.asarray(x, dtype=float)
    return np.stack([np.imag(F(x + 1j * H * e)) / H for e in np.eye(x.size)], axis=-1)


def rel_err(A, B):
    """Entrywise error relative to max(1, |B|) of the entry's row: entries of the
    same residual share its rounding scale, small rows are not drowned by big ones."""
    scale = np.maximum(1.0, np.abs(B).max(axis=-1, keepdims=True))
    return np.max(np.abs(A - B) / scale)


def points(p, count=2):
    return [p.x0] + mgh.perturbed_points(p, np.random.default_rng(len(p.name)), count)


# --- a dual-number stand-in with only the allowed operations ------------------------------

class Dual:
    """Forward-mode dual array: value of shape S, tangents of shape S + (d,).

    Supports what the residuals may use (x[i], x[a:b], arithmetic with arrays and
    scalars, a few ufuncs, np.stack / concatenate / sum / prod / cumsum with axis=)
    and refuses the rest: conversion to ndarray or float, truth values, fancy or
    strided indexing, mixing plain arrays into np.stack/concatenate."""

    def __init__(self, value, tangent):
        self.value, self.tangent = np.asarray(value), np.asarray(tangent)
        assert self.tangent.shape[:-1] == self.value.shape

    shape = property(lambda self: self.value.shape)
    ndim = property(lambda self: self.value.ndim)

    def __getitem__(self, key):
        for k in key if isinstance(key, tuple) else (key,):
            if not (isinstance(k, (int, np.integer)) or (isinstance(k, slice) and k.step is None)):
                raise TypeError(f"index {k!r} is not allowed")
        return Dual(self.value[key], self.tangent[key])

    def __array__(self, *args, **kwargs):
        raise TypeError("a Dual cannot become a plain array")

    def __float__(self):
        raise TypeError("a Dual cannot become a float")

    def __bool__(self):
        raise TypeError("a Dual has no truth value")

    __add__ = lambda s, o: np.add(s, o)
    __radd__ = lambda s, o: np.add(o, s)
    __sub__ = lambda s, o: np.subtract(s, o)
    __rsub__ = lambda s, o: np.subtract(o, s)
    __mul__ = lambda s, o: np.multiply(s, o)
    __rmul__ = lambda s, o: np.multiply(o, s)
    __truediv__ = lambda s, o: np.true_divide(s, o)
    __rtruediv__ = lambda s, o: np.true_divide(o, s)
    __pow__ = lambda s, o: np.power(s, o)
    __neg__ = lambda s: np.negative(s)

    UNARY = {np.exp: np.exp, np.sin: np.cos, np.cos: lambda v: -np.sin(v),
             np.sqrt: lambda v: 0.5 / np.sqrt(v), np.log: lambda v: 1.0 / v,
             np.arctan: lambda v: 1.0 / (1.0 + v * v), np.negative: lambda v: -np.ones_like(v)}

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method != "__call__" or kwargs:
            return NotImplemented
        vals = [a.value if isinstance(a, Dual) else np.asarray(a) for a in inputs]
        tans = [a.tangent if isinstance(a, Dual) else None for a in inputs]
        d = next(t.shape[-1] for t in tans if t is not None)
        if ufunc in self.UNARY:
            (v,), (t,) = vals, tans
            return Dual(ufunc(v), t * self.UNARY[ufunc](v)[..., None])
        (a, b), (ta, tb) = vals, tans
        partials = {  # (value, d/da, d/db)
            np.add: lambda: (a + b, 1.0, 1.0),
            np.subtract: lambda: (a - b, 1.0, -1.0),
            np.multiply: lambda: (a * b, b, a),
            np.true_divide: lambda: (a / b, 1.0 / b, -a / (b * b)),
            np.power: lambda: (a ** b, b * a ** (b - 1.0),
                               None if tb is None else np.log(a) * a ** b),
        }
        if ufunc not in partials:
            return NotImplemented
        v, da, db = partials[ufunc]()
        dtype = np.result_type(v, *(x for x in tans if x is not None))
        t = np.zeros(np.shape(v) + (d,), dtype=dtype)
        if ta is not None:
            t = t + ta * np.asarray(da)[..., None]
        if tb is not None:
            t = t + tb * np.asarray(db)[..., None]
        return Dual(v, t)

    def __array_function__(self, func, types, args, kwargs):
        if func in (np.stack, np.concatenate):
            seq, axis = args[0], kwargs.get("axis", 0)
            if not all(isinstance(a, Dual) for a in seq):
                raise TypeError(f"{func.__name__} of plain arrays and Duals")
            axis = axis % (seq[0].ndim + (func is np.stack))   # counted on the value
            return Dual(func([a.value for a in seq], axis=axis),
                        func([a.tangent for a in seq], axis=axis))
        if func in (np.sum, np.cumsum, np.prod) and set(kwargs) == {"axis"} and len(args) == 1:
            (a,), axis = args, kwargs["axis"] % args[0].ndim
            if func is np.prod:   # as a chain of products: no division by zero entries
                moved = Dual(np.moveaxis(a.value, axis, 0), np.moveaxis(a.tangent, axis, 0))
                out = moved[0]
                for k in range(1, moved.shape[0]):
                    out = out * moved[k]
                return out
            return Dual(func(a.value, axis=axis), func(a.tangent, axis=axis))
        return NotImplemented


def dual_jacobian(F, x):
    """Jacobian through the stand-in; x of shape (n,) -> (m, n), (n, K) -> (m, K, n)."""
    n = x.shape[0]
    seed = np.eye(n).reshape((n,) + (1,) * (x.ndim - 1) + (n,))
    out = F(Dual(x, np.broadcast_to(seed, x.shape + (n,))))
    assert isinstance(out, Dual), f"F returned {type(out).__name__}, not a Dual"
    return out.tangent


# --- the catalogue --------------------------------------------------------------------------

PARAMS = [pytest.param(p, id=p.name) for p in mgh.PROBLEMS]


def test_catalogue():
    numbers = {p.number for p in mgh.PROBLEMS}
    assert {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14, 15, 16, 17, 18, 20, 21, 23, 25, 26,
            27, 28, 30, 31, 32, 35} <= numbers
    assert len(mgh.PROBLEMS) >= 18
    assert mgh.BY_NAME == {p.name: p for p in mgh.PROBLEMS}
    assert len(mgh.BY_NAME) == len(mgh.PROBLEMS)
    for name, n, m in [("jennrich_sampson", 2, 10), ("box_3d", 3, 10), ("brown_dennis", 4, 20),
                       ("biggs_exp6", 6, 13), ("bard", 3, 15), ("meyer", 3, 16),
                       ("kowalik_osborne", 4, 11), ("osborne1", 5, 33), ("gaussian", 3, 15)]:
        assert (mgh.BY_NAME[name].n, mgh.BY_NAME[name].m) == (n, m)
    assert all(6 <= p.n <= 12 for p in mgh.PROBLEMS if p.number in (21, 23, 25, 26, 27, 28, 30, 31))


def test_factories_take_sizes():
    for factory, n in [(mgh.extended_rosenbrock, 4), (mgh.broyden_tridiagonal, 7),
                       (mgh.broyden_banded, 9), (mgh.trigonometric, 5), (mgh.penalty_i, 4),
                       (mgh.variably_dimensioned, 3), (mgh.brown_almost_linear, 5),
                       (mgh.discrete_boundary_value, 2), (mgh.chebyquad, 7), (mgh.watson, 12)]:
        p = factory(n)
        assert p.n == n and p.residual(p.x0).shape == (p.m,)
        assert p.jacobian(p.x0).shape == (p.m, n)
    with pytest.raises(ValueError):
        mgh.extended_rosenbrock(5)
    # the paper's values at the starting points it lists (a check on the formulas)
    assert mgh.penalty_i(4).objective(mgh.penalty_i(4).x0) == pytest.approx(885.0625 + 14e-5)
    assert mgh.rosenbrock().objective(mgh.rosenbrock().x0) == pytest.approx(24.2)


@pytest.mark.parametrize("p", PARAMS)
def test_shapes_and_dtypes(p):
    assert p.x0.shape == (p.n,) and p.x0.dtype == np.float64
    assert not p.x0.flags.writeable
    r, J = p.residual(p.x0), p.jacobian(p.x0)
    assert r.shape == (p.m,) and r.dtype == np.float64
    assert J.shape == (p.m, p.n) and J.dtype == np.float64
    assert p.m >= p.n
    assert np.ndim(p.objective(p.x0)) == 0 and p.gradient(p.x0).shape == (p.n,)


# --- derivatives ----------------------------------------------------------------------------

@pytest.mark.parametrize("p", PARAMS)
def test_jacobian_matches_complex_step(p):
    for x in points(p):
        assert rel_err(p.jacobian(x), cs_jacobian(p.residual, x)) <= 1e-12, (p.name, x)


@pytest.mark.parametrize("p", PARAMS)
def test_jacobian_matches_dual_stand_in(p):
    """Residuals stay within the dual-array operation set, and their exact derivative
    is the analytic Jacobian; a batch of duals gives every column's Jacobian."""
    xs = points(p)
    for x in xs:
        assert rel_err(p.jacobian(x), dual_jacobian(p.residual, x)) <= 1e-12, (p.name, x)
    Jb = dual_jacobian(p.residual, np.stack(xs, axis=1))
    for k, x in enumerate(xs):
        assert rel_err(Jb[:, k], p.jacobian(x)) <= 1e-12
    g = dual_jacobian(p.objective, xs[1])
    assert rel_err(g, p.gradient(xs[1])) <= 1e-12


@pytest.mark.parametrize("p", PARAMS)
def test_batches_match_columns(p):
    X = np.stack(points(p, 3), axis=1)
    R = p.residual(X)
    assert R.shape == (p.m, X.shape[1])
    for k in range(X.shape[1]):
        np.testing.assert_allclose(R[:, k], p.residual(X[:, k]), rtol=1e-13,
                                   atol=1e-13 * np.abs(R[:, k]).max())
    fx = p.objective(X)
    assert fx.shape == (X.shape[1],)
    np.testing.assert_allclose(fx, [p.objective(X[:, k]) for k in range(X.shape[1])], rtol=1e-13)
    # complex and batched at once: all n complex steps in one call
    x = X[:, 1]
    Jc = np.imag(p.residual(x[:, None] + 1j * H * np.eye(p.n))) / H
    assert rel_err(Jc, p.jacobian(x)) <= 1e-12


@pytest.mark.parametrize("p", PARAMS)
def test_objective_and_gradient(p):
    for x in points(p, 1):
        r = p.residual(x)
        assert p.objective(x) == pytest.approx(r @ r, rel=1e-14)
        g_cs = np.array([np.imag(p.objective(x + 1j * H * e)) / H for e in np.eye(p.n)])
        assert rel_err(p.gradient(x)[None], g_cs[None]) <= 1e-12


# --- the paper's minima ------------------------------------------------------------------------

@pytest.mark.parametrize("p", [q for q in PARAMS if q.values[0].fstar is not None])
def test_least_squares_reaches_fstar(p):
    """Levenberg-Marquardt from x0 with the analytic Jacobian reaches the paper's f*.
    Freudenstein-Roth and Trigonometric (n=10) stop at the local minima whose f the
    fstar holds (see their notes); everything else reaches the listed minimum.

    Biggs EXP6 is the exception: from x0, MINPACK's lmder either reaches f = 0 or
    stops after 3 evaluations at f = 0.647 (not a minimum), depending on ulp-level
    differences in the process (it changed with PYTHONHASHSEED).  Its f* is checked
    at the paper's minimizer instead, which pins the residual exactly."""
    if p.name == "biggs_exp6":
        assert p.objective(np.array([1.0, 10.0, 1.0, 5.0, 4.0, 3.0])) == pytest.approx(
            p.fstar, abs=1e-20)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = least_squares(p.residual, p.x0, jac=p.jacobian, method="lm",
                            xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=2000)
    f = 2.0 * res.cost
    # the paper prints six digits: rtol 1e-5 still checks every data entry
    assert f == pytest.approx(p.fstar, rel=1e-5, abs=1e-20), p.note


# --- the extras -----------------------------------------------------------------------------

def test_rosenbrock_helpers():
    rng = np.random.default_rng(0)
    for n in [2, 3, 10]:
        X = rng.standard_normal((n, 4))
        np.testing.assert_allclose(mgh.rosenbrock_objective(X), [rosen(c) for c in X.T], rtol=1e-14)
        np.testing.assert_allclose(mgh.rosenbrock_gradient(X),
                                   np.stack([rosen_der(c) for c in X.T], axis=1), rtol=1e-13)
        x = X[:, 0]
        assert mgh.rosenbrock_objective(x) == pytest.approx(rosen(x), rel=1e-14)
        g = dual_jacobian(mgh.rosenbrock_objective, x)
        np.testing.assert_allclose(g, mgh.rosenbrock_gradient(x), rtol=1e-13)
    assert mgh.rosenbrock_objective(np.ones(6)) == 0.0


def test_scalar_style():
    x = np.array([0.7, -1.3])
    assert mgh.scalar_style(x) == pytest.approx(0.49 * -1.3 + 0.7 * (-1.3) ** 3)
    g = cs_jacobian(mgh.scalar_style, x)
    np.testing.assert_allclose(mgh.scalar_style_gradient(x), g, rtol=1e-14)
    np.testing.assert_allclose(dual_jacobian(mgh.scalar_style, x), g, rtol=1e-14)


@pytest.mark.parametrize("n", [1, 2, 3, 50])
def test_broyden_tridiagonal_fast_form(n):
    x = np.random.default_rng(n).standard_normal(n)
    F, J = mgh.broyden_tridiagonal_residual, mgh.broyden_tridiagonal_jacobian
    xp = np.concatenate([[0.0], x, [0.0]])   # the paper's formula, entry by entry
    ref = [(3 - 2 * xp[i]) * xp[i] - xp[i - 1] - 2 * xp[i + 1] + 1 for i in range(1, n + 1)]
    np.testing.assert_allclose(F(x), ref, rtol=1e-15, atol=1e-15)
    assert rel_err(J(x), cs_jacobian(F, x)) <= 1e-14
    X = np.stack([x, -x, 2 * x], axis=1)
    np.testing.assert_allclose(F(X), np.stack([F(c) for c in X.T], axis=1), rtol=1e-15)


def test_scaled_points():
    pairs = mgh.scaled_points()
    assert len(pairs) >= 4
    names = {p.name for p, _ in pairs}
    assert {"powell_badly_scaled", "brown_badly_scaled"} <= names
    mags = np.concatenate([np.abs(x) for _, x in pairs])
    assert np.any((mags > 1e-9) & (mags < 1e-7)) and np.any((mags > 1e7) & (mags < 1e9))
    for p, x in pairs:
        assert x.shape == (p.n,) and x.dtype == np.float64
        r, J = p.residual(x), p.jacobian(x)
        assert np.all(np.isfinite(r)) and np.all(np.isfinite(J)), p.name
        assert np.abs(r).max() < 1e20 and np.abs(J).max() < 1e20, p.name
        assert rel_err(J, cs_jacobian(p.residual, x)) <= 1e-12, p.name
    # the badly scaled problems are at (or very near) their zero residual
    for p, x in pairs[:2]:
        assert p.objective(x) < 1e-12


def test_perturbed_points():
    p = mgh.BY_NAME["wood"]
    a = mgh.perturbed_points(p, np.random.default_rng(5))
    b = mgh.perturbed_points(p, np.random.default_rng(5), count=3)
    assert len(a) == 3 and all(x.shape == (4,) for x in a)
    np.testing.assert_array_equal(a, b)
    assert all(np.all(x != p.x0) for x in a)
    assert len(mgh.perturbed_points(p, np.random.default_rng(5), count=5)) == 5


def test_problem_is_frozen():
    p = mgh.PROBLEMS[0]
    with pytest.raises(AttributeError):
        p.n = 3
    with pytest.raises(ValueError):
        p.x0[0] = 0.0


def test_stand_in_refuses_what_duals_cannot_do():
    """The stand-in is only a useful check if it rejects the forbidden patterns."""
    d = Dual(np.ones(3), np.eye(3))
    for bad in [lambda: np.asarray(d), lambda: float(d[0]), lambda: d[[0, 1]],
                lambda: d[::2], lambda: bool(d[0] < 0), lambda: np.stack([d[0], 1.0])]:
        with pytest.raises((TypeError, ValueError)):
            bad()
    out = np.zeros(3)
    with pytest.raises((TypeError, ValueError)):
        out[0] = d[0]
