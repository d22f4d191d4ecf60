"""The C engine through its wrapper: invariants, determinism, checkpoints, bad arrays."""

import numpy as np
import pytest

import kmc
from kmc._engine import Engine
from kmc.builders import build_lattice


def engine_args(net, ions, **kw):
    args = dict(n_hop_types=len(net.hop_type_names), temperature_K=kw.pop("T", 300.0),
                attempt_frequency_Hz=1e13, charge_e=net.charge_e, seed=kw.pop("seed", 1))
    if net.has_interactions:
        ptr, nbr, J = net.interaction_csr()
        args.update(int_ptr=ptr, int_nbr=nbr, int_J=J, hop_J=net.hop_pair_energies_eV)
    args.update(kw)
    return (net.hop_ptr, net.hop_dst, net.hop_rev, net.hop_types, net.hop_vectors,
            net.hop_barriers_eV, net.site_energies_eV, ions), args


def make_engine(net, n_ions, seed=1, **kw):
    ions = np.random.default_rng(seed).choice(net.n_sites, n_ions, replace=False)
    pos, args = engine_args(net, ions, seed=seed, **kw)
    return Engine(*pos, **args)


@pytest.mark.parametrize("interactions", [False, True])
@pytest.mark.parametrize("field", [(0, 0, 0), (0.01, -0.02, 0.005)])
def test_invariants_after_every_chunk(random_network, interactions, field):
    """Sum tree = sum of rates, masks and fields fresh, ions conserved, time increasing,
    displacement = sum of hop vectors, after many moves on a disordered network."""
    net = random_network(3, interactions=interactions)
    eng = make_engine(net, 30, field_V_per_A=field)
    t_prev, total_prev = eng.time_s, eng.get_state()["total_displacement"]
    for _ in range(40):
        done, reason = eng.run(250)
        assert (done, reason) == (250, "steps")
        eng.check()
        st = eng.get_state()
        assert eng.time_s > t_prev
        t_prev = eng.time_s
        assert len(np.unique(st["ion_site"])) == 30
        np.testing.assert_allclose(st["displacement"].sum(axis=0), st["total_displacement"],
                                   atol=1e-9)
        assert st["ion_hops"].sum() == st["steps"] == st["type_counts"].sum()
    # every displacement is a sum of hop vectors: site + displacement is a lattice image
    st = eng.get_state()
    assert np.any(st["total_displacement"] != total_prev)


def test_unwrapped_displacement_consistent_with_positions():
    net = build_lattice("fcc", size=3)
    eng = make_engine(net, 20)
    start = eng.get_state()["ion_site"].copy()
    eng.run(5000)
    st = eng.get_state()
    end = net.positions[st["ion_site"]]
    frac = np.linalg.solve(net.cell.T, (end - net.positions[start] - st["displacement"]).T).T
    np.testing.assert_allclose(frac, np.rint(frac), atol=1e-8)
    # sum of squared jumps = hops * a^2/2 for fcc NN hops
    np.testing.assert_allclose(st["jump_sq"], st["ion_hops"] * 3.0**2 / 2, rtol=1e-12)


@pytest.mark.parametrize("mode", ["uniform", "count", "tree"])
def test_sum_of_squared_jumps_with_one_jump_length(mode):
    """With one jump length the engine derives each ion's sum of squared jumps from its hop
    count (hops write nothing); a state whose sums are not hops * a^2 must keep its values
    and add a^2 per later hop, in every mode."""
    net = build_lattice("sc", size=6, a=3.0)
    eng = make_engine(net, 40, mode=mode)
    assert eng.mode == mode
    eng.run(3000)
    st = eng.get_state()
    assert st["ion_hops"].sum() == 3000
    np.testing.assert_array_equal(st["jump_sq"], st["ion_hops"] * 9.0)  # exact: 9 is exact
    st["jump_sq"] = st["jump_sq"] + 0.25 * np.arange(40)  # not what any run gives
    eng.set_state(st)
    np.testing.assert_array_equal(eng.get_state()["jump_sq"], st["jump_sq"])
    eng.run(3000)
    st2 = eng.get_state()
    np.testing.assert_allclose(st2["jump_sq"],
                               st["jump_sq"] + 9.0 * (st2["ion_hops"] - st["ion_hops"]),
                               rtol=1e-15)
    np.testing.assert_array_equal(eng.displacements()[1], st2["jump_sq"])


@pytest.mark.parametrize("mode", ["uniform", "count", "tree"])
def test_sum_of_squared_jumps_with_several_jump_lengths(mode):
    """Jumps of different lengths (the argyrodite's geometry: five hop types, T5-T2 at two
    lengths 0.0006 A apart): every hop adds its own |jump|^2, and a state's sums are kept, in
    every mode (checked hop by hop). The material's pair exclusion and per-class barriers are
    stripped (uniform and count modes take neither): the test is about jump lengths."""
    from kmc.materials import build_material
    net = build_material("argyrodite").network
    net = net.replace(pair_i=None, pair_j=None, pair_energies_eV=None,
                      hop_barriers_eV=np.full(net.n_hops, 0.2),
                      site_energies_eV=np.zeros(net.n_sites))
    assert len(np.unique(np.round(np.einsum("ij,ij->i", net.hop_vectors, net.hop_vectors),
                                  9))) == 6
    eng = make_engine(net, 20, mode=mode)
    assert eng.mode == mode
    st0 = eng.get_state()
    st0["jump_sq"] = st0["jump_sq"] + 1.5
    eng.set_state(st0)
    sites = st0["ion_site"].copy()
    jsq = st0["jump_sq"].copy()
    lookup = {(int(a), int(b)): float(v @ v) for a, b, v in
              zip(np.repeat(np.arange(net.n_sites), np.diff(net.hop_ptr)), net.hop_dst,
                  net.hop_vectors)}
    for _ in range(300):  # one hop at a time: the ion that moved adds its jump
        eng.run(1)
        now = eng.get_state()["ion_site"]
        (a,) = np.flatnonzero(now != sites)
        jsq[a] += lookup[(int(sites[a]), int(now[a]))]
        sites = now.copy()
    np.testing.assert_allclose(eng.get_state()["jump_sq"], jsq, rtol=1e-12)


def test_interacting_rates_taking_few_values_are_remembered_exactly():
    """With uniform barriers and J the interacting mode remembers its few rates (a memo of
    1024 entries of 24 bytes) instead of calling exp() again; check() verifies every
    remembered rate against a fresh evaluation. With disordered energies the memo would
    mostly miss, so there is none."""
    net = build_lattice("sc", size=6, a=3.0, barrier_eV=0.3)
    fwd = net.hop_src < net.hop_dst
    uniform = net.replace(pair_i=net.hop_src[fwd], pair_j=net.hop_dst[fwd],
                          pair_energies_eV=np.full(int(fwd.sum()), 0.04))
    rng = np.random.default_rng(3)
    disordered = uniform.replace(site_energies_eV=rng.uniform(-0.05, 0.05, net.n_sites),
                                 pair_energies_eV=rng.uniform(0.0, 0.05, int(fwd.sum())))
    engines = [make_engine(n, 100, T=500.0, mode="tree") for n in (uniform, disordered)]
    assert [e.layout["rate_memo"] for e in engines] == [True, False]
    # the periodic lattice's sites share 27 classes (which hops wrap around the box), the
    # disordered energies give one per site
    assert [e.layout["n_site_classes"] for e in engines] == [27, net.n_sites]
    for eng in engines:
        for _ in range(20):
            assert eng.run(500) == (500, "steps")
            eng.check()


def test_same_seed_bit_identical_different_seed_differs(random_network):
    net = random_network(1)
    states = []
    for seed in (7, 7, 8):
        eng = make_engine(net, 25, seed=seed)
        eng.run(20_000)
        states.append(eng.get_state())
    for key in states[0]:
        np.testing.assert_array_equal(states[0][key], states[1][key])
    assert not np.array_equal(states[0]["displacement"], states[2]["displacement"])


@pytest.mark.parametrize("interactions", [False, True])
def test_checkpoint_restore_is_bit_identical(random_network, interactions):
    net = random_network(2, interactions=interactions)
    a = make_engine(net, 32, seed=3, field_V_per_A=(0.003, 0, 0))
    a.run(5000)
    saved = a.get_state()
    a.run(7000)
    a.run(3, t_stop=a.time_s + 1e-9)
    ref = a.get_state()
    b = make_engine(net, 32, seed=99, field_V_per_A=(0.003, 0, 0))  # different seed
    b.set_state(saved)
    b.check()
    b.run(7000)
    b.run(3, t_stop=b.time_s + 1e-9)
    got = b.get_state()
    for key in ref:
        np.testing.assert_array_equal(ref[key], got[key], err_msg=key)


def test_t_stop_sets_time_exactly_and_frozen_is_reported():
    net = build_lattice("sc", size=4)
    eng = make_engine(net, 10)
    done, reason = eng.run(10**9, t_stop=1e-6)
    assert reason == "time" and eng.time_s == 1e-6 and done > 0
    full = make_engine(net, net.n_sites)
    assert full.total_rate_Hz == 0
    assert full.run(100) == (0, "frozen")
    with pytest.raises(kmc.ConfigError, match="before the current time"):
        eng.run(10, t_stop=1e-7)


def test_residence_time_is_exponential():
    """Single-vacancy sc: the total rate is constant (6 Gamma), so the waiting times are
    Exp(6 Gamma); their mean and the KS statistic check dt = -ln(1-u)/R."""
    from scipy import stats

    net = build_lattice("sc", size=5)
    eng = make_engine(net, net.n_sites - 1)
    R = eng.total_rate_Hz
    times = []
    for _ in range(3000):
        t0 = eng.time_s
        eng.run(1)
        times.append(eng.time_s - t0)
    assert stats.kstest(np.array(times) * R, "expon").pvalue > 1e-3


def test_memory_is_linear_in_sites():
    small = make_engine(build_lattice("sc", size=10), 500)
    big = make_engine(build_lattice("sc", size=20), 4000)
    per_small, per_big = small.memory_bytes / 1000, big.memory_bytes / 8000
    assert per_big < 1.1 * per_small


@pytest.mark.parametrize(
    "change, match",
    [
        ({"temperature_K": -1.0}, "temperature_K"),
        ({"temperature_K": float("nan")}, "temperature_K"),
        ({"attempt_frequency_Hz": 0.0}, "attempt_frequency_Hz"),
        ({"charge_e": float("inf")}, "charge_e"),
        ({"field_V_per_A": (0, float("nan"), 0)}, "field"),
        ({"seed": -1}, "seed"),
        ({"seed": 2**64}, "seed"),
        ({"n_hop_types": 0}, "n_hop_types"),
    ],
)
def test_bad_parameters(sc_net, change, match):
    pos, args = engine_args(sc_net, np.arange(5))
    args.update(change)
    with pytest.raises(ValueError, match=match):
        Engine(*pos, **args)


def test_bad_arrays(sc_net):
    pos, args = engine_args(sc_net, np.arange(5))
    bad = list(pos)
    bad[1] = pos[1][:-1]  # hop_dst too short
    with pytest.raises(ValueError, match="shape"):
        Engine(*bad, **args)
    bad = list(pos)
    bad[7] = np.array([0, 0])  # two ions on one site
    with pytest.raises(ValueError, match="site 0"):
        Engine(*bad, **args)
    bad = list(pos)
    bad[7] = np.array([sc_net.n_sites])  # ion outside the network
    with pytest.raises(ValueError, match="outside"):
        Engine(*bad, **args)
    bad = list(pos)
    rev = pos[2].copy()
    rev[0] = rev[1]
    bad[2] = rev  # broken reverse-hop table
    with pytest.raises(ValueError, match="reverse"):
        Engine(*bad, **args)
    bad = list(pos)
    bad[3] = pos[3].astype(float)
    with pytest.raises(TypeError, match="hop_type"):
        Engine(*bad, **args)
    eng = Engine(*pos, **args)
    st = eng.get_state()
    st["ion_site"] = np.array([1, 1, 2, 3, 4])
    with pytest.raises(ValueError, match="two ions"):
        eng.set_state(st)
    eng.check()  # a refused state leaves the engine as it was


# --------------------------------------------------------------------------------------
# engine modes: the automatic choice, forced modes, uniformization's own paths
# --------------------------------------------------------------------------------------
def test_automatic_mode_choice(random_network):
    net = build_lattice("sc", size=6)
    assert make_engine(net, 100).mode == "uniform"          # lattice gas, acceptance 0.54
    assert make_engine(net, net.n_sites - 1).mode == "count"  # one vacancy: rejections
    assert make_engine(random_network(1), 20).mode == "tree"  # interactions
    for mode in ("tree", "count", "uniform"):
        eng = make_engine(net, 100, mode=mode)
        assert eng.mode == mode
        eng.run(2000)
        eng.check()


@pytest.mark.parametrize("mode, match", [
    ("fast", "mode = 'fast'"), ("uniform", "mode uniform needs"),
])
def test_forced_mode_errors(random_network, mode, match):
    with pytest.raises(kmc.ConfigError, match=match):
        make_engine(random_network(1), 20, mode=mode)


def test_uniform_mode_frozen_and_time():
    """Uniformization keeps no rate sums: a configuration where nothing can move is found
    after many rejections (the time of those attempts is undone), and t_stop is exact."""
    net = build_lattice("chain", size=6)
    blocked = net.block_sites([5])  # a chain of 5 sites, every site filled: nothing moves
    eng = make_engine(blocked, 5, mode="uniform")
    assert eng.total_rate_Hz == 0.0
    assert eng.run(100) == (0, "frozen") and eng.time_s == 0.0
    eng = make_engine(net, 3, mode="uniform")
    done, reason = eng.run(10**9, t_stop=1e-7)
    assert reason == "time" and eng.time_s == 1e-7 and done > 0
    assert eng.total_rate_Hz > 0


def test_uniform_mode_waiting_times_are_exponential():
    """Single ion on a ring of 20 sites: every attempt of the only ion is accepted when its
    slot exists, so accepted hops are a Poisson process of rate 2 Gamma: exponential
    waiting times (KS test) with the right mean."""
    from scipy import stats

    net = build_lattice("chain", size=20)
    eng = make_engine(net, 1, mode="uniform")
    assert eng.total_rate_Hz == pytest.approx(2 * 1e13 * np.exp(-0.3 / (8.617333262e-5 * 300)))
    times = []
    for _ in range(3000):
        t0 = eng.time_s
        eng.run(1)
        times.append(eng.time_s - t0)
    assert stats.kstest(np.array(times) * eng.total_rate_Hz, "expon").pvalue > 1e-3
