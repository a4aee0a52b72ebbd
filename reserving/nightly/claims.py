"""Read claim lines, reject what cannot be used, and bucket the rest into monthly triangles.

Claim lines come from CSV or Parquet files (one file, a directory of them, or a glob) or a
DataFrame. Everything runs in DuckDB SQL, streaming over the files: validation, the duplicate
check and the bucketing into (segment, incurred month, payment lag) cells; only the cells and the
rejected lines come back to Python. Tens of millions of lines fit in bounded memory.

Only the named columns are read. The patient id column is never read, so patient identifiers
cannot reach a rejects file, a log or a report.

A line is rejected, with its file, line number and one reason, when (checked in this order):

0. it is not a well-formed CSV line (more or fewer fields than the header, a stray quote, a byte
   that is not UTF-8), or it was read into a quoted value opened on an earlier line (a quote that
   never closes swallows the rest of the file: the non-blank physical lines DuckDB did not return
   are counted and rejected, so none is lost silently; a legitimate value spanning lines counts
   its extra lines this way too);
1. a segment value (consortium, service) is empty;
2. its segment is not in ``known_segments`` (when given);
3. the incurred date or the paid date is empty or not a date in an accepted form (``YYYY-MM-DD``;
   ``DD/MM/YYYY`` with ``dayfirst``; see :mod:`_kit.parse`, shared with ``TriangleSet.from_frame``);
4. the amount is empty, not a number in the stated :class:`~_kit.parse.AmountFormat` (by default
   ``1,234.56`` is not a number), infinite, or beyond 1e15 in size;
5. the paid date is before the incurred date;
6. the incurred date or the paid date is after the as-of date;
7. its claim id was already seen on an earlier line that passed checks 1-6 (the first such line
   is kept, so a corrected resend of a rejected line is accepted);
8. without ``known_segments``: its segment has fewer than ``min_segment_lines`` lines that pass
   checks 1-7 (two stray lines do not make a segment).

A reason names the column and never quotes the raw field: in a file whose columns are shifted, the
field under ``amount`` may be a patient id. For the same reason a rejected line's segment values
are written only for a segment that is known or has accepted lines; otherwise they are left empty.

Line numbers are 1-based lines of a CSV file (the header is line 1, so the first data row is
line 2), or 1-based row numbers of a Parquet file or a DataFrame.
"""

from __future__ import annotations

import csv
import glob
import gzip
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from _kit.parse import MAX_AMOUNT, AmountFormat, date_expected, parse_dates, sql_amount, sql_date
from _kit.publish import excel_safe, write_atomic
from reserving.errors import ReservingError
from reserving.triangle import TriangleSet

#: Rejected lines kept in memory on :class:`Claims`; all of them go to ``rejects_path``.
MAX_REJECTS_IN_MEMORY = 10_000
_POS_SHIFT = 2**40
#: Lines of a service above this quantile of its accepted amounts are its large claims (:class:`LargeLines`).
LARGE_QUANTILE = 0.995
_REJECT_BATCH = 100_000
#: Why DuckDB could not read a CSV line, in words (its own message quotes the line).
_MALFORMED = {
    "TOO MANY COLUMNS": "malformed line: more fields than the header",
    "MISSING COLUMNS": "malformed line: fewer fields than the header",
    "UNQUOTED VALUE": "malformed line: a quote inside an unquoted field",
    "INVALID ENCODING": "malformed line: a byte that is not UTF-8 text",
    "INVALID UNICODE": "malformed line: a byte that is not UTF-8 text",
    "LINE SIZE OVER MAXIMUM": "malformed line: longer than the maximum line size",
}


class ClaimsError(ReservingError):
    """Claim lines cannot be read at all (missing file or column, bad as-of date, nothing usable)."""


@dataclass(frozen=True)
class ClaimColumns:
    """Names of the input columns (all configurable).

    ``patient_id`` is named only so that it is refused as a segment or claim id column:
    it is never read.
    """

    consortium: str = "consortium"
    service: str = "service"
    incurred_date: str = "incurred_date"
    paid_date: str = "paid_date"
    amount: str = "amount"
    claim_id: str | None = "claim_id"
    patient_id: str | None = "patient_id"

    @property
    def segments(self) -> tuple[str, str]:
        return (self.consortium, self.service)

    def check(self) -> None:
        used = [self.consortium, self.service, self.incurred_date, self.paid_date, self.amount, self.claim_id]
        if self.patient_id is not None and self.patient_id in used:
            raise ClaimsError(
                "this is the patient id column and cannot be used as a segment, date, amount or claim id: "
                "patient identifiers must never reach an output", column=self.patient_id,
            )
        named = [c for c in used if c is not None]
        if len(set(named)) != len(named):
            raise ClaimsError(f"the same column is named twice in {named}")


@dataclass(frozen=True)
class LargeLines:
    """A service's largest lines: those above the :data:`LARGE_QUANTILE` of its accepted amounts.

    Amounts only, no line or claim identifier: the ranges simulate the large claims still to come
    as a compound Poisson sum of these amounts (:func:`reserving.nightly.ranges.large_claims`).

    Attributes
    ----------
    threshold : Series
        Per service, the quantile (currency; DuckDB's ``quantile_cont``, linear interpolation).
    amounts : dict of str to ndarray
        Per service, the amounts of its accepted lines above the threshold, ascending (currency).
    paid : Series
        Per service, the sum of all its accepted amounts (currency), so ``amounts[s].sum() / paid[s]``
        is the share of the service's payments that are large claims.
    """

    threshold: pd.Series
    amounts: dict
    paid: pd.Series


@dataclass(frozen=True)
class Claims:
    """Claim lines bucketed into triangles, and what was rejected.

    Attributes
    ----------
    triangles : TriangleSet
        Cumulative paid by segment (``consortium`` x ``service``), incurred month and payment lag,
        valued at the as-of month. Origins run from the first incurred month in the accepted lines.
    rejects : DataFrame
        The first :data:`MAX_REJECTS_IN_MEMORY` rejected lines: ``file``, ``line``, ``consortium``,
        ``service``, ``reason`` (never a patient id). All of them are in ``rejects_path`` if given.
    reject_counts : DataFrame
        ``consortium``, ``service``, ``reason``, ``lines``: every rejected line counted.
    unusable : DataFrame
        ``consortium``, ``service``, ``reason``: known segments that appear in the input but have
        no usable line. They are not in ``triangles``.
    lines_read, lines_accepted : int
    as_of : Timestamp
    spend_accepted, spend_rejected : float
        Sum of the absolute amounts of accepted and of rejected lines (currency). A rejected amount
        that is not a number counts by its digits (``"1,234.56"`` as 1234.56), one beyond 1e15 or
        not finite not at all; lines after the as-of date are not in ``spend_rejected``.
    lines_later : int
        Rejected lines dated after the as-of date: out of this valuation's scope, not faulty.
    line_moments : DataFrame
        Per segment (indexed as ``triangles.segments``) over its accepted lines: ``lines``,
        ``amount`` (sum) and ``amount_sq`` (sum of squared amounts), aggregated in the reader. Their
        ratio ``amount_sq / amount`` is the ODP scale of a compound Poisson process with the lines'
        severities (see :func:`reserving.nightly.ranges.line_scale`).
    large_lines : LargeLines
        Each service's largest accepted lines (amounts only), for the ranges' large claims.
    attritional : TriangleSet
        The triangles of the accepted amounts each capped at its service's large-claim threshold
        (:attr:`LargeLines.threshold`): the claims without their excess over it, same segments and
        origins as ``triangles`` (:mod:`reserving.nightly.large_claims`).
    """

    triangles: TriangleSet
    rejects: pd.DataFrame
    reject_counts: pd.DataFrame
    unusable: pd.DataFrame
    lines_read: int
    lines_accepted: int
    as_of: pd.Timestamp
    spend_accepted: float = 0.0
    spend_rejected: float = 0.0
    lines_later: int = 0
    line_moments: pd.DataFrame | None = None
    large_lines: LargeLines | None = None
    attritional: TriangleSet | None = None

    @property
    def lines_rejected(self) -> int:
        return self.lines_read - self.lines_accepted

    @property
    def share_rejected(self) -> tuple[float, float]:
        """(share of lines, share of spend) rejected as faulty, each in [0, 1]; lines after the
        as-of date are left out of both."""
        spend = self.spend_accepted + self.spend_rejected
        lines = self.lines_rejected - self.lines_later
        return (lines / max(self.lines_read - self.lines_later, 1), self.spend_rejected / spend if spend > 0 else 0.0)


def read_claims(
    source,
    as_of=None,
    columns: ClaimColumns | None = None,
    known_segments: pd.DataFrame | None = None,
    rejects_path=None,
    memory_limit: str = "2GB",
    threads: int | None = None,
    today=None,
    dayfirst: bool = False,
    amount_format: AmountFormat | None = None,
    min_segment_lines: int = 1,
) -> Claims:
    """Read claim lines, validate them and bucket them into monthly paid triangles.

    Parameters
    ----------
    source : str, Path, list of paths or DataFrame
        A CSV or Parquet file, a directory of them, a glob (``"extract/*.parquet"``), a list of
        files, or a DataFrame.
    as_of : date-like, optional
        Valuation date, a month end. Default: the last complete month end of the paid dates
        (:func:`default_as_of`): paid dates after ``today`` are ignored (a typo such as 2099
        does not move the valuation), and a month still running today is not valued.
    columns : ClaimColumns, optional
        Input column names; default ``consortium``, ``service``, ``incurred_date``, ``paid_date``,
        ``amount``, ``claim_id`` (the claim id column is optional in the input).
    known_segments : DataFrame, optional
        The segments expected, with one or both of the segment columns (e.g. only ``consortium``).
        Lines whose segment is not listed are rejected.
    rejects_path : path, optional
        Write every rejected line here (CSV: file, line, consortium, service, reason), atomically.
    memory_limit : str
        DuckDB memory limit; it spills to a temporary directory beyond it.
    threads : int, optional
        DuckDB threads; default DuckDB's own.
    today : date-like, optional
        The date the default as-of date is chosen against; default the current date.
    dayfirst : bool
        Accept ``DD/MM/YYYY`` dates as well as ``YYYY-MM-DD``; ``MM/DD/YYYY`` is never accepted.
    amount_format : AmountFormat, optional
        Decimal and thousands separators of text amounts; default ``.`` and none (strict).
    min_segment_lines : int
        Without ``known_segments``, a segment needs this many usable lines; the lines of a smaller
        one are rejected (and its name is not written). Default 1 (no minimum).

    Returns
    -------
    Claims

    Examples
    --------
    >>> lines = pd.DataFrame({"consortium": ["A", "A", "A"], "service": ["er", "er", "er"],
    ...                       "incurred_date": ["2024-01-05", "2024-01-20", "2024-02-03"],
    ...                       "paid_date": ["2024-01-25", "2024-02-10", "2024-01-28"],
    ...                       "amount": ["10", "5", "7"], "claim_id": [1, 2, 3]})
    >>> claims = read_claims(lines, as_of="2024-02-29")
    >>> claims.triangles.values[0].tolist()
    [[10.0, 15.0], [0.0, nan]]
    >>> claims.rejects[["line", "reason"]].values.tolist()
    [[3, 'paid_date 2024-01-28 is before incurred_date 2024-02-03']]
    """
    columns = columns or ClaimColumns()
    columns.check()
    amount_format = amount_format or AmountFormat()
    if int(min_segment_lines) < 1:
        raise ClaimsError(f"min_segment_lines must be at least 1, not {min_segment_lines}")
    con = duckdb.connect(config={"memory_limit": memory_limit})
    con.execute("SET enable_progress_bar = false")
    if threads is not None:
        con.execute(f"SET threads = {int(threads)}")
    try:
        files, has_claim_id = _register_source(con, source, columns, dayfirst, amount_format)
        if as_of is None:
            as_of = _default_as_of(con, columns, today)
        else:
            as_of = as_of_date(as_of, dayfirst)
            _check_within_data(con, columns, as_of)
        as_of = _month_end(as_of)
        known_cols = _register_known(con, known_segments, columns)
        _create_checked_view(con, columns, as_of, known_cols, has_claim_id, dayfirst, amount_format,
                             1 if known_cols else int(min_segment_lines))
        rejects, counts, spend_rejected, lines_later = _rejects(con, rejects_path)
        cells = con.execute(
            f"""WITH accepted AS (
                    SELECT consortium, service, inc_m, paid_m - inc_m AS lag, amount,
                           quantile_cont(amount, {LARGE_QUANTILE}) OVER (PARTITION BY service) AS threshold
                    FROM checked WHERE reason IS NULL)
                SELECT consortium, service, inc_m, lag, sum(amount) AS amount, count(*) AS n,
                       sum(least(amount, threshold)) AS attritional,
                       sum(abs(amount)) AS gross, sum(amount * amount) AS amount_sq, any_value(threshold) AS threshold,
                       list(amount ORDER BY amount) FILTER (WHERE amount > threshold AND amount > 0) AS large
                FROM accepted GROUP BY ALL"""
        ).df()
    except duckdb.Error as exc:
        raise ClaimsError(_safe_message(exc), file=_describe(source)) from None
    finally:
        con.close()
    lines_accepted = int(cells["n"].sum()) if len(cells) else 0
    lines_read = lines_accepted + int(counts["lines"].sum())
    triangles = _triangles(cells, as_of)
    unusable = _unusable(counts, cells)
    if triangles is None:
        raise ClaimsError(
            f"no usable claim lines ({lines_read} read, all rejected); "
            f"reasons: {counts.groupby('reason')['lines'].sum().to_dict()}", file=_describe(source)
        )
    if cells["amount"].sum() <= 0:
        raise ClaimsError(f"the accepted amounts sum to {cells['amount'].sum():,.2f}: paid claims are positive "
                          "(recoveries only offset them). Are the signs reversed?", column=columns.amount,
                          file=_describe(source))
    return Claims(triangles, rejects, counts, unusable, int(lines_read), lines_accepted, as_of,
                  float(cells["gross"].sum()), spend_rejected, lines_later, _line_moments(cells, triangles),
                  _large_lines(cells), _triangles(cells, as_of, "attritional"))


def _safe_message(exc: Exception) -> str:
    """DuckDB's first line only: its later lines quote the offending input line, patient id and all."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"cannot read the claim lines: {first}. Fix the file (e.g. quote fields with commas)."


def _describe(source) -> str:
    return "DataFrame" if isinstance(source, pd.DataFrame) else str(source)


def _files(source) -> list[Path]:
    if isinstance(source, (list, tuple)):
        return [Path(p) for p in source]
    path = Path(source)
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.suffix.lower() in {".csv", ".parquet", ".pq", ".gz"})
    elif path.exists():
        found = [path]
    else:
        found = [Path(p) for p in sorted(glob.glob(str(source)))]
    if not found:
        raise ClaimsError("no such file, or no CSV/Parquet files there", file=source)
    return found


def _quoted(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _header(path: Path) -> list[str]:
    """The column names on the first line of a CSV file (gzip-compressed if it ends in ``.gz``)."""
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    try:
        with opener(path, "rb") as f:
            return next(csv.reader([f.readline().decode("utf-8").lstrip("\ufeff")]), [])
    except UnicodeDecodeError:
        raise ClaimsError("the header line is not UTF-8 text; save the file as UTF-8 CSV", file=path, line=1) from None
    except (OSError, EOFError, csv.Error) as exc:
        raise ClaimsError(f"cannot read the header line ({type(exc).__name__})", file=path, line=1) from None


def _csv_options(path: Path, names: list[str]) -> str:
    """``read_csv`` options: the header's columns as text, no guessing of the dialect."""
    cols = "{" + ", ".join("'" + n.replace("'", "''") + "': 'VARCHAR'" for n in names) + "}"
    return (f"{_quoted(path)}, auto_detect=false, columns={cols}, header=true, delim=',', quote='\"', "
            f"escape='\"'")


def _malformed(con, i: int, path: Path, names: list[str], used: list[str]) -> bool:
    """Scan CSV file ``i`` once for lines DuckDB cannot read into table ``malformed``; True if any.

    Only the ``used`` columns are decoded, as in the read itself: a stray byte in a column that
    is never read (the patient id) does not reject the line. The reasons are DuckDB's error types
    in words: its own messages quote the line.
    """
    every = ", ".join('count("' + n.replace('"', '""') + '")' for n in used if n in names)  # decode only these
    readable = con.execute(f"SELECT count(*), {every} FROM read_csv({_csv_options(path, names)}, store_rejects=true, "
                           f"rejects_table='_rej{i}', rejects_scan='_scan{i}')").fetchall()[0][0]
    if con.execute(f"SELECT count(*) FROM duckdb_tables() WHERE table_name = '_rej{i}'").fetchall()[0][0]:
        kinds = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in _MALFORMED.items())
        con.execute(
            f"""INSERT INTO malformed SELECT {i}::BIGINT, line::BIGINT,
                   CASE CAST(error_type AS VARCHAR) {kinds} ELSE 'malformed line: not valid CSV' END
                FROM (SELECT line, first(error_type ORDER BY column_idx) AS error_type FROM _rej{i} GROUP BY line)"""
        )
    bad = con.execute(f"SELECT count(*) FROM malformed WHERE file_index = {i}").fetchall()[0][0]
    unread = _data_lines(path) - readable - bad
    if unread > 0:
        # Lines DuckDB took into a quoted value: a quote that never closes swallows the rest of the
        # file. They are rejected, so that the reject threshold sees them, as the lines after the last one read.
        first = readable + bad + 2
        con.execute(f"INSERT INTO malformed SELECT {i}::BIGINT, x::BIGINT, '{_SWALLOWED}' "
                    f"FROM range({first}, {first + unread}) t(x)")
        bad += unread
    return bad > 0


#: Reason for lines read into a quoted value that never closed (or spans lines).
_SWALLOWED = "not read: inside a quoted value opened on an earlier line (a quote that never closes?)"


def _data_lines(path: Path) -> int:
    """Non-blank physical lines after the header line (a last line without a newline counts);
    DuckDB skips blank lines, so they are not counted."""
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    lines, rest = 0, b""
    with opener(path, "rb") as f:
        while chunk := f.read(1 << 24):
            parts = (rest + chunk).split(b"\n")
            rest = parts.pop()
            lines += sum(1 for part in parts if part.strip(b"\r"))
    return lines + bool(rest.strip(b"\r")) - 1


def _reader(con, i: int, path: Path, used: list[str]) -> str:
    """SQL for one file's lines with a 1-based line number (CSV: header is line 1).

    CSV lines that are not well formed are skipped here and recorded in ``malformed``; the line
    numbers of the others count them (a quoted value spanning lines is not counted).
    """
    suffixes = "".join(path.suffixes).lower()
    if ".parquet" in suffixes or suffixes.endswith(".pq"):
        return f"SELECT *, file_row_number + 1 AS _line FROM read_parquet({_quoted(path)}, file_row_number=true)"
    names = _header(path)
    if not names:
        raise ClaimsError("the file is empty (no header line)", file=path, line=1)
    rows = f"SELECT * FROM read_csv({_csv_options(path, names)}, ignore_errors=true) WITH ORDINALITY"
    if not _malformed(con, i, path, names, used):
        return f"SELECT * EXCLUDE (ordinality), ordinality + 1 AS _line FROM ({rows})"
    # The k-th readable row is line k + 1 + (bad lines before it); bad line b_j (j-th, 1-based) has
    # b_j - j - 1 readable rows before it, so it is before row k when that is below k.
    con.execute(
        f"""CREATE TEMP TABLE _skip{i} AS SELECT before, max(n) AS n FROM (
                SELECT line - row_number() OVER (ORDER BY line) - 1 AS before, row_number() OVER (ORDER BY line) AS n
                FROM malformed WHERE file_index = {i}) GROUP BY before"""
    )
    return (f"SELECT r.* EXCLUDE (ordinality), r.ordinality + 1 + coalesce(s.n, 0) AS _line "
            f"FROM ({rows}) r ASOF LEFT JOIN _skip{i} s ON r.ordinality > s.before")


def _numeric(kind: str) -> bool:
    return kind.split("(")[0] in {"DOUBLE", "FLOAT", "REAL", "DECIMAL", "TINYINT", "SMALLINT", "INTEGER",
                                  "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"}


def _register_source(con, source, columns: ClaimColumns, dayfirst: bool, fmt: AmountFormat):
    """Create view ``raw`` (file index, line, segment values, parsed dates and amount, and whether
    each raw field was empty) and tables ``files`` and ``malformed``."""
    wanted = [columns.consortium, columns.service, columns.incurred_date, columns.paid_date, columns.amount]
    con.execute("CREATE TEMP TABLE malformed (file_index BIGINT, line BIGINT, reason VARCHAR)")
    if isinstance(source, pd.DataFrame):
        frame = source[[c for c in [*wanted, columns.claim_id] if c is not None and c in source.columns]]
        missing = [c for c in wanted if c not in frame.columns]
        if missing:
            raise ClaimsError(f"missing column(s) {missing}; columns are {list(source.columns)}", file="DataFrame")
        mixed = {c: frame[c].astype("string") for c in frame.columns if frame[c].dtype == object}
        frame = frame.assign(_line=np.arange(1, len(frame) + 1), **mixed)
        con.register("_frame", frame)
        selects = ["SELECT * FROM _frame"]
        names = ["DataFrame"]
    else:
        if not isinstance(source, (str, Path, list, tuple)):
            raise ClaimsError("claim lines must be a path, a list of paths or a DataFrame, "
                              f"not {type(source).__name__}")
        paths = _files(source)
        used = [c for c in [*wanted, columns.claim_id] if c is not None]
        selects = [_reader(con, i, p, used) for i, p in enumerate(paths)]
        names = [str(p) for p in paths]
    types = [dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {s})").fetchall()) for s in selects]
    for name, cols in zip(names, types):
        missing = [c for c in wanted if c not in cols]
        if missing:
            raise ClaimsError(
                f"missing column(s) {missing} in the header ({len(cols) - 1} columns read). "
                "Name the columns with ClaimColumns (or the --*-column flags).", file=name, line=1,
            )
    has_claim_id = columns.claim_id is not None and all(columns.claim_id in cols for cols in types)
    con.execute("CREATE TEMP TABLE files (file_index BIGINT, file VARCHAR)")
    con.executemany("INSERT INTO files VALUES (?, ?)", [[i, n] for i, n in enumerate(names)])

    def q(c):
        return '"' + c.replace('"', '""') + '"'

    def typed(c, kinds):
        return not kinds[c].upper().startswith("VARCHAR")

    def empty(c, kinds):
        return f"{q(c)} IS NULL" if typed(c, kinds) else f"nullif(trim({q(c)}), '') IS NULL"

    def date(c, kinds):
        """A typed date (Parquet, a DataFrame's datetime column) is taken as it is; text is parsed strictly."""
        if kinds[c].upper().startswith(("DATE", "TIMESTAMP")):
            return f"CAST({q(c)} AS DATE)"
        return sql_date(q(c), dayfirst)

    parts = []
    for i, (sel, kinds) in enumerate(zip(selects, types)):
        claim = f", {q(columns.claim_id)} AS claim_id" if has_claim_id else ""
        numeric = _numeric(kinds[columns.amount])
        amount = f"CAST({q(columns.amount)} AS DOUBLE)" if numeric else sql_amount(q(columns.amount), fmt)
        # Its digits, for the share of spend rejected only: "1,234.56" counts as about 1234.56.
        digits = "NULL" if numeric else (
            f"try_cast(regexp_replace(CAST({q(columns.amount)} AS VARCHAR), '[^0-9.]', '', 'g') AS DOUBLE)")
        parts.append(
            f"SELECT {i}::BIGINT AS file_index, _line::BIGINT AS line, "
            f"{i}::BIGINT * {_POS_SHIFT} + _line AS pos, "
            f"nullif(trim(CAST({q(columns.consortium)} AS VARCHAR)), '') AS consortium, "
            f"nullif(trim(CAST({q(columns.service)} AS VARCHAR)), '') AS service, "
            f"{date(columns.incurred_date, kinds)} AS inc, "
            f"{date(columns.paid_date, kinds)} AS paid, "
            f"{amount} AS amount, {digits} AS amount_digits, {empty(columns.incurred_date, kinds)} AS inc_empty, "
            f"{empty(columns.paid_date, kinds)} AS paid_empty, {empty(columns.amount, kinds)} AS amount_empty{claim} "
            f"FROM ({sel})"
        )
    con.execute("CREATE TEMP VIEW raw AS " + " UNION ALL ".join(parts))
    return names, has_claim_id


def _default_as_of(con, columns: ClaimColumns, today) -> pd.Timestamp:
    today = pd.Timestamp.today() if today is None else pd.Timestamp(today)
    latest = con.execute("SELECT max(paid) FROM raw WHERE paid <= ?", [today.normalize().date()]).fetchall()[0][0]
    if latest is None:
        raise ClaimsError(f"no readable date up to {today.date()} in the claim lines: give the as-of date",
                          column=columns.paid_date)
    return default_as_of(latest, today)


def _check_within_data(con, columns: ClaimColumns, as_of: pd.Timestamp) -> None:
    """Refuse an as-of date in a month after the latest paid date: its IBNR would be nil."""
    latest = con.execute("SELECT max(paid) FROM raw").fetchall()[0][0]
    if latest is not None and pd.Timestamp(latest).to_period("M") < as_of.to_period("M"):
        raise ClaimsError(f"as-of date {as_of.date()} is after the latest paid date {latest} in the claim lines: "
                          "nothing was paid in its month. Give an as-of date within the data, or omit it.",
                          column=columns.paid_date)


def default_as_of(latest_paid, today) -> pd.Timestamp:
    """The last complete month end given the latest paid date (not after ``today``).

    The month of ``latest_paid`` is complete when ``today`` is after its month end, or when
    ``latest_paid`` is the month end itself; otherwise it is still being paid, and the as-of date
    is the month end before it (an explicit as-of date inside a running month is refused for the
    same reason: the last month would be part-paid).

    Examples
    --------
    >>> default_as_of("2026-11-20", today="2026-11-22").date()
    datetime.date(2026, 10, 31)
    >>> default_as_of("2026-10-28", today="2026-11-22").date()
    datetime.date(2026, 10, 31)
    """
    latest, today = pd.Timestamp(latest_paid).normalize(), pd.Timestamp(today).normalize()
    month_end = latest + pd.offsets.MonthEnd(0)
    if latest == month_end or today > month_end:
        return month_end
    return latest - pd.offsets.MonthEnd(1)


def as_of_date(as_of, dayfirst: bool = False) -> pd.Timestamp:
    """``as_of`` as a date, read by the same rules as the claim dates (:mod:`_kit.parse`).

    Examples
    --------
    >>> as_of_date("01/08/2024")
    Traceback (most recent call last):
    ...
    reserving.nightly.claims.ClaimsError: as-of date: not a date in YYYY-MM-DD (for DD/MM/YYYY give --dayfirst)
    """
    parsed = parse_dates(pd.Series([as_of], dtype=object), dayfirst).iloc[0]
    if pd.isna(parsed):
        raise ClaimsError(f"as-of date: not a date in {date_expected(dayfirst)}")
    return pd.Timestamp(parsed)


def _month_end(as_of) -> pd.Timestamp:
    ts = pd.Timestamp(as_of).normalize()
    if ts != ts + pd.offsets.MonthEnd(0):
        raise ClaimsError(
            f"as-of date {ts.date()} is not a month end: triangles are monthly, so the last month would be "
            f"part-paid. Use {(ts - pd.offsets.MonthEnd(1)).date()} or {(ts + pd.offsets.MonthEnd(0)).date()}."
        )
    return ts


def _register_known(con, known: pd.DataFrame | None, columns: ClaimColumns) -> list[str]:
    if known is None:
        return []
    mapping = {columns.consortium: "consortium", columns.service: "service"}
    cols = [c for c in known.columns if c in mapping]
    if not cols:
        raise ClaimsError(f"needs a {columns.consortium!r} or {columns.service!r} column; got {list(known.columns)}",
                          file="known segments")
    table = known[cols].astype(str).apply(lambda s: s.str.strip()).drop_duplicates().rename(columns=mapping)
    con.register("_known_frame", table.assign(_known=True))
    return [mapping[c] for c in cols]


def _create_checked_view(con, columns: ClaimColumns, as_of, known_cols, has_claim_id, dayfirst: bool,
                         fmt: AmountFormat, min_lines: int) -> None:
    """View ``checked``: one row per line with parsed fields and ``reason`` (NULL when accepted).

    Segment values are kept only for a known segment or one with accepted lines (see the module
    notes); reasons name columns and never quote a raw field.
    """
    inc, paid, amt = columns.incurred_date, columns.paid_date, columns.amount
    as_of_sql = f"DATE '{as_of.date()}'"
    join_known, known_case, known = "", "", "false"
    if known_cols:
        on = " AND ".join(f"k.{c} = p.{c}" for c in known_cols)
        join_known = f"LEFT JOIN _known_frame k ON {on}"
        known_case = "WHEN k._known IS NULL THEN 'segment is not in the known segments'"
        known = "k._known IS NOT NULL"
    first, join_dup, reason = "", "", "w.reason"
    if has_claim_id:
        # One pass over base: the first accepted line of each claim id, by a window.
        first = (
            ", CASE WHEN b.claim_id IS NOT NULL THEN min(CASE WHEN b.reason IS NULL THEN b.pos END) "
            "OVER (PARTITION BY b.claim_id) END AS first_pos"
        )
        join_dup = "LEFT JOIN files f ON f.file_index = w.first_pos // " + str(_POS_SHIFT)
        reason = (
            f"CASE WHEN w.reason IS NOT NULL THEN w.reason "
            f"WHEN w.first_pos IS NOT NULL AND w.pos <> w.first_pos THEN "
            f"'{columns.claim_id} repeats line ' || (w.first_pos % {_POS_SHIFT}) || ' of ' || f.file END"
        )
    not_date = f"is not a date in {date_expected(dayfirst)}".replace("'", "''")
    not_number = f"is not a number with {fmt.describe()} (see --decimal and --thousands)".replace("'", "''")
    claim = ", p.claim_id" if has_claim_id else ""
    con.execute(
        f"""
        CREATE TEMP VIEW checked AS
        WITH base AS (
            SELECT p.file_index, p.line, p.pos, p.consortium, p.service, p.amount, p.amount_digits{claim},
               {known} AS known,
               year(p.inc) * 12 + month(p.inc) - 1 AS inc_m,
               year(p.paid) * 12 + month(p.paid) - 1 AS paid_m,
               CASE
                 WHEN p.consortium IS NULL THEN '{columns.consortium} is empty'
                 WHEN p.service IS NULL THEN '{columns.service} is empty'
                 {known_case}
                 WHEN p.inc IS NULL THEN '{inc} ' || CASE WHEN p.inc_empty THEN 'is empty' ELSE '{not_date}' END
                 WHEN p.paid IS NULL THEN '{paid} ' || CASE WHEN p.paid_empty THEN 'is empty' ELSE '{not_date}' END
                 WHEN p.amount IS NULL THEN '{amt} ' || CASE WHEN p.amount_empty THEN 'is empty' ELSE '{not_number}' END
                 WHEN NOT isfinite(p.amount) THEN '{amt} is not finite'
                 WHEN abs(p.amount) > {MAX_AMOUNT} THEN '{amt} is beyond {MAX_AMOUNT:.0e} in size'
                 WHEN p.paid < p.inc THEN '{paid} ' || CAST(p.paid AS VARCHAR) || ' is before {inc} ' || CAST(p.inc AS VARCHAR)
                 WHEN p.inc > {as_of_sql} THEN '{inc} ' || CAST(p.inc AS VARCHAR) || ' is after the as-of date {as_of.date()}'
                 WHEN p.paid > {as_of_sql} THEN '{paid} ' || CAST(p.paid AS VARCHAR) || ' is after the as-of date {as_of.date()}'
               END AS reason
            FROM raw p {join_known}
        ), windowed AS (
            SELECT b.*{first} FROM base b
        ), reasoned AS (
            SELECT w.file_index, w.line, w.consortium, w.service, w.amount, w.amount_digits, w.inc_m, w.paid_m,
                   w.known,
                   {reason} AS reason
            FROM windowed w {join_dup}
        ), usable AS (
            SELECT consortium, service, count(*) AS n_ok FROM reasoned WHERE reason IS NULL GROUP BY ALL
        ), counted AS (
            SELECT r.*, coalesce(u.n_ok, 0) AS n_ok
            FROM reasoned r LEFT JOIN usable u ON u.consortium = r.consortium AND u.service = r.service
        )
        SELECT file_index, line, amount, amount_digits, inc_m, paid_m,
               CASE WHEN known OR n_ok >= {min_lines} THEN consortium END AS consortium,
               CASE WHEN known OR n_ok >= {min_lines} THEN service END AS service,
               CASE WHEN reason IS NULL AND n_ok < {min_lines} THEN 'its segment has ' || n_ok ||
                    ' usable line(s), fewer than {min_lines}: a stray line? (list the segments to expect)'
                    ELSE reason END AS reason
        FROM counted
        """
    )


_LATER = "reason LIKE '% is after the as-of date %'"


def _rejects(con, rejects_path):
    """Counts of rejected lines by segment and reason, the first rejects, the rejects file, and the
    sum of the absolute amounts rejected."""
    con.execute(
        """CREATE TEMP TABLE rejected AS
           SELECT f.file, c.line, c.consortium, c.service, c.reason, c.file_index,
                  coalesce(c.amount, c.amount_digits) AS amount
           FROM checked c JOIN files f USING (file_index) WHERE c.reason IS NOT NULL
           UNION ALL
           SELECT f.file, m.line, NULL, NULL, m.reason, m.file_index, NULL
           FROM malformed m JOIN files f USING (file_index)"""
    )
    ordered = "SELECT file, line, consortium, service, reason FROM rejected ORDER BY file_index, line"
    if rejects_path is not None:
        write_atomic(rejects_path, lambda p: _write_rejects(con, ordered, p))
    rejects = con.execute(f"{ordered} LIMIT {MAX_REJECTS_IN_MEMORY}").df()
    counts = con.execute(
        """SELECT consortium, service, reason, count(*) AS lines FROM rejected GROUP BY ALL
           ORDER BY consortium NULLS FIRST, service NULLS FIRST, reason"""
    ).df()
    rejects["line"] = rejects["line"].astype(np.int64)
    counts["lines"] = counts["lines"].astype(np.int64)
    spend, later = con.execute(
        f"""SELECT coalesce(sum(abs(amount)) FILTER (WHERE abs(amount) <= {MAX_AMOUNT} AND NOT ({_LATER})), 0),
                   count(*) FILTER (WHERE {_LATER}) FROM rejected""").fetchall()[0]
    return rejects, counts, float(spend), int(later)


def _write_rejects(con, query: str, path: Path) -> None:
    """Stream the rejected lines to CSV in batches, each made safe to open in a spreadsheet.

    A segment value is copied from the input, so a cell such as ``=HYPERLINK(...)`` is
    neutralised by :func:`_kit.publish.excel_safe` as in every other CSV output.
    """
    reader = con.sql(query).to_arrow_reader(_REJECT_BATCH)
    header = True
    with open(path, "w", encoding="utf-8", newline="") as f:
        for batch in reader:
            excel_safe(batch.to_pandas()).to_csv(f, header=header, index=False)
            header = False
        if header:
            pd.DataFrame(columns=reader.schema.names).to_csv(f, index=False)


def _triangles(cells: pd.DataFrame, as_of: pd.Timestamp, column: str = "amount") -> TriangleSet | None:
    """Cumulative triangles of ``cells[column]`` by segment, incurred month and lag."""
    if cells.empty:
        return None
    as_m = as_of.year * 12 + as_of.month - 1
    first_m = int(cells["inc_m"].min())
    n_org = as_m - first_m + 1
    seg = pd.MultiIndex.from_frame(cells[["consortium", "service"]])
    codes, uniques = pd.factorize(seg, sort=True)
    segments = pd.MultiIndex.from_tuples(list(uniques), names=["consortium", "service"])
    o = cells["inc_m"].to_numpy(np.int64) - first_m
    lag = cells["lag"].to_numpy(np.int64)
    inc = np.zeros((len(segments), n_org, n_org))
    np.add.at(inc, (codes, o, lag), cells[column].to_numpy(float))
    first_origin = np.full(len(segments), n_org)
    np.minimum.at(first_origin, codes, o)
    observed = (np.arange(n_org)[:, None] + np.arange(n_org)[None, :]) <= n_org - 1
    started = np.arange(n_org)[None, :] >= first_origin[:, None]
    values = np.where(observed[None] & started[:, :, None], np.cumsum(inc, axis=2), np.nan)
    first = pd.Period(year=first_m // 12, month=first_m % 12 + 1, freq="M")
    origins = pd.period_range(first, periods=n_org, freq="M", name="origin")
    return TriangleSet(values, segments, origins, n_org - 1)


def _line_moments(cells: pd.DataFrame, triangles: TriangleSet | None) -> pd.DataFrame | None:
    """Lines, sum and sum of squares of the accepted amounts per segment, in the triangles' order."""
    if triangles is None:
        return None
    sums = cells.groupby(["consortium", "service"])[["n", "amount", "amount_sq"]].sum()
    return sums.rename(columns={"n": "lines"}).reindex(triangles.segments)


def _large_lines(cells: pd.DataFrame) -> LargeLines:
    """Per service: the large-claim threshold, the amounts above it (ascending) and the total paid."""
    by = cells.groupby("service", sort=True)
    amounts = {svc: np.sort(np.concatenate([np.zeros(0), *[np.asarray(x, float) for x in g if np.ndim(x) == 1]]))
               for svc, g in by["large"]}
    return LargeLines(by["threshold"].first(), amounts, by["amount"].sum())


def _unusable(counts: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    """Known segments named in rejected lines that have no accepted line at all.

    Only a known segment keeps its name on a rejected line (see :func:`_create_checked_view`): a
    segment that is not known, or that has no usable line without a list of known segments, may
    be a shifted identifier, so its lines are counted as rejects and it is not named here.
    """
    seen = counts.dropna(subset=["consortium", "service"])
    accepted = set(map(tuple, cells[["consortium", "service"]].drop_duplicates().to_numpy()))
    rows = []
    for (c, s), g in seen.groupby(["consortium", "service"], sort=True):
        if (c, s) not in accepted:
            top = g.sort_values("lines", ascending=False).iloc[0]
            rows.append({"consortium": c, "service": s,
                         "reason": f"all {int(g['lines'].sum())} lines rejected (mostly: {top['reason']})"})
    return pd.DataFrame(rows, columns=["consortium", "service", "reason"])
