/* Dual-number kernels expanded from rules.def by the C preprocessor. */
#define _DEFAULT_SOURCE      /* glibc: declares lgamma_r */
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

/* --- remainder, fmod, floor_divide: NumPy's values, bit for bit -----------------------
 * NumPy computes both from fmod (exact) as in its npy_divmod: mod = fmod(a, b); where mod
 * is nonzero and its sign differs from b's, mod += b and the quotient drops by one; the
 * quotient (a - mod)/b is rounded to an integer (floor, then +1 if the rounding of the
 * division left it half an integer short).  Kept in that order so that every value,
 * signed zeros, NaN and infinities included, is NumPy's.
 * Partials: remainder(a, b) = a - q b with q = floor_divide(a, b) piecewise constant,
 * so d/da = 1 and d/db = -q, q taken at the point itself: at a kink (a = k b) these are
 * the partials of the piece that starts there (floor's derivative is 0 at integers, the
 * same one-sided convention).  fmod likewise with q = trunc(a/b) (its own quotient). */
static inline double dfd_v_remainder(double a, double b)
{
    double mod = fmod(a, b);
    if (b == 0.0) return mod;
    if (mod != 0.0) {
        if ((b < 0.0) != (mod < 0.0)) mod += b;
    } else {
        mod = copysign(0.0, b);
    }
    return mod;
}

static inline double dfd_v_floor_divide(double a, double b)
{
    if (b == 0.0) return a / b;
    const double mod = fmod(a, b);
    double div = (a - mod) / b, fdiv;
    if (mod != 0.0 && (b < 0.0) != (mod < 0.0)) div -= 1.0;
    if (div != 0.0) {
        fdiv = floor(div);
        if (div - fdiv > 0.5) fdiv += 1.0;
    } else {
        fdiv = copysign(0.0, a / b);
    }
    return fdiv;
}

/* fmod's quotient trunc(a/b) = (a - fmod(a, b))/b rounded to an integer: the division
 * is within half a unit of it while |a/b| < 2^52; beyond, both are that large and the
 * rounding is relative (1 ulp). */
static inline double dfd_fmod_quotient(double a, double b, double y)
{
    return nearbyint((a - y) / b);
}

/* NumPy's heaviside: 0 below 0, the second argument at 0, 1 above, NaN for NaN. */
static inline double dfd_v_heaviside(double a, double b)
{
    return a < 0.0 ? 0.0 : a > 0.0 ? 1.0 : a == 0.0 ? b : a;
}

/* --- logaddexp, logaddexp2, expit and friends ----------------------------------------
 * expit(z) = 1/(1 + e^-z) from e = exp(-|z|) <= 1: 1/(1 + e) for z >= 0, e/(1 + e) for
 * z < 0, each within ~2 ulp and never overflowing (SciPy's 1/(1 + exp(-z)) underflows to
 * 0 from z = -709 on; this keeps the subnormal values down to z = -745).
 * expit'(z) = expit(z) expit(-z) = e/(1 + e)^2: no cancellation anywhere. */
static inline double dfd_h_expit(double z)
{
    const double e = exp(-fabs(z));
    return z >= 0.0 ? 1.0 / (1.0 + e) : z < 0.0 ? e / (1.0 + e) : z;
}

static inline double dfd_h_d_expit(double z)
{
    const double e = exp(-fabs(z)), s = 1.0 + e;
    return z == z ? e / s / s : z;
}

/* expit(z + dz) for a small correction dz (|dz| <= ulp(z)): first order. */
static inline double dfd_h_expit2(double z, double dz)
{
    return dfd_h_expit(z) + dfd_h_d_expit(z) * dz;
}

/* NumPy's logaddexp (npy_logaddexp): the same operations, so the same value. */
static inline double dfd_v_logaddexp(double a, double b)
{
    if (a == b) return a + DFD_LN2;
    const double d = a - b;
    if (d > 0.0) return a + log1p(exp(-d));
    if (d <= 0.0) return b + log1p(exp(d));
    return d;
}

static inline double dfd_v_logaddexp2(double a, double b)
{
    if (a == b) return a + 1.0;
    const double d = a - b;
    if (d > 0.0) return a + DFD_LOG2E * log1p(exp2(-d));
    if (d <= 0.0) return b + DFD_LOG2E * log1p(exp2(d));
    return d;
}

/* d logaddexp(a, b)/da = e^a/(e^a + e^b) = expit(a - b).  a - b is rounded, and exp
 * turns its absolute error into a relative one (350 eps at a - b = -700): carry the
 * rounding error of the subtraction (TwoSum, Knuth TAOCP 4.2.2) into expit.  For
 * logaddexp2 the argument is (a - b) ln 2, split with fma into a head and a tail the same
 * way.  Infinite or NaN differences take the plain value. */
static inline double dfd_d_logaddexp(double a, double b)
{
    const double d = a - b;
    if (a == b) return 0.5;                 /* also a = b = +-inf */
    if (!isfinite(d)) return dfd_h_expit(d);   /* 0, 1, or NaN */
    const double bb = d - a, err = (a - (d - bb)) + (-b - bb);  /* TwoSum(a, -b) tail */
    return dfd_h_expit2(d, err);
}

#define DFD_LN2_LO 2.319046813846299558e-17   /* ln 2 - DFD_LN2 (rounded) */
static inline double dfd_d_logaddexp2(double a, double b)
{
    const double d = a - b;
    if (a == b) return 0.5;
    if (!isfinite(d)) return dfd_h_expit(d);
    const double bb = d - a, err = (a - (d - bb)) + (-b - bb);
    const double z = d * DFD_LN2, zl = fma(d, DFD_LN2, -z) + (d * DFD_LN2_LO + err * DFD_LN2);
    return dfd_h_expit2(z, zl);
}

/* log_expit(z) = -log1p(e^-z) (SciPy's formula, same value); derivative expit(-z). */
static inline double dfd_v_log_expit(double z)
{
    return z < 0.0 ? z - log1p(exp(z)) : -log1p(exp(-z));
}

/* logit(p) = log(p/(1 - p)); SciPy (scipy/special/_logit.h) switches to
 * log1p(2(p - 1/2)/(1 - p)) on (0.3, 0.65), where the quotient is near 1: the same
 * formula here, for its value.  logit'(p) = 1/(p (1 - p)): 1 - p is exact for p >= 1/2
 * (Sterbenz), so nothing cancels near p = 1; below 1/2 it is within half an ulp. */
static inline double dfd_v_logit(double p)
{
    if (0.3 < p && p < 0.65) return log1p(2.0 * (p - 0.5) / (1.0 - p));
    return log(p / (1.0 - p));
}

/* --- erf, erfc: 2/sqrt(pi) exp(-x^2) --------------------------------------------------
 * x^2 rounded has an absolute error up to x^2 eps/2, which exp turns into a relative
 * error of that size (350 eps at x = 26): split x^2 = h + l exactly with fma and use
 * exp(-h) (1 - l), l being below ulp(h).  Beyond |x| = 27.3 the result is below the
 * subnormals; beyond 2^511 the split would overflow. */
#define DFD_2_SQRTPI 1.128379167095512573896158903121545172
static inline double dfd_d_erf(double x)
{
    const double ax = fabs(x);
    if (!(ax < 28.0)) return ax == ax ? 0.0 : x;
    const double h = ax * ax, l = fma(ax, ax, -h);
    const double e = exp(-h);
    return DFD_2_SQRTPI * (e - e * l);
}

/* np.sinc(x) = sin(pi x)/(pi x): NumPy's own operations (numpy/lib/_function_base_impl:
 * y = pi * where(x == 0, 1e-20, x); sin(y)/y), for its value. */
static inline double dfd_v_sinc(double x)
{
    const double y = DFD_PI * (x == 0.0 ? 1.0e-20 : x);
    return sin(y) / y;
}

/* sinc'(x) = (cos(pi x) - sinc(x))/x.  For |x| <= 1/2 the difference cancels (to
 * -(pi x)^2/3 near 0): there the Taylor series, pi^2 x sum_k>=1 (-1)^k 2k u^(k-1)/(2k+1)!
 * with u = (pi x)^2 <= 2.47, 13 terms (the next is below 1e-19 relative).  Beyond, the
 * terms do not cancel up to x = 1, and sinpi/cospi with exact reduction keep the error
 * relative to the envelope 1/|x| (the derivative's own zeros, tan(pi x) = pi x, cannot be
 * had to relative accuracy at this cost). */
static inline double dfd_d_sinc(double x)
{
    static const double c[13] = {
        -1.0 / 3.0, 1.0 / 30.0, -1.0 / 840.0, 1.0 / 45360.0, -1.0 / 3991680.0,
        1.0 / 518918400.0, -1.0 / 93405312000.0, 1.0 / 22230464256000.0,
        -1.0 / 6758061133824000.0, 1.0 / 2554547108585472000.0,
        -1.0 / 1175091669949317120000.0, 1.0 / 646300418472124416000000.0,
        -1.0 / 418802671169936621568000000.0};
    const double ax = fabs(x);
    if (ax <= 0.5) {
        const double u = (DFD_PI * x) * (DFD_PI * x);
        double p = c[12];
        for (int k = 11; k >= 0; k--) p = fma(p, u, c[k]);
        return (DFD_PI * DFD_PI * x) * p;
    }
    if (!isfinite(x)) return x == x ? 0.0 : x;
    double s, co;
    int odd;
    dfd_sincospi(x, &s, &co, &odd);
    if (odd) { s = -s; co = -co; }
    return (co - s / (DFD_PI * x)) / x;
}

/* gammaln: libm's lgamma (log|Gamma|), whose derivative is digamma for every x; at the
 * poles lgamma = +inf and digamma's value there is the derivative (NaN at negative
 * integers, where the one-sided limits are +-inf).  lgamma writes the global signgam,
 * a data race when kernels run in threads without the GIL: glibc's lgamma_r does not.
 * At -inf, SciPy's -inf (Gamma -> 0 between the poles), not C's +inf. */
static inline double dfd_v_gammaln(double x)
{
    if (x == -INFINITY) return x;
#ifdef __GLIBC__
    int sign;
    return lgamma_r(x, &sign);
#else
    return lgamma(x);
#endif
}

/* xlogy(a, b) = a log b, 0 where a == 0 and b is not NaN (SciPy's convention: xlogy(0, b)
 * is 0 for every b >= 0, so d/db = 0 there, and d/da = log b, -inf at b = 0, the limit
 * from both sides of a = 0).  xlog1py likewise with log1p(b). */
static inline double dfd_v_xlogy(double a, double b)
{
    return a == 0.0 && b == b ? 0.0 : a * log(b);
}

static inline double dfd_v_xlog1py(double a, double b)
{
    return a == 0.0 && b == b ? 0.0 : a * log1p(b);
}

static inline double dfd_d_xlogy_b(double a, double b)
{
    return a == 0.0 && b == b ? 0.0 : a / b;
}

static inline double dfd_d_xlog1py_b(double a, double b)
{
    return a == 0.0 && b == b ? 0.0 : a / (1.0 + b);
}

/* --- second derivatives (the rules' deriv2 column) ------------------------------------
 * Where a textbook formula divides by a quantity that vanishes or overflows inside the
 * domain, a helper keeps it to a few ulps; the rest are one expression in rules.def. */

/* u w / y^p 2^k for finite nonzero u, w, y: mantissas and exponents apart (frexp), so
 * no intermediate over- or underflows and only the final ldexp rounds into the
 * subnormals.  Zero, infinite or NaN operands take the plain expression. */
static inline double dfd_h_monomial(double u, double w, double y, int p, int k)
{
    if (!(isfinite(u) && isfinite(w) && isfinite(y)) || u == 0.0 || w == 0.0 || y == 0.0) {
        double q = u * w;
        for (int i = 0; i < p; i++) q /= y;
        return ldexp(q, k);
    }
    int eu, ew, ey;
    const double mu = frexp(u, &eu), mw = frexp(w, &ew), my = frexp(y, &ey);
    double q = mu * mw;
    for (int i = 0; i < p; i++) q /= my;
    return ldexp(q, eu + ew - p * ey + k);
}

/* cbrt''(x) = -2/(9 x^(5/3)) = -(2/3) d/x with d = cbrt'(x). */
static inline double dfd_dd_cbrt(double x, double d)
{
    return -(2.0 / 3.0) * (d / x);
}

/* sinc''(x) = -pi^2 sinc(x) - 2 sinc'(x)/x, which cancels toward -pi^2/3 near 0: there
 * the Taylor series pi^2 sum_k>=1 (-1)^k 2k(2k-1) u^(k-1)/(2k+1)!, u = (pi x)^2 <= 2.47
 * for |x| <= 1/2, 14 terms (the next below 1e-20 relative). */
static inline double dfd_dd_sinc(double x, double y, double d)
{
    static const double c[14] = {
        -0.3333333333333333, 0.1, -0.005952380952380952, 0.00015432098765432098,
        -2.2546897546897547e-06, 2.1197937864604532e-08, -1.3917837991912066e-10,
        6.74749741042925e-13, -2.515514385467045e-15, 7.437717604088679e-18,
        -1.787094618831376e-20, 3.5587165569802293e-23, -5.969398411467106e-26,
        8.550331942154474e-29};
    if (fabs(x) <= 0.5) {
        const double u = (DFD_PI * x) * (DFD_PI * x);
        double p = c[13];
        for (int k = 12; k >= 0; k--) p = fma(p, u, c[k]);
        return DFD_PI * DFD_PI * p;
    }
    if (!isfinite(x)) return x == x ? 0.0 : x;
    return -(DFD_PI * DFD_PI) * y - 2.0 * d / x;
}

/* expit''(z) = s (1 - s)(1 - 2 s), s = expit(z).  With e = exp(-|z|):
 * s (1 - s) = e/(1 + e)^2 and |1 - 2 s| = -expm1(-|z|)/(1 + e), no cancellation near 0;
 * the sign is -sign(z) (expit is convex below 0, concave above). */
static inline double dfd_h_d2_expit(double z)
{
    const double a = fabs(z), e = exp(-a), s = 1.0 + e;
    const double v = e / s / s * (-expm1(-a) / s);
    return z > 0.0 ? -v : z == z ? v : z;
}

/* Second partials of y = a^b: which 0: d2/da2 = b (b - 1) a^(b-2) = y b (b - 1)/a^2;
 * 1: d2/dadb = a^(b-1) (1 + b ln a); 2: d2/db2 = y ln^2 a.  y/a/a keeps the pow out of
 * the common case as dfd_d_power_a does; where y or a is not normal, pow itself.  In b,
 * a < 0 has no derivative (NaN) and a = 0 the limit 0 where a^b -> 0. */
static inline double dfd_dd_power(double a, double b, double y, int which)
{
    if (which == 0) {
        const double c = b * (b - 1.0);
        if (c == 0.0) return 0.0;
        if (isnormal(y) && isnormal(a)) return y / a * c / a;
        return c * pow(a, b - 2.0);
    }
    if (a < 0.0 || y != y) return NAN;
    if (a == 0.0) return y == 0.0 && (which == 2 || b > 1.0) ? 0.0 : NAN;
    const double l = log(a);
    if (which == 1) return (isnormal(y) ? y / a : pow(a, b - 1.0)) * fma(b, l, 1.0);
    if (isnormal(y) || y == 0.0 || isinf(y)) return y * l * l;
    /* y subnormal has lost bits that l^2 (up to 5.5e5) scales into a normal result
     * (328 eps at a = 5e-324, b = 1): (h l)^2 with h = a^(b/2) in range, as
     * dfd_d_power_b does. */
    const double t = pow(a, 0.5 * b) * l;
    return t * t;
}

/* Second partials of atan2(a, b), r = hypot(a, b) (which 0, 1, 2):
 * -2ab/r^4, (a - b)(a + b)/r^4, 2ab/r^4, by dfd_h_monomial: r^4 and the products leave
 * the doubles long before the results do (the old 2^-+300 scaling still overflowed r^2
 * at |a| = 1.5e308: NaN).  Where r overflows, halve a and b (exact for |a|, |b| > 1):
 * the partials are homogeneous of degree -2. */
static inline double dfd_dd_atan2(double a, double b, int which)
{
    int k = 0;
    if (fabs(a) > 1.0 || fabs(b) > 1.0) {
        a *= 0.5;
        b *= 0.5;
        k = -2;
    }
    const double r = hypot(a, b);
    if (which == 1) return dfd_h_monomial(a - b, a + b, r, 4, k);
    return (which == 0 ? -2.0 : 2.0) * dfd_h_monomial(a, b, r, 4, k);
}

/* d2 hypot(a, b) / (du dw) for (u, w) = (b, b), (a, b), (a, a) up to the sign of the
 * mixed one: u w / y^3, by dfd_h_monomial (b^2/y^3 with b subnormal: (b/y)(b/y)/y
 * rounded the subnormal b/y, 4.5e5 eps).  Where y = hypot(a, b) overflowed, halve
 * (degree -1 homogeneous). */
static inline double dfd_dd_hypot(double u, double w, double a, double b, double y)
{
    if (isinf(y) && isfinite(a) && isfinite(b))
        return dfd_h_monomial(0.5 * u, 0.5 * w, hypot(0.5 * a, 0.5 * b), 3, -1);
    return dfd_h_monomial(u, w, y, 3, 0);
}

/* d2(a/b)/db2 = 2a/b^3 and d2/dadb = -1/b^2, by dfd_h_monomial: b*b and b^3 over- and
 * underflow inside the domain (2y/(b*b) gave 0/0 = NaN at a = 0, b subnormal). */
static inline double dfd_dd_divide(double a, double b, int which)
{
    return which == 1 ? -dfd_h_monomial(1.0, 1.0, b, 2, 0)
                      : 2.0 * dfd_h_monomial(a, 1.0, b, 3, 0);
}

/* d2 logaddexp(a, b)/da2 = w(1 - w), w = expit(a - b) (= -d2/dadb = d2/db2); for
 * logaddexp2 ln 2 w(1 - w) with w = 1/(1 + 2^(b - a)).  As in dfd_d_logaddexp the
 * rounding error of a - b (TwoSum) is carried to first order: h(d + err) = h(d)(1 +
 * ln B (1 - 2w) err).  Without it 350 eps at a - b = 1000 (logaddexp2 also rounded
 * (a - b) ln 2).  e = B^-|d| keeps w(1 - w) = e/(1 + e)^2 and |1 - 2w| = (1 - e)/(1 + e)
 * free of cancellation. */
static inline double dfd_dd_logaddexp(double a, double b, int base2)
{
    const double d = a - b;
    if (!isfinite(d)) return d == d ? 0.0 : d;
    const double bb = d - a, err = (a - (d - bb)) + (-b - bb);
    const double ad = fabs(d), e = base2 ? exp2(-ad) : exp(-ad), s = 1.0 + e;
    const double lnb = base2 ? DFD_LN2 : 1.0;
    const double v = lnb * (e / s / s), t = lnb * ((1.0 - e) / s) * err;
    return v * (d > 0.0 ? 1.0 - t : 1.0 + t);
}

/* d2 xlogy/db2 = -a/b^2, 0 where a = 0 (SciPy's convention, see dfd_d_xlogy_b);
 * xlog1py likewise with 1 + b. */
static inline double dfd_dd_xlogy_b(double a, double b)
{
    /* dfd_h_monomial: -(a/b)/b rounded a subnormal a/b (4.5e5 eps at a = 5e-324) */
    return a == 0.0 && b == b ? 0.0 : -dfd_h_monomial(a, 1.0, b, 2, 0);
}

static inline double dfd_dd_xlog1py_b(double a, double b)
{
    return a == 0.0 && b == b ? 0.0 : -dfd_h_monomial(a, 1.0, 1.0 + b, 2, 0);
}

/* One kernel per unary rule: y = value(x), ty = derivative(x, y) * tx. */
#define DFD_UNARY(name, value, deriv, deriv2, lo, hi)                                \
    int dfd_d2_##name(size_t n, const double *restrict xv, const double *restrict yv, \
                      double *restrict g)                                            \
    {                                                                                \
        for (size_t i = 0; i < n; i++) {                                             \
            const double x = xv[i], y = yv[i];                                       \
            const double d = (deriv);                                                \
            (void)x; (void)y; (void)d;                                               \
            g[i] = (deriv2);                                                         \
        }                                                                            \
        return 0;                                                                    \
    }                                                                                \
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
    }                                                                                \
    void dfd_rv_##name(size_t n, const double *restrict xv, const double *restrict yv, \
                       const double *restrict gy, double *restrict gx, int assign)   \
    {                                                                                \
        for (size_t i = 0; i < n; i++) {                                             \
            const double x = xv[i], y = yv[i];                                       \
            (void)x; (void)y;                                                        \
            const double p = (deriv);                                                \
            gx[i] = (assign ? 0.0 : gx[i]) + DFD_RV(p, gy[i]);                       \
        }                                                                            \
    }

/* One kernel per binary rule: y = value(a, b), ty = da ta + db tb.  The three loops
 * (both dual, only a, only b) keep the branch out of the element loop. */
#define DFD_BINARY(name, value, da, db, daa, dab, dbb, lo, hi)                       \
    int dfd_d2_##name##2(size_t n, const double *restrict av, size_t sa,             \
                         const double *restrict bv, size_t sb,                       \
                         const double *restrict yv, double *restrict h)              \
    {                                                                                \
        for (size_t i = 0; i < n; i++) {                                             \
            const double a = av[i * sa], b = bv[i * sb], y = yv[i];                  \
            (void)a; (void)b; (void)y;                                               \
            h[3 * i] = (daa);                                                        \
            h[3 * i + 1] = (dab);                                                    \
            h[3 * i + 2] = (dbb);                                                    \
        }                                                                            \
        return 0;                                                                    \
    }                                                                                \
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
    }                                                                                \
    void dfd_rv_##name##2(size_t n, const double *av, ptrdiff_t sa,                  \
                          const double *bv, ptrdiff_t sb, const double *restrict yv, \
                          const double *restrict gy, double *ga, double *gb,         \
                          int fa, int fb)                                            \
    {                                                                                \
        /* Contiguous cases first, with unaliased pointers: these loops vectorize. */ \
        if (ga && gb && ga != gb && sa == 1 && sb == 1) {                            \
            double *restrict pa = ga, *restrict pb = gb;                             \
            for (size_t i = 0; i < n; i++) {                                         \
                const double a = av[i], b = bv[i], y = yv[i], g = gy[i];             \
                (void)a; (void)b; (void)y;                                           \
                const double p = (da), q = (db);                                     \
                pa[i] = (fa ? 0.0 : pa[i]) + DFD_RV(p, g);                           \
                pb[i] = (fb ? 0.0 : pb[i]) + DFD_RV(q, g);                           \
            }                                                                        \
            return;                                                                  \
        }                                                                            \
        if (ga && !gb && sa == 1) {                                                  \
            double *restrict pa = ga;                                                \
            for (size_t i = 0; i < n; i++) {                                         \
                const double a = av[i], b = bv[(ptrdiff_t)i * sb], y = yv[i];        \
                (void)a; (void)b; (void)y;                                           \
                const double p = (da);                                               \
                pa[i] = (fa ? 0.0 : pa[i]) + DFD_RV(p, gy[i]);                       \
            }                                                                        \
            return;                                                                  \
        }                                                                            \
        if (gb && !ga && sb == 1) {                                                  \
            double *restrict pb = gb;                                                \
            for (size_t i = 0; i < n; i++) {                                         \
                const double a = av[(ptrdiff_t)i * sa], b = bv[i], y = yv[i];        \
                (void)a; (void)b; (void)y;                                           \
                const double q = (db);                                               \
                pb[i] = (fb ? 0.0 : pb[i]) + DFD_RV(q, gy[i]);                       \
            }                                                                        \
            return;                                                                  \
        }                                                                            \
        for (size_t i = 0; i < n; i++) {                                             \
            const double a = av[(ptrdiff_t)i * sa], b = bv[(ptrdiff_t)i * sb];       \
            const double y = yv[i], g = gy[i];                                       \
            (void)a; (void)b; (void)y;                                               \
            if (ga) {                                                                \
                const double p = (da);                                               \
                double *e = ga + (ptrdiff_t)i * sa;                                  \
                *e = (fa ? 0.0 : *e) + DFD_RV(p, g);                                 \
            }                                                                        \
            if (gb) {                                                                \
                const double p = (db);                                               \
                double *e = gb + (ptrdiff_t)i * sb;                                  \
                *e = (fb ? 0.0 : *e) + DFD_RV(p, g);                                 \
            }                                                                        \
        }                                                                            \
    }
#include "rules.def"
#undef DFD_UNARY
#undef DFD_BINARY

#define DFD_UNARY(name, value, deriv, deriv2, lo, hi)                                \
    {#name, "numpy", dfd_##name, lo, hi, #deriv, dfd_d2_##name, dfd_rv_##name},
#define DFD_SPECIAL_UNARY(name, value, deriv, deriv2, lo, hi)                        \
    {#name, "scipy.special", dfd_##name, lo, hi, #deriv, dfd_d2_##name, dfd_rv_##name},
#define DFD_BINARY(name, value, da, db, daa, dab, dbb, lo, hi)
#define DFD_SPECIAL_BINARY(name, value, da, db, daa, dab, dbb, lo, hi)
const dfd_unary_rule dfd_unary_rules[] = {
#include "rules.def"
};
#undef DFD_UNARY
#undef DFD_BINARY
#undef DFD_SPECIAL_UNARY
#undef DFD_SPECIAL_BINARY
const size_t dfd_n_unary_rules = sizeof dfd_unary_rules / sizeof dfd_unary_rules[0];

#define DFD_UNARY(name, value, deriv, deriv2, lo, hi)
#define DFD_SPECIAL_UNARY(name, value, deriv, deriv2, lo, hi)
#define DFD_BINARY(name, value, da, db, daa, dab, dbb, lo, hi)                       \
    {#name, "numpy", dfd_##name##2, lo, hi, #da, #db, dfd_d2_##name##2, dfd_rv_##name##2},
#define DFD_SPECIAL_BINARY(name, value, da, db, daa, dab, dbb, lo, hi)               \
    {#name, "scipy.special", dfd_##name##2, lo, hi, #da, #db, dfd_d2_##name##2, dfd_rv_##name##2},
const dfd_binary_rule dfd_binary_rules[] = {
#include "rules.def"
};
#undef DFD_UNARY
#undef DFD_BINARY
#undef DFD_SPECIAL_UNARY
#undef DFD_SPECIAL_BINARY
const size_t dfd_n_binary_rules = sizeof dfd_binary_rules / sizeof dfd_binary_rules[0];

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

/* The nonzero first-order entries of one element (of one or two tangents), ascending:
 * products of zero entries add nothing, and after the first operations of most
 * functions an element depends on a few directions only (Rosenbrock: 2 of k1). */
static size_t dfd_nonzeros(size_t k1, const double *A, const double *B, int *idx)
{
    size_t c = 0;
    for (size_t j = 0; j < k1; j++)
        if ((A && A[j] != 0.0) || (B && B[j] != 0.0)) idx[c++] = (int)j;
    return c;
}

void dfd_o2_unary(size_t n, size_t k, size_t k1, const int *restrict rix,
                  const double *restrict g, const double *restrict tx,
                  double *restrict ty, int *restrict idx)
{
    for (size_t i = 0; i < n; i++) {
        const double c = g[i], *t = tx + i * k;
        double *s = ty + i * k + k1;
        if (c == 0.0) continue;
        const size_t nz = dfd_nonzeros(k1, t, NULL, idx);
        for (size_t u = 0; u < nz; u++) {
            const int a = idx[u];
            const int *row = rix + (size_t)a * k1;
            const double ca = c * t[a];
            for (size_t w = u; w < nz; w++) {
                const int r = row[idx[w]];
                if (r >= 0) s[r] += ca * t[idx[w]];
            }
        }
    }
}

/* c * u, 0 where u == 0 (a non-finite c at a singularity; see dual.h). */
static inline double dfd_times(double c, double u)
{
    return u == 0.0 ? 0.0 : c * u;
}

void dfd_o2_binary(size_t n, size_t k, size_t k1, const int *restrict rix,
                   const double *restrict h, const double *ta, size_t sa,
                   const double *tb, size_t sb, double *restrict ty,
                   int *restrict idx)
{
    for (size_t i = 0; i < n; i++) {
        const double haa = ta ? h[3 * i] : 0.0, hbb = tb ? h[3 * i + 2] : 0.0;
        const double hab = ta && tb ? h[3 * i + 1] : 0.0;
        const double *A = ta ? ta + i * sa * k : NULL, *B = tb ? tb + i * sb * k : NULL;
        double *s = ty + i * k + k1;
        if (haa == 0.0 && hab == 0.0 && hbb == 0.0) continue;
        const size_t nz = dfd_nonzeros(k1, A, B, idx);
        const int finite = isfinite(haa) && isfinite(hab) && isfinite(hbb);
        for (size_t u = 0; u < nz; u++) {
            const int p = idx[u];
            const int *row = rix + (size_t)p * k1;
            const double ap = A ? A[p] : 0.0, bp = B ? B[p] : 0.0;
            for (size_t w = u; w < nz; w++) {
                const int q = idx[w], r = row[q];
                if (r < 0) continue;
                const double aq = A ? A[q] : 0.0, bq = B ? B[q] : 0.0;
                if (finite)
                    s[r] += haa * (ap * aq) + hab * (ap * bq + aq * bp) + hbb * (bp * bq);
                else
                    s[r] += dfd_times(haa, ap * aq) + dfd_times(hab, ap * bq + aq * bp)
                            + dfd_times(hbb, bp * bq);
            }
        }
    }
}
