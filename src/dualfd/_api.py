"""grad, jacobian, value_and_grad, jvp: validate the options once, then dispatch.

Options are checked when the transformation is built (``dfd.grad(f, ...)``), so
the returned callable only converts x and runs the engine: its overhead is a
few microseconds, which matters for small problems inside an optimizer loop.
"""

from __future__ import annotations

import warnings

import numpy as np

from . import _dual, _reverse, _workers
from ._complex_guard import check_jvp
from ._fd import METHODS as _FD_METHODS
from ._fd import (COMPLEX_OUTPUT, Transform, as_point, check_finite_x, default_rstep,
                  fd_jacobian, first_nonfinite, index_str, output_array)
from ._options import ParsedBounds, chunk_size
from ._options import accuracy as _accuracy
from ._options import broadcast as _broadcast
from ._options import flag as _flag
from ._options import sparsity as _sparsity
from ._options import positive_array as _positive_array

__all__ = ["grad", "jacobian", "value_and_grad", "jvp", "vjp"]

METHODS = ("central", "forward", "backward", "complex", "adaptive", "dual", "reverse",
           "auto")
# SciPy's names (approx_derivative, check_grad), accepted as they are
ALIASES = {"2-point": "forward", "3-point": "central", "cs": "complex"}


def canonical_method(method, methods=METHODS, where=""):
    """method, with SciPy's names for the same stencils mapped to ours; or the
    ValueError that lists the valid names."""
    if isinstance(method, str) and ALIASES.get(method, method) in methods:
        return ALIASES.get(method, method)
    names = methods + tuple(a for a, m in ALIASES.items() if m in methods)
    raise ValueError(f"{where}method must be one of {', '.join(map(repr, names))}; "
                     f"got {method!r}")

_DUAL_METHODS = ("dual", "auto")
# Exact methods: f evaluated at x only, no step (forward and reverse mode)
_EXACT = ("dual", "reverse")
OPTIONS = ("method", "step", "bounds", "vectorized", "check_finite", "chunk",
           "workers")


class _Options:
    """Validated options of one transformation."""

    __slots__ = ("method", "code", "step", "bounds", "vectorized", "check_finite",
                 "chunk", "workers", "needs_prepare", "rtol", "atol", "order",
                 "full_output", "_args", "_extra", "_cache", "_auto")

    def __init__(self, fname, f, method, step, bounds, vectorized, check_finite,
                 chunk, workers=None, rtol=None, atol=None, order=None,
                 full_output=False):
        self._cache = None
        self._auto = None        # method='auto': "dual" or "central" after a first call
        if not callable(f):
            raise TypeError(f"{fname}: f must be callable; got {type(f).__name__}")
        method = canonical_method(method)
        self.method = method
        self.code = _FD_METHODS.get(method, -1)
        self.step = None if step is None else _positive_array(step, "step")
        if step is not None and method in _EXACT:
            raise ValueError(f"step does not apply to method={method!r}, which takes no "
                             "steps; remove it or choose a finite-difference method")
        self.bounds = (bounds if bounds is None or isinstance(bounds, ParsedBounds)
                       else ParsedBounds(bounds))
        self.vectorized = _flag(vectorized, "vectorized")
        # 'auto' takes vectorized=, step= (for its central fallback) and chunk=
        if self.vectorized and method in _EXACT:
            raise ValueError(f"vectorized applies to finite-difference methods; "
                             f"method={method!r} evaluates f on an array type of its "
                             "own (Dual, or a traced array): remove vectorized=True")
        self.check_finite = _flag(check_finite, "check_finite")
        if chunk is not None:
            if method not in _DUAL_METHODS and not self.vectorized:
                raise ValueError("chunk applies to method='dual' or 'auto' (tangent "
                                 "directions per pass) and to vectorized=True (points "
                                 f"per call of f); got method={method!r} without "
                                 "vectorized=True")
            chunk = chunk_size(chunk)
        self.chunk = chunk
        if workers is not None and method in _EXACT:
            raise ValueError(f"workers applies to finite-difference methods (and to "
                             f"'auto''s fallback); method={method!r} evaluates f here, "
                             "once per chunk of directions (dual) or once (reverse): "
                             "remove workers")
        self.workers = _workers.parse(workers)
        self.needs_prepare = self.step is not None or self.bounds is not None
        self.rtol, self.atol, self.order, self.full_output = _accuracy(
            method, rtol, atol, order, full_output)
        # what pickling rebuilds these options from: the validated private copies.
        # workers is left out: a transform sent to a worker process evaluates f
        # there, serially (pool processes cannot start processes of their own)
        self._args = (fname, f, method, self.step, self.bounds, self.vectorized,
                      self.check_finite, chunk)
        self._extra = dict(rtol=rtol, atol=atol, order=order, full_output=full_output)

    def __reduce__(self):
        # __slots__ and no __getstate__: pickle protocols 0 and 1 need this
        return (_rebuild_options, (self._args, self._extra))

    @property
    def extrapolated(self):
        """Whether the _adapt engine serves these options (adaptive or order > 2)."""
        return self.method == "adaptive" or self.order != 2

    def prepare(self, x0):
        """step and bounds broadcast to x0's shape (only called when set).  The
        last shape's result is kept (read-only): optimizers call with one shape."""
        shape = x0.shape
        cache = self._cache
        if cache is not None and cache[0] == shape:
            return cache[1]
        step = lb = ub = None
        if self.step is not None:
            step = _broadcast(self.step, shape, "step")
        if self.bounds is not None:
            lb, ub = self.bounds.resolve(shape)
        for a in (step, lb, ub):
            if a is not None:
                a.flags.writeable = False
        self._cache = shape, (step, lb, ub)
        return step, lb, ub

    def with_step(self, step):
        """A copy of these options with another step (jvp's reduced step)."""
        c = self._copy()
        c.step = np.array(step, dtype=np.float64)
        c._cache = None
        return c

    def with_method(self, method):
        """A copy of these options with another method ('auto''s fallback)."""
        c = self._copy()
        c.method = method
        c.code = _FD_METHODS.get(method, -1)
        return c

    def _copy(self):
        c = object.__new__(_Options)
        for name in _Options.__slots__:
            setattr(c, name, getattr(self, name))
        return c

    def dual(self, f, x0, lb, ub, args, kwargs, want_value):
        """method='dual', and 'auto': dual, or central differences where the Dual
        refused f on the first call (see `exact_or_none`)."""
        result = exact_or_none(self, f, lambda: self.exact(f, x0, lb, ub, args, kwargs,
                                                           want_value))
        if result is not None:
            return result
        step, _, _ = self.prepare(x0) if self.needs_prepare else (None, None, None)
        return fd_jacobian(f, x0, args, kwargs, _FD_METHODS["central"], step, lb, ub,
                           self.vectorized, self.check_finite, want_value, "central",
                           self.chunk or 0, None, self.workers)

    def exact(self, f, x0, lb, ub, args, kwargs, want_value):
        """method='dual': f is evaluated at x only, so bounds need only hold there.
        (dual_jacobian caps chunk at x's size: a larger one is one pass.)"""
        if self.check_finite:
            check_finite_x(x0)
        _require_inside(x0, lb, ub)
        if self.method == "reverse":
            value, J, fshape = _reverse.reverse_jacobian(f, x0, args, kwargs,
                                                         want_value or self.check_finite)
        else:
            value, J, fshape = _dual.dual_jacobian(f, x0, args, kwargs, self.chunk,
                                                   want_value or self.check_finite)
        if self.check_finite:
            _check_dual_output(value, J, fshape, x0.shape)
        return (value if want_value else None), J, fshape


# What f raises when it cannot run on Duals: dualfd's refusals (TypeError), NumPy's
# (a ufunc or linalg routine without an object loop: TypeError), a missing ndarray
# method (AttributeError).  Other errors are f's own and propagate.
_DUAL_REFUSALS = (TypeError, AttributeError)


def exact_or_none(owner, f, exact):
    """The result of exact(), the Dual computation, or None where central
    differences must serve instead.  owner.method 'dual' always runs exact();
    'auto' decides on its first call, kept in owner._auto: "dual" if f runs on
    Duals, else "central" with one AutoWarning naming what was refused.  Later
    calls reuse the choice, so a refusal there raises as with 'dual'."""
    if owner.method != "auto" or owner._auto == "dual":
        return exact()
    if owner._auto == "central":
        return None
    try:
        result = exact()
    except _DUAL_REFUSALS as e:
        owner._auto = "central"
        name = getattr(f, "__qualname__", None) or type(f).__name__
        warnings.warn(f"method='auto': {name} does not run on dualfd's Dual ({e}); "
                      "using central differences for this transformation",
                      AutoWarning, stacklevel=3)   # the caller of the transform
        return None
    owner._auto = "dual"
    return result


def _rebuild_options(args, extra):
    return _Options(*args, **extra)


class AutoWarning(UserWarning):
    """method='auto' fell back from exact duals to central differences."""


def _check_dual_output(value, D, fshape, xshape):
    """check_finite for method='dual': f's values, then its derivatives (D has
    shape fshape + xshape, or fshape for a jvp)."""
    bad = first_nonfinite(value)
    if bad >= 0:
        v = np.asarray(value, dtype=np.float64).reshape(-1)[bad]
        raise ValueError(f"f returned a non-finite value ({float(v)!r}) at "
                         f"f{index_str(bad, fshape)} when evaluated at x "
                         "(pass check_finite=False to allow it)")
    bad = first_nonfinite(D)
    if bad >= 0:
        d = np.asarray(D).reshape(-1)[bad]
        if xshape is None:
            what = f"the directional derivative of f{index_str(bad, fshape)}"
        else:
            i, j = divmod(bad, max(1, int(np.prod(xshape))))
            what = f"d f{index_str(i, fshape)} / d x{index_str(j, xshape)}"
        raise ValueError(f"{what} is {float(d)!r}: f is not differentiable at x (sqrt, "
                         "log, arcsin ... at the edge of their domain do this); pass "
                         "check_finite=False to allow it")


def _require_inside(x0, lb, ub):
    """ValueError naming the first entry of x0 outside [lb, ub] (None: no bounds)."""
    if lb is None:
        return
    inside = (lb <= x0) & (x0 <= ub)
    if np.all(inside):
        return
    i = int(np.argmin(inside))
    raise ValueError(f"x{index_str(i, x0.shape)} = {float(x0.reshape(-1)[i])!r} lies "
                     f"outside bounds [{float(lb.reshape(-1)[i])!r}, "
                     f"{float(ub.reshape(-1)[i])!r}]")


def _shaped(J, x):
    """A 0-d result for a scalar x is returned as a float (as Transform does)."""
    if np.ndim(J) == 0 and not isinstance(x, np.ndarray):
        return float(J)
    return J


class _Transformed:
    """Base of the callables that jvp and hessian return: instances of a
    module-level class, not closures, so that they pickle with every protocol
    and reach process pools whenever f does (as Transform does)."""

    kind = ""
    workers = None    # the dualfd._workers.Workers that evaluates f, if any

    def __init__(self, f, method):
        self.f = f
        self.method = method
        name = getattr(f, "__name__", type(f).__name__)
        self.__name__ = self.__qualname__ = f"{self.kind}({name})"
        self.__wrapped__ = f
        self.__doc__ = getattr(f, "__doc__", None)
        self.__module__ = getattr(f, "__module__", None)

    def __repr__(self):
        return f"<dualfd.{self.kind} of {self.f!r}, method={self.method!r}>"

    def __getstate__(self):
        # as Transform: a copy in another process evaluates f there, serially
        state = dict(self.__dict__)
        state.pop("workers", None)
        return state

    def close(self):
        """Shut down the worker processes this transform started (workers=int);
        a later call starts new ones."""
        if self.workers is not None:
            self.workers.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


_OPTIONS_DOC = """\
    argnums : int or tuple of int, optional
        Which positional argument of f to differentiate (default 0), as in JAX.
        The transform then takes f's own arguments, ``t(*args, **kwargs)``; a
        tuple gives a tuple of derivatives, one per argument (they travel as one
        flat vector of float64; `bounds` and array steps then do not apply).
    has_aux : bool, optional
        f returns ``(value, aux)``: only value is differentiated, and the
        transform returns ``(derivative, aux)`` (value_and_grad: ``((value,
        aux), grad)``), aux from one more call of f at the point itself.
    method : {'central', 'forward', 'backward', 'complex', 'adaptive', 'dual', 'reverse', 'auto'}, optional
        Finite-difference stencil, 'adaptive' for extrapolated central
        differences with an error estimate per entry (see `rtol`), 'dual' for
        exact forward-mode derivatives (one pass per chunk of inputs),
        'reverse' for exact reverse-mode ones (f traced once, one backward sweep
        per output: the cheap choice for a gradient of many inputs), or
        'auto': 'dual' where f runs on Duals,
        else 'central' (decided on the first call and kept; the fallback warns
        with `AutoWarning` naming what the Dual refused).  'complex' needs an f
        that carries complex numbers through.
        SciPy's names are accepted: '2-point' (forward), '3-point' (central),
        'cs' (complex).
    step : float or array_like, optional
        Absolute steps, broadcastable to x.  Default: ``eps**(1/2) * max(1, |x|)``
        (forward/backward), ``eps**(1/3) * max(1, |x|)`` (central), 1e-20 (complex).
    bounds : (lb, ub), scipy.optimize.Bounds or sequence of (lo, hi), optional
        f is never evaluated outside ``lb <= x <= ub``: steps that would leave the
        box turn into one-sided stencils.  lb and ub broadcast to x; n pairs
        (None: unbounded), as `scipy.optimize.minimize` takes, give one per
        entry of x.  An argument that reads both ways for this x (two pairs for
        an x of two entries) raises ValueError.
    vectorized : bool, optional
        Finite-difference methods only: f accepts ``x.shape + (k,)`` and
        returns ``f_shape + (k,)``; the stencil points go in blocks of at most
        `chunk` per call.
    check_finite : bool, optional
        Raise ValueError on non-finite x or f values (default True).
    chunk : int, optional
        Bounds memory to ~ chunk x size(x).  method='dual' or 'auto': tangent
        directions per pass (default 128); vectorized=True: points per call of f
        (default: as many as fit in 32 MB, ``2**22 // x.size``).  Any positive
        int; more than needed means one pass.
    workers : int, map-like callable, Executor or dask Client, optional
        Where finite differences evaluate f (default None: here, one point after
        another).  An int: that many local processes (-1: all cores), started on
        the first call and reused until ``close()``; a map-like
        ``workers(func, iterable)`` such as ``multiprocessing.Pool.map`` (SciPy's
        convention); a ``concurrent.futures.Executor`` (process or thread pool,
        ``MPIPoolExecutor``, ``Client.get_executor()``); a
        ``dask.distributed.Client``.  The points go in one task per worker; the
        result is bitwise the serial one.  f and its arguments must pickle for
        processes (a dask Client also takes lambdas and closures).
    rtol, atol : float, optional
        method='adaptive' only: the target of each entry's error estimate,
        ``atol + rtol * scale`` with scale the largest entry of its column
        (default rtol=1e-10, atol=0).  Per column, central differences at steps
        ``2**-7 * max(1, |x_j|) / 2**k`` feed a Richardson tableau until the
        estimate meets the target, or reaches f's rounding floor (about
        ``eps * |f| / h``), which no step beats; one-sided near bounds.  An entry
        that does neither raises `AccuracyError` (f is not smooth there), unless
        `full_output` is set.  Cost: 4 to 8 points per column for smooth f.
    order : {2, 4, 6, 8}, optional
        method='central' only: the order of the stencil, 2 (default) or wider
        central stencils of ``order`` points with steps ``eps**(1/(order + 1)) *
        max(1, |x|)`` (one-sided of the same order near a bound): a cheap middle
        ground between 'central' and 'adaptive' for smooth, well-scaled f.  Where
        the stencil of order - 2 on the same points differs by more than 1e-4 of
        the column's scale, the step is too large for f: `AccuracyError`.
    full_output : bool, optional
        method='adaptive' only: return ``(result, AdaptiveInfo)``, with the error
        estimate of every entry (``info.error``, shaped like the result),
        ``info.converged``, and the evaluation count ``info.nfev``; no
        `AccuracyError` is raised then."""


def jacobian(f, *, argnums=0, has_aux=False, method="central", step=None,
             bounds=None, vectorized=False, check_finite=True, chunk=None,
             workers=None, sparsity=None, check_sparsity=False, rtol=None, atol=None,
             order=None, full_output=False):
    """Return a function computing the Jacobian of `f`.

    Parameters
    ----------
    f : callable
        ``f(x, *args, **kwargs)`` returning a scalar or an array.
{options}

    sparsity : 'auto', bool array_like or scipy.sparse matrix, optional
        The entries of J that may be non-zero, as an (m, n) pattern (m = f(x).size,
        n = x.size) or a boolean array of shape ``f(x).shape + x.shape``; 'auto'
        detects it from f by tracing (`jacobian_sparsity`), once per input shape.
        Columns are colored so that no two of a color share a row, and f is
        evaluated per color instead of per column (FD: one point per color and
        stencil point; 'dual': one tangent direction per color).  J is then a
        ``scipy.sparse.csr_array`` of shape (m, n) holding exactly the pattern's
        entries (SciPy is imported only then).  A pattern that misses a non-zero of
        f gives wrong entries: method='dual' detects this for free and raises;
        for finite differences pass ``check_sparsity=True`` while unsure.
    check_sparsity : bool, optional
        With `sparsity`: compare ``J @ v`` with f's directional derivative along
        a random v (one more Dual pass, or two more calls of f) and raise
        ValueError where a row disagrees.

    Returns
    -------
    jac : callable
        ``jac(x, *args, **kwargs)`` -> ndarray of shape ``f(x).shape + x.shape``:
        ``J[i..., j...] = d f[i...] / d x[j...]`` (with `sparsity`: a
        ``scipy.sparse.csr_array`` of shape (m, n)).

    See Also
    --------
    grad : the gradient of a scalar f, shaped like x.
    jvp : ``J @ v`` without forming J.
    jacobian_sparsity : the pattern that ``sparsity='auto'`` detects.
    check_grad : compare a hand-written Jacobian with a numeric one.

    Examples
    --------
    >>> import numpy as np, dualfd as dfd
    >>> J = dfd.jacobian(lambda x: np.stack([x[0] * x[1], np.sin(x[0])]))
    >>> np.round(J(np.array([1.0, 2.0])), 6)
    array([[2.      , 1.      ],
           [0.540302, 0.      ]])
    """
    return _argnums.wrap(_jacobian, "jacobian", f, argnums, has_aux, vectorized, dict(
        method=method, step=step, bounds=bounds, vectorized=vectorized,
        check_finite=check_finite, chunk=chunk, workers=workers, sparsity=sparsity,
        check_sparsity=check_sparsity, rtol=rtol, atol=atol, order=order,
        full_output=full_output))


def _jacobian(f, method, step, bounds, vectorized, check_finite, chunk, workers,
              sparsity, check_sparsity, rtol, atol, order, full_output):
    opts = _Options("jacobian", f, method, step, bounds, vectorized, check_finite,
                    chunk, workers, rtol, atol, order, full_output)
    sparsity = _sparsity(sparsity)
    if sparsity is not None and method == "reverse":
        raise ValueError("sparsity applies to forward mode and finite differences "
                         "(one pass per color); method='reverse' sweeps one row of J "
                         "at a time: use method='dual' with sparsity, or drop it")
    if sparsity is not None and opts.extrapolated:
        raise ValueError("sparsity applies to the fixed stencils; method='adaptive' "
                         "and order > 2 evaluate dense columns: remove sparsity")
    check_sparsity = _flag(check_sparsity, "check_sparsity")
    if sparsity is not None:
        from ._sparse import SparseJacobian
        return SparseJacobian(f, opts, sparsity, check_sparsity)
    if check_sparsity:
        raise ValueError("check_sparsity applies with sparsity=; pass a pattern or "
                         "sparsity='auto'")
    if opts.extrapolated:
        return _adapt.Extrapolated(f, 0, opts)
    return Transform(f, 0, opts, opts.prepare, opts.dual)


def grad(f, *, argnums=0, has_aux=False, method="central", step=None, bounds=None,
         vectorized=False, check_finite=True, chunk=None, workers=None, rtol=None,
         atol=None, order=None, full_output=False):
    """Return a function computing the gradient of scalar-valued `f`.

    Parameters
    ----------
    f : callable
        ``f(x, *args, **kwargs)`` returning a scalar.
{options}

    Returns
    -------
    g : callable
        ``g(x, *args, **kwargs)`` -> ndarray shaped like x (a float for a float x).
        Drops into ``scipy.optimize.minimize(f, x0, jac=dfd.grad(f))``.

    See Also
    --------
    value_and_grad : f(x) and the gradient together (SciPy's ``jac=True``).
    jacobian : the derivative of a non-scalar f.
    hessian : second derivatives.
    check_grad : test a hand-written gradient.

    Examples
    --------
    >>> import numpy as np, dualfd as dfd
    >>> g = dfd.grad(lambda x: np.sum(x ** 3), method="dual")
    >>> g(np.array([1.0, 2.0]))
    array([ 3., 12.])
    """
    return _argnums.wrap(_grad, "grad", f, argnums, has_aux, vectorized, dict(
        method=method, step=step, bounds=bounds, vectorized=vectorized,
        check_finite=check_finite, chunk=chunk, workers=workers, rtol=rtol, atol=atol,
        order=order, full_output=full_output))


def _grad(f, **options):
    opts = _Options("grad", f, **options)
    if opts.extrapolated:
        return _adapt.Extrapolated(f, 1, opts)
    return Transform(f, 1, opts, opts.prepare, opts.dual)


def value_and_grad(f, *, argnums=0, has_aux=False, method="central", step=None,
                   bounds=None, vectorized=False, check_finite=True, chunk=None,
                   workers=None, rtol=None, atol=None, order=None, full_output=False):
    """Return a function computing ``(f(x), grad f(x))`` together.

    f(x) comes from the stencil when it needs it (forward, backward, dual), so
    it costs nothing extra there.  Use with ``minimize(vg, x0, jac=True)``.

    Parameters
    ----------
    f : callable
        ``f(x, *args, **kwargs)`` returning a scalar.
{options}

    Returns
    -------
    vg : callable
        ``vg(x, *args, **kwargs)`` -> ``(value, gradient)``.

    See Also
    --------
    grad : the gradient alone.

    Examples
    --------
    >>> import numpy as np, dualfd as dfd
    >>> vg = dfd.value_and_grad(lambda x: x @ x, method="forward")
    >>> v, g = vg(np.array([3.0, 4.0]))
    >>> float(v), np.round(g, 5)
    (25.0, array([6., 8.]))
    """
    return _argnums.wrap(_value_and_grad, "value_and_grad", f, argnums, has_aux,
                         vectorized, dict(method=method, step=step, bounds=bounds,
                                          vectorized=vectorized,
                                          check_finite=check_finite, chunk=chunk,
                                          workers=workers, rtol=rtol, atol=atol,
                                          order=order, full_output=full_output))


def _value_and_grad(f, **options):
    opts = _Options("value_and_grad", f, **options)
    if opts.extrapolated:
        return _adapt.Extrapolated(f, 2, opts)
    return Transform(f, 2, opts, opts.prepare, opts.dual)


def jvp(f, *, argnums=0, has_aux=False, method="central", step=None, bounds=None,
        check_finite=True, workers=None, rtol=None, atol=None, full_output=False):
    """Return a function computing ``(f(x), J(x) @ v)`` without forming J.

    With method='dual' this is one pass with a single tangent; with a finite
    difference method one stencil along v (2 or 3 calls of f, 1 for 'complex').

    Parameters
    ----------
    f : callable
        ``f(x, *args, **kwargs)`` returning a scalar or an array.
    argnums : int, optional
        Which positional argument of f x and v stand for; the call is then
        ``jv(x, v, *others, **kwargs)`` with f's other positional arguments in
        order.
    has_aux : bool, optional
        f returns ``(value, aux)``; jv returns ``(f(x), J @ v, aux)``.
    method, bounds, check_finite, workers, rtol, atol, full_output : optional
        As for `jacobian`; with workers, the stencil's points (f(x) and one or two
        points along v) are evaluated in parallel.  method='adaptive' runs its
        sequence along v (full_output: ``((f(x), J @ v), AdaptiveInfo)``).
    step : float or array_like, optional
        A float: the length of the step along v in the max-norm.  An array of
        per-coordinate steps h, broadcastable to x: the step along v is a
        single number t, taken as the largest with ``|t v_i| <= h_i`` for
        every i (a float h gives the same t as the array ``h * ones``).
        Default as for `jacobian` with ``max(1, max|x|)`` as the scale.

    Returns
    -------
    jv : callable
        ``jv(x, v, *args, **kwargs)`` -> ``(f(x), J @ v)``; ``J @ v`` has f's shape.

    See Also
    --------
    jacobian : all of J, n directions at once.
    Dual : the dual numbers behind ``method='dual'``.

    Examples
    --------
    >>> import numpy as np, dualfd as dfd
    >>> jv = dfd.jvp(lambda x: x ** 2, method="dual")
    >>> jv(np.array([1.0, 2.0]), np.array([1.0, 1.0]))[1]
    array([2., 4.])
    """
    return _argnums.wrap(_jvp, "jvp", f, argnums, has_aux, False, dict(
        method=method, step=step, bounds=bounds, check_finite=check_finite,
        workers=workers, rtol=rtol, atol=atol, full_output=full_output))


def _jvp(f, method, step, bounds, check_finite, workers, rtol, atol, full_output):
    if method == "reverse":
        raise ValueError("jvp (J @ v) is forward mode: use method='dual', or vjp for "
                         "reverse mode (u @ J)")
    opts = _Options("jvp", f, method, step, bounds, False, check_finite, None, workers,
                    rtol, atol, None, full_output)
    return _Jvp(f, opts)


class _Jvp(_Transformed):
    """The callable `jvp` returns: ``jv(x, v, *args, **kwargs)``."""

    kind = "jvp"

    def __init__(self, f, opts):
        super().__init__(f, opts.method)
        self.opts = opts
        self.workers = opts.workers

    def __call__(self, x, v, *args, **kwargs):
        opts, f = self.opts, self.f
        x0 = as_point(x)
        step, lb, ub = opts.prepare(x0) if opts.needs_prepare else (None, None, None)
        v0 = as_point(v, "v")
        if v0.shape != x0.shape:
            raise ValueError(f"v must have x's shape {x0.shape}; got {v0.shape}")
        if opts.check_finite:
            check_finite_x(x0)
            check_finite_x(v0, "v")
        _require_inside(x0, lb, ub)   # every method evaluates f at x itself
        result = None
        if opts.method == "adaptive":
            value, t, info = _adapt.adaptive_jvp(f, x0, v0, args, kwargs, opts, lb, ub)
            t, info.error = _shaped(t, x), _shaped(info.error, x)
            if opts.full_output:
                return (value, t), info
            _adapt.check((value, t), info, opts, np.shape(t), ())
            return value, t
        if opts.method in _DUAL_METHODS:
            result = exact_or_none(opts, f, lambda: _dual_jvp(opts, f, x0, v0, args,
                                                              kwargs))
        if result is None:
            if opts.method == "auto":
                opts = opts.with_method("central")
            if step is not None and step.ndim:
                opts = opts.with_step(_step_along(step, v0))
            result = _fd_jvp(opts, f, x0, v0, lb, ub, args, kwargs)
        value, t = result
        return value, _shaped(t, x)


def _dual_jvp(opts, f, x0, v0, args, kwargs):
    value, t = _dual.dual_jvp(f, x0, v0, args, kwargs)
    if opts.check_finite:
        _check_dual_output(value, np.asarray(t), np.shape(t), None)
    return value, t


def _step_along(h, v):
    """The max-norm length of the longest step t*v with |t v_i| <= h_i for
    all i: per-coordinate steps reduced to the one step a jvp takes."""
    moving = v != 0
    if not moving.any():
        return 1.0   # v = 0: no step is taken
    av = np.abs(v[moving])
    return float(np.min(h[moving] / av) * np.max(av))


def _fd_jvp(opts, f, x0, v, lb, ub, args, kwargs):
    """One finite-difference stencil along v."""
    def call(point, where=None, r=None):
        if r is None:
            r = f(point, *args, **kwargs)
        a = output_array(r, "fiubc")
        if a.dtype.kind == "c" and opts.method != "complex":
            raise TypeError(COMPLEX_OUTPUT)   # as jacobian does
        if isinstance(r, np.ndarray):
            # f may return the same buffer at every call: keep a copy
            r = r.copy()
            a = np.asarray(r)
        if opts.check_finite and (
                (bad := first_nonfinite(a)) >= 0 if a.dtype.kind != "c" else
                not np.all(np.isfinite(a))):
            if a.dtype.kind == "c":
                bad = int(np.argmin(np.isfinite(a).reshape(-1)))
            value = a.reshape(-1)[bad]
            value = complex(value) if a.dtype.kind == "c" else float(value)
            raise ValueError(
                f"f returned a non-finite value ({value!r}) at "
                f"f{index_str(bad, a.shape)} when evaluated at "
                f"{where or 'a point of the stencil along v'}; pass "
                "check_finite=False to allow it")
        return r, a

    vmax = float(np.max(np.abs(v))) if v.size else 0.0
    if opts.method == "complex":
        if vmax == 0.0:
            r, a = call(x0.copy())
            return r, np.zeros(a.shape)
        t = (1e-20 if opts.step is None else float(opts.step)) / vmax
        _, a = call(x0 + 1j * t * v)
        if a.dtype.kind != "c":
            raise TypeError("method='complex' needs f to carry complex numbers "
                            f"through, but f returned {a.dtype} for a complex x")
        value = a.real.copy() if a.ndim else float(a.real)
        d = a.imag / t
        # non-analytic f (abs, .real, ...) gives a wrong complex step silently
        check_jvp(f, x0, v, args, kwargs, d, t * v, lb, ub)
        return value, d

    if vmax == 0.0:
        r0, a0 = call(x0.copy(), "x")
        return r0, np.zeros(a0.shape)
    scale = max(1.0, float(np.max(np.abs(x0)))) if x0.size else 1.0
    t = (default_rstep(opts.method) * scale if opts.step is None
         else float(opts.step)) / vmax
    # Stencils in order of preference, as offsets along v with their weights
    # (see csrc/fd.c); the first that stays within the bounds is used.
    stencils = {
        "forward": [((1,), (1,), -1), ((-1,), (-1,), 1)],
        "backward": [((-1,), (-1,), 1), ((1,), (1,), -1)],
        "central": [((1, -1), (0.5, -0.5), 0), ((1, 2), (2, -0.5), -1.5),
                    ((-1, -2), (-2, 0.5), 1.5)],
    }[opts.method]
    for offsets, weights, w0 in stencils:
        points = [x0 + o * t * v for o in offsets]
        if lb is None or all(np.all((lb <= p) & (p <= ub)) for p in points):
            break
    else:
        raise ValueError("bounds leave no room for a finite-difference step along v "
                         "at x; pass a smaller step")
    names = ["x"] + [f"x {'+' if o > 0 else '-'} {abs(o) * t:.3g}*v" for o in offsets]
    values = [None] * len(names)
    if opts.workers is not None:
        # f(x) and the stencil's points at once, one per worker
        F = opts.workers.run(f, args, kwargs, np.stack([x0] + points, axis=-1), True,
                             names.__getitem__)
        values = [F[..., k] for k in range(len(names))]
    r0, a0 = call(x0.copy(), "x", values[0])
    total = w0 * a0.astype(np.float64)
    for o, p, w, where, r in zip(offsets, points, weights, names[1:], values[1:]):
        _, a = call(p, where, r)
        if a.shape != a0.shape:
            raise ValueError(f"f returned shape {a.shape} at one point and {a0.shape} "
                             "at another; its output shape must not depend on x")
        total = total + w * a
    return r0, total / t


for _fn in (jacobian, grad, value_and_grad):
    _fn.__doc__ = _fn.__doc__.format(options=_OPTIONS_DOC)
del _fn

# argnums/has_aux adapt the transforms above (their class derives from _Transformed);
# _adapt's transform derives from _Transformed too
from . import _adapt, _argnums  # noqa: E402


def vjp(f, *, method="reverse", bounds=None, check_finite=True):
    """Return a function computing ``(f(x), u @ J(x))``, a vector-Jacobian product.

    With method='reverse' (the default) f is traced once and one backward sweep
    gives ``u @ J`` at about the cost of a few calls of f, whatever the size of x;
    other methods compute J and contract it.

    Parameters
    ----------
    f : callable
        ``f(x, *args, **kwargs)`` returning an array (or a scalar).
    method : {'reverse', 'dual', 'central', 'forward', 'backward', 'complex'}, optional
        As for `jacobian`.
    bounds, check_finite : optional
        As for `jacobian`; f is evaluated at x only with 'reverse' and 'dual'.

    Returns
    -------
    vj : callable
        ``vj(x, u, *args, **kwargs)`` -> ``(f(x), u @ J)``: u has f's shape, the
        product has x's shape.

    See Also
    --------
    grad : the vjp of a scalar f with u = 1.
    jvp : ``J @ v``, forward mode.

    Examples
    --------
    >>> import numpy as np, dualfd as dfd
    >>> vj = dfd.vjp(lambda x: np.sin(x) * x[0])
    >>> value, g = vj(np.array([1.0, 2.0]), np.array([1.0, 0.0]))
    >>> np.round(g, 6)
    array([1.682942, 0.      ])
    """
    method = canonical_method(method)
    if method in ("adaptive", "auto"):
        raise ValueError(f"vjp: method must be 'reverse', 'dual' or a fixed "
                         f"finite-difference stencil; got {method!r}")
    opts = _Options("vjp", f, method, None, bounds, False, check_finite, None)
    return _Vjp(f, opts)


class _Vjp(_Transformed):
    """The callable `vjp` returns: ``vj(x, u, *args, **kwargs)``."""

    kind = "vjp"

    def __init__(self, f, opts):
        super().__init__(f, opts.method)
        self.opts = opts

    def __call__(self, x, u, *args, **kwargs):
        opts, f = self.opts, self.f
        x0 = as_point(x)
        _, lb, ub = opts.prepare(x0) if opts.needs_prepare else (None, None, None)
        u0 = np.asarray(u, dtype=np.float64)
        if opts.check_finite:
            check_finite_x(x0)
            check_finite_x(u0, "u")
        if opts.method == "reverse":
            _require_inside(x0, lb, ub)
            value, g = _reverse.reverse_vjp(f, x0, u0, args, kwargs)
            if opts.check_finite:
                _check_dual_output(value, np.asarray(g), np.shape(g), None)
            return value, _shaped(g, x)
        value, J, fshape = opts.dual(f, x0, lb, ub, args, kwargs, True) \
            if opts.method == "dual" else fd_jacobian(
                f, x0, args, kwargs, opts.code, None, lb, ub, False,
                opts.check_finite, True, opts.method, 0, None, None)
        fshape = tuple(fshape)
        if u0.shape != fshape:
            raise ValueError(f"u must have f's shape {fshape}; got {u0.shape}")
        g = u0.reshape(-1) @ np.asarray(J).reshape(u0.size, -1)
        return value, _shaped(g.reshape(x0.shape), x)
