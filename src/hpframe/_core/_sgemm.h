/* hpframe's own float32 matrix product for the training loops' two big products,
   written for AVX2 with fused multiply-adds (chosen per machine by measurement,
   see _gemm_policy.py; BLAS otherwise).

       C (m x n, rows ldc apart)  =  A (m x k)  @  B (k x n, rows ldb apart)

   B's rows are contiguous (a weight matrix W, or a layer's D), A is read through
   two strides: element (r, p) is a[r * ar + p * ap] - the batch's rows of X for
   the forward product (ar = ldx, ap = 1), or the columns of X for the weight
   gradient X^T D (ar = 1, ap = ldx). Nothing is packed: a block of 6 rows of C
   by 16 columns stays in 12 vector registers while p runs over k, each step
   multiplying 6 numbers of A (broadcast) with 16 of B's row p (two loads).
   BLAS packs both operands into panels first, which small products - a batch
   of 16-64 rows - pay for on every call (OpenBLAS's Haswell packing of W costs
   a quarter of mnist-bs64's forward product in scipy's OpenBLAS 0.3.30).

   Every element of C is the sum over p in order, one fused multiply-add at a
   time from 0: the same bits on every call, whatever m, n and the blocking.
   Where the compiler or CPU lacks AVX2 and FMA, hp_sgemm_available() is 0 and
   the network uses BLAS. */
#ifndef HPFRAME_SGEMM_H
#define HPFRAME_SGEMM_H

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#include <immintrin.h>

#define HP_SGEMM_TARGET __attribute__((target("avx2,fma")))

static int hp_sgemm_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

/* lanes j < n of a vector of 8 (n >= 8: all) */
HP_SGEMM_TARGET static inline __m256i hp_lanes(long n) {
    const __m256i index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n > 8 ? 8 : (int) (n < 0 ? 0 : n)), index);
}

/* One block: rows[0..5] of A (rows past mr repeat row 0 and are not stored),
   16 columns of B from b (the first nr of them; nr < 16 through masks). */
HP_SGEMM_TARGET static inline void hp_block(long k, const float* a0, const float* a1,
                                            const float* a2, const float* a3,
                                            const float* a4, const float* a5, long ap,
                                            const float* b, long ldb, float* c, long ldc,
                                            long mr, long nr) {
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    __m256 b0, b1, x;
    long p, q = 0;
    if (nr >= 16) {
        for (p = 0; p < k; p++, q += ap) {
            b0 = _mm256_loadu_ps(b + p * ldb);
            b1 = _mm256_loadu_ps(b + p * ldb + 8);
            x = _mm256_broadcast_ss(a0 + q); c00 = _mm256_fmadd_ps(x, b0, c00); c01 = _mm256_fmadd_ps(x, b1, c01);
            x = _mm256_broadcast_ss(a1 + q); c10 = _mm256_fmadd_ps(x, b0, c10); c11 = _mm256_fmadd_ps(x, b1, c11);
            x = _mm256_broadcast_ss(a2 + q); c20 = _mm256_fmadd_ps(x, b0, c20); c21 = _mm256_fmadd_ps(x, b1, c21);
            x = _mm256_broadcast_ss(a3 + q); c30 = _mm256_fmadd_ps(x, b0, c30); c31 = _mm256_fmadd_ps(x, b1, c31);
            x = _mm256_broadcast_ss(a4 + q); c40 = _mm256_fmadd_ps(x, b0, c40); c41 = _mm256_fmadd_ps(x, b1, c41);
            x = _mm256_broadcast_ss(a5 + q); c50 = _mm256_fmadd_ps(x, b0, c50); c51 = _mm256_fmadd_ps(x, b1, c51);
        }
    } else {
        __m256i m0 = hp_lanes(nr), m1 = hp_lanes(nr - 8);
        for (p = 0; p < k; p++, q += ap) {
            b0 = _mm256_maskload_ps(b + p * ldb, m0);
            b1 = _mm256_maskload_ps(b + p * ldb + 8, m1);
            x = _mm256_broadcast_ss(a0 + q); c00 = _mm256_fmadd_ps(x, b0, c00); c01 = _mm256_fmadd_ps(x, b1, c01);
            x = _mm256_broadcast_ss(a1 + q); c10 = _mm256_fmadd_ps(x, b0, c10); c11 = _mm256_fmadd_ps(x, b1, c11);
            x = _mm256_broadcast_ss(a2 + q); c20 = _mm256_fmadd_ps(x, b0, c20); c21 = _mm256_fmadd_ps(x, b1, c21);
            x = _mm256_broadcast_ss(a3 + q); c30 = _mm256_fmadd_ps(x, b0, c30); c31 = _mm256_fmadd_ps(x, b1, c31);
            x = _mm256_broadcast_ss(a4 + q); c40 = _mm256_fmadd_ps(x, b0, c40); c41 = _mm256_fmadd_ps(x, b1, c41);
            x = _mm256_broadcast_ss(a5 + q); c50 = _mm256_fmadd_ps(x, b0, c50); c51 = _mm256_fmadd_ps(x, b1, c51);
        }
    }
    {
        __m256 rows[6][2] = {{c00, c01}, {c10, c11}, {c20, c21},
                             {c30, c31}, {c40, c41}, {c50, c51}};
        long r;
        if (nr >= 16) {
            for (r = 0; r < mr; r++) {
                _mm256_storeu_ps(c + r * ldc, rows[r][0]);
                _mm256_storeu_ps(c + r * ldc + 8, rows[r][1]);
            }
        } else {
            __m256i m0 = hp_lanes(nr), m1 = hp_lanes(nr - 8);
            for (r = 0; r < mr; r++) {
                _mm256_maskstore_ps(c + r * ldc, m0, rows[r][0]);
                _mm256_maskstore_ps(c + r * ldc + 8, m1, rows[r][1]);
            }
        }
    }
}

/* C = A @ B (see the top of this file); nothing is checked (the caller's job). */
HP_SGEMM_TARGET static void hp_sgemm(long m, long n, long k, const float* a, long ar, long ap,
                                     const float* b, long ldb, float* c, long ldc) {
    long i, j, mr;
    const float* r[6];
    for (j = 0; j < n; j += 16) {
        for (i = 0; i < m; i += 6) {
            mr = m - i < 6 ? m - i : 6;
            for (long u = 0; u < 6; u++)
                r[u] = a + (i + (u < mr ? u : 0)) * ar;
            hp_block(k, r[0], r[1], r[2], r[3], r[4], r[5], ap, b + j, ldb, c + i * ldc + j,
                     ldc, mr, n - j);
        }
    }
}

#else

static int hp_sgemm_available(void) { return 0; }
static void hp_sgemm(long m, long n, long k, const float* a, long ar, long ap,
                     const float* b, long ldb, float* c, long ldc) {
    (void) m; (void) n; (void) k; (void) a; (void) ar; (void) ap; (void) b; (void) ldb;
    (void) c; (void) ldc;
}

#endif
#endif
