"""Commit the records of the runs that produced the committed chapters of one profile into
``papers/<paper>/runs/<profile>/``, so the review chapter shows them on a fresh clone.

    python -m ssllib.review.curate cpu

The book builder lists, in each executed chapter's metadata (``ssllib.runs``), every run that
the execution trained or loaded, and every evaluation it recorded. Each paper's ``runs/<profile>/`` folder is rewritten to hold
exactly the records of those runs, whichever paper's chapter used them (the caption chapter's
encoders are the foundations chapter's runs, and are committed there): a run no committed
chapter uses any more, such as one of a setting since changed, is dropped. Records of other
profiles, and GPU runs committed beside it, are left alone.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ssllib.engine.checkpoint import write_json
from ssllib.engine.ledger import ledger_dir, results_dir
from ssllib.review.published import PAPERS_DIR
from ssllib.review.records import problem_with

BOOK_DIR = PAPERS_DIR.parent / "book"


def chapter_runs(profile: str, book_dir: str | Path = BOOK_DIR) -> dict[str, list[str]]:
    """``{chapter: run ids}`` of the chapters in ``book_dir`` last executed at ``profile``. A
    chapter executed before the builder listed its runs is named, with the command that lists them."""
    out = {}
    for path in sorted(Path(book_dir).glob("*.ipynb")):
        meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {}).get("ssllib", {})
        if meta.get("profile") != profile:
            continue
        if "runs" not in meta:
            raise ValueError(f"{path.name} was executed before the book builder listed the runs a chapter uses; "
                             f"execute it again (python -m ssllib.book build --force --only {path.stem})")
        out[path.stem] = meta["runs"]
    return out


def _record_of(run_id: str, ledger: Path, runs: Path) -> dict | None:
    """The ledger's record of ``run_id``, else the one in its run folder; None for a run that
    writes no ledger record (a transfer probe: no paper)."""
    for path in (ledger / f"{run_id}.json", runs / run_id / "record.json"):
        if path.exists():
            record = json.loads(path.read_text(encoding="utf-8"))
            return record if record.get("paper") else None
    raise FileNotFoundError(f"run {run_id} has no record on this machine (neither {ledger} nor {runs / run_id}); "
                            f"curate where the chapters were executed")


def curate(profile: str, ledger: str | Path | None = None, papers_dir: str | Path = PAPERS_DIR,
           book_dir: str | Path = BOOK_DIR, runs_dir: str | Path | None = None) -> dict[str, int]:
    """Records committed per paper. A missing or unreadable record stops the copy, named, before
    any file changes."""
    ledger = Path(ledger or ledger_dir())
    runs_dir = Path(runs_dir or results_dir() / "runs")
    chosen: dict[str, dict[str, dict]] = {}
    for chapter, run_ids in chapter_runs(profile, book_dir).items():
        for run_id in run_ids:
            record = _record_of(run_id, ledger, runs_dir)
            if record is None:
                continue
            if (problem := problem_with(record)) is not None:
                raise ValueError(f"the record of run {run_id} (used by {chapter}) {problem}")
            if record["profile"] != profile:
                continue  # a run of another profile that the chapter reads (none so far)
            chosen.setdefault(record["paper"], {})[run_id] = record
    copied = {}
    for folder in sorted(Path(papers_dir).glob(f"*/runs/{profile}")):
        chosen.setdefault(folder.parent.parent.name, {})
    for paper, records in sorted(chosen.items()):
        folder = Path(papers_dir) / paper / "runs" / profile
        for run_id, record in records.items():
            write_json(record, folder / f"{run_id}.json")
        for old in folder.glob("*.json"):
            if old.stem not in records:
                old.unlink()
        copied[paper] = len(records)
    return copied


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", help="the profile whose chapters' runs to commit (cpu, paper, smoke)")
    parser.add_argument("--ledger", help="the ledger folder (default: results/ledger)")
    args = parser.parse_args(argv)
    for paper, n in curate(args.profile, args.ledger).items():
        print(f"papers/{paper}/runs/{args.profile}/: {n} records")


if __name__ == "__main__":
    main()
