"""Parallel evaluation of f (issue 11): dualfd ``workers=`` against SciPy's ``workers=``.

    python benchmarks/workers.py            # n = 16 and 64, t_f ~ 20 ms (about 2 minutes)
    python benchmarks/workers.py --quick    # n = 16 only, fewer repeats (under a minute)
    python benchmarks/workers.py --smoke    # t_f ~ 1 ms, n = 4 (tests/test_bench_workers.py)
    python benchmarks/workers.py --out DIR  # default benchmarks/out/

f: R^n -> R^4 is an ODE-like loop of dense 64 x 64 matrix products (explicit Euler steps
of dY/dt = tanh(A Y)), its step count calibrated at start-up so that one call takes
~20 ms here, with BLAS pinned to one thread (set below, before NumPy is imported, and
inherited by every worker process).  One dense Jacobian per call, forward ('2-point')
and central ('3-point') stencils, by: dualfd serial; dualfd ``workers=2`` (local
processes; "first call" includes starting them, "time" is the median of the 2nd..kth
calls of one transform); dualfd on a Dask ``LocalCluster(n_workers=2,
threads_per_worker=1, processes=True)`` client (its start-up timed apart); SciPy
``approx_derivative`` serial, with ``workers=2`` (a Pool per call) and with a
persistent ``Pool(2).map``.  Every parallel Jacobian must equal its serial twin bitwise
(else MISMATCH and exit status 1).  Derived: speed-up over dualfd serial, overhead per
task = (time - ceil(evals / workers) t_f) / tasks, and the time for 1,000 parameters at
5 s per evaluation on 100 workers projected from the measured Dask overhead.  Writes
workers.json and workers.md; the tables go to stdout.
"""

from __future__ import annotations

import os
import sys

if "numpy" not in sys.modules:   # BLAS reads these once, at load; workers inherit them
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                 "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ[_var] = "1"

import argparse   # noqa: E402
import importlib.util   # noqa: E402
import math   # noqa: E402
import multiprocessing   # noqa: E402
import statistics   # noqa: E402
import time   # noqa: E402
from dataclasses import dataclass   # noqa: E402
from pathlib import Path   # noqa: E402

import numpy as np   # noqa: E402
import scipy   # noqa: E402
from scipy.optimize._numdiff import approx_derivative   # noqa: E402  (not re-exported)

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import run as house   # noqa: E402  (run.py: fmt_time, summarize, targets_table, log)

WORKERS = 2
M_OUT = 4       # outputs of f
D = 64          # f's state is a D x D matrix


@dataclass
class Mode:
    sizes: tuple          # n
    target_tf: float      # seconds per call of f after calibration
    repeat: int           # timed calls per engine (median); parallel: after the first
    dask: bool            # run the Dask rows (when distributed is importable)


MODES = {"full": Mode((16, 64), 0.020, 3, True),
         "quick": Mode((16,), 0.020, 2, True),
         "smoke": Mode((4,), 0.001, 2, True)}

STENCILS = {"forward": "2-point", "central": "3-point"}   # dualfd method -> SciPy's

# --- f -----------------------------------------------------------------------------------


def make_constants(n, steps, seed=0):
    """f's fixed data: A (D, D), B (D, n), C (D, D), R (M_OUT, D) and the step count,
    passed to f as one argument so that workers (forked or spawned) get the same."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((D, D)) / math.sqrt(D), rng.standard_normal((D, n)) / math.sqrt(n),
            0.1 * rng.standard_normal((D, D)), rng.standard_normal((M_OUT, D)) / D, int(steps))


def slow_f(x, consts):
    """R^n -> R^4: `steps` explicit Euler steps (h = 0.05) of dY/dt = tanh(A Y) from
    Y0 = C + 0.1 sin(u) cos(u)^T, u = B x; returns R Y 1.  Smooth in x, and its cost is
    `steps` (D x D) @ (D x D) products plus as many tanh of D^2 entries."""
    A, B, C, R, steps = consts
    u = B @ x
    Y = C + 0.1 * np.outer(np.sin(u), np.cos(u))
    for _ in range(steps):
        Y += 0.05 * np.tanh(A @ Y)
    return R @ Y.sum(axis=1)


class Counted:
    """f, counting its calls (serial engines only: calls in workers are not seen)."""

    def __init__(self, f):
        self.f, self.calls, self.jacobians = f, 0, 1

    def __call__(self, x, *args):
        self.calls += 1
        return self.f(x, *args)


def bare_loop(args):
    """k calls of f in a worker, no FD around them: two of these at once, against the
    serial Jacobian, give the speed-up the cores allow at that moment."""
    consts, x, k = args
    for _ in range(k):
        slow_f(x, consts)
    return k


def time_f(consts, x, calls):
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        slow_f(x, consts)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def calibrate(target, n_probe=16):
    """Steps per call of f so that it takes about `target` seconds here."""
    probe = 20
    x = np.linspace(-1.0, 1.0, n_probe)
    time_f(make_constants(n_probe, probe), x, 1)    # warm-up (page faults, BLAS set-up)
    t = time_f(make_constants(n_probe, probe), x, 3)
    return max(1, round(probe * target / t))


# --- engines -------------------------------------------------------------------------------


def dask_available():
    try:
        return importlib.util.find_spec("distributed") is not None
    except ImportError:
        return False


def counting_pool(engine):
    """dualfd's Workers for `engine` (2 or a Dask client), counting tasks and points
    per Jacobian.  parse() and _map are dualfd internals: the benchmark needs the task
    count, which the public API does not report."""
    from dualfd import _workers
    pool = _workers.parse(engine)
    tally = {"tasks": 0, "points": 0, "calls": 0}
    inner = pool._map

    def _map(task, blocks):
        tally["calls"] += 1
        tally["tasks"] += len(blocks)
        tally["points"] += sum(X.shape[-1] for _, X in blocks)
        return inner(task, blocks)
    pool._map = _map
    return pool, tally


def start_dask():
    from distributed import Client, LocalCluster
    t0 = time.perf_counter()
    cluster = LocalCluster(n_workers=WORKERS, threads_per_worker=1, processes=True,
                           dashboard_address=None)
    client = Client(cluster)
    client.wait_for_workers(WORKERS)
    return cluster, client, time.perf_counter() - t0


def bench_case(n, stencil, consts, mode, client, scipy_pool):
    """The rows of one (n, stencil): each engine's times, evaluation counts and result.

    Each engine's first call is made (and timed) first; then the engines take turns,
    one call each per round, so that a change in the machine's load over the case hits
    them alike and their ratios hold (the cores are shared)."""
    import dualfd as dfd
    x = np.linspace(-1.0, 1.0, n)
    sp_method = STENCILS[stencil]
    # t_f again here: a shared machine's load drifts over a run, and the overheads
    # below are differences from ceil(evals / workers) x t_f
    t_f = time_f(consts, x, 3)
    engines = []   # (engine, library, workers, call, evaluation count: a thunk)

    f_ours = Counted(slow_f)
    J_serial = dfd.jacobian(f_ours, method=stencil)
    engines.append(("dualfd serial", "dualfd", 0, lambda: J_serial(x, consts),
                    lambda: f_ours.calls // f_ours.jacobians))

    # workers=2: a new transform, whose first call starts the processes
    pool, tally = counting_pool(WORKERS)
    J_par = dfd.jacobian(slow_f, method=stencil, workers=pool)
    engines.append((f"dualfd workers={WORKERS}", "dualfd", WORKERS, lambda: J_par(x, consts),
                    tally))
    if client is not None:
        dask_pool, dask_tally = counting_pool(client)
        J_dask = dfd.jacobian(slow_f, method=stencil, workers=dask_pool)
        engines.append(("dualfd Dask", "dualfd", WORKERS, lambda: J_dask(x, consts),
                        dask_tally))

    # SciPy always evaluates f(x0) (approx_derivative checks its shape), so its
    # 3-point stencil costs 2n + 1 calls
    f_peer = Counted(slow_f)
    engines.append(("scipy serial", "scipy", 0,
                    lambda: approx_derivative(f_peer, x, method=sp_method, args=(consts,)),
                    lambda: f_peer.calls // f_peer.jacobians))
    # workers=int: SciPy makes a multiprocessing Pool per call, so every call is a first
    engines.append((f"scipy workers={WORKERS}", "scipy", WORKERS,
                    lambda: approx_derivative(slow_f, x, method=sp_method, args=(consts,),
                                              workers=WORKERS), None))
    # a persistent pool's map (started before the first call, so first ~ steady)
    engines.append((f"scipy Pool({WORKERS}).map", "scipy", WORKERS,
                    lambda: approx_derivative(slow_f, x, method=sp_method, args=(consts,),
                                              workers=scipy_pool.map), None))

    # the ceiling: f alone, split over two pool processes as dualfd splits the points
    bare_evals = n + 1 if stencil == "forward" else 2 * n
    split = [(consts, x, -(-bare_evals // WORKERS)), (consts, x, bare_evals // WORKERS)]
    engines.append((f"bare f, {WORKERS} processes", "none", WORKERS,
                    lambda: scipy_pool.map(bare_loop, split, chunksize=1),
                    lambda: bare_evals))

    firsts, results = {}, {}
    times, cpu = {e[0]: [] for e in engines}, {e[0]: [] for e in engines}
    try:
        for name, _, _, call, _ in engines:
            t0 = time.perf_counter()
            results[name] = [call()]
            firsts[name] = time.perf_counter() - t0
        for _ in range(mode.repeat):
            for name, _, _, call, _ in engines:
                c0, t0 = time.process_time(), time.perf_counter()
                results[name].append(call())
                times[name].append(time.perf_counter() - t0)
                # this process's CPU (all its threads): what the driver itself costs
                cpu[name].append(time.process_time() - c0)
    finally:
        J_par.close()
    f_ours.jacobians = f_peer.jacobians = mode.repeat + 1

    rows = []
    for name, library, parallel, _, count in engines:
        if isinstance(count, dict):        # dualfd's Workers, counted as it ran
            evals, tasks = count["points"] // count["calls"], count["tasks"] // count["calls"]
        else:                              # serial: calls of f; SciPy parallel: as serial
            evals, tasks = (count() if count else rows_by(rows, "scipy serial")["evals"]), None
        row = {"n": n, "stencil": stencil, "engine": name, "library": library,
               "workers": parallel, "evals": evals, "tasks": tasks, "t_f": t_f,
               "first_call": firsts[name], **house.summarize(times[name]),
               "times": times[name], "driver_cpu": statistics.median(cpu[name])}
        if parallel and library != "none":   # bitwise: every parallel Jacobian against its library's serial one
            serial = results[f"{library} serial"][0]
            row["equal"] = all(np.array_equal(J, serial) for J in results[name])
        else:
            row["equal"] = None
        rows.append(row)
        house.log(f"  {name}: {house.fmt_time(row['median'])} (first "
                  f"{house.fmt_time(row['first_call'])})")
    return rows


def rows_by(rows, engine):
    return next(r for r in rows if r["engine"] == engine)


def derive(rows):
    """Speed-ups, ideal speed-ups and overheads (in place), from each case's t_f."""
    for row in rows:
        t_f = row["t_f"]
        base = next(r for r in rows if r["n"] == row["n"] and r["stencil"] == row["stencil"]
                    and r["engine"] == "dualfd serial")
        row["speedup"] = base["median"] / row["median"]
        w = row["workers"] or 1
        row["floor"] = math.ceil(row["evals"] / w) * t_f     # evaluations alone, perfectly split
        row["ideal_speedup"] = base["evals"] * t_f / row["floor"]
        row["overhead"] = row["median"] - row["floor"]       # per Jacobian
        row["overhead_first"] = row["first_call"] - row["floor"]
        row["overhead_per_task"] = (row["overhead"] / row["tasks"] if row["tasks"]
                                    else None)
    return rows


def projection(rows, t_f_remote=5.0, n=1000, workers=100, dask_startup=None):
    """Time for one Jacobian of n parameters at t_f_remote seconds per evaluation on
    `workers` workers: ceil(E / W) t_f + (tasks per worker) x overhead per task, with
    the largest Dask overhead per task measured here (dualfd sends one task per worker
    per Jacobian: a block of points, split in contiguous ranges)."""
    dask = [r["overhead_per_task"] for r in rows
            if r["engine"] == "dualfd Dask" and r["overhead_per_task"] is not None]
    overhead = max(dask) if dask else None
    out = []
    for stencil, evals in (("central", 2 * n), ("forward", n + 1)):
        tasks_per_worker = 1
        compute = math.ceil(evals / workers) * t_f_remote
        out.append({"stencil": stencil, "n": n, "evals": evals, "workers": workers,
                    "t_f": t_f_remote, "overhead_per_task": overhead,
                    "tasks_per_worker": tasks_per_worker, "compute": compute,
                    "parallel": None if overhead is None
                    else compute + tasks_per_worker * max(overhead, 0.0),
                    "serial": evals * t_f_remote, "dask_startup": dask_startup})
    return out


# --- report --------------------------------------------------------------------------------


def targets(rows):
    out = []

    def add(what, value, goal, passed, fmt="{:.2f}"):
        out.append({"target": what, "measured": "-" if value is None else fmt.format(value),
                    "goal": goal, "status": "n/a" if value is None else
                    ("PASS" if passed else "MISS")})

    for (n, stencil) in dict.fromkeys((r["n"], r["stencil"]) for r in rows):
        at = {r["engine"]: r for r in rows if r["n"] == n and r["stencil"] == stencil}
        ours, peer = at[f"dualfd workers={WORKERS}"], at[f"scipy workers={WORKERS}"]
        bare = at[f"bare f, {WORKERS} processes"]
        add(f"n = {n}, {stencil}: dualfd workers={WORKERS} speed-up over serial "
            f"(ideal {ours['ideal_speedup']:.2f}x; bare f on {WORKERS} processes, same "
            f"rounds: {bare['speedup']:.2f}x)", ours["speedup"], ">= 1.8x",
            ours["speedup"] >= 1.8, "{:.2f}x")
        ratio = ours["median"] / peer["median"]
        add(f"n = {n}, {stencil}: time dualfd workers={WORKERS} / SciPy workers={WORKERS}",
            ratio, "<= 1", ratio <= 1)
    bad = [r for r in rows if r["equal"] is False]
    add("parallel Jacobians not bitwise equal to the serial ones", len(bad), "0", not bad,
        "{:d}")
    return out


def markdown(report):
    t = house.fmt_time

    def ms(v):
        return "-" if v is None else f"{v * 1e3:.1f}"

    lines = [f"# Parallel evaluation of f ({report['mode']} run)", "",
             f"{report['machine']}; {report['date']}; total {report['seconds']:.0f} s; "
             f"dualfd {report['versions']['dualfd']}, SciPy {report['versions']['scipy']}, "
             f"distributed {report['versions']['distributed']}.",
             f"f: R^n -> R^{M_OUT}, {report['steps']} steps of 64 x 64 products; "
             f"t_f = {t(report['t_f'])} at start-up (median bare call, BLAS 1 thread; "
             f"again before each case, below); {WORKERS} workers; load average "
             f"{report['load'][0]:.2f} before, {report['load'][1]:.2f} after (1 minute: "
             "other processes on these cores make the speed-ups lower).",
             "time: median per Jacobian over the calls after the first (engines take turns, a "
             "call each per round; SciPy workers=int makes a Pool per call); first: the "
             "first call (dualfd "
             "workers=2: starts the processes; Dask: scatters f); speed-up: dualfd serial "
             "time / time; ideal: evals / ceil(evals / workers); overhead = time - "
             "ceil(evals / workers) x t_f, per Jacobian and per task; driver CPU: this process's "
             "CPU time per Jacobian (median; serial: f itself).  'bare f, 2 processes': "
             "the same evaluations split in two, no FD and no transfer of points: the "
             "speed-up the cores allow in the same rounds (other processes on the shared "
             "cores lower it).", ""]
    for (n, stencil) in dict.fromkeys((r["n"], r["stencil"]) for r in report["rows"]):
        rows = [r for r in report["rows"] if r["n"] == n and r["stencil"] == stencil]
        lines += [f"## n = {n}, {stencil} ('{STENCILS[stencil]}'), t_f = {t(rows[0]['t_f'])}",
                  "",
                  "| engine | evals | tasks | time | first | speed-up | ideal "
                  "| overhead ms | first ms | ms/task | driver CPU | bitwise = serial |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for r in rows:
            eq = "-" if r["equal"] is None else ("yes" if r["equal"] else "MISMATCH")
            lines.append(
                f"| {r['engine']} | {r['evals']} | {r['tasks'] or '-'} | {t(r['median'])} | "
                f"{t(r['first_call'])} | {r['speedup']:.2f}x | {r['ideal_speedup']:.2f}x | "
                f"{ms(r['overhead'])} | {ms(r['overhead_first'])} | "
                f"{ms(r['overhead_per_task'])} | {t(r['driver_cpu'])} | {eq} |")
        lines.append("")
    lines += ["## Dask", "", f"LocalCluster({WORKERS} processes, 1 thread each) + Client "
              f"start-up: {t(report['dask_startup']) if report['dask_startup'] else '-'}"
              + ("" if report["dask_startup"] else f" ({report['dask_note']})"), ""]
    lines += ["## Projection: 1,000 parameters, 5 s per evaluation, 100 workers", "",
              "time ~ ceil(evals / workers) x t_f + (tasks per worker) x overhead per task "
              "(the largest Dask overhead per task measured above; dualfd sends one task "
              "per worker); the cluster's start-up comes on top, once.", "",
              "| stencil | evals | compute | overhead/task | parallel | serial | serial / "
              "parallel |", "|---|---:|---:|---:|---:|---:|---:|"]
    for p in report["projection"]:
        par = p["parallel"]
        gain = "-" if par is None else f"{p['serial'] / par:.0f}x"
        lines.append(f"| {p['stencil']} | {p['evals']} | {t(p['compute'])} | "
                     f"{ms(p['overhead_per_task'])} ms | {t(par)} | {t(p['serial'])} | "
                     f"{gain} |")
    lines += ["", "## Targets", "", house.targets_table(report["targets"]), ""]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="n = 16 only, fewer repeats")
    group.add_argument("--smoke", action="store_true", help="t_f ~ 1 ms, n = 4")
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask rows")
    parser.add_argument("--out", type=Path, default=HERE / "out")
    args = parser.parse_args(argv)
    mode_name = "smoke" if args.smoke else "quick" if args.quick else "full"
    mode = MODES[mode_name]
    import dualfd
    start = time.perf_counter()
    load_before = os.getloadavg()[0]

    steps = calibrate(mode.target_tf)
    t_f = time_f(make_constants(16, steps), np.linspace(-1.0, 1.0, 16), 5)
    house.log(f"f: {steps} steps, t_f = {house.fmt_time(t_f)}")

    cluster = client = None
    dask_startup, dask_note = None, ""
    if args.no_dask or not mode.dask:
        dask_note = "skipped (--no-dask)"
    elif not dask_available():
        dask_note = "not installed (pip install 'dask[distributed]')"
    else:
        cluster, client, dask_startup = start_dask()
        house.log(f"Dask LocalCluster + Client: {house.fmt_time(dask_startup)}")
    if dask_note:
        house.log(f"Dask: {dask_note}")

    rows = []
    # SciPy's persistent pool: forked here, before any thread of Dask's would matter
    with multiprocessing.get_context().Pool(WORKERS) as scipy_pool:
        try:
            for n in mode.sizes:
                consts = make_constants(n, steps)
                for stencil in STENCILS:
                    house.log(f"n = {n}, {stencil}:")
                    rows += bench_case(n, stencil, consts, mode, client, scipy_pool)
        finally:
            if client is not None:
                client.close()
                cluster.close()
    derive(rows)
    report = {"mode": mode_name, "rows": rows, "t_f": t_f, "steps": steps,
              "load": (load_before, os.getloadavg()[0]),
              "workers": WORKERS, "dask_startup": dask_startup, "dask_note": dask_note,
              "projection": projection(rows, dask_startup=dask_startup),
              "versions": {"dualfd": dualfd.__version__, "scipy": scipy.__version__,
                           "numpy": np.__version__, "distributed": distributed_version()}}
    house.stamp(report, start)
    report["targets"] = targets(rows)
    house.save(report, args.out, "workers", markdown(report))
    bad = [r for r in rows if r["equal"] is False]
    for r in bad:
        print(f"MISMATCH: n = {r['n']}, {r['stencil']}, {r['engine']}: the parallel "
              "Jacobian differs from the serial one", file=sys.stderr)
    if bad:
        sys.exit(1)
    return report


def distributed_version():
    try:
        import distributed
        return distributed.__version__
    except ImportError:
        return "-"


if __name__ == "__main__":
    main()
