"""Tests the Python boundary makes of every ``fit`` and prediction, in one
pass each, without NumPy's temporary arrays and reductions.

- :func:`all_finite`: whether every number of an array is finite - the test of
  X, of a row to predict and of its outputs
  (:func:`hpframe._validation.all_finite`; a 784-wide float32 row: 0.1 us
  here, 0.55 us with ``np.isfinite``). The loop is ``_finite.h``'s: 8 numbers
  at a time where the CPU has AVX2, 4 elsewhere.
- :func:`label_codes`: class labels 0..k-1 as the C ints the losses read,
  tested to be in range on the way (the labels of every ``fit`` on classes;
  see ``tasks.Task._codes``).

They answer only for what they can read directly - C-contiguous arrays of the
types named, in native byte order - and return None for anything else, which
the caller hands to NumPy. They check; they raise nothing: the caller says what
is wrong.
"""
import numpy as np
cimport numpy as cnp

cnp.import_array()

include "_buildinfo.pxi"


def all_finite(a):
    """True if no number of ``a`` is NaN or infinite, False if one is; None if ``a``
    is not a C-contiguous float32 or float64 ndarray in native byte order."""
    if not cnp.PyArray_Check(a):
        return None
    cdef cnp.ndarray arr = <cnp.ndarray> a
    if not cnp.PyArray_IS_C_CONTIGUOUS(arr) or not cnp.PyArray_ISNOTSWAPPED(arr):
        return None
    cdef int kind = cnp.PyArray_TYPE(arr)
    cdef void* data = cnp.PyArray_DATA(arr)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(arr)
    cdef bint ok
    if kind == cnp.NPY_FLOAT:
        with nogil:
            ok = hp_all_finite_f32(<const float*> data, n)
        return ok
    if kind == cnp.NPY_DOUBLE:
        with nogil:
            ok = hp_all_finite_f64(<const double*> data, n)
        return ok
    return None


ctypedef fused int_label:
    int
    long long


cdef bint codes_into(const int_label* y, Py_ssize_t n, Py_ssize_t k, int* out) noexcept nogil:
    # out = y while every label is in [0, k); False at the first one outside it
    cdef Py_ssize_t i
    for i in range(n):
        if y[i] < 0 or y[i] >= k:
            return False
        out[i] = <int> y[i]
    return True


def label_codes(a, Py_ssize_t n_classes):
    """``a``'s labels as a new C-int array if every one is in ``[0, n_classes)``
    (the classes 0..k-1, their own codes); None if one is not, or if ``a`` is
    not a 1-D C-contiguous array of 32- or 64-bit signed ints in native byte
    order."""
    if not cnp.PyArray_Check(a):
        return None
    cdef cnp.ndarray arr = <cnp.ndarray> a
    if cnp.PyArray_NDIM(arr) != 1 or not cnp.PyArray_IS_C_CONTIGUOUS(arr) or \
            not cnp.PyArray_ISNOTSWAPPED(arr):
        return None
    cdef Py_ssize_t size = cnp.PyArray_ITEMSIZE(arr)
    cdef Py_ssize_t int_size = sizeof(int), long_size = sizeof(long long)
    if not (cnp.PyArray_ISSIGNED(arr) and cnp.PyArray_ISINTEGER(arr)) or \
            (size != int_size and size != long_size):
        return None
    cdef Py_ssize_t n = cnp.PyArray_SIZE(arr)
    cdef cnp.ndarray codes = np.empty(n, dtype=np.intc)
    cdef void* data = cnp.PyArray_DATA(arr)
    cdef int* out = <int*> cnp.PyArray_DATA(codes)
    cdef bint ok
    with nogil:
        if size == int_size:
            ok = codes_into(<const int*> data, n, n_classes, out)
        else:
            ok = codes_into(<const long long*> data, n, n_classes, out)
    return codes if ok else None
