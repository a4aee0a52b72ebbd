"""Outturn forecast per consortium against budget, the probability of overspend, and actual vs expected.

Outturn for the financial year to date (the months from the start of the financial year that
contains the as-of date up to the as-of month):

    outturn = paid to date + IBNR        (over every service line of the consortium)

compared with the budget for the same months. The range comes from the simulated IBNR
(bootstrap samples summed over the consortium's services and months, each sample shifted to the
selected estimate): ``outturn_p75``, ``outturn_p95`` and ``prob_overspend`` = the share of
simulations in which paid + IBNR exceeds the budget. Summing samples across service lines treats
the service lines as independent (their bootstrap streams are independent).

Flags (the early warning for the Commissioning Board): ``red`` when overspend is more likely than
not (probability >= ``red``, default 0.5), ``amber`` when it is a real possibility
(>= ``amber``, default 0.2), ``green`` otherwise; ``no budget`` when the budget does not cover
every month of the period.

Actual against expected: each run stores, per segment and incurred month, the payments it
expects in the month after its as-of date (:func:`expected_next_payments`). The next month's
run compares what was actually paid on those incurred months with that expectation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from reserving.errors import ReservingError


def financial_year_months(as_of, fy_start_month: int = 4) -> pd.PeriodIndex:
    """Months from the start of the financial year containing ``as_of`` to its month.

    Examples
    --------
    >>> list(financial_year_months("2024-06-30").astype(str))
    ['2024-04', '2024-05', '2024-06']
    >>> len(financial_year_months("2025-02-28"))
    11
    """
    month = pd.Timestamp(as_of).to_period("M")
    start_year = month.year if month.month >= fy_start_month else month.year - 1
    start = pd.Period(year=start_year, month=fy_start_month, freq="M")
    return pd.period_range(start, month, freq="M", name="month")


@dataclass(frozen=True)
class OutturnResult:
    """Outturn against budget per consortium for ``months``.

    ``summary`` columns: consortium, budget, paid, ibnr, outturn, outturn_p75, outturn_p95,
    variance (outturn - budget), variance_pct, prob_overspend, flag.
    ``totals``: the same summed over consortia (the national position; its probability uses the
    national sum of the samples).
    """

    summary: pd.DataFrame
    totals: pd.Series
    months: pd.PeriodIndex


def outturn(
    consortia,
    paid,
    ibnr,
    ibnr_samples,
    budget,
    months: pd.PeriodIndex,
    amber: float = 0.2,
    red: float = 0.5,
) -> OutturnResult:
    """Outturn forecast, range and probability of overspend per consortium.

    Parameters
    ----------
    consortia : sequence of str
    paid, ibnr : array_like (n_consortia,)
        Paid to date and selected IBNR over the period's incurred months (currency).
    ibnr_samples : array_like (n_consortia, n_sims)
        Simulated IBNR over the same months, centred on ``ibnr``.
    budget : array_like (n_consortia,)
        Budget for the period; NaN where there is none.
    months : PeriodIndex
        The period (for labels).
    amber, red : float
        Probability-of-overspend thresholds for the flags.

    Examples
    --------
    >>> r = outturn(["A", "B"], [90., 50.], [10., 5.], [[0., 10., 20.], [0., 5., 10.]], [105., np.nan],
    ...             financial_year_months("2024-06-30"))
    >>> r.summary[["outturn", "prob_overspend", "flag"]].values.tolist()
    [[100.0, 0.3333333333333333, 'amber'], [55.0, nan, 'no budget']]
    """
    paid = np.asarray(paid, dtype=float)
    ibnr = np.asarray(ibnr, dtype=float)
    samples = np.asarray(ibnr_samples, dtype=float)
    budget = np.asarray(budget, dtype=float)
    if samples.ndim != 2 or samples.shape[0] != len(paid):
        raise ReservingError(f"ibnr_samples must be (n_consortia, n_sims) = ({len(paid)}, n); got {samples.shape}")
    if not 0 < amber <= red <= 1:
        raise ReservingError(f"the overspend thresholds need 0 < amber ({amber}) <= red ({red}) <= 1")
    total = paid[:, None] + samples
    has_budget = np.isfinite(budget)
    prob = np.where(has_budget, (total > np.where(has_budget, budget, 0)[:, None]).mean(axis=1), np.nan)
    out = paid + ibnr
    summary = pd.DataFrame({
        "consortium": list(consortia), "budget": budget, "paid": paid, "ibnr": ibnr, "outturn": out,
        "outturn_p75": paid + np.quantile(samples, 0.75, axis=1),
        "outturn_p95": paid + np.quantile(samples, 0.95, axis=1),
        "variance": out - budget, "variance_pct": (out - budget) / budget,
        "prob_overspend": prob, "flag": _flags(prob, has_budget, amber, red),
    })
    nat = samples[has_budget].sum(axis=0) + paid[has_budget].sum()
    b_nat = budget[has_budget].sum()
    totals = pd.Series({
        "budget": b_nat, "paid": paid.sum(), "ibnr": ibnr.sum(), "outturn": out.sum(),
        "outturn_budgeted": out[has_budget].sum(),
        "prob_overspend": float((nat > b_nat).mean()) if has_budget.any() else np.nan,
        "red": int((summary["flag"] == "red").sum()), "amber": int((summary["flag"] == "amber").sum()),
    })
    return OutturnResult(summary, totals, months)


def _flags(prob, has_budget, amber, red) -> list[str]:
    return ["no budget" if not ok else "red" if p >= red else "amber" if p >= amber else "green"
            for p, ok in zip(prob, has_budget)]


def period_budget(budget: pd.DataFrame, consortia, months: pd.PeriodIndex) -> np.ndarray:
    """Budget per consortium summed over ``months``; NaN unless every month has a budget.

    ``budget`` has columns consortium, month, budget.

    Examples
    --------
    >>> b = pd.DataFrame({"consortium": ["A", "A", "B"], "month": ["2024-05", "2024-06", "2024-06"],
    ...                   "budget": [10., 20., 5.]})
    >>> period_budget(b, ["A", "B", "C"], pd.period_range("2024-05", "2024-06", freq="M")).tolist()
    [30.0, nan, nan]
    """
    b = budget.assign(month=pd.PeriodIndex(budget["month"].astype(str), freq="M"),
                      consortium=budget["consortium"].astype(str))
    b = b[b["month"].isin(months)]
    sums = b.groupby("consortium")["budget"].sum()
    n = b.groupby("consortium")["month"].nunique()
    full = n[n == len(months)].index
    return sums.reindex(full).reindex(pd.Index([str(c) for c in consortia])).to_numpy(float)


def expected_next_payments(ibnr, completion_now, completion_next) -> np.ndarray:
    """Payments expected in the next month: IBNR times the share of the unpaid part paid next.

    With completion factors ``c_k`` (share paid by the latest lag) and ``c_{k+1}`` (one lag on),
    the next month is expected to pay ``(c_{k+1} - c_k) / (1 - c_k)`` of what is unpaid.
    Fully developed origins (``c_k >= 1``) expect nothing.

    Examples
    --------
    >>> expected_next_payments([40., 0.], [0.6, 1.0], [0.8, 1.0]).round(6).tolist()
    [20.0, 0.0]
    """
    ibnr = np.asarray(ibnr, dtype=float)
    c0 = np.asarray(completion_now, dtype=float)
    c1 = np.asarray(completion_next, dtype=float)
    open_ = c0 < 1
    share = np.divide(c1 - c0, 1 - c0, out=np.zeros_like(ibnr), where=open_)
    return np.where(open_, ibnr * np.clip(share, 0.0, 1.0), 0.0)


def actual_vs_expected(current: pd.DataFrame, previous: pd.DataFrame) -> pd.DataFrame:
    """Per consortium: payments since the previous run on the incurred months it knew, against its expectation.

    ``current`` and ``previous`` are estimates tables (consortium, service, origin, paid, and in
    ``previous`` ``expected_next``). Use it when the previous run's as-of month is the month
    before the current one. Columns: consortium, actual, expected, actual_minus_expected, ratio.

    Examples
    --------
    >>> prev = pd.DataFrame({"consortium": ["A"], "service": ["er"], "origin": ["2024-01-01"],
    ...                      "paid": [50.0], "expected_next": [20.0]})
    >>> cur = pd.DataFrame({"consortium": ["A", "A"], "service": ["er", "er"],
    ...                     "origin": ["2024-01-01", "2024-02-01"], "paid": [75.0, 10.0]})
    >>> actual_vs_expected(cur, prev)[["actual", "expected", "ratio"]].values.tolist()
    [[25.0, 20.0, 1.25]]
    """
    key = ["consortium", "service", "origin"]
    cur = current.assign(origin=pd.to_datetime(current["origin"].astype(str)))
    prev = previous.assign(origin=pd.to_datetime(previous["origin"].astype(str)))
    both = cur[key + ["paid"]].merge(prev[key + ["paid", "expected_next"]], on=key, suffixes=("", "_prev"))
    both["actual"] = both["paid"] - both["paid_prev"]
    g = both.groupby("consortium")[["actual", "expected_next"]].sum().rename(columns={"expected_next": "expected"})
    g["actual_minus_expected"] = g["actual"] - g["expected"]
    g["ratio"] = np.divide(g["actual"], g["expected"], out=np.full(len(g), np.nan), where=g["expected"].to_numpy() != 0)
    return g.reset_index()
