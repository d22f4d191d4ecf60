"""kmc: kinetic Monte Carlo of ion transport in solid electrolytes.

A C engine moves ions on a network of sites; Python builds the networks
(:class:`SiteNetwork`, :mod:`kmc.builders`), runs simulations
(:class:`Simulation`, :func:`run_sweep`) and turns trajectories into tracer and
collective diffusivities, correlation factors, Haven ratios and conductivities with
standard errors (:mod:`kmc.analysis`) and Arrhenius fits (:mod:`kmc.arrhenius`);
results and checkpoints go to HDF5 files (:mod:`kmc.io`, :func:`load`, :func:`resume`).
Materials come from crystal data (:mod:`kmc.materials`); polycrystals and composites, with a
coarse resistor network of their grains, from :mod:`kmc.microstructure`.

Units: Angstrom, s, eV, K, e; D in cm^2/s, sigma in S/cm.
"""

__version__ = "0.1.0"

from .analysis import BlockData, TransportEstimate, transport
from .builders import LATTICES, build_lattice, periodic_network
from .errors import ConfigError, KMCError, RunInterrupted
from .io import load
from .lattice import PeriodicNetwork, SiteNetwork
from .simulation import RunResult, Simulation, occupancy_statistics, resume
from .arrhenius import ArrheniusFit, fit_arrhenius
from .sweep import SweepResult, run_sweep
from .materials import Material, build_material, from_cif, list_materials
from .microstructure import Microstructure, composite, polycrystal, resistor_network

__all__ = [
    "__version__", "SiteNetwork", "PeriodicNetwork", "Simulation", "RunResult", "TransportEstimate", "BlockData",
    "transport", "build_lattice", "periodic_network", "LATTICES", "occupancy_statistics",
    "ConfigError", "KMCError", "RunInterrupted", "load", "resume", "run_sweep", "SweepResult",
    "fit_arrhenius", "ArrheniusFit", "Material", "build_material", "from_cif", "list_materials",
    "Microstructure", "polycrystal", "composite", "resistor_network",
]
