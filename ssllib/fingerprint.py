"""Fingerprints of the library's code: runs and chapters record which code produced them.

A chapter depends on all of ``ssllib``; a training run only on the modules that can change
what it trains or measures. Keeping the run's set narrow is what lets a rebuild reuse runs
after an edit to a plot, a chapter helper, or another method.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
# Modules that change how results are shown, never what they are.
PRESENTATION = {"plots.py", "book.py", "progress.py", "report.py", "bench.py", "bench_peer.py"}
# Modules a chapter uses around its runs (choosing settings, tabulating, diagnosing); a run's
# result does not depend on them.
# (This module is one of them: it decides which runs are reused, not what they compute; and
# allocator.py, which sets how fast CPU memory is reused, not what a step computes.)
AROUND_RUNS = {"chapter.py", "experiments.py", "diagnostics.py", "profiles.py", "ledger.py", "train.py",
               "fingerprint.py", "methods/registry.py", "methods/options.py", "distill/experiments.py",
               "distill/transfer.py", "launch.py", "allocator.py"}
SELF_SUPERVISED = {"mocov2", "synco", "mochi", "supervised"}
DISTILLATION = {"ce", "kd", "crd", "crd_kd", "rrd", "rrd_kd", "dcd", "dcd_kd"}
# Modules that belong to particular methods: they count only for runs of those methods.
METHOD_MODULES = {
    "methods/mocov2.py": {"mocov2"},
    "methods/supervised.py": {"supervised"},
    "methods/build.py": SELF_SUPERVISED | DISTILLATION,  # distillation binds its augmentation with it
    "methods/synco.py": {"synco", "mochi"},
    "synthetic_negatives.py": {"synco", "mochi"},
    "distill/crd.py": {"crd", "crd_kd"},
    "distill/rrd.py": {"rrd", "rrd_kd"},
    "distill/dcd.py": {"dcd", "dcd_kd"},
}
# Folders whose other modules belong to one family of methods.
FAMILY_FOLDERS = {"methods/": SELF_SUPERVISED, "distill/": DISTILLATION}


def _digest(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.relative_to(PACKAGE).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _modules() -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py")) if p.name not in PRESENTATION]


@lru_cache(maxsize=None)
def code_fingerprint() -> str:
    """sha256 over the source of every ssllib module that can change a result (12 hex digits)."""
    return _digest(_modules())


@lru_cache(maxsize=None)
def run_code_fingerprint(method: str) -> str:
    """sha256 over the modules a run of ``method`` depends on (12 hex digits)."""
    def counts(path: Path) -> bool:
        name = path.relative_to(PACKAGE).as_posix()
        if name in AROUND_RUNS:
            return False
        if name in METHOD_MODULES:
            return method in METHOD_MODULES[name]
        family = next((methods for folder, methods in FAMILY_FOLDERS.items() if name.startswith(folder)), None)
        return family is None or method in family
    return _digest([p for p in _modules() if counts(p)])
