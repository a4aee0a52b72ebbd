"""QQ and PP plots of fits to truncated and censored claims, and the ``fit`` command.

References: the closed form j / n of the product-limit estimate with one threshold and censoring
only above every uncensored claim; a slow, obvious loop over the distinct amounts (risk sets counted
claim by claim) for per-claim thresholds and limits (1e-12); the model side's quantile and cdf as
inverses (1e-9); and, on claims drawn from the fitted model itself, the Dvoretzky-Kiefer-Wolfowitz
band sqrt(ln(2 / 0.001) / (2 n)) for the largest PP gap.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from stoploss import Lognormal
from stoploss.cli import main
from stoploss.fit import fit
from stoploss.probability_plots import probability_plot, product_limit


def naive_product_limit(x, d, mask):
    times = sorted(set(x[~mask]))
    s, out = 1.0, []
    for t in times:
        at_risk = sum(1 for xi, di in zip(x, d) if di < t <= xi)
        deaths = sum(1 for xi, m in zip(x, mask) if xi == t and not m)
        s *= 1 - deaths / at_risk
        out.append(1 - s)
    return np.array(times), np.array(out)


def _claims(seed: int, n: int = 4_000, d: float = 5_000.0, limit: float = 60_000.0):
    x = Lognormal(9.0, 1.1).sample(n, seed=seed)
    x = x[x > d]
    return np.minimum(x, limit)


def test_one_threshold_and_top_censoring_give_j_over_n():
    x = _claims(1)
    mask = x >= 60_000.0
    times, f = product_limit(x, np.full(x.size, 5_000.0), mask)
    assert np.allclose(f, np.arange(1, times.size + 1) / x.size, rtol=0, atol=1e-12)


def test_per_claim_thresholds_and_limits_equal_the_slow_loop():
    rng = np.random.default_rng(5)
    x0 = Lognormal(9.0, 1.1).sample(3_000, seed=4)
    d = rng.choice([0.0, 2_000.0, 8_000.0], size=x0.size)
    limit = rng.choice([30_000.0, 100_000.0], size=x0.size)
    keep = x0 > d
    x, d, limit = np.minimum(x0[keep], limit[keep]), d[keep], limit[keep]
    mask = x >= limit
    t_fast, f_fast = product_limit(x, d, mask)
    t_slow, f_slow = naive_product_limit(x, d, mask)
    assert np.array_equal(t_fast, t_slow) and np.allclose(f_fast, f_slow, rtol=0, atol=1e-12)


def test_model_side_is_the_conditional_distribution_and_fits_its_own_sample():
    x = _claims(2, n=8_000)
    result = fit("lognormal", x, truncation=5_000.0, censored=60_000.0)
    pts = probability_plot(result, x, truncation=5_000.0, censored=60_000.0)
    dist = result.distribution
    s_d = float(dist.sf(5_000.0))
    conditional = (s_d - np.asarray(dist.sf(pts["model_quantile"]))) / s_d
    assert np.allclose(conditional, pts["empirical"], rtol=0, atol=1e-9)
    assert len(pts) == int((x < 60_000.0).sum())
    # claims drawn from the fitted severity itself: the PP gap stays inside the DKW band at 0.1%
    y = dist.sample(20_000, seed=9)
    y = np.minimum(y[y > 5_000.0], 60_000.0)
    same = probability_plot(result, y, truncation=5_000.0, censored=60_000.0)
    assert (same["empirical"] - same["model_cdf"]).abs().max() < np.sqrt(np.log(2 / 0.001) / (2 * y.size))


def test_fit_command_writes_table_and_qq_pp_report(tmp_path, capsys):
    x = _claims(3, n=3_000)
    pd.DataFrame({"amount": x}).to_csv(tmp_path / "claims.csv", index=False)
    out = tmp_path / "out"
    assert main(["fit", "--claims", str(tmp_path / "claims.csv"), "--truncation", "5000", "--limit", "60000",
                 "--family", "lognormal", "--family", "weibull", "--out", str(out)]) == 0
    table = pd.read_csv(out / "fit.csv")
    assert list(table["family"]) == ["lognormal", "weibull"] and (table["n_censored"] == (x >= 60_000).sum()).all()
    page = (out / "fit.html").read_text()
    assert page.count('class="chart qq-chart"') == 2 and page.count('class="chart pp-chart"') == 2
    capsys.readouterr()
    pd.DataFrame({"amount": x, "limt": 60_000.0}).to_csv(tmp_path / "bad.csv", index=False)
    assert main(["fit", "--claims", str(tmp_path / "bad.csv"), "--out", str(tmp_path / "bad")]) == 1
    assert "column 'limt': unknown column" in capsys.readouterr().err
