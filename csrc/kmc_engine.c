/* kmc_engine.c - the engine's public API (kmc_engine.h) after creation: runs, checks and
 * state changes are dispatched once per call to the engine's solver (e->solver, chosen
 * by kmc_build.c from the mode: kmc_tree.c, kmc_count.c, kmc_uniform.c, kmc_events.c);
 * checkpoints, accessors and freeing are here. kmc_engine_impl.h describes the files,
 * the structures and who owns which data.
 */
#include "kmc_engine_impl.h"

const char *kmc_strerror(int code)
{
    switch (code) {
    case KMC_OK: return "success";
    case KMC_ERR_NOMEM: return "out of memory";
    case KMC_ERR_INVALID: return "invalid input";
    case KMC_ERR_STATE: return "inconsistent engine state";
    default: return "unknown error";
    }
}

void kmc_engine_free(kmc_engine *e)
{
    if (!e) return;
    tree_free(e);
    count_free(e);
    uniform_free(e);
    ia_free(e);
    events_free(e);
    free(e->cls);
    free(e->chop);
    free(e->chc);
    free(e->hc_vec);
    free(e->hc_type);
    free(e->rate);
    free(e->tab);
    free(e->site);
    free(e->ions);
    free(e->hops_hi);
    free(e->jsq);
    free(e->jsq_hops);
    free(e->type_counts);
    free(e->sset);
    free(e->seen);
    free(e->xset);
    free(e->rset);
    free(e);
}

/* A run's t_stop is not NaN and not before the engine's time (else the message is set). */
static int t_stop_ok(kmc_engine *e, double t_stop)
{
    if (isnan(t_stop) || t_stop < e->time) {
        set_err(e->errmsg, sizeof(e->errmsg), "t_stop = %g is before the current time %g", t_stop, e->time);
        return 0;
    }
    return 1;
}

int kmc_engine_run(kmc_engine *e, uint64_t max_steps, double t_stop, uint64_t *steps_done,
                   int *reason)
{
    uint64_t done = 0;
    int why = KMC_STOP_STEPS, rc;
    if (!t_stop_ok(e, t_stop)) {
        if (steps_done) *steps_done = 0;
        if (reason) *reason = KMC_STOP_STEPS;
        return KMC_ERR_INVALID;
    }
    rc = e->solver->run(e, max_steps, t_stop, &done, &why);
    if (steps_done) *steps_done = done;
    if (reason) *reason = why;
    return rc;
}

int kmc_engine_run_points(kmc_engine *e, uint64_t max_steps, double t_stop, double t0,
                          double interval, uint64_t k0, uint64_t max_points, double min_hops,
                          uint64_t steps0, double *total_out, uint64_t *steps_out,
                          uint64_t *n_points, uint64_t *steps_done, int *reason)
{
    uint64_t done = 0, n = 0, k = k0, part;
    int why = KMC_STOP_STEPS, rc = KMC_OK, d;
    double t_k;
    if (n_points) *n_points = 0;
    if (steps_done) *steps_done = 0;
    if (reason) *reason = KMC_STOP_STEPS;
    if (!(interval > 0.0) || !isfinite(interval) || !isfinite(t0) || !(min_hops >= 0.0)
        || (max_points > 0 && (!total_out || !steps_out))) {
        set_err(e->errmsg, sizeof(e->errmsg),
                "points: interval = %g s must be finite and > 0, t0 = %g s finite, min_hops = "
                "%g >= 0, and the output buffers given", interval, t0, min_hops);
        return KMC_ERR_INVALID;
    }
    if (!t_stop_ok(e, t_stop)) return KMC_ERR_INVALID;
    for (;;) {
        t_k = t0 + (double)k * interval;
        if (e->time >= t_k) {  /* a point reached: recorded, as the caller's loop would */
            if (n == max_points) { why = KMC_STOP_POINTS; break; }
            for (d = 0; d < 3; d++) total_out[3 * n + d] = e->total_disp[d];
            steps_out[n] = e->steps - steps0;
            n++;
            k++;
            if (n == max_points
                || interval * (double)(e->steps - steps0) < min_hops * (e->time - t0)) {
                why = KMC_STOP_POINTS;
                break;
            }
            continue;
        }
        if (e->time >= t_stop) { why = KMC_STOP_TIME; break; }
        if (done == max_steps) { why = KMC_STOP_STEPS; break; }
        rc = e->solver->run(e, max_steps - done, t_k < t_stop ? t_k : t_stop, &part, &why);
        done += part;
        if (rc != KMC_OK || why == KMC_STOP_FROZEN) break;
    }
    if (n_points) *n_points = n;
    if (steps_done) *steps_done = done;
    if (reason) *reason = why;
    return rc;
}

int kmc_engine_get_state(const kmc_engine *e, kmc_state *st)
{
    int32_t a;
    int d;
    for (a = 0; a < e->n_ions; a++) {
        if (st->ion_site) st->ion_site[a] = e->ions[a].site;
        for (d = 0; d < 3; d++)
            if (st->displacement) st->displacement[3 * a + d] = e->ions[a].disp[d];
        if (st->jump_sq) st->jump_sq[a] = ion_jump_sq(e, a);
        if (st->ion_hops) st->ion_hops[a] = ion_hops(e, a);
    }
    if (st->type_counts) memcpy(st->type_counts, e->type_counts, (size_t)e->n_hop_types * sizeof(uint64_t));
    if (st->event_counts && e->ev.n_events)
        memcpy(st->event_counts, e->ev.counts, (size_t)e->ev.n_event_types * sizeof(uint64_t));
    st->time_s = e->time;
    st->steps = e->steps;
    for (d = 0; d < 3; d++) st->total_displacement[d] = e->total_disp[d];
    for (d = 0; d < 4; d++) st->rng[d] = e->rng.s[d];
    return KMC_OK;
}

int kmc_engine_set_state(kmc_engine *e, const kmc_state *st)
{
    int32_t a;
    int d, rc;
    if (!st->type_counts ||
        (e->n_ions > 0 && (!st->ion_site || !st->displacement || !st->jump_sq || !st->ion_hops))) {
        set_err(e->errmsg, sizeof(e->errmsg), "every state array is required");
        return KMC_ERR_INVALID;
    }
    /* +inf is a time the engine itself reaches (time + dt overflows when the total rate is tiny) */
    if (isnan(st->time_s) || st->time_s < 0.0) {
        set_err(e->errmsg, sizeof(e->errmsg), "state time %g must be >= 0", st->time_s);
        return KMC_ERR_INVALID;
    }
    if ((st->rng[0] | st->rng[1] | st->rng[2] | st->rng[3]) == 0) {
        set_err(e->errmsg, sizeof(e->errmsg), "RNG state is all zero");
        return KMC_ERR_INVALID;
    }
    /* the occupancy is checked before anything changes */
    rc = kmc_check_ion_sites(e, st->ion_site, e->errmsg, sizeof(e->errmsg));
    if (rc != KMC_OK) return rc;
    for (a = 0; a < e->n_ions; a++) {
        e->ions[a].site = st->ion_site[a];
        for (d = 0; d < 3; d++) e->ions[a].disp[d] = st->displacement[3 * a + d];
        e->ions[a].hops_lo = (uint32_t)(st->ion_hops[a] & 0xffffffffu);
        e->hops_hi[a] = (uint32_t)(st->ion_hops[a] >> 32);
        e->jsq[a] = st->jump_sq[a];
        if (e->jsq_unit > 0.0) {
            /* a state this engine (or one like it) wrote has jump_sq = jsq_unit * hops, bit
             * for bit: keep that form, so that a resumed run gives the numbers of the
             * uninterrupted one */
            const int canonical = st->jump_sq[a] == e->jsq_unit * (double)st->ion_hops[a];
            if (canonical) e->jsq[a] = 0.0;
            e->jsq_hops[a] = canonical ? 0 : st->ion_hops[a];
        }
    }
    memcpy(e->type_counts, st->type_counts, (size_t)e->n_hop_types * sizeof(uint64_t));
    if (e->ev.n_events) {
        if (st->event_counts)
            memcpy(e->ev.counts, st->event_counts, (size_t)e->ev.n_event_types * sizeof(uint64_t));
        else
            memset(e->ev.counts, 0, (size_t)e->ev.n_event_types * sizeof(uint64_t));
    }
    e->time = st->time_s;
    e->steps = st->steps;
    for (d = 0; d < 3; d++) e->total_disp[d] = st->total_displacement[d];
    for (d = 0; d < 4; d++) e->rng.s[d] = st->rng[d];
    e->solver->rebuild(e);
    return KMC_OK;
}

void kmc_engine_get_displacements(const kmc_engine *e, double *displacement, double *jump_sq)
{
    int32_t a;
    for (a = 0; a < e->n_ions; a++) {
        if (displacement) {
            displacement[3 * a] = e->ions[a].disp[0];
            displacement[3 * a + 1] = e->ions[a].disp[1];
            displacement[3 * a + 2] = e->ions[a].disp[2];
        }
        if (jump_sq) jump_sq[a] = ion_jump_sq(e, a);
    }
}

void kmc_engine_get_total_displacement(const kmc_engine *e, double *total_displacement)
{
    int d;
    for (d = 0; d < 3; d++) total_displacement[d] = e->total_disp[d];
}

/* The site records (tree, count and event solvers): every ion's site holds it, the
 * classes are valid, the masks are those of the occupancy, as many occupied sites as ions. */
KMC_PRIVATE int kmc_check_sites(kmc_engine *e)
{
    int32_t s, a, n_occ = 0;
    for (a = 0; a < e->n_ions; a++) {
        s = e->ions[a].site;
        CHECK(s >= 0 && s < e->n_sites && e->site[s].ion == a, "ion %d and site %d disagree", (int)a, (int)s);
    }
    for (s = 0; s < e->n_sites; s++) {
        CHECK(e->site[s].cls >= 0 && e->site[s].cls < e->n_cls, "site %d has an invalid class", (int)s);
        if (e->site[s].ion >= 0) n_occ++;
        CHECK(e->site[s].mask == site_mask(e, s), "occupancy mask of site %d is stale", (int)s);
    }
    CHECK(n_occ == e->n_ions, "%d occupied sites for %d ions", (int)n_occ, (int)e->n_ions);
    return KMC_OK;
}

int kmc_engine_check(kmc_engine *e) { return e->solver->check(e); }

int32_t kmc_engine_n_sites(const kmc_engine *e) { return e->n_sites; }
int32_t kmc_engine_n_ions(const kmc_engine *e) { return e->n_ions; }
int32_t kmc_engine_n_hop_types(const kmc_engine *e) { return e->n_hop_types; }
double kmc_engine_time(const kmc_engine *e) { return e->time; }
uint64_t kmc_engine_steps(const kmc_engine *e) { return e->steps; }
double kmc_engine_total_rate(const kmc_engine *e) { return e->solver->total_rate(e); }
int32_t kmc_engine_n_event_types(const kmc_engine *e) { return e->ev.n_events ? e->ev.n_event_types : 0; }
size_t kmc_engine_memory_bytes(const kmc_engine *e) { return e->bytes; }
void kmc_engine_get_layout(const kmc_engine *e, kmc_engine_layout *out)
{
    out->n_site_classes = e->n_cls;
    out->n_class_hops = e->n_chop;
    out->n_hop_classes = e->n_hc;
    out->rate_memo = e->ia.memo != NULL;
    out->model_tables = e->ia.lm_tab != NULL;
    out->config_memo = e->tree.cm ? e->tree.cm->n : -1;
}
int kmc_engine_mode(const kmc_engine *e) { return e->mode; }
const char *kmc_engine_errmsg(const kmc_engine *e) { return e->errmsg; }

const char *kmc_rate_law_name(int rate_law) { return kmc_rate_law_str(rate_law); }

int kmc_rate_Hz(int rate_law, double temperature_K, double attempt_frequency_Hz, size_t n,
                const double *ekra_eV, const double *dE_eV, double *rate_Hz)
{
    kmc_rate_params rp;
    size_t i;
    if (!kmc_rate_law_str(rate_law) || !(temperature_K > 0.0) || !isfinite(temperature_K) ||
        !isfinite(1.0 / (KMC_KB_EV_PER_K * temperature_K)) || !(attempt_frequency_Hz > 0.0) ||
        !(attempt_frequency_Hz <= KMC_MAX_ATTEMPT_FREQUENCY_HZ) || (n > 0 && (!ekra_eV || !dE_eV || !rate_Hz)))
        return KMC_ERR_INVALID;
    rp = kmc_rate_params_make(rate_law, temperature_K, attempt_frequency_Hz);
    for (i = 0; i < n; i++) rate_Hz[i] = kmc_rate(&rp, ekra_eV[i], dE_eV[i]);
    return KMC_OK;
}
