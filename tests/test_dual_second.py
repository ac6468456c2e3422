"""Second-order duals over the Dual's whole coverage list (tests/coverage_list.py):
for every entry, the exact Hessian of a random weighting of its outputs,
``x -> w . f(x)``, against 4th-order central differences of the first-order dual
gradient (independent of the second-order code: only the first-order rules and
implementations, which tests/test_dual_coverage.py checks against complex step).
Entries whose function has no second-order rule must raise TypeError naming it;
the list of those is explicit, so that a new refusal or a new rule shows up here.
Also: the second-order pass in threads, nested first-order passes, wrong Duals."""

import threading
import warnings
import zlib

import numpy as np
import pytest

import dualfd as dfd
from dualfd._dual import SUPPORTED_FUNCTIONS, SUPPORTED_SECOND_ORDER

from test_dual_coverage import ENTRIES, _central4, _flat_function, _inputs

# The NumPy functions refused in a second-order pass: spectral and orthogonal
# factorizations (and what is built on them) have no second-order rule yet, except
# eigvalsh (eigenvalues only).
REFUSED = {
    "linalg.eig", "linalg.eigh", "linalg.eigvals", "linalg.svd",
    "linalg.svdvals", "linalg.pinv", "linalg.lstsq", "linalg.qr", "linalg.cond",
    "linalg.tensorinv", "linalg.tensorsolve",
}
# The coverage entries refused: those functions, products of two Duals without a
# rule (kron, cross, interp of x and fp, average with Dual weights), and the nuclear
# norm (an SVD).  Every other entry must give its exact Hessian.
REFUSED_ENTRIES = {
    "average", "cross", "cross-axis0", "interp", "kron", "linalg.cond", "linalg.eig",
    "linalg.eigh", "linalg.eigh-batched", "linalg.eigh-upper", "linalg.eigvals",
    "linalg.lstsq", "linalg.norm-nuc", "linalg.norm-nuc-axis",
    "linalg.pinv", "linalg.pinv-batched", "linalg.pinv-low-rank", "linalg.pinv-wide",
    "linalg.qr", "linalg.svd", "linalg.svd-batched", "linalg.svd-only-s",
    "linalg.svd-only-s-batched", "linalg.svd-square", "linalg.svd-tall",
    "linalg.svdvals", "linalg.tensorinv", "linalg.tensorsolve",
}


def _scalar(eid):
    f = _flat_function(eid)
    x = np.concatenate([a.ravel() for a in _inputs(eid)])
    w = np.random.default_rng(zlib.crc32(b"w" + eid.encode())).uniform(0.5, 1.5,
                                                                       np.size(f(x)))

    def g(y):
        return np.sum(w * f(y))
    return g, x


@pytest.mark.parametrize("eid", sorted(ENTRIES))
def test_entry_hessian(eid):
    g, x = _scalar(eid)
    grad = dfd.grad(g, method="dual")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            grad(x)
    except (ValueError, TypeError, np.linalg.LinAlgError) as e:
        pytest.skip(f"no first-order derivative here: {e}")
    if eid in REFUSED_ENTRIES:
        with pytest.raises(TypeError, match="has no second-order rule on Duals"):
            dfd.hessian(g, method="dual")(x)
        return
    H = dfd.hessian(g, method="dual")(x)
    ref = _central4(grad, x)
    ref = 0.5 * (ref + ref.T)
    scale = max(1.0, np.max(np.abs(ref)))
    np.testing.assert_array_equal(H, H.T)
    err = np.max(np.abs(H - ref)) / scale if H.size else 0.0
    assert err <= 1e-7, (eid, err)


def test_supported_lists():
    """The second-order set is the first-order set without the refused ones."""
    first = set(SUPPORTED_FUNCTIONS)
    second = set(SUPPORTED_SECOND_ORDER)
    assert second == set(dfd.Dual.supported_functions(order=2))
    assert first == set(dfd.Dual.supported_functions(order=1))
    assert second <= first
    assert first - second == REFUSED
    assert dfd.Dual.supported_ufuncs(order=2) == dfd.Dual.supported_ufuncs()
    with pytest.raises(ValueError, match="order must be 1 or 2"):
        dfd.Dual.supported_functions(order=3)


def rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def test_threads_are_independent():
    """Eight threads computing Hessians (second order) and gradients (first order,
    whose Duals must not pick up another thread's second-order layout) at once."""
    from scipy.optimize import rosen_der, rosen_hess
    xs = [np.linspace(-1, 1, 12) + 0.1 * i for i in range(8)]
    out = [None] * 8
    barrier = threading.Barrier(8)

    def work(i):
        barrier.wait()
        for _ in range(20):
            if i % 2:
                out[i] = dfd.hessian(rosen, method="dual")(xs[i])
            else:
                out[i] = dfd.grad(rosen, method="dual")(xs[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(8):
        ref = rosen_hess(xs[i]) if i % 2 else rosen_der(xs[i])
        np.testing.assert_allclose(out[i], ref, rtol=1e-13, atol=1e-12)


def test_first_order_pass_inside_a_second_order_one():
    """f that calls a first-order gradient of something else inside (on plain
    values) runs that pass as first order."""
    inner = dfd.grad(lambda y: np.sum(y ** 3), method="dual")

    def f(x):
        g = inner(np.array([1.0, 2.0]))          # [3, 12], a constant here
        return np.sum(g) * np.sum(x ** 2)

    H = dfd.hessian(f, method="dual")(np.array([0.5, -1.0, 2.0]))
    np.testing.assert_allclose(H, 30.0 * np.eye(3), rtol=1e-15)


def test_a_dual_built_inside_f_is_refused():
    def f(x):
        return np.sum(x * dfd.Dual(np.ones(3), np.ones((3, 2))))

    with pytest.raises(ValueError, match="tangent directions"):
        dfd.hessian(f, method="dual")(np.ones(3))


@pytest.mark.parametrize("make, exc, match", [
    (lambda: dfd.hessian(rosen, method="dual", step=1e-3), ValueError,
     "step does not apply to method='dual'"),
    (lambda: dfd.hvp(rosen, step=1e-3), ValueError, "step does not apply"),
    (lambda: dfd.hvp(rosen, method="central", step=[1e-3, 1e-3]), ValueError,
     "step must be one number"),
    (lambda: dfd.hvp(rosen, method="central", chunk=4), ValueError,
     "chunk applies only"),
    (lambda: dfd.hvp(rosen, chunk=0), ValueError, "chunk must be a positive integer"),
    (lambda: dfd.hvp(rosen, method="adaptive"), ValueError, "method"),
    (lambda: dfd.hvp("rosen"), TypeError, "f must be callable"),
    (lambda: dfd.hessian(rosen, chunk=1.5), ValueError, "chunk must be a positive"),
])
def test_bad_options(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_bad_points():
    x = np.array([0.5, 1.0, 1.5])
    with pytest.raises(ValueError, match="outside bounds"):
        dfd.hessian(rosen, bounds=(0.0, 1.0))(x)
    with pytest.raises(ValueError, match="outside bounds"):
        dfd.hvp(rosen, bounds=(0.0, 1.0))(x, np.ones(3))
    with pytest.raises(ValueError, match=r"v must be finite; v\[1\] = nan"):
        dfd.hvp(rosen)(x, np.array([1.0, np.nan, 0.0]))
    with pytest.raises(ValueError, match=r"x must be finite; x\[1\] = inf"):
        dfd.hessian(rosen)(np.array([1.0, np.inf]))


def test_not_twice_differentiable_raises():
    """sqrt at 0 times a Dual: its second derivative there is not finite."""
    def f(x):
        return np.sqrt(x[0]) * x[1]

    x = np.array([0.0, 1.0])
    with pytest.raises(ValueError, match=r"d2 f / d x\[0\] d x\[0\] is nan"):
        dfd.hessian(f)(x)
    with pytest.raises(ValueError, match=r"\(H @ v\)\[0\] is nan"):
        dfd.hvp(f)(x, np.ones(2))
    H = dfd.hessian(f, check_finite=False)(x)        # allowed: the entries as computed
    assert np.isnan(H[0, 0]) and H[1, 1] == 0.0


def test_bounds_evaluate_at_x_only():
    seen = []

    def f(x):
        seen.append(np.array(x.value))
        return rosen(x)

    x = np.array([0.0, 0.5, 1.0])              # on both bounds
    H = dfd.hessian(f, bounds=(0.0, 1.0))(x)
    hv = dfd.hvp(f, bounds=(0.0, 1.0))(x, np.ones(3))
    from scipy.optimize import rosen_hess
    np.testing.assert_allclose(H, rosen_hess(x), rtol=1e-15, atol=1e-13)
    np.testing.assert_allclose(hv, rosen_hess(x) @ np.ones(3), rtol=1e-15, atol=1e-13)
    assert all(np.array_equal(s, x) for s in seen)


def test_scalar_and_nd_points():
    assert dfd.hessian(lambda t: np.sin(t) * t)(0.5) == pytest.approx(
        2 * np.cos(0.5) - 0.5 * np.sin(0.5), rel=1e-15)
    assert isinstance(dfd.hvp(lambda t: t ** 3)(2.0, 1.0), float)
    X = np.arange(6.0).reshape(2, 3) / 10
    H = dfd.hessian(lambda x: np.sum(x ** 3))(X)
    assert H.shape == (2, 3, 2, 3)
    np.testing.assert_allclose(H.reshape(6, 6), np.diag(6 * X.ravel()), rtol=1e-15)


def test_hvp_auto_falls_back():
    """'auto': duals where f runs on them, central differences (with a warning)
    where it does not."""
    import math

    def f(x):
        return math.fsum([v * v for v in np.asarray(x, dtype=float)])

    with pytest.warns(dfd.AutoWarning):
        hv = dfd.hvp(f, method="auto")(np.array([1.0, 2.0]), np.array([1.0, 0.0]))
    np.testing.assert_allclose(hv, [2.0, 0.0], atol=1e-5)
    exact = dfd.hvp(rosen, method="auto")(np.array([1.0, 2.0]), np.array([1.0, 0.0]))
    from scipy.optimize import rosen_hess_prod
    np.testing.assert_allclose(exact, rosen_hess_prod([1.0, 2.0], [1.0, 0.0]), rtol=1e-15)


# --- random compositions ------------------------------------------------------------------

from hypothesis import given, settings, HealthCheck, strategies as st   # noqa: E402

_UNARY = {"sin": np.sin, "cos": np.cos, "tanh": np.tanh, "arctan": np.arctan,
          "exp_tanh": lambda z: np.exp(np.tanh(z)), "square": np.square,
          "log1p_sq": lambda z: np.log1p(z * z), "sqrt_1p_sq": lambda z: np.sqrt(1 + z * z),
          "cube": lambda z: z ** 3, "recip": lambda z: 1.0 / (2.0 + np.sin(z)),
          "sinh_tanh": lambda z: np.sinh(np.tanh(z)), "arcsinh": np.arcsinh}
_BINARY = {"add": np.add, "sub": np.subtract, "mul": np.multiply,
           "div": lambda a, b: a / (2.0 + np.tanh(b)), "hypot": lambda a, b: np.hypot(a, 1 + b * b),
           "logaddexp": np.logaddexp, "arctan2": lambda a, b: np.arctan2(a, 2 + b * b),
           "pow": lambda a, b: (1.5 + np.tanh(a)) ** np.tanh(b)}
_REDUCE = {"sum": np.sum, "prod": lambda z: np.prod(1 + 0.5 * np.tanh(z)),
           "var": np.var, "mean_sq": lambda z: np.mean(z) ** 2,
           "quad": lambda z: z @ (np.arange(z.size * z.size).reshape(z.size, z.size) % 3) @ z,
           "outer": lambda z: np.sum(np.einsum("i,j->ij", z, np.sin(z))),
           "norm": lambda z: np.linalg.norm(z + 3.0)}


@st.composite
def _tree(draw, depth):
    if depth == 0 or draw(st.booleans()) and depth < 3:
        return ("leaf", draw(st.sampled_from(["x", "rev", "roll"])))
    kind = draw(st.sampled_from(["u", "b"]))
    if kind == "u":
        return ("u", draw(st.sampled_from(sorted(_UNARY))), draw(_tree(depth - 1)))
    return ("b", draw(st.sampled_from(sorted(_BINARY))), draw(_tree(depth - 1)),
            draw(_tree(depth - 1)))


def _eval(node, x):
    if node[0] == "leaf":
        return {"x": x, "rev": x[::-1], "roll": np.roll(x, 1)}[node[1]]
    if node[0] == "u":
        return _UNARY[node[1]](_eval(node[2], x))
    return _BINARY[node[1]](_eval(node[2], x), _eval(node[3], x))


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(tree=_tree(4), red=st.sampled_from(sorted(_REDUCE)),
       seed=st.integers(0, 2 ** 16), n=st.integers(1, 5), chunk=st.sampled_from([None, 1, 2]))
def test_random_compositions(tree, red, seed, n, chunk):
    """Random trees of rules under a reduction: the exact Hessian against 4th-order
    differences of the first-order dual gradient, and hvp against H @ v."""
    x = np.random.default_rng(seed).uniform(-1.0, 1.0, n)

    def f(y):
        return _REDUCE[red](_eval(tree, y))

    grad = dfd.grad(f, method="dual")
    H = dfd.hessian(f, chunk=chunk)(x)
    ref = _central4(grad, x)
    ref = 0.5 * (ref + ref.T)
    scale = max(1.0, np.max(np.abs(ref)))
    assert np.max(np.abs(H - ref)) <= 1e-7 * scale, (tree, red)
    v = np.cos(np.arange(n) + seed)
    np.testing.assert_allclose(dfd.hvp(f, chunk=chunk)(x, v), H @ v, rtol=1e-12,
                               atol=1e-12 * scale * max(1, n))


def test_object_arrays_and_lists_of_duals():
    """np.asarray(list of Duals) and Python lists as operands, as first order takes
    them: an object array of 0-d Duals times a Dual."""
    def f(x):
        parts = np.asarray([x[0] * x[1], np.sin(x[2])], dtype=object)
        return np.sum(parts * x[:2]) + np.sum([x[0], x[2]] * x[1:])

    x = np.array([0.3, -0.7, 1.1])
    H = dfd.hessian(f)(x)
    ref = _central4(dfd.grad(f, method="dual"), x)
    np.testing.assert_allclose(H, 0.5 * (ref + ref.T), atol=1e-8)


@pytest.mark.parametrize("uplo", ["L", "U"])
def test_eigvalsh_second_order(uplo):
    """Eigenvalues of a symmetric matrix affine in x (batched, and with only one
    triangle holding the perturbation: LAPACK reads one), against differences of
    the first-order gradient."""
    rng = np.random.default_rng(7)
    A0 = rng.standard_normal((2, 4, 4))
    A0 = A0 + np.swapaxes(A0, -1, -2) + np.diag([0.0, 3.0, 6.0, 9.0])
    B = rng.standard_normal((3, 4, 4))
    tri = np.tril if uplo == "L" else np.triu
    c = np.array([1.0, -2.0, 0.5, 3.0])

    def f(x):
        M = A0 + tri(np.einsum("i,ijk->jk", x, B))
        return np.sum(np.linalg.eigvalsh(M, UPLO=uplo) * c)

    x = np.array([0.1, -0.2, 0.3])
    H = dfd.hessian(f)(x)
    ref = _central4(dfd.grad(f, method="dual"), x)
    np.testing.assert_allclose(H, 0.5 * (ref + ref.T), atol=1e-8 * np.abs(ref).max())
    assert np.abs(H).max() > 0.1        # curvature that a first-order rule would miss
