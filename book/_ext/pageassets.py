"""What a page of the book loads: its own scripts once each, MathJax through one script tag, and
a navigation toggle that opens the chapter list.

Three things the stack does on its own that this extension undoes:

* Jupyter Book adds every ``.js`` file under ``_static/`` to every page as a ``<script>`` tag.
  That is meant for a book's own scripts; for the MathJax copy in ``_static/mathjax/``
  (``scripts/get-mathjax.sh``) it put each of its component files on every page beside the
  entry point Sphinx adds from ``mathjax_path``: MathJax twice, in both output formats, with its
  menu and accessibility explorer, and a page error for each component defined twice. MathJax
  loads the components it needs itself (``mathjax3_config.loader`` in ``_config.yml``), so its
  files stay served and are taken off the list.
* pydata-sphinx-theme 0.17 renders a navigation toggle in its top bar (hidden by
  sphinx-book-theme) before the one sphinx-book-theme shows in the article header; both themes'
  scripts bind ``document.querySelector(".primary-toggle")``, the first, hidden one, so the toggle
  a reader sees did nothing at any width (pydata-sphinx-theme issue 2451). The top bar is only
  rendered when it has an item, and pydata-sphinx-theme gives it its search field unless
  ``navbar_persistent`` is set; sphinx-book-theme has the search in the sidebar and the article
  header already, so the setting is empty and the visible toggle is the only one. The page
  context's ``default_mode`` is set too: left empty, the theme logs a console error on every page.
* pydata-sphinx-theme loads ``fontawesome.js`` (1.5 MB) on every page "so that users can add
  custom icons"; the book adds none, and the theme's stylesheet draws its own icons with the
  Font Awesome web font. ``templates/static/webpack-macros.html`` leaves that one script out.
"""
from __future__ import annotations

from pathlib import Path

TEMPLATES = Path(__file__).parent / "templates"


def mathjax_served_not_listed(app, config) -> None:
    def vendored(js) -> bool:
        return str(js[0] if isinstance(js, tuple) else js).startswith("mathjax/")

    config.html_js_files = [js for js in config.html_js_files if not vendored(js)]


def one_navigation_toggle(app, config) -> None:
    config.html_theme_options = {"navbar_persistent": [], **config.html_theme_options}
    config.html_context = {"default_mode": "auto", **config.html_context}


def no_fontawesome_js(app, config) -> None:
    config.templates_path = [str(TEMPLATES), *config.templates_path]


def setup(app):
    app.connect("config-inited", mathjax_served_not_listed)
    app.connect("config-inited", one_navigation_toggle)
    app.connect("config-inited", no_fontawesome_js)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
