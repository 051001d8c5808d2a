from cython cimport floating
from libc.stdint cimport uint32_t, uint64_t
from numpy.random cimport bitgen_t


cdef extern from "_pcg64.h":
    bint HP_PCG64_DIRECT
    void hp_pcg64_fill(void* numpy_state, uint64_t* words, long n) noexcept nogil


cdef extern from *:
    """
    /* 1 where a 64-bit word's low half is the uint32 before its high half in memory */
    #if (defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && \
         __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__) || defined(_WIN32)
    #define HP_LOW_HALF_FIRST 1     /* (Windows runs little-endian only) */
    #else
    #define HP_LOW_HALF_FIRST 0
    #endif
    """
    bint HP_LOW_HALF_FIRST


cdef inline void fill_mask(bitgen_t* rng, bint direct, uint64_t threshold, floating scale,
                           floating* mask, Py_ssize_t n) noexcept nogil:
    # mask[i] = 0 (dropped) if draw i < threshold, else scale. The draws are the
    # low then the high half of each fresh 64-bit word (an odd n leaves the last
    # high half unused). Words are drawn a chunk at a time into a small array on
    # the stack - with ``direct`` (rng is a numpy PCG64 whose layout
    # pcg64_direct() checked) stepped in _pcg64.h, else through numpy's function
    # pointer: the same words. On a little-endian CPU the chunk read as uint32s
    # is the draws in order, so one branch-free loop over them sets the mask,
    # which the compiler vectorises (mask_into, base build: 2.5 -> 0.8 ns a
    # value; the digits-bs32 step 13.05 -> 12.75 us); elsewhere the halves are
    # taken apart word by word.
    cdef uint64_t words[256]
    cdef const uint32_t* draws = <const uint32_t*> &words[0]
    cdef uint32_t below = <uint32_t> threshold
    cdef bint in_order = HP_LOW_HALF_FIRST and threshold >> 32 == 0   # (p < 1)
    cdef Py_ssize_t done = 0, i, k, pairs
    cdef floating* m
    while done < n:
        k = min(n - done, 512)                  # draws in this chunk
        pairs = k // 2
        if direct:
            hp_pcg64_fill(rng.state, words, (k + 1) // 2)
        else:
            for i in range((k + 1) // 2):
                words[i] = rng.next_uint64(rng.state)
        m = mask + done
        if in_order:
            for i in range(k):
                m[i] = scale if draws[i] >= below else 0
        else:
            for i in range(pairs):
                m[2 * i] = 0 if <uint32_t> words[i] < threshold else scale
                m[2 * i + 1] = 0 if <uint32_t> (words[i] >> 32) < threshold else scale
            if k % 2:
                m[k - 1] = 0 if <uint32_t> words[pairs] < threshold else scale
        done += k

cdef uint64_t drop_threshold(double p) noexcept nogil

cdef void dropout_mask(bitgen_t* rng, bint direct, uint64_t threshold, floating scale,
                       floating[::1] mask   # OUT 0 (dropped) or scale = 1/(1-p) (kept)
                       ) noexcept nogil

cdef void shuffle(bitgen_t* rng, Py_ssize_t[::1] index  # IN/OUT permuted in place
                  ) noexcept nogil

cdef bitgen_t* bitgen_of(object bit_generator) except NULL
