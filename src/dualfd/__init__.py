"""dualfd: fast derivatives of Python/NumPy functions.

Finite differences whose loops run in C, and forward-mode dual numbers whose
arithmetic runs in C, under one API: grad, jacobian, value_and_grad, jvp, hessian,
check_grad and the Dual type; sparse Jacobians and Hessians by coloring, with
patterns detected by tracing (jacobian_sparsity, hessian_sparsity).
"""

from ._version import __version__
from ._api import AutoWarning, grad, jacobian, value_and_grad, jvp
from ._dual import Dual
from ._check import check_grad, GradCheck
from ._hessian import hessian
from ._complex_guard import NonAnalyticError
from ._tracer import TracingError, jacobian_sparsity, hessian_sparsity

__all__ = ["__version__", "grad", "jacobian", "value_and_grad", "jvp", "Dual",
           "check_grad", "GradCheck", "hessian", "AutoWarning",
           "NonAnalyticError", "jacobian_sparsity", "hessian_sparsity",
           "TracingError"]
