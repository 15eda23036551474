"""The book as readers see it: every page of the committed book, rendered and opened in the
system Chromium at 1280 and 390 px (``tests/browser.py`` holds the checks), and a page made broken
on purpose to show that each check fails when it should."""
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import browser  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def _why_not() -> str | None:
    """One sentence saying why the browser checks cannot run here, or None."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (make setup installs it with the dev extras)"
    if browser.chromium_path() is None:
        return "no Chromium is installed (make setup installs Debian's chromium where apt works)"
    if not (ROOT / "_static" / "mathjax" / "startup.js").exists():
        return ("MathJax's loader is not in _static/mathjax (make mathjax fetches it from npm, and replaces a "
                "copy of another layout)")
    return None


pytestmark = pytest.mark.skipif(_why_not() is not None, reason=_why_not() or "")


@pytest.fixture(scope="module")
def committed_book(tmp_path_factory):
    """The book as a reader gets it: the committed chapters (executed at the cpu profile by the
    build, and fresh: tests/test_notebooks.py checks that) rendered into a temporary folder, as
    ``make book`` renders them. nbval executes every chapter at the smoke profile already; a second
    smoke execution here only to render it doubled the test time, and showed pages nobody reads."""
    from ssllib import book

    root = tmp_path_factory.mktemp("book")
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, root / name)
    shutil.copytree(ROOT / "_static", root / "_static")
    shutil.copytree(ROOT / "book", root / "book")
    return book.render(root, quiet=True)


@pytest.mark.timeout(900)
def test_every_page_of_the_book_reads_well(committed_book):
    problems = browser.check_book(committed_book, ROOT / "_build" / "screenshots")
    assert set(problems) >= {"book/intro.html", *(f"book/{p.stem}.html" for p in (ROOT / "book").glob("*.ipynb"))}
    found = {page: issues for page, issues in problems.items() if issues}
    assert not found, "\n".join(f"{page}: {'; '.join(issues)}" for page, issues in found.items())
    assert len(list((ROOT / "_build" / "screenshots").glob("*.png"))) >= len(problems)


BROKEN_PAGE = """<!doctype html><html><head><title>broken</title></head><body><main>
<h1>A broken page</h1>
<p>A formula left as text: $$\\frac{a}{b}$$</p>
<img src="missing.png" alt="a figure that is not there">
<img src="dot.png">
<table><tr><th>only a header</th></tr></table>
<pre>{wide}</pre>
<div class="output stderr">Traceback (most recent call last): boom</div>
<a href="other.html#nowhere">a link to a missing anchor</a> <a href="gone.html">a link to a missing page</a>
<img src="https://example.org/tracker.png" alt="from another host">
<section><h2>Appendix: the settings of this run</h2></section>
<section><h2>The idea</h2></section><section><h2>Results</h2></section><section><h2>Takeaways</h2></section>
<section><h2>Limits</h2></section>
<figure id="fig-unnumbered"><img src="dot.png" alt="a dot"><figcaption>no number</figcaption></figure>
<figure id="fig-unreferenced"><img src="dot.png" alt="a dot"><figcaption><span class="caption-number">Figure 1
</span>never referred to</figcaption></figure>
<span class="bibtex-citation"><a href="#c1" title="Paper one">Chen et al., 2020</a></span>
<span class="bibtex-citation"><a href="#c2" title="Paper two">Chen et al., 2020</a></span>
<span class="bibtex-citation"><a href="other.html#here" title="Paper three">Far, 2021</a></span>
<span id="c1"></span><span id="c2"></span>
<script>console.error("a console error on purpose")</script>
<script>throw new Error("a page error on purpose")</script>
<script src="mathjax/tex-chtml.js"></script><script src="mathjax/tex-chtml.js"></script>
<script src="heavy.js"></script>
<button class="primary-toggle">a navigation toggle that does nothing</button>
<nav class="bd-docs-nav" hidden><a href="other.html">the chapter list, never shown</a></nav>
</main></body></html>
"""
# A page that passes every check: the navigation toggle shows the chapter list.
GOOD_PAGE = """<html><head><title>o</title></head><body><main><h1 id="here">o</h1>
<button class="primary-toggle" onclick="document.querySelector('nav.bd-docs-nav').hidden = false">menu</button>
<nav class="bd-docs-nav" hidden><a href="page.html">a chapter</a></nav>
</main></body></html>
"""


@pytest.mark.timeout(120)
def test_each_check_fails_on_a_page_made_broken_on_purpose(tmp_path):
    (tmp_path / "page.html").write_text(BROKEN_PAGE.replace("{wide}", "x" * 400))
    (tmp_path / "other.html").write_text(GOOD_PAGE)
    (tmp_path / "bare.html").write_text('<html><head><title>b</title></head><body><main><h1>no navigation</h1>'
                                        '</main></body></html>')
    (tmp_path / "mathjax").mkdir()
    (tmp_path / "mathjax" / "tex-chtml.js").write_text("// MathJax, loaded twice\n")
    (tmp_path / "heavy.js").write_text("//" + "x" * (browser.MAX_PAGE_BYTES + 100_000) + "\n")
    # a valid 1×1 PNG, shown without alt text or caption
    (tmp_path / "dot.png").write_bytes(bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000 1f15c4890000000d49444154789c6360000002000154a24f5d"
        "0000000049454e44ae426082".replace(" ", "")))
    found = browser.check_book(tmp_path)
    problems = found["page.html"]
    text = "\n".join(problems)
    for expected in ("raw TeX is left in the text: $$, \\frac", "an image did not load: missing.png",
                     "an image has neither alt text nor a caption: dot.png", "1 table(s) have no rows",
                     "traceback or stderr block", "wider than the text column: PRE",
                     "the page scrolls sideways", "missing anchor", "not in the book: ",
                     "the page asked other hosts: example.org", "an image is not in a captioned figure: dot.png",
                     "a figure has no number: fig-unnumbered", "no text refers to the figure fig-unreferenced",
                     "the first section is 'Appendix: the settings of this run'",
                     "the settings section is not an appendix", "has no reference list of its own",
                     "citations point at another page's reference list: Far, 2021",
                     "the label 'Chen et al., 2020' stands for 2 different papers",
                     "console error: a console error on purpose (", "page error: a page error on purpose (at 1280 px)",
                     "page error: a page error on purpose (at 390 px)",
                     "2 MathJax <script> tags in the page (at most one): tex-chtml.js",
                     "the page's first load transfers 2.6", "heaviest: heavy.js 2.60 MB",
                     "at 390 px the navigation toggle does not open the chapter list (nav.bd-docs-nav)"):
        assert expected in text, (expected, problems)
    assert found["bare.html"] == ["no visible navigation toggle (.primary-toggle) at 390 px"]
    assert found["other.html"] == []


@pytest.mark.timeout(300)
def test_search_snippets_read_as_prose(committed_book):
    assert browser.search_snippet_problems(committed_book) == []


SOURCES_PAGE = """<!doctype html><html><head><title>sources</title></head><body><main><h1>Sources</h1>
<p>The recipe follows specs/synco.md, as the spec says.</p>
<p>BYOL <span class="bibtex-citation">[<a href="#cite-byol" title="J.-B. Grill and others. Bootstrap your own latent:
a new approach to self-supervised learning. NeurIPS, 2020.">Grill et al., 2020</a>]</span></p>
<table><thead><tr><th>method</th><th>CIFAR-10</th></tr></thead>
<tbody><tr><td>SimCLR</td><td>1</td></tr><tr><td>BYOL</td><td>2</td></tr><tr><td>raw pixels</td><td>3</td></tr></tbody></table>
<div class="citation" id="cite-byol"></div>
</main></body></html>
"""


def test_source_and_citation_checks_fail_on_a_page_made_broken_on_purpose(tmp_path):
    (tmp_path / "page.html").write_text(SOURCES_PAGE)
    problems = browser.check_book(tmp_path)["page.html"]
    text = "\n".join(problems)
    assert "2 reference(s) to the specs, which the repository does not hold: specs/, the spec" in text, problems
    assert "a table names SimCLR but the page does not cite chen2020simclr" in text, problems
    assert "a table names CIFAR-10 but the page does not cite krizhevsky2009cifar" in text, problems
    assert "BYOL" not in text and "raw pixels" not in text, problems


TABLES_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>tables</title></head><body><main><h1>Tables</h1>
<table><tr><th>method</th><th>top-1</th></tr><tr><td>MoCo-v2</td><td>73.5</td></tr></table>
<table><caption>what it shows, unnumbered</caption><tr><th>a</th></tr><tr><td>1</td></tr></table>
<table><caption><span class="caption-number">Table 3 </span>out of order</caption><tr><th>a</th></tr>
<tr><td>&lt;NA&gt;</td></tr><tr><td>nan ± nan</td></tr><tr><td>None</td></tr></table>
<details><table><caption>Table 1 collapsed</caption><tr><th>lr</th></tr><tr><td>nan</td></tr></table></details>
</main></body></html>
"""


@pytest.mark.timeout(120)
def test_the_table_checks_fail_on_tables_made_wrong_on_purpose(tmp_path):
    (tmp_path / "page.html").write_text(TABLES_PAGE)
    (tmp_path / "good.html").write_text(
        '<html><head><meta charset="utf-8"><title>g</title></head><body><main><h1>g</h1><div class="ssl-table"><table><caption>'
        '<span class="caption-number">Table 1 </span><span class="caption-text">Top-1 (%), mean ± std over 3 seeds.'
        '</span></caption><tr><th>method</th><th>epochs</th></tr><tr><th>MoCo-v2</th><td>—</td></tr></table></div>'
        '</main></body></html>')
    problems = browser.check_book(tmp_path)
    text = "\n".join(problems["page.html"])
    for expected in ("a table has no caption: method | top-1 | MoCo-v2 | 73.5",
                     "a table's caption has no number: what it shows, unnumbered",
                     "missing value as program output (<NA>, None, nan ± nan): Table 3 out of order",
                     "missing value as program output (nan): Table 1 collapsed",
                     "the tables are numbered 3, 1, not 1, 2, 3"):
        assert expected in text, (expected, problems["page.html"])
    # the good page passes the table checks (the page-wide ones, a navigation toggle or a
    # citation of the method it names, are not what it is for)
    assert [p for p in problems["good.html"] if "table" in p and "cite" not in p] == []


FIGURES_PAGE = """<!doctype html><html><head><title>figures</title><style>img {max-width: 100%} figure {margin: 0}</style></head>
<body><main><h1>Figures</h1>
<div style="width: 672px">
<figure id="f1"><img src="legible.png" alt="a"><figcaption><span class="caption-number">Figure 1 </span>Legible.
</figcaption></figure>
<figure id="f2"><img src="small.png" alt="b"><figcaption><span class="caption-number">Figure 2 </span>The same caption.
</figcaption></figure>
<figure id="f3"><img src="wide.png" alt="c"><figcaption><span class="caption-number">Figure 3 </span>The same caption.
</figcaption></figure>
<figure id="f4"><img src="plain.png" alt="d"><figcaption><span class="caption-number">Figure 4 </span>Plain.
</figcaption></figure>
</div><p><a href="#f1">1</a> <a href="#f2">2</a> <a href="#f3">3</a> <a href="#f4">4</a></p>
</main></body></html>
"""


@pytest.mark.timeout(120)
def test_figure_text_is_measured_as_displayed_and_captions_are_unique(tmp_path):
    import matplotlib.pyplot as plt

    from ssllib.chapters import style

    def save(name, fig):
        fig.savefig(tmp_path / name, format="png", bbox_inches="tight")
        plt.close(fig)

    fig, ax = style.subplots(height=2.0)
    ax.plot([0, 1], [0, 1])
    ax.set_xlabel("epoch")
    save("legible.png", fig)                   # the book's sizes: no problem
    fig, ax = style.subplots(height=2.0)
    ax.set_title("tiny", fontsize=5)
    save("small.png", fig)                     # 5 pt: 7 px as displayed
    fig, ax = style.subplots(height=2.0)
    fig.set_size_inches(2 * style.WIDTH, 2.0)  # twice the column: shown at half its size
    ax.set_xlabel("epoch")
    save("wide.png", fig)
    fig, ax = plt.subplots(figsize=(6, 2))     # not drawn through the style: no record
    ax.plot([0, 1])
    save("plain.png", fig)
    (tmp_path / "page.html").write_text(FIGURES_PAGE)
    problems = browser.check_book(tmp_path)["page.html"]
    text = "\n".join(problems)
    assert "Figure 1" not in text, problems
    assert "Figure 2: its smallest text ('tiny') is 7.0 px as displayed" in text, problems
    assert "Figure 3: its smallest text" in text and "shown at 672 px" in text, problems
    assert "Figure 4: the image does not record its text size" in text, problems
    assert "Figure 2 and Figure 3 have the same caption: 'The same caption.'" in text, problems
