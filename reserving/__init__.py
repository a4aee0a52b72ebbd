"""IBNR reserving for risk-bearing health budgets: triangles, chain-ladder, Mack, bootstrap."""

from reserving.bootstrap import BootstrapResult, bootstrap_odp
from reserving.chain_ladder import ChainLadder, chain_ladder
from reserving.errors import TriangleError
from reserving.mack import Mack, mack
from reserving.tail import TailConstant, TailCurve
from reserving.triangle import Triangle, TriangleSet
from reserving.bornhuetter_ferguson import bornhuetter_ferguson
from reserving.claims import ClaimColumns, read_claims
from reserving.nightly import run_nightly_job

__all__ = [
    "Triangle",
    "TriangleSet",
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
    "read_claims",
    "ClaimColumns",
    "run_nightly_job",
]
