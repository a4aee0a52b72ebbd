"""The nightly job: claim lines to reserves, outturn against budget, run history and a report.

Stages, each timed in ``NightlyResult.timings``: ``read`` the claim lines (:mod:`.claims`; rejected
lines to ``rejects.csv``), ``chain_ladder`` (Mack over every segment at once; with
``seasonality`` on, its completion adjusted by month of the year, :mod:`.seasonal`), ``bf`` (the selected
estimate, :mod:`.selection`), ``simulate`` (stochastic BF ranges, :mod:`.ranges`), ``outturn`` against
budget, ``forecast`` (the full financial year, net of stop-loss cover, :mod:`.forecast`; the
Board's failure regimen, :mod:`.regimen`), ``history`` (movements and actual against expected
from the previous run), ``write``: the
outputs (:mod:`.outputs`) are staged, the run is stored in the history database in one transaction,
then the outputs are published together, so a run that fails publishes nothing.

A run killed after its database commit but before its files are all in place is rolled forward
by the next run (its staging folder names the run, :func:`recover`); one killed before the commit
is discarded. Runs stored earlier for the same as-of date are deleted only after publishing, so the
published ``summary.json`` always names a run that is in the database.

The run fails (nothing published) when more than ``max_rejected`` of the claim lines, or of the
spend, is rejected; when a known segment has no line at all; or when the accepted amounts are not
positive in total. Without ``known_segments``, a segment with fewer than ``min_segment_lines``
usable lines is not reserved: its lines are rejected (two stray lines do not make a consortium)
and count towards the share rejected.

A segment that cannot be reserved is reported in ``segment_errors`` and left out; the others run
(:mod:`.isolation`), and its consortium's totals are marked (:func:`.tables.mark_incomplete`).
"""

from __future__ import annotations

import re
import shutil
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from _kit.progress import compile_notice, say
from _kit.parse import AmountFormat, parse_amounts
from _kit.publish import Publication, checkpoint
from _kit.tables import read_table
from _kit.validate import csv_line, number, numeric_column, require_columns
from reserving import _bootstrap_kernels, _kernels, _stochastic_bf_kernels
from reserving.bornhuetter_ferguson import METHODS
from reserving.errors import ReservingError
from reserving.nightly import tables
from reserving.nightly.claims import ClaimColumns, Claims, ClaimsError, read_claims
from reserving.nightly.cover import cover_for, read_cover
from reserving.nightly.forecast import (consortium_forecast, financial_year, is_allocation, monthly_budget,
                                       patient_costs, seasonal_weights)
from reserving.nightly.history import (check_database, compare, drop_superseded, forecast_history, has_run,
                                      new_run_id, save_run)
from reserving.nightly.large_claims import CHOICES as LARGE_CLAIMS
from reserving.nightly.large_claims import DEFAULT as DEFAULT_LARGE_CLAIMS
from reserving.nightly.large_claims import as_paid, separate
from reserving.nightly.isolation import NoSegmentReserved, checked_mack, drop_unpaid, failed_services, isolate
from reserving.nightly.outputs import REJECTS, stage_outputs
from reserving.nightly.regimen import DEFAULT_RULES, evaluate, read_rules
from reserving.nightly.outturn import financial_year_months
from reserving.nightly.ranges import simulate_ranges
from reserving.nightly.result import NightlyResult
from reserving.nightly.seasonal import DEFAULT as DEFAULT_SEASONALITY
from reserving.nightly.seasonal import check_setting, is_rule, next_completion, seasonal_completion
from reserving.nightly.selection import select
from reserving.chain_ladder import chain_ladder
from reserving.selections import Selections, factor_table
from reserving.mack_tests import assumption_tests

#: Seconds the first run spends compiling the reserving kernels (benchmarks/bench_reserving.py, the
#: first nightly --demo on an empty Numba cache: about 17 s of CPU, compiling is single-threaded).
COMPILE_SECONDS = 20


def run_nightly_job(claims, out_dir, db=None, as_of=None, n_sims: int = 10_000, seed: int = 0, budget=None,
                    members=None, known_segments=None, method: str = "blend", threshold: float = 0.75,
                    average: str = "volume", n_periods: int | None = None, columns: ClaimColumns | None = None,
                    fy_start_month: int = 4, max_detail: int = 12, chunk_mb: float = 400.0, progress: bool = True,
                    today=None, dayfirst: bool = False, amount_format: AmountFormat | None = None,
                    max_rejected: float = 0.01, min_segment_lines: int = 10, cover=None,
                    budget_phasing: str = "flat", regimen=None, selections=None,
                    dependence: bool = True, scheduler=None, seasonality: str = DEFAULT_SEASONALITY,
                    payment_days=None, large_claims: str = DEFAULT_LARGE_CLAIMS) -> NightlyResult:
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
        Or ``riskadjust allocate`` output (group, allocation: the financial year's amount per
        consortium; :func:`.forecast.monthly_budget`), phased over the months by ``budget_phasing``.
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
        Memory for simulations per batch of consortia (MB).
    progress : bool
        Progress bar and stage messages on stderr.
    today : date-like, optional
        The date the default as-of date is chosen against; default the current date.
    dayfirst : bool
        Claim dates may be written ``DD/MM/YYYY`` (``YYYY-MM-DD`` always); never ``MM/DD/YYYY``.
    amount_format : AmountFormat, optional
        Decimal and thousands separators of the amounts; default ``.`` and none (strict).
    max_rejected : float
        Largest share of claim lines, and of spend, that may be rejected (default 0.01); beyond it
        the run fails and nothing is published.
    min_segment_lines : int
        Without ``known_segments``: usable lines a segment needs to be reserved (default 10).
    budget_phasing : {'flat', 'seasonal'}
        How an annual allocation is spread over the months: equally, or by the seasonal cycle of
        the claims' completed months (:func:`.forecast.seasonal_weights`).
    cover : path or DataFrame, optional
        Stop-loss cover per consortium (:mod:`.cover`) applied to the full-year forecast (with a budget only).
    regimen : path or DataFrame, optional
        The Board's rule table (:mod:`.regimen`); default :data:`.regimen.DEFAULT_RULES`.
    selections : path, DataFrame or Selections, optional
        The actuary's selections (:mod:`reserving.selections`; segments named ``consortium/service``):
        applied to the chain ladder and Mack, stored with the run in the history database and shown
        in the report beside the indicated factors. The bootstrap ranges do not apply them.
    dependence : bool
        Ranges share the prior's consortium and incurred-month shocks between segments (default);
        False treats every segment as independent (:mod:`.ranges`).
    scheduler : str or dask.distributed.Client, optional
        Spread the simulations over a Dask cluster: a ``Client``, or a scheduler address
        (``tcp://host:8786``) to connect to for this run. The numbers are those of a run on one
        machine (random streams keyed by segment label).
    large_claims : {'separate', 'in-triangle'}
        ``separate``: each line is capped at its service's large-claim threshold, the capped claims
        developed and the excess loaded back by the service's excess share, and the ranges
        simulate the same model (:mod:`.large_claims`); ``in-triangle``: the claims developed as
        paid. With ``seasonality``, the seasonal completion is of the grossed-up triangles.
    seasonality : {'off', 'month', 'month+paydays'}
        ``month``: completion factors by calendar month of the incurred month, credibility-weighted;
        ``month+paydays`` also restates payments for the payment days of each month; ``off`` (the
        default) the plain chain ladder. On generated claims paid more slowly in some months
        ``month`` cuts the newest months' error by a fifth, but on claims without it it makes the
        chain ladder's worse by 8% of itself, so it is not the default (:mod:`.seasonal`, which also
        states how the ranges follow; ``tests/reserving/test_nightly_seasonality.py``).
    payment_days : str, path or DataFrame, optional
        With ``month+paydays``: ``business`` (Monday to Friday, the default), ``weekly-DAY`` (e.g.
        ``weekly-FRI``) or a calendar (CSV/Parquet: month ``YYYY-MM``, payment_days).

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
    number(max_rejected, "the largest share rejected (--max-rejected)", ReservingError, low=0, high=1)
    number(min_segment_lines, "the least lines of a segment (--min-segment-lines)", ReservingError, low=1,
           integer=True)
    number(n_sims, "the number of simulations (--sims)", ReservingError, low=1, integer=True)
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    out_dir = Path(out_dir)
    db = check_database(db if db is not None else out_dir / "history.duckdb")
    fmt = amount_format or AmountFormat()
    if budget_phasing not in ("flat", "seasonal"):
        raise ReservingError(f"budget phasing {budget_phasing!r} is not 'flat' or 'seasonal'")
    allocation = _allocation(budget)
    budget_df = None if allocation is not None else _table(budget, "budget", ["consortium", "month", "budget"], fmt)
    members_df = _table(members, "members", ["consortium", "month", "members"], fmt)
    known_df = _table(known_segments, "known segments", [], fmt)
    cover_df = None if cover is None else read_cover(cover)
    rules = read_rules(DEFAULT_RULES if regimen is None else regimen)
    chosen = _selections(selections)
    check_setting(seasonality)
    if large_claims not in LARGE_CLAIMS:
        raise ReservingError(f"large_claims must be one of {list(LARGE_CLAIMS)}; got {large_claims!r}")
    if payment_days is not None and seasonality != "month+paydays":
        raise ReservingError(f"payment days are used only with seasonality 'month+paydays', not {seasonality!r} "
                             "(--payment-days needs --seasonality month+paydays)")
    calendar = payment_days if payment_days is None or is_rule(payment_days) else \
        _table(payment_days, "payment calendar", ["month", "payment_days"], fmt)
    recover(out_dir, db)
    with Publication(out_dir) as pub:
        t = time.perf_counter()
        data = read_claims(claims, as_of=as_of, columns=columns, known_segments=known_df,
                           rejects_path=pub.path(REJECTS), today=today, dayfirst=dayfirst,
                           amount_format=amount_format, min_segment_lines=int(min_segment_lines))
        timings["read"] = time.perf_counter() - t
        _check_rejects(data, max_rejected, claims)
        _check_known_present(data, known_df, columns or ClaimColumns())
        if as_of is None:
            say(f"as-of date {data.as_of.date()}: the last complete month end of the paid dates (none given)", progress)
        as_of = data.as_of
        say(f"read {data.lines_read:,} claim lines ({data.lines_rejected:,} rejected) into {data.triangles.n_segments}"
            f" segments x {data.triangles.n_origins} months in {timings['read']:.1f} s", progress)
        errors = data.unusable.rename(columns={"reason": "error"}).to_dict("records")
        if chosen is not None:
            chosen.check(data.triangles)

        compile_notice("the reserving kernels", COMPILE_SECONDS, _kernels, _bootstrap_kernels, _stochastic_bf_kernels,
                       enabled=progress)
        t = time.perf_counter()
        tri, mk = isolate(drop_unpaid(data.triangles, errors),
                          lambda x: checked_mack(x, average=average, n_periods=n_periods, selections=chosen), errors,
                          "chain-ladder")
        if mk is None:
            raise NoSegmentReserved("chain-ladder failed for every segment; see the segment errors")
        separated = None
        if large_claims == "separate":      # develop the grossed-up attritional triangles; paid stays the real paid
            separated = separate(data.attritional[data.triangles.segments.get_indexer(tri.segments)], data.large_lines)
            grossed, mk = isolate(separated.triangles, lambda x: checked_mack(x, average=average, n_periods=n_periods,
                                                                              selections=chosen), errors, "chain-ladder")
            if mk is None:
                raise NoSegmentReserved("chain-ladder failed for every segment; see the segment errors")
            tri, separated = tri[tri.segments.get_indexer(grossed.segments)], replace(separated, triangles=grossed)
        plain_cl = mk.chain_ladder
        seasonal = seasonal_completion(plain_cl, seasonality, calendar)
        if seasonal is not None:
            mk = replace(mk, chain_ladder=seasonal.chain_ladder)
        if separated is not None:
            developed = plain_cl
            mk = replace(mk, chain_ladder=as_paid(mk.chain_ladder, tri))
            plain_cl = as_paid(plain_cl, tri)
        cl = mk.chain_ladder
        selected_factors = None if chosen is None else factor_table(
            chain_ladder(tri if separated is None else separated.triangles, average=average,
                         n_periods=n_periods).development, cl.development, chosen.within(tri))
        timings["chain_ladder"] = time.perf_counter() - t

        t = time.perf_counter()
        if allocation is not None:
            year = financial_year(as_of, fy_start_month)
            weights = None if budget_phasing == "flat" else \
                seasonal_weights(tri, cl.ultimate, 1.0 / cl.cdf, members_df, year)[0]
            budget_df = monthly_budget(allocation, year, weights)
        sel = select(tri, cl, budget_df, members_df, method=method, threshold=threshold,
                     selections=None if chosen is None else chosen.within(tri),
                     next_completion=None if seasonal is None else next_completion(1.0 / cl.cdf, seasonal.next_share))
        plain_sel = sel if seasonal is None else select(tri, plain_cl, budget_df, members_df, method=method,
                                                        threshold=threshold,
                                                        selections=None if chosen is None else chosen.within(tri))
        bf = sel.bf
        timings["bf"] = time.perf_counter() - t

        t = time.perf_counter()
        months = financial_year_months(as_of, fy_start_month)
        in_period = np.asarray(tri.origins.isin(months))
        modelled = (tri, plain_cl, plain_sel, data.large_lines)
        if separated is not None:        # the ranges simulate the grossed-up triangles and the excess to come
            modelled = (separated.triangles, developed,
                        select(separated.triangles, developed, budget_df, members_df, method=method,
                               threshold=threshold, selections=None if chosen is None else chosen.within(tri)),
                        separated.excess)
        with _cluster(scheduler) as client:
            spread = simulate_ranges(*modelled[:3], in_period, errors, threshold=threshold,
                                     average=average, n_periods=n_periods, n_sims=n_sims, seed=seed,
                                     chunk_mb=chunk_mb, dependence=dependence, large_lines=modelled[3],
                                     redraw_paid=separated is None, progress=progress, client=client,
                                     recentre=None if seasonal is None and separated is None else sel.bf.ibnr)
        keep, tri = spread.keep, tri[spread.keep]
        timings["simulate"] = time.perf_counter() - t

        t = time.perf_counter()
        paid, ibnr = np.nan_to_num(bf.paid[keep]), np.nan_to_num(bf.ibnr[keep])
        failed = failed_services(errors)
        out = None if budget_df is None else tables.consortium_outturn(tri, paid, ibnr, spread, in_period, budget_df,
                                                                       months, failed)
        timings["outturn"] = time.perf_counter() - t
        t = time.perf_counter()
        full_year = None if budget_df is None else _forecast(claims, columns or ClaimColumns(), tri, paid, ibnr, spread,
                                                             as_of, budget_df, members_df, fy_start_month, n_sims,
                                                             seed, dayfirst, fmt, cover_df)
        timings["forecast"] = time.perf_counter() - t
        if full_year is not None:
            say(f"forecast the year to {full_year.year[-1]} in {timings['forecast']:.1f} s: national outturn "
                f"{full_year.totals['outturn_mean']:,.0f} against budget {full_year.totals['budget_year']:,.0f}, "
                f"{full_year.totals['red']:.0f} consortia red", progress)
        estimates = tables.estimates(tri, keep, mk, sel, spread)

        t = time.perf_counter()
        history = compare(db, as_of, estimates)
        past_forecasts = None if full_year is None else forecast_history(db, as_of)
        actions = None if full_year is None else evaluate(rules, full_year.summary, past_forecasts)
        timings["history"] = time.perf_counter() - t
        seg_errors = tables.segment_errors(errors)
        parameters = {"as_of": str(as_of.date()), "n_sims": n_sims, "seed": seed, "method": method,
                      "threshold": threshold, "average": average, "n_periods": n_periods,
                      "fy_start_month": fy_start_month, "budget": budget_df is not None,
                      "members": members_df is not None, "known_segments": known_df is not None,
                      "dayfirst": dayfirst, "amount_format": (amount_format or AmountFormat()).describe(),
                      "max_rejected": max_rejected, "min_segment_lines": min_segment_lines,
                      "cover": cover_df is not None,
                      "budget_source": "riskadjust allocation" if allocation is not None else "monthly budget",
                      "budget_phasing": budget_phasing if allocation is not None else None,
                      "regimen": "default" if regimen is None else "given",
                      "selections": None if chosen is None else chosen.source, "dependence": dependence,
                      "seasonality": seasonality, "large_claims": large_claims,
                      "payment_days": None if seasonal is None else seasonal.describe()["payment_days"]}
        result = NightlyResult(
            as_of=as_of, run_id=new_run_id(as_of), parameters=parameters, claims=data, triangles=tri,
            estimates=estimates, segment_totals=tables.segment_totals(tri, paid, ibnr, spread),
            consortium_summary=tables.consortium_summary(estimates, spread, out, failed),
            consortium_by_origin=spread.consortium_by_origin,
            national_by_origin=tables.national(tri, paid, ibnr, spread),
            pattern=tables.pattern(tri, cl.development.cdf_values[keep]), outturn=out, segment_errors=seg_errors,
            diagnostics=tables.diagnostics(mk), movements=history.movements,
            actual_vs_expected=history.actual_vs_expected, previous_as_of=history.previous_as_of, timings=timings,
            max_detail=max_detail, forecast=full_year, forecast_history=past_forecasts,
            actions=actions, selections=None if chosen is None else chosen.table,
            assumption_tests=assumption_tests(tri),
            selected_factors=selected_factors, national_total=tables.national_total(paid, ibnr, spread),
            selected_origins=sel.overrides,
            range_assumptions=spread.assumptions, seasonality=seasonal,
        )
        t = time.perf_counter()
        pub.label = result.run_id
        outputs = stage_outputs(result, pub)
        checkpoint("db:save")
        save_run(db, as_of, parameters, estimates, None if out is None else out.summary, seg_errors,
                 data.lines_read, data.lines_rejected, run_id=result.run_id,
                 forecast=None if full_year is None else full_year.summary,
                 selections=None if chosen is None else chosen.table, ranges=tables.range_levels(result),
                 seasonal_adjustments=None if seasonal is None else seasonal.by_segment)
        checkpoint("db:saved")
        pub.publish()
        checkpoint("published")
        drop_superseded(db, result.run_id)
    outputs["db"] = db
    timings["write"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t_start
    say(f"reserved {tri.n_segments} segments ({len(seg_errors)} failed) in {timings['total']:.1f} s; "
        f"report {outputs['report']}", progress)
    object.__setattr__(result, "outputs", outputs)
    return result


def _forecast(claims, columns: ClaimColumns, tri, paid, ibnr, spread, as_of, budget, members, fy_start_month,
              n_sims, seed, dayfirst, fmt, cover):
    """The full-year forecast (:mod:`.forecast`): cost per patient read from the claim lines, then simulated."""
    costs, by_patient = patient_costs(claims, columns.consortium, columns.incurred_date, columns.paid_date,
                                      columns.amount, columns.patient_id, as_of, dayfirst=dayfirst, amount_format=fmt)
    fc = consortium_forecast(tri, paid, ibnr, spread.period, spread.consortia, as_of, budget, members, costs,
                             fy_start_month=fy_start_month, n_sims=n_sims, seed=seed, by_patient=by_patient,
                             cover=None if cover is None else cover_for(cover, spread.consortia))
    if cover is not None:
        unused = sorted(set(cover["consortium"].astype(str)) - set(map(str, spread.consortia)))
        if unused:
            fc.assumptions.append(f"cover given for {len(unused)} consortia not reserved in this run, not applied: "
                                  + ", ".join(unused))
    return fc


def _allocation(budget) -> pd.DataFrame | None:
    """``budget`` as a table when it is ``riskadjust allocate`` output (:func:`.forecast.is_allocation`), else None."""
    if budget is None:
        return None
    frame = budget if isinstance(budget, pd.DataFrame) else read_table(budget, "budget file", error=ReservingError,
                                                                         dtype={"group": str, "month": str})
    return frame if is_allocation(frame) else None


def _selections(source) -> Selections | None:
    """A :class:`Selections` from a path or a table (None stays None)."""
    if source is None or isinstance(source, Selections):
        return source
    if isinstance(source, pd.DataFrame):
        return Selections.from_frame(source)
    return Selections.read(source)


@contextmanager
def _cluster(scheduler):
    """The Dask client to simulate on: None, the one given, or one connected to an address for the run."""
    if scheduler is None or not isinstance(scheduler, str):
        yield scheduler
        return
    try:
        from dask.distributed import Client
    except ImportError as exc:
        raise ReservingError("--scheduler needs Dask: pip install 'commissioning-risk[dask]'") from exc
    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise ReservingError(f"cannot reach the Dask scheduler at {scheduler} (--scheduler): {exc}") from exc
    try:
        yield client
    finally:
        client.close()


def recover(out_dir, db) -> None:
    """Finish or discard what a killed run left in ``out_dir``.

    A staging folder whose run is in the history database ``db`` was committed: its files are
    published and the runs it supersedes deleted. Any other staging folder is removed.
    """
    for staging in Publication.leftovers(out_dir):
        pub = Publication.resume(staging)
        run_id = pub.label
        if run_id is not None and has_run(db, run_id):
            pub.publish()
            drop_superseded(db, run_id)
        else:
            shutil.rmtree(staging, ignore_errors=True)


def _check_rejects(data: Claims, max_rejected: float, source) -> None:
    """Fail when more than ``max_rejected`` of the lines or of the spend was rejected."""
    lines, spend = data.share_rejected
    if lines > max_rejected or spend > max_rejected:
        top = data.reject_counts.groupby("reason")["lines"].sum().sort_values(ascending=False).head(3)
        reasons = "; ".join(f"{n:,} x {r}" for r, n in top.items())
        raise ClaimsError(
            f"{data.lines_rejected:,} of {data.lines_read:,} lines ({lines:.1%}) and {spend:.1%} of the spend were "
            f"rejected, more than the {max_rejected:.1%} allowed (--max-rejected); nothing was published. Most common: "
            f"{reasons}. See the reasons by line with --max-rejected 1.",
            file=None if isinstance(source, pd.DataFrame) else source)


def _check_known_present(data: Claims, known: pd.DataFrame | None, columns: ClaimColumns) -> None:
    """Fail when a known segment has no claim line at all (a missing extract, not a quiet month)."""
    if known is None:
        return
    mapping = {columns.consortium: "consortium", columns.service: "service"}
    cols = [c for c in known.columns if c in mapping]
    expected = known[cols].astype(str).apply(lambda s: s.str.strip()).drop_duplicates().rename(columns=mapping)
    seen = pd.concat([data.triangles.segments.to_frame(index=False),
                      data.reject_counts[["consortium", "service"]].dropna()])
    present = set(map(tuple, seen[list(expected.columns)].astype(str).to_numpy()))
    gone = [row for row in map(tuple, expected.to_numpy()) if row not in present]
    if gone:
        names = ", ".join("/".join(g) for g in gone[:5]) + (f" and {len(gone) - 5} more" if len(gone) > 5 else "")
        raise ClaimsError(f"{len(gone)} known segment(s) have no claim line at all: {names}. Is the extract "
                          "complete? Remove them from the known segments if they have closed.")


_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def _table(source, what: str, columns: list, fmt: AmountFormat) -> pd.DataFrame | None:
    """``source`` as a DataFrame with ``columns``: as given, or read from a CSV / Parquet path
    (``month`` read as text); errors name the file.

    A ``month`` must be ``YYYY-MM``, and a ``budget`` or ``members`` value a number, at least 0,
    written with the claims' decimal and thousands separators (``fmt``).
    """
    if source is None:
        return None
    if isinstance(source, pd.DataFrame):
        frame, name = source, f"{what} table"
    else:
        frame, name = read_table(source, f"{what} file", error=ReservingError, dtype={"month": str}), source
    require_columns(frame, columns, name, error=ReservingError)
    if "month" in columns:
        text = frame["month"].astype("string").str.strip()
        bad = ~text.str.fullmatch(_MONTH).fillna(False).astype(bool).to_numpy()
        if bad.any():
            row = int(bad.nonzero()[0][0])
            line = csv_line(name, row)
            raise ReservingError("not a month in YYYY-MM form (e.g. 2024-01)" + ("" if line else f" (row {row})"),
                                 file=name, line=line, column="month")
    for col in ("budget", "members", "payment_days"):
        if col in columns:
            parsed = parse_amounts(frame[col], fmt)
            frame = frame.assign(**{col: parsed.where(parsed.notna(), frame[col])})
            frame = frame.assign(**{col: numeric_column(frame, col, name, ReservingError, low=0)})
    return frame
