"""Per-jump-type Li rates of the argyrodite model against de Klerk, Roslon & Wagemaker (2016).

    python benchmarks/argyrodite_deklerk.py [--frames N] [--frame-fs F] [--temperatures ...]

De Klerk, Roslon & Wagemaker, Chem. Mater. 28, 7955 (2016), ran AIMD (VASP, PBE, one unit
cell of 52 atoms = 24 Li, 100 ps, 300/450/600 K; Li6PS5Cl and Li6PS5Br with half of the
cage-centre sites - their 4c, our 4d - holding the halogen, Li6PS5I with all I on 4a) and
counted Li jumps between 48h sites in three classes: doublet (within a 48h pair), intracage
(between pairs of one cage) and intercage (between cages), as tau = J / (N t), J jumps of the
class, N Li, t time: jumps per Li per second. Their numbers (SI Tables S1-S3) were read in a
secondary transcription, not in the paper: reference ``deklerk2016_si`` of
lattices/argyrodite.toml (flag S).

kmc side, same normalisation: the model's 2x2x2 cell (192 Li) is sampled every `--frame-fs`
(default 10 fs) with kmc.jumps.record_site_frames, and the
moves along each Li's sequence of T5 (48h) sites are counted with kmc.jumps.count_moves and
kmc.materials.argyrodite_t5_move_classifier, per Li per second. The mapping:

* de Klerk's 48h sites are the model's T5 sites (Li1 of the refinement, 48h); T2 and T4 are
  interstitial tetrahedra 1.26 and 1.71 A from a T5, outside de Klerk's 0.9 A site spheres,
  so a Li there has left its 48h site but not yet arrived at another one: only the T5 sites
  are tracked.
* doublet = T5 -> the other T5 of its doublet; intracage = T5 -> a T5 of another doublet of
  the same 4d cage; intercage = T5 -> a T5 of another cage.
* an excursion T5 -> T2 -> T5' counts once, as intracage (T2 joins two doublets of one cage);
  T5 -> T2 -> same T5 (or T5 -> T4 -> same T5) is no jump; T5 -> T4 -> T5' and
  T5 -> T2 -> T2 (around a 4a anion) -> T5' are one intercage jump.

Errors: kmc, the standard error of the mean over 10 time blocks (de Klerk's 10 blocks), with
the Poisson error sqrt(N) beside it; de Klerk, the bracketed 1 sigma of their tables. Their
sigma is much larger than sqrt(J) (e.g. Li6PS5I 300 K doublet: 3500 jumps, sqrt(J) gives 2.5,
the table 9.7 (1e10 s^-1)), about sqrt(10) sqrt(J): it is read here as the spread of the 10
block rates, so the error of their mean would be sigma / sqrt(10). Both are shown: "z" uses
sigma as printed, "z10" sigma / sqrt(10).

Cases: Li6PS5Cl at the model's default exchange (0.6151, the neutron refinement) and at 0.5
(de Klerk's setup), Li6PS5Br (default 0.5, de Klerk's 50 %), Li6PS5I (default 0, all I on
4a, as de Klerk's); each at 300, 450 and 600 K. No model parameter is set from de Klerk.

Frames: at 100 fs (Morgan's AIMD interval, kmc.materials.ARGYRODITE_FRAME_S) a doublet jump
and its return within one frame are both missed: Li6PS5I at 600 K gives 104e10 doublet jumps
per Li per s at 100 fs, 122e10 at 10 fs and 125e10 at 2 fs (de Klerk's MD step); 10 fs
resolves the model's T5 changes within the errors. De Klerk's own analysis interval is not
stated in the transcription.
"""
from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np

import kmc
from kmc.arrhenius import fit_arrhenius
from kmc.errors import ConfigError
from kmc.jumps import count_moves, record_site_frames, site_type_fractions
from kmc.materials import (ARGYRODITE_FRAME_S, ARGYRODITE_T5_MOVES,
                           argyrodite_t5_move_classifier, build_material)

MOVES = ARGYRODITE_T5_MOVES
N_BLOCKS = 10

#: de Klerk, Roslon & Wagemaker, Chem. Mater. 28, 7955 (2016), SI Tables S1-S3 (300, 450,
#: 600 K) as transcribed (reference deklerk2016_si of lattices/argyrodite.toml, flag S): jump
#: rate per Li, 1e10 s^-1, (rate, 1 sigma) per class; None = no jump of the class ("-").
#: Li6PS5Cl is their "50 % Cl on 4c" configuration.
DEKLERK: dict[tuple[str, float], dict[str, tuple[float, float] | None]] = {
    ("Cl", 300.0): dict(intercage=(0.73, 1.05), intracage=(17.78, 3.20), doublet=(21.58, 3.82)),
    ("Cl", 450.0): dict(intercage=(3.12, 1.27), intracage=(36.75, 5.54), doublet=(26.11, 4.73)),
    ("Cl", 600.0): dict(intercage=(7.56, 1.06), intracage=(56.88, 5.21), doublet=(37.48, 6.51)),
    ("Br", 300.0): dict(intercage=(1.03, 0.72), intracage=(13.97, 5.31), doublet=(18.85, 6.33)),
    ("Br", 450.0): dict(intercage=(3.16, 1.67), intracage=(26.54, 4.70), doublet=(36.03, 4.23)),
    ("Br", 600.0): dict(intercage=(7.18, 2.31), intracage=(40.47, 4.93), doublet=(41.07, 4.78)),
    ("I", 300.0): dict(intercage=None, intracage=None, doublet=(145.26, 9.68)),
    ("I", 450.0): dict(intercage=None, intracage=(0.26, 0.55), doublet=(203.25, 7.26)),
    ("I", 600.0): dict(intercage=None, intracage=(3.08, 2.45), doublet=(243.89, 10.51)),
}
#: De Klerk's Li-time per run: 24 Li x (100 - 2.5) ps of production (their equilibration).
DEKLERK_LI_S = 24 * 97.5e-12

#: (halogen, site_exchange or None for the material file's default)
CASES = (("Cl", None), ("Cl", 0.5), ("Br", None), ("I", None))


def block_counts(sites: np.ndarray, tracked: np.ndarray, classify, n_blocks: int
                 ) -> np.ndarray:
    """Moves per class in each of `n_blocks` consecutive blocks of frames, shape
    (n_blocks, len(MOVES)): differences of the cumulative counts of kmc.jumps.count_moves
    over frames 0..end of each block, so a move through untracked sites that straddles a
    block edge is counted once, in the block where it completes."""
    n = sites.shape[0] - 1
    ends = [round(n * (k + 1) / n_blocks) for k in range(n_blocks)]
    cum = np.array([[count_moves(sites[:e + 1], tracked, classify, MOVES)[c] for c in MOVES]
                    for e in ends])
    return np.diff(np.vstack([np.zeros(len(MOVES), np.int64), cum]), axis=0)


def run(halogen: str, exchange: float | None, T_K: float, frames: int, frame_s: float,
        seed: int = 1, equil_hops: int = 200_000, disorder_seed: int = 0) -> dict:
    """One model run: T5 moves per class (total and per block), Li-seconds, populations."""
    m = build_material("argyrodite", halogen=halogen, site_exchange=exchange,
                       disorder_seed=disorder_seed)
    net = m.network
    sim = kmc.Simulation(m, T_K, seed=seed)   # from its initial state: one Li per doublet
    fr = record_site_frames(sim, frame_s, frames, equilibration_hops=equil_hops)
    is5 = net.site_types == net.site_type_names.index("T5")
    classify = argyrodite_t5_move_classifier(m)
    blocks = block_counts(fr.sites, is5, classify, N_BLOCKS)
    total = count_moves(fr.sites, is5, classify, MOVES)
    assert [total[c] for c in MOVES] == blocks.sum(axis=0).tolist()
    pop = site_type_fractions(fr.sites[1:], net.site_types, net.site_type_names)
    return dict(halogen=halogen, exchange=float(m.options["site_exchange"]), T_K=T_K,
                li_s=fr.ion_time_s, n_ions=m.n_ions, frames=frames, frame_s=frame_s,
                moves=total, blocks=blocks.tolist(), hops=fr.hop_type_counts,
                pop={t: pop[t] for t in ("T5", "T2", "T4")})


def rates_1e10(r: dict) -> dict[str, tuple[float, float, float]]:
    """Per class: rate, block standard error, Poisson error (1e10 s^-1 per Li)."""
    out = {}
    blocks = np.asarray(r["blocks"], dtype=float)
    li_block = r["li_s"] / N_BLOCKS
    for k, c in enumerate(MOVES):
        n = r["moves"][c]
        rate = n / r["li_s"] / 1e10
        sem = float(np.std(blocks[:, k] / li_block, ddof=1)) / math.sqrt(N_BLOCKS) / 1e10
        out[c] = (rate, sem, math.sqrt(n) / r["li_s"] / 1e10)
    return out


def compare_row(c: str, kmc_r: tuple[float, float, float], ref) -> dict:
    """kmc vs de Klerk for one class: ratio and its error, z (de Klerk sigma as printed)
    and z10 (sigma / sqrt(10)); for a class de Klerk never saw, their one-jump bound."""
    rate, sem, pois = kmc_r
    err = max(sem, pois)
    row = dict(cls=c, kmc=rate, kmc_err=err, kmc_sem=sem, kmc_poisson=pois)
    if ref is None:
        row.update(dk=None, dk_bound=1 / DEKLERK_LI_S / 1e10)
        return row
    dk, sig = ref
    row.update(dk=dk, dk_sigma=sig, ratio=rate / dk,
               ratio_err=rate / dk * math.hypot(err / rate if rate else 0.0, sig / dk),
               z=(rate - dk) / math.hypot(err, sig),
               z10=(rate - dk) / math.hypot(err, sig / math.sqrt(N_BLOCKS)))
    return row


def jump_arrhenius(points: list[tuple[float, float, float]]) -> tuple[float, float] | None:
    """Activation energy (eV) and its error of a jump rate, rate = nu exp(-Ea / kT), from
    (T_K, rate, 1 sigma) points: kmc.arrhenius.fit_arrhenius on ln(rate) (quantity "D"),
    weighted by the errors, its covariance inflated by the reduced chi^2 when that exceeds 1.
    None with fewer than two temperatures that have a positive rate."""
    pts = [p for p in points if p[1] > 0 and p[2] > 0]
    if len({p[0] for p in pts}) < 2:
        return None
    try:
        fit = fit_arrhenius(*zip(*pts), quantity="D")
    except ConfigError:
        return None
    return fit.Ea_eV, fit.Ea_err_eV


def print_arrhenius(label: str, rows_by_T: dict[float, list[dict]]) -> list[dict]:
    """Per class: the Arrhenius activation energy of kmc's rates and of de Klerk's over the
    temperatures run, and over 450-600 K only (de Klerk's 300 K intercage rates rest on a
    handful of jumps). Returns the fits as dicts (class, temperatures, (Ea, error) or None
    for kmc and for de Klerk)."""
    def fmt(e):
        return "-" if e is None else f"{e[0]:.3f} +- {e[1]:.3f}"

    out = []
    print(f"\n## Arrhenius activation energy per jump type, {label} (eV, 1 sigma; de Klerk "
          f"with their sigma as printed)")
    print(f"{'class':<10s} {'T range K':>10s} {'kmc':>16s} {'de Klerk':>16s}")
    for c in MOVES:
        for lo in sorted({min(rows_by_T), 450.0} & set(rows_by_T)):
            Ts = [T for T in sorted(rows_by_T) if T >= lo]
            if len(Ts) < 2:
                continue
            rows = {T: next(r for r in rows_by_T[T] if r["cls"] == c) for T in Ts}
            k = jump_arrhenius([(T, r["kmc"], r["kmc_err"]) for T, r in rows.items()])
            d = jump_arrhenius([(T, r["dk"], r["dk_sigma"]) for T, r in rows.items()
                                if r.get("dk") is not None])
            rng = f"{Ts[0]:g}-{Ts[-1]:g}"
            print(f"{c:<10s} {rng:>10s} {fmt(k):>16s} {fmt(d):>16s}")
            out.append(dict(cls=c, T_K=Ts, kmc_Ea_eV=k, deklerk_Ea_eV=d))
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=50_000, help="frames per run (default "
                    "50000: 500 ps x 192 Li at 10 fs, 40x de Klerk's 97.5 ps x 24 Li)")
    ap.add_argument("--frame-fs", type=float, default=10.0,
                    help="simulated time between frames, fs (default 10; Morgan's AIMD: "
                    f"{ARGYRODITE_FRAME_S * 1e15:g})")
    ap.add_argument("--disorder-seed", type=int, default=0,
                    help="seed of the random X/S2- exchange (build_material)")
    ap.add_argument("--temperatures", type=float, nargs="*", default=[300.0, 450.0, 600.0])
    ap.add_argument("--halogens", nargs="*", default=["Cl", "Br", "I"])
    ap.add_argument("--json", help="write the runs and comparisons to this file")
    a = ap.parse_args(argv)
    frame_s = a.frame_fs * 1e-15
    print(f"# kmc: 2x2x2 (192 Li), {a.frames} frames of {a.frame_fs:g} fs per run; rates per "
          f"Li in 1e10 s^-1; kmc error = max(10-block SEM, Poisson)")
    print("# de Klerk 2016 SI (via transcription, flag S): 24 Li x 97.5 ps, 1 sigma as "
          "printed; z = diff / hypot(err, sigma), z10 with sigma / sqrt(10)")
    out, arrhenius = [], []
    for halogen, exch in CASES:
        if halogen not in a.halogens:
            continue
        rows_by_T = {}
        for T in a.temperatures:
            w = time.perf_counter()
            r = run(halogen, exch, T, a.frames, frame_s, disorder_seed=a.disorder_seed)
            wall = time.perf_counter() - w
            ref = DEKLERK.get((halogen, T))
            pop = " / ".join(f"{r['pop'][t]:.3f}" for t in ("T5", "T2", "T4"))
            print(f"\n## Li6PS5{halogen}, site_exchange {r['exchange']:.4g} (disorder_seed "
                  f"{a.disorder_seed}), {T:g} K "
                  f"({r['frames'] * frame_s * 1e12:.0f} ps x {r['n_ions']} Li, {wall:.1f} s "
                  f"wall); pop T5/T2/T4 {pop}")
            print(f"{'class':<10s} {'kmc':>20s} {'(block, Poisson)':>17s} {'de Klerk':>16s} "
                  f"{'kmc/dK':>14s} {'z':>6s} {'z10':>6s}")
            rates = rates_1e10(r)
            rows = []
            for c in MOVES:
                row = compare_row(c, rates[c], ref[c] if ref else None) if ref else \
                    dict(cls=c, kmc=rates[c][0], kmc_err=max(rates[c][1:]), dk=None)
                rows.append(row)
                k = f"{row['kmc']:.3g} +- {row['kmc_err']:.2g}"
                blk = f"({rates[c][1]:.2g}, {rates[c][2]:.2g})"
                if row.get("dk") is None:
                    dk = "- (none)" if ref else "-"
                    if ref:
                        dk += f" <{row['dk_bound']:.2g}"
                    print(f"{c:<10s} {k:>20s} {blk:>17s} {dk:>16s}")
                    continue
                print(f"{c:<10s} {k:>20s} {blk:>17s} "
                      f"{row['dk']:>7.2f} ({row['dk_sigma']:.2f}) "
                      f"{row['ratio']:>6.2f} +- {row['ratio_err']:.2f} "
                      f"{row['z']:>6.1f} {row['z10']:>6.1f}")
            out.append(dict(run=r, comparison=rows))
            rows_by_T[T] = rows
        if len(rows_by_T) >= 2 and all(DEKLERK.get((halogen, T)) for T in rows_by_T):
            label = f"Li6PS5{halogen}, site_exchange {r['exchange']:.4g}"
            arrhenius.append(dict(case=label, fits=print_arrhenius(label, rows_by_T)))
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(dict(runs=out, arrhenius=arrhenius), fh, indent=1)


if __name__ == "__main__":
    main()
