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

/* Recompute the events touching the n sites xs and update the event tree. */
static void refresh_events(kmc_engine *e, const int32_t *xs, int32_t n)
{
    double *leaf = kmc_sumtree_leaves(&e->ev.tree);
    int32_t a, q;
    int ne = 0;
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
    const int32_t b = e->ev.ptr[v], k = e->ev.ptr[v + 1] - b;
    const kmc_evclass *ec = e->ev.ecl + e->ev.cls[v];
    int32_t ion[KMC_MAX_EVENT_MOVES], m, a, nx = 0, nr = 0, x;
    int d;
    for (m = 0; m < k; m++) ion[m] = site[e->ev.src[b + m]].ion;
    for (m = 0; m < k; m++) site[e->ev.src[b + m]].ion = -1;
    for (m = 0; m < k; m++) {
        const int32_t j = e->ev.dst[b + m];
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
        x = m < k ? e->ev.src[b + m] : e->ev.dst[b + m - k];
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
    for (v = 0; v < e->ev.n_events; v++) leaf[v] = event_rate(e, v);
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
    for (v = 0; v < e->ev.n_events; v++) {
        double r = event_rate(e, v);
        CHECK(r == leaf[v], "rate of event %d is %.17g, recomputed %.17g", (int)v, leaf[v], r);
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
    kmc_sumtree_free(&e->ev.tree);
    memset(&e->ev, 0, sizeof(e->ev));
}

const kmc_solver kmc_events_solver = {"tree+events", events_init, events_rebuild, events_run, events_check,
                                      events_total};
