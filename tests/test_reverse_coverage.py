"""Reverse mode over the Dual's coverage list (tests/coverage_list.py): for every entry,
the gradient of a random weighting of its outputs, ``x -> sum(w * f(x))`` (the
entries' inputs flattened into x, as tests/test_dual_second.py builds them), from
``method="reverse"`` against ``method="dual"`` (forward mode, which
tests/test_dual_coverage.py checks against complex step and 4th-order differences), to
1e-13 relative.  An entry the Dual refuses must be refused by reverse mode with the same
exception type."""

import warnings
import zlib

import numpy as np
import pytest

import dualfd as dfd

from test_dual_coverage import ENTRIES, MIXED, _inputs
from test_dual_second import _scalar
from test_reverse_rules import TOL, rel_diff

# Entries where reverse mode differs from the Dual today: (exception the test fails
# with, reason).  Strict, so that a fix shows up as an XPASS to remove here.
KNOWN = {}
KNOWN["linalg.pinv-low-rank"] = (
    ValueError, "pinv(x^T x) of a rank-2 3x3 matrix: the generic adjoint (_fallback) "
    "seeds the identity over all 9 entries of the matrix, including rank-changing "
    "directions, so the Dual's pinv refuses (ValueError 'the tangent changes its "
    "rank'); forward mode only sees the rank-preserving tangent of x^T x and succeeds")

# ... except with the first input a constant: append-list's list is then of floats
MIXED_WORKS = {"append-list"}


def _marks(eid, mixed=False):
    if eid not in KNOWN or (mixed and eid in MIXED_WORKS):
        return []
    raises, reason = KNOWN[eid]
    return [pytest.mark.xfail(strict=True, raises=raises, reason=reason)]


def _grad(g, x, method):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return dfd.grad(g, method=method)(x)


def _same_as_dual(eid, g, x):
    """Reverse equals dual to TOL, or refuses with the Dual's exception type."""
    try:
        gd = _grad(g, x, "dual")
    except Exception as e:           # noqa: BLE001 - the Dual's refusal is the reference
        with pytest.raises(Exception) as info:
            _grad(g, x, "reverse")
        assert type(info.value) is type(e), (eid, e, info.value)
        return
    gr = _grad(g, x, "reverse")
    err = rel_diff(gr, gd)
    assert err <= TOL, f"{eid}: reverse differs from dual by {err:.3g}"


@pytest.mark.parametrize("eid", [pytest.param(e, marks=_marks(e)) for e in sorted(ENTRIES)])
def test_entry_gradient(eid):
    _same_as_dual(eid, *_scalar(eid))


def _mixed_scalar(eid):
    """sum(w * outputs) as a function of the inputs after the first, which is a constant
    ndarray: traced and plain operands mixed in one call."""
    _, _, call, _, _ = ENTRIES[eid]
    first, *rest = _inputs(eid)
    shapes = [a.shape for a in rest]
    bounds = np.cumsum([0] + [a.size for a in rest])

    def flat(out):
        outs = out if isinstance(out, (tuple, list)) else [out]
        return np.concatenate([np.ravel(o) for o in outs])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = flat(call(first.copy(), *rest)).size
    w = np.random.default_rng(zlib.crc32(b"m" + eid.encode())).uniform(0.5, 1.5, m)

    def g(y):
        parts = [y[a:b].reshape(s) for a, b, s in zip(bounds[:-1], bounds[1:], shapes)]
        return np.sum(w * flat(call(first.copy(), *parts)))
    return g, np.concatenate([a.ravel() for a in rest])


@pytest.mark.parametrize("eid", [pytest.param(e, marks=_marks(e, True)) for e in MIXED])
def test_entry_gradient_mixed_operands(eid):
    _same_as_dual(eid, *_mixed_scalar(eid))
