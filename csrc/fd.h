/* Finite-difference kernels: steps, stencil points and difference quotients.
 *
 * Plain C: pointers, lengths and strides in, status codes out. No Python.
 * Arrays are float64; a Jacobian J is m x n, row-major, J[i*n + j] = df_i/dx_j.
 */
#ifndef DFD_FD_H
#define DFD_FD_H

#include <stddef.h>
#include <stdint.h>

/* Methods as the user names them. */
enum dfd_method { DFD_FORWARD = 0, DFD_BACKWARD = 1, DFD_CENTRAL = 2, DFD_COMPLEX = 3 };

/* The stencil used for one coordinate, after bounds handling.  Points are
 * x + o*h*e_j for the offsets o of dfd_stencil_offset; "f0" is f(x). */
enum dfd_stencil {
    DFD_ST_FORWARD = 0,   /* (f(x+h) - f0) / h                     order 1 */
    DFD_ST_BACKWARD = 1,  /* (f0 - f(x-h)) / h                     order 1 */
    DFD_ST_CENTRAL = 2,   /* (f(x+h) - f(x-h)) / 2h                order 2 */
    DFD_ST_FORWARD3 = 3,  /* (-3 f0 + 4 f(x+h) - f(x+2h)) / 2h     order 2 */
    DFD_ST_BACKWARD3 = 4, /* (3 f0 - 4 f(x-h) + f(x-2h)) / 2h      order 2 */
    DFD_ST_COMPLEX = 5,   /* Im f(x + ih) / h                      order 2, no cancellation */
    DFD_NSTENCILS = 6
};

/* Status codes (negative: error; *bad holds the coordinate). */
#define DFD_OK 0
#define DFD_ERR_NO_ROOM (-1)  /* no stencil fits between the bounds */
#define DFD_ERR_STEP (-2)     /* step not finite and positive, or lost in x + h */
#define DFD_ERR_OUTSIDE (-3)  /* x lies outside its bounds */

/* Number of points a stencil evaluates (besides f0), and whether it uses f0. */
extern const int dfd_stencil_npoints[DFD_NSTENCILS];
extern const int dfd_stencil_needs_f0[DFD_NSTENCILS];
/* Offset of point p of a stencil, in units of h. */
extern const double dfd_stencil_offset[DFD_NSTENCILS][2];

/* Relative step of a method for step=None: eps^(1/2), eps^(1/3), or the
 * absolute 1e-20 for complex (returned as a negative number to mark "absolute"). */
double dfd_default_rstep(int method);

/* Choose a stencil and a step per coordinate.
 *   x[n]       the point
 *   step[n]    absolute steps, or NULL for the method's default rule
 *   lb, ub [n] bounds (may be +-inf), or NULL for none
 *   h[n]       out: steps, rounded so every stencil point x + o*h satisfies
 *              (x + o*h) - x == o*h exactly in floating point
 *   st[n]      out: enum dfd_stencil per coordinate
 *   bad        out: the offending coordinate when an error is returned */
int dfd_fd_steps(size_t n, const double *x, int method, const double *step,
                 const double *lb, const double *ub,
                 double *h, unsigned char *st, size_t *bad);

/* Number of f evaluations the stencils need, not counting f0. */
size_t dfd_fd_count_points(size_t n, const unsigned char *st);

/* Build the points of the vectorized mode for coordinates j0 <= j < j1.
 * Column c of X (n rows, K columns, row-major) is one point.  If `center` is
 * nonzero column 0 is x itself and the stencil points follow; col[j - j0]
 * receives the first column of coordinate j.  Returns the number of columns
 * the block needs (nothing is written unless it equals K). */
size_t dfd_fd_points(size_t n, const double *x, const double *h,
                     const unsigned char *st, size_t j0, size_t j1, int center,
                     double *X, size_t K, size_t *col);

/* Same for the complex step: X is complex interleaved (re, im), n x K. */
size_t dfd_fd_points_complex(size_t n, const double *x, const double *h, size_t j0,
                             size_t j1, int center, double *X, size_t K, size_t *col);

/* One Jacobian column from stencil values.  f0, f1, f2 have m entries at
 * stride fs (f1 may point at imaginary parts with fs = 2 for DFD_ST_COMPLEX);
 * unused ones may be NULL.  Writes J[i * js] for i < m. */
void dfd_fd_column(size_t m, int st, double h, const double *f0,
                   const double *f1, const double *f2, ptrdiff_t fs,
                   double *J, ptrdiff_t js);

/* Columns 0 <= j < n of a block of J from the vectorized output F (m rows, K
 * columns, row-major, each entry `es` doubles apart: 1 real, 2 complex); `off`
 * is added to the entry index (1 selects imaginary parts).  h, st and col
 * describe the block's coordinates; f0 holds f(x) at stride f0s (NULL when no
 * stencil needs it).  J[i * ldj + j] receives d f_i / d x_j. */
void dfd_fd_quotients(size_t m, size_t n, size_t K, const double *F, size_t es,
                      size_t off, const double *h, const unsigned char *st,
                      const size_t *col, const double *f0, ptrdiff_t f0s, double *J,
                      size_t ldj);

/* --- compressed (sparse) Jacobians ---------------------------------------------
 * Columns are grouped into colors (members of color c: members[cptr[c]] ...
 * members[cptr[c+1] - 1]); no two columns of a color share a row of J, so one
 * point moves every member of a color at once: point p of color c is x plus
 * offset(st[j], p) * h[j] in every member j whose stencil has a point p.  A
 * color has as many points as its members' stencils have at most. */

/* Points of a color (the number of calls of f it needs, besides f(x)). */
size_t dfd_fd_color_count_points(const unsigned char *st, const int64_t *cptr,
                                 const int64_t *members, size_t c);

/* The points of colors c0 <= c < c1 as the columns of X (n x K row-major, complex
 * interleaved when cplx: then one point per color, imaginary parts h).  Column 0
 * is x if center; col[c - c0] receives the first column of color c.  Returns the
 * number of columns needed (nothing is written unless it equals K). */
size_t dfd_fd_color_points(size_t n, const double *x, const double *h,
                           const unsigned char *st, const int64_t *cptr,
                           const int64_t *members, size_t c0, size_t c1, int center,
                           int cplx, double *X, size_t K, size_t *col);

/* Point p of color c into P (n doubles; 2n interleaved when cplx). */
void dfd_fd_color_point(size_t n, const double *x, const double *h,
                        const unsigned char *st, const int64_t *cptr,
                        const int64_t *members, size_t c, int p, int cplx, double *P);

/* The factor of each coordinate's quotient: 0.5/h for the two-point stencils,
 * 1/h for the others (a compressed Jacobian reuses it for every entry of a column). */
void dfd_fd_factors(size_t n, const double *h, const unsigned char *st, double *r);

/* Entries e < ne of J, (rows[e], cols[e]), from compressed stencil values: the
 * value of f_i at point p of the color of column j is
 *   F[i * fr + (col[colors[j] - c0] + p) * fc]   (col NULL: F[i * fr + p * fc]);
 * f0 holds f(x) at stride f0s (NULL when no stencil needs it); r holds the
 * factors of dfd_fd_factors.  Writes data[pos[e]] (pos NULL: data[e]). */
void dfd_fd_entries(size_t ne, const int64_t *rows, const int64_t *cols,
                    const int64_t *pos, const int64_t *colors, const size_t *col,
                    size_t c0, const double *F, ptrdiff_t fr, ptrdiff_t fc,
                    const double *f0, ptrdiff_t f0s, const double *r,
                    const unsigned char *st, double *data);

/* Index of the first non-finite entry of a[0], a[s], ..., or len if none. */
size_t dfd_first_nonfinite(size_t len, const double *a, ptrdiff_t s);

#endif
