"""Second-order duals over the Dual's whole coverage list (tests/coverage_list.py):
for every entry, the exact Hessian of a random weighting of its outputs,
``x -> w . f(x)``, against 4th-order central differences of the first-order dual
gradient (independent of the second-order code: only the first-order rules and
implementations, which tests/test_dual_coverage.py checks against complex step).
Entries whose function has no second-order rule must raise TypeError naming it;
the list of those is explicit, so that a new refusal or a new rule shows up here.
Also: the second-order pass in threads, nested first-order passes, wrong Duals."""

import threading
import warnings
import zlib

import numpy as np
import pytest

import dualfd as dfd
from dualfd._dual import SUPPORTED_FUNCTIONS, SUPPORTED_SECOND_ORDER

from test_dual_coverage import ENTRIES, _central4, _flat_function, _inputs

# The NumPy functions refused in a second-order pass: spectral and orthogonal
# factorizations (and what is built on them) have no second-order rule yet.
REFUSED = {
    "linalg.eig", "linalg.eigh", "linalg.eigvals", "linalg.eigvalsh", "linalg.svd",
    "linalg.svdvals", "linalg.pinv", "linalg.lstsq", "linalg.qr", "linalg.cond",
    "linalg.tensorinv", "linalg.tensorsolve",
}
# The coverage entries refused: those functions, products of two Duals without a
# rule (kron, cross, interp of x and fp, average with Dual weights), and the nuclear
# norm (an SVD).  Every other entry must give its exact Hessian.
REFUSED_ENTRIES = {
    "average", "cross", "cross-axis0", "interp", "kron", "linalg.cond", "linalg.eig",
    "linalg.eigh", "linalg.eigh-batched", "linalg.eigh-upper", "linalg.eigvals",
    "linalg.eigvalsh", "linalg.lstsq", "linalg.norm-nuc", "linalg.norm-nuc-axis",
    "linalg.pinv", "linalg.pinv-batched", "linalg.pinv-low-rank", "linalg.pinv-wide",
    "linalg.qr", "linalg.svd", "linalg.svd-batched", "linalg.svd-only-s",
    "linalg.svd-only-s-batched", "linalg.svd-square", "linalg.svd-tall",
    "linalg.svdvals", "linalg.tensorinv", "linalg.tensorsolve",
}


def _scalar(eid):
    f = _flat_function(eid)
    x = np.concatenate([a.ravel() for a in _inputs(eid)])
    w = np.random.default_rng(zlib.crc32(b"w" + eid.encode())).uniform(0.5, 1.5,
                                                                       np.size(f(x)))

    def g(y):
        return np.sum(w * f(y))
    return g, x


@pytest.mark.parametrize("eid", sorted(ENTRIES))
def test_entry_hessian(eid):
    g, x = _scalar(eid)
    grad = dfd.grad(g, method="dual")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            grad(x)
    except (ValueError, TypeError, np.linalg.LinAlgError) as e:
        pytest.skip(f"no first-order derivative here: {e}")
    if eid in REFUSED_ENTRIES:
        with pytest.raises(TypeError, match="has no second-order rule on Duals"):
            dfd.hessian(g, method="dual")(x)
        return
    H = dfd.hessian(g, method="dual")(x)
    ref = _central4(grad, x)
    ref = 0.5 * (ref + ref.T)
    scale = max(1.0, np.max(np.abs(ref)))
    np.testing.assert_array_equal(H, H.T)
    err = np.max(np.abs(H - ref)) / scale if H.size else 0.0
    assert err <= 1e-7, (eid, err)


def test_supported_lists():
    """The second-order set is the first-order set without the refused ones."""
    first = set(SUPPORTED_FUNCTIONS)
    second = set(SUPPORTED_SECOND_ORDER)
    assert second <= first
    assert first - second == REFUSED


def rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def test_threads_are_independent():
    """Eight threads computing Hessians (second order) and gradients (first order,
    whose Duals must not pick up another thread's second-order layout) at once."""
    from scipy.optimize import rosen_der, rosen_hess
    xs = [np.linspace(-1, 1, 12) + 0.1 * i for i in range(8)]
    out = [None] * 8
    barrier = threading.Barrier(8)

    def work(i):
        barrier.wait()
        for _ in range(20):
            if i % 2:
                out[i] = dfd.hessian(rosen, method="dual")(xs[i])
            else:
                out[i] = dfd.grad(rosen, method="dual")(xs[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(8):
        ref = rosen_hess(xs[i]) if i % 2 else rosen_der(xs[i])
        np.testing.assert_allclose(out[i], ref, rtol=1e-13, atol=1e-12)


def test_first_order_pass_inside_a_second_order_one():
    """f that calls a first-order gradient of something else inside (on plain
    values) runs that pass as first order."""
    inner = dfd.grad(lambda y: np.sum(y ** 3), method="dual")

    def f(x):
        g = inner(np.array([1.0, 2.0]))          # [3, 12], a constant here
        return np.sum(g) * np.sum(x ** 2)

    H = dfd.hessian(f, method="dual")(np.array([0.5, -1.0, 2.0]))
    np.testing.assert_allclose(H, 30.0 * np.eye(3), rtol=1e-15)


def test_a_dual_built_inside_f_is_refused():
    def f(x):
        return np.sum(x * dfd.Dual(np.ones(3), np.ones((3, 2))))

    with pytest.raises(ValueError, match="tangent directions"):
        dfd.hessian(f, method="dual")(np.ones(3))
