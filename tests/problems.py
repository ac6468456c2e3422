"""Test problems of Moré, Garbow & Hillstrom, with analytic Jacobians.

J. J. Moré, B. S. Garbow and K. E. Hillstrom, "Testing Unconstrained Optimization
Software", ACM Trans. Math. Software 7(1):17-41, 1981.  Each problem is a residual
F: R^n -> R^m with objective f(x) = sum_i F_i(x)^2; the numbers in brackets below are
the paper's problem numbers.  Written from the paper's definitions, starting points
x0 and data tables; ``fstar`` is the paper's f at the minimizer that a local
least-squares method reaches from x0 (where the paper lists one).

Residuals are shared by several derivative engines, so they use a restricted set of
operations that works for
  * real float64 x of shape (n,)                   -> (m,)
  * complex x of shape (n,) (complex step)         -> (m,)
  * a batch x of shape (n, K), one point a column  -> (m, K)
  * a forward-mode dual array: indexing, a:b slices, arithmetic with arrays and
    scalars, ufuncs, np.stack / np.concatenate / np.sum / np.prod / np.cumsum with
    axis=, np.where with a plain condition.
Hence: no abs(), math.*, comparisons on x, np.array([...]) of computed entries,
np.asarray, or in-place writes; vectors are built with np.stack / np.concatenate,
and data vectors are reshaped with ``_col`` to broadcast against x[i] of a batch.
Jacobians are only needed for real x of shape (n,) and return float64 (m, n).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import math

import numpy as np

__all__ = [
    "Problem", "PROBLEMS", "BY_NAME", "scaled_points", "perturbed_points",
    "rosenbrock_objective", "rosenbrock_gradient", "scalar_style", "scalar_style_gradient",
    "broyden_tridiagonal_residual", "broyden_tridiagonal_jacobian",
]


@dataclass(frozen=True, eq=False)
class Problem:
    """One least-squares problem: f(x) = sum(residual(x)**2)."""

    name: str
    n: int
    m: int
    x0: np.ndarray
    residual: Callable
    jacobian: Callable
    fstar: float | None = None
    number: int | None = None   # the paper's problem number
    note: str = ""

    def __post_init__(self):
        # A private read-only float64 copy: problems are shared module-level state,
        # so a test that wrote into x0 would silently change every later test.
        x0 = np.array(self.x0, dtype=np.float64)
        x0.setflags(write=False)
        object.__setattr__(self, "x0", x0)

    def objective(self, x):
        """sum_i F_i(x)^2; for a batch (n, K) one value per column."""
        r = self.residual(x)
        return np.sum(r * r, axis=0)

    def gradient(self, x):
        """2 J^T F for real x of shape (n,)."""
        x = np.asarray(x, dtype=np.float64)
        return 2.0 * self.jacobian(x).T @ self.residual(x)


# --- helpers ---------------------------------------------------------------------------

def _col(data, x):
    """Data over the residual index, shaped to broadcast against x[i] of a batch."""
    data = np.asarray(data, dtype=np.float64)
    return data.reshape(data.shape + (1,) * (x.ndim - 1))   # x.ndim: no np.* dispatch


def _jac(m, *columns):
    """Dense (m, n) Jacobian from columns; constants are broadcast to length m."""
    return np.stack([np.broadcast_to(np.asarray(c, dtype=np.float64), (m,))
                     for c in columns], axis=1)


def _real_part(x):
    """Real part of x for branch conditions only (never differentiated): a dual
    array's ``.value``, the real part of a complex step, or x itself."""
    return np.real(x.value if hasattr(x, "value") else x)


def _tridiag(core, x, n, lower, upper):
    """core_i + lower * x_{i-1} + upper * x_{i+1} with x_0 = x_{n+1} = 0, the
    boundary convention of the paper's banded problems; built from slices so it
    works for batches and duals."""
    if n == 1:
        return core
    return np.concatenate([
        core[0:1] + upper * x[1:2],
        core[1:n - 1] + lower * x[0:n - 2] + upper * x[2:n],
        core[n - 1:n] + lower * x[n - 2:n - 1],
    ], axis=0)


# --- fixed-size problems [1]-[19] --------------------------------------------------------

def rosenbrock():  # [1]
    def F(x):
        return np.stack([10.0 * (x[1] - x[0] ** 2), 1.0 - x[0]])

    def J(x):
        return np.array([[-20.0 * x[0], 10.0], [-1.0, 0.0]])

    return Problem("rosenbrock", 2, 2, [-1.2, 1.0], F, J, 0.0, 1)


def freudenstein_roth():  # [2]
    def F(x):
        return np.stack([-13.0 + x[0] + ((5.0 - x[1]) * x[1] - 2.0) * x[1],
                         -29.0 + x[0] + ((x[1] + 1.0) * x[1] - 14.0) * x[1]])

    def J(x):
        y = x[1]
        return np.array([[1.0, 10.0 * y - 3.0 * y ** 2 - 2.0],
                         [1.0, 3.0 * y ** 2 + 2.0 * y - 14.0]])

    return Problem("freudenstein_roth", 2, 2, [0.5, -2.0], F, J, 48.9842, 2,
                   "x0 leads to the local minimum f = 48.9842 at (11.41, -0.8968); "
                   "the global minimum f = 0 is at (5, 4)")


def powell_badly_scaled():  # [3]
    def F(x):
        return np.stack([1e4 * x[0] * x[1] - 1.0,
                         np.exp(-x[0]) + np.exp(-x[1]) - 1.0001])

    def J(x):
        return np.array([[1e4 * x[1], 1e4 * x[0]],
                         [-np.exp(-x[0]), -np.exp(-x[1])]])

    return Problem("powell_badly_scaled", 2, 2, [0.0, 1.0], F, J, 0.0, 3)


def brown_badly_scaled():  # [4]
    def F(x):
        return np.stack([x[0] - 1e6, x[1] - 2e-6, x[0] * x[1] - 2.0])

    def J(x):
        return np.array([[1.0, 0.0], [0.0, 1.0], [x[1], x[0]]])

    return Problem("brown_badly_scaled", 2, 3, [1.0, 1.0], F, J, 0.0, 4)


def beale():  # [5]
    y = np.array([1.5, 2.25, 2.625])
    i = np.arange(1.0, 4.0)

    def F(x):
        return _col(y, x) - x[0] * (1.0 - x[1] ** _col(i, x))

    def J(x):
        return _jac(3, -(1.0 - x[1] ** i), x[0] * i * x[1] ** (i - 1))

    return Problem("beale", 2, 3, [1.0, 1.0], F, J, 0.0, 5)


def jennrich_sampson(m=10):  # [6]
    i = np.arange(1.0, m + 1)

    def F(x):
        ic = _col(i, x)
        return 2.0 + 2.0 * ic - (np.exp(x[0] * ic) + np.exp(x[1] * ic))

    def J(x):
        return _jac(m, -i * np.exp(i * x[0]), -i * np.exp(i * x[1]))

    return Problem("jennrich_sampson" + ("" if m == 10 else f"_m{m}"), 2, m, [0.3, 0.4],
                   F, J, 124.362 if m == 10 else None, 6)


def helical_valley():  # [7]
    def F(x):
        # theta = arctan(x2/x1)/(2 pi), plus 1/2 where x1 < 0.  The branch is
        # piecewise constant, so its condition is taken from the real part only.
        shift = np.where(_real_part(x[0]) < 0, 0.5, 0.0)
        theta = np.arctan(x[1] / x[0]) / (2.0 * np.pi) + shift
        return np.stack([10.0 * (x[2] - 10.0 * theta),
                         10.0 * (np.sqrt(x[0] ** 2 + x[1] ** 2) - 1.0),
                         x[2]])

    def J(x):
        r2 = x[0] ** 2 + x[1] ** 2
        r = np.sqrt(r2)
        c = 100.0 / (2.0 * np.pi * r2)   # -100 d(theta)/dx = c * (x2, -x1)
        return np.array([[c * x[1], -c * x[0], 10.0],
                         [10.0 * x[0] / r, 10.0 * x[1] / r, 0.0],
                         [0.0, 0.0, 1.0]])

    return Problem("helical_valley", 3, 3, [-1.0, 0.0, 0.0], F, J, 0.0, 7)


BARD_Y = np.array([0.14, 0.18, 0.22, 0.25, 0.29, 0.32, 0.35, 0.39,
                   0.37, 0.58, 0.73, 0.96, 1.34, 2.10, 4.39])


def bard():  # [8]
    u = np.arange(1.0, 16.0)
    v = 16.0 - u
    w = np.minimum(u, v)

    def F(x):
        uc, vc, wc = _col(u, x), _col(v, x), _col(w, x)
        return _col(BARD_Y, x) - (x[0] + uc / (x[1] * vc + x[2] * wc))

    def J(x):
        d2 = (v * x[1] + w * x[2]) ** 2
        return _jac(15, -1.0, u * v / d2, u * w / d2)

    return Problem("bard", 3, 15, [1.0, 1.0, 1.0], F, J, 8.21487e-3, 8)


GAUSSIAN_Y = np.array([0.0009, 0.0044, 0.0175, 0.0540, 0.1295, 0.2420, 0.3521, 0.3989,
                       0.3521, 0.2420, 0.1295, 0.0540, 0.0175, 0.0044, 0.0009])


def gaussian():  # [9]
    t = (8.0 - np.arange(1.0, 16.0)) / 2.0

    def F(x):
        d = _col(t, x) - x[2]
        return x[0] * np.exp(-0.5 * x[1] * d ** 2) - _col(GAUSSIAN_Y, x)

    def J(x):
        d = t - x[2]
        e = np.exp(-0.5 * x[1] * d ** 2)
        return _jac(15, e, -0.5 * x[0] * e * d ** 2, x[0] * x[1] * e * d)

    return Problem("gaussian", 3, 15, [0.4, 1.0, 0.0], F, J, 1.12793e-8, 9)


MEYER_Y = np.array([34780.0, 28610.0, 23650.0, 19630.0, 16370.0, 13720.0, 11540.0, 9744.0,
                    8261.0, 7030.0, 6005.0, 5147.0, 4427.0, 3820.0, 3307.0, 2872.0])


def meyer():  # [10]
    t = 45.0 + 5.0 * np.arange(1.0, 17.0)

    def F(x):
        return x[0] * np.exp(x[1] / (_col(t, x) + x[2])) - _col(MEYER_Y, x)

    def J(x):
        s = t + x[2]
        e = np.exp(x[1] / s)
        return _jac(16, e, x[0] * e / s, -x[0] * x[1] * e / s ** 2)

    return Problem("meyer", 3, 16, [0.02, 4000.0, 250.0], F, J, 87.9458, 10)


def box_3d(m=10):  # [12]
    t = 0.1 * np.arange(1.0, m + 1)
    c = np.exp(-t) - np.exp(-10.0 * t)

    def F(x):
        tc = _col(t, x)
        return np.exp(-x[0] * tc) - np.exp(-x[1] * tc) - x[2] * _col(c, x)

    def J(x):
        return _jac(m, -t * np.exp(-t * x[0]), t * np.exp(-t * x[1]), -c)

    return Problem("box_3d" + ("" if m == 10 else f"_m{m}"), 3, m, [0.0, 10.0, 20.0],
                   F, J, 0.0, 12)


def powell_singular():  # [13]
    p = extended_powell_singular(4)
    return Problem("powell_singular", 4, 4, p.x0, p.residual, p.jacobian, 0.0, 13)


def wood():  # [14]
    s90, s10 = np.sqrt(90.0), np.sqrt(10.0)

    def F(x):
        return np.stack([10.0 * (x[1] - x[0] ** 2), 1.0 - x[0],
                         s90 * (x[3] - x[2] ** 2), 1.0 - x[2],
                         s10 * (x[1] + x[3] - 2.0), (x[1] - x[3]) / s10])

    def J(x):
        return np.array([[-20.0 * x[0], 10.0, 0.0, 0.0],
                         [-1.0, 0.0, 0.0, 0.0],
                         [0.0, 0.0, -2.0 * s90 * x[2], s90],
                         [0.0, 0.0, -1.0, 0.0],
                         [0.0, s10, 0.0, s10],
                         [0.0, 1.0 / s10, 0.0, -1.0 / s10]])

    return Problem("wood", 4, 6, [-3.0, -1.0, -3.0, -1.0], F, J, 0.0, 14)


KOWALIK_OSBORNE_Y = np.array([0.1957, 0.1947, 0.1735, 0.1600, 0.0844, 0.0627,
                              0.0456, 0.0342, 0.0323, 0.0235, 0.0246])
KOWALIK_OSBORNE_U = np.array([4.0, 2.0, 1.0, 0.5, 0.25, 0.167,
                              0.125, 0.1, 0.0833, 0.0714, 0.0625])


def kowalik_osborne():  # [15]
    u = KOWALIK_OSBORNE_U

    def F(x):
        uc = _col(u, x)
        return _col(KOWALIK_OSBORNE_Y, x) - x[0] * (uc * uc + uc * x[1]) / (
            uc * uc + uc * x[2] + x[3])

    def J(x):
        num = u * u + u * x[1]
        den = u * u + u * x[2] + x[3]
        return _jac(11, -num / den, -x[0] * u / den,
                    x[0] * num * u / den ** 2, x[0] * num / den ** 2)

    return Problem("kowalik_osborne", 4, 11, [0.25, 0.39, 0.415, 0.39], F, J,
                   3.07505e-4, 15)


def brown_dennis(m=20):  # [16]
    t = np.arange(1.0, m + 1) / 5.0

    def F(x):
        tc = _col(t, x)
        a = x[0] + x[1] * tc - np.exp(tc)
        b = x[2] + x[3] * np.sin(tc) - np.cos(tc)
        return a * a + b * b

    def J(x):
        a = x[0] + t * x[1] - np.exp(t)
        b = x[2] + np.sin(t) * x[3] - np.cos(t)
        return _jac(m, 2.0 * a, 2.0 * a * t, 2.0 * b, 2.0 * b * np.sin(t))

    return Problem("brown_dennis" + ("" if m == 20 else f"_m{m}"), 4, m,
                   [25.0, 5.0, -5.0, -1.0], F, J, 85822.2 if m == 20 else None, 16)


OSBORNE1_Y = np.array([
    0.844, 0.908, 0.932, 0.936, 0.925, 0.908, 0.881, 0.850, 0.818, 0.784, 0.751,
    0.718, 0.685, 0.658, 0.628, 0.603, 0.580, 0.558, 0.538, 0.522, 0.506, 0.490,
    0.478, 0.467, 0.457, 0.448, 0.438, 0.431, 0.424, 0.420, 0.414, 0.411, 0.406])


def osborne1():  # [17]
    t = 10.0 * np.arange(33.0)

    def F(x):
        tc = _col(t, x)
        return _col(OSBORNE1_Y, x) - (x[0] + x[1] * np.exp(-x[3] * tc)
                                      + x[2] * np.exp(-x[4] * tc))

    def J(x):
        e4, e5 = np.exp(-t * x[3]), np.exp(-t * x[4])
        return _jac(33, -1.0, -e4, -e5, x[1] * t * e4, x[2] * t * e5)

    return Problem("osborne1", 5, 33, [0.5, 1.5, -1.0, 0.01, 0.02], F, J, 5.46489e-5, 17)


def biggs_exp6(m=13):  # [18]
    t = 0.1 * np.arange(1.0, m + 1)
    y = np.exp(-t) - 5.0 * np.exp(-10.0 * t) + 3.0 * np.exp(-4.0 * t)

    def F(x):
        tc = _col(t, x)
        return (x[2] * np.exp(-x[0] * tc) - x[3] * np.exp(-x[1] * tc)
                + x[5] * np.exp(-x[4] * tc) - _col(y, x))

    def J(x):
        e1, e2, e5 = np.exp(-t * x[0]), np.exp(-t * x[1]), np.exp(-t * x[4])
        return _jac(m, -t * x[2] * e1, t * x[3] * e2, e1, -e2, -t * x[5] * e5, e5)

    return Problem("biggs_exp6" + ("" if m == 13 else f"_m{m}"), 6, m,
                   [1.0, 2.0, 1.0, 1.0, 1.0, 1.0], F, J, 0.0, 18,
                   "x0 leads to f = 0 at (1, 10, 1, 5, 4, 3) up to symmetry; for m = 13 the "
                   "paper also lists f = 5.65565e-3 at a local minimum")


OSBORNE2_Y = np.array([
    1.366, 1.191, 1.112, 1.013, 0.991, 0.885, 0.831, 0.847, 0.786, 0.725, 0.746,
    0.679, 0.608, 0.655, 0.616, 0.606, 0.602, 0.626, 0.651, 0.724, 0.649, 0.649,
    0.694, 0.644, 0.624, 0.661, 0.612, 0.558, 0.533, 0.495, 0.500, 0.423, 0.395,
    0.375, 0.372, 0.391, 0.396, 0.405, 0.428, 0.429, 0.523, 0.562, 0.607, 0.653,
    0.672, 0.708, 0.633, 0.668, 0.645, 0.632, 0.591, 0.559, 0.597, 0.625, 0.739,
    0.710, 0.729, 0.720, 0.636, 0.581, 0.428, 0.292, 0.162, 0.098, 0.054])


def osborne2():  # [19]
    t = np.arange(65.0) / 10.0

    def F(x):
        tc = _col(t, x)
        model = x[0] * np.exp(-x[4] * tc)
        for k in range(1, 4):   # three Gaussian bumps: height x[k], width x[k+4], centre x[k+7]
            model = model + x[k] * np.exp(-x[k + 4] * (tc - x[k + 7]) ** 2)
        return _col(OSBORNE2_Y, x) - model

    def J(x):
        cols = [None] * 11
        e = np.exp(-t * x[4])
        cols[0], cols[4] = -e, x[0] * t * e
        for k in range(1, 4):
            d = t - x[k + 7]
            g = np.exp(-x[k + 4] * d ** 2)
            cols[k] = -g
            cols[k + 4] = x[k] * d ** 2 * g
            cols[k + 7] = -2.0 * x[k] * x[k + 4] * d * g
        return _jac(65, *cols)

    return Problem("osborne2", 11, 65,
                   [1.3, 0.65, 0.65, 0.7, 0.6, 3.0, 5.0, 7.0, 2.0, 4.5, 5.5], F, J,
                   4.01377e-2, 19)


# --- variable-size problems [20]-[35] ----------------------------------------------------

def watson(n=6):  # [20], m = 31
    t = np.arange(1.0, 30.0) / 29.0
    j = np.arange(n)
    fstar = {6: 2.28767e-3, 9: 1.39976e-6, 12: 4.72238e-10}.get(n)

    def F(x):
        tc = _col(t, x)
        s1 = sum(x[k] * tc ** k for k in range(n))                    # sum x_j t^(j-1)
        s2 = sum(k * x[k] * tc ** (k - 1) for k in range(1, n))       # its d/dt
        return np.concatenate([s2 - s1 * s1 - 1.0,
                               np.stack([x[0], x[1] - x[0] ** 2 - 1.0])], axis=0)

    def J(x):
        P = t[:, None] ** j                                          # t^(j-1)
        Pm = j * t[:, None] ** np.maximum(j - 1, 0)                  # (j-1) t^(j-2)
        s1 = P @ x
        top = Pm - 2.0 * s1[:, None] * P
        tail = np.zeros((2, n))
        tail[0, 0] = 1.0
        tail[1, 0], tail[1, 1] = -2.0 * x[0], 1.0
        return np.vstack([top, tail])

    return Problem(f"watson_{n}", n, 31, np.zeros(n), F, J, fstar, 20)


def extended_rosenbrock(n=10):  # [21], n even
    if n % 2:
        raise ValueError("extended Rosenbrock needs an even n")

    def F(x):
        return np.stack([r for i in range(0, n, 2)
                         for r in (10.0 * (x[i + 1] - x[i] ** 2), 1.0 - x[i])])

    def J(x):
        Jm = np.zeros((n, n))
        for i in range(0, n, 2):
            Jm[i, i], Jm[i, i + 1], Jm[i + 1, i] = -20.0 * x[i], 10.0, -1.0
        return Jm

    return Problem(f"extended_rosenbrock_{n}", n, n, np.tile([-1.2, 1.0], n // 2),
                   F, J, 0.0, 21)


def extended_powell_singular(n=8):  # [22], n a multiple of 4
    if n % 4:
        raise ValueError("extended Powell singular needs n divisible by 4")
    s5, s10 = np.sqrt(5.0), np.sqrt(10.0)

    def F(x):
        rows = []
        for i in range(0, n, 4):
            a, b, c, d = x[i], x[i + 1], x[i + 2], x[i + 3]
            rows += [a + 10.0 * b, s5 * (c - d), (b - 2.0 * c) ** 2, s10 * (a - d) ** 2]
        return np.stack(rows)

    def J(x):
        Jm = np.zeros((n, n))
        for i in range(0, n, 4):
            a, b, c, d = x[i:i + 4]
            Jm[i, i:i + 4] = [1.0, 10.0, 0.0, 0.0]
            Jm[i + 1, i:i + 4] = [0.0, 0.0, s5, -s5]
            Jm[i + 2, i:i + 4] = [0.0, 2.0 * (b - 2.0 * c), -4.0 * (b - 2.0 * c), 0.0]
            Jm[i + 3, i:i + 4] = [2.0 * s10 * (a - d), 0.0, 0.0, -2.0 * s10 * (a - d)]
        return Jm

    return Problem(f"extended_powell_singular_{n}", n, n, np.tile([3.0, -1.0, 0.0, 1.0], n // 4),
                   F, J, 0.0, 22)


def penalty_i(n=10):  # [23], m = n + 1
    sa = np.sqrt(1e-5)

    def F(x):
        return np.concatenate([sa * (x - 1.0), np.stack([np.sum(x * x, axis=0) - 0.25])],
                              axis=0)

    def J(x):
        return np.vstack([sa * np.eye(n), 2.0 * x[None, :]])

    return Problem(f"penalty_i_{n}", n, n + 1, np.arange(1.0, n + 1), F, J,
                   {4: 2.24997e-5, 10: 7.08765e-5}.get(n), 23)


def penalty_ii(n=10):  # [24], m = 2n
    sa = np.sqrt(1e-5)
    i = np.arange(2.0, n + 1)
    y = np.exp(i / 10.0) + np.exp((i - 1.0) / 10.0)
    w = np.arange(n, 0.0, -1.0)          # n - j + 1

    def F(x):
        e = np.exp(x / 10.0)
        return np.concatenate([
            np.stack([x[0] - 0.2]),
            sa * (e[1:n] + e[0:n - 1] - _col(y, x)),
            sa * (e[1:n] - np.exp(-0.1)),
            np.stack([np.sum(x * x * _col(w, x), axis=0) - 1.0])], axis=0)

    def J(x):
        return _penalty_ii_jacobian_complex(x)    # (defined below) float64 for real x

    return Problem(f"penalty_ii_{n}", n, 2 * n, np.full(n, 0.5), F, J,
                   {4: 9.37629e-6, 10: 2.93660e-4}.get(n), 24)


def variably_dimensioned(n=10):  # [25], m = n + 2
    j = np.arange(1.0, n + 1)

    def F(x):
        s = np.sum((x - 1.0) * _col(j, x), axis=0)
        return np.concatenate([x - 1.0, np.stack([s, s * s])], axis=0)

    def J(x):
        s = np.sum(j * (x - 1.0))
        return np.vstack([np.eye(n), j, 2.0 * s * j])

    return Problem(f"variably_dimensioned_{n}", n, n + 2, 1.0 - j / n, F, J, 0.0, 25)


def trigonometric(n=10):  # [26]
    i = np.arange(1.0, n + 1)

    def F(x):
        c = np.cos(x)
        return n - np.sum(c, axis=0) + (1.0 - c) * _col(i, x) - np.sin(x)

    def J(x):
        s = np.sin(x)
        return np.tile(s, (n, 1)) + np.diag(i * s - np.cos(x))

    # The paper lists f = 0; from x0 with n = 10, Levenberg-Marquardt (MINPACK, as
    # in SciPy) stops at a local minimum with f = 2.79506e-5.
    fstar, note = None, ""
    if n == 10:
        fstar, note = 2.79506e-5, "x0 leads to a local minimum; the global minimum is 0"
    return Problem(f"trigonometric_{n}", n, n, np.full(n, 1.0 / n), F, J, fstar, 26, note)


def brown_almost_linear(n=10):  # [27]
    def F(x):
        s = np.sum(x, axis=0)
        return np.concatenate([x[0:n - 1] + s - (n + 1.0),
                               np.stack([np.prod(x, axis=0) - 1.0])], axis=0)

    def J(x):
        Jm = np.eye(n) + 1.0
        # products without division: x may hold zeros
        Jm[n - 1] = [np.prod(np.delete(x, k)) for k in range(n)]
        return Jm

    return Problem(f"brown_almost_linear_{n}", n, n, np.full(n, 0.5), F, J, 0.0, 27)


def discrete_boundary_value(n=10):  # [28]
    h = 1.0 / (n + 1)
    t = h * np.arange(1.0, n + 1)

    def F(x):
        core = 2.0 * x + 0.5 * h * h * (x + _col(t, x) + 1.0) ** 3
        return _tridiag(core, x, n, -1.0, -1.0)

    def J(x):
        return (np.diag(2.0 + 1.5 * h * h * (x + t + 1.0) ** 2)
                - np.eye(n, k=1) - np.eye(n, k=-1))

    return Problem(f"discrete_boundary_value_{n}", n, n, t * (t - 1.0), F, J, 0.0, 28)


def discrete_integral_equation(n=10):  # [29]
    h = 1.0 / (n + 1)
    t = h * np.arange(1.0, n + 1)

    def F(x):
        tc = _col(t, x)
        u = (x + tc + 1.0) ** 3
        lower = np.cumsum(u * tc, axis=0)                  # sum_{j <= i} t_j u_j
        v = u * (1.0 - tc)
        upper = np.sum(v, axis=0) - np.cumsum(v, axis=0)   # sum_{j > i} (1 - t_j) u_j
        return x + 0.5 * h * ((1.0 - tc) * lower + tc * upper)

    def J(x):
        du = 3.0 * (x + t + 1.0) ** 2
        i, j = np.indices((n, n))
        K = np.where(j <= i, (1.0 - t)[:, None] * t[None, :], t[:, None] * (1.0 - t)[None, :])
        return np.eye(n) + 0.5 * h * K * du[None, :]

    return Problem(f"discrete_integral_equation_{n}", n, n, t * (t - 1.0), F, J, 0.0, 29)


def broyden_tridiagonal_residual(x):
    """[30] F_i = (3 - 2 x_i) x_i - x_{i-1} - 2 x_{i+1} + 1, x_0 = x_{n+1} = 0;
    vectorized over x of shape (n,) or (n, K)."""
    return _tridiag((3.0 - 2.0 * x) * x + 1.0, x, x.shape[0], -1.0, -2.0)


def broyden_tridiagonal_jacobian(x):
    """Dense (n, n) Jacobian of broyden_tridiagonal_residual."""
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    return np.diag(3.0 - 4.0 * x) - np.eye(n, k=-1) - 2.0 * np.eye(n, k=1)


def broyden_tridiagonal(n=10):  # [30]
    return Problem(f"broyden_tridiagonal_{n}", n, n, np.full(n, -1.0),
                   broyden_tridiagonal_residual, broyden_tridiagonal_jacobian, 0.0, 30)


def broyden_banded(n=10, ml=5, mu=1):  # [31]
    def band(i):
        return [j for j in range(max(0, i - ml), min(n, i + mu + 1)) if j != i]

    def F(x):
        g = x * (1.0 + x)
        return np.stack([x[i] * (2.0 + 5.0 * x[i] ** 2) + 1.0 - sum(g[j] for j in band(i))
                         for i in range(n)])

    def J(x):
        Jm = np.zeros((n, n))
        for i in range(n):
            Jm[i, band(i)] = -(1.0 + 2.0 * x[band(i)])
            Jm[i, i] = 2.0 + 15.0 * x[i] ** 2
        return Jm

    return Problem(f"broyden_banded_{n}", n, n, np.full(n, -1.0), F, J, 0.0, 31)


def linear_full_rank(n=6, m=10):  # [32], m >= n
    def F(x):
        c = np.stack([np.sum(x, axis=0)] * m) * (-2.0 / m) - 1.0   # rows i > n
        return np.concatenate([c[0:n] + x, c[n:m]], axis=0)

    def J(x):
        return np.eye(m, n) - 2.0 / m

    return Problem(f"linear_full_rank_{n}x{m}", n, m, np.ones(n), F, J, float(m - n), 32)


def linear_rank1(n=5, m=10):  # [33]
    j, i = np.arange(1.0, n + 1), np.arange(1.0, m + 1)

    def F(x):
        return np.sum(x * _col(j, x), axis=0) * _col(i, x) - 1.0

    def J(x):
        return np.outer(i, j)

    return Problem(f"linear_rank1_{n}x{m}", n, m, np.ones(n), F, J,
                   m * (m - 1) / (2.0 * (2 * m + 1)), 33)


def linear_rank1_zero(n=5, m=10):  # [34], columns 1, n and rows 1, m are zero
    j = np.arange(1.0, n + 1)
    j[[0, n - 1]] = 0.0
    i = np.concatenate([[0.0], np.arange(1.0, m - 1), [0.0]])   # i - 1, zero at the ends

    def F(x):
        return np.sum(x * _col(j, x), axis=0) * _col(i, x) - 1.0

    def J(x):
        return np.outer(i, j)

    return Problem(f"linear_rank1_zero_{n}x{m}", n, m, np.ones(n), F, J,
                   (m * m + 3 * m - 6) / (2.0 * (2 * m - 3)), 34)


def chebyquad(n=8, m=None):  # [35], m >= n
    m = n if m is None else m
    k = np.arange(1, m + 1)
    # int_0^1 T_k(2x - 1) dx: -1/(k^2 - 1) for even k, 0 for odd k (maximum: no 1/0 at k = 1)
    integral = np.where(k % 2 == 0, -1.0 / np.maximum(k * k - 1.0, 1.0), 0.0)
    fstar = None   # the paper: f* = 0 for m = n <= 7 and n = 9, listed values for n = 8, 10
    if m == n:
        fstar = {8: 3.51687e-3, 10: 6.50395e-3}.get(n, 0.0 if n <= 9 else None)

    def F(x):
        y = 2.0 * x - 1.0
        prev, cur, rows = 1.0, y, []
        for r in range(m):           # shifted Chebyshev recurrence T_{k+1} = 2y T_k - T_{k-1}
            rows.append(np.sum(cur, axis=0) / n - integral[r])
            prev, cur = cur, 2.0 * y * cur - prev
        return np.stack(rows)

    def J(x):
        y = 2.0 * x - 1.0
        t_prev, t_cur = np.ones(n), y
        d_prev, d_cur = np.zeros(n), np.ones(n)     # dT_k/dy
        rows = []
        for _ in range(m):
            rows.append(2.0 * d_cur / n)
            t_prev, t_cur, d_prev, d_cur = (t_cur, 2.0 * y * t_cur - t_prev,
                                            d_cur, 2.0 * t_cur + 2.0 * y * d_cur - d_prev)
        return np.array(rows)

    return Problem(f"chebyquad_{n}" + ("" if m == n else f"x{m}"), n, m,
                   np.arange(1.0, n + 1) / (n + 1), F, J, fstar, 35)


def bratu2d_residual(x, lam=6.0):
    """The 2-D Bratu problem -Laplace(u) - lam exp(u) = 0 on the unit square, u = 0 on
    its boundary, by the 5-point stencil on an N x N interior grid (x of shape (N*N,)
    or (N*N, K) for a batch, row-major over the grid).  Built from slices and
    concatenate so that batches, Duals and tracers pass through."""
    N = math.isqrt(x.shape[0])
    if N * N != x.shape[0]:
        raise ValueError("bratu2d needs N*N unknowns")
    u = x.reshape((N, N) + x.shape[1:])
    z = np.zeros_like(u[:1])
    up = np.concatenate([z, u[:-1]], axis=0)
    down = np.concatenate([u[1:], z], axis=0)
    zc = np.zeros_like(u[:, :1])
    left = np.concatenate([zc, u[:, :-1]], axis=1)
    right = np.concatenate([u[:, 1:], zc], axis=1)
    r = (4.0 * u - up - down - left - right) * float((N + 1) ** 2) - lam * np.exp(u)
    return r.reshape(x.shape)


def bratu2d_jacobian(x, lam=6.0):
    """The exact Jacobian of bratu2d_residual as a dense (n, n) array."""
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    N = math.isqrt(n)
    J = 4.0 * (N + 1) ** 2 * np.eye(n) - lam * np.diag(np.exp(x))
    for k in range(n):
        i, j = divmod(k, N)
        for a, b in ((i - 1, j), (i + 1, j), (i, j - 1), (i, j + 1)):
            if 0 <= a < N and 0 <= b < N:
                J[k, a * N + b] -= (N + 1) ** 2
    return J


def bratu2d(N=6):
    return Problem(f"bratu2d_{N}x{N}", N * N, N * N, np.zeros(N * N), bratu2d_residual,
                   bratu2d_jacobian, 0.0)


# --- the shared set ----------------------------------------------------------------------

PROBLEMS = [
    rosenbrock(), freudenstein_roth(), powell_badly_scaled(), brown_badly_scaled(), beale(),
    jennrich_sampson(), helical_valley(), bard(), gaussian(), meyer(), box_3d(),
    powell_singular(), wood(), kowalik_osborne(), brown_dennis(), osborne1(), biggs_exp6(),
    osborne2(), watson(6), watson(9), extended_rosenbrock(10), extended_powell_singular(8),
    penalty_i(10), penalty_ii(10), variably_dimensioned(10), trigonometric(10),
    brown_almost_linear(10), discrete_boundary_value(10), discrete_integral_equation(10),
    broyden_tridiagonal(10), broyden_banded(10), linear_full_rank(6, 10), linear_rank1(5, 10),
    linear_rank1_zero(5, 10), chebyquad(8),
]
BY_NAME = {p.name: p for p in PROBLEMS}
assert len(BY_NAME) == len(PROBLEMS), "problem names must be unique"


def scaled_points():
    """(problem, x) pairs with entries ~1e-8 and ~1e8 where F stays finite: steps
    relative to |x_i| and absolute steps both get tested there."""
    rng = np.random.default_rng(1981)
    alternating = np.where(np.arange(10) % 2 == 0, 1e8, 1e-8)   # products stay ~1
    small_tri = np.full(10, -1.0)
    small_tri[[1, 4, 7]] = [1e-8, -2e-8, 3e-8]
    return [
        (BY_NAME["powell_badly_scaled"], np.array([1.09815933e-5, 9.10614674])),
        (BY_NAME["brown_badly_scaled"], np.array([1e6, 2e-6])),
        (BY_NAME["rosenbrock"], np.array([1e-8, 1e-8])),
        (BY_NAME["brown_almost_linear_10"], alternating * (1.0 + 0.01 * rng.standard_normal(10))),
        (BY_NAME["linear_full_rank_6x10"], np.array([1e8, -2e-8, 3e8, 1e-8, -1e8, 5e-9])),
        (BY_NAME["broyden_tridiagonal_10"], small_tri),
        (BY_NAME["variably_dimensioned_10"], 1.0 + 1e-8 * rng.standard_normal(10)),
    ]


def perturbed_points(problem, rng, count=3):
    """x0 with random relative and absolute perturbations: generic points where
    nothing cancels by accident."""
    x0 = problem.x0
    return [x0 * (1.0 + 0.1 * rng.standard_normal(x0.shape)) + 0.1 * rng.standard_normal(x0.shape)
            for _ in range(count)]


# --- small standalone functions for tests and benchmarks -----------------------------------

def rosenbrock_objective(x):
    """Chained Rosenbrock sum_i 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2, n >= 2;
    x of shape (n,) or (n, K)."""
    n = x.shape[0]
    a, b = x[0:n - 1], x[1:n]
    return np.sum(100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2, axis=0)


def rosenbrock_gradient(x):
    """Analytic gradient of rosenbrock_objective for real x of shape (n,) or (n, K)."""
    x = np.asarray(x, dtype=np.float64)
    a, b = x[:-1], x[1:]
    d = b - a * a
    g = np.zeros_like(x)
    g[:-1] = -400.0 * a * d - 2.0 * (1.0 - a)
    g[1:] += 200.0 * d
    return g


def scalar_style(x):
    """x0^2 x1 + x0 x1^3: plain scalar arithmetic on entries."""
    return x[0] ** 2 * x[1] + x[0] * x[1] ** 3


def scalar_style_gradient(x):
    return np.array([2.0 * x[0] * x[1] + x[1] ** 3, x[0] ** 2 + 3.0 * x[0] * x[1] ** 2])


# --- complex-safe Jacobians (second derivatives by complex step) -------------------------
#
# The Jacobians above need only real x; some build float64 arrays and so drop the
# imaginary part of a complex x.  These restate those Jacobians (same formulas) with a
# dtype that follows x, so that the complex step of the analytic gradient 2 J^T F gives
# the objective's Hessian to rounding.  Keyed by problem name; they take x of shape (n,).

def _dtype(x):
    return np.result_type(x, 1.0)


def _watson_jacobian_complex(x):
    n = len(x)
    t = np.arange(1.0, 30.0) / 29.0
    j = np.arange(n)
    P = t[:, None] ** j
    Pm = j * t[:, None] ** np.maximum(j - 1, 0)
    top = Pm - 2.0 * (P @ x)[:, None] * P
    tail = np.zeros((2, n), dtype=_dtype(x))
    tail[0, 0] = 1.0
    tail[1, 0], tail[1, 1] = -2.0 * x[0], 1.0
    return np.vstack([top, tail])


def _extended_rosenbrock_jacobian_complex(x):
    n = len(x)
    Jm = np.zeros((n, n), dtype=_dtype(x))
    for i in range(0, n, 2):
        Jm[i, i], Jm[i, i + 1], Jm[i + 1, i] = -20.0 * x[i], 10.0, -1.0
    return Jm


def _extended_powell_singular_jacobian_complex(x):
    n = len(x)
    s5, s10 = np.sqrt(5.0), np.sqrt(10.0)
    Jm = np.zeros((n, n), dtype=_dtype(x))
    for i in range(0, n, 4):
        a, b, c, d = x[i:i + 4]
        Jm[i, i:i + 2] = [1.0, 10.0]
        Jm[i + 1, i + 2:i + 4] = [s5, -s5]
        Jm[i + 2, i + 1], Jm[i + 2, i + 2] = 2.0 * (b - 2.0 * c), -4.0 * (b - 2.0 * c)
        Jm[i + 3, i], Jm[i + 3, i + 3] = 2.0 * s10 * (a - d), -2.0 * s10 * (a - d)
    return Jm


def _penalty_ii_jacobian_complex(x):
    n = len(x)
    sa = np.sqrt(1e-5)
    w = np.arange(n, 0.0, -1.0)
    e = np.exp(x / 10.0) / 10.0
    Jm = np.zeros((2 * n, n), dtype=_dtype(x))
    Jm[0, 0] = 1.0
    k = np.arange(1, n)
    Jm[k, k], Jm[k, k - 1] = sa * e[k], sa * e[k - 1]
    Jm[n - 1 + k, k] = sa * e[k]
    Jm[2 * n - 1] = 2.0 * w * x
    return Jm


def _brown_almost_linear_jacobian_complex(x):
    n = len(x)
    Jm = np.eye(n, dtype=_dtype(x)) + 1.0
    Jm[n - 1] = [np.prod(np.delete(x, k)) for k in range(n)]
    return Jm


def _broyden_tridiagonal_jacobian_complex(x):
    n = len(x)
    return np.diag(3.0 - 4.0 * x) - np.eye(n, k=-1) - 2.0 * np.eye(n, k=1)


def _broyden_banded_jacobian_complex(x, ml=5, mu=1):
    n = len(x)
    Jm = np.zeros((n, n), dtype=_dtype(x))
    for i in range(n):
        band = [j for j in range(max(0, i - ml), min(n, i + mu + 1)) if j != i]
        Jm[i, band] = -(1.0 + 2.0 * x[band])
        Jm[i, i] = 2.0 + 15.0 * x[i] ** 2
    return Jm


COMPLEX_SAFE_JACOBIANS = {
    "watson_6": _watson_jacobian_complex,
    "watson_9": _watson_jacobian_complex,
    "extended_rosenbrock_10": _extended_rosenbrock_jacobian_complex,
    "powell_singular": _extended_powell_singular_jacobian_complex,
    "extended_powell_singular_8": _extended_powell_singular_jacobian_complex,
    "penalty_ii_10": _penalty_ii_jacobian_complex,
    "brown_almost_linear_10": _brown_almost_linear_jacobian_complex,
    "broyden_tridiagonal_10": _broyden_tridiagonal_jacobian_complex,
    "broyden_banded_10": _broyden_banded_jacobian_complex,
}


def jac_keep_dtype(m, *columns):
    """_jac without the float64 cast: a complex x gives a complex Jacobian.  Tests
    put it in place of _jac (for the problems built with _jac) while they take the
    complex step of an analytic gradient."""
    return np.stack([np.broadcast_to(np.asarray(c), (m,)) for c in columns], axis=1)


def wood_hessian(x):
    """Analytic Hessian of wood's objective, from its expanded form
    100 (x2 - x1^2)^2 + (1 - x1)^2 + 90 (x4 - x3^2)^2 + (1 - x3)^2
    + 10.1 ((x2 - 1)^2 + (x4 - 1)^2) + 19.8 (x2 - 1)(x4 - 1)."""
    a, b, c, d = x
    return np.array([[1200.0 * a * a - 400.0 * b + 2.0, -400.0 * a, 0.0, 0.0],
                     [-400.0 * a, 220.2, 0.0, 19.8],
                     [0.0, 0.0, 1080.0 * c * c - 360.0 * d + 2.0, -360.0 * c],
                     [0.0, 19.8, -360.0 * c, 200.2]])
