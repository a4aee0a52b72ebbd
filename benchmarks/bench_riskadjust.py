"""riskadjust benchmarks: CMS-HCC scoring against hccinfhir, scoring and calibration at scale.

Populations are SYNTHETIC (``riskadjust.synthetic.synthetic_medicare``: about 4.8 diagnosis rows per
patient, string patient ids and ICD-10 codes, as pandas ``str`` columns). Two comparisons with
hccinfhir's ``calculate_raf`` on the same patients:

- *scoring*: ``score()`` on a built population (the operation the 60-million target times) against
  ``calculate_raf``. hccinfhir's time also holds its own ICD-10 mapping, about 6% of it by
  cProfile (``apply_mapping``), so this ratio flatters us by at most that much;
- *map + score*: the whole path from the members and diagnoses tables (joining string ids,
  mapping ICD-10 codes, edits, CSR) to scores, the same inputs hccinfhir takes.

Large populations are built by repeating a 200,000-member population (``Population.take``), which
keeps set-up time and memory reasonable; scoring and calibration kernels see every row.
"""

from __future__ import annotations

import numpy as np

from benchmarks._harness import Side, Workload

BASE = 200_000


def _medicare(n: int, version: str, seed: int):
    from riskadjust.cms import load_cms_hcc
    from riskadjust.synthetic import synthetic_medicare

    model = load_cms_hcc(version, normalisation=1.015, coding_intensity=0.059)
    members, dx = synthetic_medicare(n, model, seed=seed)
    return model, members, dx


# ------------------------------------------------------------ ours vs hccinfhir, same patients
def setup_hccinfhir(n: int, version: str = "V28", seed: int = 1):
    from riskadjust.cms import VERSIONS

    _, members, dx = _medicare(n, version, seed)
    codes = dx.groupby("patient_id")["code"].apply(list).to_dict()
    rows = [(codes.get(r.patient_id, []), int(r.age), r.sex, r.dual_elgbl_cd, r.orec, r.crec, bool(r.new_enrollee),
             bool(r.snp), bool(r.lti)) for r in members.itertuples(index=False)]
    return {"rows": rows, "model_name": VERSIONS[version]}


def run_hccinfhir(data):
    from hccinfhir.model_calculate import calculate_raf

    total = 0.0
    for codes, age, sex, dual, orec, crec, ne, snp, lti in data["rows"]:
        total += calculate_raf(codes, data["model_name"], age=age, sex=sex, dual_elgbl_cd=dual, orec=orec, crec=crec,
                               new_enrollee=ne, snp=snp, lti=lti).risk_score
    return {"patients": len(data["rows"]), "sum_raw": total}


def setup_ours(n: int, version: str = "V28", seed: int = 1):
    model, members, dx = _medicare(n, version, seed)
    return {"model": model, "members": members, "dx": dx}


def setup_built(n: int, version: str = "V28", seed: int = 1):
    """The same patients as :func:`setup_hccinfhir`, already built into a population."""
    from riskadjust.cms import cms_population

    model, members, dx = _medicare(n, version, seed)
    return {"model": model, "population": cms_population(model, members, dx)}


def run_score_built(data):
    from riskadjust import score

    r = score(data["model"], data["population"])
    return {"patients": len(r.raw), "sum_raw": float(r.raw.sum())}


def run_ours(data):
    """Enrollment fields -> segments, ids and ICD-10 codes -> sparse conditions, then score: the same work
    hccinfhir does per patient. Also reports the two stages' wall-clock seconds."""
    import time

    from riskadjust import score
    from riskadjust.cms import cms_population

    t0 = time.perf_counter()
    pop = cms_population(data["model"], data["members"], data["dx"])
    t1 = time.perf_counter()
    r = score(data["model"], pop)
    t2 = time.perf_counter()
    n = len(r.raw)
    return {"patients": n, "sum_raw": float(r.raw.sum()), "map_us_per_patient": 1e6 * (t1 - t0) / n,
            "score_us_per_patient": 1e6 * (t2 - t1) / n}


# ------------------------------------------------------------ agreement on 100,000 patients
def setup_agreement(n: int, seed: int = 7):
    from hccinfhir.model_calculate import calculate_raf

    from riskadjust.cms import VERSIONS

    out = {}
    for version in ("V24", "V28"):
        model, members, dx = _medicare(n, version, seed)
        codes = dx.groupby("patient_id")["code"].apply(list).to_dict()
        ref = np.array([calculate_raf(codes.get(r.patient_id, []), VERSIONS[version], age=int(r.age), sex=r.sex,
                                      dual_elgbl_cd=r.dual_elgbl_cd, orec=r.orec, crec=r.crec,
                                      new_enrollee=bool(r.new_enrollee), snp=bool(r.snp), lti=bool(r.lti),
                                      maci=0.059, norm_factor=1.015).risk_score_payment
                        for r in members.itertuples(index=False)])
        out[version] = (model, members, dx, ref)
    return out


def run_agreement(data):
    from riskadjust import score
    from riskadjust.cms import cms_population

    figures = {}
    for version, (model, members, dx, ref) in data.items():
        pay = score(model, cms_population(model, members, dx)).payment
        figures[f"patients_{version}"] = len(pay)
        figures[f"max_abs_diff_{version}"] = float(np.max(np.abs(pay - ref)))
    return figures


# ------------------------------------------------------------ scale: scoring and calibration
def _tiled_population(n: int, version: str, cut_to_200: bool):
    from riskadjust.cms import cms_population

    model, members, dx = _medicare(BASE, version, seed=3)
    if cut_to_200:
        members = members.assign(dual_elgbl_cd="00", lti=0, new_enrollee=0, snp=0)
        model = _model_200(model)
    pop = cms_population(model, members, dx)
    reps = -(-n // BASE)
    return model, pop.take(np.tile(np.arange(BASE), reps)[:n])


def setup_score_scale(n: int, version: str = "V28"):
    model, pop = _tiled_population(n, version, cut_to_200=False)
    return {"model": model, "population": pop}


def run_score_scale(data):
    from riskadjust import score

    r = score(data["model"], data["population"])
    return {"patients": len(r.raw), "mean_raw": float(r.raw.mean())}


def _model_200(model):
    """CMS-HCC V28 cut to the CNA and CND segments: all CNA terms, CND cells and CND condition terms
    up to 200 parameters."""
    from dataclasses import replace

    import pandas as pd

    c = model.coefficients
    cells = set(model.cells["term"])
    cna = c[c["segment"] == "CNA"]
    cnd = c[c["segment"] == "CND"]
    cnd_cells = cnd[cnd["term"].isin(cells)]
    keep = [cna, cnd_cells, cnd[~cnd["term"].isin(cells)].iloc[: 200 - len(cna) - len(cnd_cells)]]
    return replace(model, cells=model.cells[model.cells["segment"].isin(["CNA", "CND"])],
                   coefficients=pd.concat(keep, ignore_index=True))


def setup_calibrate_scale(n: int):
    from riskadjust import score

    model, pop = _tiled_population(n, "V28", cut_to_200=True)
    rng = np.random.default_rng(5)
    exposure = np.where(rng.random(n) < 0.85, 1.0, rng.uniform(0.1, 1.0, n))
    cost = 11_000.0 * score(model, pop).raw * rng.lognormal(-0.405, 0.9, n) * exposure
    return {"population": pop, "cost": cost, "exposure": exposure, "parameters": len(model.coefficients)}


def run_calibrate_scale(data):
    from riskadjust import calibrate

    r = calibrate(data["population"], data["cost"], data["exposure"], cap=250_000)
    return {"patients": r.n_train, "parameters": data["parameters"], "r2": r.fit.r2, "denominator": r.denominator}


def workloads() -> list[Workload]:
    m = "benchmarks.bench_riskadjust"
    return [
        Workload("CMS-HCC V28 scoring 100,000 patients vs hccinfhir (score() on the built population)",
                 Side("riskadjust", f"{m}:setup_built", f"{m}:run_score_built"),
                 Side("hccinfhir", f"{m}:setup_hccinfhir", f"{m}:run_hccinfhir", repeats=1),
                 params={"n": 100_000}, target=">= 1,000x faster per patient"),
        Workload("CMS-HCC V28 map + score 100,000 patients from string tables vs hccinfhir (same patients)",
                 Side("riskadjust", f"{m}:setup_ours", f"{m}:run_ours"),
                 Side("hccinfhir", f"{m}:setup_hccinfhir", f"{m}:run_hccinfhir", repeats=1),
                 params={"n": 100_000}, target="report: the whole path, ICD-10 mapping included"),
        Workload("CMS-HCC V28 map + score 1,000,000 patients, ours only",
                 Side("riskadjust", f"{m}:setup_ours", f"{m}:run_ours"),
                 params={"n": 1_000_000}, target="per-patient time vs the hccinfhir rows"),
        Workload("CMS-HCC V24+V28 agreement with hccinfhir, 100,000 patients each",
                 Side("riskadjust", f"{m}:setup_agreement", f"{m}:run_agreement", repeats=1),
                 params={"n": 100_000}, target="max_abs_diff of payment scores = 0 (<= 1e-12)"),
        Workload("CMS-HCC V28 score 60,000,000 patients (score() on a built population), ours only",
                 Side("riskadjust", f"{m}:setup_score_scale", f"{m}:run_score_scale", repeats=2),
                 params={"n": 60_000_000}, target="60 million in < 60 s on 2 cores"),
        Workload("calibrate 10,000,000 patients x 200 parameters (WLS), ours only",
                 Side("riskadjust", f"{m}:setup_calibrate_scale", f"{m}:run_calibrate_scale", repeats=2),
                 params={"n": 10_000_000}, target="< 120 s on 2 cores"),
    ]
