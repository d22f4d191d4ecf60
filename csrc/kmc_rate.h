/*
 * kmc_rate.h - the rate laws: the one place where a barrier becomes a rate (private).
 *
 * A rate law gives the activation energy Ea (eV) of a hop or multi-ion event from its KRA
 * barrier E_kra and its energy change dE (both eV); the rate is k = nu exp(-Ea / kB T).
 * Every rate the engine uses comes from kmc_rate() or kmc_rate_memo() below (and
 * kmc_rate_Hz() gives Python the same function), so the law is chosen per engine
 * (kmc_params.rate_law) and evaluated in exactly one way: same bits everywhere.
 *
 * Laws (kmc_rate_law in kmc_engine.h; the names are kmc._engine.RATE_LAWS):
 *   KMC_RATE_KRA "kra": Ea = max(E_kra + dE/2, 0, dE). Obeys detailed balance exactly.
 *   KMC_RATE_KMCPY "kmcpy": Ea = E_kra + dE/2, not clamped: a hop far enough downhill
 *     has Ea < 0 and a rate above nu. This is kMCpy's barrier (kmcpy/event.py,
 *     Event.set_probability: barrier = ekra + direction * esite / 2, probability =
 *     v exp(-barrier / kT); read at caneparesearch/kMCpy commit 07a72e6). It obeys detailed
 *     balance exactly too: k(dE) / k(-dE) = exp(-dE / kB T) for every dE.
 *
 * Adding a law is two edits:
 *   1. kmc_engine.h: its value in enum kmc_rate_law, before KMC_N_RATE_LAWS (values are
 *      consecutive from 0: the value is its index in kmc._engine.RATE_LAWS);
 *   2. here: its function `static inline double kmc_ea_<law>(double ekra, double de)`
 *      returning Ea in eV, and its line in KMC_RATE_LAWS below:
 *          X(KMC_RATE_<LAW>, "<law>", kmc_ea_<law>)
 * Validation (kmc_engine_create refuses other values), the engine's evaluations, the memo
 * and its check, kmc_rate_law_name() and kmc._engine (RATE_LAWS, rate_Hz, Engine's
 * rate_law keyword) follow from the list; a mismatch between the list and the enum fails
 * to compile (below).
 *
 * The memo: the interacting mode re-evaluates dozens of rates per hop, which often take
 * few values (uniform barriers and J), so a direct-mapped table remembers rates by the bits
 * of their inputs (kmc_rate_key): a hit returns the same bits without exp(). Rates that
 * will depend on more inputs (a later issue) widen kmc_rate_key and the three key
 * functions; nothing else looks inside a key.
 */
#ifndef KMC_RATE_H
#define KMC_RATE_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kmc_engine.h"

/* ---- the laws ---- */

/* "kra": Ea = max(E_kra + dE/2, 0, dE) (eV). */
static inline double kmc_ea_kra(double ekra, double de)
{
    double ea = ekra + 0.5 * de;
    if (ea < 0.0) ea = 0.0;
    if (ea < de) ea = de;
    return ea;
}

/* "kmcpy": Ea = E_kra + dE/2 (eV), unclamped (kMCpy's barrier). */
static inline double kmc_ea_kmcpy(double ekra, double de)
{
    return ekra + 0.5 * de;
}

/* The list: X(enum value, name, activation-energy function), in enum order. */
#define KMC_RATE_LAWS(X)                    \
    X(KMC_RATE_KRA, "kra", kmc_ea_kra)      \
    X(KMC_RATE_KMCPY, "kmcpy", kmc_ea_kmcpy)

/* the list has exactly KMC_N_RATE_LAWS entries (a negative array size otherwise) */
#define KMC_RATE_COUNT_(id, name, fn) +1
typedef char kmc_rate_laws_match_the_enum[(0 KMC_RATE_LAWS(KMC_RATE_COUNT_)) == KMC_N_RATE_LAWS ? 1 : -1];
#undef KMC_RATE_COUNT_

/* Name of a law ("kra"), or NULL for a value that is none. */
static inline const char *kmc_rate_law_str(int law)
{
    switch (law) {
#define KMC_RATE_NAME_(id, name, fn) \
    case id: return name;
        KMC_RATE_LAWS(KMC_RATE_NAME_)
#undef KMC_RATE_NAME_
    default: return NULL;
    }
}

/* What a rate depends on besides E_kra and dE: the law, nu (Hz) and beta = 1/(kB T) (1/eV). */
typedef struct {
    int law; /* a kmc_rate_law (validated) */
    double nu, beta;
} kmc_rate_params;

static inline kmc_rate_params kmc_rate_params_make(int law, double temperature_K, double attempt_frequency_Hz)
{
    kmc_rate_params rp;
    rp.law = law;
    rp.nu = attempt_frequency_Hz;
    rp.beta = 1.0 / (KMC_KB_EV_PER_K * temperature_K);
    return rp;
}

/* Activation energy (eV) by the law. */
static inline double kmc_rate_ea(int law, double ekra, double de)
{
    switch (law) {
#define KMC_RATE_EA_(id, name, fn) \
    case id: return fn(ekra, de);
        KMC_RATE_LAWS(KMC_RATE_EA_)
#undef KMC_RATE_EA_
    default: return HUGE_VAL; /* not reached: the law is validated (rate 0) */
    }
}

/* The largest exponent -Ea / kB T of a rate: nu e^300 (about 1e130 nu) at most. Only
 * "kmcpy" can exceed it (Ea < 0): a hop more than 600 kB T + 2 E_kra downhill (16 eV at
 * 300 K), whose rate would otherwise overflow to inf and the total rate to nan. Rates that
 * large violate detailed balance by the cap; any smaller are exact. "kra" never reaches it
 * (Ea >= 0), so its rates are the same bits with or without the cap. */
#define KMC_RATE_MAX_EXPONENT 300.0

/* The rate (Hz) of a hop or event with KRA barrier ekra and energy change de (eV). */
static inline double kmc_rate(const kmc_rate_params *rp, double ekra, double de)
{
    double x = -rp->beta * kmc_rate_ea(rp->law, ekra, de);
    if (x > KMC_RATE_MAX_EXPONENT) x = KMC_RATE_MAX_EXPONENT;
    return rp->nu * exp(x);
}

/* ---- the memo ---- */

#define KMC_RATE_MEMO_BITS 10
#define KMC_RATE_MEMO_SIZE (1 << KMC_RATE_MEMO_BITS) /* entries */

/* The inputs of a rate, bit for bit (the engine's constants are not part of it). An empty
 * entry has all bits set (a NaN: never an input, which the engine validates finite). */
typedef struct {
    uint64_t ekra, de;
} kmc_rate_key;

typedef struct {
    kmc_rate_key key;
    double rate; /* Hz */
} kmc_rate_memo_entry;

static inline kmc_rate_key kmc_rate_key_of(double ekra, double de)
{
    kmc_rate_key k;
    memcpy(&k.ekra, &ekra, sizeof(k.ekra));
    memcpy(&k.de, &de, sizeof(k.de));
    return k;
}

static inline size_t kmc_rate_key_slot(kmc_rate_key k)
{
    return (size_t)(((k.ekra * UINT64_C(0x9E3779B97F4A7C15)) ^ (k.de * UINT64_C(0xC2B2AE3D27D4EB4F))) >>
                    (64 - KMC_RATE_MEMO_BITS));
}

static inline int kmc_rate_key_equal(kmc_rate_key a, kmc_rate_key b) { return a.ekra == b.ekra && a.de == b.de; }

static inline int kmc_rate_key_empty(kmc_rate_key k) { return k.ekra == UINT64_MAX; }

/* The rate of a key, evaluated anew. */
static inline double kmc_rate_of_key(const kmc_rate_params *rp, kmc_rate_key k)
{
    double ekra, de;
    memcpy(&ekra, &k.ekra, sizeof(ekra));
    memcpy(&de, &k.de, sizeof(de));
    return kmc_rate(rp, ekra, de);
}

/* Mark every entry of memo[KMC_RATE_MEMO_SIZE] empty. */
static inline void kmc_rate_memo_clear(kmc_rate_memo_entry *memo)
{
    memset(memo, 0xff, KMC_RATE_MEMO_SIZE * sizeof(kmc_rate_memo_entry));
}

/* kmc_rate() through the memo: the same bits, exp() only on a miss. */
static inline double kmc_rate_memo(kmc_rate_memo_entry *memo, const kmc_rate_params *rp, double ekra, double de)
{
    const kmc_rate_key k = kmc_rate_key_of(ekra, de);
    kmc_rate_memo_entry *m = memo + kmc_rate_key_slot(k);
    if (!kmc_rate_key_equal(m->key, k)) {
        m->key = k;
        m->rate = kmc_rate(rp, ekra, de);
    }
    return m->rate;
}

/* The first entry whose rate is not the rate of its key (bit for bit), or -1 if none. */
static inline int kmc_rate_memo_stale(const kmc_rate_memo_entry *memo, const kmc_rate_params *rp)
{
    int q;
    for (q = 0; q < KMC_RATE_MEMO_SIZE; q++) {
        const kmc_rate_memo_entry *m = memo + q;
        double r;
        if (kmc_rate_key_empty(m->key)) continue;
        r = kmc_rate_of_key(rp, m->key);
        if (memcmp(&r, &m->rate, sizeof(r)) != 0) return q;
    }
    return -1;
}

#endif /* KMC_RATE_H */
