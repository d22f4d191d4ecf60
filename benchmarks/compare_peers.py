"""kmc side by side with the peer KMC codes: kmcpy 0.3.0 and lattice_mc 1.0.4 (PyPI), kMCpy.

    python benchmarks/compare_peers.py            # full comparison (about 30 minutes, 15 GB)
    python benchmarks/compare_peers.py --quick    # 10^3 sites and NASICON, short runs (~2 min)
    python benchmarks/compare_peers.py --json     # one JSON object on stdout (table on stderr)

The peers are never dependencies of kmc. Run this script in a separate venv holding kmc and
both peers, made exactly as benchmarks/requirements-peers.txt says:

    python3 -m venv ~/peers-venv && . ~/peers-venv/bin/activate
    pip install --no-deps -r benchmarks/requirements-peers.txt   # every package pinned
    pip install --no-deps .                                      # kmc (builds the C engine)

(--no-deps because lattice-mc 1.0.4 declares its test tools as runtime requirements, among
them coverage==4.3.4, which breaks numba's import; lattice_mc imports only numpy and scipy.)
A code that cannot be imported is skipped with a message.

Problems
--------
1. Non-interacting lattice gas on a periodic simple-cubic lattice: a = 3 A, nearest-
   neighbour hops only, one barrier, no site energies; occupancy c = 0.5 and 0.05; 10^3 and
   8x10^3 sites for every code, and for kmc alone also 6.4x10^4, 10^6 and 215^3 ~ 10^7.
   kmc and kmcpy: Ea = 0.3 eV, nu = 1e13 Hz, T = 300 K. lattice_mc has no barriers (every
   allowed hop has its fixed rate 1e13 Hz), so transport is compared in reduced form,
   D / (Gamma a^2) with each code's own hop rate Gamma. Exact: D_sigma / (Gamma a^2) = 1 - c.
   The tracer correlation factor f(c) is known only numerically: kmc's and each peer's f are
   compared with each other.
2. NASICON: the Na sublattice of R-3c NASICON (Na1 6b, Na2 18e; Na1-Na2 hops of 3.478 A),
   x = 2 (3 Na per 4 sites), built at run time from kmc's crystal data (lattices/nasicon.toml;
   no crystal file of the peers is used or stored), at kmcpy's example size (2 hexagonal
   cells, 48 Na sites, its 72 events) and, in the full run, at 16 cells (384 sites). kmcpy's
   example runs fitted cluster-expansion barriers whose inputs cannot be had here, so all
   three codes run the same NASICON lattice gas: one barrier (0.347 eV, 573 K for kmc and
   kmcpy), no site energies, no interactions. kmc: kmc.build_material("nasicon", x=2,
   size=(1, 2, 1)) with energies and pairs removed; kmcpy: a P1 CIF of the hexagonal cell, its
   EventGenerator, supercell (1, 2, 1); lattice_mc: a sites file of the orthohexagonal cell
   (its periodic boundaries must be orthogonal). The three cells span the same lattice.

3. kMCpy's NASICON test model (--problems kmcpy-nasicon; code "kmcpy-src"): kMCpy itself,
   from its repository source at commit 7761fdd in its own venv (made as
   benchmarks/kmcpy_peer.py says; never imported here), on its tests/files/input model
   (composite local cluster expansion of E_KRA and E_site, 5e12 Hz, 14 Na on 16 sites),
   beside kmc on the same files (kmc.interop.kmcpy): kMCpy's 2x1x1 supercell and 2x2x2, at
   873 and 573 K, and Deng et al. 2022's 8x8x8 (4096 Na sites) at 873 K (--quick: 2x1x1,
   873 K). Needs pymatgen beside kmc (pip install
   '.[kmcpy]'), --kmcpy-python VENV/bin/python and --kmcpy-src KMCPY (or $KMCPY_PYTHON,
   $KMCPY_SRC):

       python benchmarks/compare_peers.py --problems kmcpy-nasicon --codes kmc,kmcpy-src \
           --kmcpy-python VENV/bin/python --kmcpy-src KMCPY        # about 12 minutes

   kMCpy runs `kmcpy_peer.py blocks` in its venv: at 2x1x1 its test inputs themselves; at
   a multiple of 2x1x1 the events of its own EventGenerator (the settings of its test) and
   the test's initial state tiled by position. 500 equilibration passes (--quick 100; one
   above 64 Na sites: kMCpy makes 80 hops/s at 8x8x8), then the body of KMC.run's
   production loop, recorded in blocks as below. At 8x8x8 the default budget holds about
   2 hops per ion (timing only); a checked run there needs about 2 hours of kMCpy:
   --kmcpy-sizes 8x8x8 --kmcpy-temps 873 --budget 5400 --kmcpy-eq-passes 20 (kmc's f and
   D_sigma at kMCpy's block lengths are then recorded exactly as kMCpy's run is). kmc reads kMCpy's
   CIF, model.json and initial_state.json in place; the events are
   tests/data/kmcpy/events_regenerated.json (kMCpy's generator's output for pymatgen 2026:
   kMCpy's committed events.json fits only the site order of the pymatgen 2025.10 its venv
   pins), tiled for 2x2x2 (bench_energy_models.tile_kmcpy). kmc starts from kMCpy's initial
   ions (mapped by position) and checks that the static Si/P sites are kMCpy's. There is
   no single hop rate: D_J (= D_sigma) and D* are compared in 1e-6 cm^2/s, with f and sigma.

What is measured, and how
-------------------------
Every (problem, code) pair runs in its own subprocess, one at a time, alternating kmcpy,
lattice_mc, kmc, kmcpy, ... (one thread: OMP/OpenBLAS/MKL/numba threads = 1; --cpu pins a
core), so the peak memory (VmHWM of that process, interpreter and imports included) is the
problem's own.

- set-up s: everything after the imports and before the first hop: lattice or network
  construction, event generation and dependency lists, initial rates.
- hops/s: production hops / wall seconds of the production loop only.
  kmc: sim.engine.run(n) calls (5 N hops, at least 4x10^6, at most 5x10^7) after the
  observable run, as in bench_engine.py, repeated until at least SPEED_MIN_S (2 s) of wall
  time (hops over the whole time, as the peers' rate over their production); hops counted
  by the engine's hop counters.
  kmcpy: the body of its own KMC.run production loop (propose, Tracker.update, KMC.update,
  Tracker.sample_properties), after a warm-up as KMC.run's equilibration loop (this compiles
  its numba kernels); kmcpy-src (kMCpy 7761fdd) the same, plus the per-pass bookkeeping
  (Tracker.update_current_pass, show_current_info), after its equilibration passes.
  lattice_mc: Lattice.jump() in a loop, as its Simulation.run.
  The peers are slow: each gets a production of about --budget wall seconds (default 60,
  --quick 10) after a warm-up of min(5 % of it, 5 s); their cost per hop is flat in time.
- observables: kmc's headline values from Simulation.run (400 blocks of up to 50 hops per ion
  at the compared sizes, 100 blocks above 2x10^5 sites). A peer's production is cut into 100
  blocks of equal hop count (the first block sets the count); the ions' unwrapped
  displacements and summed squared jumps are recorded at the block ends, and kmc's own
  estimator (kmc.analysis.transport, delete-one-block jackknife) gives D_sigma from the 100
  blocks and f from consecutive blocks merged into >= 10 blocks of >= 20 hops per ion. With
  fewer hops, f comes from the whole production (sum |R_i|^2 / sum of squared jumps,
  jackknife over 20 groups of ions); below 5 hops per ion f is not resolved.
  Short blocks bias f upwards (towards 1: about +0.01 at 20 hops per ion on sc at c = 0.5,
  more on NASICON), the same in every code, so the peers run first and kmc then repeats
  Simulation.run (100 blocks) at each peer's block lengths: the check compares like with like.
- agreement: |kmc - peer| <= 3 combined standard errors for f and for D_sigma at the same
  block length, and each code's D_sigma within 3 errors of the exact value where there is
  one. The speed ratio kmc/peer is printed only where this holds ("n/c", not comparable,
  otherwise); '*' marks a ratio resting on D_sigma alone (the peer's f not resolved).

kmcpy's EventGenerator, given hops that join sites of one label (the sc lattice), writes
every hop twice (events i->j and j->i, and each kmcpy event fires in either direction), which
doubles every rate. The script keeps one event per site pair and regenerates kmcpy's
dependency lists (counted in its set-up). The full run also runs kmcpy's events as generated
once ("kmcpy-raw", 10^3 sites, c = 0.05) to show that the agreement check catches this.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np

# ----------------------------------------------------------------------------- problems
A_SC = 3.0             # Angstrom
EA_SC = 0.3            # eV
T_SC = 300.0           # K
EA_NASICON = 0.347     # eV (kmc's lattices/nasicon.toml)
T_NASICON = 573.0      # K
NU = 1e13              # Hz, attempt frequency of kmc and kmcpy
KB_EV = 8.617333262e-5
NASICON_X = 2.0
# hexagonal cells along a1, a2, c: (1, 2, 1) = kmcpy's example size (2 cells, 48 Na sites);
# (n, 2n, l) has an orthogonal cell (for lattice_mc); the full run adds 384 sites
NASICON_SIZES = [(1, 2, 1), (2, 4, 2)]
BLOCKS = 100           # blocks of a peer's production
SPEED_MIN_S = 2.0      # s: the least wall time kmc's speed is measured over
KMC_BLOCKS = 400       # blocks of kmc's observable run (up to 2x10^5 sites)
MIN_HOPS_PER_ION_BLOCK = 20.0
MIN_HOPS_PER_ION_RUN = 5.0
Z_MAX = 3.0
PEERS = ("kmcpy", "lattice_mc")
# kMCpy's NASICON test model (problem 3), kMCpy from its repository source in its own venv
KMCPY_CIF = "EntryWithCollCode15546_Na4Zr2Si3O12_573K.cif"   # read in place, never copied
KMCPY_TEST_SHAPE = (2, 1, 1)
NU_KMCPY_MODEL = 5e12  # Hz, kMCpy's kmc_input.json
# 8x8x8 = Deng et al. 2022's supercell (4096 Na sites): timing and the short-time D_sigma
KMCPY_SIZES = {"quick": [(2, 1, 1)], "full": [(2, 1, 1), (2, 2, 2), (8, 8, 8)]}
KMCPY_LARGE = 1000     # Na sites above which a size runs at the first temperature only
KMCPY_TEMPS = {"quick": [873.0], "full": [873.0, 573.0]}
D_UNIT_CM2_S = 1e-6    # problem 3 has no single hop rate: D is quoted in 1e-6 cm^2/s
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "NUMBA_NUM_THREADS", "NUMEXPR_NUM_THREADS")
PROBLEMS = ("sc", "nasicon", "kmcpy-nasicon")


def sc_sizes(quick: bool) -> tuple[list[int], list[int]]:
    """Edge lengths L (L^3 sites): compared with the peers, and for kmc alone."""
    if quick:
        return [10], [20]
    return [10, 20], [40, 100, 215]


# ----------------------------------------------------------------------------- helpers
def _status_mb(field: str) -> float:
    """A memory field of /proc/self/status (e.g. "VmHWM"), MB; nan if absent."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_mb() -> float:
    """Peak resident memory of this process (VmHWM), MB."""
    return _status_mb("VmHWM")


def rss_mb() -> float:
    """Resident memory of this process now (VmRSS), MB."""
    return _status_mb("VmRSS")


def jackknife_ratio(num: np.ndarray, den: np.ndarray, groups: int = 20) -> tuple[float, float]:
    """sum(num) / sum(den) with a delete-one-group jackknife error (groups of items)."""
    n = len(num)
    g = min(groups, n)
    idx = np.array_split(np.arange(n), g)
    gn = np.array([num[i].sum() for i in idx])
    gd = np.array([den[i].sum() for i in idx])
    est = gn.sum() / gd.sum()
    loo = (gn.sum() - gn) / (gd.sum() - gd)
    err = math.sqrt((g - 1) / g * np.sum((loo - loo.mean()) ** 2))
    return float(est), float(err)


class Recorder:
    """A peer's production run, recorded at block ends (unwrapped displacement and summed
    squared jumps of every ion), turned into D_sigma and f by kmc's own estimator
    (kmc.analysis.transport, delete-one-block jackknife)."""

    def __init__(self, n_ions: int) -> None:
        self.n_ions = n_ions
        self.t: list[float] = []
        self.disp: list[np.ndarray] = []
        self.jsq: list[np.ndarray] = []
        self.hops: list[int] = [0]

    def snapshot(self, t: float, disp: np.ndarray, jump_sq: np.ndarray, hops: int = 0) -> None:
        """Call once at the start of production, then at the end of every block."""
        self.t.append(float(t))
        self.disp.append(np.array(disp, dtype=float))
        self.jsq.append(np.array(jump_sq, dtype=float))
        if len(self.t) > 1:
            self.hops.append(self.hops[-1] + hops)

    def _transport(self, ends: list[int], volume_A3: float, temperature_K: float):
        """kmc.analysis.transport over the blocks between the snapshots `ends`."""
        from kmc.analysis import BlockData, transport
        rows: dict[str, list[Any]] = {k: [] for k in ("duration_s", "tracer_sq_A2",
                                                      "collective_A", "jump_sq_A2", "hops")}
        for a, b in zip(ends[:-1], ends[1:]):
            dr = self.disp[b] - self.disp[a]
            rows["duration_s"].append(self.t[b] - self.t[a])
            rows["tracer_sq_A2"].append(dr.T @ dr)
            rows["collective_A"].append(dr.sum(axis=0))
            rows["jump_sq_A2"].append(float((self.jsq[b] - self.jsq[a]).sum()))
            rows["hops"].append(self.hops[b] - self.hops[a])
        data = BlockData(**{k: np.asarray(v) for k, v in rows.items()})
        return transport(data, n_ions=self.n_ions, volume_A3=volume_A3,
                         temperature_K=temperature_K, charge_e=1.0, dimensionality=3)

    def observables(self, gamma_a2_A2_s: float, volume_A3: float, temperature_K: float) -> dict:
        n_blocks = len(self.t) - 1
        scale = gamma_a2_A2_s * 1e-16         # Gamma a^2 in cm^2/s
        est = self._transport(list(range(n_blocks + 1)), volume_A3, temperature_K)
        per_ion = self.hops[-1] / self.n_ions
        out = {"D_red": est.D_sigma_cm2_s / scale, "D_red_err": est.D_sigma_cm2_s_err / scale,
               "D_tracer_red": est.D_tracer_cm2_s / scale,
               "D_tracer_red_err": est.D_tracer_cm2_s_err / scale,
               "sigma_S_cm": est.sigma_S_cm, "sigma_S_cm_err": est.sigma_S_cm_err,
               "hops_per_ion": per_ion,
               "hops_per_ion_per_block": per_ion / n_blocks, "blocks": n_blocks}
        # f needs blocks of >= 20 hops per ion: merge consecutive blocks into super-blocks
        merge = max(1, math.ceil(MIN_HOPS_PER_ION_BLOCK / (per_ion / n_blocks)))
        if n_blocks // merge >= 10:
            ends = list(range(0, n_blocks + 1, merge))
            fe = self._transport(ends, volume_A3, temperature_K)
            out.update(f=fe.correlation_factor, f_err=fe.correlation_factor_err,
                       Dt_red=fe.D_tracer_cm2_s / scale, Dt_red_err=fe.D_tracer_cm2_s_err / scale,
                       f_m=per_ion / n_blocks * merge,
                       f_estimator=f"{len(ends) - 1} blocks of {per_ion / n_blocks * merge:.0f}"
                                   " hops/ion")
        elif per_ion >= MIN_HOPS_PER_ION_RUN:
            r = self.disp[-1] - self.disp[0]
            f, ferr = jackknife_ratio(np.einsum("ij,ij->i", r, r), self.jsq[-1] - self.jsq[0])
            out.update(f=f, f_err=ferr, f_m=per_ion,
                       f_estimator="whole run, jackknife over ion groups")
        else:
            out.update(f=None, f_err=None, f_estimator="not resolved")
        return out


def warm_up(step, budget_s: float) -> int:
    """Hops for min(5 % of the budget, 5 s), at least 20 (numba compilation, caches)."""
    t0, n = time.perf_counter(), 0
    while n < 20 or time.perf_counter() - t0 < min(0.05 * budget_s, 5.0):
        step()
        n += 1
    return n


def production(step, snapshot, budget_s: float) -> tuple[int, float]:
    """BLOCKS blocks of equal hop count, the count set by the first block lasting
    budget_s / BLOCKS; `snapshot(hops_in_block)` after each block (its cost, O(N) numpy
    per block, is counted). Stops early past 3 budgets. Returns (hops, wall seconds)."""
    p0 = time.perf_counter()
    per_block = 0
    while per_block < 1 or time.perf_counter() - p0 < budget_s / BLOCKS:
        step()
        per_block += 1
    snapshot(per_block)
    hops = per_block
    for _ in range(BLOCKS - 1):
        if time.perf_counter() - p0 > 3 * budget_s:
            break
        for _ in range(per_block):
            step()
        snapshot(per_block)
        hops += per_block
    return hops, time.perf_counter() - p0


# ----------------------------------------------------------------------------- NASICON geometry
def nasicon_network(size: tuple[int, int, int]):
    """kmc's NASICON Na sublattice as a lattice gas: one barrier, no energies, no pairs."""
    import kmc
    m = kmc.build_material("nasicon", x=NASICON_X, size=size, disorder_seed=0)
    g = m.network  # its sites and hops only: the material's energy models are left behind
    net = kmc.SiteNetwork(cell=g.cell, positions=g.positions, hop_src=g.hop_src,
                          hop_dst=g.hop_dst, hop_vectors=g.hop_vectors,
                          hop_barriers_eV=EA_NASICON, site_types=g.site_types,
                          site_type_names=g.site_type_names, hop_types=g.hop_types,
                          hop_type_names=g.hop_type_names, charge_e=g.charge_e,
                          name="nasicon-lattice-gas")
    return net, m.n_ions


def write_p1_cif(path: str, cell: np.ndarray, frac: np.ndarray, labels: list[str]) -> None:
    """A P1 CIF with labelled Na sites (kmcpy reads the labels)."""
    a, b, c = (float(np.linalg.norm(v)) for v in cell)
    ang = lambda u, v: math.degrees(math.acos(float(u @ v) / np.linalg.norm(u) / np.linalg.norm(v)))
    lines = ["data_kmc_generated", "_symmetry_space_group_name_H-M   'P 1'",
             f"_cell_length_a {a:.6f}", f"_cell_length_b {b:.6f}", f"_cell_length_c {c:.6f}",
             f"_cell_angle_alpha {ang(cell[1], cell[2]):.6f}",
             f"_cell_angle_beta {ang(cell[0], cell[2]):.6f}",
             f"_cell_angle_gamma {ang(cell[0], cell[1]):.6f}",
             "_symmetry_Int_Tables_number 1", "loop_", " _symmetry_equiv_pos_site_id",
             " _symmetry_equiv_pos_as_xyz", "  1  'x, y, z'", "loop_", " _atom_site_type_symbol",
             " _atom_site_label", " _atom_site_symmetry_multiplicity", " _atom_site_fract_x",
             " _atom_site_fract_y", " _atom_site_fract_z", " _atom_site_occupancy"]
    for lab, f in zip(labels, frac % 1.0):
        lines.append(f"  Na  {lab}  1  {f[0]:.8f}  {f[1]:.8f}  {f[2]:.8f}  1")
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")


# ----------------------------------------------------------------------------- kmc
def run_kmc(spec: dict) -> dict:
    import kmc
    t0 = time.perf_counter()
    if spec["problem"] == "sc":
        L = spec["L"]
        net = kmc.build_lattice("sc", size=L, a=A_SC, barrier_eV=EA_SC, compact=True)
        comp = {"occupancy": spec["c"]}
        T, ea, a = T_SC, EA_SC, A_SC
    elif spec["problem"] == "nasicon":
        net, n_ions = nasicon_network(tuple(spec["size"]))
        comp = {"n_ions": n_ions}
        T, ea, a = T_NASICON, EA_NASICON, float(net.hop_lengths_A.mean())
    else:  # kMCpy's NASICON test model: its own files, read by kmc.interop.kmcpy
        net, inputs, extra = kmcpy_nasicon_model(spec)
        sites = np.flatnonzero(inputs.occupied)
        if spec.get("kmcpy_initial"):   # start from kMCpy's ions, check the Si/P sites
            sites, extra["initial_state_check"] = _initial_state_check(
                inputs, spec["kmcpy_initial"])
        comp = {"ion_sites": sites, "rate_law": "kmcpy"}
        T = spec["T"]
    nu = NU_KMCPY_MODEL if spec["problem"] == "kmcpy-nasicon" else NU
    sim = kmc.Simulation(net, T, seed=spec["seed"], attempt_frequency_Hz=nu, **comp)
    eng = sim.engine
    setup = time.perf_counter() - t0
    n_ions = sim.n_ions
    if spec["problem"] == "kmcpy-nasicon":   # no single hop rate: D in units of 1e-6 cm^2/s
        gamma, a = D_UNIT_CM2_S * 1e16, 1.0
    else:
        gamma = NU * math.exp(-ea / (KB_EV * T))
    # many blocks for a sharp D_sigma, 50 hops per ion per block for f where affordable;
    # above 2x10^5 sites 100 blocks (each block end copies every ion's displacement)
    blocks = KMC_BLOCKS if net.n_sites <= 200_000 else BLOCKS
    steps = int(min(max(50 * blocks * n_ions, 2_000_000), 40_000_000))
    res = sim.run(steps=steps, blocks=blocks, equilibration=min(steps // 10, 2_000_000))
    t = res.transport
    scale = gamma * a * a * 1e-16
    per_block = res.hops / n_ions / t.n_blocks
    obs = {"D_red": t.D_sigma_cm2_s / scale, "D_red_err": t.D_sigma_cm2_s_err / scale,
           "D_tracer_red": t.D_tracer_cm2_s / scale,
           "D_tracer_red_err": t.D_tracer_cm2_s_err / scale,
           "sigma_S_cm": t.sigma_S_cm, "sigma_S_cm_err": t.sigma_S_cm_err,
           "hops_per_ion": res.hops / n_ions, "hops_per_ion_per_block": per_block,
           "blocks": t.n_blocks, "run_hops_per_s": res.hops_per_s}
    if per_block >= MIN_HOPS_PER_ION_BLOCK:
        obs.update(f=t.correlation_factor, f_err=t.correlation_factor_err, f_estimator="blocks")
    else:
        obs.update(f=None, f_err=None, f_estimator="not resolved")
    # the same estimators at the block lengths of each peer's (short) run: f and D_sigma
    # from short blocks are biased alike in every code (f towards 1 for blocks of few hops)
    # (each run re-measures the mean hop rate over >= 10^4 hops first, which sets the block
    # length in time, so that its blocks hold the peer's hops per ion on average)
    matched = {}
    for m in spec.get("match", []):
        mo: dict[str, Any] = {}
        if spec["problem"] == "kmcpy-nasicon":
            # recorded exactly as kMCpy's run is: BLOCKS blocks of the same hops per ion,
            # the ions' displacements at the block ends through the same Recorder, and f, D*
            # and D_sigma from it by the same estimators, the blocks merged as the peer's
            # are (a run of about a hop per ion per block is too short for Simulation.run's
            # lag fit, and its D* is a lag fit)
            rec = _record_blocks(eng, n_ions, m["D_m"])
            ro = rec.observables(gamma * a * a, net.volume_A3, T)
            mo.update(D_red=ro["D_red"], D_red_err=ro["D_red_err"], D_m=m["D_m"],
                      D_m_kmc=ro["hops_per_ion_per_block"], D_estimator="blocks as the peer's")
            if m.get("f_m") and ro.get("f") is not None:
                mo.update(f=ro["f"], f_err=ro["f_err"], f_m=m["f_m"], f_m_kmc=ro["f_m"],
                          f_estimator=ro["f_estimator"])
                if "Dt_red" in ro:
                    mo.update(Dt_red=ro["Dt_red"], Dt_red_err=ro["Dt_red_err"])
            matched[m["code"]] = mo
            continue
        if m.get("f_m"):
            steps = max(int(m["f_m"] * n_ions * BLOCKS), BLOCKS)
            r = sim.run(steps=steps, blocks=BLOCKS, equilibration=max(10_000, steps // 10))
            mo.update(f=r.correlation_factor, f_err=r.correlation_factor_err, f_m=m["f_m"],
                      f_m_kmc=r.hops / n_ions / BLOCKS, Dt_red=r.D_tracer_cm2_s / scale,
                      Dt_red_err=r.D_tracer_cm2_s_err / scale)
        steps = max(int(m["D_m"] * n_ions * BLOCKS), BLOCKS)
        r = sim.run(steps=steps, blocks=BLOCKS, equilibration=max(10_000, steps // 10))
        mo.update(D_red=r.D_sigma_cm2_s / scale, D_red_err=r.D_sigma_cm2_s_err / scale,
                  D_m=m["D_m"], D_m_kmc=r.hops / n_ions / BLOCKS)
        matched[m["code"]] = mo
    obs["matched"] = matched
    n_speed = int(min(max(5 * net.n_sites, 4_000_000), 50_000_000))
    before = eng.get_state()["type_counts"].sum()
    w0 = time.perf_counter()
    eng.run(n_speed)
    while time.perf_counter() - w0 < SPEED_MIN_S:  # (a small model: 4x10^6 hops in 0.1 s)
        eng.run(n_speed)
    wall = time.perf_counter() - w0
    done = int(eng.get_state()["type_counts"].sum() - before)   # hops executed
    out = {"n_sites": net.n_sites, "n_ions": n_ions, "setup_s": setup,
           "hops": done, "prod_wall_s": wall, "hops_per_s": done / wall,
           "gamma_Hz": gamma, "engine_mode": getattr(eng, "mode", ""),
           "engine_B_per_site": eng.memory_bytes / net.n_sites, "obs": obs,
           "kmc_version": kmc.__version__, "kmc_path": os.path.dirname(kmc.__file__)}
    if spec["problem"] == "kmcpy-nasicon":
        out.update(extra, events=int(len(inputs.hops)), volume_A3=float(
            abs(np.linalg.det(inputs.lattice_A))))
    return out


# ----------------------------------------------------------------------------- kMCpy's model
def kmcpy_nasicon_model(spec: dict):
    """kMCpy's NASICON test model in kmc: kMCpy's own CIF, model.json and initial_state.json
    (read in place from its repository) through kmc.interop.kmcpy, at its 2x1x1 supercell
    or tiled to a multiple of it (bench_energy_models.tile_kmcpy, as kmcpy_peer.py tiles
    kMCpy's side). The event file is tests/data/kmcpy/events_regenerated.json: kMCpy's own
    generator's output for the pymatgen in kmc's venv (kMCpy's committed events.json fits
    the site order of pymatgen 2025.10 that its venv pins; kmc refuses it under pymatgen
    2026: tests/data/kmcpy/README.md). Returns (network, KmcpyInputs, provenance)."""
    from kmc.interop.kmcpy import read_kmcpy, to_network
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from bench_energy_models import tile_kmcpy

    files = os.path.join(spec["kmcpy_src"], "tests", "files")
    regenerated = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                               "tests", "data", "kmcpy", "events_regenerated.json")
    small = read_kmcpy(os.path.join(files, KMCPY_CIF), os.path.join(files, "input", "model.json"),
                       regenerated, os.path.join(files, "input", "initial_state.json"),
                       KMCPY_TEST_SHAPE)
    reps = [s // t for s, t in zip(spec["size"], KMCPY_TEST_SHAPE)]
    inputs = small if reps == [1, 1, 1] else tile_kmcpy(small, reps)
    net = to_network(inputs, name="kmcpy-nasicon")
    extra = {"inputs": {"structure, model, initial state": "kMCpy's tests/files (in place)",
                        "events": "kmc's tests/data/kmcpy/events_regenerated.json",
                        "tiled": reps}}
    return net, inputs, extra


def _match_positions(mine: np.ndarray, theirs: np.ndarray, L: np.ndarray):
    """For each of `theirs`, the row of `mine` at the same position modulo the cell L (a
    periodic k-d tree in fractional coordinates, then the Cartesian minimum image); and
    whether every one matched a different row within 1e-3 A."""
    from scipy.spatial import cKDTree

    inv = np.linalg.inv(L)

    def wrap(f):
        f = f - np.floor(f)
        return np.where(f >= 1.0, 0.0, f)

    fm, ft = wrap(mine @ inv), wrap(theirs @ inv)
    _, idx = cKDTree(fm, boxsize=1.0).query(ft)
    d = fm[idx] - ft
    d -= np.rint(d)
    ok = bool(np.linalg.norm(d @ L, axis=1).max() < 1e-3
              and len(set(idx.tolist())) == len(theirs))
    return idx, ok


def _initial_state_check(inputs, initial: dict) -> tuple[np.ndarray, dict]:
    """kMCpy's initial state (kmcpy_peer.py blocks: positions of its Na ions and P sites)
    in kmc's reading of the same files: the network sites of kMCpy's ions (an error if one
    is on no Na site), and whether the static P sites are where kMCpy has them (positions
    modulo the supercell, within 1e-3 A). kMCpy's initial_state.json, read in the site
    order of kmc's pymatgen, puts two of the 14 ions elsewhere (the order of two Na1
    images differs from that of kMCpy's pinned pymatgen): kmc starts from kMCpy's ions."""
    L = np.asarray(initial["lattice_A"])
    theirs = np.asarray(initial["na_A"], float).reshape(-1, 3)
    sites, mapped = _match_positions(inputs.positions_A, theirs, L)
    if not mapped:
        raise ValueError("kMCpy's initial Na ions are not on kmc's Na sites")
    file_sites = np.flatnonzero(inputs.occupied)
    out = {"ions from initial_state.json on kMCpy's sites":
           int(np.isin(file_sites, sites).sum()), "of": int(len(sites))}
    static_n = np.ones(len(inputs.static_positions_A), int)
    est = inputs.env_static_index
    if est.size:
        static_n[est[est >= 0]] = inputs.env_static_n[est >= 0]
    mine = inputs.static_positions_A[static_n == 0]            # the P sites (n = 0)
    theirs = np.asarray(initial["p_A"], float).reshape(-1, 3)
    if len(mine) != len(theirs):
        out["p"] = f"{len(mine)} in kmc, {len(theirs)} in kMCpy"
    elif not len(mine):
        out["p"] = "none in either"
    else:
        ok = _match_positions(mine, theirs, L)[1]
        out["p"] = f"same {len(mine)} sites" if ok else "different sites"
    out["same"] = out["p"].startswith(("same", "none"))
    return np.sort(sites), out


def _record_blocks(eng: Any, n_ions: int, hops_per_ion: float,
                   n_blocks: int = BLOCKS) -> Recorder:
    """kmc's engine (in steady state) recorded as a peer's run is: n_blocks blocks of
    `hops_per_ion` hops per ion each, the displacements and summed squared jumps of every
    ion at the block ends."""
    per_block = max(1, round(hops_per_ion * n_ions))
    rec = Recorder(n_ions)
    disp, jsq = eng.displacements()
    rec.snapshot(eng.time_s, disp, jsq)
    for _ in range(n_blocks):
        done, _ = eng.run(per_block)
        disp, jsq = eng.displacements()
        rec.snapshot(eng.time_s, disp, jsq, done)
    return rec


def run_kmcpy_src(spec: dict) -> dict:
    """kMCpy from its repository source, in its own venv: kmcpy_peer.py blocks in a
    subprocess of that venv's Python (kMCpy is never imported here); its block-end
    snapshots go through kmc's estimator (Recorder) in this process."""
    env = dict(os.environ)
    for var in THREAD_VARS:
        env[var] = "1"
    # 500 passes (--quick 100) up to 64 Na sites; one pass above (kMCpy's 8x8x8 makes
    # 80 hops/s: 500 passes would take 7 hours); the start is the tiled test state
    eq = 100 if spec.get("quick") else 500
    if 8 * math.prod(spec["size"]) > 64:
        eq = 1
    if spec.get("kmcpy_eq_passes") is not None:   # --kmcpy-eq-passes
        eq = int(spec["kmcpy_eq_passes"])
    cmd = [spec["kmcpy_python"], os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                              "kmcpy_peer.py"), "blocks",
           "--kmcpy-src", spec["kmcpy_src"], "--temps", str(spec["T"]),
           "--seed", str(spec["seed"]), "--supercell", *map(str, spec["size"]),
           "--budget", str(spec["budget_s"]), "--eq-passes", str(eq)]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env,
                       timeout=max(3600.0, 20 * spec["budget_s"]))
    lines = r.stdout.strip().splitlines()
    if r.returncode != 0 or not lines:
        raise RuntimeError("kmcpy_peer.py blocks: " + (r.stderr.strip().splitlines()
                                                       or [f"exit {r.returncode}"])[-1])
    d = json.loads(lines[-1])
    snaps = d.pop("snapshots")
    a2 = d["hop_length_A"] ** 2
    rec = Recorder(d["n_ions"])
    rec.snapshot(snaps["t"][0], snaps["disp"][0], np.asarray(snaps["hops"][0]) * a2)
    for t, disp, hops, n in zip(snaps["t"][1:], snaps["disp"][1:], snaps["hops"][1:],
                                snaps["block_hops"]):
        rec.snapshot(t, disp, np.asarray(hops) * a2, n)
    obs = rec.observables(D_UNIT_CM2_S * 1e16, d["volume_A3"], spec["T"]) \
        if len(rec.t) >= 3 else {}
    peak = d.pop("peak_MB")
    # hops the Tracker counted (an event whose end sites do not fit it would not count)
    d["hops_tracked"] = int(np.sum(snaps["hops"][-1]) - np.sum(snaps["hops"][0]))
    return {**d, "obs": obs, "kmcpy_peak_MB": peak, "warmup_hops": d["eq_hops"],
            "peer_version": "kMCpy " + d["kmcpy_commit"][:7]}


# ----------------------------------------------------------------------------- kmcpy
def run_kmcpy(spec: dict) -> dict:
    import logging
    logging.disable(logging.WARNING)        # kmcpy logs every event list at INFO level
    from kmcpy.event import EventGenerator, EventLib
    from kmcpy.models import LocalBarrierModel
    from kmcpy.simulator.config import Configuration
    from kmcpy.simulator.kmc import KMC
    from kmcpy.simulator.tracker import Tracker
    from kmcpy.units import BOLTZMANN_CONSTANT_MEV_PER_K
    import kmcpy

    tmp = tempfile.mkdtemp(prefix="kmcpy_")
    cif, ev_raw, ev_file, model = (os.path.join(tmp, n) for n in
                                   ("structure.cif", "events_raw.json", "events.json",
                                    "model.json"))
    rng = np.random.default_rng(spec["seed"])
    t0 = time.perf_counter()
    if spec["problem"] == "sc":
        L = spec["L"]
        write_p1_cif(cif, np.eye(3) * A_SC, np.zeros((1, 3)), ["Na1"])
        shape, idents, cutoff = (L, L, L), ("Na1", "Na1"), 0.5 * (A_SC + A_SC * math.sqrt(2))
        T, ea = T_SC, EA_SC
        n_sites = L ** 3
        n_ions = int(round(spec["c"] * n_sites))
    else:
        cell_net, _ = nasicon_network((1, 1, 1))
        frac = cell_net.positions @ np.linalg.inv(cell_net.cell)
        labels = [cell_net.site_type_names[t] for t in cell_net.site_types]
        write_p1_cif(cif, cell_net.cell, frac, labels)
        shape, idents, cutoff = tuple(spec["size"]), ("Na1", "Na2"), 4.0
        T, ea = T_NASICON, EA_NASICON
        n_sites = cell_net.n_sites * int(np.prod(shape))
        n_ions = int(round((1 + NASICON_X) / 4 * n_sites))
    LocalBarrierModel.constant_barrier(ea * 1000.0).to(model)
    mapping = {"Na": ["Na", "X"]}
    EventGenerator().generate_events(
        structure_file=cif, supercell_shape=list(shape), site_mapping=mapping,
        local_env_cutoff=cutoff, mobile_ion_identifiers=idents, event_file=ev_raw)
    raw = EventLib.from_file(ev_raw)
    n_raw = len(raw.events)
    if spec.get("raw_events"):
        ev_file = ev_raw
    else:  # one event per site pair: each kmcpy event fires in both directions
        lib, seen = EventLib(), set()
        for ev in raw.events:
            key = frozenset(ev.mobile_ion_indices)
            if key not in seen:
                seen.add(key)
                lib.add_event(ev)
        lib.index_metadata = raw.index_metadata
        lib.generate_event_dependencies()
        lib.to(ev_file)
    occ = np.ones(n_sites, dtype=int)                 # state 1 = vacancy "X", 0 = Na
    occ[rng.choice(n_sites, n_ions, replace=False)] = 0
    cfg = Configuration(
        structure_file=cif, supercell_shape=shape, site_mapping=mapping,
        mobile_ion_specie="Na", mobile_ion_charge=1.0, elementary_hop_distance=1.0,
        model_file=model, event_file=ev_file, initial_occupations=occ.tolist(), dimension=3,
        temperature=T, attempt_frequency=NU, equilibration_passes=0, kmc_passes=1,
        random_seed=spec["seed"], name="compare_peers")
    k = KMC.from_config(cfg)
    k.rng = np.random.default_rng(spec["seed"])
    events = k.event_lib.events
    setup = time.perf_counter() - t0

    # squared hop length of every event (all equal here; looked up per hop all the same)
    frac = k.structure.frac_coords
    ij = np.array([ev.mobile_ion_indices for ev in events])
    d = frac[ij[:, 1]] - frac[ij[:, 0]]
    d -= np.round(d)
    l2 = np.einsum("ij,ij->i", d @ k.structure.lattice.matrix, d @ k.structure.lattice.matrix)
    l2_by_id = {id(ev): float(x) for ev, x in zip(events, l2)}
    a = float(np.sqrt(l2.mean()))

    # warm-up as KMC.run's equilibration (compiles numba's _propose); estimates the speed
    budget = spec["budget_s"]

    def equilibration_step() -> None:     # KMC.run's equilibration loop body
        event, _ = k.propose(events)
        k.update(event, dt=0.0)

    n_warm = warm_up(equilibration_step, budget)
    pass_length = n_sites                 # as KMC.run: mobile-ion sites of the structure
    tracker = Tracker(config=cfg, structure=k.structure, initial_state=k.simulation_state,
                      property_plan=k.property_plan, default_property_interval=pass_length,
                      hop_state_lookup=k.hop_state_lookup)
    state = k.simulation_state
    rec = Recorder(tracker.n_mobile_ion_specie)
    jsq = [0.0]

    def step() -> None:                   # the body of KMC.run's production loop
        event, dt = k.propose(events)
        tracker.update(event, dt)
        k.update(event, dt=dt)
        tracker.sample_properties(step=int(state.step), sim_time=float(state.time))
        jsq[0] += l2_by_id[id(event)]

    def snapshot(n: int) -> None:         # per-ion squared jumps: hop count x l^2 (one l)
        per_ion = tracker.hop_counter * (jsq[0] / max(int(tracker.hop_counter.sum()), 1))
        rec.snapshot(state.time, tracker.displacement, per_ion, n)

    rec.snapshot(state.time, tracker.displacement, np.zeros(rec.n_ions))
    hops, wall = production(step, snapshot, budget)
    gamma = NU * math.exp(-ea * 1000.0 / (BOLTZMANN_CONSTANT_MEV_PER_K * T))
    obs = rec.observables(gamma * a * a, float(k.structure.volume), T) \
        if len(rec.t) >= 3 else {}
    return {"n_sites": n_sites, "n_ions": rec.n_ions, "setup_s": setup, "hops": hops,
            "prod_wall_s": wall, "hops_per_s": hops / wall, "gamma_Hz": gamma,
            "events": len(events), "events_generated": n_raw, "warmup_hops": n_warm,
            "total_rate_Hz": float(k.prob_cum_list[-1]), "obs": obs,
            "peer_version": kmcpy.__version__}


# ----------------------------------------------------------------------------- lattice_mc
def write_sites_file(path: str, net) -> np.ndarray:
    """lattice_mc sites file of a kmc network in an orthogonal cell; returns the lengths."""
    cell = np.array(net.cell)
    # NASICON (1, 2, 1): rows a1, 2 a2, c span the same lattice as a1, a1 + 2 a2, c, whose
    # rows are orthogonal -- lattice_mc's minimum image needs an orthogonal box
    ortho = np.array([cell[0], cell[0] + cell[1], cell[2]])
    if np.max(np.abs(ortho - np.diag(np.diag(ortho)))) > 1e-6:
        raise ValueError("this network has no orthogonal cell for lattice_mc")
    lengths = np.diag(ortho).copy()
    pos = (net.positions / lengths) % 1.0 * lengths
    nbrs: list[list[int]] = [[] for _ in range(net.n_sites)]
    for s, t in zip(net.hop_src, net.hop_dst):
        nbrs[int(s)].append(int(t) + 1)
    blocks = [str(net.n_sites)]
    for i in range(net.n_sites):
        blocks.append(f"site: {i + 1}\ncentre: {pos[i, 0]:.8f} {pos[i, 1]:.8f} {pos[i, 2]:.8f}\n"
                      f"neighbours: {' '.join(map(str, nbrs[i]))}\n"
                      f"label: {net.site_type_names[net.site_types[i]]}")
    with open(path, "w") as fh:
        fh.write("\n\n".join(blocks) + "\n")
    return lengths


def run_lattice_mc(spec: dict) -> dict:
    import random
    import lattice_mc
    from lattice_mc import init_lattice, species
    from lattice_mc.global_vars import rate_prefactor
    random.seed(spec["seed"])
    t0 = time.perf_counter()
    if spec["problem"] == "sc":
        L = spec["L"]
        lat = init_lattice.cubic_lattice(L, L, L, spacing=A_SC)
        n_ions = int(round(spec["c"] * L ** 3))
        a, T = A_SC, T_SC
    else:
        net, n_ions = nasicon_network(tuple(spec["size"]))
        path = os.path.join(tempfile.mkdtemp(prefix="lmc_"), "nasicon.sites")
        lengths = write_sites_file(path, net)
        lat = init_lattice.lattice_from_sites_file(path, cell_lengths=lengths)
        a, T = float(net.hop_lengths_A.mean()), T_NASICON
    atoms = species.Species(lat.populate_sites(n_ions)).atoms
    setup = time.perf_counter() - t0

    def disp() -> np.ndarray:
        return np.array([at.dr for at in atoms])

    def jsq() -> np.ndarray:
        return np.array([at.summed_dr2 for at in atoms])

    budget = spec["budget_s"]
    n_warm = warm_up(lat.jump, budget)
    rec = Recorder(n_ions)
    rec.snapshot(lat.time, disp(), jsq())
    hops, wall = production(lat.jump,
                            lambda n: rec.snapshot(lat.time, disp(), jsq(), n), budget)
    gamma = rate_prefactor               # Metropolis factor 1: no energies, no barriers
    volume = float(np.prod(lat.cell_lengths))
    obs = rec.observables(gamma * a * a, volume, T) if len(rec.t) >= 3 else {}
    return {"n_sites": lat.number_of_sites, "n_ions": n_ions, "setup_s": setup, "hops": hops,
            "prod_wall_s": wall, "hops_per_s": hops / wall, "gamma_Hz": gamma,
            "warmup_hops": n_warm, "obs": obs,
            "peer_version": getattr(lattice_mc, "__version__", "1.0.4")}


RUNNERS = {"kmc": run_kmc, "kmcpy": run_kmcpy, "kmcpy-raw": run_kmcpy,
           "lattice_mc": run_lattice_mc, "kmcpy-src": run_kmcpy_src}


def worker(spec: dict) -> None:
    """Run one measurement in this (fresh) process and print its JSON on the last line."""
    if spec.get("cpu") is not None:
        os.sched_setaffinity(0, {int(spec["cpu"])})
    i0 = time.perf_counter()
    if spec["code"] in ("kmc", "kmcpy-src"):   # kmcpy-src: kMCpy runs in its own venv
        import kmc  # noqa: F401
    elif spec["code"].startswith("kmcpy"):
        import kmcpy.simulator.kmc  # noqa: F401  (pymatgen, numba)
        import kmc  # noqa: F401
    else:
        import lattice_mc.lattice  # noqa: F401
        import kmc  # noqa: F401
    import_s = time.perf_counter() - i0
    import_mb = rss_mb()
    try:
        out = RUNNERS[spec["code"]](spec)
        out["import_s"] = import_s
    except MemoryError as exc:
        out = {"error": f"MemoryError: {exc}"}
    out.update(peak_MB=out.pop("kmcpy_peak_MB", None) or peak_mb(), import_MB=import_mb)
    print(json.dumps(out))


# ----------------------------------------------------------------------------- driver
def available(code: str, args: argparse.Namespace | None = None) -> str | None:
    """None if `code` can be imported by this interpreter (kmcpy-src: kMCpy by the Python
    of --kmcpy-python, its test inputs under --kmcpy-src), else the reason."""
    python = sys.executable
    if code == "kmcpy-src":
        if args is None or not args.kmcpy_python or not args.kmcpy_src:
            return "needs --kmcpy-python and --kmcpy-src (or KMCPY_PYTHON and KMCPY_SRC)"
        if not os.path.isfile(os.path.join(args.kmcpy_src, "tests", "files", KMCPY_CIF)):
            return f"no tests/files/{KMCPY_CIF} under --kmcpy-src {args.kmcpy_src}"
        python = args.kmcpy_python
    mod = {"kmc": "kmc", "kmcpy": "kmcpy", "kmcpy-raw": "kmcpy",
           "lattice_mc": "lattice_mc", "kmcpy-src": "kmcpy.simulator.kmc"}[code]
    try:
        r = subprocess.run([python, "-c", f"import {mod}"], capture_output=True, text=True)
    except OSError as exc:
        return str(exc)
    if r.returncode == 0 and code == "kmcpy-src":   # kmc's side reads kMCpy's CIF: pymatgen
        r = subprocess.run([sys.executable, "-c", "import pymatgen.core"],
                           capture_output=True, text=True)
    return None if r.returncode == 0 else (r.stderr.strip().splitlines() or ["?"])[-1]


def measure(spec: dict, timeout_s: float) -> dict:
    env = dict(os.environ)
    for var in THREAD_VARS:
        env[var] = "1"
    t0 = time.perf_counter()
    try:
        # the spec on stdin: kMCpy's initial ions at 8x8x8 are too long for an argument
        r = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", "-"],
                           input=json.dumps(spec), capture_output=True, text=True, env=env,
                           timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {**spec, "error": f"timed out after {timeout_s:.0f} s"}
    wall = time.perf_counter() - t0
    lines = r.stdout.strip().splitlines()
    if r.returncode != 0 or not lines:
        err = (r.stderr.strip().splitlines() or [f"exit status {r.returncode}"])[-1]
        if r.returncode < 0:
            err = f"killed by signal {-r.returncode} (out of memory?); {err}"
        return {**spec, "error": err}
    out = json.loads(lines[-1])
    return {**spec, **out, "subprocess_wall_s": wall}


def z_score(a: float | None, ea: float | None, b: float | None, eb: float | None) -> float | None:
    if a is None or b is None or ea is None or eb is None:
        return None
    if not all(math.isfinite(v) for v in (a, ea, b, eb)):
        return None  # e.g. kmc's D_sigma from blocks shorter than a hop per ion
    s = math.hypot(ea, eb)
    return abs(a - b) / s if s > 0 else (0.0 if a == b else math.inf)


def check(kmc_r: dict, peer: dict, exact_D: float | None) -> dict:
    """Agreement of a peer's observables with kmc's (and with the exact D_sigma)."""
    ko, po = kmc_r.get("obs", {}), peer.get("obs", {})
    if not ko or not po:
        return {"verdict": "no data", "comparable": False}
    km = ko.get("matched", {}).get(peer["code"], {})   # kmc at the peer's block lengths
    kf = km if "f" in km else ko
    kd = km if "D_red" in km else ko
    z = {"f": z_score(kf.get("f"), kf.get("f_err"), po.get("f"), po.get("f_err")),
         "D": z_score(kd["D_red"], kd["D_red_err"], po["D_red"], po["D_red_err"])}
    if "Dt_red" in po and "Dt_red" in km:    # D* from the blocks of f (same lengths)
        z["D*"] = z_score(km["Dt_red"], km["Dt_red_err"], po["Dt_red"], po["Dt_red_err"])
    if exact_D is not None:
        z["D_peer_exact"] = z_score(po["D_red"], po["D_red_err"], exact_D, 0.0)
        z["D_kmc_exact"] = z_score(ko["D_red"], ko["D_red_err"], exact_D, 0.0)
    failed = [k for k, v in z.items() if v is not None and v > Z_MAX]
    partial = z["f"] is None
    zs = ", ".join(f"{k} {v:.1f}" for k, v in z.items() if v is not None and k != "D_kmc_exact")
    init = kmc_r.get("initial_state_check")
    if peer["code"] == "kmcpy-src" and init is None:
        failed.append("initial state")
        zs += "; kmc did not start from kMCpy's initial state"
    elif init is not None and not init.get("same"):
        failed.append("initial state")
        zs += f"; initial state differs: {init}"
    if z["D"] is None and not failed:   # nothing to compare: timing only
        return {"verdict": "not compared: too few hops per ion in the peer's run for f or "
                           "D_sigma (timing only)", "comparable": False, "partial": False,
                "z": z, "kmc_matched": km}
    if failed:
        verdict = f"FAIL (z: {zs})"
    elif partial:
        verdict = f"ok, D_sigma only: peer f not resolved (z: {zs})"
    else:
        verdict = f"ok (z: {zs})"
    return {"verdict": verdict, "comparable": not failed, "partial": partial and not failed,
            "z": z, "kmc_matched": km}


def fmt_pm(x: float | None, e: float | None, nd: int = 3) -> str:
    if x is None:
        return "n/a"
    if e is None or not math.isfinite(e):
        return f"{x:.{nd}f}"
    return f"{x:.{nd}f}+-{e:.{nd}f}"


def fmt_rate(x: float) -> str:
    return f"{x:.3g}" if x < 1e4 else f"{x:.3e}"


def build_plan(args: argparse.Namespace, codes: list[str]) -> list[dict]:
    compared, kmc_only = sc_sizes(args.quick)
    if args.max_sites:
        kmc_only = [L for L in kmc_only if L ** 3 <= args.max_sites]
    plan: list[dict] = []
    seed = args.first_seed
    peers = [c for c in codes if c not in ("kmc", "kmcpy-src")]
    problems = set(args.problems.split(","))
    if "sc" not in problems:
        compared, kmc_only = [], []
    for L in compared:
        for c in (0.5, 0.05):
            for code in peers:
                plan.append({"problem": "sc", "L": L, "c": c, "code": code, "seed": seed})
                if code == "kmcpy" and L == 10 and c == 0.05 and not args.quick:
                    plan.append({"problem": "sc", "L": L, "c": c, "code": "kmcpy-raw",
                                 "seed": seed, "raw_events": True})
            plan.append({"problem": "sc", "L": L, "c": c, "code": "kmc", "seed": seed})
            seed += 1
    for L in kmc_only:
        for c in (0.5, 0.05):
            if "kmc" in codes:
                plan.append({"problem": "sc", "L": L, "c": c, "code": "kmc", "seed": seed})
            seed += 1
    for size in NASICON_SIZES[:1 if args.quick else None] if "nasicon" in problems else []:
        for code in peers + ["kmc"]:
            plan.append({"problem": "nasicon", "size": list(size), "code": code,
                         "seed": seed})
        seed += 1
    if "kmcpy-nasicon" in problems and "kmcpy-src" in codes:
        for size in args.kmcpy_sizes:
            large = 8 * math.prod(size) > KMCPY_LARGE
            for T in args.kmcpy_temps[:1] if large else args.kmcpy_temps:
                for code in ("kmcpy-src", "kmc"):
                    plan.append({"problem": "kmcpy-nasicon", "size": list(size), "T": T,
                                 "code": code, "seed": seed, "quick": args.quick,
                                 "kmcpy_src": os.path.abspath(args.kmcpy_src),
                                 "kmcpy_python": args.kmcpy_python,
                                 "kmcpy_eq_passes": args.kmcpy_eq_passes})
                seed += 1
    for p in plan:
        p["budget_s"] = args.budget
        p["cpu"] = args.cpu
    return plan


def key_of(r: dict) -> tuple:
    return (r["problem"], r.get("L"), r.get("c"), tuple(r.get("size", ())), r.get("T"))


def problem_name(r: dict) -> str:
    if r["problem"] == "sc":
        return f"sc lattice gas c={r['c']:g}"
    if r["problem"] == "kmcpy-nasicon":
        return "kMCpy NASICON {}x{}x{} {:g} K".format(*r["size"], r["T"])
    return f"NASICON lattice gas x={NASICON_X:g}"


def report(results: list[dict], out) -> list[dict]:
    """Print the table and the agreement checks; return the rows with ratios."""
    kmc_by = {key_of(r): r for r in results if r["code"] == "kmc"}
    rows = []
    for r in results:
        k = kmc_by.get(key_of(r))
        exact = 1.0 - r["c"] if r["problem"] == "sc" else None
        row = dict(r)
        if r["code"] != "kmc" and k is not None and "error" not in r and "error" not in k:
            chk = check(k, r, exact)
            row["check"] = chk
            ratio = k["hops_per_s"] / r["hops_per_s"]
            row["ratio_kmc_over_peer"] = ratio if chk["comparable"] else None
            row["ratio_raw"] = ratio
            if chk["verdict"].startswith("not compared"):
                chk["verdict"] += f"; hops/s ratio {ratio:.3g} unchecked"
        elif r["code"] == "kmc" and "obs" in r and exact is not None:
            row["check"] = {"z": {"D_kmc_exact": z_score(r["obs"]["D_red"],
                                                         r["obs"]["D_red_err"], exact, 0.0)}}
        rows.append(row)

    lattice_gas = [r for r in rows if r["problem"] != "kmcpy-nasicon"]
    if lattice_gas:
        _table(lattice_gas, out)
    kmcpy_rows = [r for r in rows if r["problem"] == "kmcpy-nasicon"]
    if kmcpy_rows:
        if lattice_gas:
            print(file=out)
        _kmcpy_table(kmcpy_rows, out)
    return rows


def _ratio_and_verdict(r: dict) -> tuple[str, str]:
    ratio = "" if r["code"] == "kmc" else (
        "n/c" if r.get("ratio_kmc_over_peer") is None else
        f"{r['ratio_kmc_over_peer']:.3g}" + ("*" if r["check"].get("partial") else ""))
    if r["code"] == "kmc":
        zk = r.get("check", {}).get("z", {}).get("D_kmc_exact")
        verdict = "" if zk is None else f"D vs exact z={zk:.1f}"
    else:
        verdict = r.get("check", {}).get("verdict", "")
    return ratio, verdict


def _kmcpy_table(rows: list[dict], out) -> None:
    """Problem 3: kMCpy's NASICON test model (absolute D in 1e-6 cm^2/s, sigma in mS/cm)."""
    hdr = (f"{'problem':<28} {'sites':>6} {'code':<10} {'hops/s':>10} {'set-up s':>9} "
           f"{'peak MB':>8} {'kmc/peer':>10} {'f':>13} {'D_J 1e-6cm2/s':>14} "
           f"{'D* 1e-6cm2/s':>14} {'sigma mS/cm':>13} {'hops/ion':>9}  check")
    print(hdr, file=out)
    print("-" * len(hdr), file=out)
    for r in rows:
        if "error" in r:
            print(f"{problem_name(r):<28} {'':>6} {r['code']:<10} FAILED: {r['error']}",
                  file=out)
            continue
        o = r.get("obs", {})
        ratio, verdict = _ratio_and_verdict(r)
        sig, sig_e = (None if o.get(k) is None else o[k] * 1e3      # mS/cm
                      for k in ("sigma_S_cm", "sigma_S_cm_err"))
        print(f"{problem_name(r):<28} {r['n_sites']:>6} {r['code']:<10} "
              f"{fmt_rate(r['hops_per_s']):>10} {r['setup_s']:>9.2f} {r['peak_MB']:>8.0f} "
              f"{ratio:>10} {fmt_pm(o.get('f'), o.get('f_err')):>13} "
              f"{fmt_pm(o.get('D_red'), o.get('D_red_err'), 2):>14} "
              f"{fmt_pm(o.get('D_tracer_red'), o.get('D_tracer_red_err'), 2):>14} "
              f"{fmt_pm(sig, sig_e, 1):>13} "
              f"{o.get('hops_per_ion', float('nan')):>9.3g}  {verdict}", file=out)


def _table(rows: list[dict], out) -> None:
    hdr = (f"{'problem':<26} {'sites':>9} {'code':<10} {'hops/s':>10} {'set-up s':>9} "
           f"{'peak MB':>8} {'kmc/peer':>10} {'f':>13} {'D_s/(G a^2)':>13} {'hops/ion':>9}  check")
    print(hdr, file=out)
    print("-" * len(hdr), file=out)
    for r in rows:
        if "error" in r:
            print(f"{problem_name(r):<26} {r.get('L', 0) ** 3 if r['problem'] == 'sc' else '':>9} "
                  f"{r['code']:<10} FAILED: {r['error']}", file=out)
            continue
        o = r.get("obs", {})
        ratio, verdict = _ratio_and_verdict(r)
        print(f"{problem_name(r):<26} {r['n_sites']:>9} {r['code']:<10} "
              f"{fmt_rate(r['hops_per_s']):>10} {r['setup_s']:>9.2f} {r['peak_MB']:>8.0f} "
              f"{ratio:>10} {fmt_pm(o.get('f'), o.get('f_err')):>13} "
              f"{fmt_pm(o.get('D_red'), o.get('D_red_err')):>13} "
              f"{o.get('hops_per_ion', float('nan')):>9.3g}  {verdict}", file=out)


def machine() -> dict:
    model = ""
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    fam = ""
    try:
        with open("/proc/cpuinfo") as fh:
            info = fh.read().split("\n\n")[0]
        kv = {k.strip(): v.strip() for k, v in
              (line.split(":", 1) for line in info.splitlines() if ":" in line)}
        fam = f"family {kv.get('cpu family', '?')} model {kv.get('model', '?')}"
    except (OSError, ValueError):
        pass
    commit = ""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"],
                                cwd=os.path.dirname(os.path.abspath(__file__)),
                                capture_output=True, text=True).stdout.strip()
    except OSError:
        pass
    return {"cpu": model, "cpu_id": fam, "cores": os.cpu_count(),
            "python": platform.python_version(), "numpy": np.__version__,
            "date": datetime.date.today().isoformat(), "repo_commit": commit}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="10^3 sites (kmc also 8x10^3) and NASICON, 10 s peer budgets")
    ap.add_argument("--json", action="store_true",
                    help="print one JSON object on stdout (the table goes to stderr)")
    ap.add_argument("--budget", type=float, default=None,
                    help="wall seconds of production per peer measurement (default 60, "
                         "--quick 10)")
    ap.add_argument("--codes", default="kmc,kmcpy,lattice_mc,kmcpy-src",
                    help="comma-separated subset of kmc,kmcpy,lattice_mc,kmcpy-src (kMCpy "
                         "from its repository source: --kmcpy-python, --kmcpy-src)")
    ap.add_argument("--problems", default=",".join(PROBLEMS),
                    help="comma-separated subset of sc,nasicon,kmcpy-nasicon")
    ap.add_argument("--kmcpy-python", default=os.environ.get("KMCPY_PYTHON"),
                    metavar="PYTHON", help="kmcpy-nasicon: the Python of kMCpy's own venv "
                    "(default $KMCPY_PYTHON)")
    ap.add_argument("--kmcpy-src", default=os.environ.get("KMCPY_SRC"), metavar="DIR",
                    help="kmcpy-nasicon: kMCpy's repository at commit 7761fdd, its test "
                         "inputs (default $KMCPY_SRC)")
    ap.add_argument("--kmcpy-sizes", default=None,
                    help="kmcpy-nasicon supercells, multiples of 2x1x1 (default "
                         "2x1x1,2x2x2,8x8x8, those above 1000 Na sites at the first "
                         "temperature only; --quick 2x1x1)")
    ap.add_argument("--kmcpy-temps", default=None,
                    help="kmcpy-nasicon temperatures, K (default 873,573; --quick 873)")
    ap.add_argument("--kmcpy-eq-passes", type=int, default=None,
                    help="kmcpy-nasicon: kMCpy's equilibration passes (one pass = one "
                         "attempted hop per Na site; default 500, --quick 100, 1 above 64 "
                         "Na sites)")
    ap.add_argument("--max-sites", type=int, default=0,
                    help="skip the kmc-only sizes above this many sites")
    ap.add_argument("--cpu", type=int, default=None, help="pin every measurement to this core")
    ap.add_argument("--first-seed", type=int, default=1,
                    help="seed of the first problem (default 1; each problem's seed follows "
                         "in order). Runs with a wall-time budget and the same seed share "
                         "their trajectories' beginnings: independent replicas need "
                         "different seeds")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(json.loads(sys.stdin.read() if args.worker == "-" else args.worker))
        return
    if args.budget is None:
        args.budget = 10.0 if args.quick else 60.0
    mode = "quick" if args.quick else "full"
    args.kmcpy_sizes = KMCPY_SIZES[mode] if args.kmcpy_sizes is None else [
        tuple(int(v) for v in x.split("x")) for x in args.kmcpy_sizes.split(",")]
    args.kmcpy_temps = KMCPY_TEMPS[mode] if args.kmcpy_temps is None else [
        float(v) for v in args.kmcpy_temps.split(",")]
    for p in args.problems.split(","):
        if p not in PROBLEMS:
            ap.error(f"--problems: unknown problem {p!r} (known: {', '.join(PROBLEMS)})")
    log = sys.stderr
    table_out = sys.stderr if args.json else sys.stdout

    codes = []
    skipped = {}
    for code in args.codes.split(","):
        if code == "kmcpy-src" and "kmcpy-nasicon" not in args.problems.split(","):
            continue
        if code != "kmcpy-src" and args.problems == "kmcpy-nasicon" and code != "kmc":
            continue
        why = available(code, args)
        if why is None:
            codes.append(code)
        else:
            skipped[code] = why
            print(f"skipping {code}: cannot import it here ({why}); see the install note "
                  "at the top of this script", file=log)
            if code == "kmcpy-src":
                print("  (the kmcpy-nasicon problem needs kMCpy's own venv: "
                      "benchmarks/kmcpy_peer.py says how it is made)", file=log)
    if "kmc" not in codes:
        sys.exit("kmc cannot be imported by this interpreter")
    info = machine()
    print(f"{info['cpu']} ({info['cpu_id']}), {info['cores']} cores, Python {info['python']}, "
          f"numpy {info['numpy']}, {info['date']}, repo {info['repo_commit']}", file=log)
    plan = build_plan(args, codes)
    results = []
    for i, spec in enumerate(plan, 1):
        desc = (f"[{i}/{len(plan)}] {spec['problem']} "
                + (f"L={spec['L']} c={spec['c']}" if spec["problem"] == "sc" else
                   f"size={spec['size']}") + (f" T={spec['T']:g}" if "T" in spec else "")
                + f" {spec['code']}")
        print(desc + " ...", file=log, flush=True)
        if spec["code"] == "kmc" and spec["problem"] == "kmcpy-nasicon":
            for r in results:   # start from kMCpy's ions (and check its Si/P sites)
                if key_of(r) == key_of(spec) and r["code"] == "kmcpy-src" and "initial" in r:
                    spec["kmcpy_initial"] = r["initial"]
        if spec["code"] == "kmc":   # estimate kmc's f and D_sigma at the peers' block lengths
            spec["match"] = [{"code": r["code"], "f_m": r["obs"].get("f_m"),
                              "D_m": r["obs"]["hops_per_ion_per_block"]}
                             for r in results if key_of(r) == key_of(spec) and r.get("obs")]
        r = measure(spec, timeout_s=max(3600.0, 20 * args.budget))
        r.pop("kmcpy_initial", None)   # kMCpy's initial positions: handed over, not kept
        if "error" in r:
            print(f"    failed: {r['error']}", file=log, flush=True)
        else:
            o = r.get("obs", {})
            dname = ("D_J/(1e-6 cm^2/s)" if spec["problem"] == "kmcpy-nasicon"
                     else "D_s/(G a^2)")
            print(f"    {r['n_sites']} sites: {fmt_rate(r['hops_per_s'])} hops/s, set-up "
                  f"{r['setup_s']:.2f} s, peak {r['peak_MB']:.0f} MB, f "
                  f"{fmt_pm(o.get('f'), o.get('f_err'))}, {dname} "
                  f"{fmt_pm(o.get('D_red'), o.get('D_red_err'))}", file=log, flush=True)
        results.append(r)
    for r in results:
        r.pop("initial", None)        # kMCpy's initial positions (used by kmc's run)
    print(file=table_out)
    rows = report(results, table_out)
    print("\nD_s/(G a^2): D_sigma over each code's own hop rate Gamma times the hop length "
          "squared (exact 1 - c for the sc lattice gas).\nkmc/peer: '*' = D_sigma checked, "
          "f not resolved in the peer's budget; n/c = observables disagree (not comparable).",
          file=table_out)
    if args.json:
        json.dump({"machine": info, "skipped": skipped, "budget_s": args.budget,
                   "quick": args.quick, "results": rows}, sys.stdout, indent=1, default=str)
        print()


if __name__ == "__main__":
    main()
