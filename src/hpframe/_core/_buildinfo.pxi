# Included by every core module: an honest probe of how it was compiled.
# With boundscheck off, reading index 1 of a length-1 view just reads the next
# element of the (length-2) buffer; with it on, Cython raises IndexError.

def _checked_build():
    """Return True if this module was compiled with bounds checking on.

    That is the *checked* build, made with ``HPFRAME_CYTHON_DEBUG=1``.
    """
    cdef double[::1] buf = np.zeros(2)
    cdef double[::1] view = buf[:1]
    cdef Py_ssize_t i = 1
    try:
        view[i]
    except IndexError:
        return True
    return False
