"""The nightly report: one self-contained HTML page drawn with the shared report kit (:mod:`_kit.report`).

It opens offline in any browser and has no external resources. Sections:

1. Settings and thresholds, in words: method and BF threshold, flag rules, ranges, currency.
2. Outturn against budget per consortium, with the range, the at-risk flags and the national total;
   the full-year forecast (with a budget): each consortium's probability of a deficit run by run,
   the forecast table, the fitted trend and seasonality, the assumptions.
3. National summary per consortium with the national total (sortable by clicking a column heading).
4. National IBNR by incurred month with its 75% and 95% points.
5. Movements against the previous run and actual against expected.
6. Run and data quality: claim lines read and rejected (by reason), failed segments, chain-ladder
   diagnostics (a count, and the table, folded, when it has at most :data:`MAX_DIAGNOSTIC_ROWS` rows).
7. Chain-ladder assumptions (Mack's tests per segment) and residuals: Mack's standardised residuals
   by incurred month, development age and calendar month, with the mean per period, for the national
   triangle of each service line and the :data:`RESIDUAL_SEGMENTS` segments with the strongest
   calendar-year test statistic.
8. Seasonal completion: the setting and the month-of-year adjustments per service with their credibility.
9. Per consortium (the flagged ones first, up to ``max_detail``): paid heat map with its colour
   scale, development pattern by service line, IBNR by incurred month with ranges.

The report draws a :class:`reserving.nightly.NightlyResult`; it computes nothing but totals for
display, and the residuals (:func:`reserving.residuals`) of the few triangles it plots. Patient
identifiers never reach the report: the claim reader never reads them.
"""

from __future__ import annotations

import calendar
import inspect

import numpy as np
import pandas as pd

from _kit.charts import bar_chart, heat_map, line_chart, scatter_chart
from _kit.report import (CURRENCY, Column, details, join, money, money_short, number, page, paragraph, percent,
                         percent_tick, ratio, section, settings, split_table, table, tag)
from reserving.nightly.forecast import AMBER, RED
from reserving.nightly.outturn import outturn as _outturn
from reserving.mack_tests import calendar_year_test
from reserving.residuals import residuals
from reserving.triangle import TriangleSet

#: Chain-ladder diagnostics listed in the report; beyond this only the count (all are in diagnostics.csv).
MAX_DIAGNOSTIC_ROWS = 30
#: Segments with residual plots besides the national triangles: those with the largest |Z - E[Z]| / sd(Z).
RESIDUAL_SEGMENTS = 4
FLAG_COLOURS = {"red": "#d9534f", "amber": "#f0ad4e", "green": "#5cb85c", "no budget": "#9aa5b1",
                "incomplete": "#7a5cc7"}
_ROW_CLASS = {"red": "row-bad", "amber": "row-warn", "green": "row-good", "incomplete": "row-note"}
_FLAG_DEFAULTS = {k: inspect.signature(_outturn).parameters[k].default for k in ("amber", "red")}
_METHODS = {
    "blend": "the chain ladder blended with Bornhuetter-Ferguson (BF): an incurred month at least {t} complete is "
             "pure chain ladder; below that the chain ladder gets the weight completion / {t} and BF the rest, "
             "so a month with nothing yet paid is pure BF",
    "bf": "Bornhuetter-Ferguson for every incurred month (the BF threshold of {t} is not used)",
    "chain_ladder": "the chain ladder for every incurred month (no BF; the BF threshold of {t} is not used)",
}


def _settings(run, currency: str) -> list[tuple[str, str]]:
    p = run.parameters
    amber = p.get("amber", _FLAG_DEFAULTS["amber"])
    red = p.get("red", _FLAG_DEFAULTS["red"])
    threshold = percent(p.get("threshold"))
    method = _METHODS.get(p.get("method"), str(p.get("method"))).format(t=threshold)
    window = "all diagonals" if p.get("n_periods") is None else f"the latest {p['n_periods']} diagonals"
    prior = ("each consortium's budget" if p.get("budget") else
             "the trended cost per member per month" if p.get("members") else "the trended monthly cost")
    fy = calendar.month_name[int(p.get("fy_start_month", 4))]
    return [
        ("As at", f"{run.as_of.date()}; the financial year starts in {fy}."),
        ("Method", f"{method}; chain-ladder factors are {p.get('average')}-weighted averages over {window}; "
                   f"the BF prior is {prior}."),
        ("Flags", f"red when overspend against budget is more likely than not (probability {percent(red)} or "
                  f"more); amber when it is a real possibility ({percent(amber)} or more); green otherwise; no "
                  f"budget when the budget does not cover every month; incomplete in place of green when a "
                  f"service line could not be reserved."),
        ("Ranges", _ranges_setting(run)),
        ("Inputs", "; ".join([f"budget {'given' if p.get('budget') else 'not given'}",
                              f"members {'given' if p.get('members') else 'not given'}",
                              f"known segments {'given' if p.get('known_segments') else 'not given'}"]) + "."),
        ("Currency", f"{currency}; amounts are paid claims, whole units."),
    ]


def _ranges_setting(run) -> str:
    """The range method in words: simulations, the prior's stated uncertainty and the dependence."""
    p, a = run.parameters, run.range_assumptions
    text = (f"standard deviation, 75th and 95th percentiles of {number(p.get('n_sims'))} simulations (seed "
            f"{p.get('seed')}) of the selected estimate itself: the development pattern of a bootstrap pseudo "
            "triangle, the BF prior with its own uncertainty, the same blend weights, and over-dispersed Poisson "
            "process error (stochastic Bornhuetter-Ferguson)")
    if a:
        log_sd = a["prior_log_sd"]
        text += (f"; the prior's error, measured on the complete months, has a coefficient of variation of "
                 f"{percent(a['prior_cv'])} per segment and month (log standard deviations: "
                 f"{log_sd['segment_mean']:.3f} own, {log_sd['consortium']:.3f} shared by a consortium's service "
                 f"lines, {log_sd['incurred_month']:.3f} shared by every segment in an incurred month); dependence "
                 f"between segments: {a['dependence']}")
        if isinstance(a.get("large_claims"), dict):
            text += f"; large claims: {a['large_claims']['from']}"
    return text + "."


def _run_section(run):
    claims = run.claims
    items = [tag("li", f"Claim lines read: {claims.lines_read:,}; accepted: {claims.lines_accepted:,}; rejected: "
                       f"{claims.lines_rejected:,} (details in ", tag("code", "rejects.csv"), ")"),
             tag("li", f"Segments reserved: {run.n_segments_ok}; failed: {len(run.segment_errors)}"),
             tag("li", f"Chain-ladder diagnostics (assumptions where data were missing): {len(run.diagnostics):,} "
                       "(details in ", tag("code", "diagnostics.csv"), ")")]
    out = [tag("ul", items)]
    if claims.lines_rejected:
        kind = (claims.reject_counts["reason"].str.replace(r"'[^']*'", "'...'", regex=True)
                .str.replace(r"\d{4}-\d\d-\d\d", "DATE", regex=True)
                .str.replace(r"repeats line \d+ of .*", "repeats an earlier line", regex=True))
        by_reason = claims.reject_counts.assign(kind=kind).groupby("kind")["lines"].sum().reset_index()
        out.append(section("Rejected lines by reason", tag("div", table(by_reason, [
            Column("kind", "Reason"), Column("lines", "Lines", number)]), id="rejects"), level=3))
    if len(run.segment_errors):
        out.append(section("Segments that could not be reserved", tag("div", table(run.segment_errors, [
            Column("consortium", "Consortium"), Column("service", "Service line"), Column("error", "Error")]),
            id="segment-errors"), level=3))
    if 0 < len(run.diagnostics) <= MAX_DIAGNOSTIC_ROWS:
        diag = run.diagnostics
        columns = [Column(c, c.replace("_", " ").capitalize()) for c in diag.columns]
        out.append(details(f"Chain-ladder diagnostics ({len(diag)})",
                           tag("div", table(diag, columns), id="diagnostics")))
    return section("Run and data quality", *out)


def _incomplete_note(services_failed) -> str:
    if not services_failed or pd.isna(services_failed):
        return ""
    return (f"; {int(services_failed)} service line(s) could not be reserved (see the segments below) "
            "and are not in this outturn")


def _outturn_section(run, currency: str):
    out = run.outturn.summary
    months = run.outturn.months
    cash = lambda v: money(v, currency)  # noqa: E731
    flagged = out[out["flag"].isin(["red", "amber", "incomplete"])]
    if len(flagged):
        items = [tag("li", f"{r.consortium}: {r.flag}, " + (
                     f"probability of overspend {percent(r.prob_overspend)}, outturn {cash(r.outturn)} against "
                     f"budget {cash(r.budget)}" if np.isfinite(r.outturn) else "no outturn")
                     + _incomplete_note(r.services_failed), class_=_ROW_CLASS.get(r.flag))
                 for r in flagged.sort_values("prob_overspend", ascending=False, na_position="first").itertuples()]
        at_risk = tag("div", tag("h3", f"At risk or incomplete ({len(flagged)})"), tag("ul", items), id="at-risk")
    else:
        at_risk = tag("div", paragraph("No consortium is at risk of overspend."), id="at-risk")
    flags = [f for f in FLAG_COLOURS if f in set(out["flag"])]
    chart = bar_chart(out["consortium"], {"outturn": out["outturn"]},
                      title=f"Outturn against budget, {months[0]} to {months[-1]}", x_label="consortium",
                      y_label=f"paid + IBNR ({currency})", y_format=lambda v: money_short(v, currency),
                      colours=[FLAG_COLOURS.get(f, "#9aa5b1") for f in out["flag"]],
                      colour_key=[(f"outturn, {f}", FLAG_COLOURS[f]) for f in flags],
                      ranges=("to the 95th percentile", out["outturn"], out["outturn_p95"]),
                      marks=("budget", out["budget"]), css_class="outturn-chart")
    t = run.outturn.totals
    totals = {"consortium": "National total", "budget": t["budget"], "outturn": t["outturn"],
              "variance": t["outturn_budgeted"] - t["budget"], "prob_overspend": t["prob_overspend"],
              "paid": t["paid"], "ibnr": t["ibnr"]}
    key = [Column("budget", "Budget", cash), Column("outturn", "Outturn", cash),
           Column("variance", "Outturn less budget", cash), Column("prob_overspend", "P(overspend)", percent),
           Column("flag", "Flag")]
    detail = [Column("paid", "Paid", cash), Column("ibnr", "IBNR", cash), Column("outturn_p75", "Outturn, 75th", cash),
              Column("outturn_p95", "Outturn, 95th", cash),
              Column("variance_pct", "Outturn less budget, share of budget", lambda v: percent(v, 1)),
              Column("services_failed", "Service lines failed", number)]
    return section(
        f"Outturn against budget, {months[0]} to {months[-1]}", at_risk, chart,
        paragraph("The national total's outturn less budget and probability of overspend cover the consortia with "
                  "a budget.", class_="muted"),
        split_table(out, key, detail, label=Column("consortium", "Consortium"), totals=totals,
                    row_class=lambda r: _ROW_CLASS.get(r["flag"]),
                    summary="Paid, IBNR, outturn percentiles and failed service lines"))


def _summary_section(run, currency: str):
    s = run.consortium_summary
    cash = lambda v: money(v, currency)  # noqa: E731
    columns = [Column("consortium", "Consortium"), Column("paid", "Paid", cash), Column("ibnr", "IBNR", cash),
               Column("ultimate", "Ultimate", cash), Column("ibnr_sd", "IBNR, std. dev.", cash),
               Column("ibnr_p75", "IBNR, 75th", cash),
               Column("ibnr_p95", "IBNR, 95th", cash), Column("services", "Service lines", number)]
    if "prob_overspend" in s:
        columns += [Column("prob_overspend", "P(overspend)", percent), Column("flag", "Flag")]
    nat = run.national_total
    totals = {"consortium": "National total", "paid": s["paid"].sum(), "ibnr": s["ibnr"].sum(),
              "ultimate": s["ultimate"].sum(), "services": s["services"].sum(),
              **{k: nat[k] for k in ("ibnr_sd", "ibnr_p75", "ibnr_p95") if k in nat}}
    return section("National summary by consortium",
                   paragraph("Percentiles are per consortium and do not add up to a national percentile; the "
                             "national total's range is simulated with the consortia together.", class_="muted"),
                   table(s, columns, totals=totals, id="national-summary"))


def _ibnr_chart(frame: pd.DataFrame, title: str, currency: str, css_class: str = "ibnr-chart"):
    return line_chart(frame["origin"].astype(str).tolist(), {"IBNR (selected estimate)": frame["ibnr"]},
                      title=title, x_label="incurred month", y_label=f"IBNR ({currency})",
                      y_format=lambda v: money_short(v, currency),
                      bands=[("estimate to 75th percentile", frame["ibnr"], frame["ibnr_p75"]),
                             ("75th to 95th percentile", frame["ibnr_p75"], frame["ibnr_p95"])],
                      width=900, css_class=css_class)


def _movements_section(run, currency: str):
    if run.movements is None:
        return section("Against the previous run", paragraph("No earlier run in the history database.",
                                                             class_="muted"))
    cash = lambda v: money(v, currency)  # noqa: E731
    m = run.movements
    out = [paragraph(f"Previous run: as at {pd.Timestamp(run.previous_as_of).date()}."),
           table(m, [Column("consortium", "Consortium"), Column("ultimate_prev", "Ultimate, previous", cash),
                     Column("ultimate", "Ultimate", cash), Column("ultimate_move", "Movement in ultimate", cash),
                     Column("ibnr_prev", "IBNR, previous", cash), Column("ibnr", "IBNR", cash),
                     Column("ibnr_move", "Movement in IBNR", cash), Column("paid_in_period", "Paid since the previous run", cash)],
                 totals={"consortium": "National total"} | {c: m[c].sum() for c in m.columns if c != "consortium"})]
    if run.actual_vs_expected is not None:
        a = run.actual_vs_expected
        out.append(section("Actual against expected payments since the previous run", table(a, [
            Column("consortium", "Consortium"), Column("actual", "Actual", cash),
            Column("expected", "Expected", cash), Column("actual_minus_expected", "Actual less expected", cash),
            Column("ratio", "Actual / expected", ratio)]),
            level=3))
    else:
        out.append(paragraph("Actual against expected needs the previous run to be one month earlier.",
                             class_="muted"))
    return section("Against the previous run", *out)


def _detail_section(run, currency: str):
    cons = run.consortium_summary["consortium"].tolist()
    if run.outturn is not None:
        order = run.outturn.summary.sort_values("prob_overspend", ascending=False, na_position="last")["consortium"]
        cons = [c for c in order if c in set(cons)] + [c for c in cons if c not in set(order)]
    shown = cons[: run.max_detail]
    tri = run.triangles
    inc = tri.incremental
    seg_cons = tri.segments.get_level_values(0)
    origins = [str(o) for o in tri.origins]
    parts = [paragraph(f"{len(shown)} of {len(cons)} consortia shown (those most at risk first).", class_="muted")]
    for c in shown:
        mask = np.asarray(seg_cons == c)
        heat = np.where(np.isfinite(inc[mask]).any(axis=0), np.nansum(inc[mask], axis=0), np.nan)
        est = run.consortium_by_origin[run.consortium_by_origin["consortium"] == c]
        pat = run.pattern[run.pattern["consortium"] == c]
        lags = sorted(pat["lag"].unique())
        pattern = {svc: g.set_index("lag")["completion"].reindex(lags).to_numpy()
                   for svc, g in pat.groupby("service", sort=True)}
        parts.append(details(c, tag("div", [
            heat_map(heat, origins, list(range(heat.shape[1])), title=f"{c}: incremental paid",
                     x_label="payment lag (months)", y_label="incurred month",
                     value_format=lambda v: money_short(v, currency), log=True, blank="blank: not yet paid"),
            line_chart(lags, pattern, title=f"{c}: development pattern", x_label="payment lag (months)",
                       y_label="share of ultimate paid", y_format=percent_tick, width=500, css_class="pattern-chart"),
        ], class_="charts"), _ibnr_chart(est, f"{c}: IBNR by incurred month", currency), open=True))
    return section("By consortium", *parts)


def _forecast_section(run, currency: str):
    """The full-year forecast: probability of a deficit run by run, the table, the trend, the assumptions."""
    fc = run.forecast
    s = fc.summary
    cash = lambda v: money(v, currency)  # noqa: E731
    words = paragraph(f"A consortium is red when a deficit at the end of the financial year ({fc.year[0]} to "
                      f"{fc.year[-1]}), net of its stop-loss cover and premium, is more likely than not (probability "
                      f"{percent(RED)} or more), amber when it is a real possibility ({percent(AMBER)} or more), green "
                      "otherwise. Capital is the 99.5th percentile of the net deficit (nil when that is a surplus).")
    past = run.forecast_history if run.forecast_history is not None else pd.DataFrame()
    now = s[["consortium", "prob_deficit_net"]].assign(as_of=run.as_of)
    hist = pd.concat([past[["as_of", "consortium", "prob_deficit_net"]], now], ignore_index=True) if len(past) else now
    hist["as_of"] = pd.to_datetime(hist["as_of"]).dt.strftime("%Y-%m-%d")
    shown = s.sort_values("prob_deficit_net", ascending=False)["consortium"].head(run.max_detail)
    wide = hist.pivot_table(index="as_of", columns="consortium", values="prob_deficit_net").sort_index()
    chart = line_chart(list(wide.index), {c: wide[c].tolist() for c in shown if c in wide},
                       title="Probability of a deficit at the year end, net of cover, run by run",
                       x_label="as at", y_label="probability of a deficit", y_format=percent_tick, y_max=1.0,
                       hlines=[(AMBER, "amber"), (RED, "red")], css_class="forecast-chart")
    key = [Column("budget_year", "Budget for the year", cash), Column("outturn_mean", "Forecast outturn", cash),
           Column("prob_deficit", "P(deficit), gross", percent), Column("outturn_net_mean", "Net of cover", cash),
           Column("prob_deficit_net", "P(deficit), net", percent), Column("flag", "Flag")]
    detail = [Column("paid_to_date", "Paid to date", cash), Column("ibnr", "IBNR", cash),
              Column("future_mean", "Months to come", cash), Column("outturn_p50", "Outturn, median", cash),
              Column("outturn_p75", "Outturn, 75th", cash), Column("outturn_p95", "Outturn, 95th", cash),
              Column("expected_deficit", "Expected deficit", cash), Column("recoveries_mean", "Recoveries", cash),
              Column("capital_995", "Capital (99.5%)", cash)]
    trend = fc.trend
    trend_table = table(trend, [Column("service", "Service"), Column("months_used", "Completed months", number),
                                Column("annual_trend", "Trend a year", lambda v: percent(v, 1)),
                                Column("annual_trend_low", "low (95%)", lambda v: percent(v, 1)),
                                Column("annual_trend_high", "high (95%)", lambda v: percent(v, 1)),
                                Column("seasonal_amplitude", "Seasonal swing", lambda v: percent(v, 1)),
                                Column("peak_month", "Peak month", number)]) if len(trend) else ""
    acts = run.actions if run.actions is not None else pd.DataFrame()
    actions = tag("div", tag("h3", f"Actions called for by the Board's rules ({len(acts)})"),
                  tag("ul", [tag("li", f"{a.consortium}: {a.action} ({a.rule}: {a.evidence})") for a in acts.itertuples()])
                  if len(acts) else paragraph("No rule of the failure regimen is met tonight."), id="actions")
    return section(f"Full-year forecast, {fc.year[0]} to {fc.year[-1]}", words, actions, chart,
                   split_table(s, key, detail, label=Column("consortium", "Consortium"),
                               row_class=lambda r: _ROW_CLASS.get(r["flag"]),
                               summary="Paid, IBNR, months to come, percentiles, recoveries and capital"),
                   details("Trend and seasonality per service (cost per member month)", trend_table),
                   details("Assumptions", tag("ul", [tag("li", a) for a in fc.assumptions])))
def _assumption_section(tests: pd.DataFrame):
    """Mack's calendar-year and factor-correlation tests per segment, flagged segments first, folded."""
    cy, dc = tests["cy_calendar_year_effect"].astype(bool), tests["dfcor_correlated"].astype(bool)
    frame = tests.reset_index().assign(cy_flag=np.where(cy, "yes", "no"), dfcor_flag=np.where(dc, "yes", "no"),
                                       order=~(cy | dc).to_numpy()).sort_values("order", kind="stable")
    levels = [c for c in tests.index.names if c]
    columns = [Column(c, c.capitalize()) for c in levels] + [
        Column("cy_z", "Z", number), Column("cy_lower", "Z from", lambda v: number(v, 1)),
        Column("cy_upper", "Z to", lambda v: number(v, 1)), Column("cy_flag", "Calendar-year effect"),
        Column("dfcor_t", "T", lambda v: ratio(v, 3)), Column("dfcor_upper", "T within +-", lambda v: ratio(v, 3)),
        Column("dfcor_flag", "Correlated factors")]
    summary = (f"Mack's assumption tests: {int(cy.sum()):,} of {len(tests):,} segments show a calendar-year effect "
               f"(95% range), {int(dc.sum()):,} correlated development factors (50% range)")
    note = paragraph("Mack (1994): Z counts, diagonal by diagonal, the fewer of the factors below and above their "
                     "column's median; T is the weighted Spearman correlation of adjacent factor columns. A flag "
                     "means the chain ladder's independence assumptions are doubtful for that segment.")
    return section("Chain-ladder assumptions", details(summary, note, tag("div", table(frame, columns),
                                                                          id="assumption-tests")))


def _national_by_service(tri: TriangleSet) -> TriangleSet:
    """Each service line's triangle summed over consortia (a cell is missing when it is missing everywhere)."""
    services = tri.segments.get_level_values("service")
    names = sorted(set(services))
    values = np.stack([np.where(np.isfinite(tri.values[services == v]).any(axis=0),
                                np.nansum(tri.values[services == v], axis=0), np.nan) for v in names])
    return TriangleSet(values, pd.Index(names, name="service"), tri.origins, tri.valuation_index)


def _residual_charts(res, s: int, label: str):
    """Mack's standardised residuals of segment ``s`` by incurred month, development age and calendar month."""
    tri = res.triangle
    seg = tri.segments[s]
    i, k = np.nonzero(res.mack_used[s])
    r = res.mack[s][i, k]
    start = tri.origins[0].ordinal
    calendar = [str(tri.origins[0] + c) for c in range(tri.valuation_index + 1)]
    axes = [(i, [str(o) for o in tri.origins], "origin", "incurred month", "incurred month"),
            (tri.development[k], None, "development", "development age",
             "development age at the start of the link ratio (months)"),
            (i + k + 1, calendar, "calendar", "calendar month", "calendar month in which the link ratio was observed")]
    charts = []
    for x, labels, by, name, words in axes:
        means = res.mean_by(by).loc[seg]
        at = np.asarray(means.index) if labels is None else np.asarray([p.ordinal - start for p in means.index])
        charts.append(scatter_chart(x, r, x_labels=labels, title=f"{label}: by {name}", x_label=words,
                                    y_label="standardised residual", y_format=lambda v: number(v, 1),
                                    means=(f"mean per {name}", at, means["mean"]), point_label="link ratio",
                                    hlines=[(0.0, "zero")], css_class="residual-chart"))
    return tag("div", charts, class_="charts")


def _residual_section(run):
    """Mack's standardised residuals of the national triangles per service and of the worst segments."""
    tri, p = run.triangles, run.parameters
    options = dict(average=p.get("average", "volume"), n_periods=p.get("n_periods"), kinds=("mack",))
    national = _national_by_service(tri)
    shown = [(residuals(national, **options), s, f"National, {v}", row)
             for s, (v, row) in enumerate(calendar_year_test(national).summary.iterrows())]
    tests = run.assumption_tests
    with np.errstate(divide="ignore", invalid="ignore"):
        score = (tests["cy_z"] - tests["cy_expected"]).abs() / np.sqrt(tests["cy_variance"])
    top = score[np.isfinite(score)].sort_values(ascending=False, kind="stable").head(RESIDUAL_SEGMENTS)
    worst = tri.segments.get_indexer(top.index)
    if len(worst):
        chosen = residuals(tri[worst], **options)
        shown += [(chosen, s, " / ".join(map(str, np.atleast_1d(tri.segments[t]))),
                   tests.loc[key].rename(lambda c: c[3:])) for s, (t, key) in enumerate(zip(worst, top.index))]
    window = "all diagonals" if p.get("n_periods") is None else f"the latest {p['n_periods']} diagonals"
    parts = [paragraph(f"Mack's standardised residuals of the link ratios, (F - f) times the square root of C, over "
                       "sigma (F a link ratio, f its development factor, C the amount it develops from, sigma Mack's "
                       f"sigma of the development age), against the run's chain-ladder factors ({options['average']}-"
                       f"weighted over {window}), by incurred month, development age and calendar month, with the "
                       "mean per period (as R ChainLadder's "
                       "plot(MackChainLadder)). Where the chain ladder suits the data they scatter about zero "
                       "with no pattern; a run of calendar months whose means share a sign is a calendar effect "
                       "(a change in payment speed or in cost)."),
             paragraph(f"Shown: the national triangle of each service line (all consortia added), then the "
                       f"{len(worst)} segments whose calendar-year test statistic is furthest from its expected "
                       "value in standard deviations, |Z - E[Z]| / sd(Z) (Mack's calendar-year test, above). "
                       "A selections file, if given, is not applied to these residuals.", class_="muted")]
    for k, (res, s, label, test) in enumerate(shown):
        summary = (f"{label}: {int(res.mack_used[s].sum()):,} link ratios; calendar-year Z {number(test['z'])} "
                   f"(expected {number(test['expected'], 1)}, 95% range {number(test['lower'], 1)} to "
                   f"{number(test['upper'], 1)})")
        parts.append(details(summary, _residual_charts(res, s, label), open=k == 0))
    return section("Residuals", tag("div", parts, id="residuals"))


def _selections_section(run, currency=CURRENCY):
    """The actuary's selections: factors indicated and selected side by side, then every selection with who and why."""
    out = [paragraph(f"Selections from {run.parameters.get('selections')}: {len(run.selections):,} rows, applied to "
                     "the chain ladder and Mack (the bootstrap ranges use the indicated factors); a method or "
                     "prior selected for an incurred month replaces the job's for that month only.")]
    if run.selected_factors is not None and len(run.selected_factors):
        out.append(section("Development factors: indicated and selected", tag("div", table(run.selected_factors, [
            Column("segment", "Segment"), Column("development", "From age (months)", number),
            Column("indicated", "Indicated", lambda v: ratio(v, 4)), Column("selected", "Selected", lambda v: ratio(v, 4)), Column("rule", "Rule"),
            Column("who", "Who"), Column("why", "Why")]), id="selected-factors"), level=3))
    origins = getattr(run, "selected_origins", None)
    if origins is not None and len(origins):
        out.append(section("Incurred months: method and prior indicated and selected", tag("div", table(origins, [
            Column("segment", "Segment"), Column("origin", "Incurred month"),
            Column("indicated_method", "Indicated method"), Column("selected_method", "Selected method"),
            Column("indicated_prior", "Indicated prior", lambda v: money(v, currency)),
            Column("selected_prior", "Selected prior", lambda v: money(v, currency)),
            Column("indicated_ultimate", "Indicated ultimate", lambda v: money(v, currency)),
            Column("selected_ultimate", "Selected ultimate", lambda v: money(v, currency)),
            Column("who", "Who"), Column("why", "Why")]), id="selected-origins"), level=3))
    rows = run.selections.astype(object).where(run.selections.notna(), "")
    out.append(section("All selections", tag("div", table(rows, [
        Column("segment", "Segment"), Column("item", "Item"), Column("development", "Age"),
        Column("origin", "Origin"), Column("value", "Value"), Column("who", "Who"), Column("why", "Why")]),
        id="selections"), level=3))
    return section("The actuary's selections", *out)


def _seasonality_section(run):
    """The seasonal completion used: the setting in words and, when on, the month-of-year adjustments per service."""
    adj = run.seasonality
    if adj is None:
        return section("Seasonal completion", paragraph(
            "Off: one set of completion factors for every incurred month (the plain chain ladder)."))
    days = "" if adj.payment_days is None else (
        f" Payments are restated to a month of average payment days ({adj.payment_days}) and the payments to come "
        "turned back into cash with the payment days of the months ahead.")
    note = paragraph(
        f"Setting {adj.setting}: completion factors by calendar month of the incurred month, each month's own factors "
        "credibility-weighted towards all months' (Buhlmann-Straub weight Z; 0 where a month differs no more than "
        "noise)." + days + " The chain-ladder and the BF/blend completion use them; Mack's standard error is the "
        "plain chain ladder's, and each cell's simulated range is scaled by its seasonal / plain selected IBNR. "
        "The table shows, per service (mean over consortia), how much larger (+) or smaller (-) than all months' "
        "the factor from the first month to ultimate is for claims incurred in each calendar month, and in "
        "brackets the weight Z of that month's own factors (weighted by the share of the ultimate each "
        "development step pays).")
    frame = adj.by_service
    cells = frame.assign(text=[f"{'+' if a >= 0 else ''}{percent(a, 1)} ({ratio(z)})"
                               for a, z in zip(frame["adjustment"], frame["credibility"])])
    wide = cells.pivot(index="service", columns="origin_month", values="text").reset_index()
    wide.columns = ["service", *(calendar.month_abbr[m] for m in wide.columns[1:])]
    columns = [Column("service", "Service line")] + [Column(m, m) for m in wide.columns[1:]]
    return section("Seasonal completion", note, tag("div", table(wide, columns), id="seasonal-factors"))


def render(run, *, currency: str = CURRENCY) -> str:
    """The report of a :class:`reserving.nightly.NightlyResult` as one HTML string.

    Parameters
    ----------
    run : NightlyResult
        The nightly run.
    currency : str
        Currency symbol or code of the claims (default ``£``).
    """
    nat = run.national_by_origin
    body = [settings(_settings(run, currency))]
    if run.outturn is not None:
        body.append(_outturn_section(run, currency))
    if getattr(run, "forecast", None) is not None:
        body.append(_forecast_section(run, currency))
    body += [_summary_section(run, currency),
             section("National IBNR by incurred month",
                     _ibnr_chart(nat, "National IBNR by incurred month", currency)),
             _movements_section(run, currency), _run_section(run)]
    if run.assumption_tests is not None:
        body += [_assumption_section(run.assumption_tests), _residual_section(run)]
    if run.selections is not None:
        body.append(_selections_section(run, currency))
    body.append(_seasonality_section(run))
    body.append(_detail_section(run, currency))
    return page(f"Nightly reserving report: as at {run.as_of.date()}", join(body), subtitle=f"Run {run.run_id}")
