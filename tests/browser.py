"""Open a rendered book in headless Chromium and check every page as a reader would see it.

Used by ``tests/test_browser.py``; runnable on its own on any built book:

    python tests/browser.py _build/html [--screenshots _build/screenshots]

Each page is served from 127.0.0.1 and checked for: a title; MathJax typeset every formula and
no raw TeX is left in the text; every image loaded and has alt text or a caption; every table
has rows; no traceback or stderr block; every internal link and citation resolves; no request
left 127.0.0.1; nothing wider than the 1280-px viewport; every image in a numbered, captioned
figure that the text refers to; a chapter opens with "The idea" and keeps its settings for an
appendix; citations resolve to the page's own reference list and no label names two papers; no
console error and no uncaught page error (at 1280 and at 390 px); the page's first load, with an
empty cache, transfers at most ``MAX_PAGE_BYTES``; at most one MathJax ``<script>`` in its HTML;
at 390 px a reader can open the chapter list with the navigation toggle; figure text is at least
9 px as displayed and no two figures of a page share a caption. A list of problems
comes back, one sentence each.
"""
from __future__ import annotations

import argparse
import functools
import re
import http.server
import shutil
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

VIEWPORT = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# What a page's first load (empty cache) may transfer, every request's response body summed.
MAX_PAGE_BYTES = 2_500_000
# The theme's navigation toggle and the chapter list it opens (pydata-sphinx-theme's class names).
NAV_TOGGLE = ".primary-toggle"
CHAPTER_LIST = "nav.bd-docs-nav"
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")

# Runs in the page: what a reader sees, measured after MathJax has finished.
PAGE_FACTS = r"""
async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  const main = document.querySelector('main') || document.body;
  const clone = main.cloneNode(true);
  clone.querySelectorAll('pre, code, mjx-container, script, style, .highlight').forEach(e => e.remove());
  const text = clone.innerText;
  const width = document.documentElement.clientWidth;
  const wide = [];
  main.querySelectorAll('pre, table, img, .cell_output, .output, div.highlight, mjx-container[display="true"], figure')
      .forEach(e => {
    const r = e.getBoundingClientRect();
    if (r.width === 0) return;
    if (e.tagName === 'TABLE' && e.parentElement.matches('div.ssl-table')) return;  // scrolls in its box, checked below
    if (r.right > width + 1 || e.scrollWidth > e.clientWidth + 1) {
      wide.push((e.tagName + '.' + (e.className || '')).slice(0, 60) + ': ' + (e.innerText || e.src || '').replace(/\s+/g, ' ').slice(0, 60));
    }
  });
  main.querySelectorAll('div.ssl-table').forEach(box => {  // a table's own scroll box must fit the page
    const r = box.getBoundingClientRect();
    if (r.width > 0 && r.right > width + 1) wide.push('a table box: ' + box.innerText.replace(/\s+/g, ' ').slice(0, 60));
  });
  return {
    title: document.title,
    h1: (document.querySelector('main h1') || {}).innerText || '',
    mathSources: main.querySelectorAll('.math, span.math, div.math').length,
    typeset: main.querySelectorAll('mjx-container').length,
    rawTex: ['$$', '\\frac', '\\begin{', '\\mathcal', '\\(', '\\['].filter(t => text.includes(t)),
    images: [...main.querySelectorAll('img')].map(i => ({src: i.getAttribute('src'), ok: i.complete && i.naturalWidth > 0,
        alt: (i.getAttribute('alt') || '').trim(), caption: !!i.closest('figure')?.querySelector('figcaption')})),
    emptyTables: [...main.querySelectorAll('table')].filter(t => t.querySelectorAll('tbody tr, tr').length < 2).length,
    errors: main.querySelectorAll('.stderr, .output_stderr, .traceback, .output.error').length
            + (main.innerText.includes('Traceback (most recent call last)') ? 1 : 0),
    links: [...main.querySelectorAll('a[href]')].map(a => a.href),
    figures: [...main.querySelectorAll('figure')].map(f => ({id: f.id || (f.querySelector('[id]') || {}).id || '',
        numbered: !!f.querySelector('figcaption .caption-number'), hasImage: !!f.querySelector('img')})),
    referenced: [...main.querySelectorAll('a[href*="#"]')].filter(a => !a.classList.contains('headerlink'))
        .map(a => a.getAttribute('href').split('#')[1]),
    headings: [...main.querySelectorAll('section > h2')].map(h => h.innerText.replace(/#$/, '').trim()),
    citations: [...main.querySelectorAll('.bibtex-citation a')].map(a => ({text: a.innerText.trim(),
        href: a.getAttribute('href'), title: a.getAttribute('title') || ''})),
    bibliography: main.querySelectorAll('.bibliography, div.citation, dl.citation').length,
    tables: [...main.querySelectorAll('table')].map(t => ({caption: (t.querySelector(':scope > caption') || {}).textContent || '',
        cells: [...t.querySelectorAll('th, td')].map(c => c.textContent.trim())})),  // collapsed cells too
    pageScroll: document.scrollingElement.scrollWidth - width,
    wide: wide,
  };
}
"""


@contextmanager
def served(folder: Path):
    """An HTTP server for ``folder`` on 127.0.0.1 (a free port); yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def chromium_path() -> str | None:
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    return shutil.which("chromium")


def pages_of(html: Path) -> list[str]:
    """The book's pages, relative to its root: every .html file except Sphinx's own."""
    skip = {"genindex.html", "search.html", "index.html"}
    return sorted(str(p.relative_to(html)) for p in html.rglob("*.html")
                  if p.name not in skip and "_static" not in p.parts and "_sources" not in p.parts)


def check_book(html: Path, screenshots: Path | None = None) -> dict[str, list[str]]:
    """{page: [problem, …]} for every page of the book rendered in ``html``."""
    from playwright.sync_api import sync_playwright

    problems: dict[str, list[str]] = {}
    with served(html) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        anchors: dict[str, set[str]] = {}
        for name in pages_of(html):
            found: list[str] = []
            url = urljoin(base, name)
            # A fresh context per page: an empty cache, so what it transfers is a reader's first load.
            context = browser.new_context(viewport=VIEWPORT)
            page = context.new_page()
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            loaded: list = []
            page.on("requestfinished", lambda r: loaded.append(r))
            errors = _collect_errors(page)
            response = page.goto(url, wait_until="load")
            if response is None or response.status != 200:
                problems[name] = [f"the page did not load (status {getattr(response, 'status', None)})"]
                context.close()
                continue
            facts = page.evaluate(PAGE_FACTS)
            _settle(page, requests)  # the fonts MathJax asks for once it has typeset
            found += _weight_problems(loaded)
            found += _mathjax_script_problems(response.text())
            if not facts["title"].strip() or not facts["h1"].strip():
                found.append("the page has no title or no heading")
            if facts["mathSources"] and facts["typeset"] < facts["mathSources"]:
                found.append(f"MathJax typeset {facts['typeset']} of {facts['mathSources']} formulas")
            if facts["rawTex"]:
                found.append(f"raw TeX is left in the text: {', '.join(facts['rawTex'])}")
            for image in facts["images"]:
                if not image["ok"]:
                    found.append(f"an image did not load: {image['src']}")
                elif not image["alt"] and not image["caption"]:
                    found.append(f"an image has neither alt text nor a caption: {image['src']}")
            found += _figure_problems(facts)
            found += figure_text_problems(page, html)
            found += _shape_problems(facts)
            found += _citation_problems(facts)
            found += sources_and_citations(page.evaluate(SOURCE_FACTS))
            found += _table_problems(facts)
            if facts["emptyTables"]:
                found.append(f"{facts['emptyTables']} table(s) have no rows")
            if facts["errors"]:
                found.append(f"{facts['errors']} traceback or stderr block(s) are shown")
            if facts["pageScroll"] > 1:
                found.append(f"the page scrolls sideways by {facts['pageScroll']} px at 1280 px")
            for block in facts["wide"]:
                found.append(f"wider than the text column: {block}")
            outside = sorted({urlparse(r).netloc for r in requests if urlparse(r).hostname not in ("127.0.0.1", None)
                              and not r.startswith("data:")})
            if outside:
                found.append(f"the page asked other hosts: {', '.join(outside)}")
            found += _broken_links(html, base, facts["links"], anchors)
            shot = None
            if screenshots is not None:
                screenshots.mkdir(parents=True, exist_ok=True)
                shot = screenshots / name.replace("/", "_").removesuffix(".html")
                page.screenshot(path=f"{shot}.png", full_page=True)
            found += [f"{e} (at 1280 px)" for e in errors]
            context.close()
            found += _phone_problems(browser, url, shot, html)
            problems[name] = found
        browser.close()
    return problems


def _settle(page, requests: list, quiet_ms: int = 500, most_ms: int = 5000) -> None:
    """Wait until the page has asked for nothing new for ``quiet_ms`` (at most ``most_ms``)."""
    waited, seen = 0, -1
    while waited < most_ms and seen != len(requests):
        seen = len(requests)
        page.wait_for_timeout(quiet_ms)
        waited += quiet_ms


def _collect_errors(page) -> list[str]:
    """A list that fills with the page's console errors and uncaught exceptions as they happen."""
    errors: list[str] = []

    def console(message) -> None:
        where = (message.location or {}).get("url", "")  # a resource that failed names itself here
        # The browser asks the server's root for /favicon.ico of its own accord; a book served from
        # a folder of a site has no say there.
        if message.type == "error" and urlparse(where).path != "/favicon.ico":
            errors.append(f"console error: {message.text[:160]}" + (f" ({where})" if where else ""))

    page.on("console", console)
    page.on("pageerror", lambda e: errors.append(f"page error: {str(e)[:160]}"))
    return errors


def _weight_problems(loaded: list) -> list[str]:
    """The page's first load transfers at most MAX_PAGE_BYTES (every response body, summed)."""
    sizes = {}
    for request in loaded:
        if not request.url.startswith("data:"):
            sizes[request.url] = sizes.get(request.url, 0) + max(0, request.sizes()["responseBodySize"])
    total = sum(sizes.values())
    if total <= MAX_PAGE_BYTES:
        return []
    heaviest = ", ".join(f"{urlparse(u).path.rsplit('/', 1)[-1]} {b / 1e6:.2f} MB"
                         for u, b in sorted(sizes.items(), key=lambda x: -x[1])[:3])
    return [f"the page's first load transfers {total / 1e6:.2f} MB over {len(loaded)} requests "
            f"(at most {MAX_PAGE_BYTES / 1e6:.1f} MB; heaviest: {heaviest})"]


def _mathjax_script_problems(source: str) -> list[str]:
    """MathJax enters the page through one <script> tag; it loads what else it needs itself."""
    tags = [src for src in re.findall(r'<script\b[^>]*\bsrc="([^"]+)"', source) if "mathjax" in src.lower()]
    if len(tags) <= 1:
        return []
    names = sorted({urlparse(t).path.split("mathjax/", 1)[-1] for t in tags})
    return [f"{len(tags)} MathJax <script> tags in the page (at most one): {', '.join(names[:5])}"
            + (", …" if len(names) > 5 else "")]


def _phone_problems(browser, url: str, shot: Path | None, html: Path) -> list[str]:
    """At 390 px: no console or page error, the navigation toggle opens the chapter list (it
    ends up visible inside the viewport), and figure text is as legible as at 1280 px."""
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    errors = _collect_errors(page)
    found = []
    try:
        page.goto(url, wait_until="load")
        page.evaluate("async () => { if (window.MathJax && MathJax.startup && MathJax.startup.promise)"
                      " { await MathJax.startup.promise; } }")
        page.wait_for_timeout(200)
        if shot is not None:
            page.screenshot(path=f"{shot}_390.png")
        # a figure's text stays legible on the phone too (the duplicate-caption check is the page's, said once)
        found += [f"{p} (at 390 px)" for p in figure_text_problems(page, html) if "caption" not in p]
        toggles = [t for t in page.locator(NAV_TOGGLE).all() if t.is_visible()]
        if not toggles:
            found.append(f"no visible navigation toggle ({NAV_TOGGLE}) at 390 px")
        else:
            try:
                toggles[0].click(timeout=5000)
            except Exception as error:  # covered by another element, or detached: a reader cannot tap it
                found.append(f"at 390 px the navigation toggle cannot be clicked: {str(error).splitlines()[0]}")
            page.wait_for_timeout(500)
            if not _shown(page, CHAPTER_LIST, PHONE["width"]):
                found.append(f"at 390 px the navigation toggle does not open the chapter list ({CHAPTER_LIST})")
            if shot is not None:
                page.screenshot(path=f"{shot}_390_nav.png")
    finally:
        found += [f"{e} (at 390 px)" for e in errors]
        context.close()
    return found


def _shown(page, selector: str, width: int) -> bool:
    """Whether an element matching ``selector`` shows a reader at least one of its links: inside
    the viewport, and the element a tap at its centre reaches."""
    return page.evaluate("""([selector, width]) => [...document.querySelectorAll(selector)].some(nav =>
        [...nav.querySelectorAll('a')].some(a => {
            const r = a.getBoundingClientRect(), x = r.left + r.width / 2, y = r.top + r.height / 2;
            if (r.width < 1 || r.height < 1 || r.left < 0 || r.right > width + 1 || y < 0 || y >= innerHeight) return false;
            const hit = document.elementFromPoint(x, y);  // what a tap there reaches: the link, not a cover
            return hit !== null && (hit === a || a.contains(hit));
        }))""", [selector, width])


def _figure_problems(facts: dict) -> list[str]:
    """Every image sits in a numbered, captioned figure, and the text refers to every figure."""
    found = []
    for image in facts["images"]:
        if image["ok"] and not image["caption"]:
            found.append(f"an image is not in a captioned figure: {image['src']}")
    for figure in facts["figures"]:
        if not figure["hasImage"]:
            continue
        if not figure["numbered"]:
            found.append(f"a figure has no number: {figure['id'] or 'without an id'}")
        elif figure["id"] not in facts["referenced"]:
            found.append(f"no text refers to the figure {figure['id'] or 'without an id'}")
    return found


# Figure text as displayed: every figure's PNG carries its smallest text in image pixels (written by
# ssllib.chapters.style when the figure is saved); scaled by the width the image is shown at, it
# must be FIGURE_TEXT_PX or more (ssllib.chapters.style.MIN_TEXT_PX).
FIGURE_TEXT_PX = 9
TEXT_SIZE_KEY = "ssllib:smallest-text"
FIGURE_IMAGES = r"""
() => [...document.querySelectorAll('main figure')].filter(f => f.querySelector('img')).map(f => {
  const img = f.querySelector('img');
  const caption = f.querySelector('figcaption');
  const number = caption?.querySelector('.caption-number')?.innerText.trim() || '';
  return {url: img.src, natural: img.naturalWidth, shown: img.getBoundingClientRect().width, number: number,
          caption: (caption?.innerText || '').replace(number, '').replace(/\s+/g, ' ').trim()};
})
"""


def figure_text_problems(page, html: Path) -> list[str]:
    """Each figure's smallest text, as displayed, is FIGURE_TEXT_PX or more (the image's record
    of its smallest text × displayed width ÷ natural width), and no two figures of the page
    share a caption."""
    import json

    from PIL import Image

    found, captions = [], {}
    for figure in page.evaluate(FIGURE_IMAGES):
        name = figure["number"] or urlparse(figure["url"]).path.rsplit("/", 1)[-1]
        if figure["caption"]:
            captions.setdefault(figure["caption"], []).append(name)
        path = html / urlparse(figure["url"]).path.lstrip("/")
        if not figure["natural"] or not figure["shown"] or path.suffix.lower() != ".png" or not path.is_file():
            continue
        with Image.open(path) as image:    # the chunk comes before the pixels: no need to decode them
            record = image.info.get(TEXT_SIZE_KEY)
        if record is None:
            found.append(f"{name}: the image does not record its text size (not drawn through ssllib.chapters.style)")
            continue
        record = json.loads(record)
        if record.get("px") is None:
            continue
        shown = record["px"] * figure["shown"] / figure["natural"]
        if shown < FIGURE_TEXT_PX - 0.05:
            found.append(f"{name}: its smallest text ({record.get('text', '')!r}) is {shown:.1f} px as displayed "
                         f"({figure['natural']} px wide shown at {figure['shown']:.0f} px); at least {FIGURE_TEXT_PX} px")
    for caption, names in captions.items():
        if len(names) > 1:
            found.append(f"{' and '.join(names)} have the same caption: {caption[:80]!r}")
    return found


def _shape_problems(facts: dict) -> list[str]:
    """A chapter opens with its idea, and its settings table is an appendix after the results."""
    headings = facts["headings"]
    if "The idea" not in headings:
        return []
    found = []
    if headings[0] != "The idea":
        found.append(f"the first section is {headings[0]!r}, not 'The idea'")
    settings = [i for i, h in enumerate(headings) if "settings" in h.lower()]
    if settings and settings[0] < len(headings) - 3:
        found.append("the settings section is not an appendix at the end of the page")
    return found


def _citation_problems(facts: dict) -> list[str]:
    """Citations point at a reference list on their own page, and two papers never share a label."""
    found = []
    if facts["citations"] and not facts["bibliography"]:
        found.append("the page cites papers but has no reference list of its own")
    elsewhere = sorted({c["text"] for c in facts["citations"] if not c["href"].startswith("#")})
    if elsewhere:
        found.append(f"citations point at another page's reference list: {', '.join(elsewhere)}")
    papers: dict[str, set[str]] = {}
    for citation in facts["citations"]:
        papers.setdefault(citation["text"], set()).add(citation["title"])
    for text, titles in papers.items():
        if len(titles) > 1:
            found.append(f"the label {text!r} stands for {len(titles)} different papers")
    return found


# Runs in the page: its whole text (collapsed cells included) and what its tables name.
SOURCE_FACTS = r"""
() => {
  const main = document.querySelector('main') || document.body;
  const cell = (c) => (c.textContent || '').replace(/\s+/g, ' ').trim();
  return {
    text: main.textContent,
    tableNames: [...main.querySelectorAll('table')].flatMap(t => [
      ...[...t.querySelectorAll('thead th, thead td')].map(cell),
      ...[...t.querySelectorAll('tbody tr')].map(r => r.querySelector('th, td')).filter(c => c).map(cell),
    ]),
    cited: [...main.querySelectorAll('.bibtex-citation a[href^="#"]')].map(a => a.getAttribute('title') || ''),
  };
}
"""
# A reference to the developers' implementation specs, which the repository does not hold.
SPEC_REFERENCE = re.compile(r"specs/|\bthe (?:book's )?spec\b|\bspec §|\bspec [\w-]+\.md")


def _plain(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


@functools.lru_cache(maxsize=1)
def _titles() -> dict[str, str]:
    """key → the title of the work, as plain lower-case words (``book/references.bib``)."""
    from pybtex.database import parse_file
    from pybtex.richtext import Text

    entries = parse_file(str(Path(__file__).resolve().parent.parent / "book" / "references.bib")).entries
    return {key: _plain(Text.from_latex(e.fields["title"]).render_as("text")) for key, e in entries.items()}


def sources_and_citations(facts: dict) -> list[str]:
    """No reference to ``specs/`` (the developers' notes, not in the repository: a page says where
    a fact comes from instead), and every method, network or dataset a table names (in its header
    or its first column, as ``ssllib.chapters.citations`` knows the names) cited on the page: one
    of the page's citations is of that work (its tooltip, the formatted reference, holds the work's
    title as ``book/references.bib`` gives it)."""
    from ssllib.chapters.citations import named_in

    found = []
    specs = SPEC_REFERENCE.findall(facts["text"])
    if specs:
        found.append(f"{len(specs)} reference(s) to the specs, which the repository does not hold: "
                     f"{', '.join(sorted(set(specs)))}")
    cited = " | ".join(_plain(t) for t in facts["cited"])
    titles = _titles()
    missing: dict[str, set[str]] = {}
    for name, keys in named_in(" | ".join(facts["tableNames"])).items():
        for key in keys:
            if key not in titles or titles[key] not in cited:
                missing.setdefault(key, set()).add(name)
    for key, names in sorted(missing.items()):
        found.append(f"a table names {', '.join(sorted(names))} but the page does not cite {key}")
    return found


SEARCH_NOISE = re.compile(r"import |Optional\[|\bdef \w+\(|\\[a-zA-Z]+\{|\$\$|\\\(|\\\[")


def search_snippet_problems(html: Path, queries: tuple[str, ...] = ("temperature", "queue", "teacher")) -> list[str]:
    """The search page's result snippets, for a few words every chapter uses, read as prose: no
    line of code (an import, a parameter declaration) and no TeX source."""
    from playwright.sync_api import sync_playwright

    found = []
    with served(html) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        page = browser.new_page()
        for query in queries:
            page.goto(urljoin(base, f"search.html?q={query}"), wait_until="load")
            page.wait_for_function("document.querySelectorAll('#search-results li').length > 0", timeout=20000)
            page.wait_for_timeout(1500)  # the snippets are fetched after the list appears
            for snippet in page.eval_on_selector_all("#search-results li p.context", "ps => ps.map(p => p.textContent)"):
                if SEARCH_NOISE.search(snippet):
                    found.append(f"search for {query!r}: a snippet shows code or TeX: {snippet[:100]!r}")
        browser.close()
    return found


TABLE_NUMBER = re.compile(r"^Table (\d+)\b")
MISSING_AS_TEXT = re.compile(r"(^|[^\w<])(nan|NaN|<NA>|NaT)($|[^\w>])")


def _table_problems(facts: dict) -> list[str]:
    """Every table has a caption that starts with its number, the numbers run 1, 2, 3, … down
    the page, and no cell shows a missing value as program output (nan, <NA>, None)."""
    found = []
    numbers = []
    for table in facts.get("tables", []):
        caption = " ".join(table["caption"].split())
        which = caption[:40] or " | ".join(table["cells"][:4])[:40]
        number = TABLE_NUMBER.match(caption)
        if not caption:
            found.append(f"a table has no caption: {which}")
        elif number is None:
            found.append(f"a table's caption has no number: {which}")
        else:
            numbers.append(int(number.group(1)))
        shown = sorted({c for c in table["cells"] if MISSING_AS_TEXT.search(c) or c == "None"})
        if shown:
            found.append(f"a table shows a missing value as program output ({', '.join(shown)[:60]}): {which}")
    if numbers and numbers != list(range(1, len(numbers) + 1)):
        found.append(f"the tables are numbered {', '.join(map(str, numbers[:12]))}, not 1, 2, 3, … down the page")
    return found


def _broken_links(html: Path, base: str, links: list[str], anchors: dict[str, set[str]]) -> list[str]:
    """Internal links that lead nowhere: a target file that is not in the book, or an anchor
    that is not on the target page (Sphinx writes every anchor into the HTML)."""
    broken = []
    for link in links:
        if not link.startswith(base):
            continue  # outside the book: not followed (and never requested by reading the page)
        target, fragment = urldefrag(link)
        path = html / urlparse(target).path.lstrip("/")
        if path.is_dir():
            path = path / "index.html"
        if not path.is_file():
            broken.append(f"a link leads to a page that is not in the book: {link}")
            continue
        if fragment:
            if target not in anchors:
                anchors[target] = set(re.findall(r'\bid="([^"]+)"', path.read_text(errors="replace")))
            if fragment not in anchors[target]:
                broken.append(f"a link or citation points at a missing anchor: {link}")
    return broken


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", type=Path, help="the built book (_build/html)")
    parser.add_argument("--screenshots", type=Path, default=None)
    args = parser.parse_args(argv)
    problems = check_book(args.html, args.screenshots)
    for name, found in problems.items():
        print(f"{name}: {'ok' if not found else ''}")
        for problem in found:
            print(f"  - {problem}")
    return 1 if any(problems.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
