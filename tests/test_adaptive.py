"""method='adaptive' (extrapolated central differences with error estimates) and the
fixed higher-order stencils (order=4, 6, 8), against analytic derivatives, SciPy's
scipy.differentiate and numdifftools.

The error estimate is held to the issue's bar: it bounds the true error in at least
99% of the entries of the Moré–Garbow–Hillstrom set (x0, perturbed and badly scaled
points) and of an oscillatory family, and never falls below it by more than 10x.  The
true error is measured against analytic derivatives evaluated in float64, whose own
rounding (a few eps |J|) is allowed for.
"""

import pickle
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from scipy.optimize._numdiff import approx_derivative   # not re-exported by SciPy

import dualfd as dfd
from dualfd import _adaptive
from problems import (BY_NAME, PROBLEMS, broyden_tridiagonal_jacobian,
                      broyden_tridiagonal_residual, perturbed_points, scaled_points)

EPS = np.finfo(float).eps


def scaled_error(J, exact):
    return np.max(np.abs(J - exact)) / max(1.0, np.max(np.abs(exact)))


def mgh_cases():
    out = []
    for p in PROBLEMS:
        rng = np.random.default_rng(zlib.crc32(p.name.encode()))
        out += [(p, x) for x in [p.x0.copy()] + perturbed_points(p, rng)]
    return out + scaled_points()


class Coverage:
    """How often, and by how much, the estimate falls below the true error."""

    def __init__(self):
        self.entries = self.under = 0
        self.worst = 0.0

    def add(self, D, exact, error):
        err = np.abs(np.asarray(D) - exact)
        allowed = np.asarray(error) + 4 * EPS * np.abs(exact)   # the reference's rounding
        self.entries += err.size
        self.under += int(np.count_nonzero(err > allowed))
        self.worst = max(self.worst, float(np.max(err / np.maximum(allowed, 1e-300))))

    def check(self):
        assert self.under <= 0.01 * self.entries, (self.under, self.entries)
        assert self.worst <= 10.0, self.worst


@pytest.fixture(scope="module")
def mgh_results():
    out = []
    with np.errstate(all="ignore"):
        for p, x in mgh_cases():
            J, info = dfd.jacobian(p.residual, method="adaptive", full_output=True)(x)
            out.append((p, x, J, info))
    return out


def test_mgh_accuracy(mgh_results):
    """Scaled error <= 1e-10 everywhere on the set (central: 2e-6 is its bar)."""
    for p, x, J, info in mgh_results:
        assert scaled_error(J, p.jacobian(x)) <= 1e-10, (p.name, x)
        assert info.converged.all(), (p.name, x)


def test_mgh_error_estimates_bound_the_error(mgh_results):
    cov = Coverage()
    for p, x, J, info in mgh_results:
        cov.add(J, p.jacobian(x), info.error)
    cov.check()


def test_mgh_evaluations_are_few(mgh_results):
    """About 6 points per variable on average (scipy.differentiate takes ~27 and
    numdifftools ~30 on Broyden n=100; benchmarks/adaptive.py measures them)."""
    evals = sum(info.nfev for *_, info in mgh_results)
    variables = sum(x.size for _, x, _, _ in mgh_results)
    assert evals / variables < 8


def test_vectorized_matches_loop():
    p = BY_NAME["osborne1"]
    J1, i1 = dfd.jacobian(p.residual, method="adaptive", full_output=True)(p.x0)
    J2, i2 = dfd.jacobian(p.residual, method="adaptive", full_output=True,
                          vectorized=True)(p.x0)
    np.testing.assert_array_equal(J1, J2)
    assert i1.nfev == i2.nfev and i2.ncalls < i1.ncalls


def _oscillatory():
    rng = np.random.default_rng(0)
    for w in (1, 10, 100, 1000, 3000):
        x = rng.uniform(-2, 2, 12)
        yield (lambda x, w=w: np.sin(w * x), lambda x, w=w: w * np.cos(w * x), x)
        yield (lambda x, w=w: np.exp(x) * np.sin(w * x),
               lambda x, w=w: np.exp(x) * (np.sin(w * x) + w * np.cos(w * x)), x)
        yield (lambda x, w=w: np.sin(w * np.exp(x / 4)),
               lambda x, w=w: np.cos(w * np.exp(x / 4)) * w * np.exp(x / 4) / 4, x)
        xg = x / w   # a narrow peak: the first steps jump over it
        yield (lambda x, w=w: np.exp(-(w * x) ** 2) * np.cos(w * x),
               lambda x, w=w: np.exp(-(w * x) ** 2) * (-2 * w * w * x * np.cos(w * x)
                                                      - w * np.sin(w * x)), xg)


def test_oscillatory_family():
    cov = Coverage()
    for f, df, x in _oscillatory():
        J, info = dfd.jacobian(f, method="adaptive", full_output=True)(x)
        d = np.diag(J)
        assert np.allclose(d, df(x), rtol=1e-8, atol=1e-8 * np.max(np.abs(df(x))))
        cov.add(d, df(x), np.diag(info.error))
    cov.check()


def test_linear_term_is_exact():
    """Brown's F1 = x1 - 1e6: the steps grow until f's rounding no longer shows."""
    p = BY_NAME["brown_badly_scaled"]
    J = dfd.jacobian(p.residual, method="adaptive")(p.x0)
    assert J[0, 0] == 1.0 and J[0, 1] == 0.0
    x = np.array([1e6, 2e-6])
    J = dfd.jacobian(p.residual, method="adaptive")(x)
    assert scaled_error(J, p.jacobian(x)) <= 1e-12


def test_quadratic_takes_two_levels():
    x = np.full(100, -1.0)
    J, info = dfd.jacobian(broyden_tridiagonal_residual, method="adaptive",
                           full_output=True)(x)
    np.testing.assert_allclose(J, broyden_tridiagonal_jacobian(x), rtol=0, atol=1e-12)
    assert info.nfev == 1 + 4 * 100


def _peer_cases():
    """(name, J, info, x) of dualfd's adaptive Jacobian where the peers are compared."""
    for name in ("osborne1", "powell_badly_scaled", "helical_valley", "biggs_exp6"):
        p = BY_NAME[name]
        x = p.x0 * 1.01 + 0.01
        J, info = dfd.jacobian(p.residual, method="adaptive", full_output=True)(x)
        yield p, x, J, info


def test_agrees_with_scipy_differentiate():
    sd = pytest.importorskip("scipy.differentiate")
    for p, x, J, info in _peer_cases():
        ref = sd.jacobian(p.residual, x)
        ok = np.abs(J - ref.df) <= ref.error + info.error + 8 * EPS * np.abs(ref.df)
        assert ok[ref.success].all(), p.name


def test_agrees_with_numdifftools():
    nd = pytest.importorskip("numdifftools")
    for p, x, J, info in _peer_cases():
        est = nd.Jacobian(p.residual, full_output=True)(x)   # (J, error, ...)
        ref = np.asarray(est[0]).reshape(J.shape)
        rerr = np.asarray(est[1]).reshape(J.shape)
        assert np.all(np.abs(J - ref) <= rerr + info.error + 8 * EPS * np.abs(ref)), p.name


def test_grad_value_and_grad_and_scalar_x():
    f = lambda x: np.sum(np.exp(x) * np.sin(3 * x))
    x = np.array([0.1, -0.7, 1.3])
    exact = np.exp(x) * (np.sin(3 * x) + 3 * np.cos(3 * x))
    g = dfd.grad(f, method="adaptive")(x)
    np.testing.assert_allclose(g, exact, rtol=1e-11)
    v, g2 = dfd.value_and_grad(f, method="adaptive")(x)
    assert v == f(x)
    np.testing.assert_array_equal(g, g2)
    d = dfd.grad(np.tan, method="adaptive")(0.4)
    assert isinstance(d, float) and abs(d - 1 / np.cos(0.4) ** 2) <= 1e-12
    (d, info) = dfd.grad(np.tan, method="adaptive", full_output=True)(0.4)
    assert isinstance(info.error, float) and info.error >= abs(d - 1 / np.cos(0.4) ** 2)


def test_jvp():
    p = BY_NAME["biggs_exp6"]
    x = p.x0 + 0.1
    v = np.linspace(-1, 2, x.size)
    (value, t), info = dfd.jvp(p.residual, method="adaptive", full_output=True)(x, v)
    exact = p.jacobian(x) @ v
    np.testing.assert_array_equal(value, p.residual(x))
    assert np.all(np.abs(t - exact) <= info.error + 4 * EPS * np.abs(exact))
    assert scaled_error(t, exact) <= 1e-10
    _, t0 = dfd.jvp(p.residual, method="adaptive")(x, np.zeros_like(x))
    assert not np.any(t0)


def test_jvp_with_bounds_steps_inside():
    lb = np.array([0.5, 1.0])
    seen = []

    def f(x):
        seen.append(x.copy())
        return np.sin(x[0]) * np.exp(x[1])

    x, v = np.array([0.5, 1.0]), np.array([1.0, 2.0])
    _, t = dfd.jvp(f, method="adaptive", bounds=(lb, np.inf))(x, v)
    assert abs(t - (np.cos(0.5) * np.e + 2 * np.sin(0.5) * np.e)) <= 1e-9
    assert all(np.all(p >= lb) for p in seen)


def test_bounds_use_one_sided_sequences():
    seen = []

    def f(x):
        seen.append(x.copy())
        return np.stack([np.log(x[0]) * x[1], np.sqrt(x[1] - 2.0)])

    x = np.array([1e-3, 2.0 + 1e-2])
    lb = np.array([0.0, 2.0])
    J, info = dfd.jacobian(f, method="adaptive", bounds=(lb, np.inf),
                           full_output=True)(x)
    exact = np.array([[x[1] / x[0], np.log(x[0])], [0.0, 0.5 / np.sqrt(x[1] - 2.0)]])
    assert np.all(np.abs(J - exact) <= info.error + 1e-9 * np.abs(exact))
    assert all(np.all(p >= lb) for p in seen)


def test_nonfinite_trial_points_shrink_the_sequence():
    """log beyond its domain at the first steps: the sequence restarts smaller."""
    with np.errstate(invalid="ignore"):
        d = dfd.grad(np.log, method="adaptive")(1e-3)
    assert abs(d - 1e3) <= 1e-9 * 1e3


def test_nonfinite_everywhere_near_x_raises():
    f = lambda x: 0.0 if x == 1.0 else np.nan
    with pytest.raises(ValueError, match="not finite arbitrarily close to x"):
        dfd.grad(f, method="adaptive")(1.0)


def test_nonfinite_at_x_raises():
    with pytest.raises(ValueError, match=r"non-finite value \(inf\).*evaluated at x"):
        dfd.grad(lambda x: np.inf * x, method="adaptive")(1.0)


def test_accuracy_error_when_the_sequence_cannot_converge():
    """A jump at x: the quotients grow like 1/h and no estimate settles.  (A jump
    within the first steps but not at x is fine: f is smooth at x, and the small
    steps find its derivative.)"""
    f = lambda x: np.where(x > 0.3, 1.0, 0.0) + x
    near = lambda x: np.where(x > 0.3 + 1e-4, 1.0, 0.0) + x
    assert dfd.grad(near, method="adaptive")(0.3) == 1.0
    with pytest.raises(dfd.AccuracyError, match="estimated error of d f / d x") as e:
        dfd.grad(f, method="adaptive")(0.3)
    assert not np.all(e.value.info.converged)
    d, info = dfd.grad(f, method="adaptive", full_output=True)(0.3)
    assert not info.converged and info.error > 1e-6


def test_hessian():
    for name in ("rosenbrock", "helical_valley", "wood", "biggs_exp6"):
        p = BY_NAME[name]
        x = p.x0 * 1.01 + 0.02
        H, info = dfd.hessian(p.objective, method="adaptive", full_output=True)(x)
        # reference: SciPy's central differences of the analytic gradient 2 J^T F
        # (error ~1e-10 relative, far below what is asserted)
        exact = approx_derivative(p.gradient, x, method="3-point")
        exact = (exact + exact.T) / 2
        np.testing.assert_array_equal(H, H.T)
        assert scaled_error(H, exact) <= 1e-7, name
        assert np.all(np.abs(H - exact) <= info.error + 1e-9 * np.abs(exact)), name
        assert info.converged.all()


@pytest.mark.parametrize("order", [4, 6, 8])
def test_fixed_orders(order):
    f = lambda x: np.exp(np.sin(x)) * x ** 2
    df = lambda x: np.exp(np.sin(x)) * (np.cos(x) * x ** 2 + 2 * x)
    x = np.linspace(0.3, 2.0, 7)
    J = dfd.jacobian(f, order=order)(x)
    assert np.max(np.abs(np.diag(J) - df(x)) / np.abs(df(x))) <= 1e-10
    J = dfd.jacobian(f, order=order, bounds=(x, np.inf))(x)   # one-sided, same order
    assert np.max(np.abs(np.diag(J) - df(x)) / np.abs(df(x))) <= 1e-8
    J = dfd.jacobian(f, order=order, vectorized=True)(x)
    assert np.max(np.abs(np.diag(J) - df(x)) / np.abs(df(x))) <= 1e-10


def test_fixed_orders_beat_central_on_the_mgh_set():
    worse = 0
    for p in PROBLEMS:
        x = p.x0 * 1.01 + 0.01
        e2 = scaled_error(dfd.jacobian(p.residual)(x), p.jacobian(x))
        try:
            e4 = scaled_error(dfd.jacobian(p.residual, order=4)(x), p.jacobian(x))
        except dfd.AccuracyError:   # refused: tested below
            continue
        worse += e4 > max(e2, 1e-12)
    assert worse <= 3


def test_fornberg_weights():
    np.testing.assert_allclose(_adaptive.weights([1, -1, 2, -2]),
                               [2 / 3, -2 / 3, -1 / 12, 1 / 12], rtol=1e-14)
    np.testing.assert_allclose(_adaptive.weights([1, -1, 2, -2, 3, -3]),
                               [3 / 4, -3 / 4, -3 / 20, 3 / 20, 1 / 60, -1 / 60],
                               rtol=1e-14)
    np.testing.assert_allclose(_adaptive.weights([0, 1, 2]), [-1.5, 2, -0.5],
                               rtol=1e-14)
    # exact on polynomials of degree np - 1, at arbitrary offsets
    o = np.array([-0.3, 0.2, 1.1, 2.5, -1.7])
    w = _adaptive.weights(list(o))
    for d in range(5):
        assert abs(w @ o ** d - (1.0 if d == 1 else 0.0)) <= 1e-12
    with pytest.raises(ValueError, match="distinct"):
        _adaptive.weights([1.0, 1.0])


def test_caller_arrays_untouched_and_pickle():
    x = np.array([0.3, 0.6])
    x.setflags(write=False)
    jac = dfd.jacobian(np.sin, method="adaptive", rtol=1e-8)
    J = jac(x)
    back = pickle.loads(pickle.dumps(jac))
    np.testing.assert_array_equal(back(x), J)
    assert back.opts.rtol == 1e-8


def test_workers_give_the_serial_result():
    p = BY_NAME["osborne1"]
    J = dfd.jacobian(p.residual, method="adaptive")(p.x0)
    with ThreadPoolExecutor(2) as pool:
        Jw = dfd.jacobian(p.residual, method="adaptive", workers=pool)(p.x0)
        q = BY_NAME["biggs_exp6"]
        J4 = dfd.jacobian(q.residual, order=4)(q.x0)
        J4w = dfd.jacobian(q.residual, order=4, workers=pool)(q.x0)
    np.testing.assert_array_equal(J, Jw)
    np.testing.assert_array_equal(J4, J4w)


@pytest.mark.parametrize("kwargs, match", [
    (dict(method="adaptive", rtol=-1.0), "rtol must be a non-negative finite float"),
    (dict(method="adaptive", rtol=float("nan")), "rtol must be"),
    (dict(method="adaptive", atol=float("inf")), "atol must be"),
    (dict(method="adaptive", rtol="tight"), "rtol must be"),
    (dict(method="adaptive", rtol=0.0, atol=0.0), "both 0"),
    (dict(method="central", rtol=1e-8), "rtol and atol apply to method='adaptive'"),
    (dict(method="dual", atol=1e-8), "rtol and atol apply to method='adaptive'"),
    (dict(method="central", full_output=True), "full_output returns the error estimates"),
    (dict(method="forward", order=4), "order applies to method='central'"),
    (dict(method="adaptive", order=4), "order applies to method='central'"),
    (dict(order=3), "order must be 2, 4, 6 or 8"),
    (dict(order=True), "order must be 2, 4, 6 or 8"),
    (dict(method="adaptive", sparsity=np.eye(2, dtype=bool)), "sparsity applies to the"),
    (dict(method="adaptive", chunk=4), "chunk applies to"),
    (dict(method="adaptive", full_output=True, argnums=1), "does not combine with argnums"),
    (dict(method="adaptive", full_output="yes"), "full_output"),
])
def test_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        dfd.jacobian(lambda x, y=0: x, **kwargs)


def test_bad_hessian_options():
    f = lambda x: np.sum(x ** 2)
    with pytest.raises(ValueError, match="takes no bounds"):
        dfd.hessian(f, method="adaptive", bounds=(0, 1))
    with pytest.raises(ValueError, match="computes every entry"):
        dfd.hessian(f, method="adaptive", sparsity=np.eye(2, dtype=bool))
    with pytest.raises(ValueError, match="apply to method='adaptive'"):
        dfd.hessian(f, method="central", rtol=1e-6)
    with pytest.raises(ValueError, match="needs f to return a scalar"):
        dfd.hessian(lambda x: x, method="adaptive")(np.ones(2))


def test_grad_of_vector_f_raises():
    with pytest.raises(ValueError, match="grad needs f to return a scalar"):
        dfd.grad(lambda x: x, method="adaptive")(np.ones(2))
    with pytest.raises(ValueError, match="grad needs f to return a scalar"):
        dfd.grad(lambda x: x, order=4)(np.ones(2))


def test_into():
    f = lambda x: np.stack([np.sin(x[0]) * x[1], x[1] ** 2])
    x = np.array([0.4, 1.5])
    out = np.empty((2, 2))
    r = dfd.jacobian(f, method="adaptive").into(out, x)
    assert r is out
    np.testing.assert_allclose(out, [[np.cos(0.4) * 1.5, np.sin(0.4)], [0.0, 3.0]],
                               rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="out must be float64 of shape"):
        dfd.jacobian(f, order=4).into(np.empty(3), x)


@pytest.mark.parametrize("order", [4, 6, 8])
def test_fixed_orders_refuse_a_step_too_large_for_f(order):
    """Osborne 1's exp(-t x4), t up to 320, at x4 ~ 0.02: the default steps of the
    wide stencils span several of its scale lengths (order=8 was off by 3e6)."""
    p = BY_NAME["osborne1"]
    with pytest.raises(dfd.AccuracyError, match=f"order={order}: .* too large for f"):
        dfd.jacobian(p.residual, order=order)(p.x0)
    J = dfd.jacobian(p.residual, order=order, step=1e-4)(p.x0)
    assert scaled_error(J, p.jacobian(p.x0)) <= 1e-7


def test_fixed_orders_on_the_mgh_set_are_right_or_refused():
    """Where the order-(p-2) check passes, the result is within central's bar."""
    for order in (4, 6, 8):
        refused = 0
        for p in PROBLEMS:
            x = p.x0 * 1.01 + 0.01
            try:
                with np.errstate(all="ignore"):
                    J = dfd.jacobian(p.residual, order=order)(x)
            except dfd.AccuracyError:
                refused += 1
                continue
            assert scaled_error(J, p.jacobian(x)) <= 2e-6, (order, p.name)
        assert refused <= 5, order


def test_strictly_vectorized_f():
    """f that indexes the trailing axis: every call gets one (f(x) included)."""
    calls = []

    def f(x):
        calls.append(x.shape)
        return np.stack([x[0, :] ** 2, x[0, :] * x[1, :]])

    x = np.array([1.5, -0.5])
    J, info = dfd.jacobian(f, method="adaptive", vectorized=True, full_output=True)(x)
    np.testing.assert_allclose(J, [[3.0, 0.0], [-0.5, 1.5]], rtol=1e-12, atol=1e-14)
    assert all(len(s) == 2 for s in calls)
    assert info.ncalls == len(calls) and info.nfev == sum(s[1] for s in calls)
    J = dfd.jacobian(f, order=4, vectorized=True)(x)
    np.testing.assert_allclose(J, [[3.0, 0.0], [-0.5, 1.5]], rtol=1e-10, atol=1e-12)


def test_step_too_small_for_the_sequence():
    """A user step whose sequence stops changing x would give 0/0 entries."""
    with pytest.raises(ValueError, match=r"step\[0\] = 1e-30 is too small for the adaptive"):
        dfd.jacobian(lambda x: x ** 2, method="adaptive", step=1e-30)(np.array([1.0, 1.0]))
    J = dfd.jacobian(lambda x: x ** 2, method="adaptive", step=1e-3)(np.array([1.0, 2.0]))
    np.testing.assert_allclose(J, np.diag([2.0, 4.0]), rtol=1e-12, atol=1e-14)


def test_jvp_step_too_small_for_the_sequence():
    with pytest.raises(ValueError, match="along v is too small for the adaptive sequence"):
        dfd.jvp(np.sin, method="adaptive", step=1e-30)(np.array([1e10]), np.array([1.0]))


def test_check_grad_with_the_adaptive_reference():
    """A 1e-7 relative mistake in one of 200 entries: too small for central's
    tolerance (1e-6), caught by the adaptive reference, for every direction mode;
    no false alarm on the MGH objectives' analytic gradients."""
    x = np.linspace(-1.0, 1.5, 200)
    f = lambda x: np.sum(np.exp(0.3 * x) * np.sin(x) ** 2)
    g = lambda x: np.exp(0.3 * x) * (0.3 * np.sin(x) ** 2 + np.sin(2 * x))

    def g_wrong(x):
        d = g(x)
        d[57] *= 1 + 1e-7
        return d

    assert dfd.check_grad(f, g_wrong, x).ok        # central cannot see it
    for direction in ("all", "random", "fast"):
        assert dfd.check_grad(f, g, x, method="adaptive", direction=direction).ok
    bad = dfd.check_grad(f, g_wrong, x, method="adaptive")
    assert not bad.ok and bad.worst_index == (57,)
    for name in ("rosenbrock", "osborne1", "powell_badly_scaled", "brown_badly_scaled",
                 "biggs_exp6", "watson_9", "chebyquad_8"):
        p = BY_NAME[name]
        for x in (p.x0, p.x0 * 1.01 + 0.01):
            assert dfd.check_grad(p.objective, p.gradient, x, method="adaptive").ok, name


def test_memory_is_bounded_by_blocks(monkeypatch):
    """Columns go in blocks whose points and state fit the block budget: with a
    budget of 400 doubles and n = 50, one round holds two columns' points."""
    monkeypatch.setattr(_adaptive, "BLOCK_DOUBLES", 400)
    shapes = []

    def f(x):
        shapes.append(x.shape)
        return np.sin(x) * 2.0

    x = np.linspace(0.1, 1.0, 50)
    J = dfd.jacobian(f, method="adaptive", vectorized=True)(x)
    np.testing.assert_allclose(np.diag(J), 2 * np.cos(x), rtol=1e-11)
    assert max(s[-1] for s in shapes[1:]) <= 4


def _objective(x):
    """A module-level f: pickles by reference."""
    return np.sum(np.sin(x) * x[::-1]) + x[0] ** 2 * x[2]


def test_adaptive_hessian_with_workers_pickles_as_serial():
    """Its options are the transforms' own (_Options), which leave workers out when
    pickled, as every transform does; a private copy of them used to carry the
    executor into the pickle."""
    x = np.array([0.3, -0.4, 0.9])
    with ThreadPoolExecutor(2) as pool:
        hess = dfd.hessian(_objective, method="adaptive", workers=pool)
        back = pickle.loads(pickle.dumps(hess))
        np.testing.assert_array_equal(back(x), hess(x))
    assert back.workers is None and back.opts.workers is None
