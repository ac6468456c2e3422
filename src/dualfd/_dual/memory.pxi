# Part of dualfd._dual._core (included by _core.pyx): allocation, views, conversion of operands.

# --- construction and views -----------------------------------------------------------

cdef tuple _EMPTY_SHAPE = (0,)
cdef Py_ssize_t _MAX_DOUBLES = PY_SSIZE_T_MAX // sizeof(double)


cdef int _alloc(Dual d, tuple shape, Py_ssize_t n, Py_ssize_t k) except -1:
    if n < 0 or k < 0:
        raise ValueError(f"negative dimensions are not allowed (size {n}, k {k})")
    if n and k + 1 > _MAX_DOUBLES // n:
        raise MemoryError(f"a Dual of shape {shape} with k={k} tangent directions "
                          "does not fit in memory")
    cdef Py_ssize_t total = n * (k + 1)
    d._set = True
    if total <= NBUF:
        d.v = d.buf
    else:
        d.heap = _pool_get(total, &d.cap)
        d.v = d.heap
    d.t = d.v + n
    d.n = n
    d.k = k
    d._shape = shape
    return 0


# A small cache of freed large buffers.  Without it, a chain of operations on
# ~100 KB Duals makes glibc return memory to the OS and page-fault it back on every
# operation: the Broyden n = 100 Jacobian took 128 us instead of 34 us.
cdef enum:
    POOL_SLOTS = 16
    POOL_MIN = 64                 # doubles; smaller blocks go to pymalloc directly
    POOL_MAX_BYTES = 32 << 20     # never hold more than this much idle memory
cdef double *_pool_ptr[POOL_SLOTS]
cdef size_t _pool_cap[POOL_SLOTS]
cdef int _pool_n = 0
cdef size_t _pool_bytes = 0


cdef double *_pool_get(size_t need, size_t *cap) except NULL:
    global _pool_n, _pool_bytes
    cdef int i
    cdef double *p
    if need >= POOL_MIN:
        for i in range(_pool_n):
            # Reuse a block that fits without wasting more than half of it.
            if need <= _pool_cap[i] <= 2 * need:
                p = _pool_ptr[i]
                cap[0] = _pool_cap[i]
                _pool_bytes -= _pool_cap[i] * sizeof(double)
                _pool_n -= 1
                memmove(&_pool_ptr[i], &_pool_ptr[i + 1], (_pool_n - i) * sizeof(double *))
                memmove(&_pool_cap[i], &_pool_cap[i + 1], (_pool_n - i) * sizeof(size_t))
                return p
    p = <double *>PyMem_Malloc(need * sizeof(double))
    if p == NULL:
        raise MemoryError()
    cap[0] = need
    return p


cdef void _pool_put(double *p, size_t cap) noexcept:
    """Keep p for reuse; the oldest cached blocks make room, so that the cache follows
    the sizes in current use."""
    global _pool_n, _pool_bytes
    cdef size_t nbytes = cap * sizeof(double)
    if cap < POOL_MIN or nbytes > POOL_MAX_BYTES:
        PyMem_Free(p)
        return
    while _pool_n and (_pool_n == POOL_SLOTS or _pool_bytes + nbytes > POOL_MAX_BYTES):
        PyMem_Free(_pool_ptr[0])
        _pool_bytes -= _pool_cap[0] * sizeof(double)
        _pool_n -= 1
        memmove(&_pool_ptr[0], &_pool_ptr[1], _pool_n * sizeof(double *))
        memmove(&_pool_cap[0], &_pool_cap[1], _pool_n * sizeof(size_t))
    _pool_ptr[_pool_n] = p
    _pool_cap[_pool_n] = cap
    _pool_n += 1
    _pool_bytes += nbytes


cdef inline Dual _empty(tuple shape, Py_ssize_t n, Py_ssize_t k):
    """A Dual with uninitialized buffers; the caller fills both."""
    cdef Dual d = Dual.__new__(Dual)
    _alloc(d, shape, n, k)
    return d


cdef object _view(Dual d, bint tangent, bint writable):
    """An ndarray over d's value (shape s) or tangent (s + (k,)), strides included."""
    cdef cnp.npy_intp dims[65]
    cdef cnp.npy_intp strides[65]
    cdef int nd = len(d._shape), i
    cdef Py_ssize_t unit = d.k if tangent else 1
    for i in range(nd):
        dims[i] = d._shape[i]
    if d._strides is not None:
        for i in range(nd):
            strides[i] = <Py_ssize_t>d._strides[i] * unit * <Py_ssize_t>sizeof(double)
    if tangent:
        dims[nd] = d.k
        strides[nd] = sizeof(double)
        nd += 1
    arr = cnp.PyArray_New(np.ndarray, nd, dims, cnp.NPY_DOUBLE,
                          NULL if d._strides is None else strides,
                          <void *>(d.t if tangent else d.v), 0,
                          cnp.NPY_ARRAY_CARRAY if d._strides is None
                          else cnp.NPY_ARRAY_WRITEABLE | cnp.NPY_ARRAY_ALIGNED, None)
    cnp.set_array_base(arr, d)
    if not writable or d._readonly:
        cnp.PyArray_CLEARFLAGS(arr, cnp.NPY_ARRAY_WRITEABLE)
    return arr


cdef inline Dual _root(Dual d):
    return d if d._base is None else d._base


cdef Dual _new_view(Dual d, Py_ssize_t offset, tuple shape, Py_ssize_t n, tuple strides,
                    bint readonly):
    """A Dual sharing d's memory: value element 0 at d.v + offset (its directions at
    d.t + offset * k), value strides in elements (None: C-contiguous)."""
    cdef Dual out = Dual.__new__(Dual)
    out.v = d.v + offset
    out.t = d.t + offset * d.k
    out.n = n
    out.k = d.k
    out._shape = shape
    out._strides = strides
    out._base = _root(d)
    out._readonly = readonly
    out._set = True
    return out


cdef inline Dual _block_view(Dual d, tuple shape, Py_ssize_t offset, Py_ssize_t n):
    """A C-contiguous view of n elements of contiguous d starting at element offset."""
    return _new_view(d, offset, shape, n, None, d._readonly)


cdef Dual _slice_view(Dual d, key):
    """d[key] for a 1-d d and a slice: NumPy's view, without building ndarrays."""
    cdef Py_ssize_t start, stop, step, length
    cdef Py_ssize_t stride = 1 if d._strides is None else d._strides[0]
    PySlice_GetIndicesEx(key, d._shape[0], &start, &stop, &step, &length)
    return _new_view(d, start * stride, (length,), length,
                     (step * stride,) if step * stride != 1 and length > 1 else None,
                     d._readonly)


cdef object _view_of(Dual d, a):
    """The Dual view of d whose value is ndarray a, when a is a view into d's values
    (basic indexing, transpose, most reshapes, broadcast_to); None when NumPy copied.

    A data pointer inside d's root value block can only belong to a view: NumPy never
    allocates into memory that is alive.  Empty results are copies (nothing to share)."""
    cdef cnp.ndarray arr = <cnp.ndarray>a
    cdef Dual root = _root(d)
    cdef double *p = <double *>cnp.PyArray_DATA(arr)
    cdef Py_ssize_t size = cnp.PyArray_SIZE(arr)
    cdef int i, nd = cnp.PyArray_NDIM(arr)
    if size == 0 or not (root.v <= p < root.v + root.n):
        return None
    strides = None if cnp.PyArray_IS_C_CONTIGUOUS(arr) else tuple(
        [cnp.PyArray_STRIDE(arr, i) // <Py_ssize_t>sizeof(double) for i in range(nd)])
    return _new_view(root, p - root.v, (<object>arr).shape, size, strides,
                     d._readonly or _has_zero_stride(arr))


cdef bint _has_zero_stride(cnp.ndarray a):
    cdef int i
    for i in range(cnp.PyArray_NDIM(a)):
        if cnp.PyArray_STRIDE(a, i) == 0 and cnp.PyArray_DIM(a, i) > 1:
            return True
    return False


cdef inline Dual _c(Dual d):
    """d itself when C-contiguous (what the kernels read), else a contiguous copy."""
    return d if d._strides is None else _copy(d)


cdef int _fill(double *dst, a, tuple shape) except -1:
    """Copy array-like a (broadcast to shape) into dst, C order."""
    cdef cnp.ndarray arr
    if (cnp.PyArray_Check(a) and c_ready(<cnp.ndarray>a, cnp.NPY_DOUBLE)
            and a.shape == shape):
        arr = <cnp.ndarray>a
        memcpy(dst, cnp.PyArray_DATA(arr), cnp.PyArray_SIZE(arr) * sizeof(double))
        return 0
    cdef cnp.npy_intp dims[65]
    cdef int nd = len(shape), i
    for i in range(nd):
        dims[i] = shape[i]
    target = cnp.PyArray_SimpleNewFromData(nd, dims, cnp.NPY_DOUBLE, <void *>dst)
    np.copyto(target, a, casting="unsafe")
    return 0


cdef object _contiguous(a, dtype=None):
    # np.ascontiguousarray would turn a 0-d array into a 1-d one.
    return np.asarray(a, dtype=dtype, order="C")


cdef Dual _from_arrays(value, tangent, Py_ssize_t k):
    """A new Dual holding copies of value (shape s) and tangent (broadcast to s + (k,))."""
    v = np.asarray(value, dtype=np.float64)
    shape = v.shape
    cdef Dual d = _empty(shape, v.size, k)
    _fill(d.v, v, shape)
    _fill(d.t, tangent, shape + (k,))
    return d


cdef Dual _constant_dual(a, Py_ssize_t k):
    """A constant as a Dual with zero tangent."""
    v = _constant(a, "operand")
    cdef Dual d = _empty(v.shape, v.size, k)
    _fill(d.v, v, v.shape)
    memset(d.t, 0, d.n * k * sizeof(double))
    return d


cdef object _constant(a, str what):
    """A non-Dual operand as a native, aligned float64 array; TypeError for
    non-numbers."""
    try:
        arr = np.asarray(a)
    except ValueError as e:            # a ragged list
        raise TypeError(f"{what} must be real numbers or Duals; got "
                        f"{type(a).__name__} that is not an array: {e}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{what} must be real numbers or Duals; got "
                        f"{type(a).__name__} of dtype {arr.dtype}")
    if not native(arr, cnp.NPY_DOUBLE):
        # big-endian, misaligned or not float64: a native copy for the kernels
        arr = arr.astype(np.float64)
    return arr


cdef Dual _copy(Dual a):
    """A new contiguous root holding a's values and tangents."""
    cdef Dual out = _empty(a._shape, a.n, a.k)
    if a._strides is None:
        memcpy(out.v, a.v, a.n * sizeof(double))
        memcpy(out.t, a.t, a.n * a.k * sizeof(double))
    else:
        _fill(out.v, _view(a, False, False), a._shape)
        _fill(out.t, _view(a, True, False), a._shape + (a.k,))
    return out


cdef object _tangent_key(key):
    """The index into the tangent block that selects what key selects in the value."""
    if type(key) is not tuple:
        key = (key,)
    if any(kk is Ellipsis for kk in key):
        return key + (slice(None),)
    return key + (Ellipsis, slice(None))


cdef object _values(a):
    return _view(<Dual>a, False, False) if type(a) is Dual else a


cdef tuple _shape_of(a):
    return (<Dual>a)._shape if type(a) is Dual else np.shape(a)


cdef Py_ssize_t _common_k(items) except -2:
    cdef Py_ssize_t k = -1
    for a in items:
        if type(a) is Dual:
            if k >= 0 and (<Dual>a).k != k:
                raise ValueError(f"Duals with different numbers of tangent directions "
                                 f"({k} and {(<Dual>a).k}) cannot be combined")
            k = (<Dual>a).k
    return k


cdef object _lift(a):
    """A list or tuple holding Duals, such as ``[x[0], 1.0]``, or an object array of
    Duals (what np.asarray(x) gives), as one Dual."""
    if isinstance(a, (list, tuple)) and any(type(e) is Dual or isinstance(e, (list, tuple))
                                            for e in a):
        if any(type(e) is Dual for e in a) or any(type(r) is Dual for r in map(_lift, a)):
            return _stack([_lift(e) for e in a])
    elif cnp.PyArray_Check(a) and cnp.PyArray_TYPE(<cnp.ndarray>a) == cnp.NPY_OBJECT:
        return _from_objects(<cnp.ndarray>a)
    return a


cdef object _object_array(Dual d):
    """An object array of d's shape whose elements are 0-d Dual views of d's."""
    cdef Py_ssize_t i
    out = np.empty(d._shape, dtype=object)
    flat = out.reshape(-1)
    if d._strides is None:
        for i in range(d.n):
            flat[i] = _block_view(d, (), i, 1)
    else:
        vv = _view(d, False, False)
        for i, idx in enumerate(np.ndindex(*d._shape)):
            flat[i] = _view_of(d, vv[idx + (Ellipsis,)])
    return out


cdef object _from_objects(cnp.ndarray a):
    """An object array holding 0-d Duals and real numbers as one Dual (a float array
    when it holds no Dual); TypeError naming anything else."""
    cdef Py_ssize_t i, n = cnp.PyArray_SIZE(a), k = -1
    cdef Dual e
    flat = a.reshape(-1)
    for item in flat:
        if type(item) is Dual:
            e = <Dual>item
            if k >= 0 and e.k != k:
                raise ValueError(f"Duals with different numbers of tangent directions "
                                 f"({k} and {e.k}) cannot be combined")
            k = e.k
    value = np.empty(n)
    if k < 0:
        for i in range(n):
            value[i] = _real_number(flat[i])
        return value.reshape((<object>a).shape)
    cdef Dual out = _empty((<object>a).shape, n, k)
    for i in range(n):
        item = flat[i]
        if type(item) is Dual:
            e = <Dual>item
            if e.n != 1:
                raise TypeError(f"an object array holding a Dual of shape {e._shape} "
                                "cannot be read as one Dual; keep arrays of Duals as "
                                "Duals (np.stack, np.concatenate)")
            out.v[i] = e.v[0]
            memcpy(out.t + i * k, e.t, k * sizeof(double))
        else:
            out.v[i] = _real_number(item)
            memset(out.t + i * k, 0, k * sizeof(double))
    return out


cdef double _real_number(item) except? -1.0:
    if isinstance(item, (bool, int, float, np.integer, np.floating, np.bool_)):
        return item
    raise TypeError(f"an object array holding {type(item).__name__} cannot be read "
                    "as numbers or Duals")


cdef tuple _vt(a, Py_ssize_t k):
    """(value, tangent) arrays of a Dual or a constant (zero tangent, broadcastable)."""
    a = _lift(a)
    if type(a) is Dual:
        return _view(<Dual>a, False, False), _view(<Dual>a, True, False)
    v = _constant(a, "operand")
    return v, np.zeros(v.shape + (k,))


cdef object _inplace(Dual self, result):
    """Write result into self (through to its root when self is a view)."""
    if result is NotImplemented:
        return result
    cdef Dual r = _c(<Dual>result)
    if r._shape != self._shape:
        raise ValueError(f"in-place operation would change the shape {self._shape} "
                         f"to {r._shape}")
    if r.k != self.k:
        raise ValueError("in-place operation would change the number of tangent "
                         "directions")
    if self._readonly:
        raise ValueError("assignment destination is read-only (a broadcast Dual "
                         "view); copy it first")
    if self._strides is None:
        # memmove: r may be self (x **= 1 returns a copy, but be safe)
        memmove(self.v, r.v, self.n * sizeof(double))
        memmove(self.t, r.t, self.n * self.k * sizeof(double))
    else:
        _view(self, False, True)[...] = _view(r, False, False)
        _view(self, True, True)[...] = _view(r, True, False)
    return self


def _unsupported_args(name, **given):
    bad = [k for k, v in given.items() if v is not None and v is not False]
    if bad:
        raise TypeError(f"numpy.{name} on Dual arrays does not support "
                        f"{', '.join(bad)}=")

cdef tuple _axes(axis, int nd):
    """axis (None, int or tuple) as a tuple of non-negative ints, checked as NumPy
    checks it: out-of-range axes raise AxisError, repeated ones ValueError."""
    if axis is None:
        return tuple(range(nd))
    return np.lib.array_utils.normalize_axis_tuple(axis, nd)

cdef Dual _as_dual(a):
    if type(a) is Dual:
        return <Dual>a
    raise TypeError(f"expected a Dual; got {type(a).__name__}")
