# Part of dualfd._dual._core (included by _core.pyx): SciPy special functions
# (scipy.special ufuncs with rules in csrc/rules.def, and logsumexp/softmax).
#
# SciPy is optional and never imported here: its ufuncs are registered in _UFUNCS the
# first time a Dual meets a ufunc it does not know while scipy.special is loaded
# (_lookup_ufunc, for __array_ufunc__ to call on a miss), or at import of this module
# if scipy.special was loaded first.  Dual.supported_ufuncs() lists them from then on
# (by their ufunc names: digamma is "psi").  From then on they dispatch like NumPy's and are
# listed by Dual.supported_ufuncs().  Rules: expit, log_expit, logit, erf, erfc,
# gammaln, digamma (= psi, the same ufunc), xlogy, xlog1py.

import sys as _sys

cdef bint _special_done = False


cdef int _register_special(special) except -1:
    """Put scipy.special's rule-backed ufuncs into _UFUNCS (once)."""
    global _special_done
    if _special_done:
        return 0
    for name, i in _UNARY_INDEX.items():
        if _RULE_MODULE[name] == "scipy.special":
            u = getattr(special, name, None)
            if isinstance(u, np.ufunc) and u.nin == 1:
                _UFUNCS[u] = (1, i)
                _UFUNC_BY_NAME[name] = u
    for name, i in _BINARY_INDEX.items():
        if _RULE_MODULE[name] == "scipy.special":
            u = getattr(special, name, None)
            if isinstance(u, np.ufunc) and u.nin == 2:
                _UFUNCS[u] = (2, i)
                _UFUNC_BY_NAME[name] = u
    _special_done = True
    return 0


cdef object _lookup_ufunc(ufunc):
    """The _UFUNCS entry of a ufunc that was not in it: registers scipy.special's ufuncs
    if SciPy is loaded (without importing it) and looks again; None if unsupported."""
    if not _special_done:
        special = _sys.modules.get("scipy.special")
        if special is None:
            return None
        _register_special(special)
    return _UFUNCS.get(ufunc)


def _register_scipy_special():
    """Import scipy.special and register its ufuncs now (what _lookup_ufunc does on
    demand); returns the registered names."""
    import scipy.special
    _register_special(scipy.special)
    return tuple(sorted(n for n, m in _RULE_MODULE.items() if m == "scipy.special"))


def _special_lookup(ufunc):
    """Python access to _lookup_ufunc, for the tests."""
    return _lookup_ufunc(ufunc)


if "scipy.special" in _sys.modules:
    _register_special(_sys.modules["scipy.special"])


# --- logsumexp and softmax ------------------------------------------------------------
# scipy.special.logsumexp/softmax are Python functions that SciPy does not dispatch
# (__array_function__ is never called), so on a Dual they run SciPy's own code on
# np.asarray(dual), an object array of 0-d Duals.  softmax then works, each element
# through the Duals' operators.  logsumexp does not: SciPy's array-API code takes every
# dtype that is not real floating for complex (scipy/special/_logsumexp.py: the branch
# `sgn * xp.exp(xp.imag(a_max) * 1.0j)` meets Python complex numbers, and np.log of the
# object array of plain floats `m` fails too).  These Dual implementations are the
# derivative-carrying versions, for when SciPy dispatches (or a caller calls them).

def _logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
    """log sum_i b_i exp(a_i) of Duals.  Value: SciPy's on the values; derivative
    d out = sum_i exp(a_i - out) (b_i da_i + db_i) / sgn (the gradient of logsumexp is
    softmax: Blanchard, Higham & Higham 2021, IMA J. Numer. Anal. 41(4))."""
    from scipy.special import logsumexp
    a, b = _lift(a), _lift(b)
    k = _common_k((a, b))
    if k < 0:
        raise TypeError("_logsumexp: neither a nor b is a Dual; call "
                        "scipy.special.logsumexp")
    A, TA = _vt(a, k)
    if b is None:
        B, TB = None, None
    else:
        B, TB = _vt(b, k)
        A, B = np.broadcast_arrays(A, B)
        TA, TB = np.broadcast_arrays(TA, TB)
    out, sgn = logsumexp(A, axis=axis, b=B, keepdims=True, return_sign=True)
    out = np.asarray(out, dtype=float)
    sgn = np.asarray(sgn, dtype=float)
    nd = np.ndim(A)
    ax = _axes(axis, nd)
    with np.errstate(invalid="ignore", over="ignore"):
        E = np.exp(A - out) / sgn
        W = (E if B is None else E * B)[..., None] * TA
        if TB is not None:
            W = W + E[..., None] * TB
    T = np.sum(W, axis=ax, keepdims=True)
    if not keepdims:
        out = np.squeeze(out, axis=ax)
        sgn = np.squeeze(sgn, axis=ax)
        T = np.squeeze(T, axis=ax)
    if not return_sign:
        out = np.where(sgn < 0, np.nan, out)
    r = _from_arrays(out, T, k)
    return (r, sgn) if return_sign else r


def _softmax(x, axis=None):
    """softmax(x) = exp(x - logsumexp(x)); tangent s (dx - sum_axis s dx)."""
    from scipy.special import softmax
    x = _lift(x)
    k = _common_k((x,))
    if k < 0:
        raise TypeError("_softmax: x is not a Dual; call scipy.special.softmax")
    X, TX = _vt(x, k)
    s = softmax(X, axis=axis)
    ax = _axes(axis, np.ndim(X))
    T = s[..., None] * (TX - np.sum(s[..., None] * TX, axis=ax, keepdims=True))
    return _from_arrays(s, T, k)


def _polygamma01(int n, x):
    """digamma (n = 0) or trigamma (n = 1) of a float array by the C functions of
    csrc/dual.c (the value and derivative of the digamma rule), for tests and timing."""
    cdef cnp.ndarray a = np.ascontiguousarray(x, dtype=np.float64)
    cdef cnp.ndarray out = np.empty_like(a)
    cdef double *p = <double *>cnp.PyArray_DATA(a)
    cdef double *q = <double *>cnp.PyArray_DATA(out)
    cdef Py_ssize_t i, m = a.size
    if n not in (0, 1):
        raise ValueError(f"_polygamma01: n must be 0 or 1; got {n}")
    with nogil:
        if n == 0:
            for i in range(m):
                q[i] = dfd_sf_digamma(p[i])
        else:
            for i in range(m):
                q[i] = dfd_sf_trigamma(p[i])
    return out
