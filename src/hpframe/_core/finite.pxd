from cython cimport floating

# The loops are _finite.h's. The plain one is compiled with the including
# module's instruction set (8 at a time in the AVX2 build of the network);
# hp_all_finite_* pick the AVX2 loop at run time where the CPU has it.
cdef extern from "_finite.h" nogil:
    int hp_finite_f32_plain(const float* x, long n)
    int hp_finite_f64_plain(const double* x, long n)
    int hp_all_finite_f32(const float* x, long n)
    int hp_all_finite_f64(const double* x, long n)


cdef inline bint all_finite_n(const floating* x, Py_ssize_t n) noexcept nogil:
    # True if none of x[0:n] is NaN or infinite (the plain loop: inline, so the
    # network's loops compile it with their own instruction set)
    if floating is float:
        return hp_finite_f32_plain(x, n)
    else:
        return hp_finite_f64_plain(x, n)


cdef inline bint all_finite_fast(const floating* x, Py_ssize_t n) noexcept nogil:
    # The same answer from the loop picked for the CPU at run time (AVX2, four
    # accumulators, where it has it): about 4x the plain loop's speed on data in
    # cache, whatever the including module's instruction set
    if floating is float:
        return hp_all_finite_f32(x, n)
    else:
        return hp_all_finite_f64(x, n)
