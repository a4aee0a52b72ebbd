"""The nightly job's result tables: estimates per segment and origin, and their sums.

Every table is built from the arrays of the run (segments kept x origins) and the simulated
:class:`~reserving.nightly.ranges.Ranges`; segment totals, consortia and the nation each carry
``ibnr_sd``, ``ibnr_p75`` and ``ibnr_p95`` (:data:`RANGE_COLUMNS`). Consortia whose service lines
failed are marked (``services_failed``); a consortium whose every service failed keeps a row with
no figures.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reserving.nightly.isolation import ERROR_COLUMNS
from reserving.nightly.outturn import OutturnResult, outturn, period_budget
from reserving.nightly.ranges import Ranges
from reserving.nightly.selection import Selection
from reserving.results import DIAGNOSTIC_COLUMNS
from reserving.triangle import TriangleSet

#: The range of a total IBNR at every level (segment, consortium, national), in order.
RANGE_COLUMNS = ["ibnr_sd", "ibnr_p75", "ibnr_p95"]
#: Columns of ``estimates.csv``, in order.
ESTIMATE_COLUMNS = ["consortium", "service", "origin", "paid", "ibnr", "ultimate", "ibnr_p75", "ibnr_p95",
                    "ibnr_chain_ladder", "prior", "std_err", "completion", "method", "expected_next"]


def estimates(tri: TriangleSet, keep, mk, sel: Selection, ranges: Ranges) -> pd.DataFrame:
    """One row per segment and origin with data: :data:`ESTIMATE_COLUMNS`.

    ``mk`` (the Mack result) and ``sel`` are over every segment reserved by the chain-ladder;
    ``keep`` selects those the bootstrap reserved too (the segments of ``tri``).
    """
    n_seg, n_org = tri.n_segments, tri.n_origins
    bf, cl = sel.bf, mk.chain_ladder
    seg = tri.segments.to_frame(index=False).astype(str)
    frame = pd.DataFrame({
        "consortium": np.repeat(seg["consortium"].to_numpy(), n_org),
        "service": np.repeat(seg["service"].to_numpy(), n_org),
        "origin": np.tile(tri.origins.to_timestamp(), n_seg),
        "paid": bf.paid[keep].ravel(), "ibnr": bf.ibnr[keep].ravel(), "ultimate": bf.ultimate[keep].ravel(),
        "ibnr_p75": ranges.segment_q[0].ravel(), "ibnr_p95": ranges.segment_q[1].ravel(),
        "ibnr_chain_ladder": cl.ibnr[keep].ravel(), "prior": sel.prior[keep].ravel(),
        "std_err": mk.std_err[keep].ravel(), "completion": sel.completion[keep].ravel(),
        "method": bf.method_used[keep].ravel(), "expected_next": sel.expected_next[keep].ravel(),
    })
    return frame[np.isfinite(frame["paid"].to_numpy())].reset_index(drop=True)[ESTIMATE_COLUMNS]


def segment_errors(errors: list) -> pd.DataFrame:
    """The segments that could not be reserved: consortium, service, error.

    Examples
    --------
    >>> segment_errors([]).columns.tolist()
    ['consortium', 'service', 'error']
    """
    return pd.DataFrame(errors, columns=ERROR_COLUMNS)


def diagnostics(mk) -> pd.DataFrame:
    """The chain-ladder's diagnostics (what it assumed where data were missing), one row each."""
    diag = mk.diagnostics
    frame = diag.index.to_frame(index=False).astype(str)
    for col in DIAGNOSTIC_COLUMNS:
        frame[col] = diag[col].to_numpy()
    return frame[["consortium", "service", *DIAGNOSTIC_COLUMNS]]


def segment_totals(tri: TriangleSet, paid, ibnr, ranges: Ranges) -> pd.DataFrame:
    """Per segment: paid, selected IBNR, the standard deviation and 75th / 95th percentiles of the total IBNR."""
    frame = tri.segments.to_frame(index=False).astype(str)
    frame["paid"] = paid.sum(axis=1)
    frame["ibnr"] = ibnr.sum(axis=1)
    frame["ibnr_sd"] = ranges.segment_total_sd
    frame["ibnr_p75"], frame["ibnr_p95"] = ranges.segment_total_q
    return frame


def national_total(paid, ibnr, ranges: Ranges) -> dict:
    """The nation's paid, selected IBNR and its range (``summary.json``'s ``national`` block)."""
    p75, p95 = ranges.national_total_q
    return {"paid": float(paid.sum()), "ibnr": float(ibnr.sum()), "ibnr_sd": float(ranges.national_total_sd),
            "ibnr_p75": float(p75), "ibnr_p95": float(p95)}


def range_levels(result) -> pd.DataFrame:
    """The ranges of one run at every level, one row each (the history's ``ranges`` table).

    ``level`` is ``segment`` (consortium and service), ``consortium`` (service empty) or
    ``national`` (both empty); then paid, ibnr and :data:`RANGE_COLUMNS`.
    """
    seg = result.segment_totals.assign(level="segment")
    cons = result.consortium_summary.dropna(subset=["ibnr_p75"]).assign(level="consortium", service=None)
    nat = pd.DataFrame([{**result.national_total, "level": "national", "consortium": None, "service": None}])
    cols = ["level", "consortium", "service", "paid", "ibnr", *RANGE_COLUMNS]
    return pd.concat([seg[cols], cons[cols], nat[cols]], ignore_index=True)


def consortium_summary(estimates: pd.DataFrame, ranges: Ranges, out: OutturnResult | None,
                       failed: pd.Series) -> pd.DataFrame:
    """Per consortium: services, paid, IBNR, ultimate, standard deviation and percentiles of the IBNR,
    services failed, outturn flag."""
    g = estimates.groupby("consortium", sort=False)
    frame = pd.DataFrame({"services": g["service"].nunique(), "paid": g["paid"].sum(), "ibnr": g["ibnr"].sum(),
                          "ultimate": g["ultimate"].sum()})
    q = pd.DataFrame(ranges.consortium_total_q, index=ranges.consortia, columns=["ibnr_p75", "ibnr_p95"])
    q.insert(0, "ibnr_sd", ranges.consortium_total_sd)
    frame = frame.join(q)
    lost = [c for c in failed.index if c not in set(frame.index.astype(str))]
    frame = pd.concat([frame, pd.DataFrame({"services": 0}, index=lost)]) if lost else frame
    frame["services_failed"] = failed.reindex(frame.index.astype(str), fill_value=0).to_numpy().astype(int)
    if out is not None:
        frame = frame.join(out.summary.set_index("consortium")[["prob_overspend", "flag"]])
    return frame.rename_axis("consortium").reset_index()


def consortium_outturn(tri: TriangleSet, paid, ibnr, ranges: Ranges, in_period, budget: pd.DataFrame, months,
                       failed: pd.Series) -> OutturnResult:
    """Outturn against budget per consortium over ``months`` (the origins ``in_period``), marked
    where service lines failed (:func:`mark_incomplete`).

    ``paid`` and ``ibnr`` are (segments of ``tri``, origins), currency.
    """
    n_cons = len(ranges.consortia)
    cons_of_seg = pd.Index(ranges.consortia).get_indexer(tri.segments.get_level_values(0))
    out = outturn(ranges.consortia, group_sum(np.where(in_period, paid, 0).sum(axis=1), cons_of_seg, n_cons),
                  group_sum(np.where(in_period, ibnr, 0).sum(axis=1), cons_of_seg, n_cons),
                  ranges.period, period_budget(budget, ranges.consortia, months), months)
    return mark_incomplete(out, failed, budget, months)


def mark_incomplete(out: OutturnResult, failed: pd.Series, budget: pd.DataFrame, months) -> OutturnResult:
    """``services_failed`` per consortium; ``incomplete`` in place of green (or no budget) where any failed.

    A missing service can only understate the outturn, so red and amber stand. A consortium
    whose every service failed gets a row with its budget and no figures.
    """
    summary = out.summary.copy()
    lost = [c for c in failed.index if c not in set(summary["consortium"].astype(str))]
    if lost:
        rows = pd.DataFrame({"consortium": lost, "budget": period_budget(budget, lost, months)})
        summary = pd.concat([summary, rows], ignore_index=True)
    summary["services_failed"] = failed.reindex(summary["consortium"].astype(str), fill_value=0).to_numpy().astype(int)
    at_risk = summary["flag"].isin(["red", "amber"])
    summary.loc[(summary["services_failed"] > 0) & ~at_risk, "flag"] = "incomplete"
    totals = out.totals.copy()
    totals["incomplete"] = int((summary["flag"] == "incomplete").sum())
    return OutturnResult(summary, totals, out.months)


def national(tri: TriangleSet, paid, ibnr, ranges: Ranges) -> pd.DataFrame:
    """Per origin: paid, selected IBNR and its percentiles over every segment reserved."""
    return pd.DataFrame({"origin": tri.origins, "paid": paid.sum(axis=0), "ibnr": ibnr.sum(axis=0),
                         "ibnr_p75": ranges.national_q[0], "ibnr_p95": ranges.national_q[1]})


def pattern(tri: TriangleSet, cdf_pattern: np.ndarray) -> pd.DataFrame:
    """Completion (1 / CDF) by lag per segment: consortium, service, lag, completion.

    Examples
    --------
    >>> tri = TriangleSet.from_array([[1., 2.], [1., np.nan]], origin_start="2024-01", grain="M",
    ...     segments=pd.MultiIndex.from_tuples([("A", "er")], names=["consortium", "service"]))
    >>> pattern(tri, np.array([[2.0, 1.0]]))["completion"].tolist()
    [0.5, 1.0]
    """
    seg = tri.segments.to_frame(index=False).astype(str)
    n_lag = tri.n_lags
    return pd.DataFrame({
        "consortium": np.repeat(seg["consortium"].to_numpy(), n_lag),
        "service": np.repeat(seg["service"].to_numpy(), n_lag),
        "lag": np.tile(np.arange(n_lag), tri.n_segments),
        "completion": (1.0 / cdf_pattern).ravel(),
    })


def group_sum(values: np.ndarray, groups: np.ndarray, n: int) -> np.ndarray:
    """Sum of ``values`` per group code ``0 .. n-1``.

    Examples
    --------
    >>> group_sum(np.array([1., 2., 3.]), np.array([0, 1, 0]), 3).tolist()
    [4.0, 2.0, 0.0]
    """
    return np.bincount(groups, weights=values, minlength=n)
