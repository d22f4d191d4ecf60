/* kmc_sumtree.c - d-ary sum tree, see kmc_sumtree.h. */
#if defined(__linux__) && !defined(_DEFAULT_SOURCE)
#define _DEFAULT_SOURCE /* posix_memalign and madvise (Linux only) */
#endif
#include "kmc_sumtree.h"

#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

/* A tree of at least this many bytes is asked for in transparent huge pages (Linux): a
 * selection and an update touch one node per level, scattered over the large levels, and
 * with 4 KiB pages most of those touches also miss the TLB. */
#define HUGE_PAGE ((size_t)1 << 21)

#define A KMC_TREE_ARITY

static int64_t round_up(int64_t n, int64_t m) { return (n + m - 1) / m * m; }

/* Level sizes for n leaves; returns the number of levels and total doubles. */
static int plan(int64_t n_leaves, int64_t *offset, int64_t *size, int64_t *total)
{
    int levels = 0;
    int64_t n = n_leaves, off = 0;
    for (;;) {
        int64_t padded = (n == 1) ? 1 : round_up(n, A);
        offset[levels] = off;
        size[levels] = padded;
        off += round_up(padded, A); /* keep every level 64-byte aligned */
        levels++;
        if (n == 1 || levels == KMC_TREE_MAX_LEVELS) break;
        n = padded / A;
    }
    *total = off;
    return levels;
}

KMC_SUMTREE_FN size_t kmc_sumtree_bytes(int64_t n_leaves)
{
    int64_t offset[KMC_TREE_MAX_LEVELS], size[KMC_TREE_MAX_LEVELS], total;
    plan(n_leaves, offset, size, &total);
    return (size_t)total * sizeof(double) + 64;
}

KMC_SUMTREE_FN int kmc_sumtree_init(kmc_sumtree *t, int64_t n_leaves)
{
    int64_t total;
    uintptr_t p;
    memset(t, 0, sizeof(*t));
    if (n_leaves < 1) return -1;
    t->n_leaves = n_leaves;
    t->n_levels = plan(n_leaves, t->offset, t->size, &total);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if ((size_t)total * sizeof(double) >= HUGE_PAGE) {
        const size_t bytes = ((size_t)total * sizeof(double) + 64 + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
        void *raw = NULL;
        if (posix_memalign(&raw, HUGE_PAGE, bytes) != 0) return -1;
        (void)madvise(raw, bytes, MADV_HUGEPAGE); /* a hint: failure changes nothing */
        memset(raw, 0, bytes);
        t->raw = raw;
    } else
#endif
        t->raw = calloc((size_t)total * sizeof(double) + 64, 1);
    if (!t->raw) return -1;
    p = ((uintptr_t)t->raw + 63) & ~(uintptr_t)63;
    t->data = (double *)p;
    return 0;
}

KMC_SUMTREE_FN void kmc_sumtree_free(kmc_sumtree *t)
{
    free(t->raw);
    t->raw = NULL;
    t->data = NULL;
}

/* Sum of the A children of a node, pairwise in a fixed order (short dependency chain). */
static inline double child_sum(const double *c)
{
#if KMC_TREE_ARITY == 8
    return ((c[0] + c[1]) + (c[2] + c[3])) + ((c[4] + c[5]) + (c[6] + c[7]));
#elif KMC_TREE_ARITY == 4
    return (c[0] + c[1]) + (c[2] + c[3]);
#elif KMC_TREE_ARITY == 2
    return c[0] + c[1];
#else
    double s = c[0];
    int k;
    for (k = 1; k < A; k++) s += c[k];
    return s;
#endif
}

KMC_SUMTREE_FN double kmc_sumtree_child_sum(const double *c) { return child_sum(c); }

KMC_SUMTREE_FN void kmc_sumtree_rebuild(kmc_sumtree *t)
{
    int l;
    int64_t k;
    for (l = 1; l < t->n_levels; l++) {
        const double *below = t->data + t->offset[l - 1];
        double *here = t->data + t->offset[l];
        int64_t n = t->size[l - 1] / A;
        for (k = 0; k < n; k++) here[k] = child_sum(below + A * k);
    }
}

KMC_SUMTREE_FN void kmc_sumtree_update(kmc_sumtree *t, int64_t *idx, int n)
{
    int l, a, m;
    /* Level by level: list every parent of the dirty nodes once, then recompute the
     * listed parents from their children. A parent is listed the first time it is met
     * and marked by a negative value (every node is >= 0), so repeats are dropped
     * without sorting or searching; the recomputation overwrites the mark. */
    for (l = 1; l < t->n_levels && n > 0; l++) {
        const double *below = t->data + t->offset[l - 1];
        double *here = t->data + t->offset[l];
        m = 0;
        for (a = 0; a < n; a++) {
            const int64_t p = (int64_t)((uint64_t)idx[a] / A);
            const int fresh = !(here[p] < 0.0);
            idx[m] = p; /* m <= a: overwrites an entry already read */
            m += fresh;
            here[p] = -1.0;
        }
        for (a = 0; a < m; a++) here[idx[a]] = child_sum(below + A * idx[a]);
        n = m;
    }
}

KMC_SUMTREE_FN int64_t kmc_sumtree_select(const kmc_sumtree *t, double *x)
{
    int l, c;
    int64_t k = 0;
    double r = *x;
    if (!(kmc_sumtree_total(t) > 0.0)) return -1;
    for (l = t->n_levels - 2; l >= 0; l--) {
        const double *child = t->data + t->offset[l] + A * k;
        int last = -1;
        for (c = 0; c < A; c++) {
            double w = child[c];
            if (w > 0.0) {
                if (r < w) break;
                r -= w;
                last = c;
            }
        }
        if (c == A) { /* rounding pushed r past the end: take the last non-empty child */
            c = last;
            r = child[c] * 0.5;
        }
        k = A * k + c;
    }
    *x = r;
    return k;
}

#undef A /* kmc_unity.c: not for the files after this one */
