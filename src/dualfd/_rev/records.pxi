# Part of dualfd._reverse (included by _reverse.pyx): new nodes and the records of elementwise, accumulating and gathering operations.

# --- the tracing array ------------------------------------------------------------------

cdef inline double *_ptr(arr):
    return <double *>cnp.PyArray_DATA(arr)


cdef object _contiguous(value):
    if type(value) is np.ndarray and (<cnp.ndarray>value).descr.type_num == cnp.NPY_DOUBLE \
            and cnp.PyArray_IS_C_CONTIGUOUS(value):
        return value
    return np.asarray(value, dtype=np.float64, order="C")


cdef Tracer _new(Tape tape, value):
    cdef Tracer r = Tracer.__new__(Tracer)
    r.tape = tape
    r.value = _contiguous(value)
    cnp.PyArray_CLEARFLAGS(<cnp.ndarray>r.value, cnp.NPY_ARRAY_WRITEABLE)
    r.node = tape.node(r.value)
    r.readonly = False
    return r


cdef object _const(x):
    """A constant operand as a contiguous float64 array."""
    cdef cnp.ndarray c
    if type(x) is Tracer:
        return (<Tracer>x).value
    if PyFloat_Check(x) or (PyLong_Check(x) and -2**53 <= x <= 2**53):
        c = cnp.PyArray_EMPTY(0, NULL, cnp.NPY_DOUBLE, 0)
        (<double *>cnp.PyArray_DATA(c))[0] = x
        return c
    if isinstance(x, Dual):
        raise TypeError("a Dual met a traced array: forward (method='dual') and reverse "
                        "(method='reverse') mode cannot be mixed in one evaluation of f")
    a = np.asarray(x)
    if a.dtype.kind == "c":
        raise TypeError("traced arrays are real: a complex operand would drop the "
                        "imaginary part's derivative; " + _FD_HINT)
    if a.dtype.kind == "O":
        raise TypeError("an object array met a traced array: build arrays of traced "
                        "values with np.stack or np.array of traced arrays is not "
                        "supported in reverse mode; use np.stack([...]) or "
                        "np.concatenate, " + _FD_HINT)
    return _contiguous(a)


cdef Tape _tape_of(a, b):
    cdef Tape t = None
    if type(a) is Tracer:
        t = (<Tracer>a).tape
    if type(b) is Tracer:
        if t is not None and (<Tracer>b).tape is not t:
            raise ValueError("traced arrays of two different evaluations met (a traced "
                             "array kept from another call of f?): reverse mode traces "
                             "one call at a time")
        t = (<Tracer>b).tape
    return t


cdef Tape _common_tape(list tracers):
    """The tape of a non-empty list of Tracers, which must all share it."""
    cdef Tracer first = <Tracer>tracers[0]
    for t in tracers:
        _tape_of(first, t)
    return first.tape


cdef void _natural(tuple shape, Py_ssize_t *s):
    cdef Py_ssize_t d, acc = 1
    for d in range(len(shape) - 1, -1, -1):
        s[d] = acc
        acc *= shape[d]


cdef object _unary(ufunc, int rule, Tracer x):
    if x.value.size >= _POOL_MIN:
        y = ufunc(x.value, out=_vtake(x.value.shape))
        x.tape.pooled.append(y)
    else:
        y = ufunc(x.value)
    cdef Tracer r = _new(x.tape, y)
    cdef dfd_rec *rec
    if r.value.size:
        rec = x.tape.push(DFD_R_UNARY, r.node)
        rec.rule = rule
        rec.n = r.value.size
        rec.a = _ptr(x.value)
        rec.y = _ptr(r.value)
        rec.na = x.node
    return r


cdef object _binary(ufunc, int rule, a, b):
    a = _unobject(a)
    b = _unobject(b)
    cdef Tape tape = _tape_of(a, b)
    av = _const(a)
    bv = _const(b)
    if av.size >= _POOL_MIN or bv.size >= _POOL_MIN:
        y = ufunc(av, bv, out=_vtake(av.shape if av.shape == bv.shape or bv.size == 1
                                     and av.ndim >= bv.ndim else
                                     np.broadcast_shapes(av.shape, bv.shape)))
        tape.pooled.append(y)
    else:
        y = ufunc(av, bv)
    cdef Tracer r = _new(tape, y)
    cdef tuple ys = r.value.shape
    cdef int nd = len(ys), d, od, m
    cdef Py_ssize_t n = r.value.size
    cdef Py_ssize_t *p
    cdef Py_ssize_t sx[64]
    if n == 0:
        return r
    if nd > DFD_TAPE_MAXDIM:      # before the record: a half-made one would be swept
        raise ValueError(f"reverse mode handles arrays of up to {DFD_TAPE_MAXDIM} "
                         f"dimensions; got {nd}")
    if type(a) is not Tracer:
        tape.keep.append(av)
    if type(b) is not Tracer:
        tape.keep.append(bv)
    cdef dfd_rec *rec = tape.push(DFD_R_BINARY, r.node)
    rec.rule = rule
    rec.a = _ptr(av)
    rec.b = _ptr(bv)
    rec.y = _ptr(r.value)
    rec.na = (<Tracer>a).node if type(a) is Tracer else -1
    rec.nb = (<Tracer>b).node if type(b) is Tracer else -1
    if nd == 0 or (av.shape == ys and bv.shape == ys) or (av.size == 1 and bv.shape == ys) \
            or (bv.size == 1 and av.shape == ys):
        p = dfd_tape_pool(&tape.t, 4)
        if p == NULL:
            tape.t.nrec -= 1          # drop the half-made record
            raise MemoryError()
        p[0] = n
        p[1] = 0 if av.size == 1 and n > 1 else 1
        p[2] = 0 if bv.size == 1 and n > 1 else 1
        rec.nd = 1
        return r
    p = dfd_tape_pool(&tape.t, 4 * nd)
    if p == NULL:
        tape.t.nrec -= 1              # drop the half-made record
        raise MemoryError()
    for d in range(nd):
        p[d] = ys[d]
    for i, v in enumerate((av, bv)):
        _natural(v.shape, sx)
        od0 = nd - v.ndim
        for d in range(nd):
            od = d - od0
            p[(1 + i) * nd + d] = sx[od] if od >= 0 and v.shape[od] != 1 else 0
    _natural(ys, &p[3 * nd])
    rec.nd = dfd_tape_coalesce(nd, p, 3, &p[nd])
    return r


cdef object _acc(Tracer x, tuple loop, Py_ssize_t off, Py_ssize_t *sx, Py_ssize_t *sy,
                 value, double scale):
    """A node of value `value` whose adjoint flows back as gx[off + i . sx] +=
    scale * gy[i . sy] over the loop shape."""
    cdef Tracer r = _new(x.tape, value)
    cdef int nd = len(loop), d
    cdef Py_ssize_t *p
    cdef dfd_rec *rec
    if r.value.size == 0 or x.value.size == 0:
        return r
    if nd > DFD_TAPE_MAXDIM:
        raise ValueError(f"reverse mode handles arrays of up to {DFD_TAPE_MAXDIM} "
                         f"dimensions; got {nd}")
    rec = x.tape.push(DFD_R_ACC, r.node)
    rec.na = x.node
    rec.off = off
    rec.scale = scale
    if nd == 0:
        p = dfd_tape_pool(&x.tape.t, 3)
        if p == NULL:
            x.tape.t.nrec -= 1          # drop the half-made record
            raise MemoryError()
        p[0] = 1
        p[1] = 0
        p[2] = 0
        rec.nd = 1
        return r
    p = dfd_tape_pool(&x.tape.t, 3 * nd)
    if p == NULL:
        x.tape.t.nrec -= 1              # drop the half-made record
        raise MemoryError()
    for d in range(nd):
        p[d] = loop[d]
        p[nd + d] = sx[d]
        p[2 * nd + d] = sy[d]
    rec.nd = dfd_tape_coalesce(nd, p, 2, &p[nd])
    return r


cdef object _view_of(Tracer x, v):
    """If v (a result computed from x.value) is a view of x's block, the node for it,
    its adjoint an ACC over v's strides; else None."""
    if v is x.value:
        return x                     # NumPy returned its argument (atleast_1d, squeeze)
    if type(v) is not np.ndarray or v.size == 0:
        return None
    base = x.value if x.value.base is None else x.value.base
    if v.base is not base and v.base is not x.value:
        return None
    cdef Py_ssize_t off = (<char *>cnp.PyArray_DATA(v) - <char *>cnp.PyArray_DATA(x.value))
    cdef int nd = cnp.PyArray_NDIM(v), d
    cdef Py_ssize_t sx[64]
    cdef Py_ssize_t sy[64]
    cdef cnp.npy_intp *vs = cnp.PyArray_STRIDES(v)
    if off < 0 or off % 8:
        return None
    for d in range(nd):
        if vs[d] % 8:
            return None
        sx[d] = vs[d] // 8
    _natural(v.shape, sy)
    cdef Tracer r = _acc(x, v.shape, off // 8, sx, sy, v, 1.0)
    r._base = x
    x._nviews += 1
    return r


cdef object _gather(Tracer x, Tracer r, src):
    src = np.ascontiguousarray(src, dtype=np.int64)
    if src.size != r.value.size:
        raise AssertionError("gather: source indices do not match the result")
    if src.size == 0:
        return r
    r.tape.keep.append(src)
    cdef dfd_rec *rec = r.tape.push(DFD_R_GATHER, r.node)
    rec.na = x.node
    rec.n = src.size
    rec.src = <const int64_t *>cnp.PyArray_DATA(src)
    return r
