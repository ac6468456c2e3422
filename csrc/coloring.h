/* Column and star colorings of sparsity patterns, and the recovery of matrix
 * entries from compressed products.
 *
 * Plain C: pointers, lengths, status codes. No Python.
 * A pattern is CSR: indptr[m + 1] (indptr[0] == 0, nondecreasing, indptr[m] ==
 * nnz) and indices[nnz], strictly increasing within each row, in [0, ncols).
 * Every function checks its pattern first (O(nnz)), so no input makes C read
 * out of bounds. Colors are int64 in [0, ncolors).
 */
#ifndef DFD_COLORING_H
#define DFD_COLORING_H

#include <stddef.h>
#include <stdint.h>

/* Status codes (negative: error; *bad names the offending item). */
#define DFD_COLOR_OK 0
#define DFD_COLOR_ERR_NOMEM (-1)      /* malloc failed or sizes overflow */
#define DFD_COLOR_ERR_INDPTR (-2)     /* *bad = row: indptr[0] != 0, indptr[row+1] <
                                         indptr[row], or indptr[m] != nnz (row = m) */
#define DFD_COLOR_ERR_INDEX (-3)      /* *bad = position: index outside [0, ncols) */
#define DFD_COLOR_ERR_UNSORTED (-4)   /* *bad = position: not greater than the index
                                         before it in its row (unsorted or repeated) */
#define DFD_COLOR_ERR_COLOR (-5)      /* *bad = column: color outside [0, ncolors) */
#define DFD_COLOR_ERR_SCALE (-6)      /* *bad = column: scale zero or not finite */
#define DFD_COLOR_ERR_CONFLICT (-7)   /* *bad = position: two columns of its color
                                         have an entry in its row */
#define DFD_COLOR_ERR_NOT_STAR (-8)   /* *bad = position: neither H[i,j] nor H[j,i]
                                         is alone of its color in its row */
#define DFD_COLOR_ERR_ASYMMETRIC (-9) /* *bad = position of (i,j): (j,i) is missing,
                                         and it was needed */

/* Check a CSR pattern of m rows and ncols columns (see above). */
int dfd_check_pattern(size_t m, size_t ncols, const int64_t *indptr,
                      const int64_t *indices, size_t nnz, size_t *bad);

/* The largest number of entries in a row: a lower bound on the colors of any
 * column coloring. indptr must be nondecreasing (not checked here). */
int64_t dfd_max_row_count(size_t m, const int64_t *indptr);

/* Column coloring of an m x n pattern: no two columns of one color have an
 * entry in the same row (a distance-2 coloring of the bipartite graph).
 * Greedy first-fit over natural, largest-first, smallest-last and
 * incidence-degree orderings (the last two, and a few rounds of recoloring by
 * classes, within a work budget); the fewest colors wins (ties: the first);
 * the search stops at the lower bound (the longest row). Natural order always
 * runs. colors[n] out, *ncolors out. */
int dfd_color_columns(size_t m, size_t n, const int64_t *indptr,
                      const int64_t *indices, size_t nnz, int64_t *colors,
                      int64_t *ncolors, size_t *bad);

/* Star coloring of a symmetric n x n pattern (both triangles; the diagonal is
 * treated as present whether listed or not): a distance-1 coloring in which
 * every path on 4 vertices has at least 3 colors. The better of a greedy star
 * coloring and a column coloring (a distance-2 coloring; skipped when its lower
 * bound shows it cannot be better). ASYMMETRIC if the pattern is not symmetric. */
int dfd_star_coloring(size_t n, const int64_t *indptr, const int64_t *indices,
                      size_t nnz, int64_t *colors, int64_t *ncolors, size_t *bad);

/* Recover a symmetric H from B = H @ S, S[j, c] = scale[j] if colors[j] == c.
 * B is n x ncolors, row-major. data[nnz] out, aligned with indices. */
int dfd_star_recover(size_t n, const int64_t *indptr, const int64_t *indices,
                     size_t nnz, const int64_t *colors, size_t ncolors,
                     const double *B, const double *scale, double *data,
                     size_t *bad);

/* Recover J (m x n) from B = J @ S: data[p] = B[i, colors[j]] / scale[j].
 * B is m x ncolors, row-major. Fails if two columns of one color share a row. */
int dfd_column_recover(size_t m, size_t n, const int64_t *indptr,
                       const int64_t *indices, size_t nnz, const int64_t *colors,
                       size_t ncolors, const double *B, const double *scale,
                       double *data, size_t *bad);

#endif
