# cython: language_level=3, cdivision=True
"""Reverse mode: f runs once on Tracer arrays that record each operation on a tape of C
records (csrc/tape.h); one backward sweep accumulates the adjoints.

One dispatch table, two modes.  The functions a Tracer supports are the Dual's
(``dualfd._dual``): its ufunc table gives the elementwise rules, whose reverse kernels
(``dfd_rv_*``) are generated from the same csrc/rules.def lines as the forward ones.
Each operation gets one of these kinds of adjoint:

- C records (the sweep runs them without the GIL): elementwise rules with any
  broadcasting (UNARY, BINARY); sums, means and broadcasts (ACC: strided accumulation);
  indexing, max/min/sort and the functions that only move elements (reshape,
  transpose, concatenate, where, ...: ACC over the view's strides where NumPy returns a
  view, else GATHER, a scatter-add of the source indices found by running the function
  on an index array);
- NumPy adjoints (PY records): matmul/dot (gA = gC B^T, gB = A^T gC), two-operand einsum
  (inner, vdot, tensordot written as one), cumsum, prod, and solve, inv, det, slogdet
  (Giles 2008, "An extended collection of matrix derivative results for forward and
  reverse mode AD"), cholesky (Murray 2016);
- compositions of the above in NumPy's own formulas (var, std, norm, diff, trace, ...);
- every other function the Dual supports: its local Jacobian-transpose product from
  the Dual itself (the function re-run on Duals seeded with the identity over its
  traced inputs, in chunks).  Exact, and the same errors as the Dual (ties, refused
  arguments), at a cost that grows with the size of those inputs.

Values and adjoints of a node are C-contiguous float64 blocks of its shape.  The tape
belongs to one call, so concurrent gradients in threads are independent; the only
module state is the pool of reusable buffers (tape.pxi), used under the GIL.  One
extension module, one file per concern (``_rev/*.pxi``, included in dependency order):
the tape, node and record builders, the Tracer type, dispatch and the generic adjoint,
the dedicated adjoints by family, the drivers.  In-place writes follow NumPy's semantics
where they can be recorded (``y[i] = v``, ``y += v`` rebind y to a new node; a write
through a view reaches its base) and raise where they cannot (other live views would
miss it).
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

_FD_HINT = ("or use method='dual' (forward mode) or a finite-difference method "
            "(method='central')")

include "_rev/tape.pxi"
include "_rev/records.pxi"
include "_rev/tracer.pxi"
include "_rev/dispatch.pxi"
include "_rev/adjoints.pxi"
include "_rev/linalg.pxi"
include "_rev/compositions.pxi"

# NumPy function -> its own adjoint (the rest go to the Dual's, dispatch.pxi)
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

include "_rev/driver.pxi"

# array-like, not a Python sequence, as the Dual (dualfd/_arrays.pxd)
not_a_sequence(Tracer)
