"""From a validated configuration to the objects that run: networks, materials,
microstructures, simulations, and the microstructure + bulk pair.

:mod:`kmc.config` validates and returns frozen records; this module builds from them and
nothing else does, so the command line, the sweeps and ``kmc validate`` build the same
network from the same keys. ::

    cfg = kmc.config.run_config("lgps", {"temperature": 400.0, "steps": 200_000})
    result = kmc.assemble.run(cfg)                        # one run
    pair = kmc.assemble.run_with_bulk(micro_cfg)          # a polycrystal/composite + its bulk
    pair.comparison["sigma_eff_S_cm"], pair.bulk_result.sigma_S_cm

Units: Angstrom, s, eV, K, Hz; nm for grain and particle sizes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import _checks
from .builders import build_lattice
from .config import RunConfig, SweepConfig, bulk_output_path
from .constants import (
    DEFAULT_BARRIER_EV,
    DEFAULT_LATTICE_CONSTANT_A,
    DEFAULT_TRAJECTORY_SPECIES,
    SEED_LIMIT,
)
from .effective_medium import compare_with_bulk
from .errors import ConfigError, RunInterrupted
from .events import PeriodicEvents
from .io import read_run
from .lattice import Network
from .materials import Material, build_material, has_compact_network, material_spec
from .mechanisms import FAMILIES
from .microstructure import Microstructure, composite, polycrystal
from .results import RunResult
from .simulation import Simulation, resume
from .structures import structure_model

__all__ = ["bulk_material", "bulk_network", "with_mechanisms", "microstructure",
           "composition", "network", "simulation", "bulk_config", "run", "run_with_bulk",
           "resume_with_bulk", "MicrostructureRun", "resolve_composition", "hops_done",
           "trajectory_species"]


# --------------------------------------------------------------------------- networks
def bulk_material(model: Any, *, compact: bool = False) -> Material:
    """The :class:`kmc.materials.Material` of a configuration's bulk: a material, or a
    structure file (:func:`kmc.structures.structure_model`; its composition from the file's
    occupancies).

    Parameters
    ----------
    model : Model or RunConfig
    compact : bool, optional
        Keep a material's network as a PeriodicNetwork where the material allows it
        (:func:`kmc.materials.has_compact_network`: LGPS); others are built as usual.
    """
    model = _model(model)
    if model.bulk_is_kmcpy:
        from .interop.kmcpy import kmcpy_material

        return kmcpy_material(model.structure, model.kmcpy_model, model.kmcpy_events,
                              model.kmcpy_initial_state, _checks.size3(model.supercell))
    if model.bulk_is_structure:
        if model.barriers is not None:
            barriers: Any = dict(model.barriers)
            default = model.barrier
        else:
            barriers, default = model.barrier, None
        return structure_model(model.structure, model.species, model.cutoff,
                               barriers_eV=barriers, default_barrier_eV=default,
                               size=model.size)
    if not model.bulk_is_material:
        raise ConfigError(f"{model.bulk_name!r} is a standard lattice, not a material")
    return build_material(model.bulk_name, size=model.size,
                          disorder_seed=model.disorder_seed or 0,
                          compact=compact and has_compact_network(model.bulk_name),
                          **model.material_options())


#: Strings of 3 or 4 ions are kept per basis site (PeriodicEvents) from this many sites on;
#: on smaller lattices as lists, whose steps are 20-30 % faster there (benchmarks/README.md,
#: "String events kept per basis site"); 2-ion strings always (as fast at every size).
COMPACT_STRINGS_MIN_SITES = 50_000


def with_mechanisms(network: Network, mechanisms: tuple[str, ...],
                    barriers_eV: Mapping[str, float | None]) -> Network:
    """The network with the multi-ion event families of `mechanisms` (and without its single
    hops unless "hop" is one of them).

    Parameters
    ----------
    network : Network
        A SiteNetwork or PeriodicNetwork. A PeriodicNetwork with single hops and one family
        of string events (concerted2-4) keeps them per basis site
        (:class:`kmc.events.PeriodicEvents`) when its repeats allow (3- and 4-ion strings
        from :data:`COMPACT_STRINGS_MIN_SITES` sites on); otherwise it is expanded
        (:meth:`~kmc.lattice.PeriodicNetwork.to_site_network`) and the events are listed.
        Either way the same trajectories.
    mechanisms : tuple of str
        "hop" and names from :data:`kmc.mechanisms.FAMILIES`.
    barriers_eV : mapping
        KRA barrier (eV) of each family; required for every family used.

    Raises
    ------
    ConfigError
        An unknown family, a family without its barrier, or a network that cannot have it.
    """
    families = _families(mechanisms, barriers_eV)
    if not families:
        return network
    if "hop" in mechanisms and len(families) == 1:
        # one family on the network as it is: a PeriodicNetwork keeps string events per
        # basis site when the box is large enough (else, or for other families, the lists)
        try:
            events = FAMILIES[families[0]].build(network, barriers_eV[families[0]])
        except ConfigError:
            events = None  # (a box too small for events per cell; a real error comes again)
        if isinstance(events, PeriodicEvents) and not network.has_interactions and (
                events.k == 2 or network.n_sites >= COMPACT_STRINGS_MIN_SITES):
            return network.with_events(events)
        if isinstance(events, PeriodicEvents):  # (longer strings on a small lattice, or
            # an interacting lattice: the engine's templates are for the lattice gas) lists
            events = None
        if events is not None:
            return network.to_site_network().with_events(events)
    sets = [FAMILIES[m].build(network.to_site_network(), barriers_eV[m]) for m in families]
    return network.to_site_network().with_events(*sets, keep_hops="hop" in mechanisms)


def _families(mechanisms: tuple[str, ...], barriers_eV: Mapping[str, float | None]
              ) -> list[str]:
    """The multi-ion families of `mechanisms`, each known and with its barrier (else a
    ConfigError, before anything is built)."""
    families = [m for m in mechanisms if m != "hop"]
    for m in families:
        if m not in FAMILIES:
            raise ConfigError(f"unknown mechanism {m!r} (known: hop, {', '.join(FAMILIES)})")
        if barriers_eV.get(m) is None:
            raise ConfigError(f"mechanism {m!r} needs its barrier: --barrier-{m} EV (or "
                              f"barrier_{m} in the config file)")
    return families


def bulk_network(model: Any, material: Material | None = None, *,
                 compact: bool = False) -> Network:
    """The bulk network of a configuration, with its mechanisms: the network of
    ``kmc run BULK`` with the same options.

    Parameters
    ----------
    model : Model or RunConfig
    material : Material, optional
        The bulk's material, if already built (:func:`bulk_material`).
    compact : bool, optional
        A textbook lattice with single hops as a :class:`kmc.lattice.PeriodicNetwork` (the
        same network in about 4 bytes per site), with one family of string events kept per
        basis site; a material without quenched disorder (LGPS) built compact when
        `material` is not given; other materials, and lattices with other mechanisms, are
        SiteNetworks.
    """
    model = _model(model)
    _families(model.mechanisms, dict(model.event_barriers_eV))  # bad input: before building
    if model.bulk_is_material or model.bulk_is_structure or model.bulk_is_kmcpy:
        net = (material or bulk_material(model, compact=compact)).network
    else:
        kwargs: dict[str, Any] = {
            "a": DEFAULT_LATTICE_CONSTANT_A if model.a is None else model.a,
            "barrier_eV": DEFAULT_BARRIER_EV if model.barrier is None else model.barrier}
        if model.size is not None:
            kwargs["size"] = model.size
        if compact and "hop" in model.mechanisms:  # (events: see with_mechanisms)
            kwargs["compact"] = True
        net = build_lattice(model.bulk_name, **kwargs)
    return with_mechanisms(net, model.mechanisms, dict(model.event_barriers_eV))


def microstructure(model: Any, material: Material | None = None) -> Microstructure:
    """The :class:`kmc.microstructure.Microstructure` of a polycrystal or composite
    configuration, built on :func:`bulk_network`.

    Raises
    ------
    ConfigError
        If the lattice is not "polycrystal" or "composite", or the microstructure cannot be
        built (e.g. grains larger than the box).
    """
    model = _model(model)
    kind = model.microstructure_kind
    if kind is None:
        raise ConfigError(f"lattice {model.lattice!r} is not a microstructure (polycrystal "
                          "or composite)")
    bulk = bulk_network(model, material)
    seed = model.microstructure_seed or 0
    if kind == "polycrystal":
        return polycrystal(
            bulk, grain_size_nm=model.grain_size_nm, n_grains=model.n_grains,
            gb_barrier_offset_eV=model.gb_barrier_offset_eV or 0.0,
            gb_energy_offset_eV=model.gb_energy_offset_eV or 0.0,
            gb_width_nm=model.gb_width_nm or 0.0, arrangement=model.arrangement or "voronoi",
            seed=seed)
    return composite(bulk, fraction=model.fraction,  # type: ignore[arg-type]
                     particle_size_nm=model.particle_size_nm,
                     interface_barrier_offset_eV=model.interface_barrier_offset_eV or 0.0,
                     seed=seed)


def composition(model: Any, material: Material | None = None,
                microstructure: Microstructure | None = None) -> dict[str, Any]:
    """Keyword arguments of :class:`kmc.Simulation` for the composition.

    An explicit occupancy, ion or vacancy count applies to the sites of the simulated
    network. Without one, a material bulk brings its own ion count: unchanged on a
    polycrystal (the same sites), scaled by the share of the sites kept on a composite. A
    kMCpy model, or a material whose model places its ions (beta-alumina: charge-balanced
    planes), brings its initial state (``ion_sites``), also when the ion count given is its
    own (a sweep's).
    """
    model = _model(model)
    if ((model.bulk_is_kmcpy or model.bulk_is_material) and model.microstructure_kind is None
            and model.occupancy is None and model.vacancies is None):
        own = material or bulk_material(model)
        if "ion_sites" in own.info and (model.ions is None or model.ions == own.n_ions):
            return {"ion_sites": own.info["ion_sites"]}  # the model's initial state
    if model.vacancies is not None:
        return {"n_vacancies": model.vacancies}
    if model.ions is not None:
        return {"n_ions": model.ions}
    if model.occupancy is not None:
        return {"occupancy": model.occupancy}
    own = material or bulk_material(model)  # a material's or structure's own composition
    n_ions = own.n_ions
    if model.bulk_is_structure and not 0 < n_ions < own.network.n_sites:
        why = ("every one of its sites is occupied: no vacancy to move into"
               if n_ions >= own.network.n_sites else "its occupancies sum to no ion")
        raise ConfigError(f"{Path(str(model.structure)).name}: {model.species} on "
                          f"{own.network.n_sites} sites, {why}; give the composition: "
                          "--vacancies N, --ions N or --occupancy C")
    if model.microstructure_kind == "composite":
        ms = microstructure or _microstructure_of(model, material)
        n_ions = int(round(n_ions * ms.network.n_sites / ms.bulk.n_sites))
    return {"n_ions": n_ions}


def network(model: Any, material: Material | None = None,
            microstructure: Microstructure | None = None) -> Network:
    """The network to simulate: the bulk network (a compact PeriodicNetwork for a textbook
    lattice with single hops and at most one family of string events, else a SiteNetwork),
    or the microstructure's network for a polycrystal or composite."""
    model = _model(model)
    if model.microstructure_kind is None:  # a plain lattice needs no per-hop arrays
        return bulk_network(model, material, compact=True)
    return (microstructure or _microstructure_of(model, material)).network


# the builders under other names, for functions whose arguments shadow them
_microstructure_of = microstructure
_network_of = network


def simulation(cfg: RunConfig, network: Network | None = None, *,
               microstructure: Microstructure | None = None) -> Simulation:
    """The :class:`kmc.Simulation` of a configuration (its network built if not given).

    Parameters
    ----------
    cfg : RunConfig
    network : Network, optional
        The network to simulate, if already built.
    microstructure : Microstructure, optional
        The microstructure, if already built.
    """
    network, kwargs = _simulation_inputs(cfg, network, microstructure)
    return Simulation(network, cfg.model.temperature, seed=cfg.plan.seed,
                      field_V_per_angstrom=cfg.model.field, **kwargs)


def _simulation_inputs(cfg: RunConfig, network: Network | None = None,
                       microstructure: Microstructure | None = None
                       ) -> tuple[Network, dict[str, Any]]:
    """The network of a configuration (built if not given) and the :class:`kmc.Simulation`
    arguments every run of it shares: attempt frequency, rate law and composition."""
    model = cfg.model
    # a bulk material is kept compact where it can be (a microstructure needs its sites)
    material = (bulk_material(model, compact=model.microstructure_kind is None)
                if model.bulk_is_material or model.bulk_is_structure or model.bulk_is_kmcpy
                else None)
    if model.microstructure_kind is not None and microstructure is None:
        microstructure = _microstructure_of(model, material)
    if network is None:
        network = _network_of(model, material, microstructure)
    return network, {"attempt_frequency_Hz": model.attempt_frequency,
                     "rate_law": model.rate_law or "kra",
                     **composition(model, material, microstructure)}


def response(cfg: RunConfig) -> Any:
    """``kmc run --response``: sigma of a configuration as the response to +-E along x, y
    and z (:func:`kmc.field_response`, ``cfg.plan.steps`` hops per run, the run's seed).

    Raises
    ------
    ConfigError
        Without a fixed ``steps``, with a field, an output file, a trajectory or a
        microstructure (the six runs are not one run, and keep no file).
    """
    from .response import field_response

    model, plan, out = cfg.model, cfg.plan, cfg.output
    bad = [(plan.steps is None, "needs a fixed --steps N (hops of each of its six runs)"),
           (model.field is not None, "sets the field itself; drop --field"),
           (out.path is not None, "keeps no output file; drop --output"),
           (out.trajectory is not None, "writes no trajectory; drop --trajectory"),
           (model.microstructure_kind is not None, "is not available for a polycrystal or "
            "composite")]
    for cond, why in bad:
        if cond:
            raise ConfigError(f"--response {why}")
    net, kwargs = _simulation_inputs(cfg)
    return field_response(net, model.temperature, steps=plan.steps,
                          seed=0 if plan.seed is None else plan.seed,
                          equilibration=plan.equilibration, blocks=plan.blocks, **kwargs)


def bulk_config(cfg: RunConfig, microstructure: Microstructure | None = None) -> RunConfig:
    """The configuration of the bulk run that goes with a microstructure run.

    The same bulk (``kmc run MATERIAL`` with the same options), temperature, plan and seed;
    the same composition, except that on a composite an ion or vacancy count is scaled to
    the bulk's sites (the same ions per site; an occupancy stays as it is). Its output is
    :func:`kmc.config.bulk_output_path` of the microstructure run's.
    """
    values = cfg.bulk_keys()
    model = cfg.model
    if model.microstructure_kind == "composite" and (model.ions is not None
                                                      or model.vacancies is not None):
        ms = microstructure or _microstructure_of(model, None)
        scale = ms.bulk.n_sites / ms.network.n_sites
        key = "ions" if model.ions is not None else "vacancies"
        values[key] = int(round(values[key] * scale))
    return RunConfig.from_dict(values, where="bulk run")


def resolve_composition(cfg: SweepConfig) -> SweepConfig:
    """A sweep whose composition is a material's own (`composition_key` None) as a sweep of
    that ion count (``ions``); any other sweep unchanged."""
    if cfg.composition_key is not None:
        return cfg
    probe = cfg.run_config(cfg.temperatures_K[0], None, 0)
    comp = composition(probe.model)
    n_ions = comp["n_ions"] if "n_ions" in comp else len(comp["ion_sites"])
    return cfg.with_composition("ions", (n_ions,))


def trajectory_species(model: Any) -> str:
    """The chemical symbol of the ions in a configuration's trajectory: a structure's
    species, a material's mobile ion (``mobile_ion`` of its file), else :data:`kmc.constants.DEFAULT_TRAJECTORY_SPECIES`
    ("Li", for a standard lattice).

    Parameters
    ----------
    model : Model or RunConfig
    """
    model = _model(model)
    if model.bulk_is_structure:
        return str(model.species)
    if model.bulk_is_material:
        return str(material_spec(model.bulk_name).data.get("mobile_ion",
                                                          DEFAULT_TRAJECTORY_SPECIES))
    return DEFAULT_TRAJECTORY_SPECIES


# --------------------------------------------------------------------------- running
def run(cfg: RunConfig, *, progress: Callable[[int], None] | None = None,
        network: Network | None = None) -> RunResult:
    """Make the run of a configuration: build it, run its plan, write its output file.

    Parameters
    ----------
    cfg : RunConfig
        A plain lattice or material (a microstructure and its bulk: :func:`run_with_bulk`).
    progress : callable, optional
        Called with the hops done after each engine chunk (a progress bar).
    network : Network, optional
        The network, if already built.

    Returns
    -------
    RunResult

    Raises
    ------
    ConfigError
        A configuration that cannot be built or run.
    RunInterrupted
        If stopped before two blocks were finished (see :meth:`kmc.Simulation.run`).
    """
    return simulation(cfg, network).run(
        **cfg.plan.run_kwargs(), progress=progress, output=cfg.output.path,
        checkpoint_interval_s=cfg.output.checkpoint_interval, overwrite=cfg.output.overwrite,
        config=cfg.to_dict(), **cfg.output.trajectory_kwargs(trajectory_species(cfg.model)))


@dataclass
class MicrostructureRun:
    """A microstructure run and its bulk run (:func:`run_with_bulk`).

    Attributes
    ----------
    config, bulk_config : RunConfig
        The two runs' configurations (the same seed and plan).
    microstructure : Microstructure
    result : RunResult or None
        The microstructure run (None if it stopped before two blocks).
    bulk_result : RunResult or None
        The bulk run (None if it was not reached or stopped before two blocks).
    comparison : dict or None
        :func:`kmc.effective_medium.compare_with_bulk` of the two, once both finished:
        sigma_eff beside the bulk sigma, the resistor-network and brick-layer predictions
        (polycrystal) or the tortuosity (composite), and the warnings.
    interrupted : bool
        True if a run was stopped (Ctrl-C, SIGTERM); its checkpoint continues it
        (:func:`resume_with_bulk`).
    stop_signal : int or None
        The signal that stopped it.
    """

    config: RunConfig
    bulk_config: RunConfig
    microstructure: Microstructure
    result: RunResult | None = None
    bulk_result: RunResult | None = None
    comparison: dict[str, Any] | None = None
    interrupted: bool = False
    stop_signal: int | None = field(default=None)

    @property
    def files(self) -> list[str]:
        """The run files written so far (microstructure run first)."""
        paths = [self.config.output.path, self.bulk_config.output.path]
        return [p for p in paths if p is not None and Path(p).exists()]


def _pair(cfg: RunConfig, ms: Microstructure, bulk_cfg: RunConfig,
          micro: Callable[[], RunResult], bulk: Callable[[], RunResult]) -> MicrostructureRun:
    """Run the microstructure, then (if it finished) the bulk; compare them."""
    out = MicrostructureRun(config=cfg, bulk_config=bulk_cfg, microstructure=ms)
    for stage, call in (("result", micro), ("bulk_result", bulk)):
        try:
            result = call()
        except RunInterrupted as exc:  # stopped before two blocks: nothing to keep
            out.interrupted, out.stop_signal = True, exc.signum
            return out
        setattr(out, stage, result)
        if result.interrupted:
            out.interrupted, out.stop_signal = True, result.stop_signal
            return out
    out.comparison = compare_with_bulk(ms, out.result, out.bulk_result)
    return out


def run_with_bulk(cfg: RunConfig, *,
                  progress: Callable[[int], None] | None = None) -> MicrostructureRun:
    """A polycrystal or composite run, then the run of its bulk with the same seed and plan,
    and the comparison of the two (``kmc run polycrystal|composite ...``).

    With an output file FILE.h5 the bulk run goes to FILE.bulk.h5; both checkpoint, and
    :func:`resume_with_bulk` continues an interrupted pair. Without a seed, one is drawn
    and used (and recorded) for both. A trajectory is the microstructure run's only.

    Returns
    -------
    MicrostructureRun
        Both results and their comparison; ``interrupted`` if stopped.

    Raises
    ------
    ConfigError
        Not a microstructure, or FILE.bulk.h5 exists (and no overwrite).
    """
    if cfg.plan.seed is None:  # one seed for both runs, recorded with both
        cfg = dataclasses.replace(cfg, plan=dataclasses.replace(
            cfg.plan, seed=int(np.random.SeedSequence().entropy % SEED_LIMIT)))
    bulk_out = bulk_output_path(cfg.output.path)
    if bulk_out is not None and not cfg.output.overwrite and Path(bulk_out).exists():
        raise ConfigError(f"{bulk_out!r} (the bulk run beside {cfg.output.path!r}) exists; "
                          "use --overwrite, another --output, or kmc run --resume "
                          f"{cfg.output.path}")
    ms = microstructure(cfg.model)
    bcfg = bulk_config(cfg, ms)
    sim = simulation(cfg, microstructure=ms)
    bulk_sim = simulation(bcfg)
    common = {"progress": progress, "checkpoint_interval_s": cfg.output.checkpoint_interval,
              "overwrite": cfg.output.overwrite}
    return _pair(
        cfg, ms, bcfg,
        lambda: sim.run(**cfg.plan.run_kwargs(), output=cfg.output.path,
                        config=cfg.to_dict(), **common,
                        **cfg.output.trajectory_kwargs(trajectory_species(cfg.model))),
        lambda: bulk_sim.run(**bcfg.plan.run_kwargs(), output=bcfg.output.path,
                             config=bcfg.to_dict(), **common))


def resume_with_bulk(path: str, *, progress: Callable[[int], None] | None = None,
                     **overrides: Any) -> MicrostructureRun:
    """Continue an interrupted microstructure run from its file, then its bulk run
    (continued from FILE.bulk.h5, or made now if it never started), and compare them.

    Parameters
    ----------
    path : str
        The microstructure run's file.
    progress : callable, optional
    **overrides
        Output keys to change (``checkpoint_interval``, ``json``, ``quiet``,
        ``summary_json``).
    """
    rec = read_run(path)
    cfg = RunConfig.from_stored(rec.config or {}, f"{path} (config)", **overrides,
                                output=str(path))
    if cfg.model.microstructure_kind is None:
        raise ConfigError(f"{str(path)!r} holds a run of {cfg.model.lattice!r}, not a "
                          "microstructure; continue it with kmc.resume")
    ms = microstructure(cfg.model)
    bcfg = bulk_config(cfg, ms)
    bulk_path = str(bcfg.output.path)
    interval = cfg.output.checkpoint_interval

    def bulk() -> RunResult:
        brec = read_run(bulk_path) if Path(bulk_path).exists() else None
        if brec is not None and brec.resumable:
            return resume(bulk_path, progress=progress, checkpoint_interval_s=interval)
        return simulation(bcfg).run(  # never got going: start it
            **bcfg.plan.run_kwargs(), progress=progress, output=bulk_path,
            checkpoint_interval_s=interval, overwrite=True, config=bcfg.to_dict())

    return _pair(cfg, ms, bcfg,
                 lambda: resume(path, progress=progress, checkpoint_interval_s=interval),
                 bulk)


def hops_done(cfg: RunConfig) -> int:
    """Hops already in the output files of a configuration (its run, and the bulk run of a
    microstructure): where a progress bar of a resumed run starts."""
    paths = [cfg.output.path]
    if cfg.model.microstructure_kind is not None:
        paths.append(bulk_output_path(cfg.output.path))
    done = 0
    for p in paths:
        if p is None or not Path(p).exists():
            continue
        try:
            done += read_run(p).hops_done
        except ConfigError:
            pass
    return done


def _model(model: Any) -> Any:
    """The Model record of a Model or a RunConfig."""
    return model.model if isinstance(model, RunConfig) else model
