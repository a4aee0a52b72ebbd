"""The full-year forecast's calibration against whole synthetic years with known outturn (issue
"The commissioner's year": a reliability table in tests and in RESULTS.md).

The years are valued exactly as ``tests/reserving/test_forecast_calibration.py`` values them (its
``forecast_at``: the nightly job's own steps on :func:`reserving.nightly.synthetic.generate_year`),
over more seeds: 24 seeds x 40 consortia = 960 consortium-years at each of months 3, 6 and 9. The
figures are the bias of the forecast mean per valuation month with its standard error over the
seeds and, per band of the forecast probability of a deficit, the number of consortium-years, the
mean forecast probability, the share that truly overspent and their difference in cluster-robust
standard errors (clusters: seeds; the test's ``reliability``). Ours only; the time is the whole valuation.
"""

from __future__ import annotations

from benchmarks._harness import Side, Workload

SEEDS = list(range(24))


def workloads() -> list[Workload]:
    return [
        Workload(
            name=f"full-year forecast calibration: {len(SEEDS)} seeds x 40 consortia valued at months 3, 6, 9 "
                 "(reliability)",
            ours=Side("reserving.nightly.forecast", "benchmarks.bench_forecast:setup", "benchmarks.bench_forecast:run",
                      repeats=1),
            params={"seeds": SEEDS},
            target="bias within 2% at each month; share overspent within 2 cluster-robust standard errors of the "
                   "forecast probability in each band",
        )
    ]


def setup(seeds: list) -> dict:
    return {"seeds": seeds}


def run(data: dict) -> dict:
    import numpy as np
    import pandas as pd

    from tests.reserving.test_forecast_calibration import VALUATIONS, bias_by_month, forecast_at, reliability

    valued = pd.concat([forecast_at(m, s) for m in VALUATIONS for s in data["seeds"]], ignore_index=True)
    out = {}
    per_seed = valued.groupby(["month", "seed"])[["outturn_mean", "actual"]].sum().eval("outturn_mean / actual - 1")
    for month, bias in bias_by_month(valued).items():
        se = per_seed[month].std() / np.sqrt(per_seed[month].size)
        out[f"bias_month_{month}"] = f"{bias:+.4f} (se {se:.4f})"
    for band, row in reliability(valued).iterrows():
        label = f"p_{band.left:.1f}-{band.right:.1f}".replace("-0.0", "0.0")
        out[label] = (f"n {int(row['n'])}: forecast {row['forecast']:.3f}, overspent {row['overspent']:.3f} "
                      f"({row['z']:+.1f} se)")
    return out
