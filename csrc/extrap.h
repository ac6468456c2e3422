/* Extrapolated finite differences: a sequence of steps h_k = h_0 / 2^k per task,
 * a Richardson tableau over the sequence, error estimates and the stopping rule;
 * also the weights of fixed higher-order stencils.  Part of the FD kernels
 * (fd.h): plain C, pointers, lengths and strides, no Python, no allocation.
 *
 * A task is one derivative column: m entries (f's outputs) differentiated along
 * one direction (a coordinate, or v for a jvp), or one second derivative of a
 * Hessian.  Its points at level k are the stencil's offsets times h_k; the driver
 * evaluates them and hands the values to dfd_seq_level.
 */
#ifndef DFD_EXTRAP_H
#define DFD_EXTRAP_H

#include <stddef.h>

/* Stencils of a sequence.  F1..F4 are the level's points in this order. */
enum dfd_seq {
    DFD_SQ_CENTRAL = 0,  /* +h, -h:            (F1 - F2) / 2h              even powers */
    DFD_SQ_FORWARD = 1,  /* +h, +2h, and f0:   (-3 f0 + 4 F1 - F2) / 2h    all powers from h^2 */
    DFD_SQ_BACKWARD = 2, /* -h, -2h, and f0:   (3 f0 - 4 F1 + F2) / 2h     all powers from h^2 */
    DFD_SQ_DIAG = 3,     /* +h, -h, and f0:    (F1 - 2 f0 + F2) / h^2      even powers */
    DFD_SQ_CROSS = 4,    /* (+h,+h), (+h,-h), (-h,+h), (-h,-h) along (e_j, e_k):
                            (F1 - F2 - F3 + F4) / 4h^2                      even powers */
    DFD_NSEQ = 5
};

/* Points per level of each stencil. */
extern const int dfd_seq_npoints[DFD_NSEQ];

/* The widest tableau a sequence keeps (levels per sweep). */
#define DFD_SEQ_MAXLEVELS 16

/* Bits of an entry's flags. */
#define DFD_SQ_DONE 1u      /* stopped: converged, or at f's rounding floor */
#define DFD_SQ_TOL 2u       /* the estimate met atol + rtol * scale */
#define DFD_SQ_LINEAR 4u    /* the first two levels agreed to rounding: larger
                               steps may lower the rounding floor */
#define DFD_SQ_STARTED 8u   /* best holds a value */
#define DFD_SQ_FLOOR 64u    /* stopped at f's rounding floor: the estimate is mostly
                               rounding, or a smaller step's rounding alone exceeds
                               it; no step does better */

/* One level k (0, 1, ...) of one task, for its m entries.
 *   F        the level's values: entry i of point p is F[i*fr + p*fc]
 *   f0       f(x), m entries at stride f0s (read by every stencil: a level whose
 *            values equal f0 bitwise carries no rounding)
 *   h        the level's step (the actual offset of x + h from x)
 *   xmag     |x| along the task's direction: the rounding of arguments of size
 *            |x| perturbs f by about eps |x| |f'|, which the estimate includes
 *   row      m x L: the tableau row of level k - 1 in, of level k out
 *   best, err, rnd   per entry: the chosen estimate, its error estimate, and the
 *            rounding part of that estimate
 *   flags    per entry, DFD_SQ_* bits
 * The error estimate of tableau entry T[k][l] is
 *   max(|T[k][l] - T[k][l-1]|, |T[k][l] - T[k-1][l-1]|) + rounding,
 * the smallest over l is the level's candidate; it replaces best when smaller, or
 * when it disagrees with best by more than both estimates (best was then taken
 * before the sequence reached its asymptotic range).  An entry stops when its
 * estimate meets atol + rtol * max_i |best_i| (DFD_SQ_TOL), or at the rounding
 * floor (DFD_SQ_FLOOR): the estimate is at most twice its rounding part, or the
 * new level's rounding part alone exceeds it.
 * Returns the number of entries not yet done. */
size_t dfd_seq_level(size_t m, int L, int kind, int k, double h, double xmag,
                     const double *F, ptrdiff_t fr, ptrdiff_t fc,
                     const double *f0, ptrdiff_t f0s, double rtol, double atol,
                     double *row, double *best, double *err, double *rnd,
                     unsigned char *flags);

/* The flags a sweep from a larger step starts with: 0 for the entries that ask
 * for one (not within tolerance, stopped at the rounding floor, first two levels
 * agreeing to rounding), DFD_SQ_DONE for the others, which would keep it running
 * at steps too large for them.  Returns the number of entries that ask. */
size_t dfd_seq_growth_flags(size_t m, const unsigned char *flags, unsigned char *next);

/* Merge a sweep from a larger step (best2, err2, rnd2, flags2) into the first:
 * an entry takes the new estimate when its error is smaller and the two agree
 * within their estimates.  Returns the number of entries taken. */
int dfd_seq_merge(size_t m, double *best, double *err, double *rnd,
                   unsigned char *flags, const double *best2, const double *err2,
                   const double *rnd2, const unsigned char *flags2);

/* Weights w[0..np-1] of the first derivative at 0 from values at the offsets
 * o[0..np-1] (exact for polynomials of degree np - 1), by Fornberg's recurrence
 * (B. Fornberg, "Generation of finite difference formulas on arbitrarily spaced
 * grids", Math. Comp. 51(184):699-706, 1988).  np <= 16.  Returns 0, or -1 if
 * two offsets coincide. */
int dfd_fd_weights(int np, const double *o, double *w);

/* One Jacobian column from a fixed stencil: J[i*js] = (w0 f0_i + sum_p w[p] F_ip) / h
 * with F_ip = F[i*fr + p*fc] (f0 may be NULL when w0 == 0). */
void dfd_fd_stencil_column(size_t m, int np, const double *w, double w0,
                           const double *F, ptrdiff_t fr, ptrdiff_t fc,
                           const double *f0, ptrdiff_t f0s, double h,
                           double *J, ptrdiff_t js);

#endif
