"""What one nightly run produced: :class:`NightlyResult`."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from reserving.nightly.claims import Claims
from reserving.nightly.forecast import ForecastResult
from reserving.nightly.outturn import OutturnResult
from reserving.triangle import TriangleSet


@dataclass(frozen=True)
class NightlyResult:
    """Everything one nightly run produced (also published as files, listed in ``outputs``).

    Tables are described in :mod:`reserving.nightly.tables`; ``outputs`` maps each output
    (``estimates_csv``, ``report``, ``db``, ...) to its published path. ``national_total`` holds the
    nation's paid, IBNR and range; ``range_assumptions`` how the ranges were simulated
    (:attr:`reserving.nightly.ranges.Ranges.assumptions`).
    ``selected_origins`` lists the origins whose method or prior the actuary selected, the job's
    beside the selected (:attr:`reserving.nightly.selection.Selection.overrides`).
    """

    as_of: pd.Timestamp
    run_id: str
    parameters: dict
    claims: Claims
    triangles: TriangleSet
    estimates: pd.DataFrame
    segment_totals: pd.DataFrame
    consortium_summary: pd.DataFrame
    consortium_by_origin: pd.DataFrame
    national_by_origin: pd.DataFrame
    pattern: pd.DataFrame
    outturn: OutturnResult | None
    segment_errors: pd.DataFrame
    diagnostics: pd.DataFrame
    movements: pd.DataFrame | None
    actual_vs_expected: pd.DataFrame | None
    previous_as_of: pd.Timestamp | None
    timings: dict
    outputs: dict = field(default_factory=dict)
    max_detail: int = 12
    forecast: ForecastResult | None = None
    forecast_history: pd.DataFrame | None = None
    actions: pd.DataFrame | None = None
    selections: pd.DataFrame | None = None
    selected_factors: pd.DataFrame | None = None
    selected_origins: pd.DataFrame | None = None
    assumption_tests: pd.DataFrame | None = None
    national_total: dict = field(default_factory=dict)
    range_assumptions: dict = field(default_factory=dict)
    #: The seasonal completion used (:class:`reserving.nightly.seasonal.SeasonalCompletion`); None when off.
    seasonality: object = None

    @property
    def n_segments_ok(self) -> int:
        """Segments reserved."""
        return self.triangles.n_segments
