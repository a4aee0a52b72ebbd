"""The pool with the priced severity: ``python -m stoploss pool --severity`` takes a patient's cost
above the cost model's tail threshold from the severity ``python -m stoploss fit`` wrote.

The check: the pool's simulated specific stop-loss recoveries per member equal the pricing engine's
risk premium (:func:`stoploss.specific.specific_premium`, before loadings) on the same severity and
frequency, within 4 Monte Carlo standard errors of the pool's mean (the pricing side is exact).
"Same frequency": the pool keeps its own share p_u of patients above the threshold u, so the
pricing engine is given the claimant rate p_u / S(u) of the severity's claimants (S its survival
function); above u both see the severity's cost. The pool's own closed-form premium rate
(``CostModel.excess``) equals the pricing engine's to 1e-9.
"""

import json

import numpy as np
import pytest

from stoploss.cli import main
from stoploss.errors import StopLossError
from stoploss.pool.cost_model import default_cost_model
from stoploss.pool.feeds import read_severity, severity_record
from stoploss.pool.simulate import PoolAssumptions, _simulate
from stoploss.severity import GeneralizedPareto, Lognormal, Pareto, Spliced
from stoploss.specific import specific_premium

ATTACHMENTS = [100_000.0, 250_000.0, 600_000.0]


def _pricing_per_member(severity, cm, attachment):
    u = cm.tail_threshold
    rate = float(cm.population_share_above(u)) / float(severity.sf(u))
    return specific_premium(severity, 1000.0, attachment, claimant_rate=rate).expected / 1000.0


@pytest.mark.parametrize("severity", [GeneralizedPareto(0.3, 40_000.0), Pareto(3.0, 150_000.0),
                                      Spliced(Lognormal(9.0, 1.2), GeneralizedPareto(0.2, 30_000.0), 60_000.0, 0.05)])
def test_recoveries_per_member_equal_the_pricing_premium(severity):
    cm = default_cost_model().with_tail(severity)
    n, years = 20_000, 20_000
    sim = _simulate(np.array([n]), ATTACHMENTS + [None], np.array([0.0]), PoolAssumptions(cost_model=cm), years, 7)
    recovered = (sim.retained[0, -1][None, :] - sim.retained[0, :-1]) / n          # (attachments, years)
    mean, se = recovered.mean(axis=1), recovered.std(axis=1, ddof=1) / np.sqrt(years)
    priced = np.array([_pricing_per_member(severity, cm, a) for a in ATTACHMENTS])
    assert np.all(np.abs(mean - priced) < 4 * se), (mean, priced, se)
    assert np.all(se < 0.05 * priced)  # the check has power: 4 se is under a fifth of the premium
    np.testing.assert_allclose([float(cm.excess(a)) for a in ATTACHMENTS], priced, rtol=1e-9)
    assert float(cm.population_share_above(cm.tail_threshold)) == pytest.approx(0.01, rel=1e-9)


def test_the_cost_model_s_own_tail_gives_the_same_years():
    """A class's own spliced severity as the priced one: the same tail (shift 0 to rounding) and the
    same simulated years as the calibrated model, to 1e-12."""
    cm = default_cost_model()
    same = cm.with_tail(cm.severity[0])
    assert same.tail_alpha == pytest.approx(cm.tail_alpha, rel=1e-12) and abs(same.tail_shift) < 1e-9
    a, b = (_simulate(np.array([5000]), [150_000.0, None], np.array([0.0]), PoolAssumptions(cost_model=m), 1000, 2)
            for m in (cm, same))
    np.testing.assert_allclose(a.retained, b.retained, rtol=1e-12)


@pytest.mark.parametrize("severity, words", [(Lognormal(9.0, 1.0), "no"), (GeneralizedPareto(0.6, 1000.0), "xi"),
                                             (Spliced(Lognormal(11.0, 1.0), GeneralizedPareto(0.2, 1e5), 2e5, 0.1),
                                              "starts at")])
def test_a_severity_without_a_usable_tail_is_refused(severity, words):
    with pytest.raises(StopLossError, match=words):
        default_cost_model().with_tail(severity)


def test_severity_json_round_trip_and_bad_files(tmp_path):
    path = tmp_path / "severity.json"
    path.write_text(json.dumps(severity_record("gpd", GeneralizedPareto(0.3, 40_000.0))))
    assert read_severity(path) == GeneralizedPareto(0.3, 40_000.0)
    bad = {"not JSON": "{", "family": json.dumps({"family": "cauchy", "parameters": {}}),
           "parameters": json.dumps({"family": "gpd", "parameters": {"xi": 0.3}}),
           "finite": json.dumps({"family": "gpd", "parameters": {"xi": 0.3, "beta": "x"}}),
           "beta": json.dumps({"family": "gpd", "parameters": {"xi": 0.3, "beta": -1.0}})}
    for words, text in bad.items():
        path.write_text(text)
        with pytest.raises(StopLossError, match=words) as err:
            read_severity(path)
        assert "severity.json" in str(err.value)


def test_fit_writes_the_severity_the_pool_reads(tmp_path):
    """fit --family gpd writes severity.json; pool --severity charges the pricing engine's premium rate."""
    import pandas as pd
    x = GeneralizedPareto(0.25, 30_000.0).sample(4000, seed=3)
    pd.DataFrame({"amount": x}).to_csv(tmp_path / "claimants.csv", index=False)
    assert main(["fit", "--claims", str(tmp_path / "claimants.csv"), "--family", "gpd", "--no-html",
                 "--out", str(tmp_path / "fit")]) == 0
    fitted = read_severity(tmp_path / "fit" / "severity.json")
    assert main(["pool", "--severity", str(tmp_path / "fit" / "severity.json"), "--sizes", "20000",
                 "--attachments", "150000,none", "--risk-model", "per head=0", "--years", "2000", "--no-html",
                 "--out", str(tmp_path / "pool")]) == 0
    row = pd.read_csv(tmp_path / "pool" / "pool_summary.csv").dropna(subset=["attachment"]).iloc[0]
    cm = default_cost_model().with_tail(fitted)
    assert row["specific_premium"] / row["n_patients"] == pytest.approx(_pricing_per_member(fitted, cm, 150_000.0),
                                                                        rel=1e-9)
    assert main(["pool", "--severity", str(tmp_path / "claimants.csv"), "--out", str(tmp_path / "bad")]) == 1


def test_the_report_states_the_priced_tail():
    from stoploss.pool.cli import priced_tail
    from stoploss.pool.presets import preset
    chosen = priced_tail(preset("default"), GeneralizedPareto(0.3, 40_000.0), "fit/severity.json")
    assumption, value, source = chosen.evidence[-1]
    assert "above 100,000" in assumption and "Pareto index 3.33" in value and "fit/severity.json" in source
    assert chosen.cost_model.tail_alpha == pytest.approx(1 / 0.3)
