"""kmc.jumps: frames of fixed simulated time and the counts made from them, on cases with
known answers."""

from __future__ import annotations

import numpy as np
import pytest

import kmc
from kmc.errors import ConfigError
from kmc.jumps import (count_moves, max_pairs_both_occupied, rates_per_ion_Hz,
                       record_site_frames, site_type_fractions)


def test_count_moves_follows_each_ion_along_its_tracked_sites():
    # sites 0-3 tracked, 4-5 not; class = 0 if both ends even else 1
    tracked = np.array([1, 1, 1, 1, 0, 0], bool)
    sites = np.array([[4, 0],    # ion 0 starts untracked: enters at its first tracked site
                      [1, 4],    # ion 1 leaves 0 for an untracked site
                      [1, 0],    # ... and comes back: no move
                      [4, 5],
                      [3, 2],    # ion 0: 1 -> (4) -> 3; ion 1: 0 -> (5) -> 2
                      [2, 2]])   # ion 0: 3 -> 2
    seen = []

    def classify(src, dst):
        seen.append((src.tolist(), dst.tolist()))
        return np.where((src % 2 == 0) & (dst % 2 == 0), 0, 1)

    out = count_moves(sites, tracked, classify, ("even", "other", "unused"))
    assert out == {"even": 1, "other": 2, "unused": 0}
    assert len(seen) == 1                                  # one call with every move
    assert sorted(zip(*seen[0])) == [(0, 2), (1, 3), (3, 2)]
    with pytest.raises(ValueError, match="labels"):
        count_moves(sites, tracked, lambda s, d: np.full(len(s), 3), ("a", "b"))


def test_rates_fractions_and_pairs():
    r = rates_per_ion_Hz({"a": 100, "b": 0}, 2.0)
    assert r == {"a": (50.0, 5.0), "b": (0.0, 0.0)}
    with pytest.raises(ConfigError):
        rates_per_ion_Hz({"a": 1}, 0.0)
    sites = np.array([[0, 2], [1, 2]])
    assert site_type_fractions(sites, [0, 1, 1], ["A", "B"]) == {"A": 0.25, "B": 0.75}
    assert max_pairs_both_occupied(sites, [0, 1], [2, 2], 3) == 1
    assert max_pairs_both_occupied(sites, [0], [1], 3) == 0


def test_record_site_frames_matches_the_engine():
    net = kmc.build_lattice("sc", size=6)
    sim = kmc.Simulation(net, 500.0, n_ions=40, seed=3)
    fr = record_site_frames(sim, 1e-12, 50, equilibration_hops=1000)
    eng = sim.engine
    assert fr.sites.shape == (51, 40) and fr.n_frames == 50 and fr.n_ions == 40
    assert np.array_equal(fr.sites[-1], eng.get_state()["ion_site"])
    assert fr.hops == eng.steps - 1000 > 0
    assert sum(fr.hop_type_counts.values()) == fr.hops
    assert set(fr.hop_type_counts) == set(net.hop_type_names)
    # each frame ends at its time: the engine's clock stops there
    assert fr.duration_s == pytest.approx(50e-12, rel=1e-9)
    assert fr.ion_time_s == pytest.approx(40 * fr.duration_s)
    with pytest.raises(ConfigError):
        record_site_frames(sim, 0.0, 5)
