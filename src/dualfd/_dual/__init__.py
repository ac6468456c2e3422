"""The Dual type and the method='dual' driver (compiled in `_core`; see its files)."""

from ._core import (DEFAULT_CHUNK, RULES, Dual, dual_compressed, dual_hessian,
                    dual_hvp, dual_jacobian, dual_jvp, rule_second)

#: Names of the supported NumPy ufuncs and functions (as Dual.supported_*()).
SUPPORTED_UFUNCS = Dual.supported_ufuncs()
SUPPORTED_FUNCTIONS = Dual.supported_functions()
#: The NumPy functions supported in a second-order pass (exact Hessians and
#: Hessian-vector products): the others raise TypeError naming themselves there.
SUPPORTED_SECOND_ORDER = Dual.supported_functions(order=2)

__all__ = ["DEFAULT_CHUNK", "RULES", "Dual", "dual_compressed", "dual_hessian", "dual_hvp",
           "dual_jacobian", "dual_jvp", "rule_second", "SUPPORTED_UFUNCS",
           "SUPPORTED_FUNCTIONS", "SUPPORTED_SECOND_ORDER"]
