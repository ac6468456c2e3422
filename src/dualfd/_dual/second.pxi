# Part of dualfd._dual._core (included by _core.pyx): second-order duals, for exact
# Hessians and Hessian-vector products (method='dual' of dualfd.hessian and hvp).
#
# A second-order pass reuses the Dual unchanged and reads its k tangent entries in two
# parts (csrc/dual.h, "second-order duals"): [0, k1) first-order tangents along
# directions u_j, [k1, k) second derivatives along the pairs (p_r, q_r) of them.  Every
# linear or piecewise-linear operation (shapes, indexing, sums, comparisons, maximum,
# sort, ...) maps the second part as it maps the first, so it needs nothing new.
# What is not linear gets the chain rule's second-order term added where it is computed:
#   * the rules (csrc/rules.def, second-derivative column) in _unary and _binary, so
#     every function written on top of them is second order too;
#   * bilinear products (matmul, einsum) in their own implementations;
#   * the rest of the nonlinear functions are rewritten here on top of those two while
#     a second-order pass runs (prod, var, inv, det, cholesky, ...), or refused.
# _O2_FUNCTIONS lists the NumPy functions allowed in a second-order pass; any other
# raises TypeError naming itself, so no function can drop the second-order term
# silently.  The layout lives in a thread-local; _o2_count lets first-order code skip
# even that lookup when no second-order pass is running anywhere.

import threading

cdef class _Order2:
    """Layout of a second-order pass: k1 first-order directions, then m pairs
    (pp[r], pq[r]); rix maps a pair of directions, either order, to r (-1: none)."""
    cdef readonly Py_ssize_t k1, m, k
    cdef readonly object pp, pq, rixa    # np.intc arrays
    cdef const int *rix

    def __init__(self, Py_ssize_t k1, pp, pq):
        self.pp = np.ascontiguousarray(pp, dtype=np.intc)
        self.pq = np.ascontiguousarray(pq, dtype=np.intc)
        self.k1 = k1
        self.m = self.pp.shape[0]
        self.k = k1 + self.m
        r = np.full((k1, k1), -1, dtype=np.intc)
        r[self.pp, self.pq] = np.arange(self.m, dtype=np.intc)
        r[self.pq, self.pp] = np.arange(self.m, dtype=np.intc)
        self.rixa = r
        self.rix = <const int *>cnp.PyArray_DATA(self.rixa)


cdef int _o2_count = 0            # second-order passes running, in any thread
_o2_state = threading.local()


cdef inline _Order2 _o2():
    """This thread's second-order layout, or None (first-order Duals)."""
    if _o2_count == 0:
        return None
    return getattr(_o2_state, "layout", None)


cdef object _o2_call(_Order2 lay, f, d, tuple args, dict kwargs):
    """f(d, *args, **kwargs) with lay in force (None: first order) for this thread."""
    global _o2_count
    prev = getattr(_o2_state, "layout", None)
    _o2_state.layout = lay
    if lay is not None:
        _o2_count += 1
    try:
        return f(d, *args, **kwargs)
    finally:
        _o2_state.layout = prev
        if lay is not None:
            _o2_count -= 1


cdef int _o2_check(_Order2 lay, Py_ssize_t k) except -1:
    if k != lay.k:
        raise ValueError(f"a Dual with {k} tangent directions met a second-order pass "
                         f"of {lay.k}; do not build Duals inside f")
    return 0


cdef str _O2_HINT = ("use method='central' or 'adaptive' (second differences), or "
                     "write f with functions that have one")


cdef object _o2_refuse(str name):
    raise TypeError(f"{name} has no second-order rule on Duals (exact Hessians and "
                    f"Hessian-vector products, method='dual'); " + _O2_HINT)


# --- the rules: g'' T_p T_q -----------------------------------------------------------------

cdef int _o2_unary(int rule, Dual x, Dual out) except -1:
    cdef _Order2 lay = _o2()
    if lay is None:
        return 0
    _o2_check(lay, x.k)
    cdef dfd_unary_d2_fn d2 = dfd_unary_rules[rule].d2
    cdef double *g = <double *>PyMem_Malloc(max(x.n, 1) * sizeof(double)
                                            + (lay.k1 + 1) * sizeof(int))
    if g == NULL:
        raise MemoryError()
    cdef int *idx = <int *>(g + max(x.n, 1))
    try:
        if x.n * (lay.k1 + 1) >= NOGIL_MIN:
            with nogil:
                d2(x.n, x.v, out.v, g)
                dfd_o2_unary(x.n, x.k, lay.k1, lay.rix, g, x.t, out.t, idx)
        else:
            d2(x.n, x.v, out.v, g)
            dfd_o2_unary(x.n, x.k, lay.k1, lay.rix, g, x.t, out.t, idx)
    finally:
        PyMem_Free(g)
    return 0


cdef tuple _o2_operand(a, tuple shape, Py_ssize_t k):
    """One operand of a binary rule broadcast to shape: (value, tangent or None,
    stride 0 or 1) as C-contiguous float64 arrays; one element stays one (stride 0)."""
    if type(a) is not Dual and not (PyFloat_Check(a) or PyLong_Check(a)) and not (
            cnp.PyArray_Check(a) and (<cnp.ndarray>a).dtype.kind != "O"):
        a = _lift(a)          # lists and object arrays holding Duals, as _binary1 does
    if type(a) is Dual:
        d = <Dual>a
        V, T = _view(d, False, False), _view(d, True, False)
        if d.n == 1:
            return (np.ascontiguousarray(V.reshape(1)), np.ascontiguousarray(T.reshape(1, k)),
                    0)
        return (np.ascontiguousarray(np.broadcast_to(V, shape)),
                np.ascontiguousarray(np.broadcast_to(T, shape + (k,))), 1)
    V = np.asarray(a, dtype=np.float64)
    if V.size == 1:
        return np.ascontiguousarray(V.reshape(1)), None, 0
    return np.ascontiguousarray(np.broadcast_to(V, shape)), None, 1


cdef int _o2_binary(int rule, a, b, Dual out) except -1:
    cdef _Order2 lay = _o2()
    if lay is None:
        return 0
    _o2_check(lay, out.k)
    cdef Py_ssize_t n = out.n
    cdef const double *pa
    cdef const double *pb
    cdef const double *qa = NULL
    cdef const double *qb = NULL
    cdef size_t ia, ib
    cdef double ca, cb
    keep = []
    # Fast paths (contiguous Duals of out's shape or of one element, Python numbers)
    # keep NumPy out of the common case; the rest broadcasts through NumPy.
    if not _o2_fast(a, out, &pa, &qa, &ia, &ca):
        va, ta, ia = _o2_operand(a, out._shape, out.k)
        keep += [va, ta]
        pa = <const double *>cnp.PyArray_DATA(va)
        if ta is not None:
            qa = <const double *>cnp.PyArray_DATA(ta)
    if not _o2_fast(b, out, &pb, &qb, &ib, &cb):
        vb, tb, ib = _o2_operand(b, out._shape, out.k)
        keep += [vb, tb]
        pb = <const double *>cnp.PyArray_DATA(vb)
        if tb is not None:
            qb = <const double *>cnp.PyArray_DATA(tb)
    cdef dfd_binary_d2_fn d2 = dfd_binary_rules[rule].d2
    cdef double *h = <double *>PyMem_Malloc(3 * max(n, 1) * sizeof(double)
                                            + (lay.k1 + 1) * sizeof(int))
    if h == NULL:
        raise MemoryError()
    cdef int *idx = <int *>(h + 3 * max(n, 1))
    try:
        if n * (lay.k1 + 1) >= NOGIL_MIN:
            with nogil:
                d2(n, pa, ia, pb, ib, out.v, h)
                dfd_o2_binary(n, out.k, lay.k1, lay.rix, h, qa, ia, qb, ib, out.t, idx)
        else:
            d2(n, pa, ia, pb, ib, out.v, h)
            dfd_o2_binary(n, out.k, lay.k1, lay.rix, h, qa, ia, qb, ib, out.t, idx)
    finally:
        PyMem_Free(h)
    return 0


cdef inline bint _o2_fast(x, Dual out, const double **v, const double **t, size_t *s,
                          double *c):
    """Pointers to operand x without copies where it is a contiguous Dual of out's
    shape (stride 1) or of one element (stride 0), or a Python number (c, stride 0)."""
    cdef Dual d
    if type(x) is Dual:
        d = <Dual>x
        if d._strides is not None:
            return False
        if d.n == 1 or d._shape == out._shape:
            v[0], t[0], s[0] = d.v, d.t, (0 if d.n == 1 and out.n != 1 else 1)
            return True
        return False
    if PyFloat_Check(x) or PyLong_Check(x):
        c[0] = x
        v[0], t[0], s[0] = c, NULL, 0
        return True
    return False


# --- bilinear products: the cross term of two Dual operands ---------------------------------

cdef object _o2_cross_term(list subs, str rhs, str z, list vals, Py_ssize_t i,
                          Py_ssize_t j, Ti, Tj, _Order2 lay, optimize=False):
    """The second-order term of an einsum product in which operands i and j are Duals
    (Ti, Tj: their tangents, tangents last): einsum(subs -> rhs) with the first-order
    tangents of i and j in their places, along the pairs (p, q) both ways, the pair
    index z appended to both and to the output; vals: the operands' values."""
    s = list(subs)
    s[i] += z
    s[j] += z
    spec = ",".join(s) + "->" + rhs + z
    term = 0.0
    for p, q in ((lay.pp, lay.pq), (lay.pq, lay.pp)):
        args = list(vals)
        args[i], args[j] = Ti[..., p], Tj[..., q]
        term = term + np.einsum(spec, *args, optimize=optimize)
    return term


cdef object _o2_add_second(tangent, term, _Order2 lay):
    """tangent with term added to its second-order part (a new array)."""
    t = np.array(tangent, dtype=np.float64, copy=True)
    t[..., lay.k1:] += term
    return t


# --- functions rewritten on the rules for a second-order pass -------------------------------
# Values stay NumPy's own (computed on the values); the tangents come from the
# composition, which the rules and products above make second-order exact.

cdef object _o2_value(value, r):
    """NumPy's value with the tangent of the composed Dual r."""
    cdef Py_ssize_t k = (<Dual>r).k
    return _from_arrays(np.asarray(value, dtype=np.float64), _view(<Dual>r, True, False), k)


cdef object _o2_last(Dual d, axis):
    """d with the axes of axis (None: all) moved last and merged into one, and the
    shape of the rest."""
    nd = d.ndim
    ax = _axes(axis, nd)
    rest = tuple(i for i in range(nd) if i not in ax)
    t = np.transpose(d, rest + tuple(ax))
    shp = tuple(d.shape[i] for i in rest)
    return t.reshape(shp + (-1,)), ax


def _o2_prod(a, axis=None, keepdims=False):
    d = _as_dual(_lift(a))
    value = np.prod(d.value, axis=axis, keepdims=keepdims)
    t, ax = _o2_last(d, axis)
    if t.shape[-1] == 0:
        return _from_arrays(value, 0.0, d.k)
    # pairwise products: log2(m) rounds of the product rule
    while t.shape[-1] > 1:
        h = t.shape[-1] // 2
        r = t[..., :h] * t[..., h:2 * h]
        t = np.concatenate([r, t[..., 2 * h:]], axis=-1) if t.shape[-1] % 2 else r
    return _o2_value(value, t[..., 0].reshape(np.shape(value)))


def _o2_cumprod(a, axis=None):
    d = _as_dual(_lift(a))
    if axis is None:
        d, ax = d.reshape(-1), 0
    else:
        ax = _normalize_axis_index(axis, d.ndim)
    value = np.cumprod(d.value, axis=ax)
    t = np.moveaxis(d, ax, -1)
    if t.shape[-1] == 0:
        return _from_arrays(value, 0.0, d.k)
    parts = [t[..., 0]]
    for i in range(1, t.shape[-1]):
        parts.append(parts[-1] * t[..., i])
    return _o2_value(value, np.moveaxis(np.stack(parts, axis=-1), -1, ax))


def _o2_var(a, axis=None, ddof=0, keepdims=False, std=False):
    d = _as_dual(_lift(a))
    value = (np.std if std else np.var)(d.value, axis=axis, ddof=ddof, keepdims=keepdims)
    t, ax = _o2_last(d, axis)
    m = t.shape[-1]
    c = t - np.mean(t, axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.sum(c * c, axis=-1) * (1.0 / (m - ddof) if m > ddof else np.nan)
    if std:
        if np.any(r.value == 0):
            raise ValueError("numpy.std has no second derivative where all values along "
                             "the reduced axes are equal (std = 0); use np.var, or "
                             + _O2_HINT)
        r = np.sqrt(r)
    return _o2_value(value, r.reshape(np.shape(value)))


cdef object _o2_matrix(a, str name):
    d = _as_dual(_lift(a))
    if d.ndim < 2 or d.shape[-1] != d.shape[-2]:
        raise np.linalg.LinAlgError(f"numpy.linalg.{name}: the last two dimensions must "
                                    "be square")
    return d


cdef tuple _o2_factor(Dual d):
    """A0 = d's value and E = A0^-1 (d - A0), a Dual of value 0 carrying d's tangents.
    The matrix functions below are second-order Taylor polynomials in E:
    (A0 (I + E))^-1 = (I - E + E^2) A0^-1 and log det(I + E) = tr E - tr(E^2)/2, each
    exact to second order, i.e. exact for a second-order dual."""
    A0 = np.array(d.value)
    D = d - A0                                    # value exactly 0
    E = _solve(A0, D)                             # A0 constant: linear in D
    return A0, E


def _o2_inv(a):
    d = _o2_matrix(a, "inv")
    A0, E = _o2_factor(d)
    Y0 = np.linalg.inv(A0)
    F = E @ Y0
    return _o2_value(Y0, (Y0 - F) + E @ F)


def _o2_solve(a, b):
    """solve(a, b) for a Dual a (a constant a is linear in b: _solve's own path)."""
    d = _as_dual(_lift(a))
    A0, E = _o2_factor(d)
    b = _lift(b)
    vector = len(_shape_of(b)) == 1
    Z = _solve(A0, b)                             # A0^-1 b, linear in b
    X0 = np.linalg.solve(A0, _values(b) if type(b) is Dual else np.asarray(b, float))
    if vector:
        Z = Z[..., None]
    F = E @ Z
    r = (Z - F) + E @ F
    return _o2_value(X0, r[..., 0] if vector else r)


cdef object _o2_logdet(Dual d):
    """log|det(A0 + D)| - log|det A0| to second order: tr E - tr(E^2)/2."""
    A0, E = _o2_factor(d)
    return np.einsum("...ii->...", E) - 0.5 * np.einsum("...ij,...ji->...", E, E)


def _o2_det(a):
    d = _o2_matrix(a, "det")
    value = np.linalg.det(d.value)
    if np.any(value == 0):
        raise ValueError("numpy.linalg.det of a singular matrix: its second-order rule "
                         "here needs A^-1; " + _O2_HINT)
    return _o2_value(value, value * np.exp(_o2_logdet(d)))


def _o2_slogdet(a):
    d = _o2_matrix(a, "slogdet")
    res = np.linalg.slogdet(d.value)
    if np.any(res[0] == 0):
        raise ValueError("numpy.linalg.slogdet: the matrix is singular, log|det| = "
                         "-inf has no derivative there")
    return type(res)(res[0], _o2_value(res[1], res[1] + _o2_logdet(d)))


def _o2_cholesky(a, /, *, upper=False):
    d = _o2_matrix(a, "cholesky")
    C = np.linalg.cholesky(d.value, upper=upper)
    L0 = np.swapaxes(C, -1, -2) if upper else C
    D = d - d.value
    # LAPACK reads one triangle: the tangent of the symmetric matrix it sees
    if upper:
        D = np.triu(D) + np.swapaxes(np.triu(D, 1), -1, -2)
    else:
        D = np.tril(D) + np.swapaxes(np.tril(D, -1), -1, -2)
    # A = L0 (I + M) L0^T, M = L0^-1 D L0^-T; chol(I + M) = I + X with
    # X + X^T + X X^T = M, so X = Phi(M) - Phi(Phi(M) Phi(M)^T) to second order, Phi
    # the lower triangle with the diagonal halved (the first-order term is Murray 2016,
    # "Differentiation of the Cholesky decomposition", eq. 9).
    M = np.swapaxes(_solve(L0, np.swapaxes(_solve(L0, D), -1, -2)), -1, -2)
    n = d.shape[-1]
    W = np.tril(np.ones((n, n)), -1) + 0.5 * np.eye(n)
    X1 = M * W
    X = X1 - (X1 @ np.swapaxes(X1, -1, -2)) * W
    L = L0 + L0 @ X
    return _o2_value(C, np.swapaxes(L, -1, -2) if upper else L)


def _o2_norm(x, ord=None, axis=None, keepdims=False):
    d = _as_dual(_lift(x))
    value = np.linalg.norm(d.value, ord=ord, axis=axis, keepdims=keepdims)  # validates
    nd = d.ndim
    if axis is None:
        ax = tuple(range(nd))
        matrix = ord is not None and nd == 2
    else:
        ax = axis if isinstance(axis, tuple) else (axis,)
        matrix = len(ax) == 2
    if matrix and ord not in (None, "fro"):
        _o2_refuse(f"numpy.linalg.norm with ord={ord!r} for matrices")
    if not matrix and ord in ("fro", "nuc"):
        raise ValueError(f"Invalid norm order {ord!r} for vectors")
    t, _ = _o2_last(d, ax)
    if ord is None or ord == "fro" or ord == 2:
        if np.any(value == 0):
            raise ValueError("numpy.linalg.norm has no derivative at 0; " + _O2_HINT)
        r = np.sqrt(np.sum(t * t, axis=-1))
    elif ord == np.inf:
        r = np.max(np.abs(t), axis=-1)
    elif ord == -np.inf:
        r = np.min(np.abs(t), axis=-1)
    elif ord == 0:
        return _from_arrays(value, 0.0, d.k)
    elif ord == 1:
        r = np.sum(np.abs(t), axis=-1)
    else:
        if np.any(t.value == 0):
            raise ValueError(f"numpy.linalg.norm with ord={ord!r} has no second "
                             "derivative where an entry is 0; " + _O2_HINT)
        r = np.sum(np.abs(t) ** ord, axis=-1) ** (1.0 / ord)
    return _o2_value(value, r.reshape(np.shape(value)))


def _o2_polyval(p, x):
    p, x = _lift(p), _lift(x)
    if len(_shape_of(p)) == 0:
        raise TypeError("numpy.polyval: p must be a sequence of coefficients")
    # Horner's scheme, as NumPy runs it, on the rules
    y = p[0] + 0.0 * x
    for i in range(1, _shape_of(p)[0]):
        y = y * x + p[i]
    return y


cdef str _LETTERS = "abcdefghijklmnopqrstuvwxy"        # z is the direction index


def _o2_tensordot(a, b, axes=2):
    na, nb = len(_shape_of(a)), len(_shape_of(b))
    try:
        axa, axb = axes
    except TypeError:
        n = operator.index(axes)
        axa, axb = list(range(na - n, na)), list(range(n))
    axa = [operator.index(i) % na for i in (axa if isinstance(axa, (list, tuple)) else [axa])]
    axb = [operator.index(i) % nb for i in (axb if isinstance(axb, (list, tuple)) else [axb])]
    np.tensordot(_values(a) if type(a) is Dual else np.asarray(a),
                 _values(b) if type(b) is Dual else np.asarray(b), (axa, axb))  # validates
    la = list(_LETTERS[:na])
    lb = list(_LETTERS[na:na + nb])
    for i, j in zip(axa, axb):
        lb[j] = la[i]
    out = [c for i, c in enumerate(la) if i not in axa] + \
          [c for j, c in enumerate(lb) if j not in axb]
    return _einsum("".join(la) + "," + "".join(lb) + "->" + "".join(out), a, b)


def _o2_inner(a, b):
    na, nb = len(_shape_of(a)), len(_shape_of(b))
    if na == 0 or nb == 0:
        return _binary(B_MULTIPLY, a, b)
    return _o2_tensordot(a, b, axes=([na - 1], [nb - 1]))


def _o2_outer(a, b, out=None):
    _unsupported_args("outer", out=out)
    return _einsum("i,j->ij", np.ravel(_lift(a)), np.ravel(_lift(b)))


def _o2_vdot(a, b):
    return _einsum("i,i->", np.ravel(_lift(a)), np.ravel(_lift(b)))


def _o2_vecdot(x1, x2, /, *, axis=-1):
    value = np.linalg.vecdot(_values(x1) if type(x1) is Dual else x1,
                             _values(x2) if type(x2) is Dual else x2, axis=axis)
    return _o2_value(value, np.sum(_binary(B_MULTIPLY, x1, x2), axis=axis))


# NumPy functions with no second-order rule: refused in a second-order pass (every
# other registered function is linear, piecewise linear or constant in its Duals, or
# handles the pass itself: see the _o2_on() tests in the family files).
_O2_REFUSED = {np.linalg.eig, np.linalg.eigh, np.linalg.eigvals,
               np.linalg.svd, np.linalg.pinv, np.linalg.lstsq, np.linalg.qr,
               np.linalg.cond, np.linalg.tensorinv, np.linalg.tensorsolve}
if hasattr(np.linalg, "svdvals"):
    _O2_REFUSED.add(np.linalg.svdvals)


cdef inline bint _o2_on():
    return _o2_count != 0 and _o2() is not None


cdef int _o2_both(str name, a, b) except -1:
    """Refuse a product of two Duals that has no second-order rule (one Dual operand
    makes it linear, which needs none)."""
    if _o2_on() and type(_lift(a)) is Dual and type(_lift(b)) is Dual:
        _o2_refuse(f"{name} of two Duals")
    return 0


def _o2_supported_functions():
    """The NumPy functions a second-order pass supports, named as
    Dual.supported_functions() names them."""
    return tuple(sorted(
        ("linalg." if f.__module__ and "linalg" in f.__module__ else "") + f.__name__
        for f in _FUNCTIONS if f not in _O2_REFUSED))


def rule_second(str name, a, b=None):
    """The second derivatives of a rule of csrc/rules.def at float64 points, by its C
    kernel (for the tests): f''(a) for a unary rule; (f_aa, f_ab, f_bb) at (a, b)
    broadcast for a binary one.  The value y passed to the kernel is the rule's own."""
    cdef cnp.ndarray A, B, Y, G
    cdef Dual d
    if name in _UNARY_INDEX:
        if b is not None:
            raise TypeError(f"rule_second: {name} is a unary rule")
        A = np.ascontiguousarray(a, dtype=np.float64)
        d = _from_arrays(A, np.zeros((<object>A).shape + (1,)), 1)
        Y = np.ascontiguousarray(_view(<Dual>_unary(_UNARY_INDEX[name], d), False, False))
        G = np.empty_like(A)
        dfd_unary_rules[_UNARY_INDEX[name]].d2(A.size, <double *>cnp.PyArray_DATA(A),
                                               <double *>cnp.PyArray_DATA(Y),
                                               <double *>cnp.PyArray_DATA(G))
        return G
    i = _BINARY_INDEX[name]
    A0, B0 = np.broadcast_arrays(np.asarray(a, dtype=np.float64),
                                 np.asarray(b, dtype=np.float64))
    A, B = np.ascontiguousarray(A0), np.ascontiguousarray(B0)
    d = _from_arrays(A, np.zeros((<object>A).shape + (1,)), 1)
    Y = np.ascontiguousarray(_view(<Dual>_binary1(i, d, B), False, False))
    G = np.empty((<object>A).shape + (3,))
    dfd_binary_rules[i].d2(A.size, <double *>cnp.PyArray_DATA(A), 1,
                           <double *>cnp.PyArray_DATA(B), 1, <double *>cnp.PyArray_DATA(Y),
                           <double *>cnp.PyArray_DATA(G))
    return G[..., 0], G[..., 1], G[..., 2]


def _tetragamma(x):
    """psi''(x) by csrc/special.c, elementwise (for the tests)."""
    cdef cnp.ndarray a = np.ascontiguousarray(x, dtype=np.float64)
    cdef cnp.ndarray out = np.empty_like(a)
    cdef double *p = <double *>cnp.PyArray_DATA(a)
    cdef double *q = <double *>cnp.PyArray_DATA(out)
    cdef Py_ssize_t i
    for i in range(a.size):
        q[i] = dfd_sf_tetragamma(p[i])
    return out
