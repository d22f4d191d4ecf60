"""Multi-ion events in the engine: detailed balance, bound pairs (Haven ratio 1/2),
interstitialcy bookkeeping, and events off = the single-hop engine, bit for bit."""

import itertools
import math

import numpy as np
import pytest
from scipy.constants import e as E_C
from scipy.constants import k as KB_J

import kmc
from kmc.analysis import BlockData, transport
from kmc.builders import build_lattice, periodic_network
from kmc.constants import default_equilibration
from kmc.mechanisms import EventSet, concerted_events, interstitialcy_events

KB_EV = KB_J / E_C
K_SIGMA = 3.0


def assert_close(value, err, expected, *, what=""):
    """|value - expected| <= K_SIGMA * err."""
    assert math.isfinite(value) and math.isfinite(err) and err > 0, (what, value, err)
    assert abs(value - expected) <= K_SIGMA * err, (
        f"{what}: {value:.6g} +/- {err:.2g} vs exact {expected:.6g} "
        f"({abs(value - expected) / err:.1f} sigma)")


# --------------------------------------------------------------------------------------
# events off: exactly the single-hop engine
# --------------------------------------------------------------------------------------
# Recorded with the engine before multi-ion events existed (commit c6753ba), one case per
# engine mode: integer counting, float sum tree (site energies), pair interactions.
GOLDEN = {
    "sc_gas": (8.010052394667635e-07, 1.0413823900121022e-06, 0.8840355624275222, 49153,
               1.6274425381634355e-07),
    "sc_energies": (4.063456938760252e-07, 6.672048601122274e-07, 0.7913873612119955, 48185,
                    5.414061973305853e-07),
    "sc_pairs": (3.4718918357541577e-07, 4.1464906231926293e-07, 0.6892933574352261, 48129,
                 5.512678384684081e-07),
}


# the engine mode each case ran in (the automatic choice now picks uniformization for
# the lattice gas, which draws other random numbers)
GOLDEN_MODE = {"sc_gas": "count", "sc_energies": "tree", "sc_pairs": "auto"}


def _golden_network(case):
    if case == "sc_gas":
        return build_lattice("sc", size=5)
    rng = np.random.default_rng(5)
    net = build_lattice("sc", size=4)
    net = net.replace(site_energies_eV=rng.uniform(-0.1, 0.1, net.n_sites))
    if case == "sc_energies":
        return net
    fwd = net.hop_src < net.hop_dst
    return build_lattice("sc", size=4).replace(  # pairs on the plain lattice
        pair_i=net.hop_src[fwd], pair_j=net.hop_dst[fwd],
        pair_energies_eV=rng.uniform(-0.05, 0.1, int(fwd.sum())))


@pytest.mark.parametrize("case", sorted(GOLDEN))
@pytest.mark.parametrize("with_empty_events", [False, True])
def test_events_off_reproduce_the_single_hop_engine(case, with_empty_events):
    net = _golden_network(case)
    if with_empty_events:
        net = net.with_events(EventSet.empty())
    mode = GOLDEN_MODE[case]
    sim = kmc.Simulation(net, 400, occupancy=0.4, seed=123, engine_mode=mode)
    t, hops, time_s = _as_recorded(sim, 50_000, 10)
    got = (t.D_tracer_cm2_s, t.D_sigma_cm2_s, t.correlation_factor, hops, time_s)
    assert got == GOLDEN[case] and sim.engine.mode == (mode if mode != "auto" else "tree")
    res = sim.run(5_000, blocks=5)  # and the run's counts, events off
    assert res.event_counts == res.hop_type_counts
    assert res.event_counts == res.hop_type_counts


def _as_recorded(sim, steps, blocks):
    """Drive the engine as Simulation.run did when the golden values were recorded: steps/10
    hops of equilibration, then `blocks` blocks of equal simulated time (steps / blocks
    hops at the equilibration's mean rate), the engine stopped only at the block ends
    (a run now also stops at its MSD snapshots, which draws other random numbers); the
    estimates from the blocks, the production's hops and simulated time (s)."""
    eng = sim.engine
    eng.run(default_equilibration(steps))
    rate = eng.steps / eng.time_s
    tau, t0, s0 = steps / blocks / rate, eng.time_s, eng.steps
    rows = {k: [] for k in ("duration_s", "tracer_sq_A2", "collective_A", "jump_sq_A2",
                            "hops")}
    disp0, jsq0, tb, sb = *eng.displacements(), t0, s0
    for b in range(blocks):
        eng.run(10**9, t0 + (b + 1) * tau)
        disp, jsq = eng.displacements()
        dr = disp - disp0
        rows["duration_s"].append(eng.time_s - tb)
        rows["tracer_sq_A2"].append(dr.T @ dr)
        rows["collective_A"].append(np.einsum("ij->j", dr))
        rows["jump_sq_A2"].append(float((jsq - jsq0).sum()))
        rows["hops"].append(eng.steps - sb)
        disp0, jsq0, tb, sb = disp, jsq, eng.time_s, eng.steps
    net = sim.network
    est = transport(BlockData(**{k: np.array(v) for k, v in rows.items()}),
                    n_ions=sim.n_ions, volume_A3=net.volume_A3,
                    temperature_K=sim.temperature_K, charge_e=net.charge_e,
                    dimensionality=net.dimensionality)
    return est, eng.steps - s0, eng.time_s - t0


# Recorded with the engine that stored every move's vector (commit 57105f4); the engine
# now shares the vectors among the events of a class and must give the same trajectory.
GOLDEN_EVENTS = {
    "energies": (8.884627880304044e-11, 20000, (15998, 2715), (1287,),
                 (37341.0, 156.0, -16113.0), 372852.0),
    "pairs": (1.337478987649516e-10, 20000, (15853, 2459), (1688,),
              (34008.0, 3.0, -15660.0), 366939.0),
}


@pytest.mark.parametrize("case", sorted(GOLDEN_EVENTS))
def test_event_trajectory_is_unchanged(case):
    """Hops plus bent 2-ion and straight 3-ion strings, random site energies, a field
    (and pair interactions): a fixed-seed trajectory bit for bit."""
    from kmc.simulation import engine_for

    rng = np.random.default_rng(7)
    net = build_lattice("sc", size=5, barrier_eV=0.2)
    net = net.replace(site_energies_eV=rng.uniform(-0.08, 0.08, net.n_sites))
    if case == "pairs":
        fwd = net.hop_src < net.hop_dst
        net = net.replace(pair_i=net.hop_src[fwd], pair_j=net.hop_dst[fwd],
                          pair_energies_eV=rng.uniform(-0.04, 0.08, int(fwd.sum())))
    net = net.with_events(concerted_events(net, 2, 0.12),
                          concerted_events(net, 3, 0.1, max_turn_deg=0))
    sites = np.random.default_rng(3).choice(net.n_sites, 44, replace=False).astype(np.int32)
    eng = engine_for(net, sites, temperature_K=500, field_V_per_angstrom=(0.02, 0.0, -0.01),
                     seed=11)
    eng.run(20_000)
    st = eng.get_state()
    got = (st["time_s"], st["steps"], tuple(int(x) for x in st["event_counts"]),
           tuple(int(x) for x in st["type_counts"]),
           tuple(float(x) for x in st["total_displacement"]), float(st["jump_sq"].sum()))
    assert got == GOLDEN_EVENTS[case]
    eng.check()  # rates and sum trees agree with a recomputation from scratch


# --------------------------------------------------------------------------------------
# detailed balance with multi-ion events
# --------------------------------------------------------------------------------------
def _event_network(seed, interactions):
    rng = np.random.default_rng(seed)
    net = build_lattice("sc", size=3, barrier_eV=0.2)
    net = net.replace(site_energies_eV=rng.uniform(-0.08, 0.08, net.n_sites))
    if interactions:
        fwd = net.hop_src < net.hop_dst
        net = net.replace(pair_i=net.hop_src[fwd], pair_j=net.hop_dst[fwd],
                          pair_energies_eV=rng.uniform(-0.04, 0.08, int(fwd.sum())))
    return net.with_events(concerted_events(net, 2, 0.12), concerted_events(net, 3, 0.1))


def _exact_occupancy(net, n, T):
    beta = 1.0 / (KB_EV * T)
    weights, occs = [], []
    for conf in itertools.combinations(range(net.n_sites), n):
        o = np.zeros(net.n_sites)
        o[list(conf)] = 1
        E = net.site_energies_eV @ o
        if net.n_pairs:
            E += np.sum(net.pair_energies_eV * o[net.pair_i] * o[net.pair_j])
        weights.append(math.exp(-beta * E))
        occs.append(o)
    weights = np.array(weights) / sum(weights)
    return weights @ np.array(occs)


@pytest.mark.parametrize("interactions", [False, True])
def test_detailed_balance_with_multi_ion_events(interactions):
    """Hops plus concerted 2- and 3-ion strings (bent ones too) on a small sc network with
    random site energies (and pair interactions): every site's time-averaged occupancy
    matches the exact Boltzmann average over all configurations."""
    T, n = 500.0, 3
    net = _event_network(4, interactions)
    exact = _exact_occupancy(net, n, T)
    sim = kmc.Simulation(net, T, n_ions=n, seed=8)
    batches = np.array([kmc.occupancy_statistics(sim, 30_000, samples=300, equilibration=2000)
                        for _ in range(12)])
    mean = batches.mean(axis=0)
    err = batches.std(axis=0, ddof=1) / math.sqrt(len(batches))
    for s in range(net.n_sites):
        assert_close(mean[s], err[s], exact[s], what=f"site {s} occupancy")
    assert np.ptp(exact) > 10 * err.max()  # the energies matter, so the test can fail
    counts = sim.engine.get_state()["event_counts"]
    assert counts.shape == (2,) and counts.min() > 1000  # the events did fire
    sim.engine.check()


def test_events_only_detailed_balance_in_a_connected_sector():
    """Only concerted pair moves, two ions: the pair's configurations form one ergodic
    sector (the two ions stay neighbours), where occupancies are Boltzmann too."""
    T = 500.0
    rng = np.random.default_rng(2)
    net = build_lattice("sc", size=3, barrier_eV=0.2)
    net = net.replace(site_energies_eV=rng.uniform(-0.08, 0.08, net.n_sites))
    net = net.with_events(concerted_events(net, 2, 0.15), keep_hops=False)
    beta = 1.0 / (KB_EV * T)
    # the sector: both ions on the two ends of one hop
    pairs = {tuple(sorted(p)) for p in zip(build_lattice("sc", size=3).hop_src.tolist(),
                                           build_lattice("sc", size=3).hop_dst.tolist())}
    exact = np.zeros(net.n_sites)
    Z = 0.0
    for a, b in pairs:
        w = math.exp(-beta * (net.site_energies_eV[a] + net.site_energies_eV[b]))
        exact[[a, b]] += w
        Z += w
    exact /= Z
    start = next(iter(sorted(pairs)))
    sim = kmc.Simulation(net, T, ion_sites=np.array(start, dtype=np.int32), seed=3)
    eng = sim.engine
    eng.run(1000)

    def residence_average(n_events):  # the exact time average, event by event
        occ = np.zeros(net.n_sites)
        t0 = eng.time_s
        for _ in range(n_events):
            sites, t = eng.get_state()["ion_site"], eng.time_s
            eng.run(1)
            occ[sites] += eng.time_s - t
        return occ / (eng.time_s - t0)

    batches = np.array([residence_average(4000) for _ in range(12)])
    mean = batches.mean(axis=0)
    err = batches.std(axis=0, ddof=1) / math.sqrt(len(batches))
    for s in range(net.n_sites):
        assert_close(mean[s], err[s], exact[s], what=f"site {s} occupancy")
    sim.engine.check()


# --------------------------------------------------------------------------------------
# bound pairs: D_sigma = 2 D*
# --------------------------------------------------------------------------------------
def test_bound_pair_haven_ratio_is_one_half():
    """Two neighbouring ions that can only move together (concerted pair strings, single
    hops off) and meet nobody else: each event moves both, their displacements differ by a
    bounded amount, so |dr_1 + dr_2|^2 -> 4 |dr|^2 and D_sigma = 2 D*, H_R = 1/2."""
    sc = build_lattice("sc", size=10, barrier_eV=0.3)
    net = sc.with_events(concerted_events(sc, 2, 0.2), keep_hops=False)
    assert net.n_hops == 0 and net.dimensionality == 3
    sim = kmc.Simulation(net, 400, ion_sites=np.array([0, 1], dtype=np.int32), seed=5)
    res = sim.run(400_000, blocks=200)
    # The pair's separation changes by |delta| <= 2a within a block, so H_R exceeds 1/2 by
    # about |delta|^2 / (8 MSD_block) <= a^2 / (2 MSD_block): a finite-block allowance.
    msd_block = float(np.trace(res.blocks.tracer_sq_A2, axis1=1, axis2=2).mean()) / 2
    allowance = 3.0**2 / (2 * msd_block)
    assert abs(res.haven_ratio - 0.5) <= K_SIGMA * res.haven_ratio_err + allowance, (
        res.haven_ratio, res.haven_ratio_err, allowance)
    assert allowance < 0.01  # the blocks are long enough for the test to mean something
    state = sim.engine.get_state()
    assert state["ion_hops"][0] == state["ion_hops"][1] == sim.engine.steps  # always together
    assert res.event_counts == {"hop": 0, "concerted2": res.hops}
    assert res.displacement_share == {"hop": 0.0, "concerted2": 1.0}
    assert not any("dimensionality" in w for w in res.warnings)
    # the summary lists what fired and names the types that never did (no "hop 0 (0 %)")
    line = next(x for x in res.summary().splitlines() if "events fired" in x)
    assert line.endswith(f"concerted2 {res.hops} (100 %); never fired: hop"), line


def test_haven_ratio_drops_as_concerted_events_dominate():
    sc = build_lattice("sc", size=6, barrier_eV=0.3)
    T = 500.0

    def haven(net):
        res = kmc.Simulation(net, T, occupancy=0.3, seed=7).run(400_000, blocks=200)
        return res

    plain = haven(sc)
    mixed = haven(sc.with_events(concerted_events(sc, 2, 0.15, max_turn_deg=0.0)))
    assert mixed.event_counts["concerted2"] > mixed.event_counts["hop"]  # concerted dominate
    assert mixed.displacement_share["concerted2"] > 0.5
    gap = plain.haven_ratio - mixed.haven_ratio
    assert gap > K_SIGMA * math.hypot(plain.haven_ratio_err, mixed.haven_ratio_err)
    assert mixed.haven_ratio < 1.0


# --------------------------------------------------------------------------------------
# interstitialcy bookkeeping
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def interstitial_net():
    """Square lattice (a = 3 A, "L") with an interstitial ("I") at each cell centre; hops
    of 3/sqrt(2) A join only L and I sites; moves by interstitialcy only."""
    net = periodic_network(3.0 * np.eye(3), [[0, 0, 0], [0.5, 0.5, 0]], 4,
                           hop_axes=(True, True, False), site_type_names=("L", "I"),
                           basis_types=[0, 1], name="LI")
    return net.with_events(interstitialcy_events(net, "I", "L", 0.2), keep_hops=False)


def test_interstitialcy_moves_two_ions_by_their_own_vectors(interstitial_net):
    net = interstitial_net
    lattice = np.flatnonzero(net.site_types == 0)
    inter = np.flatnonzero(net.site_types == 1)
    ions = np.concatenate([lattice, inter[:1]]).astype(np.int32)  # one excess ion
    sim = kmc.Simulation(net, 600, ion_sites=ions, seed=1)
    eng = sim.engine
    moves = {}
    for e in range(net.n_events):
        src, dst, vec = net.events.moves(e)
        moves[(tuple(src), tuple(dst))] = vec
    for _ in range(200):
        before = eng.get_state()
        done, _ = eng.run(1)
        assert done == 1
        after = eng.get_state()
        changed = np.flatnonzero(np.any(after["displacement"] != before["displacement"],
                                        axis=1))
        assert changed.size == 2  # the pushing interstitial and the pushed lattice ion
        src = tuple(before["ion_site"][changed])
        dst = tuple(after["ion_site"][changed])
        # the event that fired, matched by its moves (in either order)
        key = next(k for k in moves if sorted(zip(*k)) == sorted(zip(src, dst)))
        vec = moves[key]
        for a, ion in enumerate(changed):
            m = list(key[0]).index(src[a])
            np.testing.assert_allclose(after["displacement"][ion] - before["displacement"][ion],
                                       vec[m], atol=1e-12)
        np.testing.assert_allclose(after["total_displacement"] - before["total_displacement"],
                                   vec.sum(axis=0), atol=1e-12)  # charge displacement = sum
        assert after["event_counts"][0] == before["event_counts"][0] + 1
        # exactly one ion is interstitial before and after
        assert np.count_nonzero(net.site_types[after["ion_site"]] == 1) == 1
    eng.check()


def test_interstitialcy_tracer_and_collective_follow(interstitial_net):
    net = interstitial_net
    lattice = np.flatnonzero(net.site_types == 0)
    inter = np.flatnonzero(net.site_types == 1)
    ions = np.concatenate([lattice, inter[:1]]).astype(np.int32)
    sim = kmc.Simulation(net, 600, ion_sites=ions, seed=2)
    state0 = sim.engine.get_state()
    res = sim.run(20_000, blocks=20, equilibration=0)
    state1 = sim.engine.get_state()
    # every event moves two ions by 3/sqrt(2) A: 2 * 4.5 A^2 of squared jumps per event
    assert res.blocks.jump_sq_A2.sum() == pytest.approx(9.0 * res.hops, rel=1e-12)
    assert int((state1["ion_hops"] - state0["ion_hops"]).sum()) == 2 * res.hops
    np.testing.assert_allclose(res.blocks.collective_A.sum(axis=0),
                               state1["total_displacement"] - state0["total_displacement"],
                               atol=1e-9)
    assert res.dimensionality == 2 and res.D_tracer_cm2_s > 0 and res.D_sigma_cm2_s > 0
    assert res.event_counts == {"hop": 0, "interstitialcy": res.hops}


def test_events_checkpoint_and_resume_bit_identical(tmp_path):
    net = _event_network(1, interactions=True)
    whole = kmc.Simulation(net, 500, n_ions=6, seed=4).run(40_000, blocks=10)
    sim = kmc.Simulation(net, 500, n_ions=6, seed=4)
    seen = [0]

    def progress(n):
        seen[0] += n
        if seen[0] > 20_000:
            sim.request_stop()

    part = sim.run(40_000, blocks=10, output=tmp_path / "r.h5", progress=progress)
    assert part.interrupted
    back = kmc.resume(tmp_path / "r.h5")
    a, b = whole.to_dict(), back.to_dict()
    for d in (a, b):
        d.pop("wall_s"), d.pop("hops_per_s")
    assert a == b and a["event_counts"]["concerted2"] > 0
    loaded = kmc.load(tmp_path / "r.h5")
    assert loaded.network_name == whole.network_name
    assert kmc.io.read_run(tmp_path / "r.h5").network().n_events == net.n_events


def test_bad_event_networks_are_refused():
    sc = build_lattice("sc", size=3)
    ev = concerted_events(sc, 2, 0.1)
    with pytest.raises(kmc.ConfigError, match="also a hop type name"):
        sc.with_events(EventSet(ev.ptr, ev.src, ev.dst, ev.vectors, ev.barriers_eV, ev.types,
                                ("hop",)))
    with pytest.raises(kmc.ConfigError, match="give every event array or none"):
        kmc.SiteNetwork(sc.cell, sc.positions, sc.hop_src, sc.hop_dst, sc.hop_vectors,
                        sc.hop_barriers_eV, event_ptr=ev.ptr)
    one_way = EventSet(ev.ptr[:2], ev.src[:2], ev.dst[:2], ev.vectors[:2], ev.barriers_eV[:1],
                       ev.types[:1], ev.type_names)
    with pytest.raises(kmc.ConfigError, match="reverse"):
        sc.with_events(one_way)


def test_cli_mechanisms_and_event_counts(tmp_path, capsys):
    import json

    from kmc.cli import main

    args = ["run", "sc", "--size", "5", "--occupancy", "0.3", "-T", "500", "--steps", "30000",
            "--blocks", "10", "--seed", "2", "--mechanisms", "hop,concerted2",
            "--barrier-concerted2", "0.2", "--json", "--quiet"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["event_counts"]) == {"hop", "concerted2"}
    assert sum(out["event_counts"].values()) == out["hops"]
    assert out["event_counts"]["concerted2"] > 0
    assert sum(out["displacement_share"].values()) == pytest.approx(1.0)
    # the same from a config file
    cfg = tmp_path / "c.toml"
    cfg.write_text('lattice = "sc"\nsize = 5\noccupancy = 0.3\ntemperature = 500\n'
                   'steps = 30000\nblocks = 10\nseed = 2\nmechanisms = ["hop", "concerted2"]\n'
                   "barrier_concerted2 = 0.2\njson = true\nquiet = true\n")
    assert main(["run", str(cfg)]) == 0
    again = json.loads(capsys.readouterr().out)
    for d in (out, again):
        d.pop("wall_s"), d.pop("hops_per_s")
    assert again == out
    for bad, match in ((["--mechanisms", "hop,concerted5"], "did you mean 'concerted4'"),
                       (["--mechanisms", "hop,concerted3"], "--barrier-concerted3"),
                       (["--mechanisms", "interstitialcy", "--barrier-interstitialcy", "0.1"],
                        "needs interstitial sites"),
                       (["--mechanisms", "hop,hop"], "twice"),
                       (["--barrier-concerted2", "-1"], "must be >= 0")):
        assert main(["run", "sc", "--quiet", *bad]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and match in err, err


def test_blocked_sites_are_removed_and_immobile_neighbours_fold_into_energies():
    """Blocking a site removes it with its hops, events and pairs; the pair energy with an
    immobile neighbour becomes a site-energy offset, so occupancies of the other sites are
    those of the full network with an ion pinned on the blocked site."""
    rng = np.random.default_rng(3)
    net = build_lattice("sc", size=3, barrier_eV=0.2)
    fwd = net.hop_src < net.hop_dst
    net = net.replace(site_energies_eV=rng.uniform(-0.05, 0.05, net.n_sites),
                      pair_i=net.hop_src[fwd], pair_j=net.hop_dst[fwd],
                      pair_energies_eV=rng.uniform(0.0, 0.08, int(fwd.sum())))
    net = net.with_events(concerted_events(net, 2, 0.15, max_turn_deg=0.0))
    blocked = net.block_sites([0])
    assert blocked.n_sites == 26 and blocked.n_hops == net.n_hops - 12
    assert blocked.n_events < net.n_events and blocked.n_events > 0
    blocked.events.validate_for(blocked)  # still closed under reversal
    # site energies: + J for the six neighbours of the blocked site
    nbrs = np.sort(net.hop_dst[net.hop_src == 0])
    for s in nbrs:
        pair = ((net.pair_i == 0) & (net.pair_j == s)) | ((net.pair_j == 0) & (net.pair_i == s))
        assert blocked.site_energies_eV[s - 1] == pytest.approx(
            net.site_energies_eV[s] + net.pair_energies_eV[pair].sum(), abs=1e-15)
    # equilibrium: 2 mobile ions on the blocked network = the full network with 3 ions, one
    # pinned on site 0 (exact enumeration of both)
    T = 500.0
    beta = 1.0 / (KB_EV * T)
    full = np.zeros(net.n_sites)
    Z = 0.0
    for conf in itertools.combinations(range(1, net.n_sites), 2):
        o = np.zeros(net.n_sites)
        o[[0, *conf]] = 1
        E = net.site_energies_eV @ o + np.sum(net.pair_energies_eV * o[net.pair_i]
                                              * o[net.pair_j])
        w = math.exp(-beta * E)
        full += w * o
        Z += w
    np.testing.assert_allclose(_exact_occupancy(blocked, 2, T), (full / Z)[1:], rtol=1e-9)
    with pytest.raises(kmc.ConfigError, match="sites.0. = 27 is out of range"):
        net.block_sites([27])
    with pytest.raises(kmc.ConfigError, match="no network"):
        net.block_sites(np.ones(27, dtype=bool))


# --------------------------------------------------------------------------------------
# move vectors kept as hop indices; the engine borrowing the event arrays
# --------------------------------------------------------------------------------------
def test_generated_events_keep_their_vectors_as_hop_indices():
    net = build_lattice("sc", size=4, barrier_eV=0.2)
    ev2, ev3 = concerted_events(net, 2, 0.12), concerted_events(net, 3, 0.1, max_turn_deg=0)
    for ev in (ev2, ev3):
        table, index = ev.vector_rows()
        assert index is not None and np.shares_memory(table, net._sym_hop_vectors)
        assert "vectors" not in ev.__dict__  # not gathered until asked for
        vec = ev.vectors  # gathered once, bit for bit the rows of the table
        assert ev.vectors is vec and not vec.flags.writeable
        assert np.array_equal(vec.view(np.uint64), table[index].view(np.uint64))
        s, d, v = ev.moves(3)
        assert np.array_equal(v, vec[ev.ptr[3]:ev.ptr[4]]) and not v.flags.writeable
    both = net.with_events(ev2, ev3)  # one table: the parts' indices concatenated
    table, index = both.events.vector_rows()
    assert np.shares_memory(table, net._sym_hop_vectors)
    assert index.size == ev2.n_moves + ev3.n_moves
    arrays = both.engine_arrays()
    assert arrays["ev_vec"] is table and arrays["ev_vidx"] is index
    assert np.array_equal(both.event_vectors, np.concatenate([ev2.vectors, ev3.vectors]))
    assert np.allclose(both.event_type_mean_sq_A2(), [2 * 9.0, 3 * 9.0])


@pytest.mark.parametrize("displaced", [False, True])
def test_engine_reads_table_vectors_and_borrowed_arrays_like_copies(displaced):
    """An engine given the vector table (ev_vidx) and the EventSet's read-only arrays (which
    it borrows) runs the same trajectory as one given per-move vectors and writeable copies:
    on a lattice (few distinct rows: the engine numbers the event classes from a table of
    them) and with displaced sites (1296 distinct rows, too many for that table: hashed)."""
    import pickle

    from kmc._engine import Engine

    rng = np.random.default_rng(5)
    net = build_lattice("sc", size=6 if displaced else 4, barrier_eV=0.2)
    if displaced:
        shift = rng.normal(0.0, 0.05, net.positions.shape)
        net = net.replace(positions=net.positions + shift,
                          hop_vectors=net.hop_vectors + shift[net.hop_dst] - shift[net.hop_src])
        assert np.unique(net.hop_vectors, axis=0).shape[0] == net.n_hops == 1296
    net = net.replace(site_energies_eV=rng.uniform(-0.05, 0.05, net.n_sites))
    net = net.with_events(concerted_events(net, 2, 0.12))
    back = pickle.loads(pickle.dumps(net))  # the hop-index form survives a round trip
    assert back.engine_arrays()["ev_vidx"].tolist() == net.engine_arrays()["ev_vidx"].tolist()
    assert np.array_equal(back.event_vectors, net.event_vectors)
    kw = net.engine_arrays()
    assert "ev_vidx" in kw and not kw["ev_src"].flags.writeable
    assert kw["ev_ekra"].strides == (0,)  # one barrier for all events, not one per event
    copies = dict(kw, ev_vec=np.array(net.event_vectors), ev_ekra=np.array(kw["ev_ekra"]),
                  ev_ptr=np.array(kw["ev_ptr"]),
                  ev_src=np.array(kw["ev_src"]), ev_dst=np.array(kw["ev_dst"]))
    del copies["ev_vidx"]
    sites = rng.choice(net.n_sites, 20, replace=False).astype(np.int32)
    states = []
    for arrays in (kw, copies):
        eng = Engine(ion_sites=sites, **arrays, temperature_K=500,
                     attempt_frequency_Hz=1e13, seed=3)
        eng.run(20_000)
        eng.check()
        st = eng.get_state()
        states.append((eng.memory_bytes, st["time_s"], st["steps"],
                       st["event_counts"].tolist(), st["total_displacement"].tolist(),
                       st["ion_sites"].tolist() if "ion_sites" in st else None))
    (m_borrow, *a), (m_copy, *b) = states
    assert a == b and a[2][0] > 0
    assert m_copy - m_borrow == 4 * (net.n_events + 1) + 8 * net.events.n_moves  # not copied


def _layered_sc(L: int = 4):
    """sc L^3 whose sites are "A" on even z layers and "B" on odd ones."""
    net = build_lattice("sc", size=L, barrier_eV=0.3)
    z = np.rint(net.positions[:, 2] / net.cell[2, 2] * L).astype(int)
    return net.replace(site_types=(z % 2).astype(np.int32), site_type_names=("A", "B"))


def _dims(net, event_name):
    return (net.dimensionality, net.type_dimensionality([event_name]),
            net.type_dimensionality(net.hop_type_names),
            net.type_dimensionality([event_name, *net.hop_type_names]))


@pytest.mark.parametrize("keep_hops", [True, False])
def test_dimensionality_reads_generated_moves_by_their_rows(monkeypatch, keep_hops):
    """Generated events keep their moves as hop indices: dimensionality and
    type_dimensionality take them as those hops (with the hops kept) or as one edge per hop
    used (without them), gather no per-move vectors, and agree with the general path that
    adds every move as an edge."""
    from kmc.lattice import SiteNetwork
    net = _layered_sc()
    # strings within the A layers only: the events alone percolate in 2 dimensions
    ev = concerted_events(net, 2, 0.2, max_turn_deg=90, site_types="A", name="s")
    full = net.with_events(ev, keep_hops=keep_hops)
    assert full.events.vector_rows()[1] is not None  # no per-move vectors were made
    hops = full._event_move_hops()
    assert (hops is not None) == keep_hops
    if keep_hops:
        np.testing.assert_array_equal(full.hop_src[hops], full.event_src)
        np.testing.assert_array_equal(full.hop_dst[hops], full.event_dst)
    src, dst, img = full._event_row_edges()
    assert src.size == np.unique(full.events.vector_rows()[1]).size  # one edge per hop used
    fast = _dims(full, "s")
    assert fast == ((3, 2, 3, 3) if keep_hops else (2, 2, 0, 2))
    assert "vectors" not in full.events.__dict__  # still none
    monkeypatch.setattr(SiteNetwork, "_event_move_hops", lambda self: None)
    monkeypatch.setattr(SiteNetwork, "_event_row_edges", lambda self, moves=None: None)
    assert _dims(net.with_events(ev, keep_hops=keep_hops), "s") == fast


def test_moves_given_as_vectors_take_the_general_path():
    """Events with their own per-move vectors (user-made) are not read by rows: every move
    is an edge."""
    net = _layered_sc()
    ev = concerted_events(net, 2, 0.2, max_turn_deg=0, site_types="A", name="s")
    own = EventSet(ev.ptr, ev.src, ev.dst, np.array(ev.vectors), ev.barriers_eV, ev.types,
                   ev.type_names)
    for n in (net.with_events(own), net.with_events(own, keep_hops=False)):
        assert n._event_move_hops() is None and n._event_row_edges() is None
    only = net.with_events(own, keep_hops=False)
    assert only.dimensionality == 2 and only.type_dimensionality(["s"]) == 2


@pytest.mark.parametrize("keep_hops", [True, False])
def test_type_dimensionality_of_every_type_is_the_networks(monkeypatch, keep_hops):
    """All hop and event types together (types without members aside) are the whole
    network: its cached dimensionality, no second graph search; a subset is searched."""
    from kmc import lattice
    net = _layered_sc()
    ev = concerted_events(net, 2, 0.2, max_turn_deg=90, site_types="A", name="s")
    full = net.with_events(ev, keep_hops=keep_hops)
    d = full.dimensionality
    calls = []
    real = lattice.wrapping_dimension
    monkeypatch.setattr(lattice, "wrapping_dimension",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    assert full.type_dimensionality(["s", *full.hop_type_names]) == d
    if not keep_hops:  # no hops: the event type alone is every type with members
        assert full.type_dimensionality(["s"]) == d == 2
    assert calls == []
    assert full.type_dimensionality(full.hop_type_names) == (3 if keep_hops else 0)
    assert len(calls) == 1


def test_event_type_mean_sq_reads_table_rows_in_blocks(monkeypatch):
    """Events kept as table rows: the mean summed squared move length per type is that of
    the per-move vectors, bit for bit, in blocks of events of any size."""
    from kmc import lattice
    net = build_lattice("sc", size=5)
    ev = EventSet.concatenate(concerted_events(net, 2, 0.3, max_turn_deg=90),
                              concerted_events(net, 3, 0.3, max_turn_deg=0))
    rows = net.with_events(ev)
    own = net.with_events(EventSet(ev.ptr, ev.src, ev.dst, np.array(ev.vectors),
                                   ev.barriers_eV, ev.types, ev.type_names))
    want = own.event_type_mean_sq_A2()
    assert want.shape == (2,) and np.all(want > 0)
    for block in (7, 1000, 1 << 20):
        monkeypatch.setattr(lattice, "_EVENT_BLOCK", block)
        got = rows.event_type_mean_sq_A2()
        assert got.tobytes() == want.tobytes()
    assert "vectors" not in rows.events.__dict__
