"""workers=: f evaluated on processes, threads, map-like callables and a Dask cluster.

The reference is the serial computation: the parallel result must be bitwise equal to
it (the quotients are formed from the same values in the same order), on every FD
method, with bounds, vectorized f and extra arguments.  Errors: what cannot be
pickled, f raising on a worker, a worker dying, a shut-down executor.
"""

import concurrent.futures as cf
import logging
import multiprocessing
import os
import pickle
import tempfile

import numpy as np
import pytest

import dualfd as dfd
from dualfd import _workers

# --- functions the workers run: module level, so that they pickle ---------------------


def vec3(x, a=1.0, *, b=0.0):
    """R^n -> R^3, with an extra positional and keyword argument."""
    return np.array([np.sum(np.sin(x) * a) + b, x[0] * x[-1], np.prod(np.cos(x))])


def vec3_vectorized(x, a=1.0, *, b=0.0):
    """vec3 for x of shape (n, k): elementwise in the points, so each point's values
    do not depend on which other points share the call."""
    return np.stack([np.sum(np.sin(x) * a, axis=0) + b, x[0] * x[-1],
                     np.prod(np.cos(x), axis=0)])


def vec3_jacobian(x, a=1.0):
    n = x.size
    J = np.zeros((3, n))
    J[0] = a * np.cos(x)
    J[1, 0] += x[-1]
    J[1, -1] += x[0]
    c = np.cos(x)
    for j in range(n):
        J[2, j] = -np.sin(x[j]) * np.prod(np.delete(c, j))
    return J


def scalar(x, a=1.0):
    return np.sum(x ** 3) * a + x[0] * x[1]


def scalar_grad(x, a=1.0):
    g = 3 * a * x ** 2
    g[0] += x[1]
    g[1] += x[0]
    return g


def scalar_hessian(x, a=1.0):
    H = np.diag(6 * a * x)
    H[0, 1] += 1.0
    H[1, 0] += 1.0
    return H


def tridiagonal(x):
    """Broyden tridiagonal residual: a sparse Jacobian with 3 colors."""
    xp = np.concatenate([[0.0], x, [0.0]])
    return (3 - 2 * x) * x - xp[:-2] - 2 * xp[2:] + 1


def raises_key_error(x):
    if x[2] > 0.5 + 1e-9:
        raise KeyError("deliberate")
    return np.sum(x)


class Unpicklable(Exception):
    def __init__(self, lock):
        super().__init__("holds a lock")
        self.lock = lock

    def __reduce__(self):
        raise TypeError("not picklable")


def raises_unpicklable(x):
    if x[1] > 0.5 + 1e-9:
        import threading
        raise Unpicklable(threading.Lock())
    return np.sum(x)


def nan_at_one_point(x):
    return np.sum(x) if x[3] <= 0.5 else np.nan


def changes_shape(x):
    return np.zeros(2) if x[1] > 0.5 + 1e-9 else np.zeros(3)


# the test process's name for the mark, which workers started later inherit
_MARK = os.environ.setdefault(
    "DUALFD_TEST_MARK", os.path.join(tempfile.gettempdir(),
                                     f"dualfd-test-workers-{os.getpid()}"))


def dies_once(x):
    """Kills its process the first time any process runs it (the mark file is
    created atomically), then behaves."""
    try:
        os.close(os.open(_MARK, os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return np.array([np.sum(x ** 2), x[0]])
    os._exit(3)


X = np.linspace(0.2, 0.9, 8)
LB, UB = np.zeros(8), np.full(8, 0.9)   # x[-1] on its upper bound: one-sided there


# --- engines ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def process_pool():
    with cf.ProcessPoolExecutor(2) as ex:
        yield ex


@pytest.fixture(scope="module")
def thread_pool():
    with cf.ThreadPoolExecutor(2) as ex:
        yield ex


@pytest.fixture(scope="module")
def mp_pool():
    with multiprocessing.get_context().Pool(2) as pool:
        yield pool


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0",
                                  silence_logs=logging.CRITICAL) as cluster, \
            distributed.Client(cluster) as client:
        yield client


ENGINES = ["int", "process_pool", "thread_pool", "map", "pool_map", "dask",
           "dask_executor"]


@pytest.fixture(params=ENGINES)
def workers(request):
    kind = request.param
    if kind == "int":
        return 2
    if kind == "map":
        return map
    if kind == "pool_map":
        return request.getfixturevalue("mp_pool").map
    if kind == "dask":
        return request.getfixturevalue("dask_client")
    if kind == "dask_executor":
        return request.getfixturevalue("dask_client").get_executor()
    return request.getfixturevalue(kind)


def _bitwise(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype
    assert np.array_equal(a.view(np.uint64) if a.dtype == np.float64 else a,
                          b.view(np.uint64) if b.dtype == np.float64 else b)


# --- bitwise the serial result ---------------------------------------------------------


@pytest.mark.parametrize("method", ["forward", "backward", "central", "complex"])
def test_jacobian_equals_serial(workers, method):
    kw = dict(method=method)
    serial = dfd.jacobian(vec3, **kw)(X, 2.0, b=0.5)
    with dfd.jacobian(vec3, workers=workers, **kw) as jac:
        J = jac(X, 2.0, b=0.5)
        _bitwise(J, serial)
        _bitwise(jac(X + 0.01, 2.0, b=0.5), dfd.jacobian(vec3, **kw)(X + 0.01, 2.0, b=0.5))
    tol = 1e-4 if method in ("forward", "backward") else 1e-8
    np.testing.assert_allclose(J, vec3_jacobian(X, 2.0), rtol=tol, atol=tol)


@pytest.mark.parametrize("method", ["forward", "central"])
def test_bounds_and_vectorized_equal_serial(workers, method):
    kw = dict(method=method, bounds=(LB, UB))
    with dfd.jacobian(vec3, workers=workers, **kw) as jac:
        _bitwise(jac(X, 2.0), dfd.jacobian(vec3, **kw)(X, 2.0))
    kw["vectorized"] = True
    serial = dfd.jacobian(vec3_vectorized, **kw)(X, 2.0, b=1.0)
    with dfd.jacobian(vec3_vectorized, workers=workers, **kw) as jac:
        _bitwise(jac(X, 2.0, b=1.0), serial)
    # a vectorized f in blocks of at most chunk points per call, as serially
    with dfd.jacobian(vec3_vectorized, workers=workers, chunk=3, **kw) as jac:
        _bitwise(jac(X, 2.0, b=1.0), serial)


def test_other_transforms_equal_serial(workers):
    for make in (dfd.grad, dfd.value_and_grad):
        for method in ("forward", "central"):
            serial = make(scalar, method=method)(X, 2.0)
            with make(scalar, method=method, workers=workers) as t:
                got = t(X, 2.0)
            if make is dfd.value_and_grad:
                assert float(got[0]) == float(serial[0])
                got, serial = got[1], serial[1]
            _bitwise(got, serial)
    v = np.cos(np.arange(8.0))
    for method in ("forward", "central"):
        with dfd.jvp(vec3, method=method, workers=workers) as jv:
            value, d = jv(X, v, 2.0)
        ref_value, ref_d = dfd.jvp(vec3, method=method)(X, v, 2.0)
        _bitwise(value, ref_value)
        _bitwise(d, ref_d)
        np.testing.assert_allclose(d, vec3_jacobian(X, 2.0) @ v, rtol=1e-4, atol=1e-6)


def test_scalar_x(workers):
    with dfd.grad(np.sin, workers=workers) as g:
        got = g(0.3)
    assert isinstance(got, float) and got == dfd.grad(np.sin)(0.3)


@pytest.mark.parametrize("engine", ["int", "process_pool", "dask"])
def test_hessians_equal_serial(engine, request):
    workers = {"int": 2}.get(engine) or request.getfixturevalue(
        {"process_pool": "process_pool", "dask": "dask_client"}[engine])
    for method in ("central", "dual", "complex"):
        serial = dfd.hessian(scalar, method=method)(X[:5], 2.0)
        with dfd.hessian(scalar, method=method, workers=workers) as hess:
            H = hess(X[:5], 2.0)
        _bitwise(H, serial)
        np.testing.assert_allclose(H, scalar_hessian(X[:5], 2.0), rtol=1e-6, atol=1e-6)
    pattern = np.eye(5, dtype=bool) | np.eye(5, k=1, dtype=bool) | np.eye(5, k=-1,
                                                                          dtype=bool)
    for method in ("central", "dual"):
        serial = dfd.hessian(scalar, method=method, sparsity=pattern)(X[:5], 2.0)
        with dfd.hessian(scalar, method=method, sparsity=pattern,
                         workers=workers) as hess:
            H = hess(X[:5], 2.0)
        _bitwise(H.toarray(), serial.toarray())


@pytest.mark.parametrize("engine", ["int", "thread_pool", "dask"])
@pytest.mark.parametrize("method", ["forward", "central", "complex"])
def test_sparse_jacobian_equals_serial(engine, method, request):
    pytest.importorskip("scipy")
    workers = {"int": 2}.get(engine) or request.getfixturevalue(
        {"thread_pool": "thread_pool", "dask": "dask_client"}[engine])
    x = np.linspace(-1.0, 0.5, 30)
    serial = dfd.jacobian(tridiagonal, method=method, sparsity="auto")(x)
    with dfd.jacobian(tridiagonal, method=method, sparsity="auto",
                      workers=workers) as jac:
        J = jac(x)
    _bitwise(J.toarray(), serial.toarray())
    exact = np.diag(3 - 4 * x) - np.eye(30, k=-1) - 2 * np.eye(30, k=1)
    np.testing.assert_allclose(J.toarray(), exact, atol=1e-5)


def test_check_grad_with_workers(workers):
    res = dfd.check_grad(scalar, scalar_grad, X, 2.0, workers=workers)
    assert res.ok
    serial = dfd.check_grad(scalar, scalar_grad, X, 2.0)
    _bitwise(res.numeric, serial.numeric)

    def wrong(x, a):
        g = scalar_grad(x, a)
        g[3] *= 2
        return g
    res = dfd.check_grad(scalar, wrong, X, 2.0, workers=workers)
    assert not res.ok and res.worst_index == (3,)


def test_minimize_same_path_as_serial():
    optimize = pytest.importorskip("scipy.optimize")
    x0 = np.array([-1.2, 1.0, -0.5, 0.8])
    serial = optimize.minimize(scalar_rosen, x0, jac=dfd.grad(scalar_rosen),
                               method="BFGS")
    with dfd.grad(scalar_rosen, workers=2) as g:
        parallel = optimize.minimize(scalar_rosen, x0, jac=g, method="BFGS")
    assert parallel.nit == serial.nit and parallel.nfev == serial.nfev
    _bitwise(parallel.x, serial.x)
    np.testing.assert_allclose(parallel.x, np.ones(4), atol=1e-4)


def scalar_rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def test_minimize_on_dask(dask_client):
    optimize = pytest.importorskip("scipy.optimize")
    x0 = np.array([-1.2, 1.0, -0.5])
    serial = optimize.minimize(scalar_rosen, x0, jac=dfd.grad(scalar_rosen),
                               method="L-BFGS-B")
    parallel = optimize.minimize(scalar_rosen, x0,
                                 jac=dfd.grad(scalar_rosen, workers=dask_client),
                                 method="L-BFGS-B")
    _bitwise(parallel.x, serial.x)


# --- tasks: one per worker, f shipped once ---------------------------------------------


def test_tasks_one_per_worker():
    calls = []

    def counting_map(func, items):
        items = list(items)
        calls.append([a for a, X in items])
        return map(func, items)

    pool = _workers.parse(cf.ThreadPoolExecutor(3))
    assert pool.size == 3
    spans = pool._spans(20, True)
    assert spans == [(0, 7), (7, 14), (14, 20)]
    # an unknown map-like: one point per item, as SciPy hands them over
    with dfd.jacobian(vec3, workers=counting_map) as jac:
        jac(X)
    assert calls == [list(range(2 * X.size))]


def test_dask_tasks_go_to_distinct_workers(dask_client):
    """One task per worker: two tasks queued on one worker would take twice as long."""
    from distributed import get_task_stream
    dask_client.wait_for_workers(2, timeout=60)
    jac = dfd.jacobian(vec3, workers=dask_client)
    for _ in range(4):
        with get_task_stream(dask_client) as ts:
            jac(X, 2.0)
        ran = [t["worker"] for t in ts.data if "_dask_task" in str(t["key"])]
        assert len(ran) == 2 and len(set(ran)) == 2


def test_dask_scatters_f_once(dask_client):
    pool = _workers.parse(dask_client)
    jac = dfd.jacobian(vec3, workers=pool)
    jac(X, 2.0)
    first = pool._scattered
    jac(X + 0.1, 2.0)
    assert pool._scattered is first            # same f and arguments: kept
    jac(X, 3.0)
    assert pool._scattered[0] != first[0]      # new arguments: scattered again


# --- errors ----------------------------------------------------------------------------


def test_unpicklable_f_before_any_work():
    g = dfd.grad(lambda x: np.sum(x ** 2), workers=2)
    with pytest.raises(TypeError, match=r"workers=2: f \(.*<lambda>\) cannot be pickled"):
        g(X)
    assert g.close() is None
    with cf.ProcessPoolExecutor(2) as ex:
        with pytest.raises(TypeError, match="cannot be pickled"):
            dfd.jacobian(lambda x: x, workers=ex)(X)
    with pytest.raises(TypeError, match=r"an argument of f \(args or kwargs\)"):
        dfd.grad(scalar, workers=2)(X, lambda: 1.0)


def test_unpicklable_f_on_a_pool_map(mp_pool):
    with pytest.raises(TypeError, match="could not be sent to the workers"):
        dfd.grad(lambda x: np.sum(x), workers=mp_pool.map)(X)


def test_lambdas_run_on_threads_and_dask(thread_pool, dask_client):
    f = lambda x: np.sum(x ** 2)   # noqa: E731
    for w in (thread_pool, dask_client):
        _bitwise(dfd.grad(f, workers=w)(X), dfd.grad(f)(X))


@pytest.mark.parametrize("engine", ["int", "thread_pool", "pool_map", "dask"])
def test_error_in_f_names_the_point(engine, request):
    workers = {"int": 2}.get(engine) or request.getfixturevalue(
        {"thread_pool": "thread_pool", "pool_map": "mp_pool", "dask": "dask_client"}[
            engine])
    if engine == "pool_map":
        workers = workers.map
    x = X.copy()
    x[2] = 0.5
    with pytest.raises(KeyError, match="deliberate") as info:
        dfd.grad(raises_key_error, workers=workers)(x)
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "x + h*e[2]" in notes and "on a worker" in notes
    np.testing.assert_array_equal(x[[0, 2]], [X[0], 0.5])   # the caller's x untouched


def test_unpicklable_exception_from_a_process():
    x = X.copy()
    x[1] = 0.5
    with pytest.raises(RuntimeError, match=r"Unpicklable: holds a lock(.|\n)*x \+ h\*e\[1\]"):
        dfd.grad(raises_unpicklable, method="forward", workers=2)(x)


def test_non_finite_value_names_the_point():
    x = X.copy()
    x[3] = 0.5
    with pytest.raises(ValueError, match=r"non-finite value \(nan\).*x \+ h\*e\[3\]"):
        dfd.grad(nan_at_one_point, method="forward", workers=2)(x)
    g = dfd.grad(nan_at_one_point, method="forward", workers=2, check_finite=False)
    assert np.isnan(g(x)[3])


def test_output_shape_must_not_change():
    x = X.copy()
    x[1] = 0.5
    with pytest.raises(ValueError, match="output shape must not depend on x"):
        dfd.jacobian(changes_shape, method="forward", workers=2)(x)


def test_grad_of_array_f():
    with pytest.raises(ValueError, match="needs f to return a scalar"):
        dfd.grad(vec3, workers=2)(X)
    with pytest.raises(ValueError, match="needs f to return a scalar"):
        dfd.hessian(vec3, method="central", workers=2)(X[:3])


def test_shut_down_executor():
    ex = cf.ThreadPoolExecutor(2)
    ex.shutdown()
    with pytest.raises(RuntimeError, match="ThreadPoolExecutor has been shut down"):
        dfd.grad(scalar, workers=ex)(X)


def test_shut_down_process_pool_and_closed_pool_map():
    ex = cf.ProcessPoolExecutor(2)
    ex.shutdown()
    with pytest.raises(RuntimeError, match="ProcessPoolExecutor has been shut down"):
        dfd.grad(scalar, workers=ex)(X)
    pool = multiprocessing.get_context().Pool(2)
    pool.close()
    with pytest.raises(RuntimeError, match="the Pool has been shut down"):
        dfd.grad(scalar, workers=pool.map)(X)
    pool.join()


def test_closed_dask_client():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, processes=False, dashboard_address=":0",
                                  silence_logs=logging.CRITICAL) as cluster:
        client = distributed.Client(cluster)
        g = dfd.grad(scalar, workers=client)
        _bitwise(g(X), dfd.grad(scalar)(X))
        client.close()
    with pytest.raises(RuntimeError, match="the dask Client is closed"):
        g(X)


def test_lost_process_is_a_clear_error_then_a_fresh_pool():
    try:
        os.unlink(_MARK)
    except FileNotFoundError:
        pass
    with dfd.jacobian(dies_once, workers=2) as jac:
        with pytest.raises(RuntimeError, match="ended abruptly.*no result"):
            jac(X)
        # the broken processes are replaced on the next call
        _bitwise(jac(X), dfd.jacobian(dies_once)(X))
    os.unlink(_MARK)


def test_lost_dask_worker_is_retried(dask_client):
    try:
        os.unlink(_MARK)
    except FileNotFoundError:
        pass
    J = dfd.jacobian(dies_once, workers=dask_client)(X)
    assert os.path.exists(_MARK)     # a worker did die
    _bitwise(J, dfd.jacobian(dies_once)(X))
    os.unlink(_MARK)
    dask_client.wait_for_workers(2, timeout=60)


def test_map_like_with_wrong_result_count():
    with pytest.raises(RuntimeError, match="one result per item"):
        dfd.grad(scalar, workers=lambda func, items: [func(i) for i in list(items)[:1]])(X)


@pytest.mark.parametrize("bad, err, match", [
    (0, ValueError, "positive int or -1"),
    (-2, ValueError, "positive int or -1"),
    (True, TypeError, "workers must be"),
    ("threads", TypeError, "workers must be None, an int"),
    (2.0, TypeError, "workers must be None, an int"),
])
def test_invalid_workers(bad, err, match):
    with pytest.raises(err, match=match):
        dfd.grad(scalar, workers=bad)


def test_dual_method_refuses_workers():
    with pytest.raises(ValueError, match="workers applies to finite-difference"):
        dfd.grad(scalar, method="dual", workers=2)


def test_one_worker_is_serial():
    assert dfd.grad(scalar, workers=1).__reduce__()[1][2].workers is None
    cores = len(os.sched_getaffinity(0))
    pool = _workers.parse(-1)
    assert pool is None if cores == 1 else pool.size == cores


# --- lifecycle ---------------------------------------------------------------------------


def test_processes_started_once_and_closed():
    g = dfd.grad(scalar, workers=2)
    pool = g.__reduce__()[1][2].workers
    assert pool.executor is None              # nothing started before the first call
    g(X)
    ex = pool.executor
    pids = set(ex._processes)
    g(X + 0.1)
    assert pool.executor is ex and set(ex._processes) == pids   # reused
    g.close()
    assert pool.executor is None
    for pid in pids:      # the processes are gone (reaped by shutdown)
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    _bitwise(g(X), dfd.grad(scalar)(X))       # a call after close starts new ones
    g.close()


def test_transform_with_workers_pickles_as_serial():
    g = dfd.grad(scalar, workers=2)
    h = pickle.loads(pickle.dumps(g))
    _bitwise(h(X), dfd.grad(scalar)(X))
    jv = pickle.loads(pickle.dumps(dfd.jvp(vec3, workers=2)))
    assert jv.workers is None


def test_threads_share_one_pool():
    g = dfd.grad(scalar, workers=2)
    serial = dfd.grad(scalar)(X)
    with cf.ThreadPoolExecutor(4) as ex:
        results = list(ex.map(lambda _: g(X), range(8)))
    for r in results:
        _bitwise(r, serial)
    pool = g.__reduce__()[1][2].workers
    assert len(pool.executor._processes) == 2
    g.close()
