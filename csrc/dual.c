/* Dual-number kernels expanded from rules.def by the C preprocessor. */
#include <float.h>
#include "dual.h"

/* Derivative helpers for the rules whose textbook formula loses accuracy somewhere in
 * the domain (tails, domain edges, over/underflow of an intermediate).  Each keeps the
 * common case to the textbook cost and calls libm again only where it must.  Relative
 * errors quoted in units of eps = 2^-52, for libm's own errors of about 1 ulp. */

/* tanh and its derivative from one libm call, t = expm1(2|x|) >= 0 (what libm's tanh
 * computes inside): tanh|x| = t/(t + 2), and sech^2 x = 1 - tanh^2 = 4(1 + t)/(t + 2)^2,
 * with no cancellation anywhere, unlike 1 - y*y (rel. error eps/(1 - |y|): 1e-8 at
 * x = 10, exactly 0 for |x| >= 19).  The value and the derivative helper compute the same
 * expm1(2|x|), which the compiler evaluates once (libm is const under -fno-math-errno).
 * For |x| >= 22, tanh x = +-1 in double and t would overflow near |x| = 355 while sech^2
 * is still a number down to |x| = 372: there sech^2 = 4 exp(-2|x|) (1 + exp(-2|x|))^-2,
 * whose last factor rounds to 1 (exp(-44) < eps/2).
 * Written with !(|x| >= 22) so that NaN takes the first branch and propagates. */
static inline double dfd_v_tanh(double x)
{
    const double ax = fabs(x), t = expm1(2.0 * ax);
    return copysign(!(ax >= 22.0) ? t / (t + 2.0) : 1.0, x);
}

static inline double dfd_d_tanh(double x)
{
    const double ax = fabs(x), t = expm1(2.0 * ax), s = t + 2.0;
    return !(ax >= 22.0) ? 4.0 * (1.0 + t) / (s * s) : 4.0 * exp(-2.0 * ax);
}

/* expm1 and its derivative exp(x) = y + 1 from one libm call.  For x >= -ln 2,
 * y = expm1(x) >= -1/2 and y + 1 loses nothing (y's error is scaled by |y|/(y + 1) <= 1).
 * Below, y + 1 cancels (1.7e-4 at x = -30): call exp instead, and take the value from
 * it, e - 1 with e = exp(x) < 1/2: 0.5 ulp of rounding plus e's error scaled by
 * e/(1 - e) <= 1, within 1.5 ulp.  Both helpers compute the same exp(x) (evaluated once,
 * libm being const under -fno-math-errno); NaN takes the expm1 branch. */
static inline double dfd_v_expm1(double x)
{
    return x < -DFD_LN2 ? exp(x) - 1.0 : expm1(x);
}

static inline double dfd_d_expm1(double x, double y)
{
    return x < -DFD_LN2 ? exp(x) : y + 1.0;
}

/* exp2'(x) = 2^x ln 2.  2^x overflows from x = 1024 on, 2^x ln 2 only from
 * x = 1024 + log2(1/ln 2) ~ 1024.53: where y is inf use 2^(x - 1) (2 ln 2), x - 1 being
 * exact there. */
static inline double dfd_d_exp2(double x, double y)
{
    return isinf(y) && x > 0.0 ? exp2(x - 1.0) * (2.0 * DFD_LN2) : y * DFD_LN2;
}

/* cbrt'(x) = 1/(3 y^2) = y/(3x).  libm's cbrt is only within ~2 eps, and squaring y
 * doubles that (5.3 eps seen); y/(3x) uses y once, and |x|^(-2/3) lies in
 * [1e-206, 1e216] for every finite nonzero x.  Near DBL_MAX, 3x would overflow: (y/x)/3.
 * x = 0 (an infinite derivative) and x = +-inf (0) keep 1/(3 y^2). */
static inline double dfd_d_cbrt(double x, double y)
{
    if (fabs(x) < 0x1p1020 && x != 0.0) return y / (3.0 * x);
    if (isfinite(x) && x != 0.0) return y / x / 3.0;
    return 1.0 / (3.0 * y * y);
}

/* arctan'(x) = 1/(1 + x^2); x^2 overflows for |x| > 2^512 while 1/x^2 is still a
 * (subnormal) number: there 1/x/x. */
static inline double dfd_d_arctan(double x)
{
    return fabs(x) < 0x1p500 ? 1.0 / (1.0 + x * x) : 1.0 / x / x;
}

/* d(a/b)/db = -a/b^2 = -y/b.  When y = a/b is subnormal it has lost bits, which -y/b
 * (|b| < 1) would scale into a normal result: there scale a by 2^108 first (exact:
 * a subnormal y needs |a| < 4), divide twice and scale back. */
static inline double dfd_d_divide_b(double a, double b, double y)
{
    if (fabs(y) >= DBL_MIN || y == 0.0 || y != y) return -y / b;
    return -(a * 0x1p108 / b / b) * 0x1p-108;
}

/* d(a^b)/da = b a^(b-1) = y (b/a) with y = a^b: no second pow, and no rounding of b - 1
 * in the exponent (a relative error of |ln a| ulp(b - 1)/2: up to ~370 eps, as
 * |(b - 1) ln a| reaches 745 before the result leaves the doubles).  Where y or b/a is not
 * a normal number (a = 0, a^b over/underflowing while b a^(b-1) does not, b = 0, a
 * huge) use h = |a|^(b/2): b a^(b-1) = ((h b)/|a|) h, all intermediates in range;
 * for a < 0 (integer b) the sign is (-1)^(b-1) = -sign(y). */
static inline double dfd_d_power_a(double a, double b, double y)
{
    const double q = b / a;
    if (isnormal(y) && isnormal(q)) return y * q;
    if (b == 0.0) return 0.0;
    if (a == 0.0 || !isfinite(a) || y != y) return b * pow(a, b - 1.0);
    const double h = pow(fabs(a), 0.5 * b), m = h * b / fabs(a) * h;
    return a > 0.0 ? m : signbit(y) ? m : -m;
}

/* d(a^b)/db = a^b ln a = y ln a.  y may underflow (subnormal or 0) or overflow while
 * y ln a is still a normal number, |ln a| being up to 745 or below 1: there
 * h = a^(b/2) gives (h ln a) h without losing y's bits.  a = 0: the limit 0 for b > 0;
 * a < 0 (integer b only): NaN, a^b has no derivative in b. */
static inline double dfd_d_power_b(double a, double b, double y)
{
    if (isnormal(y) || a <= 0.0 || y != y) return y == 0.0 ? 0.0 : y * log(a);
    const double h = pow(a, 0.5 * b);
    return h * log(a) * h;
}

/* d atan2(a, b)/da = b/(a^2 + b^2), d/db = -a/(a^2 + b^2): num/(a^2 + b^2).  The squares
 * overflow for max(|a|, |b|) > 2^511 and underflow below 2^-511; there scale both by a
 * power of two c (exact): num/(a^2 + b^2) = (c num)/((ca)^2 + (cb)^2) c.  This is the
 * scaling hypot does, without hypot's cost in the common case. */
static inline double dfd_d_atan2(double num, double a, double b)
{
    const double fa = fabs(a), fb = fabs(b), s = fa > fb ? fa : fb;   /* fmax is a call */
    if (s >= 0x1p-500 && s <= 0x1p500) return num / (a * a + b * b);
    const double c = s > 1.0 ? 0x1p-600 : 0x1p600, ca = c * a, cb = c * b;
    return c * num / (ca * ca + cb * cb) * c;
}

/* d hypot(a, b)/da = a/y.  y = hypot(a, b) overflows before a/y does (|a|, |b| near
 * DBL_MAX) and is subnormal, with lost bits, for tiny a, b: there rescale by a power of
 * two, exactly. */
static inline double dfd_d_hypot(double num, double a, double b, double y)
{
    if (y >= DBL_MIN && y <= DBL_MAX) return num / y;
    const double c = fabs(a) > 1.0 || fabs(b) > 1.0 ? 0x1p-600 : 0x1p600;
    return c * num / hypot(c * a, c * b);
}

/* One kernel per unary rule: y = value(x), ty = derivative(x, y) * tx. */
#define DFD_UNARY(name, value, deriv, lo, hi)                                        \
    int dfd_##name(size_t n, size_t k, const double *restrict xv,                    \
                   const double *restrict tx, double *restrict yv, double *restrict ty) \
    {                                                                                \
        for (size_t i = 0; i < n; i++) {                                             \
            const double x = xv[i];                                                  \
            const double y = (value);                                                \
            (void)x; (void)y;                                                        \
            yv[i] = y;                                                               \
            dfd_scale(k, (deriv), tx + i * k, ty + i * k);                           \
        }                                                                            \
        return 0;                                                                    \
    }

/* One kernel per binary rule: y = value(a, b), ty = da ta + db tb.  The three loops
 * (both dual, only a, only b) keep the branch out of the element loop. */
#define DFD_BINARY(name, value, da, db, lo, hi)                                      \
    int dfd_##name##2(size_t n, size_t k,                                            \
                      const double *restrict av, size_t sa, const double *ta,        \
                      const double *restrict bv, size_t sb, const double *tb,        \
                      double *restrict yv, double *restrict ty)                      \
    {                                                                                \
        const size_t tsa = sa * k, tsb = sb * k;                                     \
        if (ta && tb) {                                                              \
            for (size_t i = 0; i < n; i++) {                                         \
                const double a = av[i * sa], b = bv[i * sb], y = (value);            \
                yv[i] = y;                                                           \
                dfd_axpby(k, (da), ta + i * tsa, (db), tb + i * tsb, ty + i * k);    \
            }                                                                        \
        } else if (ta) {                                                             \
            for (size_t i = 0; i < n; i++) {                                         \
                const double a = av[i * sa], b = bv[i * sb], y = (value);            \
                (void)y;                                                             \
                yv[i] = y;                                                           \
                dfd_scale(k, (da), ta + i * tsa, ty + i * k);                        \
            }                                                                        \
        } else {                                                                     \
            for (size_t i = 0; i < n; i++) {                                         \
                const double a = av[i * sa], b = bv[i * sb], y = (value);            \
                (void)y;                                                             \
                yv[i] = y;                                                           \
                dfd_scale(k, (db), tb + i * tsb, ty + i * k);                        \
            }                                                                        \
        }                                                                            \
        return 0;                                                                    \
    }
#include "rules.def"
#undef DFD_UNARY
#undef DFD_BINARY

#define DFD_UNARY(name, value, deriv, lo, hi) {#name, dfd_##name, lo, hi},
#define DFD_BINARY(name, value, da, db, lo, hi)
const dfd_unary_rule dfd_unary_rules[] = {
#include "rules.def"
};
#undef DFD_UNARY
#undef DFD_BINARY
const size_t dfd_n_unary_rules = sizeof dfd_unary_rules / sizeof dfd_unary_rules[0];

#define DFD_UNARY(name, value, deriv, lo, hi)
#define DFD_BINARY(name, value, da, db, lo, hi) {#name, dfd_##name##2, lo, hi},
const dfd_binary_rule dfd_binary_rules[] = {
#include "rules.def"
};
#undef DFD_UNARY
#undef DFD_BINARY
const size_t dfd_n_binary_rules = sizeof dfd_binary_rules / sizeof dfd_binary_rules[0];

void dfd_gather(size_t n, size_t k, const double *x, const double *tx, ptrdiff_t s,
                double *restrict y, double *restrict ty)
{
    for (size_t i = 0; i < n; i++) {
        const ptrdiff_t src = (ptrdiff_t)i * s;
        y[i] = x[src];
        memcpy(ty + i * k, tx + src * (ptrdiff_t)k, k * sizeof(double));
    }
}

void dfd_seed(size_t n, size_t k, size_t c0, double *restrict t)
{
    memset(t, 0, n * k * sizeof(double));
    for (size_t j = 0; j < k && c0 + j < n; j++) t[(c0 + j) * k + j] = 1.0;
}

void dfd_put_columns(size_t m, size_t k, const double *restrict t, size_t n, size_t c0,
                     double *restrict J)
{
    for (size_t i = 0; i < m; i++) memcpy(J + i * n + c0, t + i * k, k * sizeof(double));
}

void dfd_sum(size_t n, size_t k, const double *restrict v, const double *restrict t,
             double *restrict y, double *restrict ty, double *restrict work)
{
    double total = 0.0;
    memset(ty, 0, k * sizeof(double));
    for (size_t b = 0; b < n; b += DFD_SUM_BLOCK) {
        const size_t e = b + DFD_SUM_BLOCK < n ? b + DFD_SUM_BLOCK : n;
        double *acc = n <= DFD_SUM_BLOCK ? ty : work;
        double s = 0.0;
        if (acc != ty) memset(acc, 0, k * sizeof(double));
        for (size_t i = b; i < e; i++) {
            const double *ti = t + i * k;
            s += v[i];
            for (size_t j = 0; j < k; j++) acc[j] += ti[j];
        }
        total += s;
        if (acc != ty)
            for (size_t j = 0; j < k; j++) ty[j] += acc[j];
    }
    *y = total;
}
