# Part of dualfd._dual._core (included by _core.pyx): SciPy special functions
# (scipy.special ufuncs with rules in csrc/rules.def, and logsumexp/softmax).
