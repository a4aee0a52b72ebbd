"""Seasonal completion factors: closed forms, the plain chain ladder as the limit, and the gain
on generated claims paid in weekly runs with slow Decembers."""

import numpy as np
import pandas as pd
import pytest

from reserving import TriangleSet, chain_ladder
from reserving.errors import TriangleError
from reserving.nightly.synthetic import delay_payments, generate_claims
from reserving.seasonality import seasonal_chain_ladder


def _triangle(cum: np.ndarray, start="2021-01") -> TriangleSet:
    n = cum.shape[-2]
    mask = np.arange(n)[:, None] + np.arange(cum.shape[-1])[None, :] > n - 1
    return TriangleSet.from_array(np.where(mask, np.nan, cum), origin_start=start, grain="M")


def test_plain_chain_ladder_is_the_limit():
    # No month effect, no payment days: the volume-weighted chain ladder, to 1e-10.
    rng = np.random.default_rng(3)
    inc = rng.gamma(2.0, 50.0, (3, 30, 30)) * np.exp(-0.2 * np.arange(30))[None, None, :]
    tri = _triangle(np.cumsum(inc, axis=2))
    ours = seasonal_chain_ladder(tri, by_month=False)
    ref = chain_ladder(tri)
    assert np.allclose(ours.ibnr, ref.ibnr, rtol=1e-10, atol=1e-8)
    assert np.allclose(ours.factors[:, 0, :], ref.development.ldf_values, rtol=1e-12)


def test_month_factors_recover_an_exact_seasonal_pattern():
    # Every origin develops exactly by its calendar month's factors (no noise): December's first
    # six factors are slower, later ones the same. The within-month variance is 0, so Z = 1
    # where December differs, and the projection is exact (closed form: mu_i * prod f_m).
    n = 36
    j = np.arange(n - 1)
    base = 1 + 0.6 * np.exp(-0.5 * j)
    december = np.where(j < 6, 1 + 0.9 * np.exp(-0.4 * j), base)
    months = pd.period_range("2021-01", periods=n, freq="M").month
    mu = 1000 + 10 * np.arange(n)
    factors = np.array([december if m == 12 else base for m in months])
    cum = mu[:, None] * np.concatenate([np.ones((n, 1)), np.cumprod(factors, axis=1)], axis=1)
    res = seasonal_chain_ladder(_triangle(cum[None]))
    lag = n - 1 - np.arange(n)
    truth = cum[:, -1] - cum[np.arange(n), lag]
    assert np.allclose(res.ibnr[0], truth, rtol=1e-9, atol=1e-6)
    assert np.allclose(res.credibility[0, 11, :6], 1.0)
    plain = chain_ladder(_triangle(cum[None])).ibnr[0]
    assert np.abs(plain - truth)[months == 12].max() > 100  # the plain chain ladder misses it


def test_payment_days_restatement_is_exact_with_the_calendar_ahead():
    # Increments mu_i p_j w[i+j] / wbar (paid in runs): restated they are mu_i p_j, and the
    # reserve is the future increments times the future months' own payment days / wbar.
    n = 24
    tri0 = _triangle(np.ones((1, n, n)), start="2022-01")
    days = seasonal_chain_ladder(tri0, payment_days="weekly-FRI", by_month=False).payment_days
    assert set(days) == {4.0, 5.0} and len(days) == 2 * n - 1
    wbar = days[:n].mean()
    p = np.exp(-0.4 * np.arange(n))
    p /= p.sum()
    mu = 500 + 20 * np.arange(n)
    cal = np.arange(n)[:, None] + np.arange(n)[None, :]
    inc = mu[:, None] * p[None, :] * days[cal] / wbar
    cum = np.cumsum(inc, axis=1)
    res = seasonal_chain_ladder(_triangle(cum[None], start="2022-01"), payment_days="weekly-FRI", by_month=False)
    lag = n - 1 - np.arange(n)
    truth = np.array([inc[i, lag[i] + 1:].sum() for i in range(n)])
    assert np.allclose(res.ibnr[0], truth, rtol=1e-9, atol=1e-6)


def test_bad_options_are_named():
    tri = _triangle(np.ones((1, 5, 5)))
    with pytest.raises(TriangleError, match="weekly-DAY"):
        seasonal_chain_ladder(tri, payment_days="fortnightly")
    with pytest.raises(TriangleError, match="5 observed calendar months"):
        seasonal_chain_ladder(tri, payment_days=[4, 4, 5])
    with pytest.raises(TriangleError, match="monthly"):
        seasonal_chain_ladder(TriangleSet.from_array(np.where(np.add.outer(range(3), range(3)) > 2, np.nan, 1.0),
                                                     origin_start="2001", grain="Y"))


def _newest_errors(seed: int, **options) -> tuple[float, float, float]:
    """Absolute IBNR error of the newest three months, summed over segments and 12 valuations
    (every month end of 2024): plain chain ladder, seasonal (both effects), and the truth's total."""
    s = generate_claims(n_consortia=3, services=["outpatient", "emergency"], n_months=48, as_of="2024-12-31",
                        lines_per_cell=500, seasonality=0.0, seed=seed)
    d = delay_payments(s, weekday=4, slow_months={12: 0.8, 8: 0.5})
    plain = seasonal = total = 0.0
    for v in pd.period_range("2024-01", "2024-12", freq="M"):
        cut = d.lines[(d.lines["paid_date"] <= v.end_time) & (d.lines["incurred_date"] >= (v - 35).start_time)]
        tri = TriangleSet.from_frame(cut, origin="incurred_date", development="paid_date", amount="amount",
                                     segments=["consortium", "service"], valuation=v.end_time.normalize())
        paid = cut.groupby(["consortium", "service", cut["incurred_date"].dt.to_period("M")])["amount"].sum()
        truth = d.truth.set_index(["consortium", "service", "origin"])["ultimate"]
        newest = pd.period_range(v - 2, v, freq="M")
        keys = [(*seg, o) for seg in tri.segments for o in newest]
        true_ibnr = (truth.reindex(keys).to_numpy() - paid.reindex(keys).fillna(0).to_numpy()).reshape(-1, 3)
        cols = [tri.origins.get_loc(o) for o in newest]
        plain += np.abs(chain_ladder(tri).ibnr[:, cols] - true_ibnr).sum()
        seasonal += np.abs(seasonal_chain_ladder(tri, **options).ibnr[:, cols] - true_ibnr).sum()
        total += true_ibnr.sum()
    return plain, seasonal, total


def test_seasonal_factors_cut_the_newest_months_error_on_generated_claims():
    """Claims paid in Friday runs, December's and August's claims paid 80% / 50% more slowly.

    Over 3 seeds x 12 valuations (every month end of 2024) x 6 segments, the newest three
    months' absolute IBNR error falls by more than a quarter with the adjusted completion
    factors. Measured when written: plain chain ladder 36.1% of the true IBNR; month-of-year
    factors alone 28.9%; payment days alone 32.9%; both 24.3% (0.67 of the plain error).
    """
    plain = seasonal = total = 0.0
    for seed in range(3):
        p, s, t = _newest_errors(seed, payment_days="weekly-FRI")
        plain, seasonal, total = plain + p, seasonal + s, total + t
    assert seasonal < 0.75 * plain, (plain / total, seasonal / total)
