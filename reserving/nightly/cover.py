"""Stop-loss cover per consortium, applied to the simulated financial year (``--cover FILE``).

The cover file has one row per consortium; every column but ``consortium`` is optional, and a
blank cell means "none" (or, for ``premium``, "not given: price it"):

==============================  ================================================================
``consortium``                  the consortium's name, as in the claim lines
``specific_attachment``         cost per patient per year above which the cover pays (currency)
``specific_limit``              most it pays per patient above the attachment (currency; blank: none)
``specific_coinsurance``        share of the layer it pays (0-1; blank: 1)
``aggregate_attachment_pct``    the year's retained cost (after specific recoveries) above which
                                the aggregate cover pays, as a share of the year's budget (1.1 = 110%)
``aggregate_limit_pct``         most the aggregate cover pays, as a share of the budget (blank: none)
``premium``                     premium paid for the year (currency); blank: priced
==============================  ================================================================

Consortia not in the file have no cover. The simulated year (:mod:`.forecast`) gives the gross
outturn and the recoveries; net outturn = gross - recoveries + premium.

A premium not given is priced by :mod:`stoploss` on the same fitted severity (the consortium's
annual cost per claimant, :func:`.forecast.fit_claimant_severity`) with no loadings (its
expected cost): the specific part with
:func:`stoploss.specific_premium` (claimants: the year's expected cost / mean cost per claimant),
times the coinsurance; the aggregate part with :func:`stoploss.aggregate_premium` on the retained
cost (claimant count approximately Poisson: a binomial over 50 times as many members; the
coinsurance is not taken into the retained cost there).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from _kit.tables import read_table
from _kit.validate import numeric_column, reject_unknown_columns, require_columns
from reserving.errors import ReservingError
from reserving.nightly.forecast import Cover
from stoploss import aggregate_premium, specific_premium

#: Columns of the cover file (``consortium`` required).
COLUMNS = ["consortium", "specific_attachment", "specific_limit", "specific_coinsurance", "aggregate_attachment_pct",
           "aggregate_limit_pct", "premium"]
_RANGES = {"specific_attachment": (0, None), "specific_limit": (0, None), "specific_coinsurance": (0, 1),
           "aggregate_attachment_pct": (0, None), "aggregate_limit_pct": (0, None), "premium": (0, None)}


def read_cover(source) -> pd.DataFrame:
    """The cover table (a path or DataFrame), checked: known columns, numbers in range, one row per consortium.

    Returns every column of :data:`COLUMNS` (NaN where blank or absent).

    Examples
    --------
    >>> read_cover(pd.DataFrame({"consortium": ["A"], "specific_attachment": [250_000]}))["specific_limit"].tolist()
    [nan]
    >>> read_cover(pd.DataFrame({"consortium": ["A"], "specific_coinsurance": [1.5]}))
    Traceback (most recent call last):
    ...
    reserving.errors.ReservingError: cover table, column 'specific_coinsurance': above 1 (row 0)
    """
    if isinstance(source, pd.DataFrame):
        frame, name = source.copy(), "cover table"
    else:
        frame, name = read_table(source, "cover file", error=ReservingError, dtype={"consortium": str}), source
    require_columns(frame, ["consortium"], name, error=ReservingError)
    reject_unknown_columns(frame, COLUMNS, name, error=ReservingError)
    out = pd.DataFrame({"consortium": frame["consortium"].astype("string").str.strip()})
    if out["consortium"].isna().any() or (out["consortium"] == "").any():
        raise ReservingError("a consortium is empty", file=name, column="consortium")
    again = out["consortium"].duplicated()
    if again.any():
        raise ReservingError(f"a consortium appears twice (row {int(np.flatnonzero(again)[0])}); give one row each",
                             file=name, column="consortium")
    for col, (low, high) in _RANGES.items():
        out[col] = numeric_column(frame, col, name, ReservingError, low=low, high=high, allow_missing=True) \
            if col in frame else np.nan
    if (out["aggregate_attachment_pct"] == 0).any():
        raise ReservingError("an aggregate attachment of 0% of budget pays the whole year; leave it blank for none",
                             file=name, column="aggregate_attachment_pct")
    return out


def cover_for(table: pd.DataFrame, consortia):
    """The job's cover hook: ``f(costs, year_mean, budget_year) -> Cover`` for ``consortia`` (in that order).

    ``costs`` are the consortia's fitted severities of annual cost per claimant, ``year_mean``
    the expected gross cost of the year and ``budget_year`` the year's budget (currency, (C,)).
    A consortium with an aggregate cover and no budget is refused.

    Examples
    --------
    >>> t = read_cover(pd.DataFrame({"consortium": ["A"], "specific_attachment": [100.0], "premium": [5.0]}))
    >>> from stoploss import Empirical
    >>> sev = [Empirical(np.ones(10))] * 2
    >>> c = cover_for(t, ["A", "B"])(sev, np.array([10.0, 10.0]), np.array([12.0, 12.0]))
    >>> c.attachment.tolist(), c.premium.tolist()
    ([100.0, inf], [5.0, 0.0])
    """
    rows = table.set_index("consortium").reindex([str(c) for c in consortia])

    def build(costs, year_mean, budget_year) -> Cover:
        inf = np.inf
        att = rows["specific_attachment"].fillna(inf).to_numpy(float)
        lim = rows["specific_limit"].fillna(inf).to_numpy(float)
        coins = rows["specific_coinsurance"].fillna(1.0).to_numpy(float)
        agg_pct = rows["aggregate_attachment_pct"].to_numpy(float)
        has_agg = np.isfinite(agg_pct)
        no_budget = has_agg & ~np.isfinite(budget_year)
        if no_budget.any():
            raise ReservingError(f"consortium {rows.index[np.flatnonzero(no_budget)[0]]} has an aggregate cover "
                                 "(a share of budget) but no budget for every month of the year", column="cover")
        budget = np.where(np.isfinite(budget_year), budget_year, 0.0)
        agg_att = np.where(has_agg, agg_pct * budget, inf)
        agg_lim = np.where(has_agg, rows["aggregate_limit_pct"].fillna(inf).to_numpy(float) * budget, inf)
        agg_lim = np.where(np.isnan(agg_lim), inf, agg_lim)
        premium = rows["premium"].to_numpy(float).copy()
        for c in np.flatnonzero(np.isnan(premium)):
            premium[c] = price(costs[c], year_mean[c], att[c], lim[c], coins[c], agg_att[c])
        return Cover(att, lim, coins, agg_att, agg_lim, premium)

    return build


def price(severity, year_mean: float, attachment: float, limit: float, coinsurance: float,
          aggregate_attachment: float) -> float:
    """Expected cost (no loadings) of a specific and aggregate cover, priced with :mod:`stoploss`.

    ``severity`` the fitted annual cost per claimant (a :class:`stoploss.Severity`), ``year_mean`` the year's expected
    gross cost; ``aggregate_attachment`` in currency (inf: none).

    Examples
    --------
    >>> from stoploss import Empirical
    >>> round(price(Empirical([50.0, 150.0]), 1000.0, 100.0, np.inf, 1.0, np.inf), 6)  # 10 claimants x 25
    250.0
    """
    claimants = year_mean / severity.mean()
    total = 0.0
    if np.isfinite(attachment):
        total += coinsurance * specific_premium(severity, claimants, attachment, limit=limit).expected
    if np.isfinite(aggregate_attachment):
        layer = 0.0 if not np.isfinite(attachment) else float(
            severity.layer(attachment, limit) if np.isfinite(limit) else severity.excess(attachment))
        retained = severity.mean() - layer
        members = max(int(50 * claimants), 1)
        p = aggregate_premium(severity, members, aggregate_attachment / (claimants * retained),
                              claimant_rate=claimants / members, specific_attachment=attachment, specific_limit=limit)
        total += p.expected
    return float(total)
