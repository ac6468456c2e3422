"""Hessians and Hessian-vector products (issue 12): dualfd against JAX, PyTorch, num-dual,
fastdual, numdifftools and scipy.differentiate.

    python benchmarks/hessian.py            # full: Rosenbrock n = 10..1000, hvp to 1e4 (~3.5 min)
    python benchmarks/hessian.py --quick    # n <= 100 (hvp: and 1e4), short batches (~20 s)
    python benchmarks/hessian.py --smoke    # Rosenbrock n = 10 only (the test runs this)
    python benchmarks/hessian.py --out DIR  # default benchmarks/out/
    python benchmarks/hessian.py --libs dualfd,scipy   # a subset of the libraries

Problems: the Rosenbrock function with scipy.optimize.rosen's semantics (exact Hessian
scipy.optimize.rosen_hess, products rosen_hess_prod) at (-1.2, 1, -1.2, ...), and the
negative log-likelihood of independent Gaussian samples (p = 5 components, 1000 samples
each) in theta = (mu_1..mu_p, log sigma_1..log sigma_p), whose Hessian is written out in
`gauss_hessian`.  Per case every method is timed in the same loop (methods interleaved
within each round, so machine load hits all alike), with one bare call of f as the
reference row.  A method whose call is predicted (from its smaller sizes) to exceed the
mode's limit is skipped at that n and the table says so.  dfd.hvp rows appear only when
dualfd has `hvp`.  Writes hessian.json, hessian.md and hessian.png (time against n;
only when matplotlib is importable).  Exit status 1 if any dualfd result is off the
exact one by more than 1e-6 relative, so a broken engine never yields a table.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import sys
import time
import timeit
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import scipy
from scipy.optimize import rosen_hess, rosen_hess_prod

HERE = Path(__file__).resolve().parent
for _path in (HERE, HERE.parent / "tests"):   # run.py, translations.py, tests/problems.py
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import run as house    # noqa: E402  (run.py: autorange, summarize, stamp, save, fmt_time, log)
import translations    # noqa: E402  (the Rosenbrock sum on lists of dual scalars)

WRONG_BEYOND = 1e-6      # a dualfd result off by more than this (relative) fails the run
EXACT_GOAL = 1e-13       # dualfd dual: error relative to max|H_exact|
PEER_GOAL = 5.0          # n = 100: fastest peer without a compiler / dualfd dual
JIT_GOAL = 3.0           # n = 100: dualfd dual / jax.jit(hessian) steady state
HVP_GOAL = 10.0          # n = 1e4: dfd.hvp(f)(x, v) / f(x)
GOAL_N, HVP_GOAL_N = 100, 10_000
HVP_DENSE_MAX = 1000     # H @ v from a dense Hessian only up to this n (1e4: 800 MB)

# mode -> (house timing settings, rounds, seconds a call may take, seconds per method
# and case at most)
MODES = {"full": (house.MODES["full"], 7, 5.0, 5.0),
         "quick": (house.MODES["quick"], 5, 0.5, 0.3),
         "smoke": (house.MODES["smoke"], 2, 0.5, 0.05)}
SIZES = {"full": {"hessian": (10, 100, 1000), "hvp": (10, 100, 1000, 10_000)},
         "quick": {"hessian": (10, 100), "hvp": (10, 100, 10_000)},
         "smoke": {"hessian": (10,), "hvp": (10,)}}

# --- problems ------------------------------------------------------------------------------


def rosen(x, xp=None):
    """scipy.optimize.rosen: sum(100 (x[1:] - x[:-1]**2)**2 + (1 - x[:-1])**2) over axis 0,
    so x of shape (n, ...) gives one value per trailing index (scipy.differentiate)."""
    a, b = x[:-1], x[1:]
    return (100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2).sum(0)


GAUSS_P, GAUSS_N = 5, 1000


def gauss_data():
    """(N, p) samples, component k ~ N(k, (k + 1)**2); seed 12."""
    rng = np.random.default_rng(12)
    return rng.normal(size=(GAUSS_N, GAUSS_P)) * np.arange(1, GAUSS_P + 1) + np.arange(GAUSS_P)


def gauss_nll(Y, exp):
    """Negative log-likelihood (without N p log(2 pi) / 2) of the columns of Y, column k
    ~ N(mu_k, exp(s_k)**2), theta = (mu, s): sum_k N s_k + S2_k exp(-2 s_k) / 2 with
    S2_k = sum_j (Y_jk - mu_k)**2.  theta may carry trailing batch axes; `exp` is the
    array library's."""
    N, p = Y.shape

    def f(theta):
        mu, s = theta[:p], theta[p:]
        r = Y.reshape(Y.shape + (1,) * (theta.ndim - 1)) - mu
        return N * s.sum(0) + 0.5 * ((r * r).sum(0) * exp(-2.0 * s)).sum(0)
    return f


def gauss_hessian(Y, theta):
    """The analytic Hessian of gauss_nll: with S1_k = sum_j (Y_jk - mu_k), w_k =
    exp(-2 s_k): d2/dmu_k2 = N w_k, d2/dmu_k ds_k = 2 S1_k w_k, d2/ds_k2 = 2 S2_k w_k;
    every other entry is 0 (the components are independent)."""
    N, p = Y.shape
    mu, s = theta[:p], theta[p:]
    r = Y - mu
    w = np.exp(-2.0 * s)
    H = np.zeros((2 * p, 2 * p))
    k = np.arange(p)
    H[k, k] = N * w
    H[k, p + k] = H[p + k, k] = 2.0 * r.sum(0) * w
    H[p + k, p + k] = 2.0 * (r * r).sum(0) * w
    return H


def gauss_point(Y):
    """Off the maximum-likelihood point, so that no entry of H vanishes by symmetry."""
    return np.concatenate([Y.mean(0) + 0.1 * np.arange(1, GAUSS_P + 1),
                           np.log(Y.std(0)) + 0.05])


def rosen_point(n):
    return np.resize([-1.2, 1.0], n)


@dataclass
class Case:
    section: str          # "hessian" or "hvp"
    problem: str          # "rosenbrock" or "gauss"
    n: int
    f: Callable           # NumPy f (also takes Duals and trailing batch axes)
    x: np.ndarray
    exact: np.ndarray     # H (n, n) or H @ v (n,)
    v: np.ndarray | None = None

    @property
    def key(self):
        return f"{self.section} {self.problem} n={self.n}"


def cases(mode):
    out = [Case("hessian", "rosenbrock", n, rosen, rosen_point(n), rosen_hess(rosen_point(n)))
           for n in SIZES[mode]["hessian"]]
    if mode != "smoke":
        Y = gauss_data()
        theta = gauss_point(Y)
        out.append(Case("hessian", "gauss", theta.size, gauss_nll(Y, np.exp), theta,
                        gauss_hessian(Y, theta)))
    rng = np.random.default_rng(3)
    for n in SIZES[mode]["hvp"]:
        x, v = rosen_point(n), rng.standard_normal(n)
        out.append(Case("hvp", "rosenbrock", n, rosen, x, rosen_hess_prod(x, v), v))
    return out


def peer_function(case, library):
    """f written for one peer's array type (jax, torch) or scalar duals (num-dual, fastdual:
    a list of dual scalars; the Gaussian runs on an object array of them)."""
    if library in ("jax", "torch"):
        if library == "jax":
            import jax.numpy as xp
            constant = xp.asarray
        else:
            import torch as xp
            constant = torch_constant
        if case.problem == "rosenbrock":
            return rosen
        return gauss_nll(constant(gauss_data()), xp.exp)
    if case.problem == "rosenbrock":
        return translations.num_dual_function("rosenbrock")
    nll = gauss_nll(gauss_data(), lambda a: np.array([e.exp() for e in a], dtype=object))
    return lambda xs: nll(np.array(list(xs), dtype=object))


def torch_constant(a):
    import torch
    return torch.as_tensor(a, dtype=torch.float64)


# --- methods -------------------------------------------------------------------------------

@dataclass
class Method:
    library: str
    label: str
    section: str                        # "hessian" or "hvp"
    make: Callable                      # make(case) -> thunk() returning H or H @ v
    max_n: int | None = None
    growth: float | None = None         # least slope in n for `predicted` (None: SLOPE)

    @property
    def name(self):
        return f"{self.library} {self.label}"


def _dense_hvp(hessian_make):
    """H @ v from a method's dense Hessian (only up to HVP_DENSE_MAX)."""
    def make(case):
        h = hessian_make(case)
        return lambda: np.asarray(h()) @ case.v
    return make


def _dualfd_methods():
    import dualfd as dfd

    def hess(method):
        def make(case):
            h = dfd.hessian(case.f, method=method)
            return lambda: h(case.x)
        return make

    out = [Method("dualfd", f'hessian(method="{m}")', "hessian", hess(m))
           for m in ("dual", "central", "adaptive")]
    hvp = getattr(dfd, "hvp", None)
    if hvp is not None:
        def make_hvp(case):
            hv = hvp(case.f, method="dual")
            return lambda: hv(case.x, case.v)
        out.append(Method("dualfd", 'hvp(method="dual")', "hvp", make_hvp))
    else:
        house.log("dualfd has no hvp yet: its hvp rows are skipped")
    out.append(Method("dualfd", 'hessian(method="dual") @ v', "hvp",
                      _dense_hvp(hess("dual")), HVP_DENSE_MAX))
    return out


def _jax_methods():
    import jax
    jax.config.update("jax_enable_x64", True)

    def steady(case):
        h = jax.jit(jax.hessian(peer_function(case, "jax")))
        return lambda: np.asarray(h(case.x))

    def one_shot(case):
        def call():   # a new function object: jax.jit traces and compiles it afresh
            f = peer_function(case, "jax")
            return np.asarray(jax.jit(jax.hessian(lambda x: f(x)))(case.x))
        return call

    def hvp(case):
        g = jax.grad(peer_function(case, "jax"))
        hv = jax.jit(lambda x, v: jax.jvp(g, (x,), (v,))[1])
        return lambda: np.asarray(hv(case.x, case.v))

    return [Method("jax", "jit(hessian)", "hessian", steady),
            # tracing and compiling, not the n**2 entries, dominate a one-shot call
            Method("jax", "jit(hessian) one-shot", "hessian", one_shot, growth=0.5),
            Method("jax", "jit(jvp(grad))", "hvp", hvp)]


def _torch_methods():
    import torch
    from torch.func import grad, hessian, jvp

    def hess(case):
        h = hessian(peer_function(case, "torch"))
        return lambda: h(torch.from_numpy(case.x)).numpy()

    def hvp(case):
        g = grad(peer_function(case, "torch"))
        return lambda: jvp(g, (torch.from_numpy(case.x),),
                           (torch.from_numpy(case.v),))[1].numpy()

    return [Method("torch", "func.hessian", "hessian", hess),
            Method("torch", "func.jvp(func.grad)", "hvp", hvp)]


def _num_dual_methods():
    import num_dual

    def hess(case):
        f = peer_function(case, "num-dual")
        return lambda: np.asarray(num_dual.hessian(f, case.x.tolist())[2])

    return [Method("num-dual", "hessian", "hessian", hess),
            Method("num-dual", "hessian @ v", "hvp", _dense_hvp(hess), HVP_DENSE_MAX)]


def _fastdual_methods():
    import fastdual

    def hess(case):
        f = peer_function(case, "fastdual")
        h = fastdual.autohess(lambda *xs: f(xs))   # one HyperDual pass per pair (i <= j)
        return lambda: np.asarray(h(*case.x.tolist())[1])

    return [Method("fastdual", "autohess", "hessian", hess),
            Method("fastdual", "autohess @ v", "hvp", _dense_hvp(hess), HVP_DENSE_MAX)]


def _numdifftools_methods():
    import numdifftools as nd

    def hess(case):
        h = nd.Hessian(case.f)
        return lambda: h(case.x)
    return [Method("numdifftools", "Hessian", "hessian", hess)]


def _scipy_methods():
    from scipy.differentiate import hessian   # SciPy >= 1.15

    def hess(case):
        return lambda: hessian(case.f, case.x).ddf   # f takes x of shape (n, ...)
    return [Method("scipy", "differentiate.hessian", "hessian", hess)]


# library -> (how to install it, factory); the factory imports the library
LIBRARIES = {
    "dualfd": ("pip install -e .", _dualfd_methods),
    "jax": ("pip install jax", _jax_methods),
    "torch": ("see benchmarks/README.md", _torch_methods),
    "num-dual": ("pip install num-dual", _num_dual_methods),
    "fastdual": ("pip install fastdual", _fastdual_methods),
    "numdifftools": ("pip install numdifftools", _numdifftools_methods),
    "scipy": ("pip install scipy>=1.15", _scipy_methods),
}
COMPILED = ("jax",)   # "without a compiler": every peer but these


def load_methods(libraries):
    """(methods of the importable libraries, [(library, reason)] of the others)."""
    methods, missing = [], []
    for library in libraries:
        install, factory = LIBRARIES[library]
        try:
            methods += factory()
        except ImportError as exc:
            missing.append((library, f"not installed ({exc.name or exc}); {install}"))
            house.log(f"skip {library}: not installed ({exc.name or exc}); {install}")
    return methods, missing


# --- measurement ---------------------------------------------------------------------------


def relative_error(result, exact):
    """max|R - exact| / max|exact|; inf when R is not finite or misshapen."""
    R = np.asarray(result.toarray() if hasattr(result, "toarray") else result,
                   dtype=np.float64)
    if R.size != exact.size or not np.all(np.isfinite(R)):
        return math.inf
    return float(np.max(np.abs(R.reshape(exact.shape) - exact)) / np.max(np.abs(exact)))


# least growth of a call's time with n: a dense Hessian has n**2 entries; H @ v needs
# at least one pass over x
SLOPE = {"hessian": 2.0, "hvp": 1.0}


def predicted(history, n, least=2.0):
    """A method's time at n from its times at smaller n: the slope between its last two
    sizes in log-log, at least `least` — or None."""
    if not history:
        return None
    (n1, t1), prev = history[-1], history[-2:-1]
    slope = least
    if prev and prev[0][1] > 0:
        slope = max(slope, math.log(t1 / prev[0][1]) / math.log(n1 / prev[0][0]))
    return t1 * (n / n1) ** slope


def run_case(case, methods, mode, history, build=None):
    """Rows (dicts) for one case; `history[(problem, name)]` holds (n, time) of smaller sizes."""
    settings, repeat, slow, budget = MODES[mode]
    rows, timers = [], {}
    bare = {"case": case.key, "section": case.section, "problem": case.problem,
            "n": case.n, "library": "f", "method": "f(x), one plain call", "status": "ok",
            "note": "reference"}
    rows.append(bare)
    timers["f"] = timeit.Timer(lambda: case.f(case.x))
    x0, v0 = case.x.copy(), None if case.v is None else case.v.copy()
    for m in methods:
        if m.section != case.section:
            continue
        row = {"case": case.key, "section": case.section, "problem": case.problem,
               "n": case.n, "library": m.library, "method": m.label, "status": "ok",
               "note": ""}
        rows.append(row)
        if m.max_n is not None and case.n > m.max_n:
            row.update(status="skipped", note=f"dense H at n > {m.max_n}")
            continue
        guess = predicted(history.get((case.problem, m.name), []), case.n,
                          SLOPE[m.section] if m.growth is None else m.growth)
        if guess is not None and guess > slow:
            row.update(status="skipped", note=f"one call predicted ~{house.fmt_time(guess)} "
                       f"(> {slow:g} s) from smaller n")
            continue
        try:
            thunk = build(m)(case) if build else m.make(case)
            start = time.perf_counter()
            result = thunk()          # warm-up (JIT compile, caches): the answer checked
            first = time.perf_counter() - start
        except Exception as exc:      # reported; the other methods still run
            row.update(status="refused" if m.library == "dualfd" else "failed",
                       note=f"{type(exc).__name__}: {exc}".splitlines()[0][:160])
            continue
        row["error"] = relative_error(result, case.exact)
        if m.library == "dualfd" and not row["error"] <= WRONG_BEYOND:
            row.update(status="wrong", note=f"error {row['error']:.2e} > {WRONG_BEYOND:.0e}")
        if not (np.array_equal(case.x, x0) and (case.v is None or np.array_equal(case.v, v0))):
            # the house rule: the caller's arrays are never modified; restored for the others
            case.x[...], case.v = x0, None if case.v is None else v0.copy()
            row.update(status="wrong" if m.library == "dualfd" else "failed",
                       note="modified the caller's x or v")
            continue
        if first > slow and not history.get((case.problem, m.name)):
            # the first size a method runs at may carry its library's lazy set-up
            start = time.perf_counter()
            thunk()
            first = time.perf_counter() - start
        if first > slow:   # too slow to repeat: that one call is the figure
            row.update(house.summarize([first]), number=1, note="; ".join(
                filter(None, [row["note"], f"one call (> {slow:g} s): not repeated"])))
            history.setdefault((case.problem, m.name), []).append((case.n, first))
            continue
        timers[m.name] = timeit.Timer(thunk)
        row["_name"] = m.name
    times, numbers = interleaved(timers, settings, repeat, budget)
    bare.update(house.summarize(times["f"]), number=numbers["f"])
    for row in rows:
        name = row.pop("_name", None)
        if name is not None:
            row.update(house.summarize(times[name]), number=numbers[name])
            history.setdefault((case.problem, name), []).append((case.n, row["median"]))
    ours = next((r for r in rows if r["library"] == "dualfd" and "median" in r
                 and r["method"] == REFERENCE[case.section]), None)
    for row in rows:
        if "median" in row:
            row["x_f"] = row["median"] / bare["median"]
            row["x_dual"] = (row["median"] / ours["median"] if ours and row["library"] != "f"
                             else None)
    return rows


# the dualfd row every other row's time is divided by
REFERENCE = {"hessian": 'hessian(method="dual")', "hvp": 'hvp(method="dual")'}


# --- report --------------------------------------------------------------------------------


def find(rows, section, problem, n, library, method=None):
    return next((r for r in rows if (r["section"], r["problem"], r["n"], r["library"])
                 == (section, problem, n, library) and (method is None or r["method"] == method)
                 and "median" in r), None)


def targets(rows):
    out = []

    def add(what, measured, goal, passed):
        out.append({"target": what, "measured": measured, "goal": goal,
                    "status": "n/a" if passed is None else ("PASS" if passed else "MISS")})

    for section in ("hessian", "hvp"):
        mine = [r for r in rows if r["library"] == "dualfd" and r["method"] ==
                REFERENCE[section] and "error" in r]
        worst = max(mine, key=lambda r: r["error"], default=None)
        add(f"dualfd {REFERENCE[section]}: largest relative error over cases"
            + (f", at {worst['case']}" if worst else ""),
            f"{worst['error']:.1e}" if worst else "not run", f"<= {EXACT_GOAL:.0e}",
            None if worst is None else worst["error"] <= EXACT_GOAL)
    ours = find(rows, "hessian", "rosenbrock", GOAL_N, "dualfd", REFERENCE["hessian"])
    peers = [r for r in rows if (r["section"], r["problem"], r["n"]) ==
             ("hessian", "rosenbrock", GOAL_N) and r["library"] not in ("dualfd", "f")
             + COMPILED and "median" in r]
    best = min(peers, key=lambda r: r["median"], default=None)
    ok = ours is not None and best is not None
    add(f"Rosenbrock n = {GOAL_N}: fastest peer without a compiler"
        + (f" ({best['library']} {best['method']})" if best else "")
        + " / dualfd hessian dual", f"{best['median'] / ours['median']:.2f}x" if ok else "-",
        f">= {PEER_GOAL:g}x", best["median"] / ours["median"] >= PEER_GOAL if ok else None)
    jit = find(rows, "hessian", "rosenbrock", GOAL_N, "jax", "jit(hessian)")
    ok = ours is not None and jit is not None
    add(f"Rosenbrock n = {GOAL_N}: dualfd hessian dual / jax.jit(hessian) after compiling",
        f"{ours['median'] / jit['median']:.2f}x" if ok else "-", f"<= {JIT_GOAL:g}x",
        ours["median"] / jit["median"] <= JIT_GOAL if ok else None)
    hv = find(rows, "hvp", "rosenbrock", HVP_GOAL_N, "dualfd", REFERENCE["hvp"])
    add(f"Rosenbrock n = {HVP_GOAL_N}: dfd.hvp(f)(x, v) / one call f(x)",
        f"{hv['x_f']:.2f}x" if hv else "not run", f"<= {HVP_GOAL:g}x",
        hv["x_f"] <= HVP_GOAL if hv else None)
    wrong = [f"{r['case']}: {r['method']}" for r in rows if r["status"] == "wrong"]
    add(f"dualfd results off the exact one by > {WRONG_BEYOND:.0e} relative"
        + (f" ({'; '.join(wrong)})" if wrong else ""), str(len(wrong)), "0", not wrong)
    return out


def interleaved(timers, settings, repeat, budget):
    """Time every timer in interleaved rounds, so that machine load hits every method
    alike: (times per call by name, calls per measurement by name).  A timer whose one
    call takes settings.min_time or more is repeated at most budget / that time."""
    times = {name: [] for name in timers}
    numbers, runs = {}, {}
    for name, timer in timers.items():
        probe = timer.timeit(1)
        if probe >= settings.min_time:
            numbers[name], runs[name] = 1, max(1, min(repeat, int(budget / probe)))
        else:
            numbers[name], runs[name] = house.autorange(timer, settings.min_time), repeat
    for r in range(repeat):
        for name, timer in timers.items():
            if r < runs[name]:
                times[name].append(timer.timeit(numbers[name]) / numbers[name])
    return times, numbers


def table(rows, ref="dual", order=None):
    """The rows as a markdown table; "x <ref>" is each row's time / the reference
    method's (key "x_<ref>"); order sorts the problems (default: by name)."""
    t = house.fmt_time
    lines = [f"| problem | n | method | time [IQR] | x f | x {ref} | error | note |",
             "|---|---:|---|---|---:|---:|---:|---|"]
    rank = order.index if order else (lambda p: p)
    for r in sorted(rows, key=lambda r: (rank(r["problem"]), r["n"],
                                         r.get("median", math.inf))):
        name = r["method"] if r["library"] == "f" else f"{r['library']} {r['method']}"
        note = r["note"].replace("|", "/")
        if "median" not in r:
            lines.append(f"| {r['problem']} | {r['n']} | {name} | {r['status']} | | | | "
                         f"{note} |")
            continue
        err = f"{r['error']:.1e}" if "error" in r else "-"
        if r["status"] == "wrong":
            err += " WRONG"
        lines.append(
            f"| {r['problem']} | {r['n']} | {name} | {t(r['median'])} "
            f"[{t(r['q1'])}–{t(r['q3'])}] | {r['x_f']:.3g} | "
            + (f"{r['x_' + ref]:.3g}" if r.get("x_" + ref) else "-")
            + f" | {err} | {note} |")
    return "\n".join(lines)


def header(report, title):
    """The markdown report's first lines: title, machine, versions, missing peers."""
    lines = [f"# {title} ({report['mode']} run)", "",
             f"{report['machine']}; {report['date']}; total {report['seconds']:.0f} s.",
             "Versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items())
             + ".", ""]
    if report["missing"]:
        lines += ["Not installed (rows skipped): " + "; ".join(
            f"{lib}: {why}" for lib, why in report["missing"]) + ".", ""]
    return lines


def markdown(report):
    rows = report["rows"]
    lines = header(report, "Hessians and Hessian-vector products")
    lines += ["Median time per call of interleaved batches (IQR in brackets); x f = time / "
              "one plain call of f(x) (timed in the same rounds); x dual = time / dualfd's "
              "time (hessian: `hessian(method=\"dual\")`; hvp: `hvp(method=\"dual\")`); "
              "error = max|R - R_exact| / max|R_exact| against scipy.optimize.rosen_hess / "
              "rosen_hess_prod or the analytic Gaussian Hessian.  JAX one-shot: a fresh "
              "function traced, compiled and called once per call.  gauss: negative "
              f"log-likelihood of {GAUSS_N} samples of each of {GAUSS_P} Gaussians in (mu, "
              "log sigma), n = 10.", "",
              "## Hessian", "", table([r for r in rows if r["section"] == "hessian"]), "",
              "## Hessian-vector product (Rosenbrock)", "",
              table([r for r in rows if r["section"] == "hvp"]), "",
              "## Targets", "", house.targets_table(report["targets"]), ""]
    if report.get("plot"):
        lines += [f"Plot: {report['plot']} (time per call against n, log-log, Rosenbrock; "
                  "the plain call of f dashed).", ""]
    return "\n".join(lines)


def plot(report, path):
    """Time per call against n (Rosenbrock), one panel per section; None without
    matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    for ax, section in zip(axes, ("hessian", "hvp")):
        rows = [r for r in report["rows"] if r["section"] == section
                and r["problem"] == "rosenbrock" and "median" in r]
        for label in dict.fromkeys((r["library"], r["method"]) for r in rows):
            pts = sorted((r["n"], r["median"]) for r in rows if (r["library"], r["method"])
                         == label)
            style = dict(color="k", ls="--") if label[0] == "f" else (
                dict(lw=2.2) if label[0] == "dualfd" else dict(lw=1))
            ax.plot(*zip(*pts), marker="o", ms=4, label=f"{label[0]} {label[1]}"
                    if label[0] != "f" else "f(x)", **style)
        ax.set(xscale="log", yscale="log", xlabel="n", ylabel="time per call [s]",
               title=f"Rosenbrock: {'Hessian' if section == 'hessian' else 'H @ v'}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def versions(libraries, missing):
    import importlib.metadata
    out = {}
    skip = {lib for lib, _ in missing}
    for lib in ["numpy"] + [lib for lib in libraries if lib not in skip]:
        try:
            out[lib] = importlib.metadata.version(lib)
        except importlib.metadata.PackageNotFoundError:
            out[lib] = "?"
    return out


def parse_args(argv, doc, libraries, quick, smoke):
    """(args, mode, libs) of a benchmark's command line: --quick/--smoke (their help),
    --out, --libs (checked against `libraries`; dualfd always runs)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help=quick)
    group.add_argument("--smoke", action="store_true", help=smoke)
    parser.add_argument("--out", type=Path, default=HERE / "out")
    parser.add_argument("--libs", default=",".join(libraries),
                        help="comma-separated libraries (default: every installed one)")
    args = parser.parse_args(argv)
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    libs = [s.strip() for s in args.libs.split(",") if s.strip()]
    unknown = set(libs) - set(libraries)
    if unknown:
        parser.error(f"unknown libraries {sorted(unknown)}; choose from {list(libraries)}")
    if "dualfd" not in libs:
        libs.insert(0, "dualfd")
    return args, mode, libs


def main(argv=None, build=None):
    """Run, save, print; returns the exit status (1: a dualfd result is wrong).
    `build(method)(case)`, when given, replaces method.make (the tests use it)."""
    args, mode, libs = parse_args(argv, __doc__, LIBRARIES, "n <= 100 (hvp: and 1e4)",
                                  "Rosenbrock n = 10 only")
    start = time.perf_counter()
    methods, missing = load_methods(libs)
    rows, history = [], {}
    plan = cases(mode)
    for index, case in enumerate(plan, 1):
        house.log(f"[{index}/{len(plan)}] {case.key} ...", end="")
        rows += run_case(case, methods, mode, history, build=build)
        house.log(" done")
    report = {"mode": mode, "rows": rows, "missing": missing,
              "versions": versions(libs, missing),
              "goals": {"wrong_beyond": WRONG_BEYOND, "exact": EXACT_GOAL, "peer": PEER_GOAL,
                        "jit": JIT_GOAL, "hvp": HVP_GOAL}}
    return finish(report, start, args.out, "hessian", targets, plot, markdown)


def finish(report, start, out, stem, targets, plot, markdown):
    """Stamp the report, evaluate its targets, plot, write <stem>.json/.md/.png to out;
    the exit status: 1 if any dualfd result was wrong (a broken engine never yields a
    table without saying so)."""
    rows = report["rows"]
    report["versions"]["scipy"] = scipy.__version__
    house.stamp(report, start)
    report["targets"] = targets(rows)
    png = plot(report, out / f"{stem}.png")
    report["plot"] = png.name if png else None
    if png is None:
        house.log(f"matplotlib is not importable: no {stem}.png")
    house.save(report, out, stem, markdown(report))
    wrong = [r for r in rows if r["status"] == "wrong"]
    if wrong:
        house.log(f"{len(wrong)} dualfd result(s) wrong: "
                  + "; ".join(f"{r['case']}: {r['method']}: {r['note']}" for r in wrong))
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
