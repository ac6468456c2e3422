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
