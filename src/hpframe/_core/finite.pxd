from cython cimport floating
from libc.math cimport isfinite


cdef inline bint all_finite_n(const floating* x, Py_ssize_t n) noexcept nogil:
    # True if none of x[0:n] is NaN or infinite. No early exit: without the
    # branch the loop vectorises (a 784-wide row: 0.1 us instead of 0.3; NaN is
    # rare). isfinite is exact here: setup.py never builds with
    # -ffinite-math-only (nor -ffast-math), which would let the compiler drop it.
    cdef bint ok = True
    cdef Py_ssize_t i
    for i in range(n):
        ok &= isfinite(x[i])
    return ok
