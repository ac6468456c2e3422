# Part of dualfd._dual._core (included by _core.pyx): reductions (sum, mean, prod, max,
# var, std, cumsum, cumprod, average, ...), sort and partition, and the functions of
# values only (argmax, argsort, nonzero, any, ...), which return plain NumPy results.
#
# Ties: max, min, ptp, sort and partition are piecewise linear; where equal values carry
# different tangents the result depends on the sign of the step, so they raise
# ValueError there.  Equal values with equal tangents are fine (x = [a, a]).

_normalize_axis_index = np.lib.array_utils.normalize_axis_index




def _sum(a, axis=None, dtype=None, out=None, keepdims=False, **kw):
    if dtype is not None or out is not None or kw:
        _unsupported_args("sum", dtype=dtype, out=out, **kw)
    cdef Dual d = _c(_as_dual(a)), r
    cdef double *work = NULL
    if axis is None and not keepdims:
        # the sum of everything in C: the objective-function case, sum(r ** 2)
        r = _empty((), 1, d.k)
        if d.n > DFD_SUM_BLOCK:
            work = <double *>PyMem_Malloc(max(d.k, 1) * sizeof(double))
            if work == NULL:
                raise MemoryError()
        dfd_sum(d.n, d.k, d.v, d.t, r.v, r.t, work)
        PyMem_Free(work)
        return r
    ax = _axes(axis, d.ndim)
    return _from_arrays(_add_reduce(_view(d, False, False), axis=ax, keepdims=keepdims),
                        _add_reduce(_view(d, True, False), axis=ax, keepdims=keepdims),
                        d.k)

def _mean(a, axis=None, dtype=None, out=None, keepdims=False, **kw):
    _unsupported_args("mean", dtype=dtype, out=out, **kw)
    d = _as_dual(a)
    ax = _axes(axis, d.ndim)
    return _from_arrays(np.mean(d.value, axis=ax, keepdims=keepdims),
                        np.mean(d.tangent, axis=ax, keepdims=keepdims), d.k)

cdef tuple _reduce_prep(Dual d, axis, keepdims):
    """Move the reduced axes last and merge them: value (r, m), tangent (r, m, k),
    and the result shape."""
    nd = d.ndim
    ax = _axes(axis, nd)
    rest = [i for i in range(nd) if i not in ax]
    V = np.transpose(d.value, rest + list(ax))
    T = np.transpose(d.tangent, rest + list(ax) + [nd])
    rshape = tuple(d._shape[i] for i in rest)
    m = 1
    for i in ax:
        m *= d._shape[i]
    V = V.reshape(rshape + (m,))       # (-1 cannot be inferred when rshape holds a 0)
    T = T.reshape(rshape + (m, d.k))
    if keepdims:
        rshape = tuple(1 if i in ax else d._shape[i] for i in range(nd))
    return V, T, rshape

def _prod(a, axis=None, dtype=None, out=None, keepdims=False, **kw):
    _unsupported_args("prod", dtype=dtype, out=out, **kw)
    if _o2_on():
        return _o2_prod(a, axis, keepdims)
    d = _as_dual(a)
    V, T, rshape = _reduce_prep(d, axis, keepdims)
    m = V.shape[-1]
    if m == 0:
        return _from_arrays(np.ones(rshape), 0.0, d.k)
    # d prod = sum_i (prod_{j != i} x_j) t_i, with exclusive prefix and suffix
    # products so that zeros in x are handled exactly (no division).
    ones = np.ones(V.shape[:-1] + (1,))
    pre = np.cumprod(np.concatenate([ones, V[..., :m - 1]], axis=-1), axis=-1)
    suf = np.cumprod(np.concatenate([ones, V[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    value = np.prod(V, axis=-1)
    tangent = np.einsum("...m,...mk->...k", pre * suf, T)
    return _from_arrays(value.reshape(rshape), tangent.reshape(rshape + (d.k,)), d.k)

cdef object _tie_error(str name, value, str what):
    return ValueError(
        f"numpy.{name} is not differentiable here: {what} equal values ({value!r}) carry "
        "different tangents, and which tangent the result takes depends on the "
        "direction of the step; perturb the input or use a finite-difference method "
        "(method='central')")


def _extreme(a, axis, keepdims, initial, where, arg, reduce, name):
    """max / min: the tangent of the extreme element.

    At a tie (several elements equal to the extreme) max(x + h v) picks, for h > 0
    and for h < 0, the tied element with the largest resp. smallest v: the one-sided
    derivatives differ unless the tied tangents are equal, so a tie with different
    tangents raises instead of picking one (autograd splits the gradient between the
    tied elements, which is a subgradient, not a derivative)."""
    if where is not np._NoValue and where is not True:
        _unsupported_args(name, where=where)
    d = _as_dual(_lift(a))
    V, T, rshape = _reduce_prep(d, axis, keepdims)
    # NumPy's own value and its own errors (empty slice without initial=)
    value = reduce(V, axis=-1) if initial is None else reduce(V, axis=-1, initial=initial)
    if V.shape[-1] == 0:
        return _from_arrays(value.reshape(rshape), 0.0, d.k)
    i = arg(V, axis=-1)[..., None]
    vsel = np.take_along_axis(V, i, axis=-1)[..., 0]
    tangent = np.take_along_axis(T, i[..., None], axis=-2)[..., 0, :].copy()
    tied = (V == vsel[..., None]) & (T != tangent[..., None, :]).any(axis=-1)
    if tied.any():
        raise _tie_error(name, float(V[tied][0]), "several extreme")
    if initial is not None:
        # initial= is a constant: where it is the extreme, the tangent is zero
        beaten = (vsel < initial) if arg is np.argmax else (vsel > initial)
        if ((vsel == initial) & (tangent != 0).any(axis=-1)).any():
            raise _tie_error(name, float(initial), "initial= and element")
        tangent[beaten] = 0.0
    return _from_arrays(value.reshape(rshape), tangent.reshape(rshape + (d.k,)), d.k)

def _max(a, axis=None, out=None, keepdims=False, initial=None, where=np._NoValue, **kw):
    _unsupported_args("max", out=out, **kw)
    return _extreme(a, axis, keepdims, initial, where, np.argmax, np.max, "max")

def _min(a, axis=None, out=None, keepdims=False, initial=None, where=np._NoValue, **kw):
    _unsupported_args("min", out=out, **kw)
    return _extreme(a, axis, keepdims, initial, where, np.argmin, np.min, "min")

def _ptp(a, axis=None, out=None, keepdims=False):
    # max - min; each raises at a tie with different tangents
    _unsupported_args("ptp", out=out)
    return _max(a, axis=axis, keepdims=keepdims) - _min(a, axis=axis, keepdims=keepdims)

def _cumsum(a, axis=None, dtype=None, out=None):
    _unsupported_args("cumsum", dtype=dtype, out=out)
    d = _as_dual(a)
    if axis is None:
        return _from_arrays(np.cumsum(d.value), np.cumsum(d.tangent.reshape(d.n, d.k),
                                                          axis=0), d.k)
    ax = _normalize_axis_index(axis, d.ndim)
    return _from_arrays(np.cumsum(d.value, axis=ax), np.cumsum(d.tangent, axis=ax), d.k)

def _diff(a, n=1, axis=-1, prepend=np._NoValue, append=np._NoValue):
    if prepend is not np._NoValue or append is not np._NoValue:
        items = ([prepend] if prepend is not np._NoValue else []) + [a] + \
                ([append] if append is not np._NoValue else [])
        nd = len(_shape_of(a))
        ax = _normalize_axis_index(axis, nd)
        shp = list(_shape_of(a))
        shp[ax] = 1
        items = [x if len(_shape_of(x)) == nd else
                 (_broadcast_to(x, tuple(shp))) for x in items]
        a = _concatenate(items, axis=ax)
    d = _as_dual(a)
    ax = _normalize_axis_index(axis, d.ndim)
    return _from_arrays(np.diff(d.value, n, axis=ax), np.diff(d.tangent, n, axis=ax),
                        d.k)

def _gradient(f, *varargs, axis=None, edge_order=1):
    """np.gradient is linear in f for constant spacing: apply it to the values and,
    along the same axes, to the tangent block (whose last axis it leaves alone)."""
    d = _as_dual(_lift(f))
    if any(type(v) is Dual for v in varargs):
        raise TypeError("numpy.gradient of a Dual supports constant spacing only; "
                        "Dual coordinates (varargs) are not supported; " + _FD_HINT)
    axes = _axes(axis, d.ndim)
    values = np.gradient(d.value, *varargs, axis=axes, edge_order=edge_order)
    tangents = np.gradient(d.tangent, *varargs, axis=axes, edge_order=edge_order)
    if len(axes) == 1:
        values, tangents = [values], [tangents]
    out = [_from_arrays(v, t, d.k) for v, t in zip(values, tangents)]
    return out[0] if len(out) == 1 else tuple(out)

def _reduce_sum(a, axis=0, dtype=None, out=None, keepdims=False, **kw):
    return _sum(a, axis=axis, dtype=dtype, out=out, keepdims=keepdims, **kw)

def _reduce_prod(a, axis=0, dtype=None, out=None, keepdims=False, **kw):
    return _prod(a, axis=axis, dtype=dtype, out=out, keepdims=keepdims, **kw)

def _reduce_max(a, axis=0, dtype=None, out=None, keepdims=False, **kw):
    _unsupported_args("maximum.reduce", dtype=dtype)
    return _max(a, axis=axis, out=out, keepdims=keepdims, **kw)

def _reduce_min(a, axis=0, dtype=None, out=None, keepdims=False, **kw):
    _unsupported_args("minimum.reduce", dtype=dtype)
    return _min(a, axis=axis, out=out, keepdims=keepdims, **kw)

def _accumulate_sum(a, axis=0, dtype=None, out=None):
    return _cumsum(a, axis=axis, dtype=dtype, out=out)

# --- variance and standard deviation --------------------------------------------------

def _moments(name, a, axis, dtype, out, ddof, keepdims, where, mean, correction):
    """Shared by var and std: (d, value of var, tangent of var, rshape, V, T, denominator)."""
    if dtype is not None and np.dtype(dtype) != np.float64:
        _unsupported_args(name, dtype=dtype)
    _unsupported_args(name, out=out,
                      where=None if where is np._NoValue or where is True else where,
                      mean=None if mean is np._NoValue else mean)
    if correction is not np._NoValue:
        if ddof != 0:
            raise ValueError("ddof and correction can't be provided simultaneously.")
        ddof = correction
    keepdims = False if keepdims is np._NoValue else keepdims
    if _o2_on():       # a second-order pass: the result itself, in place of d
        return None, _o2_var(a, axis, ddof, keepdims, name == "std"), None, None, None, None
    d = _as_dual(_lift(a))
    V, T, rshape = _reduce_prep(d, axis, keepdims)
    m = V.shape[-1]
    var = np.var(d.value, axis=_axes(axis, d.ndim), ddof=ddof, keepdims=keepdims)
    # d var = 2/(m - ddof) sum_i (x_i - mean)(t_i - mean(t)); centring the tangents
    # too is exact in real arithmetic (sum_i (x_i - mean) = 0) and cancels the
    # rounding error of the computed mean.
    denom = max(m - ddof, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        Vc = V - V.mean(axis=-1, keepdims=True)
        Tc = T - T.mean(axis=-2, keepdims=True)
        dvar = np.einsum("...m,...mk->...k", Vc, Tc) * (2.0 / denom if denom
                                                         else np.nan)
    return d, var, dvar, rshape, V, T

def _var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=np._NoValue, *,
         where=np._NoValue, mean=np._NoValue, correction=np._NoValue):
    d, var, dvar, rshape, V, T = _moments("var", a, axis, dtype, out, ddof, keepdims,
                                          where, mean, correction)
    if d is None:
        return var
    return _from_arrays(var, dvar.reshape(rshape + (d.k,)), d.k)

def _std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=np._NoValue, *,
         where=np._NoValue, mean=np._NoValue, correction=np._NoValue):
    d, var, dvar, rshape, V, T = _moments("std", a, axis, dtype, out, ddof, keepdims,
                                          where, mean, correction)
    if d is None:
        return var
    std = np.sqrt(var)
    s = std.reshape(rshape + (1,))
    # d std = d var / (2 std).  Where all values of a slice are equal, std(x + h v) =
    # |h| std(v): no derivative unless the tangents are equal too (then it is 0).
    # NumPy's std of equal values may be a rounding residue (~1e-17), not 0, so test
    # the values themselves.
    const = (V == V[..., :1]).all(axis=-1) if V.shape[-1] else np.zeros(V.shape[:-1], bool)
    if const.any():
        if (T[const] != T[const][:, :1, :]).any():
            raise ValueError(
                "numpy.std is not differentiable where all values along the reduced "
                "axes are equal (std = 0) and their tangents differ: std(x + h*v) = "
                "|h|*std(v) has a kink at h = 0; use np.var, or a finite-difference "
                "method (method='central')")
    with np.errstate(invalid="ignore", divide="ignore"):
        tangent = dvar / (2.0 * s.reshape(dvar.shape[:-1] + (1,)))
    tangent[const] = 0.0
    return _from_arrays(std, tangent.reshape(rshape + (d.k,)), d.k)


# --- cumulative product ---------------------------------------------------------------

@cython.boundscheck(False)
@cython.wraparound(False)
cdef void _cumprod_tangent(const double[:, ::1] x, const double[:, ::1] c,
                           const double[:, :, ::1] t, double[:, :, ::1] out) noexcept nogil:
    # Product rule along each row: c_i = c_{i-1} x_i, so
    # dc_i = dc_{i-1} x_i + c_{i-1} t_i.  No division: zeros in x are exact.
    cdef Py_ssize_t r, i, j, m = x.shape[1], k = t.shape[2]
    for r in range(x.shape[0]):
        if m == 0:
            continue
        for j in range(k):
            out[r, 0, j] = t[r, 0, j]
        for i in range(1, m):
            for j in range(k):
                out[r, i, j] = out[r, i - 1, j] * x[r, i] + c[r, i - 1] * t[r, i, j]

def _cumprod(a, axis=None, dtype=None, out=None):
    if dtype is not None and np.dtype(dtype) != np.float64:
        _unsupported_args("cumprod", dtype=dtype)
    _unsupported_args("cumprod", out=out)
    if _o2_on():
        return _o2_cumprod(a, axis)
    d = _as_dual(_lift(a))
    if axis is None:
        v, t, ax = d.value.reshape(-1), d.tangent.reshape(d.n, d.k), 0
    else:
        v, t, ax = d.value, d.tangent, _normalize_axis_index(axis, d.ndim)
    c = np.cumprod(v, axis=ax)
    # rows along the last axis, contiguous, for the kernel
    X = np.ascontiguousarray(np.moveaxis(v, ax, -1))
    C = np.ascontiguousarray(np.moveaxis(c, ax, -1))
    Tm = np.ascontiguousarray(np.moveaxis(t, ax, -2))
    m = X.shape[-1]
    rows = int(np.prod(X.shape[:-1]))
    X2, C2 = X.reshape(rows, m), C.reshape(rows, m)
    T3 = Tm.reshape(rows, m, d.k)
    R = np.empty_like(T3)
    cdef double[:, :, ::1] Rv = R
    cdef const double[:, ::1] Xv = X2
    cdef const double[:, ::1] Cv = C2
    cdef const double[:, :, ::1] Tv = T3
    if R.size >= NOGIL_MIN:
        with nogil:
            _cumprod_tangent(Xv, Cv, Tv, Rv)
    else:
        _cumprod_tangent(Xv, Cv, Tv, Rv)
    return _from_arrays(c, np.moveaxis(R.reshape(Tm.shape), -2, ax), d.k)


# --- weighted average -----------------------------------------------------------------

def _average(a, axis=None, weights=None, returned=False, *, keepdims=np._NoValue):
    keepdims = False if keepdims is np._NoValue else keepdims
    if _o2_on() and type(_lift(weights)) is Dual:
        _o2_refuse("numpy.average with Dual weights")
    k = _common_k([_lift(a), _lift(weights)])
    av, at = _vt(a, k)
    if weights is None:
        avg, scl = np.average(av, axis=axis, returned=True, keepdims=keepdims)
        r = _mean(_as_dual(_lift(a)), axis=axis, keepdims=keepdims)
        return (r, scl) if returned else r
    wv, wt = _vt(weights, k)
    # NumPy's value and NumPy's shape checks (and ZeroDivisionError for zero weights)
    avg, scl = np.average(av, axis=axis, weights=wv, returned=True, keepdims=keepdims)
    ax = _axes(axis, av.ndim)
    if wv.shape != av.shape:
        # NumPy's rule: weights of the reduced axes' shape, in sorted-axis order
        order = np.argsort(ax)
        shp = tuple(s if i in ax else 1 for i, s in enumerate(av.shape))
        wv = wv.transpose(order).reshape(shp)
        wt = wt.transpose(tuple(order) + (wt.ndim - 1,)).reshape(shp + (k,))
    W = np.broadcast_to(wv, av.shape)
    Wt = np.broadcast_to(wt, av.shape + (k,))
    at = np.broadcast_to(at, av.shape + (k,))
    tax = tuple(ax)
    S = W.sum(axis=tax, keepdims=True)
    avg_k = (W * av).sum(axis=tax, keepdims=True) / S
    # d (sum w x / sum w) = (sum w dx + sum (x - avg) dw) / sum w
    num = ((W[..., None] * at).sum(axis=tax, keepdims=True)
           + ((av - avg_k)[..., None] * Wt).sum(axis=tax, keepdims=True))
    tangent = num / S[..., None]
    r = _from_arrays(avg, tangent.reshape(np.shape(avg) + (k,)), k)
    if not returned:
        return r
    if type(_lift(weights)) is Dual:
        # the sum of the weights, broadcast to the average's shape as NumPy does
        scl = _from_arrays(scl, Wt.sum(axis=tax, keepdims=True).reshape(np.shape(avg) + (k,)), k)
    return r, scl


# --- functions of the values only: indices and truth values ---------------------------

def _on_values(func):
    """func applied to the values: indices and booleans carry no derivative."""
    def on_values(*args, **kwargs):
        return func(*[_values(x) for x in args],
                    **{n: _values(x) for n, x in kwargs.items()})
    on_values.__name__ = func.__name__
    return on_values


# --- sort and partition ---------------------------------------------------------------

cdef _check_ties(str name, S, TS):
    """S: sorted values (..., m), TS: their tangents (..., m, k).  Where equal values
    carry different tangents the order of the perturbed values, and so where each
    tangent goes, depends on the direction of the step: no derivative."""
    if S.shape[-1] < 2 or TS.shape[-1] == 0:
        return
    bad = (S[..., 1:] == S[..., :-1]) & (TS[..., 1:, :] != TS[..., :-1, :]).any(axis=-1)
    if bad.any():
        raise _tie_error(name, float(S[..., 1:][bad][0]), "some")

cdef tuple _sort_axis(Dual d, axis):
    """(values, tangents, axis) with axis=None flattened, axis checked as NumPy does."""
    if axis is None:
        return d.value.reshape(-1), d.tangent.reshape(d.n, d.k), 0
    return d.value, d.tangent, _normalize_axis_index(axis, d.ndim)

def _sort(a, axis=-1, kind=None, order=None, *, stable=None):
    # Values in NumPy's stable order; a tie (equal values) is allowed only when the
    # tied elements carry equal tangents, where the result does not depend on the order.
    _unsupported_args("sort", order=order)
    d = _as_dual(_lift(a))
    V, T, ax = _sort_axis(d, axis)
    i = np.argsort(V, axis=ax, kind="stable")
    S = np.take_along_axis(V, i, axis=ax)
    TS = np.take_along_axis(T, i[..., None], axis=ax)
    _check_ties("sort", np.moveaxis(S, ax, -1), np.moveaxis(TS, ax, -2))
    return _from_arrays(S, TS, d.k)

def _sort_method(a, axis=-1, kind=None, order=None, *, stable=None):
    """ndarray.sort: sorts in place (through to the base of a view) and returns None."""
    _unsupported_args("sort", order=order)
    cdef Dual d = _as_dual(a)
    if axis is None:
        raise ValueError("axis=None is not valid for an in-place sort (NumPy's "
                         "ndarray.sort); use np.sort(x, axis=None)")
    _inplace(d, _sort(d, axis=axis))
    return None

def _partition_method(a, kth, axis=-1, kind="introselect", order=None):
    """ndarray.partition: in place, returns None."""
    _inplace(_as_dual(a), _partition(a, kth, axis=axis, kind=kind, order=order))
    return None

def _partition(a, kth, axis=-1, kind="introselect", order=None):
    # NumPy's argpartition moves the values as partition does; the tangents follow.
    # The arrangement is decided by comparisons, so a tie with different tangents
    # anywhere in a slice (not only at kth) makes it direction-dependent: raise.
    _unsupported_args("partition", order=order)
    d = _as_dual(_lift(a))
    V, T, ax = _sort_axis(d, axis)
    i = np.argpartition(V, _values(kth), axis=ax, kind=kind)
    P = np.take_along_axis(V, i, axis=ax)
    TP = np.take_along_axis(T, i[..., None], axis=ax)
    j = np.argsort(V, axis=ax, kind="stable")
    _check_ties("partition", np.moveaxis(np.take_along_axis(V, j, axis=ax), ax, -1),
                np.moveaxis(np.take_along_axis(T, j[..., None], axis=ax), ax, -2))
    return _from_arrays(P, TP, d.k)


_FUNCTIONS.update({
    np.sum: _sum, np.mean: _mean, np.prod: _prod, np.cumsum: _cumsum, np.diff: _diff,
    np.gradient: _gradient,
    np.max: _max, np.min: _min, np.amax: _max, np.amin: _min, np.ptp: _ptp,
    np.var: _var, np.std: _std, np.cumprod: _cumprod, np.average: _average,
    np.sort: _sort, np.partition: _partition,
})
_FUNCTIONS.update({f: _on_values(f) for f in (
    np.argmax, np.argmin, np.argsort, np.argpartition, np.nonzero, np.flatnonzero,
    np.argwhere, np.count_nonzero, np.any, np.all)})
_METHODS.update({
    "var": np.var, "std": np.std, "cumprod": np.cumprod, "argmax": np.argmax,
    "argmin": np.argmin, "argsort": np.argsort, "argpartition": np.argpartition,
    "partition": _partition_method, "sort": _sort_method, "any": np.any, "all": np.all,
    "nonzero": np.nonzero,
})

# Ufunc methods with a meaning on Duals; every other method raises TypeError.
_UFUNC_METHODS.update({
    (np.add, "reduce"): _reduce_sum,
    (np.multiply, "reduce"): _reduce_prod,
    (np.maximum, "reduce"): _reduce_max,
    (np.minimum, "reduce"): _reduce_min,
    (np.add, "accumulate"): _accumulate_sum,
})
