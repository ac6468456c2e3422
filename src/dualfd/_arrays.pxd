# Inline tests of what may cross into C, shared by both extension modules.
cimport numpy as cnp


cdef inline bint native(cnp.ndarray a, int typenum):
    """a's elements are typenum in native byte order, aligned: C may read them.
    (PyArray_TYPE is NPY_DOUBLE for '>f8' too, so the type alone is not enough.)"""
    return (cnp.PyArray_TYPE(a) == typenum and cnp.PyArray_ISNOTSWAPPED(a)
            and cnp.PyArray_ISALIGNED(a))


cdef inline bint c_ready(cnp.ndarray a, int typenum):
    """a may cross into C as one block of typenum: native (above) and C-contiguous."""
    return native(a, typenum) and cnp.PyArray_IS_C_CONTIGUOUS(a)


cdef extern from "Python.h":
    ctypedef struct _SequenceSlots "PySequenceMethods":
        void *sq_item
    ctypedef struct _TypeSlots "PyTypeObject":
        _SequenceSlots *tp_as_sequence


cdef inline void not_a_sequence(type t):
    """Make the array type t array-like, not a Python sequence.  With sq_item, NumPy's
    float setitem (g = np.zeros(n); g[i] = d) re-raises dualfd's TypeError from
    t.__float__ as "setting an array element with a sequence"; without it, indexing and
    len() still go through the mapping slots, iteration through __iter__."""
    cdef _TypeSlots *slots = <_TypeSlots *>t
    if slots.tp_as_sequence != NULL:
        slots.tp_as_sequence.sq_item = NULL
