"""Type stubs of dualfd's public API.

The transforms' types (Grad, Jacobian, ...), the option types and the aliases
used here live in the stub-only module `dualfd._typing`.
"""

from typing import Any, Callable, Literal, Unpack, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._dual import Dual as Dual
from ._typing import (AdaptiveHessianOptions, AdaptiveJvpOptions, AdaptiveOptions,
                      Argnums, ArgnumsInto, BoundsLike, CheckMethod, Direction,
                      FDOptions, Grad, GradAux, Hessian, HessianOptions, Hvp,
                      HvpMethod, Jacobian, Vjp, VjpMethod,
                      JacobianAux, Jvp, JvpAux, JvpOptions, Point, SparseArray,
                      SparseHessian, SparseJacobian, Sparsity, ValueAndGrad,
                      ValueAndGradAux, Workers)
from ._typing import AuxFn, Fn, _A, _V

__version__: str

__all__ = ["__version__", "grad", "jacobian", "value_and_grad", "jvp", "vjp", "Dual",
           "check_grad", "GradCheck", "hessian", "hvp", "AutoWarning",
           "NonAnalyticError", "jacobian_sparsity", "hessian_sparsity",
           "TracingError", "AdaptiveInfo", "AccuracyError"]

class AutoWarning(UserWarning):
    """method='auto' fell back from exact duals to central differences."""

class NonAnalyticError(ValueError):
    """method='complex' met f that is not complex-analytic."""

class TracingError(TypeError):
    """Sparsity detection could not trace f."""

class AdaptiveInfo:
    """What full_output=True returns beside the derivative (method='adaptive')."""
    error: Any
    converged: Any
    nfev: int
    ncalls: int

class AccuracyError(ArithmeticError):
    """method='adaptive' could not bring some entry within rtol/atol."""
    result: Any
    info: AdaptiveInfo

#: a transform with full_output=True: ``t(x, *args, **kwargs) -> (result, info)``
_Full = Callable[..., tuple[Any, AdaptiveInfo]]

class GradCheck(float):
    """Result of `check_grad`: the 2-norm of ``analytic - numeric``, with the
    comparison's details."""
    ok: bool
    max_abs_error: float
    max_rel_error: float
    worst_index: tuple[int, ...]
    n_failed: int
    analytic: NDArray[np.float64]
    numeric: NDArray[np.float64]
    scale: NDArray[np.float64]
    tolerance: NDArray[np.float64]
    method: str
    rtol: float
    atol: float
    def __new__(cls, analytic: NDArray[np.float64], numeric: NDArray[np.float64],
                scale: NDArray[np.float64], tolerance: NDArray[np.float64], method: str,
                rtol: float, atol: float) -> GradCheck: ...
    def __format__(self, spec: str) -> str: ...

# grad: shaped like the point; has_aux=True: (g, aux)
@overload
def grad(f: Fn, *, full_output: Literal[True],  # type: ignore[overload-overlap]
         **options: Unpack[AdaptiveOptions]) -> _Full: ...
@overload
def grad(f: Fn, *,  # type: ignore[overload-overlap]
         argnums: Literal[0] = ..., has_aux: Literal[False] = ...,
         **options: Unpack[FDOptions]) -> Grad: ...
@overload
def grad(f: AuxFn[_A], *,  # type: ignore[overload-overlap]
         argnums: Literal[0] = ..., has_aux: Literal[True],
         **options: Unpack[FDOptions]) -> GradAux[_A]: ...
@overload
def grad(f: Fn, *, argnums: int, has_aux: Literal[False] = ...,
         **options: Unpack[FDOptions]) -> ArgnumsInto[Point]: ...
@overload
def grad(f: AuxFn[_A], *, argnums: int, has_aux: Literal[True],
         **options: Unpack[FDOptions]) -> ArgnumsInto[tuple[Point, _A]]: ...
@overload
def grad(f: Fn, *, argnums: tuple[int, int], has_aux: Literal[False] = ...,
         **options: Unpack[FDOptions]) -> ArgnumsInto[tuple[Point, Point]]: ...
@overload
def grad(f: AuxFn[_A], *, argnums: tuple[int, int], has_aux: Literal[True],
         **options: Unpack[FDOptions]) -> ArgnumsInto[tuple[tuple[Point, Point], _A]]: ...
@overload
def grad(f: Fn, *, argnums: tuple[int, ...], has_aux: Literal[False] = ...,
         **options: Unpack[FDOptions]) -> ArgnumsInto[tuple[Point, ...]]: ...
@overload
def grad(f: AuxFn[_A], *, argnums: tuple[int, ...], has_aux: Literal[True],
         **options: Unpack[FDOptions]) -> ArgnumsInto[tuple[tuple[Point, ...], _A]]: ...

# value_and_grad: (value, g); has_aux=True: ((value, aux), g), JAX's convention
@overload
def value_and_grad(f: Fn, *, full_output: Literal[True],  # type: ignore[overload-overlap]
                   **options: Unpack[AdaptiveOptions]) -> _Full: ...
@overload
def value_and_grad(f: Fn, *,  # type: ignore[overload-overlap]
                   argnums: Literal[0] = ..., has_aux: Literal[False] = ...,
                   **options: Unpack[FDOptions]) -> ValueAndGrad: ...
@overload
def value_and_grad(f: AuxFn[_A], *,  # type: ignore[overload-overlap]
                   argnums: Literal[0] = ..., has_aux: Literal[True],
                   **options: Unpack[FDOptions]) -> ValueAndGradAux[_A]: ...
@overload
def value_and_grad(f: Fn, *, argnums: int, has_aux: Literal[False] = ...,
                   **options: Unpack[FDOptions]) -> ArgnumsInto[tuple[float, Point]]: ...
@overload
def value_and_grad(f: AuxFn[_A], *, argnums: int, has_aux: Literal[True],
                   **options: Unpack[FDOptions],
) -> ArgnumsInto[tuple[tuple[float, _A], Point]]: ...
@overload
def value_and_grad(f: Fn, *, argnums: tuple[int, int], has_aux: Literal[False] = ...,
                   **options: Unpack[FDOptions],
) -> ArgnumsInto[tuple[float, tuple[Point, Point]]]: ...
@overload
def value_and_grad(f: AuxFn[_A], *, argnums: tuple[int, int], has_aux: Literal[True],
                   **options: Unpack[FDOptions],
) -> ArgnumsInto[tuple[tuple[float, _A], tuple[Point, Point]]]: ...
@overload
def value_and_grad(f: Fn, *, argnums: tuple[int, ...], has_aux: Literal[False] = ...,
                   **options: Unpack[FDOptions],
) -> ArgnumsInto[tuple[float, tuple[Point, ...]]]: ...
@overload
def value_and_grad(f: AuxFn[_A], *, argnums: tuple[int, ...], has_aux: Literal[True],
                   **options: Unpack[FDOptions],
) -> ArgnumsInto[tuple[tuple[float, _A], tuple[Point, ...]]]: ...

# jacobian: f_shape + x_shape; has_aux=True: (J, aux); sparsity=: a csr_array (m, n)
@overload
def jacobian(f: Fn, *, full_output: Literal[True],  # type: ignore[overload-overlap]
             **options: Unpack[AdaptiveOptions]) -> _Full: ...
@overload
def jacobian(f: Fn, *, argnums: Literal[0] = ..., has_aux: Literal[False] = ...,
             sparsity: Sparsity, check_sparsity: bool = ...,
             **options: Unpack[FDOptions]) -> SparseJacobian: ...
@overload
def jacobian(f: Fn, *,  # type: ignore[overload-overlap]
             argnums: Literal[0] = ..., has_aux: Literal[False] = ...,
             sparsity: None = ..., check_sparsity: Literal[False] = ...,
             **options: Unpack[FDOptions]) -> Jacobian: ...
@overload
def jacobian(f: AuxFn[_A], *,  # type: ignore[overload-overlap]
             argnums: Literal[0] = ..., has_aux: Literal[True],
             sparsity: None = ..., check_sparsity: Literal[False] = ...,
             **options: Unpack[FDOptions]) -> JacobianAux[_A]: ...
@overload
def jacobian(f: Fn, *, argnums: int, has_aux: Literal[False] = ...,
             sparsity: None = ..., check_sparsity: Literal[False] = ...,
             **options: Unpack[FDOptions]) -> ArgnumsInto[Point]: ...
@overload
def jacobian(f: AuxFn[_A], *, argnums: int, has_aux: Literal[True],
             sparsity: None = ..., check_sparsity: Literal[False] = ...,
             **options: Unpack[FDOptions]) -> ArgnumsInto[tuple[Point, _A]]: ...
@overload
def jacobian(f: Fn, *, argnums: tuple[int, int], has_aux: Literal[False] = ...,
             sparsity: None = ..., check_sparsity: Literal[False] = ...,
             **options: Unpack[FDOptions]) -> ArgnumsInto[tuple[Point, Point]]: ...
@overload
def jacobian(f: AuxFn[_A], *, argnums: tuple[int, int], has_aux: Literal[True],
             sparsity: None = ..., check_sparsity: Literal[False] = ...,
             **options: Unpack[FDOptions],
) -> ArgnumsInto[tuple[tuple[Point, Point], _A]]: ...
@overload
def jacobian(f: Fn, *, argnums: tuple[int, ...], has_aux: Literal[False] = ...,
             sparsity: None = ..., check_sparsity: Literal[False] = ...,
             **options: Unpack[FDOptions]) -> ArgnumsInto[tuple[Point, ...]]: ...
@overload
def jacobian(f: AuxFn[_A], *, argnums: tuple[int, ...], has_aux: Literal[True],
             sparsity: None = ..., check_sparsity: Literal[False] = ...,
             **options: Unpack[FDOptions]) -> ArgnumsInto[tuple[tuple[Point, ...], _A]]: ...

# jvp: jv(x, v, *args, **kwargs) -> (f(x), J @ v); has_aux=True: (f(x), J @ v, aux)
@overload
def jvp(f: Fn, *, full_output: Literal[True],  # type: ignore[overload-overlap]
        **options: Unpack[AdaptiveJvpOptions]) -> _Full: ...
@overload
def jvp(f: Callable[..., _V], *, argnums: Literal[0] = ..., has_aux: Literal[False] = ...,
        **options: Unpack[JvpOptions]) -> Jvp[_V]: ...
@overload
def jvp(f: Callable[..., tuple[_V, _A]], *, argnums: Literal[0] = ...,
        has_aux: Literal[True], **options: Unpack[JvpOptions]) -> JvpAux[_V, _A]: ...
@overload
def jvp(f: Callable[..., _V], *, argnums: int,
        has_aux: Literal[False] = ...,
        **options: Unpack[JvpOptions]) -> Argnums[tuple[_V, Point]]: ...
@overload
def jvp(f: Callable[..., tuple[_V, _A]], *, argnums: int,
        has_aux: Literal[True],
        **options: Unpack[JvpOptions]) -> Argnums[tuple[_V, Point, _A]]: ...

# hessian: x_shape + x_shape; with sparsity= a csr_array (n, n)
@overload
def hessian(f: Callable[..., Any], *, full_output: Literal[True],  # type: ignore[overload-overlap]
            **options: Unpack[AdaptiveHessianOptions]) -> _Full: ...
@overload
def hessian(f: Callable[..., Any], *, sparsity: None = ...,
            **options: Unpack[HessianOptions]) -> Hessian: ...
@overload
def hessian(f: Callable[..., Any], *, sparsity: Sparsity,
            **options: Unpack[HessianOptions]) -> SparseHessian: ...

def hvp(f: Callable[..., Any], *, method: HvpMethod = ..., step: float | None = ...,
        bounds: BoundsLike | None = ..., check_finite: bool = ...,
        chunk: int | None = ...) -> Hvp: ...

def vjp(f: Callable[..., Any], *, method: VjpMethod = ...,
        bounds: BoundsLike | None = ..., check_finite: bool = ...) -> Vjp: ...

def check_grad(f: Callable[..., Any], g: Callable[..., Any], x: ArrayLike, *args: Any,
               method: CheckMethod = ..., rtol: float | None = ...,
               atol: float | None = ..., raise_on_fail: bool = ...,
               direction: Direction = ..., rng: np.random.Generator | int | None = ...,
               step: ArrayLike | None = ...,
               bounds: BoundsLike | None = ..., vectorized: bool = ...,
               check_finite: bool = ..., chunk: int | None = ...,
               workers: Workers = ..., **kwargs: Any) -> GradCheck: ...

def jacobian_sparsity(f: Callable[..., Any], x: ArrayLike, *args: Any,
                      **kwargs: Any) -> SparseArray: ...
def hessian_sparsity(f: Callable[..., Any], x: ArrayLike, *args: Any,
                     **kwargs: Any) -> SparseArray: ...
