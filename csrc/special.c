/* Special functions that libm lacks, for the rules of csrc/rules.def (gammaln's
 * derivative is digamma, digamma's is trigamma). */
#include <math.h>
#include "dual.h"

/* --- digamma and trigamma (libm has neither) ------------------------------------------
 * digamma psi(x), algorithm:
 *   x >= 10        the asymptotic series ln x - 1/(2x) - sum_k B_2k/(2k x^2k), k <= 9
 *                  (Abramowitz & Stegun 6.3.18; the first omitted term is below
 *                  1e-19 relative at x = 10)
 *   2.5 <= x < 10  down to y = x - m in [1.5, 2.5) (exact): psi(x) = psi(y) +
 *                  sum_j<m 1/(y + j) (A&S 6.3.5); every term is positive (psi > 0 above
 *                  its root x0), so nothing cancels
 *   1 <= x < 2.5   psi(x) = (x - x0) R(x), R a 30-term Chebyshev series (coefficients
 *                  from tests/tools/digamma_coefficients.py, mpmath at 60 digits):
 *                  relative accuracy through the root x0 = 1.46163214496836...
 *   0 < x < 1      psi(x) = psi(x + 1) - 1/x: x + 1 = s + e exactly (TwoSum) and
 *                  psi(s + e) = psi(s) + e psi'(s) (psi' ~ 1/s + 1/2s^2 + 1/6s^3 is
 *                  plenty for a term below 2^-53), 1/x as a head and an fma tail
 *   x < 0          reflection psi(x) = psi(1 - x) - pi cot(pi x) (A&S 6.3.7), 1 - x
 *                  corrected like x + 1, cot from sinpi/cospi.  Near the negative roots
 *                  (one in each (-n, -n + 1)) the two terms cancel: there the error is
 *                  relative to |psi(1 - x)| + |pi cot(pi x)|, not to psi.
 * Poles, as SciPy: psi(+0) = -inf, psi(-0) = +inf, NaN at negative integers and -inf;
 * psi(+inf) = +inf. */
static const double dfd_psi_cheb[30] = {
    9.0861394730550486614e-1, -2.7510926785223032244e-1, 5.2681716286426774561e-2,
    -1.0947590863829393975e-2, 2.3606449624214202564e-3, -5.1869456837628245177e-4,
    1.1514139637578381844e-4, -2.5707658461668505175e-5, 5.759067412654895407e-6,
    -1.2927192603344644003e-6, 2.9051764044507471446e-7, -6.5335993124071071465e-8,
    1.4700152965576109108e-8, -3.3083143489987739953e-9, 7.4466754220130368242e-10,
    -1.67633760211456628e-10, 3.7738725303284524045e-11, -8.4962910977669202558e-12,
    1.9128532424785474891e-12, -4.306655676735216617e-13, 9.6962207014042009321e-14,
    -2.1830676977189498081e-14, 4.9151115308981736432e-15, -1.1066249376449024479e-15,
    2.4915412701862952775e-16, -5.6096538240994725655e-17, 1.2630026150037301679e-17,
    -2.8436266059737088031e-18, 6.4023729508703295106e-19, -1.4414826484405882903e-19};
#define DFD_PSI_X0_HI 1.4616321449683622
#define DFD_PSI_X0_LO 9.549995429965697e-17

/* psi on [1, 2.5]: Clenshaw's recurrence for the Chebyshev series in u in [-1, 1]. */
static double dfd_psi_1_25(double x)
{
    const double u = (x - 1.75) / 0.75, u2 = 2.0 * u;
    double b1 = 0.0, b2 = 0.0;
    for (int j = 29; j >= 1; j--) {
        const double b0 = fma(u2, b1, dfd_psi_cheb[j] - b2);
        b2 = b1;
        b1 = b0;
    }
    const double R = fma(u, b1, dfd_psi_cheb[0] - b2);
    return ((x - DFD_PSI_X0_HI) - DFD_PSI_X0_LO) * R;   /* x - x0_hi exact (Sterbenz) */
}

/* Bernoulli numbers B_2k/(2k), k = 1..9, for the asymptotic series of psi; B_2k for
 * psi'. */
static const double dfd_b2k_2k[9] = {
    1.0 / 12.0, -1.0 / 120.0, 1.0 / 252.0, -1.0 / 240.0, 1.0 / 132.0,
    -691.0 / 32760.0, 1.0 / 12.0, -3617.0 / 8160.0, 43867.0 / 14364.0};
static const double dfd_b2k[10] = {
    1.0 / 6.0, -1.0 / 30.0, 1.0 / 42.0, -1.0 / 30.0, 5.0 / 66.0, -691.0 / 2730.0,
    7.0 / 6.0, -3617.0 / 510.0, 43867.0 / 798.0, -174611.0 / 330.0};

static double dfd_psi_pos(double x);

/* psi'(s) to a few percent for s >= 1: only for corrections below 2^-53. */
static inline double dfd_psi1_rough(double s)
{
    const double z = 1.0 / s;
    return z * (1.0 + z * (0.5 + z / 6.0));
}

static double dfd_psi_pos(double x)        /* x > 0 */
{
    if (x >= 10.0) {
        if (isinf(x)) return x;
        const double z = 1.0 / (x * x);
        double p = dfd_b2k_2k[8];
        for (int k = 7; k >= 0; k--) p = fma(p, z, dfd_b2k_2k[k]);
        return log(x) - 0.5 / x - p * z;
    }
    if (x >= 2.5) {
        const double m = floor(x - 1.5), y = x - m;
        double s = 0.0;
        for (double j = m - 1.0; j >= 0.0; j -= 1.0) s += 1.0 / (y + j);
        return dfd_psi_1_25(y) + s;
    }
    if (x >= 1.0) return dfd_psi_1_25(x);
    const double s = x + 1.0, e = x - (s - 1.0);           /* TwoSum, |x| < 1 */
    const double r = 1.0 / x, rl = fma(-r, x, 1.0) / x;    /* 1/x = r + rl */
    const double p = dfd_psi_1_25(s) + e * dfd_psi1_rough(s);
    return (p - r) - (isfinite(r) ? rl : 0.0);
}

double dfd_sf_digamma(double x)
{
    if (x > 0.0) return dfd_psi_pos(x);
    if (x == 0.0) return signbit(x) ? INFINITY : -INFINITY;
    if (!(x > -INFINITY) || x == nearbyint(x)) return NAN;   /* NaN, -inf, poles */
    double s, c;
    int odd;
    dfd_sincospi(x, &s, &c, &odd);                  /* cot(pi x) = cot(pi r) */
    const double w = 1.0 - x, bb = w - 1.0, e = (1.0 - (w - bb)) + (-x - bb);  /* TwoSum */
    const double p = dfd_psi_pos(w) + e * dfd_psi1_rough(w);
    return p - DFD_PI * c / s;
}

/* trigamma psi'(x) = sum_j>=0 1/(x + j)^2 (A&S 6.4.10), positive on the whole line:
 *   x >= 10   asymptotic series 1/x + 1/(2x^2) + sum_k B_2k/x^(2k+1), k <= 10 (A&S 6.4.12)
 *   0 < x < 10   that many terms of the sum first (all positive: no cancellation)
 *   -1 < x < 0   1/x^2 + psi'(x + 1): the pole's term exactly
 *   x <= -1   reflection psi'(x) = pi^2/sin^2(pi x) - psi'(1 - x) (A&S 6.4.7): the first
 *             term is >= pi^2, the second <= pi^2/6, so nothing cancels much; sinpi
 *             with exact reduction.  (Summing the series up to x + m >= 10 instead
 *             measured 3.0 eps, the reflection 2.7 eps, over 1800 points in [-12, 0).)
 * Poles (0 and the negative integers): +inf, the limit from both sides; -inf: NaN. */
static double dfd_trigamma_asym(double x)  /* x >= 10 */
{
    if (isinf(x)) return 0.0;
    const double z = 1.0 / x, z2 = z * z;
    double p = dfd_b2k[9];
    for (int k = 8; k >= 0; k--) p = fma(p, z2, dfd_b2k[k]);
    return z + z2 * (0.5 + z * p);
}

double dfd_sf_trigamma(double x)
{
    if (x != x || x == -INFINITY) return NAN;
    if (x <= 0.0 && x == nearbyint(x)) return INFINITY;
    if (x >= 10.0) return dfd_trigamma_asym(x);
    if (x >= 0.0) {
        double s = 0.0;
        const double m = ceil(10.0 - x);
        for (double j = m - 1.0; j >= 0.0; j -= 1.0) {   /* smallest terms first */
            const double r = 1.0 / (x + j);
            s += r * r;
        }
        return dfd_trigamma_asym(x + m) + s;
    }
    if (x > -1.0) {                 /* the pole's term exactly (x + 1 in (0, 1)) */
        const double r = 1.0 / x;
        return r * r + dfd_sf_trigamma(x + 1.0);
    }
    double sn, c;
    int odd;
    dfd_sincospi(x, &sn, &c, &odd);
    const double q = DFD_PI / sn;
    return q * q - dfd_sf_trigamma(1.0 - x);
}

/* tetragamma psi''(x) = -2 sum_j>=0 1/(x + j)^3 (A&S 6.4.10), for second-order duals:
 *   x >= 20   asymptotic series -(1/x^2 + 1/x^3 + sum_k (2k + 1) B_2k / x^(2k+2)), k <= 7
 *             (A&S 6.4.11 with n = 2); the next term is below 1e-19 relative there
 *   0 < x < 20   that many terms of the sum first (all of one sign: no cancellation)
 *   x < 0     reflection psi''(x) = psi''(1 - x) - 2 pi^3 cos(pi x)/sin^3(pi x)
 *             (A&S 6.4.7 differentiated twice), sinpi/cospi with exact reduction
 * Poles (0 and the negative integers): NaN (the one-sided limits are -inf and +inf). */
static double dfd_tetragamma_asym(double x)  /* x >= 20 */
{
    static const double c[7] = {0.5, -1.0 / 6.0, 1.0 / 6.0, -0.3, 5.0 / 6.0,
                                -691.0 / 210.0, 17.5};
    if (isinf(x)) return -0.0;
    const double z = 1.0 / x, z2 = z * z;
    double p = c[6];
    for (int k = 5; k >= 0; k--) p = fma(p, z2, c[k]);
    return -(z2 + z2 * z * (1.0 + z * p));
}

double dfd_sf_tetragamma(double x)
{
    if (x != x || x == -INFINITY) return NAN;
    if (x <= 0.0 && x == nearbyint(x)) return NAN;
    if (x >= 20.0) return dfd_tetragamma_asym(x);
    if (x > 0.0) {
        double s = 0.0;
        const double m = ceil(20.0 - x);
        for (double j = m - 1.0; j >= 0.0; j -= 1.0) {   /* smallest terms first */
            const double r = 1.0 / (x + j);
            s += r * r * r;
        }
        return dfd_tetragamma_asym(x + m) - 2.0 * s;
    }
    double sn, c;
    int odd;
    dfd_sincospi(x, &sn, &c, &odd);    /* the parities cancel in cos / sin^3 */
    const double q = DFD_PI / sn;
    return dfd_sf_tetragamma(1.0 - x) - 2.0 * DFD_PI * q * q * (c / sn);
}
