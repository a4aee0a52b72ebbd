"""The full-year forecast against whole synthetic financial years with known outturn.

Each year (:func:`reserving.nightly.synthetic.generate_year`: 40 consortia, funding 0.9-1.1 of
expected cost, so some truly overspend) is valued after months 3, 6 and 9 with the nightly job's
own steps (claims, chain ladder and BF blend, stochastic BF ranges, forecast). Measured over
8 seeds x 40 consortia = 320 consortium-years per valuation month:

- bias: sum of forecast means / sum of actual outturns - 1, within 2% at each valuation month
  (measured +1.0%, +0.8%, -0.3% at months 3, 6, 9; the seeds' spread puts a standard error of
  about 2% on month 3's figure and 0.4% on month 9's: benchmarks/bench_forecast.py runs 24 seeds);
- reliability: consortia put in bands of the forecast probability of a deficit (the table is
  printed with ``pytest -s``); in each band with at least 20 consortium-years, the share that truly
  overspent is within 2 standard errors of the band's mean forecast probability. The consortia of
  one year share its trend, seasonal and collective-level errors, so their outcomes are not
  independent: the standard error is cluster-robust over the seeds (Liang & Zeger 1986:
  ``sqrt(sum_seeds (sum_band (overspend - p))^2) / n``), about twice the binomial one here, and
  must be below 0.1 for the band to count as tested. Measured (8 seeds, forecast -> overspent):
  0.08 -> 0.13, 0.30 -> 0.30, 0.50 -> 0.52, 0.70 -> 0.61, 0.93 -> 0.91 (largest 1.3 standard errors).
"""

import numpy as np
import pandas as pd
import pytest

from reserving import chain_ladder
from reserving.nightly.claims import read_claims
from reserving.nightly.forecast import consortium_forecast, patient_costs
from reserving.nightly.ranges import simulate_ranges
from reserving.nightly.selection import select
from reserving.nightly.synthetic import generate_year

VALUATIONS = (3, 6, 9)
SEEDS = tuple(range(8))
BANDS = [0, 0.2, 0.4, 0.6, 0.8, 1.0]


def forecast_at(month: int, seed: int, n_consortia: int = 40, n_sims: int = 300) -> pd.DataFrame:
    """The forecast of one synthetic year valued after ``month``, joined to its true outturn."""
    y = generate_year(month, n_consortia=n_consortia, services=["emergency"], history_months=18, seed=seed)
    tri = read_claims(y.claims.lines, as_of=y.claims.as_of).triangles
    cl = chain_ladder(tri)
    sel = select(tri, cl, y.claims.budget, y.claims.members, method="blend", threshold=0.75)
    in_year = np.asarray(pd.PeriodIndex(tri.origins, freq="M").isin(y.year))
    r = simulate_ranges(tri, cl, sel, in_year, [], threshold=0.75, average="volume", n_periods=None, n_sims=n_sims,
                        seed=seed, chunk_mb=400, progress=False)
    costs, _ = patient_costs(y.claims.lines, "consortium", "incurred_date", "paid_date", "amount", "patient_id",
                          y.claims.as_of)
    fc = consortium_forecast(tri, sel.bf.paid, sel.bf.ibnr, r.period, r.consortia, y.claims.as_of, y.claims.budget,
                             y.claims.members, costs, n_sims=n_sims, seed=seed)
    return fc.summary.merge(y.outturn[["consortium", "actual", "overspend"]], on="consortium").assign(month=month,
                                                                                                     seed=seed)


def bias_by_month(valued: pd.DataFrame) -> pd.Series:
    """Sum of forecast means / sum of actual outturns - 1 at each valuation month."""
    return valued.groupby("month")[["outturn_mean", "actual"]].sum().eval("outturn_mean / actual - 1")


def reliability(valued: pd.DataFrame) -> pd.DataFrame:
    """Per band of the forecast probability of a deficit: consortium-years, mean forecast, share that
    overspent, its cluster-robust standard error (clusters: seeds) and the difference in those errors."""
    band = pd.cut(valued["prob_deficit"], BANDS, include_lowest=True)
    resid = valued["overspend"] - valued["prob_deficit"]
    table = valued.groupby(band, observed=True).agg(n=("overspend", "size"), forecast=("prob_deficit", "mean"),
                                                    overspent=("overspend", "mean"))
    by_seed = resid.groupby([band, valued["seed"]], observed=True).sum().unstack(fill_value=0.0)
    table["se"] = np.sqrt((by_seed**2).sum(axis=1)) / table["n"]
    table["z"] = (table["overspent"] - table["forecast"]) / table["se"]
    return table


@pytest.fixture(scope="module")
def valued():
    return pd.concat([forecast_at(m, s) for m in VALUATIONS for s in SEEDS], ignore_index=True)


def test_full_year_mean_is_unbiased_within_2_percent(valued):
    bias = bias_by_month(valued)
    print("\nbias by valuation month:", bias.round(4).to_dict())
    assert valued["overspend"].any() and not valued["overspend"].all()
    assert (bias.abs() < 0.02).all(), bias


def test_probability_of_deficit_is_calibrated(valued):
    table = reliability(valued)
    print("\nreliability (all valuation months):\n", table.round(3).to_string())
    big = table[table["n"] >= 20]
    assert len(big) >= 4 and (big["se"] < 0.1).all(), table
    assert (big["z"].abs() <= 2).all(), table
