/*
 * kmc_sumtree.h - d-ary sum tree over non-negative leaf weights (event rates).
 *
 * Leaves are the per-site rate sums. Every inner node is the sum of its
 * KMC_TREE_ARITY children, always recomputed from the children in a fixed order
 * (never updated by adding deltas), so the tree is a deterministic function of
 * the leaves: rebuilding it from restored leaves gives the same bits, which makes
 * checkpoint/restart bit-identical. Selection and update cost O(log N).
 *
 * Layout: all levels in one 64-byte aligned array, leaves first; each level is
 * padded with zeros to a multiple of the arity, so the children of node k at
 * level l+1 are the contiguous entries arity*k .. arity*k + arity-1 of level l
 * (one cache line for arity 8).
 */
#ifndef KMC_SUMTREE_H
#define KMC_SUMTREE_H

#include <stddef.h>
#include <stdint.h>

#ifndef KMC_TREE_ARITY
#define KMC_TREE_ARITY 8
#endif
/* The functions' linkage: static in the engine's unity build (kmc_engine_impl.h sets it),
 * so that the solvers' calls inline; external otherwise. */
#ifndef KMC_SUMTREE_FN
#define KMC_SUMTREE_FN
#endif
#define KMC_TREE_MAX_LEVELS 40

typedef struct {
    int64_t n_leaves;
    int n_levels;                          /* including the leaf level and the root */
    int64_t offset[KMC_TREE_MAX_LEVELS];   /* start of each level in data */
    int64_t size[KMC_TREE_MAX_LEVELS];     /* padded size of each level */
    double *data;                          /* aligned view into raw */
    void *raw;
} kmc_sumtree;

/* Allocate a tree for n_leaves >= 1 leaves, all zero. Returns 0 or -1 (out of memory). */
KMC_SUMTREE_FN int kmc_sumtree_init(kmc_sumtree *t, int64_t n_leaves);

/* Release memory; safe on a zeroed or already freed tree. */
KMC_SUMTREE_FN void kmc_sumtree_free(kmc_sumtree *t);

/* Bytes the tree for n_leaves would allocate. */
KMC_SUMTREE_FN size_t kmc_sumtree_bytes(int64_t n_leaves);

/* Pointer to the n_leaves leaf weights (write them, then rebuild or update). */
static inline double *kmc_sumtree_leaves(kmc_sumtree *t) { return t->data; }

/* Sum of all leaves (the root). */
static inline double kmc_sumtree_total(const kmc_sumtree *t)
{
    return t->data[t->offset[t->n_levels - 1]];
}

/* Sum of the KMC_TREE_ARITY values at c, in the order the tree uses. */
KMC_SUMTREE_FN double kmc_sumtree_child_sum(const double *c);

/* Recompute every inner node from the leaves. */
KMC_SUMTREE_FN void kmc_sumtree_rebuild(kmc_sumtree *t);

/*
 * Recompute the ancestors of the n given leaves (whose values the caller has
 * already written). `leaves` is overwritten (used as scratch for the parent lists).
 */
KMC_SUMTREE_FN void kmc_sumtree_update(kmc_sumtree *t, int64_t *leaves, int n);

/*
 * Select the leaf in whose cumulative interval x falls, 0 <= x < total.
 * On return *x holds the remainder within that leaf (0 <= *x < leaf weight,
 * up to rounding). Never returns a leaf of weight 0 while total > 0; returns -1
 * if the total is 0.
 */
KMC_SUMTREE_FN int64_t kmc_sumtree_select(const kmc_sumtree *t, double *x);

#endif /* KMC_SUMTREE_H */
