"""check_grad and GradCheck: compare an analytic derivative with a numeric one."""

from __future__ import annotations

import math
import numbers

import numpy as np

from . import _api, _workers
from ._fd import as_point, default_rstep, output_array

__all__ = ["check_grad", "GradCheck"]

# Default relative tolerances: ~10-100 times the reference's worst truncation
# error on More-Garbow-Hillstrom problems (at x0 and at perturbed points),
# relative to the row's largest derivative: central ~1e-8, forward/backward
# ~1e-4 (h f''/2 with h ~ eps**(1/2) where f'' >> f', as in Powell's badly
# scaled function), complex and dual ~1e-15 (no cancellation: only the
# rounding of g's own formula is left), adaptive ~1e-11 (its sequence meets
# rtol=1e-10 per column; the tolerance also adds its error estimate per entry).  An error below the bar is reference
# noise, one above it almost surely a mistake in g.
RTOL = {"central": 1e-6, "forward": 1e-3, "backward": 1e-3,
        "complex": 1e-10, "dual": 1e-10, "reverse": 1e-10, "adaptive": 1e-8}
# A difference quotient also carries the rounding error of f: ~eps |f_i| / h_j,
# which dominates when |f| >> |f'| (Brown's badly scaled function: f ~ 1e12),
# and a truncation error that a second stencil estimates (_reference_error).
# The tolerance includes NOISE times both; 10 covers the one-sided 3-point
# stencils used near bounds (weights 3/2, 2, 1/2) and f's own rounding.
NOISE = 10.0
_RSTEP = {m: default_rstep(m) for m in ("central", "forward", "backward")}

_SHOW = 5   # entries listed in the report


class GradCheck(float):
    """Result of `check_grad`: a float (the 2-norm of ``analytic - numeric``)
    carrying the comparison.

    Attributes
    ----------
    ok : bool
        Every entry is within tolerance.
    max_abs_error : float
        ``max |analytic - numeric|``.
    max_rel_error : float
        The largest entry of ``|analytic - numeric| / max(|analytic|, |numeric|,
        scale)``, where scale is the largest ``|numeric|`` in the entry's row.
    worst_index : tuple
        Index (into `analytic`) of the entry whose error is largest relative
        to its tolerance; ``()`` for a scalar derivative.
    analytic, numeric : ndarray
        ``g(x, *args)`` and the reference, shaped ``f(x).shape + x.shape``
        (direction 'random': ``f(x).shape``, the products with v; 'fast': the
        three projections).
    tolerance : ndarray
        ``atol + rtol * max(|analytic|, |numeric|, scale)`` for every entry,
        plus the reference's own error where that had to be estimated (see
        `check_grad`).
    method : str
        The method of the numeric reference.
    direction : str
        'all', 'random' or 'fast', as passed to `check_grad`.
    rtol, atol : float
        The tolerances used.
    """

    def __new__(cls, analytic, numeric, scale, tolerance, method, rtol, atol,
                direction="all"):
        diff = analytic - numeric
        self = super().__new__(cls, float(np.linalg.norm(diff.ravel())))
        self.analytic = analytic
        self.numeric = numeric
        self.scale = scale
        self.tolerance = tolerance
        self.method = method
        self.rtol = rtol
        self.atol = atol
        self.direction = direction
        err = np.abs(diff)
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.where(err == 0, 0.0, err / scale)
            # error in units of the tolerance: what "differs most" means
            ratio = np.where(err == 0, 0.0, err / tolerance)
        self._ratio = ratio
        self._rel = rel
        self.ok = bool(np.all(err <= tolerance))
        self.max_abs_error = float(err.max()) if err.size else 0.0
        self.max_rel_error = float(rel.max()) if rel.size else 0.0
        self.n_failed = int(np.count_nonzero(~(err <= tolerance)))
        if err.size:
            flat = int(np.argmax(ratio))
            self.worst_index = tuple(int(i) for i in np.unravel_index(flat, err.shape))
        else:
            self.worst_index = ()
        return self

    def __reduce__(self):
        return (GradCheck, (self.analytic, self.numeric, self.scale, self.tolerance,
                            self.method, self.rtol, self.atol, self.direction))

    def __repr__(self):
        return (f"GradCheck({float(self)!r}, ok={self.ok}, "
                f"max_abs_error={self.max_abs_error:.3g}, "
                f"max_rel_error={self.max_rel_error:.3g}, "
                f"worst_index={self.worst_index}, method={self.method!r})")

    def __str__(self):
        size = self.analytic.size
        if self.ok:
            head = ("check_grad: OK, " + ("the entry is" if size == 1 else
                    f"all {size} entries") + " within tolerance")
        else:
            head = (f"check_grad: FAILED, {self.n_failed} of {size} "
                    f"entr{'y' if size == 1 else 'ies'} outside tolerance")
        lines = [head,
                 f"  reference: method={self.method!r}; rtol={self.rtol:.3g}, "
                 f"atol={self.atol:.3g}" + _DIRECTIONS.get(self.direction, ""),
                 f"  |analytic - numeric|: 2-norm {float(self):.3g}, max "
                 f"{self.max_abs_error:.3g}; max relative {self.max_rel_error:.3g}"]
        if size:
            order = np.argsort(-self._ratio, axis=None, kind="stable")[:_SHOW]
            order = [i for i in order if self._ratio.flat[i] > 0] or order[:1]
            shape = self.analytic.shape
            idx = [_fmt_index(np.unravel_index(i, shape)) for i in order]
            w = max(5, *map(len, idx))
            lines.append(f"  {'index':<{w}}  {'analytic':>14}  {'numeric':>14}  "
                         f"{'rel error':>9}")
            for i, s in zip(order, idx):
                flag = "" if abs(self.analytic.flat[i] - self.numeric.flat[i]) \
                    <= self.tolerance.flat[i] else "  <-"
                lines.append(f"  {s:<{w}}  {self.analytic.flat[i]:>14.7g}  "
                             f"{self.numeric.flat[i]:>14.7g}  "
                             f"{self._rel.flat[i]:>9.2g}{flag}")
        return "\n".join(lines)

    def __format__(self, spec):
        # f"{res}" is the report; f"{res:.3g}" formats the number
        return str(self) if not spec else float.__format__(self, spec)


_DIRECTIONS = {"random": "; direction='random': J @ v along a random v",
               "fast": "; direction='fast': u^T J v for random u, v"}


def _fmt_index(idx):
    return "[" + ", ".join(str(int(i)) for i in idx) + "]"


def _scales(analytic, numeric, fdim):
    """max(|a|, |n|, row scale) for every entry.

    FD error is absolute at the level of the largest derivatives of the same
    output component, not relative to each entry: an entry that is ~0 can be
    off by eps**(2/3) times its row's scale.  So each entry is judged against
    the largest |numeric| of its row (the reference, not g, which is on trial);
    a row is one output component f[i...] over all of x.
    """
    axes = tuple(range(fdim, analytic.ndim))
    absn = np.abs(numeric)
    row = absn.max(axis=axes, keepdims=True) if absn.size and axes else absn
    return np.maximum(np.maximum(np.abs(analytic), absn), row)


def _analytic(ga, shape, xshape):
    """g's output as float64 of the derivative's shape, or the error naming what
    is wrong with it."""
    if hasattr(ga, "toarray"):   # scipy.sparse, as least_squares allows
        ga = ga.toarray()
    analytic = output_array(ga, "fiubcOUSV", "check_grad: g")
    if analytic.dtype.kind not in "fiub":
        raise TypeError("check_grad: g must return real numbers; got an array of "
                        f"dtype {analytic.dtype}")
    analytic = analytic.astype(np.float64)
    if analytic.shape != shape:
        what = ("x's shape (f returns a scalar)" if shape == xshape
                else "f(x).shape + x.shape")
        raise ValueError(f"check_grad: g returned shape {analytic.shape}, but the "
                         f"derivative has shape {shape}, {what}")
    if not np.all(np.isfinite(analytic)):
        i = np.unravel_index(int(np.argmin(np.isfinite(analytic))), analytic.shape)
        raise ValueError(f"check_grad: g returned a non-finite value "
                         f"{float(analytic[i])!r} at {_fmt_index(i)}")
    return analytic


PROJECTIONS = 3   # direction='fast': random u^T J v compared


def _check_directional(f, g, x, xg, args, kwargs, jv, method, rtol, atol,
                       raise_on_fail, direction, rng, options):
    """direction='random': J @ v against f's directional derivative along a random
    v (one jvp); 'fast': PROJECTIONS random u^T J v.

    Each is a sum of n terms, so it is judged as a whole: ``atol + rtol * max(|a|,
    |n|)`` plus rounding (NOISE eps times the terms' magnitude |G| @ |v|, and f's
    rounding over the step along v) and, where that fails, the finite
    difference's truncation error estimated from a second jvp with twice the step
    (as `_reference_error` does for a Jacobian)."""
    rng = np.random.default_rng(0 if rng is None else rng)
    xshape = np.shape(xg)
    v = rng.standard_normal(xshape)
    out = jv(x, v, *args, **kwargs)
    (value, numeric), info = (out, None) if method != "adaptive" else out
    estimate = 0.0 if info is None else np.asarray(info.error, dtype=np.float64)
    numeric = np.asarray(numeric, dtype=np.float64)
    fshape = numeric.shape
    G = _analytic(g(xg, *args, **kwargs), fshape + xshape, xshape)
    k = len(xshape)
    eps = np.finfo(float).eps
    analytic = np.tensordot(G, v, axes=k)
    noise = NOISE * eps * np.tensordot(np.abs(G), np.abs(v), axes=k)
    vmax = float(np.max(np.abs(v))) if v.size else 0.0
    length = 0.0       # the jvp's step along v, in the max-norm
    if method in _RSTEP and vmax > 0:
        x0 = np.asarray(xg, dtype=np.float64)
        length = (_RSTEP[method] * max(1.0, float(np.max(np.abs(x0))))
                  if options["step"] is None else float(np.max(options["step"])))
        noise = noise + NOISE * eps * np.abs(
            np.asarray(value, dtype=np.float64)) * vmax / length
    U = None
    if direction == "fast":
        U = rng.standard_normal((PROJECTIONS,) + fshape)
        m = len(fshape)
        analytic, numeric = (np.tensordot(U, a, axes=m) for a in (analytic, numeric))
        noise = np.tensordot(np.abs(U), noise + estimate, axes=m)
    else:
        noise = noise + estimate
    scale = np.maximum(np.abs(analytic), np.abs(numeric))
    tolerance = atol + rtol * scale + noise
    if length and not np.all(np.abs(analytic - numeric) <= tolerance):
        try:
            wide = _api.jvp(f, method=method, **{**options, "step": 2 * length})(
                x, v, *args, **kwargs)[1]
        except ValueError:    # twice the step leaves the bounds: rounding only
            wide = None
        if wide is not None:
            wide = np.asarray(wide, dtype=np.float64)
            if U is not None:
                wide = np.tensordot(U, wide, axes=len(fshape))
            order = 2 if method == "central" else 1
            tolerance = tolerance + NOISE * np.abs(wide - numeric) / (2 ** order - 1)
    res = GradCheck(analytic, numeric, scale, tolerance, method, rtol, atol, direction)
    if raise_on_fail and not res.ok:
        raise AssertionError("\n" + str(res))
    return res


def _reference_error(f, x, args, kwargs, method, options, numeric):
    """A bound on the error of a finite-difference reference with steps h:

    * rounding: NOISE * eps * |f_i(x)| / h_j, what rounding in f can do to a
      difference quotient (one more call of f);
    * truncation: the stencil again with steps 2h.  The error is ~C h**p
      (p = 2 central, 1 one-sided), so |J_2h - J_h| / (2**p - 1) estimates
      it (Richardson); NOISE times that covers curvature that the step rule
      max(1, |x|) does not see, as in exp(-320 x) of Osborne's problem 1.
    """
    x0 = np.array(x, dtype=np.float64)   # a copy: f may write to its input
    if options.get("vectorized", False):
        f0 = np.asarray(f(x0[..., None], *args, **kwargs), dtype=np.float64)[..., 0]
    else:
        f0 = np.asarray(f(x0.copy(), *args, **kwargs), dtype=np.float64)
    step = options.get("step")
    if step is None:
        h = _RSTEP[method] * np.maximum(1.0, np.abs(x0))
    else:
        h = np.broadcast_to(np.asarray(step, dtype=np.float64), x0.shape)
    absf = np.abs(f0).reshape(f0.shape + (1,) * x0.ndim)
    bound = NOISE * np.finfo(float).eps * absf / h
    try:
        wide = _api.jacobian(f, method=method, **{**options, "step": 2 * h})(
            x, *args, **kwargs)
    except ValueError:   # 2h does not fit within the bounds: rounding only
        return bound
    order = 2 if method == "central" else 1
    return bound + NOISE * np.abs(np.asarray(wide) - numeric) / (2 ** order - 1)


def _tolerance(name, value, default):
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, numbers.Real) \
            or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite non-negative number; got {value!r}")
    return float(value)


def check_grad(f, g, x, *args, method="central", rtol=None, atol=None,
               raise_on_fail=False, direction="all", rng=None, step=None, bounds=None,
               vectorized=False, check_finite=True, chunk=None, workers=None,
               **kwargs):
    """Compare an analytic gradient or Jacobian with a numeric one.

    Parameters
    ----------
    f : callable
        ``f(x, *args, **kwargs)`` returning a scalar (then `g` is a gradient) or
        an array (then `g` is a Jacobian).
    g : callable
        ``g(x, *args, **kwargs)`` returning an array of shape ``f(x).shape +
        x.shape``: x's shape for a scalar f, ``(m, n)`` for f: R^n -> R^m.  A
        sparse matrix is accepted (densified).
    x : float or array_like
        The point at which to compare.
    *args, **kwargs
        Extra arguments passed to both f and g (keywords other than the options
        below).
    method : {'central', 'forward', 'backward', 'complex', 'adaptive', 'dual', 'reverse'}, optional
        How the reference ``dfd.jacobian(f, method=method, **options)`` is
        computed.  'dual', 'reverse' and 'complex' are exact to rounding, so they catch
        smaller mistakes; 'central' (default) works for any f; 'adaptive'
        works for any smooth f and is ~1e-11 accurate, with an error estimate
        per entry that the tolerance adds.  SciPy's names '2-point', '3-point'
        and 'cs' are accepted.
    rtol : float, optional
        Relative tolerance; the default depends on the method's accuracy:
        1e-6 for 'central', 1e-3 for 'forward'/'backward', 1e-8 for
        'adaptive', 1e-10 for 'complex'/'dual'/'reverse'.
    atol : float, optional
        Absolute tolerance, default 0.
    raise_on_fail : bool, optional
        Raise AssertionError carrying the report when the check fails.
    direction : {'all', 'random', 'fast'}, optional
        'all' (default) compares every entry of the Jacobian.  For large n,
        'random' (SciPy's) compares the directional derivative ``J @ v`` along a
        random v, one `jvp` of f (2 calls for 'central') instead of a Jacobian;
        'fast' (PyTorch gradcheck's fast mode) compares three random projections
        ``u^T J v``, a scalar each.  A wrong entry is missed only if v (and u)
        happen to hide it, which has probability zero; its size in the report is
        then the error of a combination of entries.
    rng : numpy.random.Generator or int, optional
        The source of v and u for 'random' and 'fast' (default: a fixed seed, so
        that a check gives the same answer every run).
    step, bounds, vectorized, check_finite, chunk, workers
        As for `dualfd.jacobian` (an int's worker processes serve both
        Jacobians of the check and stop when it returns).  With 'random' and
        'fast', as for `dualfd.jvp` (no `vectorized`, `chunk`).

    Returns
    -------
    GradCheck
        A float, the 2-norm of ``g(x) - numeric`` (what
        ``scipy.optimize.check_grad`` returns), with attributes ``ok``,
        ``max_abs_error``, ``max_rel_error``, ``worst_index``, ``analytic``,
        ``numeric``; ``print()`` shows a short report of the worst entries.

    Raises
    ------
    ValueError
        g's output has the wrong shape (both shapes are named), or an option
        is unknown or invalid.
    AssertionError
        The check fails and `raise_on_fail` is true.

    See Also
    --------
    GradCheck : the result and its report.
    jacobian : the numeric reference (same options).
    scipy.optimize.check_grad : the same 2-norm, without the report.

    Notes
    -----
    Entry ``(i, j)`` passes when ``|a - n| <= atol + rtol * max(|a|, |n|, s_i)
    + e_ij``, with ``s_i = max_j |n_ij|`` the largest reference derivative of
    output component i.  Finite-difference error is absolute at the scale of
    the row's largest derivatives, so an entry that is ~0 is judged against
    its row.  ``e_ij`` (finite differences only; 0 for 'complex' and 'dual')
    bounds the reference's own error, 10 times the sum of

    * rounding: ``eps * |f_i(x)| / h_j`` for steps h_j (one more call of f);
    * truncation, estimated from the stencil with steps 2h:
      ``|n(2h) - n(h)| / (2**p - 1)``, p = 2 for central, 1 for one-sided
      (one more Jacobian).

    e_ij can only widen the tolerance, so it is computed only when an entry
    fails without it: a passing check costs one Jacobian and one call of g.

    ``worst_index`` is the entry whose error is largest in units of its
    tolerance.  The default rtol is 10-100 times the reference's worst
    truncation error on the More-Garbow-Hillstrom problems, so correct
    derivatives pass and a single wrong entry (a flipped sign, a factor 2, a
    missing term) fails unless it is tiny next to its row.  At a stationary
    point the gradient is ~0 and the reference's error estimate decides.

    Examples
    --------
    >>> import numpy as np, dualfd as dfd
    >>> f = lambda x: x[0] ** 2 * x[1] + np.sin(x[1])
    >>> g = lambda x: np.array([2 * x[0] * x[1], x[0] ** 2 - np.cos(x[1])])  # bug
    >>> res = dfd.check_grad(f, g, np.array([1.0, 2.0]))
    >>> res.ok, res.worst_index
    (False, (1,))
    >>> print(res)
    check_grad: FAILED, 1 of 2 entries outside tolerance
      reference: method='central'; rtol=1e-06, atol=0
      |analytic - numeric|: 2-norm 0.832, max 0.832; max relative 0.208
      index        analytic         numeric  rel error
      [1]          1.416147       0.5838532       0.21  <-
      [0]                 4               4    1.1e-16
    >>> float(res) < 1e-6   # as with scipy.optimize.check_grad
    False
    """
    if "epsilon" in kwargs:
        raise ValueError("check_grad: epsilon= is scipy.optimize.check_grad's step; "
                         "here it is step= (other keyword arguments go to f and g)")
    if not callable(g):
        raise TypeError(f"check_grad: g must be callable; got {type(g).__name__}")
    if not isinstance(raise_on_fail, (bool, np.bool_)):
        raise ValueError(f"raise_on_fail must be True or False; got {raise_on_fail!r}")
    if direction not in ("all", "random", "fast"):
        raise ValueError(f"check_grad: direction must be 'all', 'random' or 'fast'; "
                         f"got {direction!r}")
    method = _api.canonical_method(method, tuple(RTOL), "check_grad: ")
    options = dict(step=step, bounds=bounds, check_finite=check_finite,
                   workers=_workers.parse(workers))
    if direction == "all":
        options.update(vectorized=vectorized, chunk=chunk)
    elif vectorized or chunk is not None:
        raise ValueError(f"check_grad: vectorized and chunk apply to direction='all'; "
                         f"direction={direction!r} takes one jvp of f")
    try:
        return _check(f, g, x, args, kwargs, method, rtol, atol, raise_on_fail,
                      direction, rng, options)
    finally:
        # workers=int started processes for this check only
        if options["workers"] is not None and options["workers"] is not workers:
            options["workers"].close()


def _estimated(result, method):
    """(the reference as float64, its error estimate: method='adaptive''s own per
    entry, else 0)."""
    if method != "adaptive":
        return np.asarray(result, dtype=np.float64), 0.0
    numeric, info = result
    return np.asarray(numeric, dtype=np.float64), np.asarray(info.error, dtype=np.float64)


def _check(f, g, x, args, kwargs, method, rtol, atol, raise_on_fail, direction, rng,
           options):
    # the jacobian validator checks f, method and the options
    extra = dict(full_output=True) if method == "adaptive" else {}
    if direction != "all":
        jv = _api.jvp(f, method=method, **options, **extra)
    else:
        jac = _api.jacobian(f, method=method, **options, **extra)
    rtol = _tolerance("rtol", rtol, RTOL[method])
    atol = _tolerance("atol", atol, 0.0)
    # g gets x as f does (float64), on a copy: the caller's x stays as it was
    # (as_point: the error that names a bad x, as the transforms give)
    xg = x if isinstance(x, float) else np.array(as_point(x), dtype=np.float64)
    xshape = np.shape(xg)
    if direction != "all":
        return _check_directional(f, g, x, xg, args, kwargs, jv, method, rtol, atol,
                                  raise_on_fail, direction, rng, options)
    numeric, estimate = _estimated(jac(x, *args, **kwargs), method)
    analytic = _analytic(g(xg, *args, **kwargs), numeric.shape, xshape)
    fdim = numeric.ndim - len(xshape)
    scale = _scales(analytic, numeric, fdim)
    tolerance = atol + rtol * scale + estimate
    if method in _RSTEP and not np.all(np.abs(analytic - numeric) <= tolerance):
        # The reference's own error estimate costs a call of f and a second
        # Jacobian; it can only widen the tolerance, so it is needed only when
        # some entry fails without it.
        tolerance = tolerance + _reference_error(f, x, args, kwargs, method, options,
                                                 numeric)
    res = GradCheck(analytic, numeric, scale, tolerance, method, rtol, atol)
    if raise_on_fail and not res.ok:
        raise AssertionError("\n" + str(res))
    return res
