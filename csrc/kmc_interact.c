/* kmc_interact.c - configuration-dependent rates: pair interactions, clusters (a cluster
 * expansion with triplets and quadruplets) and local models of each hop's environment.
 *
 * With pair energies J between occupied sites, a hop's dE has a static part (site
 * energies, field; hop_de0) and phi[dst] - J(src, dst) - phi[src], where phi[s] is the sum
 * of J over the occupied interaction neighbours of s. After a move the field of the moved
 * sites' interaction neighbours changes (ia_extend), and with it the rates of their hops,
 * which are evaluated anew (ia_site_rate; through the rate memo when the rates take few
 * values). Used by the tree solver (kmc_tree.c) and the event solver (kmc_events.c); the
 * data are e->ia (kmc_ia_data), built at creation (kmc_build.c). The static data (a
 * hop's barrier, static dE and J, the interaction lists, environments and dependents) are
 * the site class's, relative to the site; per site only the fields phi and psi are kept,
 * and hop rates are evaluated when needed, never stored (the tree solver's pick evaluates
 * its site's again: the same inputs, the same bits).
 *
 * Clusters work like pairs: a site's cluster field psi[s] changes when a site sharing a
 * cluster with it changes (ia_extend adds those sites to X), and a hop's cluster dE is
 * psi[dst] - psi[src] minus the clusters holding both ends (hop_de_clusters, exact).
 * Local models (E_kra and a dE term from a hop's environment, as kMCpy and CASM fit them)
 * are evaluated anew whenever the rates of their hop's source are, from a table of their
 * values by the occupancy of the environment when it is small enough; a move adds to R the
 * sources of the hops whose environment holds a moved site (ia_dependents, from lists
 * built at creation), so exactly the rates that can change are recomputed, and
 * kmc_engine_check compares every rate with its recomputation from scratch.
 */
#include "kmc_engine_impl.h"

/* n_i of site s: 1 when it holds an ion. */
static inline int occ(const kmc_engine *e, int32_t s) { return e->site[s].ion >= 0; }

/* Product of n over the sites of cluster c other than a and b (either may be -1). */
static inline double cluster_rest(const kmc_engine *e, int32_t c, int32_t a, int32_t b)
{
    int32_t q;
    for (q = e->ia.cl_ptr[c]; q < e->ia.cl_ptr[c + 1]; q++) {
        const int32_t x = e->ia.cl_site[q];
        if (x != a && x != b && !occ(e, x)) return 0.0;
    }
    return 1.0;
}

/* psi[s]: the clusters' field at site s, sum_{c containing s} V_c prod_{i in c, i != s} n_i. */
static inline double site_psi(const kmc_engine *e, int32_t s)
{
    double sum = 0.0;
    int32_t q;
    for (q = e->ia.scl_ptr[s]; q < e->ia.scl_ptr[s + 1]; q++) {
        const int32_t c = e->ia.scl[q];
        if (cluster_rest(e, c, s, -1) != 0.0) sum += e->ia.cl_V[c];
    }
    return sum;
}

/* The clusters' part of the dE of hop h from src (occupied) to dst (empty): the clusters
 * holding dst gain their energy, those holding src lose it, and those holding both (counted
 * in psi[dst] with n_src = 1) have none before or after. Exact. */
static inline double hop_de_clusters(const kmc_engine *e, int32_t src, int32_t dst, int32_t h)
{
    double de = e->ia.psi[dst] - e->ia.psi[src];
    int32_t q;
    for (q = e->ia.hsh_ptr[h]; q < e->ia.hsh_ptr[h + 1]; q++) {
        const int32_t c = e->ia.hsh[q];
        if (cluster_rest(e, c, src, dst) != 0.0) de -= e->ia.cl_V[c];
    }
    return de;
}

/* Model m on the environment env (sites src + off[p]) in the current configuration (eV):
 * its value table when there is one, else the sum over its terms. The table holds the
 * same sum evaluated at creation for every occupancy of the positions it reads
 * (lm_value_of_bits), so both give the same bits. */
static inline double local_model(const kmc_engine *e, int32_t m, int32_t src, const int32_t *off)
{
    if (e->ia.lm_tab) {
        const int32_t nb = e->ia.lm_nb[m];
        uint32_t bits = 0;
        int32_t p;
        for (p = 0; p < nb; p++) bits |= (uint32_t)occ(e, src + off[p]) << p;
        return e->ia.lm_tab[e->ia.lm_toff[m] + bits];
    }
    {
        const double b0 = e->ia.lm_phi[2 * m], b1 = e->ia.lm_phi[2 * m + 1];
        double v = e->ia.lm_e0[m];
        int32_t t;
        int q;
        for (t = e->ia.lm_tptr[m]; t < e->ia.lm_tptr[m + 1]; t++) {
            const int32_t *pos = e->ia.lm_tpos + 4 * (size_t)t;
            double x = e->ia.lm_K[t];
            for (q = 0; q < KMC_MAX_CLUSTER_SITES && pos[q] >= 0; q++) x *= occ(e, src + off[pos[q]]) ? b1 : b0;
            v += x;
        }
        return v;
    }
}

/* The rate of class hop q (slot k) of the occupied site s to its empty destination. */
static inline double ia_hop_rate(kmc_engine *e, int32_t s, int32_t q, int k, double phi_s)
{
    const kmc_ia_chop *hd = e->ia.chd + q;
    const int32_t dst = s + e->chop[q].doff;
    double ekra = hd->ekra, de = hd->de0 + e->ia.phi[dst] - hd->J - phi_s;
    if (e->ia.n_cl > 0) de += hop_de_clusters(e, s, dst, e->ia.hop_ptr[s] + k);
    if (e->ia.n_lm > 0) {
        const int32_t *env = e->ia.cenv_off + e->ia.cenv_ptr[q];
        const int32_t *mod = e->ia.mtab + e->ia.smod[s] + 2 * k;
        if (mod[1] >= 0) de += local_model(e, mod[1], s, env);
        if (mod[0] >= 0) ekra = local_model(e, mod[0], s, env);
    }
    return e->ia.memo ? kmc_rate_memo(e->ia.memo, &e->rp, ekra, de) : kmc_rate(&e->rp, ekra, de);
}

/* phi[s] from the occupancy of its interaction neighbours (class list). */
static inline double site_phi(const kmc_engine *e, int32_t s)
{
    const int32_t c = e->site[s].cls;
    double sum = 0.0;
    int32_t a;
    for (a = e->ia.cint_ptr[c]; a < e->ia.cint_ptr[c + 1]; a++)
        if (e->site[s + e->ia.cint_off[a]].ion >= 0) sum += e->ia.cint_J[a];
    return sum;
}

/* J between sites s and t (0 if they do not interact). */
static inline double pair_J(const kmc_engine *e, int32_t s, int32_t t)
{
    const int32_t c = e->site[s].cls;
    int32_t a;
    for (a = e->ia.cint_ptr[c]; a < e->ia.cint_ptr[c + 1]; a++)
        if (s + e->ia.cint_off[a] == t) return e->ia.cint_J[a];
    return 0.0;
}

/* Sum of the rates of the allowed hops of the occupied site s from the current field, in
 * increasing slot order; with rate != NULL each rate is also stored (slot k: rate[k]; the
 * other slots are left alone), so the tree solver's pick gets the very values summed. */
static inline double site_rates(kmc_engine *e, int32_t s, double *rate)
{
    const kmc_site *st = e->site + s;
    const int32_t q0 = e->cls[st->cls].hop;
    const double phi_s = e->ia.phi[s];
    uint64_t allowed = ~st->mask;
    double sum = 0.0;
    while (allowed) {
        const int k = ctz64(allowed);
        const double r = ia_hop_rate(e, s, q0 + k, k, phi_s);
        if (rate) rate[k] = r;
        sum += r;
        allowed &= allowed - 1;
    }
    return sum;
}

KMC_PRIVATE double ia_site_rate(kmc_engine *e, int32_t s) { return site_rates(e, s, NULL); }

KMC_PRIVATE void ia_site_rates(kmc_engine *e, int32_t s, double *rate) { (void)site_rates(e, s, rate); }

/* X: to the sites xset[0..nx) whose occupancy changed (distinct) add their interaction and
 * cluster neighbours, each once, and recompute the fields of all of them; returns |X|. */
KMC_PRIVATE int32_t ia_extend(kmc_engine *e, int32_t nx)
{
    const uint32_t sx = next_stamp(e);
    const int32_t n_moved = nx;
    int32_t a, q, x;
    for (a = 0; a < n_moved; a++) (void)sset_add(e, e->xset[a], sx);
    for (a = 0; a < n_moved; a++) {
        const int32_t xa = e->xset[a], c = e->site[xa].cls;
        for (q = e->ia.cint_ptr[c]; q < e->ia.cint_ptr[c + 1]; q++) {
            x = xa + e->ia.cint_off[q];
            if (sset_add(e, x, sx)) {
                e->xset[nx++] = x;
                if (e->prefetch) {
                    KMC_PREFETCH(e->site + x);
                    KMC_PREFETCH_W(e->ia.phi + x);
                }
            }
        }
        if (e->ia.n_cl > 0) {
            for (q = e->ia.cnb_ptr[e->xset[a]]; q < e->ia.cnb_ptr[e->xset[a] + 1]; q++) {
                x = e->ia.cnb[q];
                if (sset_add(e, x, sx)) {
                    e->xset[nx++] = x;
                }
            }
        }
    }
    /* on a large system the fields below read the records of X's interaction neighbours,
     * scattered over the box: start those misses together (timing only) */
    for (a = n_moved; a < nx && e->prefetch; a++) {
        const int32_t xa = e->xset[a], c = e->site[xa].cls;
        for (q = e->ia.cint_ptr[c]; q < e->ia.cint_ptr[c + 1]; q++) KMC_PREFETCH(e->site + xa + e->ia.cint_off[q]);
    }
    for (a = 0; a < nx; a++) e->ia.phi[e->xset[a]] = site_phi(e, e->xset[a]);
    if (e->ia.n_cl > 0)
        for (a = 0; a < nx; a++) e->ia.psi[e->xset[a]] = site_psi(e, e->xset[a]);
    return nx;
}

/* Start the misses of evaluating the rates of site s (timing only): the fields of its
 * destinations. */
KMC_PRIVATE void ia_prefetch_rates(const kmc_engine *e, int32_t s)
{
    const kmc_class *c = e->cls + e->site[s].cls;
    const kmc_chop *ch = e->chop + c->hop;
    int32_t k;
    for (k = 0; k < c->deg; k++) KMC_PREFETCH(e->ia.phi + s + ch[k].doff);
}

/* To R = rset[0..nr) (the site set of the current stamp) add the sources of the hops whose
 * environment holds one of the moved sites xset[0..n_moved), each once (with local models;
 * nothing without); returns |R|. */
KMC_PRIVATE int32_t ia_dependents(kmc_engine *e, int32_t n_moved, int32_t nr)
{
    const uint32_t sr = e->stamp_now;
    int32_t a, q;
    if (e->ia.n_lm == 0) return nr;
    for (a = 0; a < n_moved; a++) {
        const int32_t x = e->xset[a], c = e->site[x].cls;
        for (q = e->ia.cdep_ptr[c]; q < e->ia.cdep_ptr[c + 1]; q++) {
            const int32_t t = x + e->ia.cdep_off[q];
            if (sset_add(e, t, sr)) {
                e->rset[nr++] = t;
            }
        }
    }
    return nr;
}

/* Change of the pair and cluster energy when the k moves src[m] -> dst[m] are made at once
 * (in the configuration before them): with dn the change of the occupation numbers,
 * dE = sum_s dn_s phi_s + sum_{s<t} J_st dn_s dn_t for the pairs, and for the clusters the
 * energy after minus before of every cluster holding a changed site (exact). */
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
    if (e->ia.n_cl > 0) {
        for (a = 0; a < ns; a++) {
            int32_t q;
            if (!dn[a]) continue;
            for (q = e->ia.scl_ptr[sites[a]]; q < e->ia.scl_ptr[sites[a] + 1]; q++) {
                const int32_t cl = e->ia.scl[q];
                int before = 1, after = 1, first = 1;
                int32_t r;
                for (r = e->ia.cl_ptr[cl]; r < e->ia.cl_ptr[cl + 1]; r++) {
                    const int32_t x = e->ia.cl_site[r];
                    int n0 = occ(e, x), d = 0;
                    for (w = 0; w < ns; w++) {
                        if (sites[w] == x) {
                            d = dn[w];
                            if (d && w < a) first = 0; /* counted at an earlier changed site */
                        }
                    }
                    before &= n0;
                    after &= n0 + d;
                }
                if (first) de += e->ia.cl_V[cl] * (double)(after - before);
            }
        }
    }
    return de;
}

/* The fields of every site from the site records' occupancy. */
KMC_PRIVATE void ia_rebuild(kmc_engine *e)
{
    int32_t s;
    for (s = 0; s < e->n_sites; s++) e->ia.phi[s] = site_phi(e, s);
    if (e->ia.n_cl > 0)
        for (s = 0; s < e->n_sites; s++) e->ia.psi[s] = site_psi(e, s);
}

/* Every field and every remembered rate recomputed and compared (the rates themselves are
 * compared by the solver, from ia_site_rate evaluated anew). */
KMC_PRIVATE int ia_check(kmc_engine *e)
{
    int32_t s;
    for (s = 0; s < e->n_sites; s++)
        CHECK(e->ia.phi[s] == site_phi(e, s), "interaction field of site %d is stale", (int)s);
    if (e->ia.n_cl > 0)
        for (s = 0; s < e->n_sites; s++)
            CHECK(e->ia.psi[s] == site_psi(e, s), "cluster field of site %d is stale", (int)s);
    if (e->ia.memo) { /* every remembered rate is the rate of its key */
        const int q = kmc_rate_memo_stale(e->ia.memo, &e->rp);
        CHECK(q < 0, "rate memo entry %d is stale", q);
    }
    return KMC_OK;
}

KMC_PRIVATE void ia_free(kmc_engine *e)
{
    free(e->ia.chd);
    free(e->ia.cint_ptr);
    free(e->ia.cint_off);
    free(e->ia.cint_J);
    free(e->ia.phi);
    free(e->ia.memo);
    free(e->ia.hop_ptr);
    free(e->ia.cl_ptr);
    free(e->ia.cl_site);
    free(e->ia.cl_V);
    free(e->ia.scl_ptr);
    free(e->ia.scl);
    free(e->ia.cnb_ptr);
    free(e->ia.cnb);
    free(e->ia.hsh_ptr);
    free(e->ia.hsh);
    free(e->ia.psi);
    free(e->ia.lm_e0);
    free(e->ia.lm_phi);
    free(e->ia.lm_K);
    free(e->ia.lm_tptr);
    free(e->ia.lm_tpos);
    free(e->ia.smod);
    free(e->ia.mtab);
    free(e->ia.cenv_ptr);
    free(e->ia.cenv_off);
    free(e->ia.cdep_ptr);
    free(e->ia.cdep_off);
    free(e->ia.lm_tab);
    free(e->ia.lm_toff);
    free(e->ia.lm_nb);
    memset(&e->ia, 0, sizeof(e->ia));
}
