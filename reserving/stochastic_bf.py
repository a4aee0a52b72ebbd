"""Stochastic Bornhuetter-Ferguson: ranges of a BF or blended estimate from the model itself.

The BF estimate ``IBNR = U0 (1 - 1/CDF)`` is uncertain through its development pattern, through
its prior ``U0`` and through the randomness of the payments still to come (Mack 2008, "The
prediction error of Bornhuetter/Ferguson", ASTIN Bulletin 38(1)). England & Verrall (2002,
BAJ 8(3)) set it in the over-dispersed Poisson (ODP) framework as a stochastic model: the pattern
from the ODP model, here by the bootstrap of the chain ladder (its resampled factors give a CDF
per simulation), the prior drawn from a distribution of its own, and ODP process error. A month
with nothing paid yet therefore keeps an honest spread, which shifting or scaling chain-ladder
samples cannot give (their mean there is 0). Blending with the chain ladder by a weight ``w`` per
origin (the health practice of :func:`reserving.bornhuetter_ferguson`) blends the simulated
means with the same weights. Formulas are in :mod:`reserving._stochastic_bf_kernels`.

The prior's error is lognormal with mean 1 and three parts on the log scale (:class:`PriorError`):
a shock shared by the segments of a group (e.g. a consortium's service lines, whose budget is set
together), a shock shared by every segment in an incurred month (a common calendar effect), and
each segment's own error. :func:`prior_error` estimates the three from the months already
complete, comparing their actual (chain-ladder) ultimates with the prior and taking out the ODP
process variance the simulation adds anyway. ``dependence=False`` draws the shared shocks
independently per segment (the same spread per segment, no correlation between segments).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from _kit.random import stream_keys
from reserving import _stochastic_bf_kernels as kernels
from reserving._kernels import link_weights_batch
from reserving.bootstrap import _check_complete, _odp_fit
from reserving.development import AVERAGES, _n_periods, develop
from reserving.errors import ReservingError, TriangleError
from reserving.triangle import TriangleSet

#: Simulations per work item. Part of the definition of the random streams: changing it changes results.
BLOCK_SIZE = 250


@dataclass(frozen=True)
class PriorError:
    """Log-scale standard deviations of the prior ultimate's error (``U / U0 = exp(...)``, mean 1).

    Attributes
    ----------
    segment_sd : ndarray (S,)
        Each segment's own error, independent between segments and months.
    group_sd : float
        A shock common to a group's segments and months (e.g. a consortium's funding level).
    calendar_sd : float
        A shock common to every segment in one incurred month.
    n_cells : int
        Complete segment-months the estimate rests on (0: none, every part 0).
    """

    segment_sd: np.ndarray
    group_sd: float
    calendar_sd: float
    n_cells: int

    @property
    def cv(self) -> float:
        """Coefficient of variation of one cell's prior: ``sqrt(exp(s^2 + g^2 + c^2) - 1)``, ``s^2`` averaged.

        Examples
        --------
        >>> round(PriorError(np.array([0.1, 0.2]), 0.05, 0.0, 10).cv, 4)
        0.167
        """
        var = float(np.mean(self.segment_sd**2)) + self.group_sd**2 + self.calendar_sd**2
        return float(np.sqrt(np.expm1(var)))

    def take(self, positions) -> PriorError:
        """The same error for the segments at ``positions`` (shared parts unchanged)."""
        return PriorError(self.segment_sd[positions], self.group_sd, self.calendar_sd, self.n_cells)


@dataclass(frozen=True, eq=False)
class LargeClaims:
    """Large claims, a compound Poisson part of the process error (:mod:`reserving._stochastic_bf_kernels`).

    Attributes
    ----------
    share : ndarray (S,)
        Share ``a`` of each segment's amounts that large claims make, in [0, 1): the large part of
        a simulated mean ``m`` is ``a m``, the ODP part ``(1 - a) m``.
    amounts : tuple of ndarray
        Large claims' amounts (currency, positive) of each kind of segment (e.g. a service line):
        each simulated large claim is one of them, drawn uniformly.
    kind : ndarray (S,) int
        Position in ``amounts`` of each segment's kind.

    Examples
    --------
    >>> big = LargeClaims(np.array([0.1, 0.0]), (np.array([100.0, 300.0]), np.array([50.0])), np.array([0, 1]))
    >>> big.scale.tolist()                            # E L^2 / E L: (100^2 + 300^2) / 400; 50
    [250.0, 50.0]
    """

    share: np.ndarray
    amounts: tuple
    kind: np.ndarray

    @property
    def scale(self) -> np.ndarray:
        """``E L^2 / E L`` of each segment's large claims (currency): their compound Poisson variance
        is ``a m`` times it."""
        per_kind = np.array([float((x * x).sum() / x.sum()) if len(x) else 0.0 for x in self.amounts])
        return per_kind[self.kind]

    def take(self, positions) -> LargeClaims:
        """The same large claims for the segments at ``positions``."""
        return LargeClaims(self.share[positions], self.amounts, self.kind[positions])


@dataclass(frozen=True, eq=False)
class StochasticBFResult:
    """Simulated IBNR of :func:`stochastic_bf`.

    Attributes
    ----------
    segments, origins : pandas.Index, pandas.PeriodIndex
    n_sims, seed : int
    dependence : bool
        Whether the prior's group and calendar shocks are shared between segments.
    prior_error : PriorError
    scale : ndarray (S,)
        ODP scale ``phi`` per segment (currency).
    ibnr : ndarray (S, I)
        The estimate the simulations are centred on: ``w IBNR_CL + (1 - w) U0 (1 - 1/CDF)``.
    bias : ndarray (S, I)
        Mean simulated IBNR without process error minus ``ibnr``, subtracted from every simulation.
    samples : ndarray (S, I, n_sims)
        Simulated IBNR with process error.
    """

    segments: pd.Index
    origins: pd.PeriodIndex
    n_sims: int
    seed: int
    dependence: bool
    prior_error: PriorError
    scale: np.ndarray
    ibnr: np.ndarray
    bias: np.ndarray
    samples: np.ndarray

    @property
    def totals(self) -> pd.DataFrame:
        """Per segment: IBNR, mean, standard deviation, 75th and 95th percentiles of the total over origins."""
        total = self.samples.sum(axis=1)
        q = np.quantile(total, [0.75, 0.95], axis=1)
        return pd.DataFrame({"ibnr": self.ibnr.sum(axis=1), "mean": total.mean(axis=1),
                             "std_err": total.std(axis=1, ddof=1), "q75": q[0], "q95": q[1]}, index=self.segments)


def stochastic_bf(tri: TriangleSet, prior, weight_cl, *, prior_error: PriorError, groups=None,
                  dependence: bool = True, scale=None, large: LargeClaims | None = None, redraw_paid: bool = True,
                  average: str = "volume", n_periods: int | None = None, n_sims: int = 10_000, seed: int = 0,
                  progress=None) -> StochasticBFResult:
    """Simulate the IBNR of a Bornhuetter-Ferguson or blended estimate (England & Verrall 2002; Mack 2008).

    The pattern's parameter error is the bootstrap's pseudo estimates reflected about the data's own
    (the basic bootstrap; :mod:`reserving._stochastic_bf_kernels` says why), the prior's a lognormal
    error of mean 1, the process error ODP gamma (and, with ``large``, a compound Poisson part).

    Parameters
    ----------
    tri : TriangleSet
        Cumulative paid triangles (currency), complete up to the valuation (as the bootstrap).
    prior : array_like (S, I)
        Prior ultimate (currency); NaN where none (the weight must then be 1).
    weight_cl : array_like (S, I)
        Weight of the chain ladder per origin, in [0, 1]: 0 is pure BF, 1 pure chain ladder
        (``BornhuetterFergusonResult.weight_cl``).
    prior_error : PriorError
        The prior's uncertainty (:func:`prior_error`), one ``segment_sd`` per segment of ``tri``.
    groups : sequence (S,), optional
        Group label per segment sharing the group shock; default the first level of the segment label.
    dependence : bool
        Share the group shock among a group's segments and the calendar shock among all segments
        (default); False draws them per segment.
    scale : array_like (S,), optional
        ODP scale ``phi`` of the process error per segment (currency); default each segment's own
        Pearson estimate (:func:`odp_scale`). The residuals are resampled as they are either way.
    large : LargeClaims, optional
        Simulate each segment's share of large claims as a compound Poisson sum of its kind's
        large amounts, and only the rest with ODP error at ``scale``; and give the chain ladder's
        paid to date its large claims afresh in each simulation (step 3 of
        :mod:`reserving._stochastic_bf_kernels`); default none (ODP alone).
    redraw_paid : bool
        With ``large``, redraw the large claims of the chain ladder's paid to date (default). Off
        for triangles whose large claims were taken out (:mod:`reserving.nightly.large_claims`).
    average, n_periods
        Chain-ladder factor options of the pattern, as :func:`reserving.chain_ladder`.
    n_sims, seed : int
        Simulations per segment; seed of the random streams. A segment's numbers depend only on
        the seed, its label, its group's label and the origins, not on the other segments in the
        call nor on the threads. Each origin draws its prior's error and its process error from a
        stream of its own (:mod:`reserving._stochastic_bf_kernels`), so changing one origin's
        weight or prior changes that origin's simulations only.
    progress : callable, optional
        Called with the share of the simulation done (0 to 1) as work finishes (a progress bar).

    Returns
    -------
    StochasticBFResult

    Examples
    --------
    >>> tri = TriangleSet.from_array([[100., 150., 160.], [110., 160., np.nan], [0., np.nan, np.nan]],
    ...                              origin_start="2024-01", grain="M")
    >>> err = PriorError(np.array([0.1]), 0.0, 0.0, 0)
    >>> r = stochastic_bf(tri, [[160., 170., 180.]], [[1., 1., 0.]], prior_error=err, n_sims=2000, seed=1)
    >>> r.ibnr.round(1).tolist()                # newest month: pure BF, 180 x (1 - 1 / 1.574)
    [[0.0, 10.7, 65.7]]
    >>> p5, p95 = np.quantile(r.samples[0, 2], [0.05, 0.95])
    >>> bool(p5 < 65.7 < p95), bool(abs(r.samples[0, 2].mean() / 65.7 - 1) < 0.02)
    (True, True)
    """
    if not isinstance(tri, TriangleSet):
        raise TriangleError(f"stochastic_bf needs a TriangleSet; got {type(tri).__name__}")
    if average not in AVERAGES:
        raise ReservingError(f"average {average!r} is not one of {list(AVERAGES)}")
    if isinstance(n_sims, bool) or not isinstance(n_sims, (int, np.integer)) or n_sims < 2:
        raise ReservingError(f"n_sims must be an integer of at least 2; got {n_sims!r}")
    n_seg, n_org, n_lag = tri.shape
    prior, weight = _as_2d(prior, (n_seg, n_org), "prior"), _as_2d(weight_cl, (n_seg, n_org), "weight_cl")
    if not ((weight >= 0) & (weight <= 1)).all():
        raise ReservingError("weight_cl must lie in [0, 1] for every segment and origin")
    if (~np.isfinite(prior) & (weight < 1)).any():
        s, i = np.argwhere(~np.isfinite(prior) & (weight < 1))[0]
        raise ReservingError(f"no prior at origin {tri.origins[i]} where the chain-ladder weight is below 1",
                             segment=tri.segment_name(s))
    if prior_error.segment_sd.shape != (n_seg,):
        raise ReservingError(f"prior_error has {prior_error.segment_sd.shape[0]} segments; the triangles {n_seg}")
    labels = list(tri.segments)
    groups = [lab[0] if isinstance(lab, tuple) else lab for lab in labels] if groups is None else list(groups)
    latest_lag = tri.latest_lag
    _check_complete(tri, latest_lag, "the stochastic Bornhuetter-Ferguson")
    dev = develop(tri, average=average, n_periods=n_periods)
    ldf = np.ascontiguousarray(dev.ldf_values[:, : n_lag - 1])
    fit = _odp_fit(tri, latest_lag, ldf, "hat")
    structure = np.where(np.isnan(tri.values), np.nan, 1.0)
    zero = np.zeros(n_lag - 1, dtype=np.int64)
    eligible = link_weights_batch(structure, tri.valuation_index, _n_periods(n_periods), zero, zero,
                                  np.zeros((n_seg, n_org, n_lag - 1)))
    prior0 = np.where(weight < 1, prior, 0.0)
    phi = fit["phi"] if scale is None else np.asarray(scale, dtype=float)
    if phi.shape != (n_seg,) or not (np.isfinite(phi) & (phi >= 0)).all():
        raise ReservingError(f"scale must be {n_seg} finite values of at least 0, one per segment")

    large = _check_large(large, tri)
    group_labels = list(dict.fromkeys(groups))
    if dependence:
        group_shock = _shocks(seed, [("prior group", g) for g in group_labels], 1, n_sims, prior_error.group_sd)
        calendar_shock = _shocks(seed, [("prior calendar",)], n_org, n_sims, prior_error.calendar_sd)
        group_of, calendar_of = pd.Index(group_labels).get_indexer(groups), np.zeros(n_seg, dtype=np.int64)
    else:
        group_shock = _shocks(seed, [("prior group", *_tuple(lab)) for lab in labels], 1, n_sims,
                              prior_error.group_sd)
        calendar_shock = _shocks(seed, [("prior calendar", *_tuple(lab)) for lab in labels], n_org, n_sims,
                                 prior_error.calendar_sd)
        group_of = calendar_of = np.arange(n_seg)

    cdf = np.take_along_axis(dev.cdf_values, np.maximum(latest_lag, 0), axis=1)
    latest = np.nan_to_num(tri.latest)
    cl_centre = np.ascontiguousarray(np.where(latest_lag >= 0, latest * (cdf - 1.0), 0.0))
    share_centre = np.ascontiguousarray(np.where(latest_lag >= 0, 1.0 - 1.0 / cdf, 0.0))
    samples = np.empty((n_seg, n_org, n_sims))
    n_blocks = -(-n_sims // BLOCK_SIZE)
    param = np.zeros((n_seg, n_blocks, n_org))
    keys = stream_keys(seed, [("stochastic_bf", *_tuple(lab)) for lab in labels])
    kernels.simulate(fit["fitted"], fit["scale_sd"], latest_lag, fit["pool"], fit["pool_start"], eligible,
                     tri.valuation_index, AVERAGES[average], phi, prior0, weight,
                     np.ascontiguousarray(prior_error.segment_sd, dtype=float), group_shock[:, 0], group_of,
                     calendar_shock, calendar_of, large.share, np.concatenate([np.zeros(0), *large.amounts]),
                     np.cumsum([0, *map(len, large.amounts)]).astype(np.int64), large.kind, keys, n_sims, BLOCK_SIZE,
                     samples, param, cl_centre, share_centre, bool(redraw_paid), report=progress)
    centre = weight * cl_centre + (1.0 - weight) * prior0 * share_centre      # the estimate; 0 where no data
    bias = param.sum(axis=1) / n_sims - centre
    samples -= bias[:, :, None]
    return StochasticBFResult(tri.segments, tri.origins, int(n_sims), int(seed), bool(dependence), prior_error,
                              phi, centre, bias, samples)


def prior_error(actual, prior, complete, groups, kinds, scale) -> PriorError:
    """Estimate the prior's error from the complete months: actual ultimate against prior.

    With ``x = log(actual / prior)`` over the complete cells (both positive), a two-way
    decomposition ``x[s, i] = a[g(s)] + b[i] + e[s, i]`` (``a`` the group means, ``b`` the
    monthly means of what is left) gives, by the method of moments:

    - segment part, pooled over the segments of a kind (e.g. a service line):
      ``s^2 = sum e^2 / dof - mean(p)``, with ``dof = N - G - M + 1`` scaled to the kind's share
      of cells and ``p = phi / actual`` the ODP process variance of a cell on the log scale
      (``Var U = phi U``), which the simulation adds separately;
    - group part ``g^2 = mean_g(a^2 - v_g)``, ``v_g`` the sampling variance of a group mean
      (around 0, so a bias of the prior counts as error);
    - calendar part ``c^2 = mean_i(b^2 - v_i)``;

    each floored at 0.

    Parameters
    ----------
    actual, prior : ndarray (S, I)
        Chain-ladder ultimate and prior ultimate (currency).
    complete : bool ndarray (S, I)
        The cells to compare (e.g. completion at least the blend threshold).
    groups, kinds : sequence (S,)
        Group (e.g. consortium) and kind (e.g. service) of each segment.
    scale : ndarray (S,)
        ODP scale ``phi`` per segment.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> actual = 1000 * np.exp(rng.normal(0, 0.1, (40, 30)))
    >>> e = prior_error(actual, np.full((40, 30), 1000.), np.ones((40, 30), bool), np.arange(40) // 4,
    ...                 np.zeros(40), np.zeros(40))
    >>> round(float(e.segment_sd[0]), 2), round(e.group_sd, 2), round(e.calendar_sd, 2)
    (0.1, 0.01, 0.01)
    """
    actual, prior = np.asarray(actual, float), np.asarray(prior, float)
    n_seg = actual.shape[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        use = np.asarray(complete, bool) & (actual > 0) & (prior > 0) & np.isfinite(actual) & np.isfinite(prior)
        x = np.where(use, np.log(actual / prior), 0.0)
        p = np.where(use, np.asarray(scale, float)[:, None] / actual, 0.0)
    n_cells = int(use.sum())
    if n_cells == 0:
        return PriorError(np.zeros(n_seg), 0.0, 0.0, 0)
    g_code = pd.Index(list(dict.fromkeys(groups))).get_indexer(list(groups))
    k_code = pd.Index(list(dict.fromkeys(kinds))).get_indexer(list(kinds))
    n_groups = g_code.max() + 1
    cells_g = np.bincount(g_code, weights=use.sum(axis=1), minlength=n_groups)
    a = np.divide(np.bincount(g_code, weights=x.sum(axis=1), minlength=n_groups), cells_g,
                  out=np.zeros(n_groups), where=cells_g > 0)
    rest = np.where(use, x - a[g_code][:, None], 0.0)
    cells_i = use.sum(axis=0)
    b = np.divide(rest.sum(axis=0), cells_i, out=np.zeros(actual.shape[1]), where=cells_i > 0)
    e = np.where(use, rest - b[None, :], 0.0)
    dof_share = max(n_cells - int((cells_g > 0).sum()) - int((cells_i > 0).sum()) + 1, 1) / n_cells
    seg_var = np.zeros(n_seg)
    for k in range(k_code.max() + 1):
        mine = k_code == k
        n_k = use[mine].sum()
        if n_k == 0:
            continue
        seg_var[mine] = max((e[mine] ** 2).sum() / (n_k * dof_share) - p[mine].sum() / n_k, 0.0)
    cell_var = np.where(use, seg_var[:, None] + p, 0.0)
    v_g = np.bincount(g_code, weights=cell_var.sum(axis=1), minlength=n_groups)
    has_g = cells_g > 0
    group_var = max(float(np.mean(a[has_g] ** 2 - v_g[has_g] / cells_g[has_g] ** 2)), 0.0)
    has_i = cells_i > 0
    v_i = cell_var.sum(axis=0)[has_i] / cells_i[has_i] ** 2
    calendar_var = max(float(np.mean(b[has_i] ** 2 - v_i)), 0.0)
    return PriorError(np.sqrt(seg_var), float(np.sqrt(group_var)), float(np.sqrt(calendar_var)), n_cells)


def odp_scale(tri: TriangleSet, *, average: str = "volume", n_periods: int | None = None) -> np.ndarray:
    """ODP scale ``phi`` per segment (currency): Pearson chi-square over degrees of freedom, as the bootstrap.

    Examples
    --------
    >>> tri = TriangleSet.from_array([[100., 150., 160., 165.], [110., 160., 172., np.nan],
    ...                               [120., 185., np.nan, np.nan], [130., np.nan, np.nan, np.nan]],
    ...                              origin_start="2024-01", grain="M")
    >>> odp_scale(tri).round(4).tolist()
    [0.2175]
    """
    _check_complete(tri, tri.latest_lag, "the ODP scale")
    dev = develop(tri, average=average, n_periods=n_periods)
    return _odp_fit(tri, tri.latest_lag, np.ascontiguousarray(dev.ldf_values[:, : tri.n_lags - 1]), "hat")["phi"]


def _check_large(large: LargeClaims | None, tri: TriangleSet) -> LargeClaims:
    """``large`` checked against the segments of ``tri``, as contiguous arrays; None: no large claims."""
    n_seg = tri.n_segments
    if large is None:
        return LargeClaims(np.zeros(n_seg), (np.zeros(0),), np.zeros(n_seg, dtype=np.int64))
    share = np.ascontiguousarray(large.share, dtype=float)
    kind = np.ascontiguousarray(large.kind, dtype=np.int64)
    amounts = tuple(np.ascontiguousarray(x, dtype=float) for x in large.amounts)
    if share.shape != (n_seg,) or kind.shape != (n_seg,) or not ((share >= 0) & (share < 1)).all():
        raise ReservingError(f"large claims need a share in [0, 1) and a kind for each of the {n_seg} segments")
    if not ((kind >= 0) & (kind < len(amounts))).all():
        raise ReservingError(f"a large-claim kind is not one of the {len(amounts)} given")
    if any(len(x) and not (np.isfinite(x) & (x > 0)).all() for x in amounts):
        raise ReservingError("large-claim amounts must be finite and positive")
    empty = np.array([len(x) == 0 for x in amounts])[kind] & (share > 0)
    if empty.any():
        raise ReservingError("a large-claim share but no large-claim amounts",
                             segment=tri.segment_name(int(np.argmax(empty))))
    return LargeClaims(share, amounts, kind)


def _shocks(seed, labels, n_rows, n_sims, sd):
    """Centred log shocks ``sd Z - sd^2 / 2``, (len(labels), n_rows, n_sims), one stream per label."""
    out = np.zeros((len(labels), n_rows, n_sims))
    if sd > 0:
        for r, key in enumerate(stream_keys(seed, labels)):
            kernels.normal_rows(key, n_rows, n_sims, BLOCK_SIZE, out[r])
        out = sd * out - 0.5 * sd * sd
    return out


def _tuple(label):
    return label if isinstance(label, tuple) else (label,)


def _as_2d(values, shape, name) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape != shape:
        raise ReservingError(f"{name} has shape {arr.shape}; expected (n_segments, n_origins) = {shape}")
    return arr
