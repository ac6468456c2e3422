"""method='adaptive' and the fixed higher-order stencils (order=4, 6, 8).

'adaptive' runs, per column of J, Ridders' sequence of central differences with
steps halving from 2**-7 * max(1, |x_j|) and a Richardson tableau over it
(csrc/extrap.c), until the error estimate meets ``atol + rtol * scale`` (scale:
the column's largest entry) or reaches f's rounding floor.  Each entry carries
its error estimate; `AdaptiveInfo` returns them with the evaluation count.
"""

from __future__ import annotations

import numpy as np

# _api imports this module at its end, once _Transformed exists
from . import _adaptive, _api
from ._fd import as_point, check_finite_x, index_str, vector_points

__all__ = ["AdaptiveInfo", "AccuracyError"]

_EPS = np.finfo(float).eps


class AdaptiveInfo:
    """What ``full_output=True`` returns beside the derivative.

    Attributes
    ----------
    error : ndarray or float
        An estimate of the absolute error of each entry, shaped like the
        derivative: the Richardson tableau's last correction plus f's rounding
        over the step.  It is conservative: on the test set it bounds the true
        error in over 99% of entries and is rarely more than 10x below it.
    converged : ndarray of bool
        Entries whose estimate met ``atol + rtol * scale`` (scale: the largest
        entry in the same row or column of J), or that reached f's rounding
        floor, where no step does better.
    nfev : int
        Points at which f was evaluated, f(x) included.
    ncalls : int
        Calls of f (fewer than nfev for a vectorized f).
    """

    __slots__ = ("error", "converged", "nfev", "ncalls")

    def __init__(self, error, converged, nfev, ncalls):
        self.error = error
        self.converged = converged
        self.nfev = nfev
        self.ncalls = ncalls

    def __repr__(self):
        err = np.max(self.error) if np.size(self.error) else 0.0
        ok = bool(np.all(self.converged))
        return (f"AdaptiveInfo(max error {float(err):.3g}, converged={ok}, "
                f"nfev={self.nfev}, ncalls={self.ncalls})")


class AccuracyError(ArithmeticError):
    """method='adaptive' could not bring some entry within rtol/atol.

    ``result`` holds what the transform would have returned and ``info`` its
    `AdaptiveInfo`, for a caller that accepts them as they are."""

    def __init__(self, message, result, info):
        super().__init__(message)
        self.result = result
        self.info = info


def _describe(point, h):
    """How errors name a trial point of the sequence."""
    return f"a trial point at step {h:.3g} from x"


def adaptive_jacobian(f, x0, args, kwargs, opts, lb, ub, step, xmag=None, along=False):
    """(value, J, fshape, info) by the adaptive sequence; J is (m, n).  xmag
    replaces |x| in the rounding estimate (a jvp's line has t = 0)."""
    ev, value, f0 = _start(f, x0, args, kwargs, opts)
    n = x0.size
    h0, kind, absx = _adaptive.first_steps(
        x0, None if step is None else step.reshape(-1),
        None if lb is None else lb.reshape(-1), None if ub is None else ub.reshape(-1),
        True, along)
    xmag = absx if xmag is None else xmag
    tasks = (np.arange(n, dtype=np.int64), np.full(n, -1, dtype=np.int64), kind, h0, xmag)
    best, err, flags = _adaptive.sequence(ev, x0, f0, tasks, opts.rtol, opts.atol,
                                               lb, ub, _describe)
    J, E = best.T.copy(), err.T.copy()
    ok = _converged(J, E, flags.T, opts.rtol, opts.atol)
    return value, J, ev.fshape, AdaptiveInfo(E, ok, ev.nfev, ev.ncalls)


def _start(f, x0, args, kwargs, opts):
    """(evaluator, f(x) as f returned it, f(x) flat): the first call of f."""
    ev = _adaptive.Evaluator(f, args, kwargs, x0.shape, opts.vectorized,
                             opts.check_finite, getattr(opts, "chunk", None) or 0,
                             opts.workers)
    if opts.check_finite:
        check_finite_x(x0)
    value, f0 = ev.at_x(x0)
    return ev, value, f0


def _converged(J, E, flags, rtol, atol):
    """Entries within tolerance of the largest entry of their row or column (the
    stopping rule used the column alone), or stopped at f's rounding floor."""
    ok = (flags & (_adaptive.TOL | _adaptive.FLOOR)) != 0
    if ok.all():   # the common case: the stopping rule settled every entry
        return ok
    A = np.abs(J)
    scale = np.maximum(A, np.maximum(A.max(axis=0, initial=0.0)[None, :],
                                     A.max(axis=1, initial=0.0)[:, None]))
    return (ok | (E <= atol + rtol * scale)) & ((flags & _adaptive.STARTED) != 0)


def stencil_jacobian(f, x0, args, kwargs, opts, lb, ub, step):
    """(value, J, fshape) by the fixed central stencil of opts.order (one-sided
    of the same order near bounds)."""
    order = opts.order
    ev, value, f0 = _start(f, x0, args, kwargs, opts)
    n, m = x0.size, ev.m
    xf = x0.reshape(-1)
    if step is None:
        h = _EPS ** (1.0 / (order + 1)) * np.maximum(1.0, np.abs(xf))
    else:
        h = step.reshape(-1).astype(np.float64)
    h = (xf + h) - xf          # exact in x + h
    if np.any(~(h > 0)):
        j = int(np.argmin(h > 0))
        raise ValueError(f"no step of order {order} changes x{index_str(j, x0.shape)} = "
                         f"{float(xf[j])!r}")
    stencils = [_adaptive.fixed_weights(order, k) for k in range(3)]
    kind = np.zeros(n, dtype=np.intp)
    if lb is not None:
        lo, hi = xf - lb.reshape(-1), ub.reshape(-1) - xf
        half = order // 2
        for j in range(n):
            if half * h[j] <= lo[j] and half * h[j] <= hi[j]:
                continue
            if order * h[j] <= hi[j]:
                kind[j] = 1
            elif order * h[j] <= lo[j]:
                kind[j] = 2
            else:
                raise ValueError(
                    f"bounds [{float(lb.reshape(-1)[j])!r}, {float(ub.reshape(-1)[j])!r}] "
                    f"leave no room for an order-{order} stencil around "
                    f"x{index_str(j, x0.shape)} = {float(xf[j])!r}; widen the bounds or "
                    "pass a smaller step")
    counts = np.array([len(stencils[k][0]) for k in kind])
    lower = [_adaptive.fixed_weights(order - 2, k) for k in range(3)]
    J, J2, mag = np.empty((m, n)), np.empty((m, n)), np.empty((m, n))
    per = max(1, (opts.chunk or vector_points(n)) // max(1, int(counts.max(initial=1))))
    for j0 in range(0, n, per):
        j1 = min(n, j0 + per)
        K = int(counts[j0:j1].sum())
        X = np.empty((n, K))
        X[...] = xf[:, None]
        c, cols = 0, []
        for j in range(j0, j1):
            offs = stencils[kind[j]][0]
            X[j, c:c + len(offs)] = xf[j] + offs * h[j]
            cols.append(c)
            c += len(offs)
        F = np.ascontiguousarray(ev.values(X, lambda k: "a stencil point"))   # (m, K)
        for j, c in zip(range(j0, j1), cols):
            offs, w, w0 = stencils[kind[j]]
            _adaptive.stencil_columns(F, c, len(offs), w, w0, f0, h[j], J, j)
            # the stencil of order - 2 on the first of the same points
            offs, w, w0 = lower[kind[j]]
            _adaptive.stencil_columns(F, c, len(offs), w, w0, f0, h[j], J2, j)
            mag[:, j] = np.max(np.abs(F[:, c:c + len(stencils[kind[j]][0])]), axis=1)
    if opts.check_finite:
        bad = np.flatnonzero(~np.isfinite(J))
        if bad.size:
            i, j = divmod(int(bad[0]), n)
            raise ValueError(f"f returned a non-finite value near x along "
                             f"e{index_str(j, x0.shape)} (entry f{index_str(i, ev.fshape)}); "
                             "pass check_finite=False to allow it")
    _check_stencil(J, J2, mag, f0, h, order, x0.shape, ev.fshape)
    return value, J, ev.fshape


# A fixed stencil's result is refused where the stencil of order - 2 on the same
# points differs from it by more than this fraction of the column's largest entry
# (and of f's rounding over the step): the step is then too large for f, and the
# higher order makes that worse, not better (Osborne 1's exp(-320 x4) at x4 ~ 0.02).
STENCIL_AGREEMENT = 1e-4


def _check_stencil(J, J2, mag, f0, h, order, xshape, fshape):
    """AccuracyError where the order-p and order-(p-2) stencils disagree."""
    gap = np.abs(J - J2)
    scale = np.maximum(np.abs(J), np.abs(J).max(axis=0, initial=0.0)[None, :])
    rounding = 64 * _EPS * np.maximum(mag, np.abs(f0)[:, None]) * order / h[None, :]
    bad = gap > STENCIL_AGREEMENT * scale + rounding
    if not bad.any():
        return
    i, j = np.unravel_index(int(np.argmax(np.where(bad, gap / np.maximum(scale, 1e-300),
                                                   -1.0))), J.shape)
    raise AccuracyError(
        f"order={order}: for d f{index_str(int(i), fshape)} / d x{index_str(int(j), xshape)} "
        f"the order-{order} and order-{order - 2} stencils on the same points differ by "
        f"{float(gap[i, j]):.3g} (of {float(J[i, j]):.3g}): the step {float(h[j]):.3g} is "
        "too large for f there.  Use method='adaptive' (it finds the step), or pass a "
        "smaller step.", J, None)


_KINDS = ("jacobian", "grad", "value_and_grad")


class Extrapolated(_api._Transformed):
    """The callable grad, jacobian and value_and_grad return for method='adaptive'
    or order > 2.  With full_output it returns ``(result, AdaptiveInfo)``."""

    def __init__(self, f, kind, opts):
        self.kind = _KINDS[kind]
        super().__init__(f, opts.method)
        self.opts = opts
        self.workers = opts.workers

    def into(self, out, x, *args, **kwargs):
        """Write the derivative at x into the float64 array `out` (of the
        derivative's shape) and return it as ``self(x, *args, **kwargs)`` would
        (value_and_grad: ``(value, out)``; full_output: with the info)."""
        if not isinstance(out, np.ndarray):
            raise TypeError(f"out must be a numpy array; got {type(out).__name__}")
        r = self(x, *args, **kwargs)
        res, info = r if self.opts.full_output else (r, None)
        d = res[1] if self.kind == "value_and_grad" else res
        if out.dtype != np.float64 or out.shape != np.shape(d):
            raise ValueError(f"out must be float64 of shape {np.shape(d)}; got "
                             f"{out.dtype} {out.shape}")
        out[...] = d
        res = (res[0], out) if self.kind == "value_and_grad" else out
        return (res, info) if self.opts.full_output else res

    def __call__(self, x, *args, **kwargs):
        opts = self.opts
        x0 = as_point(x)
        step, lb, ub = opts.prepare(x0) if opts.needs_prepare else (None, None, None)
        _api._require_inside(x0, lb, ub)
        info = None
        if opts.method == "adaptive":
            value, J, fshape, info = adaptive_jacobian(self.f, x0, args, kwargs, opts,
                                                       lb, ub, step)
        else:
            value, J, fshape = stencil_jacobian(self.f, x0, args, kwargs, opts, lb, ub,
                                                step)
        if self.kind != "jacobian" and fshape != ():
            raise ValueError(f"{self.kind} needs f to return a scalar; it returned shape "
                             f"{fshape}. Use dfd.jacobian for array outputs")
        D = _api._shaped(J.reshape(fshape + x0.shape), x)
        result = (value, D) if self.kind == "value_and_grad" else D
        if info is None:
            return result
        info.error = _api._shaped(info.error.reshape(fshape + x0.shape), x)
        info.converged = info.converged.reshape(fshape + x0.shape)
        if opts.full_output:
            return result, info
        check(result, info, opts, fshape, x0.shape)
        return result


def check(result, info, opts, fshape, xshape):
    """AccuracyError naming the worst entry that missed the tolerance."""
    if np.all(info.converged):
        return
    E = np.asarray(info.error, dtype=np.float64)
    worst = int(np.argmax(np.where(np.asarray(info.converged), -np.inf, E).reshape(-1)))
    n = max(1, int(np.prod(xshape)))
    i, j = divmod(worst, n)
    count = int(np.size(info.converged) - np.count_nonzero(info.converged))
    raise AccuracyError(
        f"method='adaptive': the estimated error of d f{index_str(i, fshape)} / "
        f"d x{index_str(j, xshape)} is {float(E.reshape(-1)[worst]):.3g}, above rtol="
        f"{opts.rtol:g}, atol={opts.atol:g} ({count} entr{'y' if count == 1 else 'ies'} "
        "missed): f may not be smooth there (a kink, a jump, noise, or a feature "
        "narrower than the smallest step).  Pass full_output=True to get the "
        "derivative with per-entry error estimates, or loosen rtol/atol.",
        result, info)


class _Line:
    """t -> f(x + t v): a jvp as the derivative of a function of one variable.
    A vectorized call gets t of shape (K,) and the points x + t v stacked on a
    trailing axis."""

    def __init__(self, f, x, v):
        self.f, self.x, self.v = f, x, v

    def __call__(self, t, *args, **kwargs):
        t = np.asarray(t, dtype=np.float64)
        if t.ndim:
            point = self.x[..., None] + self.v[..., None] * t
        else:
            point = self.x + float(t) * self.v
        return self.f(point, *args, **kwargs)


def adaptive_jvp(f, x0, v0, args, kwargs, opts, lb, ub):
    """(value, J @ v, info): the adaptive sequence along v."""
    vmax = float(np.max(np.abs(v0))) if v0.size else 0.0
    line = _Line(f, x0, v0)
    t0 = np.array(0.0)
    if vmax == 0.0:
        ev, value, _ = _start(line, t0, args, kwargs, opts)
        d = np.zeros(ev.fshape)
        return value, d, AdaptiveInfo(np.zeros(ev.fshape), np.ones(ev.fshape, bool),
                                      ev.nfev, ev.ncalls)
    # the step rule in units of t: FIRST * max(1, max|x|) along a unit max-norm v
    tfirst = (_adaptive.FIRST * max(1.0, float(np.max(np.abs(x0)))) if opts.step is None
              else float(np.max(opts.step))) / vmax
    tlo = thi = None
    if lb is not None:
        # the t for which x + t v stays in [lb, ub]
        with np.errstate(divide="ignore", invalid="ignore"):
            moving = v0 != 0
            a = np.where(moving, (lb - x0) / np.where(moving, v0, 1.0), -np.inf)
            b = np.where(moving, (ub - x0) / np.where(moving, v0, 1.0), np.inf)
        tlo = np.array(float(np.max(np.minimum(a, b))))
        thi = np.array(float(np.min(np.maximum(a, b))))
    if np.all(x0 + np.ldexp(tfirst, 1 - _adaptive.SWEEP_LEVELS) * v0 == x0):
        raise ValueError(f"step = {tfirst * vmax!r} along v is too small for the adaptive "
                         "sequence at x: its last step no longer changes x (or pass "
                         "step=None)")
    value, J, fshape, info = adaptive_jacobian(
        line, t0, args, kwargs, opts, tlo, thi, np.array(tfirst),
        xmag=np.array([float(np.max(np.abs(x0 * v0))) / vmax ** 2]), along=True)
    info.error = info.error.reshape(fshape)
    info.converged = info.converged.reshape(fshape)
    return value, J.reshape(fshape), info


def adaptive_hessian(f, x0, args, kwargs, opts):
    """(H, info): second differences of f by the adaptive sequence, one task per
    diagonal entry and per pair (j < k); symmetric by construction."""
    ev, value, f0 = _start(f, x0, args, kwargs, opts)
    if ev.fshape != ():
        raise ValueError(f"hessian needs f to return a scalar; it returned shape "
                         f"{ev.fshape}")
    n = x0.size
    h0, _, xmag = _adaptive.first_steps(x0, None if opts.step is None else
                                        np.broadcast_to(opts.step, x0.shape).reshape(-1),
                                        None, None)
    j, k = np.triu_indices(n, 1)
    tj = np.concatenate([np.arange(n), j]).astype(np.int64)
    tk = np.concatenate([np.full(n, -1), k]).astype(np.int64)
    kind = np.concatenate([np.full(n, _adaptive.DIAG),
                           np.full(j.size, _adaptive.CROSS)]).astype(np.intc)
    th0 = np.concatenate([h0, np.minimum(h0[j], h0[k])])
    tx = np.concatenate([xmag, np.maximum(xmag[j], xmag[k])])
    best, err, flags = _adaptive.sequence(ev, x0, f0, (tj, tk, kind, th0, tx),
                                               opts.rtol, opts.atol, None, None,
                                               _describe)
    H, E, Fl = (np.empty((n, n), dtype=a.dtype) for a in (best, err, flags))
    for A, a in ((H, best), (E, err), (Fl, flags)):
        a = a[:, 0]
        A[np.arange(n), np.arange(n)] = a[:n]
        A[j, k] = a[n:]
        A[k, j] = a[n:]
    ok = _converged(H, E, Fl, opts.rtol, opts.atol)
    shape = x0.shape + x0.shape
    return H.reshape(shape), AdaptiveInfo(E.reshape(shape), ok.reshape(shape), ev.nfev,
                                          ev.ncalls)
