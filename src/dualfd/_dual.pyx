# cython: language_level=3, cdivision=True
"""Forward-mode dual numbers: the Dual array type and the method='dual' driver.

Tangent layout: a Dual of shape s with k directions stores its value as a C-ordered
block of prod(s) doubles and its tangent as prod(s) * k doubles with each element's
k directions contiguous (shape ``s + (k,)``, "tangents last").  Measured on the
product-rule kernel (gcc -O3, one core), tangents last vs first:
n=100, k=100: 2.1 us vs 8.0 us; n=1000, k=100: 29 us vs 81 us; n=10^4, k=8: 29 us vs
67 us; n=100, k=1: 0.14 us vs 0.10 us.  Tangents last lets the kernel test once per
element whether a partial is finite and then run a branch-free loop over k, and it is
also the public tangent shape, so `.tangent` is a view and NumPy functions with
``axis=`` apply unchanged to the tangent block.

Views follow NumPy: basic indexing, reshape (where possible), transpose, iteration and
broadcast_to return Duals that share the memory of the Dual they came from, so writes
through them reach it.  Memory is owned by a root Dual (small buffers inline in the
object, others on the heap); a view keeps a reference to its root, so the buffer lives
as long as any view of it.  A view is described by a pointer into the root's value
block and element strides (None when C-contiguous); its tangent needs nothing more,
because element e of the root has its directions at ``t + e * k``: a value stride s is a
tangent stride ``s * k``.  The C kernels read contiguous blocks only, so a strided view
is copied (`_c`) before a kernel reads it; results are always new contiguous roots.
The caller's x is never reached: method='dual' seeds Duals of its own.
"""

cimport cython
cimport numpy as cnp
from cpython.long cimport PyLong_Check
from cpython.bool cimport PyBool_Check
from cpython.float cimport PyFloat_Check
from cpython.mem cimport PyMem_Malloc, PyMem_Free
from cpython.pyport cimport PY_SSIZE_T_MAX
from cpython.slice cimport PySlice_Check, PySlice_GetIndicesEx
from libc.string cimport memcpy, memmove, memset

from ._csrc cimport *

import operator

import numpy as np

cnp.import_array()

_add_reduce = np.add.reduce

cdef enum:
    NBUF = 16          # doubles stored inline: a 0-d Dual with k <= 15 needs no malloc
    # Doubles written before releasing the GIL (~100 ns) pays off: kernels run at
    # ~0.2-1 ns per double, so from here the release costs under 1%.
    NOGIL_MIN = 32768

# Default largest chunk (tangent directions per pass of f).  Measured on the Broyden
# tridiagonal Jacobian, ns per column for chunk 8/16/32/64/128/256/512:
#   n = 100:  1670 1003 705 480 365 368 375
#   n = 1000: 6442 5016 4284 4048 3977 4124 6590  (512: the tangents leave the cache)
# 128 is at the floor for both and keeps n <= 128 in a single pass.
DEFAULT_CHUNK = 128

# --- the rules table, from csrc/rules.def ---------------------------------------------

cdef dict _UNARY_INDEX = {}
cdef dict _BINARY_INDEX = {}
for _i in range(dfd_n_unary_rules):
    _UNARY_INDEX[dfd_unary_rules[_i].name.decode()] = _i
for _i in range(dfd_n_binary_rules):
    _BINARY_INDEX[dfd_binary_rules[_i].name.decode()] = _i

cdef int U_NEGATIVE = _UNARY_INDEX["negative"]
cdef int U_POSITIVE = _UNARY_INDEX["positive"]
cdef int U_SQUARE = _UNARY_INDEX["square"]
cdef int U_ABSOLUTE = _UNARY_INDEX["absolute"]
cdef int U_SQRT = _UNARY_INDEX["sqrt"]
cdef int B_ADD = _BINARY_INDEX["add"]
cdef int B_SUBTRACT = _BINARY_INDEX["subtract"]
cdef int B_MULTIPLY = _BINARY_INDEX["multiply"]
cdef int B_DIVIDE = _BINARY_INDEX["divide"]
cdef int B_POWER = _BINARY_INDEX["power"]
cdef int B_MAXIMUM = _BINARY_INDEX["maximum"]
cdef int B_MINIMUM = _BINARY_INDEX["minimum"]

#: The derivative rules as data: ``(name, arity, ufunc, lo, hi)`` per line of
#: csrc/rules.def, ``[lo, hi]`` being the domain the tests sample.
RULES = tuple(
    [(dfd_unary_rules[i].name.decode(), 1, getattr(np, dfd_unary_rules[i].name.decode()),
      dfd_unary_rules[i].lo, dfd_unary_rules[i].hi) for i in range(dfd_n_unary_rules)]
    + [(dfd_binary_rules[i].name.decode(), 2,
        getattr(np, dfd_binary_rules[i].name.decode()),
        dfd_binary_rules[i].lo, dfd_binary_rules[i].hi)
       for i in range(dfd_n_binary_rules)])

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
    Arithmetic operators (``+ - * / ** @``, unary ``-``, ``abs``, in-place forms),
    comparisons (on values, returning plain bools), indexing and assignment,
    NumPy ufuncs (`supported_ufuncs`) and functions (`supported_functions`) propagate
    tangents in C.  Anything else raises TypeError rather than drop a derivative:
    ``float(d)``, ``np.asarray(d)``, ``math.sin(d)`` and unsupported NumPy functions.
    A zero tangent entry stays zero where a derivative is infinite (sqrt, log, abs,
    norm at 0).

    Supported ufuncs (``Dual.supported_ufuncs()``): add, subtract, multiply, divide,
    power, negative, positive, square, sqrt, cbrt, reciprocal, exp, exp2, expm1, log,
    log2, log10, log1p, sin, cos, tan, arcsin, arccos, arctan, arctan2, sinh, cosh,
    tanh, arcsinh, arccosh, arctanh, absolute, fabs, sign, hypot, maximum, minimum,
    fmax, fmin, floor, ceil, trunc, rint (zero derivative), deg2rad, rad2deg, matmul;
    comparisons, isfinite, isnan, isinf, signbit (plain bools, on values).  Methods:
    ``add.reduce`` (sum), ``multiply.reduce`` (prod), ``maximum.reduce``,
    ``minimum.reduce``, ``add.accumulate`` (cumsum); ``out=`` must be a Dual.

    Supported functions (``Dual.supported_functions()``): sum, mean, prod, max, min,
    cumsum, diff (with ``axis=``, ``keepdims=`` where NumPy has them), dot, matmul,
    inner, outer, concatenate, stack, hstack, vstack, where, clip, reshape, ravel,
    transpose, squeeze, expand_dims, broadcast_to, copy, real, imag, zeros_like,
    ones_like, empty_like, full_like (Duals with zero tangent), linalg.norm (ord None,
    2, 1, inf, 'fro'), linalg.solve, linalg.inv, linalg.det.

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
        return self._shape

    @property
    def ndim(self):
        return len(self._shape)

    @property
    def size(self):
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
        return np.dtype(np.float64)

    @property
    def T(self):
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
        """Return a Dual of a new shape (C order), like `numpy.ndarray.reshape`."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _reshape(self, shape, order)

    def ravel(self, order="C"):
        return _reshape(self, (-1,), order)

    def flatten(self, order="C"):
        out = _reshape(self, (-1,), order)
        return _copy(out) if (<Dual>out)._base is not None else out

    def transpose(self, *axes):
        if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
            axes = axes[0]
        return _transpose(self, axes or None)

    def squeeze(self, axis=None):
        return _squeeze(self, axis)

    def copy(self):
        return _copy(self)

    def sum(self, axis=None, keepdims=False):
        return _sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        return _mean(self, axis=axis, keepdims=keepdims)

    def prod(self, axis=None, keepdims=False):
        return _prod(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        return _max(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        return _min(self, axis=axis, keepdims=keepdims)

    def cumsum(self, axis=None):
        return _cumsum(self, axis=axis)

    def dot(self, other):
        return _dot(self, other)

    @staticmethod
    def supported_ufuncs():
        """The NumPy ufuncs a Dual supports, sorted by name."""
        return SUPPORTED_UFUNCS

    @staticmethod
    def supported_functions():
        """The NumPy functions (``__array_function__``) a Dual supports, by name."""
        return SUPPORTED_FUNCTIONS

    # --- conversions that would drop the tangent ---

    def __float__(self):
        raise TypeError(
            "float() of a Dual would drop its derivative (math.* functions call it): "
            "use NumPy functions (np.sin, not math.sin) and keep values as Duals; "
            "d.value gives the primal value, " + _FD_HINT)

    def __int__(self):
        raise TypeError("int() of a Dual would drop its derivative; "
                        "d.value gives the primal value, " + _FD_HINT)

    def __index__(self):
        raise TypeError("a Dual cannot be used as an index; index with plain "
                        "integers (d.value gives the primal value)")

    def __complex__(self):
        raise TypeError("complex() of a Dual would drop its derivative; " + _FD_HINT)

    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            "np.asarray()/np.array() of a Dual would drop its derivative: build arrays "
            "of Duals with np.stack/np.concatenate or assign into np.zeros_like(x); "
            "d.value gives the primal value, " + _FD_HINT)

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
                                f"{', '.join(sorted(_UFUNC_METHOD_NAMES))}")
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
        handler = _FUNCTIONS.get(func)
        if handler is None:
            name = getattr(func, "__name__", repr(func))
            mod = getattr(func, "__module__", "numpy") or "numpy"
            raise TypeError(f"{mod}.{name} is not supported for Dual arrays (see "
                            f"Dual.supported_functions()); " + _FD_HINT)
        return handler(*args, **kwargs)


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


cdef Dual _block_view(Dual d, tuple shape, Py_ssize_t offset, Py_ssize_t n):
    """A C-contiguous view of n elements of contiguous d starting at element offset."""
    cdef Dual out = Dual.__new__(Dual)
    out.v = d.v + offset
    out.t = d.t + offset * d.k
    out.n = n
    out.k = d.k
    out._shape = shape
    out._base = _root(d)
    out._readonly = d._readonly
    out._set = True
    return out


cdef object _view_of(Dual d, a):
    """The Dual view of d whose value is ndarray a, when a is a view into d's values
    (basic indexing, transpose, most reshapes, broadcast_to); None when NumPy copied.

    A data pointer inside d's root value block can only belong to a view: NumPy never
    allocates into memory that is alive.  Empty results are copies (nothing to share)."""
    cdef cnp.ndarray arr = <cnp.ndarray>a
    cdef Dual root = _root(d), out
    cdef double *p = <double *>cnp.PyArray_DATA(arr)
    cdef Py_ssize_t size = cnp.PyArray_SIZE(arr), off
    cdef int i, nd = cnp.PyArray_NDIM(arr)
    if size == 0 or not (root.v <= p < root.v + root.n):
        return None
    off = p - root.v
    out = Dual.__new__(Dual)
    out.v = p
    out.t = root.t + off * root.k
    out.n = size
    out.k = root.k
    out._shape = (<object>arr).shape
    if not cnp.PyArray_IS_C_CONTIGUOUS(arr):
        out._strides = tuple([cnp.PyArray_STRIDE(arr, i) // <Py_ssize_t>sizeof(double)
                              for i in range(nd)])
    out._base = root
    out._readonly = d._readonly or _has_zero_stride(arr)
    out._set = True
    return out


cdef bint _has_zero_stride(cnp.ndarray a):
    cdef int i
    for i in range(cnp.PyArray_NDIM(a)):
        if cnp.PyArray_STRIDE(a, i) == 0 and cnp.PyArray_DIM(a, i) > 1:
            return True
    return False


cdef inline Dual _c(Dual d):
    """d itself when C-contiguous (what the kernels read), else a contiguous copy."""
    return d if d._strides is None else _copy(d)


cdef bint _behaved(cnp.ndarray a):
    """float64, native byte order, aligned: a buffer C may read."""
    return (cnp.PyArray_TYPE(a) == cnp.NPY_DOUBLE and cnp.PyArray_ISNOTSWAPPED(a)
            and cnp.PyArray_ISALIGNED(a))


cdef int _fill(double *dst, a, tuple shape) except -1:
    """Copy array-like a (broadcast to shape) into dst, C order."""
    cdef cnp.ndarray arr
    if (cnp.PyArray_Check(a) and _behaved(<cnp.ndarray>a)
            and cnp.PyArray_IS_C_CONTIGUOUS(a) and a.shape == shape):
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
    if not _behaved(arr):
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
    """A list or tuple holding Duals, such as ``[x[0], 1.0]``, as a stacked Dual."""
    if isinstance(a, (list, tuple)) and any(type(e) is Dual or isinstance(e, (list, tuple))
                                            for e in a):
        if any(type(e) is Dual for e in a) or any(type(r) is Dual for r in map(_lift, a)):
            return _stack([_lift(e) for e in a])
    return a


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


# --- elementwise kernels ------------------------------------------------------------------

cdef object _unary(int rule, a):
    if type(a) is not Dual:
        return NotImplemented
    cdef Dual x = _c(<Dual>a)
    cdef Dual out = _empty(x._shape, x.n, x.k)
    cdef dfd_unary_fn fn = dfd_unary_rules[rule].fn
    if x.n * (x.k + 1) >= NOGIL_MIN:
        with nogil:
            fn(x.n, x.k, x.v, x.t, out.v, out.t)
    else:
        fn(x.n, x.k, x.v, x.t, out.v, out.t)
    return out


cdef inline void _run2(dfd_binary_fn fn, Dual out, const double *a, size_t sa,
                       const double *ta, const double *b, size_t sb, const double *tb):
    if out.n * (out.k + 1) >= NOGIL_MIN:
        with nogil:
            fn(out.n, out.k, a, sa, ta, b, sb, tb, out.v, out.t)
    else:
        fn(out.n, out.k, a, sa, ta, b, sb, tb, out.v, out.t)


cdef object _binary(int rule, a, b):
    """a (op) b for Dual/Dual, Dual/constant and constant/Dual, with broadcasting."""
    cdef Dual da = None, db = None, out
    cdef dfd_binary_fn fn = dfd_binary_rules[rule].fn
    cdef double c
    cdef int s
    if type(a) is Dual:
        da = _c(<Dual>a)
    if type(b) is Dual:
        db = _c(<Dual>b)
    # Fast paths: equal shapes, and Python scalars (stride 0, no tangent).
    if da is not None and db is not None:
        if da.k != db.k:
            raise ValueError(f"Duals with different numbers of tangent directions "
                             f"({da.k} and {db.k}) cannot be combined")
        if da._shape is db._shape or da._shape == db._shape:
            out = _empty(da._shape, da.n, da.k)
            _run2(fn, out, da.v, 1, da.t, db.v, 1, db.t)
            return out
    elif da is not None:
        if PyFloat_Check(b) or PyLong_Check(b):
            c = b
            out = _empty(da._shape, da.n, da.k)
            _run2(fn, out, da.v, 1, da.t, &c, 0, NULL)
            return out
        s = _array_stride(b, da)
        if s >= 0:
            out = _empty(da._shape, da.n, da.k)
            _run2(fn, out, da.v, 1, da.t, <double *>cnp.PyArray_DATA(b), s, NULL)
            return out
    elif db is not None:
        if PyFloat_Check(a) or PyLong_Check(a):
            c = a
            out = _empty(db._shape, db.n, db.k)
            _run2(fn, out, &c, 0, NULL, db.v, 1, db.t)
            return out
        s = _array_stride(a, db)
        if s >= 0:
            out = _empty(db._shape, db.n, db.k)
            _run2(fn, out, <double *>cnp.PyArray_DATA(a), s, NULL, db.v, 1, db.t)
            return out
    else:
        return NotImplemented
    return _binary_general(fn, da, a, db, b)


cdef inline int _array_stride(a, Dual d):
    """Stride (1, or 0 for one element) of a float64 C-contiguous ndarray operand whose
    broadcast leaves d's shape unchanged; -1 when the general path is needed."""
    if not (cnp.PyArray_Check(a) and _behaved(<cnp.ndarray>a)
            and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>a)):
        return -1
    if (cnp.PyArray_SIZE(<cnp.ndarray>a) == 1
            and cnp.PyArray_NDIM(<cnp.ndarray>a) <= len(d._shape)):
        return 0
    if a.shape == d._shape:
        return 1
    return -1


cdef object _binary_general(dfd_binary_fn fn, Dual da, a, Dual db, b):
    cdef Py_ssize_t k = da.k if da is not None else db.k
    cdef const double *pa
    cdef const double *pb
    cdef const double *ta = NULL
    cdef const double *tb = NULL
    cdef size_t sa = 1, sb = 1
    try:
        ca = None if da is not None else _contiguous(_constant(a, "operand"))
        cb = None if db is not None else _contiguous(_constant(b, "operand"))
    except TypeError:
        return NotImplemented
    shape_a = da._shape if da is not None else ca.shape
    shape_b = db._shape if db is not None else cb.shape
    shape = np.broadcast_shapes(shape_a, shape_b)
    keep = []   # arrays whose buffers the kernel reads
    pa, ta, sa = _operand(da, ca, shape_a, shape, k, keep)
    pb, tb, sb = _operand(db, cb, shape_b, shape, k, keep)
    cdef Py_ssize_t n = 1
    for s in shape:
        n *= s
    cdef Dual out = _empty(shape, n, k)
    _run2(fn, out, pa, sa, ta, pb, sb, tb)
    return out


cdef (const double *, const double *, size_t) _operand(Dual d, cnp.ndarray c,
                                                     tuple own, tuple shape,
                                                     Py_ssize_t k, list keep):
    """Pointers and stride of one operand of a broadcast binary operation: the buffer
    itself (equal shape), stride 0 (one element), or a materialized broadcast copy."""
    cdef Py_ssize_t size
    if d is not None:
        size = d.n
        if own == shape or size == 1:
            return d.v, d.t, (0 if own != shape else 1)
        v = _contiguous(np.broadcast_to(_view(d, False, False), shape))
        t = _contiguous(np.broadcast_to(_view(d, True, False), shape + (k,)))
        keep.append(v)
        keep.append(t)
        return (<double *>cnp.PyArray_DATA(v), <double *>cnp.PyArray_DATA(t), 1)
    size = cnp.PyArray_SIZE(c)
    if own == shape or size == 1:
        return (<double *>cnp.PyArray_DATA(c), NULL, (0 if own != shape else 1))
    v = _contiguous(np.broadcast_to(c, shape))
    keep.append(v)
    return (<double *>cnp.PyArray_DATA(v), NULL, 1)


cdef object _power(a, b):
    """a ** b; constant exponents 0, 1, 2 are exact special cases (skip list)."""
    cdef Dual x, out
    if type(a) is Dual and (PyFloat_Check(b) or PyLong_Check(b)):
        x = <Dual>a
        if b == 2:
            return _unary(U_SQUARE, x)
        if b == 1:
            return _copy(x)
        if b == 0:
            out = _empty(x._shape, x.n, x.k)
            for i in range(x.n):
                out.v[i] = 1.0
            memset(out.t, 0, x.n * x.k * sizeof(double))
            return out
    return _binary(B_POWER, a, b)


cdef object _compare(op, Dual a, b):
    # 0-d against a number or a 0-d Dual: a Python bool without NumPy.
    if not a._shape:
        if PyFloat_Check(b) or PyLong_Check(b):
            return bool(op(a.v[0], b))
        if type(b) is Dual and not (<Dual>b)._shape:
            return bool(op(a.v[0], (<Dual>b).v[0]))
    return op(_view(a, False, False), _values(b))


# --- NumPy functions --------------------------------------------------------------------

def _unsupported_args(name, **given):
    bad = [k for k, v in given.items() if v is not None and v is not False]
    if bad:
        raise TypeError(f"numpy.{name} on Dual arrays does not support "
                        f"{', '.join(bad)}=")


cdef tuple _axes(axis, int nd):
    """axis (None, int or tuple) as a tuple of non-negative ints."""
    if axis is None:
        return tuple(range(nd))
    if not isinstance(axis, tuple):
        axis = (axis,)
    return tuple(operator.index(a) % nd if nd else operator.index(a) for a in axis)


cdef Dual _as_dual(a):
    if type(a) is Dual:
        return <Dual>a
    raise TypeError(f"expected a Dual; got {type(a).__name__}")


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


def _broadcast_to(a, shape, subok=False):
    """A read-only view, as in NumPy."""
    if type(a) is not Dual:
        return np.broadcast_to(a, shape)
    d = <Dual>a
    out = _shaped_view(d, np.broadcast_to(_view(d, False, False), shape))
    (<Dual>out)._readonly = True
    return out


def _matmul(a, b, out=None, **kw):
    _unsupported_args("matmul", out=out, **kw)
    k = _common_k((a, b))
    if k < 0:
        return NotImplemented
    Va = _values(a) if type(a) is Dual else _constant(a, "matmul operand")
    Vb = _values(b) if type(b) is Dual else _constant(b, "matmul operand")
    value = np.matmul(Va, Vb)
    na, nb = Va.ndim, Vb.ndim
    if na == 0 or nb == 0:
        raise ValueError("matmul: operands must not be 0-d (use * for scaling)")
    tangent = 0.0
    if type(a) is Dual:
        Ta = _view(<Dual>a, True, False)
        if na <= 2 and nb <= 2:
            # (..., m, n, k) -> (..., m, k, n) @ b -> (..., m, k[, p]) -> tangents last
            r = np.matmul(np.swapaxes(Ta, -1, -2), Vb)
            tangent = np.swapaxes(r, -1, -2) if nb == 2 else r
        else:
            tangent = _einsum_matmul(Ta, Vb, na, nb, True)
    if type(b) is Dual:
        Tb = _view(<Dual>b, True, False)
        if na <= 2 and nb <= 2:
            # a @ (n, p * k): all directions in one call
            r = np.matmul(Va, Tb.reshape(Tb.shape[0], -1)).reshape(value.shape + (k,))
        else:
            r = _einsum_matmul(Va, Tb, na, nb, False)
        tangent = tangent + r
    return _from_arrays(value, tangent, k)


def _einsum_matmul(A, B, na, nb, tangent_a):
    sa = "...mn" if na >= 2 else "n"
    sb = "...np" if nb >= 2 else "n"
    so = ("...m" if na >= 2 else "...") + ("p" if nb >= 2 else "")
    if tangent_a:
        sa += "z"
    else:
        sb += "z"
    return np.einsum(f"{sa},{sb}->{so}z", A, B)


def _dot(a, b, out=None):
    _unsupported_args("dot", out=out)
    na, nb = len(_shape_of(a)), len(_shape_of(b))
    if na == 0 or nb == 0:
        return _binary(B_MULTIPLY, a, b)
    if na <= 2 and nb <= 2:
        return _matmul(a, b)
    raise TypeError("numpy.dot of Duals supports operands of up to 2 dimensions; "
                    "use np.matmul (@) for stacks of matrices")


def _inner(a, b):
    k = _common_k((a, b))
    na, nb = len(_shape_of(a)), len(_shape_of(b))
    if na == 0 or nb == 0:
        return _binary(B_MULTIPLY, a, b)
    Va, Ta = _vt(a, k)
    Vb, Tb = _vt(b, k)
    value = np.inner(Va, Vb)
    ta = np.moveaxis(np.inner(np.moveaxis(Ta, -1, 0), Vb), 0, -1)
    tb = np.moveaxis(np.inner(Va, np.moveaxis(Tb, -1, 0)), na - 1, -1)
    return _from_arrays(value, ta + tb, k)


def _outer(a, b, out=None):
    _unsupported_args("outer", out=out)
    k = _common_k((a, b))
    Va, Ta = _vt(a, k)
    Vb, Tb = _vt(b, k)
    Va, Vb = Va.ravel(), Vb.ravel()
    Ta, Tb = Ta.reshape(Va.size, k), Tb.reshape(Vb.size, k)
    tangent = Ta[:, None, :] * Vb[None, :, None] + Va[:, None, None] * Tb[None, :, :]
    return _from_arrays(np.outer(Va, Vb), tangent, k)


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


def _where(condition, x=np._NoValue, y=np._NoValue):
    if x is np._NoValue or y is np._NoValue:
        raise TypeError("numpy.where with one argument on a Dual: use "
                        "np.nonzero(d.value)")
    if type(condition) is Dual:
        condition = _view(<Dual>condition, False, False)
    k = _common_k((x, y))
    Vx, Tx = _vt(x, k)
    Vy, Ty = _vt(y, k)
    cond = np.asarray(condition, dtype=bool)
    value = np.where(cond, Vx, Vy)
    tangent = np.where(cond[..., None], Tx, Ty)
    return _from_arrays(value, np.broadcast_to(tangent, value.shape + (k,)), k)


def _clip(a, a_min=np._NoValue, a_max=np._NoValue, out=None, *, min=np._NoValue,
          max=np._NoValue, **kw):
    _unsupported_args("clip", out=out, **kw)
    lo = a_min if a_min is not np._NoValue else min
    hi = a_max if a_max is not np._NoValue else max
    r = a
    if lo is not np._NoValue and lo is not None:
        r = _binary(B_MAXIMUM, r, lo)
    if hi is not np._NoValue and hi is not None:
        r = _binary(B_MINIMUM, r, hi)
    return _copy(r) if r is a else r


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


def _norm(x, ord=None, axis=None, keepdims=False):
    d = _as_dual(x)
    if ord is None or ord == 2 and (d.ndim == 1 or isinstance(axis, int)) \
            or ord == "fro":
        # sqrt(sum(x**2)): at x = 0 the sqrt rule keeps the zero tangent zero, so the
        # derivative there is 0 (a subgradient), not NaN.
        if ord == "fro" and axis is None and d.ndim != 2:
            raise ValueError("Improper number of dimensions to norm.")
        return _unary(U_SQRT, _sum(_unary(U_SQUARE, d), axis=axis, keepdims=keepdims))
    if (ord == 1 or ord == np.inf or ord == -np.inf) and \
            (d.ndim == 1 or isinstance(axis, int)):
        ad = _unary(U_ABSOLUTE, d)
        if ord == 1:
            return _sum(ad, axis=axis, keepdims=keepdims)
        return (_max if ord > 0 else _min)(ad, axis=axis, keepdims=keepdims)
    raise TypeError(f"numpy.linalg.norm of a Dual supports ord=None, 2 (vectors), "
                    f"1, inf, -inf (vectors) and 'fro'; got ord={ord!r}; " + _FD_HINT)


def _solve(a, b):
    k = _common_k((a, b))
    A, TA = _vt(a, k)
    B, TB = _vt(b, k)
    if A.ndim != 2 or B.ndim not in (1, 2):
        raise TypeError("numpy.linalg.solve of Duals supports a 2-D matrix and a 1-D "
                        "or 2-D right-hand side")
    X = np.linalg.solve(A, B)
    # A dX = dB - dA X: one solve with all directions as extra columns.
    if B.ndim == 1:
        rhs = TB - np.einsum("ijz,j->iz", TA, X)
        return _from_arrays(X, np.linalg.solve(A, rhs), k)
    rhs = TB - np.einsum("ijz,jm->imz", TA, X)
    TX = np.linalg.solve(A, rhs.reshape(A.shape[0], -1)).reshape(X.shape + (k,))
    return _from_arrays(X, TX, k)


def _inv(a):
    d = _as_dual(a)
    if d.ndim != 2:
        raise TypeError("numpy.linalg.inv of a Dual supports 2-D matrices")
    Y = np.linalg.inv(d.value)
    # dY = -Y dA Y, all directions as a batch.
    TA = np.moveaxis(d.tangent, -1, 0)
    TY = -np.matmul(np.matmul(Y, TA), Y)
    return _from_arrays(Y, np.moveaxis(TY, 0, -1), d.k)


def _det(a):
    d = _as_dual(a)
    if d.ndim != 2:
        raise TypeError("numpy.linalg.det of a Dual supports 2-D matrices")
    A = d.value
    y = np.linalg.det(A)
    # Jacobi's formula: d det A = det A tr(A^-1 dA).
    tangent = y * np.einsum("ji,ijz->z", np.linalg.inv(A), d.tangent)
    return _from_arrays(y, tangent, d.k)


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


# --- the tables -------------------------------------------------------------------------

# ufunc -> (kind, rule index): 1 unary rule, 2 binary rule, 5 power (binary rule with
# special cases), 3 binary on values only (plain bools), 4 unary on values only.
cdef dict _UFUNCS = {}
for _name, _i in _UNARY_INDEX.items():
    _UFUNCS[getattr(np, _name)] = (1, _i)
for _name, _i in _BINARY_INDEX.items():
    _UFUNCS[getattr(np, _name)] = (2, _i)
_UFUNCS[np.power] = (5, B_POWER)
_UFUNCS[np.matmul] = (6, 0)          # a gufunc in NumPy 2
for _f in (np.less, np.less_equal, np.greater, np.greater_equal, np.equal,
           np.not_equal):
    _UFUNCS[_f] = (3, 0)
for _f in (np.isfinite, np.isnan, np.isinf, np.signbit):
    _UFUNCS[_f] = (4, 0)

# Ufunc methods with a meaning on Duals; every other method raises TypeError.
cdef dict _UFUNC_METHODS = {
    (np.add, "reduce"): _reduce_sum,
    (np.multiply, "reduce"): _reduce_prod,
    (np.maximum, "reduce"): _reduce_max,
    (np.minimum, "reduce"): _reduce_min,
    (np.add, "accumulate"): _accumulate_sum,
}
_UFUNC_METHOD_NAMES = tuple(f"{u.__name__}.{m}" for u, m in _UFUNC_METHODS)

cdef dict _FUNCTIONS = {
    np.sum: _sum, np.mean: _mean, np.prod: _prod, np.cumsum: _cumsum, np.diff: _diff,
    np.max: _max, np.min: _min, np.amax: _max, np.amin: _min,
    np.dot: _dot, np.inner: _inner, np.outer: _outer,
    np.concatenate: _concatenate, np.stack: _stack, np.hstack: _hstack,
    np.vstack: _vstack, np.where: _where, np.clip: _clip, np.reshape: _np_reshape,
    np.ravel: _ravel, np.transpose: _transpose, np.squeeze: _squeeze,
    np.expand_dims: _expand_dims, np.atleast_1d: _atleast_1d, np.copy: _copy_fn,
    np.broadcast_to: _broadcast_to,
    np.zeros_like: _like(0.0), np.ones_like: _like(1.0), np.empty_like: _like(0.0),
    np.full_like: _full_like,
    np.real: _real, np.imag: _imag,
    np.shape: _shape_fn, np.ndim: _ndim_fn, np.size: _size_fn,
    np.linalg.norm: _norm, np.linalg.solve: _solve, np.linalg.inv: _inv,
    np.linalg.det: _det,
}

#: Names of the supported NumPy ufuncs and functions.
SUPPORTED_UFUNCS = tuple(sorted(u.__name__ for u in _UFUNCS))
SUPPORTED_FUNCTIONS = tuple(sorted(
    ("linalg." if f.__module__ and "linalg" in f.__module__ else "") + f.__name__
    for f in _FUNCTIONS))


# --- the method='dual' driver ------------------------------------------------------------

cdef object _result(r):
    """f's return value as a Dual or a float64 array (a constant: zero derivative)."""
    if type(r) is Dual:
        return r
    try:
        r = _lift(r)        # a (nested) list or tuple holding Duals, stacked
        if type(r) is Dual:
            return r
        a = np.asarray(r)
    except (TypeError, ValueError) as e:
        raise TypeError(f"f must return a number, an array or a Dual (or a list of "
                        f"them that forms a rectangular array); it returned a "
                        f"{type(r).__name__} that does not: {e}") from None
    if a.dtype.kind not in "biuf":
        raise TypeError(f"f must return real numbers or Duals; got "
                        f"{type(r).__name__} of dtype {a.dtype}")
    return _contiguous(a, dtype=np.float64)


def dual_jacobian(f, cnp.ndarray x, tuple args, dict kwargs, chunk, bint want_value):
    """J = df/dx by forward mode: identity tangents seeded in balanced chunks.

    Returns (value, J, fshape): value is f(x) (a float for scalar f; None unless
    want_value), J has shape fshape + x.shape."""
    cdef Py_ssize_t n = cnp.PyArray_SIZE(x), maxk, npass, k, kc, c0, m = 0, p
    cdef Dual d, rd
    cdef cnp.ndarray J = None
    cdef tuple xshape = (<object>x).shape
    # A chunk larger than n means one pass; clamping first keeps n + maxk from
    # overflowing for huge chunk values.
    maxk = DEFAULT_CHUNK if chunk is None else min(chunk, max(n, 1))
    npass = (n + maxk - 1) // maxk if n else 1
    k = (n + npass - 1) // npass if n else 0      # balanced: 13 with 8 -> 7 + 6
    value = None
    fshape = None
    cdef const double *xd = <const double *>cnp.PyArray_DATA(x)
    for p in range(npass):
        c0 = p * k
        kc = min(k, n - c0)
        d = _empty(xshape, n, kc)
        memcpy(d.v, xd, n * sizeof(double))
        dfd_seed(n, kc, c0, d.t)
        r = _result(f(d, *args, **kwargs))
        rshape = (<Dual>r)._shape if type(r) is Dual else r.shape
        if p == 0:
            fshape = rshape
            m = 1
            for s in fshape:
                m *= s
            J = cnp.PyArray_ZEROS(2, [m, n], cnp.NPY_DOUBLE, 0)
            if want_value:
                if type(r) is Dual:
                    rd = <Dual>r
                    value = float(rd.value) if not fshape else np.array(rd.value)
                else:
                    value = float(r) if not fshape else np.array(r)
        elif rshape != fshape:
            raise ValueError(f"f returned shape {rshape} in one pass and {fshape} in "
                             "another; its output shape must not depend on x")
        if type(r) is Dual:
            rd = _c(<Dual>r)
            if rd.k != kc:
                raise ValueError(f"f returned a Dual with {rd.k} tangent directions; "
                                 f"expected {kc} (do not build Duals inside f)")
            dfd_put_columns(m, kc, rd.t, n, c0, <double *>cnp.PyArray_DATA(J))
    return value, J.reshape(fshape + xshape), fshape


def dual_jvp(f, cnp.ndarray x, cnp.ndarray v, tuple args, dict kwargs):
    """(f(x), J(x) @ v) in one pass with a single tangent direction v."""
    cdef Py_ssize_t n = cnp.PyArray_SIZE(x)
    cdef tuple xshape = (<object>x).shape
    cdef Dual d = _empty(xshape, n, 1), rd
    _fill(d.v, x, xshape)
    _fill(d.t, v, xshape)
    r = _result(f(d, *args, **kwargs))
    if type(r) is Dual:
        rd = <Dual>r
        if rd.k != 1:
            raise ValueError(f"f returned a Dual with {rd.k} tangent directions; "
                             "expected 1 (do not build Duals inside f)")
        if not rd._shape:
            return rd.v[0], rd.t[0]
        return np.array(rd.value), np.array(rd.tangent[..., 0])
    if not r.shape:
        return float(r), 0.0
    return r, np.zeros(r.shape)
