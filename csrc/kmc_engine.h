/*
 * kmc_engine.h - rejection-free kinetic Monte Carlo of ions hopping on a
 * network of sites. The only public header of the C core.
 *
 * Plain C99: no Python, no globals, no I/O, no printing, no signals. All
 * memory is allocated in kmc_engine_create; a step allocates nothing.
 *
 * Model (units: Angstrom, eV, K, e, s, Hz):
 *   - n_sites sites, each empty or holding one ion; n_ions ions with identity.
 *   - directed hops i -> j stored CSR by source (hop_ptr), each with a real
 *     displacement vector (Angstrom), a hop type and a KRA barrier E_kra (eV).
 *     Every hop has its reverse (index hop_rev), which makes detailed balance exact.
 *   - site energies E_s (eV), optional pair energies J between occupied sites, optional
 *     clusters of up to 4 sites with energies V (a cluster expansion), optional local models
 *     of a hop's environment (E_kra and a dE term), optional uniform electric field F
 *     (V/Angstrom) acting on charge q (e).
 *   - a hop i -> j of an ion is allowed when j is empty; its rate is
 *         k = nu * exp(-Ea / kB T),  Ea from kmc_params.rate_law: max(E_kra + dE/2, 0, dE)
 *         ("kra", the default) or E_kra + dE/2 ("kmcpy"),
 *     dE = E_j - E_i + (pair and cluster energy change) + (local dE term) - q F . d.
 *   - residence-time (BKL) algorithm: dt = -ln(1-u)/R_total, event chosen with
 *     probability k/R_total through a sum tree over per-site rate sums (O(log N)).
 *     After a move only the affected sites are recomputed. Without pair
 *     interactions every hop rate is precomputed once at creation.
 *   - or, without interactions and multi-ion events, uniformization (null events):
 *     attempts arrive at the constant total rate n_ions * z_max * k_max, each picks an
 *     ion and one of z_max hop slots uniformly and makes the hop when the slot exists,
 *     its destination is empty and a uniform number is below k / k_max; O(1) per
 *     attempt (see kmc_mode).
 *
 * Return codes: 0 (KMC_OK) on success, a negative kmc_status on error; the
 * engine's last error message is kmc_engine_errmsg(e), a generic text for a
 * code is kmc_strerror(code).
 */
#ifndef KMC_ENGINE_H
#define KMC_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KMC_MAX_DEGREE 64 /* at most this many hops start at one site */
#define KMC_MAX_EVENT_MOVES 4 /* at most this many simultaneous moves in one event */
#define KMC_MAX_CLUSTER_SITES 4 /* at most this many sites in a cluster or a local-model term */
/* The tree solver's configuration memo (kmc_params.no_config_memo): for interacting systems
 * of at most this many sites, and at most this many bytes (then it is freed) */
#define KMC_CONFIG_MEMO_MAX_SITES 64
#define KMC_CONFIG_MEMO_MAX_BYTES (8 << 20)

typedef enum {
    KMC_OK = 0,
    KMC_ERR_NOMEM = -1,   /* allocation failed */
    KMC_ERR_INVALID = -2, /* invalid input (array contents or parameters) */
    KMC_ERR_STATE = -3,   /* internal state inconsistent (a bug, or a corrupt state) */
} kmc_status;

/* Why kmc_engine_run returned. */
typedef enum {
    KMC_STOP_STEPS = 0,  /* max_steps events were executed */
    KMC_STOP_TIME = 1,   /* the next event would have come after t_stop; time set to t_stop */
    KMC_STOP_FROZEN = 2, /* total rate is 0: no event is possible; nothing changed */
    KMC_STOP_POINTS = 3, /* kmc_engine_run_points: its buffer is full, or its points are dense */
} kmc_stop_reason;

/*
 * The network. All arrays are caller-owned and only read during
 * kmc_engine_create, which copies what it needs. Hops come either CSR by source site
 * (hop_ptr, ...) or, for periodic lattices, as per-site templates (site_template, ...).
 * Zero-initialise the struct, so that fields a caller does not use are 0/NULL.
 */
typedef struct {
    int32_t n_sites;           /* >= 1 */
    int32_t n_hops;            /* >= 0 */
    int32_t n_hop_types;       /* >= 1 */
    const int32_t *hop_ptr;    /* [n_sites+1] CSR offsets, hop_ptr[0] = 0, hop_ptr[n_sites] = n_hops */
    const int32_t *hop_dst;    /* [n_hops] destination site, != source */
    const int32_t *hop_rev;    /* [n_hops] index of the reverse hop (dst -> src, vector negated) */
    const int32_t *hop_type;   /* [n_hops] in 0..n_hop_types-1 */
    const double *hop_vec;     /* [n_hops*3] displacement, Angstrom */
    const double *hop_ekra;    /* [n_hops] KRA barrier, eV (same for a hop and its reverse) */
    const double *site_energy; /* [n_sites] eV */
    /* pair interactions, symmetric neighbour lists (both directions stored); int_ptr may be NULL */
    const int32_t *int_ptr;    /* [n_sites+1] or NULL */
    const int32_t *int_nbr;    /* [int_ptr[n_sites]] */
    const double *int_J;       /* [int_ptr[n_sites]] eV, J(i,j) = J(j,i) */
    const double *hop_J;       /* [n_hops] J between source and destination of the hop (0 if none); NULL if no interactions */
    /* multi-ion events: event v moves the ions on ev_src[b..e) to ev_dst[b..e) at once, with
     * b = ev_ptr[v], e = ev_ptr[v+1], 1 <= e - b <= KMC_MAX_EVENT_MOVES, sources distinct,
     * targets distinct. Allowed when every source is occupied and every target is empty or
     * one of the event's sources. The caller provides every event's reverse (same barrier)
     * for detailed balance. n_events = 0 (and NULL arrays) for none. */
    int32_t n_events;          /* >= 0 */
    int32_t n_event_types;     /* >= 1 if n_events > 0 */
    const int32_t *ev_ptr;     /* [n_events+1], ev_ptr[0] = 0 */
    const int32_t *ev_src;     /* [ev_ptr[n_events]] */
    const int32_t *ev_dst;     /* [ev_ptr[n_events]] */
    const double *ev_vec;      /* [ev_ptr[n_events]*3] displacement of each move, Angstrom;
                                  with ev_vidx: [n_ev_vecs*3], a table of vectors */
    const double *ev_ekra;     /* [n_events] KRA barrier, eV */
    const int32_t *ev_type;    /* [n_events] in 0..n_event_types-1 */
    const int32_t *ev_vidx;    /* [ev_ptr[n_events]] or NULL: move m's displacement is row
                                  ev_vidx[m] of the table ev_vec (e.g. the network's hop of
                                  the move), so that no per-move vectors need to exist */
    int32_t n_ev_vecs;         /* rows of ev_vec with ev_vidx (>= 1), else ignored */
    int32_t ev_ekra_same;      /* nonzero: every event has the barrier ev_ekra[0] (ev_ekra
                                  needs 1 entry), else ev_ekra has one per event */
    int32_t ev_borrow;         /* nonzero: the engine keeps pointers to ev_ptr, ev_src and
                                  ev_dst instead of copying them; the caller keeps those arrays
                                  alive and unchanged until kmc_engine_free (the engine only
                                  reads them) */
    /* Multi-ion events as templates, string moves along hops (instead of ev_ptr ...; no pair
     * interactions, clusters or local models): with et_ptr not NULL the ev_* arrays above
     * are NULL, and site s has the events of its event class c = ev_class[s], in order:
     * event j < et_ptr[c+1] - et_ptr[c] of s is template q = et_ptr[c] + j, et_k moves
     * along hops: move 0 leaves s by hop slot et_slot[q*et_k] of s's hop list, move i
     * leaves the destination of move i-1 by its hop slot et_slot[q*et_k + i]. The event has
     * type et_type[q], KRA barrier et_ekra[q] (eV) and move vectors et_vec[3*(q*et_k+i) ..]
     * (Angstrom). Events are numbered site by site (site 0's, then site 1's, ...); n_events
     * is their total. Within a class the templates are sorted by their slot paths
     * (lexicographically, no two equal); the et_k + 1 sites of every event are distinct and
     * the events of one template have one dE at every site (periodic site energies): the
     * engine checks both. The caller includes every event's reverse (the reversed string).
     * The engine keeps 8 bytes per site and the event sum tree, nothing per event. */
    int32_t n_ev_classes;         /* >= 1 with et_ptr */
    const int32_t *ev_class;      /* [n_sites] in 0..n_ev_classes-1 */
    const int32_t *et_ptr;        /* [n_ev_classes+1], et_ptr[0] = 0; or NULL */
    int32_t et_k;                 /* moves per event, 2..KMC_MAX_EVENT_MOVES */
    const int32_t *et_slot;       /* [et_ptr[n_ev_classes]*et_k] hop slots, 0..KMC_MAX_DEGREE-1 */
    const double *et_vec;         /* [et_ptr[n_ev_classes]*et_k*3] Angstrom */
    const double *et_ekra;        /* [et_ptr[n_ev_classes]] eV */
    const int32_t *et_type;       /* [et_ptr[n_ev_classes]] in 0..n_event_types-1 */
    /* Compact form for periodic lattices: when site_template is not NULL, hop_ptr and the
     * per-hop arrays above are NULL (pair interactions as templates, ti_* below; neither
     * clusters, local models nor events other than templates, et_ptr).
     * Site s has the hop list of template t = site_template[s]: hop k < tp_ptr[t+1] - tp_ptr[t]
     * is template hop h = tp_ptr[t] + k, going to site s + tp_doff[h]; its reverse is hop
     * tp_rev[h] of the destination's list; it has type tp_type[h], vector tp_vec[3h..3h+2]
     * (Angstrom) and KRA barrier tp_ekra[h] (eV). n_hops is the sum of the sites' degrees.
     * The caller's memory is 4 bytes per site (plus site_energy) instead of about 50 per hop. */
    int32_t n_templates;          /* >= 1 with site_template */
    const int32_t *site_template; /* [n_sites] in 0..n_templates-1, or NULL (CSR form) */
    const int32_t *tp_ptr;        /* [n_templates+1], tp_ptr[0] = 0 */
    const int32_t *tp_doff;       /* [tp_ptr[n_templates]] destination - source */
    const int32_t *tp_rev;        /* [tp_ptr[n_templates]] slot of the reverse in the destination's list */
    const int32_t *tp_type;       /* [tp_ptr[n_templates]] in 0..n_hop_types-1 */
    const double *tp_vec;         /* [tp_ptr[n_templates]*3] displacement, Angstrom */
    const double *tp_ekra;        /* [tp_ptr[n_templates]] KRA barrier, eV */
    /* Pair interactions of the template form (int_ptr above must be NULL): template t's
     * interaction list is entries a = ti_ptr[t] .. ti_ptr[t+1]: site s (of template t)
     * interacts with site s + ti_doff[a] with energy ti_J[a] (eV); every pair listed from
     * both ends with the same J, no neighbour twice, none the site itself. tp_J[h] is J
     * between the ends of template hop h (0 if they do not interact). ti_ptr NULL: none. */
    const int32_t *ti_ptr;        /* [n_templates+1], ti_ptr[0] = 0; or NULL */
    const int32_t *ti_doff;       /* [ti_ptr[n_templates]] neighbour - site */
    const double *ti_J;           /* [ti_ptr[n_templates]] eV */
    const double *tp_J;           /* [tp_ptr[n_templates]] eV; required with ti_ptr */
    /* Cluster expansion beyond pairs (CSR form only; pairs are int_J above): cluster c is the
     * distinct sites cl_site[cl_ptr[c] .. cl_ptr[c+1]) (2..KMC_MAX_CLUSTER_SITES of them) with
     * ECI cl_V[c] (eV); the energy is sum_c V_c prod_{i in c} n_i, n_i = 1 when site i holds
     * an ion (occupation basis; static species are folded in by the caller). A hop's or
     * event's dE includes the exact change of this energy. n_clusters = 0 for none. */
    int32_t n_clusters;
    const int32_t *cl_ptr;   /* [n_clusters+1], cl_ptr[0] = 0 */
    const int32_t *cl_site;  /* [cl_ptr[n_clusters]] */
    const double *cl_V;      /* [n_clusters] eV */
    /* Local models (CSR form only, no events): environment-dependent barriers and energy
     * terms. Model m evaluated on an environment (an ordered list of sites) is
     *     lm_e0[m] + sum_t lm_K[t] prod_{p in term t} b_m(n of environment site p),
     * b_m(0) = lm_phi[2m], b_m(1) = lm_phi[2m+1] (occupation basis: 0, 1; kMCpy's: +1, -1),
     * over the terms t = lm_tptr[m] .. lm_tptr[m+1], term t naming the environment
     * positions lm_tpos[4t .. 4t+3] (at least one, -1 after the last). Hop h has the
     * environment env_site[env_ptr[h] .. env_ptr[h+1]); its E_kra is model hop_kra_model[h]
     * on it (hop_ekra[h] when -1) and model hop_de_model[h] on it is added to its dE (nothing
     * when -1). Both are evaluated in the configuration in which the hop is allowed. With
     * n_local_models = 0 the other fields are ignored. */
    int32_t n_local_models;
    const double *lm_e0;         /* [n_local_models] eV */
    const double *lm_phi;        /* [2*n_local_models] basis values of n = 0 and n = 1 */
    const int32_t *lm_tptr;      /* [n_local_models+1], lm_tptr[0] = 0 */
    const int32_t *lm_tpos;      /* [4*lm_tptr[n_local_models]] environment positions, -1 padded */
    const double *lm_K;          /* [lm_tptr[n_local_models]] eV */
    const int32_t *env_ptr;      /* [n_hops+1], env_ptr[0] = 0 */
    const int32_t *env_site;     /* [env_ptr[n_hops]] sites */
    const int32_t *hop_kra_model; /* [n_hops] model or -1 */
    const int32_t *hop_de_model;  /* [n_hops] model or -1 */
} kmc_network;

/* The algorithm that picks events (kmc_params.mode). Every mode samples the same
 * continuous-time Markov process; they differ in speed, and so in the random numbers a
 * trajectory draws (a seed reproduces a trajectory bit for bit within one mode). */
typedef enum {
    KMC_MODE_AUTO = 0,    /* UNIFORM for a network without interactions and events whose
                             attempts are mostly accepted (at random occupancy, and not
                             rarely in the initial configuration), else COUNT if possible,
                             else TREE */
    KMC_MODE_TREE = 1,    /* float sum tree over the per-site rate sums: always possible */
    KMC_MODE_COUNT = 2,   /* integer count trees per rate class: no interactions, no events,
                             at most 16 distinct hop rates */
    KMC_MODE_UNIFORM = 3, /* uniformization (null events): attempts at a constant total rate,
                             rejected when the hop is blocked; no interactions, no events */
} kmc_mode;

/* The rate law (kmc_params.rate_law): how a hop's or event's KRA barrier E_kra and energy
 * change dE (eV) give its rate k = nu exp(-Ea / kB T). Values are consecutive from 0;
 * kmc_rate_law_name() gives each one's name (csrc/kmc_rate.h tells how to add one). */
typedef enum {
    KMC_RATE_KRA = 0,   /* "kra": Ea = max(E_kra + dE/2, 0, dE) (detailed balance exactly) */
    KMC_RATE_KMCPY = 1, /* "kmcpy": Ea = E_kra + dE/2, unclamped, as kMCpy computes it */
    KMC_N_RATE_LAWS     /* the number of laws (not a law) */
} kmc_rate_law;

typedef struct {
    double temperature_K;        /* > 0 */
    double attempt_frequency_Hz; /* > 0, nu */
    double charge_e;             /* q, ion charge in e */
    double field_V_per_A[3];     /* uniform field, V/Angstrom */
    int mode;                    /* a kmc_mode; 0 = automatic */
    int rate_law;                /* a kmc_rate_law; 0 = KMC_RATE_KRA */
    int no_config_memo;          /* nonzero: never remember whole configurations (the tree
                                    solver's memo of small interacting systems; the same
                                    trajectories either way: for tests and measurements) */
    int config_memo_walk;        /* nonzero: the memo picks a remembered configuration's hop
                                    by walking its sum tree, never by the search of its
                                    hops' intervals (the same hops: for tests) */
} kmc_params;

/* Snapshot of the dynamic state, for checkpoints and observables. Every pointer
 * is caller-owned with the length given; get fills them, set reads them. */
typedef struct {
    int32_t *ion_site;        /* [n_ions] site of each ion */
    double *displacement;     /* [n_ions*3] unwrapped displacement since creation, Angstrom */
    double *jump_sq;          /* [n_ions] sum over the ion's hops of |jump|^2, Angstrom^2 */
    uint64_t *ion_hops;       /* [n_ions] hops made by each ion */
    uint64_t *type_counts;    /* [n_hop_types] hops executed per hop type */
    uint64_t *event_counts;   /* [n_event_types] multi-ion events executed per type (may be NULL without events) */
    double time_s;            /* simulated time, s */
    uint64_t steps;           /* events executed */
    double total_displacement[3]; /* sum over all ions of their displacement, Angstrom */
    uint64_t rng[4];          /* xoshiro256** state */
} kmc_state;

typedef struct kmc_engine kmc_engine;

/*
 * Create an engine.
 * @param net        the network (validated: ranges, CSR, reverse hops, degree <= KMC_MAX_DEGREE)
 * @param p          physical parameters (validated: finite, T > 0, 0 < nu <= KMC_MAX_ATTEMPT_FREQUENCY_HZ,
 *                   a kmc_mode and a kmc_rate_law)
 * @param n_ions     number of ions, 0 <= n_ions <= n_sites
 * @param ion_site   [n_ions] distinct initial sites of the ions
 * @param seed       64-bit RNG seed
 * @param status     receives KMC_OK or an error code (NOMEM, INVALID)
 * @param errmsg     if not NULL, receives a message of at most errmsg_len bytes on error
 * @return the engine, or NULL on error
 */
kmc_engine *kmc_engine_create(const kmc_network *net, const kmc_params *p, int32_t n_ions,
                              const int32_t *ion_site, uint64_t seed, int *status, char *errmsg,
                              size_t errmsg_len);

/* Free an engine (NULL is allowed). */
void kmc_engine_free(kmc_engine *e);

/*
 * Run at most max_steps events, stopping before the first event that would
 * occur after t_stop (seconds; pass INFINITY for no limit): then time = t_stop
 * and that draw is discarded (exact by the memorylessness of the process).
 * @param steps_done receives the number of events executed
 * @param reason     receives a kmc_stop_reason
 * @return KMC_OK, or KMC_ERR_STATE if an inconsistency is detected
 */
int kmc_engine_run(kmc_engine *e, uint64_t max_steps, double t_stop, uint64_t *steps_done,
                   int *reason);

/*
 * Run as kmc_engine_run, and also stop at the points t0 + k * interval (seconds), for
 * k = k0, k0 + 1, ... (each computed so, t0 plus k times interval): at each point reached
 * (time >= the point), record the summed displacement of all ions (total_out[3 * n ..],
 * Angstrom) and the events executed since the engine's step count was steps0
 * (steps_out[n]). The stops and the events are those of kmc_engine_run called with t_stop
 * = min(next point, t_stop) until each point is reached, so the trajectory is the same.
 * It also returns, with reason KMC_STOP_POINTS, when max_points points are recorded, and
 * after a point where interval * (steps - steps0) < min_hops * (time - t0): the points come
 * closer than min_hops events apart on average (pass min_hops = 0 for no such stop).
 * max_steps counts events over the whole call.
 * @param n_points   receives the number of points recorded
 * @return KMC_OK, KMC_ERR_INVALID on a bad interval, t0 or t_stop, or kmc_engine_run's error
 */
int kmc_engine_run_points(kmc_engine *e, uint64_t max_steps, double t_stop, double t0,
                          double interval, uint64_t k0, uint64_t max_points, double min_hops,
                          uint64_t steps0, double *total_out, uint64_t *steps_out,
                          uint64_t *n_points, uint64_t *steps_done, int *reason);

/* Copy the dynamic state into the caller's buffers (see kmc_state). */
int kmc_engine_get_state(const kmc_engine *e, kmc_state *s);

/* Restore a state from kmc_engine_get_state; all rates and the tree are rebuilt.
 * Returns KMC_ERR_INVALID (engine unchanged) if sites are out of range or repeated. */
int kmc_engine_set_state(kmc_engine *e, const kmc_state *s);

/* Copy only the per-ion displacements [n_ions*3] and jump_sq [n_ions] (cheap observables). */
void kmc_engine_get_displacements(const kmc_engine *e, double *displacement, double *jump_sq);

/* Copy the sum over all ions of their displacement [3], Angstrom (O(1): kept by the engine). */
void kmc_engine_get_total_displacement(const kmc_engine *e, double *total_displacement);

/* Recompute all derived data from the occupancy and compare (tests): masks, rates,
 * tree nodes and interaction fields. Returns KMC_OK or KMC_ERR_STATE with a message. */
int kmc_engine_check(kmc_engine *e);

int32_t kmc_engine_n_sites(const kmc_engine *e);
int32_t kmc_engine_n_ions(const kmc_engine *e);
int32_t kmc_engine_n_hop_types(const kmc_engine *e);
int32_t kmc_engine_n_event_types(const kmc_engine *e); /* 0 without events */
double kmc_engine_time(const kmc_engine *e);
uint64_t kmc_engine_steps(const kmc_engine *e);
double kmc_engine_total_rate(const kmc_engine *e); /* current R_total, Hz (UNIFORM mode: summed over the ions, O(N)) */
int kmc_engine_mode(const kmc_engine *e);          /* the kmc_mode in use (never AUTO) */
size_t kmc_engine_memory_bytes(const kmc_engine *e);  /* bytes allocated by the engine */

/* How the engine stores the network: its deduplicated site classes (a periodic lattice has
 * a few dozen, a disordered network one per site), the hops of those classes, the hop
 * classes (vector, type), and whether the interacting mode remembers rates (the rate memo,
 * when barriers and energies take few values) and reads local models from value tables, and
 * how many whole configurations it remembers (the configuration memo of a system of at most
 * 64 sites, kmc_tree.c). */
typedef struct {
    int32_t n_site_classes, n_class_hops, n_hop_classes;
    int rate_memo, model_tables;
    int32_t config_memo; /* configurations the tree solver remembers (-1: no memo) */
} kmc_engine_layout;
void kmc_engine_get_layout(const kmc_engine *e, kmc_engine_layout *out);
const char *kmc_engine_errmsg(const kmc_engine *e);
const char *kmc_strerror(int code);

/* Name of a kmc_rate_law ("kra"), or NULL for a value that is none. */
const char *kmc_rate_law_name(int rate_law);

/*
 * The engine's rate law on its own, for n hops: rate_Hz[i] = nu exp(-Ea / kB T) with Ea
 * the law's activation energy for E_kra = ekra_eV[i] and dE = dE_eV[i] (eV); the same
 * function, bit for bit, as an engine with these parameters uses.
 * @return KMC_OK, or KMC_ERR_INVALID (nothing written) for an unknown law, or a temperature
 *         or attempt frequency kmc_engine_create would refuse
 */
int kmc_rate_Hz(int rate_law, double temperature_K, double attempt_frequency_Hz, size_t n,
                const double *ekra_eV, const double *dE_eV, double *rate_Hz);

/* Largest attempt frequency accepted, Hz (physical values are 1e12-1e14; sums of rates must
 * stay finite). */
#define KMC_MAX_ATTEMPT_FREQUENCY_HZ 1e30

/* Boltzmann constant in eV/K (CODATA 2018). */
#define KMC_KB_EV_PER_K 8.617333262e-5

#ifdef __cplusplus
}
#endif
#endif /* KMC_ENGINE_H */
