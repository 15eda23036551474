"""Citations and sources (issue 35): every page cites what it names, every reference links to the
work, the labels read as the citations do, and nothing points at the developers' specs.

Pure text work on the committed sources; ``tests/browser.py`` checks the rendered pages (tables
included, which code writes)."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from pybtex.database import parse_file

from ssllib.chapters import citations

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
PAGES = sorted(BOOK.glob("*.ipynb")) + [BOOK / "intro.md"]
sys.path.insert(0, str(BOOK / "_ext"))
sys.path.insert(0, str(ROOT / "tests"))
import bibyear  # noqa: E402
from browser import SPEC_REFERENCE  # noqa: E402

BIB = parse_file(str(BOOK / "references.bib")).entries


def markdown_of(page: Path) -> str:
    if page.suffix == ".md":
        return page.read_text()
    cells = json.loads(page.read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_a_page_cites_every_method_network_and_dataset_its_prose_names(page):
    assert citations.uncited(markdown_of(page)) == {}


def test_the_first_page_cites_every_paper_of_the_book():
    papers = {next(iter(parse_file(str(f)).entries)) for f in ROOT.glob("papers/*/citation.bib")}
    assert len(papers) == 8
    assert papers <= citations.cited_in(markdown_of(BOOK / "intro.md"))


def test_each_papers_citation_is_the_books_entry():
    text = (BOOK / "references.bib").read_text()
    for f in ROOT.glob("papers/*/citation.bib"):
        assert f.read_text().strip() in text, f


def test_every_cited_or_named_key_is_in_the_bibliography():
    cited = set().union(*(citations.cited_in(markdown_of(p)) for p in PAGES))
    named = {k for keys in [*citations.CITED.values(), *citations.PATTERNS.values()] for k in keys}
    assert (cited | named) - set(BIB) == set()


@pytest.mark.parametrize("key", sorted(BIB))
def test_every_reference_links_to_the_work(key):
    fields = BIB[key].fields
    assert {"eprint", "url", "doi"} & set(fields), f"{key}: no eprint, url or doi"
    if "eprint" in fields:
        assert fields.get("archivePrefix") == "arXiv" and re.fullmatch(r"\d{4}\.\d{4,5}", fields["eprint"])
        assert "arXiv:" not in fields.get("journal", "") + fields.get("note", ""), "the identifier belongs in eprint"


def test_the_index_names_every_reference():
    assert set(BIB) - set(citations.index_names()) == set()


def test_names_match_whole_words_longest_first():
    found = citations.named_in("MoCo-v2+ beside MoCo, DCD+KD on Tiny\nImageNet; resnet32x4 → ShuffleV1, "
                               "wrn_40_2; SynCo's queue; not ImageNets or xKD")
    assert set(found) == {"MoCo-v2+", "MoCo", "DCD", "KD", "Tiny ImageNet", "resnet32x4", "ShuffleV1",
                          "wrn_40_2", "SynCo"}
    assert found["MoCo-v2+"] == ("chen2020mocov2", "dacosta2022sololearn")
    assert citations.uncited("SimCLR {cite}`chen2020simclr` and BYOL") == {"BYOL": ("grill2020byol",)}


def test_reference_lists_label_entries_as_their_citations_read():
    entries = parse_file(str(BOOK / "references.bib")).entries
    for key, year in bibyear.disambiguate(entries).items():
        entries[key].fields["year"] = year
    style = bibyear.AuthorYearStyle()
    formatted = {e.key: e for e in style.format_entries(entries.values())}
    assert formatted["chen2020mocov2"].label == "Chen et al., 2020a"
    assert formatted["chen2020simclr"].label == "Chen et al., 2020b"
    assert formatted["oord2018cpc"].label == "van den Oord et al., 2018"
    assert formatted["hu2022ucdir"].label == "Hu and Lee, 2022"
    assert formatted["krizhevsky2009cifar"].label == "Krizhevsky, 2009"
    labels = [f.label for f in formatted.values()]
    assert len(labels) == len(set(labels))
    assert "Synthetic Hard Negatives for Contrastive" in formatted["giakoumoglou2024synco"].text.render_as("text")
    html = formatted["giakoumoglou2024synco"].text.render_as("html")  # the title as written, not lower-cased
    assert '<a href="https://arxiv.org/abs/2410.02401">arXiv:2410.02401</a>' in html


def _sources():
    for page in BOOK.glob("*.ipynb"):
        for i, cell in enumerate(json.loads(page.read_text())["cells"]):
            yield f"{page.name} cell {i}", "".join(cell["source"])
    for path in [*BOOK.glob("*.md"), *ROOT.glob("ssllib/**/*.py"), *ROOT.glob("papers/**/*.md"),
                 *ROOT.glob("papers/**/*.yaml"), *ROOT.glob("papers/**/*.csv"), ROOT / "README.md"]:
        yield str(path.relative_to(ROOT)), path.read_text()


def test_no_source_points_at_the_specs_the_repository_does_not_hold():
    found = [f"{where}: {m.group(0)!r}" for where, text in _sources() for m in SPEC_REFERENCE.finditer(text)]
    assert found == []
