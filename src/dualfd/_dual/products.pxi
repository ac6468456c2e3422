# Part of dualfd._dual._core (included by _core.pyx): products (dot, matmul, einsum,
# tensordot, kron, cross, ...), polynomials and interpolation.  Multilinear functions
# are applied once per Dual operand with that operand's tangent in place of its value
# and the direction axis carried along (see linalg.pxi for the tangent conventions).

# --- products --------------------------------------------------------------------------

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
        if type(a) is Dual and _o2_on():
            sa = "...mn" if na >= 2 else "n"
            sb = "...np" if nb >= 2 else "n"
            so = ("...m" if na >= 2 else "...") + ("p" if nb >= 2 else "")
            lay = _o2()
            tangent = _o2_add_second(
                tangent, _o2_cross_term([sa, sb], so, "z", [Va, Vb], 0, 1, Ta, Tb, lay),
                lay)
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

cdef object _mm(a, b):
    """a @ b for Duals and constants alike."""
    if type(a) is Dual or type(b) is Dual:
        return _matmul(a, b)
    return np.matmul(a, b)

def _dot(a, b, out=None):
    _unsupported_args("dot", out=out)
    na, nb = len(_shape_of(a)), len(_shape_of(b))
    if na == 0 or nb == 0:
        return _binary(B_MULTIPLY, a, b)
    if na <= 2 and nb <= 2:
        return _matmul(a, b)
    # N-d dot: a sum over a's last axis and b's second-to-last (its only one if 1-d).
    return _tensordot(a, b, axes=([na - 1], [max(nb - 2, 0)]))

def _tensordot(a, b, axes=2):
    if _o2_on() and type(_lift(a)) is Dual and type(_lift(b)) is Dual:
        return _o2_tensordot(a, b, axes)
    k = _common_k((a, b))
    Va, Ta = _vt(a, k)
    Vb, Tb = _vt(b, k)
    na, nb = Va.ndim, Vb.ndim
    try:
        axa, axb = axes
    except TypeError:                       # an int N: a's last N against b's first N
        n = operator.index(axes)
        if n < 0 or n > min(na, nb):
            raise ValueError(f"tensordot: axes={n} does not fit operands of "
                             f"{na} and {nb} dimensions") from None
        axa, axb = list(range(na - n, na)), list(range(n))
    axa = [operator.index(i) for i in (axa if isinstance(axa, (list, tuple)) else [axa])]
    axb = [operator.index(i) for i in (axb if isinstance(axb, (list, tuple)) else [axb])]
    value = np.tensordot(Va, Vb, (axa, axb))           # NumPy validates the axes
    # Normalize against the VALUES' ndim: a tangent has one more axis.
    axa = [i % na for i in axa]
    axb = [i % nb for i in axb]
    tangent = 0.0
    if type(a) is Dual:
        # the free axes of Ta keep their order, k (last) ends a's part: move it last
        t = np.tensordot(Ta, Vb, (axa, axb))
        tangent = np.moveaxis(t, na - len(axa), -1)
    if type(b) is Dual:
        tangent = tangent + np.tensordot(Va, Tb, (axa, axb))
    return _from_arrays(value, tangent, k)

def _inner(a, b):
    if _o2_on() and type(_lift(a)) is Dual and type(_lift(b)) is Dual:
        return _o2_inner(a, b)
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
    if _o2_on() and type(_lift(a)) is Dual and type(_lift(b)) is Dual:
        return _o2_outer(a, b)
    k = _common_k((a, b))
    Va, Ta = _vt(a, k)
    Vb, Tb = _vt(b, k)
    Va, Vb = Va.ravel(), Vb.ravel()
    Ta, Tb = Ta.reshape(Va.size, k), Tb.reshape(Vb.size, k)
    tangent = Ta[:, None, :] * Vb[None, :, None] + Va[:, None, None] * Tb[None, :, :]
    return _from_arrays(np.outer(Va, Vb), tangent, k)

def _vdot(a, b):
    if _o2_on() and type(_lift(a)) is Dual and type(_lift(b)) is Dual:
        return _o2_vdot(a, b)
    k = _common_k((a, b))
    Va, Ta = _vt(a, k)
    Vb, Tb = _vt(b, k)
    value = np.vdot(Va, Vb)                  # checks the sizes
    va, vb = Va.ravel(), Vb.ravel()
    tangent = (np.broadcast_to(Ta, Va.shape + (k,)).reshape(va.size, k).T @ vb
               + np.broadcast_to(Tb, Vb.shape + (k,)).reshape(vb.size, k).T @ va)
    return _from_arrays(value, tangent, k)

def _kron(a, b):
    _o2_both("numpy.kron", a, b)
    k = _common_k((a, b))
    Va, Ta = _vt(a, k)
    Vb, Tb = _vt(b, k)
    value = np.kron(Va, Vb)
    # kron is bilinear and aligns shapes by prepending ones, so a trailing axis of
    # length k on one factor and 1 on the other carries the directions through.
    tangent = 0.0
    if type(a) is Dual:
        tangent = np.kron(Ta, Vb[..., None])
    if type(b) is Dual:
        tangent = tangent + np.kron(Va[..., None], Tb)
    return _from_arrays(value, np.reshape(tangent, value.shape + (k,)), k)

def _cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    _o2_both("numpy.cross", a, b)
    k = _common_k((a, b))
    Va, Ta = _vt(a, k)
    Vb, Tb = _vt(b, k)
    value = np.cross(Va, Vb, axisa, axisb, axisc, axis)      # NumPy validates
    if axis is not None:
        axisa = axisb = axisc = axis
    axa = operator.index(axisa) % Va.ndim
    axb = operator.index(axisb) % Vb.ndim
    A, B = np.moveaxis(Va, axa, -1), np.moveaxis(Vb, axb, -1)
    # Vector axis last, directions just before it: (..., k, 2 or 3).
    tangent = 0.0
    if type(a) is Dual:
        tangent = np.cross(np.moveaxis(Ta, axa, -1), B[..., None, :])
    if type(b) is Dual:
        tangent = tangent + np.cross(A[..., None, :], np.moveaxis(Tb, axb, -1))
    if A.shape[-1] == 2 and B.shape[-1] == 2:
        return _from_arrays(value, tangent, k)               # (..., k): scalar results
    tangent = np.moveaxis(np.swapaxes(tangent, -1, -2), -2,
                          operator.index(axisc) % value.ndim)
    return _from_arrays(value, tangent, k)

def _einsum(*operands, out=None, dtype=None, order="K", casting="safe",
            optimize=False):
    _unsupported_args("einsum", out=out, dtype=dtype)
    if order != "K" or casting != "safe":
        raise TypeError("numpy.einsum on Dual arrays does not support order= or "
                        "casting=")
    if operands and not isinstance(operands[0], str):
        operands = _einsum_from_sublists(operands)
    spec, ops = operands[0].replace(" ", ""), list(operands[1:])
    ops = [_lift(o) for o in ops]
    k = _common_k(ops)
    vals = [_values(o) if type(o) is Dual else _constant(o, "einsum operand")
            for o in ops]
    value = np.einsum(spec, *vals, optimize=optimize)        # NumPy validates spec
    if len(ops) == 1:
        # A single operand without sums (transpose, diagonal) is a view in NumPy.
        view = (_view_of(<Dual>ops[0], value)
                if type(ops[0]) is Dual and cnp.PyArray_Check(value) else None)
        if view is not None:
            return view
    lhs, arrow, rhs = spec.partition("->")
    inputs = lhs.split(",")
    if not arrow:
        # NumPy's implicit output: the labels used once, in ASCII order, after '...'.
        labels = [c for c in lhs if c.isalpha()]
        rhs = ("..." if "..." in lhs else "") + "".join(
            sorted(c for c in set(labels) if labels.count(c) == 1))
    z = next(c for c in "zyxwvutsrqponmlkjihgfedcbaZYXWVUTSRQPONMLKJIHGFEDCBA"
             if c not in spec)
    # d einsum = sum over the Dual operands of einsum with that operand's tangent in
    # its place, the direction index z appended to its subscripts and to the output.
    tangent = 0.0
    for i, o in enumerate(ops):
        if type(o) is not Dual:
            continue
        subs = list(inputs)
        subs[i] += z
        args = list(vals)
        args[i] = _view(<Dual>o, True, False)
        tangent = tangent + np.einsum(",".join(subs) + "->" + rhs + z, *args,
                                      optimize=optimize)
    duals = [i for i, o in enumerate(ops) if type(o) is Dual]
    if len(duals) > 1 and _o2_on():
        # second order: each pair of Dual operands with their first-order tangents in
        # their places, the pair (p, q) of directions both ways
        lay = _o2()
        term = 0.0
        for ii, i in enumerate(duals):
            for j in duals[ii + 1:]:
                term = term + _o2_cross_term(
                    inputs, rhs, z, vals, i, j, _view(<Dual>ops[i], True, False),
                    _view(<Dual>ops[j], True, False), lay, optimize)
        tangent = _o2_add_second(np.broadcast_to(tangent, np.shape(value) + (k,)), term,
                                 lay)
    return _from_arrays(value, tangent, k)

cdef tuple _einsum_from_sublists(tuple operands):
    """einsum(op, sublist, op, sublist, ..., [out]) as ('subscripts', op, op, ...)."""
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

    def sub(lst):
        s = []
        for i in lst:
            if i is Ellipsis:
                s.append("...")
            else:
                i = operator.index(i)
                if not 0 <= i < 52:
                    raise ValueError(f"einsum: subscript {i} is not in [0, 52)")
                s.append(letters[i])
        return "".join(s)

    ops = list(operands[0::2])
    subs = [sub(s) for s in operands[1::2]]
    spec = ",".join(subs[:len(ops)])
    if len(operands) % 2:                  # an output sublist
        ops = ops[:-1]
        spec = ",".join(subs) + "->" + sub(operands[-1])
    return (spec,) + tuple(ops)

def _multi_dot(arrays, *, out=None):
    _unsupported_args("linalg.multi_dot", out=out)
    arrays = [_lift(a) for a in arrays]
    if len(arrays) < 2:
        raise ValueError("Expecting at least two arrays.")
    for i, a in enumerate(arrays):
        nd = len(_shape_of(a))
        if nd != 2 and not (nd == 1 and i in (0, len(arrays) - 1)):
            raise ValueError(f"{nd}-dimensional array given. Array must be "
                             "two-dimensional")
    r = arrays[0]
    for a in arrays[1:]:
        r = _mm(r, a)
    return r

def _matrix_power(a, n):
    d = _as_dual(a)
    if d.ndim < 2 or d.shape[-1] != d.shape[-2]:
        raise ValueError("numpy.linalg.matrix_power: the last 2 dimensions of the "
                         "array must be square")
    n = operator.index(n)
    if n == 0:
        return _from_arrays(np.broadcast_to(np.eye(d.shape[-1]), d.shape), 0.0, d.k)
    if n < 0:
        d, n = _inv(d), -n
    # binary powering: A^n with about log2(n) products, each through the product rule
    result, z = None, d
    while True:
        if n & 1:
            result = z if result is None else _matmul(result, z)
        n >>= 1
        if not n:
            return result
        z = _matmul(z, z)

# --- polynomials and interpolation --------------------------------------------------------

def _polyval(p, x):
    if _o2_on():
        return _o2_polyval(p, x)
    p, x = _lift(p), _lift(x)
    k = _common_k((p, x))
    P, TP = _vt(p, k)
    X, TX = _vt(x, k)
    if P.ndim == 0:
        raise TypeError("numpy.polyval: p must be a sequence of coefficients")
    # Horner's scheme as NumPy runs it (same operations, so the same value), with the
    # product rule on each step.
    y = np.zeros_like(X, dtype=np.float64)
    ty = np.zeros(X.shape + (k,))
    for i in range(P.shape[0]):
        ty = ty * X[..., None] + y[..., None] * TX + TP[i]
        y = y * X + P[i]
    return _from_arrays(y, ty, k)

def _interp(x, xp, fp, left=None, right=None, period=None):
    _unsupported_args("interp", period=period)
    _o2_both("numpy.interp of a Dual x and a Dual fp", x, fp)
    if any(type(_lift(v)) is Dual for v in (xp, left, right)):
        raise TypeError("numpy.interp on Duals differentiates x and fp only; xp, left "
                        "and right must be constants")
    x, fp = _lift(x), _lift(fp)
    k = _common_k((x, fp))
    X, TX = _vt(x, k)
    F, TF = _vt(fp, k)
    XP = _constant(xp, "xp").astype(np.float64)
    value = np.interp(X, XP, F, left, right)             # NumPy validates
    n = XP.shape[0]
    # Segment j holds xp[j] <= x < xp[j+1]; x == xp[-1] uses the last segment.
    j = np.clip(np.searchsorted(XP, X, side="right") - 1, 0, max(n - 2, 0))
    below, above = X < XP[0], X > XP[-1]
    inside = ~(below | above)
    tangent = np.zeros(X.shape + (k,))
    if n == 1:
        w = np.zeros(X.shape)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            w = np.where(inside, (X - XP[j]) / (XP[j + 1] - XP[j]), 0.0)
    if type(fp) is Dual:
        # the value is linear in fp: weights (1 - w, w) inside, fp[0] / fp[-1] outside
        # unless left / right replace them
        t = (1 - w)[..., None] * TF[j] + (w[..., None] * TF[np.minimum(j + 1, n - 1)]
                                          if n > 1 else 0.0)
        t = np.where(inside[..., None], t, 0.0)
        if left is None:
            t = np.where(below[..., None], TF[0], t)
        if right is None:
            t = np.where(above[..., None], TF[-1], t)
        tangent = tangent + t
    if type(x) is Dual and n > 1:
        # d/dx: the slope of x's segment, 0 outside.  At a breakpoint xp[i] the slope
        # is undefined unless the segments on both sides agree (and the value is
        # continuous there): raise rather than pick a side.
        with np.errstate(divide="ignore", invalid="ignore"):
            slopes = np.diff(F) / np.diff(XP)
        lval = F[0] if left is None else float(left)
        rval = F[-1] if right is None else float(right)
        ext = np.concatenate([[0.0], slopes, [0.0]])
        i = np.searchsorted(XP, X, side="left")
        at = (i < n) & (XP[np.minimum(i, n - 1)] == X)
        if np.any(at):
            ia = i[at]
            kink = ext[ia] != ext[ia + 1]
            kink |= (ia == 0) & (lval != F[0])
            kink |= (ia == n - 1) & (rval != F[-1])
            if np.any(kink):
                raise ValueError(
                    f"numpy.interp: x = {float(np.asarray(X)[at][kink][0])!r} is a "
                    "breakpoint of xp where the slopes on both sides differ: the "
                    "derivative by x does not exist there; evaluate off the breakpoints")
        slope = np.where(inside, slopes[j], 0.0)
        if np.any(at):
            slope = np.where(at, ext[np.minimum(i, n - 1) + 1], slope)
        slope = np.where(np.isnan(X), np.nan, slope)
        tangent = tangent + slope[..., None] * TX
    return _from_arrays(value, tangent, k)

# --- NumPy 2's array-API spellings in numpy.linalg ---------------------------------------

def _linalg_matmul(x1, x2, /):
    return _mm(x1, x2)

def _linalg_tensordot(x1, x2, /, *, axes=2):
    return _tensordot(x1, x2, axes)

def _linalg_outer(x1, x2, /):
    if len(_shape_of(x1)) != 1 or len(_shape_of(x2)) != 1:
        raise ValueError("numpy.linalg.outer: both inputs must be 1-dimensional")
    return _outer(x1, x2)

def _linalg_cross(x1, x2, /, *, axis=-1):
    if _shape_of(x1)[axis] != 3 or _shape_of(x2)[axis] != 3:
        raise ValueError("numpy.linalg.cross: both inputs must be 3-dimensional "
                         "vectors along axis")
    return _cross(x1, x2, axis=axis)

def _vecdot(x1, x2, /, *, axis=-1):
    if _o2_on() and type(_lift(x1)) is Dual and type(_lift(x2)) is Dual:
        return _o2_vecdot(x1, x2, axis=axis)
    k = _common_k((x1, x2))
    V1, T1 = _vt(x1, k)
    V2, T2 = _vt(x2, k)
    value = np.linalg.vecdot(V1, V2, axis=axis)           # NumPy validates
    shape = np.broadcast_shapes(V1.shape, V2.shape)
    ax = operator.index(axis) % len(shape)
    A = np.moveaxis(np.broadcast_to(V1, shape), ax, -1)
    B = np.moveaxis(np.broadcast_to(V2, shape), ax, -1)
    # d sum(a b) = sum(da b + a db) along the axis (real inputs: no conjugation)
    t = (np.einsum("...i,...iz->...z", B,
                   np.moveaxis(np.broadcast_to(T1, shape + (k,)), ax, -2))
         + np.einsum("...i,...iz->...z", A,
                     np.moveaxis(np.broadcast_to(T2, shape + (k,)), ax, -2)))
    return _from_arrays(value, t, k)


_FUNCTIONS.update({
    np.dot: _dot, np.inner: _inner, np.outer: _outer, np.vdot: _vdot,
    np.tensordot: _tensordot, np.kron: _kron, np.cross: _cross, np.einsum: _einsum,
    np.polyval: _polyval, np.interp: _interp,
    np.linalg.multi_dot: _multi_dot, np.linalg.matrix_power: _matrix_power,
})
for _name, _impl in (("matmul", _linalg_matmul), ("tensordot", _linalg_tensordot),
                     ("outer", _linalg_outer), ("cross", _linalg_cross),
                     ("vecdot", _vecdot)):
    if hasattr(np.linalg, _name):           # NumPy >= 2.0
        _FUNCTIONS[getattr(np.linalg, _name)] = _impl
