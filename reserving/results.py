"""Shared pieces of the reserving results: labelled frames and per-segment diagnostics."""

from __future__ import annotations

import numpy as np
import pandas as pd

from reserving.triangle import TriangleSet

DIAGNOSTIC_COLUMNS = ["development", "issue", "detail"]

class ProcessParameterErrors:
    """``std_err`` and ``total_std_err`` of a result with ``process``/``parameter`` (S, I) and
    ``total_process``/``total_parameter`` (S,) standard errors: ``sqrt(process^2 + parameter^2)``."""

    @property
    def std_err(self) -> np.ndarray:
        """(S, I) standard error of each origin's reserve."""
        return np.hypot(self.process, self.parameter)

    @property
    def total_std_err(self) -> np.ndarray:
        """(S,) standard error of the segment's total reserve."""
        return np.hypot(self.total_process, self.total_parameter)


def origin_frame(tri: TriangleSet, columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """A frame indexed by segment level(s) then origin from (S, I) arrays."""
    n_seg, n_org = tri.n_segments, tri.n_origins
    seg = tri.segments.to_frame(index=False).loc[np.repeat(np.arange(n_seg), n_org)].reset_index(drop=True)
    seg["origin"] = np.tile(np.asarray(tri.origins), n_seg)
    index = pd.MultiIndex.from_frame(seg)
    return pd.DataFrame({k: np.asarray(v).reshape(-1) for k, v in columns.items()}, index=index)

def link_labels(tri: TriangleSet, n_factors: int) -> list[str]:
    """Column labels of age-to-age factors, e.g. ``12-24``; tail factors continue the ages."""
    step = int(tri.development[0])
    return [f"{step * (j + 1)}-{step * (j + 2)}" for j in range(n_factors)]

def diagnostics_frame(tri: TriangleSet, rows: list[tuple[int, object, str, str]]) -> pd.DataFrame:
    """Frame of ``(segment position, development, issue, detail)`` rows indexed by segment."""
    if not rows:
        empty = pd.DataFrame(columns=DIAGNOSTIC_COLUMNS)
        empty.index = tri.segments[:0]
        return empty
    pos = [r[0] for r in rows]
    frame = pd.DataFrame([r[1:] for r in rows], columns=DIAGNOSTIC_COLUMNS)
    frame.index = tri.segments[pos]
    return frame
