"""The paper path, end to end: every chapter executed at ``profile=paper`` on fixtures written in
its datasets' own on-disk formats (ImageNet folders, CIFAR-10 and -100, STL-10, Office-Home, CLAM
features), shrunk only by ``budget="tiny"`` (one epoch of two small batches, every warm-up and
milestone scaled with it; :mod:`ssllib.chapters.budget`). Nothing else is overridden but where the
data is and the CPU. A crash after the training it guards, a printed sentence fixed to the cpu
run, or a run filed as the profile's own result fails here, not on a GPU days later.

To stay inside the test budget, SynCo and the ViT chapter run their papers' CIFAR-100 recipes
(the paper profile's CIFAR overlay) rather than ImageNet at 224 px; the foundations chapter covers
the ImageNet folders at 224 px, and ``benchmarks/paper-dry-run.py`` runs every chapter on its
default paper dataset."""
from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from fixtures import make_paper_data
from paper_dry_run import CHAPTERS, copy_papers, execute, parameters

# What the cpu run's prose names and a paper run must not print: its data, resolution and machine.
CPU_RUN = re.compile(r"Fashion-MNIST|6,400|16×16|16-pixel|two CPU cores|2-core CPU", re.I)
# Prose names it in more ways than a printed line can (a fixture's images may be 16 px).
CPU_PROSE = re.compile(CPU_RUN.pattern + r"|16 px|5,120 |minutes on|a few minutes", re.I)
DATASET = {"synco": "cifar100", "synco_vit": "cifar100"}


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> dict[str, Path]:
    """Fixtures, one results folder for the module (the chapters share runs as in the book: the
    Caption-Matching chapter reads the foundations chapter's encoders) and papers/ without runs."""
    root = tmp_path_factory.mktemp("paper-dry-run")
    return {**make_paper_data(root / "data"), "results": root / "results",
            "papers": copy_papers(root / "papers")}


def printed(nb) -> list[tuple[int, str]]:
    """(cell index, line) of every printed or displayed output: what the run wrote about itself.
    Not the settings tables (each parameter's documentation names every choice it has), nor the
    chapters' prose between the code (:func:`test_prose_that_describes_the_cpu_run_says_so`)."""
    out = []
    for i, cell in enumerate(nb.cells):
        if "settings_table(" in cell.source:
            continue
        for output in cell.get("outputs", []):
            for text in [output.get("text", "")] + [output.get("data", {}).get(k, "") for k in ("text/markdown",
                                                                                             "text/plain")]:
                out += [(i, line) for line in ("".join(text) if isinstance(text, list) else text).splitlines()]
    return out


@pytest.mark.timeout(900)
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_a_chapter_runs_its_paper_recipe_end_to_end(chapter, shared, tmp_path):
    executed = tmp_path / f"{chapter}.ipynb"
    execute(chapter, parameters(chapter, shared, DATASET.get(chapter)), executed, shared["results"], shared["papers"])
    nb = nbformat.read(executed, as_version=4)
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    if chapter == "review":  # it shows every profile's committed runs beside the papers, the cpu ones included
        return
    said = [f"cell {i}: {line.strip()}" for i, line in printed(nb) if CPU_RUN.search(line)]
    assert not said, "printed sentences fixed to the cpu run:\n" + "\n".join(said)
    records = [json.loads(p.read_text()) for p in (shared["results"] / "runs").glob("*/record.json")]
    assert records and {r["profile"] for r in records if r["paper"] == chapter.replace("_", "-")} <= {"paper-tiny"}


def paragraphs_naming_the_cpu_run(nb) -> list[str]:
    """Markdown paragraphs that name the cpu run's data, resolution or machine without naming the
    ``cpu`` profile they describe."""
    return [f"cell {i}: {paragraph[:160]}…" for i, cell in enumerate(nb.cells) if cell.cell_type == "markdown"
            for paragraph in cell.source.split("\n\n") if CPU_PROSE.search(paragraph) and "`cpu`" not in paragraph]


@pytest.mark.parametrize("chapter", [*CHAPTERS])
def test_prose_that_describes_the_cpu_run_says_so(chapter):
    """The prose is the same at every profile: what a run used is printed by the code (the
    'This run' paragraphs, the captions), and a sentence that describes the book's own cpu run
    (to explain its choices) says that it does, so a paper run's reader is never told it ran on
    Fashion-MNIST at 16 px."""
    nb = nbformat.read(Path(__file__).resolve().parent.parent / "book" / f"{chapter}.ipynb", as_version=4)
    unscoped = paragraphs_naming_the_cpu_run(nb)
    assert not unscoped, "paragraphs that describe the cpu run as if it were any run:\n" + "\n".join(unscoped)
