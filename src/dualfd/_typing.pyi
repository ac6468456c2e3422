"""Types of dualfd's public API, for type checkers only (no runtime module).

The transforms are structural (Protocol) types named after what they compute;
at run time they are instances of private classes.  Import them for
annotations under ``if typing.TYPE_CHECKING:``::

    if TYPE_CHECKING:
        from dualfd._typing import Grad

Result types follow the calling convention:

- the point is ``args[argnums]``; with the default ``argnums=0`` it is the
  first argument and the result type follows it: a Python float (or a NumPy
  float or int scalar) gives ``float``, an array gives ``NDArray[float64]``;
- with another ``argnums`` the point's type is not known statically, so a
  derivative is ``float | NDArray[float64]`` (`Point`); a tuple ``argnums``
  gives a tuple of those;
- ``has_aux=True``: f returns ``(value, aux)``; aux's type is taken from f.
  has_aux is overloaded on ``Literal[True]``/``Literal[False]``: a plain bool
  does not type-check.  A catch-all overload for it would make every call with
  an untyped f (a lambda) ambiguous, and mypy answers Any for those.
"""

import concurrent.futures
from typing import (Any, Callable, Iterable, Literal, Protocol, Self, Sequence,
                    TypeAlias, TypedDict, TypeVar, overload, type_check_only)

import numpy as np
from numpy.typing import ArrayLike, NDArray

Array: TypeAlias = NDArray[np.float64]
#: A derivative with respect to an argument whose type is not known statically.
Point: TypeAlias = float | NDArray[np.float64]
#: x values that give float results (0-d, not an ndarray).
Scalar: TypeAlias = float | np.floating[Any] | np.integer[Any]

Method: TypeAlias = Literal["central", "forward", "backward", "complex", "adaptive", "dual",
                            "reverse", "auto", "2-point", "3-point", "cs"]
VjpMethod: TypeAlias = Literal["reverse", "dual", "central", "forward", "backward",
                               "complex", "2-point", "3-point", "cs"]
HessianMethod: TypeAlias = Literal["dual", "complex", "central", "adaptive", "auto", "cs",
                                   "3-point"]
HvpMethod: TypeAlias = Literal["dual", "reverse", "central", "forward", "backward", "complex", "auto",
                              "2-point", "3-point", "cs"]
Order: TypeAlias = Literal[2, 4, 6, 8]
#: check_grad's reference: a jacobian method other than 'auto' (it has no tolerance).
CheckMethod: TypeAlias = Literal["central", "forward", "backward", "complex", "adaptive",
                                 "dual", "reverse",
                                 "2-point", "3-point", "cs"]
Direction: TypeAlias = Literal["all", "random", "fast"]

@type_check_only
class BoundsObject(Protocol):
    """``scipy.optimize.Bounds`` (anything with ``lb`` and ``ub``)."""
    @property
    def lb(self) -> Any: ...
    @property
    def ub(self) -> Any: ...

BoundsLike: TypeAlias = (tuple[ArrayLike | None, ArrayLike | None]
                         | Sequence[tuple[float | None, float | None]]
                         | BoundsObject)

@type_check_only
class SparseInput(Protocol):
    """A ``scipy.sparse`` matrix or array given as a pattern."""
    @property
    def shape(self) -> tuple[int, ...]: ...
    def tocsr(self) -> Any: ...

Sparsity: TypeAlias = Literal["auto"] | ArrayLike | SparseInput

@type_check_only
class SparseArray(Protocol):
    """The ``scipy.sparse.csr_array`` that sparse Jacobians, Hessians and the
    ``*_sparsity`` functions return (SciPy is not imported for typing)."""
    @property
    def shape(self) -> tuple[int, int]: ...
    @property
    def nnz(self) -> int: ...
    @property
    def dtype(self) -> np.dtype[Any]: ...
    @property
    def data(self) -> NDArray[Any]: ...
    @property
    def indices(self) -> NDArray[np.integer[Any]]: ...
    @property
    def indptr(self) -> NDArray[np.integer[Any]]: ...
    def toarray(self) -> NDArray[Any]: ...
    def tocsr(self) -> Any: ...
    def __matmul__(self, other: Any) -> Any: ...

@type_check_only
class DaskClient(Protocol):
    """A ``dask.distributed.Client`` (described, not imported)."""
    @property
    def submit(self) -> Callable[..., Any]: ...
    @property
    def gather(self) -> Callable[..., Any]: ...

#: ``workers(func, iterable)`` as ``multiprocessing.Pool.map`` or ``map``.
MapLike: TypeAlias = Callable[[Callable[[Any], Any], Iterable[Any]], Iterable[Any]]
Workers: TypeAlias = int | MapLike | concurrent.futures.Executor | DaskClient | None

@type_check_only
class _PointOptions(TypedDict, total=False):
    """What every finite-difference transform takes."""
    step: ArrayLike | None
    bounds: BoundsLike | None
    check_finite: bool
    workers: Workers
    rtol: float | None
    atol: float | None

@type_check_only
class _BlockOptions(_PointOptions, total=False):
    vectorized: bool
    chunk: int | None

@type_check_only
class FDOptions(_BlockOptions, total=False):
    """The options grad, value_and_grad and jacobian share."""
    method: Method
    order: Order | None
    full_output: Literal[False]

@type_check_only
class AdaptiveOptions(_BlockOptions, total=False):
    """FDOptions with full_output=True (method='adaptive'): no order."""
    method: Literal["adaptive"]

@type_check_only
class JvpOptions(_PointOptions, total=False):
    method: Method
    full_output: Literal[False]

@type_check_only
class AdaptiveJvpOptions(_PointOptions, total=False):
    method: Literal["adaptive"]

@type_check_only
class HessianOptions(_BlockOptions, total=False):
    method: HessianMethod
    full_output: Literal[False]

@type_check_only
class AdaptiveHessianOptions(_BlockOptions, total=False):
    method: Literal["adaptive"]

_A = TypeVar("_A")
_V = TypeVar("_V")
#: f, and f with has_aux=True (returning ``(value, aux)``).
Fn: TypeAlias = Callable[..., Any]
AuxFn: TypeAlias = Callable[..., tuple[Any, _A]]

_A_co = TypeVar("_A_co", covariant=True)
_V_co = TypeVar("_V_co", covariant=True)
_R_co = TypeVar("_R_co", covariant=True)

@type_check_only
class Transform(Protocol):
    """What every transform has: f, method, close() and the context manager
    that closes it (workers=int starts processes)."""
    @property
    def f(self) -> Callable[..., Any]: ...
    @property
    def method(self) -> str: ...
    def close(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> None: ...

@type_check_only
class Grad(Transform, Protocol):
    """``grad(f)``: ``g(x, *args, **kwargs)`` -> shaped like x."""
    @overload
    def __call__(self, x: Scalar, /, *args: Any, **kwargs: Any) -> float: ...
    @overload
    def __call__(self, x: ArrayLike, /, *args: Any, **kwargs: Any) -> Array: ...
    def into(self, out: Array, x: ArrayLike, /, *args: Any, **kwargs: Any) -> Array: ...

@type_check_only
class GradAux(Transform, Protocol[_A_co]):
    """``grad(f, has_aux=True)``: ``(gradient, aux)``."""
    @overload
    def __call__(self, x: Scalar, /, *args: Any, **kwargs: Any) -> tuple[float, _A_co]: ...
    @overload
    def __call__(self, x: ArrayLike, /,
                 *args: Any, **kwargs: Any) -> tuple[Array, _A_co]: ...
    def into(self, out: Array, x: ArrayLike, /, *args: Any,
             **kwargs: Any) -> tuple[Array, _A_co]: ...

@type_check_only
class ValueAndGrad(Transform, Protocol):
    """``value_and_grad(f)``: ``(f(x), gradient)``."""
    @overload
    def __call__(self, x: Scalar, /, *args: Any, **kwargs: Any) -> tuple[float, float]: ...
    @overload
    def __call__(self, x: ArrayLike, /,
                 *args: Any, **kwargs: Any) -> tuple[float, Array]: ...
    def into(self, out: Array, x: ArrayLike, /, *args: Any,
             **kwargs: Any) -> tuple[float, Array]: ...

@type_check_only
class ValueAndGradAux(Transform, Protocol[_A_co]):
    """``value_and_grad(f, has_aux=True)``: ``((f(x), aux), gradient)`` (JAX's)."""
    @overload
    def __call__(self, x: Scalar, /, *args: Any,
                 **kwargs: Any) -> tuple[tuple[float, _A_co], float]: ...
    @overload
    def __call__(self, x: ArrayLike, /, *args: Any,
                 **kwargs: Any) -> tuple[tuple[float, _A_co], Array]: ...
    def into(self, out: Array, x: ArrayLike, /, *args: Any,
             **kwargs: Any) -> tuple[tuple[float, _A_co], Array]: ...

@type_check_only
class Jacobian(Transform, Protocol):
    """``jacobian(f)``: ``f(x).shape + x.shape`` (a float only for scalar x and f)."""
    @overload
    def __call__(self, x: Scalar, /, *args: Any, **kwargs: Any) -> float | Array: ...
    @overload
    def __call__(self, x: ArrayLike, /, *args: Any, **kwargs: Any) -> Array: ...
    def into(self, out: Array, x: ArrayLike, /, *args: Any, **kwargs: Any) -> Array: ...

@type_check_only
class JacobianAux(Transform, Protocol[_A_co]):
    """``jacobian(f, has_aux=True)``: ``(J, aux)``."""
    @overload
    def __call__(self, x: Scalar, /, *args: Any,
                 **kwargs: Any) -> tuple[float | Array, _A_co]: ...
    @overload
    def __call__(self, x: ArrayLike, /,
                 *args: Any, **kwargs: Any) -> tuple[Array, _A_co]: ...
    def into(self, out: Array, x: ArrayLike, /, *args: Any,
             **kwargs: Any) -> tuple[Array, _A_co]: ...

@type_check_only
class SparseJacobian(Transform, Protocol):
    """``jacobian(f, sparsity=...)``: a ``csr_array`` of shape (m, n)."""
    def __call__(self, x: ArrayLike, /, *args: Any, **kwargs: Any) -> SparseArray: ...

@type_check_only
class Jvp(Transform, Protocol[_V_co]):
    """``jvp(f)``: ``jv(x, v, *args, **kwargs)`` -> ``(f(x), J @ v)``.  ``J @ v``
    has f's shape: an array for an ndarray x; for another x (a float, a list) a
    float where f returns a scalar.  (No overload takes every ArrayLike: an
    ndarray matching two overloads with different results would make mypy
    answer Any, because NDArray's shape parameter is Any.)"""
    @overload
    def __call__(self, x: NDArray[Any], v: ArrayLike, /, *args: Any,
                 **kwargs: Any) -> tuple[_V_co, Array]: ...
    @overload
    def __call__(self, x: Scalar | Sequence[Any], v: ArrayLike, /, *args: Any,
                 **kwargs: Any) -> tuple[_V_co, Point]: ...

@type_check_only
class JvpAux(Transform, Protocol[_V_co, _A_co]):
    """``jvp(f, has_aux=True)``: ``(f(x), J @ v, aux)``."""
    @overload
    def __call__(self, x: NDArray[Any], v: ArrayLike, /, *args: Any,
                 **kwargs: Any) -> tuple[_V_co, Array, _A_co]: ...
    @overload
    def __call__(self, x: Scalar | Sequence[Any], v: ArrayLike, /, *args: Any,
                 **kwargs: Any) -> tuple[_V_co, Point, _A_co]: ...

@type_check_only
class Hessian(Transform, Protocol):
    """``hessian(f)``: ``x.shape + x.shape`` (a float for a float x)."""
    @overload
    def __call__(self, x: Scalar, /, *args: Any, **kwargs: Any) -> float: ...
    @overload
    def __call__(self, x: ArrayLike, /, *args: Any, **kwargs: Any) -> Array: ...

@type_check_only
class Hvp(Transform, Protocol):
    """``hvp(f)``: ``hv(x, v, *args, **kwargs)`` -> H(x) @ v, shaped like x (SciPy's
    ``hessp``)."""
    @overload
    def __call__(self, x: Scalar, v: ArrayLike, /, *args: Any, **kwargs: Any) -> float: ...
    @overload
    def __call__(self, x: ArrayLike, v: ArrayLike, /, *args: Any,
                 **kwargs: Any) -> Array: ...

@type_check_only
class Vjp(Transform, Protocol):
    """``vjp(f)``: ``vj(x, u, *args, **kwargs)`` -> ``(f(x), u @ J)``, the product
    shaped like x."""
    @overload
    def __call__(self, x: Scalar, u: ArrayLike, /, *args: Any,
                 **kwargs: Any) -> tuple[Point, float]: ...
    @overload
    def __call__(self, x: ArrayLike, u: ArrayLike, /, *args: Any,
                 **kwargs: Any) -> tuple[Point, Array]: ...

@type_check_only
class SparseHessian(Transform, Protocol):
    """``hessian(f, sparsity=...)``: a ``csr_array`` of shape (n, n)."""
    def __call__(self, x: ArrayLike, /, *args: Any, **kwargs: Any) -> SparseArray: ...

@type_check_only
class Argnums(Transform, Protocol[_R_co]):
    """A transform with ``argnums`` other than 0: ``t(*args, **kwargs)`` with the
    point at ``args[argnums]``; _R_co is what a call returns."""
    def __call__(self, *args: Any, **kwargs: Any) -> _R_co: ...

@type_check_only
class ArgnumsInto(Argnums[_R_co], Protocol[_R_co]):
    """grad, value_and_grad or jacobian with ``argnums`` other than 0 (they have
    ``into(out, *args, **kwargs)``)."""
    def into(self, out: Any, *args: Any, **kwargs: Any) -> _R_co: ...
