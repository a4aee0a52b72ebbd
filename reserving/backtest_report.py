"""The back-test page: how honest each method's ranges were on complete run-off squares.

It renders a :class:`reserving.backtest.Backtest` with the shared report kit and computes
nothing beyond counting: the PP plot shows, for every level p, the share of outcomes that fell
below the method's p-th percentile; honest ranges put it on the diagonal, inside the
Kolmogorov-Smirnov band (Meyers 2015, CAS Monograph 1, section 4).
"""

from __future__ import annotations

import numpy as np

from _kit.charts import line_chart
from _kit.report import Column, number, page, paragraph, percent, section, settings, table
from reserving.backtest import Backtest

_LEVELS = np.linspace(0.0, 1.0, 101)


def render(result: Backtest, *, source: str, value: str, n_sims: int, seed: int) -> str:
    """The HTML page of a back-test.

    Parameters
    ----------
    result : Backtest
        From :func:`reserving.backtest.backtest`.
    source, value : str
        The squares file and the column back-tested (stated on the page).
    n_sims, seed : int
        The simulation settings (stated on the page).

    Examples
    --------
    >>> import pandas as pd
    >>> from reserving.backtest import backtest, read_squares
    >>> rng = np.random.default_rng(1)
    >>> paid = np.tile([50., 80., 95., 100.], 8) * rng.uniform(0.9, 1.1, 32) * np.repeat([1., 1.1, 1.2, 1.3] * 2, 4)
    >>> rows = pd.DataFrame({"GroupCode": np.repeat([1, 2], 16), "AccidentYear": np.tile(np.repeat([2001, 2002, 2003, 2004], 4), 2),
    ...                      "Lag": np.tile([1, 2, 3, 4], 8), "CumulativePaid": np.maximum.accumulate(paid.reshape(8, 4), axis=1).ravel()})
    >>> html = render(backtest(read_squares(rows, premium=None), methods=("mack",)), source="rows",
    ...               value="CumulativePaid", n_sims=100, seed=0)
    >>> "PP plot" in html and "inside the 10th to 90th" in html
    True
    """
    summary = result.summary
    n = int(summary["n"].max())
    band = 1.36 / np.sqrt(max(n, 1))
    curves = {"honest ranges (the diagonal)": _LEVELS}
    for method, rows in result.table.groupby("method", sort=False):
        p = rows["percentile"].to_numpy()
        p = np.sort(p[np.isfinite(p)])
        curves[method] = np.searchsorted(p, _LEVELS, side="right") / max(len(p), 1)
    chart = line_chart(
        _LEVELS, curves, title="PP plot: share of outcomes below each predicted percentile",
        x_label="predicted percentile", y_label="share of actual outcomes below it",
        x_format=percent, y_format=percent,
        bands=[("5% Kolmogorov-Smirnov band", np.clip(_LEVELS - band, 0, 1), np.clip(_LEVELS + band, 0, 1))],
        y_max=1.0, width=640, height=420)
    frame = summary.reset_index(names="method")
    frame["passes"] = np.where(frame["ks_statistic"] <= frame["ks_critical_5"], "yes", "no")
    columns = [Column("method", "method"), Column("n", "squares", number), Column("passes", "passes KS at 5%"),
               Column("ks_statistic", "KS statistic", lambda v: number(v, 3)),
               Column("ks_critical_5", "5% critical value", lambda v: number(v, 3)),
               Column("ks_pvalue", "KS p-value", lambda v: number(v, 3)),
               Column("inside_10_90", "inside the 10th to 90th percentile (honest: 80%)", lambda v: percent(v, 1)),
               Column("below_5", "below the 5th percentile (honest: 5%)", lambda v: percent(v, 1)),
               Column("median_actual_over_mean", "median actual / predicted mean", lambda v: number(v, 3)),
               Column("n_failed", "squares without a range", number)]
    dropped = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in result.dropped.items())
    return page(
        "Back-test of reserve ranges on complete run-off",
        settings([("squares", source), ("amount back-tested", value),
                  ("held out", "the lower triangle; the outcome is the sum over origins at the last lag"),
                  ("squares left out", dropped or "none"),
                  ("simulations", f"{n_sims:,} per square, seed {seed}"),
                  ("test", f"Kolmogorov-Smirnov against the uniform; at 5% with {n} squares the statistic must be "
                           f"at most {band:.3f}")]),
        section("Methods side by side", table(frame, columns)),
        section("PP plot", paragraph("Honest ranges follow the diagonal and stay inside the band. A curve above it "
                                     "means outcomes fell low in the predicted range too often; below it, high."),
                chart),
    )
