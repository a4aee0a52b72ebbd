"""The stop-loss pricing page: a summary of the priced groups, the detail folded, and per group its
retained cost distribution and its specific premium curve, drawn with the shared report kit.

It draws the priced table of :func:`stoploss.pricing.price_groups` and the curves of
:mod:`stoploss.pricing_curves`; it prices nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from _kit.charts import line_chart
from _kit.report import (CURRENCY, Column, details, money, money_short, number, page, paragraph, percent,
                         percent_tick, ratio, section, settings, table, tag)


def _small_share(v) -> str:
    return "below 0.01%" if abs(float(v)) < 1e-4 else percent(v, 2)


def _columns(currency: str) -> tuple[list[Column], list[Column], list[Column]]:
    """Key columns, the specific cover's detail and the aggregate cover's detail."""
    def cash(v):
        return money(v, currency)

    def pence(v):
        return money(v, currency, decimals=2)

    key = [Column("members", "Members", number),
           Column("specific_attachment", "Specific attachment", cash),
           Column("specific_gross_pmpm", "Specific premium PMPM", pence),
           Column("aggregate_attachment", "Aggregate attachment (a year)", cash),
           Column("aggregate_gross", "Aggregate premium (a year)", cash),
           Column("total_premium", "Total premium (a year)", cash)]
    specific = [Column("basis", "Contract basis"), Column("covered_share", "Share of claims covered", percent),
                Column("specific_limit", "Specific limit", cash),
                Column("claimants_per_1000", "Claimants over attachment per 1,000", lambda v: number(v, 2)),
                Column("specific_excess_per_member_year", "Expected excess per member-year", pence),
                Column("specific_pmpm", "Expected PMPM", pence),
                Column("specific_blended_pmpm", "Credibility-blended PMPM", pence),
                Column("credibility_z", "Credibility weight", lambda v: ratio(v, 3)),
                Column("large_claim_threshold", "Large claims (own trend and payment) above",
                       lambda v: "no size bands" if not math.isfinite(float(v)) else cash(v)),
                Column("cost_trend", "Cost trend", lambda v: percent(v, 1)),
                Column("leveraged_trend", "Leveraged trend", lambda v: percent(v, 1)),
                Column("lasers", "Lasers", number), Column("laser_credit", "Laser credit", cash),
                Column("specific_expected", "Expected payments (a year)", cash),
                Column("specific_sd", "Standard deviation", cash),
                Column("specific_tvar99", "TVaR 99%", cash), Column("specific_gross", "Gross premium (a year)", cash)]
    aggregate = [Column("expected_retained", "Expected retained cost", cash),
                 Column("aggregate_pct", "Attachment, share of expected", percent),
                 Column("aggregate_expected", "Expected payments", cash),
                 Column("aggregate_sd", "Standard deviation", cash),
                 Column("aggregate_prob_exceed", "Chance of a payment", lambda v: percent(v, 2)),
                 Column("aggregate_gross_pmpm", "Gross premium PMPM", pence),
                 Column("common_shock_cv", "Common shock CV", lambda v: percent(v, 1)),
                 Column("aggregate_error_estimate", "Numerical error of expected payments", pence),
                 Column("lattice_moment_error", "Largest moment error of the lattice", _small_share)]
    return key, specific, aggregate


def _group_charts(group: str, row: pd.Series, exceedance: pd.DataFrame, curve: pd.DataFrame, currency: str):
    short = lambda v: money_short(v, currency)  # noqa: E731
    series = {"independent members": exceedance["independent"]}
    if row["common_shock_cv"] > 0:
        series[f"with common shock (CV {percent(row['common_shock_cv'], 1)})"] = exceedance["with_shock"]
    loss = line_chart(exceedance["cost"], series, title=f"{group}: chance retained cost exceeds an amount",
                      x_label=f"retained annual cost ({currency})", y_label="chance of exceeding",
                      x_format=short, y_format=percent_tick,
                      vlines=[(row["aggregate_attachment"], f"aggregate attachment "
                               f"{short(row['aggregate_attachment'])} ({percent(row['aggregate_pct'])} of expected)")],
                      width=580, css_class="loss-chart")
    premium = line_chart(curve["attachment"], {"expected PMPM": curve["pmpm"]},
                         title=f"{group}: specific premium against attachment",
                         x_label=f"specific attachment ({currency})",
                         y_label=f"expected cost PMPM ({currency})", x_format=short,
                         y_format=lambda v: money(v, currency, decimals=2),
                         vlines=[(row["specific_attachment"],
                                  f"chosen attachment {short(row['specific_attachment'])}")],
                         width=580, css_class="premium-chart")
    return tag("div", loss, premium, class_="charts")


def html_report(table_: pd.DataFrame, exceedance: Sequence[pd.DataFrame], premium_curves: Sequence[pd.DataFrame],
                title: str = "Stop-loss pricing", *, currency: str = CURRENCY) -> str:
    """The priced groups as one self-contained HTML page.

    Parameters
    ----------
    table_ : DataFrame
        The priced table of :func:`stoploss.pricing.price_groups`, one row per group.
    exceedance, premium_curves : sequence of DataFrame
        Per group, in the table's order: :func:`stoploss.pricing_curves.retained_exceedance` and
        :func:`stoploss.pricing_curves.specific_premium_curve`.
    title : str
        Page title.
    currency : str
        Currency symbol or code (default ``£``).
    """
    priced = table_.assign(total_premium=table_["specific_gross"] + table_["aggregate_gross"])
    key, specific, aggregate = _columns(currency)
    label = Column("group", "Group")
    totals = {"group": "All groups", "members": priced["members"].sum(),
              "aggregate_gross": priced["aggregate_gross"].sum(), "total_premium": priced["total_premium"].sum()}
    body = [settings([
        ("Specific stop-loss", "pays each claimant's annual cost above the specific attachment (up to the limit); "
                               "expected excess per member-year, trended and on the contract basis."),
        ("Aggregate stop-loss", "pays the group's retained cost (net of specific recoveries) above the stated "
                                "share of its expected retained cost, with a common shock to costs."),
        ("Premiums", "gross premiums include the loadings (expenses, a multiple of the standard deviation and "
                     "the cost of capital); PMPM is per member per month; totals are a year's premiums."),
        ("Privacy", "laser keys are never shown."),
        ("Currency", f"{currency}."),
    ]), section(
        "Priced groups",
        table(priced, [label, *key], totals=totals, id="priced"),
        details("Specific stop-loss: all columns", table(priced, [label, *specific])),
        details("Aggregate stop-loss: all columns", table(priced, [label, *aggregate])))]
    by_group = []
    for (_, row), exc, curve in zip(priced.iterrows(), exceedance, premium_curves):
        group = str(row["group"])
        by_group.append(section(group, paragraph(
            f"{number(row['members'])} members; specific attachment {money(row['specific_attachment'], currency)}, "
            f"premium {money(row['specific_gross_pmpm'], currency, decimals=2)} PMPM; aggregate attachment "
            f"{money(row['aggregate_attachment'], currency)}, premium {money(row['aggregate_gross'], currency)} a "
            f"year; chance the aggregate cover pays {percent(row['aggregate_prob_exceed'], 1)}."),
            _group_charts(group, row, exc, curve, currency), level=3))
    body.append(section("By group", *by_group))
    return page(title, *body, subtitle="Specific and aggregate stop-loss premiums by group")
