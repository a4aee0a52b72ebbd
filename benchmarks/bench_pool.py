"""Pool-risk simulator: the issue's full sweep, ours only (no other library simulates this model).

20 list sizes (5,000 to 1,000,000) x 10 attachments (25,000 to 500,000 and none) x 3 budget
formulas (per head, age-sex R2 3.7%, age-sex + diagnoses R2 12.6%), 100,000 simulated years each,
on the default calibrated cost model with a 5% between-group morbidity spread. Target: under a
minute on 2 cores. The figures returned let a reader check the run did the same work each time.
"""

from __future__ import annotations

from benchmarks._harness import Side, Workload
from stoploss.pool import DEFAULT_ATTACHMENTS, DEFAULT_RISK_MODELS, DEFAULT_SIZES, PoolAssumptions, sweep


def workloads() -> list[Workload]:
    return [
        Workload(
            name="pool sweep, 20 sizes x 10 attachments x 3 formulas x 100,000 years, 2 cores",
            ours=Side("stoploss.pool.sweep", "benchmarks.bench_pool:setup", "benchmarks.bench_pool:run", repeats=2),
            params={"n_years": 100_000, "mix_cv": 0.05},
            target="< 60 s on 2 cores",
        ),
    ]


def setup(n_years: int, mix_cv: float) -> dict:
    return {"n_years": n_years, "assumptions": PoolAssumptions(mix_cv=mix_cv)}


def run(data: dict) -> dict:
    res = sweep(DEFAULT_SIZES, DEFAULT_ATTACHMENTS, DEFAULT_RISK_MODELS, assumptions=data["assumptions"],
                n_years=data["n_years"], seed=0)
    s = res.summary
    n = min(DEFAULT_SIZES, key=lambda v: abs(v - 100_000))
    row = s[(s.risk_model == "age-sex") & s.attachment.isna() & (s.n_patients == n)].iloc[0]
    return {
        "rows": len(s),
        "n_near_100k": n,
        "age_sex_no_stop_loss_p_over_5pct": float(row["p_over_5pct"]),
        "smallest_size_diagnoses_no_stop_loss": float(res.totals.loc["age-sex + diagnoses", "none"]),
    }
