#!/usr/bin/env python
"""kMCpy itself on its NASICON test model, many seeds, for the side-by-side check with kmc.

kMCpy (https://github.com/caneparesearch/kMCpy, MIT) is never a dependency of kmc: run this
with a Python in which kMCpy is installed from its repository source, in its own venv,
with the dependency versions of kMCpy's uv.lock (with pymatgen 2026.10 its own NASICON
tests fail: the site order of the CIF changed and its committed events.json no longer fits
it). What was run for tests/data/kmcpy/kmcpy_nasicon_runs.json (commit 7761fdd):

    python3.11 -m venv venv-kmcpy
    venv-kmcpy/bin/pip install -e PATH/TO/kMCpy[dev] pymatgen==2025.10.7 numpy==2.3.5 \
        numba==0.63.1 spglib==2.7.0 monty==2025.3.3 pandas==3.0.0 scipy==1.17.0
    venv-kmcpy/bin/python benchmarks/kmcpy_peer.py run --kmcpy-src PATH/TO/kMCpy \
        --temps 873 573 --seeds 32 --procs 2 --out kmcpy-runs
    venv-kmcpy/bin/python benchmarks/kmcpy_peer.py aggregate --kmcpy-src PATH/TO/kMCpy \
        --out kmcpy-runs --json tests/data/kmcpy/kmcpy_nasicon_runs.json
    venv-kmcpy/bin/python benchmarks/kmcpy_peer.py timing --kmcpy-src PATH/TO/kMCpy

``run`` runs kMCpy through its Python API on exactly its test inputs
(tests/files/input/{model,events,initial_state}.json and its structure file, read in
place: an ICSD-licensed CIF, which the project does not copy), with the settings of
tests/files/input/kmc_input.json except temperature, seed and pass counts; ``aggregate``
writes the per-seed end values and their means and standard errors; ``timing`` prints one
run's hops per second as JSON (benchmarks/bench_energy_models.py --kmcpy-python).
tests/test_kmcpy_runs.py compares kmc with the recorded numbers.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
import warnings
from multiprocessing import Pool

SRC = os.environ.get("KMCPY_SRC", "kMCpy")  # set by --kmcpy-src (workers inherit it)
FILES = f"{SRC}/tests/files"
RUNS = os.environ.get("KMCPY_RUNS", "kmcpy-runs")  # set by --out
RESULTS_JSON = "kmcpy_nasicon_runs.json"  # set by --json
KMCPY_COMMIT = "7761fdd2c0506763816d5b0b42226b224f60dc70"

# Settings taken from tests/files/input/kmc_input.json (temperature, seed and
# pass counts are overridden per run).
BASE_SETTINGS = dict(
    structure_file=f"{FILES}/EntryWithCollCode15546_Na4Zr2Si3O12_573K.cif",
    model_file=f"{FILES}/input/model.json",
    event_file=f"{FILES}/input/events.json",
    initial_state_file=f"{FILES}/input/initial_state.json",
    mobile_ion_specie="Na",
    attempt_frequency=5e12,
    supercell_shape=(2, 1, 1),
    site_mapping={"Na": ["Na", "X"], "Zr": "Zr", "Si": ["Si", "P"], "O": "O"},
    convert_to_primitive_cell=True,
    elementary_hop_distance=3.47782,
    mobile_ion_charge=1.0,
    dimension=3,
)


def _make_config(temperature, seed, eq_passes, kmc_passes):
    from kmcpy.simulator.config import Configuration

    return Configuration(
        temperature=float(temperature),
        random_seed=int(seed),
        equilibration_passes=int(eq_passes),
        kmc_passes=int(kmc_passes),
        name=f"T{int(temperature)}_seed{int(seed)}",
        **BASE_SETTINGS,
    )


def run_one(args):
    temperature, seed, eq_passes, kmc_passes = args
    warnings.filterwarnings("ignore")
    import numpy as np
    from kmcpy.simulator.kmc import KMC

    tag = f"T{int(temperature)}_seed{int(seed)}"
    out_json = os.path.join(RUNS, tag + ".json")
    if os.path.exists(out_json):
        with open(out_json) as fh:
            return json.load(fh)
    run_dir = os.path.join(RUNS, tag)
    os.makedirs(run_dir, exist_ok=True)
    os.chdir(run_dir)  # kMCpy writes its result files to the cwd

    t0 = time.time()
    config = _make_config(temperature, seed, eq_passes, kmc_passes)
    kmc = KMC.from_config(config)
    t1 = time.time()
    tracker = kmc.run()
    t2 = time.time()

    (sim_time, msd, d_j, d_tracer, sigma, haven, f_corr) = tracker.return_current_info()
    pass_length = len([el.symbol for el in kmc.structure.species if "Na" in el.symbol])
    production_steps = int(kmc_passes) * pass_length
    equilibration_steps = int(eq_passes) * pass_length
    hop_counter = np.asarray(tracker.hop_counter)
    disp = np.asarray(tracker.displacement)

    # MSD-based D* at half of the production run (from kMCpy's own sampled
    # time series) to check linearity of the MSD.
    res = tracker.results
    half = len(res["time"]) // 2 - 1
    d_tracer_half = float(res["tracer_diffusivity"][half])
    d_j_half = float(res["jump_diffusivity"][half])

    row = dict(
        temperature_K=float(temperature),
        seed=int(seed),
        equilibration_passes=int(eq_passes),
        kmc_passes=int(kmc_passes),
        pass_length_steps=pass_length,
        equilibration_steps=equilibration_steps,
        production_steps=production_steps,
        state_step_total=int(kmc.simulation_state.step),
        total_hops_counted=int(hop_counter.sum()),
        n_mobile_ions=int(tracker.n_mobile_ion_specie),
        hops_per_ion_mean=float(hop_counter.mean()),
        hops_per_ion_min=int(hop_counter.min()),
        hops_per_ion_max=int(hop_counter.max()),
        sim_time_s=float(sim_time),
        msd_A2=float(msd),
        D_J_cm2_s=float(d_j),
        D_tracer_cm2_s=float(d_tracer),
        conductivity_mS_cm=float(sigma),
        haven_ratio=float(haven),
        correlation_factor=float(f_corr),
        sum_displacement_A=[float(x) for x in disp.sum(axis=0)],
        D_J_cm2_s_at_half_run=d_j_half,
        D_tracer_cm2_s_at_half_run=d_tracer_half,
        time_s_at_half_run=float(res["time"][half]),
        supercell_volume_A3=float(tracker.volume),
        wall_setup_s=t1 - t0,
        wall_run_s=t2 - t1,
        pid=os.getpid(),
    )
    tmp = out_json + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(row, fh, indent=1)
    os.replace(tmp, out_json)
    print(f"[{tag}] t={sim_time:.4g}s D*={d_tracer:.4g} DJ={d_j:.4g} "
          f"sigma={sigma:.4g} f={f_corr:.4g} HR={haven:.4g} wall={t2 - t1:.1f}s",
          flush=True)
    return row


def _stats(values):
    vals = [v for v in values if v is not None and math.isfinite(v)]
    n = len(vals)
    if n == 0:
        return dict(n=0, mean=None, std=None, sem=None)
    mean = sum(vals) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in vals) / (n - 1)) if n > 1 else 0.0
    return dict(n=n, mean=mean, std=std, sem=std / math.sqrt(n) if n > 1 else None)


FORMULAS = {
    "common": (
        "All quantities are end-of-run values of ONE trajectory per seed, computed by "
        "kmcpy/simulator/property.py:compute_transport_properties (lines 325-425) from "
        "Tracker.displacement (per-ion cumulative, unwrapped minimum-image Cartesian hop "
        "vectors accumulated since the start of the production phase, tracker.py:436-481) "
        "and Tracker.hop_counter; t = State.time accumulated over production steps only "
        "(equilibration uses dt=0, kmc.py:512-517). d = config.dimension = 3, "
        "N = n_mobile_ion_specie = number of active Na sites occupied by Na at the start of "
        "production (tracker.py:126-149) = 14. Returned by Tracker.return_current_info "
        "(tracker.py:507-525) = last sample of the per-pass sampled table."
    ),
    "msd_A2": "msd = mean_i |R_i|^2  [A^2]   (property.py:358-359)",
    "D_J_cm2_s": (
        "D_J = |sum_i R_i|^2 / (2 d t N) * 1e-16  [cm^2/s]  (property.py:361-367); "
        "this is the collective ('sigma'/charge) diffusivity, called jump_diffusivity"
    ),
    "D_tracer_cm2_s": "D* = msd / (2 d t) * 1e-16  [cm^2/s]  (property.py:368-372)",
    "conductivity_mS_cm": (
        "sigma = D_J[cm^2/s] * (N / V[A^3]) * q^2 / (k_B[meV/K] * T) * 1.602e11  [mS/cm] "
        "(property.py:377-386; factor units.py:31, k_B = 8.617333262145e-2 meV/K units.py:12). "
        "V = Tracker.volume = volume of the 2x1x1 supercell of the reduced primitive cell "
        "(active_structure keeps the supercell lattice; tracker.py:166-169), q = mobile_ion_charge = 1. "
        "N/V uses N=14 mobile ions (not the number of Na sites)."
    ),
    "haven_ratio": "H_R = D* / D_J  (property.py:388-394)",
    "correlation_factor": (
        "f = mean_i [ |R_i|^2 / (n_i a^2) ] with a = elementary_hop_distance = 3.47782 A "
        "(config value, NOT the actual hop lengths) and n_i the hop count of ion i; "
        "ions with n_i = 0 contribute 0 but still count in the mean (property.py:396-404)"
    ),
    "sim_time_s": (
        "t = sum over production steps of dt, dt = -ln(u2)/Gamma_tot, Gamma_tot = sum of all "
        "event rates (kmc.py:555-564); State.apply_event adds dt (state.py:147-155)"
    ),
}


def aggregate():
    import glob

    rows = []
    for path in sorted(glob.glob(os.path.join(RUNS, "T*_seed*.json"))):
        with open(path) as fh:
            rows.append(json.load(fh))
    rows.sort(key=lambda r: (-r["temperature_K"], r["seed"]))
    temps = sorted({r["temperature_K"] for r in rows}, reverse=True)
    keys = ["sim_time_s", "msd_A2", "D_J_cm2_s", "D_tracer_cm2_s", "conductivity_mS_cm",
            "haven_ratio", "correlation_factor", "hops_per_ion_mean", "production_steps",
            "total_hops_counted", "D_J_cm2_s_at_half_run", "D_tracer_cm2_s_at_half_run",
            "wall_run_s"]
    summary = {}
    for T in temps:
        sub = [r for r in rows if r["temperature_K"] == T]
        s = {k: _stats([r[k] for r in sub]) for k in keys}
        # Ratio-of-means estimators (more robust than mean of per-seed ratios)
        mdj = s["D_J_cm2_s"]["mean"]
        mdt = s["D_tracer_cm2_s"]["mean"]
        s["haven_ratio_of_means_Dtracer_over_DJ"] = mdt / mdj if mdj else None
        if mdj and len(sub) > 1:
            R = mdt / mdj  # delta-method SEM of the ratio of means
            resid = [r["D_tracer_cm2_s"] - R * r["D_J_cm2_s"] for r in sub]
            var = sum(x * x for x in resid) / (len(sub) - 1)
            s["haven_ratio_of_means_sem_delta"] = math.sqrt(var / len(sub)) / mdj
        hr = sorted(r["haven_ratio"] for r in sub)
        s["haven_ratio_per_seed_median"] = hr[len(hr) // 2] if len(hr) % 2 else 0.5 * (
            hr[len(hr) // 2 - 1] + hr[len(hr) // 2])
        s["haven_ratio_per_seed_min_max"] = [hr[0], hr[-1]]
        s["note_haven"] = ("haven_ratio stats are over per-seed ratios D*/D_J (kMCpy's own per-run "
                           "output); D_J of one 14-ion trajectory is very noisy, so the mean of ratios "
                           "is dominated by outliers. The ratio of the seed-averaged D* and D_J is the "
                           "better estimator.")
        s["seeds"] = [r["seed"] for r in sub]
        summary[f"{int(T)}K"] = s

    freeze = subprocess.run([sys.executable, "-m", "pip", "freeze"], capture_output=True,
                            text=True).stdout.splitlines()
    import numpy, numba  # noqa: E401
    out = dict(
        description=(
            "kMCpy NASICON test model (tests/files/input) run side by side with kmc. "
            "Per-seed rows are end-of-run values of kMCpy's Tracker; summary gives mean, "
            "sample std (ddof=1) and standard error of the mean over seeds."
        ),
        kmcpy_commit=KMCPY_COMMIT,
        kmcpy_source="kMCpy repository at kmcpy_commit, editable install",
        python=sys.version,
        platform=platform.platform(),
        key_versions=dict(numpy=numpy.__version__, numba=numba.__version__,
                          pymatgen=_pkg_version("pymatgen")),
        pip_freeze=[x for x in freeze if not x.startswith("-e ")],
        version_note=(
            "Dependencies pinned to kMCpy's uv.lock (see pins_from_uv_lock.txt). With the "
            "newest PyPI pymatgen (2026.10.24, pymatgen-core split) kMCpy's own "
            "tests/test_nasicon_bulk.py fails (generated events use a different active-site "
            "order and the KMC reference numbers differ); with the uv.lock pins all NASICON "
            "tests pass."
        ),
        settings=dict(
            {k: (list(v) if isinstance(v, tuple) else
                 "kMCpy:" + os.path.relpath(v, SRC) if isinstance(v, str) and v.startswith(SRC)
                 else v) for k, v in BASE_SETTINGS.items()},
            equilibration_passes=rows[0]["equilibration_passes"] if rows else None,
            kmc_passes=rows[0]["kmc_passes"] if rows else None,
            pass_length_steps=rows[0]["pass_length_steps"] if rows else None,
            supercell_volume_A3=rows[0]["supercell_volume_A3"] if rows else None,
            n_mobile_ions=rows[0]["n_mobile_ions"] if rows else None,
            note=(
                "One pass = pass_length = number of active sites whose template species "
                "contains 'Na' (16 Na sites in the 2x1x1 supercell; kmc.py:501-505). "
                "Production steps = kmc_passes * 16. Equilibration passes advance occupations "
                "and State.step but not State.time; the tracker starts after equilibration, "
                "so displacements/hops/time all start at zero at the start of production. "
                "Random numbers: numpy.random.default_rng(seed) (kmc.py:489-492)."
            ),
        ),
        units=dict(sim_time_s="s", msd_A2="Angstrom^2", D_J_cm2_s="cm^2/s",
                   D_tracer_cm2_s="cm^2/s", conductivity_mS_cm="mS/cm",
                   haven_ratio="dimensionless", correlation_factor="dimensionless",
                   energies="meV", rates="Hz"),
        formulas=FORMULAS,
        summary=summary,
        per_seed=[{k: r[k] for k in ("temperature_K", "seed", "sim_time_s", "D_J_cm2_s",
                                     "D_tracer_cm2_s", "conductivity_mS_cm", "haven_ratio",
                                     "correlation_factor", "hops_per_ion_mean",
                                     "wall_run_s")} for r in rows],
    )
    with open(RESULTS_JSON, "w") as fh:
        json.dump(out, fh, indent=1)
    for T, s in summary.items():
        print(T, {k: (s[k]["mean"], s[k]["sem"]) for k in keys[:7]}, "n=", s["D_J_cm2_s"]["n"])


def _pkg_version(name):
    from importlib.metadata import version
    return version(name)


def timing(kmc_passes=2000):
    """One run at 873 K: kMCpy's hops per second on its test model (JSON on stdout)."""
    row = run_one((873.0, 999, 0, kmc_passes))
    print(json.dumps({"kmcpy_commit": KMCPY_COMMIT, "sites": 16 + 12,
                      "hops": row["production_steps"], "wall_s": row["wall_run_s"],
                      "hops_per_s": row["production_steps"] / row["wall_run_s"]}))


# ----------------------------------------------------------------------------- blocks
# compare_peers.py's "kMCpy NASICON test model" problem: one production run of kMCpy's own
# loop, recorded at block ends; kmc's estimator is applied by compare_peers (kmc's venv).
EVENT_SETTINGS = dict(  # kMCpy's tests/test_nasicon_bulk.py test_generate_events
    local_env_cutoff_dict={("Na+", "Na+"): 4, ("Na+", "Si4+"): 4},
    mobile_ion_identifiers=("Na1", "Na2"), distance_matrix_rtol=0.01,
    distance_matrix_atol=0.01, find_nearest_if_fail=False, convert_to_primitive_cell=True)
TEST_SHAPE = (2, 1, 1)


def _active(shape):
    """kMCpy's active-site order and active structure of a supercell of its test CIF."""
    from kmcpy.io.cif import load_labeled_structure_from_cif
    from kmcpy.structure.active_site_order import ActiveSiteOrder

    full = load_labeled_structure_from_cif(BASE_SETTINGS["structure_file"], primitive=True)
    order = ActiveSiteOrder.from_structure_and_mapping(
        full, BASE_SETTINGS["site_mapping"], supercell_shape=list(shape))
    return order, order.active_structure()


def supercell_inputs(shape, out_dir):
    """kMCpy's event file and initial occupations for a supercell of its test model.

    (2, 1, 1): its test files themselves (occupations None: the initial-state file). Any
    multiple of (2, 1, 1): events from kMCpy's EventGenerator with the settings of its own
    test (tests/test_nasicon_bulk.py), and the test's initial state (Na and Si/P) tiled:
    every active site takes the state of the 2x1x1 site at the same position modulo the
    2x1x1 cell. Returns (event file, occupations or None, seconds spent generating)."""
    import numpy as np

    shape = tuple(int(v) for v in shape)
    if shape == TEST_SHAPE:
        return BASE_SETTINGS["event_file"], None, 0.0
    if any(s % t for s, t in zip(shape, TEST_SHAPE)):
        raise SystemExit(f"supercell {shape}: not a multiple of kMCpy's test supercell "
                         f"{TEST_SHAPE}")
    from kmcpy.event import EventGenerator
    from kmcpy.simulator.state import State

    t0 = time.perf_counter()
    event_file = os.path.join(out_dir, "events_%d_%d_%d.json" % shape)
    EventGenerator().generate_events(
        structure_file=BASE_SETTINGS["structure_file"], supercell_shape=list(shape),
        site_mapping=BASE_SETTINGS["site_mapping"], export_local_env_structure=False,
        event_file=event_file, **EVENT_SETTINGS)
    gen_s = time.perf_counter() - t0
    small_order, small = _active(TEST_SHAPE)
    small_occ = np.array(State.from_file(BASE_SETTINGS["initial_state_file"],
                                         supercell_shape=list(TEST_SHAPE),
                                         active_site_order=small_order).occupations)
    _, big = _active(shape)
    inv = np.linalg.inv(small.lattice.matrix)
    fb = big.cart_coords @ inv
    fs = small.cart_coords @ inv
    d = fb[:, None, :] - fs[None, :, :]
    d -= np.rint(d)
    dist = np.linalg.norm(d @ small.lattice.matrix, axis=2)
    match = dist.argmin(axis=1)
    if dist.min(axis=1).max() > 1e-3 or any(
            str(big[i].specie) != str(small[int(j)].specie) for i, j in enumerate(match)):
        raise SystemExit(f"supercell {shape}: its sites do not tile kMCpy's 2x1x1 cell")
    return event_file, small_occ[match].tolist(), gen_s


def _initial_summary(structure, occupations):
    """Positions of the occupied Na sites and of the P sites (state 1 of a Si site)."""
    import numpy as np

    occ = np.asarray(occupations)
    sym = np.array([str(s.symbol) for s in structure.species])
    xyz = structure.cart_coords
    return {"lattice_A": structure.lattice.matrix.tolist(),
            "na_A": xyz[(sym == "Na") & (occ == 0)].tolist(),
            "p_A": xyz[(sym == "Si") & (occ == 1)].tolist()}


def blocks(temperature, seed, shape, budget_s, eq_passes, out_dir):
    """One kMCpy run in blocks (for compare_peers.py): JSON with the block-end snapshots.

    Set-up: event generation (a supercell other than 2x1x1) and KMC.from_config.
    Equilibration: eq_passes passes of KMC.run's equilibration loop (dt = 0; this also
    compiles numba's _propose). Production: the body of KMC.run's production loop
    (propose, Tracker.update, KMC.update, Tracker.sample_properties, and at the end of each
    pass Tracker.update_current_pass and show_current_info) for about budget_s
    wall seconds in 100 blocks of equal hop count (compare_peers.production); at each
    block end the time, every ion's unwrapped displacement and hop count are recorded."""
    import logging

    import numpy as np

    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from compare_peers import production  # numpy only: kmc is not imported

    from kmcpy.simulator.kmc import KMC
    from kmcpy.simulator.tracker import Tracker

    t0 = time.perf_counter()
    event_file, occ, gen_s = supercell_inputs(shape, out_dir)
    settings = dict(BASE_SETTINGS, supercell_shape=tuple(shape), event_file=event_file)
    if occ is not None:
        settings.update(initial_state_file=None, initial_occupations=occ)
    from kmcpy.simulator.config import Configuration
    config = Configuration(temperature=float(temperature), random_seed=int(seed),
                           equilibration_passes=int(eq_passes), kmc_passes=1,
                           name=f"blocks_T{int(temperature)}_seed{int(seed)}", **settings)
    k = KMC.from_config(config)
    k.rng = np.random.default_rng(seed=int(seed))        # as KMC.run
    setup_s = time.perf_counter() - t0
    initial = _initial_summary(k.structure, k.simulation_state.occupations)
    events = k.event_lib.events
    pass_length = len([el.symbol for el in k.structure.species if "Na" in el.symbol])

    frac = k.structure.frac_coords
    ij = np.array([ev.mobile_ion_indices for ev in events])
    dfrac = frac[ij[:, 1]] - frac[ij[:, 0]]
    dfrac -= np.round(dfrac)
    lengths = np.linalg.norm(dfrac @ k.structure.lattice.matrix, axis=1)
    if np.ptp(lengths) > 1e-3:   # the squared jumps below are hop count x length^2
        raise SystemExit(f"hop lengths {lengths.min():.4f}..{lengths.max():.4f} A differ")

    e0 = time.perf_counter()
    for _ in range(int(eq_passes) * pass_length):      # KMC.run's equilibration loop
        event, _dt = k.propose(events)
        k.update(event, dt=0.0)
    eq_s = time.perf_counter() - e0
    k._ensure_property_state()
    tracker = Tracker(config=config, structure=k.structure, initial_state=k.simulation_state,
                      property_plan=k.property_plan,
                      default_property_interval=max(pass_length, 1),
                      hop_state_lookup=getattr(k, "hop_state_lookup", None))
    state = k.simulation_state
    snaps = {"t": [], "disp": [], "hops": [], "block_hops": []}

    def snapshot(n):
        snaps["t"].append(float(state.time))
        snaps["disp"].append(tracker.displacement.tolist())
        snaps["hops"].append(tracker.hop_counter.tolist())
        if n:
            snaps["block_hops"].append(int(n))

    count = [0]

    def step():                                         # KMC.run's production loop body
        event, dt = k.propose(events)
        tracker.update(event, dt)
        k.update(event, dt=dt)
        tracker.sample_properties(step=int(state.step), sim_time=float(state.time))
        count[0] += 1
        if count[0] % pass_length == 0:                 # KMC.run's end of a pass
            tracker.update_current_pass(count[0] // pass_length - 1)
            tracker.show_current_info()

    snapshot(0)
    hops, wall = production(step, snapshot, budget_s)
    try:  # kMCpy's own end values (it samples once per pass: none in a run of < 1 pass)
        own = dict(zip(("sim_time_s", "msd_A2", "D_J_cm2_s", "D_tracer_cm2_s",
                        "conductivity_mS_cm", "haven_ratio", "correlation_factor"),
                       (float(v) for v in tracker.return_current_info())))
    except ValueError:
        own = None
    peak = float("nan")
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
    return {"kmcpy_commit": KMCPY_COMMIT, "supercell": list(shape),
            "temperature_K": float(temperature), "seed": int(seed),
            "n_sites": pass_length, "n_active_sites": len(k.structure),
            "n_ions": int(tracker.n_mobile_ion_specie), "events": len(events),
            "event_file": os.path.basename(event_file), "hop_length_A": float(lengths.mean()),
            "volume_A3": float(tracker.volume), "setup_s": setup_s, "event_generation_s": gen_s,
            "eq_hops": int(eq_passes) * pass_length, "eq_wall_s": eq_s,
            "hops": int(hops), "prod_wall_s": wall, "hops_per_s": hops / wall,
            "kmcpy_end_values": own, "initial": initial, "snapshots": snaps,
            "peak_MB": peak}


def main():
    global RUNS, RESULTS_JSON
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["run", "aggregate", "timing", "blocks"])
    ap.add_argument("--kmcpy-src", required=True, help="kMCpy's repository (its test inputs)")
    ap.add_argument("--out", default="kmcpy-runs", help="directory of the per-run results")
    ap.add_argument("--json", default="kmcpy_nasicon_runs.json", help="aggregate: output")
    ap.add_argument("--temps", type=float, nargs="+", default=[873.0, 573.0])
    ap.add_argument("--seeds", type=int, default=32)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--eq-passes", type=int, default=500)
    ap.add_argument("--kmc-passes", type=int, default=6000)
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1, help="blocks: the run's seed")
    ap.add_argument("--supercell", type=int, nargs=3, default=list(TEST_SHAPE),
                    help="blocks: a multiple of kMCpy's test supercell 2 1 1")
    ap.add_argument("--budget", type=float, default=60.0,
                    help="blocks: wall seconds of production")
    a = ap.parse_args()
    os.environ["KMCPY_SRC"] = os.path.abspath(a.kmcpy_src)
    os.environ["KMCPY_RUNS"] = os.path.abspath(a.out)
    # the module-level paths follow (worker processes re-read them from the environment)
    _set_paths(os.environ["KMCPY_SRC"], os.environ["KMCPY_RUNS"])
    RESULTS_JSON = os.path.abspath(a.json)
    if a.mode == "blocks":  # one JSON object on the last line of stdout
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            out = blocks(a.temps[0], a.seed, a.supercell, a.budget, a.eq_passes, d)
        print(json.dumps(out))
        return
    os.makedirs(RUNS, exist_ok=True)
    if a.mode == "timing":
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            _set_paths(os.environ["KMCPY_SRC"], d)
            timing()
        return
    if a.mode == "run":
        tasks = [(T, s, a.eq_passes, a.kmc_passes)
                 for s in range(a.first_seed, a.first_seed + a.seeds) for T in a.temps]
        with Pool(a.procs, maxtasksperchild=None) as pool:
            for _ in pool.imap_unordered(run_one, tasks):
                pass
    aggregate()


def _set_paths(src, runs):
    global SRC, FILES, RUNS, BASE_SETTINGS
    SRC, FILES, RUNS = src, f"{src}/tests/files", runs
    BASE_SETTINGS.update(structure_file=f"{FILES}/EntryWithCollCode15546_Na4Zr2Si3O12_573K.cif",
                         model_file=f"{FILES}/input/model.json",
                         event_file=f"{FILES}/input/events.json",
                         initial_state_file=f"{FILES}/input/initial_state.json")


if __name__ == "__main__":
    main()
