from cython cimport floating

# C := alpha * op(A) @ op(B) + beta * C, all row-major (C is m x n, op(A) m x k).
cdef void gemm(bint trans_a, bint trans_b, int m, int n, int k,
               floating alpha, const floating* a, int lda,
               const floating* b, int ldb,
               floating beta, floating* c, int ldc) noexcept nogil
