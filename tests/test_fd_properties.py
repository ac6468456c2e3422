"""Properties of the finite-difference engine that must hold for any input."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import dualfd as dfd

METHODS = ["forward", "backward", "central", "complex"]
shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3)
reals = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


@settings(max_examples=40, deadline=None)
@given(xshape=shapes, fshape=shapes, method=st.sampled_from(METHODS),
       vectorized=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_affine_maps_give_their_matrix(xshape, fshape, method, vectorized, seed):
    rng = np.random.default_rng(seed)
    n, m = int(np.prod(xshape)), int(np.prod(fshape))
    A, b = rng.normal(size=(m, n)), rng.normal(size=m)
    x = np.asarray(rng.normal(size=xshape) * 10)
    if vectorized:
        f = lambda X: (A @ X.reshape(n, -1) + b[:, None]).reshape(fshape + X.shape[-1:])
    else:
        f = lambda x: (A @ np.reshape(x, n) + b).reshape(fshape)
    J = dfd.jacobian(f, method=method, vectorized=vectorized)(x)
    assert J.shape == fshape + xshape
    # affine: truncation error is zero, only rounding remains
    tol = 1e-13 if method == "complex" else 1e-5
    np.testing.assert_allclose(J.reshape(m, n), A, rtol=tol, atol=tol)


@settings(max_examples=40, deadline=None)
@given(x=hnp.arrays(np.float64, shapes, elements=reals), method=st.sampled_from(METHODS))
def test_caller_x_is_never_modified(x, method):
    before = x.copy()
    dfd.value_and_grad(lambda z: np.sum(z ** 3), method=method)(x)
    dfd.jacobian(lambda z: z * 2.0, method=method, vectorized=True)(x)
    np.testing.assert_array_equal(x, before)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), method=st.sampled_from(["forward", "backward", "central"]),
       vectorized=st.booleans())
def test_bounds_are_never_crossed(data, method, vectorized):
    n = data.draw(st.integers(1, 4))
    lb = np.array(data.draw(st.lists(st.floats(-10, 10), min_size=n, max_size=n)))
    width = np.array(data.draw(st.lists(st.floats(1e-3, 10), min_size=n, max_size=n)))
    ub = lb + width
    frac = np.array(data.draw(st.lists(st.sampled_from([0.0, 1.0, 0.5, 1e-9, 1 - 1e-9]),
                                       min_size=n, max_size=n)))
    x = np.clip(lb + frac * width, lb, ub)

    def f(z):
        zz = z if not vectorized else z.T
        assert np.all(zz >= lb) and np.all(zz <= ub), "evaluated outside the bounds"
        return np.sum(np.sin(z) * np.arange(1, n + 1).reshape((n,) + (1,) * (z.ndim - 1)),
                      axis=0)
    g = dfd.grad(f, method=method, bounds=(lb, ub), vectorized=vectorized)(x)
    exact = np.cos(x) * np.arange(1, n + 1)
    tol = 2e-6 if method == "central" else 2e-5
    np.testing.assert_allclose(g, exact, rtol=0, atol=tol * max(1, n))


@settings(max_examples=60, deadline=None)
@given(x=hnp.arrays(np.float64, st.integers(1, 6),
                    elements=st.floats(-1e12, 1e12, allow_nan=False)),
       method=st.sampled_from(["forward", "backward", "central"]))
def test_stencil_points_move_one_coordinate_by_an_exact_step(x, method):
    points = []
    dfd.grad(lambda z: points.append(z.copy()) or 0.0, method=method)(x)
    for p in points:
        d = p - x
        moved = np.flatnonzero(d)
        assert moved.size <= 1
        for j in moved:
            assert (x[j] + d[j]) - x[j] == d[j]
