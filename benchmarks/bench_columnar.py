"""riskadjust from Parquet: the whole path (read, join ids, map ICD-10 codes, score) against hccinfhir, and 60M.

The files are SYNTHETIC (``riskadjust.synthetic.synthetic_medicare``, CMS-HCC V28 codes, text member
ids ``M0, M1, ...`` in increasing order, ~4.8 diagnosis rows per member in the generator's order:
three runs per tile, each sorted by member). They are written once into a cache directory outside
git (``$RISKADJUST_BENCH_DATA``, default ``/tmp/riskadjust-columnar-bench``) by ``setup`` (not
timed), Snappy-compressed, text columns dictionary-encoded as pyarrow writes them by default.
The national files tile one 200,000-member draw (member ids renumbered per tile) to 60 million
members, one Parquet row group per tile.

The timed call starts from the file paths: it reads both files
(:func:`riskadjust.columnar.population_from_parquet`), builds the population and scores it. The
figures give wall and CPU seconds (the machine is shared; CPU seconds are the work done, both
threads counted) per stage and per patient: ``read_map`` (reading overlaps the mapping: a
background thread reads ahead), ``score``, and ``read_only`` (reading the same batches and doing
nothing else, measured in ``setup``). hccinfhir's side is ``calculate_raf`` per patient on
the same members and codes, as in ``bench_riskadjust``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from benchmarks._harness import Side, Workload

CACHE = Path(os.environ.get("RISKADJUST_BENCH_DATA", "/tmp/riskadjust-columnar-bench"))
TILE = 200_000


def _model():
    from riskadjust.cms import load_cms_hcc

    return load_cms_hcc("V28", normalisation=1.015, coding_intensity=0.059)


def write_files(n: int, seed: int = 1, directory: Path = CACHE) -> tuple[Path, Path]:
    """Members and diagnoses Parquet files of ``n`` members (tiles of at most ``TILE``), written once."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from riskadjust.synthetic import synthetic_medicare

    directory.mkdir(parents=True, exist_ok=True)
    m_path, d_path = directory / f"members_{n}_{seed}.parquet", directory / f"diagnoses_{n}_{seed}.parquet"
    if m_path.exists() and d_path.exists():
        return m_path, d_path
    size = min(n, TILE)
    members, dx = synthetic_medicare(size, _model(), seed=seed)
    base = pa.Table.from_pandas(members.drop(columns="patient_id"), preserve_index=False).replace_schema_metadata(None)
    dx_member = pa.array(dx["patient_id"].str[1:].astype(np.int64).to_numpy())
    codes = pa.array(dx["code"].to_numpy(dtype=str))
    tmp_m, tmp_d = m_path.with_suffix(".part"), d_path.with_suffix(".part")
    with pq.ParquetWriter(tmp_m, base.schema.insert(0, pa.field("patient_id", pa.string()))) as wm, \
            pq.ParquetWriter(tmp_d, pa.schema([("patient_id", pa.string()), ("code", pa.string())])) as wd:
        for start in range(0, n, size):
            k = min(size, n - start)
            ids = pc.binary_join_element_wise("M", pc.cast(pa.array(np.arange(start, start + k)), pa.string()), "")
            wm.write_table(base.slice(0, k).add_column(0, "patient_id", ids))
            keep = np.flatnonzero(dx_member.to_numpy() < k)
            wd.write_table(pa.table({"patient_id": ids.take(pc.take(dx_member, keep)), "code": codes.take(keep)}))
    tmp_m.rename(m_path)
    tmp_d.rename(d_path)
    return m_path, d_path


# ------------------------------------------------------------ ours: the whole path from the files
def setup_parquet(n: int, seed: int = 1):
    """The file paths, and the time to read the files alone (the same batches, no processing) for the figures."""
    import pyarrow.parquet as pq

    from riskadjust.columnar import BATCH_ROWS, ENROLLMENT

    m_path, d_path = write_files(n, seed)
    times = []
    for _ in range(3 if n <= 1_000_000 else 1):  # best of 3 for small files (as the timed call's repeats)
        w0, c0 = time.perf_counter(), time.process_time()
        for path, text in ((m_path, ENROLLMENT[1:5]), (d_path, ("code",))):
            for _ in pq.ParquetFile(path, read_dictionary=list(text)).iter_batches(batch_size=BATCH_ROWS,
                                                                                 use_threads=False):
                pass
        times.append((time.perf_counter() - w0, time.process_time() - c0))
    read = {"read_only_s": min(times)[0], "read_only_cpu_s": min(c for _, c in times)}
    return {"model": _model(), "members": m_path, "diagnoses": d_path, "read": read}


def run_parquet(data):
    """Read + build (``population_from_parquet``), then ``score``; wall and CPU seconds of each stage."""
    from riskadjust import score
    from riskadjust.columnar import population_from_parquet

    w0, c0 = time.perf_counter(), time.process_time()
    pop = population_from_parquet(data["model"], data["members"], data["diagnoses"])
    w1, c1 = time.perf_counter(), time.process_time()
    r = score(data["model"], pop)
    w2, c2 = time.perf_counter(), time.process_time()
    n = len(r.raw)
    return {"patients": n, "sum_raw": float(r.raw.sum()), **data["read"], "read_map_s": w1 - w0, "score_s": w2 - w1,
            "total_s": w2 - w0, "read_map_cpu_s": c1 - c0, "score_cpu_s": c2 - c1, "total_cpu_s": c2 - c0,
            "us_per_patient": 1e6 * (w2 - w0) / n, "cpu_us_per_patient": 1e6 * (c2 - c0) / n}


# ------------------------------------------------------------ hccinfhir on the same patients
def setup_hccinfhir(n: int, seed: int = 1):
    import pyarrow.parquet as pq

    m_path, d_path = write_files(n, seed)
    members = pq.read_table(m_path).to_pandas()
    dx = pq.read_table(d_path).to_pandas()
    codes = dx.groupby("patient_id")["code"].apply(list).to_dict()
    rows = [(codes.get(r.patient_id, []), int(r.age), r.sex, r.dual_elgbl_cd, r.orec, r.crec, bool(r.new_enrollee),
             bool(r.snp), bool(r.lti)) for r in members.itertuples(index=False)]
    return {"rows": rows, "model_name": "CMS-HCC Model V28"}


def run_hccinfhir(data):
    """``calculate_raf`` per patient (as ``bench_riskadjust.run_hccinfhir``), wall and CPU seconds."""
    from hccinfhir.model_calculate import calculate_raf

    w0, c0 = time.perf_counter(), time.process_time()
    total = 0.0
    for codes, age, sex, dual, orec, crec, ne, snp, lti in data["rows"]:
        total += calculate_raf(codes, data["model_name"], age=age, sex=sex, dual_elgbl_cd=dual, orec=orec, crec=crec,
                               new_enrollee=ne, snp=snp, lti=lti).risk_score
    n = len(data["rows"])
    w, c = time.perf_counter() - w0, time.process_time() - c0
    return {"patients": n, "sum_raw": total, "total_s": w, "total_cpu_s": c, "us_per_patient": 1e6 * w / n,
            "cpu_us_per_patient": 1e6 * c / n}


def workloads() -> list[Workload]:
    m = "benchmarks.bench_columnar"
    return [
        Workload("CMS-HCC V28 whole path from Parquet (read, join ids, map codes, score), 100,000 patients vs hccinfhir",
                 Side("riskadjust", f"{m}:setup_parquet", f"{m}:run_parquet", repeats=5),
                 Side("hccinfhir", f"{m}:setup_hccinfhir", f"{m}:run_hccinfhir", repeats=1),
                 params={"n": 100_000}, target=">= 1,000x faster per patient (compare cpu_us_per_patient too)"),
        Workload("CMS-HCC V28 whole path from Parquet, 60,000,000 patients (~290M diagnosis rows), ours only",
                 Side("riskadjust", f"{m}:setup_parquet", f"{m}:run_parquet", repeats=1),
                 params={"n": 60_000_000}, target="60 million end to end in < 60 s on 2 cores, fits 24 GB"),
    ]
