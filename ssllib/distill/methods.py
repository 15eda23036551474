"""The distillation family: its run configuration, its trainer, and every method module of this
folder (each declares its own methods when imported)."""
from __future__ import annotations

import importlib
import pkgutil

import ssllib.distill as package
from ssllib.distill.config import DistillConfig
from ssllib.distill.trainer import train_distill
from ssllib.engine.registry import Family, register_family

register_family(Family("distill", DistillConfig, train_distill, "distill/"))
for info in pkgutil.iter_modules(package.__path__):
    importlib.import_module(f"{package.__name__}.{info.name}")
