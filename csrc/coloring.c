/* Column and star colorings, and recovery from compressed products.
 *
 * References: T. F. Coleman and J. J. More, "Estimation of sparse Jacobian
 * matrices and graph coloring problems", SIAM J. Numer. Anal. 20 (1983);
 * A. H. Gebremedhin, F. Manne and A. Pothen, "What color is your Jacobian?
 * Graph coloring for computing derivatives", SIAM Review 47(4) (2005),
 * sections 3-5 (orderings, Algorithm 4.1 for star coloring); J. C. Culberson,
 * "Iterated greedy graph coloring" (1992) for the recoloring by classes.
 *
 * The column-intersection graph is never built: the neighbors of a column are
 * found in two hops (its rows, then their columns), so one greedy pass costs
 * O(sum over rows of (row count)^2).
 */
#include "coloring.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Recoloring by classes: at most this many rounds, stopping after two that
 * gain nothing (on random patterns one round in a hundred gains a color;
 * each round costs one greedy pass). */
enum { RECOLOR_ROUNDS = 4, RECOLOR_PATIENCE = 1 };

/* Work budget of a coloring, in neighbor visits (one greedy pass makes
 * sum over rows of (row count)^2 of them): the first two orderings always
 * run; smallest-last and incidence degree (about 4 passes each) and each
 * recoloring round (1 pass) only while the total stays within the budget.
 * On a random 10^6 x 10^6 pattern with 5 entries per row a pass takes ~0.5 s
 * (cache misses); on a grid ~30 ms. Deterministic: never depends on time. */
#define WORK_BUDGET 1e8

/* An array of count elements of size bytes, or NULL (also on overflow). */
static void *alloc_array(size_t count, size_t size)
{
    if (count > SIZE_MAX / size)
        return NULL;
    return malloc(count ? count * size : 1);
}

int dfd_check_pattern(size_t m, size_t ncols, const int64_t *indptr,
                      const int64_t *indices, size_t nnz, size_t *bad)
{
    if (indptr[0] != 0) { *bad = 0; return DFD_COLOR_ERR_INDPTR; }
    for (size_t i = 0; i < m; i++) {
        int64_t p0 = indptr[i], p1 = indptr[i + 1];
        /* p0 is known to lie in [0, nnz] (checked for the row before) */
        if (p1 < p0 || (uint64_t)p1 > (uint64_t)nnz) { *bad = i; return DFD_COLOR_ERR_INDPTR; }
        int64_t prev = -1;
        for (int64_t p = p0; p < p1; p++) {
            int64_t j = indices[p];
            if (j < 0 || (uint64_t)j >= (uint64_t)ncols) { *bad = (size_t)p; return DFD_COLOR_ERR_INDEX; }
            if (j <= prev) { *bad = (size_t)p; return DFD_COLOR_ERR_UNSORTED; }
            prev = j;
        }
    }
    if ((uint64_t)indptr[m] != (uint64_t)nnz) { *bad = m; return DFD_COLOR_ERR_INDPTR; }
    return DFD_COLOR_OK;
}

int64_t dfd_max_row_count(size_t m, const int64_t *indptr)
{
    int64_t best = 0;
    for (size_t i = 0; i < m; i++)
        if (indptr[i + 1] - indptr[i] > best)
            best = indptr[i + 1] - indptr[i];
    return best;
}

/* ---- graphs given in two hops ------------------------------------------ */

/* The neighbors of v are the vertices u != v reached by v -> middle items
 * a(v) -> vertices b(r). With aptr == NULL the first hop is v itself, so the
 * neighbors are the row b(v): the plain adjacency graph of a square pattern.
 * For the column-intersection graph a is the CSC and b the CSR of the pattern.
 * A neighbor may be reached more than once (mark it to count it once). */
struct color_tables;

typedef struct {
    size_t n;
    const int64_t *aptr, *aind;
    const int64_t *bptr, *bind;
    struct color_tables *tables;   /* star coloring only: see below */
} graph2;

#define FOR_EACH_NEIGHBOR(g, v, u, ...)                                        \
    do {                                                                       \
        int64_t a0_ = (g)->aptr ? (g)->aptr[v] : 0;                            \
        int64_t a1_ = (g)->aptr ? (g)->aptr[(v) + 1] : 1;                      \
        for (int64_t ap_ = a0_; ap_ < a1_; ap_++) {                            \
            int64_t r_ = (g)->aptr ? (g)->aind[ap_] : (int64_t)(v);            \
            for (int64_t bp_ = (g)->bptr[r_]; bp_ < (g)->bptr[r_ + 1]; bp_++) {\
                int64_t u = (g)->bind[bp_];                                    \
                if (u != (int64_t)(v)) { __VA_ARGS__ }                         \
            }                                                                  \
        }                                                                      \
    } while (0)

/* Work arrays of n entries each, allocated together. */
typedef struct {
    int64_t *order, *colors, *forbid, *mark, *key, *head, *next, *prev;
} work;

static void work_free(work *w)
{
    free(w->order); free(w->colors); free(w->forbid); free(w->mark);
    free(w->key); free(w->head); free(w->next); free(w->prev);
}

static int work_alloc(work *w, size_t n)
{
    memset(w, 0, sizeof *w);
    int64_t **all[] = {&w->order, &w->colors, &w->forbid, &w->mark,
                       &w->key, &w->head, &w->next, &w->prev};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        if (!(*all[k] = alloc_array(n, sizeof(int64_t)))) {
            work_free(w);
            return DFD_COLOR_ERR_NOMEM;
        }
    return DFD_COLOR_OK;
}

static void fill(int64_t *a, size_t n, int64_t value)
{
    for (size_t i = 0; i < n; i++)
        a[i] = value;
}

/* key[v] = number of distinct neighbors of v. */
static void degrees(const graph2 *g, work *w)
{
    fill(w->mark, g->n, -1);
    for (size_t v = 0; v < g->n; v++) {
        int64_t d = 0;
        FOR_EACH_NEIGHBOR(g, v, u, if (w->mark[u] != (int64_t)v) { w->mark[u] = (int64_t)v; d++; });
        w->key[v] = d;
    }
}

/* Bucket lists by key (keys < n): doubly linked, head[key] the first. */
static void bucket_insert(work *w, int64_t v, int64_t key)
{
    w->next[v] = w->head[key];
    w->prev[v] = -1;
    if (w->head[key] >= 0)
        w->prev[w->head[key]] = v;
    w->head[key] = v;
}

static void bucket_remove(work *w, int64_t v, int64_t key)
{
    if (w->prev[v] >= 0) w->next[w->prev[v]] = w->next[v];
    else w->head[key] = w->next[v];
    if (w->next[v] >= 0) w->prev[w->next[v]] = w->prev[v];
}

enum { ORDER_NATURAL, ORDER_LARGEST_FIRST, ORDER_SMALLEST_LAST,
       ORDER_INCIDENCE_DEGREE, NORDERS };

/* Largest-first: by decreasing degree, ties by index (a stable counting sort). */
static void order_largest_first(const graph2 *g, work *w)
{
    size_t n = g->n;
    /* The degree counted with multiplicity (a neighbor met through two rows
     * counts twice; capped at n - 1): O(nnz), where the distinct degree costs
     * a greedy pass, and as good an order on the test patterns. */
    for (size_t v = 0; v < n; v++) {
        int64_t d = 0;
        if (g->aptr) {
            for (int64_t p = g->aptr[v]; p < g->aptr[v + 1]; p++) {
                int64_t r = g->aind[p];
                d += g->bptr[r + 1] - g->bptr[r] - 1;   /* v is in row r */
            }
        } else {
            for (int64_t p = g->bptr[v]; p < g->bptr[v + 1]; p++)
                d += g->bind[p] != (int64_t)v;
        }
        w->key[v] = d < (int64_t)n - 1 ? d : (int64_t)n - 1;
    }
    int64_t *count = w->head;   /* count[d]: vertices of degree > d before d's */
    fill(count, n, 0);
    for (size_t v = 0; v < n; v++)
        count[w->key[v]]++;
    int64_t start = 0;
    for (size_t d = n; d-- > 0;) {
        int64_t c = count[d];
        count[d] = start;
        start += c;
    }
    for (size_t v = 0; v < n; v++)
        w->order[count[w->key[v]]++] = (int64_t)v;
}

/* Smallest-last (Matula & Beck): repeatedly remove a vertex of least degree in
 * what remains; it is colored after everything removed later. */
static void order_smallest_last(const graph2 *g, work *w)
{
    size_t n = g->n;
    int64_t *done = w->forbid;
    degrees(g, w);
    fill(w->head, n, -1);
    fill(done, n, 0);
    fill(w->mark, n, -1);
    for (size_t v = n; v-- > 0;)
        bucket_insert(w, (int64_t)v, w->key[v]);
    int64_t low = 0;
    for (size_t k = n; k-- > 0;) {
        while (w->head[low] < 0)
            low++;
        int64_t v = w->head[low];
        bucket_remove(w, v, low);
        w->order[k] = v;
        done[v] = 1;
        FOR_EACH_NEIGHBOR(g, v, u,
            if (!done[u] && w->mark[u] != v) {
                w->mark[u] = v;
                bucket_remove(w, u, w->key[u]);
                bucket_insert(w, u, --w->key[u]);
            });
        if (low > 0)
            low--;   /* a neighbor's degree may now be low - 1 */
    }
}

/* Incidence degree: next, the vertex with the most already-ordered neighbors. */
static void order_incidence_degree(const graph2 *g, work *w)
{
    size_t n = g->n;
    int64_t *done = w->forbid;
    fill(w->head, n, -1);
    fill(w->key, n, 0);
    fill(done, n, 0);
    fill(w->mark, n, -1);
    for (size_t v = n; v-- > 0;)
        bucket_insert(w, (int64_t)v, 0);
    int64_t high = 0;
    for (size_t k = 0; k < n; k++) {
        while (w->head[high] < 0)
            high--;
        int64_t v = w->head[high];
        bucket_remove(w, v, high);
        w->order[k] = v;
        done[v] = 1;
        FOR_EACH_NEIGHBOR(g, v, u,
            if (!done[u] && w->mark[u] != v) {
                w->mark[u] = v;
                bucket_remove(w, u, w->key[u]);
                bucket_insert(w, u, ++w->key[u]);
                if (w->key[u] > high)
                    high = w->key[u];
            });
    }
}

static void make_order(const graph2 *g, work *w, int which)
{
    switch (which) {
    case ORDER_LARGEST_FIRST: order_largest_first(g, w); break;
    case ORDER_SMALLEST_LAST: order_smallest_last(g, w); break;
    case ORDER_INCIDENCE_DEGREE: order_incidence_degree(g, w); break;
    default:
        for (size_t v = 0; v < g->n; v++)
            w->order[v] = (int64_t)v;
    }
}

/* Smallest color not marked forbidden for v (there are at most n - 1 marks). */
static int64_t first_free(const int64_t *forbid, int64_t v)
{
    int64_t c = 0;
    while (forbid[c] == v)
        c++;
    return c;
}

/* First-fit distance-1 coloring of g in w->order into w->colors. Returns the
 * number of colors, or stops early once it reaches limit. */
static int64_t greedy(const graph2 *g, work *w, int64_t limit)
{
    int64_t nc = 0;
    fill(w->colors, g->n, -1);
    fill(w->forbid, g->n, -1);
    for (size_t k = 0; k < g->n; k++) {
        int64_t v = w->order[k];
        FOR_EACH_NEIGHBOR(g, v, u, if (w->colors[u] >= 0) w->forbid[w->colors[u]] = v;);
        int64_t c = first_free(w->forbid, v);
        w->colors[v] = c;
        if (c >= nc && (nc = c + 1) >= limit)
            return nc;
    }
    return nc;
}

/* Per-vertex tables of the colors around a vertex of high degree ("heavy"):
 * color -> (number of colored neighbors with that color, one of them), open
 * addressing, plus the list of occupied slots. They let the star coloring
 * visit the colors around a hub instead of its neighbors: on an arrowhead
 * that turns O(n^2) into O(n). Vertices of lower degree are scanned. */
enum { HEAVY_DEGREE = 32 };

struct color_tables {
    int64_t *id;                  /* id[v]: v's table, or -1 if v is light */
    int64_t *start, *mask, *len;  /* per table: first slot, capacity - 1, used */
    int64_t *color, *count, *one; /* per slot; color -1: empty */
    int64_t *list;                /* per slot position: occupied slots in order */
    size_t ntables, nslots;
};

static void tables_free(struct color_tables *t)
{
    free(t->id); free(t->start); free(t->mask); free(t->len);
    free(t->color); free(t->count); free(t->one); free(t->list);
}

static int tables_alloc(struct color_tables *t, size_t n, const int64_t *ptr)
{
    size_t ntables = 0, nslots = 0;
    memset(t, 0, sizeof *t);
    for (size_t v = 0; v < n; v++) {
        size_t deg = (size_t)(ptr[v + 1] - ptr[v]), cap = 1;
        if (deg <= HEAVY_DEGREE)
            continue;
        while (cap < 2 * deg)   /* deg < nnz, so no overflow */
            cap *= 2;
        if (nslots > SIZE_MAX - cap)
            return DFD_COLOR_ERR_NOMEM;
        nslots += cap;
        ntables++;
    }
    t->ntables = ntables;
    t->nslots = nslots;
    t->id = alloc_array(n, sizeof(int64_t));
    t->start = alloc_array(ntables, sizeof(int64_t));
    t->mask = alloc_array(ntables, sizeof(int64_t));
    t->len = alloc_array(ntables, sizeof(int64_t));
    t->color = alloc_array(nslots, sizeof(int64_t));
    t->count = alloc_array(nslots, sizeof(int64_t));
    t->one = alloc_array(nslots, sizeof(int64_t));
    t->list = alloc_array(nslots, sizeof(int64_t));
    if (!t->id || !t->start || !t->mask || !t->len || !t->color || !t->count
        || !t->one || !t->list) {
        tables_free(t);
        memset(t, 0, sizeof *t);   /* the caller frees it again */
        return DFD_COLOR_ERR_NOMEM;
    }
    int64_t k = 0, s = 0;
    for (size_t v = 0; v < n; v++) {
        int64_t deg = ptr[v + 1] - ptr[v], cap = 1;
        t->id[v] = -1;
        if (deg <= HEAVY_DEGREE)
            continue;
        while (cap < 2 * deg)
            cap *= 2;
        t->id[v] = k;
        t->start[k] = s;
        t->mask[k] = cap - 1;
        s += cap;
        k++;
    }
    return DFD_COLOR_OK;
}

static void tables_clear(struct color_tables *t)
{
    fill(t->color, t->nslots, -1);
    fill(t->len, t->ntables, 0);
}

/* The slot of color c in table k: where it is, or the empty slot it would take. */
static int64_t table_slot(const struct color_tables *t, int64_t k, int64_t c)
{
    int64_t mask = t->mask[k], h = (int64_t)(((uint64_t)c * 0x9E3779B97F4A7C15u) >> 33) & mask;
    while (t->color[t->start[k] + h] != c && t->color[t->start[k] + h] != -1)
        h = (h + 1) & mask;   /* never full: capacity >= 2 * degree */
    return t->start[k] + h;
}

/* v, a neighbor of table k's vertex, got color c. */
static void table_add(struct color_tables *t, int64_t k, int64_t c, int64_t v)
{
    int64_t slot = table_slot(t, k, c);
    if (t->color[slot] == -1) {
        t->color[slot] = c;
        t->count[slot] = 0;
        t->one[slot] = v;
        t->list[t->start[k] + t->len[k]++] = slot;
    }
    t->count[slot]++;
}

/* Has x a colored neighbor other than w (which has color c) with color c? */
static int other_neighbor_of_color(const graph2 *g, int64_t x, int64_t w, int64_t c,
                                   const int64_t *colors)
{
    const struct color_tables *t = g->tables;
    if (t && t->id[x] >= 0) {
        int64_t slot = table_slot(t, t->id[x], c);
        return t->color[slot] == c && t->count[slot] >= 2;   /* w is one */
    }
    for (int64_t r = g->bptr[x]; r < g->bptr[x + 1]; r++)
        if (g->bind[r] != w && g->bind[r] != x && colors[g->bind[r]] == c)
            return 1;
    return 0;
}

/* Greedy star coloring (Gebremedhin, Manne & Pothen 2005, Algorithm 4.1) of
 * the adjacency graph g (aptr == NULL) in w->order. v may not take
 *  - a neighbor's color (distance 1);
 *  - the color of x, two steps away through an uncolored u: once u is colored
 *    the path v-u-x would be its star's center u with two leaves v and x, and
 *    this rule keeps any vertex from having two neighbors of one color unless
 *    it is their star's center;
 *  - the color of x, two steps away through a colored u, if x already has a
 *    neighbor y != u of u's color: v-u-x-y would be a two-colored path.
 * The coloring so far being a star coloring, if u has two neighbors of x's
 * color, u is their center and none of them has another neighbor of u's
 * color (that would close a two-colored path on 4 vertices): the colors
 * around a heavy u are checked once each, through its table.
 * Returns the number of colors, or stops early once it reaches limit. */
static int64_t greedy_star(const graph2 *g, work *w, int64_t limit)
{
    const int64_t *ptr = g->bptr, *ind = g->bind;
    int64_t *colors = w->colors, *forbid = w->forbid;
    struct color_tables *t = g->tables;
    int64_t nc = 0;
    fill(colors, g->n, -1);
    fill(forbid, g->n, -1);
    if (t)
        tables_clear(t);
    for (size_t k = 0; k < g->n; k++) {
        int64_t v = w->order[k];
        for (int64_t p = ptr[v]; p < ptr[v + 1]; p++) {
            int64_t u = ind[p], cu = colors[u];
            if (u == v)
                continue;
            if (cu >= 0)
                forbid[cu] = v;
            if (t && t->id[u] >= 0) {
                int64_t tu = t->id[u];
                for (int64_t e = 0; e < t->len[tu]; e++) {
                    int64_t slot = t->list[t->start[tu] + e], cx = t->color[slot];
                    if (forbid[cx] == v)
                        continue;
                    if (cu < 0 || (t->count[slot] == 1
                                   && other_neighbor_of_color(g, t->one[slot], u, cu, colors)))
                        forbid[cx] = v;
                }
                continue;
            }
            for (int64_t q = ptr[u]; q < ptr[u + 1]; q++) {
                int64_t x = ind[q], cx = colors[x];
                if (x == u || cx < 0 || forbid[cx] == v)
                    continue;   /* v itself is uncolored */
                if (cu < 0 || other_neighbor_of_color(g, x, u, cu, colors))
                    forbid[cx] = v;
            }
        }
        int64_t c = first_free(forbid, v);
        colors[v] = c;
        if (t)
            for (int64_t p = ptr[v]; p < ptr[v + 1]; p++)
                if (ind[p] != v && t->id[ind[p]] >= 0)
                    table_add(t, t->id[ind[p]], c, v);
        if (c >= nc && (nc = c + 1) >= limit)
            return nc;
    }
    return nc;
}

/* Order the vertices by color class, whole classes one after another: first-fit
 * in such an order never needs more colors than the coloring it came from
 * (Culberson's iterated greedy). by_size: largest class first, else the
 * classes last-to-first. colors is read from best. */
static void order_by_classes(size_t n, const int64_t *best, int64_t ncolors,
                             int by_size, work *w)
{
    int64_t *size = w->key, *rank = w->prev, *start = w->head;
    fill(size, (size_t)ncolors, 0);
    for (size_t v = 0; v < n; v++)
        size[best[v]]++;
    /* rank[c]: the position of class c in the new order */
    for (int64_t c = 0; c < ncolors; c++)
        rank[c] = ncolors - 1 - c;
    if (by_size) {   /* a stable counting sort by decreasing size */
        int64_t *count = w->mark;
        fill(count, n, 0);   /* classes are nonempty: n - size < n */
        for (int64_t c = 0; c < ncolors; c++)
            count[n - size[c]]++;
        int64_t s = 0;
        for (size_t k = 0; k < n; k++) {
            int64_t t = count[k];
            count[k] = s;
            s += t;
        }
        for (int64_t c = ncolors; c-- > 0;)
            rank[c] = count[n - size[c]]++;
    }
    /* start[r]: first position of the class ranked r */
    for (int64_t c = 0; c < ncolors; c++)
        start[rank[c]] = size[c];
    int64_t s = 0;
    for (int64_t r = 0; r < ncolors; r++) {
        int64_t t = start[r];
        start[r] = s;
        s += t;
    }
    for (size_t v = 0; v < n; v++)
        w->order[start[rank[best[v]]]++] = (int64_t)v;
}

/* Neighbor visits of one greedy pass over g (counted in double: no overflow). */
static double visits(const graph2 *g)
{
    double total = 0;
    for (size_t v = 0; v < g->n; v++) {
        if (!g->aptr) {
            total += (double)(g->bptr[v + 1] - g->bptr[v]);
            continue;
        }
        for (int64_t p = g->aptr[v]; p < g->aptr[v + 1]; p++)
            total += (double)(g->bptr[g->aind[p] + 1] - g->bptr[g->aind[p]]);
    }
    return total;
}

/* The best first-fit coloring of g over the orderings, into colors; star != 0
 * runs the greedy star coloring instead of the distance-1 one. Stops at the
 * lower bound `lower`. */
static int color_graph(const graph2 *g, int star, int64_t lower, int64_t *colors,
                       int64_t *ncolors)
{
    static const int star_orders[] = {ORDER_LARGEST_FIRST, ORDER_SMALLEST_LAST};
    static const int column_orders[] = {ORDER_NATURAL, ORDER_LARGEST_FIRST,
                                        ORDER_SMALLEST_LAST, ORDER_INCIDENCE_DEGREE};
    const int *orders = star ? star_orders : column_orders;
    int norders = star ? 2 : 4;
    work w;
    size_t n = g->n;
    int64_t best = (int64_t)n + 1;
    static const double cost[NORDERS] = {1, 1, 4, 4};   /* passes per ordering */
    double pass = visits(g), spent = 0;
    if (work_alloc(&w, n) != DFD_COLOR_OK)
        return DFD_COLOR_ERR_NOMEM;
    for (int k = 0; k < norders && best > lower; k++) {
        if (k >= 2 && spent + cost[orders[k]] * pass > WORK_BUDGET)
            break;
        spent += cost[orders[k]] * pass;
        make_order(g, &w, orders[k]);
        int64_t nc = star ? greedy_star(g, &w, best) : greedy(g, &w, best);
        if (nc < best) {
            best = nc;
            memcpy(colors, w.colors, n * sizeof(int64_t));
        }
    }
    /* Recoloring by classes cannot lose colors and sometimes gains some.
     * (Only for distance-1 colorings: it does not preserve the star property.) */
    for (int round = 0; !star && round < RECOLOR_ROUNDS && best > lower
                        && (spent += pass) <= WORK_BUDGET; round++) {
        order_by_classes(n, colors, best, round % 2, &w);
        int64_t nc = greedy(g, &w, best + 1);
        if (nc > best)
            break;   /* cannot happen (see order_by_classes); keep the old one */
        int gained = nc < best;
        best = nc;
        memcpy(colors, w.colors, n * sizeof(int64_t));
        if (!gained && round >= RECOLOR_PATIENCE)
            break;
    }
    *ncolors = best;
    work_free(&w);
    return DFD_COLOR_OK;
}

/* The transpose (CSC) of an m x n CSR pattern: colptr[n + 1], rowind[nnz];
 * rows come out sorted within each column. */
static int transpose(size_t m, size_t n, const int64_t *indptr, const int64_t *indices,
                     int64_t **colptr, int64_t **rowind)
{
    size_t nnz = (size_t)indptr[m];
    int64_t *cp = n < SIZE_MAX ? alloc_array(n + 1, sizeof(int64_t)) : NULL;
    int64_t *ri = alloc_array(nnz, sizeof(int64_t));
    if (!cp || !ri) {
        free(cp); free(ri);
        return DFD_COLOR_ERR_NOMEM;
    }
    memset(cp, 0, (n + 1) * sizeof(int64_t));
    for (size_t p = 0; p < nnz; p++)
        cp[indices[p] + 1]++;
    for (size_t j = 0; j < n; j++)
        cp[j + 1] += cp[j];
    for (size_t i = 0; i < m; i++)
        for (int64_t p = indptr[i]; p < indptr[i + 1]; p++)
            ri[cp[indices[p]]++] = (int64_t)i;
    for (size_t j = n; j > 0; j--)   /* cp[j] advanced to the start of j + 1 */
        cp[j] = cp[j - 1];
    cp[0] = 0;
    *colptr = cp;
    *rowind = ri;
    return DFD_COLOR_OK;
}

/* Column coloring of a checked pattern. */
static int color_columns(size_t m, size_t n, const int64_t *indptr,
                         const int64_t *indices, int64_t *colors, int64_t *ncolors)
{
    int64_t *colptr, *rowind;
    if (n == 0) {
        *ncolors = 0;
        return DFD_COLOR_OK;
    }
    int rc = transpose(m, n, indptr, indices, &colptr, &rowind);
    if (rc != DFD_COLOR_OK)
        return rc;
    graph2 g = {n, colptr, rowind, indptr, indices, NULL};
    int64_t lower = dfd_max_row_count(m, indptr);
    rc = color_graph(&g, 0, lower > 1 ? lower : 1, colors, ncolors);
    free(colptr);
    free(rowind);
    return rc;
}

int dfd_color_columns(size_t m, size_t n, const int64_t *indptr,
                      const int64_t *indices, size_t nnz, int64_t *colors,
                      int64_t *ncolors, size_t *bad)
{
    int rc = dfd_check_pattern(m, n, indptr, indices, nnz, bad);
    if (rc != DFD_COLOR_OK)
        return rc;
    return color_columns(m, n, indptr, indices, colors, ncolors);
}

/* Position of column j in row i, or -1 (rows are sorted). */
static int64_t find(const int64_t *indptr, const int64_t *indices, int64_t i, int64_t j)
{
    int64_t lo = indptr[i], hi = indptr[i + 1];
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (indices[mid] < j) lo = mid + 1;
        else hi = mid;
    }
    return lo < indptr[i + 1] && indices[lo] == j ? lo : -1;
}

/* The pattern with every diagonal entry present: ptr[n + 1], ind[<= nnz + n]. */
static int with_diagonal(size_t n, const int64_t *indptr, const int64_t *indices,
                         int64_t **ptr_out, int64_t **ind_out)
{
    size_t nnz = (size_t)indptr[n];
    int64_t *ptr = n < SIZE_MAX ? alloc_array(n + 1, sizeof(int64_t)) : NULL;
    int64_t *ind = nnz <= SIZE_MAX - n ? alloc_array(nnz + n, sizeof(int64_t)) : NULL;
    if (!ptr || !ind) {
        free(ptr); free(ind);
        return DFD_COLOR_ERR_NOMEM;
    }
    int64_t q = 0;
    ptr[0] = 0;
    for (size_t i = 0; i < n; i++) {
        int placed = 0;
        for (int64_t p = indptr[i]; p < indptr[i + 1]; p++) {
            int64_t j = indices[p];
            if (!placed && j >= (int64_t)i) {
                if (j > (int64_t)i)
                    ind[q++] = (int64_t)i;
                placed = 1;
            }
            ind[q++] = j;
        }
        if (!placed)
            ind[q++] = (int64_t)i;
        ptr[i + 1] = q;
    }
    *ptr_out = ptr;
    *ind_out = ind;
    return DFD_COLOR_OK;
}

int dfd_star_coloring(size_t n, const int64_t *indptr, const int64_t *indices,
                      size_t nnz, int64_t *colors, int64_t *ncolors, size_t *bad)
{
    int rc = dfd_check_pattern(n, n, indptr, indices, nnz, bad);
    if (rc != DFD_COLOR_OK)
        return rc;
    if (n == 0) {
        *ncolors = 0;
        return DFD_COLOR_OK;
    }
    int64_t *ptr, *ind, *d2 = NULL;
    struct color_tables tables = {0};
    rc = with_diagonal(n, indptr, indices, &ptr, &ind);
    if (rc != DFD_COLOR_OK)
        return rc;
    /* Star colorings mean nothing for an asymmetric pattern: find the first
     * entry whose mirror is missing. */
    for (size_t i = 0; i < n; i++)
        for (int64_t p = indptr[i]; p < indptr[i + 1]; p++)
            if (find(indptr, indices, indices[p], (int64_t)i) < 0) {
                *bad = (size_t)p;
                rc = DFD_COLOR_ERR_ASYMMETRIC;
                goto done;
            }
    /* The greedy star coloring; then a distance-2 coloring (a column coloring
     * with the diagonal, always a star coloring), unless its lower bound, the
     * longest row, shows it cannot need fewer colors: on an arrowhead that
     * saves an O(n^2) pass. */
    int64_t nstar, nd2, lower_d2 = dfd_max_row_count(n, ptr);
    rc = tables_alloc(&tables, n, indptr);
    if (rc != DFD_COLOR_OK)
        goto done;
    graph2 g1 = {n, NULL, NULL, indptr, indices, &tables};
    rc = color_graph(&g1, 1, lower_d2 > 1 ? 2 : 1, colors, &nstar);   /* an edge needs 2 */
    if (rc != DFD_COLOR_OK)
        goto done;
    *ncolors = nstar;
    if (nstar <= lower_d2)
        goto done;
    d2 = alloc_array(n, sizeof(int64_t));
    if (!d2) { rc = DFD_COLOR_ERR_NOMEM; goto done; }
    graph2 g2 = {n, ptr, ind, ptr, ind, NULL};   /* symmetric: the CSC is the CSR */
    rc = color_graph(&g2, 0, lower_d2, d2, &nd2);
    if (rc == DFD_COLOR_OK && nd2 < nstar) {
        memcpy(colors, d2, n * sizeof(int64_t));
        *ncolors = nd2;
    }
done:
    free(ptr); free(ind); free(d2);
    tables_free(&tables);
    return rc;
}

/* Colors in [0, ncolors) and scales finite and nonzero, for n columns. */
static int check_plan(size_t n, const int64_t *colors, size_t ncolors,
                      const double *scale, size_t *bad)
{
    for (size_t j = 0; j < n; j++) {
        if (colors[j] < 0 || (uint64_t)colors[j] >= (uint64_t)ncolors) { *bad = j; return DFD_COLOR_ERR_COLOR; }
        if (!(isfinite(scale[j]) && scale[j] != 0)) { *bad = j; return DFD_COLOR_ERR_SCALE; }
    }
    return DFD_COLOR_OK;
}

/* Count the colors of row i's columns (plus i's own if diagonal) in count[],
 * stamped with the row so that no clearing is needed. */
static void count_row(size_t i, const int64_t *indptr, const int64_t *indices,
                      const int64_t *colors, int diagonal, int64_t *count, int64_t *stamp)
{
    for (int64_t p = indptr[i]; p < indptr[i + 1]; p++) {
        int64_t c = colors[indices[p]];
        if (stamp[c] != (int64_t)i) { stamp[c] = (int64_t)i; count[c] = 0; }
        count[c]++;
        if (indices[p] == (int64_t)i)
            diagonal = 0;   /* listed: already counted */
    }
    if (diagonal) {
        int64_t c = colors[i];
        if (stamp[c] != (int64_t)i) { stamp[c] = (int64_t)i; count[c] = 0; }
        count[c]++;
    }
}

int dfd_column_recover(size_t m, size_t n, const int64_t *indptr,
                       const int64_t *indices, size_t nnz, const int64_t *colors,
                       size_t ncolors, const double *B, const double *scale,
                       double *data, size_t *bad)
{
    int rc = dfd_check_pattern(m, n, indptr, indices, nnz, bad);
    if (rc == DFD_COLOR_OK)
        rc = check_plan(n, colors, ncolors, scale, bad);
    if (rc != DFD_COLOR_OK || nnz == 0)
        return rc;
    int64_t *count = alloc_array(ncolors, sizeof(int64_t));
    int64_t *stamp = alloc_array(ncolors, sizeof(int64_t));
    if (!count || !stamp) {
        free(count); free(stamp);
        return DFD_COLOR_ERR_NOMEM;
    }
    fill(stamp, ncolors, -1);
    for (size_t i = 0; i < m && rc == DFD_COLOR_OK; i++) {
        const double *Bi = B + i * ncolors;
        count_row(i, indptr, indices, colors, 0, count, stamp);
        for (int64_t p = indptr[i]; p < indptr[i + 1]; p++) {
            int64_t j = indices[p];
            if (count[colors[j]] != 1) {
                *bad = (size_t)p;
                rc = DFD_COLOR_ERR_CONFLICT;
                break;
            }
            data[p] = Bi[colors[j]] / scale[j];
        }
    }
    free(count);
    free(stamp);
    return rc;
}

int dfd_star_recover(size_t n, const int64_t *indptr, const int64_t *indices,
                     size_t nnz, const int64_t *colors, size_t ncolors,
                     const double *B, const double *scale, double *data,
                     size_t *bad)
{
    int rc = dfd_check_pattern(n, n, indptr, indices, nnz, bad);
    if (rc == DFD_COLOR_OK)
        rc = check_plan(n, colors, ncolors, scale, bad);
    if (rc != DFD_COLOR_OK || nnz == 0)
        return rc;
    int64_t *count = alloc_array(ncolors, sizeof(int64_t));
    int64_t *stamp = alloc_array(ncolors, sizeof(int64_t));
    unsigned char *alone = alloc_array(nnz, 1);
    if (!count || !stamp || !alone) {
        rc = DFD_COLOR_ERR_NOMEM;
        goto done;
    }
    /* alone[p]: column j is the only one of its color in row i (the diagonal
     * counts, listed or not), so B[i, colors[j]] = H[i, j] * scale[j]. */
    fill(stamp, ncolors, -1);
    for (size_t i = 0; i < n; i++) {
        count_row(i, indptr, indices, colors, 1, count, stamp);
        for (int64_t p = indptr[i]; p < indptr[i + 1]; p++)
            alone[p] = count[colors[indices[p]]] == 1;
    }
    for (size_t i = 0; i < n && rc == DFD_COLOR_OK; i++)
        for (int64_t p = indptr[i]; p < indptr[i + 1]; p++) {
            int64_t j = indices[p];
            if (alone[p]) {
                data[p] = B[i * ncolors + colors[j]] / scale[j];
                continue;
            }
            /* H[i, j] = H[j, i], direct in row j if i is alone there */
            int64_t q = find(indptr, indices, j, (int64_t)i);
            if (q < 0 || !alone[q]) {
                *bad = (size_t)p;
                rc = q < 0 ? DFD_COLOR_ERR_ASYMMETRIC : DFD_COLOR_ERR_NOT_STAR;
                break;
            }
            data[p] = B[(size_t)j * ncolors + colors[i]] / scale[i];
        }
done:
    free(count); free(stamp); free(alone);
    return rc;
}
