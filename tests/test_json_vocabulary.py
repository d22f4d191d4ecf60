"""One JSON vocabulary for kmc run, sweep, arrhenius and validate.

The rule (README, "Command line"): a number's key is ``<quantity>[_<unit>][_err|_upper]``.
The unit, when the quantity has one, comes last, from one list of spellings (``S_cm`` is
S/cm, ``cm2_s`` is cm^2/s; no ``per`` but in ``per_s`` and the field's ``V_per_angstrom``);
``_err``, the standard error in the same unit, and ``_upper``, an upper bound in the same
unit (a run without a diffusive regime), come after it and nowhere else; an
extrapolated value names its temperature in the quantity (``sigma_300K_S_cm``). Old keys stay
one version beside the new ones, listed old -> new under ``deprecated_keys``, each with its
new key's value.
"""

import json

from kmc import validate
from kmc.cli import main

#: The unit spellings of the JSON, longest first.
UNITS = sorted(["S_cm", "S_K_cm", "cm2_s", "cm_s", "eV", "K", "s", "Hz", "A", "A2", "A3", "nm",
                "e", "ohm_cm2", "per_s", "V_per_angstrom"], key=len, reverse=True)
#: The symbols those units are made of: none may stand anywhere but in the final unit.
SYMBOLS = {part for u in UNITS for part in u.split("_")} - {"per"}
#: Sub-objects whose keys are names, not quantities: option names (the input schema of a
#: config file or a material), hop and event type names, and the deprecation map itself.
NAMES = {"config", "options", "hop_type_counts", "event_counts", "displacement_share",
         "deprecated_keys"}


def violation(key):
    """Why `key` breaks the naming rule (None if it follows it)."""
    stem = key.removesuffix("_err").removesuffix("_upper")
    if {"err", "upper"} & set(stem.split("_")):
        return "_err or _upper is not last"
    unit = next((u for u in UNITS if stem == u or stem.endswith("_" + u)), None)
    quantity = stem if unit is None else stem[:-len(unit)].rstrip("_")
    if not quantity:
        return "no quantity before the unit"
    stray = SYMBOLS & set(quantity.split("_"))
    if stray:
        return f"unit symbol {sorted(stray)} before the end"
    return None


def _is_number(v):
    if isinstance(v, bool) or isinstance(v, str):
        return False
    if isinstance(v, (int, float)) or v is None:
        return True
    return isinstance(v, list) and bool(v) and all(_is_number(x) for x in v)


def numeric_keys(obj, where="", deprecated=frozenset()):
    """(path, key) of every number (or list of numbers, or null) in a JSON object, old keys
    excluded; and every dict that holds them, for the _err twin check."""
    out, dicts = [], []
    if isinstance(obj, dict):
        dicts.append((where, obj))
        for k, v in obj.items():
            if k in NAMES or k in deprecated:
                continue
            if _is_number(v):
                out.append((where, k))
            else:
                sub_out, sub_dicts = numeric_keys(v, f"{where}/{k}", deprecated)
                out += sub_out
                dicts += sub_dicts
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            sub_out, sub_dicts = numeric_keys(v, f"{where}[{i}]", deprecated)
            out += sub_out
            dicts += sub_dicts
    return out, dicts


def check_vocabulary(doc, name):
    """Every numeric key follows the rule, every _err has its twin, every old key listed
    under deprecated_keys holds its new key's value (wherever it appears)."""
    deprecated = doc.get("deprecated_keys", {})
    keys, dicts = numeric_keys(doc, name, frozenset(deprecated))
    assert keys, name
    bad = {f"{where}: {k}": violation(k) for where, k in keys if violation(k)}
    assert not bad, bad
    for where, d in dicts:
        for k in d:
            if k.endswith("_err") and k not in deprecated and not k.startswith("_"):
                assert k.removesuffix("_err") in d, f"{where}: {k} has no twin"
        for old, new in deprecated.items():
            if old in d:
                assert new in d and d[old] == d[new], f"{where}: {old} != {new}"
    # the rule would reject the old spellings (but 'values', 'errors': no unit at all)
    for old in deprecated:
        if old not in ("values", "errors"):
            assert violation(old), old
    return keys


def _json(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_the_rule():
    for good in ("sigma_S_cm", "sigma_S_cm_err", "sigma_300K_S_cm", "sigma_300K_S_cm_err",
                 "D_tracer_cm2_s_err", "Ea_eV_err", "prefactor_S_K_cm_err", "T_ref_K",
                 "haven_ratio_err", "hops_per_s", "hops_per_ion_per_block", "volume_A3",
                 "field_V_per_angstrom", "grain_size_requested_nm", "charge_e"):
        assert violation(good) is None, good
    for bad in ("sigma_S_per_cm", "sigma_err_S_per_cm", "sigma300_S_per_cm",
                "sigma_300K_err_S_cm", "Ea_err_eV", "prefactor_S_K_per_cm",
                "prefactor_err_S_K_per_cm", "D0_err_cm2_s", "grain_size_nm_requested"):
        assert violation(bad), bad


def test_run_sweep_arrhenius_and_validate_speak_one_vocabulary(tmp_path, capsys, monkeypatch):
    small = ["--size", "4", "--steps", "40000", "--blocks", "4", "--seed", "1", "--quiet"]
    seen = {}
    # kmc run, with a field (drift, linear-response parameter), and a polycrystal pair
    run = _json(capsys, ["run", "sc", "--field", "0.001", "0", "0", *small, "--json"])
    assert run["linear_response_parameter"] > 0
    seen["run"] = check_vocabulary(run, "run")
    poly = _json(capsys, ["run", "polycrystal", "--material", "sc", "--n-grains", "2",
                          "-T", "600", *small, "--json"])
    assert poly["deprecated_keys"] == {"grain_size_nm_requested": "grain_size_requested_nm"}
    seen["run polycrystal"] = check_vocabulary(poly, "run polycrystal")
    # kmc sweep over two temperatures (so it fits) and kmc arrhenius of it
    out = tmp_path / "sw.h5"
    sweep = _json(capsys, ["sweep", "sc", "-T", "400,500", *small, "--workers", "1",
                           "--output", str(out), "--json"])
    assert sweep["arrhenius"] and "sigma_300K_S_cm_err" in sweep["arrhenius"][0]
    seen["sweep"] = check_vocabulary(sweep, "sweep")
    fit = _json(capsys, ["arrhenius", str(out), "--json"])
    assert fit["deprecated_keys"]["Ea_err_eV"] == "Ea_eV_err"
    seen["arrhenius"] = check_vocabulary(fit, "arrhenius")
    fit_d = _json(capsys, ["arrhenius", str(out), "--quantity", "D_tracer", "--T-ref", "450",
                           "--json"])
    assert "D_ref_cm2_s_err" in fit_d and fit_d["D_ref_err_cm2_s"] == fit_d["D_ref_cm2_s_err"]
    seen["arrhenius D"] = check_vocabulary(fit_d, "arrhenius D")
    # kmc validate, one tiny case
    case = validate.Case("nasicon", {"x": 2.0}, (500.0, 600.0), 4000, 4000, (2, 2, 1))
    monkeypatch.setattr(validate, "CASES", (case,))
    report = _json(capsys, ["validate", "--quick", "--json", "--workers", "1", "--quiet"])
    row = report["rows"][0]
    assert row["experiment"]["sigma_S_cm"] == row["experiment"]["sigma_S_per_cm"] > 0
    assert row["sigma_300K_S_cm"] == row["sigma300_S_per_cm"]
    assert report["deprecated_keys"] == validate.DEPRECATED_KEYS
    seen["validate"] = check_vocabulary(report, "validate")
    # the quantities the commands share have one name each
    names = {cmd: {k for _, k in keys} for cmd, keys in seen.items()}
    assert {"sigma_S_cm", "sigma_S_cm_err", "temperature_K"} <= names["run"]
    assert {"sigma_300K_S_cm", "sigma_300K_S_cm_err", "Ea_eV", "Ea_eV_err",
            "sigma_S_cm", "sigma_S_cm_err"} <= names["arrhenius"] & names["validate"]
    assert {"sigma_300K_S_cm_err", "Ea_eV_err", "sigma_S_cm_err"} <= names["sweep"]


def test_the_validation_table_reads_the_new_keys():
    """A row with only the new keys prints (the old ones are for JSON readers only)."""
    row = {"case": "c", "temperatures_K": [500.0, 600.0], "sigma_300K_S_cm": 1e-3,
           "sigma_300K_S_cm_err": 1e-4, "Ea_eV": 0.3, "Ea_eV_err": 0.01,
           "experiment": {"sigma_S_cm": 2e-3, "reference": "ref"}, "ratio_sigma_sim_exp": 0.5}
    text = validate.ValidationReport(rows=[row]).table()
    assert "0.001 +- 0.0001" in text and "0.300 +- 0.010" in text and "0.002" in text
