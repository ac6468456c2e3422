"""The benchmark functions of tests/problems.py, translated for each peer's array type.

tests/problems.py holds the NumPy originals (used by dualfd, SciPy, numdifftools and
jacobi, which all take NumPy functions).  Autograd, JAX and PyTorch need the same math
written against their own array namespace, and num-dual against its scalar dual types.
The array versions are written once, against a small namespace ``xp`` that provides
``sum``, ``concatenate``, ``exp`` and ``constant``; each translation below mirrors the
original operation by operation so every library does the same arithmetic.
"""

from __future__ import annotations

import types

import numpy as np

import problems   # tests/problems.py; run.py puts tests/ on sys.path

OSBORNE1_T = 10.0 * np.arange(33.0)
OSBORNE1_Y = problems.OSBORNE1_Y


# --- the math, once, against an array namespace xp ------------------------------------------

def rosenbrock(x, xp):
    n = x.shape[0]
    a, b = x[0:n - 1], x[1:n]
    return xp.sum(100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2, axis=0)


def broyden_tridiagonal(x, xp):
    # problems._tridiag with lower = -1, upper = -2 and x_0 = x_{n+1} = 0
    n = x.shape[0]
    core = (3.0 - 2.0 * x) * x + 1.0
    return xp.concatenate([
        core[0:1] - 2.0 * x[1:2],
        core[1:n - 1] - x[0:n - 2] - 2.0 * x[2:n],
        core[n - 1:n] - x[n - 2:n - 1],
    ], axis=0)


def scalar_style(x, xp):
    return x[0] ** 2 * x[1] + x[0] * x[1] ** 3


def osborne1(x, xp):
    t, y = xp.constant(OSBORNE1_T), xp.constant(OSBORNE1_Y)
    return y - (x[0] + x[1] * xp.exp(-x[3] * t) + x[2] * xp.exp(-x[4] * t))


ARRAY_FUNCTIONS = {"rosenbrock": rosenbrock, "broyden_tridiagonal": broyden_tridiagonal,
                   "scalar_style": scalar_style, "osborne1": osborne1}


def namespace(library):
    """The xp of one array library: 'autograd', 'jax' or 'torch'."""
    if library == "autograd":
        import autograd.numpy as anp
        return types.SimpleNamespace(sum=anp.sum, concatenate=anp.concatenate, exp=anp.exp,
                                     constant=lambda a: a)
    if library == "jax":
        import jax.numpy as jnp
        return types.SimpleNamespace(sum=jnp.sum, concatenate=jnp.concatenate, exp=jnp.exp,
                                     constant=jnp.asarray)
    if library == "torch":
        import torch
        constants = {}

        def constant(a):   # converted once, not on every call
            key = id(a)
            if key not in constants:
                constants[key] = torch.as_tensor(a, dtype=torch.float64)
            return constants[key]

        return types.SimpleNamespace(sum=lambda a, axis: torch.sum(a, dim=axis),
                                     concatenate=lambda parts, axis: torch.cat(parts, dim=axis),
                                     exp=torch.exp, constant=constant)
    raise ValueError(f"no namespace for {library!r}")


def array_function(problem, library):
    """f(x) for x an array of `library` (autograd/jax take their numpy, torch a tensor)."""
    math, xp = ARRAY_FUNCTIONS[problem], namespace(library)
    return lambda x: math(x, xp)


# --- num-dual: f receives a list of dual scalars and returns a scalar or a list -----------

def num_dual_function(problem):
    """The same math on Python lists of num-dual scalars (its gradient/jacobian call f
    with a list of DualSVec64 and expect a dual scalar or a list of them)."""
    if problem == "rosenbrock":
        def f(x):
            return sum(100.0 * (x[i + 1] - x[i] * x[i]) ** 2 + (1.0 - x[i]) ** 2
                       for i in range(len(x) - 1))
    elif problem == "broyden_tridiagonal":
        def f(x):
            n = len(x)
            core = [(3.0 - 2.0 * xi) * xi + 1.0 for xi in x]
            return ([core[0] - 2.0 * x[1]]
                    + [core[i] - x[i - 1] - 2.0 * x[i + 1] for i in range(1, n - 1)]
                    + [core[n - 1] - x[n - 2]])
    elif problem == "scalar_style":
        def f(x):
            return x[0] ** 2 * x[1] + x[0] * x[1] ** 3
    elif problem == "osborne1":
        def f(x):
            return [y - (x[0] + x[1] * (-x[3] * t).exp() + x[2] * (-x[4] * t).exp())
                    for t, y in zip(OSBORNE1_T.tolist(), OSBORNE1_Y.tolist())]
    else:
        raise ValueError(f"no num-dual translation of {problem!r}")
    return f
