/*
 * roofline.c - the fastest simulation we know of one model: the non-interacting lattice
 * gas on a periodic simple-cubic L x L x L lattice, nearest-neighbour hops, one barrier.
 *
 * A speed-of-light reference for kmc's general engine on the same machine: no network, no
 * sum tree, no rates. Each attempt picks a random ion and a random one of the 6 directions;
 * the hop is made if the target site is empty. Every ion attempts every direction at the
 * same rate Gamma, so simulated time advances by the fixed 1 / (6 N Gamma) per attempt
 * (the mean of the residence time; the physics of D is the same). Per ion it keeps what
 * kmc keeps: its site and its unwrapped displacement (in lattice units), so the tracer
 * diffusivity can be checked: D* = f (1 - c) Gamma a^2 with f(c) of the sc lattice gas.
 *
 * Large systems are bound by memory latency, so attempts are drawn PIPE ahead and the ion
 * record and the sites of each are prefetched (gcc/clang), as kmc's engine does; the order
 * of the random numbers, and so the trajectory, is that of the plain loop. Two variants,
 * chosen at compile time: TARGET_PREFETCH=1 (default) computes each pending attempt's
 * source and target sites half-way down a 32-deep pipe and prefetches both (the faster at
 * 10^6 sites and more, where a miss costs about 150 ns); TARGET_PREFETCH=0 prefetches only
 * the source site, 16 ahead (fewer instructions: the faster while everything is in cache).
 * bench_roofline.py runs both and keeps the faster at each size.
 *
 * Usage: roofline L occupancy hops [seed]
 * Prints one JSON object: sites, ions, attempts, hops (made), seconds (of the hop loop),
 * hops_per_s, bytes_per_site (of the arrays below), and the tracer <dr^2> / (6 t Gamma a^2)
 * (i.e. D* in units of Gamma a^2).
 *
 * Plain C99; the same RNG (xoshiro256**) as the engine. Build:
 *     cc -O2 -std=c99 -ffp-contract=off -I../../csrc roofline.c -o roofline
 *     cc -O2 -std=c99 -ffp-contract=off -DTARGET_PREFETCH=0 -I../../csrc roofline.c -o roofline0
 */
#if defined(__linux__)
#define _DEFAULT_SOURCE /* posix_memalign, madvise */
#else
#define _POSIX_C_SOURCE 200112L
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "kmc_rng.h"

typedef struct {
    uint16_t x, y, z, pad;   /* lattice coordinates */
    int32_t d[3];            /* unwrapped displacement, lattice units */
} ion_t;

#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(p) __builtin_prefetch(p)
#define PREFETCH_W(p) __builtin_prefetch(p, 1)
#else
#define PREFETCH(p) ((void)0)
#define PREFETCH_W(p) ((void)0)
#endif
#ifndef TARGET_PREFETCH
#define TARGET_PREFETCH 1
#endif
#if TARGET_PREFETCH
#define PIPE 32 /* attempts drawn ahead, a power of 2 */
#else
#define PIPE 16
#endif

/* Zeroed memory, in transparent huge pages where Linux offers them (as kmc's engine asks
 * for its large arrays): random access over large arrays otherwise misses the TLB too. */
static void *zalloc(size_t bytes)
{
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    const size_t page = (size_t)1 << 21, size = (bytes + page - 1) & ~(page - 1);
    void *p = NULL;
    if (posix_memalign(&p, page, size) != 0) return NULL;
    (void)madvise(p, size, MADV_HUGEPAGE);
    memset(p, 0, size);
    return p;
#else
    return calloc(bytes, 1);
#endif
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* uniform integer in [0, n) from the top 32 bits of a 64-bit draw (multiply-shift) */
static inline uint32_t below(uint64_t r, uint32_t n) { return (uint32_t)(((r >> 32) * (uint64_t)n) >> 32); }

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s L occupancy hops [seed]\n", argv[0]);
        return 2;
    }
    const long L = atol(argv[1]);
    const double c = atof(argv[2]);
    const unsigned long long want = strtoull(argv[3], NULL, 10);
    const uint64_t seed = argc > 4 ? strtoull(argv[4], NULL, 10) : 1;
    if (L < 2 || L > 65535 || !(c > 0.0 && c < 1.0) || want == 0) {
        fprintf(stderr, "roofline: bad arguments\n");
        return 2;
    }
    const int64_t n_sites = (int64_t)L * L * L;
    const int64_t n_ions = (int64_t)(c * (double)n_sites + 0.5);
    if (n_ions < 1 || n_ions >= n_sites || n_ions > 0xffffffffLL) {
        fprintf(stderr, "roofline: occupancy gives %lld ions\n", (long long)n_ions);
        return 2;
    }
    uint8_t *occ = zalloc((size_t)n_sites);
    ion_t *ion = zalloc((size_t)n_ions * sizeof(ion_t));
    if (!occ || !ion) {
        fprintf(stderr, "roofline: out of memory\n");
        return 1;
    }
    kmc_rng rng;
    kmc_rng_seed(&rng, seed);
    /* random placement: rejection on the occupancy array */
    for (int64_t k = 0; k < n_ions;) {
        const int64_t s = (int64_t)(kmc_rng_uniform(&rng) * (double)n_sites);
        if (occ[s]) continue;
        occ[s] = 1;
        ion[k].x = (uint16_t)(s % L);
        ion[k].y = (uint16_t)((s / L) % L);
        ion[k].z = (uint16_t)(s / (L * L));
        k++;
    }
    const uint16_t last = (uint16_t)(L - 1);
    unsigned long long attempts = 0, hops = 0;
    uint64_t ring[PIPE];
    for (int k = 0; k < PIPE; k++) {
        ring[k] = kmc_rng_next(&rng);
        PREFETCH_W(ion + below(ring[k], (uint32_t)n_ions));
    }
    const double t0 = now_s();
    while (hops < want) {
        const uint64_t r = ring[attempts & (PIPE - 1)];
        { /* the sites of the attempt half-way down the pipe */
            const uint64_t rm = ring[(attempts + PIPE / 2) & (PIPE - 1)];
            const ion_t *q = ion + below(rm, (uint32_t)n_ions);
#if TARGET_PREFETCH
            const uint32_t dm = (uint32_t)((((rm & 0xffffffffu) * 6u) >> 32));
            int64_t c[3];
            c[0] = q->x;
            c[1] = q->y;
            c[2] = q->z;
            PREFETCH_W(occ + c[0] + L * (c[1] + L * c[2]));
            c[dm >> 1] += (dm & 1) ? 1 : -1;
            c[dm >> 1] = c[dm >> 1] < 0 ? L - 1 : (c[dm >> 1] == L ? 0 : c[dm >> 1]);
            PREFETCH(occ + c[0] + L * (c[1] + L * c[2]));
#else
            PREFETCH(occ + (int64_t)q->x + L * ((int64_t)q->y + L * (int64_t)q->z));
#endif
        }
        ring[attempts & (PIPE - 1)] = kmc_rng_next(&rng); /* attempt attempts + PIPE */
        PREFETCH_W(ion + below(ring[attempts & (PIPE - 1)], (uint32_t)n_ions));
        ion_t *p = ion + below(r, (uint32_t)n_ions);
        const uint32_t dir = (uint32_t)((((r & 0xffffffffu) * 6u) >> 32));
        uint16_t x = p->x, y = p->y, z = p->z;
        int axis = (int)(dir >> 1);
        int step = (dir & 1) ? 1 : -1;
        switch (axis) {
        case 0: x = step > 0 ? (x == last ? 0 : x + 1) : (x == 0 ? last : x - 1); break;
        case 1: y = step > 0 ? (y == last ? 0 : y + 1) : (y == 0 ? last : y - 1); break;
        default: z = step > 0 ? (z == last ? 0 : z + 1) : (z == 0 ? last : z - 1); break;
        }
        attempts++;
        const int64_t to = (int64_t)x + L * ((int64_t)y + L * (int64_t)z);
        if (occ[to]) continue;
        occ[(int64_t)p->x + L * ((int64_t)p->y + L * (int64_t)p->z)] = 0;
        occ[to] = 1;
        p->x = x;
        p->y = y;
        p->z = z;
        p->d[axis] += step;
        hops++;
    }
    const double secs = now_s() - t0;
    /* time in units of 1 / Gamma: attempts / (6 N) */
    const double t_gamma = (double)attempts / (6.0 * (double)n_ions);
    double msd = 0.0;
    for (int64_t k = 0; k < n_ions; k++)
        msd += (double)ion[k].d[0] * ion[k].d[0] + (double)ion[k].d[1] * ion[k].d[1] +
               (double)ion[k].d[2] * ion[k].d[2];
    msd /= (double)n_ions;
    printf("{\"sites\": %lld, \"ions\": %lld, \"attempts\": %llu, \"hops\": %llu, "
           "\"seconds\": %.6f, \"hops_per_s\": %.1f, \"bytes_per_site\": %.2f, "
           "\"D_tracer_per_Gamma_a2\": %.6f}\n",
           (long long)n_sites, (long long)n_ions, attempts, hops, secs, (double)hops / secs,
           (double)(n_sites * 1 + n_ions * (int64_t)sizeof(ion_t)) / (double)n_sites,
           msd / (6.0 * t_gamma));
    free(occ);
    free(ion);
    return 0;
}
