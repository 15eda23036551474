"""Search result snippets without code inputs or TeX (``static/search-text.js``).

Sphinx's search page fetches each hit's HTML and shows 240 characters of its main text around the
search term; on a notebook page that text includes every code cell's input and the TeX source of
every formula. The script wraps Sphinx's ``Search.htmlToText`` to remove code-cell inputs and
formulas before the text is taken (the index itself is unchanged: a word of a code cell still finds
its page).
"""
from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"


def _add_static(app, config) -> None:
    config.html_static_path.append(str(STATIC))


def setup(app):
    app.connect("config-inited", _add_static)
    app.add_js_file("search-text.js")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
