"""The command-line convention of ``python -m reserving | stoploss | riskadjust``.

Exit status, the same for every command and stated in every ``--help``:

- ``0`` the run succeeded and its outputs are published;
- ``1`` bad input, a bad option or a failed run: one line on stderr says what and where, and
  nothing is published (a usage error too, unlike argparse's default of 2);
- ``2`` partial success: some segments failed and are reported, the rest ran and are published.

A command is a function ``run(args) -> int`` set as the parser's ``func`` default; :func:`main`
parses, calls it, and turns an :class:`~_kit.errors.EngineError` or an unreadable file into a
message and status 1, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from _kit.errors import EngineError

OK = 0
FAILED = 1
PARTIAL = 2

EXIT_STATUS = """exit status:
  0  success: every output written
  1  bad input, bad option or failed run: the error names file, line, column or segment;
     nothing is published
  2  partial success: some segments failed (listed in the outputs); the rest ran and are published"""


class Parser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` that exits with status 1 on a usage error and shows the exit
    statuses and examples after the options in ``--help``."""

    def __init__(self, *args, examples: str = "", **kwargs):
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        epilog = (f"examples:\n{examples.rstrip()}\n\n" if examples else "") + EXIT_STATUS
        super().__init__(*args, epilog=epilog, **kwargs)

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(FAILED, f"{self.prog}: error: {message}\n")


def subcommand(subparsers, name: str, *, help: str, description: str = "", examples: str = "") -> Parser:
    """Add subcommand ``name`` (a :class:`Parser`) to ``subparsers`` of a :class:`Parser`."""
    return subparsers.add_parser(name, help=help, description=description or help, examples=examples)


def main(parser: argparse.ArgumentParser, argv=None) -> int:
    """Parse ``argv``, run ``args.func(args)`` and return its exit status; errors become status 1.

    Examples
    --------
    >>> p = Parser(prog="demo")
    >>> _ = p.set_defaults(func=lambda args: OK)
    >>> main(p, [])
    0
    """
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
    except FileNotFoundError as exc:
        print(f"error: {exc.filename or exc}: no such file", file=sys.stderr)
    except (PermissionError, IsADirectoryError, NotADirectoryError) as exc:
        print(f"error: {exc.filename}: {exc.strerror}", file=sys.stderr)
    except KeyboardInterrupt:
        print("interrupted: nothing published", file=sys.stderr)
    return FAILED
