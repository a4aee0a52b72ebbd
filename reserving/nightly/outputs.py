"""Writing the nightly job's outputs into a :class:`_kit.publish.Publication`, published as one set.

Files (in the output folder once published):

================================  ==============================================================
``estimates.csv`` / ``.parquet``  one row per segment and incurred month (columns in
                                  ``tables.ESTIMATE_COLUMNS``)
``rejects.csv``                   rejected claim lines: file, line, segment, reason (written while
                                  the claims are read, into the same publication)
``segments.csv``                  per segment: paid, IBNR and its range (sd, 75th, 95th percentile)
``consortia.csv``                 per consortium: paid, IBNR, ultimate and the range of its IBNR
``outturn.csv``                   outturn against budget per consortium (with a budget only)
``forecast.csv``                  full-year forecast outturn per consortium (with a budget only;
                                  columns in ``forecast.COLUMNS``)
``segment_errors.csv``            segments that could not be reserved, and why
``diagnostics.csv``               what the chain-ladder assumed, per segment
``summary.json``                  the run in numbers, for machines (with the national range, how
                                  the ranges were simulated and the seasonal completion used)
``report.html``                   the report, for people
================================  ==============================================================

CSV files are written with :func:`_kit.publish.write_csv` (safe to open in a spreadsheet);
``rejects.csv``, which can be long, is streamed through the same :func:`_kit.publish.excel_safe`.
"""

from __future__ import annotations

import math

from _kit.publish import Publication, write_csv, write_json, write_table, write_text
from reserving.nightly.report import render

#: Name of the rejected claim lines file.
REJECTS = "rejects.csv"


def stage_outputs(result, pub: Publication) -> dict:
    """Write every output of ``result`` (a ``NightlyResult``) into ``pub``'s staging folder.

    Returns the paths each output will have once ``pub`` is published, by key (``estimates_csv``,
    ``estimates_parquet``, ``segment_errors``, ``diagnostics``, ``rejects``, ``outturn``,
    ``summary``, ``report``).
    """
    est = result.estimates.assign(origin=result.estimates["origin"].dt.strftime("%Y-%m"))
    files = {
        "estimates_csv": ("estimates.csv", lambda p: write_csv(est, p)),
        "estimates_parquet": ("estimates.parquet", lambda p: write_table(est, p)),
        "segment_errors": ("segment_errors.csv", lambda p: write_csv(result.segment_errors, p)),
        "diagnostics": ("diagnostics.csv", lambda p: write_csv(result.diagnostics, p)),
        "segments": ("segments.csv", lambda p: write_csv(result.segment_totals, p)),
        "consortia": ("consortia.csv", lambda p: write_csv(result.consortium_summary, p)),
    }
    if result.outturn is not None:
        files["outturn"] = ("outturn.csv", lambda p: write_csv(result.outturn.summary, p))
    if result.forecast is not None:
        files["forecast"] = ("forecast.csv", lambda p: write_csv(result.forecast.summary, p))
    files["summary"] = ("summary.json", lambda p: write_json(summary(result), p))
    files["report"] = ("report.html", lambda p: write_text(render(result), p))
    outputs = {"rejects": pub.final(REJECTS)}
    for key, (name, write) in files.items():
        write(pub.path(name))
        outputs[key] = pub.final(name)
    return outputs


def summary(result) -> dict:
    """The run in numbers (``summary.json``): ids, parameters, counts, shares of lines and spend rejected
    (lines after the as-of date left out), totals, the national range and how ranges were simulated,
    consortia at risk, timings."""
    out = result.outturn
    return {
        "run_id": result.run_id, "as_of": str(result.as_of.date()), "parameters": result.parameters,
        "lines_read": result.claims.lines_read, "lines_rejected": result.claims.lines_rejected,
        "share_rejected": dict(zip(["lines", "spend"], map(float, result.claims.share_rejected))),
        "segments_ok": result.n_segments_ok, "segments_failed": len(result.segment_errors),
        "diagnostics": len(result.diagnostics),
        "paid": float(result.estimates["paid"].sum()), "ibnr": float(result.estimates["ibnr"].sum()),
        "national": result.national_total, "ranges": result.range_assumptions,
        "seasonality": {"setting": "off"} if result.seasonality is None else result.seasonality.describe(),
        "at_risk": [] if out is None else
        out.summary.loc[out.summary["flag"].isin(["red", "amber", "incomplete"]),
                        ["consortium", "flag", "services_failed"]].to_dict("records"),
        "forecast": None if result.forecast is None else forecast_summary(result.forecast),
        "actions": [] if result.actions is None else result.actions.to_dict("records"),
        "timings_s": {k: round(v, 3) for k, v in result.timings.items()},
    }


def forecast_summary(fc) -> dict:
    """The full-year forecast in ``summary.json``: the national row, the trend per service, the assumptions
    (a figure that cannot be computed, e.g. a probability without a budget, is ``null``)."""
    def plain(v):
        v = v.item() if hasattr(v, "item") else v
        return None if isinstance(v, float) and not math.isfinite(v) else v

    return {"year": [str(fc.year[0]), str(fc.year[-1])], "national": {k: plain(v) for k, v in fc.totals.items()},
            "trend": [{k: plain(v) for k, v in row.items()} for row in fc.trend.to_dict("records")],
            "assumptions": fc.assumptions}
