/* numpy.random.PCG64's generator stepped here, four words at a time.

   PCG64 is a 128-bit linear congruential generator, state = state * MUL + inc
   (mod 2^128), whose output after each step is the XSL-RR permutation of the
   new state: the two 64-bit halves xor-ed, rotated right by the top 6 bits.
   Stepping it through numpy's function pointer costs a call per word and waits
   for each 128-bit multiply in turn (about 2 ns a word here). Words i, i+1,
   i+2, i+3 come from four chains instead, each stepping four words at a time
   (MUL^4 and the matching increment), so four multiplies are in flight at
   once: the same words, bit for bit, in about 1.4 ns each.

   The state lives in numpy's own struct (numpy >= 1.17 on compilers with a
   128-bit integer: the generator's state and increment, 128 bits each, behind
   the bit generator's state pointer), read and written back here, so numpy's
   object is never out of step. That layout is not numpy's public API:
   hpframe._core.dropout checks it when it is imported - this code must give
   numpy's own next words and leave numpy's state where numpy leaves it -
   and where it does not (or without a 128-bit integer), masks draw through
   numpy's function pointer as before. */
#ifndef HPFRAME_PCG64_H
#define HPFRAME_PCG64_H
#include <stdint.h>

#if defined(__SIZEOF_INT128__)
#define HP_PCG64_DIRECT 1
typedef unsigned __int128 hp_u128;

typedef struct { hp_u128 state, inc; } hp_pcg64_core;           /* numpy's pcg64_random_t */
typedef struct { hp_pcg64_core* core; int has_uint32; uint32_t uinteger; } hp_pcg64_state;

static inline hp_u128 hp_pcg64_mul(void) {        /* PCG's 128-bit default multiplier */
    return ((hp_u128) 2549297995355413924ULL << 64) | 4865540595714422341ULL;
}

static inline uint64_t hp_pcg64_output(hp_u128 s) {
    uint64_t x = (uint64_t) (s >> 64) ^ (uint64_t) s;
    unsigned r = (unsigned) (s >> 122);
    return (x >> r) | (x << ((64 - r) & 63));
}

/* words[0:n] = the generator's next n words; its state moves on by n steps */
static inline void hp_pcg64_fill(void* numpy_state, uint64_t* words, long n) {
    hp_pcg64_core* g = ((hp_pcg64_state*) numpy_state)->core;
    const hp_u128 mul = hp_pcg64_mul(), inc = g->inc;
    const hp_u128 mul2 = mul * mul, mul4 = mul2 * mul2;
    const hp_u128 inc4 = inc * (1 + mul) * (1 + mul2);   /* inc (1 + m + m^2 + m^3) */
    hp_u128 s = g->state, a, b, c, d;
    long i = 0;
    if (n >= 4) {
        a = s * mul + inc;
        b = a * mul + inc;
        c = b * mul + inc;
        d = c * mul + inc;
        for (;;) {
            words[i] = hp_pcg64_output(a);
            words[i + 1] = hp_pcg64_output(b);
            words[i + 2] = hp_pcg64_output(c);
            words[i + 3] = hp_pcg64_output(d);
            s = d;
            i += 4;
            if (i + 4 > n)
                break;
            a = a * mul4 + inc4;
            b = b * mul4 + inc4;
            c = c * mul4 + inc4;
            d = d * mul4 + inc4;
        }
    }
    for (; i < n; i++) {
        s = s * mul + inc;
        words[i] = hp_pcg64_output(s);
    }
    g->state = s;
}
#else
#define HP_PCG64_DIRECT 0
static inline void hp_pcg64_fill(void* numpy_state, uint64_t* words, long n) {
    (void) numpy_state; (void) words; (void) n;       /* never called: direct is 0 */
}
#endif
#endif
