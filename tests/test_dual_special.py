"""The elementwise and scipy.special family on Duals, beyond the per-rule tests of
test_dual_rules.py / test_rule_accuracy.py: NumPy's piecewise values bit for bit
(remainder, floor_divide, fmod with negative operands, zeros, infinities), the
functions that are not ufuncs (round, fix, angle, nan_to_num, real_if_close, sinc),
SciPy's ufuncs (lazy registration, values against SciPy, digamma/trigamma against
mpmath over the whole real line, poles), logsumexp/softmax, and compositions against
complex step."""

import os
import subprocess
import sys

import mpmath
import numpy as np
import pytest
from mpmath import mp, mpf

from dualfd import Dual
from dualfd._dual import DEFAULT_CHUNK, _core

special = pytest.importorskip("scipy.special")
_core._register_scipy_special()
from scipy.optimize._numdiff import approx_derivative  # noqa: E402

EPS = 2.0 ** -52
KS = [1, 3, DEFAULT_CHUNK + 1]


def seed(x, k=None, rng=None):
    """A Dual at x with k random directions (identity seed when k is None)."""
    x = np.asarray(x, dtype=float)
    if k is None:
        return Dual(x, np.eye(x.size).reshape(x.shape + (x.size,)))
    rng = rng or np.random.default_rng(0)
    return Dual(x, rng.standard_normal(x.shape + (k,)))


def cs_jacobian(f, x):
    """Complex-step Jacobian of f (flattened in and out), SciPy's implementation."""
    x = np.asarray(x, dtype=float)
    return approx_derivative(lambda z: np.ravel(f(z.reshape(x.shape))), x.ravel(),
                             method="cs")


def dual_jacobian(f, x):
    y = f(seed(x))
    return np.reshape(y.tangent, (y.size, np.size(x)))


# --- NumPy's piecewise values, bit for bit ------------------------------------------

EDGE = np.array([-np.inf, -7.5, -3.0, -2.5, -1e-300, -0.0, 0.0, 5e-324, 0.7, 2.5, 3.0,
                 7.25, 1e300, np.inf, np.nan])
A_GRID, B_GRID = np.meshgrid(EDGE, EDGE)


def _same(got, ref):
    np.testing.assert_array_equal(got, ref)
    both = ~np.isnan(ref)
    np.testing.assert_array_equal(np.signbit(got[both]), np.signbit(ref[both]))


@pytest.mark.parametrize("f", [np.remainder, np.fmod, np.floor_divide, np.copysign,
                               np.heaviside, np.logaddexp, np.logaddexp2],
                         ids=lambda f: f.__name__)
def test_piecewise_values_are_numpys_exactly(f):
    """Negative operands, signed zeros, infinities, NaN: the value is NumPy's, bit for
    bit (logaddexp: same operations as NumPy's loop)."""
    a, b = A_GRID.ravel(), B_GRID.ravel()
    with np.errstate(all="ignore"):
        ref = f(a, b)
        for y in (f(seed(a, 1), b), f(a, seed(b, 1)), f(seed(a, 1), seed(b, 1))):
            _same(y.value, ref)


def test_mod_operator_and_alias_go_through_remainder():
    assert np.mod is np.remainder
    x = np.array([-3.7, -1.0, 0.5, 2.9, 7.0])
    d = seed(x)
    y = np.array([2.0, -1.5, 0.75, -2.0, 3.0])
    # ndarray % Dual and Dual % ndarray: NumPy's operator calls np.remainder
    r = y % d
    _same(r.value, y % x)
    np.testing.assert_array_equal(r.tangent, np.diag(-np.floor(y / x)))
    r = np.mod(d, y)
    _same(r.value, x % y)
    np.testing.assert_array_equal(r.tangent, np.eye(5))


def test_remainder_partials_at_kinks_follow_floor():
    """At a = k b the partials are those of the piece starting there: d/da = 1,
    d/db = -floor_divide(a, b), whichever the signs."""
    a = np.array([6.0, -6.0, 6.0, -6.0, 0.0, -0.0])
    b = np.array([3.0, 3.0, -3.0, -3.0, 2.0, -2.0])
    y = np.remainder(Dual(a, np.tile([1.0, 0.0], (6, 1))), Dual(b, np.tile([0.0, 1.0], (6, 1))))
    _same(y.value, np.remainder(a, b))
    np.testing.assert_array_equal(y.tangent[:, 0], 1.0)
    np.testing.assert_array_equal(y.tangent[:, 1], -np.floor_divide(a, b))
    # one-sided check: the right-hand quotient in a for b > 0 is exactly this slope
    h = 1e-9
    np.testing.assert_allclose((np.remainder(6.0 + h, 3.0) - 0.0) / h, 1.0, rtol=1e-6)


def test_fmod_and_floor_divide_partials():
    a = np.array([-7.5, 7.5, -7.5, 7.5, 1e300])
    b = np.array([2.0, 2.0, -2.0, -2.0, 3.0])
    ta, tb = np.tile([1.0, 0.0], (5, 1)), np.tile([0.0, 1.0], (5, 1))
    y = np.fmod(Dual(a, ta), Dual(b, tb))
    np.testing.assert_array_equal(y.tangent[:4, 1], -np.trunc(a[:4] / b[:4]))
    np.testing.assert_allclose(y.tangent[4, 1], -1e300 / 3, rtol=EPS)
    z = np.floor_divide(Dual(a, ta), Dual(b, tb))
    _same(z.value, np.floor_divide(a, b))
    assert np.all(z.tangent == 0)


def test_copysign_and_heaviside_partials():
    a = np.array([-2.0, 2.0, -2.0, 2.0, 0.0])
    b = np.array([1.0, -1.0, -0.0, 0.0, 3.0])
    ta, tb = np.tile([1.0, 0.0], (5, 1)), np.tile([0.0, 1.0], (5, 1))
    y = np.copysign(Dual(a, ta), Dual(b, tb))
    np.testing.assert_array_equal(y.tangent[:, 0], [-1.0, -1.0, 1.0, 1.0, 0.0])
    np.testing.assert_array_equal(y.tangent[:, 1], 0.0)
    h = np.heaviside(Dual(a, ta), Dual(b, tb))
    np.testing.assert_array_equal(h.tangent[:, 0], 0.0)
    np.testing.assert_array_equal(h.tangent[:, 1], [0, 0, 0, 0, 1.0])   # h(0, b) = b


def test_logaddexp_partials_far_apart_are_relative():
    """d/db logaddexp(0, b) = e^b/(1 + e^b): relative accuracy down to e^-745, where
    rounding a - b alone would cost ~350 eps without the TwoSum correction."""
    b = np.array([-700.3, -40.1, -745.0, 3.3])
    y = np.logaddexp(0.1, seed(b, 1))
    y2 = np.logaddexp2(0.1, seed(b, 1))
    with mp.workdps(40):
        for i, bi in enumerate(b):
            B = mpf(bi)
            ref = mpmath.exp(B) / (mpmath.exp(mpf(0.1)) + mpmath.exp(B))
            ref2 = mpf(2) ** B / (mpf(2) ** mpf(0.1) + mpf(2) ** B)
            t = y.tangent[i, 0] / (seed(b, 1).tangent[i, 0])
            t2 = y2.tangent[i, 0] / (seed(b, 1).tangent[i, 0])
            assert abs(t - ref) <= 4 * EPS * ref + 1e-323, (bi, t, ref)
            assert abs(t2 - ref2) <= 4 * EPS * ref2 + 1e-323, (bi, t2, ref2)


@pytest.mark.parametrize("f", [np.radians, np.degrees, np.conjugate],
                         ids=lambda f: f.__name__)
def test_aliases_are_their_own_ufuncs(f):
    assert f is not np.deg2rad and f is not np.rad2deg
    assert f.__name__ in Dual.supported_ufuncs()
    x = np.array([-2.0, 0.5, 30.0])
    y = f(seed(x))
    _same(y.value, f(x))
    c = {"radians": np.pi / 180, "degrees": 180 / np.pi, "conjugate": 1.0}[f.__name__]
    np.testing.assert_allclose(y.tangent, c * np.eye(3), rtol=EPS)
    assert np.conj is np.conjugate


# --- functions that are not ufuncs --------------------------------------------------

def _strided_variants(x, k):
    """x as a Dual: contiguous, a stride-2 view and a negative-stride view of bigger
    Duals (the views' tangents are what is passed through)."""
    rng = np.random.default_rng(3)
    big = Dual(np.repeat(x, 2), rng.standard_normal((2 * x.size, k)))
    rev = Dual(x[::-1].copy(), rng.standard_normal((x.size, k)))
    return [("contiguous", seed(x, k, rng)), ("stride 2", big[::2]), ("reversed", rev[::-1])]


@pytest.mark.parametrize("k", KS)
def test_round_fix_angle_have_zero_derivative(k):
    x = np.array([-2.567, -0.5, -0.0, 0.4999, 1.5, 2.5, 13.25])
    for how, d in _strided_variants(x, k):
        for f, ref in [(lambda v: np.round(v), np.round(x)),
                       (lambda v: np.round(v, 1), np.round(x, 1)),
                       (lambda v: np.around(v, decimals=2), np.around(x, decimals=2)),
                       (lambda v: np.round(v, -1), np.round(x, -1)),
                       (np.fix, np.fix(x)), (np.angle, np.angle(x)),
                       (lambda v: np.angle(v, deg=True), np.angle(x, deg=True)),
                       (lambda v: v.round(1), np.round(x, 1))]:
            y = f(d)
            assert isinstance(y, Dual) and y.k == k, how
            _same(y.value, ref)
            assert np.all(y.tangent == 0), how


def test_round_rejects_out():
    with pytest.raises(TypeError, match="does not support out="):
        np.round(seed([1.5]), out=np.zeros(1))


@pytest.mark.parametrize("shape", [(), (0,), (2, 0)], ids=str)
def test_functions_on_0d_and_empty(shape):
    x = np.full(shape, 1.25)
    d = Dual(x, np.ones(shape + (2,)))
    for f in (np.round, np.fix, np.angle, np.sinc, np.nan_to_num, np.real_if_close):
        y = f(d)
        assert y.shape == shape and y.tangent.shape == shape + (2,), f.__name__
        np.testing.assert_array_equal(y.value, f(x))


@pytest.mark.parametrize("k", KS)
def test_nan_to_num_passes_finite_tangents(k):
    x = np.array([1.5, np.nan, np.inf, -np.inf, -2.0])
    for how, d in _strided_variants(x, k):
        t = np.array(d.tangent)
        for kw in ({}, {"nan": 7.0, "posinf": 1e3, "neginf": -1e3}):
            y = np.nan_to_num(d, **kw)
            _same(y.value, np.nan_to_num(x, **kw))
            keep = np.isfinite(x)
            np.testing.assert_array_equal(y.tangent[keep], t[keep], err_msg=how)
            assert np.all(y.tangent[~keep] == 0), how
        assert np.isnan(d.value[1]), "the input was modified"


def test_nan_to_num_copy_false_writes_in_place():
    d = seed([np.nan, 2.0, np.inf])
    base = d
    y = np.nan_to_num(d, copy=False)
    assert y is base
    _same(d.value, np.array([0.0, 2.0, np.finfo(float).max]))
    np.testing.assert_array_equal(d.tangent, np.diag([0.0, 1.0, 0.0]))


def test_real_if_close_conj_real_imag_on_real_input():
    d = seed([1.0, -2.0])
    assert np.real_if_close(d) is d
    for f in (np.conj, np.conjugate, np.real, lambda v: v.conj()):
        y = f(d)
        _same(y.value, d.value)
        np.testing.assert_array_equal(y.tangent, d.tangent)
    assert np.all(np.imag(d).tangent == 0) and np.all(np.imag(d).value == 0)


def test_sinc_values_and_derivative_near_zero():
    """sinc' near 0 by its series (the textbook (cos(pi x) - sinc x)/x has lost every
    digit at x = 1e-9); values are NumPy's formula."""
    x = np.array([0.0, -0.0, 1e-300, 1e-9, -1e-5, 0.3, 0.5, 0.5000001, 1.0, 2.0, 7.3,
                  1e8 + 0.25])
    y = np.sinc(seed(x, 1))
    t = seed(x, 1).tangent[:, 0]
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(y.value, np.sinc(x), rtol=EPS, atol=0)
    with mp.workdps(40):
        for xi, got in zip(x, y.tangent[:, 0] / t):
            X = mpf(xi)
            if abs(X) < 1e-12:
                ref = -mpmath.pi ** 2 * X / 3
            else:
                ref = (mpmath.cospi(X) - mpmath.sinpi(X) / (mpmath.pi * X)) / X
            env = max(abs(ref), (1 / abs(X) if abs(X) > 0.5 else 0))
            assert abs(got - ref) <= 4 * EPS * env + 1e-320, (xi, got, ref)


# --- SciPy's ufuncs ----------------------------------------------------------------

SCIPY_UNARY = ["expit", "log_expit", "logit", "erf", "erfc", "gammaln", "digamma"]


def test_scipy_rules_are_registered_and_listed():
    names = set(Dual.supported_ufuncs())
    for name in SCIPY_UNARY + ["xlogy", "xlog1py"]:
        u = getattr(special, name)
        assert _core._special_lookup(u) is None or u.__name__ in names
        assert u.__name__ in names, name
    assert special.psi is special.digamma
    # an unknown ufunc stays unknown
    assert _core._special_lookup(np.frexp) is None


def _run(code):
    env = dict(os.environ)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120)


def test_scipy_loaded_before_dualfd_is_registered_at_import():
    r = _run("import numpy as np, scipy.special as sp\n"
             "from dualfd import Dual\n"
             "y = sp.erf(Dual(np.array([0.5]), np.ones((1, 1))))\n"
             "assert 'erf' in Dual.supported_ufuncs()\n"
             "print(float(y.tangent[0, 0]))")
    assert r.returncode == 0, r.stderr
    assert abs(float(r.stdout.split()[-1]) - 2 / np.sqrt(np.pi) * np.exp(-0.25)) < 1e-15


def test_lookup_registers_scipy_loaded_after_dualfd():
    r = _run("import numpy as np\nfrom dualfd import Dual\nfrom dualfd._dual import _core\n"
             "assert 'erf' not in Dual.supported_ufuncs()\n"
             "import scipy.special as sp\n"
             "assert _core._special_lookup(sp.erf)[0] == 1\n"
             "assert _core._special_lookup(sp.xlogy)[0] == 2\n"
             "assert 'erf' in Dual.supported_ufuncs()")
    assert r.returncode == 0, r.stderr


def test_scipy_loaded_after_dualfd_dispatches_on_first_use():
    r = _run("import numpy as np\nfrom dualfd import Dual\nimport scipy.special as sp\n"
             "sp.expit(Dual(np.array([0.5]), np.ones((1, 1))))")
    assert r.returncode == 0, r.stderr


def test_unsupported_scipy_ufunc_names_its_module():
    with pytest.raises(TypeError, match=r"scipy\.special\.ndtr is not supported"):
        special.ndtr(seed([0.5]))


GRID = np.concatenate([np.linspace(-30, 30, 241), [-745.0, -709.5, -40.0, 40.0, 700.0]])


@pytest.mark.parametrize("name", SCIPY_UNARY)
def test_scipy_values(name):
    """Values as SciPy's to a few ulp (both are within ~2 ulp of the truth; SciPy's
    own implementations are cephes/xsf, ours libm or dual.c), subnormal tails
    included."""
    f = getattr(special, name)
    x = {"logit": np.linspace(0, 1, 101), "gammaln": np.linspace(-9.75, 30, 160),
         "digamma": np.linspace(-9.75, 30, 160)}.get(name, GRID)
    with np.errstate(all="ignore"):
        got = f(seed(x, 1)).value
        ref = f(x)
    tol = {"gammaln": 16 * EPS, "digamma": 16 * EPS}.get(name, 4 * EPS)
    both = np.isfinite(ref)
    np.testing.assert_array_equal(got[~both], ref[~both])
    np.testing.assert_allclose(got[both], ref[both], rtol=tol, atol=1e-300)


@pytest.mark.parametrize("name", ["xlogy", "xlog1py"])
def test_xlogy_values_and_zero_convention(name):
    f = getattr(special, name)
    a = np.array([0.0, 0.0, 0.0, 2.0, -1.5, 0.0, 3.0])
    b = np.array([0.0, 2.0, np.nan, 0.5, 3.0, -1.0, -1.0])
    ta, tb = np.tile([1.0, 0.0], (7, 1)), np.tile([0.0, 1.0], (7, 1))
    with np.errstate(all="ignore"):
        y = f(Dual(a, ta), Dual(b, tb))
        _same(y.value, f(a, b))
        log = np.log if name == "xlogy" else np.log1p
        # d/da = log(b) (log1p(b)) everywhere, -inf at the log's pole;
        # d/db = a/b (a/(1 + b)), and 0 where a == 0: xlogy(0, b) is 0 for every b
        np.testing.assert_allclose(y.tangent[:, 0], log(b), rtol=EPS)   # NumPy's SIMD log
        shift = 0.0 if name == "xlogy" else 1.0
        np.testing.assert_array_equal(
            y.tangent[:, 1], np.where((a == 0) & ~np.isnan(b), 0.0, a / (b + shift)))


def test_expit_logit_tails():
    """expit' = e/(1 + e)^2 with e = exp(-|x|): relative accuracy in both tails;
    logit' = 1/(p(1 - p)) with 1 - p exact near p = 1."""
    x = np.array([-745.0, -700.0, -36.0, 36.0, 700.0])
    y = special.expit(seed(x, 1))
    p = np.array([1 - 2 ** -52, 1 - 2 ** -40, 2 ** -1000])
    z = special.logit(seed(p, 1))
    with mp.workdps(40):
        for xi, got in zip(x, y.tangent[:, 0] / seed(x, 1).tangent[:, 0]):
            e = mpmath.exp(-abs(mpf(xi)))
            ref = e / (1 + e) ** 2
            assert abs(got - ref) <= 4 * EPS * ref + 1e-323
        for pi, got in zip(p, z.tangent[:, 0] / seed(p, 1).tangent[:, 0]):
            ref = 1 / (mpf(pi) * (1 - mpf(pi)))
            assert abs(got - ref) <= 4 * EPS * ref


def test_erf_derivative_far_out():
    """2/sqrt(pi) exp(-x^2) with x^2 split by fma: relative accuracy at |x| = 26.5,
    where rounding x^2 alone costs ~350 eps."""
    x = np.array([-26.5, -10.1, 5.5, 26.5, 27.2])
    y = special.erf(seed(x, 1))
    z = special.erfc(seed(x, 1))
    t = seed(x, 1).tangent[:, 0]
    with mp.workdps(40):
        for xi, g1, g2 in zip(x, y.tangent[:, 0] / t, z.tangent[:, 0] / t):
            ref = 2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-mpf(xi) ** 2)
            assert abs(g1 - ref) <= 4 * EPS * ref + 1e-323 and abs(-g2 - ref) <= 4 * EPS * ref + 1e-323


# --- digamma and trigamma over the real line ---------------------------------------

def _psi_points():
    rng = np.random.default_rng(7)
    return (np.concatenate([rng.uniform(0, 3, 150), rng.uniform(3, 12, 60),
                            10 ** rng.uniform(-300, 300, 60), [1.4616321449683622]]),
            -np.concatenate([rng.uniform(0, 12, 150), 10 ** rng.uniform(-300, 15, 60)]))


def test_digamma_and_trigamma_against_mpmath():
    """psi (the value of digamma, the derivative of gammaln) and psi' (digamma's
    derivative) against mpmath: 4 eps relative for x > 0 (digamma's root
    1.46163... included); for x < 0 psi' relative, psi relative to the size of the
    reflection's terms |psi(1 - x)| + |pi cot(pi x)| (psi has a root in each
    (-n, -n + 1), where relative accuracy would need an expansion per root)."""
    pos, neg = _psi_points()
    worst = {}
    with mp.workdps(40):
        for x in (pos, neg):
            x = x[x != np.round(x)]
            y = special.digamma(Dual(x, np.ones((x.size, 1))))
            g = special.gammaln(Dual(x, np.ones((x.size, 1))))
            np.testing.assert_array_equal(g.tangent[:, 0], y.value)
            for xi, v, d in zip(x, y.value, y.tangent[:, 0]):
                X = mpf(xi)
                T, D = mpmath.digamma(X), mpmath.psi(1, X)
                scale = abs(T) if xi > 0 else (abs(mpmath.digamma(1 - X))
                                               + abs(mpmath.pi * mpmath.cot(mpmath.pi * X)))
                ev = float(abs(v - T) / scale / EPS)
                # psi' overflows for |x| < 1.3e-154: +inf is then the right double
                ed = 0.0 if np.isinf(float(D)) and d == np.inf else float(abs(d - D) / D / EPS)
                assert ev <= 4 and ed <= 4, (xi, ev, ed)
                worst[xi > 0] = max(worst.get(xi > 0, 0), ev, ed)
    assert set(worst) == {True, False}


def test_digamma_poles():
    """Values as SciPy's: psi(+0) = -inf, psi(-0) = +inf, NaN at the negative integers.
    The derivative psi' is +inf at every pole (its limit from both sides); a zero
    tangent entry stays 0 there.  gammaln's derivative at a pole is psi's value: -inf at
    +0, NaN at the negative integers (the one-sided limits are -inf and +inf)."""
    x = np.array([0.0, -0.0, -1.0, -2.0, -1e6])
    t = np.array([[1.0, 0.0]] * 5)
    y = special.digamma(Dual(x, t))
    _same(y.value, special.digamma(x))
    assert np.all(y.tangent[:, 0] == np.inf) and np.all(y.tangent[:, 1] == 0)
    g = special.gammaln(Dual(x, t))
    _same(g.value, special.gammaln(x))
    _same(g.tangent[:, 0], special.digamma(x))
    assert special.digamma(Dual(np.array([np.inf, -np.inf, np.nan]), np.ones((3, 1)))
                           ).value.tolist()[0] == np.inf


# --- compositions against complex step ---------------------------------------------

@pytest.mark.parametrize("k", KS)
def test_compositions_against_complex_step(k):
    x = np.linspace(0.3, 2.7, 6).reshape(2, 3)
    c = np.array([0.5, 1.5, 2.5])

    def f(v):
        return (special.erf(v) * np.sinc(v) + special.digamma(v) * special.xlogy(v, c)
                + special.xlog1py(c, v) - np.log(special.erfc(-v)) + np.sinc(v / 3) ** 2)

    J = cs_jacobian(f, x)
    rng = np.random.default_rng(k)
    T = rng.standard_normal(x.shape + (k,))
    y = f(Dual(x, T))
    np.testing.assert_allclose(y.value, f(x), rtol=1e-15)
    np.testing.assert_allclose(y.tangent.reshape(6, k), J @ T.reshape(6, k), rtol=1e-12,
                               atol=1e-13)


def test_mixed_operands_and_broadcasting():
    d = seed(np.array([0.3, 1.7, 2.9]))                 # (3,), k = 3
    col = np.array([[0.5], [-1.25]])                    # (2, 1)
    for f in (np.remainder, np.fmod, np.logaddexp, np.copysign, special.xlogy):
        with np.errstate(all="ignore"):
            for y, ref in ((f(d, col), f(d.value, col)), (f(col, d), f(col, d.value)),
                           (f(d, 2.0), f(d.value, 2.0)), (f(1.5, d), f(1.5, d.value))):
                assert y.shape == ref.shape and y.tangent.shape == ref.shape + (3,)
                np.testing.assert_allclose(y.value, ref, rtol=EPS, err_msg=f.__name__)
    y = np.remainder(col, d)                            # d/d(d) = -floor(col/d)
    np.testing.assert_array_equal(y.tangent, -np.floor(col / d.value)[..., None] * np.eye(3))


# --- logsumexp and softmax ---------------------------------------------------------

def _object_jacobian(f, x):
    """f returns an object array of 0-d Duals (SciPy's code ran on np.asarray of the
    Dual): their tangents, stacked."""
    out = f(seed(x))
    return np.array([e.tangent for e in np.ravel(out)]).reshape(np.size(out), x.size)


@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 1)], ids=str)
def test_softmax_through_scipy_and_dual_implementation(axis):
    """scipy.special.softmax on a Dual runs SciPy's code on the object array of 0-d
    Duals: exact derivatives, element by element.  _core._softmax: the same in one
    pass, s (dx - sum s dx)."""
    x = np.array([[0.1, -1.2, 2.0, 0.3], [1.0, 1.5, -0.5, 0.0], [3.0, -2.0, 0.5, 1.0]])
    J = cs_jacobian(lambda v: special.softmax(v, axis=axis), x)
    np.testing.assert_allclose(_object_jacobian(lambda v: special.softmax(v, axis=axis), x),
                               J, rtol=1e-13, atol=1e-15)
    y = _core._softmax(seed(x), axis=axis)
    np.testing.assert_allclose(y.value, special.softmax(x, axis=axis), rtol=1e-15)
    np.testing.assert_allclose(y.tangent.reshape(x.size, x.size), J, rtol=1e-13,
                               atol=1e-15)


@pytest.mark.xfail(strict=True, raises=TypeError,
                   reason="SciPy takes object arrays for complex in logsumexp "
                          "(scipy/special/_logsumexp.py); see the report")
def test_scipy_logsumexp_on_a_dual():
    special.logsumexp(seed([1.0, 2.0]))


def _lse_ref(a, axis=None, b=None, keepdims=False):
    """log sum b e^a, written for complex a (complex step): independent of SciPy."""
    s = np.sum(np.exp(a) * (1.0 if b is None else b), axis=axis, keepdims=keepdims)
    return np.log(s)


@pytest.mark.parametrize("kw", [{}, {"axis": 0}, {"axis": -1, "keepdims": True},
                                {"axis": (0, 1)}, {"b": np.array([0.5, 2.0, 1.0, 3.0])},
                                {"axis": 1, "b": np.array([[1.0], [0.25], [2.0]])}],
                         ids=str)
def test_logsumexp_dual_implementation(kw):
    a = np.array([[0.1, -1.2, 2.0, 0.3], [1.0, 1.5, -0.5, 0.0], [3.0, -2.0, 0.5, 1.0]])
    y = _core._logsumexp(seed(a), **kw)
    np.testing.assert_allclose(y.value, special.logsumexp(a, **kw), rtol=1e-15)
    np.testing.assert_allclose(np.ravel(y.tangent),
                               np.ravel(cs_jacobian(lambda v: _lse_ref(v, **kw), a)),
                               rtol=1e-13, atol=1e-15)


def test_logsumexp_dual_weights_and_sign():
    a = np.array([0.5, 1.0, -0.3])
    b = np.array([1.0, -3.0, 0.5])
    y, sgn = _core._logsumexp(Dual(a, np.zeros((3, 3))), b=seed(b), return_sign=True)
    v, s = special.logsumexp(a, b=b, return_sign=True)
    assert sgn == s and np.isclose(y.value, v, rtol=1e-15)
    # d/db_i log|sum b e^a| = e^a_i / sum b e^a
    np.testing.assert_allclose(y.tangent, np.exp(a) / np.sum(b * np.exp(a)), rtol=1e-14)


def test_polygamma01_helper_and_its_error():
    x = np.array([0.25, 1.4616321449683622, 7.5, -2.5])
    np.testing.assert_allclose(_core._polygamma01(0, x), special.digamma(x), rtol=1e-14)
    np.testing.assert_allclose(_core._polygamma01(1, x), special.polygamma(1, x),
                               rtol=1e-14)
    with pytest.raises(ValueError, match="n must be 0 or 1; got 2"):
        _core._polygamma01(2, x)


def test_kernels_in_threads_agree():
    """The rule kernels release the GIL on big inputs (gammaln uses glibc's lgamma_r,
    not lgamma's global signgam): threads give what one thread gives."""
    from concurrent.futures import ThreadPoolExecutor
    x = np.linspace(-9.75, 30.0, 40000)
    d = Dual(x, np.ones((x.size, 1)))
    ref = [special.gammaln(d), special.digamma(d)]
    with ThreadPoolExecutor(4) as ex:
        outs = list(ex.map(lambda i: (special.gammaln(d), special.digamma(d)), range(8)))
    for g, p in outs:
        np.testing.assert_array_equal(g.value, ref[0].value)
        np.testing.assert_array_equal(p.tangent, ref[1].tangent)


def test_dual_logsumexp_softmax_need_a_dual():
    with pytest.raises(TypeError, match="neither a nor b is a Dual"):
        _core._logsumexp(np.ones(2))
    with pytest.raises(TypeError, match="x is not a Dual"):
        _core._softmax(np.ones(2))
