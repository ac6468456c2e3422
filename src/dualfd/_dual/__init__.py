"""The Dual type and the method='dual' driver (compiled in `_core`; see its files)."""

from ._core import (DEFAULT_CHUNK, RULES, Dual, dual_compressed, dual_jacobian,
                    dual_jvp)

#: Names of the supported NumPy ufuncs and functions (as Dual.supported_*()).
SUPPORTED_UFUNCS = Dual.supported_ufuncs()
SUPPORTED_FUNCTIONS = Dual.supported_functions()

__all__ = ["DEFAULT_CHUNK", "RULES", "Dual", "dual_compressed", "dual_jacobian", "dual_jvp",
           "SUPPORTED_UFUNCS", "SUPPORTED_FUNCTIONS"]
