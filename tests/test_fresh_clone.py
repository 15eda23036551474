"""A chapter re-executed on a fresh clone trains nothing: executed once (it trains), what it used
is committed (records and artifacts); executed again with no results folder at all (a fresh
clone's), it reads every run and artifact from the committed store, trains and measures nothing,
and prints the same numbers. A second commit writes no file (no churn in git)."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import pytest

from ssllib import book
from ssllib.review.curate import curate

ROOT = Path(__file__).resolve().parent.parent
# Run-to-run text that is not a number of the chapter: timings and where a result came from.
NOISE = re.compile(r"(\d+(\.\d+)? (min|s|ms)\b|trained now|measured now|read from [^)\n,]*|git \w+\+?\w*|"
                   r"\d+(\.\d+)? s of|\(\d+(\.\d+)? s\)|training \(s\)|inference \(ms\))")


def _printed(path: Path) -> list[str]:
    """What each code cell printed (its stdout, however the kernel cut it into outputs), with the
    run-to-run noise masked."""
    nb = nbformat.read(path, as_version=4)
    return [NOISE.sub("…", "".join(out.get("text", "") for out in cell.get("outputs", [])
                                   if out.get("output_type") == "stream" and out.get("name") == "stdout"))
            for cell in nb.cells if cell.cell_type == "code"]


@pytest.mark.timeout(900)
@pytest.mark.parametrize("chapter", ["wsi", "rrd"])
def test_a_chapter_re_executes_from_committed_runs_without_training(chapter, tmp_path, monkeypatch):
    (tmp_path / "book").mkdir()
    shutil.copy(ROOT / "book" / f"{chapter}.ipynb", tmp_path / "book")
    path = tmp_path / "book" / f"{chapter}.ipynb"
    monkeypatch.setenv("SSLLIB_PAPERS", str(tmp_path / "papers"))
    monkeypatch.setenv("SSLLIB_RESULTS", str(tmp_path / "first"))
    first = book.execute(path, "smoke")
    assert first.count("trained") > 0
    curate("smoke", tmp_path / "book", tmp_path / "first" / "runs", tmp_path / "papers")
    printed = _printed(path)
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "papers").rglob("*") if p.is_file()}
    assert any(p.parent.name == "artifacts" for p in stamps), "the chapter kept no artifact"

    monkeypatch.setenv("SSLLIB_RESULTS", str(tmp_path / "fresh-clone"))
    second = book.execute(path, "smoke")
    assert (second.count("trained"), second.count("re-keyed"), second.count("measured")) == (0, 0, 0), second.outcomes
    assert not (tmp_path / "fresh-clone" / "runs").exists() or not any((tmp_path / "fresh-clone" / "runs").iterdir())
    assert _printed(path) == printed
    curate("smoke", tmp_path / "book", tmp_path / "fresh-clone" / "runs", tmp_path / "papers")
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "papers").rglob("*") if p.is_file()} == stamps
