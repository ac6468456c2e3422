"""Where finite differences evaluate f: serially (``workers=None``), or in parallel
on local processes, a map-like callable, a ``concurrent.futures.Executor`` or a
``dask.distributed.Client``.

The FD driver hands a block of stencil points (the columns of an
``x.shape + (K,)`` array) to `Workers.run`, which splits it into one task per
worker, evaluates f on each task's points (one call per point, or one call per
task for a vectorized f) and returns the values stacked on a trailing axis, as a
vectorized f would.  The driver then forms the same difference quotients from the
same values as in serial mode, so the result is bitwise the serial one.

f and its arguments are pickled once per call on the driver; workers unpickle
them once per distinct payload (a small cache keyed by its digest), and Dask
scatters them to every worker once.  An exception in f comes back with the point
it was raised at; a lost worker either gets the engine's retry (Dask) or a
RuntimeError; no partial result is ever returned.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import numbers
import os
import pickle
import threading
import traceback
import weakref

import numpy as np

from ._fd import vector_points

__all__ = ["Workers", "parse"]


def _cpu_count():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def parse(workers):
    """The `Workers` for a ``workers=`` option, or None for serial evaluation."""
    if workers is None or isinstance(workers, Workers):
        return workers
    if isinstance(workers, (bool, np.bool_)):
        raise TypeError(f"workers must be None, an int, a map-like callable, a "
                        f"concurrent.futures.Executor or a dask Client; got {workers!r}")
    if isinstance(workers, numbers.Integral):
        n = int(workers)
        if n == -1:
            n = _cpu_count()
        elif n < 1:
            raise ValueError(f"workers must be a positive int or -1 (all cores); got "
                             f"{n}")
        # as SciPy: one worker is serial evaluation, in this process
        return None if n == 1 else _LocalPool(n)
    if _is_dask_client(workers):
        return _DaskPool(workers)
    if isinstance(workers, cf.Executor):
        return _ExecutorPool(workers)
    if callable(workers):
        return _MapPool(workers)
    raise TypeError(f"workers must be None, an int, a map-like callable "
                    f"workers(func, iterable), a concurrent.futures.Executor or a "
                    f"dask.distributed.Client; got {type(workers).__name__}")


def _is_dask_client(w):
    t = type(w)
    return t.__name__ == "Client" and t.__module__.split(".")[0] == "distributed"


def _fname(f):
    return getattr(f, "__qualname__", None) or repr(f)


class Workers:
    """An evaluation engine.  `size` is its parallelism (None: unknown, a
    map-like callable); `pickles`: whether f travels to other processes by the
    standard pickle, checked before any work starts."""

    size = None
    pickles = False
    kind = "workers"

    def block_points(self, n, vectorized, chunk):
        """Stencil points per block the driver builds (memory ~ points x n doubles)
        and hands to `run` at once: enough for every worker, and for a vectorized f
        `chunk` (default 32 MB of points) per worker."""
        per = chunk or vector_points(n)
        w = self.size or _cpu_count()
        return per * w if vectorized else max(per, w)

    def run(self, f, args, kwargs, X, pointwise, name):
        """f's values at the K points X[..., k], stacked on a trailing axis
        (f_shape + (K,)).  pointwise: one call of f per point (else f is
        vectorized and gets a block per call).  name(k) names point k in errors."""
        K = X.shape[-1]
        spans = self._spans(K, pointwise)
        task = _Task(self._payload(f, args, kwargs), pointwise)
        blocks = [(a, np.ascontiguousarray(X[..., a:b])) for a, b in spans]
        try:
            parts = self._map(task, blocks)
        except _PointError as e:
            e.reraise(name)
        except Exception as e:
            raise self._engine_error(e, f) from e
        if len(parts) != len(blocks):
            raise RuntimeError(f"workers returned {len(parts)} results for "
                               f"{len(blocks)} tasks; a map-like workers(func, "
                               "iterable) must return one result per item, in order")
        for (a, b), p in zip(spans, parts):
            if not isinstance(p, np.ndarray) or p.ndim < 1 or p.shape[-1] != b - a:
                raise ValueError(
                    f"vectorized=True: f must accept x with a trailing axis of k "
                    f"points and return its values with the same trailing axis; it "
                    f"returned shape {np.shape(p)} for {b - a} points")
        if len(parts) > 1 and any(p.shape[:-1] != parts[0].shape[:-1] for p in parts):
            shapes = sorted({p.shape[:-1] for p in parts})
            raise ValueError(f"f returned shapes {shapes[0]} and {shapes[1]} at "
                             "different points; its output shape must not depend on x")
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=-1)

    def _spans(self, K, pointwise):
        """Contiguous ranges of points, one task each: as many as workers, of
        sizes differing by at most one (an unknown size: one point per task, so
        that the map-like callable schedules and batches as it likes)."""
        if self.size is None:
            t = K if pointwise else min(K, _cpu_count())
        else:
            t = min(K, self.size)
        t = max(t, 1)
        q, r = divmod(K, t)
        edges = np.cumsum([0] + [q + (i < r) for i in range(t)])
        return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]

    def _payload(self, f, args, kwargs):
        if not self.pickles:
            return (f, args, kwargs)
        return _pack(f, args, kwargs, pickle.dumps, self.kind)

    def _map(self, task, blocks):
        raise NotImplementedError

    def _engine_error(self, e, f):
        """What the engine raised (not f: f's errors come as _PointError)."""
        text = f"{type(e).__name__}: {e}"
        if isinstance(e, (pickle.PicklingError, TypeError, AttributeError)) and \
                "pickl" in text.lower():
            return TypeError(f"workers: f ({_fname(f)}) or its arguments could not be "
                             f"sent to the workers ({text}). Define f at module level "
                             "(not a lambda or a nested function), or use threads "
                             "(concurrent.futures.ThreadPoolExecutor) or a dask "
                             "Client, which pickles lambdas and closures")
        if isinstance(e, cf.process.BrokenProcessPool):
            self._broken()
            return RuntimeError("workers: a worker process ended abruptly while "
                                "evaluating f (killed, out of memory, or exited); no "
                                "result was returned. Process pools do not retry; a "
                                "dask Client reschedules the tasks of lost workers")
        if (isinstance(e, RuntimeError) and "shutdown" in str(e)) or (
                isinstance(e, ValueError) and "not running" in str(e)):
            # concurrent.futures executors, and multiprocessing.Pool's map
            engine = self._engine()
            engine = getattr(engine, "__self__", engine)   # a bound map method
            return RuntimeError(f"workers: the {type(engine).__name__} has been shut "
                                f"down ({text}); pass a running one")
        if type(e).__name__ == "KilledWorker":
            return RuntimeError(f"workers: dask gave up on a task after the workers "
                                f"running it died ({e}); no result was returned")
        if isinstance(e, cf.CancelledError):
            return RuntimeError("workers: a task was cancelled before it finished; no "
                                "result was returned")
        return e

    def _broken(self):
        pass

    def _engine(self):
        return None

    def close(self):
        """Shut down what this object started (the processes of an int);
        executors and clients the caller passed stay theirs to close."""


def _pack(f, args, kwargs, dumps, kind):
    """f and its arguments pickled once, or the TypeError that names which of them
    cannot be."""
    try:
        data = dumps((f, args, kwargs))
    except Exception as e:
        what = f"f ({_fname(f)})"
        try:
            dumps(f)
        except Exception:
            pass
        else:
            what = "an argument of f (args or kwargs)"
        raise TypeError(f"workers={kind}: {what} cannot be pickled, so it cannot be "
                        f"sent to worker processes ({type(e).__name__}: {e}). Define f "
                        "at module level (not a lambda or a nested function), or use "
                        "threads (concurrent.futures.ThreadPoolExecutor) or a dask "
                        "Client, which pickles lambdas and closures") from None
    return _Packed(hashlib.blake2b(data, digest_size=16).digest(), data)


class _Packed:
    """Pickled (f, args, kwargs) with the digest that workers cache them by."""

    __slots__ = ("key", "data")

    def __init__(self, key, data):
        self.key, self.data = key, data

    def __reduce__(self):
        return (_Packed, (self.key, self.data))


_UNPACKED = {}   # worker side: digest -> (f, args, kwargs), the last few payloads


def _unpack(payload):
    if not isinstance(payload, _Packed):
        return payload
    hit = _UNPACKED.get(payload.key)
    if hit is None:
        err = None
        try:
            hit = pickle.loads(payload.data)
        except Exception as e:
            err = _PointError(None, None, type(e).__name__,
                              f"f could not be unpickled on the worker ({e}); workers "
                              "started by spawn or forkserver import f by name, so f "
                              "must live in a module they can import",
                              traceback.format_exc())
        if err is not None:
            raise err     # outside the handler: no context to pickle
        if len(_UNPACKED) >= 4:
            _UNPACKED.clear()
        _UNPACKED[payload.key] = hit
    return hit


class _Task:
    """What a worker runs: f at a block of points (pointwise: one call each)."""

    __slots__ = ("payload", "pointwise")

    def __init__(self, payload, pointwise):
        self.payload, self.pointwise = payload, pointwise

    def __reduce__(self):
        return (_Task, (self.payload, self.pointwise))

    def __call__(self, item):
        a, X = item        # X: the points a, a + 1, ... of the driver's block
        return _evaluate(_unpack(self.payload), a, X, self.pointwise)


def _evaluate(payload, a, X, pointwise):
    f, args, kwargs = payload
    if not pointwise:
        try:
            return np.asarray(f(X, *args, **kwargs))
        except Exception as e:
            err = _PointError.of((a, a + X.shape[-1]), e)
        raise err        # outside the handler: no context to pickle
    values, first, err = [], None, None
    for k in range(X.shape[-1]):
        # each call gets its own C-contiguous point, as in serial loop mode
        point = np.array(X[..., k], order="C")
        try:
            # a copy: f may return the same buffer at every call
            v = np.array(f(point, *args, **kwargs))
        except Exception as e:
            err = _PointError.of(a + k, e)
        if err is not None:
            raise err
        if first is None:
            first = v.shape
        elif v.shape != first:
            raise _PointError(a + k, ValueError(
                f"f returned shape {v.shape} at one point and {first} at another; "
                "its output shape must not depend on x"), "ValueError", "", "")
        values.append(v)
    return np.stack(values, axis=-1)


class _PointError(Exception):
    """f raised at point `where` of the driver's block (a pair (a, b): in a
    vectorized call on points a..b-1; None: before f ran).  Travels back through
    the engine, so it holds only picklable parts."""

    def __init__(self, where, exc, tname, message, tb):
        super().__init__(where, exc, tname, message, tb)
        self.where, self.exc, self.tname, self.message, self.tb = (
            where, exc, tname, message, tb)

    @classmethod
    def of(cls, where, e):
        """From f's exception e, in its handler.  e travels without its traceback
        and chain (given as text instead): engines that pickle those (Dask installs
        tblib's reducers) would fail on an unpicklable frame or context."""
        tb = traceback.format_exc()
        e.__traceback__ = e.__context__ = e.__cause__ = None
        try:
            pickle.loads(pickle.dumps(e))
            exc = e
        except Exception:
            exc = None   # travels as its type name, message and traceback
        return cls(where, exc, type(e).__name__, str(e), tb)

    def __str__(self):    # what engines log
        return f"f raised {self.tname}: {self.message} (point {self.where} of a block)"

    def reraise(self, name):
        """f's own exception in the caller, with a note naming the point."""
        if self.where is None:
            point = "a worker, before f ran"
        elif isinstance(self.where, tuple):
            a, b = self.where
            point = f"the block of points {name(a)} ... {name(b - 1)}"
        else:
            point = name(self.where)
        note = f"dualfd: raised by f on a worker, evaluated at {point}."
        if self.tb:
            note += f"\nThe worker's traceback:\n{self.tb.rstrip()}"
        if self.exc is not None:
            exc = self.exc
            exc.__traceback__ = None
            exc.add_note(note)
            raise exc from None
        raise RuntimeError(f"{self.tname}: {self.message}\n{note}") from None


class _MapPool(Workers):
    """A map-like callable, SciPy's convention: ``workers(func, iterable)``
    returns func's results in order (``multiprocessing.Pool.map``,
    ``executor.map``, MPI pools' map ...).  It pickles f if it needs to."""

    kind = "map"

    def __init__(self, fn):
        self.fn = fn

    def _map(self, task, blocks):
        return list(self.fn(task, blocks))

    def _engine(self):
        return self.fn


class _ExecutorPool(Workers):
    """A concurrent.futures.Executor: process and thread pools, MPIPoolExecutor,
    dask's Client.get_executor().  One future per task; the first failure cancels
    the rest."""

    kind = "Executor"

    def __init__(self, executor):
        self.executor = executor
        self.pickles = isinstance(executor, cf.ProcessPoolExecutor)
        size = getattr(executor, "_max_workers", None) or getattr(
            executor, "num_workers", None)
        self.size = size if isinstance(size, int) and size > 0 else None

    def _engine(self):
        return self.executor

    def _map(self, task, blocks):
        return _submit_all(self.executor, task, blocks)


def _submit_all(executor, task, blocks):
    futures = [executor.submit(task, b) for b in blocks]
    try:
        done, _ = cf.wait(futures, return_when=cf.FIRST_EXCEPTION)
        for fut in futures:   # the first failure in point order, if any
            if fut in done and fut.exception() is not None:
                raise fut.exception()
        return [fut.result() for fut in futures]
    finally:
        for fut in futures:
            fut.cancel()


class _LocalPool(Workers):
    """workers=n: n local processes, started on first use and reused by every call
    of the transform; shut down by close(), when the transform is garbage-collected
    or at exit.  The start method is multiprocessing's default (fork on Linux
    before Python 3.14)."""

    pickles = True

    def __init__(self, n):
        self.size = n
        self.kind = str(n)
        self.executor = None
        self._finalizer = None
        self._lock = threading.Lock()   # threads calling one transform start one pool

    def __reduce__(self):
        # a copy in another process starts its own processes, if it runs at all
        return (_LocalPool, (self.size,))

    def _engine(self):
        return self.executor

    def _map(self, task, blocks):
        with self._lock:
            if self.executor is None:
                import multiprocessing
                self.executor = cf.ProcessPoolExecutor(
                    self.size, mp_context=multiprocessing.get_context())
                self._finalizer = weakref.finalize(self, _shutdown, self.executor)
            executor = self.executor
        return _submit_all(executor, task, blocks)

    def _broken(self):
        self.close()     # the next call starts fresh processes

    def close(self):
        with self._lock:
            finalizer, self.executor, self._finalizer = self._finalizer, None, None
        if finalizer is not None:
            finalizer()


def _shutdown(executor):
    executor.shutdown(wait=True, cancel_futures=True)


class _DaskPool(Workers):
    """A dask.distributed.Client: f and its arguments are scattered to every
    worker once per call (kept while they do not change), tasks are submitted as
    futures, and lost workers' tasks are rescheduled by Dask's scheduler."""

    kind = "Client"

    def __init__(self, client):
        self.client = client
        self._scattered = None   # (digest, future) of the last payload
        self._slots = []         # a worker address per thread, set by run

    def _engine(self):
        return self.client

    def _payload(self, f, args, kwargs):
        from distributed.protocol import pickle as dpickle
        packed = _pack(f, args, kwargs, dpickle.dumps, "Client")
        if self._scattered is None or self._scattered[0] != packed.key:
            [fut] = self.client.scatter([packed], broadcast=True, hash=False)
            self._scattered = (packed.key, fut)
        return self._scattered[1]

    def _map(self, task, blocks):
        # One task per worker thread, each placed on its own slot: left to itself the
        # scheduler often queued two on one worker while the other idled.
        # allow_other_workers keeps the rescheduling of a lost worker's task.
        slots = self._slots
        futures = [self.client.submit(
            _dask_task, task.payload, task.pointwise, b, pure=False,
            workers=[slots[i % len(slots)]] if slots else None,
            allow_other_workers=True) for i, b in enumerate(blocks)]
        try:
            return self.client.gather(futures)
        finally:
            self.client.cancel(futures)

    def run(self, f, args, kwargs, X, pointwise, name):
        if self.client.status != "running":
            raise RuntimeError(f"workers: the dask Client is {self.client.status}; "
                               "pass a connected one")
        # the task count and placement follow the cluster's current workers
        self._slots = [a for a, k in sorted(self.client.nthreads().items())
                       for _ in range(k)]
        self.size = max(1, len(self._slots))
        return super().run(f, args, kwargs, X, pointwise, name)


def _dask_task(payload, pointwise, item):
    """A dask task: Dask resolves the scattered payload's future before the call."""
    return _Task(payload, pointwise)(item)
