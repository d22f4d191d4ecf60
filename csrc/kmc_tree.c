/* kmc_tree.c - solver "tree": rejection-free steps through a float sum tree over the
 * per-site rate sums (KMC_MODE_TREE; any network, and the only solver with pair
 * interactions).
 *
 * A step draws the residence time, selects a site by its rate sum in the tree (O(log N)),
 * a hop among the site's allowed hops by their rates, moves the ion and recomputes the
 * rate sums of the sites it affected. Without interactions a site's rate sum comes from
 * its class's rate list (or its sum table) and its mask; with them (e->interacting) the
 * rates of the allowed hops are evaluated anew from the interaction field (kmc_interact.c),
 * and a move affects the interaction neighbours of the moved sites too.
 *
 * A small interacting system (at most 64 sites) revisits its configurations: the
 * configuration memo (kmc_config_memo) keeps, per configuration met, the tree's nodes and
 * the occupied sites' hop rates, and a step from a remembered configuration draws and picks
 * on those (the same numbers, so the same trajectory bit for bit) and moves the ion, leaving
 * the site records, fields and tree to be rebuilt when a new configuration is met or the run
 * ends. The memo stops (is freed) when it would outgrow KMC_CONFIG_MEMO_MAX_BYTES.
 *
 * Data: e->tree (the sum tree, a scratch list of changed leaves, the memo) and the core's
 * site records. The event solver (kmc_events.c) is this solver plus multi-ion events and uses
 * tree_pick, tree_execute and tree_refresh_sites.
 */
#include "kmc_engine_impl.h"

/* Rate sum of an occupied site without interactions. */
static inline double plain_rate(const kmc_engine *e, const kmc_site *st)
{
    const kmc_class *c = e->cls + st->cls;
    /* the padding bits of the mask are set, so ~mask < 2^deg */
    if (c->tab >= 0) return e->tab[c->tab + (size_t)~st->mask];
    return sum_allowed(e->rate + c->rate, ~st->mask);
}

/* Sum of the rates of the allowed hops of site s (0 if empty); refreshes the rates
 * of those hops when rates depend on the configuration. */
static inline double site_rate(kmc_engine *e, int32_t s)
{
    const kmc_site *st = e->site + s;
    if (st->ion < 0) return 0.0;
    if (e->interacting) return ia_site_rate(e, s);
    return plain_rate(e, st);
}

/* Interacting mode: recompute the rate sum of site s; if it changed, store it and mark its leaf dirty. */
static inline void refresh(kmc_engine *e, double *leaf, int32_t s, int *nd)
{
    const double r = site_rate(e, s);
    if (r != leaf[s]) {
        leaf[s] = r;
        e->tree.dirty[(*nd)++] = s;
    }
}

/* Without interactions: the same for an occupied site s. */
static inline void refresh_plain(kmc_engine *e, double *leaf, int32_t s, int *nd)
{
    const double r = plain_rate(e, e->site + s);
    if (r != leaf[s]) {
        leaf[s] = r;
        e->tree.dirty[(*nd)++] = s;
    }
}

KMC_PRIVATE double tree_total(const kmc_engine *e) { return kmc_sumtree_total(&e->tree.sum); }

/* Recompute the rate sums of the n given sites (distinct) and update the tree. */
KMC_PRIVATE void tree_refresh_sites(kmc_engine *e, const int32_t *sites, int32_t n)
{
    double *leaf = kmc_sumtree_leaves(&e->tree.sum);
    int32_t a;
    int nd = 0;
    for (a = 0; a < n; a++) refresh(e, leaf, sites[a], &nd);
    kmc_sumtree_update(&e->tree.sum, e->tree.dirty, nd);
}

/* The hop among the slots of `allowed` (increasing) in whose rate interval x (in [0, the sum
 * of their rates)) falls, rates <= 0 skipped; the last positive one when rounding leaves x
 * beyond them all; -1 if none is positive. */
static inline int pick_hop(const double *rate, uint64_t allowed, double x)
{
    int last = -1;
    while (allowed) {
        const int q = ctz64(allowed);
        const double r = rate[q];
        allowed &= allowed - 1;
        if (r > 0.0) {
            if (x < r) return q;
            x -= r;
            last = q;
        }
    }
    return last; /* rounding at the end of the site's interval */
}

/* The hop for a uniform x in [0, tree total): the site *s by the tree, then the allowed
 * hop *k of that site in whose rate interval the rest of x falls. KMC_OK, or
 * KMC_ERR_STATE with a message. */
KMC_PRIVATE int tree_pick(kmc_engine *e, double x, int32_t *s, int *k)
{
    const int64_t site = kmc_sumtree_select(&e->tree.sum, &x);
    int chosen = -1;
    if (site < 0 || e->site[site].ion < 0) {
        set_err(e->errmsg, sizeof(e->errmsg), "selected site %lld holds no ion", (long long)site);
        return KMC_ERR_STATE;
    }
    {
        const kmc_site *st = e->site + site;
        double ia_rate[KMC_MAX_DEGREE]; /* interacting: the site's rates, evaluated again */
        const double *rate = ia_rate;
        uint64_t allowed = ~st->mask;
        if (e->prefetch) { /* the move's misses (the ion, the possible destinations) start
                              while the rates are evaluated (timing only) */
            const kmc_class *c = e->cls + st->cls;
            const kmc_chop *ch = e->chop + c->hop;
            int32_t a;
            const double *leaf = kmc_sumtree_leaves(&e->tree.sum);
            KMC_PREFETCH_W(e->ions + st->ion);
            for (a = 0; a < c->deg; a++) {
                KMC_PREFETCH_W(e->site + site + ch[a].doff);
                KMC_PREFETCH_W(leaf + site + ch[a].doff);
            }
        }
        if (e->interacting) ia_site_rates(e, (int32_t)site, ia_rate);
        else rate = e->rate + e->cls[st->cls].rate;
        chosen = pick_hop(rate, allowed, x);
    }
    if (chosen < 0) {
        set_err(e->errmsg, sizeof(e->errmsg), "site %lld has a positive rate but no allowed hop", (long long)site);
        return KMC_ERR_STATE;
    }
    *s = (int32_t)site;
    *k = chosen;
    return KMC_OK;
}

/* Execute hop k of the ion on site i and update the rate sums locally. Returns |X|: the
 * sites whose occupancy or interaction field changed are e->xset[0..|X|) (i and the
 * destination first; without interactions only those two). */
KMC_PRIVATE int32_t tree_execute(kmc_engine *e, int32_t i, int k)
{
    kmc_site *site = e->site;
    const kmc_class *ci = e->cls + site[i].cls;
    const kmc_chop *hi = e->chop + ci->hop;
    const int32_t j = i + hi[k].doff, ion = site[i].ion, hcl = e->chc[ci->hop + k];
    const kmc_class *cj = e->cls + site[j].cls;
    const kmc_chop *hj = e->chop + cj->hop;
    const int32_t di = ci->deg, dj = cj->deg;
    double *leaf = kmc_sumtree_leaves(&e->tree.sum);
    int32_t a, x, nx = 2;
    int nd = 0;

    if (e->prefetch) /* j's neighbours' records (i's came with the pick) */
        for (a = 0; a < dj; a++) KMC_PREFETCH_W(site + j + hj[a].doff);
    move_ion(e, i, j, ion, hcl);
    e->xset[0] = i;
    e->xset[1] = j;

    /* i emptied, j filled: flip their bit in every neighbour's mask */
    for (a = 0; a < di; a++) site[i + hi[a].doff].mask &= ~((uint64_t)1 << hi[a].rev);
    for (a = 0; a < dj; a++) site[j + hj[a].doff].mask |= (uint64_t)1 << hj[a].rev;

    if (!e->interacting) {
        /* Only i, j and their hop neighbours can change. A site seen twice is
         * harmless (the second refresh finds its leaf unchanged). */
        leaf[i] = 0.0;
        e->tree.dirty[nd++] = i;
        refresh_plain(e, leaf, j, &nd);
        for (a = 0; a < di; a++) {
            x = i + hi[a].doff;
            if (x != j && site[x].ion >= 0) refresh_plain(e, leaf, x, &nd);
        }
        for (a = 0; a < dj; a++) {
            x = j + hj[a].doff;
            if (x != i && site[x].ion >= 0) refresh_plain(e, leaf, x, &nd);
        }
    } else {
        /* X: sites whose occupancy or interaction field changed; then X and its hop
         * neighbours (R) are the sites whose allowed hops or rates may change. */
        int32_t nr;
        nx = kmc_affected(e, 2, &nr);
        /* on a large system R's leaves and its sites' destinations are scattered: start
         * their misses together before the rates are evaluated (timing only) */
        for (a = 0; a < nr && e->prefetch; a++) {
            KMC_PREFETCH_W(leaf + e->rset[a]);
            /* and the leaves' parents and grandparents, which the tree's update reads */
            KMC_PREFETCH_W(e->tree.sum.data + e->tree.sum.offset[1] + e->rset[a] / KMC_TREE_ARITY);
            KMC_PREFETCH_W(e->tree.sum.data + e->tree.sum.offset[2] + e->rset[a] / (KMC_TREE_ARITY * KMC_TREE_ARITY));
            if (site[e->rset[a]].ion >= 0) ia_prefetch_rates(e, e->rset[a]);
        }
        for (a = 0; a < nr; a++) refresh(e, leaf, e->rset[a], &nd);
    }
    kmc_sumtree_update(&e->tree.sum, e->tree.dirty, nd);
    return nx;
}

/* ---- the configuration memo ---- */

#define KMC_CM_FIRST 64     /* configurations room is made for at first */
#define KMC_CM_COUNT 16     /* hops a configuration's intervals are counted over (below: searched) */
#define KMC_CM_BAND 0x1p-30 /* the search's margin, relative to the total rate (see cm_search) */

static size_t cm_tree_len(const kmc_sumtree *t)
{
    return (size_t)(t->offset[t->n_levels - 1] + t->size[t->n_levels - 1]);
}

/* Bytes of the memo's arrays for cap configurations, pcap hop entries and hmask + 1 hash
 * slots. */
static size_t cm_bytes(const kmc_engine *e, int32_t cap, int64_t pcap, uint32_t hmask)
{
    const kmc_config_memo *cm = e->tree.cm;
    return (size_t)cap * ((size_t)cm->tl * sizeof(double) + sizeof(int64_t) + 2 * sizeof(int32_t)) +
           (size_t)pcap * (2 * sizeof(double) + sizeof(int32_t) + sizeof(kmc_cm_move)) +
           (cap ? ((size_t)hmask + 1) * (sizeof(uint64_t) + sizeof(int32_t)) : 0);
}

static void cm_free(kmc_engine *e)
{
    kmc_config_memo *cm = e->tree.cm;
    if (!cm) return;
    e->bytes -= cm_bytes(e, cm->cap, cm->pcap, cm->hmask) + sizeof(*cm);
    free(cm->hkey);
    free(cm->hidx);
    free(cm->nodes);
    free(cm->off);
    free(cm->m);
    free(cm->width);
    free(cm->bnd);
    free(cm->rate);
    free(cm->next);
    free(cm->move);
    free(cm);
    e->tree.cm = NULL;
}

static uint32_t cm_hash(uint64_t key)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    return (uint32_t)key;
}

/* The index of the configuration with occupancy bits key, or -1. */
static inline int32_t cm_find(const kmc_config_memo *cm, uint64_t key)
{
    uint32_t h = cm_hash(key) & cm->hmask;
    while (cm->hidx[h] >= 0) {
        if (cm->hkey[h] == key) return cm->hidx[h];
        h = (h + 1) & cm->hmask;
    }
    return -1;
}

#define CM_REALLOC(ptr, type, count)                                     \
    do {                                                                 \
        type *grown_ = (type *)realloc((ptr), (size_t)(count) * sizeof(type)); \
        if (!grown_) return -1;                                          \
        (ptr) = grown_;                                                  \
    } while (0)

/* Room for twice the configurations (nodes, offsets, hash table); 0, or -1 (at the size
 * limit or out of memory: the memo is unchanged but for capacity). */
static int cm_grow(kmc_engine *e)
{
    kmc_config_memo *cm = e->tree.cm;
    const int32_t cap = cm->cap ? 2 * cm->cap : KMC_CM_FIRST;
    const uint32_t slots = 4 * (uint32_t)cap;
    const size_t old_bytes = cm_bytes(e, cm->cap, cm->pcap, cm->hmask);
    uint64_t *hkey;
    int32_t *hidx, a;
    uint32_t h;
    if (cm_bytes(e, cap, cm->pcap, slots - 1) > (size_t)KMC_CONFIG_MEMO_MAX_BYTES) return -1;
    CM_REALLOC(cm->nodes, double, (size_t)cap * cm->tl);
    CM_REALLOC(cm->off, int64_t, cap + 1);
    CM_REALLOC(cm->m, int32_t, cap);
    CM_REALLOC(cm->width, int32_t, cap);
    hkey = (uint64_t *)malloc(slots * sizeof(uint64_t));
    hidx = (int32_t *)malloc(slots * sizeof(int32_t));
    if (!hkey || !hidx) {
        free(hkey);
        free(hidx);
        return -1;
    }
    for (h = 0; h < slots; h++) hidx[h] = -1;
    for (h = 0; cm->hidx && h <= cm->hmask; h++) { /* rehash */
        uint32_t g;
        if ((a = cm->hidx[h]) < 0) continue;
        g = cm_hash(cm->hkey[h]) & (slots - 1);
        while (hidx[g] >= 0) g = (g + 1) & (slots - 1);
        hkey[g] = cm->hkey[h];
        hidx[g] = a;
    }
    free(cm->hkey);
    free(cm->hidx);
    cm->hkey = hkey;
    cm->hidx = hidx;
    cm->hmask = slots - 1;
    cm->cap = cap;
    e->bytes += cm_bytes(e, cap, cm->pcap, cm->hmask) - old_bytes;
    return 0;
}

/* Room for at least need hop entries in all (the pools grow by doubling); 0, or -1. */
static int cm_grow_pool(kmc_engine *e, int64_t need)
{
    kmc_config_memo *cm = e->tree.cm;
    const size_t old_bytes = cm_bytes(e, cm->cap, cm->pcap, cm->hmask);
    int64_t pcap = cm->pcap ? cm->pcap : 1024;
    while (pcap < need) pcap *= 2;
    if (pcap == cm->pcap) return 0;
    if (cm_bytes(e, cm->cap, pcap, cm->hmask) > (size_t)KMC_CONFIG_MEMO_MAX_BYTES) return -1;
    CM_REALLOC(cm->bnd, double, pcap);
    CM_REALLOC(cm->rate, double, pcap);
    CM_REALLOC(cm->next, int32_t, pcap);
    CM_REALLOC(cm->move, kmc_cm_move, pcap);
    cm->pcap = pcap;
    e->bytes += cm_bytes(e, cm->cap, pcap, cm->hmask) - old_bytes;
    return 0;
}

/* Remember the current configuration (occupancy bits key; the site records, fields and
 * tree up to date): its tree nodes and its hops of positive rate in the order the tree
 * walks them (by site, then slot), each with its rate, interval, sites and class. Returns its
 * index, or -1 when the memo stopped (freed: full). */
static int32_t cm_store(kmc_engine *e, uint64_t key)
{
    kmc_config_memo *cm = e->tree.cm;
    double rate[KMC_MAX_DEGREE];
    int32_t s, c = cm->n, m = 0, w;
    int64_t o;
    uint32_t h;
    if (cm->n == cm->cap && cm_grow(e) != 0) {
        cm_free(e);
        return -1;
    }
    o = cm->off[c];
    memcpy(cm->nodes + (size_t)c * cm->tl, e->tree.sum.data, (size_t)cm->tl * sizeof(double));
    for (s = 0; s < e->n_sites; s++) {
        const int deg = e->cls[e->site[s].cls].deg;
        int k;
        if (e->site[s].ion < 0) continue;
        if (cm_grow_pool(e, o + m + deg + KMC_CM_COUNT + 1) != 0) {
            cm_free(e);
            return -1;
        }
        memset(rate, 0, (size_t)deg * sizeof(double)); /* (a blocked hop's is not written) */
        ia_site_rates(e, s, rate);
        for (k = 0; k < deg; k++)
            if (rate[k] > 0.0) {
                const int32_t hop = e->cls[e->site[s].cls].hop + k;
                cm->rate[o + m] = rate[k];
                cm->move[o + m].i = s;
                cm->move[o + m].j = s + e->chop[hop].doff;
                cm->move[o + m].hcl = e->chc[hop];
                cm->next[o + m] = -1;
                m++;
            }
    }
    for (w = KMC_CM_COUNT; w <= m; w *= 2) {}
    if (cm_grow_pool(e, o + w + 1) != 0) {
        cm_free(e);
        return -1;
    }
    { /* the intervals: hop q's starts at the sum of the rates before it */
        double acc = 0.0;
        for (s = 0; s < m; s++) {
            cm->bnd[o + s] = acc;
            acc += cm->rate[o + s];
        }
        cm->bnd[o + m] = acc;
        for (s = m + 1; s <= w; s++) cm->bnd[o + s] = HUGE_VAL; /* (never <= x: not counted) */
        for (s = m; s <= w; s++) { /* padding, never a hop */
            static const kmc_cm_move none = {-1, -1, -1};
            cm->rate[o + s] = 0.0;
            cm->next[o + s] = -1;
            cm->move[o + s] = none;
        }
    }
    cm->m[c] = m;
    cm->width[c] = w;
    cm->off[c + 1] = o + w + 1;
    h = cm_hash(key) & cm->hmask;
    while (cm->hidx[h] >= 0) h = (h + 1) & cm->hmask;
    cm->hkey[h] = key;
    cm->hidx[h] = c;
    cm->n++;
    return c;
}

/* The hop of remembered configuration c for x in [0, its total rate) as the tree solver
 * picks it (kmc_sumtree_select on the configuration's nodes, then pick_hop on the chosen
 * site's rates): its index q among the configuration's hops, or -1 when the walk finds no
 * hop (a corrupt state). */
static int32_t cm_walk(kmc_config_memo *cm, int32_t c, double x)
{
    const kmc_cm_move *mv = cm->move + cm->off[c];
    const double *rate = cm->rate + cm->off[c];
    int32_t q0, n;
    int64_t site;
    int k;
    cm->view.data = cm->nodes + (size_t)c * cm->tl;
    site = kmc_sumtree_select(&cm->view, &x);
    if (site < 0) return -1;
    /* the site's hops: consecutive, in slot order, all of rate > 0 (what pick_hop takes of
     * the site's slots) */
    for (q0 = 0; q0 < cm->m[c] && mv[q0].i < site; q0++) {}
    for (n = 0; q0 + n < cm->m[c] && mv[q0 + n].i == site; n++) {}
    k = pick_hop(rate + q0, n == 64 ? ~(uint64_t)0 : ((uint64_t)1 << n) - 1, x);
    return k < 0 ? -1 : q0 + k;
}

/* The hop of remembered configuration c for x, from its intervals: the q with bnd[q] <= x
 * < bnd[q + 1], counted over the first KMC_CM_COUNT (no branch on the numbers), else by
 * bisection. It is the walk's choice (cm_walk) when x is farther than KMC_CM_BAND times
 * the total from every end of an interval: the walk's sums and differences are those of
 * the same rates (at most 64 x 64 of them) in other orders, so each of its comparisons is
 * off the exact one by less than about 2^-40 of the total (rounding of at most ~4 x 10^3
 * additions), and so are the intervals' ends. Then -1 is returned only for x within the
 * margin (probability about 2^-29 per hop per hop of the configuration), left to the walk,
 * and for a total below 2^-960 (where rounding is no longer relative). */
static inline int32_t cm_search(const kmc_config_memo *cm, int32_t c, double total, double x)
{
    const double *bnd = cm->bnd + cm->off[c], *at = bnd;
    const double band = total * KMC_CM_BAND;
    int32_t n = cm->width[c], q;
    if (n == KMC_CM_COUNT) {
        int p, below = 0;
        for (p = 1; p < KMC_CM_COUNT; p++) below += bnd[p] <= x;
        at += below;
    } else {
        while (n > 1) {
            const int32_t half = n >> 1;
            at = at[half] <= x ? at + half : at;
            n -= half;
        }
    }
    q = (int32_t)(at - bnd);
    return q < cm->m[c] && x - at[0] > band && at[1] - x > band && total >= 0x1p-960 ? q : -1;
}

/* Set up the memo for an interacting system of at most 64 sites (a no-op otherwise). 0, or
 * -1 out of memory. */
KMC_PRIVATE int tree_config_memo_init(kmc_engine *e, int walk)
{
    kmc_config_memo *cm;
    if (!e->interacting || e->n_sites > KMC_CONFIG_MEMO_MAX_SITES) return 0;
    cm = (kmc_config_memo *)calloc(1, sizeof(*cm));
    if (!cm) return -1;
    e->tree.cm = cm;
    e->bytes += sizeof(*cm);
    cm->walk = walk;
    cm->tl = (int32_t)cm_tree_len(&e->tree.sum);
    if (cm_grow(e) != 0) {
        cm_free(e);
        return -1;
    }
    cm->off[0] = 0;
    cm->view = e->tree.sum; /* the tree's shape; its data pointer is set per walk */
    return 0;
}

/* The tree solver's loop with the configuration memo (same steps as tree_run's). */
static int tree_run_memo(kmc_engine *e, uint64_t max_steps, double t_stop, uint64_t *steps_done, int *reason)
{
    const int root = (int)e->tree.sum.offset[e->tree.sum.n_levels - 1];
    uint64_t done = 0, key = 0;
    int why = KMC_STOP_STEPS;
    int32_t s;
    for (s = 0; s < e->n_sites; s++)
        if (e->site[s].ion >= 0) key |= (uint64_t)1 << s;
    int32_t c = e->tree.cm ? cm_find(e->tree.cm, key) : -1;
    while (done < max_steps && e->tree.cm) {
        kmc_config_memo *cm = e->tree.cm;
        int32_t ion, q, *next;
        double dt = 0.0, total, x;
        if (c < 0) { /* a configuration not met yet: the structures, then remember it */
            if (cm->stale) {
                tree_rebuild(e);
                cm->stale = 0;
            }
            if ((c = cm_store(e, key)) < 0) break; /* (the memo stopped: tree_run goes on) */
        }
        total = cm->nodes[(size_t)c * cm->tl + root];
        if ((why = next_event_time(e, total, t_stop, &dt)) != KMC_STOP_STEPS) break;
        x = kmc_rng_uniform(&e->rng) * total;
        q = cm->walk ? -1 : cm_search(cm, c, total, x);
        if (q < 0 && (q = cm_walk(cm, c, x)) < 0) RUN_FAIL("no hop of remembered configuration %d for x = %.17g", (int)c, x);
        {
            const int64_t o = cm->off[c] + q;
            const kmc_cm_move mv = cm->move[o];
            ion = e->site[mv.i].ion;
            move_ion(e, mv.i, mv.j, ion, mv.hcl);
            key ^= ((uint64_t)1 << mv.i) | ((uint64_t)1 << mv.j);
            next = cm->next + o;
        }
        cm->stale = 1;
        /* the next configuration: known from an earlier visit, else looked up (and noted) */
        if (*next < 0) *next = cm_find(cm, key);
        c = *next;
        e->time += dt;
        e->steps++;
        done++;
    }
    /* (a memo that stopped did so on a new configuration, after the structures were
     * brought up to date for it) */
    if (e->tree.cm && e->tree.cm->stale) {
        tree_rebuild(e);
        e->tree.cm->stale = 0;
    }
    *steps_done = done;
    *reason = why;
    return KMC_OK;
}

/* The memo's intervals against its walk (kmc_engine_check): in every remembered
 * configuration, at and around every end of an interval (a few units in the last place and
 * a few margins away) and in the middle of every interval, a hop the search chooses is the
 * hop the walk chooses. */
static int cm_check(kmc_engine *e)
{
    kmc_config_memo *cm = e->tree.cm;
    const int root = (int)e->tree.sum.offset[e->tree.sum.n_levels - 1];
    static const double margins[] = {-4.0, -1.0, -0.5, 0.5, 1.0, 4.0};
    int32_t c, q;
    for (c = 0; cm && c < cm->n; c++) {
        const double total = cm->nodes[(size_t)c * cm->tl + root];
        const double *bnd = cm->bnd + cm->off[c];
        for (q = 0; q <= cm->m[c]; q++) {
            double xs[32];
            int n = 0, a;
            double up = bnd[q], down = bnd[q];
            for (a = 0; a < 4; a++) {
                up = nextafter(up, HUGE_VAL);
                down = nextafter(down, -HUGE_VAL);
                xs[n++] = up;
                xs[n++] = down;
            }
            xs[n++] = bnd[q];
            for (a = 0; a < 6; a++) xs[n++] = bnd[q] + margins[a] * total * KMC_CM_BAND;
            if (q < cm->m[c]) xs[n++] = 0.5 * (bnd[q] + bnd[q + 1]);
            for (a = 0; a < n; a++) {
                const double x = xs[a];
                int32_t fast, walked;
                if (!(x >= 0.0 && x < total)) continue;
                fast = cm_search(cm, c, total, x);
                walked = cm_walk(cm, c, x);
                CHECK(walked >= 0, "remembered configuration %d: no hop for x = %.17g", (int)c, x);
                CHECK(fast < 0 || fast == walked,
                      "remembered configuration %d: the search chooses hop %d, the walk %d, for x = %.17g",
                      (int)c, (int)fast, (int)walked, x);
            }
        }
    }
    return KMC_OK;
}

static int tree_run(kmc_engine *e, uint64_t max_steps, double t_stop, uint64_t *steps_done, int *reason)
{
    uint64_t done = 0;
    int why = KMC_STOP_STEPS;
    if (e->tree.cm) {
        const int rc = tree_run_memo(e, max_steps, t_stop, &done, &why);
        if (rc != KMC_OK || e->tree.cm || why != KMC_STOP_STEPS || done == max_steps) {
            *steps_done = done;
            *reason = why;
            return rc;
        }
    }
    while (done < max_steps) {
        const double total = tree_total(e);
        double dt = 0.0;
        int32_t s;
        int k;
        if ((why = next_event_time(e, total, t_stop, &dt)) != KMC_STOP_STEPS) break;
        if (tree_pick(e, kmc_rng_uniform(&e->rng) * total, &s, &k) != KMC_OK) {
            *steps_done = done;
            *reason = why;
            return KMC_ERR_STATE;
        }
        tree_execute(e, s, k);
        e->time += dt;
        e->steps++;
        done++;
    }
    *steps_done = done;
    *reason = why;
    return KMC_OK;
}

KMC_PRIVATE int tree_init(kmc_engine *e)
{
    int fail = 0;
    e->tree.dirty = (int64_t *)xalloc(e, (size_t)e->rcap + 2, sizeof(int64_t), &fail);
    if (fail || kmc_sumtree_init(&e->tree.sum, e->n_sites) != 0) return -1;
    e->bytes += kmc_sumtree_bytes(e->n_sites);
    return 0;
}

/* Masks, interaction fields, rate sums and the tree from the ions' sites. */
KMC_PRIVATE void tree_rebuild(kmc_engine *e)
{
    int32_t s;
    double *leaf = kmc_sumtree_leaves(&e->tree.sum);
    occupy_sites(e);
    for (s = 0; s < e->n_sites; s++) e->site[s].mask = site_mask(e, s);
    if (e->interacting) ia_rebuild(e);
    for (s = 0; s < e->n_sites; s++) leaf[s] = site_rate(e, s);
    kmc_sumtree_rebuild(&e->tree.sum);
}

KMC_PRIVATE int tree_check(kmc_engine *e)
{
    const double *leaf = kmc_sumtree_leaves(&e->tree.sum);
    const kmc_sumtree *t = &e->tree.sum;
    int32_t s;
    int64_t k;
    int l, rc;
    if ((rc = kmc_check_sites(e)) != KMC_OK) return rc;
    if (e->interacting && (rc = ia_check(e)) != KMC_OK) return rc;
    if ((rc = cm_check(e)) != KMC_OK) return rc;
    for (s = 0; s < e->n_sites; s++) {
        double r = site_rate(e, s);
        CHECK(r == leaf[s], "rate sum of site %d is %.17g, recomputed %.17g", (int)s, leaf[s], r);
        if (!e->interacting && e->site[s].ion >= 0) { /* the table agrees with the plain sum */
            const kmc_class *c = e->cls + e->site[s].cls;
            CHECK(sum_allowed(e->rate + c->rate, ~e->site[s].mask) == r,
                  "rate-sum table disagrees at site %d", (int)s);
        }
    }
    for (l = 1; l < t->n_levels; l++) {
        const double *below = t->data + t->offset[l - 1];
        const double *here = t->data + t->offset[l];
        for (k = 0; k < t->size[l - 1] / KMC_TREE_ARITY; k++)
            CHECK(kmc_sumtree_child_sum(below + KMC_TREE_ARITY * k) == here[k],
                  "sum-tree node %lld of level %d is stale", (long long)k, l);
    }
    return KMC_OK;
}

KMC_PRIVATE void tree_free(kmc_engine *e)
{
    cm_free(e);
    kmc_sumtree_free(&e->tree.sum);
    free(e->tree.dirty);
    e->tree.dirty = NULL;
}

const kmc_solver kmc_tree_solver = {"tree", tree_init, tree_rebuild, tree_run, tree_check, tree_total};
