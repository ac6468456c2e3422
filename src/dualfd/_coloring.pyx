# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Column and star colorings of CSR sparsity patterns, and recovery of matrix
entries from compressed products: the boundary to csrc/coloring.c.

A pattern is given as CSR arrays: ``indptr`` (rows + 1) and ``indices``, int64
(other integer dtypes are converted), column indices sorted and unique within
each row.  C checks every pattern before it reads it; this module converts the
arrays, releases the GIL around the C calls and turns status codes into
exceptions.
"""

cimport numpy as cnp
from libc.stdint cimport int64_t

from ._arrays cimport c_ready

import numpy as np

cnp.import_array()

cdef extern from "coloring.h" nogil:
    enum:
        DFD_COLOR_OK, DFD_COLOR_ERR_NOMEM, DFD_COLOR_ERR_INDPTR, DFD_COLOR_ERR_INDEX,
        DFD_COLOR_ERR_UNSORTED, DFD_COLOR_ERR_COLOR, DFD_COLOR_ERR_SCALE,
        DFD_COLOR_ERR_CONFLICT, DFD_COLOR_ERR_NOT_STAR, DFD_COLOR_ERR_ASYMMETRIC
    int dfd_check_pattern(size_t m, size_t ncols, const int64_t *indptr,
                          const int64_t *indices, size_t nnz, size_t *bad)
    int64_t dfd_max_row_count(size_t m, const int64_t *indptr)
    int dfd_color_columns(size_t m, size_t n, const int64_t *indptr,
                          const int64_t *indices, size_t nnz, int64_t *colors,
                          int64_t *ncolors, size_t *bad)
    int dfd_star_coloring(size_t n, const int64_t *indptr, const int64_t *indices,
                          size_t nnz, int64_t *colors, int64_t *ncolors, size_t *bad)
    int dfd_star_recover(size_t n, const int64_t *indptr, const int64_t *indices,
                         size_t nnz, const int64_t *colors, size_t ncolors,
                         const double *B, const double *scale, double *data,
                         size_t *bad)
    int dfd_column_recover(size_t m, size_t n, const int64_t *indptr,
                           const int64_t *indices, size_t nnz, const int64_t *colors,
                           size_t ncolors, const double *B, const double *scale,
                           double *data, size_t *bad)


cdef cnp.ndarray _index_array(a, str name):
    """a as a 1-d int64 array C may read (no copy if it is one)."""
    if not isinstance(a, np.ndarray):
        a = np.asarray(a)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-d; got shape {a.shape}")
    if a.dtype.kind not in "iu" and not (a.size == 0 and a.dtype.kind in "fb"):
        raise TypeError(f"{name} must be an array of integers; got dtype {a.dtype}")
    if a.dtype.kind == "u" and a.size and a.max() > np.iinfo(np.int64).max:
        raise ValueError(f"{name} holds {a.max()}, more than int64 can hold")
    cdef cnp.ndarray r = <cnp.ndarray>a
    if not c_ready(r, cnp.NPY_INT64):
        r = np.array(a, dtype=np.int64, order="C")   # a fresh copy is aligned
    return r


cdef cnp.ndarray _float_array(a, str name, tuple shape):
    """a as a float64 array of the given shape that C may read."""
    if not isinstance(a, np.ndarray):
        a = np.asarray(a)
    if a.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be an array of real numbers; got dtype {a.dtype}")
    if a.shape != shape:
        raise ValueError(f"{name} must have shape {shape}; got {a.shape}")
    cdef cnp.ndarray r = <cnp.ndarray>a
    if not c_ready(r, cnp.NPY_DOUBLE):
        r = np.array(a, dtype=np.float64, order="C")
    return r


cdef Py_ssize_t _size(v, str name) except -1:
    """A dimension given as an integer >= 0."""
    try:
        k = v.__index__()
    except (AttributeError, TypeError):
        raise TypeError(f"{name} must be an integer; got {type(v).__name__}") from None
    if k < 0:
        raise ValueError(f"{name} must be >= 0; got {k}")
    return k


def _row_of(indptr, p):
    """The row of entry position p."""
    return int(np.searchsorted(indptr, p, side="right")) - 1


cdef int _raise(int rc, size_t bad, cnp.ndarray indptr, cnp.ndarray indices,
                Py_ssize_t ncols, colors=None, scale=None, Py_ssize_t ncolors=0) except -1:
    """Turn a negative status code of csrc/coloring.c into an exception."""
    cdef const int64_t *ip = <const int64_t*>cnp.PyArray_DATA(indptr)
    cdef const int64_t *ix = <const int64_t*>cnp.PyArray_DATA(indices)
    cdef Py_ssize_t m = indptr.shape[0] - 1
    if rc == DFD_COLOR_ERR_NOMEM:
        raise MemoryError("not enough memory to color the pattern")

    if rc == DFD_COLOR_ERR_INDPTR:
        if bad == 0 and ip[0] != 0:
            raise ValueError(f"indptr[0] must be 0; got {ip[0]}")
        if <Py_ssize_t>bad == m:
            raise ValueError(f"indptr[-1] must equal len(indices) = {indices.shape[0]}; "
                             f"got {ip[m]}")
        raise ValueError(f"indptr must be nondecreasing and at most len(indices) = "
                         f"{indices.shape[0]}; indptr[{bad}] = {ip[bad]}, "
                         f"indptr[{bad + 1}] = {ip[bad + 1]}")
    if rc == DFD_COLOR_ERR_INDEX:
        raise ValueError(f"column index out of range: indices[{bad}] = {ix[bad]} (row "
                         f"{_row_of(indptr, bad)}) is not in [0, {ncols})")
    if rc == DFD_COLOR_ERR_UNSORTED:
        raise ValueError(f"column indices must be sorted and unique within each row: "
                         f"row {_row_of(indptr, bad)} has {ix[bad - 1]} then {ix[bad]} "
                         "(scipy.sparse: call sum_duplicates() or sort_indices())")
    if rc == DFD_COLOR_ERR_COLOR:
        raise ValueError(f"colors[{bad}] = {int(colors[bad])} is not in [0, {ncolors}) "
                         f"(B has {ncolors} columns, one per color)")
    if rc == DFD_COLOR_ERR_SCALE:
        raise ValueError(f"scale[{bad}] = {float(scale[bad])!r}: scales must be finite "
                         "and nonzero")
    cdef Py_ssize_t i = _row_of(indptr, bad)
    cdef int64_t j = ix[bad]
    if rc == DFD_COLOR_ERR_CONFLICT:
        raise ValueError(f"colors is not a column coloring of this pattern: row {i} "
                         f"has entries in two columns of color {int(colors[j])} "
                         f"(column {j} and another)")
    if rc == DFD_COLOR_ERR_NOT_STAR:
        raise ValueError(f"colors is not a star coloring of this pattern: neither "
                         f"H[{i}, {j}] nor H[{j}, {i}] can be recovered (each shares "
                         "its row with another column of its color)")
    if rc == DFD_COLOR_ERR_ASYMMETRIC:
        raise ValueError(f"the pattern must be symmetric: it has ({i}, {j}) but not "
                         f"({j}, {i})")
    raise SystemError(f"csrc/coloring.c returned status {rc}")


def max_row_count(indptr):
    """The largest number of entries in a row of a CSR pattern: a lower bound
    on the number of colors of any column coloring."""
    cdef cnp.ndarray ip = _index_array(indptr, "indptr")
    cdef Py_ssize_t m = ip.shape[0] - 1
    if m < 0:
        raise ValueError("indptr must have at least one entry (rows + 1)")
    if m and np.any(ip[1:] < ip[:-1]):
        raise ValueError("indptr must be nondecreasing")
    return int(dfd_max_row_count(m, <const int64_t*>cnp.PyArray_DATA(ip)))


def color_columns(indptr, indices, m, n):
    """Partition the n columns of an m x n CSR pattern into structurally
    orthogonal groups (no two columns of a group share a row).

    Returns ``(colors, ncolors)``: int64 colors of shape (n,) in
    [0, ncolors).  Greedy first-fit over the natural, largest-first,
    smallest-last and incidence-degree orderings, then recoloring by classes;
    never more colors than first-fit in natural order.
    """
    cdef Py_ssize_t mm = _size(m, "m"), nn = _size(n, "n")
    cdef cnp.ndarray ip = _index_array(indptr, "indptr")
    cdef cnp.ndarray ix = _index_array(indices, "indices")
    if ip.shape[0] != mm + 1:
        raise ValueError(f"indptr must have m + 1 = {mm + 1} entries; got {ip.shape[0]}")
    cdef cnp.ndarray colors = np.empty(nn, dtype=np.int64)
    cdef int64_t ncolors = 0
    cdef size_t bad = 0
    cdef int rc
    with nogil:
        rc = dfd_color_columns(mm, nn, <const int64_t*>cnp.PyArray_DATA(ip),
                               <const int64_t*>cnp.PyArray_DATA(ix), ix.shape[0],
                               <int64_t*>cnp.PyArray_DATA(colors), &ncolors, &bad)
    if rc < 0:
        _raise(rc, bad, ip, ix, nn)
    return colors, int(ncolors)


def star_coloring(indptr, indices, n):
    """Star coloring of a symmetric n x n CSR pattern (both triangles; the
    diagonal counts as present): adjacent columns differ in color and every
    path on 4 vertices has at least 3 colors, so a symmetric H is recovered
    from H @ S by direct substitution (see star_recover).

    Returns ``(colors, ncolors)``: the better of a greedy star coloring
    (Gebremedhin, Manne & Pothen 2005, Algorithm 4.1) and a column coloring.
    """
    cdef Py_ssize_t nn = _size(n, "n")
    cdef cnp.ndarray ip = _index_array(indptr, "indptr")
    cdef cnp.ndarray ix = _index_array(indices, "indices")
    if ip.shape[0] != nn + 1:
        raise ValueError(f"indptr must have n + 1 = {nn + 1} entries; got {ip.shape[0]}")
    cdef cnp.ndarray colors = np.empty(nn, dtype=np.int64)
    cdef int64_t ncolors = 0
    cdef size_t bad = 0
    cdef int rc
    with nogil:
        rc = dfd_star_coloring(nn, <const int64_t*>cnp.PyArray_DATA(ip),
                               <const int64_t*>cnp.PyArray_DATA(ix), ix.shape[0],
                               <int64_t*>cnp.PyArray_DATA(colors), &ncolors, &bad)
    if rc < 0:
        _raise(rc, bad, ip, ix, nn)
    return colors, int(ncolors)


cdef tuple _plan(indptr, indices, colors, B, scale, bint square):
    """The converted arguments of the recoveries: (ip, ix, colors, B, scale)."""
    cdef cnp.ndarray ip = _index_array(indptr, "indptr")
    cdef cnp.ndarray ix = _index_array(indices, "indices")
    cdef cnp.ndarray cl = _index_array(colors, "colors")
    if ip.shape[0] < 1:
        raise ValueError("indptr must have at least one entry (rows + 1)")
    cdef Py_ssize_t m = ip.shape[0] - 1, n = cl.shape[0]
    if square and n != m:
        raise ValueError(f"colors must have one entry per column, n = len(indptr) - 1 "
                         f"= {m}; got {n}")
    if not isinstance(B, np.ndarray):
        B = np.asarray(B)
    if B.ndim != 2 or B.shape[0] != m:
        raise ValueError(f"B must have shape (rows, ncolors) with rows = "
                         f"len(indptr) - 1 = {m}; got {B.shape}")
    cdef cnp.ndarray b = _float_array(B, "B", B.shape)
    cdef cnp.ndarray s = _float_array(scale, "scale", (n,))
    return ip, ix, cl, b, s


def star_recover(indptr, indices, colors, B, scale):
    """Entries of a symmetric H from ``B = H @ S``, ``S[j, c] = scale[j]`` where
    ``colors[j] == c``: float64 data aligned with indices.

    ``H[i, j] = B[i, colors[j]] / scale[j]`` where j is the only column of its
    color in row i; otherwise ``H[j, i] = B[j, colors[i]] / scale[i]``, direct
    for a star coloring.  ValueError if neither is direct.
    """
    cdef cnp.ndarray ip, ix, cl, b, s
    ip, ix, cl, b, s = _plan(indptr, indices, colors, B, scale, True)
    cdef cnp.ndarray data = np.empty(ix.shape[0], dtype=np.float64)
    cdef size_t n = cl.shape[0], nnz = ix.shape[0], ncolors = b.shape[1], bad = 0
    cdef int rc
    with nogil:
        rc = dfd_star_recover(n, <const int64_t*>cnp.PyArray_DATA(ip),
                              <const int64_t*>cnp.PyArray_DATA(ix), nnz,
                              <const int64_t*>cnp.PyArray_DATA(cl), ncolors,
                              <const double*>cnp.PyArray_DATA(b),
                              <const double*>cnp.PyArray_DATA(s),
                              <double*>cnp.PyArray_DATA(data), &bad)
    if rc < 0:
        _raise(rc, bad, ip, ix, n, cl, s, ncolors)
    return data


def column_recover(indptr, indices, colors, B, scale):
    """Entries of J (m x n) from ``B = J @ S``, ``S[j, c] = scale[j]`` where
    ``colors[j] == c``: ``data[p] = B[i, colors[j]] / scale[j]``, aligned with
    indices.  ValueError if two columns of one color share a row.
    """
    cdef cnp.ndarray ip, ix, cl, b, s
    ip, ix, cl, b, s = _plan(indptr, indices, colors, B, scale, False)
    cdef cnp.ndarray data = np.empty(ix.shape[0], dtype=np.float64)
    cdef size_t m = ip.shape[0] - 1, n = cl.shape[0], nnz = ix.shape[0]
    cdef size_t ncolors = b.shape[1], bad = 0
    cdef int rc
    with nogil:
        rc = dfd_column_recover(m, n, <const int64_t*>cnp.PyArray_DATA(ip),
                                <const int64_t*>cnp.PyArray_DATA(ix), nnz,
                                <const int64_t*>cnp.PyArray_DATA(cl), ncolors,
                                <const double*>cnp.PyArray_DATA(b),
                                <const double*>cnp.PyArray_DATA(s),
                                <double*>cnp.PyArray_DATA(data), &bad)
    if rc < 0:
        _raise(rc, bad, ip, ix, n, cl, s, ncolors)
    return data
