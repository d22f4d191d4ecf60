/* kmc_intern.h - deduplication of records at creation (kmc_build.c only; private).
 *
 * A set of records (arrays of int64 words) with an open-addressing hash index; ids in order
 * of first sight. kmc_build.c interns hop classes, rate lists and site classes with it, so
 * that a periodic lattice's million sites share a few dozen records.
 */
#ifndef KMC_INTERN_H
#define KMC_INTERN_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t *w;       /* concatenated records */
    size_t nw, capw;
    size_t *start;    /* record r is w[start[r] .. start[r+1]) */
    int32_t n, cap;
    int32_t *slot;    /* open addressing: record id or -1 */
    size_t n_slots;   /* power of two */
} interner;

static uint64_t hash_words(const int64_t *rec, size_t len)
{
    uint64_t h = UINT64_C(0x9E3779B97F4A7C15) ^ (uint64_t)len;
    size_t i;
    for (i = 0; i < len; i++) {
        h ^= (uint64_t)rec[i];
        h *= UINT64_C(0xBF58476D1CE4E5B9);
        h ^= h >> 31;
    }
    h ^= h >> 29;
    h *= UINT64_C(0x94D049BB133111EB);
    return h ^ (h >> 32);
}

static void intern_free(interner *t)
{
    free(t->w);
    free(t->start);
    free(t->slot);
    memset(t, 0, sizeof(*t));
}

static int intern_init(interner *t)
{
    size_t i;
    memset(t, 0, sizeof(*t));
    t->capw = 256;
    t->cap = 64;
    t->n_slots = 128;
    t->w = (int64_t *)malloc(t->capw * sizeof(int64_t));
    t->start = (size_t *)malloc(((size_t)t->cap + 1) * sizeof(size_t));
    t->slot = (int32_t *)malloc(t->n_slots * sizeof(int32_t));
    if (!t->w || !t->start || !t->slot) {
        intern_free(t);
        return -1;
    }
    for (i = 0; i < t->n_slots; i++) t->slot[i] = -1;
    t->start[0] = 0;
    return 0;
}

static size_t intern_len(const interner *t, int32_t r) { return t->start[r + 1] - t->start[r]; }
static const int64_t *intern_rec(const interner *t, int32_t r) { return t->w + t->start[r]; }

/* Id of the record rec[0..len), added if new; -1 if out of memory. */
static int32_t intern(interner *t, const int64_t *rec, size_t len)
{
    size_t mask = t->n_slots - 1, i = (size_t)hash_words(rec, len) & mask;
    int32_t r;
    while ((r = t->slot[i]) >= 0) {
        if (intern_len(t, r) == len && memcmp(intern_rec(t, r), rec, len * sizeof(int64_t)) == 0) return r;
        i = (i + 1) & mask;
    }
    if (t->n == t->cap) {
        size_t *p = (size_t *)realloc(t->start, ((size_t)t->cap * 2 + 1) * sizeof(size_t));
        if (!p) return -1;
        t->start = p;
        t->cap *= 2;
    }
    if (t->nw + len > t->capw) {
        size_t cap = t->capw * 2 + len;
        int64_t *p = (int64_t *)realloc(t->w, cap * sizeof(int64_t));
        if (!p) return -1;
        t->w = p;
        t->capw = cap;
    }
    memcpy(t->w + t->nw, rec, len * sizeof(int64_t));
    t->nw += len;
    r = t->n++;
    t->start[t->n] = t->nw;
    t->slot[i] = r;
    if ((size_t)t->n * 2 > t->n_slots) { /* grow and rehash */
        size_t ns = t->n_slots * 2, q;
        int32_t *slot = (int32_t *)malloc(ns * sizeof(int32_t)), x;
        if (!slot) return -1;
        for (q = 0; q < ns; q++) slot[q] = -1;
        for (x = 0; x < t->n; x++) {
            q = (size_t)hash_words(intern_rec(t, x), intern_len(t, x)) & (ns - 1);
            while (slot[q] >= 0) q = (q + 1) & (ns - 1);
            slot[q] = x;
        }
        free(t->slot);
        t->slot = slot;
        t->n_slots = ns;
    }
    return r;
}

#endif /* KMC_INTERN_H */
