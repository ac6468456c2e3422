# Part of dualfd._dual._core (included by _core.pyx): reductions (sum, mean, prod, max, cumsum, ...).

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
    V = V.reshape(rshape + (-1,))
    T = T.reshape(rshape + (V.shape[-1], d.k))
    if keepdims:
        rshape = tuple(1 if i in ax else d._shape[i] for i in range(nd))
    return V, T, rshape

def _prod(a, axis=None, dtype=None, out=None, keepdims=False, **kw):
    _unsupported_args("prod", dtype=dtype, out=out, **kw)
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

def _extreme(a, axis, keepdims, arg, name):
    d = _as_dual(a)
    if d.n == 0:
        raise ValueError(f"zero-size Dual to reduction operation {name} which has no "
                         "identity")
    V, T, rshape = _reduce_prep(d, axis, keepdims)
    i = arg(V, axis=-1)[..., None]
    value = np.take_along_axis(V, i, axis=-1)[..., 0]
    tangent = np.take_along_axis(T, i[..., None], axis=-2)[..., 0, :]
    return _from_arrays(value.reshape(rshape), tangent.reshape(rshape + (d.k,)), d.k)

def _max(a, axis=None, out=None, keepdims=False, **kw):
    _unsupported_args("max", out=out, **kw)
    return _extreme(a, axis, keepdims, np.argmax, "max")

def _min(a, axis=None, out=None, keepdims=False, **kw):
    _unsupported_args("min", out=out, **kw)
    return _extreme(a, axis, keepdims, np.argmin, "min")

def _cumsum(a, axis=None, dtype=None, out=None):
    _unsupported_args("cumsum", dtype=dtype, out=out)
    d = _as_dual(a)
    if axis is None:
        return _from_arrays(np.cumsum(d.value), np.cumsum(d.tangent.reshape(d.n, d.k),
                                                          axis=0), d.k)
    ax = _axes(axis, d.ndim)[0]
    return _from_arrays(np.cumsum(d.value, axis=ax), np.cumsum(d.tangent, axis=ax), d.k)

def _diff(a, n=1, axis=-1, prepend=np._NoValue, append=np._NoValue):
    if prepend is not np._NoValue or append is not np._NoValue:
        items = ([prepend] if prepend is not np._NoValue else []) + [a] + \
                ([append] if append is not np._NoValue else [])
        nd = len(_shape_of(a))
        ax = _axes(axis, nd)[0]
        shp = list(_shape_of(a))
        shp[ax] = 1
        items = [x if len(_shape_of(x)) == nd else
                 (_broadcast_to(x, tuple(shp))) for x in items]
        a = _concatenate(items, axis=ax)
    d = _as_dual(a)
    ax = _axes(axis, d.ndim)[0]
    return _from_arrays(np.diff(d.value, n, axis=ax), np.diff(d.tangent, n, axis=ax),
                        d.k)

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


_FUNCTIONS.update({
    np.sum: _sum, np.mean: _mean, np.prod: _prod, np.cumsum: _cumsum, np.diff: _diff,
    np.max: _max, np.min: _min, np.amax: _max, np.amin: _min,
})
# Ufunc methods with a meaning on Duals; every other method raises TypeError.
_UFUNC_METHODS.update({
    (np.add, "reduce"): _reduce_sum,
    (np.multiply, "reduce"): _reduce_prod,
    (np.maximum, "reduce"): _reduce_max,
    (np.minimum, "reduce"): _reduce_min,
    (np.add, "accumulate"): _accumulate_sum,
})
