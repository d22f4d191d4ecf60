"""Structure files and objects: CIF, POSCAR, extxyz, ASE Atoms and pymatgen Structures on the
command line and from Python (kmc.structures).

The structure files are written here from fixed crystal data (an argyrodite F-43m cell with
the Deiseroth et al. 2008 Li 48h position and a = 9.85 A, the values lattices/argyrodite.toml
held before it moved to the neutron refinement's position: Li on 48h, half occupied, Cl on
4a, S on 4c), never copied from elsewhere.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from ase import Atoms
from ase.io import write
from ase.spacegroup import crystal

import kmc
from kmc import assemble, structures
from kmc.cli import main
from kmc.config import run_config
from kmc.errors import ConfigError
from kmc.materials import plane_spacings_A

# test input (recalled values, Deiseroth et al. 2008), fixed here so that the expected hop
# names below do not follow the material file
ARG = {"cell": {"cellpar": [9.85, 9.85, 9.85, 90.0, 90.0, 90.0]}}
A_ARG = float(ARG["cell"]["cellpar"][0])
LI_48H = (0.3185, 0.3185, 0.0210)


def _argyrodite(occupancy=0.5) -> Atoms:
    """Li6PS5Cl's Li sublattice with its anion cage centres: Li 48h (half occupied), Cl 4a,
    S 4c, space group F-43m (216)."""
    return crystal(["Li", "Cl", "S"], basis=[LI_48H, (0, 0, 0), (0.25, 0.25, 0.25)],
                   spacegroup=216, cellpar=ARG["cell"]["cellpar"],
                   occupancies=[occupancy, 1.0, 1.0])


@pytest.fixture(scope="module")
def arg_cif(tmp_path_factory):
    path = tmp_path_factory.mktemp("structures") / "Li6PS5Cl.cif"
    write(str(path), _argyrodite())
    return path


def _same_network(a: kmc.SiteNetwork, b: kmc.SiteNetwork) -> None:
    """Same sites (by position, any order) and the same hop lengths and types."""
    assert a.n_sites == b.n_sites and a.n_hops == b.n_hops
    assert a.hop_type_names == b.hop_type_names
    np.testing.assert_allclose(np.sort(a.hop_lengths_A), np.sort(b.hop_lengths_A), atol=1e-6)
    inv = np.linalg.inv(a.cell)
    fa, fb = (a.positions @ inv) % 1.0, (b.positions @ inv) % 1.0
    d = fa[:, None, :] - fb[None, :, :]
    d -= np.rint(d)
    assert np.all(np.min(np.linalg.norm(d @ a.cell, axis=2), axis=1) < 1e-4)


# --------------------------------------------------------------------------- the model
def test_partial_occupancy_cif_gives_sites_composition_and_hop_types(arg_cif):
    """48 Li sites per cell, half occupied: 24 ions; the doublet (1.908 A in the file's
    references) is the only hop within 2.0 A, the intracage jump appears at 2.5 A."""
    m = kmc.structure_model(arg_cif, "Li", 2.0)
    assert m.size == (1, 1, 1)  # 2.0 A fits a 9.85 A cell
    assert m.network.n_sites == 48 and m.n_ions == 24
    assert m.network.hop_type_names == ("Li1-Li1 1.908 A",)
    assert m.info["site_occupancy"] == {"Li1": 0.5}
    assert m.network.dimensionality == 0  # doublets alone are isolated pairs
    wider = kmc.structure_model(arg_cif, "Li", 2.5)
    assert len(wider.network.hop_type_names) == 2 and wider.network.dimensionality == 0


def test_supercell_satisfies_the_minimum_image_condition_on_every_axis_at_once():
    """An orthorhombic cell 10.3 x 6.0 x 4.7 A (LiFePO4's shape): the size is chosen on every
    axis in one step, it is the smallest (one fewer cell along any axis breaks the
    condition), and the hint of a too-small size names every axis."""
    from kmc.materials import minimum_image_size

    atoms = Atoms("Li4", scaled_positions=[(0, 0, 0), (0.5, 0, 0.5), (0, 0.5, 0.5),
                                            (0.5, 0.5, 0)], cell=[10.3, 6.0, 4.7], pbc=True)
    assert minimum_image_size(atoms.cell.array, 50.0) == (10, 17, 22)  # was (13, 1, 1) first
    for cutoff, want in ((4.0, (1, 2, 2)), (8.0, (2, 3, 4))):
        m = kmc.structure_model(atoms, "Li", cutoff)
        assert m.size == want, cutoff
        assert np.all(plane_spacings_A(m.network.cell) > 2 * cutoff)
        for k in range(3):
            fewer = np.array(want) - np.eye(3, dtype=int)[k]
            if fewer[k] >= 1:
                assert plane_spacings_A(np.diag(fewer) @ atoms.cell.array)[k] <= 2 * cutoff
    with pytest.raises(ConfigError, match=r"at least \(2, 3, 4\)"):
        kmc.structure_model(atoms, "Li", 8.0, size=1)
    # a sheared cell: the plane spacings (3, 3, 5 A), not the edges (5 A), decide
    tri = Atoms("Li", cell=[[5.0, 0, 0], [4.0, 3.0, 0], [0, 0, 5.0]], pbc=True)
    m = kmc.structure_model(tri, "Li", 3.2)
    assert m.size == (3, 3, 2) and np.all(plane_spacings_A(m.network.cell) > 6.4)


def test_poscar_extxyz_atoms_and_pymatgen_give_the_cif_network(tmp_path, arg_cif):
    ref = kmc.from_cif(arg_cif, "Li", 2.6)
    atoms = _argyrodite(occupancy=1.0)  # POSCAR and extxyz carry no occupancies
    for name, fmt in (("POSCAR", "vasp"), ("arg.extxyz", "extxyz")):
        write(str(tmp_path / name), atoms, format=fmt)
        _same_network(kmc.from_structure(tmp_path / name, "Li", 2.6), ref)
    _same_network(kmc.from_structure(atoms, "Li", 2.6), ref)
    pymatgen = pytest.importorskip("pymatgen.core")
    lattice = pymatgen.Lattice(atoms.cell.array)
    species = [{"Li": 0.5} if s == "Li" else s for s in atoms.get_chemical_symbols()]
    struct = pymatgen.Structure(lattice, species, atoms.get_scaled_positions())
    m = kmc.structure_model(struct, "Li", 2.6)
    _same_network(m.network, ref)
    assert m.n_ions == 24 and m.info["site_occupancy"] == {"Li1": 0.5}


def test_mixed_sites_count_with_their_occupancy(tmp_path):
    """A site shared by Li and Na (0.5 each) is a Li site of occupancy 0.5, whichever
    element the reader gives the atom; a Na-only site is not."""
    cif = tmp_path / "mixed.cif"
    cif.write_text("""data_mixed
_cell_length_a 4.0
_cell_length_b 4.0
_cell_length_c 4.0
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
_symmetry_space_group_name_H-M 'P 1'
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
_atom_site_occupancy
Li1 Li 0.0 0.0 0.0 1.0
Li2 Li 0.5 0.5 0.5 0.5
Na1 Na 0.5 0.5 0.5 0.5
Na2 Na 0.0 0.5 0.0 1.0
O1 O 0.5 0.0 0.0 1.0
""")
    m = kmc.structure_model(cif, "Li", 4.5)
    assert set(m.info["site_occupancy"].values()) == {1.0, 0.5}
    per_cell = m.network.n_sites / np.prod(m.size)
    assert per_cell == 2 and math.isclose(m.info["ions_from_occupancy"],
                                          1.5 * np.prod(m.size))
    na = kmc.structure_model(cif, "Na", 4.5)
    assert na.network.n_sites / np.prod(na.size) == 2  # the mixed site and Na2


def test_hop_type_keys_by_label_pair(arg_cif):
    m = kmc.structure_model(arg_cif, "Li", 2.5)
    doublet, intracage = m.network.hop_type_names
    net = kmc.from_structure(arg_cif, "Li", 2.5, barriers_eV={doublet: 0.1, intracage: 0.3})
    by_name = dict(zip(net.hop_type_names, (0.1, 0.3)))
    for t, name in enumerate(net.hop_type_names):
        assert np.all(net.hop_barriers_eV[net.hop_types == t] == by_name[name])
    # "Li1-Li1" means two types here: ambiguous, and the message lists them
    with pytest.raises(ConfigError, match=r"'Li1-Li1' is ambiguous: Li1-Li1 1.908 A; "):
        kmc.from_structure(arg_cif, "Li", 2.5, barriers_eV={"Li1-Li1": 0.2})
    # unique within 2.0 A; the name without " A" works too; the rest take a default
    one = kmc.from_structure(arg_cif, "Li", 2.0, barriers_eV={"Li1-Li1": 0.2})
    assert np.all(one.hop_barriers_eV == 0.2)
    partial = kmc.from_structure(arg_cif, "Li", 2.5, barriers_eV={doublet[:-2]: 0.15},
                                 default_barrier_eV=0.35)
    assert sorted(set(partial.hop_barriers_eV)) == [0.15, 0.35]
    with pytest.raises(ConfigError, match=r"no barrier for hop type"):
        kmc.from_structure(arg_cif, "Li", 2.5, barriers_eV={doublet: 0.15})
    with pytest.raises(ConfigError, match=r"unknown hop type 'Li1-Li9'; the hop types are"):
        kmc.from_structure(arg_cif, "Li", 2.5, barriers_eV={"Li1-Li9": 0.15})


@pytest.mark.parametrize("text, match", [
    ("junk\n", r"cannot read junk\.cif: \w+: \S"),  # never an empty complaint
    ("data_x\n_cell_length_a 5\nloop_\n_atom_site_label\n", r"junk\.cif"),
])
def test_unreadable_files_are_one_line_naming_the_file(tmp_path, text, match):
    path = tmp_path / "junk.cif"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match) as info:
        kmc.from_structure(path, "Li", 3.0)
    assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="does not exist"):
        kmc.from_structure(tmp_path / "missing.cif", "Li", 3.0)
    with pytest.raises(ConfigError, match="has no 'Li' sites"):
        kmc.from_structure(Atoms("Na", cell=[3, 3, 3], pbc=True), "Li", 3.0)
    with pytest.raises(ConfigError, match="no periodic cell"):
        kmc.from_structure(Atoms("Li"), "Li", 3.0)
    with pytest.raises(ConfigError, match="file path, an ase.Atoms or a pymatgen"):
        kmc.from_structure(42, "Li", 3.0)


# --------------------------------------------------------------------------- command line
def test_cli_run_and_show_a_structure_file(arg_cif, capsys):
    assert main(["lattices", "show", str(arg_cif), "--species", "Li", "--cutoff", "2.5"]) == 0
    text = capsys.readouterr().out
    assert "Li1-Li1 1.908 A" in text and "24 ions on 48 sites" in text
    assert "supercell 1 x 1 x 1" in text
    argv = ["run", str(arg_cif), "--species", "Li", "--cutoff", "3.0", "-T", "600",
            "--steps", "2e4", "--blocks", "10", "--seed", "3", "--json", "--quiet"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_sites"] == 48 and out["n_ions"] == 24 and out["network_name"] == "Li6PS5Cl"
    assert out["hops"] > 0
    # the same run from Python, through the same configuration
    cfg = run_config(str(arg_cif), {"species": "Li", "cutoff": 3.0, "temperature": 600.0,
                                    "steps": 20000, "blocks": 10, "seed": 3})
    assert cfg.model.lattice == "structure" and cfg.model.structure == str(arg_cif)
    assert assemble.run(cfg).sigma_S_cm == out["sigma_S_cm"]
    # barriers by label pair on the command line (the rest take --barrier)
    assert main([*argv, "--barriers", "Li1-Li1 1.908=0.05", "--barrier", "0.25"]) == 0
    fast = json.loads(capsys.readouterr().out)

    def doublet_share(o):
        return o["hop_type_counts"]["Li1-Li1 1.908 A"] / o["hops"]

    assert doublet_share(fast) > doublet_share(out)  # the doublet jumps got faster


def test_toml_config_with_a_structure_and_a_barrier_table(tmp_path, arg_cif, capsys):
    cfg = tmp_path / "run.toml"
    cfg.write_text(f'structure = "{arg_cif}"\nspecies = "Li"\ncutoff = 2.6\n'
                   'temperature = 500\nsteps = 10000\nblocks = 5\nseed = 1\njson = true\n'
                   'quiet = true\n[barriers]\n"Li1-Li1 1.908 A" = 0.1\n"Li1-Li1 2.236" = 0.3\n')
    assert main(["run", str(cfg)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_ions"] == 24
    c = run_config(str(cfg), {})
    assert dict(c.model.barriers) == {"Li1-Li1 1.908 A": 0.1, "Li1-Li1 2.236": 0.3}
    net = assemble.network(c.model)
    assert sorted(set(net.hop_barriers_eV)) == [0.1, 0.3]


def test_structure_runs_resume_and_sweep(tmp_path, arg_cif, capsys):
    out = tmp_path / "s.h5"
    base = ["--species", "Li", "--cutoff", "3.0", "--steps", "10000", "--blocks", "5",
            "--seed", "2", "--quiet"]
    assert main(["run", str(arg_cif), *base, "--output", str(out), "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert kmc.load(out).sigma_S_cm == first["sigma_S_cm"]
    sweep = tmp_path / "sw.h5"
    assert main(["sweep", str(arg_cif), *base, "-T", "500,600", "--workers", "1",
                 "--output", str(sweep), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["n_runs"] == 2 and not summary["failures"]
    assert summary["config"]["composition_key"] == "ions"
    assert summary["config"]["compositions"] == [24]


@pytest.mark.parametrize("argv, match", [
    (["run", "{cif}"], "a structure needs --species and --cutoff"),
    (["run", "{cif}", "--species", "Li"], "a structure needs --cutoff"),
    (["run", "{cif}", "--species", "Li", "--cutoff", "3", "--a", "4"],
     "--a is not an option of a structure"),
    (["run", "{cif}", "--species", "Li", "--cutoff", "3", "--barriers", "Li1-Li1=0.2"],
     "'Li1-Li1' is ambiguous"),
    (["run", "{cif}", "--species", "Li", "--cutoff", "3", "--barriers", "oops"],
     "give NAME=NUMBER"),
    (["run", "sc", "--species", "Li"], "--species is an option of a structure file"),
    (["lattices", "show", "{cif}"], "needs --species X and --cutoff"),
    (["run", "{full}", "--species", "Li", "--cutoff", "3"], "every one of its sites is "
     "occupied: no vacancy to move into; give the composition"),
])
def test_cli_structure_errors_are_one_line(tmp_path, arg_cif, capsys, argv, match):
    full = tmp_path / "full.cif"
    write(str(full), _argyrodite(occupancy=1.0))
    argv = [a.format(cif=arg_cif, full=full) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("kmc: error:") and err.count("\n") == 1, err
    assert match in err


def test_a_fully_occupied_structure_runs_with_a_composition(tmp_path, capsys):
    full = tmp_path / "full.cif"
    write(str(full), _argyrodite(occupancy=1.0))
    assert main(["run", str(full), "--species", "Li", "--cutoff", "2.6", "--vacancies", "4",
                 "--steps", "5000", "--blocks", "5", "--seed", "1", "--json", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["n_ions"] == 44


# --------------------------------------------------------------------------- rough edges
def test_debug_after_the_command_and_integers_in_exponent_form(capsys):
    assert main(["run", "sc", "--size", "4", "--steps", "1e4", "--blocks", "1e1",
                 "--seed", "1", "--json", "--quiet", "--debug"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_sites"] == 64 and sum(out["hop_type_counts"].values()) == out["hops"]
    with pytest.raises(ConfigError, match="unknown lattice"):
        main(["run", "scc", "--debug"])  # --debug shows the error itself, not a usage crash
    assert main(["run", "sc", "--size", "4", "--steps", "1.5e3", "--blocks", "4", "--seed",
                 "1", "--json", "--quiet"]) == 0  # 1500 exactly
    assert json.loads(capsys.readouterr().out)["equilibration_steps"] == 150
    assert main(["run", "sc", "--steps", "1e-3"]) == 2
    assert "not a whole number" in capsys.readouterr().err


def test_a_structure_trajectory_carries_the_species(tmp_path, arg_cif, capsys):
    from ase.io import read

    traj = tmp_path / "t.xyz"
    assert main(["run", str(arg_cif), "--species", "Li", "--cutoff", "2.6", "--steps", "4000",
                 "--blocks", "4", "--seed", "1", "--trajectory", str(traj), "--every", "1e3",
                 "--quiet", "--json"]) == 0
    hops = json.loads(capsys.readouterr().out)["hops"]  # blocks of equal time: about 4000
    frames = read(str(traj), index=":")
    assert hops > 2000 and len(frames) == 1 + hops // 1000  # one at the start, one per 1000
    assert set(frames[0].get_chemical_symbols()) <= {"Li", "X"}
    assert frames[0].get_chemical_symbols().count("Li") == 24
