# Part of dualfd._reverse (included by _reverse.pyx): adjoints of linear algebra.

# Linear algebra: adjoints from Giles (2008), "Collected matrix derivative results for
# forward and reverse mode algorithmic differentiation", sec. 3.1-3.3, and Murray
# (2016), "Differentiation of the Cholesky decomposition", sec. 3.  A batch of
# matrices is handled as NumPy's linalg handles it (the last two axes).

cdef object _mT(a):
    return np.swapaxes(a, -1, -2)


def _py_result(ins, values, adjoint):
    """The nodes of `values`, a result computed with NumPy from the traced or constant
    operands `ins`, with a PY record for its adjoint."""
    cdef Tape tape = _common_tape([t for t in ins if type(t) is Tracer])
    outs = [_new(tape, v) for v in values]
    tape.keep.append(values)
    _py_record(tape, adjoint, [(<Tracer>t).node if type(t) is Tracer else -1 for t in ins],
               [(<Tracer>o).node for o in outs])
    return outs


def _r_inv(a):
    if type(a) is not Tracer:
        return _FALLBACK
    C = np.linalg.inv((<Tracer>a).value)
    def adjoint(gs):                 # A_bar = -C^T C_bar C^T
        return [-np.matmul(_mT(C), np.matmul(gs[0], _mT(C)))]
    return _py_result([a], [C], adjoint)[0]


def _r_solve(a, b):
    av, bv = _const(a), _const(b)
    if av.ndim != 2 or bv.ndim > 2:
        return _FALLBACK             # batches: the Dual's adjoint (broadcast rules)
    x = np.linalg.solve(av, bv)
    def adjoint(gs):                 # B_bar = A^-T X_bar, A_bar = -B_bar X^T
        gb = np.linalg.solve(av.T, gs[0])
        ga = -np.outer(gb, x) if bv.ndim == 1 else -gb @ x.T
        return [ga if type(a) is Tracer else None, gb if type(b) is Tracer else None]
    return _py_result([a, b], [x], adjoint)[0]


def _r_det(a):
    if type(a) is not Tracer:
        return _FALLBACK
    A = (<Tracer>a).value
    d = np.linalg.det(A)
    if np.any(d == 0) or not np.all(np.isfinite(d)):
        return _FALLBACK             # singular: the Dual decides (or raises)
    Ci = _mT(np.linalg.inv(A))
    def adjoint(gs):                 # A_bar = d_bar d A^-T
        return [(np.asarray(gs[0]) * d)[..., None, None] * Ci]
    return _py_result([a], [np.asarray(d)], adjoint)[0]


def _r_slogdet(a):
    if type(a) is not Tracer:
        return _FALLBACK
    A = (<Tracer>a).value
    res = np.linalg.slogdet(A)
    if np.any(res.sign == 0):
        return _FALLBACK
    Ci = _mT(np.linalg.inv(A))
    def adjoint(gs):                 # A_bar = l_bar A^-T (the sign is constant)
        return [np.asarray(gs[0])[..., None, None] * Ci]
    logdet = _py_result([a], [np.asarray(res.logabsdet)], adjoint)[0]
    return type(res)(np.asarray(res.sign), logdet)


def _r_cholesky(a, *, upper=False):
    if type(a) is not Tracer:
        return _FALLBACK
    C = np.linalg.cholesky((<Tracer>a).value, upper=upper)
    L = _mT(C) if upper else C
    def adjoint(gs):
        # G = L^-T Phi(L^T L_bar) L^-1, Phi: the lower triangle, diagonal halved; LAPACK
        # reads one triangle of A (mirrored), so the other gets that triangle's adjoint
        Lb = _mT(gs[0]) if upper else gs[0]
        M = np.tril(np.matmul(_mT(L), Lb))
        M -= 0.5 * np.diagonal(M, axis1=-2, axis2=-1)[..., None] * np.eye(L.shape[-1])
        Y = np.linalg.solve(_mT(L), M)
        G = _mT(np.linalg.solve(_mT(L), _mT(Y)))
        if upper:
            return [np.triu(G) + np.triu(_mT(G), 1)]
        return [np.tril(G) + np.tril(_mT(G), -1)]
    return _py_result([a], [C], adjoint)[0]
