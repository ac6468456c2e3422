"""Exact Hessians (method="dual") and Hessian-vector products (issue 12).

References, each independent of dualfd:
  * MGH objectives: the complex step of the analytic gradient 2 J^T F, exact to
    rounding (Squire & Trapp 1998), validated against SciPy's approx_derivative;
  * SciPy's rosen_hess / rosen_hess_prod and hand-written Hessians of small
    functions, validated against scipy.differentiate.hessian.
"""

import warnings

import numpy as np
import pytest
import scipy.differentiate
import scipy.optimize as so
from scipy.optimize._numdiff import approx_derivative

import dualfd as dfd
import problems as mgh

EXACT = 1e-13            # dual: exact up to rounding, relative to max(1, max|H|)
# FD hvp differences FD gradients along v, relative to max(1, max|H|) max(1, max|v|):
# the gradient's error over the step plus the step's truncation.  Measured on
# WELL_SCALED with the default steps: central <= 2.9e-6, forward <= 2.9e-5 (chebyquad
# and trigonometric, whose third derivatives are large); bars with ~3x margin.
HVP_BARS = {"dual": EXACT, "auto": EXACT, "complex": 1e-8, "reverse": 1e-8, "central": 1e-5,
            "forward": 1e-4}


def rel_error(a, ref):
    return np.max(np.abs(np.asarray(a) - ref)) / max(1.0, np.max(np.abs(ref)))


# --- the MGH reference: complex step of the analytic gradient ----------------------------

def complex_safe_jacobian(p):
    """p's analytic Jacobian in a form that keeps a complex x complex."""
    if p.name in mgh.COMPLEX_SAFE_JACOBIANS:
        return mgh.COMPLEX_SAFE_JACOBIANS[p.name]

    def J(x):
        # problems built with _jac cast columns to float64; the same formulas with
        # the cast left out
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(mgh, "_jac", mgh.jac_keep_dtype)
            return p.jacobian(x)
    return J


def reference_hessian(p, x, h=1e-20):
    """Column k: Im g(x + i h e_k) / h, g = 2 J^T F.  A Jacobian that dropped the
    imaginary part would warn; that is made an error so the reference is never
    silently the Gauss-Newton part alone."""
    J = complex_safe_jacobian(p)
    H = np.empty((p.n, p.n))
    with warnings.catch_warnings():
        warnings.simplefilter("error", np.exceptions.ComplexWarning)
        for k in range(p.n):
            xc = x.astype(complex)
            xc[k] += 1j * h
            H[:, k] = (2.0 * J(xc).T @ p.residual(xc)).imag / h
    return H


def mgh_points():
    rng = np.random.default_rng(12)
    out = []
    for p in mgh.PROBLEMS:
        out.append(pytest.param(p, p.x0, id=f"{p.name}-x0"))
        out.append(pytest.param(p, mgh.perturbed_points(p, rng, 1)[0], id=f"{p.name}-perturbed"))
    return out


MGH_POINTS = mgh_points()


@pytest.mark.parametrize("p, x", MGH_POINTS)
def test_reference_hessian_is_valid(p, x):
    """The complex-step reference against central differences of the analytic
    gradient: truncation ~h^2 |g'''| plus rounding eps |g| / h."""
    ref = reference_hessian(p, x)
    assert np.all(np.isfinite(ref))
    # the complex-safe Jacobian is the problem's own at real x
    np.testing.assert_allclose(complex_safe_jacobian(p)(x), p.jacobian(x), rtol=1e-15, atol=0)
    fd = approx_derivative(p.gradient, x, method="3-point")
    s = np.maximum(1.0, np.abs(x))
    rounding = 10 * np.finfo(float).eps ** (2 / 3) * np.abs(p.gradient(x)).max() / s
    tol = 1e-6 * max(1.0, np.abs(ref).max()) + rounding
    if p.name == "osborne1":
        # exp(-t x) with t up to 320 varies on a scale of 1/320 that SciPy's step
        # eps**(1/3) max(1, |x|) does not see: pass a step for that scale
        fd = approx_derivative(p.gradient, x, method="3-point", abs_step=1e-8)
    assert np.all(np.abs(ref - fd) <= tol), (p.name, np.max(np.abs(ref - fd) / tol))
    # rounding only: the complex step is symmetric to a few eps
    assert rel_error(ref, ref.T) <= 1e-15


@pytest.mark.parametrize("p, x", MGH_POINTS)
def test_mgh_dual_hessian_is_exact(p, x):
    H = dfd.hessian(p.objective, method="dual")(x)
    assert H.shape == (p.n, p.n)
    np.testing.assert_array_equal(H, H.T)   # symmetric by construction, bitwise
    assert rel_error(H, reference_hessian(p, x)) <= EXACT, p.name


# --- Hessian-vector products -------------------------------------------------------------

def hvp_tolerance(method, ref_H, v):
    return HVP_BARS[method] * max(1.0, np.abs(ref_H).max()) * max(1.0, np.abs(v).max())


@pytest.mark.parametrize("p, x", MGH_POINTS[::2])   # x0 of every problem
def test_mgh_dual_hvp_is_exact(p, x):
    v = np.random.default_rng(p.n).standard_normal(p.n)
    ref_H = reference_hessian(p, x)
    hv = dfd.hvp(p.objective, method="dual")(x, v)
    assert hv.shape == x.shape
    assert np.max(np.abs(hv - ref_H @ v)) <= hvp_tolerance("dual", ref_H, v), p.name


WELL_SCALED = ["rosenbrock", "helical_valley", "wood", "extended_rosenbrock_10",
               "trigonometric_10", "discrete_boundary_value_10", "chebyquad_8"]


@pytest.mark.parametrize("method", ["dual", "auto", "complex", "reverse", "central", "forward"])
@pytest.mark.parametrize("name", WELL_SCALED)
def test_mgh_hvp_methods(method, name):
    p = mgh.BY_NAME[name]
    x = p.x0 + 0.1
    v = np.random.default_rng(1).standard_normal(p.n)
    ref_H = reference_hessian(p, x)
    hv = dfd.hvp(p.objective, method=method)(x, v)
    assert np.max(np.abs(hv - ref_H @ v)) <= hvp_tolerance(method, ref_H, v)


def grid(x):
    """Scalar f of an x of shape (2, 3): every pair of entries in one column coupled."""
    return np.sum(np.exp(x[0] * x[1]) + x[0] ** 2 * np.sin(x[1])) + np.sum(x ** 3)


def grid_gradient(x):
    a, b = x[0], x[1]
    e = np.exp(a * b)
    return np.stack([b * e + 2 * a * np.sin(b), a * e + a * a * np.cos(b)]) + 3 * x ** 2


def complex_step_jacobian(g, x, h=1e-20):
    """d g / d x by the complex step, g analytic; shape g(x).shape + x.shape."""
    cols = []
    for k in range(x.size):
        xc = x.astype(complex).ravel()
        xc[k] += 1j * h
        cols.append(g(xc.reshape(x.shape)).imag / h)
    return np.stack(cols, axis=-1).reshape(x.shape + x.shape)


GRID_X = np.array([[0.3, -0.7, 1.1], [0.4, 0.9, -0.5]])


def test_grid_reference_is_valid():
    np.testing.assert_allclose(grid_gradient(GRID_X), approx_derivative(lambda z: grid(z.reshape(2, 3)), GRID_X.ravel(),
                               method="3-point").reshape(2, 3), rtol=1e-7, atol=1e-9)
    fd = approx_derivative(lambda z: grid_gradient(z.reshape(2, 3)).ravel(),
                           GRID_X.ravel(), method="3-point")
    np.testing.assert_allclose(complex_step_jacobian(grid_gradient, GRID_X).reshape(6, 6),
                               fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("method", ["dual", "complex", "central"])
def test_hvp_nd_x_list_v_args_kwargs(method):
    ref_H = complex_step_jacobian(grid_gradient, GRID_X)
    v = [[1.0, -2.0, 0.5], [0.25, 3.0, -1.0]]
    expected = np.tensordot(ref_H, np.array(v), axes=2)

    def f(x, scale, *, shift):
        return scale * grid(x) + shift

    x = GRID_X.copy()
    hv = dfd.hvp(f, method=method)(x, v, 2.0, shift=7.0)
    assert hv.shape == (2, 3)
    np.testing.assert_array_equal(x, GRID_X)   # the caller's array is left alone
    tol = HVP_BARS[method] * 2.0 * np.abs(ref_H).max() * 3.0
    assert np.max(np.abs(hv - 2.0 * expected)) <= tol


def test_hvp_rosen_hess_prod():
    x = np.linspace(-1.5, 2.0, 7)
    p = np.cos(np.arange(7.0))
    hv = dfd.hvp(mgh.rosenbrock_objective, method="dual")(x, p)
    ref = so.rosen_hess_prod(x, p)
    assert np.max(np.abs(hv - ref)) <= EXACT * max(1.0, np.abs(so.rosen_hess(x)).max()) * 7


# --- SciPy optimizers --------------------------------------------------------------------

def wood_objective(x):
    return mgh.BY_NAME["wood"].objective(x)


def wood_gradient(x):
    return mgh.BY_NAME["wood"].gradient(x)


def test_wood_hessian_is_valid():
    """The hand-expanded wood Hessian against the complex step of its gradient."""
    p = mgh.BY_NAME["wood"]
    for x in [p.x0, np.array([1.0, 1.0, 1.0, 1.0]), np.array([0.3, -2.0, 1.7, 0.4])]:
        assert rel_error(mgh.wood_hessian(x), reference_hessian(p, x)) <= 1e-15


OPT_PROBLEMS = {
    # name: (f for dualfd, f, gradient, Hessian, x0, minimizer)
    "rosen2": (mgh.rosenbrock_objective, so.rosen, so.rosen_der, so.rosen_hess,
               np.array([-1.2, 1.0]), np.ones(2)),
    "rosen10": (mgh.rosenbrock_objective, so.rosen, so.rosen_der, so.rosen_hess,
                np.linspace(0.2, 1.6, 10), np.ones(10)),
    "wood": (wood_objective, wood_objective, wood_gradient, mgh.wood_hessian,
             np.array([-3.0, -1.0, -3.0, -1.0]), np.ones(4)),
}
OPT_CASES = [("trust-exact", "hess"), ("trust-krylov", "hessp"), ("trust-ncg", "hessp"),
             ("trust-ncg", "hess"), ("Newton-CG", "hessp"), ("Newton-CG", "hess")]
# Newton-CG from wood's x0 stops after 800 iterations far from the minimizer even with
# the analytic Hessian (indefinite there, and Newton-CG has no trust region)
OPT_RUNS = [(name, method, kind) for name in OPT_PROBLEMS for method, kind in OPT_CASES
            if not (name == "wood" and method == "Newton-CG")]


def test_optimizer_references_reach_the_minimizer():
    for name, method, kind in OPT_RUNS:
        _, f, g, H, x0, xstar = OPT_PROBLEMS[name]
        extra = {"hess": H} if kind == "hess" else {"hessp": lambda x, p: H(x) @ p}
        res = so.minimize(f, x0, jac=g, method=method, **extra)
        assert res.success, (name, method, kind, res.message)
        # gtol / xtol 1e-5 leave the iterate up to ~4e-4 from the minimizer
        np.testing.assert_allclose(res.x, xstar, atol=1e-3)


@pytest.mark.parametrize("name, method, kind", OPT_RUNS)
def test_scipy_minimize_with_exact_derivatives(name, method, kind):
    fd, f, g, H, x0, xstar = OPT_PROBLEMS[name]
    if kind == "hess":
        analytic, ours = {"hess": H}, {"hess": dfd.hessian(fd, method="dual")}
    else:
        analytic = {"hessp": lambda x, p: H(x) @ p}
        ours = {"hessp": dfd.hvp(fd, method="dual")}
    ref = so.minimize(f, x0, jac=g, method=method, **analytic)
    res = so.minimize(fd, x0, jac=dfd.grad(fd, method="dual"), method=method, **ours)
    assert res.success, res.message
    # identical iterates up to rounding: the same minimizer (to the optimizer's
    # tolerance, gtol = xtol = 1e-5), in as many iterations
    np.testing.assert_allclose(res.x, ref.x, rtol=0, atol=1e-5)
    np.testing.assert_allclose(res.x, xstar, atol=1e-3)
    assert res.nit <= ref.nit, (res.nit, ref.nit)


def test_hessp_takes_scipy_args():
    """SciPy calls hessp(x, p, *args): the extra arguments reach f."""
    def f(x, a):
        return a * mgh.rosenbrock_objective(x)

    def f_ref(x, a):
        return a * so.rosen(x)

    x0 = np.array([-1.2, 1.0])
    ref = so.minimize(f_ref, x0, args=(3.0,), method="trust-krylov",
                      jac=lambda x, a: a * so.rosen_der(x),
                      hessp=lambda x, p, a: a * so.rosen_hess_prod(x, p))
    res = so.minimize(f, x0, args=(3.0,), method="trust-krylov",
                      jac=dfd.grad(f, method="dual"), hessp=dfd.hvp(f, method="dual"))
    np.testing.assert_allclose(res.x, ref.x, rtol=0, atol=1e-5)
    assert res.nit <= ref.nit


# --- bad input ---------------------------------------------------------------------------

def test_hvp_non_scalar_f():
    for method in ["dual", "central"]:
        with pytest.raises(ValueError, match="scalar"):
            dfd.hvp(lambda x: x ** 2, method=method)(np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="scalar"):
        dfd.hessian(lambda x: x ** 2, method="dual")(np.ones(3))


@pytest.mark.parametrize("v", [np.ones(2), np.ones((3, 1)), [1.0, 2.0, 3.0, 4.0], np.ones((1, 3))])
def test_hvp_v_of_the_wrong_shape(v):
    with pytest.raises(ValueError, match="shape"):
        dfd.hvp(mgh.rosenbrock_objective, method="dual")(np.ones(3), v)


def eig_f(x):
    M = np.stack([np.stack([x[0], x[1]]), np.stack([x[1], x[0] * x[1]])])
    return np.sum(np.linalg.eigvals(M)) + np.sum(np.linalg.eig(M)[0])


@pytest.mark.parametrize("make", [
    lambda: dfd.hessian(eig_f, method="dual")(np.array([2.0, 0.5])),
    lambda: dfd.hvp(eig_f, method="dual")(np.array([2.0, 0.5]), np.array([1.0, 0.0])),
], ids=["hessian", "hvp"])
def test_no_second_order_rule_names_the_function(make):
    with pytest.raises(TypeError, match=r"eig") as info:
        make()
    assert "central" in str(info.value), str(info.value)


def test_hvp_unknown_method():
    with pytest.raises(ValueError, match="method"):
        dfd.hvp(mgh.rosenbrock_objective, method="newton")


# --- chunks ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["trigonometric_10", "penalty_ii_10", "brown_almost_linear_10"])
def test_chunks_give_the_same_hessian(name):
    p = mgh.BY_NAME[name]
    x = p.x0 + 0.05 * np.arange(p.n)
    ref = reference_hessian(p, x)
    base = dfd.hessian(p.objective, method="dual")(x)
    scale = max(1.0, np.abs(ref).max())
    for chunk in [1, 2, 3, 7, None]:
        H = dfd.hessian(p.objective, method="dual", chunk=chunk)(x)
        np.testing.assert_array_equal(H, H.T)
        assert np.max(np.abs(H - base)) <= 1e-15 * scale * p.n, chunk
        assert rel_error(H, ref) <= EXACT, chunk


# --- second-order NumPy coverage against hand-written Hessians ---------------------------

RNG = np.random.default_rng(2026)
A = RNG.standard_normal((4, 4))
AS = 0.3 * RNG.standard_normal((3, 3, 3))   # A_1 .. A_3 of M(x) = A0 + sum x_i A_i
A0 = 3.0 * np.eye(3) + 0.2 * RNG.standard_normal((3, 3))


def M_of(x):
    M = A0
    for i in range(3):
        M = M + x[i] * AS[i]
    return M


def logdet_hess(x):
    Mi = np.linalg.inv(M_of(x))
    return np.array([[-np.trace(Mi @ AS[i] @ Mi @ AS[j]) for j in range(3)] for i in range(3)])


def suminv_hess(x):
    Mi = np.linalg.inv(M_of(x))
    return np.array([[np.sum(Mi @ AS[i] @ Mi @ AS[j] @ Mi + Mi @ AS[j] @ Mi @ AS[i] @ Mi)
                      for j in range(3)] for i in range(3)])


def prod_hess(x):
    n = len(x)
    H = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            if i != j:
                H[i, j] = np.prod(np.delete(x, [i, j]))
    return H


def norm_hess(x):
    r = np.linalg.norm(x)
    u = x / r
    return (np.eye(len(x)) - np.outer(u, u)) / r


def logsumexp_hess(x):
    s = np.exp(x) / np.sum(np.exp(x))
    return np.diag(s) - np.outer(s, s)


def var_hess(x):
    n = len(x)
    return 2.0 / n * (np.eye(n) - 1.0 / n)


def einsum_f(x):
    X = x.reshape(3, 3)
    return np.sum(np.einsum("ij,j->i", X, X[0]))   # sum_ij X_ij X_0j


def einsum_hess(x):
    H = np.zeros((9, 9))
    for j in range(3):
        H[j, j] = 2.0                       # X_0j^2
        for i in (1, 2):
            H[3 * i + j, j] = H[j, 3 * i + j] = 1.0
    return H


def composite_hess(d1, d2):
    """Hessian of g(x0 x1) from g' and g'' at u = x0 x1."""
    def hess(x):
        w = np.array([x[1], x[0]])
        u = x[0] * x[1]
        return d2(u) * np.outer(w, w) + d1(u) * np.array([[0.0, 1.0], [1.0, 0.0]])
    return hess


def arctan2_hess(x):
    a, b = x
    r4 = (a * a + b * b) ** 2
    return np.array([[-2 * a * b, a * a - b * b], [a * a - b * b, 2 * a * b]]) / r4


def power_hess(x):
    a, b = x
    la = np.log(a)
    return np.array([[b * (b - 1) * a ** (b - 2), a ** (b - 1) * (1 + b * la)],
                     [a ** (b - 1) * (1 + b * la), a ** b * la * la]])


def divide_hess(x):
    a, b = x
    return np.array([[0.0, -1.0 / b ** 2], [-1.0 / b ** 2, 2 * a / b ** 3]])


X4 = np.array([0.7, -1.3, 0.4, 2.1])
X2 = np.array([1.7, 0.6])
X3 = np.array([0.3, -0.2, 0.5])
X9 = np.linspace(-1.0, 1.3, 9)
tanh = np.tanh

COVERAGE = {
    "power": (lambda x: np.sum(x ** 3), lambda x: np.diag(6 * x), X4),
    "prod": (np.prod, prod_hess, X4),
    "matmul": (lambda x: x @ A @ x, lambda x: A + A.T, X4),
    "slogdet": (lambda x: np.linalg.slogdet(M_of(x))[1], logdet_hess, X3),
    "inv": (lambda x: np.sum(np.linalg.inv(M_of(x))), suminv_hess, X3),
    "norm": (np.linalg.norm, norm_hess, X4),
    "logsumexp": (lambda x: np.log(np.sum(np.exp(x))), logsumexp_hess, X4),
    "var": (np.var, var_hess, X4),
    "einsum": (einsum_f, einsum_hess, X9),
    "tanh": (lambda x: np.sum(tanh(x)) + tanh(x[0] * x[1]),
             lambda x: (np.diag(-2 * tanh(x) * (1 - tanh(x) ** 2)) + np.pad(composite_hess(
                 lambda u: 1 - tanh(u) ** 2,
                 lambda u: -2 * tanh(u) * (1 - tanh(u) ** 2))(x[:2]), [(0, 2), (0, 2)])), X4),
    "arctan2": (lambda x: np.arctan2(x[0], x[1]), arctan2_hess, X2),
    "hypot": (lambda x: np.hypot(x[0], x[1]), norm_hess, X2),
    "power2": (lambda x: np.power(x[0], x[1]), power_hess, X2),
    "divide": (lambda x: x[0] / x[1], divide_hess, X2),
}

try:
    from scipy import special
except ImportError:   # pragma: no cover - SciPy is a test requirement
    special = None
else:
    def _expit1(u):
        s = special.expit(u)
        return s * (1 - s)

    def _expit2(u):
        s = special.expit(u)
        return s * (1 - s) * (1 - 2 * s)

    COVERAGE["expit"] = (lambda x: special.expit(x[0] * x[1]),
                         composite_hess(_expit1, _expit2), X2)
    COVERAGE["erf"] = (lambda x: special.erf(x[0] * x[1]),
                       composite_hess(lambda u: 2 / np.sqrt(np.pi) * np.exp(-u * u),
                                      lambda u: -4 * u / np.sqrt(np.pi) * np.exp(-u * u)), X2)


def looped(f, n):
    """f on x of shape (n,) as the vectorized f that scipy.differentiate wants."""
    def fv(X):
        flat = X.reshape(n, -1)
        return np.array([f(flat[:, k]) for k in range(flat.shape[1])]).reshape(X.shape[1:])
    return fv


@pytest.mark.parametrize("name", list(COVERAGE))
def test_coverage_reference_is_valid(name):
    f, hess, x = COVERAGE[name]
    res = scipy.differentiate.hessian(looped(f, len(x)), x)
    ref = hess(x)
    np.testing.assert_allclose(ref, ref.T, rtol=1e-14, atol=1e-14)
    assert rel_error(res.ddf, ref) <= 1e-6, (name, rel_error(res.ddf, ref))


@pytest.mark.parametrize("name", list(COVERAGE))
def test_coverage_dual_hessian_is_exact(name):
    f, hess, x = COVERAGE[name]
    H = dfd.hessian(f, method="dual")(x)
    np.testing.assert_array_equal(H, H.T)
    assert rel_error(H, hess(x)) <= EXACT, name
