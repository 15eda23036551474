"""Where runs' results live: the committed store that travels with the book, and the local one.

- **Committed**: ``papers/<paper>/runs/<profile>/<run_id>/`` holds a run's ``record.json`` and
  ``artifacts/`` (the small values its chapter's diagnostics and figures read). A chapter
  re-executes from these on any clone without training.
- **Local**: ``results/runs/<run_id>/`` (``$SSLLIB_RESULTS``) holds the checkpoint, the record
  and new artifacts of runs trained or measured on this machine; ``python -m ssllib.book`` copies
  those a chapter used into the committed store (:mod:`ssllib.review.curate`).

A run is looked up by its id in the committed store first, then locally. Runs of the same
*setting* under other code (``record["setting"]``) are its predecessors: candidates for
:mod:`ssllib.engine.verify`. ``$SSLLIB_PAPERS`` points the committed store elsewhere (tests).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator

from ssllib.engine.checkpoint import RecordError, note_run, read_record_json
from ssllib.engine.ledger import REPO_ROOT, results_dir

RECORD = "record.json"
ARTIFACTS = "artifacts"


def papers_dir() -> Path:
    """The committed store's root: ``$SSLLIB_PAPERS``, else ``papers/`` of the checkout."""
    return Path(os.environ.get("SSLLIB_PAPERS") or REPO_ROOT / "papers").expanduser()


def local_runs_dir() -> Path:
    return results_dir() / "runs"


def committed_folders(root: Path | None = None) -> Iterator[Path]:
    """Every committed run folder (one that holds a record) under ``root`` (default :func:`papers_dir`)."""
    for record in sorted((root or papers_dir()).glob(f"*/runs/*/*/{RECORD}")):
        yield record.parent


def committed_folder(run_id: str, root: Path | None = None) -> Path | None:
    """The committed folder of ``run_id``, or None."""
    found = sorted((root or papers_dir()).glob(f"*/runs/*/{run_id}/{RECORD}"))
    return found[0].parent if found else None


def committed_folder_for(record: dict, profile: str) -> Path:
    """Where ``record`` is committed: under its paper and ``profile``."""
    return papers_dir() / record["paper"] / "runs" / profile / record["run_id"]


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def find_record(run_id: str, local_root: Path | None = None) -> tuple[dict, Path] | None:
    """(record, folder) of a finished run, committed or local; None if neither. Where both
    exist the committed one stands, unless the local one finished later (the run was trained
    again here, and this machine's checkpoint is of that training). A record that is unreadable
    or does not match its digest raises :class:`~ssllib.engine.checkpoint.RecordError` (one
    sentence: which file, how to restore it); it is never reused."""
    found = []
    for folder in (committed_folder(run_id), (local_root or local_runs_dir()) / run_id):
        if folder is not None and (folder / RECORD).exists():
            found.append((read_record_json(folder / RECORD), folder))
    if not found:
        return None
    return max(found, key=lambda pair: pair[0].get("finished", ""))


_SETTINGS: dict[Path, tuple[tuple[int, int], str | None]] = {}   # record file → (its stat, its setting)


def _setting_of(path: Path) -> str | None:
    """The ``setting`` of the record at ``path``, read once while the file is unchanged."""
    stat = path.stat()
    stamp = (stat.st_mtime_ns, stat.st_size)
    cached = _SETTINGS.get(path)
    if cached is None or cached[0] != stamp:
        try:
            setting = read_json(path).get("setting")
        except (OSError, ValueError, AttributeError):
            setting = None
        _SETTINGS[path] = cached = (stamp, setting)
    return cached[1]


def predecessors(setting: str, run_id: str, local_root: Path | None = None) -> list[tuple[dict, Path]]:
    """Finished runs of ``setting`` under other ids (other code, or other inputs' ids), the
    newest first, each with its folder; committed ones before local ones of the same id."""
    seen, found = set(), []
    local = [p.parent for p in sorted((local_root or local_runs_dir()).glob(f"*/{RECORD}"))]
    for folder in [*committed_folders(), *local]:
        if folder.name == run_id or folder.name in seen:
            continue
        if _setting_of(folder / RECORD) == setting:
            try:  # a candidate only: verify trains its first epoch again before anything is carried over
                record = read_record_json(folder / RECORD, unsealed_ok=True)
            except RecordError:
                continue
            seen.add(folder.name)
            found.append((record, folder))
    return sorted(found, key=lambda pair: pair[0].get("finished", ""), reverse=True)


def artifact_stem(folder: Path, name: str) -> Path:
    return folder / ARTIFACTS / name


def find_artifact(run_id: str, name: str, local_root: Path | None = None, committed: bool = True) -> Path | None:
    """The stem of artifact ``name`` of ``run_id`` (committed first, unless ``committed`` is
    False, then local), or None."""
    folders = [committed_folder(run_id) if committed else None, (local_root or local_runs_dir()) / run_id]
    for folder in folders:
        if folder is not None and (artifact_stem(folder, name).with_name(name + ".json")).exists():
            note_run(f"{run_id}/{ARTIFACTS}/{name}")
            return artifact_stem(folder, name)
    return None
