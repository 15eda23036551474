"""No markdown cell of the book states a measured number (issue 34).

A number a run measured is printed by code from a committed record, never typed into prose. So
every literal number left in a chapter's markdown, once math, code, MyST roles and directives,
URLs and the numbers that are part of a name (ResNet-50, CIFAR-100, top-1, 1k, 16px, 2×224,
v2, VOC07+12) are taken out, must be one of:

- a published value: any number in ``papers/*/reported.csv`` or ``papers/review/field.csv``
  (the value, its std, its epochs and runs, and the numbers its note and source quote);
- a recipe setting: any number in a chapter's profiles, dataset overlays or parameter help
  (``ssllib.chapters.chapter_specs()``), or in a recipe file ``papers/*/*.yaml``;
- one of the few numbers of :data:`ALLOWED` (any chapter) or :data:`ALLOWED_IN` (one chapter)
  below, each with its reason (none of them measured by the book).

A number typed with its sign ("+3.6 points") is a difference, computed even when both ends are
published, so it is refused whatever its value. The bodies of admonitions ("Reproduce on GPU") are
prose and are checked; the commands indented in them are not.

The extraction is pure text work on the committed notebooks: nothing is executed."""
from __future__ import annotations

import csv
import json
import math
import re
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
PAPERS = ROOT / "papers"

# Numbers prose may state that are neither in a published table nor a setting, each with why it
# is not a measurement of ours. Never add a number a run produced: print it from its record instead.
ALLOWED = {
    **{n: "a small count (seeds, methods, views, types, items of a list)" for n in range(11)},
    95: "the level of every interval: '95% interval', '95% CI'",
    60000: "Fashion-MNIST's training set (the dataset's definition)",
    10000: "Fashion-MNIST's test set (the dataset's definition)",
}
# The same, for one chapter only.
ALLOWED_IN = {
    "cdir": {15588: "Office-Home's image count (the dataset's definition)"},
    "dcd": {1198: "the digits transfer set's training split: two thirds of scikit-learn's 1,797 images, "
                  "fixed by the loader",
            599: "the digits transfer set's test split, the remaining third",
            187000: "the benchmark's steps per student, 240 epochs × 50,000 images / batch 64 (recipe arithmetic)"},
    "foundations": {20000: "how many crop boxes the cell below draws from each sampler (a literal of its code)",
                    53: "the MoCo authors' published cost, 53 hours on eight V100s (their README; a cost, so "
                        "not a row of reported.csv)"},
    "rrd": {999: "chance level of the neighbour overlap: 10 of the other 999 of the 1,000 images the cell uses",
            187000: "the benchmark's steps per student, 240 epochs × 50,000 images / batch 64 (recipe arithmetic)"},
    "synco": {53: "the MoCo authors' published cost, as in the foundations chapter"},
    "synco_vit": {384: "ViT-S's width (the architecture's definition)",
                  12: "ViT-S's depth and heads (the architecture's definition)",
                  1.28: "ImageNet-1k's 1.28 million training images (the dataset's definition)",
                  750000: "the paper's steps per run, 300 epochs × 1.28 M images / batch 512 (recipe arithmetic)"},
}

# A number as prose writes it: 4,096 / 3.5 / .5 (the book uses no decimal comma).
NUMBER = re.compile(r"(?<![\w.,])(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?(?![\w])|(?<![\w.,])\.\d+(?![\w])")
# A number written with its sign, "+3.6 points", "(-0.4 …": a difference, so computed, whatever its value.
SIGNED = re.compile(r"(?:^|(?<=[\s(\[]))[+-]$")
# Signed numbers that are definitions, not differences.
SIGNED_ALLOWED = {-1.0: "the lower bound of a correlation (Kendall's τ = −1: the reversed order)"}

# Directives whose body is prose, checked like the rest (their fences and options are not).
PROSE_DIRECTIVES = ("admonition", "note", "tip", "warning", "important", "hint", "caution", "attention",
                    "danger", "error", "seealso", "dropdown", "margin", "sidebar", "topic")

# What holds no prose number: math, code, MyST roles and directives, links' targets, HTML tags.
STRIP = [
    re.compile(r"\$\$.*?\$\$", re.S),               # display math
    re.compile(r"(?<!\\)\$[^$\n]+?(?<!\\)\$"),      # inline math
    re.compile(r"\{[\w:-]+\}`[^`]*`"),              # roles: {cite}`…`, {numref}`…`, {eq}`…`
    re.compile(r"`[^`\n]*`"),                       # code spans
    re.compile(r"^:[\w-]+:.*$", re.M),              # directive options (:class: tip, :width: 80%)
    re.compile(r"\]\([^)]*\)"),                     # link targets: [text](chapter.ipynb#…)
    re.compile(r"https?://\S+"),                    # bare URLs
    re.compile(r"<[^>\n]+>"),                       # HTML tags and their attributes
    re.compile(r"^ {4,}\S.*$", re.M),               # indented code (commands in admonitions)
]

# Numbers that are part of a name: ResNet-50, CIFAR-100, top-1, MoCo-v2, VOC07+12, R50-C4,
# ImageNet-1k, 16px, 2×224, 8×8, 5e-4, wrn_40_2, resnet110 → resnet20, arXiv 2403.15152,
# κ_max 10⁶, section numbers "§4".
NAMES = [
    re.compile(r"\b\d+(?:\.\d+)?\s*[×x]\s*\d+(?:\.\d+)?(?:\s*[×x]\s*\d+)?"),  # 2×224, 8×8, 16 × 16
    re.compile(r"[A-Za-z_]+[\w]*(?:[-‑_+./]?\d+)+(?:[-‑_+][A-Za-z0-9]+)*"),   # letters then digits
    re.compile(r"\b\d+(?:\.\d+)?[A-Za-z_]+\w*"),                              # digits then letters: 1k, 16px, 5e-4
    re.compile(r"\barXiv:?\s*\d{4}\.\d{4,5}(?:v\d+)?", re.I),
    re.compile(r"§\s*[\d.]+"),
    re.compile(r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?[-‑](?=[A-Za-z])"),      # "2-core", "1,000-image"
]


FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*(?:\{([\w-]+)\})?")


def unfenced(markdown: str) -> str:
    """The markdown without fenced blocks (code, math, figures, every directive), except the bodies
    of the directives in :data:`PROSE_DIRECTIVES`, which stay as prose without their fences."""
    kept, open_fences = [], []      # (fence, body kept?) of the blocks around the line, innermost last
    for line in markdown.splitlines():
        match = FENCE.match(line)
        if match and open_fences and line.strip() == open_fences[-1][0]:
            open_fences.pop()
        elif match:
            open_fences.append((match.group(1), match.group(2) in PROSE_DIRECTIVES))
        elif all(keep for _, keep in open_fences):
            kept.append(line)
    return "\n".join(kept)


def prose(markdown: str) -> str:
    """The markdown with everything that is not running prose blanked out."""
    markdown = unfenced(markdown)
    for pattern in STRIP:
        markdown = pattern.sub(" ", markdown)
    for pattern in NAMES:
        markdown = pattern.sub(" ", markdown)
    return markdown


def as_number(text: str) -> float:
    return float(text.replace(",", ""))


def numbers_in(text: str) -> list[float]:
    """Every number a piece of text holds, by the same pattern as the prose's."""
    return [as_number(m.group()) for m in NUMBER.finditer(text.replace("−", "-"))]


def _numbers_of(value, into: set) -> None:
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, (int, float)):
        if math.isfinite(value):
            into.add(float(value))
    elif isinstance(value, str):
        into.update(numbers_in(value))
    elif isinstance(value, dict):
        for v in value.values():
            _numbers_of(v, into)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for v in value:
            _numbers_of(v, into)


@lru_cache(maxsize=None)
def published() -> frozenset:
    """Every number of the published tables: each cell of reported.csv and field.csv."""
    found: set = set()
    for path in [*PAPERS.glob("*/reported.csv"), PAPERS / "review" / "field.csv"]:
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                for cell in row.values():
                    _numbers_of(cell, found)
    return frozenset(found)


@lru_cache(maxsize=None)
def settings() -> frozenset:
    """Every number of the recipes: chapters' profiles, overlays and parameter help, and papers/*/*.yaml."""
    from ssllib.chapters import chapter_specs

    found: set = set()
    for spec in chapter_specs().values():
        _numbers_of(spec.profiles, found)
        _numbers_of(spec.overlays, found)
        for param in spec.params.values():
            _numbers_of(param.help, found)
            _numbers_of(list(param.choices or ()), found)
    for path in PAPERS.glob("*/*.yaml"):
        _numbers_of(path.read_text(encoding="utf-8"), found)
    return frozenset(found)


def allowed(number: float, chapter: str = "") -> bool:
    return any(math.isclose(number, known, rel_tol=0, abs_tol=1e-9)
               for known in (*published(), *settings(), *ALLOWED, *ALLOWED_IN.get(chapter, {})))


def _sentence(text: str, start: int, end: int) -> str:
    left = max(text.rfind(". ", 0, start), text.rfind("\n\n", 0, start))
    right = text.find(". ", end)
    right = len(text) if right < 0 else right + 1
    return " ".join(text[left + 1:right].split())


def violations(notebook: Path) -> list[str]:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    found = []
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "markdown":
            continue
        source = "".join(cell["source"])
        text = prose(source).replace("−", "-")
        for match in NUMBER.finditer(text):
            number = as_number(match.group())
            signed = SIGNED.search(text[max(0, match.start() - 2):match.start()])
            if signed and float(signed.group() + str(number)) in SIGNED_ALLOWED:
                signed = None
            if signed or not allowed(number, notebook.stem):
                shown = (signed.group() if signed else "") + match.group()
                at = re.search(r"(?<![\w.,])" + re.escape(shown) + r"(?![\w])", source.replace("−", "-"))
                context = _sentence(source, at.start(), at.end()) if at else shown
                why = "a signed number, a difference" if signed else "neither published nor a setting"
                found.append(f"{notebook.name} cell {index}: {shown} ({why}) in: {context}")
    return found


NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_markdown_states_no_measured_number(notebook):
    found = violations(notebook)
    assert not found, ("numbers in prose that are not published values (reported.csv, field.csv) or recipe "
                       "settings; print them by code from a committed record instead:\n" + "\n".join(found))


def test_the_extraction_keeps_names_math_and_code_out():
    text = ("ResNet-50 on CIFAR-100, top-1 of MoCo-v2 on ImageNet-1k at 2×224 and 16 px, VOC07+12 with R50-C4; "
            "$\\tau = 0.2$ and `lr=0.03` and {cite}`he2020moco` and {numref}`fig-3`; see "
            "[the chapter](rrd.ipynb#section-2) and https://arxiv.org/abs/2403.15152.")
    assert numbers_in(prose(text)) == [16.0]


def test_the_extraction_finds_a_measured_number():
    text = "width 16 ended 3.5 kNN points above, at width 32 2.0 and at width 8 8.7; 62.44 against 67.45 (4,096)."
    assert numbers_in(prose(text)) == [16, 3.5, 32, 2.0, 8, 8.7, 62.44, 67.45, 4096]
    assert not allowed(62.44) and not allowed(8.7) and allowed(4096) and allowed(95)
    assert allowed(1198, "dcd") and not allowed(1198, "rrd")


def test_admonition_bodies_are_prose_and_code_blocks_are_not(tmp_path):
    cell = ("Before.\n\n```{admonition} Reproduce on GPU\n:class: tip\n\nIt took 62.44 hours.\n\n"
            "    papermill book/x.ipynb -p epochs 12345\n```\n\n```python\nx = 67.45\n```\n\n"
            "```{math}\n3.25\n```\nMoCo v2 +0.8 points after 200 epochs.")
    notebook = tmp_path / "x.ipynb"
    notebook.write_text(json.dumps({"cells": [{"cell_type": "markdown", "source": cell}]}))
    found = violations(notebook)
    assert [line.split(" (")[0] for line in found] == ["x.ipynb cell 0: 62.44", "x.ipynb cell 0: +0.8"]
    assert "a signed number, a difference" in found[1] and "MoCo v2 +0.8 points" in found[1]
