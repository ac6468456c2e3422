# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Adaptive (extrapolated) and fixed higher-order finite differences: the driver.

csrc/extrap.c holds the Richardson tableau, the error estimates and the stopping
rule.  This module chooses each task's steps, evaluates f at a round's points
(one call per point; one call per block for a vectorized f; or on workers) and
collects the derivative, its error estimate and the evaluation count.

A task is one column of J (or one entry of a Hessian); every active task adds
one level per round, so a vectorized f gets all of a round's points at once.
"""

cimport numpy as cnp
from libc.math cimport fabs, ldexp, frexp
from libc.stdint cimport int64_t

import numpy as np

from ._fd import COMPLEX_OUTPUT, as_point, index_str, output_array, vector_points

cnp.import_array()

from ._csrc cimport *

# The sequence: LEVELS steps per sweep, each half the one before, from
# FIRST * max(1, |x_j|) (rounded down to a power of two, so that every step of the
# sequence is exact in x + h).  Entries at f's rounding floor whose first levels
# agreed sweep again from GROWTH times the step, up to MAX_GROWTH times: a linear
# term such as x_1 - 1e6 then comes out at the accuracy of f's values.  The
# constants were chosen on the Moré-Garbow-Hillstrom set and oscillatory test
# functions (benchmarks/adaptive.py, tests/test_adaptive.py).
cdef int LEVELS = 10
SWEEP_LEVELS = LEVELS     # for Python callers, with the stencils and flag bits
DIAG, CROSS = DFD_SQ_DIAG, DFD_SQ_CROSS
STARTED, TOL, FLOOR = DFD_SQ_STARTED, DFD_SQ_TOL, DFD_SQ_FLOOR
FIRST = 2.0 ** -7
GROWTH = 64.0
MAX_GROWTH = 3
# A trial point where f is not finite halves the step and restarts the sweep;
# after this many halvings the driver raises instead.
MAX_SHRINK = 30
# state doubles per block of tasks (32 MB)
BLOCK_DOUBLES = 1 << 22

# point offsets of each stencil, in units of the level's step, along (e_j, e_k)
cdef double OFFSETS[5][4][2]
OFFSETS[DFD_SQ_CENTRAL][0][:] = [1.0, 0.0]
OFFSETS[DFD_SQ_CENTRAL][1][:] = [-1.0, 0.0]
OFFSETS[DFD_SQ_FORWARD][0][:] = [1.0, 0.0]
OFFSETS[DFD_SQ_FORWARD][1][:] = [2.0, 0.0]
OFFSETS[DFD_SQ_BACKWARD][0][:] = [-1.0, 0.0]
OFFSETS[DFD_SQ_BACKWARD][1][:] = [-2.0, 0.0]
OFFSETS[DFD_SQ_DIAG][0][:] = [1.0, 0.0]
OFFSETS[DFD_SQ_DIAG][1][:] = [-1.0, 0.0]
OFFSETS[DFD_SQ_CROSS][0][:] = [1.0, 1.0]
OFFSETS[DFD_SQ_CROSS][1][:] = [1.0, -1.0]
OFFSETS[DFD_SQ_CROSS][2][:] = [-1.0, 1.0]
OFFSETS[DFD_SQ_CROSS][3][:] = [-1.0, -1.0]


cdef class Evaluator:
    """Calls f at x and at blocks of points, as float64 (m, K) arrays; counts
    evaluations (points) and calls."""
    cdef object f, args, kwargs
    cdef public object pool
    cdef bint vectorized, check_finite
    cdef public tuple xshape, fshape
    cdef public Py_ssize_t m, nfev, ncalls, chunk

    def __init__(self, f, tuple args, dict kwargs, tuple xshape, bint vectorized,
                 bint check_finite, Py_ssize_t chunk, pool):
        self.f, self.args, self.kwargs, self.pool = f, args, kwargs, pool
        self.vectorized, self.check_finite = vectorized, check_finite
        self.xshape, self.fshape, self.m = xshape, None, -1
        self.nfev = self.ncalls = 0
        n = 1
        for s in xshape:
            n *= s
        self.chunk = chunk or vector_points(n)

    cdef object call(self, point):
        self.ncalls += 1
        return self.f(point, *self.args, **self.kwargs)

    cdef cnp.ndarray numeric(self, r, tuple trailing):
        a = output_array(r, "fiubc")
        if a.dtype.kind == "c":
            raise TypeError(COMPLEX_OUTPUT)
        shape = a.shape[:len(a.shape) - len(trailing)]
        if a.shape[len(shape):] != trailing:
            raise ValueError(
                "vectorized=True: f must accept x with a trailing axis of k points and "
                f"return its values with the same trailing axis; it returned shape "
                f"{a.shape} for {trailing[0]} points")
        if self.fshape is None:
            self.fshape = shape
            self.m = int(np.prod(shape))
        elif shape != self.fshape:
            raise ValueError(f"f returned shape {shape} at one point and {self.fshape} "
                             "at another; its output shape must not depend on x")
        return np.ascontiguousarray(a, dtype=np.float64)

    def at_x(self, cnp.ndarray x):
        """(f(x) as f returned it, f(x) as a flat float64 array)."""
        if self.vectorized:
            # a vectorized f may insist on the trailing axis: give it one point
            r = self.call(x.copy()[..., None])
            a = self.numeric(r, (1,)).reshape(-1)
            r = a.reshape(self.fshape) if self.fshape else float(a[0])
        else:
            r = self.call(x.copy())
            a = self.numeric(r, ()).reshape(-1)
        self.nfev += 1
        if isinstance(r, np.ndarray):
            r = r.copy()
        if self.check_finite:
            bad = np.flatnonzero(~np.isfinite(a))
            if bad.size:
                raise ValueError(
                    f"f returned a non-finite value ({float(a[bad[0]])!r}) at "
                    f"f{index_str(int(bad[0]), self.fshape)} when evaluated at x; pass "
                    "check_finite=False to allow it")
        return r, np.ascontiguousarray(a)

    def values(self, cnp.ndarray X, name):
        """f at the K points X[:, k] (n, K): an (m, K) float64 array."""
        cdef Py_ssize_t K = X.shape[1], a, b
        self.nfev += K
        xs = self.xshape
        if self.pool is not None:
            R = self.pool.run(self.f, self.args, self.kwargs, X.reshape(xs + (K,)),
                              not self.vectorized, name)
            self.ncalls += K if not self.vectorized else 1
            return self.numeric(R, (K,)).reshape(self.m, K)
        if self.vectorized:
            F = np.empty((self.m, K))
            for a in range(0, K, self.chunk):
                b = min(K, a + self.chunk)
                r = self.call(np.ascontiguousarray(X[:, a:b]).reshape(xs + (b - a,)))
                F[:, a:b] = self.numeric(r, (b - a,)).reshape(self.m, b - a)
            return F
        cdef cnp.ndarray rows = np.ascontiguousarray(X.T)     # one point per row
        cdef cnp.ndarray out = np.empty((K, self.m))          # one value per row
        for a in range(K):
            r = self.call(rows[a].reshape(xs).copy())
            if (type(r) is np.ndarray and (<cnp.ndarray>r).dtype == np.float64
                    and (<object>r).shape == self.fshape):
                out[a] = r       # the common case, without output_array's checks
            else:
                out[a] = self.numeric(r, ()).reshape(-1)
        return out.T


def first_steps(cnp.ndarray x, step, lb, ub, bint allow_one_sided=True, bint along=False):
    """(h0, kind, xmag): each coordinate's first step and stencil for the
    sequence.  Raises ValueError where the bounds leave no room."""
    cdef Py_ssize_t n = x.size, j
    xarr = np.ascontiguousarray(x.reshape(-1), dtype=np.float64)
    cdef const double[::1] xf = xarr
    cdef const double[::1] sv = None if step is None else np.ascontiguousarray(step, dtype=np.float64)
    cdef const double[::1] lv = None if lb is None else np.ascontiguousarray(lb, dtype=np.float64)
    cdef const double[::1] uv = None if ub is None else np.ascontiguousarray(ub, dtype=np.float64)
    h0 = np.empty(n)
    kind = np.full(n, DFD_SQ_CENTRAL, dtype=np.intc)
    cdef double[::1] hv = h0
    cdef int[::1] kv = kind
    cdef int e
    cdef double s, h, lo = 0.0, hi = 0.0, xj
    for j in range(n):
        xj = xf[j]
        if sv is not None:
            h = sv[j]
        else:
            s = max(1.0, fabs(xj))
            frexp(FIRST * s, &e)
            h = ldexp(1.0, e - 1)       # the power of two at or below FIRST * s
        if xj + ldexp(h, 1 - LEVELS) == xj:
            raise ValueError(
                f"step{index_str(j, (<object>x).shape)} = {h!r} is too small for the "
                f"adaptive sequence at x{index_str(j, (<object>x).shape)} = {xj!r}: its "
                f"last step, step / 2**{LEVELS - 1}, must change x (or pass step=None)")
        if lv is None:
            hv[j] = h
            continue
        lo, hi = xj - lv[j], uv[j] - xj      # room on each side
        if lo < 0 or hi < 0:
            raise ValueError(f"x{index_str(j, (<object>x).shape)} = {xj!r} lies outside "
                             f"bounds [{lv[j]!r}, {uv[j]!r}]")
        while h > 0:
            if h <= lo and h <= hi:
                break
            if allow_one_sided and 2 * h <= hi:
                kv[j] = DFD_SQ_FORWARD
                break
            if allow_one_sided and 2 * h <= lo:
                kv[j] = DFD_SQ_BACKWARD
                break
            h *= 0.5
            if h < 1e-6 * max(1.0, fabs(xj)):
                h = 0.0
        if h == 0.0:
            where = (f"around x{index_str(j, (<object>x).shape)} = {xj!r}" if x.ndim
                     else "along v from x" if along else f"around x = {xj!r}")
            raise ValueError(
                f"bounds leave no room for the adaptive sequence {where} (room "
                f"{lo:.3g} below, {hi:.3g} above); widen the bounds "
                "or use a fixed method with a smaller step")
        hv[j] = h
    return h0, kind, np.abs(xarr)


cdef bint _fits(int kind, double h, double xj, double lo, double hi):
    """Whether the stencil's points at step h stay in [lo, hi]."""
    if kind == DFD_SQ_FORWARD:
        return xj + 2 * h <= hi
    if kind == DFD_SQ_BACKWARD:
        return xj - 2 * h >= lo
    return xj - h >= lo and xj + h <= hi


def sequence(Evaluator ev, cnp.ndarray x, const double[::1] f0, tasks, double rtol,
             double atol, lb=None, ub=None, describe=None):
    """Run the tasks' sequences.  tasks: (j, k, kind, h0, xmag) arrays (k < 0 for
    one-coordinate stencils).  Returns (best, err, flags), each (T, m)."""
    cdef Py_ssize_t n = x.size, m = ev.m, T = len(tasks[0]), nb, b0, b1
    cdef const int64_t[::1] tj = tasks[0]
    cdef const int64_t[::1] tk = tasks[1]
    cdef const int[::1] tkind = tasks[2]
    cdef const double[::1] th0 = tasks[3]
    cdef const double[::1] txmag = tasks[4]
    cdef int L = LEVELS
    best = np.zeros((T, m)); err = np.full((T, m), np.inf); rnd = np.zeros((T, m))
    flags = np.zeros((T, m), dtype=np.uint8)
    cdef double[:, ::1] vbest = best, verr = err, vrnd = rnd
    cdef unsigned char[:, ::1] vflags = flags
    xf = x.reshape(-1)
    cdef const double[::1] xv = xf
    cdef const double[::1] lov = lb.reshape(-1) if lb is not None else None
    cdef const double[::1] hiv = ub.reshape(-1) if ub is not None else None
    # a block's state (tableau rows, estimates) and a round's points (n doubles
    # each, up to 4 per task) both stay within BLOCK_DOUBLES
    nb = max(1, min(T, BLOCK_DOUBLES // max(1, m * (L + 8)), BLOCK_DOUBLES // max(1, 4 * n)))
    for b0 in range(0, T, nb):
        b1 = min(T, b0 + nb)
        _block(ev, xv, f0, tj, tk, tkind, th0, txmag, b0, b1, m, L, rtol, atol,
               vbest, verr, vrnd, vflags, lov, hiv, describe)
    return best, err, flags


cdef int _block(Evaluator ev, const double[::1] xv, const double[::1] f0,
                const int64_t[::1] tj, const int64_t[::1] tk, const int[::1] tkind,
                const double[::1] th0, const double[::1] txmag, Py_ssize_t b0,
                Py_ssize_t b1, Py_ssize_t m, int L, double rtol, double atol,
                double[:, ::1] vbest, double[:, ::1] verr, double[:, ::1] vrnd,
                unsigned char[:, ::1] vflags, const double[::1] lov,
                const double[::1] hiv, describe) except -1:
    cdef Py_ssize_t nt = b1 - b0, n = xv.shape[0], t, u, c, p, K, j, k, q
    cdef int kind
    rows = np.zeros((nt, m, L))
    sec = np.zeros((3, nt, m))            # a growth sweep's best, err, rnd
    secflags = np.zeros((nt, m), dtype=np.uint8)
    cdef double[:, :, ::1] vrow = rows
    cdef double[:, :, ::1] vsec = sec
    cdef unsigned char[:, ::1] vsf = secflags
    level = np.zeros(nt, dtype=np.intc)
    phase = np.zeros(nt, dtype=np.intc)
    shrink = np.zeros(nt, dtype=np.intc)
    hseq = np.array(th0[b0:b1])
    active = np.ones(nt, dtype=bool)
    cdef int[::1] vlevel = level, vphase = phase, vshrink = shrink
    cdef double[::1] vh = hseq
    cdef unsigned char[::1] vact = active.view(np.uint8)
    cdef double hk
    cdef double[:, ::1] vX
    cdef double[:, :] vF
    cdef ptrdiff_t fr, fc
    cdef size_t left
    cdef double *pb
    cdef double *pe
    cdef double *pr
    cdef unsigned char *pf
    cdef Py_ssize_t[::1] vact_idx
    cdef Py_ssize_t[::1] vcol
    cdef double[::1] vsteps
    cdef const unsigned char[::1] vok
    cdef Py_ssize_t a, na
    while active.any():
        act = np.flatnonzero(active)
        vact_idx = act
        na = act.shape[0]
        K = 0
        for a in range(na):
            K += dfd_seq_npoints[tkind[b0 + vact_idx[a]]]
        X = np.empty((n, K))
        X[...] = np.asarray(xv)[:, None]
        vX = X
        col = np.empty(nt, dtype=np.intp)
        steps = np.empty(nt)
        vcol = col
        vsteps = steps
        c = 0
        for a in range(na):
            u = vact_idx[a]
            t = b0 + u
            kind = tkind[t]
            j = tj[t]
            k = tk[t]
            hk = ldexp(vh[u], -vlevel[u])
            vcol[u] = c
            for p in range(dfd_seq_npoints[kind]):
                vX[j, c + p] = xv[j] + OFFSETS[kind][p][0] * hk
                if k >= 0:
                    vX[k, c + p] = xv[k] + OFFSETS[kind][p][1] * hk
            # the step as the points realize it (x + h is exact for most x)
            vsteps[u] = (vX[j, c] - xv[j]) / OFFSETS[kind][0][0]
            c += dfd_seq_npoints[kind]
        F = ev.values(X, _Namer(describe, X, act, col, steps) if ev.pool is not None else None)
        vF = F
        fr = vF.strides[0] // sizeof(double)
        fc = vF.strides[1] // sizeof(double)
        vok = _finite_columns(F)
        for a in range(na):
            u = vact_idx[a]
            t = b0 + u
            kind = tkind[t]
            c = vcol[u]
            q = dfd_seq_npoints[kind]
            if not _all(vok, c, q):
                _shrink(u, t, vh, vlevel, vphase, vshrink, vact, vflags, steps,
                        X, c, q, F, describe, ev)
                continue
            if vphase[u] == 0:
                pb, pe, pr, pf = &vbest[t, 0], &verr[t, 0], &vrnd[t, 0], &vflags[t, 0]
            else:
                pb, pe, pr, pf = &vsec[0, u, 0], &vsec[1, u, 0], &vsec[2, u, 0], &vsf[u, 0]
            with nogil:
                left = dfd_seq_level(m, L, kind, vlevel[u], vsteps[u], txmag[t],
                                     &vF[0, c], fr, fc, &f0[0], 1, rtol, atol,
                                     &vrow[u, 0, 0], pb, pe, pr, pf)
            vlevel[u] += 1
            if left == 0 or vlevel[u] == L:
                _end_sweep(u, t, m, vh, vlevel, vphase, vact, vbest, verr, vrnd, vflags,
                           vsec, vsf, tkind, xv, tj, tk, lov, hiv)
    return 0


cdef cnp.ndarray _finite_columns(F):
    """1 for each column of F whose entries are all finite (C's check, no temporaries
    beyond the result)."""
    cdef double[:, :] v = F
    cdef Py_ssize_t K = v.shape[1], m = v.shape[0], c
    out = np.empty(K, dtype=np.uint8)
    cdef unsigned char[::1] o = out
    for c in range(K):
        o[c] = dfd_first_nonfinite(m, &v[0, c], v.strides[0] // sizeof(double)) == <size_t>m
    return out


cdef inline bint _all(const unsigned char[::1] ok, Py_ssize_t c, Py_ssize_t q):
    cdef Py_ssize_t p
    for p in range(c, c + q):
        if not ok[p]:
            return False
    return True


cdef int _end_sweep(Py_ssize_t u, Py_ssize_t t, Py_ssize_t m, double[::1] vh,
                    int[::1] vlevel, int[::1] vphase, unsigned char[::1] vact,
                    double[:, ::1] vbest, double[:, ::1] verr, double[:, ::1] vrnd,
                    unsigned char[:, ::1] vflags, double[:, :, ::1] vsec,
                    unsigned char[:, ::1] vsf, const int[::1] tkind,
                    const double[::1] xv, const int64_t[::1] tj, const int64_t[::1] tk,
                    const double[::1] lov, const double[::1] hiv) except -1:
    """A sweep ended: merge a growth sweep, and decide whether to grow again."""
    cdef int taken = 1
    cdef double h
    cdef Py_ssize_t j = tj[t], k = tk[t]
    if vphase[u] > 0:
        taken = dfd_seq_merge(m, &vbest[t, 0], &verr[t, 0], &vrnd[t, 0], &vflags[t, 0],
                              &vsec[0, u, 0], &vsec[1, u, 0], &vsec[2, u, 0], &vsf[u, 0])
    h = vh[u] * GROWTH
    if (vphase[u] < MAX_GROWTH and taken > 0
            and (lov is None or (_fits(tkind[t], h, xv[j], lov[j], hiv[j]) and
                                 (k < 0 or _fits(tkind[t], h, xv[k], lov[k], hiv[k]))))
            and dfd_seq_growth_flags(m, &vflags[t, 0], &vsf[u, 0]) > 0):
        vphase[u] += 1
        vh[u] = h
        vlevel[u] = 0
        return 0
    vact[u] = 0
    return 0


cdef int _shrink(Py_ssize_t u, Py_ssize_t t, double[::1] vh, int[::1] vlevel,
                 int[::1] vphase, int[::1] vshrink, unsigned char[::1] vact,
                 unsigned char[:, ::1] vflags, steps, X, Py_ssize_t c, Py_ssize_t q,
                 F, describe, Evaluator ev) except -1:
    """f was not finite at a point of task t's level: a growth sweep stops there;
    the first sweep restarts from half that step, or raises after MAX_SHRINK."""
    cdef Py_ssize_t i
    if vphase[u] > 0:
        vact[u] = 0
        return 0
    vshrink[u] += 1
    if vshrink[u] > MAX_SHRINK:
        bad = np.argwhere(~np.isfinite(F[:, c:c + q]))[0]
        where = describe(X[:, c + bad[1]], steps[u]) if describe is not None else "a trial point"
        raise ValueError(
            f"f returned a non-finite value ({float(F[bad[0], c + bad[1]])!r}) at "
            f"f{index_str(int(bad[0]), ev.fshape)} when evaluated at {where}, and at "
            f"every step down to {steps[u]:.3g}: f is not finite arbitrarily close to x "
            "along this direction, so no finite difference exists there")
    vh[u] = ldexp(vh[u], -vlevel[u] - 1)
    vlevel[u] = 0
    for i in range(vflags.shape[1]):
        vflags[t, i] = 0
    return 0


class _Namer:
    """Names point k of a round in errors from workers."""

    def __init__(self, describe, X, act, col, steps):
        self.describe, self.X, self.col, self.act = describe, X, col, act
        self.steps = steps

    def __call__(self, k):
        if self.describe is None:
            return "a trial point"
        u = self.act[np.searchsorted(self.col[self.act], k, side="right") - 1]
        return self.describe(self.X[:, k], self.steps[u])


def fixed_weights(int order, int kind):
    """(offsets, weights, w0) of the central stencil of `order` (kind 0), or the
    one-sided one of the same order (kind 1 forward, 2 backward), for the first
    derivative with step 1; w0 weighs f(x)."""
    if kind == 0:
        offs = [float(s * i) for i in range(1, order // 2 + 1) for s in (1, -1)]
        return np.array(offs), weights(offs), 0.0
    sign = 1.0 if kind == 1 else -1.0
    offs = [sign * i for i in range(1, order + 1)]
    w = weights([0.0] + offs)
    return np.array(offs), w[1:], float(w[0])


def stencil_columns(const double[:, ::1] F, Py_ssize_t c0, int npts, wts, double w0,
                    const double[::1] f0, double h, double[:, ::1] J, Py_ssize_t j):
    """J[:, j] from the npts values F[:, c0:c0+npts] of a fixed stencil with
    weights wts (and w0 on f(x))."""
    cdef const double[::1] w = wts
    dfd_fd_stencil_column(F.shape[0], npts, &w[0], w0, &F[0, c0], F.shape[1], 1,
                          &f0[0] if w0 != 0.0 else NULL, 1, h, &J[0, j], J.shape[1])


def weights(offsets):
    """Fornberg's weights of the first derivative at 0 from values at `offsets`
    (in units of the step; at most 16, distinct)."""
    cdef double o[16]
    cdef double w[16]
    cdef int p, k = len(offsets)
    if k > 16:
        raise ValueError("at most 16 offsets")
    for p in range(k):
        o[p] = offsets[p]
    if dfd_fd_weights(k, o, w) != 0:
        raise ValueError("offsets must be distinct")
    return np.array([w[p] for p in range(k)])
