# Part of dualfd._reverse (included by _reverse.pyx): functions written as compositions and contractions of recorded operations.

# Functions written as compositions of the recorded operations above: NumPy's own
# formula, so the value is NumPy's and the adjoint follows from the pieces.

def _r_var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *,
           where=np._NoValue, mean=np._NoValue, correction=np._NoValue):
    if type(a) is not Tracer or out is not None or dtype is not None \
            or where is not np._NoValue or mean is not np._NoValue \
            or correction is not np._NoValue:
        return _FALLBACK
    v = (<Tracer>a).value
    m = _sum_like(a, axis, True, True)              # (validates axis, as NumPy does)
    count = 1
    for d in _axes(axis, v.ndim):
        count *= v.shape[d]
    d = a - m                                        # numpy: a - mean, squared, summed
    return _sum_like(d * d, axis, keepdims, False) / max(count - ddof, 0)


def _r_std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *,
           where=np._NoValue, mean=np._NoValue, correction=np._NoValue):
    r = _r_var(a, axis, dtype, out, ddof, keepdims, where=where, mean=mean,
               correction=correction)
    if r is _FALLBACK or np.any((<Tracer>r).value == 0):
        return _FALLBACK                             # sqrt at 0: the Dual decides
    return _unary(np.sqrt, U_SQRT, <Tracer>r)


def _r_norm(x, ord=None, axis=None, keepdims=False):
    if type(x) is not Tracer or not (ord is None or (ord == 2 and axis is not None
                                                     and not isinstance(axis, tuple))
                                     or (ord == 2 and (<Tracer>x).value.ndim == 1)
                                     or (isinstance(ord, str) and ord == "fro")):
        return _FALLBACK
    if isinstance(axis, tuple) and len(axis) != 2:
        return _FALLBACK
    r = _sum_like(x * x, axis, keepdims, False)
    if np.any((<Tracer>r).value == 0):
        return _FALLBACK                             # the Dual's subgradient 0 at 0
    return _unary(np.sqrt, U_SQRT, <Tracer>r)


def _r_diff(a, n=1, axis=-1, prepend=np._NoValue, append=np._NoValue):
    if type(a) is not Tracer or prepend is not np._NoValue or append is not np._NoValue \
            or (<Tracer>a).value.ndim == 0 or n < 0:
        return _FALLBACK
    nd = (<Tracer>a).value.ndim
    ax = int(axis) % nd
    hi = (slice(None),) * ax + (slice(1, None),)
    lo = (slice(None),) * ax + (slice(None, -1),)
    for _ in range(n):
        a = a[hi] - a[lo]
    return a


def _r_outer(a, b, out=None):
    if out is not None:
        return _FALLBACK
    ra = np.ravel(a) if type(a) is Tracer else _const(a).ravel()
    rb = np.ravel(b) if type(b) is Tracer else _const(b).ravel()
    return ra[:, None] * rb[None, :]


def _r_cumsum(a, axis=None, dtype=None, out=None):
    if type(a) is not Tracer or out is not None or dtype is not None:
        return _FALLBACK
    v = (<Tracer>a).value
    y = np.cumsum(v, axis=axis)
    def adjoint(gs):                 # the adjoint of a running sum: one from the end
        g = gs[0]
        if axis is None:
            return [np.cumsum(g[::-1])[::-1].reshape(v.shape)]
        return [np.flip(np.cumsum(np.flip(g, axis), axis), axis)]
    return _py_result([a], [y], adjoint)[0]


def _r_prod(a, axis=None, dtype=None, out=None, keepdims=False, initial=np._NoValue,
            where=np._NoValue):
    if type(a) is not Tracer or out is not None or dtype is not None \
            or initial is not np._NoValue or where is not np._NoValue:
        return _FALLBACK
    v = (<Tracer>a).value
    if not np.all(np.isfinite(v)) or np.any(v == 0):
        return _FALLBACK             # zeros: the product of the others, from the Dual
    yk = np.multiply.reduce(v, axis=axis, keepdims=True)
    y = np.multiply.reduce(v, axis=axis, keepdims=keepdims)
    def adjoint(gs):                 # d prod / d x_i = prod / x_i
        g = np.reshape(gs[0], yk.shape)
        return [g * yk / v]
    return _py_result([a], [y], adjoint)[0]


def _r_einsum(*operands, out=None, optimize=False, **kw):
    # two operands, explicit output, letters only, no index repeated within an operand
    # and none that only one operand has: the adjoint of each is an einsum of the
    # result's adjoint and the other operand (the rule behind matmul's)
    if out is not None or kw or len(operands) != 3 or not isinstance(operands[0], str):
        return _FALLBACK
    spec, a, b = operands
    spec = spec.replace(" ", "")
    if "->" not in spec or "." in spec:
        return _FALLBACK
    ins, o = spec.split("->")
    parts = ins.split(",")
    if len(parts) != 2:
        return _FALLBACK
    s0, s1 = parts
    for t in (s0, s1, o):
        if len(set(t)) != len(t) or not t.isalpha() and t:
            return _FALLBACK
    if not set(s0) <= set(s1) | set(o) or not set(s1) <= set(s0) | set(o):
        return _FALLBACK
    av, bv = _const(a), _const(b)
    y = np.einsum(spec, av, bv, optimize=optimize)
    na = type(a) is Tracer
    nb = type(b) is Tracer
    def adjoint(gs):
        g = gs[0]
        return [np.einsum(f"{o},{s1}->{s0}", g, bv) if na else None,
                np.einsum(f"{o},{s0}->{s1}", g, av) if nb else None]
    return _py_result([a, b], [np.asarray(y)], adjoint)[0]


# Contractions written as the einsum above (letters spelled out, so that its
# two-operand adjoint applies) and trace as the sum of a diagonal.

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _contract(a, b, sa, sb, so):
    if max(len(sa), len(sb), len(so)) > len(_LETTERS) or (type(a) is not Tracer
                                                         and type(b) is not Tracer):
        return _FALLBACK
    return _r_einsum(f"{sa},{sb}->{so}", a, b)


def _r_inner(a, b):
    na, nb = np.ndim(_cmp(a)), np.ndim(_cmp(b))
    if na == 0 or nb == 0:
        return _binary(np.multiply, B_MULTIPLY, a, b)
    if na + nb - 1 > len(_LETTERS):
        return _FALLBACK
    la, lb = _LETTERS[:na - 1], _LETTERS[na - 1:na + nb - 2]
    k = _LETTERS[na + nb - 2]
    return _contract(a, b, la + k, lb + k, la + lb)


def _r_vdot(a, b):
    ra = np.ravel(a) if type(a) is Tracer else _const(a).ravel()
    rb = np.ravel(b) if type(b) is Tracer else _const(b).ravel()
    return _matmul(ra, rb)


def _r_tensordot(a, b, axes=2):
    na, nb = np.ndim(_cmp(a)), np.ndim(_cmp(b))
    try:
        if isinstance(axes, (int, np.integer)):
            ax_a = list(range(na - int(axes), na))
            ax_b = list(range(int(axes)))
        else:
            ax_a, ax_b = axes
            ax_a = [int(ax_a)] if isinstance(ax_a, (int, np.integer)) else list(ax_a)
            ax_b = [int(ax_b)] if isinstance(ax_b, (int, np.integer)) else list(ax_b)
        ax_a = [d % na for d in ax_a]
        ax_b = [d % nb for d in ax_b]
    except (TypeError, ValueError, ZeroDivisionError):
        return _FALLBACK             # NumPy's own error, through the Dual
    if len(ax_a) != len(ax_b) or len(set(ax_a)) != len(ax_a) or len(set(ax_b)) != len(ax_b) \
            or na + nb > len(_LETTERS):
        return _FALLBACK
    sa = list(_LETTERS[:na])
    sb = list(_LETTERS[na:na + nb])
    for i, j in zip(ax_a, ax_b):
        sb[j] = sa[i]
    so = [c for d, c in enumerate(sa) if d not in ax_a] + \
         [c for d, c in enumerate(sb) if d not in ax_b]
    return _contract(a, b, "".join(sa), "".join(sb), "".join(so))


def _r_trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    if type(a) is not Tracer or dtype is not None or out is not None \
            or (<Tracer>a).value.ndim < 2:
        return _FALLBACK
    return np.sum(np.diagonal(a, offset, axis1, axis2), axis=-1)
