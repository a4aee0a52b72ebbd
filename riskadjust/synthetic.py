"""Seeded SYNTHETIC populations and the bundled demonstration "home" model.

Nothing here describes real people or a real payer. The home model (``data/home_model/``) has two
segments (community, institutional), age-sex cells, 21 condition categories mapped from real ICD-10
codes, a hierarchy, interactions and count terms, with invented coefficients. The generator draws:

* practice groups with different morbidity (a group multiplier on every condition's rate) and
  different age mixes;
* ages, sexes, an institutional segment for a few older members;
* conditions from a per-member frailty (Gamma) x group multiplier x age gradient, so conditions
  cluster in the same people, and 1-2 ICD-10 codes per condition plus codes that map to nothing;
* exposure in member-years (most members a full year) and annual cost = base x (model's own
  relative risk) x lognormal noise x exposure, plus rare catastrophic claims (Pareto), giving the
  right-skewed cost distribution of real claims.

The same seed gives the same tables on any machine and thread count (pure NumPy, one generator
per table set from the engine's seeding scheme: ``_kit.random.generator(seed, "synthetic_population")``
and ``_kit.random.generator(seed, "synthetic_medicare")``). The bundled sample (``data/sample_*.csv``)
is :func:`synthetic_population`'s documented draw with seed 2024 (:func:`load_sample`).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from _kit.random import generator
from _kit.tables import read_table
from riskadjust.errors import PopulationError
from riskadjust.model import RiskModel
from riskadjust.population import Population

BASE_COST = 3000.0
NOISE_CODES = ("R05", "J069", "Z0000", "M545", "R51", "K219", "H5213", "L700")


def data_path(*parts: str) -> Path:
    """Path of a file bundled in ``riskadjust/data``."""
    return Path(str(resources.files("riskadjust") / "data")).joinpath(*parts)


@lru_cache(maxsize=1)
def home_model() -> RiskModel:
    """The bundled SYNTHETIC demonstration model (see the module docstring).

    Examples
    --------
    >>> m = home_model()
    >>> m.segments, len(m.categories)
    (('community', 'institutional'), 21)
    """
    return RiskModel.load(data_path("home_model"))


def synthetic_population(n: int, seed: int = 0, n_groups: int = 6, model: RiskModel | None = None
                         ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Draw ``n`` synthetic members and their diagnoses for the home model.

    Parameters
    ----------
    n : int
        Number of members.
    seed : int
        Seed; the same seed gives identical tables (``_kit.random.generator(seed, "synthetic_population")``).
    n_groups : int
        Number of practice groups (``G01``...), each with its own morbidity and age mix.
    model : RiskModel, optional
        Model whose coefficients drive the expected cost (default: :func:`home_model`).

    Returns
    -------
    members : DataFrame
        ``patient_id, age, sex, segment, group, exposure`` (member-years), ``cost`` (currency units
        in the exposure period).
    diagnoses : DataFrame
        ``patient_id, code`` (ICD-10 without dots).

    Examples
    --------
    >>> members, dx = synthetic_population(1000, seed=1)
    >>> list(members.columns)
    ['patient_id', 'age', 'sex', 'segment', 'group', 'exposure', 'cost']
    """
    model = model or home_model()
    rng = generator(seed, "synthetic_population")
    group_morbidity = np.linspace(0.5, 2.0, n_groups)[rng.permutation(n_groups)]
    group_age_shift = rng.normal(0.0, 8.0, n_groups)
    group = rng.integers(0, n_groups, n)
    age = _ages(rng, n, group_age_shift[group])
    sex = np.where(rng.random(n) < 0.51, "F", "M")
    institutional = (age >= 65) & (rng.random(n) < 0.02 + 0.10 * (age >= 85))
    segment = np.where(institutional, "institutional", "community")
    frailty = rng.gamma(2.0, 0.5, n) * group_morbidity[group] * (1.0 + 1.5 * institutional)

    cats = model.categories["category"].tolist()
    codes_of = model.dx_map.groupby("category", sort=False)["code"].apply(list).to_dict()
    base_rate = np.geomspace(0.08, 0.004, len(cats))[rng.permutation(len(cats))]
    age_grad = np.exp((np.clip(age, 20, 95) - 60.0) / 18.0)
    rows, codes = [], []
    for k, cat in enumerate(cats):
        has = rng.random(n) < 1.0 - np.exp(-base_rate[k] * frailty * age_grad)
        who = np.flatnonzero(has)
        options = codes_of[cat]
        for extra in (False, True):
            pick = who if not extra else who[rng.random(who.size) < 0.3]
            rows.append(pick)
            codes.append(np.asarray(options, dtype=object)[rng.integers(0, len(options), pick.size)])
    noise = np.flatnonzero(rng.random(n) < 0.6)
    rows.append(noise)
    codes.append(np.asarray(NOISE_CODES, dtype=object)[rng.integers(0, len(NOISE_CODES), noise.size)])
    rows = np.concatenate(rows)
    codes = np.concatenate(codes)

    ids = np.char.add("S", np.char.zfill(np.arange(1, n + 1).astype(str), 7)).astype(object)
    members = pd.DataFrame({"patient_id": ids, "age": age, "sex": sex, "segment": segment,
                            "group": np.char.add("G", np.char.zfill((group + 1).astype(str), 2)).astype(object)})
    diagnoses = pd.DataFrame({"patient_id": ids[rows], "code": codes})
    order = np.lexsort((diagnoses["code"].to_numpy().astype(str), rows))
    diagnoses = diagnoses.iloc[order].drop_duplicates().reset_index(drop=True)

    from riskadjust.score import score  # local: score imports population, both import model

    risk = score(model, Population.from_frames(model, members, diagnoses)).raw
    exposure = np.where(rng.random(n) < 0.85, 1.0, np.round(rng.uniform(0.1, 1.0, n), 3))
    sigma = 0.9
    noise_factor = rng.lognormal(-0.5 * sigma**2, sigma, n)
    catastrophic = (rng.random(n) < 0.002) * (rng.pareto(2.5, n) + 1.0) * 60000.0
    cost = (BASE_COST * risk * noise_factor + catastrophic) * exposure
    members["exposure"] = exposure
    members["cost"] = np.round(cost, 2)
    return members, diagnoses


def _ages(rng: np.random.Generator, n: int, shift: np.ndarray) -> np.ndarray:
    """A registered-list age mix: children, working age and a long tail of older people."""
    young = rng.random(n) < 0.2
    age = np.where(young, rng.uniform(0, 18, n), rng.normal(50, 20, n) + shift)
    return np.clip(np.floor(age), 0, 104).astype(np.int64)


def synthetic_medicare(n: int, model: RiskModel, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Draw ``n`` SYNTHETIC Medicare enrollees and ICD-10 codes from a CMS-HCC model's mapping table.

    About 80% are aged (65-100) and 20% disabled (25-64); dual status, OREC (including ESRD 2/3),
    long-term institutional, new-enrollee and SNP flags are mixed in. Each member gets a Poisson
    number of codes, half drawn from all the model's codes and half from one hierarchy family
    (a parent category and its children), so hierarchies and interactions fire often; some codes
    map to nothing.

    Returns ``members`` (``patient_id, age, sex, dual_elgbl_cd, orec, crec, lti, new_enrollee, snp``)
    and ``diagnoses`` (``patient_id, code``), for :func:`riskadjust.cms.cms_population`. The same
    ``seed`` gives the same tables (``_kit.random.generator(seed, "synthetic_medicare")``).
    """
    rng = generator(seed, "synthetic_medicare")
    disabled = rng.random(n) < 0.2
    age = np.where(disabled, rng.integers(25, 65, n), rng.integers(65, 101, n))
    sex = np.where(rng.random(n) < 0.55, "F", "M")
    dual = np.asarray(["00", "02", "04", "08", "01", "03", "05", "06", "09"], dtype=object)[
        rng.choice(9, n, p=[0.72, 0.06, 0.03, 0.03, 0.05, 0.04, 0.02, 0.02, 0.03])]
    orec = np.where(disabled, np.asarray(["1", "3", "2"], dtype=object)[rng.choice(3, n, p=[0.9, 0.05, 0.05])],
                    np.asarray(["0", "1", "2"], dtype=object)[rng.choice(3, n, p=[0.85, 0.12, 0.03])])
    lti = (rng.random(n) < 0.05).astype(np.int8)
    new_enrollee = ((rng.random(n) < 0.05) & ~np.isin(orec, ["2", "3"]) & (lti == 0)).astype(np.int8)
    snp = (new_enrollee.astype(bool) & (rng.random(n) < 0.2)).astype(np.int8)
    ids = np.char.add("M", np.arange(n).astype(str)).astype(object)
    members = pd.DataFrame({"patient_id": ids, "age": age, "sex": sex, "dual_elgbl_cd": dual, "orec": orec,
                            "crec": "", "lti": lti, "new_enrollee": new_enrollee, "snp": snp})
    return members, _medicare_codes(rng, ids, model)


def _medicare_codes(rng: np.random.Generator, ids: np.ndarray, model: RiskModel) -> pd.DataFrame:
    """Poisson(3) codes per member from the whole map, Poisson(1.5) from one hierarchy family, some noise."""
    n = ids.size
    dx_map = model.dx_map.sort_values("category", kind="stable")
    codes = dx_map["code"].to_numpy(dtype=object)
    cat_names, cat_start, cat_size = np.unique(dx_map["category"].to_numpy(dtype=str), return_index=True,
                                               return_counts=True)
    cat_id = {c: i for i, c in enumerate(cat_names)}
    families = [[cat_id[p]] + [cat_id[c] for c in ch] for p, ch in model.hierarchy.groupby("parent")["child"]]
    fam_size = np.array([len(f) for f in families], dtype=np.int64)
    fam_start = np.concatenate([[0], np.cumsum(fam_size)[:-1]]).astype(np.int64)
    fam_cats = np.array([c for f in families for c in f], dtype=np.int64)
    k = rng.poisson(3.0, n)
    fam_k = rng.poisson(1.5, n) if families else np.zeros(n, dtype=np.int64)
    rows = [np.repeat(np.arange(n), k)]
    picks = [codes[rng.integers(0, codes.size, k.sum())]]
    fam_rows = np.repeat(np.arange(n), fam_k)
    fam = rng.integers(0, max(len(families), 1), n)[fam_rows]
    cat = fam_cats[fam_start[fam] + (rng.random(fam_rows.size) * fam_size[fam]).astype(np.int64)]
    rows.append(fam_rows)
    picks.append(codes[cat_start[cat] + (rng.random(fam_rows.size) * cat_size[cat]).astype(np.int64)])
    junk = np.flatnonzero(rng.random(n) < 0.3)
    rows.append(junk)
    picks.append(np.asarray(NOISE_CODES, dtype=object)[rng.integers(0, len(NOISE_CODES), junk.size)])
    rows = np.concatenate(rows)
    return pd.DataFrame({"patient_id": ids[rows], "code": np.concatenate(picks)})


def synthetic_esrd(n: int, model: RiskModel, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Draw ``n`` SYNTHETIC ESRD enrollees (every segment of the CMS ESRD model) and their ICD-10 codes.

    Shares are set so that every segment is drawn, not to be realistic: 50% on dialysis, 10% in
    months 1-3 after a kidney transplant and 40% with a functioning graft (4-9 or 10-60 months
    since the transplant, half each); 25% new enrollees (never long-term institutional), 10% of
    the others long-term institutional; 40% under 65; ESRD coded by OREC 2/3 or, for 35%, by CREC
    2/3 with OREC 1 (70%) or 0; 30% full-benefit and 20% partial-benefit duals. Codes are drawn as
    in :func:`synthetic_medicare`. Returns ``members`` (``patient_id, age, sex, dual_elgbl_cd, orec,
    crec, lti, new_enrollee, graft_months``; ``graft_months`` is ``<NA>`` on dialysis) and
    ``diagnoses``, for :func:`riskadjust.cms_esrd.esrd_population`. The same ``seed`` gives the same
    tables (``_kit.random.generator(seed, "synthetic_esrd")``).

    Examples
    --------
    >>> from riskadjust.cms_esrd import esrd_members, load_cms_esrd
    >>> members, dx = synthetic_esrd(3000, load_cms_esrd(), seed=1)
    >>> esrd_members(members)["segment"].nunique()
    21
    """
    rng = generator(seed, "synthetic_esrd")
    young = rng.random(n) < 0.4
    age = np.where(young, rng.integers(20, 65, n), rng.integers(65, 101, n))
    sex = np.where(rng.random(n) < 0.45, "F", "M")
    dual = np.asarray(["00", "02", "04", "08", "01", "03", "05", "06"], dtype=object)[
        rng.choice(8, n, p=[0.5, 0.12, 0.09, 0.09, 0.08, 0.06, 0.03, 0.03])]
    by_crec = rng.random(n) < 0.35
    orec = np.where(by_crec, np.asarray(["0", "1"], dtype=object)[(rng.random(n) < 0.7).astype(np.int64)],
                    np.asarray(["2", "3"], dtype=object)[rng.integers(0, 2, n)])
    crec = np.where(by_crec, np.asarray(["2", "3"], dtype=object)[rng.integers(0, 2, n)], "")
    status = rng.choice(3, n, p=[0.5, 0.1, 0.4])
    months = np.where(status == 1, rng.integers(1, 4, n), np.where(rng.random(n) < 0.5, rng.integers(4, 10, n),
                                                                    rng.integers(10, 61, n)))
    graft_months = pd.array(np.where(status == 0, 0, months), dtype="Int64")
    graft_months[status == 0] = pd.NA
    new_enrollee = (rng.random(n) < 0.25).astype(np.int8)
    lti = ((rng.random(n) < 0.1) & (new_enrollee == 0)).astype(np.int8)
    ids = np.char.add("E", np.arange(n).astype(str)).astype(object)
    members = pd.DataFrame({"patient_id": ids, "age": age, "sex": sex, "dual_elgbl_cd": dual, "orec": orec,
                            "crec": crec, "lti": lti, "new_enrollee": new_enrollee, "graft_months": graft_months})
    return members, _medicare_codes(rng, ids, model)


SAMPLE_SIZE = 20_000
SAMPLE_SEED = 2024


def load_sample() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The bundled SYNTHETIC sample: ``synthetic_population(20_000, seed=2024)`` saved as CSV.

    Returns ``members`` (``patient_id, age, sex, segment, group, exposure, cost``) and ``diagnoses``.
    """
    members = read_table(data_path("sample_members.csv"), "bundled sample members", PopulationError,
                         dtype={"patient_id": str, "sex": str, "segment": str, "group": str})
    diagnoses = read_table(data_path("sample_diagnoses.csv"), "bundled sample diagnoses", PopulationError, dtype=str)
    return members, diagnoses


def synthetic_part_d(n: int, model: RiskModel, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Draw ``n`` SYNTHETIC Part D enrollees and ICD-10 codes for an RxHCC model (every segment at a few thousand).

    Ages, sexes and diagnoses are :func:`synthetic_medicare`'s for the same ``n``, ``model`` and
    ``seed``; the Part D fields are drawn on their own stream
    (``_kit.random.generator(seed, "synthetic_part_d")``) at shares chosen so that all 17 RxHCC
    segments (:data:`riskadjust.cms_rx.SEGMENTS`) have members at a few thousand members, not at
    realistic shares: low income 40%, long-term institutional 30%, new enrollee 30%; OREC 1 for 35%
    of the aged and 80% of the under-65s, OREC 2/3 for about 10%, CREC 2/3 for 20% (ESRD).

    Returns ``members`` (``patient_id, age, sex, low_income, lti, new_enrollee, orec, crec``) and
    ``diagnoses`` (``patient_id, code``), for :func:`riskadjust.cms_rx.cms_rx_population`.
    """
    base, diagnoses = synthetic_medicare(n, model, seed)
    rng = generator(seed, "synthetic_part_d")
    aged = base["age"].to_numpy() >= 65
    orec = np.where(aged, np.asarray(["0", "1", "2"], dtype=object)[rng.choice(3, n, p=[0.55, 0.35, 0.10])],
                    np.asarray(["0", "1", "3", "2"], dtype=object)[rng.choice(4, n, p=[0.1, 0.8, 0.05, 0.05])])
    crec = np.asarray(["", "0", "1", "2", "3"], dtype=object)[rng.choice(5, n, p=[0.5, 0.2, 0.1, 0.1, 0.1])]
    members = pd.DataFrame({"patient_id": base["patient_id"], "age": base["age"], "sex": base["sex"],
                            "low_income": (rng.random(n) < 0.4).astype(np.int8),
                            "lti": (rng.random(n) < 0.3).astype(np.int8),
                            "new_enrollee": (rng.random(n) < 0.3).astype(np.int8), "orec": orec, "crec": crec})
    return members, diagnoses
