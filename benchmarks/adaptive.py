"""method="adaptive": accuracy against evaluations and time, against numdifftools and
scipy.differentiate.jacobian (issue: "same or better accuracy with >= 5x fewer
evaluations and >= 20x less time than either").

    python benchmarks/adaptive.py            # every problem, 7 interleaved repeats (~3 min)
    python benchmarks/adaptive.py --quick    # every problem, 5 repeats, shorter batches (~20 s)
    python benchmarks/adaptive.py --smoke    # Powell badly scaled at x0 only (the test runs this)
    python benchmarks/adaptive.py --out DIR  # default benchmarks/out/

Problems (analytic Jacobians from tests/problems.py): Broyden tridiagonal n = 100 at x0
and at a perturbed point, Osborne 1 at x0, Powell badly scaled at x0 and at its scaled
point, Brown badly scaled at x0 and at (1e6, 2e-6).  Per problem every method is timed
in the same loop (methods interleaved within each repeat, so machine load hits all
alike); evaluations and calls of f are counted in a separate, untimed call through a
counting wrapper.  Writes adaptive.json, adaptive.md and adaptive.png (error against
time; only when matplotlib is importable).  Exit status 1 if any dualfd Jacobian is off
the analytic one by more than 1e-6 (scaled), so a broken engine never yields a table.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import statistics
import sys
import time
import timeit
from pathlib import Path

import numpy as np
import scipy

HERE = Path(__file__).resolve().parent
for _path in (HERE, HERE.parent / "tests"):   # run.py, tests/problems.py
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import problems   # noqa: E402
import run as house   # noqa: E402  (run.py: autorange, summarize, stamp, save, fmt_time)

WRONG_BEYOND = 1e-6     # a dualfd result off by more than this (scaled) fails the run
ERROR_FLOOR = 1e-13     # "same or better": dualfd error <= max(peer error, ERROR_FLOOR)
EVALS_GOAL, TIME_GOAL = 5.0, 20.0

# --- problems ------------------------------------------------------------------------------


def _cases():
    """key -> (title, f, x, J_exact).  Every f accepts x of shape (n,) or (n, ...)."""
    broyden = problems.broyden_tridiagonal(100)
    rng = np.random.default_rng(2024)
    perturbed = problems.perturbed_points(broyden, rng, count=1)[0]
    powell, brown = problems.BY_NAME["powell_badly_scaled"], problems.BY_NAME["brown_badly_scaled"]
    osborne = problems.BY_NAME["osborne1"]
    powell_scaled = next(x for p, x in problems.scaled_points() if p is powell)
    points = [("broyden100 x0", "Broyden tridiagonal n = 100 at x0 = -1", broyden, broyden.x0),
              ("broyden100 perturbed", "Broyden tridiagonal n = 100, perturbed x0 (seed 2024)",
               broyden, perturbed),
              ("osborne1 x0", "Osborne 1 at x0", osborne, osborne.x0),
              ("powell x0", "Powell badly scaled at x0 = (0, 1)", powell, powell.x0),
              ("powell scaled", f"Powell badly scaled at ({powell_scaled[0]:.6g}, "
               f"{powell_scaled[1]:.6g})", powell, powell_scaled),
              ("brown x0", "Brown badly scaled at x0 = (1, 1)", brown, brown.x0),
              ("brown scaled", "Brown badly scaled at (1e6, 2e-6)", brown,
               np.array([1e6, 2e-6]))]
    out = {}
    for key, title, p, x in points:
        x = np.array(x, dtype=np.float64)
        out[key] = (title, p.residual, x, p.jacobian(x))
    return out


SMOKE_CASES = ("powell x0",)   # the smallest problem (n = 2): the test suite runs it

# --- methods -------------------------------------------------------------------------------

# name -> (library, options for dfd.jacobian or None, vectorized)
METHODS = {}
for _vec in (False, True):
    _sfx = " vec" if _vec else ""
    METHODS[f"dualfd adaptive{_sfx}"] = ("dualfd", {"method": "adaptive"}, _vec)
    METHODS[f"dualfd adaptive rtol=1e-6{_sfx}"] = ("dualfd", {"method": "adaptive",
                                                               "rtol": 1e-6}, _vec)
    METHODS[f"dualfd central{_sfx}"] = ("dualfd", {"method": "central"}, _vec)
    METHODS[f"dualfd order=4{_sfx}"] = ("dualfd", {"order": 4}, _vec)
    METHODS[f"dualfd order=8{_sfx}"] = ("dualfd", {"order": 8}, _vec)
METHODS["numdifftools Jacobian"] = ("numdifftools", None, False)
METHODS["scipy differentiate.jacobian"] = ("scipy.differentiate", None, True)

PEERS = {"numdifftools": "numdifftools Jacobian",
         "scipy.differentiate": "scipy differentiate.jacobian"}
# the dualfd mode each peer is compared with: numdifftools evaluates f one point per
# call, as the loop mode does; scipy.differentiate evaluates batches, as vectorized does
OURS_FOR = {"numdifftools": "dualfd adaptive", "scipy.differentiate": "dualfd adaptive vec"}


def available(library):
    if library == "scipy.differentiate":
        return importlib.util.find_spec("scipy.differentiate") is not None
    return library == "dualfd" or importlib.util.find_spec(library) is not None


class Counted:
    """f, counting calls and the points they carry: x of shape (n, ...) is
    prod(x.shape[1:]) points (one for x of shape (n,))."""

    def __init__(self, f):
        self.f, self.calls, self.points = f, 0, 0

    def __call__(self, x):
        self.calls += 1
        self.points += math.prod(np.shape(x)[1:])
        return self.f(x)


def build(name, f):
    """A callable x -> (J, extra): the Jacobian and what the method reports about it."""
    library, options, vectorized = METHODS[name]
    if library == "dualfd":
        import dualfd as dfd
        if options.get("method") == "adaptive":
            jac = dfd.jacobian(f, full_output=True, vectorized=vectorized, **options)

            def adaptive(x):
                J, info = jac(x)
                return J, {"info": info}
            return adaptive
        jac = dfd.jacobian(f, vectorized=vectorized, **options)
        return lambda x: (jac(x), {})
    if library == "numdifftools":
        import numdifftools as nd
        jac = nd.Jacobian(f)
        return lambda x: (jac(x), {})
    from scipy.differentiate import jacobian

    def differentiate(x):
        res = jacobian(f, x)
        return res.df, {"nfev": res.nfev, "success": res.success}
    return differentiate


def scaled_error(J, J_exact):
    """max|J - J_exact| / max(1, max|J_exact|); inf when J is not finite or misshapen."""
    J = np.asarray(J, dtype=np.float64)
    if J.size != J_exact.size or not np.all(np.isfinite(J)):
        return math.inf
    return float(np.max(np.abs(J.reshape(J_exact.shape) - J_exact))) / max(
        1.0, float(np.max(np.abs(J_exact))))


# --- measurement ---------------------------------------------------------------------------


def time_interleaved(thunks, settings, repeat):
    """Per-call times of each thunk: a batch size per thunk (autorange), then `repeat`
    rounds in which every thunk runs one batch, so load drifts hit every method."""
    timers = {name: timeit.Timer(thunk) for name, thunk in thunks.items()}
    numbers = {name: house.autorange(timer, settings.min_time) for name, timer in timers.items()}
    times = {name: [] for name in thunks}
    for _ in range(repeat):
        for name, timer in timers.items():
            times[name].append(timer.timeit(numbers[name]) / numbers[name])
    return times, numbers


def run_case(key, case, names, settings, repeat, build=build):
    """Rows (dicts) for every method in `names` on one problem/point."""
    title, f, x, J_exact = case
    rows, thunks = {}, {}
    for name in names:
        library, _, vectorized = METHODS[name]
        row = {"case": key, "title": title, "method": name, "library": library,
               "vectorized": vectorized, "n": x.size, "m": J_exact.shape[0], "status": "ok",
               "note": ""}
        rows[name] = row
        try:
            x_in = x.copy()
            counted = Counted(f)
            J, extra = build(name, counted)(x_in)   # untimed: evaluations and accuracy
            if not np.array_equal(x_in, x):
                raise RuntimeError("the caller's x was modified")
        except Exception as exc:   # reported; the other methods still run
            # AccuracyError is dualfd declining to answer (order=p's self-check):
            # the correct outcome where its step is too large for f, not a failure
            refused = type(exc).__name__ == "AccuracyError"
            row.update(status="refused" if refused else "failed",
                       note=f"{type(exc).__name__}: {exc}".splitlines()[0][:160])
            continue
        row.update(evals=counted.points, calls=counted.calls, error=scaled_error(J, J_exact))
        if "info" in extra:
            info = extra["info"]
            true = np.abs(np.asarray(J, dtype=np.float64).reshape(J_exact.shape) - J_exact)
            est = np.asarray(info.error, dtype=np.float64).reshape(J_exact.shape)
            row.update(info_nfev=int(info.nfev), info_ncalls=int(info.ncalls),
                       converged=float(np.mean(info.converged)),
                       est_max=float(np.max(est)), bounded=float(np.mean(true <= est)))
        if "nfev" in extra:   # scipy.differentiate: evaluations per entry, its own count
            nfev = np.asarray(extra["nfev"])
            row.update(nfev_entry_median=float(np.median(nfev)), nfev_entry_max=int(nfev.max()),
                       converged=float(np.mean(extra["success"])))
        jac = build(name, f)   # timed on the bare f: the wrapper's cost is not the method's
        thunks[name] = (lambda jac=jac: jac(x))
    times, numbers = time_interleaved(thunks, settings, repeat)
    for name, ts in times.items():
        rows[name].update(house.summarize(ts), number=numbers[name])
    for row in rows.values():
        if row["library"] == "dualfd" and row["status"] == "ok" and not (
                row["error"] <= WRONG_BEYOND):
            row.update(status="wrong", note=f"error {row['error']:.2e} > {WRONG_BEYOND:.0e}")
    return list(rows.values())


# --- report --------------------------------------------------------------------------------


def ratios(rows):
    """Per case and peer: the evaluation and time ratios peer / dualfd adaptive and the
    accuracy comparison."""
    out = []
    for key in dict.fromkeys(r["case"] for r in rows):
        by = {r["method"]: r for r in rows if r["case"] == key and r["status"] == "ok"}
        for peer, peer_name in PEERS.items():
            ours_name = OURS_FOR[peer]
            ours, theirs = by.get(ours_name), by.get(peer_name)
            if ours is None or theirs is None:
                continue
            out.append({"case": key, "peer": peer, "ours": ours_name,
                        "evals_ratio": theirs["evals"] / ours["evals"],
                        "time_ratio": theirs["median"] / ours["median"],
                        "our_error": ours["error"], "peer_error": theirs["error"],
                        "accuracy_ok": ours["error"] <= max(theirs["error"], ERROR_FLOOR)})
    return out


def targets(rows, ratio_rows):
    out = []

    def add(what, measured, goal, passed):
        out.append({"target": what, "measured": measured, "goal": goal,
                    "status": "n/a" if passed is None else ("PASS" if passed else "MISS")})

    for peer in PEERS:
        mine = [r for r in ratio_rows if r["peer"] == peer]
        if not mine:
            add(f"vs {peer}", "not installed", "-", None)
            continue
        ev = min(mine, key=lambda r: r["evals_ratio"])
        tm = min(mine, key=lambda r: r["time_ratio"])
        bad = [r["case"] for r in mine if not r["accuracy_ok"]]
        add(f"vs {peer}: fewest-evaluations ratio over cases ({ev['case']}; {ev['ours']})",
            f"{ev['evals_ratio']:.1f}x", f">= {EVALS_GOAL:.0f}x", ev["evals_ratio"] >= EVALS_GOAL)
        add(f"vs {peer}: smallest time ratio over cases ({tm['case']}; {tm['ours']})",
            f"{tm['time_ratio']:.1f}x", f">= {TIME_GOAL:.0f}x", tm["time_ratio"] >= TIME_GOAL)
        add(f"vs {peer}: cases where dualfd's error > max(peer's, {ERROR_FLOOR:.0e})"
            + (f" ({', '.join(bad)})" if bad else ""),
            f"{len(bad)} of {len(mine)}", "0", not bad)
    wrong = [f"{r['case']}: {r['method']}" for r in rows if r["status"] == "wrong"]
    add(f"dualfd results off the analytic Jacobian by > {WRONG_BEYOND:.0e}"
        + (f" ({'; '.join(wrong)})" if wrong else ""), str(len(wrong)), "0", not wrong)
    return out


def fmt(value, spec):
    return "-" if value is None else spec.format(value)


def markdown(report):
    t = house.fmt_time
    lines = [f"# method=\"adaptive\" against numdifftools and scipy.differentiate "
             f"({report['mode']} run)", "",
             f"{report['machine']}; {report['date']}; total {report['seconds']:.0f} s; "
             + ", ".join(f"{k} {v}" for k, v in report["versions"].items()) + ".",
             f"time: median per Jacobian over {report['repeat']} repeats, methods interleaved "
             "within each repeat (IQR in brackets); evals: points f is evaluated at, f(x) "
             "included (a call on x of shape (n, K) counts K), counted by a wrapper around f; "
             "calls: calls of f; info nfev/ncalls: what dualfd's AdaptiveInfo reports; error: "
             "max|J - J_exact| / max(1, max|J_exact|) against the analytic Jacobian; est: "
             "dualfd's largest info.error; bounded: fraction of entries where info.error >= "
             "the true error; conv: fraction of entries reported converged (dualfd "
             "info.converged, scipy success); scipy nfev/entry: its own per-entry count, "
             "median / max.  dualfd options are the defaults (rtol=1e-10 for adaptive) "
             "unless named.", ""]
    for key in dict.fromkeys(r["case"] for r in report["rows"]):
        rows = [r for r in report["rows"] if r["case"] == key]
        r0 = rows[0]
        lines += [f"## {r0['title']} (n = {r0['n']}, m = {r0['m']})", "",
                  "| method | time | evals | calls | info nfev/ncalls | error | est | bounded "
                  "| conv |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in rows:
            if r["status"] in ("failed", "refused"):
                lines.append(f"| {r['method']} | {r['status']}: {r['note']} | | | | | | | |")
                continue
            conv = fmt(r.get("converged"), "{:.2f}")
            if "nfev_entry_median" in r:
                conv += f" (nfev/entry {r['nfev_entry_median']:.0f} / {r['nfev_entry_max']})"
            lines.append(
                f"| {r['method']} | {t(r['median'])} [{t(r['q1'])}-{t(r['q3'])}] | "
                f"{r['evals']} | {r['calls']} | "
                + (f"{r['info_nfev']}/{r['info_ncalls']}" if "info_nfev" in r else "-")
                + f" | {r['error']:.1e}"
                f"{' WRONG' if r['status'] == 'wrong' else ''} | "
                f"{fmt(r.get('est_max'), '{:.1e}')} | {fmt(r.get('bounded'), '{:.2f}')} | "
                f"{conv} |")
        lines.append("")
    lines += ["## Ratios (peer / dualfd adaptive, default rtol)", "",
              f"Accuracy rule: \"same or better\" means dualfd's scaled error <= max(peer's "
              f"scaled error, {ERROR_FLOOR:.0e}).  numdifftools is compared with the loop "
              "mode (both evaluate one point per call); scipy.differentiate with the "
              "vectorized mode (both evaluate batches of points per call).", "",
              "| case | peer | dualfd mode | evals ratio | time ratio | dualfd error | "
              "peer error | same or better |",
              "|---|---|---|---:|---:|---:|---:|---|"]
    for r in report["ratios"]:
        lines.append(f"| {r['case']} | {r['peer']} | {r['ours']} | {r['evals_ratio']:.1f}x | "
                     f"{r['time_ratio']:.1f}x | {r['our_error']:.1e} | {r['peer_error']:.1e} | "
                     f"{'yes' if r['accuracy_ok'] else 'NO'} |")
    lines += ["", "## Targets", "", house.targets_table(report["targets"]), ""]
    if report.get("plot"):
        lines += [f"Plot: {report['plot']} (error against time, log-log, one panel per "
                  "problem; errors below 1e-17, 0 included, are drawn at 1e-17; filled "
                  "markers: loop mode, open: vectorized).", ""]
    return "\n".join(lines)


STYLE = {"dualfd adaptive": ("red", "o"), "dualfd adaptive rtol=1e-6": ("salmon", "o"),
         "dualfd central": ("darkorange", "s"), "dualfd order=4": ("goldenrod", "D"),
         "dualfd order=8": ("saddlebrown", "^"),
         "numdifftools Jacobian": ("tab:olive", "P"),
         "scipy differentiate.jacobian": ("tab:blue", "X")}


def plot(report, path):
    """Error against time, log-log, one panel per problem; None without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    keys = list(dict.fromkeys(r["case"] for r in report["rows"]))
    cols = min(len(keys), 4)
    nrows = -(-len(keys) // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.6 * nrows), squeeze=False)
    for ax, key in zip(axes.flat, keys):
        for r in report["rows"]:
            if r["case"] != key or "median" not in r or not math.isfinite(r["error"]):
                continue
            vec = r["method"].endswith(" vec")
            color, marker = STYLE[r["method"].removesuffix(" vec")]
            ax.scatter(r["median"], max(r["error"], 1e-17), color=color, marker=marker, s=40,
                       facecolors="none" if vec else color, label=r["method"])
        ax.set(xscale="log", yscale="log", title=key, xlabel="time per Jacobian (s)",
               ylabel="scaled error")
        ax.grid(True, which="major", alpha=0.3)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize="small")
    fig.tight_layout(rect=(0, 0.04 + 0.06 * (len(labels) > 8), 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv=None, build=build):
    """Run, save, print; returns the exit status (1: a dualfd result is wrong)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="5 repeats, shorter batches")
    group.add_argument("--smoke", action="store_true",
                       help="Powell badly scaled at x0 only, 2 repeats")
    parser.add_argument("--out", type=Path, default=HERE / "out")
    args = parser.parse_args(argv)
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    settings = house.MODES[mode]
    repeat = {"full": 7, "quick": 5, "smoke": 2}[mode]

    import dualfd
    start = time.perf_counter()
    cases = _cases()
    if mode == "smoke":
        cases = {k: cases[k] for k in SMOKE_CASES}
    names = [n for n, (library, _, _) in METHODS.items() if available(library)]
    for library in ("numdifftools", "scipy.differentiate"):
        if not available(library):
            print(f"{library}: not installed, its rows are skipped", file=sys.stderr)
    rows = []
    for index, (key, case) in enumerate(cases.items(), 1):
        house.log(f"[{index}/{len(cases)}] {key} ...", end="")
        rows += run_case(key, case, names, settings, repeat, build=build)
        house.log(" done")
    versions = {"dualfd": dualfd.__version__, "numpy": np.__version__, "scipy": scipy.__version__}
    if available("numdifftools"):
        import numdifftools
        versions["numdifftools"] = numdifftools.__version__
    report = {"mode": mode, "repeat": repeat, "rows": rows, "versions": versions,
              "rules": {"wrong_beyond": WRONG_BEYOND, "error_floor": ERROR_FLOOR,
                        "evals_goal": EVALS_GOAL, "time_goal": TIME_GOAL}}
    house.stamp(report, start)
    report["ratios"] = ratios(rows)
    report["targets"] = targets(rows, report["ratios"])
    png = plot(report, args.out / "adaptive.png")
    report["plot"] = png.name if png else None
    if png is None:
        print("matplotlib is not importable: no adaptive.png", file=sys.stderr)
    house.save(report, args.out, "adaptive", markdown(report))
    wrong = [r for r in rows if r["status"] in ("wrong", "failed") and r["library"] == "dualfd"]
    if wrong:
        print(f"{len(wrong)} dualfd result(s) wrong or failed: "
              + "; ".join(f"{r['case']}: {r['method']}: {r['note']}" for r in wrong),
              file=sys.stderr)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
