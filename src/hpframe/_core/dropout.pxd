from cython cimport floating
from libc.stdint cimport uint32_t, uint64_t
from numpy.random cimport bitgen_t


cdef struct Draws32:
    # 32-bit draws handed out two per 64-bit word, for ONE mask fill
    uint64_t word
    bint spare


cdef inline uint32_t draw32(bitgen_t* rng, Draws32* d) noexcept nogil:
    # One call through the generator's function pointer per two draws: the low
    # half of a fresh 64-bit word first, then its high half.  Each fill starts
    # with spare = False, so an odd fill leaves its last high half unused.
    if d.spare:
        d.spare = False
        return <uint32_t> (d.word >> 32)
    d.word = rng.next_uint64(rng.state)
    d.spare = True
    return <uint32_t> d.word

cdef uint64_t drop_threshold(double p) noexcept nogil

cdef void dropout_mask(bitgen_t* rng, uint64_t threshold, floating scale,
                       floating[::1] mask   # OUT 0 (dropped) or scale = 1/(1-p) (kept)
                       ) noexcept nogil

cdef void shuffle(bitgen_t* rng, Py_ssize_t[::1] index  # IN/OUT permuted in place
                  ) noexcept nogil

cdef bitgen_t* bitgen_of(object bit_generator) except NULL
