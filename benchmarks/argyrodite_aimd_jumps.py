"""Site populations and per-jump-type rates of lithium in Morgan's Li6PS5X AIMD trajectories.

The reference data of the argyrodite model (lattices/argyrodite.toml): B. J. Morgan, Chem.
Mater. 33, 2004 (2021) deposited the trajectories of his ab initio MD of Li6PS5Cl and
Li6PS5I (PBE, 2x2x2 cells of 192 Li, 500 K, 2 fs steps, inherent structures every 100 fs, 0 %,
50 % and 100 % X/S2- exchange of the 4a/4d sites) in the public repository
github.com/bjmorgan/data_argyrodite_disorder. Clone it and run

    python benchmarks/argyrodite_aimd_jumps.py /path/to/data_argyrodite_disorder [--json out]
    python benchmarks/argyrodite_aimd_jumps.py /path/to/data... --tables   # rate-ratio tables

What is computed (our analysis of his data, not his):

* every Li of every inherent frame is put on the nearest tetrahedral site of Morgan's
  analysis (his analysis/tetrahedral_site_analysis/site_analysis_functions.py): T5 (48h, the
  doublet sites), T2 (48h, between two T5 of one cage) and T4 (16e, between three cages);
* each 4a and 4d anion site of the first frame is S or X (the run's X/S2- arrangement);
  a site's class is its type and the species of its 4a and 4d vertices;
* site populations per class; per-pair hop rates k(A -> B) = hops A -> B / (time-summed
  number of neighbour pairs with A occupied, B empty and no Li on a site of an exclusion
  pair with B (`exclusion_pairs`, the lattice model's hard core) x frame interval) per hop
  type and pair of end classes;
* how often the two T2-T2 pair kinds hold two Li, against independent placement (the
  evidence for excluding the intercage pairs and not the intracage ones);
* with --pairs, for every kind of Li site pair up to 3 A (site types, same or another 4d
  cage, distance to 0.05 A): pairs both occupied per frame against p_i p_j summed over the
  pairs (independent placement at each site's mean occupancy); with --pair-classes, split
  by the classes of the two sites;
* with --tables, site energies and KRA barriers from these rates alone (`derive`,
  `toml_tables`): the starting point of benchmarks/argyrodite_fit.py, which fits the tables
  of lattices/argyrodite.toml (the file held these before the fit);
* the T5 -> T5 moves in de Klerk's terms (doublet, intracage, intercage), counted along each
  Li's sequence of T5 sites, per Li per second;
* the tracer diffusion coefficient from the raw (actual) frames: MSD slope over 1.0-3.4 ps per
  run, mean and standard error over runs.
"""
from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

import numpy as np

KB_EV_PER_K = 8.617333262e-5
T_K = 500.0
FRAME_S = 100e-15            # 50 steps of 2 fs between stored frames
RUNS = {"Li6PS5I": {"0p": 6, "50p": 7, "100p": 7}, "Li6PS5Cl": {"0p": 5, "50p": 6, "100p": 6}}
X_OF = {"Li6PS5I": "I", "Li6PS5Cl": "Cl"}
# Morgan's site centres (F-43m, his origin: free anions on 4a and 4d, P on 4b)
CENTRES = {"T5": (0.0, 0.183, 0.183), "T2": (0.23, 0.92, 0.08), "T4": (0.15, 0.15, 0.15)}


def read_xdatcar(path: Path):
    with gzip.open(path, "rt") as f:
        lines = f.read().split("\n")
    scale = float(lines[1])
    cell = np.array([[float(v) for v in lines[k].split()] for k in (2, 3, 4)]) * scale
    species = lines[5].split()
    counts = [int(v) for v in lines[6].split()]
    n = sum(counts)
    frames = []
    k = 7
    while k < len(lines) and lines[k].startswith("Direct"):
        frames.append(np.array([[float(v) for v in lines[k + 1 + i].split()[:3]]
                                for i in range(n)]))
        k += n + 1
    labels = np.repeat(species, counts)
    return cell, labels, np.array(frames)


def orbit(p, reps=2):
    from ase.spacegroup import crystal
    at = crystal(["X"], basis=[p], spacegroup=216, cellpar=[1, 1, 1, 90, 90, 90], symprec=1e-3)
    f = at.get_scaled_positions()
    g = np.stack(np.meshgrid(*(np.arange(reps),) * 3, indexing="ij"), -1).reshape(-1, 3)
    return ((g[:, None, :] + f[None]) / reps).reshape(-1, 3)


def mic(d):
    return d - np.rint(d)


def nearest(points, sites, cell):
    out = np.empty(len(points), dtype=int)
    dist = np.empty(len(points))
    for k in range(0, len(points), 256):
        dd = np.linalg.norm(mic(sites[None] - points[k:k + 256, None]) @ cell, axis=2)
        out[k:k + 256] = dd.argmin(1)
        dist[k:k + 256] = dd.min(1)
    return out, dist


#: pairs of Li sites never both occupied in the lattice model (a 2.0 eV hard core): the
#: face-sharing pairs (T5-T5 doublet, T5-T2, T5-T4: < 2.0 A apart) and the intercage T2-T2
#: pairs (the T2-T2 hop around a 4a anion, 2.23 A in Li6PS5Cl), which in every one of the six
#: AIMD configurations hold two Li at 0-3 % of the rate that independent placement at the mean
#: T2 occupancy would give. The intracage T2-T2 pairs (2.09 A) are not excluded: the AIMD puts
#: two Li on them at 1-54 % of that rate, depending on the anions (printed per configuration:
#: "T2-T2 pairs both occupied").
FACE_SHARING_MAX_A = 2.0
T2_T2_MAX_A = 2.5            # both T2-T2 hop kinds lie below, the next T2-T2 pair at 2.75 A


def exclusion_pairs(names: np.ndarray, dmat: np.ndarray, cage: np.ndarray) -> np.ndarray:
    """Boolean matrix of the site pairs of the lattice model's exclusion (see above); `cage`
    is each site's 4d cage (nearest 4d site)."""
    return (((dmat > 0.1) & (dmat < FACE_SHARING_MAX_A))
            | (t2_pairs(names, dmat) & (cage[:, None] != cage[None, :])))


def t2_pairs(names: np.ndarray, dmat: np.ndarray) -> np.ndarray:
    """Boolean matrix of the T2-T2 pairs of the two T2-T2 hop kinds."""
    is2 = names == "T2"
    return is2[:, None] & is2[None, :] & (dmat > 0.1) & (dmat < T2_T2_MAX_A)


def analyse(root: Path, system: str, disorder: str, pairs: bool = False,
            pair_classes: bool = False):
    """The statistics of one configuration's runs (see the top); `pairs`: also the
    co-occupancy of every pair kind (--pairs), split by the classes of the two sites if
    `pair_classes` (--pair-classes)."""
    x = X_OF[system]
    sites = {t: orbit(c) for t, c in CENTRES.items()}
    names = np.concatenate([[t] * len(s) for t, s in sites.items()])
    allsites = np.concatenate(list(sites.values()))
    a4, d4 = orbit((0, 0, 0)), orbit((0.75, 0.75, 0.75))
    pop = {}
    hops: dict[str, list[float]] = {}   # key -> [count, exposure pairs*frames]
    t5moves = {"doublet": 0, "intracage": 0, "intercage": 0}
    li_time = 0.0
    msd_D = []
    unresolved = 0
    changes = 0
    pairs_close_both = 0
    t2_both = {"intracage": 0, "intercage": 0}
    pair_g: dict[str, list[float]] = {}   # kind -> [pairs (summed over runs), both, p_i p_j]
    pair_frames = 0
    t2_occ, t2_frames = 0, 0
    blocked_hops = 0
    for run in range(1, RUNS[system][disorder] + 1):
        d = root / "data" / system / disorder / f"run{run}"
        cell, labels, fr = read_xdatcar(d / "inherent_XDATCAR.gz")
        li = labels == "Li"
        # anion species on 4a / 4d from the first frame (16e S are near P, not near 4a/4d)
        anions = np.flatnonzero((labels == "S") | (labels == x))
        sp4a = np.array(["?"] * len(a4), dtype=object)
        sp4d = np.array(["?"] * len(d4), dtype=object)
        for idx, ref, sp in ((0, a4, sp4a), (1, d4, sp4d)):
            j, dist = nearest(fr[0][anions], ref, cell)
            ok = dist < 1.2
            for ai, jj in zip(anions[ok], j[ok]):
                sp[jj] = "S" if labels[ai] == "S" else "X"
        assert "?" not in set(sp4a) | set(sp4d), (system, disorder, run)
        va, _ = nearest(allsites, a4, cell)
        vd, _ = nearest(allsites, d4, cell)
        cls = np.array([f"{n}:{sp4a[i]}{sp4d[j] if n != 'T4' else ''}"
                        for n, i, j in zip(names, va, vd)])
        dmat = np.linalg.norm(mic(allsites[None] - allsites[:, None]) @ cell, axis=2)
        is5 = names == "T5"
        close = exclusion_pairs(names, dmat, vd)
        is2 = names == "T2"
        t2 = t2_pairs(names, dmat)
        same = vd[:, None] == vd[None, :]
        t2kinds = {"intracage": t2 & same, "intercage": t2 & ~same}
        t2_n = {kind: int(m.sum() // 2) for kind, m in t2kinds.items()}   # pairs per kind
        # neighbour pairs (hop types) by type and distance
        kinds = {}
        for i, j in zip(*np.nonzero((dmat > 0.1) & (dmat < 3.2))):
            ti, tj, r = names[i], names[j], dmat[i, j]
            if ti == "T5" and tj == "T5" and r < 2.2:
                k = "T5-T5 doublet"
            elif {ti, tj} == {"T5", "T2"} and r < 1.7:
                k = f"{ti}-{tj}"
            elif {ti, tj} == {"T5", "T4"} and r < 1.8:
                k = f"{ti}-{tj}"
            elif ti == "T2" and tj == "T2" and r < T2_T2_MAX_A:
                k = "T2-T2 intracage" if vd[i] == vd[j] else "T2-T2 intercage"
            else:
                continue
            kinds[(i, j)] = k
        pi = np.array([p[0] for p in kinds]); pj = np.array([p[1] for p in kinds])
        pk = np.array(list(kinds.values()))
        pkc = np.array([f"{k}|{cls[i]}>{cls[j]}" for k, i, j in zip(pk, pi, pj)])
        occ_sites = []
        for f in fr:
            s, _ = nearest(f[li], allsites, cell)
            occ_sites.append(s)
        occ_sites = np.array(occ_sites)
        if pairs:
            occ_all = np.zeros((len(fr), len(allsites)), bool)
            occ_all[np.arange(len(fr))[:, None], occ_sites] = True
            pr_i, pr_j = np.nonzero(np.triu((dmat > 0.1) & (dmat < 3.0)))
            both = (occ_all[:, pr_i] & occ_all[:, pr_j]).mean(0)
            p_site = occ_all.mean(0)
            for i, j, b in zip(pr_i, pr_j, both):
                t = "-".join(sorted((names[i], names[j])))
                key = f"{t} {'same' if vd[i] == vd[j] else 'other'} cage " \
                      f"{0.05 * round(dmat[i, j] / 0.05):.2f} A"
                if pair_classes:  # the classes in the order of the sorted types
                    ci, cj = (cls[i], cls[j]) if names[i] <= names[j] else (cls[j], cls[i])
                    key = f"{ci}-{cj} {key}"
                v = pair_g.setdefault(key, [0, 0.0, 0.0])
                v[0] += 1
                v[1] += b * len(fr)
                v[2] += p_site[i] * p_site[j] * len(fr)
            pair_frames += len(fr)
        nsite = len(allsites)
        last5 = np.full(li.sum(), -1)
        for t in range(len(fr)):
            occ = np.zeros(nsite, bool)
            occ[occ_sites[t]] = True
            for c, n in zip(*np.unique(cls[occ_sites[t]], return_counts=True)):
                pop[c] = pop.get(c, 0) + n
            pairs_close_both += int(np.sum(close & occ[:, None] & occ[None, :]) // 2)
            for kind, m in t2kinds.items():
                t2_both[kind] += int(np.sum(m & occ[:, None] & occ[None, :]) // 2)
            t2_occ += int(occ[is2].sum())
            t2_frames += 1
            if t + 1 < len(fr):
                # a hop A -> B is open when A is occupied, B is empty and no other site
                # of an exclusion pair with B is occupied (the exclusion of the lattice model)
                nclose = close[:, occ].sum(axis=1)
                expo = occ[pi] & ~occ[pj] & (nclose[pj] - close[pj, pi] == 0)
                for key in np.unique(pkc[expo]):
                    hops.setdefault(key, [0, 0])[1] += int(np.sum(pkc[expo] == key))
                for ion, (s0, s1) in enumerate(zip(occ_sites[t], occ_sites[t + 1])):
                    if s0 != s1:
                        changes += 1
                        key = kinds.get((s0, s1))
                        if key is None:
                            unresolved += 1
                        elif nclose[s1] - close[s1, s0]:
                            blocked_hops += 1     # into a site next to another Li
                        else:
                            hops.setdefault(f"{key}|{cls[s0]}>{cls[s1]}", [0, 0])[0] += 1
            for ion, s in enumerate(occ_sites[t]):
                if is5[s]:
                    p = last5[ion]
                    if p >= 0 and p != s:
                        if dmat[p, s] < 2.2:
                            t5moves["doublet"] += 1
                        elif vd[p] == vd[s]:
                            t5moves["intracage"] += 1
                        else:
                            t5moves["intercage"] += 1
                    last5[ion] = s
        li_time += li.sum() * (len(fr) - 1) * FRAME_S
        # tracer D from the raw frames
        _, labels2, raw = read_xdatcar(d / "actual_XDATCAR.gz")
        r = raw[:, labels2 == "Li"]
        steps = mic(np.diff(r, axis=0))
        un = np.concatenate([np.zeros((1,) + r.shape[1:]), np.cumsum(steps, 0)]) @ cell
        lags = np.arange(10, 35)          # 1.0-3.4 ps (the shortest runs hold 70 frames)
        msd = np.array([np.mean(np.sum((un[L:] - un[:-L]) ** 2, axis=2)) for L in lags])
        slope = np.polyfit(lags * FRAME_S, msd, 1)[0]   # A^2/s
        msd_D.append(slope / 6 * 1e-16)
    total = sum(pop.values())
    out = {"system": system, "disorder": disorder, "T_K": T_K, "li_time_s": li_time,
           "populations": {k: v / total for k, v in sorted(pop.items())},
           "site_changes": changes, "unresolved": unresolved,
           "close_pairs_both_occupied": pairs_close_both,
           # T2-T2 pairs (per kind) both occupied per frame, and what independent placement
           # at the mean T2 occupancy would give (pairs x p^2)
           "t2_pairs_both_per_frame": {k: v / t2_frames for k, v in t2_both.items()},
           "t2_pairs_independent_per_frame": {
               k: t2_n[k] * (t2_occ / t2_frames / is2.sum()) ** 2 for k in t2_n},
           "hops_into_blocked_sites": blocked_hops,
           "pairs": {k: {"pairs_per_run": v[0] / RUNS[system][disorder],
                         "both_per_frame": v[1] / pair_frames,
                         "independent_per_frame": v[2] / pair_frames}
                     for k, v in sorted(pair_g.items(), key=lambda kv: kv[0][-6:])},
           "t5_moves_per_li_per_s": {k: v / li_time for k, v in t5moves.items()},
           "t5_moves_counts": t5moves,
           "hops": {k: {"count": v[0], "exposure_s": v[1] * FRAME_S,
                        "k_Hz": v[0] / (v[1] * FRAME_S) if v[1] else None}
                    for k, v in sorted(hops.items())},
           "D_tracer_cm2_s": float(np.mean(msd_D)),
           "D_tracer_err_cm2_s": float(np.std(msd_D, ddof=1) / np.sqrt(len(msd_D)))}
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("root", type=Path)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--pairs", action="store_true",
                    help="print the co-occupancy of every kind of site pair up to 3 A")
    ap.add_argument("--pair-classes", action="store_true",
                    help="with --pairs: split each kind by the classes of its two sites")
    ap.add_argument("--tables", action="store_true",
                    help="print the site-energy and barrier tables of lattices/argyrodite.toml")
    a = ap.parse_args(argv)
    res = []
    for system, d in RUNS.items():
        for disorder in d:
            if a.only and f"{system}/{disorder}" not in a.only:
                continue
            r = analyse(a.root, system, disorder, pairs=a.pairs,
                        pair_classes=a.pair_classes)
            res.append(r)
            print(f"{system} {disorder}: populations "
                  + ", ".join(f"{k} {v:.4f}" for k, v in r["populations"].items()))
            print("   T5 moves per Li per s: " + ", ".join(
                f"{k} {v:.3g} ({r['t5_moves_counts'][k]})"
                for k, v in r["t5_moves_per_li_per_s"].items())
                + f"; D = {r['D_tracer_cm2_s']:.3g} +- {r['D_tracer_err_cm2_s']:.2g} cm2/s"
                + f"; changes {r['site_changes']}, unresolved {r['unresolved']}, "
                  f"close pairs both occupied {r['close_pairs_both_occupied']}, "
                  f"hops into blocked sites {r['hops_into_blocked_sites']}")
            print("   T2-T2 pairs both occupied per frame (independent placement): " + ", ".join(
                f"{k} {v:.3f} ({r['t2_pairs_independent_per_frame'][k]:.3f})"
                for k, v in r["t2_pairs_both_per_frame"].items()))
            for k, v in r["pairs"].items():
                print(f"   pair {k:28s} {v['pairs_per_run']:4.0f} pairs: both occupied "
                      f"{v['both_per_frame']:7.3f} per frame, independent "
                      f"{v['independent_per_frame']:7.3f}")
            for k, h in r["hops"].items():
                if h["count"]:
                    print(f"   {k:40s} {h['count']:5d} hops  k = {h['k_Hz']:.3g} Hz")
            sys.stdout.flush()
    if a.json:
        a.json.write_text(json.dumps(res, indent=1))
    if a.tables:
        for system, x in (("Li6PS5Cl", "Cl"), ("Li6PS5I", "I")):   # the file's order
            if any(r["system"] == system for r in res):
                print(toml_tables(res, system, x))


def toml_tables(results, system: str, halogen: str) -> str:
    """The [halogens.X.site_energy_eV] and [halogens.X.kra_eV] tables of
    lattices/argyrodite.toml from :func:`derive` (all exchanges of `system` pooled)."""
    energies, barriers = derive(results, system)
    kT = KB_EV_PER_K * T_K
    out = [f"[halogens.{halogen}.site_energy_eV]   # class 'type:ad' (species on the 4a, 4d "
           f"vertex); from {system}"]
    out += [f'"{c}" = {e:.3f}' for c, e in sorted(energies.items())]
    out += ["", f"[halogens.{halogen}.kra_eV]   # 'hop|class|class' = [E_kra_eV, AIMD hops "
            f"behind it]; +- kT/sqrt(hops), kT = {kT:.4f} eV"]
    rows = {}
    for (t, a, b), (ek, how, n) in barriers.items():
        a, b = sorted((a, b))
        rows[f"{t}|{a}|{b}"] = (ek, how, n)
    for key in sorted(rows):
        ek, how, n = rows[key]
        out.append(f'"{key}" = [{ek:.3f}, {n}]' + ("" if how == "both" else f"   # {how}"))
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- parameters
#: hop types of the lattice model and the AIMD hop keys they pool
HOP_TYPES = ("doublet", "T5-T2", "T5-T4", "T2-T2_intracage", "T2-T2_intercage")
_KEY_TYPE = {"T5-T5 doublet": "doublet", "T5-T2": "T5-T2", "T2-T5": "T5-T2",
             "T5-T4": "T5-T4", "T4-T5": "T5-T4", "T2-T2 intracage": "T2-T2_intracage",
             "T2-T2 intercage": "T2-T2_intercage"}


def _to_ours(cls: str) -> str:
    """Morgan's class 'T5:ad' (4a, 4d vertex species) -> ours 'T5:ac' (4a, 4c): his 4d is
    our 4c (the two settings differ by the inversion x -> -x), so the label is unchanged."""
    return cls


def derive(results, halogen_system: str, nu_Hz: float = 1e13):
    """Site energies per site class and KRA barriers per hop class from the pooled runs of
    one compound (all degrees of exchange), at the AIMD temperature.

    Per unordered class pair of a hop type: k_AB, k_BA (open-pair rates, Hz). Site energies:
    weighted least squares of E_B - E_A = kT ln(k_BA / k_AB) over all pairs seen in both
    directions (weight 1 / (1/N_AB + 1/N_BA)), T5:XS = 0. Barriers: E_kra = kT ln(nu /
    sqrt(k_AB k_BA)); a pair seen in one direction only: E_kra = kT ln(nu / k_AB) - dE/2;
    a pair exposed but never seen: the one-event bound kT ln(nu * exposure) - |dE|/2 (a lower
    bound on the barrier, marked).
    """
    kT = KB_EV_PER_K * T_K
    pool: dict[tuple[str, str, str], list[float]] = {}
    for r in results:
        if r["system"] != halogen_system:
            continue
        for key, h in r["hops"].items():
            kind, pair = key.split("|")
            a, b = pair.split(">")
            t = _KEY_TYPE[kind]
            v = pool.setdefault((t, a, b), [0, 0.0])
            v[0] += h["count"]
            v[1] += h["exposure_s"]
    classes = sorted({c for (_, a, b) in pool for c in (a, b)})
    idx = {c: i for i, c in enumerate(classes)}
    rows, rhs, w = [], [], []
    for (t, a, b), (n, e) in pool.items():
        if a < b or (t, b, a) not in pool:
            continue
        n2, e2 = pool[(t, b, a)]
        if a == b or n == 0 or n2 == 0:
            continue
        row = np.zeros(len(classes))
        row[idx[a]] -= 1
        row[idx[b]] += 1
        rows.append(row)
        rhs.append(kT * np.log((n2 / e2) / (n / e)))      # E_a - E_b ... see sign below
        w.append(1.0 / (1.0 / n + 1.0 / n2))
    # k_AB / k_BA = exp(-(E_B - E_A)/kT)  ->  E_B - E_A = kT ln(k_BA / k_AB); with the row
    # (E_b - E_a) for key (a > b) listed as (a -> b) = (n, e): k_ab = n/e, k_ba = n2/e2
    A = np.array(rows)
    y = np.array(rhs)
    W = np.sqrt(np.array(w))
    anchor = np.zeros(len(classes))
    anchor[idx["T5:XS"]] = 1.0
    A = np.vstack([A * W[:, None], anchor * 1e3])
    y = np.concatenate([y * W, [0.0]])
    E = np.linalg.lstsq(A, y, rcond=None)[0]
    energies = {c: float(E[idx[c]]) for c in classes}
    barriers = {}
    for (t, a, b), (n, e) in pool.items():
        if (t, b, a) in pool and (b, a) < (a, b):
            continue
        n2, e2 = pool.get((t, b, a), (0, 0.0))
        if a == b:
            n2, e2 = n, e
            n, e = n / 2, e / 2
        dE = energies[b] - energies[a]
        if n and n2:
            ek = kT * np.log(nu_Hz / np.sqrt((n / e) * (n2 / e2)))
            how = "both"
        elif n:
            ek = kT * np.log(nu_Hz / (n / e)) - dE / 2
            how = "forward"
        elif n2:
            ek = kT * np.log(nu_Hz / (n2 / e2)) + dE / 2
            how = "backward"
        else:
            ek = kT * np.log(nu_Hz * (e + e2)) - abs(dE) / 2
            how = "bound"
        barriers[(t, a, b)] = (float(ek), how, int(n + n2) if a != b else int(2 * n))
    return energies, barriers


if __name__ == "__main__":
    main()
