"""`python -m dualfd`: a ~2-second demo: each method against analytic derivatives, then
dualfd timed against SciPy on one problem, then where to read next."""

import statistics
import time

import numpy as np

import dualfd as dfd

REPEATS = 7           # timing: median over this many repeats ...
REPEAT_SECONDS = 0.01  # ... of as many calls as fill about this long

TERMS = [
    ("forward", "(f(x + h e_j) - f(x)) / h: n + 1 calls of f, error ~ h"),
    ("central", "(f(x + h e_j) - f(x - h e_j)) / 2h: 2n calls of f, error ~ h^2"),
    ("complex", "complex step Im f(x + i h e_j) / h: exact for analytic f"),
    ("dual", "f runs once on a Dual array carrying n tangents: exact"),
    ("loop", "one call of f per perturbed point (f as you wrote it)"),
    ("vectorized", "one call of f for all points: x of shape (n, k), a point per column"),
    ("Broyden tridiagonal", "a test residual (More, Garbow, Hillstrom no. 30), "
                            "tridiagonal J"),
]

NEXT = [
    ("README.md", 'sections "A 30-second tour", "Exact derivatives", "With SciPy"'),
    ("", '"Expensive functions", "Large sparse problems", "Benchmarks"'),
    ("python benchmarks/run.py --quick", "dualfd against every installed peer, "
                                         "under a minute"),
    ("docs/", "the API reference: sphinx-build -b html docs docs/_build/html"),
    ("help(dualfd.jacobian)", "every option of one transform"),
]


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def rosenbrock_grad(x):
    g = np.zeros_like(x)
    g[:-1] = -400.0 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2.0 * (1.0 - x[:-1])
    g[1:] += 200.0 * (x[1:] - x[:-1] ** 2)
    return g


def residual(x):
    """Broyden tridiagonal: f_i = (3 - 2 x_i) x_i - x_{i-1} - 2 x_{i+1} + 1.

    Written for x of shape (n,) or (n, k) (vectorized) and for a Dual."""
    zero = 0.0 * x[:1]  # x_0 = x_{n+1} = 0, shaped like one row of x
    left = np.concatenate([zero, x[:-1]])
    right = np.concatenate([x[1:], zero])
    return (3.0 - 2.0 * x) * x - left - 2.0 * right + 1.0


def residual_jacobian(x):
    n = x.size
    return np.diag(3.0 - 4.0 * x) - np.eye(n, k=-1) - 2.0 * np.eye(n, k=1)


def rel_error(approx, exact):
    return np.max(np.abs(approx - exact)) / max(1.0, np.max(np.abs(exact)))


def median_time(call):
    """Median seconds per call over REPEATS repeats, each of enough calls to fill
    REPEAT_SECONDS (one call is too short to time at the clock's resolution)."""
    start = time.perf_counter()
    call()
    once = max(time.perf_counter() - start, 1e-7)
    number = max(1, int(REPEAT_SECONDS / once))
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        for _ in range(number):
            call()
        times.append((time.perf_counter() - start) / number)
    return statistics.median(times)


def scipy_approx_derivative():
    """scipy.optimize's finite-difference Jacobian, or None without SciPy."""
    try:
        import scipy.optimize
    except ImportError:
        return None
    try:  # public in some SciPy versions; private module only in 1.17
        return scipy.optimize.approx_derivative
    except AttributeError:
        from scipy.optimize._numdiff import approx_derivative
        return approx_derivative


def fmt_time(seconds):
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    return f"{seconds * 1e3:.2f} ms"


def show_table(title, rows):
    print(f"\n{title}")
    width = max(len(left) for left, _ in rows)
    for left, right in rows:
        print(f"  {left:<{width}}  {right}")


def show_gradients():
    x = np.array([-1.2, 1.0, 0.5, -0.3])
    exact = rosenbrock_grad(x)
    print(f"\n1. Gradient of Rosenbrock at x = {x}, vs the analytic gradient")
    print(f"  {'analytic':<8} {exact}")
    for method in ("forward", "central", "complex", "dual"):
        g = dfd.grad(rosenbrock, method=method)(x)
        print(f"  {method:<8} {g}   max rel error {rel_error(g, exact):.1e}")


def show_jacobians():
    x = np.linspace(-1.0, 1.0, 5)
    exact = residual_jacobian(x)
    print(f"\n2. Jacobian (5 x 5) of Broyden tridiagonal at x = {x}, vs the analytic J")
    for method in ("forward", "central", "complex", "dual"):
        modes = (False,) if method == "dual" else (False, True)
        for vectorized in modes:
            J = dfd.jacobian(residual, method=method, vectorized=vectorized)(x)
            mode = "vectorized" if vectorized else ("" if method == "dual" else "loop")
            print(f"  {method:<8} {mode:<10}  max rel error {rel_error(J, exact):.1e}")


def show_timing(n=100):
    x = np.linspace(-1.0, 1.0, n)
    exact = residual_jacobian(x)
    print(f"\n3. Time per Jacobian of the Broyden tridiagonal residual, n = {n} "
          f"(median of {REPEATS} repeats)")
    rows = []
    for method, vectorized in (("dual", False), ("forward", True), ("central", True),
                               ("complex", True), ("forward", False),
                               ("central", False)):
        J = dfd.jacobian(residual, method=method, vectorized=vectorized)
        mode = ", vectorized" if vectorized else ("" if method == "dual" else ", loop")
        rows.append((f"dualfd {method}{mode}", lambda J=J: J(x)))
    approx_derivative = scipy_approx_derivative()
    if approx_derivative is not None:
        for method in ("2-point", "3-point", "cs"):
            rows.append((f"SciPy approx_derivative {method}",
                         lambda m=method: approx_derivative(residual, x, method=m)))
    width = max(len(name) for name, _ in rows)
    print(f"  {'library, method':<{width}}  {'time':>9}  max rel error")
    times = {}
    for name, call in rows:
        times[name] = median_time(call)
        err = rel_error(call(), exact)
        print(f"  {name:<{width}}  {fmt_time(times[name]):>9}  {err:.1e}")
    if approx_derivative is None:
        print("  SciPy is not installed (pip install scipy): no comparison with "
              "scipy.optimize.approx_derivative")
        return
    for ours, theirs in (("dualfd forward, vectorized", "SciPy approx_derivative 2-point"),
                         ("dualfd central, vectorized", "SciPy approx_derivative 3-point"),
                         ("dualfd dual", "SciPy approx_derivative 3-point")):
        print(f"  {ours} vs {theirs}: {times[theirs] / times[ours]:.1f}x")


def main():
    print(f"dualfd {dfd.__version__}: derivatives of Python/NumPy functions")
    show_table("Terms", TERMS)
    show_gradients()
    show_jacobians()
    show_timing()
    show_table("Read next", NEXT)


if __name__ == "__main__":
    main()
