/* kmc_events.c - multi-ion events: the tree solver plus a second sum tree over the rates
 * of the events (KMC_MODE_TREE with n_events > 0).
 *
 * An event moves up to KMC_MAX_EVENT_MOVES ions at once; it is allowed when every source
 * is occupied and every target is empty or one of its sources. A step draws the residence
 * time at the total of both trees and either a hop (through the tree solver, kmc_tree.c)
 * or an event. After either, the events that move an ion from or to a site whose
 * occupancy or interaction field changed are re-evaluated. The event tables (classes,
 * rates, site -> event lists) are built at creation (kmc_build.c); this file allocates the
 * event sum tree and runs, rebuilds and checks. Data: e->ev; the hops' part is the tree
 * solver's, reached through its functions.
 */
#include "kmc_engine_impl.h"

/* Rate of event v in the current configuration (0 if not allowed). */
static double event_rate(const kmc_engine *e, int32_t v)
{
    const int32_t b = e->ev.ptr[v], k = e->ev.ptr[v + 1] - b;
    int32_t m, q;
    for (m = 0; m < k; m++)
        if (e->site[e->ev.src[b + m]].ion < 0) return 0.0;
    for (m = 0; m < k; m++) {
        const int32_t d = e->ev.dst[b + m];
        if (e->site[d].ion >= 0) { /* allowed only if the event vacates it */
            for (q = 0; q < k && e->ev.src[b + q] != d; q++) continue;
            if (q == k) return 0.0;
        }
    }
    if (!e->interacting) return e->ev.rate ? e->ev.rate[v] : e->ev.ecl[e->ev.cls[v]].rate;
    return kmc_rate(&e->rp, e->ev.ekra[v], e->ev.de0[v] + ia_moves_de(e, e->ev.src + b, e->ev.dst + b, k));
}

/* ---- template events (e->ev.tmpl): event first[s] + j of site s is template
 * q = et_ptr[ecl_of[s]] + j, a string of k moves along hop slots from s ---- */

/* Rate of template q's event at site s (0 if not allowed): its k sources occupied, its
 * last site empty (the other targets are sources). */
static inline double tmpl_rate(const kmc_engine *e, int32_t s, int32_t q)
{
    const uint8_t *sl = e->ev.et_slot + (size_t)q * e->ev.k;
    int32_t x = s, i;
    for (i = 0; i < e->ev.k; i++) {
        if (e->site[x].ion < 0) return 0.0;
        x += e->chop[e->cls[e->site[x].cls].hop + sl[i]].doff;
    }
    return e->site[x].ion >= 0 ? 0.0 : e->ev.ecl[q].rate;
}

/* The sites of template q's event at site s: sg[0..k]. */
static inline void tmpl_sites(const kmc_engine *e, int32_t s, int32_t q, int32_t *sg)
{
    const uint8_t *sl = e->ev.et_slot + (size_t)q * e->ev.k;
    int32_t i;
    sg[0] = s;
    for (i = 0; i < e->ev.k; i++) sg[i + 1] = sg[i] + e->chop[e->cls[e->site[sg[i]].cls].hop + sl[i]].doff;
}

/* First template in [lo, hi) whose key is >= key. */
static inline int32_t tmpl_lower(const uint32_t *keys, int32_t lo, int32_t hi, uint32_t key)
{
    while (lo < hi) {
        const int32_t mid = lo + (hi - lo) / 2;
        if (keys[mid] < key) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* Does the run of j slots w (the first highest) occur in some template? If not, no
 * string walked back through these hops holds the site: the walk stops there. */
static inline int tmpl_window(const kmc_engine *e, int j, uint32_t w)
{
    if (j <= 3) {
        const size_t off = j == 1 ? 0 : j == 2 ? 1 : 65;
        return (int)((e->ev.et_win[off + (w >> 6)] >> (w & 63)) & 1);
    }
    {
        int32_t lo = 0, hi = e->ev.n_ecls;
        while (lo < hi) {
            const int32_t mid = lo + (hi - lo) / 2;
            if (e->ev.et_win4[mid] < w) lo = mid + 1;
            else hi = mid;
        }
        return lo < e->ev.n_ecls && e->ev.et_win4[lo] == w;
    }
}

/* Re-evaluate the events of site y whose first d slots are pref (d slots, the first
 * highest), then those of the sites d + 1 hops before y on a string to the same site:
 * every event with the site at position d. */
static void tmpl_visit(kmc_engine *e, int32_t y, uint32_t pref, int d, double *leaf, int *ne)
{
    const int32_t c = e->ev.ecl_of[y], base = e->ev.et_ptr[c], end = e->ev.et_ptr[c + 1];
    int32_t q = base;
    uint32_t stop = UINT32_MAX; /* keys below it have the prefix (all of them for d = 0) */
    if (d > 0) {
        const int sh = KMC_ET_BITS * (e->ev.k - d);
        const uint32_t from = pref << sh;
        if (e->ev.et_by1) { /* the templates with the first slot, then a short scan */
            const int32_t *by1 = e->ev.et_by1 + (size_t)c * (KMC_MAX_DEGREE + 1);
            const uint32_t s0 = pref >> (KMC_ET_BITS * (d - 1));
            int32_t hi = by1[s0 + 1];
            q = by1[s0];
            if (hi > end) hi = end;
            while (q < hi && e->ev.et_key[q] < from) q++;
        } else {
            q = tmpl_lower(e->ev.et_key, base, end, from);
        }
        stop = (pref + 1) << sh;
    }
    for (; q < end && e->ev.et_key[q] < stop; q++) {
        const int64_t v = (int64_t)e->ev.first[y] + (q - base);
        const double r = tmpl_rate(e, y, q);
        if (r != leaf[v]) {
            leaf[v] = r;
            e->ev.dirty[(*ne)++] = v;
        }
    }
    if (d < e->ev.k) {
        const kmc_class *cl = e->cls + e->site[y].cls;
        int32_t h;
        for (h = 0; h < cl->deg; h++) { /* z -> y is hop slot rev of z */
            const kmc_chop *ch = e->chop + cl->hop + h;
            const uint32_t zp = ((uint32_t)ch->rev << (KMC_ET_BITS * d)) | pref;
            if (tmpl_window(e, d + 1, zp)) tmpl_visit(e, y + ch->doff, zp, d + 1, leaf, ne);
        }
    }
}

/* Recompute the events touching the n sites xs and update the event tree. */
static void refresh_events(kmc_engine *e, const int32_t *xs, int32_t n)
{
    double *leaf = kmc_sumtree_leaves(&e->ev.tree);
    int32_t a, q;
    int ne = 0;
    if (e->ev.tmpl) {
        for (a = 0; a < n; a++) tmpl_visit(e, xs[a], 0, 0, leaf, &ne);
        kmc_sumtree_update(&e->ev.tree, e->ev.dirty, ne);
        return;
    }
    for (a = 0; a < n; a++) {
        for (q = e->ev.sev_ptr[xs[a]]; q < e->ev.sev_ptr[xs[a] + 1]; q++) {
            const int32_t v = e->ev.sev[q];
            const double r = event_rate(e, v);
            if (r != leaf[v]) {
                leaf[v] = r;
                e->ev.dirty[ne++] = v;
            }
        }
    }
    kmc_sumtree_update(&e->ev.tree, e->ev.dirty, ne);
}

/* Execute multi-ion event v: move every ion, then recompute the masks and rates of the
 * sites it touched and their neighbourhoods, and the events touching them. */
static void execute_event(kmc_engine *e, int32_t v)
{
    kmc_site *site = e->site;
    int32_t b, k, sg[KMC_MAX_EVENT_MOVES + 1]; /* templates: the string's sites */
    const int32_t *src, *dst;
    const kmc_evclass *ec;
    int32_t ion[KMC_MAX_EVENT_MOVES], m, a, nx = 0, nr = 0, x;
    int d;
    if (e->ev.tmpl) { /* the site whose events hold v (binary search), then the template */
        int32_t lo = 0, hi = e->n_sites, q;
        while (hi - lo > 1) {
            const int32_t mid = lo + (hi - lo) / 2;
            if (e->ev.first[mid] <= v) lo = mid;
            else hi = mid;
        }
        q = e->ev.et_ptr[e->ev.ecl_of[lo]] + (v - e->ev.first[lo]);
        k = e->ev.k;
        tmpl_sites(e, lo, q, sg);
        src = sg;     /* move m: sg[m] -> sg[m + 1] */
        dst = sg + 1;
        ec = e->ev.ecl + q;
        b = 0;
    } else {
        b = e->ev.ptr[v];
        k = e->ev.ptr[v + 1] - b;
        src = e->ev.src;
        dst = e->ev.dst;
        ec = e->ev.ecl + e->ev.cls[v];
    }
    for (m = 0; m < k; m++) ion[m] = site[src[b + m]].ion;
    for (m = 0; m < k; m++) site[src[b + m]].ion = -1;
    for (m = 0; m < k; m++) {
        const int32_t j = dst[b + m];
        const double *w = e->ev.ecl_vec + 4 * (size_t)(ec->vec + m);
        kmc_ion *pi = e->ions + ion[m];
        site[j].ion = ion[m];
        pi->site = j;
        for (d = 0; d < 3; d++) {
            pi->disp[d] += w[d];
            e->total_disp[d] += w[d];
        }
        e->jsq[ion[m]] += w[3]; /* events: jsq_unit is 0 */
        count_ion_hop(e, ion[m]);
    }
    e->ev.counts[ec->type]++;

    /* the moved sites, each once; then X and R as for a hop. Events are rare next to
     * hops, so this path favours simplicity over speed (masks recomputed in full). */
    for (m = 0; m < 2 * k; m++) {
        x = m < k ? src[b + m] : dst[b + m - k];
        for (a = 0; a < nx && e->xset[a] != x; a++) continue;
        if (a == nx) e->xset[nx++] = x;
    }
    nx = kmc_affected(e, nx, &nr);
    for (a = 0; a < nr; a++) site[e->rset[a]].mask = site_mask(e, e->rset[a]);
    tree_refresh_sites(e, e->rset, nr);
    refresh_events(e, e->xset, nx);
}

static double events_total(const kmc_engine *e) { return tree_total(e) + kmc_sumtree_total(&e->ev.tree); }

static int events_run(kmc_engine *e, uint64_t max_steps, double t_stop, uint64_t *steps_done, int *reason)
{
    uint64_t done = 0;
    int why = KMC_STOP_STEPS;
    while (done < max_steps) {
        const double htotal = tree_total(e);
        const double total = htotal + kmc_sumtree_total(&e->ev.tree);
        double dt = 0.0, x;
        if ((why = next_event_time(e, total, t_stop, &dt)) != KMC_STOP_STEPS) break;
        x = kmc_rng_uniform(&e->rng) * total;
        if (x >= htotal || !(htotal > 0.0)) { /* a multi-ion event */
            int64_t v;
            x -= htotal;
            v = kmc_sumtree_select(&e->ev.tree, &x);
            if (v < 0) RUN_FAIL("event selection failed (total %g)", total);
            execute_event(e, (int32_t)v);
        } else { /* a hop, then the events touching the sites it changed */
            int32_t s;
            int k;
            if (tree_pick(e, x, &s, &k) != KMC_OK) {
                *steps_done = done;
                *reason = why;
                return KMC_ERR_STATE;
            }
            refresh_events(e, e->xset, tree_execute(e, s, k));
        }
        e->time += dt;
        e->steps++;
        done++;
    }
    *steps_done = done;
    *reason = why;
    return KMC_OK;
}

/* The tree's structures, the event sum tree and its scratch: one step re-evaluates the
 * events of at most xcap distinct sites, each event once. */
static int events_init(kmc_engine *e)
{
    int fail = 0;
    if (tree_init(e) != 0) return -1;
    e->ev.cap = (int64_t)e->xcap * e->ev.max_sev;
    if (e->ev.cap > e->ev.n_events) e->ev.cap = e->ev.n_events;
    e->ev.dirty = (int64_t *)xalloc(e, (size_t)e->ev.cap, sizeof(int64_t), &fail);
    if (fail || kmc_sumtree_init(&e->ev.tree, e->ev.n_events) != 0) return -1;
    e->bytes += kmc_sumtree_bytes(e->ev.n_events);
    return 0;
}

static void events_rebuild(kmc_engine *e)
{
    double *leaf = kmc_sumtree_leaves(&e->ev.tree);
    int32_t v;
    tree_rebuild(e);
    if (e->ev.tmpl) {
        int32_t s, q;
        for (s = 0, v = 0; s < e->n_sites; s++)
            for (q = e->ev.et_ptr[e->ev.ecl_of[s]]; q < e->ev.et_ptr[e->ev.ecl_of[s] + 1]; q++, v++)
                leaf[v] = tmpl_rate(e, s, q);
    } else {
        for (v = 0; v < e->ev.n_events; v++) leaf[v] = event_rate(e, v);
    }
    kmc_sumtree_rebuild(&e->ev.tree);
}

static int events_check(kmc_engine *e)
{
    const double *leaf = kmc_sumtree_leaves(&e->ev.tree);
    const kmc_sumtree *t = &e->ev.tree;
    int32_t v;
    int64_t k;
    int l, rc;
    if ((rc = tree_check(e)) != KMC_OK) return rc;
    if (e->ev.tmpl) {
        int32_t s, q;
        for (s = 0, v = 0; s < e->n_sites; s++) {
            CHECK(e->ev.first[s] == v, "first event of site %d is %d, expected %d", (int)s, (int)e->ev.first[s], (int)v);
            for (q = e->ev.et_ptr[e->ev.ecl_of[s]]; q < e->ev.et_ptr[e->ev.ecl_of[s] + 1]; q++, v++) {
                double r = tmpl_rate(e, s, q);
                CHECK(r == leaf[v], "rate of event %d is %.17g, recomputed %.17g", (int)v, leaf[v], r);
            }
        }
    } else {
        for (v = 0; v < e->ev.n_events; v++) {
            double r = event_rate(e, v);
            CHECK(r == leaf[v], "rate of event %d is %.17g, recomputed %.17g", (int)v, leaf[v], r);
        }
    }
    for (l = 1; l < t->n_levels; l++) {
        const double *below = t->data + t->offset[l - 1];
        const double *here = t->data + t->offset[l];
        for (k = 0; k < t->size[l - 1] / KMC_TREE_ARITY; k++)
            CHECK(kmc_sumtree_child_sum(below + KMC_TREE_ARITY * k) == here[k],
                  "event-tree node %lld of level %d is stale", (long long)k, l);
    }
    return KMC_OK;
}

KMC_PRIVATE void events_free(kmc_engine *e)
{
    if (!e->ev.borrowed) {
        free((void *)e->ev.ptr);
        free((void *)e->ev.src);
        free((void *)e->ev.dst);
    }
    free(e->ev.cls);
    free(e->ev.ecl);
    free(e->ev.ecl_vec);
    free(e->ev.ekra);
    free(e->ev.de0);
    free(e->ev.rate);
    free(e->ev.sev_ptr);
    free(e->ev.sev);
    free(e->ev.counts);
    free(e->ev.dirty);
    free(e->ev.ecl_of);
    free(e->ev.first);
    free(e->ev.et_ptr);
    free(e->ev.et_key);
    free(e->ev.et_slot);
    free(e->ev.et_by1);
    free(e->ev.et_win);
    free(e->ev.et_win4);
    kmc_sumtree_free(&e->ev.tree);
    memset(&e->ev, 0, sizeof(e->ev));
}

const kmc_solver kmc_events_solver = {"tree+events", events_init, events_rebuild, events_run, events_check,
                                      events_total};
