"""How every figure of the book is drawn: one width (the text column's), one set of font sizes
(none smaller than 9 px as displayed) and one colour-blind-safe palette in which a baseline keeps
its colour, marker and line style in every figure.

Sizes. A figure is ``WIDTH`` inches wide and one inch is ``PX_PER_INCH`` CSS pixels as displayed,
so a figure fills the text column (``COLUMN_PX``: the displayed width of a figure in the rendered
book at a 1280-px window, measured in Chromium) without being scaled down. It is drawn at
``DENSITY`` image pixels per CSS pixel (sharp on high-density screens); the browser shows it at
the column's width, so a font of ``s`` points is ``s / 72 * PX_PER_INCH`` px on the page. No text
is smaller than ``MIN_FONT_PT``, which is ``MIN_TEXT_PX`` or more as displayed.

Every PNG a figure of this module (a :class:`BookFigure`) is saved as carries its smallest text in image pixels (the
``TEXT_SIZE_KEY`` text chunk); ``tests/browser.py`` reads it back from the rendered page and
checks it against the width the image is displayed at.

Colours. The Okabe–Ito palette (safe for the common colour-vision deficiencies) for methods,
fixed colours for the baselines that recur across chapters, and a distinct marker and line style
for every series, so no two series are told apart by colour alone (and none by red against green).
"""
from __future__ import annotations

import functools
import io
import json
import re
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg") if not matplotlib.get_backend().lower().startswith(("module://", "nbagg")) else None
import matplotlib.axes  # noqa: E402
import matplotlib.figure  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.text import Text  # noqa: E402

# --- sizes -----------------------------------------------------------------------------------
COLUMN_PX = 672            # a figure's displayed width in the text column at a 1280-px window
PX_PER_INCH = 100          # CSS px per figure inch, as displayed
DENSITY = 2                # image px per CSS px
DPI = PX_PER_INCH * DENSITY
WIDTH = COLUMN_PX / PX_PER_INCH   # inches: every figure is this wide
MIN_TEXT_PX = 9            # no text smaller than this, in CSS px as displayed
FONT = {"normal": 9.0, "small": 8.0, "tiny": 7.0}   # points
MIN_FONT_PT = FONT["tiny"]
TEXT_SIZE_KEY = "ssllib:smallest-text"   # the PNG text chunk: {"px": image px, "text": which}


def displayed_px(points: float) -> float:
    """CSS px on the page of a font of ``points`` in a figure shown at the column's width."""
    return points / 72 * PX_PER_INCH


assert displayed_px(MIN_FONT_PT) >= MIN_TEXT_PX

# --- palette ---------------------------------------------------------------------------------
# Okabe & Ito (2008), "Color Universal Design": told apart under protanopia and deuteranopia.
BLUE, ORANGE, GREEN, PURPLE, SKY, VERMILLION = "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00"
METHOD_COLOURS = (ORANGE, GREEN, PURPLE, SKY, VERMILLION)   # in the order methods take them (blue is MoCo-v2's)
METHOD_MARKERS = ("^", "D", "P", "X", "<", ">", "h", "p")
HIGHLIGHT = VERMILLION     # a frame that marks an instance (a witness, a miss): never against green
NEUTRAL = "#BDBDBD"        # what is not the point of a figure: unmarked frames, other clusters


@dataclass(frozen=True)
class Look:
    """How one series is drawn: its colour, marker and line style."""
    colour: str
    marker: str
    linestyle: str = "-"

    def line(self) -> dict:
        return {"color": self.colour, "marker": self.marker, "linestyle": self.linestyle}


# The baselines (and the reference method) that recur across chapters: the same look everywhere.
BASELINES: dict[str, Look] = {
    "raw pixels": Look("#000000", "x", "--"),
    "random init": Look("#595959", "+", ":"),
    "chance": Look(NEUTRAL, "", "-."),
    "supervised": Look("#332288", "s", "--"),
    "teacher": Look("#1B3A5C", "*", "--"),
    "student alone": Look("#8C510A", "v", ":"),
    "MoCo-v2": Look(BLUE, "o", "-"),
}
# What a label may say for each of them (lower case, before any ' (…)' or ' · …' qualifier).
ALIASES = {
    "raw pixels": ("raw pixels", "raw-pixel", "raw-pixel retrieval"),
    "random init": ("random init", "random network", "random initialisation"),
    "chance": ("chance",),
    "supervised": ("supervised", "supervised features", "supervised-feature retrieval"),
    "teacher": ("teacher",),
    "student alone": ("student alone", "student", "ce"),
    "MoCo-v2": ("moco-v2", "moco v2", "moco-v2 features", "moco-v2 retrieval"),
}
_ALIAS_OF = {alias: name for name, aliases in ALIASES.items() for alias in aliases}


def baseline_of(label: str) -> str | None:
    """The recurring baseline a series label names ('raw pixels (70.9)', 'random init · vit',
    'Student (cross-entropy, alone)'), or None for a method of its own."""
    head = re.split(r" \(| · |, ", str(label).strip().lower(), maxsplit=1)[0].strip()
    return _ALIAS_OF.get(head)


def looks(labels) -> dict[str, Look]:
    """A look per label: a recurring baseline's own, and for every other label the next method
    colour and marker that no other series of the figure uses (so colours stay unique while a
    figure has fewer methods than ``METHOD_COLOURS``, and (colour, marker) pairs always do)."""
    labels = list(dict.fromkeys(labels))
    out = {label: BASELINES[b] for label in labels if (b := baseline_of(label)) is not None}
    taken_colours = {look.colour for look in out.values()}
    taken_markers = {look.marker for look in out.values()}
    colours = [c for c in METHOD_COLOURS if c not in taken_colours] or list(METHOD_COLOURS)
    markers = [m for m in METHOD_MARKERS if m not in taken_markers]
    i = 0
    for label in labels:
        if label not in out:
            out[label] = Look(colours[i % len(colours)], markers[i % len(markers)])
            i += 1
    return {label: out[label] for label in labels}


def categorical(n: int) -> list[str]:
    """``n`` colours for categories with no baseline among them (clusters, classes): the method
    colours, then the baselines' (a figure of more categories also writes their names on it)."""
    pool = [*METHOD_COLOURS, *(BASELINES[b].colour for b in ("MoCo-v2", "raw pixels", "supervised", "student alone",
                                                              "random init", "teacher"))]
    return [pool[i % len(pool)] for i in range(n)]


# --- figures ---------------------------------------------------------------------------------
RC = {
    "figure.dpi": DPI, "savefig.dpi": "figure", "figure.facecolor": "white", "savefig.facecolor": "white",
    "font.size": FONT["normal"], "axes.titlesize": FONT["normal"], "axes.labelsize": FONT["normal"],
    "xtick.labelsize": FONT["small"], "ytick.labelsize": FONT["small"], "legend.fontsize": FONT["small"],
    "legend.title_fontsize": FONT["small"], "figure.titlesize": FONT["normal"], "figure.labelsize": FONT["normal"],
    "axes.prop_cycle": matplotlib.cycler(color=[*METHOD_COLOURS, BLUE]), "image.cmap": "magma",
    "lines.linewidth": 1.6, "lines.markersize": 5, "axes.grid": False, "grid.alpha": 0.3,
    "legend.frameon": False, "figure.constrained_layout.use": False,
    "savefig.pad_inches": 0.02,   # the inline backend crops to the drawing ("tight") and pads it by this much
}
matplotlib.rcParams.update(RC)


class BookFigure(matplotlib.figure.Figure):
    """A Figure whose every PNG carries its smallest text in image pixels (``TEXT_SIZE_KEY``), at
    the resolution it is saved at, whichever canvas saves it (the inline backend's, ``savefig``'s,
    or the one a closed figure gets): the chunk travels with the image into the notebook and the
    rendered page, where a browser check compares it with the width the image is displayed at."""

    measuring = False

    def set_canvas(self, canvas):
        super().set_canvas(canvas)
        if hasattr(type(canvas), "print_png") and "print_png" not in vars(canvas):
            canvas.print_png = _recording(type(canvas).print_png.__get__(canvas), self)


def _recording(print_png, fig):
    """``print_png`` that adds the ``TEXT_SIZE_KEY`` chunk for ``fig`` and stores the PNG compactly."""
    @functools.wraps(print_png)
    def recorded(filename_or_obj, *args, metadata=None, **kwargs):
        if fig.measuring:    # the draw that finds the smallest text asks for a renderer: a plain PNG
            return print_png(filename_or_obj, *args, metadata=metadata, **kwargs)
        fig.measuring = True
        try:
            points, text = smallest_text(fig)
        finally:
            fig.measuring = False
        drawn = points != float("inf")
        size = {"px": round(points / 72 * fig.dpi, 2) if drawn else None, "pt": points if drawn else None,
                "text": text[:40]}
        drawing = io.BytesIO()
        print_png(drawing, *args, metadata=metadata, **kwargs)
        _compact_png(drawing.getvalue(), filename_or_obj,
                     {**(metadata or {}), TEXT_SIZE_KEY: json.dumps(size, ensure_ascii=True)})
    return recorded


def _compact_png(png: bytes, target, text: dict) -> None:
    """``png`` written to ``target`` with 256 colours (a figure's flat colours and anti-aliased
    edges look the same; the file is about 60% smaller, which a page's weight needs at twice the
    pixel density) and ``text`` as its text chunks."""
    from PIL import Image, PngImagePlugin

    image = Image.open(io.BytesIO(png))
    if image.mode == "RGBA" and image.getextrema()[3][0] < 255:     # see-through: keep the alpha
        image = image.quantize(256, method=Image.Quantize.FASTOCTREE)
    else:
        image = image.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT)
    info = PngImagePlugin.PngInfo()
    for key, value in text.items():
        if value is not None:
            info.add_text(key, str(value))
    image.save(target, format="PNG", pnginfo=info, optimize=True)


def subplots(nrows: int = 1, ncols: int = 1, height: float = 3.0, **kwargs):
    """``plt.subplots`` at the column's width, the book's resolution and constrained layout
    (so legends and labels stay inside the figure), recording its smallest text when saved."""
    kwargs.setdefault("layout", "constrained")
    return plt.subplots(nrows, ncols, figsize=(WIDTH, height), dpi=DPI, FigureClass=BookFigure, **kwargs)


def figure(height: float, **kwargs):
    """An empty figure at the column's width (for subfigures), recording its smallest text."""
    kwargs.setdefault("layout", "constrained")
    return plt.figure(figsize=(WIDTH, height), dpi=DPI, FigureClass=BookFigure, **kwargs)


def legend(fig, where: str = "right", ncols: int | None = None, **kwargs):
    """One legend for the whole figure, outside every axes (constrained layout makes room):
    ``where`` is 'right' (upper right, one column) or 'below' (as many columns as fit)."""
    handles, labels = {}, []
    for ax in fig.axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if label not in handles and not label.startswith("_"):
                handles[label] = handle
                labels.append(label)
    if not labels:
        return None
    if where == "below":
        longest = max(len(label) for label in labels)
        fits = max(1, int(WIDTH * 72 / (FONT["small"] * 0.6 * longest + 28)))
        ncols = ncols or min(len(labels), fits)
        return fig.legend([handles[label] for label in labels], labels, loc="outside lower center", ncols=ncols,
                          **kwargs)
    return fig.legend([handles[label] for label in labels], labels, loc="outside right upper", ncols=ncols or 1,
                      **kwargs)


def _drawn_texts(artist):
    """The non-empty Text artists that drawing ``artist`` draws (invisible artists and the axis
    of an axes switched off draw nothing)."""
    if not artist.get_visible():
        return
    if isinstance(artist, Text):
        if artist.get_text().strip():
            yield artist
        return
    skip = set()
    if isinstance(artist, matplotlib.axes.Axes) and not artist.axison:
        skip = {id(artist.xaxis), id(artist.yaxis)}
    for child in artist.get_children():
        if id(child) not in skip:
            yield from _drawn_texts(child)


def smallest_text(fig) -> tuple[float, str]:
    """(size in points, the text) of the smallest text ``fig`` draws; (inf, '') if none. Draws
    the figure first: tick labels get their text only when drawn."""
    fig.draw_without_rendering()
    texts = list(_drawn_texts(fig))
    if not texts:
        return float("inf"), ""
    small = min(texts, key=lambda t: t.get_fontsize())
    return float(small.get_fontsize()), small.get_text()


def recorded_text_size(png: bytes) -> dict | None:
    """The ``TEXT_SIZE_KEY`` record of a PNG (None if it has none)."""
    from PIL import Image

    value = Image.open(io.BytesIO(png)).info.get(TEXT_SIZE_KEY)
    return json.loads(value) if value else None
