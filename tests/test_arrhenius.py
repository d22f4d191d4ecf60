"""Tests of kmc.arrhenius: weighted Arrhenius fits, extrapolation errors, replicas, plots.

Exact synthetic data must be recovered to rounding; noisy synthetic data (fixed seed, known
Gaussian errors on ln(sigma T)) must give error bars that match the scatter of the fitted
values over many repeats. Statistical tolerances are K_SIGMA standard errors of the checked
statistic (of a mean, of a standard deviation, of a binomial fraction), never hand-tuned.
"""

from __future__ import annotations

import ast
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from scipy import constants, special  # (scipy.stats costs ~0.7 s to import)

import kmc.arrhenius as arr
from kmc.arrhenius import ArrheniusFit, combine_replicas, fit_arrhenius, plot_arrhenius, plot_msd
from kmc.errors import ConfigError

SEED = 12345
K_SIGMA = 3.0
N_REPEATS = 2000
KB = constants.k / constants.e  # eV/K
T_GRID = np.linspace(400.0, 900.0, 6)
EA_EV, A_S_K_CM, D0_CM2_S = 0.35, 2.0e5, 3.0e-3
REL_ERR = 0.02 * np.linspace(1.0, 2.0, T_GRID.size)  # sd of ln(sigma T) per point
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def sigma_model(T, Ea=EA_EV, A=A_S_K_CM):
    return A / T * np.exp(-Ea / (KB * T))


def d_model(T, Ea=EA_EV, D0=D0_CM2_S):
    return D0 * np.exp(-Ea / (KB * T))


def noisy_fits(rng, err_scale_given=1.0):
    """N_REPEATS fits of sigma data with Gaussian noise REL_ERR on ln(sigma T).

    The errors handed to the fit are ``err_scale_given`` times the true ones."""
    ln_true = np.log(sigma_model(T_GRID) * T_GRID)
    fits = []
    for z in rng.standard_normal((N_REPEATS, T_GRID.size)):
        sigma = np.exp(ln_true + REL_ERR * z) / T_GRID
        fits.append(fit_arrhenius(T_GRID, sigma, err_scale_given * REL_ERR * sigma))
    return fits


def within(est, truth, se):
    return abs(est - truth) < K_SIGMA * se


# --------------------------------------------------------------------------- #
# exact data
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("quantity", ["sigma", "D"])
def test_exact_data_recovered(quantity):
    model, pre = (sigma_model, A_S_K_CM) if quantity == "sigma" else (d_model, D0_CM2_S)
    v = model(T_GRID)
    fit = fit_arrhenius(T_GRID, v, 0.05 * v, quantity=quantity)
    assert fit.quantity == quantity and fit.n_points == 6 and fit.dof == 4
    assert fit.Ea_eV == pytest.approx(EA_EV, rel=1e-10)
    assert fit.prefactor == pytest.approx(pre, rel=1e-10)
    assert fit.ln_prefactor == pytest.approx(math.log(pre), rel=1e-10)
    assert fit.value_ref == pytest.approx(model(300.0), rel=1e-10)
    assert fit.chi2 < 1e-16 and fit.covariance_scale == 1.0
    assert fit.Ea_err_eV > 0 and fit.prefactor_err > 0 and fit.value_ref_err > 0
    assert fit.prefactor_err == pytest.approx(fit.prefactor * fit.ln_prefactor_err)


def test_sigma_T_convention():
    """sigma = A/T exp(-Ea/kT) is exact for "sigma"; a plain exp fit ("D") of the same data
    absorbs the 1/T into a lower activation energy, by about kB <T>."""
    T = np.linspace(450.0, 650.0, 5)
    v = sigma_model(T)
    assert fit_arrhenius(T, v, 0.01 * v).Ea_eV == pytest.approx(EA_EV, rel=1e-10)
    shift = EA_EV - fit_arrhenius(T, v, 0.01 * v, quantity="D").Ea_eV
    assert KB * T.min() < shift < KB * T.max()
    assert shift == pytest.approx(KB * T.mean(), rel=0.05)


def test_predict():
    v = sigma_model(T_GRID)
    fit = fit_arrhenius(T_GRID, v, 0.05 * v)
    val, err = fit.predict(T_GRID)
    assert isinstance(val, np.ndarray) and val.shape == T_GRID.shape
    np.testing.assert_allclose(val, v, rtol=1e-10)
    assert np.all(err > 0)
    val2, err2 = fit.predict(T_GRID.reshape(2, 3))
    assert val2.shape == (2, 3)
    ref, ref_err = fit.predict(300.0)
    assert isinstance(ref, float) and ref == fit.value_ref and ref_err == fit.value_ref_err
    # extrapolation is less certain than interpolation
    assert ref_err / ref > err.max() / v.max()
    with pytest.raises(ConfigError, match="-5"):
        fit.predict([300.0, -5.0])


def test_covariance_against_normal_equations():
    """Covariance, chi2, p-value and the extrapolated error against an independent
    computation: C = (X^T W X)^-1 for X = [1, -1/(kB T)], Birge-inflated only if chi2/dof > 1."""
    rng = np.random.default_rng(SEED)
    T = np.array([350.0, 420.0, 500.0, 610.0, 700.0])
    for scale_given in (0.3, 3.0):  # understated errors -> inflation; overstated -> none
        sy = 0.05 * (1 + rng.random(T.size))
        v = sigma_model(T) * np.exp(sy * rng.standard_normal(T.size))
        fit = fit_arrhenius(T, v, scale_given * sy * v, T_ref_K=310.0)
        x, y, s = 1 / (KB * T), np.log(v * T), scale_given * sy
        X = np.column_stack([np.ones_like(x), -x])
        c_abs = np.linalg.inv(X.T @ (X / s[:, None] ** 2))
        beta = c_abs @ (X.T @ (y / s**2))
        chi2 = float(np.sum(((y - X @ beta) / s) ** 2))
        factor = max(1.0, chi2 / 3)
        assert (factor > 1.0) == (scale_given < 1.0)
        np.testing.assert_allclose([fit.ln_prefactor, fit.Ea_eV], beta, rtol=1e-10)
        assert fit.chi2 == pytest.approx(chi2, rel=1e-8)
        assert fit.reduced_chi2 == pytest.approx(chi2 / 3, rel=1e-8)
        assert fit.p_value == pytest.approx(special.chdtrc(3, chi2), rel=1e-8)
        assert fit.covariance_scale == pytest.approx(factor, rel=1e-8)
        np.testing.assert_allclose(fit.covariance, factor * c_abs, rtol=1e-8)
        assert fit.Ea_err_eV == pytest.approx(math.sqrt(factor * c_abs[1, 1]), rel=1e-8)
        J = np.array([1.0, -1.0 / (KB * 310.0)])
        rel_ref = math.sqrt(J @ (factor * c_abs) @ J)
        ref = math.exp(beta[0] - beta[1] / (KB * 310.0)) / 310.0
        assert fit.value_ref == pytest.approx(ref, rel=1e-10)
        assert fit.value_ref_err == pytest.approx(fit.value_ref * rel_ref, rel=1e-8)


def test_two_points():
    T = np.array([500.0, 700.0])
    v = sigma_model(T)
    fit = fit_arrhenius(T, v, 0.1 * v)
    assert fit.dof == 0 and fit.chi2 == 0.0 and fit.covariance_scale == 1.0
    assert math.isnan(fit.p_value) and math.isnan(fit.reduced_chi2)
    assert fit.Ea_eV == pytest.approx(EA_EV, rel=1e-10) and fit.Ea_err_eV > 0
    d = fit.to_dict()
    assert d["p_value"] is None and d["reduced_chi2"] is None
    json.dumps(d, allow_nan=False)
    assert "n/a" in fit.summary()


# --------------------------------------------------------------------------- #
# noisy data: error bars match the scatter
# --------------------------------------------------------------------------- #
def test_errors_match_scatter():
    """Honest errors: the absolute errors (reported / sqrt(covariance_scale)) equal the
    scatter of Ea, ln sigma(300 K) and sigma(300 K) over the repeats, pulls have mean 0,
    chi2 ~ chi2_dof; the Birge-inflated reported errors are conservative."""
    fits = noisy_fits(np.random.default_rng(SEED))
    n = len(fits)
    scale = np.array([f.covariance_scale for f in fits])
    red = np.array([f.reduced_chi2 for f in fits])
    np.testing.assert_allclose(scale, np.maximum(1.0, red))
    # the absolute (uninflated) errors depend only on T and err/value: identical for all
    ea = np.array([f.Ea_eV for f in fits])
    ea_err_abs = np.array([f.Ea_err_eV for f in fits]) / np.sqrt(scale)
    np.testing.assert_allclose(ea_err_abs, ea_err_abs[0], rtol=1e-8)
    ref_true = sigma_model(300.0)
    ref = np.array([f.value_ref for f in fits])
    ref_err_abs = np.array([f.value_ref_err / f.value_ref for f in fits]) / np.sqrt(scale)
    np.testing.assert_allclose(ref_err_abs, ref_err_abs[0], rtol=1e-8)
    se_sd = 1.0 / math.sqrt(2 * (n - 1))  # relative standard error of a sample sd
    for est, truth, err in [(ea, EA_EV, ea_err_abs[0]),
                            (np.log(ref), math.log(ref_true), ref_err_abs[0]),
                            (ref, ref_true, ref_true * ref_err_abs[0])]:
        assert within(np.std(est, ddof=1) / err, 1.0, se_sd)
        assert within(np.mean((est - truth) / err), 0.0, 1.0 / math.sqrt(n))
    # chi2 ~ chi2_dof and p uniform
    chi2 = np.array([f.chi2 for f in fits])
    dof = fits[0].dof
    assert within(chi2.mean(), dof, math.sqrt(2 * dof / n))
    p = np.array([f.p_value for f in fits])
    assert within(p.mean(), 0.5, math.sqrt(1 / 12 / n))
    # the Birge-inflated (reported) errors never undercover the 1-sigma interval
    cover = np.mean(np.abs(ea - EA_EV) < np.array([f.Ea_err_eV for f in fits]))
    assert cover > 0.6827 - K_SIGMA * math.sqrt(0.6827 * 0.3173 / n)


def test_understated_errors_are_inflated():
    """Errors understated 20x: chi2/dof > 1 always, and the Birge-scaled pull is then
    exactly Student-t with dof degrees of freedom -> 95 % intervals cover 95 %."""
    fits = noisy_fits(np.random.default_rng(SEED + 1), err_scale_given=0.05)
    n, dof = len(fits), fits[0].dof
    assert all(f.covariance_scale > 1.0 for f in fits)
    t95 = special.stdtrit(dof, 0.975)  # Student-t 97.5 % quantile
    se = math.sqrt(0.95 * 0.05 / n)
    pull_ea = np.array([(f.Ea_eV - EA_EV) / f.Ea_err_eV for f in fits])
    ln_ref_true = math.log(sigma_model(300.0))
    pull_ref = np.array([(math.log(f.value_ref) - ln_ref_true) / (f.value_ref_err / f.value_ref)
                         for f in fits])
    for pull in (pull_ea, pull_ref):
        assert within(np.mean(np.abs(pull) < t95), 0.95, se)
        assert within(np.mean(pull), 0.0, math.sqrt(dof / (dof - 2) / n))


# --------------------------------------------------------------------------- #
# serialisation and summary
# --------------------------------------------------------------------------- #
COMMON = {"quantity", "Ea_eV", "Ea_eV_err", "ln_prefactor", "ln_prefactor_err", "covariance",
          "covariance_scale", "T_ref_K", "n_points", "chi2", "dof", "reduced_chi2", "p_value",
          "temperatures_K"}


@pytest.mark.parametrize("quantity,T_ref,keys,old", [
    ("sigma", 300.0, ("prefactor_S_K_cm", "prefactor_S_K_cm_err", "sigma_300K_S_cm",
                      "sigma_300K_S_cm_err", "sigma_S_cm", "sigma_S_cm_err"),
     ("prefactor_S_K_per_cm", "prefactor_err_S_K_per_cm", "sigma_300K_err_S_cm")),
    ("sigma", 500.0, ("prefactor_S_K_cm", "prefactor_S_K_cm_err", "sigma_ref_S_cm",
                      "sigma_ref_S_cm_err", "sigma_S_cm", "sigma_S_cm_err"),
     ("prefactor_S_K_per_cm", "prefactor_err_S_K_per_cm", "sigma_ref_err_S_cm")),
    ("D", 300.0, ("D0_cm2_s", "D0_cm2_s_err", "D_300K_cm2_s", "D_300K_cm2_s_err", "D_cm2_s",
                  "D_cm2_s_err"), ("D0_err_cm2_s", "D_300K_err_cm2_s")),
    ("D", 250.0, ("D0_cm2_s", "D0_cm2_s_err", "D_ref_cm2_s", "D_ref_cm2_s_err", "D_cm2_s",
                  "D_cm2_s_err"), ("D0_err_cm2_s", "D_ref_err_cm2_s")),
])
def test_to_dict(quantity, T_ref, keys, old):
    rng = np.random.default_rng(SEED)
    v = sigma_model(T_GRID) * np.exp(0.05 * rng.standard_normal(T_GRID.size))
    fit = fit_arrhenius(T_GRID, v, 0.05 * v, quantity=quantity, T_ref_K=T_ref)
    d = fit.to_dict()
    # the old keys stay this version, each with its new key's value
    old = set(old) | {"Ea_err_eV", "values", "errors"}
    assert set(fit.deprecated_keys()) == old
    assert set(d) == COMMON | set(keys) | old
    for old_key, new_key in fit.deprecated_keys().items():
        assert new_key in keys or new_key in COMMON
        assert d[old_key] == d[new_key]
    back = json.loads(json.dumps(d, allow_nan=False))
    pre, pre_err, ref, ref_err, data, data_err = keys
    assert back[pre] == fit.prefactor and back[pre_err] == fit.prefactor_err
    assert back[ref] == fit.value_ref and back[ref_err] == fit.value_ref_err
    assert back["Ea_eV_err"] == fit.Ea_err_eV
    assert back["T_ref_K"] == T_ref and back["quantity"] == quantity
    assert back[data] == v.tolist() and back[data_err] == (0.05 * v).tolist()
    assert len(back["covariance"]) == 2
    text = fit.summary()
    assert "Ea" in text and "eV" in text and "chi2/dof" in text and f"{T_ref:g} K" in text


def test_fit_is_frozen_and_read_only():
    v = sigma_model(T_GRID)
    fit = fit_arrhenius(T_GRID, v, 0.05 * v)
    with pytest.raises(AttributeError):
        fit.Ea_eV = 1.0
    with pytest.raises(ValueError):
        fit.values[0] = 1.0
    with pytest.raises(ValueError):
        fit.covariance[0, 0] = 1.0


# --------------------------------------------------------------------------- #
# replicas
# --------------------------------------------------------------------------- #
def test_combine_replicas():
    mean, err = combine_replicas([1.0, 2.0, 3.0], [0.1, 0.2, 0.2])
    assert mean == pytest.approx(2.0) and err == pytest.approx(0.1)
    assert combine_replicas([5.0], [0.5]) == (5.0, 0.5)
    # R equal-error replicas: error shrinks by sqrt(R)
    assert combine_replicas([4.0] * 16, [1.0] * 16) == (4.0, pytest.approx(0.25))


# --------------------------------------------------------------------------- #
# bad input
# --------------------------------------------------------------------------- #
T3, V3, E3 = [400.0, 500.0, 600.0], [1e-3, 2e-3, 3e-3], [1e-4, 1e-4, 1e-4]


@pytest.mark.parametrize("kwargs,needle", [
    (dict(temperatures_K=[500.0], values=[1e-3], errors=[1e-4]), "got 1"),
    (dict(temperatures_K=[500.0, 500.0, 500.0]), "[500.0, 500.0, 500.0]"),
    (dict(values=[1e-3, 2e-3]), "'values': 2"),
    (dict(errors=[1e-4] * 4), "'errors': 4"),
    (dict(temperatures_K=[400.0, math.nan, 600.0]), "temperatures_K[1] is nan"),
    (dict(temperatures_K=[400.0, 500.0, math.inf]), "temperatures_K[2] is inf"),
    (dict(temperatures_K=[-400.0, 500.0, 600.0]), "temperatures_K[0] is -400"),
    (dict(temperatures_K=[0.0, 500.0, 600.0]), "temperatures_K[0] is 0"),
    (dict(temperatures_K=[[400.0, 500.0, 600.0]]), "shape (1, 3)"),
    (dict(temperatures_K=["a", "b", "c"]), "temperatures_K"),
    (dict(values=[1e-3, 0.0, 3e-3]), "values[1] is 0"),
    (dict(values=[1e-3, 2e-3, -3e-3]), "values[2] is -0.003"),
    (dict(values=[math.nan, 2e-3, 3e-3]), "values[0] is nan"),
    (dict(values=[1e-3, math.inf, 3e-3]), "values[1] is inf"),
    (dict(errors=[1e-4, 0.0, 1e-4]), "errors[1] is 0"),
    (dict(errors=[-1e-4, 1e-4, 1e-4]), "errors[0] is -0.0001"),
    (dict(errors=[1e-4, 1e-4, math.nan]), "errors[2] is nan"),
    (dict(quantity="conductivity"), "'conductivity'"),
    (dict(quantity="d"), "'d'"),
    (dict(T_ref_K=-300.0), "-300.0"),
    (dict(T_ref_K=0.0), "0.0"),
    (dict(T_ref_K=math.nan), "nan"),
    (dict(T_ref_K="300"), "'300'"),
    (dict(T_ref_K=True), "True"),
])
def test_fit_bad_input(kwargs, needle):
    args = dict(temperatures_K=T3, values=V3, errors=E3) | kwargs
    with pytest.raises(ConfigError) as info:
        fit_arrhenius(args.pop("temperatures_K"), args.pop("values"), args.pop("errors"), **args)
    assert needle in str(info.value)


@pytest.mark.parametrize("values,errors,needle", [
    ([], [], "got 0"),
    ([1.0, 2.0], [0.1], "'errors': 1"),
    ([1.0, -2.0], [0.1, 0.1], "values[1] is -2"),
    ([1.0, math.nan], [0.1, 0.1], "values[1] is nan"),
    ([1.0, 2.0], [0.1, 0.0], "errors[1] is 0"),
    ([1.0, 2.0], [math.inf, 0.1], "errors[0] is inf"),
])
def test_combine_replicas_bad_input(values, errors, needle):
    with pytest.raises(ConfigError) as info:
        combine_replicas(values, errors)
    assert needle in str(info.value)


# --------------------------------------------------------------------------- #
# plots
# --------------------------------------------------------------------------- #
def _fit(quantity="sigma", Ea=EA_EV):
    v = (sigma_model if quantity == "sigma" else d_model)(T_GRID, Ea)
    return fit_arrhenius(T_GRID, v * (1 + 0.03 * np.sin(T_GRID)), 0.05 * v, quantity=quantity)


def test_plot_arrhenius(tmp_path):
    out = plot_arrhenius(_fit(), tmp_path / "one.png")
    assert Path(out) == tmp_path / "one.png"
    assert out.read_bytes()[:8] == PNG_MAGIC and out.stat().st_size > 1000
    out2 = plot_arrhenius([_fit(), _fit("sigma", Ea=0.5)], str(tmp_path / "two.svg"),
                          labels=["a", "b"])
    assert b"<svg" in Path(out2).read_bytes()[:1000]


def test_plot_msd(tmp_path):
    t = np.linspace(0.0, 1e-6, 50)
    D = 1e-6  # cm^2/s
    msd = 6 * D * 1e16 * t  # Angstrom^2
    out = plot_msd(t, msd, tmp_path / "msd.png", msd_collective_A2=0.5 * msd,
                   D_tracer_cm2_s=D, title="run 1")
    assert Path(out).read_bytes()[:8] == PNG_MAGIC and Path(out).stat().st_size > 1000


@pytest.mark.parametrize("value,err,text", [
    (0.2987, 0.0042, "0.2987 +/- 0.0042"),
    (0.29871234, 3e-9, "0.2987123400 +/- 3.0e-09"),
    (0.2987, 4.2e-5, "0.298700 +/- 4.2e-05"),
    (0.2987, 0.012, "0.299 +/- 0.012"),
    (123.4, 12.0, "123 +/- 12"),
    (0.3, 0.5, "0.30 +/- 0.50"),
    (-0.5, 0.013, "-0.500 +/- 0.013"),
    (0.3, 0.0, "0.3 +/- 0"),
])
def test_format_with_error(value, err, text):
    assert arr.format_with_error(value, err) == text


def _legend(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_arrhenius_legend_gives_ea_to_two_digits_of_its_error():
    fit = _fit()
    fig = plot_arrhenius(fit, None, labels=["run"])  # no path: the Figure, no file
    (ax,) = fig.axes
    assert _legend(ax) == [f"run: Ea = {arr.format_with_error(fit.Ea_eV, fit.Ea_err_eV)} eV"]
    # a fit of exact data with tiny errors: the error is printed, never "+/- 0.000"
    v = sigma_model(T_GRID)
    tight = fit_arrhenius(T_GRID, v, 1e-7 * v)
    (text,) = _legend(plot_arrhenius(tight, None).axes[0])
    err = re.search(r"\+/- (\S+) eV", text).group(1)
    assert float(err) > 0 and float(err) == pytest.approx(tight.Ea_err_eV, rel=0.05), text
    assert "Ea = " in tight.summary() and "+/- 0.0000 " not in tight.summary()


def test_msd_plot_draws_both_fitted_lines():
    t = np.linspace(0.0, 1e-6, 50)
    D, D_sigma = 1e-6, 1.5e-6  # cm^2/s
    fig = plot_msd(t, 6 * D * 1e16 * t, None, msd_collective_A2=6 * D_sigma * 1e16 * t,
                   D_tracer_cm2_s=D, D_sigma_cm2_s=D_sigma, title="run 1")
    (ax,) = fig.axes
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines) == ["tracer MSD", "collective MSD (per ion)",
                           "2 d D* t, D* = 1e-06 cm^2/s", "2 d D_sigma t, D_sigma = 1.5e-06 cm^2/s"]
    assert _legend(ax) == list(lines)
    # the collective line is 2 d D_sigma t in Angstrom^2, in the collective curve's colour
    x, y = lines["2 d D_sigma t, D_sigma = 1.5e-06 cm^2/s"].get_data()
    assert y[-1] == pytest.approx(6 * D_sigma * 1e16 * x[-1])
    assert lines["2 d D_sigma t, D_sigma = 1.5e-06 cm^2/s"].get_color() == \
        lines["collective MSD (per ion)"].get_color()
    # only the collective line
    fig = plot_msd(t, t, None, D_sigma_cm2_s=D_sigma)
    assert [ln.get_label() for ln in fig.axes[0].get_lines()] == [
        "tracer MSD", "2 d D_sigma t, D_sigma = 1.5e-06 cm^2/s"]


@pytest.mark.parametrize("call,needle", [
    (lambda p: plot_arrhenius(_fit(), p / "fig.jpg"), "fig.jpg"),
    (lambda p: plot_arrhenius([_fit(), _fit("D")], p / "f.png"), "['D', 'sigma']"),
    (lambda p: plot_arrhenius([_fit()], p / "f.png", labels=["a", "b"]), "2 labels"),
    (lambda p: plot_arrhenius([], p / "f.png"), "ArrheniusFit"),
    (lambda p: plot_msd([0.0, 1.0], [0.0, 1.0], p / "m.png", dimensionality=4), "got 4"),
    (lambda p: plot_msd([0.0, 1.0], [0.0, 1.0], p / "m.png", D_tracer_cm2_s=-1.0), "-1.0"),
    (lambda p: plot_msd([0.0, 1.0], [0.0, 1.0], p / "m.png", D_sigma_cm2_s=0.0), "D_sigma"),
    (lambda p: plot_msd([0.0, 1.0], [0.0, 1.0, 2.0], p / "m.png"), "'msd_tracer_A2': 3"),
    (lambda p: plot_msd([0.0, math.nan], [0.0, 1.0], p / "m.png"), "time_s[1] is nan"),
])
def test_plot_bad_input(tmp_path, call, needle):
    with pytest.raises(ConfigError) as info:
        call(tmp_path)
    assert needle in str(info.value)
    assert not list(tmp_path.iterdir())


def test_module_imports():
    """No matplotlib at import time, and no dependence on the simulation/IO/CLI layers."""
    tree = ast.parse(Path(arr.__file__).read_text())
    top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    names = [a.name for n in top if isinstance(n, ast.Import) for a in n.names]
    names += [("." * n.level) + (n.module or "") for n in top if isinstance(n, ast.ImportFrom)]
    assert not any("matplotlib" in m for m in names)
    every = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert not any((n.module or "").split(".")[-1] in {"simulation", "io", "cli", "sweep"}
                   for n in every)
    assert isinstance(_fit(), ArrheniusFit)
