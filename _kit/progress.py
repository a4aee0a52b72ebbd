"""What a long run shows on stderr: stage messages, a progress bar, and a notice when Numba compiles.

A bar is redrawn in place on a terminal; in a log file (a nightly batch) each stage writes one
finished line. A step that takes long (a batch of several consortia bootstrapped in one call) fills
the bar as its work advances (:meth:`Progress.partial`, fed by e.g. ``bootstrap_odp(progress=...)``),
so the bar does not sit still and then jump. The first run after installing compiles the Numba kernels it uses (tens of
seconds, once; later runs load them from the on-disk cache): :func:`compile_notice` says so
before it happens, so a user does not take a silent minute for a hang.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType


def say(message: str, enabled: bool = True) -> None:
    """One line on stderr (a stage message), when ``enabled``."""
    if enabled:
        print(message, file=sys.stderr, flush=True)


class Progress:
    """A plain text progress bar on stderr: ``simulate [#####.....] 3/8``.

    Parameters
    ----------
    label : str
        What is being counted.
    total : int
        Steps to the end.
    enabled : bool
        False writes nothing.

    Examples
    --------
    >>> bar = Progress("simulate", 2, enabled=False)
    >>> bar.step(); bar.step(); bar.done
    2
    """

    def __init__(self, label: str, total: int, enabled: bool = True, width: int = 30):
        self.label, self.total, self.enabled, self.width = label, max(total, 1), enabled, width
        self.live = enabled and sys.stderr.isatty()
        self.done = 0
        self._line = None
        if self.live:
            self._draw()

    def step(self, n: int = 1) -> None:
        """Count ``n`` steps done; the line is finished at the last."""
        self.done += n
        finished = self.done >= self.total
        if self.live or (self.enabled and finished):
            self._draw()
        if finished and self.enabled:
            sys.stderr.write("\n")

    def partial(self, steps: float) -> None:
        """Show ``steps`` of work beyond :attr:`done` (part of a long step, e.g. a share of a batch of
        several) by filling the bar, on a terminal; the count moves only with :meth:`step`.

        Safe to call often and from worker threads: the line is redrawn only when the bar changes.

        Examples
        --------
        >>> bar = Progress("simulate", 6, enabled=False)
        >>> bar.partial(2.5); bar.step(6); bar.done
        6
        """
        if self.live:
            self._draw(self.done + steps)

    def _draw(self, shown: float | None = None) -> None:
        shown = self.done if shown is None else shown
        filled = int(self.width * min(max(shown, self.done), self.total) / self.total)
        line = f"\r{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total}"
        if line != self._line:
            self._line = line
            sys.stderr.write(line)
            sys.stderr.flush()


def _index_files(module: ModuleType) -> list[Path]:
    """Where Numba keeps the cache index of each cached kernel defined in ``module``."""
    paths = []
    for obj in vars(module).values():
        cache_file = getattr(getattr(obj, "_cache", None), "_cache_file", None)
        if getattr(obj, "__module__", None) == module.__name__ and cache_file is not None:
            paths.append(Path(cache_file._index_path))
    return paths


def needs_compile(*modules: ModuleType) -> bool:
    """True when a kernel module has nothing in Numba's on-disk cache yet (a first run).

    Numba keeps one index file per cached kernel (``<module>.<function>-<line>.py<ver>.nbi``) in
    ``__pycache__`` beside the source, or in a folder of its own below ``NUMBA_CACHE_DIR``; the
    kernel's dispatcher knows which.
    """
    return any(not any(p.exists() for p in _index_files(module)) for module in modules)


def compile_notice(what: str, seconds: int, *modules: ModuleType, enabled: bool = True) -> bool:
    """Say on stderr that ``what`` is being compiled, when ``modules`` are not cached yet.

    Returns whether a compile is expected.
    """
    first = needs_compile(*modules)
    if first:
        say(f"first run: compiling {what} with Numba (about {seconds} s on 2 cores, once; "
            "later runs load them from the cache)", enabled)
    return first
