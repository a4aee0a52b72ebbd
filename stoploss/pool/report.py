"""The pool-risk page: risk against list size, one line per attachment, drawn with the shared report kit.

For each budget formula a chart of P(overspend > 5%) and one of the 99.5% reserve against list size
(log scale), the smallest list size that keeps P(overspend > 5%) below the chosen level with and
without stop-loss, and our spread of annual cost beside the published figures of Crump et al.
(BMJ 1991). It draws a :class:`stoploss.pool.SweepResult` and the table of
:func:`stoploss.pool.crump_comparison`; it simulates nothing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from _kit.charts import line_chart
from _kit.report import (CURRENCY, Column, money, money_short, number, page, paragraph, percent, percent_tick, ratio,
                         section, settings, table, tag)
from stoploss.pool.simulate import SweepResult


def _attachment_label(a: float, currency: str) -> str:
    return "no stop-loss" if np.isnan(a) else f"attachment {money(a, currency)}"


def _settings(result: SweepResult, currency: str) -> list[tuple[str, str]]:
    a = result.assumptions
    cm = a.cost_model
    above = money(100_000, currency)
    aggregate = ("none" if a.aggregate_attachment is None else
                 f"pays outturn above {percent(a.aggregate_attachment)} of budget, loading "
                 f"{percent(a.aggregate_loading)}")
    return [
        ("Cost model", f"mean {money(cm.mean, currency)} per patient-year, coefficient of variation "
                       f"{ratio(np.sqrt(cm.var) / cm.mean)}; {percent(float(cm.population_share_above(100_000)), 2)} "
                       f"of people cost more than {above} a year and hold "
                       f"{percent(float(cm.spend_share_above(100_000)), 1)} of spend; morbidity classes explain "
                       f"{percent(cm.between_share, 1)} of individual variance."),
        ("Group mix", f"expected cost per head varies between groups with coefficient of variation "
                      f"{percent(a.mix_cv, 1)}."),
        ("Shocks", "; ".join([
            f"common year effect CV {percent(a.shock_cv, 1)}" if a.shock_cv else "no common year effect",
            f"epidemic year with probability {percent(a.epidemic_probability)} raising costs by "
            f"{percent(a.epidemic_uplift)}" if a.epidemic_probability else "no epidemic year",
            f"IBNR estimation error CV {percent(a.ibnr_cv, 1)}" if a.ibnr_cv else "no IBNR estimation error"]) + "."),
        ("Specific stop-loss", f"the group keeps each patient's cost up to the attachment and pays a premium of the "
                               f"expected excess plus a loading of {percent(a.loading)}."),
        ("Aggregate stop-loss", aggregate + "."),
        ("Overspend", "deviation = (outturn - budget) / budget; outturn is retained cost plus stop-loss premiums."),
        ("Threshold", f"a list size is large enough when P(overspend > 5%) stays below {percent(result.level)} "
                      f"at that size and every larger one."),
        ("Currency", f"{currency}."),
    ]


def _smallest_table(result: SweepResult, currency: str):
    smallest = result.totals
    frame = smallest.rename_axis("risk_model").reset_index()
    columns = [Column("risk_model", "Budget formula")]
    for label in smallest.columns:
        heading = "No stop-loss" if label == "none" else f"Attachment {money(float(label.replace(',', '')), currency)}"
        columns.append(Column(label, heading, lambda v: "not reached" if pd.isna(v) else number(v)))
    return table(frame, columns, id="smallest")


def pool_report_html(result: SweepResult, crump: pd.DataFrame | None = None,
                     title: str = "How large must a group be to hold a risk-bearing budget?", *,
                     currency: str = CURRENCY) -> str:
    """The sweep as one self-contained HTML page (see the module docstring).

    Parameters
    ----------
    result : SweepResult
        From :func:`stoploss.pool.sweep`.
    crump : DataFrame, optional
        From :func:`stoploss.pool.crump_comparison`; the section is left out when None.
    title : str
        Page title.
    currency : str
        Currency symbol or code of the amounts (default ``£``).
    """
    s = result.summary
    body = [paragraph("Each simulated year is a random group-year: patients drawn from the morbidity mix, annual "
                      "cost from the cost model, budget from a formula of stated R-squared; outturn net of specific "
                      "stop-loss recoveries plus its premium."),
            settings(_settings(result, currency))]
    sizes = np.sort(s["n_patients"].unique())
    for model, g in s.groupby("risk_model", sort=False):
        r2 = float(g["r_squared"].iloc[0])
        charts = []
        for col, label, hline in (
                ("p_over_5pct", "P(overspend > 5%)", [(result.level, f"threshold {percent(result.level)}")]),
                ("var_995", "reserve at 99.5% (share of budget)", [])):
            series = {_attachment_label(att, currency): h.sort_values("n_patients")[col].to_numpy()
                      for att, h in g.groupby("attachment", dropna=False, sort=False)}
            charts.append(line_chart(sizes, series, title=f"{model}: {label}",
                                     x_label="list size (patients, log scale)", y_label=label,
                                     x_format=lambda v: money_short(v, ""), y_format=percent_tick, hlines=hline,
                                     log_x=True, width=580, css_class="pool-chart"))
        body.append(section(f"Budget formula: {model} (R-squared {percent(r2, 1)})",
                            tag("div", *charts, class_="charts")))
    body.append(section(
        f"Smallest list size with P(overspend > 5%) below {percent(result.level)}",
        paragraph("Patients on the list, by attachment; not reached: no simulated size is large enough. "
                  f"{number(s['n_patients'].min())} (the smallest simulated size) means that size or fewer.",
                  class_="muted"),
        _smallest_table(result, currency)))
    if crump is not None:
        columns = [Column("n_patients", "List size (patients)", number),
                   Column("crump_1991", "Crump et al. 1991", lambda v: percent(v, 1)),
                   Column("simulated", "Simulated", lambda v: percent(v, 1))]
        if "simulated_with_group_mix" in crump:
            columns.append(Column("simulated_with_group_mix", "Simulated with group mix", lambda v: percent(v, 1)))
        columns += [Column("normal", "Normal approximation", lambda v: percent(v, 1)),
                    Column("per_person_cv_crump", "Per-person CV implied by Crump", ratio),
                    Column("per_person_cv_ours", "Per-person CV of our model", ratio)]
        body.append(section(
            "Against the literature",
            paragraph("Spread between the 5th and 95th percentiles of a group's annual cost as a share of its mean, "
                      "per-head budget, no stop-loss (Crump et al., BMJ 1991;302:1582-4), with the per-person "
                      "coefficient of variation each implies through the normal approximation. A larger published "
                      "spread means costs per patient more variable than our cost model's."),
            table(crump, columns, id="crump")))
    return page(title, *body, subtitle="Simulated outturn against budget by list size")
