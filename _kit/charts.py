"""Charts as inline SVG for the report kit: line chart with bands, bar chart, heat map with its scale, scatter chart.

Every chart has a title, axes labelled with their units, tick values on both axes, and a legend
when it shows more than one thing. Values are given already computed; a chart only draws them.
Tick labels and tooltips use the formatting functions of :mod:`_kit.report` (pass e.g.
``lambda v: money_short(v, "$")`` as ``y_format`` for dollar amounts). Every text is escaped.

A chart is a :class:`~_kit.report.Markup` string ``<svg class="chart CSS_CLASS" ...>`` to put in a
page; its width and height are set, and it shrinks to fit a narrow window.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from _kit.report import Markup, escape, number

#: Series colours: Okabe & Ito's palette (distinguishable with colour-blindness), then brown and olive.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#7F7F7F", "#000000", "#8C564B",
           "#999933")
#: The sequential scale of heat maps, light to dark.
SCALE = ("#f7fbff", "#c6dbef", "#6baed6", "#2171b5", "#08306b")
_NEGATIVE = "#e8a07e"
_FONT = 'font-family="system-ui,Segoe UI,Roboto,Arial,sans-serif"'


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5 or 5 times a power of ten apart) from at or below ``lo`` to at or above ``hi``.

    Examples
    --------
    >>> nice_ticks(0, 1_730_000)
    [0.0, 500000.0, 1000000.0, 1500000.0, 2000000.0]
    >>> nice_ticks(0.62, 1.04)
    [0.6, 0.8, 1.0, 1.2]
    """
    lo, hi = float(lo), float(hi)
    if not hi > lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / max(count - 1, 1)
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * magnitude >= raw * (1 - 1e-9))
    first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
    return [round(k * step, 12) + 0.0 for k in range(first, last + 1)]


def log_ticks(lo: float, hi: float) -> list[float]:
    """Tick values for a logarithmic axis from ``lo`` to ``hi``: 1, 2 and 5 times powers of ten.

    Examples
    --------
    >>> log_ticks(5_000, 1_000_000)
    [5000.0, 10000.0, 20000.0, 50000.0, 100000.0, 200000.0, 500000.0, 1000000.0]
    """
    ticks = []
    for power in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        ticks += [m * 10.0**power for m in (1, 2, 5)]
    inside = [t for t in ticks if lo * (1 - 1e-9) <= t <= hi * (1 + 1e-9)]
    return inside if len(inside) <= 10 else [t for t in inside if math.log10(t) % 1 == 0]


class _Plot:
    """A plotting area inside a chart: margins, the mapping of values to pixels, axes and legend."""

    def __init__(self, width: int, height: int, x_range, y_range, *, log_x: bool = False, legend: bool = False,
                 bottom: int = 56):
        self.width, self.height = width, height
        self.left, self.right, self.top, self.bottom = 84, (190 if legend else 24), 44, bottom
        self.x0, self.x1 = x_range
        self.y0, self.y1 = y_range
        self.log_x = log_x

    @property
    def plot_right(self) -> float:
        return self.width - self.right

    @property
    def plot_bottom(self) -> float:
        return self.height - self.bottom

    def x(self, v: float) -> float:
        a, b, v = self.x0, self.x1, float(v)
        if self.log_x:
            a, b, v = math.log10(a), math.log10(b), math.log10(v)
        return self.left + (v - a) / ((b - a) or 1.0) * (self.plot_right - self.left)

    def y(self, v: float) -> float:
        v = min(max(float(v), self.y0), self.y1)
        return self.plot_bottom - (v - self.y0) / ((self.y1 - self.y0) or 1.0) * (self.plot_bottom - self.top)

    def frame(self, title: str, x_label: str, y_label: str, x_ticks, y_ticks, rotate_x: bool = False) -> list[str]:
        """Title, gridlines with y tick values, x tick values, the axis labels and the plot border."""
        out = [f'<text x="8" y="20" font-size="14" font-weight="600">{escape(title)}</text>']
        for value, label in y_ticks:
            yy = self.y(value)
            out.append(f'<line x1="{self.left}" x2="{self.plot_right}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#e3e6ea"/>'
                       f'<text x="{self.left - 6}" y="{yy + 4:.1f}" font-size="11" text-anchor="end">'
                       f"{escape(label)}</text>")
        for position, label in x_ticks:
            base = self.plot_bottom
            out.append(f'<line x1="{position:.1f}" x2="{position:.1f}" y1="{base}" y2="{base + 4}" stroke="#556"/>')
            if rotate_x:
                out.append(f'<text x="{position:.1f}" y="{base + 14}" font-size="11" text-anchor="end" '
                           f'transform="rotate(-40 {position:.1f} {base + 14})">{escape(label)}</text>')
            else:
                out.append(f'<text x="{position:.1f}" y="{base + 17}" font-size="11" text-anchor="middle">'
                           f"{escape(label)}</text>")
        mid_x, mid_y = (self.left + self.plot_right) / 2, (self.top + self.plot_bottom) / 2
        out.append(f'<line x1="{self.left}" x2="{self.plot_right}" y1="{self.plot_bottom}" y2="{self.plot_bottom}" '
                   f'stroke="#556"/><line x1="{self.left}" x2="{self.left}" y1="{self.top}" y2="{self.plot_bottom}" '
                   f'stroke="#556"/>')
        out.append(f'<text x="{mid_x:.1f}" y="{self.height - 8}" font-size="12" text-anchor="middle">'
                   f"{escape(x_label)}</text>")
        out.append(f'<text x="16" y="{mid_y:.1f}" font-size="12" text-anchor="middle" '
                   f'transform="rotate(-90 16 {mid_y:.1f})">{escape(y_label)}</text>')
        return out

    def legend(self, entries: Sequence[tuple[str, str, str]]) -> list[str]:
        """Entries ``(label, colour, kind)`` at the right; kind is line, dash, box, mark or dot.

        Long labels are wrapped onto several lines.
        """
        out = []
        x = self.plot_right + 14
        y = self.top + 8
        for label, colour, kind in entries:
            if kind == "box":
                out.append(f'<rect x="{x}" y="{y - 6}" width="18" height="11" fill="{colour}"/>')
            elif kind == "mark":
                out.append(f'<line x1="{x}" x2="{x + 18}" y1="{y}" y2="{y}" stroke="{colour}" stroke-width="3"/>')
            elif kind == "dot":
                out.append(f'<circle cx="{x + 9}" cy="{y}" r="3" fill="{colour}"/>')
            else:
                dash = ' stroke-dasharray="5 3"' if kind == "dash" else ""
                out.append(f'<line x1="{x}" x2="{x + 18}" y1="{y}" y2="{y}" stroke="{colour}" '
                           f'stroke-width="2"{dash}/>')
            lines = _wrap(str(label), (self.right - 44) // 6)
            spans = "".join(f'<tspan x="{x + 24}" dy="{0 if k == 0 else 13}">{escape(line)}</tspan>'
                            for k, line in enumerate(lines))
            out.append(f'<text x="{x + 24}" y="{y + 4}" font-size="11">{spans}</text>')
            y += 13 * len(lines) + 6
        return out


def _wrap(label: str, width: int) -> list[str]:
    """``label`` cut at spaces into lines of at most ``width`` characters (a longer word stays whole)."""
    lines = [""]
    for word in label.split(" "):
        if lines[-1] and len(lines[-1]) + 1 + len(word) > width:
            lines.append(word)
        else:
            lines[-1] = f"{lines[-1]} {word}" if lines[-1] else word
    return lines


def _svg(width: int, height: int, title: str, parts: Sequence[str], css_class: str) -> Markup:
    return Markup(f'<svg class="chart {escape(css_class)}" role="img" aria-label="{escape(title)}" width="{width}" '
                  f'height="{height}" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" {_FONT} '
                  f'fill="#1d2733"><title>{escape(title)}</title>{"".join(parts)}</svg>')


def _is_categorical(x) -> bool:
    return any(isinstance(v, str) for v in x)


def _thin(n: int, at_most: int) -> list[int]:
    step = max(1, math.ceil(n / at_most))
    return list(range(0, n, step))


def _value_range(arrays, extra=()) -> tuple[float, float]:
    values = np.concatenate([np.asarray(a, dtype=float).ravel() for a in arrays] + [np.asarray(extra, dtype=float)])
    values = values[np.isfinite(values)]
    if not values.size:
        return 0.0, 1.0
    lo, hi = min(0.0, float(values.min())), max(0.0, float(values.max()))
    if -lo < 0.01 * hi:  # a negative too small to see is drawn at zero, not given a gridline of its own
        lo = 0.0
    return lo, hi


def _segments(xs, ys) -> list[list[tuple[float, float]]]:
    """Runs of finite points (a gap where a value is missing)."""
    runs, run = [], []
    for a, b in zip(xs, ys):
        if np.isfinite(b):
            run.append((a, b))
        elif run:
            runs.append(run)
            run = []
    return runs + ([run] if run else [])


def line_chart(x, series: Mapping[str, Sequence[float]], *, title: str, x_label: str, y_label: str,
               x_format: Callable = number, y_format: Callable = number,
               bands: Sequence[tuple[str, Sequence[float], Sequence[float]]] = (),
               vlines: Sequence[tuple[float, str]] = (), hlines: Sequence[tuple[float, str]] = (),
               log_x: bool = False, y_max: float | None = None, width: int = 640, height: int = 320,
               css_class: str = "line-chart") -> Markup:
    """Lines (one per series) over ``x``, with shaded bands and marked values.

    Parameters
    ----------
    x : sequence
        Numbers, or labels (e.g. months), which are then evenly spaced.
    series : mapping
        Series name to its values at ``x`` (a missing value leaves a gap).
    title, x_label, y_label : str
        The chart title and the axis labels with their units (e.g. ``"IBNR (£)"``).
    x_format, y_format : callable
        Tick values (and tooltips) as text, e.g. :func:`~_kit.report.money_short`.
    bands : sequence of (label, lower, upper)
        Shaded ranges (e.g. 75th to 95th percentile), drawn under the lines.
    vlines, hlines : sequence of (value, label)
        Dashed vertical or horizontal lines marking a value (an attachment, a threshold).
    log_x : bool
        A logarithmic x axis (numbers only).
    y_max : float, optional
        Top of the y axis (default: the largest value shown).
    width, height : int
        Size in pixels.
    css_class : str
        Class of the ``<svg>`` beside ``chart``.

    Examples
    --------
    >>> svg = line_chart([1, 2, 3], {"IBNR": [10, 20, 15]}, title="IBNR", x_label="month", y_label="£",
    ...                  bands=[("75th to 95th percentile", [12, 24, 18], [15, 30, 22])])
    >>> svg.startswith('<svg class="chart line-chart"'), svg.count("<polyline"), "75th to 95th percentile" in svg
    (True, 1, True)
    """
    x = list(x)
    categorical = _is_categorical(x)
    xs = np.arange(len(x), dtype=float) if categorical else np.asarray(x, dtype=float)
    lo, hi = _value_range([*series.values(), *[b[1] for b in bands], *[b[2] for b in bands]],
                          [v for v, _ in hlines])
    y_ticks = nice_ticks(lo, hi if y_max is None else y_max)
    n_entries = len(series) + len(bands) + len(vlines) + len(hlines)
    x_range = (float(np.nanmin(xs)), float(np.nanmax(xs))) if len(xs) else (0.0, 1.0)
    if x_range[0] == x_range[1]:
        x_range = (x_range[0] - 0.5, x_range[1] + 0.5) if not log_x else (x_range[0] / 2, x_range[1] * 2)
    plot = _Plot(width, height, x_range, (y_ticks[0], y_ticks[-1]), log_x=log_x, legend=n_entries > 1)
    if categorical:
        x_ticks = [(plot.x(i), str(x[i])) for i in _thin(len(x), (plot.plot_right - plot.left) // 60)]
    else:
        values = log_ticks(*x_range) if log_x else [t for t in nice_ticks(*x_range, count=6)
                                                      if x_range[0] <= t <= x_range[1]]
        x_ticks = [(plot.x(t), x_format(t)) for t in values]
    parts = plot.frame(title, x_label, y_label, x_ticks, [(t, y_format(t)) for t in y_ticks])
    legend = []
    for k, (label, lower, upper) in enumerate(bands):
        lower, upper = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
        base = PALETTE[(k + len(series)) % len(PALETTE)] if len(series) != 1 else PALETTE[0]
        colour = _tint(base, 0.4 if len(series) != 1 else max(0.45 - 0.2 * k, 0.15))
        both = np.where(np.isfinite(lower), upper, np.nan)
        for run in _segments(range(len(xs)), both):
            idx = [i for i, _ in run]
            top = " ".join(f"{plot.x(xs[i]):.1f},{plot.y(upper[i]):.1f}" for i in idx)
            bottom = " ".join(f"{plot.x(xs[i]):.1f},{plot.y(lower[i]):.1f}" for i in reversed(idx))
            parts.append(f'<polygon points="{top} {bottom}" fill="{colour}" stroke="none"/>')
        legend.append((label, colour, "box"))
    for k, (label, ys) in enumerate(series.items()):
        colour = PALETTE[k % len(PALETTE)]
        ys = np.asarray(ys, dtype=float)
        for run in _segments(xs, ys):
            points = " ".join(f"{plot.x(a):.1f},{plot.y(b):.1f}" for a, b in run)
            parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>')
        if len(xs) <= 24:
            for i, (a, b) in enumerate(zip(xs, ys)):
                if np.isfinite(b):
                    shown = x[i] if categorical else x_format(a)
                    parts.append(f'<circle cx="{plot.x(a):.1f}" cy="{plot.y(b):.1f}" r="2.5" fill="{colour}">'
                                 f"<title>{escape(label)}, {escape(shown)}: {escape(y_format(b))}</title></circle>")
        legend.append((label, colour, "line"))
    for value, label in vlines:
        xx = plot.x(value)
        parts.append(f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="{plot.top}" y2="{plot.plot_bottom}" stroke="#c0392b" '
                     f'stroke-width="1.5" stroke-dasharray="5 3"><title>{escape(label)}</title></line>')
        legend.append((label, "#c0392b", "dash"))
    for value, label in hlines:
        yy = plot.y(value)
        parts.append(f'<line x1="{plot.left}" x2="{plot.plot_right}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#1d2733" '
                     f'stroke-width="1.2" stroke-dasharray="5 3"><title>{escape(label)}</title></line>')
        legend.append((label, "#1d2733", "dash"))
    if n_entries > 1:
        parts += plot.legend(legend)
    return _svg(width, height, title, parts, css_class)


def bar_chart(categories: Sequence, series: Mapping[str, Sequence[float]], *, title: str, x_label: str,
              y_label: str, y_format: Callable = number, colours: Sequence[str] | None = None,
              colour_key: Sequence[tuple[str, str]] = (),
              ranges: tuple[str, Sequence[float], Sequence[float]] | None = None,
              marks: tuple[str, Sequence[float]] | None = None, hlines: Sequence[tuple[float, str]] = (),
              width: int | None = None, height: int = 320, css_class: str = "bar-chart") -> Markup:
    """Vertical bars per category, side by side when there are several series.

    Parameters
    ----------
    categories : sequence
        The bar labels (groups, consortia).
    series : mapping
        Series name to one value per category.
    title, x_label, y_label : str
        The chart title and the axis labels with their units.
    y_format : callable
        Tick values and tooltips as text.
    colours, colour_key : optional
        One colour per category (one series only), e.g. by status, and the legend entries
        ``(label, colour)`` that explain them.
    ranges : (label, lower, upper), optional
        A range per category drawn as a whisker (e.g. to the 95th percentile).
    marks : (label, values), optional
        A value per category drawn as a thick black mark across its bars (e.g. the budget).
    hlines : sequence of (value, label)
        Dashed horizontal reference lines (e.g. a ratio of 1).
    width, height : int
        Size in pixels (default width grows with the number of bars).
    css_class : str
        Class of the ``<svg>`` beside ``chart``.

    Examples
    --------
    >>> svg = bar_chart(["A", "B"], {"age-sex": [0.8, 1.1], "with diagnoses": [0.95, 1.0]}, title="Ratio",
    ...                 x_label="group", y_label="predictive ratio", hlines=[(1.0, "fully funded")])
    >>> svg.count("<rect") >= 4, "with diagnoses" in svg, "fully funded" in svg
    (True, True, True)
    """
    labels = [str(c) for c in categories]
    n, n_series = len(labels), max(len(series), 1)
    extra = [v for v, _ in hlines] + ([] if marks is None else list(marks[1]))
    lo, hi = _value_range([*series.values(), *([] if ranges is None else [ranges[2]])], extra)
    y_ticks = nice_ticks(lo, hi)
    rotate = n > 8 or max((len(s) for s in labels), default=0) > 10
    bottom = 56 + (min(max((len(s) for s in labels), default=0), 18) * 5 if rotate else 0)
    entries = ([] if colours is not None and n_series == 1 else
               [(name, PALETTE[k % len(PALETTE)], "box") for k, name in enumerate(series)])
    entries += [(label, colour, "box") for label, colour in colour_key]
    entries += [] if ranges is None else [(ranges[0], "#1d2733", "line")]
    entries += [] if marks is None else [(marks[0], "#000000", "mark")]
    entries += [(label, "#c0392b", "dash") for _, label in hlines]
    legend = len(entries) > 1
    width = width or int(min(1100, max(640, 84 + (190 if legend else 24) + n * max(26, 16 * n_series + 10))))
    plot = _Plot(width, height, (0.0, float(max(n, 1))), (y_ticks[0], y_ticks[-1]), legend=legend, bottom=bottom)
    slot = (plot.plot_right - plot.left) / max(n, 1)
    bar = slot * 0.75 / n_series
    x_ticks = [(plot.left + (i + 0.5) * slot, labels[i]) for i in range(n)]
    parts = plot.frame(title, x_label, y_label, x_ticks, [(t, y_format(t)) for t in y_ticks], rotate_x=rotate)
    zero = plot.y(max(y_ticks[0], 0.0))
    for k, (name, values) in enumerate(series.items()):
        for i, v in enumerate(np.asarray(values, dtype=float)):
            if not np.isfinite(v):
                continue
            colour = colours[i] if colours is not None and n_series == 1 else PALETTE[k % len(PALETTE)]
            x0 = plot.left + i * slot + slot * 0.125 + k * bar
            top, bottom_y = sorted((plot.y(v), zero))
            parts.append(f'<rect x="{x0:.1f}" y="{top:.1f}" width="{bar * 0.92:.1f}" height="{bottom_y - top:.1f}" '
                         f'fill="{colour}"><title>{escape(labels[i])}, {escape(name)}: {escape(y_format(v))}'
                         f"</title></rect>")
    if ranges is not None:
        label, lower, upper = ranges
        for i, (a, b) in enumerate(zip(lower, upper)):
            if np.isfinite(a) and np.isfinite(b):
                cx = plot.left + (i + 0.5) * slot
                parts.append(f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{plot.y(a):.1f}" y2="{plot.y(b):.1f}" '
                             f'stroke="#1d2733" stroke-width="1.5"/><line x1="{cx - 4:.1f}" x2="{cx + 4:.1f}" '
                             f'y1="{plot.y(b):.1f}" y2="{plot.y(b):.1f}" stroke="#1d2733" stroke-width="1.5">'
                             f"<title>{escape(labels[i])}, {escape(label)}: {escape(y_format(b))}</title></line>")
    if marks is not None:
        label, values = marks
        for i, v in enumerate(values):
            if np.isfinite(v):
                x0 = plot.left + i * slot + slot * 0.06
                parts.append(f'<line x1="{x0:.1f}" x2="{x0 + slot * 0.88:.1f}" y1="{plot.y(v):.1f}" '
                             f'y2="{plot.y(v):.1f}" stroke="#000" stroke-width="3"><title>{escape(labels[i])}, '
                             f"{escape(label)}: {escape(y_format(v))}</title></line>")
    for value, label in hlines:
        yy = plot.y(value)
        parts.append(f'<line x1="{plot.left}" x2="{plot.plot_right}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#c0392b" '
                     f'stroke-width="1.5" stroke-dasharray="5 3"/>')
    if legend:
        parts += plot.legend(entries)
    return _svg(width, height, title, parts, css_class)


def _tint(colour: str, strength: float) -> str:
    """``colour`` mixed with white: ``strength`` 1 is the colour itself, 0 is white."""
    rgb = [round(255 - strength * (255 - int(colour[i:i + 2], 16))) for i in (1, 3, 5)]
    return "#" + "".join(f"{c:02x}" for c in rgb)


def _shade(f: float) -> str:
    """The colour at ``f`` in [0, 1] along :data:`SCALE`."""
    f = min(max(f, 0.0), 1.0) * (len(SCALE) - 1)
    k = min(int(f), len(SCALE) - 2)
    a, b = SCALE[k], SCALE[k + 1]
    rgb = [round(int(a[i:i + 2], 16) + (f - k) * (int(b[i:i + 2], 16) - int(a[i:i + 2], 16))) for i in (1, 3, 5)]
    return "#" + "".join(f"{c:02x}" for c in rgb)


def heat_map(values, row_labels: Sequence, col_labels: Sequence, *, title: str, x_label: str, y_label: str,
             value_format: Callable = number, log: bool = False, blank: str = "blank: no value",
             css_class: str = "heat-map") -> Markup:
    """A matrix of values as shaded cells with a colour scale that gives the values of the shades.

    Parameters
    ----------
    values : 2-D array
        Rows by columns; a missing value leaves its cell blank, a negative one is drawn in orange.
    row_labels, col_labels : sequence
        Labels of the rows (down the left) and columns (along the bottom), thinned to fit.
    title, x_label, y_label : str
        The chart title and the axis labels with their units.
    value_format : callable
        Values on the scale and in the tooltips as text.
    log : bool
        Shade on a logarithmic scale (for values spanning several orders of magnitude).
    blank : str
        What a blank cell means, for the legend.
    css_class : str
        Class of the ``<svg>`` beside ``chart``.

    Examples
    --------
    >>> svg = heat_map([[1.0, 2.0], [3.0, float("nan")]], ["Jan", "Feb"], [0, 1], title="Paid",
    ...                x_label="lag (months)", y_label="incurred month", log=True)
    >>> svg.count("<rect") > 3, "colour scale" in svg, "blank: no value" in svg
    (True, True, True)
    """
    m = np.asarray(values, dtype=float)
    row_labels, col_labels = list(row_labels), list(col_labels)
    n_rows, n_cols = m.shape
    cell = int(min(22, max(6, 360 // max(n_cols, 1))))
    cell_h = int(min(22, max(6, 440 // max(n_rows, 1))))
    left, top = 84, 44
    width = left + n_cols * cell + 190
    height = top + n_rows * cell_h + 56
    positive = m[np.isfinite(m) & (m > 0)]
    hi = float(positive.max()) if positive.size else 1.0
    if log:
        ticks = [0.0] + [10.0**k for k in range(0, math.floor(math.log10(hi)) + 1)]
        ticks = ticks[:1] + ticks[1:][-4:]
        to_unit = lambda v: math.log1p(max(v, 0.0)) / math.log1p(hi)  # noqa: E731
    else:
        ticks = [t for t in nice_ticks(0.0, hi) if t <= hi]
        to_unit = lambda v: max(v, 0.0) / hi  # noqa: E731
    parts = [f'<text x="8" y="20" font-size="14" font-weight="600">{escape(title)}</text>']
    for i in range(n_rows):
        for j in range(n_cols):
            v = m[i, j]
            if np.isfinite(v):
                colour = _NEGATIVE if v < 0 else _shade(to_unit(v))
                parts.append(f'<rect x="{left + j * cell}" y="{top + i * cell_h}" width="{cell}" height="{cell_h}" '
                             f'fill="{colour}"><title>{escape(row_labels[i])}, {escape(col_labels[j])}: '
                             f"{escape(value_format(v))}</title></rect>")
    plot_bottom = top + n_rows * cell_h
    parts.append(f'<rect x="{left}" y="{top}" width="{n_cols * cell}" height="{n_rows * cell_h}" fill="none" '
                 f'stroke="#556"/>')
    for i in _thin(n_rows, max(1, n_rows * cell_h // 13)):
        parts.append(f'<text x="{left - 5}" y="{top + i * cell_h + cell_h / 2 + 4:.1f}" font-size="11" '
                     f'text-anchor="end">{escape(row_labels[i])}</text>')
    for j in _thin(n_cols, max(1, n_cols * cell // 28)):
        parts.append(f'<text x="{left + j * cell + cell / 2:.1f}" y="{plot_bottom + 15}" font-size="11" '
                     f'text-anchor="middle">{escape(col_labels[j])}</text>')
    mid_y = (top + plot_bottom) / 2
    parts.append(f'<text x="{left + n_cols * cell / 2:.1f}" y="{height - 10}" font-size="12" text-anchor="middle">'
                 f'{escape(x_label)}</text><text x="16" y="{mid_y:.1f}" font-size="12" text-anchor="middle" '
                 f'transform="rotate(-90 16 {mid_y:.1f})">{escape(y_label)}</text>')
    parts += _colour_scale(left + n_cols * cell + 24, top, ticks, to_unit, value_format, log, blank,
                           bool((m[np.isfinite(m)] < 0).any()))
    return _svg(width, height, title, parts, css_class)


def _colour_scale(x: float, top: float, ticks, to_unit, value_format, log: bool, blank: str,
                  negative: bool) -> list[str]:
    """The legend of a heat map: a bar of the shades with the values they stand for."""
    steps, bar_h = 40, 150
    out = [f'<text x="{x}" y="{top - 6}" font-size="11" font-weight="600">colour scale'
           f'{" (log)" if log else ""}</text>']
    for k in range(steps):
        out.append(f'<rect x="{x}" y="{top + bar_h * (1 - (k + 1) / steps):.1f}" width="14" '
                   f'height="{bar_h / steps + 0.5:.1f}" fill="{_shade(k / (steps - 1))}"/>')
    out.append(f'<rect x="{x}" y="{top}" width="14" height="{bar_h}" fill="none" stroke="#556"/>')
    for t in ticks:
        yy = top + bar_h * (1 - to_unit(t))
        out.append(f'<line x1="{x + 14}" x2="{x + 18}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#556"/>'
                   f'<text x="{x + 21}" y="{yy + 4:.1f}" font-size="11">{escape(value_format(t))}</text>')
    y = top + bar_h + 22
    out.append(f'<rect x="{x}" y="{y - 9}" width="14" height="11" fill="none" stroke="#aab"/>'
               f'<text x="{x + 21}" y="{y}" font-size="11">{escape(blank)}</text>')
    if negative:
        out.append(f'<rect x="{x}" y="{y + 9}" width="14" height="11" fill="{_NEGATIVE}"/>'
                   f'<text x="{x + 21}" y="{y + 18}" font-size="11">negative</text>')
    return out


def scatter_chart(x, y, *, title: str, x_label: str, y_label: str, x_labels: Sequence | None = None,
                  x_format: Callable = number, y_format: Callable = number,
                  means: tuple[str, Sequence[float], Sequence[float]] | None = None, point_label: str = "value",
                  hlines: Sequence[tuple[float, str]] = (), width: int = 560, height: int = 300,
                  css_class: str = "scatter-chart") -> Markup:
    """One dot per point ``(x, y)``, with a line through a summary per ``x`` (e.g. the mean) and marked values.

    Parameters
    ----------
    x, y : sequence of float
        The points; missing values are left out. With ``x_labels``, ``x`` are positions 0, 1, ... into it.
    title, x_label, y_label : str
        The chart title and the axis labels with their units.
    x_labels : sequence, optional
        Labels of the positions (e.g. periods), thinned to fit along the axis.
    x_format, y_format : callable
        Tick values (and tooltips) as text, for numeric ``x`` and for ``y``.
    means : (label, xs, ys), optional
        A line with a marked value at each ``xs`` (positions too, with ``x_labels``).
    point_label : str
        What a dot is, for the legend.
    hlines : sequence of (value, label)
        Dashed horizontal lines marking a value (zero, a threshold).
    width, height : int
        Size in pixels.
    css_class : str
        Class of the ``<svg>`` beside ``chart``.

    Notes
    -----
    The dots are one path of zero-length strokes with round caps at whole pixels (points on the same pixel
    drawn once), so a chart of thousands of points stays a few kilobytes; the marked values carry the tooltips.

    Examples
    --------
    >>> svg = scatter_chart([0, 0, 1, 2], [0.5, -1.0, 0.2, 1.5], x_labels=["2021", "2022", "2023"],
    ...                     title="Residuals", x_label="origin year", y_label="residual",
    ...                     means=("mean per year", [0, 1, 2], [-0.25, 0.2, 1.5]), hlines=[(0.0, "zero")])
    >>> svg.count("h0"), svg.count("<circle"), "mean per year" in svg, "4 points" in svg  # 3 means, 1 in the legend
    (4, 4, True, True)
    """
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(xs) & np.isfinite(ys)
    xs, ys = xs[keep], ys[keep]
    mean_x = np.asarray([] if means is None else means[1], dtype=float)
    mean_y = np.asarray([] if means is None else means[2], dtype=float)
    lo, hi = _value_range([ys, mean_y], [v for v, _ in hlines])
    y_ticks = nice_ticks(lo, hi)
    if x_labels is not None:
        x_range = (-0.5, len(x_labels) - 0.5)
    else:
        both = np.concatenate([xs, mean_x])
        a, b = (float(both.min()), float(both.max())) if both.size else (0.0, 1.0)
        pad = 0.04 * (b - a) or 0.5
        x_range = (a - pad, b + pad)
    entries = [(point_label, PALETTE[0], "dot")] + ([] if means is None else [(means[0], PALETTE[3], "line")])
    entries += [(label, "#1d2733", "dash") for _, label in hlines]
    plot = _Plot(width, height, x_range, (y_ticks[0], y_ticks[-1]), legend=len(entries) > 1)
    if x_labels is not None:
        labels = [str(v) for v in x_labels]
        x_ticks = [(plot.x(i), labels[i]) for i in _thin(len(labels), max(1, int(plot.plot_right - plot.left) // 60))]
        name = lambda v: labels[int(round(v))]  # noqa: E731
    else:
        x_ticks = [(plot.x(t), x_format(t)) for t in nice_ticks(*x_range, count=6) if x_range[0] <= t <= x_range[1]]
        name = x_format
    parts = plot.frame(title, x_label, y_label, x_ticks, [(t, y_format(t)) for t in y_ticks])
    for value, label in hlines:
        yy = plot.y(value)
        parts.append(f'<line x1="{plot.left}" x2="{plot.plot_right}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#1d2733" '
                     f'stroke-width="1" stroke-dasharray="5 3"><title>{escape(label)}</title></line>')
    dots = "".join(dict.fromkeys(f"M{plot.x(a):.0f} {plot.y(b):.0f}h0" for a, b in zip(xs, ys)))  # whole pixels
    if dots:
        parts.append(f'<path d="{dots}" stroke="{PALETTE[0]}" stroke-opacity="0.55" stroke-width="5" '
                     f'stroke-linecap="round" fill="none"><title>{escape(point_label)}: {len(xs):,} points</title>'
                     "</path>")
    if means is not None:
        for run in _segments(mean_x, mean_y):
            points = " ".join(f"{plot.x(a):.1f},{plot.y(b):.1f}" for a, b in run)
            parts.append(f'<polyline points="{points}" fill="none" stroke="{PALETTE[3]}" stroke-width="1.5"/>')
        for a, b in zip(mean_x, mean_y):
            if np.isfinite(b):
                parts.append(f'<circle cx="{plot.x(a):.1f}" cy="{plot.y(b):.1f}" r="3" fill="{PALETTE[3]}">'
                             f"<title>{escape(means[0])}, {escape(name(a))}: {escape(y_format(b))}</title></circle>")
    if len(entries) > 1:
        parts += plot.legend(entries)
    return _svg(width, height, title, parts, css_class)
