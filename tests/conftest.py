"""Shared fixtures. Tests run against the installed package (--import-mode=importlib)."""

import numpy as np
import pytest

import kmc
from kmc.builders import build_lattice


@pytest.fixture
def sc_net():
    return build_lattice("sc", size=6)


def _random_network(seed: int, *, interactions: bool = True) -> kmc.SiteNetwork:
    """A small disordered network: sc lattice with random site energies, random symmetric
    barriers and (optionally) random nearest-neighbour pair interactions."""
    rng = np.random.default_rng(seed)
    net = build_lattice("sc", size=4)
    rev = net.hop_rev
    barrier = rng.uniform(0.05, 0.4, net.n_hops)
    barrier = np.minimum(barrier, barrier[rev])  # symmetric KRA barriers
    changes = dict(site_energies_eV=rng.uniform(-0.1, 0.1, net.n_sites),
                   hop_barriers_eV=barrier)
    if interactions:
        fwd = net.hop_src < net.hop_dst
        changes.update(pair_i=net.hop_src[fwd], pair_j=net.hop_dst[fwd],
                       pair_energies_eV=rng.uniform(-0.05, 0.1, int(fwd.sum())))
    return net.replace(**changes)


@pytest.fixture
def random_network():
    """Factory: random_network(seed, interactions=True) -> a small disordered SiteNetwork."""
    return _random_network
