/* kmc_engine.c - the rejection-free KMC engine, see kmc_engine.h. */
#include "kmc_engine.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h> /* vsnprintf only: the engine does no I/O */
#include <stdlib.h>
#include <string.h>

#include "kmc_rng.h"
#include "kmc_sumtree.h"

/* Hot per-site record, 16 bytes (four to a cache line). */
typedef struct {
    uint64_t mask;      /* bit k set: hop k is blocked (destination occupied, or k >= degree) */
    int32_t ion;        /* ion on the site, or -1 */
    int32_t rate_begin; /* rates of the site's hops are rate[rate_begin + k] */
} kmc_site;

typedef struct {
    double disp[3]; /* unwrapped displacement, Angstrom */
    double jump_sq; /* sum of |jump|^2 over the ion's hops, Angstrom^2 */
    uint64_t hops;
} kmc_ion;

struct kmc_engine {
    int32_t n_sites, n_hops, n_ions, n_hop_types;
    int interacting; /* pair interactions present: rates depend on the configuration */
    double nu, beta; /* attempt frequency (Hz), 1/(kB T) (1/eV) */

    /* network, CSR by source site */
    int32_t *hop_ptr, *hop_dst, *hop_type;
    uint8_t *hop_rev_slot; /* position of the reverse hop in the destination's hop list */
    double *hop_vec;       /* [n_hops*3] */
    double *rate;          /* hop rates: per hop when interacting (refreshed when the hop is
                              allowed), else shared patterns of identical per-site rate lists */
    int32_t n_rates;
    double *hop_ekra, *hop_de0, *hop_J; /* interacting mode only: barrier, static dE, J(src,dst) */
    int32_t *int_ptr, *int_nbr;
    double *int_J;
    double *phi; /* interacting mode: phi[s] = sum over occupied interaction neighbours of J */

    /* dynamic state */
    kmc_site *site;    /* [n_sites] */
    int32_t *ion_site;
    kmc_ion *ions;
    uint64_t *type_counts;
    double time;
    uint64_t steps;
    double total_disp[3];
    kmc_rng rng;
    kmc_sumtree tree; /* leaves: per-site sum of allowed hop rates */

    /* scratch for local updates */
    uint32_t *stamp;
    uint32_t stamp_now;
    int32_t *xset, *rset; /* sites whose occupancy/phi changed; sites whose rates may change */
    int64_t *dirty;       /* leaves that changed */
    int32_t xcap, rcap;

    size_t bytes;
    char errmsg[256];
};

static void set_err(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    if (!buf || len == 0) return;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

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

/* Index of the lowest set bit of x != 0. */
static inline int ctz64(uint64_t x)
{
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_ctzll(x);
#else
    int k = 0;
    while (!(x & 1u)) {
        x >>= 1;
        k++;
    }
    return k;
#endif
}

/* Mask bits at and above the degree are always set (never an allowed hop). */
static inline uint64_t padding_bits(int32_t degree)
{
    return degree >= 64 ? 0 : ~(uint64_t)0 << degree;
}

/* Ea = max(E_kra + dE/2, 0, dE); k = nu exp(-Ea/kB T). Obeys detailed balance exactly. */
static inline double kra_rate(double nu, double beta, double ekra, double de)
{
    double ea = ekra + 0.5 * de;
    if (ea < 0.0) ea = 0.0;
    if (ea < de) ea = de;
    return nu * exp(-beta * ea);
}

static inline double hop_de_dynamic(const kmc_engine *e, int32_t src, int32_t h)
{
    return e->hop_de0[h] + e->phi[e->hop_dst[h]] - e->hop_J[h] - e->phi[src];
}

/* Sum of the rates of the allowed hops of site s (0 if empty); refreshes the rates
 * of those hops when rates depend on the configuration. */
static inline double site_rate(kmc_engine *e, int32_t s)
{
    const kmc_site *st = e->site + s;
    uint64_t allowed = ~st->mask;
    double sum = 0.0;
    if (st->ion < 0) return 0.0;
    if (e->interacting) {
        const int32_t b = e->hop_ptr[s];
        while (allowed) {
            const int k = ctz64(allowed);
            const double r = kra_rate(e->nu, e->beta, e->hop_ekra[b + k], hop_de_dynamic(e, s, b + k));
            e->rate[b + k] = r;
            sum += r;
            allowed &= allowed - 1;
        }
    } else {
        const double *rate = e->rate + st->rate_begin;
        while (allowed) {
            sum += rate[ctz64(allowed)];
            allowed &= allowed - 1;
        }
    }
    return sum;
}

static inline double site_phi(const kmc_engine *e, int32_t s)
{
    double sum = 0.0;
    int32_t a;
    for (a = e->int_ptr[s]; a < e->int_ptr[s + 1]; a++)
        if (e->site[e->int_nbr[a]].ion >= 0) sum += e->int_J[a];
    return sum;
}

static inline uint64_t site_mask(const kmc_engine *e, int32_t s)
{
    int32_t k, b = e->hop_ptr[s], n = e->hop_ptr[s + 1] - b;
    uint64_t m = padding_bits(n);
    for (k = 0; k < n; k++)
        if (e->site[e->hop_dst[b + k]].ion >= 0) m |= (uint64_t)1 << k;
    return m;
}

/* Rebuild every derived quantity from the occupancy (site[].ion). */
static void rebuild(kmc_engine *e)
{
    int32_t s;
    double *leaf = kmc_sumtree_leaves(&e->tree);
    for (s = 0; s < e->n_sites; s++) e->site[s].mask = site_mask(e, s);
    if (e->interacting)
        for (s = 0; s < e->n_sites; s++) e->phi[s] = site_phi(e, s);
    for (s = 0; s < e->n_sites; s++) leaf[s] = site_rate(e, s);
    kmc_sumtree_rebuild(&e->tree);
}

static void *xalloc(kmc_engine *e, size_t n, size_t size, int *fail)
{
    void *p;
    if (n == 0) n = 1;
    p = calloc(n, size);
    if (!p) *fail = 1;
    else e->bytes += n * size;
    return p;
}

#define FAIL(...)                                          \
    do {                                                   \
        set_err(errmsg, errmsg_len, __VA_ARGS__);          \
        *status = KMC_ERR_INVALID;                         \
        return 0;                                          \
    } while (0)

/* Validate the inputs; 1 if valid, else 0 with a message. */
static int validate(const kmc_network *net, const kmc_params *p, int32_t n_ions,
                    const int32_t *ion_site, int *status, char *errmsg, size_t errmsg_len)
{
    int32_t s, h, a, n = net->n_sites;
    int d;
    if (!(p->temperature_K > 0.0) || !isfinite(p->temperature_K))
        FAIL("temperature_K = %g must be finite and > 0", p->temperature_K);
    if (!(p->attempt_frequency_Hz > 0.0) || !isfinite(p->attempt_frequency_Hz))
        FAIL("attempt_frequency_Hz = %g must be finite and > 0", p->attempt_frequency_Hz);
    if (!isfinite(p->charge_e)) FAIL("charge_e = %g must be finite", p->charge_e);
    for (d = 0; d < 3; d++)
        if (!isfinite(p->field_V_per_A[d])) FAIL("field component %d = %g is not finite", d, p->field_V_per_A[d]);
    if (n < 1) FAIL("n_sites = %d must be >= 1", (int)n);
    if (net->n_hops < 0) FAIL("n_hops = %d must be >= 0", (int)net->n_hops);
    if (net->n_hop_types < 1) FAIL("n_hop_types = %d must be >= 1", (int)net->n_hop_types);
    if (!net->hop_ptr || !net->site_energy) FAIL("hop_ptr and site_energy are required");
    if (net->n_hops > 0 && (!net->hop_dst || !net->hop_rev || !net->hop_type || !net->hop_vec || !net->hop_ekra))
        FAIL("hop arrays are required when n_hops > 0");
    if (net->hop_ptr[0] != 0 || net->hop_ptr[n] != net->hop_ptr[0] + net->n_hops)
        FAIL("hop_ptr must start at 0 and end at n_hops = %d", (int)net->n_hops);
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
    if (n_ions < 0 || n_ions > n) FAIL("n_ions = %d must be between 0 and n_sites = %d", (int)n_ions, (int)n);
    for (a = 0; a < n_ions; a++)
        if (ion_site[a] < 0 || ion_site[a] >= n) FAIL("ion %d is on site %d, outside 0..%d", (int)a, (int)ion_site[a], (int)(n - 1));
    return 1;
}

static int place_ions(kmc_engine *e, const int32_t *ion_site, char *errmsg, size_t errmsg_len)
{
    int32_t a, s;
    for (s = 0; s < e->n_sites; s++) e->site[s].ion = -1;
    for (a = 0; a < e->n_ions; a++) {
        s = ion_site[a];
        if (s < 0 || s >= e->n_sites) {
            set_err(errmsg, errmsg_len, "ion %d is on site %d, outside 0..%d", (int)a, (int)s, (int)(e->n_sites - 1));
            return KMC_ERR_INVALID;
        }
        if (e->site[s].ion >= 0) {
            set_err(errmsg, errmsg_len, "ions %d and %d are both on site %d", (int)e->site[s].ion, (int)a, (int)s);
            return KMC_ERR_INVALID;
        }
        e->site[s].ion = a;
        e->ion_site[a] = s;
    }
    return KMC_OK;
}

/*
 * Without interactions, sites whose lists of hop rates are identical (every site
 * of a regular lattice) share one copy, so the rates of a whole lattice stay in L1.
 * Looks for a match among the last few distinct patterns; a site without a match
 * gets its own copy (as in a disordered network). Compacts e->rate in place.
 */
#define KMC_PATTERN_CACHE 16
static void share_rate_patterns(kmc_engine *e)
{
    int32_t recent[KMC_PATTERN_CACHE], n_recent = 0, next = 0, s, c, k;
    for (s = 0; s < e->n_sites; s++) {
        const int32_t b = e->hop_ptr[s], deg = e->hop_ptr[s + 1] - b;
        int32_t found = -1;
        for (c = 0; c < n_recent && found < 0; c++) {
            const int32_t q = recent[c];
            const int32_t qdeg = e->hop_ptr[q + 1] - e->hop_ptr[q];
            if (qdeg != deg) continue;
            for (k = 0; k < deg; k++)
                if (e->rate[e->site[q].rate_begin + k] != e->rate[b + k]) break;
            if (k == deg) found = e->site[q].rate_begin;
        }
        if (found < 0) {
            /* b >= next always, so moving down never overwrites an unread rate */
            memmove(e->rate + next, e->rate + b, (size_t)deg * sizeof(double));
            e->site[s].rate_begin = next;
            next += deg;
            if (n_recent < KMC_PATTERN_CACHE) n_recent++;
            memmove(recent + 1, recent, (size_t)(n_recent - 1) * sizeof(int32_t));
            recent[0] = s;
        } else {
            e->site[s].rate_begin = found;
        }
    }
    e->n_rates = next;
    if (next < e->n_hops) { /* give back the unused tail */
        double *shrunk = (double *)realloc(e->rate, (size_t)(next > 0 ? next : 1) * sizeof(double));
        if (shrunk) {
            e->bytes -= (size_t)(e->n_hops - (next > 0 ? next : 1)) * sizeof(double);
            e->rate = shrunk;
        }
    }
}

kmc_engine *kmc_engine_create(const kmc_network *net, const kmc_params *p, int32_t n_ions,
                              const int32_t *ion_site, uint64_t seed, int *status, char *errmsg,
                              size_t errmsg_len)
{
    kmc_engine *e;
    int fail = 0, d;
    int32_t s, h, n, m, maxdeg = 0, maxint = 0, n_int;
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
    n_int = net->int_ptr ? net->int_ptr[n] : 0;

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
    e->interacting = n_int > 0;
    e->nu = p->attempt_frequency_Hz;
    e->beta = 1.0 / (KMC_KB_EV_PER_K * p->temperature_K);

    for (s = 0; s < n; s++) {
        int32_t deg = net->hop_ptr[s + 1] - net->hop_ptr[s];
        if (deg > maxdeg) maxdeg = deg;
        if (e->interacting && net->int_ptr[s + 1] - net->int_ptr[s] > maxint)
            maxint = net->int_ptr[s + 1] - net->int_ptr[s];
    }
    {
        int64_t xc = 2 + 2 * (int64_t)maxint, rc = xc * (1 + (int64_t)maxdeg);
        e->xcap = (int32_t)(xc < n ? xc : n);
        e->rcap = (int32_t)(rc < n ? rc : n);
    }

    e->hop_ptr = (int32_t *)xalloc(e, (size_t)n + 1, sizeof(int32_t), &fail);
    e->hop_dst = (int32_t *)xalloc(e, (size_t)m, sizeof(int32_t), &fail);
    e->hop_type = (int32_t *)xalloc(e, (size_t)m, sizeof(int32_t), &fail);
    e->hop_rev_slot = (uint8_t *)xalloc(e, (size_t)m, sizeof(uint8_t), &fail);
    e->hop_vec = (double *)xalloc(e, (size_t)m * 3, sizeof(double), &fail);
    e->rate = (double *)xalloc(e, (size_t)m, sizeof(double), &fail); /* shrunk below if shared */
    if (e->interacting) {
        e->hop_ekra = (double *)xalloc(e, (size_t)m, sizeof(double), &fail);
        e->hop_de0 = (double *)xalloc(e, (size_t)m, sizeof(double), &fail);
        e->hop_J = (double *)xalloc(e, (size_t)m, sizeof(double), &fail);
        e->int_ptr = (int32_t *)xalloc(e, (size_t)n + 1, sizeof(int32_t), &fail);
        e->int_nbr = (int32_t *)xalloc(e, (size_t)n_int, sizeof(int32_t), &fail);
        e->int_J = (double *)xalloc(e, (size_t)n_int, sizeof(double), &fail);
        e->phi = (double *)xalloc(e, (size_t)n, sizeof(double), &fail);
    }
    e->site = (kmc_site *)xalloc(e, (size_t)n, sizeof(kmc_site), &fail);
    e->ion_site = (int32_t *)xalloc(e, (size_t)n_ions, sizeof(int32_t), &fail);
    e->ions = (kmc_ion *)xalloc(e, (size_t)n_ions, sizeof(kmc_ion), &fail);
    e->type_counts = (uint64_t *)xalloc(e, (size_t)net->n_hop_types, sizeof(uint64_t), &fail);
    e->stamp = (uint32_t *)xalloc(e, (size_t)n, sizeof(uint32_t), &fail);
    e->xset = (int32_t *)xalloc(e, (size_t)e->xcap, sizeof(int32_t), &fail);
    e->rset = (int32_t *)xalloc(e, (size_t)e->rcap + 2, sizeof(int32_t), &fail);
    e->dirty = (int64_t *)xalloc(e, (size_t)e->rcap + 2, sizeof(int64_t), &fail);
    if (!fail) {
        if (kmc_sumtree_init(&e->tree, n) != 0) fail = 1;
        else e->bytes += kmc_sumtree_bytes(n);
    }
    if (fail) {
        kmc_engine_free(e);
        *status = KMC_ERR_NOMEM;
        set_err(errmsg, errmsg_len, "out of memory allocating the engine for %d sites and %d hops", (int)n, (int)m);
        return NULL;
    }

    memcpy(e->hop_ptr, net->hop_ptr, ((size_t)n + 1) * sizeof(int32_t));
    if (m > 0) {
        memcpy(e->hop_dst, net->hop_dst, (size_t)m * sizeof(int32_t));
        memcpy(e->hop_type, net->hop_type, (size_t)m * sizeof(int32_t));
        memcpy(e->hop_vec, net->hop_vec, (size_t)m * 3 * sizeof(double));
    }
    for (s = 0; s < n; s++) {
        for (h = net->hop_ptr[s]; h < net->hop_ptr[s + 1]; h++) {
            int32_t j = net->hop_dst[h];
            double de0 = net->site_energy[j] - net->site_energy[s], fd = 0.0;
            for (d = 0; d < 3; d++) fd += p->field_V_per_A[d] * net->hop_vec[3 * h + d];
            de0 -= p->charge_e * fd;
            e->hop_rev_slot[h] = (uint8_t)(net->hop_rev[h] - net->hop_ptr[j]);
            if (e->interacting) {
                e->hop_ekra[h] = net->hop_ekra[h];
                e->hop_de0[h] = de0;
                e->hop_J[h] = net->hop_J[h];
            } else {
                /* precomputed once: nothing in the configuration can change it */
                e->rate[h] = kra_rate(e->nu, e->beta, net->hop_ekra[h], de0);
            }
        }
        e->site[s].rate_begin = net->hop_ptr[s];
    }
    e->n_rates = m;
    if (!e->interacting) share_rate_patterns(e);
    if (e->interacting) {
        memcpy(e->int_ptr, net->int_ptr, ((size_t)n + 1) * sizeof(int32_t));
        memcpy(e->int_nbr, net->int_nbr, (size_t)n_int * sizeof(int32_t));
        memcpy(e->int_J, net->int_J, (size_t)n_int * sizeof(double));
    }
    *status = place_ions(e, ion_site, errmsg, errmsg_len);
    if (*status != KMC_OK) {
        kmc_engine_free(e);
        return NULL;
    }
    kmc_rng_seed(&e->rng, seed);
    rebuild(e);
    return e;
}

void kmc_engine_free(kmc_engine *e)
{
    if (!e) return;
    free(e->hop_ptr);
    free(e->hop_dst);
    free(e->hop_type);
    free(e->hop_rev_slot);
    free(e->hop_vec);
    free(e->rate);
    free(e->hop_ekra);
    free(e->hop_de0);
    free(e->hop_J);
    free(e->int_ptr);
    free(e->int_nbr);
    free(e->int_J);
    free(e->phi);
    free(e->site);
    free(e->ion_site);
    free(e->ions);
    free(e->type_counts);
    free(e->stamp);
    free(e->xset);
    free(e->rset);
    free(e->dirty);
    kmc_sumtree_free(&e->tree);
    free(e);
}

static inline uint32_t next_stamp(kmc_engine *e)
{
    if (e->stamp_now >= UINT32_MAX - 1) {
        memset(e->stamp, 0, (size_t)e->n_sites * sizeof(uint32_t));
        e->stamp_now = 0;
    }
    return ++e->stamp_now;
}

/* Recompute the rate sum of site s; if it changed, store it and mark its leaf dirty. */
static inline void refresh(kmc_engine *e, double *leaf, int32_t s, int *nd)
{
    const double r = site_rate(e, s);
    if (r != leaf[s]) {
        leaf[s] = r;
        e->dirty[(*nd)++] = s;
    }
}

/* Execute hop h of the ion on site i and update rates locally. */
static void execute(kmc_engine *e, int32_t i, int32_t h)
{
    const int32_t j = e->hop_dst[h], ion = e->site[i].ion;
    const double *v = e->hop_vec + 3 * h;
    kmc_ion *p = e->ions + ion;
    double *leaf = kmc_sumtree_leaves(&e->tree);
    int32_t k, a, x;
    int nd = 0;

    e->site[j].ion = ion;
    e->site[i].ion = -1;
    e->ion_site[ion] = j;
    p->disp[0] += v[0];
    p->disp[1] += v[1];
    p->disp[2] += v[2];
    p->jump_sq += v[0] * v[0] + v[1] * v[1] + v[2] * v[2];
    p->hops++;
    e->total_disp[0] += v[0];
    e->total_disp[1] += v[1];
    e->total_disp[2] += v[2];
    e->type_counts[e->hop_type[h]]++;

    /* i emptied, j filled: flip their bit in every neighbour's mask */
    for (k = e->hop_ptr[i]; k < e->hop_ptr[i + 1]; k++)
        e->site[e->hop_dst[k]].mask &= ~((uint64_t)1 << e->hop_rev_slot[k]);
    for (k = e->hop_ptr[j]; k < e->hop_ptr[j + 1]; k++)
        e->site[e->hop_dst[k]].mask |= (uint64_t)1 << e->hop_rev_slot[k];

    if (!e->interacting) {
        /* Only i, j and their hop neighbours can change. A site seen twice is
         * harmless (the second refresh finds its leaf unchanged). */
        leaf[i] = 0.0;
        e->dirty[nd++] = i;
        refresh(e, leaf, j, &nd);
        for (k = e->hop_ptr[i]; k < e->hop_ptr[i + 1]; k++) {
            x = e->hop_dst[k];
            if (x != j && e->site[x].ion >= 0) refresh(e, leaf, x, &nd);
        }
        for (k = e->hop_ptr[j]; k < e->hop_ptr[j + 1]; k++) {
            x = e->hop_dst[k];
            if (x != i && e->site[x].ion >= 0) refresh(e, leaf, x, &nd);
        }
    } else {
        /* X: sites whose occupancy or interaction field changed; then X and its hop
         * neighbours (R) are the sites whose allowed hops or rates may change. */
        int32_t nx = 0, nr = 0, c, centre[2];
        uint32_t sx = next_stamp(e), sr;
        e->xset[nx++] = i;
        e->xset[nx++] = j;
        e->stamp[i] = e->stamp[j] = sx;
        centre[0] = i;
        centre[1] = j;
        for (c = 0; c < 2; c++) {
            for (a = e->int_ptr[centre[c]]; a < e->int_ptr[centre[c] + 1]; a++) {
                x = e->int_nbr[a];
                if (e->stamp[x] != sx) {
                    e->stamp[x] = sx;
                    e->xset[nx++] = x;
                }
            }
        }
        for (a = 0; a < nx; a++) e->phi[e->xset[a]] = site_phi(e, e->xset[a]);
        sr = next_stamp(e);
        for (a = 0; a < nx; a++) {
            x = e->xset[a];
            if (e->stamp[x] != sr) {
                e->stamp[x] = sr;
                e->rset[nr++] = x;
            }
            for (k = e->hop_ptr[x]; k < e->hop_ptr[x + 1]; k++) {
                const int32_t t = e->hop_dst[k];
                if (e->stamp[t] != sr) {
                    e->stamp[t] = sr;
                    e->rset[nr++] = t;
                }
            }
        }
        for (a = 0; a < nr; a++) refresh(e, leaf, e->rset[a], &nd);
    }
    kmc_sumtree_update(&e->tree, e->dirty, nd);
}

int kmc_engine_run(kmc_engine *e, uint64_t max_steps, double t_stop, uint64_t *steps_done,
                   int *reason)
{
    uint64_t done = 0;
    int why = KMC_STOP_STEPS;
    if (isnan(t_stop) || t_stop < e->time) {
        set_err(e->errmsg, sizeof(e->errmsg), "t_stop = %g is before the current time %g", t_stop, e->time);
        if (steps_done) *steps_done = 0;
        if (reason) *reason = KMC_STOP_STEPS;
        return KMC_ERR_INVALID;
    }
    while (done < max_steps) {
        const double total = kmc_sumtree_total(&e->tree);
        double dt, x;
        int64_t s;
        int32_t b, chosen = -1, last = -1;
        if (!(total > 0.0)) {
            why = KMC_STOP_FROZEN;
            break;
        }
        dt = -log1p(-kmc_rng_uniform(&e->rng)) / total;
        if (e->time + dt > t_stop) {
            e->time = t_stop;
            why = KMC_STOP_TIME;
            break;
        }
        x = kmc_rng_uniform(&e->rng) * total;
        s = kmc_sumtree_select(&e->tree, &x);
        if (s < 0 || e->site[s].ion < 0) {
            set_err(e->errmsg, sizeof(e->errmsg), "selected site %lld holds no ion", (long long)s);
            if (steps_done) *steps_done = done;
            if (reason) *reason = why;
            return KMC_ERR_STATE;
        }
        {
            const kmc_site *st = e->site + s;
            const double *rate = e->rate + st->rate_begin;
            uint64_t allowed = ~st->mask;
            while (allowed) {
                const int k = ctz64(allowed);
                const double r = rate[k];
                allowed &= allowed - 1;
                if (r > 0.0) {
                    if (x < r) {
                        chosen = k;
                        break;
                    }
                    x -= r;
                    last = k;
                }
            }
        }
        if (chosen < 0) chosen = last; /* rounding at the end of the site's interval */
        if (chosen < 0) {
            set_err(e->errmsg, sizeof(e->errmsg), "site %lld has a positive rate but no allowed hop", (long long)s);
            if (steps_done) *steps_done = done;
            if (reason) *reason = why;
            return KMC_ERR_STATE;
        }
        b = e->hop_ptr[s];
        execute(e, (int32_t)s, b + chosen);
        e->time += dt;
        e->steps++;
        done++;
    }
    if (steps_done) *steps_done = done;
    if (reason) *reason = why;
    return KMC_OK;
}

int kmc_engine_get_state(const kmc_engine *e, kmc_state *st)
{
    int32_t a;
    int d;
    for (a = 0; a < e->n_ions; a++) {
        if (st->ion_site) st->ion_site[a] = e->ion_site[a];
        for (d = 0; d < 3; d++)
            if (st->displacement) st->displacement[3 * a + d] = e->ions[a].disp[d];
        if (st->jump_sq) st->jump_sq[a] = e->ions[a].jump_sq;
        if (st->ion_hops) st->ion_hops[a] = e->ions[a].hops;
    }
    if (st->type_counts) memcpy(st->type_counts, e->type_counts, (size_t)e->n_hop_types * sizeof(uint64_t));
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
    if (!isfinite(st->time_s) || st->time_s < 0.0) {
        set_err(e->errmsg, sizeof(e->errmsg), "state time %g must be finite and >= 0", st->time_s);
        return KMC_ERR_INVALID;
    }
    if ((st->rng[0] | st->rng[1] | st->rng[2] | st->rng[3]) == 0) {
        set_err(e->errmsg, sizeof(e->errmsg), "RNG state is all zero");
        return KMC_ERR_INVALID;
    }
    /* check the occupancy on the stamp array before touching the engine */
    {
        uint32_t sv = next_stamp(e);
        for (a = 0; a < e->n_ions; a++) {
            int32_t s = st->ion_site[a];
            if (s < 0 || s >= e->n_sites) {
                set_err(e->errmsg, sizeof(e->errmsg), "ion %d is on site %d, outside 0..%d", (int)a, (int)s, (int)(e->n_sites - 1));
                return KMC_ERR_INVALID;
            }
            if (e->stamp[s] == sv) {
                set_err(e->errmsg, sizeof(e->errmsg), "two ions are on site %d", (int)s);
                return KMC_ERR_INVALID;
            }
            e->stamp[s] = sv;
        }
    }
    rc = place_ions(e, st->ion_site, e->errmsg, sizeof(e->errmsg));
    if (rc != KMC_OK) return rc;
    for (a = 0; a < e->n_ions; a++) {
        for (d = 0; d < 3; d++) e->ions[a].disp[d] = st->displacement[3 * a + d];
        e->ions[a].jump_sq = st->jump_sq[a];
        e->ions[a].hops = st->ion_hops[a];
    }
    memcpy(e->type_counts, st->type_counts, (size_t)e->n_hop_types * sizeof(uint64_t));
    e->time = st->time_s;
    e->steps = st->steps;
    for (d = 0; d < 3; d++) e->total_disp[d] = st->total_displacement[d];
    for (d = 0; d < 4; d++) e->rng.s[d] = st->rng[d];
    rebuild(e);
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
        if (jump_sq) jump_sq[a] = e->ions[a].jump_sq;
    }
}

#define CHECK(cond, ...)                                             \
    do {                                                             \
        if (!(cond)) {                                               \
            set_err(e->errmsg, sizeof(e->errmsg), __VA_ARGS__);      \
            return KMC_ERR_STATE;                                    \
        }                                                            \
    } while (0)

int kmc_engine_check(kmc_engine *e)
{
    int32_t s, a, n_occ = 0;
    int l;
    int64_t k;
    const double *leaf = kmc_sumtree_leaves(&e->tree);
    for (a = 0; a < e->n_ions; a++) {
        s = e->ion_site[a];
        CHECK(s >= 0 && s < e->n_sites && e->site[s].ion == a, "ion %d and site %d disagree", (int)a, (int)s);
    }
    for (s = 0; s < e->n_sites; s++) {
        if (e->site[s].ion >= 0) n_occ++;
        CHECK(e->site[s].mask == site_mask(e, s), "occupancy mask of site %d is stale", (int)s);
        if (e->interacting) CHECK(e->phi[s] == site_phi(e, s), "interaction field of site %d is stale", (int)s);
    }
    CHECK(n_occ == e->n_ions, "%d occupied sites for %d ions", (int)n_occ, (int)e->n_ions);
    for (s = 0; s < e->n_sites; s++) {
        double r = site_rate(e, s);
        CHECK(r == leaf[s], "rate sum of site %d is %.17g, recomputed %.17g", (int)s, leaf[s], r);
    }
    for (l = 1; l < e->tree.n_levels; l++) {
        const double *below = e->tree.data + e->tree.offset[l - 1];
        const double *here = e->tree.data + e->tree.offset[l];
        for (k = 0; k < e->tree.size[l - 1] / KMC_TREE_ARITY; k++)
            CHECK(kmc_sumtree_child_sum(below + KMC_TREE_ARITY * k) == here[k],
                  "sum-tree node %lld of level %d is stale", (long long)k, l);
    }
    return KMC_OK;
}

int32_t kmc_engine_n_sites(const kmc_engine *e) { return e->n_sites; }
int32_t kmc_engine_n_ions(const kmc_engine *e) { return e->n_ions; }
int32_t kmc_engine_n_hop_types(const kmc_engine *e) { return e->n_hop_types; }
double kmc_engine_time(const kmc_engine *e) { return e->time; }
uint64_t kmc_engine_steps(const kmc_engine *e) { return e->steps; }
double kmc_engine_total_rate(const kmc_engine *e) { return kmc_sumtree_total(&e->tree); }
size_t kmc_engine_memory_bytes(const kmc_engine *e) { return e->bytes; }
const char *kmc_engine_errmsg(const kmc_engine *e) { return e->errmsg; }
