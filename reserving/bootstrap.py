"""Over-dispersed Poisson bootstrap of the chain ladder: IBNR ranges per origin, per segment, in total.

England & Verrall (2002) with the choices of Shapland (2016) for awkward data; the kernels and the
formulas are in :mod:`reserving._bootstrap_kernels`. This module validates the triangles, fits
the model once per segment (fitted values, residuals, scale, hat matrix), runs the simulation
kernel in memory-bounded chunks of segments, and labels the results.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from reserving import _bootstrap_kernels as bk
from reserving._kernels import link_weights_batch, select_ldf_batch
from _kit.random import stream_keys
from reserving.development import AVERAGES, _exclusions, _n_periods, _per_lag, develop
from reserving.selections import selected_exclusions
from reserving.errors import ReservingError, TriangleError
from reserving.triangle import TriangleSet

QUANTILES = (0.5, 0.75, 0.9, 0.95, 0.99, 0.995)
_Q_NAMES = [f"q{100 * q:g}" for q in QUANTILES]
_PROCESSES = {"gamma": bk.GAMMA, "odp": bk.ODP}
#: Simulations per work item. Part of the definition of the random streams: changing it changes results.
BLOCK_SIZE = 250
#: Simulated values held at once when samples are not kept (bytes); bounds memory on big batches.
CHUNK_BYTES = 256 * 2**20


@dataclass(frozen=True, eq=False)
class BootstrapResult:
    """Simulated IBNR of an ODP bootstrap; see :func:`bootstrap_odp`.

    Attributes
    ----------
    segments, origins : pandas.Index, pandas.PeriodIndex
        Labels of the segments and origin periods.
    calendar : pandas.PeriodIndex
        The future calendar periods of the cash flows (valuation period + 1 onwards).
    n_sims, seed : int
        Number of simulations and the seed that reproduces them.
    process, residuals : str
        Process distribution and residual adjustment used.
    bias_correction : bool
        Whether the simulations were shifted by :attr:`bias` (see :func:`bootstrap_odp`).
    latest, ibnr : ndarray (n_segments, n_origins)
        Latest diagonal and chain-ladder IBNR (currency), with the selected factors if any.
    scale : ndarray (n_segments,)
        ODP scale parameter ``phi`` (currency): Pearson chi-square over degrees of freedom.
    bias : ndarray (n_segments, n_origins)
        Bootstrap estimate of the bias of the chain-ladder IBNR: mean simulated IBNR without
        process error minus the chain-ladder IBNR.
    mean, std_err : ndarray (n_segments, n_origins)
        Mean and standard deviation (prediction error) of simulated IBNR.
    quantiles : ndarray (n_segments, n_origins, 6)
        Quantiles at :data:`QUANTILES` of simulated IBNR.
    total_mean, total_std_err, total_quantiles : ndarray (n_segments,), (n_segments,), (n_segments, 6)
        The same for the segment's total IBNR.
    cash_expected, cash_mean, cash_std_err : ndarray (n_segments, n_calendar)
        Chain-ladder expected, simulated mean and standard deviation of future payments by
        calendar period.
    cash_quantiles : ndarray (n_segments, n_calendar, 6)
    """

    segments: pd.Index
    origins: pd.PeriodIndex
    calendar: pd.PeriodIndex
    n_sims: int
    seed: int
    process: str
    residuals: str
    bias_correction: bool
    latest: np.ndarray
    ibnr: np.ndarray
    scale: np.ndarray
    bias: np.ndarray
    mean: np.ndarray
    std_err: np.ndarray
    quantiles: np.ndarray
    total_mean: np.ndarray
    total_std_err: np.ndarray
    total_quantiles: np.ndarray
    cash_expected: np.ndarray
    cash_mean: np.ndarray
    cash_std_err: np.ndarray
    cash_quantiles: np.ndarray
    ibnr_samples: np.ndarray | None = None
    cash_samples: np.ndarray | None = None
    factor_adjustment: np.ndarray | None = None

    @property
    def samples(self) -> np.ndarray:
        """(n_segments, n_sims, n_origins) simulated IBNR with process error (a view).

        The total of a simulation is the sum over origins.
        """
        if self.ibnr_samples is None:
            raise ReservingError("samples were not kept: call bootstrap_odp(..., keep_samples=True)")
        return self.ibnr_samples.transpose(0, 2, 1)

    @property
    def cash_flow_samples(self) -> np.ndarray:
        """(n_segments, n_sims, n_calendar) simulated future payments by calendar period (a view)."""
        if self.cash_samples is None:
            raise ReservingError("samples were not kept: call bootstrap_odp(..., keep_samples=True)")
        return self.cash_samples.transpose(0, 2, 1)

    @property
    def summary(self) -> pd.DataFrame:
        """One row per segment and origin: latest, chain-ladder ibnr, bias, mean, std_err, quantiles."""
        index = _product_index(self.segments, self.origins)
        frame = pd.DataFrame(
            {
                "latest": self.latest.ravel(),
                "ibnr": self.ibnr.ravel(),
                "bias": self.bias.ravel(),
                "mean": self.mean.ravel(),
                "std_err": self.std_err.ravel(),
            },
            index=index,
        )
        for q, name in enumerate(_Q_NAMES):
            frame[name] = self.quantiles[:, :, q].ravel()
        return frame

    @property
    def totals(self) -> pd.DataFrame:
        """One row per segment: the summary's columns for the segment's total IBNR, and the scale."""
        frame = pd.DataFrame(
            {
                "latest": np.nansum(self.latest, axis=1),
                "ibnr": self.ibnr.sum(axis=1),
                "bias": self.bias.sum(axis=1),
                "mean": self.total_mean,
                "std_err": self.total_std_err,
            },
            index=self.segments,
        )
        for q, name in enumerate(_Q_NAMES):
            frame[name] = self.total_quantiles[:, q]
        frame["scale"] = self.scale
        return frame

    @property
    def cash_flow(self) -> pd.DataFrame:
        """One row per segment and future calendar period: expected, mean, std_err, quantiles."""
        index = _product_index(self.segments, self.calendar)
        frame = pd.DataFrame(
            {
                "expected": self.cash_expected.ravel(),
                "mean": self.cash_mean.ravel(),
                "std_err": self.cash_std_err.ravel(),
            },
            index=index,
        )
        for q, name in enumerate(_Q_NAMES):
            frame[name] = self.cash_quantiles[:, :, q].ravel()
        return frame


def bootstrap_odp(
    tri: TriangleSet,
    *,
    average: str = "volume",
    n_periods: int | None = None,
    drop_high=None,
    drop_low=None,
    exclude=None,
    n_sims: int = 10_000,
    seed: int | None = None,
    process: str = "gamma",
    residuals: str = "hat",
    bias_correction: bool = True,
    keep_samples: bool = True,
    progress=None,
    client=None,
    selections=None,
) -> BootstrapResult:
    """Over-dispersed Poisson bootstrap of the chain ladder (England & Verrall 2002).

    For each segment: fit the chain ladder; compute the Pearson residuals of the incremental
    amounts against the fitted ones and the scale parameter ``phi``; adjust the residuals for
    bias; then ``n_sims`` times resample them into a pseudo triangle, refit the chain ladder
    with the same factor options, project the future from the pseudo latest diagonal and add
    process error (details in :mod:`reserving._bootstrap_kernels`).

    Parameters
    ----------
    tri : TriangleSet
        Cumulative triangles (currency). Within a segment every cell up to the valuation must
        be present for the origins that have data; origins with no data at all (a segment
        shorter than the others) are skipped.
    average, n_periods, drop_high, drop_low, exclude
        Factor options (keyword-only, in the same order in every method), exactly as
        :func:`reserving.chain_ladder` (the factors of :func:`reserving.development.develop`):
        ``average`` one of ``'volume'``, ``'simple'``, ``'regression'``; ``n_periods`` the
        number of latest diagonals used (None: all); ``drop_high``/``drop_low`` how many
        highest/lowest link ratios of each lag to drop; ``exclude`` (origin, development) pairs or
        a boolean array of link ratios to leave out. Every pseudo triangle is refitted with the
        same options. Tails are not supported.
    selections : Selections, optional
        The actuary's selections (:mod:`reserving.selections`). Exclusions join ``exclude``.
        A selected ``factor`` or ``average`` of a lag sets ``a[j] = selected / indicated`` (the
        indicated factor being the data's, by the factor options); the ODP model is fitted as
        without selections (fitted values, residuals, ``phi`` and leverages are those of the
        indicated chain ladder, the ODP GLM whose fit is the volume-weighted chain ladder:
        England & Verrall 2002),
        and every pseudo triangle's refitted factor of that lag is multiplied by ``a[j]``. So the
        simulated factors are centred on the selection with the relative (coefficient of
        variation) parameter error the data give the indicated factor: judgement moves the
        centre, the data keep the spread. The expected future payments (``ibnr``, the bias
        estimate, ``cash_expected``) are the chain ladder's with the selected factors, so the
        bias-corrected mean is the selected chain-ladder IBNR up to Monte Carlo error. Shapland
        (2016) brings bootstrap results to an actuary's selected point estimate by shifting or
        scaling the simulated outcomes; here the scaling is made per development factor inside
        every simulation instead, so origins, calendar periods and totals stay one consistent
        distribution and a lag without a selection keeps the data's factor.
        ``factor_adjustment`` holds ``a`` (1 where nothing is selected).
    n_sims : int
        Simulations per segment.
    seed : int, optional
        Seed of the random streams; the result records it. The same seed gives bit-identical
        results whatever the number of threads or Dask workers, and a segment's results do
        not change when other segments are added or removed (each segment's stream is keyed
        by its label). Default: fresh entropy.
    process : {'gamma', 'odp'}
        Process distribution of future payments, mean ``m`` and variance ``phi m``: gamma, or
        ``phi`` times a Poisson of mean ``m / phi`` (over-dispersed Poisson).
    residuals : {'hat', 'dof'}
        Bias adjustment of the Pearson residuals ``r``: ``'hat'`` divides by
        ``sqrt(1 - h)``, ``h`` the leverage of the cell in the ODP GLM (Pinheiro et al. 2003;
        Shapland 2016, hat matrix adjustment), and leaves out of the pool the cells the chain ladder fits
        exactly (``h = 1``, zero residuals); ``'dof'`` multiplies by ``sqrt(N / (N - p))``
        with ``N`` residuals and ``p`` parameters, as R's ``BootChainLadder``.
    bias_correction : bool
        The chain ladder is not linear in the data, so even with unbiased pseudo data the mean
        of the refitted reserves sits above the chain-ladder reserve (about 1% on
        Taylor-Ashe). True (default) subtracts that bootstrap bias estimate
        (Efron & Tibshirani 1993, chapter 10), per origin and per calendar period, from
        every simulation, so the distribution is centred on the chain-ladder IBNR with its
        spread unchanged. False gives England & Verrall's distribution as published; the
        estimate is in ``.bias`` either way.
    keep_samples : bool
        Keep the simulations (``.samples``, ``.cash_flow_samples``): memory
        ``8 n_segments n_sims (n_origins + n_calendar)`` bytes. False keeps only the
        statistics and bounds memory by working on chunks of segments.
    progress : callable, optional
        Called as ``progress(share)`` while the simulations run, ``share`` the fraction (0 to 1] of
        the simulation work done (blocks of simulations of a segment), from the thread that finished
        the block: e.g. to move a progress bar during a long call. Not called when ``client`` is given.
    client : dask.distributed.Client, optional
        Split the segments across the cluster's workers; results are identical to a local run.

    Returns
    -------
    BootstrapResult
        ``.summary`` (segment x origin), ``.totals`` (segment), ``.cash_flow``
        (segment x future calendar period), ``.samples``.

    Notes
    -----
    Awkward cells, following Shapland (2016): a fitted increment ``m < 0`` gives the residual
    ``(q - m) / sqrt(|m|)`` and pseudo data ``m + r sqrt(|m|)``; a fitted increment of exactly
    0 has no residual (it is neither in the pool nor counted in ``N``) and stays 0 in every
    pseudo triangle; a negative future mean gets process error of the same variance with the
    sign reversed. The hat matrix uses ``|m|`` as the GLM weights.

    Cash flows: every calendar period's payments are simulated from the same pseudo
    triangles as the origins (same parameter error), with their own process draw (one gamma
    per sign per period, exact for that period). Within one simulation the calendar periods
    therefore add up to the total IBNR in distribution, not draw by draw.

    Examples
    --------
    >>> import chainladder as cl
    >>> from reserving import TriangleSet, bootstrap_odp
    >>> genins = TriangleSet.from_chainladder(cl.load_sample("genins"))
    >>> result = bootstrap_odp(genins, n_sims=2000, seed=42)
    >>> round(float(result.totals["ibnr"].iloc[0]))
    18680856
    >>> 0.14 < float(result.totals["std_err"].iloc[0] / result.totals["ibnr"].iloc[0]) < 0.18
    True
    >>> shares = []   # e.g. a progress bar's partial steps
    >>> _ = bootstrap_odp(genins, n_sims=500, seed=1, progress=shares.append)
    >>> len(shares), shares[-1]
    (2, 1.0)
    """
    if not isinstance(tri, TriangleSet):
        raise TriangleError(f"bootstrap_odp needs a TriangleSet; got {type(tri).__name__} "
                            "(build one with TriangleSet.from_...)")
    if isinstance(n_sims, bool) or not isinstance(n_sims, (int, np.integer)) or n_sims < 2:
        raise ReservingError(f"n_sims must be an integer of at least 2; got {n_sims!r}")
    if average not in AVERAGES:
        raise TriangleError(f"average {average!r} is not one of {list(AVERAGES)}")
    if tri.n_lags < 2:
        raise TriangleError(f"{tri!r} has one development lag: there is nothing to develop")
    if process not in _PROCESSES:
        raise ReservingError(f"process must be one of {list(_PROCESSES)}; got {process!r}")
    if residuals not in ("hat", "dof"):
        raise ReservingError(f"residuals must be 'hat' or 'dof'; got {residuals!r}")
    exclude = selected_exclusions(tri, exclude, selections)
    seed = int(np.random.SeedSequence().entropy if seed is None else seed)
    if seed < 0:
        raise ReservingError(f"seed must be a non-negative integer; got {seed}")
    options = dict(
        n_sims=int(n_sims), seed=seed, process=process, residuals=residuals,
        bias_correction=bias_correction, average=average, n_periods=n_periods,
        drop_high=drop_high, drop_low=drop_low, exclude=exclude, keep_samples=keep_samples, selections=selections,
    )
    if client is not None:
        from reserving.distributed import map_segments

        options["exclude"] = _exclusions(tri, exclude)
        return combine(map_segments(client, _part, tri, options, sliced=("exclude",)))
    return _run(tri, progress=progress, **options)


def _part(tri: TriangleSet, selections=None, **options) -> BootstrapResult:
    """:func:`bootstrap_odp` of some segments of a set, with the selections that concern them (a Dask task)."""
    return bootstrap_odp(tri, selections=None if selections is None else selections.within(tri), **options)


def combine(parts: list[BootstrapResult]) -> BootstrapResult:
    """Stack results on different segments of the same triangles (e.g. from Dask workers)."""
    first = parts[0]
    stacked = {}
    for name in BootstrapResult.__dataclass_fields__:
        values = [getattr(p, name) for p in parts]
        if name == "segments":
            stacked[name] = values[0].append(values[1:]) if len(values) > 1 else values[0]
        elif isinstance(values[0], np.ndarray):
            stacked[name] = np.concatenate(values, axis=0)
        else:
            stacked[name] = getattr(first, name)
    return BootstrapResult(**stacked)


def _run(tri, n_sims, seed, process, residuals, bias_correction, average, n_periods, drop_high,
         drop_low, exclude, keep_samples, selections, progress) -> BootstrapResult:
    n_seg, n_org, n_lag = tri.shape
    vi = tri.valuation_index
    _check_complete(tri, tri.latest_lag)
    code = AVERAGES[average]
    n_periods = _n_periods(n_periods)
    dh = _per_lag(drop_high, n_lag - 1, "drop_high")
    dl = _per_lag(drop_low, n_lag - 1, "drop_low")
    excl = _exclusions(tri, exclude)
    values = tri.values
    latest_lag = tri.latest_lag
    # develop's factors by its kernels, without the sigmas and diagnostics it also computes (a first
    # run would compile those kernels too, a second or more, for nothing)
    ldf = select_ldf_batch(values, link_weights_batch(values, vi, n_periods, dh, dl, excl), code)
    fit = _odp_fit(tri, latest_lag, ldf, residuals)
    adjust = _factor_adjustment(tri, ldf, selections, average, n_periods, drop_high, drop_low, exclude)
    structure = np.where(np.isnan(values), np.nan, 1.0)
    structure.flags.writeable = False  # as the triangle's values: one compiled link_weights_batch serves both
    zero = np.zeros(n_lag - 1, dtype=np.int64)
    eligible = link_weights_batch(structure, vi, n_periods, zero, zero, excl)
    cl_origin, cl_cash = bk.expected_future(values, latest_lag, ldf * adjust, vi)

    n_cal = cl_cash.shape[1]
    n_blocks = -(-n_sims // BLOCK_SIZE)
    keys = stream_keys(seed, list(tri.segments))
    probs = np.array(QUANTILES)
    out = {
        "bias": np.zeros((n_seg, n_org)), "mean": np.zeros((n_seg, n_org)),
        "std_err": np.zeros((n_seg, n_org)), "quantiles": np.zeros((n_seg, n_org, len(probs))),
        "total_mean": np.zeros(n_seg), "total_std_err": np.zeros(n_seg),
        "total_quantiles": np.zeros((n_seg, len(probs))), "cash_mean": np.zeros((n_seg, n_cal)),
        "cash_std_err": np.zeros((n_seg, n_cal)), "cash_quantiles": np.zeros((n_seg, n_cal, len(probs))),
    }
    ibnr_all = np.empty((n_seg, n_org, n_sims)) if keep_samples else None
    cash_all = np.empty((n_seg, n_cal, n_sims)) if keep_samples else None
    per_segment = 8 * n_sims * (n_org + n_cal + 1)
    chunk = n_seg if keep_samples else max(1, min(n_seg, CHUNK_BYTES // per_segment))
    for lo in range(0, n_seg, chunk):
        sl = slice(lo, min(n_seg, lo + chunk))
        k = sl.stop - sl.start
        ibnr = ibnr_all[sl] if keep_samples else np.empty((k, n_org, n_sims))
        cash = cash_all[sl] if keep_samples else np.empty((k, n_cal, n_sims))
        total = np.empty((k, 1, n_sims))
        param_origin = np.zeros((k, n_blocks, n_org))
        param_cash = np.zeros((k, n_blocks, n_cal))
        report = None if progress is None else (
            lambda done, before=sl.start * n_blocks: progress((before + done) / (n_seg * n_blocks)))
        bk.simulate(
            fit["fitted"][sl], fit["scale_sd"][sl], latest_lag[sl], fit["pool"][fit["pool_start"][sl.start]:fit["pool_start"][sl.stop]],
            fit["pool_start"][sl.start:sl.stop + 1] - fit["pool_start"][sl.start], eligible[sl], excl[sl], dh, dl,
            bool(dh.any() or dl.any()), n_periods, vi, code, fit["phi"][sl], _PROCESSES[process], keys[sl],
            n_sims, BLOCK_SIZE, ibnr, cash, total, param_origin, param_cash, report, adjust[sl],
        )
        bias_origin = param_origin.sum(axis=1) / n_sims - cl_origin[sl]
        bias_cash = param_cash.sum(axis=1) / n_sims - cl_cash[sl]
        out["bias"][sl] = bias_origin
        # the correction shifts each column by its bias: kept samples are shifted in place, otherwise
        # the statistics take the shift and the discarded samples are never rewritten
        shift_origin = bias_origin if bias_correction else np.zeros_like(bias_origin)
        shift_cash = bias_cash if bias_correction else np.zeros_like(bias_cash)
        if bias_correction and keep_samples:
            ibnr -= shift_origin[:, :, None]
            cash -= shift_cash[:, :, None]
            total -= shift_origin.sum(axis=1)[:, None, None]
            shift_origin, shift_cash = np.zeros_like(bias_origin), np.zeros_like(bias_cash)
        out["mean"][sl], out["std_err"][sl], out["quantiles"][sl] = bk.column_statistics(ibnr, probs, shift_origin)
        t_mean, t_std, t_q = bk.column_statistics(total, probs, shift_origin.sum(axis=1, keepdims=True))
        out["total_mean"][sl], out["total_std_err"][sl], out["total_quantiles"][sl] = t_mean[:, 0], t_std[:, 0], t_q[:, 0]
        out["cash_mean"][sl], out["cash_std_err"][sl], out["cash_quantiles"][sl] = bk.column_statistics(
            cash, probs, shift_cash)

    calendar = pd.period_range(tri.origins[0] + vi + 1, periods=n_cal, name="calendar")
    return BootstrapResult(
        segments=tri.segments, origins=tri.origins, calendar=calendar, n_sims=n_sims, seed=seed,
        process=process, residuals=residuals, bias_correction=bias_correction, latest=tri.latest,
        ibnr=cl_origin, scale=fit["phi"], cash_expected=cl_cash, ibnr_samples=ibnr_all,
        cash_samples=cash_all, factor_adjustment=adjust, **out,
    )


def _factor_adjustment(tri, ldf, selections, average, n_periods, drop_high, drop_low, exclude) -> np.ndarray:
    """(S, J-1) ``selected / indicated`` factor of each lag: 1 where no ``factor`` or ``average`` is selected.

    The indicated factors are ``ldf`` (the data's by the factor options); the selected ones are
    :meth:`reserving.Selections.apply` on the same development. A lag whose indicated factor is
    not a positive number cannot carry a ratio and is an error naming the segment and lag.
    """
    adjust = np.ones_like(ldf)
    if selections is None or not selections.table["item"].isin(["factor", "average"]).any():
        return adjust
    dev = develop(tri, average, n_periods, drop_high, drop_low, exclude)
    indicated = dev.ldf_values[:, : ldf.shape[1]]
    selected = selections.apply(dev).ldf_values[:, : ldf.shape[1]]
    changed = ~((selected == indicated) | (np.isnan(selected) & np.isnan(indicated)))
    bad = changed & ~(np.isfinite(ldf) & (ldf > 0))
    if bad.any():
        s, j = np.argwhere(bad)[0]
        raise ReservingError(f"{selections.source}: the indicated factor from development {tri.development[j]} is "
                             f"{ldf[s, j]}; a selection there has nothing to scale in the bootstrap",
                             segment=tri.segment_name(s))
    adjust[changed] = selected[changed] / ldf[changed]
    return adjust

def _odp_fit(tri, latest_lag, ldf, residuals) -> dict:
    """Fitted increments, Pearson residual pools, scale ``phi`` and leverages of every segment.

    ``r = (q - m) / sqrt(|m|)`` over the observed cells with ``m != 0`` (N of them);
    ``phi = sum r^2 / (N - p)``, ``p`` the rank of the ODP GLM design (origin and development
    effects) on those cells, found from the weighted normal matrix. Leverages
    ``h = |m| x' (X' W X)^+ x`` with ``x`` the cell's origin and lag indicators
    (England & Verrall 2002 for the model; Shapland 2016 for ``h``).
    """
    values = tri.values
    n_seg, n_org, n_lag = values.shape
    fitted = bk.fitted_incremental(values, latest_lag, ldf)
    observed = np.isfinite(values)
    bad = observed & ~np.isfinite(fitted)
    if bad.any():
        s, i, j = np.argwhere(bad)[0]
        raise TriangleError(
            f"{tri.segment_name(s)}: the chain ladder cannot fit {tri.cell_name(s, i, j)} because a "
            "development factor is zero (everything paid later is zero); exclude the segment or those links"
        )
    q = tri.incremental
    used = observed & (fitted != 0.0)
    m = np.where(used, fitted, 0.0)
    abs_m = np.abs(m)
    sd = np.sqrt(abs_m)
    r = np.zeros_like(m)
    np.divide(np.where(used, q - m, 0.0), sd, out=r, where=used)

    normal = np.zeros((n_seg, n_org + n_lag, n_org + n_lag))
    rows = np.arange(n_org)
    cols = n_org + np.arange(n_lag)
    normal[:, rows, rows] = abs_m.sum(axis=2)
    normal[:, cols, cols] = abs_m.sum(axis=1)
    normal[:, :n_org, n_org:] = abs_m
    normal[:, n_org:, :n_org] = abs_m.transpose(0, 2, 1)
    eigval, eigvec = np.linalg.eigh(normal)
    tol = eigval.max(axis=1, keepdims=True) * (n_org + n_lag) * np.finfo(float).eps
    keep = eigval > tol
    inv = np.where(keep, 1.0 / np.where(keep, eigval, 1.0), 0.0)
    pinv = (eigvec * inv[:, None, :]) @ eigvec.transpose(0, 2, 1)
    diag = np.diagonal(pinv, axis1=1, axis2=2)
    hat = abs_m * (diag[:, :n_org, None] + diag[:, None, n_org:] + 2.0 * pinv[:, :n_org, n_org:])

    n_obs = used.sum(axis=(1, 2))
    n_par = keep.sum(axis=1)
    dof = n_obs - n_par
    if (dof <= 0).any():
        s = int(np.flatnonzero(dof <= 0)[0])
        raise TriangleError(
            f"{tri.segment_name(s)}: {n_obs[s]} non-zero fitted cells for {n_par[s]} parameters leaves "
            "no degrees of freedom for the scale parameter; the bootstrap needs at least a 3 x 3 triangle of data"
        )
    phi = (r**2).sum(axis=(1, 2)) / dof
    pools = []
    for s in range(n_seg):
        if residuals == "dof":
            pool = r[s][used[s]] * np.sqrt(n_obs[s] / dof[s])
        else:
            inner = used[s] & (hat[s] < 1.0 - 1e-9)
            pool = r[s][inner] / np.sqrt(1.0 - hat[s][inner])
        pools.append(pool)
    pool_start = np.concatenate([[0], np.cumsum([len(p) for p in pools])]).astype(np.int64)
    return {
        "fitted": m, "scale_sd": sd, "phi": phi, "pool": np.concatenate(pools), "pool_start": pool_start,
        "residuals": r, "hat": hat, "n_obs": n_obs, "n_par": n_par,
    }


def _check_complete(tri: TriangleSet, latest_lag: np.ndarray, method: str = "the bootstrap") -> None:
    """Every origin with data must have every cell from lag 0 to the valuation diagonal (``method`` names
    the caller in the error)."""
    n_seg, n_org, n_lag = tri.shape
    diagonal = np.minimum(tri.valuation_index - np.arange(n_org), n_lag - 1)
    has_data = latest_lag >= 0
    needed = (np.arange(n_lag)[None, None, :] <= diagonal[None, :, None]) & has_data[:, :, None]
    missing = needed & np.isnan(tri.values)
    if missing.any():
        s, i, j = np.argwhere(missing)[0]
        raise TriangleError(
            f"{method} needs every cell up to the valuation; {tri.cell_name(s, i, j)} is missing. "
            "Fill it (0 if nothing was paid) or leave the segment out"
        )


def _product_index(segments: pd.Index, inner: pd.Index) -> pd.MultiIndex:
    seg = segments.to_frame(index=False)
    rep = seg.loc[seg.index.repeat(len(inner))].reset_index(drop=True)
    rep[inner.name] = np.tile(np.asarray(inner), len(segments))
    return pd.MultiIndex.from_frame(rep)
