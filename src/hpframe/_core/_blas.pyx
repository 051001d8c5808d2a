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

def small_gemm_piece():
    """The default :attr:`Network.gemm_piece`: the most multiply-adds one gemm call of
    the training loops takes (0: no limit), as this machine's BLAS kernel was measured
    to prefer - or as ``HPFRAME_GEMM_PIECE`` says (:mod:`hpframe._core._gemm_policy`:
    measured once per machine and kept in a cache file, never timed within a run)."""
    from hpframe._core._gemm_policy import gemm_policy
    return gemm_policy()["gemm_piece"]


def small_gemm_kernel():
    """The default :attr:`Network.gemm_kernel`: ``"own"`` where this machine was
    measured to run the loops faster with hpframe's own float32 product, else
    ``"blas"`` - or as ``HPFRAME_GEMM_KERNEL`` says (:mod:`hpframe._core._gemm_policy`)."""
    from hpframe._core._gemm_policy import gemm_policy
    return gemm_policy()["gemm_kernel"]


def small_predict_kernel():
    """The default :attr:`Network.predict_kernel` (as :func:`small_gemm_kernel`, for
    prediction)."""
    from hpframe._core._gemm_policy import gemm_policy
    return gemm_policy()["predict_kernel"]


def own_gemm_available():
    """True if hpframe's own float32 product (AVX2 with FMA) can run here."""
    return bool(hp_sgemm_available())


def own_gemm_memview(a, b, c, bint transpose_a=False):
    """Python twin of the own product for tests: ``c = a @ b`` (or ``a.T @ b``), all
    float32 C-contiguous 2-D arrays of consistent shapes (not checked here)."""
    _own_view(a, b, c, transpose_a)


cdef void _own_view(const float[:, ::1] a, const float[:, ::1] b, float[:, ::1] c,
                    bint transpose_a) noexcept:
    cdef long m = c.shape[0], n = c.shape[1], lda = a.shape[1]
    cdef long k = a.shape[0] if transpose_a else a.shape[1]
    cdef const float* pa = &a[0, 0] if a.shape[0] > 0 and a.shape[1] > 0 else NULL
    cdef const float* pb = &b[0, 0] if b.shape[0] > 0 and b.shape[1] > 0 else NULL
    if m == 0 or n == 0:
        return
    with nogil:
        if transpose_a:
            hp_sgemm(m, n, k, pa, 1, lda, pb, n, &c[0, 0], n)
        else:
            hp_sgemm(m, n, k, pa, lda, 1, pb, n, &c[0, 0], n)


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
