"""What a page of the book loads.

* Jupyter Book adds every ``.js`` file under ``_static/`` to every page as a ``<script>`` tag.
  That is meant for a book's own scripts; for the MathJax copy in ``_static/mathjax/``
  (``scripts/get-mathjax.sh``) it put each of its component files on every page beside the
  entry point Sphinx adds from ``mathjax_path``: MathJax twice, in both output formats, with its
  menu and accessibility explorer, and a page error for each component defined twice. MathJax
  loads the components it needs itself (``mathjax3_config.loader`` in ``_config.yml``), so its
  files stay served and are taken off the list.
"""
from __future__ import annotations


def mathjax_served_not_listed(app, config) -> None:
    def vendored(js) -> bool:
        return str(js[0] if isinstance(js, tuple) else js).startswith("mathjax/")

    config.html_js_files = [js for js in config.html_js_files if not vendored(js)]


def setup(app):
    app.connect("config-inited", mathjax_served_not_listed)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
