"""Random numbers inside the nogil loop: dropout masks and shuffling.

Both draw from numpy's C-level bit generator (``bitgen_t``), so they run
without the GIL and a seeded ``numpy.random.PCG64`` reproduces them exactly.

* Dropout (inverted): each element is kept with probability ``1 - p`` and then
  scaled by ``1 / (1 - p)``, so the expected output equals the input and
  prediction needs no rescaling.  An element is dropped when a uniform 32-bit
  draw ``u`` satisfies ``u < p * 2**32``; the draws are the low then the high
  half of each 64-bit word (``fill_mask``), fresh words for every mask.
  A ``numpy.random.PCG64`` is stepped in ``_pcg64.h`` (four words at a time,
  the same words: ``pcg64_direct``).
* Shuffling: Fisher-Yates, with Lemire's multiply-shift method for an unbiased
  integer in ``[0, n)`` from 64-bit draws.
"""
import numpy as np
from cpython.pycapsule cimport PyCapsule_GetPointer
from cython cimport floating
from libc.stdint cimport uint32_t, uint64_t
from numpy.random cimport bitgen_t

include "_buildinfo.pxi"

cdef extern from *:
    """
    /* high 64 bits of a 64x64 -> 128-bit product */
    static inline uint64_t hpf_mulhi64(uint64_t a, uint64_t b, uint64_t *lo) {
        __uint128_t p = (__uint128_t)a * b;
        *lo = (uint64_t)p;
        return (uint64_t)(p >> 64);
    }
    """
    uint64_t mulhi64 "hpf_mulhi64"(uint64_t a, uint64_t b, uint64_t* lo) noexcept nogil


cdef uint64_t drop_threshold(double p) noexcept nogil:
    return <uint64_t> (p * 4294967296.0)     # p * 2**32


cdef void dropout_mask(bitgen_t* rng, bint direct, uint64_t threshold, floating scale,
                       floating[::1] mask) noexcept nogil:
    if mask.shape[0] > 0:
        fill_mask(rng, direct, threshold, scale, &mask[0], mask.shape[0])


cdef inline uint64_t bounded(bitgen_t* rng, uint64_t n) noexcept nogil:
    # Lemire (2019): the high word of x*n is uniform on [0, n) once draws whose
    # low word falls below 2**64 mod n are rejected.
    cdef uint64_t lo, hi, reject
    hi = mulhi64(rng.next_uint64(rng.state), n, &lo)
    if lo < n:
        reject = (0 - n) % n
        while lo < reject:
            hi = mulhi64(rng.next_uint64(rng.state), n, &lo)
    return hi


cdef void shuffle(bitgen_t* rng, Py_ssize_t[::1] index) noexcept nogil:
    cdef Py_ssize_t i, j, tmp
    for i in range(index.shape[0] - 1, 0, -1):
        j = <Py_ssize_t> bounded(rng, i + 1)
        tmp = index[i]
        index[i] = index[j]
        index[j] = tmp


cdef bitgen_t* bitgen_of(object bit_generator) except NULL:
    """The C struct behind a numpy BitGenerator (which must outlive its use)."""
    return <bitgen_t*> PyCapsule_GetPointer(bit_generator.capsule, "BitGenerator")


_direct = None


def pcg64_direct():
    """True if dropout masks step a ``numpy.random.PCG64`` in ``_pcg64.h``, reading
    and writing numpy's state in place; False if they call numpy's function
    pointer for every word. Decided once per process: the compiler must have a
    128-bit integer, and numpy's state must be laid out as ``_pcg64.h`` expects -
    checked by drawing words both ways from generators with the same seeds
    (also one holding a buffered 32-bit half) and comparing the words and
    numpy's whole state afterwards."""
    global _direct
    if _direct is None:
        _direct = bool(HP_PCG64_DIRECT) and _gives_numpys_words()
    return _direct


cdef bint _gives_numpys_words():
    cdef uint64_t[::1] words
    for n in (1, 3, 4, 5, 8, 13, 256):
        ours, theirs = np.random.PCG64(1000 + n), np.random.PCG64(1000 + n)
        if n == 5:                   # a buffered 32-bit half, which words leave alone
            np.random.Generator(ours).integers(0, 2**32, dtype=np.uint32)
            np.random.Generator(theirs).integers(0, 2**32, dtype=np.uint32)
        ours.advance(n * 7919)
        theirs.advance(n * 7919)
        words = np.empty(n, dtype=np.uint64)
        hp_pcg64_fill(bitgen_of(ours).state, &words[0], n)
        if not (np.array_equal(words, theirs.random_raw(n)) and ours.state == theirs.state):
            return False
    return True


def mask_into(object bit_generator, double p, floating[::1] mask):
    """Fill ``mask`` with an inverted-dropout mask for drop probability ``p``."""
    cdef bitgen_t* rng = bitgen_of(bit_generator)
    cdef uint64_t threshold = drop_threshold(p)
    cdef floating scale = <floating> (1.0 / (1.0 - p))
    cdef bint direct = type(bit_generator) is np.random.PCG64 and pcg64_direct()
    with bit_generator.lock, nogil:
        dropout_mask(rng, direct, threshold, scale, mask)


def shuffle_into(object bit_generator, Py_ssize_t[::1] index):
    """Permute ``index`` in place (Fisher-Yates)."""
    cdef bitgen_t* rng = bitgen_of(bit_generator)
    with bit_generator.lock, nogil:
        shuffle(rng, index)
