"""The full-year forecast against whole synthetic financial years with known outturn.

Each year (:func:`reserving.nightly.synthetic.generate_year`: 40 consortia, funding 0.9-1.1 of
expected cost, so some truly overspend) is valued after months 3, 6 and 9 with the nightly job's
own steps (claims, chain ladder and BF blend, stochastic BF ranges, forecast). Measured over
2 seeds x 40 consortia = 80 consortium-years per valuation month:

- bias: sum of forecast means / sum of actual outturns - 1, within 2% at each valuation month;
- reliability: consortia put in bands of the forecast probability of a deficit; in each band with
  at least 20, the share that truly overspent is within 3 binomial standard errors + 0.05 of the
  band's mean forecast probability (the table is printed with ``pytest -s``).
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
SEEDS = (0, 1)


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
    return fc.summary.merge(y.outturn[["consortium", "actual", "overspend"]], on="consortium").assign(month=month)


@pytest.fixture(scope="module")
def valued():
    return pd.concat([forecast_at(m, s) for m in VALUATIONS for s in SEEDS], ignore_index=True)


def test_full_year_mean_is_unbiased_within_2_percent(valued):
    bias = valued.groupby("month").apply(lambda g: g["outturn_mean"].sum() / g["actual"].sum() - 1)
    print("\nbias by valuation month:", bias.round(4).to_dict())
    assert valued["overspend"].any() and not valued["overspend"].all()
    assert (bias.abs() < 0.02).all(), bias


def test_probability_of_deficit_is_calibrated(valued):
    bands = pd.cut(valued["prob_deficit"], [0, 0.2, 0.4, 0.6, 0.8, 1.0], include_lowest=True)
    table = valued.groupby(bands, observed=True).agg(n=("overspend", "size"), forecast=("prob_deficit", "mean"),
                                                     overspent=("overspend", "mean"))
    print("\nreliability (all valuation months):\n", table.round(3).to_string())
    big = table[table["n"] >= 20]
    se = np.sqrt(big["forecast"] * (1 - big["forecast"]) / big["n"])
    assert len(big) >= 3
    assert ((big["overspent"] - big["forecast"]).abs() <= 3 * se + 0.05).all(), table
