/* kmc_interact.c - pair interactions: the configuration-dependent part of the energy.
 *
 * With pair energies J between occupied sites, a hop's dE has a static part (site
 * energies, field; hop_de0) and phi[dst] - J(src, dst) - phi[src], where phi[s] is the sum
 * of J over the occupied interaction neighbours of s. After a move the field of the moved
 * sites' interaction neighbours changes (ia_extend), and with it the rates of their hops,
 * which are evaluated anew (ia_site_rate; through the rate memo when the rates take few
 * values). Used by the tree solver (kmc_tree.c) and the event solver (kmc_events.c); the
 * data are e->ia (kmc_ia_data), built at creation (kmc_build.c).
 *
 * This is the seam for other configuration-dependent energies (cluster expansions) and
 * barriers (environment-dependent E_kra): what they change is which sites a move affects
 * (ia_extend), a hop's (E_kra, dE) (ia_site_rate) and a multi-site move's dE (ia_moves_de).
 */
#include "kmc_engine_impl.h"

static inline double hop_de_dynamic(const kmc_engine *e, int32_t src, int32_t dst, int32_t h)
{
    return e->ia.hop_de0[h] + e->ia.phi[dst] - e->ia.hop_J[h] - e->ia.phi[src];
}

static inline double site_phi(const kmc_engine *e, int32_t s)
{
    double sum = 0.0;
    int32_t a;
    for (a = e->ia.int_ptr[s]; a < e->ia.int_ptr[s + 1]; a++)
        if (e->site[e->ia.int_nbr[a]].ion >= 0) sum += e->ia.int_J[a];
    return sum;
}

/* J between sites s and t (0 if they do not interact). */
static inline double pair_J(const kmc_engine *e, int32_t s, int32_t t)
{
    int32_t a;
    for (a = e->ia.int_ptr[s]; a < e->ia.int_ptr[s + 1]; a++)
        if (e->ia.int_nbr[a] == t) return e->ia.int_J[a];
    return 0.0;
}

/* Sum of the rates of the allowed hops of the occupied site s, refreshing the rate of each
 * of those hops (ia_hop_rates) from the current field. */
KMC_PRIVATE double ia_site_rate(kmc_engine *e, int32_t s)
{
    const kmc_site *st = e->site + s;
    const int32_t b = e->ia.hop_ptr[s];
    const kmc_chop *ch = e->chop + e->cls[st->cls].hop;
    uint64_t allowed = ~st->mask;
    double sum = 0.0;
    while (allowed) {
        const int k = ctz64(allowed);
        const double ekra = e->ia.hop_ekra[b + k], de = hop_de_dynamic(e, s, s + ch[k].doff, b + k);
        const double r = e->ia.memo ? kmc_rate_memo(e->ia.memo, &e->rp, ekra, de) : kmc_rate(&e->rp, ekra, de);
        e->ia.rate[b + k] = r;
        sum += r;
        allowed &= allowed - 1;
    }
    return sum;
}

/* The rates of site s's hops (slot k: rate[k]) as last refreshed by ia_site_rate. */
KMC_PRIVATE const double *ia_hop_rates(const kmc_engine *e, int32_t s)
{
    return e->ia.rate + e->ia.hop_ptr[s];
}

/* X: to the sites xset[0..nx) whose occupancy changed (distinct) add their interaction
 * neighbours, each once, and recompute the field of all of them; returns |X|. */
KMC_PRIVATE int32_t ia_extend(kmc_engine *e, int32_t nx)
{
    const uint32_t sx = next_stamp(e);
    const int32_t n_moved = nx;
    int32_t a, q, x;
    for (a = 0; a < n_moved; a++) e->stamp[e->xset[a]] = sx;
    for (a = 0; a < n_moved; a++) {
        for (q = e->ia.int_ptr[e->xset[a]]; q < e->ia.int_ptr[e->xset[a] + 1]; q++) {
            x = e->ia.int_nbr[q];
            if (e->stamp[x] != sx) {
                e->stamp[x] = sx;
                e->xset[nx++] = x;
            }
        }
    }
    for (a = 0; a < nx; a++) e->ia.phi[e->xset[a]] = site_phi(e, e->xset[a]);
    return nx;
}

/* Change of the pair energy when the k moves src[m] -> dst[m] are made at once: with dn
 * the change of the occupation numbers, dE = sum_s dn_s phi_s + sum_{s<t} J_st dn_s dn_t
 * (exact). */
KMC_PRIVATE double ia_moves_de(const kmc_engine *e, const int32_t *src, const int32_t *dst, int32_t k)
{
    int32_t sites[2 * KMC_MAX_EVENT_MOVES];
    int dn[2 * KMC_MAX_EVENT_MOVES];
    int ns = 0, m, a, c, w;
    double de = 0.0;
    for (m = 0; m < 2 * k; m++) {
        const int32_t x = m < k ? src[m] : dst[m - k];
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
        de += dn[a] * e->ia.phi[sites[a]];
        for (c = a + 1; c < ns; c++)
            if (dn[c]) de += dn[a] * dn[c] * pair_J(e, sites[a], sites[c]);
    }
    return de;
}

/* The field of every site from the site records' occupancy. */
KMC_PRIVATE void ia_rebuild(kmc_engine *e)
{
    int32_t s;
    for (s = 0; s < e->n_sites; s++) e->ia.phi[s] = site_phi(e, s);
}

/* Every field and every remembered rate recomputed and compared. */
KMC_PRIVATE int ia_check(kmc_engine *e)
{
    int32_t s;
    for (s = 0; s < e->n_sites; s++)
        CHECK(e->ia.phi[s] == site_phi(e, s), "interaction field of site %d is stale", (int)s);
    if (e->ia.memo) { /* every remembered rate is the rate of its key */
        const int q = kmc_rate_memo_stale(e->ia.memo, &e->rp);
        CHECK(q < 0, "rate memo entry %d is stale", q);
    }
    return KMC_OK;
}

KMC_PRIVATE void ia_free(kmc_engine *e)
{
    free(e->ia.hop_ptr);
    free(e->ia.hop_ekra);
    free(e->ia.hop_de0);
    free(e->ia.hop_J);
    free(e->ia.rate);
    free(e->ia.int_ptr);
    free(e->ia.int_nbr);
    free(e->ia.int_J);
    free(e->ia.phi);
    free(e->ia.memo);
    memset(&e->ia, 0, sizeof(e->ia));
}
