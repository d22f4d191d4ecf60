/*
 * kmc_rng.h - xoshiro256** pseudo-random generator (Blackman & Vigna, 2018),
 * seeded by splitmix64 from one explicit 64-bit seed.
 *
 * Header-only, 64-bit integer arithmetic only, four words of state, no globals.
 * The state (s[0..3]) is part of an engine checkpoint.
 */
#ifndef KMC_RNG_H
#define KMC_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
} kmc_rng;

static inline uint64_t kmc_rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* splitmix64 step: advances *x and returns the next output. */
static inline uint64_t kmc_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* Seed the four state words from one 64-bit seed (never all zero). */
static inline void kmc_rng_seed(kmc_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    int i;
    for (i = 0; i < 4; i++) r->s[i] = kmc_splitmix64(&x);
}

/* Next 64-bit output of xoshiro256**. */
static inline uint64_t kmc_rng_next(kmc_rng *r)
{
    uint64_t *s = r->s;
    const uint64_t result = kmc_rotl64(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = kmc_rotl64(s[3], 45);
    return result;
}

/* Uniform double in [0, 1) with 53 random bits. */
static inline double kmc_rng_uniform(kmc_rng *r)
{
    return (double)(kmc_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

#endif /* KMC_RNG_H */
