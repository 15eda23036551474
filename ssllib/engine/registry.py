"""Methods and families by name: each method declares itself once, in its own module.

A :class:`Family` (self-supervised, distillation, …) says which run configuration its methods
take and how one run is trained. A :class:`Method` says its name, its family, how its model is
built, its options (each a :class:`~ssllib.engine.params.Param` with a default), its checks
across fields, and the modules its runs' results depend on. Configuration checks, chapter
parameters, fingerprints and ``python -m ssllib.train`` all read these declarations; the
engine itself names no method.

Adding a method is one module that calls :func:`register_method` (and its tests); a module
outside the package can do the same and be loaded with ``python -m ssllib.train --plugin``.
"""
from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

from ssllib.engine.params import Param, ParameterError, check_all

# The families that ship with ssllib, imported on first look-up.
BUILTIN_FAMILIES = ("ssllib.selfsup.methods", "ssllib.distill.methods", "ssllib.mil.methods", "ssllib.retrieval.methods")


@dataclass(frozen=True)
class Family:
    name: str
    config: type                 # the run configuration class (``from_dict``, ``to_dict``)
    train: Callable[..., Any]    # train(cfg, *, paper, profile, runs_dir, ledger_dir, evaluate, …) -> Result
    folder: str                  # its modules, relative to ssllib/ ("selfsup/")
    standalone: bool = True      # a run is made from its configuration alone (python -m ssllib.train); the
    #                              whole-slide and retrieval runs also read bags, images and other runs


@dataclass(frozen=True)
class Method:
    name: str
    family: str
    build: Callable[..., Any]                      # family-specific: what the family's trainer calls
    help: str = ""                                 # one line: what the method is
    title: str = ""                                # how tables name it (default: the name)
    options: dict[str, tuple[Param, Any]] = field(default_factory=dict)  # name → (param, default)
    fixed: dict[str, Any] = field(default_factory=dict)   # values the method sets and a user cannot
    defaults: dict[str, Any] = field(default_factory=dict)  # configuration fields it defaults differently
    check: Callable[[Any], None] | None = None     # cross-field checks on a whole configuration
    code: tuple[str, ...] = ()                     # modules (dotted) its runs depend on, besides the shared ones
    uses_labels: bool = False                      # trains on labelled images (a supervised baseline, a teacher)
    views: int = 2                                 # crops per image its inputs take (decoded by the loader's workers)

    @property
    def label(self) -> str:
        return self.title or self.name

    def option_params(self) -> dict[str, Param]:
        return {name: param for name, (param, _) in self.options.items()}

    def complete_options(self, given: dict[str, Any]) -> dict[str, Any]:
        """``given`` checked against the method's options, with every default filled in."""
        if given and not self.options:
            raise ParameterError(f"method {self.name!r} takes no options, but got {', '.join(sorted(given))}")
        checked = check_all(self.option_params(), given, f"method {self.name!r}")
        return {name: checked.get(name, default) for name, (_, default) in self.options.items()}


_FAMILIES: dict[str, Family] = {}
_METHODS: dict[str, Method] = {}
_loaded = False


def register_family(family: Family) -> Family:
    _FAMILIES[family.name] = family
    return family


def register_method(method: Method) -> Method:
    """Declare ``method``; a second declaration under the same name replaces the first."""
    _METHODS[method.name] = method
    return method


def _load_builtin() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for module in BUILTIN_FAMILIES:
            importlib.import_module(module)


def methods(family: str | None = None) -> dict[str, Method]:
    """Every registered method (of ``family``), by name, in declaration order."""
    _load_builtin()
    return {n: m for n, m in _METHODS.items() if family is None or m.family == family}


def families() -> dict[str, Family]:
    _load_builtin()
    return dict(_FAMILIES)


def method(name: str, family: str | None = None) -> Method:
    """The method called ``name``; an unknown name gets one sentence with the valid ones."""
    known = methods(family)
    if name not in known:
        close = difflib.get_close_matches(str(name), list(known), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ParameterError(f"method={name!r} is not a known {family + ' ' if family else ''}method{hint}; "
                             f"choose one of {', '.join(known)}")
    return known[name]


def family_of(name: str) -> Family:
    return families()[method(name).family]


def load_plugin(target: str) -> None:
    """Import a module (dotted name, or a path to a .py file) that registers methods."""
    from pathlib import Path

    if target.endswith(".py"):
        import importlib.util
        import sys

        path = Path(target).resolve()
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module
        spec.loader.exec_module(module)
    else:
        importlib.import_module(target)
