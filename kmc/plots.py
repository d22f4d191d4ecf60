"""Figures of microstructures and of microstructure sweeps.

:func:`plot_microstructure` draws a planar slice of a polycrystal's grains or of a
composite's conducting and blocking regions; :func:`plot_grain_size` draws the effective
conductivity of a grain-size (or grain-count) sweep against the mean grain size with the
resistor-network and brick-layer predictions over a wide range of grain sizes;
:func:`plot_fraction` draws it against the conducting fraction of a composite sweep;
:func:`plot_composition` draws sigma against the swept composition of any sweep (for a
sweep at one temperature, where no Arrhenius plot can be drawn).
Like :mod:`kmc.arrhenius`, the figures are drawn by matplotlib's Agg canvas (no pyplot
state; matplotlib is imported only when plotting); each function writes its figure to the
path it is given, or returns the matplotlib Figure when the path is None.

Units: nm, S/cm, K.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from . import assemble
from .arrhenius import _path_or_figure, _plot_path, _saved_axes
from .effective_medium import resistor_network
from .errors import ConfigError

__all__ = ["plot_microstructure", "plot_grain_size", "plot_fraction", "plot_composition",
           "GRAIN_AXES", "MAX_GRAIN_SIZE_NM"]

#: Sweep axes drawn by :func:`plot_grain_size`.
GRAIN_AXES = ("grain_size_nm", "n_grains")
#: Largest grain size of the predicted curves (unless the sweep goes further), nm.
MAX_GRAIN_SIZE_NM = 1000.0
_BLOCKING_RGBA = (0.6, 0.6, 0.6, 1.0)


def plot_microstructure(structure: Any, path: str | os.PathLike | None, *, axis: int = 2,
                        position: float = 0.5, pixels: int = 200,
                        title: str | None = None) -> Any:
    """Draw a planar slice of a microstructure, coloured by grain (or particle).

    Grains get the colours of a qualitative colormap (tab20 without its greys,
    repeated beyond 18 grains), with a colourbar of the grain index;
    a composite's blocking regions are grey, and its conducting regions coloured by
    particle (one colour for a site-by-site mixture), with a legend of the two.
    The title names the slice by its fractional coordinate ("slice at fractional c = 0.5").

    Parameters
    ----------
    structure : Microstructure
        A polycrystal or composite (:mod:`kmc.microstructure`).
    path : str or path-like or None
        Output file; the format follows the extension (.png, .pdf, .svg). None: write
        nothing and return the Figure.
    axis : int, optional
        Cell axis normal to the slice (default 2).
    position : float, optional
        Fractional coordinate of the slice along `axis` (default 0.5).
    pixels : int, optional
        Pixels along each in-plane axis (default 200).
    title : str, optional
        Axes title (default: the kind, grain count and mean grain size, or the conducting
        fraction).

    Returns
    -------
    pathlib.Path or matplotlib.figure.Figure
        ``path``, or the Figure if `path` is None.
    """
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    out = _plot_path(path)
    image, extent_A = structure.slice_image(axis, position, pixels)
    # tab20 without its greys (kept for blocking regions), strong hues first
    tab20 = colormaps["tab20"].colors
    colours = [c for i, c in enumerate(tab20) if i % 2 == 0 and i != 14]
    colours += [c for i, c in enumerate(tab20) if i % 2 == 1 and i != 15]
    palette = np.array([(*c, 1.0) for c in colours])
    mixture = structure.kind == "composite" and structure.arrangement == "sites"
    if mixture:
        rgba = np.broadcast_to(palette[0], (*image.shape, 4)).copy()
    else:
        rgba = palette[np.maximum(image, 0) % len(palette)]
    rgba[image < 0] = _BLOCKING_RGBA
    if title is None:
        info = structure.info()
        if structure.kind == "polycrystal":
            title = (f"{structure.network.name}: {info['n_grains']} grains, mean grain size "
                     f"{info['grain_size_nm']:.3g} nm")
        else:
            perc = ("percolating" if info["conducting_dimensionality"] > 0
                    else "not percolating")
            title = (f"{structure.network.name}: conducting fraction "
                     f"{info['conducting_fraction']:.3g} ({perc})")
    other = [k for k in range(3) if k != axis]
    names = "abc"
    fig = Figure(figsize=(6.2, 5.0))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    # image[i, j]: i along the first in-plane cell vector (x), j along the second (y)
    ax.imshow(np.transpose(rgba, (1, 0, 2)), origin="lower", interpolation="nearest",
              extent=(0.0, extent_A[0] / 10.0, 0.0, extent_A[1] / 10.0))
    ax.set_xlabel(f"along {names[other[0]]} (nm)")
    ax.set_ylabel(f"along {names[other[1]]} (nm)")
    ax.set_title(f"{title}\nslice at fractional {names[axis]} = {position:g}",
                 fontsize="medium")
    if structure.kind == "polycrystal":  # the grain colours, one band per grain
        n = structure.n_regions
        cmap = ListedColormap(palette[np.arange(n) % len(palette)])
        norm = BoundaryNorm(np.arange(n + 1) - 0.5, n)
        bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="grain index")
        bar.set_ticks(np.arange(n) if n <= 20 else np.linspace(0, n - 1, 6).round())
    else:
        conducting = ("conducting sites" if mixture
                      else "conducting particles (one colour each)")
        ax.legend(handles=[Patch(color=palette[0], label=conducting),
                           Patch(color=_BLOCKING_RGBA, label="blocking regions")],
                  loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2,
                  fontsize="small", frameon=False)
    fig.tight_layout()
    if out is not None:
        fig.savefig(out)
    return fig if out is None else out


def _sweep_axis(sweep: Any, allowed: tuple[str, ...]) -> str:
    key = sweep.config.get("composition_key")
    if sweep.microstructure_kind is None or key not in allowed:
        raise ConfigError(f"{sweep.path!r} is not a sweep over {' or '.join(allowed)} of a "
                          "microstructure")
    return str(key)


def _points_by_temperature(sweep: Any, value: str = "sigma_eff_S_cm"
                           ) -> dict[float, list[dict[str, Any]]]:
    """The sweep's points with a finished `value`, by temperature (sorted)."""
    out: dict[float, list[dict[str, Any]]] = {}
    points = sweep.points()
    for p in points:
        if p.get(value) is not None:
            out.setdefault(p["temperature_K"], []).append(p)
    if not out and points:
        raise ConfigError(f"{sweep.path!r}: none of its {len(points)} points has a value of "
                          f"{value} (no run found a diffusive regime: run longer)")
    if not out:
        raise ConfigError(f"{sweep.path!r} holds no finished run")
    return dict(sorted(out.items()))


def _a_run(sweep: Any, composition: Any, temperature_K: float) -> Any:
    """A finished run of the sweep at this point."""
    for run_id, spec in sweep.specs.items():
        if spec["composition"] == composition and spec["temperature_K"] == temperature_K:
            return sweep.runs[run_id]
    raise ConfigError(f"{sweep.path!r} has no run at {composition!r}, {temperature_K:g} K")


def plot_grain_size(sweep: Any, path: str | os.PathLike | None) -> Any:
    """sigma_eff against the mean grain size of a polycrystal sweep, with predictions.

    For each temperature: the KMC effective conductivities (error bars) at the mean grain
    size of each point's polycrystal (a single-grain point is the bulk, drawn as a
    horizontal line, not at a grain size); the resistor-network prediction
    (:func:`kmc.microstructure.resistor_network`, scaled with
    :meth:`~kmc.microstructure.NetworkPrediction.at_grain_size`) from the smallest KMC grain
    size up to :data:`MAX_GRAIN_SIZE_NM` (log axes), built on the point with the most
    grains; and the brick-layer curve of the same boundaries. The network's bulk
    conductivity is the KMC value of a single-grain point (``n_grains`` = 1) when the sweep
    holds one, else the mean-field bulk value.

    Parameters
    ----------
    sweep : SweepResult
        A sweep over ``grain_size_nm`` or ``n_grains`` of a polycrystal.
    path : str or path-like or None
        Output file (.png, .pdf, .svg); None: return the Figure.

    Returns
    -------
    pathlib.Path or matplotlib.figure.Figure
        ``path``, or the Figure if `path` is None.

    Notes
    -----
    The x axis is the mean grain size whichever key the sweep varies; the title says so,
    and for a sweep over ``n_grains`` adds which key was swept.
    """
    key = _sweep_axis(sweep, GRAIN_AXES)
    out = _plot_path(path)
    by_T = _points_by_temperature(sweep)
    comps = sorted({p["composition"] for pts in by_T.values() for p in pts})
    structures = {c: assemble.microstructure(sweep.point_config(c).model) for c in comps}
    size = {c: structures[c].grain_size_nm for c in comps}
    grains = {c: structures[c].n_grains for c in comps}
    ref = max(comps, key=lambda c: grains[c])  # the most grains: the most faces
    d_max = max(MAX_GRAIN_SIZE_NM, *size.values())
    multi = [size[c] for c in comps if grains[c] > 1] or [size[ref]]
    d_line = np.geomspace(min(multi), d_max, 200)
    with _saved_axes(out) as ax:
        for i, (T, pts) in enumerate(by_T.items()):
            c = f"C{i}"
            single = [p for p in pts if grains[p["composition"]] == 1]
            pts = sorted((p for p in pts if grains[p["composition"]] > 1),
                         key=lambda p: size[p["composition"]])
            if pts:
                ax.errorbar([size[p["composition"]] for p in pts],
                            [p["sigma_eff_S_cm"] for p in pts],
                            yerr=[p["sigma_eff_S_cm_err"] or 0.0 for p in pts], fmt="o",
                            color=c, capsize=3, label=f"KMC, T = {T:g} K")
            sigma_bulk = single[0]["sigma_eff_S_cm"] if single else None
            if sigma_bulk is not None and not sigma_bulk > 0:
                sigma_bulk = None
            if sigma_bulk is not None:  # one grain: the bulk, at no grain size
                err = single[0]["sigma_eff_S_cm_err"] or 0.0
                ax.axhline(sigma_bulk, color=c, lw=0.8, ls="-.",
                           label=f"KMC bulk (one grain), T = {T:g} K")
                ax.axhspan(sigma_bulk - err, sigma_bulk + err, color=c, alpha=0.1, lw=0)
            run = _a_run(sweep, ref, T)
            pred = resistor_network(structures[ref], T, run.n_ions,
                                    sigma_bulk_S_cm=sigma_bulk,
                                    attempt_frequency_Hz=run.attempt_frequency_Hz)
            bulk = "KMC bulk" if sigma_bulk is not None else "mean-field bulk"
            ax.plot(d_line, pred.at_grain_size(d_line), "-", color=c,
                    label=f"resistor network ({bulk})")
            ax.plot(d_line, pred.brick_layer_at(d_line), ":", color=c, label="brick layer")
        ax.set_xscale("log")
        ax.set_yscale("log")
        x_name = "mean grain size"
        ax.set_xlabel(f"{x_name} (nm)")
        ax.set_ylabel("sigma_eff (S/cm)")
        swept = "" if key == "grain_size_nm" else f" (swept: {key})"
        ax.set_title(f"{structures[ref].network.name}: sigma_eff vs {x_name}{swept}",
                     fontsize="medium")
    return _path_or_figure(out, ax)


def plot_fraction(sweep: Any, path: str | os.PathLike | None) -> Any:
    """sigma_eff against the conducting fraction of a composite sweep.

    For each temperature the KMC effective conductivities (error bars) at the conducting
    (site) fraction of each point's composite; where the sweep holds the fraction 1 (the
    bulk), also the line ``phi sigma_bulk`` (tortuosity 1).

    Parameters
    ----------
    sweep : SweepResult
        A sweep over ``fraction`` of a composite.
    path : str or path-like or None
        Output file (.png, .pdf, .svg); None: return the Figure.

    Returns
    -------
    pathlib.Path or matplotlib.figure.Figure
        ``path``, or the Figure if `path` is None.
    """
    _sweep_axis(sweep, ("fraction",))
    out = _plot_path(path)
    by_T = _points_by_temperature(sweep)
    comps = sorted({p["composition"] for pts in by_T.values() for p in pts})
    structures = {c: assemble.microstructure(sweep.point_config(c).model) for c in comps}
    phi = {c: structures[c].conducting_fraction for c in comps}
    with _saved_axes(out) as ax:
        for i, (T, pts) in enumerate(by_T.items()):
            c = f"C{i}"
            pts = sorted(pts, key=lambda p: phi[p["composition"]])
            ax.errorbar([phi[p["composition"]] for p in pts],
                        [p["sigma_eff_S_cm"] for p in pts],
                        yerr=[p["sigma_eff_S_cm_err"] or 0.0 for p in pts], fmt="o-",
                        color=c, capsize=3, label=f"KMC, T = {T:g} K")
            full = [p for p in pts if math.isclose(phi[p["composition"]], 1.0)]
            if full:
                f = np.array([0.0, 1.0])
                ax.plot(f, f * full[0]["sigma_eff_S_cm"], ":", color=c,
                        label="phi sigma_bulk (tortuosity 1)")
        ax.set_xlim(0.0, 1.02)
        ax.set_xlabel("conducting fraction phi")
        ax.set_ylabel("sigma_eff (S/cm)")
        ax.set_title(f"{structures[comps[0]].network.name}: sigma_eff vs conducting "
                     "fraction", fontsize="medium")
    return _path_or_figure(out, ax)


def plot_composition(sweep: Any, path: str | os.PathLike | None) -> Any:
    """sigma against the swept composition of a sweep, one curve per temperature.

    Parameters
    ----------
    sweep : SweepResult
        Any sweep (its composition axis: occupancy, ions, vacancies, ...).
    path : str or path-like or None
        Output file (.png, .pdf, .svg); None: return the Figure.

    Returns
    -------
    pathlib.Path or matplotlib.figure.Figure
        ``path``, or the Figure if `path` is None.
    """
    out = _plot_path(path)
    key = str(sweep.config.get("composition_key"))
    value = "sigma_eff_S_cm" if sweep.microstructure_kind is not None else "sigma_S_cm"
    by_T = _points_by_temperature(sweep, value)
    with _saved_axes(out) as ax:
        for i, (T, pts) in enumerate(by_T.items()):
            pts = sorted(pts, key=lambda p: float(p["composition"]))
            ax.errorbar([float(p["composition"]) for p in pts], [p[value] for p in pts],
                        yerr=[p.get(value + "_err") or 0.0 for p in pts], fmt="o-",
                        color=f"C{i}", capsize=3, label=f"T = {T:g} K")
        ax.set_xlabel(key)
        ax.set_ylabel(f"{value.removesuffix('_S_cm')} (S/cm)")
        ax.set_title(f"{sweep.path}: sigma vs {key}", fontsize="medium")
    return _path_or_figure(out, ax)
