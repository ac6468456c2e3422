"""Dual views, lifetime, copying and input conversion (the trust issue, Dual side).

Every write pattern runs three ways: on a plain ndarray (NumPy's semantics: the values
the Dual must reproduce), on a Dual (method='dual'), and under SciPy's complex step
(an independent reference for the Jacobian: all patterns here are analytic).
"""

import copy
import gc
import pickle
import subprocess
import sys

import numpy as np
import pytest
from scipy.optimize._numdiff import approx_derivative

import dualfd as dfd
from dualfd import Dual

X = np.array([0.7, -1.3, 2.1, 0.4])


def _slice_write(x):
    y = x * 1.0
    v = y[:2]
    v *= 3.0
    return y


def _tail_assign(x):
    a = x * 1.0
    b = a[1:]
    b[:] = b * a[:-1]
    return a


def _transpose_write(x):
    a = (x * 1.0).reshape(2, 2)
    a.T[0] = a.T[0] ** 2
    return a.ravel()


def _reshape_write(x):
    a = x * 2.0
    a.reshape(2, 2)[0, 1] = x[0] * x[3]
    return a


def _row_iteration(x):
    m = (x * 1.0).reshape(2, 2)
    for row in m:
        row *= 2.0 * row[0]
    return m.ravel()


def _out_view(x):
    y = x * 1.0
    np.multiply(x[:2], x[2:], out=y[:2])
    return y


def _strided_write(x):
    y = x + 0.0
    y[::2] += y[1::2] ** 2
    return y


def _negative_stride(x):
    y = x + 0.0
    r = y[::-1]
    r[0] = r[1] * r[2]          # writes y[3]
    return y


def _nested_views(x):
    y = (x * 1.0).reshape(2, 2)
    col = y.T[1]                # a strided view of a view
    col[...] = col * y[0, 0]
    return y.reshape(-1)


def _copy_is_not_a_view(x):
    y = x * 1.0
    c = y[[0, 2]]               # advanced indexing copies, in NumPy and in the Dual
    c *= 10.0
    z = y.reshape(2, 2).T.reshape(-1)   # not viewable: a copy
    z[0] = 100.0 * x[1]
    return y + 0.5 * c.sum() + z


def _setitem_through_view(x):
    y = np.zeros_like(x) + x
    y[1:3][0] = np.sin(x[0])    # y[1] = sin(x0)
    y[2:][::-1][0] = x[0] * x[1]     # y[3]
    return y


def _iadd_overlap(x):
    y = x * 1.0
    y[1:] += y[:-1]             # overlapping: NumPy reads the old values first
    return y


def _squeeze_expand(x):
    y = (x * 1.0).reshape(1, 4)
    s = np.squeeze(y)
    s[0] = s[1] * s[2]
    e = np.expand_dims(y, 0)
    e[0, 0, 3] = e[0, 0, 3] ** 3
    return y[0]


PATTERNS = [_slice_write, _tail_assign, _transpose_write, _reshape_write,
            _row_iteration, _out_view, _strided_write, _negative_stride,
            _nested_views, _copy_is_not_a_view, _setitem_through_view, _iadd_overlap,
            _squeeze_expand]


@pytest.mark.parametrize("f", PATTERNS, ids=lambda f: f.__name__)
def test_writes_through_views(f):
    value = f(X.copy())                                        # NumPy semantics
    J_cs = approx_derivative(f, X.copy(), method="cs")         # independent reference
    vj = dfd.jacobian(f, method="dual")
    J = vj(X.copy())
    np.testing.assert_allclose(J, J_cs, rtol=1e-14, atol=1e-15,
                               err_msg=f"{f.__name__}: Jacobian")
    d = f(Dual(X.copy(), np.eye(4)))
    np.testing.assert_array_equal(d.value, value, err_msg=f"{f.__name__}: values")


def test_issue_example_slice_write():
    J = dfd.jacobian(_slice_write, method="dual")(np.ones(3))
    np.testing.assert_array_equal(J, np.diag([3.0, 3.0, 1.0]))


def test_view_attributes_and_identity():
    d = Dual(np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(2, 3, 2))
    for v in (d[1], d[:, 1], d.T, d[::-1], d.reshape(3, 2), d[0, 1], d[None], d[...]):
        assert v.base is d
        assert v.k == 2
    assert d.base is None
    assert d.T.base is d and d.T.T.base is d      # views of views name the root
    assert d[[0, 1]].base is None                  # advanced indexing copies
    assert d.T.reshape(6).base is None             # not viewable: copies
    assert d.flatten().base is None and d.ravel().base is d
    np.testing.assert_array_equal(d.T.value, d.value.T)
    np.testing.assert_array_equal(d.T.tangent, np.swapaxes(d.tangent, 0, 1))
    np.testing.assert_array_equal(d[:, ::-2].tangent, d.tangent[:, ::-2])


def test_view_keeps_root_memory_alive():
    d = Dual(np.arange(100.0), np.ones((100, 3)))
    v = d[10:20:3]
    t = d[50].tangent
    del d
    gc.collect()
    junk = [Dual(np.full(100, 7.0), np.full((100, 3), 7.0)) for _ in range(20)]
    np.testing.assert_array_equal(v.value, [10.0, 13.0, 16.0, 19.0])
    np.testing.assert_array_equal(t, [1.0, 1.0, 1.0])
    del junk


def test_kernels_read_strided_views():
    rng = np.random.default_rng(0)
    base = Dual(rng.standard_normal((4, 5)), rng.standard_normal((4, 5, 3)))
    view = base.T[::2]
    ref = Dual(np.array(view.value), np.array(view.tangent))     # a contiguous copy
    for op in (np.sin, np.exp, lambda a: a * a, lambda a: a + view, np.sum,
               lambda a: np.sum(a, axis=0), lambda a: a @ np.ones(4),
               lambda a: np.concatenate([a.ravel(), a.ravel()])):
        r, e = op(view), op(ref)
        # NumPy's reductions may add in another order for strided input
        np.testing.assert_allclose(r.value, e.value, rtol=1e-15)
        np.testing.assert_allclose(r.tangent, e.tangent, rtol=1e-15, atol=1e-15)


def test_broadcast_view_is_read_only():
    d = Dual(np.arange(3.0), np.eye(3))
    b = np.broadcast_to(d, (2, 3))
    assert b.base is d
    np.testing.assert_array_equal(b.tangent, np.broadcast_to(np.eye(3), (2, 3, 3)))
    with pytest.raises(ValueError, match="read-only"):
        b[0, 0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        b *= 2.0
    np.testing.assert_array_equal((b * 2.0).value, [[0, 2, 4], [0, 2, 4]])


@pytest.mark.parametrize("key", [True, False, (True,), (Ellipsis, True),
                                 np.bool_(True)])
def test_boolean_scalar_keys_follow_numpy(key):
    value = np.arange(6.0).reshape(2, 3)
    tangent = np.arange(12.0).reshape(2, 3, 2)
    d = Dual(value, tangent)
    r = d[key]
    assert r.shape == value[key].shape
    np.testing.assert_array_equal(r.value, value[key])
    np.testing.assert_array_equal(
        r.tangent, tangent[(key if isinstance(key, tuple) else (key,))
                           + ((slice(None),) if Ellipsis in np.atleast_1d(
                               np.array(key, dtype=object)) else (Ellipsis,
                                                                  slice(None)))])
    v = value.copy()
    v[key] = -1.0
    d[key] = -1.0
    np.testing.assert_array_equal(d.value, v)


def test_true_is_not_one():
    d = Dual(np.array([5.0, 6.0]), np.eye(2))
    assert d[True].shape == (1, 2)
    assert d[1].shape == ()
    d[True] = Dual(np.array([1.0, 2.0]), np.zeros((2, 2)))   # broadcast over all
    np.testing.assert_array_equal(d.value, [1.0, 2.0])
    np.testing.assert_array_equal(d.tangent, np.zeros((2, 2)))


@pytest.mark.parametrize("fn", [np.zeros_like, np.ones_like, np.empty_like])
@pytest.mark.parametrize("shape", [(-1,), -3, (2, -2)])
def test_like_rejects_negative_shapes(fn, shape):
    d = Dual(np.ones(3), np.eye(3))
    with pytest.raises(ValueError, match="negative dimensions"):
        fn(d, shape=shape)


def test_full_like_rejects_negative_and_huge_shapes():
    d = Dual(np.ones(3), np.eye(3))
    with pytest.raises(ValueError, match="negative dimensions"):
        np.full_like(d, 2.0, shape=(-1,))
    with pytest.raises((MemoryError, ValueError)):
        np.zeros_like(d, shape=(2 ** 40, 2 ** 40))


def test_init_twice_raises_and_views_stay_valid():
    d = Dual(np.arange(40.0), np.ones((40, 2)))
    v = d.value
    with pytest.raises(TypeError, match="existing Dual"):
        d.__init__(np.zeros(1), np.zeros((1, 1)))
    np.testing.assert_array_equal(v, np.arange(40.0))
    e = Dual.__new__(Dual)          # never initialized: a valid empty Dual
    assert e.shape == (0,) and e.size == 0
    e.__init__(np.ones(2), np.eye(2))
    np.testing.assert_array_equal((e * 2).tangent, 2 * np.eye(2))


def test_uninitialized_dual_is_safe():
    e = Dual.__new__(Dual)
    for op in (lambda: e + 1.0, lambda: np.sin(e), lambda: e.value, lambda: e[0:0],
               lambda: np.sum(e), lambda: repr(e)):
        op()


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_dual_pickles(protocol):
    d = Dual(np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(2, 3, 2))
    for obj in (d, d.T, d[1], d[0, 2]):
        r = pickle.loads(pickle.dumps(obj, protocol=protocol))
        assert type(r) is Dual and r.base is None
        np.testing.assert_array_equal(r.value, obj.value)
        np.testing.assert_array_equal(r.tangent, obj.tangent)


def test_copy_and_deepcopy_are_independent():
    d = Dual(np.arange(3.0), np.eye(3))
    for c in (copy.copy(d), copy.deepcopy(d), d.copy(), np.copy(d)):
        c[0] = 9.0
        assert d.value[0] == 0.0
        np.testing.assert_array_equal(c.tangent[0], [0.0, 0.0, 0.0])


@pytest.mark.parametrize("order", [">f8", "<f8", ">f4", ">i4"])
def test_non_native_inputs_are_converted(order):
    v = np.array([1.0, 2.0, 3.0]).astype(order)
    d = Dual(v, np.eye(3).astype(order))
    np.testing.assert_array_equal(d.value, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(d.tangent, np.eye(3))
    r = d * v + v
    np.testing.assert_array_equal(r.value, [2.0, 6.0, 12.0])
    np.testing.assert_array_equal(r.tangent, np.diag([1.0, 2.0, 3.0]))
    g = dfd.grad(lambda x: np.sum(x ** 2), method="dual")(v)
    np.testing.assert_array_equal(g, [2.0, 4.0, 6.0])


def _misaligned(values):
    raw = bytearray(8 * len(values) + 1)
    a = np.frombuffer(raw, dtype=np.float64, count=len(values), offset=1)
    a[:] = values
    assert not a.flags.aligned
    return a


def test_misaligned_operands_are_converted():
    a = _misaligned([1.0, 2.0, 3.0])
    d = Dual(np.array([1.0, 1.0, 1.0]), np.eye(3))
    for r in (d * a, a * d, d + a, np.maximum(d, a), np.concatenate([d, a])):
        assert np.all(np.isfinite(r.value))
    np.testing.assert_array_equal((d * a).tangent, np.diag([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(Dual(a, np.eye(3)).value, [1.0, 2.0, 3.0])
    g = dfd.grad(lambda x: np.sum(x ** 3), method="dual")(a)
    np.testing.assert_array_equal(g, [3.0, 12.0, 27.0])


@pytest.mark.parametrize("ret", [
    lambda x: [x[0], [x[1], x[2]]],
    lambda x: [[x[0], x[1]], [x[2]]],
    lambda x: [1.0, [2.0, 3.0]],
    lambda x: "abc",
    lambda x: None,
    lambda x: {"a": x},
], ids=["ragged-duals", "ragged-nested", "ragged-floats", "str", "none", "dict"])
def test_dual_path_names_f_for_bad_returns(ret):
    x = np.array([1.0, 2.0, 3.0])
    for transform in (dfd.jacobian(ret, method="dual"),):
        with pytest.raises(TypeError, match="f must return"):
            transform(x)
    with pytest.raises(TypeError, match="f must return"):
        dfd.jvp(ret, method="dual")(x, np.ones(3))


def test_nested_list_of_duals_is_stacked():
    J = dfd.jacobian(lambda x: [[x[0] * x[1], 1.0], [x[1], x[0] ** 2]],
                     method="dual")(np.array([2.0, 3.0]))
    np.testing.assert_array_equal(J, [[[3.0, 2.0], [0.0, 0.0]],
                                      [[0.0, 1.0], [4.0, 0.0]]])


def test_huge_chunk_is_one_pass():
    x = np.array([1.0, 2.0, 3.0])
    J = dfd.jacobian(np.sin, method="dual", chunk=2 ** 63 - 1)(x)
    np.testing.assert_allclose(J, np.diag(np.cos(x)), rtol=1e-15)


def test_unsupported_scipy_ufunc_named_with_its_module():
    special = pytest.importorskip("scipy.special")
    d = Dual(np.array([1.5]), np.ones((1, 1)))
    with pytest.raises(TypeError, match=r"scipy\.special\.gamma is not supported"):
        special.gamma(d)
    with pytest.raises(TypeError, match=r"numpy\.frexp is not supported"):
        np.frexp(d)


CRASHERS = """
import numpy as np
from dualfd import Dual
d = Dual(np.ones(3), np.eye(3))
for fn in (np.zeros_like, np.ones_like, np.empty_like):
    try:
        fn(d, shape=(-1,))
    except ValueError:
        pass
v = d.value
try:
    d.__init__(np.zeros(10 ** 5), np.zeros((10 ** 5, 1)))
except TypeError:
    pass
junk = [np.full(10 ** 4, 5.0) for _ in range(50)]
assert v.sum() == 3.0, v
print("ok")
"""


def test_former_crashes_in_a_child_process():
    r = subprocess.run([sys.executable, "-c", CRASHERS], capture_output=True,
                       text=True, timeout=120)
    # (an editable install may print its rebuild first: look at the last line)
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), r.stderr
