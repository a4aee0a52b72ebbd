"""How far age-sex budgets miss sicker groups, and how much risk adjustment closes the gap.

:func:`funding_gap` calibrates a model and its demographic-only version on the same members and
hold-out split and compares predictive ratios by group (held-out members); its
:class:`GapReport` is what :func:`riskadjust.report.render` draws.
"""

from __future__ import annotations

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
                "worst_ratio_full_capped": float(self.groups["ratio_full_capped"].min()),
                "funded_share_of_actual": self.funded_share_of_actual,
                "funded_share_of_capped": self.funded_share_of_capped}

    @property
    def funded_share_of_actual(self) -> float:
        """Full-model predictions over actual cost, across all held-out members."""
        v = self.full.validation
        u = (v.by_decile if v.by_decile_uncapped is None else v.by_decile_uncapped)[["actual", "predicted"]].sum()
        return float(u["predicted"] / u["actual"])

    @property
    def funded_share_of_capped(self) -> float:
        """Full-model predictions over cost capped at ``cap``, across all held-out members."""
        d = self.full.validation.by_decile
        return float(d["predicted"].sum() / d["actual"].sum())


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
