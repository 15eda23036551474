"""The book's chapters: one module each with its parameters and profiles (``paper``, then ``cpu``
and ``smoke`` as changes of it), and the helpers they share (tables, plots, statistics,
notebook plumbing)."""
from __future__ import annotations


def chapter_specs() -> dict:
    """Every chapter's :class:`~ssllib.chapters.spec.ChapterSpec`, by name, in book order.

    Found, not listed: every module of this package that defines a ChapterSpec at its top level
    is a chapter, so adding a chapter touches no shared file (and makes no other chapter stale).
    Book order is ``_toc.yml``'s where the checkout has one; chapters it does not list follow by name."""
    import importlib
    import pkgutil
    import re
    from pathlib import Path

    from ssllib.chapters.spec import ChapterSpec

    found = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, ChapterSpec) and value.name == info.name:
                found[value.name] = value
    toc = Path(__file__).resolve().parents[2] / "_toc.yml"
    listed = re.findall(r"file:\s*book/(\w+)", toc.read_text()) if toc.exists() else []
    rank = {name: listed.index(name) if name in listed else len(listed) for name in found}
    return dict(sorted(found.items(), key=lambda kv: (rank[kv[0]], kv[0])))
