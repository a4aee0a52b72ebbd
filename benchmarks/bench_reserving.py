"""Reserving methods against chainladder-python on the same numbers: Mack, Cape Cod, Benktander, Clark, Munich.

1. All 775 clrd triangles (paid losses, one column), one call on each side.
2. 2,000 monthly 36 x 36 triangles from a seeded multiplicative development model; chainladder
   gets them as one multi-index ``chainladder.Triangle`` built from a long DataFrame.
3. First-call cost with an empty Numba cache (``NUMBA_CACHE_DIR`` pointed at a new temporary
   directory before Numba is imported): import, compile and run of ``chain_ladder`` and ``mack``
   on one small triangle, and separately of ``bootstrap_odp`` (whose figures also give the first
   call's CPU seconds, a second, warm call and the difference, the compile time; issue "a fast
   first run": under 15 s). Ours only; the *first call* column is the figure to read.
4. Exposure and growth-curve methods on the same monthly triangles, exposure four times each
   origin's first month: Cape Cod and Benktander (2 iterations, a priori 0.7) against
   chainladder's ``CapeCod`` and ``Benktander`` on all 2,000; the expected loss ratio (0.7) against
   chainladder's ``Benktander(n_iters=0)``, which is the same method; Clark LDF and Cape Cod
   (loglogistic) against chainladder's ``ClarkLDF`` (one scipy optimisation per triangle,
   about 0.4 s each) on the first 200, and ours alone on all 2,000. Figures: total IBNR
   (Clark: the LDF method's pattern compared through omega and theta, and chainladder gives
   no reserves or standard errors of its own).
5. Munich chain ladder on 2,000 monthly 36 x 36 paid triangles (as in 2) with incurred above them
   (case reserves of 60% of paid at the first month running off to 5%, 20% noise per cell),
   against chainladder's ``MunichAdjustment`` on the same pairs; and Merz-Wuthrich's one-year CDR
   on the 2,000 triangles of 2, ours only (chainladder has none).
6. The first ``python -m reserving nightly --demo`` after installation: the command run twice in
   new processes on one new, empty cache directory; the first run's time less the second's is
   the compile time (issue "a fast first run": under 20 s on 2 cores), in seconds and in CPU
   seconds (user + system of the two processes: on a shared machine the CPU figure is the one
   that does not move with the other load; compiling is single-threaded). The figures also count
   the kernels the second run compiled and saved again (0 when the cache is hit).

Both sides use volume-weighted factors, log-linear sigma interpolation and no tail. The figures
returned are computed over segments whose observed cells are all positive and whose link
ratios vary in every lag (the same mask on both sides, taken from the input numbers), where the
two implementations are defined identically; they also count the segments whose total standard
error is finite (ours gives a finite answer or a diagnostic where chainladder gives NaN).

Imports of ``reserving`` and ``chainladder`` happen inside the functions, so that workload 3 can
set the cache directory before Numba is first imported.
"""

from __future__ import annotations

import atexit
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks._harness import Side, Workload

MODULE = "benchmarks.bench_reserving"


def workloads() -> list[Workload]:
    return [
        Workload(
            name="Mack on all 775 clrd triangles (CumPaidLoss)",
            ours=Side("reserving.mack", f"{MODULE}:setup_clrd_ours", f"{MODULE}:run_ours"),
            anchor=Side("chainladder MackChainladder", f"{MODULE}:setup_clrd_anchor", f"{MODULE}:run_anchor", repeats=2),
            target="faster and leaner than chainladder; totals agree",
        ),
        Workload(
            name="Mack on 2,000 monthly 36x36 triangles",
            ours=Side("reserving.mack", f"{MODULE}:setup_monthly_ours", f"{MODULE}:run_ours"),
            anchor=Side("chainladder MackChainladder", f"{MODULE}:setup_monthly_anchor", f"{MODULE}:run_anchor", repeats=1),
            params={"n_segments": 2000, "n": 36},
            target=">= 20x faster, >= 10x less memory",
        ),
        Workload(
            name="Cape Cod and Benktander on 2,000 monthly 36x36 triangles",
            ours=Side("reserving.cape_cod + benktander", f"{MODULE}:setup_monthly_ours", f"{MODULE}:run_exposure_ours"),
            anchor=Side("chainladder CapeCod + Benktander", f"{MODULE}:setup_monthly_anchor",
                        f"{MODULE}:run_exposure_anchor", repeats=1),
            params={"n_segments": 2000, "n": 36},
            target="faster than chainladder; ultimates agree",
        ),
        Workload(
            name="Clark LDF and Cape Cod (loglogistic) on 200 monthly 36x36 triangles",
            ours=Side("reserving.clark_ldf + clark_cape_cod", f"{MODULE}:setup_monthly_ours", f"{MODULE}:run_clark_ours"),
            anchor=Side("chainladder ClarkLDF (with and without sample_weight)", f"{MODULE}:setup_monthly_anchor",
                        f"{MODULE}:run_clark_anchor", repeats=1),
            params={"n_segments": 200, "n": 36},
            target="faster than chainladder; parameters agree to its optimizer's tolerance",
        ),
        Workload(
            name="Clark LDF and Cape Cod (loglogistic) on 2,000 monthly 36x36 triangles, with standard errors",
            ours=Side("reserving.clark_ldf + clark_cape_cod", f"{MODULE}:setup_monthly_ours", f"{MODULE}:run_clark_ours"),
            params={"n_segments": 2000, "n": 36},
            target="report only (chainladder would take about 25 minutes)",
        ),
        Workload(
            name="Expected loss ratio on 2,000 monthly 36x36 triangles",
            ours=Side("reserving.expected_loss_ratio", f"{MODULE}:setup_monthly_ours", f"{MODULE}:run_elr_ours"),
            anchor=Side("chainladder Benktander(n_iters=0)", f"{MODULE}:setup_monthly_anchor", f"{MODULE}:run_elr_anchor",
                        repeats=1),
            params={"n_segments": 2000, "n": 36},
            target="faster than chainladder; ultimates agree",
        ),
        Workload(
            name="Munich chain ladder on 2,000 monthly 36x36 paid and incurred pairs",
            ours=Side("reserving.munich_chain_ladder", f"{MODULE}:setup_pairs_ours", f"{MODULE}:run_munich_ours"),
            anchor=Side("chainladder MunichAdjustment", f"{MODULE}:setup_pairs_anchor", f"{MODULE}:run_munich_anchor",
                        repeats=1),
            params={"n_segments": 2000, "n": 36},
            target="faster than chainladder; ultimates agree (to 1e-8 per segment except where chainladder's residual "
                   "mask departs, see reserving.munich_chain_ladder)",
        ),
        Workload(
            name="Merz-Wuthrich one-year CDR on 2,000 monthly 36x36 triangles",
            ours=Side("reserving.merz_wuthrich", f"{MODULE}:setup_monthly_ours", f"{MODULE}:run_merz_wuthrich_ours"),
            params={"n_segments": 2000, "n": 36},
            target="report only (chainladder has no one-year CDR)",
        ),
        Workload(
            name="first call with an empty Numba cache: import + compile + chain_ladder and mack on RAA",
            ours=Side("reserving (cold cache)", f"{MODULE}:setup_cold_cache", f"{MODULE}:run_cold_cache", repeats=1),
            target="report only (compile time counted in the test budget)",
        ),
        Workload(
            name="first call with an empty Numba cache: import + compile + bootstrap_odp on RAA (1,000 sims)",
            ours=Side("reserving (cold cache)", f"{MODULE}:setup_cold_cache", f"{MODULE}:run_cold_bootstrap",
                      repeats=1),
            target="first call under 15 s (once per installation)",
        ),
        Workload(
            name="first `python -m reserving nightly --demo` with an empty Numba cache, then a warm run",
            ours=Side("reserving nightly --demo (cold cache)", f"{MODULE}:setup_cold_nightly", f"{MODULE}:run_cold_nightly",
                      repeats=1),
            target="report only: compile_s (first run less warm run) under 20 s on 2 cores",
        ),
    ]


# ---------------------------------------------------------------- inputs
def monthly_values(n_segments: int, n: int, seed: int = 2024) -> np.ndarray:
    """(S, n, n) cumulative triangles: C[j+1] = C[j] f_j eps, with lognormal eps around 1.

    Each segment has its own first-month volume per origin and its own factor curve
    ``f_j = 1 + a exp(-j / 4)``, so the factors differ by segment; NaN after the valuation.
    """
    rng = np.random.default_rng(seed)
    first = rng.lognormal(np.log(5e4), 0.6, size=(n_segments, n, 1))
    a = rng.uniform(0.3, 0.8, size=(n_segments, 1, 1))
    factors = 1 + a * np.exp(-np.arange(n - 1) / 4.0)[None, None, :]
    noise = rng.lognormal(-0.5 * 0.05**2, 0.05, size=(n_segments, n, n - 1))
    values = first * np.concatenate([np.ones((n_segments, n, 1)), np.cumprod(factors * noise, axis=2)], axis=2)
    values[:, np.add.outer(np.arange(n), np.arange(n)) > n - 1] = np.nan
    return values


def _positive_mask(values: np.ndarray) -> np.ndarray:
    """(S,) segments where both sides are defined alike: observed cells all finite and positive,
    and no lag whose two or more link ratios are all equal (a zero sigma, which chainladder fits
    as log(1e-320) and then reports NaN)."""
    n_org, n_lag = values.shape[1:]
    observed = np.add.outer(np.arange(n_org), np.arange(n_lag)) <= n_org - 1
    positive = (np.isfinite(values) & (values > 0) | ~observed).all(axis=(1, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = values[:, :, 1:] / values[:, :, :-1]
    spread = np.nanmax(ratios, axis=1) - np.nanmin(ratios, axis=1)
    links = np.isfinite(ratios).sum(axis=1)
    return positive & ((links < 2) | (spread > 0)).all(axis=1)


def _clrd():
    import chainladder as cl

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cl.load_sample("clrd")["CumPaidLoss"]


def setup_clrd_ours() -> dict:
    from reserving import TriangleSet

    tri = TriangleSet.from_chainladder(_clrd())
    return {"tri": tri, "mask": _positive_mask(tri.values)}


def setup_clrd_anchor() -> dict:
    triangle = _clrd()
    return {"tri": triangle, "mask": _positive_mask(triangle.values[:, 0])}


def setup_monthly_ours(n_segments: int, n: int) -> dict:
    from reserving import TriangleSet

    values = monthly_values(n_segments, n)
    tri = TriangleSet.from_array(values, origin_start="2021-01", grain="M",
                                 segments=pd.Index([f"s{s:04d}" for s in range(n_segments)], name="segment"))
    return {"tri": tri, "mask": _positive_mask(values)}


def setup_monthly_anchor(n_segments: int, n: int) -> dict:
    import chainladder as cl

    values = monthly_values(n_segments, n)
    s, i, j = np.nonzero(np.isfinite(values))
    origin = pd.period_range("2021-01", periods=n, freq="M")
    frame = pd.DataFrame({
        "segment": np.array([f"s{k:04d}" for k in range(n_segments)])[s],
        "origin": origin[i].to_timestamp(),
        "valuation": (origin[i] + j).to_timestamp(how="end").normalize(),
        "amount": values[s, i, j],
    })
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        triangle = cl.Triangle(frame, origin="origin", development="valuation", columns=["amount"],
                               index=["segment"], cumulative=True)
    return {"tri": triangle, "mask": _positive_mask(values)}


# ---------------------------------------------------------------- runs
def _figures(ibnr: np.ndarray, total_se: np.ndarray, mask: np.ndarray) -> dict:
    return {
        "segments": int(mask.size),
        "compared_segments": int(mask.sum()),
        "ibnr_compared": float(np.nansum(ibnr[mask])),
        "total_std_err_compared": float(np.sum(total_se[mask])),
        "finite_total_std_err": int(np.isfinite(total_se).sum()),
    }


def run_ours(data: dict) -> dict:
    from reserving import mack

    res = mack(data["tri"], sigma="log-linear")
    return _figures(np.nansum(res.chain_ladder.ibnr, axis=1), res.total_std_err, data["mask"])


def run_anchor(data: dict) -> dict:
    import chainladder as cl

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dev = cl.Development(sigma_interpolation="log-linear").fit_transform(data["tri"])
        model = cl.MackChainladder().fit(dev)
    ibnr = np.nansum(model.ibnr_.values[:, 0, :, 0], axis=1)
    return _figures(ibnr, model.total_mack_std_err_.values[:, 0], data["mask"])


def _exposure(values: np.ndarray) -> np.ndarray:
    """(S, I) exposure: four times each origin's first month."""
    return 4.0 * values[:, :, 0]


def run_exposure_ours(data: dict) -> dict:
    from reserving import benktander, cape_cod

    exposure = _exposure(data["tri"].values)
    cc = cape_cod(data["tri"], exposure)
    bk = benktander(data["tri"], 0.7, exposure, n_iters=2)
    return {"cape_cod_ultimate": float(np.nansum(cc.ultimate)), "benktander_ultimate": float(np.nansum(bk.ultimate))}


def _weight(triangle, exposure: np.ndarray):
    weight = triangle.latest_diagonal
    weight.values = exposure[:, None, :, None]
    return weight


def run_exposure_anchor(data: dict) -> dict:
    import chainladder as cl

    triangle = data["tri"]
    weight = _weight(triangle, _exposure(triangle.values[:, 0]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cc = cl.CapeCod().fit(triangle, sample_weight=weight)
        bk = cl.Benktander(apriori=0.7, n_iters=2).fit(triangle, sample_weight=weight)
    return {"cape_cod_ultimate": float(np.nansum(cc.ultimate_.values)),
            "benktander_ultimate": float(np.nansum(bk.ultimate_.values))}


def run_elr_ours(data: dict) -> dict:
    from reserving import expected_loss_ratio

    res = expected_loss_ratio(data["tri"], _exposure(data["tri"].values), 0.7)
    return {"ultimate": float(np.nansum(res.ultimate)), "ibnr": float(np.nansum(res.ibnr))}


def run_elr_anchor(data: dict) -> dict:
    import chainladder as cl

    triangle = data["tri"]
    weight = _weight(triangle, _exposure(triangle.values[:, 0]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        elr = cl.Benktander(apriori=0.7, n_iters=0).fit(triangle, sample_weight=weight)
    return {"ultimate": float(np.nansum(elr.ultimate_.values)), "ibnr": float(np.nansum(elr.ibnr_.values))}


def incurred_values(paid: np.ndarray, seed: int = 2025) -> np.ndarray:
    """(S, n, n) incurred above paid: case reserves of 60% of paid at the first month, running off
    as ``exp(-j / 12)`` to a floor of 5%, with 20% lognormal noise per cell (NaN where paid is NaN)."""
    rng = np.random.default_rng(seed)
    n = paid.shape[2]
    case = (0.05 + 0.6 * np.exp(-np.arange(n) / 12.0))[None, None, :]
    return paid * (1.0 + case * rng.lognormal(-0.5 * 0.2**2, 0.2, size=paid.shape))


def setup_pairs_ours(n_segments: int, n: int) -> dict:
    from reserving import TriangleSet

    paid = monthly_values(n_segments, n)
    segments = pd.Index([f"s{s:04d}" for s in range(n_segments)], name="segment")
    return {"paid": TriangleSet.from_array(paid, origin_start="2021-01", grain="M", segments=segments),
            "incurred": TriangleSet.from_array(incurred_values(paid), origin_start="2021-01", grain="M",
                                               segments=segments)}


def setup_pairs_anchor(n_segments: int, n: int) -> dict:
    import chainladder as cl

    paid = monthly_values(n_segments, n)
    incurred = incurred_values(paid)
    s, i, j = np.nonzero(np.isfinite(paid))
    origin = pd.period_range("2021-01", periods=n, freq="M")
    frame = pd.DataFrame({
        "segment": np.array([f"s{k:04d}" for k in range(n_segments)])[s],
        "origin": origin[i].to_timestamp(),
        "valuation": (origin[i] + j).to_timestamp(how="end").normalize(),
        "paid": paid[s, i, j], "incurred": incurred[s, i, j],
    })
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        triangle = cl.Triangle(frame, origin="origin", development="valuation", columns=["paid", "incurred"],
                               index=["segment"], cumulative=True)
    return {"tri": triangle}


def run_munich_ours(data: dict) -> dict:
    from reserving import munich_chain_ladder

    res = munich_chain_ladder(data["paid"], data["incurred"])
    return {"ultimate_paid": float(np.nansum(res.ultimate_paid)),
            "ultimate_incurred": float(np.nansum(res.ultimate_incurred))}


def run_munich_anchor(data: dict) -> dict:
    import chainladder as cl

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dev = cl.Development(sigma_interpolation="log-linear").fit_transform(data["tri"])
        full = cl.MunichAdjustment(paid_to_incurred=("paid", "incurred")).fit(dev).munich_full_triangle_
    return {"ultimate_paid": float(np.nansum(full[0][..., -1])),
            "ultimate_incurred": float(np.nansum(full[1][..., -1]))}


def run_merz_wuthrich_ours(data: dict) -> dict:
    from reserving import merz_wuthrich

    res = merz_wuthrich(data["tri"])
    return {"total_cdr_std_err_sum": float(np.nansum(res.total_cdr_std_err)),
            "total_mack_std_err_sum": float(np.nansum(res.mack.total_std_err))}


def run_clark_ours(data: dict) -> dict:
    from reserving import clark_cape_cod, clark_ldf

    ldf = clark_ldf(data["tri"])
    cc = clark_cape_cod(data["tri"], _exposure(data["tri"].values))
    return {"ldf_omega_mean": float(np.mean(ldf.omega)), "ldf_theta_mean": float(np.mean(ldf.theta)),
            "cape_cod_elr_mean": float(np.mean(cc.elr)), "ldf_ibnr": float(np.nansum(ldf.ibnr)),
            "ldf_total_std_err_sum": float(np.nansum(ldf.total_std_err)), "fits_flagged": len(ldf.diagnostics)}


def run_clark_anchor(data: dict) -> dict:
    import chainladder as cl

    triangle = data["tri"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ldf = cl.ClarkLDF().fit(triangle)
        cc = cl.ClarkLDF().fit(triangle, sample_weight=_weight(triangle, _exposure(triangle.values[:, 0])))
    return {"ldf_omega_mean": float(np.mean(ldf.omega_.values)), "ldf_theta_mean": float(np.mean(ldf.theta_.values)),
            "cape_cod_elr_mean": float(np.mean(cc.elr_.values))}


def setup_cold_cache() -> dict:
    cache = tempfile.mkdtemp(prefix="numba-cold-")
    atexit.register(shutil.rmtree, cache, True)
    os.environ["NUMBA_CACHE_DIR"] = cache  # before the first import of Numba in this process
    import chainladder as cl

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raa = cl.load_sample("raa").values[0, 0]
    return {"cache": cache, "raa": raa}


def run_cold_cache(data: dict) -> dict:
    from reserving import TriangleSet, chain_ladder, mack

    raa = TriangleSet.from_array(data["raa"], origin_start="1981")
    ibnr = float(chain_ladder(raa).totals["ibnr"].iloc[0])
    total = float(mack(raa, sigma="mack").total_std_err[0])
    cached = sum(len(files) for _, _, files in os.walk(data["cache"]))
    return {"raa_ibnr": ibnr, "raa_total_std_err": total, "files_cached": cached}


def run_cold_bootstrap(data: dict) -> dict:
    from reserving import TriangleSet, bootstrap_odp

    raa = TriangleSet.from_array(data["raa"], origin_start="1981")
    t0, c0 = time.perf_counter(), time.process_time()
    res = bootstrap_odp(raa, n_sims=1_000, seed=1)
    first, first_cpu = time.perf_counter() - t0, time.process_time() - c0
    t0 = time.perf_counter()
    bootstrap_odp(raa, n_sims=1_000, seed=1)
    warm = time.perf_counter() - t0
    cached = sum(len(files) for _, _, files in os.walk(data["cache"]))
    return {"raa_mean_ibnr": float(res.total_mean[0]), "first_call_s": first, "first_call_cpu_s": first_cpu,
            "warm_call_s": warm, "compile_s": first - warm, "files_cached": cached}


def setup_cold_nightly() -> dict:
    cache = tempfile.mkdtemp(prefix="numba-cold-")
    out = tempfile.mkdtemp(prefix="nightly-demo-")
    for folder in (cache, out):
        atexit.register(shutil.rmtree, folder, True)
    return {"cache": cache, "out": out}


def _nightly_demo(cache: str, out: str, **env) -> tuple[float, float, str]:
    """Seconds, CPU seconds (user + system) and stderr of ``python -m reserving nightly --demo`` in a new
    process on ``cache``."""
    root = Path(__file__).resolve().parents[1]
    t0, c0 = time.perf_counter(), _children_cpu()
    proc = subprocess.run([sys.executable, "-m", "reserving", "nightly", "--demo", "--out", out], cwd=root,
                          env={**os.environ, "NUMBA_CACHE_DIR": cache, **env}, capture_output=True, text=True,
                          check=True)
    return time.perf_counter() - t0, _children_cpu() - c0, proc.stdout + proc.stderr


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_cold_nightly(data: dict) -> dict:
    first, first_cpu, _ = _nightly_demo(data["cache"], os.path.join(data["out"], "first"))
    warm, warm_cpu, log = _nightly_demo(data["cache"], os.path.join(data["out"], "warm"), NUMBA_DEBUG_CACHE="1")
    return {"first_run_s": first, "warm_run_s": warm, "compile_s": first - warm,
            "compile_cpu_s": first_cpu - warm_cpu, "recompiled_on_warm_run": log.count("data saved")}
