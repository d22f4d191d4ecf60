"""kMCpy's own numbers for the NASICON inputs, for tests/test_interop_kmcpy.py.

Runs kMCpy itself (https://github.com/caneparesearch/kMCpy, MIT), so it needs kMCpy
installed in a separate environment; kMCpy is never a dependency of kmc. Written and run
against kMCpy commit 7761fdd2c0506763816d5b0b42226b224f60dc70 (kmcpy 0.3.0) with pymatgen
2026.10.24:

    python3.11 -m venv /path/to/venv-kmcpy
    /path/to/venv-kmcpy/bin/pip install pymatgen==2026.10.24 -e /path/to/kMCpy
    /path/to/venv-kmcpy/bin/python benchmarks/kmcpy_reference.py \
        [--icsd-cif /path/to/kMCpy/tests/files/EntryWithCollCode15546_Na4Zr2Si3O12_573K.cif]

What it writes (tests/data/kmcpy/):

- ``events_regenerated.json``: the NASICON event library made by kMCpy's
  ``EventGenerator`` from kmc's CIF, with the settings of kMCpy's
  tests/test_nasicon_bulk.py::test_generate_events (cutoff 4 A, labels Na1/Na2,
  site mapping below, primitive cell, supercell 2x1x1). kMCpy's committed
  tests/files/input/events.json differs from it in events 12-23 (the environments of the
  two images of the second Na1 site are swapped; same index_metadata and fingerprint), so
  those 12 hops are 6.46-8.08 A long in the order kMCpy's simulator builds with pymatgen
  2026.10. The committed file was made with pymatgen 2025.10.7 (pinned in kMCpy's uv.lock),
  whose order it fits: the site order of a CIF changed between the two versions, and
  kmc.interop.kmcpy refuses an event file whose environments do not fit the order.
- ``nasicon_reference.json``: for both event files, for every event and three
  occupations (the initial state; the initial state with the hop's endpoints set to the
  forward configuration, ion on mobile_ion_indices[0]; and to the backward one), kMCpy's
  ``kra_model.compute`` (E_kra, meV), ``site_model.compute`` (the site LCE value, meV),
  ``event_direction`` and the signed site-energy difference the composite model uses;
  plus kMCpy's active-site order and the Cartesian positions of its active sites built
  from kmc's CIF. Nothing from the ICSD CIF is stored: with --icsd-cif the script only
  checks that the ICSD file gives the same order and positions, and records the verdict.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import warnings
from pathlib import Path

import numpy as np

KMCPY_COMMIT = "7761fdd2c0506763816d5b0b42226b224f60dc70"
REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data" / "kmcpy"
CIF = REPO / "kmc" / "data" / "structures" / "nasicon_Na4Zr2Si3O12_573K.cif"
# from kMCpy's tests/files/input/kmc_input.json
SITE_MAPPING = {"Na": ["Na", "X"], "Zr": "Zr", "Si": ["Si", "P"], "O": "O"}
SUPERCELL = (2, 1, 1)
MOBILE = "Na"


def _order(cif: Path):
    from kmcpy.io.cif import load_labeled_structure_from_cif
    from kmcpy.structure.active_site_order import ActiveSiteOrder

    structure = load_labeled_structure_from_cif(str(cif), primitive=True)
    order = ActiveSiteOrder.from_structure_and_mapping(structure, SITE_MAPPING,
                                                       supercell_shape=SUPERCELL)
    return order, order.active_structure()


def _regenerate_events(cif: Path, out: Path) -> None:
    from kmcpy.event import EventGenerator

    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:  # the generator may write files to cwd
        os.chdir(tmp)
        try:
            EventGenerator().generate_events(
                structure_file=str(cif), local_env_cutoff=4.0,
                mobile_ion_identifiers=("Na1", "Na2"), site_mapping=SITE_MAPPING,
                distance_matrix_rtol=0.01, distance_matrix_atol=0.01,
                find_nearest_if_fail=False, convert_to_primitive_cell=True,
                export_local_env_structure=False, supercell_shape=list(SUPERCELL),
                event_file=str(out))
        finally:
            os.chdir(cwd)


def _evaluate(order, events_file: Path) -> list[dict]:
    from kmcpy.event import EventLib, HopStateLookup, event_direction
    from kmcpy.models.composite_lce_model import CompositeLCEModel
    from kmcpy.simulator.state import State

    model = CompositeLCEModel.from_file(str(DATA / "model.json"))
    lib = EventLib.from_file(str(events_file))
    lib.validate_index_metadata(order)
    lookup = HopStateLookup.from_active_site_order(order, MOBILE)
    lookup.annotate_event_lib(lib)
    initial = State.from_file(str(DATA / "initial_state.json"), supercell_shape=SUPERCELL,
                              active_site_order=order)
    rows = []
    for index, event in enumerate(lib.events):
        i, j = (int(v) for v in event.mobile_ion_indices)
        forward = list(initial.occupations)
        forward[i], forward[j] = (int(lookup.mobile_state_by_site[i]),
                                  int(lookup.vacancy_state_by_site[j]))
        backward = list(forward)
        backward[i], backward[j] = forward[j], forward[i]
        for name, occ in (("initial", list(initial.occupations)), ("forward", forward),
                          ("backward", backward)):
            state = State(occupations=occ)
            direction = int(event_direction(state.occupations, event))
            rows.append({
                "event": index, "occupation": name, "states": [int(v) for v in occ],
                "direction": direction,
                "E_kra_meV": float(model.kra_model.compute(simulation_state=state,
                                                           event=event)),
                "site_lce_meV": float(model.site_model.compute(simulation_state=state,
                                                               event=event)),
                "delta_e_site_meV": float(model._compute_site_energy_difference(
                    event=event, simulation_state=state, direction=direction)),
            })
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--icsd-cif", type=Path, default=None,
                    help="kMCpy's ICSD CIF, read only to check it gives the same order")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    import kmcpy
    import pymatgen.core

    order, active = _order(CIF)
    regenerated = DATA / "events_regenerated.json"
    _regenerate_events(CIF, regenerated)

    icsd = None
    if args.icsd_cif is not None:
        order_i, active_i = _order(args.icsd_cif)
        icsd = {
            "same_fingerprint": order_i.fingerprint == order.fingerprint,
            "max_position_difference_A": float(np.abs(active_i.cart_coords
                                                      - active.cart_coords).max()),
            "same_lattice": bool(np.allclose(active_i.lattice.matrix,
                                             active.lattice.matrix, atol=1e-12)),
        }
        print("ICSD CIF vs kmc CIF:", icsd)

    try:
        src_commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True,
                                    text=True, cwd=Path(kmcpy.__file__).parents[1]
                                    ).stdout.strip() or None
    except OSError:
        src_commit = None
    out = {
        "made_by": "benchmarks/kmcpy_reference.py",
        "kmcpy_commit": KMCPY_COMMIT,
        "kmcpy_version": getattr(kmcpy, "__version__", None),
        "kmcpy_checkout_commit_seen": src_commit,
        "pymatgen_version": pymatgen.core.__version__,
        "structure": str(CIF.relative_to(REPO)),
        "site_mapping": SITE_MAPPING, "supercell": list(SUPERCELL), "mobile_species": MOBILE,
        "units": "meV (kMCpy's), Angstrom",
        "index_metadata": order.as_dict(),
        "active_cart_coords_A": active.cart_coords.tolist(),
        "active_lattice_A": active.lattice.matrix.tolist(),
        "icsd_cif_check": icsd,
        "events": {
            "events.json": _evaluate(order, DATA / "events.json"),
            "events_regenerated.json": _evaluate(order, regenerated),
        },
    }
    with open(DATA / "nasicon_reference.json", "w", encoding="utf-8") as fh:
        json.dump(out, fh, indent=1)
        fh.write("\n")
    print(f"wrote {DATA / 'nasicon_reference.json'} and {regenerated}")


if __name__ == "__main__":
    main()
