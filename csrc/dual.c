/* Dual-number kernels expanded from rules.def by the C preprocessor. */
#include "dual.h"

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
