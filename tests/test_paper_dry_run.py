"""The paper path, end to end: every chapter executed at ``profile=paper`` on fixtures written in
its datasets' own on-disk formats (ImageNet folders, CIFAR, STL-10, Office-Home, DomainNet, CLAM
features), shrunk only by ``budget="tiny"`` (one epoch of two small batches, every warm-up and
milestone scaled with it; :mod:`ssllib.chapters.budget`). Nothing else is overridden but where
the data is and the CPU. A crash after the training it guards, a sentence fixed to the cpu run,
or an executed copy that does not say what it ran fails here, not on a GPU days later."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import pytest

from fixtures import make_paper_data

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = ["foundations", "synco", "synco_vit", "cueco", "rrd", "dcd", "cdir", "wsi", "review"]
# What the cpu run's prose names and a paper run must not: its data, resolution and machine.
CPU_RUN = re.compile(r"Fashion-MNIST|6,400|16×16|16-pixel|two CPU cores|2-core CPU", re.I)


@pytest.fixture(scope="module")
def paper_data(tmp_path_factory) -> dict[str, Path]:
    return make_paper_data(tmp_path_factory.mktemp("paper-data"))


def parameters(chapter: str, data: dict[str, Path]) -> dict:
    """The chapter's paper recipe at the tiny budget, on this machine's fixtures."""
    given = {"profile": "paper", "budget": "tiny"}
    if chapter == "review":
        return given
    given |= {"device": "cpu", "data_root": str(data["data_root"])}
    if chapter == "cdir":
        given |= {"benchmark_root": str(data["office_home"]), "captioner": "stand-in"}  # the hub captioner: offline here
    if chapter == "wsi":
        given |= {k: str(data[k]) for k in ("features_dir", "labels_csv", "splits_dir")}
    return given


def text_of(nb) -> list[tuple[int, str]]:
    """(cell index, text) of every markdown cell and every printed or displayed output."""
    out = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            out.append((i, cell.source))
        for output in cell.get("outputs", []):
            out += [(i, output.get("text", ""))] + [(i, output.get("data", {}).get(kind, ""))
                                                    for kind in ("text/markdown", "text/plain", "text/html")]
    return out


@pytest.mark.timeout(900)
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_a_chapter_runs_its_paper_recipe_end_to_end(chapter, paper_data, tmp_path, monkeypatch):
    import papermill

    monkeypatch.setenv("SSLLIB_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("SSLLIB_PAPERS", str(tmp_path / "papers"))  # no committed run: everything trains
    monkeypatch.setenv("SSLLIB_PROGRESS", "off")
    shutil.copytree(ROOT / "papers", tmp_path / "papers", ignore=shutil.ignore_patterns("runs"))
    executed = tmp_path / f"{chapter}.ipynb"
    papermill.execute_notebook(str(ROOT / "book" / f"{chapter}.ipynb"), str(executed),
                               parameters=parameters(chapter, paper_data), kernel_name="python3",
                               cwd=str(ROOT / "book"), progress_bar=False)
    nb = nbformat.read(executed, as_version=4)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    said = [f"cell {i}: {line.strip()}" for i, text in text_of(nb)
            for line in (text if isinstance(text, str) else "".join(text)).splitlines() if CPU_RUN.search(line)]
    assert not said, "sentences fixed to the cpu run:\n" + "\n".join(said)
