"""The self-supervised family: its run configuration, its trainer, and every method module of
this folder (each declares its own methods when imported)."""
from __future__ import annotations

import importlib
import pkgutil

import ssllib.selfsup as package
from ssllib.engine.registry import Family, register_family
from ssllib.selfsup.config import RunConfig
from ssllib.selfsup.trainer import train

register_family(Family("selfsup", RunConfig, train, "selfsup/"))
for info in pkgutil.iter_modules(package.__path__):
    importlib.import_module(f"{package.__name__}.{info.name}")
