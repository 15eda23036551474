"""The retrieval family: its run configuration, its runs (evaluations, no training:
:func:`ssllib.retrieval.pipeline.evaluate`) and the representations declared in
:mod:`ssllib.retrieval.representations`."""
from __future__ import annotations

from ssllib.engine.registry import Family, register_family
from ssllib.retrieval.config import RetrievalConfig
from ssllib.retrieval.pipeline import evaluate

register_family(Family("retrieval", RetrievalConfig, evaluate, "retrieval/", standalone=False))
__import__("ssllib.retrieval.representations")
