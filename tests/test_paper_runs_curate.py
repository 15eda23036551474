"""A chapter executed outside the book's build says what it ran, and its runs are committed under
that profile and never removed by later curation (a GPU run is precious)."""
from __future__ import annotations

import json

import nbformat
import pytest

from ssllib import book
from ssllib.review.curate import curate


@pytest.mark.timeout(600)
def test_an_executed_copy_records_its_profile_overrides_and_runs_and_curation_keeps_them(tmp_path, monkeypatch):
    monkeypatch.setenv("SSLLIB_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("SSLLIB_PAPERS", str(tmp_path / "papers"))
    copy = tmp_path / "copies" / "wsi-smoke.ipynb"
    book.run_copy("wsi", copy, None, [["profile", "smoke"], ["k_experts", "3"], ["device", "cpu"]])
    meta = nbformat.read(copy, as_version=4).metadata["ssllib"]
    assert meta["profile"] == "smoke-custom"  # k_experts changed the recipe; device only where it ran
    assert meta["given"] == {"k_experts": 3, "device": "cpu"} and meta["budget"] == "full"
    assert [r for r in meta["runs"] if ":" not in r]  # the runs it used (markers of what happened aside)

    counts = curate("smoke-custom", tmp_path / "copies", tmp_path / "results" / "runs", tmp_path / "papers")
    committed = sorted((tmp_path / "papers" / "wsi" / "runs" / "smoke-custom").iterdir())
    assert counts["wsi"] == len(committed) > 0
    assert {json.loads((f / "record.json").read_text())["profile"] for f in committed} == {"smoke-custom"}
    (tmp_path / "nothing").mkdir()
    curate("smoke-custom", tmp_path / "nothing", tmp_path / "results" / "runs", tmp_path / "papers")
    assert sorted((tmp_path / "papers" / "wsi" / "runs" / "smoke-custom").iterdir()) == committed  # never pruned
