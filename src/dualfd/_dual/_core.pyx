# cython: language_level=3, cdivision=True
"""Forward-mode dual numbers: the Dual array type and the method='dual' driver.

One extension module, kept in one file per concern (the .pxi files below, included
in dependency order): the type and its operators; memory and views; the dispatch
tables; the elementwise rules (from csrc/rules.def); then one file per family of
NumPy functions.  Adding a NumPy function is one implementation plus one
registration (`_FUNCTIONS` entry) in its family's file; the generic tests pick it up
from the registry.

Tangent layout: a Dual of shape s with k directions stores its value as a C-ordered
block of prod(s) doubles and its tangent as prod(s) * k doubles with each element's
k directions contiguous (shape ``s + (k,)``, "tangents last").  Measured on the
product-rule kernel (gcc -O3, one core), tangents last vs first:
n=100, k=100: 2.1 us vs 8.0 us; n=1000, k=100: 29 us vs 81 us; n=10^4, k=8: 29 us vs
67 us; n=100, k=1: 0.14 us vs 0.10 us.  Tangents last lets the kernel test once per
element whether a partial is finite and then run a branch-free loop over k, and it is
also the public tangent shape, so `.tangent` is a view and NumPy functions with
``axis=`` apply unchanged to the tangent block.

Views follow NumPy: basic indexing, reshape (where possible), transpose, iteration and
broadcast_to return Duals that share the memory of the Dual they came from, so writes
through them reach it.  Memory is owned by a root Dual (small buffers inline in the
object, others on the heap); a view keeps a reference to its root, so the buffer lives
as long as any view of it.  A view is described by a pointer into the root's value
block and element strides (None when C-contiguous); its tangent needs nothing more,
because element e of the root has its directions at ``t + e * k``: a value stride s is a
tangent stride ``s * k``.  The C kernels read contiguous blocks only, so a strided view
is copied (`_c`) before a kernel reads it; results are always new contiguous roots.
The caller's x is never reached: method='dual' seeds Duals of its own.
"""

cimport cython
cimport numpy as cnp
from cpython.long cimport PyLong_Check
from cpython.bool cimport PyBool_Check
from cpython.float cimport PyFloat_Check
from cpython.mem cimport PyMem_Malloc, PyMem_Free
from cpython.pyport cimport PY_SSIZE_T_MAX
from cpython.slice cimport PySlice_Check, PySlice_GetIndicesEx
from libc.stdint cimport int64_t
from libc.string cimport memcpy, memmove, memset

from .._csrc cimport *
from .._arrays cimport c_ready, native, not_a_sequence

import functools
import operator

import numpy as np

cnp.import_array()

_add_reduce = np.add.reduce

cdef enum:
    NBUF = 16          # doubles stored inline: a 0-d Dual with k <= 15 needs no malloc
    # Doubles written before releasing the GIL (~100 ns) pays off: kernels run at
    # ~0.2-1 ns per double, so from here the release costs under 1%.
    NOGIL_MIN = 32768

# Default largest chunk (tangent directions per pass of f).  Measured on the Broyden
# tridiagonal Jacobian, ns per column for chunk 8/16/32/64/128/256/512:
#   n = 100:  1670 1003 705 480 365 368 375
#   n = 1000: 6442 5016 4284 4048 3977 4124 6590  (512: the tangents leave the cache)
# 128 is at the floor for both and keeps n <= 128 in a single pass.
DEFAULT_CHUNK = 128

include "type.pxi"
include "memory.pxi"
include "dispatch.pxi"
include "elementwise.pxi"
include "reductions.pxi"
include "shape.pxi"
include "products.pxi"
include "linalg.pxi"
include "special.pxi"
include "second.pxi"
include "driver.pxi"

# The ufuncs that carry derivatives (kinds 1, 2, 5), by name, for Dual.__getattr__.
_UFUNC_BY_NAME.update({u.__name__: u for u, e in _UFUNCS.items() if e[0] in (1, 2, 5)})

# array-like, not a Python sequence (dualfd/_arrays.pxd)
not_a_sequence(Dual)
