# Part of dualfd._dual._core (included by _core.pyx): shape, indexing, joining and array creation.

def _broadcast_to(a, shape, subok=False):
    """A read-only view, as in NumPy."""
    if type(a) is not Dual:
        return np.broadcast_to(a, shape)
    d = <Dual>a
    out = _shaped_view(d, np.broadcast_to(_view(d, False, False), shape))
    (<Dual>out)._readonly = True
    return out

cdef object _concatenate_1d(list arrays, Py_ssize_t k):
    """Concatenation of 1-d pieces by copying blocks (the shifted-vector idiom of
    residuals, ``np.concatenate([[0.0], x[:-1]])``); None when a piece is not 1-d."""
    cdef list pieces = []
    cdef Py_ssize_t total = 0, off = 0, m
    cdef Dual out, d
    cdef cnp.ndarray c
    for a in arrays:
        a = _lift(a)
        if type(a) is Dual:
            if len((<Dual>a)._shape) != 1:
                return None
            pieces.append(_c(<Dual>a))
            total += (<Dual>a).n
        else:
            c = _contiguous(_constant(a, "concatenate input"))
            if cnp.PyArray_NDIM(c) != 1:
                return None
            pieces.append(c)
            total += cnp.PyArray_SIZE(c)
    out = _empty((total,), total, k)
    for a in pieces:
        if type(a) is Dual:
            d = <Dual>a
            memcpy(out.v + off, d.v, d.n * sizeof(double))
            memcpy(out.t + off * k, d.t, d.n * k * sizeof(double))
            off += d.n
        else:
            c = <cnp.ndarray>a
            m = cnp.PyArray_SIZE(c)
            memcpy(out.v + off, cnp.PyArray_DATA(c), m * sizeof(double))
            memset(out.t + off * k, 0, m * k * sizeof(double))
            off += m
    return out

def _concatenate(arrays, axis=0, out=None, dtype=None, casting=None):
    _unsupported_args("concatenate", out=out, dtype=dtype)
    arrays = [_lift(a) for a in arrays]
    k = _common_k(arrays)
    if axis == 0 and k >= 0:
        r = _concatenate_1d(arrays, k)
        if r is not None:
            return r
    if axis is None:
        arrays = [_reshape(a, (-1,), "C") if type(a) is Dual else np.ravel(a)
                  for a in arrays]
        axis = 0
    pairs = [_vt(a, k) for a in arrays]
    value = np.concatenate([p[0] for p in pairs], axis=axis)
    ax = _axes(axis, value.ndim)[0]
    return _from_arrays(value, np.concatenate([p[1] for p in pairs], axis=ax), k)

def _stack(arrays, axis=0, out=None, dtype=None, casting=None):
    _unsupported_args("stack", out=out, dtype=dtype)
    arrays = [_lift(a) for a in arrays]
    k = _common_k(arrays)
    pairs = [_vt(a, k) for a in arrays]
    value = np.stack([p[0] for p in pairs], axis=axis)
    ax = _axes(axis, value.ndim)[0]
    tangents = [np.broadcast_to(p[1], p[0].shape + (k,)) for p in pairs]
    return _from_arrays(value, np.stack(tangents, axis=ax), k)

def _atleast(a, nd):
    shape = _shape_of(a)
    if len(shape) >= nd:
        return a
    new = (1,) * (nd - len(shape)) + shape if nd == 1 or len(shape) == 0 else \
        (1,) + shape
    if type(a) is Dual:
        return _reshape(a, new, "C")
    return np.reshape(a, new)

def _hstack(tup, dtype=None, casting=None):
    arrays = [_atleast(a, 1) for a in tup]
    return _concatenate(arrays, axis=0 if len(_shape_of(arrays[0])) == 1 else 1)

def _vstack(tup, dtype=None, casting=None):
    return _concatenate([_atleast(a, 2) for a in tup], axis=0)

cdef Dual _reshape(Dual d, shape, order):
    """NumPy's reshape: a view where the memory layout allows one, else a copy."""
    if order not in ("C", "F", "A"):
        raise ValueError(f"order must be one of 'C', 'F', 'A'; got {order!r}")
    r = _view(d, False, False).reshape(shape, order=order)
    out = _view_of(d, r)
    if out is not None:
        return out
    # NumPy copied (or the result is empty): move the tangents the way the values
    # moved, through the flat indices of d's elements.
    cdef Dual c = _c(d)
    idx = np.arange(c.n).reshape(c._shape).reshape(shape, order=order)
    return _from_arrays(r, _view(c, True, False).reshape(c.n, c.k)[idx], c.k)

def _np_reshape(a, shape=None, order="C", *, newshape=None, copy=None):
    if shape is None:
        shape = newshape
    r = _reshape(_as_dual(a), shape, order)
    return _copy(r) if copy and (<Dual>r)._base is not None else r

def _ravel(a, order="C"):
    return _reshape(_as_dual(a), (-1,), order)

cdef Dual _shaped_view(Dual d, r):
    """The view of d whose value is r (a NumPy view of d's values); a copy only for
    an empty result."""
    out = _view_of(d, r)
    if out is None:
        return _from_arrays(r, 0.0, d.k)
    return out

def _transpose(a, axes=None):
    d = _as_dual(a)
    return _shaped_view(d, np.transpose(_view(d, False, False), axes))

def _squeeze(a, axis=None):
    d = _as_dual(a)
    return _shaped_view(d, np.squeeze(_view(d, False, False), axis=axis))

def _expand_dims(a, axis):
    d = _as_dual(a)
    return _shaped_view(d, np.expand_dims(_view(d, False, False), axis))

def _atleast_1d(*arys):
    r = [_atleast(a, 1) for a in arys]
    return r[0] if len(r) == 1 else tuple(r)

def _copy_fn(a, order="K", subok=False):
    return _copy(_as_dual(a))

cdef tuple _shape_arg(shape):
    """A shape argument as a tuple of non-negative ints (NumPy's rules and messages)."""
    shape = tuple(operator.index(s) for s in shape) if isinstance(shape, (tuple, list)) \
        else (operator.index(shape),)
    if any(s < 0 for s in shape):
        raise ValueError(f"negative dimensions are not allowed; got shape {shape}")
    return shape

cdef Dual _filled(tuple shape, double fill, Py_ssize_t k):
    """A Dual of the given shape with every value fill and a zero tangent."""
    cdef Py_ssize_t n, i
    size = 1                 # a Python int: a product of huge dims must not wrap
    for s in shape:
        size *= s
    if size > _MAX_DOUBLES:
        raise MemoryError(f"a Dual of shape {shape} does not fit in memory")
    n = size
    cdef Dual out = _empty(shape, n, k)
    for i in range(n):
        out.v[i] = fill
    memset(out.t, 0, n * k * sizeof(double))
    return out

def _like(double fill):
    def like(a, dtype=None, order="K", subok=True, shape=None, *, device=None):
        d = _as_dual(a)
        return _filled(d._shape if shape is None else _shape_arg(shape), fill, d.k)
    return like

def _full_like(a, fill_value, dtype=None, order="K", subok=True, shape=None, *,
               device=None):
    d = _as_dual(a)
    shp = d._shape if shape is None else _shape_arg(shape)
    if type(fill_value) is Dual:
        return _binary(B_ADD, _filled(shp, 0.0, d.k), fill_value)
    return _from_arrays(np.full(shp, _constant(fill_value, "fill_value")), 0.0, d.k)

def _real(val):
    # np.real of a real array is a view of it
    d = _as_dual(val)
    return _shaped_view(d, _view(d, False, False))

def _imag(val):
    d = _as_dual(val)
    return _from_arrays(np.zeros(d._shape), 0.0, d.k)

def _shape_fn(a):
    return _shape_of(a)

def _ndim_fn(a):
    return len(_shape_of(a))

def _size_fn(a, axis=None):
    shape = _shape_of(a)
    return int(np.prod(shape)) if axis is None else shape[axis]


_FUNCTIONS.update({
    np.concatenate: _concatenate, np.stack: _stack, np.hstack: _hstack,
    np.vstack: _vstack, np.reshape: _np_reshape,
    np.ravel: _ravel, np.transpose: _transpose, np.squeeze: _squeeze,
    np.expand_dims: _expand_dims, np.atleast_1d: _atleast_1d, np.copy: _copy_fn,
    np.broadcast_to: _broadcast_to,
    np.zeros_like: _like(0.0), np.ones_like: _like(1.0), np.empty_like: _like(0.0),
    np.full_like: _full_like,
    np.real: _real, np.imag: _imag,
    np.shape: _shape_fn, np.ndim: _ndim_fn, np.size: _size_fn,
})
