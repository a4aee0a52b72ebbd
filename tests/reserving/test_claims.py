"""Reading claim lines: validation with file and line, and bucketing checked against TriangleSet.from_frame."""

import numpy as np
import pandas as pd
import pytest

from reserving import TriangleSet
from reserving.nightly.claims import LARGE_QUANTILE, ClaimColumns, ClaimsError, read_claims
from reserving.nightly.synthetic import generate_claims

HEADER = "consortium,service,incurred_date,paid_date,amount,claim_id,patient_id\n"


def _write(tmp_path, rows, name="claims.csv"):
    path = tmp_path / name
    path.write_text(HEADER + "".join(r + "\n" for r in rows))
    return path


GOOD = [
    "A,er,2024-01-05,2024-01-20,100,1,PT900000001",
    "A,er,2024-01-10,2024-02-03,50,2,PT900000002",
    "A,er,2024-02-07,2024-02-21,70,3,PT900000003",
    "B,op,2024-01-15,2024-02-15,30,4,PT900000004",
    "B,op,2024-02-15,2024-02-16,-5,5,PT900000005",
]


def test_every_reject_reason_names_file_and_line_and_never_the_patient(tmp_path):
    bad = [
        ",er,2024-01-05,2024-01-20,1,10,PT900000010",       # line 7: empty consortium
        "A,er,2024-13-01,2024-01-20,1,11,PT900000011",      # 8: bad incurred date
        "A,er,2024-01-05,,1,12,PT900000012",                # 9: empty paid date
        "A,er,2024-01-05,2024-01-20,12x,13,PT900000013",    # 10: bad amount
        "A,er,2024-01-05,2024-01-20,inf,14,PT900000014",    # 11: infinite amount
        "A,er,2024-01-20,2024-01-05,1,15,PT900000015",      # 12: paid before incurred
        "A,er,2024-03-05,2024-03-20,1,16,PT900000016",      # 13: incurred after as-of
        "A,er,2024-02-05,2024-03-20,1,17,PT900000017",      # 14: paid after as-of
        "A,er,2024-01-05,2024-01-20,1,1,PT900000018",       # 15: duplicate of line 2
        "Z,er,2024-01-05,2024-01-20,1,19,PT900000019",      # 16: unknown segment
    ]
    path = _write(tmp_path, GOOD + bad)
    rejects_file = tmp_path / "rejects.csv"
    claims = read_claims(path, as_of="2024-02-29", known_segments=pd.DataFrame({"consortium": ["A", "B"]}),
                         rejects_path=rejects_file)
    r = claims.rejects
    assert r["line"].tolist() == list(range(7, 17))
    assert (r["file"] == str(path)).all()
    expected = [
        "consortium is empty",
        "incurred_date is not a date in YYYY-MM-DD (for DD/MM/YYYY give --dayfirst)",
        "paid_date is empty",
        "amount is not a number with decimal '.' and no thousands separator (see --decimal and --thousands)",
        "amount is not a number with decimal '.' and no thousands separator (see --decimal and --thousands)",
        "paid_date 2024-01-05 is before incurred_date 2024-01-20",
        "incurred_date 2024-03-05 is after the as-of date 2024-02-29",
        "paid_date 2024-03-20 is after the as-of date 2024-02-29",
        f"claim_id repeats line 2 of {path}",
        "segment is not in the known segments",
    ]
    assert r["reason"].tolist() == expected
    assert claims.lines_read == 15 and claims.lines_accepted == 5 and claims.lines_rejected == 10
    assert claims.reject_counts["lines"].sum() == 10
    text = rejects_file.read_text()
    assert "PT9000" not in text and "PT9000" not in r.to_string()
    assert pd.read_csv(rejects_file)["line"].tolist() == list(range(7, 17))


def test_buckets_match_the_pandas_triangle_builder(tmp_path):
    s = generate_claims(n_consortia=2, services=["emergency", "acute_inpatient"], n_months=12,
                        as_of="2024-06-30", lines_per_cell=20, seed=3)
    path = tmp_path / "claims.parquet"
    s.lines.to_parquet(path, index=False)
    claims = read_claims(path)
    ref = TriangleSet.from_frame(s.lines, "incurred_date", "paid_date", "amount",
                                 segments=["consortium", "service"], grain="M", valuation="2024-06-30")
    assert claims.as_of == pd.Timestamp("2024-06-30")
    assert list(claims.triangles.segments) == list(ref.segments)
    assert (claims.triangles.origins == ref.origins).all()
    np.testing.assert_allclose(claims.triangles.values, ref.values, rtol=1e-12, equal_nan=True)
    assert claims.lines_rejected == 0


def test_line_moments_are_the_accepted_lines_sums_and_sums_of_squares(tmp_path):
    """Per segment, by hand: A/er lines 100, 50, 70; B/op 30 and a recovery of -5 (squared: 25)."""
    claims = read_claims(_write(tmp_path, GOOD), as_of="2024-02-29")
    m = claims.line_moments
    assert list(m.index) == list(claims.triangles.segments) == [("A", "er"), ("B", "op")]
    assert m["lines"].tolist() == [3, 2]
    np.testing.assert_allclose(m["amount"], [220.0, 25.0], rtol=1e-15)
    np.testing.assert_allclose(m["amount_sq"], [100.0**2 + 50.0**2 + 70.0**2, 30.0**2 + 5.0**2], rtol=1e-15)
    early = read_claims(_write(tmp_path, GOOD), as_of="2024-01-31").line_moments   # later lines rejected
    assert list(early.index) == [("A", "er")] and early.iloc[0].tolist() == [1, 100.0, 100.0**2]


def test_large_lines_are_the_accepted_amounts_above_each_services_quantile():
    """Against numpy on the generated lines (``np.quantile``'s linear interpolation is DuckDB's
    ``quantile_cont``): the threshold per service to 1e-9, the amounts above it exactly, the total paid to
    1e-12; a rejected line (paid before incurred) with the largest amount of all is not among them."""
    s = generate_claims(n_consortia=3, services=["acute_inpatient", "emergency"], n_months=12, seed=5)
    bad = s.lines.iloc[[0]].assign(amount=1e9, paid_date=s.lines["incurred_date"].iloc[0] - pd.Timedelta(days=1),
                                   claim_id=-1)
    big = read_claims(pd.concat([s.lines, bad], ignore_index=True), as_of=s.as_of).large_lines
    for svc, g in s.lines.groupby("service"):
        x = g["amount"].to_numpy()
        thr = np.quantile(x, LARGE_QUANTILE)
        assert big.threshold[svc] == pytest.approx(thr, rel=1e-9), svc
        np.testing.assert_array_equal(big.amounts[svc], np.sort(x[x > thr]))
        assert big.paid[svc] == pytest.approx(x.sum(), rel=1e-12)
        assert len(big.amounts[svc]) >= 1


def test_attritional_triangles_are_the_lines_capped_at_their_services_threshold():
    """Against the pandas triangle builder on the lines capped by hand at ``np.quantile`` of their
    service's amounts (DuckDB's ``quantile_cont``), to 1e-9 relative: same segments, origins and NaNs."""
    s = generate_claims(n_consortia=2, services=["acute_inpatient", "emergency"], n_months=12, seed=5)
    claims = read_claims(s.lines, as_of=s.as_of)
    cap = s.lines.groupby("service")["amount"].transform(lambda x: np.quantile(x, LARGE_QUANTILE))
    capped = s.lines.assign(amount=np.minimum(s.lines["amount"], cap))
    assert (capped["amount"] < s.lines["amount"]).sum() >= 2                   # some lines are capped
    ref = TriangleSet.from_frame(capped, "incurred_date", "paid_date", "amount",
                                 segments=["consortium", "service"], grain="M", valuation=s.as_of)
    assert list(claims.attritional.segments) == list(claims.triangles.segments) == list(ref.segments)
    np.testing.assert_allclose(claims.attritional.values, ref.values, rtol=1e-9, equal_nan=True)


def test_real_zero_stays_zero_and_recoveries_are_accepted(tmp_path):
    claims = read_claims(_write(tmp_path, GOOD), as_of="2024-02-29")
    a = claims.triangles.values[0]
    b = claims.triangles.values[1]
    assert a.tolist()[0] == [100.0, 150.0]
    assert b[1, 0] == -5.0 and b[0].tolist() == [0.0, 30.0]


def test_parquet_row_numbers_and_duplicates_across_files(tmp_path):
    first = pd.DataFrame({"consortium": ["A", "A"], "service": ["er", "er"],
                          "incurred_date": pd.to_datetime(["2024-01-05", "2024-01-06"]),
                          "paid_date": pd.to_datetime(["2024-01-20", "2024-01-21"]), "amount": [1.0, 2.0],
                          "claim_id": [1, 2], "patient_id": ["PT1", "PT2"]})
    first.to_parquet(tmp_path / "a.parquet", index=False)
    first.assign(claim_id=[3, 1]).to_parquet(tmp_path / "b.parquet", index=False)
    claims = read_claims(str(tmp_path / "*.parquet"))
    assert claims.rejects[["file", "line"]].values.tolist() == [[str(tmp_path / "b.parquet"), 2]]
    assert claims.rejects["reason"].iloc[0] == f"claim_id repeats line 1 of {tmp_path / 'a.parquet'}"


def test_configurable_columns_and_optional_claim_id(tmp_path):
    frame = pd.DataFrame({"ccg": ["A"], "pod": ["er"], "dos": ["2024-01-05"], "paid": ["2024-01-09"], "cost": [9.0]})
    cols = ClaimColumns(consortium="ccg", service="pod", incurred_date="dos", paid_date="paid", amount="cost")
    claims = read_claims(frame, columns=cols)
    assert claims.triangles.values[0].tolist() == [[9.0]]
    assert list(claims.triangles.segments) == [("A", "er")]


def test_patient_id_column_cannot_be_a_segment():
    with pytest.raises(ClaimsError, match="patient id column"):
        ClaimColumns(service="patient_id").check()


def test_clear_errors(tmp_path):
    with pytest.raises(ClaimsError, match="not a month end"):
        read_claims(_write(tmp_path, GOOD), as_of="2024-02-15")
    with pytest.raises(ClaimsError, match=r"missing column\(s\) \['amount'\]"):
        read_claims(pd.DataFrame({"consortium": ["A"], "service": ["x"], "incurred_date": ["2024-01-01"],
                                  "paid_date": ["2024-01-01"]}))
    with pytest.raises(ClaimsError, match="no such file"):
        read_claims(tmp_path / "nothing.csv")
    with pytest.raises(ClaimsError, match="all rejected"):
        read_claims(_write(tmp_path, ["A,er,x,y,1,1,PT900000001"], "bad.csv"), as_of="2024-01-31")


def test_a_malformed_csv_line_is_rejected_without_quoting_it(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text(HEADER + "\n".join(GOOD) + "\nA,er,2024-01-05,2024-01-20,1,99,PT900000099,extra\n"
                    + GOOD[0].replace(",1,", ",98,") + "\n")
    claims = read_claims(path, as_of="2024-02-29", rejects_path=tmp_path / "rejects.csv")
    assert claims.rejects[["line", "reason"]].values.tolist() == [[7, "malformed line: more fields than the header"]]
    assert claims.lines_read == 7 and claims.lines_accepted == 6
    assert "PT900000099" not in (tmp_path / "rejects.csv").read_text()


def test_default_as_of_ignores_far_future_typos(tmp_path):
    claims = read_claims(_write(tmp_path, GOOD + ["A,er,2024-01-05,2099-01-20,1,50,PT900000050"]))
    assert claims.as_of == pd.Timestamp("2024-02-29")
    assert claims.rejects["reason"].tolist() == ["paid_date 2099-01-20 is after the as-of date 2024-02-29"]


def test_segment_with_only_rejected_lines_is_unusable(tmp_path):
    claims = read_claims(_write(tmp_path, GOOD + ["C,er,bad,2024-01-20,1,60,PT900000060"]), as_of="2024-02-29",
                         known_segments=pd.DataFrame({"consortium": ["A", "B", "C"]}))
    assert claims.unusable[["consortium", "service"]].values.tolist() == [["C", "er"]]
    assert "C" not in claims.triangles.segments.get_level_values(0)


def test_corrected_resend_of_a_rejected_line_is_not_a_duplicate(tmp_path):
    rows = GOOD + [
        "A,er,2024-1x-05,2024-01-20,8,40,PT900000040",      # line 7: bad date, claim 40 first seen
        "A,er,2024-01-05,2024-01-20,8,40,PT900000040",      # line 8: the corrected resend: accepted
        "A,er,2024-01-05,2024-01-20,8,40,PT900000040",      # line 9: a true repeat of line 8
    ]
    claims = read_claims(_write(tmp_path, rows), as_of="2024-02-29")
    assert claims.rejects["line"].tolist() == [7, 9]
    assert claims.rejects["reason"].tolist() == ["incurred_date is not a date in YYYY-MM-DD (for DD/MM/YYYY give "
                                                 "--dayfirst)",
                                                 f"claim_id repeats line 8 of {tmp_path / 'claims.csv'}"]
    assert claims.lines_accepted == 6
    assert claims.triangles.values[0][0].tolist() == [108.0, 158.0]


@pytest.mark.parametrize("today, expected", [
    ("2024-02-22", "2024-01-31"),   # February is still being paid: value January
    ("2024-02-29", "2024-01-31"),   # the last day itself is still running
    ("2024-03-01", "2024-02-29"),   # February is complete
])
def test_default_as_of_is_the_last_complete_month_end(tmp_path, today, expected):
    rows = GOOD + ["A,er,2024-02-08,2024-02-21,4,41,PT900000041"]
    claims = read_claims(_write(tmp_path, rows), today=today)
    assert claims.as_of == pd.Timestamp(expected)
    # the same date given explicitly is accepted, and the default never picks one that would be refused
    assert read_claims(_write(tmp_path, rows), as_of=claims.as_of).as_of == claims.as_of


def test_default_as_of_keeps_a_month_paid_up_to_its_last_day(tmp_path):
    rows = GOOD + ["A,er,2024-02-08,2024-02-29,4,41,PT900000041"]
    assert read_claims(_write(tmp_path, rows), today="2024-02-29").as_of == pd.Timestamp("2024-02-29")


def test_default_as_of_ignores_paid_dates_after_today(tmp_path):
    claims = read_claims(_write(tmp_path, GOOD), today="2024-02-10")
    assert claims.as_of == pd.Timestamp("2024-01-31")
    assert set(claims.rejects["reason"].str.extract(r"^(\w+ \S+) is after")[0]) == {
        "paid_date 2024-02-03", "incurred_date 2024-02-07", "paid_date 2024-02-15", "incurred_date 2024-02-15"}


def test_rejects_file_is_safe_to_open_in_a_spreadsheet(tmp_path):
    path = _write(tmp_path, GOOD + ["=HYPERLINK(1),er,2024-01-05,x,1,20,PT900000020"])
    rejects = tmp_path / "rejects.csv"
    read_claims(path, as_of="2024-02-29", known_segments=pd.DataFrame({"consortium": ["A", "B", "=HYPERLINK(1)"]}),
                rejects_path=rejects)
    written = pd.read_csv(rejects)
    assert written["consortium"].tolist() == ["'=HYPERLINK(1)"] and written["line"].tolist() == [7]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
