"""The finite-difference engine: steps, stencils, modes, shapes and SciPy agreement."""

import numpy as np
import pytest
from scipy.optimize._numdiff import approx_derivative

import dualfd as dfd

EPS = np.finfo(float).eps
FD_METHODS = ["forward", "backward", "central", "complex"]
SCIPY_NAME = {"forward": "2-point", "central": "3-point", "complex": "cs"}


class Recorder:
    """Wraps f and records every point it is called with (copies)."""

    def __init__(self, f):
        self.f = f
        self.points = []

    def __call__(self, x, *args, **kwargs):
        self.points.append(np.array(x, copy=True))
        return self.f(x, *args, **kwargs)


def smooth(x):
    """R^3 -> R^2 with a known Jacobian."""
    return np.stack([np.sin(x[0]) * x[1] ** 2, np.exp(x[2] / 3) + x[0] * x[2]])


def smooth_jac(x):
    return np.array([[np.cos(x[0]) * x[1] ** 2, 2 * np.sin(x[0]) * x[1], 0.0],
                     [x[2], 0.0, np.exp(x[2] / 3) / 3 + x[0]]])


X3 = np.array([0.7, -1.3, 2.1])
BARS = {"forward": 2e-5, "backward": 2e-5, "central": 2e-6, "complex": 1e-12}


@pytest.mark.parametrize("vectorized", [False, True])
@pytest.mark.parametrize("method", FD_METHODS)
def test_smooth_jacobian_within_bar(method, vectorized):
    f = smooth
    if vectorized:
        f = smooth  # broadcasts over a trailing axis as written
    J = dfd.jacobian(f, method=method, vectorized=vectorized)(X3)
    exact = smooth_jac(X3)
    assert J.shape == (2, 3)
    assert np.max(np.abs(J - exact)) / max(1, np.max(np.abs(exact))) <= BARS[method]


@pytest.mark.parametrize("method", FD_METHODS)
def test_loop_and_vectorized_agree_exactly(method):
    """Same points, same quotients: both modes give bit-identical Jacobians."""
    J1 = dfd.jacobian(smooth, method=method)(X3)
    J2 = dfd.jacobian(smooth, method=method, vectorized=True)(X3)
    np.testing.assert_array_equal(J1, J2)


@pytest.mark.parametrize("method", ["forward", "central", "complex"])
@pytest.mark.parametrize("x", [X3, np.array([1e-8, -3e4, 0.0]), np.array([5.0, 1e8, -2.0])])
def test_agrees_with_scipy_same_step(method, x):
    rng = np.random.default_rng(0)
    h = np.abs(x) * 1e-6 + 1e-5 if method != "complex" else np.full(3, 1e-20)
    h = h * (1 + 0.1 * rng.random(3))
    ours = dfd.jacobian(smooth, method=method, step=h)(x)
    ref = approx_derivative(smooth, x, method=SCIPY_NAME[method], abs_step=h)
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-9 * np.max(np.abs(ref)))


@pytest.mark.parametrize("method", ["forward", "central"])
def test_default_step_agrees_with_scipy(method):
    # SciPy takes h = rstep * sign(x) * max(1, |x|); with x > 0 the points coincide.
    x = np.array([0.3, 2.0, 17.0])
    ours = dfd.jacobian(smooth, method=method)(x)
    ref = approx_derivative(smooth, x, method=SCIPY_NAME[method])
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-12)


# --- steps -----------------------------------------------------------------

def displacements(points, x):
    """For each recorded point, (coordinate, displacement); asserts one coordinate moved."""
    out = []
    for p in points:
        d = p.reshape(-1) - x.reshape(-1)
        moved = np.flatnonzero(d)
        assert moved.size <= 1, "a stencil point must move a single coordinate"
        if moved.size:
            out.append((int(moved[0]), d[moved[0]]))
    return out


@pytest.mark.parametrize("method,rstep", [("forward", EPS ** 0.5), ("backward", EPS ** 0.5),
                                          ("central", EPS ** (1 / 3))])
def test_default_step_rule_and_exactness(method, rstep):
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(size=5), 10.0 ** rng.uniform(-12, 12, 5)
                        * rng.choice([-1, 1], 5), [0.0, 1.0, -1.0, 3.0e-300]])
    rec = Recorder(lambda x: np.sum(x))
    dfd.grad(rec, method=method)(x)
    by_coord = {}
    for j, d in displacements(rec.points, x):
        by_coord.setdefault(j, []).append(d)
        xj = x[j]
        # the step is exact: the point differs from x by exactly d
        assert (xj + d) - xj == d
    for j, ds in by_coord.items():
        h = abs(ds[0])
        expected = rstep * max(1.0, abs(x[j]))
        assert h == pytest.approx(expected, rel=1e-7)
        if method == "central":
            assert sorted(ds) == [-h, h]
        else:
            assert ds == [h if method == "forward" else -h]


def test_complex_step_is_pure_imaginary_1e20():
    rec = Recorder(lambda x: np.sum(x ** 2))
    dfd.grad(rec, method="complex")(np.array([3.0, -2.0]))
    # the complex points come first; then the guard's two real points (along w)
    assert all(np.iscomplexobj(p) for p in rec.points[:2])
    assert not any(np.iscomplexobj(p) for p in rec.points[2:])
    np.testing.assert_array_equal(rec.points[0], [3.0 + 1e-20j, -2.0])
    np.testing.assert_array_equal(rec.points[1], [3.0, -2.0 + 1e-20j])


def test_user_step_scalar_and_array():
    x = np.array([1.0, 2.0])
    rec = Recorder(lambda x: x @ x)
    dfd.grad(rec, method="forward", step=1e-3)(x)
    # rounded to the exact step (x + h) - x, so 1e-3 up to an ulp of x
    assert [d for _, d in displacements(rec.points, x)] == [pytest.approx(1e-3, rel=1e-12)] * 2
    rec.points.clear()
    dfd.grad(rec, method="forward", step=[1e-3, 1e-4])(x)
    ds = [d for _, d in displacements(rec.points, x)]
    assert ds[0] == pytest.approx(1e-3) and ds[1] == pytest.approx(1e-4)


# --- bounds ------------------------------------------------------------------

def assert_inside(lb, ub):
    def check(x):
        assert np.all(x >= lb) and np.all(x <= ub), f"f evaluated outside bounds at {x}"
    return check


@pytest.mark.parametrize("method", ["forward", "backward", "central"])
def test_bounds_never_crossed_and_accurate(method):
    lb, ub = np.array([0.0, -1.0, 1.0]), np.array([1.0, 1.0, 1.0 + 1e-9 + 3e-5])
    x = np.array([1.0, -1.0, 1.0 + 1e-9])  # on the upper, lower, and a narrow box
    inside = assert_inside(lb, ub)

    def f(x):
        inside(x)
        return smooth(x)
    for vectorized in (False, True):
        if vectorized:
            def fv(X):
                for k in range(X.shape[-1]):
                    inside(X[..., k])
                return smooth(X)
            J = dfd.jacobian(fv, method=method, bounds=(lb, ub), vectorized=True)(x)
        else:
            J = dfd.jacobian(f, method=method, bounds=(lb, ub))(x)
        exact = smooth_jac(x)
        assert np.max(np.abs(J - exact)) / max(1, np.max(np.abs(exact))) <= BARS[method]


def test_central_near_bound_uses_second_order_one_sided():
    # f = x^3 at x = 1 with ub = 1: forward would have error ~3h, the 3-point
    # one-sided stencil ~2h^2 (h ~ 6e-6), far below the forward error.
    f = lambda x: x[0] ** 3
    g = dfd.grad(f, method="central", bounds=(0.0, 1.0))(np.array([1.0]))
    assert abs(g[0] - 3.0) < 1e-8
    rec = Recorder(f)
    dfd.grad(rec, method="central", bounds=(0.0, 1.0))(np.array([1.0]))
    ds = sorted(d for _, d in displacements(rec.points, np.array([1.0])))
    assert ds[0] == 2 * ds[1] and ds[1] < 0  # points x - 2h, x - h


def test_bounds_without_room_raise():
    with pytest.raises(ValueError, match="no room"):
        dfd.grad(lambda x: x @ x, bounds=([1.0, 0.0], [1.0, 1.0]))(np.array([1.0, 0.5]))


def test_x_outside_bounds_raises():
    with pytest.raises(ValueError, match=r"x\[1\] = 2.0 lies outside bounds"):
        dfd.grad(lambda x: x @ x, bounds=(0, 1))(np.array([0.5, 2.0]))
    with pytest.raises(ValueError, match="outside bounds"):
        dfd.grad(lambda x: x @ x, method="dual", bounds=(0, 1))(np.array([0.5, 2.0]))


# --- shapes and types --------------------------------------------------------

def test_scalar_x_gives_float():
    g = dfd.grad(np.sin)(1.0)
    assert type(g) is float and g == pytest.approx(np.cos(1.0), rel=1e-9)
    assert type(dfd.jacobian(np.sin, method="complex")(2)) is float
    vg = dfd.value_and_grad(np.exp, method="forward")(0.0)
    assert vg[0] == 1.0 and vg[1] == pytest.approx(1.0, rel=1e-7)


def test_vector_output_of_scalar_x():
    J = dfd.jacobian(lambda t: np.stack([t, t ** 2, np.sin(t)]), method="complex")(0.5)
    np.testing.assert_allclose(J, [1.0, 1.0, np.cos(0.5)], rtol=1e-14)
    assert J.shape == (3,)


def test_integer_x_accepted():
    np.testing.assert_allclose(dfd.grad(lambda x: x @ x)([1, 2, 3]), [2, 4, 6], rtol=1e-9)


@pytest.mark.parametrize("xshape", [(), (1,), (2, 3), (2, 1, 2)])
@pytest.mark.parametrize("fshape", [(), (1,), (3,), (2, 2)])
@pytest.mark.parametrize("method", FD_METHODS)
def test_shapes_and_linear_maps(xshape, fshape, method):
    """A linear map's Jacobian is its matrix, shaped f.shape + x.shape."""
    rng = np.random.default_rng(2)
    n, m = int(np.prod(xshape)), int(np.prod(fshape))
    A = rng.normal(size=(m, n))
    x = rng.normal(size=xshape)
    f = lambda x: (A @ np.reshape(x, n)).reshape(fshape)
    for vectorized in (False, True):
        fv = (lambda X: (A @ X.reshape(n, -1)).reshape(fshape + X.shape[-1:])) \
            if vectorized else f
        J = dfd.jacobian(fv, method=method, vectorized=vectorized)(x)
        assert J.shape == fshape + xshape
        tol = 1e-14 if method == "complex" else 1e-6
        np.testing.assert_allclose(J.reshape(m, n), A, rtol=tol, atol=tol)


def test_empty_x():
    J = dfd.jacobian(lambda x: np.stack([np.sum(x), 1.0]))(np.zeros(0))
    assert J.shape == (2, 0)


def test_caller_x_unchanged_and_f_gets_fresh_arrays():
    x = np.array([1.0, 2.0, 3.0])
    x_ro = x.copy()
    x_ro.flags.writeable = False
    kept = []

    def f(z):
        kept.append((z, z.copy()))
        return np.sum(z ** 2)
    def fv(Z):
        kept.append((Z, Z.copy()))
        return np.sum(Z ** 2, axis=0)
    for method in FD_METHODS:
        dfd.value_and_grad(f, method=method)(x_ro)
        dfd.grad(fv, method=method, vectorized=True)(x_ro)
    np.testing.assert_array_equal(x_ro, x)
    for z, snapshot in kept:  # nothing f kept was changed after the call
        np.testing.assert_array_equal(z, snapshot)


def test_args_and_kwargs_reach_f():
    f = lambda x, a, scale=1.0: scale * np.sum((x - a) ** 2)
    g = dfd.grad(f)(np.array([1.0, 2.0]), np.array([0.0, 1.0]), scale=3.0)
    np.testing.assert_allclose(g, [6.0, 6.0], rtol=1e-8)


# --- evaluation counts -------------------------------------------------------

@pytest.mark.parametrize("method,count,with_value", [
    ("forward", 4, 4), ("backward", 4, 4), ("central", 6, 7),
    ("complex", 5, 6)])      # n complex calls + the guard's 2 real ones (+ f(x))
def test_evaluation_counts(method, count, with_value):
    rec = Recorder(lambda x: np.sum(x ** 2))
    x = np.array([1.0, 2.0, 3.0])
    dfd.grad(rec, method=method)(x)
    assert len(rec.points) == count
    rec.points.clear()
    v, g = dfd.value_and_grad(rec, method=method)(x)
    assert len(rec.points) == with_value  # f(x) reused where the stencil has it
    assert v == 14.0
    vrec = Recorder(lambda X: np.sum(X ** 2, axis=0))
    dfd.value_and_grad(vrec, method=method, vectorized=True)(x)
    # every point, f(x) included, in one call; the complex guard's real points in one more
    assert len(vrec.points) == (2 if method == "complex" else 1)


# --- jvp ---------------------------------------------------------------------

@pytest.mark.parametrize("method", FD_METHODS)
def test_jvp_matches_jacobian(method):
    v = np.array([0.3, -1.0, 2.0])
    value, jv = dfd.jvp(smooth, method=method)(X3, v)
    np.testing.assert_allclose(value, smooth(X3), rtol=1e-15)
    tol = {"complex": 1e-13, "central": 1e-8}.get(method, 1e-6)
    np.testing.assert_allclose(jv, smooth_jac(X3) @ v, rtol=tol, atol=tol)


@pytest.mark.parametrize("method", FD_METHODS + ["dual"])
def test_jvp_x_outside_bounds_raises_before_calling_f(method):
    def f(x):
        raise AssertionError("f called outside its bounds")
    with pytest.raises(ValueError, match=r"x\[1\] = 2.0 lies outside bounds \[0.0, 1.0\]"):
        dfd.jvp(f, method=method, bounds=(0, 1))(np.array([0.5, 2.0]), np.ones(2))


def test_jvp_zero_direction_and_shape_error():
    value, jv = dfd.jvp(smooth)(X3, np.zeros(3))
    np.testing.assert_array_equal(jv, np.zeros(2))
    with pytest.raises(ValueError, match="v must have x's shape"):
        dfd.jvp(smooth)(X3, np.zeros(2))


# --- errors ------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,match", [
    (dict(method="fwd"), "method must be one of 'central', 'forward'"),
    (dict(step=-1.0), "step must be finite and positive"),
    (dict(step=np.nan), "step must be finite and positive"),
    (dict(step="big"), "step must be a positive float"),
    (dict(bounds=(0, 1, 2)), r"bounds must be a pair \(lb, ub\)"),
    (dict(bounds=(1.0, 0.0)), "lb must not exceed ub"),
    (dict(bounds=(np.nan, 1.0)), "must not contain nan"),
    (dict(vectorized="yes"), "vectorized must be True or False"),
    (dict(check_finite=None), "check_finite must be True or False"),
    (dict(chunk=4), "chunk applies to method='dual'"),
    (dict(method="dual", chunk=0), "chunk must be a positive integer"),
    (dict(method="dual", step=1e-3), "step does not apply to method='dual'"),
])
def test_bad_options(kwargs, match):
    exc = TypeError if kwargs.get("step") == "big" else ValueError
    with pytest.raises(exc, match=match):
        dfd.jacobian(smooth, **kwargs)


def test_unknown_option_is_a_type_error():
    with pytest.raises(TypeError, match="unexpected keyword argument 'stepsize'"):
        dfd.grad(smooth, stepsize=1e-3)


def test_f_must_be_callable():
    with pytest.raises(TypeError, match="f must be callable"):
        dfd.grad(3.0)


def test_bad_x():
    with pytest.raises(TypeError, match="x must hold real numbers; got dtype complex128"):
        dfd.grad(np.sum)(np.array([1j]))
    with pytest.raises(TypeError, match="x must hold real numbers"):
        dfd.grad(np.sum)(["a", "b"])
    with pytest.raises(ValueError, match=r"x must be finite; x\[1\] = nan"):
        dfd.grad(np.sum)(np.array([1.0, np.nan]))


def test_step_and_bounds_must_broadcast():
    with pytest.raises(ValueError, match="step has shape .3,., which does not broadcast"):
        dfd.grad(np.sum, step=[1e-3] * 3)(np.ones(2))
    with pytest.raises(ValueError, match=r"bounds\[0\] .* does not broadcast"):
        dfd.grad(np.sum, bounds=([0] * 3, 5))(np.ones(2))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_non_finite_f_named():
    f = lambda x: np.stack([x[0], np.log(x[1])])
    x = np.array([1.0, 1e-7])  # x[1] - h < 0: log gives nan there only
    with pytest.raises(ValueError, match=r"non-finite value \(nan\) at f\[1\] when "
                                         r"evaluated at x - h\*e\[1\] \(h = 6\.06e-06\)"):
        dfd.jacobian(f)(x)
    J = dfd.jacobian(f, check_finite=False)(x)
    assert np.isnan(J[1, 1])
    with pytest.raises(ValueError, match=r"non-finite value \(nan\) at f\[1\] when "
                                         r"evaluated at x - h\*e\[1\] \(h = 6\.06e-06\)"):
        dfd.jacobian(f, vectorized=True)(x)


def test_shape_change_between_calls():
    f = lambda x: np.zeros(2) if x[0] > 1 else np.zeros(3)
    with pytest.raises(ValueError, match=r"f returned shape \(2,\) at one point and \(3,\)"):
        dfd.jacobian(f, method="forward")(np.array([1.0, 1.0]))


def test_non_numeric_output():
    with pytest.raises(TypeError, match="f must return numbers"):
        dfd.grad(lambda x: "no")(np.ones(2))
    with pytest.raises(TypeError, match="f must return numbers"):
        dfd.grad(lambda x: {"a": 1})(np.ones(2))


def test_complex_step_through_real_function():
    with pytest.raises(TypeError, match="drops the imaginary part"):
        dfd.grad(lambda x: np.sum(np.abs(x)), method="complex")(np.ones(2))
    with pytest.raises(TypeError, match="drops the imaginary part"):
        dfd.grad(lambda x: float(np.real(x[0])), method="complex")(np.ones(2))


def test_grad_needs_scalar():
    with pytest.raises(ValueError, match=r"grad needs f to return a scalar; it returned shape \(2,\)"):
        dfd.grad(smooth)(X3)


def test_vectorized_wrong_output_shape():
    with pytest.raises(ValueError, match="vectorized=True: f must accept x with a trailing axis"):
        dfd.grad(lambda x: np.sum(x), vectorized=True)(np.ones(3))


def test_exceptions_from_f_propagate_unchanged():
    class Boom(Exception):
        pass

    def f(x):
        raise Boom("inside f")
    for method in FD_METHODS:
        for vec in (False, True):
            with pytest.raises(Boom, match="inside f"):
                dfd.grad(f, method=method, vectorized=vec)(np.ones(2))


# --- resources ---------------------------------------------------------------

def test_repeated_calls_do_not_leak():
    import tracemalloc
    g = dfd.grad(lambda x: x[0] ** 2 * x[1])
    J = dfd.jacobian(smooth, method="complex", vectorized=True)
    x = np.array([1.0, 2.0])
    for _ in range(2000):  # warm caches
        g(x)
        J(X3)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(100_000):
        g(x)
    for _ in range(10_000):
        J(X3)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert after - before < 64_000, f"memory grew by {after - before} bytes"


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_error_paths_do_not_leak():
    import tracemalloc
    bad = dfd.grad(lambda x: np.log(x[0] - 1.0))
    x = np.array([1.0, 2.0])

    def run(k):
        for _ in range(k):
            try:
                bad(x)
            except ValueError:
                pass
    tracemalloc.start()
    run(20_000)  # warm-up: NumPy's warning machinery fills a cache once
    before = tracemalloc.get_traced_memory()[0]
    run(20_000)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert after - before < 64_000


def test_threads_give_identical_results():
    from concurrent.futures import ThreadPoolExecutor
    x = np.linspace(-1, 1, 300)
    f = lambda X: np.sin(X) * np.cos(X[::-1])
    J = dfd.jacobian(f, vectorized=True)
    ref = J(x)
    with ThreadPoolExecutor(4) as pool:
        for out in pool.map(lambda _: J(x), range(16)):
            np.testing.assert_array_equal(out, ref)


def test_transformations_pickle():
    import pickle
    x = np.array([0.3, 1.2])
    for make in (dfd.grad, dfd.jacobian, dfd.value_and_grad):
        t = make(np.sum, method="forward", bounds=(0, 2))
        t2 = pickle.loads(pickle.dumps(t))
        assert repr(t2) == repr(t)
        np.testing.assert_array_equal(t2(x) if make is not dfd.value_and_grad else t2(x)[1],
                                      t(x) if make is not dfd.value_and_grad else t(x)[1])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_check_finite_applies_to_dual_outputs():
    x = np.array([0.0, 1.0])
    with pytest.raises(ValueError, match=r"d f\[0\] / d x\[0\] is inf: f is not differentiable"):
        dfd.jacobian(lambda x: np.sqrt(x), method="dual")(x)
    with pytest.raises(ValueError, match=r"non-finite value \(-inf\) at f\[0\]"):
        dfd.jacobian(lambda x: np.log(x), method="dual")(x)
    with pytest.raises(ValueError, match="directional derivative of f"):
        dfd.jvp(lambda x: np.sqrt(x), method="dual")(x, np.ones(2))
    J = dfd.jacobian(lambda x: np.sqrt(x), method="dual", check_finite=False)(x)
    assert np.isinf(J[0, 0]) and J[1, 1] == 0.5


@pytest.mark.parametrize("method", FD_METHODS)
def test_tall_outputs(method):
    """m >= 256 fills J column-major (see _fd._alloc); values and shape are the same."""
    rng = np.random.default_rng(3)
    A = rng.normal(size=(300, 6))
    f = lambda x: np.sin(A @ x.reshape(-1)).reshape(3, 100)
    x = rng.normal(size=(2, 3))
    exact = (np.cos(A @ x.reshape(-1))[:, None] * A).reshape(3, 100, 2, 3)
    J = dfd.jacobian(f, method=method)(x)
    assert J.shape == (3, 100, 2, 3)
    np.testing.assert_allclose(J, exact, rtol=0, atol=BARS[method] * 10)
    # BLAS rounds A @ X (gemm) and A @ x (gemv) differently: equal to the bar only
    fv = lambda X: np.sin(A @ X.reshape(6, -1)).reshape(3, 100, -1)
    np.testing.assert_allclose(J, dfd.jacobian(fv, method=method, vectorized=True)(x),
                               rtol=0, atol=BARS[method] * 10)
    if method != "complex":  # one-sided stencils at a bound, in the same layout
        Jb = dfd.jacobian(f, method=method, bounds=(x, np.inf))(x)
        np.testing.assert_allclose(Jb, exact, rtol=0, atol=BARS[method] * 10)
