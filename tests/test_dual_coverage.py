"""Coverage of the Dual, driven by data: every entry of tests/coverage_list.py
(what autograd's own tests differentiate, plus the issue's list) on adversarial
inputs, and every function in the Dual's registry exercised by some entry.

For each entry the inputs are flattened into one vector x, and the Dual Jacobian
of ``x -> concatenate(ravel(outputs))`` is compared with independent references:
a 4th-order central difference always (to ~1e-7), and complex step (SciPy's
approx_derivative) wherever it agrees with that difference, to 1e-12 -- complex
step is exact for analytic code and silently wrong for abs, sort, eigh ..., which
the cross-check detects.  Variants: plain contiguous inputs, one pass per direction
(k = 1), and inputs passed as strided and as negative-stride views.
"""

import warnings
import zlib

import numpy as np
import pytest
from scipy.optimize._numdiff import approx_derivative

import dualfd as dfd
from dualfd import Dual
from dualfd._dual._core import _registry

import coverage_list as CL

ENTRIES = {e[0]: e for e in CL.ENTRIES}
VARIANTS = ("contiguous", "k1", "k129", "strided", "negative")
# the first input a constant ndarray, the others Duals: entries with several inputs
# (not for in-place writes: a constant first input cannot take a Dual)
MIXED = [e[0] for e in CL.ENTRIES if len(e[3]) > 1 and "in place" not in e[4]]


def _inputs(eid):
    _, _, _, inputs, _ = ENTRIES[eid]
    rng = np.random.default_rng(zlib.crc32(eid.encode()))
    return [CL.make_input(kind, shape, rng) for kind, shape in inputs]


def _flat_outputs(out):
    outs = out if isinstance(out, (tuple, list)) else [out]
    return [np.ravel(o) for o in outs]


def _as_view(piece, shape, variant):
    """piece (a 1-d Dual) as an input of the given shape, passed as the variant asks:
    a strided or a negative-stride view holding the same values and tangents."""
    if variant == "strided":
        buf = np.zeros_like(np.concatenate([piece, piece]))
        buf[::2] = piece
        piece = buf[::2]
    elif variant == "negative":
        buf = np.zeros_like(piece)
        buf[::-1] = piece
        piece = buf[::-1]
    return piece.reshape(shape)


def _flat_function(eid, variant="contiguous"):
    _, _, call, inputs, _ = ENTRIES[eid]
    shapes = [tuple(s) for _, s in inputs]
    sizes = [int(np.prod(s)) for s in shapes]
    bounds = np.cumsum([0] + sizes)

    def f(x):
        args = []
        for i, (a, b, shape) in enumerate(zip(bounds[:-1], bounds[1:], shapes)):
            piece = x[a:b]
            if type(x) is Dual and variant in ("strided", "negative"):
                args.append(_as_view(piece, shape, variant))
            elif type(x) is Dual and variant == "mixed" and i == 0:
                args.append(np.array(piece.value).reshape(shape))
            else:
                args.append(piece.reshape(shape))
        return np.concatenate(_flat_outputs(call(*args)))
    f.first_size = sizes[0]
    return f


def _central4(f, x):
    """4th-order central differences, h = 1e-3 * max(1, |x_j|): error ~h^4 f^(5)."""
    f0 = np.asarray(f(x), dtype=float)
    J = np.empty((f0.size, x.size))
    for j in range(x.size):
        h = 1e-3 * max(1.0, abs(x[j]))
        e = np.zeros_like(x)
        e[j] = h
        J[:, j] = (8 * (f(x + e) - f(x - e)) - (f(x + 2 * e) - f(x - 2 * e))) / (12 * h)
    return J


_REFS = {}


def _reference(eid):
    """(J, rtol): complex step where it agrees with the 4th-order differences, else
    the differences."""
    if eid not in _REFS:
        f = _flat_function(eid)
        x = np.concatenate([a.ravel() for a in _inputs(eid)])
        Jfd = _central4(f, x)
        ref = (Jfd, 1e-6)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                Jcs = np.asarray(approx_derivative(f, x, method="cs")).reshape(Jfd.shape)
            scale = max(1.0, np.max(np.abs(Jfd)))
            if np.all(np.isfinite(Jcs)) and np.max(np.abs(Jcs - Jfd)) <= 1e-5 * scale:
                ref = (Jcs, 1e-12)
        except Exception:       # noqa: BLE001 - no complex step for this code
            pass
        _REFS[eid] = ref
    return _REFS[eid]


def _check(eid, variant):
    x = np.concatenate([a.ravel() for a in _inputs(eid)])
    f = _flat_function(eid, variant)
    Jref, rtol = _reference(eid)
    where = f"{eid} ({variant}; inputs {ENTRIES[eid][3]})"
    if variant == "mixed":             # no derivative with respect to the constant
        Jref = Jref.copy()
        Jref[:, :f.first_size] = 0.0
    if variant == "k129":              # 129 random directions: tangent = J @ T
        T = np.random.default_rng(1).standard_normal((x.size, 129))
        seeds = Dual(x, T)
    else:
        T = np.eye(x.size)
        seeds = Dual(x, T)
    try:
        d = f(seeds)
        J = (dfd.jacobian(f, method="dual", chunk=1 if variant == "k1" else None)(x)
             if variant != "k129" else None)
    except TypeError as e:
        pytest.fail(f"{where}: the Dual refuses it: {e}")
    if isinstance(d, np.ndarray) and d.dtype == object:     # code that built arrays
        d = _object_result(d, T.shape[1])
    value = _flat_function(eid)(x)
    np.testing.assert_allclose(np.asarray(d.value if type(d) is Dual else d), value,
                               rtol=1e-14, atol=1e-14, err_msg=f"{where}: values")
    tangent = (d.tangent if type(d) is Dual else np.zeros(np.shape(d) + (T.shape[1],)))
    scale = max(1.0, np.max(np.abs(Jref)))
    np.testing.assert_allclose(tangent, Jref @ T, rtol=rtol, atol=rtol * scale * (
        np.max(np.abs(T)) * np.sqrt(x.size)), err_msg=f"{where}: tangents")
    if J is not None:
        np.testing.assert_allclose(J, Jref, rtol=rtol, atol=rtol * scale,
                                   err_msg=f"{where}: Jacobian")


def _object_result(d, k):
    """An object array of 0-d Duals and numbers (what code that builds arrays of
    Duals returns) as value and tangent arrays, read element by element."""
    items = d.ravel()
    value = np.array([e.value if type(e) is Dual else e for e in items], float)
    tangent = np.array([e.tangent if type(e) is Dual else np.zeros(k) for e in items])
    return Dual(value, tangent.reshape(value.shape + (k,)))


# Entries that cannot work, each with the reason; strict: one that starts to work fails
# here until its line is removed.
LIMITS = {
    "special.logsumexp": "SciPy's logsumexp converts its input with xp.asarray (an "
    "object array of 0-d Duals) and then takes any dtype that is not real floating "
    "for complex (scipy/special/_logsumexp.py: xp.exp(xp.imag(a_max) * 1.0j)); SciPy "
    "offers no dispatch to intercept. softmax works; method='auto' falls back.",
}
LIMITS["special.logsumexp-axis1-keepdims"] = LIMITS["special.logsumexp"]


def _marks(eid):
    return [pytest.mark.xfail(strict=True, reason=LIMITS[eid])] if eid in LIMITS else []


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("eid", [pytest.param(e, marks=_marks(e)) for e in ENTRIES])
def test_entry(eid, variant):
    _check(eid, variant)


@pytest.mark.parametrize("eid", [pytest.param(e, marks=_marks(e)) for e in MIXED])
def test_entry_mixed_operands(eid):
    _check(eid, "mixed")


def test_issue_items_are_listed():
    missing = {item: ids for item, ids in CL.ISSUE_ITEMS.items()
               if not set(ids) <= set(ENTRIES)}
    assert not missing


def _names_used(entry):
    """The global and attribute names (and name strings, for getattr) an entry's call
    refers to, through nested code and the list's own helper functions."""
    names, seen = set(), set()
    stack = [entry[2].__code__]
    while stack:
        code = stack.pop()
        if code in seen:
            continue
        seen.add(code)
        names.update(code.co_names)
        names.update(c for c in code.co_consts if isinstance(c, str))
        stack.extend(c for c in code.co_consts if hasattr(c, "co_names"))
        stack.extend(getattr(CL, n).__code__ for n in code.co_names
                     if n.startswith("_") and hasattr(getattr(CL, n, None), "__code__"))
    return names


def test_every_registered_function_has_an_entry():
    """A function registered for Duals is tested by the entries above only if some
    entry calls it: add one to tests/coverage_list.py with each new registration."""
    functions, ufuncs, _, methods = _registry()
    used = set().union(*(_names_used(e) for e in CL.ENTRIES))
    # Functions whose entries are implicit: shape queries and constructors the
    # other entries' code calls, and comparisons/predicates (plain-bool results).
    implicit = {"shape", "ndim", "size", "zeros_like", "ones_like", "empty_like",
                "full_like", "copy", "broadcast_to", "less", "less_equal", "greater",
                "greater_equal", "equal", "not_equal", "isfinite", "isnan", "isinf",
                "signbit",
                # registered to refuse with dualfd's message (they would drop a
                # derivative); tests/test_dual_shape.py checks the messages
                "item", "tolist"}
    names = {f.__name__ for f in functions} | {u.__name__ for u in ufuncs} | set(methods)
    untested = sorted(n for n in names - implicit if n not in used)
    assert not untested, f"registered but no entry calls them: {untested}"
