from cython cimport floating
from libc.stdint cimport uint64_t
from numpy.random cimport bitgen_t

cdef uint64_t drop_threshold(double p) noexcept nogil

cdef void dropout_mask(bitgen_t* rng, uint64_t threshold, floating scale,
                       floating[::1] mask   # OUT 0 (dropped) or scale = 1/(1-p) (kept)
                       ) noexcept nogil

cdef void shuffle(bitgen_t* rng, Py_ssize_t[::1] index  # IN/OUT permuted in place
                  ) noexcept nogil

cdef bitgen_t* bitgen_of(object bit_generator) except NULL
