"""The HTML report: self-contained, and rendered by a real headless browser without console errors."""

import html
import os
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

import reserving.nightly.report
from reserving.mack import mack
from reserving.nightly import run_nightly_job
from reserving.nightly.report import RESIDUAL_SEGMENTS, render
from reserving.nightly.synthetic import generate_claims

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0"]


@pytest.fixture(scope="module")
def nightly_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("nightly")
    s = generate_claims(n_consortia=3, services=["acute_inpatient", "emergency", "prescribing"], n_months=24,
                        as_of="2024-12-31", lines_per_cell=40, bad_rows=6, seed=8)
    # min_segment_lines=1: keep the one-line C999 segment reserved, for its diagnostics (by default it is stray)
    run = run_nightly_job(s.lines, out, n_sims=200, budget=s.budget, progress=False, min_segment_lines=1)
    return run, s


@pytest.fixture(scope="module")
def report(nightly_run):
    run, s = nightly_run
    return run.outputs["report"], s


def _browse(path, profile):
    """Load a page headless; return the DOM after scripts ran and the console error lines."""
    proc = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", path.as_uri()],
                          check=False, capture_output=True, text=True, timeout=120)
    console = [line for line in proc.stderr.splitlines() if "CONSOLE" in line]
    errors = [line for line in console if re.search(r"Uncaught|Error|error", line)]
    return proc.stdout, errors


def test_report_is_self_contained(report):
    path, s = report
    text = path.read_text()
    assert "<table" in text and text.count("<svg") >= 5
    assert not re.search(r'(src|href)\s*=\s*["\']?(https?:)?//', text), "the report must not load anything"
    for pid in s.lines["patient_id"].unique():
        assert pid not in text


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium); .ci/run installs it")
def test_report_renders_in_headless_chromium_without_console_errors(report, tmp_path):
    path, _ = report
    dom, errors = _browse(path, tmp_path / "profile")
    assert errors == []
    assert 'data-ready="1"' in dom, "the page's script did not run to the end"
    assert dom.count("<table") >= 3
    for chart in ("outturn-chart", "ibnr-chart", "heat-map", "pattern-chart"):
        assert f"chart {chart}" in dom, chart
    assert "<rect" in dom and "<polyline" in dom
    assert "At risk" in dom or "No consortium is at risk" in dom


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium); .ci/run installs it")
def test_console_error_detection_catches_a_broken_page(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><body><p>x</p><script>undefinedFunction();</script></body></html>")
    _, errors = _browse(page, tmp_path / "profile")
    assert errors, "a page that throws must be caught"


def test_report_counts_and_lists_the_chain_ladder_diagnostics(nightly_run, monkeypatch):
    run, _ = nightly_run
    diag = run.diagnostics
    # every chain-laddered segment, also one the bootstrap then dropped (C999 here: its diagnostics explain why)
    ref = mack(run.claims.triangles).diagnostics
    assert len(diag) == len(ref) > 0
    assert set(ref.index) - set(run.triangles.segments)
    assert diag["detail"].tolist() == ref["detail"].tolist()
    written = pd.read_csv(run.outputs["diagnostics"], dtype={"consortium": str, "service": str})
    assert written["detail"].tolist() == ref["detail"].tolist()
    text = run.outputs["report"].read_text()
    assert f"Chain-ladder diagnostics (assumptions where data were missing): {len(diag)}" in text
    section = text.split('<div id="diagnostics">')[1].split("</div>")[0]
    assert section.count("<tr>") == len(diag) + 1
    for detail in diag["detail"]:
        assert html.escape(detail) in section
    monkeypatch.setattr(reserving.nightly.report, "MAX_DIAGNOSTIC_ROWS", len(diag) - 1)
    long = render(run)
    assert f"Chain-ladder diagnostics (assumptions where data were missing): {len(diag)}" in long
    assert 'id="diagnostics"' not in long


def test_report_plots_residuals_of_the_national_triangles_and_the_worst_segments(nightly_run):
    run, _ = nightly_run
    text = run.outputs["report"].read_text()
    part = text.split('<div id="residuals">')[1].split("<h2")[0]
    blocks = re.findall(r"<details[^>]*><summary>(.*?)</summary>(.*?)</details>", part, re.S)
    tests = run.assumption_tests
    score = (tests["cy_z"] - tests["cy_expected"]).abs() / np.sqrt(tests["cy_variance"])
    worst = score[np.isfinite(score)].sort_values(ascending=False, kind="stable").index[:RESIDUAL_SEGMENTS]
    services = sorted(set(run.triangles.segments.get_level_values("service")))
    assert len(worst) == RESIDUAL_SEGMENTS
    assert [html.unescape(b[0]).split(":")[0] for b in blocks] == (
        [f"National, {v}" for v in services] + [f"{c} / {v}" for c, v in worst])
    assert "|Z - E[Z]| / sd(Z)" in html.unescape(part) and f"the {RESIDUAL_SEGMENTS} segments whose" in part
    # the national triangle of a service, summed independently: one dot per link ratio in each of the three charts
    cells = run.triangles.to_frame().groupby(["service", "origin", "development"])["value"].sum()
    for summary, body in blocks[: len(services)]:
        service = html.unescape(summary).split(":")[0].removeprefix("National, ")
        tri = cells.loc[service].unstack("development").to_numpy()
        links = int((np.isfinite(tri[:, 1:]) & np.isfinite(tri[:, :-1]) & (tri[:, :-1] != 0)).sum())
        assert f"{links:,} link ratios" in summary
        charts = re.findall(r'<svg class="chart residual-chart".*?</svg>', body, re.S)
        assert [re.search(r"<title>[^<]*: by ([a-z ]+)</title>", c).group(1) for c in charts] == [
            "incurred month", "development age", "calendar month"]
        for chart in charts:
            assert f"link ratio: {links:,} points" in chart  # one dot each (dots on the same pixel drawn once)
            assert 0 < re.search(r'<path d="([^"]*)"', chart).group(1).count("h0") <= links
            assert "mean per " in chart and "standardised residual" in chart
