/*
 * treeprobe.c - what the engine's sum tree alone costs per step, by number of leaves.
 *
 * The tree solver's step selects a site through the sum tree (kmc_sumtree_select, from a
 * uniform number times the total, which the previous step's update has just changed) and
 * ends by updating the leaves of the sites whose rates changed (kmc_sumtree_update). On a
 * large system both walk lines no cache holds. This probe runs exactly the engine's tree
 * code (csrc/kmc_sumtree.c) with nothing else around it, so the figures are a floor for a
 * tree-solver step at that size: the rest of the step (rates, occupancy, the ion's record)
 * comes on top.
 *
 * The leaves: n of them, each nonzero with probability 0.6 (LGPS's Li occupancy at 600 K
 * is about 0.6) with a uniform value. Per step, one number u, x = u * total, the selected
 * leaf s; then, with d > 0, d leaves rewritten (one of them s) and the tree updated. The
 * others lie where a hop's neighbourhood lies in a network numbered cell by cell with b
 * sites per cell on an L x L x L box of cells (L = (n / b)^(1/3)): in s's cell or one of
 * its six neighbours (offsets 0, +-b, +-b L, +-b L^2, drawn uniformly) plus a uniform
 * offset in [-b/2, b/2]. LGPS has b = 32 and at 600 K rewrites 4.6 leaves per hop on
 * average, of 7.0 sites whose rates it evaluates again (the defaults: d = 5, b = 32). The offsets and the new values are drawn before the
 * clock starts (a table of 4096, cycled), so the steps time the tree and not the draws.
 * Each step's x depends on the total the step before left, as in the engine, so the
 * steps do not overlap.
 *
 *   select_ns  per step with d = 0 (the selection alone);
 *   step_ns    per step with the given d and b (selection and update).
 *
 * Usage: treeprobe n_leaves [steps [d [b]]]    (defaults: 2000000 steps, d = 5, b = 32)
 * Prints one JSON object. Build (bench_roofline.py --tree does):
 *     cc -O2 -std=c99 -I../../csrc treeprobe.c ../../csrc/kmc_sumtree.c -o treeprobe
 */
#if defined(__linux__)
#define _DEFAULT_SOURCE /* clock_gettime */
#else
#define _POSIX_C_SOURCE 200112L
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "kmc_rng.h"
#include "kmc_sumtree.h"

#define MAX_D 64
#define TABLE 4096 /* drawn offsets and values, cycled */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ns per step of `steps` steps: a selection, then (d > 0) d leaves rewritten, the first the
 * selected one and the others at the table's offsets from it, and the tree updated. */
static double run(kmc_sumtree *t, kmc_rng *r, long steps, int d, const int64_t *off,
                  const double *val, double *sink)
{
    double *leaf = kmc_sumtree_leaves(t);
    const int64_t n = t->n_leaves;
    int64_t dirty[MAX_D];
    double t0;
    long k, j = 0;
    int a;
    t0 = now_s();
    for (k = 0; k < steps; k++) {
        double x = kmc_rng_uniform(r) * kmc_sumtree_total(t);
        const int64_t s = kmc_sumtree_select(t, &x);
        *sink += x;
        for (a = 0; a < d; a++, j = (j + 1) & (TABLE - 1)) {
            int64_t q = a == 0 ? s : s + off[j];
            q += q < 0 ? n : q >= n ? -n : 0;
            leaf[q] = val[j];
            dirty[a] = q;
        }
        /* (a leaf listed twice is harmless: the update lists each parent once) */
        if (d > 0) kmc_sumtree_update(t, dirty, d);
        if (!(kmc_sumtree_total(t) > 0.0)) { /* (all zero: refill one leaf) */
            leaf[0] = 1.0;
            dirty[0] = 0;
            kmc_sumtree_update(t, dirty, 1);
        }
    }
    return (now_s() - t0) / (double)steps * 1e9;
}

int main(int argc, char **argv)
{
    long n, steps = 2000000, b = 32, L;
    int d = 5;
    kmc_sumtree t;
    kmc_rng r;
    double *leaf, sink = 0.0, sel, step, val[TABLE];
    int64_t i, off[TABLE], cell[7];
    if (argc < 2 || argc > 5) {
        fprintf(stderr, "usage: treeprobe n_leaves [steps [d [b]]]\n");
        return 2;
    }
    n = strtol(argv[1], NULL, 10);
    if (argc > 2) steps = strtol(argv[2], NULL, 10);
    if (argc > 3) d = (int)strtol(argv[3], NULL, 10);
    if (argc > 4) b = strtol(argv[4], NULL, 10);
    if (n < 1 || steps < 1 || d < 0 || d > MAX_D || b < 1) {
        fprintf(stderr, "treeprobe: need n_leaves >= 1, steps >= 1, 0 <= d <= %d, b >= 1\n", MAX_D);
        return 2;
    }
    for (L = 1; (L + 1) * (L + 1) * (L + 1) * b <= n; L++) continue;
    if (kmc_sumtree_init(&t, n) != 0) {
        fprintf(stderr, "treeprobe: out of memory for %ld leaves\n", n);
        return 1;
    }
    kmc_rng_seed(&r, 1);
    cell[0] = 0;
    cell[1] = b;
    cell[2] = -b;
    cell[3] = b * L;
    cell[4] = -b * L;
    cell[5] = b * L * L;
    cell[6] = -b * L * L;
    for (i = 0; i < TABLE; i++) { /* (kept within one box length of the site: |off| < n) */
        off[i] = (cell[kmc_rng_next(&r) % 7] + (int64_t)(kmc_rng_next(&r) % (uint64_t)(b + 1)) - b / 2) % n;
        val[i] = kmc_rng_uniform(&r) < 0.6 ? kmc_rng_uniform(&r) : 0.0;
    }
    leaf = kmc_sumtree_leaves(&t);
    for (i = 0; i < n; i++) leaf[i] = kmc_rng_uniform(&r) < 0.6 ? kmc_rng_uniform(&r) : 0.0;
    leaf[0] = 1.0;
    kmc_sumtree_rebuild(&t);
    (void)run(&t, &r, steps / 4 + 1, d, off, val, &sink); /* warm-up: the pages touched */
    sel = run(&t, &r, steps, 0, off, val, &sink);
    step = run(&t, &r, steps, d, off, val, &sink);
    printf("{\"n_leaves\": %ld, \"steps\": %ld, \"d\": %d, \"b\": %ld, \"tree_bytes\": %zu, "
           "\"select_ns\": %.1f, \"step_ns\": %.1f, \"sink\": %.3g}\n",
           n, steps, d, b, kmc_sumtree_bytes(n), sel, step, sink);
    kmc_sumtree_free(&t);
    return 0;
}
