"""dualfd's callables inside scipy.optimize: minimize, least_squares, root.

Evaluation counts are counted honestly: every call of f goes through a counter,
the ones SciPy makes and the ones dualfd makes, and a vectorized call counts
its points.  res.nfev alone would hide the calls a jac= callable makes.
"""

import warnings

import numpy as np
import pytest
from scipy.optimize import least_squares, minimize, root, rosen_der, rosen_hess

import dualfd as dfd
import problems as mgh
from problems import rosenbrock_objective as rosen  # NumPy-only: works for a Dual


def mgh_params(square=False):
    return [pytest.param(p, id=p.name) for p in mgh.PROBLEMS
            if not square or p.m == p.n]


class Counter:
    """f with a count of the points it was evaluated at, and a bounds check."""

    def __init__(self, f, lb=-np.inf, ub=np.inf):
        self.f, self.lb, self.ub = f, lb, ub
        self.calls = self.points = 0

    def __call__(self, x, *args):
        v = np.real(getattr(x, "value", x))   # a Dual's value, a complex step's real part
        self.calls += 1
        self.points += v.shape[-1] if v.ndim == 2 else 1
        assert np.all((self.lb <= v.T) & (v.T <= self.ub)), f"f evaluated at {v}"
        return self.f(x, *args)


def start(n):
    """The classic Rosenbrock start, -1.2 and 1 alternating."""
    x0 = np.ones(n)
    x0[::2] = -1.2
    return x0


def minimize_quietly(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # "precision loss" ends are compared below
        return minimize(*args, **kwargs)


# --- minimize(f, x0, jac=dfd.grad(f)) ------------------------------------------

@pytest.mark.parametrize("n", [2, 5, 10])
@pytest.mark.parametrize("method", ["BFGS", "L-BFGS-B", "CG", "Newton-CG"])
def test_minimize_with_grad_reaches_the_analytic_optimum(method, n):
    x0 = start(n)
    ref = minimize_quietly(rosen, x0, jac=rosen_der, method=method)
    res = minimize_quietly(rosen, x0, jac=dfd.grad(rosen), method=method)
    assert res.success
    np.testing.assert_allclose(res.x, ref.x, atol=2e-4)
    assert res.fun <= ref.fun + 1e-8


@pytest.mark.parametrize("method", ["central", "dual"])
@pytest.mark.parametrize("p", mgh_params())
def test_bfgs_on_mgh_objectives(p, method):
    """A minimum no worse than with the analytic gradient: the same to ~1e-4
    with dual gradients, though where the minimum is singular (extended
    Powell) the iterates part and either run may stop lower; with central
    ones BFGS may stop elsewhere on a flat valley (penalty_i: 7.09e-5 against
    7.18e-5)."""
    x0 = np.array(p.x0)
    ref = minimize_quietly(p.objective, x0, jac=p.gradient, method="BFGS")
    if not ref.success:
        pytest.skip(f"BFGS fails from x0 with the analytic gradient: {ref.message}")
    res = minimize_quietly(p.objective, x0, jac=dfd.grad(p.objective, method=method),
                           method="BFGS")
    rtol = 1e-4 if method == "dual" else 2e-2
    assert res.fun <= ref.fun + rtol * abs(ref.fun) + 1e-8


@pytest.mark.parametrize("fd", ["forward", "central"])
def test_value_and_grad_with_jac_true(fd):
    x0 = start(6)
    ref = minimize_quietly(rosen, x0, jac=rosen_der, method="BFGS")
    f = Counter(rosen)
    res = minimize_quietly(dfd.value_and_grad(f, method=fd), x0, jac=True, method="BFGS")
    np.testing.assert_allclose(res.x, ref.x, atol=2e-4)
    # one value_and_grad call per point SciPy asks for: n + 1 evaluations
    # (forward: f(x) is a stencil point) or 2n + 1 (central)
    per_call = {"forward": 6 + 1, "central": 2 * 6 + 1}[fd]
    assert f.points == res.nfev * per_call


@pytest.mark.parametrize("n", [2, 6])
def test_lbfgsb_bounds_are_respected_by_every_evaluation(n):
    # the unconstrained optimum (1, ..., 1) lies outside: the solution is on
    # the upper bound in some coordinates, and x0 starts on the lower one
    lb, ub = np.full(n, -1.2), np.full(n, 0.8)
    x0 = start(n)
    f = Counter(rosen, lb, ub)
    box = list(zip(lb, ub))
    ref = minimize_quietly(rosen, x0, jac=rosen_der, method="L-BFGS-B", bounds=box)
    res = minimize_quietly(f, x0, jac=dfd.grad(f, bounds=(lb, ub)), method="L-BFGS-B",
                           bounds=box)
    np.testing.assert_allclose(res.x, ref.x, atol=1e-5)
    assert np.isclose(res.x, ub).any() and f.points > res.nfev
    # SciPy's own "2-point" gives the same answer (and also stays inside)
    g = Counter(rosen, lb, ub)
    theirs = minimize_quietly(g, x0, jac="2-point", method="L-BFGS-B", bounds=box)
    np.testing.assert_allclose(theirs.x, ref.x, atol=1e-4)


def test_lbfgsb_bound_hit_by_the_stencil_turns_one_sided():
    """x0 on a bound whose other side is the optimum's: a central step would
    cross the bound at the first gradient."""
    f = Counter(rosen, 0.0, 2.0)
    x0 = np.array([0.0, 2.0, 0.0])
    box = [(0.0, 2.0)] * 3
    ref = minimize_quietly(rosen, x0, jac=rosen_der, method="L-BFGS-B", bounds=box)
    res = minimize_quietly(f, x0, jac=dfd.grad(f, bounds=(0.0, 2.0)), method="L-BFGS-B",
                           bounds=box)
    np.testing.assert_allclose(res.x, ref.x, atol=1e-5)
    np.testing.assert_allclose(res.x, 1.0, atol=1e-3)


def test_args_reach_f_through_every_callable():
    """SciPy passes args= to fun, jac and hess; dualfd passes them on to f."""
    def f(x, a, b):
        return np.sum(b * (x[1:] - x[:-1] ** 2) ** 2 + (a - x[:-1]) ** 2)

    a, b = 2.0, 10.0   # minimum at x = (a, a^2, a^4, ...) for n = 2: (2, 4)
    x0 = np.array([-1.0, 1.0])
    for kw in [dict(jac=dfd.grad(f), method="BFGS"),
               dict(jac=True, method="BFGS"),
               dict(jac=dfd.grad(f), hess=dfd.hessian(f, method="central"),
                    method="trust-exact"),
               dict(jac=dfd.grad(f), hess=dfd.hessian(f, method="complex"),
                    method="Newton-CG")]:
        fun = dfd.value_and_grad(f) if kw["jac"] is True else f
        res = minimize_quietly(fun, x0, args=(a, b), **kw)
        np.testing.assert_allclose(res.x, [a, a * a], rtol=1e-5, err_msg=str(kw))

    def r(x, a, b):
        return np.array([np.sqrt(b) * (x[1] - x[0] ** 2), a - x[0]])

    res = least_squares(r, x0, jac=dfd.jacobian(r), args=(a, b))
    np.testing.assert_allclose(res.x, [a, a * a], rtol=1e-6)
    res = root(r, x0, jac=dfd.jacobian(r), args=(a, b))
    np.testing.assert_allclose(res.x, [a, a * a], rtol=1e-6)


# --- hess= ------------------------------------------------------------------------

@pytest.mark.parametrize("hmethod", ["central", "complex",
                                     "dual"])
@pytest.mark.parametrize("method", ["trust-exact", "Newton-CG", "trust-krylov"])
def test_hess_gives_the_analytic_newton_iterations(method, hmethod):
    x0 = start(6)
    ref = minimize_quietly(rosen, x0, jac=rosen_der, hess=rosen_hess, method=method)
    gmethod = "central" if hmethod == "central" else hmethod
    res = minimize_quietly(rosen, x0, jac=dfd.grad(rosen, method=gmethod),
                           hess=dfd.hessian(rosen, method=hmethod), method=method)
    assert res.success
    np.testing.assert_allclose(res.x, ref.x, atol=1e-6)
    # Hessians good to ~1e-8: the same Newton steps, so the same iterations
    assert abs(res.nit - ref.nit) <= 2


def test_newton_cg_with_hessp_from_jvp_of_the_gradient():
    """hessp(x, p) = H @ p as one jvp of the gradient: 2 gradients, no H."""
    g = dfd.grad(rosen, method="complex")
    hvp = dfd.jvp(g)
    x0 = start(8)
    ref = minimize_quietly(rosen, x0, jac=rosen_der, hess=rosen_hess,
                           method="Newton-CG")
    res = minimize_quietly(rosen, x0, jac=g, hessp=lambda x, p: hvp(x, p)[1],
                           method="Newton-CG")
    assert res.success
    np.testing.assert_allclose(res.x, ref.x, atol=1e-6)


# --- evaluation counts --------------------------------------------------------------

def count_minimize(method, n, jac):
    f = Counter(rosen)
    res = minimize_quietly(f, start(n), method=method,
                           jac=jac if isinstance(jac, str) else jac(f))
    return f, res


@pytest.mark.parametrize("method", ["BFGS", "L-BFGS-B", "CG"])
def test_vectorized_grad_needs_fewer_calls_than_scipy_fd(method):
    """rosen broadcasts over a trailing axis, so a vectorized gradient is one
    call of f; SciPy's "2-point" calls f n times per gradient.  The points
    evaluated are comparable: 2n per central gradient vs n per 2-point one."""
    n = 8
    ours_f, ours = count_minimize(method, n, lambda f: dfd.grad(f, vectorized=True))
    theirs_f, theirs = count_minimize(method, n, "3-point")
    np.testing.assert_allclose(ours.x, theirs.x, atol=1e-4)
    assert ours_f.calls == ours.nfev + ours.njev
    assert ours_f.calls < theirs_f.calls / 4
    two_f, _ = count_minimize(method, n, "2-point")
    assert ours_f.calls < two_f.calls / 2


@pytest.mark.parametrize("n", [3, 10])
@pytest.mark.parametrize("method", ["BFGS", "L-BFGS-B", "CG"])
def test_dual_grad_needs_fewer_evaluations_than_scipy_fd(method, n):
    """A dual gradient is one pass of f (at ~(1 + k) times the cost of a real
    evaluation, k = chunk): calls of f are nfev + njev, against
    nfev + n * njev for SciPy's "2-point" and nfev + 2n * njev for "3-point"."""
    ours_f, ours = count_minimize(method, n, lambda f: dfd.grad(f, method="dual"))
    ref = minimize_quietly(rosen, start(n), jac=rosen_der, method=method)
    np.testing.assert_allclose(ours.x, ref.x, atol=1e-4)
    assert ours_f.calls == ours.nfev + ours.njev
    for fd in ["2-point", "3-point"]:
        theirs_f, theirs = count_minimize(method, n, fd)
        np.testing.assert_allclose(ours.x, theirs.x, atol=1e-4)
        assert ours_f.calls < theirs_f.calls


def test_the_counts_the_readme_quotes():
    """BFGS, 10-d Rosenbrock from the classic start: 83 dual calls, 924 points
    for SciPy's "2-point"."""
    ours = Counter(rosen)
    res = minimize_quietly(dfd.value_and_grad(ours, method="dual"), start(10), jac=True,
                           method="BFGS")
    theirs = Counter(rosen)
    ref = minimize_quietly(theirs, start(10), jac="2-point", method="BFGS")
    np.testing.assert_allclose(res.x, ref.x, atol=1e-4)
    assert ours.calls == res.nfev and ours.calls <= 100 and theirs.points >= 800


# --- least_squares and root on the More-Garbow-Hillstrom problems -------------------

@pytest.mark.parametrize("p", mgh_params())
def test_least_squares_reaches_the_analytic_solution(p):
    x0 = np.asarray(p.x0, dtype=float)
    ref = least_squares(p.residual, x0, jac=p.jacobian)
    res = least_squares(p.residual, x0, jac=dfd.jacobian(p.residual))
    assert res.status > 0
    # the same sum of squares; the same x where the minimizer is isolated
    assert res.cost == pytest.approx(ref.cost, rel=1e-6, abs=1e-12 * (1 + 2 * ref.cost))
    if np.linalg.matrix_rank(ref.jac, tol=1e-6 * np.abs(ref.jac).max()) == p.n:
        canon = _SYMMETRIES.get(p.name, lambda x: x)
        np.testing.assert_allclose(canon(res.x), canon(ref.x), rtol=1e-4,
                                   atol=1e-6 * max(1, np.abs(ref.x).max()))


def _biggs_canonical(x):
    """Biggs EXP6 is x3 e^(-t x1) - x4 e^(-t x2) + x6 e^(-t x5) - y: swapping the
    terms (x1, x3) and (x5, x6) leaves it unchanged, so its minimizer is isolated
    but not unique; both solvers may reach either copy (the step's last bit
    decides).  The copy with x1 <= x5 stands for both."""
    x = np.array(x, dtype=float)
    if x[0] > x[4]:
        x[[0, 2, 4, 5]] = x[[4, 5, 0, 2]]
    return x


_SYMMETRIES = {"biggs_exp6": _biggs_canonical}


@pytest.mark.parametrize("p", mgh_params(square=True))
def test_root_reaches_the_analytic_solution(p):
    x0 = np.asarray(p.x0, dtype=float)
    ref = root(p.residual, x0, jac=p.jacobian)
    res = root(p.residual, x0, jac=dfd.jacobian(p.residual))
    assert res.success == ref.success, (res.message, ref.message)
    if ref.success:
        np.testing.assert_allclose(res.x, ref.x, rtol=1e-6,
                                   atol=1e-8 * max(1, np.abs(ref.x).max()))
