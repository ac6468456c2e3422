"""check_grad and GradCheck: agreement with SciPy, mistake detection over the
More-Garbow-Hillstrom problems, the report, and bad input."""

import copy
import pickle

import numpy as np
import pytest
import scipy.optimize
from scipy.optimize import rosen_der

import dualfd as dfd
import problems as mgh
from problems import rosenbrock_objective as rosen  # NumPy-only: works for a Dual
from dualfd import GradCheck


X4 = np.array([-1.2, 1.0, 0.5, 2.0])


def smooth(x):
    """R^3 -> R^2 with a known Jacobian."""
    return np.stack([np.sin(x[0]) * x[1] ** 2, np.exp(x[2] / 3) + x[0] * x[2]])


def smooth_jac(x):
    return np.array([[np.cos(x[0]) * x[1] ** 2, 2 * np.sin(x[0]) * x[1], 0.0],
                     [x[2], 0.0, np.exp(x[2] / 3) / 3 + x[0]]])


def with_entry(g, index, change):
    """g with one entry replaced by change(value, x)."""
    def wrong(x, *args):
        G = np.array(g(x, *args), dtype=float)
        G[index] = change(G[index], x)
        return G
    return wrong


# --- the float value and SciPy --------------------------------------------------------

def test_is_a_float_with_the_norm_of_the_difference():
    res = dfd.check_grad(rosen, rosen_der, X4)
    assert isinstance(res, float) and isinstance(res, GradCheck)
    assert res.ok and res < 1e-6
    assert float(res) == pytest.approx(np.linalg.norm(res.analytic - res.numeric))
    np.testing.assert_array_equal(res.analytic, rosen_der(X4))
    np.testing.assert_allclose(res.numeric, rosen_der(X4), rtol=1e-8)


@pytest.mark.parametrize("seed", range(5))
def test_value_equals_scipy_check_grad_with_the_same_stencil(seed):
    """SciPy's check_grad is a forward difference with absolute step
    sqrt(eps): the same stencil gives the same norm."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, 5)
    wrong = with_entry(rosen_der, seed % 5, lambda v, x: -v)
    eps = np.sqrt(np.finfo(float).eps)
    for g in (rosen_der, wrong):
        theirs = scipy.optimize.check_grad(rosen, g, x)
        ours = dfd.check_grad(rosen, g, x, method="forward", step=eps)
        assert float(ours) == pytest.approx(theirs, rel=1e-6, abs=1e-12)


def test_value_is_closer_to_zero_than_scipy_for_a_correct_gradient():
    """The default central reference is ~1e4 times more accurate than SciPy's
    forward one, so a correct gradient scores near rounding."""
    x = np.linspace(-1.5, 1.5, 8)
    theirs = scipy.optimize.check_grad(rosen, rosen_der, x)
    ours = dfd.check_grad(rosen, rosen_der, x)
    assert ours < theirs / 100 and ours.ok
    assert theirs > 1e-7   # the forward difference error SciPy reports


# --- mistakes on simple functions -----------------------------------------------------

MISTAKES = {
    "sign": lambda v, x: -v,
    "factor 2": lambda v, x: 2 * v,
    "off by 1e-4": lambda v, x: v * (1 + 1e-4),
}


@pytest.mark.parametrize("kind", MISTAKES)
@pytest.mark.parametrize("j", range(4))
def test_one_wrong_gradient_entry_is_found(kind, j):
    res = dfd.check_grad(rosen, with_entry(rosen_der, j, MISTAKES[kind]), X4)
    assert not res.ok and res.worst_index == (j,) and res.n_failed == 1


@pytest.mark.parametrize("kind", MISTAKES)
@pytest.mark.parametrize("index", [(0, 0), (0, 1), (1, 0), (1, 2)])
def test_one_wrong_jacobian_entry_is_found(kind, index):
    x = np.array([0.7, -1.3, 2.1])
    assert dfd.check_grad(smooth, smooth_jac, x).ok
    res = dfd.check_grad(smooth, with_entry(smooth_jac, index, MISTAKES[kind]), x)
    assert not res.ok and res.worst_index == index
    assert res.analytic.shape == res.numeric.shape == (2, 3)


def test_small_entries_are_judged_against_their_row():
    """A ~0 entry with a correct value passes though its FD error is large
    relative to itself; a row of its own scale is judged on its own."""
    def f(x):
        return np.stack([1e6 * x[0] ** 2 + 1e-3 * x[1], 1e-6 * np.sin(x[1])])

    def jac(x):
        return np.array([[2e6 * x[0], 1e-3], [0.0, 1e-6 * np.cos(x[1])]])

    x = np.array([3.0, 0.5])
    assert dfd.check_grad(f, jac, x).ok
    # a sign error in the small row is not drowned by the big one
    res = dfd.check_grad(f, with_entry(jac, (1, 1), lambda v, x: -v), x)
    assert not res.ok and res.worst_index == (1, 1)


def test_rounding_of_a_large_f_is_allowed_for():
    """Brown's badly scaled function: f ~ 1e12 at x0 while g[1] ~ 1e-6, so the
    difference quotients carry ~eps f / h ~ 10 of rounding; the tolerance
    includes that bound, and a wrong big entry is still found."""
    def f(x):
        return (x[0] - 1e6) ** 2 + (x[1] - 2e-6) ** 2 + (x[0] * x[1] - 2) ** 2

    def g(x):
        return np.array([2 * (x[0] - 1e6) + 2 * (x[0] * x[1] - 2) * x[1],
                         2 * (x[1] - 2e-6) + 2 * (x[0] * x[1] - 2) * x[0]])

    x = np.array([1.0, 1.0])
    # eps f / h: ~4e1 central, ~1.5e4 one-sided, against g[0] ~ -2e6
    for method, factor in [("central", 1.01), ("forward", 1.5), ("backward", 1.5)]:
        res = dfd.check_grad(f, g, x, method=method)
        assert res.ok and res.max_abs_error > 1e-3, res
        res = dfd.check_grad(f, with_entry(g, 0, lambda v, x: v * factor), x, method=method)
        assert not res.ok and res.worst_index == (0,)


def test_at_a_stationary_point_the_reference_error_estimate_decides():
    """g = 0 there: the reference's truncation error is all that is left; the
    estimate from the 2h stencil accepts it, and a real error still fails."""
    x = np.ones(3)
    res = dfd.check_grad(rosen, rosen_der, x)
    assert res.ok and res.max_rel_error == 1.0   # numeric ~1e-8, analytic 0
    assert not dfd.check_grad(rosen, lambda x: rosen_der(x) + 1e-5, x).ok
    assert dfd.check_grad(rosen, lambda x: rosen_der(x) + 1e-5, x, atol=1e-4).ok


def test_truncation_error_estimate_follows_curvature():
    """exp(-300 x) varies on a scale of 1/300, which the step rule
    max(1, |x|) does not see: central error ~h**2 300**2 / 6 ~ 1e-6 relative,
    above rtol, and the 2h estimate allows for it."""
    def f(x):
        return np.sum(np.exp(-300 * x) + x ** 2)

    def g(x):
        return -300 * np.exp(-300 * x) + 2 * x

    x = np.array([0.01, 0.02])
    res = dfd.check_grad(f, g, x)
    assert res.ok and res.max_rel_error > 1e-7
    assert not dfd.check_grad(f, lambda x: g(x) * (1 + 1e-4), x).ok


# --- the More-Garbow-Hillstrom problems -----------------------------------------------

def mgh_points(p, k=2):
    """x0 and k generic points near it."""
    return [np.array(p.x0)] + mgh.perturbed_points(p, np.random.default_rng(len(p.name)), k)


def mgh_params():
    return [pytest.param(p, id=p.name) for p in mgh.PROBLEMS]


@pytest.mark.parametrize("method", ["central", "forward", "backward", "complex",
                                    "dual"])
@pytest.mark.parametrize("p", mgh_params())
def test_correct_derivatives_pass_on_mgh(p, method):
    for x in mgh_points(p):
        res = dfd.check_grad(p.objective, p.gradient, x, method=method)
        assert res.ok, f"{p.name} gradient at {x}:\n{res}"
        res = dfd.check_grad(p.residual, p.jacobian, x, method=method)
        assert res.ok, f"{p.name} Jacobian at {x}:\n{res}"


@pytest.mark.parametrize("method", ["central", "forward", "complex"])
def test_correct_derivatives_pass_at_extreme_scales(method):
    """Entries ~1e-8 and ~1e8, and solutions where g ~ 0: the error estimates
    of the reference carry the check."""
    for p, x in mgh.scaled_points():
        res = dfd.check_grad(p.objective, p.gradient, x, method=method)
        assert res.ok, f"{p.name} gradient at {x}:\n{res}"
        res = dfd.check_grad(p.residual, p.jacobian, x, method=method)
        assert res.ok, f"{p.name} Jacobian at {x}:\n{res}"


def detectable(G, scale, margin=1e-3):
    """Entries big enough next to their row that changing them is a mistake
    any reference should see (|G| > 1e-3 of the row's largest)."""
    return [tuple(int(i) for i in idx) for idx in np.argwhere(np.abs(G) > margin * scale)]


@pytest.mark.parametrize("method", ["central", "complex",
                                    "dual"])
@pytest.mark.parametrize("p", mgh_params())
def test_one_wrong_entry_is_found_on_mgh(p, method):
    """Every detectable entry in turn gets a flipped sign, a factor 2, or
    (gradient) a missing term: the largest 2 r_i J_ij of its sum."""
    x = mgh_points(p, 1)[1]
    g = p.gradient(x)
    r, J = p.residual(x), p.jacobian(x)
    for j in detectable(g, np.abs(g).max()):
        terms = 2 * r * J[:, j[0]]
        biggest = terms[np.argmax(np.abs(terms))]
        for kind, change in [("sign", lambda v, x: -v), ("factor 2", lambda v, x: 2 * v),
                             ("missing term", lambda v, x: v - biggest)]:
            if kind == "missing term" and abs(biggest) < 1e-3 * np.abs(g).max():
                continue
            res = dfd.check_grad(p.objective, with_entry(p.gradient, j, change), x,
                                 method=method)
            assert not res.ok and res.worst_index == j, f"{p.name} {kind} at {j}:\n{res}"
    rows = np.abs(J).max(axis=1, keepdims=True)
    for ij in detectable(J, rows)[:40]:
        for kind, change in [("sign", lambda v, x: -v), ("factor 2", lambda v, x: 2 * v)]:
            res = dfd.check_grad(p.residual, with_entry(p.jacobian, ij, change), x,
                                 method=method)
            assert not res.ok and res.worst_index == ij, f"{p.name} {kind} at {ij}:\n{res}"


# --- dual and complex references catch what central cannot ----------------------------

@pytest.mark.parametrize("method", ["complex", "dual"])
def test_exact_references_catch_tiny_mistakes(method):
    wrong = with_entry(rosen_der, 2, lambda v, x: v * (1 + 1e-8))
    assert dfd.check_grad(rosen, wrong, X4).ok   # below central's noise
    res = dfd.check_grad(rosen, wrong, X4, method=method)
    assert not res.ok and res.worst_index == (2,)
    assert dfd.check_grad(rosen, rosen_der, X4, method=method).ok


# --- the report -------------------------------------------------------------------------

def test_report_names_the_wrong_entry():
    wrong = with_entry(rosen_der, 1, lambda v, x: -v)
    res = dfd.check_grad(rosen, wrong, X4)
    text = str(res)
    lines = text.splitlines()
    assert lines[0] == "check_grad: FAILED, 1 of 4 entries outside tolerance"
    assert "method='central'" in lines[1] and "rtol=1e-06" in lines[1]
    worst = lines[4].split()
    assert worst[0] == "[1]" and worst[-1] == "<-"
    assert float(worst[1]) == pytest.approx(-rosen_der(X4)[1], rel=1e-6)
    assert float(worst[2]) == pytest.approx(rosen_der(X4)[1], rel=1e-6)
    assert len(lines) <= 10 and max(map(len, lines)) <= 80
    assert f"{res}" == text and f"{res:.2f}" == f"{float(res):.2f}"


def test_report_when_ok_and_for_jacobians():
    res = dfd.check_grad(smooth, smooth_jac, np.array([0.7, -1.3, 2.1]))
    text = str(res)
    assert text.startswith("check_grad: OK, all 6 entries within tolerance")
    assert "<-" not in text and "[" in text
    wrong = with_entry(smooth_jac, (1, 2), lambda v, x: 2 * v)
    text = str(dfd.check_grad(smooth, wrong, np.array([0.7, -1.3, 2.1])))
    assert "\n  [1, 2] " in text


def test_repr_shows_the_numbers():
    res = dfd.check_grad(rosen, with_entry(rosen_der, 3, lambda v, x: 0 * v), X4)
    r = repr(res)
    assert r.startswith(f"GradCheck({float(res)!r}, ok=False,")
    assert "worst_index=(3,)" in r and "max_rel_error=" in r


def test_pickles_and_copies():
    res = dfd.check_grad(rosen, rosen_der, X4)
    for other in (pickle.loads(pickle.dumps(res)), copy.deepcopy(res)):
        assert type(other) is GradCheck and float(other) == float(res)
        assert other.ok and other.worst_index == res.worst_index


def test_raise_on_fail_carries_the_report():
    wrong = with_entry(rosen_der, 0, lambda v, x: 2 * v)
    with pytest.raises(AssertionError, match=r"FAILED, 1 of 4(.|\n)*\[0\]"):
        dfd.check_grad(rosen, wrong, X4, raise_on_fail=True)
    assert dfd.check_grad(rosen, rosen_der, X4, raise_on_fail=True).ok


# --- shapes, args, options --------------------------------------------------------------

def test_float_x_and_nd_x():
    res = dfd.check_grad(np.sin, np.cos, 0.3)
    assert res.ok and res.worst_index == () and res.analytic.shape == ()
    x = np.arange(6.0).reshape(2, 3) / 5
    res = dfd.check_grad(lambda x: np.sum(x ** 3), lambda x: 3 * x ** 2, x)
    assert res.ok and res.analytic.shape == (2, 3)
    res = dfd.check_grad(lambda x: np.sum(x ** 3), lambda x: 3 * x ** 2, x.T)   # strided
    assert res.ok


def test_list_x_and_the_callers_x_is_left_alone():
    def g(x):
        G = rosen_der(x)
        x[:] = 0.0   # a g that scribbles on its input
        return G

    x = X4.copy()
    assert dfd.check_grad(rosen, g, x).ok
    np.testing.assert_array_equal(x, X4)
    assert dfd.check_grad(rosen, rosen_der, [-1, 1, 0, 2]).ok   # ints, a list


def test_args_go_to_f_and_g():
    def f(x, a):
        return a * np.sum(x ** 2)

    res = dfd.check_grad(f, lambda x, a: 2 * a * x, X4, 3.0)
    assert res.ok
    assert not dfd.check_grad(f, lambda x, a: 2 * x, X4, 3.0).ok


def test_options_reach_the_reference():
    lb, ub = X4, X4 + 1   # x on the lower bound: one-sided stencils
    seen = []

    def f(x):
        seen.append(np.array(x))
        return rosen(x)

    assert dfd.check_grad(f, rosen_der, X4, bounds=(lb, ub)).ok
    assert all(np.all(p >= lb) for p in seen)
    vec = dfd.check_grad(rosen, rosen_der, X4, vectorized=True)
    assert vec.ok and float(vec) == float(dfd.check_grad(rosen, rosen_der, X4))
    assert dfd.check_grad(rosen, rosen_der, X4, method="complex").ok


def test_sparse_jacobian_is_accepted():
    sparse = pytest.importorskip("scipy.sparse")
    x = np.array([0.7, -1.3, 2.1])
    assert dfd.check_grad(smooth, lambda x: sparse.csr_array(smooth_jac(x)), x).ok


@pytest.mark.parametrize("g, expected, got", [
    (lambda x: np.append(rosen_der(x), 0.0), r"\(4,\)", r"\(5,\)"),
    (lambda x: rosen_der(x)[None, :], r"\(4,\)", r"\(1, 4\)"),
    (lambda x: 1.0, r"\(4,\)", r"\(\)"),
])
def test_gradient_of_the_wrong_shape(g, expected, got):
    with pytest.raises(ValueError, match=f"g returned shape {got}.*shape {expected}"):
        dfd.check_grad(rosen, g, X4)


def test_jacobian_of_the_wrong_shape():
    x = np.array([0.7, -1.3, 2.1])
    with pytest.raises(ValueError, match=r"g returned shape \(3, 2\).*\(2, 3\), "
                                         r"f\(x\).shape \+ x.shape"):
        dfd.check_grad(smooth, lambda x: smooth_jac(x).T, x)


@pytest.mark.parametrize("kwargs, match", [
    (dict(epsilon=1e-8), r"epsilon= is scipy.optimize.check_grad's step; here it is "
                         r"step="),
    (dict(direction="some"), r"direction must be 'all', 'random' or 'fast'"),
    (dict(direction="random", chunk=4), r"vectorized and chunk apply to direction='all'"),
    (dict(method="bogus"), r"method must be one of 'central'.*'cs'.*got 'bogus'"),
    (dict(rtol=-1.0), r"rtol must be a finite non-negative number; got -1.0"),
    (dict(atol=np.nan), r"atol must be a finite non-negative number; got nan"),
    (dict(rtol="1e-3"), r"rtol must be a finite non-negative number; got '1e-3'"),
    (dict(raise_on_fail="yes"), r"raise_on_fail must be True or False"),
    (dict(step=-1.0), r"step must be finite and positive"),
    (dict(bounds=(1.0, 0.0)), r"bounds: lb must not exceed ub"),
    (dict(chunk=2), r"chunk applies to method='dual'"),
])
def test_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        dfd.check_grad(rosen, rosen_der, X4, **kwargs)


def test_bad_g():
    with pytest.raises(TypeError, match="g must be callable"):
        dfd.check_grad(rosen, None, X4)
    with pytest.raises(TypeError, match="g must return real numbers"):
        dfd.check_grad(rosen, lambda x: rosen_der(x).astype(complex), X4)
    with pytest.raises(ValueError, match=r"g returned a non-finite value nan at \[2\]"):
        dfd.check_grad(rosen, with_entry(rosen_der, 2, lambda v, x: np.nan), X4)


def test_exceptions_from_f_and_g_propagate():
    class Boom(Exception):
        pass

    def boom(x):
        raise Boom

    with pytest.raises(Boom):
        dfd.check_grad(boom, rosen_der, X4)
    with pytest.raises(Boom):
        dfd.check_grad(rosen, boom, X4)


# --- keyword arguments, SciPy's names, random directions ---------------------------------


def scaled_rosen(x, a, *, c=1.0):
    return c * rosen(x) + a * np.sum(x)


def scaled_rosen_der(x, a, *, c=1.0):
    return c * rosen_der(x) + a


def test_kwargs_reach_f_and_g():
    res = dfd.check_grad(scaled_rosen, scaled_rosen_der, X4, 2.0, c=3.0)
    assert res.ok
    # g's keyword argument matters: dropping it on the way would fail the check
    res = dfd.check_grad(scaled_rosen, lambda x, a, c: scaled_rosen_der(x, a, c=2 * c),
                         X4, 2.0, c=3.0)
    assert not res.ok
    from scipy.optimize import check_grad as scipy_check_grad
    ref = scipy_check_grad(lambda x: scaled_rosen(x, 2.0, c=3.0),
                           lambda x: scaled_rosen_der(x, 2.0, c=3.0), X4)
    assert float(dfd.check_grad(scaled_rosen, scaled_rosen_der, X4, 2.0, c=3.0)) < 10 * ref


@pytest.mark.parametrize("alias, method", [("2-point", "forward"), ("3-point", "central"),
                                           ("cs", "complex")])
def test_scipy_method_names(alias, method):
    res = dfd.check_grad(rosen, rosen_der, X4, method=alias)
    assert res.ok and res.method == method
    np.testing.assert_array_equal(
        dfd.jacobian(smooth, method=alias)(np.array([0.7, -1.3, 2.1])),
        dfd.jacobian(smooth, method=method)(np.array([0.7, -1.3, 2.1])))


@pytest.mark.parametrize("direction", ["random", "fast"])
@pytest.mark.parametrize("method", ["central", "complex", "dual"])
def test_random_directions_catch_a_wrong_entry(direction, method):
    x = np.linspace(-1.0, 1.5, 200)
    assert dfd.check_grad(rosen, rosen_der, x, method=method, direction=direction).ok

    def wrong(x):
        g = rosen_der(x)
        g[117] *= 1.001      # one entry off by 0.1%
        return g
    res = dfd.check_grad(rosen, wrong, x, method=method, direction=direction)
    assert not res.ok and res.direction == direction
    assert "direction=" in str(res)
    # a vector f: the Jacobian's transpose in place of J is caught
    y = np.array([0.7, -1.3, 2.1])
    assert dfd.check_grad(smooth, smooth_jac, y, method=method, direction=direction).ok
    J = smooth_jac(y)
    bad = J.copy()
    bad[1, 2] += 1e-3 * np.abs(J).max()
    res = dfd.check_grad(smooth, lambda x: bad, y, method=method, direction=direction)
    assert not res.ok


def test_random_direction_is_reproducible_and_seedable():
    x = np.linspace(-1.0, 1.5, 20)
    a = dfd.check_grad(rosen, rosen_der, x, direction="random")
    b = dfd.check_grad(rosen, rosen_der, x, direction="random")
    c = dfd.check_grad(rosen, rosen_der, x, direction="random", rng=7)
    assert float(a.numeric) == float(b.numeric) and float(a.numeric) != float(c.numeric)


@pytest.mark.parametrize("direction", ["random", "fast"])
@pytest.mark.parametrize("method", ["central", "forward", "complex", "dual"])
def test_random_directions_pass_correct_derivatives_on_mgh(method, direction):
    """No false alarm on the MGH set, at x0, perturbed and extreme-scale points."""
    points = [(p, x) for p in mgh.PROBLEMS for x in mgh_points(p)]
    if method != "dual":
        points += list(mgh.scaled_points())
    for p, x in points:
        for seed in range(3):
            res = dfd.check_grad(p.objective, p.gradient, x, method=method,
                                 direction=direction, rng=seed)
            assert res.ok, f"{p.name} gradient at {x}:\n{res}"
            res = dfd.check_grad(p.residual, p.jacobian, x, method=method,
                                 direction=direction, rng=seed)
            assert res.ok, f"{p.name} Jacobian at {x}:\n{res}"


@pytest.mark.parametrize("direction", ["random", "fast"])
@pytest.mark.parametrize("p", mgh_params())
def test_random_directions_find_a_flipped_sign_on_mgh(p, direction):
    x = mgh_points(p, 1)[1]
    g = p.gradient(x)
    for j in detectable(g, np.abs(g).max(), margin=1e-2)[:10]:
        res = dfd.check_grad(p.objective, with_entry(p.gradient, j, lambda v, x: -v), x,
                             method="central", direction=direction)
        assert not res.ok, f"{p.name} sign at {j}:\n{res}"
