/* hpframe's own float32 matrix product for the training loops' two big products,
   written for AVX2 with fused multiply-adds (chosen per machine by measurement,
   see _gemm_policy.py; BLAS otherwise).

       C (m x n, rows ldc apart)  =  A (m x k)  @  B (k x n, rows ldb apart)

   B's rows are contiguous (a weight matrix W, or a layer's D), A is read through
   two strides: element (r, p) is a[r * ar + p * ap] - the batch's rows of X for
   the forward product (ar = ldx, ap = 1), or the columns of X for the weight
   gradient X^T D (ar = 1, ap = ldx). A is never packed: a block of 6 rows of C
   by 16 columns stays in 12 vector registers while p runs over k, each step
   multiplying 6 numbers of A (broadcast) with 16 of B's row p (two loads); the
   last one or two rows go 64 or 32 columns at a time.
   BLAS packs both operands into panels first, which small products - a batch
   of 16-64 rows - pay for on every call (OpenBLAS's Haswell packing of W costs
   a quarter of mnist-bs64's forward product in scipy's OpenBLAS 0.3.30).

   From HP_PACK_ROWS rows of A on (prediction's chunks of 256 rows, batches of
   128 or more, the weight gradient of 128 or more inputs), B is read the way BLAS does: in slices of at most HP_KC
   values of p, each 16-column strip of a slice first copied to a contiguous
   16 KB buffer on the stack, which then stays in the first-level cache while
   every block of rows goes past it (strided rows of B are spread over pages
   and cache sets). C is stored after one slice and loaded for the next. A
   caller that multiplies many blocks of rows by the same B - prediction, chunk
   after chunk - packs all of B once (hp_pack_b) and hands it to hp_sgemm_packed.

   Every element of C is the sum over p in order, one fused multiply-add at a
   time from 0 (a float stored and loaded again is the same float): the same
   bits on every call, whatever m, n and the blocking or packing.
   Where the compiler or CPU lacks AVX2 and FMA, hp_sgemm_available() is 0 and
   the network uses BLAS. */
#ifndef HPFRAME_SGEMM_H
#define HPFRAME_SGEMM_H

/* (outside the x86-64 part below: network.pyx reads them on every platform) */
#define HP_PACK_ROWS 128    /* rows of A from which B is packed (see the top) */
#define HP_KC 256           /* most values of p in a packed slice */

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

/* One block: MR rows of A (from the pointers in a, at most 6) by 16 columns of
   B from b (the first nr of them; nr < 16 through masks), over k values of p.
   With ``more`` the sums go on from C's values (a later slice), else from 0.
   Inlined with MR a constant, so the accumulators stay in registers. */
#define HP_FMA_ROWS(LOAD)                                                            \
    for (p = 0; p < k; p++, q += ap) {                                               \
        b0 = LOAD(b + p * ldb, 0);                                                   \
        b1 = LOAD(b + p * ldb + 8, 1);                                               \
        for (r = 0; r < MR; r++) {                                                   \
            x = _mm256_broadcast_ss(a[r] + q);                                       \
            c0[r] = _mm256_fmadd_ps(x, b0, c0[r]);                                   \
            c1[r] = _mm256_fmadd_ps(x, b1, c1[r]);                                   \
        }                                                                            \
    }
#define HP_LOAD_ALL(ptr, half) _mm256_loadu_ps(ptr)
#define HP_LOAD_MASKED(ptr, half) _mm256_maskload_ps(ptr, (half) ? m1 : m0)

HP_SGEMM_TARGET static inline __attribute__((always_inline)) void
hp_block(const long MR, long k, const float* const* a, long ap, const float* b, long ldb,
         float* c, long ldc, long nr, int more) {
    __m256 c0[6], c1[6], b0, b1, x;
    __m256i m0 = hp_lanes(nr), m1 = hp_lanes(nr - 8);
    long p, q = 0, r;
    for (r = 0; r < MR; r++) {
        if (!more) {
            c0[r] = c1[r] = _mm256_setzero_ps();
        } else {
            c0[r] = _mm256_maskload_ps(c + r * ldc, m0);
            c1[r] = _mm256_maskload_ps(c + r * ldc + 8, m1);
        }
    }
    if (nr >= 16) {
        HP_FMA_ROWS(HP_LOAD_ALL)
        for (r = 0; r < MR; r++) {
            _mm256_storeu_ps(c + r * ldc, c0[r]);
            _mm256_storeu_ps(c + r * ldc + 8, c1[r]);
        }
    } else {
        HP_FMA_ROWS(HP_LOAD_MASKED)
        for (r = 0; r < MR; r++) {
            _mm256_maskstore_ps(c + r * ldc, m0, c0[r]);
            _mm256_maskstore_ps(c + r * ldc + 8, m1, c1[r]);
        }
    }
}

/* One or two rows of A by 8 * NV columns of B (the first nr; masks past them):
   the rows left over by the blocks of 3-6, e.g. a batch of one. With few rows,
   one accumulator per 8 columns would wait on its own last fused multiply-add
   at every step; NV of them, independent, keep the unit busy. Each element is
   still the sum over p in order, so the same bits as in a block of 6. */
HP_SGEMM_TARGET static inline __attribute__((always_inline)) void
hp_wide(const long MR, const long NV, long k, const float* const* a, long ap, const float* b,
        long ldb, float* c, long ldc, long nr) {
    __m256 acc[2][8], x[2], bv;
    __m256i mask[8];
    long p, q = 0, r, v;
    for (v = 0; v < NV; v++) {
        mask[v] = hp_lanes(nr - 8 * v);
        for (r = 0; r < MR; r++)
            acc[r][v] = _mm256_setzero_ps();
    }
    for (p = 0; p < k; p++, q += ap) {
        for (r = 0; r < MR; r++)
            x[r] = _mm256_broadcast_ss(a[r] + q);
        for (v = 0; v < NV; v++) {
            bv = nr >= 8 * NV ? _mm256_loadu_ps(b + p * ldb + 8 * v)
                              : _mm256_maskload_ps(b + p * ldb + 8 * v, mask[v]);
            for (r = 0; r < MR; r++)
                acc[r][v] = _mm256_fmadd_ps(x[r], bv, acc[r][v]);
        }
    }
    for (r = 0; r < MR; r++)
        for (v = 0; v < NV; v++)
            _mm256_maskstore_ps(c + r * ldc + 8 * v, mask[v], acc[r][v]);
}

/* Rows i:i+u of C (u of 3-6: a block of that many), columns j:j+16, over kc
   values of p from the row pointers' places: hp_block with MR a constant. */
HP_SGEMM_TARGET static inline void
hp_blocks(long u, long kc, const float* const* rows, long ap, const float* b, long ldb,
          float* c, long ldc, long nr, int more) {
    switch (u) {
    case 6: hp_block(6, kc, rows, ap, b, ldb, c, ldc, nr, more); break;
    case 5: hp_block(5, kc, rows, ap, b, ldb, c, ldc, nr, more); break;
    case 4: hp_block(4, kc, rows, ap, b, ldb, c, ldc, nr, more); break;
    default: hp_block(3, kc, rows, ap, b, ldb, c, ldc, nr, more); break;
    }
}

/* kc rows of the strip of B at b (the first nr <= 16 columns, rows ldb apart)
   into pack, 16 floats a row, zeros past nr. */
HP_SGEMM_TARGET static inline void
hp_pack_strip(long kc, const float* b, long ldb, long nr, float* pack) {
    __m256i m0 = hp_lanes(nr), m1 = hp_lanes(nr - 8);
    long p;
    for (p = 0; p < kc; p++, b += ldb, pack += 16) {
        _mm256_store_ps(pack, nr >= 16 ? _mm256_loadu_ps(b) : _mm256_maskload_ps(b, m0));
        _mm256_store_ps(pack + 8, nr >= 16 ? _mm256_loadu_ps(b + 8)
                                           : _mm256_maskload_ps(b + 8, m1));
    }
}

/* The values of p in one slice: k cut into equal slices of at most HP_KC. */
static inline long hp_slice(long k) {
    long slices = (k + HP_KC - 1) / HP_KC;
    return slices > 0 ? (k + slices - 1) / slices : 0;
}

/* How many floats hp_pack_b writes for a k x n B. */
static inline long hp_packed_size(long n, long k) {
    return k * ((n + 15) / 16 * 16);
}

/* All of B (k x n, rows ldb apart) packed as hp_sgemm packs it, slice by slice
   and strip by strip, into packed (hp_packed_size floats, 32-byte aligned): a
   caller that multiplies many blocks of rows by one B - prediction's chunks -
   packs it once instead of once per call. */
HP_SGEMM_TARGET static void hp_pack_b(long n, long k, const float* b, long ldb,
                                      float* packed) {
    long j, p0, kc, slice = hp_slice(k);
    for (p0 = 0; p0 < k; p0 += slice) {
        kc = k - p0 < slice ? k - p0 : slice;
        for (j = 0; j < n; j += 16, packed += kc * 16)
            hp_pack_strip(kc, b + p0 * ldb + j, ldb, n - j, packed);
    }
}

/* C = A @ B (see the top of this file); with packed not NULL, B as hp_pack_b
   packed it (used where hp_sgemm would pack: from HP_PACK_ROWS rows on; B is
   still read for the last one or two rows). Nothing is checked (the caller's job). */
HP_SGEMM_TARGET static void hp_sgemm_packed(long m, long n, long k, const float* a, long ar,
                                            long ap, const float* b, long ldb,
                                            const float* packed, float* c, long ldc) {
    long i, j, u, p0, kc, slice, tail = m % 6 < 3 ? m % 6 : 0, blocks = m - tail;
    const float* rows[6] = {a, a, a, a, a, a};
    const float* strip;
    float pack[HP_KC * 16] __attribute__((aligned(32)));
    if (blocks < HP_PACK_ROWS || k == 0) {
        for (j = 0; j < n; j += 16) {           /* blocks of 3-6 rows by 16 columns */
            for (i = 0; i < blocks; i += 6) {
                for (u = 0; u < 6 && i + u < blocks; u++)
                    rows[u] = a + (i + u) * ar;
                hp_blocks(u, k, rows, ap, b + j, ldb, c + i * ldc + j, ldc, n - j, 0);
            }
        }
    } else {
        slice = hp_slice(k);                    /* slices of equal size */
        for (p0 = 0; p0 < k; p0 += slice) {     /* the same blocks, a slice at a time */
            kc = k - p0 < slice ? k - p0 : slice;
            for (j = 0; j < n; j += 16) {
                if (packed) {
                    strip = packed + hp_packed_size(n, p0) + j * kc;   /* slices before, strips before */
                } else {
                    hp_pack_strip(kc, b + p0 * ldb + j, ldb, n - j, pack);
                    strip = pack;
                }
                for (i = 0; i < blocks; i += 6) {
                    for (u = 0; u < 6 && i + u < blocks; u++)
                        rows[u] = a + (i + u) * ar + p0 * ap;
                    hp_blocks(u, kc, rows, ap, strip, 16, c + i * ldc + j, ldc, n - j, p0 > 0);
                }
            }
        }
    }
    if (tail == 0)
        return;
    rows[0] = a + blocks * ar;                 /* the last one or two rows */
    rows[1] = a + (blocks + 1) * ar;
    c += blocks * ldc;
    if (tail == 1)
        for (j = 0; j < n; j += 64)
            hp_wide(1, 8, k, rows, ap, b + j, ldb, c + j, ldc, n - j);
    else
        for (j = 0; j < n; j += 32)
            hp_wide(2, 4, k, rows, ap, b + j, ldb, c + j, ldc, n - j);
}

/* C = A @ B, packing B itself where it pays (see the top of this file). */
HP_SGEMM_TARGET static void hp_sgemm(long m, long n, long k, const float* a, long ar, long ap,
                                     const float* b, long ldb, float* c, long ldc) {
    hp_sgemm_packed(m, n, k, a, ar, ap, b, ldb, (const float*) 0, c, ldc);
}

#else

static int hp_sgemm_available(void) { return 0; }
static long hp_packed_size(long n, long k) { (void) n; (void) k; return 0; }
static void hp_pack_b(long n, long k, const float* b, long ldb, float* packed) {
    (void) n; (void) k; (void) b; (void) ldb; (void) packed;
}
static void hp_sgemm_packed(long m, long n, long k, const float* a, long ar, long ap,
                            const float* b, long ldb, const float* packed, float* c,
                            long ldc) {
    (void) m; (void) n; (void) k; (void) a; (void) ar; (void) ap; (void) b; (void) ldb;
    (void) packed; (void) c; (void) ldc;
}
static void hp_sgemm(long m, long n, long k, const float* a, long ar, long ap,
                     const float* b, long ldb, float* c, long ldc) {
    (void) m; (void) n; (void) k; (void) a; (void) ar; (void) ap; (void) b; (void) ldb;
    (void) c; (void) ldc;
}

#endif
#endif
