"""The HTML report kit: one house style for every page the engine writes.

A report is one self-contained HTML file (inline CSS and SVG, a few lines of JavaScript to sort
tables; nothing is loaded from anywhere) that opens offline in any browser. This module holds:

- finance formatting: :func:`money` (currency symbol or code, thousands separators, never
  scientific notation), :func:`money_short` (``£1.2m``, for chart axes), :func:`number`,
  :func:`percent`, :func:`ratio` and :func:`text`; a missing value is shown as ``-`` and an
  infinite one as ``unlimited``;
- safe HTML: :class:`Markup` marks text that is already HTML, :func:`escape` escapes everything
  else, :func:`tag` builds an element whose text and attributes are escaped;
- the page: :func:`page` (title, house CSS, the sorting script), :func:`section`,
  :func:`settings` (the settings and thresholds, stated in words), :func:`details` (folded);
- tables: :class:`Column` and :func:`table` (numbers right-aligned, sortable by a click on a
  heading, an optional totals row), :func:`split_table` (key columns first, the detail columns
  folded below).

Charts are in :mod:`_kit.charts`. Reports render what their callers computed; they compute nothing.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

#: The currency of a money value unless the caller passes another.
CURRENCY = "£"
#: How a missing value is shown.
MISSING = "-"
#: How an infinite amount (no limit) is shown.
UNLIMITED = "unlimited"


class Markup(str):
    """Text that is already HTML (made by this kit): :func:`escape` leaves it as it is.

    Examples
    --------
    >>> escape(Markup("<b>1</b>")), escape("<b>1</b>")
    ('<b>1</b>', '&lt;b&gt;1&lt;/b&gt;')
    """

    __slots__ = ()


def escape(value) -> Markup:
    """``value`` as HTML text: special characters escaped, unless it is :class:`Markup` already.

    Examples
    --------
    >>> escape('<script>alert("$=1")</script>')
    '&lt;script&gt;alert(&quot;$=1&quot;)&lt;/script&gt;'
    """
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(str(value), quote=True))


def join(parts: Iterable) -> Markup:
    """The parts (text is escaped, :class:`Markup` kept, ``None`` left out) as one piece of HTML.

    Examples
    --------
    >>> join(["a < b", None, Markup("<br>")])
    'a &lt; b<br>'
    """
    return Markup("".join(escape(p) for p in parts if p is not None))


def tag(name: str, *children, **attrs) -> Markup:
    """An HTML element; children and attribute values are escaped (:class:`Markup` children are kept).

    An attribute ``class_`` is written ``class``, underscores in other names become hyphens
    (``data_v`` is ``data-v``); attributes that are ``None`` or ``False`` are left out, ``True`` is
    written bare. A child that is a list or tuple is expanded.

    Examples
    --------
    >>> tag("td", "G<1>", class_="n", data_v=1.5)
    '<td class="n" data-v="1.5">G&lt;1&gt;</td>'
    >>> tag("details", tag("summary", "More"), open=True)
    '<details open><summary>More</summary></details>'
    """
    text = []
    for key, value in attrs.items():
        if value is None or value is False:
            continue
        key = "class" if key == "class_" else key.rstrip("_").replace("_", "-")
        text.append(f" {key}" if value is True else f' {key}="{escape(value)}"')
    flat = []
    for child in children:
        flat.extend(child if isinstance(child, (list, tuple)) else [child])
    return Markup(f"<{name}{''.join(text)}>{join(flat)}</{name}>")


def _missing(value) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def _fixed(value: float, decimals: int) -> str:
    """``value`` in fixed notation with thousands separators; never ``-0``."""
    if round(value, decimals) == 0:
        value = 0.0
    return f"{value:,.{decimals}f}"


def _with_currency(body: str, negative: bool, currency: str) -> str:
    code = currency.isalpha() and len(currency) == 3  # an ISO code such as USD is set apart by a space
    return f"{'-' if negative else ''}{currency}{' ' if code else ''}{body}"


def money(value, currency: str = CURRENCY, decimals: int = 0) -> str:
    """An amount with its currency and thousands separators, in full digits (never ``1.5e+05``).

    Parameters
    ----------
    value : float or None
        The amount. ``None`` or NaN is shown as ``-``, infinity as ``unlimited``.
    currency : str
        A symbol written before the digits (``£``, ``$``, ``US$``) or a three-letter code
        written before them with a space (``USD``).
    decimals : int
        Digits after the decimal point (0 for whole pounds).

    Examples
    --------
    >>> money(1.5e5), money(-1234.4), money(2.5e12, "$")
    ('£150,000', '-£1,234', '$2,500,000,000,000')
    >>> money(85.129, "USD", decimals=2), money(float("inf")), money(None), money(float("nan"))
    ('USD 85.13', 'unlimited', '-', '-')
    """
    if _missing(value):
        return MISSING
    value = float(value)
    if math.isinf(value):
        return UNLIMITED if value > 0 else f"-{UNLIMITED}"
    body = _fixed(abs(value), decimals)
    return _with_currency(body, value < 0 and body.strip("0.,") != "", currency)


def money_short(value, currency: str = CURRENCY) -> str:
    """An amount in thousands (``k``), millions (``m``) or billions (``bn``), for chart axes.

    With ``currency=""`` it shortens a count (``100k`` patients).

    Examples
    --------
    >>> [money_short(v) for v in (0, 950, 25_000, 1_500_000, 2e9, -750_000)]
    ['£0', '£950', '£25k', '£1.5m', '£2bn', '-£750k']
    >>> money_short(1_250_000, "USD"), money_short(200_000, ""), money_short(float("inf")), money_short(None)
    ('USD 1.25m', '200k', 'unlimited', '-')
    """
    if _missing(value):
        return MISSING
    value = float(value)
    if math.isinf(value):
        return UNLIMITED if value > 0 else f"-{UNLIMITED}"
    size = abs(value)
    for scale, suffix in ((1e9, "bn"), (1e6, "m"), (1e3, "k")):
        if size >= scale:
            body = f"{size / scale:,.2f}".rstrip("0").rstrip(".") + suffix
            break
    else:
        body = _fixed(size, 0)
    return _with_currency(body, value < 0 and body != "0", currency)


def number(value, decimals: int = 0) -> str:
    """A count or quantity with thousands separators.

    Examples
    --------
    >>> number(179400), number(1234.567, 1), number(float("inf")), number(None)
    ('179,400', '1,234.6', 'unlimited', '-')
    """
    if _missing(value):
        return MISSING
    value = float(value)
    if math.isinf(value):
        return UNLIMITED if value > 0 else f"-{UNLIMITED}"
    return _fixed(value, decimals)


def percent(value, decimals: int = 0) -> str:
    """A fraction as a percentage (0.275 is ``27.5%`` with one decimal).

    Examples
    --------
    >>> percent(0.275, 1), percent(1.25), percent(-0.004, 1), percent(float("nan"))
    ('27.5%', '125%', '-0.4%', '-')
    """
    if _missing(value):
        return MISSING
    value = float(value)
    if math.isinf(value):
        return UNLIMITED if value > 0 else f"-{UNLIMITED}"
    return _fixed(100.0 * value, decimals) + "%"


def percent_tick(value) -> str:
    """A percentage for a chart axis: whole percents without decimals, others with one.

    Examples
    --------
    >>> percent_tick(0.05), percent_tick(0.025), percent_tick(1.0)
    ('5%', '2.5%', '100%')
    """
    if _missing(value) or math.isinf(float(value)):
        return percent(value)
    whole = abs(100 * float(value) - round(100 * float(value))) < 1e-9
    return percent(value, 0 if whole else 1)


def ratio(value, decimals: int = 2) -> str:
    """A ratio such as a predictive ratio or a factor (``0.93``).

    Examples
    --------
    >>> ratio(0.92678), ratio(1.0, 3), ratio(None)
    ('0.93', '1.000', '-')
    """
    return number(value, decimals)


def text(value) -> str:
    """A label or other text; a missing value is ``-``.

    Examples
    --------
    >>> text("north"), text(None), text(float("nan"))
    ('north', '-', '-')
    """
    return MISSING if _missing(value) else str(value)


@dataclass(frozen=True)
class Column:
    """One column of a :func:`table`: the frame's column, its heading and how its values are shown.

    A column whose ``format`` is not :func:`text` holds numbers: it is right-aligned and sorted by
    value. Money columns take their currency from the format.

    Examples
    --------
    >>> ibnr = Column("ibnr", "IBNR", lambda v: money(v, "$"))
    >>> ibnr.numeric, ibnr.format(2.5e6), Column("group", "Group").numeric
    (True, '$2,500,000', False)
    """

    key: str
    heading: str
    format: Callable[[object], str] = text

    @property
    def numeric(self) -> bool:
        return self.format is not text


def _sort_value(value) -> str:
    if _missing(value):
        return ""
    try:
        return repr(float(value))
    except (TypeError, ValueError):
        return ""


def _cell(column: Column, value, name: str = "td") -> Markup:
    shown = column.format(value)
    if column.numeric:
        return tag(name, shown, class_="n", data_v=_sort_value(value))
    return tag(name, shown)


def table(frame: pd.DataFrame, columns: Sequence[Column], *, totals: Mapping | None = None,
          row_class: Callable[[pd.Series], str | None] | None = None, caption: str | None = None,
          id: str | None = None) -> Markup:
    """A sortable table of ``frame``'s ``columns`` (click a heading to sort by it).

    Parameters
    ----------
    frame : DataFrame
        One row per table row.
    columns : sequence of Column
        The columns shown, in order: put the key columns first.
    totals : mapping, optional
        A totals row below the body (it does not move when the table is sorted): column key to
        value, shown with that column's format; the first column's entry is its label.
    row_class : callable, optional
        ``row -> CSS class`` (e.g. ``"row-bad"``, ``"row-warn"``, ``"row-good"``, ``"row-note"``).
    caption, id : str, optional
        A caption above the table and the table's HTML id.

    Examples
    --------
    >>> df = pd.DataFrame({"group": ["<b>"], "ibnr": [1.5e5]})
    >>> html_text = table(df, [Column("group", "Group"), Column("ibnr", "IBNR", money)])
    >>> html_text[html_text.index("<tbody>"):]
    '<tbody><tr><td>&lt;b&gt;</td><td class="n" data-v="150000.0">£150,000</td></tr></tbody></table>'
    """
    head = tag("tr", [tag("th", c.heading, class_="n" if c.numeric else None) for c in columns])
    rows = []
    for _, row in frame.iterrows():
        rows.append(tag("tr", [_cell(c, row[c.key]) for c in columns], class_=row_class(row) if row_class else None))
    parts = [tag("caption", caption) if caption else None, tag("thead", head), tag("tbody", rows)]
    if totals is not None:
        first, rest = columns[0], columns[1:]
        cells = [tag("th", totals.get(first.key, "Total"))]
        cells += [_cell(c, totals[c.key], "th") if c.key in totals else tag("th", "") for c in rest]
        parts.append(tag("tfoot", tag("tr", cells)))
    return tag("table", parts, class_="sortable", id=id)


def split_table(frame: pd.DataFrame, key: Sequence[Column], detail: Sequence[Column], *, label: Column,
                summary: str = "All columns", **options) -> Markup:
    """The ``key`` columns as a table, then the ``detail`` columns folded below in a second one.

    ``label`` (e.g. the group) starts both tables so that their rows can be matched; ``options``
    go to :func:`table` for the first table.

    Examples
    --------
    >>> df = pd.DataFrame({"group": ["A"], "members": [1200], "sd": [3.5e4]})
    >>> page_part = split_table(df, [Column("members", "Members", number)], [Column("sd", "SD", money)],
    ...                         label=Column("group", "Group"))
    >>> page_part.count("<table"), "<details>" in page_part, "£35,000" in page_part
    (2, True, True)
    """
    return join([table(frame, [label, *key], **options),
                 details(summary, table(frame, [label, *detail]))])


def section(title: str, *content, id: str | None = None, level: int = 2) -> Markup:
    """A section: a heading then the content.

    Examples
    --------
    >>> section("Outturn", tag("p", "All green."))
    '<section><h2>Outturn</h2><p>All green.</p></section>'
    """
    return tag("section", tag(f"h{level}", title), *content, id=id)


def details(summary: str, *content, open: bool = False) -> Markup:
    """Content folded under a one-line ``summary`` that the reader clicks to unfold.

    Examples
    --------
    >>> details("Detail columns", "...")
    '<details><summary>Detail columns</summary>...</details>'
    """
    return tag("details", tag("summary", summary), *content, open=open)


def paragraph(*parts, class_: str | None = None) -> Markup:
    """A paragraph of text and markup (``note`` for a highlighted note, ``muted`` for a quiet one).

    Examples
    --------
    >>> paragraph("Group ", tag("b", "G<1>"), " is short.")
    '<p>Group <b>G&lt;1&gt;</b> is short.</p>'
    """
    return tag("p", *parts, class_=class_)


def settings(items: Iterable[tuple[str, str]], title: str = "Settings and thresholds") -> Markup:
    """The settings and thresholds of a run, stated in words: ``(name, sentence)`` pairs.

    Examples
    --------
    >>> settings([("Flags", "red when overspend is more likely than not")])[-84:]
    '<dl><dt>Flags</dt><dd>red when overspend is more likely than not</dd></dl></section>'
    """
    pairs = []
    for name, sentence in items:
        pairs += [tag("dt", name), tag("dd", sentence)]
    return section(title, tag("dl", pairs), id="settings")


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:24px auto;padding:0 16px;
color:#1d2733;max-width:1200px;line-height:1.4}
h1{font-size:1.6em;margin:0 0 4px}h2{margin-top:1.8em;border-bottom:1px solid #ccd3dc;padding-bottom:4px}
h3{margin-bottom:4px}.subtitle{color:#556;margin-top:0}
table{border-collapse:collapse;font-size:13px;margin:8px 0 12px}caption{text-align:left;font-weight:600;padding:4px 0}
th,td{padding:3px 10px;border-bottom:1px solid #e3e6ea;text-align:left;vertical-align:top}
thead th{background:#f2f4f7;cursor:pointer;vertical-align:bottom;max-width:11em}thead th:hover{background:#e4e8ee}
tfoot th{border-top:2px solid #1d2733;background:#f8f9fb}
.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}th.n{white-space:normal}
.row-bad{background:#f8d7da}.row-warn{background:#fff3cd}.row-good{background:#e6f4ea}.row-note{background:#ebe4fa}
#settings dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:8px 0}
#settings dt{font-weight:600}#settings dd{margin:0}
.note{background:#fff8e1;padding:.6em;border-left:4px solid #f0b429}.muted{color:#667}
details{margin:8px 0}summary{font-weight:600;cursor:pointer}
.charts{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}svg.chart{max-width:100%;height:auto}
"""

_JS = """
(function(){
  function key(td){var v=td.getAttribute('data-v');if(v===null)return td.textContent.toLowerCase();
    return v===''?-Infinity:parseFloat(v);}
  document.querySelectorAll('table.sortable').forEach(function(t){
    t.tHead.querySelectorAll('th').forEach(function(th,i){
      th.title='Click to sort';
      th.addEventListener('click',function(){
        var body=t.tBodies[0],rows=Array.prototype.slice.call(body.rows),asc=th.getAttribute('data-asc')!=='1';
        rows.sort(function(a,b){var x=key(a.cells[i]),y=key(b.cells[i]);return (x>y?1:x<y?-1:0)*(asc?1:-1);});
        rows.forEach(function(r){body.appendChild(r);});th.setAttribute('data-asc',asc?'1':'0');
      });
    });
  });
  document.body.setAttribute('data-ready','1');
})();
"""


def page(title: str, *body, subtitle: str | None = None) -> str:
    """The whole HTML document: title, house CSS, ``body`` and the table-sorting script.

    Examples
    --------
    >>> doc = page("Stop-loss pricing", section("Groups", "none"))
    >>> doc.startswith("<!DOCTYPE html>"), "<h1>Stop-loss pricing</h1>" in doc, "http" in doc
    (True, True, False)
    """
    header = [tag("h1", title), paragraph(subtitle, class_="subtitle") if subtitle else None]
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{_CSS}</style></head>"
            f"<body>{join(header)}{join(body)}<script>{_JS}</script></body></html>")
