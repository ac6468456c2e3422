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
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from mpmath import mp, mpf

from dualfd import Dual
from dualfd._dual import RULES, _core

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

def _rule_function(rule):
    """The rule's function; SciPy's (named by a string in RULES) imported and
    registered on demand, the test skipped without SciPy."""
    f = rule[2]
    if isinstance(f, str):
        special = pytest.importorskip("scipy.special")
        _core._register_scipy_special()
        f = getattr(special, f.rsplit(".", 1)[1])
    return f


def _expit(z):
    return 1 / (1 + mpmath.exp(-z))


def _logit(p):
    return -mpmath.inf if p == 0 else mpmath.inf if p == 1 else mpmath.log(p / (1 - p))


def _pole(x):
    return x <= 0 and x == mpmath.floor(x)


def _gammaln(x):
    if _pole(x):
        return mpmath.inf
    return mpmath.re(mpmath.loggamma(x)) if x > 0 else mpmath.log(abs(mpmath.gamma(x)))


def _digamma(x):
    if x == 0:
        return -mpmath.inf         # psi(+0); -0.0 is not among the points (mpf drops it)
    return None if _pole(x) else mpmath.digamma(x)


def _trigamma(x):
    return mpmath.inf if _pole(x) else mpmath.psi(1, x)


def _sinc(x):
    if abs(x) > HUGE / math.pi:
        return None              # NumPy's pi * x overflows: NaN, as NumPy
    return mpf(1) if x == 0 else mpmath.sinpi(x) / (mpmath.pi * x)


def _dsinc(x):
    """(cos(pi x) - sinc(x))/x, from the series -pi^2 x/3 (1 - (pi x)^2/10) near 0
    where 50 digits would cancel; sinpi/cospi reduce huge x exactly."""
    if abs(x) < 1e-12:
        return -mpmath.pi ** 2 * x / 3 * (1 - (mpmath.pi * x) ** 2 / 10)
    return (mpmath.cospi(x) - mpmath.sinpi(x) / (mpmath.pi * x)) / x


X0 = 1.4616321449683622      # digamma's positive root, rounded
PSI_POINTS = (POSITIVE + [0.1, 0.4, 0.46, 0.47, 0.99, 1.2, 1.46, 1.47, 2.0, 2.4999, 2.5,
                          3.7, 9.99, 10.0, 10.01, 1e3, X0, float(np.nextafter(X0, 0)),
                          float(np.nextafter(X0, 2)), X0 + 1e-9, X0 - 1e-9]
              + [-v for v in (1e-300, 1e-8, 0.3, 0.5, 0.504, 1.5, 1.57, 2.3, 2.5, 9.7,
                              10.3, 50.5, 1e6 - 0.3, 1.0, 2.0, 3.0, 1e6)])
# Near its zeros for x < 0 (one in each (-n, -n + 1)) digamma's reflection formula
# cancels: the value is checked relative to the terms' size, |psi(1 - x)| + |pi cot(pi x)|.
VALUE_SCALE = {
    "digamma": lambda x: (abs(mpmath.digamma(1 - x)) + abs(mpmath.pi * mpmath.cot(
        mpmath.pi * x)) if x < 0 else 0),
    # NumPy's own formula sin(pi x)/(pi x) with pi x rounded: an absolute error ~eps
    "sinc": lambda x: mpf(1),
}
DERIV_SCALE = {
    "gammaln": VALUE_SCALE["digamma"],
    # zeros of sinc' (tan(pi x) = pi x): relative to the envelope (1 + 1/(pi|x|))/|x|
    "sinc": lambda x: (1 + 1 / (mpmath.pi * abs(x))) / abs(x) if abs(x) > 0.5 else 0,
}

UNARY_REF.update({
    "radians": (lambda x: x * mpmath.pi / 180, lambda x: mpmath.pi / 180, REALS),
    "degrees": (lambda x: x * 180 / mpmath.pi, lambda x: 180 / mpmath.pi, REALS),
    "conjugate": (lambda x: x, lambda x: mpf(1), REALS),
    "sinc": (_sinc, _dsinc, REALS + _pm([0.25, 0.4999, 0.5, 0.5001, 0.75, 1.0, 2.5,
                                         4.4934, 1e3 + 0.3])),
    "expit": (_expit, lambda x: _expit(x) * _expit(-x),
              REALS + _pm([36.0, 37.0, 709.0, 740.0, 745.0])),
    "log_expit": (lambda x: -mpmath.log1p(mpmath.exp(-x)), lambda x: _expit(-x),
                  REALS + _pm([36.0, 37.0, 709.0, 740.0, 745.0])),
    "logit": (_logit, lambda p: _inv(p * (1 - p)),
              [0.0, 5e-324, 1e-300, 1e-8, 0.2, 0.3, 0.30001, 0.4, 0.5, 0.6, 0.64999, 0.65,
               0.9, ONE_MINUS, BELOW_ONE, 1.0]),
    "erf": (mpmath.erf, lambda x: 2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-x * x),
            REALS + _pm([0.5, 2.0, 5.9, 6.0, 26.0, 26.5, 27.0, 27.2, 27.3])),
    # (mpmath's erfc overflows a float inside for |x| ~ 1e154; beyond 30 the double
    # result is 0 or 2)
    "erfc": (lambda x: mpmath.erfc(x) if abs(x) < 30 else mpf(0) if x > 0 else mpf(2), lambda x: -2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-x * x),
             REALS + _pm([0.5, 2.0, 5.9, 6.0, 10.0, 26.0, 26.5, 27.0, 27.2])),
    "gammaln": (_gammaln, _digamma, PSI_POINTS + [2.0 + 1e-9, 1.0 - 1e-9, -2.457024738]),
    "digamma": (_digamma, _trigamma, PSI_POINTS),
})


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

def _exact(a, b):
    return Fraction(float(a)), Fraction(float(b))


def _floor_q(a, b):
    A, B = _exact(a, b)
    return math.floor(A / B)


def _trunc_q(a, b):
    A, B = _exact(a, b)
    return math.trunc(A / B)


def _mp(q):
    """An exact rational (Fraction or int) as an mpf of DIGITS digits."""
    q = Fraction(q)
    return mpf(q.numerator) / mpf(q.denominator)


def _logaddexp(a, b):
    return mpmath.log(mpmath.exp(a) + mpmath.exp(b))


def _w(a, b, base=mpmath.e):
    """d/da log_base(base^a + base^b) = base^a/(base^a + base^b)."""
    return 1 / (1 + mpmath.power(base, b - a))


def _xlogy(a, b):
    return mpf(0) if a == 0 else a * mpmath.log(b)


def _xlog1py(a, b):
    return mpf(0) if a == 0 else a * mpmath.log1p(b)


def _ratio(a, b):
    return mpf(0) if a == 0 else (a / b if b != 0 else mpmath.inf * _sign(a))


NONNEG_PAIRS = [(a, b) for a, b in PAIRS if b >= 0]
# remainder/fmod/floor_divide values exactly (Fractions: the 50-digit mpf cannot hold
# a/b = 1e631); their partials at kinks are those of the piece holding the point.
BINARY_REF.update({
    "remainder": (lambda a, b: _mp(Fraction(float(a)) - _floor_q(a, b) * Fraction(float(b))),
                  lambda a, b: mpf(1), lambda a, b: -_mp(_floor_q(a, b)), PAIRS),
    "fmod": (lambda a, b: _mp(Fraction(float(a)) - _trunc_q(a, b) * Fraction(float(b))),
             lambda a, b: mpf(1), lambda a, b: -_mp(_trunc_q(a, b)), PAIRS),
    "floor_divide": (lambda a, b: _mp(_floor_q(a, b)), lambda a, b: mpf(0),
                     lambda a, b: mpf(0), PAIRS),
    "copysign": (lambda a, b: abs(a) * (1 if b >= 0 else -1),
                 lambda a, b: _sign(a) * (1 if b >= 0 else -1), lambda a, b: mpf(0), PAIRS),
    "heaviside": (lambda a, b: mpf(0) if a < 0 else b if a == 0 else mpf(1),
                  lambda a, b: mpf(0), lambda a, b: mpf(a == 0), PAIRS),
    "logaddexp": (_logaddexp, _w, lambda a, b: _w(b, a), PAIRS),
    "logaddexp2": (lambda a, b: mpmath.log(mpmath.power(2, a) + mpmath.power(2, b), 2),
                   lambda a, b: _w(a, b, 2), lambda a, b: _w(b, a, 2), PAIRS),
    "xlogy": (_xlogy, lambda a, b: mpmath.log(b), _ratio, NONNEG_PAIRS),
    "xlog1py": (_xlog1py, lambda a, b: mpmath.log1p(b), lambda a, b: _ratio(a, 1 + b),
                [(a, b) for a, b in PAIRS if b > -1] + [(a, -ONE_MINUS) for a in (-2.0, 3.0)]),
})
# logaddexp is ill-conditioned near its zeros (a, b near -ln 2): NumPy's value (which the
# rule keeps) is checked relative to max(|a|, |b|), the size of what cancels.
VALUE_SCALE2 = {"logaddexp": lambda a, b: max(abs(a), abs(b)),
                "logaddexp2": lambda a, b: max(abs(a), abs(b))}

# Points (of PAIRS or the table's [lo, hi] square) where the rule has no derivative.
NOT_DIFFERENTIABLE = {"arctan2": _origin, "hypot": _origin, "divide": lambda a, b: b == 0,
                      "remainder": lambda a, b: b == 0, "fmod": lambda a, b: b == 0,
                      "floor_divide": lambda a, b: b == 0}

# Exact by construction: compared with tol 0 (values, derivatives).
EXACT_VALUE = {"negative", "positive", "absolute", "fabs", "sign", "floor", "ceil",
               "trunc", "rint", "maximum", "minimum", "fmax", "fmin", "conjugate",
               "copysign", "heaviside", "fmod"}
# (fmod's d/db is -trunc(a/b): rounded where |a/b| > 2^53)
EXACT_DERIV = (EXACT_VALUE - {"fmod"}) | {"square", "add", "subtract", "multiply",
                                           "floor_divide"}


def _tol_value(name):
    return 0.0 if name in EXACT_VALUE else BAR


def _tol_deriv(name):
    return 0.0 if name in EXACT_DERIV else BAR


def _miss(got, true, tol, scale=0):
    """None if got meets the bar for the true value, else a description.  scale: a
    magnitude the error is measured against where it exceeds |true| (VALUE_SCALE)."""
    if true is None:
        return None
    if scale and scale > abs(true) and not math.isinf(float(true)):
        err = abs(mpf(float(got)) - true) if math.isfinite(float(got)) else mpmath.inf
        return (None if err <= tol * scale
                else f"error {float(err / scale / EPS):.3g} eps of the scale {float(scale):.3g}")
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
    ufunc = _rule_function(rule)
    vscale = VALUE_SCALE.get(name, lambda x: 0)
    dscale = DERIV_SCALE.get(name, lambda x: 0)
    x = np.array(sorted(set(_table_points(lo, hi) + list(tails))))
    with np.errstate(all="ignore"):
        y = ufunc(Dual(x, np.ones((x.size, 1))))
    fails = []
    with mp.workdps(DIGITS):
        for xi, v, d in zip(x.tolist(), y.value.tolist(), y.tangent[:, 0].tolist()):
            X = mpf(xi)
            for what, got, true, tol, s in (
                    ("value", v, value(X), _tol_value(name), vscale(X)),
                    ("derivative", d, deriv(X), _tol_deriv(name), dscale(X))):
                why = _miss(got, true, tol, s)
                if why:
                    fails.append((f"{what} at x={xi!r}", got, true, why))
    assert not fails, _report(name, fails)


@pytest.mark.parametrize("rule", [r for r in RULES if r[1] == 2], ids=lambda r: r[0])
def test_binary_rule_accuracy(rule):
    name, _, ufunc, lo, hi = rule
    if name not in BINARY_REF:
        pytest.fail(f"{name}: no reference and domain in BINARY_REF")
    value, da, db, tails = BINARY_REF[name]
    ufunc = _rule_function(rule)
    vscale = VALUE_SCALE2.get(name, lambda a, b: 0)
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
            S = vscale(A, B)
            checks = [("value", both.value[i], T, _tol_value(name), S),
                      ("value (a dual)", only_a.value[i], T, _tol_value(name), S),
                      ("value (b dual)", only_b.value[i], T, _tol_value(name), S),
                      ("d/da", both.tangent[i, 0], Da, _tol_deriv(name), 0),
                      ("d/db", both.tangent[i, 1], Db, _tol_deriv(name), 0),
                      ("d/da (a dual)", only_a.tangent[i, 0], Da, _tol_deriv(name), 0),
                      ("d/db (b dual)", only_b.tangent[i, 0], Db, _tol_deriv(name), 0)]
            for what, got, true, tol, s in checks:
                why = _miss(got, true, tol, s)
                if why:
                    fails.append((f"{what} at a={ai!r}, b={bi!r}", got, true, why))
    assert not fails, _report(name, fails)
