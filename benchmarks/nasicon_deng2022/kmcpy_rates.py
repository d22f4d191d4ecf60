"""Per-event cross-check of kmc's built-in NASICON model against kMCpy on identical inputs.

kmc: ``kmc.build_material("nasicon", x=2.0, size=(2, 1, 1), disorder_seed=s)`` (hexagonal
conventional cell, 48 Na sites, 36 Si/P sites, 144 hops = 72 Na1 -> Na2 and their reverses).
kMCpy (commit 7761fdd): the events of its EventGenerator on the conventional hexagonal 2x1x1
supercell of kmc's CIF (``kmc/data/structures/nasicon_Na4Zr2Si3O12_573K.cif``) and the
composite LCE model file (``model_deng2022.json``: the "kmcpy_example" fit of
``kmc/data/nasicon_deng2022.json``). kMCpy's active sites are mapped to kmc's Na sites and
Si/P framework positions by their FRACTIONAL coordinates in the 2x1x1 supercell (mod 1,
tolerance 1e-3), never by Cartesian ones.

Three stages, two virtual environments: KMC_VENV has kmc installed (run it outside the
source tree), KMCPY_VENV has kMCpy 7761fdd and its dependencies (benchmarks/kmcpy_peer.py
sets one up); MODEL is ``model_example.json`` of fit_models.py, EVENTS kMCpy's events of the
hexagonal 2x1x1 cell (optional):

1. kmc side -- the configurations (Si/P arrangement of each disorder seed, as kmc's
   ``_model_nasicon`` draws it, captured from the build; random Na occupations)::

     KMC_VENV/bin/python benchmarks/nasicon_deng2022/kmcpy_rates.py inputs stage1.json

2. kMCpy side -- E_KRA, E_site, E_b and the probability of every event, both directions, as
   kMCpy computes them at run time (``CompositeLCEModel.compute_probability`` and, as a check,
   the ``prob_list`` of ``KMC.from_config`` on the same initial state)::

     KMCPY_VENV/bin/python benchmarks/nasicon_deng2022/kmcpy_rates.py kmcpy stage1.json \\
         [--events EVENTS] --model MODEL --out tests/data/kmcpy/nasicon_deng2022_rates.json

   (``--events`` may be omitted: the events are then regenerated with kMCpy's EventGenerator,
   conventional cell, supercell 2x1x1, and must equal the file's.)

3. kmc side -- the comparison with ``kmc.energy.hop_energetics`` (and the engine's rate law)::

     KMC_VENV/bin/python benchmarks/nasicon_deng2022/kmcpy_rates.py compare \\
         tests/data/kmcpy/nasicon_deng2022_rates.json

Conventions of the stored file: energies in meV (kMCpy's unit); ``events`` keyed by kmc's
"src-dst" site pair of the FORWARD hop Na1 -> Na2 (kMCpy direction +1); each configuration
holds for every event [E_KRA, E_site] evaluated by kMCpy on that configuration's occupation
(kMCpy evaluates both LCEs on the centre's environment whatever the occupation), plus the
direction kMCpy assigns (+1 forward allowed, -1 reverse Na2 -> Na1 allowed, 0 blocked) and the
kMCpy probability (Hz) at the stored T and attempt frequency. E_b(direction d) = E_KRA + d *
E_site / 2 (composite_lce_model.py compute_probability).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile

import numpy as np

SIZE = (2, 1, 1)
X = 2.0
DISORDER_SEEDS = (0, 1)
OCC_SEEDS = (0, 1)          # two Na occupations per disorder seed
T_K = 573.0
NU_HZ = 5.0e12              # kmc's nasicon.toml attempt frequency (kMCpy's example inputs)
TOL_FRAC = 1e-3
MAP = {"Na": ["Na", "X"], "Zr": "Zr", "Si": ["Si", "P"], "O": "O"}
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CIF = os.path.join(REPO, "kmc", "data", "structures", "nasicon_Na4Zr2Si3O12_573K.cif")


def _load(path: str):
    with open(path) as f:
        return json.load(f)


def _dump(obj, path: str, **kw) -> None:
    with open(path, "w") as f:
        json.dump(obj, f, **kw)


def occ_rng(disorder_seed: int, k: int) -> np.random.Generator:
    """The Na occupation's generator: independent of kmc's disorder stream."""
    return np.random.default_rng([20221, disorder_seed, k])


# ------------------------------------------------------------------------------------------
# stage 1: kmc inputs
# ------------------------------------------------------------------------------------------
def stage_inputs(out: str) -> None:
    import kmc
    import kmc.interop.kmcpy as kik
    from kmc.materials import _Build, _load_spec

    captured = {}
    orig_inputs = kik.KmcpyInputs
    orig_env = kik.nasicon_environments

    def grab_inputs(*a, **kw):
        captured["inputs"] = kw
        return orig_inputs(*a, **kw)

    def grab_env(*a, **kw):
        r = orig_env(*a, **kw)
        captured["env"] = r
        return r

    configs = []
    frac_sites = frac_tet = None
    for ds in DISORDER_SEEDS:
        kik.KmcpyInputs, kik.nasicon_environments = grab_inputs, grab_env
        try:
            m = kmc.build_material("nasicon", x=X, size=SIZE, disorder_seed=ds)
        finally:
            kik.KmcpyInputs, kik.nasicon_environments = orig_inputs, orig_env
        net = m.network
        b = _Build(_load_spec("nasicon"), tuple(SIZE), {})
        tet = b.framework["Si/P"]
        assert np.allclose(b.positions, net.positions) and np.allclose(b.cell, net.cell)
        inv = np.linalg.inv(net.cell)
        fs, ft = (net.positions @ inv) % 1.0, (tet @ inv) % 1.0
        if frac_sites is None:
            frac_sites, frac_tet = fs, ft
            # kmc's environment of each Na1 -> Na2 hop: site index, or -1 - framework row
            h_env, env0, est0 = captured["env"]
            kmc_env = {f"{int(a)}-{int(c)}": [int(v) if v >= 0 else -1 - int(t)
                                              for v, t in zip(env0[e], est0[e])]
                       for e, (a, c) in enumerate(h_env)}
        # the Si pattern: from what the build passed on (static_n of each env entry)
        est = captured["env"][2]
        static_n = captured["inputs"]["env_static_n"]
        is_si = np.full(len(tet), -1)
        for e in range(est.shape[0]):
            for p in range(est.shape[1]):
                if est[e, p] >= 0:
                    v = int(static_n[e, p])
                    assert is_si[est[e, p]] in (-1, v)
                    is_si[est[e, p]] = v
        assert (is_si >= 0).all(), "a Si/P site in no environment"
        # ... and the same as redrawing kmc's rng call (materials.py _model_nasicon)
        n_fu = len(tet) // 3
        redraw = np.zeros(len(tet), dtype=int)
        redraw[np.random.default_rng(ds).choice(len(tet), size=round(X * n_fu),
                                                replace=False)] = 1
        assert (redraw == is_si).all(), "Si pattern of the build != redrawn rng pattern"
        assert int(is_si.sum()) == m.info["si_sites"]
        for k in OCC_SEEDS:
            occ = np.zeros(net.n_sites, dtype=bool)
            occ[occ_rng(ds, k).choice(net.n_sites, size=m.n_ions, replace=False)] = True
            configs.append({"disorder_seed": ds, "occupation_seed": [20221, ds, k],
                            "na_sites": np.flatnonzero(occ).tolist(),
                            "si_framework_sites": np.flatnonzero(is_si).tolist()})
    res = {"x": X, "size": list(SIZE), "n_ions": m.n_ions, "n_sites": net.n_sites,
           "site_labels": [net.site_type_names[t] for t in net.site_types],
           "frac_sites": np.round(frac_sites, 8).tolist(),
           "frac_framework": np.round(frac_tet, 8).tolist(),
           "hops": [[int(a), int(c)] for a, c in zip(net.hop_src, net.hop_dst)],
           "attempt_frequency_Hz": m.attempt_frequency_Hz, "rate_law": m.rate_law,
           "lce_fit": m.info["lce_fit"], "kmc_env": kmc_env, "configurations": configs}
    _dump(res, out)
    print(f"{out}: {len(configs)} configurations, {net.n_sites} sites, {net.n_hops} hops")


# ------------------------------------------------------------------------------------------
# stage 2: kMCpy
# ------------------------------------------------------------------------------------------
def _map_frac(frac_a: np.ndarray, frac_b: np.ndarray) -> np.ndarray:
    """For each row of frac_a the row of frac_b at the same fractional position (mod 1)."""
    d = frac_a[:, None, :] - frac_b[None, :, :]
    d -= np.rint(d)
    dist = np.abs(d).max(axis=2)
    j = dist.argmin(axis=1)
    assert (dist[np.arange(len(j)), j] < TOL_FRAC).all(), "unmapped site"
    assert np.sort((dist < TOL_FRAC).sum(axis=1)).tolist() == [1] * len(j), "ambiguous map"
    assert len(set(j.tolist())) == len(j), "two sites on one"
    return j


def _sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _generate_events(out: str) -> None:
    from kmcpy.event import EventGenerator
    EventGenerator().generate_events(
        structure_file=CIF, convert_to_primitive_cell=False,
        local_env_cutoff_dict={("Na+", "Na+"): 4.0, ("Na+", "Si4+"): 4.0},
        mobile_ion_identifiers=("Na1", "Na2"), site_mapping=MAP, distance_matrix_rtol=0.01,
        distance_matrix_atol=0.01, find_nearest_if_fail=False, export_local_env_structure=False,
        supercell_shape=list(SIZE), event_file=out)


def stage_kmcpy(stage1: str, events_file: str | None, model_file: str, out: str) -> None:
    import logging
    logging.disable(logging.INFO)
    import kmcpy
    from kmcpy.event import EventLib, event_direction
    from kmcpy.io.cif import load_labeled_structure_from_cif
    from kmcpy.models.composite_lce_model import CompositeLCEModel
    from kmcpy.simulator.config import Configuration, RuntimeConfig
    from kmcpy.simulator.kmc import KMC
    from kmcpy.simulator.state import State
    from kmcpy.structure.active_site_order import ActiveSiteOrder

    s1 = _load(stage1)
    tmp = tempfile.mkdtemp(prefix="nasicon_rates_")
    regen = os.path.join(tmp, "events.json")
    _generate_events(regen)
    if events_file is None:
        events_file = regen
    else:  # the given events must be what kMCpy generates now
        a, b = _load(events_file), _load(regen)
        assert a["events"] == b["events"], f"{events_file} != regenerated events"
    ev_json = _load(events_file)
    shape = ev_json["index_metadata"]["supercell_shape"]
    assert list(shape) == s1["size"]
    events = EventLib.from_file(events_file).events
    struct = load_labeled_structure_from_cif(filename=CIF, primitive=False)
    aso = ActiveSiteOrder.from_structure_and_mapping(struct, MAP, supercell_shape=shape)
    act = aso.active_structure()
    sp = np.array([site.species_string for site in act])
    lab = [site.properties.get("label", "") for site in act]
    na = np.flatnonzero(np.char.startswith(sp.astype(str), "Na"))
    si = np.flatnonzero(np.char.startswith(sp.astype(str), "Si"))
    assert len(na) + len(si) == len(act)
    fa = act.frac_coords % 1.0
    # kMCpy active index -> kmc site (Na) / kmc framework row (Si/P)
    na2kmc = _map_frac(fa[na], np.array(s1["frac_sites"]))
    si2kmc = _map_frac(fa[si], np.array(s1["frac_framework"]))
    to_site = np.full(len(act), -1)
    to_site[na] = na2kmc
    to_tet = np.full(len(act), -1)
    to_tet[si] = si2kmc
    labels = s1["site_labels"]
    for i in na:   # the labels agree (Na1 <-> Na1, Na2 <-> Na2)
        assert str(lab[i]).startswith(labels[to_site[i]]), (lab[i], labels[to_site[i]])
    kmc_hops = {tuple(h) for h in s1["hops"]}
    keys = []
    for e in events:
        a, c = (int(v) for v in e.mobile_ion_indices)
        i, j = int(to_site[a]), int(to_site[c])
        assert labels[i] == "Na1" and labels[j] == "Na2", (labels[i], labels[j])
        assert (i, j) in kmc_hops and (j, i) in kmc_hops, "kMCpy event not a kmc hop"
        keys.append(f"{i}-{j}")
    assert len(set(keys)) == len(keys)
    # kMCpy's environment order, in kmc's indices, against kmc's (nasicon_environments)
    same_order = 0
    for key, e in zip(keys, events):
        mapped = [int(to_site[v]) if to_site[v] >= 0 else -1 - int(to_tet[v])
                  for v in e.local_env_indices]
        ref = s1["kmc_env"][key]
        assert sorted(mapped) == sorted(ref), (key, mapped, ref)
        same_order += mapped == ref
    print(f"environments: {same_order} of {len(keys)} events list the same 12 sites in the same "
          "order as kmc (all list the same sets)")
    model = CompositeLCEModel.from_file(model_file)
    rc = RuntimeConfig(temperature=T_K, attempt_frequency=NU_HZ, equilibration_passes=0,
                       kmc_passes=1)
    out_cfg = []
    for cfg in s1["configurations"]:
        occ = np.ones(len(act), dtype=int)             # 1 = vacancy / P
        na_occ = set(cfg["na_sites"])
        si_set = set(cfg["si_framework_sites"])
        for i in na:
            occ[i] = 0 if int(to_site[i]) in na_occ else 1
        for i in si:
            occ[i] = 0 if int(to_tet[i]) in si_set else 1
        assert (occ[na] == 0).sum() == s1["n_ions"]
        st = State(occupations=occ.tolist())
        vals, dirs, probs = [], [], []
        for e in events:
            ekra = float(model.kra_model.compute(simulation_state=st, event=e))
            esite = float(model.site_model.compute(simulation_state=st, event=e))
            d = int(event_direction(st.occupations, e))
            p = float(model.compute_probability(event=e, runtime_config=rc, simulation_state=st))
            if d:   # the formula kMCpy applies, checked against its own value
                k = kmcpy_kb()
                ref = NU_HZ * np.exp(-(ekra + d * esite / 2) / (k * T_K))
                assert abs(p - ref) <= 1e-12 * ref, (p, ref)
            else:
                assert p == 0.0
            vals.append([ekra, esite])
            dirs.append(d)
            probs.append(p)
        # kMCpy's run-time rate table (KMC.from_config on this occupation)
        init = os.path.join(tmp, "initial_state.json")
        _dump({"occupation": occ.tolist()}, init)
        conf = Configuration(structure_file=CIF, model_file=os.path.abspath(model_file),
                             event_file=os.path.abspath(events_file), initial_state_file=init,
                             mobile_ion_specie="Na", temperature=T_K, attempt_frequency=NU_HZ,
                             equilibration_passes=0, kmc_passes=1, supercell_shape=list(shape),
                             site_mapping=MAP, convert_to_primitive_cell=False,
                             mobile_ion_charge=1.0, elementary_hop_distance=3.47782, dimension=3,
                             name="nasicon_rates", random_seed=1)
        km = KMC.from_config(conf)
        pl = np.asarray(km.prob_list, dtype=float)
        assert np.array_equal(pl, np.array(probs)), "KMC prob_list != compute_probability"
        out_cfg.append({**cfg, "kmcpy_occupation": "".join(map(str, occ.tolist())),
                        "direction": dirs, "E_meV": vals, "probability_Hz": probs})
        print(f"disorder_seed {cfg['disorder_seed']} occ {cfg['occupation_seed']}: "
              f"{sum(1 for d in dirs if d == 1)} forward, {sum(1 for d in dirs if d == -1)} "
              f"reverse allowed of {len(dirs)} events; KMC.prob_list == compute_probability")
    kmcpy_sha = "7761fdd2c0506763816d5b0b42226b224f60dc70"
    res = {
        "source": {
            "kmcpy_commit": kmcpy_sha,
            "kmcpy_version": getattr(kmcpy, "__version__", "?"),
            "pymatgen": __import__("pymatgen.core").core.__version__,
            "model_file": os.path.basename(model_file),
            "model_file_sha256": _sha256(model_file),
            "model_note": "kMCpy composite_lce model; parameters = kmc/data/nasicon_deng2022.json "
                          "fit 'kmcpy_example' (benchmarks/nasicon_deng2022/fit_models.py "
                          "model_example.json)",
            "events_file": os.path.basename(events_file) if events_file != regen
            else "regenerated",
            "events_sha256": _sha256(events_file),
            "events_fingerprint": ev_json["index_metadata"].get("fingerprint"),
            "cif": "kmc/data/structures/nasicon_Na4Zr2Si3O12_573K.cif",
            "cif_sha256": _sha256(CIF),
            "event_generator": "EventGenerator.generate_events(convert_to_primitive_cell=False, "
                               "supercell_shape=[2,1,1], local_env_cutoff_dict={(Na+,Na+): 4.0, "
                               "(Na+,Si4+): 4.0}, mobile_ion_identifiers=(Na1,Na2), "
                               "distance_matrix_rtol/atol=0.01)",
            "site_map": "kMCpy active sites -> kmc sites / kmc framework 'Si/P' rows by "
                        f"fractional coordinates of the 2x1x1 hexagonal supercell, mod 1, "
                        f"tolerance {TOL_FRAC}",
            "made_by": "benchmarks/nasicon_deng2022/kmcpy_rates.py (stages inputs, kmcpy; see "
                       "its docstring for the commands)",
            "values": "E_meV[event] = [E_KRA, E_site] = kra_model.compute, site_model.compute "
                      "(kMCpy LocalClusterExpansion, meV) on the configuration's occupation; "
                      "direction = kmcpy.event.event_direction (+1: Na1 src occupied and Na2 "
                      "dst empty; -1: reverse allowed; 0: blocked); probability_Hz = "
                      "CompositeLCEModel.compute_probability = nu exp(-(E_KRA + direction "
                      "E_site / 2) / kT) (0 when blocked), equal to KMC.from_config(...).prob_list",
        },
        "x": s1["x"], "size": s1["size"], "n_ions": s1["n_ions"],
        "temperature_K": T_K, "attempt_frequency_Hz": NU_HZ,
        "kmcpy_site_to_kmc": {"na_active_indices": na.tolist(), "kmc_site": na2kmc.tolist(),
                              "si_active_indices": si.tolist(),
                              "kmc_framework_row": si2kmc.tolist()},
        "env_order_identical_to_kmc": f"{same_order} of {len(keys)}",
        "events": keys,
        "configurations": out_cfg,
    }
    with open(out, "w") as f:
        f.write(_compact_json(res))
    print(f"{out}: {os.path.getsize(out)} bytes")


def kmcpy_kb() -> float:
    from kmcpy.units import BOLTZMANN_CONSTANT_MEV_PER_K
    return float(BOLTZMANN_CONSTANT_MEV_PER_K)


def _compact_json(d: dict) -> str:
    """JSON with one line per list of numbers (readable diffs, small file)."""
    s = json.dumps(d, indent=1)
    import re
    # collapse lists of scalars onto one line
    return re.sub(r"\[\s+([^\[\]{}]*?)\s+\]",
                  lambda m: "[" + " ".join(m.group(1).split()) + "]", s)


# ------------------------------------------------------------------------------------------
# stage 3: kmc comparison
# ------------------------------------------------------------------------------------------
def stage_compare(data_file: str, report: str | None) -> dict:
    import kmc
    from kmc.energy import _activation_eV, _local_value, hop_energetics

    d = _load(data_file)
    rows = []
    summary = {}
    for cfg in d["configurations"]:
        m = kmc.build_material("nasicon", x=d["x"], size=tuple(d["size"]),
                               disorder_seed=cfg["disorder_seed"])
        net = m.network
        order = {(int(a), int(b)): h for h, (a, b) in enumerate(zip(net.hop_src, net.hop_dst))}
        occ = np.zeros(net.n_sites, dtype=bool)
        occ[cfg["na_sites"]] = True
        for key, (ekra_k, esite_k), dirn, prob in zip(d["events"], cfg["E_meV"],
                                                      cfg["direction"], cfg["probability_Hz"]):
            i, j = (int(v) for v in key.split("-"))
            for s, (a, b) in ((1, (i, j)), (-1, (j, i))):
                h = order[(a, b)]
                allowed = bool(occ[a] and not occ[b])
                assert allowed == (dirn == s), (key, s, dirn)
                # kMCpy's values for this direction (evaluated on the present occupation)
                ekra_ref = ekra_k / 1000.0
                de_ref = s * esite_k / 1000.0
                if allowed:
                    ekra, de = (float(v[0]) for v in hop_energetics(net, occ, [h]))
                else:   # kmc's local models, term by term, on the same occupation
                    ekra = _local_value(net, int(net.hop_kra_model[h]), h, occ)
                    de = _local_value(net, int(net.hop_de_model[h]), h, occ)
                ea = float(_activation_eV(m.rate_law, np.array([ekra]), np.array([de]))[0])
                ea_ref = ekra_ref + de_ref / 2
                row = {"cfg": (cfg["disorder_seed"], tuple(cfg["occupation_seed"])),
                       "key": key, "dir": s, "allowed": allowed,
                       "d_ekra": ekra - ekra_ref, "d_de": de - de_ref, "d_ea": ea - ea_ref}
                if allowed:   # kmc's rate vs kMCpy's probability at the same T and nu
                    from kmc._engine import rate_Hz
                    k = float(rate_Hz(np.array([ekra]), np.array([de]), d["temperature_K"],
                                      d["attempt_frequency_Hz"], m.rate_law)[0])
                    row["rel_rate"] = k / prob - 1.0
                    # the same with kMCpy's Boltzmann constant (kmcpy/units.py:12, CODATA 2018
                    # 8.617333262145e-5 eV/K; kmc's engine: 8.617333262e-5)
                    kb = 8.617333262145e-5
                    row["rel_rate_kmcpy_kB"] = (d["attempt_frequency_Hz"] * np.exp(
                        -ea / (kb * d["temperature_K"]))) / prob - 1.0
                    row["ea"] = ea
                rows.append(row)
    for name, sel in (("allowed", [r for r in rows if r["allowed"]]), ("all", rows)):
        summary[name] = {
            "n": len(sel),
            "max_abs_d_Ekra_eV": max(abs(r["d_ekra"]) for r in sel),
            "max_abs_d_dE_eV": max(abs(r["d_de"]) for r in sel),
            "max_abs_d_Ea_eV": max(abs(r["d_ea"]) for r in sel),
        }
    summary["allowed"]["max_abs_rel_rate"] = max(abs(r["rel_rate"]) for r in rows
                                                 if r["allowed"])
    summary["allowed"]["max_abs_rel_rate_with_kmcpy_kB"] = max(
        abs(r["rel_rate_kmcpy_kB"]) for r in rows if r["allowed"])
    summary["allowed"]["Ea_range_eV"] = [min(r["ea"] for r in rows if r["allowed"]),
                                         max(r["ea"] for r in rows if r["allowed"])]
    summary["n_forward_allowed"] = sum(1 for r in rows if r["allowed"] and r["dir"] == 1)
    summary["n_reverse_allowed"] = sum(1 for r in rows if r["allowed"] and r["dir"] == -1)
    worst = max(rows, key=lambda r: abs(r["d_ea"]))
    summary["worst"] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in worst.items()}
    # negative control: the same events with the other disorder seed's Si pattern must differ
    cfgs = d["configurations"]
    other = [c for c in cfgs if c["disorder_seed"] != cfgs[0]["disorder_seed"]]
    if other:
        m = kmc.build_material("nasicon", x=d["x"], size=tuple(d["size"]),
                               disorder_seed=other[0]["disorder_seed"])
        net = m.network
        order = {(int(a), int(b)): h for h, (a, b) in enumerate(zip(net.hop_src, net.hop_dst))}
        occ = np.zeros(net.n_sites, dtype=bool)
        occ[cfgs[0]["na_sites"]] = True
        dev = max(abs(_local_value(net, int(net.hop_kra_model[order[tuple(
            int(v) for v in key.split("-"))]]), order[tuple(int(v) for v in key.split("-"))],
            occ) - e[0] / 1000.0) for key, e in zip(d["events"], cfgs[0]["E_meV"]))
        summary["control_wrong_si_pattern_max_abs_d_Ekra_eV"] = dev
    print(json.dumps(summary, indent=1, default=str))
    if report:
        _dump(summary, report, indent=1, default=str)
    tol = 1e-9
    bad = [k for k in ("max_abs_d_Ekra_eV", "max_abs_d_dE_eV", "max_abs_d_Ea_eV")
           if summary["all"][k] > tol]
    if bad:
        raise SystemExit(f"kmc and kMCpy differ by more than {tol} eV: {bad}")
    return summary


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="stage", required=True)
    a = sub.add_parser("inputs", help="stage 1 (kmc venv)")
    a.add_argument("out")
    b = sub.add_parser("kmcpy", help="stage 2 (kMCpy venv)")
    b.add_argument("stage1")
    b.add_argument("--events", default=None)
    b.add_argument("--model", required=True)
    b.add_argument("--out", required=True)
    c = sub.add_parser("compare", help="stage 3 (kmc venv)")
    c.add_argument("data")
    c.add_argument("--report", default=None)
    args = p.parse_args(argv)
    if args.stage == "inputs":
        stage_inputs(args.out)
    elif args.stage == "kmcpy":
        stage_kmcpy(args.stage1, args.events, args.model, args.out)
    else:
        stage_compare(args.data, args.report)


if __name__ == "__main__":
    main(sys.argv[1:])
