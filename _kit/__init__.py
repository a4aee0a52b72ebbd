"""The shared kit: what the three packages need that is not actuarial, written once.

=================  ================================================================================
module             what it holds
=================  ================================================================================
``random``         the one random number generator (xoshiro256** streams for Numba kernels) and the
                   one seeding scheme (streams per segment, group, year), with its variates
``errors``         ``EngineError``, the base of every error the engine raises, and its location text
``validate``       checks of input tables and settings that raise ``EngineError`` naming file, line,
                   column or segment (never the value of an identifier column)
``tables``         reading CSV / Parquet tables with named errors
``parse``          strict parsing of dates and amounts (separators only when stated), as pandas and as
                   DuckDB SQL, so every reader agrees
``publish``        atomic writes (stage, then rename) and publishing a run's files as one set
``cli``            the command-line convention: exit 0 ok, 1 bad input or failure, 2 partial success
``progress``       the progress display, which says when Numba is compiling on a first run
``report``         the HTML report kit: page, finance formatting, escaping, settings, tables
``charts``         inline SVG charts for reports: line chart with bands, bar chart, heat map with scale
=================  ================================================================================

Arrows run one way: application -> methods -> this kit. Nothing here imports the packages.
"""
