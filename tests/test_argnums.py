"""argnums= and has_aux=, as in JAX, against analytic derivatives."""

import pickle

import numpy as np
import pytest

import dualfd as dfd

A = np.array([1.0, 2.0, 3.0])
X = np.array([0.5, -1.0, 2.0])


def f(a, x, b, c=1.0):
    return np.sum(a * x ** 2) * b + c * x[0]


def df_da(a, x, b, c=1.0):
    return x ** 2 * b


def df_dx(a, x, b, c=1.0):
    g = 2 * a * x * b
    g[0] += c
    return g


def df_db(a, x, b, c=1.0):
    return np.sum(a * x ** 2)


def with_aux(x, k):
    # aux is computed on whatever x is (Duals, complex points): no float() here
    return np.sum(np.sin(x) * k), {"size": x.size, "first": x[0]}


METHODS = ["central", "forward", "complex", "dual", "auto"]


def _tol(method):
    return dict(rtol=1e-5, atol=1e-5) if method == "forward" else dict(rtol=1e-8,
                                                                          atol=1e-9)


@pytest.mark.parametrize("method", METHODS)
def test_int_argnums(method):
    g = dfd.grad(f, argnums=1, method=method)
    np.testing.assert_allclose(g(A, X, 2.0, c=3.0), df_dx(A, X, 2.0, c=3.0),
                               **_tol(method))
    np.testing.assert_allclose(dfd.grad(f, argnums=0, method=method)(A, X, 2.0),
                               df_da(A, X, 2.0), **_tol(method))
    gb = dfd.grad(f, argnums=2, method=method)(A, X, 2.0)
    assert isinstance(gb, float)
    np.testing.assert_allclose(gb, df_db(A, X, 2.0), **_tol(method))
    value, g = dfd.value_and_grad(f, argnums=1, method=method)(A, X, 2.0)
    np.testing.assert_allclose(value, f(A, X, 2.0), rtol=1e-15)
    np.testing.assert_allclose(g, df_dx(A, X, 2.0), **_tol(method))


@pytest.mark.parametrize("method", METHODS)
def test_tuple_argnums(method):
    ga, gx, gb = dfd.grad(f, argnums=(0, 1, 2), method=method)(A, X, 2.0, c=3.0)
    np.testing.assert_allclose(ga, df_da(A, X, 2.0), **_tol(method))
    np.testing.assert_allclose(gx, df_dx(A, X, 2.0, c=3.0), **_tol(method))
    assert isinstance(gb, float)
    np.testing.assert_allclose(gb, df_db(A, X, 2.0), **_tol(method))
    # the order of argnums is the order of the results
    gx2, ga2 = dfd.grad(f, argnums=(1, 0), method=method)(A, X, 2.0, c=3.0)
    np.testing.assert_array_equal(gx2, gx)
    np.testing.assert_array_equal(ga2, ga)


def vector(x, y):
    return np.stack([x[0] * y, np.sin(x[1]) + y ** 2])


@pytest.mark.parametrize("method", ["central", "dual"])
def test_jacobian_tuple_argnums_shapes(method):
    x = np.array([[0.3, 0.7]])        # a 2-d argument keeps its shape
    Jx, Jy = dfd.jacobian(lambda x, y: vector(x[0], y), argnums=(0, 1),
                          method=method)(x, 1.5)
    assert Jx.shape == (2, 1, 2) and Jy.shape == (2,)
    np.testing.assert_allclose(Jx[:, 0, :], [[1.5, 0.0], [0.0, np.cos(0.7)]],
                               **_tol(method))
    np.testing.assert_allclose(Jy, [0.3, 3.0], **_tol(method))


@pytest.mark.parametrize("method", METHODS)
def test_has_aux(method):
    g, aux = dfd.grad(with_aux, has_aux=True, method=method)(X, 2.0)
    np.testing.assert_allclose(g, 2.0 * np.cos(X), **_tol(method))
    assert aux == {"size": 3, "first": 0.5}
    (value, aux), g = dfd.value_and_grad(with_aux, has_aux=True, method=method)(X, 2.0)
    assert value == with_aux(X, 2.0)[0] and aux["size"] == 3
    J, aux = dfd.jacobian(with_aux, has_aux=True, method=method)(X, 2.0)
    np.testing.assert_allclose(J, 2.0 * np.cos(X), **_tol(method))
    value, t, aux = dfd.jvp(with_aux, has_aux=True, method=method)(X, np.ones(3), 2.0)
    np.testing.assert_allclose(t, 2.0 * np.sum(np.cos(X)), **_tol(method))
    assert aux["first"] == 0.5


def test_has_aux_with_vectorized_f():
    def vf(x):
        return np.sum(x ** 2, axis=0), x.shape
    g, aux = dfd.grad(vf, has_aux=True, vectorized=True)(X)
    np.testing.assert_allclose(g, 2 * X, rtol=1e-8)
    assert aux == (3, 1)        # f's aux at the point itself: one point


def test_jvp_int_argnums():
    value, t = dfd.jvp(f, argnums=1, method="dual")(X, np.ones(3), A, 2.0)
    assert value == f(A, X, 2.0)
    np.testing.assert_allclose(t, df_dx(A, X, 2.0) @ np.ones(3), rtol=1e-14)


def model(t, p0, p1):
    return p0 * np.exp(-p1 * t)


def test_curve_fit_with_an_exact_jacobian():
    """curve_fit calls jac(t, *p): argnums picks the parameters, and the per-parameter
    Jacobians stack into the (m, n) matrix it wants."""
    curve_fit = pytest.importorskip("scipy.optimize").curve_fit
    t = np.linspace(0.0, 2.0, 30)
    y = model(t, 2.0, 1.3) + 1e-3 * np.sin(17 * t)
    jac = dfd.jacobian(model, argnums=(1, 2), method="dual")

    def J(t, *p):
        return np.stack(jac(t, *p), axis=-1)
    np.testing.assert_allclose(J(t, 2.0, 1.3), np.stack(
        [np.exp(-1.3 * t), -2.0 * t * np.exp(-1.3 * t)], axis=-1), rtol=1e-14)
    p, _ = curve_fit(model, t, y, p0=[1.0, 1.0], jac=J)
    ref, _ = curve_fit(model, t, y, p0=[1.0, 1.0])
    np.testing.assert_allclose(p, ref, rtol=1e-6)


def test_adapted_transforms_pickle_and_run_on_workers():
    g = dfd.grad(f, argnums=(0, 1), workers=2)
    serial = dfd.grad(f, argnums=(0, 1))(A, X, 2.0)
    with g:
        got = g(A, X, 2.0)
    for a, b in zip(got, serial):
        np.testing.assert_array_equal(a, b)
    h = pickle.loads(pickle.dumps(dfd.grad(with_aux, has_aux=True, argnums=0)))
    np.testing.assert_array_equal(h(X, 2.0)[0], dfd.grad(with_aux, has_aux=True)(X, 2.0)[0])


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(argnums=-1), ValueError, "argnums must be >= 0"),
    (dict(argnums=(0, 0)), ValueError, "distinct ints"),
    (dict(argnums=()), TypeError, "non-empty tuple"),
    (dict(argnums=1.0), TypeError, "argnums must be an int"),
    (dict(argnums=True), TypeError, "argnums must be an int"),
    (dict(has_aux="yes"), ValueError, "has_aux must be True or False"),
    (dict(argnums=(0, 1), bounds=(0, 1)), ValueError, "bounds apply to one argument"),
    (dict(argnums=(0, 1), step=np.ones(3)), ValueError, "step must be a float"),
])
def test_bad_options(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        dfd.grad(f, **kwargs)


def test_bad_calls():
    with pytest.raises(TypeError, match="argnums=2 needs at least 3 positional"):
        dfd.grad(f, argnums=2)(A, X)
    with pytest.raises(TypeError, match="has_aux=True: f must return a pair"):
        dfd.grad(f, has_aux=True, argnums=1)(A, X, 2.0)
    with pytest.raises(TypeError, match="jvp takes an int argnums"):
        dfd.jvp(f, argnums=(0, 1))
    with pytest.raises(TypeError, match="argument 0 .* must be a real number"):
        dfd.grad(f, argnums=(0, 1))(np.array(["a"]), X, 2.0)


def test_into_with_argnums_and_aux():
    out = np.empty(3)
    g, aux = dfd.grad(with_aux, has_aux=True, method="dual").into(out, X, 2.0)
    assert g is out and aux["size"] == 3
    np.testing.assert_allclose(out, 2.0 * np.cos(X), rtol=1e-14)
    r = dfd.grad(f, argnums=1, method="dual").into(out, A, X, 2.0)
    assert r is out
    np.testing.assert_allclose(out, df_dx(A, X, 2.0), rtol=1e-14)
    with pytest.raises(TypeError, match="into\\(\\) writes one derivative"):
        dfd.grad(f, argnums=(0, 1)).into(out, A, X, 2.0)
