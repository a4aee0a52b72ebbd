"""The nightly job: claim lines to reserves, outturn against budget, run history and a report.

Stages, each timed in ``NightlyResult.timings``: ``read`` the claim lines (:mod:`.claims`; rejected
lines to ``rejects.csv``), ``chain_ladder`` (Mack over every segment at once), ``bf`` (the selected
estimate, :mod:`.selection`), ``simulate`` (bootstrap ranges, :mod:`.ranges`), ``outturn`` against
budget, ``history`` (movements and actual against expected from the previous run), ``write``: the
outputs (:mod:`.outputs`) are staged, the run is stored in the history database in one transaction,
then the outputs are published together, so a run that fails publishes nothing.

A segment that cannot be reserved is reported in ``segment_errors`` and left out; the others run
(:mod:`.isolation`), and its consortium's totals are marked (:func:`.tables.mark_incomplete`).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from _kit.progress import compile_notice, say
from _kit.publish import Publication
from _kit.tables import read_table
from _kit.validate import require_columns
from reserving import _bootstrap_kernels, _kernels
from reserving.bornhuetter_ferguson import METHODS
from reserving.errors import ReservingError
from reserving.nightly import tables
from reserving.nightly.claims import ClaimColumns, read_claims
from reserving.nightly.history import compare, new_run_id, save_run
from reserving.nightly.isolation import NoSegmentReserved, checked_mack, drop_unpaid, failed_services, isolate
from reserving.nightly.outputs import REJECTS, stage_outputs
from reserving.nightly.outturn import financial_year_months
from reserving.nightly.ranges import bootstrap_ranges
from reserving.nightly.result import NightlyResult
from reserving.nightly.selection import select

#: Seconds the first run spends compiling the reserving kernels on 2 cores (benchmarks: 19 s for
#: chain ladder and Mack, 53 s for the bootstrap, on an empty Numba cache).
COMPILE_SECONDS = 70


def run_nightly_job(claims, out_dir, db=None, as_of=None, n_sims: int = 10_000, seed: int = 0, budget=None,
                    members=None, known_segments=None, method: str = "blend", threshold: float = 0.75,
                    average: str = "volume", n_periods: int | None = None, columns: ClaimColumns | None = None,
                    fy_start_month: int = 4, max_detail: int = 12, chunk_mb: float = 400.0, progress: bool = True,
                    today=None) -> NightlyResult:
    """Run the nightly job end to end and publish its outputs in ``out_dir`` as one set.

    Parameters
    ----------
    claims : path, glob, list of paths or DataFrame
        Claim lines (see :func:`reserving.nightly.claims.read_claims`).
    out_dir : path
        Where estimates, rejects, outturn, summary and the report are published.
    db : path, optional
        DuckDB history database; default ``out_dir/history.duckdb``.
    as_of : date-like, optional
        A month end; default the last complete month end of the paid dates up to ``today``.
    n_sims, seed : int
        Bootstrap simulations per segment; seed of the random streams.
    budget : path or DataFrame, optional
        consortium, month, budget (currency per consortium and month): the outturn and the BF prior.
    members : path or DataFrame, optional
        consortium, [service,] month, members (member months): the exposure of a trended PMPM prior.
    known_segments : path or DataFrame, optional
        consortium and/or service values expected; lines of other segments are rejected.
    method : {'blend', 'bf', 'chain_ladder'}
        Selected estimate (see :mod:`reserving.bornhuetter_ferguson`); ``chain_ladder`` turns BF off.
    threshold : float
        Completion at and above which the blend is pure chain-ladder.
    average, n_periods
        Chain-ladder averaging and window (latest ``n_periods`` diagonals), as in :func:`reserving.chain_ladder`.
    columns : ClaimColumns, optional
        Input column names.
    fy_start_month : int
        First month of the financial year (4 = April).
    max_detail : int
        Consortia with their own section in the report (those most at risk first).
    chunk_mb : float
        Memory for bootstrap samples per batch of consortia (MB).
    progress : bool
        Progress bar and stage messages on stderr.
    today : date-like, optional
        The date the default as-of date is chosen against; default the current date.

    Examples
    --------
    >>> import tempfile
    >>> from reserving.nightly.synthetic import generate_claims
    >>> s = generate_claims(n_consortia=2, services=["emergency"], n_months=8, as_of="2024-08-31", seed=1)
    >>> run = run_nightly_job(s.lines, tempfile.mkdtemp(), n_sims=50, budget=s.budget, progress=False)
    >>> run.consortium_summary["consortium"].tolist(), run.outputs["report"].name
    (['C001', 'C002'], 'report.html')
    """
    if method not in METHODS:
        raise ReservingError(f"method {method!r} is not one of {METHODS}")
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    out_dir = Path(out_dir)
    db = Path(db) if db is not None else out_dir / "history.duckdb"
    budget_df = _table(budget, "budget", ["consortium", "month", "budget"])
    members_df = _table(members, "members", ["consortium", "month", "members"])
    known_df = _table(known_segments, "known segments", [])
    with Publication(out_dir) as pub:
        t = time.perf_counter()
        data = read_claims(claims, as_of=as_of, columns=columns, known_segments=known_df,
                           rejects_path=pub.path(REJECTS), today=today)
        timings["read"] = time.perf_counter() - t
        if as_of is None:
            say(f"as-of date {data.as_of.date()}: the last complete month end of the paid dates (none given)", progress)
        as_of = data.as_of
        say(f"read {data.lines_read:,} claim lines ({data.lines_rejected:,} rejected) into {data.triangles.n_segments}"
            f" segments x {data.triangles.n_origins} months in {timings['read']:.1f} s", progress)
        errors = data.unusable.rename(columns={"reason": "error"}).to_dict("records")

        compile_notice("the reserving kernels", COMPILE_SECONDS, _kernels, _bootstrap_kernels, enabled=progress)
        t = time.perf_counter()
        tri, mk = isolate(drop_unpaid(data.triangles, errors),
                          lambda x: checked_mack(x, average=average, n_periods=n_periods), errors, "chain-ladder")
        if mk is None:
            raise NoSegmentReserved("chain-ladder failed for every segment; see the segment errors")
        cl = mk.chain_ladder
        timings["chain_ladder"] = time.perf_counter() - t

        t = time.perf_counter()
        sel = select(tri, cl, budget_df, members_df, method=method, threshold=threshold)
        bf = sel.bf
        timings["bf"] = time.perf_counter() - t

        t = time.perf_counter()
        months = financial_year_months(as_of, fy_start_month)
        in_period = np.asarray(tri.origins.isin(months))
        spread = bootstrap_ranges(tri, bf.ibnr, in_period, errors, average=average, n_periods=n_periods,
                                  n_sims=n_sims, seed=seed, chunk_mb=chunk_mb, progress=progress)
        keep, tri = spread.keep, tri[spread.keep]
        timings["simulate"] = time.perf_counter() - t

        t = time.perf_counter()
        paid, ibnr = np.nan_to_num(bf.paid[keep]), np.nan_to_num(bf.ibnr[keep])
        failed = failed_services(errors)
        out = None if budget_df is None else tables.consortium_outturn(tri, paid, ibnr, spread, in_period, budget_df,
                                                                       months, failed)
        timings["outturn"] = time.perf_counter() - t
        estimates = tables.estimates(tri, keep, mk, sel, spread)

        t = time.perf_counter()
        history = compare(db, as_of, estimates)
        timings["history"] = time.perf_counter() - t
        seg_errors = tables.segment_errors(errors)
        parameters = {"as_of": str(as_of.date()), "n_sims": n_sims, "seed": seed, "method": method,
                      "threshold": threshold, "average": average, "n_periods": n_periods,
                      "fy_start_month": fy_start_month, "budget": budget_df is not None,
                      "members": members_df is not None, "known_segments": known_df is not None}
        result = NightlyResult(
            as_of=as_of, run_id=new_run_id(as_of), parameters=parameters, claims=data, triangles=tri,
            estimates=estimates, segment_totals=tables.segment_totals(tri, paid, ibnr, spread),
            consortium_summary=tables.consortium_summary(estimates, spread, out, failed),
            consortium_by_origin=spread.consortium_by_origin,
            national_by_origin=tables.national(tri, paid, ibnr, spread),
            pattern=tables.pattern(tri, cl.development.cdf_values[keep]), outturn=out, segment_errors=seg_errors,
            diagnostics=tables.diagnostics(mk), movements=history.movements,
            actual_vs_expected=history.actual_vs_expected, previous_as_of=history.previous_as_of, timings=timings,
            max_detail=max_detail,
        )
        t = time.perf_counter()
        outputs = stage_outputs(result, pub)
        save_run(db, as_of, parameters, estimates, None if out is None else out.summary, seg_errors,
                 data.lines_read, data.lines_rejected, run_id=result.run_id)
        pub.publish()
    outputs["db"] = db
    timings["write"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t_start
    say(f"reserved {tri.n_segments} segments ({len(seg_errors)} failed) in {timings['total']:.1f} s; "
        f"report {outputs['report']}", progress)
    object.__setattr__(result, "outputs", outputs)
    return result


def _table(source, what: str, columns: list) -> pd.DataFrame | None:
    """``source`` as a DataFrame with ``columns``: as given, or read from a CSV / Parquet path
    (``month`` read as text); errors name the file."""
    if source is None:
        return None
    if isinstance(source, pd.DataFrame):
        frame, name = source, f"{what} table"
    else:
        frame, name = read_table(source, f"{what} file", error=ReservingError, dtype={"month": str}), source
    require_columns(frame, columns, name, error=ReservingError)
    return frame
