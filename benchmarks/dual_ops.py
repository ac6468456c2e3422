"""Per-operation cost of the Dual against NumPy on plain arrays, and the cost of
np.asarray(x) at the top of f.

    python benchmarks/dual_ops.py            # prints two Markdown tables

Table 1: for each operation, the time of the Dual operation (value plus k tangent
directions) divided by the time of the same NumPy call on the float64 values alone,
for 1, 100 and 10,000 elements and k = 1 and 16.  A Dual of n elements and k
directions moves (1 + k) n doubles, so at large n the ratio tends to about 1 + k
(times the cost of the rule); at n = 1 it is the fixed cost of a call.

Table 2: gradients of SciPy's rosen (which starts with np.asarray(x), so it runs on
an object array of 0-d Duals) and of the same expression without asarray (Dual
arithmetic in C), at n = 10, 100, 1000; the ratio is the price of the object path.
"""

from __future__ import annotations

import timeit

import numpy as np

import dualfd as dfd
from dualfd import Dual

SIZES = (1, 100, 10_000)
KS = (1, 16)

OPERATIONS = {
    "x * y": (lambda a, b: a * b, 2),
    "x + 1.5": (lambda a, b: a + 1.5, 1),
    "np.sin(x)": (lambda a, b: np.sin(a), 1),
    "np.exp(x)": (lambda a, b: np.exp(a), 1),
    "x ** 3": (lambda a, b: a ** 3.0, 1),
    "np.sum(x)": (lambda a, b: np.sum(a), 1),
    "x[1:]": (lambda a, b: a[1:], 1),
    "x[::2]": (lambda a, b: a[::2], 1),
    "x.reshape(-1)": (lambda a, b: a.reshape(-1), 1),
}


def best(stmt, min_time=0.05):
    timer = timeit.Timer(stmt)
    number, elapsed = timer.autorange()
    while elapsed < min_time:
        number *= 2
        elapsed = timer.timeit(number)
    return min(timer.repeat(5, number)) / number


def operation_table():
    rng = np.random.default_rng(0)
    lines = ["| operation | " + " | ".join(f"n={n}, k={k}" for n in SIZES for k in KS)
             + " |", "|---|" + "---:|" * (len(SIZES) * len(KS))]
    for name, (op, arity) in OPERATIONS.items():
        cells = []
        for n in SIZES:
            va, vb = rng.uniform(0.5, 1.5, n), rng.uniform(0.5, 1.5, n)
            base = best(lambda: op(va, vb))
            for k in KS:
                da = Dual(va, rng.standard_normal((n, k)))
                db = Dual(vb, rng.standard_normal((n, k)))
                cells.append(f"{best(lambda: op(da, db)) / base:.1f}")
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def rosen_plain(x):
    """scipy.optimize.rosen's expression without its np.asarray(x)."""
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2.0) ** 2.0 + (1 - x[:-1]) ** 2.0, axis=0)


def asarray_table():
    from scipy.optimize import rosen
    lines = ["| n | rosen (np.asarray in f) | same without asarray | ratio |",
             "|---:|---:|---:|---:|"]
    for n in (10, 100, 1000):
        x = np.resize([-1.2, 1.0], n)
        g_obj, g_plain = dfd.grad(rosen, method="dual"), dfd.grad(rosen_plain,
                                                                 method="dual")
        np.testing.assert_allclose(g_obj(x), g_plain(x), rtol=1e-14)
        t_obj, t_plain = best(lambda: g_obj(x), 0.2), best(lambda: g_plain(x), 0.2)
        lines.append(f"| {n} | {t_obj * 1e6:.0f} us | {t_plain * 1e6:.1f} us | "
                     f"{t_obj / t_plain:.0f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print("Dual operation time / NumPy time on the values alone\n")
    print(operation_table())
    print("\nnp.asarray(x) at entry: gradient time\n")
    print(asarray_table())
