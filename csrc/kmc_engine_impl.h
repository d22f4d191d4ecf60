/*
 * kmc_engine_impl.h - the engine's private structures and shared helpers. Only the files
 * of csrc/ include it (first, before any system header); kmc_engine.h stays the public
 * header.
 *
 * Files (compiled as one translation unit, kmc_unity.c, so that everything inlines):
 *   kmc_engine.c    public API: run/set_state/check dispatch to the solver, state, free
 *   kmc_build.c     creation: validation, hop/site classes, rate lists, events, mode choice
 *                   (kmc_intern.h: its record dedup set)
 *   kmc_tree.c      solver "tree": float sum tree over per-site rate sums (any network)
 *   kmc_count.c     solver "count": integer count trees per rate class
 *   kmc_uniform.c   solver "uniform": uniformization (null events)
 *   kmc_events.c    solver "tree" with multi-ion events: the tree plus an event sum tree
 *   kmc_interact.c  configuration-dependent rates: pairs, clusters, local models
 *   kmc_rate.h      the rate laws and the rate memo
 *   kmc_sumtree.c   the float sum tree (tree and event solvers); kmc_rng.h the RNG
 *
 * Ownership: struct kmc_engine is a shared core (network classes, rate lists, site and ion
 * records, time, RNG, counts, neighbourhood scratch) plus one sub-struct per mode or
 * component: e->tree, e->cnt, e->uni, e->ev (solvers) and e->ia (interactions). A solver
 * or component file touches the core and its own sub-struct only, and reaches another
 * one through that file's functions; kmc_build.c (creation) and kmc_engine.c (dispatch,
 * state, free) may touch all. tests/test_engine_layout.py checks this on the sources.
 *
 * Memory layout (what one step touches):
 *   - site[s]: 16-byte hot record: occupancy mask of the destinations, ion, site class
 *     (tree and count; uniformization keeps one byte or word per site instead, e->uni).
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
 *   - per mode: the sum tree (leaves = per-site rate sums), the count trees, or the
 *     uniformization tables; with interactions the classes' static hop data and
 *     interaction lists and the per-site interaction field (e->ia); with events the event
 *     tables and the event sum tree (e->ev).
 *   - the per-ion records (32 bytes, two to a cache line).
 * The site numbering is the caller's; nothing is renumbered.
 */
#ifndef KMC_ENGINE_IMPL_H
#define KMC_ENGINE_IMPL_H

#if defined(__linux__) && !defined(_DEFAULT_SOURCE)
#define _DEFAULT_SOURCE /* posix_memalign and madvise (Linux only, see xalloc) */
#endif
#include "kmc_engine.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h> /* (v)snprintf only: the engine does no I/O */
#include <stdlib.h>
#include <string.h>

#include "kmc_rate.h"
#include "kmc_rng.h"
#ifdef KMC_UNITY
#define KMC_SUMTREE_FN static /* kmc_sumtree.c is part of the unit */
#endif
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

/* Systems at least this large prefetch a step's neighbourhood (e->prefetch). */
#define KMC_PREFETCH_MIN_SITES (1 << 16)

/* Functions one file gives the others: static in the unity build (kmc_unity.c defines
 * KMC_UNITY), so that they inline like the file's own; external when the files are
 * compiled one by one. */
#ifdef KMC_UNITY
#define KMC_PRIVATE static
#else
#define KMC_PRIVATE
#endif

/* ---- the shared core's records ---- */

/* A slot of the site set (kmc_engine.sset). */
typedef struct {
    int32_t site;
    uint32_t gen; /* the stamp of the set it belongs to; older stamps are empty slots */
} kmc_sslot;

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

/* An ion's record: read by every attempt, written by every hop; 32 bytes, two to a cache
 * line (never split), so that an attempt on a large system costs one miss for the ion.
 * Its sum of squared jumps is kept apart (see kmc_engine.jsq). */
typedef struct {
    int32_t site;
    uint32_t hops_lo; /* hop count, low 32 bits (the high bits in kmc_engine.hops_hi) */
    double disp[3];   /* unwrapped displacement, Angstrom */
} kmc_ion;

/* ---- the modes' and components' own data ---- */

/* The tree solver's configuration memo (kmc_tree.c): for an interacting system of at most
 * 64 sites, what a step needs of each configuration met, keyed by the occupancy bits, so
 * that a configuration met again costs a look-up instead of the rates' re-evaluation: the
 * sum tree's nodes, and the hops of positive rate in the order the tree walks them (by
 * site, then slot), each with its rate, the start of its interval in [0, total) and the
 * configuration it leads to. Configuration c's hops are entries off[c] .. off[c] + m[c] - 1
 * of the pools (bnd, rate, next, move); up to off[c] + width[c] the entries are padding
 * (bnd[off[c] + m[c]] is the sum of the rates, the bnd after it +inf, move -1). */
typedef struct {
    int32_t i, j, hcl; /* a remembered hop: from site i to site j, hop class hcl */
} kmc_cm_move;

typedef struct {
    int32_t n, cap;       /* configurations stored, at most cap */
    int32_t tl;           /* the sum tree's nodes (doubles per configuration in nodes) */
    int walk;             /* nonzero: pick by the walk only (no interval search; for tests) */
    uint32_t hmask;       /* hash table slots - 1 (a power of two >= 2 cap) */
    uint64_t *hkey;       /* [hmask + 1] occupancy bits of the slot's configuration */
    int32_t *hidx;        /* [hmask + 1] its index, -1: empty slot */
    double *nodes;        /* [cap * tl] */
    int64_t *off;         /* [cap + 1] start of each configuration's hops in the pools */
    int32_t *m, *width;   /* [cap] its hops, and a power of two >= 16 above it (the search's) */
    int64_t pcap;         /* the pools' length */
    double *bnd;          /* [pcap] start of the hop's interval (the rates before it summed) */
    double *rate;         /* [pcap] the hop's rate */
    int32_t *next;        /* [pcap] the configuration the hop leads to, -1 while not known */
    kmc_cm_move *move;    /* [pcap] the hop's sites and class (padding: -1) */
    int stale;            /* the site records, fields and tree lag the ions (steps taken
                             from the memo): rebuilt before anything reads them */
    kmc_sumtree view;     /* the sum tree's shape over a remembered configuration's nodes */
} kmc_config_memo;

/* Solver "tree" (kmc_tree.c). */
typedef struct {
    kmc_sumtree sum; /* leaves: per-site sum of allowed hop rates */
    int64_t *dirty;  /* [rcap + 2] scratch: leaves changed by one move */
    kmc_config_memo *cm; /* or NULL */
} kmc_tree_data;

#define KMC_MAX_RCLASS 16
#define KMC_NO_RC 0xff

/* Solver "count" (kmc_count.c): no interactions, at most KMC_MAX_RCLASS distinct positive
 * rates. Instead of a floating-point sum tree, per rate class v an integer count tree over
 * the sites of how many allowed hops of rate rc_rate[v] each site has. Counts are exact,
 * so they are updated by +-1 along the paths; R_total = sum_v rc_rate[v] N_v in a fixed
 * order. The rate classes (n_rc, rc_rate, chv, crv) are found at creation (kmc_build.c)
 * whenever counting is possible, as they shape the site classes. */
typedef struct {
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
} kmc_count_data;

/* Solver "uniform" (kmc_uniform.c; no interactions, no events): attempts arrive at the
 * constant total rate A = n_ions * zmax * rmax; an attempt picks an ion and one of zmax
 * hop slots uniformly and makes hop k of the ion's site when k < degree, the destination
 * is empty and a uniform number is below rate_k / rmax (thinning). Rejected attempts
 * only advance the time. No masks, counts or trees are kept, and no site records. */
typedef struct {
    uint8_t *sb8;   /* per site when there are < 128 site classes: bit 7 occupied, 0-6 class */
    int32_t *sb32;  /* per site otherwise: bit 31 occupied, bits 0-30 class (site[] is freed) */
    int32_t zmax;
    double rmax, A; /* largest hop rate (Hz), total attempt rate (Hz) */
    double *q;      /* [n_rates] rate / rmax of every rate-list entry */
    int binary;     /* every rate is 0 or rmax: no thinning draw */
    uint32_t zig_k[256]; /* ziggurat tables for Exp(1) (Marsaglia & Tsang 2000) */
    double zig_w[256], zig_f[256];
} kmc_uniform_data;

/* Static data of a class hop in the interacting mode (24 bytes): its barrier, the static
 * part of its dE (site energies, field) and J between its two ends, eV. */
typedef struct {
    double ekra, de0, J;
} kmc_ia_chop;

/* Configuration-dependent rates (kmc_interact.c; e->interacting): pair interactions (the
 * part of a hop's dE phi[dst] - J(src, dst) - phi[src]), clusters (psi[dst] - psi[src] -
 * the clusters holding both ends), local models of each hop's environment (E_kra and a dE
 * term). Used by the tree and event solvers.
 *
 * Everything static is kept per site class, as the non-interacting modes keep their rate
 * lists: the classes of an interacting network are also keyed by the hops' barriers,
 * static dE and J, the interaction list (offsets and J), the hops' environments and the
 * site's dependents, all relative to the site. A periodic lattice with periodic energies
 * then has a few dozen classes and no per-site or per-hop static data at all; a disordered
 * network gets one class per site. Per site the mode keeps only phi (and psi with
 * clusters) and the local models' ids of its hops (a small table); hop rates are not stored but evaluated
 * when needed. */
typedef struct {
    kmc_ia_chop *chd;           /* [n_chop] static data of each class hop */
    int32_t *cint_ptr;          /* [n_cls+1] interaction list of each class: */
    int32_t *cint_off;          /*   neighbour - site */
    double *cint_J;             /*   J (eV) */
    double *phi; /* phi[s] = sum over occupied interaction neighbours of J (eV) */
    kmc_rate_memo_entry *memo; /* [KMC_RATE_MEMO_SIZE] recent rates, or NULL (many distinct keys) */

    int32_t *hop_ptr; /* [n_sites+1] the network's hop offsets (hop ids), with clusters */

    /* clusters (n_cl > 0): the cluster expansion beyond pairs, per site (CSR) */
    int32_t n_cl;
    int32_t *cl_ptr, *cl_site;  /* as kmc_network's */
    double *cl_V;
    int32_t *scl_ptr, *scl;     /* clusters containing each site (CSR) */
    int32_t *cnb_ptr, *cnb;     /* sites sharing a cluster with each site, each once (CSR) */
    int32_t *hsh_ptr, *hsh;     /* [n_hops+1]: clusters containing both ends of each hop */
    double *psi; /* psi[s] = sum_{c containing s} V_c prod_{i in c, i != s} n_i (eV) */

    /* local models (n_lm > 0), per class hop and per class */
    int32_t n_lm;
    double *lm_e0, *lm_phi, *lm_K;
    int32_t *lm_tptr, *lm_tpos;
    int32_t *smod, *mtab;       /* [n_sites], table: hop k of site s has the E_kra and dE models
                                   mtab[smod[s] + 2k] and mtab[smod[s] + 2k + 1] (or -1): per
                                   site, as a material's disorder (NASICON's Si/P) makes them
                                   differ from site to site while everything else stays
                                   periodic; the lists deduplicated, so the table is small */
    int32_t *cenv_ptr;          /* [n_chop+1] environment of each class hop: */
    int32_t *cenv_off;          /*   environment site - source */
    int32_t *cdep_ptr;          /* [n_cls+1] sources of the hops whose environment holds the */
    int32_t *cdep_off;          /*   site (source - site), each once */
    /* value tables: model m's value for the occupancy bits b of its first lm_nb[m]
     * environment sites is lm_tab[lm_toff[m] + b] (the same bits as the sum over its
     * terms); lm_tab NULL when they would be too large */
    double *lm_tab;
    int64_t *lm_toff;
    int32_t *lm_nb;
} kmc_ia_data;

/* A class of multi-ion events: its type, where its move vectors start in ecl_vec, and
 * (without interactions, when there are no per-event rates) the rate of its events. */
typedef struct {
    int32_t type;
    int32_t vec; /* first move: ecl_vec[4 * vec] */
    double rate;
} kmc_evclass;

/* Multi-ion events (kmc_events.c; none: n_events = 0); only with the tree. The type and
 * the move vectors of an event are those of its class (events with the same type and the
 * same vectors, bit for bit, share one: a periodic lattice has a few dozen), so the
 * per-event data are the sites, the class and the rate. */
#define KMC_ET_BITS 6 /* bits of one hop slot (< KMC_MAX_DEGREE = 64) in a template key */

typedef struct {
    int32_t n_events, n_event_types, n_ecls;
    const int32_t *ptr, *src, *dst; /* as kmc_network's ev_ptr, ev_src, ev_dst: copies, or
                                       the caller's arrays with ev_borrow (then borrowed = 1) */
    int borrowed;
    int32_t *cls;      /* [n_events] class of each event */
    kmc_evclass *ecl;  /* [n_ecls] */
    double *ecl_vec;   /* [4 per class move] vector (Angstrom) and its squared length */
    double *ekra;      /* [n_events] interacting mode only */
    double *de0;       /* [n_events] interacting mode only: static dE (site energies, field), eV */
    double *rate;      /* [n_events] without interactions, the rate when allowed; NULL when
                          every event has its class's rate (ecl[].rate), as on a periodic
                          lattice with periodic site energies */
    int32_t *sev_ptr, *sev; /* events that move an ion from or to each site (CSR) */
    int32_t max_sev;        /* longest site -> event list */
    uint64_t *counts;       /* [n_event_types] */
    /* template events (kmc_network's et_ptr): ptr, src, dst, cls, rate and the site ->
     * event lists are NULL; template q is event class q (ecl[q]) */
    int tmpl;
    int32_t k;              /* moves per event */
    int32_t *ecl_of;        /* [n_sites] event class of each site */
    int32_t *first;         /* [n_sites + 1] first event of each site */
    int32_t *et_ptr;        /* [n_ev_classes + 1] templates of each event class */
    uint32_t *et_key;       /* [templates] slot path, KMC_ET_BITS a slot, first slot highest */
    uint8_t *et_slot;       /* [templates * k] */
    uint64_t *et_win;       /* bitsets of the slot windows (contiguous slot runs) of length 1,
                               2 and 3 that occur in some template: 1, 64 and 4096 words */
    uint32_t *et_win4;      /* sorted slot keys of the templates (k = 4), n_ecls of them */
    int32_t *et_by1;        /* [n_ev_classes * (KMC_MAX_DEGREE + 1)] or NULL: the first
                               template of class c whose first slot is >= s at
                               c * (KMC_MAX_DEGREE + 1) + s (a look-up instead of a search) */
    kmc_sumtree tree;       /* leaves: event rates (0 if not allowed) */
    int64_t *dirty;         /* [cap] scratch: events re-evaluated in one step */
    int64_t cap;
} kmc_events_data;

/* ---- the solver interface ---- */

/* What kmc_engine.c calls, once per kmc_engine_run / set_state / check, never per step.
 * kmc_build.c picks one solver per engine (e->solver) from the mode. */
typedef struct kmc_solver {
    const char *name;
    /* allocate the solver's structures once the network is built; 0, or -1 out of memory */
    int (*init)(kmc_engine *e);
    /* derive everything from the ions' sites (e->ions[a].site, distinct), e.g. after
     * creation and kmc_engine_set_state */
    void (*rebuild)(kmc_engine *e);
    /* kmc_engine_run after its argument checks (steps_done and reason never NULL) */
    int (*run)(kmc_engine *e, uint64_t max_steps, double t_stop, uint64_t *steps_done, int *reason);
    /* recompute the solver's derived data and compare: KMC_OK, or KMC_ERR_STATE with a message */
    int (*check)(kmc_engine *e);
    double (*total_rate)(const kmc_engine *e); /* Hz */
} kmc_solver;

extern const kmc_solver kmc_tree_solver, kmc_count_solver, kmc_uniform_solver, kmc_events_solver;

/* ---- the engine ---- */

struct kmc_engine {
    int32_t n_sites, n_hops, n_ions, n_hop_types;
    int mode;                 /* the kmc_mode in use */
    const kmc_solver *solver; /* its solver */
    int interacting;          /* pair interactions present: rates depend on the configuration */
    int prefetch;             /* large system (KMC_PREFETCH_MIN_SITES): start a step's scattered
                                 misses together (timing only; below, the data stay in cache
                                 and prefetching only costs instructions) */
    kmc_rate_params rp;       /* the rate law, nu, 1/(kB T) */

    /* network */
    kmc_class *cls;   /* [n_cls] */
    kmc_chop *chop;   /* [n_chop] */
    int32_t *chc;     /* [n_chop] hop class of each class hop */
    double *hc_vec;   /* [n_hc*4] vector (Angstrom) and its squared length */
    int32_t *hc_type; /* [n_hc] */
    int32_t n_cls, n_chop, n_hc;
    double *rate;     /* without interactions: deduplicated rate lists (NULL with) */
    int32_t n_rates;
    double *tab;      /* without interactions: rate sums per allowed set (or NULL) */
    int32_t n_tab;

    /* dynamic state */
    kmc_site *site;    /* [n_sites]; NULL in uniformization */
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

    /* scratch for local updates (kmc_affected): the sets X and R of a move as a small
     * open-addressing table whose slots carry the generation (stamp) that filled them, so
     * a new set needs no clearing; a few dozen to a few hundred sites, in L1 instead of a
     * stamp per site scattered over the box */
    kmc_sslot *sset;   /* [sset_mask + 1] with interactions or events, else NULL */
    uint32_t sset_mask, sset_shift;
    uint32_t stamp_now;
    uint8_t *seen;        /* [n_sites/8+1] bitmap for checking ion sites */
    int32_t *xset, *rset; /* [xcap + 2], [rcap + 2]: sites whose occupancy/field changed; sites
                             whose rates may change */
    int32_t xcap, rcap;

    /* the modes and components */
    kmc_tree_data tree;
    kmc_count_data cnt;
    kmc_uniform_data uni;
    kmc_ia_data ia;
    kmc_events_data ev;

    size_t bytes;
    char errmsg[256];
};

/* ---- functions the files give each other (see each file) ---- */

/* kmc_build.c */
KMC_PRIVATE int kmc_check_ion_sites(kmc_engine *e, const int32_t *ion_site, char *errmsg, size_t errmsg_len);
/* kmc_engine.c */
KMC_PRIVATE int kmc_check_sites(kmc_engine *e);
/* kmc_tree.c: the tree solver's parts the event solver reuses */
KMC_PRIVATE int tree_init(kmc_engine *e);
KMC_PRIVATE void tree_rebuild(kmc_engine *e);
KMC_PRIVATE int tree_check(kmc_engine *e);
KMC_PRIVATE double tree_total(const kmc_engine *e);
KMC_PRIVATE int tree_pick(kmc_engine *e, double x, int32_t *s, int *k);
KMC_PRIVATE int32_t tree_execute(kmc_engine *e, int32_t i, int k);
KMC_PRIVATE void tree_refresh_sites(kmc_engine *e, const int32_t *sites, int32_t n);
KMC_PRIVATE void tree_free(kmc_engine *e);
KMC_PRIVATE int tree_config_memo_init(kmc_engine *e, int walk);
/* kmc_count.c, kmc_uniform.c */
KMC_PRIVATE void count_free(kmc_engine *e);
KMC_PRIVATE int uniform_bounds(const kmc_engine *e, int32_t *zmax, double *rmax);
KMC_PRIVATE double uniform_acceptance(const kmc_engine *e);
KMC_PRIVATE double uniform_start_acceptance(const kmc_engine *e, const int32_t *ion_site);
KMC_PRIVATE void uniform_free(kmc_engine *e);
/* kmc_interact.c */
KMC_PRIVATE double ia_site_rate(kmc_engine *e, int32_t s);
KMC_PRIVATE void ia_site_rates(kmc_engine *e, int32_t s, double *rate);
KMC_PRIVATE void ia_prefetch_rates(const kmc_engine *e, int32_t s);
KMC_PRIVATE int32_t ia_extend(kmc_engine *e, int32_t nx);
KMC_PRIVATE int32_t ia_dependents(kmc_engine *e, int32_t n_moved, int32_t nr);
KMC_PRIVATE double ia_moves_de(const kmc_engine *e, const int32_t *src, const int32_t *dst, int32_t k);
KMC_PRIVATE void ia_rebuild(kmc_engine *e);
KMC_PRIVATE int ia_check(kmc_engine *e);
KMC_PRIVATE void ia_free(kmc_engine *e);
/* kmc_events.c */
KMC_PRIVATE void events_free(kmc_engine *e);

/* ---- shared helpers ---- */

static inline void set_err(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    if (!buf || len == 0) return;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

/* In a function with a kmc_engine *e: set the engine's message and return KMC_ERR_STATE
 * unless cond holds. */
#define CHECK(cond, ...)                                             \
    do {                                                             \
        if (!(cond)) {                                               \
            set_err(e->errmsg, sizeof(e->errmsg), __VA_ARGS__);      \
            return KMC_ERR_STATE;                                    \
        }                                                            \
    } while (0)

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

static inline int64_t dbits(double x)
{
    int64_t b;
    memcpy(&b, &x, sizeof(b));
    return b;
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

/* The occupancy mask of site s from its neighbours' records. */
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

/* The site records' occupancy from the ions' sites (distinct). */
static inline void occupy_sites(kmc_engine *e)
{
    int32_t s, a;
    for (s = 0; s < e->n_sites; s++) e->site[s].ion = -1;
    for (a = 0; a < e->n_ions; a++) e->site[e->ions[a].site].ion = a;
}

/* Arrays of at least this many bytes are asked for in transparent huge pages (Linux): a
 * large system touches random entries of them every step, and with 4 KiB pages nearly every
 * touch also misses the TLB. */
#define KMC_HUGE_BYTES ((size_t)1 << 21)
#define KMC_HUGE_PAGE ((size_t)1 << 21)

/* Zeroed array of n elements of `size` bytes (counted in e->bytes); sets *fail if not. */
static inline void *xalloc(kmc_engine *e, size_t n, size_t size, int *fail)
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

/* A new empty site set (kmc_engine.sset); returns its stamp. */
static inline uint32_t next_stamp(kmc_engine *e)
{
    if (e->stamp_now >= UINT32_MAX - 1) {
        memset(e->sset, 0, ((size_t)e->sset_mask + 1) * sizeof(kmc_sslot));
        e->stamp_now = 0;
    }
    return ++e->stamp_now;
}

/* Add site s to the set of stamp gen: 1 if it was not in it, 0 if it was. */
static inline int sset_add(kmc_engine *e, int32_t s, uint32_t gen)
{
    uint32_t h = ((uint32_t)s * UINT32_C(2654435761)) >> e->sset_shift;
    for (;;) {
        kmc_sslot *q = e->sset + h;
        if (q->gen != gen) {
            q->gen = gen;
            q->site = s;
            return 1;
        }
        if (q->site == s) return 0;
        h = (h + 1) & e->sset_mask;
    }
}

/* R: the sites whose allowed hops or rates may change after a move, i.e. X = xset[0..nx)
 * (the sites whose occupancy or interaction field changed, distinct) and their hop
 * neighbours, each once, into rset; returns |R|. */
static inline int32_t hop_neighbourhood(kmc_engine *e, int32_t nx)
{
    const kmc_site *site = e->site;
    const uint32_t sr = next_stamp(e);
    int32_t a, q, x, n_r = 0;
    for (a = 0; a < nx; a++) {
        const kmc_class *cx = e->cls + site[e->xset[a]].cls;
        const kmc_chop *hx = e->chop + cx->hop;
        x = e->xset[a];
        if (sset_add(e, x, sr)) e->rset[n_r++] = x;
        for (q = 0; q < cx->deg; q++) {
            const int32_t t = x + hx[q].doff;
            if (sset_add(e, t, sr)) {
                e->rset[n_r++] = t;
                if (e->prefetch) KMC_PREFETCH(site + t);
            }
        }
    }
    return n_r;
}

/* The sites a move touches. On entry xset[0..nx) holds the sites whose occupancy changed
 * (distinct); with interactions their interaction and cluster neighbours are added (X: the
 * sites whose field changed, recomputed here). rset becomes X and its hop neighbours (R),
 * and with local models the sources of the hops whose environment holds a moved site.
 * Returns |X|; *nr receives |R|. */
static inline int32_t kmc_affected(kmc_engine *e, int32_t nx, int32_t *nr)
{
    const int32_t n_moved = nx;
    if (!e->interacting) {
        *nr = hop_neighbourhood(e, nx);
        return nx;
    }
    nx = ia_extend(e, nx);
    *nr = ia_dependents(e, n_moved, hop_neighbourhood(e, nx));
    return nx;
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

/* Move ion from site i to site j by a hop of class hcl: occupancy of the site records and
 * the ion's record (move_ion_record). Shared by the tree and count solvers. */
static inline void move_ion(kmc_engine *e, int32_t i, int32_t j, int32_t ion, int32_t hcl)
{
    e->site[j].ion = ion;
    e->site[i].ion = -1;
    move_ion_record(e, ion, j, hcl);
}

/* The prologue of a rejection-free step at total rate `total` (Hz): KMC_STOP_STEPS to go on
 * (*dt receives the residence time -ln(1 - u) / total for one uniform number u drawn: u is
 * a multiple of 2^-53 in [0, 1), so 1 - u is exact and log's result as accurate as
 * log1p(-u)'s, at less than half its cost; until 2026-12 kmc took log1p(-u), which differs in
 * the last bit for about 7 % of u), or why the run stops:
 * KMC_STOP_FROZEN (total 0: nothing drawn, nothing changed) or KMC_STOP_TIME (the event
 * would come after t_stop: the time becomes t_stop, the draw is discarded, which is exact
 * by the memorylessness of the process). Shared by the tree, count and event loops. */
static inline int next_event_time(kmc_engine *e, double total, double t_stop, double *dt)
{
    if (!(total > 0.0)) return KMC_STOP_FROZEN;
    *dt = -log(1.0 - kmc_rng_uniform(&e->rng)) / total;
    if (e->time + *dt > t_stop) {
        e->time = t_stop;
        return KMC_STOP_TIME;
    }
    return KMC_STOP_STEPS;
}

/* In a run loop (locals done and why, arguments steps_done and reason): stop with
 * KMC_ERR_STATE and a message. */
#define RUN_FAIL(...)                                                \
    do {                                                             \
        set_err(e->errmsg, sizeof(e->errmsg), __VA_ARGS__);          \
        *steps_done = done;                                          \
        *reason = why;                                               \
        return KMC_ERR_STATE;                                        \
    } while (0)

#endif /* KMC_ENGINE_IMPL_H */
