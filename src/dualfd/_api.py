"""grad, jacobian, value_and_grad, jvp: validate the options once, then dispatch.

Options are checked when the transformation is built (``dfd.grad(f, ...)``), so
the returned callable only converts x and runs the engine: its overhead is a
few microseconds, which matters for small problems inside an optimizer loop.
"""

from __future__ import annotations

import functools
import numbers

import numpy as np

from . import _dual
from ._fd import METHODS as _FD_METHODS
from ._fd import (Transform, as_point, check_finite_x, default_rstep,
                  first_nonfinite, index_str)

__all__ = ["grad", "jacobian", "value_and_grad", "jvp"]

METHODS = ("central", "forward", "backward", "complex", "dual")
OPTIONS = ("method", "step", "bounds", "vectorized", "check_finite", "chunk")


class _Options:
    """Validated options of one transformation."""

    __slots__ = ("method", "code", "step", "lb", "ub", "vectorized",
                 "check_finite", "chunk")

    def __init__(self, fname, f, method, step, bounds, vectorized, check_finite,
                 chunk):
        if not callable(f):
            raise TypeError(f"{fname}: f must be callable; got {type(f).__name__}")
        if not isinstance(method, str) or method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}; "
                             f"got {method!r}")
        self.method = method
        self.code = _FD_METHODS.get(method, -1)
        self.step = None if step is None else _positive_array(step, "step")
        if step is not None and method == "dual":
            raise ValueError("step does not apply to method='dual', which takes no "
                             "steps; remove it or choose a finite-difference method")
        self.lb, self.ub = _bounds(bounds)
        self.vectorized = _flag(vectorized, "vectorized")
        self.check_finite = _flag(check_finite, "check_finite")
        if chunk is not None:
            if method != "dual":
                raise ValueError("chunk applies only to method='dual' (the number "
                                 f"of tangent directions per pass); got method={method!r}")
            if (isinstance(chunk, bool) or not isinstance(chunk, numbers.Integral)
                    or chunk < 1):
                raise ValueError(f"chunk must be a positive integer; got {chunk!r}")
            chunk = int(chunk)
        self.chunk = chunk

    def prepare(self, x0):
        """step and bounds broadcast to x0's shape (only called when set)."""
        step = lb = ub = None
        if self.step is not None:
            step = _broadcast(self.step, x0.shape, "step")
        if self.lb is not None:
            lb = _broadcast(self.lb, x0.shape, "bounds[0] (the lower bound)")
            ub = _broadcast(self.ub, x0.shape, "bounds[1] (the upper bound)")
        return step, lb, ub

    def dual(self, f, x0, lb, ub, args, kwargs, want_value):
        """method='dual': f is evaluated at x only, so bounds need only hold there."""
        if self.check_finite:
            check_finite_x(x0)
        _require_inside(x0, lb, ub)
        value, J, fshape = _dual.dual_jacobian(f, x0, args, kwargs, self.chunk,
                                               want_value or self.check_finite)
        if self.check_finite:
            _check_dual_output(value, J, fshape, x0.shape)
        return (value if want_value else None), J, fshape


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


def _flag(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False; got {value!r}")
    return bool(value)


def _positive_array(value, name):
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{name} must be a positive float or an array of them; "
                        f"got {type(value).__name__}") from e
    if not np.all(np.isfinite(a) & (a > 0)):
        raise ValueError(f"{name} must be finite and positive; got {value!r}")
    return np.ascontiguousarray(a)


def _bounds(bounds):
    if bounds is None:
        return None, None
    if isinstance(bounds, (str, bytes)) or not hasattr(bounds, "__len__") \
            or len(bounds) != 2:
        raise ValueError("bounds must be a pair (lb, ub) of floats or arrays "
                         f"broadcastable to x; got {bounds!r}")
    try:
        lb = np.asarray(bounds[0], dtype=np.float64)
        ub = np.asarray(bounds[1], dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise TypeError("bounds must be a pair (lb, ub) of real numbers or arrays") from e
    if np.isnan(lb).any() or np.isnan(ub).any():
        raise ValueError("bounds must not contain nan; use -inf/inf for no bound")
    try:
        below = np.broadcast_arrays(lb, ub)
    except ValueError as e:
        raise ValueError(f"bounds: lb of shape {lb.shape} and ub of shape {ub.shape} "
                         "do not broadcast together") from e
    if np.any(below[0] > below[1]):
        raise ValueError("bounds: lb must not exceed ub; lb > ub at index "
                         f"{tuple(int(i) for i in np.argwhere(below[0] > below[1])[0])}")
    if np.all(np.isneginf(lb)) and np.all(np.isposinf(ub)):
        return None, None
    return np.ascontiguousarray(lb), np.ascontiguousarray(ub)


def _broadcast(a, shape, name):
    if a.shape == shape:
        return a
    try:
        return np.ascontiguousarray(np.broadcast_to(a, shape))
    except ValueError:
        raise ValueError(f"{name} has shape {a.shape}, which does not broadcast to "
                         f"x's shape {shape}") from None


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


def _wraps(f, kind):
    def deco(g):
        functools.update_wrapper(g, f, assigned=("__module__", "__doc__"), updated=())
        name = getattr(f, "__name__", type(f).__name__)
        g.__name__ = f"{kind}({name})"
        g.__qualname__ = g.__name__
        g.__wrapped__ = f
        return g
    return deco


_OPTIONS_DOC = """\
    method : {'central', 'forward', 'backward', 'complex', 'dual'}, optional
        Finite-difference stencil, or 'dual' for exact forward-mode derivatives.
        'complex' needs an f that carries complex numbers through.
    step : float or array_like, optional
        Absolute steps, broadcastable to x.  Default: ``eps**(1/2) * max(1, |x|)``
        (forward/backward), ``eps**(1/3) * max(1, |x|)`` (central), 1e-20 (complex).
    bounds : (lb, ub), optional
        f is never evaluated outside ``lb <= x <= ub``: steps that would leave the
        box turn into one-sided stencils.
    vectorized : bool, optional
        f accepts ``x.shape + (k,)`` and returns ``f_shape + (k,)``: all stencil
        points go in one call.
    check_finite : bool, optional
        Raise ValueError on non-finite x or f values (default True).
    chunk : int, optional
        method='dual' only: tangent directions per pass (memory ~ chunk x size)."""


def jacobian(f, *, method="central", step=None, bounds=None, vectorized=False,
             check_finite=True, chunk=None):
    """Return a function computing the Jacobian of `f`.

    Parameters
    ----------
    f : callable
        ``f(x, *args, **kwargs)`` returning a scalar or an array.
{options}

    Returns
    -------
    jac : callable
        ``jac(x, *args, **kwargs)`` -> ndarray of shape ``f(x).shape + x.shape``:
        ``J[i..., j...] = d f[i...] / d x[j...]``.

    Examples
    --------
    >>> import numpy as np, dualfd as dfd
    >>> J = dfd.jacobian(lambda x: np.stack([x[0] * x[1], np.sin(x[0])]))
    >>> np.round(J(np.array([1.0, 2.0])), 6)
    array([[2.      , 1.      ],
           [0.540302, 0.      ]])
    """
    opts = _Options("jacobian", f, method, step, bounds, vectorized, check_finite,
                    chunk)
    return Transform(f, 0, opts, opts.prepare, opts.dual)


def grad(f, *, method="central", step=None, bounds=None, vectorized=False,
         check_finite=True, chunk=None):
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

    Examples
    --------
    >>> import numpy as np, dualfd as dfd
    >>> g = dfd.grad(lambda x: np.sum(x ** 3), method="dual")
    >>> g(np.array([1.0, 2.0]))
    array([ 3., 12.])
    """
    opts = _Options("grad", f, method, step, bounds, vectorized, check_finite, chunk)
    return Transform(f, 1, opts, opts.prepare, opts.dual)


def value_and_grad(f, *, method="central", step=None, bounds=None, vectorized=False,
                   check_finite=True, chunk=None):
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

    Examples
    --------
    >>> import numpy as np, dualfd as dfd
    >>> vg = dfd.value_and_grad(lambda x: x @ x, method="forward")
    >>> v, g = vg(np.array([3.0, 4.0]))
    >>> float(v), np.round(g, 5)
    (25.0, array([6., 8.]))
    """
    opts = _Options("value_and_grad", f, method, step, bounds, vectorized,
                    check_finite, chunk)
    return Transform(f, 2, opts, opts.prepare, opts.dual)


def jvp(f, *, method="central", step=None, bounds=None, check_finite=True):
    """Return a function computing ``(f(x), J(x) @ v)`` without forming J.

    With method='dual' this is one pass with a single tangent; with a finite
    difference method one stencil along v (2 or 3 calls of f, 1 for 'complex').

    Parameters
    ----------
    f : callable
        ``f(x, *args, **kwargs)`` returning a scalar or an array.
    method, bounds, check_finite
        As for `jacobian`.
    step : float, optional
        Length of the step along v in the max-norm; default as for `jacobian`
        with ``max(1, max|x|)`` as the scale.

    Returns
    -------
    jv : callable
        ``jv(x, v, *args, **kwargs)`` -> ``(f(x), J @ v)``; ``J @ v`` has f's shape.

    Examples
    --------
    >>> import numpy as np, dualfd as dfd
    >>> jv = dfd.jvp(lambda x: x ** 2, method="dual")
    >>> jv(np.array([1.0, 2.0]), np.array([1.0, 1.0]))[1]
    array([2., 4.])
    """
    opts = _Options("jvp", f, method, step, bounds, False, check_finite, None)
    if opts.step is not None and opts.step.ndim:
        raise ValueError("jvp: step must be a single float (the step length along v)")

    @_wraps(f, "jvp")
    def jv(x, v, *args, **kwargs):
        x0 = as_point(x)
        _, lb, ub = opts.prepare(x0)
        v0 = as_point(v, "v")
        if v0.shape != x0.shape:
            raise ValueError(f"v must have x's shape {x0.shape}; got {v0.shape}")
        if opts.check_finite:
            check_finite_x(x0)
            check_finite_x(v0, "v")
        _require_inside(x0, lb, ub)   # every method evaluates f at x itself
        if opts.method == "dual":
            value, t = _dual.dual_jvp(f, x0, v0, args, kwargs)
            if opts.check_finite:
                _check_dual_output(value, np.asarray(t), np.shape(t), None)
        else:
            value, t = _fd_jvp(opts, f, x0, v0, lb, ub, args, kwargs)
        return value, _shaped(t, x)
    return jv


def _fd_jvp(opts, f, x0, v, lb, ub, args, kwargs):
    """One finite-difference stencil along v."""
    def call(point):
        r = f(point, *args, **kwargs)
        a = np.asarray(r)
        if a.dtype.kind not in "fiubc":
            raise TypeError(f"f must return numbers; got {type(r).__name__}")
        if opts.check_finite and not np.all(np.isfinite(a)):
            raise ValueError("f returned a non-finite value along the jvp stencil "
                             "(pass check_finite=False to allow it)")
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
        from ._complex_guard import check_jvp
        check_jvp(f, x0, v, args, kwargs, d, t * v, lb, ub)
        return value, d

    r0, a0 = call(x0.copy())
    if vmax == 0.0:
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
    total = w0 * a0.astype(np.float64)
    for p, w in zip(points, weights):
        _, a = call(p)
        if a.shape != a0.shape:
            raise ValueError(f"f returned shape {a.shape} at one point and {a0.shape} "
                             "at another; its output shape must not depend on x")
        total = total + w * a
    return r0, total / t


for _fn in (jacobian, grad, value_and_grad):
    _fn.__doc__ = _fn.__doc__.format(options=_OPTIONS_DOC)
del _fn
