"""np.asarray(x) / np.array(x) at the top of f, arrays of Duals, Duals stored into
ndarrays: exact derivatives through NumPy's object arrays, or dualfd's own TypeError.

References: SciPy's analytic rosen_der, and complex step (SciPy's approx_derivative
with method='cs') for code that runs on complex arrays as written.
"""

import numpy as np
import pytest
from scipy.optimize import minimize, rosen, rosen_der, rosen_hess_prod
from scipy.optimize._numdiff import approx_derivative

import dualfd as dfd
from dualfd import Dual


@pytest.mark.parametrize("n", [2, 5, 40])
def test_scipy_rosen_exact(n):
    x = np.linspace(-1.2, 1.3, n)
    g = dfd.grad(rosen, method="dual")(x)
    np.testing.assert_allclose(g, rosen_der(x), rtol=1e-14, atol=1e-12)


def test_minimize_rosen_with_dual_gradient():
    x0 = np.array([-1.2, 1.0])
    r = minimize(rosen, x0, jac=dfd.grad(rosen, method="dual"), method="BFGS")
    assert r.success
    np.testing.assert_allclose(r.x, np.ones(2), atol=1e-5)


def test_hessian_of_rosen_through_asarray():
    x = np.array([-1.2, 1.0, 0.7])
    H = dfd.hessian(rosen, method="dual")(x)
    for i, e in enumerate(np.eye(3)):
        np.testing.assert_allclose(H[:, i], rosen_hess_prod(x, e), rtol=1e-8)


def _asarray_mix(x):
    x = np.asarray(x)
    y = np.sin(x) * np.exp(x[::-1]) + np.dot(x, x) - np.sqrt(x ** 2 + 1.0)
    y = y / (1.0 + np.arctan(x)) + np.log1p(x * x)
    return np.where(x > 0.4, y, 2.0 * y)


def _array_of_items(x):
    a = np.array([x[0] * x[1], x[1] ** 3, 2.0])      # a list of 0-d Duals and a float
    return a * np.array([1.0, 2.0, 3.0])


def _object_sum_and_matmul(x):
    a = np.asarray(x).reshape(2, 2)
    return np.sum(a @ a, axis=0) + a.sum()


def _branches_on_values(x):
    x = np.asarray(x)
    out = []
    for xi in x:
        out.append(xi ** 2 if xi > 0.5 else -xi)
    return np.array(out)


@pytest.mark.parametrize("f", [_asarray_mix, _array_of_items, _object_sum_and_matmul,
                               _branches_on_values], ids=lambda f: f.__name__)
def test_object_array_code_matches_complex_step(f):
    x = np.array([0.3, 0.7, 1.1, 0.45])
    J = dfd.jacobian(f, method="dual")(x)
    Jc = approx_derivative(f, x, method="cs")
    np.testing.assert_allclose(J, np.reshape(Jc, J.shape), rtol=1e-13, atol=1e-14)


def test_asarray_of_dual_is_an_object_array_of_views():
    d = Dual(np.array([1.0, 2.0, 3.0]), np.eye(3))
    a = np.asarray(d)
    assert a.dtype == object and a.shape == (3,)
    assert all(type(e) is Dual and e.shape == () and e.base is d for e in a)
    np.testing.assert_array_equal(a[1].tangent, [0.0, 1.0, 0.0])
    t = d.T.reshape(3)                            # 1-d: contiguous
    assert np.asarray(t)[2].value == 3.0
    s = Dual(np.arange(6.0).reshape(2, 3), np.ones((2, 3, 1))).T   # strided
    np.testing.assert_array_equal([e.value for e in np.asarray(s).ravel()],
                                  np.arange(6.0).reshape(2, 3).T.ravel())


def test_asarray_with_a_float_dtype_raises_dualfds_error():
    f = lambda x: np.sum(np.asarray(x, dtype=float) ** 2)
    with pytest.raises(TypeError, match=r"np\.asarray\(x, dtype=float64\).*without dtype"):
        dfd.grad(f, method="dual")(np.ones(3))


def test_storing_into_a_float_array_raises_dualfds_error():
    def f(x):
        g = np.zeros(2)
        g[0] = x[0] ** 2
        return g
    with pytest.raises(TypeError, match=r"float array.*zeros_like.*method='auto'"):
        dfd.jacobian(f, method="dual")(np.ones(2))


def test_object_arrays_with_other_objects_are_refused():
    f = lambda x: np.array([x[0], "a"], dtype=object)
    with pytest.raises(TypeError, match="f must return"):
        dfd.jacobian(f, method="dual")(np.ones(2))


def test_no_dual_in_object_result_is_a_constant():
    J = dfd.jacobian(lambda x: np.array([1.0, 2], dtype=object), method="dual")(np.ones(3))
    np.testing.assert_array_equal(J, np.zeros((2, 3)))


def test_arrays_allocated_like_x_hold_duals():
    def f(x):
        out = np.zeros(x.shape, dtype=x.dtype)      # object for a Dual
        for i in range(len(x)):
            out[i] = x[i] * x[-1 - i]
        return out
    x = np.array([0.5, 1.5, 2.5])
    J = dfd.jacobian(f, method="dual")(x)
    np.testing.assert_allclose(J, approx_derivative(f, x, method="cs"), rtol=1e-15)


def test_integer_and_bool_conversions_have_derivative_zero():
    d = Dual(np.array([1.7, -2.2]), np.eye(2))
    np.testing.assert_array_equal(np.asarray(d, dtype=np.int64), [1, -2])
    np.testing.assert_array_equal(np.asarray(d, dtype=bool), [True, True])
    f = lambda x: x[np.int64(x[0])] * 2.0           # autograd's index cast
    J = dfd.grad(f, method="dual")(np.array([1.3, 4.0, 5.0]))
    np.testing.assert_array_equal(J, [0.0, 2.0, 0.0])
