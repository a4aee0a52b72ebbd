"""The fitting page: how well each severity fitted to claimant data matches it, as QQ and PP plots.

It draws :func:`stoploss.fit.fit` results and their :func:`stoploss.probability_plots.probability_plot`
points with the shared report kit: a table of the fits (log-likelihood, AIC, Kolmogorov-Smirnov
distance) and per family a QQ plot (on log amounts, so the tail is visible) and a PP plot, each
with the diagonal a perfect fit would follow. It fits nothing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from _kit.charts import line_chart
from _kit.report import (CURRENCY, Column, money, money_short, number, page, paragraph, percent_tick, ratio,
                         section, settings, table, tag)
from stoploss.fit import TruncatedFit

#: At most this many points per chart (evenly thinned by rank; the extremes are kept).
MAX_POINTS = 400


_NUMBER = re.compile(r"-?\d+\.?\d*(?:e[+-]?\d+)?")


def _readable(distribution: str) -> str:
    """A fitted severity's text with its parameters to six significant digits, never in scientific notation."""
    return _NUMBER.sub(lambda m: np.format_float_positional(float(m.group()), precision=6, unique=False,
                                                            fractional=False, trim="-"), distribution)


def _thin(frame: pd.DataFrame) -> pd.DataFrame:
    if len(frame) <= MAX_POINTS:
        return frame
    return frame.iloc[np.unique(np.round(np.linspace(0, len(frame) - 1, MAX_POINTS)).astype(int))]


def _charts(family: str, points: pd.DataFrame, currency: str):
    pts = _thin(points)
    log_model, log_claims = np.log(pts["model_quantile"].to_numpy()), np.log(pts["amount"].to_numpy())

    def amount(v):
        return money_short(math.exp(v), currency)

    qq = line_chart(log_model, {"claims": log_claims, "perfect fit": log_model},
                    title=f"{family}: QQ plot (log scale)", x_label=f"fitted quantile ({currency}, log scale)",
                    y_label=f"claim amount ({currency}, log scale)", x_format=amount, y_format=amount, width=460,
                    css_class="qq-chart")
    model = pts["model_cdf"].to_numpy()
    pp = line_chart(model, {"claims": pts["empirical"].to_numpy(), "perfect fit": model},
                    title=f"{family}: PP plot", x_label="fitted probability below the amount",
                    y_label="share of claims below the amount", x_format=percent_tick, y_format=percent_tick,
                    width=460, css_class="pp-chart")
    return tag("div", qq, pp, class_="charts")


def fit_report_html(fits: Sequence[TruncatedFit], points: Sequence[pd.DataFrame], *, source: str = "claims",
                    title: str = "Severity fitted to claimant data", currency: str = CURRENCY) -> str:
    """The fits as one self-contained HTML page (see the module docstring).

    Parameters
    ----------
    fits : sequence of TruncatedFit
        One per family, on the same claims.
    points : sequence of DataFrame
        :func:`~stoploss.probability_plots.probability_plot` of each fit, in the same order.
    source : str
        Where the claims came from, shown in the settings.
    """
    summary = pd.concat([f.summary for f in fits], ignore_index=True).sort_values("aic", kind="stable")
    first = fits[0]
    body = [settings([
        ("Claims", f"{number(first.n)} claimants from {source}; {number(first.n_censored)} recorded at their policy "
                   f"limit (censored)."),
        ("Reporting threshold", f"only claimants above {money(first.truncation, currency)} are listed (left "
                                "truncation); the fits are of the ground-up cost, the plots of the cost given it "
                                "exceeds the threshold."),
        ("Empirical distribution", "product-limit estimate with truncation and censoring (Kaplan-Meier)."),
        ("Currency", f"{currency}."),
    ]), section("Fits, best first (lowest AIC)", table(summary, [
        Column("family", "Family"), Column("loglik", "Log-likelihood", lambda v: number(v, 1)),
        Column("aic", "AIC", lambda v: number(v, 1)),
        Column("ks", "Kolmogorov-Smirnov distance", lambda v: "not defined" if pd.isna(v) else ratio(v, 4)),
        Column("distribution", "Fitted ground-up severity", _readable)], id="fits"))]
    for f, pts in zip(fits, points):
        body.append(section(f.family, paragraph("On the diagonal where the fitted severity matches the claims; "
                                                "points above it in the QQ plot are claims larger than the fit "
                                                "expects."), _charts(f.family, pts, currency), level=3))
    return page(title, *body, subtitle="Goodness of fit: QQ and PP plots")
