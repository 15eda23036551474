"""The book's chapters: one module each with its parameters and profiles (``paper``, then ``cpu``
and ``smoke`` as changes of it), and the helpers they share (tables, plots, statistics,
notebook plumbing)."""
from __future__ import annotations


def chapter_specs() -> dict:
    """Every chapter's :class:`~ssllib.chapters.spec.ChapterSpec`, by name, in book order."""
    from ssllib.chapters.cueco import CUECO
    from ssllib.chapters.dcd import DCD
    from ssllib.chapters.foundations import FOUNDATIONS
    from ssllib.chapters.rrd import RRD
    from ssllib.chapters.synco import SYNCO
    from ssllib.chapters.synco_vit import SYNCO_VIT
    return {spec.name: spec for spec in (FOUNDATIONS, SYNCO, SYNCO_VIT, CUECO, RRD, DCD)}
