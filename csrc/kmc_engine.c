/* kmc_engine.c - the rejection-free KMC engine, see kmc_engine.h.
 *
 * Memory layout (what one step touches):
 *   - site[s]: 16-byte hot record: occupancy mask of the destinations, ion, site class.
 *   - site classes: sites whose hop lists are identical relative to the site (same
 *     destination offsets dst - src, reverse slots, hop classes and, without
 *     interactions, the same rate list) share one class. A regular lattice has a
 *     handful of classes (boundary sites of a periodic box differ in their offsets), so
 *     the topology of the whole lattice stays in L1; a disordered network simply
 *     gets one class per site.
 *   - hop classes: deduplicated (vector, type) pairs.
 *   - without interactions, per rate list a table of the rate sum for every subset of
 *     allowed hops (small degrees), so a site's rate sum is one lookup; the table
 *     holds exactly what the summation loop gives (same order), so results are
 *     bit-identical either way.
 *   - the sum tree (leaves = per-site rate sums) and the per-ion records.
 * The site numbering is the caller's; nothing is renumbered.
 */
#if defined(__linux__) && !defined(_DEFAULT_SOURCE)
#define _DEFAULT_SOURCE /* posix_memalign and madvise (Linux only, see xalloc) */
#endif
#include "kmc_engine.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h> /* vsnprintf only: the engine does no I/O */
#include <stdlib.h>
#include <string.h>

#include "kmc_rate.h"
#include "kmc_rng.h"
#include "kmc_sumtree.h"

#if defined(__linux__)
#include <sys/mman.h>
#endif

#if defined(__GNUC__) || defined(__clang__)
#define KMC_PREFETCH(p) __builtin_prefetch(p)
#define KMC_PREFETCH_W(p) __builtin_prefetch(p, 1)
#define KMC_LIKELY(x) __builtin_expect(!!(x), 1)
#define KMC_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define KMC_PREFETCH(p) ((void)0)
#define KMC_PREFETCH_W(p) ((void)0)
#define KMC_LIKELY(x) (x)
#define KMC_UNLIKELY(x) (x)
#endif

/* Hot per-site record, 16 bytes (four to a cache line). */
typedef struct {
    uint64_t mask; /* bit k set: hop k is blocked (destination occupied, or k >= degree) */
    int32_t ion;   /* ion on the site, or -1 */
    int32_t cls;   /* site class */
} kmc_site;

/* A site class: the hop list shared by its sites. */
typedef struct {
    int32_t hop;  /* hops of the class are chop[hop + k], chc[hop + k], k < deg */
    int32_t deg;
    int32_t rate; /* without interactions: hop rates are rate[rate + k] */
    int32_t tab;  /* without interactions: rate sum of the allowed set a is tab[tab + a]; -1 if none */
} kmc_class;

typedef struct {
    int32_t doff; /* destination - source */
    int32_t rev;  /* position of the reverse hop in the destination's hop list */
} kmc_chop;

/* A class of multi-ion events: its type, where its move vectors start in ecl_vec, and
 * (without interactions, when there are no per-event rates) the rate of its events. */
typedef struct {
    int32_t type;
    int32_t vec; /* first move: ecl_vec[4 * vec] */
    double rate;
} kmc_evclass;

/* An ion's record: read by every attempt, written by every hop; 32 bytes, two to a cache
 * line (never split), so that an attempt on a large system costs one miss for the ion.
 * Its sum of squared jumps is kept apart (see kmc_engine.jsq). */
typedef struct {
    int32_t site;
    uint32_t hops_lo; /* hop count, low 32 bits (the high bits in kmc_engine.hops_hi) */
    double disp[3];   /* unwrapped displacement, Angstrom */
} kmc_ion;

#define KMC_MAX_RCLASS 16
#define KMC_NO_RC 0xff
#define CA 8 /* arity of the count trees */

/* Automatic mode: uniformization when at least this share of attempts is expected to be
 * accepted (its cost per hop is its cost per attempt over the acceptance). */
#ifndef KMC_UNIFORM_MIN_ACCEPT
#define KMC_UNIFORM_MIN_ACCEPT 0.25
#endif

/* Rate-sum tables only for degrees up to this and this many entries in all. */
#define KMC_TAB_MAXDEG 8
#define KMC_TAB_BUDGET 16384

struct kmc_engine {
    int32_t n_sites, n_hops, n_ions, n_hop_types;
    int interacting; /* pair interactions present: rates depend on the configuration */
    kmc_rate_memo_entry *rmemo; /* interacting mode: [KMC_RATE_MEMO_SIZE] recent rates (kmc_rate.h) */
    kmc_rate_params rp; /* the rate law, nu, 1/(kB T) */

    /* network */
    kmc_class *cls;   /* [n_cls] */
    kmc_chop *chop;   /* [n_chop] */
    int32_t *chc;     /* [n_chop] hop class of each class hop */
    double *hc_vec;   /* [n_hc*4] vector (Angstrom) and its squared length */
    int32_t *hc_type; /* [n_hc] */
    int32_t n_cls, n_chop, n_hc;
    double *rate;     /* without interactions: deduplicated rate lists; with: per hop (hop_ptr),
                         refreshed when the hop is allowed */
    int32_t n_rates;
    double *tab;      /* without interactions: rate sums per allowed set (or NULL) */
    int32_t n_tab;
    int32_t *hop_ptr;                   /* interacting mode only: CSR offsets of the per-hop arrays */
    double *hop_ekra, *hop_de0, *hop_J; /* interacting mode only: barrier, static dE, J(src,dst) */
    int32_t *int_ptr, *int_nbr;
    double *int_J;
    double *phi; /* interacting mode: phi[s] = sum over occupied interaction neighbours of J */

    /* Counting mode (no interactions, at most KMC_MAX_RCLASS distinct positive rates):
     * instead of a floating-point sum tree, per rate class v an integer count tree over
     * the sites of how many allowed hops of rate rc_rate[v] each site has. Counts are
     * exact, so they are updated by +-1 along the paths; R_total = sum_v rc_rate[v] N_v
     * in a fixed order. */
    int counting;
    int n_rc;
    double rc_rate[KMC_MAX_RCLASS];
    double rc_w[KMC_MAX_RCLASS]; /* rc_rate[v] * N_v */
    double R;                    /* sum of rc_w in order */
    uint8_t *chv, *crv;          /* [n_chop] rate class of the class hop and of its reverse (KMC_NO_RC: rate 0) */
    int c_levels;                /* levels including the leaves; level c_levels-1 is the root */
    int64_t coff[KMC_TREE_MAX_LEVELS]; /* start of inner level l (>= 1) in a class's node array */
    int64_t csize[KMC_TREE_MAX_LEVELS];
    size_t cn_leaf, cn_inner;    /* per class: padded leaves, inner nodes */
    uint8_t *cleaf;              /* [n_rc * cn_leaf] */
    uint32_t *cnode;             /* [n_rc * cn_inner] */
    uint32_t *clvl[KMC_MAX_RCLASS][KMC_TREE_MAX_LEVELS]; /* start of level l of class v's count tree */

    /* dynamic state */
    kmc_site *site; /* [n_sites] */
    kmc_ion *ions;     /* [n_ions] site, hop count and displacement of each ion */
    uint32_t *hops_hi; /* [n_ions] high 32 bits of the hop counts */
    /* The ions' sums of squared jumps (Angstrom^2). When every hop has the same squared
     * length jsq_unit (> 0; no multi-ion events), ion a's sum is
     * jsq[a] + jsq_unit * (hops of a - jsq_hops[a]) and a hop writes nothing here (the
     * values at creation or kmc_engine_set_state; both 0 unless a state gave a sum that is
     * not jsq_unit * hops). Otherwise (jsq_unit = 0) jsq[a] is the sum, added to by every
     * hop, and jsq_hops is NULL. */
    double *jsq;
    uint64_t *jsq_hops;
    double jsq_unit;
    uint64_t *type_counts;
    double time;
    uint64_t steps;
    double total_disp[3];
    kmc_rng rng;
    kmc_sumtree tree; /* leaves: per-site sum of allowed hop rates */

    /* scratch for local updates */
    uint32_t *stamp; /* interacting mode only */
    uint32_t stamp_now;
    uint8_t *seen;        /* [n_sites/8+1] bitmap for checking restored occupancies */
    int32_t *xset, *rset; /* sites whose occupancy/phi changed; sites whose rates may change */
    int64_t *dirty;       /* leaves that changed */
    int32_t xcap, rcap;

    /* multi-ion events (none: n_events = 0); never with counting mode. The type and the
     * move vectors of an event are those of its class (events with the same type and the
     * same vectors, bit for bit, share one: a periodic lattice has a few dozen), so the
     * per-event data are the sites, the class and the rate. */
    int32_t n_events, n_event_types, n_ecls;
    int32_t *ev_ptr, *ev_src, *ev_dst; /* as kmc_network */
    int32_t *ev_cls;   /* [n_events] class of each event */
    kmc_evclass *ecl;  /* [n_ecls] */
    double *ecl_vec;   /* [4 per class move] vector (Angstrom) and its squared length */
    double *ev_ekra;   /* [n_events] interacting mode only */
    double *ev_de0;    /* [n_events] interacting mode only: static dE (site energies, field), eV */
    double *ev_rate;   /* [n_events] without interactions, the rate when allowed; NULL when
                          every event has its class's rate (ecl[].rate), as on a periodic
                          lattice with periodic site energies */
    int32_t *sev_ptr, *sev; /* events that move an ion from or to each site (CSR) */
    uint64_t *ev_counts;    /* [n_event_types] */
    kmc_sumtree evtree;     /* leaves: event rates (0 if not allowed) */
    int64_t *evdirty;       /* [evcap] scratch: events re-evaluated in one step */
    int64_t evcap;

    /* Uniformization mode (no interactions, no events): attempts arrive at the constant
     * total rate u_A = n_ions * u_zmax * u_rmax; an attempt picks an ion and one of
     * u_zmax hop slots uniformly and makes hop k of the ion's site when k < degree, the
     * destination is empty and a uniform number is below rate_k / u_rmax (thinning).
     * Rejected attempts only advance the time. No masks, counts or trees are kept. */
    int uniform;
    uint8_t *u_sb8;   /* per site when there are < 128 site classes: bit 7 occupied, 0-6 class */
    int32_t *u_sb32;  /* per site otherwise: bit 31 occupied, bits 0-30 class (site[] is freed) */
    int32_t u_zmax;
    double u_rmax, u_A; /* largest hop rate (Hz), total attempt rate (Hz) */
    double *u_q;        /* [n_rates] rate / u_rmax of every rate-list entry */
    int u_binary;       /* every rate is 0 or u_rmax: no thinning draw */
    uint32_t zig_k[256]; /* ziggurat tables for Exp(1) (Marsaglia & Tsang 2000) */
    double zig_w[256], zig_f[256];

    int mode; /* the kmc_mode in use */
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

/* Sum of the rates of the allowed hops `allowed` (bit k: hop k), in increasing k. */
static inline double sum_allowed(const double *rate, uint64_t allowed)
{
    double sum = 0.0;
    while (allowed) {
        sum += rate[ctz64(allowed)];
        allowed &= allowed - 1;
    }
    return sum;
}

/* Rate sum of an occupied site without interactions. */
static inline double plain_rate(const kmc_engine *e, const kmc_site *st)
{
    const kmc_class *c = e->cls + st->cls;
    /* the padding bits of the mask are set, so ~mask < 2^deg */
    if (c->tab >= 0) return e->tab[c->tab + (size_t)~st->mask];
    return sum_allowed(e->rate + c->rate, ~st->mask);
}

static inline double hop_de_dynamic(const kmc_engine *e, int32_t src, int32_t dst, int32_t h)
{
    return e->hop_de0[h] + e->phi[dst] - e->hop_J[h] - e->phi[src];
}

/* Sum of the rates of the allowed hops of site s (0 if empty); refreshes the rates
 * of those hops when rates depend on the configuration. */
static inline double site_rate(kmc_engine *e, int32_t s)
{
    const kmc_site *st = e->site + s;
    if (st->ion < 0) return 0.0;
    if (e->interacting) {
        const int32_t b = e->hop_ptr[s];
        const kmc_chop *ch = e->chop + e->cls[st->cls].hop;
        uint64_t allowed = ~st->mask;
        double sum = 0.0;
        while (allowed) {
            const int k = ctz64(allowed);
            const double ekra = e->hop_ekra[b + k], de = hop_de_dynamic(e, s, s + ch[k].doff, b + k);
            const double r = e->rmemo ? kmc_rate_memo(e->rmemo, &e->rp, ekra, de) : kmc_rate(&e->rp, ekra, de);
            e->rate[b + k] = r;
            sum += r;
            allowed &= allowed - 1;
        }
        return sum;
    }
    return plain_rate(e, st);
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
    const kmc_class *c = e->cls + e->site[s].cls;
    const kmc_chop *ch = e->chop + c->hop;
    int32_t k;
    uint64_t m = padding_bits(c->deg);
    for (k = 0; k < c->deg; k++)
        if (e->site[s + ch[k].doff].ion >= 0) m |= (uint64_t)1 << k;
    return m;
}

/* ---- multi-ion events ---- */

/* J between sites s and t (0 if they do not interact). */
static inline double pair_J(const kmc_engine *e, int32_t s, int32_t t)
{
    int32_t a;
    for (a = e->int_ptr[s]; a < e->int_ptr[s + 1]; a++)
        if (e->int_nbr[a] == t) return e->int_J[a];
    return 0.0;
}

/* Change of the pair energy when event moves b..b+k are made: with dn the change of the
 * occupation numbers, dE = sum_s dn_s phi_s + sum_{s<t} J_st dn_s dn_t (exact). */
static double event_dpair(const kmc_engine *e, int32_t b, int32_t k)
{
    int32_t sites[2 * KMC_MAX_EVENT_MOVES];
    int dn[2 * KMC_MAX_EVENT_MOVES];
    int ns = 0, m, a, c, w;
    double de = 0.0;
    for (m = 0; m < 2 * k; m++) {
        const int32_t x = m < k ? e->ev_src[b + m] : e->ev_dst[b + m - k];
        const int d = m < k ? -1 : 1;
        for (w = 0; w < ns && sites[w] != x; w++) continue;
        if (w == ns) {
            sites[ns] = x;
            dn[ns++] = 0;
        }
        dn[w] += d;
    }
    for (a = 0; a < ns; a++) {
        if (!dn[a]) continue;
        de += dn[a] * e->phi[sites[a]];
        for (c = a + 1; c < ns; c++)
            if (dn[c]) de += dn[a] * dn[c] * pair_J(e, sites[a], sites[c]);
    }
    return de;
}

/* Rate of event v in the current configuration (0 if not allowed). */
static double event_rate(const kmc_engine *e, int32_t v)
{
    const int32_t b = e->ev_ptr[v], k = e->ev_ptr[v + 1] - b;
    int32_t m, q;
    for (m = 0; m < k; m++)
        if (e->site[e->ev_src[b + m]].ion < 0) return 0.0;
    for (m = 0; m < k; m++) {
        const int32_t d = e->ev_dst[b + m];
        if (e->site[d].ion >= 0) { /* allowed only if the event vacates it */
            for (q = 0; q < k && e->ev_src[b + q] != d; q++) continue;
            if (q == k) return 0.0;
        }
    }
    if (!e->interacting) return e->ev_rate ? e->ev_rate[v] : e->ecl[e->ev_cls[v]].rate;
    return kmc_rate(&e->rp, e->ev_ekra[v], e->ev_de0[v] + event_dpair(e, b, k));
}

/* Recompute the events touching the n sites xs; append changed leaves to evdirty. */
static void refresh_events(kmc_engine *e, const int32_t *xs, int32_t n, int *ne)
{
    double *leaf = kmc_sumtree_leaves(&e->evtree);
    int32_t a, q;
    for (a = 0; a < n; a++) {
        for (q = e->sev_ptr[xs[a]]; q < e->sev_ptr[xs[a] + 1]; q++) {
            const int32_t v = e->sev[q];
            const double r = event_rate(e, v);
            if (r != leaf[v]) {
                leaf[v] = r;
                e->evdirty[(*ne)++] = v;
            }
        }
    }
}

/* Arrays of at least this many bytes are asked for in transparent huge pages (Linux): a
 * large system touches random entries of them every step, and with 4 KiB pages nearly every
 * touch also misses the TLB. */
#define KMC_HUGE_BYTES ((size_t)1 << 21)
#define KMC_HUGE_PAGE ((size_t)1 << 21)

/* Zeroed array of n elements of `size` bytes (counted in e->bytes); sets *fail if not. */
static void *xalloc(kmc_engine *e, size_t n, size_t size, int *fail)
{
    void *p;
    if (n == 0) n = 1;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (n * size >= KMC_HUGE_BYTES && n <= ((size_t)-1 - KMC_HUGE_PAGE) / size) {
        const size_t bytes = (n * size + KMC_HUGE_PAGE - 1) & ~(KMC_HUGE_PAGE - 1);
        if (posix_memalign(&p, KMC_HUGE_PAGE, bytes) != 0) {
            *fail = 1;
            return NULL;
        }
        (void)madvise(p, bytes, MADV_HUGEPAGE); /* a hint: failure changes nothing */
        memset(p, 0, bytes);
        e->bytes += n * size;
        return p;
    }
#endif
    p = calloc(n, size);
    if (!p) *fail = 1;
    else e->bytes += n * size;
    return p;
}

/* ---- counting mode ---- */

/* Number of allowed hops of each rate class of the occupied site st (added to cnt). */
static inline void count_site(const kmc_engine *e, const kmc_site *st, uint32_t *cnt)
{
    const uint8_t *hv = e->chv + e->cls[st->cls].hop;
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
    uint32_t *const *lvl = e->clvl[v];
    uint8_t *leaf = e->cleaf + (size_t)v * e->cn_leaf + s;
    const int n_levels = e->c_levels;
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
    const int64_t root = e->coff[e->c_levels - 1];
    double R = 0.0;
    int v;
    for (v = 0; v < e->n_rc; v++) {
        e->rc_w[v] = e->rc_rate[v] * (double)e->cnode[(size_t)v * e->cn_inner + (size_t)root];
        R += e->rc_w[v];
    }
    e->R = R;
}

/* Recompute all counts from the masks. */
static void count_rebuild(kmc_engine *e)
{
    int32_t s;
    int v, l;
    int64_t k;
    uint32_t cnt[KMC_MAX_RCLASS];
    memset(e->cleaf, 0, (size_t)e->n_rc * e->cn_leaf);
    for (s = 0; s < e->n_sites; s++) {
        if (e->site[s].ion < 0) continue;
        memset(cnt, 0, sizeof(cnt));
        count_site(e, e->site + s, cnt);
        for (v = 0; v < e->n_rc; v++) e->cleaf[(size_t)v * e->cn_leaf + (size_t)s] = (uint8_t)cnt[v];
    }
    for (v = 0; v < e->n_rc; v++) {
        const uint8_t *leaf = e->cleaf + (size_t)v * e->cn_leaf;
        uint32_t *node = e->cnode + (size_t)v * e->cn_inner;
        memset(node, 0, e->cn_inner * sizeof(uint32_t));
        for (k = 0; k < (int64_t)e->cn_leaf; k++) node[e->coff[1] + k / CA] += leaf[k];
        for (l = 2; l < e->c_levels; l++)
            for (k = 0; k < e->csize[l - 1]; k++) node[e->coff[l] + k / CA] += node[e->coff[l - 1] + k];
    }
    count_total(e);
}

/* Allocate the count trees (levels padded to multiples of CA, as the sum tree). */
static int count_init(kmc_engine *e)
{
    int64_t nl = e->n_sites, off = 0;
    int L = 0, fail = 0, v, l;
    for (;;) {
        const int64_t padded = (nl == 1 && L > 0) ? 1 : (nl + CA - 1) / CA * CA;
        e->csize[L] = padded;
        if (L == 0) {
            e->cn_leaf = (size_t)padded;
        } else {
            e->coff[L] = off;
            off += padded;
        }
        L++;
        if ((nl == 1 && L > 1) || L == KMC_TREE_MAX_LEVELS) break;
        nl = padded / CA;
    }
    e->c_levels = L;
    e->cn_inner = (size_t)off;
    e->cleaf = (uint8_t *)xalloc(e, (size_t)e->n_rc * e->cn_leaf, 1, &fail);
    e->cnode = (uint32_t *)xalloc(e, (size_t)e->n_rc * e->cn_inner, sizeof(uint32_t), &fail);
    if (fail) return -1;
    for (v = 0; v < e->n_rc; v++)
        for (l = 1; l < L; l++) e->clvl[v][l] = e->cnode + (size_t)v * e->cn_inner + (size_t)e->coff[l];
    return 0;
}

/* ---- uniformization mode ---- */

/* Ziggurat tables for the exponential distribution with 256 layers (Marsaglia & Tsang,
 * J. Stat. Softw. 5 (8), 2000): layer i has the cut k[i], the width w[i] and f[i] =
 * exp(-x_i). Computed once (libm exp and log), so a seed gives the same draws. */
static void zig_init(kmc_engine *e)
{
    const double m2 = 4294967296.0;
    double de = 7.697117470131487, te = de;
    const double ve = 3.949659822581572e-3;
    const double q = ve / exp(-de);
    int i;
    e->zig_k[0] = (uint32_t)((de / q) * m2);
    e->zig_k[1] = 0;
    e->zig_w[0] = q / m2;
    e->zig_w[255] = de / m2;
    e->zig_f[0] = 1.0;
    e->zig_f[255] = exp(-de);
    for (i = 254; i >= 1; i--) {
        de = -log(ve / de + exp(-de));
        e->zig_k[i + 1] = (uint32_t)((de / te) * m2);
        te = de;
        e->zig_f[i] = exp(-de);
        e->zig_w[i] = de / m2;
    }
}

/* An Exp(1) variate: the layer from the low 8 bits of a 64-bit draw, the position from its
 * high 32 bits; about 99 % of draws end at the first comparison. */
static inline double zig_exp(kmc_engine *e)
{
    for (;;) {
        const uint64_t r = kmc_rng_next(&e->rng);
        const uint32_t iz = (uint32_t)(r & 255u), jz = (uint32_t)(r >> 32);
        double x;
        if (KMC_LIKELY(jz < e->zig_k[iz])) return (double)jz * e->zig_w[iz];
        if (iz == 0) /* the tail beyond the last layer: 7.697... + Exp(1) */
            return 7.697117470131487 - log1p(-kmc_rng_uniform(&e->rng));
        x = (double)jz * e->zig_w[iz];
        if (e->zig_f[iz] + kmc_rng_uniform(&e->rng) * (e->zig_f[iz - 1] - e->zig_f[iz]) < exp(-x))
            return x;
    }
}

/* Uniformization's compact per-site word: occupancy and site class. */
static inline int32_t u_class(const kmc_engine *e, int32_t s)
{
    return e->u_sb8 ? (int32_t)(e->u_sb8[s] & 0x7fu) : (int32_t)((uint32_t)e->u_sb32[s] & 0x7fffffffu);
}

static inline int u_occupied(const kmc_engine *e, int32_t s)
{
    return e->u_sb8 ? (e->u_sb8[s] >> 7) : (int)((uint32_t)e->u_sb32[s] >> 31);
}

static inline void u_set(kmc_engine *e, int32_t s, int occupied)
{
    if (e->u_sb8)
        e->u_sb8[s] = (uint8_t)((e->u_sb8[s] & 0x7fu) | (occupied ? 0x80u : 0u));
    else
        e->u_sb32[s] = (int32_t)(((uint32_t)e->u_sb32[s] & 0x7fffffffu) | (occupied ? 0x80000000u : 0u));
}

/* Exact total rate of the allowed hops (uniformization keeps no sums): O(n_ions z). */
static double uniform_total(const kmc_engine *e)
{
    double sum = 0.0;
    int32_t a, k;
    for (a = 0; a < e->n_ions; a++) {
        const int32_t s = e->ions[a].site;
        const kmc_class *c = e->cls + u_class(e, s);
        const kmc_chop *ch = e->chop + c->hop;
        const double *rate = e->rate + c->rate;
        for (k = 0; k < c->deg; k++)
            if (!u_occupied(e, s + ch[k].doff)) sum += rate[k];
    }
    return sum;
}

/* The largest degree and the largest hop rate (Hz) of the classes; 1 if both are positive
 * (uniformization possible), else 0. */
static int uniform_bounds(const kmc_engine *e, int32_t *zmax, double *rmax)
{
    int32_t c, r;
    *zmax = 0;
    *rmax = 0.0;
    for (c = 0; c < e->n_cls; c++)
        if (e->cls[c].deg > *zmax) *zmax = e->cls[c].deg;
    for (r = 0; r < e->n_rates; r++)
        if (e->rate[r] > *rmax) *rmax = e->rate[r];
    return *rmax > 0.0 && *zmax > 0;
}

/* Set up uniformization: the largest degree and rate, the thinning ratios, the tables. */
static int uniform_init(kmc_engine *e)
{
    int32_t r, c;
    int fail = 0;
    (void)uniform_bounds(e, &e->u_zmax, &e->u_rmax);
    e->u_q = (double *)xalloc(e, (size_t)e->n_rates, sizeof(double), &fail);
    if (fail) return -1;
    e->u_binary = 1;
    for (r = 0; r < e->n_rates; r++) {
        e->u_q[r] = e->u_rmax > 0.0 ? e->rate[r] / e->u_rmax : 0.0;
        if (e->rate[r] != 0.0 && e->rate[r] != e->u_rmax) e->u_binary = 0;
    }
    e->u_A = (double)e->n_ions * (double)e->u_zmax * e->u_rmax;
    zig_init(e);
    /* the per-site class in one byte (or word) beside the occupancy bit; site[] goes */
    if (e->n_cls < 128) e->u_sb8 = (uint8_t *)xalloc(e, (size_t)e->n_sites, 1, &fail);
    else e->u_sb32 = (int32_t *)xalloc(e, (size_t)e->n_sites, sizeof(int32_t), &fail);
    if (fail) return -1;
    for (c = 0; c < e->n_sites; c++) {
        if (e->u_sb8) e->u_sb8[c] = (uint8_t)e->site[c].cls;
        else e->u_sb32[c] = e->site[c].cls;
    }
    free(e->site);
    e->site = NULL;
    e->bytes -= (size_t)e->n_sites * sizeof(kmc_site);
    return 0;
}

/* Expected share of accepted attempts from the network alone (random occupancy), to pick
 * the automatic mode: (1 - c) times the mean over sites of sum_k rate_k / (zmax rmax). */
static double uniform_acceptance(const kmc_engine *e)
{
    double sum = 0.0, rmax;
    int32_t s, k, zmax;
    if (e->n_ions <= 0 || !uniform_bounds(e, &zmax, &rmax)) return 0.0;
    for (s = 0; s < e->n_sites; s++) {
        const kmc_class *c = e->cls + e->site[s].cls;
        for (k = 0; k < c->deg; k++) sum += e->rate[c->rate + k];
    }
    return (1.0 - (double)e->n_ions / (double)e->n_sites) * sum /
           ((double)e->n_sites * (double)zmax * rmax);
}

/* Share of uniformization attempts accepted in the initial configuration (ions on
 * ion_site): a guard for the automatic mode against starts where the fast hops are blocked
 * (uniformization would then reject almost every attempt). 0 if out of memory. */
static double start_acceptance(const kmc_engine *e, const int32_t *ion_site)
{
    double sum = 0.0, rmax;
    int32_t a, k, zmax;
    uint8_t *occ;
    if (e->n_ions <= 0 || !uniform_bounds(e, &zmax, &rmax)) return 0.0;
    if (!(occ = (uint8_t *)calloc((size_t)e->n_sites / 8 + 1, 1))) return 0.0;
    for (a = 0; a < e->n_ions; a++) occ[ion_site[a] >> 3] |= (uint8_t)(1u << (ion_site[a] & 7));
    for (a = 0; a < e->n_ions; a++) {
        const int32_t s = ion_site[a];
        const kmc_class *c = e->cls + e->site[s].cls;
        for (k = 0; k < c->deg; k++) {
            const int32_t j = s + e->chop[c->hop + k].doff;
            if (!(occ[j >> 3] & (1u << (j & 7)))) sum += e->rate[c->rate + k];
        }
    }
    free(occ);
    return sum / ((double)e->n_ions * (double)zmax * rmax);
}

/* Rebuild every derived quantity from the occupancy (site[].ion). */
static void rebuild(kmc_engine *e)
{
    int32_t s;
    double *leaf = kmc_sumtree_leaves(&e->tree);
    if (e->uniform) return; /* the occupancy is all it uses */
    for (s = 0; s < e->n_sites; s++) e->site[s].mask = site_mask(e, s);
    if (e->counting) {
        count_rebuild(e);
        return;
    }
    if (e->interacting)
        for (s = 0; s < e->n_sites; s++) e->phi[s] = site_phi(e, s);
    for (s = 0; s < e->n_sites; s++) leaf[s] = site_rate(e, s);
    kmc_sumtree_rebuild(&e->tree);
    if (e->n_events) {
        double *ev = kmc_sumtree_leaves(&e->evtree);
        int32_t v;
        for (v = 0; v < e->n_events; v++) ev[v] = event_rate(e, v);
        kmc_sumtree_rebuild(&e->evtree);
    }
}

/* ---- deduplication of records (creation only) ---- */

/* A set of records (arrays of int64 words) with a hash index; ids in order of first sight. */
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

static int64_t dbits(double x)
{
    int64_t b;
    memcpy(&b, &x, sizeof(b));
    return b;
}

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
    if ((net->int_ptr && net->int_ptr[n] > 0) || net->n_events > 0)
        FAIL("template networks support neither pair interactions nor multi-ion events");
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
    return 1;
}

/* Validate the inputs; 1 if valid, else 0 with a message. */
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
    if (p->mode == KMC_MODE_UNIFORM && (net->n_events > 0 || (net->int_ptr && n >= 1 && net->int_ptr[n] > 0)))
        FAIL("mode uniform needs a network without pair interactions and multi-ion events");
    if (!isfinite(p->charge_e)) FAIL("charge_e = %g must be finite", p->charge_e);
    for (d = 0; d < 3; d++)
        if (!isfinite(p->field_V_per_A[d])) FAIL("field component %d = %g is not finite", d, p->field_V_per_A[d]);
    if (n < 1) FAIL("n_sites = %d must be >= 1", (int)n);
    if (net->n_hops < 0) FAIL("n_hops = %d must be >= 0", (int)net->n_hops);
    if (net->n_hop_types < 1) FAIL("n_hop_types = %d must be >= 1", (int)net->n_hop_types);
    if (!net->site_energy) FAIL("site_energy is required");
    if (net->site_template) {
        if (!validate_templates(net, status, errmsg, errmsg_len)) return 0;
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
    if (net->n_events < 0) FAIL("n_events = %d must be >= 0", (int)net->n_events);
    if (net->n_events > 0) {
        int32_t v, m, q;
        if (!net->ev_ptr || !net->ev_src || !net->ev_dst || !net->ev_vec || !net->ev_ekra || !net->ev_type)
            FAIL("event arrays are required when n_events > 0");
        if (net->n_event_types < 1) FAIL("n_event_types = %d must be >= 1", (int)net->n_event_types);
        if (net->ev_ptr[0] != 0) FAIL("ev_ptr must start at 0");
        for (v = 0; v < net->n_events; v++) /* offsets first: ev_ptr[n_events] is the number of moves */
            if (net->ev_ptr[v + 1] < net->ev_ptr[v]) FAIL("ev_ptr is not non-decreasing at event %d", (int)v);
        for (v = 0; v < net->n_events; v++) {
            const int32_t b = net->ev_ptr[v], k = net->ev_ptr[v + 1] - b;
            if (k < 1 || k > KMC_MAX_EVENT_MOVES)
                FAIL("event %d has %d moves; 1..%d are supported", (int)v, (int)k, KMC_MAX_EVENT_MOVES);
            if (!isfinite(net->ev_ekra[v]) || net->ev_ekra[v] < 0.0)
                FAIL("ev_ekra[%d] = %g must be finite and >= 0", (int)v, net->ev_ekra[v]);
            if (net->ev_type[v] < 0 || net->ev_type[v] >= net->n_event_types)
                FAIL("ev_type[%d] = %d outside 0..%d", (int)v, (int)net->ev_type[v], (int)(net->n_event_types - 1));
            for (m = 0; m < k; m++) {
                const int32_t a0 = net->ev_src[b + m], b0 = net->ev_dst[b + m];
                if (a0 < 0 || a0 >= n || b0 < 0 || b0 >= n)
                    FAIL("event %d moves %d -> %d, outside 0..%d", (int)v, (int)a0, (int)b0, (int)(n - 1));
                if (a0 == b0) FAIL("event %d moves an ion from site %d to itself", (int)v, (int)a0);
                for (d = 0; d < 3; d++)
                    if (!isfinite(net->ev_vec[3 * (b + m) + d])) FAIL("event %d has a non-finite vector", (int)v);
                for (q = 0; q < m; q++) {
                    if (net->ev_src[b + q] == a0) FAIL("event %d moves two ions from site %d", (int)v, (int)a0);
                    if (net->ev_dst[b + q] == b0) FAIL("event %d moves two ions to site %d", (int)v, (int)b0);
                }
            }
        }
    }
ions:
    if (n_ions < 0 || n_ions > n) FAIL("n_ions = %d must be between 0 and n_sites = %d", (int)n_ions, (int)n);
    for (a = 0; a < n_ions; a++)
        if (ion_site[a] < 0 || ion_site[a] >= n) FAIL("ion %d is on site %d, outside 0..%d", (int)a, (int)ion_site[a], (int)(n - 1));
    return 1;
}

static int place_ions(kmc_engine *e, const int32_t *ion_site, char *errmsg, size_t errmsg_len)
{
    int32_t a, s;
    if (e->uniform) {
        for (s = 0; s < e->n_sites; s++) u_set(e, s, 0);
        for (a = 0; a < e->n_ions; a++) {
            s = ion_site[a];
            if (s < 0 || s >= e->n_sites) {
                set_err(errmsg, errmsg_len, "ion %d is on site %d, outside 0..%d", (int)a, (int)s, (int)(e->n_sites - 1));
                return KMC_ERR_INVALID;
            }
            if (u_occupied(e, s)) {
                set_err(errmsg, errmsg_len, "two ions (one of them ion %d) are on site %d", (int)a, (int)s);
                return KMC_ERR_INVALID;
            }
            u_set(e, s, 1);
            e->ions[a].site = s;
        }
        return KMC_OK;
    }
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
        e->ions[a].site = s;
    }
    return KMC_OK;
}

/*
 * Build the deduplicated network: hop classes, rate lists (+ their sum tables) and
 * site classes. Returns 0, or -1 when out of memory.
 */
/* Rate class of a rate (counting mode), KMC_NO_RC for a zero rate. */
static uint8_t rate_class(const kmc_engine *e, double rate)
{
    int v;
    if (!(rate > 0.0)) return KMC_NO_RC;
    for (v = 0; v < e->n_rc; v++)
        if (dbits(e->rc_rate[v]) == dbits(rate)) return (uint8_t)v;
    return KMC_NO_RC; /* not reached: every positive rate has a class */
}

static int build_classes(kmc_engine *e, const kmc_network *net, const kmc_params *p)
{
    interner H, P, C;
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
    if (intern_init(&H) || intern_init(&P) || intern_init(&C)) goto done;

    /* No per-hop scratch arrays: hop classes and rates are recomputed per site (the
     * interners return the same index for the same record), so set-up needs no memory
     * per hop beyond what the engine keeps. */
    if (e->interacting) {
        /* per-hop static data (CSR form only) */
        for (s = 0; s < n; s++) {
            const int32_t deg = net_deg(net, s);
            for (k = 0; k < deg; k++) {
                net_hop(net, s, k, &v);
                e->hop_ekra[v.id] = v.ekra;
                e->hop_de0[v.id] = hop_de0(net, p, s, &v);
                e->hop_J[v.id] = net->hop_J[v.id];
            }
        }
    } else {
        /* counting mode: few distinct positive rates (in order of first appearance) */
        int32_t maxdeg = 0;
        for (s = 0; s < n; s++)
            if (net_deg(net, s) > maxdeg) maxdeg = net_deg(net, s);
        e->counting = (uint64_t)n * (uint64_t)maxdeg < ((uint64_t)1 << 31) && net->n_events == 0;
        e->n_rc = 0;
        for (s = 0; s < n && e->counting; s++) {
            const int32_t deg = net_deg(net, s);
            for (k = 0; k < deg && e->counting; k++) {
                double rate;
                net_hop(net, s, k, &v);
                /* precomputed once: nothing in the configuration can change it */
                rate = kmc_rate(&e->rp, v.ekra, hop_de0(net, p, s, &v));
                if (!(rate > 0.0) || rate_class(e, rate) != KMC_NO_RC) continue;
                if (e->n_rc == KMC_MAX_RCLASS) e->counting = 0;
                else e->rc_rate[e->n_rc++] = rate;
            }
        }
        if (e->n_rc == 0) e->counting = 0;
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
        }
        rec[0] = pat;
        for (k = 0; k < deg; k++) {
            net_hop(net, s, k, &v);
            rec[1 + 2 * k] = (int64_t)v.dst - s;
            rec[2 + 2 * k] = ((int64_t)hcl[k] << 24) | (int64_t)v.rev;
            if (e->counting) {
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
    if (e->counting) {
        e->chv = (uint8_t *)xalloc(e, (size_t)e->n_chop, 1, &fail);
        e->crv = (uint8_t *)xalloc(e, (size_t)e->n_chop, 1, &fail);
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
            if (x[0] >= 0) {
                const int32_t pr = (int32_t)x[0];
                c->rate = (int32_t)P.start[pr];
                if (e->tab) c->tab = ptab[pr];
            }
            for (k = 0; k < deg; k++) {
                e->chop[hop + k].doff = (int32_t)x[1 + 2 * k];
                e->chop[hop + k].rev = (int32_t)(x[2 + 2 * k] & 0xff);
                e->chc[hop + k] = (int32_t)(x[2 + 2 * k] >> 24);
                if (e->counting) {
                    e->chv[hop + k] = (uint8_t)((x[2 + 2 * k] >> 16) & 0xff);
                    e->crv[hop + k] = (uint8_t)((x[2 + 2 * k] >> 8) & 0xff);
                }
            }
            hop += deg;
        }
    }
    ok = 0;
done:
    free(ptab);
    intern_free(&H);
    intern_free(&P);
    intern_free(&C);
    return ok;
}

/* ---- multi-ion events (creation only) ---- */

/* Hash of event v's class record: type, move count and the bits of the move vectors. */
static uint64_t event_hash(const kmc_network *net, int32_t v)
{
    const int32_t b = net->ev_ptr[v], k = net->ev_ptr[v + 1] - b;
    uint64_t h = ((uint64_t)(uint32_t)net->ev_type[v] << 8) ^ (uint64_t)k;
    int32_t i;
    for (i = 0; i < 3 * k; i++)
        h = (h ^ (uint64_t)dbits(net->ev_vec[3 * (size_t)b + (size_t)i])) * UINT64_C(0x9E3779B97F4A7C15);
    h ^= h >> 29;
    h *= UINT64_C(0xBF58476D1CE4E5B9);
    return h ^ (h >> 32);
}

/* Events v and r have the same class record (vectors compared bit for bit). */
static int same_event_class(const kmc_network *net, int32_t v, int32_t r)
{
    const int32_t bv = net->ev_ptr[v], k = net->ev_ptr[v + 1] - bv, br = net->ev_ptr[r];
    const double *x = net->ev_vec + 3 * (size_t)bv, *y = net->ev_vec + 3 * (size_t)br;
    int32_t i;
    if (net->ev_type[v] != net->ev_type[r] || net->ev_ptr[r + 1] - br != k) return 0;
    for (i = 0; i < 3 * k; i++)
        if (dbits(x[i]) != dbits(y[i])) return 0;
    return 1;
}

/* The class of every event (e->ev_cls, ids in order of first appearance) and one
 * representative event per class (*reps, malloc'd, e->n_ecls of them). Open addressing
 * over the representatives: no copies of the records. Returns 0, or -1 when out of memory. */
static int event_classes(kmc_engine *e, const kmc_network *net, int32_t **reps)
{
    size_t n_slots = 64, mask = n_slots - 1, i;
    int32_t *slot = (int32_t *)malloc(n_slots * sizeof(int32_t)), *rep = (int32_t *)malloc(32 * sizeof(int32_t));
    int32_t nc = 0, cap = 32, v, r, prev = -1;
    *reps = NULL;
    if (!slot || !rep) goto fail;
    for (i = 0; i < n_slots; i++) slot[i] = -1;
    for (v = 0; v < net->n_events; v++) {
        if (prev >= 0 && same_event_class(net, v, rep[prev])) { /* runs of one class */
            e->ev_cls[v] = prev;
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
        e->ev_cls[v] = prev = r;
    }
    free(slot);
    e->n_ecls = nc;
    *reps = rep;
    return 0;
fail:
    free(slot);
    free(rep);
    return -1;
}

/* Copy the multi-ion events, build their classes, static energies and rates, and the
 * site -> event lists. Returns 0, or -1 when out of memory. */
static int events_init(kmc_engine *e, const kmc_network *net, const kmc_params *p)
{
    const int32_t n = net->n_sites, ne = net->n_events, nm = net->ev_ptr[ne];
    int32_t v, m, q, c, *rep = NULL, maxsev = 0;
    double *cfd = NULL; /* field term of each class */
    double last_ekra = 0.0, last_de = 0.0, last_rate = -1.0;
    int fail = 0, d, ok = -1;
    e->n_events = ne;
    e->n_event_types = net->n_event_types;
    e->ev_ptr = (int32_t *)xalloc(e, (size_t)ne + 1, sizeof(int32_t), &fail);
    e->ev_src = (int32_t *)xalloc(e, (size_t)nm, sizeof(int32_t), &fail);
    e->ev_dst = (int32_t *)xalloc(e, (size_t)nm, sizeof(int32_t), &fail);
    e->ev_cls = (int32_t *)xalloc(e, (size_t)ne, sizeof(int32_t), &fail);
    if (e->interacting) {
        e->ev_ekra = (double *)xalloc(e, (size_t)ne, sizeof(double), &fail);
        e->ev_de0 = (double *)xalloc(e, (size_t)ne, sizeof(double), &fail);
    }
    e->sev_ptr = (int32_t *)xalloc(e, (size_t)n + 1, sizeof(int32_t), &fail);
    e->ev_counts = (uint64_t *)xalloc(e, (size_t)net->n_event_types, sizeof(uint64_t), &fail);
    if (fail || event_classes(e, net, &rep) != 0) goto done;

    /* the class table: type, vectors and squared lengths from each class's representative */
    {
        int32_t rows = 0;
        for (c = 0; c < e->n_ecls; c++) rows += net->ev_ptr[rep[c] + 1] - net->ev_ptr[rep[c]];
        e->ecl = (kmc_evclass *)xalloc(e, (size_t)e->n_ecls, sizeof(kmc_evclass), &fail);
        e->ecl_vec = (double *)xalloc(e, (size_t)rows * 4, sizeof(double), &fail);
        cfd = (double *)malloc((size_t)e->n_ecls * sizeof(double));
        if (fail || !cfd) goto done;
        rows = 0;
        for (c = 0; c < e->n_ecls; c++) {
            const int32_t b = net->ev_ptr[rep[c]], k = net->ev_ptr[rep[c] + 1] - b;
            double fd = 0.0;
            e->ecl[c].type = net->ev_type[rep[c]];
            e->ecl[c].vec = rows;
            e->ecl[c].rate = -1.0; /* none yet */
            for (m = 0; m < k; m++, rows++) {
                double sq = 0.0, *w = e->ecl_vec + 4 * (size_t)rows;
                for (d = 0; d < 3; d++) {
                    const double x = net->ev_vec[3 * (size_t)(b + m) + d];
                    w[d] = x;
                    sq += x * x;
                    fd += p->field_V_per_A[d] * x;
                }
                w[3] = sq;
            }
            cfd[c] = fd;
        }
    }
    memcpy(e->ev_ptr, net->ev_ptr, ((size_t)ne + 1) * sizeof(int32_t));
    memcpy(e->ev_src, net->ev_src, (size_t)nm * sizeof(int32_t));
    memcpy(e->ev_dst, net->ev_dst, (size_t)nm * sizeof(int32_t));
    if (e->interacting) memcpy(e->ev_ekra, net->ev_ekra, (size_t)ne * sizeof(double));
    for (v = 0; v < ne; v++) {
        double de0 = 0.0, de;
        for (m = net->ev_ptr[v]; m < net->ev_ptr[v + 1]; m++)
            de0 += net->site_energy[net->ev_dst[m]] - net->site_energy[net->ev_src[m]];
        de = de0 - p->charge_e * cfd[e->ev_cls[v]];
        if (e->interacting) {
            e->ev_de0[v] = de;
        } else { /* the rate of the previous event again if it has the same barrier and dE */
            kmc_evclass *ec = e->ecl + e->ev_cls[v];
            if (!(last_rate >= 0.0 && dbits(net->ev_ekra[v]) == dbits(last_ekra) && dbits(de) == dbits(last_de))) {
                last_ekra = net->ev_ekra[v];
                last_de = de;
                last_rate = kmc_rate(&e->rp, last_ekra, last_de);
            }
            if (!e->ev_rate) { /* per class while every event has its class's rate */
                if (ec->rate < 0.0) {
                    ec->rate = last_rate;
                } else if (dbits(ec->rate) != dbits(last_rate)) {
                    int32_t u;
                    e->ev_rate = (double *)xalloc(e, (size_t)ne, sizeof(double), &fail);
                    if (fail) goto done;
                    for (u = 0; u < v; u++) e->ev_rate[u] = e->ecl[e->ev_cls[u]].rate;
                }
            }
            if (e->ev_rate) e->ev_rate[v] = last_rate;
        }
    }
    /* site -> events, each event once per site (a site may be a source and a target):
     * counts, offsets, then the lists (sev_ptr[x] runs ahead as the fill position) */
    for (q = 0; q < 2; q++) {
        for (v = 0; v < ne; v++) {
            const int32_t b = net->ev_ptr[v], k = net->ev_ptr[v + 1] - b;
            for (m = 0; m < 2 * k; m++) {
                const int32_t x = m < k ? net->ev_src[b + m] : net->ev_dst[b + m - k];
                int32_t w, dup = 0;
                for (w = 0; w < k && m >= k && !dup; w++) dup = net->ev_src[b + w] == x;
                if (dup) continue;
                if (q == 0) e->sev_ptr[x + 1]++;
                else e->sev[e->sev_ptr[x]++] = v;
            }
        }
        if (q == 0) {
            for (m = 0; m < n; m++) {
                if (e->sev_ptr[m + 1] > maxsev) maxsev = e->sev_ptr[m + 1];
                e->sev_ptr[m + 1] += e->sev_ptr[m];
            }
            e->sev = (int32_t *)xalloc(e, (size_t)e->sev_ptr[n], sizeof(int32_t), &fail);
            if (fail) goto done;
        } else { /* each sev_ptr[x] is now the start of x + 1's list: shift back */
            for (m = n; m > 0; m--) e->sev_ptr[m] = e->sev_ptr[m - 1];
            e->sev_ptr[0] = 0;
        }
    }
    /* One step re-evaluates the events of at most xcap distinct sites, each event once. */
    e->evcap = (int64_t)e->xcap * maxsev;
    if (e->evcap > ne) e->evcap = ne;
    e->evdirty = (int64_t *)xalloc(e, (size_t)e->evcap, sizeof(int64_t), &fail);
    if (fail || kmc_sumtree_init(&e->evtree, ne) != 0) goto done;
    e->bytes += kmc_sumtree_bytes(ne);
    ok = 0;
done:
    free(rep);
    free(cfd);
    return ok;
}

/* Interacting mode: do the hop rates take few values? They do when the hops have few
 * distinct (E_kra, static dE, J of the hop) and the pairs few distinct J: then the
 * configuration-dependent dE takes few values too and the rate memo hits. With many
 * (disordered energies or barriers) the memo would mostly miss and only cost time. */
static int few_rate_keys(const kmc_engine *e, const kmc_network *net)
{
    interner t;
    int32_t h, a;
    int few = 1;
    if (intern_init(&t) != 0) return 0;
    for (h = 0; h < e->n_hops && few; h++) {
        const int64_t rec[3] = {dbits(e->hop_ekra[h]), dbits(e->hop_de0[h]), dbits(e->hop_J[h])};
        few = intern(&t, rec, 3) >= 0 && t.n <= 64;
    }
    intern_free(&t);
    if (!few || intern_init(&t) != 0) return 0;
    for (a = 0; a < net->int_ptr[net->n_sites] && few; a++) {
        const int64_t rec[1] = {dbits(net->int_J[a])};
        few = intern(&t, rec, 1) >= 0 && t.n <= 16;
    }
    intern_free(&t);
    return few;
}

kmc_engine *kmc_engine_create(const kmc_network *net, const kmc_params *p, int32_t n_ions,
                              const int32_t *ion_site, uint64_t seed, int *status, char *errmsg,
                              size_t errmsg_len)
{
    kmc_engine *e;
    int fail = 0;
    int32_t s, n, m, maxdeg = 0, maxint = 0, n_int;
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
    e->rp = kmc_rate_params_make(p->rate_law, p->temperature_K, p->attempt_frequency_Hz);

    for (s = 0; s < n; s++) {
        int32_t deg = net_deg(net, s);
        if (deg > maxdeg) maxdeg = deg;
        if (e->interacting && net->int_ptr[s + 1] - net->int_ptr[s] > maxint)
            maxint = net->int_ptr[s + 1] - net->int_ptr[s];
    }
    {
        /* sites whose occupancy changes in one event: 2 for a hop, up to 2k for k moves */
        const int64_t moved = net->n_events > 0 ? 2 * KMC_MAX_EVENT_MOVES : 2;
        int64_t xc = moved * (1 + (int64_t)maxint), rc = xc * (1 + (int64_t)maxdeg);
        e->xcap = (int32_t)(xc < n ? xc : n);
        e->rcap = (int32_t)(rc < n ? rc : n);
    }

    if (e->interacting) {
        e->hop_ptr = (int32_t *)xalloc(e, (size_t)n + 1, sizeof(int32_t), &fail);
        e->rate = (double *)xalloc(e, (size_t)m, sizeof(double), &fail);
        e->hop_ekra = (double *)xalloc(e, (size_t)m, sizeof(double), &fail);
        e->hop_de0 = (double *)xalloc(e, (size_t)m, sizeof(double), &fail);
        e->hop_J = (double *)xalloc(e, (size_t)m, sizeof(double), &fail);
        e->int_ptr = (int32_t *)xalloc(e, (size_t)n + 1, sizeof(int32_t), &fail);
        e->int_nbr = (int32_t *)xalloc(e, (size_t)n_int, sizeof(int32_t), &fail);
        e->int_J = (double *)xalloc(e, (size_t)n_int, sizeof(double), &fail);
        e->rmemo = (kmc_rate_memo_entry *)xalloc(e, KMC_RATE_MEMO_SIZE, sizeof(kmc_rate_memo_entry), &fail);
        if (e->rmemo) kmc_rate_memo_clear(e->rmemo);
        e->phi = (double *)xalloc(e, (size_t)n, sizeof(double), &fail);
        e->stamp = (uint32_t *)xalloc(e, (size_t)n, sizeof(uint32_t), &fail);
        e->n_rates = m;
    }
    if (!e->interacting && net->n_events > 0)
        e->stamp = (uint32_t *)xalloc(e, (size_t)n, sizeof(uint32_t), &fail);
    e->site = (kmc_site *)xalloc(e, (size_t)n, sizeof(kmc_site), &fail);
    e->ions = (kmc_ion *)xalloc(e, (size_t)n_ions, sizeof(kmc_ion), &fail);
    e->hops_hi = (uint32_t *)xalloc(e, (size_t)n_ions, sizeof(uint32_t), &fail);
    e->jsq = (double *)xalloc(e, (size_t)n_ions, sizeof(double), &fail);
    e->type_counts = (uint64_t *)xalloc(e, (size_t)net->n_hop_types, sizeof(uint64_t), &fail);
    e->seen = (uint8_t *)xalloc(e, (size_t)n / 8 + 1, sizeof(uint8_t), &fail);
    e->xset = (int32_t *)xalloc(e, (size_t)e->xcap, sizeof(int32_t), &fail);
    e->rset = (int32_t *)xalloc(e, (size_t)e->rcap + 2, sizeof(int32_t), &fail);
    e->dirty = (int64_t *)xalloc(e, (size_t)e->rcap + 2, sizeof(int64_t), &fail);
    if (!fail && net->n_events > 0 && events_init(e, net, p) != 0) fail = 1;
    if (!fail && build_classes(e, net, p) != 0) fail = 1;
    if (!fail && net->n_events == 0 && e->n_hc > 0) { /* one squared jump length? */
        int32_t h;
        e->jsq_unit = e->hc_vec[3];
        for (h = 1; h < e->n_hc; h++)
            if (e->hc_vec[4 * (size_t)h + 3] != e->jsq_unit) e->jsq_unit = 0.0;
        if (!(e->jsq_unit > 0.0)) e->jsq_unit = 0.0;
        else e->jsq_hops = (uint64_t *)xalloc(e, (size_t)n_ions, sizeof(uint64_t), &fail);
    }
    if (!fail) { /* the algorithm */
        int mode = p->mode;
        if (mode == KMC_MODE_COUNT && !e->counting) {
            set_err(errmsg, errmsg_len, "mode count needs a network without pair interactions "
                    "and multi-ion events and with at most %d distinct hop rates", KMC_MAX_RCLASS);
            kmc_engine_free(e);
            *status = KMC_ERR_INVALID;
            return NULL;
        }
        if (mode == KMC_MODE_AUTO) {
            mode = (!e->interacting && net->n_events == 0 &&
                    uniform_acceptance(e) >= KMC_UNIFORM_MIN_ACCEPT &&
                    start_acceptance(e, ion_site) >= KMC_UNIFORM_MIN_ACCEPT / 4) ? KMC_MODE_UNIFORM
                   : e->counting ? KMC_MODE_COUNT : KMC_MODE_TREE;
        }
        e->mode = mode;
        e->counting = mode == KMC_MODE_COUNT;
        e->uniform = mode == KMC_MODE_UNIFORM;
    }
    if (!fail && e->counting && count_init(e) != 0) fail = 1;
    if (!fail && e->uniform && uniform_init(e) != 0) fail = 1;
    if (!fail && !e->counting && !e->uniform) {
        if (kmc_sumtree_init(&e->tree, n) != 0) fail = 1;
        else e->bytes += kmc_sumtree_bytes(n);
    }
    if (fail) {
        kmc_engine_free(e);
        *status = KMC_ERR_NOMEM;
        set_err(errmsg, errmsg_len, "out of memory allocating the engine for %d sites and %d hops", (int)n, (int)m);
        return NULL;
    }
    if (e->interacting) {
        memcpy(e->hop_ptr, net->hop_ptr, ((size_t)n + 1) * sizeof(int32_t));
        memcpy(e->int_ptr, net->int_ptr, ((size_t)n + 1) * sizeof(int32_t));
        memcpy(e->int_nbr, net->int_nbr, (size_t)n_int * sizeof(int32_t));
        memcpy(e->int_J, net->int_J, (size_t)n_int * sizeof(double));
        if (!few_rate_keys(e, net)) {
            free(e->rmemo);
            e->rmemo = NULL;
            e->bytes -= KMC_RATE_MEMO_SIZE * sizeof(kmc_rate_memo_entry);
        }
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
    free(e->u_q);
    free(e->u_sb8);
    free(e->u_sb32);
    free(e->cls);
    free(e->chop);
    free(e->chc);
    free(e->chv);
    free(e->crv);
    free(e->cleaf);
    free(e->cnode);
    free(e->hc_vec);
    free(e->hc_type);
    free(e->rate);
    free(e->tab);
    free(e->hop_ptr);
    free(e->hop_ekra);
    free(e->hop_de0);
    free(e->hop_J);
    free(e->int_ptr);
    free(e->int_nbr);
    free(e->int_J);
    free(e->rmemo);
    free(e->phi);
    free(e->site);
    free(e->ions);
    free(e->hops_hi);
    free(e->jsq);
    free(e->jsq_hops);
    free(e->type_counts);
    free(e->stamp);
    free(e->seen);
    free(e->xset);
    free(e->rset);
    free(e->dirty);
    kmc_sumtree_free(&e->tree);
    free(e->ev_ptr);
    free(e->ev_src);
    free(e->ev_dst);
    free(e->ev_cls);
    free(e->ecl);
    free(e->ecl_vec);
    free(e->ev_ekra);
    free(e->ev_de0);
    free(e->ev_rate);
    free(e->sev_ptr);
    free(e->sev);
    free(e->ev_counts);
    free(e->evdirty);
    kmc_sumtree_free(&e->evtree);
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

/* One more hop of ion a (the high word of the count is touched once in 2^32 hops). */
static inline void count_ion_hop(kmc_engine *e, int32_t a)
{
    if (KMC_UNLIKELY(++e->ions[a].hops_lo == 0)) e->hops_hi[a]++;
}

static inline uint64_t ion_hops(const kmc_engine *e, int32_t a)
{
    return ((uint64_t)e->hops_hi[a] << 32) | e->ions[a].hops_lo;
}

/* Ion a's sum of squared jumps, Angstrom^2 (see kmc_engine.jsq). */
static inline double ion_jump_sq(const kmc_engine *e, int32_t a)
{
    if (e->jsq_unit > 0.0) return e->jsq[a] + e->jsq_unit * (double)(ion_hops(e, a) - e->jsq_hops[a]);
    return e->jsq[a];
}

/* The ion's part of a hop to site j by a hop of class hcl: its site, displacement, sum of
 * squared jumps and hop count, the total displacement and the hop-type count. */
static inline void move_ion_record(kmc_engine *e, int32_t ion, int32_t j, int32_t hcl)
{
    const double *v = e->hc_vec + 4 * (size_t)hcl;
    kmc_ion *p = e->ions + ion;
    p->site = j;
    p->disp[0] += v[0];
    p->disp[1] += v[1];
    p->disp[2] += v[2];
    if (!(e->jsq_unit > 0.0)) e->jsq[ion] += v[3];
    count_ion_hop(e, ion);
    e->total_disp[0] += v[0];
    e->total_disp[1] += v[1];
    e->total_disp[2] += v[2];
    e->type_counts[e->hc_type[hcl]]++;
}

/* Move ion from site i to site j by a hop of class hcl: occupancy, the ion's
 * displacement, sum of squared jumps and hop count, the total displacement and the
 * hop-type count. Shared by both step paths. */
static inline void move_ion(kmc_engine *e, int32_t i, int32_t j, int32_t ion, int32_t hcl)
{
    e->site[j].ion = ion;
    e->site[i].ion = -1;
    move_ion_record(e, ion, j, hcl);
}

/* Interacting mode: recompute the rate sum of site s; if it changed, store it and mark its leaf dirty. */
static inline void refresh(kmc_engine *e, double *leaf, int32_t s, int *nd)
{
    const double r = site_rate(e, s);
    if (r != leaf[s]) {
        leaf[s] = r;
        e->dirty[(*nd)++] = s;
    }
}

/* Without interactions: the same for an occupied site s. */
static inline void refresh_plain(kmc_engine *e, double *leaf, int32_t s, int *nd)
{
    const double r = plain_rate(e, e->site + s);
    if (r != leaf[s]) {
        leaf[s] = r;
        e->dirty[(*nd)++] = s;
    }
}

/* The sites a move touches. On entry xset[0..nx) holds the sites whose occupancy changed
 * (distinct); with interactions their interaction neighbours are added (X: the sites whose
 * field changed, recomputed here). rset becomes X and its hop neighbours (R: the sites whose
 * allowed hops or rates may change), each once. Returns |X|; *nr receives |R|. */
static inline int32_t affected_sites(kmc_engine *e, int32_t nx, int32_t *nr)
{
    const kmc_site *site = e->site;
    const uint32_t sx = next_stamp(e);
    uint32_t sr;
    int32_t a, q, x, n_r = 0;
    const int32_t n_moved = nx;
    for (a = 0; a < n_moved; a++) e->stamp[e->xset[a]] = sx;
    if (e->interacting) {
        for (a = 0; a < n_moved; a++) {
            for (q = e->int_ptr[e->xset[a]]; q < e->int_ptr[e->xset[a] + 1]; q++) {
                x = e->int_nbr[q];
                if (e->stamp[x] != sx) {
                    e->stamp[x] = sx;
                    e->xset[nx++] = x;
                }
            }
        }
        for (a = 0; a < nx; a++) e->phi[e->xset[a]] = site_phi(e, e->xset[a]);
    }
    sr = next_stamp(e);
    for (a = 0; a < nx; a++) {
        const kmc_class *cx = e->cls + site[e->xset[a]].cls;
        const kmc_chop *hx = e->chop + cx->hop;
        x = e->xset[a];
        if (e->stamp[x] != sr) {
            e->stamp[x] = sr;
            e->rset[n_r++] = x;
        }
        for (q = 0; q < cx->deg; q++) {
            const int32_t t = x + hx[q].doff;
            if (e->stamp[t] != sr) {
                e->stamp[t] = sr;
                e->rset[n_r++] = t;
            }
        }
    }
    *nr = n_r;
    return nx;
}

/* Execute hop k of the ion on site i and update rates locally. */
static void execute(kmc_engine *e, int32_t i, int k)
{
    kmc_site *site = e->site;
    const kmc_class *ci = e->cls + site[i].cls;
    const kmc_chop *hi = e->chop + ci->hop;
    const int32_t j = i + hi[k].doff, ion = site[i].ion, hcl = e->chc[ci->hop + k];
    const kmc_class *cj = e->cls + site[j].cls;
    const kmc_chop *hj = e->chop + cj->hop;
    const int32_t di = ci->deg, dj = cj->deg;
    double *leaf = kmc_sumtree_leaves(&e->tree);
    int32_t a, x;
    int nd = 0;

    move_ion(e, i, j, ion, hcl);

    /* i emptied, j filled: flip their bit in every neighbour's mask */
    for (a = 0; a < di; a++) site[i + hi[a].doff].mask &= ~((uint64_t)1 << hi[a].rev);
    for (a = 0; a < dj; a++) site[j + hj[a].doff].mask |= (uint64_t)1 << hj[a].rev;

    if (!e->interacting) {
        /* Only i, j and their hop neighbours can change. A site seen twice is
         * harmless (the second refresh finds its leaf unchanged). */
        leaf[i] = 0.0;
        e->dirty[nd++] = i;
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
        int32_t nx = 2, nr;
        e->xset[0] = i;
        e->xset[1] = j;
        nx = affected_sites(e, nx, &nr);
        for (a = 0; a < nr; a++) refresh(e, leaf, e->rset[a], &nd);
        if (e->n_events) { /* events touching a site whose occupancy or field changed */
            int ne = 0;
            refresh_events(e, e->xset, nx, &ne);
            kmc_sumtree_update(&e->evtree, e->evdirty, ne);
        }
    }
    if (e->n_events && !e->interacting) { /* events touching i or j */
        int32_t ij[2];
        int ne = 0;
        ij[0] = i;
        ij[1] = j;
        refresh_events(e, ij, 2, &ne);
        kmc_sumtree_update(&e->evtree, e->evdirty, ne);
    }
    kmc_sumtree_update(&e->tree, e->dirty, nd);
}

/* Execute multi-ion event v: move every ion, then recompute the masks and rates of the
 * sites it touched and their neighbourhoods, and the events touching them. */
static void execute_event(kmc_engine *e, int32_t v)
{
    kmc_site *site = e->site;
    const int32_t b = e->ev_ptr[v], k = e->ev_ptr[v + 1] - b;
    const kmc_evclass *ec = e->ecl + e->ev_cls[v];
    double *leaf = kmc_sumtree_leaves(&e->tree);
    int32_t ion[KMC_MAX_EVENT_MOVES], m, a, nx = 0, nr = 0, x;
    int nd = 0, ne = 0, d;
    for (m = 0; m < k; m++) ion[m] = site[e->ev_src[b + m]].ion;
    for (m = 0; m < k; m++) site[e->ev_src[b + m]].ion = -1;
    for (m = 0; m < k; m++) {
        const int32_t j = e->ev_dst[b + m];
        const double *w = e->ecl_vec + 4 * (size_t)(ec->vec + m);
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
    e->ev_counts[ec->type]++;

    /* the moved sites, each once; then X and R as for a hop. Events are rare next to
     * hops, so this path favours simplicity over speed (masks recomputed in full). */
    for (m = 0; m < 2 * k; m++) {
        x = m < k ? e->ev_src[b + m] : e->ev_dst[b + m - k];
        for (a = 0; a < nx && e->xset[a] != x; a++) continue;
        if (a == nx) e->xset[nx++] = x;
    }
    nx = affected_sites(e, nx, &nr);
    for (a = 0; a < nr; a++) site[e->rset[a]].mask = site_mask(e, e->rset[a]);
    for (a = 0; a < nr; a++) refresh(e, leaf, e->rset[a], &nd);
    refresh_events(e, e->xset, nx, &ne);
    kmc_sumtree_update(&e->tree, e->dirty, nd);
    kmc_sumtree_update(&e->evtree, e->evdirty, ne);
}

/* Counting mode: the hop move of execute() with count updates instead of rate sums. */
static inline void execute_count(kmc_engine *e, int32_t i, int k)
{
    kmc_site *site = e->site;
    const kmc_class *ci = e->cls + site[i].cls;
    const kmc_chop *hi = e->chop + ci->hop;
    const uint8_t *rvi = e->crv + ci->hop;
    const int32_t j = i + hi[k].doff, ion = site[i].ion, hcl = e->chc[ci->hop + k];
    const kmc_class *cj = e->cls + site[j].cls;
    const kmc_chop *hj = e->chop + cj->hop;
    const uint8_t *rvj = e->crv + cj->hop;
    const int32_t di = ci->deg, dj = cj->deg;
    int32_t a, x;
    int c;
    uint32_t cnt[KMC_MAX_RCLASS];

    /* start the (for large systems) cache misses of the neighbourhood together */
    for (a = 0; a < di; a++) KMC_PREFETCH_W(e->cleaf + i + hi[a].doff);
    for (a = 0; a < dj; a++) {
        KMC_PREFETCH_W(site + j + hj[a].doff);
        KMC_PREFETCH_W(e->cleaf + j + hj[a].doff);
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
    for (c = 0; c < e->n_rc; c++) {
        const uint8_t old = e->cleaf[(size_t)c * e->cn_leaf + (size_t)i];
        if (old) count_add(e, c, i, -(int32_t)old);
        cnt[c] = 0;
    }
    count_site(e, site + j, cnt);
    for (c = 0; c < e->n_rc; c++)
        if (cnt[c]) count_add(e, c, j, (int32_t)cnt[c]);
    count_total(e);
}

/* Counting mode: the site holding allowed hop number idx (< N_v) of rate class v; *idx
 * becomes the number within that site. -1 if the counts are inconsistent. */
static inline int32_t count_select(const kmc_engine *e, int v, uint32_t *idx)
{
    const uint32_t *node = e->cnode + (size_t)v * e->cn_inner;
    const uint8_t *leaf = e->cleaf + (size_t)v * e->cn_leaf;
    uint32_t r = *idx;
    int64_t k = 0;
    int l, c;
    for (l = e->c_levels - 2; l >= 1; l--) {
        const uint32_t *ch = node + e->coff[l] + CA * k;
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

static int run_count(kmc_engine *e, uint64_t max_steps, double t_stop, uint64_t *steps_done,
                     int *reason)
{
    uint64_t done = 0;
    int why = KMC_STOP_STEPS;
    while (done < max_steps) {
        const double total = e->R;
        double dt, x, q;
        int32_t s;
        int v, last = -1, k;
        uint32_t idx, n_v;
        uint64_t allowed;
        const uint8_t *hv;
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
        /* the rate class by its weight, then one of its N_v hops uniformly */
        x = kmc_rng_uniform(&e->rng) * total;
        for (v = 0; v < e->n_rc; v++) {
            const double w = e->rc_w[v];
            if (w > 0.0) {
                if (x < w) break;
                x -= w;
                last = v;
            }
        }
        if (v == e->n_rc) { /* rounding at the end of the last interval */
            v = last;
            x = e->rc_w[v] * 0.5;
        }
        n_v = e->cnode[(size_t)v * e->cn_inner + (size_t)e->coff[e->c_levels - 1]];
        q = x / e->rc_rate[v];
        idx = q < (double)n_v ? (uint32_t)q : n_v - 1;
        s = count_select(e, v, &idx);
        if (s < 0 || s >= e->n_sites || e->site[s].ion < 0) {
            set_err(e->errmsg, sizeof(e->errmsg), "count tree selected site %ld which holds no ion", (long)s);
            *steps_done = done;
            *reason = why;
            return KMC_ERR_STATE;
        }
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
        hv = e->chv + e->cls[e->site[s].cls].hop;
        allowed = ~e->site[s].mask;
        for (;;) {
            if (!allowed) {
                set_err(e->errmsg, sizeof(e->errmsg), "site %ld has fewer allowed hops than counted", (long)s);
                *steps_done = done;
                *reason = why;
                return KMC_ERR_STATE;
            }
            k = ctz64(allowed);
            allowed &= allowed - 1;
            if (hv[k] == v) {
                if (idx == 0) break;
                idx--;
            }
        }
        execute_count(e, s, k);
        e->time += dt;
        e->steps++;
        done++;
    }
    *steps_done = done;
    *reason = why;
    return KMC_OK;
}

/* Uniformization: attempts at the constant rate u_A. Each attempt draws, in this order,
 * its ion, its hop slot (with the thinning number in the same draw) and its time increment
 * Exp(1)/u_A. Blocked or thinned attempts only advance the time. After many rejections
 * in a row the exact total rate is computed: if it is zero nothing can ever move, the time
 * of those rejections is undone and the run stops as frozen.
 *
 * The attempts are drawn KMC_UPIPE ahead, so that the memory of the ions and sites they
 * will touch can be fetched in a pipeline (large systems are bound by memory latency).
 * The draws keep their order, and the RNG state before each pending attempt is kept, so
 * on return the state is that of the first attempt not consumed: the trajectory and the
 * checkpoints are those of the plain loop. */
#define KMC_UPIPE 32 /* attempts drawn ahead: a power of 2 */
/* The pipeline's stages: KMC_UMID attempts before its turn an attempt reads its ion's site
 * (fetched when it was drawn) and fetches that site and the ion's record; KMC_UNEAR before,
 * it reads the site's class and fetches the target. A miss to memory costs about 150 ns on
 * the machine of benchmarks/README.md and an attempt at 10^7 sites about 30 ns, so every
 * stage needs 5 or more attempts of lead: 32/22/11 ran 10^7 sites 25 % faster than 16/8/4
 * (and 32/16/8, 32/24/12, 64/44/22), and 10^3 sites no slower. */
#define KMC_UMID 22
#define KMC_UNEAR 11

typedef struct {
    uint64_t r;  /* hop slot (high 32 bits) and thinning number (low 32 bits) */
    double dt;   /* time increment, s */
    int32_t a;   /* ion */
} kmc_attempt;

static inline void uniform_draw(kmc_engine *e, kmc_attempt *at, double n_ions, double inv_A)
{
    int32_t a = (int32_t)((double)(kmc_rng_next(&e->rng) >> 11) * (1.0 / 9007199254740992.0) * n_ions);
    if (KMC_UNLIKELY(a >= e->n_ions)) a = e->n_ions - 1; /* rounding of the product */
    at->a = a;
    at->r = kmc_rng_next(&e->rng);
    at->dt = zig_exp(e) * inv_A;
}

/* The loop for one layout of the per-site words (uint8_t or int32_t, occupancy in the top
 * bit, class below). */
#define KMC_RUN_UNIFORM(NAME, WORD, ARRAY, OCC, CLS)                                         \
    static int NAME(kmc_engine *e, uint64_t max_steps, double t_stop, uint64_t *steps_done,  \
                    int *reason)                                                             \
    {                                                                                        \
        WORD *sb = e->ARRAY;                                                                 \
        kmc_attempt ring[KMC_UPIPE];                                                         \
        kmc_rng snap[KMC_UPIPE];                                                             \
        const uint64_t patience = 64u * (uint64_t)e->n_ions * (uint64_t)(e->u_zmax + 1);     \
        const double inv_A = 1.0 / e->u_A, n_ions = (double)e->n_ions;                       \
        const uint64_t zmax = (uint64_t)e->u_zmax;                                           \
        const WORD top = (WORD)((WORD)1 << (8 * sizeof(WORD) - 1));                          \
        double *jsq = e->jsq_unit > 0.0 ? NULL : e->jsq; /* NULL: hops write no jsq */       \
        uint32_t *hops_hi = e->hops_hi;                                                      \
        const kmc_class *cls = e->cls;                                                       \
        const kmc_chop *chop = e->chop;                                                      \
        const int32_t *chc = e->chc;                                                         \
        const double *uq = e->u_q, *hc_vec = e->hc_vec;                                      \
        const int binary = e->u_binary;                                                      \
        kmc_ion *ions = e->ions;                                                             \
        uint64_t *type_counts = e->type_counts;                                              \
        const int32_t *hc_type = e->hc_type;                                                 \
        /* the hot scalars live in registers; written back on return */                      \
        double t = e->time, t_last = e->time, td0 = e->total_disp[0],                        \
               td1 = e->total_disp[1], td2 = e->total_disp[2];                               \
        uint64_t done = 0, misses = 0, head = 0;                                             \
        int why = KMC_STOP_STEPS, k;                                                         \
        for (k = 0; k < KMC_UPIPE; k++) {                                                    \
            snap[k] = e->rng;                                                                \
            uniform_draw(e, ring + k, n_ions, inv_A);                                        \
            KMC_PREFETCH_W(ions + ring[k].a);                                                \
        }                                                                                    \
        while (done < max_steps) {                                                           \
            kmc_attempt *at = ring + (head & (KMC_UPIPE - 1));                               \
            int32_t s, j, hop;                                                               \
            const kmc_class *c;                                                              \
            { /* KMC_UMID ahead: the ion's site and record; KMC_UNEAR ahead: the target */   \
                const kmc_attempt *mid = ring + ((head + KMC_UMID) & (KMC_UPIPE - 1));       \
                const kmc_attempt *near = ring + ((head + KMC_UNEAR) & (KMC_UPIPE - 1));     \
                const int32_t sn = ions[near->a].site;                                       \
                const kmc_class *cn = cls + CLS(sb[sn]);                                     \
                const int32_t kn = (int32_t)(((near->r >> 32) * zmax) >> 32);                \
                KMC_PREFETCH(sb + ions[mid->a].site);                                        \
                if (jsq) KMC_PREFETCH_W(jsq + mid->a);                                       \
                if (kn < cn->deg) KMC_PREFETCH(sb + sn + chop[cn->hop + kn].doff);           \
            }                                                                                \
            if (t + at->dt > t_stop) { /* the attempt is consumed, not made */               \
                t = t_stop;                                                                  \
                why = KMC_STOP_TIME;                                                         \
                head++;                                                                      \
                break;                                                                       \
            }                                                                                \
            t += at->dt;                                                                     \
            s = ions[at->a].site;                                                            \
            c = cls + CLS(sb[s]);                                                            \
            hop = (int32_t)(((at->r >> 32) * zmax) >> 32);                                   \
            if (hop < c->deg && !OCC(sb[j = s + chop[c->hop + hop].doff]) &&                 \
                (binary ? uq[c->rate + hop] > 0.0                                            \
                        : (double)(at->r & 0xffffffffu) * (1.0 / 4294967296.0) <             \
                              uq[c->rate + hop])) {                                          \
                const int32_t hcl = chc[c->hop + hop];                                       \
                const double *v = hc_vec + 4 * (size_t)hcl;                                  \
                kmc_ion *p = ions + at->a;                                                   \
                p->site = j;                                                                 \
                p->disp[0] += v[0];                                                          \
                p->disp[1] += v[1];                                                          \
                p->disp[2] += v[2];                                                          \
                if (jsq) jsq[at->a] += v[3];                                                 \
                if (KMC_UNLIKELY(++p->hops_lo == 0)) hops_hi[at->a]++;                       \
                td0 += v[0];                                                                 \
                td1 += v[1];                                                                 \
                td2 += v[2];                                                                 \
                type_counts[hc_type[hcl]]++;                                                 \
                sb[s] = (WORD)(sb[s] ^ top);                                                 \
                sb[j] = (WORD)(sb[j] | top);                                                 \
                done++;                                                                      \
                misses = 0;                                                                  \
                t_last = t;                                                                  \
            } else if (KMC_UNLIKELY(++misses >= patience)) {                                 \
                misses = 0;                                                                  \
                if (!(uniform_total(e) > 0.0)) {                                             \
                    t = t_last;                                                              \
                    why = KMC_STOP_FROZEN;                                                   \
                    head++;                                                                  \
                    break;                                                                   \
                }                                                                            \
            }                                                                                \
            snap[head & (KMC_UPIPE - 1)] = e->rng; /* refill: attempt head + KMC_UPIPE */    \
            uniform_draw(e, at, n_ions, inv_A);                                              \
            KMC_PREFETCH_W(ions + at->a);                                                    \
            head++;                                                                          \
        }                                                                                    \
        e->rng = snap[head & (KMC_UPIPE - 1)]; /* the first attempt not consumed */          \
        e->time = t;                                                                         \
        e->steps += done;                                                                    \
        e->total_disp[0] = td0;                                                              \
        e->total_disp[1] = td1;                                                              \
        e->total_disp[2] = td2;                                                              \
        *steps_done = done;                                                                  \
        *reason = why;                                                                       \
        return KMC_OK;                                                                       \
    }

#define KMC_OCC8(w) ((w) >> 7)
#define KMC_CLS8(w) ((w) & 0x7fu)
#define KMC_OCC32(w) ((uint32_t)(w) >> 31)
#define KMC_CLS32(w) ((int32_t)((uint32_t)(w) & 0x7fffffffu))
KMC_RUN_UNIFORM(run_uniform8, uint8_t, u_sb8, KMC_OCC8, KMC_CLS8)
KMC_RUN_UNIFORM(run_uniform32, int32_t, u_sb32, KMC_OCC32, KMC_CLS32)

static int run_uniform(kmc_engine *e, uint64_t max_steps, double t_stop, uint64_t *steps_done,
                       int *reason)
{
    if (!(e->u_A > 0.0) || e->n_ions == 0) {
        *steps_done = 0;
        *reason = KMC_STOP_FROZEN;
        return KMC_OK;
    }
    return e->u_sb8 ? run_uniform8(e, max_steps, t_stop, steps_done, reason)
                    : run_uniform32(e, max_steps, t_stop, steps_done, reason);
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
    if (e->counting || e->uniform) {
        uint64_t d0;
        int w0, rc = e->uniform ? run_uniform(e, max_steps, t_stop, &d0, &w0)
                                : run_count(e, max_steps, t_stop, &d0, &w0);
        if (steps_done) *steps_done = d0;
        if (reason) *reason = w0;
        return rc;
    }
    while (done < max_steps) {
        const double htotal = kmc_sumtree_total(&e->tree);
        const double total = e->n_events ? htotal + kmc_sumtree_total(&e->evtree) : htotal;
        double dt, x;
        int64_t s;
        int chosen = -1, last = -1;
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
        if (e->n_events && (x >= htotal || !(htotal > 0.0))) { /* a multi-ion event */
            int64_t v;
            x -= htotal;
            v = kmc_sumtree_select(&e->evtree, &x);
            if (v < 0) {
                set_err(e->errmsg, sizeof(e->errmsg), "event selection failed (total %g)", total);
                if (steps_done) *steps_done = done;
                if (reason) *reason = why;
                return KMC_ERR_STATE;
            }
            execute_event(e, (int32_t)v);
            e->time += dt;
            e->steps++;
            done++;
            continue;
        }
        s = kmc_sumtree_select(&e->tree, &x);
        if (s < 0 || e->site[s].ion < 0) {
            set_err(e->errmsg, sizeof(e->errmsg), "selected site %lld holds no ion", (long long)s);
            if (steps_done) *steps_done = done;
            if (reason) *reason = why;
            return KMC_ERR_STATE;
        }
        {
            const kmc_site *st = e->site + s;
            const double *rate = e->rate + (e->interacting ? e->hop_ptr[s] : e->cls[st->cls].rate);
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
        execute(e, (int32_t)s, chosen);
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
        if (st->ion_site) st->ion_site[a] = e->ions[a].site;
        for (d = 0; d < 3; d++)
            if (st->displacement) st->displacement[3 * a + d] = e->ions[a].disp[d];
        if (st->jump_sq) st->jump_sq[a] = ion_jump_sq(e, a);
        if (st->ion_hops) st->ion_hops[a] = ion_hops(e, a);
    }
    if (st->type_counts) memcpy(st->type_counts, e->type_counts, (size_t)e->n_hop_types * sizeof(uint64_t));
    if (st->event_counts && e->n_events)
        memcpy(st->event_counts, e->ev_counts, (size_t)e->n_event_types * sizeof(uint64_t));
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
    /* check the occupancy on a bitmap before touching the engine */
    memset(e->seen, 0, (size_t)e->n_sites / 8 + 1);
    for (a = 0; a < e->n_ions; a++) {
        int32_t s = st->ion_site[a];
        if (s < 0 || s >= e->n_sites) {
            set_err(e->errmsg, sizeof(e->errmsg), "ion %d is on site %d, outside 0..%d", (int)a, (int)s, (int)(e->n_sites - 1));
            return KMC_ERR_INVALID;
        }
        if (e->seen[s >> 3] & (1u << (s & 7))) {
            set_err(e->errmsg, sizeof(e->errmsg), "two ions are on site %d", (int)s);
            return KMC_ERR_INVALID;
        }
        e->seen[s >> 3] |= (uint8_t)(1u << (s & 7));
    }
    rc = place_ions(e, st->ion_site, e->errmsg, sizeof(e->errmsg));
    if (rc != KMC_OK) return rc;
    for (a = 0; a < e->n_ions; a++) {
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
    if (e->n_events) {
        if (st->event_counts)
            memcpy(e->ev_counts, st->event_counts, (size_t)e->n_event_types * sizeof(uint64_t));
        else
            memset(e->ev_counts, 0, (size_t)e->n_event_types * sizeof(uint64_t));
    }
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
        if (jump_sq) jump_sq[a] = ion_jump_sq(e, a);
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
    if (e->uniform) { /* the occupancy bits and the ions' sites */
        for (a = 0; a < e->n_ions; a++) {
            s = e->ions[a].site;
            CHECK(s >= 0 && s < e->n_sites && u_occupied(e, s), "ion %d is on site %d, which is not marked occupied", (int)a, (int)s);
        }
        for (s = 0; s < e->n_sites; s++) {
            CHECK(u_class(e, s) < e->n_cls, "site %d has an invalid class", (int)s);
            n_occ += u_occupied(e, s);
        }
        CHECK(n_occ == e->n_ions, "%d occupied sites for %d ions", (int)n_occ, (int)e->n_ions);
        CHECK(e->u_A == (double)e->n_ions * (double)e->u_zmax * e->u_rmax, "attempt rate is stale");
        return KMC_OK;
    }
    for (a = 0; a < e->n_ions; a++) {
        s = e->ions[a].site;
        CHECK(s >= 0 && s < e->n_sites && e->site[s].ion == a, "ion %d and site %d disagree", (int)a, (int)s);
    }
    for (s = 0; s < e->n_sites; s++) {
        CHECK(e->site[s].cls >= 0 && e->site[s].cls < e->n_cls, "site %d has an invalid class", (int)s);
        if (e->site[s].ion >= 0) n_occ++;
        CHECK(e->site[s].mask == site_mask(e, s), "occupancy mask of site %d is stale", (int)s);
        if (e->interacting) CHECK(e->phi[s] == site_phi(e, s), "interaction field of site %d is stale", (int)s);
    }
    CHECK(n_occ == e->n_ions, "%d occupied sites for %d ions", (int)n_occ, (int)e->n_ions);
    if (e->counting) {
        uint32_t cnt[KMC_MAX_RCLASS];
        int v;
        double R = 0.0;
        for (s = 0; s < e->n_sites; s++) {
            memset(cnt, 0, sizeof(cnt));
            if (e->site[s].ion >= 0) count_site(e, e->site + s, cnt);
            for (v = 0; v < e->n_rc; v++)
                CHECK(e->cleaf[(size_t)v * e->cn_leaf + (size_t)s] == cnt[v],
                      "count of rate class %d at site %d is stale", v, (int)s);
        }
        for (v = 0; v < e->n_rc; v++) {
            const uint8_t *cleaf = e->cleaf + (size_t)v * e->cn_leaf;
            const uint32_t *node = e->cnode + (size_t)v * e->cn_inner;
            for (k = e->n_sites; k < (int64_t)e->cn_leaf; k++) CHECK(cleaf[k] == 0, "count tree padding is not zero");
            for (l = 1; l < e->c_levels; l++) {
                for (k = 0; k < e->csize[l]; k++) {
                    uint64_t t = 0;
                    int64_t c;
                    if (l == 1) {
                        for (c = CA * k; c < CA * k + CA && c < (int64_t)e->cn_leaf; c++) t += cleaf[c];
                    } else {
                        for (c = CA * k; c < CA * k + CA && c < e->csize[l - 1]; c++) t += node[e->coff[l - 1] + c];
                    }
                    CHECK(node[e->coff[l] + k] == t, "count-tree node %lld of level %d (class %d) is stale", (long long)k, l, v);
                }
            }
            R += e->rc_rate[v] * (double)node[e->coff[e->c_levels - 1]];
            CHECK(e->rc_w[v] == e->rc_rate[v] * (double)node[e->coff[e->c_levels - 1]], "class weight %d is stale", v);
        }
        CHECK(R == e->R, "total rate is stale");
        return KMC_OK;
    }
    if (e->rmemo) { /* every remembered rate is the rate of its key */
        const int q = kmc_rate_memo_stale(e->rmemo, &e->rp);
        CHECK(q < 0, "rate memo entry %d is stale", q);
    }
    for (s = 0; s < e->n_sites; s++) {
        double r = site_rate(e, s);
        CHECK(r == leaf[s], "rate sum of site %d is %.17g, recomputed %.17g", (int)s, leaf[s], r);
        if (!e->interacting && e->site[s].ion >= 0) { /* the table agrees with the plain sum */
            const kmc_class *c = e->cls + e->site[s].cls;
            CHECK(sum_allowed(e->rate + c->rate, ~e->site[s].mask) == r,
                  "rate-sum table disagrees at site %d", (int)s);
        }
    }
    for (l = 1; l < e->tree.n_levels; l++) {
        const double *below = e->tree.data + e->tree.offset[l - 1];
        const double *here = e->tree.data + e->tree.offset[l];
        for (k = 0; k < e->tree.size[l - 1] / KMC_TREE_ARITY; k++)
            CHECK(kmc_sumtree_child_sum(below + KMC_TREE_ARITY * k) == here[k],
                  "sum-tree node %lld of level %d is stale", (long long)k, l);
    }
    if (e->n_events) {
        const double *ev = kmc_sumtree_leaves(&e->evtree);
        int32_t v;
        for (v = 0; v < e->n_events; v++) {
            double r = event_rate(e, v);
            CHECK(r == ev[v], "rate of event %d is %.17g, recomputed %.17g", (int)v, ev[v], r);
        }
        for (l = 1; l < e->evtree.n_levels; l++) {
            const double *below = e->evtree.data + e->evtree.offset[l - 1];
            const double *here = e->evtree.data + e->evtree.offset[l];
            for (k = 0; k < e->evtree.size[l - 1] / KMC_TREE_ARITY; k++)
                CHECK(kmc_sumtree_child_sum(below + KMC_TREE_ARITY * k) == here[k],
                      "event-tree node %lld of level %d is stale", (long long)k, l);
        }
    }
    return KMC_OK;
}

int32_t kmc_engine_n_sites(const kmc_engine *e) { return e->n_sites; }
int32_t kmc_engine_n_ions(const kmc_engine *e) { return e->n_ions; }
int32_t kmc_engine_n_hop_types(const kmc_engine *e) { return e->n_hop_types; }
double kmc_engine_time(const kmc_engine *e) { return e->time; }
uint64_t kmc_engine_steps(const kmc_engine *e) { return e->steps; }
double kmc_engine_total_rate(const kmc_engine *e)
{
    if (e->uniform) return uniform_total(e);
    if (e->counting) return e->R;
    return kmc_sumtree_total(&e->tree) + (e->n_events ? kmc_sumtree_total(&e->evtree) : 0.0);
}
int32_t kmc_engine_n_event_types(const kmc_engine *e) { return e->n_events ? e->n_event_types : 0; }
size_t kmc_engine_memory_bytes(const kmc_engine *e) { return e->bytes; }
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
