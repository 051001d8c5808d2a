"""The one module that talks to BLAS (``scipy.linalg.cython_blas``), and the
policy of how the network's loops call it (``_blas.pxd``: products in pieces).

BLAS is column-major; our arrays are row-major.  A row-major matrix is the
transpose of the same memory read column-major, so ``C = op(A) @ op(B)`` in
row-major is ``C^T = op(B)^T @ op(A)^T`` in column-major: we call Fortran gemm
with the operands (and their sizes) swapped.  No copies are made.
"""
import numpy as np
from cython cimport floating
from scipy.linalg.cython_blas cimport sgemm, dgemm

include "_buildinfo.pxi"

# OpenBLAS (the BLAS of numpy's and scipy's wheels) multiplies products of at
# most 100^3 multiply-adds with a kernel that reads the operands in place, in
# its builds for AVX-512 CPUs; bigger ones are first copied into packed panels.
# At the sizes of a small network's step the in-place kernel is faster, so there
# the loops cut their products into such pieces (piece_size in _blas.pxd).
SMALL_KERNEL_CORES = ("skylakex", "cooperlake", "sapphirerapids")
_small_gemm = None


def small_gemm_piece():
    """The default :attr:`Network.gemm_piece`: 1,000,000 (100^3) multiply-adds where
    scipy's BLAS is OpenBLAS running a kernel set with the small-matrix path
    (``SMALL_KERNEL_CORES``, as ``threadpoolctl`` reports it), else 0 (no limit)."""
    global _small_gemm
    if _small_gemm is None:
        from threadpoolctl import threadpool_info
        _small_gemm = 0
        for pool in threadpool_info():
            if (pool.get("internal_api") == "openblas" and "scipy" in pool.get("filepath", "")
                    and str(pool.get("architecture")).lower() in SMALL_KERNEL_CORES):
                _small_gemm = 1000000
    return _small_gemm


cdef void gemm(bint trans_a, bint trans_b, int m, int n, int k,
               floating alpha, const floating* a, int lda,
               const floating* b, int ldb,
               floating beta, floating* c, int ldc) noexcept nogil:
    # C := alpha * op(A) @ op(B) + beta * C  (row-major; see the module docstring)
    cdef char ta = b'T' if trans_a else b'N'
    cdef char tb = b'T' if trans_b else b'N'
    if floating is float:
        sgemm(&tb, &ta, &n, &m, &k, &alpha, <float*> b, &ldb, <float*> a, &lda,
              &beta, c, &ldc)
    else:
        dgemm(&tb, &ta, &n, &m, &k, &alpha, <double*> b, &ldb, <double*> a, &lda,
              &beta, c, &ldc)


def gemm_memview(bint trans_a, bint trans_b, double alpha, a, b, double beta, c):
    """Python twin of :c:func:`gemm` for tests: ``c = alpha*op(a)@op(b) + beta*c``.

    ``a``, ``b`` and ``c`` are C-contiguous 2-D arrays of one dtype (float32 or
    float64), which selects sgemm or dgemm.  Shapes are not checked here; the
    caller (``hpframe.ops`` or a test) passes consistent ones.
    """
    if c.dtype == np.float32:
        _gemm_view[float](trans_a, trans_b, alpha, a, b, beta, c)
    else:
        _gemm_view[double](trans_a, trans_b, alpha, a, b, beta, c)


cdef void _gemm_view(bint trans_a, bint trans_b, double alpha, const floating[:, ::1] a,
                     const floating[:, ::1] b, double beta, floating[:, ::1] c) noexcept:
    cdef int m = c.shape[0], n = c.shape[1]
    cdef int k = a.shape[0] if trans_a else a.shape[1]
    with nogil:
        gemm(trans_a, trans_b, m, n, k, <floating> alpha, &a[0, 0], a.shape[1],
             &b[0, 0], b.shape[1], <floating> beta, &c[0, 0], c.shape[1])
