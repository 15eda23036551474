"""Commit what the chapters of one profile used of their runs: each run's record and the
artifacts its chapter read, under ``papers/<paper>/runs/<profile>/<run_id>/``, so that the
chapters re-execute on a fresh clone without training and the review shows their numbers.

    python -m ssllib.review.curate cpu
    python -m ssllib.review.curate paper --book-dir runs/     # copies made by python -m ssllib.book run

The book builder lists, in each executed chapter's metadata (``ssllib.runs``), every run the
execution found, trained or measured, and every artifact it read or wrote (``<run>/artifacts/<name>``);
a run's record lists the artifacts of other runs its training read (``consumed``: a D&D
student's teacher logits), which are kept with it.
At the profiles the book builds (cpu, smoke) the committed store is made to hold exactly those (at
any other, such as paper, runs are only added: a GPU run is never removed by curation): a run or artifact no committed
chapter uses any more (a setting since changed, code since changed) is removed, and a file is
written only where its bytes change, so re-executing a chapter whose runs are unchanged leaves
git clean. A run's record and artifacts come from this machine's results where it made them, and
from the committed store otherwise (a run the chapter read as committed stays as it is). The
book builder runs this after every chapter it executes at the ``cpu`` profile.
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from ssllib.engine import store
from ssllib.engine.checkpoint import atomic_write, read_record_json
from ssllib.engine.runs import OUTCOMES, REPLACED
from ssllib.review.published import PAPERS_DIR
from ssllib.review.records import problem_with

BOOK_DIR = PAPERS_DIR.parent / "book"
# The profiles the book builds itself: their committed runs are exactly what its chapters use.
# Runs of any other profile (a GPU run at the paper's recipe) are added, never removed.
PRUNED = ("cpu", "smoke")


def chapter_runs(profile: str, book_dir: str | Path = BOOK_DIR) -> dict[str, list[str]]:
    """``{chapter: entries}`` (run ids and ``<run>/artifacts/<name>``) of the chapters in
    ``book_dir`` last executed at ``profile``. A chapter executed before the builder listed its
    runs is named, with the command that lists them."""
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


def paper_of_chapter(chapter: str) -> str:
    """The papers/ folder of a chapter: its name with dashes ('synco_vit' → 'synco-vit')."""
    return chapter.replace("_", "-")


def _write_if_changed(source: Path, target: Path) -> bool:
    data = source.read_bytes()
    if target.exists() and target.read_bytes() == data:
        return False
    atomic_write(target, lambda f: f.write(data))
    return True


def _source_folder(run_id: str, runs_dir: Path, replaced: set[str], papers: Path) -> Path:
    """Where the run's files are taken from: this machine's results when it made them (or
    replaced the committed record), else the committed store."""
    local = runs_dir / run_id
    committed = store.committed_folder(run_id, papers)
    if (local / store.RECORD).exists() and (committed is None or run_id in replaced):
        return local
    if committed is not None:
        return committed
    raise FileNotFoundError(f"run {run_id} has no record on this machine ({local}) nor in the committed store; "
                            f"curate where the chapters were executed")


def curate(profile: str, book_dir: str | Path = BOOK_DIR, runs_dir: str | Path | None = None,
           papers_dir: str | Path | None = None, only: set[str] | None = None) -> dict[str, int]:
    """Runs committed per paper. A missing or unreadable record stops the copy, named, before
    any file changes; with ``only`` (chapter names: those just executed) a run of another
    chapter that has no record anywhere is left out instead (that chapter is stale: executing it
    makes its runs)."""
    runs_dir = Path(runs_dir or store.local_runs_dir())
    papers = Path(papers_dir or store.papers_dir())
    entries = chapter_runs(profile, book_dir)
    replaced = {e[len(REPLACED):] for used in entries.values() for e in used if e.startswith(REPLACED)}
    plan: dict[str, dict] = {}     # run id → {"record", "source", "target", "artifacts"}
    for chapter, listed in entries.items():
        used, seen = list(listed), set()
        while used:                    # what the chapter used, and what training those runs consumed
            entry = used.pop(0)
            if entry in seen:
                continue
            seen.add(entry)
            if entry.startswith(OUTCOMES):
                continue
            run_id, _, artifact = entry.partition(f"/{store.ARTIFACTS}/")
            if run_id not in plan:
                try:
                    source = _source_folder(run_id, runs_dir, replaced, papers)
                except FileNotFoundError:
                    if only is None or chapter in only:
                        raise
                    continue
                # a record made here must be sealed; one already committed before records were sealed is
                # taken as it is (the review names it) until its chapter re-executes and replaces it
                record = read_record_json(source / store.RECORD, unsealed_ok=source != runs_dir / run_id)
                if (problem := problem_with({**record, "paper": record.get("paper") or paper_of_chapter(chapter),
                                             "profile": record.get("profile") or profile})) is not None:
                    raise ValueError(f"the record of run {run_id} (used by {chapter}) {problem}")
                paper = record.get("paper") or paper_of_chapter(chapter)
                plan[run_id] = {"source": source, "target": papers / paper / "runs" / profile / run_id,
                                "artifacts": set()}
                used.extend(record.get("consumed", []))
            if artifact and run_id in plan:
                plan[run_id]["artifacts"].add(artifact)
    written = 0
    for run_id, item in plan.items():
        source, target = item["source"], item["target"]
        written += _write_if_changed(source / store.RECORD, target / store.RECORD)
        # a run trained again during the execution keeps only the artifacts made from its new weights
        places = [runs_dir / run_id] if run_id in replaced else [source, runs_dir / run_id]
        item["artifacts"] = {n for n in item["artifacts"]
                             if any((p / store.ARTIFACTS / (n + ".json")).exists() for p in places)}
        for name in sorted(item["artifacts"]):
            for suffix in (".json", ".npz"):
                found = [p / store.ARTIFACTS / (name + suffix) for p in places
                         if (p / store.ARTIFACTS / (name + suffix)).exists()]
                if found:
                    written += _write_if_changed(found[0], target / store.ARTIFACTS / (name + suffix))
    kept = {item["target"].resolve() for item in plan.values()}
    for folder in sorted(papers.glob(f"*/runs/{profile}/*")) if profile in PRUNED else ():
        if folder.resolve() not in kept:
            shutil.rmtree(folder) if folder.is_dir() else folder.unlink()
    for item in plan.values():
        wanted = {n + s for n in item["artifacts"] for s in (".json", ".npz")}
        for path in sorted((item["target"] / store.ARTIFACTS).glob("*")):
            if path.name not in wanted:
                path.unlink()
    counts: dict[str, int] = {}
    for item in plan.values():
        paper = item["target"].parent.parent.parent.name
        counts[paper] = counts.get(paper, 0) + 1
    return counts


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", help="the profile whose chapters' runs to commit (cpu, paper, smoke)")
    parser.add_argument("--book-dir", type=Path, default=BOOK_DIR,
                        help="the folder of executed chapters (default: book/; python -m ssllib.book run writes copies)")
    args = parser.parse_args(argv)
    for paper, n in sorted(curate(args.profile, args.book_dir).items()):
        print(f"papers/{paper}/runs/{args.profile}/: {n} runs")


if __name__ == "__main__":
    main()
