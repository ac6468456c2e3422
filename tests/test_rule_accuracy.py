"""Accuracy of every rule of csrc/rules.def over its whole domain, tails and edges
included: value and partial derivative(s) against mpmath at 50 digits.

The loop runs over dualfd._dual.RULES, so a new rule is tested the moment it exists and
fails until it has a reference and a domain description here.

Expectations, with T the true (50-digit) result and g what the Dual gives:
  T == 0 exactly                     g == 0
  |T| overflows (or is infinite)     g == T rounded, i.e. +-inf with T's sign
  T subnormal (|T| < DBL_MIN)        |g - T| <= tol * DBL_MIN: gradual underflow, the
                                     relative bar applied at the underflow threshold
  otherwise                          |g - T| <= tol * |T|
tol is 4 eps by default (libm's values are within ~1 ulp, the rules add a few
roundings); 0 for the derivatives that are exact by construction (abs, sign, floor,
maximum, ...), checked exactly.  The points are the table's own [lo, hi] plus, per
function, the tails of its domain: tiny and subnormal |x|, huge |x|, the edges
(|x| -> 1 for arcsin and arctanh, x -> 1+ for arccosh, x -> -1+ for log1p) and the
over/underflow regions where the derivative is still a finite number.
"""

import math
import sys

import mpmath
import numpy as np
import pytest
from mpmath import mp, mpf

from dualfd import Dual
from dualfd._dual import RULES

EPS = 2.0 ** -52
TINY = sys.float_info.min          # DBL_MIN, the smallest normal double
HUGE = sys.float_info.max
BAR = 4 * EPS
DIGITS = 50


def _pm(values):
    return sorted({s * v for v in values for s in (1.0, -1.0)})


ONE_MINUS = 1 - 1e-12
BELOW_ONE = float(np.nextafter(1.0, 0.0))
# Every finite magnitude class of a double: zero, subnormal, tiny, ordinary, huge.
REALS = _pm([0.0, 5e-324, 1e-310, 1e-300, 1e-100, 1e-8, 0.3, 0.5, ONE_MINUS, 1.0, 1.5,
             3.0, 10.0, 19.0, 30.0, 300.0, 700.0, 1e8, 1e17, 1e154, 1e155, 1e160, 1e200,
             1e300, HUGE])
POSITIVE = [0.0, 5e-324, 1e-310, 1e-300, 1e-8, 0.5, ONE_MINUS, 1.0, 1.0 + 1e-12, 3.0,
            1e8, 1e154, 1e300, HUGE]
UNIT = _pm([0.0, 5e-324, 1e-300, 1e-8, 0.3, 0.5, 0.9, 0.99, ONE_MINUS, BELOW_ONE, 1.0])
HALF_PI = float(mpmath.pi / 2)


def _inv(z):
    """1/z, with the signed infinity at z = 0 (a pole of the derivative)."""
    return mpmath.inf if z == 0 else 1 / z


def _sign(z):
    return mpf(int(z > 0) - int(z < 0))


def _cbrt(z):
    return _sign(z) * mpmath.cbrt(abs(z))


# name: (value, derivative, points beyond the table's [lo, hi]).  Derivatives written
# from the standard table (Abramowitz & Stegun 4.2-4.6), independently of rules.def.
UNARY_REF = {
    "negative": (lambda x: -x, lambda x: mpf(-1), REALS),
    "positive": (lambda x: x, lambda x: mpf(1), REALS),
    "square": (lambda x: x * x, lambda x: 2 * x, REALS),
    "reciprocal": (lambda x: 1 / x, lambda x: -1 / x ** 2, [x for x in REALS if x != 0]),
    "sqrt": (mpmath.sqrt, lambda x: _inv(2 * mpmath.sqrt(x)), POSITIVE),
    # -6.57e-91: 1/(3 y^2) was 5.3 eps off there (libm's cbrt error, doubled).
    "cbrt": (_cbrt, lambda x: _inv(3 * _cbrt(x) ** 2), REALS + [-6.572450876943019e-91]),
    "exp": (mpmath.exp, mpmath.exp,
            REALS + [-745.0, -740.0, -708.0, 709.7, 709.8]),
    "exp2": (lambda x: mpf(2) ** x, lambda x: mpf(2) ** x * mpmath.log(2),
             REALS + [-1074.0, -1060.0, -1022.5, 1023.5, 1023.9, 1024.3, 1024.5]),
    "expm1": (mpmath.expm1, mpmath.exp,
              REALS + [-745.0, -40.0, -0.7, -0.69, -0.6931471805599453, 709.7]),
    "log": (mpmath.log, lambda x: _inv(x), POSITIVE),
    "log2": (lambda x: mpmath.log(x, 2), lambda x: _inv(x * mpmath.log(2)), POSITIVE),
    "log10": (mpmath.log10, lambda x: _inv(x * mpmath.log(10)), POSITIVE),
    "log1p": (mpmath.log1p, lambda x: _inv(1 + x),
              [-1.0, -ONE_MINUS, -0.5, -1e-8, -1e-300, -5e-324] + POSITIVE),
    "sin": (mpmath.sin, mpmath.cos, REALS + _pm([HALF_PI, math.pi])),
    "cos": (mpmath.cos, lambda x: -mpmath.sin(x), REALS + _pm([HALF_PI, math.pi])),
    "tan": (mpmath.tan, lambda x: mpmath.sec(x) ** 2,
            REALS + _pm([HALF_PI, float(np.nextafter(HALF_PI, 0)), 1.5, 1.57])),
    "arcsin": (mpmath.asin, lambda x: _inv(mpmath.sqrt(1 - x * x)), UNIT),
    "arccos": (mpmath.acos, lambda x: -_inv(mpmath.sqrt(1 - x * x)), UNIT),
    "arctan": (mpmath.atan, lambda x: 1 / (1 + x * x), REALS),
    "sinh": (mpmath.sinh, mpmath.cosh, REALS + _pm([709.0, 710.4, 711.0])),
    "cosh": (mpmath.cosh, mpmath.sinh, REALS + _pm([709.0, 710.4, 711.0])),
    "tanh": (mpmath.tanh, lambda x: mpmath.sech(x) ** 2,
             REALS + _pm([0.54, 0.55, 0.6, 2.0, 18.0, 20.0, 100.0, 354.0, 372.0])),
    "arcsinh": (mpmath.asinh, lambda x: 1 / mpmath.sqrt(1 + x * x), REALS),
    "arccosh": (mpmath.acosh, lambda x: _inv(mpmath.sqrt(x * x - 1)),
                [1.0, float(np.nextafter(1.0, 2.0)), 1 + 1e-12, 1 + 1e-8, 1.5, 3.0,
                 1e8, 1e154, 1e300, HUGE]),
    "arctanh": (mpmath.atanh, lambda x: _inv(1 - x * x), UNIT),
    "absolute": (abs, _sign, REALS),
    "fabs": (abs, _sign, REALS),
    "sign": (_sign, lambda x: mpf(0), REALS),
    "floor": (mpmath.floor, lambda x: mpf(0), REALS + _pm([2.5, 3.5])),
    "ceil": (mpmath.ceil, lambda x: mpf(0), REALS + _pm([2.5, 3.5])),
    "trunc": (lambda x: _sign(x) * mpmath.floor(abs(x)), lambda x: mpf(0),
              REALS + _pm([2.5, 3.5])),
    "rint": (mpmath.nint, lambda x: mpf(0), REALS + _pm([2.5, 3.5])),
    "deg2rad": (lambda x: x * mpmath.pi / 180, lambda x: mpmath.pi / 180, REALS),
    "rad2deg": (lambda x: x * 180 / mpmath.pi, lambda x: 180 / mpmath.pi, REALS),
}

# Values for the binary rules: a x b over these (plus the table's [lo, hi]); mantissas
# that are not round, so that a subnormal quotient does not happen to be exact.
PAIRS_V = _pm([0.0, 5e-324, 7.7e-321, 1e-300, 1e-200, 3.3e-9, 0.5, 3.0, 1e8, 1e200,
               1e300, 1.5e308])


PAIRS = [(a, b) for a in PAIRS_V for b in PAIRS_V]


def _origin(a, b):
    return a == 0 and b == 0


POWER_A = [5e-324, 1e-310, 1e-300, 1e-10, 0.2, 0.5, ONE_MINUS, 1.0, 1 + 1e-12, 2.0, 3.0,
           10.0, 1e10, 1e100, 1e300, HUGE]
POWER_B = _pm([0.0, 1e-300, 1e-8, 0.3, 0.5, 1.0, 1.03, 1.5, 2.0, 3.0, 10.0, 30.0, 300.0,
               1e6, 1e17])
# a <= 0 needs an integer b (a^b is then real); d/db exists only for a > 0.
POWER_NONPOSITIVE = ([(a, b) for a in (-0.5, -3.0, -1e100, -1e-300)
                      for b in (-3.0, -1.0, 2.0, 3.0, 4.0)]
                     + [(0.0, b) for b in (0.5, 1.0, 2.0, 3.0, 10.0)])


def _power_da(a, b):
    if a == 0:
        return mpf(0) if b > 1 else mpf(1) if b == 1 else mpmath.inf
    return b * a ** (b - 1)


def _power_db(a, b):
    if a == 0:
        return mpf(0)            # lim a^b ln a as a -> 0+, for b > 0
    return a ** b * mpmath.log(a) if a > 0 else None   # None: not checked


def _r2(a, b):
    return a * a + b * b


# name: (value, da, db, pairs beyond the table's [lo, hi] square).  A partial given as
# None at a point is not defined there and not checked.
BINARY_REF = {
    "add": (lambda a, b: a + b, lambda a, b: mpf(1), lambda a, b: mpf(1),
            PAIRS),
    "subtract": (lambda a, b: a - b, lambda a, b: mpf(1), lambda a, b: mpf(-1), PAIRS),
    "multiply": (lambda a, b: a * b, lambda a, b: b, lambda a, b: a, PAIRS),
    "divide": (lambda a, b: a / b, lambda a, b: 1 / b, lambda a, b: -a / b ** 2, PAIRS),
    "power": (lambda a, b: a ** b, _power_da, _power_db,
              [(a, b) for a in POWER_A for b in POWER_B] + POWER_NONPOSITIVE),
    "arctan2": (mpmath.atan2, lambda a, b: b / _r2(a, b), lambda a, b: -a / _r2(a, b),
                PAIRS),
    "hypot": (lambda a, b: mpmath.sqrt(_r2(a, b)), lambda a, b: a / mpmath.sqrt(_r2(a, b)),
              lambda a, b: b / mpmath.sqrt(_r2(a, b)), PAIRS),
    # NumPy's convention at ties: maximum/minimum take a, fmax/fmin too.
    "maximum": (max, lambda a, b: mpf(a >= b), lambda a, b: mpf(a < b), PAIRS),
    "minimum": (min, lambda a, b: mpf(a <= b), lambda a, b: mpf(a > b), PAIRS),
    "fmax": (max, lambda a, b: mpf(a >= b), lambda a, b: mpf(a < b), PAIRS),
    "fmin": (min, lambda a, b: mpf(a <= b), lambda a, b: mpf(a > b), PAIRS),
}

# Points (of PAIRS or the table's [lo, hi] square) where the rule has no derivative.
NOT_DIFFERENTIABLE = {"arctan2": _origin, "hypot": _origin, "divide": lambda a, b: b == 0}

# Exact by construction: compared with tol 0 (values, derivatives).
EXACT_VALUE = {"negative", "positive", "absolute", "fabs", "sign", "floor", "ceil",
               "trunc", "rint", "maximum", "minimum", "fmax", "fmin"}
EXACT_DERIV = EXACT_VALUE | {"square", "add", "subtract", "multiply"}


def _tol_value(name):
    return 0.0 if name in EXACT_VALUE else BAR


def _tol_deriv(name):
    return 0.0 if name in EXACT_DERIV else BAR


def _miss(got, true, tol):
    """None if got meets the bar for the true value, else a description."""
    if true is None:
        return None
    got = float(got)
    if true == 0:
        return None if got == 0 else "expected exactly 0"
    t = float(true)                       # rounded to nearest; +-inf on overflow
    if math.isinf(t):
        return None if got == t else f"expected {t}"
    if math.isnan(got) or math.isinf(got):
        return "not finite"
    err = abs(mpf(got) - true)
    if abs(t) < TINY:
        return (None if err <= tol * TINY
                else f"abs. error {float(err / TINY / EPS):.3g} eps * DBL_MIN")
    return (None if err <= tol * abs(true)
            else f"rel. error {float(err / abs(true) / EPS):.3g} eps")


def _report(name, fails):
    lines = [f"  {where}: got {got!r}, true {float(t)!r}: {why}"
             for where, got, t, why in fails[:20]]
    return f"{name}: {len(fails)} points off the bar\n" + "\n".join(lines)


def _table_points(lo, hi):
    return [float(v) for v in np.linspace(lo, hi, 9)]


def test_every_rule_has_a_reference_and_a_domain():
    missing = [name for name, arity, *_ in RULES
               if name not in (UNARY_REF if arity == 1 else BINARY_REF)]
    assert not missing, (f"rules without a reference and domain description in "
                         f"tests/test_rule_accuracy.py: {missing}")
    unknown = (set(UNARY_REF) | set(BINARY_REF)) - {r[0] for r in RULES}
    assert not unknown, f"references for rules not in the table: {unknown}"


@pytest.mark.parametrize("rule", [r for r in RULES if r[1] == 1], ids=lambda r: r[0])
def test_unary_rule_accuracy(rule):
    name, _, ufunc, lo, hi = rule
    if name not in UNARY_REF:
        pytest.fail(f"{name}: no reference and domain in UNARY_REF")
    value, deriv, tails = UNARY_REF[name]
    x = np.array(sorted(set(_table_points(lo, hi) + list(tails))))
    with np.errstate(all="ignore"):
        y = ufunc(Dual(x, np.ones((x.size, 1))))
    fails = []
    with mp.workdps(DIGITS):
        for xi, v, d in zip(x.tolist(), y.value.tolist(), y.tangent[:, 0].tolist()):
            X = mpf(xi)
            for what, got, true, tol in (("value", v, value(X), _tol_value(name)),
                                         ("derivative", d, deriv(X), _tol_deriv(name))):
                why = _miss(got, true, tol)
                if why:
                    fails.append((f"{what} at x={xi!r}", got, true, why))
    assert not fails, _report(name, fails)


@pytest.mark.parametrize("rule", [r for r in RULES if r[1] == 2], ids=lambda r: r[0])
def test_binary_rule_accuracy(rule):
    name, _, ufunc, lo, hi = rule
    if name not in BINARY_REF:
        pytest.fail(f"{name}: no reference and domain in BINARY_REF")
    value, da, db, tails = BINARY_REF[name]
    grid = _table_points(lo, hi)
    skip = NOT_DIFFERENTIABLE.get(name, lambda a, b: False)
    pairs = sorted(p for p in set([(a, b) for a in grid for b in grid] + list(tails))
                   if not skip(*p))
    a = np.array([p[0] for p in pairs])
    b = np.array([p[1] for p in pairs])
    n = a.size
    with np.errstate(all="ignore"):
        both = ufunc(Dual(a, np.tile([1.0, 0.0], (n, 1))),
                     Dual(b, np.tile([0.0, 1.0], (n, 1))))
        only_a = ufunc(Dual(a, np.ones((n, 1))), b)
        only_b = ufunc(a, Dual(b, np.ones((n, 1))))
    fails = []
    with mp.workdps(DIGITS):
        for i, (ai, bi) in enumerate(pairs):
            A, B = mpf(ai), mpf(bi)
            T, Da, Db = value(A, B), da(A, B), db(A, B)
            checks = [("value", both.value[i], T, _tol_value(name)),
                      ("value (a dual)", only_a.value[i], T, _tol_value(name)),
                      ("value (b dual)", only_b.value[i], T, _tol_value(name)),
                      ("d/da", both.tangent[i, 0], Da, _tol_deriv(name)),
                      ("d/db", both.tangent[i, 1], Db, _tol_deriv(name)),
                      ("d/da (a dual)", only_a.tangent[i, 0], Da, _tol_deriv(name)),
                      ("d/db (b dual)", only_b.tangent[i, 0], Db, _tol_deriv(name))]
            for what, got, true, tol in checks:
                why = _miss(got, true, tol)
                if why:
                    fails.append((f"{what} at a={ai!r}, b={bi!r}", got, true, why))
    assert not fails, _report(name, fails)
