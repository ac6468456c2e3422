/* Reverse mode: a tape of C records and the backward sweep over it.
 *
 * A traced evaluation of f (src/dualfd/_reverse.pyx) gives every array it computes a
 * node id and appends one record per operation.  The sweep walks the records backwards
 * and accumulates adjoints (one contiguous block of doubles per node, allocated zeroed
 * on first use) with the kernels below; it touches no Python object, so it runs without
 * the GIL.  It stops at a record it cannot run (DFD_R_PY: matmul, linear algebra and
 * the other functions whose adjoint is written with NumPy) and lets the caller run it.
 *
 * Values are borrowed: the caller keeps the arrays that records point to alive until
 * the tape is freed.  Every node's value and adjoint are C-contiguous blocks of the
 * node's shape, so one set of element strides serves both. */
#ifndef DFD_TAPE_H
#define DFD_TAPE_H
#include <stddef.h>
#include <stdint.h>

#define DFD_TAPE_MAXDIM 32

enum {
    DFD_R_UNARY = 1,   /* gx += rule'(x, y) gy, contiguous, n elements */
    DFD_R_BINARY,      /* ga, gb += partials gy over an nd loop with broadcast strides */
    DFD_R_ACC,         /* gx[off_x] += scale * gy[off_y] over an nd loop (sum, broadcast) */
    DFD_R_GATHER,      /* gx[src[i]] += gy[i] for src[i] >= 0 (indexing, shape functions) */
    DFD_R_PY           /* run by the caller */
};

typedef struct {
    int op, rule, nd;
    size_t n;                  /* elements of the loop (UNARY, GATHER) */
    size_t pool;               /* BINARY, ACC: shape[nd], then nd strides per operand */
    const double *a, *b, *y;   /* values: operands (x for UNARY), result */
    ptrdiff_t na, nb, ny;      /* node ids of the operands (-1: constant) and result */
    const int64_t *src;        /* GATHER */
    double scale;              /* ACC */
    ptrdiff_t aux;             /* PY: the caller's index */
    ptrdiff_t off;             /* ACC: offset of the loop's start in the operand */
} dfd_rec;

typedef struct {
    dfd_rec *rec;
    size_t nrec, caprec;
    ptrdiff_t *pool;
    size_t npool, cappool;
    double **adj;              /* per node: its adjoint, or NULL (zero) */
    size_t *size;              /* per node: its number of elements */
    size_t nnode, capnode;
    /* Freed adjoint blocks kept for reuse: a fresh block of a large array costs a
     * page fault per 4 KB on first write (250 us for 800 KB here), a reused one a
     * memset (20 us). */
    double **spare;
    size_t *sparesz, nspare, capspare, sparebytes;
} dfd_tape;

/* Most bytes of spare blocks a tape keeps (the rest are freed). */
#define DFD_TAPE_SPARE_MAX ((size_t)256 << 20)

void dfd_tape_init(dfd_tape *t);
/* Frees records, pool and every adjoint; the tape may be reused after. */
void dfd_tape_free(dfd_tape *t);
/* A new node of `size` elements: its id, or -1 when out of memory. */
ptrdiff_t dfd_tape_node(dfd_tape *t, size_t size);
/* A zeroed record appended to the tape, or NULL when out of memory. */
dfd_rec *dfd_tape_push(dfd_tape *t);
/* m pool entries for the last record (its `pool` set to their offset); NULL: no
 * memory.  The pointer is valid until the next call. */
ptrdiff_t *dfd_tape_pool(dfd_tape *t, size_t m);
/* Merge the loop dimensions that every operand walks as one (and drop the ones of
 * extent 1): shape[nd], followed in memory by `strides`, nops arrays of nd entries.
 * Rewrites them in place as shape[m], then nops arrays of m entries; returns m >= 1. */
int dfd_tape_coalesce(int nd, ptrdiff_t *shape, int nops, ptrdiff_t *strides);
/* The node's adjoint, allocated zeroed on first use; NULL when out of memory. */
double *dfd_tape_adj(dfd_tape *t, ptrdiff_t node);
/* Release every adjoint (before another sweep of the same tape) to the spares. */
void dfd_tape_clear(dfd_tape *t);
/* Move src's spare blocks to dst (up to DFD_TAPE_SPARE_MAX; the rest are freed). */
void dfd_tape_move_spares(dfd_tape *dst, dfd_tape *src);
/* Run records [0, *pos) backwards.  Returns 0 when done, 1 when it stopped at a
 * DFD_R_PY record (its index in *pos: the caller runs it, then calls again with *pos
 * unchanged), -1 when out of memory.  The adjoint of a record's result is freed once
 * the record has run (every use of a node follows the record that made it), unless it
 * is `keep`. */
int dfd_tape_sweep(dfd_tape *t, size_t *pos, ptrdiff_t keep);

#endif
