"""Pool presets: the Crump 1991 scope fitted to the district and its predictions at 9,000 and 24,000 patients.

References: Crump, Cubbon, Drummond, Hawkes & Marchment, BMJ 1991;302:1582-4 (published spreads of
annual cost between the 5th and 95th percentile years, as a share of the mean: 27.5% at 9,000
patients, 15.3% at 24,000, 5.7% for the district of 179,400), and the exact compound distribution
of a group's total by FFT (``stoploss.compound``) for the same cost model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stoploss import Binomial, GeneralizedPareto, Lognormal, Spliced, compound
from stoploss.cli import main
from stoploss.errors import StopLossError
from stoploss.pool.presets import CRUMP_DISTRICT, crump_1991_cost_model, preset, top_share
from stoploss.pool.simulate import CRUMP_1991, PoolAssumptions, simulate_pool


def _exact_total(cm, n: int):
    """A group's annual total: compound Binomial(n, q) of the class's spliced severity, by FFT."""
    sev = Spliced(Lognormal(float(cm.log_mu[0]), cm.sigma), GeneralizedPareto(1 / cm.tail_alpha,
                                                                               cm.tail_threshold / cm.tail_alpha),
                  cm.tail_threshold, float(cm.tail_probability[0]))
    return compound(Binomial(n, 1.0 - float(cm.zero_probability[0])), sev)


def _exact_spread(cm, n: int) -> float:
    total = _exact_total(cm, n)
    q05, q95 = total.quantile(np.array([0.05, 0.95]))
    return float((q95 - q05) / total.mean())


def test_crump_cost_model_reproduces_the_district_figures_exactly():
    cm = crump_1991_cost_model()
    n = CRUMP_DISTRICT["residents"]
    assert n * cm.mean == pytest.approx(CRUMP_DISTRICT["mean"], rel=1e-9)
    assert np.sqrt(n * cm.var) == pytest.approx(CRUMP_DISTRICT["sd"], rel=1e-9)
    assert n * cm.mean / n == pytest.approx(26.94, abs=0.005)     # "about 27 pounds a head"
    assert cm.tail_probability[0] < 1e-6                            # the Pareto tail is negligible


@pytest.mark.parametrize("n", [9_000, 24_000])
def test_crump_spreads_are_predicted_within_ten_percent(n):
    """A prediction, not a fit: only the district's mean and SD entered the model.

    Simulated 5-95% spread (40,000 years) within 10% of the published figure; and each simulated
    quantile inside the FFT quantiles at p -+ 4 sqrt(p (1 - p) / Y) of the exact compound total.
    """
    cm = crump_1991_cost_model()
    years = 40_000
    res = simulate_pool(n, risk_model=0.0, assumptions=PoolAssumptions(cost_model=cm), n_years=years, seed=7)
    spread = float(res.totals["spread_5_95"])
    assert abs(spread / CRUMP_1991[n] - 1) < 0.10
    exact = _exact_total(cm, n)
    p = np.array([0.05, 0.95])
    band = 4 * np.sqrt(p * (1 - p) / years)
    q = np.quantile(res.outturn, p, method="inverted_cdf")
    assert np.all(q >= exact.quantile(p - band)) and np.all(q <= exact.quantile(p + band))


@pytest.mark.parametrize("sigma", [0.3, 0.6, 0.9])
def test_crump_prediction_does_not_hang_on_the_assumed_price_spread(sigma):
    """The one assumption not in the paper (spread of procedure prices) moves the exact spreads by < 1%."""
    cm = crump_1991_cost_model(sigma)
    for n in (9_000, 24_000):
        exact = _exact_spread(cm, n)
        assert abs(exact / CRUMP_1991[n] - 1) < 0.10
        assert exact == pytest.approx(_exact_spread(crump_1991_cost_model(0.6), n), rel=0.01)


def test_default_preset_evidence_matches_its_cost_model():
    p = preset("default")
    cm = p.cost_model
    share1, cut1 = top_share(cm, 0.01)
    assert share1 == pytest.approx(1 / 3, rel=1e-9) and cut1 == pytest.approx(100_000, rel=1e-9)
    share5, cut5 = top_share(cm, 0.05)
    assert float(cm.survival(cut5)) == pytest.approx(0.05, rel=1e-9)
    assert float(cm.spend_share_above(cut5)) == pytest.approx(share5, rel=1e-12)
    evidence = {a: (v, s) for a, v, s in p.evidence}
    assert evidence["Share of spend held by the top 5%"][0].startswith(f"{share5:.0%}")
    assert all(source.strip() for _, _, source in p.evidence)


def test_unknown_preset_and_bad_price_spread_are_named():
    with pytest.raises(StopLossError, match="not one of default, crump-1991"):
        preset("crump-1992")
    with pytest.raises(StopLossError, match="price_sigma"):
        crump_1991_cost_model(-1.0)


def test_pool_command_with_the_crump_preset(tmp_path, capsys):
    assert main(["pool", "--preset", "crump-1991", "--out", str(tmp_path), "--years", "2000"]) == 0
    summary = pd.read_csv(tmp_path / "pool_summary.csv")
    assert list(summary["n_patients"]) == [9_000, 12_000, 15_000, 18_000, 21_000, 24_000, 179_400]
    assert set(summary["risk_model"]) == {"per head"} and summary["attachment"].isna().all()
    page = (tmp_path / "pool.html").read_text()
    for text in ("27.5%", "15.3%", "5.7%", "preset crump-1991", "113 elective", "How the answer moves"):
        assert text in page
    capsys.readouterr()
    assert main(["pool", "--preset", "crump-1991", "--out", str(tmp_path / "x"), "--years", "1000",
                 "--mix-cv", "0.05"]) == 1
    assert "mix_cv" in capsys.readouterr().err
