"""Sparse Jacobians and Hessians: jacobian(f, sparsity=...) and hessian(f, sparsity=...).

References: the same method's dense Jacobian (same steps: the entries must agree to
rounding), the problems' analytic Jacobians, counts of evaluations of f that the
coloring fixes (colors + 1 forward, 2 colors central), and SciPy's solvers.
"""

import pickle

import numpy as np
import pytest

import dualfd as dfd
import problems

sp = pytest.importorskip("scipy.sparse")

FD = ("forward", "backward", "central", "complex")


def pattern_of(J):
    """The analytic pattern: every entry that is non-zero at a random point."""
    return sp.csr_array(np.asarray(J) != 0)


STRUCTURED = [
    problems.broyden_tridiagonal(30), problems.broyden_banded(30),
    problems.extended_rosenbrock(30), problems.extended_powell_singular(32),
    problems.discrete_boundary_value(30), problems.trigonometric(12), problems.bratu2d(6),
]


def point(p, seed=0):
    rng = np.random.default_rng(seed)
    return p.x0 + 0.3 * rng.standard_normal(p.n)


class Counter:
    """f that counts its calls (and the points it got, in vectorized mode)."""

    def __init__(self, f):
        self.f, self.calls, self.points = f, 0, 0

    def __call__(self, x, *args):
        self.calls += 1
        self.points += x.shape[-1] if x.ndim > 1 else 1
        return self.f(x, *args)


@pytest.mark.parametrize("prob", STRUCTURED, ids=lambda p: p.name)
@pytest.mark.parametrize("method", FD + ("dual",))
def test_sparse_equals_dense_entry_by_entry(prob, method):
    x = point(prob)
    S = pattern_of(prob.jacobian(point(prob, 1)))
    dense = dfd.jacobian(prob.residual, method=method)(x)
    J = dfd.jacobian(prob.residual, method=method, sparsity=S)(x)
    assert isinstance(J, sp.csr_array) and J.shape == (prob.m, prob.n)
    assert J.nnz == S.nnz                     # exactly the pattern's entries
    np.testing.assert_array_equal(J.indptr, S.indptr)
    np.testing.assert_array_equal(J.indices, S.indices)
    # same steps and stencils: rows see only their own column of each color
    np.testing.assert_allclose(J.toarray(), dense, rtol=1e-12, atol=1e-12)
    # and right: against the analytic Jacobian
    tol = {"forward": 1e-5, "backward": 1e-5}.get(method, 1e-8)
    Ja = prob.jacobian(x)
    np.testing.assert_allclose(J.toarray(), Ja, rtol=tol, atol=tol * np.abs(Ja).max())


@pytest.mark.parametrize("prob", [p for p in STRUCTURED if "banded" not in p.name],
                         ids=lambda p: p.name)
@pytest.mark.parametrize("method", FD)
def test_sparse_vectorized_equals_loop(prob, method):
    x = point(prob, 2)
    S = pattern_of(prob.jacobian(point(prob, 3)))
    loop = dfd.jacobian(prob.residual, method=method, sparsity=S)(x)
    whole = dfd.jacobian(prob.residual, method=method, sparsity=S, vectorized=True)(x)
    # a batch may sum in another order than one point (trigonometric's sum over
    # x): the loop agrees to f's rounding over the step; blocks of any size exactly
    noise = {"forward": 1e-6, "backward": 1e-6, "central": 1e-9}.get(method, 1e-14)
    np.testing.assert_allclose(whole.toarray(), loop.toarray(), rtol=0, atol=noise)
    for chunk in (1, 3):
        f = Counter(prob.residual)
        J = dfd.jacobian(f, method=method, sparsity=S, vectorized=True, chunk=chunk)(x)
        # (NumPy's SIMD cos rounds differently on batches of other widths)
        np.testing.assert_allclose(J.toarray(), whole.toarray(), rtol=0, atol=noise)
        assert f.points <= f.calls * max(chunk, 2)


def test_evaluations_per_color():
    """Tridiagonal: 3 colors at any n, so forward takes 4 calls and central 6;
    'dual' one pass with 3 tangent directions."""
    n = 1000
    x = np.linspace(-1.0, 1.0, n)
    S = pattern_of(problems.broyden_tridiagonal_jacobian(x))
    for method, calls in (("forward", 4), ("backward", 4), ("central", 6),
                          ("complex", 3), ("dual", 1)):
        f = Counter(problems.broyden_tridiagonal_residual)
        J = dfd.jacobian(f, method=method, sparsity=S)
        dfd._complex_guard.ENABLED, old = False, dfd._complex_guard.ENABLED
        try:
            J(x)
        finally:
            dfd._complex_guard.ENABLED = old
        assert f.calls == calls, method
    # vectorized: all 6 central points in one call
    f = Counter(problems.broyden_tridiagonal_residual)
    dfd.jacobian(f, sparsity=S, vectorized=True)(x)
    assert (f.calls, f.points) == (1, 6)


def test_dual_tangents_are_colors():
    n = 500
    x = np.linspace(-1.0, 1.0, n)
    seen = []

    def f(d):
        seen.append(d.tangent.shape)
        return problems.broyden_tridiagonal_residual(d)

    S = pattern_of(problems.broyden_tridiagonal_jacobian(x))
    J = dfd.jacobian(f, method="dual", sparsity=S)(x)
    assert seen == [(n, 3)]
    np.testing.assert_allclose(J.toarray(), problems.broyden_tridiagonal_jacobian(x),
                               rtol=1e-15, atol=0)


@pytest.mark.parametrize("method", ("central", "forward", "dual"))
def test_nd_shapes_and_dense_pattern_forms(method):
    """x and f of any shape: the pattern as (m, n) or as f(x).shape + x.shape."""
    x = np.arange(1.0, 7.0).reshape(2, 3)

    def f(x):
        return np.stack([x[0] * x[1], np.sin(x[1])])    # shape (2, 3)

    D = np.zeros((2, 3, 2, 3), bool)
    for j in range(3):
        D[0, j, 0, j] = D[0, j, 1, j] = D[1, j, 1, j] = True
    ref = dfd.jacobian(f, method=method)(x).reshape(6, 6)
    for S in (D, D.reshape(6, 6), sp.csr_array(D.reshape(6, 6)), sp.coo_matrix(D.reshape(6, 6))):
        J = dfd.jacobian(f, method=method, sparsity=S)(x)
        assert J.shape == (6, 6)
        np.testing.assert_allclose(J.toarray(), ref, rtol=1e-12, atol=1e-14)


def test_bounds_one_sided_in_compressed_points():
    """At a bound, central turns one-sided for that column only; mixed stencils share
    a color's points."""
    n = 12
    x = np.linspace(0.0, 1.0, n)
    S = pattern_of(problems.broyden_tridiagonal_jacobian(x))
    lb, ub = np.zeros(n), np.ones(n)
    seen = []

    def f(y):
        seen.append(y.copy())
        return problems.broyden_tridiagonal_residual(y)

    for method in ("central", "forward"):
        J = dfd.jacobian(f, method=method, sparsity=S, bounds=(lb, ub))(x)
        np.testing.assert_allclose(J.toarray(), problems.broyden_tridiagonal_jacobian(x),
                                   rtol=1e-5, atol=1e-6)
    assert all(np.all((y >= lb) & (y <= ub)) for y in seen)


def test_caller_arrays_untouched_and_result_owned():
    x = np.linspace(-1.0, 1.0, 20)
    x.setflags(write=False)
    Sd = problems.broyden_tridiagonal_jacobian(x) != 0
    S = sp.csr_array(Sd)
    before = (S.indptr.copy(), S.indices.copy())
    J = dfd.jacobian(problems.broyden_tridiagonal_residual, sparsity=S)
    A = J(x)
    A.data[:] = 0.0
    A.indices[:] = 0                 # the caller may change its result ...
    B = J(x)                          # ... without reaching the plan
    np.testing.assert_allclose(B.toarray(), problems.broyden_tridiagonal_jacobian(x),
                               rtol=1e-8, atol=1e-8)
    np.testing.assert_array_equal(S.indptr, before[0])
    np.testing.assert_array_equal(S.indices, before[1])


def test_pickles():
    x = np.linspace(-1.0, 1.0, 8)
    S = problems.broyden_tridiagonal_jacobian(x) != 0
    for J in (dfd.jacobian(problems.broyden_tridiagonal_residual, sparsity=S),
              dfd.hessian(ext_rosenbrock, sparsity=S)):
        first = J(x).toarray()                # with a plan
        J2 = pickle.loads(pickle.dumps(J))
        np.testing.assert_array_equal(J2(x).toarray(), first)


# --- bad input ------------------------------------------------------------------------

def tri(x):
    return problems.broyden_tridiagonal_residual(x)


@pytest.mark.parametrize("S, exc, match", [
    (np.eye(5), TypeError, r"sparsity must be .*boolean.*dtype float64 \(pass sparsity=S != 0\)"),
    ("dense", ValueError, "sparsity must be 'auto'"),
    (np.ones(5, bool), ValueError, "at least 2 dimensions"),
    (3, TypeError, "sparsity must be 'auto', a boolean array"),
])
def test_bad_pattern_types(S, exc, match):
    with pytest.raises(exc, match=match):
        dfd.jacobian(tri, sparsity=S)


def test_non_boolean_scipy_pattern():
    with pytest.raises(TypeError, match=r"scipy.sparse float64 matrix: pass sparsity=S.astype\(bool\)"):
        dfd.jacobian(tri, sparsity=sp.eye_array(5))


def test_pattern_of_wrong_shape():
    x = np.ones(5)
    with pytest.raises(ValueError, match=r"sparsity has shape \(5, 4\): 4 columns, but x has 5"):
        dfd.jacobian(tri, sparsity=sp.csr_array(np.ones((5, 4), bool)))(x)
    with pytest.raises(ValueError, match=r"it must be \(m, 5\) or f\(x\).shape \+ \(5,\)"):
        dfd.jacobian(tri, sparsity=np.ones((5, 4), bool))(x)
    for method in ("central", "dual"):
        with pytest.raises(ValueError, match="the sparsity pattern has 4 rows; f returned 5"):
            dfd.jacobian(tri, method=method, sparsity=np.ones((4, 5), bool))(x)


def test_missing_entry_detected():
    """A pattern that misses a non-zero: 'dual' finds it for free; FD with
    check_sparsity=True."""
    n = 10
    x = np.linspace(-1.0, 1.0, n)
    S = np.eye(n, dtype=bool) | np.eye(n, k=1, dtype=bool)      # no subdiagonal
    with pytest.raises(ValueError, match="the sparsity pattern misses a non-zero: f"):
        dfd.jacobian(tri, method="dual", sparsity=S)(x)
    for method in ("central", "forward"):
        with pytest.raises(ValueError, match="check_sparsity: row .* misses a non-zero"):
            dfd.jacobian(tri, method=method, sparsity=S | np.eye(n, k=2, dtype=bool),
                         check_sparsity=True)(x)
    # a correct pattern passes the check
    good = S | np.eye(n, k=-1, dtype=bool)
    for method in ("central", "forward", "complex", "dual"):
        dfd.jacobian(tri, method=method, sparsity=good, check_sparsity=True)(x)
    with pytest.raises(ValueError, match="check_sparsity applies with sparsity="):
        dfd.jacobian(tri, check_sparsity=True)


def test_non_finite_names_the_color_point():
    n = 9
    x = np.linspace(0.5, 1.5, n)
    S = problems.broyden_tridiagonal_jacobian(x) != 0

    def f(y):
        r = problems.broyden_tridiagonal_residual(y)
        return np.where(y > 1.45, np.nan, r) if y.ndim == 1 else r

    with pytest.raises(ValueError, match=r"non-finite value .*\(point 0 of color \d"):
        dfd.jacobian(f, sparsity=S)(x)


def test_complex_guard_on_sparse():
    n = 8
    x = np.linspace(-1.0, 1.0, n)
    S = problems.broyden_tridiagonal_jacobian(x) != 0

    def f(y):    # abs is not analytic: the complex step would be silently wrong
        return problems.broyden_tridiagonal_residual(np.abs(y) + 0.0 * y)

    with pytest.raises(dfd.NonAnalyticError):
        dfd.jacobian(f, method="complex", sparsity=S)(x)


# --- bounded memory: vectorized dense FD in blocks -------------------------------------

@pytest.mark.parametrize("method", ("forward", "central", "complex"))
def test_vectorized_dense_blocks(method):
    x = point(problems.broyden_tridiagonal(40))
    whole = dfd.jacobian(tri, method=method, vectorized=True, chunk=10**6)(x)
    for chunk in (1, 2, 7):
        f = Counter(tri)
        J = dfd.jacobian(f, method=method, vectorized=True, chunk=chunk)(x)
        np.testing.assert_array_equal(J, whole)
        assert f.points <= f.calls * max(chunk, 2)


def test_vectorized_default_block_bounds_memory():
    """n = 3000 central: 6000 points would be a 144 MB array; the default block
    keeps each under 32 MB."""
    n = 3000
    x = np.linspace(-1.0, 1.0, n)
    seen = []

    def f(X):
        seen.append(X.shape[-1])
        return problems.broyden_tridiagonal_residual(X)

    J = dfd.jacobian(f, vectorized=True)(x)
    assert max(seen) * n * 8 <= 32 * 2**20 and sum(seen) == 2 * n
    np.testing.assert_allclose(J, problems.broyden_tridiagonal_jacobian(x), atol=1e-7)


# --- Hessians --------------------------------------------------------------------------

def ext_rosenbrock(x):      # x of shape (n,) or a batch (n, K)
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2, axis=0)


def ext_rosenbrock_hessian(x):
    n = x.size
    H = np.zeros((n, n))
    i = np.arange(n - 1)
    H[i, i] += 1200.0 * x[:-1] ** 2 - 400.0 * x[1:] + 2.0
    H[i + 1, i + 1] += 200.0
    H[i, i + 1] = H[i + 1, i] = -400.0 * x[:-1]
    return H


def arrowhead(x):
    return x[0] * np.sum(x ** 2, axis=0) + np.sum(np.cos(x), axis=0)


def arrowhead_hessian(x):
    n = x.size
    H = np.diag(2.0 * x[0] - np.cos(x))
    H[0, 0] = 6.0 * x[0] - np.cos(x[0])
    H[0, 1:] = H[1:, 0] = 2.0 * x[1:]
    return H


@pytest.mark.parametrize("method", ("dual", "complex"))
@pytest.mark.parametrize("f, Hf", [(ext_rosenbrock, ext_rosenbrock_hessian),
                                   (arrowhead, arrowhead_hessian)])
def test_sparse_hessian(method, f, Hf):
    n = 40
    x = np.random.default_rng(5).uniform(-1.0, 1.0, n)
    S = Hf(x + 0.1) != 0
    H = dfd.hessian(f, method=method, sparsity=S)(x)
    assert isinstance(H, sp.csr_array) and H.nnz == S.sum()
    np.testing.assert_allclose(H.toarray(), Hf(x), rtol=1e-7, atol=1e-6)
    np.testing.assert_array_equal(H.toarray(), H.toarray().T)   # exactly symmetric
    dense = dfd.hessian(f, method=method)(x)
    np.testing.assert_allclose(H.toarray(), dense, rtol=1e-8, atol=1e-7)


@pytest.mark.parametrize("chunk, passes", [(None, 1), (64, 4)])
def test_sparse_hessian_passes_per_color(chunk, passes):
    """Arrowhead: a star coloring needs 2 colors (a column coloring n), so the exact
    Hessian is H S for 2 columns: per block of chunk coordinates, one second-order
    pass carrying the block and both colors (3 n + 2 entries for one block)."""
    n = 200
    x = np.linspace(-1.0, 1.0, n)
    calls = []

    def f(d):
        calls.append(1)
        return arrowhead(d)

    S = arrowhead_hessian(x + 0.1) != 0
    H = dfd.hessian(f, method="dual", sparsity=S, chunk=chunk)(x)
    exact = arrowhead_hessian(x)
    np.testing.assert_allclose(H.toarray(), exact, rtol=0, atol=1e-13 * np.abs(exact).max())
    assert len(calls) == passes


def test_sparse_hessian_bounds():
    n = 10
    x = np.linspace(0.0, 1.0, n)
    S = ext_rosenbrock_hessian(x + 0.1) != 0
    seen = []

    def f(d):
        seen.append(np.array(d.value))
        return ext_rosenbrock(d)

    H = dfd.hessian(f, sparsity=S, bounds=(0.0, 1.0))(x)
    np.testing.assert_allclose(H.toarray(), ext_rosenbrock_hessian(x), rtol=1e-7, atol=1e-6)
    assert all(np.all((y >= 0.0) & (y <= 1.0)) for y in seen)


def test_sparse_hessian_bad_pattern():
    x = np.ones(4)
    upper = np.triu(np.ones((4, 4), bool))
    with pytest.raises(ValueError, match="must be symmetric"):
        dfd.hessian(ext_rosenbrock, sparsity=upper)(x)
    with pytest.raises(ValueError, match=r"must be square, \(n, n\) with n = 4"):
        dfd.hessian(ext_rosenbrock, sparsity=np.ones((3, 4), bool))(x)


def test_newton_with_sparse_hessian():
    """Newton's method with spsolve on the sparse Hessian reaches the minimizer."""
    linalg = pytest.importorskip("scipy.sparse.linalg")
    n = 200
    x = np.full(n, 1.2)
    S = ext_rosenbrock_hessian(x) != 0
    g = dfd.grad(ext_rosenbrock, method="dual")
    H = dfd.hessian(ext_rosenbrock, sparsity=S)
    for _ in range(30):
        step = linalg.spsolve(H(x).tocsc(), g(x))
        x = x - step
        if np.max(np.abs(step)) < 1e-12:
            break
    np.testing.assert_allclose(x, 1.0, atol=1e-10)


@pytest.mark.parametrize("vectorized", (False, True))
@pytest.mark.parametrize("f, Hf", [(ext_rosenbrock, ext_rosenbrock_hessian),
                                   (arrowhead, arrowhead_hessian)])
def test_sparse_hessian_central(f, Hf, vectorized):
    """Second differences of f alone, the pattern's entries only: the dense
    stencils' values (same points), 1 + 2n + 4 per pair calls."""
    n = 12
    x = np.random.default_rng(6).uniform(-1.0, 1.0, n)
    S = Hf(x + 0.1) != 0
    calls = []

    def g(y):
        calls.append(1)
        return f(y)

    H = dfd.hessian(g, method="central", sparsity=S, vectorized=vectorized)(x)
    dense = dfd.hessian(f, method="central", vectorized=vectorized)(x)
    np.testing.assert_allclose(H.toarray(), np.where(S, dense, 0.0), rtol=1e-12,
                               atol=1e-9)
    np.testing.assert_allclose(H.toarray(), Hf(x), rtol=1e-5, atol=1e-4)
    if not vectorized:
        pairs = (S.sum() - n) // 2
        assert len(calls) == 1 + 2 * n + 4 * pairs


def test_sparse_hessian_auto_method_falls_back_to_central():
    n = 10
    x = np.linspace(-1.0, 1.0, n)
    S = ext_rosenbrock_hessian(x + 0.1) != 0

    def f(y):
        return ext_rosenbrock(np.asarray(y, dtype=float))   # refuses Duals

    with pytest.warns(dfd.AutoWarning):
        H = dfd.hessian(f, method="auto", sparsity=S)(x)
    np.testing.assert_allclose(H.toarray(), ext_rosenbrock_hessian(x), rtol=1e-5, atol=1e-4)


# --- into(out, x): the caller's Jacobian array reused -----------------------------------

@pytest.mark.parametrize("method", ("forward", "central", "complex", "dual"))
@pytest.mark.parametrize("vectorized", (False, True))
@pytest.mark.parametrize("n", (10, 300))       # 300: loop mode's tall (column-major) case
def test_into_writes_the_same_jacobian(method, vectorized, n):
    if vectorized and method == "dual":
        pytest.skip("vectorized applies to FD methods")
    x = point(problems.broyden_tridiagonal(n))
    J = dfd.jacobian(tri, method=method, vectorized=vectorized)
    ref = problems.broyden_tridiagonal_jacobian(x)
    for order in "CF":
        out = np.full((n, n), np.nan, order=order)
        assert J.into(out, x) is out
        np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(out, J(x))


def test_into_grad_and_value_and_grad():
    f = lambda x: np.sum(x ** 3)                     # noqa: E731
    out = np.empty(3)
    assert dfd.grad(f, method="dual").into(out, np.ones(3)) is out
    np.testing.assert_array_equal(out, [3.0, 3.0, 3.0])
    v, g = dfd.value_and_grad(f, method="forward").into(out, np.ones(3))
    assert g is out and v == 3.0


@pytest.mark.parametrize("out, match", [
    (np.empty((3, 4)), r"out has shape \(3, 4\); the Jacobian has shape \(3, 3\)"),
    (np.empty((3, 3), dtype=np.float32), "out must be a C-contiguous"),
    (np.empty((3, 6))[:, ::2], "out must be a C-contiguous"),
    (np.empty((3, 3)).view(np.dtype(">f8")), "out must be a C-contiguous"),
])
def test_into_bad_out(out, match):
    with pytest.raises(ValueError, match=match):
        dfd.jacobian(tri).into(out, np.ones(3))


def test_into_read_only_and_type():
    ro = np.empty((3, 3))
    ro.setflags(write=False)
    with pytest.raises(ValueError, match="out is read-only"):
        dfd.jacobian(tri).into(ro, np.ones(3))
    with pytest.raises(TypeError, match="out must be a numpy array; got list"):
        dfd.jacobian(tri).into([[0.0] * 3] * 3, np.ones(3))


# --- sparsity="auto": detected once per shape, then reused --------------------------------

@pytest.mark.parametrize("prob", [problems.broyden_tridiagonal(50), problems.bratu2d(7),
                                  problems.extended_rosenbrock(20),
                                  problems.discrete_boundary_value(30)],
                         ids=lambda p: p.name)
@pytest.mark.parametrize("method", ("forward", "central", "complex", "dual"))
def test_auto_equals_given_pattern(prob, method):
    x = point(prob, 4)
    S = pattern_of(prob.jacobian(point(prob, 5)))
    J = dfd.jacobian(prob.residual, method=method, sparsity="auto")(x)
    np.testing.assert_array_equal(J.toarray() != 0, S.toarray())
    given = dfd.jacobian(prob.residual, method=method, sparsity=S)(x)
    np.testing.assert_array_equal(J.toarray(), given.toarray())


def test_auto_traces_once_per_shape():
    kinds = []

    def f(x):
        kinds.append(type(x).__name__)
        return problems.broyden_tridiagonal_residual(x)

    J = dfd.jacobian(f, method="dual", sparsity="auto")
    for n in (30, 30, 30, 40, 40):
        J(np.linspace(-1.0, 1.0, n))
    assert kinds == ["Tracer", "Dual", "Dual", "Dual", "Tracer", "Dual", "Dual"]


def test_auto_retraces_when_constants_change():
    """A pattern read from a constant argument (the zeros of A in A @ x) holds for
    that constant only: other arguments are traced again, never reused silently."""
    n = 12
    x = np.linspace(-1.0, 1.0, n)
    band = np.eye(n) + np.eye(n, k=1)
    full = np.ones((n, n))

    def f(x, A):
        return A @ np.sin(x)

    J = dfd.jacobian(f, method="dual", sparsity="auto")
    assert J(x, band).nnz == 2 * n - 1
    Jf = J(x, full)
    assert Jf.nnz == n * n
    np.testing.assert_allclose(Jf.toarray(), full * np.cos(x), rtol=1e-15)


def test_auto_refuses_control_flow_on_values():
    def f(x):
        if x[0] > 0:
            return x ** 2
        return x

    with pytest.raises(TypeError, match="sparsity detection: .*pass an explicit pattern"):
        dfd.jacobian(f, sparsity="auto")(np.ones(3))


def test_auto_hessian_and_public_detectors():
    n = 30
    x = np.linspace(-1.0, 1.0, n)
    S = dfd.hessian_sparsity(ext_rosenbrock, x)
    np.testing.assert_array_equal(S.toarray(), ext_rosenbrock_hessian(x + 0.1) != 0)
    H = dfd.hessian(ext_rosenbrock, sparsity="auto")(x)
    np.testing.assert_allclose(H.toarray(), ext_rosenbrock_hessian(x), rtol=1e-7, atol=1e-6)
    P = dfd.jacobian_sparsity(problems.broyden_tridiagonal_residual, x)
    assert isinstance(P, sp.csr_array) and P.dtype == bool
    np.testing.assert_array_equal(P.toarray(), problems.broyden_tridiagonal_jacobian(x) != 0)


# --- with SciPy's large-scale solvers ---------------------------------------------------

def test_least_squares_lsmr_auto_n10000():
    opt = pytest.importorskip("scipy.optimize")
    n = 10_000
    r = problems.broyden_tridiagonal_residual
    for method in ("dual", "central"):
        jac = dfd.jacobian(r, method=method, sparsity="auto")
        res = opt.least_squares(r, np.full(n, -1.0), jac=jac, tr_solver="lsmr",
                                x_scale="jac")
        assert res.success and np.max(np.abs(r(res.x))) < 1e-8


def test_newton_krylov_with_sparse_preconditioner():
    """Bratu n = 10^4 by Jacobian-free Newton-Krylov, preconditioned by an
    incomplete LU of dualfd's sparse Jacobian at x0 (SciPy's large-scale example)."""
    opt = pytest.importorskip("scipy.optimize")
    linalg = pytest.importorskip("scipy.sparse.linalg")
    N = 100
    r = problems.bratu2d_residual
    x0 = np.zeros(N * N)
    J0 = dfd.jacobian(r, method="dual", sparsity="auto")(x0)
    ilu = linalg.spilu(J0.tocsc())
    M = linalg.LinearOperator(J0.shape, ilu.solve)
    sol = opt.newton_krylov(r, x0, method="gmres", inner_M=M, f_tol=1e-7)
    assert np.max(np.abs(r(sol))) < 1e-7
    # and plain Newton on the exact sparse Jacobian reaches the same solution
    x = x0.copy()
    J = dfd.jacobian(r, method="dual", sparsity="auto")
    for _ in range(20):
        dx = linalg.spsolve(J(x).tocsc(), r(x))
        x -= dx
        if np.max(np.abs(dx)) < 1e-12:
            break
    np.testing.assert_allclose(x, sol, atol=1e-6)
