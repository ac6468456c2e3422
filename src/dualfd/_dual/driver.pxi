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
    value, J, fshape = _passes(f, x, args, kwargs, cnp.PyArray_SIZE(x), None, chunk,
                               want_value)
    return value, J.reshape(fshape + (<object>x).shape), fshape


def dual_compressed(f, cnp.ndarray x, cnp.ndarray colors, Py_ssize_t ncolors,
                    tuple args, dict kwargs, chunk, bint want_value):
    """The compressed Jacobian of a column coloring, B = J S with S[j, colors[j]] = 1:
    one tangent direction per color (colors: int64, one per entry of x).

    Returns (value, B, fshape) with B of shape (m, ncolors)."""
    if colors.dtype != np.int64 or not c_ready(colors, cnp.NPY_INT64) \
            or colors.size != x.size:
        raise ValueError("colors must be C-contiguous int64 with one entry per x")
    return _passes(f, x, args, kwargs, ncolors, colors, chunk, want_value)


cdef tuple _passes(f, cnp.ndarray x, tuple args, dict kwargs, Py_ssize_t ncols,
                   cnp.ndarray colors, chunk, bint want_value):
    """f on Duals seeded with the columns of S, in balanced passes of at most chunk
    columns: S = I (colors None, ncols = n) or the 0/1 seed of a coloring.  Returns
    (value, J S as an (m, ncols) array, fshape)."""
    cdef Py_ssize_t n = cnp.PyArray_SIZE(x), maxk, npass, k, kc, c0, m = 0, p, j, c
    cdef Dual d, rd
    cdef cnp.ndarray J = None
    cdef tuple xshape = (<object>x).shape
    cdef const int64_t *cp = NULL
    if colors is not None:
        cp = <const int64_t *>cnp.PyArray_DATA(colors)
        for j in range(n):
            if cp[j] < 0 or cp[j] >= ncols:
                raise ValueError(f"colors[{j}] = {cp[j]} is not in [0, {ncols})")
    # A chunk larger than ncols means one pass; clamping first keeps ncols + maxk
    # from overflowing for huge chunk values.
    maxk = DEFAULT_CHUNK if chunk is None else min(chunk, max(ncols, 1))
    npass = (ncols + maxk - 1) // maxk if ncols else 1
    k = (ncols + npass - 1) // npass if ncols else 0      # balanced: 13 with 8 -> 7 + 6
    value = None
    fshape = None
    cdef const double *xd = <const double *>cnp.PyArray_DATA(x)
    for p in range(npass):
        c0 = p * k
        kc = min(k, ncols - c0)
        d = _empty(xshape, n, kc)
        memcpy(d.v, xd, n * sizeof(double))
        if cp == NULL:
            dfd_seed(n, kc, c0, d.t)
        else:
            memset(d.t, 0, n * kc * sizeof(double))
            for j in range(n):
                c = cp[j] - c0
                if 0 <= c < kc:
                    d.t[j * kc + c] = 1.0
        r = _result(f(d, *args, **kwargs))
        rshape = (<Dual>r)._shape if type(r) is Dual else r.shape
        if p == 0:
            fshape = rshape
            m = 1
            for s in fshape:
                m *= s
            J = cnp.PyArray_ZEROS(2, [m, ncols], cnp.NPY_DOUBLE, 0)
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
            dfd_put_columns(m, kc, rd.t, ncols, c0, <double *>cnp.PyArray_DATA(J))
    return value, J, fshape


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
