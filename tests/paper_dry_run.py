"""A chapter executed at its paper recipe on fixture data, shrunk only by ``budget="tiny"``
(:mod:`ssllib.chapters.budget`): what the test suite's dry run and ``benchmarks/paper-dry-run.py``
share."""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = ["foundations", "synco", "synco_vit", "cueco", "rrd", "dcd", "cdir", "wsi", "review"]


def parameters(chapter: str, data: dict[str, Path], dataset: str | None = None) -> dict:
    """The chapter's paper recipe at the tiny budget on the fixtures in ``data`` (from
    :func:`fixtures.make_paper_data`), on the CPU; ``dataset`` picks another of the paper
    profile's datasets (its overlay: the paper's CIFAR recipe, for example)."""
    if chapter == "review":  # it trains nothing: the paper profile alone
        return {"profile": "paper"}
    given = {"profile": "paper", "budget": "tiny", "device": "cpu", "data_root": str(data["data_root"])}
    if dataset:
        given["dataset"] = dataset
    if chapter == "cdir":  # Office-Home; the hub captioner cannot be fetched here, so the offline stand-in
        given |= {"benchmark_root": str(data["office_home"]), "captioner": "stand-in"}
    if chapter == "wsi":
        given |= {k: str(data[k]) for k in ("features_dir", "labels_csv", "splits_dir")}
    return given


def execute(chapter: str, given: dict, out: Path, results: Path, papers: Path) -> float:
    """Execute ``book/<chapter>.ipynb`` with ``given`` into ``out`` (papermill), its runs in
    ``results`` and no committed run (``papers`` holds none); returns the seconds it took."""
    import papermill

    saved = {k: os.environ.get(k) for k in ("SSLLIB_RESULTS", "SSLLIB_PAPERS", "SSLLIB_PROGRESS")}
    os.environ.update(SSLLIB_RESULTS=str(results), SSLLIB_PAPERS=str(papers), SSLLIB_PROGRESS="off")
    papers.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    try:
        papermill.execute_notebook(str(ROOT / "book" / f"{chapter}.ipynb"), str(out), parameters=given,
                                   kernel_name="python3", cwd=str(ROOT / "book"), progress_bar=False)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return time.perf_counter() - start


def copy_papers(target: Path) -> Path:
    """``papers/`` without its committed runs: a dry run trains everything."""
    shutil.copytree(ROOT / "papers", target, ignore=shutil.ignore_patterns("runs"), dirs_exist_ok=True)
    return target
