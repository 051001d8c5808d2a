/* Whether n floats (or doubles) are all finite: the Python boundary's check of
   X (hpframe._validation.all_finite, through finite.pyx), and the network's
   check of a prediction's first sums (finite.pxd's all_finite_n).

   finite.pyx is compiled for any x86-64 (SSE2), where this loop takes 4 floats
   at a time; on a CPU with AVX2 the same test runs 8 at a time with four
   independent accumulators (the digits' 1797 x 64 float32, in cache: 11 us ->
   4.5 us). The test of one value: |x| <= the largest finite value, an ordered
   comparison, false for NaN and for both infinities. No early exit: the
   common answer is True, and the loop is bound by memory for big arrays. */
#ifndef HPFRAME_FINITE_H
#define HPFRAME_FINITE_H

#include <float.h>
#include <math.h>

/* The plain loop, for float and double. No early exit: without the branch the
   loop vectorises (a 784-wide row: 0.1 us instead of 0.3; NaN is rare).
   isfinite is exact here: setup.py never builds with -ffinite-math-only (nor
   -ffast-math), which would let the compiler drop it. */
#define HP_FINITE_PLAIN(NAME, T)                                                           \
    static int NAME(const T* x, long n) {                                                  \
        int ok = 1;                                                                        \
        long i;                                                                            \
        for (i = 0; i < n; i++)                                                            \
            ok &= isfinite(x[i]) != 0;                                                     \
        return ok;                                                                         \
    }

HP_FINITE_PLAIN(hp_finite_f32_plain, float)
HP_FINITE_PLAIN(hp_finite_f64_plain, double)

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#include <immintrin.h>

#define HP_FINITE_TARGET __attribute__((target("avx2")))

/* The AVX2 loop, for float (ps: 8 lanes) and double (pd: 4): four accumulators
   whose lanes stay all ones while every number is finite, then the rest of
   the array (fewer than 4 vectors) by the plain loop. */
#define HP_FINITE_AVX2(NAME, T, VEC, SFX, LANES, MOST, MAGNITUDE, ONES, ALL, PLAIN)        \
    HP_FINITE_TARGET static int NAME(const T* x, long n) {                                \
        const VEC most = _mm256_set1_##SFX(MOST), magnitude = MAGNITUDE;                  \
        VEC ok[4];                                                                         \
        long i = 0, v;                                                                     \
        for (v = 0; v < 4; v++)                                                            \
            ok[v] = ONES;                                                                  \
        for (; i + 4 * LANES <= n; i += 4 * LANES)                                         \
            for (v = 0; v < 4; v++)                                                        \
                ok[v] = _mm256_and_##SFX(ok[v], _mm256_cmp_##SFX(                          \
                    _mm256_and_##SFX(_mm256_loadu_##SFX(x + i + v * LANES), magnitude),    \
                    most, _CMP_LE_OQ));                                                    \
        ok[0] = _mm256_and_##SFX(_mm256_and_##SFX(ok[0], ok[1]),                           \
                                 _mm256_and_##SFX(ok[2], ok[3]));                          \
        return _mm256_movemask_##SFX(ok[0]) == ALL && PLAIN(x + i, n - i);                 \
    }

HP_FINITE_AVX2(hp_finite_f32_avx2, float, __m256, ps, 8, FLT_MAX,
               _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)),
               _mm256_castsi256_ps(_mm256_set1_epi32(-1)), 0xff, hp_finite_f32_plain)
HP_FINITE_AVX2(hp_finite_f64_avx2, double, __m256d, pd, 4, DBL_MAX,
               _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffffLL)),
               _mm256_castsi256_pd(_mm256_set1_epi64x(-1)), 0xf, hp_finite_f64_plain)

static int hp_finite_avx2(void) {
    static int known = -1;
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx2") ? 1 : 0;
    }
    return known;
}

static int hp_all_finite_f32(const float* x, long n) {
    return hp_finite_avx2() ? hp_finite_f32_avx2(x, n) : hp_finite_f32_plain(x, n);
}

static int hp_all_finite_f64(const double* x, long n) {
    return hp_finite_avx2() ? hp_finite_f64_avx2(x, n) : hp_finite_f64_plain(x, n);
}

#else

static int hp_all_finite_f32(const float* x, long n) { return hp_finite_f32_plain(x, n); }
static int hp_all_finite_f64(const double* x, long n) { return hp_finite_f64_plain(x, n); }

#endif
#endif
