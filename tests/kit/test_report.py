"""The report kit: finance formatting, escaping, tables and charts (titles, axes, legends, scales)."""

import re

import numpy as np
import pandas as pd
import pytest

from _kit.charts import bar_chart, heat_map, line_chart, log_ticks, nice_ticks
from _kit.report import (Column, money, money_short, number, page, percent, percent_tick, ratio, settings,
                         split_table, table, text)

SCIENTIFIC = re.compile(r"\d(\.\d+)?e[+-]?\d", re.IGNORECASE)
HOSTILE = '=<script>alert("$1")</script>&'


def visible_text(html: str) -> str:
    """What a reader sees: the text outside tags (SVG tooltips included), scripts and styles removed."""
    html = re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


@pytest.mark.parametrize("value", [1.5e5, 1e-7, 123456789012345678.0, 2.5e12, -9.99e15, 0.5, 1e21])
def test_money_is_never_in_scientific_notation(value):
    for shown in (money(value), money(value, "USD", decimals=2), number(value), percent(value), ratio(value)):
        assert not SCIENTIFIC.search(shown), shown
    assert money(value).replace("-", "").startswith("£")


def test_money_examples_finance_reads():
    assert money(1.5e5) == "£150,000"
    assert money(150_000, "$") == "$150,000"
    assert money(150_000, "EUR") == "EUR 150,000"
    assert money(-0.4) == "£0"
    assert money(np.inf) == "unlimited" and number(np.inf) == "unlimited" and percent(np.inf) == "unlimited"
    for missing in (None, np.nan, pd.NA, float("nan")):
        assert money(missing) == number(missing) == percent(missing) == ratio(missing) == text(missing) == "-"
    assert [money_short(v) for v in (1.2e6, 3.4e9, 12_500)] == ["£1.2m", "£3.4bn", "£12.5k"]
    assert percent_tick(0.125) == "12.5%" and percent_tick(0.1) == "10%"


def test_every_value_and_label_is_escaped():
    frame = pd.DataFrame({"group": [HOSTILE, "B"], "cost": [1.5e5, np.inf]})
    html = table(frame, [Column("group", HOSTILE), Column("cost", "Cost", money)], totals={"group": HOSTILE})
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "£150,000" in html and "unlimited" in html
    doc = page(HOSTILE, settings([(HOSTILE, HOSTILE)]))
    assert "<script>alert" not in doc
    charts = [line_chart([1, 2], {HOSTILE: [1, 2], "b": [2, 3]}, title=HOSTILE, x_label=HOSTILE, y_label=HOSTILE),
              bar_chart([HOSTILE, "b"], {HOSTILE: [1, 2]}, title=HOSTILE, x_label=HOSTILE, y_label=HOSTILE),
              heat_map([[1.0]], [HOSTILE], [HOSTILE], title=HOSTILE, x_label=HOSTILE, y_label=HOSTILE)]
    for svg in charts:
        assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_numbers_are_right_aligned_sortable_and_totals_stay_below():
    frame = pd.DataFrame({"group": ["A", "B"], "cost": [2.0, np.nan]})
    html = table(frame, [Column("group", "Group"), Column("cost", "Cost", money)], totals={"cost": 2.0})
    assert '<td class="n" data-v="2.0">£2</td>' in html and '<td class="n" data-v="">-</td>' in html
    body, foot = html.split("<tfoot>")
    assert "Total" in foot and "£2" in foot and "<tbody>" in body


def test_split_table_puts_key_columns_first_and_folds_the_detail():
    frame = pd.DataFrame({"group": ["A"], "members": [10], "sd": [1.0]})
    html = split_table(frame, [Column("members", "Members", number)], [Column("sd", "SD", money)],
                       label=Column("group", "Group"))
    first, folded = html.split("<details>")
    assert "Members" in first and "SD" not in first and "SD" in folded and "Group" in folded


def test_page_is_self_contained_with_the_sorting_script():
    doc = page("Report", "body")
    assert doc.startswith("<!DOCTYPE html>") and "table.sortable" in doc and 'data-ready' in doc
    assert not re.search(r'(src|href)\s*=', doc)


def test_line_chart_has_title_axes_ticks_and_a_legend_only_for_several_series():
    one = line_chart([1, 2, 3], {"IBNR": [1e6, 2e6, 1.5e6]}, title="IBNR by month", x_label="month",
                     y_label="IBNR (£)", y_format=money_short)
    assert "IBNR by month" in one and ">month<" in one and "IBNR (£)" in one and "£2m" in one
    assert "<polyline" in one and "<rect" not in one  # one series: no legend box
    two = line_chart(["2024-01", "2024-02"], {"a": [1, 2], "b": [2, 1]}, title="t", x_label="x", y_label="y",
                     bands=[("band", [0, 0], [3, 3])], vlines=[(0.5, "attachment")])
    for label in ("a", "b", "band", "attachment", "2024-01"):
        assert f">{label}<" in two
    assert not SCIENTIFIC.search(visible_text(two))


def test_bar_chart_and_heat_map_have_scales():
    bars = bar_chart(["A", "B"], {"outturn": [1.2e6, 8e5]}, title="Outturn", x_label="consortium",
                     y_label="£", y_format=money_short, colours=["#d9534f", "#5cb85c"],
                     colour_key=[("red", "#d9534f"), ("green", "#5cb85c")], marks=("budget", [1e6, 1e6]),
                     ranges=("95th percentile", [1.2e6, 8e5], [1.5e6, 9e5]))
    for label in ("Outturn", "consortium", "red", "green", "budget", "95th percentile", "£1.5m"):
        assert label in bars
    heat = heat_map(np.array([[1.0, 1e5], [np.nan, -5.0]]), ["Jan", "Feb"], [0, 1], title="Paid",
                    x_label="lag (months)", y_label="incurred month", value_format=money_short, log=True)
    assert "colour scale (log)" in heat and "£100k" in heat and "negative" in heat and "lag (months)" in heat


def test_tick_helpers():
    assert nice_ticks(0, 7) == [0.0, 2.0, 4.0, 6.0, 8.0]
    assert nice_ticks(5, 5)[0] <= 5 <= nice_ticks(5, 5)[-1]
    assert log_ticks(1_000, 100_000) == [1000.0, 2000.0, 5000.0, 10000.0, 20000.0, 50000.0, 100000.0]
    assert log_ticks(1_000, 1e8) == [1e3, 1e4, 1e5, 1e6, 1e7, 1e8]  # many decades: powers of ten only
