"""Fingerprints of the library's code: runs and chapters record which code produced them.

A chapter depends on all of ``ssllib`` (only the book builder itself is left out). A training
run depends on the modules that can change what it trains or measures:

- the shared code: the engine's loop, optimisers, devices and processes, data, networks and
  evaluation;
- its family's folder, except the modules other methods of the family declare as theirs;
- the modules its own method declares (``Method.code`` in :mod:`ssllib.engine.registry`).

It does not depend on the code around runs (chapters, benchmarks, entry points, the registry,
this module, the ledger, the review of finished runs, progress bars, the memory policy, how
checkpoints are written and how parameters are checked: the checked values themselves are part
of the run's identity), nor on other families. Keeping the set narrow is what lets a rebuild
reuse runs after an edit to a plot, a chapter helper or another method.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent
NOT_IN_CHAPTERS = {"book.py"}
# Code around runs: it decides which runs are made, reused, shown or timed, never what one computes
# (the review reads finished runs' records).
AROUND_RUNS_FOLDERS = ("chapters/", "bench/", "review/")
AROUND_RUNS = {"book.py", "train.py", "__init__.py", "engine/fingerprint.py", "engine/registry.py",
               "engine/ledger.py", "engine/progress.py", "engine/launch.py", "engine/allocator.py",
               "engine/checkpoint.py", "engine/params.py", "evaluate/transfer.py"}
# Every family's folder, registered or still being written: a family is never imported by the
# engine or by another family (DESIGN: arrows run downwards), so its code is in no other family's
# runs. Registered families add theirs (``Family.folder``).
FAMILY_FOLDERS = ("selfsup/", "distill/", "retrieval/", "mil/")
# Modules only some runs use, whatever their method: they count where a run names them (the
# transformers for runs on them, the retrieval metrics for the retrieval family's evaluations).
BY_REQUEST = {"nets/vit.py", "evaluate/retrieval.py"}


def _digest(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.relative_to(PACKAGE).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _name(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def _modules() -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py")) if "__pycache__" not in p.parts]


def _file_of(dotted: str) -> str:
    """'ssllib.distill.rrd' → 'distill/rrd.py'."""
    return dotted.removeprefix("ssllib.").replace(".", "/") + ".py"


@lru_cache(maxsize=None)
def code_fingerprint() -> str:
    """sha256 over the source of every ssllib module a chapter's outputs can depend on (12 hex digits)."""
    return _digest([p for p in _modules() if _name(p) not in NOT_IN_CHAPTERS])


@lru_cache(maxsize=None)
def shared_code_fingerprint(*extra: str) -> str:
    """sha256 over the code every run depends on (no family's folder) and the ``extra``
    modules (dotted): the key of results such as the transfer probe's."""
    from ssllib.engine.registry import families

    folders = tuple({*FAMILY_FOLDERS, *(f.folder for f in families().values())})
    extras = {_file_of(m) for m in extra}

    def counts(name: str) -> bool:
        if name in extras:
            return True
        return not (name in AROUND_RUNS or name in BY_REQUEST or name.startswith(AROUND_RUNS_FOLDERS) or name.startswith(folders))
    return _digest([p for p in _modules() if counts(_name(p))])


@lru_cache(maxsize=None)
def run_code_fingerprint(method: str, *uses: str) -> str:
    """sha256 over the modules a run of ``method`` depends on (12 hex digits); ``uses`` names
    the optional modules (dotted) it also depends on, such as its backbone's."""
    from ssllib.engine.registry import families, methods

    spec = methods()[method]
    own_folder = families()[spec.family].folder
    other_folders = tuple({*FAMILY_FOLDERS, *(f.folder for f in families().values())} - {own_folder})
    owned = {_file_of(m): name for name, declared in methods().items() for m in declared.code}
    mine = {_file_of(m) for m in spec.code}
    requested = {_file_of(m) for m in uses}

    def counts(name: str) -> bool:
        if name in BY_REQUEST:
            return name in requested
        if name in AROUND_RUNS or name.startswith(AROUND_RUNS_FOLDERS) or name.startswith(other_folders):
            return False
        if name in owned:
            return name in mine
        return True
    return _digest([p for p in _modules() if counts(_name(p))])
