"""Sparse Jacobians and Hessians: a pattern, its coloring, compressed evaluation.

``jacobian(f, sparsity=S)`` colors the columns of the pattern so that no two
columns of a color share a row (`dualfd._coloring`, in C); f is then evaluated
once per color and stencil point (finite differences, `_fd.fd_compressed`) or
on Duals with one tangent direction per color (`_dual.dual_compressed`), and
every entry of J is read off its color's compressed column.  ``sparsity="auto"``
detects the pattern by tracing index sets through f (`dualfd._tracer`).  Each
transform keeps a *plan* per input shape: the pattern, its coloring and the
index arrays the kernels read, so a call costs the evaluations and O(nnz).

Results are ``scipy.sparse.csr_array``: SciPy is imported when a sparse transform
is built, never by ``import dualfd``.
"""

from __future__ import annotations

import numpy as np

from . import _api, _dual
from ._coloring import color_columns, star_coloring, star_recover
from ._fd import (METHODS as _FD_METHODS, Compression, as_point, check_finite_x,
                  default_rstep, fd_compressed, fd_jacobian, first_nonfinite, index_str)
from ._options import Pattern

__all__ = ["SparseJacobian", "SparseHessian", "scipy_sparse"]

def scipy_sparse():
    """scipy.sparse, or ImportError saying why it is needed."""
    try:
        import scipy.sparse
    except ImportError as e:
        raise ImportError("sparsity= returns scipy.sparse arrays and needs SciPy: "
                          "pip install scipy") from e
    return scipy.sparse


class _Plan:
    """What a transform keeps per input shape: the pattern (CSR), its coloring
    and, for Jacobians, the Compression the FD kernels read."""

    __slots__ = ("m", "n", "indptr", "indices", "rows", "colors", "ncolors", "cz",
                 "fshape", "key", "tmap", "cells", "_out")

    def __init__(self, m, n, indptr, indices, colors, ncolors, fshape, key):
        self.m, self.n = m, n
        self.indptr, self.indices = indptr, indices
        self.rows = np.repeat(np.arange(m, dtype=np.int64), np.diff(indptr))
        self.colors = np.ascontiguousarray(colors, dtype=np.int64)
        self.ncolors = int(ncolors)
        self.cz = None
        self.tmap = None         # Hessians: the position of each entry's transpose
        self.cells = None        # Jacobians: each entry's compressed cell
        self.fshape = fshape
        self.key = key
        # the index arrays results get copies of: int32 where they fit, which SciPy
        # would otherwise make (scanning and copying int64 ones: 60 us against 15 us
        # at nnz = 3e4)
        small = max(m, n, indices.size) < 2**31 - 1
        itype = np.int32 if small else np.int64
        self._out = (indptr.astype(itype), indices.astype(itype))

    def flat_cells(self):
        """Each entry's cell of the compressed (m, ncolors) Jacobian, flat."""
        if self.cells is None:
            self.cells = self.rows * self.ncolors + self.colors[self.indices]
        return self.cells

    def result(self, data, shape):
        """A csr_array of data on this pattern, with its own copies of the indices
        (the caller may change them: eliminate_zeros works in place)."""
        indptr, indices = self._out
        return scipy_sparse().csr_array((data, indices.copy(), indptr.copy()),
                                        shape=shape)

    def compression(self):
        if self.cz is None:
            self.cz = Compression(self.m, self.n, self.colors, self.ncolors, self.rows,
                                  self.indices)
        return self.cz


def _same_args(key, args, kwargs):
    """Whether f's extra arguments are those a detected pattern was traced with:
    the same objects (numbers: equal values).  A pattern read from constants (the
    zeros of a matrix A in f(x, A) = A @ x) holds for those constants only."""
    old_args, old_kwargs = key
    if len(old_args) != len(args) or old_kwargs.keys() != kwargs.keys():
        return False
    pairs = list(zip(old_args, args)) + [(old_kwargs[k], kwargs[k]) for k in kwargs]
    for a, b in pairs:
        if a is b:
            continue
        if (type(a) is type(b) and isinstance(a, (int, float, complex, str, bool))
                and a == b):
            continue
        return False
    return True


class _Sparse(_api._Transformed):
    """Shared by the sparse Jacobian and Hessian: the plan cache."""

    def __init__(self, f, method, sparsity):
        super().__init__(f, method)
        self.sparsity = sparsity      # "auto" or a Pattern
        self._plan = None
        scipy_sparse()          # fail now, not at the first call, without SciPy

    def __getstate__(self):
        # the plan is rebuilt on the first call: it holds f's extra arguments
        state = super().__getstate__()
        state["_plan"] = None
        return state

    def plan(self, x0, args, kwargs):
        """The plan for x0's shape (the last one is kept: optimizers call with one);
        an "auto" pattern is traced again when f's extra arguments change."""
        p = self._plan
        if p is not None and p.key[0] == x0.shape and (
                self.sparsity != "auto" or _same_args(p.key[1], args, kwargs)):
            return p
        p = self._plan = self.make_plan(x0, args, kwargs)
        return p


class SparseJacobian(_Sparse):
    """The callable ``jacobian(f, sparsity=...)`` returns: ``jac(x, *args,
    **kwargs)`` -> ``scipy.sparse.csr_array`` of shape (m, n)."""

    kind = "jacobian"

    def __init__(self, f, opts, sparsity, check_sparsity):
        super().__init__(f, opts.method, sparsity)
        self.opts = opts
        self.workers = opts.workers
        self.check_sparsity = check_sparsity
        self._auto = None      # method='auto', decided by _api.exact_or_none

    def make_plan(self, x0, args, kwargs):
        n = x0.size
        if self.sparsity == "auto":
            from ._tracer import trace_jacobian
            fshape, indptr, indices = trace_jacobian(self.f, x0.shape, args, kwargs)
            m = int(np.prod(fshape, dtype=np.int64))
        else:
            fshape = None
            m, indptr, indices = self.sparsity.csr(x0.shape)
        colors, ncolors = color_columns(indptr, indices, m, n)
        return _Plan(m, n, indptr, indices, colors, ncolors, fshape,
                     (x0.shape, (args, dict(kwargs))))

    def __call__(self, x, *args, **kwargs):
        opts, f = self.opts, self.f
        x0 = as_point(x)
        step, lb, ub = opts.prepare(x0) if opts.needs_prepare else (None, None, None)
        p = self.plan(x0, args, kwargs)
        data = None
        if opts.method in _api._DUAL_METHODS:
            data = _api.exact_or_none(self, f, lambda: self._dual(x0, lb, ub, p, args,
                                                                  kwargs))
        if data is None:
            method = "central" if opts.method == "auto" else opts.method
            _, data, _ = fd_compressed(f, x0, args, kwargs, _FD_METHODS[method], step,
                                       lb, ub, opts.vectorized, opts.check_finite,
                                       False, method, opts.chunk or 0, p.compression(),
                                       opts.workers)
        J = p.result(data, (p.m, p.n))
        if self.check_sparsity:
            _verify_pattern(self, x0, J, lb, ub, args, kwargs)
        return J

    def _dual(self, x0, lb, ub, p, args, kwargs):
        """The entries from one Dual pass per chunk of colors.  Free check: a
        compressed entry (row i, color c) that no pattern entry reads must be 0,
        else f has a non-zero the pattern misses."""
        opts = self.opts
        if opts.check_finite:
            check_finite_x(x0)
        _api._require_inside(x0, lb, ub)
        value, B, fshape = _dual.dual_compressed(self.f, x0, p.colors, p.ncolors, args,
                                                 kwargs, opts.chunk, opts.check_finite)
        m = B.shape[0]
        if m != p.m:
            raise ValueError(f"the sparsity pattern has {p.m} rows; f returned {m} "
                             f"values (shape {fshape})")
        data = B.ravel().take(p.flat_cells())
        # each entry reads its own (row, color) cell, so a non-zero in B that no
        # entry reads shows as a count mismatch (located only then)
        if np.count_nonzero(B) > np.count_nonzero(data):
            read = np.zeros(B.size, dtype=bool)
            read[p.flat_cells()] = True
            i, c = divmod(int(np.flatnonzero((B.ravel() != 0) & ~read)[0]), p.ncolors)
            cols = np.flatnonzero(p.colors == c)
            raise ValueError(
                f"the sparsity pattern misses a non-zero: f{index_str(i, fshape)} "
                f"depends on one of the columns {_few(cols, p.n)} of x, but the pattern "
                f"has no entry in row {i} for any of them; fix the pattern or pass "
                "sparsity='auto'")
        if opts.check_finite:
            _api._check_dual_output(value, data[:0], fshape, None)   # f's values
            e = first_nonfinite(data)
            if e >= 0:
                i, j = int(p.rows[e]), int(p.indices[e])
                raise ValueError(
                    f"d f{index_str(i, fshape)} / d x{index_str(j, x0.shape)} is "
                    f"{float(data[e])!r}: f is not differentiable at x (sqrt, log, "
                    "arcsin ... at the edge of their domain do this); pass "
                    "check_finite=False to allow it")
        return data


def _few(cols, n):
    shown = ", ".join(str(int(c)) for c in cols[:6])
    return f"[{shown}{', ...' if len(cols) > 6 else ''}] (flat indices, of {n})"


def _verify_pattern(transform, x0, J, lb, ub, args, kwargs):
    """check_sparsity=True: J @ v against f's directional derivative along a
    random v (exact for 'dual', a central difference otherwise); a non-zero the
    pattern misses shows up as a disagreement (almost surely, for a random v)."""
    opts = transform.opts
    rng = np.random.default_rng(0x5eed)
    v = rng.uniform(0.5, 1.5, x0.size) * rng.choice([-1.0, 1.0], x0.size)
    v = v.reshape(x0.shape)
    used = "dual" if (opts.method == "dual" or transform._auto == "dual") else "central"
    jv = _api.jvp(transform.f, method=used, bounds=opts.bounds,
                  check_finite=opts.check_finite)
    _, d = jv(x0, v, *args, **kwargs)
    d = np.asarray(d, dtype=np.float64).reshape(-1)
    Jv = J @ v.reshape(-1)
    scale = abs(J) @ np.abs(v.reshape(-1))
    tol = (1e-12 if used == "dual" else 1e-5) * np.maximum(scale, np.abs(d)) + 1e-12
    bad = np.abs(Jv - d) > tol
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"check_sparsity: row {i} of J @ v is {Jv[i]!r} but f's "
                         f"directional derivative is {d[i]!r}; the sparsity pattern "
                         "misses a non-zero of that row (or f is not differentiable "
                         "at x); fix the pattern or pass sparsity='auto'")


class SparseHessian(_Sparse):
    """``hessian(f, sparsity=...)``: H from compressed central differences of an
    exact gradient along one direction per color of a star coloring
    (Gebremedhin, Manne & Pothen, SIAM Review 47, 2005), H recovered from H S by
    its symmetry; a ``scipy.sparse.csr_array`` (n, n)."""

    kind = "hessian"

    def __init__(self, f, method, grad, sparsity, step, bounds, check_finite,
                 vectorized=False, workers=None, chunk=None):
        super().__init__(f, method, sparsity)
        self.chunk = chunk            # method='dual': coordinates per pass
        self.workers = workers        # a dualfd._workers.Workers, or None
        self.grad = grad              # the exact gradient's transform; None: 'central'
        self.step = step
        self.bounds = bounds          # ParsedBounds or None
        self.check_finite = check_finite
        self.vectorized = vectorized

    def make_plan(self, x0, args, kwargs):
        n = x0.size
        if self.sparsity == "auto":
            from ._tracer import trace_hessian
            indptr, indices = trace_hessian(self.f, x0.shape, args, kwargs)
        else:
            m, indptr, indices = self.sparsity.csr(x0.shape)
            if m != n:
                raise ValueError(f"a Hessian's sparsity must be square, (n, n) with "
                                 f"n = {n}; got {m} rows")
            S = scipy_sparse().csr_array((np.ones(indices.size, bool), indices, indptr),
                                   shape=(n, n))
            if (S != S.T).nnz:
                raise ValueError("a Hessian's sparsity must be symmetric: "
                                 "S[i, j] == S[j, i] (pass S + S.T)")
        colors, ncolors = star_coloring(indptr, indices, n)
        return _Plan(n, n, indptr, indices, colors, ncolors, None,
                     (x0.shape, (args, dict(kwargs))))

    def __call__(self, x, *args, **kwargs):
        x0 = as_point(x)
        if self.check_finite:
            check_finite_x(x0)
        p = self.plan(x0, args, kwargs)
        if self.method == "dual":
            return p.result(self._exact(x0, p, args, kwargs), (p.n, p.n))
        if self.grad is None:
            data = self._second_differences(x0, p, args, kwargs)
            return p.result(data, (p.n, p.n))
        n, xf = x0.size, x0.reshape(-1)
        if self.step is None:     # the central rule, as the dense Hessian's outer J
            h = default_rstep("central") * np.maximum(1.0, np.abs(xf))
        else:
            h = _api._broadcast(self.step, x0.shape, "step").reshape(-1)
        lo = hi = None
        if self.bounds is not None:
            lb, ub = self.bounds.resolve(x0.shape)
            _api._require_inside(x0, lb, ub)
            lb, ub = lb.reshape(-1), ub.reshape(-1)
            # A color's step t moves member j by t h_j, so one step serves all
            # members only if each can go the same way: a member without room for
            # x +- h steps along -h_j (then t = 1, 2 is one-sided for every member).
            central = (xf - h >= lb) & (xf + h <= ub)
            down = ~central & (xf + 2 * h > ub)
            if np.any(down & (xf - 2 * h < lb)):
                j = int(np.argmax(down & (xf - 2 * h < lb)))
                raise ValueError(f"bounds [{lb[j]!r}, {ub[j]!r}] leave no room for a "
                                 f"hessian step around x{index_str(j, x0.shape)} = "
                                 f"{xf[j]!r} (two steps of {h[j]!r} on one side); "
                                 "widen the bounds or pass a smaller step")
            h = np.where(down, -h, h)
        h = (xf + h) - xf      # exactly representable steps
        if self.bounds is not None:
            # each color's room for t is its members' room
            with np.errstate(divide="ignore", invalid="ignore"):
                a, b = (lb - xf) / h, (ub - xf) / h      # h < 0 swaps them
                lo = np.full(p.ncolors, -np.inf)
                hi = np.full(p.ncolors, np.inf)
                np.maximum.at(lo, p.colors, np.minimum(a, b))
                np.minimum.at(hi, p.colors, np.maximum(a, b))
        t0 = np.zeros(p.ncolors)
        _, B, _ = fd_jacobian(_Along(self.grad, xf, h, p.colors, x0.shape), t0, args,
                              kwargs, _FD_METHODS["central"], np.ones(p.ncolors), lo,
                              hi, False, self.check_finite, False, "central", 0, None,
                              self.workers)
        B = np.ascontiguousarray(np.asarray(B).reshape(n, p.ncolors))
        data = star_recover(p.indptr, p.indices, p.colors, B, np.ascontiguousarray(h))
        # (H + H^T) / 2, as the dense Hessian: exact symmetry, and half the error
        data = 0.5 * (data + data[_transposed(p)])
        return p.result(data, (n, n))


    def _exact(self, x0, p, args, kwargs):
        """method='dual': H S exactly, S the colors' 0/1 seed, by second-order duals
        (one pass carries a block of coordinates and every color: dual_hvp)."""
        from ._dual import _core
        if self.bounds is not None:
            lb, ub = self.bounds.resolve(x0.shape)
            _api._require_inside(x0, lb, ub)
        n = x0.size
        S = np.zeros((n, p.ncolors))
        S[np.arange(n), p.colors] = 1.0
        value, B = _core.dual_hvp(self.f, x0, S, args, kwargs, self.chunk)
        if self.check_finite:
            from ._hessian import _check_second_order
            _check_second_order(value, B, (n, p.ncolors), "(H S){}")
        data = star_recover(p.indptr, p.indices, p.colors, np.ascontiguousarray(B),
                            np.ones(n))
        return 0.5 * (data + data[_transposed(p)])

    def _second_differences(self, x0, p, args, kwargs):
        """method='central': f alone, the pattern's entries only: 2 calls per
        diagonal entry and 4 per pair i < j (plus f(x)), not 1 + 2 n**2."""
        from ._hessian import _second_differences, _steps
        h = _steps(x0, self.step)
        lo = hi = None
        if self.bounds is not None:
            lo, hi = self.bounds.resolve(x0.shape)
            _api._require_inside(x0, lo, hi)
        upper = p.rows < p.indices
        pairs = np.stack([p.rows[upper], p.indices[upper]], axis=1)
        pdata, diag = _second_differences(self.f, x0, h, lo, hi, args, kwargs,
                                          self.vectorized, self.check_finite, pairs,
                                          self.workers)
        data = np.empty(p.indices.size)
        data[upper] = pdata
        on_diag = p.rows == p.indices
        data[on_diag] = diag[p.rows[on_diag]]
        lower = p.rows > p.indices          # H_ji = H_ij, from the upper entry
        data[lower] = data[_transposed(p)[lower]]
        return data


class _Along:
    """The exact gradient at x + sum over colors c of t_c d_c, as a function of t:
    a module-level class, so that workers can receive it."""

    def __init__(self, grad, xf, h, colors, shape):
        self.grad, self.xf, self.h, self.colors, self.shape = grad, xf, h, colors, shape

    def __call__(self, t, *args, **kwargs):
        y = (self.xf + self.h * t[self.colors]).reshape(self.shape)
        return np.asarray(self.grad(y, *args, **kwargs), dtype=np.float64).reshape(-1)


def _transposed(p):
    """For each entry (i, j) of a symmetric CSR pattern, the position of (j, i)."""
    if p.tmap is None:
        keys = p.rows * p.n + p.indices               # ascending in CSR order
        p.tmap = np.searchsorted(keys, p.indices * p.n + p.rows)
    return p.tmap
