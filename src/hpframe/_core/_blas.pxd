# The one module that talks to BLAS, and how the network's loops call it.
from cython cimport floating

# hpframe's own float32 product (_sgemm.h): C (m x n, ldc) = A @ B, A's element
# (r, p) at a[r * ar + p * ap], B's rows ldb apart. Used instead of BLAS for the
# loops' products where the policy chose it (``own``; _gemm_policy.py).
cdef extern from "_sgemm.h" nogil:
    int hp_sgemm_available()
    void hp_sgemm(long m, long n, long k, const float* a, long ar, long ap,
                  const float* b, long ldb, float* c, long ldc)
    # B packed once for many products (prediction's chunks): hp_pack_b writes
    # hp_packed_size(n, k) floats (32-byte aligned), hp_sgemm_packed reads them
    # from HP_PACK_ROWS rows of A on - the same bits as hp_sgemm
    long HP_PACK_ROWS
    long hp_packed_size(long n, long k)
    void hp_pack_b(long n, long k, const float* b, long ldb, float* packed)
    void hp_sgemm_packed(long m, long n, long k, const float* a, long ar, long ap,
                         const float* b, long ldb, const float* packed, float* c, long ldc)

# The own product reads B's rows in strips of 16 columns, rows ldb apart: past
# 256 columns (1 KB rows) a strip's rows fall into few cache sets and thrash,
# where BLAS, which packs, stays fast (a 256 x 392 by 392 x 1024 product: 3.3 ms
# own, 2.1 ms OpenBLAS). Wider products go to BLAS.
cdef enum:
    OWN_MOST_COLUMNS = 256

# C := alpha * op(A) @ op(B) + beta * C, all row-major (C is m x n, op(A) m x k).
cdef void gemm(bint trans_a, bint trans_b, int m, int n, int k,
               floating alpha, const floating* a, int lda,
               const floating* b, int ldb,
               floating beta, floating* c, int ldc) noexcept nogil


# ---- the policy: products in pieces ------------------------------------------------
# ``gemm_piece`` is the most multiply-adds one gemm call of the loops may take
# (0: no limit; chosen per BLAS kernel by measurement, once per machine:
# hpframe/_core/_gemm_policy.py). A larger
# product is cut into equal pieces along one of its sizes - but never into
# pieces narrower than 16, which is not worth a call.

cdef inline Py_ssize_t most_per_call(Py_ssize_t gemm_piece, Py_ssize_t cost) noexcept nogil:
    """How many rows (or inner terms) costing ``cost`` multiply-adds each one gemm
    call may take; 0 for no limit - also when the pieces would be narrower than 16."""
    cdef Py_ssize_t most = gemm_piece // cost if gemm_piece > 0 else 0
    return most if most >= 16 else 0


cdef inline Py_ssize_t piece_size(Py_ssize_t gemm_piece, Py_ssize_t cost,
                                  Py_ssize_t n) noexcept nogil:
    """How many of n rows (or inner terms) one gemm call takes: all n, or equal
    pieces under most_per_call."""
    cdef Py_ssize_t most = most_per_call(gemm_piece, cost), pieces
    if most == 0 or n <= most:
        return n
    pieces = (n + most - 1) // most
    return (n + pieces - 1) // pieces


cdef inline Py_ssize_t rows_per_block(Py_ssize_t gemm_piece, Py_ssize_t n_out,
                                      Py_ssize_t b) noexcept nogil:
    """Rows of a weight-gradient block (its gradient is used by the optimizer while
    in cache): about 8192 values (32 KB in float32), but at least 4b - each
    block's gemm packs D (b x n_out) again, which must cost little next to the
    block's own products - and at most one piece, whose gemm packs nothing."""
    cdef Py_ssize_t rows = max(8192 // n_out, 4 * b, 1)
    cdef Py_ssize_t most = most_per_call(gemm_piece, n_out * b)
    return min(rows, most) if most > 0 else rows


cdef inline void product(Py_ssize_t gemm_piece, bint own, Py_ssize_t b, Py_ssize_t n_out,
                         Py_ssize_t k, const floating* x, Py_ssize_t ldx, const floating* w,
                         floating* out) noexcept nogil:
    """out (b x n_out) = x[:, :k] @ w[:k, :]: with ``own`` (float32, at most
    OWN_MOST_COLUMNS wide) in one call of hpframe's own product, else in BLAS
    pieces along k (piece_size): the first piece writes out, the others add to it."""
    cdef Py_ssize_t k0 = 0, kk, step
    if floating is float:
        if own and n_out <= OWN_MOST_COLUMNS:
            hp_sgemm(b, n_out, k, x, ldx, 1, w, n_out, out, n_out)
            return
    step = piece_size(gemm_piece, b * n_out, k)
    while k0 < k:
        kk = min(step, k - k0)
        gemm(False, False, <int> b, <int> n_out, <int> kk, <floating> 1, x + k0, <int> ldx,
             w + k0 * n_out, <int> n_out, <floating> (1 if k0 > 0 else 0), out, <int> n_out)
        k0 += kk


cdef inline void product_at(bint own, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                            const floating* x, Py_ssize_t ldx, const floating* d,
                            floating* out) noexcept nogil:
    """out (m x n, contiguous) = x[:k, :m]^T @ d (k x n, contiguous) - a block of a
    weight gradient: with ``own`` (float32, at most OWN_MOST_COLUMNS wide)
    hpframe's own product, else BLAS."""
    if floating is float:
        if own and n <= OWN_MOST_COLUMNS:
            hp_sgemm(m, n, k, x, 1, ldx, d, n, out, n)
            return
    gemm(True, False, <int> m, <int> n, <int> k, <floating> 1, x, <int> ldx, d, <int> n,
         <floating> 0, out, <int> n)


cdef inline void product_transposed(Py_ssize_t gemm_piece, Py_ssize_t b, Py_ssize_t n,
                                    Py_ssize_t n_out, const floating* d, const floating* w,
                                    floating* out, Py_ssize_t ldo) noexcept nogil:
    """out[:, :n] (b x n, rows ldo apart) = d (b x n_out) @ w[:n, :]^T, in pieces
    of columns of out (piece_size)."""
    cdef Py_ssize_t j = 0, step = piece_size(gemm_piece, b * n_out, n)
    while j < n:
        gemm(False, True, <int> b, <int> min(step, n - j), <int> n_out, <floating> 1,
             d, <int> n_out, w + j * n_out, <int> n_out, <floating> 0, out + j, <int> ldo)
        j += step
