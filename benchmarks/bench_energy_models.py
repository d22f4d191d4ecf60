"""Engine throughput with energy models (clusters, environment-dependent barriers), one core.

Three cases, each from 10^3 to 10^6 sites:

* "clusters": simple-cubic lattice gas (a = 3 A, occupancy 0.5, 500 K, E_kra 0.3 eV) with
  nearest-neighbour pairs (J = 0.02 eV) and the corner triplets (s, s+x, s+y), (s, s+y, s+z),
  (s, s+x, s+z) (V = 0.01 eV): a cluster expansion with three triplets per site;
* "local": the same lattice with E_kra from a local cluster expansion (kMCpy's +-1 basis) of
  the 8 sites beside the hop (the 4 neighbours of each end across the hop): 8 points and 4
  pairs;
* "nasicon": kMCpy's NASICON test model (tests/data/kmcpy: kra and site local cluster
  expansions, 12-site environments, 106 clusters each; the "kmcpy" rate law), its 2x1x1
  supercell tiled to larger ones (the events of every copy mapped by position), with
  kMCpy's 14 Na on 16 sites per copy, 873 K. Needs pymatgen (``pip install '.[kmcpy]'``).

    python benchmarks/bench_energy_models.py           # 10^3 .. 10^6 sites
    python benchmarks/bench_energy_models.py --quick   # up to 10^4 sites
    python benchmarks/bench_energy_models.py --kmcpy-python VENV/bin/python --kmcpy-src KMCPY

Prints hops per second of the C engine alone (one `Engine.run` of 2x10^5 hops, best of
three, after a warm-up), the engine's bytes per site and the set-up time (network, models,
engine). With --kmcpy-python, the same run also times kMCpy itself (from its own venv, on
its 2x1x1 test model: benchmarks/kmcpy_peer.py --timing) for the hops/s side by side.
Record the figures with the machine in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import kmc
from kmc.builders import build_lattice
from kmc.energy import ClusterExpansion, LocalClusterExpansion, attach
from kmc.lattice import as_site_network

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "kmcpy"
SC_SIZES = (10, 22, 46, 100)            # 10^3 .. 10^6 sites
NASICON_REPS = (3, 6, 12, 25)           # 64 n^3 sites: 1728 .. 10^6


def _sc(L: int):
    return as_site_network(build_lattice("sc", size=L, a=3.0, barrier_eV=0.3))


def _sc_index(L: int):
    ijk = np.stack(np.meshgrid(*(np.arange(L),) * 3, indexing="ij"), -1).reshape(-1, 3)
    return ijk, lambda v: ((v[..., 0] % L) * L + v[..., 1] % L) * L + v[..., 2] % L


def clusters_network(L: int):
    net = _sc(L)
    ijk, idx = _sc_index(L)
    order = np.argsort(idx(np.rint(net.positions / 3.0).astype(int)))  # site of each ijk
    site = np.empty(L**3, np.int64)
    site[order] = np.arange(L**3)
    s0 = site[idx(ijk)]
    ex, ey, ez = np.eye(3, dtype=int)
    trip = [np.stack([s0, site[idx(ijk + a)], site[idx(ijk + b)]], 1)
            for a, b in ((ex, ey), (ey, ez), (ex, ez))]
    fwd = net.hop_src < net.hop_dst
    pairs = np.stack([net.hop_src[fwd], net.hop_dst[fwd], np.full(fwd.sum(), -1)], 1)
    clusters = np.concatenate([pairs] + trip)  # arrays: the fast form (-1: pairs padded)
    eci = np.concatenate([np.full(len(pairs), 0.02), np.full(len(clusters) - len(pairs), 0.01)])
    ce = ClusterExpansion(clusters, eci, static_occupation=[1])  # static site 0: n = 1
    return attach(net, cluster_expansion=ce)


def local_network(L: int):
    net = _sc(L)
    pos = np.rint(net.positions / 3.0).astype(int)
    _, idx = _sc_index(L)
    order = np.argsort(idx(pos))
    site = np.empty(L**3, np.int64)
    site[order] = np.arange(L**3)
    a = pos[net.hop_src]
    d = np.rint(net.hop_vectors / 3.0).astype(int)
    axis = np.argmax(np.abs(d), axis=1)
    env = []
    for end in (a, a + d):
        for k in (1, 2):
            u = np.zeros_like(d)
            u[np.arange(len(d)), (axis + k) % 3] = 1
            env += [site[idx(end + u)], site[idx(end - u)]]
    env = np.stack(env, 1)
    env = np.sort(env, axis=1)  # one order for a hop and its reverse (the same 8 sites)
    kra = LocalClusterExpansion(0.3, [(p,) for p in range(8)] + [(0, 1), (2, 3), (4, 5), (6, 7)],
                                [0.01] * 8 + [-0.005] * 4, basis="spin")
    return attach(net, environments=env, kra=kra)


def nasicon_network(n: int):
    """kMCpy's NASICON test model (2x1x1 supercell) tiled n x 2n x 2n times."""
    from importlib import resources

    from kmc.interop.kmcpy import read_kmcpy, to_network

    cif = Path(resources.files("kmc.data").joinpath("structures/nasicon_Na4Zr2Si3O12_573K.cif"))
    files = (cif, DATA / "model.json", DATA / "events_regenerated.json",
             DATA / "initial_state.json", (2, 1, 1))
    small = read_kmcpy(*files)
    if n == 0:  # the model itself
        return to_network(small, name="nasicon-kmcpy"), np.flatnonzero(small.occupied)
    big = tile_kmcpy(small, (n, 2 * n, 2 * n))
    return to_network(big, name="nasicon-kmcpy"), np.flatnonzero(big.occupied)


def tile_kmcpy(small, reps):
    """A kMCpy model (kmc.interop.kmcpy.KmcpyInputs) tiled reps[0] x reps[1] x reps[2]
    times: every copy's events mapped by position, the initial state and the static (Si/P)
    sites copied; returns the KmcpyInputs of the larger supercell."""
    from scipy.spatial import cKDTree

    from kmc.interop.kmcpy import KmcpyInputs

    reps = np.asarray(reps, dtype=int)
    L = small.lattice_A
    cells = np.stack(np.meshgrid(*(np.arange(r) for r in reps), indexing="ij"), -1).reshape(-1, 3)
    n0, nc = small.n_sites, len(cells)
    big_L = L * reps[:, None]
    shift = cells @ L
    pos = (small.positions_A[None, :, :] + shift[:, None, :]).reshape(-1, 3)
    spos = (small.static_positions_A[None, :, :] + shift[:, None, :]).reshape(-1, 3)
    inv = np.linalg.inv(big_L)

    def wrap(f):
        f = f - np.floor(f)
        return np.where(f >= 1.0, 0.0, f)  # -1e-17 % 1 is 1.0

    trees = [cKDTree(wrap(p @ inv), boxsize=1.0) if len(p) else None for p in (pos, spos)]

    def find(cart, kind=0):
        d, k = trees[kind].query(wrap(cart @ inv))
        assert d.max() < 1e-6
        return k

    inv_small = np.linalg.inv(L)

    def rel(points):  # minimum image next to the event's centre (unique: the environment
        f = (points - centre[:, None, :]) @ inv_small  # lies within 3.74 A, images of a
        return (f - np.rint(f)) @ L                     # site are >= 5.6 A apart)

    centre = small.positions_A[small.hops[:, 0]]
    dyn = small.env_sites >= 0
    rel_dyn = rel(small.positions_A[np.where(dyn, small.env_sites, 0)])
    est = small.env_static_index
    has_static = est.size == small.env_sites.size and len(small.static_positions_A) > 0
    if has_static:
        sta = est >= 0
        rel_sta = rel(small.static_positions_A[np.where(sta, est, 0)])
    hops, vecs, envs, stat, sidx = [], [], [], [], []
    for e in range(small.n_events):
        c = centre[e][None, :] + shift
        i = find(c)
        j = find(c + small.hop_vectors_A[e])
        env = np.full((nc, small.env_sites.shape[1]), -1, np.int64)
        for p in np.flatnonzero(dyn[e]):
            env[:, p] = find(c + rel_dyn[e, p])
        hops.append(np.stack([i, j], 1))
        vecs.append(np.repeat(small.hop_vectors_A[e][None], nc, 0))
        envs.append(env)
        stat.append(np.repeat(small.env_static_n[e][None], nc, 0))
        if has_static:
            si = np.full_like(env, -1)
            for p in np.flatnonzero(sta[e]):
                si[:, p] = find(c + rel_sta[e, p], 1)
            sidx.append(si)
    extra = {}
    if has_static:
        extra = dict(static_positions_A=spos, env_static_index=np.concatenate(sidx))
    return KmcpyInputs(
        lattice_A=big_L, positions_A=pos, site_labels=np.tile(small.site_labels, nc),
        kmcpy_index=np.arange(n0 * nc), hops=np.concatenate(hops),
        hop_vectors_A=np.concatenate(vecs), env_sites=np.concatenate(envs),
        env_static_n=np.concatenate(stat), kra=small.kra, site=small.site,
        occupied=np.tile(small.occupied, nc), source={"tiled_from": small.source,
                                                      "reps": reps.tolist()}, **extra)


def measure(case: str, size: int, hops: int = 200_000) -> dict:
    t0 = time.perf_counter()
    if case == "nasicon":
        net, sites = nasicon_network(size)
        sim = kmc.Simulation(net, 873.0, ion_sites=sites, seed=1, attempt_frequency_Hz=5e12,
                             rate_law="kmcpy")
    else:
        net = clusters_network(size) if case == "clusters" else local_network(size)
        sim = kmc.Simulation(net, 500.0, occupancy=0.5, seed=1)
    eng = sim.engine
    setup = time.perf_counter() - t0
    eng.run(hops // 5)
    best = 0.0
    for _ in range(3):
        t = time.perf_counter()
        done, _ = eng.run(hops)
        best = max(best, done / (time.perf_counter() - t))
    if net.n_sites <= 20_000:
        eng.check()  # the local updates stayed exact
    return {"sites": net.n_sites, "case": case, "Mhops_s": best / 1e6,
            "B_site": eng.memory_bytes / net.n_sites, "setup_s": setup}


def kmcpy_timing(python: str, src: str) -> dict:
    out = subprocess.run([python, str(ROOT / "benchmarks" / "kmcpy_peer.py"), "timing",
                          "--kmcpy-src", src],
                         capture_output=True, text=True, check=True, timeout=3600)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="up to 10^4 sites only")
    ap.add_argument("--cases", default="clusters,local,nasicon")
    ap.add_argument("--kmcpy-python", default=None, metavar="PYTHON",
                    help="a Python with kMCpy installed: time kMCpy on its test model too")
    ap.add_argument("--kmcpy-src", default=None, metavar="DIR",
                    help="kMCpy's repository (its test inputs), with --kmcpy-python")
    args = ap.parse_args()
    k = 2 if args.quick else None
    print(f"kmc {kmc.__version__}, {platform.machine()}, Python {platform.python_version()}")
    print(f"{'sites':>9} {'case':>9} {'Mhops/s':>8} {'B/site':>7} {'setup s':>8}")
    for case in filter(None, args.cases.split(",")):
        for size in (NASICON_REPS if case == "nasicon" else SC_SIZES)[:k]:
            r = measure(case, size)
            print(f"{r['sites']:>9} {case:>9} {r['Mhops_s']:>8.3f} {r['B_site']:>7.0f} "
                  f"{r['setup_s']:>8.2f}", flush=True)
    if args.kmcpy_python:  # the 2x1x1 model itself, in kmc and in kMCpy
        r = measure("nasicon", 0)
        print(f"{r['sites']:>9} {'nasicon':>9} {r['Mhops_s']:>8.3f} {r['B_site']:>7.0f} "
              f"{r['setup_s']:>8.2f}   (kMCpy's 2x1x1 test model itself)", flush=True)
        if not args.kmcpy_src:
            ap.error("--kmcpy-python needs --kmcpy-src")
        p = kmcpy_timing(args.kmcpy_python, args.kmcpy_src)
        print(f"kMCpy {str(p.get('kmcpy_commit', ''))[:7]} on the same model: "
              f"{p['hops_per_s'] / 1e6:.6f} M hops/s ({p['hops']} hops in {p['wall_s']:.1f} s); "
              f"kmc / kMCpy = {r['Mhops_s'] * 1e6 / p['hops_per_s']:.3g}")


if __name__ == "__main__":
    sys.exit(main())
