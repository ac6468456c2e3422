"""No silent wrong answer on the finite-difference and API side.

Regression tests for defects that gave a wrong number, a crash or an unclear
error: bounds read two ways, big-endian and misaligned buffers, f reusing its
output buffer, complex output in jvp, step/bounds for a scalar x, pickling,
huge chunks, stencil points in messages, ragged outputs.  References are
analytic derivatives; "f is never evaluated outside the box" is checked on
every point f sees.
"""

import concurrent.futures
import pickle

import numpy as np
import pytest
from scipy.optimize import Bounds, minimize

import dualfd as dfd
from dualfd import _fd

FD = ["central", "forward", "backward"]


def sumsq(x):
    return np.sum(x ** 2)


def quartic(x):
    """Scalar f of a 1-d x with gradient 4 x**3 + 1 and Hessian diag(12 x**2)."""
    return np.sum(x ** 4 + x)


def quartic_grad(x):
    return 4 * x ** 3 + 1


class BoxRecorder:
    """f that records every point and fails the test on one outside [lb, ub]."""

    def __init__(self, f, lb, ub):
        self.f, self.lb, self.ub = f, np.asarray(lb, float), np.asarray(ub, float)
        self.points = []

    def __call__(self, x):
        v = getattr(x, "value", x)   # a Dual's value
        self.points.append(np.array(v, copy=True))
        assert np.all((self.lb <= v) & (v <= self.ub)), f"f evaluated at {v}"
        return self.f(x)


def misaligned(values, dtype="f8"):
    """An array of values whose data pointer is not a multiple of 8."""
    values = np.asarray(values, dtype=float)
    buf = bytearray(8 * values.size + 1)
    a = np.frombuffer(buf, offset=1, dtype=dtype, count=values.size).reshape(values.shape)
    a[...] = values
    assert not a.flags.aligned
    return a


# --- bounds: three forms, none read two ways (defect 3) -------------------------

X_NEAR = np.array([1.0, 3.0, 5.0])          # at the upper bound of each pair below
PAIRS3 = [(0.0, 1.0), (2.0, 3.0), (None, 5.0)]
LB3, UB3 = np.array([0.0, 2.0, -np.inf]), np.array([1.0, 3.0, 5.0])


@pytest.mark.parametrize("method", FD)
@pytest.mark.parametrize("form", ["pairs", "Bounds", "lbub", "array"])
def test_bounds_forms_keep_f_inside_and_agree(form, method):
    bounds = {"pairs": PAIRS3, "Bounds": Bounds(LB3, UB3), "lbub": (LB3, UB3),
              "array": np.array([[0.0, 1.0], [2.0, 3.0], [-np.inf, 5.0]])}[form]
    f = BoxRecorder(quartic, LB3, UB3)
    g = dfd.grad(f, method=method, bounds=bounds)(X_NEAR)
    np.testing.assert_allclose(g, quartic_grad(X_NEAR), rtol=1e-4 if method != "central"
                               else 1e-8)
    assert len(f.points) > 1


def test_pairs_for_two_entries_are_ambiguous():
    # read as (lb, ub) = ((0, 1), (2, 3)) this evaluated f outside the box the
    # user meant (0 <= x0 <= 1, 2 <= x1 <= 3) and returned a number
    x = np.array([0.5, 2.5])
    for bounds in ([(0, 1), (2, 3)], ((0, 1), (2, 3)), ([0, 1], [2, 3]),
                   np.array([[0, 1], [2, 3]])):
        with pytest.raises(ValueError, match=r"ambiguous for x with 2 entries: it reads "
                                             r"as \(lb, ub\) and as a sequence of \(lo, hi\) "
                                             r"pairs.*Write scipy.optimize.Bounds\(lb, ub\), "
                                             r"or \(np.array\(lb\), np.array\(ub\)\)"):
            dfd.grad(sumsq, bounds=bounds)(x)


def test_the_unambiguous_spellings_for_two_entries():
    x = np.array([0.5, 3.0])
    for bounds, lb, ub in [
            (Bounds([0, 2], [1, 3]), [0, 2], [1, 3]),
            ((np.array([0, 2]), np.array([1, 3])), [0, 2], [1, 3]),
            ((0, 3), [0, 0], [3, 3]),                     # scalars: (lb, ub)
            ((np.array([0, 2]), None), [0, 2], [np.inf, np.inf])]:
        f = BoxRecorder(quartic, lb, ub)
        g = dfd.grad(f, bounds=bounds)(x)
        np.testing.assert_allclose(g, quartic_grad(x), rtol=1e-8)
    # the same pairs for an x of 3 entries cannot be pairs: (lb, ub) per column
    f = BoxRecorder(sumsq, [0, 1], [2, 3])
    x = np.array([[0.5, 2.0], [1.0, 3.0], [2.0, 1.0]])
    np.testing.assert_allclose(dfd.grad(f, bounds=[(0, 1), (2, 3)])(x), 2 * x, rtol=1e-8)


@pytest.mark.parametrize("bounds", [(0.0, 1.0), [(0.0, 1.0)], Bounds(0.0, 1.0),
                                    (None, 1.0), [(None, 1.0)]])
@pytest.mark.parametrize("x", [1.0, np.array(1.0), np.float32(1.0)])
def test_scalar_x_with_bounds(bounds, x):
    # "bounds[0] has shape (1,), which does not broadcast to x's shape ()"
    f = BoxRecorder(np.sin, -np.inf, 1.0)
    g = dfd.grad(f, bounds=bounds)(x)
    assert abs(g - np.cos(1.0)) < 1e-8
    assert isinstance(g, float) == (not isinstance(x, np.ndarray))


def test_x_of_any_shape_takes_pairs_in_flat_order():
    x = np.array([[1.0, 0.0], [0.5, 0.25]])
    pairs = [(0, 1), (0, 1), (None, None), (0.25, None)]
    f = BoxRecorder(sumsq, [[0, 0], [-np.inf, 0.25]], [[1, 1], [np.inf, np.inf]])
    np.testing.assert_allclose(dfd.grad(f, bounds=pairs)(x), 2 * x, rtol=1e-8, atol=1e-8)


def test_hessian_and_jvp_take_every_form():
    x = X_NEAR
    for bounds in (PAIRS3, Bounds(LB3, UB3)):
        for method in ("central", "dual"):
            f = BoxRecorder(quartic, LB3, UB3)
            H = dfd.hessian(f, method=method, bounds=bounds)(x)
            np.testing.assert_allclose(H, np.diag(12 * x ** 2), rtol=1e-5, atol=1e-5)
        f = BoxRecorder(quartic, LB3, UB3)
        _, t = dfd.jvp(f, bounds=bounds)(x, np.ones(3))
        assert abs(t - np.sum(quartic_grad(x))) < 1e-6 * abs(t)


@pytest.mark.parametrize("bounds, exc, match", [
    ([(0, 1)] * 3, ValueError, r"bounds holds 3 \(lo, hi\) pairs, but x has 2 entries"),
    ([], ValueError, r"bounds holds 0 \(lo, hi\) pairs, but x has 2 entries"),
    ([(0, 1), (0, 1), 2], ValueError, r"bounds\[2\] = 2 is not a \(lo, hi\) pair"),
    ([(0, 1), (0, 1), (0, 1, 2)], ValueError, r"bounds\[2\] = \(0, 1, 2\) is not a"),
    ([(0, 1), (3, 2), (0, 1)], ValueError, r"lb must not exceed ub; lb of bounds\[1\] = 3\.0"),
    ([(0, np.nan), (0, 1), (0, 1)], ValueError, "must not contain nan"),
    ([("a", 1), (0, 1), (0, 1)], TypeError, "lower ends of the pairs must hold real numbers"),
    ((0, 1j), TypeError, r"ub \(bounds\[1\]\) must hold real numbers or None; got 1j"),
    ((False, True), TypeError, r"lb \(bounds\[0\]\) must hold real numbers"),
    (zip([0, 0], [1, 1]), TypeError, r"got zip \(pass list\(zip\(lb, ub\)\) for an iterator"),
    ("ab", TypeError, "bounds must be a pair .lb, ub. .*a scipy.optimize.Bounds, or a "
                      "sequence of n .lo, hi. pairs"),
    (5, TypeError, "got int"),
    ([(0, 1), None], ValueError, r"ambiguous: write \(np.array\(lb\), None\)"),
    (Bounds([0, 0, 0], [1, 1, 1]), ValueError,
     r"bounds\[0\] \(the lower bound\) has shape \(3,\), which does not broadcast"),
])
def test_bad_bounds(bounds, exc, match):
    with pytest.raises(exc, match=match):
        dfd.grad(sumsq, bounds=bounds)(np.array([0.5, 0.5]))


def test_one_bounds_object_for_minimize_and_dualfd():
    """L-BFGS-B with the same bounds for SciPy and dualfd, in both forms; f is
    never evaluated outside, and the optimum sits on the bounds."""
    lb, ub = np.full(4, -2.0), np.full(4, 0.8)
    x0 = np.array([-1.2, 0.5, -1.2, 0.5])

    def rosen(x):
        return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

    results = []
    for bounds in (list(zip(lb, ub)), Bounds(lb, ub)):
        f = BoxRecorder(rosen, lb, ub)
        res = minimize(f, x0, jac=dfd.grad(f, bounds=bounds), method="L-BFGS-B",
                       bounds=bounds)
        assert res.success
        results.append(res.x)
    np.testing.assert_allclose(results[0], results[1], atol=1e-6)
    assert np.any(np.isclose(results[0], 0.8))


# --- byte order and alignment (defect 4) ------------------------------------------

X = np.array([1.0, -2.0, 3.0])


@pytest.mark.parametrize("vectorized", [False, True])
@pytest.mark.parametrize("method", FD + ["complex", "dual"])
@pytest.mark.parametrize("kind", ["big-endian", "misaligned", "misaligned big-endian"])
def test_x_in_any_byte_order_and_alignment(kind, method, vectorized):
    # a '>f8' x was read as raw bytes: the gradient came out as zeros
    if vectorized and method == "dual":
        pytest.skip("vectorized applies to FD methods")
    x = {"big-endian": X.astype(">f8"), "misaligned": misaligned(X),
         "misaligned big-endian": misaligned(X, ">f8")}[kind]
    before = x.copy()
    f = (lambda z: np.sum(z ** 2, axis=0)) if vectorized else sumsq
    g = dfd.grad(f, method=method, vectorized=vectorized)(x)
    np.testing.assert_allclose(g, 2 * X, rtol=1e-5)
    assert g.dtype == np.float64 and g.dtype.isnative
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("make", [lambda a: a.astype(">f8"), misaligned,
                                  lambda a: misaligned(a, ">f8")])
def test_only_behaved_buffers_reach_c(make):
    x = make(np.array([1.0, 2.0]))
    p = _fd.as_point(x)
    assert p.flags.aligned and p.flags.c_contiguous and p.dtype.isnative
    np.testing.assert_array_equal(p, [1.0, 2.0])
    assert _fd.first_nonfinite(make(np.array([1.0, np.inf]))) == 1


@pytest.mark.parametrize("make", [lambda a: a.astype(">f8"),
                                  lambda a: misaligned(a, ">f8")])
def test_non_finite_big_endian_x_is_caught(make):
    # an inf in a '>f8' x passed check_finite
    x = make(np.array([1.0, np.inf, 3.0]))
    with pytest.raises(ValueError, match=r"x must be finite; x\[1\] = inf"):
        dfd.grad(sumsq)(x)
    with pytest.raises(ValueError, match=r"x must be finite; x\[1\] = inf"):
        _fd.check_finite_x(x)
    with pytest.raises(ValueError, match=r"v must be finite; v\[1\] = inf"):
        dfd.jvp(sumsq)(np.ones(3), x)


@pytest.mark.parametrize("vectorized", [False, True])
@pytest.mark.parametrize("method", FD)
@pytest.mark.parametrize("kind", ["big-endian", "misaligned big-endian"])
def test_f_output_in_any_byte_order(kind, method, vectorized):
    conv = ((lambda a: np.asarray(a).astype(">f8")) if kind == "big-endian"
            else (lambda a: misaligned(a, ">f8")))

    def f(x):
        return conv(np.stack([x[0] * x[1], np.sin(x[1])]))

    J = dfd.jacobian(f, method=method, vectorized=vectorized)(np.array([2.0, 0.5]))
    ref = np.array([[0.5, 2.0], [0.0, np.cos(0.5)]])
    np.testing.assert_allclose(J, ref, rtol=1e-5, atol=1e-7)
    # a 0-d '>f8' f(x) is the f0 of a forward gradient
    v, g = dfd.value_and_grad(lambda x: conv(np.sum(x ** 2)), method=method)(X)
    assert float(v) == 14.0
    np.testing.assert_allclose(g, 2 * X, rtol=1e-5)


def test_complex_step_output_in_any_byte_order():
    for conv in (lambda a: a.astype(">c16"), lambda a: misaligned_complex(a)):
        J = dfd.jacobian(lambda x: conv(x ** 2), method="complex")(X)
        np.testing.assert_allclose(J, np.diag(2 * X), rtol=1e-14)


def misaligned_complex(a):
    a = np.asarray(a, dtype=complex)
    buf = bytearray(16 * a.size + 1)
    m = np.frombuffer(buf, offset=1, dtype=">c16", count=a.size).reshape(a.shape)
    m[...] = a
    return m


# --- f reusing its output buffer (defect 5) ----------------------------------------

class BufferF:
    """f(x) = x**2 (or its sum) written into the same array at every call."""

    def __init__(self, shape):
        self.buf = np.empty(shape)

    def __call__(self, x):
        if self.buf.ndim == 0:
            self.buf[()] = np.sum(x * x)
            return self.buf
        return np.multiply(x, x, out=self.buf)


@pytest.mark.parametrize("method", FD)
def test_value_and_grad_keeps_a_copy_of_the_value(method):
    vg = dfd.value_and_grad(BufferF(()), method=method)
    v1, g1 = vg(np.array([1.0, 2.0]))
    assert float(v1) == 5.0          # was 5.00000012: the last stencil's value
    np.testing.assert_allclose(g1, [2.0, 4.0], rtol=1e-6)
    v2, _ = vg(np.array([3.0, 4.0]))
    assert float(v1) == 5.0 and float(v2) == 25.0


@pytest.mark.parametrize("method", FD)
def test_jvp_keeps_a_copy_of_f_x(method):
    x = np.array([1.0, 2.0])
    value, t = dfd.jvp(BufferF(2), method=method)(x, np.array([1.0, 0.0]))
    np.testing.assert_array_equal(value, x ** 2)      # was [0.99997578, 4.]
    np.testing.assert_allclose(t, [2.0, 0.0], rtol=1e-6, atol=1e-12)


def test_reused_buffers_in_every_engine():
    x = np.array([1.0, 2.0])
    for method in FD:
        np.testing.assert_allclose(dfd.jacobian(BufferF(2), method=method)(x),
                                   np.diag(2 * x), rtol=1e-6)
    H = dfd.hessian(BufferF(()), method="central")(x)
    np.testing.assert_allclose(H, 2 * np.eye(2), atol=1e-6)
    assert dfd.check_grad(BufferF(2), lambda x: np.diag(2 * x), x).ok
    assert dfd.check_grad(BufferF(()), lambda x: 2 * x, x, method="forward").ok


def test_f_returning_x_itself():
    x = np.array([1.0, 2.0])
    before = x.copy()
    value, t = dfd.jvp(lambda z: z)(x, np.array([0.0, 1.0]))
    np.testing.assert_array_equal(value, before)
    np.testing.assert_allclose(t, [0.0, 1.0], atol=1e-9)
    np.testing.assert_allclose(dfd.jacobian(lambda z: z, vectorized=True)(x), np.eye(2))
    np.testing.assert_array_equal(x, before)


def test_check_grad_never_hands_the_callers_x_to_f():
    # vectorized check_grad estimated the reference's error by calling f on a
    # view of the caller's x; an f that writes to its input changed it
    def f(z):
        r = np.sum(z ** 2, axis=0)
        z *= 3.0
        return r

    x = np.array([1.0, 2.0])
    res = dfd.check_grad(f, lambda z: 2 * z + 1.0, x, vectorized=True)
    assert not res.ok
    np.testing.assert_array_equal(x, [1.0, 2.0])


# --- complex output of a real x: jvp as jacobian (defect 6) -----------------------

@pytest.mark.parametrize("method", FD)
def test_jvp_refuses_complex_output_as_jacobian_does(method):
    f = lambda x: x * (1 + 1j)
    x = np.array([1.0, 2.0])
    match = "f returned complex values for a real x"
    with pytest.raises(TypeError, match=match):
        dfd.jacobian(f, method=method)(x)
    with pytest.raises(TypeError, match=match):
        dfd.jvp(f, method=method)(x, np.ones(2))


# --- step for a scalar x; jvp steps (defect 11) -----------------------------------

@pytest.mark.parametrize("x", [1.0, np.array(1.0), 1])
def test_scalar_x_with_step(x):
    h = 1e-3
    g = dfd.grad(np.sin, step=h)(x)
    # central difference with exactly this step: sin(1) sin(h) / h
    assert abs(g - np.cos(1.0) * np.sin(h) / h) < 1e-12
    H = dfd.hessian(np.sin, method="central", step=1e-3)(x)
    assert abs(H + np.sin(1.0)) < 1e-6


def test_jvp_takes_a_float_step():
    h = 1e-3
    value, t = dfd.jvp(np.sin, step=h)(1.0, 1.0)
    assert value == np.sin(1.0)
    assert abs(t - np.cos(1.0) * np.sin(h) / h) < 1e-12
    # the step is the max-norm length of the move along v
    f = BoxRecorder(lambda x: np.sum(np.sin(x)), -np.inf, np.inf)
    x, v = np.array([0.5, 1.0]), np.array([2.0, -1.0])
    dfd.jvp(f, step=h)(x, v)
    moves = [np.max(np.abs(p - x)) for p in f.points[1:]]
    np.testing.assert_allclose(moves, h, rtol=1e-9)


def test_jvp_array_step_is_the_longest_move_within_every_step():
    f = BoxRecorder(lambda x: np.sum(np.sin(x)), -np.inf, np.inf)
    x, v = np.array([0.5, 1.0, 2.0]), np.array([2.0, -1.0, 0.0])
    h = np.array([1e-3, 1e-4, 1e-9])     # v[2] = 0: its step does not bind
    _, t = dfd.jvp(f, step=h)(x, v)
    for p in f.points[1:]:
        assert np.all(np.abs(p - x) <= h * (1 + 1e-9))
    # the binding coordinate is 1: |t v_1| = 1e-4, so |t v_0| = 2e-4
    np.testing.assert_allclose(np.abs(f.points[1] - x)[:2], [2e-4, 1e-4], rtol=1e-9)
    assert abs(t - np.cos(x) @ v) < 1e-7
    # a float step h is the array step h * ones
    f2 = BoxRecorder(lambda x: np.sum(np.sin(x)), -np.inf, np.inf)
    dfd.jvp(f2, step=1e-4)(x, v)
    f3 = BoxRecorder(lambda x: np.sum(np.sin(x)), -np.inf, np.inf)
    dfd.jvp(f3, step=np.full(3, 1e-4))(x, v)
    np.testing.assert_array_equal(f2.points, f3.points)
    with pytest.raises(ValueError, match=r"step has shape \(2,\), which does not broadcast "
                                         r"to x's shape \(3,\)"):
        dfd.jvp(np.sum, step=[1e-3, 1e-3])(x, v)


@pytest.mark.parametrize("step, exc, match", [
    (True, TypeError, "step must be a positive float or an array of them; got bool"),
    ("1e-3", TypeError, "step must be a positive float or an array of them; got str"),
    ([1e-3, [1e-3]], TypeError, "step must be a positive float .* got list"),
    (1j, TypeError, "got complex"),
    (0.0, ValueError, "step must be finite and positive"),
])
def test_bad_steps(step, exc, match):
    for make in (dfd.grad, dfd.jvp, dfd.hessian):
        with pytest.raises(exc, match=match):
            make(sumsq, step=step, **({"method": "central"} if make is dfd.hessian else {}))


def test_step_is_copied_when_the_transform_is_built():
    step = np.array([1e-3, 1e-3])
    g = dfd.grad(np.sum, step=step)
    step[:] = -1.0
    np.testing.assert_allclose(g(np.ones(2)), [1.0, 1.0])


# --- pickling and process pools (defect 12) ---------------------------------------

def transforms():
    """(name, transform, arguments) for every public transform."""
    x = np.array([0.3, -0.7, 1.1])
    v = np.array([1.0, 0.5, -2.0])
    return [
        ("grad", dfd.grad(quartic), (x,)),
        ("grad-bounds-pairs", dfd.grad(quartic, bounds=[(0, 1), (-1, 0), (None, 2)]), (x,)),
        ("jacobian", dfd.jacobian(np.sin, step=1e-4), (x,)),
        ("value_and_grad", dfd.value_and_grad(quartic, method="forward"), (x,)),
        ("grad-dual", dfd.grad(quartic, method="dual", chunk=2), (x,)),
        ("jvp", dfd.jvp(np.sin, step=np.full(3, 1e-4)), (x, v)),
        ("jvp-dual", dfd.jvp(np.sin, method="dual"), (x, v)),
        ("hessian", dfd.hessian(quartic), (x,)),
        ("hessian-complex", dfd.hessian(quartic, method="complex"), (x,)),
        ("hessian-central", dfd.hessian(quartic, method="central",
                                        bounds=Bounds(-1, 2)), (x,)),
    ]


def same(a, b):
    if isinstance(a, tuple):
        return all(same(p, q) for p, q in zip(a, b))
    return np.array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_every_transform_pickles_with_every_protocol(protocol):
    # jvp and hessian were closures; protocols 0 and 1 failed for all
    for name, t, args in transforms():
        u = pickle.loads(pickle.dumps(t, protocol=protocol))
        assert same(u(*args), t(*args)), name
        assert u.__name__ == t.__name__


def call_transform(t, args):
    return t(*args)


def test_transforms_run_in_a_process_pool():
    items = transforms()
    with concurrent.futures.ProcessPoolExecutor(max_workers=1) as pool:
        futures = [pool.submit(call_transform, t, args) for _, t, args in items]
        for (name, t, args), fut in zip(items, futures):
            assert same(fut.result(timeout=120), t(*args)), name


# --- chunk, messages, inapplicable options, ragged outputs (defect 13) -----------

@pytest.mark.parametrize("chunk", [1, 2, 3, 4, 2 ** 63 - 1, 2 ** 70])
def test_any_positive_chunk_works(chunk):
    x = np.array([0.3, -0.7, 1.1])
    np.testing.assert_allclose(dfd.grad(quartic, method="dual", chunk=chunk)(x),
                               quartic_grad(x), rtol=1e-14)
    np.testing.assert_allclose(dfd.hessian(quartic, chunk=chunk)(x),
                               np.diag(12 * x ** 2), rtol=1e-8)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_non_finite_message_names_the_stencil_point():
    f = lambda x: np.stack([x[0], x[1], np.log(x[0] - 1.0)])
    x = np.array([1.0, 2.0])
    with pytest.raises(ValueError, match=r"^f returned a non-finite value \(-inf\) at f\[2\] "
                                         r"when evaluated at x; pass check_finite=False"):
        dfd.jacobian(f, method="forward")(x)
    x = np.array([1.0 + 1e-9, 2.0])
    for vectorized in (False, True):
        with pytest.raises(ValueError, match=r"^f returned a non-finite value \(nan\) at "
                                             r"f\[2\] when evaluated at x - h\*e\[0\] "
                                             r"\(h = 6\.06e-06\); pass check_finite=False "
                                             r"to allow it$"):
            dfd.jacobian(f, vectorized=vectorized)(x)
    # at the upper bound: the one-sided x - h, x - 2h (h = 6.06e-06)
    with pytest.raises(ValueError, match=r"when evaluated at x - 2\*h\*e\[1, 0\] "
                                         r"\(h = 6\.06e-06\)"):
        dfd.jacobian(lambda x: np.log(x[1, 0] - 1.0 + 9e-6), method="central",
                     bounds=(-np.inf, np.array([[5.0], [1.0]])))(np.array([[0.0], [1.0]]))
    with pytest.raises(ValueError, match=r"when evaluated at x \+ h \(h = 6\.06e-06\)"):
        dfd.grad(lambda x: np.log(1.0 - x))(1.0 - 6e-6)
    with pytest.raises(ValueError, match=r"non-finite value \(nan\) at f\[0\] when evaluated "
                                         r"at x \+ 0\.001\*v; pass check_finite=False"):
        dfd.jvp(lambda x: np.log(1.0 - x), step=1e-3)(np.array([0.9995]), np.array([1.0]))


def test_vectorized_with_method_dual_raises():
    for make in (dfd.grad, dfd.jacobian, dfd.value_and_grad, dfd.hessian):
        with pytest.raises(ValueError, match="vectorized applies to"):
            make(sumsq, method="dual", vectorized=True)


@pytest.mark.parametrize("ret, match", [
    ([1.0, [1, 2]], r"f must return numbers \(a float or an array of real numbers\); it "
                    r"returned list \[1\.0, \[1, 2\]\], which NumPy cannot make into an array"),
    (None, r"f must return numbers .*; it returned NoneType None$"),
    ("abc", r"it returned str 'abc'$"),
    (np.array([1.0, None], dtype=object), r"it returned ndarray .* of dtype object"),
])
def test_bad_outputs_are_named_on_every_fd_path(ret, match):
    f = lambda x: ret
    x = np.array([1.0, 2.0])
    calls = [lambda: dfd.jacobian(f)(x), lambda: dfd.jacobian(f, vectorized=True)(x),
             lambda: dfd.jvp(f)(x, x), lambda: dfd.hessian(f, method="central")(x),
             lambda: dfd.hessian(f, method="central", vectorized=True)(x),
             lambda: dfd.check_grad(f, lambda z: z, x)]
    for call in calls:
        with pytest.raises(TypeError, match=match):
            call()


def test_check_grad_names_a_ragged_g():
    with pytest.raises(TypeError, match=r"check_grad: g must return numbers .* it returned "
                                        r"list \[1\.0, \[2\.0, 3\.0\]\]"):
        dfd.check_grad(sumsq, lambda x: [1.0, [2.0, 3.0]], np.ones(2))


def test_options_are_private_copies_also_when_pickled():
    step, lb = np.array([1e-3, 1e-3]), np.array([0.0, 0.0])
    g = dfd.grad(f_bounded, step=step, bounds=(lb, 1.0))
    x = np.array([0.0, 0.5])
    expected = g(x)
    step[:] = 0.5
    lb[:] = -1.0
    for protocol in (0, pickle.HIGHEST_PROTOCOL):
        np.testing.assert_array_equal(pickle.loads(pickle.dumps(g, protocol))(x), expected)
    np.testing.assert_array_equal(g(x), expected)
    np.testing.assert_allclose(expected, [1.0, 1.0], rtol=1e-12)


def f_bounded(x):
    assert np.all(x >= 0.0), x    # lb as given when g was built
    return np.sum(x)


def test_the_c_driver_refuses_what_c_cannot_read():
    # fd_jacobian is the last stop before C: wrong sizes raise, other buffers convert
    with pytest.raises(ValueError, match="step has 1 entries; x has 3"):
        _fd.fd_jacobian(np.sum, np.ones(3), (), {}, 2, np.ones(1), None, None,
                        False, True, False, "central")
    _, J, _ = _fd.fd_jacobian(np.sum, np.ones(3).astype(">f8"), (), {}, 2, None,
                              misaligned([0.0, 0.0, 0.0], ">f8"), np.full(3, 1.0),
                              False, True, False, "central")
    np.testing.assert_allclose(J, np.ones(3), rtol=1e-10)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("vectorized", [False, True])
def test_hessian_names_its_stencil_point(vectorized):
    f = lambda x: np.log(x[0]) + x[1]
    with pytest.raises(ValueError, match=r"^f returned a non-finite value \(nan\) when "
                                         r"evaluated at x - h0\*e\[0\] \(h0 = 0\.000122\); "
                                         r"pass check_finite=False to allow it$"):
        dfd.hessian(f, method="central", vectorized=vectorized)(np.array([1e-5, 1.0]))
    with pytest.raises(ValueError, match=r"evaluated at x - h \(h = 0\.000122\)"):
        dfd.hessian(np.log, method="central", vectorized=vectorized)(1e-5)


def test_object_arrays_get_a_hint():
    with pytest.raises(TypeError, match=r"x must hold real numbers; got dtype object "
                                        r"\(np.asarray\(x, dtype=float\) converts"):
        dfd.grad(sumsq)(np.array([1.0, 2.0], dtype=object))
    with pytest.raises(TypeError, match=r"of dtype object \(return np.asarray\(\.\.\., "
                                        r"dtype=float\) if it holds numbers\)"):
        dfd.grad(lambda x: np.array(np.sum(x), dtype=object))(np.ones(2))


def test_bounds_mixing_pairs_and_arrays():
    x = np.array([0.5, 2.5])
    # minimize reads this as two pairs; (lb, ub) is another reading: ambiguous
    with pytest.raises(ValueError, match="ambiguous for x with 2 entries"):
        dfd.grad(sumsq, bounds=[(0, 1), np.array([2, 3])])(x)
    # three of them can only be pairs
    x3 = np.array([0.5, 2.5, 1.0])
    f = BoxRecorder(sumsq, [0, 2, 1], [1, 3, 1])
    g = dfd.grad(f, bounds=[(0, 1), np.array([2, 3]), (1, 1)], step=1e-3,
                 method="forward")
    with pytest.raises(ValueError, match=r"leave no room for a forward step around x\[2\]"):
        g(x3)
    with pytest.raises(TypeError, match="bounds must be a pair .lb, ub.*got ndarray"):
        dfd.grad(sumsq, bounds=np.array(1.0))
