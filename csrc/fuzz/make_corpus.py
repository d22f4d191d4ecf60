"""Write the seed corpus of csrc/fuzz/fuzz_engine.c (see its header for the byte format).

    python csrc/fuzz/make_corpus.py        # rewrites csrc/fuzz/corpus/*.bin

Small valid networks in every form and mode (CSR, pair interactions, multi-ion events as
lists and as templates, hop templates, pair interactions as templates;
auto/tree/count/uniform) and a few invalid ones (NaN energy, a broken reverse
hop, a bad CSR offset, an invalid mode or rate law, T < 0, two ions on a site, a hop slot
of an event template beyond the site's hops, an interaction template whose two ends
disagree or that leaves the box, an empty input).
The regression_* inputs crashed the engine before the fixes of the commit that added them
(see README.md). Files of corpus/ that this script does not write are inputs found by
fuzzing, kept as they were found.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")

INTERACT, EVENTS, TEMPLATES, RAW_IONS, CORRUPT, KEEP_CSR, RATE_LAW, ENERGY = 1, 2, 4, 8, 16, 32, 64, 128
NAN, INF, NEG_ONE = 213, 211, 203  # "param" bytes of SPECIAL[] (200 + index)


def raw(x):
    """A param holding the double x exactly."""
    return bytes([224]) + struct.pack("<d", x)


def chain(n, ring=False):
    """Hop pairs of a chain (or ring) of n sites: i, j, type, E_kra, vector."""
    m = n if ring else n - 1
    return [(i, (i + 1) % n, 0, 30, (148, 128, 128)) for i in range(m)]


def make(flags=0, n=8, n_types=1, T=58, nu=9, q=150, field=(100, 100, 100), mode=0, seed=1,
         steps=200, t_stop=0, energies=None, pairs=None, inter=(), events=None, ions=None,
         raw_ions=None, corruptions=(), rate_law=0, energy=b"", strings=None):
    b = bytearray([flags])
    for v in (T, nu, q, *field):
        b += v if isinstance(v, bytes) else bytes([v])
    b += bytes([mode])
    b += struct.pack("<Q", seed)
    b += bytes([(steps - 1) // 2])
    b += t_stop if isinstance(t_stop, bytes) else bytes([t_stop])
    b += bytes([(n - 1) % 48, (n_types - 1) % 4])
    b += bytes(energies if energies is not None else [128 + 5 * (i % 3) for i in range(n)])
    pairs = chain(n) if pairs is None else pairs
    b += bytes([len(pairs)])
    for i, j, t, e, v in pairs:
        b += bytes([i, j, t, e, *v])
    if flags & INTERACT:
        b += bytes([len(inter)])
        for i, j, J in inter:
            b += bytes([i, j, J])
    if flags & EVENTS:
        n_ev_types, evs = events
        b += bytes([n_ev_types - 1, len(evs)])
        for moves, e, t in evs:
            b += bytes([len(moves) - 1])
            for s, d, v in moves:
                b += bytes([s, d, *v])
            b += bytes([e, t])
        if strings is None:
            b += bytes([0])  # the events as lists
        else:  # as templates: (k, per site a list of (k slot choices, E_kra, type))
            k, per_site = strings
            b += bytes([1, k - 2])
            for site in per_site:
                b += bytes([len(site)])
                for choices, e, t in site:
                    b += bytes([*choices, e, t])
    if flags & ENERGY:
        b += energy
    if flags & RAW_IONS:
        b += bytes([len(raw_ions)])
        for s in raw_ions:
            b += struct.pack("<i", s)
    else:
        occ = ions if ions is not None else [i % 2 for i in range(n)]
        b += bytes(occ)
    if flags & CORRUPT:
        b += bytes([len(corruptions) - 1])
        for c in corruptions:
            b += bytes(c)
    if flags & RATE_LAW:
        b += bytes([rate_law])  # < 250: a valid law; 250..255: -1, KMC_N_RATE_LAWS, INT_MIN, ...
    return bytes(b)


def clusters_bytes(clusters, V=150):
    """The [flags & 128] block with clusters only (what & 1)."""
    b = bytes([1, len(clusters)])
    for c in clusters:
        b += bytes([len(c) - 2, *c, V])
    return b


def _models(n_hops, n_sites, lengths=None):
    """Two local models (points and a pair on 4 positions) and every hop's environment."""
    b = bytes([1])  # 2 models
    for e0, phi in ((60, (192, 64)), (0, (64, 192))):
        b += bytes([3, e0, *phi])  # 3 terms
        b += bytes([0, 0, 150]) + bytes([0, 1, 110]) + bytes([1, 2, 3, 140])
    for h in range(n_hops):
        ln = 4 if lengths is None else lengths[h]
        if lengths is not None:
            b += bytes([ln])
        b += bytes([(h + 2 + k) % n_sites for k in range(ln)]) + bytes([1 + h % 2, h % 3])
    return b


def local_bytes(n_sites, n_hops, short=False):
    """The [flags & 128] block with local models only (what & 2; what & 4: short
    environments, so that some models name positions a hop lacks)."""
    if short:
        return bytes([2 | 4]) + _models(n_hops, n_sites, [h % 5 for h in range(n_hops)])
    return bytes([2]) + _models(n_hops, n_sites)


def both_bytes(n_sites, n_hops, clusters):
    return bytes([3]) + clusters_bytes(clusters)[1:] + _models(n_hops, n_sites)


def corpus():
    square = [(i, j, 0, 25, (148 if j == i + 1 else 128, 128 if j == i + 1 else 148, 128))
              for i in range(16) for j in (i + 1, i + 4) if j < 16 and (j != i + 1 or (i + 1) % 4)]
    yield "chain_auto", make()
    yield "ring_tree_field", make(n=12, pairs=chain(12, ring=True), mode=1, field=(150, 100, 100), steps=400)
    yield "square_count", make(n=16, pairs=square, mode=2, n_types=2)
    yield "ring_uniform_dilute", make(n=20, pairs=chain(20, ring=True), mode=3,
                                      ions=[1 if i % 7 == 0 else 0 for i in range(20)])
    yield "interactions_tree", make(INTERACT, n=10, pairs=chain(10, ring=True), mode=1,
                                    inter=[(i, (i + 1) % 10, 128 + 10) for i in range(10)] + [(0, 5, 100)])
    yield "events_tree", make(EVENTS, n=10, pairs=chain(10),
                              events=(2, [([(0, 1, (148, 128, 128)), (2, 3, (148, 128, 128))], 40, 0),
                                          ([(5, 7, (168, 128, 128))], 20, 1)]))
    yield "templates_ring_auto", make(TEMPLATES, n=16, pairs=chain(16, ring=True), steps=500)
    # event templates: strings along the hops, per site (both ways round a ring, 2 and 3 ions)
    ring_strings = (2, [[((0, 0), 30, 0), ((1, 1), 30, 0)] for _ in range(12)])
    yield "event_templates_ring", make(EVENTS, n=12, pairs=chain(12, ring=True), steps=400,
                                       events=(1, []), strings=ring_strings)
    yield "event_templates_on_hop_templates", make(
        EVENTS | TEMPLATES, n=12, pairs=chain(12, ring=True), steps=400, events=(1, []),
        strings=ring_strings)
    yield "event_templates_square_k3", make(
        EVENTS, n=16, pairs=square, steps=400, events=(2, []),
        strings=(3, [[((i % 3, 1, 2), 25, i % 2), ((2, 0, 1), 35, 1)] for i in range(16)]))
    yield "templates_chain_count", make(TEMPLATES, n=9, mode=2)
    # pair interactions as templates (one template per hop and interaction list)
    ring_inter = [(i, (i + 1) % 12, 128 + 10) for i in range(12)] + [(i, (i + 3) % 12, 120) for i in range(12)]
    yield "interaction_templates_ring", make(INTERACT | TEMPLATES, n=12, pairs=chain(12, ring=True),
                                             steps=400, inter=ring_inter)
    yield "interaction_templates_chain_field", make(INTERACT | TEMPLATES, n=10, pairs=chain(10),
                                                    field=(150, 100, 100), inter=[(2, 3, 140), (0, 5, 100)])
    yield "short_t_stop", make(n=6, t_stop=raw(1e-13), steps=511)
    yield "huge_energies", make(CORRUPT, n=6, corruptions=[(6, 0, 208), (6, 1, 210), (6, 4, 209)])
    yield "rate_law_kra_events", make(RATE_LAW | EVENTS | INTERACT, n=10, pairs=chain(10), rate_law=0,
                                      inter=[(2, 3, 140)],
                                      events=(1, [([(0, 1, (148, 128, 128)), (2, 3, (148, 128, 128))], 40, 0)]))
    yield "rate_law_kmcpy_events", make(RATE_LAW | EVENTS | INTERACT, n=10, pairs=chain(10),
                                        rate_law=1, inter=[(2, 3, 140)],
                                        events=(1, [([(0, 1, (148, 128, 128)), (2, 3, (148, 128, 128))], 40, 0)]))
    yield "rate_law_kmcpy_downhill", make(RATE_LAW | CORRUPT, n=6, rate_law=1,
                                          corruptions=[(6, 0, 208), (6, 1, 210)])
    yield "clusters_tree", make(ENERGY | INTERACT, n=10, pairs=chain(10, ring=True),
                                inter=[(i, (i + 1) % 10, 140) for i in range(10)],
                                energy=clusters_bytes([(0, 1, 2), (3, 4, 5, 6), (7, 8), (2, 5, 9)]))
    yield "clusters_events", make(ENERGY | EVENTS, n=10, pairs=chain(10),
                                  events=(1, [([(0, 1, (148, 128, 128)), (2, 3, (148, 128, 128))], 40, 0)]),
                                  energy=clusters_bytes([(0, 2, 4), (1, 3, 5, 7)]))
    yield "local_models_kmcpy", make(ENERGY | RATE_LAW, n=12, pairs=chain(12, ring=True), rate_law=1,
                                     energy=local_bytes(12, 24))
    yield "local_models_and_clusters", make(ENERGY, n=12, pairs=chain(12, ring=True),
                                            energy=both_bytes(12, 24, [(0, 1, 2), (4, 6, 8, 10)]))
    yield "bad_local_model_position", make(ENERGY, n=8, energy=local_bytes(8, 14, short=True))
    # invalid inputs
    yield "bad_nan_energy", make(CORRUPT, corruptions=[(6, 3, NAN)])
    yield "bad_reverse", make(CORRUPT, corruptions=[(2, 4, 64 + 1)])
    yield "bad_hop_ptr", make(CORRUPT, n=4, corruptions=[(0, 1, 64 + 50)])
    yield "bad_mode", make(mode=251)
    yield "bad_rate_law_negative", make(RATE_LAW, rate_law=250)
    yield "bad_rate_law_huge", make(RATE_LAW | TEMPLATES, n=9, rate_law=253)
    yield "bad_temperature", make(T=NEG_ONE)
    yield "bad_templates_and_csr", make(TEMPLATES | KEEP_CSR, n=9, mode=2)
    yield "bad_two_ions_one_site", make(RAW_IONS, raw_ions=[2, 2, 5])
    yield "bad_null_site_energy", make(CORRUPT, corruptions=[(21, 6, 0)])
    yield "bad_event_template_slot", make(EVENTS | CORRUPT, n=12, pairs=chain(12, ring=True),
                                          events=(1, []), strings=ring_strings,
                                          corruptions=[(28, 6 * 3 + 1, 64 + 9)])
    yield "bad_interaction_template_J", make(INTERACT | TEMPLATES | CORRUPT, n=12,
                                             pairs=chain(12, ring=True), inter=ring_inter,
                                             corruptions=[(29, 2, 150)])
    yield "bad_interaction_template_doff", make(INTERACT | TEMPLATES | CORRUPT, n=12,
                                                pairs=chain(12, ring=True), inter=ring_inter,
                                                corruptions=[(29, 4 * 3 + 1, 64 + 40)])
    yield "empty", b""
    # regressions: CSR offsets that decrease later on were used before they were checked
    # (out-of-bounds reads of hop_dst, ev_src), a NULL int_J with interactions
    yield "regression_hop_ptr_decreasing", make(CORRUPT, n=3, pairs=[(0, 1, 0, 30, (148, 128, 128))],
                                                corruptions=[(0, 2, 64 + 50), (2, 0, 64 + 10)])
    yield "regression_ev_ptr_decreasing", make(CORRUPT | EVENTS, n=6, pairs=chain(6),
                                               events=(1, [([(0, 1, (148, 128, 128))], 40, 0)]),
                                               corruptions=[(13, 1, 64 + 4)])
    yield "regression_int_J_null", make(CORRUPT | INTERACT, n=6, pairs=chain(6),
                                        inter=[(0, 1, 140), (2, 3, 120)], corruptions=[(21, 9, 0)])


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    for name, data in corpus():
        with open(os.path.join(OUT, name + ".bin"), "wb") as f:
            f.write(data)
    print("wrote", len(list(corpus())), "inputs to", OUT)
