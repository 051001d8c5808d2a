from cython cimport floating

cpdef enum Loss:
    CROSS_ENTROPY = 0
    BINARY_CROSS_ENTROPY = 1
    MSE = 2
    MAE = 3
    HUBER = 4

cdef double cross_entropy(const floating[::1] logits,   # IN  (n, k) row-major
                          const int[::1] labels,        # IN  (n,) in 0..k-1
                          const floating[::1] weight,   # IN  (n,) per row; empty: all 1
                          Py_ssize_t k, double scale,
                          floating[::1] grad            # OUT (n, k); empty: no gradient
                          ) noexcept nogil

cdef double elementwise_loss(int code,
                             const floating[::1] output,   # IN  (n*k,)
                             const floating[::1] target,   # IN  (n*k,)
                             const floating[::1] weight,   # IN  (n,) per row; empty: all 1
                             Py_ssize_t k, double scale,
                             floating[::1] grad            # OUT (n*k,); empty: no gradient
                             ) noexcept nogil

cdef double count_correct(int code, const floating[::1] output, const int[::1] labels,
                          const floating[::1] target, const floating[::1] weight,
                          Py_ssize_t k) noexcept nogil
