# Part of dualfd._dual._core (included by _core.pyx): numpy.linalg.
#
# Conventions used below.  A tangent block T of a Dual of shape (..., m, n) has shape
# (..., m, n, k); the matrix functions move k in front of the matrix axes, (..., k, m,
# n) (`_tk`), so that NumPy's stacked linalg and matmul treat all k directions as one
# more batch axis, and move it back last (`_kt`).  Multilinear functions (einsum,
# tensordot, kron, cross, ...) are applied once per Dual operand with that operand's
# tangent in place of its value and the direction axis carried along.
#
# Where the derivative does not exist (repeated eigenvalues or singular values,
# singular matrices for log|det|, rank changes of pinv/lstsq, kinks of non-convex
# norms, breakpoints of interp), a ValueError says so.  Norms that are convex (every
# ord >= 1, 'fro', 'nuc', 2) instead return a subgradient at their kinks; see _norm.

cdef double _EPS = np.finfo(np.float64).eps


cdef object _tk(T):
    """(..., m, n, k) -> (..., k, m, n)"""
    return np.moveaxis(T, -1, -3)


cdef object _kt(X):
    """(..., k, m, n) -> (..., m, n, k)"""
    return np.moveaxis(X, -3, -1)


cdef object _mT(X):
    return np.swapaxes(X, -1, -2)


cdef object _kmat(Dual d, str name):
    """d's value (..., m, n) and tangent as (..., k, m, n); LinAlgError (a ValueError,
    as NumPy raises) below 2-D."""
    if d.ndim < 2:
        raise np.linalg.LinAlgError(f"numpy.linalg.{name}: {d.ndim}-dimensional array "
                                    "given; the input must be at least two-dimensional")
    return _view(d, False, False), _tk(_view(d, True, False))


# --- matrix functions ---------------------------------------------------------------------

def _solve(a, b):
    if _o2_on() and type(_lift(a)) is Dual:
        return _o2_solve(a, b)
    k = _common_k((a, b))
    A, TA = _vt(a, k)
    B, TB = _vt(b, k)
    if A.ndim < 2:
        raise np.linalg.LinAlgError(f"numpy.linalg.solve: {A.ndim}-dimensional array "
                                    "given; a must be at least two-dimensional")
    X = np.linalg.solve(A, B)
    # A dX = dB - dA X (NumPy 2: b is a vector only when 1-D, else a stack of
    # matrices); one solve with the k directions as extra columns.
    if B.ndim == 1:
        rhs = TB - np.einsum("...ijz,...j->...iz", TA, X)
        return _from_arrays(X, np.linalg.solve(A, rhs), k)
    rhs = TB - np.einsum("...ijz,...jm->...imz", TA, X)
    shp = rhs.shape
    TX = np.linalg.solve(A, rhs.reshape(shp[:-2] + (shp[-2] * k,)))
    return _from_arrays(X, TX.reshape(X.shape + (k,)), k)

def _inv(a):
    if _o2_on():
        return _o2_inv(a)
    d = _as_dual(a)
    A, TA = _kmat(d, "inv")
    Y = np.linalg.inv(A)
    # dY = -Y dA Y, the k directions as a batch axis.
    Yk = Y[..., None, :, :]
    return _from_arrays(Y, _kt(-(Yk @ TA @ Yk)), d.k)

cdef object _adjugate(A):
    """adj(A) of a stack of square matrices, also where A is singular: with
    A = U S V^T, adj(A) = det(U) det(V) V adj(S) U^T, adj(S)_ii = prod_{j != i} s_j
    (adj(XY) = adj(Y) adj(X), adj(Q) = det(Q) Q^T for orthogonal Q).  The products
    leave one singular value out by prefix/suffix products, without division, so rank
    n-1 matrices get their rank-one adjugate and rank <= n-2 a zero one."""
    n = A.shape[-1]
    U, s, Vh = np.linalg.svd(A)
    ones = np.ones(s.shape[:-1] + (1,))
    pre = np.cumprod(np.concatenate([ones, s[..., :n - 1]], axis=-1), axis=-1)
    suf = np.cumprod(np.concatenate([ones, s[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    sign = np.sign(np.linalg.det(U) * np.linalg.det(Vh))
    return sign[..., None, None] * ((_mT(Vh) * (pre * suf)[..., None, :]) @ _mT(U))

def _det(a):
    if _o2_on():
        return _o2_det(a)
    d = _as_dual(a)
    if d.ndim < 2:
        raise np.linalg.LinAlgError(f"numpy.linalg.det: {d.ndim}-dimensional array "
                                    "given; the input must be at least two-dimensional")
    A = d.value
    y = np.linalg.det(A)
    if A.shape[-1] == 0 or d.size == 0:
        return _from_arrays(y, 0.0, d.k)
    # Jacobi's formula with the adjugate: d det A = tr(adj(A) dA) (Giles 2008, 2.1.4
    # in the form valid for singular A too).
    tangent = np.einsum("...ji,...ijz->...z", _adjugate(A), d.tangent)
    return _from_arrays(y, tangent, d.k)

def _slogdet(a):
    if _o2_on():
        return _o2_slogdet(a)
    d = _as_dual(a)
    if d.ndim < 2:
        raise np.linalg.LinAlgError(f"numpy.linalg.slogdet: {d.ndim}-dimensional array "
                                    "given; the input must be at least two-dimensional")
    A = d.value
    res = np.linalg.slogdet(A)
    if np.any(res[0] == 0):
        raise ValueError("numpy.linalg.slogdet: the matrix is singular, log|det| = "
                         "-inf has no derivative there")
    # d log|det A| = tr(A^-1 dA); the sign is locally constant (a plain array).
    if A.shape[-1] == 0 or d.size == 0:
        t = 0.0
    else:
        t = np.einsum("...ji,...ijz->...z", np.linalg.inv(A), d.tangent)
    return type(res)(res[0], _from_arrays(res[1], t, d.k))

cdef object _sym_tangent(TA, bint lower):
    """The tangent of the symmetric matrix LAPACK actually reads: the lower (upper)
    triangle mirrored.  (..., k, n, n) in and out."""
    if lower:
        L = np.tril(TA)
        return L + _mT(np.tril(TA, -1))
    U = np.triu(TA)
    return U + _mT(np.triu(TA, 1))

def _cholesky(a, /, *, upper=False):
    if _o2_on():
        return _o2_cholesky(a, upper=upper)
    d = _as_dual(a)
    A, TA = _kmat(d, "cholesky")
    C = np.linalg.cholesky(A, upper=upper)
    L = _mT(C) if upper else C
    S = _sym_tangent(TA, not upper)
    # dL = L Phi(L^-1 dA L^-T), Phi: the lower triangle with the diagonal halved
    # (Murray 2016, "Differentiation of the Cholesky decomposition", eq. 9).
    Lk = L[..., None, :, :]
    M = np.linalg.solve(Lk, S)                      # L^-1 dA
    X = np.linalg.solve(Lk, _mT(M))                 # L^-1 dA L^-T (symmetric)
    X = np.tril(X) - 0.5 * (np.tril(X) - np.tril(X, -1))
    dL = Lk @ X
    return _from_arrays(C, _kt(_mT(dL) if upper else dL), d.k)

cdef int _require_distinct(w, str name, str what) except -1:
    """w sorted along its last axis; ValueError where two entries coincide (to
    rounding), since the derivative there does not exist."""
    if w.shape[-1] < 2:
        return 0
    scale = np.max(np.abs(w), axis=-1, initial=0.0)
    gap = np.min(np.abs(np.diff(w, axis=-1)), axis=-1)
    if np.any(gap <= 8 * w.shape[-1] * _EPS * scale):
        raise ValueError(f"numpy.linalg.{name}: repeated {what}; the derivative does "
                         "not exist there (perturb the input or differentiate a "
                         "function that does not depend on the choice of basis)")
    return 0

def _eigh(a, UPLO="L"):
    d = _as_dual(a)
    A, TA = _kmat(d, "eigh")
    res = np.linalg.eigh(A, UPLO)
    w, V = res
    _require_distinct(w, "eigh", "eigenvalues")
    # dP = V^T dA V; dw = diag(dP); dV = V (F o dP), F_ij = 1/(w_j - w_i) off the
    # diagonal (Giles 2008, 3.1).  dA: the triangle LAPACK reads, mirrored.
    Vk = V[..., None, :, :]
    P = _mT(Vk) @ _sym_tangent(TA, UPLO.upper() == "L") @ Vk
    dw = np.diagonal(P, axis1=-2, axis2=-1)                    # (..., k, n)
    with np.errstate(divide="ignore"):
        F = 1.0 / (w[..., None, :] - w[..., :, None])
    n = w.shape[-1]
    F[..., np.arange(n), np.arange(n)] = 0.0
    dV = Vk @ (F[..., None, :, :] * P)
    return type(res)(_from_arrays(w, np.moveaxis(dw, -2, -1), d.k),
                     _from_arrays(V, _kt(dV), d.k))

def _eigvalsh(a, UPLO="L"):
    d = _as_dual(a)
    A, TA = _kmat(d, "eigvalsh")
    w, V = np.linalg.eigh(A, UPLO)
    w = np.linalg.eigvalsh(A, UPLO)
    _require_distinct(w, "eigvalsh", "eigenvalues")
    Vk = V[..., None, :, :]
    P = _mT(Vk) @ _sym_tangent(TA, UPLO.upper() == "L") @ Vk
    dw = np.diagonal(P, axis1=-2, axis2=-1)
    lay = _o2() if _o2_count else None
    if lay is not None:
        # second order (a second-order pass): d2 w_i / (de_p de_q) = u_i^T A_pq u_i
        # (the diagonal above) + 2 sum_{j != i} P_p[i, j] P_q[i, j] / (w_i - w_j),
        # P_p = V^T A_p V: second-order perturbation theory of a simple eigenvalue
        # (e.g. Kato, Perturbation Theory for Linear Operators, II.2).
        with np.errstate(divide="ignore"):
            F = 1.0 / (w[..., :, None] - w[..., None, :])
        n = w.shape[-1]
        F[..., np.arange(n), np.arange(n)] = 0.0
        term = 2.0 * np.einsum("...rij,...rij,...ij->...ri", P[..., lay.pp, :, :],
                               P[..., lay.pq, :, :], F)
        dw = np.array(dw)
        dw[..., lay.k1:, :] += term
    return _from_arrays(w, np.moveaxis(dw, -2, -1), d.k)

cdef tuple _svd_tangents(A, TA, U, s, Vh, str name, bint vectors):
    """Tangents of the thin SVD A = U diag(s) Vh, (..., k, ...) layout.  Requires
    distinct nonzero singular values (Townsend 2016, "Differentiating the singular
    value decomposition"; Giles 2008, 3.2):
      dP = U^T dA V, ds = diag(dP),
      dU = U (F o (dP S + S dP^T)) + (I - U U^T) dA V S^-1,
      dV = V (F o (S dP + dP^T S)) + (I - V V^T) dA^T U S^-1,
    F_ij = 1/(s_j^2 - s_i^2) off the diagonal."""
    m, n = A.shape[-2], A.shape[-1]
    smax = np.max(s, axis=-1, initial=0.0)
    if s.shape[-1] and np.any(s[..., -1] <= 8 * max(m, n) * _EPS * smax):
        raise ValueError(f"numpy.linalg.{name}: a zero singular value (rank-deficient "
                         "matrix); the derivative does not exist there")
    _require_distinct(s[..., ::-1], name, "singular values")
    Uk, Vk = U[..., None, :, :], _mT(Vh)[..., None, :, :]
    P = _mT(Uk) @ TA @ Vk
    ds = np.diagonal(P, axis1=-2, axis2=-1)
    if not vectors:
        return ds, None, None
    r = s.shape[-1]
    S = s[..., None, None, :]                       # scales columns: X * S = X S
    St = s[..., None, :, None]                      # scales rows:    St * X = S X
    with np.errstate(divide="ignore"):
        F = 1.0 / (s[..., None, :] ** 2 - s[..., :, None] ** 2)
    F[..., np.arange(r), np.arange(r)] = 0.0
    F = F[..., None, :, :]
    dU = Uk @ (F * (P * S + St * _mT(P)))
    dV = Vk @ (F * (St * P + _mT(P) * S))
    if m > r:
        dU = dU + (TA @ Vk - Uk @ (_mT(Uk) @ TA @ Vk)) / S
    if n > r:
        TAt = _mT(TA)
        dV = dV + (TAt @ Uk - Vk @ (_mT(Vk) @ TAt @ Uk)) / S
    return ds, dU, dV

def _svd(a, full_matrices=True, compute_uv=True, hermitian=False):
    _unsupported_args("linalg.svd", hermitian=hermitian)
    d = _as_dual(a)
    A, TA = _kmat(d, "svd")
    m, n = A.shape[-2:]
    if not compute_uv:
        s = np.linalg.svd(A, compute_uv=False)
        U, s2, Vh = np.linalg.svd(A, full_matrices=False)
        ds = _svd_tangents(A, TA, U, s2, Vh, "svd", False)[0]
        return _from_arrays(s, np.moveaxis(ds, -2, -1), d.k)
    if full_matrices and m != n:
        raise ValueError("numpy.linalg.svd of a non-square Dual with "
                         "full_matrices=True: the extra singular vectors are not unique, "
                         "so they have no derivative; pass full_matrices=False")
    res = np.linalg.svd(A, full_matrices=False)
    U, s, Vh = res
    ds, dU, dV = _svd_tangents(A, TA, U, s, Vh, "svd", True)
    return type(res)(_from_arrays(U, _kt(dU), d.k),
                     _from_arrays(s, np.moveaxis(ds, -2, -1), d.k),
                     _from_arrays(Vh, _kt(_mT(dV)), d.k))

def _svdvals(x, /):
    return _svd(x, compute_uv=False)

def _pinv(a, rcond=None, hermitian=False, *, rtol=np._NoValue):
    _unsupported_args("linalg.pinv", hermitian=hermitian)
    d = _as_dual(a)
    A, TA = _kmat(d, "pinv")
    P = np.linalg.pinv(A, rcond=rcond, rtol=rtol)
    m, n = A.shape[-2:]
    if d.size == 0:
        return _from_arrays(P, 0.0, d.k)
    # NumPy's cutoff: singular values at or below rcond * s_max are dropped.
    if rcond is None:
        rcond = 1e-15 if rtol is np._NoValue else (
            max(m, n) * _EPS if rtol is None else rtol)
    U, s, Vh = np.linalg.svd(A)
    rank = np.sum(s > np.asarray(rcond)[..., None] * np.max(s, axis=-1, keepdims=True),
                  axis=-1)
    if np.any(rank < min(m, n)):
        # pinv is continuous only along directions that keep the rank: those with
        # U_0^T dA V_0 = 0 for the singular vectors U_0, V_0 of the dropped values.
        Ub = np.broadcast_to(U, A.shape[:-2] + (m, m)).reshape(-1, m, m)
        Vb = np.broadcast_to(Vh, A.shape[:-2] + (n, n)).reshape(-1, n, n)
        Tb = TA.reshape((-1,) + TA.shape[-3:])
        for i, r in enumerate(np.ravel(rank)):
            if r == min(m, n):
                continue
            R = _mT(Ub[i][:, r:])[None] @ Tb[i] @ _mT(Vb[i][r:, :])[None]
            if np.max(np.abs(R), initial=0.0) > 64 * max(m, n) * _EPS * \
                    max(np.max(np.abs(Tb[i]), initial=0.0), 1e-300):
                raise ValueError(
                    "numpy.linalg.pinv: the matrix is rank-deficient and the tangent "
                    "changes its rank, where the pseudo-inverse is discontinuous; the "
                    "derivative exists only along rank-preserving directions")
    # Golub & Pereyra 1973, "The differentiation of pseudo-inverses ...", Thm 4.3:
    # dP = -P dA P + P P^T dA^T (I - A P) + (I - P A) dA^T P^T P
    Pk, Ak = P[..., None, :, :], A[..., None, :, :]
    TAt = _mT(TA)
    dP = (-(Pk @ TA @ Pk) + Pk @ (_mT(Pk) @ (TAt - TAt @ (Ak @ Pk)))
          + (TAt - Pk @ (Ak @ TAt)) @ (_mT(Pk) @ Pk))
    return _from_arrays(P, _kt(dP), d.k)

def _lstsq(a, b, rcond=None):
    k = _common_k((a, b))
    A, TA = _vt(a, k)
    B, TB = _vt(b, k)
    x, res, rank, sv = np.linalg.lstsq(A, B, rcond=rcond)     # NumPy validates
    m, n = A.shape
    if rank < n:
        raise ValueError(f"numpy.linalg.lstsq: the matrix has rank {rank} < {n} "
                         "columns; the solution of Duals needs full column rank")
    vec = B.ndim == 1
    B2, x2 = (B[:, None], x[:, None]) if vec else (B, x)
    TB2 = TB[:, None, :] if vec else TB
    TAk = np.moveaxis(TA, -1, 0)                         # (k, m, n)
    TBk = np.moveaxis(np.broadcast_to(TB2, B2.shape + (k,)), -1, 0)   # (k, m, K)
    r = B2 - A @ x2
    # Full column rank, x = A^+ b: dx = A^+ (db - dA x) + (A^T A)^-1 dA^T r, with
    # A = QR: A^+ = R^-1 Q^T, (A^T A)^-1 = R^-1 R^-T (Golub & Pereyra 1973).
    Q, R = np.linalg.qr(A)
    g = TBk - TAk @ x2
    dx = np.linalg.solve(R, _mT(Q) @ g + np.linalg.solve(_mT(R), _mT(TAk) @ r))
    tx = np.moveaxis(dx, 0, -1)
    X = _from_arrays(x, tx[:, 0, :] if vec else tx, k)
    if res.size:
        # residuals = sum(r**2) per column: d = 2 r^T (db - dA x - A dx)
        tres = 2 * np.sum(r * (g - A @ dx), axis=-2)     # (k, K)
        res = _from_arrays(res, tres.T, k)
    if type(a) is Dual:
        U, s2, Vh = np.linalg.svd(A, full_matrices=False)
        # singular values: ds_i = u_i^T dA v_i where s_i is simple; NaN where repeated
        # (their derivative does not exist, and sv is rarely used).
        ds = np.einsum("mi,zmn,ni->iz", U, TA.transpose(2, 0, 1), _mT(Vh))
        if n > 1:
            gap = np.abs(np.diff(s2))
            bad = gap <= 8 * n * _EPS * s2[0]
            rep = np.zeros(n, dtype=bool)
            rep[:-1] |= bad
            rep[1:] |= bad
            ds[rep] = np.nan
        sv = _from_arrays(sv, ds, k)
    return X, res, rank, sv

# --- norms -------------------------------------------------------------------------------

cdef object _first_max_mask(v, bint largest):
    """One-hot along the last axis at the first maximum (minimum) of v."""
    i = (np.argmax if largest else np.argmin)(v, axis=-1)
    return np.arange(v.shape[-1]) == i[..., None]

cdef int _require_untied(v, str what) except -1:
    """The minimum along the last axis must be attained once."""
    m = np.min(v, axis=-1, keepdims=True)
    if np.any(np.sum(v == m, axis=-1) > 1):
        raise ValueError(f"numpy.linalg.norm: {what} is attained more than once; this "
                         "norm has no derivative there")
    return 0

cdef object _vector_norm_grad(V, ord):
    """d||x|| / dx along the last axis of V (a subgradient at kinks of convex norms)."""
    absv, sgn = np.abs(V), np.sign(V)
    if ord is None or ord == 2:
        nrm = np.sqrt(np.sum(V * V, axis=-1, keepdims=True))
        return np.divide(V, nrm, out=np.zeros_like(V), where=nrm != 0)
    if ord == 0:
        return np.zeros_like(V)
    if ord == 1:
        return sgn
    if ord == np.inf:
        return sgn * _first_max_mask(absv, True)
    if ord == -np.inf:
        _require_untied(absv, "min |x_i|")
        if np.any(np.min(absv, axis=-1) == 0):
            raise ValueError("numpy.linalg.norm(ord=-inf): min |x_i| = 0 is a kink; "
                             "no derivative there")
        return sgn * _first_max_mask(absv, False)
    p = float(ord)
    if p < 1 and np.any(absv == 0):
        raise ValueError(f"numpy.linalg.norm(ord={ord!r}): a zero entry, where "
                         f"sum(|x|**{ord!r}) ** (1/{ord!r}) has no derivative")
    # d ||x||_p = sum(sign(x_i) (|x_i| / ||x||)^(p-1) dx_i): scaled by ||x|| first so
    # large p cannot overflow.
    nrm = np.linalg.norm(V, ord=ord, axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = sgn * (absv / nrm) ** (p - 1)
    return np.where(nrm == 0, 0.0, g)

cdef object _matrix_norm_grad(A, ord):
    """d||A|| / dA over the last two axes (a subgradient at kinks of convex norms)."""
    if ord is None or ord == "fro":
        nrm = np.sqrt(np.sum(A * A, axis=(-2, -1), keepdims=True))
        return np.divide(A, nrm, out=np.zeros_like(A), where=nrm != 0)
    sgn = np.sign(A)
    if ord in (1, -1, np.inf, -np.inf):
        ax = -2 if ord in (1, -1) else -1     # 1: column sums; inf: row sums
        sums = np.sum(np.abs(A), axis=ax)
        if ord > 0:
            return sgn * np.expand_dims(_first_max_mask(sums, True), ax)
        _require_untied(sums, "the smallest " + ("column" if ax == -2 else "row")
                        + " sum of |A|")
        sel = np.expand_dims(_first_max_mask(sums, False), ax)
        if np.any((A == 0) & sel):
            raise ValueError(f"numpy.linalg.norm(ord={ord!r}): a zero entry in the "
                             "selected row/column is a kink of |a_ij|; no derivative")
        return sgn * sel
    U, s, Vh = np.linalg.svd(A, full_matrices=False)
    if ord == "nuc":
        # d sum(s) = tr(U^T dA V): U V^T, a subgradient where A is rank-deficient
        # (0 at A = 0, as for the other norms)
        return np.where(s[..., :1, None] == 0, 0.0, U @ Vh)
    if ord == 2:
        # u_1 v_1^T: the derivative where s_1 is simple, a subgradient otherwise
        # (0 at A = 0, as for the vector 2-norm at 0)
        g = U[..., :, :1] @ Vh[..., :1, :]
        return np.where(s[..., :1, None] == 0, 0.0, g)
    if ord == -2:
        r = s.shape[-1]
        if np.any(s[..., -1] <= 8 * max(A.shape[-2:]) * _EPS * s[..., 0]):
            raise ValueError("numpy.linalg.norm(ord=-2): the smallest singular value "
                             "is zero, a kink; no derivative there")
        if r > 1 and np.any(s[..., -2] - s[..., -1] <= 8 * r * _EPS * s[..., 0]):
            raise ValueError("numpy.linalg.norm(ord=-2): the smallest singular value "
                             "is repeated; no derivative there")
        return U[..., :, -1:] @ Vh[..., -1:, :]
    raise ValueError("Invalid norm order for matrices.")

def _norm(x, ord=None, axis=None, keepdims=False):
    """Every ord NumPy accepts.  The value is NumPy's; the tangent is <G, dx> with G
    the gradient, computed on the values.  At kinks, convex norms (ord >= 1, 'fro',
    'nuc', 2; vectors and matrices) use a subgradient: sign(0) = 0, the first of
    tied maxima, 0 at x = 0, U V^T and u_1 v_1^T of the computed SVD.  Non-convex
    ones (0 < ord < 1, negative ord, -inf, matrix -1/-2/-inf) raise ValueError at
    theirs; ord=0 (a count) has derivative 0."""
    if _o2_on():
        return _o2_norm(x, ord, axis, keepdims)
    d = _as_dual(_lift(x))
    V, T = _view(d, False, False), _view(d, True, False)
    value = np.linalg.norm(V, ord=ord, axis=axis, keepdims=keepdims)   # validates
    nd = d.ndim
    # Which norm NumPy computes: the 2-norm of everything (ord None, axis None), a
    # vector norm (1-D or one axis) or a matrix norm (2-D or two axes).
    if axis is None:
        if ord is None:
            g = _vector_norm_grad(V.reshape(-1), None)
            t = np.tensordot(g, T.reshape(-1, d.k), (0, 0))
            return _from_arrays(value, np.reshape(t, np.shape(value) + (d.k,)), d.k)
        axes = tuple(range(nd))
    elif isinstance(axis, tuple):
        axes = tuple(operator.index(i) % nd for i in axis)
    else:
        axes = (operator.index(axis) % nd,)
    if len(axes) == 1:
        a0 = axes[0]
        g = _vector_norm_grad(np.moveaxis(V, a0, -1), ord)
        t = np.einsum("...i,...iz->...z", g, np.moveaxis(T, a0, -2))
        if keepdims:
            t = np.expand_dims(t, a0)
    else:
        r, c = axes
        g = _matrix_norm_grad(np.moveaxis(V, (r, c), (-2, -1)), ord)
        t = np.einsum("...ij,...ijz->...z", g, np.moveaxis(T, (r, c), (-3, -2)))
        if keepdims:
            t = np.expand_dims(t, tuple(sorted((r, c))))
    return _from_arrays(value, t, d.k)


cdef tuple _eig_parts(Dual d, str name):
    """w, V, dw (..., k, n), dV (..., k, n, n) of a real matrix with real distinct
    eigenvalues: P = V^-1 dA V, dw = diag(P), dV = V (F o P) with F_ij = 1/(w_j - w_i)
    off the diagonal, then each column's component along itself removed so that it
    stays of unit norm as NumPy returns it (Giles 2008, 3.1; the normalization as in
    autograd's eig)."""
    A, TA = _kmat(d, name)
    w, V = np.linalg.eig(A)
    if np.iscomplexobj(w):
        raise ValueError(f"numpy.linalg.{name}: the matrix has complex eigenvalues; a "
                         "Dual is real, so only matrices with real eigenvalues are "
                         "supported")
    _require_distinct(np.sort(w, axis=-1), name, "eigenvalues")
    Vk = V[..., None, :, :]
    P = np.linalg.solve(Vk, TA @ Vk)
    dw = np.diagonal(P, axis1=-2, axis2=-1)
    with np.errstate(divide="ignore"):
        F = 1.0 / (w[..., None, :] - w[..., :, None])
    n = w.shape[-1]
    F[..., np.arange(n), np.arange(n)] = 0.0
    dV = Vk @ (F[..., None, :, :] * P)
    dV = dV - Vk * np.sum(Vk * dV, axis=-2, keepdims=True)
    return w, V, dw, dV

def _eig(a):
    d = _as_dual(a)
    w, V, dw, dV = _eig_parts(d, "eig")
    return type(np.linalg.eig(np.eye(1)))(_from_arrays(w, np.moveaxis(dw, -2, -1), d.k),
                                         _from_arrays(V, _kt(dV), d.k))

def _eigvals(a):
    d = _as_dual(a)
    w, V, dw, dV = _eig_parts(d, "eigvals")
    value = np.linalg.eigvals(d.value)
    # eigvals may order (or round) its values unlike eig: pair them by sorting (they
    # are real and distinct)
    ie, iv = np.argsort(w, axis=-1), np.argsort(value, axis=-1)
    dw = np.moveaxis(dw, -2, -1)                               # (..., n, k)
    t = np.empty_like(dw)
    np.put_along_axis(t, iv[..., None], np.take_along_axis(dw, ie[..., None], -2), -2)
    return _from_arrays(value, t, d.k)


def _tensorinv(a, ind=2):
    d = _as_dual(a)
    Y = np.linalg.tensorinv(d.value, ind)                  # NumPy validates
    ind = operator.index(ind)
    M = int(np.prod(d.shape[:ind]))
    # the matrix inverse of a reshaped to (M, N): dY = -Y dA Y there
    A2 = d.value.reshape(M, -1)
    Yi = np.linalg.inv(A2)
    T2 = np.moveaxis(d.tangent.reshape(A2.shape + (d.k,)), -1, 0)
    TY = np.moveaxis(-(Yi @ T2 @ Yi), 0, -1)
    return _from_arrays(Y, TY.reshape(Y.shape + (d.k,)), d.k)

def _tensorsolve(a, b, axes=None):
    k = _common_k((a, b))
    A, TA = _vt(a, k)
    B, TB = _vt(b, k)
    X = np.linalg.tensorsolve(A, B, axes)                  # NumPy validates
    if axes is not None:
        # as NumPy: the listed axes of a moved to the end (the tangent axis stays last)
        order = [i for i in range(A.ndim) if i not in [j % A.ndim for j in axes]]
        order += [j % A.ndim for j in axes]
        A, TA = A.transpose(order), TA.transpose(order + [A.ndim])
    M, N = B.size, X.size
    A2 = A.reshape(M, N)
    # A2 dx = db - dA2 x, all directions as columns
    rhs = (np.broadcast_to(TB, B.shape + (k,)).reshape(M, k)
           - np.einsum("mnz,n->mz", np.broadcast_to(TA, A.shape + (k,)).reshape(M, N, k),
                       X.ravel()))
    return _from_arrays(X, np.linalg.solve(A2, rhs).reshape(X.shape + (k,)), k)


def _cond(x, p=None):
    d = _as_dual(_lift(x))
    value = np.linalg.cond(d.value, p)                    # NumPy validates
    if p is None or p == 2 or p == -2:
        # s_1 / s_n (p = -2: s_n / s_1) with ds_i = u_i^T dA v_i, which needs s_1 and
        # s_n simple and s_n > 0
        A, TA = _kmat(d, "cond")
        U, s, Vh = np.linalg.svd(A, full_matrices=False)
        r = s.shape[-1]
        tol = 8 * max(A.shape[-2:]) * _EPS * s[..., 0]
        if np.any(s[..., -1] <= tol):
            raise ValueError("numpy.linalg.cond: a zero singular value; the condition "
                             "number is infinite and has no derivative")
        if r > 1 and (np.any(s[..., 0] - s[..., 1] <= tol)
                      or np.any(s[..., -2] - s[..., -1] <= tol)):
            raise ValueError("numpy.linalg.cond: the largest or smallest singular value "
                             "is repeated; no derivative there")
        def ds(i):
            return np.einsum("...m,...zmn,...n->...z", U[..., :, i], TA, Vh[..., i, :])
        s1, sn = s[..., 0, None], s[..., -1, None]
        t = (ds(0) * sn - s1 * ds(-1)) / sn ** 2
        if p == -2:
            t = -t * (sn / s1) ** 2
        return _from_arrays(value, t, d.k)
    # the other orders: ||A|| ||A^-1|| as NumPy computes it, through the Dual rules
    return _binary(B_MULTIPLY, _norm(d, p, axis=(-2, -1)),
                   _norm(_inv(d), p, axis=(-2, -1)))


def _matrix_norm(x, /, *, keepdims=False, ord="fro"):
    return _norm(x, ord=ord, axis=(-2, -1), keepdims=keepdims)

def _vector_norm(x, /, *, axis=None, keepdims=False, ord=2):
    d = _as_dual(_lift(x))
    nd = d.ndim
    ax = _axes(axis, nd)
    # as NumPy does: the normed axes moved last and merged, then one vector norm
    rest = tuple(i for i in range(nd) if i not in ax)
    t = _transpose(d, rest + ax).reshape(tuple(d.shape[i] for i in rest) + (-1,))
    r = _norm(t, ord=ord, axis=-1)
    if keepdims:
        r = r.reshape(tuple(1 if i in ax else d.shape[i] for i in range(nd)))
    return r

def _matrix_rank(A, tol=None, hermitian=False, *, rtol=None):
    # an integer: computed on the values
    return np.linalg.matrix_rank(_values(_lift(A)), tol=tol, hermitian=hermitian,
                                 rtol=rtol)

def _qr(a, mode="reduced"):
    d = _as_dual(a)
    A, TA = _kmat(d, "qr")
    m, n = A.shape[-2:]
    if mode not in ("reduced", "r") and not (mode == "complete" and m <= n):
        raise ValueError(f"numpy.linalg.qr of a Dual supports mode='reduced' and 'r' "
                         f"(and 'complete' when m <= n); got mode={mode!r}: the extra "
                         "columns of a complete Q are not unique")
    Q, R = np.linalg.qr(A)
    p = min(m, n)
    Rp = R[..., :, :p]                                   # square, upper triangular
    if np.any(np.abs(np.diagonal(Rp, axis1=-2, axis2=-1))
              <= 8 * max(m, n) * _EPS * np.max(np.abs(Rp), axis=(-2, -1),
                                               initial=0.0)[..., None]):
        raise ValueError("numpy.linalg.qr: the leading min(m, n) columns are linearly "
                         "dependent; the factors have no derivative there")
    # With A = [X Y], X = Q Rp (m x p): C = Q^T dX Rp^-1, Omega = L - L^T with L the
    # strict lower triangle of C; then dRp = (C - Omega) Rp,
    # dQ = dX Rp^-1 - Q (C - Omega), dRy = dQ^T Y + Q^T dY (Walter, Lehmann & Lamour
    # 2012, "On evaluating higher-order derivatives of the QR decomposition ...").
    Qk = Q[..., None, :, :]
    dX = TA[..., :, :p]
    Rinv = np.linalg.inv(Rp)[..., None, :, :]
    dXR = dX @ Rinv
    C = _mT(Qk) @ dXR
    L = np.tril(C, -1)
    U = C - (L - _mT(L))
    dR = U @ Rp[..., None, :, :]
    dQ = dXR - Qk @ U
    if n > p:
        dRy = _mT(dQ) @ A[..., None, :, p:] + _mT(Qk) @ TA[..., :, p:]
        dR = np.concatenate([dR, dRy], axis=-1)
    Rd = _from_arrays(R, _kt(dR), d.k)
    if mode == "r":
        return Rd
    return type(np.linalg.qr(np.eye(1)))(_from_arrays(Q, _kt(dQ), d.k), Rd)


_FUNCTIONS.update({
    np.linalg.norm: _norm, np.linalg.solve: _solve, np.linalg.inv: _inv,
    np.linalg.det: _det, np.linalg.slogdet: _slogdet, np.linalg.cholesky: _cholesky,
    np.linalg.eigh: _eigh, np.linalg.eigvalsh: _eigvalsh, np.linalg.svd: _svd,
    np.linalg.pinv: _pinv, np.linalg.lstsq: _lstsq, np.linalg.qr: _qr,
    np.linalg.cond: _cond, np.linalg.tensorinv: _tensorinv,
    np.linalg.tensorsolve: _tensorsolve, np.linalg.eig: _eig,
    np.linalg.eigvals: _eigvals, np.linalg.matrix_rank: _matrix_rank,
})
for _name, _impl in (("svdvals", _svdvals), ("matrix_norm", _matrix_norm),
                     ("vector_norm", _vector_norm)):
    if hasattr(np.linalg, _name):           # NumPy >= 2.0
        _FUNCTIONS[getattr(np.linalg, _name)] = _impl
