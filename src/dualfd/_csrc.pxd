# The C API of csrc/, declared once.  Everything here is plain C: nogil.

from libc.stdint cimport int64_t

cdef extern from "fd.h" nogil:
    enum:
        DFD_FORWARD, DFD_BACKWARD, DFD_CENTRAL, DFD_COMPLEX
    enum:
        DFD_ST_FORWARD, DFD_ST_BACKWARD, DFD_ST_CENTRAL, DFD_ST_FORWARD3,
        DFD_ST_BACKWARD3, DFD_ST_COMPLEX, DFD_NSTENCILS
    enum:
        DFD_OK, DFD_ERR_NO_ROOM, DFD_ERR_STEP, DFD_ERR_OUTSIDE
    const int dfd_stencil_npoints[]
    const int dfd_stencil_needs_f0[]
    const double dfd_stencil_offset[][2]
    double dfd_default_rstep(int method)
    int dfd_fd_steps(size_t n, const double *x, int method, const double *step,
                     const double *lb, const double *ub,
                     double *h, unsigned char *st, size_t *bad)
    size_t dfd_fd_count_points(size_t n, const unsigned char *st)
    size_t dfd_fd_points(size_t n, const double *x, const double *h,
                         const unsigned char *st, size_t j0, size_t j1, int center,
                         double *X, size_t K, size_t *col)
    size_t dfd_fd_points_complex(size_t n, const double *x, const double *h, size_t j0,
                                 size_t j1, int center, double *X, size_t K, size_t *col)
    void dfd_fd_column(size_t m, int st, double h, const double *f0,
                       const double *f1, const double *f2, ptrdiff_t fs,
                       double *J, ptrdiff_t js)
    void dfd_fd_quotients(size_t m, size_t n, size_t K, const double *F, size_t es,
                          size_t off, const double *h, const unsigned char *st,
                          const size_t *col, const double *f0, ptrdiff_t f0s, double *J,
                          size_t ldj)
    size_t dfd_first_nonfinite(size_t len, const double *a, ptrdiff_t s)
    # compressed (sparse) Jacobians
    size_t dfd_fd_color_count_points(const unsigned char *st, const int64_t *cptr,
                                     const int64_t *members, size_t c)
    size_t dfd_fd_color_points(size_t n, const double *x, const double *h,
                               const unsigned char *st, const int64_t *cptr,
                               const int64_t *members, size_t c0, size_t c1, int center,
                               int cplx, double *X, size_t K, size_t *col)
    void dfd_fd_color_point(size_t n, const double *x, const double *h,
                            const unsigned char *st, const int64_t *cptr,
                            const int64_t *members, size_t c, int p, int cplx, double *P)
    void dfd_fd_entries(size_t ne, const int64_t *rows, const int64_t *cols,
                        const int64_t *pos, const int64_t *colors, const size_t *col,
                        size_t c0, const double *F, ptrdiff_t fr, ptrdiff_t fc,
                        const double *f0, ptrdiff_t f0s, const double *r,
                        const unsigned char *st, double *data)
    void dfd_fd_factors(size_t n, const double *h, const unsigned char *st, double *r)

cdef extern from "extrap.h" nogil:
    enum:
        DFD_SQ_CENTRAL, DFD_SQ_FORWARD, DFD_SQ_BACKWARD, DFD_SQ_DIAG, DFD_SQ_CROSS
    enum:
        DFD_SQ_DONE, DFD_SQ_TOL, DFD_SQ_LINEAR, DFD_SQ_STARTED, DFD_SQ_FLOOR
    const int dfd_seq_npoints[]
    size_t dfd_seq_level(size_t m, int L, int kind, int k, double h, double xmag,
                         const double *F, ptrdiff_t fr, ptrdiff_t fc,
                         const double *f0, ptrdiff_t f0s, double rtol, double atol,
                         double *row, double *best, double *err, double *rnd,
                         unsigned char *flags)
    size_t dfd_seq_growth_flags(size_t m, const unsigned char *flags,
                                unsigned char *next)
    int dfd_seq_merge(size_t m, double *best, double *err, double *rnd,
                      unsigned char *flags, const double *best2, const double *err2,
                      const double *rnd2, const unsigned char *flags2)
    int dfd_fd_weights(int npts, const double *o, double *w)
    void dfd_fd_stencil_column(size_t m, int npts, const double *w, double w0,
                               const double *F, ptrdiff_t fr, ptrdiff_t fc,
                               const double *f0, ptrdiff_t f0s, double h,
                               double *J, ptrdiff_t js)

cdef extern from "dual.h" nogil:
    ctypedef int (*dfd_unary_fn)(size_t n, size_t k, const double *x, const double *tx,
                                 double *y, double *ty)
    ctypedef int (*dfd_binary_fn)(size_t n, size_t k, const double *a, size_t sa,
                                  const double *ta, const double *b, size_t sb,
                                  const double *tb, double *y, double *ty)
    ctypedef int (*dfd_unary_d2_fn)(size_t n, const double *x, const double *y,
                                    double *g)
    ctypedef int (*dfd_binary_d2_fn)(size_t n, const double *a, size_t sa,
                                     const double *b, size_t sb, const double *y,
                                     double *h)
    ctypedef struct dfd_unary_rule:
        const char *name
        const char *module
        dfd_unary_fn fn
        double lo, hi
        const char *deriv
        dfd_unary_d2_fn d2
    ctypedef struct dfd_binary_rule:
        const char *name
        const char *module
        dfd_binary_fn fn
        double lo, hi
        const char *da
        const char *db
        dfd_binary_d2_fn d2
    const dfd_unary_rule dfd_unary_rules[]
    const size_t dfd_n_unary_rules
    const dfd_binary_rule dfd_binary_rules[]
    const size_t dfd_n_binary_rules
    double dfd_sf_digamma(double x)
    double dfd_sf_trigamma(double x)
    double dfd_sf_tetragamma(double x)
    void dfd_o2_unary(size_t n, size_t k, size_t k1, const int *rix, const double *g,
                      const double *tx, double *ty, int *idx)
    void dfd_o2_binary(size_t n, size_t k, size_t k1, const int *rix, const double *h,
                       const double *ta, size_t sa, const double *tb, size_t sb,
                       double *ty, int *idx)
    void dfd_seed(size_t n, size_t k, size_t c0, double *t)
    void dfd_put_columns(size_t m, size_t k, const double *t, size_t n, size_t c0,
                         double *J)
    enum:
        DFD_SUM_BLOCK
    void dfd_sum(size_t n, size_t k, const double *v, const double *t, double *y,
                 double *ty, double *work)
