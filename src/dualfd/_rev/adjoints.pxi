# Part of dualfd._reverse (included by _reverse.pyx): adjoints of reductions, products, extremes, sort and the element-moving functions.

# --- dedicated adjoints ------------------------------------------------------------------

cdef tuple _axes(axis, int nd):
    """axis as a tuple of non-negative ints (NumPy has validated it already)."""
    if axis is None:
        return tuple(range(nd))
    if isinstance(axis, tuple):
        return tuple(sorted([int(a) % nd for a in axis]))
    return (int(axis) % nd if nd else 0,)


def _sum_like(a, axis, keepdims, mean):
    cdef Tracer x = <Tracer>a
    v = x.value
    yk = _add_reduce(v, axis=axis, keepdims=True)
    cdef Py_ssize_t count = v.size // yk.size if yk.size else 0
    if mean:
        yk = yk / count          # as np.mean: the sum, then one division
    if keepdims:
        y = yk
    elif axis is None:
        y = yk.reshape(())
    else:
        axes = _axes(axis, v.ndim)
        y = yk.reshape(tuple([s for d, s in enumerate(v.shape) if d not in axes]))
    cdef int nd = v.ndim, d
    cdef Py_ssize_t sx[64]
    cdef Py_ssize_t sy[64]
    _natural(v.shape, sx)
    _natural(yk.shape, sy)
    for d in range(nd):
        if yk.shape[d] == 1 and v.shape[d] != 1:
            sy[d] = 0
    # loop over x: gx[i . sx] += scale gy[i . sy]
    return _acc(x, v.shape, 0, sx, sy, y, (1.0 / count) if (mean and count) else 1.0)


def _r_sum(a, axis=None, dtype=None, out=None, keepdims=False, initial=np._NoValue,
           where=np._NoValue):
    if type(a) is not Tracer or out is not None or (dtype is not None and np.dtype(dtype) != _float64) \
            or initial is not np._NoValue or where is not np._NoValue:
        return _FALLBACK
    return _sum_like(a, axis, keepdims, False)


def _r_mean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=np._NoValue):
    if type(a) is not Tracer or out is not None or (dtype is not None and np.dtype(dtype) != _float64) \
            or where is not np._NoValue:
        return _FALLBACK
    return _sum_like(a, axis, keepdims, True)


def _r_broadcast_to(array, shape, subok=False):
    if type(array) is not Tracer:
        return _FALLBACK
    cdef Tracer x = <Tracer>array
    y = np.broadcast_to(x.value, shape)
    cdef int nd = y.ndim, d, od0 = y.ndim - x.value.ndim
    cdef Py_ssize_t sx[64]
    cdef Py_ssize_t sy[64]
    cdef Py_ssize_t sv[64]
    _natural(x.value.shape, sv)
    _natural(y.shape, sy)
    for d in range(nd):
        od = d - od0
        sx[d] = sv[od] if od >= 0 and x.value.shape[od] != 1 else 0
    # loop over y: gx[i . sx] += gy[i . sy]  (the adjoint of a broadcast is a sum)
    cdef Tracer r = _acc(x, y.shape, 0, sx, sy, np.ascontiguousarray(y), 1.0)
    r.readonly = True                # NumPy: a read-only view of x
    r._base = x
    x._nviews += 1
    return r


cdef object _unbroadcast(g, tuple shape):
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    if lead:
        g = g.sum(axis=tuple(range(lead)))
    axes = tuple(d for d, s in enumerate(shape) if s == 1 and g.shape[d] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


cdef object _matmul(a, b):
    """C = A @ B; gA = gC B^T, gB = A^T gC (Giles 2008, sec. 2.3.2), a 1-d operand
    promoted as matmul promotes it, batch dimensions summed back."""
    a = _unobject(a)
    b = _unobject(b)
    cdef Tape tape = _tape_of(a, b)
    av = _const(a)
    bv = _const(b)
    y = np.matmul(av, bv)
    r = _new(tape, y)
    na = (<Tracer>a).node if type(a) is Tracer else -1
    nb = (<Tracer>b).node if type(b) is Tracer else -1

    def adjoint(gs):
        g = gs[0]
        A = av if av.ndim > 1 else av[None, :]
        B = bv if bv.ndim > 1 else bv[:, None]
        if bv.ndim == 1:
            g = g[..., None]
        if av.ndim == 1:
            g = np.expand_dims(g, -2)
        ga = gb = None
        if na >= 0:
            ga = np.matmul(g, np.swapaxes(B, -1, -2))
            if av.ndim == 1:
                ga = ga[..., 0, :]
            ga = _unbroadcast(ga, av.shape)
        if nb >= 0:
            gb = np.matmul(np.swapaxes(A, -1, -2), g)
            if bv.ndim == 1:
                gb = gb[..., 0]
            gb = _unbroadcast(gb, bv.shape)
        return [ga, gb]

    if r.value.size:
        tape.keep.append((av, bv))
        _py_record(tape, adjoint, [na, nb], [r.node])
    return r


def _r_matmul(a, b, out=None, **kw):
    if out is not None or kw:
        return _FALLBACK
    return _matmul(a, b)


def _r_dot(a, b, out=None):
    if out is not None:
        return _FALLBACK
    if np.ndim(_cmp(a)) == 0 or np.ndim(_cmp(b)) == 0:
        return _binary(np.multiply, B_MULTIPLY, a, b)
    if np.ndim(_cmp(a)) <= 2 and np.ndim(_cmp(b)) <= 2:
        return _matmul(a, b)
    return _FALLBACK


def _r_copy(a, order="K", subok=False):
    if type(a) is not Tracer:
        return _FALLBACK
    cdef Tracer x = <Tracer>a
    cdef int nd = 1
    cdef Py_ssize_t s[1]
    s[0] = 1
    return _acc(x, (x.value.size,), 0, s, s, x.value.copy(), 1.0)


def _r_clip(a, a_min=np._NoValue, a_max=np._NoValue, out=None, *, min=np._NoValue,
            max=np._NoValue, **kw):
    # as the Dual: maximum, then minimum, by their rules
    if out is not None or kw:
        return _FALLBACK
    lo = a_min if a_min is not np._NoValue else min
    hi = a_max if a_max is not np._NoValue else max
    r = a
    if lo is not np._NoValue and lo is not None:
        r = _binary(np.maximum, B_MAXIMUM, r, lo)
    if hi is not np._NoValue and hi is not None:
        r = _binary(np.minimum, B_MINIMUM, r, hi)
    return np.copy(r) if r is a else r


def _r_extreme(reduce, arg):
    def impl(a, axis=None, out=None, keepdims=False, initial=np._NoValue,
             where=np._NoValue):
        if type(a) is not Tracer or out is not None or initial is not np._NoValue \
                or where is not np._NoValue or isinstance(axis, tuple):
            return _FALLBACK
        x = <Tracer>a
        v = x.value
        if v.size == 0:
            return _FALLBACK
        y = reduce(v, axis=axis, keepdims=keepdims)
        if axis is None:
            i = arg(v)
            if np.count_nonzero(v == v.reshape(-1)[i]) > 1:
                return _FALLBACK              # a tie: the Dual decides (or raises)
            return _gather(x, _new(x.tape, y), np.array([i]))
        ax = int(axis) % max(v.ndim, 1)
        i = np.expand_dims(arg(v, axis=ax), ax)
        sel = np.take_along_axis(v, i, axis=ax)
        if (np.count_nonzero(v == sel, axis=ax) > 1).any():
            return _FALLBACK
        src = np.take_along_axis(
            np.arange(v.size, dtype=np.int64).reshape(v.shape), i, axis=ax)
        return _gather(x, _new(x.tape, y), src)
    return impl


def _r_sort(a, axis=-1, kind=None, order=None, *, stable=None):
    if type(a) is not Tracer or order is not None:
        return _FALLBACK
    x = <Tracer>a
    v = x.value
    idx = np.arange(v.size, dtype=np.int64)
    if axis is None:
        v = v.reshape(-1)
        axis = 0
    else:
        idx = idx.reshape(v.shape)
    if v.ndim == 0:
        return _FALLBACK
    i = np.argsort(v, axis=axis, kind="stable")
    s = np.take_along_axis(v, i, axis=axis)
    if (np.diff(s, axis=axis) == 0).any():
        return _FALLBACK                      # ties: the Dual decides (or raises)
    return _gather(x, _new(x.tape, s), np.take_along_axis(idx, i, axis=axis))


# Functions that only move elements: the adjoint scatters back through the source
# index of each result element, found by running the function on index arrays (shifted
# by one, so that 0 marks a zero fill: triu, diag of a vector).  Where NumPy returns a
# view, its strides serve instead (no index array).  The spec names the data operands:
# positions of args, "seq" (args[0] is a sequence of them).
_MOVE = {
    np.reshape: (0,), np.ravel: (0,), np.transpose: (0,), np.swapaxes: (0,),
    np.moveaxis: (0,), np.rollaxis: (0,), np.squeeze: (0,), np.expand_dims: (0,),
    np.flip: (0,), np.fliplr: (0,), np.flipud: (0,), np.rot90: (0,), np.roll: (0,),
    np.tile: (0,), np.repeat: (0,), np.diagonal: (0,), np.take: (0,),
    np.take_along_axis: (0,), np.diag: (0,), np.triu: (0,), np.tril: (0,),
    np.delete: (0,), np.atleast_1d: (0,), np.atleast_2d: (0,), np.atleast_3d: (0,),
    np.concatenate: ("seq",), np.stack: ("seq",), np.hstack: ("seq",),
    np.vstack: ("seq",), np.column_stack: ("seq",), np.dstack: ("seq",),
    np.where: (1, 2), np.append: (0, 1), np.insert: (0, 2),
}


def _move(func, spec, args, kwargs):
    if _has_tracer(kwargs) or (func in (np.atleast_1d, np.atleast_2d, np.atleast_3d)
                               and len(args) != 1):
        return _FALLBACK
    args = list(args)
    slots = []            # (container, index) of each data operand
    for p in spec:
        if p == "seq":
            if not args or not isinstance(args[0], (list, tuple)):
                return _FALLBACK
            args[0] = list(args[0])
            slots += [(args[0], i) for i in range(len(args[0]))]
        elif p < len(args):
            slots.append((args, p))
        else:
            return _FALLBACK
    for c, i in slots:                       # a list of traced values is one array
        if (type(c[i]) is list or type(c[i]) is tuple) and _has_tracer(c[i]):
            c[i] = _pack(np.array(c[i], dtype=object))
    data = [c[i] for c, i in slots]
    traced = [d for d in data if type(d) is Tracer]
    if not traced:
        return _FALLBACK
    for c, i in slots:                       # no tracer outside the data operands
        c[i] = None
    if _has_tracer(args):
        return _FALLBACK
    tape = _common_tape(traced)
    for (c, i), d in zip(slots, data):
        c[i] = _const(d)
    y = func(*args, **kwargs)
    if type(y) is not np.ndarray:
        return _FALLBACK
    if len(data) == 1:
        r = _view_of(<Tracer>data[0], y)
        if r is not None:
            return r
    off = 1
    for (c, i), d in zip(slots, data):
        if type(d) is Tracer:
            n = (<Tracer>d).value.size
            c[i] = np.arange(off, off + n, dtype=np.int64).reshape((<Tracer>d).value.shape)
            off += n
        else:
            c[i] = np.zeros(np.shape(d), dtype=np.int64)
    s = func(*args, **kwargs)
    if type(s) is not np.ndarray or s.shape != y.shape or s.dtype.kind not in "iu":
        return _FALLBACK
    r = _new(tape, y)
    s = s.astype(np.int64) - 1
    off = 0
    for d in data:
        if type(d) is Tracer:
            n = (<Tracer>d).value.size
            if len(traced) == 1:
                src = s
            else:
                src = np.where((s >= off) & (s < off + n), s - off, -1)
            _gather(<Tracer>d, r, src)
            off += n
    return r


def _moving(func, spec):
    def impl(*args, **kwargs):
        return _move(func, spec, args, kwargs)
    return impl


def _r_zeros_like(a, *args, **kwargs):
    # a constant: no derivative, but a traced array, so that f can assign into it
    return _lift((<Tracer>a).tape, np.zeros_like((<Tracer>a).value, *args, **kwargs)) \
        if type(a) is Tracer else _FALLBACK


def _r_full_like(a, fill_value, *args, **kwargs):
    if type(a) is not Tracer or type(fill_value) is Tracer:
        return _FALLBACK
    return _lift((<Tracer>a).tape, np.full_like((<Tracer>a).value, fill_value, *args,
                                                **kwargs))


def _r_ones_like(a, *args, **kwargs):
    return _lift((<Tracer>a).tape, np.ones_like((<Tracer>a).value, *args, **kwargs)) \
        if type(a) is Tracer else _FALLBACK
