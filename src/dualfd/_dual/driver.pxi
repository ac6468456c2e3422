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
        r = _result(_o2_call(None, f, d, args, kwargs) if _o2_count
                    else f(d, *args, **kwargs))
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
    r = _result(_o2_call(None, f, d, args, kwargs) if _o2_count
                else f(d, *args, **kwargs))
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


# --- second order: exact Hessians and Hessian-vector products --------------------------------

# Largest tangent width (first- plus second-order entries per element) of one
# second-order pass, unless chunk= says otherwise: n <= 89 takes one pass of
# n + n(n + 1)/2 entries for the whole Hessian; above, blocks of coordinates such that
# two blocks' pass (2 c + c^2 entries) fits.  Rosenbrock n = 100 (two blocks of 50)
# measured as fast as blocks of 32..64 and 25% faster than one pass of 5150.  For
# large n the width shrinks so that an array of x's size carries at most O2_DOUBLES
# doubles (16 MB), as chunk= bounds first-order passes.
O2_WIDTH = 4224
O2_DOUBLES = 1 << 21


cdef Py_ssize_t _o2_width(Py_ssize_t n):
    return min(O2_WIDTH, max(64, O2_DOUBLES // max(n, 1)))


# Layouts by (kind, sizes), reused across calls: building one (index arrays and the
# k1 x k1 pair map) cost more than the pass itself at n = 10 (26 of 44 us).
cdef dict _LAYOUTS = {}


cdef _Order2 _o2_layout(str kind, Py_ssize_t a, Py_ssize_t b):
    """The layout of a pass: "tri" the pairs i <= j of a directions; "cross"
    the pairs of a block of a directions with one of b after them (a Hessian's
    off-diagonal block, or hvp's coordinates against the columns of V)."""
    key = (kind, a, b)
    r = _LAYOUTS.get(key)
    if r is None:
        if kind == "tri":
            pp, pq = np.triu_indices(a)
            k1 = a
        else:
            g = np.meshgrid(np.arange(a), a + np.arange(b), indexing="ij")
            pp, pq = g[0].ravel(), g[1].ravel()
            k1 = a + b
        r = _Order2(k1, pp, pq)
        # the pair map has k1^2 ints: keep only small ones (<= 1 MB each, 64 MB in
        # all), which are the ones whose building time matters
        if k1 <= 512:
            if len(_LAYOUTS) >= 64:
                _LAYOUTS.clear()
            _LAYOUTS[key] = r
    return r


cdef tuple _o2_pass(f, cnp.ndarray x, tuple args, dict kwargs, dirs, V, _Order2 lay,
                    str who):
    """One second-order pass of layout lay: f on a Dual seeded with the unit
    directions dirs and then the columns of V (n, C) if not None (lay.k1 of them in
    all).  Returns (value, second-order part (m,)) of f's scalar result."""
    cdef Py_ssize_t n = cnp.PyArray_SIZE(x)
    cdef Py_ssize_t c = len(dirs), k1 = lay.k1
    cdef Dual d = _empty((<object>x).shape, n, lay.k), rd
    memcpy(d.v, cnp.PyArray_DATA(x), n * sizeof(double))
    T = _view(d, True, True).reshape(n, lay.k)
    T[...] = 0.0
    T[dirs, np.arange(c)] = 1.0
    if V is not None:
        T[:, c:k1] = V
    r = _result(_o2_call(lay, f, d, args, kwargs))
    shape = (<Dual>r)._shape if type(r) is Dual else r.shape
    if shape != ():
        raise ValueError(f"{who} needs f to return a scalar; it returned shape {shape} "
                         "(use jacobian for vector-valued f)")
    if type(r) is not Dual:
        return float(r), np.zeros(lay.m)
    rd = <Dual>r
    _o2_check(lay, rd.k)
    return rd.v[0], np.array(rd.tangent[k1:])


cdef list _o2_blocks(Py_ssize_t n, Py_ssize_t c):
    """range(n) in balanced blocks of at most c."""
    nb = (n + c - 1) // c if n else 0
    return [np.arange(i * n // nb, (i + 1) * n // nb) for i in range(nb)]


def dual_hessian(f, cnp.ndarray x, tuple args, dict kwargs, chunk):
    """(f(x), its exact Hessian (n, n)) for a scalar f, by second-order duals: one pass
    per pair of blocks of at most chunk coordinates (blocks I < J seed I and J and read
    the pairs I x J; I == J the pairs i <= j), symmetric by construction."""
    cdef Py_ssize_t n = cnp.PyArray_SIZE(x), c
    cdef Py_ssize_t w = _o2_width(n)
    if chunk is None:
        c = n if n + n * (n + 1) // 2 <= w else max(1, int((1 + w) ** 0.5) - 1)
    else:
        c = max(1, min(chunk, n))
    H = np.zeros((n, n))
    value = None
    blocks = _o2_blocks(n, c)
    for bi, I in enumerate(blocks):
        for J in blocks[bi:]:
            if J is I:
                lay = _o2_layout("tri", len(I), 0)
                value, S = _o2_pass(f, x, args, kwargs, I, None, lay, "hessian")
                H[I[lay.pp], I[lay.pq]] = S
                H[I[lay.pq], I[lay.pp]] = S
            else:
                value, S = _o2_pass(f, x, args, kwargs, np.concatenate([I, J]), None,
                                    _o2_layout("cross", len(I), len(J)), "hessian")
                S = S.reshape(len(I), len(J))
                H[np.ix_(I, J)] = S
                H[np.ix_(J, I)] = S.T
    if value is None:       # n = 0
        value, _ = _o2_pass(f, x, args, kwargs, np.arange(0), None,
                            _o2_layout("tri", 0, 0), "hessian")
    return value, H


def dual_hvp(f, cnp.ndarray x, V, tuple args, dict kwargs, chunk):
    """(f(x), H(x) @ V) of a scalar f exactly, V (n, C): directions e_i (i in a block
    of at most chunk) and the columns v_c, pairs (e_i, v_c), so S = e_i^T H v_c."""
    cdef Py_ssize_t n = cnp.PyArray_SIZE(x), c, C = V.shape[1]
    cdef Py_ssize_t w = _o2_width(n)
    if chunk is None:
        c = n if n * (C + 1) + C <= w else max(1, (w - C) // (C + 1))
    else:
        c = max(1, min(chunk, n))
    out = np.zeros((n, C))
    value = None
    for I in _o2_blocks(n, c) or [np.arange(0)]:
        value, S = _o2_pass(f, x, args, kwargs, I, V, _o2_layout("cross", len(I), C),
                            "hvp")
        out[I] = S.reshape(len(I), C)
    return value, out


def _o2_pass_py(f, cnp.ndarray x, V, _Order2 lay):
    """_o2_pass with the columns of V as the only directions (for measurements)."""
    return _o2_pass(f, x, (), {}, np.arange(0), V, lay, "hessian")
