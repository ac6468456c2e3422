# cython: language_level=3, cdivision=True
"""Reverse mode: f runs once on Tracer arrays that record each operation on a tape of C
records (csrc/tape.h); one backward sweep accumulates the adjoints.

One dispatch table, two modes.  The functions a Tracer supports are the Dual's
(``dualfd._dual``): its ufunc table gives the elementwise rules, whose reverse kernels
(``dfd_rv_*``) are generated from the same csrc/rules.def lines as the forward ones.
Each operation gets one of four kinds of adjoint:

- C records (the sweep runs them without the GIL): elementwise rules with any
  broadcasting (UNARY, BINARY); sums, means and broadcasts (ACC: strided accumulation);
  indexing and the functions that only move elements (reshape, transpose,
  concatenate, where, ...: ACC over the view's strides where NumPy returns a view,
  else GATHER, a scatter-add of the source indices found by running the function on
  an index array);
- NumPy adjoints (PY records): matmul/dot (gA = gC B^T, gB = A^T gC) and solve, inv,
  det, slogdet, with the formulas of Giles (2008), "An extended collection of matrix
  derivative results for forward and reverse mode AD";
- every other function the Dual supports: its local Jacobian-transpose product from
  the Dual itself (the function re-run on Duals seeded with the identity over its
  traced inputs, in chunks).  Exact, and the same errors as the Dual (ties, refused
  arguments), at a cost that grows with the size of those inputs.

Values and adjoints of a node are C-contiguous float64 blocks of its shape.  The tape
belongs to one call (no global state), so concurrent gradients in threads are
independent.  In-place writes follow NumPy's semantics where they can be recorded
(``y[i] = v``, ``y += v`` rebind y to a new node) and raise where they cannot (a write
through a view would have to reach the viewed array).
"""

cimport cython
cimport numpy as cnp
from cpython.float cimport PyFloat_Check
from cpython.long cimport PyLong_Check
from cpython.pycapsule cimport PyCapsule_GetPointer, PyCapsule_New
from cpython.ref cimport Py_INCREF, Py_REFCNT
from libc.stdlib cimport free
from libc.stdint cimport int64_t
from libc.string cimport memcpy

from ._arrays cimport not_a_sequence

import numpy as np

from ._dual import _core as _dual_core

cnp.import_array()

cdef extern from "tape.h" nogil:
    enum:
        DFD_TAPE_MAXDIM
        DFD_R_UNARY
        DFD_R_BINARY
        DFD_R_ACC
        DFD_R_GATHER
        DFD_R_PY
    ctypedef struct dfd_rec:
        int op, rule, nd
        size_t n, pool
        const double *a
        const double *b
        const double *y
        Py_ssize_t na, nb, ny
        const int64_t *src
        double scale
        Py_ssize_t aux
        Py_ssize_t off
    ctypedef struct dfd_tape:
        dfd_rec *rec
        size_t nrec, nnode
        double **adj
        size_t *size
    void dfd_tape_init(dfd_tape *t)
    void dfd_tape_free(dfd_tape *t)
    Py_ssize_t dfd_tape_node(dfd_tape *t, size_t size)
    dfd_rec *dfd_tape_push(dfd_tape *t)
    Py_ssize_t *dfd_tape_pool(dfd_tape *t, size_t m)
    int dfd_tape_coalesce(int nd, Py_ssize_t *shape, int nops, Py_ssize_t *strides)
    double *dfd_tape_adj(dfd_tape *t, Py_ssize_t node)
    void dfd_tape_clear(dfd_tape *t)
    void dfd_tape_move_spares(dfd_tape *dst, dfd_tape *src)
    int dfd_tape_sweep(dfd_tape *t, size_t *pos, Py_ssize_t keep)

Dual = _dual_core.Dual
_FUNCTIONS, _UFUNCS, _UFUNC_METHODS, _METHODS = _dual_core._registry()

cdef object _float64 = np.dtype(np.float64)

# Buffers kept between calls.  Every value of a traced call stays alive until its
# sweep, so a large one is fresh memory each call, and first writes to fresh pages
# cost a page fault per 4 KB: 250 us instead of 18 us for np.square of 10^5 doubles
# here.  Values of at least _POOL_MIN elements come from and go back to _VPOOL (by
# shape); adjoint blocks from and to _reservoir's spares (csrc/tape.c).  Both are
# used under the GIL only.
cdef dfd_tape _reservoir
dfd_tape_init(&_reservoir)
cdef dict _VPOOL = {}
cdef Py_ssize_t _vpool_bytes = 0
cdef enum:
    _POOL_MIN = 16384
    _VPOOL_MAX = 256 << 20


cdef object _vtake(tuple shape):
    global _vpool_bytes
    lst = _VPOOL.get(shape)
    if lst:
        a = lst.pop()
        _vpool_bytes -= a.nbytes
        return a
    return np.empty(shape)


cdef void _vgive(a):
    global _vpool_bytes
    if _vpool_bytes + a.nbytes > _VPOOL_MAX:
        return
    a.flags.writeable = True
    _VPOOL.setdefault(a.shape, []).append(a)
    _vpool_bytes += a.nbytes
_FD_HINT = ("or use method='dual' (forward mode) or a finite-difference method "
            "(method='central')")


# --- the tape -------------------------------------------------------------------------

cdef void _free_block(object cap) noexcept:
    free(PyCapsule_GetPointer(cap, NULL))


@cython.final
cdef class Tape:
    """The records of one traced call of f, and what they point to."""
    cdef dfd_tape t
    cdef list keep       # arrays the records point to
    cdef list py         # PY records: (adjoint, input nodes, output nodes)
    cdef list shapes     # per node: its shape
    cdef list pooled     # values taken from _VPOOL

    def __cinit__(self):
        dfd_tape_init(&self.t)
        dfd_tape_move_spares(&self.t, &_reservoir)
        self.keep = []
        self.py = []
        self.shapes = []
        self.pooled = []

    def __dealloc__(self):
        dfd_tape_clear(&self.t)
        dfd_tape_move_spares(&_reservoir, &self.t)
        dfd_tape_free(&self.t)
        self.keep = None
        self.py = None
        if self.pooled:
            for a in self.pooled:
                # no reference left but this list's and the loop's: nobody sees it
                if Py_REFCNT(a) == 2:
                    _vgive(a)
            self.pooled = None

    cdef Py_ssize_t node(self, value) except -1:
        cdef Py_ssize_t i = dfd_tape_node(&self.t, <size_t>cnp.PyArray_SIZE(value))
        if i < 0:
            raise MemoryError()
        self.keep.append(value)
        self.shapes.append(value.shape)
        return i

    cdef dfd_rec *push(self, int op, Py_ssize_t ny) except NULL:
        cdef dfd_rec *r = dfd_tape_push(&self.t)
        if r == NULL:
            raise MemoryError()
        r.op = op
        r.ny = ny
        return r

    cdef object adjoint(self, Py_ssize_t node, bint create):
        """The node's adjoint as an ndarray view of the C block (None if unused)."""
        cdef double *p = self.t.adj[node]
        if p == NULL:
            if not create:
                return None
            p = dfd_tape_adj(&self.t, node)
            if p == NULL:
                raise MemoryError()
        shape = self.shapes[node]
        cdef size_t n = self.t.size[node]
        if n == 0:
            return np.zeros(shape)
        return np.asarray(<double[:n]>p).reshape(shape)

    cdef run_py(self, Py_ssize_t j):
        adjoint, ins, outs = self.py[j]
        gs = [self.adjoint(o, False) for o in outs]
        if all(g is None for g in gs):
            return
        gs = [np.zeros(self.shapes[o]) if g is None else g.copy()
              for g, o in zip(gs, outs)]
        contribs = adjoint(gs)
        for node, c in zip(ins, contribs):
            if node < 0 or c is None:
                continue
            g = self.adjoint(node, True)
            np.add(g, np.reshape(c, g.shape), out=g)


    cpdef sweep(self, Py_ssize_t out, seed):
        """Adjoints of every node for the seed (f's adjoint) on node `out`; read them
        with `gradient`."""
        dfd_tape_clear(&self.t)
        cdef double *g = dfd_tape_adj(&self.t, out)
        if g == NULL:
            raise MemoryError()
        seed = _contiguous(seed)
        if cnp.PyArray_SIZE(seed) != <Py_ssize_t>self.t.size[out]:
            raise ValueError("the seed must have the result's size")
        memcpy(g, cnp.PyArray_DATA(seed), self.t.size[out] * sizeof(double))
        cdef size_t pos = self.t.nrec
        cdef int rc
        while True:
            with nogil:
                rc = dfd_tape_sweep(&self.t, &pos, out)
            if rc < 0:
                raise MemoryError()
            if rc == 0:
                return
            self.run_py(self.t.rec[pos].aux)

    cpdef gradient(self, Py_ssize_t node):
        """The node's adjoint as an array that takes over the C block (no copy)."""
        cdef double *g = self.t.adj[node]
        cdef cnp.npy_intp n = <cnp.npy_intp>self.t.size[node]
        if g == NULL or n == 0:
            return np.zeros(self.shapes[node])
        cap = PyCapsule_New(g, NULL, _free_block)
        self.t.adj[node] = NULL
        r = cnp.PyArray_SimpleNewFromData(1, &n, cnp.NPY_DOUBLE, g)
        Py_INCREF(cap)                   # PyArray_SetBaseObject steals a reference
        cnp.PyArray_SetBaseObject(<cnp.ndarray>r, cap)
        return r.reshape(self.shapes[node])

    @property
    def records(self):
        return self.t.nrec


# --- the tracing array ------------------------------------------------------------------

cdef inline double *_ptr(arr):
    return <double *>cnp.PyArray_DATA(arr)


cdef object _contiguous(value):
    if type(value) is np.ndarray and (<cnp.ndarray>value).descr.type_num == cnp.NPY_DOUBLE \
            and cnp.PyArray_IS_C_CONTIGUOUS(value):
        return value
    return np.asarray(value, dtype=np.float64, order="C")


cdef Tracer _new(Tape tape, value):
    cdef Tracer r = Tracer.__new__(Tracer)
    r.tape = tape
    r.value = _contiguous(value)
    cnp.PyArray_CLEARFLAGS(<cnp.ndarray>r.value, cnp.NPY_ARRAY_WRITEABLE)
    r.node = tape.node(r.value)
    r.readonly = False
    return r


cdef object _const(x):
    """A constant operand as a contiguous float64 array."""
    cdef cnp.ndarray c
    if type(x) is Tracer:
        return (<Tracer>x).value
    if PyFloat_Check(x) or (PyLong_Check(x) and -2**53 <= x <= 2**53):
        c = cnp.PyArray_EMPTY(0, NULL, cnp.NPY_DOUBLE, 0)
        (<double *>cnp.PyArray_DATA(c))[0] = x
        return c
    if isinstance(x, Dual):
        raise TypeError("a Dual met a traced array: forward (method='dual') and reverse "
                        "(method='reverse') mode cannot be mixed in one evaluation of f")
    a = np.asarray(x)
    if a.dtype.kind == "c":
        raise TypeError("traced arrays are real: a complex operand would drop the "
                        "imaginary part's derivative; " + _FD_HINT)
    if a.dtype.kind == "O":
        raise TypeError("an object array met a traced array: build arrays of traced "
                        "values with np.stack or np.array of traced arrays is not "
                        "supported in reverse mode; use np.stack([...]) or "
                        "np.concatenate, " + _FD_HINT)
    return _contiguous(a)


cdef Tape _tape_of(a, b):
    cdef Tape t = None
    if type(a) is Tracer:
        t = (<Tracer>a).tape
    if type(b) is Tracer:
        if t is not None and (<Tracer>b).tape is not t:
            raise ValueError("traced arrays of two different evaluations met (a traced "
                             "array kept from another call of f?): reverse mode traces "
                             "one call at a time")
        t = (<Tracer>b).tape
    return t


cdef Tape _common_tape(list tracers):
    """The tape of a non-empty list of Tracers, which must all share it."""
    cdef Tracer first = <Tracer>tracers[0]
    for t in tracers:
        _tape_of(first, t)
    return first.tape


cdef void _natural(tuple shape, Py_ssize_t *s):
    cdef Py_ssize_t d, acc = 1
    for d in range(len(shape) - 1, -1, -1):
        s[d] = acc
        acc *= shape[d]


cdef object _unary(ufunc, int rule, Tracer x):
    if x.value.size >= _POOL_MIN:
        y = ufunc(x.value, out=_vtake(x.value.shape))
        x.tape.pooled.append(y)
    else:
        y = ufunc(x.value)
    cdef Tracer r = _new(x.tape, y)
    cdef dfd_rec *rec
    if r.value.size:
        rec = x.tape.push(DFD_R_UNARY, r.node)
        rec.rule = rule
        rec.n = r.value.size
        rec.a = _ptr(x.value)
        rec.y = _ptr(r.value)
        rec.na = x.node
    return r


cdef object _binary(ufunc, int rule, a, b):
    a = _unobject(a)
    b = _unobject(b)
    cdef Tape tape = _tape_of(a, b)
    av = _const(a)
    bv = _const(b)
    if av.size >= _POOL_MIN or bv.size >= _POOL_MIN:
        y = ufunc(av, bv, out=_vtake(av.shape if av.shape == bv.shape or bv.size == 1
                                     and av.ndim >= bv.ndim else
                                     np.broadcast_shapes(av.shape, bv.shape)))
        tape.pooled.append(y)
    else:
        y = ufunc(av, bv)
    cdef Tracer r = _new(tape, y)
    cdef tuple ys = r.value.shape
    cdef int nd = len(ys), d, od, m
    cdef Py_ssize_t n = r.value.size
    cdef Py_ssize_t *p
    cdef Py_ssize_t sx[64]
    if n == 0:
        return r
    if nd > DFD_TAPE_MAXDIM:      # before the record: a half-made one would be swept
        raise ValueError(f"reverse mode handles arrays of up to {DFD_TAPE_MAXDIM} "
                         f"dimensions; got {nd}")
    if type(a) is not Tracer:
        tape.keep.append(av)
    if type(b) is not Tracer:
        tape.keep.append(bv)
    cdef dfd_rec *rec = tape.push(DFD_R_BINARY, r.node)
    rec.rule = rule
    rec.a = _ptr(av)
    rec.b = _ptr(bv)
    rec.y = _ptr(r.value)
    rec.na = (<Tracer>a).node if type(a) is Tracer else -1
    rec.nb = (<Tracer>b).node if type(b) is Tracer else -1
    if nd == 0 or (av.shape == ys and bv.shape == ys) or (av.size == 1 and bv.shape == ys) \
            or (bv.size == 1 and av.shape == ys):
        p = dfd_tape_pool(&tape.t, 4)
        if p == NULL:
            tape.t.nrec -= 1          # drop the half-made record
            raise MemoryError()
        p[0] = n
        p[1] = 0 if av.size == 1 and n > 1 else 1
        p[2] = 0 if bv.size == 1 and n > 1 else 1
        rec.nd = 1
        return r
    p = dfd_tape_pool(&tape.t, 4 * nd)
    if p == NULL:
        tape.t.nrec -= 1              # drop the half-made record
        raise MemoryError()
    for d in range(nd):
        p[d] = ys[d]
    for i, v in enumerate((av, bv)):
        _natural(v.shape, sx)
        od0 = nd - v.ndim
        for d in range(nd):
            od = d - od0
            p[(1 + i) * nd + d] = sx[od] if od >= 0 and v.shape[od] != 1 else 0
    _natural(ys, &p[3 * nd])
    rec.nd = dfd_tape_coalesce(nd, p, 3, &p[nd])
    return r


cdef object _acc(Tracer x, tuple loop, Py_ssize_t off, Py_ssize_t *sx, Py_ssize_t *sy,
                 value, double scale):
    """A node of value `value` whose adjoint flows back as gx[off + i . sx] +=
    scale * gy[i . sy] over the loop shape."""
    cdef Tracer r = _new(x.tape, value)
    cdef int nd = len(loop), d
    cdef Py_ssize_t *p
    cdef dfd_rec *rec
    if r.value.size == 0 or x.value.size == 0:
        return r
    if nd > DFD_TAPE_MAXDIM:
        raise ValueError(f"reverse mode handles arrays of up to {DFD_TAPE_MAXDIM} "
                         f"dimensions; got {nd}")
    rec = x.tape.push(DFD_R_ACC, r.node)
    rec.na = x.node
    rec.off = off
    rec.scale = scale
    if nd == 0:
        p = dfd_tape_pool(&x.tape.t, 3)
        if p == NULL:
            x.tape.t.nrec -= 1          # drop the half-made record
            raise MemoryError()
        p[0] = 1
        p[1] = 0
        p[2] = 0
        rec.nd = 1
        return r
    p = dfd_tape_pool(&x.tape.t, 3 * nd)
    if p == NULL:
        x.tape.t.nrec -= 1              # drop the half-made record
        raise MemoryError()
    for d in range(nd):
        p[d] = loop[d]
        p[nd + d] = sx[d]
        p[2 * nd + d] = sy[d]
    rec.nd = dfd_tape_coalesce(nd, p, 2, &p[nd])
    return r


cdef object _view_of(Tracer x, v):
    """If v (a result computed from x.value) is a view of x's block, the node for it,
    its adjoint an ACC over v's strides; else None."""
    if v is x.value:
        return x                     # NumPy returned its argument (atleast_1d, squeeze)
    if type(v) is not np.ndarray or v.size == 0:
        return None
    base = x.value if x.value.base is None else x.value.base
    if v.base is not base and v.base is not x.value:
        return None
    cdef Py_ssize_t off = (<char *>cnp.PyArray_DATA(v) - <char *>cnp.PyArray_DATA(x.value))
    cdef int nd = cnp.PyArray_NDIM(v), d
    cdef Py_ssize_t sx[64]
    cdef Py_ssize_t sy[64]
    cdef cnp.npy_intp *vs = cnp.PyArray_STRIDES(v)
    if off < 0 or off % 8:
        return None
    for d in range(nd):
        if vs[d] % 8:
            return None
        sx[d] = vs[d] // 8
    _natural(v.shape, sy)
    cdef Tracer r = _acc(x, v.shape, off // 8, sx, sy, v, 1.0)
    r._base = x
    x._nviews += 1
    return r


cdef object _gather(Tracer x, Tracer r, src):
    src = np.ascontiguousarray(src, dtype=np.int64)
    if src.size != r.value.size:
        raise AssertionError("gather: source indices do not match the result")
    if src.size == 0:
        return r
    r.tape.keep.append(src)
    cdef dfd_rec *rec = r.tape.push(DFD_R_GATHER, r.node)
    rec.na = x.node
    rec.n = src.size
    rec.src = <const int64_t *>cnp.PyArray_DATA(src)
    return r


@cython.final
cdef class Tracer:
    """An array traced by reverse mode (``method='reverse'``): its value and its place
    on the tape of one evaluation of f.  f receives one in place of x; NumPy functions
    and operators on it return Tracers.  ``.value`` is the primal value (read-only)."""
    cdef readonly object value
    cdef readonly Py_ssize_t node
    cdef Tape tape
    cdef bint readonly   # a broadcast view: NumPy refuses writes
    # NumPy semantics of views: _base is the traced array this one views (None: it owns
    # its memory), _key the basic index that made it (None: another function), and
    # _nviews the number of live views of this one.  A write through a view reaches its
    # base as a recorded assignment; a write that would have to reach other live views
    # raises instead.
    cdef Tracer _base
    cdef object _key
    cdef Py_ssize_t _nviews

    def __dealloc__(self):
        if self._base is not None:
            self._base._nviews -= 1

    __array_priority__ = 1000

    @property
    def shape(self):
        return self.value.shape

    @property
    def ndim(self):
        return self.value.ndim

    @property
    def size(self):
        return self.value.size

    @property
    def dtype(self):
        # object, as the Dual's: NumPy code that casts with a.dtype.type (np.mean of a
        # list) keeps the traced value instead of converting it to a float
        return _OBJECT

    @property
    def T(self):
        return _function(np.transpose, (self,), {})

    @property
    def real(self):
        return self

    @property
    def imag(self):
        return np.zeros(self.value.shape)

    def __len__(self):
        return len(self.value)

    def __iter__(self):
        if self.value.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        for i in range(self.value.shape[0]):
            yield self[i]

    def __repr__(self):
        return f"Tracer({self.value!r})"

    # conversions: float would drop the derivative
    def __float__(self):
        raise TypeError(
            "float() of a traced array would drop its derivative: math.* functions and "
            "storing it into a float array (g = np.zeros(n); g[i] = t) call it. Use "
            "NumPy functions (np.sin, not math.sin), build arrays with np.zeros_like(x) "
            "then assign, or np.stack/np.concatenate; .value gives the primal value, "
            + _FD_HINT)

    def __complex__(self):
        self.__float__()

    def __array__(self, dtype=None, copy=None):
        # np.asarray(t) (SciPy's rosen does it, and np.array([t0, t1]) asks each item):
        # an object array of 0-d traced elements, as the Dual gives.  NumPy's object
        # loops then call the elements' own operators and methods, so derivatives flow
        # through, one record per element and operation (slow, never silently wrong:
        # any conversion to floats raises); _pack makes one traced array of it again.
        if dtype is not None and np.dtype(dtype).kind in "biu":
            return self.value.astype(dtype)      # piecewise constant: derivative 0
        if dtype is not None and np.dtype(dtype) != _OBJECT:
            raise TypeError(
                f"np.asarray(x, dtype={np.dtype(dtype)}) of a traced array, or storing it "
                f"into a float array, would drop its derivative: call np.asarray(x) "
                "without dtype= (derivatives then flow through an object array), build "
                "arrays with np.zeros_like(x) or np.stack, " + _FD_HINT)
        return _elements(self)

    def __int__(self):
        return int(self.value)

    def __index__(self):
        raise TypeError("a traced float array cannot be used as an index")

    def __bool__(self):
        return bool(self.value)

    # comparisons look at values
    def __lt__(self, o): return np.less(self.value, _cmp(o))
    def __le__(self, o): return np.less_equal(self.value, _cmp(o))
    def __gt__(self, o): return np.greater(self.value, _cmp(o))
    def __ge__(self, o): return np.greater_equal(self.value, _cmp(o))
    def __eq__(self, o): return np.equal(self.value, _cmp(o))
    def __ne__(self, o): return np.not_equal(self.value, _cmp(o))
    __hash__ = None

    # arithmetic
    def __add__(a, b): return _binary(np.add, B_ADD, a, b)
    def __radd__(a, b): return _binary(np.add, B_ADD, b, a)
    def __sub__(a, b): return _binary(np.subtract, B_SUBTRACT, a, b)
    def __rsub__(a, b): return _binary(np.subtract, B_SUBTRACT, b, a)
    def __mul__(a, b): return _binary(np.multiply, B_MULTIPLY, a, b)
    def __rmul__(a, b): return _binary(np.multiply, B_MULTIPLY, b, a)
    def __truediv__(a, b): return _binary(np.divide, B_DIVIDE, a, b)
    def __rtruediv__(a, b): return _binary(np.divide, B_DIVIDE, b, a)
    def __pow__(a, b, mod):
        if mod is not None:
            return NotImplemented
        return _power(a, b)
    def __rpow__(a, b, mod):
        if mod is not None:
            return NotImplemented
        return _power(b, a)
    def __mod__(a, b): return _binary(np.remainder, B_REMAINDER, a, b)
    def __rmod__(a, b): return _binary(np.remainder, B_REMAINDER, b, a)
    def __floordiv__(a, b): return _binary(np.floor_divide, B_FLOOR_DIVIDE, a, b)
    def __rfloordiv__(a, b): return _binary(np.floor_divide, B_FLOOR_DIVIDE, b, a)
    def __matmul__(a, b): return _matmul(a, b)
    def __rmatmul__(a, b): return _matmul(b, a)
    def __neg__(self): return _unary(np.negative, U_NEGATIVE, self)
    def __pos__(self): return _unary(np.positive, U_POSITIVE, self)
    def __abs__(self): return _unary(np.absolute, U_ABSOLUTE, self)

    # in place: NumPy semantics, the array (this object) takes the new value
    def __iadd__(self, o): return self._rebind(self + o)
    def __isub__(self, o): return self._rebind(self - o)
    def __imul__(self, o): return self._rebind(self * o)
    def __itruediv__(self, o): return self._rebind(self / o)
    def __ipow__(self, o): return self._rebind(self ** o)
    def __imatmul__(self, o): return self._rebind(self @ o)

    def _rebind(self, r):
        """This array takes r's values (an in-place operation's result)."""
        cdef Tracer t
        if type(r) is not Tracer:
            r = _lift(self.tape, r)
        t = <Tracer>r
        if t.value.shape != self.value.shape:
            raise ValueError(f"non-broadcastable output operand with shape "
                             f"{self.value.shape} doesn't match the broadcast shape "
                             f"{t.value.shape}")
        if self._through():
            self._base._assign(self._key, t)
        self.value = t.value
        self.node = t.node
        return self

    def __getitem__(self, key):
        if type(key) is Tracer or (type(key) is tuple and any(type(k) is Tracer for k in key)):
            raise TypeError("a traced float array cannot be used as an index")
        v = self.value[key]
        r = _view_of(self, v)
        if r is not None:
            if r is not self:
                (<Tracer>r)._key = key
            return r
        src = np.arange(self.value.size, dtype=np.int64).reshape(self.value.shape)[key]
        return _gather(self, _new(self.tape, v), src)

    cdef bint _through(self) except -1:
        """Whether a write into this array must also reach its base (a view): True if
        it can be recorded there, else an exception."""
        if self.readonly:
            raise ValueError("assignment destination is read-only (np.broadcast_to "
                             "returns a read-only view)")
        if self._nviews > 0:
            raise TypeError(_SHARED_WRITE)
        if self._base is None:
            return False
        # one level of basic indexing, and no other live view of the base to update
        if self._key is None or self._base._base is not None or self._base._nviews != 1 \
                or self._base.readonly:
            raise TypeError(_SHARED_WRITE)
        return True

    def __setitem__(self, key, val):
        if type(val) is Tracer and (<Tracer>val)._base is self and \
                (<Tracer>val)._key is key and not self.readonly:
            return      # y[k] = y[k], the end of y[k] += v: the values are already there
        cdef bint through = self._through()
        self._assign(key, val)
        if through:
            self._base._assign(self._key, self)

    cdef _assign(self, key, val):
        """Record self[key] = val: a new node for self, gathered from the old and val."""
        cdef Tracer old = self, tv = None, r
        if type(val) is Tracer:
            _tape_of(self, val)
            tv = <Tracer>val
            vv = tv.value
        else:
            vv = _const(val)
        new = self.value.copy()
        new[key] = vv
        r = _new(self.tape, new)
        src = np.arange(self.value.size, dtype=np.int64).reshape(self.value.shape)
        src[key] = -1
        _gather(old, r, src)
        if tv is not None:
            vsrc = np.full(self.value.shape, -1, dtype=np.int64)
            vsrc[key] = np.arange(tv.value.size, dtype=np.int64).reshape(tv.value.shape)
            _gather(tv, r, vsrc)
        self.value = r.value
        self.node = r.node

    def __getattr__(self, name):
        f = _ATTRS.get(name)
        if f is None:
            f = _METHODS.get(name)
            if f is None:
                # NumPy's object loops call np.sin(a) as a.sin()
                f = _UFUNC_BY_NAME.get(name)
            if f is None:
                raise AttributeError(f"'Tracer' object has no attribute {name!r} (reverse "
                                     "mode supports the ndarray methods that are NumPy "
                                     "functions)")
        return _Method(self, f)

    # NumPy protocols
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return _ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return _function(func, args, kwargs)


_SHARED_WRITE = ("an in-place write into a traced array that shares memory with another "
                 "cannot be recorded in reverse mode: a write into an array while views of "
                 "it (x[1:], x.T) are alive, or through a view that is not one basic index "
                 "of an array with no other live view, would have to reach those arrays "
                 "too. Copy first (y = x.copy(); y[...] = ...), or use "
                 "method='dual'")


cdef object _OBJECT = np.dtype(object)
_UFUNC_BY_NAME = {u.__name__: u for u, e in _UFUNCS.items() if e[0] in (1, 2, 5)}


cdef object _elements(Tracer t):
    """An object array of t's shape holding its elements as 0-d traced arrays."""
    out = np.empty(t.value.shape, dtype=object)
    flat = out.reshape(-1)
    vals = t.value.reshape(-1)
    cdef Py_ssize_t i
    cdef Py_ssize_t s[1]
    s[0] = 0
    for i in range(t.value.size):
        flat[i] = _acc(t, (), i, s, s, vals[i:i + 1].reshape(()), 1.0)
    return out


cdef object _pack(a):
    """An object array (np.asarray of traced arrays, NumPy's object loops) as one traced
    array when it holds traced elements, else a float array; TypeError for anything
    that is not a real number or a 0-d traced array."""
    flat = a.reshape(-1)
    pieces = []
    cdef bint traced = False
    for e in flat:
        if type(e) is Tracer:
            if (<Tracer>e).value.ndim:
                raise TypeError("an object array whose items are traced arrays of "
                                f"shape {(<Tracer>e).value.shape}: use np.stack or "
                                "np.concatenate to combine traced arrays")
            traced = True
            pieces.append(e)
        else:
            v = np.asarray(e)
            if v.dtype.kind not in "biuf" or v.ndim:
                raise TypeError(f"an object array holding {type(e).__name__} met a traced "
                                "array: only real numbers and 0-d traced arrays combine")
            pieces.append(float(v))
    if not traced:
        return np.array(pieces, dtype=np.float64).reshape(a.shape)
    return np.reshape(np.stack(pieces), a.shape)


cdef object _unobject(o):
    """o, with an object ndarray (of traced elements) packed into one traced array."""
    if type(o) is np.ndarray and (<cnp.ndarray>o).descr.type_num == cnp.NPY_OBJECT:
        return _pack(o)
    return o


cdef object _cmp(o):
    return (<Tracer>o).value if type(o) is Tracer else o


cdef object _lift(Tape tape, x):
    """A constant as a node of the tape (no record: its adjoint goes nowhere)."""
    return _new(tape, _const(x))


class _Method:
    """A bound ndarray method of a Tracer: t.sum(axis=0) is np.sum(t, axis=0)."""
    __slots__ = ("t", "f")

    def __init__(self, t, f):
        self.t = t
        self.f = f

    def __call__(self, *args, **kwargs):
        return self.f(self.t, *args, **kwargs)


def _m_reshape(t, *shape, order="C"):
    if len(shape) == 1:
        shape = shape[0]
    return np.reshape(t, shape, order=order)


def _m_transpose(t, *axes):
    if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
        axes = axes[0]
    return np.transpose(t, axes or None)


def _m_astype(t, dtype, *args, **kwargs):
    if np.dtype(dtype).kind != "f":
        return t.value.astype(dtype)     # int/bool: piecewise constant, derivative 0
    if np.dtype(dtype) != _float64:
        raise TypeError(f"reverse mode traces float64 arrays; astype({dtype}) would "
                        "round the derivative")
    return np.copy(t)


def _m_item(t, *args):
    raise TypeError("item() of a traced array would drop its derivative; index it "
                    "(x[i]) instead, " + _FD_HINT)


def _m_inplace_sort(t, axis=-1, kind=None, order=None):
    t._rebind(np.sort(t, axis=axis))


def _m_fill(t, value):
    t[...] = value


def _m_inplace_partition(t, kth, axis=-1, kind="introselect", order=None):
    t._rebind(np.partition(t, kth, axis=axis, kind=kind, order=order))


def _r_put(a, ind, v, mode="raise"):
    """np.put(a, ind, v): a takes v at the flat indices (in place, as NumPy)."""
    if type(a) is not Tracer:
        return _FALLBACK
    cdef Tracer t = <Tracer>a, tv = None
    if t._base is not None or t._nviews or t.readonly:
        t._through()                  # raises: put through a view is not recorded
        raise TypeError(_SHARED_WRITE)
    if type(v) is Tracer:
        _tape_of(t, v)
        tv = <Tracer>v
    vv = tv.value if tv is not None else _const(v)
    new = t.value.copy()
    np.put(new, ind, vv, mode=mode)
    cdef Tracer r = _new(t.tape, new)
    src = np.arange(t.value.size, dtype=np.int64)
    np.put(src, ind, -1, mode=mode)
    _gather(t, r, src.reshape(t.value.shape))
    if tv is not None:
        vsrc = np.full(t.value.size, -1, dtype=np.int64)
        np.put(vsrc, ind, np.arange(tv.value.size, dtype=np.int64), mode=mode)
        _gather(tv, r, vsrc.reshape(t.value.shape))
    t.value = r.value
    t.node = r.node


_ATTRS = {
    "sum": np.sum, "mean": np.mean, "prod": np.prod, "max": np.max, "min": np.min,
    "reshape": _m_reshape, "transpose": _m_transpose, "ravel": np.ravel,
    "flatten": lambda t, order="C": np.copy(np.ravel(t, order=order)),
    "copy": np.copy, "dot": np.dot, "cumsum": np.cumsum, "squeeze": np.squeeze,
    "astype": _m_astype, "item": _m_item, "sort": _m_inplace_sort, "fill": _m_fill,
    "conj": np.conjugate, "conjugate": np.conjugate, "ptp": np.ptp, "clip": np.clip,
    "put": np.put, "partition": _m_inplace_partition,
    "tolist": lambda t: list(t) if t.ndim else _m_item(t),
}


# --- rules, ufuncs and the function table ------------------------------------------------

# the rules the operators and compositions use, by index (the Dual's table)
cdef int U_NEGATIVE, U_POSITIVE, U_ABSOLUTE, U_SQUARE, U_SQRT, B_ADD, B_SUBTRACT, \
    B_MULTIPLY, B_DIVIDE, B_POWER, B_REMAINDER, B_FLOOR_DIVIDE, B_MAXIMUM, B_MINIMUM
(U_NEGATIVE, U_POSITIVE, U_ABSOLUTE, U_SQUARE, U_SQRT, B_ADD, B_SUBTRACT, B_MULTIPLY,
 B_DIVIDE, B_POWER, B_REMAINDER, B_FLOOR_DIVIDE, B_MAXIMUM, B_MINIMUM) = [
    _UFUNCS[u][1] for u in (
        np.negative, np.positive, np.absolute, np.square, np.sqrt, np.add, np.subtract,
        np.multiply, np.divide, np.power, np.remainder, np.floor_divide, np.maximum,
        np.minimum)]


cdef object _power(a, b):
    # x ** 2 as square, as the Dual does (exact, and no log in the partial)
    if type(a) is Tracer and type(b) is not Tracer and (PyFloat_Check(b) or PyLong_Check(b)):
        if b == 2:
            return _unary(np.square, U_SQUARE, <Tracer>a)
        if b == 1:
            return np.copy(a)
    return _binary(np.power, B_POWER, a, b)


cdef bint _has_tracer(o):
    if type(o) is Tracer:
        return True
    if type(o) is list or type(o) is tuple:
        for e in o:
            if _has_tracer(e):
                return True
    elif type(o) is dict:
        for e in (<dict>o).values():
            if _has_tracer(e):
                return True
    return False


cdef object _ufunc(ufunc, str method, tuple inputs, dict kwargs):
    for i in inputs:
        if isinstance(i, Dual):
            _const(i)
    inputs = tuple([_unobject(i) for i in inputs])
    if method == "__call__":
        out = kwargs.pop("out", None)
        if type(out) is tuple:
            if len(out) != 1:
                raise TypeError(f"{ufunc.__name__}: out= of several arrays is not "
                                "supported on traced arrays")
            out = out[0]
        if out is not None and type(out) is not Tracer:
            raise TypeError(f"{ufunc.__name__}(..., out=) into a plain array would drop "
                            "the derivative; assign the result instead, " + _FD_HINT)
        if not _has_tracer(inputs):
            # constants written into a traced out=: it holds a constant now
            r = ufunc(*inputs, **kwargs)
            return (<Tracer>out)._rebind(_lift((<Tracer>out).tape, r))
        e = _UFUNCS.get(ufunc)
        if e is None:
            e = _dual_core._special_lookup(ufunc)
        if e is None:
            raise TypeError(f"the ufunc {ufunc.__name__} is not supported on traced "
                            "arrays (see dualfd.Dual.supported_ufuncs()); " + _FD_HINT)
        kind = e[0]
        if kwargs:
            r = _fallback(ufunc, inputs, kwargs)
        elif kind in (3, 4):                     # comparisons, isfinite...: values only
            r = ufunc(*[_cmp(i) for i in inputs])
        elif kind == 1:
            r = _unary(ufunc, e[1], <Tracer>inputs[0])
        elif kind == 2:
            r = _binary(ufunc, e[1], inputs[0], inputs[1])
        elif kind == 5:
            r = _power(inputs[0], inputs[1])
        elif kind == 6:
            r = _matmul(inputs[0], inputs[1])
        else:
            r = _fallback(ufunc, inputs, kwargs)
        if out is not None:
            return (<Tracer>out)._rebind(r)
        return r
    red = _REDUCE.get((ufunc, method))
    if red is not None and len(inputs) == 1:
        if kwargs.get("out") is not None:
            raise TypeError(f"{ufunc.__name__}.{method}(..., out=) is not supported on "
                            "traced arrays")
        kwargs.pop("out", None)
        if method == "reduce" and "axis" not in kwargs:
            kwargs["axis"] = 0
        return _function(red, inputs, kwargs)
    raise TypeError(f"{ufunc.__name__}.{method} is not supported on traced arrays; "
                    + _FD_HINT)


_add_reduce = np.add.reduce
_REDUCE = {(np.add, "reduce"): np.sum, (np.multiply, "reduce"): np.prod,
           (np.maximum, "reduce"): np.max, (np.minimum, "reduce"): np.min,
           (np.add, "accumulate"): np.cumsum}

_FALLBACK = object()


cdef object _function(func, args, kwargs):
    impl = _REV.get(func)
    if impl is not None:
        r = impl(*args, **kwargs)
        if r is not _FALLBACK:
            return r
    if func in _FUNCTIONS:
        return _fallback(func, args, kwargs)
    mod = func.__module__ or "numpy"
    raise TypeError(f"{mod}.{func.__name__} is not supported for traced arrays "
                    "(reverse mode supports the functions Dual.supported_functions() "
                    "lists); " + _FD_HINT)


# --- the generic adjoint: the Dual's local Jacobian ---------------------------------------

# Tangent directions per re-run of a function whose adjoint comes from the Dual.
_FALLBACK_CHUNK = 64


def _substitute(o, make):
    if type(o) is Tracer:
        return make(o)
    if type(o) is list:
        return [_substitute(e, make) for e in o]
    if type(o) is tuple:
        return tuple([_substitute(e, make) for e in o])
    if type(o) is dict:
        return {k: _substitute(e, make) for k, e in o.items()}
    return o


def _dual_leaves(o, acc):
    """The Duals of a function's result, in order (tuples, lists, namedtuples)."""
    if isinstance(o, Dual):
        acc.append(o)
    elif isinstance(o, (tuple, list)):
        for e in o:
            _dual_leaves(e, acc)
    return acc


def _rewrap(o, it):
    if isinstance(o, Dual):
        return next(it)
    if isinstance(o, tuple) and hasattr(o, "_fields"):
        return type(o)(*[_rewrap(e, it) for e in o])
    if isinstance(o, (tuple, list)):
        return type(o)([_rewrap(e, it) for e in o])
    return o


cdef object _py_record(Tape tape, adjoint, list in_nodes, list out_nodes):
    """A PY record: adjoint(output adjoints) -> contributions to the inputs' adjoints."""
    cdef dfd_rec *rec = tape.push(DFD_R_PY, out_nodes[0])
    rec.aux = len(tape.py)
    tape.py.append((adjoint, in_nodes, out_nodes))


cdef object _fallback(func, args, kwargs):
    leaves = []
    def collect(t):
        leaves.append(t)
        return Dual(t.value, np.zeros(t.value.shape + (1,)))
    dargs = _substitute(args, collect)
    dkwargs = _substitute(kwargs, collect)
    out = func(*dargs, **dkwargs)
    outs = _dual_leaves(out, [])
    if not outs or not leaves:
        return out
    tape = _common_tape(leaves)
    values = [t.value for t in leaves]
    tracers = [_new(tape, np.asarray(d.value)) for d in outs]
    in_nodes = [(<Tracer>t).node for t in leaves]
    out_nodes = [(<Tracer>t).node for t in tracers]

    def adjoint(gs):
        sizes = [v.size for v in values]
        total = sum(sizes)
        offs = np.cumsum([0] + sizes)
        acc = np.zeros(total)
        for c0 in range(0, total, _FALLBACK_CHUNK):
            w = min(_FALLBACK_CHUNK, total - c0)
            it = iter(range(len(values)))
            def seed(t):
                j = next(it)
                T = np.zeros((sizes[j], w))
                lo, hi = max(c0, offs[j]), min(c0 + w, offs[j + 1])
                if lo < hi:
                    T[np.arange(lo, hi) - offs[j], np.arange(lo, hi) - c0] = 1.0
                return Dual(values[j], T.reshape(values[j].shape + (w,)))
            r = func(*_substitute(args, seed), **_substitute(kwargs, seed))
            for g, d in zip(gs, _dual_leaves(r, [])):
                acc[c0:c0 + w] += np.reshape(g, -1) @ np.reshape(d.tangent, (-1, w))
        return [acc[offs[j]:offs[j + 1]] for j in range(len(values))]

    tape.keep.append(values)
    _py_record(tape, adjoint, in_nodes, out_nodes)
    return _rewrap(out, iter(tracers))


# --- dedicated adjoints ------------------------------------------------------------------

cdef tuple _axes(axis, int nd):
    """axis as a tuple of non-negative ints (NumPy has validated it already)."""
    if axis is None:
        return tuple(range(nd))
    if isinstance(axis, tuple):
        return tuple(sorted([int(a) % nd for a in axis]))
    return (int(axis) % nd if nd else 0,)


def _sum_like(a, axis, keepdims, mean):
    cdef Tracer x = <Tracer>a
    v = x.value
    yk = _add_reduce(v, axis=axis, keepdims=True)
    cdef Py_ssize_t count = v.size // yk.size if yk.size else 0
    if mean:
        yk = yk / count          # as np.mean: the sum, then one division
    if keepdims:
        y = yk
    elif axis is None:
        y = yk.reshape(())
    else:
        axes = _axes(axis, v.ndim)
        y = yk.reshape(tuple([s for d, s in enumerate(v.shape) if d not in axes]))
    cdef int nd = v.ndim, d
    cdef Py_ssize_t sx[64]
    cdef Py_ssize_t sy[64]
    _natural(v.shape, sx)
    _natural(yk.shape, sy)
    for d in range(nd):
        if yk.shape[d] == 1 and v.shape[d] != 1:
            sy[d] = 0
    # loop over x: gx[i . sx] += scale gy[i . sy]
    return _acc(x, v.shape, 0, sx, sy, y, (1.0 / count) if (mean and count) else 1.0)


def _r_sum(a, axis=None, dtype=None, out=None, keepdims=False, initial=np._NoValue,
           where=np._NoValue):
    if type(a) is not Tracer or out is not None or (dtype is not None and np.dtype(dtype) != _float64) \
            or initial is not np._NoValue or where is not np._NoValue:
        return _FALLBACK
    return _sum_like(a, axis, keepdims, False)


def _r_mean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=np._NoValue):
    if type(a) is not Tracer or out is not None or (dtype is not None and np.dtype(dtype) != _float64) \
            or where is not np._NoValue:
        return _FALLBACK
    return _sum_like(a, axis, keepdims, True)


def _r_broadcast_to(array, shape, subok=False):
    if type(array) is not Tracer:
        return _FALLBACK
    cdef Tracer x = <Tracer>array
    y = np.broadcast_to(x.value, shape)
    cdef int nd = y.ndim, d, od0 = y.ndim - x.value.ndim
    cdef Py_ssize_t sx[64]
    cdef Py_ssize_t sy[64]
    cdef Py_ssize_t sv[64]
    _natural(x.value.shape, sv)
    _natural(y.shape, sy)
    for d in range(nd):
        od = d - od0
        sx[d] = sv[od] if od >= 0 and x.value.shape[od] != 1 else 0
    # loop over y: gx[i . sx] += gy[i . sy]  (the adjoint of a broadcast is a sum)
    cdef Tracer r = _acc(x, y.shape, 0, sx, sy, np.ascontiguousarray(y), 1.0)
    r.readonly = True                # NumPy: a read-only view of x
    r._base = x
    x._nviews += 1
    return r


cdef object _unbroadcast(g, tuple shape):
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    if lead:
        g = g.sum(axis=tuple(range(lead)))
    axes = tuple(d for d, s in enumerate(shape) if s == 1 and g.shape[d] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


cdef object _matmul(a, b):
    """C = A @ B; gA = gC B^T, gB = A^T gC (Giles 2008, sec. 2.3.2), a 1-d operand
    promoted as matmul promotes it, batch dimensions summed back."""
    a = _unobject(a)
    b = _unobject(b)
    cdef Tape tape = _tape_of(a, b)
    av = _const(a)
    bv = _const(b)
    y = np.matmul(av, bv)
    r = _new(tape, y)
    na = (<Tracer>a).node if type(a) is Tracer else -1
    nb = (<Tracer>b).node if type(b) is Tracer else -1

    def adjoint(gs):
        g = gs[0]
        A = av if av.ndim > 1 else av[None, :]
        B = bv if bv.ndim > 1 else bv[:, None]
        if bv.ndim == 1:
            g = g[..., None]
        if av.ndim == 1:
            g = np.expand_dims(g, -2)
        ga = gb = None
        if na >= 0:
            ga = np.matmul(g, np.swapaxes(B, -1, -2))
            if av.ndim == 1:
                ga = ga[..., 0, :]
            ga = _unbroadcast(ga, av.shape)
        if nb >= 0:
            gb = np.matmul(np.swapaxes(A, -1, -2), g)
            if bv.ndim == 1:
                gb = gb[..., 0]
            gb = _unbroadcast(gb, bv.shape)
        return [ga, gb]

    if r.value.size:
        tape.keep.append((av, bv))
        _py_record(tape, adjoint, [na, nb], [r.node])
    return r


def _r_matmul(a, b, out=None, **kw):
    if out is not None or kw:
        return _FALLBACK
    return _matmul(a, b)


def _r_dot(a, b, out=None):
    if out is not None:
        return _FALLBACK
    if np.ndim(_cmp(a)) == 0 or np.ndim(_cmp(b)) == 0:
        return _binary(np.multiply, B_MULTIPLY, a, b)
    if np.ndim(_cmp(a)) <= 2 and np.ndim(_cmp(b)) <= 2:
        return _matmul(a, b)
    return _FALLBACK


def _r_copy(a, order="K", subok=False):
    if type(a) is not Tracer:
        return _FALLBACK
    cdef Tracer x = <Tracer>a
    cdef int nd = 1
    cdef Py_ssize_t s[1]
    s[0] = 1
    return _acc(x, (x.value.size,), 0, s, s, x.value.copy(), 1.0)


def _r_clip(a, a_min=np._NoValue, a_max=np._NoValue, out=None, *, min=np._NoValue,
            max=np._NoValue, **kw):
    # as the Dual: maximum, then minimum, by their rules
    if out is not None or kw:
        return _FALLBACK
    lo = a_min if a_min is not np._NoValue else min
    hi = a_max if a_max is not np._NoValue else max
    r = a
    if lo is not np._NoValue and lo is not None:
        r = _binary(np.maximum, B_MAXIMUM, r, lo)
    if hi is not np._NoValue and hi is not None:
        r = _binary(np.minimum, B_MINIMUM, r, hi)
    return np.copy(r) if r is a else r


def _r_extreme(reduce, arg):
    def impl(a, axis=None, out=None, keepdims=False, initial=np._NoValue,
             where=np._NoValue):
        if type(a) is not Tracer or out is not None or initial is not np._NoValue \
                or where is not np._NoValue or isinstance(axis, tuple):
            return _FALLBACK
        x = <Tracer>a
        v = x.value
        if v.size == 0:
            return _FALLBACK
        y = reduce(v, axis=axis, keepdims=keepdims)
        if axis is None:
            i = arg(v)
            if np.count_nonzero(v == v.reshape(-1)[i]) > 1:
                return _FALLBACK              # a tie: the Dual decides (or raises)
            return _gather(x, _new(x.tape, y), np.array([i]))
        ax = int(axis) % max(v.ndim, 1)
        i = np.expand_dims(arg(v, axis=ax), ax)
        sel = np.take_along_axis(v, i, axis=ax)
        if (np.count_nonzero(v == sel, axis=ax) > 1).any():
            return _FALLBACK
        src = np.take_along_axis(
            np.arange(v.size, dtype=np.int64).reshape(v.shape), i, axis=ax)
        return _gather(x, _new(x.tape, y), src)
    return impl


def _r_sort(a, axis=-1, kind=None, order=None, *, stable=None):
    if type(a) is not Tracer or order is not None:
        return _FALLBACK
    x = <Tracer>a
    v = x.value
    idx = np.arange(v.size, dtype=np.int64)
    if axis is None:
        v = v.reshape(-1)
        axis = 0
    else:
        idx = idx.reshape(v.shape)
    if v.ndim == 0:
        return _FALLBACK
    i = np.argsort(v, axis=axis, kind="stable")
    s = np.take_along_axis(v, i, axis=axis)
    if (np.diff(s, axis=axis) == 0).any():
        return _FALLBACK                      # ties: the Dual decides (or raises)
    return _gather(x, _new(x.tape, s), np.take_along_axis(idx, i, axis=axis))


# Functions that only move elements: the adjoint scatters back through the source
# index of each result element, found by running the function on index arrays (shifted
# by one, so that 0 marks a zero fill: triu, diag of a vector).  Where NumPy returns a
# view, its strides serve instead (no index array).  The spec names the data operands:
# positions of args, "seq" (args[0] is a sequence of them).
_MOVE = {
    np.reshape: (0,), np.ravel: (0,), np.transpose: (0,), np.swapaxes: (0,),
    np.moveaxis: (0,), np.rollaxis: (0,), np.squeeze: (0,), np.expand_dims: (0,),
    np.flip: (0,), np.fliplr: (0,), np.flipud: (0,), np.rot90: (0,), np.roll: (0,),
    np.tile: (0,), np.repeat: (0,), np.diagonal: (0,), np.take: (0,),
    np.take_along_axis: (0,), np.diag: (0,), np.triu: (0,), np.tril: (0,),
    np.delete: (0,), np.atleast_1d: (0,), np.atleast_2d: (0,), np.atleast_3d: (0,),
    np.concatenate: ("seq",), np.stack: ("seq",), np.hstack: ("seq",),
    np.vstack: ("seq",), np.column_stack: ("seq",), np.dstack: ("seq",),
    np.where: (1, 2), np.append: (0, 1), np.insert: (0, 2),
}


def _move(func, spec, args, kwargs):
    if _has_tracer(kwargs) or (func in (np.atleast_1d, np.atleast_2d, np.atleast_3d)
                               and len(args) != 1):
        return _FALLBACK
    args = list(args)
    slots = []            # (container, index) of each data operand
    for p in spec:
        if p == "seq":
            if not args or not isinstance(args[0], (list, tuple)):
                return _FALLBACK
            args[0] = list(args[0])
            slots += [(args[0], i) for i in range(len(args[0]))]
        elif p < len(args):
            slots.append((args, p))
        else:
            return _FALLBACK
    for c, i in slots:                       # a list of traced values is one array
        if (type(c[i]) is list or type(c[i]) is tuple) and _has_tracer(c[i]):
            c[i] = _pack(np.array(c[i], dtype=object))
    data = [c[i] for c, i in slots]
    traced = [d for d in data if type(d) is Tracer]
    if not traced:
        return _FALLBACK
    for c, i in slots:                       # no tracer outside the data operands
        c[i] = None
    if _has_tracer(args):
        return _FALLBACK
    tape = _common_tape(traced)
    for (c, i), d in zip(slots, data):
        c[i] = _const(d)
    y = func(*args, **kwargs)
    if type(y) is not np.ndarray:
        return _FALLBACK
    if len(data) == 1:
        r = _view_of(<Tracer>data[0], y)
        if r is not None:
            return r
    off = 1
    for (c, i), d in zip(slots, data):
        if type(d) is Tracer:
            n = (<Tracer>d).value.size
            c[i] = np.arange(off, off + n, dtype=np.int64).reshape((<Tracer>d).value.shape)
            off += n
        else:
            c[i] = np.zeros(np.shape(d), dtype=np.int64)
    s = func(*args, **kwargs)
    if type(s) is not np.ndarray or s.shape != y.shape or s.dtype.kind not in "iu":
        return _FALLBACK
    r = _new(tape, y)
    s = s.astype(np.int64) - 1
    off = 0
    for d in data:
        if type(d) is Tracer:
            n = (<Tracer>d).value.size
            if len(traced) == 1:
                src = s
            else:
                src = np.where((s >= off) & (s < off + n), s - off, -1)
            _gather(<Tracer>d, r, src)
            off += n
    return r


def _moving(func, spec):
    def impl(*args, **kwargs):
        return _move(func, spec, args, kwargs)
    return impl


def _r_zeros_like(a, *args, **kwargs):
    # a constant: no derivative, but a traced array, so that f can assign into it
    return _lift((<Tracer>a).tape, np.zeros_like((<Tracer>a).value, *args, **kwargs)) \
        if type(a) is Tracer else _FALLBACK


def _r_full_like(a, fill_value, *args, **kwargs):
    if type(a) is not Tracer or type(fill_value) is Tracer:
        return _FALLBACK
    return _lift((<Tracer>a).tape, np.full_like((<Tracer>a).value, fill_value, *args,
                                                **kwargs))


def _r_ones_like(a, *args, **kwargs):
    return _lift((<Tracer>a).tape, np.ones_like((<Tracer>a).value, *args, **kwargs)) \
        if type(a) is Tracer else _FALLBACK


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


_REV = {np.sum: _r_sum, np.mean: _r_mean, np.broadcast_to: _r_broadcast_to,
        np.matmul: _r_matmul, np.dot: _r_dot, np.copy: _r_copy, np.clip: _r_clip,
        np.max: _r_extreme(np.max, np.argmax), np.min: _r_extreme(np.min, np.argmin),
        np.amax: _r_extreme(np.max, np.argmax), np.amin: _r_extreme(np.min, np.argmin),
        np.sort: _r_sort, np.zeros_like: _r_zeros_like, np.ones_like: _r_ones_like,
        np.empty_like: _r_zeros_like, np.full_like: _r_full_like,
        np.linalg.inv: _r_inv, np.linalg.solve: _r_solve, np.linalg.det: _r_det,
        np.linalg.slogdet: _r_slogdet, np.linalg.cholesky: _r_cholesky,
        np.var: _r_var, np.std: _r_std, np.linalg.norm: _r_norm, np.diff: _r_diff,
        np.outer: _r_outer, np.cumsum: _r_cumsum, np.prod: _r_prod,
        np.einsum: _r_einsum, np.put: _r_put, np.inner: _r_inner, np.vdot: _r_vdot,
        np.tensordot: _r_tensordot, np.trace: _r_trace,
        np.real: lambda val: val if type(val) is Tracer else _FALLBACK}
for _f, _spec in _MOVE.items():
    if _f not in _REV:
        _REV[_f] = _moving(_f, _spec)


# --- drivers ------------------------------------------------------------------------------

cdef object _output(r):
    """f's result as a Tracer, or a plain array (f does not depend on x)."""
    if type(r) is Tracer:
        return r
    if isinstance(r, (list, tuple)) and _has_tracer(r):
        r = np.array(r, dtype=object) if all(type(e) is Tracer and not e.ndim
                                             for e in r) else np.stack(r)
        if type(r) is Tracer:
            return r
    if isinstance(r, Dual):
        _const(r)
    a = np.asarray(r)
    if a.dtype.kind == "O":
        try:
            a = _pack(a)
        except TypeError as e:
            raise TypeError(f"f must return real numbers or traced arrays; it returned "
                            f"{type(r).__name__}: {e}") from None
        if type(a) is Tracer:
            return a
    if a.dtype.kind not in "biuf":
        raise TypeError(f"f must return real numbers or traced arrays; it returned "
                        f"{type(r).__name__}" + (f" of dtype {a.dtype}" if a.dtype.kind
                                                 != "O" else ""))
    return a.astype(np.float64)


cdef tuple _trace(f, x0, tuple args, dict kwargs):
    cdef Tape tape = Tape()
    # a view: the tracer's value is made read-only, the caller's x must stay as it is
    cdef Tracer x = _new(tape, x0.view() if type(x0) is np.ndarray and
                         cnp.PyArray_IS_C_CONTIGUOUS(x0) and x0.dtype == _float64
                         else np.array(x0, dtype=np.float64, order="C"))
    cdef Py_ssize_t xnode = x.node
    r = _output(f(x, *args, **kwargs))
    return tape, xnode, r


cdef object _plain(value):
    """f's value as the drivers return it: a float for a scalar f, else an array."""
    return float(value) if not value.shape else np.array(value)


def reverse_jacobian(f, cnp.ndarray x0, tuple args, dict kwargs, bint want_value):
    """J = df/dx by reverse mode: f traced once, one backward sweep per element of
    f(x).  Returns (value, J, fshape) as dual_jacobian does."""
    tape, xnode, r = _trace(f, x0, args, kwargs)
    value = (<Tracer>r).value if type(r) is Tracer else r
    fshape = value.shape
    m = value.size
    if m == 1 and type(r) is Tracer:          # a gradient: one sweep, no copy into J
        (<Tape>tape).sweep((<Tracer>r).node, np.ones(fshape))
        J = (<Tape>tape).gradient(xnode)
    else:
        J = np.zeros((m, x0.size))
        if type(r) is Tracer:
            seed = np.zeros(m)
            for i in range(m):
                seed[i] = 1.0
                (<Tape>tape).sweep((<Tracer>r).node, seed.reshape(fshape))
                seed[i] = 0.0
                J[i] = (<Tape>tape).gradient(xnode).reshape(-1)
    return (_plain(value) if want_value else None,
            J.reshape(fshape + (<object>x0).shape), fshape)


def reverse_vjp(f, cnp.ndarray x0, u, tuple args, dict kwargs):
    """(f(x), u @ J) in one backward sweep; u must have f's shape."""
    tape, xnode, r = _trace(f, x0, args, kwargs)
    value = (<Tracer>r).value if type(r) is Tracer else r
    u = np.asarray(u, dtype=np.float64)
    if u.shape != value.shape:
        raise ValueError(f"u must have f's shape {value.shape}; got {u.shape}")
    if type(r) is Tracer:
        (<Tape>tape).sweep((<Tracer>r).node, u)
        g = (<Tape>tape).gradient(xnode)
    else:
        g = np.zeros((<object>x0).shape)
    return _plain(value), g


def _supported_functions():
    """What reverse mode supports: every function and ufunc the Dual supports (the
    same table), listed by the Dual's names."""
    return _dual_core._supported_functions()


def _dedicated():
    """The NumPy functions with an adjoint of their own (the rest use the Dual's)."""
    return tuple(sorted(("linalg." if "linalg" in (f.__module__ or "") else "")
                        + f.__name__ for f in _REV))


def _trace_py(f, x0, args=(), kwargs=None):
    """(tape, x's node, f's result) of one traced call, for benchmarks and tests."""
    return _trace(f, x0, tuple(args), dict(kwargs or {}))


# array-like, not a Python sequence, as the Dual (dualfd/_arrays.pxd)
not_a_sequence(Tracer)
