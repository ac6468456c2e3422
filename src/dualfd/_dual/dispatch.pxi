# Part of dualfd._dual._core (included by _core.pyx): the dispatch tables.

# NumPy function -> implementation, filled by each family file with its own entries
# (``_FUNCTIONS.update({...})`` at its end); __array_function__ looks up here.
cdef dict _FUNCTIONS = {}

# ufunc -> (kind, rule index), filled by elementwise.pxi; (ufunc, method name) ->
# implementation for the ufunc methods with a meaning on Duals (reductions.pxi).
cdef dict _UFUNCS = {}
cdef dict _UFUNC_METHODS = {}

# ndarray method name -> the NumPy function it calls with the Dual first (d.var(axis=0)
# is np.var(d, axis=0)); filled by the family files.  Dual.__getattr__ looks here, then
# in _UFUNCS by name (NumPy's object-dtype loops call np.sin(a) as a.sin()).
cdef dict _METHODS = {}
cdef dict _UFUNC_BY_NAME = {}    # built by _core.pyx once every file has registered


def _supported_ufuncs():
    _lookup_ufunc(None)       # scipy.special's, listed once SciPy is loaded
    return tuple(sorted(u.__name__ for u in _UFUNCS))


def _supported_functions():
    return tuple(sorted(
        ("linalg." if f.__module__ and "linalg" in f.__module__ else "") + f.__name__
        for f in _FUNCTIONS))


def _registry():
    """Copies of the tables, for the registry-driven tests: (functions, ufuncs,
    ufunc methods, ndarray methods)."""
    return dict(_FUNCTIONS), dict(_UFUNCS), dict(_UFUNC_METHODS), dict(_METHODS)
