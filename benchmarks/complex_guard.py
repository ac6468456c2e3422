"""What the guard of method='complex' costs and catches.

    python benchmarks/complex_guard.py          # about a minute on 2 cores
    python benchmarks/complex_guard.py --quick  # fewer points and repeats

Prints four tables:

* false alarms on the More-Garbow-Hillstrom set (tests/problems.py) at x0, at
  perturbed points, at the scaled points and at the least-squares minimizers,
  in loop and vectorized mode, without bounds and with x on a bound;
* detections on a set of non-analytic functions (each raises NonAnalyticError);
* extra evaluations of f per Jacobian (calls of f beyond the n of the complex
  step; in vectorized mode, calls beyond the one);
* time per Jacobian with and without the guard at n = 10 and 100.
"""

from __future__ import annotations

import argparse
import sys
import timeit
from collections import Counter
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import problems  # noqa: E402

import dualfd as dfd  # noqa: E402
from dualfd import _complex_guard  # noqa: E402
from dualfd._complex_guard import NonAnalyticError  # noqa: E402


class Counted:
    """f with a count of its calls and of the points it was evaluated at."""

    def __init__(self, f, vectorized=False):
        self.f, self.vectorized = f, vectorized
        self.calls = self.points = 0

    def __call__(self, x):
        self.calls += 1
        self.points += x.shape[-1] if self.vectorized and x.ndim > 1 else 1
        return self.f(x)


def minimizer(p):
    from scipy.optimize import least_squares
    return least_squares(p.residual, p.x0, jac=p.jacobian, method="lm", xtol=1e-15,
                         ftol=1e-15, gtol=1e-15, max_nfev=2000).x


def mgh_points(quick):
    rng = np.random.default_rng(1981)
    out = []
    for p in problems.PROBLEMS:
        out.append((p, "x0", p.x0))
        for k, x in enumerate(problems.perturbed_points(p, rng, 1 if quick else 3)):
            out.append((p, f"perturbed {k}", x))
        if not quick:
            out.append((p, "minimizer", minimizer(p)))
    for p, x in problems.scaled_points():
        out.append((p, "scaled", x))
    return out


def bound_cases(x):
    """No bounds; x on its lower bound; x on its upper bound; a narrow box."""
    s = np.maximum(1.0, np.abs(x))
    return {"none": None, "x = lb": (x, x + s), "x = ub": (x - s, x),
            "box 1e-6": (x - 1e-6 * s, x + 1e-6 * s)}


def false_alarms(quick):
    alarms, runs, extra = [], 0, Counter()
    for p, where, x in mgh_points(quick):
        for vec in (False, True):
            for bname, bounds in bound_cases(x).items():
                f = Counted(p.residual, vec)
                try:
                    dfd.jacobian(f, method="complex", vectorized=vec, bounds=bounds)(x)
                except NonAnalyticError as e:
                    alarms.append((p.name, where, vec, bname, str(e)[:160]))
                runs += 1
                extra[(vec, f.calls - (1 if vec else p.n))] += 1
    return alarms, runs, extra


def margins(quick):
    """Misfit / tolerance of the check without bounds (central stencil along w):
    the first test (RTOL * scale + rounding), and with the truncation estimate
    from step 2t that a failing first test adds.  Alarms need both > 1."""
    g = _complex_guard
    first, final = [], []
    for p, where, x in mgh_points(quick):
        J = dfd.jacobian(p.residual, method="complex")(x)
        w = g._direction(p.n) * np.maximum(1.0, np.abs(x))
        calls = g._RealCalls(p.residual, x, (), {}, (p.m,), False, None, None)
        calls.along(w)
        r, scale, rounding, _, _ = g._misfit(calls, J, g._CENTRAL, g.RSTEP)
        tol = g.RTOL * scale + rounding
        r2 = g._misfit(calls, J, g._CENTRAL, 2 * g.RSTEP)[0]
        trunc = np.abs(r2 - r) / 3.0
        first.append((float(np.max(np.abs(r) / tol)), p.name, where))
        final.append((float(np.max(np.abs(r) / (tol + g.NOISE * trunc))), p.name, where))
    return sorted(first)[::-1], sorted(final)[::-1]


def _kink(x):
    return np.maximum(x, 0.0)


NON_ANALYTIC = {
    # name: (f, x); piecewise constructs at a kink, where they take one side
    "np.abs": (lambda x: np.sum(x ** 2) + np.sum(np.abs(x)), np.array([0.7, -1.3, 2.1])),
    "abs (builtin) of one entry": (lambda x: x @ x + abs(x[1]), np.array([0.7, -1.3, 2.1])),
    "np.sign (NumPy 2: z/|z|)": (lambda x: np.sum(np.sign(x) * x ** 2), np.array([0.7, -1.3, 2.1])),
    "np.linalg.norm in a sum": (lambda x: x @ x + np.linalg.norm(x), np.array([0.7, -1.3, 2.1])),
    "x.real": (lambda x: np.sum(x.real ** 2 + x), np.array([0.7, -1.3, 2.1])),
    "np.real_if_close": (lambda x: np.sum(np.real_if_close(x) ** 2 + x), np.array([0.7, -1.3, 2.1])),
    "np.real": (lambda x: np.sum(np.sin(np.real(x)) + x), np.array([0.7, -1.3, 2.1])),
    "float buffer buf[:] = x": (lambda x: _buffer(x), np.array([0.7, -1.3, 2.1])),
    "np.asarray(x, float)": (lambda x: np.sum(np.asarray(x, float) ** 3) + x[0], np.array([0.7, -1.3, 2.1])),
    "np.conj": (lambda x: np.sum(x * np.conj(x)), np.array([0.7, -1.3, 2.1])),
    "hypot-style sqrt(x * conj(x))": (lambda x: np.sum(np.sqrt(x * x.conj())) + x[0], np.array([0.7, -1.3, 2.1])),
    "np.maximum at a tie": (lambda x: np.sum(_kink(x)), np.array([0.0, 1.0, -1.0])),
    "np.minimum at a tie": (lambda x: np.sum(np.minimum(x, 1.0)), np.array([1.0, 0.5, 2.0])),
    "np.fmax at a tie": (lambda x: np.sum(np.fmax(x, 0.5)), np.array([0.5, 1.0, -1.0])),
    "np.where(x > 0) at 0": (lambda x: np.sum(np.where(x > 0, x, -x)), np.array([0.0, 1.0, -1.0])),
    "branch x.real > 0 at 0": (lambda x: x[0] if x[0].real > 0 else -x[0], np.array([0.0, 1.0])),
    "np.clip at the edge": (lambda x: np.sum(np.clip(x, -1.0, 1.0) ** 2), np.array([1.0, 0.2, -1.0])),
    "comparison on |x| at its kink": (lambda x: np.sum(np.where(np.abs(x) > 1.0, x - 1.0, 0.0)),
                                      np.array([1.0, 0.5, 2.0])),
    "builtin max at a tie": (lambda x: max(x[0], x[1]) + x[2], np.array([1.0, 1.0, 2.0])),
    "np.sort at a tie": (lambda x: np.sort(x)[0] * 2.0, np.array([1.0, 1.0, 2.0])),
}


def _buffer(x):
    b = np.empty(x.shape)
    b[:] = x
    return np.sum(b ** 2) + np.sum(x)


def detections():
    import warnings
    found, missed = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
        for name, (f, x) in NON_ANALYTIC.items():
            try:
                dfd.grad(f, method="complex")(x)
            except NonAnalyticError:
                found.append(name)
            except TypeError as e:   # f returned a real dtype: caught before the guard
                found.append(name + " (TypeError: " + str(e)[:40] + "...)")
            else:
                missed.append(name)
    return found, missed


def timing(quick):
    """(name, n, vectorized, time without guard, time with, time of one call of
    f at a real point): the minimum over repeats, the two variants measured
    in turn so that load on the machine hits both alike."""
    rows = []
    repeat = 5 if quick else 15
    for n in (10, 100):
        x = problems.BY_NAME["broyden_tridiagonal_10"].x0 if n == 10 else -np.ones(n)
        for name, f in (("broyden_tridiagonal jacobian", problems.broyden_tridiagonal_residual),
                        ("rosenbrock grad", problems.rosenbrock_objective)):
            kind = dfd.jacobian if "jacobian" in name else dfd.grad
            for vec in (False, True):
                J = kind(f, method="complex", vectorized=vec)
                number = max(1, int(4000 / n))
                best = {True: np.inf, False: np.inf}
                for _ in range(repeat):
                    for guard in (True, False):
                        _complex_guard.ENABLED = guard
                        try:
                            t = timeit.timeit(lambda: J(x), number=number) / number
                        finally:
                            _complex_guard.ENABLED = True
                        best[guard] = min(best[guard], t)
                X = np.stack([x, x], axis=-1) if vec else x.copy()
                tf = min(timeit.repeat(lambda: f(X), number=2000, repeat=5)) / 2000
                rows.append((name, n, vec, best[False], best[True], tf))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()

    alarms, runs, extra = false_alarms(args.quick)
    print(f"False alarms on More-Garbow-Hillstrom: {len(alarms)} of {runs} Jacobians "
          f"({len(problems.PROBLEMS)} problems; x0, perturbed, scaled, minimizer points; "
          "loop and vectorized; 4 bound settings)")
    for a in alarms:
        print("  ALARM", *a)

    first, final = margins(args.quick)
    print("\nMargin on More-Garbow-Hillstrom without bounds, max |misfit| / tolerance "
          "(an alarm needs > 1 in both):")
    print(f"  first test: {sum(r > 1 for r, *_ in first)} of {len(first)} points above 1 "
          "(these take the retry at 2t); largest: "
          + ", ".join(f"{r:.3g} ({n}, {w})" for r, n, w in first[:3]))
    print(f"  with the truncation estimate: largest "
          + ", ".join(f"{r:.3g} ({n}, {w})" for r, n, w in final[:3]))

    found, missed = detections()
    print(f"\nDetections on non-analytic functions: {len(found)} of {len(NON_ANALYTIC)}")
    for name in found:
        print("  caught ", name)
    for name in missed:
        print("  MISSED ", name)

    print("\nExtra evaluations of f per Jacobian (successful checks), count of runs:")
    for (vec, k), c in sorted(extra.items()):
        print(f"  {'vectorized: extra calls' if vec else 'loop: extra calls    '} "
              f"{k:3d}: {c}")

    print("\nTime per Jacobian, complex step, without and with the guard (min over "
          "repeats); overhead in calls of f (vectorized: of one call with 2 points):")
    print(f"  {'function':30} {'n':>4} {'mode':>10} {'no guard':>10} {'guard':>10} "
          f"{'ratio':>6} {'overhead':>10}")
    for name, n, vec, t0, t1, tf in timing(args.quick):
        print(f"  {name:30} {n:4d} {'vectorized' if vec else 'loop':>10} "
              f"{t0 * 1e6:8.1f}us {t1 * 1e6:8.1f}us {t1 / t0:6.2f} "
              f"{(t1 - t0) / tf:6.1f} f")


if __name__ == "__main__":
    main()
