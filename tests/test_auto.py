"""method='auto': exact duals where f runs on them, central differences otherwise,
decided on the first call of each transformation.  References: analytic derivatives."""

import math
import pickle
import warnings

import numpy as np
import pytest

import dualfd as dfd
from dualfd import AutoWarning

X = np.array([0.3, -0.7, 1.1])


def smooth(x):                      # runs on Duals
    return np.sum(np.sin(x) * x ** 2)


def smooth_grad(x):
    return np.cos(x) * x ** 2 + 2 * x * np.sin(x)


def scalar_math(x):                 # math.sin calls float(): the Dual refuses it
    return sum(math.sin(xi) * xi ** 2 for xi in x)


def _no_warning(fn, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fn(*args)


@pytest.mark.parametrize("kind", ["grad", "value_and_grad", "jacobian"])
def test_auto_is_exact_where_duals_run(kind):
    t = getattr(dfd, kind)(smooth, method="auto")
    for x in (X, 2 * X):             # the choice is kept: no warning on later calls
        r = _no_warning(t, x)
        g = r[1] if kind == "value_and_grad" else r
        np.testing.assert_allclose(g, smooth_grad(x), rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize("kind", ["grad", "value_and_grad", "jacobian"])
def test_auto_falls_back_to_central_once_with_a_warning(kind):
    t = getattr(dfd, kind)(scalar_math, method="auto")
    with pytest.warns(AutoWarning, match=r"scalar_math does not run on dualfd's Dual "
                                         r"\(float\(\) of a Dual"):
        r = t(X)
    g = r[1] if kind == "value_and_grad" else r
    np.testing.assert_allclose(g, smooth_grad(X), rtol=1e-8, atol=1e-9)
    r2 = _no_warning(t, 2 * X)
    g2 = r2[1] if kind == "value_and_grad" else r2
    np.testing.assert_allclose(g2, smooth_grad(2 * X), rtol=1e-8, atol=1e-9)


def test_auto_fallback_uses_step_bounds_and_vectorized():
    calls = []

    def f(x):
        calls.append(np.shape(x))
        return np.sin(np.asarray(x, dtype=float)) ** 2    # refuses Duals (dtype=float)
    lb, ub = X - 1e-7, X + 1.0
    with pytest.warns(AutoWarning):
        g = dfd.jacobian(f, method="auto", bounds=(lb, ub), step=1e-6,
                         vectorized=True)(X)
    np.testing.assert_allclose(g, np.diag(np.sin(2 * X)), rtol=1e-6)
    assert any(len(s) == 2 for s in calls)         # points went in as a batch


def test_auto_jvp_and_hessian():
    v = np.array([1.0, -2.0, 0.5])
    fx, jv = _no_warning(dfd.jvp(smooth, method="auto"), X, v)
    np.testing.assert_allclose(jv, smooth_grad(X) @ v, rtol=1e-14)
    with pytest.warns(AutoWarning):
        fx, jv = dfd.jvp(scalar_math, method="auto")(X, v)
    np.testing.assert_allclose(jv, smooth_grad(X) @ v, rtol=1e-8)

    def hess(x):
        return np.diag(-np.sin(x) * x ** 2 + 4 * x * np.cos(x) + 2 * np.sin(x))
    np.testing.assert_allclose(_no_warning(dfd.hessian(smooth, method="auto"), X),
                               hess(X), rtol=1e-8, atol=1e-9)
    h = dfd.hessian(scalar_math, method="auto")
    with pytest.warns(AutoWarning):
        H = h(X)
    np.testing.assert_allclose(H, hess(X), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_no_warning(h, X), H)


def test_errors_of_f_itself_propagate():
    def bad(x):
        raise ValueError("from f")
    with pytest.raises(ValueError, match="from f"):
        dfd.grad(bad, method="auto")(X)

    def bad_type(x):
        raise TypeError("f's own type error")     # raised for floats as well
    with pytest.warns(AutoWarning), pytest.raises(TypeError, match="own type error"):
        dfd.grad(bad_type, method="auto")(X)


def test_choice_is_per_transform_and_later_refusals_raise():
    def branchy(x):
        if x[0] > 0:
            return math.sin(x[0])           # refused, but only for x[0] > 0
        return np.sin(x[0])
    g = dfd.grad(branchy, method="auto")
    _no_warning(g, -X)                       # decides 'dual'
    with pytest.raises(TypeError, match="float\\(\\) of a Dual"):
        g(X)


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_auto_transforms_pickle(protocol):
    for t in (dfd.grad(smooth, method="auto"), dfd.jvp(smooth, method="auto"),
              dfd.hessian(smooth, method="auto")):
        r = pickle.loads(pickle.dumps(t, protocol=protocol))
        args = (X, np.ones(3)) if "jvp" in repr(r) else (X,)
        np.testing.assert_allclose(np.asarray(r(*args)[1] if "jvp" in repr(r)
                                              else r(*args)),
                                   np.asarray(t(*args)[1] if "jvp" in repr(t)
                                              else t(*args)), rtol=1e-15)
