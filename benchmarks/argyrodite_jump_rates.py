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
* site populations by type, and the largest number of face-sharing site pairs found both
  occupied in a frame (the hard-core exclusion: 0 means one Li per doublet throughout).

Errors are Poisson: a rate from N events has relative error 1/sqrt(N). The AIMD numbers are
our counts from Morgan's trajectories at 500 K (AIMD below), 192 Li x 69-70 ps per entry.
De Klerk, Roslon & Wagemaker (Chem. Mater. 28, 7955 (2016)) give jump rates at 300/450/600 K,
but we could not read that paper (no stored copy), so their numbers are not in the table.
"""
from __future__ import annotations

import argparse
import math
import time

import numpy as np

import kmc
from kmc.materials import build_material

FRAME_S = 100e-15
#: Morgan's AIMD at 500 K, our analysis (benchmarks/argyrodite_aimd_jumps.py): Li-seconds
#: observed, open hops per hop type, T5 -> T5 moves (doublet, intracage, intercage),
#: site populations of T5, T2, T4.
AIMD = {
    ("Cl", 0.0): dict(li_s=1.3344e-08, hops=dict(doublet=13089, T5_T2=10923, T5_T4=1,
                      T2_T2_intracage=46, T2_T2_intercage=0),
                      moves=(13325, 1885, 2), pop=(0.8023, 0.1976, 0.0000)),
    ("Cl", 0.5): dict(li_s=1.33248e-08, hops=dict(doublet=2641, T5_T2=14020, T5_T4=1280,
                      T2_T2_intracage=153, T2_T2_intercage=813),
                      moves=(2849, 2249, 535), pop=(0.6608, 0.3114, 0.0277)),
    ("Cl", 1.0): dict(li_s=1.33248e-08, hops=dict(doublet=9, T5_T2=12032, T5_T4=3152,
                      T2_T2_intracage=106, T2_T2_intercage=3808),
                      moves=(12, 1820, 1289), pop=(0.5522, 0.3740, 0.0737)),
    ("I", 0.0): dict(li_s=1.33248e-08, hops=dict(doublet=21854, T5_T2=1925, T5_T4=0,
                     T2_T2_intracage=0, T2_T2_intercage=0),
                     moves=(21856, 287, 0), pop=(0.9732, 0.0268, 0.0)),
    ("I", 0.5): dict(li_s=1.33056e-08, hops=dict(doublet=3055, T5_T2=8745, T5_T4=435,
                     T2_T2_intracage=20, T2_T2_intercage=1341),
                     moves=(3143, 925, 335), pop=(0.7073, 0.2868, 0.0060)),
    ("I", 1.0): dict(li_s=1.33056e-08, hops=dict(doublet=0, T5_T2=6109, T5_T4=391,
                     T2_T2_intracage=5, T2_T2_intercage=6716),
                     moves=(0, 468, 608), pop=(0.5253, 0.4692, 0.0055)),
}
HOP_KEYS = ("doublet", "T5-T2", "T5-T4", "T2-T2_intracage", "T2-T2_intercage")
MOVES = ("doublet", "intracage", "intercage")


def cage_of_sites(m) -> np.ndarray:
    """Index of the nearest 4d anion site (the cage centre) of every site."""
    net = m.network
    cell = net.cell
    unit = np.array([[0.75, 0.75, 0.75], [0.75, 0.25, 0.25], [0.25, 0.75, 0.25],
                     [0.25, 0.25, 0.75]])
    g = np.stack(np.meshgrid(*(np.arange(n) for n in m.size), indexing="ij"), -1).reshape(-1, 3)
    frac = ((g[:, None, :] + unit[None]) / np.array(m.size)).reshape(-1, 3)
    inv = np.linalg.inv(cell)
    f = frac[None, :, :] - (net.positions @ inv)[:, None, :]
    f -= np.rint(f)
    return np.argmin(np.linalg.norm(f @ cell, axis=2), axis=1)


def face_pairs(net) -> tuple[np.ndarray, np.ndarray]:
    return net.pair_i, net.pair_j


def run(halogen: str, exchange: float | None, T_K: float, frames: int, seed: int = 1,
        equil_hops: int = 200_000):
    m = build_material("argyrodite", halogen=halogen, site_exchange=exchange)
    net = m.network
    types = np.array(net.site_type_names)[net.site_types]
    is5 = types == "T5"
    cage = cage_of_sites(m)
    partner = np.full(net.n_sites, -1)
    dk = net.hop_type_names.index("doublet")
    sel = net.hop_types == dk
    partner[net.hop_src[sel]] = net.hop_dst[sel]
    pi, pj = face_pairs(net)
    sim = kmc.Simulation(net, T_K, n_ions=m.n_ions, seed=seed)
    eng = sim.engine
    eng.run(equil_hops, None)
    st = eng.get_state()
    c0, t0 = np.array(st["type_counts"]), float(st["time_s"])
    last5 = np.where(is5[st["ion_site"]], st["ion_site"], -1)
    moves = dict.fromkeys(MOVES, 0)
    pop = np.zeros(3)
    worst = 0
    for k in range(frames):
        eng.run(10**12, t0 + (k + 1) * FRAME_S)
        s = eng.get_state()["ion_site"]
        occ = np.zeros(net.n_sites, bool)
        occ[s] = True
        worst = max(worst, int(np.sum(occ[pi] & occ[pj])))
        pop += [np.sum(types[s] == t) for t in ("T5", "T2", "T4")]
        on5 = is5[s]
        prev = last5[on5]
        now = s[on5]
        ch = (prev >= 0) & (prev != now)
        p, q = prev[ch], now[ch]
        moves["doublet"] += int(np.sum(partner[p] == q))
        other = partner[p] != q
        moves["intracage"] += int(np.sum(other & (cage[p] == cage[q])))
        moves["intercage"] += int(np.sum(other & (cage[p] != cage[q])))
        last5[on5] = now
    st = eng.get_state()
    li_s = m.n_ions * (float(st["time_s"]) - t0)
    hops = dict(zip(net.hop_type_names, (np.array(st["type_counts"]) - c0).tolist()))
    return dict(halogen=halogen, exchange=m.options["site_exchange"], T_K=T_K, li_s=li_s,
                hops=hops, moves=moves, pop=(pop / pop.sum()).tolist(),
                max_pairs_both_occupied=worst, n_ions=m.n_ions, frames=frames)


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
                      f"{time.perf_counter() - w:.1f} s wall); max face-sharing pairs both "
                      f"occupied in a frame: {r['max_pairs_both_occupied']}")
                ref = AIMD.get((halogen, exch)) if T == 500.0 and exch is not None else None
                print(f"{'jump type':<18s} {'kmc':>28s} {'AIMD (Morgan, 500 K)':>28s}")
                for k in HOP_KEYS:
                    aim = fmt(ref["hops"][k.replace("-", "_")], ref["li_s"]) if ref else "-"
                    print(f"{'hop ' + k:<18s} {fmt(r['hops'][k], r['li_s']):>28s} {aim:>28s}")
                for i, k in enumerate(MOVES):
                    aim = fmt(ref["moves"][i], ref["li_s"]) if ref else "-"
                    print(f"{'T5 move ' + k:<18s} {fmt(r['moves'][k], r['li_s']):>28s} "
                          f"{aim:>28s}")
                pops = " / ".join(f"{p:.3f}" for p in r["pop"])
                aim = " / ".join(f"{p:.3f}" for p in ref["pop"]) if ref else "-"
                print(f"{'pop T5/T2/T4':<18s} {pops:>28s} {aim:>28s}")


if __name__ == "__main__":
    main()
