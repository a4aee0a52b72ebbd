"""Every HTML report, rendered end to end: no scientific notation, ``inf`` or ``nan`` shown to the reader,
labels escaped, and a screenshot of each page in headless Chromium.

Screenshots go to ``$REPORT_SCREENSHOTS`` when set (to look at them), else to the test's temporary folder.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from tests.kit.test_report import HOSTILE, SCIENTIFIC, visible_text

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
#: ``inf`` or ``nan`` as a value: a whole cell or label, after a colon (tooltips) or a currency symbol.
NOT_A_NUMBER = re.compile(r"(^|[:£$]\s*)-?(inf|infinity|nan)$|[:£$]\s*-?(inf|infinity|nan)\b", re.IGNORECASE)
#: A nightly run id, ``<as_of>T<hhmmss>-<8 hex digits>`` (see reserving.nightly.history.new_run_id).
RUN_ID = re.compile(r"\d{4}-\d{2}-\d{2}T\d{6}-[0-9a-f]{8}")
PAGES = ("reserving", "reserving_backtest", "stoploss_price", "stoploss_pool", "riskadjust")


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict:
    import numpy as np

    from reserving.cli import main as reserving_main
    from reserving.nightly import run_nightly_job
    from reserving.nightly.synthetic import generate_claims
    from riskadjust.cli import main as riskadjust_main
    from stoploss.cli import main as stoploss_main

    out = tmp_path_factory.mktemp("reports")
    s = generate_claims(n_consortia=3, services=["acute_inpatient", "emergency", "prescribing"], n_months=24,
                        as_of="2024-12-31", lines_per_cell=40, bad_rows=6, seed=8)
    db = out / "history.duckdb"  # a run a month earlier, so that the page shows movements and actual vs expected
    november = s.lines[s.lines["paid_date"] <= "2024-11-30"]
    run_nightly_job(november, out / "november", db=db, as_of="2024-11-30", n_sims=200, budget=s.budget, progress=False)
    run = run_nightly_job(s.lines, out / "nightly", db=db, n_sims=200, budget=s.budget, progress=False)
    assert run.actual_vs_expected is not None
    assert stoploss_main(["price", "--demo", "--out", str(out / "price")]) == 0
    assert stoploss_main(["pool", "--out", str(out / "pool"), "--sizes", "5000,50000", "--attachments",
                          "100000,none", "--risk-model", "age-sex=0.037", "--years", "1000", "--currency", "US$"]) == 0
    assert riskadjust_main(["report", "--demo", "--out", str(out / "riskadjust.html")]) == 0
    rng = np.random.default_rng(3)  # six made-up 5x5 paid squares for the back-test page
    paid = np.cumsum(rng.gamma(2.0, 50.0, (6, 5, 5)) * np.array([1.0, 0.6, 0.3, 0.1, 0.05]), axis=2)
    rows = pd.DataFrame({"GroupCode": np.repeat(np.arange(6), 25), "AccidentYear": np.tile(np.repeat(np.arange(2001, 2006), 5), 6),
                         "Lag": np.tile(np.arange(1, 6), 30), "CumulativePaid": paid.ravel()})
    rows.to_csv(out / "squares.csv", index=False)
    assert reserving_main(["backtest", "--squares", str(out / "squares.csv"), "--premium-column", "none", "--sims",
                           "300", "--out", str(out / "backtest"), "--quiet"]) == 0
    return {"reserving": run.outputs["report"], "reserving_backtest": out / "backtest" / "backtest.html", "stoploss_price": out / "price" / "priced.html",
            "stoploss_pool": out / "pool" / "pool.html", "riskadjust": out / "riskadjust.html"}


@pytest.mark.parametrize("name", PAGES)
def test_displayed_numbers_are_finance_grade(pages, name):
    html = pages[name].read_text(encoding="utf-8")
    shown = RUN_ID.sub("", visible_text(html))  # a run id's random hex digits can read like 4e7
    assert not SCIENTIFIC.search(shown), SCIENTIFIC.search(shown)
    values = [chunk.strip() for chunk in re.findall(r">([^<]*)<", html)]
    assert not [v for v in values if NOT_A_NUMBER.search(v)]
    if name == "stoploss_pool":
        assert "US$100,000" in shown and "£" not in shown
    elif name != "reserving_backtest":  # the back-test page shows no money
        assert "£" in shown
    assert "Settings and thresholds" in shown and "<svg" in html
    assert not re.search(r'(src|href)\s*=\s*["\']?(https?:)?//', html), "the report must not load anything"


def test_group_names_render_as_text(tmp_path):
    from stoploss.cli import main, sample_groups

    groups = sample_groups().head(1).assign(group=HOSTILE)
    groups.to_csv(tmp_path / "groups.csv", index=False)
    assert main(["price", "--groups", str(tmp_path / "groups.csv"), "--out", str(tmp_path)]) == 0
    html = (tmp_path / "priced.html").read_text(encoding="utf-8")
    assert "<script>alert" not in html and "&lt;script&gt;alert(&quot;$1&quot;)&lt;/script&gt;" in html
    assert pd.read_csv(tmp_path / "priced.csv")["group"].notna().all()


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium); .ci/run installs it")
@pytest.mark.parametrize("name", PAGES)
def test_screenshot(pages, name, tmp_path):
    folder = Path(os.environ.get("REPORT_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    png = folder / f"{name}.png"
    png.unlink(missing_ok=True)
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={png}", "--window-size=1280,2000",
                    pages[name].as_uri()], check=False, capture_output=True, timeout=120)
    assert png.exists() and png.stat().st_size > 20_000, "the page did not render"
