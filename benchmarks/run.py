"""Benchmark dualfd against the installed peers on shared problems.

    python benchmarks/run.py            # full run (about 11 minutes on 2 cores)
    python benchmarks/run.py --quick    # subset of sizes, under 2 minutes
    python benchmarks/run.py --out DIR  # default benchmarks/out/

Writes results.json (every measurement), results.md (a table per problem and the
targets) and results.png (time against n).  Peers that are not installed are skipped
with one line saying so.  See benchmarks/README.md for what is measured and how.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import json
import math
import os
import platform
import statistics
import sys
import time
import timeit
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

HERE = Path(__file__).resolve().parent
for _path in (HERE, HERE.parent / "tests"):   # translations.py, tests/problems.py
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import problems       # noqa: E402  (tests/problems.py: the NumPy originals)
import translations   # noqa: E402

# --- problems ------------------------------------------------------------------------------


@dataclass
class Instance:
    """One problem at one size: the NumPy function, the point, the exact derivative."""

    problem: str     # key of translations.ARRAY_FUNCTIONS (the math f computes)
    kind: str        # "grad", "jacobian" or "check_grad"
    n: int
    f: Callable      # NumPy f, also accepts batches (n, K) and complex x
    x: np.ndarray
    exact: np.ndarray   # gradient (n,) or Jacobian (m, n)
    g: Callable | None = None   # analytic derivative, for check_grad
    task: str = ""              # key of TASKS, set by run()


def rosenbrock_point(n):
    return np.resize([-1.2, 1.0], n)   # the classic start, repeated


def _rosenbrock(n, kind="grad"):
    x = rosenbrock_point(n)
    return Instance("rosenbrock", kind, n, problems.rosenbrock_objective, x,
                    problems.rosenbrock_gradient(x), problems.rosenbrock_gradient)


def _broyden(n):
    x = np.full(n, -1.0)   # the MGH starting point
    return Instance("broyden_tridiagonal", "jacobian", n,
                    problems.broyden_tridiagonal_residual, x,
                    problems.broyden_tridiagonal_jacobian(x))


def _scalar_style(n):
    x = np.array([1.3, -0.7])
    return Instance("scalar_style", "grad", n, problems.scalar_style, x,
                    problems.scalar_style_gradient(x))


def _osborne1(n):
    p = problems.BY_NAME["osborne1"]
    return Instance("osborne1", "jacobian", n, p.residual, p.x0.copy(), p.jacobian(p.x0))


@dataclass
class Task:
    name: str
    title: str
    make: Callable[[int], Instance]
    sizes: tuple
    quick_sizes: tuple


TASKS = {t.name: t for t in [
    Task("rosenbrock", "Rosenbrock gradient", _rosenbrock, (2, 10, 100, 1000), (2, 10, 100)),
    Task("broyden_tridiagonal", "Broyden tridiagonal Jacobian (MGH 30)", _broyden,
         (10, 100, 1000), (10, 100)),
    Task("scalar_style", "Scalar-style x0^2 x1 + x0 x1^3, gradient", _scalar_style, (2,), (2,)),
    Task("osborne1", "Osborne 1 Jacobian (MGH 17, n=5, m=33)", _osborne1, (5,), (5,)),
    Task("check_grad", "check_grad on the Rosenbrock gradient",
         lambda n: _rosenbrock(n, "check_grad"), (10, 100, 1000), (10, 100)),
]}

# Evaluations of f a stencil needs (the floor is this count times one bare call of f).
# Exact methods (AD, duals) count one evaluation: their ratio reads "cost in calls of f".
# Adaptive FD (numdifftools, jacobi, scipy.differentiate) is held to the central count.
EVALS = {"forward": lambda n: n + 1, "central": lambda n: 2 * n, "complex": lambda n: n,
         "exact": lambda n: 1, "adaptive": lambda n: 2 * n}


# --- libraries and methods -----------------------------------------------------------------


@dataclass
class Method:
    library: str
    label: str
    stencil: str                  # key of EVALS
    kinds: tuple                  # which Instance.kind it applies to
    build: Callable               # build(inst) -> thunk() returning the derivative
    one_shot: bool = False        # every call includes a fresh compile


def _dualfd_methods():
    import dualfd as dfd

    def transform(method, vectorized=False):
        def build(inst):
            make = dfd.grad if inst.kind == "grad" else dfd.jacobian
            d = make(inst.f, method=method, vectorized=vectorized)
            return lambda: d(inst.x)
        return build

    def check(method):
        def build(inst):
            return lambda: dfd.check_grad(inst.f, inst.g, inst.x, method=method)
        return build

    fd = ("grad", "jacobian")
    out = []
    for stencil in ("forward", "central", "complex"):
        out.append(Method("dualfd", stencil, stencil, fd, transform(stencil)))
    for stencil in ("forward", "central", "complex"):
        out.append(Method("dualfd", f"{stencil} vec", stencil, fd, transform(stencil, True)))
    out.append(Method("dualfd", "dual", "exact", fd, transform("dual")))
    # reverse mode: one backward sweep per output, so gradients only
    out.append(Method("dualfd", "reverse", "exact", ("grad",), transform("reverse")))
    out.append(Method("dualfd", "check_grad", "central", ("check_grad",), check("central")))
    for stencil in ("forward", "complex"):
        out.append(Method("dualfd", f"check_grad {stencil}", stencil, ("check_grad",),
                          check(stencil)))
    out.append(Method("dualfd", "check_grad dual", "exact", ("check_grad",), check("dual")))
    return out


def _scipy_methods():
    from scipy.optimize import approx_fprime, check_grad
    from scipy.optimize._numdiff import approx_derivative   # not exported in SciPy 1.17

    def sp_jacobian(f, x):   # scipy.differentiate is new in SciPy 1.15
        from scipy.differentiate import jacobian
        return jacobian(f, x)

    def numdiff(method):
        return lambda inst: lambda: approx_derivative(inst.f, inst.x, method=method)

    def differentiate(inst):
        if inst.kind == "grad":
            f = inst.f
            return lambda: sp_jacobian(lambda x: f(x)[np.newaxis], inst.x).df[0]
        return lambda: sp_jacobian(inst.f, inst.x).df

    fd = ("grad", "jacobian")
    return [
        Method("scipy", "approx_derivative 2-point", "forward", fd, numdiff("2-point")),
        Method("scipy", "approx_derivative 3-point", "central", fd, numdiff("3-point")),
        Method("scipy", "approx_derivative cs", "complex", fd, numdiff("cs")),
        Method("scipy", "approx_fprime", "forward", fd,
               lambda inst: lambda: approx_fprime(inst.x, inst.f)),
        Method("scipy", "differentiate.jacobian", "adaptive", fd, differentiate),
        Method("scipy", "check_grad", "forward", ("check_grad",),
               lambda inst: lambda: check_grad(inst.f, inst.g, inst.x)),
    ]


def _numdifftools_methods():
    import numdifftools as nd

    def build(inst):
        d = (nd.Gradient if inst.kind == "grad" else nd.Jacobian)(inst.f)
        return lambda: d(inst.x)
    return [Method("numdifftools", "Gradient/Jacobian", "adaptive", ("grad", "jacobian"), build)]


def _jacobi_methods():
    from jacobi import jacobi
    return [Method("jacobi", "jacobi", "adaptive", ("grad", "jacobian"),
                   lambda inst: lambda: jacobi(inst.f, inst.x)[0])]


def _autograd_methods():
    import autograd

    def build(inst):
        f = translations.array_function(inst.problem, "autograd")
        d = (autograd.grad if inst.kind == "grad" else autograd.jacobian)(f)
        return lambda: d(inst.x)
    return [Method("autograd", "grad/jacobian", "exact", ("grad", "jacobian"), build)]


def _num_dual_methods():
    import num_dual

    def build(inst):
        f = translations.num_dual_function(inst.problem)
        d = num_dual.gradient if inst.kind == "grad" else num_dual.jacobian
        return lambda: np.asarray(d(f, inst.x.tolist())[1])
    return [Method("num-dual", "gradient/jacobian", "exact", ("grad", "jacobian"), build)]


def _fastdual_methods():
    import fastdual

    def build(inst):
        # DualArray seeds one dual per entry of x; fastdual.jac reads J off the result
        def call():
            s = fastdual.DualArray(inst.x)
            J = np.asarray(fastdual.jac(np.atleast_1d(inst.f(s)), s), dtype=np.float64)
            return J.reshape(inst.x.shape) if inst.kind == "grad" else J
        return call
    return [Method("fastdual", "DualArray + jac", "exact", ("grad", "jacobian"), build)]


def _jax_methods():
    import jax
    jax.config.update("jax_enable_x64", True)

    def transform(inst):
        return jax.grad if inst.kind == "grad" else jax.jacfwd

    def eager(inst):
        d = transform(inst)(translations.array_function(inst.problem, "jax"))
        return lambda: np.asarray(d(inst.x))   # NumPy in, NumPy out, like the others

    def jitted(inst):
        d = jax.jit(transform(inst)(translations.array_function(inst.problem, "jax")))
        return lambda: np.asarray(d(inst.x))

    def one_shot(inst):
        def call():   # a new function object: jax.jit traces and compiles it afresh
            f = translations.array_function(inst.problem, "jax")
            return np.asarray(jax.jit(transform(inst)(f))(inst.x))
        return call

    fd = ("grad", "jacobian")
    return [Method("jax", "grad/jacfwd eager", "exact", fd, eager),
            Method("jax", "jit(grad/jacfwd)", "exact", fd, jitted),
            Method("jax", "jit(grad/jacfwd) one-shot", "exact", fd, one_shot, one_shot=True)]


def _torch_methods():
    import torch
    from torch.func import jacfwd, jacrev

    def transform(d):
        def build(inst):
            j = d(translations.array_function(inst.problem, "torch"))
            return lambda: j(torch.from_numpy(inst.x)).numpy()
        return build
    fd = ("grad", "jacobian")
    return [Method("torch", "func.jacfwd", "exact", fd, transform(jacfwd)),
            Method("torch", "func.jacrev", "exact", fd, transform(jacrev))]


# library -> (how to install it, method factory); the factory imports the library.
LIBRARIES = {
    "dualfd": ("pip install -e .", _dualfd_methods),
    "scipy": ("pip install scipy", _scipy_methods),
    "numdifftools": ("pip install numdifftools", _numdifftools_methods),
    "jacobi": ("pip install jacobi", _jacobi_methods),
    "autograd": ("pip install autograd", _autograd_methods),
    "num-dual": ("pip install num-dual", _num_dual_methods),
    "fastdual": ("pip install fastdual", _fastdual_methods),
    "jax": ("pip install jax", _jax_methods),
    "torch": ("see benchmarks/README.md", _torch_methods),
}
PEERS_WITHOUT_COMPILER = ("torch", "autograd", "num-dual", "fastdual")


def load_methods(names):
    """Methods of the installed libraries among `names`; one stderr line per skip."""
    methods, versions = [], {}
    for name in names:
        install, factory = LIBRARIES[name]
        try:
            methods += factory()
        except ImportError as exc:
            log(f"skip {name}: not installed ({exc.name or exc}); {install}")
            versions[name] = "not installed"
            continue
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "?"
    return methods, versions


# --- timing --------------------------------------------------------------------------------


@dataclass
class Settings:
    min_time: float      # autorange: one timed batch lasts at least this long
    repeat: int          # timed batches after autorange
    case_budget: float   # a case whose single call is slow gets fewer runs to fit this
    give_up: float       # a single call slower than this skips the method's larger sizes


MODES = {
    "full": Settings(min_time=0.2, repeat=7, case_budget=5.0, give_up=10.0),
    "quick": Settings(min_time=0.02, repeat=5, case_budget=0.3, give_up=0.4),
    "smoke": Settings(min_time=0.001, repeat=3, case_budget=0.05, give_up=1.0),
}


def autorange(timer, min_time):
    """timeit.Timer.autorange with a settable threshold: the first number in
    1, 2, 5, 10, 20, 50, ... whose batch takes at least min_time, then scaled down so
    that a batch lasts about min_time rather than up to 2.5 times it."""
    scale = 1
    while True:
        for step in (1, 2, 5):
            number = scale * step
            elapsed = timer.timeit(number)
            if elapsed >= min_time:
                return max(1, round(number * min_time / elapsed))
        scale *= 10


def measure(thunk, settings, reference=None):
    """Per-call times of thunk: a warm-up call, autorange, then repeated batches.

    With `reference` (the bare call of f), a batch of it is timed before every batch
    of thunk, so a change in machine load hits both alike and their ratio holds.
    Returns (result, times, reference times, time of one call after the warm-up)."""
    result = thunk()   # warm-up (caches, lazy initialisation); the answer checked for accuracy
    timer = timeit.Timer(thunk)
    probe = timer.timeit(1)
    if probe * settings.repeat > settings.case_budget:   # slow: single calls, fewer runs
        runs, number = max(1, min(settings.repeat, int(settings.case_budget / probe))), 1
    else:
        runs = settings.repeat
        number = 1 if probe >= settings.min_time else autorange(timer, settings.min_time)
    if reference is not None:
        ref_timer = timeit.Timer(reference)
        ref_number = autorange(ref_timer, settings.min_time / 4)
    times, ref_times = [], []
    for _ in range(runs):
        if reference is not None:
            ref_times.append(ref_timer.timeit(ref_number) / ref_number)
        times.append(timer.timeit(number) / number)
    return result, times, ref_times, probe


def summarize(times):
    times = sorted(times)
    q = statistics.quantiles(times, n=4, method="inclusive") if len(times) > 1 else [times[0]] * 3
    return {"median": statistics.median(times), "q1": q[0], "q3": q[2],
            "min": times[0], "max": times[-1], "runs": len(times)}


def relative_error(result, inst):
    """max|D - D_exact| / max(1, max|D_exact|); check_grad: its 2-norm, same scale."""
    scale = max(1.0, float(np.max(np.abs(inst.exact))))
    if inst.kind == "check_grad":
        return float(result) / scale
    d = np.asarray(result, dtype=np.float64)
    if d.size != inst.exact.size:
        raise ValueError(f"derivative has shape {d.shape}, expected {inst.exact.shape}")
    return float(np.max(np.abs(d.reshape(inst.exact.shape) - inst.exact))) / scale


# --- the run -------------------------------------------------------------------------------


def log(message, end="\n"):
    print(message, file=sys.stderr, end=end, flush=True)


def fmt_time(seconds):
    if seconds is None or not math.isfinite(seconds):
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def run(mode, libraries, tasks=None):
    settings = MODES[mode]
    methods, versions = load_methods(libraries)
    tasks = tasks or (["rosenbrock"] if mode == "smoke" else list(TASKS))
    plan = []
    for name in tasks:
        task = TASKS[name]
        sizes = {"full": task.sizes, "quick": task.quick_sizes, "smoke": task.sizes[:1]}[mode]
        for n in sizes:
            inst = dataclasses.replace(task.make(n), task=name)
            plan += [(inst, m) for m in methods if inst.kind in m.kinds]
    samples, rows, too_slow = {}, [], {}
    for index, (inst, method) in enumerate(plan, 1):
        key = (inst.task, inst.n)
        if key not in samples:
            samples[key] = floor_times(inst, settings)
        where = f"[{index}/{len(plan)}] {inst.task} n={inst.n} {method.library} {method.label}"
        log(f"{where} ...", end="")
        row = {"task": inst.task, "n": inst.n, "library": method.library,
               "method": method.label, "stencil": method.stencil,
               "evals": EVALS[method.stencil](inst.n), "one_shot": method.one_shot}
        slow = too_slow.get((inst.task, method.library, method.label))
        if slow:
            row.update(status="skipped", note=f"n={slow[0]} took {fmt_time(slow[1])} per call")
        else:
            row.update(time_case(inst, method, settings))
            if row["status"] == "ok" and row["single"] > settings.give_up:
                too_slow[(inst.task, method.library, method.label)] = (inst.n, row["single"])
        log(" " + (fmt_time(row["median"]) if row["status"] == "ok"
                   else f"{row['status']}: {row['note']}"))
        rows.append(row)
        if index == len(plan) or (plan[index][0].task, plan[index][0].n) != key:
            # measured again after the group's last case, so drift in machine load
            # shows up in the floor as it does in the cases
            for name, times in floor_times(inst, settings).items():
                samples[key][name] += times
    floors = {key: floor_medians(times) for key, times in samples.items()}
    add_ratios(rows, floors)
    add_compile_times(rows)
    return {"mode": mode, "versions": versions, "settings": dataclasses.asdict(settings),
            "floors": [{"task": t, "n": n, **v} for (t, n), v in floors.items()],
            "rows": rows}


def floor_times(inst, settings):
    """Times of one bare call of f at x, at complex x (what the complex step calls)
    and of g (check_grad), measured like the methods."""
    z = inst.x.astype(complex)
    calls = {"f": lambda: inst.f(inst.x), "f_complex": lambda: inst.f(z)}
    if inst.kind == "check_grad":
        calls["g"] = lambda: inst.g(inst.x)
    return {name: measure(call, settings)[1] for name, call in calls.items()}


def bare_call(inst, stencil):
    """The call of f a method repeats: at x, or at complex x for the complex step."""
    if stencil == "complex":
        z = inst.x.astype(complex)
        return lambda: inst.f(z)
    return lambda: inst.f(inst.x)


def floor_medians(samples):
    return {name: statistics.median(times) for name, times in samples.items()}


def time_case(inst, method, settings):
    try:
        thunk = method.build(inst)
    except (NotImplementedError, AttributeError, ImportError) as exc:
        return {"status": "unavailable", "note": f"{type(exc).__name__}: {exc}"}
    try:
        result, times, ref_times, single = measure(thunk, settings,
                                                   bare_call(inst, method.stencil))
        error = relative_error(result, inst)
    except (NotImplementedError, AttributeError) as exc:
        return {"status": "unavailable", "note": f"{type(exc).__name__}: {exc}"}
    except Exception as exc:   # a peer that cannot run this problem is reported, not fatal
        note = f"{type(exc).__name__}: {exc}".splitlines()[0][:160]
        return {"status": "failed", "note": note}
    return {"status": "ok", "note": "", "single": single,
            "f_call": statistics.median(ref_times),
            "error": error, **summarize(times)}


def add_ratios(rows, floors):
    fastest = {}
    for r in rows:
        if r["status"] == "ok" and r["library"] != "dualfd" and not r["one_shot"]:
            key = (r["task"], r["n"])
            if key not in fastest or r["median"] < fastest[key][0]:
                fastest[key] = (r["median"], f"{r['library']} {r['method']}")
    for r in rows:
        if r["status"] != "ok":
            continue
        floor = floors[(r["task"], r["n"])]
        r["floor"] = r["evals"] * r["f_call"] + floor.get("g", 0.0)
        r["x_floor"] = r["median"] / r["floor"]
        best = fastest.get((r["task"], r["n"]))
        r["fastest_peer"] = best[1] if best else None
        r["x_fastest_peer"] = r["median"] / best[0] if best else None


def add_compile_times(rows):
    """JAX: compile time = one-shot (trace + compile + first call) - steady call."""
    steady = {(r["task"], r["n"], r["library"], r["method"]): r for r in rows}
    for r in rows:
        if r["one_shot"] and r["status"] == "ok":
            base = steady.get((r["task"], r["n"], r["library"],
                               r["method"].removesuffix(" one-shot")))
            if base and base["status"] == "ok":
                r["compile"] = r["median"] - base["median"]
                r["note"] = f"compile ~{fmt_time(r['compile'])}"


# --- targets ---------------------------------------------------------------------------------


def targets(rows):
    """The promised figures: (what, measured, target, PASS/MISS/n/a)."""
    index = {(r["task"], r["n"], r["library"], r["method"]): r for r in rows}

    def get(task, n, library, method):
        r = index.get((task, n, library, method))
        return r if r and r["status"] == "ok" else None

    out = []

    def add(what, value, goal, ok, fmt="{:.2f}"):
        measured = "n/a" if value is None else fmt.format(value)
        out.append({"target": what, "measured": measured, "goal": goal,
                    "status": "n/a" if value is None else ("PASS" if ok else "MISS")})

    # FD loop mode: time / floor <= 1.10 for n >= 10 (Broyden, Rosenbrock)
    for stencil in ("forward", "central", "complex"):
        ratios = [(r["x_floor"], r["task"], r["n"]) for r in rows
                  if r["library"] == "dualfd" and r["method"] == stencil and r["n"] >= 10
                  and r["task"] in ("rosenbrock", "broyden_tridiagonal") and r["status"] == "ok"]
        worst = max(ratios) if ratios else None
        add(f"FD loop {stencil}: worst time/floor, n >= 10"
            + (f" ({worst[1]} n={worst[2]})" if worst else ""),
            worst[0] if worst else None, "<= 1.10", worst and worst[0] <= 1.10)

    def speedup(slow, fast):
        return slow["median"] / fast["median"] if slow and fast else None

    # FD vectorized, Broyden n = 100: >= 20x faster than approx_derivative, same stencil
    for stencil, peer in (("forward", "2-point"), ("central", "3-point"), ("complex", "cs")):
        s = speedup(get("broyden_tridiagonal", 100, "scipy", f"approx_derivative {peer}"),
                    get("broyden_tridiagonal", 100, "dualfd", f"{stencil} vec"))
        add(f"FD {stencil} vec vs approx_derivative {peer}, Broyden n=100: speed-up", s,
            ">= 20x", s is not None and s >= 20, "{:.1f}x")

    # Duals, Broyden n = 100
    dual = get("broyden_tridiagonal", 100, "dualfd", "dual")
    peers = [r for r in rows if r["task"] == "broyden_tridiagonal" and r["n"] == 100
             and r["library"] in PEERS_WITHOUT_COMPILER and r["status"] == "ok"]
    best = min(peers, key=lambda r: r["median"]) if peers else None
    s = speedup(best, dual)
    add("dual vs fastest of torch/autograd/num-dual/fastdual, Broyden n=100"
        + (f" ({best['library']} {best['method']})" if best else ""), s, ">= 5x",
        s is not None and s >= 5, "{:.1f}x")
    jit = get("broyden_tridiagonal", 100, "jax", "jit(grad/jacfwd)")
    s = speedup(dual, jit)
    add("dual time / jax.jit(jacfwd) time (after compile), Broyden n=100", s, "<= 2",
        s is not None and s <= 2)
    s = speedup(get("broyden_tridiagonal", 100, "jax", "jit(grad/jacfwd) one-shot"), dual)
    add("dual vs JAX one-shot (compile + first call), Broyden n=100", s, ">= 50x",
        s is not None and s >= 50, "{:.0f}x")

    # Scalar style
    s = speedup(get("scalar_style", 2, "num-dual", "gradient/jacobian"),
                get("scalar_style", 2, "dualfd", "dual"))
    add("dual vs num-dual gradient, scalar-style n=2", s, "> 1x", s is not None and s > 1,
        "{:.2f}x")
    for stencil, peer in (("forward", "2-point"), ("central", "3-point"), ("complex", "cs")):
        r = get("scalar_style", 2, "dualfd", stencil)
        add(f"FD {stencil} time/floor, scalar-style n=2", r and r["x_floor"], "<= 1.6",
            r is not None and r["x_floor"] <= 1.6)
        s = speedup(get("scalar_style", 2, "scipy", f"approx_derivative {peer}"), r)
        add(f"FD {stencil} vs approx_derivative {peer}, scalar-style n=2", s, ">= 20x",
            s is not None and s >= 20, "{:.1f}x")

    # check_grad: dualfd's fastest variant whose error is no worse than SciPy's
    for n in sorted({r["n"] for r in rows if r["task"] == "check_grad"}):
        theirs = get("check_grad", n, "scipy", "check_grad")
        ours = [r for r in rows if r["task"] == "check_grad" and r["n"] == n
                and r["library"] == "dualfd" and r["status"] == "ok"]
        fit = [r for r in ours if theirs and r["error"] <= theirs["error"] * 1.01 + 1e-15]
        best = min(fit or ours, key=lambda r: r["median"]) if ours else None
        s = speedup(theirs, best)
        add(f"dfd.check_grad vs scipy check_grad, Rosenbrock n={n}"
            + (f" ({best['method']}; error {best['error']:.1e} vs {theirs['error']:.1e})"
               if best and theirs else ""), s, ">= 2x, error <=",
            s is not None and s >= 2 and bool(fit), "{:.1f}x")
    return out


# --- output ----------------------------------------------------------------------------------


def write_json(report, path):
    path.write_text(json.dumps(report, indent=1, default=str) + "\n")


def stamp(report, start):
    """The run's duration since `start` (perf_counter), date and machine."""
    report["seconds"] = time.perf_counter() - start
    report["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    report["machine"] = (f"{platform.machine()}, {os.cpu_count()} cpus, Python "
                         f"{platform.python_version()}")
    return report


def save(report, out, stem, text):
    """out/stem.json and out/stem.md (text, also printed)."""
    out.mkdir(parents=True, exist_ok=True)
    write_json(report, out / f"{stem}.json")
    (out / f"{stem}.md").write_text(text)
    print(text)
    print(f"wrote {out / (stem + '.json')}, {stem}.md")


def markdown_tables(report):
    floors = {(f["task"], f["n"]): f for f in report["floors"]}
    lines = [f"# dualfd benchmarks ({report['mode']} run)", "",
             f"{report['machine']}; {report['date']}; total {report['seconds']:.0f} s.",
             "Libraries: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()) + ".",
             "Median time per call (IQR in brackets); x floor = time / (evaluations x "
             "one bare call of f); x peer = time / fastest peer's median (same n); "
             "error = max|D - D_exact| / max(1, max|D_exact|).", ""]
    for name, task in TASKS.items():
        rows = [r for r in report["rows"] if r["task"] == name]
        if not rows:
            continue
        lines += [f"## {task.title}", ""]
        sizes = sorted({r["n"] for r in rows})
        lines.append("Bare call of f (real x / complex x): " + ", ".join(
            f"n={n}: {fmt_time(floors[(name, n)]['f'])} / "
            f"{fmt_time(floors[(name, n)]['f_complex'])}" for n in sizes))
        lines += ["", "| n | library | method | median [IQR] | x floor | x peer | error | note |",
                  "|---:|---|---|---|---:|---:|---:|---|"]
        for r in sorted(rows, key=lambda r: (r["n"], r.get("median") or math.inf)):
            if r["status"] == "ok":
                lines.append(
                    f"| {r['n']} | {r['library']} | {r['method']} | {fmt_time(r['median'])} "
                    f"[{fmt_time(r['q1'])}–{fmt_time(r['q3'])}] | {r['x_floor']:.3g} | "
                    + (f"{r['x_fastest_peer']:.3g}" if r["x_fastest_peer"] else "-")
                    + f" | {r['error']:.1e} | {r['note']} |")
            else:
                lines.append(f"| {r['n']} | {r['library']} | {r['method']} | {r['status']} "
                             f"| | | | {r['note'].replace('|', '/')} |")
        lines.append("")
    lines += ["## Targets", "", targets_table(report["targets"])]
    return "\n".join(lines) + "\n"


def targets_table(items):
    lines = ["| target | measured | goal | status |", "|---|---:|---|---|"]
    lines += [f"| {t['target']} | {t['measured']} | {t['goal']} | {t['status']} |"
              for t in items]
    return "\n".join(lines)


PEER_COLORS = {"scipy": "tab:blue", "numdifftools": "tab:olive", "jacobi": "tab:brown",
               "autograd": "tab:green", "num-dual": "tab:purple", "jax": "tab:cyan",
               "torch": "tab:gray", "fastdual": "tab:pink"}
MARKERS = "osD^v<>ph*"


OUR_COLORS = {"forward": "red", "central": "darkorange", "complex": "goldenrod",
              "dual": "deeppink", "reverse": "darkred"}


def plot_styles(labels):
    """(color, marker, linewidth, linestyle) per (library, method): one colour per peer
    library; dualfd thicker, coloured by stencil, vectorized mode dash-dotted."""
    styles = {}
    for library in sorted({lab[0] for lab in labels}):
        for i, lab in enumerate(lab for lab in labels if lab[0] == library):
            if library == "dualfd":
                kind = next((k for k in OUR_COLORS if k in lab[1]), "central")
                styles[lab] = (OUR_COLORS[kind], MARKERS[i % len(MARKERS)], 2.0,
                               "-." if "vec" in lab[1] else "-")
            else:
                styles[lab] = (PEER_COLORS.get(library, "black"), MARKERS[i % len(MARKERS)],
                               1.0, "-")
    return styles


def plot(report, path):
    """Time per call against n, log-log, one line per library/method and the floor
    (n calls of f) dashed; a task measured at one size is drawn as sorted bars."""
    try:
        import matplotlib
    except ImportError:
        log("skip results.png: matplotlib is not installed")
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in report["rows"] if r["status"] == "ok"]
    names = [t for t in TASKS if any(r["task"] == t for r in ok)]
    floors = {(f["task"], f["n"]): f["f"] * f["n"] for f in report["floors"]}
    labels = sorted({(r["library"], r["method"]) for r in ok},
                    key=lambda lab: (lab[0] != "dualfd", lab))
    styles = plot_styles(labels)
    cols = min(3, len(names))
    fig, axes = plt.subplots(math.ceil(len(names) / cols), cols,
                             figsize=(6.5 * cols, 5 * math.ceil(len(names) / cols)),
                             squeeze=False)
    handles = {}
    for ax, name in zip(axes.flat, names):
        rows = [r for r in ok if r["task"] == name]
        sizes = sorted({r["n"] for r in rows})
        if len(sizes) == 1:
            rows.sort(key=lambda r: r["median"])
            ax.barh(range(len(rows)), [r["median"] for r in rows],
                    color=[styles[(r["library"], r["method"])][0] for r in rows])
            ax.set_yticks(range(len(rows)), [f"{r['library']} {r['method']}" for r in rows],
                          fontsize=7)
            ax.invert_yaxis()
            ax.axvline(floors[(name, sizes[0])], color="k", ls="--", lw=1.5)
            ax.set(xscale="log", xlabel="time per call [s]", title=f"{TASKS[name].title}")
            ax.grid(True, axis="x", which="both", alpha=0.3)
            continue
        for lab in labels:
            pts = sorted((r["n"], r["median"]) for r in rows if (r["library"], r["method"]) == lab)
            if pts:
                color, marker, width, line = styles[lab]
                (h,) = ax.plot(*zip(*pts), marker=marker, color=color, lw=width, ls=line, ms=4)
                handles[f"{lab[0]} {lab[1]}"] = h
        (h,) = ax.plot(sizes, [floors[(name, n)] for n in sizes], "k--", lw=1.5)
        handles["floor: n calls of f"] = h
        ax.set(xscale="log", yscale="log", title=TASKS[name].title, xlabel="n",
               ylabel="time per call [s]")
        ax.grid(True, which="both", alpha=0.3)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.legend(list(handles.values()), list(handles.keys()), loc="center left",
               bbox_to_anchor=(1.0, 0.5), fontsize=8)
    fig.suptitle(f"dualfd benchmarks ({report['mode']} run, {report['machine']})")
    fig.tight_layout()
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="subset of sizes; < 2 minutes")
    parser.add_argument("--smoke", action="store_true",
                        help="one tiny case, dualfd only (for the test suite)")
    parser.add_argument("--out", type=Path, default=HERE / "out", help="output directory")
    parser.add_argument("--libs", default=",".join(LIBRARIES),
                        help="comma-separated libraries to run (default: all installed)")
    parser.add_argument("--tasks", default=None,
                        help=f"comma-separated subset of {', '.join(TASKS)}")
    args = parser.parse_args(argv)
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    libs = ["dualfd"] if args.smoke else [s.strip() for s in args.libs.split(",") if s.strip()]
    unknown = set(libs) - set(LIBRARIES)
    if unknown:
        parser.error(f"unknown libraries {sorted(unknown)}; choose from {list(LIBRARIES)}")
    tasks = args.tasks.split(",") if args.tasks else None
    if tasks and set(tasks) - set(TASKS):
        parser.error(f"unknown tasks {sorted(set(tasks) - set(TASKS))}; choose from {list(TASKS)}")

    start = time.perf_counter()
    report = run(mode, libs, tasks)
    stamp(report, start)["machine"] += f", NumPy {np.__version__}"
    report["targets"] = targets(report["rows"])
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(report, args.out / "results.json")
    (args.out / "results.md").write_text(markdown_tables(report))
    plotted = plot(report, args.out / "results.png")
    print(f"\nTargets ({mode} run, {report['seconds']:.0f} s)\n")
    print(targets_table(report["targets"]))
    print(f"\nwrote {args.out / 'results.json'}, results.md"
          + (", results.png" if plotted else ""))
    return report


if __name__ == "__main__":
    main()
