"""HTML report of a pool-risk sweep: risk against list size, one line per attachment, inline SVG.

The page is self-contained (no scripts, no external files): for each budget formula a chart of
P(overspend > 5%) and one of the 99.5% reserve against list size (log scale), the smallest list size
that keeps P(overspend > 5%) below the chosen level with and without stop-loss, and our spread of
annual cost beside the published figures of Crump et al. (BMJ 1991): the 5th-95th percentile spread
of a practice's annual cost was 27.5% of its mean for 9,000 patients and 5.7% for a district of 179,400.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from stoploss.pool import PoolAssumptions, SweepResult, simulate_pool

#: Crump, Cubbon, Drummond, Hawkes & Marchment, "Fundholding in general practice and financial risk",
#: BMJ 1991;302:1582-4: 5th-95th percentile spread of annual cost as a share of the mean.
CRUMP_1991 = {9_000: 0.275, 179_400: 0.057}

_Z95 = 1.6448536269514722
_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
            "#bcbd22", "#17becf", "#000000")
_W, _H, _L, _R, _T, _B = 560, 300, 60, 150, 20, 40


def crump_comparison(assumptions: PoolAssumptions | None = None, n_years: int = 100_000,
                     seed: int = 0) -> pd.DataFrame:
    """Our 5th-95th percentile spread of annual cost / mean beside Crump et al.'s, at their two sizes.

    Per-head budget, no stop-loss, no shocks or IBNR error: ``simulated`` is the random variation of
    patients' costs alone; ``simulated_with_group_mix`` (only when ``assumptions.mix_cv > 0``) adds
    the between-group morbidity mix. ``normal`` is 2 z_0.95 CV / sqrt(N) for our
    per-person CV; ``per_person_cv_crump`` is the per-person CV that the published spread implies by
    the same normal formula.
    """
    base = assumptions or PoolAssumptions()
    cm = base.cost_model
    rows = []
    for n, published in CRUMP_1991.items():
        row = {"n_patients": n, "crump_1991": published}
        for label, mix_cv in (("simulated", 0.0), ("simulated_with_group_mix", base.mix_cv)):
            if label == "simulated" or mix_cv > 0:
                plain = PoolAssumptions(cost_model=cm, mix_cv=mix_cv)
                res = simulate_pool(n, risk_model=0.0, assumptions=plain, n_years=n_years, seed=seed)
                row[label] = float(res.totals["spread_5_95"])
        row.update({"normal": 2 * _Z95 * np.sqrt(cm.var / n) / cm.mean,
                    "per_person_cv_crump": published * np.sqrt(n) / (2 * _Z95),
                    "per_person_cv_ours": np.sqrt(cm.var) / cm.mean})
        rows.append(row)
    return pd.DataFrame(rows)


def _scale(v, lo, hi, a, b, log=False):
    if log:
        v, lo, hi = np.log10(v), np.log10(lo), np.log10(hi)
    return a + (np.asarray(v, dtype=float) - lo) / (hi - lo) * (b - a)


def _nice_step(top: float) -> float:
    """A step of 1, 2 or 5 x 10^k giving 3 to 6 gridlines up to ``top``."""
    raw = top / 4.0
    base = 10.0 ** np.floor(np.log10(raw))
    return float(min((m * base for m in (1.0, 2.0, 5.0, 10.0) if m * base >= raw), default=10 * base))


def _svg_chart(x: np.ndarray, series: dict, title: str, ylabel: str, level: float | None = None) -> str:
    """A line chart, x on a log scale (list size), one polyline per series, legend at the right."""
    xs_lo, xs_hi = float(x.min()), float(x.max())
    y_all = np.concatenate([np.asarray(v, dtype=float) for v in series.values()] + [[0.0]])
    step = _nice_step(float(np.nanmax(y_all)) or 0.01)
    y_hi = step * max(np.ceil(float(np.nanmax(y_all)) / step), 1.0)
    px = lambda v: _scale(v, xs_lo, xs_hi, _L, _W - _R, log=True)  # noqa: E731
    py = lambda v: _scale(v, 0.0, y_hi, _H - _B, _T)  # noqa: E731
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" font-family="sans-serif" '
             f'font-size="11"><title>{html.escape(title)}</title>',
             f'<rect x="{_L}" y="{_T}" width="{_W - _L - _R}" height="{_H - _T - _B}" fill="none" stroke="#999"/>']
    for t in np.arange(0.0, y_hi + step / 2, step):
        parts.append(f'<line x1="{_L - 4}" x2="{_W - _R}" y1="{py(t):.1f}" y2="{py(t):.1f}" stroke="#eee"/>'
                     f'<text x="{_L - 6}" y="{py(t) + 4:.1f}" text-anchor="end">{t:.1%}</text>')
    for t in 10.0 ** np.arange(np.ceil(np.log10(xs_lo)), np.floor(np.log10(xs_hi)) + 1):
        parts.append(f'<line x1="{px(t):.1f}" x2="{px(t):.1f}" y1="{_T}" y2="{_H - _B + 4}" stroke="#eee"/>'
                     f'<text x="{px(t):.1f}" y="{_H - _B + 16}" text-anchor="middle">{t:,.0f}</text>')
    if level is not None and level <= y_hi:
        parts.append(f'<line x1="{_L}" x2="{_W - _R}" y1="{py(level):.1f}" y2="{py(level):.1f}" stroke="#000" '
                     f'stroke-dasharray="4 3"/>')
    for i, (label, y) in enumerate(series.items()):
        colour = _COLOURS[i % len(_COLOURS)]
        pts = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in zip(x, y))
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="1.6"/>'
                     f'<text x="{_W - _R + 8}" y="{_T + 12 + 14 * i}" fill="{colour}">{html.escape(label)}</text>')
    parts.append(f'<text x="{(_L + _W - _R) / 2}" y="{_H - 6}" text-anchor="middle">list size (patients)</text>'
                 f'<text x="12" y="{(_T + _H - _B) / 2}" transform="rotate(-90 12 {(_T + _H - _B) / 2})" '
                 f'text-anchor="middle">{html.escape(ylabel)}</text></svg>')
    return "".join(parts)


def _attachment_label(a: float) -> str:
    return "no stop-loss" if np.isnan(a) else f"{a:,.0f}"


def pool_report_html(result: SweepResult, crump: pd.DataFrame | None = None,
                     title: str = "How large must a group be to hold a risk-bearing budget?") -> str:
    """The sweep as one self-contained HTML page (see the module docstring).

    Parameters
    ----------
    result : SweepResult
    crump : DataFrame, optional
        From :func:`crump_comparison`; the section is left out when None.
    """
    s = result.summary
    a = result.assumptions
    cm = a.cost_model
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
           "<style>body{font-family:sans-serif;max-width:1200px;margin:1em auto}table{border-collapse:collapse}"
           "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}.charts{display:flex;flex-wrap:wrap}"
           "</style></head><body>", f"<h1>{html.escape(title)}</h1>",
           "<p>Each simulated year is a random group-year: patients drawn from the morbidity mix, annual cost "
           "from the cost model, budget from a formula of stated R-squared; outturn net of specific stop-loss "
           "recoveries plus its premium. Deviation = (outturn - budget) / budget.</p>",
           f"<p>Cost model: mean {cm.mean:,.0f} per patient-year, coefficient of variation "
           f"{np.sqrt(cm.var) / cm.mean:.2f}, {float(cm.population_share_above(100_000)):.2%} of people above "
           f"100,000 holding {float(cm.spend_share_above(100_000)):.1%} of spend; class means explain "
           f"{cm.between_share:.1%} of individual variance. Group mix CV {a.mix_cv:.1%}, common shock CV "
           f"{a.shock_cv:.1%}, epidemic {a.epidemic_probability:.0%} x {a.epidemic_uplift:.0%}, IBNR error CV "
           f"{a.ibnr_cv:.1%}, specific loading {a.loading:.0%}"
           + ("" if a.aggregate_attachment is None else
              f", aggregate stop-loss at {a.aggregate_attachment:.0%} of budget") + ".</p>"]
    sizes = np.sort(s["n_patients"].unique())
    for model, g in s.groupby("risk_model", sort=False):
        r2 = float(g["r_squared"].iloc[0])
        out.append(f"<h2>Budget formula: {html.escape(str(model))} (R-squared {r2:.1%})</h2><div class='charts'>")
        for col, label, level in (("p_over_5pct", "P(overspend > 5%)", result.level),
                                  ("var_995", "reserve at 99.5% (VaR, share of budget)", None)):
            series = {_attachment_label(att): h.sort_values("n_patients")[col].to_numpy()
                      for att, h in g.groupby("attachment", dropna=False, sort=False)}
            out.append(_svg_chart(sizes, series, f"{model}: {label}", label, level))
        out.append("</div>")
    out.append(f"<h2>Smallest list size with P(overspend &gt; 5%) below {result.level:.0%}</h2>"
               "<p>By attachment (none = no specific stop-loss); blank where no simulated size reaches it; "
               f"{int(s['n_patients'].min()):,} (the smallest simulated size) means that size or fewer.</p>")
    out.append(result.totals.to_html(na_rep="", float_format=lambda v: f"{v:,.0f}"))
    if crump is not None:
        out.append("<h2>Against the literature</h2><p>Spread between the 5th and 95th percentiles of a "
                   "group's annual cost as a share of its mean, per-head budget, no stop-loss (Crump et al., "
                   "BMJ 1991;302:1582-4), with the per-person coefficient of variation each implies through "
                   "the normal approximation. A larger published spread means costs per patient more variable "
                   "than our cost model's.</p>")
        shown = crump.copy()
        for col in [c for c in ("crump_1991", "simulated", "simulated_with_group_mix", "normal") if c in shown]:
            shown[col] = shown[col].map("{:.1%}".format)
        for col in ("per_person_cv_crump", "per_person_cv_ours"):
            shown[col] = shown[col].map("{:.2f}".format)
        out.append(shown.to_html(index=False))
    out.append("</body></html>")
    return "\n".join(out)
