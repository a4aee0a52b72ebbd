"""Self-contained HTML page: the priced table and, per group, its loss distribution and premium curve."""

from __future__ import annotations

import base64
import html
import io

import numpy as np
import pandas as pd
from scipy.special import ndtri

from stoploss.aggregate_premium import AggregatePremium
from stoploss.specific import SpecificPremium, specific_excess


def _chart(group: str, spec: SpecificPremium, agg: AggregatePremium, severity, claimant_rate: float) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8.0, 2.6), dpi=72)
    dist = agg.retained
    density = dist.p / dist.h
    ax1.plot(dist.x / 1e6, density * 1e6, lw=1, label="independent members")
    if agg.common_shock_cv > 0:
        # for the picture only: the shock on 400 equal-probability points (smooth, unlike 48 nodes)
        s = np.sqrt(np.log1p(agg.common_shock_cv**2))
        theta = np.exp(s * ndtri((np.arange(400) + 0.5) / 400) - 0.5 * s * s)
        grid = np.linspace(dist.x[0] * theta.min(), max(dist.x[-1], agg.attachment * 1.1), 400)
        mixed = np.mean([np.interp(grid / t, dist.x, density, left=0.0, right=0.0) / t for t in theta], axis=0)
        ax1.plot(grid / 1e6, mixed * 1e6, lw=1, label=f"common shock cv {agg.common_shock_cv:.0%}")
    ax1.axvline(agg.attachment / 1e6, color="C3", ls="--", lw=1, label=f"{agg.attachment_pct:.0%} attachment")
    ax1.set_xlabel("retained annual cost (millions)")
    ax1.set_ylabel("density")
    ax1.set_title(f"{group}: retained cost", fontsize=9)
    ax1.legend(fontsize=7)
    att = np.linspace(0.25, 3.0, 40) * spec.attachment
    pmpm = specific_excess(severity, att, spec.limit, claimant_rate) / 12.0
    ax2.plot(att / 1e3, pmpm, lw=1)
    ax2.axvline(spec.attachment / 1e3, color="C3", ls="--", lw=1)
    ax2.set_xlabel("specific attachment (thousands)")
    ax2.set_ylabel("expected PMPM")
    ax2.set_yscale("log")
    ax2.set_title("specific premium vs attachment", fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def html_report(table: pd.DataFrame, results, severities, title: str = "Stop-loss pricing") -> str:
    """HTML text with the priced table and one chart per group (inline base64 PNG).

    ``severities`` holds, per group, (covered claimant severity, claimant rate) for the premium curve.
    """
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;font-size:11px}"
             "td,th{border:1px solid #ccc;padding:2px 4px;text-align:right}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>",
             "<p>Specific: expected excess per member-year above the attachment (trended, on the contract "
             "basis), PMPM, claimants per 1,000 and leveraged trend. Aggregate: retained cost net of specific "
             "recoveries above the stated percentage of expected, with a common shock. Gross premiums include "
             "the loadings. Laser keys are never shown.</p>",
             table.to_html(index=False, float_format=lambda v: f"{v:,.4g}", border=0)]
    for (group, (spec, agg)), (sev, rate) in zip(zip(table["group"], results), severities):
        png = _chart(str(group), spec, agg, sev, rate)
        parts.append(f"<h2>{html.escape(str(group))}</h2><img alt='charts for {html.escape(str(group))}' "
                     f"src='data:image/png;base64,{png}'>")
    parts.append("</body></html>")
    return "\n".join(parts)
