"""The whole-slide family: its run configuration, its trainer, and every method module of this
folder (the aggregators and the Divide-and-Distill student declare themselves when imported)."""
from __future__ import annotations

import importlib
import pkgutil

import ssllib.mil as package
from ssllib.engine.registry import Family, register_family
from ssllib.mil.config import MILConfig
from ssllib.mil.trainer import train_mil

register_family(Family("mil", MILConfig, train_mil, "mil/", standalone=False))
importlib.import_module("ssllib.mil.pooling")   # the simplest aggregators first, in the order tables list them
for info in pkgutil.iter_modules(package.__path__):
    importlib.import_module(f"{package.__name__}.{info.name}")
