"""Fair shares of a national envelope: targets from need, pace of change, exact to the penny.

Each group's **need** is ``exposure x risk x area_factor`` (member-years x mean relative risk
score x e.g. the market forces factor). A **high-cost pool** may first be top-sliced from the
envelope (it pays costs above a cap back to groups at settlement, :func:`riskadjust.settle`); what
is left, ``E``, is shared. The **target** of group ``i`` is

    target_i = E x [(1 - s) x need_i / sum(need) + s x need_i u_i / sum(need u)]

where ``u`` is an optional **unmet-need** index per group (e.g. a deprivation score or the ratio of
avoidable deaths to the national rate) and ``s`` the share of ``E`` given to that component (the
NHS formula's health-inequalities and unmet-need adjustment; ``s = 0`` without it). The
**distance from target** of an amount ``a`` is ``(a - target) / target``.

Pace of change (as in NHS allocations, where targets are reached over several years):

1. every group gets a **floor**: at least ``baseline x (1 + min_growth)`` and at least
   ``target x (1 - max_below_target)`` (each rule only when given), and a **ceiling** of at most
   ``baseline x (1 + max_growth)``;
2. what is left of ``E`` closes the gaps of the groups still below target, every such group
   closing the same fraction of its gap, a group at its ceiling taking no more. (The gaps absorb
   what is left whenever no ceiling binds: the targets sum to ``E``, so floors above target are
   paid for by the groups below it.)
3. only when ceilings stop the gaps from absorbing it, the rest is spread over the groups below
   their ceilings in proportion to their targets.

Steps 2 and 3 are exact "water filling": the common fraction is found where the piecewise-linear
total meets ``E``. Without pace-of-change rules the allocation is the target.
:func:`allocation_path` runs the rules year after year, each year's allocation the next year's
baseline (a multi-year convergence path).

Amounts are rounded to pennies by largest remainder, so the allocations and the pool sum exactly
to the envelope, and no rounding takes a group below its floor or above its ceiling (floors are
rounded up and ceilings down to the penny). The exact figures are the integer
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
    """Allocation per group (currency); ``summary`` holds targets, floors, ceilings, distances and growth."""

    summary: pd.DataFrame
    envelope: float
    high_cost_pool: float = 0.0

    @property
    def totals(self) -> dict:
        s = self.summary
        return {"envelope": self.envelope, "high_cost_pool": self.high_cost_pool,
                "allocated": float(s["allocation"].sum()), "groups": len(s),
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


def _whole_pence(amount: float, name: str) -> int:
    pence = int(round(amount * 100))
    if abs(amount * 100 - pence) > 1e-6 * max(1.0, abs(amount)):
        raise AllocationError(f"{name} {amount!r} is not a whole number of pennies")
    return pence


def _fill(base: np.ndarray, slope: np.ndarray, cap: np.ndarray, amount: float) -> np.ndarray | None:
    """``x_i = min(cap_i, base_i + t slope_i)`` with the ``t >= 0`` at which ``sum(x) = amount``
    (``base`` itself if it already reaches ``amount``); ``None`` if no ``t`` gets there.

    ``sum(x(t))`` is piecewise linear and increasing: walk its breakpoints ``(cap_i - base_i) / slope_i``
    in order, losing each group's slope as it reaches its cap, and solve on the segment that reaches
    ``amount``.
    """
    short = amount - base.sum()
    if short <= 0:
        return base.copy()
    rising = slope > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        reach = np.where(rising, (cap - base) / np.where(rising, slope, 1.0), np.inf)
    order = [k for k in np.argsort(reach, kind="stable") if rising[k]]
    got, t_prev = 0.0, 0.0
    for at, k in enumerate(order):
        total_slope = float(slope[order[at:]].sum())  # the groups not yet at their cap
        more = total_slope * (reach[k] - t_prev)
        if got + more >= short:
            return np.minimum(cap, base + (t_prev + (short - got) / total_slope) * np.where(rising, slope, 0.0))
        got += more
        t_prev = reach[k]
    # every rising group at its cap: enough only up to rounding
    return np.where(rising, cap, base) if short - got <= 1e-9 * max(1.0, amount) else None


def _pennies_within(exact: np.ndarray, lo: np.ndarray, hi: np.ndarray, total: int) -> np.ndarray:
    """Integer pence summing to ``total``, by largest remainder of ``exact`` (pence, summing to ``total``
    up to rounding), never below ``lo`` or above ``hi`` (integer pence). Ties go to the earlier group."""
    scaled = exact * (total / exact.sum()) if exact.sum() > 0 else exact
    cents = np.clip(np.floor(scaled), lo, hi).astype(np.int64)
    short = total - int(cents.sum())
    remainder = scaled - cents
    while short:  # a penny at a time to the largest remainders (smallest when taking back), within the bounds
        step = 1 if short > 0 else -1
        room = np.flatnonzero(cents < hi) if step > 0 else np.flatnonzero(cents > lo)
        if room.size == 0:
            break
        pick = room[np.argsort(-step * remainder[room], kind="stable")][:abs(short)]
        cents[pick] += step
        remainder[pick] -= step
        short -= step * pick.size
    if int(cents.sum()) != total:
        raise AllocationError("the floors and ceilings leave no way to round the allocations to pennies that sum "
                              "to the envelope; widen them by a few pence")
    return cents


def _row_name(source, row: int) -> str:
    line = csv_line(source, row)
    return f"on line {line}" if line else f"at row {row}"


def allocate(groups: pd.DataFrame, envelope: float, *, min_growth: float | None = None,
             max_growth: float | None = None, max_below_target: float | None = None,
             unmet_need_share: float = 0.0, high_cost_pool: float = 0.0,
             source: str = "groups") -> AllocationResult:
    """Share ``envelope`` between groups by need, with optional pace-of-change rules.

    Parameters
    ----------
    groups : DataFrame
        ``group, exposure`` (member-years), ``risk`` (mean relative risk score), optional
        ``area_factor`` (default 1), ``baseline`` (last period's allocation, currency, finite
        and >= 0) and ``unmet_need`` (an index >= 0, e.g. a deprivation score).
    envelope : float
        Total to share (currency, whole pennies, > 0), including any high-cost pool.
    min_growth, max_growth : float, optional
        Floor and ceiling on growth over baseline for every group (e.g. 0.015 and 0.08); need
        ``baseline``.
    max_below_target : float, optional
        No group ends more than this fraction below target (e.g. 0.05).
    unmet_need_share : float
        Share of the envelope (after the pool) shared by ``need x unmet_need`` rather than by need
        (0 <= s < 1); needs an ``unmet_need`` column when above 0.
    high_cost_pool : float
        Amount top-sliced from the envelope into the high-cost pool (currency, whole pennies); paid
        back to groups for costs above the pool's cap by :func:`riskadjust.settle`.
    source : str
        What ``groups`` is (e.g. its file path), for error messages: a CSV file's rows are named by
        their line.

    Examples
    --------
    >>> g = pd.DataFrame({"group": ["A", "B"], "exposure": [1000, 1000], "risk": [1.2, 0.8],
    ...                   "baseline": [480_000, 520_000]})
    >>> allocate(g, 1_030_000, min_growth=0.01).summary["allocation"].tolist()
    [504800.0, 525200.0]
    >>> allocate(g, 1_030_000, min_growth=0.01, max_growth=0.04).summary["allocation"].tolist()
    [499200.0, 530800.0]
    """
    envelope = number(envelope, "envelope", AllocationError, low=0, low_open=True)
    envelope_pence = _whole_pence(envelope, "envelope")
    pool_pence = _whole_pence(number(high_cost_pool, "high_cost_pool", AllocationError, low=0), "high_cost_pool")
    if pool_pence >= envelope_pence:
        raise AllocationError("the high-cost pool must be smaller than the envelope")
    shared_pence = envelope_pence - pool_pence
    shared = shared_pence / 100.0
    require_columns(groups, ["group", "exposure", "risk"], source, AllocationError)
    g = groups.reset_index(drop=True)
    again = g["group"].duplicated(keep="first").to_numpy()
    if again.any():
        raise AllocationError(f"the group named {_row_name(source, int(np.flatnonzero(again)[0]))} appears earlier "
                              "too; give one row per group", file=source, column="group")
    exposure = numeric_column(g, "exposure", source, AllocationError, low=0)
    risk = numeric_column(g, "risk", source, AllocationError, low=0)
    area = numeric_column(g, "area_factor", source, AllocationError, low=0) if "area_factor" in g else np.ones(len(g))
    baseline = numeric_column(g, "baseline", source, AllocationError, low=0) if "baseline" in g else None
    need = exposure * risk * area
    if need.sum() <= 0:
        raise AllocationError("total need (exposure x risk x area_factor) is zero; nothing to share by")
    share = need / need.sum()
    s = number(unmet_need_share, "unmet_need_share", AllocationError, low=0, high=1)
    unmet = None
    if s > 0 or "unmet_need" in g:
        require_columns(g, ["unmet_need"], source, AllocationError)
        unmet = numeric_column(g, "unmet_need", source, AllocationError, low=0)
        if s > 0 and (need * unmet).sum() <= 0:
            raise AllocationError("need x unmet_need is zero for every group; nothing to share the unmet-need "
                                  "component by")
        if s >= 1:
            raise AllocationError("unmet_need_share must be below 1 (need must keep a share)")
        if s > 0:
            share = (1 - s) * share + s * need * unmet / (need * unmet).sum()
    target = shared * share
    for name, value in (("min_growth", min_growth), ("max_growth", max_growth)):
        if value is not None and baseline is None:
            raise AllocationError(f"{name} needs a baseline column (last period's allocation per group)")

    floor = np.zeros(len(g))
    ceiling = np.full(len(g), np.inf)
    if min_growth is not None:
        floor = np.maximum(floor, baseline * (1.0 + number(min_growth, "min_growth", AllocationError, low=-1)))
    if max_growth is not None:
        ceiling = baseline * (1.0 + number(max_growth, "max_growth", AllocationError, low=-1))
    if max_below_target is not None:
        max_below_target = number(max_below_target, "max_below_target", AllocationError, low=0, high=1)
        floor = np.maximum(floor, target * (1.0 - max_below_target))
    lo = np.ceil(floor * 100 - 1e-6)
    hi = np.where(np.isfinite(ceiling), np.floor(ceiling * 100 + 1e-6), float(shared_pence))
    if np.any(lo > hi):
        raise AllocationError(f"the group {_row_name(source, int(np.flatnonzero(lo > hi)[0]))} has a floor above "
                              "its ceiling (max_growth below min_growth, or too far below target for max_growth "
                              "to reach the floor); raise max_growth or max_below_target")
    if lo.sum() > shared_pence:
        raise AllocationError(
            f"the pace-of-change floors need {floor.sum():,.2f} but the envelope shares {shared:,.2f}; "
            "lower min_growth or raise max_below_target")
    if hi.sum() < shared_pence:
        raise AllocationError(
            f"the growth ceilings allow {ceiling.sum():,.2f} but the envelope shares {shared:,.2f}; raise max_growth")
    floor = lo / 100.0  # the bounds to the penny, so rounding cannot cross them
    ceiling = np.where(np.isfinite(ceiling), hi / 100.0, np.inf)
    gap = np.maximum(target - floor, 0.0)
    closed = np.minimum(ceiling, floor + gap)
    exact = _fill(floor, gap, closed, shared)
    if exact is None:
        exact = _fill(closed, target, ceiling, shared)
    if exact is None:
        raise AllocationError("the growth ceilings stop the envelope from being spent: the groups below their "
                              "ceiling have no need; raise max_growth")
    pence = _pennies_within(exact * 100, lo.astype(np.int64), hi.astype(np.int64), shared_pence)
    allocation = pence / 100.0

    out = pd.DataFrame({"exposure": exposure, "risk": risk, "area_factor": area, "need": need},
                       index=pd.Index(g["group"], name="group"))
    if unmet is not None:
        out["unmet_need"] = unmet
    out["target_share"] = share
    out["target"] = target
    if baseline is not None:
        out["baseline"] = baseline
        out["baseline_distance_from_target"] = (baseline - target) / target
    out["floor"] = floor
    out["ceiling"] = ceiling
    out["allocation"] = allocation
    out["allocation_pence"] = pence
    if baseline is not None:
        out["growth"] = allocation / baseline - 1.0
    out["distance_from_target"] = (allocation - target) / target
    return AllocationResult(out, float(envelope), pool_pence / 100.0)


@dataclass(frozen=True, eq=False)
class AllocationPath:
    """Allocations over several years; ``summary`` is indexed by ``(year, group)``."""

    years: tuple
    results: tuple

    @property
    def summary(self) -> pd.DataFrame:
        cols = ["target", "baseline", "allocation", "allocation_pence", "growth", "distance_from_target"]
        return pd.concat({y: r.summary[[c for c in cols if c in r.summary]] for y, r in zip(self.years, self.results)},
                         names=["year", "group"])

    @property
    def totals(self) -> dict:
        return {"years": len(self.years),
                "largest_distance_below": {y: r.totals["largest_distance_below"] for y, r in
                                           zip(self.years, self.results)}}


def allocation_path(groups: pd.DataFrame, envelopes, *, years=None, max_below_target=None, high_cost_pool=0.0,
                    source: str = "groups", **rules) -> AllocationPath:
    """Allocate year after year, each year's allocation the next year's ``baseline`` (a convergence path).

    Parameters
    ----------
    groups : DataFrame
        As for :func:`allocate`; ``baseline`` is the allocation of the year before the first.
    envelopes : sequence of float
        Envelope of each year (currency, whole pennies).
    years : sequence, optional
        Labels of the years (default 1, 2, ...).
    max_below_target : float or sequence of float, optional
        Largest distance below target, one for all years or one per year (a glide path, e.g.
        ``[0.05, 0.03, 0.0]`` brings every group to target in the third year).
    high_cost_pool : float or sequence of float
        Pool top-sliced each year (one amount or one per year).
    **rules
        ``min_growth``, ``max_growth``, ``unmet_need_share`` as for :func:`allocate`, the same each year.

    Examples
    --------
    >>> g = pd.DataFrame({"group": ["A", "B"], "exposure": [1000, 1000], "risk": [1.2, 0.8],
    ...                   "baseline": [480_000, 520_000]})
    >>> p = allocation_path(g, [1_030_000, 1_060_000], min_growth=0.01, max_growth=0.04)
    >>> p.summary["allocation"].tolist()
    [499200.0, 530800.0, 519168.0, 540832.0]
    """
    envelopes = list(envelopes)
    n = len(envelopes)
    if n == 0:
        raise AllocationError("give at least one year's envelope")
    years = tuple(range(1, n + 1)) if years is None else tuple(years)
    per_year = {}
    for name, value in (("max_below_target", max_below_target), ("high_cost_pool", high_cost_pool)):
        values = list(value) if np.ndim(value) else [value] * n
        if len(values) != n:
            raise AllocationError(f"{name}: give one value, or one per year ({n}); got {len(values)}")
        per_year[name] = values
    if len(years) != n:
        raise AllocationError(f"years: give one label per envelope ({n}); got {len(years)}")
    g = groups.copy()
    results = []
    for k in range(n):
        r = allocate(g, envelopes[k], max_below_target=per_year["max_below_target"][k],
                     high_cost_pool=per_year["high_cost_pool"][k], source=source, **rules)
        results.append(r)
        g = g.assign(baseline=r.summary["allocation_pence"].to_numpy() / 100.0)
    return AllocationPath(years, tuple(results))
