"""TriangleSet: construction from every source, irregular data, and the derived views.

References: chainladder-python 0.10.1 on the same data (link ratios, latest diagonal,
incremental values), and hand-built triangles whose answers are written out by hand.
"""

import chainladder as cl
import numpy as np
import pandas as pd
import pytest

from reserving import Triangle, TriangleError, TriangleSet

NAN = np.nan


def _claims():
    return pd.DataFrame(
        {
            "consortium": ["North", "North", "North", "South", "South"],
            "service": ["acute", "acute", "acute", "acute", "acute"],
            "incurred": ["2024-01-03", "2024-01-30", "2024-02-10", "2024-02-01", "2024-03-15"],
            "paid": ["2024-01-20", "2024-03-02", "2024-02-11", "2024-02-20", "2024-03-31"],
            "amount": [100.0, 50.0, 70.0, 10.0, -4.0],
        }
    )


def test_from_frame_buckets_payments_into_cumulative_cells():
    tri = TriangleSet.from_frame(_claims(), "incurred", "paid", "amount", segments=["consortium", "service"])
    assert tri.shape == (2, 3, 3)
    assert list(tri.segments) == [("North", "acute"), ("South", "acute")]
    assert tri.segments.names == ["consortium", "service"]
    north = tri.values[0]
    # Jan: 100 paid in Jan, 50 in Mar (lag 2); Feb: 70 in Feb; Mar: nothing paid yet -> a real zero.
    np.testing.assert_array_equal(north, [[100, 100, 150], [70, 70, NAN], [0, NAN, NAN]])
    # South starts in February: January is not part of that segment (shorter segment).
    south = tri.values[1]
    np.testing.assert_array_equal(south, [[NAN, NAN, NAN], [10, 10, NAN], [-4, NAN, NAN]])
    assert tri.valuation == pd.Timestamp("2024-03-31")
    assert tri.development.tolist() == [1, 2, 3]


def test_from_frame_valuation_later_than_data_extends_origins_with_zeros():
    tri = TriangleSet.from_frame(_claims(), "incurred", "paid", "amount", valuation="2024-04-30")
    assert tri.n_origins == 4
    np.testing.assert_array_equal(tri.values[0, 3], [0, NAN, NAN, NAN])
    assert tri.latest[0].tolist() == [150.0, 70.0 + 10.0, -4.0, 0.0]


def test_from_frame_quarterly_and_annual_grains():
    q = TriangleSet.from_frame(_claims(), "incurred", "paid", "amount", grain="Q")
    assert q.shape == (1, 1, 1) and q.values[0, 0, 0] == pytest.approx(226.0)
    assert q.development.tolist() == [3]
    y = TriangleSet.from_frame(_claims(), "incurred", "paid", "amount", grain="Y")
    assert y.grain == "Y" and y.development.tolist() == [12]


def test_from_frame_cumulative_snapshots_keep_missing_as_nan():
    df = pd.DataFrame(
        {"origin": ["2020", "2020", "2021"], "valued": ["2020-12-31", "2021-12-31", "2021-12-31"], "paid": [5.0, 0.0, 7.0]}
    )
    tri = TriangleSet.from_frame(df, "origin", "valued", "paid", grain="Y", cumulative=True)
    np.testing.assert_array_equal(tri.values[0], [[5, 0], [7, NAN]])


@pytest.mark.parametrize(
    "column, bad, message",
    [
        ("amount", "12,x", "row 2: amount in column 'amount' is not a number"),
        ("paid", "not a date", "row 2: paid is not a date in YYYY-MM-DD"),
        ("paid", "2023-12-01", "row 2: paid 2023-12-01 is before incurred 2024-01-30"),
    ],
)
def test_from_frame_errors_name_source_row_and_problem(column, bad, message):
    df = _claims().astype({column: object})
    df.loc[1, column] = bad
    with pytest.raises(TriangleError, match=message) as err:
        TriangleSet.from_frame(df, "incurred", "paid", "amount", source="claims.csv")
    assert str(err.value).startswith("claims.csv, ")


def test_from_frame_rejects_payments_after_valuation_and_missing_columns():
    with pytest.raises(TriangleError, match="after the valuation period 2024-02"):
        TriangleSet.from_frame(_claims(), "incurred", "paid", "amount", valuation="2024-02-15")
    with pytest.raises(TriangleError, match=r"missing column\(s\) \['lob'\]"):
        TriangleSet.from_frame(_claims(), "incurred", "paid", "amount", segments=["lob"])


def test_from_file_reads_csv_and_parquet_alike(tmp_path):
    df = _claims()
    df.to_csv(tmp_path / "claims.csv", index=False)
    df.to_parquet(tmp_path / "claims.parquet")
    kw = dict(origin="incurred", development="paid", amount="amount", segments=["consortium"])
    a = TriangleSet.from_file(tmp_path / "claims.csv", **kw)
    b = TriangleSet.from_file(tmp_path / "claims.parquet", **kw)
    np.testing.assert_array_equal(a.values, b.values)
    assert list(a.segments) == ["North", "South"]
    with pytest.raises(TriangleError, match="nope.csv: no such file"):
        TriangleSet.from_file(tmp_path / "nope.csv", **kw)


def test_from_file_error_names_the_file(tmp_path):
    df = _claims().astype({"amount": object})
    df.loc[3, "amount"] = "ten"
    df.to_csv(tmp_path / "claims.csv", index=False)
    with pytest.raises(TriangleError, match=r"claims\.csv, row 4: amount in column 'amount' is not a number"):
        TriangleSet.from_file(tmp_path / "claims.csv", "incurred", "paid", "amount")


def test_from_array_incremental_and_cumulative_round_trip():
    inc = np.array([[10.0, 5.0, -2.0], [8.0, 0.0, NAN], [9.0, NAN, NAN]])
    tri = TriangleSet.from_array(inc, cumulative=False, origin_start="2021Q1", grain="Q")
    np.testing.assert_array_equal(tri.values[0], [[10, 15, 13], [8, 8, NAN], [9, NAN, NAN]])
    np.testing.assert_array_equal(tri.incremental[0], inc)
    assert str(tri.origins[-1]) == "2021Q3"
    assert tri.valuation == pd.Timestamp("2021-09-30")


def test_missing_cell_latest_and_incremental():
    c = np.array([[1.0, 2.0, 3.0], [1.0, NAN, NAN], [1.0, NAN, NAN]])
    # origin 1's lag-1 value is missing: its latest is the lag-0 value
    tri = Triangle(c)
    assert tri.latest[0].tolist() == [3.0, 1.0, 1.0]
    assert tri.latest_lag[0].tolist() == [2, 0, 0]
    c2 = np.array([[1.0, NAN, 3.0], [1.0, 2.0, NAN], [1.0, NAN, NAN]])
    np.testing.assert_array_equal(Triangle(c2).incremental[0], [[1, NAN, 2], [1, 1, NAN], [1, NAN, NAN]])


def test_zero_is_kept_and_link_ratio_over_zero_is_nan():
    tri = Triangle([[0.0, 0.0, 5.0], [0.0, 0.0, NAN], [0.0, NAN, NAN]])
    assert tri.latest[0].tolist() == [5.0, 0.0, 0.0]
    assert np.isnan(tri.link_ratios[0]).all()
    allzero = TriangleSet.from_array(np.zeros((2, 2, 2)) + np.array([[0, 0], [0, NAN]]))
    assert (allzero.latest == 0).all()


@pytest.mark.parametrize("name", ["raa", "genins", "abc", "ukmotor"])
def test_views_match_chainladder(name):
    ref = cl.load_sample(name)
    tri = TriangleSet.from_chainladder(ref)
    np.testing.assert_allclose(tri.latest[0], ref.latest_diagonal.values[0, 0, :, 0], rtol=1e-15)
    np.testing.assert_allclose(tri.incremental[0], ref.cum_to_incr().values[0, 0], rtol=1e-15)
    link = ref.link_ratio.values[0, 0]
    np.testing.assert_allclose(tri.link_ratios[0][: link.shape[0]], link, rtol=1e-14)
    assert tri.valuation == pd.Timestamp(ref.valuation_date).normalize()
    assert tri.development.tolist() == list(ref.development.astype(int))


def test_from_chainladder_multi_index_and_zero_restoration():
    clrd = cl.load_sample("clrd")
    tri = TriangleSet.from_chainladder(clrd, column="CumPaidLoss")
    assert tri.shape == (775, 10, 10)
    assert tri.segments.names == ["GRNAME", "LOB"]
    aegis = tri[("Aegis Grp", "ppauto")]
    assert np.isnan(aegis.latest[0, 4])  # chainladder stores the zero as NaN
    restored = TriangleSet.from_chainladder(clrd, column="CumPaidLoss", zeros=True)[("Aegis Grp", "ppauto")]
    # clrd.csv lists 0.0 for accident years 1992-1997 of this company (source data, not chainladder)
    assert restored.latest[0].tolist() == [631, 420, 407, 242, 0, 0, 0, 0, 0, 0]
    with pytest.raises(TriangleError, match="pass column="):
        TriangleSet.from_chainladder(clrd)


def test_from_chainladder_rejects_mixed_grains():
    with pytest.raises(TriangleError, match="origin grain Y differs from development grain Q"):
        TriangleSet.from_chainladder(cl.load_sample("quarterly"), column="paid")


def test_selection_by_label_position_mask_and_slice():
    tri = TriangleSet.from_frame(_claims(), "incurred", "paid", "amount", segments=["consortium"])
    assert tri["South"].segments.tolist() == ["South"]
    assert tri[["South", "North"]].segments.tolist() == ["South", "North"]
    assert tri[1].segments.tolist() == ["South"]
    assert tri[np.array([True, False])].segments.tolist() == ["North"]
    assert tri[:1].shape == (1, 3, 3)
    with pytest.raises(TriangleError, match=r"no segment labelled \['East'\]"):
        tri["East"]


def test_invalid_arrays_name_the_cell():
    with pytest.raises(TriangleError, match="after the valuation date at segment segment=0, origin 2001, development 24"):
        TriangleSet.from_array([[1.0, 2.0], [1.0, 2.0]], origin_start="2000")
    with pytest.raises(TriangleError, match="infinite value at segment segment=0, origin 2000, development 12"):
        TriangleSet.from_array([[np.inf, 2.0], [1.0, NAN]], origin_start="2000")
    with pytest.raises(TriangleError, match="grain 'W'"):
        TriangleSet.from_array([[1.0]], grain="W")


def test_to_frame_lists_observed_cells():
    tri = TriangleSet.from_frame(_claims(), "incurred", "paid", "amount", segments=["consortium"])
    long = tri.to_frame()
    assert len(long) == int(np.isfinite(tri.values).sum())
    assert long.columns.tolist() == ["consortium", "origin", "development", "value"]
    assert long["value"].sum() == pytest.approx(np.nansum(tri.values))


def test_values_are_read_only():
    tri = Triangle([[1.0, 2.0], [1.0, NAN]])
    with pytest.raises(ValueError):
        tri.values[0, 0, 0] = 5.0
