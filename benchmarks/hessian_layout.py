"""Which second-order layout: hyper-dual pairs (what dualfd uses: first-order tangents
plus the second derivatives along pairs of directions) against univariate Taylor
(Griewank, Utke & Walther 2000, Math. Comp. 69: second-order coefficients along e_i and
e_i + e_j, the Hessian by polarization), both on the same kernels, one pass each.

    python benchmarks/hessian_layout.py
"""
import timeit

import numpy as np

from dualfd._dual import _core as C

def rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
def dense(x):     # every entry of H nonzero
    return np.log(np.sum(np.exp(np.sin(x) * x))) + np.sum(x) ** 3 / 10
_TAYLOR = {}


def _taylor_layout(D):
    """Built once per size, as dualfd caches its own layouts: the timings compare the
    passes, not the set-up."""
    if D not in _TAYLOR:
        _TAYLOR[D] = C._Order2(D, np.arange(D), np.arange(D))
    return _TAYLOR[D]


def taylor(f, x):
    n = x.size
    iu = np.triu_indices(n, 1)
    V = np.concatenate([np.eye(n), (np.eye(n)[iu[0]] + np.eye(n)[iu[1]])], axis=0).T
    _, S = C._o2_pass_py(f, x, V, _taylor_layout(V.shape[1]))
    d = S[:n]
    H = np.diag(d)
    off = 0.5 * (S[n:] - d[iu[0]] - d[iu[1]])
    H[iu] = off; H.T[iu] = off
    return H
for f in (rosen, dense):
    for n in (10, 30, 60):
        x = np.linspace(-1, 1, n) + 0.1
        Hh = C.dual_hessian(f, x, (), {}, n)[1]
        Ht = taylor(f, x)
        th = min(timeit.repeat(lambda: C.dual_hessian(f, x, (), {}, n), number=5, repeat=3)) / 5
        tt = min(timeit.repeat(lambda: taylor(f, x), number=5, repeat=3)) / 5
        print(f.__name__, n, "hyper-dual %.0f us, taylor %.0f us (%.1fx), max|diff|/max|H| %.1e" % (
            th * 1e6, tt * 1e6, tt / th, np.abs(Hh - Ht).max() / np.abs(Hh).max()))
