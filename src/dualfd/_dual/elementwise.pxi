# Part of dualfd._dual._core (included by _core.pyx): elementwise rules (csrc/rules.def) and their kernels.

# --- the rules table, from csrc/rules.def ---------------------------------------------

cdef dict _UNARY_INDEX = {}
cdef dict _BINARY_INDEX = {}
cdef dict _RULE_MODULE = {}        # rule name -> "numpy" or "scipy.special"
for _i in range(dfd_n_unary_rules):
    _UNARY_INDEX[dfd_unary_rules[_i].name.decode()] = _i
    _RULE_MODULE[dfd_unary_rules[_i].name.decode()] = dfd_unary_rules[_i].module.decode()
for _i in range(dfd_n_binary_rules):
    _BINARY_INDEX[dfd_binary_rules[_i].name.decode()] = _i
    _RULE_MODULE[dfd_binary_rules[_i].name.decode()] = dfd_binary_rules[_i].module.decode()

cdef int U_NEGATIVE = _UNARY_INDEX["negative"]
cdef int U_POSITIVE = _UNARY_INDEX["positive"]
cdef int U_SQUARE = _UNARY_INDEX["square"]
cdef int U_ABSOLUTE = _UNARY_INDEX["absolute"]
cdef int U_SQRT = _UNARY_INDEX["sqrt"]
cdef int U_SINC = _UNARY_INDEX["sinc"]
cdef int B_ADD = _BINARY_INDEX["add"]
cdef int B_SUBTRACT = _BINARY_INDEX["subtract"]
cdef int B_MULTIPLY = _BINARY_INDEX["multiply"]
cdef int B_DIVIDE = _BINARY_INDEX["divide"]
cdef int B_POWER = _BINARY_INDEX["power"]
cdef int B_MAXIMUM = _BINARY_INDEX["maximum"]
cdef int B_MINIMUM = _BINARY_INDEX["minimum"]
cdef int B_REMAINDER = _BINARY_INDEX["remainder"]       # for % (type.pxi)
cdef int B_FLOOR_DIVIDE = _BINARY_INDEX["floor_divide"] # for // (type.pxi)


cdef object _rule_function(str name):
    """What RULES names as a rule's function: the NumPy object (a ufunc, or a function
    such as np.sinc), or for a scipy.special ufunc its dotted name as a string --
    SciPy is optional and not imported here (special.pxi resolves it on demand)."""
    module = _RULE_MODULE[name]
    return getattr(np, name) if module == "numpy" else f"{module}.{name}"


#: The derivative rules as data: ``(name, arity, function, lo, hi)`` per line of
#: csrc/rules.def, ``[lo, hi]`` being the domain the tests sample.  ``function`` is the
#: NumPy ufunc (or function: np.sinc) of that name, or the string
#: ``"scipy.special.<name>"`` for the rules of SciPy's ufuncs.
RULES = tuple(
    [(dfd_unary_rules[i].name.decode(), 1, _rule_function(dfd_unary_rules[i].name.decode()),
      dfd_unary_rules[i].lo, dfd_unary_rules[i].hi) for i in range(dfd_n_unary_rules)]
    + [(dfd_binary_rules[i].name.decode(), 2,
        _rule_function(dfd_binary_rules[i].name.decode()),
        dfd_binary_rules[i].lo, dfd_binary_rules[i].hi)
       for i in range(dfd_n_binary_rules)])

#: The partials of each rule as written in csrc/rules.def: name -> (derivative,) for a
#: unary rule, (da, db) for a binary one.  The sparsity tracer (dualfd._tracer) reads
#: from them which partials are identically zero or constant.
RULE_PARTIALS = dict(
    [(dfd_unary_rules[i].name.decode(), (dfd_unary_rules[i].deriv.decode(),))
     for i in range(dfd_n_unary_rules)]
    + [(dfd_binary_rules[i].name.decode(),
        (dfd_binary_rules[i].da.decode(), dfd_binary_rules[i].db.decode()))
       for i in range(dfd_n_binary_rules)])


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
    if _o2_count:
        _o2_unary(rule, x, out)
    return out


cdef inline void _run2(dfd_binary_fn fn, Dual out, const double *a, size_t sa,
                       const double *ta, const double *b, size_t sb, const double *tb):
    if out.n * (out.k + 1) >= NOGIL_MIN:
        with nogil:
            fn(out.n, out.k, a, sa, ta, b, sb, tb, out.v, out.t)
    else:
        fn(out.n, out.k, a, sa, ta, b, sb, tb, out.v, out.t)


cdef object _binary(int rule, a, b):
    """a (op) b for Dual/Dual, Dual/constant and constant/Dual, with broadcasting; in a
    second-order pass with the rule's second-order term (second.pxi)."""
    r = _binary1(rule, a, b)
    if _o2_count and type(r) is Dual:
        _o2_binary(rule, a, b, <Dual>r)
    return r


cdef object _binary1(int rule, a, b):
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
    if da is None and not (PyFloat_Check(a) or PyLong_Check(a)):
        a2 = _lift(a)          # an object array of Duals (np.asarray(x)) or a list
        if type(a2) is Dual:
            return _binary1(rule, a2, b)
    if db is None and not (PyFloat_Check(b) or PyLong_Check(b)):
        b2 = _lift(b)
        if type(b2) is Dual:
            return _binary1(rule, a, b2)
    return _binary_general(fn, da, a, db, b)


cdef inline int _array_stride(a, Dual d):
    """Stride (1, or 0 for one element) of a float64 C-contiguous ndarray operand whose
    broadcast leaves d's shape unchanged; -1 when the general path is needed."""
    if not (cnp.PyArray_Check(a) and c_ready(<cnp.ndarray>a, cnp.NPY_DOUBLE)):
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


# Functions of the elementwise family that are not rules: piecewise-constant ones
# (zero derivative: round, fix, angle) and pass-throughs (nan_to_num, real_if_close).

def _sinc(x):
    # np.sinc is a Python function in NumPy; its rule line is "sinc" in rules.def.
    return _unary(U_SINC, _as_dual(_lift(x)))


def _round(a, decimals=0, out=None):
    _unsupported_args("round", out=out)
    d = _as_dual(_lift(a))
    # piecewise constant: derivative 0 wherever it exists (away from the rounding
    # boundaries), the tangent is zero
    return _from_arrays(np.round(_view(<Dual>d, False, False), decimals),
                        np.zeros(d.shape + (d.k,)), d.k)


def _fix(x, out=None):
    _unsupported_args("fix", out=out)
    d = _as_dual(_lift(x))
    return _from_arrays(np.fix(_view(<Dual>d, False, False)), np.zeros(d.shape + (d.k,)),
                        d.k)


def _angle(z, deg=False):
    # the angle of a real number is 0 or pi (180): piecewise constant in z
    d = _as_dual(_lift(z))
    return _from_arrays(np.angle(_view(<Dual>d, False, False), deg=deg),
                        np.zeros(d.shape + (d.k,)), d.k)


def _real_if_close(a, tol=100):
    # NumPy returns a real input itself
    return a


def _nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    """np.nan_to_num: finite values pass with their tangent; replaced ones (NaN, +-inf)
    become constants, tangent 0.  copy=False writes into x, as NumPy does."""
    d = _as_dual(_lift(x))
    v = _view(<Dual>d, False, False)
    finite = np.isfinite(v)
    value = np.nan_to_num(v, copy=True, nan=nan, posinf=posinf, neginf=neginf)
    tangent = np.where(finite[..., None], _view(<Dual>d, True, False), 0.0)
    r = _from_arrays(value, tangent, d.k)
    if copy:
        return r
    d[...] = r            # NumPy dispatches here only for x a Dual: write into it
    return d


# ufunc -> (kind, rule index): 1 unary rule, 2 binary rule, 5 power (binary rule with
# special cases), 3 binary on values only (plain bools), 4 unary on values only.
# NumPy rules only; the scipy.special ones are registered by special.pxi when SciPy is
# there, and rules naming a NumPy function (sinc) go to _FUNCTIONS.
for _name, _i in _UNARY_INDEX.items():
    if _RULE_MODULE[_name] == "numpy" and isinstance(getattr(np, _name), np.ufunc):
        _UFUNCS[getattr(np, _name)] = (1, _i)
for _name, _i in _BINARY_INDEX.items():
    if _RULE_MODULE[_name] == "numpy":
        _UFUNCS[getattr(np, _name)] = (2, _i)
_UFUNCS[np.power] = (5, B_POWER)
_UFUNCS[np.matmul] = (6, 0)          # a gufunc in NumPy 2
for _f in (np.less, np.less_equal, np.greater, np.greater_equal, np.equal,
           np.not_equal):
    _UFUNCS[_f] = (3, 0)
for _f in (np.isfinite, np.isnan, np.isinf, np.signbit):
    _UFUNCS[_f] = (4, 0)


_FUNCTIONS.update({np.where: _where, np.clip: _clip, np.sinc: _sinc, np.round: _round,
                   np.around: _round, np.fix: _fix, np.angle: _angle,
                   np.real_if_close: _real_if_close, np.nan_to_num: _nan_to_num})
_METHODS.update({"round": np.round, "conj": np.conjugate})
