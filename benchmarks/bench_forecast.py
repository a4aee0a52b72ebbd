"""The full-year forecast's calibration against whole synthetic years with known outturn (issue
"The commissioner's year": a reliability table in tests and in RESULTS.md).

The years are valued exactly as ``tests/reserving/test_forecast_calibration.py`` values them (its
``forecast_at``: the nightly job's own steps on :func:`reserving.nightly.synthetic.generate_year`),
over more seeds: 4 seeds x 40 consortia = 160 consortium-years at each of months 3, 6 and 9. The
figures are the bias of the forecast mean per valuation month and, per band of the forecast
probability of a deficit, the number of consortium-years, the mean forecast probability and the
share that truly overspent. Ours only; the time is the whole valuation.
"""

from __future__ import annotations

from benchmarks._harness import Side, Workload


def workloads() -> list[Workload]:
    return [
        Workload(
            name="full-year forecast calibration: 4 seeds x 40 consortia valued at months 3, 6, 9 (reliability)",
            ours=Side("reserving.nightly.forecast", "benchmarks.bench_forecast:setup", "benchmarks.bench_forecast:run",
                      repeats=1),
            params={"seeds": [0, 1, 2, 3]},
            target="bias within 2% at each month; share overspent close to the forecast probability in each band",
        )
    ]


def setup(seeds: list) -> dict:
    return {"seeds": seeds}


def run(data: dict) -> dict:
    import pandas as pd

    from tests.reserving.test_forecast_calibration import VALUATIONS, forecast_at

    valued = pd.concat([forecast_at(m, s) for m in VALUATIONS for s in data["seeds"]], ignore_index=True)
    out = {}
    for month, g in valued.groupby("month"):
        out[f"bias_month_{month}"] = round(float(g["outturn_mean"].sum() / g["actual"].sum() - 1), 4)
    bands = pd.cut(valued["prob_deficit"], [0, 0.2, 0.4, 0.6, 0.8, 1.0], include_lowest=True)
    table = valued.groupby(bands, observed=True).agg(n=("overspend", "size"), forecast=("prob_deficit", "mean"),
                                                     overspent=("overspend", "mean"))
    for band, row in table.iterrows():
        label = f"p_{band.left:.1f}-{band.right:.1f}".replace("-0.0", "0.0")
        out[label] = f"n {int(row['n'])}: forecast {row['forecast']:.2f}, overspent {row['overspent']:.2f}"
    return out
