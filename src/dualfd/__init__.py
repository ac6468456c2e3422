"""dualfd: fast derivatives of Python/NumPy functions.

Finite differences (forward, backward, central, complex step) whose loops run in C,
and forward-mode dual numbers whose arithmetic runs in C, under one API.  Each
transform takes f and options and returns a plain, picklable callable with f's
calling convention:

- `grad` -- gradient of a scalar f, shaped like x;
- `value_and_grad` -- ``(f(x), gradient)`` in one pass (SciPy's ``jac=True``);
- `jacobian` -- Jacobian of shape ``f(x).shape + x.shape``, dense or, with
  ``sparsity=``, a ``scipy.sparse.csr_array`` evaluated per color of its columns;
- `jvp` -- ``(f(x), J @ v)`` without forming J;
- `hessian` -- Hessian of a scalar f (exact by second-order duals, or differences;
  sparse with ``sparsity=``);
- `hvp` -- Hessian-vector products ``H(x) @ v`` (SciPy's ``hessp=``).

`check_grad` compares a hand-written gradient or Jacobian with a numeric one and
returns a `GradCheck`; `jacobian_sparsity` and `hessian_sparsity` detect patterns
by tracing f once; `Dual` is the dual-number array type behind ``method="dual"``.

Options shared by the transforms: ``method=`` ("central", "forward", "backward",
"complex", "dual", "auto"; SciPy's "2-point", "3-point", "cs" are aliases),
``step=``, ``bounds=``, ``vectorized=``, ``check_finite=``, ``chunk=``, and
``workers=`` (an int for local processes, a map-like callable, a
``concurrent.futures.Executor`` or a ``dask.distributed.Client``): where finite
differences evaluate f, in parallel, with the serial result bitwise.

Warnings and errors of its own: `AutoWarning` (``method="auto"`` fell back to
finite differences), `NonAnalyticError` (complex step through non-analytic code)
and `TracingError` (f cannot be traced for a sparsity pattern).

Examples
--------
>>> import numpy as np, dualfd as dfd
>>> dfd.grad(lambda x: np.sum(x ** 2), method="dual")(np.array([1.0, 2.0]))
array([2., 4.])
"""

from ._version import __version__
from ._api import AutoWarning, grad, jacobian, value_and_grad, jvp, vjp
from ._adapt import AdaptiveInfo, AccuracyError
from ._dual import Dual
from ._check import check_grad, GradCheck
from ._hessian import hessian, hvp
from ._complex_guard import NonAnalyticError
from ._tracer import TracingError, jacobian_sparsity, hessian_sparsity

__all__ = ["__version__", "grad", "jacobian", "value_and_grad", "jvp", "vjp", "Dual",
           "check_grad", "GradCheck", "hessian", "hvp", "AutoWarning",
           "NonAnalyticError", "jacobian_sparsity", "hessian_sparsity",
           "TracingError", "AdaptiveInfo", "AccuracyError"]
