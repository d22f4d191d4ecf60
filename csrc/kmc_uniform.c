/* kmc_uniform.c - solver "uniform": uniformization with null events (KMC_MODE_UNIFORM; no
 * interactions, no events).
 *
 * Attempts arrive at the constant total rate A = n_ions z_max k_max; each picks an ion and
 * one of z_max hop slots uniformly and makes the hop when the slot exists, its target is
 * empty and a uniform number is below k / k_max (thinning). No rate sums, masks or trees:
 * one byte (or word) per site holds the occupancy bit and the site class, and the core's
 * site records are freed. Exp(1) times come from a ziggurat; attempts are drawn ahead
 * through a prefetch pipeline. Data: e->uni. The automatic mode's acceptance estimates
 * (uniform_acceptance, uniform_start_acceptance) read the core only, before the solver
 * is chosen.
 */
#include "kmc_engine_impl.h"

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
    e->uni.zig_k[0] = (uint32_t)((de / q) * m2);
    e->uni.zig_k[1] = 0;
    e->uni.zig_w[0] = q / m2;
    e->uni.zig_w[255] = de / m2;
    e->uni.zig_f[0] = 1.0;
    e->uni.zig_f[255] = exp(-de);
    for (i = 254; i >= 1; i--) {
        de = -log(ve / de + exp(-de));
        e->uni.zig_k[i + 1] = (uint32_t)((de / te) * m2);
        te = de;
        e->uni.zig_f[i] = exp(-de);
        e->uni.zig_w[i] = de / m2;
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
        if (KMC_LIKELY(jz < e->uni.zig_k[iz])) return (double)jz * e->uni.zig_w[iz];
        if (iz == 0) /* the tail beyond the last layer: 7.697... + Exp(1) */
            return 7.697117470131487 - log1p(-kmc_rng_uniform(&e->rng));
        x = (double)jz * e->uni.zig_w[iz];
        if (e->uni.zig_f[iz] + kmc_rng_uniform(&e->rng) * (e->uni.zig_f[iz - 1] - e->uni.zig_f[iz]) < exp(-x))
            return x;
    }
}

/* Uniformization's compact per-site word: occupancy and site class. */
static inline int32_t u_class(const kmc_engine *e, int32_t s)
{
    return e->uni.sb8 ? (int32_t)(e->uni.sb8[s] & 0x7fu) : (int32_t)((uint32_t)e->uni.sb32[s] & 0x7fffffffu);
}

static inline int u_occupied(const kmc_engine *e, int32_t s)
{
    return e->uni.sb8 ? (e->uni.sb8[s] >> 7) : (int)((uint32_t)e->uni.sb32[s] >> 31);
}

static inline void u_set(kmc_engine *e, int32_t s, int occupied)
{
    if (e->uni.sb8)
        e->uni.sb8[s] = (uint8_t)((e->uni.sb8[s] & 0x7fu) | (occupied ? 0x80u : 0u));
    else
        e->uni.sb32[s] = (int32_t)(((uint32_t)e->uni.sb32[s] & 0x7fffffffu) | (occupied ? 0x80000000u : 0u));
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
KMC_PRIVATE int uniform_bounds(const kmc_engine *e, int32_t *zmax, double *rmax)
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
    (void)uniform_bounds(e, &e->uni.zmax, &e->uni.rmax);
    e->uni.q = (double *)xalloc(e, (size_t)e->n_rates, sizeof(double), &fail);
    if (fail) return -1;
    e->uni.binary = 1;
    for (r = 0; r < e->n_rates; r++) {
        e->uni.q[r] = e->uni.rmax > 0.0 ? e->rate[r] / e->uni.rmax : 0.0;
        if (e->rate[r] != 0.0 && e->rate[r] != e->uni.rmax) e->uni.binary = 0;
    }
    e->uni.A = (double)e->n_ions * (double)e->uni.zmax * e->uni.rmax;
    zig_init(e);
    /* the per-site class in one byte (or word) beside the occupancy bit; site[] goes */
    if (e->n_cls < 128) e->uni.sb8 = (uint8_t *)xalloc(e, (size_t)e->n_sites, 1, &fail);
    else e->uni.sb32 = (int32_t *)xalloc(e, (size_t)e->n_sites, sizeof(int32_t), &fail);
    if (fail) return -1;
    for (c = 0; c < e->n_sites; c++) {
        if (e->uni.sb8) e->uni.sb8[c] = (uint8_t)e->site[c].cls;
        else e->uni.sb32[c] = e->site[c].cls;
    }
    free(e->site);
    e->site = NULL;
    e->bytes -= (size_t)e->n_sites * sizeof(kmc_site);
    return 0;
}

/* Expected share of accepted attempts from the network alone (random occupancy), to pick
 * the automatic mode: (1 - c) times the mean over sites of sum_k rate_k / (zmax rmax). */
KMC_PRIVATE double uniform_acceptance(const kmc_engine *e)
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
KMC_PRIVATE double uniform_start_acceptance(const kmc_engine *e, const int32_t *ion_site)
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

/* Uniformization: attempts at the constant rate A. Each attempt draws, in this order,
 * its ion, its hop slot (with the thinning number in the same draw) and its time increment
 * Exp(1)/A. Blocked or thinned attempts only advance the time. After many rejections
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
        WORD *sb = e->uni.ARRAY;                                                             \
        kmc_attempt ring[KMC_UPIPE];                                                         \
        kmc_rng snap[KMC_UPIPE];                                                             \
        const uint64_t patience = 64u * (uint64_t)e->n_ions * (uint64_t)(e->uni.zmax + 1);   \
        const double inv_A = 1.0 / e->uni.A, n_ions = (double)e->n_ions;                     \
        const uint64_t zmax = (uint64_t)e->uni.zmax;                                         \
        const WORD top = (WORD)((WORD)1 << (8 * sizeof(WORD) - 1));                          \
        double *jsq = e->jsq_unit > 0.0 ? NULL : e->jsq; /* NULL: hops write no jsq */       \
        uint32_t *hops_hi = e->hops_hi;                                                      \
        const kmc_class *cls = e->cls;                                                       \
        const kmc_chop *chop = e->chop;                                                      \
        const int32_t *chc = e->chc;                                                         \
        const double *uq = e->uni.q, *hc_vec = e->hc_vec;                                    \
        const int binary = e->uni.binary;                                                    \
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
KMC_RUN_UNIFORM(run_uniform8, uint8_t, sb8, KMC_OCC8, KMC_CLS8)
KMC_RUN_UNIFORM(run_uniform32, int32_t, sb32, KMC_OCC32, KMC_CLS32)

static int uniform_run(kmc_engine *e, uint64_t max_steps, double t_stop, uint64_t *steps_done,
                       int *reason)
{
    if (!(e->uni.A > 0.0) || e->n_ions == 0) {
        *steps_done = 0;
        *reason = KMC_STOP_FROZEN;
        return KMC_OK;
    }
    return e->uni.sb8 ? run_uniform8(e, max_steps, t_stop, steps_done, reason)
                    : run_uniform32(e, max_steps, t_stop, steps_done, reason);
}

/* The occupancy bits from the ions' sites (the classes stay). */
static void uniform_rebuild(kmc_engine *e)
{
    int32_t s, a;
    for (s = 0; s < e->n_sites; s++) u_set(e, s, 0);
    for (a = 0; a < e->n_ions; a++) u_set(e, e->ions[a].site, 1);
}

/* The occupancy bits and the ions' sites agree, the classes are valid, the attempt rate
 * is that of the tables. */
static int uniform_check(kmc_engine *e)
{
    int32_t s, a, n_occ = 0;
    for (a = 0; a < e->n_ions; a++) {
        s = e->ions[a].site;
        CHECK(s >= 0 && s < e->n_sites && u_occupied(e, s), "ion %d is on site %d, which is not marked occupied", (int)a, (int)s);
    }
    for (s = 0; s < e->n_sites; s++) {
        CHECK(u_class(e, s) < e->n_cls, "site %d has an invalid class", (int)s);
        n_occ += u_occupied(e, s);
    }
    CHECK(n_occ == e->n_ions, "%d occupied sites for %d ions", (int)n_occ, (int)e->n_ions);
    CHECK(e->uni.A == (double)e->n_ions * (double)e->uni.zmax * e->uni.rmax, "attempt rate is stale");
    return KMC_OK;
}

KMC_PRIVATE void uniform_free(kmc_engine *e)
{
    free(e->uni.q);
    free(e->uni.sb8);
    free(e->uni.sb32);
    e->uni.q = NULL;
    e->uni.sb8 = NULL;
    e->uni.sb32 = NULL;
}

const kmc_solver kmc_uniform_solver = {"uniform", uniform_init, uniform_rebuild, uniform_run, uniform_check,
                                       uniform_total};
