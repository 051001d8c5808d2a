/* hpframe's float32 exp: plain arithmetic, so loops that call it vectorise.

   exp(x) = 2^n * e^r with n = round(x / ln 2) and r = x - n ln 2, |r| <= ln(2)/2:
   - n is rounded by adding 1.5 * 2^23 (the float then holds n in its low bits:
     no float-to-int conversion, so a NaN stays a NaN without undefined behaviour);
   - n ln 2 is subtracted in two parts, LN2_HI with its last 12 bits zero (so
     n * LN2_HI is exact for |n| <= 150) and LN2_LO, the rest;
   - e^r = 1 + r + r^2 q(r), q of degree 4 fitted to (e^r - 1 - r) / r^2 for the
     least relative error (3.3e-9 in exact arithmetic, below float32's 6e-8);
   - 2^n is applied as two factors 2^(n/2) and 2^(n - n/2), each a normal float,
     so results between 2^-149 and 2^-126 are rounded once into the subnormals.
   Below -150 ln 2 the result is 0, above 89 it is +inf, as exp's (x is
   clamped to 89); a NaN passes every test (every comparison with it is false).
   Every operation is a separate multiply or add (hpframe builds without FMA
   contraction), so every build computes the same bits. Largest error over every
   float32 in [-104, 89]: see tests/test_kernels.py. */
#ifndef HPFRAME_FEXP_H
#define HPFRAME_FEXP_H
#include <stdint.h>
#include <string.h>

static inline float hp_bits_to_float(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static inline uint32_t hp_float_to_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

static inline float hp_expf(float x) {
    const float SHIFT = 12582912.0f;                 /* 1.5 * 2^23 */
    const float LOG2E = 1.44269504088896341f;
    const float LN2_HI = 0x1.62e4p-1f;               /* ln 2, its last 12 bits zero */
    const float LN2_LO = 0x1.7f7d1cp-20f;            /* ln 2 - LN2_HI */
    /* below -150 ln 2 the result rounds to 0: computed from x = 0 and then
       replaced, as arithmetic that underflows is slow on many CPUs */
    int zero = x < -0x1.9fe368p6f;
    x = 89.0f < x ? 89.0f : x;
    x = zero ? 0.0f : x;
    float t = x * LOG2E + SHIFT;
    float n = t - SHIFT;
    int32_t k = (int32_t)(hp_float_to_bits(t) - hp_float_to_bits(SHIFT));
    float r = (x - n * LN2_HI) - n * LN2_LO;
    float q = 0x1.6a1a72p-10f;
    q = q * r + 0x1.123fc6p-7f;
    q = q * r + 0x1.555916p-5f;
    q = q * r + 0x1.55548ap-3f;
    q = q * r + 0x1.fffffcp-2f;
    float p = 1.0f + (r + (r * r) * q);
    int32_t k1 = k >> 1, k2 = k - k1;
    float s1 = hp_bits_to_float((uint32_t)(k1 + 127) << 23);
    float s2 = hp_bits_to_float((uint32_t)(k2 + 127) << 23);
    return zero ? 0.0f : (p * s1) * s2;
}
#endif
