"""The commissioner's year with files alone: riskadjust allocate -> nightly job -> validate -> stoploss
fit -> pool simulator (its cost above 100,000 the fitted severity's).

Each step is its package's command-line entry point, given only the files the step before wrote
(the column contracts in each command's ``--help``); nothing passes between them in memory.
"""

import numpy as np
import pandas as pd
import pytest

from reserving.cli import main as reserving_main
from reserving.nightly.synthetic import generate_claims
from riskadjust.cli import main as riskadjust_main
from stoploss.cli import main as stoploss_main
from stoploss.pool.cost_model import default_cost_model
from stoploss.pool.feeds import read_severity
from stoploss.severity import GeneralizedPareto
from stoploss.specific import specific_premium


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("pipeline")
    s = generate_claims(n_consortia=3, services=["emergency", "outpatient"], n_months=24, as_of="2024-09-30",
                        lines_per_cell=40, seed=5)
    s.lines.to_csv(d / "claims.csv", index=False)
    s.members.assign(month=s.members["month"].astype(str)).to_csv(d / "members.csv", index=False)
    # the Board's groups: list size (exposure) and relative need (risk), as riskadjust's scores would give
    pd.DataFrame({"group": ["C001", "C002", "C003"], "exposure": [100_000, 80_000, 120_000],
                  "risk": [1.05, 0.92, 1.01]}).to_csv(d / "groups.csv", index=False)
    # the stop-loss carrier's claimants above its 50,000 reporting threshold (annual cost per claimant)
    x = 50_000 + GeneralizedPareto(0.3, 35_000.0).sample(3000, seed=5)
    pd.DataFrame({"amount": np.round(x, 2)}).to_csv(d / "claimants.csv", index=False)
    codes = {
        "allocate": riskadjust_main(["allocate", "--groups", str(d / "groups.csv"), "--envelope", "2400000",
                                     "--out", str(d / "allocations.csv")]),
        "nightly": reserving_main(["nightly", "--claims", str(d / "claims.csv"), "--budget", str(d / "allocations.csv"),
                                   "--members", str(d / "members.csv"), "--sims", "200", "--out", str(d / "nightly"),
                                   "--quiet"]),
        # R-squared measured on cost capped at 100,000: the pool refuses a formula that explains more of
        # individual cost than its cost model's classes can (the demo model explains 29% uncapped)
        "validate": riskadjust_main(["validate", "--demo", "--cap", "100000", "--out", str(d / "ra")]),
        "fit": stoploss_main(["fit", "--claims", str(d / "claimants.csv"), "--truncation", "50000", "--family",
                              "gpd", "--no-html", "--out", str(d / "fit")]),
        "pool": stoploss_main(["pool", "--risk-models", str(d / "ra" / "validation.csv"), "--ibnr-from",
                               str(d / "nightly"), "--sizes", "20000,100000", "--attachments", "none",
                               "--years", "2000", "--no-html", "--out", str(d / "pool")]),
        "pool-priced": stoploss_main(["pool", "--severity", str(d / "fit" / "severity.json"), "--sizes", "20000",
                                      "--attachments", "150000,none", "--risk-model", "per head=0", "--years", "2000",
                                      "--no-html", "--out", str(d / "pool-priced")]),
    }
    return d, codes


def test_every_step_succeeds_on_the_files_of_the_step_before(run):
    d, codes = run
    assert codes == {"allocate": 0, "nightly": 0, "validate": 0, "fit": 0, "pool": 0, "pool-priced": 0}
    for path in ["allocations.csv", "nightly/forecast.csv", "nightly/consortia.csv", "ra/validation.csv",
                 "fit/severity.json", "pool-priced/pool_summary.csv"]:
        assert (d / path).is_file(), path
    assert any((d / "pool").iterdir())


def test_the_year_s_budget_is_the_allocation(run):
    d, _ = run
    alloc = pd.read_csv(d / "allocations.csv").set_index("group")["allocation"]
    forecast = pd.read_csv(d / "nightly" / "forecast.csv").set_index("consortium")
    assert np.allclose(forecast.loc[alloc.index, "budget_year"], alloc, rtol=1e-12)
    assert np.isclose(alloc.sum(), 2_400_000, rtol=1e-12)


def test_the_pool_uses_the_measured_r_squared_and_ibnr_error(run):
    # the fed run equals a run given the same figures by hand: the R-squared of each formula from
    # validation.csv, and the IBNR error as the median over consortia of ibnr_sd / (paid + ibnr)
    d, _ = run
    models = pd.read_csv(d / "ra" / "validation.csv")
    cons = pd.read_csv(d / "nightly" / "consortia.csv").dropna(subset=["ibnr_sd"])
    cons = cons[cons["consortium"].isin(["C001", "C002", "C003"])]
    ibnr_cv = float(np.median(cons["ibnr_sd"] / (cons["paid"] + cons["ibnr"])))
    typed = ["pool", "--ibnr-cv", repr(ibnr_cv), "--sizes", "20000,100000", "--attachments", "none",
             "--years", "2000", "--no-html", "--out", str(d / "pool-typed")]
    for name, r2 in zip(models["risk_model"], models["r_squared"]):
        typed += ["--risk-model", f"{name}={r2!r}"]
    assert stoploss_main(typed) == 0
    fed = pd.read_csv(d / "pool" / "pool_summary.csv")
    by_hand = pd.read_csv(d / "pool-typed" / "pool_summary.csv")
    assert set(fed["risk_model"]) == set(models["risk_model"])
    pd.testing.assert_frame_equal(fed, by_hand, rtol=1e-12)
    assert 0 < ibnr_cv < 0.5


def test_the_pool_charges_the_pricing_engine_s_premium_on_the_fitted_severity(run):
    # the fitted severity read back from severity.json, priced by the pricing engine at the claimant
    # rate that puts the pool's 1% of patients above 100,000: the pool's premium rate is the same
    d, _ = run
    fitted = read_severity(d / "fit" / "severity.json")
    assert isinstance(fitted, GeneralizedPareto) and abs(fitted.xi - 0.3) < 0.1  # drawn with 0.3; 3,000 claims
    cm = default_cost_model()
    rate = float(cm.population_share_above(100_000)) / float(fitted.sf(100_000))
    priced = specific_premium(fitted, 20_000, 150_000, claimant_rate=rate).expected
    row = pd.read_csv(d / "pool-priced" / "pool_summary.csv").dropna(subset=["attachment"]).iloc[0]
    assert row["specific_premium"] == pytest.approx(priced, rel=1e-9)
