"""Sparse Jacobians: dualfd against SciPy's sparse approx_derivative (issue 10).

    python benchmarks/sparse.py            # n ~ 1e3, 1e4, 1e5 (about 6 minutes on 2 cores)
    python benchmarks/sparse.py --quick    # n ~ 1e3, 1e4
    python benchmarks/sparse.py --smoke    # n = 100, in one process (the test runs this)
    python benchmarks/sparse.py --out DIR  # default benchmarks/out/

Problems: Broyden tridiagonal (MGH 30) and the 2-D Bratu problem on an N x N grid.
Each (problem, n, method) case runs in a fresh subprocess so that its peak memory
(ru_maxrss minus the RSS after imports and set-up) is its own and an "auto" plan's
first call is a true first call.  Every result is checked against the analytic
sparse Jacobian before its time is reported.  Writes sparse.json and sparse.md;
the table and the targets go to stdout.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import scipy
import scipy.sparse as sp

HERE = Path(__file__).resolve().parent
for _path in (HERE, HERE.parent / "tests"):   # run.py, tests/problems.py
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import problems   # noqa: E402
import run as house   # noqa: E402  (run.py: measure, summarize, fmt_time, Settings)

# --- problems ------------------------------------------------------------------------------

SIZES = {"1e3": (1000, 32), "1e4": (10000, 100), "1e5": (100000, 316)}   # Broyden n, Bratu N
SMOKE_SIZES = {"1e2": (100, 10)}
DENSE_UP_TO = 2000    # dense rows only at n ~ 1e3: the (n, n) array is 800 MB at 1e4


def broyden(n):
    x = np.full(n, -1.0)   # the MGH starting point
    pattern = sp.diags_array([np.ones(n - 1), np.ones(n), np.ones(n - 1)], offsets=[-1, 0, 1],
                             format="csr").astype(bool)

    def exact(x):
        return sp.diags_array([-np.ones(n - 1), 3.0 - 4.0 * x, -2.0 * np.ones(n - 1)],
                              offsets=[-1, 0, 1], format="csr")
    return problems.broyden_tridiagonal_residual, x, pattern, exact


def bratu(N, lam=6.0):
    n = N * N
    x = 0.3 * np.sin(np.arange(n))   # away from 0, where exp(u) would make J trivial
    T = sp.diags_array([-np.ones(N - 1), 2.0 * np.ones(N), -np.ones(N - 1)], offsets=[-1, 0, 1])
    laplace = (sp.kron(sp.eye_array(N), T) + sp.kron(T, sp.eye_array(N))).tocsr()
    pattern = laplace.astype(bool)

    def exact(x):   # (N + 1)^2 (5-point Laplacian) - lam diag(exp(x))
        return (float((N + 1) ** 2) * laplace - lam * sp.diags_array(np.exp(x))).tocsr()
    return problems.bratu2d_residual, x, pattern, exact


PROBLEMS = {"broyden": ("Broyden tridiagonal (MGH 30)", lambda size: broyden(size[0])),
            "bratu2d": ("2-D Bratu, 5-point stencil, N x N grid", lambda size: bratu(size[1]))}

# --- methods -------------------------------------------------------------------------------

# name -> (library, method, sparsity, vectorized, stencil); stencil picks the evaluation count
CASES = {}
for _sparsity in ("given", "auto"):
    for _m, _vec, _st in (("forward", False, "forward"), ("central", False, "central"),
                          ("central", True, "central vec"), ("dual", False, "dual")):
        CASES[f"dualfd {_st} {_sparsity}"] = ("dualfd", _m, _sparsity, _vec, _st)
CASES["scipy 2-point"] = ("scipy", "2-point", "given", False, "forward")
CASES["scipy 3-point"] = ("scipy", "3-point", "given", False, "central")
CASES["dualfd central dense"] = ("dualfd", "central", "dense", False, "central")
CASES["dualfd dual dense"] = ("dualfd", "dual", "dense", False, "dual")

# max|J - J_exact| / max(1, max|J_exact|) each method must meet
TOLERANCE = {"forward": 1e-6, "central": 1e-8, "central vec": 1e-8, "dual": 1e-13}


def tracer_available():
    try:
        return importlib.util.find_spec("dualfd._tracer") is not None
    except ImportError:
        return False


class Counted:
    """f, counting calls and the points they carry (a vectorized call of f on
    (n, K) is K points)."""

    def __init__(self, f):
        self.f, self.calls, self.points = f, 0, 0

    def __call__(self, x, *args, **kwargs):
        self.calls += 1
        self.points += x.shape[1] if getattr(x, "ndim", 1) == 2 else 1
        return self.f(x, *args, **kwargs)


def current_rss():
    """Resident set size now, in bytes (Linux; resource only gives the peak)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return None


def peak_rss():
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024   # bytes on macOS, KiB on Linux


def build(case, f, pattern):
    """The thunk one Jacobian costs, and how to read its colors afterwards."""
    library, method, sparsity, vectorized, _ = CASES[case]
    if library == "scipy":
        from scipy.optimize._numdiff import approx_derivative, group_columns
        # the call is timed with S only, so SciPy's grouping is part of its time
        return (lambda x: approx_derivative(f, x, method=method, sparsity=pattern),
                lambda: int(group_columns(pattern).max()) + 1)
    import dualfd as dfd
    if sparsity == "dense":
        d = dfd.jacobian(f, method=method)
        return d, lambda: None
    d = dfd.jacobian(f, method=method, vectorized=vectorized,
                     sparsity="auto" if sparsity == "auto" else pattern)
    return d, lambda: d._plan.ncolors   # the plan is private; colors are not in the API


def expected_evals(stencil, library, colors, calls):
    """Evaluations (points) the method must use, from its colors (None: not checked)."""
    if colors is None:
        return None
    if library == "scipy":   # f(x0) once, then one point per group (2-point) or two
        return colors + 1 if stencil == "forward" else 2 * colors + 1
    return {"forward": colors + 1, "central": 2 * colors, "central vec": 2 * colors,
            "dual": calls}.get(stencil)


def run_case(problem, label, case, settings, in_process=False):
    """One case, measured in this process.  Returns its row (a dict)."""
    library, method, sparsity, vectorized, stencil = CASES[case]
    size = (SMOKE_SIZES | SIZES)[label]
    f, x, pattern, exact = PROBLEMS[problem][1](size)
    n = x.size
    row = {"problem": problem, "size": label, "n": n, "case": case, "library": library,
           "method": method, "sparsity": sparsity, "stencil": stencil,
           "tol": TOLERANCE[stencil], "status": "ok", "note": ""}
    if sparsity == "auto" and not tracer_available():
        return row | {"status": "unavailable", "note": "auto: not available"}
    if sparsity == "auto":
        pattern = None   # the plan traces its own; S is not built into this case's memory
    try:
        import dualfd   # noqa: F401  (imported before the baseline)
        jac, colors_of = build(case, f, pattern)
        x_in = x.copy()
        base = current_rss()
        t0 = time.perf_counter()
        first = jac(x_in)    # builds the plan (colors; the trace for "auto")
        row["first_call"] = time.perf_counter() - t0
        result, times, ref_times, _ = house.measure(lambda: jac(x_in), settings,
                                                    reference=lambda: f(x_in))
        peak = peak_rss()
        counted = Counted(f)
        jac_counted, _ = build(case, counted, pattern)
        jac_counted(x_in)   # plan built here, off the count
        counted.calls = counted.points = 0
        jac_counted(x_in)
    except Exception as exc:   # reported, not fatal: the other cases still run
        return row | {"status": "failed",
                      "note": f"{type(exc).__name__}: {exc}".splitlines()[0][:160]}
    if not np.array_equal(x_in, x):
        return row | {"status": "failed", "note": "the caller's x was modified"}
    J_exact = exact(x)
    scale = max(1.0, float(abs(J_exact).max()))
    errors = []
    for J in (first, result):
        D = J if sp.issparse(J) else sp.csr_array(np.asarray(J).reshape(n, n))
        errors.append(float(abs(sp.csr_array(D) - J_exact).max()) / scale)
    colors = colors_of()
    row |= house.summarize(times)
    row |= {"f_call": statistics.median(ref_times), "colors": colors,
            "calls": counted.calls, "evals": counted.points,
            "expected_evals": expected_evals(stencil, library, colors, counted.calls),
            "error": max(errors),
            "peak_mb": None if in_process or base is None else (peak - base) / 2**20}
    row["x_floor"] = row["median"] / (row["evals"] * row["f_call"])
    row["correct"] = row["error"] <= row["tol"]
    if not row["correct"]:
        row |= {"status": "wrong",
                "note": f"error {row['error']:.2e} > tolerance {row['tol']:.0e}"}
    return row


def plan(mode):
    sizes = SMOKE_SIZES if mode == "smoke" else (
        {k: SIZES[k] for k in ("1e3", "1e4")} if mode == "quick" else SIZES)
    out = []
    for problem in PROBLEMS:
        for label, size in sizes.items():
            for case, (_, _, sparsity, _, _) in CASES.items():
                if sparsity == "dense" and size[0] > DENSE_UP_TO:
                    continue
                out.append((problem, label, case))
    return out


def run_in_subprocess(problem, label, case, mode):
    cmd = [sys.executable, str(Path(__file__).resolve()), "--case", problem, label, case]
    cmd += [] if mode == "full" else [f"--{mode}"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1][:160]
        library, method, sparsity, _, stencil = CASES[case]
        return {"problem": problem, "size": label, "case": case, "library": library,
                "method": method, "sparsity": sparsity, "stencil": stencil,
                "status": "failed", "note": f"subprocess exit {proc.returncode}: {tail}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --- report --------------------------------------------------------------------------------


def targets(rows):
    ok = [r for r in rows if r["status"] in ("ok", "wrong")]
    out = []

    def add(what, value, goal, passed, fmt="{:.2f}"):
        out.append({"target": what, "measured": "-" if value is None else fmt.format(value),
                    "goal": goal, "status": "n/a" if value is None else
                    ("PASS" if passed else "MISS")})

    for stencil in ("forward", "central"):
        loop = [r for r in ok if r["library"] == "dualfd" and r["stencil"] == stencil
                and r["sparsity"] in ("given", "auto")]
        for label in dict.fromkeys(r["size"] for r in loop):   # per size: f's cost per
            at = [r for r in loop if r["size"] == label]       # entry falls with n
            worst = max(at, key=lambda r: r["x_floor"])
            add(f"sparse FD loop {stencil}, n ~ {label}: worst time / (evals x t_f) "
                f"({worst['problem']}, S {worst['sparsity']})",
                worst["x_floor"], "<= 1.10", worst["x_floor"] <= 1.10)
        bad = [r for r in loop if r["evals"] != r["expected_evals"]]
        want = "colors + 1" if stencil == "forward" else "2 x colors"
        add(f"sparse FD loop {stencil}: evaluations = {want}, cases off",
            len(bad) if loop else None, "0", not bad, "{:d}")
    for problem in PROBLEMS:
        dual = next((r for r in ok if r["problem"] == problem and r["size"] == "1e4"
                     and r["case"] == "dualfd dual given"), None)
        peer = next((r for r in ok if r["problem"] == problem and r["size"] == "1e4"
                     and r["case"] == "scipy 2-point"), None)
        ratio = peer["median"] / dual["median"] if dual and peer else None
        add(f"sparse dual vs SciPy approx_derivative 2-point (sparse, its fastest), "
            f"{problem} n=1e4: speed-up", ratio, ">= 20x", ratio is not None and ratio >= 20,
            "{:.1f}x")
    for problem in PROBLEMS:
        auto = [r for r in ok if r["problem"] == problem and r["size"] == "1e5"
                and r["sparsity"] == "auto" and r.get("peak_mb") is not None]
        worst = max(auto, key=lambda r: r["peak_mb"], default=None)
        add(f"sparsity='auto' n=1e5, {problem}: worst peak memory over methods, first call "
            "included" + (f" ({worst['case']})" if worst else ""),
            worst and worst["peak_mb"], "< 1024 MB", worst and worst["peak_mb"] < 1024,
            "{:.0f} MB")
    wrong = [r for r in rows if r["status"] == "wrong"]
    add("results off the analytic Jacobian by more than the method's tolerance",
        len(wrong), "0", not wrong, "{:d}")
    return out


def fmt(value, spec="{:.2f}"):
    return "-" if value is None else spec.format(value)


def markdown(report):
    t = house.fmt_time
    lines = [f"# Sparse Jacobians ({report['mode']} run)", "",
             f"{report['machine']}; {report['date']}; total {report['seconds']:.0f} s; "
             f"dualfd {report['versions']['dualfd']}, SciPy {report['versions']['scipy']}.",
             "time: median per Jacobian (steady state; IQR in brackets); first: the first "
             "call, plan included (coloring; tracing for auto); evals: points f is evaluated "
             "at (calls of f for dual; a vectorized call of k points counts k); colors: "
             "SciPy's groups for SciPy; t_f: one bare call of f; x floor = time / "
             "(evals x t_f); peak: ru_maxrss - RSS after imports and set-up, fresh "
             "process per row; error: max|J - J_exact| / max(1, max|J_exact|).", ""]
    for problem, (title, _) in PROBLEMS.items():
        for label in dict.fromkeys(r["size"] for r in report["rows"]):
            rows = [r for r in report["rows"] if r["problem"] == problem and r["size"] == label]
            if not rows:
                continue
            n = next((r["n"] for r in rows if "n" in r), "?")
            lines += [f"## {title}, n = {n}", "",
                      "| method | S | time | first | evals | colors | t_f | x floor "
                      "| peak MB | error |",
                      "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
            for r in rows:
                name = (f"{r['library']} {r['method']}"
                        + (" vec" if r.get("stencil") == "central vec" else ""))
                if r["status"] not in ("ok", "wrong"):
                    lines.append(f"| {name} | {r.get('sparsity', '')} | {r['status']}: "
                                 f"{r['note']} | | | | | | | |")
                    continue
                iqr = f"{t(r['median'])} [{t(r['q1'])}-{t(r['q3'])}]"
                lines.append(
                    f"| {name} | {r['sparsity']} | {iqr} | {t(r['first_call'])} | "
                    f"{r['evals']} | {fmt(r['colors'], '{:d}')} | {t(r['f_call'])} | "
                    f"{r['x_floor']:.2f} | {fmt(r['peak_mb'], '{:.1f}')} | "
                    f"{r['error']:.1e}{'' if r['correct'] else ' WRONG'} |")
            if label not in ("1e3", "1e2"):
                lines.append("| dualfd central / dual, dense | | skipped: the dense (n, n) "
                             "array is 800 MB at n = 1e4 | | | | | | | |")
            lines.append("")
    lines += ["## Targets", "", house.targets_table(report["targets"]), ""]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="n ~ 1e3 and 1e4 only")
    group.add_argument("--smoke", action="store_true", help="n = 100, in one process")
    parser.add_argument("--out", type=Path, default=HERE / "out")
    parser.add_argument("--case", nargs=3, metavar=("PROBLEM", "SIZE", "CASE"),
                        help="run one case in this process and print its row as JSON")
    args = parser.parse_args(argv)
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    settings = house.MODES[mode]
    if args.case:
        problem, label, case = args.case
        row = run_case(problem, label, case, settings)
        print(json.dumps(row, default=str))
        return row

    import dualfd
    start = time.perf_counter()
    cases = plan(mode)
    rows = []
    if not tracer_available():
        print("auto: not available (dualfd._tracer is missing)", file=sys.stderr)
    for index, (problem, label, case) in enumerate(cases, 1):
        house.log(f"[{index}/{len(cases)}] {problem} {label} {case} ...", end="")
        if mode == "smoke":   # one process: fast enough for the test suite, no peak memory
            row = run_case(problem, label, case, settings, in_process=True)
        else:
            row = run_in_subprocess(problem, label, case, mode)
        rows.append(row)
        house.log(" " + (house.fmt_time(row["median"]) if "median" in row
                         else f"{row['status']}: {row['note']}"))
    report = {"mode": mode, "rows": rows,
              "settings": {"min_time": settings.min_time, "repeat": settings.repeat},
              "versions": {"dualfd": dualfd.__version__, "scipy": scipy.__version__,
                           "numpy": np.__version__}}
    house.stamp(report, start)
    report["targets"] = targets(rows)
    house.save(report, args.out, "sparse", markdown(report))
    return report


if __name__ == "__main__":
    main()
