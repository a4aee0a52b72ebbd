"""The nightly job: claim lines to reserves, outturn against budget, run history and a report.

Stages (each timed, in ``NightlyResult.timings``):

1. ``read``: :func:`reserving.claims.read_claims` validates and buckets the claim lines in DuckDB;
   rejected lines go to ``DIR/rejects.csv`` (file, line, segment, reason; never a patient id).
2. ``chain_ladder``: :func:`reserving.mack` over every segment at once (chain-ladder completion
   factors and Mack standard errors).
3. ``bf``: the health-practice blend for immature months (:mod:`reserving.bornhuetter_ferguson`),
   with the budget as prior, or a trended PMPM where there is no budget.
4. ``simulate``: :func:`reserving.bootstrap.bootstrap_odp` ranges, run a few consortia at a time so
   memory stays bounded; the samples are shifted to the selected estimate and reduced to
   percentiles per segment and origin, per consortium, and nationally.
5. ``outturn``: outturn against budget per consortium for the financial year to date.
6. ``history``: movements and actual against expected from the previous run in the DuckDB history.
7. ``write``: ``estimates.csv`` / ``.parquet``, ``outturn.csv``, ``segment_errors.csv``,
   ``diagnostics.csv`` (what the chain-ladder assumed, per segment), ``summary.json``,
   ``report.html`` (each written to a temporary name and moved into place), then the run is
   stored in the history database in one transaction.

A segment that cannot be reserved (no usable line, no payments, a chain-ladder or bootstrap
failure) is reported in ``segment_errors`` and the report, and left out; the others run. Its
consortium's totals then leave that service out, so they are marked: ``services_failed`` in the
consortium summary and the outturn, and an outturn flag of ``incomplete`` where it would
otherwise be green (a missing service can only understate the outturn, so red and amber stand).
A consortium whose every service failed still has its row, with no figures.

Ranges from the bootstrap are for the chain-ladder; where the selected estimate differs (the BF
blend), each segment-origin's samples are scaled by ``selected / bootstrap mean`` when both are
positive (the spread moves with the estimate), and shifted by the difference otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from reserving.bootstrap import QUANTILES as BOOTSTRAP_QUANTILES
from reserving.bootstrap import bootstrap_odp
from reserving.bornhuetter_ferguson import METHODS, bornhuetter_ferguson, budget_prior, trended_prior
from reserving.claims import ClaimColumns, Claims, read_claims
from reserving.history import load_table, movements, new_run_id, previous_run, save_run
from reserving.mack import mack
from reserving.outturn import (
    OutturnResult,
    actual_vs_expected,
    expected_next_payments,
    financial_year_months,
    outturn,
    period_budget,
)
from reserving.report import render
from reserving.results import DIAGNOSTIC_COLUMNS
from reserving.triangle import TriangleSet

QUANTILES = (0.75, 0.95)
ESTIMATE_COLUMNS = ["consortium", "service", "origin", "paid", "ibnr", "ultimate", "ibnr_p75", "ibnr_p95",
                    "ibnr_chain_ladder", "prior", "std_err", "completion", "method", "expected_next"]


@dataclass(frozen=True)
class NightlyResult:
    """Everything one nightly run produced (also written to ``outputs``)."""

    as_of: pd.Timestamp
    run_id: str
    parameters: dict
    claims: Claims
    triangles: TriangleSet
    estimates: pd.DataFrame
    segment_totals: pd.DataFrame
    consortium_summary: pd.DataFrame
    consortium_by_origin: pd.DataFrame
    national_by_origin: pd.DataFrame
    pattern: pd.DataFrame
    outturn: OutturnResult | None
    segment_errors: pd.DataFrame
    diagnostics: pd.DataFrame
    movements: pd.DataFrame | None
    actual_vs_expected: pd.DataFrame | None
    previous_as_of: pd.Timestamp | None
    timings: dict
    outputs: dict = field(default_factory=dict)
    max_detail: int = 12

    @property
    def n_segments_ok(self) -> int:
        return self.triangles.n_segments


class Progress:
    """A plain text progress bar on stderr: ``simulate [#####.....] 3/8``.

    Redrawn in place on a terminal; in a log file (a nightly batch) only the finished bar is written.
    """

    def __init__(self, label: str, total: int, enabled: bool = True, width: int = 30):
        self.label, self.total, self.enabled, self.width = label, max(total, 1), enabled, width
        self.live = enabled and sys.stderr.isatty()
        self.done = 0
        if self.live:
            self._draw()

    def step(self, n: int = 1) -> None:
        self.done += n
        finished = self.done >= self.total
        if self.live or (self.enabled and finished):
            self._draw()
        if finished and self.enabled:
            sys.stderr.write("\n")

    def _draw(self) -> None:
        if self.enabled:
            filled = int(self.width * self.done / self.total)
            sys.stderr.write(f"\r{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total}")
            sys.stderr.flush()


def _log(enabled: bool, message: str) -> None:
    if enabled:
        print(message, file=sys.stderr, flush=True)


def run_nightly_job(
    claims,
    out_dir,
    db=None,
    as_of=None,
    n_sims: int = 10_000,
    seed: int = 0,
    budget=None,
    members=None,
    known_segments=None,
    method: str = "blend",
    threshold: float = 0.75,
    average: str = "volume",
    n_periods: int | None = None,
    columns: ClaimColumns | None = None,
    fy_start_month: int = 4,
    max_detail: int = 12,
    chunk_mb: float = 400.0,
    progress: bool = True,
    today=None,
) -> NightlyResult:
    """Run the nightly job end to end and write its outputs.

    Parameters
    ----------
    claims : path, glob, list of paths or DataFrame
        Claim lines (see :func:`reserving.claims.read_claims`).
    out_dir : path
        Where estimates, rejects, outturn, summary and the report are written.
    db : path, optional
        DuckDB history database; default ``out_dir/history.duckdb``.
    as_of : date-like, optional
        A month end; default the last complete month end of the paid dates up to ``today``
        (see :func:`reserving.claims.default_as_of`).
    n_sims : int
        Bootstrap simulations per segment.
    seed : int
    budget : path or DataFrame, optional
        consortium, month, budget (currency per consortium and month). Enables the outturn and is
        the BF prior.
    members : path or DataFrame, optional
        consortium, [service,] month, members (member months): the exposure for a trended PMPM
        prior where there is no budget.
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
    """
    if method not in METHODS:
        raise ValueError(f"method {method!r} is not one of {METHODS}")
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    db = Path(db) if db is not None else out_dir / "history.duckdb"
    budget_df = _table(budget, "budget")
    members_df = _table(members, "members")
    known_df = _table(known_segments, "known segments")

    t = time.perf_counter()
    data = read_claims(claims, as_of=as_of, columns=columns, known_segments=known_df,
                       rejects_path=out_dir / "rejects.csv", today=today)
    timings["read"] = time.perf_counter() - t
    if as_of is None:
        _log(progress, f"as-of date {data.as_of.date()}: the last complete month end of the paid dates "
                       "(none given)")
    as_of = data.as_of
    _log(progress, f"read {data.lines_read:,} claim lines ({data.lines_rejected:,} rejected) into "
                   f"{data.triangles.n_segments} segments x {data.triangles.n_origins} months in {timings['read']:.1f} s")
    errors = data.unusable.rename(columns={"reason": "error"}).to_dict("records")

    t = time.perf_counter()
    tri = _drop_unpaid(data.triangles, errors)
    tri, mk = _isolate(tri, lambda x: _checked_mack(x, average, n_periods), errors, "chain-ladder")
    if mk is None:
        raise RuntimeError("chain-ladder failed for every segment; see the segment errors")
    cl = mk.chain_ladder
    timings["chain_ladder"] = time.perf_counter() - t

    t = time.perf_counter()
    completion = 1.0 / cl.cdf
    prior = _prior(tri, cl.ultimate, completion, budget_df, members_df, threshold)
    bf = bornhuetter_ferguson(tri, prior, cl.cdf, cl_ultimate=cl.ultimate, method=method, threshold=threshold)
    cdf_pattern = cl.development.cdf_values
    lag = np.maximum(cl.latest_lag, 0)
    next_cdf = np.where(lag + 1 < tri.n_lags, np.take_along_axis(cdf_pattern, np.minimum(lag + 1, tri.n_lags - 1), axis=1), 1.0)
    expected_next = expected_next_payments(np.nan_to_num(bf.ibnr), completion, 1.0 / next_cdf)
    timings["bf"] = time.perf_counter() - t

    t = time.perf_counter()
    months = financial_year_months(as_of, fy_start_month)
    in_period = np.asarray(tri.origins.isin(months))
    tri, keep, sims = _simulate(tri, bf.ibnr, n_sims, seed, average, n_periods, in_period, chunk_mb, errors,
                                progress)
    timings["simulate"] = time.perf_counter() - t

    t = time.perf_counter()
    segments = tri.segments
    consortia = sims["consortia"]
    cons_of_seg = pd.Index(consortia).get_indexer(segments.get_level_values(0))
    paid = np.nan_to_num(bf.paid[keep])
    ibnr = np.nan_to_num(bf.ibnr[keep])
    out = None
    if budget_df is not None:
        out = outturn(consortia, _group_sum(np.where(in_period, paid, 0).sum(axis=1), cons_of_seg, len(consortia)),
                      _group_sum(np.where(in_period, ibnr, 0).sum(axis=1), cons_of_seg, len(consortia)),
                      sims["period"], period_budget(budget_df, consortia, months), months)
    timings["outturn"] = time.perf_counter() - t

    failed = _failed_services(errors)
    if out is not None:
        out = _mark_incomplete(out, failed, budget_df, months)
    estimates = _estimates(tri, bf, keep, cl, mk, sims, completion, prior, expected_next)
    cons_summary = _consortium_summary(estimates, sims, out, failed)
    run_id = new_run_id(as_of)

    t = time.perf_counter()
    prev = previous_run(db, as_of)
    moves = ave = None
    if prev is not None:
        prev_est = load_table(db, prev["run_id"])
        moves = movements(estimates, prev_est)
        gap = as_of.to_period("M").ordinal - pd.Timestamp(prev["as_of"]).to_period("M").ordinal
        if gap == 1:
            ave = actual_vs_expected(estimates, prev_est)
    timings["history"] = time.perf_counter() - t

    seg_errors = pd.DataFrame(errors, columns=["consortium", "service", "error"])
    parameters = {"as_of": str(as_of.date()), "n_sims": n_sims, "seed": seed, "method": method,
                  "threshold": threshold, "average": average, "n_periods": n_periods,
                  "fy_start_month": fy_start_month, "budget": budget_df is not None, "members": members_df is not None,
                  "known_segments": known_df is not None}
    result = NightlyResult(
        as_of=as_of, run_id=run_id, parameters=parameters, claims=data, triangles=tri, estimates=estimates,
        segment_totals=_segment_totals(tri, paid, ibnr, sims),
        consortium_summary=cons_summary, consortium_by_origin=sims["consortium_by_origin"],
        national_by_origin=_national(tri, paid, ibnr, sims), pattern=_pattern(tri, cdf_pattern[keep]),
        outturn=out, segment_errors=seg_errors, diagnostics=_diagnostics(mk), movements=moves, actual_vs_expected=ave,
        previous_as_of=None if prev is None else pd.Timestamp(prev["as_of"]), timings=timings, max_detail=max_detail,
    )
    t = time.perf_counter()
    outputs = _write_outputs(result, out_dir)
    save_run(db, as_of, parameters, estimates, None if out is None else out.summary, seg_errors,
             data.lines_read, data.lines_rejected, run_id=run_id)
    outputs["db"] = db
    timings["write"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t_start
    _log(progress, f"reserved {tri.n_segments} segments ({len(seg_errors)} failed) in {timings['total']:.1f} s; "
                   f"report {outputs['report']}")
    object.__setattr__(result, "outputs", outputs)
    return result


def _table(source, what: str) -> pd.DataFrame | None:
    if source is None or isinstance(source, pd.DataFrame):
        return source
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"{what} file {path} does not exist")
    return pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path, dtype={"month": str})


def _label(tri: TriangleSet, s: int) -> tuple[str, str]:
    c, v = tri.segments[s]
    return str(c), str(v)


def _drop_unpaid(tri: TriangleSet, errors: list) -> TriangleSet:
    """Segments whose accepted lines pay nothing at all cannot be developed."""
    total = np.nansum(np.abs(tri.latest), axis=1)
    bad = total == 0
    for s in np.flatnonzero(bad):
        c, v = _label(tri, s)
        errors.append({"consortium": c, "service": v, "error": "no payments in the accepted lines: nothing to develop"})
    return tri[~bad] if bad.any() else tri


class SegmentError(ValueError):
    """A method failed for one segment (position ``segment``)."""

    def __init__(self, segment: int, message: str):
        super().__init__(message)
        self.segment = segment


def _checked_mack(tri: TriangleSet, average, n_periods):
    mk = mack(tri, average=average, n_periods=n_periods)
    cl = mk.chain_ladder
    has_data = cl.latest_lag >= 0
    bad = (has_data & ~np.isfinite(cl.ultimate)).any(axis=1)
    if bad.any():
        s = int(np.flatnonzero(bad)[0])
        i = int(np.flatnonzero(has_data[s] & ~np.isfinite(cl.ultimate[s]))[0])
        diag = cl.diagnostics
        detail = "; ".join(diag.loc[[tri.segments[s]], "detail"].astype(str)) if tri.segments[s] in diag.index else ""
        raise SegmentError(s, f"chain-ladder ultimate is not finite for origin {tri.origins[i]}"
                              + (f" ({detail})" if detail else ""))
    return mk


def _isolate(tri: TriangleSet, fn, errors: list, stage: str):
    """Run ``fn`` on all segments; if it fails, find the failing segments one by one, drop them, rerun.

    Returns ``(segments kept, fn's result)``, or ``(tri, None)`` when every segment fails.
    """
    try:
        return tri, fn(tri)
    except Exception:  # noqa: BLE001 - any failure: look for the segments that cause it
        ok = np.array([_segment_runs(tri, s, fn, errors, stage) for s in range(tri.n_segments)], dtype=bool)
    if not ok.any():
        return tri, None
    tri = tri[ok]
    return tri, fn(tri)


def _segment_runs(tri: TriangleSet, s: int, fn, errors: list, stage: str) -> bool:
    """Run ``fn`` on segment ``s`` alone; on failure record the error for the segment and return False."""
    try:
        fn(tri[s])
    except Exception as exc:  # noqa: BLE001 - one segment's failure is reported, the others go on
        c, v = _label(tri, s)
        errors.append({"consortium": c, "service": v, "error": f"{stage}: {exc}"})
        return False
    return True


def _prior(tri, cl_ultimate, completion, budget_df, members_df, threshold) -> np.ndarray:
    exposure = None
    if members_df is not None:
        exposure = _exposure(tri, members_df)
    trended = trended_prior(cl_ultimate, completion, exposure, threshold)
    if budget_df is None:
        return trended
    from_budget = budget_prior(tri, budget_df, cl_ultimate, completion, threshold)
    return np.where(np.isfinite(from_budget), from_budget, trended)


def _exposure(tri: TriangleSet, members: pd.DataFrame) -> np.ndarray:
    """Member months per segment and origin (per consortium when the table has no service column)."""
    m = members.assign(month=pd.PeriodIndex(members["month"].astype(str), freq="M"),
                       consortium=members["consortium"].astype(str))
    keys = ["consortium", "service"] if "service" in m else ["consortium"]
    table = m.groupby([*keys, "month"])["members"].sum()
    seg = tri.segments.to_frame(index=False).astype(str)[keys]
    out = np.full((tri.n_segments, tri.n_origins), np.nan)
    for s, key in enumerate(seg.itertuples(index=False)):
        k = tuple(key) if len(keys) > 1 else key[0]
        if k in table.index.droplevel(-1):
            out[s] = table.loc[k].reindex(tri.origins).to_numpy(float)
    return out


def _chunks(tri: TriangleSet, n_sims: int, chunk_mb: float) -> list[np.ndarray]:
    """Segment positions in batches of whole consortia, each batch's samples within ``chunk_mb``."""
    per_segment = n_sims * tri.n_origins * 8 * 2.5 / 2**20  # bootstrap IBNR and cash samples, working sums
    limit = max(int(chunk_mb / per_segment), 1)
    cons = tri.segments.get_level_values(0)
    batches, current = [], []
    for c in pd.unique(cons):
        pos = list(np.flatnonzero(cons == c))
        if current and len(current) + len(pos) > limit:
            batches.append(np.array(current))
            current = []
        current += pos
    if current:
        batches.append(np.array(current))
    return batches


def _simulate(tri, selected_ibnr, n_sims, seed, average, n_periods, in_period, chunk_mb, errors, progress):
    """Bootstrap batch by batch; reduce the adjusted samples to percentiles; return what is kept.

    A batch whose every segment fails is recorded in ``errors`` and skipped; the run fails only
    when no segment of any batch survives.

    The bootstrap keys each segment's random stream by its label, so batching does not change
    the numbers. Each segment-origin's samples ``x`` are adjusted to ``ratio * x + shift``
    (:func:`_adjustment`); percentiles of one segment-origin are the bootstrap's own percentiles
    adjusted the same way (an increasing affine map keeps percentiles), and sums over origins,
    service lines and consortia are weighted sums of the samples, so no adjusted copy is made.
    """
    batches = _chunks(tri, n_sims, chunk_mb)
    bar = Progress("simulate", len(batches), progress)
    at = [BOOTSTRAP_QUANTILES.index(q) for q in QUANTILES]
    keep, seg_q, seg_total_q, cons_rows, cons_period, cons_names = [], [], [], [], [], []
    national = np.zeros((tri.n_origins, n_sims))
    for pos in batches:
        sub = tri[pos]
        sub, boot = _isolate(sub, lambda x: bootstrap_odp(x, n_sims=n_sims, seed=seed, average=average,
                                                          n_periods=-1 if n_periods is None else n_periods),
                             errors, "bootstrap")
        if boot is None:
            bar.step()
            continue
        kept = pos[np.asarray(tri.segments[pos].isin(sub.segments))]
        selected = np.nan_to_num(selected_ibnr[kept])
        raw = np.asarray(boot.samples).transpose(0, 2, 1)          # (S, I, n_sims), contiguous
        if np.isnan(raw).any():
            raw = np.nan_to_num(raw)
        ratio, shift = _adjustment(np.nan_to_num(boot.mean), selected)
        keep.append(kept)
        q = np.nan_to_num(boot.quantiles[:, :, at])                # (S, I, 2)
        seg_q.append(np.moveaxis(q * ratio[:, :, None] + shift[:, :, None], 2, 0))
        totals = np.einsum("sin,si->sn", raw, ratio) + shift.sum(axis=1)[:, None]
        seg_total_q.append(np.quantile(totals, QUANTILES, axis=1))
        cons = sub.segments.get_level_values(0)
        for c in pd.unique(cons):
            mine = np.asarray(cons == c)
            block = np.einsum("sin,si->in", raw[mine], ratio[mine]) + shift[mine].sum(axis=0)[:, None]
            q = np.quantile(block, QUANTILES, axis=1)
            cons_rows.append(pd.DataFrame({"consortium": c, "origin": sub.origins, "ibnr": selected[mine].sum(axis=0),
                                           "ibnr_p75": q[0], "ibnr_p95": q[1]}))
            total_q = np.quantile(block.sum(axis=0), QUANTILES)
            cons_names.append((c, total_q[0], total_q[1]))
            cons_period.append(block[in_period].sum(axis=0))
            national += block
        del raw, boot
        bar.step()
    if not keep:
        raise RuntimeError("bootstrap failed for every segment; see the segment errors")
    keep = np.concatenate(keep)
    order = np.argsort(keep)
    tri = tri[keep[order]]
    return tri, keep[order], {
        "segment_q": np.concatenate(seg_q, axis=1)[:, order],
        "segment_total_q": np.concatenate(seg_total_q, axis=1)[:, order],
        "consortium_by_origin": pd.concat(cons_rows, ignore_index=True),
        "consortia": [c for c, _, _ in cons_names],
        "consortium_total_q": np.array([[p75, p95] for _, p75, p95 in cons_names]).reshape(-1, 2),
        "period": np.array(cons_period).reshape(len(cons_names), n_sims),
        "national_q": np.quantile(national, QUANTILES, axis=1),
    }


def _adjustment(mean: np.ndarray, selected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per segment and origin, ``(ratio, shift)`` moving bootstrap samples to the selected estimate.

    ``ratio = selected / mean`` and no shift where both are positive (the spread scales with the
    estimate); otherwise ratio 1 and ``shift = selected - mean``.
    """
    scale = (mean > 0) & (selected > 0)
    ratio = np.divide(selected, mean, out=np.ones_like(mean), where=scale)
    return ratio, np.where(scale, 0.0, selected - mean)


def _group_sum(values: np.ndarray, groups: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(groups, weights=values, minlength=n)


def _estimates(tri, bf, keep, cl, mk, sims, completion, prior, expected_next) -> pd.DataFrame:
    n_seg, n_org = tri.n_segments, tri.n_origins
    seg = tri.segments.to_frame(index=False).astype(str)
    frame = pd.DataFrame({
        "consortium": np.repeat(seg["consortium"].to_numpy(), n_org),
        "service": np.repeat(seg["service"].to_numpy(), n_org),
        "origin": np.tile(tri.origins.to_timestamp(), n_seg),
        "paid": bf.paid[keep].ravel(), "ibnr": bf.ibnr[keep].ravel(), "ultimate": bf.ultimate[keep].ravel(),
        "ibnr_p75": sims["segment_q"][0].ravel(), "ibnr_p95": sims["segment_q"][1].ravel(),
        "ibnr_chain_ladder": cl.ibnr[keep].ravel(), "prior": prior[keep].ravel(),
        "std_err": mk.std_err[keep].ravel(), "completion": completion[keep].ravel(),
        "method": bf.method_used[keep].ravel(), "expected_next": expected_next[keep].ravel(),
    })
    return frame[np.isfinite(frame["paid"].to_numpy())].reset_index(drop=True)[ESTIMATE_COLUMNS]


def _diagnostics(mk) -> pd.DataFrame:
    """The chain-ladder's diagnostics (what it assumed where data were missing), one row each."""
    diag = mk.diagnostics
    frame = diag.index.to_frame(index=False).astype(str)
    for col in DIAGNOSTIC_COLUMNS:
        frame[col] = diag[col].to_numpy()
    return frame[["consortium", "service", *DIAGNOSTIC_COLUMNS]]


def _segment_totals(tri, paid, ibnr, sims) -> pd.DataFrame:
    """Per segment: paid, selected IBNR and the 75th / 95th percentiles of the total IBNR."""
    frame = tri.segments.to_frame(index=False).astype(str)
    frame["paid"] = paid.sum(axis=1)
    frame["ibnr"] = ibnr.sum(axis=1)
    frame["ibnr_p75"], frame["ibnr_p95"] = sims["segment_total_q"]
    return frame


def _consortium_summary(estimates: pd.DataFrame, sims: dict, out: OutturnResult | None,
                        failed: pd.Series) -> pd.DataFrame:
    g = estimates.groupby("consortium", sort=False)
    frame = pd.DataFrame({"services": g["service"].nunique(), "paid": g["paid"].sum(), "ibnr": g["ibnr"].sum(),
                          "ultimate": g["ultimate"].sum()})
    q = pd.DataFrame(sims["consortium_total_q"], index=sims["consortia"], columns=["ibnr_p75", "ibnr_p95"])
    frame = frame.join(q)
    lost = [c for c in failed.index if c not in set(frame.index.astype(str))]
    frame = pd.concat([frame, pd.DataFrame({"services": 0}, index=lost)]) if lost else frame
    frame["services_failed"] = failed.reindex(frame.index.astype(str), fill_value=0).to_numpy().astype(int)
    if out is not None:
        frame = frame.join(out.summary.set_index("consortium")[["prob_overspend", "flag"]])
    return frame.rename_axis("consortium").reset_index()


def _failed_services(errors: list) -> pd.Series:
    """Number of service lines that could not be reserved, per consortium (only those with any)."""
    if not errors:
        return pd.Series(dtype=int, name="services_failed")
    frame = pd.DataFrame(errors, columns=["consortium", "service", "error"])
    return frame.groupby("consortium", sort=False)["service"].nunique().rename("services_failed")


def _mark_incomplete(out: OutturnResult, failed: pd.Series, budget_df: pd.DataFrame, months) -> OutturnResult:
    """``services_failed`` per consortium; ``incomplete`` in place of green (or no budget) where any failed.

    A consortium whose every service failed gets a row with its budget and no figures.
    """
    summary = out.summary.copy()
    lost = [c for c in failed.index if c not in set(summary["consortium"].astype(str))]
    if lost:
        rows = pd.DataFrame({"consortium": lost, "budget": period_budget(budget_df, lost, months)})
        summary = pd.concat([summary, rows], ignore_index=True)
    summary["services_failed"] = failed.reindex(summary["consortium"].astype(str), fill_value=0).to_numpy().astype(int)
    at_risk = summary["flag"].isin(["red", "amber"])
    summary.loc[(summary["services_failed"] > 0) & ~at_risk, "flag"] = "incomplete"
    totals = out.totals.copy()
    totals["incomplete"] = int((summary["flag"] == "incomplete").sum())
    return OutturnResult(summary, totals, out.months)


def _national(tri, paid, ibnr, sims) -> pd.DataFrame:
    return pd.DataFrame({"origin": tri.origins, "paid": paid.sum(axis=0), "ibnr": ibnr.sum(axis=0),
                         "ibnr_p75": sims["national_q"][0], "ibnr_p95": sims["national_q"][1]})


def _pattern(tri: TriangleSet, cdf_pattern: np.ndarray) -> pd.DataFrame:
    seg = tri.segments.to_frame(index=False).astype(str)
    n_lag = tri.n_lags
    return pd.DataFrame({
        "consortium": np.repeat(seg["consortium"].to_numpy(), n_lag),
        "service": np.repeat(seg["service"].to_numpy(), n_lag),
        "lag": np.tile(np.arange(n_lag), tri.n_segments),
        "completion": (1.0 / cdf_pattern).ravel(),
    })


def _atomic_write(path: Path, write) -> Path:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _write_outputs(result: NightlyResult, out_dir: Path) -> dict:
    est = result.estimates.assign(origin=result.estimates["origin"].dt.strftime("%Y-%m"))
    outputs = {
        "estimates_csv": _atomic_write(out_dir / "estimates.csv", lambda p: est.to_csv(p, index=False)),
        "estimates_parquet": _atomic_write(out_dir / "estimates.parquet", lambda p: est.to_parquet(p, index=False)),
        "segment_errors": _atomic_write(out_dir / "segment_errors.csv",
                                        lambda p: result.segment_errors.to_csv(p, index=False)),
        "diagnostics": _atomic_write(out_dir / "diagnostics.csv", lambda p: result.diagnostics.to_csv(p, index=False)),
        "rejects": out_dir / "rejects.csv",
    }
    if result.outturn is not None:
        outputs["outturn"] = _atomic_write(out_dir / "outturn.csv",
                                           lambda p: result.outturn.summary.to_csv(p, index=False))
    summary = {
        "run_id": result.run_id, "as_of": str(result.as_of.date()), "parameters": result.parameters,
        "lines_read": result.claims.lines_read, "lines_rejected": result.claims.lines_rejected,
        "segments_ok": result.n_segments_ok, "segments_failed": len(result.segment_errors),
        "diagnostics": len(result.diagnostics),
        "paid": float(result.estimates["paid"].sum()), "ibnr": float(result.estimates["ibnr"].sum()),
        "at_risk": [] if result.outturn is None else
        result.outturn.summary.loc[result.outturn.summary["flag"].isin(["red", "amber", "incomplete"]),
                                   ["consortium", "flag", "services_failed"]].to_dict("records"),
        "timings_s": {k: round(v, 3) for k, v in result.timings.items()},
    }
    outputs["summary"] = _atomic_write(out_dir / "summary.json",
                                       lambda p: p.write_text(json.dumps(summary, indent=1, default=str)))
    outputs["report"] = _atomic_write(out_dir / "report.html", lambda p: p.write_text(render(result), encoding="utf-8"))
    return outputs


# ---------------------------------------------------------------------------------------------- CLI
_EXAMPLES = """examples:
  python -m reserving nightly --demo --out out/demo
  python -m reserving nightly --claims extract/claims.parquet --out out/2024-12 \\
      --as-of 2024-12-31 --budget budget.csv --members members.csv --sims 10000
  python -m reserving nightly --claims 'extract/*.csv' --out out/ --db /data/reserving.duckdb \\
      --method chain_ladder --incurred-column date_of_service --paid-column payment_date

exit status: 0 all segments reserved; 2 some segments failed (reported; the others ran);
1 the job could not run at all.
"""


def add_nightly_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``nightly`` subcommand to an argparse subparsers object."""
    p = subparsers.add_parser(
        "nightly", help="claim lines to reserves, outturn, history and an HTML report",
        description=__doc__.split("\n\n")[0], epilog=_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--claims", help="claim lines: CSV or Parquet file, directory or glob")
    src.add_argument("--demo", action="store_true", help="use the bundled sample claims, budget and members")
    p.add_argument("--out", help="output directory (default out/nightly-demo with --demo)")
    p.add_argument("--db", help="DuckDB history database (default OUT/history.duckdb)")
    p.add_argument("--as-of", help="valuation date, a month end (default: the last complete month end of the "
                                   "paid dates up to today)")
    p.add_argument("--sims", type=int, default=10_000, help="bootstrap simulations (default 10000)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--budget", help="CSV/Parquet: consortium, month, budget")
    p.add_argument("--members", help="CSV/Parquet: consortium, [service,] month, members")
    p.add_argument("--known-segments", help="CSV/Parquet of expected consortium and/or service values")
    p.add_argument("--method", choices=METHODS, default="blend",
                   help="blend: BF for immature months blended by completion (default); bf; chain_ladder (BF off)")
    p.add_argument("--bf-threshold", type=float, default=0.75,
                   help="completion at and above which the blend is pure chain-ladder (default 0.75)")
    p.add_argument("--average", default="volume", choices=["volume", "simple", "regression"])
    p.add_argument("--n-periods", type=int, help="chain-ladder averaging window in diagonals (default all)")
    p.add_argument("--fy-start-month", type=int, default=4, help="first month of the financial year (default 4)")
    p.add_argument("--max-detail", type=int, default=12, help="consortia with their own report section")
    p.add_argument("--quiet", action="store_true", help="no progress bar or stage messages")
    cols = p.add_argument_group("input column names")
    for name in ("consortium", "service", "incurred_date", "paid_date", "amount", "claim_id", "patient_id"):
        default = getattr(ClaimColumns(), name)
        cols.add_argument(f"--{name.split('_')[0] if name.endswith('_date') else name.replace('_', '-')}-column",
                          dest=f"{name}_column", default=default, help=f"(default {default})")
    p.set_defaults(func=run_nightly)
    return p


def _sample(name: str) -> Path:
    return Path(str(resources.files("reserving") / "data" / name))


def run_nightly(args) -> int:
    """Run the ``nightly`` subcommand from parsed arguments; returns the exit status."""
    columns = ClaimColumns(args.consortium_column, args.service_column, args.incurred_date_column,
                           args.paid_date_column, args.amount_column, args.claim_id_column, args.patient_id_column)
    if args.demo:
        claims, budget = _sample("sample_claims.csv"), args.budget or _sample("sample_budget.csv")
        members = args.members or _sample("sample_members.csv")
        known = args.known_segments or _sample("sample_segments.csv")
        out = args.out or "out/nightly-demo"
    else:
        if not args.out:
            print("error: --out is required (the output directory)", file=sys.stderr)
            return 1
        claims, budget, members, known, out = args.claims, args.budget, args.members, args.known_segments, args.out
    try:
        result = run_nightly_job(
            claims, out, db=args.db, as_of=args.as_of, n_sims=args.sims, seed=args.seed, budget=budget,
            members=members, known_segments=known, method=args.method, threshold=args.bf_threshold,
            average=args.average, n_periods=args.n_periods, columns=columns, fy_start_month=args.fy_start_month,
            max_detail=args.max_detail, progress=not args.quiet,
        )
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    money = ["paid", "ibnr", "ultimate", "ibnr_p75", "ibnr_p95"]
    print(result.consortium_summary.to_string(
        index=False, formatters={c: "{:,.0f}".format for c in money} | {"prob_overspend": "{:.0%}".format}))
    print(f"\nreport: {result.outputs['report']}\nestimates: {result.outputs['estimates_csv']}")
    if len(result.segment_errors):
        print(f"{len(result.segment_errors)} segment(s) failed: see {out}/segment_errors.csv", file=sys.stderr)
        return 2
    return 0
