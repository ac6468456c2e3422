"""Dual coverage of the shape / indexing / joining family (dualfd/_dual/shape.pxi).

Every case is a function f of one flat vector x that builds its operands from x itself
(reshapes, strided and negative-stride slices of it, mixed with constants), so the same
f runs on a plain ndarray (NumPy: the exact value the Dual must reproduce), on a Dual
(value and k tangent directions), and under SciPy's complex step.  All functions here
are linear in their Dual operands (for fixed integer arguments and conditions), so the
complex-step Jacobian is exact to rounding: the tangent must equal J @ directions.
"""

import warnings

import numpy as np
import pytest
from scipy.optimize._numdiff import approx_derivative

from dualfd import Dual

RNG = np.random.default_rng(20261125)
C34 = np.arange(12.0).reshape(3, 4) / 7 - 0.5       # constant operands
C4 = np.array([0.25, -1.5, 2.0, 0.125])
MASK = RNG.standard_normal((3, 4)) > 0


def _m(x, *shape):
    return x[:int(np.prod(shape))].reshape(shape)


# (id, n = len(x), f).  f returns an array or a list/tuple of arrays.
CASES = [
    # atleast_2d / atleast_3d: views of the input, or the input itself
    ("atleast_2d-0d", 1, lambda x: np.atleast_2d(x.reshape(()))),
    ("atleast_2d-1d", 4, lambda x: np.atleast_2d(x)),
    ("atleast_2d-3d", 24, lambda x: np.atleast_2d(_m(x, 2, 3, 4))),
    ("atleast_3d-0d", 1, lambda x: np.atleast_3d(x.reshape(()))),
    ("atleast_3d-1d-strided", 8, lambda x: np.atleast_3d(x[::2])),
    ("atleast_3d-2d", 12, lambda x: np.atleast_3d(_m(x, 3, 4))),
    ("atleast_3d-4d", 24, lambda x: np.atleast_3d(_m(x, 2, 1, 3, 4))),
    ("atleast_3d-many", 6, lambda x: np.atleast_3d(x[:2], _m(x[2:], 2, 2), C4)),
    ("atleast_2d-many", 6, lambda x: np.atleast_2d(x[0], x[1:])),
    # roll
    ("roll-axis1", 20, lambda x: np.roll(_m(x, 4, 5), 2, axis=1)),
    ("roll-none", 20, lambda x: np.roll(_m(x, 4, 5), -3)),
    ("roll-tuple", 24, lambda x: np.roll(_m(x, 2, 3, 4), (1, -2), axis=(0, -1))),
    ("roll-same-axis-twice", 12, lambda x: np.roll(_m(x, 3, 4), (1, 2), axis=(1, 1))),
    ("roll-negstride", 12, lambda x: np.roll(x[::-1].reshape(3, 4), 1, axis=-2)),
    ("roll-0d", 1, lambda x: np.roll(x.reshape(()), 1)),
    ("roll-empty", 4, lambda x: np.roll(x[:0], 2) + x[:0]),
    # repeat and tile
    ("repeat-axis1", 24, lambda x: np.repeat(_m(x, 2, 3, 4), 2, axis=1)),
    ("repeat-array", 12, lambda x: np.repeat(_m(x, 3, 4), [1, 0, 2], axis=0)),
    ("repeat-none", 6, lambda x: np.repeat(_m(x, 2, 3), 2)),
    ("repeat-0d", 1, lambda x: np.repeat(x.reshape(()), 3)),
    ("repeat-method", 12, lambda x: _m(x, 3, 4)[:, ::2].repeat(2, axis=-1)),
    ("tile-1d", 4, lambda x: np.tile(x, 2)),
    ("tile-2d-reps3", 6, lambda x: np.tile(_m(x, 2, 3), (2, 1, 3))),
    ("tile-strided", 8, lambda x: np.tile(x[::-2], (2, 2))),
    ("tile-0d", 1, lambda x: np.tile(x.reshape(()), 3)),
    # tril / triu
    *[(f"{fn.__name__}-k{k}", 20, (lambda fn, k: lambda x: fn(_m(x, 4, 5), k=k))(fn, k))
      for fn in (np.tril, np.triu) for k in (-1, 0, 2)],
    ("tril-3d", 24, lambda x: np.tril(_m(x, 2, 3, 4), -1)),
    ("triu-1d", 4, lambda x: np.triu(x, 1)),
    ("tril-transposed", 12, lambda x: np.tril(_m(x, 3, 4).T)),
    # diag, diagonal, trace
    *[(f"diag-2d-k{k}", 20, (lambda k: lambda x: np.diag(_m(x, 4, 5), k))(k))
      for k in (-1, 0, 1, 7)],
    *[(f"diag-1d-k{k}", 4, (lambda k: lambda x: np.diag(x, k=k))(k)) for k in (-1, 0, 2)],
    ("diag-1d-strided", 8, lambda x: np.diag(x[::-2])),
    ("diagonal-offset", 20, lambda x: np.diagonal(_m(x, 4, 5), 1)),
    ("diagonal-axes", 24, lambda x: np.diagonal(_m(x, 2, 3, 4), -1, axis1=-1,
                                                axis2=0)),
    ("diagonal-method", 12, lambda x: _m(x, 3, 4).diagonal(-1)),
    *[(f"trace-{off}", 20, (lambda off: lambda x: np.trace(_m(x, 4, 5), offset=off))(off))
      for off in (-1, 0, 1, 9)],
    ("trace-3d", 24, lambda x: np.trace(_m(x, 2, 3, 4))),
    ("trace-axes", 24, lambda x: np.trace(_m(x, 2, 3, 4), 1, axis1=-1, axis2=-3)),
    ("trace-method", 16, lambda x: _m(x, 4, 4)[::-1].trace()),
    # pad
    ("pad-constant", 6, lambda x: np.pad(_m(x, 2, 3), ((1, 2), (0, 1)),
                                         constant_values=((1.5, 2.0), (3.0, 4.0)))),
    ("pad-constant-dual", 7, lambda x: np.pad(_m(x, 2, 3), 1, constant_values=x[6])),
    ("pad-constant-dual-pairs", 8, lambda x: np.pad(
        x[:4], (1, 2), constant_values=(x[4] * x[5], x[6] + x[7]))),
    ("pad-edge", 6, lambda x: np.pad(_m(x, 2, 3), (2, 1), mode="edge")),
    ("pad-reflect", 12, lambda x: np.pad(_m(x, 3, 4), ((2, 1), (3, 3)), "reflect")),
    ("pad-reflect-odd", 5, lambda x: np.pad(x, 3, "reflect", reflect_type="odd")),
    ("pad-symmetric", 12, lambda x: np.pad(_m(x, 3, 4).T, 2, mode="symmetric")),
    ("pad-symmetric-odd", 4, lambda x: np.pad(x, 2, "symmetric", reflect_type="odd")),
    ("pad-wrap", 8, lambda x: np.pad(x[::2], (3, 5), mode="wrap")),
    ("pad-linear-ramp", 6, lambda x: np.pad(_m(x, 2, 3), 2, "linear_ramp",
                                            end_values=(1.0, -2.0))),
    ("pad-linear-ramp-dual", 7, lambda x: np.pad(x[:6], 2, "linear_ramp",
                                                 end_values=x[6])),
    ("pad-mean", 12, lambda x: np.pad(_m(x, 3, 4), 1, mode="mean")),
    ("pad-mean-stat", 12, lambda x: np.pad(_m(x, 3, 4), (1, 2), "mean",
                                           stat_length=((1, 2), (2, 3)))),
    ("pad-dict", 12, lambda x: np.pad(_m(x, 3, 4), {-1: (1, 2)}, mode="edge")),
    ("pad-0d", 1, lambda x: np.pad(x.reshape(()), 0)),
    # flips and rotations (views)
    ("flip-none", 12, lambda x: np.flip(_m(x, 3, 4))),
    ("flip-axis", 24, lambda x: np.flip(_m(x, 2, 3, 4), axis=(0, -1))),
    ("fliplr", 12, lambda x: np.fliplr(_m(x, 3, 4))),
    ("flipud-strided", 12, lambda x: np.flipud(x[::2])),
    *[(f"rot90-{k}", 12, (lambda k: lambda x: np.rot90(_m(x, 3, 4), k))(k))
      for k in (1, 2, -1, 3)],
    ("rot90-axes", 24, lambda x: np.rot90(_m(x, 2, 3, 4), axes=(2, 1))),
    # take, take_along_axis
    ("take-none", 12, lambda x: np.take(_m(x, 3, 4), [5, 0, 5, 11])),
    ("take-axis", 12, lambda x: np.take(_m(x, 3, 4), [[3, -1], [0, 2]], axis=-1)),
    ("take-wrap", 12, lambda x: np.take(_m(x, 3, 4), [4, -5, 1], axis=0, mode="wrap")),
    ("take-clip", 12, lambda x: np.take(_m(x, 3, 4), [9, -2], axis=1, mode="clip")),
    ("take-scalar", 12, lambda x: np.take(x[::-1], 3)),
    ("take-method", 12, lambda x: _m(x, 3, 4).take([0, 2], axis=1)),
    ("take_along_axis-0", 12, lambda x: np.take_along_axis(
        _m(x, 3, 4), np.argsort(C34 * [[1], [-1], [1]], axis=0), axis=0)),
    ("take_along_axis-neg", 12, lambda x: np.take_along_axis(
        _m(x, 3, 4), np.array([[0, 0], [3, 1], [2, 2]]), axis=-1)),
    ("take_along_axis-none", 12, lambda x: np.take_along_axis(
        _m(x, 3, 4), np.array([11, 0, 4]), axis=None)),
    # axes (views)
    ("swapaxes", 24, lambda x: np.swapaxes(_m(x, 2, 3, 4), 0, 2)),
    ("swapaxes-neg", 24, lambda x: np.swapaxes(_m(x, 2, 3, 4), -1, 1)),
    ("swapaxes-method", 12, lambda x: _m(x, 3, 4).swapaxes(1, 0)),
    ("moveaxis", 24, lambda x: np.moveaxis(_m(x, 2, 3, 4), (0, 1), (-1, 0))),
    *[(f"rollaxis-{a}-{s}", 24,
       (lambda a, s: lambda x: np.rollaxis(_m(x, 2, 3, 4), a, s))(a, s))
      for a in (0, 2, -1) for s in (0, 1, 3)],
    # splitting (lists of views)
    ("split-sections", 24, lambda x: np.split(_m(x, 4, 6), 2, axis=1)),
    ("split-indices", 24, lambda x: np.split(_m(x, 4, 6), [1, 3], axis=-1)),
    ("split-1d", 10, lambda x: np.split(x, 2)),
    ("array_split", 21, lambda x: np.array_split(_m(x, 7, 3), 3)),
    ("array_split-axis", 21, lambda x: np.array_split(_m(x, 3, 7), [3, 5], axis=1)),
    ("hsplit-1d", 8, lambda x: np.hsplit(x, 4)),
    ("hsplit-2d", 24, lambda x: np.hsplit(_m(x, 3, 8), [1, 2])),
    ("vsplit", 24, lambda x: np.vsplit(_m(x, 4, 6), 2)),
    ("dsplit", 24, lambda x: np.dsplit(_m(x, 2, 3, 4), [1, 2])),
    # joining
    ("column_stack-1d", 6, lambda x: np.column_stack((x[:3], C4[:3], x[3:]))),
    ("column_stack-2d", 12, lambda x: np.column_stack([_m(x, 3, 4), x[:3]])),
    ("column_stack-0d", 2, lambda x: np.column_stack((x[0], x[1]))),
    ("dstack-1d", 8, lambda x: np.dstack((x[:4], C4, x[4:]))),
    ("dstack-2d", 12, lambda x: np.dstack([_m(x, 3, 4), C34])),
    ("dstack-3d", 24, lambda x: np.dstack([_m(x, 2, 3, 4), _m(x, 2, 3, 4)[..., :1]])),
    ("append-none", 6, lambda x: np.append(_m(x, 2, 3), C4)),
    ("append-values-dual", 6, lambda x: np.append(C4, x[::-2])),
    ("append-list", 3, lambda x: np.append([1.0, 2.0, 3.0], x[0])),
    ("append-axis", 12, lambda x: np.append(_m(x, 3, 4), C34[:1], axis=0)),
    ("append-axis-neg", 12, lambda x: np.append(C34, _m(x, 3, 4), axis=-1)),
    ("concatenate-none", 12, lambda x: np.concatenate([_m(x, 3, 4).T, C4, x[0]],
                                                      axis=None)),
    ("concatenate-mixed", 12, lambda x: np.concatenate((C34, _m(x, 3, 4)[:, ::-1]),
                                                       axis=-1)),
    # delete, insert
    ("delete-int", 12, lambda x: np.delete(_m(x, 3, 4), 1, axis=0)),
    ("delete-list", 12, lambda x: np.delete(_m(x, 3, 4), [0, -1], axis=-1)),
    ("delete-slice", 12, lambda x: np.delete(_m(x, 3, 4), slice(None, None, 3))),
    ("delete-mask", 6, lambda x: np.delete(x, [True, False, True, False, False, True])),
    ("insert-const", 6, lambda x: np.insert(x, 2, 7.5)),
    ("insert-dual", 7, lambda x: np.insert(x[:4], [1, 3, 3], x[4:] ** 2)),
    # (complex C4 under complex step: inserting complex into a float array drops it)
    ("insert-into-const", 3, lambda x: np.insert(
        C4 if isinstance(x, Dual) else C4.astype(x.dtype), [0, 4], x[1:])),
    ("insert-axis", 15, lambda x: np.insert(_m(x, 3, 4), 1, x[12:], axis=1)),
    ("insert-axis-scalar", 13, lambda x: np.insert(_m(x, 3, 4), 2, x[12], axis=0)),
    ("insert-none-2d", 8, lambda x: np.insert(_m(x, 2, 3), [0, 5], x[6:])),
    # select, meshgrid, linspace
    ("select", 24, lambda x: np.select([MASK, ~MASK & (C34 > 0)],
                                       [_m(x, 3, 4), C34 * 2], default=1.5)),
    ("select-dual-default", 24, lambda x: np.select(
        [MASK, C34 > 0], [C34, _m(x, 3, 4)], default=x[12:].reshape(3, 4))),
    ("select-broadcast", 5, lambda x: np.select([MASK, ~MASK], [x[0], x[1:]],
                                                default=x[2])),
    ("meshgrid-xy", 7, lambda x: np.meshgrid(x[:3], x[3:])),
    ("meshgrid-ij-sparse", 7, lambda x: np.meshgrid(x[:3], x[3:], indexing="ij",
                                                    sparse=True)),
    ("meshgrid-mixed", 4, lambda x: np.meshgrid(x[:2], C4[:3], x[2:])),
    ("meshgrid-nocopy", 7, lambda x: np.meshgrid(x[:3], x[3:][::-1], copy=False)),
    ("meshgrid-2d-input", 6, lambda x: np.meshgrid(_m(x, 2, 3).T, C4)),
    ("linspace", 2, lambda x: np.linspace(x[0], x[1], 5)),
    ("linspace-const-stop", 1, lambda x: np.linspace(x[0], 3.0, 4, endpoint=False)),
    ("linspace-arrays", 5, lambda x: np.linspace(x[:2], x[2:4, None], 4, axis=-1)),
    ("linspace-retstep", 2, lambda x: np.linspace(x[0], x[1], 6, retstep=True)),
    ("linspace-1", 2, lambda x: np.linspace(x[0], x[1], 1)),
    ("linspace-0", 2, lambda x: np.linspace(x[0], x[1], 0)),
]

# In-place functions: f works on a copy and returns it.


def _put(x, ind, v, mode="raise"):
    y = x * 1.0
    np.put(y, ind, v(x) if callable(v) else v, mode=mode)
    return y


def _put0d(x):
    y = np.copy(x.reshape(()))          # a 0-d array (x.reshape(()) * 1.0 is a scalar)
    np.put(y, 0, x[0] ** 2)
    return y


def _put_view(x):
    y = (x * 1.0).reshape(3, 4)
    np.put(y[:, ::-1], [0, 5, -1], x[:3] * x[3:6])   # a strided target
    return y


def _fill(x, v):
    y = x * 1.0
    y[1:3].fill(v(x) if callable(v) else v)
    return y


def _put_method(x):
    y = x * 1.0
    y.put([1, 2], x[4:6])
    return y


INPLACE = [
    ("put-dual", 6, lambda x: _put(x, [0, 4], lambda x: x[1:3] ** 2)),
    ("put-const", 6, lambda x: _put(x, [1, -1], 2.5)),
    ("put-cycle-repeat", 6, lambda x: _put(x, [0, 3, 0, 2], lambda x: x[4:])),
    ("put-wrap", 6, lambda x: _put(x, [7, -8], lambda x: x[:2] * 3, mode="wrap")),
    ("put-clip", 6, lambda x: _put(x, [99], lambda x: x[0], mode="clip")),
    ("put-0d", 1, lambda x: _put0d(x)),
    ("put-strided", 12, _put_view),
    ("put-method", 6, _put_method),
    ("fill-dual", 5, lambda x: _fill(x, lambda x: x[4] * x[0])),
    ("fill-const", 5, lambda x: _fill(x, 2.0)),
]


def _flat(out):
    if isinstance(out, (list, tuple)):
        return np.concatenate([np.ravel(np.asarray(o)) for o in out]) if out else \
            np.zeros(0)
    return np.ravel(np.asarray(out))


def _pieces(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


def _complex_step_jacobian(f, x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        m = _flat(f(x)).size
        if m == 0:
            return np.zeros((0, x.size))
        return approx_derivative(lambda z: _flat(f(z)), x, method="cs").reshape(m, -1)


def _check(f, n, k):
    x = RNG.standard_normal(n)
    dirs = RNG.standard_normal((n, k))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        expected = f(x.copy())
        out = f(Dual(x, dirs))
    J = _complex_step_jacobian(f, x)
    exp_pieces, out_pieces = _pieces(expected), _pieces(out)
    assert len(exp_pieces) == len(out_pieces)
    tangents = []
    for e, o in zip(exp_pieces, out_pieces):
        if type(o) is not Dual:
            # a constant operand passed through (atleast_3d(x, C)): no derivative;
            # J below must then be zero for it
            o = Dual(o, np.zeros(np.shape(o) + (k,)))
        np.testing.assert_array_equal(o.value, e)       # NumPy's values exactly
        assert o.tangent.shape == np.shape(e) + (k,)
        tangents.append(o.tangent.reshape(-1, k))
    tangent = np.concatenate(tangents)
    np.testing.assert_allclose(tangent, J @ dirs, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("k", [1, 3, 129])
@pytest.mark.parametrize("case", CASES + INPLACE, ids=lambda c: c[0])
def test_value_and_tangent(case, k):
    _, n, f = case
    _check(f, n, k)


@pytest.mark.skipif(not hasattr(np, "row_stack"), reason="no np.row_stack")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_row_stack():
    _check(lambda x: np.row_stack((x[:3], C4[:3], x[3:])), 6, 3)


ASTYPE = [lambda d: d.astype(float), lambda d: d.astype("float64"),
          lambda d: d.astype(object), lambda d: d.astype(d.dtype),
          lambda d: d[::-1].astype(np.float64)[::-1], lambda d: d.astype("f8", copy=False)]
if hasattr(np, "astype"):               # NumPy >= 2.1
    ASTYPE.append(lambda d: np.astype(d, np.float64))


@pytest.mark.parametrize("f", ASTYPE)
def test_astype_float64(f):
    # astype(float64) is the identity (complex step cannot see it: it drops the step)
    d = Dual(C34, RNG.standard_normal((3, 4, 5)))
    r = f(d)
    np.testing.assert_array_equal(r.value, C34)
    np.testing.assert_array_equal(r.tangent, d.tangent)


def test_astype_copy():
    d = Dual(C4, np.ones((4, 2)))
    c = d.astype(np.float64)
    assert c is not d and c.base is None
    c[0] = 9.0                                      # a copy: d is unchanged
    assert d.value[0] == C4[0]
    assert d.astype(np.float64, copy=False) is d    # as NumPy: no conversion needed


def test_clip_method():
    # clip is piecewise identity: derivative 1 strictly inside, 0 outside (no ties).
    x = np.array([-2.0, -0.3, 0.4, 1.7])
    d = Dual(x, np.eye(4))
    r = d.clip(-0.5, 0.5)
    np.testing.assert_array_equal(r.value, np.clip(x, -0.5, 0.5))
    np.testing.assert_array_equal(r.tangent, np.diag([0.0, 1.0, 1.0, 0.0]))


def test_atleast_returns_input_itself():
    d = Dual(C34, np.ones((3, 4, 1)))
    assert np.atleast_2d(d) is d
    assert np.atleast_3d(Dual(np.ones((1, 2, 3)), np.ones((1, 2, 3, 2)))).shape == (1, 2, 3)


def test_supported_functions_lists_family():
    names = set(Dual.supported_functions())
    assert {"roll", "repeat", "tile", "tril", "triu", "diag", "diagonal", "trace", "pad",
            "flip", "fliplr", "flipud", "rot90", "take", "take_along_axis", "swapaxes",
            "moveaxis", "rollaxis", "split", "array_split", "hsplit", "vsplit", "dsplit",
            "column_stack", "dstack", "append", "delete", "insert", "select", "meshgrid",
            "linspace", "atleast_2d", "atleast_3d", "put"} <= names


# --- NumPy raises: so does the Dual (0-d, empty, bad axes) ------------------------------

RAISING = [
    ("tril-0d", lambda x: np.tril(x.reshape(()))),
    ("diag-3d", lambda x: np.diag(x.reshape(1, 1, 1))),
    ("diagonal-1d", lambda x: np.diagonal(x)),
    ("trace-1d", lambda x: np.trace(x)),
    ("roll-bad-axis", lambda x: np.roll(x, 1, axis=1)),
    ("swapaxes-bad-axis", lambda x: np.swapaxes(x, 0, 2)),
    ("take-out-of-range", lambda x: np.take(x, [5])),
    ("split-unequal", lambda x: np.split(x, 3)),
    ("vsplit-1d", lambda x: np.vsplit(x, 1)),
    ("dsplit-2d", lambda x: np.dsplit(x.reshape(1, 1), 1)),
    ("flip-0d-axis", lambda x: np.flip(x.reshape(()), 0)),
    ("repeat-negative", lambda x: np.repeat(x, -1)),
    ("put-out-of-range", lambda x: _put(x, [3], 1.0)),
    ("select-length", lambda x: np.select([np.array([True])], [x, x])),
    ("pad-negative", lambda x: np.pad(x, -1)),
    ("linspace-negative", lambda x: np.linspace(x[0], 1.0, -1)),
    ("concatenate-ndim", lambda x: np.concatenate([x, x.reshape(1, 1)])),
]


@pytest.mark.parametrize("case", RAISING, ids=lambda c: c[0])
def test_raises_where_numpy_raises(case):
    _, f = case
    x = np.array([0.5])
    with pytest.raises(Exception) as np_err:
        f(x.copy())
    with pytest.raises(type(np_err.value)):
        f(Dual(x, np.ones((1, 2))))


def test_empty_inputs():
    x = np.zeros((0, 3))
    d = Dual(x, np.zeros((0, 3, 2)))
    for f in (lambda a: np.roll(a, 1), lambda a: np.tile(a, 2),
              lambda a: np.repeat(a, 2, axis=1), lambda a: np.flip(a),
              lambda a: np.pad(a, 1), lambda a: np.take(a, [], axis=1),
              lambda a: np.swapaxes(a, 0, 1), lambda a: np.tril(a),
              lambda a: np.diagonal(a), lambda a: np.trace(a),
              lambda a: np.atleast_3d(a)):
        e, o = f(x), f(d)
        assert o.shape == e.shape and o.tangent.shape == e.shape + (2,)
        np.testing.assert_array_equal(o.value, e)
        assert not o.tangent.any()


# --- views: writes through the result reach the input, as in NumPy ---------------------

VIEWS = [
    ("flip", lambda a: np.flip(a, axis=-1)),
    ("fliplr", np.fliplr),
    ("flipud", np.flipud),
    ("rot90", lambda a: np.rot90(a, -1)),
    ("swapaxes", lambda a: np.swapaxes(a, 0, 1)),
    ("swapaxes-method", lambda a: a.swapaxes(-1, 0)),
    ("moveaxis", lambda a: np.moveaxis(a, 0, -1)),
    ("rollaxis", lambda a: np.rollaxis(a, 1)),
    ("split", lambda a: np.split(a, 2, axis=1)[1]),
    ("array_split", lambda a: np.array_split(a, 2)[0]),
    ("hsplit", lambda a: np.hsplit(a, [1])[1]),
    ("vsplit", lambda a: np.vsplit(a, [2])[0]),
    ("atleast_3d", np.atleast_3d),
    ("atleast_2d-of-row", lambda a: np.atleast_2d(a[1])),
]


@pytest.mark.parametrize("case", VIEWS, ids=lambda c: c[0])
@pytest.mark.parametrize("strided", [False, True])
def test_views_write_through(case, strided):
    _, f = case
    k = 3
    base_v = RNG.standard_normal((3, 8))
    base_t = RNG.standard_normal((3, 8, k))
    sel = (slice(None), slice(None, None, -2)) if strided else (slice(None), slice(4))
    d_base = Dual(base_v, base_t)
    d = d_base[sel]
    r = f(d)
    assert r.base is not None
    new_v = RNG.standard_normal(r.shape)
    new_t = RNG.standard_normal(r.shape + (k,))
    r[...] = Dual(new_v, new_t)
    # NumPy on the value, and on each tangent direction separately
    ev = base_v.copy()
    f(ev[sel])[...] = new_v
    np.testing.assert_array_equal(d_base.value, ev)
    for j in range(k):
        et = base_t[..., j].copy()
        f(et[sel])[...] = new_t[..., j]
        np.testing.assert_array_equal(d_base.tangent[..., j], et)


@pytest.mark.parametrize("f", [lambda a: np.diagonal(a, 1), lambda a: np.diag(a),
                               lambda a: a.diagonal()],
                         ids=["diagonal", "diag", "diagonal-method"])
def test_diagonal_is_read_only_view(f):
    base = np.arange(12.0).reshape(3, 4)
    d = Dual(base, np.zeros((3, 4, 2)))
    r = f(d)
    assert r.base is d                              # a view ...
    with pytest.raises(ValueError, match="read-only"):
        f(base.copy())[0] = 1.0                     # ... that NumPy will not write,
    with pytest.raises(ValueError, match="read-only"):
        r[0] = 1.0                                  # nor will the Dual
    d[0, 1] = Dual(np.array(-7.0), np.ones(2))      # writes to the input show through
    assert np.diagonal(d, 1).value[0] == -7.0


def test_meshgrid_nocopy_is_view():
    d = Dual(np.arange(3.0), np.eye(3))
    X, Y = np.meshgrid(d, d[::-1], copy=False)
    assert X.base is d and Y.base is d
    d[0] = Dual(np.array(5.0), np.zeros(3))
    assert X.value[1, 0] == 5.0 and Y.value[2, 0] == 5.0


def test_fill_and_put_reach_the_base():
    base = Dual(np.zeros((2, 4)), np.zeros((2, 4, 1)))
    base[:, ::2].fill(Dual(np.array(3.0), np.array([1.0])))
    np.testing.assert_array_equal(base.value, [[3, 0, 3, 0], [3, 0, 3, 0]])
    np.testing.assert_array_equal(base.tangent[..., 0], base.value / 3)
    np.put(base[1], [1, 3], 2.0)                    # a contiguous row view
    np.testing.assert_array_equal(base.value[1], [3, 2, 3, 2])
    np.testing.assert_array_equal(base.tangent[1, :, 0], [1, 0, 1, 0])


# --- errors: each message ---------------------------------------------------------------

D = Dual(np.arange(4.0), np.eye(4))


@pytest.mark.parametrize("dtype", [np.float32, complex])
def test_astype_dropping_raises(dtype):
    with pytest.raises(TypeError, match=r"astype\(.*\) of a Dual would drop its "
                                        "derivative"):
        D.astype(dtype)


def test_astype_float64_of_any_byte_order_copies():
    r = D.astype(">f8")
    assert type(r) is Dual and r.base is None
    np.testing.assert_array_equal(r.tangent, np.eye(4))


@pytest.mark.parametrize("dtype", [int, np.int32, bool])
def test_astype_integer_is_piecewise_constant(dtype):
    # integer and bool values have derivative 0: a plain array, as np.asarray(d, dtype)
    r = (D * 1.5).astype(dtype)
    assert type(r) is np.ndarray
    np.testing.assert_array_equal(r, (np.arange(4.0) * 1.5).astype(dtype))


def test_item_tolist_raise():
    with pytest.raises(TypeError, match=r"Dual.item\(\) would drop its derivative"):
        D[0].item()
    with pytest.raises(TypeError, match=r"Dual.tolist\(\) would drop its derivative"):
        D.tolist()


def test_dual_indices_raise():
    with pytest.raises(TypeError, match="numpy.take: indices cannot be a Dual"):
        np.take(D, D)
    with pytest.raises(TypeError, match="numpy.take_along_axis: indices cannot be a "
                                        "Dual"):
        np.take_along_axis(D, D, axis=0)
    with pytest.raises(TypeError, match="numpy.delete: indices cannot be a Dual"):
        np.delete(D, D)
    with pytest.raises(TypeError, match="numpy.insert: obj cannot be a Dual"):
        np.insert(D, D, 1.0)
    with pytest.raises(TypeError, match="numpy.put: indices cannot be a Dual"):
        np.put(D * 1.0, D, 1.0)


def test_put_into_plain_array_raises():
    a = np.zeros(4)
    with pytest.raises(TypeError, match="numpy.put of a Dual into a plain array would "
                                        "drop its derivative"):
        np.put(a, [0], D[0])
    assert not a.any()


@pytest.mark.parametrize("mode", ["maximum", "minimum", "median", "empty"])
def test_pad_unsupported_mode(mode):
    with pytest.raises(TypeError, match=f"numpy.pad on Dual arrays supports mode in .*"
                                        f"got '{mode}'"):
        np.pad(D, 1, mode=mode)


def test_pad_callable_mode():
    with pytest.raises(TypeError, match="numpy.pad on Dual arrays supports mode"):
        np.pad(D, 1, mode=lambda *a: None)


def test_fill_non_scalar():
    with pytest.raises(ValueError, match=r"Dual.fill: value must be a scalar; got "
                                         r"shape \(2,\)"):
        (D * 1.0).fill([1.0, 2.0])


def test_linspace_dtype():
    with pytest.raises(TypeError, match=r"numpy.linspace with Dual start or stop: "
                                        "dtype=int64 would drop the derivative"):
        np.linspace(D[0], 1.0, 3, dtype=np.int64)


@pytest.mark.parametrize("call", [lambda: np.take(D, [0], out=np.zeros(1)),
                                  lambda: np.trace(D.reshape(2, 2), out=np.zeros(())),
                                  lambda: np.trace(D.reshape(2, 2), dtype=np.float32)],
                         ids=["take-out", "trace-out", "trace-dtype"])
def test_unsupported_keywords(call):
    with pytest.raises(TypeError, match=r"on Dual arrays does not support (out|dtype)="):
        call()


def test_mixed_k_raises():
    with pytest.raises(ValueError, match="different numbers of tangent directions"):
        np.pad(D, 1, constant_values=Dual(np.array(1.0), np.ones(3)))
    with pytest.raises(ValueError, match="different numbers of tangent directions"):
        np.insert(D, 0, Dual(np.array(1.0), np.ones(3)))


# --- joining and reshape keywords (regressions: dtype= was ignored, copy=False too) ----

@pytest.mark.parametrize("fn", [np.hstack, np.vstack, np.concatenate, np.stack])
def test_joining_dtype(fn):
    a = Dual(C4, np.ones((4, 2)))
    r = fn([a, C4], dtype=np.float64)               # float64: what a Dual holds
    np.testing.assert_array_equal(r.value, fn([C4, C4]))
    with pytest.raises(TypeError, match=rf"numpy.{fn.__name__} of Duals with "
                                        r"dtype=int64 would drop the derivative"):
        fn([a, C4], dtype=np.int64)


def test_hstack_vstack_lift_lists_of_duals():
    d = Dual(C4, np.eye(4))
    r = np.vstack([[d[0], d[1]], d[2:]])            # a list holding Duals is one row
    np.testing.assert_array_equal(r.value, np.vstack([C4[:2], C4[2:]]))
    np.testing.assert_array_equal(r.tangent.reshape(4, 4), np.eye(4))
    r = np.hstack([[d[0], 1.0], d[2:]])
    np.testing.assert_array_equal(r.value, [C4[0], 1.0, C4[2], C4[3]])
    np.testing.assert_array_equal(r.tangent, np.eye(4)[[0, 1, 2, 3]] * [[1], [0], [1], [1]])


def test_reshape_copy_false():
    d = Dual(C34, np.ones((3, 4, 2)))
    assert np.reshape(d, (4, 3), copy=False).base is d      # a view: fine
    with pytest.raises(ValueError, match="copy while reshaping"):
        np.reshape(C34.T, (12,), copy=False)         # NumPy raises here ...
    with pytest.raises(ValueError, match="Unable to avoid creating a copy while "
                                         r"reshaping this Dual \(copy=False\)"):
        np.reshape(d.T, (12,), copy=False)           # ... and so does the Dual
