# Part of dualfd._dual._core (included by _core.pyx): the method='dual' driver.

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
    if a.dtype.kind == "O":
        try:
            return _lift(a)         # np.asarray(x) in f: an object array of Duals
        except (TypeError, ValueError) as e:
            raise TypeError(f"f must return real numbers or Duals; it returned an "
                            f"object array that is neither: {e}") from None
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
                    value = rd.v[0] if not fshape else np.array(rd.value)
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
