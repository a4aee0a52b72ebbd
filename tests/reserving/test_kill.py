"""Kill tests: the nightly job killed (SIGKILL) at 25 named points (staging and publishing each of
its 11 outputs, the database commit) and at 3 random times.

To keep this fast, one driver process imports the engine once and forks a child per kill; the
driver itself never runs a kernel or opens DuckDB, so forking it is safe.

After every kill the published set and the history database agree: ``summary.json`` names a run
that is in the database; and once the next run has recovered what was left (:func:`recover`,
its first step), every published file belongs to that one run, either the previous run or the
killed one rolled forward: never a mix.
"""

import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from _kit.publish import KILL_AT, Publication
from reserving.nightly.history import has_run, load_runs
from reserving.nightly.job import recover
from reserving.nightly.synthetic import generate_claims

OUTPUTS = ["rejects.csv", "estimates.csv", "estimates.parquet", "segments.csv", "consortia.csv", "segment_errors.csv",
           "diagnostics.csv", "outturn.csv", "forecast.csv", "summary.json", "report.html"]
POINTS = ([f"stage:{n}" for n in OUTPUTS] + ["db:save", "db:saved"] + [f"publish:{n}" for n in OUTPUTS]
          + ["published"])
COMPARED = ["rejects.csv", "estimates.csv", "estimates.parquet", "segments.csv", "consortia.csv",
            "segment_errors.csv", "diagnostics.csv", "outturn.csv", "forecast.csv"]
ROOT = Path(__file__).resolve().parents[2]


def _drive(data: str, cases: str) -> None:
    """In a fresh process: for each (out folder, kill point or delay), fork a child that runs the
    August job in the folder; kill it at the point (it kills itself) or after the delay. Two at a time."""
    from reserving.nightly.job import run_nightly_job

    todo = json.loads(cases)
    running = []
    while todo or running:
        while todo and len(running) < 2:
            out, point, delay = todo.pop(0)
            pid = os.fork()
            if pid == 0:
                if point:
                    os.environ[KILL_AT] = point
                try:
                    run_nightly_job(Path(data) / "claims.csv", out, as_of="2024-08-31", n_sims=10,
                                    budget=Path(data) / "budget.csv", progress=False)
                finally:
                    os._exit(0)
            running.append((pid, time.monotonic() + delay if delay else None))
        time.sleep(0.02)
        for pid, deadline in list(running):
            if deadline is not None and time.monotonic() >= deadline:
                os.kill(pid, signal.SIGKILL)
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                running.remove((pid, deadline))
                if deadline is None:
                    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, "kill point not reached"


def _job(data: Path, out: Path, as_of: str, env=None) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "reserving", "nightly", "--claims", str(data / "claims.csv"), "--budget",
           str(data / "budget.csv"), "--out", str(out), "--sims", "10", "--quiet", "--as-of", as_of]
    return subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Tiny claims; the previous run (July) published in ``base``; the killed run's (August) outputs."""
    d = tmp_path_factory.mktemp("kill")
    s = generate_claims(n_consortia=1, services=["emergency", "community"], n_months=8, as_of="2024-08-31",
                        lines_per_cell=6, seed=4)
    s.lines.to_csv(d / "claims.csv", index=False)
    s.budget.to_csv(d / "budget.csv", index=False)
    job = _job(d, d / "base", "2024-07-31")
    assert job.wait() == 0, job.stderr.read()
    shutil.copytree(d / "base", d / "august")
    job = _job(d, d / "august", "2024-08-31")
    assert job.wait() == 0, job.stderr.read()
    refs = {as_of: {n: (d / folder / n).read_bytes() for n in COMPARED}
            for as_of, folder in [("2024-07-31", "base"), ("2024-08-31", "august")]}
    return d, refs


def _check_consistent(out: Path, refs) -> str:
    """Asserts the published set in ``out`` is one run's and that run is in the database; its as-of."""
    db = out / "history.duckdb"
    summary = json.loads((out / "summary.json").read_text())
    assert has_run(db, summary["run_id"])
    assert summary["run_id"] in (out / "report.html").read_text()
    for name in COMPARED:
        read = pd.read_parquet if name.endswith(".parquet") else pd.read_csv
        # equal up to the last bits of parallel sums; the two runs differ in their origins
        pd.testing.assert_frame_equal(read(out / name), read(io.BytesIO(refs[summary["as_of"]][name])),
                                      check_exact=False, rtol=1e-9, obj=name)
    runs = load_runs(db)
    assert runs["as_of"].is_unique
    return summary["as_of"]


def test_a_run_killed_at_any_point_leaves_outputs_and_history_consistent(runs, tmp_path):
    d, refs = runs
    cases = [(p, None) for p in POINTS] + [(f"random {i}", random.Random(i).uniform(0.05, 1.5)) for i in range(3)]
    assert len(cases) >= 20
    outs = {name: tmp_path / name.replace(":", "-").replace(" ", "-") for name, _ in cases}
    for out in outs.values():
        shutil.copytree(d / "base", out)
    plan = json.dumps([[str(outs[name]), None if delay else name, delay] for name, delay in cases])
    driver = subprocess.run([sys.executable, "-c", f"from tests.reserving.test_kill import _drive; "
                             f"_drive({str(d)!r}, {plan!r})"], cwd=ROOT, capture_output=True, text=True)
    assert driver.returncode == 0, driver.stderr[-2000:]
    seen = set()
    for name, out in outs.items():
        summary = json.loads((out / "summary.json").read_text())  # straight after the kill:
        assert has_run(out / "history.duckdb", summary["run_id"])  # summary.json's run is in the DB
        recover(out, out / "history.duckdb")  # what the next run does first
        assert not Publication.leftovers(out)
        seen.add((name, _check_consistent(out, refs)))
    as_of = dict(seen)
    # killed before the commit: the previous run stays; after it: the killed run is rolled forward
    assert as_of["db:save"] == "2024-07-31" and as_of["db:saved"] == "2024-08-31"
    assert all(as_of[f"stage:{n}"] == "2024-07-31" for n in OUTPUTS)
    assert all(as_of[f"publish:{n}"] == "2024-08-31" for n in OUTPUTS)
