"""Dual coverage of the reductions family (src/dualfd/_dual/reductions.pxi).

Values are compared with NumPy's on the plain arrays; tangents with an independent
Jacobian: complex step (scipy's approx_derivative, method="cs") for the analytic
functions that accept complex input, a 4th-order central difference otherwise, or a
closed form.  A Dual seeded with random directions V must carry J @ V.
"""
import numpy as np
import pytest
from scipy.optimize._numdiff import approx_derivative

from dualfd import Dual

RNG = np.random.default_rng(1234)


def fd_jacobian(f, x):
    """4th-order central differences, h = 1e-3 * max(1, |x_j|): error ~ h^4 + eps/h."""
    x = np.asarray(x, dtype=float)
    f0 = np.asarray(f(x), dtype=float)
    J = np.empty((f0.size, x.size))
    for j in range(x.size):
        h = 1e-3 * max(1.0, abs(x.flat[j]))
        cols = []
        for s in (2, 1, -1, -2):
            xs = x.copy()
            xs.flat[j] += s * h
            cols.append(np.asarray(f(xs), dtype=float).reshape(-1))
        J[:, j] = (-cols[0] + 8 * cols[1] - 8 * cols[2] + cols[3]) / (12 * h)
    return J


def cs_jacobian(f, x):
    x = np.asarray(x, dtype=float)
    J = approx_derivative(lambda z: np.asarray(f(z.reshape(x.shape))).reshape(-1),
                          x.reshape(-1), method="cs")
    return J.reshape(-1, x.size)


def check(f, x, k=3, ref=fd_jacobian, view=None, rtol=1e-7):
    """f on a Dual seeded with k random directions: value == f(x) and tangent ==
    J_ref @ V.  view: None, "step2" (x is base[::2] of a larger Dual) or "reverse"
    (x is base[::-1])."""
    x = np.asarray(x, dtype=float)
    V = RNG.standard_normal(x.shape + (k,))
    if view is None:
        d = Dual(x, V)
    else:
        sl = slice(None, None, 2) if view == "step2" else slice(None, None, -1)
        # a base whose sliced view holds x and V
        shape = list(x.shape)
        shape[0] *= 2 if view == "step2" else 1
        xb = RNG.standard_normal(shape)
        Vb = RNG.standard_normal(tuple(shape) + (k,))
        xb[sl] = x
        Vb[sl] = V
        d = Dual(xb, Vb)[sl]
        assert d.base is not None and np.array_equal(d.value, x)
    out = f(d)
    expected = f(x)
    assert type(out) is Dual
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.value, expected, rtol=1e-15, atol=0)
    J = ref(f, x)
    want = J @ V.reshape(x.size, k)
    got = out.tangent.reshape(-1, k)
    scale = max(1.0, np.max(np.abs(want), initial=0.0))
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale)
    return out


def distinct(shape, gap=0.3):
    """Values at least `gap` apart, shuffled: no ties for sort/max/argmax."""
    n = int(np.prod(shape))
    v = gap * np.arange(n) + RNG.uniform(0, 0.1 * gap, n) - gap * n / 2
    return RNG.permutation(v).reshape(shape)


# --- var / std ------------------------------------------------------------------------

VAR_CASES = [
    dict(), dict(axis=0), dict(axis=1), dict(axis=-1), dict(axis=(0, 2)),
    dict(axis=(-1, 0)), dict(keepdims=True), dict(axis=1, keepdims=True),
    dict(ddof=1), dict(axis=1, ddof=2, keepdims=True), dict(axis=0, correction=1),
]


@pytest.mark.parametrize("func", [np.var, np.std])
@pytest.mark.parametrize("kw", VAR_CASES)
def test_var_std_variants(func, kw):
    check(lambda x: func(x, **kw), RNG.standard_normal((3, 4, 5)))


@pytest.mark.parametrize("k", [1, 3, 129])
@pytest.mark.parametrize("view", [None, "step2", "reverse"])
def test_var_std_k_and_views(k, view):
    x = RNG.standard_normal((4, 3))
    check(lambda x: np.var(x, axis=0, ddof=1), x, k=k, view=view)
    check(lambda x: np.std(x, axis=1), x, k=k, view=view)


def test_var_std_methods_and_scalars():
    x = RNG.standard_normal((3, 4))
    check(lambda x: x.var(axis=1, ddof=1), x)
    check(lambda x: x.std(), x)
    d = Dual(np.array(2.5), np.array([1.0, -2.0]))
    assert np.var(d).value == 0.0 and np.all(np.var(d).tangent == 0.0)


def test_var_large_offset_is_centred():
    # var(x + c) == var(x): the tangent must not pick up the offset
    x = 1e8 + RNG.standard_normal(6)
    out = check(lambda x: np.var(x), x, rtol=1e-6)
    assert np.isfinite(out.tangent).all()


def test_var_and_std_of_equal_values():
    # var has derivative 0 there; std(x + h v) = |h| std(v) has a kink unless the
    # tangents are equal too
    x = np.full(3, 0.1)
    d = Dual(x, np.array([[1.0], [2.0], [0.0]]))
    np.testing.assert_allclose(np.var(d).tangent, 0.0, atol=1e-16)
    with pytest.raises(ValueError, match=r"numpy\.std is not differentiable where all "
                                         r"values .* are equal"):
        np.std(d)
    same = np.std(Dual(x, np.ones((3, 2))))
    assert same.value == np.std(x) and np.all(same.tangent == 0.0)
    # only the constant row of a batch is special
    x2 = np.array([[0.1, 0.1, 0.1], [1.0, 2.0, 4.0]])
    out = np.std(Dual(x2, np.stack([np.ones((2, 3)), np.ones((2, 3))], axis=-1)), axis=1)
    assert np.all(out.tangent[0] == 0.0) and np.all(np.isfinite(out.tangent))


def test_var_std_errors():
    d = Dual(np.ones((2, 2)), np.ones((2, 2, 1)))
    with pytest.raises(ValueError, match="ddof and correction can't be provided"):
        np.var(d, ddof=1, correction=1)
    with pytest.raises(TypeError, match=r"numpy\.var on Dual arrays does not support where="):
        np.var(d, where=np.array([[True, False], [True, True]]))
    with pytest.raises(TypeError, match=r"numpy\.std on Dual arrays does not support mean="):
        np.std(d, mean=np.zeros((2, 1)))
    with pytest.raises(TypeError, match=r"numpy\.var on Dual arrays does not support dtype="):
        np.var(d, dtype=np.float32)
    with pytest.raises(np.exceptions.AxisError):
        np.var(d, axis=2)
    assert np.var(d, dtype=np.float64).value == 0.0


def test_var_without_degrees_of_freedom_is_not_finite():
    d = Dual(np.array([1.0, 2.0]), np.eye(2))
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        out = np.var(d, ddof=2)
    assert not np.isfinite(out.value) and not np.isfinite(out.tangent).any()


# --- cumprod --------------------------------------------------------------------------

@pytest.mark.parametrize("kw", [dict(), dict(axis=0), dict(axis=1), dict(axis=-1)])
@pytest.mark.parametrize("k", [1, 3, 129])
def test_cumprod(kw, k):
    check(lambda x: np.cumprod(x, **kw), RNG.uniform(0.5, 2.0, (3, 4)), k=k,
          ref=cs_jacobian, rtol=1e-12)


@pytest.mark.parametrize("view", ["step2", "reverse"])
def test_cumprod_views_and_method(view):
    check(lambda x: np.cumprod(x, axis=0), RNG.uniform(0.5, 2.0, (4, 3)),
          ref=cs_jacobian, view=view, rtol=1e-12)
    check(lambda x: x.cumprod(axis=1), RNG.uniform(0.5, 2.0, (4, 3)),
          ref=cs_jacobian, rtol=1e-12)


def test_cumprod_with_zeros_is_exact():
    # d cumprod_i / d x_j = prod_{l <= i, l != j} x_l: no division, so zeros are fine
    x = np.array([2.0, 0.0, 3.0, 0.0, -1.5])
    n = x.size
    J = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1):
            J[i, j] = np.prod(np.delete(x[:i + 1], j))
    out = np.cumprod(Dual(x, np.eye(n)))
    np.testing.assert_array_equal(out.value, np.cumprod(x))
    np.testing.assert_array_equal(out.tangent, J)


def test_cumprod_zero_d_and_empty():
    out = np.cumprod(Dual(np.array(1.5), np.array([2.0])))
    assert out.shape == (1,) and out.value[0] == 1.5 and out.tangent[0, 0] == 2.0
    out = np.cumprod(Dual(np.zeros((0, 3)), np.zeros((0, 3, 2))), axis=0)
    assert out.shape == (0, 3) and out.tangent.shape == (0, 3, 2)
    with pytest.raises(TypeError, match=r"numpy\.cumprod on Dual arrays does not support dtype="):
        np.cumprod(Dual(np.ones(2), np.ones((2, 1))), dtype=np.int64)


# --- average --------------------------------------------------------------------------

def _split(f, shapes):
    """f(a, w) as a function of one flat vector holding a and w."""
    sizes = [int(np.prod(s)) for s in shapes]

    def g(z):
        parts, i = [], 0
        for s, n in zip(shapes, sizes):
            parts.append(z[i:i + n].reshape(s))
            i += n
        return f(*parts)
    return g


AVG_CASES = [
    ((3, 4), (3, 4), dict()),
    ((3, 4), (3, 4), dict(axis=0)),
    ((3, 4), (4,), dict(axis=1)),
    ((3, 4), (3,), dict(axis=-2, keepdims=True)),
    ((2, 3, 4), (2, 4), dict(axis=(0, 2))),
    ((2, 3, 4), (4, 2), dict(axis=(2, 0))),
]


@pytest.mark.parametrize("ashape,wshape,kw", AVG_CASES)
@pytest.mark.parametrize("which", ["both", "a", "w"])
def test_average_weights(ashape, wshape, kw, which):
    a = RNG.standard_normal(ashape)
    w = RNG.uniform(0.5, 2.0, wshape)
    if which == "both":
        f = _split(lambda a, w: np.average(a, weights=w, **kw), [ashape, wshape])
        z = np.concatenate([a.ravel(), w.ravel()])
        k = z.size
        V = RNG.standard_normal((z.size, k))
        out = np.average(Dual(a, V[:a.size].reshape(ashape + (k,))),
                         weights=Dual(w, V[a.size:].reshape(wshape + (k,))), **kw)
        np.testing.assert_allclose(out.value, f(z), rtol=1e-15)
        np.testing.assert_allclose(out.tangent.reshape(-1, k), cs_jacobian(f, z) @ V,
                                   rtol=1e-12, atol=1e-12)
    elif which == "a":
        check(lambda a: np.average(a, weights=w, **kw), a, ref=cs_jacobian, rtol=1e-12)
    else:
        check(lambda w: np.average(a, weights=w, **kw), w, ref=cs_jacobian, rtol=1e-12)


def test_average_without_weights_and_returned():
    x = RNG.standard_normal((3, 4))
    check(lambda x: np.average(x, axis=1), x, ref=cs_jacobian, rtol=1e-12)
    r, scl = np.average(Dual(x, np.ones((3, 4, 1))), axis=0, returned=True)
    np.testing.assert_array_equal(scl, np.average(x, axis=0, returned=True)[1])
    # returned=True with Dual weights: the sum of weights carries their tangent
    w = RNG.uniform(0.5, 2.0, 4)
    r, scl = np.average(x, axis=1, weights=Dual(w, np.eye(4)), returned=True)
    ref = np.average(x, axis=1, weights=w, returned=True)
    np.testing.assert_allclose(r.value, ref[0], rtol=1e-15)
    assert type(scl) is Dual and scl.shape == (3,)
    np.testing.assert_array_equal(scl.value, ref[1])
    np.testing.assert_array_equal(scl.tangent, np.ones((3, 4)))
    r, scl = np.average(Dual(x, np.ones((3, 4, 1))), weights=w, axis=1, returned=True)
    assert type(scl) is np.ndarray


def test_average_errors_are_numpys():
    d = Dual(np.ones((2, 3)), np.ones((2, 3, 1)))
    with pytest.raises(ZeroDivisionError):
        np.average(d, weights=np.zeros((2, 3)))
    with pytest.raises((TypeError, ValueError), match="Axis must be specified"):
        np.average(d, weights=np.ones(3))


# --- max / min / ptp ------------------------------------------------------------------

EXT_CASES = [dict(), dict(axis=0), dict(axis=-1), dict(axis=(0, 2)), dict(keepdims=True),
             dict(axis=(1, -1), keepdims=True)]


@pytest.mark.parametrize("func", [np.max, np.min, np.ptp])
@pytest.mark.parametrize("kw", EXT_CASES)
def test_extremes(func, kw):
    check(lambda x: func(x, **kw), distinct((2, 3, 4)))


@pytest.mark.parametrize("k", [1, 129])
@pytest.mark.parametrize("view", [None, "step2", "reverse"])
def test_extremes_k_views(k, view):
    check(lambda x: np.max(x, axis=0), distinct((4, 3)), k=k, view=view)
    check(lambda x: np.min(x), distinct((4, 3)), k=k, view=view)
    check(lambda x: np.max(x), np.array(0.7), k=k)


def test_max_min_ties():
    # equal tangents: the derivative exists (autograd's test_max_equal_values)
    d = Dual(np.array(1.0), np.array([1.0, 2.0]))
    for r in (np.max(np.stack([d, d])), np.min(np.stack([d, d, d]))):
        np.testing.assert_array_equal(r.tangent, [1.0, 2.0])
    # different tangents: one-sided derivatives differ, so no derivative
    x = Dual(np.array([1.0, 3.0, 3.0]), np.eye(3))
    with pytest.raises(ValueError, match=r"numpy\.max is not differentiable here: "
                                         r"several extreme equal values \(3\.0\)"):
        np.max(x)
    with pytest.raises(ValueError, match=r"numpy\.ptp is not differentiable|numpy\.max"):
        np.ptp(x)
    with pytest.raises(ValueError, match=r"numpy\.min is not differentiable"):
        np.minimum.reduce(Dual(np.array([[1.0, 1.0]]), np.eye(2)[None]), axis=1)
    # a tie in another slice does not matter
    y = Dual(np.array([[1.0, 3.0, 3.0], [0.0, 1.0, 2.0]]), np.ones((2, 3, 1)))
    assert np.max(y, axis=1).value.tolist() == [3.0, 2.0]


def test_max_min_initial():
    x = np.array([0.5, 2.0, -1.0])
    d = Dual(x, np.eye(3))
    r = np.max(d, initial=5.0)
    assert r.value == 5.0 and np.all(r.tangent == 0.0)
    r = np.max(d, initial=1.0)
    np.testing.assert_array_equal(r.tangent, [0.0, 1.0, 0.0])
    r = np.min(d, initial=-3.0)
    assert r.value == -3.0 and np.all(r.tangent == 0.0)
    r = np.max(Dual(np.zeros((0, 2)), np.zeros((0, 2, 1))), axis=0, initial=1.0)
    np.testing.assert_array_equal(r.value, [1.0, 1.0])
    with pytest.raises(ValueError, match=r"initial= and element equal values \(2\.0\)"):
        np.max(d, initial=2.0)
    with pytest.raises(TypeError, match=r"numpy\.max on Dual arrays does not support where="):
        np.max(d, initial=0.0, where=np.array([True, False, True]))


def test_extremes_empty_raise_like_numpy():
    with pytest.raises(ValueError, match="zero-size array"):
        np.max(Dual(np.zeros(0), np.zeros((0, 1))))
    r = np.min(Dual(np.zeros((0, 3)), np.zeros((0, 3, 2))), axis=1)
    assert r.shape == (0,)


def test_axes_out_of_range_raise():
    # regression: axes used to wrap modulo ndim, so axis=2 of a 2-d Dual reduced axis 0
    d = Dual(np.ones((2, 3)), np.ones((2, 3, 1)))
    for f in (np.sum, np.mean, np.prod, np.max, np.min, np.var, np.cumsum, np.cumprod):
        with pytest.raises(np.exceptions.AxisError):
            f(d, axis=2)
    with pytest.raises(ValueError, match="repeated axis|duplicate value"):
        np.sum(d, axis=(0, 0))


def test_sum_mean_prod_unsupported_arguments():
    d = Dual(np.ones((2, 3)), np.ones((2, 3, 1)))
    m = np.array([[True, False, True]] * 2)
    for f in (np.sum, np.mean, np.prod):
        with pytest.raises(TypeError, match=rf"numpy\.{f.__name__} on Dual arrays does "
                                            "not support where="):
            f(d, where=m)


# --- sort / partition -----------------------------------------------------------------

@pytest.mark.parametrize("kw", [dict(), dict(axis=0), dict(axis=-2), dict(axis=None),
                                dict(kind="quicksort"), dict(stable=True)])
def test_sort(kw):
    check(lambda x: np.sort(x, **kw), distinct((4, 3)))


@pytest.mark.parametrize("k", [1, 129])
@pytest.mark.parametrize("view", [None, "step2", "reverse"])
def test_sort_k_views(k, view):
    check(lambda x: np.sort(x), distinct((6, 2)), k=k, view=view)
    check(lambda x: np.sort(x, axis=0), distinct((6, 2)), k=k, view=view)


def test_sort_ties_and_nan():
    # equal values with equal tangents: fine, whatever the order
    d = Dual(np.array([2.0, 1.0, 2.0]), np.array([[1.0], [0.0], [1.0]]))
    np.testing.assert_array_equal(np.sort(d).tangent[:, 0], [0.0, 1.0, 1.0])
    with pytest.raises(ValueError, match=r"numpy\.sort is not differentiable here: "
                                         r"some equal values \(2\.0\)"):
        np.sort(Dual(np.array([2.0, 1.0, 2.0]), np.eye(3)))
    # NaNs go last as in NumPy, with their tangents
    x = np.array([np.nan, 1.0, -1.0])
    r = np.sort(Dual(x, np.eye(3)))
    np.testing.assert_array_equal(r.value, np.sort(x))
    np.testing.assert_array_equal(r.tangent, np.eye(3)[[2, 1, 0]])
    r = np.sort(Dual(np.zeros(0), np.zeros((0, 2))))
    assert r.shape == (0,)
    with pytest.raises(np.exceptions.AxisError):
        np.sort(Dual(np.array(1.0), np.ones(1)))
    with pytest.raises(TypeError, match=r"numpy\.sort on Dual arrays does not support order="):
        np.sort(Dual(np.ones(2), np.ones((2, 1))), order="x")


def test_sort_method_sorts_in_place_through_views():
    xb = distinct((8,))
    Tb = RNG.standard_normal((8, 2))
    base = Dual(xb, Tb)
    v = base[::2]
    assert v.sort() is None
    order = np.argsort(xb[::2])
    np.testing.assert_array_equal(base.value[::2], xb[::2][order])
    np.testing.assert_array_equal(base.tangent[::2], Tb[::2][order])
    np.testing.assert_array_equal(base.value[1::2], xb[1::2])      # untouched
    m = Dual(distinct((3, 4)), np.ones((3, 4, 1)))
    before = m.value.copy()
    m.sort(axis=0)
    np.testing.assert_array_equal(m.value, np.sort(before, axis=0))
    with pytest.raises(ValueError, match="axis=None is not valid for an in-place sort"):
        m.sort(axis=None)
    with pytest.raises(ValueError, match="read-only"):
        np.broadcast_to(Dual(np.array([2.0, 1.0]), np.eye(2)), (2, 2)).sort()


@pytest.mark.parametrize("kth", [0, 3, 6, -1, (1, 4)])
def test_partition(kth):
    out = check(lambda x: np.partition(x, kth), distinct((7,)))
    x = distinct((3, 7))
    out = check(lambda x: np.partition(x, kth, axis=1), x)
    out = check(lambda x: np.partition(x.T, kth, axis=0), x)
    assert out.shape == (7, 3)


def test_partition_ties_method_and_view():
    with pytest.raises(ValueError, match=r"numpy\.partition is not differentiable here"):
        np.partition(Dual(np.array([5.0, 1.0, 2.0, 5.0]), np.eye(4)), 1)
    xb = distinct((10,))
    base = Dual(xb, np.eye(10))
    v = base[::-1]
    v.partition(2)
    np.testing.assert_array_equal(base.value[::-1], np.partition(xb[::-1], 2))
    # the tangents moved with the values
    np.testing.assert_array_equal(base.tangent @ xb, base.value)


# --- index and truth-value functions --------------------------------------------------

VALUE_FUNCS = [
    (np.argmax, dict()), (np.argmax, dict(axis=0)), (np.argmax, dict(axis=-1, keepdims=True)),
    (np.argmin, dict()), (np.argmin, dict(axis=1)), (np.argsort, dict()),
    (np.argsort, dict(axis=0, kind="stable")), (np.argsort, dict(axis=None)),
    (np.argpartition, dict(kth=2, axis=1)), (np.nonzero, dict()), (np.flatnonzero, dict()),
    (np.argwhere, dict()), (np.count_nonzero, dict()), (np.count_nonzero, dict(axis=0)),
    (np.any, dict()), (np.any, dict(axis=1)), (np.all, dict()),
    (np.all, dict(axis=0, keepdims=True)),
]


@pytest.mark.parametrize("func,kw", VALUE_FUNCS)
def test_functions_of_values_return_plain_results(func, kw):
    x = distinct((3, 4))
    x[1, 2] = 0.0
    x[0, 0] = 0.0
    got = func(Dual(x, np.ones((3, 4, 2))), **kw)
    want = func(x, **kw)
    for g, w in zip(got if isinstance(got, tuple) else (got,),
                    want if isinstance(want, tuple) else (want,)):
        assert type(g) is type(w)
        np.testing.assert_array_equal(g, w)


def test_value_methods():
    x = distinct((3, 4))
    d = Dual(x, np.ones((3, 4, 1)))
    assert d.argmax() == x.argmax()
    np.testing.assert_array_equal(d.argmin(axis=1), x.argmin(axis=1))
    np.testing.assert_array_equal(d.argsort(axis=0), x.argsort(axis=0))
    np.testing.assert_array_equal(d.nonzero(), x.nonzero())
    assert d.any() == x.any() and d.all(axis=0).tolist() == x.all(axis=0).tolist()
    np.testing.assert_array_equal(d.argpartition(1, axis=1), x.argpartition(1, axis=1))


def test_index_with_argmax_argsort():
    x = distinct((6,))
    check(lambda x: x[np.argmax(x)], x)
    check(lambda x: x[np.argmin(x)], x)
    check(lambda x: x[np.argsort(x)], x)
    check(lambda x: x[np.arange(2), np.argmax(x, axis=1)], distinct((2, 5)))


def test_unsupported_arguments_are_named():
    d = Dual(distinct((2, 3)), np.ones((2, 3, 1)))
    o = Dual(np.zeros(3), np.zeros((3, 1)))
    with pytest.raises(TypeError, match=r"numpy\.partition on Dual arrays does not support order="):
        np.partition(d, 1, order="x")
    with pytest.raises(TypeError, match=r"numpy\.ptp on Dual arrays does not support out="):
        np.ptp(d, axis=0, out=o)
    with pytest.raises(TypeError, match=r"numpy\.var on Dual arrays does not support out="):
        np.var(d, axis=0, out=o)
    with pytest.raises(TypeError, match=r"numpy\.cumprod on Dual arrays does not support out="):
        np.cumprod(d, axis=0, out=Dual(np.zeros((2, 3)), np.zeros((2, 3, 1))))
