/* The reverse-mode tape and its backward sweep; see tape.h. */
#include <stdlib.h>
#include <string.h>
#include "dual.h"
#include "tape.h"

void dfd_tape_init(dfd_tape *t) { memset(t, 0, sizeof *t); }

static int grow(void **p, size_t *cap, size_t need, size_t elem);

/* Keep block p of n doubles as a spare, or free it. */
static void release(dfd_tape *t, double *p, size_t n)
{
    if (!p)
        return;
    size_t bytes = n * sizeof(double);
    if (n < 4096 || t->sparebytes + bytes > DFD_TAPE_SPARE_MAX) {
        free(p);                /* small blocks come cheap from malloc */
        return;
    }
    size_t cap = t->capspare;
    if (t->nspare + 1 > cap) {
        size_t c = cap;
        if (grow((void **)&t->sparesz, &c, t->nspare + 1, sizeof *t->sparesz)) {
            free(p);
            return;
        }
        c = cap;
        if (grow((void **)&t->spare, &c, t->nspare + 1, sizeof *t->spare)) {
            free(p);
            return;
        }
        t->capspare = c;
    }
    t->spare[t->nspare] = p;
    t->sparesz[t->nspare++] = n;
    t->sparebytes += bytes;
}

void dfd_tape_clear(dfd_tape *t)
{
    for (size_t i = 0; i < t->nnode; i++) {
        release(t, t->adj[i], t->size[i]);
        t->adj[i] = NULL;
    }
}

void dfd_tape_move_spares(dfd_tape *dst, dfd_tape *src)
{
    for (size_t i = 0; i < src->nspare; i++)
        release(dst, src->spare[i], src->sparesz[i]);
    src->nspare = 0;
    src->sparebytes = 0;
}

void dfd_tape_free(dfd_tape *t)
{
    dfd_tape_clear(t);
    for (size_t i = 0; i < t->nspare; i++)
        free(t->spare[i]);
    free(t->spare);
    free(t->sparesz);
    free(t->rec);
    free(t->pool);
    free(t->adj);
    free(t->size);
    dfd_tape_init(t);
}

/* Grow *p (elements of `elem` bytes, capacity *cap) to hold `need`; 0 or -1. */
static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q)
        return -1;
    *p = q;
    *cap = c;
    return 0;
}

ptrdiff_t dfd_tape_node(dfd_tape *t, size_t size)
{
    size_t cap = t->capnode;
    if (t->nnode + 1 > cap) {
        size_t c = cap;
        if (grow((void **)&t->size, &c, t->nnode + 1, sizeof *t->size))
            return -1;
        c = cap;
        if (grow((void **)&t->adj, &c, t->nnode + 1, sizeof *t->adj))
            return -1;
        t->capnode = c;
    }
    t->adj[t->nnode] = NULL;
    t->size[t->nnode] = size;
    return (ptrdiff_t)t->nnode++;
}

dfd_rec *dfd_tape_push(dfd_tape *t)
{
    if (grow((void **)&t->rec, &t->caprec, t->nrec + 1, sizeof *t->rec))
        return NULL;
    dfd_rec *r = &t->rec[t->nrec++];
    memset(r, 0, sizeof *r);
    r->na = r->nb = r->ny = -1;
    return r;
}

ptrdiff_t *dfd_tape_pool(dfd_tape *t, size_t m)
{
    if (grow((void **)&t->pool, &t->cappool, t->npool + m, sizeof *t->pool))
        return NULL;
    t->rec[t->nrec - 1].pool = t->npool;
    ptrdiff_t *p = t->pool + t->npool;
    t->npool += m;
    return p;
}

int dfd_tape_coalesce(int nd, ptrdiff_t *shape, int nops, ptrdiff_t *strides)
{
    /* Drop extent-1 dimensions, then merge d into d + 1 where every operand steps
     * over d exactly as over a whole run of d + 1. */
    int m = 0;
    for (int d = 0; d < nd; d++) {
        if (shape[d] == 1)
            continue;
        shape[m] = shape[d];
        for (int o = 0; o < nops; o++)
            strides[o * nd + m] = strides[o * nd + d];
        m++;
    }
    if (m == 0) {
        shape[0] = 1;
        for (int o = 0; o < nops; o++)
            strides[o * nd] = 0;
        m = 1;
    }
    int w = 0;   /* last kept dimension */
    for (int d = 1; d < m; d++) {
        int merge = 1;
        for (int o = 0; o < nops && merge; o++)
            merge = strides[o * nd + w] == strides[o * nd + d] * shape[d];
        if (merge) {
            shape[w] *= shape[d];
            for (int o = 0; o < nops; o++)
                strides[o * nd + w] = strides[o * nd + d];
        } else {
            w++;
            shape[w] = shape[d];
            for (int o = 0; o < nops; o++)
                strides[o * nd + w] = strides[o * nd + d];
        }
    }
    m = w + 1;
    /* Lay the result out as shape[m], then m strides per operand. */
    for (int o = 0; o < nops; o++)
        memmove(shape + m + o * m, strides + o * nd, (size_t)m * sizeof *strides);
    return m;
}

/* The node's adjoint block for a writer.  A fresh block is left uninitialized when
 * the writer stores every element once (whole: *assign = 1), else zeroed. */
static double *adj_for(dfd_tape *t, ptrdiff_t node, int whole, int *assign)
{
    *assign = 0;
    if (t->adj[node])
        return t->adj[node];
    size_t n = t->size[node];
    double *p = NULL;
    for (size_t i = t->nspare; i-- > 0;) {
        if (t->sparesz[i] == n) {
            p = t->spare[i];
            t->spare[i] = t->spare[--t->nspare];
            t->sparesz[i] = t->sparesz[t->nspare];
            t->sparebytes -= n * sizeof(double);
            break;
        }
    }
    if (!p && !(p = malloc((n ? n : 1) * sizeof(double))))
        return NULL;
    if (whole && n)
        *assign = 1;
    else
        memset(p, 0, (n ? n : 1) * sizeof(double));
    return t->adj[node] = p;
}

double *dfd_tape_adj(dfd_tape *t, ptrdiff_t node)
{
    int assign;
    return adj_for(t, node, 0, &assign);
}

/* An nd loop over the outer nd - 1 dimensions; the innermost runs in one call. */
#define DFD_ND_LOOP(nd, shape, ...)                                                  \
    do {                                                                             \
        ptrdiff_t idx_[DFD_TAPE_MAXDIM] = {0};                                       \
        size_t outer_ = 1;                                                           \
        for (int d_ = 0; d_ < (nd) - 1; d_++)                                        \
            outer_ *= (size_t)(shape)[d_];                                           \
        for (size_t o_ = 0; o_ < outer_; o_++) {                                     \
            __VA_ARGS__;                                                             \
            for (int d_ = (nd) - 2; d_ >= 0; d_--) {                                 \
                if (++idx_[d_] < (shape)[d_]) break;                                 \
                idx_[d_] = 0;                                                        \
            }                                                                        \
        }                                                                            \
    } while (0)

static ptrdiff_t offset(int nd, const ptrdiff_t *idx, const ptrdiff_t *s)
{
    ptrdiff_t off = 0;
    for (int d = 0; d < nd - 1; d++)
        off += idx[d] * s[d];
    return off;
}

static size_t loop_size(int nd, const ptrdiff_t *shape)
{
    size_t n = 1;
    for (int d = 0; d < nd; d++)
        n *= (size_t)shape[d];
    return n;
}

static int run_binary(dfd_tape *t, const dfd_rec *r, double *gy)
{
    double *ga = NULL, *gb = NULL;
    const int nd = r->nd;
    const ptrdiff_t *shape = t->pool + r->pool, *sa = shape + nd, *sb = sa + nd;
    /* An operand of the result's size is visited once per element (no broadcast). */
    const size_t total = loop_size(nd, shape);
    int fa = 0, fb = 0;
    if (r->na >= 0 && !(ga = adj_for(t, r->na, t->size[r->na] == total, &fa)))
        return -1;
    if (r->nb >= 0 && !(gb = adj_for(t, r->nb, t->size[r->nb] == total, &fb)))
        return -1;
    const dfd_binary_rv_fn fn = dfd_binary_rules[r->rule].rv;
    const size_t inner = (size_t)shape[nd - 1];
    size_t pos = 0;
    DFD_ND_LOOP(nd, shape, {
        const ptrdiff_t oa = offset(nd, idx_, sa), ob = offset(nd, idx_, sb);
        fn(inner, r->a + oa, sa[nd - 1], r->b + ob, sb[nd - 1], r->y + pos, gy + pos,
           ga ? ga + oa : NULL, gb ? gb + ob : NULL, fa, fb);
        pos += inner;
    });
    return 0;
}

static int run_acc(dfd_tape *t, const dfd_rec *r, const double *gy)
{
    const int nd = r->nd;
    const ptrdiff_t *shape = t->pool + r->pool, *sx = shape + nd, *sy = sx + nd;
    /* A loop as large as x visits each element of x once (a sum, a transpose); a
     * smaller one is a part of x (a slice), a larger one a broadcast. */
    int as;
    double *gx = adj_for(t, r->na, t->size[r->na] == loop_size(nd, shape), &as);
    if (!gx)
        return -1;
    gx += r->off;
    const ptrdiff_t inner = shape[nd - 1], ix = sx[nd - 1], iy = sy[nd - 1];
    const double c = r->scale;
    DFD_ND_LOOP(nd, shape, {
        double *x = gx + offset(nd, idx_, sx);
        const double *y = gy + offset(nd, idx_, sy);
        if (iy == 0) {          /* y is constant along the run (x summed into it) */
            const double v = c * y[0];
            if (ix == 1)
                for (ptrdiff_t i = 0; i < inner; i++) x[i] = (as ? 0.0 : x[i]) + v;
            else
                for (ptrdiff_t i = 0; i < inner; i++)
                    x[i * ix] = (as ? 0.0 : x[i * ix]) + v;
        } else if (ix == 0) {   /* x is broadcast along the run: sum, then add once */
            double s = 0.0;
            for (ptrdiff_t i = 0; i < inner; i++) s += y[i * iy];
            x[0] += c * s;      /* (never whole: x is zeroed) */
        } else if (ix == 1 && iy == 1 && c == 1.0) {
            for (ptrdiff_t i = 0; i < inner; i++) x[i] = (as ? 0.0 : x[i]) + y[i];
        } else {
            for (ptrdiff_t i = 0; i < inner; i++)
                x[i * ix] = (as ? 0.0 : x[i * ix]) + c * y[i * iy];
        }
    });
    return 0;
}

static int run_record(dfd_tape *t, const dfd_rec *r)
{
    double *gy = t->adj[r->ny];
    if (!gy)
        return 0;               /* the result was never used: nothing flows back */
    switch (r->op) {
    case DFD_R_UNARY: {
        int as;
        double *gx = adj_for(t, r->na, 1, &as);
        if (!gx)
            return -1;
        dfd_unary_rules[r->rule].rv(r->n, r->a, r->y, gy, gx, as);
        return 0;
    }
    case DFD_R_BINARY:
        return run_binary(t, r, gy);
    case DFD_R_ACC:
        return run_acc(t, r, gy);
    case DFD_R_GATHER: {
        double *gx = dfd_tape_adj(t, r->na);
        if (!gx)
            return -1;
        const int64_t *src = r->src;
        for (size_t i = 0; i < r->n; i++)
            if (src[i] >= 0)
                gx[src[i]] += gy[i];
        return 0;
    }
    }
    return 0;
}

int dfd_tape_sweep(dfd_tape *t, size_t *pos, ptrdiff_t keep)
{
    size_t i = *pos;
    while (i > 0) {
        const dfd_rec *r = &t->rec[i - 1];
        if (r->op == DFD_R_PY) {
            *pos = i - 1;
            return 1;
        }
        if (run_record(t, r))
            return -1;
        i--;
        /* Records with the same result (a gather per operand) are adjacent. */
        if (r->ny != keep && (i == 0 || t->rec[i - 1].ny != r->ny)) {
            release(t, t->adj[r->ny], t->size[r->ny]);
            t->adj[r->ny] = NULL;
        }
    }
    *pos = 0;
    return 0;
}
