/* kmc_build.c - creating an engine (creation only: nothing here runs after
 * kmc_engine_create returns, except kmc_check_ion_sites for kmc_engine_set_state).
 *
 * Validation of the network and parameters (every array, both network forms, the
 * parameters), the deduplicated network (hop classes, rate lists and their sum tables, site
 * classes, and the count solver's rate classes), the multi-ion event tables (classes,
 * static energies and rates, site -> event lists), the interacting mode's per-hop data
 * and rate memo, the choice of the solver from the mode, and the ions' initial sites.
 * This file may fill every mode's data (e->cnt, e->ia, e->ev); the solvers' own
 * allocations are their init functions.
 */
#include "kmc_engine_impl.h"
#include "kmc_intern.h"

/* The KRA barrier of event v (kmc_network.ev_ekra_same: one for all). */
#define EV_EKRA(net, v) ((net)->ev_ekra[(net)->ev_ekra_same ? 0 : (v)])

/* Rate-sum tables only for degrees up to this and this many entries in all. */
#define KMC_TAB_MAXDEG 8
#define KMC_TAB_BUDGET 16384

/* Automatic mode: uniformization when at least this share of attempts is expected to be
 * accepted (its cost per hop is its cost per attempt over the acceptance). */
#ifndef KMC_UNIFORM_MIN_ACCEPT
#define KMC_UNIFORM_MIN_ACCEPT 0.25
#endif

static double bitsd(int64_t b)
{
    double x;
    memcpy(&x, &b, sizeof(x));
    return x;
}

#define FAIL(...)                                          \
    do {                                                   \
        set_err(errmsg, errmsg_len, __VA_ARGS__);          \
        *status = KMC_ERR_INVALID;                         \
        return 0;                                          \
    } while (0)

/* One hop of the network, read from either form (CSR or templates). */
typedef struct {
    int32_t dst;       /* destination site */
    int32_t rev;       /* slot of the reverse hop in the destination's hop list */
    int32_t type;      /* hop type */
    int32_t id;        /* index into the per-hop (CSR) or per-template-hop arrays */
    const double *vec; /* displacement, Angstrom */
    double ekra;       /* KRA barrier, eV */
} hop_view;

static inline int32_t net_deg(const kmc_network *net, int32_t s)
{
    if (net->site_template) {
        const int32_t t = net->site_template[s];
        return net->tp_ptr[t + 1] - net->tp_ptr[t];
    }
    return net->hop_ptr[s + 1] - net->hop_ptr[s];
}

/* Hop k of site s (validated network). */
static inline void net_hop(const kmc_network *net, int32_t s, int32_t k, hop_view *v)
{
    if (net->site_template) {
        const int32_t h = net->tp_ptr[net->site_template[s]] + k;
        v->dst = s + net->tp_doff[h];
        v->rev = net->tp_rev[h];
        v->type = net->tp_type[h];
        v->vec = net->tp_vec + 3 * (size_t)h;
        v->ekra = net->tp_ekra[h];
        v->id = h;
    } else {
        const int32_t h = net->hop_ptr[s] + k;
        v->dst = net->hop_dst[h];
        v->rev = net->hop_rev[h] - net->hop_ptr[v->dst];
        v->type = net->hop_type[h];
        v->vec = net->hop_vec + 3 * (size_t)h;
        v->ekra = net->hop_ekra[h];
        v->id = h;
    }
}

/* The pair interactions of site s, from either form: entries a0 .. a1 of *nbr_off (a
 * neighbour is s + off[a] in the template form, nbr[a] in the CSR form) and *J. */
typedef struct {
    int32_t a0, a1, rel; /* rel: entries are offsets from s (templates) */
    const int32_t *nbr;
    const double *J;
} int_view;

static inline void net_ints(const kmc_network *net, int32_t s, int_view *v)
{
    if (net->site_template && net->ti_ptr) {
        const int32_t t = net->site_template[s];
        v->a0 = net->ti_ptr[t];
        v->a1 = net->ti_ptr[t + 1];
        v->rel = 1;
        v->nbr = net->ti_doff;
        v->J = net->ti_J;
    } else if (!net->site_template && net->int_ptr) {
        v->a0 = net->int_ptr[s];
        v->a1 = net->int_ptr[s + 1];
        v->rel = 0;
        v->nbr = net->int_nbr;
        v->J = net->int_J;
    } else {
        v->a0 = v->a1 = v->rel = 0;
        v->nbr = NULL;
        v->J = NULL;
    }
}

static inline int32_t int_nbr(const int_view *v, int32_t s, int32_t a)
{
    return v->rel ? s + v->nbr[a] : v->nbr[a];
}

/* J between the ends of a hop (0 without interactions). */
static inline double net_hop_J(const kmc_network *net, const hop_view *v)
{
    if (net->site_template) return net->tp_J ? net->tp_J[v->id] : 0.0;
    return net->hop_J ? net->hop_J[v->id] : 0.0;
}

/* Whether the network has pair interactions (in either form). */
static int net_has_pairs(const kmc_network *net)
{
    if (net->site_template) return net->ti_ptr && net->n_templates >= 1 && net->ti_ptr[net->n_templates] > 0;
    return net->int_ptr && net->n_sites >= 1 && net->int_ptr[net->n_sites] > 0;
}

/* The static part of a hop's energy change, eV: E_dst - E_src - q F . d. */
static inline double hop_de0(const kmc_network *net, const kmc_params *p, int32_t s, const hop_view *v)
{
    double de0 = net->site_energy[v->dst] - net->site_energy[s], fd = 0.0;
    int d;
    for (d = 0; d < 3; d++) fd += p->field_V_per_A[d] * v->vec[d];
    return de0 - p->charge_e * fd;
}

/* Validate the template form (site_template != NULL); 1 if valid, else 0 with a message. */
static int validate_templates(const kmc_network *net, int *status, char *errmsg, size_t errmsg_len)
{
    const int32_t n = net->n_sites, nt = net->n_templates;
    int32_t s, t, h, k;
    int64_t total = 0;
    int d;
    if (nt < 1) FAIL("n_templates = %d must be >= 1", (int)nt);
    if (net->hop_ptr || net->hop_dst || net->hop_rev || net->hop_type || net->hop_vec || net->hop_ekra)
        FAIL("give the hops either CSR by site (hop_ptr, ...) or as templates (site_template, ...), not both");
    if (net->int_ptr || net->int_nbr || net->int_J || net->hop_J)
        FAIL("template networks take their pair interactions as templates (ti_ptr, ti_doff, ti_J, tp_J), "
             "not as per-site lists (int_ptr, ...)");
    if ((net->n_events > 0 && !net->et_ptr) || net->n_clusters > 0 || net->n_local_models > 0)
        FAIL("template networks support neither clusters, local models nor multi-ion events other than event "
             "templates");
    if (!net->tp_ptr) FAIL("tp_ptr is required with site_template");
    if (net->tp_ptr[0] != 0) FAIL("tp_ptr must start at 0");
    for (t = 0; t < nt; t++) {
        int32_t deg;
        /* compared before the difference, which overflows for a wild tp_ptr[t + 1] */
        if (net->tp_ptr[t + 1] < net->tp_ptr[t]) FAIL("tp_ptr is not non-decreasing at template %d", (int)t);
        deg = net->tp_ptr[t + 1] - net->tp_ptr[t];
        if (deg > KMC_MAX_DEGREE) FAIL("template %d has %d hops; at most %d are supported", (int)t, (int)deg, KMC_MAX_DEGREE);
    }
    if (net->tp_ptr[nt] > 0 && (!net->tp_doff || !net->tp_rev || !net->tp_type || !net->tp_vec || !net->tp_ekra))
        FAIL("template hop arrays are required when templates have hops");
    for (h = 0; h < net->tp_ptr[nt]; h++) {
        if (net->tp_type[h] < 0 || net->tp_type[h] >= net->n_hop_types)
            FAIL("tp_type[%d] = %d outside 0..%d", (int)h, (int)net->tp_type[h], (int)(net->n_hop_types - 1));
        if (!isfinite(net->tp_ekra[h]) || net->tp_ekra[h] < 0.0)
            FAIL("tp_ekra[%d] = %g must be finite and >= 0", (int)h, net->tp_ekra[h]);
        for (d = 0; d < 3; d++)
            if (!isfinite(net->tp_vec[3 * h + d])) FAIL("tp_vec[%d][%d] is not finite", (int)h, d);
    }
    for (s = 0; s < n; s++) {
        t = net->site_template[s];
        if (t < 0 || t >= nt) FAIL("site_template[%d] = %d outside 0..%d", (int)s, (int)t, (int)(nt - 1));
    }
    for (s = 0; s < n; s++) {
        const int32_t deg = net_deg(net, s);
        if (!isfinite(net->site_energy[s])) FAIL("site_energy[%d] = %g is not finite", (int)s, net->site_energy[s]);
        total += deg;
        for (k = 0; k < deg; k++) {
            const int32_t hh = net->tp_ptr[net->site_template[s]] + k;
            const int64_t j = (int64_t)s + net->tp_doff[hh];
            hop_view v, w;
            if (j < 0 || j >= n) FAIL("hop %d of site %d goes to site %lld, outside 0..%d", (int)k, (int)s, (long long)j, (int)(n - 1));
            if (j == s) FAIL("hop %d of site %d goes to the site itself", (int)k, (int)s);
            net_hop(net, s, k, &v);
            if (v.rev < 0 || v.rev >= net_deg(net, v.dst))
                FAIL("hop %d of site %d (-> %d) has no valid reverse hop (tp_rev = %d)", (int)k, (int)s, (int)v.dst, (int)v.rev);
            net_hop(net, v.dst, v.rev, &w);
            if (w.dst != s || w.rev != k)
                FAIL("hop %d of site %d (-> %d) has no valid reverse hop (tp_rev = %d)", (int)k, (int)s, (int)v.dst, (int)v.rev);
            if (v.ekra != w.ekra)
                FAIL("hop %d of site %d and its reverse have different barriers", (int)k, (int)s);
            for (d = 0; d < 3; d++)
                if (fabs(v.vec[d] + w.vec[d]) > 1e-6 * (1.0 + fabs(v.vec[d])))
                    FAIL("hop %d of site %d and its reverse do not have opposite vectors", (int)k, (int)s);
        }
    }
    if (total != net->n_hops) FAIL("n_hops = %d, but the sites' templates hold %lld hops", (int)net->n_hops, (long long)total);
    if (net->ti_ptr) { /* pair interactions as templates */
        int32_t na;
        if (net->ti_ptr[0] != 0) FAIL("ti_ptr must start at 0");
        for (t = 0; t < nt; t++)
            if (net->ti_ptr[t + 1] < net->ti_ptr[t]) FAIL("ti_ptr is not non-decreasing at template %d", (int)t);
        na = net->ti_ptr[nt];
        if (na > 0 && (!net->ti_doff || !net->ti_J)) FAIL("ti_doff and ti_J are required with ti_ptr");
        if (net->tp_ptr[nt] > 0 && !net->tp_J) FAIL("tp_J is required with ti_ptr");
        for (h = 0; h < na; h++)
            if (!isfinite(net->ti_J[h])) FAIL("ti_J[%d] = %g is not finite", (int)h, net->ti_J[h]);
        for (h = 0; h < net->tp_ptr[nt]; h++)
            if (!isfinite(net->tp_J[h])) FAIL("tp_J[%d] = %g is not finite", (int)h, net->tp_J[h]);
        for (s = 0; s < n; s++) {
            int_view iv, jv;
            int32_t a, b, c;
            net_ints(net, s, &iv);
            for (a = iv.a0; a < iv.a1; a++) {
                const int64_t j = (int64_t)s + iv.nbr[a];
                int found = 0;
                if (j < 0 || j >= n || j == s)
                    FAIL("interaction %d of site %d goes to site %lld (outside 0..%d or the site itself)",
                         (int)(a - iv.a0), (int)s, (long long)j, (int)(n - 1));
                for (c = iv.a0; c < a; c++)
                    if (iv.nbr[c] == iv.nbr[a]) FAIL("site %d lists interaction neighbour %lld twice", (int)s, (long long)j);
                net_ints(net, (int32_t)j, &jv);
                for (b = jv.a0; b < jv.a1 && !found; b++)
                    found = (int64_t)j + jv.nbr[b] == s && dbits(jv.J[b]) == dbits(iv.J[a]);
                if (!found)
                    FAIL("interaction %d of site %d (-> %lld) is not listed by site %lld with the same J", (int)(a - iv.a0),
                         (int)s, (long long)j, (long long)j);
            }
            for (k = 0; k < net_deg(net, s); k++) { /* tp_J is the J of the hop's ends */
                hop_view v;
                double J = 0.0;
                net_hop(net, s, k, &v);
                for (a = iv.a0; a < iv.a1; a++)
                    if (s + iv.nbr[a] == v.dst) J = iv.J[a];
                if (dbits(J) != dbits(net->tp_J[v.id]))
                    FAIL("tp_J of hop %d of site %d is %g, but the sites' interaction is %g", (int)k, (int)s,
                         net->tp_J[v.id], J);
            }
        }
    } else if (net->tp_J) {
        FAIL("tp_J is given without ti_ptr");
    }
    return 1;
}

/* Validate the clusters (CSR form); 1 if valid, else 0 with a message. */
static int validate_clusters(const kmc_network *net, int *status, char *errmsg, size_t errmsg_len)
{
    const int32_t n = net->n_sites, nc = net->n_clusters;
    int32_t c, q, r;
    if (nc < 0) FAIL("n_clusters = %d must be >= 0", (int)nc);
    if (nc == 0) return 1;
    if (!net->cl_ptr || !net->cl_site || !net->cl_V) FAIL("cl_ptr, cl_site and cl_V are required with clusters");
    if (net->cl_ptr[0] != 0) FAIL("cl_ptr must start at 0");
    for (c = 0; c < nc; c++) {
        const int32_t b = net->cl_ptr[c], k = net->cl_ptr[c + 1] - b;
        if (net->cl_ptr[c + 1] < b || k < 2 || k > KMC_MAX_CLUSTER_SITES)
            FAIL("cluster %d has %d sites; 2..%d are supported", (int)c, (int)k, KMC_MAX_CLUSTER_SITES);
        if (!isfinite(net->cl_V[c])) FAIL("cl_V[%d] = %g is not finite", (int)c, net->cl_V[c]);
        for (q = b; q < b + k; q++) {
            if (net->cl_site[q] < 0 || net->cl_site[q] >= n)
                FAIL("cluster %d names site %d, outside 0..%d", (int)c, (int)net->cl_site[q], (int)(n - 1));
            for (r = b; r < q; r++)
                if (net->cl_site[r] == net->cl_site[q]) FAIL("cluster %d names site %d twice", (int)c, (int)net->cl_site[q]);
        }
    }
    return 1;
}

/* Validate the local models and the hops' environments (CSR form); 1 if valid, else 0. */
static int validate_local_models(const kmc_network *net, int *status, char *errmsg, size_t errmsg_len)
{
    const int32_t n = net->n_sites, nm = net->n_local_models;
    int32_t m, t, h, q;
    if (nm < 0) FAIL("n_local_models = %d must be >= 0", (int)nm);
    if (nm == 0) return 1;
    if (net->n_events > 0) FAIL("local models are not supported together with multi-ion events");
    if (!net->lm_e0 || !net->lm_phi || !net->lm_tptr || !net->env_ptr || !net->hop_kra_model || !net->hop_de_model)
        FAIL("lm_e0, lm_phi, lm_tptr, env_ptr, hop_kra_model and hop_de_model are required with local models");
    if (net->lm_tptr[0] != 0) FAIL("lm_tptr must start at 0");
    for (m = 0; m < nm; m++) {
        if (net->lm_tptr[m + 1] < net->lm_tptr[m]) FAIL("lm_tptr is not non-decreasing at model %d", (int)m);
        if (!isfinite(net->lm_e0[m]) || !isfinite(net->lm_phi[2 * m]) || !isfinite(net->lm_phi[2 * m + 1]))
            FAIL("local model %d has a non-finite constant or basis value", (int)m);
    }
    if (net->lm_tptr[nm] > 0 && (!net->lm_tpos || !net->lm_K)) FAIL("lm_tpos and lm_K are required with model terms");
    for (t = 0; t < net->lm_tptr[nm]; t++) {
        if (!isfinite(net->lm_K[t])) FAIL("lm_K[%d] = %g is not finite", (int)t, net->lm_K[t]);
        if (net->lm_tpos[4 * t] < 0) FAIL("model term %d names no environment position", (int)t);
        for (q = 1; q < KMC_MAX_CLUSTER_SITES; q++)
            if (net->lm_tpos[4 * t + q] < -1 || (net->lm_tpos[4 * t + q] >= 0 && net->lm_tpos[4 * t + q - 1] < 0))
                FAIL("model term %d has invalid positions (-1 pads only after the last)", (int)t);
    }
    if (net->env_ptr[0] != 0) FAIL("env_ptr must start at 0");
    for (h = 0; h < net->n_hops; h++)
        if (net->env_ptr[h + 1] < net->env_ptr[h]) FAIL("env_ptr is not non-decreasing at hop %d", (int)h);
    if (net->env_ptr[net->n_hops] > 0 && !net->env_site) FAIL("env_site is required with environments");
    for (q = 0; q < net->env_ptr[net->n_hops]; q++)
        if (net->env_site[q] < 0 || net->env_site[q] >= n)
            FAIL("environment entry %d names site %d, outside 0..%d", (int)q, (int)net->env_site[q], (int)(n - 1));
    for (h = 0; h < net->n_hops; h++) {
        const int32_t len = net->env_ptr[h + 1] - net->env_ptr[h];
        int w;
        for (w = 0; w < 2; w++) {
            const int32_t mm = w ? net->hop_de_model[h] : net->hop_kra_model[h];
            if (mm < -1 || mm >= nm)
                FAIL("%s[%d] = %d outside -1..%d", w ? "hop_de_model" : "hop_kra_model", (int)h, (int)mm, (int)(nm - 1));
            if (mm < 0) continue;
            for (t = net->lm_tptr[mm]; t < net->lm_tptr[mm + 1]; t++)
                for (q = 0; q < KMC_MAX_CLUSTER_SITES && net->lm_tpos[4 * t + q] >= 0; q++)
                    if (net->lm_tpos[4 * t + q] >= len)
                        FAIL("model %d names environment position %d, but hop %d has %d environment sites",
                             (int)mm, (int)net->lm_tpos[4 * t + q], (int)h, (int)len);
        }
    }
    return 1;
}

/* Validate the inputs; 1 if valid, else 0 with a message. */
/* Validate the event templates (et_ptr; the checks that need the hop classes, the sites
 * of each event and its dE, come in events_tmpl_setup); 1 if valid, else 0 with a message. */
static int validate_event_templates(const kmc_network *net, int *status, char *errmsg, size_t errmsg_len)
{
    const int32_t nc = net->n_ev_classes, k = net->et_k;
    int32_t c, q, i, s;
    int64_t total = 0;
    if (net->ev_ptr || net->ev_src || net->ev_dst)
        FAIL("give the multi-ion events either as lists (ev_ptr, ...) or as templates (et_ptr, ...), not both");
    if (net_has_pairs(net) || net->n_clusters > 0 || net->n_local_models > 0)
        FAIL("event templates need a network without pair interactions, clusters and local models");
    if (nc < 1) FAIL("n_ev_classes = %d must be >= 1 with event templates", (int)nc);
    if (k < 2 || k > KMC_MAX_EVENT_MOVES) FAIL("et_k = %d must be in 2..%d", (int)k, KMC_MAX_EVENT_MOVES);
    if (net->n_event_types < 1) FAIL("n_event_types = %d must be >= 1", (int)net->n_event_types);
    if (!net->ev_class) FAIL("ev_class is required with event templates");
    if (net->et_ptr[0] != 0) FAIL("et_ptr must start at 0");
    for (c = 0; c < nc; c++)
        if (net->et_ptr[c + 1] < net->et_ptr[c]) FAIL("et_ptr is not non-decreasing at event class %d", (int)c);
    if (net->et_ptr[nc] > 0 && (!net->et_slot || !net->et_vec || !net->et_ekra || !net->et_type))
        FAIL("template arrays are required when there are templates");
    for (c = 0; c < nc; c++) {
        uint32_t prev = 0;
        for (q = net->et_ptr[c]; q < net->et_ptr[c + 1]; q++) {
            uint32_t key = 0;
            if (!isfinite(net->et_ekra[q]) || net->et_ekra[q] < 0.0)
                FAIL("et_ekra[%d] = %g must be finite and >= 0", (int)q, net->et_ekra[q]);
            if (net->et_type[q] < 0 || net->et_type[q] >= net->n_event_types)
                FAIL("et_type[%d] = %d outside 0..%d", (int)q, (int)net->et_type[q], (int)(net->n_event_types - 1));
            for (i = 0; i < k; i++) {
                const int32_t sl = net->et_slot[(size_t)q * k + i];
                int d;
                if (sl < 0 || sl >= KMC_MAX_DEGREE)
                    FAIL("et_slot[%d] = %d outside 0..%d", (int)((size_t)q * k + i), (int)sl, KMC_MAX_DEGREE - 1);
                key = (key << KMC_ET_BITS) | (uint32_t)sl;
                for (d = 0; d < 3; d++)
                    if (!isfinite(net->et_vec[3 * ((size_t)q * k + i) + d])) FAIL("template %d has a non-finite vector", (int)q);
            }
            if (q > net->et_ptr[c] && key <= prev)
                FAIL("the templates of event class %d are not sorted by their slot paths, without repeats, at template %d",
                     (int)c, (int)q);
            prev = key;
        }
    }
    for (s = 0; s < net->n_sites; s++) {
        c = net->ev_class[s];
        if (c < 0 || c >= nc) FAIL("ev_class[%d] = %d outside 0..%d", (int)s, (int)c, (int)(nc - 1));
        total += net->et_ptr[c + 1] - net->et_ptr[c];
    }
    if (total != net->n_events)
        FAIL("n_events = %d, but the sites' event classes hold %lld events", (int)net->n_events, (long long)total);
    return 1;
}

static int validate(const kmc_network *net, const kmc_params *p, int32_t n_ions,
                    const int32_t *ion_site, int *status, char *errmsg, size_t errmsg_len)
{
    int32_t s, h, a, n = net->n_sites;
    int d;
    if (!(p->temperature_K > 0.0) || !isfinite(p->temperature_K))
        FAIL("temperature_K = %g must be finite and > 0", p->temperature_K);
    if (!isfinite(1.0 / (KMC_KB_EV_PER_K * p->temperature_K))) /* beta = inf: rates 0 * inf = NaN */
        FAIL("temperature_K = %g is too small", p->temperature_K);
    if (!(p->attempt_frequency_Hz > 0.0) || !isfinite(p->attempt_frequency_Hz))
        FAIL("attempt_frequency_Hz = %g must be finite and > 0", p->attempt_frequency_Hz);
    if (p->attempt_frequency_Hz > KMC_MAX_ATTEMPT_FREQUENCY_HZ) /* sums of rates must stay finite */
        FAIL("attempt_frequency_Hz = %g is above %g Hz", p->attempt_frequency_Hz, KMC_MAX_ATTEMPT_FREQUENCY_HZ);
    if (p->mode < KMC_MODE_AUTO || p->mode > KMC_MODE_UNIFORM)
        FAIL("mode = %d must be 0 (auto), 1 (tree), 2 (count) or 3 (uniform)", p->mode);
    if (!kmc_rate_law_str(p->rate_law)) {
        char known[128];
        size_t len = 0;
        int law;
        known[0] = '\0';
        for (law = 0; law < KMC_N_RATE_LAWS && len < sizeof(known); law++)
            len += (size_t)snprintf(known + len, sizeof(known) - len, "%s%d (%s)", law ? ", " : "", law,
                                    kmc_rate_law_str(law));
        FAIL("rate_law = %d is not a known rate law; known: %s", p->rate_law, known);
    }
    if (p->mode == KMC_MODE_UNIFORM && (net->n_events > 0 || net_has_pairs(net) ||
                                        net->n_clusters > 0 || net->n_local_models > 0))
        FAIL("mode uniform needs a network without pair interactions, clusters, local models and multi-ion events");
    if (!isfinite(p->charge_e)) FAIL("charge_e = %g must be finite", p->charge_e);
    for (d = 0; d < 3; d++)
        if (!isfinite(p->field_V_per_A[d])) FAIL("field component %d = %g is not finite", d, p->field_V_per_A[d]);
    if (n < 1) FAIL("n_sites = %d must be >= 1", (int)n);
    if (net->n_hops < 0) FAIL("n_hops = %d must be >= 0", (int)net->n_hops);
    if (net->n_hop_types < 1) FAIL("n_hop_types = %d must be >= 1", (int)net->n_hop_types);
    if (!net->site_energy) FAIL("site_energy is required");
    if (net->site_template) {
        if (!validate_templates(net, status, errmsg, errmsg_len)) return 0;
        if (net->n_events < 0) FAIL("n_events = %d must be >= 0", (int)net->n_events);
        if (net->et_ptr && !validate_event_templates(net, status, errmsg, errmsg_len)) return 0;
        goto ions;
    }
    if (!net->hop_ptr) FAIL("hop_ptr (or site_template) is required");
    if (net->n_hops > 0 && (!net->hop_dst || !net->hop_rev || !net->hop_type || !net->hop_vec || !net->hop_ekra))
        FAIL("hop arrays are required when n_hops > 0");
    if (net->hop_ptr[0] != 0 || net->hop_ptr[n] != net->hop_ptr[0] + net->n_hops)
        FAIL("hop_ptr must start at 0 and end at n_hops = %d", (int)net->n_hops);
    /* offsets first: the loop below reads hops up to hop_ptr[s + 1] and hop_ptr[j + 1] */
    for (s = 0; s < n; s++)
        if (net->hop_ptr[s + 1] < net->hop_ptr[s]) FAIL("hop_ptr is not non-decreasing at site %d", (int)s);
    for (s = 0; s < n; s++) {
        int32_t deg = net->hop_ptr[s + 1] - net->hop_ptr[s];
        if (deg < 0) FAIL("hop_ptr is not non-decreasing at site %d", (int)s);
        if (deg > KMC_MAX_DEGREE) FAIL("site %d has %d hops; at most %d are supported", (int)s, (int)deg, KMC_MAX_DEGREE);
        if (!isfinite(net->site_energy[s])) FAIL("site_energy[%d] = %g is not finite", (int)s, net->site_energy[s]);
        for (h = net->hop_ptr[s]; h < net->hop_ptr[s + 1]; h++) {
            int32_t j = net->hop_dst[h], r = net->hop_rev[h];
            if (j < 0 || j >= n) FAIL("hop %d goes to site %d, outside 0..%d", (int)h, (int)j, (int)(n - 1));
            if (j == s) FAIL("hop %d goes from site %d to itself", (int)h, (int)s);
            if (r < net->hop_ptr[j] || r >= net->hop_ptr[j + 1] || net->hop_dst[r] != s || net->hop_rev[r] != h)
                FAIL("hop %d (%d -> %d) has no valid reverse hop (hop_rev = %d)", (int)h, (int)s, (int)j, (int)r);
            if (net->hop_type[h] < 0 || net->hop_type[h] >= net->n_hop_types)
                FAIL("hop_type[%d] = %d outside 0..%d", (int)h, (int)net->hop_type[h], (int)(net->n_hop_types - 1));
            if (!isfinite(net->hop_ekra[h]) || net->hop_ekra[h] < 0.0)
                FAIL("hop_ekra[%d] = %g must be finite and >= 0", (int)h, net->hop_ekra[h]);
            if (net->hop_ekra[h] != net->hop_ekra[r])
                FAIL("hop %d and its reverse %d have different barriers", (int)h, (int)r);
            for (d = 0; d < 3; d++) {
                double v = net->hop_vec[3 * h + d];
                if (!isfinite(v)) FAIL("hop_vec[%d][%d] is not finite", (int)h, d);
                if (fabs(v + net->hop_vec[3 * r + d]) > 1e-6 * (1.0 + fabs(v)))
                    FAIL("hop %d and its reverse %d do not have opposite vectors", (int)h, (int)r);
            }
        }
    }
    if (net->int_ptr) {
        if (!net->hop_J && net->n_hops > 0) FAIL("hop_J is required with interactions");
        if (net->int_ptr[0] != 0) FAIL("int_ptr must start at 0");
        for (s = 0; s < n; s++) /* offsets first: int_ptr[n] is the length of the lists */
            if (net->int_ptr[s + 1] < net->int_ptr[s]) FAIL("int_ptr is not non-decreasing at site %d", (int)s);
        if (net->int_ptr[n] > 0 && (!net->int_nbr || !net->int_J)) FAIL("int_nbr and int_J are required with interactions");
        for (s = 0; s < n; s++) {
            if (net->int_ptr[s + 1] < net->int_ptr[s]) FAIL("int_ptr is not non-decreasing at site %d", (int)s);
            for (a = net->int_ptr[s]; a < net->int_ptr[s + 1]; a++) {
                if (net->int_nbr[a] < 0 || net->int_nbr[a] >= n || net->int_nbr[a] == s)
                    FAIL("interaction neighbour %d of site %d is invalid", (int)net->int_nbr[a], (int)s);
                if (!isfinite(net->int_J[a])) FAIL("interaction energy %d is not finite", (int)a);
            }
        }
        for (h = 0; h < net->n_hops; h++)
            if (!isfinite(net->hop_J[h])) FAIL("hop_J[%d] is not finite", (int)h);
    }
    if (!validate_clusters(net, status, errmsg, errmsg_len)) return 0;
    if (!validate_local_models(net, status, errmsg, errmsg_len)) return 0;
    if (net->n_events < 0) FAIL("n_events = %d must be >= 0", (int)net->n_events);
    if (net->et_ptr) {
        if (!validate_event_templates(net, status, errmsg, errmsg_len)) return 0;
    } else if (net->n_events > 0) {
        int32_t v, m, q;
        if (!net->ev_ptr || !net->ev_src || !net->ev_dst || !net->ev_vec || !net->ev_ekra || !net->ev_type)
            FAIL("event arrays are required when n_events > 0");
        if (net->n_event_types < 1) FAIL("n_event_types = %d must be >= 1", (int)net->n_event_types);
        if (net->ev_ptr[0] != 0) FAIL("ev_ptr must start at 0");
        if (net->ev_vidx) { /* the table's rows once, then each move's row index */
            int64_t i;
            if (net->n_ev_vecs < 1) FAIL("n_ev_vecs = %d must be >= 1 with ev_vidx", (int)net->n_ev_vecs);
            for (i = 0; i < 3 * (int64_t)net->n_ev_vecs; i++)
                if (!isfinite(net->ev_vec[i])) FAIL("event vector row %d is not finite", (int)(i / 3));
        }
        for (v = 0; v < net->n_events; v++) /* offsets first: ev_ptr[n_events] is the number of moves */
            if (net->ev_ptr[v + 1] < net->ev_ptr[v]) FAIL("ev_ptr is not non-decreasing at event %d", (int)v);
        for (v = 0; v < net->n_events; v++) {
            const int32_t b = net->ev_ptr[v], k = net->ev_ptr[v + 1] - b;
            if (k < 1 || k > KMC_MAX_EVENT_MOVES)
                FAIL("event %d has %d moves; 1..%d are supported", (int)v, (int)k, KMC_MAX_EVENT_MOVES);
            if (!isfinite(EV_EKRA(net, v)) || EV_EKRA(net, v) < 0.0)
                FAIL("ev_ekra[%d] = %g must be finite and >= 0", (int)v, EV_EKRA(net, v));
            if (net->ev_type[v] < 0 || net->ev_type[v] >= net->n_event_types)
                FAIL("ev_type[%d] = %d outside 0..%d", (int)v, (int)net->ev_type[v], (int)(net->n_event_types - 1));
            for (m = 0; m < k; m++) {
                const int32_t a0 = net->ev_src[b + m], b0 = net->ev_dst[b + m];
                if (a0 < 0 || a0 >= n || b0 < 0 || b0 >= n)
                    FAIL("event %d moves %d -> %d, outside 0..%d", (int)v, (int)a0, (int)b0, (int)(n - 1));
                if (a0 == b0) FAIL("event %d moves an ion from site %d to itself", (int)v, (int)a0);
                if (net->ev_vidx) {
                    if (net->ev_vidx[b + m] < 0 || net->ev_vidx[b + m] >= net->n_ev_vecs)
                        FAIL("event %d: vector row %d outside 0..%d", (int)v, (int)net->ev_vidx[b + m],
                             (int)(net->n_ev_vecs - 1));
                } else {
                    for (d = 0; d < 3; d++)
                        if (!isfinite(net->ev_vec[3 * (b + m) + d])) FAIL("event %d has a non-finite vector", (int)v);
                }
                for (q = 0; q < m; q++) {
                    if (net->ev_src[b + q] == a0) FAIL("event %d moves two ions from site %d", (int)v, (int)a0);
                    if (net->ev_dst[b + q] == b0) FAIL("event %d moves two ions to site %d", (int)v, (int)b0);
                }
            }
        }
    }
ions:
    /* every hop's static energy change is a number: finite energies and field can still
     * overflow to inf - inf (its rate would be NaN) */
    for (s = 0; s < n; s++)
        for (h = 0; h < net_deg(net, s); h++) {
            hop_view v;
            net_hop(net, s, h, &v);
            if (isnan(hop_de0(net, p, s, &v)))
                FAIL("hop %d of site %d (to site %d) has no energy change: E_dst - E_src - q F . d overflows "
                     "(site energies %g and %g eV, q = %g e, field (%g, %g, %g) V/Angstrom)", (int)h, (int)s,
                     (int)v.dst, net->site_energy[v.dst], net->site_energy[s], p->charge_e, p->field_V_per_A[0],
                     p->field_V_per_A[1], p->field_V_per_A[2]);
        }
    if (n_ions < 0 || n_ions > n) FAIL("n_ions = %d must be between 0 and n_sites = %d", (int)n_ions, (int)n);
    for (a = 0; a < n_ions; a++)
        if (ion_site[a] < 0 || ion_site[a] >= n) FAIL("ion %d is on site %d, outside 0..%d", (int)a, (int)ion_site[a], (int)(n - 1));
    return 1;
}

/* Rate class of a rate (counting mode), KMC_NO_RC for a zero rate. */
static uint8_t rate_class(const kmc_engine *e, double rate)
{
    int v;
    if (!(rate > 0.0)) return KMC_NO_RC;
    for (v = 0; v < e->cnt.n_rc; v++)
        if (dbits(e->cnt.rc_rate[v]) == dbits(rate)) return (uint8_t)v;
    return KMC_NO_RC; /* not reached: every positive rate has a class */
}

/* Interacting mode: what site s's class holds beyond its hop destinations, relative to s:
 * per hop the bits of E_kra, static dE and J, and with local models the hop's environment
 * (offsets); the interaction list (offsets, bits of J); with local models the
 * dependents (offsets). Written to *buf (grown as needed); its length, or -1 out of memory.
 * ia_classes_copy reads it back. */
static int64_t ia_site_record(const kmc_network *net, const kmc_params *p, int32_t s, const int32_t *dep_ptr,
                              const int32_t *dep, int64_t **buf, size_t *cap)
{
    const int32_t deg = net_deg(net, s), lm = net->n_local_models > 0;
    int_view iv;
    size_t need, w = 0;
    int32_t k, q;
    hop_view v;
    net_ints(net, s, &iv);
    need = 3 + 3 * (size_t)deg + 2 * (size_t)(iv.a1 - iv.a0);
    if (lm) {
        need += (size_t)deg + (size_t)(dep_ptr[s + 1] - dep_ptr[s]);
        for (k = 0; k < deg; k++) {
            net_hop(net, s, k, &v);
            need += (size_t)(net->env_ptr[v.id + 1] - net->env_ptr[v.id]);
        }
    }
    if (need > *cap) {
        int64_t *b = (int64_t *)realloc(*buf, need * 2 * sizeof(int64_t));
        if (!b) return -1;
        *buf = b;
        *cap = need * 2;
    }
    (*buf)[w++] = deg;
    for (k = 0; k < deg; k++) {
        net_hop(net, s, k, &v);
        (*buf)[w++] = dbits(v.ekra);
        (*buf)[w++] = dbits(hop_de0(net, p, s, &v));
        (*buf)[w++] = dbits(net_hop_J(net, &v));
        if (lm) { /* (the hops' models are the site's: e->ia.smod) */
            (*buf)[w++] = net->env_ptr[v.id + 1] - net->env_ptr[v.id];
            for (q = net->env_ptr[v.id]; q < net->env_ptr[v.id + 1]; q++) (*buf)[w++] = (int64_t)net->env_site[q] - s;
        }
    }
    (*buf)[w++] = iv.a1 - iv.a0;
    for (q = iv.a0; q < iv.a1; q++) {
        (*buf)[w++] = (int64_t)int_nbr(&iv, s, q) - s;
        (*buf)[w++] = dbits(iv.J[q]);
    }
    if (lm) {
        (*buf)[w++] = dep_ptr[s + 1] - dep_ptr[s];
        for (q = dep_ptr[s]; q < dep_ptr[s + 1]; q++) (*buf)[w++] = (int64_t)dep[q] - s;
    }
    return (int64_t)w;
}

/* Interacting mode: the classes' static data (e->ia: chd, the interaction lists, and with
 * local models the hops' environments and the dependents) from the records of
 * ia_site_record, class r's being A's record ia_rec[r]. 0, or -1 out of memory. */
static int ia_classes_copy(kmc_engine *e, const interner *A, const int32_t *ia_rec, int lm)
{
    int32_t r, k, q, n_int = 0, n_env = 0, n_dep = 0;
    int fail = 0, pass;
    e->ia.chd = (kmc_ia_chop *)xalloc(e, (size_t)e->n_chop, sizeof(kmc_ia_chop), &fail);
    e->ia.cint_ptr = (int32_t *)xalloc(e, (size_t)e->n_cls + 1, sizeof(int32_t), &fail);
    if (lm) {
        e->ia.cenv_ptr = (int32_t *)xalloc(e, (size_t)e->n_chop + 1, sizeof(int32_t), &fail);
        e->ia.cdep_ptr = (int32_t *)xalloc(e, (size_t)e->n_cls + 1, sizeof(int32_t), &fail);
    }
    if (fail) return -1;
    for (pass = 0; pass < 2; pass++) { /* count, then fill */
        n_int = n_env = n_dep = 0;
        for (r = 0; r < e->n_cls; r++) {
            const int64_t *x = intern_rec(A, ia_rec[r]);
            const int32_t deg = (int32_t)x[0], q0 = e->cls[r].hop;
            int32_t w = 1, len;
            for (k = 0; k < deg; k++) {
                if (pass) {
                    kmc_ia_chop *hd = e->ia.chd + q0 + k;
                    hd->ekra = bitsd(x[w]);
                    hd->de0 = bitsd(x[w + 1]);
                    hd->J = bitsd(x[w + 2]);
                }
                w += 3;
                if (lm) {
                    len = (int32_t)x[w];
                    if (pass) {
                        e->ia.cenv_ptr[q0 + k] = n_env;
                        for (q = 0; q < len; q++) e->ia.cenv_off[n_env + q] = (int32_t)x[w + 1 + q];
                    }
                    n_env += len;
                    w += 1 + len;
                }
            }
            len = (int32_t)x[w++];
            if (pass) {
                e->ia.cint_ptr[r] = n_int;
                for (q = 0; q < len; q++) {
                    e->ia.cint_off[n_int + q] = (int32_t)x[w + 2 * q];
                    e->ia.cint_J[n_int + q] = bitsd(x[w + 2 * q + 1]);
                }
            }
            n_int += len;
            w += 2 * len;
            if (lm) {
                len = (int32_t)x[w++];
                if (pass) {
                    e->ia.cdep_ptr[r] = n_dep;
                    for (q = 0; q < len; q++) e->ia.cdep_off[n_dep + q] = (int32_t)x[w + q];
                }
                n_dep += len;
            }
        }
        if (!pass) {
            e->ia.cint_off = (int32_t *)xalloc(e, (size_t)n_int, sizeof(int32_t), &fail);
            e->ia.cint_J = (double *)xalloc(e, (size_t)n_int, sizeof(double), &fail);
            if (lm) {
                e->ia.cenv_off = (int32_t *)xalloc(e, (size_t)n_env, sizeof(int32_t), &fail);
                e->ia.cdep_off = (int32_t *)xalloc(e, (size_t)n_dep, sizeof(int32_t), &fail);
            }
            if (fail) return -1;
        }
    }
    e->ia.cint_ptr[e->n_cls] = n_int;
    if (lm) {
        e->ia.cenv_ptr[e->n_chop] = n_env;
        e->ia.cdep_ptr[e->n_cls] = n_dep;
    }
    return 0;
}

/*
 * Build the deduplicated network: hop classes, rate lists (+ their sum tables) and
 * site classes; *counting receives whether the count solver is possible (its rate
 * classes, e->cnt, are then part of the site classes). Returns 0, or -1 when out of memory.
 */
static int build_classes(kmc_engine *e, const kmc_network *net, const kmc_params *p, const int32_t *dep_ptr,
                         const int32_t *dep, int *counting)
{
    interner H, P, C, A;
    int64_t *ibuf = NULL;
    size_t icap = 0;
    int32_t *ia_rec = NULL;
    int64_t rec[2 + 2 * KMC_MAX_DEGREE];
    int32_t hcl[KMC_MAX_DEGREE];
    double rt[KMC_MAX_DEGREE];
    int32_t *ptab = NULL, s, k, r;
    hop_view v, w;
    int fail = 0, d, ok = -1;
    const int32_t n = net->n_sites;
    memset(&H, 0, sizeof(H));
    memset(&P, 0, sizeof(P));
    memset(&C, 0, sizeof(C));
    memset(&A, 0, sizeof(A));
    if (intern_init(&H) || intern_init(&P) || intern_init(&C) || intern_init(&A)) goto done;

    /* No per-hop scratch arrays: hop classes and rates are recomputed per site (the
     * interners return the same index for the same record), so set-up needs no memory
     * per hop beyond what the engine keeps. */
    if (e->interacting) {
        /* (the static hop data go into the site classes: ia_site_record) */
    } else {
        /* counting mode: few distinct positive rates (in order of first appearance) */
        int32_t maxdeg = 0;
        for (s = 0; s < n; s++)
            if (net_deg(net, s) > maxdeg) maxdeg = net_deg(net, s);
        *counting = (uint64_t)n * (uint64_t)maxdeg < ((uint64_t)1 << 31) && net->n_events == 0;
        e->cnt.n_rc = 0;
        for (s = 0; s < n && *counting; s++) {
            const int32_t deg = net_deg(net, s);
            for (k = 0; k < deg && *counting; k++) {
                double rate;
                net_hop(net, s, k, &v);
                /* precomputed once: nothing in the configuration can change it */
                rate = kmc_rate(&e->rp, v.ekra, hop_de0(net, p, s, &v));
                if (!(rate > 0.0) || rate_class(e, rate) != KMC_NO_RC) continue;
                if (e->cnt.n_rc == KMC_MAX_RCLASS) *counting = 0;
                else e->cnt.rc_rate[e->cnt.n_rc++] = rate;
            }
        }
        if (e->cnt.n_rc == 0) *counting = 0;
    }
    /* hop classes, rate lists and site classes */
    for (s = 0; s < n; s++) {
        const int32_t deg = net_deg(net, s);
        int32_t pat = -1;
        for (k = 0; k < deg; k++) {
            net_hop(net, s, k, &v);
            for (d = 0; d < 3; d++) rec[d] = dbits(v.vec[d]);
            rec[3] = v.type;
            if ((hcl[k] = intern(&H, rec, 4)) < 0) goto done;
            if (!e->interacting) rt[k] = kmc_rate(&e->rp, v.ekra, hop_de0(net, p, s, &v));
        }
        if (!e->interacting) {
            for (k = 0; k < deg; k++) rec[k] = dbits(rt[k]);
            if ((pat = intern(&P, rec, (size_t)deg)) < 0) goto done;
        } else {
            const int64_t len = ia_site_record(net, p, s, dep_ptr, dep, &ibuf, &icap);
            if (len < 0 || (pat = intern(&A, ibuf, (size_t)len)) < 0) goto done;
        }
        rec[0] = pat;
        for (k = 0; k < deg; k++) {
            net_hop(net, s, k, &v);
            rec[1 + 2 * k] = (int64_t)v.dst - s;
            rec[2 + 2 * k] = ((int64_t)hcl[k] << 24) | (int64_t)v.rev;
            if (*counting) {
                net_hop(net, v.dst, v.rev, &w);
                rec[2 + 2 * k] |= ((int64_t)rate_class(e, rt[k]) << 16) |
                                  ((int64_t)rate_class(e, kmc_rate(&e->rp, w.ekra, hop_de0(net, p, v.dst, &w))) << 8);
            }
        }
        if ((r = intern(&C, rec, 1 + 2 * (size_t)deg)) < 0) goto done;
        e->site[s].cls = r;
    }

    /* copy out */
    e->n_hc = H.n;
    e->hc_vec = (double *)xalloc(e, (size_t)H.n * 4, sizeof(double), &fail);
    e->hc_type = (int32_t *)xalloc(e, (size_t)H.n, sizeof(int32_t), &fail);
    e->n_cls = C.n;
    e->cls = (kmc_class *)xalloc(e, (size_t)C.n, sizeof(kmc_class), &fail);
    e->n_chop = (int32_t)((C.nw - (size_t)C.n) / 2);
    e->chop = (kmc_chop *)xalloc(e, (size_t)e->n_chop, sizeof(kmc_chop), &fail);
    e->chc = (int32_t *)xalloc(e, (size_t)e->n_chop, sizeof(int32_t), &fail);
    if (*counting) {
        e->cnt.chv = (uint8_t *)xalloc(e, (size_t)e->n_chop, 1, &fail);
        e->cnt.crv = (uint8_t *)xalloc(e, (size_t)e->n_chop, 1, &fail);
    }
    if (!e->interacting) {
        int32_t maxdeg = 0;
        size_t ntab = 0;
        e->n_rates = (int32_t)P.nw;
        e->rate = (double *)xalloc(e, P.nw, sizeof(double), &fail);
        for (r = 0; r < P.n; r++) {
            const int32_t deg = (int32_t)intern_len(&P, r);
            if (deg > maxdeg) maxdeg = deg;
            ntab += (size_t)1 << (deg < KMC_TAB_MAXDEG ? deg : KMC_TAB_MAXDEG);
        }
        if (maxdeg <= KMC_TAB_MAXDEG && ntab <= KMC_TAB_BUDGET) {
            e->n_tab = (int32_t)ntab;
            e->tab = (double *)xalloc(e, ntab, sizeof(double), &fail);
        }
    }
    if (fail) goto done;
    if (e->interacting && !(ia_rec = (int32_t *)malloc(((size_t)C.n + 1) * sizeof(int32_t)))) goto done;
    if (e->tab && !(ptab = (int32_t *)malloc((size_t)P.n * sizeof(int32_t)))) goto done;
    for (r = 0; r < H.n; r++) {
        const int64_t *x = intern_rec(&H, r);
        double *hv = e->hc_vec + 4 * (size_t)r;
        hv[0] = bitsd(x[0]);
        hv[1] = bitsd(x[1]);
        hv[2] = bitsd(x[2]);
        hv[3] = hv[0] * hv[0] + hv[1] * hv[1] + hv[2] * hv[2];
        e->hc_type[r] = (int32_t)x[3];
    }
    if (!e->interacting) {
        int32_t t = 0;
        for (r = 0; r < P.n; r++) {
            const int32_t deg = (int32_t)intern_len(&P, r);
            const int64_t *x = intern_rec(&P, r);
            for (k = 0; k < deg; k++) e->rate[P.start[r] + (size_t)k] = bitsd(x[k]);
        }
        /* the rate-sum table of each rate list, in order; ptab[r] is where list r's starts */
        if (e->tab) {
            for (r = 0; r < P.n; r++) {
                const int32_t deg = (int32_t)intern_len(&P, r);
                uint64_t a;
                ptab[r] = t;
                for (a = 0; a < ((uint64_t)1 << deg); a++)
                    e->tab[t + (int32_t)a] = sum_allowed(e->rate + P.start[r], a);
                t += (int32_t)1 << deg;
            }
        }
    }
    {
        int32_t hop = 0;
        for (r = 0; r < C.n; r++) {
            const int64_t *x = intern_rec(&C, r);
            const int32_t deg = (int32_t)((intern_len(&C, r) - 1) / 2);
            kmc_class *c = e->cls + r;
            c->hop = hop;
            c->deg = deg;
            c->rate = -1;
            c->tab = -1;
            if (e->interacting) {
                ia_rec[r] = (int32_t)x[0];
            } else if (x[0] >= 0) {
                const int32_t pr = (int32_t)x[0];
                c->rate = (int32_t)P.start[pr];
                if (e->tab) c->tab = ptab[pr];
            }
            for (k = 0; k < deg; k++) {
                e->chop[hop + k].doff = (int32_t)x[1 + 2 * k];
                e->chop[hop + k].rev = (int32_t)(x[2 + 2 * k] & 0xff);
                e->chc[hop + k] = (int32_t)(x[2 + 2 * k] >> 24);
                if (*counting) {
                    e->cnt.chv[hop + k] = (uint8_t)((x[2 + 2 * k] >> 16) & 0xff);
                    e->cnt.crv[hop + k] = (uint8_t)((x[2 + 2 * k] >> 8) & 0xff);
                }
            }
            hop += deg;
        }
    }
    if (e->interacting && ia_classes_copy(e, &A, ia_rec, net->n_local_models > 0) != 0) goto done;
    ok = 0;
done:
    free(ptab);
    free(ia_rec);
    free(ibuf);
    intern_free(&A);
    intern_free(&H);
    intern_free(&P);
    intern_free(&C);
    return ok;
}

/* ---- multi-ion events (creation only) ---- */

/* The displacement (3 doubles) of move m: its own row, or its row of the table (ev_vidx). */
static inline const double *move_vec(const kmc_network *net, int32_t m)
{
    return net->ev_vec + 3 * (size_t)(net->ev_vidx ? net->ev_vidx[m] : m);
}

/* Hash of event v's class record: type, move count and the bits of the move vectors. */
static uint64_t event_hash(const kmc_network *net, int32_t v)
{
    const int32_t b = net->ev_ptr[v], k = net->ev_ptr[v + 1] - b;
    uint64_t h = ((uint64_t)(uint32_t)net->ev_type[v] << 8) ^ (uint64_t)k;
    int32_t m, d;
    for (m = 0; m < k; m++) {
        const double *x = move_vec(net, b + m);
        for (d = 0; d < 3; d++) h = (h ^ (uint64_t)dbits(x[d])) * UINT64_C(0x9E3779B97F4A7C15);
    }
    h ^= h >> 29;
    h *= UINT64_C(0xBF58476D1CE4E5B9);
    return h ^ (h >> 32);
}

/* Events v and r have the same class record (vectors compared bit for bit). */
static int same_event_class(const kmc_network *net, int32_t v, int32_t r)
{
    const int32_t bv = net->ev_ptr[v], k = net->ev_ptr[v + 1] - bv, br = net->ev_ptr[r];
    int32_t m, d;
    if (net->ev_type[v] != net->ev_type[r] || net->ev_ptr[r + 1] - br != k) return 0;
    for (m = 0; m < k; m++) {
        const double *x = move_vec(net, bv + m), *y = move_vec(net, br + m);
        if (net->ev_vidx && net->ev_vidx[bv + m] == net->ev_vidx[br + m]) continue; /* one row */
        for (d = 0; d < 3; d++)
            if (dbits(x[d]) != dbits(y[d])) return 0;
    }
    return 1;
}

/* The class of every event (e->ev.cls, ids in order of first appearance) and one
 * representative event per class (*reps, malloc'd, e->ev.n_ecls of them). Open addressing
 * over the representatives: no copies of the records. Returns 0, or -1 when out of memory. */
static int event_classes_by_rows(kmc_engine *e, const kmc_network *net, int32_t **reps);

#define KMC_DENSE_CLASS_KEYS (1 << 20) /* largest table of event_classes_dense */

/* event_classes_by_rows when the records (type, move count, row ids of the moves) take
 * few values: each record's number in a table of all of them (ids in order of first
 * appearance, as the interner gives them) instead of hashing 30 million records. row[]
 * holds the move rows' ids (0..n_rows-1); *rep, *cap and *nc as there. Returns 0 when done,
 * 1 when the records could take too many values (nothing changed), -1 out of memory. */
static int event_classes_dense(kmc_engine *e, const kmc_network *net, const int32_t *row,
                               int32_t n_rows, int32_t **rep, int32_t *cap, int32_t *nc)
{
    int32_t v, m, kmax = 0, *tab;
    int64_t keys = 1, width = 1;
    for (v = 0; v < net->n_events; v++) {
        const int32_t k = net->ev_ptr[v + 1] - net->ev_ptr[v];
        if (k > kmax) kmax = k;
    }
    for (m = 0; m < kmax; m++) {
        width *= (int64_t)n_rows;
        if (width > KMC_DENSE_CLASS_KEYS) return 1;
    }
    /* key = ((type * (KMC_MAX_EVENT_MOVES + 1) + k) * n_rows + r_0) * n_rows + ... + r_{kmax-1},
     * the rows of a shorter event padded with 0 */
    keys = (int64_t)net->n_event_types * (KMC_MAX_EVENT_MOVES + 1) * width;
    if (keys > KMC_DENSE_CLASS_KEYS) return 1;
    tab = (int32_t *)malloc((size_t)keys * sizeof(int32_t));
    if (!tab) return -1;
    for (m = 0; m < keys; m++) tab[m] = -1;
    for (v = 0; v < net->n_events; v++) {
        const int32_t b = net->ev_ptr[v], k = net->ev_ptr[v + 1] - b;
        int64_t key = (int64_t)net->ev_type[v] * (KMC_MAX_EVENT_MOVES + 1) + k;
        for (m = 0; m < kmax; m++) key = key * n_rows + (m < k ? row[net->ev_vidx[b + m]] : 0);
        if (tab[key] < 0) { /* a new class: v represents it */
            if (*nc == *cap) {
                int32_t *p = (int32_t *)realloc(*rep, 2 * (size_t)*cap * sizeof(int32_t));
                if (!p) {
                    free(tab);
                    return -1;
                }
                *rep = p;
                *cap *= 2;
            }
            (*rep)[*nc] = v;
            tab[key] = (*nc)++;
        }
        e->ev.cls[v] = tab[key];
    }
    free(tab);
    return 0;
}

static int event_classes(kmc_engine *e, const kmc_network *net, int32_t **reps)
{
    if (net->ev_vidx) return event_classes_by_rows(e, net, reps);
    {
    size_t n_slots = 64, mask = n_slots - 1, i;
    int32_t *slot = (int32_t *)malloc(n_slots * sizeof(int32_t)), *rep = (int32_t *)malloc(32 * sizeof(int32_t));
    int32_t nc = 0, cap = 32, v, r, prev = -1;
    *reps = NULL;
    if (!slot || !rep) goto fail;
    for (i = 0; i < n_slots; i++) slot[i] = -1;
    for (v = 0; v < net->n_events; v++) {
        if (prev >= 0 && same_event_class(net, v, rep[prev])) { /* runs of one class */
            e->ev.cls[v] = prev;
            continue;
        }
        i = (size_t)event_hash(net, v) & mask;
        while ((r = slot[i]) >= 0 && !same_event_class(net, v, rep[r])) i = (i + 1) & mask;
        if (r < 0) { /* a new class */
            if (nc == cap) {
                int32_t *p = (int32_t *)realloc(rep, 2 * (size_t)cap * sizeof(int32_t));
                if (!p) goto fail;
                rep = p;
                cap *= 2;
            }
            rep[nc] = v;
            slot[i] = r = nc++;
            if ((size_t)nc * 2 > n_slots) { /* grow and rehash */
                int32_t *ns = (int32_t *)malloc(2 * n_slots * sizeof(int32_t)), x;
                if (!ns) goto fail;
                n_slots *= 2;
                mask = n_slots - 1;
                for (i = 0; i < n_slots; i++) ns[i] = -1;
                for (x = 0; x < nc; x++) {
                    i = (size_t)event_hash(net, rep[x]) & mask;
                    while (ns[i] >= 0) i = (i + 1) & mask;
                    ns[i] = x;
                }
                free(slot);
                slot = ns;
            }
        }
        e->ev.cls[v] = prev = r;
    }
    free(slot);
    e->ev.n_ecls = nc;
    *reps = rep;
    return 0;
fail:
    free(slot);
    free(rep);
    return -1;
    }
}

/* event_classes with a table of vectors (ev_vidx): the table's rows are interned first
 * (rows with the same bits share an id), then each event's record (type and move count,
 * the row ids of its moves): the same classes, ids in order of first appearance, without
 * reading 3 doubles per move. */
static int event_classes_by_rows(kmc_engine *e, const kmc_network *net, int32_t **reps)
{
    interner R, C;
    int32_t *row = NULL, *rep = NULL, cap = 32, v, m, nc = 0, prev = -1;
    int64_t rec[1 + KMC_MAX_EVENT_MOVES], last[1 + KMC_MAX_EVENT_MOVES];
    int ok = -1;
    *reps = NULL;
    if (intern_init(&R) != 0) return -1;
    if (intern_init(&C) != 0) {
        intern_free(&R);
        return -1;
    }
    row = (int32_t *)malloc((size_t)net->n_ev_vecs * sizeof(int32_t));
    rep = (int32_t *)malloc((size_t)cap * sizeof(int32_t));
    if (!row || !rep) goto done;
    for (v = 0; v < net->n_ev_vecs; v++) {
        int64_t w[3];
        int d;
        for (d = 0; d < 3; d++) w[d] = dbits(net->ev_vec[3 * (size_t)v + (size_t)d]);
        if ((row[v] = intern(&R, w, 3)) < 0) goto done;
    }
    { /* few distinct records (lattices): a table of them instead of the interner */
        const int dense = event_classes_dense(e, net, row, R.n, &rep, &cap, &nc);
        if (dense < 0) goto done;
        if (dense == 0) goto classed;
    }
    for (v = 0; v < net->n_events; v++) {
        const int32_t b = net->ev_ptr[v], k = net->ev_ptr[v + 1] - b;
        int32_t c, same = prev >= 0;
        rec[0] = ((int64_t)net->ev_type[v] << 8) ^ (int64_t)k; /* k: the record's length */
        for (m = 0; m < k; m++) rec[1 + m] = row[net->ev_vidx[b + m]];
        for (m = 0; m <= k && same; m++) same = rec[m] == last[m];
        if (same) { /* runs of one class */
            e->ev.cls[v] = prev;
            continue;
        }
        if ((c = intern(&C, rec, (size_t)(1 + k))) < 0) goto done;
        if (c == nc) { /* a new class: v represents it */
            if (nc == cap) {
                int32_t *p = (int32_t *)realloc(rep, 2 * (size_t)cap * sizeof(int32_t));
                if (!p) goto done;
                rep = p;
                cap *= 2;
            }
            rep[nc++] = v;
        }
        e->ev.cls[v] = prev = c;
        memcpy(last, rec, (size_t)(1 + k) * sizeof(int64_t));
    }
classed:
    e->ev.n_ecls = nc;
    *reps = rep;
    rep = NULL;
    ok = 0;
done:
    free(row);
    free(rep);
    intern_free(&R);
    intern_free(&C);
    return ok;
}

/* The distinct sites event v moves an ion from or to (sources, then the targets that are
 * not sources) into xs; returns their number. */
static int32_t event_sites(const kmc_network *net, int32_t v, int32_t *xs)
{
    const int32_t b = net->ev_ptr[v], k = net->ev_ptr[v + 1] - b;
    int32_t m, w, nx = 0;
    for (m = 0; m < 2 * k; m++) {
        const int32_t x = m < k ? net->ev_src[b + m] : net->ev_dst[b + m - k];
        int32_t dup = 0;
        for (w = 0; w < k && m >= k && !dup; w++) dup = net->ev_src[b + w] == x;
        if (!dup) xs[nx++] = x;
    }
    return nx;
}

/* Copy the multi-ion events, build their classes, static energies and rates, and the
 * site -> event lists (the event solver's init allocates its tree). Returns 0, -1 when
 * out of memory, -2 when an event's static energy change is NaN (message in errmsg). */
static int events_setup(kmc_engine *e, const kmc_network *net, const kmc_params *p, char *errmsg,
                        size_t errmsg_len)
{
    const int32_t n = net->n_sites, ne = net->n_events, nm = net->ev_ptr[ne];
    int32_t v, m, c, *rep = NULL, maxsev = 0;
    double *cfd = NULL; /* field term of each class */
    double last_ekra = 0.0, last_de = 0.0, last_rate = -1.0;
    int fail = 0, d, ok = -1;
    e->ev.n_events = ne;
    e->ev.n_event_types = net->n_event_types;
    if (net->ev_borrow) { /* the caller's arrays, read only (kmc_network: ev_borrow) */
        e->ev.ptr = net->ev_ptr;
        e->ev.src = net->ev_src;
        e->ev.dst = net->ev_dst;
        e->ev.borrowed = 1;
    } else {
        int32_t *ptr = (int32_t *)xalloc(e, (size_t)ne + 1, sizeof(int32_t), &fail);
        int32_t *src = (int32_t *)xalloc(e, (size_t)nm, sizeof(int32_t), &fail);
        int32_t *dst = (int32_t *)xalloc(e, (size_t)nm, sizeof(int32_t), &fail);
        if (ptr) memcpy(ptr, net->ev_ptr, ((size_t)ne + 1) * sizeof(int32_t));
        if (src) memcpy(src, net->ev_src, (size_t)nm * sizeof(int32_t));
        if (dst) memcpy(dst, net->ev_dst, (size_t)nm * sizeof(int32_t));
        e->ev.ptr = ptr;
        e->ev.src = src;
        e->ev.dst = dst;
    }
    e->ev.cls = (int32_t *)xalloc(e, (size_t)ne, sizeof(int32_t), &fail);
    if (e->interacting) {
        e->ev.ekra = (double *)xalloc(e, (size_t)ne, sizeof(double), &fail);
        e->ev.de0 = (double *)xalloc(e, (size_t)ne, sizeof(double), &fail);
    }
    e->ev.sev_ptr = (int32_t *)xalloc(e, (size_t)n + 1, sizeof(int32_t), &fail);
    e->ev.counts = (uint64_t *)xalloc(e, (size_t)net->n_event_types, sizeof(uint64_t), &fail);
    if (fail || event_classes(e, net, &rep) != 0) goto done;

    /* the class table: type, vectors and squared lengths from each class's representative */
    {
        int32_t rows = 0;
        for (c = 0; c < e->ev.n_ecls; c++) rows += net->ev_ptr[rep[c] + 1] - net->ev_ptr[rep[c]];
        e->ev.ecl = (kmc_evclass *)xalloc(e, (size_t)e->ev.n_ecls, sizeof(kmc_evclass), &fail);
        e->ev.ecl_vec = (double *)xalloc(e, (size_t)rows * 4, sizeof(double), &fail);
        cfd = (double *)malloc((size_t)e->ev.n_ecls * sizeof(double));
        if (fail || !cfd) goto done;
        rows = 0;
        for (c = 0; c < e->ev.n_ecls; c++) {
            const int32_t b = net->ev_ptr[rep[c]], k = net->ev_ptr[rep[c] + 1] - b;
            double fd = 0.0;
            e->ev.ecl[c].type = net->ev_type[rep[c]];
            e->ev.ecl[c].vec = rows;
            e->ev.ecl[c].rate = -1.0; /* none yet */
            for (m = 0; m < k; m++, rows++) {
                double sq = 0.0, *w = e->ev.ecl_vec + 4 * (size_t)rows;
                const double *mv = move_vec(net, b + m);
                for (d = 0; d < 3; d++) {
                    const double x = mv[d];
                    w[d] = x;
                    sq += x * x;
                    fd += p->field_V_per_A[d] * x;
                }
                w[3] = sq;
            }
            cfd[c] = fd;
        }
    }
    if (e->interacting)
        for (v = 0; v < ne; v++) e->ev.ekra[v] = EV_EKRA(net, v);
    for (v = 0; v < ne; v++) {
        double de0 = 0.0, de;
        for (m = net->ev_ptr[v]; m < net->ev_ptr[v + 1]; m++)
            de0 += net->site_energy[net->ev_dst[m]] - net->site_energy[net->ev_src[m]];
        de = de0 - p->charge_e * cfd[e->ev.cls[v]];
        if (isnan(de)) { /* finite energies and field can overflow to inf - inf */
            set_err(errmsg, errmsg_len, "event %d (from site %d) has no energy change: its sum of E_dst - "
                    "E_src - q F . d overflows (q = %g e, field (%g, %g, %g) V/Angstrom)", (int)v,
                    (int)net->ev_src[net->ev_ptr[v]], p->charge_e, p->field_V_per_A[0], p->field_V_per_A[1],
                    p->field_V_per_A[2]);
            ok = -2;
            goto done;
        }
        if (e->interacting) {
            e->ev.de0[v] = de;
        } else { /* the rate of the previous event again if it has the same barrier and dE */
            kmc_evclass *ec = e->ev.ecl + e->ev.cls[v];
            if (!(last_rate >= 0.0 && dbits(EV_EKRA(net, v)) == dbits(last_ekra) && dbits(de) == dbits(last_de))) {
                last_ekra = EV_EKRA(net, v);
                last_de = de;
                last_rate = kmc_rate(&e->rp, last_ekra, last_de);
            }
            if (!e->ev.rate) { /* per class while every event has its class's rate */
                if (ec->rate < 0.0) {
                    ec->rate = last_rate;
                } else if (dbits(ec->rate) != dbits(last_rate)) {
                    int32_t u;
                    e->ev.rate = (double *)xalloc(e, (size_t)ne, sizeof(double), &fail);
                    if (fail) goto done;
                    for (u = 0; u < v; u++) e->ev.rate[u] = e->ev.ecl[e->ev.cls[u]].rate;
                }
            }
            if (e->ev.rate) e->ev.rate[v] = last_rate;
        }
        { /* the count of the site -> event lists below, in the same pass */
            int32_t xs[2 * KMC_MAX_EVENT_MOVES], nx = event_sites(net, v, xs);
            for (m = 0; m < nx; m++) e->ev.sev_ptr[xs[m] + 1]++;
        }
    }
    /* site -> events, each event once per site (a site may be a source and a target):
     * counts (above), offsets, then the lists (sev_ptr[x] runs ahead as the fill position) */
    for (m = 0; m < n; m++) {
        if (e->ev.sev_ptr[m + 1] > maxsev) maxsev = e->ev.sev_ptr[m + 1];
        e->ev.sev_ptr[m + 1] += e->ev.sev_ptr[m];
    }
    e->ev.sev = (int32_t *)xalloc(e, (size_t)e->ev.sev_ptr[n], sizeof(int32_t), &fail);
    if (fail) goto done;
    for (v = 0; v < ne; v++) {
        int32_t xs[2 * KMC_MAX_EVENT_MOVES], nx = event_sites(net, v, xs);
        for (m = 0; m < nx; m++) e->ev.sev[e->ev.sev_ptr[xs[m]]++] = v;
    }
    for (m = n; m > 0; m--) e->ev.sev_ptr[m] = e->ev.sev_ptr[m - 1]; /* shift back */
    e->ev.sev_ptr[0] = 0;
    e->ev.max_sev = maxsev;
    ok = 0;
done:
    free(rep);
    free(cfd);
    return ok;
}

#define KMC_ET_BY1_MAX (1 << 20) /* largest first-slot table of the templates (entries) */

static int cmp_uint32(const void *a, const void *b)
{
    const uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The event templates (et_ptr): copy them, check every event against the hop classes (its
 * slots exist, its sites are distinct, its dE is its template's), and build each site's
 * first event and the template classes (type, vectors, rate). After build_classes.
 * Returns 0, -1 when out of memory, -2 for an invalid network (message in errmsg). */
static int events_tmpl_setup(kmc_engine *e, const kmc_network *net, const kmc_params *p, char *errmsg,
                             size_t errmsg_len)
{
    const int32_t n = net->n_sites, nc = net->n_ev_classes, k = net->et_k, nq = net->et_ptr[nc];
    int32_t s, q, i, c, d, *touch = NULL, maxsev = 0;
    double *tde = NULL, *tfd = NULL; /* each template's dE (NaN until its first site) and field term */
    int64_t v = 0;
    int fail = 0, ok = -1;
    kmc_events_data *ev = &e->ev;
    ev->tmpl = 1;
    ev->k = k;
    ev->n_events = net->n_events;
    ev->n_event_types = net->n_event_types;
    ev->n_ecls = nq;
    ev->ecl_of = (int32_t *)xalloc(e, (size_t)n, sizeof(int32_t), &fail);
    ev->first = (int32_t *)xalloc(e, (size_t)n + 1, sizeof(int32_t), &fail);
    ev->et_ptr = (int32_t *)xalloc(e, (size_t)nc + 1, sizeof(int32_t), &fail);
    ev->et_key = (uint32_t *)xalloc(e, (size_t)nq + 1, sizeof(uint32_t), &fail);
    ev->et_slot = (uint8_t *)xalloc(e, (size_t)nq * k + 1, sizeof(uint8_t), &fail);
    ev->ecl = (kmc_evclass *)xalloc(e, (size_t)nq + 1, sizeof(kmc_evclass), &fail);
    ev->ecl_vec = (double *)xalloc(e, (size_t)nq * k * 4 + 1, sizeof(double), &fail);
    ev->counts = (uint64_t *)xalloc(e, (size_t)net->n_event_types, sizeof(uint64_t), &fail);
    touch = (int32_t *)calloc((size_t)n, sizeof(int32_t));
    tde = (double *)malloc(((size_t)nq + 1) * sizeof(double));
    tfd = (double *)malloc(((size_t)nq + 1) * sizeof(double));
    if (fail || !touch || !tde || !tfd) goto done;
    memcpy(ev->ecl_of, net->ev_class, (size_t)n * sizeof(int32_t));
    memcpy(ev->et_ptr, net->et_ptr, ((size_t)nc + 1) * sizeof(int32_t));
    for (q = 0; q < nq; q++) {
        uint32_t key = 0;
        double fd = 0.0;
        for (i = 0; i < k; i++) {
            const size_t m = (size_t)q * k + i;
            double sq = 0.0, *w = ev->ecl_vec + 4 * m;
            ev->et_slot[m] = (uint8_t)net->et_slot[m];
            key = (key << KMC_ET_BITS) | (uint32_t)net->et_slot[m];
            for (d = 0; d < 3; d++) { /* as events_setup: the same bits */
                const double x = net->et_vec[3 * m + d];
                w[d] = x;
                sq += x * x;
                fd += p->field_V_per_A[d] * x;
            }
            w[3] = sq;
        }
        ev->et_key[q] = key;
        ev->ecl[q].type = net->et_type[q];
        ev->ecl[q].vec = (int32_t)((size_t)q * k);
        tfd[q] = fd;
        tde[q] = NAN;
    }
    for (s = 0; s < n; s++) {
        c = ev->ecl_of[s];
        ev->first[s] = (int32_t)v;
        v += ev->et_ptr[c + 1] - ev->et_ptr[c];
        for (q = ev->et_ptr[c]; q < ev->et_ptr[c + 1]; q++) {
            int32_t sg[KMC_MAX_EVENT_MOVES + 1], a;
            double de0 = 0.0, de;
            sg[0] = s;
            for (i = 0; i < k; i++) {
                const kmc_class *cl = e->cls + e->site[sg[i]].cls;
                const int32_t sl = ev->et_slot[(size_t)q * k + i];
                if (sl >= cl->deg) {
                    set_err(errmsg, errmsg_len, "template %d at site %d: move %d leaves site %d by hop slot %d, "
                            "but the site has %d hops", (int)q, (int)s, (int)i, (int)sg[i], (int)sl, (int)cl->deg);
                    ok = -2;
                    goto done;
                }
                sg[i + 1] = sg[i] + e->chop[cl->hop + sl].doff;
                for (a = 0; a <= i; a++)
                    if (sg[a] == sg[i + 1]) {
                        set_err(errmsg, errmsg_len, "template %d at site %d visits site %d twice; the sites of "
                                "an event must be distinct", (int)q, (int)s, (int)sg[i + 1]);
                        ok = -2;
                        goto done;
                    }
            }
            for (i = 0; i < k; i++) de0 += net->site_energy[sg[i + 1]] - net->site_energy[sg[i]];
            de = de0 - p->charge_e * tfd[q];
            if (isnan(de)) { /* finite energies and field can overflow to inf - inf */
                set_err(errmsg, errmsg_len, "template %d at site %d has no energy change: its sum of E_dst - "
                        "E_src - q F . d overflows (q = %g e, field (%g, %g, %g) V/Angstrom)", (int)q, (int)s,
                        p->charge_e, p->field_V_per_A[0], p->field_V_per_A[1], p->field_V_per_A[2]);
                ok = -2;
                goto done;
            }
            if (isnan(tde[q])) {
                tde[q] = de;
            } else if (dbits(de) != dbits(tde[q])) {
                set_err(errmsg, errmsg_len, "template %d has dE = %.17g eV at site %d but %.17g eV elsewhere; event "
                        "templates need the same dE at every site of a class", (int)q, de, (int)s, tde[q]);
                ok = -2;
                goto done;
            }
            for (i = 0; i <= k; i++)
                if (++touch[sg[i]] > maxsev) maxsev = touch[sg[i]];
        }
    }
    ev->first[n] = (int32_t)v;
    /* the slot windows of the templates, which stop the walk back from a site early */
    ev->et_win = (uint64_t *)xalloc(e, 1 + 64 + 4096, sizeof(uint64_t), &fail);
    if (k == 4) ev->et_win4 = (uint32_t *)xalloc(e, (size_t)nq + 1, sizeof(uint32_t), &fail);
    if (fail) goto done;
    for (q = 0; q < nq; q++) {
        int32_t a, j;
        for (a = 0; a < k; a++) /* the run of j slots from slot a */
            for (j = 1; j <= 3 && a + j <= k; j++) {
                uint32_t w = 0;
                int32_t b;
                for (b = a; b < a + j; b++) w = (w << KMC_ET_BITS) | ev->et_slot[(size_t)q * k + b];
                ev->et_win[(j == 1 ? 0 : j == 2 ? 1 : 65) + (w >> 6)] |= (uint64_t)1 << (w & 63);
            }
        if (k == 4) ev->et_win4[q] = ev->et_key[q];
    }
    if (k == 4) qsort(ev->et_win4, (size_t)nq, sizeof(uint32_t), cmp_uint32);
    if ((int64_t)nc * (KMC_MAX_DEGREE + 1) <= KMC_ET_BY1_MAX) { /* look-up by first slot */
        ev->et_by1 = (int32_t *)xalloc(e, (size_t)nc * (KMC_MAX_DEGREE + 1), sizeof(int32_t), &fail);
        if (fail) goto done;
        for (c = 0; c < nc; c++) {
            int32_t *by1 = ev->et_by1 + (size_t)c * (KMC_MAX_DEGREE + 1);
            q = ev->et_ptr[c];
            for (i = 0; i <= KMC_MAX_DEGREE; i++) {
                while (q < ev->et_ptr[c + 1] && (int32_t)ev->et_slot[(size_t)q * k] < i) q++;
                by1[i] = q;
            }
        }
    }
    for (q = 0; q < nq; q++) /* a template no site uses keeps rate 0 */
        ev->ecl[q].rate = isnan(tde[q]) ? 0.0 : kmc_rate(&e->rp, net->et_ekra[q], tde[q]);
    ev->max_sev = maxsev;
    ok = 0;
done:
    free(touch);
    free(tde);
    free(tfd);
    return ok;
}

/* Interacting mode: do the hop rates take few values? They do when the hops have few
 * distinct (E_kra, static dE, J of the hop) and the pairs few distinct J: then the
 * configuration-dependent dE takes few values too and the rate memo hits. With many
 * (disordered energies or barriers) the memo would mostly miss and only cost time. */
static int few_rate_keys(const kmc_engine *e)
{
    interner t;
    int32_t q, a;
    int few = 1;
    if (intern_init(&t) != 0) return 0;
    for (q = 0; q < e->n_chop && few; q++) {
        const kmc_ia_chop *hd = e->ia.chd + q;
        const int64_t rec[3] = {dbits(hd->ekra), dbits(hd->de0), dbits(hd->J)};
        few = intern(&t, rec, 3) >= 0 && t.n <= 64;
    }
    intern_free(&t);
    if (!few || intern_init(&t) != 0) return 0;
    for (a = 0; a < e->ia.cint_ptr[e->n_cls] && few; a++) {
        const int64_t rec[1] = {dbits(e->ia.cint_J[a])};
        few = intern(&t, rec, 1) >= 0 && t.n <= 16;
    }
    intern_free(&t);
    return few;
}

static int cmp_int32(const void *a, const void *b)
{
    const int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Sort each list of a CSR (ptr[0..n], val) and drop repeated entries, compacting in place;
 * returns the longest list. */
static int32_t csr_unique(int32_t *ptr, int32_t *val, int32_t n)
{
    int32_t s, q, w = 0, longest = 0;
    for (s = 0; s < n; s++) {
        const int32_t b = ptr[s], end = ptr[s + 1], start = w;
        qsort(val + b, (size_t)(end - b), sizeof(int32_t), cmp_int32);
        for (q = b; q < end; q++)
            if (q == b || val[q] != val[q - 1]) val[w++] = val[q];
        ptr[s] = start;
        if (w - start > longest) longest = w - start;
    }
    ptr[n] = w;
    return longest;
}

/* The clusters: copies, the clusters of each site, each site's cluster neighbours and the
 * clusters holding both ends of each hop (CSR form). *max_cnb receives the longest list of
 * cluster neighbours. 0, or -1 out of memory. */
static int clusters_setup(kmc_engine *e, const kmc_network *net, int32_t *max_cnb)
{
    const int32_t n = net->n_sites, nc = net->n_clusters, nz = net->cl_ptr[nc];
    int32_t c, q, r, s, h, tot;
    int fail = 0, pass;
    e->ia.n_cl = nc;
    e->ia.cl_ptr = (int32_t *)xalloc(e, (size_t)nc + 1, sizeof(int32_t), &fail);
    e->ia.cl_site = (int32_t *)xalloc(e, (size_t)nz, sizeof(int32_t), &fail);
    e->ia.cl_V = (double *)xalloc(e, (size_t)nc, sizeof(double), &fail);
    e->ia.scl_ptr = (int32_t *)xalloc(e, (size_t)n + 1, sizeof(int32_t), &fail);
    e->ia.scl = (int32_t *)xalloc(e, (size_t)nz, sizeof(int32_t), &fail);
    e->ia.cnb_ptr = (int32_t *)xalloc(e, (size_t)n + 1, sizeof(int32_t), &fail);
    e->ia.hsh_ptr = (int32_t *)xalloc(e, (size_t)net->n_hops + 1, sizeof(int32_t), &fail);
    e->ia.psi = (double *)xalloc(e, (size_t)n, sizeof(double), &fail);
    e->ia.hop_ptr = (int32_t *)xalloc(e, (size_t)n + 1, sizeof(int32_t), &fail);
    if (fail) return -1;
    memcpy(e->ia.hop_ptr, net->hop_ptr, ((size_t)n + 1) * sizeof(int32_t));
    memcpy(e->ia.cl_ptr, net->cl_ptr, ((size_t)nc + 1) * sizeof(int32_t));
    memcpy(e->ia.cl_site, net->cl_site, (size_t)nz * sizeof(int32_t));
    memcpy(e->ia.cl_V, net->cl_V, (size_t)nc * sizeof(double));
    /* site -> clusters */
    for (q = 0; q < nz; q++) e->ia.scl_ptr[net->cl_site[q] + 1]++;
    for (s = 0; s < n; s++) e->ia.scl_ptr[s + 1] += e->ia.scl_ptr[s];
    for (c = 0; c < nc; c++)
        for (q = net->cl_ptr[c]; q < net->cl_ptr[c + 1]; q++) e->ia.scl[e->ia.scl_ptr[net->cl_site[q]]++] = c;
    for (s = n; s > 0; s--) e->ia.scl_ptr[s] = e->ia.scl_ptr[s - 1];
    e->ia.scl_ptr[0] = 0;
    /* site -> cluster neighbours (with repeats, then made unique) */
    tot = 0;
    for (s = 0; s < n; s++) {
        int32_t cnt = 0;
        for (q = e->ia.scl_ptr[s]; q < e->ia.scl_ptr[s + 1]; q++) {
            c = e->ia.scl[q];
            cnt += net->cl_ptr[c + 1] - net->cl_ptr[c] - 1;
        }
        e->ia.cnb_ptr[s] = tot;
        tot += cnt;
    }
    e->ia.cnb_ptr[n] = tot;
    e->ia.cnb = (int32_t *)malloc((size_t)(tot > 0 ? tot : 1) * sizeof(int32_t));
    if (!e->ia.cnb) return -1;
    for (s = 0; s < n; s++) {
        int32_t w = e->ia.cnb_ptr[s];
        for (q = e->ia.scl_ptr[s]; q < e->ia.scl_ptr[s + 1]; q++) {
            c = e->ia.scl[q];
            for (r = net->cl_ptr[c]; r < net->cl_ptr[c + 1]; r++)
                if (net->cl_site[r] != s) e->ia.cnb[w++] = net->cl_site[r];
        }
    }
    *max_cnb = csr_unique(e->ia.cnb_ptr, e->ia.cnb, n);
    e->bytes += (size_t)e->ia.cnb_ptr[n] * sizeof(int32_t);
    /* hop -> clusters holding both ends: count, then fill */
    for (pass = 0; pass < 2; pass++) {
        int32_t w = 0;
        for (s = 0; s < n; s++) {
            for (h = net->hop_ptr[s]; h < net->hop_ptr[s + 1]; h++) {
                const int32_t t = net->hop_dst[h];
                if (pass) e->ia.hsh_ptr[h] = w;
                for (q = e->ia.scl_ptr[s]; q < e->ia.scl_ptr[s + 1]; q++) {
                    c = e->ia.scl[q];
                    for (r = net->cl_ptr[c]; r < net->cl_ptr[c + 1] && net->cl_site[r] != t; r++) continue;
                    if (r < net->cl_ptr[c + 1]) {
                        if (pass) e->ia.hsh[w] = c;
                        w++;
                    }
                }
            }
        }
        if (!pass) {
            e->ia.hsh = (int32_t *)xalloc(e, (size_t)w, sizeof(int32_t), &fail);
            if (fail) return -1;
        } else {
            e->ia.hsh_ptr[net->n_hops] = w;
        }
    }
    return 0;
}

/* Local models: value tables only up to this many environment positions per model and
 * this many entries in all (8 MiB). */
#define KMC_LM_TAB_MAXBITS 16
#define KMC_LM_TAB_BUDGET ((int64_t)1 << 20)

/* Model m's value when its environment positions have the occupancy bits b (position p:
 * bit p), summed over its terms exactly as local_model (kmc_interact.c) sums them. */
static double lm_value_of_bits(const kmc_engine *e, int32_t m, uint32_t b)
{
    const double b0 = e->ia.lm_phi[2 * m], b1 = e->ia.lm_phi[2 * m + 1];
    double v = e->ia.lm_e0[m];
    int32_t t;
    int q;
    for (t = e->ia.lm_tptr[m]; t < e->ia.lm_tptr[m + 1]; t++) {
        const int32_t *pos = e->ia.lm_tpos + 4 * (size_t)t;
        double x = e->ia.lm_K[t];
        for (q = 0; q < KMC_MAX_CLUSTER_SITES && pos[q] >= 0; q++) x *= ((b >> pos[q]) & 1u) ? b1 : b0;
        v += x;
    }
    return v;
}

/* The local models: copies, their value tables when small enough, and for every site the
 * sources of the hops whose environment holds it (CSR, each once, into *dep_ptr and *dep:
 * creation scratch, part of the site classes). *max_dep receives the longest such list.
 * 0, or -1 out of memory. */
static int local_models_setup(kmc_engine *e, const kmc_network *net, int32_t *max_dep, int32_t **dep_ptr,
                              int32_t **dep)
{
    const int32_t n = net->n_sites, nm = net->n_local_models, nt = net->lm_tptr[nm], m = net->n_hops;
    const int32_t nenv = net->env_ptr[m];
    int32_t s, h, q, *dp, *dv;
    int64_t total = 0;
    int fail = 0;
    e->ia.n_lm = nm;
    e->ia.lm_e0 = (double *)xalloc(e, (size_t)nm, sizeof(double), &fail);
    e->ia.lm_phi = (double *)xalloc(e, 2 * (size_t)nm, sizeof(double), &fail);
    e->ia.lm_tptr = (int32_t *)xalloc(e, (size_t)nm + 1, sizeof(int32_t), &fail);
    e->ia.lm_tpos = (int32_t *)xalloc(e, 4 * (size_t)nt, sizeof(int32_t), &fail);
    e->ia.lm_K = (double *)xalloc(e, (size_t)nt, sizeof(double), &fail);
    e->ia.lm_nb = (int32_t *)xalloc(e, (size_t)nm, sizeof(int32_t), &fail);
    e->ia.lm_toff = (int64_t *)xalloc(e, (size_t)nm + 1, sizeof(int64_t), &fail);
    e->ia.smod = (int32_t *)xalloc(e, (size_t)n, sizeof(int32_t), &fail);
    *dep_ptr = dp = (int32_t *)calloc((size_t)n + 1, sizeof(int32_t));
    *dep = dv = (int32_t *)malloc((size_t)(nenv > 0 ? nenv : 1) * sizeof(int32_t));
    if (fail || !dp || !dv) return -1;
    { /* each site's list of its hops' model ids, deduplicated (a few thousand lists at most
         for NASICON's Si/P disorder, so the table stays in cache) */
        interner M;
        int64_t rec[2 * KMC_MAX_DEGREE];
        int ok = intern_init(&M) == 0;
        for (s = 0; s < n && ok; s++) {
            const int32_t h0 = net->hop_ptr[s], deg = net->hop_ptr[s + 1] - h0;
            int32_t r;
            for (h = 0; h < deg; h++) {
                rec[2 * h] = net->hop_kra_model[h0 + h];
                rec[2 * h + 1] = net->hop_de_model[h0 + h];
            }
            ok = (r = intern(&M, rec, 2 * (size_t)deg)) >= 0 && M.nw < (size_t)INT32_MAX;
            if (ok) e->ia.smod[s] = (int32_t)M.start[r];
        }
        if (ok) e->ia.mtab = (int32_t *)xalloc(e, M.nw, sizeof(int32_t), &fail);
        for (h = 0; ok && !fail && (size_t)h < M.nw; h++) e->ia.mtab[h] = (int32_t)M.w[h];
        intern_free(&M);
        if (!ok || fail) return -1;
    }
    memcpy(e->ia.lm_e0, net->lm_e0, (size_t)nm * sizeof(double));
    memcpy(e->ia.lm_phi, net->lm_phi, 2 * (size_t)nm * sizeof(double));
    memcpy(e->ia.lm_tptr, net->lm_tptr, ((size_t)nm + 1) * sizeof(int32_t));
    if (nt > 0) {
        memcpy(e->ia.lm_tpos, net->lm_tpos, 4 * (size_t)nt * sizeof(int32_t));
        memcpy(e->ia.lm_K, net->lm_K, (size_t)nt * sizeof(double));
    }
    /* value tables: model m reads positions 0 .. lm_nb[m]-1 */
    for (h = 0; h < nm; h++) {
        int32_t t, nb = 0;
        for (t = net->lm_tptr[h]; t < net->lm_tptr[h + 1]; t++)
            for (q = 0; q < KMC_MAX_CLUSTER_SITES && net->lm_tpos[4 * t + q] >= 0; q++)
                if (net->lm_tpos[4 * t + q] + 1 > nb) nb = net->lm_tpos[4 * t + q] + 1;
        e->ia.lm_nb[h] = nb;
        e->ia.lm_toff[h] = total;
        if (nb > KMC_LM_TAB_MAXBITS) total = KMC_LM_TAB_BUDGET + 1;
        if (total <= KMC_LM_TAB_BUDGET) total += (int64_t)1 << nb;
    }
    e->ia.lm_toff[nm] = total;
    if (total <= KMC_LM_TAB_BUDGET) {
        e->ia.lm_tab = (double *)xalloc(e, (size_t)total, sizeof(double), &fail);
        if (fail) return -1;
        for (h = 0; h < nm; h++) {
            uint32_t b;
            for (b = 0; b < ((uint32_t)1 << e->ia.lm_nb[h]); b++)
                e->ia.lm_tab[e->ia.lm_toff[h] + b] = lm_value_of_bits(e, h, b);
        }
    }
    /* site x -> sources of the hops whose environment holds x (only hops with a model) */
    for (h = 0; h < m; h++)
        if (net->hop_kra_model[h] >= 0 || net->hop_de_model[h] >= 0)
            for (q = net->env_ptr[h]; q < net->env_ptr[h + 1]; q++) dp[net->env_site[q] + 1]++;
    for (s = 0; s < n; s++) dp[s + 1] += dp[s];
    for (s = 0; s < n; s++)
        for (h = net->hop_ptr[s]; h < net->hop_ptr[s + 1]; h++)
            if (net->hop_kra_model[h] >= 0 || net->hop_de_model[h] >= 0)
                for (q = net->env_ptr[h]; q < net->env_ptr[h + 1]; q++) dv[dp[net->env_site[q]]++] = s;
    for (s = n; s > 0; s--) dp[s] = dp[s - 1];
    dp[0] = 0;
    *max_dep = csr_unique(dp, dv, n);
    return 0;
}

/* The ions' sites, checked for range and repetition (on the bitmap e->seen): KMC_OK, or
 * KMC_ERR_INVALID with a message (nothing else changed). */
KMC_PRIVATE int kmc_check_ion_sites(kmc_engine *e, const int32_t *ion_site, char *errmsg, size_t errmsg_len)
{
    int32_t a, b;
    memset(e->seen, 0, (size_t)e->n_sites / 8 + 1);
    for (a = 0; a < e->n_ions; a++) {
        const int32_t s = ion_site[a];
        if (s < 0 || s >= e->n_sites) {
            set_err(errmsg, errmsg_len, "ion %d is on site %d, outside 0..%d", (int)a, (int)s, (int)(e->n_sites - 1));
            return KMC_ERR_INVALID;
        }
        if (e->seen[s >> 3] & (1u << (s & 7))) {
            for (b = 0; ion_site[b] != s; b++) continue;
            set_err(errmsg, errmsg_len, "two ions (%d and %d) are on site %d", (int)b, (int)a, (int)s);
            return KMC_ERR_INVALID;
        }
        e->seen[s >> 3] |= (uint8_t)(1u << (s & 7));
    }
    return KMC_OK;
}

kmc_engine *kmc_engine_create(const kmc_network *net, const kmc_params *p, int32_t n_ions,
                              const int32_t *ion_site, uint64_t seed, int *status, char *errmsg,
                              size_t errmsg_len)
{
    kmc_engine *e;
    int fail = 0, counting = 0;
    int32_t s, n, m, maxdeg = 0, maxint = 0, n_int, a, max_cnb = 0, max_dep = 0;
    int32_t *dep_ptr = NULL, *dep = NULL; /* creation scratch of the local models */
    int dummy;
    if (!status) status = &dummy;
    *status = KMC_OK;
    if (!net || !p) {
        set_err(errmsg, errmsg_len, "network and parameters are required");
        *status = KMC_ERR_INVALID;
        return NULL;
    }
    if (!validate(net, p, n_ions, ion_site, status, errmsg, errmsg_len)) return NULL;
    n = net->n_sites;
    m = net->n_hops;
    n_int = net_has_pairs(net);

    e = (kmc_engine *)calloc(1, sizeof(*e));
    if (!e) {
        *status = KMC_ERR_NOMEM;
        set_err(errmsg, errmsg_len, "out of memory allocating the engine");
        return NULL;
    }
    e->bytes = sizeof(*e);
    e->n_sites = n;
    e->n_hops = m;
    e->n_ions = n_ions;
    e->n_hop_types = net->n_hop_types;
    e->interacting = n_int > 0 || net->n_clusters > 0 || net->n_local_models > 0;
    e->prefetch = n >= KMC_PREFETCH_MIN_SITES;
    e->rp = kmc_rate_params_make(p->rate_law, p->temperature_K, p->attempt_frequency_Hz);

    for (s = 0; s < n; s++) {
        int32_t deg = net_deg(net, s);
        if (deg > maxdeg) maxdeg = deg;
        if (n_int > 0) {
            int_view iv;
            net_ints(net, s, &iv);
            if (iv.a1 - iv.a0 > maxint) maxint = iv.a1 - iv.a0;
        }
    }
    if (net->n_clusters > 0 && clusters_setup(e, net, &max_cnb) != 0) fail = 1;
    if (!fail && net->n_local_models > 0 && local_models_setup(e, net, &max_dep, &dep_ptr, &dep) != 0) fail = 1;
    if (fail) {
        free(dep_ptr);
        free(dep);
        kmc_engine_free(e);
        *status = KMC_ERR_NOMEM;
        set_err(errmsg, errmsg_len, "out of memory allocating the clusters and local models");
        return NULL;
    }
    {
        /* sites whose occupancy changes in one event: 2 for a hop, up to 2k for k moves */
        const int64_t moved = net->n_events > 0 ? 2 * KMC_MAX_EVENT_MOVES : 2;
        int64_t xc = moved * (1 + (int64_t)maxint + (int64_t)max_cnb);
        int64_t rc = xc * (1 + (int64_t)maxdeg) + moved * (int64_t)max_dep;
        e->xcap = (int32_t)(xc < n ? xc : n);
        e->rcap = (int32_t)(rc < n ? rc : n);
    }

    if (e->interacting) { /* the field and the memo (the static data are the classes') */
        e->ia.memo = (kmc_rate_memo_entry *)xalloc(e, KMC_RATE_MEMO_SIZE, sizeof(kmc_rate_memo_entry), &fail);
        if (e->ia.memo) kmc_rate_memo_clear(e->ia.memo);
        e->ia.phi = (double *)xalloc(e, (size_t)n, sizeof(double), &fail);
    }
    if (e->interacting || net->n_events > 0) { /* the site set: load <= 1/2 */
        uint32_t bits = 6;
        while (bits < 31 && ((uint64_t)1 << bits) < 2 * ((uint64_t)e->rcap + 2)) bits++;
        e->sset_mask = ((uint32_t)1 << bits) - 1;
        e->sset_shift = 32 - bits;
        e->sset = (kmc_sslot *)xalloc(e, (size_t)e->sset_mask + 1, sizeof(kmc_sslot), &fail);
    }
    e->site = (kmc_site *)xalloc(e, (size_t)n, sizeof(kmc_site), &fail);
    e->ions = (kmc_ion *)xalloc(e, (size_t)n_ions, sizeof(kmc_ion), &fail);
    e->hops_hi = (uint32_t *)xalloc(e, (size_t)n_ions, sizeof(uint32_t), &fail);
    e->jsq = (double *)xalloc(e, (size_t)n_ions, sizeof(double), &fail);
    e->type_counts = (uint64_t *)xalloc(e, (size_t)net->n_hop_types, sizeof(uint64_t), &fail);
    e->seen = (uint8_t *)xalloc(e, (size_t)n / 8 + 1, sizeof(uint8_t), &fail);
    e->xset = (int32_t *)xalloc(e, (size_t)e->xcap + 2, sizeof(int32_t), &fail);
    e->rset = (int32_t *)xalloc(e, (size_t)e->rcap + 2, sizeof(int32_t), &fail);
    if (!fail && net->n_events > 0 && !net->et_ptr) {
        const int rc = events_setup(e, net, p, errmsg, errmsg_len);
        if (rc == -2) {
            free(dep_ptr);
            free(dep);
            kmc_engine_free(e);
            *status = KMC_ERR_INVALID;
            return NULL;
        }
        if (rc != 0) fail = 1;
    }
    if (!fail && build_classes(e, net, p, dep_ptr, dep, &counting) != 0) fail = 1;
    free(dep_ptr);
    free(dep);
    if (!fail && net->n_events > 0 && net->et_ptr) {
        const int rc = events_tmpl_setup(e, net, p, errmsg, errmsg_len);
        if (rc == -2) {
            kmc_engine_free(e);
            *status = KMC_ERR_INVALID;
            return NULL;
        }
        if (rc != 0) fail = 1;
    }
    if (!fail && net->n_events == 0 && e->n_hc > 0) { /* one squared jump length? */
        int32_t h;
        e->jsq_unit = e->hc_vec[3];
        for (h = 1; h < e->n_hc; h++)
            if (e->hc_vec[4 * (size_t)h + 3] != e->jsq_unit) e->jsq_unit = 0.0;
        if (!(e->jsq_unit > 0.0)) e->jsq_unit = 0.0;
        else e->jsq_hops = (uint64_t *)xalloc(e, (size_t)n_ions, sizeof(uint64_t), &fail);
    }
    if (!fail) { /* the algorithm: the one place a mode becomes a solver */
        int mode = p->mode;
        if (mode == KMC_MODE_COUNT && !counting) {
            set_err(errmsg, errmsg_len, "mode count needs a network without pair interactions "
                    "and multi-ion events and with at most %d distinct hop rates", KMC_MAX_RCLASS);
            kmc_engine_free(e);
            *status = KMC_ERR_INVALID;
            return NULL;
        }
        if (mode == KMC_MODE_AUTO) {
            mode = (!e->interacting && net->n_events == 0 &&
                    uniform_acceptance(e) >= KMC_UNIFORM_MIN_ACCEPT &&
                    uniform_start_acceptance(e, ion_site) >= KMC_UNIFORM_MIN_ACCEPT / 4) ? KMC_MODE_UNIFORM
                   : counting ? KMC_MODE_COUNT : KMC_MODE_TREE;
        }
        e->mode = mode;
        e->solver = mode == KMC_MODE_UNIFORM ? &kmc_uniform_solver
                    : mode == KMC_MODE_COUNT ? &kmc_count_solver
                    : net->n_events > 0      ? &kmc_events_solver
                                             : &kmc_tree_solver;
        if (e->solver->init(e) != 0) fail = 1;
        if (!fail && e->solver == &kmc_tree_solver && !p->no_config_memo && tree_config_memo_init(e, p->config_memo_walk) != 0) fail = 1;
    }
    if (fail) {
        kmc_engine_free(e);
        *status = KMC_ERR_NOMEM;
        set_err(errmsg, errmsg_len, "out of memory allocating the engine for %d sites and %d hops", (int)n, (int)m);
        return NULL;
    }
    if (e->interacting && !few_rate_keys(e)) {
        /* (with clusters and local models the rates can take many values or few: a miss
         * costs a compare and a store next to the exp() a hit saves, so the memo stays) */
        free(e->ia.memo);
        e->ia.memo = NULL;
        e->bytes -= KMC_RATE_MEMO_SIZE * sizeof(kmc_rate_memo_entry);
    }
    *status = kmc_check_ion_sites(e, ion_site, errmsg, errmsg_len);
    if (*status != KMC_OK) {
        kmc_engine_free(e);
        return NULL;
    }
    for (a = 0; a < n_ions; a++) e->ions[a].site = ion_site[a];
    kmc_rng_seed(&e->rng, seed);
    e->solver->rebuild(e);
    return e;
}
