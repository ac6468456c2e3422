"""Accuracy of every rule's second derivative (the deriv2 / daa, dab, dbb columns of
csrc/rules.def, issue 12) over its whole domain, tails and edges included, against
mpmath at 50 digits; and of the tetragamma function behind digamma''.

Mirrors tests/test_rule_accuracy.py and reuses its sample points and its bar logic
(`_miss`): T == 0 -> exactly 0; |T| overflows -> +-inf of T's sign; T subnormal ->
absolute error against DBL_MIN; otherwise relative error.  The bar is BAR = 64 eps (the
second derivatives compose the value, the first derivative and a few more roundings);
0 for the rules whose second derivative is an exact constant.

The references are closed forms written here from the standard table (A&S 4.2-4.6,
6.4), independently of rules.def; `test_references_match_mpmath_diff` checks each of
them against mpmath.diff of the function itself at a few interior points, so a wrong
closed form cannot pass unnoticed.  A reference given as None at a point is not
checked there (the second derivative does not exist: a pole with infinities of both
signs, a < 0 in the exponent of power).
"""

import math

import mpmath
import numpy as np
import pytest
from mpmath import mp, mpf

from dualfd._dual import RULES, _core, rule_second

import test_rule_accuracy as ra
from test_rule_accuracy import (HUGE, POSITIVE, PSI_POINTS, REALS, UNIT, _cbrt, _expit,
                                _inv, _miss, _pm, _pole, _report, _table_points)

EPS = 2.0 ** -52
BAR = 64 * EPS
DIGITS = 50


def _zero(*args):
    return mpf(0)


def _pow15(z):
    """z^(3/2); inf at z = 0 is left to the callers."""
    return z * mpmath.sqrt(z)


def _over(num, den):
    """num/den with the signed infinity where den = 0 (a pole of f'')."""
    if den == 0:
        return mpf(0) if num == 0 else mpmath.inf * _sgn(num)
    return num / den


def _sgn(z):
    return mpf(int(z > 0) - int(z < 0))


def _sinc2(x):
    """sinc''(x) = -pi^2 sinc(x) - 2 sinc'(x)/x; from the series
    pi^2 sum_k>=1 (-1)^k 2k(2k-1) u^(k-1)/(2k+1)!, u = (pi x)^2, near 0 where the two
    terms cancel even at 50 digits."""
    if abs(x) > HUGE / math.pi:
        return None                          # NumPy's pi x overflows (value NaN)
    if abs(x) < 1e-6:
        u = (mpmath.pi * x) ** 2
        return mpmath.pi ** 2 * sum((-1) ** k * 2 * k * (2 * k - 1) * u ** (k - 1)
                                    / mpmath.factorial(2 * k + 1) for k in range(1, 6))
    px = mpmath.pi * x
    s, c = mpmath.sinpi(x), mpmath.cospi(x)
    return (-mpmath.pi ** 2 * s / px - 2 * (c - s / px) / (x * x))


def _expit2(x):
    """expit'' = s(1 - s)(1 - 2s) = -expit(x) expit(-x) tanh(x/2): no 1 - s that
    50 digits would lose at |x| ~ 745."""
    return -_expit(x) * _expit(-x) * mpmath.tanh(x / 2)


def _psi(n, x):
    """mpmath.psi(n, x), n = 1, 2.  mpmath takes seconds at x ~ -1e6: there the reflection
    psi(1 - x) - psi(x) = pi cot(pi x) (A&S 6.4.7) differentiated n times, at 50 digits
    (no cancellation that matters at that precision)."""
    if x > -100:
        return mpmath.psi(n, x)
    s, c = mpmath.sinpi(x), mpmath.cospi(x)
    if n == 1:
        return (mpmath.pi / s) ** 2 - mpmath.psi(1, 1 - x)
    return mpmath.psi(2, 1 - x) - 2 * mpmath.pi ** 3 * c / s ** 3


def _trigamma(x):
    return mpmath.inf if _pole(x) else _psi(1, x)


def _tetragamma(x):
    """psi''(x); None at the poles (-inf from the right, +inf from the left)."""
    return None if _pole(x) else _psi(2, x)


def _tetragamma_scale(x):
    """For x < 0 psi'' has a zero in every (-n, -n + 1), where the reflection
    psi''(1 - x) - 2 pi^3 cos(pi x)/sin^3(pi x) cancels: the error is measured against
    the size of its terms (as test_rule_accuracy does for digamma)."""
    if x >= 0 or _pole(x):
        return 0
    s = mpmath.sinpi(x)
    return abs(_psi(2, 1 - x)) + abs(2 * mpmath.pi ** 3 * mpmath.cospi(x) / s ** 3)


def _trigamma_scale(x):
    """trigamma = psi'(1 - x) + pi^2/sin^2(pi x) for x < 0: both terms positive, no
    cancellation; no scale needed."""
    return 0


def _cbrt2(x):
    return None if x == 0 else -2 / (9 * _cbrt(x) ** 5)


# name: (f'', extra points beyond the table's [lo, hi]).  Same tails as the first-
# derivative test (tests/test_rule_accuracy.py UNARY_REF), which they extend.
UNARY2 = {
    "negative": (_zero, REALS),
    "positive": (_zero, REALS),
    "square": (lambda x: mpf(2), REALS),
    "reciprocal": (lambda x: 2 / x ** 3, [x for x in REALS if x != 0]),
    "sqrt": (lambda x: -_inv(4 * _pow15(x)), POSITIVE),
    "cbrt": (_cbrt2, ra.UNARY_REF["cbrt"][2]),
    "exp": (mpmath.exp, ra.UNARY_REF["exp"][2]),
    "exp2": (lambda x: mpf(2) ** x * mpmath.log(2) ** 2, ra.UNARY_REF["exp2"][2]),
    "expm1": (mpmath.exp, ra.UNARY_REF["expm1"][2]),
    "log": (lambda x: -_inv(x * x), POSITIVE),
    "log2": (lambda x: -_inv(x * x * mpmath.log(2)), POSITIVE),
    "log10": (lambda x: -_inv(x * x * mpmath.log(10)), POSITIVE),
    "log1p": (lambda x: -_inv((1 + x) ** 2), ra.UNARY_REF["log1p"][2]),
    "sin": (lambda x: -mpmath.sin(x), ra.UNARY_REF["sin"][2]),
    "cos": (lambda x: -mpmath.cos(x), ra.UNARY_REF["cos"][2]),
    "tan": (lambda x: 2 * mpmath.tan(x) * mpmath.sec(x) ** 2, ra.UNARY_REF["tan"][2]),
    "arcsin": (lambda x: _over(x, _pow15((1 - x) * (1 + x))), UNIT),
    "arccos": (lambda x: _over(-x, _pow15((1 - x) * (1 + x))), UNIT),
    "arctan": (lambda x: -2 * x / (1 + x * x) ** 2, REALS),
    "sinh": (mpmath.sinh, ra.UNARY_REF["sinh"][2]),
    "cosh": (mpmath.cosh, ra.UNARY_REF["cosh"][2]),
    "tanh": (lambda x: -2 * mpmath.tanh(x) * mpmath.sech(x) ** 2, ra.UNARY_REF["tanh"][2]),
    "arcsinh": (lambda x: -x / _pow15(1 + x * x), REALS),
    "arccosh": (lambda x: _over(-x, _pow15((x - 1) * (x + 1))), ra.UNARY_REF["arccosh"][2]),
    "arctanh": (lambda x: _over(2 * x, ((1 - x) * (1 + x)) ** 2), UNIT),
    "absolute": (_zero, REALS),
    "fabs": (_zero, REALS),
    "sign": (_zero, REALS),
    "floor": (_zero, REALS + _pm([2.5, 3.5])),
    "ceil": (_zero, REALS + _pm([2.5, 3.5])),
    "trunc": (_zero, REALS + _pm([2.5, 3.5])),
    "rint": (_zero, REALS + _pm([2.5, 3.5])),
    "deg2rad": (_zero, REALS),
    "rad2deg": (_zero, REALS),
    "radians": (_zero, REALS),
    "degrees": (_zero, REALS),
    "conjugate": (_zero, REALS),
    "sinc": (_sinc2, ra.UNARY_REF["sinc"][2] + _pm([1e-7, 1e-5, 0.1, 0.49, 0.51])),
    "expit": (_expit2, ra.UNARY_REF["expit"][2] + _pm([1e-5, 0.1, 1.0])),
    "log_expit": (lambda x: -_expit(x) * _expit(-x), ra.UNARY_REF["log_expit"][2]),
    "logit": (lambda p: _over(2 * p - 1, (p * (1 - p)) ** 2), ra.UNARY_REF["logit"][2]),
    "erf": (lambda x: -4 * x / mpmath.sqrt(mpmath.pi) * mpmath.exp(-x * x),
            ra.UNARY_REF["erf"][2]),
    "erfc": (lambda x: 4 * x / mpmath.sqrt(mpmath.pi) * mpmath.exp(-x * x),
             ra.UNARY_REF["erfc"][2]),
    "gammaln": (_trigamma, ra.UNARY_REF["gammaln"][2]),
    "digamma": (_tetragamma, PSI_POINTS + [-0.25, -1.3, -2.7, -5.5, -11.9]),
}

# Near the zeros of sinc'' (for |x| > 1/2) its two terms -pi^2 sinc(x) and
# -2 sinc'(x)/x cancel; and NumPy's sinc value, which the rule passes in, is only good to
# ~eps absolute (test_rule_accuracy VALUE_SCALE).  So sinc'' is checked against pi^2
# (the error that absolute error makes) plus the envelope of its terms, pi/|x| + 2/x^2.
SECOND_SCALE = {
    "sinc": lambda x: (mpmath.pi ** 2 + mpmath.pi / abs(x) + 2 / x ** 2
                       if abs(x) > 0.5 else 0),
    "digamma": _tetragamma_scale,
}

# Exact constants (0 or 2): compared with tol 0.
EXACT2 = {"negative", "positive", "square", "absolute", "fabs", "sign", "floor", "ceil",
          "trunc", "rint", "deg2rad", "rad2deg", "radians", "degrees", "conjugate",
          "add", "subtract", "multiply", "maximum", "minimum", "fmax", "fmin",
          "remainder", "fmod", "floor_divide", "copysign", "heaviside"}


def _r2(a, b):
    return a * a + b * b


def _power2(a, b):
    """(f_aa, f_ab, f_bb) of a^b: b(b-1)a^(b-2), a^(b-1)(1 + b ln a), a^b ln^2 a.
    At a = 0 the limits from a > 0 where they exist; d/db terms are not defined for
    a < 0 (None)."""
    if a == 0:
        c = b * (b - 1)
        faa = (mpf(0) if c == 0 or b > 2 else c if b == 2 else mpmath.inf * _sgn(c))
        fab = mpf(0) if b > 1 else None        # b <= 1: -inf, or 1 + ln a -> -inf
        return faa, fab, mpf(0)
    faa = b * (b - 1) * a ** (b - 2)
    if a < 0:
        return faa, None, None
    la = mpmath.log(a)
    return faa, a ** (b - 1) * (1 + b * la), a ** b * la * la


def _atan2_2(a, b):
    r4 = _r2(a, b) ** 2
    return -2 * a * b / r4, (a - b) * (a + b) / r4, 2 * a * b / r4


def _hypot2(a, b):
    r3 = _pow15(_r2(a, b))
    return b * b / r3, -a * b / r3, a * a / r3


def _logaddexp2nd(a, b, base=mpmath.e):
    """w(1 - w) ln(base), w = base^a/(base^a + base^b), as 1/(q + 2 + 1/q) with
    q = base^(a-b) (no 1 - w)."""
    q = mpmath.power(base, a - b)
    h = mpmath.log(base) / (q + 2 + 1 / q)
    return h, -h, h


def _xlogy2(a, b):
    fbb = mpf(0) if a == 0 else _over(-a, b * b)
    return mpf(0), _inv(b), fbb


def _xlog1py2(a, b):
    fbb = mpf(0) if a == 0 else _over(-a, (1 + b) ** 2)
    return mpf(0), _inv(1 + b), fbb


def _zero3(a, b):
    return mpf(0), mpf(0), mpf(0)


# a - b far from 0, exact or rounded (0.1 - 700.3): where w(1 - w) ~ e^-|a-b| turns the
# rounding of a - b into a relative error.
_BIG_GAPS = [(a, b) for a in (0.0, 3.0, -5.5, 0.1) for b in (0.25, 690.0, 700.3, -744.0,
                                                                1000.0, -1070.0)]
# b where b^2 or b^3 leaves the doubles while 1/b^2, a/b^3 do not
_DIVIDE_TAILS = [(a, b) for a in (1e-300, 3.0, 1e300) for b in _pm([1e-160, 1e-155, 1e-110,
                                                                     1e110, 1e155, 1e160])]
# name: (function of (A, B) giving the three partials, pairs beyond the table's square).
BINARY2 = {
    "add": (_zero3, ra.PAIRS),
    "subtract": (_zero3, ra.PAIRS),
    "multiply": (lambda a, b: (mpf(0), mpf(1), mpf(0)), ra.PAIRS),
    "divide": (lambda a, b: (mpf(0), -1 / b ** 2, 2 * a / b ** 3), ra.PAIRS + _DIVIDE_TAILS),
    "power": (_power2, ra.BINARY_REF["power"][3]),
    "arctan2": (_atan2_2, ra.PAIRS + [(1.7e308, 1.6e308), (1e-320, 3e-321), (1e154, 3e153)]),
    "hypot": (_hypot2, ra.PAIRS + [(1.7e308, 1.6e308), (1e-320, 3e-321), (1e200, 1e-200)]),
    "maximum": (_zero3, ra.PAIRS),
    "minimum": (_zero3, ra.PAIRS),
    "fmax": (_zero3, ra.PAIRS),
    "fmin": (_zero3, ra.PAIRS),
    "remainder": (_zero3, ra.PAIRS),
    "fmod": (_zero3, ra.PAIRS),
    "floor_divide": (_zero3, ra.PAIRS),
    "copysign": (_zero3, ra.PAIRS),
    "heaviside": (_zero3, ra.PAIRS),
    "logaddexp": (_logaddexp2nd, ra.PAIRS + _BIG_GAPS),
    "logaddexp2": (lambda a, b: _logaddexp2nd(a, b, 2), ra.PAIRS + _BIG_GAPS),
    "xlogy": (_xlogy2, ra.BINARY_REF["xlogy"][3]),
    "xlog1py": (_xlog1py2, ra.BINARY_REF["xlog1py"][3]),
}


def _skip_scipy(rule):
    if isinstance(rule[2], str):
        pytest.importorskip("scipy.special")
        _core._register_scipy_special()


def _eps_err(got, true, scale=0):
    """The error of got in units of eps, measured as _miss measures it (relative, or
    against the scale, or against DBL_MIN when subnormal); inf where _miss could only
    fail.  For the worst-error table of the report."""
    if true is None:
        return 0.0
    for k in (0, 1, 4, 16, 64, 256, 1024, 4096, 1 << 20):
        if _miss(got, true, k * EPS, scale) is None:
            lo = 0 if k == 0 else k // 4
            # bisect between the powers for a 2-digit figure
            hi = k
            for _ in range(12):
                mid = (lo + hi) / 2
                if _miss(got, true, mid * EPS, scale) is None:
                    hi = mid
                else:
                    lo = mid
            return hi
    return math.inf


def _unary_points(name, lo, hi):
    return np.array(sorted(set(_table_points(lo, hi) + list(UNARY2[name][1]))))


def _unary_fails(rule, measure=None):
    name, _, _, lo, hi = rule
    f2, _ = UNARY2[name]
    scale = SECOND_SCALE.get(name, lambda x: 0)
    tol = 0.0 if name in EXACT2 else BAR
    x = _unary_points(name, lo, hi)
    with np.errstate(all="ignore"):
        g = rule_second(name, x)
    fails = []
    with mp.workdps(DIGITS):
        for xi, gi in zip(x.tolist(), g.tolist()):
            X = mpf(xi)
            T, S = f2(X), scale(X)
            why = _miss(gi, T, tol, S)
            if why:
                fails.append((f"f'' at x={xi!r}", gi, T if T is not None else mpf(0), why))
            if measure is not None:
                measure.append(_eps_err(gi, T, S))
    return fails


def _binary_pairs(name, lo, hi):
    grid = _table_points(lo, hi)
    skip = ra.NOT_DIFFERENTIABLE.get(name, lambda a, b: False)
    return sorted(p for p in set([(a, b) for a in grid for b in grid]
                                 + list(BINARY2[name][1])) if not skip(*p))


def _binary_fails(rule, measure=None):
    name, _, _, lo, hi = rule
    f2, _ = BINARY2[name]
    tol = 0.0 if name in EXACT2 else BAR
    pairs = _binary_pairs(name, lo, hi)
    a = np.array([p[0] for p in pairs])
    b = np.array([p[1] for p in pairs])
    with np.errstate(all="ignore"):
        h = rule_second(name, a, b)
    fails = []
    with mp.workdps(DIGITS):
        for i, (ai, bi) in enumerate(pairs):
            for what, got, true in zip(("f_aa", "f_ab", "f_bb"), (h[0][i], h[1][i], h[2][i]),
                                       f2(mpf(ai), mpf(bi))):
                why = _miss(got, true, tol)
                if why:
                    fails.append((f"{what} at a={ai!r}, b={bi!r}", got, true, why))
                if measure is not None:
                    measure.append(_eps_err(got, true))
    return fails


def test_every_rule_has_a_second_derivative_reference():
    missing = [name for name, arity, *_ in RULES
               if name not in (UNARY2 if arity == 1 else BINARY2)]
    assert not missing, (f"rules without a second-derivative reference in "
                         f"tests/test_rule_second.py: {missing}")
    unknown = (set(UNARY2) | set(BINARY2)) - {r[0] for r in RULES}
    assert not unknown, f"references for rules not in the table: {unknown}"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r[0])
def test_second_derivative_table_is_complete(rule):
    """rule_second gives a number for every rule at the middle of its domain (a rule
    without a deriv2 entry, or one returning NaN there, fails here first)."""
    name, arity, _, lo, hi = rule
    _skip_scipy(rule)
    mid = [lo + (hi - lo) * t for t in (0.3, 0.5, 0.7)]
    if arity == 1:
        g = rule_second(name, np.array(mid))
        assert np.isfinite(g).all(), f"{name}'' at {mid}: {g}"
    else:
        other = [lo + (hi - lo) * t for t in (0.6, 0.4, 0.8)]   # never (0, 0) with mid
        h = rule_second(name, np.array(mid), np.array(other))
        assert len(h) == 3 and all(np.isfinite(p).all() for p in h), (
            f"{name} second partials at {mid}: {h}")


@pytest.mark.parametrize("rule", [r for r in RULES if r[1] == 1], ids=lambda r: r[0])
def test_unary_second_derivative_accuracy(rule):
    if rule[0] not in UNARY2:
        pytest.fail(f"{rule[0]}: no second-derivative reference in UNARY2")
    _skip_scipy(rule)
    fails = _unary_fails(rule)
    assert not fails, _report(rule[0], fails)


@pytest.mark.parametrize("rule", [r for r in RULES if r[1] == 2], ids=lambda r: r[0])
def test_binary_second_derivative_accuracy(rule):
    if rule[0] not in BINARY2:
        pytest.fail(f"{rule[0]}: no second-derivative reference in BINARY2")
    _skip_scipy(rule)
    fails = _binary_fails(rule)
    assert not fails, _report(rule[0], fails)


# Interior points where mpmath.diff (adaptive finite differences at 50 digits) of the
# function itself is reliable: it checks the closed forms above, not dualfd.
DIFF_POINTS = {1: [0.37, 0.81, 2.3], 2: [(0.37, 0.81), (1.3, 0.45), (2.3, 1.7)]}


def _mp_function(rule):
    """The rule's function in mpmath, from test_rule_accuracy's references."""
    return (ra.UNARY_REF if rule[1] == 1 else ra.BINARY_REF)[rule[0]][0]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r[0])
def test_references_match_mpmath_diff(rule):
    name, arity, _, lo, hi = rule
    f = _mp_function(rule)
    with mp.workdps(DIGITS):
        if arity == 1:
            for x in DIFF_POINTS[1]:
                x = mpf(min(max(x, lo + 0.05), hi - 0.05))
                want = mpmath.diff(f, x, 2)
                got = UNARY2[name][0](x)
                assert abs(got - want) <= mpf(10) ** -30 * (1 + abs(want)), (name, x)
        else:
            for a, b in DIFF_POINTS[2]:
                A = mpf(min(max(a, lo + 0.05), hi - 0.05))
                B = mpf(min(max(b, lo + 0.05), hi - 0.05))
                want = (mpmath.diff(f, (A, B), (2, 0)), mpmath.diff(f, (A, B), (1, 1)),
                        mpmath.diff(f, (A, B), (0, 2)))
                for got, w in zip(BINARY2[name][0](A, B), want):
                    assert abs(got - w) <= mpf(10) ** -30 * (1 + abs(w)), (name, A, B)


# psi''(x) on [-12, 30]: poles (0 and the negative integers) approached from both
# sides, the switch to the asymptotic series at 20, large x.
TETRA_POINTS = sorted(set(
    [float(v) for v in np.linspace(-12.0, 30.0, 337)]
    + [float(np.nextafter(float(n), s)) for n in range(-12, 1) for s in (-20.0, 20.0)]
    + [n + d for n in range(-12, 1) for d in (-1e-8, 1e-8, -1e-3, 1e-3, -0.5)]
    + [1e-300, 1e-8, 19.999999, 20.0, float(np.nextafter(20.0, 0.0)), 20.5, 1e3, 1e8,
       1e50, 1e150, 1e154, 1e160, 1e300]))


def _tetragamma_fails(measure=None):
    x = np.array(TETRA_POINTS)
    g = _core._tetragamma(x)
    fails = []
    with mp.workdps(DIGITS):
        for xi, gi in zip(x.tolist(), g.tolist()):
            if _pole(mpf(xi)):
                if not math.isnan(gi):
                    fails.append((f"x={xi!r}", gi, mpf(0), "expected NaN at a pole"))
                continue
            X = mpf(xi)
            T, S = _psi(2, X), _tetragamma_scale(X)
            why = _miss(gi, T, BAR, S)
            if why:
                fails.append((f"x={xi!r}", gi, T, why))
            if measure is not None:
                measure.append(_eps_err(gi, T, S))
    return fails


def test_tetragamma_against_mpmath():
    fails = _tetragamma_fails()
    assert not fails, _report("tetragamma", fails)


def _measure_all():
    """Worst error (eps) per rule; `python tests/test_rule_second.py` prints the table."""
    out = {}
    for rule in RULES:
        if isinstance(rule[2], str):
            _core._register_scipy_special()
        m = []
        (_unary_fails if rule[1] == 1 else _binary_fails)(rule, m)
        out[rule[0]] = max(m) if m else 0.0
    m = []
    _tetragamma_fails(m)
    out["tetragamma"] = max(m)
    return out


if __name__ == "__main__":
    for name, worst in _measure_all().items():
        print(f"| {name} | {worst:.3g} |")
