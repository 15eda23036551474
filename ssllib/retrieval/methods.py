"""The retrieval family: its run configuration, its runs (evaluations, no training:
:func:`ssllib.retrieval.pipeline.evaluate`) and the representations declared in
:mod:`ssllib.retrieval.representations`."""
from __future__ import annotations

import importlib
import pkgutil

import ssllib.retrieval as package
from ssllib.engine.registry import Family, register_family
from ssllib.retrieval.config import RetrievalConfig
from ssllib.retrieval.pipeline import evaluate

register_family(Family("retrieval", RetrievalConfig, evaluate, "retrieval/", standalone=False))
for info in pkgutil.iter_modules(package.__path__):
    importlib.import_module(f"{package.__name__}.{info.name}")
