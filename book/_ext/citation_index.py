"""The book's index: every method, network, dataset and tool the pages cite, with the pages that
cite it.

Sphinx's index page lists ``index`` nodes, which the book's pages had none of, so it was empty.
This transform adds one entry for each reference a page cites (the first citation of it on the
page), named as ``ssllib.chapters.citations`` names it ("SimCLR", "CIFAR-100" is "CIFAR", …), with
the page's title as its sub-entry, pointing at that citation. It runs before Sphinx collects index
entries (priority 850).
"""
from __future__ import annotations

from docutils import nodes
from sphinx import addnodes
from sphinx.transforms import SphinxTransform


def _index_names() -> dict[str, str]:
    try:
        from ssllib.chapters.citations import index_names
    except ImportError:  # the book rendered without the library: no index, nothing else lost
        return {}
    return index_names()


class CitationIndex(SphinxTransform):
    default_priority = 800

    def apply(self, **kwargs) -> None:
        names = _index_names()
        title = next(iter(self.document.findall(nodes.title)), None)
        page = title.astext().replace(";", ",") if title is not None else self.env.docname
        seen: set[str] = set()
        for ref in list(self.document.findall(addnodes.pending_xref)):
            if ref.get("refdomain") != "cite" or not ref.get("ids"):
                continue
            keys = [k.strip() for k in ref.get("reftarget", "").split(",")]
            entries = [("single", f"{names[k]}; {page}", ref["ids"][0], "", None)
                       for k in keys if k in names and k not in seen]
            seen.update(keys)
            if entries:
                ref.parent.insert(ref.parent.index(ref), addnodes.index(entries=entries, inline=True))


def setup(app):
    app.add_transform(CitationIndex)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
