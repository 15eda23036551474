"""Every chapter at its paper recipe on its default paper dataset (ImageNet folders at 224 px for
the self-supervised chapters), shrunk only by budget="tiny", on fixtures in each dataset's own
format; writes each chapter's seconds to benchmarks/paper-dry-run-<machine>.json.

    python benchmarks/paper-dry-run.py [--device cpu|cuda] [--only synco,cdir] [--machine cpu-2core]

The test suite runs the same chapters (tests/test_paper_dry_run.py), with SynCo and the ViT
chapter on their papers' CIFAR-100 recipes to fit its time budget; this runs what the suite leaves
out. With a GPU lent, benchmarks/gpu-checks.sh runs it for one chapter with --device cuda.
"""
from __future__ import annotations

import argparse
import json
import sys
import shutil
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fixtures import make_paper_data  # noqa: E402
from paper_dry_run import CHAPTERS, copy_papers, execute, parameters  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--only", default="", help="comma-separated chapters (default: all)")
    parser.add_argument("--machine", default="cpu", help="name of this machine in the output file")
    args = parser.parse_args()
    chapters = [c for c in args.only.split(",") if c] or CHAPTERS
    work = Path(tempfile.mkdtemp(prefix="paper-dry-run-"))
    data = make_paper_data(work / "data")
    papers = copy_papers(work / "papers")
    seconds = {}
    for chapter in chapters:
        given = parameters(chapter, data)
        if "device" in given:
            given["device"] = args.device
        seconds[chapter] = round(execute(chapter, given, work / f"{chapter}.ipynb", work / "results", papers), 1)
        print(f"{chapter}: {seconds[chapter]} s", flush=True)
    out = ROOT / "benchmarks" / f"paper-dry-run-{args.machine}.json"
    out.write_text(json.dumps({"when": time.strftime("%Y-%m-%d"), "device": args.device, "seconds": seconds,
                               "executed copies": str(work)}, indent=1) + "\n")
    for scratch in ("data", "results", "papers"):   # gigabytes of fixtures and checkpoints; the copies stay
        shutil.rmtree(work / scratch, ignore_errors=True)
    print(f"{out}: {sum(seconds.values()):.0f} s in all; executed copies in {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
