"""Dual coverage of products and linear algebra (src/dualfd/_dual/linalg.pxi).

Every case compares the Dual's value with NumPy's on the plain arrays and its
tangents with an independent reference: a directional complex step where the
function is analytic and NumPy accepts complex input, else a 4th-order central
difference (h = 1e-3 relative, one Richardson step; tolerance 1e-7 relative);
singular and non-smooth points against analytic facts (cofactors, subgradient
properties).  Test data keep kinks and near-degeneracies out of the difference
steps (`graded`, `spectral`, `separated`, `real_spectrum`)."""

import itertools

import numpy as np
import pytest

from dualfd import Dual

RNG = np.random.default_rng(20261125)


def _outs(o):
    return list(o) if isinstance(o, (tuple, list)) else [o]


def ref_tangents(f, xs, ts, method):
    """The directional derivatives of f at xs along each direction ts[..., j]: one
    array per output of f, shape output.shape + (k,)."""
    k = ts[0].shape[-1]
    cols = []
    for j in range(k):
        dirs = [t[..., j] for t in ts]
        if method == "cs":
            h = 1e-20
            outs = _outs(f(*[x + 1j * h * d for x, d in zip(xs, dirs)]))
            cols.append([np.imag(o) / h for o in outs])
            continue
        xmax = max([np.abs(x).max(initial=0.0) for x in xs] + [1.0])
        dmax = max([np.abs(d).max(initial=0.0) for d in dirs] + [1e-300])
        h = 1e-3 * xmax / dmax

        def g(s):
            return [np.asarray(o, dtype=float)
                    for o in _outs(f(*[x + s * d for x, d in zip(xs, dirs)]))]

        def central4(h):
            a, b, c, e = g(2 * h), g(h), g(-h), g(-2 * h)
            return [(-p + 8 * q - 8 * r + s) / (12 * h) for p, q, r, s in zip(a, b, c, e)]
        # one Richardson step on the 4th-order stencil (error C h^4): 6th order
        coarse, fine = central4(h), central4(h / 2)
        cols.append([(16 * q - p) / 15 for p, q in zip(coarse, fine)])
    return [np.stack([c[i] for c in cols], axis=-1) for i in range(len(cols[0]))]


def _strided(x, t, how):
    """A Dual equal to Dual(x, t) that is a view with steps 2 or -1 of a larger one."""
    if how is None or x.ndim == 0:
        return Dual(x, t)
    if how == "step":
        bv = np.zeros((2 * x.shape[0],) + x.shape[1:])
        bt = np.zeros(bv.shape + t.shape[-1:])
        bv[::2], bt[::2] = x, t
        return Dual(bv, bt)[::2]
    return Dual(x[::-1], t[::-1])[::-1]


def check(f, xs, dual=None, k=3, method="fd", strided=None, ref=None, rtol=None):
    """f on Duals against f on arrays (value) and the reference (tangents).  dual:
    which inputs are Duals (default all); the others pass as plain arrays."""
    xs = [np.asarray(x, dtype=float) for x in xs]
    dual = [True] * len(xs) if dual is None else dual
    ts = [RNG.standard_normal(x.shape + (k,)) if dl else np.zeros(x.shape + (k,))
          for x, dl in zip(xs, dual)]
    args = [_strided(x, t, strided) if dl else x for x, t, dl in zip(xs, ts, dual)]
    before = [np.array(a.value if isinstance(a, Dual) else a) for a in args]
    out = _outs(f(*args))
    for a, b in zip(args, before):          # the inputs are never modified
        np.testing.assert_array_equal(a.value if isinstance(a, Dual) else a, b)
    want = _outs(f(*xs))
    expect = ref_tangents(ref or f, xs, ts, method)
    rtol = rtol or (1e-12 if method == "cs" else 1e-7)
    assert len(out) == len(want)
    for o, w, e in zip(out, want, expect):
        assert isinstance(o, Dual) and o.k == k
        assert o.shape == np.shape(w)
        scale = np.abs(w).max(initial=0.0)
        np.testing.assert_allclose(o.value, w, rtol=1e-15, atol=1e-15 * scale)
        np.testing.assert_allclose(o.tangent, e, rtol=rtol,
                                   atol=rtol * max(np.abs(e).max(initial=0.0), 1e-300))
    return out


def r(*shape):
    return RNG.standard_normal(shape)


def spd(*shape):
    """Symmetric positive definite (stacks), well separated eigenvalues."""
    n = shape[-1]
    a = RNG.standard_normal(shape)
    s = a @ np.swapaxes(a, -1, -2) / n + np.diag(np.linspace(1.0, 3.0, n))
    return 0.5 * (s + np.swapaxes(s, -1, -2))


def separated(*shape):
    """Symmetric (stacks) with eigenvalues 2, 4, 6, ...: gaps large enough for the
    central-difference reference of the eigenvectors at h = 1e-3 relative."""
    n = shape[-1]
    Q = np.linalg.qr(RNG.standard_normal(shape))[0]
    return (Q * (2.0 * np.arange(1, n + 1))[..., None, :]) @ np.swapaxes(Q, -1, -2)


def graded(*shape):
    """Entries bounded away from 0 whose |.| sums along any axis differ by > 0.4:
    no kink of the 1/inf matrix norms within the difference steps."""
    idx = np.indices(shape)
    w = np.array([0.9, 0.37, 0.23, 0.11][:len(shape)])
    mag = 1.0 + np.tensordot(w, idx, axes=(0, 0)) + 0.05 * RNG.uniform(size=shape)
    return mag * RNG.choice([-1.0, 1.0], shape)


def diagdom(*shape):
    """3 on the leading diagonal plus noise: LAPACK's Householder pivots stay far from
    0, where NumPy's QR flips the signs of rows of R (a jump, not a derivative)."""
    a = 0.5 * RNG.standard_normal(shape)
    p = min(shape[-2:])
    a[..., np.arange(p), np.arange(p)] += 3.0
    return a


def sq(*shape):
    return 3.0 * np.eye(shape[-1]) + 0.5 * RNG.standard_normal(shape)


# --- products (analytic: complex step) ---------------------------------------------------

PRODUCTS = [
    # (id, f, inputs)
    ("einsum-matmul", lambda a, b: np.einsum("ij,jk->ik", a, b), [r(2, 3), r(3, 4)]),
    ("einsum-implicit", lambda a, b: np.einsum("ij,jk", a, b), [r(2, 3), r(3, 4)]),
    ("einsum-implicit-case", lambda a, b: np.einsum("bA,AC", a, b), [r(2, 3), r(3, 4)]),
    ("einsum-implicit-scalar", lambda a, b: np.einsum("ij,ij", a, b), [r(2, 3), r(2, 3)]),
    ("einsum-trace", lambda a: np.einsum("ii", a), [r(3, 3)]),
    ("einsum-sum-all", lambda a: np.einsum("ij->", a), [r(3, 2)]),
    ("einsum-ellipsis-bcast", lambda a, b: np.einsum("...ij,...jk->...ik", a, b),
     [r(2, 1, 2, 3), r(4, 3, 2)]),
    ("einsum-ellipsis-implicit", lambda a, b: np.einsum("...j,j", a, b), [r(2, 3, 4), r(4)]),
    ("einsum-ellipsis-center", lambda a, b: np.einsum("j...k,lj...->lk...", a, b),
     [r(2, 3, 2), r(2, 2, 3)]),
    ("einsum-three", lambda a, b, c: np.einsum("ijk,lji,lli->lki", a, b, c),
     [r(2, 3, 2), r(2, 3, 2), r(2, 2, 2)]),
    ("einsum-spaces", lambda a, b: np.einsum(" i j , j k -> i k ", a, b), [r(2, 3), r(3, 4)]),
    ("einsum-sublist", lambda a, b: np.einsum(a, [0, 1], b, [1, 2], [0, 2]), [r(2, 3), r(3, 4)]),
    ("einsum-sublist-implicit", lambda a, b: np.einsum(a, [Ellipsis, 0], b, [0]),
     [r(2, 3), r(3)]),
    ("einsum-optimize", lambda a, b, c: np.einsum("ij,jk,kl->il", a, b, c, optimize=True),
     [r(2, 3), r(3, 4), r(4, 2)]),
    ("einsum-0d", lambda s, v: np.einsum(",i->i", s, v), [r(), r(3)]),
    ("einsum-empty", lambda a, b: np.einsum("ij,jk->ik", a, b), [r(2, 0), r(0, 3)]),
    ("tensordot-2", lambda a, b: np.tensordot(a, b), [r(2, 3, 4), r(3, 4, 2)]),
    ("tensordot-1", lambda a, b: np.tensordot(a, b, 1), [r(2, 2), r(2, 2, 3)]),
    ("tensordot-0", lambda a, b: np.tensordot(a, b, axes=0), [r(4), r()]),
    ("tensordot-pairs", lambda a, b: np.tensordot(a, b, axes=[(0, 1), (1, 2)]),
     [r(2, 3), r(1, 2, 3)]),
    ("tensordot-negative", lambda a, b: np.tensordot(a, b, axes=([-1, 0], [0, -1])),
     [r(2, 3, 4), r(4, 5, 2)]),
    ("tensordot-int-pair", lambda a, b: np.tensordot(a, b, axes=(1, 0)), [r(2, 4), r(4, 3)]),
    ("kron-2d", lambda a, b: np.kron(a, b), [r(2, 2), r(3, 3)]),
    ("kron-1d-2d", lambda a, b: np.kron(a, b), [r(2), r(3, 2)]),
    ("kron-3d-1d", lambda a, b: np.kron(a, b), [r(2, 1, 2), r(3)]),
    ("kron-0d", lambda a, b: np.kron(a, b), [r(), r(3)]),
    ("cross", lambda a, b: np.cross(a, b), [r(4, 3), r(4, 3)]),
    ("cross-bcast", lambda a, b: np.cross(a, b), [r(2, 1, 3), r(4, 3)]),
    ("cross-axes", lambda a, b: np.cross(a, b, axisa=0, axisb=-1, axisc=0), [r(3, 2), r(2, 3)]),
    ("cross-axis", lambda a, b: np.cross(a, b, axis=0), [r(3, 4), r(3, 4)]),
    ("cross-axisc-neg", lambda a, b: np.cross(a, b, axisc=-2), [r(2, 4, 3), r(4, 3)]),
    ("vdot", lambda a, b: np.vdot(a, b), [r(2, 3), r(3, 2)]),
    ("vdot-0d", lambda a, b: np.vdot(a, b), [r(), r()]),
    ("dot-nd", lambda a, b: np.dot(a, b), [r(2, 2, 3), r(2, 3, 2)]),
    ("dot-nd-vec", lambda a, b: np.dot(a, b), [r(2, 4, 3), r(3)]),
    ("dot-vec-nd", lambda a, b: np.dot(a, b), [r(3), r(2, 3, 4)]),
    ("dot-mat-vec", lambda a, b: np.dot(a, b), [r(3, 4), r(4)]),
    ("dot-0d", lambda a, b: np.dot(a, b), [r(), r(3, 2)]),
    ("method-dot-nd", lambda a, b: a.dot(b) if isinstance(a, Dual) else np.dot(a, b),
     [r(2, 2, 3), r(3, 2)]),
    ("matmul-batched-bcast", lambda a, b: np.matmul(a, b), [r(2, 1, 3, 4), r(5, 4, 2)]),
    ("matmul-vec-3d", lambda a, b: a @ b, [r(3), r(2, 3, 4)]),
    ("matmul-3d-vec", lambda a, b: a @ b, [r(2, 3, 4), r(4)]),
    ("matmul-vec-vec", lambda a, b: np.matmul(a, b), [r(3), r(3)]),
    ("inner-nd", lambda a, b: np.inner(a, b), [r(2, 3), r(4, 3)]),
    ("inner-3d-1d", lambda a, b: np.inner(a, b), [r(2, 2, 3), r(3)]),
    ("inner-1d-3d", lambda a, b: np.inner(a, b), [r(3), r(2, 2, 3)]),
    ("inner-0d", lambda a, b: np.inner(a, b), [r(), r(2, 3)]),
    ("outer-nd", lambda a, b: np.outer(a, b), [r(2, 2), r(3)]),
    ("multi_dot", lambda a, b, c, d: np.linalg.multi_dot([a, b, c, d]),
     [r(3), r(3, 4), r(4, 2), r(2)]),
    ("multi_dot-mats", lambda a, b, c: np.linalg.multi_dot([a, b, c]),
     [r(2, 3), r(3, 4), r(4, 2)]),
    ("matrix_power-3", lambda a: np.linalg.matrix_power(a, 3), [r(3, 3)]),
    ("matrix_power-batched-5", lambda a: np.linalg.matrix_power(a, 5), [r(2, 2, 2)]),
    ("matrix_power-neg", lambda a: np.linalg.matrix_power(a, -2), [sq(3, 3)]),
    ("matrix_power-1", lambda a: np.linalg.matrix_power(a, 1), [r(2, 2)]),
    ("polyval", lambda p, x: np.polyval(p, x), [r(4), r(2, 3)]),
    ("linalg.matmul", lambda a, b: np.linalg.matmul(a, b), [r(2, 3), r(2, 3, 4)]),
    ("linalg.tensordot", lambda a, b: np.linalg.tensordot(a, b, axes=1), [r(2, 3), r(3, 4)]),
    ("linalg.outer", lambda a, b: np.linalg.outer(a, b), [r(2), r(3)]),
    ("linalg.cross", lambda a, b: np.linalg.cross(a, b, axis=0), [r(3, 2), r(3, 1)]),
    ("vecdot", lambda a, b: np.linalg.vecdot(a, b), [r(2, 3), r(3)]),
    ("vecdot-axis0", lambda a, b: np.linalg.vecdot(a, b, axis=0), [r(3, 2), r(3, 1)]),
    ("polyval-0d-x", lambda p, x: np.polyval(p, x), [r(3), r()]),
    ("polyval-1-coef", lambda p, x: np.polyval(p, x), [r(1), r(3)]),
]


def _method(name):
    # np.vdot and vecdot conjugate their first argument: not analytic, no complex step
    return "fd" if name.startswith(("vdot", "vecdot")) else "cs"


@pytest.mark.parametrize("k", [1, 3, 129])
@pytest.mark.parametrize("name,f,xs", PRODUCTS, ids=[p[0] for p in PRODUCTS])
def test_products_against_complex_step(name, f, xs, k):
    if k == 129 and not name.endswith(("matmul", "2", "nd", "three", "polyval", "kron-2d")):
        pytest.skip("k=129 on a representative subset")
    check(f, xs, k=k, method=_method(name))


@pytest.mark.parametrize("name,f,xs", PRODUCTS, ids=[p[0] for p in PRODUCTS])
def test_products_with_one_dual_operand(name, f, xs):
    """Each operand alone a Dual, the others plain arrays (mixed operands)."""
    if len(xs) < 2:
        pytest.skip("one operand")
    for i in range(len(xs)):
        dual = [j == i for j in range(len(xs))]
        check(f, xs, dual=dual, method=_method(name))


@pytest.mark.parametrize("strided", ["step", "neg"])
@pytest.mark.parametrize("name,f,xs", [p for p in PRODUCTS if "empty" not in p[0]],
                         ids=[p[0] for p in PRODUCTS if "empty" not in p[0]])
def test_products_of_strided_views(name, f, xs, strided):
    check(f, xs, method=_method(name), strided=strided)


def test_products_with_scalars_and_lists():
    x = r(3)
    t = r(3, 2)
    d = Dual(x, t)
    out = np.polyval([2.0, d[0], 1.0], d[1])            # a list holding a Dual
    np.testing.assert_allclose(out.tangent, (4 * x[1] + x[0]) * t[1] + x[1] * t[0],
                               rtol=1e-14)
    out = np.polyval(np.array([1.0, 0.0, -2.0]), d)     # x Dual, p plain: 2x dx
    np.testing.assert_allclose(out.tangent, 2 * x[:, None] * t, rtol=1e-15)
    out = np.tensordot(d, 2.0, axes=0)
    np.testing.assert_allclose(out.tangent, 2 * t, rtol=1e-15)
    out = np.kron(d, 3.0)
    np.testing.assert_allclose(out.tangent, 3 * t, rtol=1e-15)


def test_einsum_views_are_views():
    v = r(3, 3)
    d = Dual(v, r(3, 3, 2))
    diag = np.einsum("ii->i", d)
    assert diag.base is d
    diag[1] = Dual(7.0, [1.0, 2.0])
    assert d.value[1, 1] == 7.0 and d.tangent[1, 1].tolist() == [1.0, 2.0]
    tr = np.einsum("ij->ji", d)
    tr[0, 2] = Dual(-1.0, [0.0, 5.0])
    assert d.value[2, 0] == -1.0 and d.tangent[2, 0].tolist() == [0.0, 5.0]


def test_matrix_power_zero_is_identity_with_zero_tangent():
    out = np.linalg.matrix_power(Dual(r(2, 3, 3), r(2, 3, 3, 4)), 0)
    np.testing.assert_array_equal(out.value, np.broadcast_to(np.eye(3), (2, 3, 3)))
    np.testing.assert_array_equal(out.tangent, 0.0)


def test_product_errors():
    d = Dual(r(2, 3), r(2, 3, 2))
    with pytest.raises(TypeError, match="does not support out="):
        np.einsum("ij->ji", d, out=np.zeros((3, 2)))
    with pytest.raises(TypeError, match="order= or casting="):
        np.einsum("ij->ji", d, order="C")
    with pytest.raises(ValueError, match=r"subscript 60 is not in \[0, 52\)"):
        np.einsum(d, [0, 60])
    with pytest.raises(ValueError, match="axes=3 does not fit"):
        np.tensordot(d, d, 3)
    with pytest.raises(ValueError, match="Expecting at least two arrays"):
        np.linalg.multi_dot([d])
    with pytest.raises(ValueError, match="3-dimensional array given"):
        np.linalg.multi_dot([d, Dual(r(3, 2, 1), r(3, 2, 1, 2)), d.T])
    with pytest.raises(ValueError, match="must be square"):
        np.linalg.matrix_power(d, 2)
    with pytest.raises(TypeError, match="p must be a sequence"):
        np.polyval(d[0, 0], 2.0)


# --- interp -----------------------------------------------------------------------------

XP = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])


@pytest.mark.parametrize("k", [1, 3, 129])
@pytest.mark.parametrize("kw", [{}, {"left": -3.0, "right": 4.0}])
def test_interp_against_central_differences(kw, k):
    # points at least 0.05 from the knots, inside and outside: h = 1e-3 stays in one piece
    x = np.array([-1.3, -0.8, -0.3, 0.1, 0.37, 0.8, 1.2, 2.0])
    fp = r(5)
    f = lambda x, fp: np.interp(x, XP, fp, **kw)
    check(f, [x, fp], k=k)
    check(f, [x, fp], dual=[True, False], k=k)
    check(f, [x, fp], dual=[False, True], k=k, strided="neg")
    check(lambda x, fp: np.interp(x, XP, fp, **kw), [np.array(0.3), fp], k=k)


def test_interp_slope_is_exact():
    fp = np.array([0.0, 1.0, 3.0, 2.0, 2.0])
    d = np.interp(Dual(np.array([-0.75, -0.25, 0.25, 0.75, -2.0, 3.0]), np.ones((6, 1))),
                  XP, fp)
    assert d.tangent[:, 0].tolist() == [2.0, 4.0, -2.0, 0.0, 0.0, 0.0]


def test_interp_at_breakpoints():
    # Documented convention: at a breakpoint x == xp[i] the derivative by x exists only
    # where the slopes on both sides agree (and the value is continuous): then it is
    # that slope; otherwise ValueError.
    lin = 2.0 * XP + 1.0                     # one straight line: slopes all 2
    d = np.interp(Dual(np.array([-0.5, 0.0, 0.5]), np.ones((3, 1))), XP, lin)
    assert d.tangent[:, 0].tolist() == [2.0, 2.0, 2.0]
    flat = np.array([1.0, 1.0, 1.0, 1.0, 1.0])   # flat, also at the ends
    d = np.interp(Dual(np.array([-1.0, 1.0]), np.ones((2, 1))), XP, flat)
    assert d.tangent[:, 0].tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match=r"x = 0\.0 is a breakpoint"):
        np.interp(Dual(0.0, [1.0]), XP, np.array([0.0, 1.0, 3.0, 2.0, 2.0]))
    with pytest.raises(ValueError, match="is a breakpoint"):
        np.interp(Dual(1.0, [1.0]), XP, lin)          # slope 2 inside, 0 beyond
    with pytest.raises(ValueError, match="is a breakpoint"):
        np.interp(Dual(-1.0, [1.0]), XP, flat, left=0.0)   # a jump at xp[0]
    # the derivative by fp exists at breakpoints: the value there is fp[i]
    d = np.interp(0.0, XP, Dual(lin, np.eye(5)))
    assert d.tangent.tolist() == [0.0, 0.0, 1.0, 0.0, 0.0]


def test_interp_nan_and_errors():
    d = np.interp(Dual(np.array([np.nan, 0.2]), np.ones((2, 1))), XP, 2 * XP)
    assert np.isnan(d.tangent[0, 0]) and d.tangent[1, 0] == 2.0
    with pytest.raises(TypeError, match="does not support period="):
        np.interp(Dual(0.2, [1.0]), XP, XP, period=2.0)
    with pytest.raises(TypeError, match="xp, left and right must be constants"):
        np.interp(0.2, Dual(XP, np.ones((5, 1))), XP)


# --- matrix functions -------------------------------------------------------------------

def _sym(a):
    return 0.5 * (a + np.swapaxes(a, -1, -2)) if not isinstance(a, Dual) else \
        0.5 * (a + a.transpose(tuple(range(a.ndim - 2)) + (a.ndim - 1, a.ndim - 2)))


LINALG_CS = [
    ("inv", lambda a: np.linalg.inv(a), [sq(3, 3)]),
    ("inv-batched", lambda a: np.linalg.inv(a), [sq(2, 1, 3, 3)]),
    ("inv-empty-batch", lambda a: np.linalg.inv(a), [sq(0, 2, 2)]),
    ("det", lambda a: np.linalg.det(a), [sq(3, 3)]),
    ("det-batched", lambda a: np.linalg.det(a), [sq(2, 3, 3)]),
    ("det-1x1", lambda a: np.linalg.det(a), [sq(1, 1)]),
    ("solve-vec", lambda a, b: np.linalg.solve(a, b), [sq(3, 3), r(3)]),
    ("solve-mat", lambda a, b: np.linalg.solve(a, b), [sq(3, 3), r(3, 2)]),
    ("solve-batched", lambda a, b: np.linalg.solve(a, b), [sq(2, 3, 3), r(2, 3, 2)]),
    ("solve-batched-vec", lambda a, b: np.linalg.solve(a, b), [sq(2, 3, 3), r(3)]),
    ("tensorinv", lambda a: np.linalg.tensorinv(a), [sq(6, 6).reshape(2, 3, 6)]),
    ("tensorinv-ind1", lambda a: np.linalg.tensorinv(a, ind=1), [sq(6, 6).reshape(6, 2, 3)]),
    ("tensorsolve", lambda a, b: np.linalg.tensorsolve(a, b), [sq(6, 6).reshape(2, 3, 6), r(2, 3)]),
    ("tensorsolve-axes", lambda a, b: np.linalg.tensorsolve(a, b, axes=(0,)),
     [sq(6, 6).T.reshape(6, 2, 3), r(2, 3)]),
    ("solve-bcast", lambda a, b: np.linalg.solve(a, b), [sq(3, 3), r(2, 3, 4)]),
]


@pytest.mark.parametrize("k", [1, 3, 129])
@pytest.mark.parametrize("name,f,xs", LINALG_CS, ids=[p[0] for p in LINALG_CS])
def test_inv_det_solve_against_complex_step(name, f, xs, k):
    if k == 129 and "batched" not in name:
        pytest.skip("k=129 on a representative subset")
    check(f, xs, k=k, method="cs")
    if len(xs) == 2:
        check(f, xs, dual=[True, False], method="cs")
        check(f, xs, dual=[False, True], method="cs", strided="neg")
    else:
        check(f, xs, method="cs", strided="step")


def cofactors(A):
    """C_ij = (-1)^(i+j) det(minor_ij), from the definition: d det A = sum C_ij dA_ij."""
    n = A.shape[0]
    C = np.empty_like(A)
    for i, j in itertools.product(range(n), range(n)):
        minor = np.delete(np.delete(A, i, axis=0), j, axis=1)
        C[i, j] = (-1) ** (i + j) * np.linalg.det(minor)
    return C


@pytest.mark.parametrize("rank", [3, 2, 1, 0])
def test_det_at_singular_matrices_is_the_adjugate(rank):
    n = 4
    A = r(n, rank) @ r(rank, n) if rank else np.zeros((n, n))
    d = np.linalg.det(Dual(A, np.eye(n * n).reshape(n, n, n * n)))
    C = cofactors(A)
    np.testing.assert_allclose(d.tangent.reshape(n, n), C, rtol=1e-10,
                               atol=1e-12 * max(1.0, np.abs(C).max()))
    if rank <= n - 2:
        np.testing.assert_allclose(d.tangent, 0.0, atol=1e-12)
    else:
        assert np.abs(d.tangent).max() > 1e-3


def test_det_at_exactly_singular_integer_matrices():
    """Used to raise LinAlgError (Jacobi's formula through inv(A))."""
    A = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])     # rank 2
    d = np.linalg.det(Dual(A, np.eye(9).reshape(3, 3, 9)))
    np.testing.assert_allclose(d.tangent.reshape(3, 3), cofactors(A), atol=1e-13)
    B = np.ones((2, 3, 3))                                                  # rank 1
    B[1] = A
    d = np.linalg.det(Dual(B, np.ones((2, 3, 3, 1))))
    np.testing.assert_allclose(d.tangent[:, 0], [0.0, np.sum(cofactors(A))], atol=1e-12)


LINALG_FD = [
    ("slogdet", lambda a: np.linalg.slogdet(a)[1], [sq(3, 3)]),
    ("slogdet-negative", lambda a: np.linalg.slogdet(-a)[1], [sq(3, 3)]),
    ("slogdet-batched", lambda a: np.linalg.slogdet(a)[1], [sq(2, 2, 3, 3)]),
    ("cholesky", lambda a: np.linalg.cholesky(a), [spd(3, 3)]),
    ("cholesky-upper", lambda a: np.linalg.cholesky(a, upper=True), [spd(3, 3)]),
    ("cholesky-batched", lambda a: np.linalg.cholesky(a), [spd(2, 3, 3)]),
    ("cholesky-sym", lambda a: np.linalg.cholesky(_sym(a)), [spd(3, 3)]),
    ("eigvalsh", lambda a: np.linalg.eigvalsh(a), [separated(4, 4)]),
    ("eigvalsh-U", lambda a: np.linalg.eigvalsh(a, UPLO="U"), [separated(4, 4)]),
    ("eigvalsh-batched", lambda a: np.linalg.eigvalsh(a), [separated(2, 3, 3)]),
    ("svd-s", lambda a: np.linalg.svd(a, compute_uv=False), [r(4, 3)]),
    ("svd-s-wide-batched", lambda a: np.linalg.svd(a, compute_uv=False), [r(2, 2, 3)]),
    ("pinv-tall", lambda a: np.linalg.pinv(a), [r(4, 2)]),
    ("pinv-wide", lambda a: np.linalg.pinv(a), [r(2, 4)]),
    ("pinv-square-batched", lambda a: np.linalg.pinv(a), [r(2, 3, 3)]),
    ("pinv-rtol", lambda a: np.linalg.pinv(a, rtol=1e-10), [r(3, 2)]),
    ("pinv-rcond", lambda a: np.linalg.pinv(a, rcond=1e-10), [r(3, 2)]),
    ("pinv-low-rank", lambda x: np.linalg.pinv(x.T @ x), [r(2, 3)]),
    ("pinv-low-rank-wide", lambda x, y: np.linalg.pinv(x @ y), [r(4, 2), r(2, 5)]),
    ("qr-tall", lambda a: np.linalg.qr(a), [diagdom(4, 3)]),
    ("qr-wide", lambda a: np.linalg.qr(a), [diagdom(2, 4)]),
    ("qr-batched", lambda a: np.linalg.qr(a), [diagdom(2, 3, 3)]),
    ("qr-r", lambda a: np.linalg.qr(a, mode="r"), [diagdom(4, 3)]),
    ("qr-complete-wide", lambda a: np.linalg.qr(a, mode="complete"), [diagdom(2, 3)]),
    ("lstsq-vec", lambda a, b: np.linalg.lstsq(a, b)[0], [r(5, 2), r(5)]),
    ("lstsq-mat", lambda a, b: np.linalg.lstsq(a, b, rcond=None)[0], [r(5, 3), r(5, 2)]),
    ("lstsq-square", lambda a, b: np.linalg.lstsq(a, b)[0], [sq(3, 3), r(3)]),
    ("lstsq-residuals", lambda a, b: np.linalg.lstsq(a, b)[1], [r(5, 2), r(5, 3)]),
    ("lstsq-residuals-vec", lambda a, b: np.linalg.lstsq(a, b)[1], [r(5, 2), r(5)]),
    ("lstsq-sv", lambda a, b: np.linalg.lstsq(a, b)[3], [r(5, 3), r(5)]),
]
if hasattr(np.linalg, "svdvals"):
    LINALG_FD.append(("svdvals", lambda a: np.linalg.svdvals(a), [r(2, 3, 4)]))


@pytest.mark.parametrize("k", [1, 3, 129])
@pytest.mark.parametrize("name,f,xs", LINALG_FD, ids=[p[0] for p in LINALG_FD])
def test_matrix_functions_against_central_differences(name, f, xs, k):
    if k == 129 and name not in ("cholesky", "pinv-tall", "lstsq-mat", "slogdet-batched"):
        pytest.skip("k=129 on a representative subset")
    check(f, xs, k=k)
    if len(xs) == 2 and "low-rank" not in name:
        check(f, xs, dual=[True, False])
        if name != "lstsq-sv":      # sv of a constant matrix: a plain array (tested below)
            check(f, xs, dual=[False, True], strided="step")
    elif len(xs) == 1:
        check(f, xs, strided="neg")


def _aligned(f, V0s):
    """f with each returned vector matrix's columns signed like those of V0s (LAPACK's
    signs are arbitrary, so a perturbed call may flip them)."""
    def g(*xs):
        outs = list(f(*xs))
        for i, V0 in V0s.items():
            s = np.sign(np.sum(outs[i] * V0, axis=-2, keepdims=True))
            outs[i] = outs[i] * s
        return outs
    return g


@pytest.mark.parametrize("k", [1, 3, 129])
@pytest.mark.parametrize("uplo", ["L", "U"])
@pytest.mark.parametrize("shape", [(4, 4), (2, 1, 3, 3)])
def test_eigh_against_central_differences(shape, uplo, k):
    # not symmetric: only the UPLO triangle is read (the other one gets noise)
    A = separated(*shape)
    A = A + 0.3 * (np.triu(r(*shape), 1) if uplo == "L" else np.tril(r(*shape), -1))
    f = lambda a: np.linalg.eigh(a, UPLO=uplo)
    V0 = np.linalg.eigh(A, UPLO=uplo)[1]
    check(f, [A], k=k, ref=_aligned(f, {1: V0}))


def real_spectrum(*shape):
    """Non-symmetric matrices (stacks) with eigenvalues 1, 2, 3, ... (real, distinct)
    and well-conditioned eigenvectors: S diag(1..n) S^-1, cond(S) = 2."""
    n = shape[-1]
    Q1 = np.linalg.qr(RNG.standard_normal(shape))[0]
    Q2 = np.linalg.qr(RNG.standard_normal(shape))[0]
    S = (Q1 * np.linspace(1.0, 2.0, n)[..., None, :]) @ Q2
    return (S * np.arange(1.0, n + 1)[..., None, :]) @ np.linalg.inv(S)


def _eig_like(f, A0):
    """f (eig or eigvals) with LAPACK's order of the eigenvalues at A0 kept under
    perturbation (geev's order is not sorted), vectors signed like at A0."""
    w0 = np.linalg.eigvals(A0) if f is np.linalg.eigvals else np.linalg.eig(A0)[0]
    inv0 = np.argsort(np.argsort(w0, axis=-1), axis=-1)
    V0 = None if f is np.linalg.eigvals else np.linalg.eig(A0)[1]

    def g(A):
        out = f(A)
        w = out if f is np.linalg.eigvals else out[0]
        p = np.take_along_axis(np.argsort(w, axis=-1), inv0, axis=-1)
        w = np.take_along_axis(w, p, axis=-1)
        if V0 is None:
            return w
        V = np.take_along_axis(out[1], p[..., None, :], axis=-1)
        return w, V * np.sign(np.sum(V * V0, axis=-2, keepdims=True))
    return g


@pytest.mark.parametrize("k", [1, 3, 129])
@pytest.mark.parametrize("shape", [(3, 3), (2, 1, 4, 4)])
def test_eig_with_real_eigenvalues(shape, k):
    A = real_spectrum(*shape)
    check(np.linalg.eig, [A], k=k, ref=_eig_like(np.linalg.eig, A))
    check(np.linalg.eigvals, [A], k=k, strided="neg", ref=_eig_like(np.linalg.eigvals, A))
    # the tangents of the eigenvalues, against the analytic dw_i = (V^-1 dA V)_ii
    t = r(*shape, 2)
    V0 = np.linalg.eig(A)[1]
    w = np.linalg.eig(Dual(A, t))[0]
    np.testing.assert_allclose(
        w.tangent, np.einsum("...ij,...jkz,...ki->...iz", np.linalg.inv(V0), t, V0),
        rtol=1e-10, atol=1e-12)


def test_eig_errors():
    rot = np.array([[0.0, -1.0], [1.0, 0.0]])
    with pytest.raises(ValueError, match="eig: the matrix has complex eigenvalues"):
        np.linalg.eig(Dual(rot, r(2, 2, 1)))
    with pytest.raises(ValueError, match="eigvals: the matrix has complex eigenvalues"):
        np.linalg.eigvals(Dual(rot, r(2, 2, 1)))
    with pytest.raises(ValueError, match="eig: repeated eigenvalues"):
        np.linalg.eig(Dual(np.eye(2), r(2, 2, 1)))


@pytest.mark.parametrize("k", [1, 3, 129])
@pytest.mark.parametrize("shape", [(4, 3), (3, 4), (3, 3), (2, 2, 3), (2, 4, 2)])
def test_svd_against_central_differences(shape, k):
    A = r(*shape)
    f = lambda a: np.linalg.svd(a, full_matrices=False)
    U0, s0, Vh0 = np.linalg.svd(A, full_matrices=False)
    g = lambda a: (lambda U, s, Vh: (U, s, np.swapaxes(Vh, -1, -2)))(*f(a))
    ref = _aligned(g, {0: U0})
    # the signs of V follow those of U: align V by the same flips as U
    def ref2(a):
        U, s, V = g(a)
        sg = np.sign(np.sum(U * U0, axis=-2, keepdims=True))
        return U * sg, s, np.swapaxes(V * sg, -1, -2)
    out = check(f, [A], k=k, ref=ref2)
    assert type(out) is list and len(out) == 3
    res = np.linalg.svd(Dual(A, r(*shape, 2)), full_matrices=shape[-1] == shape[-2])
    assert type(res).__name__ == "SVDResult"


def test_result_types_follow_numpy():
    A = Dual(spd(3, 3), r(3, 3, 2))
    assert type(np.linalg.eigh(A)).__name__ == "EighResult"
    s = np.linalg.slogdet(A)
    assert type(s).__name__ == "SlogdetResult"
    assert not isinstance(s.sign, Dual) and isinstance(s.logabsdet, Dual)
    x, res, rank, sv = np.linalg.lstsq(A, np.ones(3))
    assert isinstance(x, Dual) and rank == 3 and isinstance(sv, Dual)


def test_lstsq_sv_of_a_constant_matrix_stay_arrays():
    b = Dual(r(4), r(4, 2))
    x, res, rank, sv = np.linalg.lstsq(r(4, 2), b)
    assert isinstance(x, Dual) and isinstance(res, Dual) and not isinstance(sv, Dual)


def test_lstsq_repeated_singular_values_get_nan_tangents():
    Q = np.linalg.qr(r(4, 2))[0]                       # orthonormal columns: s = (1, 1)
    x, res, rank, sv = np.linalg.lstsq(Dual(Q, r(4, 2, 3)), r(4))
    assert np.isnan(sv.tangent).all() and np.isfinite(x.tangent).all()


def test_matrix_function_errors():
    one = Dual(r(3), r(3, 1))
    with pytest.raises(np.linalg.LinAlgError, match="inv: 1-dimensional array given"):
        np.linalg.inv(one)
    with pytest.raises(np.linalg.LinAlgError, match="det: 1-dimensional array given"):
        np.linalg.det(one)
    with pytest.raises(np.linalg.LinAlgError, match="solve: 1-dimensional array given"):
        np.linalg.solve(one, one)
    with pytest.raises(np.linalg.LinAlgError, match="slogdet: 1-dimensional array given"):
        np.linalg.slogdet(one)
    sing = Dual(np.ones((2, 2)), r(2, 2, 1))
    with pytest.raises(ValueError, match="slogdet: the matrix is singular"):
        np.linalg.slogdet(sing)
    with pytest.raises(ValueError, match="eigh: repeated eigenvalues"):
        np.linalg.eigh(Dual(np.eye(3), r(3, 3, 1)))
    with pytest.raises(ValueError, match="eigvalsh: repeated eigenvalues"):
        np.linalg.eigvalsh(Dual(np.diag([1.0, 2.0, 2.0]), r(3, 3, 1)))
    with pytest.raises(ValueError, match="svd: repeated singular values"):
        np.linalg.svd(Dual(np.diag([3.0, 2.0, 2.0]), r(3, 3, 1)), full_matrices=False)
    with pytest.raises(ValueError, match="svd: repeated singular values"):
        np.linalg.svd(Dual(np.diag([3.0, 2.0, 2.0]), r(3, 3, 1)), compute_uv=False)
    with pytest.raises(ValueError, match="svd: a zero singular value"):
        np.linalg.svd(Dual(np.diag([3.0, 2.0, 0.0]), r(3, 3, 1)))
    with pytest.raises(ValueError, match="full_matrices=False"):
        np.linalg.svd(Dual(r(3, 2), r(3, 2, 1)))
    with pytest.raises(TypeError, match="does not support hermitian="):
        np.linalg.svd(Dual(spd(2, 2), r(2, 2, 1)), hermitian=True)
    with pytest.raises(TypeError, match="does not support hermitian="):
        np.linalg.pinv(Dual(spd(2, 2), r(2, 2, 1)), hermitian=True)
    low = r(3, 2) @ r(2, 3)
    with pytest.raises(ValueError, match="tangent changes its rank"):
        np.linalg.pinv(Dual(low, r(3, 3, 2)))
    with pytest.raises(ValueError, match="rank 1 < 2 columns"):
        np.linalg.lstsq(Dual(np.outer(r(4), r(2)), r(4, 2, 1)), r(4))
    with pytest.raises(np.linalg.LinAlgError, match="cholesky: 1-dimensional"):
        np.linalg.cholesky(one)
    with pytest.raises(ValueError, match="mode='reduced' and 'r'"):
        np.linalg.qr(Dual(r(3, 2), r(3, 2, 1)), mode="complete")
    with pytest.raises(ValueError, match="mode='reduced' and 'r'"):
        np.linalg.qr(Dual(r(3, 2), r(3, 2, 1)), mode="raw")
    with pytest.raises(ValueError, match="qr: the leading min"):
        np.linalg.qr(Dual(np.ones((3, 2)), r(3, 2, 1)))
    with pytest.raises(ValueError, match="linalg.outer: both inputs must be 1-dim"):
        np.linalg.outer(Dual(r(2, 2), r(2, 2, 1)), r(2))
    with pytest.raises(ValueError, match="linalg.cross: both inputs must be 3-dim"):
        np.linalg.cross(Dual(r(2), r(2, 1)), r(2))
    with pytest.raises(np.linalg.LinAlgError):          # NumPy's own: not positive definite
        np.linalg.cholesky(Dual(-np.eye(2), r(2, 2, 1)))


def test_pinv_of_a_rank_deficient_matrix_along_rank_preserving_tangents():
    """Golub & Pereyra's formula holds for constant rank: A = x y with x (4, 2), y
    (2, 5): every tangent of x y keeps rank 2."""
    x, y = r(4, 2), r(2, 5)
    tx, ty = r(4, 2, 3), r(2, 5, 3)
    d = np.linalg.pinv(Dual(x, tx) @ Dual(y, ty))
    ref = ref_tangents(lambda x, y: np.linalg.pinv(x @ y), [x, y], [tx, ty], "fd")[0]
    np.testing.assert_allclose(d.tangent, ref, rtol=1e-7, atol=1e-7 * np.abs(ref).max())


# --- norms ------------------------------------------------------------------------------

VECTOR_ORDS = [None, 2, 1, -1, 3, 0.5, -2.5, np.inf, -np.inf]
MATRIX_ORDS = [None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf]


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("ord", VECTOR_ORDS, ids=str)
def test_vector_norms(ord, keepdims):
    x = graded(5)[RNG.permutation(5)]
    f = lambda x: np.linalg.norm(x, ord=ord, keepdims=keepdims)
    check(f, [x])
    X = graded(2, 3, 4)
    for axis in (0, 1, -1):
        check(lambda x: np.linalg.norm(x, ord=ord, axis=axis, keepdims=keepdims), [X],
              strided="neg")
    check(lambda x: np.linalg.norm(x, ord=ord, axis=(1,), keepdims=keepdims), [X], k=129)


def spectral(batch, m, n):
    """Stacks of m x n matrices with singular values 3, 2, 1 (distinct, far from 0)."""
    p = min(m, n)
    U = np.linalg.qr(RNG.standard_normal(batch + (m, m)))[0][..., :, :p]
    V = np.linalg.qr(RNG.standard_normal(batch + (n, n)))[0][..., :p, :]
    return (U * np.arange(p, 0, -1.0)) @ V


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("ord", MATRIX_ORDS, ids=str)
def test_matrix_norms(ord, keepdims):
    # data away from the kinks: distinct |.| sums for 1/inf, singular values 3, 2, 1
    # for the SVD-based ords
    svd_based = ord in ("nuc", 2, -2)
    A = spectral((), 4, 3) if svd_based else graded(4, 3)
    check(lambda a: np.linalg.norm(a, ord=ord, keepdims=keepdims), [A])
    for axis in ((0, 2), (2, 0), (-1, -2), (1, 2)):
        X = np.moveaxis(spectral((2,), 3, 4), (-2, -1), axis) if svd_based \
            else graded(3, 2, 4)
        check(lambda x: np.linalg.norm(x, ord=ord, axis=axis, keepdims=keepdims), [X],
              strided="step")


def test_array_api_norms():
    X = graded(2, 3, 2)
    check(lambda x: np.linalg.vector_norm(x), [X])
    check(lambda x: np.linalg.vector_norm(x, axis=(0, 2), ord=3, keepdims=True), [X])
    check(lambda x: np.linalg.vector_norm(x, axis=1, ord=np.inf), [X], strided="neg")
    check(lambda x: np.linalg.vector_norm(x, keepdims=True, ord=1), [X])
    check(lambda x: np.linalg.matrix_norm(x, ord="nuc", keepdims=True),
          [spectral((2,), 3, 4)])
    check(lambda x: np.linalg.matrix_norm(x), [X], k=129)


@pytest.mark.parametrize("p", [None, 2, -2, "fro", "nuc"], ids=str)
def test_cond(p):
    check(lambda a: np.linalg.cond(a, p), [spectral((), 3, 3)])
    B = spectral((2,), 3, 3 if p in ("fro", "nuc") else 4)   # stacks; non-square: SVD
    check(lambda a: np.linalg.cond(a, p), [B], strided="neg")


@pytest.mark.parametrize("p", [1, -1, np.inf, -np.inf], ids=str)
def test_cond_induced_against_analytic(p):
    """cond = ||A|| ||B||, B = inv(A): d cond = d||A|| ||B|| + ||A|| d||B||, dB = -B dA B,
    d||M|| = sum of sign(M) dM over the selected column (1) or row (inf)."""
    def dnorm(M, dM):
        ax = 0 if p in (1, -1) else 1
        sums = np.abs(M).sum(axis=ax)
        j = np.argmax(sums) if p > 0 else np.argmin(sums)
        sel = (slice(None), j) if ax == 0 else (j, slice(None))
        return np.sum(np.sign(M[sel]) * dM[sel])
    A = np.diag([2.0, 4.0, 8.0]) + 0.3 * graded(3, 3)
    B = np.linalg.inv(A)
    t = r(3, 3, 4)
    d = np.linalg.cond(Dual(A, t), p)
    want = [dnorm(A, t[..., z]) * np.linalg.norm(B, p)
            + np.linalg.norm(A, p) * dnorm(B, -B @ t[..., z] @ B) for z in range(4)]
    assert d.value == np.linalg.cond(A, p)
    np.testing.assert_allclose(d.tangent, want, rtol=1e-12)


def test_cond_errors():
    with pytest.raises(ValueError, match="cond: a zero singular value"):
        np.linalg.cond(Dual(np.diag([1.0, 0.0]), r(2, 2, 1)))
    with pytest.raises(ValueError, match="cond: the largest or smallest singular value"):
        np.linalg.cond(Dual(np.diag([2.0, 2.0, 1.0]), r(3, 3, 1)))


def test_matrix_rank_is_computed_on_values():
    assert np.linalg.matrix_rank(Dual(np.ones((3, 3)), r(3, 3, 2))) == 1


def test_norm_of_everything_and_zero_count():
    X = r(2, 3, 2)
    check(lambda x: np.linalg.norm(x), [X], k=129)
    check(lambda x: np.linalg.norm(x, keepdims=True), [X])
    d = np.linalg.norm(Dual(np.array([0.0, 2.0, -1.0]), r(3, 2)), ord=0)
    assert d.value == 2.0 and d.tangent.tolist() == [0.0, 0.0]
    check(lambda x: np.linalg.norm(x), [r()])                 # 0-d
    check(lambda x: np.linalg.norm(x, axis=0), [r(0, 3)])     # empty


def test_convex_norms_give_subgradients_at_kinks():
    """Documented convention: norms that are convex (ord >= 1, 'fro', 'nuc', 2) return
    a subgradient where they are not differentiable: sign(0) = 0, the first of tied
    maxima, 0 at the zero vector/matrix, U V^T / u_1 v_1^T of the computed SVD."""
    def grad(x, **kw):
        x = np.asarray(x, dtype=float)
        return np.linalg.norm(Dual(x, np.eye(x.size).reshape(x.shape + (x.size,))),
                              **kw).tangent.reshape(x.shape)
    for ord in (None, 1, 2, 3, np.inf):
        assert grad(np.zeros(3), ord=ord).tolist() == [0.0, 0.0, 0.0]
    assert grad([0.0, -2.0, 1.0], ord=1).tolist() == [0.0, -1.0, 1.0]
    assert grad([2.0, -2.0, 1.0], ord=np.inf).tolist() == [1.0, 0.0, 0.0]
    assert grad([0.0, -2.0], ord=3).tolist() == [0.0, -1.0]
    for ord in ("fro", "nuc", 2, 1, np.inf):
        assert np.all(grad(np.zeros((2, 3)), ord=ord) == 0)
    # G is a subgradient of a norm at A iff <G, A> = ||A|| and <G, B> <= ||B|| for
    # every B (the norm is positively homogeneous): check on random B
    def is_subgradient(A, ord):
        G = grad(A, ord=ord)
        assert np.sum(G * A) == pytest.approx(np.linalg.norm(A, ord), rel=1e-12)
        for _ in range(200):
            B = r(*A.shape)
            assert np.sum(G * B) <= np.linalg.norm(B, ord) * (1 + 1e-12)
    is_subgradient(np.outer(r(3), r(3)) + np.outer(r(3), r(3)), "nuc")   # rank 2
    is_subgradient(np.diag([2.0, 2.0, 1.0]), 2)          # tied top singular value
    is_subgradient(np.array([[1.0, -2.0], [1.0, 0.0]]), 1)         # tied column sums
    is_subgradient(np.array([[1.0, 1.0], [-2.0, 0.0]]), np.inf)    # tied row sums
    is_subgradient(np.array([[0.0, 3.0], [1.0, 0.0]]), "fro")


def test_nonconvex_norms_raise_at_kinks():
    d = lambda x: Dual(np.asarray(x, dtype=float), np.ones(np.shape(x) + (1,)))
    with pytest.raises(ValueError, match=r"min \|x_i\| is attained more than once"):
        np.linalg.norm(d([1.0, -1.0, 2.0]), ord=-np.inf)
    with pytest.raises(ValueError, match=r"ord=-inf\): min \|x_i\| = 0 is a kink"):
        np.linalg.norm(d([0.0, 1.0]), ord=-np.inf)
    with pytest.raises(ValueError, match=r"ord=0.5\): a zero entry"):
        np.linalg.norm(d([0.0, 1.0]), ord=0.5)
    with pytest.raises(ValueError, match=r"ord=-1\): a zero entry"), \
            np.errstate(divide="ignore"):       # NumPy's own warning for the value
        np.linalg.norm(d([0.0, 1.0]), ord=-1)
    with pytest.raises(ValueError, match="smallest column sum of |A| is attained"):
        np.linalg.norm(d([[1.0, -1.0], [1.0, 1.0]]), ord=-1)
    with pytest.raises(ValueError, match="smallest row sum"):
        np.linalg.norm(d([[1.0, 1.0], [-1.0, 1.0]]), ord=-np.inf)
    with pytest.raises(ValueError, match="a zero entry in the selected row/column"):
        np.linalg.norm(d([[0.0, 3.0], [1.0, 3.0]]), ord=-1)
    with pytest.raises(ValueError, match=r"ord=-2\): the smallest singular value is zero"):
        np.linalg.norm(d([[1.0, 1.0], [1.0, 1.0]]), ord=-2)
    with pytest.raises(ValueError, match="smallest singular value is repeated"):
        np.linalg.norm(d(np.diag([3.0, 1.0, 1.0])), ord=-2)
    with pytest.raises(ValueError, match="Invalid norm order for matrices"):
        np.linalg.norm(d(np.eye(2)), ord=0)
    with pytest.raises(ValueError, match="Improper number of dimensions"):
        np.linalg.norm(d(np.ones((2, 2, 2))), ord=1)


def test_new_functions_are_published():
    fs = set(Dual.supported_functions())
    for name in ("einsum", "tensordot", "kron", "cross", "polyval", "interp", "vdot",
                 "linalg.slogdet", "linalg.cholesky", "linalg.eigh", "linalg.eigvalsh",
                 "linalg.lstsq", "linalg.pinv", "linalg.svd", "linalg.multi_dot",
                 "linalg.matrix_power", "linalg.qr", "linalg.vector_norm",
                 "linalg.matrix_norm", "linalg.vecdot", "linalg.eig", "linalg.eigvals",
                 "linalg.tensorinv", "linalg.tensorsolve", "linalg.cond"):
        assert name in fs, name


@pytest.mark.parametrize("f", [
    np.linalg.det, lambda a: np.linalg.slogdet(a)[1], np.linalg.inv, np.linalg.cholesky,
    np.linalg.eigvalsh, lambda a: np.linalg.svd(a, compute_uv=False), np.linalg.pinv,
    lambda a: np.linalg.norm(a, axis=(1, 2)), lambda a: np.linalg.norm(a, "nuc", axis=(1, 2)),
    lambda a: np.linalg.solve(a, a), lambda a: np.linalg.eigh(a)[1],
    lambda a: np.linalg.matrix_power(a, 3), lambda a: np.einsum("...ij,...jk", a, a),
], ids=lambda f: str(f.__code__.co_firstlineno) if hasattr(f, "__code__") else f.__name__)
@pytest.mark.parametrize("shape", [(0, 2, 2), (2, 0, 0)])
def test_empty_stacks_follow_numpy(f, shape):
    try:
        want = f(np.zeros(shape))
    except Exception as e:                  # NumPy refuses: so does the Dual
        with pytest.raises(type(e)):
            f(Dual(np.zeros(shape), np.zeros(shape + (3,))))
        return
    out = f(Dual(np.zeros(shape), np.zeros(shape + (3,))))
    assert out.shape == np.shape(want)
    np.testing.assert_array_equal(out.value, want)
    np.testing.assert_array_equal(out.tangent, 0.0)
