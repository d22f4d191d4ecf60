/* kmc_count.c - solver "count": rejection-free steps through integer count trees
 * (KMC_MODE_COUNT; no interactions, no events, at most KMC_MAX_RCLASS distinct rates).
 *
 * Per rate class v an 8-ary tree over the sites counts the allowed hops of rate
 * rc_rate[v] (exact integers, updated by +-1 along the paths). A step draws the residence
 * time at R = sum_v rc_rate[v] N_v, picks a class by its weight, one of its N_v hops
 * uniformly by descending the class's tree, and moves the ion. The rate classes (which
 * class each class hop and its reverse have) are found at creation (kmc_build.c), since
 * they are part of the site classes. Data: e->cnt and the core's site records.
 */
#include "kmc_engine_impl.h"

#define CA 8 /* arity of the count trees */

/* Look-ahead prefetching (count_execute) on a large system (e->prefetch) with at most this
 * many vacancies: the next hop
 * is then into the vacancy just made with probability about 1 / (number of vacancies). */
#define KMC_COUNT_LOOKAHEAD_VACANCIES 4

/* Number of allowed hops of each rate class of the occupied site st (added to cnt). */
static inline void count_site(const kmc_engine *e, const kmc_site *st, uint32_t *cnt)
{
    const uint8_t *hv = e->cnt.chv + e->cls[st->cls].hop;
    uint64_t allowed = ~st->mask;
    while (allowed) {
        const int v = hv[ctz64(allowed)];
        if (v != KMC_NO_RC) cnt[v]++;
        allowed &= allowed - 1;
    }
}

/* Add d to the count of rate class v at site s and to every ancestor (exact integers). */
static inline void count_add(kmc_engine *e, int v, int32_t s, int32_t d)
{
    uint32_t *const *lvl = e->cnt.clvl[v];
    uint8_t *leaf = e->cnt.cleaf + (size_t)v * e->cnt.cn_leaf + s;
    const int n_levels = e->cnt.c_levels;
    size_t p = (size_t)s;
    int l;
    *leaf = (uint8_t)(*leaf + d);
    for (l = 1; l < n_levels; l++) {
        p /= CA;
        lvl[l][p] += (uint32_t)d;
    }
}

/* R_total and the class weights from the class totals (the roots), in a fixed order. */
static inline void count_total(kmc_engine *e)
{
    const int64_t root = e->cnt.coff[e->cnt.c_levels - 1];
    double R = 0.0;
    int v;
    for (v = 0; v < e->cnt.n_rc; v++) {
        e->cnt.rc_w[v] = e->cnt.rc_rate[v] * (double)e->cnt.cnode[(size_t)v * e->cnt.cn_inner + (size_t)root];
        R += e->cnt.rc_w[v];
    }
    e->cnt.R = R;
}

/* Masks and every count from the ions' sites. */
static void count_rebuild(kmc_engine *e)
{
    kmc_count_data *c = &e->cnt;
    int32_t s;
    int v, l;
    int64_t k;
    uint32_t cnt[KMC_MAX_RCLASS];
    occupy_sites(e);
    for (s = 0; s < e->n_sites; s++) e->site[s].mask = site_mask(e, s);
    memset(c->cleaf, 0, (size_t)c->n_rc * c->cn_leaf);
    for (s = 0; s < e->n_sites; s++) {
        if (e->site[s].ion < 0) continue;
        memset(cnt, 0, sizeof(cnt));
        count_site(e, e->site + s, cnt);
        for (v = 0; v < c->n_rc; v++) c->cleaf[(size_t)v * c->cn_leaf + (size_t)s] = (uint8_t)cnt[v];
    }
    for (v = 0; v < c->n_rc; v++) {
        const uint8_t *leaf = c->cleaf + (size_t)v * c->cn_leaf;
        uint32_t *node = c->cnode + (size_t)v * c->cn_inner;
        memset(node, 0, c->cn_inner * sizeof(uint32_t));
        for (k = 0; k < (int64_t)c->cn_leaf; k++) node[c->coff[1] + k / CA] += leaf[k];
        for (l = 2; l < c->c_levels; l++)
            for (k = 0; k < c->csize[l - 1]; k++) node[c->coff[l] + k / CA] += node[c->coff[l - 1] + k];
    }
    count_total(e);
}

/* Allocate the count trees (levels padded to multiples of CA, as the sum tree). */
static int count_init(kmc_engine *e)
{
    kmc_count_data *c = &e->cnt;
    int64_t nl = e->n_sites, off = 0;
    int L = 0, fail = 0, v, l;
    for (;;) {
        const int64_t padded = (nl == 1 && L > 0) ? 1 : (nl + CA - 1) / CA * CA;
        c->csize[L] = padded;
        if (L == 0) {
            c->cn_leaf = (size_t)padded;
        } else {
            c->coff[L] = off;
            off += padded;
        }
        L++;
        if ((nl == 1 && L > 1) || L == KMC_TREE_MAX_LEVELS) break;
        nl = padded / CA;
    }
    c->c_levels = L;
    c->cn_inner = (size_t)off;
    c->cleaf = (uint8_t *)xalloc(e, (size_t)c->n_rc * c->cn_leaf, 1, &fail);
    c->cnode = (uint32_t *)xalloc(e, (size_t)c->n_rc * c->cn_inner, sizeof(uint32_t), &fail);
    if (fail) return -1;
    for (v = 0; v < c->n_rc; v++)
        for (l = 1; l < L; l++) c->clvl[v][l] = c->cnode + (size_t)v * c->cn_inner + (size_t)c->coff[l];
    return 0;
}

/* The hop move with count updates instead of rate sums. */
static inline void count_execute(kmc_engine *e, int32_t i, int k)
{
    kmc_site *site = e->site;
    const kmc_class *ci = e->cls + site[i].cls;
    const kmc_chop *hi = e->chop + ci->hop;
    const uint8_t *rvi = e->cnt.crv + ci->hop;
    const int32_t j = i + hi[k].doff, ion = site[i].ion, hcl = e->chc[ci->hop + k];
    const kmc_class *cj = e->cls + site[j].cls;
    const kmc_chop *hj = e->chop + cj->hop;
    const uint8_t *rvj = e->cnt.crv + cj->hop;
    const int32_t di = ci->deg, dj = cj->deg;
    int32_t a, x;
    int c;
    uint32_t cnt[KMC_MAX_RCLASS];

    /* start the (for large systems) cache misses of the neighbourhood together */
    for (a = 0; a < di; a++) KMC_PREFETCH_W(e->cnt.cleaf + i + hi[a].doff);
    for (a = 0; a < dj; a++) {
        KMC_PREFETCH_W(site + j + hj[a].doff);
        KMC_PREFETCH_W(e->cnt.cleaf + j + hj[a].doff);
    }
    move_ion(e, i, j, ion, hcl);

    /* i emptied, j filled: flip their bit in every neighbour's mask; a neighbour x of i
     * gains its hop x -> i, a neighbour of j loses its hop to j */
    for (a = 0; a < di; a++) {
        x = i + hi[a].doff;
        site[x].mask &= ~((uint64_t)1 << hi[a].rev);
        if (x != j && site[x].ion >= 0 && rvi[a] != KMC_NO_RC) count_add(e, rvi[a], x, 1);
    }
    for (a = 0; a < dj; a++) {
        x = j + hj[a].doff;
        site[x].mask |= (uint64_t)1 << hj[a].rev;
        if (x != i && site[x].ion >= 0 && rvj[a] != KMC_NO_RC) count_add(e, rvj[a], x, -1);
    }
    /* i has no hops any more; j has its allowed ones */
    for (c = 0; c < e->cnt.n_rc; c++) {
        const uint8_t old = e->cnt.cleaf[(size_t)c * e->cnt.cn_leaf + (size_t)i];
        if (old) count_add(e, c, i, -(int32_t)old);
        cnt[c] = 0;
    }
    count_site(e, site + j, cnt);
    for (c = 0; c < e->cnt.n_rc; c++)
        if (cnt[c]) count_add(e, c, j, (int32_t)cnt[c]);
    count_total(e);
    /* With few vacancies the next hop is most likely into the vacancy just made at i, by
     * one of its neighbours x: start the misses of that move now, one step ahead (x's
     * record is in cache from the mask update above; its neighbours' records and leaves
     * and its ion's record are not). Prefetches change nothing but timing. */
    if (e->prefetch && e->n_sites - e->n_ions <= KMC_COUNT_LOOKAHEAD_VACANCIES) {
        for (a = 0; a < di; a++) {
            const int32_t xs = i + hi[a].doff;
            const kmc_class *cx = e->cls + site[xs].cls;
            const kmc_chop *hx = e->chop + cx->hop;
            int32_t b;
            if (site[xs].ion < 0) continue;
            KMC_PREFETCH_W(e->ions + site[xs].ion);
            for (b = 0; b < cx->deg; b++) {
                KMC_PREFETCH_W(site + xs + hx[b].doff);
                KMC_PREFETCH_W(e->cnt.cleaf + xs + hx[b].doff);
            }
        }
    }
}

/* The site holding allowed hop number idx (< N_v) of rate class v; *idx becomes the number
 * within that site. -1 if the counts are inconsistent. */
static inline int32_t count_select(const kmc_engine *e, int v, uint32_t *idx)
{
    const uint32_t *node = e->cnt.cnode + (size_t)v * e->cnt.cn_inner;
    const uint8_t *leaf = e->cnt.cleaf + (size_t)v * e->cnt.cn_leaf;
    uint32_t r = *idx;
    int64_t k = 0;
    int l, c;
    for (l = e->cnt.c_levels - 2; l >= 1; l--) {
        const uint32_t *ch = node + e->cnt.coff[l] + CA * k;
        for (c = 0; c < CA - 1 && r >= ch[c]; c++) r -= ch[c];
        k = CA * k + c;
    }
    {
        const uint8_t *ch = leaf + CA * k;
        for (c = 0; c < CA - 1 && r >= ch[c]; c++) r -= ch[c];
        if (r >= ch[c]) return -1;
        k = CA * k + c;
    }
    *idx = r;
    return (int32_t)k;
}

static int count_run(kmc_engine *e, uint64_t max_steps, double t_stop, uint64_t *steps_done, int *reason)
{
    uint64_t done = 0;
    int why = KMC_STOP_STEPS;
    while (done < max_steps) {
        const double total = e->cnt.R;
        double dt = 0.0, x, q;
        int32_t s;
        int v, last = -1, k;
        uint32_t idx, n_v;
        uint64_t allowed;
        const uint8_t *hv;
        if ((why = next_event_time(e, total, t_stop, &dt)) != KMC_STOP_STEPS) break;
        /* the rate class by its weight, then one of its N_v hops uniformly */
        x = kmc_rng_uniform(&e->rng) * total;
        for (v = 0; v < e->cnt.n_rc; v++) {
            const double w = e->cnt.rc_w[v];
            if (w > 0.0) {
                if (x < w) break;
                x -= w;
                last = v;
            }
        }
        if (v == e->cnt.n_rc) { /* rounding at the end of the last interval */
            v = last;
            x = e->cnt.rc_w[v] * 0.5;
        }
        n_v = e->cnt.cnode[(size_t)v * e->cnt.cn_inner + (size_t)e->cnt.coff[e->cnt.c_levels - 1]];
        q = x / e->cnt.rc_rate[v];
        idx = q < (double)n_v ? (uint32_t)q : n_v - 1;
        s = count_select(e, v, &idx);
        if (s < 0 || s >= e->n_sites || e->site[s].ion < 0)
            RUN_FAIL("count tree selected site %ld which holds no ion", (long)s);
        /* start the misses of the move: the ion's record and the neighbours */
        {
            const kmc_site *st = e->site + s;
            const kmc_class *c = e->cls + st->cls;
            const kmc_chop *ch = e->chop + c->hop;
            int32_t a;
            KMC_PREFETCH_W(e->ions + st->ion);
            for (a = 0; a < c->deg; a++) KMC_PREFETCH_W(e->site + s + ch[a].doff);
        }
        /* hop number idx among the site's allowed hops of class v */
        hv = e->cnt.chv + e->cls[e->site[s].cls].hop;
        allowed = ~e->site[s].mask;
        for (;;) {
            if (!allowed) RUN_FAIL("site %ld has fewer allowed hops than counted", (long)s);
            k = ctz64(allowed);
            allowed &= allowed - 1;
            if (hv[k] == v) {
                if (idx == 0) break;
                idx--;
            }
        }
        count_execute(e, s, k);
        e->time += dt;
        e->steps++;
        done++;
    }
    *steps_done = done;
    *reason = why;
    return KMC_OK;
}

static int count_check(kmc_engine *e)
{
    const kmc_count_data *c = &e->cnt;
    uint32_t cnt[KMC_MAX_RCLASS];
    int32_t s;
    int v, l, rc;
    int64_t k;
    double R = 0.0;
    if ((rc = kmc_check_sites(e)) != KMC_OK) return rc;
    for (s = 0; s < e->n_sites; s++) {
        memset(cnt, 0, sizeof(cnt));
        if (e->site[s].ion >= 0) count_site(e, e->site + s, cnt);
        for (v = 0; v < c->n_rc; v++)
            CHECK(c->cleaf[(size_t)v * c->cn_leaf + (size_t)s] == cnt[v],
                  "count of rate class %d at site %d is stale", v, (int)s);
    }
    for (v = 0; v < c->n_rc; v++) {
        const uint8_t *cleaf = c->cleaf + (size_t)v * c->cn_leaf;
        const uint32_t *node = c->cnode + (size_t)v * c->cn_inner;
        for (k = e->n_sites; k < (int64_t)c->cn_leaf; k++) CHECK(cleaf[k] == 0, "count tree padding is not zero");
        for (l = 1; l < c->c_levels; l++) {
            for (k = 0; k < c->csize[l]; k++) {
                uint64_t t = 0;
                int64_t q;
                if (l == 1) {
                    for (q = CA * k; q < CA * k + CA && q < (int64_t)c->cn_leaf; q++) t += cleaf[q];
                } else {
                    for (q = CA * k; q < CA * k + CA && q < c->csize[l - 1]; q++) t += node[c->coff[l - 1] + q];
                }
                CHECK(node[c->coff[l] + k] == t, "count-tree node %lld of level %d (class %d) is stale", (long long)k, l, v);
            }
        }
        R += c->rc_rate[v] * (double)node[c->coff[c->c_levels - 1]];
        CHECK(c->rc_w[v] == c->rc_rate[v] * (double)node[c->coff[c->c_levels - 1]], "class weight %d is stale", v);
    }
    CHECK(R == c->R, "total rate is stale");
    return KMC_OK;
}

static double count_total_rate(const kmc_engine *e) { return e->cnt.R; }

KMC_PRIVATE void count_free(kmc_engine *e)
{
    free(e->cnt.chv);
    free(e->cnt.crv);
    free(e->cnt.cleaf);
    free(e->cnt.cnode);
    e->cnt.chv = e->cnt.crv = e->cnt.cleaf = NULL;
    e->cnt.cnode = NULL;
}

const kmc_solver kmc_count_solver = {"count", count_init, count_rebuild, count_run, count_check, count_total_rate};
