/* Finite-difference kernels; see fd.h for the contracts. */
#include "fd.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

const int dfd_stencil_npoints[DFD_NSTENCILS] = {1, 1, 2, 2, 2, 1};
const int dfd_stencil_needs_f0[DFD_NSTENCILS] = {1, 1, 0, 1, 1, 0};
const double dfd_stencil_offset[DFD_NSTENCILS][2] = {
    {1, 0}, {-1, 0}, {1, -1}, {1, 2}, {-1, -2}, {1, 0}};

double dfd_default_rstep(int method)
{
    /* Truncation error O(h^p) balanced against rounding error O(eps/h) gives
     * h ~ eps^(1/(p+1)): p = 1 for one-sided, p = 2 for central
     * (Nocedal & Wright, Numerical Optimization, 2nd ed., sec. 8.1).  The
     * complex step has no cancellation, so h only needs h^2 |f'''| << |f'|. */
    switch (method) {
    case DFD_FORWARD:
    case DFD_BACKWARD:
        return sqrt(DBL_EPSILON);
    case DFD_CENTRAL:
        return cbrt(DBL_EPSILON);
    default:
        return -1e-20;
    }
}

/* Round h so that (x + o*h) - x == o*h holds for each offset o of the stencil.
 * Taking h from the farthest point makes it a multiple of that point's ulp,
 * so the nearer points are exact too; a second pass settles the rare case
 * where the division by the offset or the other side still rounds. */
static double exact_step(double x, double h, int st)
{
    int npts = dfd_stencil_npoints[st];
    for (int pass = 0; pass < 3; pass++) {
        int ok = 1;
        for (int p = 0; p < npts; p++) {
            double o = dfd_stencil_offset[st][p];
            if ((x + o * h) - x != o * h) ok = 0;
        }
        if (ok) return h;
        double far = dfd_stencil_offset[st][0];
        if (npts == 2 && fabs(dfd_stencil_offset[st][1]) > fabs(far))
            far = dfd_stencil_offset[st][1];
        /* central: take the side of larger magnitude, whose ulp is coarser */
        if (st == DFD_ST_CENTRAL) far = (x >= 0) ? 1.0 : -1.0;
        if (pass == 1) far = -far; /* the other side, if the first did not settle */
        h = ((x + far * h) - x) / far;
    }
    return h;
}

static int fits(double x, double h, int st, double lb, double ub)
{
    for (int p = 0; p < dfd_stencil_npoints[st]; p++) {
        double xp = x + dfd_stencil_offset[st][p] * h;
        if (!(xp >= lb && xp <= ub)) return 0;
    }
    return 1;
}

/* Preference order of stencils per method when bounds interfere. */
static const unsigned char choices[3][3] = {
    {DFD_ST_FORWARD, DFD_ST_BACKWARD, DFD_ST_BACKWARD},
    {DFD_ST_BACKWARD, DFD_ST_FORWARD, DFD_ST_FORWARD},
    {DFD_ST_CENTRAL, DFD_ST_FORWARD3, DFD_ST_BACKWARD3},
};

int dfd_fd_steps(size_t n, const double *x, int method, const double *step,
                 const double *lb, const double *ub,
                 double *h, unsigned char *st, size_t *bad)
{
    double r = dfd_default_rstep(method);
    for (size_t j = 0; j < n; j++) {
        double xj = x[j], hj;
        if (step) {
            hj = step[j];
        } else if (r < 0) {
            hj = -r;
        } else {
            double s = fabs(xj);
            hj = r * (s > 1.0 ? s : 1.0);
        }
        if (!(hj > 0 && isfinite(hj))) { *bad = j; return DFD_ERR_STEP; }

        if (method == DFD_COMPLEX) {
            /* x stays real: bounds never matter, and no rounding is needed */
            h[j] = hj;
            st[j] = DFD_ST_COMPLEX;
            continue;
        }
        double l = lb ? lb[j] : -INFINITY, u = ub ? ub[j] : INFINITY;
        if (!(xj >= l && xj <= u)) { *bad = j; return DFD_ERR_OUTSIDE; }

        int chosen = -1;
        for (int c = 0; c < 3 && chosen < 0; c++) {
            int s = choices[method][c];
            double hr = exact_step(xj, hj, s);
            if (hr > 0 && fits(xj, hr, s, l, u)) { chosen = s; hj = hr; }
        }
        if (chosen < 0) {
            *bad = j;
            /* Distinguish a step lost to rounding from a lack of room. */
            return exact_step(xj, hj, choices[method][0]) > 0 ? DFD_ERR_NO_ROOM
                                                              : DFD_ERR_STEP;
        }
        h[j] = hj;
        st[j] = (unsigned char)chosen;
    }
    return DFD_OK;
}

size_t dfd_fd_count_points(size_t n, const unsigned char *st)
{
    size_t k = 0;
    for (size_t j = 0; j < n; j++) k += (size_t)dfd_stencil_npoints[st[j]];
    return k;
}

size_t dfd_fd_points(size_t n, const double *x, const double *h,
                     const unsigned char *st, size_t j0, size_t j1, int center,
                     double *X, size_t K, size_t *col)
{
    size_t c = center ? 1 : 0;
    for (size_t j = j0; j < j1; j++) {
        col[j - j0] = c;
        c += (size_t)dfd_stencil_npoints[st[j]];
    }
    if (c != K) return c;
    for (size_t i = 0; i < n; i++) {
        double *row = X + i * K;
        for (size_t p = 0; p < K; p++) row[p] = x[i];
        if (i < j0 || i >= j1) continue;
        for (int p = 0; p < dfd_stencil_npoints[st[i]]; p++)
            row[col[i - j0] + (size_t)p] = x[i] + dfd_stencil_offset[st[i]][p] * h[i];
    }
    return c;
}

size_t dfd_fd_points_complex(size_t n, const double *x, const double *h, size_t j0,
                             size_t j1, int center, double *X, size_t K, size_t *col)
{
    size_t c = center ? 1 : 0;
    for (size_t j = j0; j < j1; j++) col[j - j0] = c++;
    if (c != K) return c;
    for (size_t i = 0; i < n; i++) {
        double *row = X + 2 * i * K;
        for (size_t p = 0; p < K; p++) {
            row[2 * p] = x[i];
            row[2 * p + 1] = 0.0;
        }
        if (i >= j0 && i < j1) row[2 * col[i - j0] + 1] = h[i];
    }
    return c;
}

/* Points of a color: as many as its members' stencils need at most.  A member
 * with fewer points (forward beside central, near a bound) stays at x beyond them. */
size_t dfd_fd_color_count_points(const unsigned char *st, const int64_t *cptr,
                                 const int64_t *members, size_t c)
{
    int np = 0;
    for (int64_t a = cptr[c]; a < cptr[c + 1]; a++)
        if (dfd_stencil_npoints[st[members[a]]] > np)
            np = dfd_stencil_npoints[st[members[a]]];
    return (size_t)np;
}

size_t dfd_fd_color_points(size_t n, const double *x, const double *h,
                           const unsigned char *st, const int64_t *cptr,
                           const int64_t *members, size_t c0, size_t c1, int center,
                           int cplx, double *X, size_t K, size_t *col)
{
    size_t c = center ? 1 : 0, es = cplx ? 2 : 1;
    for (size_t g = c0; g < c1; g++) {
        col[g - c0] = c;
        c += cplx ? 1 : dfd_fd_color_count_points(st, cptr, members, g);
    }
    if (c != K) return c;
    for (size_t i = 0; i < n; i++) {
        double *row = X + es * i * K;
        for (size_t p = 0; p < K; p++) {
            row[es * p] = x[i];
            if (cplx) row[es * p + 1] = 0.0;
        }
    }
    for (size_t g = c0; g < c1; g++) {
        for (int64_t a = cptr[g]; a < cptr[g + 1]; a++) {
            size_t j = (size_t)members[a];
            double *row = X + es * j * K + es * col[g - c0];
            if (cplx) {
                row[1] = h[j];
                continue;
            }
            for (int p = 0; p < dfd_stencil_npoints[st[j]]; p++)
                row[p] = x[j] + dfd_stencil_offset[st[j]][p] * h[j];
        }
    }
    return c;
}

void dfd_fd_color_point(size_t n, const double *x, const double *h,
                        const unsigned char *st, const int64_t *cptr,
                        const int64_t *members, size_t c, int p, int cplx, double *P)
{
    if (cplx) {
        for (size_t i = 0; i < n; i++) {
            P[2 * i] = x[i];
            P[2 * i + 1] = 0.0;
        }
    } else {
        memcpy(P, x, n * sizeof(double));
    }
    for (int64_t a = cptr[c]; a < cptr[c + 1]; a++) {
        size_t j = (size_t)members[a];
        if (cplx)
            P[2 * j + 1] = h[j];
        else if (p < dfd_stencil_npoints[st[j]])
            P[j] = x[j] + dfd_stencil_offset[st[j]][p] * h[j];
    }
}

/* The weights below are the Taylor-series stencils of Fornberg,
 * "Generation of finite difference formulas on arbitrarily spaced grids"
 * (Math. Comp. 51, 1988), for the first derivative on the points
 * {0, 1}, {-1, 1} and {0, 1, 2} (mirrored for backward); the complex step is
 * Squire & Trapp, SIAM Review 40 (1998): f(x + ih) = f + ih f' + O(h^2). */
static inline double quotient(int st, double h, double a, double b, double c)
{
    /* a = f0, b = first point, c = second point.  Multiplying by 1/h (0.5/h),
     * computed once per column, instead of dividing every entry: a division costs
     * ~1 us per 1000 entries, as much as the rest of a column; the result differs
     * from (b - a) / h by at most an ulp.  Every kernel forms quotients this way, so
     * loop, vectorized and compressed Jacobians agree to the last bit. */
    switch (st) {
    case DFD_ST_FORWARD: return (b - a) * (1.0 / h);
    case DFD_ST_BACKWARD: return (a - b) * (1.0 / h);
    case DFD_ST_CENTRAL: return (b - c) * (0.5 / h);
    /* (-3a + 4b - c) and (3a - 4b + c) written as differences from f0, so a
     * constant f gives exactly 0 and the cancellation is no worse than central */
    case DFD_ST_FORWARD3: return (4 * (b - a) - (c - a)) * (0.5 / h);
    case DFD_ST_BACKWARD3: return ((c - a) - 4 * (b - a)) * (0.5 / h);
    default: return b * (1.0 / h);
    }
}

void dfd_fd_column(size_t m, int st, double h, const double *f0,
                   const double *f1, const double *f2, ptrdiff_t fs,
                   double *J, ptrdiff_t js)
{
    /* One loop per stencil, so the compiler vectorizes each; a switch inside
     * the loop cost ~20 instructions per entry. */
    ptrdiff_t n = (ptrdiff_t)m;
#define DFD_COLUMN_LOOP(expr) \
    for (ptrdiff_t i = 0; i < n; i++) { \
        double a = f0 ? f0[i * fs] : 0.0, b = f1[i * fs], c = f2 ? f2[i * fs] : 0.0; \
        (void)a; (void)c; \
        J[i * js] = (expr); \
    }
    if (fs == 1 && js == 1 && f0 && (st == DFD_ST_FORWARD || st == DFD_ST_BACKWARD)) {
        /* the common contiguous one-sided case, written out for the vectorizer */
        double r = 1.0 / h;
        if (st == DFD_ST_FORWARD)
            for (ptrdiff_t i = 0; i < n; i++) J[i] = (f1[i] - f0[i]) * r;
        else
            for (ptrdiff_t i = 0; i < n; i++) J[i] = (f0[i] - f1[i]) * r;
        return;
    }
    if (fs == 1 && js == 1 && st == DFD_ST_CENTRAL) {
        double r = 0.5 / h;
        for (ptrdiff_t i = 0; i < n; i++) J[i] = (f1[i] - f2[i]) * r;
        return;
    }
    switch (st) {
    case DFD_ST_FORWARD: DFD_COLUMN_LOOP(quotient(DFD_ST_FORWARD, h, a, b, c)); break;
    case DFD_ST_BACKWARD: DFD_COLUMN_LOOP(quotient(DFD_ST_BACKWARD, h, a, b, c)); break;
    case DFD_ST_CENTRAL: DFD_COLUMN_LOOP(quotient(DFD_ST_CENTRAL, h, a, b, c)); break;
    case DFD_ST_FORWARD3: DFD_COLUMN_LOOP(quotient(DFD_ST_FORWARD3, h, a, b, c)); break;
    case DFD_ST_BACKWARD3: DFD_COLUMN_LOOP(quotient(DFD_ST_BACKWARD3, h, a, b, c)); break;
    default: DFD_COLUMN_LOOP(quotient(DFD_ST_COMPLEX, h, a, b, c)); break;
    }
#undef DFD_COLUMN_LOOP
}

void dfd_fd_quotients(size_t m, size_t n, size_t K, const double *F, size_t es,
                      size_t off, const double *h, const unsigned char *st,
                      const size_t *col, const double *f0, ptrdiff_t f0s, double *J,
                      size_t ldj)
{
    int uniform = 1; /* without bounds every column has the method's stencil */
    for (size_t j = 1; j < n; j++)
        if (st[j] != st[0]) uniform = 0;
    for (size_t i = 0; i < m; i++) {
        const double *row = F + i * K * es + off;
        double a = f0 ? f0[(ptrdiff_t)i * f0s] : 0.0;
        double *Ji = J + i * ldj;
        if (uniform && n) {
            /* one loop per stencil: no switch per entry */
            switch (st[0]) {
            case DFD_ST_FORWARD:
                for (size_t j = 0; j < n; j++)
                    Ji[j] = (row[col[j] * es] - a) * (1.0 / h[j]);
                continue;
            case DFD_ST_BACKWARD:
                for (size_t j = 0; j < n; j++)
                    Ji[j] = (a - row[col[j] * es]) * (1.0 / h[j]);
                continue;
            case DFD_ST_CENTRAL:
                for (size_t j = 0; j < n; j++)
                    Ji[j] = (row[col[j] * es] - row[(col[j] + 1) * es]) * (0.5 / h[j]);
                continue;
            case DFD_ST_COMPLEX:
                for (size_t j = 0; j < n; j++) Ji[j] = row[col[j] * es] * (1.0 / h[j]);
                continue;
            default:
                break;
            }
        }
        for (size_t j = 0; j < n; j++) {
            const double *p = row + col[j] * es;
            double c = dfd_stencil_npoints[st[j]] == 2 ? p[es] : 0.0;
            Ji[j] = quotient(st[j], h[j], a, p[0], c);
        }
    }
}

void dfd_fd_factors(size_t n, const double *h, const unsigned char *st, double *r)
{
    for (size_t j = 0; j < n; j++)
        r[j] = (st[j] == DFD_ST_CENTRAL || st[j] == DFD_ST_FORWARD3 ||
                st[j] == DFD_ST_BACKWARD3) ? 0.5 / h[j] : 1.0 / h[j];
}

/* quotient() with its factor 1/h or 0.5/h given (the same operations, so the same
 * bits): a compressed Jacobian has several entries per column. */
static inline double quotient_r(int st, double r, double a, double b, double c)
{
    switch (st) {
    case DFD_ST_FORWARD: return (b - a) * r;
    case DFD_ST_BACKWARD: return (a - b) * r;
    case DFD_ST_CENTRAL: return (b - c) * r;
    case DFD_ST_FORWARD3: return (4 * (b - a) - (c - a)) * r;
    case DFD_ST_BACKWARD3: return ((c - a) - 4 * (b - a)) * r;
    default: return b * r;
    }
}

void dfd_fd_entries(size_t ne, const int64_t *rows, const int64_t *cols,
                    const int64_t *pos, const int64_t *colors, const size_t *col,
                    size_t c0, const double *F, ptrdiff_t fr, ptrdiff_t fc,
                    const double *f0, ptrdiff_t f0s, const double *r,
                    const unsigned char *st, double *data)
{
    for (size_t e = 0; e < ne; e++) {
        size_t i = (size_t)rows[e], j = (size_t)cols[e];
        const double *p = F + (ptrdiff_t)i * fr;
        if (col) p += (ptrdiff_t)col[(size_t)colors[j] - c0] * fc;
        double a = f0 ? f0[(ptrdiff_t)i * f0s] : 0.0;
        double c = dfd_stencil_npoints[st[j]] == 2 ? p[fc] : 0.0;
        data[pos ? (size_t)pos[e] : e] = quotient_r(st[j], r[j], a, p[0], c);
    }
}

size_t dfd_first_nonfinite(size_t len, const double *a, ptrdiff_t s)
{
    /* x - x is 0 for a finite x and NaN for inf or NaN, and a sum of such terms is
     * NaN exactly when one of them is; four independent sums let the compiler use
     * packed SSE2 arithmetic without -ffast-math (a bit test on the exponent needs
     * 64-bit integer compares, SSE4.1, and ran scalar: 0.75 us per 1000 doubles).
     * Only a block whose sum is NaN is searched. */
    for (size_t i0 = 0; i0 < len; i0 += 256) {
        size_t i1 = i0 + 256 < len ? i0 + 256 : len;
        double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
        size_t i = i0;
        if (s == 1) {
#if defined(__GNUC__)
            /* GCC and Clang vector types: two packed sums of two lanes each */
            typedef double v2d __attribute__((vector_size(16)));
            v2d u = {0.0, 0.0}, v = {0.0, 0.0};
            for (; i + 4 <= i1; i += 4) {
                v2d p, q;
                memcpy(&p, a + i, sizeof p);
                memcpy(&q, a + i + 2, sizeof q);
                u += p - p;
                v += q - q;
            }
            s0 = u[0] + u[1];
            s1 = v[0] + v[1];
#else
            for (; i + 4 <= i1; i += 4) {
                s0 += a[i] - a[i];
                s1 += a[i + 1] - a[i + 1];
                s2 += a[i + 2] - a[i + 2];
                s3 += a[i + 3] - a[i + 3];
            }
#endif
        }
        for (; i < i1; i++) s0 += a[(ptrdiff_t)i * s] - a[(ptrdiff_t)i * s];
        if ((s0 + s1) + (s2 + s3) != 0.0)
            for (i = i0; i < i1; i++)
                if (!isfinite(a[(ptrdiff_t)i * s])) return i;
    }
    return len;
}
