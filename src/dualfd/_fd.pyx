# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Finite-difference driver: calls f, hands its values to the C kernels.

Loop mode calls f once per stencil point on a fresh copy of x; vectorized mode
stacks all points on a trailing axis and calls f once.  Steps, points and
difference quotients are computed in csrc/fd.c; this module owns the calls of
f, the conversion of its outputs and the error messages.
"""

cimport numpy as cnp
from cpython.float cimport PyFloat_Check, PyFloat_AS_DOUBLE
from cpython.complex cimport PyComplex_Check, PyComplex_ImagAsDouble
from libc.stdint cimport int64_t
from libc.string cimport memcpy
from libc.math cimport fabs, floor, fmax

from ._csrc cimport *
from ._arrays cimport c_ready

import reprlib

import numpy as np

from . import _complex_guard

cnp.import_array()

# Releasing the GIL costs ~0.1 us; only worth it for loops this long.
cdef enum:
    NOGIL_MIN = 20000
    SMALL = 16   # sizes up to this use stack buffers
    TALL = 256   # m from which loop mode fills J column-major (see _alloc)
    VECTOR_DOUBLES = 1 << 22   # doubles per block of vectorized points (32 MB)

METHODS = {"forward": DFD_FORWARD, "backward": DFD_BACKWARD,
           "central": DFD_CENTRAL, "complex": DFD_COMPLEX}



def default_rstep(str method):
    """The relative step of method's default rule (csrc/fd.c holds the rule);
    negative for 'complex', whose 1e-20 is absolute."""
    return dfd_default_rstep(METHODS[method])


cdef cnp.ndarray c_array(a, dtype):
    """a converted to an array C may read (see c_ready); no copy if it is one."""
    # asarray, not ascontiguousarray, which would turn a 0-d array into shape (1,)
    cdef cnp.ndarray r = np.asarray(a, dtype=dtype, order="C")
    if not cnp.PyArray_ISALIGNED(r):
        r = r.copy()
    return r


cpdef cnp.ndarray as_point(x, str name="x"):
    """x as a C-contiguous, aligned, native-order float64 array (no copy when it
    already is one)."""
    cdef cnp.ndarray a
    if PyFloat_Check(x):
        a = cnp.PyArray_EMPTY(0, NULL, cnp.NPY_DOUBLE, 0)
        (<double*>cnp.PyArray_DATA(a))[0] = PyFloat_AS_DOUBLE(x)
        return a
    if cnp.PyArray_CheckExact(x):
        a = <cnp.ndarray>x
        if c_ready(a, cnp.NPY_DOUBLE):
            return a
    else:
        try:
            a = np.asarray(x)
        except Exception as e:
            raise TypeError(f"{name} must be a float or an array of real numbers; "
                            f"got {type(x).__name__}") from e
    if a.dtype.kind not in "fiub":
        raise TypeError(f"{name} must hold real numbers; got dtype {a.dtype}"
                        + (" (use method='complex' for complex steps of a real x)"
                           if a.dtype.kind == "c" else
                           f" (np.asarray({name}, dtype=float) converts an object "
                           "array that holds numbers)" if a.dtype.kind == "O" else ""))
    return c_array(a, np.float64)


cpdef Py_ssize_t first_nonfinite(a) except -2:
    """Flat index of the first non-finite entry of a float (or float64 array),
    or -1: the C loop, for checks on hot paths."""
    cdef cnp.ndarray arr
    cdef size_t n, i
    cdef double v
    if PyFloat_Check(a):
        v = PyFloat_AS_DOUBLE(a)
        return -1 if dfd_first_nonfinite(1, &v, 1) == 1 else 0
    arr = c_array(a, np.float64)
    n = cnp.PyArray_SIZE(arr)
    i = dfd_first_nonfinite(n, <double*>cnp.PyArray_DATA(arr), 1)
    return -1 if i == n else <Py_ssize_t>i


def index_str(Py_ssize_t flat, tuple shape):
    """A flat index as error messages write it: "[i, j]", or "" for a 0-d array."""
    if not shape:
        return ""
    return "[" + ", ".join(str(int(i)) for i in np.unravel_index(flat, shape)) + "]"


COMPLEX_OUTPUT = ("f returned complex values for a real x; dualfd differentiates "
                  "real-valued functions (return the real part, or split real and "
                  "imaginary parts into a real array)")


def describe(r):
    """What f returned, for error messages: its type and a short repr."""
    return f"{type(r).__name__} {reprlib.repr(r)}"


def output_array(r, str kinds="fiub", str what="f"):
    """f's return value r as an ndarray whose dtype kind is in kinds, or
    TypeError naming what f returned (a ragged list, None, strings, objects)."""
    try:
        a = np.asarray(r)
    except Exception as e:
        raise TypeError(f"{what} must return numbers (a float or an array of real "
                        f"numbers); it returned {describe(r)}, which NumPy cannot make "
                        "into an array (ragged nested lists?)") from e
    if a.dtype.kind not in kinds:
        if a.dtype.kind == "c":
            raise TypeError(COMPLEX_OUTPUT)
        raise TypeError(f"{what} must return numbers (a float or an array of real "
                        f"numbers); it returned {describe(r)}"
                        + (f" of dtype {a.dtype}" if isinstance(r, np.ndarray) else "")
                        + (" (return np.asarray(..., dtype=float) if it holds numbers)"
                           if a.dtype.kind == "O" and r is not None else ""))
    return a


cpdef check_finite_x(cnp.ndarray x, str name="x"):
    if not c_ready(x, cnp.NPY_DOUBLE):
        x = as_point(x, name)
    cdef size_t n = x.size
    cdef size_t i = dfd_first_nonfinite(n, <double*>cnp.PyArray_DATA(x), 1)
    if i < n:
        raise ValueError(f"{name} must be finite; {name}{index_str(i, (<object>x).shape)} = "
                         f"{float(x.reshape(-1)[i])!r} (pass check_finite=False to allow it)")


cdef class _Outputs:
    """Calls f and converts its return values to float64, checking shape and
    finiteness.  The first value fixes the output shape; later ones must match."""
    cdef object f, args, kwargs
    cdef public tuple fshape
    cdef public Py_ssize_t m
    cdef bint check_finite
    cdef tuple xshape
    cdef double *h           # steps and stencils, for naming points in errors;
    cdef unsigned char *st   # they point into buffers that outlive the call
    cdef cnp.ndarray dest    # the caller's J (Transform.into), or None
    cdef object pool         # a dualfd._workers.Workers, or None: f runs here
    cdef bint pointwise      # with a pool: f takes one point per call


    cdef object call(self, point):
        if not self.args and not self.kwargs:
            return self.f(point)
        return self.f(point, *self.args, **self.kwargs)

    cdef int set_shape(self, tuple shape) except -1:
        cdef Py_ssize_t m = 1
        if self.fshape is None:
            for s in shape:
                m *= s
            self.fshape = shape
            self.m = m
        elif shape != self.fshape:
            raise ValueError(f"f returned shape {shape} at one point and "
                             f"{self.fshape} at another; its output shape must not "
                             f"depend on x")
        return 0

    cdef bint same_shape(self, cnp.ndarray a):
        cdef int d, nd = cnp.PyArray_NDIM(a)
        cdef cnp.npy_intp *dims = cnp.PyArray_DIMS(a)
        if nd != len(self.fshape):
            return False
        for d in range(nd):
            if dims[d] != <cnp.npy_intp>self.fshape[d]:
                return False
        return True

    cdef tuple shape_of(self, r, bint want_complex):
        if PyFloat_Check(r) if not want_complex else PyComplex_Check(r):
            return ()
        return (<object>self.numeric(r, want_complex)).shape

    cdef cnp.ndarray numeric(self, r, bint want_complex):
        """r as an ndarray of real (or complex) numbers, or TypeError."""
        a = output_array(r, "fiubc")
        kind = a.dtype.kind
        if want_complex:
            if kind != "c":
                raise TypeError(
                    "method='complex' needs f to carry complex numbers through, but "
                    f"f returned {a.dtype} for a complex x: it drops the imaginary "
                    "part (abs, np.real, float(), np.asarray(..., float) do). Use "
                    "method='central' or method='dual' for this f")
        elif kind == "c":
            raise TypeError(COMPLEX_OUTPUT)
        return a

    cdef int store(self, r, double *dst, Py_ssize_t j, int p) except -1:
        """Store real output r, evaluated at point p of coordinate j (j < 0:
        at x), into dst (m doubles)."""
        cdef cnp.ndarray a
        if PyFloat_Check(r):
            self.set_shape(())
            dst[0] = PyFloat_AS_DOUBLE(r)
        elif (self.fshape is not None and cnp.PyArray_CheckExact(r)
              and c_ready(<cnp.ndarray>r, cnp.NPY_DOUBLE)
              and self.same_shape(<cnp.ndarray>r)):
            # the common case, without building shape tuples
            memcpy(dst, cnp.PyArray_DATA(<cnp.ndarray>r), self.m * sizeof(double))
        else:
            a = self.numeric(r, False)
            self.set_shape((<object>a).shape)
            if not c_ready(a, cnp.NPY_DOUBLE):
                a = c_array(a, np.float64)
            memcpy(dst, cnp.PyArray_DATA(a), self.m * sizeof(double))
        if self.check_finite:
            self.check(dst, 1, j, p)
        return 0

    cdef const double *direct(self, r, Py_ssize_t j, int p) except? NULL:
        """f's value r in place, when it is a float64 array C can read with the
        expected shape (checked for finiteness as store does), else NULL."""
        if not (self.fshape is not None and cnp.PyArray_CheckExact(r)
                and c_ready(<cnp.ndarray>r, cnp.NPY_DOUBLE)
                and self.same_shape(<cnp.ndarray>r)):
            return NULL
        cdef const double *a = <const double*>cnp.PyArray_DATA(<cnp.ndarray>r)
        if self.check_finite:
            self.check(a, 1, j, p)
        return a

    cdef int store_imag(self, r, double *dst, Py_ssize_t j) except -1:
        """Store the imaginary part of complex output r into dst."""
        cdef cnp.ndarray a
        cdef const double *src
        cdef Py_ssize_t i
        if PyComplex_Check(r):
            self.set_shape(())
            dst[0] = PyComplex_ImagAsDouble(r)
        elif (self.fshape is not None and cnp.PyArray_CheckExact(r)
              and c_ready(<cnp.ndarray>r, cnp.NPY_COMPLEX128)
              and self.same_shape(<cnp.ndarray>r)):
            src = <const double*>cnp.PyArray_DATA(<cnp.ndarray>r)
            for i in range(self.m):
                dst[i] = src[2 * i + 1]
        else:
            a = self.numeric(r, True)
            self.set_shape((<object>a).shape)
            a = c_array(a.imag, np.float64)
            memcpy(dst, cnp.PyArray_DATA(a), self.m * sizeof(double))
        if self.check_finite:
            self.check(dst, 1, j, 0)
        return 0

    cdef int check(self, const double *a, Py_ssize_t s, Py_ssize_t j, int p) except -1:
        cdef size_t i = dfd_first_nonfinite(self.m, a, s)
        if i < <size_t>self.m:
            raise ValueError(
                f"f returned a non-finite value ({a[i * s]!r}) at "
                f"f{index_str(i, self.fshape)} when evaluated at "
                f"{self.where(j, p)}; pass check_finite=False to allow it")
        return 0

    cdef str where(self, Py_ssize_t j, int p):
        return _where(j, p, self.xshape, self.st, self.h)


cdef str _where(Py_ssize_t j, int p, tuple xshape, const unsigned char *st, const double *h):
    """The stencil point, as "x + 2*h*e[1] (h = 6.06e-06)"; e[j] is the unit
    vector of coordinate j (plain "h" for a scalar x)."""
    if j < 0:
        return "x"
    cdef double o = dfd_stencil_offset[st[j]][p]
    e = f"*e{index_str(j, xshape)}" if xshape else ""
    if st[j] == DFD_ST_COMPLEX:
        return f"x + i*h{e} (h = {h[j]:.3g})"
    k = "" if abs(o) == 1 else f"{abs(o):g}*"
    return f"x {'+' if o > 0 else '-'} {k}h{e} (h = {h[j]:.3g})"


def step_error(int rc, Py_ssize_t bad, cnp.ndarray x, method, step, lb, ub):
    idx = index_str(bad, (<object>x).shape)
    xv = float(x.reshape(-1)[bad])
    lo, hi = -np.inf, np.inf
    if lb is not None:
        lo, hi = float(lb.reshape(-1)[bad]), float(ub.reshape(-1)[bad])
    if rc == DFD_ERR_OUTSIDE:
        return ValueError(f"x{idx} = {xv!r} lies outside bounds [{lo!r}, {hi!r}]")
    if rc == DFD_ERR_NO_ROOM:
        return ValueError(
            f"bounds [{lo!r}, {hi!r}] leave no room "
            f"for a {method} step around x{idx} = {xv!r}: no stencil fits; widen the "
            "bounds or pass a smaller step")
    if step is not None:
        return ValueError(f"step{idx} = {float(step.reshape(-1)[bad])!r} is not usable at "
                          f"x{idx} = {xv!r}: it must be finite, positive and large "
                          "enough to change x")
    return ValueError(f"no finite difference step changes x{idx} = {xv!r}")


cpdef tuple fd_jacobian(f, cnp.ndarray x, tuple args, dict kwargs, int method,
                        cnp.ndarray step, cnp.ndarray lb, cnp.ndarray ub,
                        bint vectorized, bint check_finite, bint want_value, str mname,
                        Py_ssize_t chunk=0, cnp.ndarray dest=None, pool=None):
    """Finite-difference Jacobian of f at x.

    x is C-contiguous float64; step, lb, ub are None or C-contiguous float64
    arrays of x's size.  chunk: points per call in vectorized mode (0: the
    default, `vector_points`).  dest: an array to write J into (Transform.into).
    pool: a dualfd._workers.Workers that evaluates f (None: here, serially); it
    gets the points in blocks as vectorized mode builds them.
    Returns (value, J, fshape): value is f(x) as f returned it (None unless
    want_value), J has shape fshape + x.shape.
    """
    x, step, lb, ub = _c_inputs(x, step, lb, ub, check_finite)
    cdef Py_ssize_t n = x.size
    # Steps and stencils: on the stack for small n, where three array
    # allocations would be a fifth of the cost of a gradient.
    cdef double hbuf[SMALL]
    cdef unsigned char stbuf[SMALL]
    cdef cnp.npy_intp nn = n
    cdef cnp.ndarray h = None, st = None
    cdef double *hp = hbuf
    cdef unsigned char *stp = stbuf
    if n > SMALL:
        h = cnp.PyArray_EMPTY(1, &nn, cnp.NPY_DOUBLE, 0)
        st = cnp.PyArray_EMPTY(1, &nn, cnp.NPY_UINT8, 0)
        hp = <double*>cnp.PyArray_DATA(h)
        stp = <unsigned char*>cnp.PyArray_DATA(st)
    _choose_steps(x, method, step, lb, ub, mname, hp, stp)
    cdef _Outputs out = _outputs(f, args, kwargs, check_finite, x, hp, stp)
    out.dest = dest
    cdef bint fvec = vectorized     # f's own convention, for the guard's calls
    if pool is not None:
        chunk = _pooled(out, pool, vectorized, n, chunk)
        vectorized = True
    if method == DFD_COMPLEX:
        # non-analytic f (abs, .real, ...) gives a wrong complex step silently
        if vectorized:
            res = _vectorized(out, x, hp, stp, method, want_value,
                              chunk or vector_points(n))
        else:
            res = _loop(out, x, hp, stp, method, want_value)
        if not _complex_guard.ENABLED:     # benchmarks/complex_guard.py's baseline
            return res
        seed = None if lb is not None else _guard_central(
            f, x, args, kwargs, res[1], res[2], fvec)
        if seed is not True:
            _complex_guard.check_jacobian(f, x, args, kwargs, res[1], res[2], lb, ub,
                                          fvec, seed)
        return res
    if vectorized:
        return _vectorized(out, x, hp, stp, method, want_value, chunk or vector_points(n))
    return _loop(out, x, hp, stp, method, want_value)


cpdef Py_ssize_t vector_points(Py_ssize_t n):
    """Default points per call of a vectorized f: x.shape + (k,) arrays of at most
    32 MB (k >= 1), so n = 10^4 central differences take 48 calls of 419 points
    instead of one 1.6 GB array."""
    return max(1, VECTOR_DOUBLES // max(n, 1))


cdef tuple _c_inputs(cnp.ndarray x, cnp.ndarray step, cnp.ndarray lb, cnp.ndarray ub,
                     bint check_finite):
    """x, step, lb, ub as arrays C reads x.size doubles from (nothing else may
    cross), x checked for finiteness if asked."""
    if not c_ready(x, cnp.NPY_DOUBLE):
        x = as_point(x)
    if check_finite:
        check_finite_x(x)
    return (x, _c_operand(step, x, "step"), _c_operand(lb, x, "lb"),
            _c_operand(ub, x, "ub"))


cdef int _choose_steps(cnp.ndarray x, int method, cnp.ndarray step, cnp.ndarray lb,
                       cnp.ndarray ub, str mname, double *hp,
                       unsigned char *stp) except -1:
    """Steps h and stencils st of every coordinate (csrc/fd.c), or the ValueError
    naming the coordinate that has none."""
    cdef size_t bad = 0
    cdef int rc = dfd_fd_steps(
        x.size, <const double*>cnp.PyArray_DATA(x), method,
        <double*>cnp.PyArray_DATA(step) if step is not None else NULL,
        <double*>cnp.PyArray_DATA(lb) if lb is not None else NULL,
        <double*>cnp.PyArray_DATA(ub) if ub is not None else NULL, hp, stp, &bad)
    if rc < 0:
        raise step_error(rc, bad, x, mname, step, lb, ub)
    return 0


cdef _Outputs _outputs(f, tuple args, dict kwargs, bint check_finite, cnp.ndarray x,
                       double *hp, unsigned char *stp):
    """The caller of f for one Jacobian at x (hp, stp name its points in errors)."""
    cdef _Outputs out = _Outputs.__new__(_Outputs)
    out.f, out.args, out.kwargs, out.check_finite = f, args, kwargs, check_finite
    out.xshape, out.h, out.st, out.fshape, out.m = (<object>x).shape, hp, stp, None, -1
    return out


cdef Py_ssize_t _pooled(_Outputs out, pool, bint vectorized, Py_ssize_t n,
                       Py_ssize_t chunk) except -1:
    """Hand f's evaluations to pool: the driver runs in vectorized mode, and the
    pool evaluates each block of points on its workers (one call per point unless
    f is vectorized).  Returns the block size."""
    out.pool = pool
    out.pointwise = not vectorized
    return pool.block_points(n, vectorized, chunk)


cdef bint _needs_f0(Py_ssize_t n, const unsigned char *stp, bint want_value):
    """Whether f(x) is evaluated: asked for, or used by a stencil."""
    cdef Py_ssize_t j
    if want_value:
        return True
    for j in range(n):
        if dfd_stencil_needs_f0[stp[j]]:
            return True
    return False


cdef cnp.ndarray _center(cnp.ndarray F, Py_ssize_t m, Py_ssize_t K, bint cplx):
    """f(x), column 0 of a first block of vectorized values (m, K), as a
    C-contiguous copy (real parts for the complex step)."""
    column = F.reshape(m, K)[:, 0]
    return np.ascontiguousarray(column.real if cplx else column)


# The guard's constants (dualfd._complex_guard), read once.
cdef double _GUARD_STEP = _complex_guard.RSTEP
cdef double _GUARD_RTOL = _complex_guard.RTOL
cdef double _GUARD_NOISE = 2 * _complex_guard.NOISE * _complex_guard.EPS


cdef object _guard_central(f, cnp.ndarray x, tuple args, dict kwargs, J, tuple fshape,
                           bint vectorized):
    """The common case of dualfd._complex_guard (see its docstring) in C: the central
    real difference of f along its direction w at its step, compared with J @ w; under
    a microsecond besides the two calls of f, against ~15 us in NumPy.  Returns True
    when they agree, else the two values as that module's cache, for its general
    path.  J is read in the order it has (loop mode fills tall ones column-major)."""
    cdef Py_ssize_t n = x.size, m = J.size // n if n else 0, i, j
    if n == 0 or m == 0:
        return True
    cdef const double *xd = <const double *>cnp.PyArray_DATA(x)
    cdef double t = _GUARD_STEP, p, mag, w, r, s, d, top = 0.0
    # the points have x's shape: f gets them as they are
    cdef cnp.ndarray xp = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(x), cnp.PyArray_DIMS(x),
                                            cnp.NPY_DOUBLE, 0)
    cdef cnp.ndarray xm = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(x), cnp.PyArray_DIMS(x),
                                            cnp.NPY_DOUBLE, 0)
    cdef double *pp = <double *>cnp.PyArray_DATA(xp)
    cdef double *pm = <double *>cnp.PyArray_DATA(xm)
    for j in range(n):
        # w_j as _complex_guard._direction(n) * max(1, |x_j|), bit for bit
        p = (j + 1) * 0.6180339887498949
        mag = 0.5 + (p - floor(p))
        p = (j + 1) * 0.41421356237309515
        w = (mag if p - floor(p) < 0.5 else -mag) * fmax(1.0, fabs(xd[j]))
        pp[j] = xd[j] + t * w
        pm[j] = xd[j] - t * w
    with np.errstate(all="ignore"):   # f's warnings at dualfd's probe points (~1 us)
        if vectorized:
            X = np.stack([xp, xm], axis=-1)
            F = _guard_values(f(X, *args, **kwargs), fshape + (2,), True).reshape(m, 2)
            fp, fm = np.ascontiguousarray(F[:, 0]), np.ascontiguousarray(F[:, 1])
        else:
            fp = _guard_values(f(xp, *args, **kwargs), fshape, False)
            fm = _guard_values(f(xm, *args, **kwargs), fshape, False)
    cdef const double *vp = <const double *>cnp.PyArray_DATA(fp)
    cdef const double *vm = <const double *>cnp.PyArray_DATA(fm)
    cdef cnp.ndarray Jm = np.asarray(J, dtype=np.float64).reshape(m, n)
    cdef bint by_rows = cnp.PyArray_IS_C_CONTIGUOUS(Jm)
    if not by_rows and not cnp.PyArray_IS_F_CONTIGUOUS(Jm):
        Jm = np.ascontiguousarray(Jm)
        by_rows = True
    cdef const double *Jd = <const double *>cnp.PyArray_DATA(Jm)
    cdef cnp.ndarray rs
    cdef double *rr
    cdef double *ss
    cdef bint ok = True
    for i in range(m):
        top = fmax(top, fmax(fabs(vp[i]), fabs(vm[i])))
    # the actual steps pp - pm, so rounding in x +- t w is no error; non-finite
    # values fail the comparison and go to the general path
    if by_rows:
        for i in range(m):
            r = vp[i] - vm[i]
            s = 0.0
            for j in range(n):
                r -= Jd[i * n + j] * (pp[j] - pm[j])
                s += fabs(Jd[i * n + j]) * fabs(pp[j] - pm[j])
            if not (fabs(r) <= _GUARD_RTOL * s + _GUARD_NOISE * top):
                ok = False
                break
    else:
        rs = np.zeros(2 * m)
        rr = <double *>cnp.PyArray_DATA(rs)
        ss = rr + m
        for i in range(m):
            rr[i] = vp[i] - vm[i]
        for j in range(n):
            d = pp[j] - pm[j]
            for i in range(m):
                rr[i] -= Jd[j * m + i] * d
                ss[i] += fabs(Jd[j * m + i]) * fabs(d)
        for i in range(m):
            if not (fabs(rr[i]) <= _GUARD_RTOL * ss[i] + _GUARD_NOISE * top):
                ok = False
                break
    if ok:
        return True
    return {t: (fp if np.isfinite(fp).all() else None, xp.reshape(-1)),
            -t: (fm if np.isfinite(fm).all() else None, xm.reshape(-1))}


cdef cnp.ndarray _guard_values(r, tuple shape, bint vectorized):
    """f's value at a real point as a C-contiguous float64 array of m entries: a copy,
    since f may return the same buffer at its next call."""
    if PyFloat_Check(r) and not shape:
        return np.array([PyFloat_AS_DOUBLE(r)])
    if (cnp.PyArray_Check(r) and c_ready(r, cnp.NPY_DOUBLE)
            and (<object>r).shape == shape):
        return cnp.PyArray_NewCopy(<cnp.ndarray>r, cnp.NPY_CORDER).reshape(-1)
    return np.ascontiguousarray(_complex_guard._as_real(r, shape, vectorized),
                                dtype=np.float64).reshape(-1)


cdef cnp.ndarray _c_operand(cnp.ndarray a, cnp.ndarray x, str name):
    """None, or a (per-coordinate step or bound) as an array C reads x.size
    doubles from."""
    if a is None:
        return None
    if not c_ready(a, cnp.NPY_DOUBLE):
        a = c_array(a, np.float64)
    if cnp.PyArray_SIZE(a) != cnp.PyArray_SIZE(x):
        raise ValueError(f"{name} has {a.size} entries; x has {x.size}")
    return a


cdef tuple _loop(_Outputs out, cnp.ndarray x, double *hp, unsigned char *stp,
                 int method, bint want_value):
    cdef Py_ssize_t n = x.size, j, m = 0
    cdef int p, s
    cdef const double *xp = <double*>cnp.PyArray_DATA(x)
    cdef bint cplx = method == DFD_COMPLEX
    cdef bint need_f0 = _needs_f0(n, stp, want_value)
    # w holds the rows f0, f1, f2 of the current column (on the stack for a
    # small f); it and J are allocated once the first output tells m.
    cdef double wbuf[3 * SMALL]
    cdef double *w = NULL
    cdef double *Jp = NULL
    cdef cnp.ndarray point, xc = None, W = None, J = None
    cdef Py_ssize_t js = n, cs = 1   # strides of J between rows and columns
    value = None
    if need_f0 or n == 0:
        value = out.call(fresh_copy(x))
        J = _alloc(out, out.shape_of(value, False))
        if _by_columns(out, J):
            js, cs = 1, out.m
        W = _work(out.m)
        w = &wbuf[0] if W is None else <double*>cnp.PyArray_DATA(W)
        Jp = <double*>cnp.PyArray_DATA(J)
        out.store(value, w, -1, 0)
        if want_value and cnp.PyArray_Check(value):
            # f may return the same buffer at every call: keep a copy
            value = (<cnp.ndarray>value).copy()
    if cplx:
        xc = complex_copy(x)
    cdef const double *fp[3]      # f0, f1, f2 of the current column
    cdef const double *direct
    for j in range(n):
        s = stp[j]
        fp[2] = NULL             # one-point stencils have no second value
        for p in range(dfd_stencil_npoints[s]):
            if cplx:
                point = fresh_copy(xc)
                (<double*>cnp.PyArray_DATA(point))[2 * j + 1] = hp[j]
            else:
                point = fresh_copy(x)
                (<double*>cnp.PyArray_DATA(point))[j] = \
                    xp[j] + dfd_stencil_offset[s][p] * hp[j]
            r = out.call(point)
            if J is None:
                J = _alloc(out, out.shape_of(r, cplx))
                if _by_columns(out, J):
                    js, cs = 1, out.m
                W = _work(out.m)
                w = &wbuf[0] if W is None else <double*>cnp.PyArray_DATA(W)
                Jp = <double*>cnp.PyArray_DATA(J)
            m = out.m
            fp[1 + p] = w + (1 + p) * m
            if cplx:
                out.store_imag(r, w + m, j)
            elif p + 1 == dfd_stencil_npoints[s] and (direct := out.direct(r, j, p)) != NULL:
                # the column's last value is read where f left it: no copy, since
                # no call of f comes between (f may reuse its output buffer)
                fp[1 + p] = direct
            else:
                out.store(r, w + (1 + p) * m, j, p)
        if m >= NOGIL_MIN:
            with nogil:
                dfd_fd_column(m, s, hp[j], w, fp[1], fp[2], 1, Jp + j * cs, js)
        else:
            dfd_fd_column(m, s, hp[j], w, fp[1], fp[2], 1, Jp + j * cs, js)
    if out.dest is not None:
        J = out.dest
    elif out.m >= TALL:
        J = J.T.reshape(out.fshape + (<object>x).shape)
    return (value, J, out.fshape)


cdef bint _by_columns(_Outputs out, cnp.ndarray J):
    """Whether loop mode fills J column by column (memory of J^T, see _alloc): a
    tall J of ours, or the caller's J when it is Fortran-ordered."""
    if out.dest is None:
        return out.m >= TALL
    return not cnp.PyArray_IS_C_CONTIGUOUS(J)


cdef cnp.ndarray _work(Py_ssize_t m):
    """Three rows of m doubles, or None when the stack buffer is big enough."""
    if m <= SMALL:
        return None
    cdef cnp.npy_intp size = 3 * m
    return cnp.PyArray_EMPTY(1, &size, cnp.NPY_DOUBLE, 0)


cdef cnp.ndarray _alloc(_Outputs out, tuple fshape):
    """The Jacobian's memory: the m x n row-major matrix the C kernels write
    (shaped fshape + x.shape), or for a tall f its n x m transpose.  Writing a
    column of a row-major J touches m cache lines and, for long rows, m pages;
    filling J^T row by row and returning its transpose (as SciPy's
    approx_derivative does) keeps every write contiguous."""
    out.set_shape(fshape)
    if out.dest is not None:
        return _check_dest(out.dest, fshape + out.xshape)
    if out.m >= TALL:
        n = 1
        for d in out.xshape:
            n *= d
        return empty((n, out.m))
    return empty(fshape + out.xshape)


cdef cnp.ndarray _check_dest(cnp.ndarray J, tuple shape):
    """The caller's out= array, if the kernels can write J (shape) into it: float64,
    aligned, native, writeable, C-contiguous (or Fortran-contiguous when f and x
    are at most 1-d, so that its memory is J^T's)."""
    if (<object>J).shape != shape:
        raise ValueError(f"out has shape {(<object>J).shape}; the Jacobian has shape "
                         f"{shape}")
    if not c_ready(J, cnp.NPY_DOUBLE) and not (
            len(shape) <= 2 and cnp.PyArray_IS_F_CONTIGUOUS(J)
            and J.dtype == np.float64 and J.dtype.isnative and cnp.PyArray_ISALIGNED(J)):
        raise ValueError("out must be a C-contiguous (or, for 1-d f and x, "
                         "Fortran-contiguous) aligned float64 array; got "
                         f"dtype {J.dtype}, flags C={J.flags.c_contiguous} "
                         f"F={J.flags.f_contiguous}")
    if not J.flags.writeable:
        raise ValueError("out is read-only")
    return J


cdef inline cnp.ndarray fresh_copy(cnp.ndarray a):
    """A new C-contiguous copy of a contiguous array: f gets one per point, so
    nothing it keeps is changed later.  Cheaper than PyArray_NewCopy, which
    goes through the general assignment machinery."""
    cdef cnp.ndarray c = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(a), cnp.PyArray_DIMS(a),
                                           cnp.PyArray_TYPE(a), 0)
    memcpy(cnp.PyArray_DATA(c), cnp.PyArray_DATA(a), cnp.PyArray_NBYTES(a))
    return c


cdef cnp.ndarray complex_copy(cnp.ndarray x):
    """x as complex128 with zero imaginary parts (x.astype costs ~0.3 us more)."""
    cdef cnp.ndarray c = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(x), cnp.PyArray_DIMS(x),
                                           cnp.NPY_COMPLEX128, 0)
    cdef double *cp = <double*>cnp.PyArray_DATA(c)
    cdef const double *xp = <const double*>cnp.PyArray_DATA(x)
    cdef Py_ssize_t i
    for i in range(cnp.PyArray_SIZE(x)):
        cp[2 * i] = xp[i]
        cp[2 * i + 1] = 0.0
    return c


cdef cnp.ndarray empty(tuple shape):
    """np.empty(shape) through the C API (a Python-level call costs ~0.3 us)."""
    cdef cnp.npy_intp dims[64]
    cdef int nd = len(shape), i
    if nd > 64:
        return np.empty(shape)
    for i in range(nd):
        dims[i] = shape[i]
    return cnp.PyArray_EMPTY(nd, dims, cnp.NPY_DOUBLE, 0)


cdef tuple _vectorized(_Outputs out, cnp.ndarray x, double *hp, unsigned char *stp,
                       int method, bint want_value, Py_ssize_t chunk):
    """Vectorized mode: the stencil points as the columns of x.shape + (K,) arrays,
    in blocks of whole coordinates with at most `chunk` points per call of f (at
    least one coordinate; chunk <= 0: one call), so memory stays ~ chunk x size(x)."""
    cdef Py_ssize_t n = x.size, K, m, j0 = 0, j1, total
    cdef size_t wrote
    cdef const double *xp = <double*>cnp.PyArray_DATA(x)
    cdef bint cplx = method == DFD_COMPLEX
    cdef int center = _needs_f0(n, stp, want_value), c
    total = dfd_fd_count_points(n, stp) + center
    if chunk <= 0 or chunk > total:
        chunk = total
    cdef tuple xshape = (<object>x).shape
    cdef cnp.ndarray col = np.empty(n, dtype=np.uintp)
    cdef size_t *colp = <size_t*>cnp.PyArray_DATA(col)
    cdef size_t es = 2 if cplx else 1
    cdef size_t off = 1 if cplx else 0
    cdef cnp.ndarray X, F, J = None, F0 = None
    cdef double *Fp
    cdef const double *f0p = NULL
    cdef ptrdiff_t f0s = 0
    value = None
    while True:
        # the block: coordinates j0 <= j < j1, whose points fit in one call
        c = center if j0 == 0 else 0
        K = c
        j1 = j0
        while j1 < n and (j1 == j0 or K + dfd_stencil_npoints[stp[j1]] <= chunk):
            K += 1 if cplx else dfd_stencil_npoints[stp[j1]]
            j1 += 1
        X = np.empty(xshape + (K,), dtype=np.complex128 if cplx else np.float64)
        with nogil:
            # O(n K) work: always worth releasing the GIL for
            if cplx:
                wrote = dfd_fd_points_complex(n, xp, hp, j0, j1, c,
                                              <double*>cnp.PyArray_DATA(X), K, colp)
            else:
                wrote = dfd_fd_points(n, xp, hp, stp, j0, j1, c,
                                      <double*>cnp.PyArray_DATA(X), K, colp)
        assert wrote == <size_t>K
        F = _vectorized_values(out, X, K, cplx,
                               _namer(hp, stp, xshape, col[:j1 - j0], c, j0, None))
        m = out.m
        Fp = <double*>cnp.PyArray_DATA(F)
        if J is None:
            J = empty(out.fshape + xshape) if out.dest is None or not \
                cnp.PyArray_IS_C_CONTIGUOUS(out.dest) else \
                _check_dest(out.dest, out.fshape + xshape)
        if c:
            # f(x) is column 0 of the first block: later blocks difference against it
            F0 = _center(F, m, K, cplx)
            f0p = <const double*>cnp.PyArray_DATA(F0)
            f0s = 1
            if want_value:
                value = float(F0[0]) if out.fshape == () else F0.reshape(out.fshape)
        with nogil:
            dfd_fd_quotients(m, j1 - j0, K, Fp, es, off, hp + j0, stp + j0, colp, f0p,
                             f0s, <double*>cnp.PyArray_DATA(J) + j0, n)
        j0 = j1
        if j0 >= n:
            break
    if out.dest is not None and J is not out.dest:
        _check_dest(out.dest, out.fshape + xshape)[...] = J
        J = out.dest
    return (value, J, out.fshape)


cdef class _Namer:
    """Names column k of a block of vectorized points for error messages: a
    coordinate's stencil point (cz None) or a color's point.  Holds the caller's h
    and st pointers: used only while that caller runs."""
    cdef double *h
    cdef unsigned char *st
    cdef tuple xshape
    cdef object col           # first column of each coordinate (or color) in the block
    cdef int center
    cdef Py_ssize_t first     # the block's first coordinate (or color)
    cdef object cz

    def __call__(self, Py_ssize_t k):
        return self.name(k)

    cdef str name(self, Py_ssize_t k):
        if self.center and k == 0:
            return "x"
        cols = np.asarray(self.col).astype(np.intp)
        g = int(np.searchsorted(cols, k, side="right")) - 1
        if self.cz is None:
            return _where(self.first + g, k - cols[g], self.xshape, self.st, self.h)
        return _color_where(self.cz, self.first + g, k - cols[g], self.xshape, self.st,
                            self.h)


cdef _Namer _namer(double *h, unsigned char *st, tuple xshape, col, int center,
                   Py_ssize_t first, cz):
    cdef _Namer nm = _Namer.__new__(_Namer)
    nm.h, nm.st, nm.xshape, nm.col, nm.center, nm.first, nm.cz = (
        h, st, xshape, col, center, first, cz)
    return nm


cdef cnp.ndarray _vectorized_values(_Outputs out, cnp.ndarray X, Py_ssize_t K,
                                    bint cplx, _Namer namer):
    """f at the K points of X, as a C-ready (m, K) array; checks its shape against
    the first block's and, with check_finite, its values (naming the point)."""
    r = out.call(X) if out.pool is None else out.pool.run(
        out.f, out.args, out.kwargs, X, out.pointwise, namer)
    cdef cnp.ndarray F = out.numeric(r, cplx)
    cdef tuple rshape = (<object>F).shape
    cdef tuple xshape = out.xshape
    if F.ndim < 1 or rshape[F.ndim - 1] != K:
        raise ValueError(
            f"vectorized=True: f must accept x with a trailing axis of k points, "
            f"shape {xshape + (K,)}, and return its values with the same trailing "
            f"axis, shape f_shape + ({K},); it returned shape {rshape}")
    out.set_shape(rshape[:F.ndim - 1])
    F = c_array(F, np.complex128 if cplx else np.float64)
    cdef double *Fp = <double*>cnp.PyArray_DATA(F)
    cdef size_t es = 2 if cplx else 1, bad, total = out.m * K * es
    if out.check_finite:
        bad = dfd_first_nonfinite(total, Fp, 1)
        if bad < total:
            raise ValueError(
                f"f returned a non-finite value ({Fp[bad]!r}) at "
                f"f{index_str((bad // es) // K, out.fshape)} when evaluated at "
                f"{namer.name((bad // es) % K)}; pass check_finite=False to allow it")
    return F


include "_fd_sparse.pxi"


cdef enum:
    KIND_JACOBIAN = 0
    KIND_GRAD = 1
    KIND_VALUE_AND_GRAD = 2

_KIND_NAMES = ("jacobian", "grad", "value_and_grad")


cdef class Transform:
    """The callable that grad, jacobian and value_and_grad return.

    Holds options validated once by dualfd._api, so that a call only converts
    x and runs the engine: this keeps the fixed cost of a gradient of a tiny
    function near a microsecond."""
    cdef readonly object f
    cdef readonly str method
    cdef int code, kind
    cdef object opts, prepare, dual
    cdef bint vectorized, check_finite, needs_prepare
    cdef Py_ssize_t chunk      # vectorized: points per call (0: the default)
    cdef object pool           # workers=: a dualfd._workers.Workers, or None
    cdef dict __dict__

    def __init__(self, f, int kind, opts, prepare, dual):
        self.f = f
        self.kind = kind
        self.opts = opts
        self.method = opts.method
        self.code = opts.code
        self.vectorized = opts.vectorized
        self.chunk = (opts.chunk or 0) if opts.vectorized else 0
        self.check_finite = opts.check_finite
        self.needs_prepare = opts.needs_prepare
        self.pool = opts.workers
        self.prepare = prepare   # x0 -> (step, lb, ub) broadcast to x0's shape
        self.dual = dual         # (f, x0, lb, ub, args, kwargs, want_value) -> (value, J, fshape)
        name = getattr(f, "__name__", type(f).__name__)
        self.__name__ = self.__qualname__ = f"{_KIND_NAMES[kind]}({name})"
        self.__wrapped__ = f

    def __repr__(self):
        return f"<dualfd.{_KIND_NAMES[self.kind]} of {self.f!r}, method={self.method!r}>"

    def __reduce__(self):
        # picklable whenever f is: process pools (multiprocessing, SciPy workers=) need it
        return (Transform, (self.f, self.kind, self.opts, self.prepare, self.dual))

    def __call__(self, x, *args, **kwargs):
        return self._run(None, x, args, kwargs)

    def close(self):
        """Shut down the worker processes this transform started (workers=int);
        a later call starts new ones.  Executors and clients passed as workers
        stay open: they are the caller's."""
        if self.pool is not None:
            self.pool.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def into(self, out, x, *args, **kwargs):
        """Write the derivative at x into the array `out` and return it (with
        value_and_grad: ``(value, out)``), as ``self(x, *args, **kwargs)`` computes it.

        Reusing one array across calls saves allocating a fresh J each time: for
        a large J its first-touch page faults (~1 us per 4 KB page; 2 us per call
        of f at n = m = 1000).  out: float64 of the derivative's shape,
        C-contiguous, or Fortran-contiguous when f and x are at most 1-d (which
        suits a tall J in loop mode: its columns are then contiguous).  If f
        raises, out's contents are unspecified."""
        if not cnp.PyArray_Check(out):
            raise TypeError(f"out must be a numpy array; got {type(out).__name__}")
        return self._run(<cnp.ndarray>out, x, args, kwargs)

    cdef object _run(self, cnp.ndarray dest, x, tuple args, dict kwargs):
        cdef cnp.ndarray x0 = as_point(x), step = None, lb = None, ub = None
        cdef bint want_value = self.kind == KIND_VALUE_AND_GRAD
        if self.needs_prepare:
            step, lb, ub = self.prepare(x0)
        if self.code < 0:
            value, J, fshape = self.dual(self.f, x0, lb, ub, args, kwargs, want_value)
            if dest is not None:
                _check_dest(dest, (<object>J).shape)[...] = J
                J = dest
        else:
            value, J, fshape = fd_jacobian(self.f, x0, args, kwargs, self.code, step,
                                           lb, ub, self.vectorized, self.check_finite,
                                           want_value, self.method, self.chunk, dest,
                                           self.pool)
        if self.kind != KIND_JACOBIAN and fshape != ():
            raise ValueError(f"{_KIND_NAMES[self.kind]} needs f to return a scalar; it "
                             f"returned shape {fshape}. Use dfd.jacobian for array outputs")
        if (dest is None and cnp.PyArray_NDIM(<cnp.ndarray>J) == 0
                and not cnp.PyArray_Check(x)):
            J = PyFloat_AS_DOUBLE(J) if PyFloat_Check(J) else float(J)
        if want_value:
            return value, J
        return J
