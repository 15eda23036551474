"""Training methods: each builds its model from a run configuration and defines one step."""
from .registry import METHODS, build_method

__all__ = ["METHODS", "build_method"]
