"""A fingerprint of the library's code: runs and chapters record which code produced them."""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
# Modules that change how results are shown, never what they are.
PRESENTATION = {"plots.py", "book.py", "progress.py", "report.py", "bench.py"}


@lru_cache(maxsize=None)
def code_fingerprint() -> str:
    """sha256 over the source of every ssllib module that can change a result (12 hex digits)."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name in PRESENTATION:
            continue
        digest.update(str(path.relative_to(PACKAGE)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]
