"""The book's tables: every one numbered and captioned, and made to be read, not dumped.

``show(frame, caption)`` displays a DataFrame (or a pandas Styler) as one HTML table:

- numbered per page, "Table 1", "Table 2", … in the order a chapter shows them (the counter
  lives in the chapter's kernel and restarts in its first cell, :func:`restart`), with the
  caption above it in the markup Sphinx gives its own numbered tables and figures;
- the index folded into the header: pandas puts an index's name on a header row of its own
  (and a columns' name in the corner); here the index is a column like the others, its cells
  row headers;
- a missing value shown as "—", never ``nan``, ``None`` or ``<NA>``; a column of whole numbers
  (epochs, counts) without ".0"; other numbers as pandas prints them;
- inside a box that scrolls sideways when the table is wider than the text column, instead of
  wrapping every cell onto many lines (``_static/book.css``, ``.ssl-table``): short cells keep
  to one line, long text wraps at a readable width.

A caption says what the table shows and, where it holds measured values, the protocol, the
seeds and what the ± and the interval are. Chapters make every table through ``show`` (as
``chapter.table``), not as a Markdown table: Sphinx would number that one in a sequence of
its own.
"""
from __future__ import annotations

import html
import math
import re
from numbers import Number

import numpy as np
import pandas as pd

MISSING = "—"
LONG = 40  # a column holding a longer cell wraps at a readable width; shorter cells keep to one line

_shown = 0


def restart() -> None:
    """Number the next table 1 (a chapter's first cell calls this, through ``snapshot``)."""
    global _shown
    _shown = 0


def show(data, caption: str, *, index: bool | None = None, markup: bool = False) -> None:
    """Display ``data`` as the page's next numbered table with ``caption``. ``index``: whether
    the index is shown as the first column(s); by default unless it is pandas' own 0, 1, 2, …
    (or a Styler hid it). ``markup``: cells (and the caption) may hold inline TeX between $…$,
    `code` and **bold**, as in the chapters' Markdown (a table of prose, not of results)."""
    from IPython.display import display

    global _shown
    _shown += 1
    frame = framed(data, index)
    display({"text/html": to_html(frame, caption, _shown, markup), "text/plain": to_text(frame, caption, _shown)},
            raw=True)


def framed(data, index: bool | None = None) -> pd.DataFrame:
    """``data`` as a flat DataFrame of display strings: the shown index levels first (their
    names as headers), every cell formatted (:func:`formatted_column`). The index columns are
    remembered in ``.attrs['labels']``."""
    if hasattr(data, "data") and hasattr(data, "hide_index_"):  # a pandas Styler
        hidden = bool(data.hide_index_ and all(data.hide_index_))
        frame = data.data
        index = (not hidden) if index is None else index
    else:
        frame = pd.DataFrame(data) if not isinstance(data, pd.DataFrame) else data
    if index is None:
        index = not (isinstance(frame.index, pd.RangeIndex) and frame.index.name is None)
    frame = frame.copy()
    frame.columns = [_header(c) for c in frame.columns]
    labels = []
    if index:
        names = [n if n is not None else "" for n in frame.index.names]
        labels = [n or ("" if len(names) == 1 else f"level {i}") for i, n in enumerate(names)]
        frame = frame.reset_index(drop=False, names=[f"\0{i}" for i in range(len(names))])
        frame.columns = [*labels, *frame.columns[len(labels):]]
    out = pd.DataFrame({i: formatted_column(frame.iloc[:, i]) for i in range(frame.shape[1])})
    out.columns = list(frame.columns)
    out.attrs["labels"] = len(labels)
    out.attrs["numeric"] = [_numeric(frame.iloc[:, i]) for i in range(frame.shape[1])]
    return out


def _header(column) -> str:
    """A column's header; the levels of a MultiIndex column joined by a space."""
    if isinstance(column, tuple):
        return " ".join(str(c) for c in column if str(c) != "")
    return str(column)


def missing(value) -> bool:
    """Whether a cell holds no value (None, NaN, pd.NA, NaT, or such a value written as text)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, np.floating) and np.isnan(value):
        return True
    return isinstance(value, str) and value.strip() in ("nan", "NaN", "<NA>", "NaT")


def whole(value) -> str:
    """A number without ".0" when it is whole (15.0 → '15'); anything else as ``str``; a
    missing value as "—"."""
    if missing(value):
        return MISSING
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def formatted_column(column: pd.Series) -> list[str]:
    """The display strings of one column: whole numbers without ".0" when the whole column is
    whole, other float columns as pandas prints them (a common number of decimals), missing
    values as "—"."""
    values = list(column)
    if _numeric(column) and not pd.api.types.is_integer_dtype(column):
        present = [float(v) for v in values if not missing(v)]
        if all(math.isfinite(v) and v.is_integer() for v in present):
            return [MISSING if missing(v) else str(int(v)) for v in values]
        from pandas.io.formats.format import format_array
        shown = format_array(np.asarray(column.astype(float)), None, na_rep=MISSING)
        return [s.strip() for s in shown]
    return [whole(v) if isinstance(v, Number) or missing(v) else str(v) for v in values]


MARKUP = ((re.compile(r"\$([^$]+)\$"), r'<span class="math notranslate nohighlight">\\(\1\\)</span>'),
          (re.compile(r"`([^`]+)`"), r'<code class="docutils literal notranslate"><span class="pre">\1</span></code>'),
          (re.compile(r"\*\*([^*]+)\*\*"), r"<strong>\1</strong>"))


def _marked_up(text: str) -> str:
    """Escaped ``text`` with its inline TeX, code and bold made HTML (TeX as Sphinx writes it)."""
    text = html.escape(text)
    for pattern, replacement in MARKUP:
        text = pattern.sub(replacement, text)
    return text


def to_html(frame: pd.DataFrame, caption: str, number: int, markup: bool = False) -> str:
    """The table's HTML: a scrolling box, the numbered caption, the header, the rows (the index
    columns as row headers; long-text columns marked ``wrap``, numbers ``num``)."""
    labels = frame.attrs.get("labels", 0)
    numeric = frame.attrs.get("numeric", [False] * frame.shape[1])
    long = [any(len(s) > LONG for s in frame.iloc[:, i]) or len(str(frame.columns[i])) > LONG
            for i in range(frame.shape[1])]

    def classes(i):
        names = [name for name, on in (("wrap", long[i]), ("num", numeric[i] and not long[i])) if on]
        return f' class="{" ".join(names)}"' if names else ""

    esc = _marked_up if markup else html.escape
    head = "".join(f"<th scope=\"col\"{classes(i)}>{esc(str(c))}</th>" for i, c in enumerate(frame.columns))
    body = []
    for row in frame.itertuples(index=False):
        cells = [f"<th scope=\"row\"{classes(i)}>{esc(v)}</th>" if i < labels else f"<td{classes(i)}>{esc(v)}</td>"
                 for i, v in enumerate(row)]
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<div class="ssl-table"><table>\n<caption><span class="caption-box"><span class="caption-number">'
            f'Table {number} </span><span class="caption-text">{esc(caption)}</span></span></caption>\n'
            f"<thead><tr>{head}</tr></thead>\n<tbody>\n" + "\n".join(body) + "\n</tbody></table></div>")


def to_text(frame: pd.DataFrame, caption: str, number: int) -> str:
    """The table as plain text (a notebook viewer without HTML, the tests): its caption, then
    the cells in aligned columns."""
    text = frame.to_string(index=False) if len(frame.columns) else ""
    return f"Table {number}. {caption}\n{text}"
