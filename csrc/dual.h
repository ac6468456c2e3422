/* Dual-number kernels: forward-mode derivatives of elementwise functions.
 *
 * Tangent layout (chosen by measurement, see src/dualfd/_dual.pyx): a dual array of n
 * elements with k directions stores its value as n doubles and its tangent as n * k
 * doubles, element i's k directions contiguous at t + i * k (tangents last, C order).
 *
 * Kernels take plain pointers and lengths, include no Python header and return 0.
 * Binary kernels take a stride of 0 or 1 per operand (0: a size-1 operand repeated);
 * a NULL tangent pointer means a constant operand (zero tangent). */
#ifndef DFD_DUAL_H
#define DFD_DUAL_H
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#define DFD_LN2  0.693147180559945309417232121458176568
#define DFD_LN10 2.302585092994045684017991454684364208
#define DFD_RAD  0.017453292519943295769236907684886127   /* pi / 180 */
#define DFD_DEG  57.29577951308232087679815481410517033   /* 180 / pi */
#define DFD_LOG2E  1.442695040888963407359924681001892137  /* 1 / ln 2 */
#define DFD_LOG10E 0.434294481903251827651128918916605082  /* 1 / ln 10 */
#define DFD_SIGN(x) ((double)(((x) > 0) - ((x) < 0)))
#define DFD_PICK_A(cond) ((cond) ? 1.0 : 0.0)
/* np.sign: +-1, +0 for either zero (as NumPy), NaN for NaN. */
#define DFD_SIGN_VALUE(x) ((x) > 0 ? 1.0 : (x) < 0 ? -1.0 : (x) == 0 ? 0.0 : (x))
/* NumPy's maximum/minimum propagate NaN from either side. */
#define DFD_MAX(a, b) (((a) >= (b) || (a) != (a)) ? (a) : (b))
#define DFD_MIN(a, b) (((a) <= (b) || (a) != (a)) ? (a) : (b))
/* The reverse-mode product of a partial p and an adjoint g, with dfd_scale's rule. */
/* (written as a select, which vectorizes: isfinite(p) || g != 0 keeps p g) */
#define DFD_RV(p, g) ((((g) != 0.0) | (fabs(p) <= DBL_MAX)) ? (p) * (g) : 0.0)

/* The two tangent primitives every rule reduces to.  A non-finite coefficient meets a
 * zero tangent entry only at a singularity (sqrt, log at 0): the entry stays 0 there.
 * The finite case is tested first so that the common loop has no branch and
 * vectorizes. */
static inline void dfd_scale(size_t k, double d, const double *restrict t,
                             double *restrict y)
{
    if (isfinite(d)) {
        for (size_t j = 0; j < k; j++) y[j] = d * t[j];
    } else {
        for (size_t j = 0; j < k; j++) y[j] = t[j] == 0.0 ? 0.0 : d * t[j];
    }
}

static inline void dfd_axpby(size_t k, double a, const double *restrict ta, double b,
                             const double *restrict tb, double *restrict y)
{
    if (isfinite(a) && isfinite(b)) {
        for (size_t j = 0; j < k; j++) y[j] = a * ta[j] + b * tb[j];
    } else {
        for (size_t j = 0; j < k; j++)
            y[j] = (ta[j] == 0.0 ? 0.0 : a * ta[j]) + (tb[j] == 0.0 ? 0.0 : b * tb[j]);
    }
}

typedef int (*dfd_unary_fn)(size_t n, size_t k, const double *restrict x,
                            const double *restrict tx, double *restrict y,
                            double *restrict ty);
typedef int (*dfd_binary_fn)(size_t n, size_t k,
                             const double *restrict a, size_t sa, const double *ta,
                             const double *restrict b, size_t sb, const double *tb,
                             double *restrict y, double *restrict ty);
/* Second derivatives, for second-order duals: g[i] = f''(x[i]) given y = f(x); for a
 * binary rule h[3 i .. 3 i + 2] = (d2/da2, d2/dadb, d2/db2) at (a[i sa], b[i sb]). */
/* Reverse mode (csrc/tape.c): accumulate the adjoints of a rule's operands from the
 * adjoint gy of its value y.  Unary: gx[i] += d(x[i], y[i]) gy[i], all contiguous.
 * Binary: ga[i sa] += da gy[i], gb[i sb] += db gy[i] at (a[i sa], b[i sb], y[i]);
 * strides may be 0 (a broadcast operand: its adjoint sums over the loop) and ga or gb
 * may be NULL (a constant).  A non-finite partial meets a zero adjoint only where the
 * forward kernels would meet a zero tangent: the term is 0 there, as in dfd_scale.
 * assign (fa, fb): the adjoint block is uninitialized and this call writes each of its
 * elements once: store instead of add (no zeroing pass over a fresh block). */
typedef void (*dfd_unary_rv_fn)(size_t n, const double *restrict x,
                                const double *restrict y, const double *restrict gy,
                                double *restrict gx, int assign);
typedef void (*dfd_binary_rv_fn)(size_t n, const double *a, ptrdiff_t sa,
                                 const double *b, ptrdiff_t sb,
                                 const double *restrict y, const double *restrict gy,
                                 double *ga, double *gb, int fa, int fb);
typedef int (*dfd_unary_d2_fn)(size_t n, const double *restrict x,
                               const double *restrict y, double *restrict g);
typedef int (*dfd_binary_d2_fn)(size_t n, const double *restrict a, size_t sa,
                                const double *restrict b, size_t sb,
                                const double *restrict y, double *restrict h);

/* module: where the function of that name lives, "numpy" or "scipy.special".
 * deriv (da, db): the rule's partials as written in rules.def, stringified, so that the
 * sparsity tracer reads which partials are identically zero or constant from the one
 * table instead of a second list. */
typedef struct {
    const char *name, *module; dfd_unary_fn fn; double lo, hi; const char *deriv;
    dfd_unary_d2_fn d2; dfd_unary_rv_fn rv;
} dfd_unary_rule;
typedef struct {
    const char *name, *module; dfd_binary_fn fn; double lo, hi; const char *da, *db;
    dfd_binary_d2_fn d2; dfd_binary_rv_fn rv;
} dfd_binary_rule;

#define DFD_UNARY(name, value, deriv, deriv2, lo, hi)                                \
    int dfd_##name(size_t n, size_t k, const double *restrict x,                     \
                   const double *restrict tx, double *restrict y, double *restrict ty); \
    int dfd_d2_##name(size_t n, const double *restrict x, const double *restrict y,  \
                      double *restrict g);                                           \
    void dfd_rv_##name(size_t n, const double *restrict x, const double *restrict y, \
                       const double *restrict gy, double *restrict gx, int assign);
#define DFD_BINARY(name, value, da, db, daa, dab, dbb, lo, hi)                       \
    int dfd_##name##2(size_t n, size_t k,                                            \
                      const double *restrict a, size_t sa, const double *ta,         \
                      const double *restrict b, size_t sb, const double *tb,         \
                      double *restrict y, double *restrict ty);                      \
    int dfd_d2_##name##2(size_t n, const double *restrict a, size_t sa,              \
                         const double *restrict b, size_t sb,                        \
                         const double *restrict y, double *restrict h);                 \
    void dfd_rv_##name##2(size_t n, const double *av, ptrdiff_t sa,                  \
                          const double *bv, ptrdiff_t sb, const double *restrict yv, \
                          const double *restrict gy, double *ga, double *gb,     \
                          int fa, int fb);
#include "rules.def"
#undef DFD_UNARY
#undef DFD_BINARY

/* The tables, in rules.def order, for the Python layer and the tests. */
extern const dfd_unary_rule dfd_unary_rules[];
extern const size_t dfd_n_unary_rules;
extern const dfd_binary_rule dfd_binary_rules[];
extern const size_t dfd_n_binary_rules;

/* Digamma psi(x) and trigamma psi'(x) on the whole real line (libm has neither);
 * algorithms and accuracy in dual.c. */
/* --- sinpi, cospi with exact argument reduction ---------------------------------------
 * r = x - n with n = nearest integer to x is exact (|x| < 2^52; beyond, x is an integer);
 * pi r is split into head and tail with fma (pi = DFD_PI + DFD_PI_LO), and
 * sin(h + l) = sin h + l cos h to first order, l being below ulp(h).
 * Outputs sin(pi r), cos(pi r) and the parity of n (sin(pi x) = (-1)^n sin(pi r)). */
#define DFD_PI    3.141592653589793115997963468544185162
#define DFD_PI_LO 1.224646799147353207173764029458198774e-16
static inline void dfd_sincospi(double x, double *s, double *c, int *odd)
{
    const double n = nearbyint(x), r = x - n;
    const double h = DFD_PI * r, l = fma(DFD_PI, r, -h) + DFD_PI_LO * r;
    const double sh = sin(h), ch = cos(h);
    *s = sh + l * ch;
    *c = ch - l * sh;
    *odd = fabs(fmod(n, 2.0)) == 1.0;
}

double dfd_sf_digamma(double x);
double dfd_sf_trigamma(double x);
double dfd_sf_tetragamma(double x);

/* --- second-order duals --------------------------------------------------------------
 * A second-order dual keeps the first layout (k tangent entries per element) and gives
 * them two meanings: entries [0, k1) are first-order tangents T_j along directions u_j,
 * entries [k1, k1 + m) second-order ones S_r = d2 y / (de_p de_q) for the pairs
 * (p, q), p, q < k1, of x(e) = x + sum_j e_j u_j.  Every linear
 * operation maps S as it maps T, so the first-order kernels compute the S_r part
 * g' S_r; the kernels below add what is left, the chain rule's second-order term:
 *   unary   S_r += g'' T_p T_q
 *   binary  S_r += g_aa A_p A_q + g_ab (A_p B_q + A_q B_p) + g_bb B_p B_q
 * (A, B: the operands' first-order tangents; a NULL one is a constant).  The pairs
 * come as rix, a k1 x k1 map: rix[p k1 + q] = r for the pair (p, q), the same for
 * (q, p), -1 where no pair is kept.  Only the nonzero entries of an element's
 * first-order tangents are visited (idx: k1 ints of work space).  As in dfd_scale,
 * a non-finite coefficient meets a zero product only at a singularity, where the
 * entry is left unchanged. */
void dfd_o2_unary(size_t n, size_t k, size_t k1, const int *restrict rix,
                  const double *restrict g, const double *restrict tx,
                  double *restrict ty, int *restrict idx);
void dfd_o2_binary(size_t n, size_t k, size_t k1, const int *restrict rix,
                   const double *restrict h, const double *ta, size_t sa,
                   const double *tb, size_t sb, double *restrict ty,
                   int *restrict idx);

/* y[i] = x[i * s] for i < n, value and tangent (k each) together; s may be negative. */
/* The identity seed: tangent row i (of n) has a 1 in column i - c0 if it lies in
 * [0, k), else zeros. */
void dfd_seed(size_t n, size_t k, size_t c0, double *restrict t);
/* Scatter a (m, k) tangent into columns [c0, c0 + k) of an (m, n) Jacobian. */
void dfd_put_columns(size_t m, size_t k, const double *restrict t, size_t n, size_t c0,
                     double *restrict J);

/* Sum of all n elements: y = sum_i v[i], ty[j] = sum_i t[i * k + j].  Naive sums
 * within blocks of DFD_SUM_BLOCK rows, then the sum of the block sums, so rounding
 * error grows like (block + n / block) eps instead of n eps.  work: k doubles, used only
 * when n > DFD_SUM_BLOCK (may be NULL otherwise). */
#define DFD_SUM_BLOCK 128
void dfd_sum(size_t n, size_t k, const double *restrict v, const double *restrict t,
             double *restrict y, double *restrict ty, double *restrict work);

#endif
