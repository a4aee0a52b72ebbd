"""Run history in DuckDB: every nightly run's parameters and estimates, and movements between runs.

One database file (default ``OUT/history.duckdb``, in the nightly job's output directory) holds
these tables:

``runs``
    run_id, as_of, created_at, parameters (JSON), lines_read, lines_rejected, segments_ok,
    segments_failed.
``estimates``
    run_id, consortium, service, origin (first day of the incurred month), paid, ibnr, ultimate,
    ibnr_chain_ladder, prior, ibnr_p75, ibnr_p95, std_err (Mack), completion, method,
    expected_next (the payments
    expected in the month after the as-of date, for actual-against-expected next run).
``outturn``
    run_id, consortium, budget, paid, ibnr, outturn, outturn_p75, outturn_p95, prob_overspend, flag.
``segment_errors``
    run_id, consortium, service, error.
``forecast``
    run_id and the columns of ``forecast.csv`` (:data:`FORECAST_COLUMNS`): the full-year forecast.
``selections``
    run_id and the run's selections file as applied (:mod:`reserving.selections`: segment, item,
    development, origin, value, who, why), as text; no rows for a run without one.
``ranges``
    run_id, level (segment, consortium or national), consortium, service, paid, ibnr, ibnr_sd,
    ibnr_p75, ibnr_p95: the range of the total IBNR at every level.
``seasonal_adjustments``
    run_id, consortium, service, origin_month (1-12), adjustment, credibility: the month-of-year
    adjustment to the CDF from the first age and its credibility weight, per segment, of a run with
    seasonal completion (:attr:`.seasonal.SeasonalCompletion.by_segment`; the setting and payment
    days are in ``runs.parameters``); no rows for a run with it off.

A run for an as-of date that is already stored replaces it in two steps, so that the published
outputs always name a run that is in the database: :func:`save_run` inserts the new run in one
transaction (a run interrupted before the commit leaves nothing), and once the run's outputs are
published, :func:`drop_superseded` deletes the older runs for the same as-of date. Until then both
are stored, and readers take the latest (``created_at``).

The database must be a DuckDB file (``.duckdb``, ``.ddb`` or ``.db``). When another process holds
it, opening waits up to :data:`LOCK_TIMEOUT` seconds, then fails with a message saying so.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import duckdb
import pandas as pd

from reserving.errors import ReservingError
from reserving.nightly.forecast import COLUMNS as FORECAST_CSV
from reserving.nightly.outturn import actual_vs_expected

ESTIMATE_COLUMNS = {
    "consortium": "VARCHAR", "service": "VARCHAR", "origin": "DATE", "paid": "DOUBLE", "ibnr": "DOUBLE",
    "ultimate": "DOUBLE", "ibnr_chain_ladder": "DOUBLE", "prior": "DOUBLE", "ibnr_p75": "DOUBLE", "ibnr_p95": "DOUBLE",
    "std_err": "DOUBLE", "completion": "DOUBLE", "method": "VARCHAR", "expected_next": "DOUBLE",
}
OUTTURN_COLUMNS = {
    "consortium": "VARCHAR", "budget": "DOUBLE", "paid": "DOUBLE", "ibnr": "DOUBLE", "outturn": "DOUBLE",
    "outturn_p75": "DOUBLE", "outturn_p95": "DOUBLE", "prob_overspend": "DOUBLE", "flag": "VARCHAR",
}
ERROR_COLUMNS = {"consortium": "VARCHAR", "service": "VARCHAR", "error": "VARCHAR"}
FORECAST_COLUMNS = {c: "VARCHAR" if c in ("consortium", "flag") else "DOUBLE" for c in FORECAST_CSV}
SELECTION_COLUMNS = {c: "VARCHAR" for c in ("segment", "item", "development", "origin", "value", "who", "why")}
RANGE_COLUMNS = {"level": "VARCHAR", "consortium": "VARCHAR", "service": "VARCHAR", "paid": "DOUBLE", "ibnr": "DOUBLE",
                 "ibnr_sd": "DOUBLE", "ibnr_p75": "DOUBLE", "ibnr_p95": "DOUBLE"}
SEASONAL_COLUMNS = {"consortium": "VARCHAR", "service": "VARCHAR", "origin_month": "INTEGER", "adjustment": "DOUBLE",
                    "credibility": "DOUBLE"}
_TABLES = {"estimates": ESTIMATE_COLUMNS, "outturn": OUTTURN_COLUMNS, "segment_errors": ERROR_COLUMNS,
           "forecast": FORECAST_COLUMNS, "selections": SELECTION_COLUMNS, "ranges": RANGE_COLUMNS,
           "seasonal_adjustments": SEASONAL_COLUMNS}
#: Seconds to wait for another process to release the history database.
LOCK_TIMEOUT = 60.0
_SUFFIXES = (".duckdb", ".ddb", ".db")
_MAGIC = b"DUCK"


def check_database(path) -> Path:
    """``path`` if it names a DuckDB database (existing, or new with a DuckDB suffix); else raise.

    Examples
    --------
    >>> check_database("history.csv")
    Traceback (most recent call last):
    ...
    reserving.errors.ReservingError: history.csv: the history database must be a DuckDB file (.duckdb, .ddb or .db)
    """
    path = Path(path)
    if path.is_dir():
        raise ReservingError("the history database is a folder; give a .duckdb file", file=path)
    if path.exists() and path.stat().st_size > 0:
        with open(path, "rb") as f:
            if f.read(12)[8:12] != _MAGIC:
                raise ReservingError("this file is not a DuckDB database; give a .duckdb file (a new one is "
                                     "created if it does not exist)", file=path)
    elif path.suffix.lower() not in _SUFFIXES:
        raise ReservingError("the history database must be a DuckDB file (.duckdb, .ddb or .db)", file=path)
    return path


def _open(path: Path, timeout: float) -> duckdb.DuckDBPyConnection:
    """Connect, waiting while another process holds the lock; a clear error after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return duckdb.connect(str(path))
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise ReservingError(f"the history database cannot be opened ({str(exc).splitlines()[0]})",
                                     file=path) from None
            if time.monotonic() >= deadline:
                raise ReservingError(
                    f"the history database is in use by another process (waited {timeout:.0f} s); nothing was "
                    "published. Run again when that process has finished.", file=path) from None
            time.sleep(0.2)
        except duckdb.Error as exc:
            raise ReservingError(f"the history database cannot be opened ({type(exc).__name__}); is it a "
                                 "DuckDB file?", file=path) from None


def _connect(path, timeout: float | None = None) -> duckdb.DuckDBPyConnection:
    path = check_database(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = _open(path, LOCK_TIMEOUT if timeout is None else timeout)
    con.execute(
        """CREATE TABLE IF NOT EXISTS runs (run_id VARCHAR PRIMARY KEY, as_of DATE NOT NULL,
           created_at TIMESTAMP NOT NULL, parameters VARCHAR, lines_read BIGINT, lines_rejected BIGINT,
           segments_ok INTEGER, segments_failed INTEGER)"""
    )
    for table, cols in _TABLES.items():
        body = ", ".join(f"{c} {t}" for c, t in cols.items())
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} (run_id VARCHAR NOT NULL, {body})")
    return con


def save_run(
    path,
    as_of,
    parameters: dict,
    estimates: pd.DataFrame,
    outturn: pd.DataFrame | None = None,
    segment_errors: pd.DataFrame | None = None,
    lines_read: int = 0,
    lines_rejected: int = 0,
    run_id: str | None = None,
    forecast: pd.DataFrame | None = None,
    selections: pd.DataFrame | None = None,
    ranges: pd.DataFrame | None = None,
    seasonal_adjustments: pd.DataFrame | None = None,
) -> str:
    """Store one run in one transaction (earlier runs for its as-of date go in :func:`drop_superseded`).

    Parameters
    ----------
    path : path
        The DuckDB database file (created if missing).
    as_of : date-like
    parameters : dict
        The run's settings (JSON-serialisable), stored as they were used.
    estimates : DataFrame
        Columns :data:`ESTIMATE_COLUMNS` (missing optional ones are stored as NULL).
    outturn, segment_errors, ranges : DataFrame, optional
        Columns :data:`OUTTURN_COLUMNS`, :data:`ERROR_COLUMNS` and :data:`RANGE_COLUMNS`.

    run_id : str, optional
        Default :func:`new_run_id`.
    forecast : DataFrame, optional
        Columns :data:`FORECAST_COLUMNS`.
    selections : DataFrame, optional
        The ``table`` of the :class:`reserving.Selections` applied (columns :data:`SELECTION_COLUMNS`).
    seasonal_adjustments : DataFrame, optional
        The month-of-year adjustments used (columns :data:`SEASONAL_COLUMNS`).

    Returns
    -------
    str
        The run id.

    Examples
    --------
    >>> import tempfile, os
    >>> db = os.path.join(tempfile.mkdtemp(), "h.duckdb")
    >>> est = pd.DataFrame({"consortium": ["A"], "service": ["er"], "origin": [pd.Timestamp("2024-01-01")],
    ...                     "paid": [90.0], "ibnr": [10.0], "ultimate": [100.0]})
    >>> run = save_run(db, "2024-01-31", {"n_sims": 100}, est)
    >>> run = save_run(db, "2024-01-31", {"n_sims": 200}, est)
    >>> drop_superseded(db, run)
    >>> load_runs(db)[["as_of", "parameters"]].values.tolist()
    [[Timestamp('2024-01-31 00:00:00'), '{"n_sims": 200}']]
    """
    as_of = pd.Timestamp(as_of).date()
    created = dt.datetime.now()
    run_id = run_id or new_run_id(as_of)
    frames = {
        "estimates": _conform(estimates, ESTIMATE_COLUMNS),
        "outturn": _conform(outturn, OUTTURN_COLUMNS),
        "segment_errors": _conform(segment_errors, ERROR_COLUMNS),
        "forecast": _conform(forecast, FORECAST_COLUMNS),
        "selections": _conform(None if selections is None else selections.astype(object).where(selections.notna(), None),
                               SELECTION_COLUMNS),
        "ranges": _conform(ranges, RANGE_COLUMNS),
        "seasonal_adjustments": _conform(seasonal_adjustments, SEASONAL_COLUMNS),
    }
    n_failed = 0 if segment_errors is None else len(segment_errors)
    n_ok = int(frames["estimates"][["consortium", "service"]].drop_duplicates().shape[0])
    with _transaction(path) as con:
        con.execute(
            "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [run_id, as_of, created, json.dumps(parameters, sort_keys=True, default=str),
             int(lines_read), int(lines_rejected), n_ok, n_failed],
        )
        for table, frame in frames.items():
            con.register("_incoming", frame)
            cols = ", ".join(_TABLES[table])
            con.execute(f"INSERT INTO {table} (run_id, {cols}) SELECT ?, {cols} FROM _incoming", [run_id])
            con.unregister("_incoming")
    return run_id


@contextmanager
def _transaction(path):
    """A connection to the history with one transaction open: committed when the block ends,
    rolled back (and the error raised) when it fails; the connection is closed either way."""
    con = _connect(path)
    try:
        con.execute("BEGIN TRANSACTION")
        yield con
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.close()


def drop_superseded(path, run_id: str) -> None:
    """Delete, in one transaction, the runs stored before ``run_id`` for the same as-of date."""
    old = ("SELECT o.run_id FROM runs o JOIN runs n ON o.as_of = n.as_of AND o.run_id <> n.run_id "
           "WHERE n.run_id = ?")
    with _transaction(path) as con:
        for table in (*_TABLES, "runs"):
            con.execute(f"DELETE FROM {table} WHERE run_id IN ({old})", [run_id])


def has_run(path, run_id: str) -> bool:
    """Whether run ``run_id`` is stored in the database at ``path`` (False if there is none)."""
    if not Path(path).exists():
        return False
    con = _connect(path)
    try:
        return bool(con.execute("SELECT count(*) FROM runs WHERE run_id = ?", [run_id]).fetchall()[0][0])
    finally:
        con.close()


def new_run_id(as_of) -> str:
    """``<as_of>T<time now>-<8 random hex digits>``, e.g. ``2024-12-31T021500-1a2b3c4d``."""
    return f"{pd.Timestamp(as_of).date().isoformat()}T{dt.datetime.now():%H%M%S}-{uuid.uuid4().hex[:8]}"


def _conform(frame: pd.DataFrame | None, columns: dict) -> pd.DataFrame:
    """Columns in order, missing optional ones as NULL, typed for DuckDB."""
    frame = pd.DataFrame(columns=list(columns)) if frame is None else frame
    out = pd.DataFrame(index=range(len(frame)))
    for col, kind in columns.items():
        values = frame[col].to_numpy() if col in frame else [None] * len(frame)
        if kind == "DOUBLE":
            out[col] = pd.to_numeric(pd.Series(values), errors="raise").astype(float)
        elif kind == "INTEGER":
            out[col] = pd.Series(values, dtype="Int64")
        elif kind == "DATE":
            out[col] = pd.to_datetime(pd.Series(values).astype(str)).dt.normalize()
        else:
            out[col] = pd.Series(values, dtype=object).map(lambda v: None if v is None else str(v))
    return out


def load_runs(path) -> pd.DataFrame:
    """Every stored run, oldest as-of date first."""
    con = _connect(path)
    try:
        return con.execute("SELECT * FROM runs ORDER BY as_of, created_at").df()
    finally:
        con.close()


def load_table(path, run_id: str, table: str = "estimates") -> pd.DataFrame:
    """One run's rows of ``estimates``, ``outturn``, ``segment_errors``, ``selections``, ``ranges`` or
    ``seasonal_adjustments`` (without the run id)."""
    if table not in _TABLES:
        raise ReservingError(f"table {table!r} is not one of {list(_TABLES)}", file=path)
    con = _connect(path)
    try:
        return con.execute(f"SELECT * EXCLUDE (run_id) FROM {table} WHERE run_id = ? ORDER BY ALL", [run_id]).df()
    finally:
        con.close()


def forecast_history(path, before) -> pd.DataFrame:
    """as_of, consortium, prob_deficit, prob_deficit_net, flag of the latest run of every as-of date
    before ``before`` (empty without a database)."""
    if not Path(path).exists():
        return pd.DataFrame(columns=["as_of", "consortium", "prob_deficit", "prob_deficit_net", "flag"])
    con = _connect(path)
    try:
        return con.execute(
            """SELECT r.as_of, f.consortium, f.prob_deficit, f.prob_deficit_net, f.flag FROM forecast f
               JOIN (SELECT run_id, as_of FROM runs WHERE as_of < ?
                     QUALIFY row_number() OVER (PARTITION BY as_of ORDER BY created_at DESC) = 1) r USING (run_id)
               ORDER BY r.as_of, f.consortium""", [pd.Timestamp(before).date()]).df()
    finally:
        con.close()


def previous_run(path, as_of) -> pd.Series | None:
    """The stored run with the latest as-of date before ``as_of`` (None if there is none)."""
    if not Path(path).exists():
        return None
    con = _connect(path)
    try:
        runs = con.execute(
            "SELECT * FROM runs WHERE as_of < ? ORDER BY as_of DESC, created_at DESC LIMIT 1",
            [pd.Timestamp(as_of).date()],
        ).df()
    finally:
        con.close()
    return None if runs.empty else runs.iloc[0]


class Comparison(NamedTuple):
    """A run against the previous stored run (every field None when there is none)."""

    previous_as_of: pd.Timestamp | None
    movements: pd.DataFrame | None
    #: Only when the previous run is for the month before.
    actual_vs_expected: pd.DataFrame | None


def compare(path, as_of, estimates: pd.DataFrame) -> Comparison:
    """Compare ``estimates`` for ``as_of`` with the latest run stored in ``path`` before ``as_of``.

    Examples
    --------
    >>> import tempfile, os
    >>> db = os.path.join(tempfile.mkdtemp(), "h.duckdb")
    >>> est = pd.DataFrame({"consortium": ["A"], "service": ["er"], "origin": [pd.Timestamp("2024-01-01")],
    ...                     "paid": [90.0], "ibnr": [10.0], "ultimate": [100.0], "expected_next": [6.0]})
    >>> compare(db, "2024-01-31", est).previous_as_of is None
    True
    >>> _ = save_run(db, "2024-01-31", {}, est)
    >>> later = compare(db, "2024-02-29", est.assign(paid=[95.0], ibnr=[5.0]))
    >>> str(later.previous_as_of.date()), later.actual_vs_expected["actual"].tolist()
    ('2024-01-31', [5.0])
    """
    prev = previous_run(path, as_of)
    if prev is None:
        return Comparison(None, None, None)
    previous_as_of = pd.Timestamp(prev["as_of"])
    prev_est = load_table(path, prev["run_id"])
    ave = None
    if pd.Timestamp(as_of).to_period("M").ordinal - previous_as_of.to_period("M").ordinal == 1:
        ave = actual_vs_expected(estimates, prev_est)
    return Comparison(previous_as_of, movements(estimates, prev_est), ave)


def movements(current: pd.DataFrame, previous: pd.DataFrame) -> pd.DataFrame:
    """Per consortium: ultimate and IBNR now and at the previous run, and the movement.

    Only origins present in both runs are compared, so a newly incurred month does not show as
    a movement. Columns: consortium, ultimate_prev, ultimate, ultimate_move, ibnr_prev, ibnr,
    ibnr_move, paid_in_period.

    Examples
    --------
    >>> prev = pd.DataFrame({"consortium": ["A"], "service": ["er"], "origin": ["2024-01-01"],
    ...                      "paid": [50.0], "ibnr": [50.0], "ultimate": [100.0]})
    >>> cur = prev.assign(paid=[80.0], ibnr=[30.0], ultimate=[110.0])
    >>> movements(cur, prev)[["ultimate_move", "ibnr_move", "paid_in_period"]].values.tolist()
    [[10.0, -20.0, 30.0]]
    """
    key = ["consortium", "service", "origin"]
    cur = current.assign(origin=pd.to_datetime(current["origin"].astype(str)))
    prev = previous.assign(origin=pd.to_datetime(previous["origin"].astype(str)))
    both = cur.merge(prev[key + ["paid", "ibnr", "ultimate"]], on=key, suffixes=("", "_prev"))
    g = both.groupby("consortium")[["ultimate_prev", "ultimate", "ibnr_prev", "ibnr", "paid", "paid_prev"]].sum()
    out = pd.DataFrame({
        "ultimate_prev": g["ultimate_prev"], "ultimate": g["ultimate"],
        "ultimate_move": g["ultimate"] - g["ultimate_prev"],
        "ibnr_prev": g["ibnr_prev"], "ibnr": g["ibnr"], "ibnr_move": g["ibnr"] - g["ibnr_prev"],
        "paid_in_period": g["paid"] - g["paid_prev"],
    })
    return out.reset_index()
