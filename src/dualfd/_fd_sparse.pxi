# Part of dualfd._fd (included by _fd.pyx): compressed finite differences for sparse
# Jacobians.  Columns of one color share no row of J, so one point moves all of them
# (x + sum of h_j e_j over the color's members) and each row of f's value there
# belongs to a single column: f is evaluated per color and stencil point instead of
# per column, and csrc/fd.c's dfd_fd_entries forms each entry's quotient.



cdef class Compression:
    """What a coloring gives the FD engine, as C-ready int64 arrays (built once per
    pattern by dualfd._sparse): colors per column, the members of each color
    (cptr/members), and the pattern's entries (rows, cols; CSR order) also sorted by
    the color of their column (erows/ecols/epos, with eptr per color)."""
    cdef readonly Py_ssize_t m, n, ncolors, nnz
    cdef readonly cnp.ndarray colors, cptr, members, rows, cols, erows, ecols, epos, eptr

    def __init__(self, Py_ssize_t m, Py_ssize_t n, colors, Py_ssize_t ncolors, rows,
                 cols):
        self.m, self.n, self.ncolors = m, n, ncolors
        self.colors = _int64(colors, n, ncolors, "colors")
        self.rows = _int64(rows, -1, m, "rows")
        self.cols = _int64(cols, self.rows.size, n, "cols")
        self.nnz = self.rows.size
        order = np.argsort(self.colors, kind="stable")
        self.members = np.ascontiguousarray(order, dtype=np.int64)
        counts = np.bincount(self.colors, minlength=ncolors)
        self.cptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        ecolor = self.colors[self.cols]
        epos = np.argsort(ecolor, kind="stable")
        self.epos = np.ascontiguousarray(epos, dtype=np.int64)
        self.erows = np.ascontiguousarray(self.rows[epos])
        self.ecols = np.ascontiguousarray(self.cols[epos])
        ecounts = np.bincount(ecolor, minlength=ncolors)
        self.eptr = np.concatenate([[0], np.cumsum(ecounts)]).astype(np.int64)


cdef cnp.ndarray _int64(a, Py_ssize_t size, Py_ssize_t bound, str name):
    """a as a C-ready int64 array of `size` entries (-1: any) in [0, bound): C
    indexes with them, so nothing else may reach it."""
    cdef cnp.ndarray r = np.ascontiguousarray(a, dtype=np.int64)
    if r.ndim != 1 or (size >= 0 and r.size != size):
        raise ValueError(f"{name} must be 1-d with {size} entries; got shape {(<object>r).shape}")
    if r.size and (r.min() < 0 or r.max() >= bound):
        raise ValueError(f"{name} must lie in [0, {bound})")
    return r


cdef str _color_where(Compression cz, Py_ssize_t c, Py_ssize_t p, tuple xshape,
                      const unsigned char *st, const double *h):
    """A point of color c, for error messages: "x + h*(e[0] + e[3] + ...)"."""
    if c < 0:
        return "x"
    members = cz.members[cz.cptr[c]:cz.cptr[c + 1]]
    shown = [f"e{index_str(int(j), xshape) or '[0]'}" for j in members[:4]]
    more = f" + ... ({len(members)} columns)" if len(members) > 4 else ""
    if st[members[0]] == DFD_ST_COMPLEX:
        return f"x + i*h*({' + '.join(shown)}{more}) (point of color {c})"
    return (f"x + o*h*({' + '.join(shown)}{more}) (point {p} of color {c}; "
            f"o = the stencil's offsets)")


cpdef tuple fd_compressed(f, cnp.ndarray x, tuple args, dict kwargs, int method,
                          cnp.ndarray step, cnp.ndarray lb, cnp.ndarray ub,
                          bint vectorized, bint check_finite, bint want_value,
                          str mname, Py_ssize_t chunk, Compression cz, pool=None):
    """The entries of a sparse finite-difference Jacobian (CSR order of cz's pattern).

    As fd_jacobian, with f evaluated per color (pool: on its workers, in blocks of
    colors as vectorized mode builds them).  Returns (value, data, fshape)."""
    x, step, lb, ub = _c_inputs(x, step, lb, ub, check_finite)
    cdef Py_ssize_t n = x.size
    if n != cz.n:
        raise ValueError(f"the sparsity pattern has {cz.n} columns; x has {n} entries")
    cdef cnp.npy_intp nn = n
    cdef cnp.ndarray h = cnp.PyArray_EMPTY(1, &nn, cnp.NPY_DOUBLE, 0)
    cdef cnp.ndarray st = cnp.PyArray_EMPTY(1, &nn, cnp.NPY_UINT8, 0)
    cdef double *hp = <double*>cnp.PyArray_DATA(h)
    cdef unsigned char *stp = <unsigned char*>cnp.PyArray_DATA(st)
    _choose_steps(x, method, step, lb, ub, mname, hp, stp)
    # per-coordinate factors 1/h (0.5/h), so entries multiply instead of dividing
    cdef cnp.ndarray rf = cnp.PyArray_EMPTY(1, &nn, cnp.NPY_DOUBLE, 0)
    dfd_fd_factors(n, hp, stp, <double*>cnp.PyArray_DATA(rf))
    cdef _Outputs out = _outputs(f, args, kwargs, check_finite, x, hp, stp)
    cdef bint fvec = vectorized     # f's own convention, for the guard's calls
    if pool is not None:
        chunk = _pooled(out, pool, vectorized, n, chunk)
        vectorized = True
    if vectorized:
        res = _compressed_vectorized(out, x, hp, stp, method, want_value,
                                     chunk or vector_points(n), cz,
                                     <double*>cnp.PyArray_DATA(rf))
    else:
        res = _compressed_loop(out, x, hp, stp, method, want_value, cz,
                               <double*>cnp.PyArray_DATA(rf))
    if out.m != cz.m:
        raise ValueError(f"the sparsity pattern has {cz.m} rows; f returned "
                         f"{out.m} values (shape {out.fshape})")
    if method == DFD_COMPLEX and _complex_guard.ENABLED:
        _complex_guard.check_sparse(f, x, args, kwargs, cz.rows, cz.cols, res[1],
                                    res[2], lb, ub, fvec)
    return res


cdef tuple _compressed_loop(_Outputs out, cnp.ndarray x, double *hp, unsigned char *stp,
                            int method, bint want_value, Compression cz, double *rp):
    cdef Py_ssize_t n = x.size, m, c, a, b
    cdef int p, npts
    cdef bint cplx = method == DFD_COMPLEX
    cdef const double *xp = <const double*>cnp.PyArray_DATA(x)
    cdef const int64_t *cptr = <const int64_t*>cnp.PyArray_DATA(cz.cptr)
    cdef const int64_t *members = <const int64_t*>cnp.PyArray_DATA(cz.members)
    cdef const int64_t *eptr = <const int64_t*>cnp.PyArray_DATA(cz.eptr)
    cdef cnp.ndarray W = None, f0 = None, point
    cdef cnp.npy_intp nnz = cz.nnz
    cdef cnp.ndarray data = cnp.PyArray_ZEROS(1, &nnz, cnp.NPY_DOUBLE, 0)
    cdef double *dp = <double*>cnp.PyArray_DATA(data)
    cdef const double *f0p = NULL
    cdef bint check = out.check_finite
    value = None
    # f's values are checked here, naming the color's point, not by out.store
    out.check_finite = False
    if _needs_f0(n, stp, want_value) or cz.ncolors == 0:
        value = out.call(fresh_copy(x))
        out.set_shape(out.shape_of(value, False))
        f0 = empty((max(out.m, 1),))
        out.store(value, <double*>cnp.PyArray_DATA(f0), -1, 0)
        if check:
            _check_color(out, <double*>cnp.PyArray_DATA(f0), cz, -1, 0, stp, hp)
        f0p = <const double*>cnp.PyArray_DATA(f0)
        if want_value and cnp.PyArray_Check(value):
            value = (<cnp.ndarray>value).copy()   # f may reuse its output buffer
    for c in range(cz.ncolors):
        npts = dfd_fd_color_count_points(stp, cptr, members, c)
        for p in range(npts):
            point = (cnp.PyArray_EMPTY(cnp.PyArray_NDIM(x), cnp.PyArray_DIMS(x),
                                       cnp.NPY_COMPLEX128, 0) if cplx else
                     empty((<object>x).shape))
            dfd_fd_color_point(n, xp, hp, stp, cptr, members, c, p, cplx,
                               <double*>cnp.PyArray_DATA(point))
            r = out.call(point)
            if W is None:
                out.set_shape(out.shape_of(r, cplx))
                W = empty((2 * max(out.m, 1),))
            m = out.m
            if cplx:
                out.store_imag(r, <double*>cnp.PyArray_DATA(W), c)
            else:
                out.store(r, <double*>cnp.PyArray_DATA(W) + p * m, c, p)
            if check:
                _check_color(out, <double*>cnp.PyArray_DATA(W) + p * m, cz, c, p, stp,
                             hp)
        a, b = eptr[c], eptr[c + 1]
        if b > a:
            dfd_fd_entries(b - a, <const int64_t*>cnp.PyArray_DATA(cz.erows) + a,
                           <const int64_t*>cnp.PyArray_DATA(cz.ecols) + a,
                           <const int64_t*>cnp.PyArray_DATA(cz.epos) + a,
                           <const int64_t*>cnp.PyArray_DATA(cz.colors), NULL, 0,
                           <const double*>cnp.PyArray_DATA(W), 1, out.m, f0p, 1, rp,
                           stp, dp)
    out.check_finite = check
    return (value, data, out.fshape)


cdef int _check_color(_Outputs out, const double *a, Compression cz, Py_ssize_t c,
                      int p, const unsigned char *st, const double *h) except -1:
    cdef size_t i = dfd_first_nonfinite(out.m, a, 1)
    if i < <size_t>out.m:
        raise ValueError(
            f"f returned a non-finite value ({a[i]!r}) at f{index_str(i, out.fshape)} "
            f"when evaluated at {_color_where(cz, c, p, out.xshape, st, h)}; pass "
            "check_finite=False to allow it")
    return 0


cdef tuple _compressed_vectorized(_Outputs out, cnp.ndarray x, double *hp,
                                  unsigned char *stp, int method, bint want_value,
                                  Py_ssize_t chunk, Compression cz, double *rp):
    """All colors' points as the columns of x.shape + (K,) arrays, in blocks of whole
    colors with at most chunk points per call (at least one color)."""
    cdef Py_ssize_t n = x.size, ncol = cz.ncolors, c0 = 0, c1, K, m, a, b, npts
    cdef bint cplx = method == DFD_COMPLEX
    cdef int center = _needs_f0(n, stp, want_value) or ncol == 0, c
    cdef const double *xp = <const double*>cnp.PyArray_DATA(x)
    cdef const int64_t *cptr = <const int64_t*>cnp.PyArray_DATA(cz.cptr)
    cdef const int64_t *members = <const int64_t*>cnp.PyArray_DATA(cz.members)
    cdef const int64_t *eptr = <const int64_t*>cnp.PyArray_DATA(cz.eptr)
    cdef cnp.ndarray col = np.empty(max(ncol, 1), dtype=np.uintp)
    cdef size_t *colp = <size_t*>cnp.PyArray_DATA(col)
    cdef cnp.npy_intp nnz = cz.nnz
    cdef cnp.ndarray data = cnp.PyArray_ZEROS(1, &nnz, cnp.NPY_DOUBLE, 0)
    cdef cnp.ndarray X, F, F0 = None
    cdef const double *f0p = NULL
    cdef size_t es = 2 if cplx else 1, wrote
    cdef tuple xshape = (<object>x).shape
    value = None
    while True:
        c = center if c0 == 0 else 0
        K = c
        c1 = c0
        while c1 < ncol:
            npts = 1 if cplx else dfd_fd_color_count_points(stp, cptr, members, c1)
            if c1 > c0 and K + npts > chunk:
                break
            K += npts
            c1 += 1
        X = np.empty(xshape + (K,), dtype=np.complex128 if cplx else np.float64)
        with nogil:
            wrote = dfd_fd_color_points(n, xp, hp, stp, cptr, members, c0, c1, c, cplx,
                                        <double*>cnp.PyArray_DATA(X), K, colp)
        assert wrote == <size_t>K
        F = _vectorized_values(out, X, K, cplx,
                               _namer(hp, stp, xshape, col[:c1 - c0], c, c0, cz))
        m = out.m
        if c:
            F0 = _center(F, m, K, cplx)
            f0p = <const double*>cnp.PyArray_DATA(F0)
            if want_value:
                value = float(F0[0]) if out.fshape == () else F0.reshape(out.fshape)
        a, b = eptr[c0], eptr[c1]
        if b > a:
            with nogil:
                dfd_fd_entries(b - a, <const int64_t*>cnp.PyArray_DATA(cz.erows) + a,
                               <const int64_t*>cnp.PyArray_DATA(cz.ecols) + a,
                               <const int64_t*>cnp.PyArray_DATA(cz.epos) + a,
                               <const int64_t*>cnp.PyArray_DATA(cz.colors), colp, c0,
                               <const double*>cnp.PyArray_DATA(F) + (1 if cplx else 0),
                               K * es, es, f0p, 1, rp, stp,
                               <double*>cnp.PyArray_DATA(data))
        c0 = c1
        if c0 >= ncol:
            break
    return (value, data, out.fshape)
