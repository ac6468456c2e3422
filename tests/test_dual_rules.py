"""Every line of csrc/rules.def, tested through the table it generates
(dualfd._dual.RULES): a new rule is tested the moment it exists.

Value: NumPy's own ufunc (to a few ulp: libm and NumPy's SIMD loops may round
differently).  Tangent: complex step of the NumPy ufunc on the rule's domain where the
function is holomorphic, central differences where it is not (abs, floor, max, ...),
and an analytic formula written here, independently of the C table."""

import zlib

import numpy as np
import pytest

from dualfd import Dual
from dualfd._dual import DEFAULT_CHUNK, RULES, _core

try:
    import scipy.special as special
    _core._register_scipy_special()
except ImportError:        # SciPy is optional: its rules are then not tested here
    special = None


def _resolve(rule):
    """RULES names SciPy's ufuncs by a string ("scipy.special.erf"): the object."""
    name, arity, f, lo, hi = rule
    if isinstance(f, str):
        f = getattr(special, name) if special is not None else None
    return (name, arity, f, lo, hi)


RESOLVED = [r for r in map(_resolve, RULES) if r[2] is not None]
UNARY = [r for r in RESOLVED if r[1] == 1]
BINARY = [r for r in RESOLVED if r[1] == 2]


def _sinc_derivative(x):
    with np.errstate(all="ignore"):
        d = (np.cos(np.pi * x) - np.sinc(x)) / x
    return np.where(x == 0, 0.0, d)


def _expit(x):
    return 1 / (1 + np.exp(-x))


# Analytic derivatives, written independently of csrc/rules.def.
ANALYTIC = {
    "negative": lambda x: -np.ones_like(x),
    "positive": lambda x: np.ones_like(x),
    "square": lambda x: 2 * x,
    "reciprocal": lambda x: -1 / x ** 2,
    "sqrt": lambda x: 0.5 / np.sqrt(x),
    "cbrt": lambda x: x ** (-2 / 3) / 3,
    "exp": np.exp,
    "exp2": lambda x: np.log(2) * 2 ** x,
    "expm1": np.exp,
    "log": lambda x: 1 / x,
    "log2": lambda x: 1 / (x * np.log(2)),
    "log10": lambda x: 1 / (x * np.log(10)),
    "log1p": lambda x: 1 / (1 + x),
    "sin": np.cos,
    "cos": lambda x: -np.sin(x),
    "tan": lambda x: 1 / np.cos(x) ** 2,
    "arcsin": lambda x: 1 / np.sqrt(1 - x ** 2),
    "arccos": lambda x: -1 / np.sqrt(1 - x ** 2),
    "arctan": lambda x: 1 / (1 + x ** 2),
    "sinh": np.cosh,
    "cosh": np.sinh,
    "tanh": lambda x: 1 / np.cosh(x) ** 2,
    "arcsinh": lambda x: 1 / np.sqrt(x ** 2 + 1),
    "arccosh": lambda x: 1 / np.sqrt(x ** 2 - 1),
    "arctanh": lambda x: 1 / (1 - x ** 2),
    "absolute": np.sign,
    "fabs": np.sign,
    "sign": np.zeros_like,
    "floor": np.zeros_like,
    "ceil": np.zeros_like,
    "trunc": np.zeros_like,
    "rint": np.zeros_like,
    "deg2rad": lambda x: np.full_like(x, np.pi / 180),
    "rad2deg": lambda x: np.full_like(x, 180 / np.pi),
    "radians": lambda x: np.full_like(x, np.pi / 180),
    "degrees": lambda x: np.full_like(x, 180 / np.pi),
    "conjugate": np.ones_like,
    "sinc": _sinc_derivative,
    "expit": lambda x: _expit(x) * _expit(-x),
    "log_expit": lambda x: _expit(-x),
    "logit": lambda p: 1 / (p * (1 - p)),
    "erf": lambda x: 2 / np.sqrt(np.pi) * np.exp(-x * x),
    "erfc": lambda x: -2 / np.sqrt(np.pi) * np.exp(-x * x),
    # gammaln' = digamma and digamma' = trigamma: SciPy's own implementations
    "gammaln": lambda x: special.digamma(x),
    "digamma": lambda x: special.polygamma(1, x),
}
# (da, db) of the binary rules.
ANALYTIC2 = {
    "add": lambda a, b: (np.ones_like(a), np.ones_like(b)),
    "subtract": lambda a, b: (np.ones_like(a), -np.ones_like(b)),
    "multiply": lambda a, b: (b, a),
    "divide": lambda a, b: (1 / b, -a / b ** 2),
    "power": lambda a, b: (b * a ** (b - 1), a ** b * np.log(a)),
    "arctan2": lambda a, b: (b / (a ** 2 + b ** 2), -a / (a ** 2 + b ** 2)),
    "hypot": lambda a, b: (a / np.hypot(a, b), b / np.hypot(a, b)),
    "maximum": lambda a, b: ((a >= b) * 1.0, (a < b) * 1.0),
    "minimum": lambda a, b: ((a <= b) * 1.0, (a > b) * 1.0),
    "fmax": lambda a, b: ((a >= b) * 1.0, (a < b) * 1.0),
    "fmin": lambda a, b: ((a <= b) * 1.0, (a > b) * 1.0),
    "remainder": lambda a, b: (np.ones_like(a), -np.floor(a / b)),
    "fmod": lambda a, b: (np.ones_like(a), -np.trunc(a / b)),
    "floor_divide": lambda a, b: (np.zeros_like(a), np.zeros_like(b)),
    "copysign": lambda a, b: (np.sign(a) * np.sign(b), np.zeros_like(b)),
    "heaviside": lambda a, b: (np.zeros_like(a), (a == 0) * 1.0),
    "logaddexp": lambda a, b: (_expit(a - b), _expit(b - a)),
    "logaddexp2": lambda a, b: (2 ** a / (2 ** a + 2 ** b), 2 ** b / (2 ** a + 2 ** b)),
    "xlogy": lambda a, b: (np.log(b), a / b),
    "xlog1py": lambda a, b: (np.log1p(b), a / (1 + b)),
}
# Not holomorphic (or no complex loop in NumPy): central differences instead.
NO_COMPLEX_STEP = {"absolute", "fabs", "sign", "floor", "ceil", "trunc", "rint", "cbrt",
                   "deg2rad", "rad2deg", "arctan2", "hypot", "maximum", "minimum",
                   "fmax", "fmin", "radians", "degrees", "conjugate", "remainder", "fmod",
                   "floor_divide", "copysign", "heaviside", "logaddexp", "logaddexp2",
                   "expit", "log_expit", "logit", "gammaln"}
KS = [1, 3, DEFAULT_CHUNK, DEFAULT_CHUNK + 1]


def points(lo, hi, shape, rng):
    """Interior points of [lo, hi], away from integers (kinks of floor & co)."""
    x = lo + (hi - lo) * rng.uniform(0.05, 0.95, shape)
    near = np.abs(x - np.round(x)) < 0.02
    return np.where(near, x + 0.05, x)


def numeric_derivative(name, ufunc, args, i):
    """d ufunc(*args) / d args[i], elementwise."""
    if name not in NO_COMPLEX_STEP:
        h = 1e-30
        z = [a.astype(complex) for a in args]
        z[i] = z[i] + 1j * h
        return ufunc(*z).imag / h
    h = 1e-6
    up = list(args)
    dn = list(args)
    up[i] = args[i] + h
    dn[i] = args[i] - h
    return (ufunc(*up) - ufunc(*dn)) / (2 * h)


def tol(name):
    return 1e-6 if name in NO_COMPLEX_STEP else 1e-13


def test_the_table_names_numpy_and_scipy_functions():
    assert len(UNARY) >= 30 and len(BINARY) >= 10
    for name, arity, ufunc, lo, hi in RULES:
        assert lo < hi
        assert name in (ANALYTIC if arity == 1 else ANALYTIC2), f"no analytic test: {name}"
        if isinstance(ufunc, str):
            assert ufunc == f"scipy.special.{name}"
            if special is not None:
                u = getattr(special, name)
                assert isinstance(u, np.ufunc) and u.nin == arity
                assert u.__name__ in Dual.supported_ufuncs()
        elif isinstance(ufunc, np.ufunc):
            assert ufunc is getattr(np, name) and ufunc.nin == arity
            assert ufunc.__name__ in Dual.supported_ufuncs()
        else:                      # a NumPy function with a rule (sinc)
            assert ufunc is getattr(np, name) and name in Dual.supported_functions()


@pytest.mark.parametrize("k", KS)
@pytest.mark.parametrize("rule", UNARY, ids=lambda r: r[0])
def test_unary_rule(rule, k):
    name, _, ufunc, lo, hi = rule
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    x = points(lo, hi, (7,), rng)
    t = rng.standard_normal((7, k))
    y = ufunc(Dual(x, t))
    msg = f"{name}, k={k}"
    assert isinstance(y, Dual) and y.shape == (7,) and y.k == k, msg
    np.testing.assert_allclose(y.value, ufunc(x), rtol=1e-14, atol=1e-15, err_msg=msg)
    d = numeric_derivative(name, ufunc, [x], 0)
    np.testing.assert_allclose(y.tangent, d[:, None] * t, rtol=tol(name), atol=tol(name),
                               err_msg=msg)
    np.testing.assert_allclose(y.tangent, ANALYTIC[name](x)[:, None] * t, rtol=1e-12,
                               atol=1e-14, err_msg=msg + " (analytic)")


@pytest.mark.parametrize("k", KS)
@pytest.mark.parametrize("rule", BINARY, ids=lambda r: r[0])
def test_binary_rule(rule, k):
    name, _, ufunc, lo, hi = rule
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    a, b = points(lo, hi, (6,), rng), points(lo, hi, (6,), rng)
    ta, tb = rng.standard_normal((6, k)), rng.standard_normal((6, k))
    msg = f"{name}, k={k}"
    da, db = numeric_derivative(name, ufunc, [a, b], 0), numeric_derivative(
        name, ufunc, [a, b], 1)
    Da, Db = ANALYTIC2[name](a, b)
    np.testing.assert_allclose(da, Da, rtol=tol(name), atol=tol(name), err_msg=msg)
    np.testing.assert_allclose(db, Db, rtol=tol(name), atol=tol(name), err_msg=msg)
    expect = {
        "both": Da[:, None] * ta + Db[:, None] * tb,
        "a": Da[:, None] * ta,
        "b": Db[:, None] * tb,
    }
    for which, y in [("both", ufunc(Dual(a, ta), Dual(b, tb))),
                     ("a", ufunc(Dual(a, ta), b)), ("b", ufunc(a, Dual(b, tb)))]:
        np.testing.assert_allclose(y.value, ufunc(a, b), rtol=1e-14, atol=1e-15,
                                   err_msg=f"{msg} {which}")
        np.testing.assert_allclose(y.tangent, expect[which], rtol=1e-12, atol=1e-14,
                                   err_msg=f"{msg}, Dual operand: {which}")


@pytest.mark.parametrize("rule", RESOLVED, ids=lambda r: r[0])
@pytest.mark.parametrize("shape", [(), (0,), (3, 0), (2, 3)], ids=str)
def test_shapes_0d_empty(rule, shape):
    name, arity, ufunc, lo, hi = rule
    rng = np.random.default_rng(1)
    x = points(lo, hi, shape, rng)
    t = rng.standard_normal(shape + (2,))
    args = [Dual(x, t)] + ([Dual(x[::-1] if x.ndim else x, t)] if arity == 2 else [])
    y = ufunc(*args)
    assert y.shape == shape and y.tangent.shape == shape + (2,), name
    vals = [x] + ([x[::-1] if x.ndim else x] if arity == 2 else [])
    np.testing.assert_allclose(y.value, ufunc(*vals), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("rule", RESOLVED, ids=lambda r: r[0])
def test_strided_and_transposed_inputs(rule):
    """A Dual built from non-contiguous arrays, and non-contiguous constant operands,
    give what contiguous copies give."""
    name, arity, ufunc, lo, hi = rule
    rng = np.random.default_rng(2)
    base = points(lo, hi, (4, 6), rng)
    x = base[:, ::2].T                       # (3, 4), neither C nor F contiguous
    t = np.moveaxis(rng.standard_normal((2, 4, 3)), 0, -1)   # (4, 3, 2) -> strided
    t = np.swapaxes(t, 0, 1)                                   # (3, 4, 2)
    ref_x, ref_t = np.ascontiguousarray(x), np.ascontiguousarray(t)
    if arity == 1:
        y, ref = ufunc(Dual(x, t)), ufunc(Dual(ref_x, ref_t))
    else:
        c = base[::-1, 1::2].T
        y, ref = ufunc(Dual(x, t), c), ufunc(Dual(ref_x, ref_t), np.ascontiguousarray(c))
        y2, ref2 = ufunc(c, Dual(x, t)), ufunc(np.ascontiguousarray(c), Dual(ref_x, ref_t))
        np.testing.assert_array_equal(y2.tangent, ref2.tangent)
    np.testing.assert_array_equal(y.value, ref.value)
    np.testing.assert_array_equal(y.tangent, ref.tangent)


# --- NaN policy: a zero tangent entry stays zero where the derivative is infinite -----

@pytest.mark.parametrize("f, x", [(np.sqrt, 0.0), (np.log, 0.0), (np.abs, 0.0),
                                  (np.arcsin, 1.0), (np.arccos, -1.0), (np.arctanh, 1.0),
                                  (np.cbrt, 0.0), (np.arccosh, 1.0), (np.log1p, -1.0),
                                  (lambda d: d ** 0.5, 0.0),
                                  (lambda d: np.linalg.norm(d), 0.0)],
                         ids=["sqrt", "log", "abs", "arcsin", "arccos", "arctanh", "cbrt",
                              "arccosh", "log1p", "pow0.5", "norm"])
def test_zero_tangent_stays_zero_at_singularities(f, x):
    d = Dual(np.array([x, x]), np.zeros((2, 3)))
    y = f(d) if f is not np.abs else abs(d)
    assert np.all(y.tangent == 0)


def test_nonzero_tangent_at_a_singularity_is_infinite():
    y = np.sqrt(Dual(np.array(0.0), np.array([1.0, 0.0])))
    assert np.isposinf(y.tangent[0]) and y.tangent[1] == 0
    y = np.log(Dual(np.array(0.0), np.array([2.0])))
    assert np.isposinf(y.tangent[0]) and np.isneginf(y.value)


def test_abs_at_zero_and_max_at_ties_pick_a_subgradient():
    assert abs(Dual(np.array(0.0), np.array([1.0]))).tangent[0] == 0.0
    y = np.maximum(Dual(np.array(1.0), np.array([1.0, 0.0])),
                   Dual(np.array(1.0), np.array([0.0, 1.0])))
    np.testing.assert_array_equal(y.tangent, [1.0, 0.0])


def test_nan_values_propagate_like_numpy():
    a = Dual(np.array([np.nan, 1.0]), np.ones((2, 1)))
    b = np.array([0.0, np.nan])
    for f in (np.maximum, np.minimum, np.fmax, np.fmin):
        np.testing.assert_array_equal(f(a, b).value, f(a.value, b))


# --- special values: infinities, NaN, signed zeros ------------------------------------

SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0])


@pytest.mark.parametrize("rule", UNARY, ids=lambda r: r[0])
def test_unary_values_at_special_points_follow_numpy(rule):
    """NaN stays NaN, infinities and the sign of a zero are NumPy's (cbrt and expm1 at
    finite points may differ by an ulp: NumPy has its own SIMD loops)."""
    name, _, ufunc, lo, hi = rule
    with np.errstate(all="ignore"):
        y = ufunc(Dual(SPECIAL, np.ones((SPECIAL.size, 1)))).value
        ref = ufunc(SPECIAL)
    np.testing.assert_allclose(y, ref, rtol=2 ** -52, atol=0, err_msg=name)
    zero = ref == 0
    np.testing.assert_array_equal(np.signbit(y[zero]), np.signbit(ref[zero]), err_msg=name)


INF, NAN = np.inf, np.nan
# (ufunc, x, value, derivative): the edge branches of the dfd_d_<name> helpers.
UNARY_EDGES = [
    (np.tanh, INF, 1.0, 0.0), (np.tanh, -INF, -1.0, 0.0), (np.tanh, -0.0, -0.0, 1.0),
    (np.tanh, NAN, NAN, NAN), (np.tanh, 22.0, 1.0, 4 * np.exp(-44.0)),
    (np.expm1, -INF, -1.0, 0.0), (np.expm1, INF, INF, INF), (np.expm1, -0.0, -0.0, 1.0),
    (np.expm1, NAN, NAN, NAN), (np.expm1, -50.0, -1.0, np.exp(-50.0)),
    (np.exp2, INF, INF, INF), (np.exp2, -INF, 0.0, 0.0), (np.exp2, NAN, NAN, NAN),
    (np.arctan, INF, np.pi / 2, 0.0), (np.arctan, -INF, -np.pi / 2, 0.0),
    (np.arctan, NAN, NAN, NAN),
    (np.cbrt, INF, INF, 0.0), (np.cbrt, 0.0, 0.0, INF), (np.cbrt, NAN, NAN, NAN),
    (np.sign, -0.0, 0.0, 0.0), (np.sign, NAN, NAN, 0.0),
]


@pytest.mark.parametrize("f, x, value, deriv", UNARY_EDGES,
                         ids=[f"{e[0].__name__}({e[1]})" for e in UNARY_EDGES])
def test_unary_edges(f, x, value, deriv):
    y = f(Dual(np.array(x), np.array([1.0])))
    np.testing.assert_array_equal(y.value, value)
    assert np.signbit(y.value) == np.signbit(value) or np.isnan(value)
    np.testing.assert_allclose(y.tangent[0], deriv, rtol=4 * 2 ** -52, atol=0)


# (ufunc, a, b, value, da, db); None: not checked (no derivative there).
BINARY_EDGES = [
    (np.power, 0.0, 2.0, 0.0, 0.0, 0.0), (np.power, 0.0, 1.0, 0.0, 1.0, 0.0),
    (np.power, 0.0, 0.5, 0.0, INF, 0.0), (np.power, 2.0, 0.0, 1.0, 0.0, np.log(2.0)),
    (np.power, -2.0, 3.0, -8.0, 12.0, None), (np.power, -0.5, -1.0, -2.0, -4.0, None),
    (np.power, INF, 2.0, INF, INF, INF), (np.power, -1e200, 3.0, -INF, INF, None),
    # a^b overflows, b a^(b-1) does not (1.03 - 1 is exact: Sterbenz).
    (np.power, 1e300, 1.03, INF, 1.03 * 1e300 ** (1.03 - 1), INF),
    (np.divide, 0.0, 3.0, 0.0, 1 / 3, -0.0), (np.divide, 1.0, INF, 0.0, 0.0, -0.0),
    (np.arctan2, INF, 1.0, np.pi / 2, 0.0, None),
    (np.arctan2, 0.0, 1e-320, 0.0, 1 / 1e-320, -0.0),
    (np.arctan2, 1e-320, 0.0, np.pi / 2, 0.0, -1 / 1e-320),
    (np.hypot, 1.5e308, 1.5e308, INF, np.sqrt(0.5), np.sqrt(0.5)),
    (np.hypot, 0.0, 3.0, 3.0, 0.0, 1.0),
]


@pytest.mark.parametrize("f, a, b, value, da, db", BINARY_EDGES,
                         ids=[f"{e[0].__name__}({e[1]},{e[2]})" for e in BINARY_EDGES])
def test_binary_edges(f, a, b, value, da, db):
    with np.errstate(all="ignore"):
        y = f(Dual(np.array(a), np.array([1.0, 0.0])),
              Dual(np.array(b), np.array([0.0, 1.0])))
    np.testing.assert_array_equal(y.value, value)
    np.testing.assert_allclose(y.tangent[0], da, rtol=4 * 2 ** -52, atol=0)
    if db is not None:
        np.testing.assert_allclose(y.tangent[1], db, rtol=4 * 2 ** -52, atol=0)
