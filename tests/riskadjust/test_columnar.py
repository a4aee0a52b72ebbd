"""Populations from Parquet files and Arrow tables equal cms_population's (and hence hccinfhir's scores).

Every comparison is exact (``np.array_equal`` on the population's arrays and on the scores), except
the direct comparison with ``hccinfhir.calculate_raf`` (payment scores to 1e-12, as test_cms).
"""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from riskadjust import score
from riskadjust.cms import VERSIONS, cms_population, load_cms_hcc
from riskadjust.columnar import population_from_arrow, population_from_parquet
from riskadjust.errors import PopulationError
from riskadjust.synthetic import synthetic_medicare

N = 2000
FIELDS = ("age", "sex", "segment", "cell_term", "flags", "indptr", "indices")


@pytest.fixture(scope="module", params=["V24", "V28"])
def case(request):
    model = load_cms_hcc(request.param, normalisation=1.015, coding_intensity=0.059)
    members, dx = synthetic_medicare(N, model, seed=21 if request.param == "V28" else 22)
    # blank, missing and ICD-9 codes, dotted and lower-case codes: counted the same way by both paths
    dx.loc[dx.index[:4], "code"] = ["", None, "250.00", "e11.9"]
    return request.param, model, members, dx


def _tables(members, dx):
    return (pa.Table.from_pandas(members, preserve_index=False).replace_schema_metadata(None),
            pa.Table.from_pandas(dx, preserve_index=False).replace_schema_metadata(None))


def _write(tmp_path, members, dx, **options):
    m, d = _tables(members, dx)
    pq.write_table(m, tmp_path / "members.parquet", **options)
    pq.write_table(d, tmp_path / "diagnoses.parquet", **options)
    return tmp_path / "members.parquet", tmp_path / "diagnoses.parquet"


def _assert_same(pop, ref):
    for f in FIELDS:
        a, b = getattr(pop, f), getattr(ref, f)
        assert a.dtype == b.dtype and np.array_equal(a, b), f
    assert pop.warnings == ref.warnings
    np.testing.assert_array_equal(score(pop.model, pop).payment, score(ref.model, ref).payment)


@pytest.mark.parametrize("batch_rows", [1 << 20, 613])
def test_parquet_equals_cms_population(case, tmp_path, batch_rows):
    """Whole files in one batch, and many batches (each with its own code dictionary; profiles span batches)."""
    _, model, members, dx = case
    m_path, d_path = _write(tmp_path, members, dx, row_group_size=700)
    pop = population_from_parquet(model, m_path, d_path, batch_rows=batch_rows)
    ref = cms_population(model, members, dx, source=(str(m_path), str(d_path)))
    assert any("ESRD" in w for w in ref.warnings) and any("outside the model's mapping" in w for w in ref.warnings)
    _assert_same(pop, ref)


def test_scores_equal_hccinfhir(case):
    pytest.importorskip("hccinfhir")
    from hccinfhir.model_calculate import calculate_raf

    version, model, members, dx = case
    members, dx = members.iloc[:300], dx[dx["patient_id"].isin(set(members["patient_id"].iloc[:300]))]
    dx = dx[dx["code"].notna() & (dx["code"] != "")]
    pay = score(model, population_from_arrow(model, *_tables(members, dx))).payment
    codes = dx.groupby("patient_id")["code"].apply(list).to_dict()
    theirs = [calculate_raf(codes.get(r.patient_id, []), VERSIONS[version], age=int(r.age), sex=r.sex,
                            dual_elgbl_cd=r.dual_elgbl_cd, orec=r.orec, crec=r.crec, new_enrollee=bool(r.new_enrollee),
                            snp=bool(r.snp), lti=bool(r.lti), maci=0.059, norm_factor=1.015).risk_score_payment
              for r in members.itertuples(index=False)]
    np.testing.assert_allclose(pay, theirs, rtol=0, atol=1e-12)


def test_arrow_variants_equal_cms_population(case):
    """Plain text, dictionary-encoded ids and codes, integer ids, unsorted members (hash join)."""
    _, model, members, dx = case
    src = ("members", "diagnoses")
    ref = cms_population(model, members, dx)
    m, d = _tables(members, dx)
    _assert_same(population_from_arrow(model, m, d, batch_rows=500), ref)
    d_dict = pa.table({"patient_id": d["patient_id"].dictionary_encode(), "code": d["code"].dictionary_encode()})
    m_dict = m.set_column(2, "sex", m["sex"].dictionary_encode())
    _assert_same(population_from_arrow(model, m_dict, d_dict, source=src), ref)

    as_int = {"patient_id": lambda f: f["patient_id"].str[1:].astype(np.int64) * 3 + 7}
    int_ref = cms_population(model, members.assign(**as_int), dx.assign(**as_int))
    _assert_same(population_from_arrow(model, *_tables(members.assign(**as_int), dx.assign(**as_int))), int_ref)
    sparse_ids = {"patient_id": lambda f: f["patient_id"].str[1:].astype(np.int64) * 10**9}
    _assert_same(population_from_arrow(model, *_tables(members.assign(**sparse_ids), dx.assign(**sparse_ids))),
                 cms_population(model, members.assign(**sparse_ids), dx.assign(**sparse_ids)))

    order = np.random.default_rng(3).permutation(len(members))
    shuffled = members.iloc[order].reset_index(drop=True)
    _assert_same(population_from_arrow(model, *_tables(shuffled, dx.sample(frac=1.0, random_state=4))),
                 cms_population(model, shuffled, dx))


def test_members_only_and_float_ages(case):
    _, model, members, dx = case
    older = members.assign(age=members["age"] + 0.75)
    m, _ = _tables(older, dx)
    _assert_same(population_from_arrow(model, m), cms_population(model, older))


# ------------------------------------------------------------------ bad input: named errors, no id values
@pytest.fixture(scope="module")
def small():
    model = load_cms_hcc("V28")
    members, dx = synthetic_medicare(300, model, seed=2)
    return model, members, dx


def _error(model, members, dx, **kw):
    with pytest.raises(PopulationError) as info:
        population_from_arrow(model, *_tables(members, dx), batch_rows=kw.pop("batch_rows", 100), **kw)
    msg = str(info.value)
    assert not any(pid in msg.split() for pid in members["patient_id"].astype(str)), msg
    return info.value


def test_member_field_errors_name_the_member_row(small):
    model, members, dx = small
    bad = members.copy()
    bad.loc[[217, 250], "sex"] = "X"
    err = _error(model, bad, dx)
    assert (err.file, err.column) == ("members", "sex") and err.message.endswith("(row 217)")
    bad = members.copy()
    bad.loc[123, "age"] = -4
    err = _error(model, bad, dx)
    assert err.column == "age" and "(row 123)" in err.message
    bad = members.copy()
    bad.loc[140, "orec"] = "7"
    assert _error(model, bad, dx).message.endswith("(row 140)")


def test_id_errors(small):
    model, members, dx = small
    err = _error(model, members, dx.assign(patient_id=dx["patient_id"].where(dx.index != 250, "nobody")))
    assert (err.file, err.column) == ("diagnoses", "patient_id") and "1 row(s) (first at row 250)" in err.message
    err = _error(model, members, dx.assign(patient_id=dx["patient_id"].where(dx.index % 100 != 99, "  ")))
    assert "empty patient_id" in err.message and "first at row 99" in err.message
    dup = members.copy()
    dup.loc[200, "patient_id"] = dup.loc[12, "patient_id"]
    err = _error(model, dup, dx)
    assert err.file == "members" and "row 200 repeats" in err.message
    err = _error(model, members.assign(patient_id=members["patient_id"].where(members.index != 5, None)), dx)
    assert "first at row 5" in err.message
    ints = members.assign(patient_id=np.arange(len(members)))
    assert "one type" in _error(model, ints, dx).message


def test_missing_columns_and_unreadable_files(small, tmp_path):
    model, members, dx = small
    err = _error(model, members.drop(columns="sex"), dx)
    assert err.file == "members" and "'sex'" in err.message
    err = _error(model, members, dx.rename(columns={"code": "icd10"}))
    assert err.file == "diagnoses" and "'code'" in err.message
    m_path, d_path = _write(tmp_path, members, dx)
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    with pytest.raises(PopulationError, match="broken.parquet: cannot be read as Parquet"):
        population_from_parquet(model, m_path, tmp_path / "broken.parquet")
    assert len(population_from_parquet(model, m_path, d_path)) == len(members)


def test_too_many_distinct_values_is_named(small):
    model, members, dx = small
    many = pd.concat([members] * 2, ignore_index=True).assign(patient_id=lambda f: [f"Q{i}" for i in range(len(f))])
    many["dual_elgbl_cd"] = [f"{i:03d}" for i in range(len(many))]
    err = _error(model, many, dx.iloc[:0], batch_rows=1000)
    assert err.column == "dual_elgbl_cd" and "(row 256)" in err.message
