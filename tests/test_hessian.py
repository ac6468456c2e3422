"""hessian: accuracy against analytic Hessians, bounds, shapes, bad input."""

import numpy as np
import pytest
from scipy.optimize import rosen_hess

import dualfd as dfd
import problems as mgh
from problems import rosenbrock_objective as rosen  # NumPy-only: works for a Dual


METHODS = ["central", "complex", "dual"]
# error relative to max |H|: eps**(1/2) for the second differences of f,
# eps**(2/3) for central differences of an exact gradient (with margin)
BARS = {"central": 1e-6, "complex": 1e-8, "dual": 1e-8}


def rel_error(H, exact):
    return np.max(np.abs(H - exact)) / max(1.0, np.max(np.abs(exact)))


def mixed(x):
    """Scalar f of a (2, 2) x with every second partial nonzero."""
    return np.exp(x[0, 0] * x[1, 1]) + np.sin(x[0, 1]) * x[1, 0] ** 3 + x[0, 0] * x[0, 1]


def mixed_hess(x):
    a, b, c, d = x[0, 0], x[0, 1], x[1, 0], x[1, 1]
    e = np.exp(a * d)
    H = np.zeros((4, 4))   # order a, b, c, d (row-major x)
    H[0, 0], H[3, 3], H[0, 3] = d * d * e, a * a * e, e + a * d * e
    H[1, 1], H[2, 2] = -np.sin(b) * c ** 3, 6 * c * np.sin(b)
    H[1, 2] = 3 * c * c * np.cos(b)
    H[0, 1] = 1.0
    H = np.triu(H) + np.triu(H, 1).T
    return H.reshape(2, 2, 2, 2)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("n", [2, 5, 10])
def test_rosenbrock(method, n):
    x = np.linspace(-1.5, 2.0, n)
    H = dfd.hessian(rosen, method=method)(x)
    assert H.shape == (n, n)
    np.testing.assert_array_equal(H, H.T)
    assert rel_error(H, rosen_hess(x)) <= BARS[method]


@pytest.mark.parametrize("method", METHODS)
def test_nd_x_has_shape_x_shape_twice(method):
    x = np.array([[0.3, -0.7], [1.1, 0.4]])
    H = dfd.hessian(mixed, method=method)(x)
    assert H.shape == (2, 2, 2, 2)
    assert rel_error(H, mixed_hess(x)) <= BARS[method]


@pytest.mark.parametrize("method", METHODS)
def test_float_x_gives_a_float(method):
    h = dfd.hessian(lambda x: np.exp(2 * x), method=method)(0.5)
    assert isinstance(h, float) and h == pytest.approx(4 * np.exp(1.0), rel=BARS[method])


def test_quadratic_is_exact_to_rounding():
    A = np.array([[4.0, 1.0, -2.0], [1.0, 3.0, 0.5], [-2.0, 0.5, 5.0]])
    H = dfd.hessian(lambda x: 0.5 * x @ A @ x, method="central")(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(H, A, atol=1e-7)


@pytest.mark.parametrize("method", METHODS)
def test_args_and_kwargs_reach_f(method):
    def f(x, a, *, b):
        return a * np.sum(x ** 3) + b * x[0] * x[1]

    H = dfd.hessian(f, method=method)(np.array([1.0, 2.0]), 2.0, b=3.0)
    np.testing.assert_allclose(H, [[12.0, 3.0], [3.0, 24.0]], rtol=BARS[method] * 10)


@pytest.mark.parametrize("vectorized", [False, True])
def test_central_calls_and_vectorized_mode(vectorized):
    calls = []

    def f(x):
        calls.append(x.shape)
        return rosen(x)   # broadcasts over a trailing axis of points

    x = np.linspace(-1.0, 1.0, 5)
    H = dfd.hessian(f, method="central", vectorized=vectorized)(x)
    assert rel_error(H, rosen_hess(x)) <= BARS["central"]
    if vectorized:
        assert calls == [(5, 1 + 2 * 25)]
    else:
        assert len(calls) == 1 + 2 * 25   # f(x), 2 per diagonal, 4 per pair


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("where", ["lower", "upper", "tight"])
def test_bounds_are_never_left(method, where):
    x = np.array([-1.2, 1.0, 0.5, 2.0])
    lb, ub = {"lower": (x, x + 1), "upper": (x - 1, x),
              "tight": (x - 1e-3, x + 1e-3)}[where]
    seen = []

    def f(p):
        seen.append(np.real(getattr(p, "value", p)).copy())   # Dual, complex
        return rosen(p)

    H = dfd.hessian(f, method=method, bounds=(lb, ub))(x)
    assert all(np.all((lb <= p) & (p <= ub)) for p in seen)
    # one-sided stencils are second order too, with larger constants
    assert rel_error(H, rosen_hess(x)) <= 100 * BARS[method]


def test_no_room_within_bounds():
    x = np.array([0.0, 1.0])
    with pytest.raises(ValueError, match=r"leave no room for a hessian stencil around "
                                         r"x\[1\] = 1.0"):
        dfd.hessian(rosen, method="central",
                    bounds=(np.array([-1, 1 - 1e-9]), np.array([1, 1 + 1e-9])))(x)
    # two lists of two for an x of two entries read as (lb, ub) and as two
    # (lo, hi) pairs: ambiguous, so an error (this test once passed it as (lb, ub))
    with pytest.raises(ValueError, match=r"ambiguous for x with 2 entries"):
        dfd.hessian(rosen, method="central", bounds=([-1, 1 - 1e-9], [1, 1 + 1e-9]))(x)
    with pytest.raises(ValueError, match=r"x\[0\] = 0.0 lies outside bounds"):
        dfd.hessian(rosen, method="central", bounds=(0.5, 2.0))(x)


@pytest.mark.parametrize("method", ["central", "complex"])
def test_mgh_objectives(method):
    """Against central differences of the analytic gradient (~1e-10), at x0 (the
    exact 'dual' against a complex-step reference: tests/test_hessian_exact.py).
    Besides truncation, the error has a rounding part: eps |f| / h**2 for
    second differences of f, eps |g| / h for first differences of g."""
    eps = np.finfo(float).eps
    for p in mgh.PROBLEMS:
        x = np.asarray(p.x0, dtype=float)
        step = None
        if p.name == "osborne1" and method == "central":
            # exp(-t x) with t up to 320 varies on a scale of 1/320, which the
            # rule eps**(1/4) * max(1, |x|) does not see (error ~1e-4): pass
            # a step for that scale
            step = eps ** 0.25 / 32
        H = dfd.hessian(p.objective, method=method, step=step)(x)
        ref = dfd.jacobian(p.gradient)(x)
        ref = (ref + ref.T) / 2
        s = np.maximum(1, np.abs(x))
        if method == "central":
            rounding = eps * abs(p.objective(x)) / np.outer(s, s) / eps ** 0.5
        else:
            rounding = eps * np.abs(p.gradient(x)).max() / s / eps ** (1 / 3)
        # f computed with cancellation (trigonometric: n - sum(cos x) ~ 0.05)
        # rounds worse than eps |f|: a 10x wider bar than for Rosenbrock
        tol = 10 * BARS[method] * max(1, np.abs(ref).max()) + 100 * rounding
        assert np.all(np.abs(H - ref) <= tol), p.name


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(method="forward"), ValueError, r"method must be one of 'dual', 'complex', "
                                         r"'central', 'adaptive', 'auto', '3-point', "
                                         r"'cs'; got "
                                         r"'forward'"),
    (dict(method="2-point"), ValueError, r"method must be one of .*; got '2-point'"),
    (dict(method="dual", vectorized=True), ValueError, r"vectorized applies to"),
    (dict(method="central", chunk=2), ValueError, r"chunk applies only to method='dual'"),
    (dict(step=0.0), ValueError, r"step must be finite and positive"),
    (dict(bounds=(1.0, 0.0)), ValueError, r"lb must not exceed ub"),
    (dict(vectorized="no"), ValueError, r"vectorized must be True or False"),
])
def test_bad_options(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        dfd.hessian(rosen, **kwargs)


def test_bad_f_and_outputs():
    with pytest.raises(TypeError, match="f must be callable"):
        dfd.hessian(3.0)
    with pytest.raises(ValueError, match="needs f to return a scalar"):
        dfd.hessian(lambda x: x ** 2, method="central")(np.ones(2))
    with pytest.raises(ValueError, match="needs f to return a scalar"):
        dfd.hessian(lambda x: x ** 2, method="complex")(np.ones(2))
    with pytest.raises(ValueError, match="non-finite value"), np.errstate(invalid="ignore"):
        dfd.hessian(lambda x: np.log(x[0]), method="central")(np.array([1e-5, 1.0]))
    with pytest.raises(ValueError, match=r"step\[1\] = 1e-30 does not change x\[1\]"):
        dfd.hessian(rosen, method="central", step=[1e-3, 1e-30])(np.array([0.0, 2.0]))
