"""The reserving application: the nightly job and what it owns (claim files, run history, outputs).

The methods it composes are at the top of :mod:`reserving` (no files, no DuckDB); this
subpackage reads claim lines in DuckDB, stores the run history, publishes the outputs and the
report, and runs ``python -m reserving nightly``.

=================  ==========================================================================
module             what it holds
=================  ==========================================================================
``job``            :func:`run_nightly_job`, the stages in order
``claims``         reading, validating and bucketing claim lines (:func:`read_claims`)
``isolation``      one segment's failure is reported and the others run
``selection``      the selected estimate: BF blend with a budget or PMPM prior, expected payments
``seasonal``       ``--seasonality``: completion by month of the year and payment days, in the job
``ranges``         bootstrap ranges of the selected estimate, a few consortia at a time
``outturn``        outturn against budget, probability of overspend, actual against expected
``tables``         the result tables (estimates, segments, consortia, national)
``history``        the run history in DuckDB and movements between runs
``outputs``        the files published by a run
``report``         the run's HTML report (renders only; drawn with the shared report kit)
``result``         :class:`NightlyResult`
``cli``            the ``nightly`` subcommand
``synthetic``      seeded synthetic claim lines with known truth (tests, demo, benchmarks)
=================  ==========================================================================
"""

from reserving.nightly.claims import ClaimColumns, Claims, ClaimsError, read_claims
from reserving.nightly.job import run_nightly_job
from reserving.nightly.result import NightlyResult

__all__ = ["run_nightly_job", "NightlyResult", "read_claims", "ClaimColumns", "Claims", "ClaimsError"]
