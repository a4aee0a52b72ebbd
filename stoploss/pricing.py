"""Price a table of groups: specific and aggregate stop-loss, loadings and credibility per group.

Input columns (one row per group; blank optional cells take the default in brackets):

    group                      identifier printed in the output
    members                    average members over the contract year
    claimant_rate              probability a member has any cost in the year
    mean_cost, cv              mean and coefficient of variation of a claimant's annual cost
                               (lognormal), at experience level, currency per year
    specific_attachment        specific attachment per member per year
    specific_limit             layer maximum above it [none]
    aggregate_pct              aggregate attachment as a share of expected retained cost [1.25]
    annual_trend, trend_months cost trend and months from experience to contract midpoint [0, 0]
    basis                      incurred, 12/12, 12/15 or 12/24 [incurred]
    large_claim_threshold      experience cost above which a claimant's cost trends and is paid
                               differently [none: one uniform trend and basis]
    large_claim_trend          annual trend above the threshold [annual_trend]
    large_claim_lag_months     months by which the payment of costs above the threshold lags the
                               rest (the default pattern delayed) [0]
    common_shock_cv            CV of the common shock for the aggregate cover [0]
    expense_pct, sd_multiple, coc_rate   loadings [0, 0, 0]
    experience_pmpm, experience_member_years, credibility_k
                               the group's own specific claims PMPM, its exposure and the
                               Bühlmann-Straub constant k = s^2/a in member-years [no blend]

Lasers (optional) are rows of (group, member_key, attachment); the keys are pseudonymous and
are only counted, never written out.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from math import inf

import numpy as np
import pandas as pd

from _kit.validate import csv_line, reject_unknown_columns, require_columns
from stoploss.aggregate_premium import AggregatePremium, aggregate_premium
from stoploss.banded import SizeBands
from stoploss.contract import BASES, DEFAULT_PAYMENT_PATTERN, covered_fraction, trend_factor
from stoploss.credibility import credibility_weight
from stoploss.errors import StopLossError
from stoploss.loadings import Loadings
from stoploss.severity import Lognormal, Severity
from stoploss.specific import SpecificPremium, specific_premium

REQUIRED = ("group", "members", "claimant_rate", "mean_cost", "cv", "specific_attachment")
DEFAULTS = {"specific_limit": inf, "aggregate_pct": 1.25, "annual_trend": 0.0, "trend_months": 0.0,
            "basis": "incurred", "large_claim_threshold": inf, "large_claim_trend": np.nan,
            "large_claim_lag_months": 0.0, "common_shock_cv": 0.0, "expense_pct": 0.0, "sd_multiple": 0.0,
            "coc_rate": 0.0, "experience_pmpm": np.nan, "experience_member_years": 0.0, "credibility_k": np.nan}


def lognormal_from_mean_cv(mean: float, cv: float) -> Lognormal:
    """Lognormal with the given mean and coefficient of variation."""
    if not (mean > 0 and cv > 0):
        raise StopLossError(f"mean_cost and cv must be positive, got {mean!r} and {cv!r}.")
    s2 = np.log1p(cv * cv)
    return Lognormal(float(np.log(mean) - 0.5 * s2), float(np.sqrt(s2)))


#: Rules for the numeric columns: (test on the parsed values, what the message says they must be).
#: Blank experience_pmpm / credibility_k cells are allowed (no credibility blend); other blanks
#: have taken their default already.
RULES = {
    "members": (lambda v: (v > 0) & (v <= 1e8) & (v == np.floor(v)),
                "a whole number of members, 1 to 100 million"),
    "claimant_rate": (lambda v: (v > 0) & (v <= 1), "positive and at most 1"),
    "mean_cost": (lambda v: (v > 0) & np.isfinite(v), "positive"),
    "cv": (lambda v: (v > 0) & np.isfinite(v), "positive"),
    "specific_attachment": (lambda v: (v > 0) & np.isfinite(v), "positive"),
    "specific_limit": (lambda v: v > 0, "positive, or blank for no layer maximum"),
    "aggregate_pct": (lambda v: (v > 0) & np.isfinite(v), "a positive share, e.g. 1.25 for 125%"),
    "annual_trend": (lambda v: (v > -1) & np.isfinite(v), "a finite rate above -1"),
    "trend_months": (lambda v: np.isfinite(v), "a finite number of months"),
    "large_claim_threshold": (lambda v: v > 0, "positive, or blank for no size bands"),
    "large_claim_trend": (lambda v: v.isna() | ((v > -1) & np.isfinite(v)), "a finite rate above -1, or blank"),
    "large_claim_lag_months": (lambda v: (v >= 0) & (v <= 24) & (v == np.floor(v)),
                               "a whole number of months from 0 to 24"),
    "common_shock_cv": (lambda v: (v >= 0) & np.isfinite(v), "a finite CV >= 0"),
    "expense_pct": (lambda v: (v >= 0) & (v < 1), "a share in [0, 1), e.g. 0.12 for 12%"),
    "sd_multiple": (lambda v: (v >= 0) & np.isfinite(v), "finite and >= 0"),
    "coc_rate": (lambda v: (v >= 0) & np.isfinite(v), "finite and >= 0"),
    "experience_pmpm": (lambda v: v.isna() | ((v >= 0) & np.isfinite(v)), "finite and >= 0, or blank"),
    "experience_member_years": (lambda v: (v >= 0) & np.isfinite(v), "finite and >= 0"),
    "credibility_k": (lambda v: v.isna() | ((v >= 0) & np.isfinite(v)), "finite and >= 0, or blank"),
}
BASIS_VALUES = ("incurred", *sorted(BASES))


def _row_error(message: str, source, row: int, *, column=None, group=None) -> StopLossError:
    """The error for data row ``row`` (0-based) of ``source``: named by its line in a CSV file, else by
    its position; the group (never a member key) as the segment."""
    line = csv_line(source, row)
    return StopLossError(message if line else f"{message} (row {row})", file=source, line=line, column=column,
                         segment=None if pd.isna(group) else group)


def _shown(value) -> str:
    """A cell's value as written in a message: ``-1.0``, ``'abc'`` (numpy scalars as plain numbers)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _first_bad(df: pd.DataFrame, bad: pd.Series, source, col: str, rule: str) -> None:
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise _row_error(f"value {_shown(df[col].iloc[row])} is not valid (must be {rule})", source, row, column=col,
                         group=df["group"].iloc[row])


def validate_groups(groups: pd.DataFrame, source="groups table") -> pd.DataFrame:
    """Check the columns and values of a groups table and fill the defaults of blank optional cells.

    Parameters
    ----------
    groups : DataFrame
        One row per group (columns in the module docstring).
    source : str or path
        The file it was read from (a ``.csv`` name makes errors give the line), or a description.

    Raises
    ------
    StopLossError
        A missing or unknown column, or an invalid value; the message names the file, line (or row),
        column and group.

    Examples
    --------
    >>> from stoploss.cli import sample_groups
    >>> bad = sample_groups().head(3)
    >>> bad.loc[1, "cv"] = -1.0
    >>> validate_groups(bad, "groups.csv")
    Traceback (most recent call last):
    ...
    stoploss.errors.StopLossError: groups.csv, line 3, column 'cv', segment G002: value -1.0 is not valid (must be positive)
    """
    require_columns(groups, REQUIRED, source, StopLossError)
    reject_unknown_columns(groups, REQUIRED + tuple(DEFAULTS), source, StopLossError)
    df = groups.copy()
    for col, default in DEFAULTS.items():
        df[col] = df[col].fillna(default) if col in df.columns else default
    for col, (ok, rule) in RULES.items():
        values = pd.to_numeric(df[col], errors="coerce")
        unparsed = values.isna() & df[col].notna()
        _first_bad(df, unparsed | ~ok(values).astype(bool), source, col, rule)
        df[col] = values.astype(float)
    df["basis"] = df["basis"].astype(str).str.strip()
    _first_bad(df, ~df["basis"].isin(BASIS_VALUES), source, "basis", f"one of {', '.join(BASIS_VALUES)}")
    again = df["group"].duplicated(keep=False).to_numpy()
    if again.any():
        first, second = np.flatnonzero(again)[:2]
        where = csv_line(source, int(first))
        raise _row_error(f"the group appears again (first at {f'line {where}' if where else f'row {first}'}); "
                         "keep one row per group", source, int(second), column="group", group=df["group"].iloc[second])
    return df


def _lasers_by_group(lasers: pd.DataFrame | None, groups: pd.DataFrame, source="lasers table") -> dict:
    """Lasers of each group as {group: {member_key: attachment}}, checked against the validated groups.

    Errors give the lasers file's line (or row) and the group, never the member key.
    """
    if lasers is None:
        return {}
    require_columns(lasers, ("group", "member_key", "attachment"), source, StopLossError)
    group_attachment = dict(zip(groups["group"], groups["specific_attachment"]))
    attachments = pd.to_numeric(lasers["attachment"], errors="coerce").to_numpy(dtype=float)
    first_row: dict = {}
    out: dict = {}
    for i, (group, key) in enumerate(zip(lasers["group"], lasers["member_key"])):
        if group not in group_attachment:
            raise _row_error("the group is not in the groups file", source, i, column="group", group=group)
        if pd.isna(key) or not str(key).strip():
            raise _row_error("member_key is empty", source, i, column="member_key", group=group)
        if (group, key) in first_row:
            first = first_row[group, key]
            where = csv_line(source, first)
            raise _row_error(f"the same member is lasered again (first at {f'line {where}' if where else f'row {first}'}); "
                             "keep one row per member", source, i, column="member_key", group=group)
        first_row[group, key] = i
        value = attachments[i]
        if not (np.isfinite(value) and value > 0):
            raise _row_error(f"value {_shown(lasers['attachment'].iloc[i])} is not a positive number", source, i,
                             column="attachment", group=group)
        if value < group_attachment[group]:
            raise _row_error(f"laser attachment {value:,.0f} is below the group's specific attachment "
                             f"{group_attachment[group]:,.0f}; a laser must raise it", source, i, column="attachment",
                             group=group)
        out.setdefault(group, {})[key] = float(value)
    return out


def size_bands(row) -> SizeBands | None:
    """The group's trend and payment pattern by claim size (None without a ``large_claim_threshold``).

    Below the threshold: ``annual_trend`` and the default pattern; above it: ``large_claim_trend`` and
    the default pattern delayed by ``large_claim_lag_months``.
    """
    threshold = float(row.large_claim_threshold)
    if not np.isfinite(threshold):
        return None
    large = float(row.large_claim_trend) if np.isfinite(float(row.large_claim_trend)) else float(row.annual_trend)
    lag = int(row.large_claim_lag_months)
    late = np.concatenate([np.zeros(lag), DEFAULT_PAYMENT_PATTERN])
    return SizeBands((threshold,), (float(row.annual_trend), large), (None, late))


def covered_severity(row) -> Severity:
    """A claimant's covered annual cost after trend and contract basis (uniform, or by claim-size band)."""
    severity = lognormal_from_mean_cv(row.mean_cost, row.cv)
    bands = size_bands(row)
    if bands is None:
        return severity.scaled(covered_fraction(str(row.basis)) * trend_factor(float(row.annual_trend),
                                                                              float(row.trend_months)))
    return bands.severities(severity, basis=str(row.basis), payment_pattern=None, annual_trend=float(row.annual_trend),
                            trend_months=float(row.trend_months))[1]


def price_group(row, lasers: dict | None = None, n_buckets: int = 2**13,
                max_buckets: int = 2**14) -> tuple[SpecificPremium, AggregatePremium]:
    """Specific and aggregate premiums of one validated group row (a namedtuple or Series).

    The aggregate lattice starts at ``n_buckets`` and may double up to ``max_buckets`` to bring
    the premium's error estimate under 1e-3; the estimate reached is in the output table.
    """
    severity = lognormal_from_mean_cv(row.mean_cost, row.cv)
    loads = Loadings(float(row.expense_pct), float(row.sd_multiple), float(row.coc_rate))
    common = dict(annual_trend=float(row.annual_trend), trend_months=float(row.trend_months), basis=str(row.basis))
    bands = size_bands(row)
    spec = specific_premium(severity, float(row.members), float(row.specific_attachment),
                            limit=float(row.specific_limit), claimant_rate=float(row.claimant_rate),
                            lasers=lasers, loadings=loads, size_bands=bands, **common)
    if bands is not None:  # the aggregate cover sees the same covered cost, trended and on basis already
        severity, common = covered_severity(row), {}
    agg = aggregate_premium(severity, int(row.members), float(row.aggregate_pct),
                            claimant_rate=float(row.claimant_rate),
                            specific_attachment=float(row.specific_attachment),
                            specific_limit=float(row.specific_limit), lasers=list((lasers or {}).values()),
                            common_shock_cv=float(row.common_shock_cv),
                            loadings=loads, n_buckets=n_buckets, max_buckets=max_buckets, **common)
    return spec, agg


def price_groups(groups: pd.DataFrame, lasers: pd.DataFrame | None = None, *, threads: int = 2,
                 keep_distributions: bool = False, n_buckets: int = 2**13, groups_source="groups table",
                 lasers_source="lasers table"):
    """Price every group; returns the priced table (and the per-group results if asked).

    Parameters
    ----------
    groups : DataFrame
        One row per group (columns in the module docstring); validated by :func:`validate_groups`.
    lasers : DataFrame, optional
        Rows of (group, member_key, attachment).
    threads : int
        Groups priced in parallel.
    keep_distributions : bool
        Also return each group's (SpecificPremium, AggregatePremium).
    n_buckets : int
        Starting lattice size of the aggregate distribution.
    groups_source, lasers_source : str or path
        Where the tables came from, for error messages (a ``.csv`` name gives lines).

    Raises
    ------
    StopLossError
        Invalid input, or a group that cannot be priced; the message names the file, line and group.

    Examples
    --------
    >>> from stoploss.cli import sample_groups
    >>> table = price_groups(sample_groups().head(2))
    >>> list(table["group"])
    ['G001', 'G002']
    """
    df = validate_groups(groups, groups_source)
    by_group = _lasers_by_group(lasers, df, lasers_source)

    def price(row_number, r):
        try:
            return price_group(r, by_group.get(r.group), n_buckets)
        except StopLossError as exc:
            raise _row_error(exc.message, groups_source, row_number, group=r.group) from None

    rows = list(df.itertuples(index=False))
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        results = list(pool.map(price, range(len(rows)), rows))
    table = pd.DataFrame([_row(r, spec, agg) for r, (spec, agg) in zip(rows, results)])
    return (table, results) if keep_distributions else table


def _row(r, spec: SpecificPremium, agg: AggregatePremium) -> dict:
    k = float(r.credibility_k)
    own = float(r.experience_pmpm)
    z = float(credibility_weight(float(r.experience_member_years), k)) if np.isfinite(k) and np.isfinite(own) else 0.0
    blended = z * own + (1 - z) * spec.pmpm if z > 0 else spec.pmpm
    member_months = spec.members * 12.0
    return {
        "group": r.group, "members": int(r.members), "basis": r.basis, "covered_share": spec.covered_share,
        "large_claim_threshold": float(r.large_claim_threshold),
        "specific_attachment": spec.attachment, "specific_limit": spec.limit,
        "specific_excess_per_member_year": spec.excess_per_member_year, "specific_pmpm": spec.pmpm,
        "claimants_per_1000": spec.claimants_per_1000, "cost_trend": spec.cost_trend,
        "leveraged_trend": spec.leveraged_trend, "lasers": spec.n_lasers, "laser_credit": spec.laser_credit,
        "specific_expected": spec.expected, "specific_sd": spec.sd, "specific_tvar99": spec.tvar,
        "specific_gross": spec.gross, "specific_gross_pmpm": spec.gross / member_months,
        "credibility_z": z, "specific_blended_pmpm": blended,
        "expected_retained": agg.expected_retained, "aggregate_pct": agg.attachment_pct,
        "aggregate_attachment": agg.attachment, "aggregate_expected": agg.expected, "aggregate_sd": agg.sd,
        "aggregate_prob_exceed": agg.prob_exceed, "aggregate_gross": agg.gross,
        "aggregate_gross_pmpm": agg.gross / member_months, "common_shock_cv": agg.common_shock_cv,
        "aggregate_error_estimate": agg.error_estimate,
        "lattice_moment_error": float(np.abs(agg.retained.moment_errors()).max()),
    }
