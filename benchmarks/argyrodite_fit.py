"""Fit the argyrodite model's site energies and KRA barriers to Morgan's AIMD of Li6PS5Cl and
Li6PS5I (the tables of lattices/argyrodite.toml).

    python benchmarks/argyrodite_fit.py /path/to/data_argyrodite_disorder [--halogen Cl I]
        [--iterations 12] [--average K] [--barrier-steps 3] [--frames 1500] [--pairs KIND...]
        [--cage] [--from-rates] [--json out.json] [--tables]

B. J. Morgan, Chem. Mater. 33, 2004 (2021) deposited his AIMD trajectories (PBE, 2x2x2 cells
of 192 Li, 500 K, inherent structures every 100 fs, 0/50/100 % X/S2- exchange of the 4a/4d
sites) at github.com/bjmorgan/data_argyrodite_disorder. The model (kmc.materials, the lattice
of lattices/argyrodite.toml) is compared with them exactly as they are analysed:

* every Li of every AIMD frame is put on the nearest of Morgan's tetrahedral sites
  (benchmarks/argyrodite_aimd_jumps.py) and that site on the model's site of the same type
  (one to one, at most 0.2 A apart), so AIMD and model frames are occupations of the same
  896 sites;
* each AIMD run's X/S2- arrangement (from its first frame) is given to the model
  (:func:`kmc.materials.argyrodite_network`), and the model starts from the run's first
  frame: the same cells, and the same Li per cage (six in every cage of the ordered cells,
  where no intercage jump changes them);
* from the frames of either: the mean occupancy of each site class ("T5:XS": type and the
  species on its 4a and 4d vertices), per hop type and ordered class pair the open-hop rate
  (hops A -> B between consecutive frames per frame-time of A occupied, B empty and no Li on
  a site of a hard-core pair with B), and as a check (not fitted) the probability that both
  sites of a Li-Li pair are occupied, per pair kind (the file's [[li_pairs.kinds]]) and
  class pair.

The fit (all three degrees of exchange of a compound at once; the model sampled every 100 fs
at 500 K for `--frames` frames per AIMD run after 20 000 hops):

1. Site energies by inverse Monte Carlo (Lyubartsev & Laaksonen's Newton step): with N_c
   the Li on the sites of class c per frame, summed over the runs, <N>(E + dE) = <N> -
   Cov(N, N) dE / kT, so each iteration takes dE = kT (Cov + 0.1 diag Cov)^-1 (<N>_model -
   <N>_AIMD) (the ridge also fixes the uniform shift, which the fixed Li number leaves free),
   each component at most 0.05 eV; then T5:XS = 0. It starts from the file's tables, or with
   --from-rates from the open-hop-rate tables of benchmarks/argyrodite_aimd_jumps.py (what
   the file's tables were fitted from, 2026-12-07).
   (The open-hop-rate ratios of benchmarks/argyrodite_aimd_jumps.py --tables, which the file
   held before, ignore that a Li's neighbours are not independent: with them the model put
   1.6-5x the AIMD's Li on T2 in the ordered compounds.)
   With --cage, also a cage energy U per species on the cage centre (the table
   ``cage_energy_eV`` of kmc.materials.argyrodite_network: a pair energy between every two
   T5/T2 sites of one cage), whose conjugate is the number of Li pairs per cage; the
   shipped tables have none (docs/materials/argyrodite.md, "Li per cage": it reproduces the
   AIMD's Li-per-cage distributions but slows the engine 4-5x as pairs).
   With --pairs KIND..., also one pair energy J per named kind of [[li_pairs.kinds]] (the
   table ``pair_energy_eV``), whose conjugate is the number of doubly occupied pairs of the
   kind. The shipped tables (2026-12-07) were fitted with --pairs T2-T2_intracage T5-T5_cage
   T2-T4 T2-T5_cage1 T2-T5_cage2, the five kinds the model without them missed most (up to
   30x too often doubly occupied; the 2.51 A T2-T5_cage1 pair 2-3x too rarely), in three
   runs, each starting from the file's tables as the last left them: --iterations 20
   --barrier-steps 1 (from the tables without pair energies), then --iterations 10 --average
   6 --barrier-steps 1, then --iterations 0 --barrier-steps 4 (the first two with the
   single barrier pass the script then had: no cap, no floor, and a class with 3 hops each
   way counted as 6 >= MIN_COUNT, which moved Li6PS5I's T2-T2_intracage|T2:XX|T2:XX, 3 hops).
2. KRA barriers: E_kra(hop|A|B) changes by kT ln(sqrt(k_AB k_BA)_model / sqrt(k_AB
   k_BA)_AIMD) once the equilibrium is fitted; the open-hop rates of a hop class are then
   those of the AIMD (a barrier changes the rates, not the equilibrium). Hop classes seen
   fewer than 5 times in the AIMD keep their barrier. Hops are counted between frames, and a
   fast class hops back and forth within one, so a step under-corrects: --barrier-steps
   passes (default 3), each from the model's rates with the last barriers, the later ones
   secant steps; a class whose counted rate hardly answers its barrier keeps it (see
   fit_runs), and barriers stay >= 0.

Nothing experimental enters: the fit sees Morgan's AIMD only. The printout gives, per
compound, the occupancies and pair co-occupancies of AIMD and model before and after, with
the difference in units of a Poisson error that counts frames as independent (they are
not: 100 fs apart, so |z| overstates the significance).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

import kmc
from kmc.jumps import record_site_frames
from kmc.constants import KB_EV_PER_K
from kmc.materials import (ARGYRODITE_HARD_CORE_MIN_EV, argyrodite_anion_sites_A,
                           argyrodite_li_pairs,
                           argyrodite_cages, argyrodite_network, build_material, material_spec)

sys.path.insert(0, str(Path(__file__).resolve().parent))
import argyrodite_aimd_jumps as aimd  # noqa: E402  (Morgan's sites, XDATCAR reader)

T_K = aimd.T_K
KT_EV = KB_EV_PER_K * T_K
FRAME_S = aimd.FRAME_S
SYSTEM = {"Cl": "Li6PS5Cl", "I": "Li6PS5I"}
RIDGE = 0.1          # regularisation of the inverse Monte Carlo step
MAX_STEP_EV = 0.05
MIN_COUNT = 5
MAX_U_EV = 0.3       # bound on the cage and pair energies
#: the Li-Li pair kinds (site types and distance window at Li6PS5Cl's lattice constant):
#: the file's [[li_pairs.kinds]], kmc.materials.argyrodite_li_pairs; the face-sharing and
#: intercage T2-T2 pairs are the hard cores and not among them
PAIR_KINDS = [k["name"] for k in material_spec("argyrodite").data["li_pairs"]["kinds"]]


def _frac(net) -> np.ndarray:
    return np.asarray(net.positions) @ np.linalg.inv(np.asarray(net.cell))


def morgan_to_model(net) -> np.ndarray:
    """Model site index of each of Morgan's tetrahedral sites (his order, 2x2x2 cell)."""
    names = np.array(net.site_type_names)[net.site_types]
    ms = {t: aimd.orbit(c) for t, c in aimd.CENTRES.items()}
    mnames = np.concatenate([[t] * len(s) for t, s in ms.items()])
    msites = np.concatenate(list(ms.values()))
    cell = np.asarray(net.cell)
    d = _frac(net)[None, :, :] - msites[:, None, :]
    d -= np.rint(d)
    dist = np.linalg.norm(d @ cell, axis=2)
    dist[mnames[:, None] != names[None, :]] = np.inf
    m2 = dist.argmin(1)
    if len(set(m2)) != len(m2) or dist.min(1).max() > 0.3:
        raise RuntimeError("Morgan's sites and the model's do not match one to one")
    return m2


class Geometry:
    """The site pairs that the statistics run over, from one model network."""

    def __init__(self, net, cls: np.ndarray, cage: np.ndarray):
        self.n = net.n_sites
        self.cls = cls
        # the pairs of the check: kind|class|class keys
        a_A = float(np.asarray(net.cell)[0, 0]) / 2          # the 2x2x2 cubic cell of the AIMD
        self.pi, self.pj, kind = argyrodite_li_pairs(net, a_A)
        self.pair_keys = np.array([f"{PAIR_KINDS[k]}|{'|'.join(sorted((cls[u], cls[v])))}"
                                   for u, v, k in zip(self.pi, self.pj, kind)])
        # hard cores (from the network) and hops
        hard = np.asarray(net.pair_energies_eV) >= ARGYRODITE_HARD_CORE_MIN_EV
        self.close = np.zeros((self.n, self.n), np.int32)
        hi_, hj_ = np.asarray(net.pair_i)[hard], np.asarray(net.pair_j)[hard]
        self.close[hi_, hj_] = 1
        self.close[hj_, hi_] = 1
        src, dst = np.asarray(net.hop_src), np.asarray(net.hop_dst)
        tnames = np.array(net.hop_type_names)[net.hop_types]
        self.src, self.dst = src, dst
        self.hop_keys = np.array([f"{t}|{cls[s]}>{cls[e]}" for t, s, e in zip(tnames, src, dst)])
        self.hop_of = np.full((self.n, self.n), -1, np.int64)
        self.hop_of[src, dst] = np.arange(len(src))
        # the cage term's pairs: T5/T2 sites of one cage (`cage`: kmc.materials.
        # argyrodite_cages), no hard core, by the species on the centre ("cage:S", "cage:X")
        i, j = np.nonzero(np.triu((cage[:, None] == cage[None, :]) & (cage[:, None] >= 0)
                                  & (self.close == 0), 1))
        centre = np.array([c[4] if len(c) > 4 else "" for c in cls])[i]
        self.terms = {f"cage:{sp}": (i[centre == sp], j[centre == sp]) for sp in "SX"}
        for k, name in enumerate(PAIR_KINDS):   # "pair:NAME": every pair of that kind
            self.terms[f"pair:{name}"] = (self.pi[kind == k], self.pj[kind == k])
        self.cage = cage


def statistics(g: Geometry, sites: np.ndarray) -> dict[str, dict[str, list[float]]]:
    """Counts from frames (n_frames, n_ions) of site indices: per site class [occupied
    site-frames, site-frames]; per pair key [both occupied pair-frames, pair-frames]; per
    ordered hop key [hops, open exposure frames]."""
    F = len(sites)
    occ = np.zeros((F, g.n), bool)
    occ[np.arange(F)[:, None], sites] = True
    out: dict[str, dict[str, list[float]]] = {"sites": {}, "pairs": {}, "hops": {},
                                              "cages": {}}
    u, inv = np.unique(g.cls, return_inverse=True)
    occ_n = np.bincount(inv, weights=occ.sum(0), minlength=len(u))
    n_c = np.bincount(inv, minlength=len(u)) * F
    for c, a, b in zip(u, occ_n, n_c):
        out["sites"][str(c)] = [float(a), float(b)]
    # Li per cage (T5 and T2 sites), by the species on the centre: frames x cages
    in_cage = g.cage >= 0
    n_cages = int(g.cage.max()) + 1
    per_cage = np.stack([np.bincount(g.cage[in_cage], weights=o[in_cage], minlength=n_cages)
                         for o in occ])
    centre = np.array([g.cls[np.flatnonzero(g.cage == c)[0]][4] for c in range(n_cages)])
    for sp in "SX":
        sel = np.rint(per_cage[:, centre == sp]).astype(int).ravel()
        if sel.size:  # [cage-frames with k Li, cage-frames] for k = 0..12
            for k, v in enumerate(np.bincount(sel, minlength=13)[:13]):
                out["cages"][f"{sp}:{k:02d}"] = [float(v), float(sel.size)]
    both = (occ[:, g.pi] & occ[:, g.pj]).sum(0)
    u, inv = np.unique(g.pair_keys, return_inverse=True)
    for k, a, b in zip(u, np.bincount(inv, weights=both, minlength=len(u)),
                       np.bincount(inv, minlength=len(u)) * F):
        out["pairs"][str(k)] = [float(a), float(b)]
    # open exposure of every hop over frames 0..F-2 and the hops made between frames
    nclose = occ[:-1].astype(np.int32) @ g.close
    o = occ[:-1]
    expo = (o[:, g.src] & ~o[:, g.dst]
            & (nclose[:, g.dst] - g.close[g.dst, g.src] == 0)).sum(0)
    s0, s1 = sites[:-1], sites[1:]
    moved = s0 != s1
    h = g.hop_of[s0[moved], s1[moved]]
    t_idx = np.nonzero(moved)[0]
    ok = h >= 0
    # a hop into a site next to another Li (a hard-core partner occupied) is not open
    blocked = nclose[t_idx[ok], s1[moved][ok]] - g.close[s1[moved][ok], s0[moved][ok]] > 0
    hops = np.bincount(h[ok][~blocked], minlength=len(g.src))
    u, inv = np.unique(g.hop_keys, return_inverse=True)
    for k, a, b in zip(u, np.bincount(inv, weights=hops, minlength=len(u)),
                       np.bincount(inv, weights=expo, minlength=len(u))):
        out["hops"][str(k)] = [float(a), float(b)]
    return out


def add(total: dict, part: dict) -> None:
    for kind, d in part.items():
        t = total.setdefault(kind, {})
        for k, v in d.items():
            w = t.setdefault(k, [0.0, 0.0])
            w[0] += v[0]
            w[1] += v[1]


def aimd_runs(root: Path, halogen: str) -> list[dict]:
    """Every AIMD run of a compound: its X/S2- arrangement (on the model's 4a and 4d sites,
    from the run's first frame) and its frames as model site indices (Li on the nearest of
    Morgan's sites, mapped one to one onto the model's)."""
    system = SYSTEM[halogen]
    a_A = float(material_spec("argyrodite").data["halogens"][halogen]["a_A"])
    pos4a, pos4d = argyrodite_anion_sites_A(halogen, 2)
    msites = np.concatenate([aimd.orbit(c) for c in aimd.CENTRES.values()])
    m2 = None
    runs = []
    for disorder, n in aimd.RUNS[system].items():
        for run in range(1, n + 1):
            d = root / "data" / system / disorder / f"run{run}"
            cell, labels, fr = aimd.read_xdatcar(d / "inherent_XDATCAR.gz")
            an = np.flatnonzero((labels == "S") | (labels == halogen))
            s_on_4a = np.zeros(len(pos4a), bool)
            x_on_4d = np.zeros(len(pos4d), bool)
            for pos, target, swapped in ((pos4a, s_on_4a, "S"), (pos4d, x_on_4d, halogen)):
                j, dist = aimd.nearest(fr[0][an], pos / (2 * a_A), cell)
                ok = dist < 1.2
                if ok.sum() != len(pos) or np.bincount(j[ok], minlength=len(pos)).max() != 1:
                    raise RuntimeError(f"{d}: anions do not match the 4a/4d sites one to one")
                target[j[ok]] = labels[an[ok]] == swapped
            if m2 is None:
                m2 = morgan_to_model(argyrodite_network(halogen, s_on_4a, x_on_4d, size=2)[0])
            li = labels == "Li"
            sites = np.stack([m2[aimd.nearest(f[li], msites, cell)[0]] for f in fr])
            runs.append(dict(disorder=disorder, run=run, s_on_4a=s_on_4a, x_on_4d=x_on_4d,
                             sites=sites))
    return runs


def observables(g: Geometry, sites: np.ndarray, names: list[str]) -> np.ndarray:
    """Per frame, the number of Li on the sites of each class in `names`, for "cage:S" and
    "cage:X" the number of Li pairs in cages with that centre (sum of n(n - 1)/2 over the
    cages, hard-core pairs aside), and for "pair:KIND" the doubly occupied pairs of that
    pair kind: the conjugates of the site, cage and pair energies."""
    F = len(sites)
    occ = np.zeros((F, g.n), np.float64)
    occ[np.arange(F)[:, None], sites] = 1.0
    cols = []
    for n in names:
        if n in g.terms:
            i, j = g.terms[n]
            cols.append((occ[:, i] * occ[:, j]).sum(1))
        else:
            cols.append(occ[:, g.cls == n].sum(1))
    return np.stack(cols, axis=1)


def model_statistics(halogen: str, runs: list[dict], tables: dict, frames: int,
                     seed: int, geoms: list[Geometry], names: list[str] | None = None):
    """The model's counts pooled over the runs' arrangements (one simulation each) and, for
    `names`, the summed per-frame means and covariance matrices of :func:`observables`."""
    total: dict = {}
    mean = np.zeros(len(names or ()))
    cov = np.zeros((len(mean), len(mean)))
    for k, r in enumerate(runs):
        net, cls = argyrodite_network(halogen, r["s_on_4a"], r["x_on_4d"], size=2,
                                      tables=tables)
        # from the AIMD run's first frame: the Li per cage as in the AIMD (they change only
        # by intercage jumps, none in the ordered cells)
        sim = kmc.Simulation(net, T_K, ion_sites=r["sites"][0], seed=seed + k)
        fr = record_site_frames(sim, FRAME_S, frames, equilibration_hops=20_000)
        add(total, statistics(geoms[k], fr.sites))
        if names:
            X = observables(geoms[k], fr.sites[1:], names)
            mean += X.mean(0)
            cov += np.cov(X, rowvar=False)
    return total, mean, cov


def _ratio(model: list[float], ref: list[float]) -> float:
    """ln of the model's over the reference's probability, one count added to both."""
    return float(np.log((model[0] + 1.0) / (model[1] + 1.0))
                 - np.log((ref[0] + 1.0) / (ref[1] + 1.0)))


def _z(model: list[float], ref: list[float]) -> float:
    """Difference of two rates in units of their Poisson error."""
    pm, pr = model[0] / model[1], ref[0] / ref[1]
    err = np.sqrt(max(model[0], 1.0) / model[1] ** 2 + max(ref[0], 1.0) / ref[1] ** 2)
    return float((pm - pr) / err)


def fit(root: Path, halogen: str, iterations: int, frames: int, seed: int = 11,
        from_rates: bool = False, cage: bool = False, pairs: tuple[str, ...] = (),
        average: int = 1, barrier_steps: int = 3):
    """Inverse Monte Carlo of the site energies, then the barriers (see the top); starting
    from the file's tables, or from the open-hop-rate tables if `from_rates`."""
    spec = material_spec("argyrodite")
    hal = spec.data["halogens"][halogen]
    tables = {"site_energy_eV": dict(hal["site_energy_eV"]),
              "kra_eV": {k: float(v[0]) for k, v in hal["kra_eV"].items()},
              "pair_energy_eV": dict(hal.get("pair_energy_eV", {}))}
    if from_rates:
        system = SYSTEM[halogen]
        res = [aimd.analyse(root, system, d) for d in aimd.RUNS[system]]
        energies, barriers = aimd.derive(res, system)
        tables = {"site_energy_eV": energies,
                  "kra_eV": {"|".join([t, *sorted((a, b))]): v[0]
                             for (t, a, b), v in barriers.items()}}
    t0 = time.time()
    runs = aimd_runs(root, halogen)
    print(f"{halogen}: {len(runs)} AIMD runs read ({time.time() - t0:.0f} s)", flush=True)
    return fit_runs(runs, halogen, tables, iterations, frames, seed, cage=cage, pairs=pairs,
                    average=average, barrier_steps=barrier_steps)


def fit_runs(runs: list[dict], halogen: str, tables: dict, iterations: int, frames: int,
             seed: int = 11, cage: bool = False, pairs: tuple[str, ...] = (),
             average: int = 1, barrier_steps: int = 3) -> dict:
    """The fit (see the top) to reference runs: dicts with ``s_on_4a``, ``x_on_4d`` (the
    arrangement, model order) and ``sites`` (frames x Li, model site indices, 100 fs apart),
    from the starting `tables` (``site_energy_eV``, ``kra_eV``; not changed); `cage`: fit
    the cage energies too; `pairs`: one energy per named pair kind too; `average`: the
    fitted energies are the mean of the last `average` iterates (1: the last);
    `barrier_steps`: passes of the barrier correction. Returns the
    fitted tables, the reference's and the model's counts before, at the last iteration and
    after the barrier step, the history and the reference hops behind each barrier."""
    tables = {k: dict(v) for k, v in tables.items()}
    tables.setdefault("cage_energy_eV", {"S": 0.0, "X": 0.0})
    cages = argyrodite_cages(build_material("argyrodite", halogen=halogen, size=2))
    t0 = time.time()
    geoms = []
    ref: dict = {}
    for r in runs:
        net, cls = argyrodite_network(halogen, r["s_on_4a"], r["x_on_4d"], size=2,
                                      tables=tables)
        g = Geometry(net, cls, cages)
        geoms.append(g)
        add(ref, statistics(g, r["sites"]))
    # the fitted quantities: the Li on each site class and the Li pairs per cage (by centre
    # species, where the runs have such cages) and the doubly occupied pairs of the `pairs`
    # kinds; the other pair kinds are a check
    classes = sorted(ref["sites"])
    keys = sorted(k for k, v in ref["pairs"].items() if v[0] >= MIN_COUNT)
    names = classes + [t for t in ("cage:S", "cage:X")
                       if any(len(g.terms[t][0]) for g in geoms)] if cage else classes
    names = names + [f"pair:{p}" for p in pairs]
    tables.setdefault("pair_energy_eV", {})
    for p in pairs:
        tables["pair_energy_eV"].setdefault(p, 0.0)
    target = np.zeros(len(names))
    for g, r in zip(geoms, runs):
        target += observables(g, r["sites"], names).mean(0)
    history = []
    fitted = ("site_energy_eV", "pair_energy_eV", "cage_energy_eV")
    iterates = []
    for it in range(iterations + 1):
        iterates.append({k: dict(tables[k]) for k in fitted})
        mod, mean, cov = model_statistics(halogen, runs, tables, frames, seed + 100 * it,
                                          geoms, names)
        dev_site = {c: _ratio(mod["sites"][c], ref["sites"][c]) for c in classes}
        dev_pair = {k: _ratio(mod["pairs"][k], ref["pairs"][k]) for k in keys}
        z_site, z_pair = _median_z(mod, ref, classes, keys)
        history.append(dict(iteration=it, max_ln_site=max(abs(v) for v in dev_site.values()),
                            max_ln_pair=max(abs(v) for v in dev_pair.values()),
                            median_z_site=z_site, median_z_pair=z_pair))
        print(f"  iteration {it}: max |ln(model/AIMD)| sites {history[-1]['max_ln_site']:.3f}, "
              f"pairs {history[-1]['max_ln_pair']:.3f}; median |z| sites "
              f"{history[-1]['median_z_site']:.1f}, pairs {history[-1]['median_z_pair']:.1f} "
              f"({time.time() - t0:.0f} s)", flush=True)
        if it == 0:
            before = mod
        if it == iterations:
            break
        # <S>(lambda + d) = <S> - Cov d / kT: the Newton step of inverse Monte Carlo, with a
        # ridge (RIDGE x the diagonal; also fixes the uniform shift of the site energies,
        # which the fixed Li number leaves free) and at most MAX_STEP_EV per parameter
        A = cov + RIDGE * np.diag(np.diag(cov)) + 1e-9 * np.eye(len(names))
        d = KT_EV * np.linalg.solve(A, mean - target)
        d = np.clip(d, -MAX_STEP_EV, MAX_STEP_EV)
        for n, v in zip(names, d):
            if n.startswith(("pair:", "cage:")):   # pair_energy_eV / cage_energy_eV
                t = tables[f"{n[:4]}_energy_eV"]
                t[n[5:]] = float(np.clip(t[n[5:]] + v, -MAX_U_EV, MAX_U_EV))
            else:
                tables["site_energy_eV"][n] += float(v)
        e0 = tables["site_energy_eV"]["T5:XS"]
        for c in tables["site_energy_eV"]:
            tables["site_energy_eV"][c] -= e0
    if average > 1:
        # the iterates scatter about the solution by the noise of a finite sample: the
        # mean of the last `average` (Polyak averaging) is nearer to it than any one
        last = iterates[-average:]
        for k in fitted:
            tables[k] = {c: float(np.mean([t[k][c] for t in last])) for c in tables[k]}
        mod, _, _ = model_statistics(halogen, runs, tables, frames,
                                     seed + 100 * (iterations + 2), geoms)
        z_site, z_pair = _median_z(mod, ref, classes, keys)
        print(f"  mean of the last {len(last)} iterates: median |z| sites {z_site:.1f}, "
              f"pairs {z_pair:.1f} ({time.time() - t0:.0f} s)", flush=True)
    # barriers: the model's geometric-mean open-hop rates onto the AIMD's. Hops are counted
    # between frames 100 fs apart (as in the AIMD), and a fast hop class hops back and forth
    # within a frame, so its counted rate grows more slowly than exp(-E_kra/kT): one step
    # under-corrects; `barrier_steps` steps, each from the model's rates with the last
    # barriers, converge. From the second step on, a class whose last step was large (|ln| >
    # 0.15, well above the noise of the rates) divides by the response that step showed (a
    # secant step, response 0.5-1). A class whose counted rate hardly responds (< 0.2: its
    # frame-to-frame "hops" are mostly two hops within a frame, e.g. T2 -> T5 -> T2 for the
    # intracage T2-T2 pairs, or it saturates) is not determined by its barrier and keeps the
    # last one; no step moves a barrier by more than 0.05 eV
    fitted_mod = mod
    last: dict[str, tuple[float, float]] = {}   # key -> (its ln ratio, the move made)
    frozen: set[str] = set()
    for step in range(barrier_steps + 1):
        lrs = _hop_ln_ratios(tables["kra_eV"], mod, ref)
        if step == 0:
            n_ref = {k: n for k, (_, n) in lrs.items()}   # the AIMD hops behind each barrier
        dev = [abs(lr) for lr, n in lrs.values() if lr is not None and n >= 100]
        print(f"  barrier pass {step}: |ln(model/AIMD)| of the open-hop rates of the hop "
              f"classes with >= 100 AIMD hops: max {max(dev):.3f}, median {np.median(dev):.3f}"
              f" ({time.time() - t0:.0f} s)", flush=True)
        if step == barrier_steps:
            break
        kra_new = dict(tables["kra_eV"])
        for key, (lr, _) in lrs.items():
            if lr is None or key in frozen:
                continue
            move = lr
            if key in last and abs(last[key][1]) > 0.15:   # a secant needs a step above noise
                lr0, move0 = last[key]
                response = (lr0 - lr) / move0
                if response < 0.2:
                    frozen.add(key)
                    continue
                move = lr / min(max(response, 0.5), 1.0)
            move = float(np.clip(move, -MAX_STEP_EV / KT_EV, MAX_STEP_EV / KT_EV))
            # a barrier is >= 0: the fastest class may not reach the AIMD's rate at this nu
            kra_new[key] = max(tables["kra_eV"][key] + KT_EV * move, 0.0)
            last[key] = (lr, (kra_new[key] - tables["kra_eV"][key]) / KT_EV)   # as made
        tables["kra_eV"] = kra_new
        mod, _, _ = model_statistics(halogen, runs, tables, frames,
                                     seed + 100 * (iterations + 3 + step), geoms)
    if frozen:
        print(f"  barriers not determined by the counted rates (kept): {', '.join(sorted(frozen))}")
    return dict(halogen=halogen, tables=tables, ref=ref, before=before, fitted=fitted_mod,
                after=mod, history=history, n_ref=n_ref, frozen=sorted(frozen))


def _median_z(mod: dict, ref: dict, classes: list[str], keys: list[str]
              ) -> tuple[float, float]:
    """Median |z| of the model against the reference over the site classes and pair keys."""
    return (float(np.median([abs(_z(mod["sites"][c], ref["sites"][c])) for c in classes])),
            float(np.median([abs(_z(mod["pairs"][k], ref["pairs"][k])) for k in keys])))


def _hop_ln_ratios(kra: dict, mod: dict, ref: dict) -> dict[str, tuple[float | None, int]]:
    """Per hop class of `kra` seen by both: ln of the model's over the AIMD's geometric-mean
    open-hop rate (None if the AIMD saw it fewer than MIN_COUNT times or the model never) and
    the AIMD's hops behind it."""
    out: dict[str, tuple[float | None, int]] = {}
    for key in kra:
        hop, a, b = key.split("|")
        f, r_ = f"{hop}|{a}>{b}", f"{hop}|{b}>{a}"
        refs = [ref["hops"].get(f), ref["hops"].get(r_)]
        mods = [mod["hops"].get(f), mod["hops"].get(r_)]
        if any(v is None for v in refs + mods):
            continue
        n_aimd = int(refs[0][0] + (refs[1][0] if a != b else 0))
        lr = None
        if n_aimd >= MIN_COUNT and min(m[0] for m in mods) >= 1:
            lr = float(0.5 * sum(np.log(m[0] / m[1]) - np.log(max(q[0], 0.5) / q[1])
                                 for m, q in zip(mods, refs)))
        out[key] = (lr, n_aimd)
    return out


def toml_tables(res: dict) -> str:
    """The three tables of a halogen in lattices/argyrodite.toml."""
    x, t = res["halogen"], res["tables"]
    out = [f"[halogens.{x}.site_energy_eV]   # class 'type:ad' (species on the 4a, 4d vertex);"
           f" fitted to {SYSTEM[x]} (benchmarks/argyrodite_fit.py)"]
    out += [f'"{c}" = {e:.3f}' for c, e in sorted(t["site_energy_eV"].items())]
    out += ["", f"[halogens.{x}.kra_eV]   # 'hop|class|class' = [E_kra_eV, AIMD hops behind "
            f"it]; +- kT/sqrt(hops), kT = {KT_EV:.4f} eV"]
    out += [f'"{k}" = [{v:.3f}, {res["n_ref"].get(k, 0)}]'
            for k, v in sorted(t["kra_eV"].items())]
    if any(t.get("pair_energy_eV", {}).values()):
        out += ["", f"[halogens.{x}.pair_energy_eV]   # J per Li-Li pair kind of "
                "[[li_pairs.kinds]]; fitted with the tables above (benchmarks/argyrodite_fit.py"
                " --pairs)"]
        out += [f'"{k}" = {v:.3f}' for k, v in sorted(t["pair_energy_eV"].items()) if v]
    if any(t.get("cage_energy_eV", {}).values()):
        out += ["", f"[halogens.{x}.cage_energy_eV]   # U per pair of Li in one cage, by the "
                "species on its centre (4d)"]
        out += [f'"{k}" = {v:.4f}' for k, v in sorted(t["cage_energy_eV"].items())]
    return "\n".join(out) + "\n"


def report(res: dict) -> str:
    ref, lines = res["ref"], []
    lines.append(f"{res['halogen']}: site occupancy per class (AIMD | model before | after)")
    for c in sorted(ref["sites"]):
        v = [d["sites"][c][0] / d["sites"][c][1] for d in (ref, res["before"], res["after"])]
        lines.append(f"   {c:6s} {v[0]:.4f} | {v[1]:.4f} | {v[2]:.4f}   z after "
                     f"{_z(res['after']['sites'][c], ref['sites'][c]):+.1f}")
    lines.append("  Li per cage, by the species on its centre: fraction of cage-frames "
                 "(AIMD | before | after)")
    for k in sorted(ref["cages"]):
        v = [d["cages"][k] for d in (ref, res["before"], res["after"])]
        if max(a for a, _ in v):
            lines.append(f"   {k:5s} " + " | ".join(f"{a / b:.3f}" for a, b in v))
    lines.append("  pairs both occupied, probability per pair (AIMD | before | after), "
                 "pairs with >= 20 AIMD counts")
    for k in sorted(ref["pairs"]):
        if ref["pairs"][k][0] < 20:
            continue
        v = [d["pairs"][k][0] / d["pairs"][k][1] for d in (ref, res["before"], res["after"])]
        lines.append(f"   {k:34s} {v[0]:.4f} | {v[1]:.4f} | {v[2]:.4f}   z after "
                     f"{_z(res['after']['pairs'][k], ref['pairs'][k]):+.1f}")
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("root", type=Path)
    ap.add_argument("--halogen", nargs="*", default=["Cl", "I"], choices=["Cl", "I"])
    ap.add_argument("--iterations", type=int, default=12)
    ap.add_argument("--barrier-steps", type=int, default=3, metavar="N",
                    help="passes of the barrier correction (default 3)")
    ap.add_argument("--average", type=int, default=1, metavar="K",
                    help="fitted energies: the mean of the last K iterates (default: the last)")
    ap.add_argument("--frames", type=int, default=1500)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--tables", action="store_true", help="print the TOML tables")
    ap.add_argument("--from-rates", action="store_true",
                    help="start from the open-hop-rate tables instead of the file's")
    ap.add_argument("--cage", action="store_true",
                    help="fit a cage energy per cage-centre species too (cage_energy_eV)")
    ap.add_argument("--pairs", nargs="*", default=[], metavar="KIND",
                    choices=PAIR_KINDS,
                    help="fit one pair energy per named pair kind ([[li_pairs.kinds]]) too")
    a = ap.parse_args(argv)
    out = []
    for x in a.halogen:
        res = fit(a.root, x, a.iterations, a.frames, from_rates=a.from_rates, cage=a.cage,
                  average=a.average, barrier_steps=a.barrier_steps,
                  pairs=tuple(a.pairs))
        print(report(res))
        if a.tables:
            print(toml_tables(res))
        out.append(res)
    if a.json:
        a.json.write_text(json.dumps(
            [{k: v for k, v in r.items()} for r in out], indent=1, default=float))


if __name__ == "__main__":
    main()
