"""The pool-risk page: risk against list size, one line per attachment, drawn with the shared report kit.

For each budget formula a chart of P(overspend > 5%) and one of the 99.5% reserve against list size
(log scale), the smallest list size that keeps P(overspend > 5%) below the chosen level with and
without stop-loss, our spread of annual cost beside the published figures of Crump et al.
(BMJ 1991), the preset's assumptions with their evidence, what was read from the other packages'
files, and one chart per assumption of how the smallest list size moves with it. It draws a
:class:`stoploss.pool.SweepResult`, the tables of :func:`stoploss.pool.crump_comparison` and
:func:`stoploss.pool.sensitivity.sensitivity`; it simulates nothing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from _kit.charts import line_chart
from _kit.report import (CURRENCY, Column, details, money, money_short, number, page, paragraph, percent,
                         percent_tick, ratio, section, settings, table, tag)
from stoploss.pool.feeds import IbnrError
from stoploss.pool.presets import Preset
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


def _evidence(chosen: Preset):
    frame = pd.DataFrame(list(chosen.evidence), columns=["assumption", "value", "source"])
    return section(f"Assumptions and their evidence (preset {chosen.name})",
                   paragraph(f"Scope: {chosen.scope}. Sources in full: stoploss/pool/PRESETS.md."),
                   table(frame, [Column("assumption", "Assumption"), Column("value", "Our value"),
                                 Column("source", "Evidence")], id="evidence"))


def _feeds(validation: pd.DataFrame | None, ibnr: IbnrError | None):
    parts = []
    if validation is not None:
        parts += [paragraph("Budget formulas and their R-squared as measured by riskadjust validate:"),
                  table(validation, [Column("risk_model", "Budget formula"),
                                     Column("r_squared", "R-squared", lambda v: percent(v, 1)),
                                     Column("cpm", "CPM", lambda v: ratio(v, 3)),
                                     Column("mape", "Mean absolute error", number),
                                     Column("n_members", "Members", number)], id="validation")]
    if ibnr is not None:
        t = ibnr.totals
        parts.append(paragraph(
            f"IBNR estimation error from {ibnr.source}: per consortium, the standard deviation of the IBNR divided "
            f"by the estimated outturn (paid + IBNR); the simulator uses the median over {number(t['consortia'])} "
            f"consortia, {percent(t['ibnr_cv'], 2)} (range {percent(t['cv_min'], 2)} to {percent(t['cv_max'], 2)}), "
            "as the coefficient of variation of a mean-one lognormal error on every group's outturn."
            + (f" {number(t['without_figures'])} consortia without figures in that run (reserving failed) are "
               "left out." if t["without_figures"] else "")))
    return section("Read from the other packages", *parts) if parts else None


def _sensitivity(table_: pd.DataFrame, result: SweepResult, formula: str):
    charts = []
    for label, g in table_.groupby("assumption", sort=False):
        base = g[g["is_base"]]["value"]
        fmt = (lambda v: ratio(v, 2)) if "index" in label or "sigma" in label else (lambda v: percent(v, 1))
        shown = g[g["possible"]]
        charts.append(line_chart(shown["value"].to_numpy(), {"smallest list size": shown["smallest_size"].to_numpy()},
                                 title=label, x_label=label, y_label="smallest list size (patients)",
                                 x_format=fmt, y_format=number,
                                 vlines=[(float(v), f"this run: {fmt(v)}") for v in base], width=440, height=260,
                                 css_class="sensitivity-chart"))
    rows = table_.assign(answer=[("not possible" if not p else "not reached" if pd.isna(n) else number(n))
                                 for p, n in zip(table_["possible"], table_["smallest_size"])])
    return section(
        "How the answer moves with each assumption",
        paragraph(f"Smallest list size from which P(overspend > 5%) stays below {percent(result.level)}, budget "
                  f"formula {formula}, no specific stop-loss, each assumption moved alone (the others at this run's "
                  "values; same seed). A missing point: no simulated size is large enough, or the model cannot take "
                  "the value (e.g. a formula R-squared above what the recalibrated classes can explain)."),
        tag("div", *charts, class_="charts"),
        details("All values", table(rows, [Column("assumption", "Assumption"),
                                           Column("value", "Value", lambda v: ratio(v, 4)),
                                           Column("answer", "Smallest list size")])))


def pool_report_html(result: SweepResult, crump: pd.DataFrame | None = None,
                     title: str = "How large must a group be to hold a risk-bearing budget?", *,
                     currency: str = CURRENCY, preset: Preset | None = None, validation: pd.DataFrame | None = None,
                     ibnr: IbnrError | None = None, sensitivity: pd.DataFrame | None = None,
                     sensitivity_formula: str = "") -> str:
    """The sweep as one self-contained HTML page (see the module docstring).

    Parameters
    ----------
    result : SweepResult
        From :func:`stoploss.pool.sweep`.
    crump : DataFrame, optional
        From :func:`stoploss.pool.crump_comparison`; the section is left out when None.
    preset : Preset, optional
        Its assumptions and evidence are shown.
    validation, ibnr : optional
        What was read by :func:`~stoploss.pool.feeds.read_risk_models` and
        :func:`~stoploss.pool.feeds.read_ibnr_error`.
    sensitivity : DataFrame, optional
        From :func:`stoploss.pool.sensitivity.sensitivity`, for the formula named ``sensitivity_formula``.
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
    if preset is not None:
        body.append(_evidence(preset))
    feeds = _feeds(validation, ibnr)
    if feeds is not None:
        body.append(feeds)
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
    if sensitivity is not None:
        body.append(_sensitivity(sensitivity, result, sensitivity_formula))
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
