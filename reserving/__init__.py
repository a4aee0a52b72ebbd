"""IBNR reserving for risk-bearing health budgets: triangles, chain-ladder, Mack, bootstrap.

The top level holds the methods (functions over triangles, no files, no DuckDB). The nightly
application (claim lines in DuckDB, run history, outputs, report) is :mod:`reserving.nightly`::

    from reserving.nightly import ClaimColumns, read_claims, run_nightly_job
"""

from reserving.bootstrap import BootstrapResult, bootstrap_odp
from reserving.chain_ladder import ChainLadder, chain_ladder
from reserving.errors import ReservingError, TriangleError
from reserving.mack import Mack, mack
from reserving.tail import TailConstant, TailCurve
from reserving.triangle import Triangle, TriangleSet
from reserving.bornhuetter_ferguson import bornhuetter_ferguson
from reserving.benktander import benktander
from reserving.cape_cod import cape_cod
from reserving.expected_loss_ratio import expected_loss_ratio
from reserving._exposure import ExposureResult
from reserving.merz_wuthrich import MerzWuthrich, merz_wuthrich
from reserving.munich_chain_ladder import MunichChainLadder, munich_chain_ladder
from reserving.seasonality import SeasonalChainLadder, seasonal_chain_ladder
from reserving.clark import Clark, clark_cape_cod, clark_ldf
from reserving.mack_tests import calendar_year_test, development_correlation_test
from reserving.selections import Selections
from reserving.residuals import Residuals, residuals

__all__ = [
    "Triangle",
    "TriangleSet",
    "ReservingError",
    "TriangleError",
    "chain_ladder",
    "ChainLadder",
    "mack",
    "Mack",
    "TailConstant",
    "TailCurve",
    "bootstrap_odp",
    "BootstrapResult",
    "bornhuetter_ferguson",
    "benktander",
    "cape_cod",
    "expected_loss_ratio",
    "ExposureResult",
    "merz_wuthrich",
    "MerzWuthrich",
    "munich_chain_ladder",
    "MunichChainLadder",
    "seasonal_chain_ladder",
    "SeasonalChainLadder",
    "clark_ldf",
    "clark_cape_cod",
    "Clark",
    "calendar_year_test",
    "development_correlation_test",
    "Selections",
    "residuals",
    "Residuals",
]
