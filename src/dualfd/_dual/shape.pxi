# Part of dualfd._dual._core (included by _core.pyx): shape, indexing, joining and array creation.

def _broadcast_to(a, shape, subok=False):
    """A read-only view, as in NumPy."""
    if type(a) is not Dual:
        return np.broadcast_to(a, shape)
    d = <Dual>a
    out = _shaped_view(d, np.broadcast_to(_view(d, False, False), shape))
    (<Dual>out)._readonly = True
    return out

cdef int _float64_only(str name, dtype) except -1:
    """dtype= of a joining function: a Dual holds float64, anything else would drop
    the derivative (or, silently ignored, give the wrong dtype)."""
    if dtype is not None and np.dtype(dtype) != np.float64:
        raise TypeError(f"numpy.{name} of Duals with dtype={np.dtype(dtype)} would drop "
                        "the derivative (a Dual holds float64); omit dtype=")
    return 0

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
    _unsupported_args("concatenate", out=out)
    _float64_only("concatenate", dtype)
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
    _unsupported_args("stack", out=out)
    _float64_only("stack", dtype)
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
    _float64_only("hstack", dtype)
    arrays = [_atleast(_lift(a), 1) for a in tup]
    return _concatenate(arrays, axis=0 if len(_shape_of(arrays[0])) == 1 else 1)

def _vstack(tup, dtype=None, casting=None):
    _float64_only("vstack", dtype)
    return _concatenate([_atleast(_lift(a), 2) for a in tup], axis=0)

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
    if copy is False and (<Dual>r)._base is None and (<Dual>r).n:
        # NumPy >= 2.1: copy=False promises a view and raises where there is none
        raise ValueError("Unable to avoid creating a copy while reshaping this Dual "
                         "(copy=False)")
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


# --- rearranging, selecting, joining, splitting (the functions autograd differentiates)
#
# Three patterns, chosen by what NumPy returns:
# - a view (flip, swapaxes, diagonal, split pieces, atleast_2d, ...): the same NumPy
#   function on the value view, wrapped by _shaped_view, so writes reach the input;
# - a copy that only moves or repeats elements (roll, take, repeat, tile, delete, ...):
#   _gather runs the function on the flat element indices and takes the tangent rows
#   they name, so every axis, mode and shift convention is NumPy's own;
# - a copy that is linear in its inputs (tril, diag, pad, trace, linspace): the same
#   linear map on the tangent block, with axes normalized against the value's ndim.

try:
    from numpy.lib.array_utils import normalize_axis_index as _normalize_axis
except ImportError:                    # NumPy < 2.0
    from numpy.core.multiarray import normalize_axis_index as _normalize_axis


cdef Dual _gather(Dual d, op):
    """op(d) for an op that moves, repeats or drops elements and creates none: its
    tangent is the tangent rows of the elements it picked."""
    value = op(_view(d, False, False))
    idx = op(np.arange(d.n).reshape(d._shape))
    return _from_arrays(value, _view(d, True, False).reshape(d.n, d.k)[idx], d.k)

cdef Dual _no_index_dual(str name, a, indices):
    """The array operand of an indexing function as a Dual; Duals as indices raise."""
    if type(indices) is Dual:
        raise TypeError(f"numpy.{name}: indices cannot be a Dual; index with plain "
                        "integers (d.value gives the primal value)")
    return _as_dual(a)

cdef Dual _readonly_view(Dual d, r):
    # NumPy's diagonal views are read-only; so are the Dual's.
    cdef Dual out = _shaped_view(d, r)
    out._readonly = True
    return out

def _atleast_nd(fn, int nd):
    def atleast(*arys):
        out = []
        for a in arys:
            if type(a) is not Dual:
                out.append(fn(a))
            elif len((<Dual>a)._shape) >= nd:
                out.append(a)              # NumPy returns the input itself
            else:
                out.append(_shaped_view(<Dual>a, fn(_view(<Dual>a, False, False))))
        return out[0] if len(out) == 1 else tuple(out)
    return atleast

def _roll(a, shift, axis=None):
    return _gather(_as_dual(a), lambda x: np.roll(x, shift, axis=axis))

def _repeat(a, repeats, axis=None):
    return _gather(_as_dual(a), lambda x: np.repeat(x, repeats, axis=axis))

def _tile(A, reps):
    return _gather(_as_dual(A), lambda x: np.tile(x, reps))

def _take(a, indices, axis=None, out=None, mode="raise"):
    _unsupported_args("take", out=out)
    return _gather(_no_index_dual("take", a, indices),
                   lambda x: np.take(x, indices, axis=axis, mode=mode))

def _take_along_axis(arr, indices, axis=-1):
    return _gather(_no_index_dual("take_along_axis", arr, indices),
                   lambda x: np.take_along_axis(x, indices, axis=axis))

def _delete(arr, obj, axis=None):
    return _gather(_no_index_dual("delete", arr, obj),
                   lambda x: np.delete(x, obj, axis=axis))

def _insert(arr, obj, values, axis=None):
    # Insert on indices: the input's elements as 0..n-1 and the inserted ones as
    # -1, -2, ..., so NumPy's broadcasting of values decides where each one lands.
    if type(obj) is Dual:
        raise TypeError("numpy.insert: obj cannot be a Dual; index with plain integers")
    arr, values = _lift(arr), _lift(values)
    k = _common_k((arr, values))
    va, ta = _vt(arr, k)
    vv, tv = _vt(values, k)
    value = np.insert(va, obj, vv, axis=axis)
    n = va.size
    ia = np.arange(n).reshape(va.shape)
    iv = -1 - np.arange(vv.size).reshape(vv.shape)
    src = np.insert(ia, obj, iv, axis=axis)
    src = np.where(src >= 0, src, n - 1 - src)
    rows = np.concatenate([ta.reshape(n, k),
                           np.broadcast_to(tv, vv.shape + (k,)).reshape(vv.size, k)])
    return _from_arrays(value, rows[src], k)

def _append(arr, values, axis=None):
    arr, values = _lift(arr), _lift(values)
    if axis is None:
        arr, values = [_reshape(x, (-1,), "C") if type(x) is Dual else np.ravel(x)
                       for x in (arr, values)]
        axis = 0
    return _concatenate((arr, values), axis=axis)

def _tri_mask(fn):
    # tril/triu keep the entries of a mask and zero the rest: the tangent too.  A 1-d
    # input is broadcast against the (n, n) mask, as NumPy does.
    def tri(m, k=0):
        d = _as_dual(m)
        value = fn(_view(d, False, False), k)
        mask = fn(np.ones(value.shape[-2:], dtype=bool), k)
        return _from_arrays(value, np.where(mask[..., None], _view(d, True, False), 0.0),
                            d.k)
    return tri

def _diagonal(a, offset=0, axis1=0, axis2=1):
    d = _as_dual(a)
    return _readonly_view(d, np.diagonal(_view(d, False, False), offset, axis1, axis2))

def _diag(v, k=0):
    d = _as_dual(v)
    V = _view(d, False, False)
    if V.ndim == 2:                    # the k-th diagonal: a read-only view in NumPy
        return _readonly_view(d, np.diagonal(V, k))
    value = np.diag(V, k)              # 1-d: a new matrix (NumPy raises for other ndim)
    tangent = np.zeros(value.shape + (d.k,))
    i = np.arange(d.n)
    tangent[i + max(-k, 0), i + max(k, 0)] = _view(d, True, False)
    return _from_arrays(value, tangent, d.k)

def _trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    _unsupported_args("trace", dtype=dtype, out=out)
    d = _as_dual(a)
    V = _view(d, False, False)
    value = np.trace(V, offset, axis1, axis2)
    a1, a2 = _normalize_axis(axis1, V.ndim), _normalize_axis(axis2, V.ndim)
    return _from_arrays(value, np.trace(_view(d, True, False), offset, a1, a2), d.k)

def _view_fn(fn):
    """A NumPy function that returns a view of its first argument."""
    def view(a, *args, **kwargs):
        d = _as_dual(a)
        return _shaped_view(d, fn(_view(d, False, False), *args, **kwargs))
    view.__name__ = fn.__name__
    return view

def _split_fn(fn):
    """A NumPy splitting function: a list of views of the input."""
    def split(ary, *args, **kwargs):
        d = _as_dual(ary)
        return [_shaped_view(d, r) for r in fn(_view(d, False, False), *args, **kwargs)]
    split.__name__ = fn.__name__
    return split

def _column_stack(tup):
    arrays = []
    for a in tup:
        a = _lift(a)
        if len(_shape_of(a)) < 2:
            # 0-d -> (1, 1), 1-d (n,) -> a column (n, 1)
            a = _atleast(a, 2)
            a = _transpose(a) if type(a) is Dual else np.transpose(a)
        arrays.append(a)
    return _concatenate(arrays, axis=1)

_atleast_3d = _atleast_nd(np.atleast_3d, 3)

def _dstack(tup):
    return _concatenate([_atleast_3d(_lift(a)) for a in tup], axis=2)

def _select(condlist, choicelist, default=0):
    choicelist = [_lift(c) for c in choicelist]
    default = _lift(default)
    k = _common_k(choicelist + [default])
    conds = [_values(c) for c in condlist]
    pairs = [_vt(c, k) for c in choicelist]
    vd, td = _vt(default, k)
    value = np.select(conds, [p[0] for p in pairs], vd)
    # NumPy: the first true condition picks; none: the default.  Same on tangents,
    # with each condition given a trailing axis to broadcast against k.
    tangent = np.select([np.asarray(c)[..., None] for c in conds],
                        [p[1] for p in pairs], td)
    return _from_arrays(value, np.broadcast_to(tangent, value.shape + (k,)), k)

def _meshgrid(*xi, copy=True, sparse=False, indexing="xy"):
    xi = [_lift(x) for x in xi]
    k = _common_k(xi)
    pairs = [_vt(x, k) for x in xi]
    values = np.meshgrid(*[p[0] for p in pairs], copy=copy, sparse=sparse,
                         indexing=indexing)
    # Each output repeats one input's elements (flattened): gather its tangent rows.
    idx = np.meshgrid(*[np.arange(p[0].size) for p in pairs], copy=False,
                      sparse=sparse, indexing=indexing)
    out = []
    for x, (v, t), r, i in zip(xi, pairs, values, idx):
        if not copy and type(x) is Dual:
            view = _view_of(<Dual>x, r)     # broadcast views of x, as in NumPy
            if view is not None:
                out.append(view)
                continue
        out.append(_from_arrays(r, np.reshape(t, (v.size, k))[i], k))
    return out

def _linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0,
              *, device=None):
    _unsupported_args("linspace", device=device)
    if dtype is not None and np.dtype(dtype) != np.float64:
        raise TypeError(f"numpy.linspace with Dual start or stop: dtype={np.dtype(dtype)}"
                        " would drop the derivative (a Dual holds float64)")
    start, stop = _lift(start), _lift(stop)
    k = _common_k((start, stop))
    vs, ts = _vt(start, k)
    ve, te = _vt(stop, k)
    value = np.linspace(vs, ve, num, endpoint=endpoint, retstep=retstep, axis=axis)
    if retstep:
        value, step = value
    # The samples start + i * (stop - start) / div are linear in (start, stop): the
    # same formula on the tangents (a trailing k axis on both, samples axis in place).
    ax = _normalize_axis(axis, np.ndim(value))
    tangent = np.linspace(ts, te, num, endpoint=endpoint, retstep=retstep, axis=ax)
    if not retstep:
        return _from_arrays(value, tangent, k)
    tangent, tstep = tangent
    return (_from_arrays(value, tangent, k),
            _from_arrays(step, np.broadcast_to(tstep, np.shape(step) + (k,)), k))

# Pad modes that are linear in the array (and in constant_values / end_values):
# the tangent is padded the same way with zero constants.  maximum, minimum and
# median select an element that ties make ambiguous; empty leaves garbage.
_PAD_LINEAR = ("constant", "edge", "linear_ramp", "reflect", "symmetric", "wrap", "mean")

cdef object _pairs(x, int nd):
    """A per-axis (before, after) argument of np.pad as an (nd, 2) list."""
    if isinstance(x, dict):            # NumPy >= 2.3: {axis: width}
        pairs = [[0, 0] for _ in range(nd)]
        for ax, w in x.items():
            pairs[_normalize_axis(ax, nd)] = np.broadcast_to(w, (2,)).tolist()
        return pairs
    return np.broadcast_to(np.asarray(x), (nd, 2)).tolist()

def _pad(array, pad_width, mode="constant", **kwargs):
    d = _as_dual(array)
    if not isinstance(mode, str) or mode not in _PAD_LINEAR:
        raise TypeError(f"numpy.pad on Dual arrays supports mode in "
                        f"{', '.join(map(repr, _PAD_LINEAR))}; got {mode!r} (maximum, "
                        "minimum and median have no derivative at ties); " + _FD_HINT)
    V = _view(d, False, False)
    T = _view(d, True, False)
    nd = V.ndim
    # constant_values / end_values may be Duals: their values pad the value.
    duals = {}
    vkw = dict(kwargs)
    for key in ("constant_values", "end_values"):
        if key in kwargs:
            c = _lift(kwargs[key])
            if type(c) is Dual:
                _common_k((d, c))
                duals[key] = _view(<Dual>c, True, False)
                c = _view(<Dual>c, False, False)
            vkw[key] = c
    value = np.pad(V, pad_width, mode, **vkw)
    tkw = dict(vkw)
    for key in ("constant_values", "end_values"):
        if key in tkw:
            tkw[key] = 0.0
    if duals:
        # One direction at a time: each has its own constants.
        cols = []
        for j in range(d.k):
            for key, t in duals.items():
                tkw[key] = t[..., j]
            cols.append(np.pad(T[..., j], pad_width, mode, **tkw))
        tangent = np.stack(cols, axis=-1) if cols else np.zeros(value.shape + (0,))
    else:
        if tkw.get("stat_length") is not None:
            # the tangent axis is not padded; its statistics span it whole
            tkw["stat_length"] = _pairs(tkw["stat_length"], nd) + [[d.k, d.k]]
        tangent = np.pad(T, _pairs(pad_width, nd) + [[0, 0]], mode, **tkw)
    return _from_arrays(value, tangent, d.k)

def _put(a, ind, v, mode="raise"):
    if type(a) is not Dual:
        raise TypeError("numpy.put of a Dual into a plain array would drop its "
                        "derivative; put into a Dual (np.zeros_like(x)) instead")
    if type(ind) is Dual:
        raise TypeError("numpy.put: indices cannot be a Dual; index with plain integers")
    d = <Dual>a
    v = _lift(v)
    k = _common_k((d, v))
    vv, tv = _vt(v, k)
    # Which element of v (flat, repeated as NumPy repeats it) lands where: put the
    # numbers 0..len(v)-1 into an array of -1 with the same ind and mode.
    src = np.full(d.n, -1, dtype=np.intp)
    np.put(src, ind, np.arange(vv.size), mode=mode)
    where = np.flatnonzero(src >= 0)
    if where.size == 0:
        return None
    pick = src[where]
    piece = _from_arrays(np.ravel(vv)[pick],
                         np.broadcast_to(tv, vv.shape + (k,)).reshape(vv.size, k)[pick], k)
    if not d._shape:
        d[...] = _reshape(piece, (), "C")
    else:
        d[np.unravel_index(where, d._shape)] = piece
    return None

def _astype(a, dtype, order="K", casting="unsafe", subok=True, copy=True):
    d = _as_dual(a)
    dt = np.dtype(dtype)
    # float64 is what a Dual holds; object is what np.asarray(d) holds (Duals), so
    # x.astype(x.dtype) keeps working wherever the Dual reports either.  Integer and
    # bool conversions are piecewise constant (derivative 0), as in Dual.__array__.
    if dt.kind in "biu":
        return _view(d, False, False).astype(dt)
    if not (dt.kind == "f" and dt.itemsize == 8) and dt != np.dtype(object):
        raise TypeError(f"astype({dt}) of a Dual would drop its derivative (a Dual holds "
                        "float64); keep it float64 (np.floor/np.rint round with a zero "
                        "derivative), or use d.value.astype(...) for the primal values")
    return _copy(d) if copy else d

def _np_astype(x, dtype, /, *, copy=True, device=None):
    _unsupported_args("astype", device=device)
    return _astype(x, dtype, copy=copy)

def _fill_method(a, value):
    """d.fill(value): every element takes value (and its tangent: zero for a number)."""
    d = _as_dual(a)
    value = _lift(value)
    if len(_shape_of(value)) and int(np.prod(_shape_of(value))) != 1:
        raise ValueError(f"Dual.fill: value must be a scalar; got shape "
                         f"{_shape_of(value)}")
    d[...] = _reshape(value, (), "C") if type(value) is Dual else np.reshape(value, ())

def _dropping(str name):
    def method(a, *args, **kwargs):
        raise TypeError(f"Dual.{name}() would drop its derivative (it returns plain "
                        f"Python numbers); index the Dual instead (d[i]), or use "
                        f"d.value.{name}() for the primal values")
    return method

_atleast_2d = _atleast_nd(np.atleast_2d, 2)

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
    np.atleast_2d: _atleast_2d, np.atleast_3d: _atleast_3d,
    np.roll: _roll, np.repeat: _repeat, np.tile: _tile, np.take: _take,
    np.take_along_axis: _take_along_axis, np.delete: _delete, np.insert: _insert,
    np.append: _append, np.tril: _tri_mask(np.tril), np.triu: _tri_mask(np.triu),
    np.diagonal: _diagonal, np.diag: _diag, np.trace: _trace,
    np.flip: _view_fn(np.flip), np.fliplr: _view_fn(np.fliplr),
    np.flipud: _view_fn(np.flipud), np.rot90: _view_fn(np.rot90),
    np.swapaxes: _view_fn(np.swapaxes), np.moveaxis: _view_fn(np.moveaxis),
    np.rollaxis: _view_fn(np.rollaxis),
    np.split: _split_fn(np.split), np.array_split: _split_fn(np.array_split),
    np.hsplit: _split_fn(np.hsplit), np.vsplit: _split_fn(np.vsplit),
    np.dsplit: _split_fn(np.dsplit),
    np.column_stack: _column_stack, np.dstack: _dstack, np.select: _select,
    np.meshgrid: _meshgrid, np.linspace: _linspace, np.pad: _pad, np.put: _put,
})
if hasattr(np, "row_stack"):           # removed in NumPy 2.? (an alias of vstack)
    _FUNCTIONS[np.row_stack] = _vstack
if hasattr(np, "astype"):              # NumPy >= 2.1
    _FUNCTIONS[np.astype] = _np_astype
# ndarray methods not defined on the type: d.take(i) is np.take(d, i), and so on.
_METHODS.update({
    "repeat": np.repeat, "take": np.take, "swapaxes": np.swapaxes,
    "diagonal": np.diagonal, "trace": np.trace, "clip": np.clip, "put": np.put,
    "astype": _astype, "fill": _fill_method,
    "item": _dropping("item"), "tolist": _dropping("tolist"),
})
