"""`python -m dualfd`: a 2-second demo of each engine against analytic answers."""

import numpy as np

import dualfd as dfd


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


def main():
    print(f"dualfd {dfd.__version__}")
    x = np.array([-1.2, 1.0, 0.5, -0.3])
    exact = rosenbrock_grad(x)
    print(f"\ngradient of Rosenbrock at x = {x}")
    print(f"  analytic       {exact}")
    for method in ("forward", "central", "complex", "dual"):
        try:
            g = dfd.grad(rosenbrock, method=method)(x)
        except NotImplementedError as e:
            print(f"  {method:<14} ({e})")
            continue
        err = np.max(np.abs(g - exact)) / max(1.0, np.max(np.abs(exact)))
        print(f"  {method:<14} {g}   max rel error {err:.1e}")

    x = np.linspace(-1.0, 1.0, 5)
    exact = residual_jacobian(x)
    print(f"\nJacobian (5 x 5) of the Broyden tridiagonal residual at x = {x}")
    for method in ("central", "complex", "dual"):
        for vectorized in (False, True):
            if method == "dual" and vectorized:
                continue
            try:
                J = dfd.jacobian(residual, method=method, vectorized=vectorized)(x)
            except NotImplementedError as e:
                print(f"  {method:<8} ({e})")
                continue
            err = np.max(np.abs(J - exact)) / max(1.0, np.max(np.abs(exact)))
            mode = "vectorized" if vectorized else "loop"
            print(f"  {method:<8} {mode:<10} max rel error {err:.1e}")


if __name__ == "__main__":
    main()
