"""Bad input to the reserving readers and the nightly command line (issue 15).

Every case ends in a named error (a ``ReservingError``; status 1 and one line on stderr from the
command line) or in a correct result: never a traceback, never a silently wrong number, and never
a patient id in an output, a log or an error.
"""

import io
import json
import re
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _kit.errors import EngineError
from _kit.parse import AmountFormat
from reserving import TriangleSet
from reserving.cli import main
from reserving.errors import TriangleError
from reserving.nightly import history
from reserving.nightly.claims import ClaimsError, read_claims
from reserving.nightly.synthetic import generate_claims

HEADER = "consortium,service,incurred_date,paid_date,amount,claim_id,patient_id"
GOOD = [
    "A,er,2024-01-05,2024-01-20,100,1,SECRETID-0001",
    "A,er,2024-01-10,2024-02-03,50,2,SECRETID-0002",
    "A,er,2024-02-07,2024-02-21,70,3,SECRETID-0003",
    "B,op,2024-01-15,2024-02-15,30,4,SECRETID-0004",
    "B,op,2024-02-15,2024-02-16,-5,5,SECRETID-0005",
]
TOTAL = 245.0
AS_OF = "2024-02-29"


def _file(tmp_path, rows, name="claims.csv", header=HEADER):
    path = tmp_path / name
    path.write_bytes((header + "\n" + "\n".join(rows) + "\n").encode("utf-8") if isinstance(rows[0], str)
                     else header.encode() + b"\n" + b"\n".join(rows) + b"\n")
    return path


def _total(claims):
    return float(np.nansum(claims.triangles.latest))


def _with(field: int, value: str, line: str = "A,er,2024-01-12,2024-01-25,9,6,SECRETID-0006") -> str:
    parts = line.split(",")
    parts[field] = value
    return ",".join(parts)


# ---------------------------------------------------------------- amounts: strict unless told
BAD_AMOUNTS = ['"1,234.56"', '"12,5"', "1 234", "$12", "12 EUR", "--5", "1e", "0x10", "12.3.4", "inf", "-inf",
               "nan", "1e300", "-2e15", "twelve", "١٢", "1_000", "(12)", "12-", "+-3"]


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
def test_an_amount_that_is_not_a_plain_number_is_rejected_by_line_without_its_value(tmp_path, amount):
    claims = read_claims(_file(tmp_path, GOOD + [_with(4, amount)]), as_of=AS_OF)
    assert claims.rejects["line"].tolist() == [7]
    reason = claims.rejects["reason"].iloc[0]
    assert reason.startswith("amount ") and amount.strip('"') not in reason
    assert _total(claims) == TOTAL


@pytest.mark.parametrize("amount, fmt, value", [
    ('"1,234.56"', AmountFormat(thousands=","), 1234.56),
    ('"1.234,56"', AmountFormat(decimal=",", thousands="."), 1234.56),
    ('"12,5"', AmountFormat(decimal=","), 12.5),
    ("1 234.5", AmountFormat(thousands=" "), 1234.5),
    ("1'234", AmountFormat(thousands="'"), 1234.0),
    ("1234.5", AmountFormat(thousands=","), 1234.5),
    ("-7", AmountFormat(decimal=","), -7.0),
])
def test_stated_separators_are_parsed(tmp_path, amount, fmt, value):
    claims = read_claims(_file(tmp_path, GOOD + [_with(4, amount)]), as_of=AS_OF, amount_format=fmt)
    assert claims.lines_rejected == 0 and _total(claims) == pytest.approx(TOTAL + value)


@pytest.mark.parametrize("amount, fmt", [('"12,34"', AmountFormat(thousands=",")),     # not a group of three
                                         ('"1.234.5"', AmountFormat(decimal=",", thousands="."))])
def test_misgrouped_thousands_are_rejected(tmp_path, amount, fmt):
    assert read_claims(_file(tmp_path, GOOD + [_with(4, amount)]), as_of=AS_OF,
                       amount_format=fmt).rejects["line"].tolist() == [7]


@pytest.mark.parametrize("decimal, thousands", [(";", None), (".", "."), (".", "x")])
def test_impossible_separators_are_a_named_error(decimal, thousands):
    with pytest.raises(EngineError, match="separator"):
        AmountFormat(decimal, thousands)


# ---------------------------------------------------------------- dates: one parser, never mm/dd
BAD_DATES = ["2024-02-30", "2024/01/05", "20240105", "5 Jan 2024", "2024-1-5", "01/25/2024", "13/13/2024",
             "2024-01", "2024", "yesterday", "05-01-2024", "05/01/24"]


@pytest.mark.parametrize("date", BAD_DATES)
@pytest.mark.parametrize("dayfirst", [False, True])
def test_a_date_in_another_form_is_rejected(tmp_path, date, dayfirst):
    claims = read_claims(_file(tmp_path, GOOD + [_with(2, date)]), as_of=AS_OF, dayfirst=dayfirst)
    assert claims.rejects["line"].tolist() == [7]
    assert claims.rejects["reason"].iloc[0].startswith("incurred_date is not a date in YYYY-MM-DD")


def test_dayfirst_reads_english_dates_and_both_readers_agree(tmp_path):
    rows = ["A,er,05/01/2024,20/01/2024,100,1,SECRETID-1", "A,er,10/01/2024,03/02/2024,50,2,SECRETID-2",
            "A,er,07/02/2024,21/02/2024,70,3,SECRETID-3"]
    path = _file(tmp_path, rows)
    with pytest.raises(ClaimsError, match="all rejected"):
        read_claims(path, as_of=AS_OF)
    claims = read_claims(path, as_of=AS_OF, dayfirst=True)
    frame = pd.read_csv(path, dtype=str)
    with pytest.raises(TriangleError, match="row 1: incurred_date is not a date"):
        TriangleSet.from_frame(frame, "incurred_date", "paid_date", "amount", segments=["consortium", "service"])
    ref = TriangleSet.from_frame(frame, "incurred_date", "paid_date", "amount", segments=["consortium", "service"],
                                 dayfirst=True, valuation=AS_OF)
    np.testing.assert_array_equal(claims.triangles.values, ref.values)
    np.testing.assert_array_equal(claims.triangles.values[0], [[100.0, 150.0], [70.0, np.nan]])


# ---------------------------------------------------------------- malformed lines go to rejects
@pytest.mark.parametrize("line, reason", [
    (b"A,er,2024-01-05,2024-01-20,1,7,SECRETID-7,extra", "more fields than the header"),
    (b"A,er,2024-01-05,2024-01-20,1,7", "fewer fields than the header"),
    (b"A,\xe9r,2024-01-05,2024-01-20,1,7,SECRETID-7", "not UTF-8"),
    (b"A,er,2024-01-05,2024-01-20,1,234.5,7,SECRETID-7", "more fields than the header"),
])
def test_a_malformed_line_is_rejected_and_the_rest_is_read(tmp_path, line, reason):
    rows = [r.encode() for r in GOOD]
    path = _file(tmp_path, rows[:2] + [line] + rows[2:])
    out = tmp_path / "rejects.csv"
    claims = read_claims(path, as_of=AS_OF, rejects_path=out)
    assert claims.rejects["line"].tolist() == [4] and reason in claims.rejects["reason"].iloc[0]
    assert claims.lines_read == 6 and _total(claims) == TOTAL
    assert "SECRETID" not in out.read_text()


def test_a_stray_byte_in_the_patient_id_column_is_not_read(tmp_path):
    rows = [r.encode() for r in GOOD] + [b"A,er,2024-01-05,2024-01-20,1,7,SECRETID-\xff7"]
    claims = read_claims(_file(tmp_path, rows), as_of=AS_OF)
    assert claims.lines_rejected == 0 and _total(claims) == TOTAL + 1


def test_line_numbers_count_the_skipped_malformed_lines(tmp_path):
    rows = [GOOD[0], GOOD[1] + ",x", GOOD[2], "A,er", "A,er,2024-01-05,2024-01-20,1,9,S,x,y", GOOD[3],
            _with(3, "bad")]
    claims = read_claims(_file(tmp_path, rows), as_of=AS_OF)
    assert claims.rejects["line"].tolist() == [3, 5, 6, 8]
    assert claims.rejects["reason"].iloc[-1].startswith("paid_date is not a date")


@pytest.mark.parametrize("content, match", [
    (b"", "empty"),
    (b"consortium,service\n", r"missing column\(s\)"),
    (b"\xff\xfeconsortium,service\n", "not UTF-8"),
])
def test_an_unreadable_file_is_a_named_error(tmp_path, content, match):
    path = tmp_path / "claims.csv"
    path.write_bytes(content)
    with pytest.raises(ClaimsError, match=match):
        read_claims(path, as_of=AS_OF)


# ---------------------------------------------------------------- privacy: shifted columns
def _shifted_claims(tmp_path):
    s = generate_claims(n_consortia=2, services=["emergency"], n_months=6, as_of="2024-06-30", lines_per_cell=8,
                        seed=2)
    lines = s.lines.assign(patient_id=[f"SECRETID-{i:05d}" for i in range(len(s.lines))])
    cols = ["patient_id", "consortium", "service", "incurred_date", "paid_date", "amount", "claim_id"]
    body = lines[cols].to_csv(index=False, header=False)
    # the header says one order, the lines are in another: every field is under the wrong name
    path = tmp_path / "shifted.csv"
    path.write_text(",".join(["consortium", "service", "incurred_date", "paid_date", "amount", "claim_id",
                              "patient_id"]) + "\n" + body)
    return path


def test_a_shifted_file_never_writes_a_patient_id(tmp_path, capsys):
    path = _shifted_claims(tmp_path)
    rejects = tmp_path / "rejects.csv"
    with pytest.raises(ClaimsError) as err:
        read_claims(path, rejects_path=rejects, known_segments=None)
    assert "SECRETID" not in str(err.value)
    status = main(["nightly", "--claims", str(path), "--out", str(tmp_path / "out"), "--sims", "10", "--quiet"])
    captured = capsys.readouterr()
    assert status == 1 and captured.err.startswith("error: ") and "Traceback" not in captured.err
    texts = [captured.out, captured.err] + [p.read_bytes().decode("latin-1") for p in tmp_path.rglob("*")
                                            if p.is_file() and p != path]
    assert not [t for t in texts if "SECRETID" in t]


# ---------------------------------------------------------------- from_frame
@pytest.mark.parametrize("key", [None, np.nan, "", "  "])
def test_from_frame_refuses_an_empty_segment_key(key):
    df = pd.DataFrame({"seg": ["a", "b", key], "inc": ["2024-01-05"] * 3, "paid": ["2024-01-20"] * 3,
                       "amount": [1.0, 2.0, 4.0]})
    with pytest.raises(TriangleError, match="row 3: segment column 'seg' is empty"):
        TriangleSet.from_frame(df, "inc", "paid", "amount", segments=["seg"])


@pytest.mark.parametrize("column, value, match", [
    ("amount", "1,234.56", "not a number"), ("amount", 1e300, "beyond 1e"), ("amount", "n/a", "not a number"),
    ("inc", "05/01/2024", "not a date"), ("paid", "2024-13-01", "not a date"), ("paid", None, "not a date"),
])
def test_from_frame_names_the_row_and_never_the_value(column, value, match):
    df = pd.DataFrame({"inc": ["2024-01-05"] * 2, "paid": ["2024-01-20"] * 2, "amount": [1.0, 2.0]}, dtype=object)
    df.loc[1, column] = value
    with pytest.raises(TriangleError, match=f"row 2: .*{match}") as err:
        TriangleSet.from_frame(df, "inc", "paid", "amount")
    assert str(value) not in str(err.value).split(":", 1)[1] or value is None


def test_from_file_with_thousands_separators(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('inc,paid,amount\n2024-01-05,2024-01-20,"1,234.5"\n')
    with pytest.raises(TriangleError, match="row 1: amount in column 'amount' is not a number"):
        TriangleSet.from_file(path, "inc", "paid", "amount")
    tri = TriangleSet.from_file(path, "inc", "paid", "amount", amount_format=AmountFormat(thousands=","))
    assert tri.values[0].tolist() == [[1234.5]]


# ---------------------------------------------------------------- hypothesis: random corruptions
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(line=st.integers(0, len(GOOD) - 1), field=st.integers(0, 6),
       text=st.text(st.characters(blacklist_characters='"\n\r', blacklist_categories=["Cs"]), max_size=12))
def test_a_random_corruption_is_rejected_or_read_correctly(tmp_path, line, field, text):
    rows = list(GOOD)
    parts = rows[line].split(",")
    original = parts[field]
    parts[field] = text
    rows[line] = ",".join(parts)
    try:
        claims = read_claims(_file(tmp_path, rows), as_of=AS_OF, rejects_path=tmp_path / "r.csv")
    except ClaimsError as exc:
        assert "SECRETID" not in str(exc)
        return
    assert claims.lines_read == len(GOOD)     # no line lost
    assert "SECRETID" not in (tmp_path / "r.csv").read_text()
    if claims.lines_rejected:
        assert claims.lines_rejected == 1 and claims.rejects["line"].tolist() == [line + 2]
        assert _total(claims) == pytest.approx(TOTAL - float(GOOD[line].split(",")[4]))
    elif field == 4:
        assert _total(claims) == pytest.approx(TOTAL - float(original) + float(text))
    else:
        assert _total(claims) == pytest.approx(TOTAL)


def test_a_quote_that_never_closes_rejects_every_line_it_swallows(tmp_path):
    """DuckDB reads the rest of the file into the open quote; those lines are counted and rejected."""
    rows = list(GOOD)
    rows[3] = '"' + rows[3]
    claims = read_claims(_file(tmp_path, rows + ["", ""]), as_of=AS_OF, rejects_path=tmp_path / "r.csv")
    assert claims.lines_read == len(GOOD)  # blank lines are not lines; no line lost
    assert claims.rejects["line"].tolist() == [5, 6]
    assert _total(claims) == pytest.approx(220.0)
    assert "SECRETID" not in (tmp_path / "r.csv").read_text()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(line=st.integers(0, len(GOOD) - 1), at=st.integers(0, 60))
def test_a_stray_quote_anywhere_loses_no_line(tmp_path, line, at):
    rows = list(GOOD)
    at = min(at, len(rows[line]))
    rows[line] = rows[line][:at] + '"' + rows[line][at:]
    try:
        claims = read_claims(_file(tmp_path, rows), as_of=AS_OF, rejects_path=tmp_path / "r.csv")
    except ClaimsError as exc:  # e.g. every line swallowed, or nothing left paid in the as-of month
        assert "SECRETID" not in str(exc)
        return
    assert claims.lines_read == len(GOOD)
    rejected = set(claims.rejects["line"])
    kept = [r for i, r in enumerate(GOOD) if i + 2 not in rejected]
    assert _total(claims) == pytest.approx(sum(float(r.split(",")[4]) for r in kept))
    assert "SECRETID" not in (tmp_path / "r.csv").read_text()


# ---------------------------------------------------------------- the nightly command line
@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A small valid claims file with budget and members, and a completed run's output folder."""
    d = tmp_path_factory.mktemp("small")
    s = generate_claims(n_consortia=2, services=["emergency", "community"], n_months=8, as_of="2024-08-31",
                        lines_per_cell=6, seed=4)
    s.lines.to_csv(d / "claims.csv", index=False)
    s.budget.to_csv(d / "budget.csv", index=False)
    s.lines[["consortium", "service"]].drop_duplicates().to_csv(d / "known.csv", index=False)
    return d, s


def _run(d, *extra, claims=None, out="out"):
    args = ["nightly", "--claims", str(claims or d / "claims.csv"), "--out", str(d / out), "--sims", "20",
            "--quiet", "--as-of", "2024-08-31", *extra]
    return main(args)


def _one_line_error(capsys, *fragments):
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err, err
    for f in fragments:
        assert f in err, err
    return err


def test_a_valid_run_exits_0(small, capsys):
    d, _ = small
    assert _run(d, "--budget", str(d / "budget.csv"), out="ok") == 0
    summary = json.loads((d / "ok" / "summary.json").read_text())
    assert history.has_run(d / "ok" / "history.duckdb", summary["run_id"])


@pytest.mark.parametrize("edit, fragments", [
    (lambda b: b.assign(budget=b["budget"].astype(object).where(b.index != 3, "n/a")), ["line 5", "'budget'"]),
    (lambda b: b.assign(budget=b["budget"].astype(object).where(b.index != 0, "twelve")), ["line 2", "not a number"]),
    (lambda b: b.assign(budget=b["budget"].where(b.index != 2, -5.0)), ["line 4", "below 0"]),
    (lambda b: b.assign(month=b["month"].astype(str).where(b.index != 1, "2024/01")), ["line 3", "YYYY-MM"]),
    (lambda b: b.assign(month=b["month"].astype(str).where(b.index != 0, "Jan 2024")), ["line 2", "YYYY-MM"]),
    (lambda b: b.assign(month=b["month"].astype(str).where(b.index != 0, "2024-13")), ["line 2", "YYYY-MM"]),
    (lambda b: b.drop(columns="budget"), ["missing column(s) 'budget'"]),
    (lambda b: b.assign(budget=b["budget"].where(b.index != 0, 1e300)), ["beyond 1e15"]),
])
def test_a_bad_budget_is_a_named_error(small, capsys, tmp_path, edit, fragments):
    d, s = small
    path = tmp_path / "budget.csv"
    edit(s.budget).to_csv(path, index=False)
    assert _run(d, "--budget", str(path), out=tmp_path.name) == 1
    _one_line_error(capsys, str(path), *fragments)
    assert not (d / tmp_path.name / "summary.json").exists()


def test_budget_amounts_follow_the_stated_separators(small, capsys, tmp_path):
    """A finance export's budget written "1,234,567.00" is refused by default and read with --thousands."""
    d, s = small
    path = tmp_path / "budget.csv"
    s.budget.assign(budget=s.budget["budget"].map("{:,.2f}".format)).to_csv(path, index=False)
    assert _run(d, "--budget", str(path), out=tmp_path.name) == 1
    _one_line_error(capsys, str(path), "'budget'", "not a number")
    assert _run(d, "--budget", str(path), "--thousands", ",", out="thousands") == 0
    assert _run(d, "--budget", str(d / "budget.csv"), out="plain") == 0
    ours = pd.read_csv(d / "thousands" / "outturn.csv")
    plain = pd.read_csv(d / "plain" / "outturn.csv")
    pd.testing.assert_series_equal(ours["budget"], plain["budget"], rtol=1e-12)


@pytest.mark.parametrize("extra, fragments", [
    (["--db", "history.csv"], ["DuckDB"]),
    (["--max-rejected", "2"], ["at most 1"]),
    (["--max-rejected", "-0.1"], ["at least 0"]),
    (["--min-segment-lines", "0"], ["at least 1"]),
    (["--sims", "0"], ["at least 1"]),
    (["--decimal", ",", "--thousands", ","], ["both ','"]),
    (["--as-of", "2031-12-31"], ["after the latest paid date"]),
    (["--as-of", "2024-08-15"], ["not a month end"]),
    (["--as-of", "31/08/2024"], ["not a date in YYYY-MM-DD"]),
    (["--as-of", "08/31/2024", "--dayfirst"], ["not a date in YYYY-MM-DD or DD/MM/YYYY"]),
    (["--as-of", "soon"], ["not a date"]),
])
def test_a_bad_option_is_a_named_error(small, capsys, extra, fragments):
    d, _ = small
    assert _run(d, *extra, out="bad-option") == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip(), err
    for f in fragments:
        assert f in err, err


@pytest.mark.parametrize("extra", [["--decimal", ";"], ["--thousands", "x"], ["--sims", "many"], ["--bogus"]])
def test_a_usage_error_exits_1(small, capsys, extra):
    d, _ = small
    with pytest.raises(SystemExit) as exit_:
        _run(d, *extra, out="usage")
    assert exit_.value.code == 1 and "error:" in capsys.readouterr().err


def test_db_that_is_not_duckdb_is_refused_before_any_work(small, capsys, tmp_path):
    d, _ = small
    fake = tmp_path / "history.duckdb"
    fake.write_text("run_id,as_of\n")
    assert _run(d, "--db", str(fake), out="fake-db") == 1
    _one_line_error(capsys, "not a DuckDB database")
    assert fake.read_text() == "run_id,as_of\n"


def test_a_locked_history_is_waited_for_then_named(small, capsys, monkeypatch, tmp_path):
    d, _ = small
    db = tmp_path / "h.duckdb"
    history.load_runs(db)
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import duckdb, sys, time
        con = duckdb.connect({str(db)!r}); print("held", flush=True); time.sleep(30)""")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        monkeypatch.setattr(history, "LOCK_TIMEOUT", 0.5)
        assert _run(d, "--db", str(db), out="locked") == 1
        _one_line_error(capsys, "in use by another process", "nothing was published")
    finally:
        holder.kill()
        holder.wait()
    assert not (d / "locked" / "summary.json").exists()


def _edited(d, tmp_path, edit):
    lines = pd.read_csv(d / "claims.csv", dtype=str)
    path = tmp_path / "claims.csv"
    edit(lines).to_csv(path, index=False)
    return path


def test_thousands_separators_fail_the_run_unless_stated(small, capsys, tmp_path):
    d, s = small
    path = _edited(d, tmp_path, lambda x: x.assign(amount=[f"{float(a):,.2f}" for a in x["amount"]]))
    assert _run(d, claims=path, out="thousands-strict") == 1
    _one_line_error(capsys, "rejected, more than the 1.0% allowed", "thousands")
    assert not (d / "thousands-strict" / "summary.json").exists()
    assert _run(d, "--thousands", ",", "--budget", str(d / "budget.csv"), claims=path, out="thousands") == 0
    ok = pd.read_csv(d / "ok" / "estimates.csv")
    got = pd.read_csv(d / "thousands" / "estimates.csv")
    np.testing.assert_allclose(got["ultimate"], ok["ultimate"])


def test_dayfirst_dates_give_the_same_run(small, capsys, tmp_path):
    d, s = small
    english = lambda c: pd.to_datetime(c).dt.strftime("%d/%m/%Y")  # noqa: E731
    path = _edited(d, tmp_path, lambda x: x.assign(incurred_date=english(x["incurred_date"]),
                                                   paid_date=english(x["paid_date"])))
    assert _run(d, claims=path, out="english-strict") == 1
    _one_line_error(capsys, "--dayfirst")
    assert _run(d, "--dayfirst", "--budget", str(d / "budget.csv"), claims=path, out="english") == 0
    np.testing.assert_allclose(pd.read_csv(d / "english" / "estimates.csv")["ultimate"],
                               pd.read_csv(d / "ok" / "estimates.csv")["ultimate"])


def test_all_negative_amounts_fail(small, capsys, tmp_path):
    d, _ = small
    path = _edited(d, tmp_path, lambda x: x.assign(amount=(-x["amount"].astype(float).abs()).astype(str)))
    assert _run(d, claims=path, out="negative") == 1
    _one_line_error(capsys, "signs reversed")


def test_an_amount_of_1e300_is_rejected_not_summed(small, capsys, tmp_path):
    d, _ = small
    path = _edited(d, tmp_path, lambda x: x.assign(amount=x["amount"].where(x.index != 3, "1e300")))
    assert _run(d, claims=path, out="huge") == 0
    rejects = pd.read_csv(d / "huge" / "rejects.csv")
    assert rejects["reason"].str.contains("beyond 1e").sum() == 1
    assert pd.read_csv(d / "huge" / "estimates.csv")["ultimate"].max() < 1e12


def test_two_stray_lines_are_rejected_not_a_phantom_segment(small, capsys, tmp_path):
    d, _ = small
    stray = pd.DataFrame({"consortium": ["C999", "C999"], "service": ["emergency"] * 2,
                          "incurred_date": ["2024-03-01", "2024-04-01"], "paid_date": ["2024-03-05", "2024-04-09"],
                          "amount": ["10", "12"], "claim_id": ["9000001", "9000002"], "patient_id": ["x", "y"]})
    path = _edited(d, tmp_path, lambda x: pd.concat([x, stray], ignore_index=True))
    assert _run(d, "--max-rejected", "0.02", claims=path, out="stray") == 0   # 2 of 153 lines
    est = pd.read_csv(d / "stray" / "estimates.csv")
    assert "C999" not in set(est["consortium"])
    rejects = pd.read_csv(d / "stray" / "rejects.csv")
    assert rejects["reason"].str.contains("fewer than 10").sum() == 2
    assert "C999" not in (d / "stray" / "rejects.csv").read_text()


def test_a_known_segment_that_disappears_fails_the_run(small, capsys, tmp_path):
    d, _ = small
    path = _edited(d, tmp_path, lambda x: x[x["consortium"] != "C002"])
    assert _run(d, "--known-segments", str(d / "known.csv"), claims=path, out="gone") == 1
    _one_line_error(capsys, "known segment(s) have no claim line at all", "C002")


def test_more_than_the_allowed_share_rejected_fails_and_publishes_nothing(small, capsys, tmp_path):
    d, _ = small
    path = _edited(d, tmp_path, lambda x: x.assign(paid_date=x["paid_date"].where(x.index % 20 != 0, "soon")))
    assert _run(d, claims=path, out="share") == 1
    _one_line_error(capsys, "--max-rejected")
    assert not (d / "share").exists() or not list((d / "share").glob("*.csv"))
    assert _run(d, "--max-rejected", "0.1", claims=path, out="share") == 0


def test_every_csv_output_is_safe_to_open_in_a_spreadsheet(small, capsys, tmp_path):
    d, _ = small
    path = _edited(d, tmp_path, lambda x: x.assign(consortium=x["consortium"].str.replace("C00", "=C00")))
    assert _run(d, claims=path, out="formula") == 0
    for csv in (d / "formula").glob("*.csv"):
        text = csv.read_text()
        assert not re.search(r"(^|,)=C00", text, re.M), csv.name
    assert "'=C001" in (d / "formula" / "estimates.csv").read_text()


def test_a_missing_or_empty_claims_file(small, capsys, tmp_path):
    d, _ = small
    assert _run(d, claims=tmp_path / "none.csv", out="none") == 1
    _one_line_error(capsys, "no such file")
    (tmp_path / "empty.csv").write_text("")
    assert _run(d, claims=tmp_path / "empty.csv", out="none") == 1
    _one_line_error(capsys, "empty")


def test_read_claims_from_a_frame_with_an_io_object_is_a_named_error():
    with pytest.raises(ClaimsError):
        read_claims(io.StringIO(HEADER))
