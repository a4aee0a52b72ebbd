"""Scoring kernel against the slow set-based reference in naive.py."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from riskadjust import Population, PopulationError, RiskModel, score
from tests.riskadjust.naive import naive_scores, naive_terms


def test_home_model_matches_naive(home, sample):
    members, dx = sample
    pop = Population.from_frames(home, members, dx)
    got = score(home, pop)
    want = naive_scores(home, members, dx)
    np.testing.assert_allclose(got.raw, want, rtol=0, atol=1e-12)
    assert got.raw.std() > 0.3  # the sample exercises conditions, not only cells


def test_components_are_the_terms_of_the_reference(home, sample):
    members, dx = sample
    members, dx = members.iloc[:400], dx[dx["patient_id"].isin(members["patient_id"].iloc[:400])]
    r = score(home, Population.from_frames(home, members, dx), components=True)
    comp = r.components_frame()
    for i, (seg, terms) in enumerate(naive_terms(home, members, dx)):
        assert sorted(comp.loc[comp["row"] == i, "term"]) == sorted(terms)
    np.testing.assert_allclose(np.asarray(r.components.sum(axis=1)).ravel(), r.raw, atol=1e-12)
    assert "patient_id" not in comp.columns


def test_payment_applies_normalisation_and_coding_intensity(home, sample):
    members, dx = sample
    m = home.with_coefficients(home.coefficients, normalisation=1.015, coding_intensity=0.059)
    r = score(m, Population.from_frames(m, members, dx))
    np.testing.assert_allclose(r.normalised, r.raw / 1.015, rtol=1e-15)
    np.testing.assert_allclose(r.payment, r.raw / 1.015 * (1 - 0.059), rtol=1e-15)


def _chain_model():
    cells = pd.DataFrame({"segment": ["s", "s"], "sex": ["F", "M"], "age_min": [0, 0], "age_max": [130, 130],
                          "term": ["F", "M"]})
    cats = pd.DataFrame({"category": ["A", "B", "C", "D"]})
    coef = pd.DataFrame({"segment": "s", "term": ["F", "M", "A", "B", "C", "D"],
                         "coefficient": [0.0, 0.0, 1.0, 10.0, 100.0, 1000.0]})
    dx = pd.DataFrame({"code": ["A1", "B1", "C1", "D1"], "category": ["A", "B", "C", "D"]})
    hier = pd.DataFrame({"parent": ["A", "B"], "child": ["B", "C"]})
    req = pd.DataFrame({"category": ["D"], "requires": ["A"]})
    return RiskModel("chain", cells, coef, categories=cats, dx_map=dx, hierarchy=hier, requirements=req)


@pytest.mark.parametrize("codes, expected", [
    (["A1", "B1", "C1"], 1.0),      # B dropped by A still drops C (hccpy would keep C: 101)
    (["A1", "C1"], 101.0),          # no rule (A, C): C kept, as in the CMS tables
    (["B1", "C1"], 10.0),
    (["C1", "D1"], 100.0),          # D needs A
    (["A1", "D1"], 1001.0),
])
def test_chained_hierarchy_and_requirements(codes, expected):
    m = _chain_model()
    members = pd.DataFrame({"patient_id": ["p"], "age": [50], "sex": ["F"]})
    pop = Population.from_frames(m, members, pd.DataFrame({"patient_id": "p", "code": codes}))
    assert score(m, pop).raw[0] == expected


def test_same_scores_on_one_and_two_threads(home, sample, on_threads):
    members, dx = sample
    pop = Population.from_frames(home, members, dx)
    one, two = on_threads(lambda: score(home, pop, components=True))
    assert np.array_equal(one.raw, two.raw)
    assert (one.components != two.components).nnz == 0


def test_errors_name_rows_not_patients(home):
    members = pd.DataFrame({"patient_id": ["SECRET-1", "SECRET-2"], "age": [40, 200], "sex": ["F", "M"],
                            "segment": ["community"] * 2})
    with pytest.raises(PopulationError, match="row 1") as err:
        Population.from_frames(home, members)
    assert "SECRET" not in str(err.value)
    members["age"] = [40, 50]
    for column, value in (("sex", "SECRET-3"), ("segment", "SECRET-4")):
        with pytest.raises(PopulationError, match=rf"^members, column '{column}': .* \(row 1\)$") as err:
            Population.from_frames(home, members.assign(**{column: [members[column][0], value]}))
        assert "SECRET" not in str(err.value)
    dx = pd.DataFrame({"patient_id": ["SECRET-9"], "code": ["E119"]})
    with pytest.raises(PopulationError, match="not in members") as err:
        Population.from_frames(home, members, dx)
    assert "SECRET" not in str(err.value)


def test_save_load_round_trip(home, sample, tmp_path):
    home.save(tmp_path / "m")
    again = RiskModel.load(tmp_path / "m")
    members, dx = sample
    a = score(home, Population.from_frames(home, members, dx)).raw
    b = score(again, Population.from_frames(again, members, dx)).raw
    assert np.array_equal(a, b)
    assert again.structure == home.structure


def test_take_matches_rebuilding(home, sample):
    members, dx = sample
    pop = Population.from_frames(home, members, dx)
    rows = np.arange(0, len(members), 7)[::-1]
    sub = members.iloc[rows]
    direct = Population.from_frames(home, sub, dx[dx["patient_id"].isin(sub["patient_id"])])
    assert np.array_equal(score(home, pop.take(rows)).raw, score(home, direct).raw)


# ---------------------------------------------------------------- property test on random models
@st.composite
def models_and_members(draw):
    n_cat = draw(st.integers(1, 7))
    cats = [f"C{i}" for i in range(n_cat)]
    pairs = [(cats[i], cats[j]) for i in range(n_cat) for j in range(i + 1, n_cat)]
    hier = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=6)) if pairs else []
    req = draw(st.lists(st.tuples(st.sampled_from(cats), st.sampled_from(cats)), unique=True, max_size=2))
    req = [(a, b) for a, b in req if a != b]
    groups = draw(st.lists(st.tuples(st.sampled_from(["G1", "G2"]), st.sampled_from(cats)), unique=True, max_size=4))
    factors = [""] + cats + sorted({g for g, _ in groups})
    inter = draw(st.lists(st.tuples(st.sampled_from(factors[1:]), st.sampled_from(factors),
                                    st.sampled_from(["", "flag", "female"])), max_size=4))
    segs = ["s1", "s2"]
    cells = pd.DataFrame([(s, x, lo, hi, f"{s}{x}{lo}") for s in segs for x in "FM"
                          for lo, hi in [(0, 49), (50, 130)]], columns=["segment", "sex", "age_min", "age_max", "term"])
    terms = list(cells["term"]) + cats + [f"I{k}" for k in range(len(inter))] + ["N1", "N2P"]
    coef_rows = [(s, t, draw(st.floats(-1, 3, allow_nan=False))) for s in segs for t in terms
                 if not (t in cells["term"].tolist() and not t.startswith(s))
                 and (t in cells["term"].tolist() or draw(st.booleans()))]
    codes = [f"X{i}" for i in range(n_cat + 2)]
    dx_map = [(codes[i], cats[i]) for i in range(n_cat)] + [(codes[n_cat], cats[0]), (codes[n_cat], cats[-1])]
    edits = [(codes[n_cat + 1 - 1], "F", "", "", "override", cats[-1]), (codes[0], "", "60", "20", "invalid", "")]
    dx_map.append((codes[n_cat + 1], cats[0]))
    model = RiskModel(
        "random", cells, pd.DataFrame(coef_rows, columns=["segment", "term", "coefficient"]),
        categories=pd.DataFrame({"category": cats}),
        dx_map=pd.DataFrame(dx_map, columns=["code", "category"]),
        dx_edits=pd.DataFrame(edits, columns=["code", "sex", "age_min", "age_max", "action", "category"]),
        hierarchy=pd.DataFrame(hier, columns=["parent", "child"]),
        requirements=pd.DataFrame(req, columns=["category", "requires"]),
        groups=pd.DataFrame(groups, columns=["group", "category"]),
        interactions=pd.DataFrame([(f"I{k}", a, b, f, "") for k, (a, b, f) in enumerate(inter)],
                                  columns=["term", "factor1", "factor2", "flag1", "flag2"]),
        counts=pd.DataFrame([("N1", 1, 1), ("N2P", 2, 99)], columns=["term", "min_count", "max_count"]),
        flags=("flag",))
    n = draw(st.integers(1, 12))
    members = pd.DataFrame({"patient_id": [f"p{i}" for i in range(n)],
                            "age": draw(st.lists(st.integers(0, 100), min_size=n, max_size=n)),
                            "sex": draw(st.lists(st.sampled_from("FM"), min_size=n, max_size=n)),
                            "segment": draw(st.lists(st.sampled_from(segs), min_size=n, max_size=n)),
                            "flag": draw(st.lists(st.sampled_from([0, 1]), min_size=n, max_size=n))})
    dx = draw(st.lists(st.tuples(st.sampled_from(members["patient_id"].tolist()),
                                 st.sampled_from(codes + ["ZZZ"])), max_size=40))
    return model, members, pd.DataFrame(dx, columns=["patient_id", "code"])


def _check_against_naive(model, members, dx):
    """Scores equal naive.py's, components sum to them and name the terms naive.py finds."""
    got = score(model, Population.from_frames(model, members, dx), components=True)
    np.testing.assert_allclose(got.raw, naive_scores(model, members, dx), atol=1e-12)
    np.testing.assert_allclose(np.asarray(got.components.sum(axis=1)).ravel(), got.raw, atol=1e-12)
    comp = got.components_frame()
    # naive_terms also lists terms without a coefficient in the member's segment
    with_coef = set(zip(model.coefficients["segment"], model.coefficients["term"]))
    for i, (segment, terms) in enumerate(naive_terms(model, members, dx)):
        assert sorted(comp.loc[comp["row"] == i, "term"]) == sorted(t for t in terms if (segment, t) in with_coef)


@settings(max_examples=40, deadline=None)
@given(models_and_members())
def test_kernel_equals_naive_on_random_models(case):
    _check_against_naive(*case)


# ------------------------------------------------- bit sets wider than one word, against naive.py
@st.composite
def wide_models_and_members(draw):
    """Models whose category and group bit sets span several 64-bit words (up to 150 categories,
    70 groups), one segment; members with no, few or many coded categories."""
    n_cat = draw(st.sampled_from([63, 64, 65, 130, 150]))
    cats = [f"C{i}" for i in range(n_cat)]
    idx = st.integers(0, n_cat - 1)
    edge = [c for c in (0, 1, 62, 63, 64, 65, 100, 129, 149) if c < n_cat]  # either side of word boundaries
    near = st.one_of(idx, st.sampled_from(edge))
    hier = {(a, b) for a, b in draw(st.lists(st.tuples(near, near), max_size=60)) if a < b}
    req = {(a, b) for a, b in draw(st.lists(st.tuples(near, near), max_size=6)) if a != b}
    n_groups = draw(st.sampled_from([0, 1, 60, 70]))
    groups = {(f"G{g}", cats[c]) for g in range(n_groups) for c in draw(st.lists(idx, min_size=1, max_size=4))}
    factors = cats + [f"G{g}" for g in range(n_groups)]
    inter = draw(st.lists(st.tuples(st.sampled_from(factors), st.sampled_from([""] + factors),
                                    st.sampled_from(["", "flag", "female"])), max_size=12))
    inter += [("", "", "flag")] if draw(st.booleans()) else []
    cells = pd.DataFrame({"segment": "s", "sex": ["F", "M"], "age_min": 0, "age_max": 130, "term": ["F", "M"]})
    terms = ["F", "M"] + cats + [f"I{k}" for k in range(len(inter))] + ["N0", "N1", "N2", "N3P"]
    coef = [("s", t, float(k % 7) - 2.5 + k / 1000) for k, t in enumerate(terms)
            if t in ("F", "M") or draw(st.integers(0, 9)) > 0]
    model = RiskModel(
        "wide", cells, pd.DataFrame(coef, columns=["segment", "term", "coefficient"]),
        categories=pd.DataFrame({"category": cats}),
        dx_map=pd.DataFrame({"code": [f"X{i}" for i in range(n_cat)], "category": cats}),
        hierarchy=pd.DataFrame([(cats[a], cats[b]) for a, b in sorted(hier)], columns=["parent", "child"]),
        requirements=pd.DataFrame([(cats[a], cats[b]) for a, b in sorted(req)], columns=["category", "requires"]),
        groups=pd.DataFrame(sorted(groups), columns=["group", "category"]),
        interactions=pd.DataFrame([(f"I{k}", a, b, f, "") for k, (a, b, f) in enumerate(inter)],
                                  columns=["term", "factor1", "factor2", "flag1", "flag2"]),
        counts=pd.DataFrame([("N0", 0, 0), ("N1", 1, 1), ("N2", 2, 2), ("N3P", 3, 999)],
                            columns=["term", "min_count", "max_count"]),
        flags=("flag",))
    n = draw(st.integers(1, 8))
    members = pd.DataFrame({"patient_id": [f"p{i}" for i in range(n)], "age": 70,
                            "sex": draw(st.lists(st.sampled_from("FM"), min_size=n, max_size=n)),
                            "flag": draw(st.lists(st.sampled_from([0, 1]), min_size=n, max_size=n))})
    dx = [(f"p{i}", f"X{c}") for i in range(n) for c in draw(st.lists(near, max_size=draw(st.sampled_from([0, 3, 40]))))]
    return model, members, pd.DataFrame(dx, columns=["patient_id", "code"])


@settings(max_examples=40, deadline=None)
@given(wide_models_and_members())
def test_kernel_equals_naive_on_wide_models(case):
    _check_against_naive(*case)


@pytest.mark.parametrize("codes", [["X64", "X65"], ["X0", "X100", "X129"], ["X100", "X129", "X64"], ["X129", "X3"],
                                   ["X70", "X130"], ["X1", "X70", "X130", "X129", "X64"], []])
def test_rules_and_groups_across_bit_words(codes):
    """Hierarchy, requirements, groups and interactions whose categories sit in different 64-bit words."""
    cats = [f"C{i}" for i in range(140)]
    cells = pd.DataFrame({"segment": "s", "sex": ["F", "M"], "age_min": 0, "age_max": 130, "term": ["F", "M"]})
    groups = pd.DataFrame([(f"G{g}", cats[g]) for g in range(70)] + [("G69", "C130")], columns=["group", "category"])
    inter = pd.DataFrame([("I0", "G1", "G69", "", ""), ("I1", "C64", "G69", "", ""), ("I2", "C129", "", "", "")],
                         columns=["term", "factor1", "factor2", "flag1", "flag2"])
    terms = ["F", "M"] + cats + ["I0", "I1", "I2", "N1", "N2P"]
    m = RiskModel("words", cells, pd.DataFrame({"segment": "s", "term": terms,
                                                 "coefficient": [2.0 ** -(k % 40) for k in range(len(terms))]}),
                  categories=pd.DataFrame({"category": cats}),
                  dx_map=pd.DataFrame({"code": [f"X{i}" for i in range(140)], "category": cats}),
                  hierarchy=pd.DataFrame({"parent": ["C64", "C0", "C100"], "child": ["C65", "C100", "C129"]}),
                  requirements=pd.DataFrame({"category": ["C129"], "requires": ["C64"]}),
                  groups=groups, interactions=inter,
                  counts=pd.DataFrame({"term": ["N1", "N2P"], "min_count": [1, 2], "max_count": [1, 99]}))
    members = pd.DataFrame({"patient_id": ["p"], "age": [70], "sex": ["F"]})
    dx = pd.DataFrame({"patient_id": "p", "code": codes})
    got = score(m, Population.from_frames(m, members, dx), components=True)
    assert sorted(got.components_frame()["term"]) == sorted(naive_terms(m, members, dx)[0][1])
    np.testing.assert_allclose(got.raw, naive_scores(m, members, dx), atol=1e-12)
