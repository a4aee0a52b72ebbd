"""Self-contained HTML report: how far age-sex budgets miss sicker groups, and how much risk
adjustment closes the gap (predictive ratios on held-out members, before and after)."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from riskadjust.calibrate import CalibrationResult, calibrate
from riskadjust.errors import PopulationError
from riskadjust.model import RiskModel
from riskadjust.population import Population


@dataclass(frozen=True, eq=False)
class GapReport:
    """Age-sex-only versus full-model calibration on the same members and hold-out split.

    ``groups`` holds, per group of held-out members (currency per member-year): ``actual_pmpy``
    (annualised cost as incurred), ``actual_capped_pmpy`` (the same truncated at ``cap`` per member,
    what the models are fitted to), the two models' predictions, predictive ratios against actual
    cost (``ratio_age_sex``, ``ratio_full``) and against capped cost (``..._capped``), and the gaps
    ``prediction - actual_pmpy``.
    """

    age_sex: CalibrationResult
    full: CalibrationResult
    groups: pd.DataFrame
    cap: float | None

    @property
    def summary(self) -> pd.DataFrame:
        return self.groups

    @property
    def totals(self) -> dict:
        return {"r2_age_sex": self.age_sex.validation.r2, "r2_full": self.full.validation.r2,
                "cpm_age_sex": self.age_sex.validation.cpm, "cpm_full": self.full.validation.cpm,
                "worst_ratio_age_sex": float(self.groups["ratio_age_sex"].min()),
                "worst_ratio_full": float(self.groups["ratio_full"].min()),
                "worst_ratio_age_sex_capped": float(self.groups["ratio_age_sex_capped"].min()),
                "worst_ratio_full_capped": float(self.groups["ratio_full_capped"].min())}


def funding_gap(model: RiskModel, members: pd.DataFrame, diagnoses: pd.DataFrame, *, cap: float | None = 50_000.0,
                holdout: float = 0.3, seed: int = 1, min_members: int = 10,
                build: Callable[[RiskModel, pd.DataFrame, pd.DataFrame | None], Population] = Population.from_frames,
                ) -> GapReport:
    """Calibrate the model and its demographic-only version; compare predictive ratios by group.

    ``members`` needs ``group, exposure, cost`` besides the model's member columns. ``build(model,
    members, diagnoses)`` makes the population (e.g. :func:`riskadjust.cms.cms_population` for
    CMS-HCC models, which derive segments from enrollment fields); it is called with ``None``
    diagnoses for the demographic-only model.
    """
    for col in ("group", "exposure", "cost"):
        if col not in members.columns:
            raise PopulationError(f"members: the report needs a {col!r} column")
    kw = dict(cap=cap, holdout=holdout, seed=seed, groups=members["group"].to_numpy(), min_members=min_members)
    full = calibrate(build(model, members, diagnoses), members["cost"], members["exposure"], **kw)
    demo = model.demographic_only()
    age_sex = calibrate(build(demo, members, None), members["cost"], members["exposure"], **kw)
    a, f = age_sex.validation.by_group, full.validation.by_group
    au, fu = age_sex.validation.by_group_uncapped, full.validation.by_group_uncapped
    groups = pd.DataFrame({"members": a["members"], "exposure": a["exposure"], "actual_pmpy": au["actual_pmpy"],
                           "actual_capped_pmpy": a["actual_pmpy"],
                           "age_sex_pmpy": a["predicted_pmpy"], "full_pmpy": f["predicted_pmpy"],
                           "ratio_age_sex": au["predictive_ratio"], "ratio_full": fu["predictive_ratio"],
                           "ratio_age_sex_capped": a["predictive_ratio"], "ratio_full_capped": f["predictive_ratio"]})
    groups["gap_age_sex_pmpy"] = groups["age_sex_pmpy"] - groups["actual_pmpy"]
    groups["gap_full_pmpy"] = groups["full_pmpy"] - groups["actual_pmpy"]
    return GapReport(age_sex, full, groups, cap)


def _bars(groups: pd.DataFrame) -> str:
    """Inline SVG: predictive ratio by group, age-sex (grey) beside full model (blue), line at 1."""
    w, h, pad = 640, 260, 40
    n = len(groups)
    top = max(1.5, float(groups[["ratio_age_sex", "ratio_full"]].max().max()) * 1.05)
    step = (w - 2 * pad) / max(n, 1)
    y = lambda v: h - pad - (h - 2 * pad) * v / top  # noqa: E731
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img" '
             'aria-label="predictive ratio by group">']
    for k, (name, r) in enumerate(groups.iterrows()):
        x0 = pad + k * step + step * 0.15
        for j, (col, colour) in enumerate((("ratio_age_sex", "#999"), ("ratio_full", "#2b6cb0"))):
            v = float(r[col])
            parts.append(f'<rect x="{x0 + j * step * 0.35:.1f}" y="{y(v):.1f}" width="{step * 0.33:.1f}" '
                         f'height="{y(0) - y(v):.1f}" fill="{colour}"><title>{html.escape(str(name))} '
                         f'{col}: {v:.3f}</title></rect>')
        parts.append(f'<text x="{x0 + step * 0.33:.1f}" y="{h - pad + 15}" font-size="11" '
                     f'text-anchor="middle">{html.escape(str(name))}</text>')
    parts.append(f'<line x1="{pad}" x2="{w - pad}" y1="{y(1):.1f}" y2="{y(1):.1f}" stroke="#c53030" '
                 'stroke-dasharray="4 3"/>')
    parts.append(f'<text x="{pad - 5}" y="{y(1) + 4:.1f}" font-size="11" text-anchor="end">1.0</text>')
    parts.append(f'<text x="{w - pad}" y="{pad - 10}" font-size="11" text-anchor="end">'
                 'ratio to actual cost; grey: age-sex only, blue: with diagnoses</text></svg>')
    return "".join(parts)


def render(report: GapReport, title: str = "Risk adjustment: who is under-funded?") -> str:
    """The report as one HTML page (no external files or scripts)."""
    g = report.groups
    fmt = {c: "{:,.0f}" for c in ("exposure", "actual_pmpy", "actual_capped_pmpy", "age_sex_pmpy", "full_pmpy",
                                   "gap_age_sex_pmpy", "gap_full_pmpy")}
    fmt.update({c: "{:.3f}" for c in ("ratio_age_sex", "ratio_full", "ratio_age_sex_capped", "ratio_full_capped")})
    table = g.to_html(formatters={k: v.format for k, v in fmt.items()}, border=0, classes="t")
    t = report.totals
    fit = pd.DataFrame({"age-sex only": [report.age_sex.validation.r2, report.age_sex.validation.cpm,
                                         report.age_sex.validation.mape],
                        "with diagnoses": [report.full.validation.r2, report.full.validation.cpm,
                                           report.full.validation.mape]},
                       index=["R-squared", "Cumming's prediction measure", "mean absolute error (per member-year)"])
    va, vf = report.age_sex.validation, report.full.validation
    dec = pd.DataFrame({"age-sex only": va.by_decile_uncapped["predictive_ratio"],
                        "with diagnoses": vf.by_decile_uncapped["predictive_ratio"],
                        "age-sex only (capped cost)": va.by_decile["predictive_ratio"],
                        "with diagnoses (capped cost)": vf.by_decile["predictive_ratio"]})
    worst = g["ratio_age_sex"].idxmin()
    u = vf.by_decile_uncapped[["actual", "predicted"]].sum()
    k = vf.by_decile[["actual"]].sum()
    if report.cap is None:
        cap_text = "Models are fitted to annualised cost without a cap."
    else:
        cap_text = (f"Models are fitted to each member's annualised cost truncated at {report.cap:,.0f} per "
                    f"member-year (the cap). Predictive ratios are against actual cost before the cap; the "
                    f"columns marked <i>capped</i> are against capped cost, what the models were fitted to. "
                    f"Across all held-out members the predictions cover {u['predicted'] / u['actual']:.1%} of "
                    f"actual cost and {u['predicted'] / k['actual']:.1%} of capped cost: cost above the cap is "
                    f"not funded by these budgets (it needs e.g. a high-cost pool).")
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:900px;margin:2em auto;color:#222}}
table.t,table{{border-collapse:collapse;font-size:13px}}td,th{{padding:3px 8px;text-align:right;border-bottom:1px solid #ddd}}
.note{{background:#fff8e1;padding:.6em;border-left:4px solid #f0b429}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p class="note">All data here are SYNTHETIC (generated by <code>riskadjust.synthetic</code>); the home model's
coefficients are invented. The figures show the method, not any real population.</p>
<p>Two models are calibrated by weighted least squares on the same {report.full.n_train:,} members and judged on the
same {report.full.n_holdout:,} held-out members: one with age-sex cells only, one that adds condition categories from
diagnoses. A predictive ratio is predicted cost over actual cost: below 1 the group's budget falls short.
{cap_text}</p>
<p>With age and sex only, group <b>{html.escape(str(worst))}</b> would receive
<b>{g.loc[worst, 'ratio_age_sex']:.1%}</b> of its actual cost; with diagnoses, {g.loc[worst, 'ratio_full']:.1%}.
Worst group ratio against actual cost: {t['worst_ratio_age_sex']:.3f} (age-sex) against
{t['worst_ratio_full']:.3f} (with diagnoses); against capped cost: {t['worst_ratio_age_sex_capped']:.3f} against
{t['worst_ratio_full_capped']:.3f}.</p>
{_bars(g)}
<h2>By group (held-out members, currency per member-year)</h2>{table}
<h2>Fit on held-out members</h2>{fit.to_html(float_format=lambda v: f"{v:,.3f}", border=0)}
<h2>Predictive ratio by decile of predicted cost (held-out members)</h2>
{dec.to_html(float_format=lambda v: f"{v:.3f}", border=0)}
</body></html>"""
