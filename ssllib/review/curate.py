"""Copy the local ledger's runs of one profile into ``papers/<paper>/runs/<profile>/``, so the
review chapter shows, on a fresh clone, the runs that produced the committed chapters.

    python -m ssllib.review.curate cpu

Each paper's ``runs/<profile>/`` folder is rewritten to hold exactly the newest run of each
(variant, seed) of that profile; records of other profiles, and GPU runs committed beside it,
are left alone.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ssllib.engine.checkpoint import write_json
from ssllib.engine.ledger import ledger_dir
from ssllib.review.published import PAPERS_DIR
from ssllib.review.records import read_records


def curate(profile: str, ledger: str | Path | None = None, papers_dir: str | Path = PAPERS_DIR) -> dict[str, int]:
    """Records copied per paper. Unreadable records stop the copy, named, before any file changes."""
    found = read_records(committed=[], local=ledger or ledger_dir())
    if found.problems:
        raise ValueError("the ledger holds records that cannot be read: " + "; ".join(map(str, found.problems)))
    chosen = found.table[found.table["profile"] == profile].drop_duplicates("run_id")
    copied = {}
    for paper, group in chosen.groupby("paper"):
        folder = Path(papers_dir) / paper / "runs" / profile
        keep = set()
        for source, run_id in zip(group["source"], group["run_id"]):
            record = json.loads(Path(source if Path(source).is_absolute() else PAPERS_DIR.parent / source).read_text())
            write_json(record, folder / f"{run_id}.json")
            keep.add(f"{run_id}.json")
        for old in folder.glob("*.json"):
            if old.name not in keep:
                old.unlink()
        copied[paper] = len(keep)
    return copied


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", help="the profile whose runs to copy (cpu, paper, smoke)")
    parser.add_argument("--ledger", help="the ledger folder (default: results/ledger)")
    args = parser.parse_args(argv)
    for paper, n in curate(args.profile, args.ledger).items():
        print(f"papers/{paper}/runs/{args.profile}/: {n} records")


if __name__ == "__main__":
    main()
