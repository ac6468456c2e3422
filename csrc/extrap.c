/* Extrapolated finite differences (see extrap.h).
 *
 * The sequence is Ridders' (C. J. F. Ridders, "Accurate computation of F'(x) and
 * F'(x)F''(x)", Adv. Eng. Software 4(2):75-76, 1982) with step ratio 2: each level
 * halves the step and extends a Richardson tableau,
 *   T[k][l] = T[k][l-1] + (T[k][l-1] - T[k-1][l-1]) / (2^p_l - 1),
 * where p_l is the power of h that column l removes (2l for symmetric stencils,
 * whose error has even powers only; l + 1 for one-sided ones).  Two departures,
 * both measured on the Moré-Garbow-Hillstrom set and oscillatory functions
 * (benchmarks/adaptive.py):
 *   - the error estimate adds an explicit rounding term, so that an entry stops
 *     as soon as its estimate is at f's rounding floor instead of running on
 *     until the estimates grow;
 *   - a candidate that disagrees with the current best by more than both
 *     estimates replaces it: Ridders keeps the smallest estimate ever seen, which
 *     locks in a coincidence of the first, too-large steps (f(x +- h) ~ 0 for a
 *     narrow peak agrees with itself at two levels).
 */
#include "extrap.h"

#include <float.h>
#include <math.h>

const int dfd_seq_npoints[DFD_NSEQ] = {2, 2, 2, 2, 4};

/* The rounding term is ROUNDING * eps * (size of the values) / (h^d * scale of the
 * weights).  64 is what keeps the estimate above the true error in all but a
 * fraction of a percent of the entries of the test set, whose functions round
 * their values less well than eps |f| (cancellation inside f). */
#define ROUNDING 64.0
/* flags bits within one call: the level's values cannot confirm convergence
 * (equal at +-h, unlike f0: the step jumped over what f does near x); or they
 * all equal f0 (the output does not depend on this direction: done). */
#define FLAT 16u
#define UNCHANGED 32u

static inline double max2(double a, double b) { return a > b ? a : b; }

/* Difference quotient, rounding term and "no information" flag of entry i.  The
 * rounding term stays when the values equal f0 bitwise: a change below f's
 * resolution is still a change (a Gaussian tail of 1e-44 under a term of 1). */
static double quotient(int kind, double h, double xmag, const double *F, ptrdiff_t fr,
                       ptrdiff_t fc, size_t i, double v0, double *noise, int *flat)
{
    const double *p = F + (ptrdiff_t)i * fr;
    double a = p[0], b = p[fc], d, mag;
    /* no point moved f: this output does not depend on the direction */
    *flat = a == b && a == v0 && (kind != DFD_SQ_CROSS || (p[2 * fc] == a && p[3 * fc] == a))
            ? UNCHANGED : 0;
    switch (kind) {
    case DFD_SQ_CENTRAL:
        d = (a - b) / (2.0 * h);
        mag = max2(fabs(a), fabs(b));
        /* equal values away from f0: the step jumped over whatever f does near x */
        if (a == b && a != v0)
            *flat = FLAT;
        *noise = ROUNDING * DBL_EPSILON * (mag + xmag * fabs(d)) / (2.0 * h);
        return d;
    case DFD_SQ_FORWARD:
    case DFD_SQ_BACKWARD:
        d = (kind == DFD_SQ_FORWARD ? 1.0 : -1.0) * (-3.0 * v0 + 4.0 * a - b) / (2.0 * h);
        mag = max2(fabs(v0), max2(fabs(a), fabs(b)));
        if (a == b && a != v0)
            *flat = FLAT;
        *noise = ROUNDING * DBL_EPSILON * (4.0 * mag + xmag * fabs(d)) / (2.0 * h);
        return d;
    case DFD_SQ_DIAG:
        d = (a - 2.0 * v0 + b) / (h * h);
        mag = max2(fabs(v0), max2(fabs(a), fabs(b)));
        *noise = ROUNDING * DBL_EPSILON * (4.0 * mag + xmag * fabs(a - b) / h) / (h * h);
        return d;
    default: { /* DFD_SQ_CROSS */
        double c = p[2 * fc], e = p[3 * fc];
        d = ((a - b) - (c - e)) / (4.0 * h * h);
        mag = max2(max2(fabs(a), fabs(b)), max2(fabs(c), fabs(e)));
        *noise = ROUNDING * DBL_EPSILON * (mag + xmag * fabs(a - e) / (4.0 * h)) / (h * h);
        return d;
    }
    }
}

size_t dfd_seq_level(size_t m, int L, int kind, int k, double h, double xmag,
                     const double *F, ptrdiff_t fr, ptrdiff_t fc,
                     const double *f0, ptrdiff_t f0s, double rtol, double atol,
                     double *row, double *best, double *err, double *rnd,
                     unsigned char *flags)
{
    int one_sided = kind == DFD_SQ_FORWARD || kind == DFD_SQ_BACKWARD;
    double factor[DFD_SEQ_MAXLEVELS];
    if (L > DFD_SEQ_MAXLEVELS || k >= L)
        return 0;   /* the caller stops a sweep at L levels */
    for (int l = 1; l <= k; l++)
        factor[l] = 1.0 / (ldexp(1.0, one_sided ? l + 1 : 2 * l) - 1.0);

    double scale = 0.0;
    size_t i;
    for (i = 0; i < m; i++) {
        double *r = row + i * (size_t)L;
        double noise, prev = 0.0, cur;
        int flat;
        cur = quotient(kind, h, xmag, F, fr, fc, i, f0[(ptrdiff_t)i * f0s], &noise, &flat);
        if (k == 0) {
            r[0] = cur;
            continue;
        }
        /* extend the tableau in place: r[l] holds T[k-1][l] until overwritten */
        double ce = INFINITY, cv = cur, first_gap = fabs(cur - r[0]);
        for (int l = 1; l <= k; l++) {
            prev = r[l - 1];            /* T[k-1][l-1] */
            r[l - 1] = cur;             /* T[k][l-1] */
            double next = cur + (cur - prev) * factor[l];
            double e = max2(fabs(next - cur), fabs(next - prev)) + noise;
            if (e < ce) {
                ce = e;
                cv = next;
            }
            cur = next;
        }
        r[k] = cur;
        if (flags[i] & DFD_SQ_DONE)
            continue;
        /* the first two quotients agree to rounding, but not bitwise (bitwise:
         * f is linear at this scale and rounds the same way at both steps, so
         * larger steps would give the same number) */
        if (k == 1 && first_gap <= 2.0 * noise && first_gap > 0.0)
            flags[i] |= DFD_SQ_LINEAR;
        if (!(flags[i] & DFD_SQ_STARTED) || ce < err[i] ||
            fabs(cv - best[i]) > err[i] + ce) {
            best[i] = cv;
            err[i] = ce;
            rnd[i] = noise;
            flags[i] |= DFD_SQ_STARTED;
        } else if (noise >= err[i] && ce <= 2.0 * noise && !flat) {
            /* no better, consistent, and the level itself is rounding: smaller
             * steps only add more */
            flags[i] |= DFD_SQ_DONE | DFD_SQ_FLOOR;
        }
        flags[i] = (unsigned char)((flags[i] & ~(FLAT | UNCHANGED)) | flat);
    }
    if (k == 0)
        return m;
    for (i = 0; i < m; i++)
        if (flags[i] & DFD_SQ_STARTED)
            scale = max2(scale, fabs(best[i]));
    double tol = atol + rtol * scale;
    size_t left = 0;
    for (i = 0; i < m; i++) {
        unsigned char f = flags[i];
        if (f & DFD_SQ_DONE)
            continue;
        if (f & UNCHANGED)
            f |= DFD_SQ_DONE | DFD_SQ_TOL;
        else if (!(f & FLAT)) {
            if (err[i] <= tol)
                f |= DFD_SQ_DONE | DFD_SQ_TOL;
            else if (err[i] <= 2.0 * rnd[i])
                f |= DFD_SQ_DONE | DFD_SQ_FLOOR;
        }
        f &= (unsigned char)~(FLAT | UNCHANGED);
        flags[i] = f;
        left += !(f & DFD_SQ_DONE);
    }
    return left;
}

size_t dfd_seq_growth_flags(size_t m, const unsigned char *flags, unsigned char *next)
{
    size_t want = 0;
    for (size_t i = 0; i < m; i++) {
        unsigned char f = flags[i];
        int grow = !(f & DFD_SQ_TOL) && (f & DFD_SQ_LINEAR) && (f & DFD_SQ_FLOOR);
        next[i] = grow ? 0 : DFD_SQ_DONE;
        want += grow;
    }
    return want;
}

int dfd_seq_merge(size_t m, double *best, double *err, double *rnd,
                  unsigned char *flags, const double *best2, const double *err2,
                  const double *rnd2, const unsigned char *flags2)
{
    int taken = 0;
    for (size_t i = 0; i < m; i++) {
        if (!(flags2[i] & DFD_SQ_STARTED) || (flags[i] & DFD_SQ_TOL))
            continue;
        if (err2[i] < err[i] && fabs(best2[i] - best[i]) <= err[i] + err2[i]) {
            best[i] = best2[i];
            err[i] = err2[i];
            rnd[i] = rnd2[i];
            flags[i] = (unsigned char)((flags[i] & ~(DFD_SQ_TOL | DFD_SQ_FLOOR)) |
                                       (flags2[i] & (DFD_SQ_TOL | DFD_SQ_FLOOR)));
            taken++;
        }
    }
    return taken;
}

int dfd_fd_weights(int np, const double *o, double *w)
{
    /* Fornberg's recurrence for derivatives of order 0 and 1 at 0: c[j][d] is the
     * weight of point j for derivative d over the first i + 1 points. */
    double c[16][2];
    if (np < 1 || np > 16)
        return -1;
    for (int j = 0; j < np; j++)
        c[j][0] = c[j][1] = 0.0;
    c[0][0] = 1.0;
    double c1 = 1.0;
    for (int i = 1; i < np; i++) {
        double c2 = 1.0;
        for (int j = 0; j < i; j++) {
            double c3 = o[i] - o[j];
            if (c3 == 0.0)
                return -1;
            c2 *= c3;
            if (j == i - 1) {
                c[i][1] = c1 * (c[i - 1][0] - o[i - 1] * c[i - 1][1]) / c2;
                c[i][0] = -c1 * o[i - 1] * c[i - 1][0] / c2;
            }
            c[j][1] = (o[i] * c[j][1] - c[j][0]) / c3;
            c[j][0] = o[i] * c[j][0] / c3;
        }
        c1 = c2;
    }
    for (int j = 0; j < np; j++)
        w[j] = c[j][1];
    return 0;
}

void dfd_fd_stencil_column(size_t m, int np, const double *w, double w0,
                           const double *F, ptrdiff_t fr, ptrdiff_t fc,
                           const double *f0, ptrdiff_t f0s, double h,
                           double *J, ptrdiff_t js)
{
    for (size_t i = 0; i < m; i++) {
        const double *p = F + (ptrdiff_t)i * fr;
        double s = f0 != NULL ? w0 * f0[(ptrdiff_t)i * f0s] : 0.0;
        for (int q = 0; q < np; q++)
            s += w[q] * p[q * fc];
        J[(ptrdiff_t)i * js] = s / h;
    }
}
