"""Reverse-mode gradients (issue 13): dualfd grad(method="reverse") against its own dual
and vectorized-FD gradients, autograd, PyTorch and JAX.

    python benchmarks/reverse.py            # full: n = 10 .. 1e5 (logistic to 1e4), a few minutes
    python benchmarks/reverse.py --quick    # Rosenbrock n <= 1e4, logistic n <= 1000 (~45 s)
    python benchmarks/reverse.py --smoke    # both objectives at n = 10 (the test runs this)
    python benchmarks/reverse.py --out DIR  # default benchmarks/out/
    python benchmarks/reverse.py --libs dualfd,jax   # a subset of the libraries

Objectives: Rosenbrock with scipy.optimize.rosen's semantics at (-1.2, 1, -1.2, ...),
exact gradient scipy.optimize.rosen_der; and the logistic-regression loss
sum(logaddexp(0, X w) - y X w) over M = 1e4 samples (X standard normal / sqrt(n), seed 0;
labels drawn from the model at a hidden w), exact gradient X^T (expit(X w) - y).  X has
M n entries, so the logistic loss stops where X would exceed MAX_X_BYTES (n = 1e5 would
need 8 GB; the table says so).

Every method of a case is timed in the same interleaved rounds as one plain call of f(x),
as in hessian.py.  Until dualfd has reverse mode (a probe of grad(method="reverse") fails)
its reverse rows are reported as missing and every ratio to it as n/a.  A method whose call
is predicted from its smaller sizes to exceed the mode's limit (5 s in full) is skipped at
that n and the table says so.  Writes reverse.json, reverse.md and reverse.png (time per
gradient against n, one panel per objective; only when matplotlib is importable).  Exit
status 1 if any dualfd gradient is off the exact one by more than 1e-6 relative, so a
broken engine never yields a table.
"""

from __future__ import annotations

import math
import sys
import time
import timeit
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from scipy.optimize import rosen_der
from scipy.special import expit

HERE = Path(__file__).resolve().parent
for _path in (HERE, HERE.parent / "tests"):   # run.py, hessian.py, translations.py, problems.py
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import hessian         # noqa: E402  (predicted, relative_error, versions, table, header)
import run as house    # noqa: E402  (run.py: autorange, summarize, stamp, save, fmt_time, log)
import translations    # noqa: E402  (the Rosenbrock sum in autograd/JAX/PyTorch idiom)

WRONG_BEYOND = 1e-6      # a dualfd gradient off by more than this (relative) fails the run
EXACT_GOAL = 1e-12       # dualfd reverse: error relative to max|g_exact|
PEER_GOAL = 5.0          # every n: autograd, torch (both) / dualfd reverse
JIT_GOAL = 3.0           # n >= JIT_GOAL_N: dualfd reverse / jax.jit(grad) steady state
JIT_GOAL_N = 1000
ONE_SHOT_GOAL = 100.0    # every n: JAX one-shot / dualfd reverse
GRAD_F_GOAL = 4.0        # every case: dualfd reverse / one plain call of f
SAMPLES = 10_000         # logistic regression: rows of X
MAX_X_BYTES = 1 << 30    # logistic regression only while X fits in this

# mode -> (house timing settings, rounds, seconds a call may take, seconds per method
# and case at most)
MODES = {"full": (house.MODES["full"], 7, 5.0, 2.0),
         "quick": (house.MODES["quick"], 5, 0.5, 0.3),
         "smoke": (house.MODES["smoke"], 2, 0.5, 0.05)}
SIZES = {"full": {"rosenbrock": (10, 100, 1000, 10_000, 100_000),
                  "logistic": (10, 100, 1000, 10_000, 100_000)},
         "quick": {"rosenbrock": (10, 100, 1000, 10_000), "logistic": (10, 100, 1000)},
         "smoke": {"rosenbrock": (10,), "logistic": (10,)}}
PROBLEMS = ("rosenbrock", "logistic")

# --- objectives ----------------------------------------------------------------------------


def rosen(x):
    """scipy.optimize.rosen over axis 0: x of shape (n, k) gives k values (vectorized FD).
    A batch is summed along a contiguous last axis: NumPy sums those pairwise, but adds
    the rows of an (n, k) array one after another, whose rounding (~ n eps) would show
    in the finite differences as an error dualfd did not make."""
    if np.ndim(x) > 1:
        x = np.ascontiguousarray(x.T)            # (k, n)
    a, b = x[..., :-1], x[..., 1:]
    return (100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2).sum(-1)


def rosen_point(n):
    return np.resize([-1.2, 1.0], n)


def logistic_data(n, samples=SAMPLES):
    """(X, y, w): X (samples, n) standard normal / sqrt(n) so that X w stays O(1); labels
    y in {0, 1} drawn with P(y = 1) = expit(X w_true); the point w, off w_true.  Seed 0."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((samples, n))
    X *= 1.0 / math.sqrt(n)
    w_true = rng.standard_normal(n)
    y = (rng.random(samples) < expit(X @ w_true)).astype(np.float64)
    w = w_true + 0.5 * rng.standard_normal(n)
    return X, y, w


def logistic_loss(X, y):
    """NumPy loss(w) = sum(logaddexp(0, X w) - y X w); w of shape (n, k) gives k values
    (vectorized FD), and w may be a Dual (or dualfd's tracer).  A batch is computed as
    (k, samples), so that the sum over samples is NumPy's pairwise one, as for one w
    (see rosen)."""
    def loss(w):
        z = w.T @ X.T if np.ndim(w) > 1 else X @ w
        return (np.logaddexp(0.0, z) - y * z).sum(-1)
    return loss


def logistic_grad(X, y, w):
    return X.T @ (expit(X @ w) - y)


@dataclass
class Case:
    problem: str          # "rosenbrock" or "logistic"
    n: int
    f: Callable           # NumPy f (also vectorized on a trailing axis, and on Duals)
    x: np.ndarray
    exact: np.ndarray     # the analytic gradient at x
    data: tuple = ()      # logistic: (X, y), given to the peers' f as arguments

    @property
    def key(self):
        return f"{self.problem} n={self.n}"


def x_bytes(n, samples=SAMPLES):
    return 8 * samples * n


def make_case(problem, n):
    if problem == "rosenbrock":
        x = rosen_point(n)
        return Case(problem, n, rosen, x, rosen_der(x))
    X, y, w = logistic_data(n)
    return Case(problem, n, logistic_loss(X, y), w, logistic_grad(X, y, w), (X, y))


def plan(mode):
    """[(problem, n)], interleaved by size so that a slow method's prediction sees both."""
    return [(p, n) for p in PROBLEMS for n in SIZES[mode][p]]


def peer_function(case, library):
    """(f(w, *args), args): f written in one peer's idiom; args the data (X, y) converted
    once to the peer's arrays (JAX takes them as jit arguments, not baked-in constants)."""
    if case.problem == "rosenbrock":
        return translations.array_function("rosenbrock", library), ()
    X, y = case.data
    if library == "autograd":
        import autograd.numpy as anp

        def loss(w, X, y):
            z = anp.dot(X, w)
            return anp.sum(anp.logaddexp(0.0, z) - y * z)
        return loss, (X, y)
    if library == "jax":
        import jax.numpy as jnp

        def loss(w, X, y):
            z = X @ w
            return jnp.sum(jnp.logaddexp(0.0, z) - y * z)
        return loss, (jnp.asarray(X), jnp.asarray(y))
    import torch

    def loss(w, X, y):
        z = X @ w
        return (torch.nn.functional.softplus(z) - y * z).sum()
    return loss, (torch.from_numpy(X), torch.from_numpy(y))


# --- methods -------------------------------------------------------------------------------

@dataclass
class Method:
    library: str
    label: str
    make: Callable                      # make(case) -> thunk() returning the gradient
    growth: float = 1.0                 # least log-log slope of a call's time in n
    missing: str | None = None          # why the method cannot run at all (status "missing")

    @property
    def name(self):
        return f"{self.library} {self.label}"


REVERSE = 'grad(method="reverse")'   # the row every other row's time is divided by


def reverse_probe(dfd):
    """None when dualfd's grad takes method="reverse" (a sum of squares, checked), else
    why not."""
    try:
        g = dfd.grad(lambda x: (x * x).sum(), method="reverse")(np.arange(3.0))
        if not np.array_equal(np.asarray(g), [0.0, 2.0, 4.0]):
            return f"probe: grad of sum(x*x) at (0, 1, 2) gave {g!r}"
    except Exception as exc:   # ValueError (unknown method) until issue 13 lands
        return f"{type(exc).__name__}: {exc}".splitlines()[0][:160]
    return None


def _dualfd_methods():
    import dualfd as dfd

    def grad(**options):
        def make(case):
            g = dfd.grad(case.f, **options)
            return lambda: g(case.x)
        return make

    why = reverse_probe(dfd)
    if why is not None:
        house.log(f"dualfd has no reverse mode yet ({why}): its rows are reported as missing")
    return [Method("dualfd", REVERSE, grad(method="reverse"),
                   missing=None if why is None else f"no reverse mode in dualfd: {why}"),
            # n tangent directions, n / 128 passes of f: at least n x f's cost
            Method("dualfd", 'grad(method="dual")', grad(method="dual"), growth=2.0),
            Method("dualfd", 'grad(method="central", vectorized=True)',
                   grad(method="central", vectorized=True), growth=2.0)]


def _autograd_methods():
    import autograd

    def make(case):
        f, args = peer_function(case, "autograd")
        g = autograd.grad(f)
        return lambda: g(case.x, *args)
    return [Method("autograd", "grad", make)]


def _torch_methods():
    import torch
    from torch.func import grad

    def backward(case):
        f, args = peer_function(case, "torch")
        w = torch.tensor(case.x, dtype=torch.float64, requires_grad=True)

        def call():
            w.grad = None            # a fresh gradient each call, not accumulated
            f(w, *args).backward()
            return w.grad.numpy()
        return call

    def func_grad(case):
        f, args = peer_function(case, "torch")
        g = grad(f)
        w = torch.from_numpy(case.x)
        return lambda: g(w, *args).numpy()

    return [Method("torch", "loss.backward()", backward),
            Method("torch", "func.grad", func_grad)]


def _jax_methods():
    import jax
    jax.config.update("jax_enable_x64", True)

    def steady(case):
        f, args = peer_function(case, "jax")
        g = jax.jit(jax.grad(f))
        return lambda: np.asarray(g(case.x, *args))

    def one_shot(case):
        f, args = peer_function(case, "jax")

        def call():   # a new function object: jax.jit traces and compiles it afresh
            return np.asarray(jax.jit(jax.grad(lambda w, *a: f(w, *a)))(case.x, *args))
        return call

    # tracing and compiling, not n, dominate a one-shot call
    return [Method("jax", "jit(grad)", steady),
            Method("jax", "jit(grad) one-shot", one_shot, growth=0.5)]


# library -> (how to install it, factory); the factory imports the library
LIBRARIES = {
    "dualfd": ("pip install -e .", _dualfd_methods),
    "autograd": ("pip install autograd", _autograd_methods),
    "torch": ("see benchmarks/README.md", _torch_methods),
    "jax": ("pip install jax", _jax_methods),
}


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


def row_for(case, library, method, status="ok", note=""):
    return {"case": case.key, "problem": case.problem, "n": case.n, "library": library,
            "method": method, "status": status, "note": note}


def run_case(case, methods, mode, history, build=None):
    """Rows (dicts) for one case; `history[(problem, name)]` holds (n, time) of smaller
    sizes.  `build(method)(case)`, when given, replaces method.make (the tests use it)."""
    settings, repeat, slow, budget = MODES[mode]
    bare = row_for(case, "f", "f(x), one plain call", note="reference")
    rows, timers = [bare], {"f": timeit.Timer(lambda: case.f(case.x))}
    x0 = case.x.copy()
    for m in methods:
        row = row_for(case, m.library, m.label)
        rows.append(row)
        if m.missing:
            row.update(status="missing", note=m.missing)
            continue
        guess = hessian.predicted(history.get((case.problem, m.name), []), case.n, m.growth)
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
        row["error"] = hessian.relative_error(result, case.exact)
        if m.library == "dualfd" and not row["error"] <= WRONG_BEYOND:
            row.update(status="wrong", note=f"error {row['error']:.2e} > {WRONG_BEYOND:.0e}")
        if not np.array_equal(case.x, x0):
            # the house rule: the caller's arrays are never modified; restored for the others
            case.x[...] = x0
            row.update(status="wrong" if m.library == "dualfd" else "failed",
                       note="modified the caller's x")
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
    times, numbers = hessian.interleaved(timers, settings, repeat, budget)
    bare.update(house.summarize(times["f"]), number=numbers["f"])
    for row in rows:
        name = row.pop("_name", None)
        if name is not None:
            row.update(house.summarize(times[name]), number=numbers[name])
            history.setdefault((case.problem, name), []).append((case.n, row["median"]))
    ours = next((r for r in rows if r["library"] == "dualfd" and r["method"] == REVERSE
                 and "median" in r), None)
    for row in rows:
        if "median" in row:
            row["x_f"] = row["median"] / bare["median"]
            row["x_reverse"] = (row["median"] / ours["median"]
                                if ours and row["library"] != "f" else None)
    return rows


def too_large_row(problem, n):
    gb = x_bytes(n) / 1e9
    return {"case": f"{problem} n={n}", "problem": problem, "n": n, "library": "all",
            "method": "every method", "status": "skipped",
            "note": f"skipped: X too large ({SAMPLES} x {n} float64 = {gb:.3g} GB > "
                    f"{MAX_X_BYTES / 2**30:g} GiB)"}


# --- report --------------------------------------------------------------------------------


def timed(rows, library, method):
    return [r for r in rows if (r["library"], r["method"]) == (library, method)
            and "median" in r]


def targets(rows):
    out = []

    def add(what, measured, goal, passed):
        out.append({"target": what, "measured": measured, "goal": goal,
                    "status": "n/a" if passed is None else ("PASS" if passed else "MISS")})

    ours = {(r["problem"], r["n"]): r for r in timed(rows, "dualfd", REVERSE)}
    errors = [r for r in rows if r["library"] == "dualfd" and r["method"] == REVERSE
              and "error" in r]
    worst = max(errors, key=lambda r: r["error"], default=None)
    add("dualfd reverse: largest relative error over cases"
        + (f", at {worst['case']}" if worst else ""),
        f"{worst['error']:.1e}" if worst else "not run", f"<= {EXACT_GOAL:.0e}",
        None if worst is None else worst["error"] <= EXACT_GOAL)

    def ratio_goal(what, peer_rows, ratio, goal, at_least):
        """The worst ratio over the cases both ran (peer rows x dualfd reverse)."""
        pairs = [(ratio(p, ours[(p["problem"], p["n"])]), p["case"]) for p in peer_rows
                 if (p["problem"], p["n"]) in ours]
        if not pairs:
            add(what, "-", f"{'>=' if at_least else '<='} {goal:g}x", None)
            return
        value, where = (min if at_least else max)(pairs)
        add(f"{what} (worst of {len(pairs)} cases, at {where})", f"{value:.3g}x",
            f"{'>=' if at_least else '<='} {goal:g}x",
            value >= goal if at_least else value <= goal)

    speedup = lambda peer, mine: peer["median"] / mine["median"]   # noqa: E731
    for library, method in (("autograd", "grad"), ("torch", "loss.backward()"),
                            ("torch", "func.grad")):
        ratio_goal(f"every n: {library} {method} / dualfd reverse",
                   timed(rows, library, method), speedup, PEER_GOAL, True)
    ratio_goal(f"n >= {JIT_GOAL_N}: dualfd reverse / jax.jit(grad) after compiling",
               [r for r in timed(rows, "jax", "jit(grad)") if r["n"] >= JIT_GOAL_N],
               lambda peer, mine: mine["median"] / peer["median"], JIT_GOAL, False)
    ratio_goal("every n: JAX one-shot (trace + compile + call) / dualfd reverse",
               timed(rows, "jax", "jit(grad) one-shot"), speedup, ONE_SHOT_GOAL, True)
    cases = dict.fromkeys((r["problem"], r["n"]) for r in rows
                          if r["library"] == "f" and "median" in r)
    for problem, n in cases:
        mine = ours.get((problem, n))
        add(f"{problem} n = {n}: dualfd reverse / one call f(x) (grad/f)",
            f"{mine['x_f']:.3g}x" if mine else "-", f"<= {GRAD_F_GOAL:g}x",
            mine["x_f"] <= GRAD_F_GOAL if mine else None)
    wrong = [f"{r['case']}: {r['method']}" for r in rows if r["status"] == "wrong"]
    add(f"dualfd results off the exact gradient by > {WRONG_BEYOND:.0e} relative"
        + (f" ({'; '.join(wrong)})" if wrong else ""), str(len(wrong)), "0", not wrong)
    return out


def table(rows):
    return hessian.table(rows, "reverse", PROBLEMS)


def markdown(report):
    rows = report["rows"]
    lines = hessian.header(report, "Reverse-mode gradients")
    lines += ["Median time per gradient of interleaved batches (IQR in brackets); x f = "
              "time / one plain NumPy call of f(x) (timed in the same rounds; for dualfd "
              "reverse this is grad/f); x reverse = time / dualfd `grad(method=\"reverse\")`"
              "'s; error = max|g - g_exact| / max|g_exact| against scipy.optimize.rosen_der "
              "or X^T (expit(X w) - y).  logistic: sum(logaddexp(0, X w) - y X w) over "
              f"{SAMPLES} samples, X ({SAMPLES} x n) standard normal / sqrt(n).  JAX "
              "one-shot: a fresh function traced, compiled and called once per call (the "
              "data already on the device); JAX takes X and y as arguments of the jitted "
              "gradient.", "", table(rows), "",
              "## Targets", "", house.targets_table(report["targets"]), ""]
    if report.get("plot"):
        lines += [f"Plot: {report['plot']} (time per gradient against n, log-log; the plain "
                  "call of f dashed).", ""]
    return "\n".join(lines)


def plot(report, path):
    """Time per gradient against n, one panel per objective; None without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, axes = plt.subplots(1, len(PROBLEMS), figsize=(13, 5))
    for ax, problem in zip(axes, PROBLEMS):
        rows = [r for r in report["rows"] if r["problem"] == problem and "median" in r]
        for label in dict.fromkeys((r["library"], r["method"]) for r in rows):
            pts = sorted((r["n"], r["median"]) for r in rows
                         if (r["library"], r["method"]) == label)
            style = dict(color="k", ls="--") if label[0] == "f" else (
                dict(lw=2.2) if label[0] == "dualfd" else dict(lw=1))
            ax.plot(*zip(*pts), marker="o", ms=4, label="f(x)" if label[0] == "f"
                    else f"{label[0]} {label[1]}", **style)
        ax.set(xscale="log", yscale="log", xlabel="n", ylabel="time per gradient [s]",
               title="Rosenbrock" if problem == "rosenbrock"
               else f"logistic regression ({SAMPLES} samples)")
        ax.grid(True, which="both", alpha=0.3)
        if rows:
            ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv=None, build=None):
    """Run, save, print; returns the exit status (1: a dualfd gradient is wrong).
    `build(method)(case)`, when given, replaces method.make (the tests use it)."""
    args, mode, libs = hessian.parse_args(
        argv, __doc__, LIBRARIES, "Rosenbrock n <= 1e4, logistic n <= 1000, short batches",
        "both objectives at n = 10")
    start = time.perf_counter()
    methods, missing = load_methods(libs)
    rows, history = [], {}
    steps = plan(mode)
    for index, (problem, n) in enumerate(steps, 1):
        house.log(f"[{index}/{len(steps)}] {problem} n={n} ...", end="")
        if problem == "logistic" and x_bytes(n) > MAX_X_BYTES:
            rows.append(too_large_row(problem, n))
            house.log(" skipped: X too large")
            continue
        case = make_case(problem, n)   # built here and dropped after: X may be 800 MB
        rows += run_case(case, methods, mode, history, build=build)
        del case
        house.log(" done")
    report = {"mode": mode, "rows": rows, "missing": missing,
              "versions": hessian.versions(libs, missing),
              "goals": {"wrong_beyond": WRONG_BEYOND, "exact": EXACT_GOAL, "peer": PEER_GOAL,
                        "jit": JIT_GOAL, "jit_n": JIT_GOAL_N, "one_shot": ONE_SHOT_GOAL,
                        "grad_f": GRAD_F_GOAL}}
    return hessian.finish(report, start, args.out, "reverse", targets, plot, markdown)


if __name__ == "__main__":
    sys.exit(main())
