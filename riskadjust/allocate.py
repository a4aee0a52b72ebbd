"""Fair shares of a national envelope: targets from need, pace of change, exact to the penny.

Each group's **need** is ``exposure x risk x area_factor`` (member-years x mean relative risk
score x e.g. the market forces factor). Its **target** is its share of need times the envelope.
The **distance from target** of an amount ``a`` is ``(a - target) / target``.

Pace of change (as in NHS allocations, where targets are reached over several years):

1. every group gets a floor: at least ``baseline x (1 + min_growth)`` and at least
   ``target x (1 - max_below_target)`` (each rule only when given);
2. what is left of the envelope closes the gaps of the groups still below target, every such group
   closing the same fraction of its gap. (The gaps always absorb what is left: the targets sum to
   the envelope, so floors above target are paid for by the groups below it.)

Without pace-of-change rules the allocation is the target. Amounts are then rounded to pennies by
largest remainder, so they sum exactly to the envelope. The exact figures are the integer
``allocation_pence``; ``allocation`` shows the same in currency units (a float, which cannot hold
every penny of a national envelope exactly).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from _kit.validate import csv_line, number, numeric_column, require_columns
from riskadjust.errors import AllocationError


@dataclass(frozen=True, eq=False)
class AllocationResult:
    """Allocation per group (currency); ``summary`` holds targets, distances and growth."""

    summary: pd.DataFrame
    envelope: float

    @property
    def totals(self) -> dict:
        s = self.summary
        return {"envelope": self.envelope, "allocated": float(s["allocation"].sum()), "groups": len(s),
                "groups_below_target": int((s["distance_from_target"] < -1e-12).sum()),
                "largest_distance_below": float(s["distance_from_target"].min())}


def to_pennies(amounts: np.ndarray, total: float) -> np.ndarray:
    """Integer pennies proportional to ``amounts`` summing exactly to ``total`` (largest remainder).

    Ties in the remainders go to the earlier amount.

    Examples
    --------
    >>> to_pennies(np.array([1 / 3, 1 / 3, 1 / 3]), 1.0).tolist()
    [34, 33, 33]
    """
    amounts = np.asarray(amounts, dtype=float)
    if not np.all(np.isfinite(amounts)) or np.any(amounts < 0) or not np.sum(amounts) > 0:
        raise AllocationError("amounts to round to pennies must be finite, >= 0 and not all zero")
    if not (np.isfinite(total) and total > 0):
        raise AllocationError(f"the total must be a positive amount, got {total!r}")
    total_cents = int(round(total * 100))
    if abs(total * 100 - total_cents) > 1e-6 * max(1.0, abs(total)):
        raise AllocationError(f"envelope {total!r} is not a whole number of pennies")
    scaled = amounts * (total_cents / np.sum(amounts))
    cents = np.floor(scaled).astype(np.int64)
    short = total_cents - int(cents.sum())
    order = np.argsort(-(scaled - cents), kind="stable")
    cents[order[:short]] += 1
    return cents


def allocate(groups: pd.DataFrame, envelope: float, *, min_growth: float | None = None,
             max_below_target: float | None = None, source: str = "groups") -> AllocationResult:
    """Share ``envelope`` between groups by need, with optional pace-of-change rules.

    Parameters
    ----------
    groups : DataFrame
        ``group, exposure`` (member-years), ``risk`` (mean relative risk score), optional
        ``area_factor`` (default 1) and ``baseline`` (last period's allocation, currency, finite
        and >= 0).
    envelope : float
        Total to share (currency, whole pennies, > 0).
    min_growth : float, optional
        Minimum growth on baseline for every group (e.g. 0.015); needs ``baseline``.
    max_below_target : float, optional
        No group ends more than this fraction below target (e.g. 0.05).
    source : str
        What ``groups`` is (e.g. its file path), for error messages: a CSV file's rows are named by
        their line.

    Examples
    --------
    >>> g = pd.DataFrame({"group": ["A", "B"], "exposure": [1000, 1000], "risk": [1.2, 0.8],
    ...                   "baseline": [480_000, 520_000]})
    >>> allocate(g, 1_030_000, min_growth=0.01).summary["allocation"].tolist()
    [504800.0, 525200.0]
    """
    envelope = number(envelope, "envelope", AllocationError, low=0, low_open=True)
    require_columns(groups, ["group", "exposure", "risk"], source, AllocationError)
    g = groups.reset_index(drop=True)
    again = g["group"].duplicated(keep="first").to_numpy()
    if again.any():
        row = int(np.flatnonzero(again)[0])
        line = csv_line(source, row)
        raise AllocationError(f"the group named {'on line ' + str(line) if line else 'at row ' + str(row)} appears "
                              "earlier too; give one row per group", file=source, column="group")
    exposure = numeric_column(g, "exposure", source, AllocationError, low=0)
    risk = numeric_column(g, "risk", source, AllocationError, low=0)
    area = numeric_column(g, "area_factor", source, AllocationError, low=0) if "area_factor" in g else np.ones(len(g))
    baseline = numeric_column(g, "baseline", source, AllocationError, low=0) if "baseline" in g else None
    need = exposure * risk * area
    if need.sum() <= 0:
        raise AllocationError("total need (exposure x risk x area_factor) is zero; nothing to share by")
    target = envelope * need / need.sum()
    if min_growth is not None and baseline is None:
        raise AllocationError("min_growth needs a baseline column (last period's allocation per group)")

    floor = np.zeros(len(g))
    if min_growth is not None:
        floor = np.maximum(floor, baseline * (1.0 + number(min_growth, "min_growth", AllocationError, low=-1)))
    if max_below_target is not None:
        max_below_target = number(max_below_target, "max_below_target", AllocationError, low=0, high=1)
        floor = np.maximum(floor, target * (1.0 - max_below_target))
    left = envelope - floor.sum()
    if left < -1e-9 * envelope:
        raise AllocationError(
            f"the pace-of-change floors need {floor.sum():,.2f} but the envelope is {envelope:,.2f}; "
            "lower min_growth or raise max_below_target"
        )
    gap = np.maximum(target - floor, 0.0)
    exact = floor + (max(left, 0.0) * gap / gap.sum() if gap.sum() > 0 else 0.0)
    pence = to_pennies(exact, envelope)
    allocation = pence / 100.0

    out = pd.DataFrame({"exposure": exposure, "risk": risk, "area_factor": area, "need": need,
                        "target_share": need / need.sum(), "target": target}, index=pd.Index(g["group"], name="group"))
    if baseline is not None:
        out["baseline"] = baseline
        out["baseline_distance_from_target"] = (baseline - target) / target
    out["allocation"] = allocation
    out["allocation_pence"] = pence
    if baseline is not None:
        out["growth"] = allocation / baseline - 1.0
    out["distance_from_target"] = (allocation - target) / target
    return AllocationResult(out, float(envelope))
