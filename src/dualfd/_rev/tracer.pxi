# Part of dualfd._reverse (included by _reverse.pyx): the Tracer type, its operators, in-place writes and ndarray methods.

@cython.final
cdef class Tracer:
    """An array traced by reverse mode (``method='reverse'``): its value and its place
    on the tape of one evaluation of f.  f receives one in place of x; NumPy functions
    and operators on it return Tracers.  ``.value`` is the primal value (read-only)."""
    cdef readonly object value
    cdef readonly Py_ssize_t node
    cdef Tape tape
    cdef bint readonly   # a broadcast view: NumPy refuses writes
    # NumPy semantics of views: _base is the traced array this one views (None: it owns
    # its memory), _key the basic index that made it (None: another function), and
    # _nviews the number of live views of this one.  A write through a view reaches its
    # base as a recorded assignment; a write that would have to reach other live views
    # raises instead.
    cdef Tracer _base
    cdef object _key
    cdef Py_ssize_t _nviews

    def __dealloc__(self):
        if self._base is not None:
            self._base._nviews -= 1

    __array_priority__ = 1000

    @property
    def shape(self):
        return self.value.shape

    @property
    def ndim(self):
        return self.value.ndim

    @property
    def size(self):
        return self.value.size

    @property
    def dtype(self):
        # object, as the Dual's: NumPy code that casts with a.dtype.type (np.mean of a
        # list) keeps the traced value instead of converting it to a float
        return _OBJECT

    @property
    def T(self):
        return _function(np.transpose, (self,), {})

    @property
    def real(self):
        return self

    @property
    def imag(self):
        return np.zeros(self.value.shape)

    def __len__(self):
        return len(self.value)

    def __iter__(self):
        if self.value.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        for i in range(self.value.shape[0]):
            yield self[i]

    def __repr__(self):
        return f"Tracer({self.value!r})"

    # conversions: float would drop the derivative
    def __float__(self):
        raise TypeError(
            "float() of a traced array would drop its derivative: math.* functions and "
            "storing it into a float array (g = np.zeros(n); g[i] = t) call it. Use "
            "NumPy functions (np.sin, not math.sin), build arrays with np.zeros_like(x) "
            "then assign, or np.stack/np.concatenate; .value gives the primal value, "
            + _FD_HINT)

    def __complex__(self):
        self.__float__()

    def __array__(self, dtype=None, copy=None):
        # np.asarray(t) (SciPy's rosen does it, and np.array([t0, t1]) asks each item):
        # an object array of 0-d traced elements, as the Dual gives.  NumPy's object
        # loops then call the elements' own operators and methods, so derivatives flow
        # through, one record per element and operation (slow, never silently wrong:
        # any conversion to floats raises); _pack makes one traced array of it again.
        if dtype is not None and np.dtype(dtype).kind in "biu":
            return self.value.astype(dtype)      # piecewise constant: derivative 0
        if dtype is not None and np.dtype(dtype) != _OBJECT:
            raise TypeError(
                f"np.asarray(x, dtype={np.dtype(dtype)}) of a traced array, or storing it "
                f"into a float array, would drop its derivative: call np.asarray(x) "
                "without dtype= (derivatives then flow through an object array), build "
                "arrays with np.zeros_like(x) or np.stack, " + _FD_HINT)
        return _elements(self)

    def __int__(self):
        return int(self.value)

    def __index__(self):
        raise TypeError("a traced float array cannot be used as an index")

    def __bool__(self):
        return bool(self.value)

    # comparisons look at values
    def __lt__(self, o): return np.less(self.value, _cmp(o))
    def __le__(self, o): return np.less_equal(self.value, _cmp(o))
    def __gt__(self, o): return np.greater(self.value, _cmp(o))
    def __ge__(self, o): return np.greater_equal(self.value, _cmp(o))
    def __eq__(self, o): return np.equal(self.value, _cmp(o))
    def __ne__(self, o): return np.not_equal(self.value, _cmp(o))
    __hash__ = None

    # arithmetic
    def __add__(a, b): return _binary(np.add, B_ADD, a, b)
    def __radd__(a, b): return _binary(np.add, B_ADD, b, a)
    def __sub__(a, b): return _binary(np.subtract, B_SUBTRACT, a, b)
    def __rsub__(a, b): return _binary(np.subtract, B_SUBTRACT, b, a)
    def __mul__(a, b): return _binary(np.multiply, B_MULTIPLY, a, b)
    def __rmul__(a, b): return _binary(np.multiply, B_MULTIPLY, b, a)
    def __truediv__(a, b): return _binary(np.divide, B_DIVIDE, a, b)
    def __rtruediv__(a, b): return _binary(np.divide, B_DIVIDE, b, a)
    def __pow__(a, b, mod):
        if mod is not None:
            return NotImplemented
        return _power(a, b)
    def __rpow__(a, b, mod):
        if mod is not None:
            return NotImplemented
        return _power(b, a)
    def __mod__(a, b): return _binary(np.remainder, B_REMAINDER, a, b)
    def __rmod__(a, b): return _binary(np.remainder, B_REMAINDER, b, a)
    def __floordiv__(a, b): return _binary(np.floor_divide, B_FLOOR_DIVIDE, a, b)
    def __rfloordiv__(a, b): return _binary(np.floor_divide, B_FLOOR_DIVIDE, b, a)
    def __matmul__(a, b): return _matmul(a, b)
    def __rmatmul__(a, b): return _matmul(b, a)
    def __neg__(self): return _unary(np.negative, U_NEGATIVE, self)
    def __pos__(self): return _unary(np.positive, U_POSITIVE, self)
    def __abs__(self): return _unary(np.absolute, U_ABSOLUTE, self)

    # in place: NumPy semantics, the array (this object) takes the new value
    def __iadd__(self, o): return self._rebind(self + o)
    def __isub__(self, o): return self._rebind(self - o)
    def __imul__(self, o): return self._rebind(self * o)
    def __itruediv__(self, o): return self._rebind(self / o)
    def __ipow__(self, o): return self._rebind(self ** o)
    def __imatmul__(self, o): return self._rebind(self @ o)

    def _rebind(self, r):
        """This array takes r's values (an in-place operation's result)."""
        cdef Tracer t
        if type(r) is not Tracer:
            r = _lift(self.tape, r)
        t = <Tracer>r
        if t.value.shape != self.value.shape:
            raise ValueError(f"non-broadcastable output operand with shape "
                             f"{self.value.shape} doesn't match the broadcast shape "
                             f"{t.value.shape}")
        if self._through():
            self._base._assign(self._key, t)
        self.value = t.value
        self.node = t.node
        return self

    def __getitem__(self, key):
        if type(key) is Tracer or (type(key) is tuple and any(type(k) is Tracer for k in key)):
            raise TypeError("a traced float array cannot be used as an index")
        v = self.value[key]
        r = _view_of(self, v)
        if r is not None:
            if r is not self:
                (<Tracer>r)._key = key
            return r
        src = np.arange(self.value.size, dtype=np.int64).reshape(self.value.shape)[key]
        return _gather(self, _new(self.tape, v), src)

    cdef bint _through(self) except -1:
        """Whether a write into this array must also reach its base (a view): True if
        it can be recorded there, else an exception."""
        if self.readonly:
            raise ValueError("assignment destination is read-only (np.broadcast_to "
                             "returns a read-only view)")
        if self._nviews > 0:
            raise TypeError(_SHARED_WRITE)
        if self._base is None:
            return False
        # one level of basic indexing, and no other live view of the base to update
        if self._key is None or self._base._base is not None or self._base._nviews != 1 \
                or self._base.readonly:
            raise TypeError(_SHARED_WRITE)
        return True

    def __setitem__(self, key, val):
        if type(val) is Tracer and (<Tracer>val)._base is self and \
                (<Tracer>val)._key is key and not self.readonly:
            return      # y[k] = y[k], the end of y[k] += v: the values are already there
        cdef bint through = self._through()
        self._assign(key, val)
        if through:
            self._base._assign(self._key, self)

    cdef _assign(self, key, val):
        """Record self[key] = val: a new node for self, gathered from the old and val."""
        cdef Tracer old = self, tv = None, r
        if type(val) is Tracer:
            _tape_of(self, val)
            tv = <Tracer>val
            vv = tv.value
        else:
            vv = _const(val)
        new = self.value.copy()
        new[key] = vv
        r = _new(self.tape, new)
        src = np.arange(self.value.size, dtype=np.int64).reshape(self.value.shape)
        src[key] = -1
        _gather(old, r, src)
        if tv is not None:
            vsrc = np.full(self.value.shape, -1, dtype=np.int64)
            vsrc[key] = np.arange(tv.value.size, dtype=np.int64).reshape(tv.value.shape)
            _gather(tv, r, vsrc)
        self.value = r.value
        self.node = r.node

    def __getattr__(self, name):
        f = _ATTRS.get(name)
        if f is None:
            f = _METHODS.get(name)
            if f is None:
                # NumPy's object loops call np.sin(a) as a.sin()
                f = _UFUNC_BY_NAME.get(name)
            if f is None:
                raise AttributeError(f"'Tracer' object has no attribute {name!r} (reverse "
                                     "mode supports the ndarray methods that are NumPy "
                                     "functions)")
        return _Method(self, f)

    # NumPy protocols
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return _ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return _function(func, args, kwargs)


_SHARED_WRITE = ("an in-place write into a traced array that shares memory with another "
                 "cannot be recorded in reverse mode: a write into an array while views of "
                 "it (x[1:], x.T) are alive, or through a view that is not one basic index "
                 "of an array with no other live view, would have to reach those arrays "
                 "too. Copy first (y = x.copy(); y[...] = ...), or use "
                 "method='dual'")


cdef object _OBJECT = np.dtype(object)
_UFUNC_BY_NAME = {u.__name__: u for u, e in _UFUNCS.items() if e[0] in (1, 2, 5)}


cdef object _elements(Tracer t):
    """An object array of t's shape holding its elements as 0-d traced arrays."""
    out = np.empty(t.value.shape, dtype=object)
    flat = out.reshape(-1)
    vals = t.value.reshape(-1)
    cdef Py_ssize_t i
    cdef Py_ssize_t s[1]
    s[0] = 0
    for i in range(t.value.size):
        flat[i] = _acc(t, (), i, s, s, vals[i:i + 1].reshape(()), 1.0)
    return out


cdef object _pack(a):
    """An object array (np.asarray of traced arrays, NumPy's object loops) as one traced
    array when it holds traced elements, else a float array; TypeError for anything
    that is not a real number or a 0-d traced array."""
    flat = a.reshape(-1)
    pieces = []
    cdef bint traced = False
    for e in flat:
        if type(e) is Tracer:
            if (<Tracer>e).value.ndim:
                raise TypeError("an object array whose items are traced arrays of "
                                f"shape {(<Tracer>e).value.shape}: use np.stack or "
                                "np.concatenate to combine traced arrays")
            traced = True
            pieces.append(e)
        else:
            v = np.asarray(e)
            if v.dtype.kind not in "biuf" or v.ndim:
                raise TypeError(f"an object array holding {type(e).__name__} met a traced "
                                "array: only real numbers and 0-d traced arrays combine")
            pieces.append(float(v))
    if not traced:
        return np.array(pieces, dtype=np.float64).reshape(a.shape)
    return np.reshape(np.stack(pieces), a.shape)


cdef object _unobject(o):
    """o, with an object ndarray (of traced elements) packed into one traced array."""
    if type(o) is np.ndarray and (<cnp.ndarray>o).descr.type_num == cnp.NPY_OBJECT:
        return _pack(o)
    return o


cdef object _cmp(o):
    return (<Tracer>o).value if type(o) is Tracer else o


cdef object _lift(Tape tape, x):
    """A constant as a node of the tape (no record: its adjoint goes nowhere)."""
    return _new(tape, _const(x))


class _Method:
    """A bound ndarray method of a Tracer: t.sum(axis=0) is np.sum(t, axis=0)."""
    __slots__ = ("t", "f")

    def __init__(self, t, f):
        self.t = t
        self.f = f

    def __call__(self, *args, **kwargs):
        return self.f(self.t, *args, **kwargs)


def _m_reshape(t, *shape, order="C"):
    if len(shape) == 1:
        shape = shape[0]
    return np.reshape(t, shape, order=order)


def _m_transpose(t, *axes):
    if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
        axes = axes[0]
    return np.transpose(t, axes or None)


def _m_astype(t, dtype, *args, **kwargs):
    if np.dtype(dtype).kind != "f":
        return t.value.astype(dtype)     # int/bool: piecewise constant, derivative 0
    if np.dtype(dtype) != _float64:
        raise TypeError(f"reverse mode traces float64 arrays; astype({dtype}) would "
                        "round the derivative")
    return np.copy(t)


def _m_item(t, *args):
    raise TypeError("item() of a traced array would drop its derivative; index it "
                    "(x[i]) instead, " + _FD_HINT)


def _m_inplace_sort(t, axis=-1, kind=None, order=None):
    t._rebind(np.sort(t, axis=axis))


def _m_fill(t, value):
    t[...] = value


def _m_inplace_partition(t, kth, axis=-1, kind="introselect", order=None):
    t._rebind(np.partition(t, kth, axis=axis, kind=kind, order=order))


def _r_put(a, ind, v, mode="raise"):
    """np.put(a, ind, v): a takes v at the flat indices (in place, as NumPy)."""
    if type(a) is not Tracer:
        return _FALLBACK
    cdef Tracer t = <Tracer>a, tv = None
    if t._base is not None or t._nviews or t.readonly:
        t._through()                  # raises: put through a view is not recorded
        raise TypeError(_SHARED_WRITE)
    if type(v) is Tracer:
        _tape_of(t, v)
        tv = <Tracer>v
    vv = tv.value if tv is not None else _const(v)
    new = t.value.copy()
    np.put(new, ind, vv, mode=mode)
    cdef Tracer r = _new(t.tape, new)
    src = np.arange(t.value.size, dtype=np.int64)
    np.put(src, ind, -1, mode=mode)
    _gather(t, r, src.reshape(t.value.shape))
    if tv is not None:
        vsrc = np.full(t.value.size, -1, dtype=np.int64)
        np.put(vsrc, ind, np.arange(tv.value.size, dtype=np.int64), mode=mode)
        _gather(tv, r, vsrc.reshape(t.value.shape))
    t.value = r.value
    t.node = r.node


_ATTRS = {
    "sum": np.sum, "mean": np.mean, "prod": np.prod, "max": np.max, "min": np.min,
    "reshape": _m_reshape, "transpose": _m_transpose, "ravel": np.ravel,
    "flatten": lambda t, order="C": np.copy(np.ravel(t, order=order)),
    "copy": np.copy, "dot": np.dot, "cumsum": np.cumsum, "squeeze": np.squeeze,
    "astype": _m_astype, "item": _m_item, "sort": _m_inplace_sort, "fill": _m_fill,
    "conj": np.conjugate, "conjugate": np.conjugate, "ptp": np.ptp, "clip": np.clip,
    "put": np.put, "partition": _m_inplace_partition,
    "tolist": lambda t: list(t) if t.ndim else _m_item(t),
}
