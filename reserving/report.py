"""The nightly report: one self-contained HTML file (inline CSS, inline SVG charts, a few lines of JS).

It opens offline in any browser and has no external resources. Sections:

1. Run: as-of date, run id, settings, claim lines read and rejected (by reason), failed segments,
   chain-ladder diagnostics (a count, and the table when it has at most :data:`MAX_DIAGNOSTIC_ROWS` rows).
2. Outturn against budget per consortium, with the range and the at-risk flags.
3. National summary table per consortium (sortable by clicking a column heading).
4. National IBNR by incurred month with its 75% and 95% points.
5. Per consortium (the flagged ones first, up to ``max_detail``): paid triangle heat map,
   development pattern by service line, IBNR by incurred month with ranges.
6. Movements against the previous run and actual against expected.

Patient identifiers never reach the report: the claim reader never reads them.
"""

from __future__ import annotations

import html
import json
import math

import numpy as np
import pandas as pd

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1d2733;max-width:1200px}
h1{font-size:1.5em;margin-bottom:0}h2{margin-top:2em;border-bottom:1px solid #ccd;padding-bottom:4px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}th,td{padding:3px 8px;border-bottom:1px solid #e3e6ea}
th{background:#f2f4f7;cursor:pointer;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
.flag-red{background:#f8d7da}.flag-amber{background:#fff3cd}.flag-green{background:#e6f4ea}.flag-incomplete{background:#ebe4fa}
.muted{color:#667}.chart{margin:8px 0}.grid{display:flex;flex-wrap:wrap;gap:16px}
details{margin:8px 0}summary{font-weight:600;cursor:pointer}
"""

_JS = """
(function(){
  function key(td){var v=td.getAttribute('data-v');return v===null?td.textContent:parseFloat(v);}
  document.querySelectorAll('table.sortable').forEach(function(t){
    t.querySelectorAll('th').forEach(function(th,i){
      th.addEventListener('click',function(){
        var body=t.tBodies[0],rows=Array.prototype.slice.call(body.rows),asc=th.getAttribute('data-asc')!=='1';
        rows.sort(function(a,b){var x=key(a.cells[i]),y=key(b.cells[i]);return (x>y?1:x<y?-1:0)*(asc?1:-1);});
        rows.forEach(function(r){body.appendChild(r);});th.setAttribute('data-asc',asc?'1':'0');
      });
    });
  });
  document.body.setAttribute('data-ready','1');
})();
"""

FLAG_COLOURS = {"red": "#d9534f", "amber": "#f0ad4e", "green": "#5cb85c", "no budget": "#9aa5b1",
                "incomplete": "#7a5cc7"}
#: Chain-ladder diagnostics listed in the report; beyond this only the count (all are in diagnostics.csv).
MAX_DIAGNOSTIC_ROWS = 30
SERVICE_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _money(x) -> str:
    return "-" if x is None or not np.isfinite(x) else f"{x:,.0f}"


def _pct(x) -> str:
    return "-" if x is None or not np.isfinite(x) else f"{100 * x:.0f}%"


def table(frame: pd.DataFrame, formats: dict, css_class: str = "sortable", row_class=None) -> str:
    """HTML table; numeric cells carry their raw value in ``data-v`` for sorting."""
    head = "".join(f"<th>{_e(c)}</th>" for c in frame.columns)
    rows = []
    for _, r in frame.iterrows():
        cells = []
        for c in frame.columns:
            v = r[c]
            if c in formats:
                raw = float(v) if v is not None and np.isfinite(float(v)) else -1e300
                cells.append(f'<td class="n" data-v="{raw!r}">{_e(formats[c](v))}</td>')
            else:
                cells.append(f"<td>{_e(v)}</td>")
        cls = f' class="{row_class(r)}"' if row_class else ""
        rows.append(f"<tr{cls}>{''.join(cells)}</tr>")
    return f'<table class="{css_class}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def ibnr_chart(labels, ibnr, p75, p95, title: str, width: int = 760, height: int = 220) -> str:
    """Bars of IBNR by incurred month with a tick at the 75th and a whisker to the 95th percentile."""
    n = len(labels)
    top = max(float(np.nanmax(p95)) if n else 0.0, float(np.nanmax(ibnr)) if n else 0.0, 1.0)
    left, bottom, plot_h = 70, 30, height - 50
    bw = (width - left - 10) / max(n, 1)

    def y(v):
        return 10 + plot_h * (1 - (0 if not np.isfinite(v) else max(v, 0)) / top)

    parts = [_axis(left, width, height, bottom, top)]
    for k in range(n):
        x = left + k * bw
        parts.append(f'<rect x="{x + bw * 0.15:.1f}" y="{y(ibnr[k]):.1f}" width="{bw * 0.7:.1f}" '
                     f'height="{max(10 + plot_h - y(ibnr[k]), 0):.1f}" fill="#4a90d9"><title>{_e(labels[k])}: '
                     f'IBNR {_money(ibnr[k])}, p75 {_money(p75[k])}, p95 {_money(p95[k])}</title></rect>')
        cx = x + bw / 2
        parts.append(f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{y(ibnr[k]):.1f}" y2="{y(p95[k]):.1f}" stroke="#1d2733"/>')
        parts.append(f'<line x1="{cx - bw * 0.25:.1f}" x2="{cx + bw * 0.25:.1f}" y1="{y(p75[k]):.1f}" '
                     f'y2="{y(p75[k]):.1f}" stroke="#1d2733" stroke-width="2"/>')
        if n <= 24 or k % max(n // 12, 1) == 0:
            parts.append(f'<text x="{cx:.1f}" y="{height - 8}" font-size="9" text-anchor="middle">{_e(labels[k])}</text>')
    return _svg(width, height, title, parts, "ibnr-chart")


def _axis(left, width, height, bottom, top) -> str:
    plot_h = height - 50
    ticks = []
    for f in (0, 0.5, 1):
        yy = 10 + plot_h * (1 - f)
        ticks.append(f'<line x1="{left}" x2="{width - 10}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#e3e6ea"/>'
                     f'<text x="{left - 4}" y="{yy + 3:.1f}" font-size="9" text-anchor="end">{_money(top * f)}</text>')
    return "".join(ticks)


def _svg(width, height, title, parts, css) -> str:
    return (f'<svg class="chart {css}" role="img" aria-label="{_e(title)}" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg"><title>{_e(title)}</title>'
            f'{"".join(parts)}</svg>')


def _incomplete_note(services_failed) -> str:
    if not services_failed:
        return ""
    return (f"; {int(services_failed)} service line(s) could not be reserved (see the segments below) "
            "and are not in this outturn")


def outturn_chart(summary: pd.DataFrame, width: int = 760) -> str:
    """Horizontal bars: outturn (coloured by flag) to the 95th percentile, with the budget as a black mark."""
    n = len(summary)
    row = 16
    height = 30 + n * row
    left = 90
    top = float(np.nanmax(np.r_[summary["outturn_p95"].to_numpy(float), summary["budget"].to_numpy(float), 1.0]))
    scale = (width - left - 20) / top
    parts = []
    for k, r in enumerate(summary.itertuples()):
        y = 20 + k * row
        colour = FLAG_COLOURS.get(r.flag, "#9aa5b1")
        # a consortium whose every service failed has no outturn: no bar, only its budget mark
        outturn = max(r.outturn, 0.0) if np.isfinite(r.outturn) else 0.0
        p95 = max(r.outturn_p95, 0.0) if np.isfinite(r.outturn_p95) else outturn
        parts.append(f'<text x="{left - 4}" y="{y + 11}" font-size="10" text-anchor="end">{_e(r.consortium)}</text>')
        parts.append(f'<rect x="{left}" y="{y + 2}" width="{outturn * scale:.1f}" height="{row - 5}" '
                     f'fill="{colour}"><title>{_e(r.consortium)}: outturn {_money(r.outturn)}, budget '
                     f'{_money(r.budget)}, P(overspend) {_pct(r.prob_overspend)}</title></rect>')
        parts.append(f'<line x1="{left + outturn * scale:.1f}" x2="{left + p95 * scale:.1f}" '
                     f'y1="{y + row / 2:.1f}" y2="{y + row / 2:.1f}" stroke="#1d2733"/>')
        if np.isfinite(r.budget):
            bx = left + r.budget * scale
            parts.append(f'<line x1="{bx:.1f}" x2="{bx:.1f}" y1="{y}" y2="{y + row - 1}" stroke="#000" stroke-width="3"/>')
    parts.append(f'<text x="{left}" y="12" font-size="10">bar: outturn (colour = flag); line: to 95th percentile; '
                 f'black mark: budget</text>')
    return _svg(width, height, "Outturn against budget", parts, "outturn-chart")


def heat_map(incremental: np.ndarray, origins, title: str, cell: int = 9) -> str:
    """Incurred month (rows) x payment lag (columns) of incremental paid, shaded on a log scale."""
    n_org, n_lag = incremental.shape
    left, topm = 60, 10
    width, height = left + n_lag * cell + 10, topm + n_org * cell + 20
    finite = incremental[np.isfinite(incremental) & (incremental > 0)]
    hi = math.log1p(float(finite.max())) if finite.size else 1.0
    parts = []
    for i in range(n_org):
        if i % 3 == 0:
            parts.append(f'<text x="{left - 4}" y="{topm + i * cell + cell - 1}" font-size="8" '
                         f'text-anchor="end">{_e(origins[i])}</text>')
        for j in range(n_lag):
            v = incremental[i, j]
            if not np.isfinite(v):
                continue
            shade = 0.0 if v <= 0 else math.log1p(v) / hi
            colour = "#f2dede" if v < 0 else f"rgb({int(255 - 200 * shade)},{int(255 - 130 * shade)},{int(255 - 40 * shade)})"
            parts.append(f'<rect x="{left + j * cell}" y="{topm + i * cell}" width="{cell}" height="{cell}" fill="{colour}"/>')
    parts.append(f'<text x="{left}" y="{height - 4}" font-size="9">payment lag (months) &#8594;</text>')
    return _svg(width, height, title, parts, "heat-map")


def pattern_chart(pattern: pd.DataFrame, title: str, width: int = 420, height: int = 220) -> str:
    """Completion (share of ultimate paid) by lag, one line per service line."""
    left, plot_h = 40, height - 50
    n_lag = int(pattern["lag"].max()) + 1 if len(pattern) else 1
    sx = (width - left - 110) / max(n_lag - 1, 1)
    parts = [f'<line x1="{left}" x2="{left + sx * (n_lag - 1):.1f}" y1="{10 + plot_h * (1 - f):.1f}" '
             f'y2="{10 + plot_h * (1 - f):.1f}" stroke="#e3e6ea"/><text x="{left - 4}" y="{13 + plot_h * (1 - f):.1f}" '
             f'font-size="9" text-anchor="end">{int(100 * f)}%</text>' for f in (0, 0.5, 1)]
    for k, (svc, g) in enumerate(pattern.groupby("service", sort=True)):
        colour = SERVICE_COLOURS[k % len(SERVICE_COLOURS)]
        pts = " ".join(f"{left + sx * lag:.1f},{10 + plot_h * (1 - min(max(c, 0), 1.2) / 1.0):.1f}"
                       for lag, c in zip(g["lag"], g["completion"]) if np.isfinite(c))
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
        parts.append(f'<text x="{width - 105}" y="{20 + 12 * k}" font-size="10" fill="{colour}">{_e(svc)}</text>')
    parts.append(f'<text x="{left}" y="{height - 8}" font-size="9">lag (months) &#8594;</text>')
    return _svg(width, height, title, parts, "pattern-chart")


def render(run) -> str:
    """The report of a :class:`reserving.nightly.NightlyResult` as one HTML string."""
    p = []
    p.append(f"<h1>Nightly reserving report: as at {_e(run.as_of.date())}</h1>")
    p.append(f'<p class="muted">Run {_e(run.run_id)}. Settings: {_e(json.dumps(run.parameters, default=str))}</p>')
    p.append(_run_section(run))
    if run.outturn is not None:
        out = run.outturn.summary
        months = run.outturn.months
        p.append(f"<h2>Outturn against budget, {_e(months[0])} to {_e(months[-1])}</h2>")
        flagged = out[out["flag"].isin(["red", "amber", "incomplete"])]
        if len(flagged):
            items = "".join(f'<li class="flag-{_e(r.flag)}">{_e(r.consortium)}: {_e(r.flag)}, probability of overspend '
                            f'{_pct(r.prob_overspend)}, outturn {_money(r.outturn)} against budget {_money(r.budget)}'
                            f'{_incomplete_note(r.services_failed)}</li>'
                            for r in flagged.sort_values("prob_overspend", ascending=False, na_position="first")
                            .itertuples())
            p.append(f'<div id="at-risk"><h3>At risk or incomplete ({len(flagged)})</h3><ul>{items}</ul></div>')
        else:
            p.append('<div id="at-risk"><p>No consortium is at risk of overspend.</p></div>')
        p.append(outturn_chart(out))
        p.append(table(out[["consortium", "budget", "outturn", "outturn_p75", "outturn_p95", "variance",
                            "prob_overspend", "flag", "services_failed"]],
                       {c: _money for c in ["budget", "outturn", "outturn_p75", "outturn_p95", "variance"]}
                       | {"prob_overspend": _pct}, row_class=lambda r: f"flag-{r['flag'].replace(' ', '-')}"))
    p.append("<h2>National summary by consortium</h2>")
    p.append(table(run.consortium_summary, {c: _money for c in ["paid", "ibnr", "ultimate", "ibnr_p75", "ibnr_p95"]}
                   | {"prob_overspend": _pct}))
    nat = run.national_by_origin
    p.append("<h2>National IBNR by incurred month</h2>")
    p.append(ibnr_chart(nat["origin"].astype(str).tolist(), nat["ibnr"].to_numpy(), nat["ibnr_p75"].to_numpy(),
                        nat["ibnr_p95"].to_numpy(), "National IBNR by incurred month (bar: estimate; tick: 75th; "
                        "whisker: 95th percentile)"))
    p.append(_movements_section(run))
    p.append(_detail_section(run))
    body = "\n".join(p)
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Nightly reserving report '
            f'{_e(run.as_of.date())}</title><style>{_CSS}</style></head><body>{body}<script>{_JS}</script></body></html>')


def _run_section(run) -> str:
    rows = [(f"<li>Claim lines read: {run.claims.lines_read:,}; accepted: {run.claims.lines_accepted:,}; "
             f"rejected: {run.claims.lines_rejected:,} (details in <code>rejects.csv</code>)</li>"),
            f"<li>Segments reserved: {run.n_segments_ok}; failed: {len(run.segment_errors)}</li>",
            (f"<li>Chain-ladder diagnostics (assumptions where data were missing): {len(run.diagnostics):,} "
             f"(details in <code>diagnostics.csv</code>)</li>")]
    out = [f"<h2>Run</h2><ul>{''.join(rows)}</ul>"]
    if run.claims.lines_rejected:
        kind = (run.claims.reject_counts["reason"].str.replace(r"'[^']*'", "'...'", regex=True)
                .str.replace(r"\d{4}-\d\d-\d\d", "DATE", regex=True)
                .str.replace(r"repeats line \d+ of .*", "repeats an earlier line", regex=True))
        by_reason = (run.claims.reject_counts.assign(kind=kind)
                     .groupby("kind")["lines"].sum().reset_index().rename(columns={"kind": "reason"}))
        out.append('<h3>Rejected lines by reason</h3><div id="rejects">'
                   + table(by_reason, {"lines": lambda v: f"{int(v):,}"}) + "</div>")
    if len(run.segment_errors):
        out.append('<h3>Segments that could not be reserved</h3><div id="segment-errors">'
                   + table(run.segment_errors, {}) + "</div>")
    if 0 < len(run.diagnostics) <= MAX_DIAGNOSTIC_ROWS:
        out.append('<h3>Chain-ladder diagnostics</h3><div id="diagnostics">'
                   + table(run.diagnostics.fillna("-"), {}) + "</div>")
    return "".join(out)


def _movements_section(run) -> str:
    out = ["<h2>Against the previous run</h2>"]
    if run.movements is None:
        out.append('<p class="muted">No earlier run in the history database.</p>')
        return "".join(out)
    out.append(f"<p>Previous run: as at {_e(pd.Timestamp(run.previous_as_of).date())}.</p>")
    out.append(table(run.movements, {c: _money for c in run.movements.columns if c != "consortium"}))
    if run.actual_vs_expected is not None:
        out.append("<h3>Actual against expected payments since the previous run</h3>")
        out.append(table(run.actual_vs_expected, {"actual": _money, "expected": _money,
                                                  "actual_minus_expected": _money, "ratio": lambda v: f"{v:.2f}"}))
    else:
        out.append('<p class="muted">Actual against expected needs the previous run to be one month earlier.</p>')
    return "".join(out)


def _detail_section(run) -> str:
    cons = run.consortium_summary["consortium"].tolist()
    if run.outturn is not None:
        order = run.outturn.summary.sort_values("prob_overspend", ascending=False, na_position="last")["consortium"]
        cons = [c for c in order if c in set(cons)] + [c for c in cons if c not in set(order)]
    shown = cons[: run.max_detail]
    out = [(f"<h2>By consortium</h2><p class='muted'>{len(shown)} of {len(cons)} consortia shown "
            f"(those most at risk first).</p>")]
    tri = run.triangles
    inc = tri.incremental
    seg_cons = tri.segments.get_level_values(0)
    origins = [str(o) for o in tri.origins]
    for c in shown:
        mask = np.asarray(seg_cons == c)
        heat = np.where(np.isfinite(inc[mask]).any(axis=0), np.nansum(inc[mask], axis=0), np.nan)
        est = run.consortium_by_origin[run.consortium_by_origin["consortium"] == c]
        pat = run.pattern[run.pattern["consortium"] == c]
        out.append(f'<details open><summary>{_e(c)}</summary><div class="grid">'
                   + heat_map(heat, origins, f"{c}: incremental paid by incurred month and lag")
                   + pattern_chart(pat, f"{c}: development pattern (share of ultimate paid by lag)")
                   + "</div>"
                   + ibnr_chart(est["origin"].astype(str).tolist(), est["ibnr"].to_numpy(), est["ibnr_p75"].to_numpy(),
                                est["ibnr_p95"].to_numpy(), f"{c}: IBNR by incurred month")
                   + "</details>")
    return "".join(out)
