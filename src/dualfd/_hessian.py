"""hessian: second derivatives of a scalar f, for SciPy's ``hess=`` callbacks."""

from __future__ import annotations

import numpy as np

from . import _api, _workers
from ._dual import _core as _dual
from ._fd import (as_point, check_finite_x, first_nonfinite, index_str, output_array,
                  vector_points)
from ._options import ParsedBounds, chunk_size
from ._options import sparsity as _sparsity

__all__ = ["hessian", "hvp"]

METHODS = ("dual", "complex", "central", "adaptive", "auto")
_EPS = np.finfo(np.float64).eps


def hessian(f, *, method="dual", step=None, bounds=None, vectorized=False,
            check_finite=True, chunk=None, workers=None, sparsity=None, rtol=None,
            atol=None, full_output=False):
    """Return a function computing the Hessian of scalar-valued `f`.

    Parameters
    ----------
    f : callable
        ``f(x, *args, **kwargs)`` returning a scalar.
    method : {'dual', 'complex', 'central', 'adaptive', 'auto'}, optional
        'dual' (default): exact to rounding, by second-order duals (f runs once per
        pass on Duals carrying first- and second-order tangents; see `hvp` for the
        cost and ``Dual.supported_functions(order=2)`` for the NumPy functions it
        passes).  'complex': central differences of the complex-step gradient
        (~1e-10).  'central': a second-difference
        stencil on f alone, for black-box f that neither a Dual nor a complex
        number can pass through.  'adaptive': the same second differences over a
        sequence of halving steps with Richardson extrapolation and an error
        estimate per entry (see `dualfd.jacobian`'s rtol), 4 points per pair and
        level; no bounds, no sparsity.  'auto': 'dual' where f runs on Duals, else
        'central', decided on the first call (an `AutoWarning` names what the
        Dual refused).
    step : float or array_like, optional
        Absolute steps, broadcastable to x.  Default ``eps**(1/3) * max(1, |x|)``
        for 'complex', ``eps**(1/4) * max(1, |x|)`` for 'central'; 'dual' takes
        none (ValueError).
    bounds : (lb, ub), scipy.optimize.Bounds or sequence of (lo, hi), optional
        As for `dualfd.jacobian`: f is never evaluated outside
        ``lb <= x <= ub``; stencils near a bound turn one-sided.
    vectorized : bool, optional
        'central' and 'complex' only: f accepts ``x.shape + (k,)`` and returns
        shape ``(k,)``; the points go in one call (per gradient for 'complex').
    check_finite : bool, optional
        Raise ValueError on non-finite x or f values (default True).
    chunk : int, optional
        method='dual' only: coordinates per block (one pass per pair of blocks;
        default: one pass up to n = 89, then blocks sized to bound memory).
    workers : int, map-like callable, Executor or dask Client, optional
        As for `dualfd.jacobian`: where f is evaluated.  'central' spreads its
        points over the workers; 'complex' spreads the exact gradients (2 per
        coordinate, or per color with `sparsity`), each computed on a worker.
        'dual' evaluates f in this process and ignores it.
    sparsity : 'auto', bool array_like or scipy.sparse matrix, optional
        The symmetric (n, n) pattern of H (or shape ``x.shape + x.shape``), or
        'auto' to detect it by tracing f (`hessian_sparsity`).  'dual' and
        'complex' then color the pattern with a star coloring (Gebremedhin, Manne &
        Pothen, SIAM Review 47, 2005) and compute H S for one direction per color:
        'dual' exactly (a block of coordinates and every color per pass), 'complex'
        by central differences of the complex-step gradient (2 gradients per
        color, against 2n dense); 'central' computes the pattern's entries only (4 calls of f per
        off-diagonal pair).  The result is a ``scipy.sparse.csr_array`` (n, n)
        holding the pattern's entries.
    rtol, atol, full_output : optional
        method='adaptive' only, as for `dualfd.jacobian`; the second differences'
        rounding floor (about ``eps * |f| / h**2``) is usually reached first.

    Returns
    -------
    hess : callable
        ``hess(x, *args, **kwargs)`` -> ndarray of shape ``x.shape + x.shape``,
        symmetric; a float for a float x.  Drops into
        ``scipy.optimize.minimize(f, x0, jac=..., hess=dfd.hessian(f))``.

    See Also
    --------
    grad : the exact gradient that ``method='dual'`` differences.
    hessian_sparsity : the pattern that ``sparsity='auto'`` detects.

    Notes
    -----
    Why central differences of an exact gradient: the gradient then has no
    truncation error of its own, so one central stencil with
    ``h ~ eps**(1/3)`` gives the Hessian to ~``eps**(2/3)`` (~1e-10) relative
    error for 2n gradient evaluations.  The result is symmetrized,
    ``(H + H.T) / 2``, which halves the error and gives the exact symmetry
    that trust-region solvers assume.

    'central' differences f directly: ``H_ii = (f(x + h_i e_i) - 2 f(x) +
    f(x - h_i e_i)) / h_i**2`` and ``H_ij = (f(x + h_i e_i + h_j e_j) -
    f(x + h_i e_i - h_j e_j) - f(x - h_i e_i + h_j e_j) + f(x - h_i e_i -
    h_j e_j)) / (4 h_i h_j)`` (Abramowitz & Stegun 25.3.23 and 25.3.26),
    1 + 2 n**2 calls of f.  Rounding error grows like eps / h**2 and truncation
    error like h**2, so ``h ~ eps**(1/4)`` balances them at ~1e-8 relative.
    Where a bound is closer than h, coordinate i uses the second-order
    one-sided stencils ``(-3 f0 + 4 f1 - f2) / 2h`` (in products for H_ij)
    and ``(2 f0 - 5 f1 + 4 f2 - f3) / h**2`` (for H_ii).

    Examples
    --------
    >>> import numpy as np, dualfd as dfd
    >>> f = lambda x: x[0] ** 2 * x[1] + np.exp(x[1])
    >>> H = dfd.hessian(f)(np.array([1.0, 0.0]))
    >>> H
    array([[0., 2.],
           [2., 1.]])
    >>> float(H[1, 1]) == 1.0   # exact (second-order duals)
    True
    >>> H = dfd.hessian(f, method="central")   # f alone: ~1e-8
    >>> np.round(H(np.array([1.0, 0.0])), 6)
    array([[0., 2.],
           [2., 1.]])
    """
    if not callable(f):
        raise TypeError(f"hessian: f must be callable; got {type(f).__name__}")
    method = _api.canonical_method(method, METHODS, "hessian: ")
    vectorized = _api._flag(vectorized, "vectorized")
    check_finite = _api._flag(check_finite, "check_finite")
    if vectorized and method == "dual":
        raise ValueError("hessian: vectorized applies to method='central' and "
                         "'complex'; method='dual' evaluates f once per gradient")
    if chunk is not None and method not in ("dual", "auto"):
        raise ValueError("chunk applies only to method='dual' or 'auto'; "
                         f"got method={method!r}")
    if chunk is not None:
        chunk = chunk_size(chunk)
    if step is not None:
        step = _api._positive_array(step, "step")
    workers = _workers.parse(workers)
    sparsity = _sparsity(sparsity)
    if method == "adaptive" or rtol is not None or atol is not None or full_output:
        return _adaptive_hessian(f, method, step, bounds, vectorized, check_finite,
                                 workers, sparsity, rtol, atol, full_output)
    if sparsity is not None:
        return _sparse_hessian(f, method, step, bounds, vectorized, check_finite, chunk,
                               sparsity, workers)
    if method == "auto":
        # vectorized= and the second-difference stencil serve the fallback only
        return _AutoHessian(
            f, hessian(f, method="dual", bounds=bounds, check_finite=check_finite,
                       chunk=chunk),
            hessian(f, method="central", step=step, bounds=bounds,
                    vectorized=vectorized, check_finite=check_finite, workers=workers),
            workers)
    if method == "dual":
        if step is not None:
            raise ValueError("hessian: step does not apply to method='dual', whose "
                             "Hessian is exact (second-order duals); remove step, or "
                             "use method='central' or 'complex' with it")
        return _DualHessian(f, None if bounds is None else ParsedBounds(bounds),
                            check_finite, chunk)
    if method != "central":
        inner = _api.grad(f, method=method, bounds=bounds, vectorized=vectorized,
                          check_finite=check_finite, chunk=chunk)
        outer = _api.jacobian(inner, method="central", step=step, bounds=bounds,
                              check_finite=check_finite, workers=workers)
        return _Hessian(f, method, outer=outer, workers=workers)
    return _Hessian(f, method, step=step,
                    bounds=None if bounds is None else ParsedBounds(bounds),
                    vectorized=vectorized, check_finite=check_finite, workers=workers)


def _adaptive_hessian(f, method, step, bounds, vectorized, check_finite, workers,
                      sparsity, rtol, atol, full_output):
    """method='adaptive': second differences of f by the extrapolated sequence.
    rtol, atol and full_output are validated (and refused with another method) as
    for the other transforms."""
    opts = _api._Options("hessian", f, method, step, None, vectorized, check_finite,
                         None, workers, rtol, atol, None, full_output)
    if bounds is not None:
        raise ValueError("hessian(method='adaptive') takes no bounds: its second "
                         "differences step to both sides of x; use method='central', "
                         "whose stencils turn one-sided near a bound")
    if sparsity is not None:
        raise ValueError("hessian(method='adaptive') computes every entry; remove "
                         "sparsity, or use method='central' or 'dual' with it")
    return _AdaptiveHessian(f, opts)


class _AdaptiveHessian(_api._Transformed):
    """hessian(method='adaptive'): ``hess(x, *args, **kwargs)``, with full_output
    ``(H, AdaptiveInfo)``."""

    kind = "hessian"

    def __init__(self, f, opts):
        super().__init__(f, "adaptive")
        self.opts = opts
        self.workers = opts.workers

    def __call__(self, x, *args, **kwargs):
        from . import _adapt
        x0 = as_point(x)
        H, info = _adapt.adaptive_hessian(self.f, x0, args, kwargs, self.opts)
        H = _api._shaped(H, x)
        info.error = _api._shaped(info.error, x)
        if self.opts.full_output:
            return H, info
        _adapt.check(H, info, self.opts, x0.shape, x0.shape)
        return H


def _sparse_hessian(f, method, step, bounds, vectorized, check_finite, chunk, sparsity,
                    workers):
    from ._sparse import SparseHessian
    parsed = None if bounds is None else ParsedBounds(bounds)
    if method == "auto":
        return _AutoHessian(
            f, _sparse_hessian(f, "dual", step, bounds, False, check_finite, chunk,
                               sparsity, workers),
            _sparse_hessian(f, "central", step, bounds, vectorized, check_finite, None,
                            sparsity, workers), workers)
    if method == "central":
        return SparseHessian(f, method, None, sparsity, step, parsed, check_finite,
                             vectorized, workers)
    if method == "dual":
        if step is not None:
            raise ValueError("hessian: step does not apply to method='dual', whose "
                             "Hessian is exact (second-order duals)")
        return SparseHessian(f, method, None, sparsity, None, parsed, check_finite,
                             chunk=chunk)
    inner = _api.grad(f, method=method, bounds=bounds, vectorized=vectorized,
                      check_finite=check_finite, chunk=chunk)
    return SparseHessian(f, method, inner, sparsity, step, parsed, check_finite,
                         workers=workers)


class _Hessian(_api._Transformed):
    """The callable `hessian` returns: ``hess(x, *args, **kwargs)``.  'dual' and
    'complex' hold the Transform of the exact gradient's central Jacobian."""

    kind = "hessian"

    def __init__(self, f, method, outer=None, step=None, bounds=None,
                 vectorized=False, check_finite=True, workers=None):
        super().__init__(f, method)
        self.workers = workers
        self.outer = outer
        self.step = step
        self.bounds = bounds
        self.vectorized = vectorized
        self.check_finite = check_finite

    def __call__(self, x, *args, **kwargs):
        if self.outer is not None:
            return _symmetric(self.outer(x, *args, **kwargs), x)
        x0 = as_point(x)
        if self.check_finite:
            check_finite_x(x0)
        h = _steps(x0, self.step)
        lo = hi = None
        if self.bounds is not None:
            lo, hi = self.bounds.resolve(x0.shape)
            _api._require_inside(x0, lo, hi)
        n = x0.size
        iu = np.triu_indices(n, 1)
        upper, diag = _second_differences(self.f, x0, h, lo, hi, args, kwargs,
                                          self.vectorized, self.check_finite,
                                          np.stack(iu, axis=1), self.workers)
        H = np.diag(diag)
        H[iu] = upper
        H.T[iu] = upper
        return _api._shaped(H.reshape(x0.shape + x0.shape), x)


class _DualHessian(_api._Transformed):
    """hessian(method='dual'): the exact Hessian by second-order duals, f evaluated
    at x only (bounds need hold there only)."""

    kind = "hessian"

    def __init__(self, f, bounds, check_finite, chunk):
        super().__init__(f, "dual")
        self.bounds = bounds
        self.check_finite = check_finite
        self.chunk = chunk

    def __call__(self, x, *args, **kwargs):
        x0 = _exact_point(x, self.bounds, self.check_finite)
        value, H = _dual.dual_hessian(self.f, x0, args, kwargs, self.chunk)
        if self.check_finite:
            _check_second_order(value, H, x0.shape, "d2 f / d x{} d x{}")
        return _api._shaped(H.reshape(x0.shape + x0.shape), x)


def _check_second_order(value, D, xshape, what):
    """check_finite for the exact second-order results: f's value, then D (the
    Hessian, what naming an entry by two indices, or H @ v by one)."""
    _api._check_dual_output(value, np.zeros(0), (), None)
    bad = first_nonfinite(D)
    if bad < 0:
        return
    n = max(1, int(np.prod(xshape)))
    idx = divmod(bad, n) if what.count("{}") == 2 else (bad,)
    name = what.format(*(index_str(i, xshape) for i in idx))
    raise ValueError(f"{name} is {float(D.reshape(-1)[bad])!r}: f is not twice "
                     "differentiable at x (sqrt, log, abs ... at the edge of their "
                     "domain or at a kink do this); pass check_finite=False to allow it")


def _exact_point(x, bounds, check_finite):
    """x as float64, checked, inside the bounds: the exact methods evaluate f there
    only."""
    x0 = as_point(x)
    if check_finite:
        check_finite_x(x0)
    if bounds is not None:
        lb, ub = bounds.resolve(x0.shape)
        _api._require_inside(x0, lb, ub)
    return x0


HVP_METHODS = ("dual", "reverse", "central", "forward", "backward", "complex", "auto")
# Steps along v, relative to max(1, max|x|) max|v|: eps^(1/3) balances complex step's
# gradient error (~eps) against the difference's truncation; for the FD gradients the
# steps were chosen on the MGH set (tests/test_hessian_exact.py: eps^(1/6), eps^(2/9)
# gave 100x and 20x larger worst errors than these).
# 'reverse' takes complex's step: its gradient is exact to rounding too.
_HVP_STEPS = {"complex": _EPS ** (1 / 3), "reverse": _EPS ** (1 / 3),
              "central": _EPS ** 0.25, "auto": _EPS ** 0.25,
              "forward": _EPS ** (2 / 9), "backward": _EPS ** (2 / 9)}


def hvp(f, *, method="dual", step=None, bounds=None, check_finite=True, chunk=None):
    """Return a function computing Hessian-vector products of scalar-valued `f`.

    The result, ``hv(x, v, *args, **kwargs)``, returns ``H(x) @ v`` shaped like x:
    SciPy's ``hessp(x, p, *args)`` convention, so
    ``minimize(f, x0, jac=dfd.grad(f, method="dual"), hessp=dfd.hvp(f),
    method="trust-krylov")`` works.

    Parameters
    ----------
    f : callable
        ``f(x, *args, **kwargs)`` returning a scalar.
    method : {'dual', 'reverse', 'central', 'forward', 'backward', 'complex', 'auto'}, optional
        'dual' (default): exact, by second-order duals (f is evaluated once per
        block of `chunk` coordinates, on Duals carrying ``2 * chunk + 1``
        directions).  The others: central differences along v of the gradient
        that method gives (2 gradients: 'reverse' and 'complex' ~1e-10 relative,
        'central' ~1e-6, 'forward'/'backward' ~1e-5 on the Moré-Garbow-Hillstrom
        set).  'reverse' costs two reverse-mode gradients at any n: the cheap
        choice for large n, where 'dual' carries 2n + 1 directions.  'auto': 'dual' where f runs on
        Duals, else 'central', decided on the first call.
    step : float, optional
        FD methods: the step along v, relative to ``max(1, max|x|) * max|v|``
        (default ``eps**(1/3)`` for 'complex', ``eps**(1/4)`` for 'central',
        ``eps**(2/9)`` for 'forward'/'backward'; 'reverse' as 'complex').  Not for 'dual' (exact).
    bounds : (lb, ub), scipy.optimize.Bounds or sequence of (lo, hi), optional
        As for `dualfd.jacobian`: f is never evaluated outside; 'dual' evaluates
        f at x only.
    check_finite : bool, optional
        Non-finite x, v, f(x) or result raise ValueError (default True).
    chunk : int, optional
        method='dual': coordinates per pass (default: all while ``2n + 1 <=
        4224``); bounds memory: each element of f's arrays carries
        ``2 * chunk + 1`` doubles.

    Returns
    -------
    callable
        ``hv(x, v, *args, **kwargs)`` -> array shaped like x.

    Raises
    ------
    ValueError
        f's output is not a scalar; v has not x's shape; bad options.
    TypeError
        method='dual' and f calls a NumPy function without a second-order rule
        (the error names it; `Dual.supported_functions` lists the first-order
        ones, ``Dual.supported_functions(order=2)`` the second-order ones).

    Examples
    --------
    >>> import numpy as np, dualfd as dfd
    >>> f = lambda x: x[0] ** 2 * x[1] + np.exp(x[1])
    >>> dfd.hvp(f)(np.array([1.0, 0.0]), np.array([1.0, 0.0]))
    array([0., 2.])
    """
    if not callable(f):
        raise TypeError(f"hvp: f must be callable; got {type(f).__name__}")
    method = _api.canonical_method(method, HVP_METHODS, "hvp: ")
    check_finite = _api._flag(check_finite, "check_finite")
    parsed = None if bounds is None else ParsedBounds(bounds)
    if chunk is not None:
        if method not in ("dual", "auto"):
            raise ValueError("hvp: chunk applies only to method='dual' or 'auto'; "
                             f"got method={method!r}")
        chunk = chunk_size(chunk)
    if step is not None:
        if method == "dual":
            raise ValueError("hvp: step does not apply to method='dual', which is "
                             "exact; remove step, or use an FD method with it")
        step = _api._positive_array(step, "step")
        if step.ndim:
            raise ValueError("hvp: step must be one number (the step along v, in "
                             f"units of x); got shape {step.shape}")
        step = float(step)
    inner = None
    if method != "dual":
        inner = _api.grad(f, method="central" if method == "auto" else method,
                          bounds=bounds, check_finite=check_finite)
    return _Hvp(f, method, parsed, check_finite, chunk, step, inner, bounds)


class _Hvp(_api._Transformed):
    """The callable `hvp` returns: ``hv(x, v, *args, **kwargs)``."""

    kind = "hvp"

    def __init__(self, f, method, bounds, check_finite, chunk, step, inner, raw_bounds):
        super().__init__(f, method)
        self.bounds = bounds
        self.raw_bounds = raw_bounds
        self.check_finite = check_finite
        self.chunk = chunk
        self.step = step
        self.inner = inner
        self._auto = None        # method='auto': decided on the first call

    def __call__(self, x, v, *args, **kwargs):
        x0 = _exact_point(x, self.bounds, self.check_finite)
        v0 = as_point(v, "v")
        if v0.shape != x0.shape:
            raise ValueError(f"hvp: v must have x's shape {x0.shape}; got {v0.shape}")
        if self.check_finite:
            check_finite_x(v0, "v")
        r = None
        if self.method in ("dual", "auto"):
            r = _api.exact_or_none(self, self.f, lambda: self._exact(x0, v0, args,
                                                                     kwargs))
        if r is None:
            r = self._fd(x0, v0, args, kwargs)
        return _api._shaped(r.reshape(x0.shape), x)

    def _exact(self, x0, v0, args, kwargs):
        value, HV = _dual.dual_hvp(self.f, x0, v0.reshape(-1, 1), args, kwargs,
                                   self.chunk)
        if self.check_finite:
            _check_second_order(value, HV[:, 0], x0.shape, "(H @ v){}")
        return HV[:, 0]

    def _fd(self, x0, v0, args, kwargs):
        """Central differences of the gradient along v: (g(x + t v) - g(x - t v)) / 2t,
        one-sided near a bound (jvp's stencils)."""
        if not np.any(v0):
            return np.zeros(x0.size)
        rule = _HVP_STEPS[self.method]
        t = (self.step if self.step is not None else rule) * max(1.0, float(
            np.max(np.abs(x0)))) if x0.size else 1.0
        jv = _api.jvp(self.inner, method="central", step=t * np.max(np.abs(v0)),
                      bounds=self.raw_bounds, check_finite=self.check_finite)
        _, Hv = jv(x0, v0, *args, **kwargs)
        return np.asarray(Hv, dtype=np.float64).reshape(-1)


class _AutoHessian(_api._Transformed):
    """method='auto': the dual Hessian if f runs on Duals, decided on the first call
    (`dualfd._api.exact_or_none`), else second differences."""

    kind = "hessian"

    def __init__(self, f, exact, central, workers=None):
        super().__init__(f, "auto")
        self.workers = workers
        self.exact = exact
        self.central = central
        self._auto = None        # decided by _api.exact_or_none on the first call

    def __call__(self, x, *args, **kwargs):
        H = _api.exact_or_none(self, self.f, lambda: self.exact(x, *args, **kwargs))
        return self.central(x, *args, **kwargs) if H is None else H


def _symmetric(H, x):
    H = np.asarray(H, dtype=np.float64)
    if H.ndim:
        n = int(np.sqrt(H.size))
        Hm = H.reshape(n, n)
        H = ((Hm + Hm.T) * 0.5).reshape(H.shape)
    return _api._shaped(H, x)


def _steps(x0, step):
    """eps**(1/4) * max(1, |x|), or the given steps; rounded so that
    (x + h) - x == h exactly."""
    if step is None:
        h = _EPS ** 0.25 * np.maximum(1.0, np.abs(x0))
    else:
        h = _api._broadcast(step, x0.shape, "step")
    h0 = h
    h = (x0 + h) - x0
    if not np.all(h > 0):
        i = tuple(int(k) for k in np.unravel_index(int(np.argmin(h > 0)), x0.shape))
        raise ValueError(f"step{list(i) if i else ''} = {float(h0[i])!r} does not "
                         f"change x{list(i) if i else ''} = {float(x0[i])!r}: it must "
                         "be large enough to change x")
    return np.ascontiguousarray(h)


# Per coordinate: a first-derivative stencil (offsets in steps, weights) and a
# second-derivative one.  One-sided ones are second order as well:
# f' ~ (-3 f0 + 4 f1 - f2) / 2h, f'' ~ (2 f0 - 5 f1 + 4 f2 - f3) / h**2.
_CENTRAL = ((-1, 1), (-0.5, 0.5)), ((-1, 0, 1), (1.0, -2.0, 1.0))
_FORWARD = ((0, 1, 2), (-1.5, 2.0, -0.5)), ((0, 1, 2, 3), (2.0, -5.0, 4.0, -1.0))
_BACKWARD = ((0, -1, -2), (1.5, -2.0, 0.5)), ((0, -1, -2, -3), (2.0, -5.0, 4.0, -1.0))


def _stencils(x0, h, lo, hi):
    """The stencil of each coordinate: central, or one-sided where a bound is
    closer than one step (three steps must fit on the other side)."""
    if lo is None:
        return [_CENTRAL] * x0.size
    out = []
    for i, (x, s, a, b) in enumerate(zip(*(map(float, v.flat) for v in (x0, h, lo, hi)))):
        if a <= x - s and x + s <= b:
            out.append(_CENTRAL)
        elif x + 3 * s <= b:
            out.append(_FORWARD)
        elif a <= x - 3 * s:
            out.append(_BACKWARD)
        else:
            raise ValueError(f"bounds [{a!r}, {b!r}] leave no room for a hessian "
                             f"stencil around x{index_str(i, x0.shape)} = {x!r} "
                             f"(three steps of {s!r} "
                             "on one side); widen the bounds or pass a smaller step")
    return out


def _second_differences(f, x0, h, lo, hi, args, kwargs, vectorized, check_finite,
                        pairs, workers=None):
    """Second differences of f at x0.ravel(): H_ii from each coordinate's
    second-derivative stencil, and H_ij for each (i, j) (i < j) of `pairs` (an
    (npairs, 2) array: every pair for a dense H, a pattern's for a sparse one) from
    the product of the first-derivative stencils of i and j (central: the 4-point
    formula of the docstring).  Points are shared between entries, so a dense
    central H costs 1 + 2 n**2 calls and a pattern 1 + 2n + 4 per pair.
    Returns (H_ij over the pairs, the diagonal)."""
    n = x0.size
    hf = h.ravel()
    st = _stencils(x0, h, lo, hi)
    index = {(): 0}           # point (as ((coord, offset), ...)) -> its number
    terms = []                # (point number, cell: i for H_ii, n + e for pair e, weight)

    def point(*moves):
        key = tuple((i, o) for i, o in moves if o)
        k = index.get(key)
        if k is None:
            k = index[key] = len(index)
        return k

    for i in range(n):
        offs, ws = st[i][1]
        for o, w in zip(offs, ws):
            terms.append((point((i, o)), i, w / hf[i] ** 2))
    for e, (i, j) in enumerate(pairs):
        (oi, wi), (oj, wj) = st[i][0], st[j][0]
        scale = 1.0 / (hf[i] * hf[j])
        for p, a in zip(oi, wi):
            for q, b in zip(oj, wj):
                terms.append((point((int(i), p), (int(j), q)), n + e, a * b * scale))
    keys = list(index)        # in point-number order
    F = _values(f, x0, hf, keys, args, kwargs, vectorized, workers)
    if check_finite and not np.all(finite := np.isfinite(F)):
        k = int(np.argmin(finite))
        raise ValueError(f"f returned a non-finite value ({float(F[k])!r}) when "
                         f"evaluated at {_point_str(keys[k], hf, x0.shape)}; pass "
                         "check_finite=False to allow it")
    rows, cells, weights = (np.array(t) for t in zip(*terms)) if terms else \
        (np.zeros(0, int), np.zeros(0, int), np.zeros(0))
    H = np.zeros(n + len(pairs))
    # summed per cell in the stencil's order: pairs like (f1 - f2) stay close
    np.add.at(H, cells.astype(np.intp), weights * F[rows.astype(np.intp)])
    return H[n:], H[:n]


def _point_str(key, h, shape):
    """A stencil point as "x + h0*e[0] - 2*h1*e[1] (h0 = ..., h1 = ...)"."""
    if not key:
        return "x"
    terms, steps = [], []
    for i, o in key:
        name = f"h{i}" if shape else "h"
        k = "" if abs(o) == 1 else f"{abs(o):g}*"
        e = f"*e{index_str(i, shape)}" if shape else ""
        terms.append(f"{'+' if o > 0 else '-'} {k}{name}{e}")
        steps.append(f"{name} = {h[i]:.3g}")
    return f"x {' '.join(terms)} ({', '.join(steps)})"


def _values(f, x0, h, keys, args, kwargs, vectorized, workers=None):
    """f at the points x0 + sum of o h_i e_i over each key's moves, built in blocks
    of at most 32 MB (vectorized: one call per block; else one call per point, each
    on its own array, which nothing changes after the call; workers: each block
    spread over them)."""
    shape, n, K = x0.shape, x0.size, len(keys)
    xf = x0.reshape(-1)
    F = np.empty(K)
    block = vector_points(n) if workers is None else workers.block_points(
        n, vectorized, 0)
    for k0 in range(0, K, block):
        P = np.repeat(xf.reshape(1, n), min(block, K - k0), axis=0)
        for r, key in enumerate(keys[k0:k0 + block]):
            for i, o in key:
                P[r, i] += o * h[i]
        if workers is not None or vectorized:
            k = P.shape[0]
            X = np.ascontiguousarray(P.T).reshape(shape + (k,))
            if workers is None:
                r = f(X, *args, **kwargs)
            else:
                r = workers.run(f, args, kwargs, X, not vectorized,
                                lambda j: _point_str(keys[k0 + j], h, shape))
                if not vectorized and r.shape != (k,):
                    raise ValueError(f"hessian needs f to return a scalar; it returned "
                                     f"shape {r.shape[:-1]}")
            V = output_array(r)
            if V.shape != (k,):
                raise ValueError(f"vectorized=True: f must accept x with a trailing axis "
                                 f"of k points, shape {shape + (k,)}, and return shape "
                                 f"({k},) for a scalar f; it returned shape {V.shape}")
            F[k0:k0 + k] = V
            continue
        for r in range(P.shape[0]):
            a = output_array(f(P[r].reshape(shape), *args, **kwargs))
            if a.shape != ():
                raise ValueError(f"hessian needs f to return a scalar; it returned "
                                 f"shape {a.shape}")
            F[k0 + r] = a
    return F
