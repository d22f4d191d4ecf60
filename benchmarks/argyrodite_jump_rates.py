"""Per-jump-type lithium rates of the argyrodite model against the AIMD they come from.

    python benchmarks/argyrodite_jump_rates.py [--frames N] [--temperatures 300 450 500 600]

For Li6PS5Cl, Li6PS5Br and Li6PS5I (2x2x2 cells, 192 Li, disorder_seed 0) the model is run
with the X/S2- exchange of the AIMD configurations (0, 0.5, 1) and with each halogen's
measured exchange. Every 100 fs of simulated time the Li sites are recorded, as in the AIMD
(inherent structures every 100 fs); from these frames, exactly as
benchmarks/argyrodite_aimd_jumps.py does for the AIMD:

* hops per Li per second of each hop type of the model (the engine's own counts);
* T5 -> T5 moves in de Klerk's terms along each Li's sequence of T5 sites: doublet (the
  other T5 of the doublet), intracage (another doublet of the same 4d cage), intercage
  (a T5 of another cage), per Li per second;
* site populations by type, and the largest number of exclusion pairs (face-sharing and
  intercage T2-T2) found both occupied in a frame (the hard core: 0 means one Li per
  doublet throughout).

Errors are Poisson: a rate from N events has relative error 1/sqrt(N). The AIMD numbers are
our counts from Morgan's trajectories at 500 K (AIMD below), 192 Li x 69-70 ps per entry.
De Klerk, Roslon & Wagemaker (Chem. Mater. 28, 7955 (2016)) give jump rates at 300/450/600 K;
benchmarks/argyrodite_deklerk.py compares the model with them (read in a transcription of
their SI, flag S).
"""
from __future__ import annotations

import argparse
import math
import time

import kmc
from kmc.jumps import count_moves, max_pairs_both_occupied, record_site_frames, \
    site_type_fractions
from kmc.materials import (ARGYRODITE_AIMD_500K, ARGYRODITE_FRAME_S, ARGYRODITE_T5_MOVES,
                           argyrodite_exclusion_pairs, argyrodite_t5_move_classifier,
                           build_material)

FRAME_S = ARGYRODITE_FRAME_S
#: Morgan's AIMD at 500 K, our analysis (benchmarks/argyrodite_aimd_jumps.py): Li-seconds
#: observed, open hops per hop type, T5 -> T5 moves (doublet, intracage, intercage), site
#: populations of T5, T2, T4 (kmc.materials.ARGYRODITE_AIMD_500K).
AIMD = ARGYRODITE_AIMD_500K
HOP_KEYS = ("doublet", "T5-T2", "T5-T4", "T2-T2_intracage", "T2-T2_intercage")
MOVES = ARGYRODITE_T5_MOVES


def run(halogen: str, exchange: float | None, T_K: float, frames: int, seed: int = 1,
        equil_hops: int = 200_000):
    """One model run sampled every FRAME_S (kmc.jumps.record_site_frames) and its counts:
    hops per hop type (the engine's), T5 -> T5 moves (kmc.jumps.count_moves with
    kmc.materials.argyrodite_t5_move_classifier), populations and exclusion-pair check over
    the frames after the start."""
    m = build_material("argyrodite", halogen=halogen, site_exchange=exchange)
    net = m.network
    sim = kmc.Simulation(m, T_K, seed=seed)   # from its initial state: one Li per doublet
    fr = record_site_frames(sim, FRAME_S, frames, equilibration_hops=equil_hops)
    is5 = net.site_types == net.site_type_names.index("T5")
    moves = count_moves(fr.sites, is5, argyrodite_t5_move_classifier(m), MOVES)
    pop = site_type_fractions(fr.sites[1:], net.site_types, net.site_type_names)
    pi, pj = argyrodite_exclusion_pairs(m)
    return dict(halogen=halogen, exchange=m.options["site_exchange"], T_K=T_K,
                li_s=fr.ion_time_s, hops=fr.hop_type_counts, moves=moves,
                pop=[pop[t] for t in ("T5", "T2", "T4")],
                max_pairs_both_occupied=max_pairs_both_occupied(fr.sites[1:], pi, pj,
                                                                net.n_sites),
                n_ions=m.n_ions, frames=frames)


def fmt(n: int, li_s: float) -> str:
    if n == 0:
        return f"< {1 / li_s:.1e} (0)"
    return f"{n / li_s:.2e} +- {math.sqrt(n) / li_s:.1e}"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=3000, help="100 fs frames per run")
    ap.add_argument("--temperatures", type=float, nargs="*", default=[300.0, 450.0, 500.0,
                                                                       600.0])
    a = ap.parse_args(argv)
    print(f"# frames of 100 fs per run: {a.frames}; rates per Li per s (+- Poisson)")
    for halogen in ("Cl", "Br", "I"):
        cases = [None] + ([0.0, 0.5, 1.0] if halogen != "Br" else [])
        for exch in cases:
            for T in a.temperatures:
                if exch is not None and T != 500.0:
                    continue   # the AIMD exchange configurations: at the AIMD temperature
                w = time.perf_counter()
                r = run(halogen, exch, T, a.frames)
                print(f"\n## Li6PS5{halogen}, site_exchange {r['exchange']:.4g}, {T:g} K "
                      f"(model, {r['frames'] * FRAME_S * 1e12:.0f} ps x {r['n_ions']} Li, "
                      f"{time.perf_counter() - w:.1f} s wall); max exclusion pairs both "
                      f"occupied in a frame: {r['max_pairs_both_occupied']}")
                ref = AIMD.get((halogen, exch)) if T == 500.0 and exch is not None else None
                print(f"{'jump type':<18s} {'kmc':>28s} {'AIMD (Morgan, 500 K)':>28s}")
                for k in HOP_KEYS:
                    aim = fmt(ref["hops"][k], ref["li_time_s"]) if ref else "-"
                    print(f"{'hop ' + k:<18s} {fmt(r['hops'][k], r['li_s']):>28s} {aim:>28s}")
                for k in MOVES:
                    aim = fmt(ref["t5_moves"][k], ref["li_time_s"]) if ref else "-"
                    print(f"{'T5 move ' + k:<18s} {fmt(r['moves'][k], r['li_s']):>28s} "
                          f"{aim:>28s}")
                pops = " / ".join(f"{p:.3f}" for p in r["pop"])
                aim = " / ".join(f"{ref['populations'][t]:.3f}" for t in ("T5", "T2", "T4")
                                 ) if ref else "-"
                print(f"{'pop T5/T2/T4':<18s} {pops:>28s} {aim:>28s}")


if __name__ == "__main__":
    main()
