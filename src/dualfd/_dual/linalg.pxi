# Part of dualfd._dual._core (included by _core.pyx): products and linear algebra.

def _matmul(a, b, out=None, **kw):
    _unsupported_args("matmul", out=out, **kw)
    k = _common_k((a, b))
    if k < 0:
        return NotImplemented
    Va = _values(a) if type(a) is Dual else _constant(a, "matmul operand")
    Vb = _values(b) if type(b) is Dual else _constant(b, "matmul operand")
    value = np.matmul(Va, Vb)
    na, nb = Va.ndim, Vb.ndim
    if na == 0 or nb == 0:
        raise ValueError("matmul: operands must not be 0-d (use * for scaling)")
    tangent = 0.0
    if type(a) is Dual:
        Ta = _view(<Dual>a, True, False)
        if na <= 2 and nb <= 2:
            # (..., m, n, k) -> (..., m, k, n) @ b -> (..., m, k[, p]) -> tangents last
            r = np.matmul(np.swapaxes(Ta, -1, -2), Vb)
            tangent = np.swapaxes(r, -1, -2) if nb == 2 else r
        else:
            tangent = _einsum_matmul(Ta, Vb, na, nb, True)
    if type(b) is Dual:
        Tb = _view(<Dual>b, True, False)
        if na <= 2 and nb <= 2:
            # a @ (n, p * k): all directions in one call
            r = np.matmul(Va, Tb.reshape(Tb.shape[0], -1)).reshape(value.shape + (k,))
        else:
            r = _einsum_matmul(Va, Tb, na, nb, False)
        tangent = tangent + r
    return _from_arrays(value, tangent, k)

def _einsum_matmul(A, B, na, nb, tangent_a):
    sa = "...mn" if na >= 2 else "n"
    sb = "...np" if nb >= 2 else "n"
    so = ("...m" if na >= 2 else "...") + ("p" if nb >= 2 else "")
    if tangent_a:
        sa += "z"
    else:
        sb += "z"
    return np.einsum(f"{sa},{sb}->{so}z", A, B)

def _dot(a, b, out=None):
    _unsupported_args("dot", out=out)
    na, nb = len(_shape_of(a)), len(_shape_of(b))
    if na == 0 or nb == 0:
        return _binary(B_MULTIPLY, a, b)
    if na <= 2 and nb <= 2:
        return _matmul(a, b)
    raise TypeError("numpy.dot of Duals supports operands of up to 2 dimensions; "
                    "use np.matmul (@) for stacks of matrices")

def _inner(a, b):
    k = _common_k((a, b))
    na, nb = len(_shape_of(a)), len(_shape_of(b))
    if na == 0 or nb == 0:
        return _binary(B_MULTIPLY, a, b)
    Va, Ta = _vt(a, k)
    Vb, Tb = _vt(b, k)
    value = np.inner(Va, Vb)
    ta = np.moveaxis(np.inner(np.moveaxis(Ta, -1, 0), Vb), 0, -1)
    tb = np.moveaxis(np.inner(Va, np.moveaxis(Tb, -1, 0)), na - 1, -1)
    return _from_arrays(value, ta + tb, k)

def _outer(a, b, out=None):
    _unsupported_args("outer", out=out)
    k = _common_k((a, b))
    Va, Ta = _vt(a, k)
    Vb, Tb = _vt(b, k)
    Va, Vb = Va.ravel(), Vb.ravel()
    Ta, Tb = Ta.reshape(Va.size, k), Tb.reshape(Vb.size, k)
    tangent = Ta[:, None, :] * Vb[None, :, None] + Va[:, None, None] * Tb[None, :, :]
    return _from_arrays(np.outer(Va, Vb), tangent, k)

def _norm(x, ord=None, axis=None, keepdims=False):
    d = _as_dual(x)
    if ord is None or ord == 2 and (d.ndim == 1 or isinstance(axis, int)) \
            or ord == "fro":
        # sqrt(sum(x**2)): at x = 0 the sqrt rule keeps the zero tangent zero, so the
        # derivative there is 0 (a subgradient), not NaN.
        if ord == "fro" and axis is None and d.ndim != 2:
            raise ValueError("Improper number of dimensions to norm.")
        return _unary(U_SQRT, _sum(_unary(U_SQUARE, d), axis=axis, keepdims=keepdims))
    if (ord == 1 or ord == np.inf or ord == -np.inf) and \
            (d.ndim == 1 or isinstance(axis, int)):
        ad = _unary(U_ABSOLUTE, d)
        if ord == 1:
            return _sum(ad, axis=axis, keepdims=keepdims)
        return (_max if ord > 0 else _min)(ad, axis=axis, keepdims=keepdims)
    raise TypeError(f"numpy.linalg.norm of a Dual supports ord=None, 2 (vectors), "
                    f"1, inf, -inf (vectors) and 'fro'; got ord={ord!r}; " + _FD_HINT)

def _solve(a, b):
    k = _common_k((a, b))
    A, TA = _vt(a, k)
    B, TB = _vt(b, k)
    if A.ndim != 2 or B.ndim not in (1, 2):
        raise TypeError("numpy.linalg.solve of Duals supports a 2-D matrix and a 1-D "
                        "or 2-D right-hand side")
    X = np.linalg.solve(A, B)
    # A dX = dB - dA X: one solve with all directions as extra columns.
    if B.ndim == 1:
        rhs = TB - np.einsum("ijz,j->iz", TA, X)
        return _from_arrays(X, np.linalg.solve(A, rhs), k)
    rhs = TB - np.einsum("ijz,jm->imz", TA, X)
    TX = np.linalg.solve(A, rhs.reshape(A.shape[0], -1)).reshape(X.shape + (k,))
    return _from_arrays(X, TX, k)

def _inv(a):
    d = _as_dual(a)
    if d.ndim != 2:
        raise TypeError("numpy.linalg.inv of a Dual supports 2-D matrices")
    Y = np.linalg.inv(d.value)
    # dY = -Y dA Y, all directions as a batch.
    TA = np.moveaxis(d.tangent, -1, 0)
    TY = -np.matmul(np.matmul(Y, TA), Y)
    return _from_arrays(Y, np.moveaxis(TY, 0, -1), d.k)

def _det(a):
    d = _as_dual(a)
    if d.ndim != 2:
        raise TypeError("numpy.linalg.det of a Dual supports 2-D matrices")
    A = d.value
    y = np.linalg.det(A)
    # Jacobi's formula: d det A = det A tr(A^-1 dA).
    tangent = y * np.einsum("ji,ijz->z", np.linalg.inv(A), d.tangent)
    return _from_arrays(y, tangent, d.k)


_FUNCTIONS.update({
    np.dot: _dot, np.inner: _inner, np.outer: _outer,
    np.linalg.norm: _norm, np.linalg.solve: _solve, np.linalg.inv: _inv,
    np.linalg.det: _det,
})
