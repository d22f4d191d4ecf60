"""Li site populations of the Li6PS5Br model at 600 K against Sadowski & Albe's AIMD.

    python benchmarks/argyrodite_br_populations.py [--frames N]

The reference (an AIMD independent of the model's parameters, which come from Morgan's
Li6PS5Cl and Li6PS5I; kmc's Br runs the Cl tables): M. Sadowski, K. Albe, "Influence of
Br-/S2- site-exchange on Li diffusion mechanism in Li6PS5Br - a computational study",
Philosophical Transactions A, doi 10.1098/rsta.2019.0458 (as the data repository's README
cites it; the paper itself was not read); data at github.com/Gitdowski/DFT-Data. VASP, PBE, 96 Li (a sqrt2 x sqrt2 x 2 supercell of the cubic
cell, a = 10.2855 A), 600 K and 1 fs steps (TEBEG = TEEND = 600, POTIM = 1.0 in the INCARs
of data/ordered/Ensemble2 and data/6.25%disorder/03; the other runs have no INCAR in the
repository and are taken to be the same study's 600 K runs, not read). The file
`Tetrahdral_Occupancies_Percentages.txt` of each run gives the share of the time-averaged Li
density inside the tetrahedra of types 1-5 ("Total" row, %); types 5, 2 and 4 are the T5,
T2 and T4 of the model (Morgan's names follow the same scheme), type 1 holds 0.02-0.07 %
and type 3 none. Read (flag V) from data/ordered/Ensemble1 and Ensemble2 (no anion
exchange) and data/6.25%disorder/01-04 (one Br/S pair exchanged of 16 + 16 anion sites:
site_exchange 1/16).

The model is run at the same exchange (2x2x2, 192 Li; at 1/16 two of the 32 4d sites hold
Br, four X/S arrangements, disorder_seed 0-3), every Li's site recorded every 100 fs after
200 000 hops; populations are the fractions of Li on T5, T2 and T4 over the frames (the
nearest-site assignment of the model's own sites, against the AIMD's density inside each
tetrahedron; for Morgan's data the two assignments agree within 2 % on T2).
"""
from __future__ import annotations

import argparse
import statistics

import kmc
from kmc.jumps import record_site_frames, site_type_fractions
from kmc.materials import ARGYRODITE_FRAME_S, build_material

#: Sadowski & Albe's AIMD at 600 K, % of the Li density in T5 / T2 / T4 tetrahedra ("Total"
#: row of Tetrahdral_Occupancies_Percentages.txt), per run
SADOWSKI_600K = {
    0.0: [(85.087, 14.872, 0.009), (85.037, 14.937, 0.004)],
    1 / 16: [(82.135, 17.690, 0.144), (82.368, 17.460, 0.137), (82.171, 17.653, 0.110),
             (82.634, 17.183, 0.139)],
}
TYPES = ("T5", "T2", "T4")


def model(exchange: float, disorder_seed: int, frames: int, T_K: float = 600.0,
          seed: int = 1) -> tuple[float, ...]:
    m = build_material("argyrodite", halogen="Br", site_exchange=exchange,
                       disorder_seed=disorder_seed)
    net = m.network
    sim = kmc.Simulation(m, T_K, seed=seed)   # from its initial state: one Li per doublet
    fr = record_site_frames(sim, ARGYRODITE_FRAME_S, frames, equilibration_hops=200_000)
    pop = site_type_fractions(fr.sites[1:], net.site_types, net.site_type_names)
    return tuple(100 * pop[t] for t in TYPES)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=3000, help="100 fs frames per run")
    a = ap.parse_args(argv)
    print(f"Li6PS5Br, 600 K: % of Li on T5 / T2 / T4 (mean, and range over runs); "
          f"model {a.frames} frames of 100 fs per run")
    for exchange, ref in SADOWSKI_600K.items():
        seeds = [0] if exchange == 0.0 else [0, 1, 2, 3]
        runs = [model(exchange, s, a.frames) for s in seeds]
        for label, rows in (("kmc", runs), ("AIMD (Sadowski & Albe)", ref)):
            cols = list(zip(*rows))
            print(f"  exchange {exchange:.4g}  {label:<24s}" + " / ".join(
                f"{statistics.mean(c):6.2f} ({min(c):.2f}-{max(c):.2f})" for c in cols))


if __name__ == "__main__":
    main()
