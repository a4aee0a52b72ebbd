"""The Board's failure regimen: rules on the full-year forecast, evaluated every night, and the actions they call for.

A rule table (``--regimen FILE``, CSV or Parquet; :data:`DEFAULT_RULES` when none is given) has one
row per rule:

==============  ==================================================================================
``rule``        a name for the rule
``measure``     one of :data:`MEASURES` (below), per consortium
``threshold``   the rule fires when the measure is at or above it
``runs``        ... in this many consecutive runs, this one and the latest run of each earlier
                as-of date (blank: 1; ``flag_red`` counts runs, its threshold is not used)
``action``      what the Board asks for, in words ("recovery plan", "reinsurance review")
==============  ==================================================================================

Measures: ``flag_red`` (the forecast flag is red), ``prob_deficit_net`` (probability of a deficit
net of cover), ``capital_share`` (``capital_995`` / the year's budget), ``expected_deficit_share``
(``expected_deficit`` / budget). Only ``flag_red`` and ``prob_deficit_net`` can span runs (the
history keeps them); the shares apply to this run (their ``runs`` must be 1).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from _kit.tables import read_table
from _kit.validate import numeric_column, reject_unknown_columns, require_columns
from reserving.errors import ReservingError

MEASURES = ("flag_red", "prob_deficit_net", "capital_share", "expected_deficit_share")
_IN_HISTORY = ("flag_red", "prob_deficit_net")
#: The rules used when no rule table is given.
DEFAULT_RULES = pd.DataFrame({
    "rule": ["red three runs running", "capital need above 5% of budget"],
    "measure": ["flag_red", "capital_share"], "threshold": [np.nan, 0.05], "runs": [3, 1],
    "action": ["recovery plan", "reinsurance review"],
})
ACTION_COLUMNS = ["consortium", "rule", "action", "evidence"]


def read_rules(source) -> pd.DataFrame:
    """The rule table (path or DataFrame), checked; ``runs`` blank is 1.

    Examples
    --------
    >>> read_rules(DEFAULT_RULES)["runs"].tolist()
    [3, 1]
    >>> read_rules(pd.DataFrame({"rule": ["x"], "measure": ["capital"], "threshold": [1], "action": ["a"]}))
    Traceback (most recent call last):
    ...
    reserving.errors.ReservingError: regimen table, column 'measure': 'capital' (row 0) is not one of flag_red, prob_deficit_net, capital_share, expected_deficit_share
    """
    if isinstance(source, pd.DataFrame):
        frame, name = source.copy(), "regimen table"
    else:
        frame, name = read_table(source, "regimen file", error=ReservingError), source
    require_columns(frame, ["rule", "measure", "action"], name, error=ReservingError)
    reject_unknown_columns(frame, ["rule", "measure", "threshold", "runs", "action"], name, error=ReservingError)
    out = pd.DataFrame({c: frame[c].astype("string").str.strip() for c in ("rule", "measure", "action")})
    for row, m in enumerate(out["measure"]):
        if m not in MEASURES:
            raise ReservingError(f"{m!r} (row {row}) is not one of {', '.join(MEASURES)}", file=name, column="measure")
    out["threshold"] = numeric_column(frame, "threshold", name, ReservingError, low=0, allow_missing=True) \
        if "threshold" in frame else np.nan
    runs = numeric_column(frame, "runs", name, ReservingError, low=1, allow_missing=True) if "runs" in frame else \
        np.ones(len(frame))
    out["runs"] = np.nan_to_num(runs, nan=1.0).astype(int)
    need = (out["measure"] != "flag_red") & out["threshold"].isna()
    if need.any():
        raise ReservingError(f"rule {out['rule'][need].iloc[0]!r} needs a threshold", file=name, column="threshold")
    spans = ~out["measure"].isin(_IN_HISTORY) & (out["runs"] > 1)
    if spans.any():
        raise ReservingError(f"rule {out['rule'][spans].iloc[0]!r}: a share of budget applies to this run only "
                             "(runs 1)", file=name, column="runs")
    return out


def evaluate(rules: pd.DataFrame, forecast: pd.DataFrame, history: pd.DataFrame | None) -> pd.DataFrame:
    """Actions called for tonight: consortium, rule, action, evidence (in words).

    ``forecast`` is this run's forecast table (``forecast.csv`` columns); ``history`` the earlier runs'
    (as_of, consortium, prob_deficit_net, flag), latest run per as-of date, or None.

    Examples
    --------
    >>> f = pd.DataFrame({"consortium": ["A", "B"], "flag": ["red", "red"], "prob_deficit_net": [0.7, 0.6],
    ...                   "capital_995": [8.0, 1.0], "expected_deficit": [1.0, 1.0], "budget_year": [100.0, 100.0]})
    >>> h = pd.DataFrame({"as_of": ["2024-05-31", "2024-06-30"] * 2, "consortium": ["A", "A", "B", "B"],
    ...                   "prob_deficit_net": [0.6, 0.6, 0.1, 0.6], "flag": ["red", "red", "green", "red"]})
    >>> evaluate(read_rules(DEFAULT_RULES), f, h)[["consortium", "action"]].values.tolist()
    [['A', 'recovery plan'], ['A', 'reinsurance review']]
    """
    past = history if history is not None and len(history) else pd.DataFrame(
        columns=["as_of", "consortium", "prob_deficit_net", "flag"])
    dates = sorted(pd.to_datetime(past["as_of"]).unique(), reverse=True)
    past = past.assign(as_of=pd.to_datetime(past["as_of"]))
    budget = forecast["budget_year"].to_numpy(float)
    current = {
        "flag_red": (forecast["flag"] == "red").to_numpy(float),
        "prob_deficit_net": forecast["prob_deficit_net"].to_numpy(float),
        "capital_share": np.divide(forecast["capital_995"].to_numpy(float), budget,
                                   out=np.full(len(budget), np.nan), where=budget > 0),
        "expected_deficit_share": np.divide(forecast["expected_deficit"].to_numpy(float), budget,
                                            out=np.full(len(budget), np.nan), where=budget > 0),
    }
    rows = []
    for rule in rules.itertuples():
        threshold = 1.0 if rule.measure == "flag_red" else rule.threshold
        fires = current[rule.measure] >= threshold
        if rule.runs > 1:
            earlier = dates[:rule.runs - 1]
            if len(earlier) < rule.runs - 1:
                continue
            for d in earlier:
                then = past[past["as_of"] == d].set_index("consortium")
                value = (then["flag"] == "red").astype(float) if rule.measure == "flag_red" else then[rule.measure]
                fires &= value.reindex(forecast["consortium"].astype(str)).fillna(-np.inf).to_numpy() >= threshold
        for c in np.flatnonzero(fires):
            rows.append({"consortium": str(forecast["consortium"].iloc[c]), "rule": rule.rule, "action": rule.action,
                         "evidence": _evidence(rule, current[rule.measure][c])})
    return pd.DataFrame(rows, columns=ACTION_COLUMNS)


def _evidence(rule, value: float) -> str:
    runs = f" in each of the latest {rule.runs} runs" if rule.runs > 1 else ""
    if rule.measure == "flag_red":
        return f"flagged red{runs or ' tonight'}"
    what = {"prob_deficit_net": "probability of a deficit net of cover",
            "capital_share": "capital need (99.5%) as a share of budget",
            "expected_deficit_share": "expected deficit as a share of budget"}[rule.measure]
    return f"{what} {value:.1%} tonight, at or above {rule.threshold:.1%}{runs}"
