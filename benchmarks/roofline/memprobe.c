/*
 * memprobe.c - what one random cache line costs on this machine, by working-set size.
 *
 * The lattice gas at 10^6-10^7 sites touches a few random cache lines per attempt (the
 * ion's record, its site, the target site), so its speed there is set by the memory
 * system, not by instructions. This probe measures the two numbers that matter, for
 * buffers from 32 kB to 256 MB (in transparent huge pages where Linux offers them, as
 * kmc's engine and the roofline ask for):
 *
 *   latency_ns     one dependent load after another (a random cyclic pointer chase over
 *                  the buffer's cache lines): the cost of a miss nothing overlaps;
 *   throughput_ns  independent random one-byte loads with 16 in flight (drawn ahead and
 *                  prefetched, as the engine's pipeline does), per load: the cost of a
 *                  random line when the pipeline hides the latency.
 *
 * Usage: memprobe [max_bytes]
 * Prints one JSON object per size. Build:
 *     cc -O2 -std=c99 memprobe.c -o memprobe
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

#define LINE 64
#define INFLIGHT 16 /* a power of 2 */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t splitmix(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void *buffer(size_t bytes)
{
    void *p = NULL;
    if (posix_memalign(&p, (size_t)1 << 21, bytes) != 0) return NULL;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    (void)madvise(p, bytes, MADV_HUGEPAGE);
#endif
    memset(p, 1, bytes);
    return p;
}

/* ns per load of a random cyclic chase through every line of the buffer */
static double latency_ns(size_t bytes)
{
    const size_t n = bytes / LINE, stride = LINE / sizeof(size_t);
    size_t *b = buffer(n * LINE), *order = malloc(n * sizeof(size_t));
    size_t i, p = 0;
    long k, loads = 4000000;
    double t0, t;
    if (!b || !order) return -1.0;
    for (i = 0; i < n; i++) order[i] = i;
    for (i = n - 1; i > 0; i--) { /* Fisher-Yates */
        const size_t j = (size_t)(splitmix() % (i + 1)), x = order[i];
        order[i] = order[j];
        order[j] = x;
    }
    for (i = 0; i < n; i++) b[order[i] * stride] = order[(i + 1) % n] * stride;
    for (i = 0; i < n; i++) p = b[p]; /* warm */
    t0 = now_s();
    for (k = 0; k < loads; k++) p = b[p];
    t = now_s() - t0;
    free(order);
    free(b);
    return p == (size_t)-1 ? -1.0 : 1e9 * t / (double)loads;
}

/* ns per independent random byte load, INFLIGHT drawn ahead and prefetched */
static double throughput_ns(size_t bytes)
{
    uint8_t *b = buffer(bytes);
    size_t pending[INFLIGHT];
    uint64_t acc = 0;
    long k, loads = 40000000;
    double t0, t;
    if (!b) return -1.0;
    for (k = 0; k < INFLIGHT; k++) pending[k] = (size_t)(splitmix() % bytes);
    t0 = now_s();
    for (k = 0; k < loads; k++) {
        const size_t next = (size_t)(splitmix() % bytes);
        acc += b[pending[k & (INFLIGHT - 1)]];
        pending[k & (INFLIGHT - 1)] = next;
#if defined(__GNUC__) || defined(__clang__)
        __builtin_prefetch(b + next);
#endif
    }
    t = now_s() - t0;
    free(b);
    return acc == 0 ? -1.0 : 1e9 * t / (double)loads;
}

int main(int argc, char **argv)
{
    const size_t max_bytes = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : ((size_t)256 << 20);
    size_t bytes;
    for (bytes = (size_t)32 << 10; bytes <= max_bytes; bytes *= 2)
        printf("{\"bytes\": %zu, \"latency_ns\": %.1f, \"throughput_ns\": %.2f}\n", bytes,
               latency_ns(bytes), throughput_ns(bytes));
    return 0;
}
