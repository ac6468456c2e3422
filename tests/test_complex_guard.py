"""method='complex' detects f that is not complex-analytic and raises.

References: analytic Jacobians of the More-Garbow-Hillstrom problems (no false alarm
and the right answer), hand-written derivatives of piecewise functions away from
their kinks, and the columns each non-analytic construct touches by construction
(the message must name exactly those)."""

import re
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import dualfd as dfd
from dualfd._complex_guard import NonAnalyticError

import problems

X = np.array([0.7, -1.3, 2.1])


class Recorder:
    """f with a copy of every point it is called with."""

    def __init__(self, f):
        self.f, self.points = f, []

    def __call__(self, x, *args, **kwargs):
        self.points.append(np.array(x, copy=True))
        return self.f(x, *args, **kwargs)


def _buffer(x):
    b = np.empty(x[:2].shape)
    b[...] = x[:2]                     # ComplexWarning: the imaginary part is dropped
    return np.sum(b ** 2, axis=0) + np.sum(x ** 3, axis=0)


def _branch(x):
    return (x[0] if x[0].real > 0 else -x[0]) + x[1] ** 2


# name -> (f, x, the columns f is non-analytic in at x, works on a batch (n, k))
# The piecewise constructs (maximum, where, branches) are evaluated at their kink:
# away from it the complex step is right (test_piecewise_away_from_kinks).
CONSTRUCTS = {
    "np.abs": (lambda x: np.sum(x ** 2, axis=0) + np.abs(x[1]), X, "column x[1]", True),
    "abs": (lambda x: np.sum(x ** 2, axis=0) + abs(x[2]) * x[0], X, "column x[2]", True),
    "np.sign": (lambda x: np.sum(x ** 2, axis=0) + np.sign(x[2]) * x[2] ** 2, X,
                "column x[2]", True),
    "np.maximum": (lambda x: np.sum(np.maximum(x, 0.0), axis=0), np.array([0.0, 1.0, -1.0]),
                   "column x[0]", True),
    "np.minimum": (lambda x: np.sum(np.minimum(x, 1.0), axis=0), np.array([0.5, 1.0, 2.0]),
                   "column x[1]", True),
    "np.fmax": (lambda x: np.sum(np.fmax(x, 0.5) * x[0], axis=0), np.array([1.5, 2.0, 0.5]),
                "column x[2]", True),
    "branch": (_branch, np.array([0.0, 1.0]), "column x[0]", False),
    "np.where": (lambda x: np.sum(np.where(x > 0, x, -x) + x ** 2, axis=0),
                 np.array([1.0, 0.0, -1.0]), "column x[1]", True),
    "buffer": (_buffer, X, "columns x[0], x[1]", True),
    ".real": (lambda x: x[0].real ** 2 + np.sum(x ** 2, axis=0), X, "column x[0]", True),
    "np.real_if_close": (lambda x: x[0] * x[2] + np.sum(np.real_if_close(x[1:2]) ** 3, axis=0),
                         X, "column x[1]", True),
    "norm": (lambda x: np.sum(x ** 2, axis=0) + np.linalg.norm(x[:2], axis=0), X,
             "columns x[0], x[1]", True),
    "np.conj": (lambda x: x[2] * np.conj(x[2]) + x[0] * x[1], X, "column x[2]", True),
}


@pytest.mark.parametrize("vectorized", [False, True])
@pytest.mark.parametrize("name", list(CONSTRUCTS))
def test_constructs_raise_naming_the_columns(name, vectorized):
    f, x, columns, batch = CONSTRUCTS[name]
    if vectorized and not batch:
        pytest.skip("a scalar branch cannot take a batch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
        with pytest.raises(NonAnalyticError,
                           match="disagrees with real differences in "
                                 + re.escape(columns)
                                 + ":.*Use method='dual' or method='central'"):
            dfd.grad(f, method="complex", vectorized=vectorized)(x)


def test_error_is_a_value_error_and_names_the_entry():
    f = CONSTRUCTS["np.abs"][0]
    with pytest.raises(ValueError, match=r"d f / d x\[1\] is -2\.6 by the complex step "
                                         r"but -3\.6 by central differences"):
        dfd.grad(f, method="complex")(X)


def test_complex_warning_is_quoted_with_its_line():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
        with pytest.raises(NonAnalyticError,
                           match=r'NumPy warned "Casting complex values to real discards '
                                 r'the imaginary part" at .*test_complex_guard\.py:\d+'):
            dfd.grad(_buffer, method="complex")(X)


def test_warning_filters_are_left_alone():
    """The guard never installs a filter on the success path and restores the
    list after its failure path (catch_warnings is process-wide)."""
    before = list(warnings.filters)
    dfd.grad(lambda x: np.sum(np.sin(x)), method="complex")(X)
    assert warnings.filters == before
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
        inner = list(warnings.filters)
        with pytest.raises(NonAnalyticError):
            dfd.grad(_buffer, method="complex")(X)
        assert warnings.filters == inner


def test_threads():
    """The guard keeps no state between calls, and its failure path leaves the
    warning filters as they were when several threads take it at once."""
    from concurrent.futures import ThreadPoolExecutor
    good = lambda x: np.stack([np.sin(x[0]) * x[1], np.exp(x[2])])  # noqa: E731
    exact = np.array([[np.cos(X[0]) * X[1], np.sin(X[0]), 0.0], [0.0, 0.0, np.exp(X[2])]])
    before = list(warnings.filters)

    def one(k):
        if k % 2:
            with pytest.raises(NonAnalyticError, match=r"columns x\[0\], x\[1\]"):
                dfd.grad(_buffer, method="complex")(X)
            return None
        return dfd.jacobian(good, method="complex")(X)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
        inner = list(warnings.filters)
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(one, range(40)))
        assert warnings.filters == inner
    assert warnings.filters == before
    for J in results[::2]:
        np.testing.assert_allclose(J, exact, rtol=1e-14)


def test_scalar_and_nd_x():
    with pytest.raises(NonAnalyticError, match=r"real differences in x: d f / d x is 1 "):
        dfd.grad(lambda x: x * x + np.abs(x), method="complex")(0.5)
    with pytest.raises(NonAnalyticError, match=r"in column x\[1, 0\]: d f / d x\[1, 0\]"):
        dfd.grad(lambda x: np.sum(x ** 2) + np.abs(x[1, 0]), method="complex")(
            np.array([[1.0, 2.0], [3.0, 4.0]]))


def test_many_columns_are_abbreviated():
    x = np.linspace(1.0, 2.0, 12)
    with pytest.raises(NonAnalyticError, match=r"columns x\[0\], x\[1\], .*x\[7\] and 4 more:"):
        dfd.grad(lambda x: np.sum(np.abs(x) * x[0]), method="complex")(x)


# --- what already failed before the guard, and real-valued f ------------------------

def test_real_output_for_complex_x_is_a_type_error():
    with pytest.raises(TypeError, match=r"method='complex' needs f to carry complex "
                                        r"numbers through, but f returned float64"):
        dfd.grad(lambda x: np.sum(np.abs(x)), method="complex")(X)
    with pytest.raises(TypeError, match="carry complex numbers through"):
        dfd.grad(lambda x: np.sum(np.abs(x), axis=0), method="complex", vectorized=True)(X)


def test_complex_values_for_real_x_are_a_type_error():
    """sqrt of a negative number: f is not real-valued, so the complex step
    would report its imaginary part as a derivative."""
    f = lambda x: np.sum(np.sqrt(x + 0j))   # noqa: E731
    with pytest.raises(TypeError, match=r"needs f real-valued for a real x, but f "
                                        r"returned complex values with a nonzero "
                                        r"imaginary part"):
        dfd.grad(f, method="complex")(np.array([-1.0, 2.0]))
    # where f is real on reals, complex arithmetic inside is fine
    g = dfd.grad(f, method="complex")(np.array([4.0, 9.0]))
    np.testing.assert_allclose(g, [0.25, 1.0 / 6.0], rtol=1e-15)


# --- no false alarms -------------------------------------------------------------------

def _points():
    rng = np.random.default_rng(7)
    out = []
    for p in problems.PROBLEMS:
        out.append((p, p.x0))
        out.extend((p, x) for x in problems.perturbed_points(p, rng, 2))
    out.extend(problems.scaled_points())
    return out


POINTS = _points()


def _assert_jacobian(J, exact):
    scale = np.maximum(np.max(np.abs(exact), axis=1, keepdims=True), 1e-300)
    assert np.max(np.abs(J - exact) / scale) <= 1e-12


@pytest.mark.parametrize("vectorized", [False, True])
@pytest.mark.parametrize("k", range(len(POINTS)), ids=lambda k: POINTS[k][0].name + f"-{k}")
def test_mgh_no_false_alarm(k, vectorized):
    p, x = POINTS[k]
    J = dfd.jacobian(p.residual, method="complex", vectorized=vectorized)(x)
    _assert_jacobian(J, p.jacobian(x))


@pytest.mark.parametrize("where", ["lb", "ub", "box"])
@pytest.mark.parametrize("vectorized", [False, True])
def test_mgh_with_bounds_no_false_alarm_and_stays_inside(vectorized, where):
    for p in problems.PROBLEMS:
        x = p.x0
        s = np.maximum(1.0, np.abs(x))
        lb, ub = {"lb": (x, x + s), "ub": (x - s, x),
                  "box": (x - 1e-6 * s, x + 1e-6 * s)}[where]
        rec = Recorder(p.residual)
        J = dfd.jacobian(rec, method="complex", vectorized=vectorized, bounds=(lb, ub))(x)
        _assert_jacobian(J, p.jacobian(x))
        for pt in rec.points:
            r = np.real(pt) if pt.ndim == 1 else np.real(pt).T
            assert np.all((lb <= r) & (r <= ub)), p.name


def test_mgh_minimizers_no_false_alarm():
    from scipy.optimize import least_squares
    for p in problems.PROBLEMS:
        x = least_squares(p.residual, p.x0, jac=p.jacobian, method="lm", xtol=1e-15,
                          ftol=1e-15, gtol=1e-15, max_nfev=200).x
        J = dfd.jacobian(p.residual, method="complex")(x)
        _assert_jacobian(J, p.jacobian(x))


@pytest.mark.parametrize("bounds", [None, "lb", "ub"])
@pytest.mark.parametrize("k", range(0, len(POINTS), 3))
def test_mgh_jvp_no_false_alarm(k, bounds):
    p, x = POINTS[k]
    v = np.random.default_rng(k).standard_normal(p.n)
    s = np.maximum(1.0, np.abs(x))
    b = {None: None, "lb": (x, x + s), "ub": (x - s, x)}[bounds]
    _, Jv = dfd.jvp(p.residual, method="complex", bounds=b)(x, v)
    exact = p.jacobian(x) @ v
    scale = np.abs(p.jacobian(x)) @ np.abs(v)
    assert np.all(np.abs(Jv - exact) <= 1e-12 * np.maximum(scale, 1e-300))


UNARY = [np.sin, np.cos, np.tanh, np.arctan, lambda a: np.exp(0.5 * a),
         lambda a: np.sqrt(1.0 + a * a), lambda a: np.log1p(a * a), lambda a: a ** 3,
         lambda a: 1.0 / (2.0 + np.sin(a)), np.sinh, lambda a: 1e-6 * a]
BINARY = [np.add, np.subtract, np.multiply, lambda a, b: a / (1.5 + b * b),
          lambda a, b: a * np.cos(b), lambda a, b: a * a + b]


@settings(max_examples=60, deadline=None)
@given(prog=st.lists(st.tuples(st.booleans(), st.integers(0, 10), st.integers(0, 100),
                               st.integers(0, 100)), min_size=1, max_size=8),
       x=st.lists(st.floats(-3, 3), min_size=3, max_size=3),
       scale=st.sampled_from([1e-8, 1e-3, 1.0, 1e3]))
def test_random_analytic_compositions_no_false_alarm(prog, x, scale):
    """Analytic code at any point and scale: the dual numbers' Jacobian (an
    independent engine), or an alarm only where the plain complex step is
    wrong (NumPy's complex functions lose accuracy: log1p(z) as log(1 + z)
    drops 1e-16 next to 1, so tiny derivatives come out 0)."""
    def f(x):
        vals = [x[0], x[1], x[2]]
        for unary, op, i, j in prog:
            a, b = vals[i % len(vals)], vals[j % len(vals)]
            vals.append(UNARY[op % len(UNARY)](a) if unary else BINARY[op % len(BINARY)](a, b))
        return np.stack(vals[-3:]) + 0.0 * x
    x0 = scale * np.array(x)
    with np.errstate(all="ignore"):
        Jd = dfd.jacobian(f, method="dual", check_finite=False)(x0)
        if not np.all(np.isfinite(Jd)) or np.max(np.abs(Jd)) > 1e150:
            return
        # the plain complex step, written out: Im f(x + ih e_j) / h
        raw = np.stack([f(x0 + 1e-20j * e).imag / 1e-20 for e in np.eye(3)], axis=1)
        try:
            Jc = dfd.jacobian(f, method="complex", check_finite=False)(x0)
        except NonAnalyticError:
            Jc = None
    if not np.all(np.isfinite(raw)):
        return   # complex overflow (sinh(1e3 + 1e-17j)); check_finite=True raises there
    row = np.max(np.abs(Jd), axis=1, keepdims=True)
    if Jc is None:   # a justified alarm: the complex step is off somewhere
        assert np.any(np.abs(raw - Jd) > 1e-8 * row)
        return
    # errors real differences cannot see: relative to the row, or to f's
    # rounding ~eps |f| / step (log1p(z) near 0).  (Huge arguments, sin(1e15 +
    # 1e-5j), lose ~1e-5 in NumPy's complex sin, unseen too: not generated.)
    fmax = float(np.max(np.abs(f(x0))))
    assert np.all(np.abs(Jc - Jd) <= 1e-5 * row + 1e-8 * max(1.0, fmax, np.max(np.abs(Jd))))


def test_zero_outputs_from_rounded_intermediates():
    """solve(A, A) is the identity up to ~1e-17: real differences of its zeros
    are rounding noise at the level of its largest value, not of 0."""
    A0 = np.array([[3.0, 1.0], [0.5, 2.0]])
    J = dfd.jacobian(lambda A: np.linalg.solve(A, A), method="complex")(A0)
    assert np.max(np.abs(J)) <= 1e-15


@pytest.mark.parametrize("vectorized", [False, True])
def test_piecewise_away_from_kinks(vectorized):
    """Comparisons and maximum order complex numbers by the real part first, so
    away from a kink they pick the same branch as for real x: no alarm, and the
    derivative of the branch taken."""
    x = np.array([0.7, -1.3, 2.1])
    cases = [
        (lambda x: np.sum(np.maximum(x, 0.0) ** 2, axis=0), 2 * np.maximum(x, 0.0)),
        (lambda x: np.sum(np.fmin(x, 1.0) * x, axis=0), np.where(x < 1, 2 * x, 1.0)),
        (lambda x: np.sum(np.where(x > 0, x ** 3, -x), axis=0),
         np.where(x > 0, 3 * x ** 2, -1.0)),
        (lambda x: np.sum(np.clip(x, -1.0, 1.0) * 2.0, axis=0),
         np.where(np.abs(x) < 1, 2.0, 0.0)),
    ]
    for f, g in cases:
        np.testing.assert_allclose(dfd.grad(f, method="complex", vectorized=vectorized)(x),
                                   g, rtol=1e-15)


@pytest.mark.parametrize("vectorized", [False, True])
def test_kink_within_a_step_is_not_an_alarm(vectorized):
    """np.maximum(x, 0) at x = 1e-7: the real step (~6e-6) straddles the kink,
    the complex step does not and is right; a shorter real step settles it."""
    x = np.array([1e-7, -3e-7, 2.0])
    f = lambda x: np.sum(np.maximum(x, 0.0) * (1.0 + x[2]), axis=0)   # noqa: E731
    g = dfd.grad(f, method="complex", vectorized=vectorized)(x)
    np.testing.assert_allclose(g, [3.0, 0.0, 1.0 + 1e-7 + 2.0 + 2.0], rtol=1e-15)
    _, d = dfd.jvp(f, method="complex")(x, np.array([1.0, 1.0, 0.0]))
    np.testing.assert_allclose(d, 3.0, rtol=1e-15)


@pytest.mark.parametrize("vectorized", [False, True])
def test_rounding_hidden_in_f_is_not_an_alarm(vectorized):
    """(x + 1e8) - 1e8 rounds x to 1.5e-8: real differences at ~6e-6 are off by
    ~1e-3 though f's values (~1) promise 1e-10; the complex step is right."""
    f = lambda x: np.stack([(x[0] + 1e8) - 1e8 + x[1] ** 2, x[0] * x[1]])  # noqa: E731
    x = np.array([0.3, 1.2])
    J = dfd.jacobian(f, method="complex", vectorized=vectorized)(x)
    np.testing.assert_allclose(J, [[1.0, 2.4], [1.2, 0.3]], rtol=1e-15)


def test_not_finite_nearby_is_not_an_alarm():
    """log at 1e-9: the real step of the check would leave f's domain on one
    side; the check goes one-sided instead."""
    x = np.array([1e-9, 2.0])
    g = dfd.grad(lambda x: np.sum(np.log(x)), method="complex")(x)
    np.testing.assert_allclose(g, 1.0 / x, rtol=1e-15)
    g = dfd.grad(lambda x: np.sum(np.log(x), axis=0), method="complex",
                 vectorized=True)(x)
    np.testing.assert_allclose(g, 1.0 / x, rtol=1e-15)


def test_check_finite_false_with_infinite_derivative():
    """sqrt at 0: the complex step's derivative is 1/(2 sqrt(0)) ~ huge and real
    differences are not finite on one side: neither is a non-analytic f."""
    f = lambda x: np.sum(np.sqrt(x))   # noqa: E731
    g = dfd.grad(f, method="complex", check_finite=False)(np.array([0.0, 4.0]))
    assert g[1] == 0.25


# --- cost and points -------------------------------------------------------------------

def test_extra_evaluations():
    """Two real points along one direction (one call in vectorized mode) when
    the check passes; the complex step's n points are unchanged."""
    rec = Recorder(lambda x: np.sum(np.sin(x) * x[0], axis=0))
    dfd.grad(rec, method="complex")(X)
    assert len(rec.points) == X.size + 2
    assert all(np.iscomplexobj(p) for p in rec.points[:3])
    assert not any(np.iscomplexobj(p) for p in rec.points[3:])
    d = rec.points[3] - rec.points[4]        # x + t w and x - t w
    assert np.all(np.abs(d) > 0) and np.allclose(rec.points[3] + rec.points[4], 2 * X)
    rec.points.clear()
    dfd.grad(rec, method="complex", vectorized=True)(X)
    assert len(rec.points) == 2 and rec.points[1].shape == (3, 2)


def test_caller_arrays_unchanged():
    x = X.copy()
    lb, ub = x - 1.0, x.copy()
    dfd.jacobian(lambda x: np.stack([x[0] * x[1], np.exp(x[2])]), method="complex",
                 bounds=(lb, ub))(x)
    np.testing.assert_array_equal(x, X)
    np.testing.assert_array_equal(ub, X)


@pytest.mark.parametrize("vectorized", [False, True])
def test_non_analytic_with_bounds(vectorized):
    """x on its upper bound: the check turns one-sided, stays inside, and still
    catches abs."""
    f = CONSTRUCTS["np.abs"][0]
    rec = Recorder(f)
    with pytest.raises(NonAnalyticError, match=r"in column x\[1\]:"):
        dfd.grad(rec, method="complex", vectorized=vectorized, bounds=(X - 1.0, X))(X)
    for p in rec.points:
        r = np.real(p) if p.ndim == 1 else np.real(p).T
        assert np.all(r <= X)


# --- every entry point with method='complex' --------------------------------------------

F_BAD = CONSTRUCTS["np.abs"][0]


def test_jacobian_and_value_and_grad():
    with pytest.raises(NonAnalyticError, match=r"in column x\[1\]"):
        dfd.jacobian(lambda x: np.stack([x[0] * x[2], np.abs(x[1]) + x[0]]),
                     method="complex")(X)
    with pytest.raises(NonAnalyticError, match=r"in column x\[1\]"):
        dfd.value_and_grad(F_BAD, method="complex")(X)
    v, g = dfd.value_and_grad(lambda x: np.sum(x ** 3), method="complex")(X)
    np.testing.assert_allclose(g, 3 * X ** 2, rtol=1e-15)


@pytest.mark.parametrize("bounds", [None, (X - 1.0, X), (X, X + 1.0)])
def test_jvp(bounds):
    v = np.array([0.3, -1.0, 2.0])
    # x on a bound, v pointing out on both sides: the check takes a direction near v
    where = "v" if bounds is None else "a direction near v within the bounds"
    with pytest.raises(NonAnalyticError, match=rf"along {where}: its complex step "
                                               r"disagrees .*f\[1\] changes at the rate"):
        dfd.jvp(lambda x: np.stack([x[0] * x[2], np.abs(x[1]) + x[0]]), method="complex",
                bounds=bounds)(X, v)
    f, J = (lambda x: np.stack([x[0] * x[2], np.sin(x[1]) + x[0]]),
            np.array([[X[2], 0.0, X[0]], [1.0, np.cos(X[1]), 0.0]]))
    rec = Recorder(f)
    _, Jv = dfd.jvp(rec, method="complex", bounds=bounds)(X, v)
    np.testing.assert_allclose(Jv, J @ v, rtol=1e-14)
    if bounds is not None:
        for p in rec.points:
            assert np.all((bounds[0] <= np.real(p)) & (np.real(p) <= bounds[1]))


def test_jvp_names_the_complex_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
        with pytest.raises(NonAnalyticError, match="NumPy warned"):
            dfd.jvp(_buffer, method="complex")(X, np.ones(3))


def test_check_grad():
    g = lambda x: 2 * x + np.array([0.0, np.sign(x[1]), 0.0])   # noqa: E731
    with pytest.raises(NonAnalyticError, match=r"in column x\[1\]"):
        dfd.check_grad(F_BAD, g, X, method="complex")
    assert dfd.check_grad(lambda x: np.sum(x ** 3), lambda x: 3 * x ** 2, X,
                          method="complex").ok


@pytest.mark.parametrize("vectorized", [False, True])
def test_hessian(vectorized):
    with pytest.raises(NonAnalyticError, match=r"in column x\[1\]"):
        dfd.hessian(lambda x: np.sum(x ** 3, axis=0) + np.abs(x[1]) * x[0],
                    method="complex", vectorized=vectorized)(X)
    H = dfd.hessian(lambda x: np.sum(x ** 3, axis=0), method="complex",
                    vectorized=vectorized)(X)
    np.testing.assert_allclose(H, np.diag(6 * X), rtol=1e-8)
