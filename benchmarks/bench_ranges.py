"""Reserve ranges: the changing-settlement-rate model beside the ODP bootstrap, and the nightly ranges' coverage.

The national batch: 1,600 monthly 48 x 48 triangles x 10,000 simulations, ``csr`` (41 grid
values of the settlement-rate change, calibration on 3 past diagonals) against ``bootstrap_odp``
on the same triangles (the synthetic ones of :mod:`benchmarks.bench_bootstrap`). Target: the new
method within 2x of the bootstrap's time. Both sides load their compiled kernels in the set-up.

The nightly job's estimate and ranges (stochastic Bornhuetter-Ferguson blend with large claims),
with large claims developed apart (the default) and in the triangles, against known truth on 400
generated datasets, as ``tests/reserving/test_nightly_ranges.py`` measures 40:
the shares at or below p75 and p95 per level are binomial, so 40 datasets leave a standard error of
about 3% at consortium level and 7% nationally; 400 cut it by three.

Run with the other benchmarks (``python -m benchmarks.run --only ranges``), or on its own at a
chosen scale when the machine is shared::

    python -m benchmarks.bench_ranges --segments 200
"""

from __future__ import annotations

import argparse
import time

from benchmarks._harness import Side, Workload
from benchmarks.bench_bootstrap import monthly_triangles
from reserving import TriangleSet, bootstrap_odp
from reserving.csr import csr

N_SIMS = 10_000
#: Datasets of the coverage workload: the test's 40 (seeds 1-40) and 360 more.
COVERAGE_SEEDS = list(range(1, 401))


def workloads() -> list[Workload]:
    return [
        Workload(
            name="CSR ranges, national batch, 1,600 monthly 48x48 triangles x 10,000 sims, 2 cores",
            ours=Side("reserving.csr.csr", "benchmarks.bench_ranges:setup_csr", "benchmarks.bench_ranges:run_csr",
                      repeats=1),
            anchor=Side("reserving.bootstrap_odp (today's ranges)", "benchmarks.bench_ranges:setup_bootstrap",
                        "benchmarks.bench_ranges:run_bootstrap", repeats=1),
            params={"n_segments": 1600, "n": 48},
            target="within 2x of the bootstrap (speed ratio >= 0.5x)",
        ),
        *(Workload(
            name=f"nightly ranges against known truth, large claims {mode}: {len(COVERAGE_SEEDS)} generated "
                 "datasets (6 consortia x 3 services x 36 months), coverage per level",
            ours=Side("reserving.nightly.ranges", "benchmarks.bench_ranges:setup_coverage",
                      "benchmarks.bench_ranges:run_coverage", repeats=1),
            params={"seeds": COVERAGE_SEEDS, "large_claims": mode},
            target="truth <= p75 in 72-78% and <= p95 in 93-97% at segment, consortium and national level; "
                   "point bias within 2%",
        ) for mode in ("separate", "in-triangle")),
    ]


def setup_coverage(seeds: list, large_claims: str) -> tuple:
    return seeds, large_claims


def run_coverage(args: tuple) -> dict:
    """The test's coverage table (``tests/reserving/test_nightly_ranges.py``) over more datasets."""
    from tests.reserving.test_nightly_ranges import coverage_table

    shares, bias, zero, zero_immaterial = coverage_table(*args)
    out = {f"{level}_p75_p95": f"{row.p75:.3f}/{row.p95:.3f} (n {int(row.n)})" for level, row in shares.iterrows()}
    return out | {"bias_vs_truth": f"{bias['truth']:+.4f}", "bias_vs_expected": f"{bias['expected']:+.4f}",
                  "zero_width_material": zero, "zero_width_immaterial": zero_immaterial}


def setup_csr(n_segments: int, n: int) -> TriangleSet:
    csr(monthly_triangles(2, n), n_sims=2, seed=0)  # load the compiled kernels
    return monthly_triangles(n_segments, n)


def run_csr(tri: TriangleSet) -> dict:
    res = csr(tri, n_sims=N_SIMS, seed=1)
    return {"segments": tri.n_segments, "mean_ibnr": float(res.total_mean.sum()),
            "median_calibration": float(sorted(res.calibration)[len(res.calibration) // 2])}


def setup_bootstrap(n_segments: int, n: int) -> TriangleSet:
    bootstrap_odp(monthly_triangles(2, n), n_sims=2, seed=0, keep_samples=False)  # load the compiled kernels
    return monthly_triangles(n_segments, n)


def run_bootstrap(tri: TriangleSet) -> dict:
    res = bootstrap_odp(tri, n_sims=N_SIMS, seed=1, keep_samples=False)
    return {"segments": tri.n_segments, "mean_ibnr": float(res.total_mean.sum())}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=1600, help="number of monthly triangles (default 1,600)")
    parser.add_argument("--size", type=int, default=48, help="origins = lags per triangle (default 48)")
    args = parser.parse_args(argv)
    timings = {}
    for name, setup, run in (("csr", setup_csr, run_csr), ("bootstrap_odp", setup_bootstrap, run_bootstrap)):
        tri = setup(args.segments, args.size)
        start = time.perf_counter()
        figures = run(tri)
        timings[name] = time.perf_counter() - start
        print(f"{name}: {timings[name]:.1f} s for {args.segments} triangles {args.size}x{args.size} "
              f"x {N_SIMS:,} sims; {figures}")
    print(f"csr / bootstrap_odp time: {timings['csr'] / timings['bootstrap_odp']:.2f} (target <= 2)")


if __name__ == "__main__":
    main()
