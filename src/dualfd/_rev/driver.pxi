# Part of dualfd._reverse (included by _reverse.pyx): the drivers: trace f, sweep, read the gradient.

# --- drivers ------------------------------------------------------------------------------

cdef object _output(r):
    """f's result as a Tracer, or a plain array (f does not depend on x)."""
    if type(r) is Tracer:
        return r
    if isinstance(r, (list, tuple)) and _has_tracer(r):
        r = np.array(r, dtype=object) if all(type(e) is Tracer and not e.ndim
                                             for e in r) else np.stack(r)
        if type(r) is Tracer:
            return r
    if isinstance(r, Dual):
        _const(r)
    a = np.asarray(r)
    if a.dtype.kind == "O":
        try:
            a = _pack(a)
        except TypeError as e:
            raise TypeError(f"f must return real numbers or traced arrays; it returned "
                            f"{type(r).__name__}: {e}") from None
        if type(a) is Tracer:
            return a
    if a.dtype.kind not in "biuf":
        raise TypeError(f"f must return real numbers or traced arrays; it returned "
                        f"{type(r).__name__}" + (f" of dtype {a.dtype}" if a.dtype.kind
                                                 != "O" else ""))
    return a.astype(np.float64)


cdef tuple _trace(f, x0, tuple args, dict kwargs):
    cdef Tape tape = Tape()
    # a view: the tracer's value is made read-only, the caller's x must stay as it is
    cdef Tracer x = _new(tape, x0.view() if type(x0) is np.ndarray and
                         cnp.PyArray_IS_C_CONTIGUOUS(x0) and x0.dtype == _float64
                         else np.array(x0, dtype=np.float64, order="C"))
    cdef Py_ssize_t xnode = x.node
    r = _output(f(x, *args, **kwargs))
    return tape, xnode, r


cdef object _plain(value):
    """f's value as the drivers return it: a float for a scalar f, else an array."""
    return float(value) if not value.shape else np.array(value)


def reverse_jacobian(f, cnp.ndarray x0, tuple args, dict kwargs, bint want_value):
    """J = df/dx by reverse mode: f traced once, one backward sweep per element of
    f(x).  Returns (value, J, fshape) as dual_jacobian does."""
    tape, xnode, r = _trace(f, x0, args, kwargs)
    value = (<Tracer>r).value if type(r) is Tracer else r
    fshape = value.shape
    m = value.size
    if m == 1 and type(r) is Tracer:          # a gradient: one sweep, no copy into J
        (<Tape>tape).sweep((<Tracer>r).node, np.ones(fshape))
        J = (<Tape>tape).gradient(xnode)
    else:
        J = np.zeros((m, x0.size))
        if type(r) is Tracer:
            seed = np.zeros(m)
            for i in range(m):
                seed[i] = 1.0
                (<Tape>tape).sweep((<Tracer>r).node, seed.reshape(fshape))
                seed[i] = 0.0
                J[i] = (<Tape>tape).gradient(xnode).reshape(-1)
    return (_plain(value) if want_value else None,
            J.reshape(fshape + (<object>x0).shape), fshape)


def reverse_vjp(f, cnp.ndarray x0, u, tuple args, dict kwargs):
    """(f(x), u @ J) in one backward sweep; u must have f's shape."""
    tape, xnode, r = _trace(f, x0, args, kwargs)
    value = (<Tracer>r).value if type(r) is Tracer else r
    u = np.asarray(u, dtype=np.float64)
    if u.shape != value.shape:
        raise ValueError(f"u must have f's shape {value.shape}; got {u.shape}")
    if type(r) is Tracer:
        (<Tape>tape).sweep((<Tracer>r).node, u)
        g = (<Tape>tape).gradient(xnode)
    else:
        g = np.zeros((<object>x0).shape)
    return _plain(value), g


def _supported_functions():
    """What reverse mode supports: every function and ufunc the Dual supports (the
    same table), listed by the Dual's names."""
    return _dual_core._supported_functions()


def _dedicated():
    """The NumPy functions with an adjoint of their own (the rest use the Dual's)."""
    return tuple(sorted(("linalg." if "linalg" in (f.__module__ or "") else "")
                        + f.__name__ for f in _REV))


def _trace_py(f, x0, args=(), kwargs=None):
    """(tape, x's node, f's result) of one traced call, for benchmarks and tests."""
    return _trace(f, x0, tuple(args), dict(kwargs or {}))

