# Part of dualfd._reverse (included by _reverse.pyx): ufunc and function dispatch, object arrays, and the generic adjoint (the Dual's).

# --- rules, ufuncs and the function table ------------------------------------------------

# the rules the operators and compositions use, by index (the Dual's table)
cdef int U_NEGATIVE, U_POSITIVE, U_ABSOLUTE, U_SQUARE, U_SQRT, B_ADD, B_SUBTRACT, \
    B_MULTIPLY, B_DIVIDE, B_POWER, B_REMAINDER, B_FLOOR_DIVIDE, B_MAXIMUM, B_MINIMUM
(U_NEGATIVE, U_POSITIVE, U_ABSOLUTE, U_SQUARE, U_SQRT, B_ADD, B_SUBTRACT, B_MULTIPLY,
 B_DIVIDE, B_POWER, B_REMAINDER, B_FLOOR_DIVIDE, B_MAXIMUM, B_MINIMUM) = [
    _UFUNCS[u][1] for u in (
        np.negative, np.positive, np.absolute, np.square, np.sqrt, np.add, np.subtract,
        np.multiply, np.divide, np.power, np.remainder, np.floor_divide, np.maximum,
        np.minimum)]


cdef object _power(a, b):
    # x ** 2 as square, as the Dual does (exact, and no log in the partial)
    if type(a) is Tracer and type(b) is not Tracer and (PyFloat_Check(b) or PyLong_Check(b)):
        if b == 2:
            return _unary(np.square, U_SQUARE, <Tracer>a)
        if b == 1:
            return np.copy(a)
    return _binary(np.power, B_POWER, a, b)


cdef bint _has_tracer(o):
    if type(o) is Tracer:
        return True
    if type(o) is list or type(o) is tuple:
        for e in o:
            if _has_tracer(e):
                return True
    elif type(o) is dict:
        for e in (<dict>o).values():
            if _has_tracer(e):
                return True
    return False


cdef object _ufunc(ufunc, str method, tuple inputs, dict kwargs):
    for i in inputs:
        if isinstance(i, Dual):
            _const(i)
    inputs = tuple([_unobject(i) for i in inputs])
    if method == "__call__":
        out = kwargs.pop("out", None)
        if type(out) is tuple:
            if len(out) != 1:
                raise TypeError(f"{ufunc.__name__}: out= of several arrays is not "
                                "supported on traced arrays")
            out = out[0]
        if out is not None and type(out) is not Tracer:
            raise TypeError(f"{ufunc.__name__}(..., out=) into a plain array would drop "
                            "the derivative; assign the result instead, " + _FD_HINT)
        if not _has_tracer(inputs):
            # constants written into a traced out=: it holds a constant now
            r = ufunc(*inputs, **kwargs)
            return (<Tracer>out)._rebind(_lift((<Tracer>out).tape, r))
        e = _UFUNCS.get(ufunc)
        if e is None:
            e = _dual_core._special_lookup(ufunc)
        if e is None:
            raise TypeError(f"the ufunc {ufunc.__name__} is not supported on traced "
                            "arrays (see dualfd.Dual.supported_ufuncs()); " + _FD_HINT)
        kind = e[0]
        if kwargs:
            r = _fallback(ufunc, inputs, kwargs)
        elif kind in (3, 4):                     # comparisons, isfinite...: values only
            r = ufunc(*[_cmp(i) for i in inputs])
        elif kind == 1:
            r = _unary(ufunc, e[1], <Tracer>inputs[0])
        elif kind == 2:
            r = _binary(ufunc, e[1], inputs[0], inputs[1])
        elif kind == 5:
            r = _power(inputs[0], inputs[1])
        elif kind == 6:
            r = _matmul(inputs[0], inputs[1])
        else:
            r = _fallback(ufunc, inputs, kwargs)
        if out is not None:
            return (<Tracer>out)._rebind(r)
        return r
    red = _REDUCE.get((ufunc, method))
    if red is not None and len(inputs) == 1:
        if kwargs.get("out") is not None:
            raise TypeError(f"{ufunc.__name__}.{method}(..., out=) is not supported on "
                            "traced arrays")
        kwargs.pop("out", None)
        if method == "reduce" and "axis" not in kwargs:
            kwargs["axis"] = 0
        return _function(red, inputs, kwargs)
    raise TypeError(f"{ufunc.__name__}.{method} is not supported on traced arrays; "
                    + _FD_HINT)


_add_reduce = np.add.reduce
_REDUCE = {(np.add, "reduce"): np.sum, (np.multiply, "reduce"): np.prod,
           (np.maximum, "reduce"): np.max, (np.minimum, "reduce"): np.min,
           (np.add, "accumulate"): np.cumsum}

_FALLBACK = object()


cdef object _function(func, args, kwargs):
    impl = _REV.get(func)
    if impl is not None:
        r = impl(*args, **kwargs)
        if r is not _FALLBACK:
            return r
    if func in _FUNCTIONS:
        return _fallback(func, args, kwargs)
    mod = func.__module__ or "numpy"
    raise TypeError(f"{mod}.{func.__name__} is not supported for traced arrays "
                    "(reverse mode supports the functions Dual.supported_functions() "
                    "lists); " + _FD_HINT)


# --- the generic adjoint: the Dual's local Jacobian ---------------------------------------

# Tangent directions per re-run of a function whose adjoint comes from the Dual.
_FALLBACK_CHUNK = 64


def _substitute(o, make):
    if type(o) is Tracer:
        return make(o)
    if type(o) is list:
        return [_substitute(e, make) for e in o]
    if type(o) is tuple:
        return tuple([_substitute(e, make) for e in o])
    if type(o) is dict:
        return {k: _substitute(e, make) for k, e in o.items()}
    return o


def _dual_leaves(o, acc):
    """The Duals of a function's result, in order (tuples, lists, namedtuples)."""
    if isinstance(o, Dual):
        acc.append(o)
    elif isinstance(o, (tuple, list)):
        for e in o:
            _dual_leaves(e, acc)
    return acc


def _rewrap(o, it):
    if isinstance(o, Dual):
        return next(it)
    if isinstance(o, tuple) and hasattr(o, "_fields"):
        return type(o)(*[_rewrap(e, it) for e in o])
    if isinstance(o, (tuple, list)):
        return type(o)([_rewrap(e, it) for e in o])
    return o


cdef object _py_record(Tape tape, adjoint, list in_nodes, list out_nodes):
    """A PY record: adjoint(output adjoints) -> contributions to the inputs' adjoints."""
    cdef dfd_rec *rec = tape.push(DFD_R_PY, out_nodes[0])
    rec.aux = len(tape.py)
    tape.py.append((adjoint, in_nodes, out_nodes))


cdef object _fallback(func, args, kwargs):
    leaves = []
    def collect(t):
        leaves.append(t)
        return Dual(t.value, np.zeros(t.value.shape + (1,)))
    dargs = _substitute(args, collect)
    dkwargs = _substitute(kwargs, collect)
    out = func(*dargs, **dkwargs)
    outs = _dual_leaves(out, [])
    if not outs or not leaves:
        return out
    tape = _common_tape(leaves)
    values = [t.value for t in leaves]
    tracers = [_new(tape, np.asarray(d.value)) for d in outs]
    in_nodes = [(<Tracer>t).node for t in leaves]
    out_nodes = [(<Tracer>t).node for t in tracers]

    def adjoint(gs):
        sizes = [v.size for v in values]
        total = sum(sizes)
        offs = np.cumsum([0] + sizes)
        acc = np.zeros(total)
        for c0 in range(0, total, _FALLBACK_CHUNK):
            w = min(_FALLBACK_CHUNK, total - c0)
            it = iter(range(len(values)))
            def seed(t):
                j = next(it)
                T = np.zeros((sizes[j], w))
                lo, hi = max(c0, offs[j]), min(c0 + w, offs[j + 1])
                if lo < hi:
                    T[np.arange(lo, hi) - offs[j], np.arange(lo, hi) - c0] = 1.0
                return Dual(values[j], T.reshape(values[j].shape + (w,)))
            r = func(*_substitute(args, seed), **_substitute(kwargs, seed))
            for g, d in zip(gs, _dual_leaves(r, [])):
                acc[c0:c0 + w] += np.reshape(g, -1) @ np.reshape(d.tangent, (-1, w))
        return [acc[offs[j]:offs[j + 1]] for j in range(len(values))]

    tape.keep.append(values)
    _py_record(tape, adjoint, in_nodes, out_nodes)
    return _rewrap(out, iter(tracers))
