"""What the exposure-based methods share: exposure checks, the Benktander iteration, the result object.

Used by :func:`reserving.expected_loss_ratio`, :func:`reserving.benktander` and
:func:`reserving.cape_cod`. Everything here is numpy vectorised over the segment axis; there is
no loop worth a Numba kernel (the work is O(S x I), or O(S x I^2) for the Cape Cod decay).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from reserving.chain_ladder import ChainLadder
from reserving.errors import ReservingError
from reserving.results import diagnostics_frame, origin_frame
from reserving.triangle import TriangleSet


@dataclass(frozen=True, eq=False)
class ExposureResult:
    """Ultimates of an exposure-based method for every segment and origin.

    Attributes
    ----------
    method : str
        ``expected_loss_ratio``, ``benktander`` or ``cape_cod``.
    chain_ladder : ChainLadder
        The development pattern behind ``cdf``.
    exposure : ndarray (S, I)
        Exposure per origin (earned premium in currency, or member months); NaN where none given.
    loss_ratio : ndarray (S, I)
        A priori loss ratio (cost per exposure unit, e.g. PMPM) applied to each origin.
    prior : ndarray (S, I)
        A priori ultimate ``loss_ratio * exposure`` (currency).
    latest, cdf : ndarray (S, I)
        Latest diagonal (currency) and the chain-ladder factor from its age to ultimate.
    ultimate, ibnr : ndarray (S, I)
        The method's ultimate and ``ultimate - latest`` (currency); NaN for origins with no data.
    n_iters : int
        Benktander iterations (0: expected loss ratio, 1: Bornhuetter-Ferguson).
    prior_rows : tuple
        Diagnostic rows of the selected priors (:meth:`reserving.Selections.priors`).
    """

    method: str
    chain_ladder: ChainLadder
    exposure: np.ndarray
    loss_ratio: np.ndarray
    prior: np.ndarray
    latest: np.ndarray
    cdf: np.ndarray
    ultimate: np.ndarray
    ibnr: np.ndarray
    n_iters: int
    prior_rows: tuple = ()

    @property
    def triangle(self) -> TriangleSet:
        return self.chain_ladder.triangle

    @cached_property
    def summary(self) -> pd.DataFrame:
        """Per segment and origin: latest, exposure, loss_ratio, prior, cdf, ultimate, ibnr."""
        return origin_frame(self.triangle, {
            "latest": self.latest, "exposure": self.exposure, "loss_ratio": self.loss_ratio,
            "prior": self.prior, "cdf": self.cdf, "ultimate": self.ultimate, "ibnr": self.ibnr})

    @cached_property
    def totals(self) -> pd.DataFrame:
        """Per segment: latest, prior, ultimate and ibnr summed over origins with data."""
        has = np.isfinite(self.latest)
        return pd.DataFrame({
            "latest": np.nansum(self.latest, axis=1),
            "prior": np.where(has, self.prior, 0.0).sum(axis=1),
            "ultimate": np.nansum(self.ultimate, axis=1),
            "ibnr": np.nansum(self.ibnr, axis=1),
        }, index=self.triangle.segments)

    @property
    def diagnostics(self) -> pd.DataFrame:
        """The chain-ladder's diagnostics (the pattern behind ``cdf``), then the selected priors."""
        frame = self.chain_ladder.diagnostics
        if not self.prior_rows:
            return frame
        return pd.concat([frame, diagnostics_frame(self.triangle, list(self.prior_rows))])


def per_origin(tri: TriangleSet, values, name: str, *, positive: bool = False) -> np.ndarray:
    """A scalar, an (I,) or an (S, I) array as (S, I) floats, checked where origins have data.

    Raises :class:`ReservingError` naming the segment and origin of the first missing, negative
    (or, with ``positive``, zero) value on an origin that has data.
    """
    shape = (tri.n_segments, tri.n_origins)
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 0 or arr.shape == (tri.n_origins,):
        arr = np.broadcast_to(arr, shape)
    if arr.shape != shape:
        raise ReservingError(f"{name} has shape {arr.shape}; expected a number, (n_origins,) = ({tri.n_origins},) "
                             f"or (n_segments, n_origins) = {shape}")
    arr = np.array(arr)
    has = tri.latest_lag >= 0
    bad = has & ~(np.isfinite(arr) & ((arr > 0) if positive else (arr >= 0)))
    if bad.any():
        s, i = np.argwhere(bad)[0]
        need = "positive" if positive else "zero or more"
        raise ReservingError(f"{name} at origin {tri.origins[i]} is {arr[s, i]}; it must be finite and {need} "
                             "for every origin with data", segment=tri.segment_name(s))
    return arr


def benktander_ultimate(latest: np.ndarray, cdf: np.ndarray, prior: np.ndarray, n_iters: int) -> np.ndarray:
    """Benktander (1976) / Mack (2000) iterated Bornhuetter-Ferguson ultimate.

    With ``q = 1 - 1/cdf`` the expected unreported share, ``U_0 = prior`` and
    ``U_{k+1} = latest + q U_k``, so that

        U_n = latest (1 + q + ... + q^(n-1)) + q^n prior

    ``n = 0`` is the expected-loss-ratio ultimate, ``n = 1`` Bornhuetter-Ferguson and
    ``n -> inf`` the chain ladder (Mack 2000, "Credible claims reserves: the Benktander method",
    ASTIN Bulletin 30(2), eq. 2.3). Arrays are (S, I); NaN where ``latest`` is NaN.
    """
    q = 1.0 - 1.0 / cdf
    ult = prior.copy()
    for _ in range(n_iters):
        ult = latest + q * ult
    return np.where(np.isfinite(latest), ult, np.nan)


def result(method, cl_result: ChainLadder, exposure, loss_ratio, prior, n_iters, prior_rows=()) -> ExposureResult:
    """Apply :func:`benktander_ultimate` and label the result; checks ``n_iters``."""
    if isinstance(n_iters, (bool, np.bool_)) or not isinstance(n_iters, (int, np.integer)) or n_iters < 0:
        raise ReservingError(f"n_iters must be an integer 0 or more; got {n_iters!r}")
    latest = cl_result.latest
    ultimate = benktander_ultimate(latest, cl_result.cdf, prior, n_iters)
    return ExposureResult(method, cl_result, exposure, loss_ratio, prior, latest, cl_result.cdf,
                          ultimate, ultimate - latest, int(n_iters), tuple(prior_rows))
