"""kmc on the Deng et al. 2022 NASICON model at the paper's supercell size and beyond.

The model is kmc's built-in NASICON (``kmc lattices show nasicon``: the authors' deng2022
local cluster expansions of E_KRA and E_site on the 12-site Na1 environment, the "kmcpy"
rate law, 5e12 Hz), x = 2 (Na3Zr2Si2PO12, a seeded random Si/P arrangement), 573 K.

Deng et al. ran 8x8x8 primitive rhombohedral cells: 4096 Na sites (a primitive cell holds
two formula units, 8 Na sites; a hexagonal cell three primitive cells, 24 Na sites), which
no hexagonal supercell matches (6x6x4 = 3456 and 8x8x3 = 4608 are the nearest). This
script builds the paper's cell itself ("prim 8x8x8": kmc's NASICON CIF reduced to the
primitive cell and repeated as kMCpy repeats it, kmc.interop.kmcpy's helpers, the same
environments, model and checks as ``kmc.build_material("nasicon")``), and hexagonal
supercells as ``kmc run nasicon --size`` builds them: 6x6x4 (3456), 10x10x4 (9600),
16x16x8 (49 152) and 24x24x16 (221 184 Na sites).

Each size runs in its own single-threaded subprocess (peak memory is that size's):

- build s: the network (lattice, environments, Si/P arrangement, models);
  set-up s: kmc.Simulation (ions placed, the engine and its rates);
- engine: ``Engine.run`` of --hops hops after a warm-up of a fifth of them, best of three:
  hops/s and the engine's bytes per Na site (``Engine.memory_bytes``);
- run: ``Simulation.run`` of --steps-per-site hops per Na site, clipped to [2x10^6, 2x10^7]
  (--quick [10^6, 2x10^6]; equilibration a tenth, 100 blocks): its hops/s (production,
  engine time as ``Result.hops_per_s``), its wall time, and the observables D*, D_sigma,
  f, sigma (nan where the run is too short to be diffusive: the large sizes);
- cli: ``kmc run nasicon --size ... --steps ... --json`` for the hexagonal sizes, its whole
  wall time (start-up, build, equilibration, production, analysis) and hops/s.

    python benchmarks/bench_nasicon_deng2022.py            # all sizes (about 25 minutes)
    python benchmarks/bench_nasicon_deng2022.py --quick    # up to 10^4 sites, shorter runs
    python benchmarks/bench_nasicon_deng2022.py --json     # one JSON object on stdout
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

T_K = 573.0
X = 2.0
SEED = 1
# (kind, repeats): "prim" = primitive rhombohedral cells (the paper's), "hex" = hexagonal
SIZES = [("prim", (8, 8, 8)), ("hex", (6, 6, 4)), ("hex", (10, 10, 4)),
         ("hex", (16, 16, 8)), ("hex", (24, 24, 16))]
QUICK_SIZES = SIZES[:3]
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "NUMBA_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def primitive_network(reps, x: float = X, seed: int = SEED):
    """The deng2022 NASICON model on reps primitive rhombohedral cells (8 Na sites each),
    built as kmc.materials builds the hexagonal one. Returns (network, number of ions)."""
    from importlib import resources

    from kmc.interop.kmcpy import (KmcpyInputs, LceSpec, _kmcpy_structure, _kmcpy_supercell,
                                   _min_image, nasicon_environments, to_network)
    from kmc.materials import _nasicon_unit_check, nasicon_lce, nasicon_lce_data

    cif = resources.files("kmc.data").joinpath("structures/nasicon_Na4Zr2Si3O12_573K.cif")
    prim = _kmcpy_structure(str(cif), True)
    lattice, sc_prim, sc_frac = _kmcpy_supercell(prim, tuple(reps))
    species = np.array([prim[int(p)].specie.symbol for p in sc_prim])
    labels = np.array([prim[int(p)].properties["label"] for p in sc_prim])
    pos = np.asarray(lattice.get_cartesian_coords(sc_frac))
    L = np.asarray(lattice.matrix)
    na, si = np.flatnonzero(species == "Na"), np.flatnonzero(species == "Si")
    mob, tet = pos[na], pos[si]
    centres = np.flatnonzero(labels[na] == "Na1")
    hops, env, est = nasicon_environments(L, mob, tet, centres, cutoff_A=4.0)
    data = nasicon_lce_data()
    unit = np.array([u["xyz_A"] for u in data["unit"]], dtype=float)
    env_A = np.where((env >= 0)[..., None], mob[np.maximum(env, 0)], tet[np.maximum(est, 0)])
    first = np.unique(hops[:, 0], return_index=True)[1]
    _nasicon_unit_check(L, mob[hops[first, 0]], env_A[first], unit)
    rng = np.random.default_rng(seed)
    n_fu = len(si) // 3
    is_si = np.zeros(len(si), dtype=bool)
    is_si[rng.choice(len(si), size=int(round(x * n_fu)), replace=False)] = True

    def spec(role: str) -> LceSpec:
        m = nasicon_lce("deng2022", role)
        return LceSpec(name=role, e0_eV=m.e0_eV, clusters=m.clusters,
                       coefficients_eV=m.coefficients_eV, phi_empty=1.0, phi_occupied=-1.0)

    inputs = KmcpyInputs(
        lattice_A=L, positions_A=mob, site_labels=labels[na], kmcpy_index=np.arange(len(na)),
        hops=hops, hop_vectors_A=_min_image(mob[hops[:, 1]] - mob[hops[:, 0]], L),
        env_sites=env, env_static_n=np.where(est >= 0, is_si[np.maximum(est, 0)], 0
                                             ).astype(np.int8),
        kra=spec("kra"), site=spec("site"), occupied=np.zeros(len(na), dtype=bool))
    net = to_network(inputs, name="nasicon", charge_e=1.0)
    return net.replace(hop_type_names=("Na1->Na2", "Na2->Na1")), int(round((1 + x) * n_fu))


def build(kind: str, reps):
    """(network, ions, attempt frequency Hz, rate law) of one size."""
    import kmc

    if kind == "prim":
        net, n_ions = primitive_network(reps)
        m = kmc.build_material("nasicon", x=X, size=(1, 1, 1), disorder_seed=SEED)
        return net, n_ions, m.attempt_frequency_Hz, m.rate_law
    m = kmc.build_material("nasicon", x=X, size=tuple(reps), disorder_seed=SEED)
    return m.network, m.n_ions, m.attempt_frequency_Hz, m.rate_law


def worker(spec: dict) -> dict:
    import kmc

    t0 = time.perf_counter()
    net, n_ions, nu, rate_law = build(spec["kind"], spec["reps"])
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    sim = kmc.Simulation(net, T_K, n_ions=n_ions, seed=SEED, attempt_frequency_Hz=nu,
                         rate_law=rate_law)
    eng = sim.engine
    setup_s = time.perf_counter() - t0
    n = spec["hops"]
    eng.run(n // 5)
    best = 0.0
    for _ in range(3):
        t = time.perf_counter()
        done, _ = eng.run(n)
        best = max(best, done / (time.perf_counter() - t))
    out = {"kind": spec["kind"], "reps": list(spec["reps"]), "sites": int(net.n_sites),
           "ions": int(n_ions), "build_s": build_s, "setup_s": setup_s,
           "engine_hops_per_s": best, "engine_B_per_site": eng.memory_bytes / net.n_sites,
           "engine_mode": getattr(eng, "mode", "")}
    lo, hi = spec["steps_range"]
    steps = int(min(max(lo, spec["steps_per_site"] * net.n_sites), hi))
    t = time.perf_counter()
    res = sim.run(steps=steps, equilibration=steps // 10, blocks=100)
    out.update(run_steps=steps, run_wall_s=time.perf_counter() - t,
               run_hops_per_s=res.hops_per_s, diffusive=bool(res.diffusive),
               D_tracer_cm2_s=res.D_tracer_cm2_s, D_tracer_cm2_s_err=res.D_tracer_cm2_s_err,
               D_sigma_cm2_s=res.D_sigma_cm2_s, D_sigma_cm2_s_err=res.D_sigma_cm2_s_err,
               f=res.correlation_factor, f_err=res.correlation_factor_err,
               sigma_S_cm=res.sigma_S_cm, sigma_S_cm_err=res.sigma_S_cm_err)
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                out["peak_MB"] = int(line.split()[1]) / 1024
    return out


def cli(reps, steps: int) -> dict:
    """`kmc run nasicon` of the same model (hexagonal sizes): whole wall time."""
    cmd = [sys.executable, "-m", "kmc.cli", "run", "nasicon", "--size",
           ",".join(map(str, reps)), "--x", str(X), "--temperature", str(T_K),
           "--steps", str(steps), "--seed", str(SEED), "--disorder-seed", str(SEED),
           "--json", "--no-summary-json"]
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=_env())
    wall = time.perf_counter() - t
    if r.returncode != 0:
        return {"cli_error": (r.stderr.strip().splitlines() or [f"exit {r.returncode}"])[-1]}
    try:
        j = json.loads(r.stdout)
    except ValueError:
        j = {}
    return {"cli_wall_s": wall, "cli_hops_per_s": j.get("hops_per_s")}


def _env() -> dict:
    env = dict(os.environ)
    for var in THREAD_VARS:
        env[var] = "1"
    return env


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="up to 10^4 sites, shorter runs")
    ap.add_argument("--json", action="store_true", help="one JSON object on stdout")
    ap.add_argument("--hops", type=int, default=None,
                    help="hops of each timed Engine.run (default 10^6, --quick 2x10^5)")
    ap.add_argument("--steps-per-site", type=float, default=None,
                    help="Simulation.run hops per Na site (default 500, --quick 100)")
    ap.add_argument("--no-cli", action="store_true", help="skip the `kmc run` rows")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    hops = args.hops or (200_000 if args.quick else 1_000_000)
    sps = args.steps_per_site or (100.0 if args.quick else 500.0)
    steps_range = (1_000_000, 2_000_000) if args.quick else (2_000_000, 20_000_000)
    import kmc
    log = sys.stderr if args.json else sys.stdout
    print(f"kmc {kmc.__version__}, {platform.machine()}, Python {platform.python_version()}; "
          f"NASICON deng2022, x = {X:g}, {T_K:g} K, one thread", file=log)
    hdr = (f"{'cell':>14} {'Na sites':>9} {'build s':>8} {'set-up s':>8} {'engine Mh/s':>11} "
           f"{'B/site':>7} {'run Mh/s':>9} {'run wall s':>10} {'cli wall s':>10} "
           f"{'peak MB':>8}  D* (cm^2/s), D_sigma, f, sigma (S/cm)")
    print(hdr, file=log)
    rows = []
    for kind, reps in (QUICK_SIZES if args.quick else SIZES):
        spec = {"kind": kind, "reps": list(reps), "hops": hops, "steps_per_site": sps,
                "steps_range": steps_range}
        r = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker",
                            json.dumps(spec)], capture_output=True, text=True, env=_env())
        if r.returncode != 0:
            row = {**spec, "error": (r.stderr.strip().splitlines() or ["?"])[-1]}
            print(f"{kind} {reps}: FAILED {row['error']}", file=log, flush=True)
            rows.append(row)
            continue
        row = json.loads(r.stdout.strip().splitlines()[-1])
        if kind == "hex" and not args.no_cli:
            row.update(cli(reps, row["run_steps"]))
        rows.append(row)
        cell = f"{kind} {'x'.join(map(str, reps))}"
        print(f"{cell:>14} {row['sites']:>9} {row['build_s']:>8.2f} {row['setup_s']:>8.2f} "
              f"{row['engine_hops_per_s'] / 1e6:>11.3f} {row['engine_B_per_site']:>7.0f} "
              f"{row['run_hops_per_s'] / 1e6:>9.3f} {row['run_wall_s']:>10.1f} "
              f"{row.get('cli_wall_s', float('nan')):>10.1f} {row.get('peak_MB', 0):>8.0f}  "
              f"{row['D_tracer_cm2_s']:.3g}+-{row['D_tracer_cm2_s_err']:.2g}, "
              f"{row['D_sigma_cm2_s']:.3g}+-{row['D_sigma_cm2_s_err']:.2g}, "
              f"{row['f']:.3f}+-{row['f_err']:.3f}, "
              f"{row['sigma_S_cm']:.3g}+-{row['sigma_S_cm_err']:.2g}"
              + ("" if row["diffusive"] else "  (not diffusive)"), file=log, flush=True)
    if args.json:
        json.dump({"kmc_version": kmc.__version__, "temperature_K": T_K, "x": X,
                   "engine_hops": hops, "steps_per_site": sps, "rows": rows},
                  sys.stdout, indent=1)
        print()


if __name__ == "__main__":
    main()
