# Scalar math over `floating`: the float versions (expf, ...) for float32, so a
# float32 loop never converts to double and back. float32's exp is hpframe's own
# (_fexp.h): plain arithmetic, so the loops that call it vectorise, within one
# unit in the last place of the exact result for every float32.
from cython cimport floating
from libc.math cimport (exp, expm1, expm1f, log, logf, log1p, log1pf,
                        erf, erff, tanh, tanhf, sqrt, sqrtf, fabs, fabsf)


cdef extern from "_fexp.h":
    float hp_expf(float x) noexcept nogil


cdef inline floating f_exp(floating x) noexcept nogil:
    if floating is float:
        return hp_expf(x)
    else:
        return exp(x)


cdef inline floating f_expm1(floating x) noexcept nogil:
    if floating is float:
        return expm1f(x)
    else:
        return expm1(x)


cdef inline floating f_log(floating x) noexcept nogil:
    if floating is float:
        return logf(x)
    else:
        return log(x)


cdef inline floating f_log1p(floating x) noexcept nogil:
    if floating is float:
        return log1pf(x)
    else:
        return log1p(x)


cdef inline floating f_erf(floating x) noexcept nogil:
    if floating is float:
        return erff(x)
    else:
        return erf(x)


cdef inline floating f_tanh(floating x) noexcept nogil:
    if floating is float:
        return tanhf(x)
    else:
        return tanh(x)


cdef inline floating f_sqrt(floating x) noexcept nogil:
    if floating is float:
        return sqrtf(x)
    else:
        return sqrt(x)


cdef inline floating f_abs(floating x) noexcept nogil:
    if floating is float:
        return fabsf(x)
    else:
        return fabs(x)
