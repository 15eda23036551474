"""The Caption-Matching chapter's figures: the domains side by side, and queries with their
top results. Each function returns the matplotlib Figure."""
from __future__ import annotations

import matplotlib.pyplot as plt

from ssllib.chapters import plots  # noqa: F401  (the book's matplotlib backend and style)


def domain_examples(sets: dict, per_class: int = 1, classes: int = 10):
    """One column per class, one row per domain: the first image of each class in each domain
    (``sets``: domain → :class:`~ssllib.retrieval.datasets.DomainImages`, uint8 RGB)."""
    domains = list(sets)
    names = next(iter(sets.values())).classes[:classes]
    fig, axes = plt.subplots(len(domains), len(names), figsize=(0.78 * len(names) + 0.8, 0.82 * len(domains) + 0.5),
                             squeeze=False)
    for i, d in enumerate(domains):
        for j in range(len(names)):
            where = (sets[d].labels == j).nonzero()
            ax = axes[i, j]
            if len(where):
                ax.imshow(sets[d].images[int(where[0])].permute(1, 2, 0).numpy())
            ax.set_xticks([]), ax.set_yticks([])
            if i == 0:
                ax.set_title(names[j], fontsize=7)
        axes[i, 0].set_ylabel(d, fontsize=8)
    fig.tight_layout()
    return fig


def retrieval_examples(query: dict, results: dict, k: int):
    """Each row a query (its image, then its top ``k`` gallery images) under one representation;
    ``query``: {'images' (Q, 3, H, W) uint8, 'labels', 'classes', 'domain'}; ``results``:
    representation → {'images' (Q, k, 3, H, W), 'labels' (Q, k), 'domain'}. A match of the
    query's class is framed green, a miss red."""
    labels = list(results)
    q = len(query["images"])
    rows = [(i, label) for i in range(q) for label in labels]
    fig, axes = plt.subplots(len(rows), k + 1, figsize=(0.72 * (k + 1) + 2.4, 0.8 * len(rows) + 0.4), squeeze=False)
    for r, (i, label) in enumerate(rows):
        ax = axes[r, 0]
        ax.imshow(query["images"][i].permute(1, 2, 0).numpy())
        ax.set_ylabel(f"{label}", fontsize=7, rotation=0, ha="right", va="center")
        if r == 0 or rows[r - 1][0] != i:
            ax.set_title(f"query ({query['domain']}):\n{query['classes'][int(query['labels'][i])]}", fontsize=7)
        for j in range(k):
            ax = axes[r, j + 1]
            ax.imshow(results[label]["images"][i, j].permute(1, 2, 0).numpy())
            hit = int(results[label]["labels"][i, j]) == int(query["labels"][i])
            for side in ax.spines.values():
                side.set_edgecolor("tab:green" if hit else "tab:red")
                side.set_linewidth(2)
            if r == 0:
                ax.set_title(f"#{j + 1}", fontsize=7)
    for ax in axes.flat:
        ax.set_xticks([]), ax.set_yticks([])
    fig.tight_layout()
    return fig
