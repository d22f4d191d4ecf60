"""kmc: kinetic Monte Carlo of ion transport in solid electrolytes.

A C engine moves ions on a network of sites; Python builds the networks
(:class:`SiteNetwork`, :mod:`kmc.builders`), runs simulations
(:class:`Simulation`, :func:`run_sweep`) and turns trajectories into tracer and
collective diffusivities, correlation factors, Haven ratios and conductivities with
standard errors (:mod:`kmc.analysis`) and Arrhenius fits (:mod:`kmc.arrhenius`);
results and checkpoints go to HDF5 files (:mod:`kmc.io`, :func:`load`, :func:`resume`).
Materials come from crystal data (:mod:`kmc.materials`); polycrystals and composites from
:mod:`kmc.microstructure`, with their effective-medium predictions (a coarse resistor network
of the grains, ...) in :mod:`kmc.effective_medium`. Cluster expansions and local models of a
hop's environment (environment-dependent barriers, kMCpy's models) are in :mod:`kmc.energy`;
jump counts per hop type and per class of site pair in frames of fixed simulated time (as an
AIMD trajectory is analysed) in :mod:`kmc.jumps`. :mod:`kmc.config` validates run and
sweep configurations, :mod:`kmc.assemble` builds and runs them. The layers and where to add
things: ``docs/architecture.md``.

Units: Angstrom, s, eV, K, e; D in cm^2/s, sigma in S/cm.
"""

__version__ = "0.1.0"

from .analysis import BlockData, TransportEstimate, transport
from .builders import LATTICES, build_lattice, periodic_network
from .errors import ConfigError, ConfigTypeError, KMCError, RunInterrupted
from .lattice import Network, PeriodicNetwork, SiteNetwork
from .events import EventSet
from .results import RunResult, SweepResult
from .io import load
from .simulation import Simulation, occupancy_statistics, resume
from .arrhenius import ArrheniusFit, fit_arrhenius
from .sweep import run_sweep
from .materials import Material, build_material, list_materials
from .structures import from_cif, from_structure, structure_model
from .microstructure import Microstructure, composite, polycrystal
from .effective_medium import resistor_network
from .energy import ClusterExpansion, LocalClusterExpansion, check_detailed_balance
from .response import FieldResponse, field_response
from . import assemble, config, energy, jumps

__all__ = [
    "__version__", "Network", "SiteNetwork", "PeriodicNetwork", "EventSet", "Simulation",
    "RunResult", "TransportEstimate", "BlockData", "transport", "build_lattice",
    "periodic_network", "LATTICES", "occupancy_statistics", "ConfigError", "ConfigTypeError",
    "KMCError", "RunInterrupted", "load", "resume", "run_sweep", "SweepResult",
    "fit_arrhenius", "ArrheniusFit", "Material", "build_material", "from_cif",
    "from_structure", "structure_model",
    "list_materials", "Microstructure", "polycrystal", "composite", "resistor_network",
    "assemble", "config", "energy", "jumps", "ClusterExpansion", "LocalClusterExpansion",
    "check_detailed_balance", "field_response", "FieldResponse",
]
