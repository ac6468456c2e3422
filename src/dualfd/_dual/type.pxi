# Part of dualfd._dual._core (included by _core.pyx): the Dual type, its operators and NumPy protocols.

_OBJECT_DTYPE = np.dtype(object)

_FD_HINT = ("or differentiate this code with a finite-difference method "
            "(method='central' or 'complex')")


# --- the type -------------------------------------------------------------------------

@cython.final
@cython.no_gc
@cython.freelist(64)
cdef class Dual:
    """Dual(value, tangent)

    An array of values carrying k directional derivatives (forward mode).

    Parameters
    ----------
    value : array_like of float, shape s
        The primal values (any shape, 0-d included).  Copied.
    tangent : array_like of float, shape s + (k,)
        ``tangent[..., j]`` is the derivative of `value` along direction j.  Copied.

    Attributes
    ----------
    value : ndarray, shape s (read-only view)
    tangent : ndarray, shape s + (k,) (read-only view)
    base : Dual or None, the Dual whose memory this one views (None: it owns it)
    shape, ndim, size : as for ndarrays, of the value
    k : int, the number of tangent directions

    Notes
    -----
    Arithmetic operators (``+ - * / ** % // @``, unary ``-``, ``abs``, in-place
    forms), comparisons (on values, returning plain bools), indexing and assignment,
    NumPy ufuncs (``Dual.supported_ufuncs()``), ufunc methods (``add.reduce``,
    ``multiply.reduce``, ``maximum.reduce``, ``minimum.reduce``, ``add.accumulate``)
    and NumPy functions (``Dual.supported_functions()``, one file per family in
    ``dualfd/_dual/``) propagate tangents.  ndarray methods that are NumPy functions
    (``d.var()``, ``d.take()`` ...) dispatch to them.  Basic indexing, reshape (where
    NumPy gives a view), ``.T`` and iteration return views: writes reach the base.
    ``np.asarray(d)`` is an object array of 0-d Duals (``d.dtype`` is object), through
    which NumPy's object loops carry derivatives.  Anything that would drop a
    derivative raises TypeError: ``float(d)``, ``math.sin(d)``, ``np.asarray(d,
    dtype=float)``, storing a Dual into a float array, unsupported functions.  Integer
    and bool conversions are allowed (derivative 0).  A zero tangent entry stays zero
    where a derivative is infinite (sqrt, log at 0); abs and norm take 0 at 0.

    Examples
    --------
    >>> import numpy as np
    >>> from dualfd import Dual
    >>> x = Dual(np.array([1.0, 2.0]), np.eye(2))
    >>> y = np.sin(x[0]) * x[1] ** 2
    >>> round(float(y.value), 6), np.round(y.tangent, 6)
    (3.365884, array([2.161209, 3.365884]))
    >>> (x * 3).tangent
    array([[3., 0.],
           [0., 3.]])
    >>> out = np.zeros_like(x)          # a Dual: assign Duals into it
    >>> out[0] = x[0] * x[1]
    >>> out.tangent
    array([[2., 1.],
           [0., 0.]])
    >>> x[0] > 0.5                      # comparisons look at values
    True
    """
    cdef double *v        # value: element (i0, i1, ...) at v + sum(i_d * strides[d])
    cdef double *t        # tangent: that element's k directions at t + k * (same offset)
    cdef double *heap     # owned allocation, or NULL when v lives in buf or in _base
    cdef size_t cap       # its capacity in doubles
    cdef Py_ssize_t n, k
    cdef tuple _shape
    cdef tuple _strides   # value strides in elements; None: C-contiguous
    cdef Dual _base       # the root Dual owning the memory of a view, else None
    cdef bint _readonly   # a broadcast view: writes raise, as in NumPy
    cdef bint _set        # memory attached: __init__ may not run again
    cdef double buf[NBUF]

    def __cinit__(self):
        # Dual.__new__(Dual) without __init__ is a valid empty Dual, not NULL pointers.
        self.v = self.buf
        self.t = self.buf
        self._shape = _EMPTY_SHAPE

    def __dealloc__(self):
        if self.heap != NULL:
            _pool_put(self.heap, self.cap)

    def __init__(self, value, tangent):
        if self._set:
            # Re-initializing would free memory that views of this Dual still use.
            raise TypeError("Dual.__init__ cannot be called on an existing Dual; "
                            "create a new one with Dual(value, tangent)")
        v = np.asarray(value)
        t = np.asarray(tangent)
        if v.dtype.kind not in "biuf" or t.dtype.kind not in "biuf":
            raise TypeError(f"Dual: value and tangent must be real numbers; got dtypes "
                            f"{v.dtype} and {t.dtype}")
        if t.ndim != v.ndim + 1 or t.shape[:-1] != v.shape:
            raise ValueError(f"Dual: tangent must have shape value.shape + (k,) = "
                             f"{v.shape} + (k,); got value shape {v.shape} and "
                             f"tangent shape {t.shape}")
        _alloc(self, v.shape, v.size, t.shape[-1])
        _fill(self.v, v, v.shape)
        _fill(self.t, t, t.shape)

    def __reduce__(self):
        # Copies of value and tangent: a view pickles as the data it shows.
        return (Dual, (np.array(_view(self, False, False)),
                       np.array(_view(self, True, False))))

    def __copy__(self):
        return _copy(self)

    def __deepcopy__(self, memo):
        return _copy(self)

    # --- attributes ---

    @property
    def value(self):
        """The primal values, a read-only ndarray view of shape `shape`."""
        return _view(self, False, False)

    @property
    def tangent(self):
        """The tangents, a read-only ndarray view of shape ``shape + (k,)``."""
        return _view(self, True, False)

    @property
    def shape(self):
        """Tuple of the value's dimensions (the tangent's shape is ``shape + (k,)``)."""
        return self._shape

    @property
    def ndim(self):
        """Number of dimensions of the value, ``len(shape)``."""
        return len(self._shape)

    @property
    def size(self):
        """Number of elements of the value (not counting the k directions)."""
        return self.n

    @property
    def k(self):
        """Number of tangent directions carried."""
        return self.k

    @property
    def base(self):
        """The Dual whose memory this view shares, or None if it owns its memory."""
        return self._base

    @property
    def dtype(self):
        """object: what np.asarray(d) gives.  Arrays allocated "like x" in f
        (``np.zeros(n, dtype=x.dtype)``) then hold Duals, and the derivative flows
        through them; a float64 dtype would make every store into them raise."""
        return _OBJECT_DTYPE

    @property
    def T(self):
        """The transposed Dual, a view (as `numpy.ndarray.T`): writes reach this one."""
        return _transpose(self)

    def __len__(self):
        if not self._shape:
            raise TypeError("len() of a 0-d Dual")
        return self._shape[0]

    def __iter__(self):
        if not self._shape:
            raise TypeError("iteration over a 0-d Dual")
        for i in range(self._shape[0]):
            yield self[i]

    def __repr__(self):
        v = np.array2string(_view(self, False, False), separator=", ", prefix="Dual(")
        t = np.array2string(_view(self, True, False), separator=", ",
                            prefix="     tangent=")
        sep = ",\n     " if "\n" in v + t else ", "
        return f"Dual({v}{sep}tangent={t})"

    # --- shape methods ---

    def reshape(self, *shape, order="C"):
        """Return a Dual of a new shape (C order), like `numpy.ndarray.reshape`.

        A view where NumPy's reshape gives one (writes reach this Dual), else a copy.

        See Also
        --------
        ravel, flatten
        """
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _reshape(self, shape, order)

    def ravel(self, order="C"):
        """Return the Dual flattened to 1-d: a view where NumPy's ravel gives one.

        See Also
        --------
        flatten : always a copy.
        reshape
        """
        return _reshape(self, (-1,), order)

    def flatten(self, order="C"):
        """Return a flattened 1-d copy of the Dual (value and tangents).

        See Also
        --------
        ravel : a view where possible.
        """
        out = _reshape(self, (-1,), order)
        return _copy(out) if (<Dual>out)._base is not None else out

    def transpose(self, *axes):
        """Return a view with axes permuted, like `numpy.ndarray.transpose`.

        `axes` as for NumPy: none (reverse the axes), a tuple, or the axes as
        separate arguments.  The tangent axis stays last.
        """
        if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
            axes = axes[0]
        return _transpose(self, axes or None)

    def squeeze(self, axis=None):
        """Return a view without the length-1 axes (or only those in `axis`)."""
        return _squeeze(self, axis)

    def copy(self):
        """Return a copy that owns its memory (``base`` is None), as ``np.copy``."""
        return _copy(self)

    def sum(self, *args, **kwargs):
        """Sum of the elements, as ``np.sum(d, axis=None, keepdims=False)``.

        Tangents are summed alike; ``axis=`` and ``keepdims=`` as in NumPy.

        See Also
        --------
        numpy.sum, mean, prod, cumsum
        """
        return _sum(self, *args, **kwargs)

    def mean(self, *args, **kwargs):
        """Mean of the elements, as ``np.mean(d, axis=None, keepdims=False)``.

        See Also
        --------
        numpy.mean, sum
        """
        return _mean(self, *args, **kwargs)

    def prod(self, *args, **kwargs):
        """Product of the elements, as ``np.prod(d, axis=None, keepdims=False)``.

        The tangent follows the product rule, exact also where elements are zero.

        See Also
        --------
        numpy.prod, sum
        """
        return _prod(self, *args, **kwargs)

    def max(self, *args, **kwargs):
        """Largest element, as ``np.max(d, axis=None, keepdims=False)``.

        The tangent is that of the largest element; at a tie between elements whose
        tangents differ no derivative exists, and ValueError is raised.

        See Also
        --------
        numpy.max, min
        """
        return _max(self, *args, **kwargs)

    def min(self, *args, **kwargs):
        """Smallest element, as ``np.min(d, axis=None, keepdims=False)``.

        The tangent is that of the smallest element; at a tie between elements whose
        tangents differ no derivative exists, and ValueError is raised.

        See Also
        --------
        numpy.min, max
        """
        return _min(self, *args, **kwargs)

    def cumsum(self, *args, **kwargs):
        """Cumulative sum, as ``np.cumsum(d, axis=None)`` (flattened without `axis`).

        See Also
        --------
        numpy.cumsum, sum
        """
        return _cumsum(self, *args, **kwargs)

    def dot(self, other):
        """Dot product with `other` (a Dual or an array), as ``np.dot(d, other)``.

        See Also
        --------
        numpy.dot
        """
        return _dot(self, other)

    @staticmethod
    def supported_ufuncs(order=1):
        """The NumPy ufuncs a Dual supports, sorted by name.  Every one carries its
        second derivative too (order=2: exact Hessians), so both orders list the
        same."""
        _order(order)
        return _supported_ufuncs()

    @staticmethod
    def supported_functions(order=1):
        """The NumPy functions (``__array_function__``) a Dual supports, by name;
        order=2: those supported in second-order passes (exact Hessians and
        Hessian-vector products, ``method='dual'``), where the others raise
        TypeError."""
        return _supported_functions() if _order(order) == 1 else _o2_supported_functions()

    # --- conversions that would drop the tangent ---

    def __getattr__(self, name):
        # Only reached when normal lookup fails: the methods that are registered NumPy
        # functions, and ufuncs by name for NumPy's object loops.
        func = _METHODS.get(name)
        if func is None:
            func = _UFUNC_BY_NAME.get(name)
            if func is None:
                raise AttributeError(f"'Dual' object has no attribute {name!r}")
        return functools.partial(func, self)

    def __float__(self):
        raise TypeError(
            "float() of a Dual would drop its derivative: math.* functions and storing "
            "a Dual into a float array (g = np.zeros(n); g[i] = d) call it. Use NumPy "
            "functions (np.sin, not math.sin), build arrays of Duals with "
            "np.zeros_like(x), np.stack or np.array([...]), or use method='auto'; "
            "d.value gives the primal value, " + _FD_HINT)

    def __int__(self):
        # int() is piecewise constant, so its derivative is 0 wherever one exists:
        # nothing is dropped (x[int(d)], np.int64(d) for indices).  float() differs.
        if self.n != 1:
            raise TypeError("only Duals of one element can be converted to int")
        return int(self.v[0])

    def __index__(self):
        raise TypeError("a Dual cannot be used as an index; index with plain "
                        "integers (d.value gives the primal value)")

    def __complex__(self):
        raise TypeError("complex() of a Dual would drop its derivative; " + _FD_HINT)

    def __array__(self, dtype=None, copy=None):
        # np.asarray(x) at the top of f: an object array of 0-d Dual views of x's
        # elements.  NumPy's object loops then call the Duals' own operators and
        # methods, so derivatives flow through; the driver reassembles f's result.
        # Slower than Dual arithmetic (one Python call per element and operation),
        # never silently wrong: any conversion to floats raises.
        if dtype is not None and np.dtype(dtype).kind in "biu":
            # Integer and bool conversions are piecewise constant: derivative 0.
            return _view(self, False, False).astype(dtype)
        if dtype is not None and np.dtype(dtype) != _OBJECT_DTYPE:
            raise TypeError(
                f"np.asarray(x, dtype={np.dtype(dtype)}) of a Dual, or storing a Dual "
                f"into a float array ({np.dtype(dtype)}), would drop its derivative: "
                "call np.asarray(x) without dtype= (derivatives then flow through an "
                "object array of Duals), build arrays of Duals with np.zeros_like(x) "
                "or np.stack, or use method='auto', " + _FD_HINT)
        return _object_array(self)

    def __bool__(self):
        if self.n != 1:
            raise ValueError("the truth value of a Dual with more than one element is "
                             "ambiguous; use np.any(d.value) or np.all(d.value)")
        return self.v[0] != 0.0

    # --- arithmetic: the same rule kernels as the ufunc table ---

    def __add__(self, other):
        return _binary(B_ADD, self, other)

    def __radd__(self, other):
        return _binary(B_ADD, other, self)

    def __sub__(self, other):
        return _binary(B_SUBTRACT, self, other)

    def __rsub__(self, other):
        return _binary(B_SUBTRACT, other, self)

    def __mul__(self, other):
        return _binary(B_MULTIPLY, self, other)

    def __rmul__(self, other):
        return _binary(B_MULTIPLY, other, self)

    def __truediv__(self, other):
        return _binary(B_DIVIDE, self, other)

    def __rtruediv__(self, other):
        return _binary(B_DIVIDE, other, self)

    def __pow__(self, other, mod):
        if mod is not None:
            return NotImplemented
        return _power(self, other)

    def __rpow__(self, other, mod):
        if mod is not None:
            return NotImplemented
        return _power(other, self)

    # % and //: remainder's rule, floor_divide's (a zero derivative)
    def __mod__(self, other):
        return _binary(B_REMAINDER, self, other)

    def __rmod__(self, other):
        return _binary(B_REMAINDER, other, self)

    def __imod__(self, other):
        return _inplace(self, _binary(B_REMAINDER, self, other))

    def __floordiv__(self, other):
        return _binary(B_FLOOR_DIVIDE, self, other)

    def __rfloordiv__(self, other):
        return _binary(B_FLOOR_DIVIDE, other, self)

    def __matmul__(self, other):
        return _matmul(self, other)

    def __rmatmul__(self, other):
        return _matmul(other, self)

    def __iadd__(self, other):
        return _inplace(self, _binary(B_ADD, self, other))

    def __isub__(self, other):
        return _inplace(self, _binary(B_SUBTRACT, self, other))

    def __imul__(self, other):
        return _inplace(self, _binary(B_MULTIPLY, self, other))

    def __itruediv__(self, other):
        return _inplace(self, _binary(B_DIVIDE, self, other))

    def __ipow__(self, other):
        return _inplace(self, _power(self, other))

    def __imatmul__(self, other):
        return _inplace(self, _matmul(self, other))

    def __neg__(self):
        return _unary(U_NEGATIVE, self)

    def __pos__(self):
        return _unary(U_POSITIVE, self)

    def __abs__(self):
        return _unary(U_ABSOLUTE, self)

    # Comparisons look at values only, so that branches in f work.
    def __lt__(self, other):
        return _compare(operator.lt, self, other)

    def __le__(self, other):
        return _compare(operator.le, self, other)

    def __gt__(self, other):
        return _compare(operator.gt, self, other)

    def __ge__(self, other):
        return _compare(operator.ge, self, other)

    def __eq__(self, other):
        return _compare(operator.eq, self, other)

    def __ne__(self, other):
        return _compare(operator.ne, self, other)

    __hash__ = None

    # --- indexing ---

    def __getitem__(self, key):
        cdef Py_ssize_t i, m, dim0
        nd = len(self._shape)
        if nd and self._strides is None and PyLong_Check(key) and not PyBool_Check(key):
            # x[i] of a contiguous Dual: a contiguous block, viewed without a copy
            dim0 = self._shape[0]
            i = key
            if i < 0:
                i += dim0
            if i < 0 or i >= dim0:
                raise IndexError(f"index {key} is out of bounds for axis 0 with size "
                                 f"{dim0}")
            m = self.n // dim0 if dim0 else 0
            return _block_view(self, self._shape[1:], i * m, m)
        if nd == 1 and PySlice_Check(key):
            # x[1:], x[:-1], x[::2]: the residual and objective idiom, viewed directly
            return _slice_view(self, key)
        vv = _view(self, False, False)
        r = vv[key]
        if not cnp.PyArray_Check(r):
            # an element (NumPy gives a scalar): the same element as a 0-d view
            r = vv[(key if type(key) is tuple else (key,)) + (Ellipsis,)]
        out = _view_of(self, r)
        if out is not None:
            return out
        # Advanced indexing: NumPy copies, and so does the Dual.
        return _from_arrays(r, _view(self, True, False)[_tangent_key(key)], self.k)

    def __setitem__(self, key, value):
        cdef Py_ssize_t i, dim0
        cdef Dual d
        if self._readonly:
            raise ValueError("assignment destination is read-only (a broadcast Dual "
                             "view); copy it first")
        value = _lift(value)
        if type(value) is Dual:
            d = <Dual>value
            if d.k != self.k:
                raise ValueError(f"cannot assign a Dual with k={d.k} tangent directions "
                                 f"into one with k={self.k}")
            if (len(self._shape) == 1 and self._strides is None and PyLong_Check(key)
                    and not PyBool_Check(key) and d.n == 1):
                dim0 = self.n
                i = key
                if i < 0:
                    i += dim0
                if i < 0 or i >= dim0:
                    raise IndexError(f"index {key} is out of bounds for axis 0 with "
                                     f"size {dim0}")
                self.v[i] = d.v[0]
                memmove(self.t + i * self.k, d.t, self.k * sizeof(double))
                return
            # Copy first: the source may be (a view of) self.
            vsrc = np.array(_view(d, False, False))
            tsrc = np.array(_view(d, True, False))
        else:
            vsrc = _constant(value, "assigned value")
            tsrc = 0.0
        # The value first: where it fails (shapes), nothing was written; where it
        # succeeds, the tangent (the same shapes plus k) does too.
        _view(self, False, True)[key] = vsrc
        _view(self, True, True)[_tangent_key(key)] = tsrc

    # --- NumPy protocols ---

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        entry = _UFUNCS.get(ufunc)
        if entry is None:
            entry = _lookup_ufunc(ufunc)        # scipy.special's, on first use
        if entry is None:
            raise TypeError(f"{_ufunc_name(ufunc)} is not supported for Dual "
                            f"arrays (see Dual.supported_ufuncs()); " + _FD_HINT)
        if not kwargs and method == "__call__":
            # the common case, kept short: np.sin(x), np.maximum(x, 0)
            kind = entry[0]
            if kind == 1 and len(inputs) == 1:
                return _unary(entry[1], inputs[0])
            if kind == 2 and len(inputs) == 2:
                return _binary(entry[1], inputs[0], inputs[1])
        out = kwargs.pop("out", None)
        if out is not None and not isinstance(out, tuple):
            out = (out,)
        if method == "__call__":
            if kwargs:
                raise TypeError(f"numpy.{ufunc.__name__} on Dual arrays does not take "
                                f"{', '.join(sorted(kwargs))}")
            kind, idx = entry
            if len(inputs) != (2 if kind in (2, 3, 5, 6) else 1):
                raise TypeError(f"numpy.{ufunc.__name__}: wrong number of inputs")
            if kind == 1:
                result = _unary(idx, inputs[0])
            elif kind == 2:
                result = _binary(idx, inputs[0], inputs[1])
            elif kind == 5:
                result = _power(inputs[0], inputs[1])
            elif kind == 6:
                result = _matmul(inputs[0], inputs[1])
            elif kind == 3:
                return ufunc(_values(inputs[0]), _values(inputs[1]))
            else:
                return ufunc(_values(inputs[0]))
        else:
            handler = _UFUNC_METHODS.get((ufunc, method))
            if handler is None:
                raise TypeError(f"numpy.{ufunc.__name__}.{method} is not supported for "
                                f"Dual arrays; supported methods: "
                                f"{', '.join(sorted(f'{u.__name__}.{m}' for u, m in _UFUNC_METHODS))}")
            result = handler(*inputs, **kwargs)
        if out is None or all(o is None for o in out):
            return result
        if len(out) != 1 or type(out[0]) is not Dual:
            raise TypeError(f"numpy.{ufunc.__name__}: out= must be a Dual (a plain "
                            "array cannot hold the derivative); omit out= instead")
        o = <Dual>out[0]
        if o._shape != _shape_of(result):
            raise ValueError(f"out has shape {o._shape}; the result has shape "
                             f"{_shape_of(result)}")
        o[...] = result
        return o

    def __array_function__(self, func, types, args, kwargs):
        if _o2_count and func in _O2_REFUSED and _o2() is not None:
            _o2_refuse(f"{func.__module__}.{func.__name__}")
        handler = _FUNCTIONS.get(func)
        if handler is None:
            name = getattr(func, "__name__", repr(func))
            mod = getattr(func, "__module__", "numpy") or "numpy"
            raise TypeError(f"{mod}.{name} is not supported for Dual arrays (see "
                            f"Dual.supported_functions()); " + _FD_HINT)
        return handler(*args, **kwargs)


cdef int _order(order) except -1:
    if order not in (1, 2) or isinstance(order, bool):
        raise ValueError(f"order must be 1 or 2; got {order!r}")
    return order


cdef str _ufunc_name(ufunc):
    """A ufunc's public name with its real module: ufuncs carry no __module__, so look
    in NumPy and then in scipy.special (only if the caller imported it)."""
    name = ufunc.__name__
    if getattr(np, name, None) is ufunc:
        return f"numpy.{name}"
    import sys
    special = sys.modules.get("scipy.special")
    if special is not None and getattr(special, name, None) is ufunc:
        return f"scipy.special.{name}"
    return f"the ufunc {name}"
