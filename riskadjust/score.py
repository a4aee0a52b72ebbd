"""Risk scores for every member of a population under a :class:`~riskadjust.RiskModel`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from riskadjust import _score_kernels as K
from riskadjust.errors import PopulationError, RiskAdjustError
from riskadjust.model import RiskModel
from riskadjust.population import Population


def kernel_args(model: RiskModel, population: Population) -> tuple:
    """Positional arguments shared by the scoring and calibration kernels (after the member arrays)."""
    if population.structure != model.structure:
        raise PopulationError(
            f"population was built for a model with a different structure than {model.name!r} "
            "(segments, categories, flags or terms differ); rebuild it with Population.from_frames(model, ...)"
        )
    c = model.compiled
    max_row = int(np.max(population.n_conditions)) if len(population) else 0
    return (population.segment, population.cell_term, population.flags, population.indptr,
            population.indices, c.param_index, c.coef, c.cat_term, c.drops, c.has_req, c.req,
            c.cat_group_ptr, c.cat_group_idx, c.n_groups, c.inter_g1, c.inter_g2, c.inter_mask,
            c.inter_term, c.count_min, c.count_max, c.count_term, max_row)


@dataclass(frozen=True, eq=False)
class ScoreResult:
    """Scores per member (indexed by row position in the population; no identifiers).

    Attributes
    ----------
    raw : float64 array (n,)
        Sum of the coefficients that apply (relative risk, unitless).
    normalised : float64 array (n,)
        ``raw / normalisation``.
    payment : float64 array (n,)
        ``normalised * (1 - coding_intensity)``.
    components : scipy.sparse.csr_matrix or None
        Member x parameter matrix of the coefficients that apply (when requested); parameter ``p``
        is row ``p`` of :attr:`parameters`.
    parameters : DataFrame
        ``segment, term`` of each parameter (the model's coefficients table order).
    """

    raw: np.ndarray
    normalised: np.ndarray
    payment: np.ndarray
    components: sparse.csr_matrix | None
    parameters: pd.DataFrame
    segment: np.ndarray
    segment_names: tuple[str, ...]
    model_name: str

    def to_frame(self) -> pd.DataFrame:
        """One row per member: segment, raw, normalised, payment (index = row position)."""
        return pd.DataFrame({"segment": np.asarray(self.segment_names, dtype=object)[self.segment],
                             "raw": self.raw, "normalised": self.normalised, "payment": self.payment})

    def components_frame(self) -> pd.DataFrame:
        """Long table ``row, segment, term, coefficient`` of every applying term (needs components)."""
        if self.components is None:
            raise RiskAdjustError("components were not computed; call score(..., components=True)")
        comp = self.components.tocoo()
        return pd.DataFrame({"row": comp.row, "segment": self.parameters["segment"].to_numpy()[comp.col],
                             "term": self.parameters["term"].to_numpy()[comp.col], "coefficient": comp.data})

    @property
    def summary(self) -> pd.DataFrame:
        """Members and mean raw / normalised / payment score by segment."""
        return self.to_frame().groupby("segment", sort=False).agg(
            members=("raw", "size"), mean_raw=("raw", "mean"), mean_normalised=("normalised", "mean"),
            mean_payment=("payment", "mean"))

    @property
    def totals(self) -> dict:
        n = self.raw.shape[0]
        return {"model": self.model_name, "members": n,
                "mean_raw": float(self.raw.mean()) if n else float("nan"),
                "mean_payment": float(self.payment.mean()) if n else float("nan")}


def score(model: RiskModel, population: Population, components: bool = False) -> ScoreResult:
    """Score every member of ``population`` with ``model``.

    Parameters
    ----------
    model : RiskModel
    population : Population
        Built with ``Population.from_frames(model, ...)`` (or a model of the same structure).
    components : bool
        Also return each member's applying terms and coefficients (sparse).

    Returns
    -------
    ScoreResult

    Examples
    --------
    >>> import pandas as pd
    >>> from riskadjust import Population, score
    >>> from riskadjust.synthetic import home_model
    >>> m = home_model()
    >>> members = pd.DataFrame({"patient_id": ["a"], "age": [70], "sex": ["F"], "segment": ["community"]})
    >>> pop = Population.from_frames(m, members, pd.DataFrame({"patient_id": ["a"], "code": ["E11.9"]}))
    >>> r = score(m, pop)
    >>> bool(r.raw[0] > 0)
    True
    """
    args = kernel_args(model, population)
    n = len(population)
    raw = np.zeros(n, dtype=np.float64)
    counts = np.zeros(n, dtype=np.int64)
    K.score_members(*args, raw, counts)
    comp = None
    if components:
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        params = np.zeros(indptr[-1], dtype=np.int32)
        values = np.zeros(indptr[-1], dtype=np.float64)
        K.member_components(*args, indptr, params, values)
        comp = sparse.csr_matrix((values, params, indptr), shape=(n, len(model.coefficients)))
    normalised = raw / model.normalisation
    payment = normalised * (1.0 - model.coding_intensity)
    return ScoreResult(raw, normalised, payment, comp, model.coefficients[["segment", "term"]].copy(),
                       population.segment.copy(), model.segments, model.name)
