"""Reverse mode (method="reverse", dfd.vjp): vector-Jacobian products and Jacobians
against forward mode, thread independence and memory, bad input, and NumPy's semantics
of the in-place writes it records.  References: forward mode (method="dual",
independent code), analytic derivatives, SciPy's rosen_der."""

import math
import subprocess
import sys
import threading

import numpy as np
import pytest
from scipy.optimize import rosen, rosen_der

import dualfd as dfd
from dualfd import Dual, _reverse

from test_reverse_rules import TOL, rel_diff


# --- vjp and jacobian against forward mode --------------------------------------------------

def f_vec(x):                      # (5,) -> (3,)
    return np.stack([np.sum(np.sin(x) * x), x[0] * x[4] ** 2, np.prod(x[1:4])])


def f_nd(x):                       # (2, 3) -> (4, 2)
    y = np.concatenate([np.exp(0.3 * x), x ** 2 * x[::-1]], axis=1)     # (2, 6)
    return np.tanh(y).reshape(4, 3) @ np.linspace(-1, 1, 6).reshape(3, 2)


def f_3d(x):                       # (2, 2, 3) -> (3, 2, 2)
    return np.transpose(np.cumsum(x * np.cos(x), axis=2), (2, 0, 1)) + x.mean()


def f_scalar_x(x):                 # () -> (2,)
    return np.stack([np.sin(x) * x, np.exp(x)])


def f_0d_out(x):                   # (2, 2) -> ()
    return np.sum(x @ x)


def f_identity(x):                # f's output is the traced x itself
    return x


def f_transpose(x):                # a view of x
    return x.T


def f_list(x):                     # a list of 0-d tracers and a constant
    return [x[0, 0] * 2.0, 1.0, x[1, 2]]


CASES = [(f_vec, (5,)), (f_nd, (2, 3)), (f_3d, (2, 2, 3)), (f_scalar_x, ()),
         (f_0d_out, (2, 2)), (f_identity, (2, 3)), (f_transpose, (2, 3)), (f_list, (2, 3))]


@pytest.mark.parametrize("f, shape", CASES, ids=[c[0].__name__ for c in CASES])
def test_vjp_is_u_times_the_dual_jacobian(f, shape):
    rng = np.random.default_rng(len(shape))
    x = rng.uniform(-1, 1, shape)
    J = dfd.jacobian(f, method="dual")(x)
    fshape = np.shape(f(x))
    assert J.shape == fshape + shape
    for _ in range(3):
        u = rng.standard_normal(fshape)
        value, g = dfd.vjp(f, method="reverse")(x, u)
        ref = np.tensordot(u, J, axes=len(fshape))
        assert np.shape(g) == shape
        assert rel_diff(g, ref) <= TOL
        np.testing.assert_array_equal(value, f(x))
    Jr = dfd.jacobian(f, method="reverse")(x)
    assert rel_diff(Jr, J) <= TOL


def test_vjp_of_a_constant_f_is_zero():
    value, g = dfd.vjp(lambda x: np.ones(3))(np.arange(2.0), np.ones(3))
    np.testing.assert_array_equal(value, np.ones(3))
    np.testing.assert_array_equal(g, np.zeros(2))


def my_rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def test_value_and_grad_and_rosen():
    x = np.linspace(-1.2, 1.3, 9)
    v, g = dfd.value_and_grad(my_rosen, method="reverse")(x)
    assert abs(v - rosen(x)) <= 1e-13 * v
    np.testing.assert_allclose(g, rosen_der(x), rtol=1e-14, atol=1e-12)


def test_scipy_rosen_runs_through_an_object_array():
    """SciPy's rosen starts with np.asanyarray(x): an object array of 0-d traced
    elements, through which NumPy's object loops carry the derivatives (as the Dual's)."""
    x = np.linspace(-1.2, 1.3, 7)
    np.testing.assert_allclose(dfd.grad(rosen, method="reverse")(x), rosen_der(x),
                               rtol=1e-14, atol=1e-12)


# --- threads and memory ------------------------------------------------------------------------

def _work(i):
    """(f, x, analytic gradient) for thread i: different functions, sizes, and kinds of
    adjoint (C records, matmul's NumPy adjoint, the Dual's through _fallback)."""
    x = np.linspace(-1, 1, 5 + i) + 0.05 * i
    if i == 0:
        return my_rosen, x, rosen_der(x)
    if i == 1:
        return (lambda t: np.sum(np.sin(t) * t)), x, np.cos(x) * x + np.sin(x)
    if i == 2:
        A = np.outer(np.arange(1.0, x.size + 1), np.ones(x.size)) + np.eye(x.size)
        return (lambda t: 0.5 * t @ A @ t), x, 0.5 * (A + A.T) @ x
    if i == 3:
        e = np.exp(x[1:] * x[:-1])
        return (lambda t: np.sum(np.exp(t[1:] * t[:-1]))), x, (
            np.concatenate([x[1:] * e, [0.0]]) + np.concatenate([[0.0], x[:-1] * e]))
    if i == 4:                                    # the Dual's norm, through _fallback
        return (lambda t: np.linalg.norm(t)), x, x / np.sqrt(x @ x)
    if i == 5:                                    # the Dual's prod, through _fallback
        return (lambda t: np.prod(t)), x, np.prod(x) / x
    if i == 6:                                    # cumsum: sum_k c_k^2, c = cumsum(x)
        c = np.cumsum(x)
        return (lambda t: np.sum(np.cumsum(t) ** 2)), x, np.cumsum((2 * c)[::-1])[::-1]

    def f7(t):                                    # setitem and a gather
        y = np.zeros_like(t)
        y[::2] = t[::2] ** 2
        return np.sum(y[[0, 0, 2]])
    g = np.zeros_like(x)
    g[0], g[2] = 4 * x[0], 2 * x[2]
    return f7, x, g


def test_threads_are_independent():
    out = [None] * 8
    errors = []
    barrier = threading.Barrier(8)

    def run(i):
        f, x, _ = _work(i)
        grad = dfd.grad(f, method="reverse")
        try:
            barrier.wait()
            res = [grad(x) for _ in range(200)]
            out[i] = res
        except Exception as e:        # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for i in range(8):
        _, _, ref = _work(i)
        for g in out[i]:
            np.testing.assert_allclose(g, ref, rtol=1e-13, atol=1e-13)
            np.testing.assert_array_equal(g, out[i][0])


def _rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096


@pytest.mark.skipif(not __import__("os").path.exists("/proc/self/statm"),
                    reason="reads the RSS from /proc")
@pytest.mark.skipif(__import__("os").environ.get("DUALFD_SANITIZED") == "1",
                    reason="under ASan, resident memory measures its quarantine of "
                           "freed blocks, which grows by design")
def test_no_memory_growth():
    """10^5 gradients: the tape, its records, pools and adjoints are freed each call.
    A leak of 100 bytes per call would show as 10 MB."""
    grad = dfd.grad(lambda t: np.sum(np.sin(t[1:]) * t[:-1]) + t @ t, method="reverse")
    x = np.linspace(0.1, 0.9, 4)
    for _ in range(10_000):
        grad(x)
    before = _rss()
    for _ in range(100_000):
        g = grad(x)
    grown = _rss() - before
    ref = np.concatenate([np.sin(x[1:]), [0.0]]) + np.concatenate(
        [[0.0], np.cos(x[1:]) * x[:-1]]) + 2 * x
    np.testing.assert_allclose(g, ref, rtol=1e-14, atol=1e-15)
    assert grown < 8 * 2 ** 20, f"RSS grew by {grown / 2 ** 20:.1f} MB over 10^5 calls"


@pytest.mark.skipif(not __import__("os").path.exists("/proc/self/statm"),
                    reason="reads the RSS from /proc")
@pytest.mark.skipif(__import__("os").environ.get("DUALFD_SANITIZED") == "1",
                    reason="under ASan, resident memory measures its quarantine of "
                           "freed blocks, which grows by design")
def test_no_memory_growth_when_f_raises():
    """f raising mid-trace (after C records, a PY record and a _fallback record): the
    tape is freed all the same.  100 bytes per call would show as 3 MB."""
    def f(t):
        y = np.sin(t) * t[0] @ np.ones((4, 2))
        np.prod(t) + np.linalg.norm(t)
        return float(y[0])
    grad = dfd.grad(f, method="reverse")
    x = np.linspace(0.1, 0.9, 4)

    def run(n):
        for _ in range(n):
            with pytest.raises(TypeError, match="would drop its derivative"):
                grad(x)
    run(3_000)
    before = _rss()
    run(30_000)
    grown = _rss() - before
    assert grown < 3 * 2 ** 20, f"RSS grew by {grown / 2 ** 20:.1f} MB over 3 10^4 calls"


# --- bad input ------------------------------------------------------------------------------

X = np.array([0.5, 1.5, 2.5])


def test_grad_of_a_non_scalar_f():
    with pytest.raises(ValueError, match=r"grad needs f to return a scalar; it returned "
                                         r"shape \(3,\)\. Use dfd.jacobian"):
        dfd.grad(lambda x: x * 2, method="reverse")(X)
    with pytest.raises(ValueError, match=r"returned shape \(2, 1\)"):
        dfd.value_and_grad(lambda x: x[:2, None], method="reverse")(X)


@pytest.mark.parametrize("u", [np.ones(2), np.ones((3, 1)), 1.0])
def test_vjp_u_of_the_wrong_shape(u):
    with pytest.raises(ValueError, match=r"u must have f's shape \(3,\)"):
        dfd.vjp(lambda x: np.sin(x))(X, u)


def test_unsupported_numpy_function_same_type_as_the_dual():
    f = lambda x: np.sum(np.fft.fft(x).real)    # noqa: E731
    with pytest.raises(TypeError) as dual:
        dfd.grad(f, method="dual")(X)
    with pytest.raises(TypeError, match="fft is not supported for traced arrays"):
        dfd.grad(f, method="reverse")(X)
    assert "not supported" in str(dual.value)


def test_unsupported_ufunc():
    with pytest.raises(TypeError, match="ufunc (gcd|bitwise_and) is not supported on traced"):
        dfd.grad(lambda x: np.sum(np.gcd(x, x)), method="reverse")(X)


def _store_into_float_array(x):
    g = np.zeros(3)
    g[0] = x[0]
    return np.sum(g)


def _store_slice_into_float_array(x):
    g = np.zeros(3)
    g[:2] = x[:2]
    return np.sum(g)


DROPS = {
    "float": lambda x: float(x[0]),
    "math.sin": lambda x: math.sin(x[0]),
    # (a regression: NumPy re-raised a ValueError while the Tracer had sq_item)
    "store": _store_into_float_array,
}


@pytest.mark.parametrize("f", DROPS.values(), ids=list(DROPS))
def test_dropping_the_derivative_raises(f):
    with pytest.raises(TypeError, match=r"float\(\) of a traced array would drop its "
                                        r"derivative"):
        dfd.grad(f, method="reverse")(X)


@pytest.mark.parametrize("f", [lambda x: np.sum(np.asarray(x, dtype=float)),
                               lambda x: np.sum(np.array(x, dtype=np.float32)),
                               _store_slice_into_float_array],
                         ids=["asarray-float", "array-float32", "store-slice"])
def test_float_conversions_raise(f):
    with pytest.raises(TypeError, match="would drop its derivative"):
        dfd.grad(f, method="reverse")(X)


@pytest.mark.parametrize("f", [
    lambda x: np.sum(np.asarray(x) ** 2),
    lambda x: np.sum(np.array([x[0] * x[1], 2.0, np.sin(x[2])]) * np.arange(3.0)),
    lambda x: np.mean([x[0], x[1] + 2.0]) + np.sum(np.exp(np.asarray(x))),
    lambda x: np.sum(np.array([x[2], x[0], 1.0]) * x),
    lambda x: np.sum(np.append(list(x), x[0] ** 2) ** 2),
], ids=["asarray", "array-of-scalars", "list-mean-and-ufunc", "object-operand",
        "list-operand"])
def test_object_arrays_carry_derivatives(f):
    """np.asarray / np.array of traced values: object arrays of 0-d traced elements,
    as the Dual's (checked against forward mode)."""
    assert rel_diff(dfd.grad(f, method="reverse")(X), dfd.grad(f, method="dual")(X)) <= TOL


def _write_through_view(x):
    v = x[1:]
    v[0] = 1.0
    return np.sum(v)


def _write_into_array_with_views(x):
    y = x * 2
    v = y[1:]
    y[0] = 1.0
    return np.sum(v) + np.sum(y)


def _iadd_through_view(x):
    y = x * 2
    v = y[1:]
    v += 1.0
    return np.sum(y)


def _write_through_view_of_view(x):
    y = x * 2
    v = y[1:]
    w = v[1:]
    w[0] = 1.0
    return np.sum(y)


def _write_through_transpose(x):
    y = np.stack([x, x])
    t = y.T
    t[0] = 1.0
    return np.sum(y)


def _write_through_one_of_two_views(x):
    y = x * 2
    a, b = y[1:], y[:2]
    a[0] = 5.0
    return np.sum(b) + np.sum(y)


def _iadd_into_array_with_views(x):
    y = x * 2
    v = y[1:]
    y += 1.0
    return np.sum(v)


@pytest.mark.parametrize("f", [_write_into_array_with_views, _write_through_view_of_view,
                               _write_through_transpose, _write_through_one_of_two_views,
                               _iadd_into_array_with_views])
def test_writes_that_cannot_be_recorded(f):
    with pytest.raises(TypeError, match="shares memory with another"):
        dfd.grad(f, method="reverse")(X)
    # the Dual follows them (views write through): what the refusal points to
    dfd.grad(f, method="dual")(X)


def _rows_recurrence(x):
    z = np.zeros_like(x, shape=(3, x.size))   # traced: f assigns into it
    z[0] = x
    z[1] = z[0] * 2.0 + np.sin(z[0])      # reads of z[0] are views that die at once
    z[2] = z[1] * z[0]
    return np.sum(z[2] ** 2)


def _fill_through_view(x):
    y = x * 1.0
    y[1:3].fill(0.25)
    return np.sum(y * y * x)


@pytest.mark.parametrize("f", [_write_through_view, _iadd_through_view, _rows_recurrence,
                               _fill_through_view])
def test_writes_through_a_view_reach_its_base(f):
    """One basic index of an array with no other live view: the write is recorded on
    the base as an assignment, as NumPy writes through (checked against forward mode,
    whose views write through too)."""
    g = dfd.grad(f, method="reverse")(X)
    assert rel_diff(g, dfd.grad(f, method="dual")(X)) <= TOL
    v, _ = dfd.value_and_grad(f, method="reverse")(X)
    assert v == f(X.copy())


def test_dual_meets_tracer():
    d = Dual(np.ones(3), np.eye(3))
    with pytest.raises(TypeError, match="forward .* and reverse .* cannot be mixed"):
        dfd.grad(lambda x: np.sum(x * d), method="reverse")(X)
    with pytest.raises(TypeError, match="cannot be mixed"):
        dfd.grad(lambda x: np.sum(np.sin(d) + x), method="reverse")(X)


def test_tracer_kept_from_another_call():
    kept = []

    def f(x):
        if kept:
            return np.sum(x * kept[0])
        kept.append(x)
        return np.sum(x)
    g = dfd.grad(f, method="reverse")
    g(X)
    with pytest.raises(ValueError, match="two different evaluations"):
        g(X)


@pytest.mark.parametrize("make, match", [
    (lambda: dfd.jvp(np.sin, method="reverse"), r"jvp \(J @ v\) is forward mode"),
    (lambda: dfd.grad(np.sum, method="reverse", step=1e-3), "step does not apply"),
    (lambda: dfd.grad(np.sum, method="reverse", vectorized=True),
     "vectorized applies to finite-difference"),
    (lambda: dfd.grad(np.sum, method="reverse", workers=2), "workers applies to"),
    (lambda: dfd.jacobian(np.sin, method="reverse", sparsity=np.eye(3, dtype=bool)),
     "sparsity applies to forward mode"),
    (lambda: dfd.vjp(np.sin, method="adaptive"), "vjp: method must be"),
])
def test_options_that_do_not_apply(make, match):
    with pytest.raises(ValueError, match=match):
        make()(X)


def test_bounds_evaluate_f_at_x_only():
    seen = []

    def f(x):
        seen.append(x.value.copy())
        return np.sum(np.sqrt(x) * x)
    x = np.array([0.0, 0.25, 1.0])         # on both bounds
    g = dfd.grad(f, method="reverse", bounds=(0.0, 1.0))(x)
    assert len(seen) == 1 and np.array_equal(seen[0], x)
    np.testing.assert_allclose(g, 1.5 * np.sqrt(x), rtol=1e-15)
    with pytest.raises(ValueError, match=r"x\[1\] = 1.5 lies outside bounds \[0.0, 1.0\]"):
        dfd.grad(f, method="reverse", bounds=(0.0, 1.0))(np.array([0.5, 1.5, 0.5]))
    x = 0.5 * x + 0.01
    value, g = dfd.vjp(lambda t: np.sqrt(t), bounds=(0.0, 1.0))(x, np.ones(3))
    np.testing.assert_allclose(g, 0.5 / np.sqrt(x), rtol=1e-15)


def test_args_and_kwargs():
    def f(x, a, *, b):
        return np.sum(a * x ** 3) + b * x[0]
    g = dfd.grad(f, method="reverse")(X, np.array([1.0, 2.0, 3.0]), b=5.0)
    np.testing.assert_allclose(g, [3 * 0.25 + 5, 2 * 3 * 2.25, 3 * 3 * 6.25], rtol=1e-15)
    v, g = dfd.vjp(lambda x, c: c * x)(X, np.ones(3), 2.0)
    np.testing.assert_array_equal(g, [2.0, 2.0, 2.0])


def test_check_finite_names_the_gradient_entry():
    x = np.array([1.0, 0.0, 4.0])
    with pytest.raises(ValueError, match=r"d f / d x\[1\] is inf"):
        dfd.grad(lambda t: np.sum(np.sqrt(t)), method="reverse")(x)
    g = dfd.grad(lambda t: np.sum(np.sqrt(t)), method="reverse", check_finite=False)(x)
    assert np.isposinf(g[1]) and g[0] == 0.5
    with pytest.raises(ValueError, match=r"x\[2\]"):
        dfd.grad(np.sum, method="reverse")(np.array([1.0, 2.0, np.nan]))


def _writes_into_x(x):
    x[0] = 10.0
    x += 1.0
    x *= x
    return np.sum(x)


def test_callers_x_is_never_modified():
    x = np.array([1.0, 2.0, 3.0])
    keep = x.copy()
    g = dfd.grad(_writes_into_x, method="reverse")(x)
    np.testing.assert_array_equal(x, keep)
    np.testing.assert_array_equal(g, [0.0, 2 * 3.0, 2 * 4.0])
    ro = np.array([[1.0, 2.0], [3.0, 4.0]]).T        # read-only, not C-contiguous
    ro.flags.writeable = False
    g = dfd.grad(lambda t: np.sum(_writes_into_x(t.reshape(-1).copy())), method="reverse")(ro)
    assert ro.flags.writeable is False and np.array_equal(ro, [[1.0, 3.0], [2.0, 4.0]])


def test_check_grad_catches_a_wrong_gradient():
    f = lambda x: np.sum(np.sin(x) * x)                     # noqa: E731
    good = lambda x: np.cos(x) * x + np.sin(x)              # noqa: E731
    bad = lambda x: np.cos(x) * x + np.sin(x) * (1 + 1e-6)  # noqa: E731
    assert dfd.check_grad(f, good, X, method="reverse").ok
    res = dfd.check_grad(f, bad, X, method="reverse")
    assert not res.ok
    with pytest.raises(AssertionError):
        dfd.check_grad(f, bad, X, method="reverse", raise_on_fail=True)


# --- in-place writes that are recorded --------------------------------------------------------

def test_slice_assign_and_augmented_assign():
    def f(x):
        y = x.copy()
        y[1:3] = x[:2] ** 2
        y += x
        y *= x
        return np.sum(y)
    x = np.array([0.5, -1.5, 2.0, 3.0])
    # y = [x0, x0^2, x1^2, x3] + x, then * x:
    # f = 2 x0^2 + (x0^2 + x1) x1 + (x1^2 + x2) x2 + 2 x3^2
    ref = np.array([4 * x[0] + 2 * x[0] * x[1], x[0] ** 2 + 2 * x[1] + 2 * x[1] * x[2],
                    x[1] ** 2 + 2 * x[2], 4 * x[3]])
    g = dfd.grad(f, method="reverse")(x)
    np.testing.assert_allclose(g, ref, rtol=1e-15)
    assert rel_diff(g, dfd.grad(f, method="dual")(x)) <= TOL


def test_augmented_slice_assign():
    def f(x):
        y = x * 1.0
        y[1:3] += x[:2] ** 2
        return np.sum(y * y)
    x = np.array([0.5, -1.5, 2.0, 3.0])
    y = x.copy()
    y[1:3] += x[:2] ** 2
    ref = 2 * y
    ref[:2] += 2 * y[1:3] * 2 * x[:2]
    np.testing.assert_allclose(dfd.grad(f, method="reverse")(x), ref, rtol=1e-15)


TIES = {
    # the same entry twice: the tie's values carry the same tangent, so max is
    # differentiable, d/dx0 = 1
    "max-of-duplicates": (lambda x: np.max(np.stack([x[0], x[0], x[1]])),
                          np.array([2.0, 1.0]), [1.0, 0.0]),
    # a column clipped to a constant: locally constant, derivative 0 there
    "max-of-clipped": (lambda x: np.sum(np.max(np.maximum(x, 0.7), axis=0)),
                       np.array([[0.1, 0.9], [0.2, 0.3]]), [[0.0, 1.0], [0.0, 0.0]]),
    "sort-of-duplicates": (lambda x: np.sort(np.concatenate([x, x]))[0] * 3.0,
                           np.array([1.0, 2.0]), [3.0, 0.0]),
}


@pytest.mark.xfail(strict=True, raises=ValueError, reason="max/min/sort with tied "
                   "values fall back to the generic adjoint (_fallback), which seeds "
                   "independent directions on the tied intermediate, so the Dual's tie "
                   "check refuses ('not differentiable here'); forward mode sees the "
                   "real tangents, equal, and gives the derivative")
@pytest.mark.parametrize("name", TIES)
def test_tie_with_equal_tangents(name):
    f, x, ref = TIES[name]
    np.testing.assert_array_equal(dfd.grad(f, method="dual")(x), ref)   # the reference
    np.testing.assert_array_equal(dfd.grad(f, method="reverse")(x), ref)


def test_tie_with_different_tangents_is_refused_as_by_the_dual():
    f = lambda x: np.max(x)              # noqa: E731
    x = np.array([1.0, 1.0, 0.5])
    with pytest.raises(ValueError, match="not differentiable here"):
        dfd.grad(f, method="dual")(x)
    with pytest.raises(ValueError, match="numpy.max is not differentiable here"):
        dfd.grad(f, method="reverse")(x)


def test_augmented_assign_rebinds_aliases():
    def f(x):
        y = x * 1.0
        z = y
        y += 1.0
        y *= x
        assert z is y
        return np.sum(z)
    x = np.array([1.0, 2.0, 3.0])
    v, g = dfd.value_and_grad(f, method="reverse")(x)
    assert v == np.sum((x + 1) * x)
    np.testing.assert_array_equal(g, 2 * x + 1)


def test_fancy_setitem_with_repeated_indices_last_wins():
    w = np.array([2.0, 3.0, 5.0, 7.0])

    def f(x):
        y = np.zeros_like(x)
        y[[0, 0, 1]] = x[[1, 2, 3]]          # y[0] = x[2], y[1] = x[3]
        return np.sum(w * y)
    x = np.array([1.0, 2.0, 3.0, 4.0])
    v, g = dfd.value_and_grad(f, method="reverse")(x)
    assert v == 2.0 * 3.0 + 3.0 * 4.0
    np.testing.assert_array_equal(g, [0.0, 0.0, 2.0, 3.0])


def test_setitem_into_zeros_like_builds_a_vector():
    def f(x):
        r = np.zeros_like(x)
        r[0] = x[0] * x[1]
        r[1:] = np.sin(x[1:])
        r[2] += x[0]
        return np.sum(r * r)
    x = np.array([0.3, 0.7, 1.1])
    assert rel_diff(dfd.grad(f, method="reverse")(x), dfd.grad(f, method="dual")(x)) <= TOL


def test_ufunc_out_into_a_tracer():
    def f(x):
        y = x * 1.0
        z = y
        np.add(x, x ** 2, out=y)
        np.multiply(y, x, out=y)
        assert z is y
        return np.sum(y)
    x = np.array([1.0, -2.0, 0.5])
    g = dfd.grad(f, method="reverse")(x)      # f = sum(x^2 + x^3)
    np.testing.assert_allclose(g, 2 * x + 3 * x ** 2, rtol=1e-15)


def _put_method(z):
    y = z[:5] * 1.0
    y.put([1, 3], z[5:])
    return np.sum(y * np.arange(1.0, 6.0))


def _put_function(z):
    y = z[:5] * 1.0
    np.put(y, [1, 3], z[5:])
    return np.sum(y * np.arange(1.0, 6.0))


@pytest.mark.parametrize("f", [_put_method, _put_function], ids=["method", "np.put"])
def test_put(f):
    z = np.arange(7.0) + 0.5
    w = np.arange(1.0, 6.0)
    y = z[:5].copy()
    y[[1, 3]] = z[5:]
    ref = np.array([w[0], 0.0, w[2], 0.0, w[4], w[1], w[3]])
    v, g = dfd.value_and_grad(f, method="reverse")(z)
    assert v == np.sum(y * w)
    np.testing.assert_array_equal(g, ref)


@pytest.mark.parametrize("fn", [np.atleast_1d, np.atleast_2d, np.real],
                         ids=["atleast_1d", "atleast_2d", "real"])
def test_functions_that_return_their_argument_alias_it(fn):
    def f(t):
        y = t * 1.0
        a = fn(y)
        a[..., 0] = 5.0
        return np.sum(y * y)
    x = np.array([[0.3, -0.7, 1.1]])
    v, g = dfd.value_and_grad(f, method="reverse")(x)
    assert v == f(x.copy())                          # NumPy: y[0, 0] is 5
    np.testing.assert_array_equal(g, [[0.0, -1.4, 2.2]])


def test_write_into_broadcast_to_raises():
    def f(t):
        b = np.broadcast_to(t[0], (3,))
        b[0] = 5.0
        return np.sum(b)
    with pytest.raises(ValueError, match="read-only"):
        dfd.grad(f, method="reverse")(X)


def test_f_returning_none():
    with pytest.raises(TypeError, match="f must return real numbers"):
        dfd.grad(lambda t: None, method="reverse")(X)


# A ufunc of constants written into a traced array (out=y): NumPy semantics make y that
# constant (derivative 0).  Each case runs in a child process, since it may crash.
OUT_OF_CONSTANTS = {
    "sin": "np.sin(o, out=y)", "negative": "np.negative(o, out=y)",
    "square": "np.square(o, out=y)", "add": "np.add(o, o, out=y)",
    "maximum": "np.maximum(o, 0.5 * o, out=y)", "hypot": "np.hypot(o, 2.0, out=y)",
    "power": "np.power(o, 3.0, out=y)", "matmul": "np.matmul(np.eye(3), o, out=y)",
    "out-tuple": "np.sin(o, out=(y,))",
}
_CHILD = """
import numpy as np, dualfd as dfd
o = np.full(3, 0.75)
def f(t):
    y = t * 1.0
    {call}
    return np.sum(y)
v, g = dfd.value_and_grad(f, method="reverse")(np.array([1.0, 2.0, 3.0]))
print(repr(v), g.tolist())
"""


@pytest.mark.parametrize("case", OUT_OF_CONSTANTS)
def test_ufunc_of_constants_into_a_traced_out(case):
    call = OUT_OF_CONSTANTS[case]
    res = subprocess.run([sys.executable, "-c", _CHILD.format(call=call)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, f"{case}: exit {res.returncode}\n{res.stderr[-500:]}"
    o = np.full(3, 0.75)
    y = np.zeros(3)
    eval(call, {"np": np, "o": o, "y": y})
    value, grad = res.stdout.strip().splitlines()[-1].split(" ", 1)
    assert float(value) == np.sum(y)
    assert grad == "[0.0, 0.0, 0.0]"


def test_ufunc_out_into_a_plain_array_raises():
    def f(x):
        out = np.zeros(3)
        np.sin(x, out=out)
        return np.sum(out)
    with pytest.raises(TypeError, match=r"sin\(\.\.\., out=\) into a plain array would "
                                        "drop the derivative"):
        dfd.grad(f, method="reverse")(X)


# --- the generic adjoint (_fallback) on inputs larger than one chunk of directions -------

_R = np.random.default_rng(3)
LARGE = {
    "prod": (lambda t: np.prod(t), _R.uniform(0.9, 1.1, 300)),
    "cumsum": (lambda t: np.sum(np.cumsum(t) ** 2), _R.uniform(-1, 1, 517)),
    "det": (lambda t: np.linalg.det(t.reshape(12, 12) + 4 * np.eye(12)),
            _R.uniform(-1, 1, 144)),
    "solve-both-traced": (lambda t: np.sum(np.linalg.solve(
        t[:64].reshape(8, 8) + 3 * np.eye(8), t[64:72]) ** 2), _R.uniform(-1, 1, 72)),
    "einsum-two-traced": (lambda t: np.einsum("ij,jk,ki->", t[:12].reshape(3, 4),
                                              t[12:24].reshape(4, 3), np.ones((3, 3))),
                          _R.uniform(-1, 1, 24)),
    "interp-fp-traced": (lambda t: np.sum(np.interp(np.linspace(0, 1, 7),
                                                    np.linspace(0, 1, 5), t[:5]) * t[5]),
                         _R.uniform(-1, 1, 6)),
    "norm-axis": (lambda t: np.sum(np.linalg.norm(t.reshape(30, 10), axis=1)),
                  _R.uniform(-1, 1, 300)),
    "std": (lambda t: np.std(t), _R.uniform(-1, 1, 1000)),
}


@pytest.mark.parametrize("name", LARGE)
def test_generic_adjoint_over_several_chunks(name):
    f, x = LARGE[name]
    assert rel_diff(dfd.grad(f, method="reverse")(x), dfd.grad(f, method="dual")(x)) <= TOL


def test_pooled_buffers_the_caller_kept_are_not_reused():
    """Large values come from a pool reused between calls (dualfd._reverse._VPOOL); a
    value f handed out (here t.value) must keep its contents through later calls."""
    kept = []

    def f(t):
        y = np.sin(t)                     # 2 * 10^4 elements: a pooled buffer
        kept.append(y.value)
        return np.sum(y * y)

    x = np.linspace(0.0, 1.0, 20000)
    g = dfd.grad(f, method="reverse")
    g0 = g(x)
    np.testing.assert_allclose(g0, np.sin(2 * x), rtol=1e-14, atol=1e-15)
    first = np.sin(x)
    for k in range(1, 4):
        gk = g(x + k)
        np.testing.assert_allclose(gk, np.sin(2 * (x + k)), rtol=1e-13, atol=1e-14)
    np.testing.assert_array_equal(kept[0], first)
    np.testing.assert_allclose(g0, np.sin(2 * x), rtol=1e-14, atol=1e-15)   # still ours


_C = np.random.default_rng(7).standard_normal((3, 4, 2))
CONTRACTIONS = {
    "inner-1d": lambda x: np.inner(x[:4], x[4:8]),
    "inner-nd": lambda x: np.sum(np.inner(x.reshape(2, 3, 4), x[:8].reshape(2, 4)) ** 2),
    "inner-constant": lambda x: np.sum(np.inner(x.reshape(6, 4), _C[0].T) ** 2),
    "vdot": lambda x: np.vdot(x.reshape(4, 6), x[::-1].reshape(4, 6)),
    "tensordot-2": lambda x: np.sum(np.tensordot(x.reshape(2, 3, 4), x.reshape(3, 4, 2)) ** 2),
    "tensordot-pairs": lambda x: np.sum(
        np.tensordot(x.reshape(2, 3, 4), _C, axes=([1, 2], [0, 1])) ** 2),
    "tensordot-0": lambda x: np.sum(np.tensordot(x[:3], x[3:5], axes=0) ** 2),
    "tensordot-negative": lambda x: np.sum(
        np.tensordot(x.reshape(4, 6), x.reshape(6, 4), axes=(-1, 0)) ** 2),
    "trace": lambda x: np.trace(x[:16].reshape(4, 4)) + np.sum(
        np.trace(x.reshape(2, 3, 4), offset=1, axis1=1, axis2=2) ** 2),
}


@pytest.mark.parametrize("f", CONTRACTIONS.values(), ids=list(CONTRACTIONS))
def test_contractions_written_as_einsum(f):
    """inner, vdot, tensordot and trace have adjoints of their own (einsum strings,
    a diagonal's sum): values are NumPy's to rounding, gradients the Dual's."""
    x = np.random.default_rng(8).standard_normal(24)
    v, g = dfd.value_and_grad(f, method="reverse")(x)
    assert abs(v - f(x)) <= 1e-14 * max(1.0, abs(f(x)))
    assert rel_diff(g, dfd.grad(f, method="dual")(x)) <= TOL
    assert {"inner", "vdot", "tensordot", "trace"} <= set(_reverse._dedicated())
