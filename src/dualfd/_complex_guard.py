"""The guard of method='complex': non-analytic f raises instead of a wrong answer.

The complex step ``Im f(x + ih e_j) / h`` is the derivative only when f is
complex-analytic along the path NumPy takes (Squire & Trapp, SIAM Review 40,
1998).  ``abs``, ``sign``, ``.real``, ``np.real_if_close``, a norm, or storing a
complex value into a float array drop or corrupt the imaginary part, and the
result is wrong with no error; comparisons and ``maximum`` on complex numbers
order by the real part and then by the imaginary part, so at a kink (a tie) they
return one one-sided derivative.

The check, after each complex-step Jacobian: one directional derivative ``J @ w``
against a real-step central difference of f along w (2 calls of f, 1 call in
vectorized mode; 3 calls, or 1, for the one-sided stencil used when x is
within a step of a bound).  w is a fixed dense vector with varied magnitudes
and signs, scaled like the columns' steps (``max(1, |x_j|)``), so that errors
in different columns do not cancel.  Tolerance: RTOL of the row's scale
``sum_j |J_ij w_j|`` plus rounding ``NOISE * eps * |f| / t``.  Only when that
fails (the failure path; its calls are not counted above):

1. the same stencil at step 2t: the change is a Richardson estimate of the
   real difference's truncation error, which widens the tolerance;
2. a disagreement must persist at steps 1000 times shorter and longer (a
   kink within one step of x, or rounding hidden inside f, go away at one of
   them; non-analytic code errs at every step);
3. every column is compared with central differences (``2 n`` to ``4 n``
   calls) and `NonAnalyticError` names the columns that disagree.  If none
   does, the partial derivatives are right and J is returned.

Where f is not finite at the real points (x at the edge of f's domain) the
check goes one-sided or shorter, and is skipped when no real point near x has
finite values: the complex step is then unverified, as it was before.

Why not turn NumPy's ``ComplexWarning`` into an error during the calls of f:
``warnings.catch_warnings`` swaps the process-wide filter list, which is not
thread-safe (two threads can leave the "error" filter installed for good), and
a dropped imaginary part already fails the check.  The warning is used to
explain a failure: the message quotes it, with f's file and line, when a call
at a suspect column emits one.
"""

from __future__ import annotations

import functools
import math
import threading
import warnings

import numpy as np

__all__ = ["NonAnalyticError", "check_jacobian", "check_jvp"]

EPS = np.finfo(np.float64).eps
# The real-step length along w, relative to max(1, |x_j|): central differences'
# rule eps**(1/3) (Nocedal & Wright, sec. 8.1), so truncation ~ eps**(2/3).
RSTEP = EPS ** (1.0 / 3.0)
# A disagreement above RTOL times the row's scale (sum_j |J_ij w_j|) plus the
# estimated error of the real difference is an alarm.  Non-analytic code errs
# by O(1) relative to the columns it touches; central differences on the
# More-Garbow-Hillstrom problems err by < 1e-8 of the row's scale (measured by
# benchmarks/complex_guard.py), and the Richardson estimate covers the rest.
RTOL = 1e-6
# Safety factor on the estimated rounding (eps |f| / step per value) and
# truncation errors, as in dualfd._check.
NOISE = 10.0
# False only in benchmarks/complex_guard.py, to time the complex step without its
# guard; not an option: an unchecked complex step can be silently wrong.
ENABLED = True
# Largest number of columns a message lists.
_SHOW = 8

_ADVICE = "Use method='dual' or method='central' for this f"
_CAUSES = ("np.abs, np.sign, norms, .real, np.real_if_close and storing into a "
           "float array drop the imaginary part the complex step carries; "
           "comparisons, branches and maximum/minimum take one side at a kink; "
           "some complex functions lose accuracy (np.expm1 near 0)")

# stencils: (offsets in steps, weights); sum(w) = 0 and sum(w * o) = 1, second order
_CENTRAL = ((1.0, -1.0), (0.5, -0.5))
_FORWARD = ((0.0, 1.0, 2.0), (-1.5, 2.0, -0.5))


class NonAnalyticError(ValueError):
    """method='complex' cannot differentiate f at x: its complex step disagrees
    with real differences (f is not complex-analytic there, or loses accuracy
    in complex arithmetic).  A ValueError, as dualfd raises for other values
    it cannot differentiate; f's type is fine, its values are not."""


@functools.lru_cache(maxsize=64)
def _direction(n):
    """The fixed check direction before scaling: magnitudes in [0.5, 1.5) from
    the golden-ratio sequence (all distinct), signs from the sqrt(2) sequence."""
    j = np.arange(1, n + 1, dtype=np.float64)
    mag = 0.5 + np.modf(j * 0.6180339887498949)[0]
    sign = np.where(np.modf(j * 0.41421356237309515)[0] < 0.5, 1.0, -1.0)
    v = sign * mag
    v.setflags(write=False)
    return v


class _RealCalls:
    """Calls f at real points x + o * w along one direction and converts the
    values to float64 rows of m entries; caches them by the offset o."""

    def __init__(self, f, x, args, kwargs, fshape, vectorized, lb, ub):
        self.f, self.args, self.kwargs = f, args, kwargs
        self.x = x.reshape(-1)
        self.xshape = x.shape
        self.fshape = fshape
        self.m = math.prod(fshape)
        self.vectorized = vectorized
        self.lb = None if lb is None else lb.reshape(-1)
        self.ub = None if ub is None else ub.reshape(-1)
        self.w = None
        self.cache = {}
        self.d = self.d0 = self.v0 = None   # jvp: complex-step derivatives along w, v0
        self.k = 1.0
        self.last = None   # (misfit, tolerance) of the last test, for messages

    def along(self, w):
        if w is not self.w:
            self.w = w
            self.cache = {}
            if self.d0 is not None:
                # jvp: w is v0 shortened or reversed, the derivative along it alike
                self.k = float(w @ self.v0) / float(self.v0 @ self.v0)
                self.d = self.k * self.d0

    def jvp(self, v0, d0):
        """Compare with d0, the complex-step derivative along v0, instead of J."""
        self.v0, self.d0, self.w = v0, d0.reshape(-1), None

    def point(self, o):
        p = self.x + o * self.w
        if self.lb is not None:
            # rounding in x + o w must not step outside: f is never evaluated there
            p = np.minimum(np.maximum(p, self.lb), self.ub)
        return p

    def values(self, offsets):
        """(f rows, points) at x + o w for each o; None when a value is not finite."""
        todo = [o for o in offsets if o not in self.cache]
        if todo:
            with np.errstate(all="ignore"):   # f's warnings at dualfd's probe points
                self._evaluate(todo)
        got = [self.cache[o] for o in offsets]
        if any(r is None for r, _ in got):
            return None
        return [r for r, _ in got], [p for _, p in got]

    def _evaluate(self, todo):
        points = [self.point(o) for o in todo]
        if self.vectorized:
            X = np.stack(points, axis=-1).reshape(self.xshape + (len(todo),))
            F = self._real(self.f(X, *self.args, **self.kwargs),
                           self.fshape + (len(todo),))
            rows = list(F.reshape(self.m, len(todo)).T)
        else:
            rows = [self._real(self.f(p.reshape(self.xshape), *self.args,
                                      **self.kwargs), self.fshape).reshape(-1)
                    for p in points]
        for o, p, r in zip(todo, points, rows):
            self.cache[o] = (r if np.all(np.isfinite(r)) else None, p)

    def _real(self, r, shape):
        try:
            a = np.asarray(r)
        except Exception as e:
            raise TypeError(f"f must return numbers; got {type(r).__name__}") from e
        if a.dtype.kind == "c":
            if np.any(a.imag != 0):
                raise TypeError(
                    "method='complex' needs f real-valued for a real x, but f "
                    "returned complex values with a nonzero imaginary part for a "
                    "real x (near x, where dualfd checks the complex step); the "
                    "complex step would add that part to the derivative. "
                    + _ADVICE)
            a = a.real
        elif a.dtype.kind not in "fiub":
            raise TypeError(f"f must return numbers; got an array of dtype {a.dtype}")
        if a.shape != shape:
            if self.vectorized:
                raise ValueError(
                    f"vectorized=True: f must return f_shape + (k,) = {shape} for "
                    f"{shape[-1]} points; it returned shape {a.shape}")
            raise ValueError(f"f returned shape {a.shape} at one point and "
                             f"{shape} at another; its output shape must not "
                             "depend on x")
        # a copy: f may return the same buffer at its next call
        return np.array(a, dtype=np.float64)


def _misfit(calls, J, stencil, s):
    """Real-step minus complex-step derivative along calls.w at step s, per row,
    with the row's scale, rounding bounds and real-step derivative: (r, scale,
    rounding, own, d_real), or None when f is not finite at a point; `own`
    counts row i's values only (see _magnitude).  J is (m, n),
    or None with calls.d set (jvp)."""
    offsets, weights = stencil
    got = calls.values(tuple(o * s for o in offsets))
    if got is None:
        return None
    rows, points = got
    d_real = sum(c * r for c, r in zip(weights, rows)) / s
    size = sum(abs(c) * np.abs(r) for c, r in zip(weights, rows))
    own = NOISE * EPS * size / s
    rounding = NOISE * EPS * _magnitude(rows, weights) / s
    if J is None:
        d_cplx = calls.d
        scale = np.maximum(np.abs(d_cplx), np.abs(d_real))
    else:
        # the actual steps (x + o s w is rounded), so point rounding is no error
        delta = sum(c * (p - calls.x) for c, p in zip(weights, points)) / s
        d_cplx = J @ delta
        scale = np.maximum(abs(J) @ np.abs(delta), np.abs(d_real))
    return d_real - d_cplx, scale, rounding, own, d_real


def _magnitude(rows, weights):
    """What rounding in f can do to sum(c * f(p)), per row: the weighted |f|,
    but at least the largest |f| of any row.  f_i ~ 0 computed from O(|f|)
    intermediates is off by ~eps |f|, not eps |f_i| (np.linalg.solve(A, A)
    gives 1e-17 for its zeros)."""
    size = sum(abs(c) * np.abs(r) for c, r in zip(weights, rows))
    top = max(float(np.max(np.abs(r), initial=0.0)) for r in rows)
    return np.maximum(size, top) if np.isfinite(top) else size


def _agrees(calls, J, stencil, t):
    """Whether the complex-step derivative along calls.w agrees with the real
    stencil at step t: True, False, or None when the real differences cannot
    tell (f not finite at a point, or t too long for f's curvature).

    The first test allows RTOL of the row's scale plus rounding.  Only when it
    fails, the stencil at 2t: r(t) ~ E + C t**2 for a non-analytic error E
    and truncation C t**2, so r(2t) - r(t) ~ 3 C t**2 estimates the truncation
    and leaves E alone (Richardson).  A disagreement counts only in rows where
    the real derivative settled (changed by < 1% from t to 2t): otherwise the
    step is outside the range where the expansion holds (log(x) at x ~ 1e-9
    with t ~ 1e-5) and a shorter one must decide."""
    got = _misfit(calls, J, stencil, t)
    if got is None:
        return None
    r, scale, rounding, own, d_real = got
    with np.errstate(invalid="ignore"):
        tol = RTOL * scale + rounding
        calls.last = (r, tol)
        # rows with a non-finite derivative (check_finite=False) cannot be judged
        if not np.any(np.abs(r) > tol):
            return True
    wide = _misfit(calls, J, stencil, 2 * t)
    if wide is None:
        return None
    with np.errstate(invalid="ignore"):
        change = np.abs(wide[0] - r)
        # own rounding only: a large row's rounding says nothing about this one's
        settled = change <= 0.01 * np.abs(d_real) + own
        tol = tol + NOISE * change / 3.0
        calls.last = (r, tol)
        bad = np.abs(r) > tol
    if not np.any(bad):
        return True
    return False if np.any(bad & settled) else None


def _one_sided(x, w, reach, lb, ub):
    """w with each component turned or shortened so that x + reach * w stays
    within [lb, ub]: the component's own sign if it fits, else the opposite,
    else toward the larger room, as far as fits (0 where lb == ub)."""
    up, down = ub - x, x - lb
    a = reach * np.abs(w)
    ahead = np.where(w >= 0, up, down)
    behind = np.where(w >= 0, down, up)
    return np.where(a <= ahead, w, np.where(a <= behind, -w,
                    np.where(up >= down, up, -down) / reach))


def _plans(x, w, t, lb, ub, turn):
    """Directions and stencils in order of preference: central along w, then
    one-sided ones that keep every point (retry at 2t included) inside the
    bounds.  turn: components may be turned (a Jacobian's w is ours); else w
    is fixed (a jvp's v) and only its length may shrink."""
    if lb is None:
        yield w, _CENTRAL
        yield w, _FORWARD
        yield -w, _FORWARD
        return
    up, down = ub - x, x - lb
    if np.all(2 * t * np.abs(w) <= np.minimum(up, down)):
        yield w, _CENTRAL
    for sgn in (1.0, -1.0):
        u = sgn * w
        if turn:
            yield _one_sided(x, u, 4 * t, lb, ub), _FORWARD
        else:
            ahead = np.where(u >= 0, up, down)
            with np.errstate(divide="ignore", invalid="ignore"):
                room = np.min(np.where(u != 0, ahead / (4 * t * np.abs(u)), np.inf),
                              initial=np.inf)
            if room >= 1e-3:   # shorter steps than that: rounding would swamp the check
                yield sgn * min(1.0, room) * w, _FORWARD


# Step scales tried in turn: shorter steps only when f is not finite nearby or
# the real differences did not settle; at 1e-6 the rounding bound is still
# ~1e-5 |f| / (|f'| max(1, |x|)), small next to what non-analytic code does.
_SCALES = (1.0, 1e-3, 1e-6)


def _verify(calls, J, x, w, t, lb, ub, turn):
    """True: agrees; False: disagrees; None: the real differences cannot tell
    at any step (x at the edge of f's domain, or f wildly curved there).

    A disagreement at step t stands only if it persists at steps 1000 times
    shorter and 1000 times longer: a complex step of length 1e-20 sees
    neither f's shape within t of x (a kink at distance < t, as
    np.maximum(x, 0) at x = 1e-7: the shorter step agrees) nor rounding that
    f's values do not show (``(x + 1e8) - 1e8`` is a staircase of 1.5e-8
    steps: the longer step agrees).  Non-analytic code errs alike at every
    step."""
    for scale in _SCALES:
        for u, stencil in _plans(x, w, scale * t, lb, ub, turn):
            calls.along(u)
            ok = _agrees(calls, J, stencil, scale * t)
            if ok is None:
                continue
            if ok is False:
                last = calls.last
                short = _agrees(calls, J, stencil, 1e-3 * scale * t)
                if short is not False:
                    return short   # True: a kink within t; None: cannot tell
                if _longer_agrees(calls, J, x, w, 1e3 * scale * t, lb, ub, turn):
                    return True
                calls.along(u)
                calls.last = last
            return ok
    return None


def _longer_agrees(calls, J, x, w, t, lb, ub, turn):
    """Whether the first plan that can tell at step t (within the bounds) agrees."""
    for u, stencil in _plans(x, w, t, lb, ub, turn):
        calls.along(u)
        ok = _agrees(calls, J, stencil, t)
        if ok is not None:
            return ok
    return False


def check_jacobian(f, x, args, kwargs, J, fshape, lb, ub, vectorized, seed=None):
    """Raise NonAnalyticError unless the complex-step Jacobian J (shape
    fshape + x.shape) of f at x agrees with real differences along one
    direction; x, lb, ub are C-contiguous float64 (lb, ub None or x's size).
    seed: the values of the first test (dualfd._fd._guard_central, the common
    case in C), which failed, as a _RealCalls cache."""
    n = x.size
    if n == 0 or J.size == 0:
        return
    Jm = J.reshape(J.size // n, n)
    if not _disagrees(f, x, args, kwargs, Jm, fshape, lb, ub, vectorized, seed):
        return
    _locate_and_raise(f, x, args, kwargs, Jm, fshape, lb, ub, vectorized)


def _disagrees(f, x, args, kwargs, J, fshape, lb, ub, vectorized, seed=None):
    """Whether J (an (m, n) array, or anything with J @ v and abs(J)) disagrees
    with the real differences of f along the guard's direction w."""
    xf = x.reshape(-1)
    w = _direction(x.size) * np.maximum(1.0, np.abs(xf))
    calls = _RealCalls(f, x, args, kwargs, fshape, vectorized, lb, ub)
    calls.along(w)
    if seed is not None:
        calls.cache = seed
    lbf = None if lb is None else lb.reshape(-1)
    ubf = None if ub is None else ub.reshape(-1)
    return _verify(calls, J, xf, w, RSTEP, lbf, ubf, True) is False


class _SparseRows:
    """A sparse J as the guard reads it: J @ v and abs(J), from COO entries."""

    def __init__(self, rows, cols, data, m):
        self.rows, self.cols, self.data, self.m = rows, cols, data, m

    def __matmul__(self, v):
        return np.bincount(self.rows, weights=self.data * v[self.cols],
                           minlength=self.m)

    def __abs__(self):
        return _SparseRows(self.rows, self.cols, np.abs(self.data), self.m)


# Above this many entries a sparse J is not densified to locate the failing columns.
_LOCATE_MAX = 10**7


def check_sparse(f, x, args, kwargs, rows, cols, data, fshape, lb, ub, vectorized):
    """check_jacobian for a compressed (sparse) complex-step Jacobian given by its
    entries (rows, cols, data): the same test along one direction; the failure
    path locates the columns on a dense copy where one fits in memory."""
    n, m = x.size, math.prod(fshape)
    if n == 0 or m == 0:
        return
    J = _SparseRows(rows, cols, data, m)
    if not _disagrees(f, x, args, kwargs, J, fshape, lb, ub, vectorized):
        return
    if m * n <= _LOCATE_MAX:
        Jm = np.zeros((m, n))
        Jm[rows, cols] = data
        _locate_and_raise(f, x, args, kwargs, Jm, fshape, lb, ub, vectorized)
        return
    raise NonAnalyticError(
        "method='complex': the complex step disagrees with real differences along a "
        f"direction through all {n} columns; f is not analytic at x (too large a "
        "Jacobian to locate the columns). " + _ADVICE)


def _as_real(r, shape, vectorized):
    """f's value at a real point as a float64 copy of the given shape, with the
    checks and messages of _RealCalls._real.  (The first test itself, central
    along w without bounds, runs in C: dualfd._fd._guard_central, which reads
    the common cases itself and hands its values on as `seed`.)"""
    probe = _RealCalls.__new__(_RealCalls)
    probe.vectorized = vectorized
    return probe._real(r, shape)


def check_jvp(f, x, v, args, kwargs, d, step, lb, ub):
    """Raise NonAnalyticError unless d, the complex-step J @ v of f at x
    (taken at x + i * step), agrees with a real-step difference along v.

    With bounds that leave no room along v or -v, the check takes a direction
    u near v that stays inside (components turned or shortened, as for a
    Jacobian) and one more complex step along u, for J @ u."""
    if x.size == 0 or np.size(d) == 0:
        return
    d = np.asarray(d, dtype=np.float64)
    calls = _RealCalls(f, x, args, kwargs, d.shape, False, lb, ub)
    xf, vf = x.reshape(-1), v.reshape(-1)
    lbf = None if lb is None else lb.reshape(-1)
    ubf = None if ub is None else ub.reshape(-1)
    # the central rule's step along v, as jvp(method='central') takes it
    vmax = float(np.max(np.abs(vf)))
    tr = RSTEP * max(1.0, float(np.max(np.abs(xf)))) / vmax
    calls.jvp(vf, d)
    ok = _verify(calls, None, xf, vf, tr, lbf, ubf, False)
    if ok is False:
        _raise_along(calls, f, x, args, kwargs, "v", x + 1j * step)
    if ok is True or lb is None:
        return   # None: f not finite, or wildly curved, at every real point tried
    u = _one_sided(xf, vf, 4 * tr, lbf, ubf)
    umax = float(np.max(np.abs(u)))
    if umax == 0.0:
        return
    h = 1e-20 / umax
    z = x + 1j * h * u.reshape(x.shape)
    du = np.asarray(f(z, *args, **kwargs))
    if du.dtype.kind != "c" or du.shape != d.shape:
        return   # f went through at x + i step v: leave an inconsistent f to itself
    calls.jvp(u, du.imag / h)
    if _verify(calls, None, xf, u, tr, lbf, ubf, False) is False:
        _raise_along(calls, f, x, args, kwargs, "a direction near v within the bounds", z)


def _raise_along(calls, f, x, args, kwargs, where, z):
    """NonAnalyticError for a jvp, naming the output row that disagrees most
    (rates along calls.w, as both sides measured them)."""
    r, tol = calls.last
    with np.errstate(invalid="ignore", divide="ignore"):
        i = int(np.nanargmax(np.abs(r) / np.where(tol > 0, tol, 1.0)))
    # rates along v (calls.w is k v)
    dc, dr = float(calls.d[i]) / calls.k, (float(calls.d[i]) + float(r[i])) / calls.k
    raise NonAnalyticError(
        f"method='complex' cannot differentiate f at x along {where}: its complex "
        f"step disagrees with real differences: f{_index(i, calls.fshape)} changes "
        f"at the rate {dc:.6g} by the complex step but {dr:.6g} by "
        f"real differences. f is not complex-analytic there: {_CAUSES}. "
        + _warning_note(f, z, args, kwargs) + _ADVICE)


def _locate_and_raise(f, x, args, kwargs, Jm, fshape, lb, ub, vectorized):
    """The failure path: compare every column with central differences and
    raise naming those that disagree; return if none does (then the partial
    derivatives are right and f is only not differentiable as a whole).

    Steps: the central rule's ``eps**(1/3) * max(1, |x_j|)``, and for a column
    that disagrees with 0 < |x_j| < 1 also ``eps**(1/3) * |x_j|``: at x_j =
    1e-89 an absolute step of 6e-6 sees nothing of log(x_j**2); agreement at
    either step clears a column."""
    from ._fd import METHODS, fd_jacobian, index_str
    n = x.size
    m = Jm.shape[0]
    g = f if not args and not kwargs else _bind(f, args, kwargs)
    ax = np.abs(x.reshape(-1))

    def compare(h):
        """(bad entries, columns not finite, err, tol, Jr) at steps h, or None
        when no stencil fits between the bounds."""
        try:
            value, Jr, _ = fd_jacobian(g, x, (), {}, METHODS["central"],
                                       np.ascontiguousarray(h), lb, ub, vectorized,
                                       False, True, "central")
        except ValueError:
            return None
        f0 = np.asarray(value, dtype=np.float64).reshape(m)
        Jr = np.asarray(Jr, dtype=np.float64).reshape(m, n)
        with np.errstate(invalid="ignore", divide="ignore"):
            err = np.abs(Jm - Jr)
            row = np.max(np.maximum(np.abs(Jm), np.abs(Jr)), axis=1, keepdims=True)
            tol = (RTOL * row + NOISE * EPS * _magnitude((f0,), (1.0,))[:, None]
                   / h.reshape(1, n))
            bad = err > tol
            if np.any(bad):
                wide = compare_wide(h)
                if wide is not None:
                    tol = tol + NOISE * np.abs(wide - Jr) / 3.0
                    bad = err > tol
        return bad, ~np.all(np.isfinite(Jr), axis=0), err, tol, Jr

    def compare_wide(h):
        try:
            return np.asarray(fd_jacobian(g, x, (), {}, METHODS["central"],
                                          np.ascontiguousarray(2 * h), lb, ub,
                                          vectorized, False, False, "central")[1],
                              dtype=np.float64).reshape(m, n)
        except ValueError:   # 2h does not fit within the bounds: rounding only
            return None

    got = compare(RSTEP * np.maximum(1.0, ax))
    entry = None
    if got is None:
        suspects = np.arange(n)   # cannot locate: every column is suspect
    else:
        bad, unknown, err, tol, Jr = got
        cols = np.any(bad, axis=0)
        small = cols & (ax > 0) & (ax < 1)
        if np.any(small):
            rel = compare(RSTEP * np.where(small, ax, np.maximum(1.0, ax)))
            if rel is not None:
                cleared = small & ~np.any(rel[0], axis=0) & ~rel[1]
                cols &= ~cleared
                bad &= ~cleared[None, :]
        suspects = np.flatnonzero(cols)
        if suspects.size == 0:
            # where real differences are not finite the column cannot be checked
            suspects = np.flatnonzero(unknown)
            if suspects.size == 0:
                return
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                ratio = np.where(bad, err / np.where(tol > 0, tol, 1.0), 0.0)
            i, j = np.unravel_index(int(np.nanargmax(ratio)), ratio.shape)
            entry = (int(i), int(j))
    xshape = x.shape
    names = ", ".join(f"x{index_str(int(j), xshape)}" for j in suspects[:_SHOW])
    if suspects.size > _SHOW:
        names += f" and {suspects.size - _SHOW} more"
    if xshape:
        names = ("column " if suspects.size == 1 else "columns ") + names
    example = ""
    if entry is not None:
        i, j = entry
        example = (f": d f{index_str(i, fshape)} / d x{index_str(j, xshape)} is "
                   f"{float(Jm[i, j]):.6g} by the complex step but "
                   f"{float(Jr[i, j]):.6g} by central differences")
    j0 = int(suspects[0])
    xc = x.astype(np.complex128)
    xc.reshape(-1)[j0] += 1e-20j
    note = _warning_note(f, xc[..., None] if vectorized else xc, args, kwargs)
    raise NonAnalyticError(
        "method='complex' cannot differentiate f at x: its complex step disagrees "
        f"with real differences in {names}{example}. f is not complex-analytic "
        f"there: {_CAUSES}. {note}{_ADVICE}")


def _index(flat, shape):
    from ._fd import index_str
    return index_str(flat, shape)


def _bind(f, args, kwargs):
    return lambda x: f(x, *args, **kwargs)


# catch_warnings swaps the process-wide filter list: two threads inside it at
# once can leave one's filter installed for good.  dualfd's own calls take
# turns (the failure path only); other code's catch_warnings cannot be helped.
_WARNINGS_LOCK = threading.Lock()


def _warning_note(f, z, args, kwargs):
    """Whether f, called at complex z, discards imaginary parts with NumPy's
    ComplexWarning: a sentence quoting it and where, or ''.  Only on the
    failure path (catch_warnings is not thread-safe)."""
    with _WARNINGS_LOCK, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", np.exceptions.ComplexWarning)
        try:
            f(z, *args, **kwargs)
        except Exception:   # f's own error is not the subject here
            return ""
    for w in caught:
        if issubclass(w.category, np.exceptions.ComplexWarning):
            return (f"NumPy warned \"{w.message}\" at {w.filename}:{w.lineno}: f "
                    "stores complex values into a real array there (buf[:] = x, "
                    "np.asarray(x, float), float(x[i])). ")
    return ""
