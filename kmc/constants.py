"""Physical constants, unit conversions, limits and defaults of :mod:`kmc`: one place each.

The engine's limits (largest degree, moves per event, attempt frequency) and its Boltzmann
constant are defined once, in ``csrc/kmc_engine.h``, and reach Python through the wrapper
(:mod:`kmc._engine`); nothing here retypes them. Python's effective-medium predictions use
the same k_B as the engine's rates, so the two agree to the last bit.

Units: Angstrom, s, eV, K, e, Hz; D in cm^2/s, sigma in S/cm.
"""

from __future__ import annotations

from scipy.constants import e as _E_C
from scipy.constants import k as _K_J

from . import _engine

__all__ = [
    "KB_EV_PER_K", "KB_J_PER_K", "E_CHARGE_C",
    "CM_PER_A", "A_PER_NM", "A2_PER_S_TO_CM2_PER_S", "PER_A3_TO_PER_CM3",
    "V_PER_A_TO_V_PER_CM", "A_PER_S_TO_CM_PER_S",
    "MAX_DEGREE", "MAX_EVENT_MOVES", "MAX_CLUSTER_SITES", "MAX_ATTEMPT_FREQUENCY_HZ", "RATE_LAWS", "ENGINE_MODES",
    "INDEX_LIMIT", "SEED_LIMIT", "ZERO_HOP_A", "IMAGE_TOL",
    "MAX_LINEAR_RESPONSE_PARAMETER", "MAX_FIELD_PARAMETER",
    "DEFAULT_ATTEMPT_FREQUENCY_HZ", "DEFAULT_LATTICE_CONSTANT_A", "DEFAULT_BARRIER_EV",
    "DEFAULT_OCCUPANCY", "DEFAULT_BLOCKS", "DEFAULT_STEPS", "default_equilibration",
    "DEFAULT_TARGET_REL_ERR", "TARGETS", "DEFAULT_MAX_WALL_S", "DEFAULT_MAX_STEPS",
    "MIN_MAX_STEPS", "MIN_MAX_WALL_S", "default_target_equilibration", "MAX_SNAPSHOTS",
    "MAX_TRACKED_IONS",
    "DEFAULT_TRAJECTORY_FRAMES", "DEFAULT_TRAJECTORY_MAX_FRAMES", "DEFAULT_TRAJECTORY_SPECIES",
    "TRAJECTORY_MAX_BYTES", "TRAJECTORY_MAX_BYTES_ENV",
]

# ---------------------------------------------------------------- physical constants
#: Boltzmann constant, eV/K: the engine's (CODATA 2018), used by every rate in Python too.
KB_EV_PER_K: float = float(_engine.KB_EV_PER_K)
#: Boltzmann constant, J/K (SI, exact).
KB_J_PER_K: float = float(_K_J)
#: Elementary charge, C (SI, exact).
E_CHARGE_C: float = float(_E_C)

# ---------------------------------------------------------------- unit conversions
#: Angstrom -> cm
CM_PER_A = 1e-8
#: nm -> Angstrom
A_PER_NM = 10.0
#: Angstrom^2/s -> cm^2/s
A2_PER_S_TO_CM2_PER_S = 1e-16
#: Angstrom^-3 -> cm^-3
PER_A3_TO_PER_CM3 = 1e24
#: V/Angstrom -> V/cm
V_PER_A_TO_V_PER_CM = 1e8
#: Angstrom/s -> cm/s
A_PER_S_TO_CM_PER_S = 1e-8

# ---------------------------------------------------------------- the engine's limits
#: Most hops that may start at one site (KMC_MAX_DEGREE).
MAX_DEGREE: int = int(_engine.MAX_DEGREE)
#: Most simultaneous moves of one multi-ion event (KMC_MAX_EVENT_MOVES).
MAX_EVENT_MOVES: int = int(_engine.MAX_EVENT_MOVES)
#: Most sites of a cluster or of a local-model term (KMC_MAX_CLUSTER_SITES).
MAX_CLUSTER_SITES: int = int(_engine.MAX_CLUSTER_SITES)
#: Largest attempt frequency accepted, Hz (KMC_MAX_ATTEMPT_FREQUENCY_HZ).
MAX_ATTEMPT_FREQUENCY_HZ: float = float(_engine.MAX_ATTEMPT_FREQUENCY_HZ)
#: The engine's rate laws (kmc_rate_law), by name.
RATE_LAWS: tuple[str, ...] = tuple(_engine.RATE_LAWS)
#: The engine's event-selection algorithms (kmc_mode), by name; "auto" chooses.
ENGINE_MODES: tuple[str, ...] = tuple(_engine.MODES)
#: Site, hop and event counts must be below this (indices are int32 in the engine).
INDEX_LIMIT = 2**31 - 1
#: Seeds are integers in [0, SEED_LIMIT).
SEED_LIMIT = 2**63
#: Hop and move vectors shorter than this are refused, Angstrom.
ZERO_HOP_A = 1e-8
#: A hop vector must match the positions up to a lattice vector within this, in cell units.
IMAGE_TOL = 1e-5
#: Above this linear-response parameter x = q |E| a / (kB T) of a field (a: the mean jump
#: length, Angstrom) a run warns that the field may be outside linear response. A field
#: multiplies the rate of a jump along it by exp(+-x/2): the drift conductivity departs
#: from linear response by sinh(x/2) / (x/2) - 1 (0.04 % at x = 0.1) and the summed hop
#: rates, hence D* and D_sigma, rise by up to cosh(x/2) - 1 (0.1 % at x = 0.1).
MAX_LINEAR_RESPONSE_PARAMETER = 0.1
#: A field with x = q |E| a / (kB T) above this is refused: q E a > kB T, the field's
#: energy over one jump outweighs the thermal energy and the drift dominates the hops
#: (at x = 1 the drift is 4 % and the hop rates 13 % off their linear-response values).
MAX_FIELD_PARAMETER = 1.0

# ---------------------------------------------------------------- defaults
#: Attempt frequency of every hop, Hz.
DEFAULT_ATTEMPT_FREQUENCY_HZ = 1e13
#: Lattice constant of the standard lattices, Angstrom.
DEFAULT_LATTICE_CONSTANT_A = 3.0
#: KRA barrier of every hop of a standard lattice, eV.
DEFAULT_BARRIER_EV = 0.3
#: Occupied fraction of a standard lattice's sites when no composition is given.
DEFAULT_OCCUPANCY = 0.5
#: Production hops and blocks of a run when not given.
DEFAULT_STEPS = 1_000_000
DEFAULT_BLOCKS = 100


def default_equilibration(steps: int) -> int:
    """Equilibration hops before a production phase of `steps` hops when not given: a tenth."""
    return int(steps) // 10


# ---------------------------------------------------------------- runs to a precision
#: What a run without --steps aims at: the relative standard error of its target (sigma by
#: default), with the diffusive regime established.
DEFAULT_TARGET_REL_ERR = 0.05
#: The quantities a run to a precision can aim at (``--target``).
TARGETS = ("sigma", "D_tracer")
#: Caps of a run to a precision when not given: wall seconds of production, and hops.
DEFAULT_MAX_WALL_S = 300.0
DEFAULT_MAX_STEPS = 10**10
#: Smallest caps accepted (below these no run could establish anything).
MIN_MAX_STEPS = 10_000
MIN_MAX_WALL_S = 1.0
#: Equilibration of a run to a precision: this many hops per ion, at least MIN_... hops.
TARGET_EQUILIBRATION_HOPS_PER_ION = 20
MIN_TARGET_EQUILIBRATION_HOPS = 10_000
#: The first look of a run to a precision comes after this many hops per ion (at least
#: MIN_FIRST_CHECK_HOPS). The next comes when the error should reach the target (it falls
#: as 1 / sqrt(production time)), LOOK_MARGIN later than that, but no sooner than
#: MIN_LOOK_GROWTH and no later than MAX_LOOK_GROWTH times the production time; after a
#: look that finds no diffusive regime, the production time doubles.
FIRST_CHECK_HOPS_PER_ION = 50
MIN_FIRST_CHECK_HOPS = 50_000
LOOK_MARGIN = 1.2
MIN_LOOK_GROWTH = 1.25
MAX_LOOK_GROWTH = 16.0
#: Displacement snapshots kept for the lag-time MSD (thinned by two when full), and the ions
#: whose snapshots are kept for the tracer MSD (a random subset of larger systems).
MAX_SNAPSHOTS = 256
MAX_TRACKED_IONS = 4096
#: The summed displacement of all ions (the collective MSD, one trajectory, needs many time
#: origins) is also kept on a finer grid of at most MAX_COLLECTIVE points, at least
#: MIN_HOPS_PER_COLLECTIVE_POINT hops apart (each point stops the engine).
MAX_COLLECTIVE = 65536
MIN_HOPS_PER_COLLECTIVE_POINT = 2000


def default_target_equilibration(n_ions: int) -> int:
    """Equilibration hops of a run to a precision: TARGET_EQUILIBRATION_HOPS_PER_ION per ion,
    at least MIN_TARGET_EQUILIBRATION_HOPS."""
    return max(MIN_TARGET_EQUILIBRATION_HOPS, TARGET_EQUILIBRATION_HOPS_PER_ION * int(n_ions))


# ---------------------------------------------------------------- trajectories
#: Frames over the production phase when no frame interval is given: one every
#: ``steps // DEFAULT_TRAJECTORY_FRAMES`` hops (so about this many, plus the first).
DEFAULT_TRAJECTORY_FRAMES = 100
#: Most frames a trajectory file holds when not given; writing stops there (with a warning).
DEFAULT_TRAJECTORY_MAX_FRAMES = 1000
#: Chemical symbol of the ions in a trajectory when the network names none (a standard
#: lattice, or a bare SiteNetwork); a material's is its mobile ion.
DEFAULT_TRAJECTORY_SPECIES = "Li"
#: Largest trajectory file a run starts, bytes (2 GB); the environment variable
#: ``TRAJECTORY_MAX_BYTES_ENV`` overrides it.
TRAJECTORY_MAX_BYTES = 2_000_000_000
TRAJECTORY_MAX_BYTES_ENV = "KMC_TRAJECTORY_MAX_BYTES"
