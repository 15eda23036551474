"""Open a rendered book in headless Chromium and check every page as a reader would see it.

Used by ``tests/test_browser.py``; runnable on its own on any built book:

    python tests/browser.py _build/html [--screenshots _build/screenshots]

Each page is served from 127.0.0.1 and checked for: a title; MathJax typeset every formula and
no raw TeX is left in the text; every image loaded and has alt text or a caption; every table
has rows; no traceback or stderr block; every internal link and citation resolves; no request
left 127.0.0.1; nothing wider than the 1280-px viewport; every image in a numbered, captioned
figure that the text refers to; a chapter opens with "The idea" and keeps its settings for an
appendix; citations resolve to the page's own reference list and no label names two papers. A list of problems comes back, one
sentence each.
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
        page = browser.new_context(viewport=VIEWPORT).new_page()
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        anchors: dict[str, set[str]] = {}
        for name in pages_of(html):
            requests.clear()
            found: list[str] = []
            url = urljoin(base, name)
            response = page.goto(url, wait_until="load")
            if response is None or response.status != 200:
                problems[name] = [f"the page did not load (status {getattr(response, 'status', None)})"]
                continue
            facts = page.evaluate(PAGE_FACTS)
            page.wait_for_timeout(200)
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
            found += _shape_problems(facts)
            found += _citation_problems(facts)
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
            if screenshots is not None:
                screenshots.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(screenshots / (name.replace("/", "_").removesuffix(".html") + ".png")),
                                full_page=True)
            problems[name] = found
        browser.close()
    return problems


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
