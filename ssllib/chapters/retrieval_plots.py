"""The Caption-Matching chapter's figures: the domains side by side, and queries with their
top results. Each function returns the matplotlib Figure (drawn through :mod:`ssllib.chapters.style`)."""
from __future__ import annotations

from ssllib.chapters import plots, style  # noqa: F401  (plots: the book's figures, for the chapter)
from ssllib.chapters.style import FONT

HIT, MISS = "✓", "✗"


def domain_examples(sets: dict, per_class: int = 1, classes: int = 10):
    """One column per class, one row per domain: the first image of each class in each domain
    (``sets``: domain → :class:`~ssllib.retrieval.datasets.DomainImages`, uint8 RGB)."""
    domains = list(sets)
    names = next(iter(sets.values())).classes[:classes]
    cell = (style.WIDTH - 0.8) / len(names)
    fig, axes = style.subplots(len(domains), len(names), height=cell * len(domains) + 0.45, squeeze=False)
    for i, d in enumerate(domains):
        for j in range(len(names)):
            where = (sets[d].labels == j).nonzero()
            ax = axes[i, j]
            if len(where):
                ax.imshow(sets[d].images[int(where[0])].permute(1, 2, 0).numpy())
            ax.set_xticks([]), ax.set_yticks([])
            if i == 0:
                ax.set_title(plots.wrapped(names[j], 9), fontsize=FONT["tiny"])
        axes[i, 0].set_ylabel(d, fontsize=FONT["small"])
    return fig


def _mark(ax, hit: bool) -> None:
    """A result's frame and corner sign: a solid blue frame and ✓ for the query's class, a dashed
    vermillion frame and ✗ for another (told apart by sign and line, not by colour alone)."""
    colour = style.BLUE if hit else style.VERMILLION
    for side in ax.spines.values():
        side.set_edgecolor(colour)
        side.set_linewidth(2.2)
        side.set_linestyle("-" if hit else (0, (2.5, 1.5)))
    ax.text(0.97, 0.03, HIT if hit else MISS, transform=ax.transAxes, ha="right", va="bottom", color="white",
            fontsize=FONT["small"], fontweight="bold",
            bbox={"boxstyle": "square,pad=0.12", "facecolor": colour, "edgecolor": "none"})


def retrieval_examples(query: dict, results: dict, k: int):
    """Each row a query (its image, then its top ``k`` gallery images) under one representation;
    ``query``: {'images' (Q, 3, H, W) uint8, 'labels', 'classes', 'domain'}; ``results``:
    representation → {'images' (Q, k, 3, H, W), 'labels' (Q, k), 'domain'}. A match of the
    query's class is framed solid blue with ✓, a miss dashed vermillion with ✗."""
    labels = list(results)
    q = len(query["images"])
    rows = [(i, label) for i in range(q) for label in labels]
    cell = (style.WIDTH - 1.6) / (k + 1)
    fig, axes = style.subplots(len(rows), k + 1, height=cell * len(rows) + 0.6, squeeze=False)
    for r, (i, label) in enumerate(rows):
        ax = axes[r, 0]
        ax.imshow(query["images"][i].permute(1, 2, 0).numpy())
        ax.set_ylabel(plots.wrapped(label, 18), fontsize=FONT["tiny"], rotation=0, ha="right", va="center")
        if r == 0 or rows[r - 1][0] != i:
            ax.set_title(f"query ({query['domain']}):\n{query['classes'][int(query['labels'][i])]}",
                         fontsize=FONT["tiny"])
        for j in range(k):
            ax = axes[r, j + 1]
            ax.imshow(results[label]["images"][i, j].permute(1, 2, 0).numpy())
            _mark(ax, int(results[label]["labels"][i, j]) == int(query["labels"][i]))
            if r == 0:
                ax.set_title(f"#{j + 1}", fontsize=FONT["tiny"])
    for ax in axes.flat:
        ax.set_xticks([]), ax.set_yticks([])
    return fig
