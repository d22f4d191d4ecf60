"""kmc.interop.kmcpy: kMCpy's NASICON inputs read in kMCpy's order, against kMCpy's own
numbers (tests/data/kmcpy/nasicon_reference.json, made by benchmarks/kmcpy_reference.py)."""

from __future__ import annotations

import copy
import json
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pymatgen")

from kmc.interop.kmcpy import KmcpyInputs, evaluate_lce, read_kmcpy  # noqa: E402

DATA = Path(__file__).parent / "data" / "kmcpy"
CIF = Path(resources.files("kmc.data").joinpath("structures/nasicon_Na4Zr2Si3O12_573K.cif"))
REF = json.loads((DATA / "nasicon_reference.json").read_text())
HOP_A = 3.47782  # kMCpy's elementary_hop_distance (kmc_input.json)
#: Event files that fit the structure's site order with the installed pymatgen (see
#: test_kmcpys_committed_events_fit_only_the_site_order_they_were_made_for).
EVENT_FILES = ("events_regenerated.json",)


def _read(events="events_regenerated.json", **kw) -> KmcpyInputs:
    args = dict(structure=CIF, model=DATA / "model.json", events=DATA / events,
                initial_state=DATA / "initial_state.json", supercell=(2, 1, 1))
    args.update(kw)
    return read_kmcpy(**args)


@pytest.fixture(scope="module", params=EVENT_FILES)
def inputs(request):
    return request.param, _read(request.param)


# --------------------------------------------------------------------------------------------
# the order and the geometry
# --------------------------------------------------------------------------------------------
def test_order_agrees_with_the_index_metadata(inputs):
    name, r = inputs
    meta = json.loads((DATA / name).read_text())["index_metadata"]
    assert r.source["kmcpy_fingerprint"] == meta["fingerprint"] == REF["index_metadata"][
        "fingerprint"]
    # network sites: the active sites that allow Na, in active order
    na_active = [k for k, p in enumerate(meta["active_to_primitive"])
                 if "Na" in meta["allowed_species_by_primitive_site"][p]]
    assert r.kmcpy_index.tolist() == na_active == list(range(16))
    assert r.n_sites == 16 and r.n_events == 24
    assert r.site_labels.tolist() == ["Na1"] * 4 + ["Na2"] * 12
    assert r.env_sites.shape == r.env_static_n.shape == (24, 12)
    assert r.env_static_n.dtype == np.int8


def test_positions_are_kmcpys(inputs):
    _, r = inputs
    kmcpy_cart = np.array(REF["active_cart_coords_A"])
    np.testing.assert_allclose(r.positions_A, kmcpy_cart[r.kmcpy_index], atol=1e-9)
    np.testing.assert_allclose(r.lattice_A, REF["active_lattice_A"], atol=1e-12)
    assert REF["icsd_cif_check"] == {"same_fingerprint": True,
                                     "max_position_difference_A": 0.0, "same_lattice": True}


def test_hop_vectors_are_minimum_images_of_the_positions(inputs):
    _, r = inputs
    inv = np.linalg.inv(r.lattice_A)
    d = r.positions_A[r.hops[:, 1]] - r.positions_A[r.hops[:, 0]]
    shift = r.hop_vectors_A - d  # a lattice vector
    frac = shift @ inv
    np.testing.assert_allclose(frac, np.round(frac), atol=1e-9)


def test_regenerated_events_are_all_nearest_neighbour_hops():
    r = _read("events_regenerated.json")
    np.testing.assert_allclose(np.linalg.norm(r.hop_vectors_A, axis=1), HOP_A, atol=1e-3)
    # the endpoint j is in the local environment, i (the centre) is not
    for e, (i, j) in enumerate(r.hops):
        assert j in r.env_sites[e] and i not in r.env_sites[e]


def test_kmcpys_committed_events_fit_only_the_site_order_they_were_made_for():
    """kMCpy's tests/files/input/events.json (commit 7761fdd) was made with pymatgen
    2025.10.7, whose primitive cell orders the Na sites differently from pymatgen 2026:
    read in the newer order, events 12-23 would point at sites 6.46-8.08 A apart (the two
    images of the second Na1 site swapped; the fingerprint, which holds no positions, does
    not see it). The reader compares every environment with the model's migration unit and
    refuses the file, naming the event and the distance; with the order the file was made
    for it reads it, and every hop is 3.478 A."""
    from kmc.errors import ConfigError

    try:
        r = _read("events.json")
    except ConfigError as exc:
        text = str(exc)
        assert "events.json: events[12].local_env_indices[0]" in text
        assert "6.458 A from the event's centre" in text and "site order" in text
        return
    np.testing.assert_allclose(np.linalg.norm(r.hop_vectors_A, axis=1), HOP_A, atol=1e-3)


# --------------------------------------------------------------------------------------------
# the n convention and the models, against kMCpy
# --------------------------------------------------------------------------------------------
def test_basis_convention():
    r = _read()
    for spec in (r.kra, r.site):
        assert (spec.phi_occupied, spec.phi_empty) == (-1.0, 1.0)  # Na state 0 -> -1
        assert len(spec.clusters) == len(spec.coefficients_eV) == 106
    assert r.kra.e0_eV == pytest.approx(0.3391083600548, abs=1e-15)
    # the initial state has Si on every Si/P site: state 0, basis value -1, so n = 1
    static = r.env_sites < 0
    assert (r.env_static_n[static] == 1).all() and (r.env_static_n[~static] == 0).all()
    assert int(r.occupied.sum()) == 14


def _occupied_from_states(r: KmcpyInputs, states) -> np.ndarray:
    # Na sites allow ["Na", "X"]: state 0 is the ion
    return np.asarray(states)[r.kmcpy_index] == 0


@pytest.mark.parametrize("events", EVENT_FILES)
def test_lce_values_match_kmcpy(events):
    r = _read(events)
    rows = REF["events"][events]
    assert len(rows) == 3 * r.n_events
    initial = _occupied_from_states(r, rows[0]["states"])
    np.testing.assert_array_equal(initial, r.occupied)
    for row in rows:
        e = row["event"]
        occ = _occupied_from_states(r, row["states"])
        n_env = r.env_n(occ)[e]
        assert abs(evaluate_lce(r.kra, n_env) - row["E_kra_meV"] / 1000) < 1e-9
        assert abs(evaluate_lce(r.site, n_env) - row["site_lce_meV"] / 1000) < 1e-9
        # kMCpy's direction: +1 when the ion sits on hops[e, 0] and hops[e, 1] is empty
        i, j = r.hops[e]
        direction = 1 if occ[i] and not occ[j] else (-1 if occ[j] and not occ[i] else 0)
        assert direction == row["direction"]
        assert row["delta_e_site_meV"] == pytest.approx(direction * row["site_lce_meV"],
                                                        abs=1e-12)
    # evaluate_lce on a stack of rows gives the same values
    stack = r.env_n()
    np.testing.assert_allclose(evaluate_lce(r.kra, stack),
                               [evaluate_lce(r.kra, row) for row in stack], atol=1e-15)


def test_e_kra_depends_on_the_endpoint_in_the_environment():
    rows = [x for x in REF["events"]["events_regenerated.json"] if x["event"] == 0]
    fwd = next(x for x in rows if x["occupation"] == "forward")
    bwd = next(x for x in rows if x["occupation"] == "backward")
    assert (fwd["direction"], bwd["direction"]) == (1, -1)
    assert abs(fwd["E_kra_meV"] - bwd["E_kra_meV"]) > 10  # 168.05 vs 116.40 meV


def test_arrays_are_read_only_and_the_source_is_recorded():
    r = _read()
    with pytest.raises(ValueError):
        r.hops[0, 0] = 3
    assert set(r.source["sha256"]) == {"structure", "model", "events", "initial_state"}
    assert r.source["model_filetype"] == "kmcpy.model_file"
    assert r.source["model_type"] == "composite_lce"
    assert r.source["index_metadata_format"] == "kmcpy.active_site_order.v1"


# --------------------------------------------------------------------------------------------
# bad input: one ValueError naming the file, the key and the value
# --------------------------------------------------------------------------------------------
def _write(tmp_path, name, data) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


@pytest.fixture(scope="module")
def model_data():
    return json.loads((DATA / "model.json").read_text())


@pytest.fixture(scope="module")
def events_data():
    return json.loads((DATA / "events.json").read_text())


def _raises(match_parts, **kw):
    with pytest.raises(ValueError) as info:
        _read(**kw)
    for part in match_parts:
        assert part in str(info.value), str(info.value)


def test_model_of_another_filetype(tmp_path, model_data):
    bad = copy.deepcopy(model_data)
    bad["filetype"] = "kmcpy.lce_file"
    p = _write(tmp_path, "m.json", bad)
    _raises([str(p), "filetype", "'kmcpy.lce_file'"], model=p)


def test_model_of_another_model_type(tmp_path, model_data):
    bad = copy.deepcopy(model_data)
    bad["model_type"] = "local_barrier"
    p = _write(tmp_path, "m.json", bad)
    _raises([str(p), "model_type", "'local_barrier'"], model=p)


def test_events_of_another_format_version(tmp_path, events_data):
    bad = copy.deepcopy(events_data)
    bad["index_metadata"]["format"] = "kmcpy.active_site_order.v2"
    p = _write(tmp_path, "e.json", bad)
    _raises([str(p), "index_metadata.format", "'kmcpy.active_site_order.v2'"], events=p)


def test_missing_key(tmp_path, model_data):
    bad = copy.deepcopy(model_data)
    del bad["kra"]["parameters"]["empty_cluster"]
    p = _write(tmp_path, "m.json", bad)
    _raises([str(p), "kra.parameters.empty_cluster", "missing"], model=p)


def test_keci_length_not_the_number_of_orbits(tmp_path, model_data):
    bad = copy.deepcopy(model_data)
    bad["site"]["parameters"]["keci"] = bad["site"]["parameters"]["keci"][:-1]
    p = _write(tmp_path, "m.json", bad)
    _raises([str(p), "site.parameters.keci", "18 values", "19 orbits"], model=p)


def test_cluster_naming_an_env_position_out_of_range(tmp_path, model_data):
    bad = copy.deepcopy(model_data)
    bad["kra"]["lce"]["cluster_site_indices"][2][0] = [0, 12]
    p = _write(tmp_path, "m.json", bad)
    _raises([str(p), "kra.lce.cluster_site_indices[2][0]", "(0, 12)", "0..11"], model=p)


def test_basis_values_one_pair_cannot_represent(tmp_path, model_data):
    bad = copy.deepcopy(model_data)
    bad["kra"]["lce"]["site_basis_values"][3] = [[-0.5], [1.0]]
    p = _write(tmp_path, "m.json", bad)
    _raises([str(p), "kra.lce.site_basis_values", "one (phi_empty, phi_occupied) pair"],
            model=p)


def test_event_index_beyond_the_active_sites(tmp_path, events_data):
    bad = copy.deepcopy(events_data)
    bad["events"][5]["local_env_indices"][11] = 28
    p = _write(tmp_path, "e.json", bad)
    _raises([str(p), "events[5].local_env_indices", "28", "0..27", "28 active sites"],
            events=p)


def test_events_for_another_supercell(tmp_path):
    _raises(["events_regenerated.json", "index_metadata.supercell_shape", "(2, 1, 1)", "(1, 1, 1)"],
            supercell=(1, 1, 1))


@pytest.mark.parametrize("supercell", [(2, 1), (2, 1, 0), (2.0, 1, 1), (2, -1, 1), "211",
                                       (True, 1, 1), None])
def test_supercell_not_three_positive_ints(supercell):
    _raises(["supercell", "3 positive integers"], supercell=supercell)


def test_initial_state_of_the_wrong_length(tmp_path):
    p = _write(tmp_path, "s.json", {"occupation": [0] * 30})
    _raises([str(p), "occupation", "30 values", "28", "84"], initial_state=p)


def test_fingerprint_mismatch(tmp_path, events_data):
    bad = copy.deepcopy(events_data)
    bad["index_metadata"]["fingerprint"] = "0" * 64
    p = _write(tmp_path, "e.json", bad)
    _raises([str(p), "index_metadata.fingerprint", "0000"], events=p)


def test_without_pymatgen_the_message_names_the_extra(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pymatgen(name, *args, **kwargs):
        if name.startswith("pymatgen"):
            raise ImportError("no pymatgen")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pymatgen)
    with pytest.raises(ImportError, match=r"pip install 'kmc-ion\[kmcpy\]'"):
        _read()
