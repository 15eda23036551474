"""The whole-slide chapter's figures. Each function returns the matplotlib Figure (drawn through
:mod:`ssllib.chapters.style`)."""
from __future__ import annotations

import numpy as np

from ssllib.chapters import style
from ssllib.chapters.style import FONT


def _frame(ax, marked: bool) -> None:
    """A thick vermillion frame for a witness instance, a thin grey one for the others."""
    for side in ax.spines.values():
        side.set_edgecolor(style.HIGHLIGHT if marked else style.NEUTRAL)
        side.set_linewidth(2.2 if marked else 0.5)


def attention_bags(bags: list[dict]):
    """Several bags, one block each: the instances' images in a row, and under them one bar chart
    of attention per model. Each bag is a dict with ``images``, ``attention`` (label → (N,) weights
    summing to 1), ``instance_classes``, ``witness`` (the class framed, or None) and ``title``."""
    cols = max(len(b["images"]) for b in bags)
    cell = (style.WIDTH - 0.8) / cols
    heights = [0.3 + cell * (1.1 + len(b["attention"])) for b in bags]
    fig = style.figure(sum(heights))
    subfigs = fig.subfigures(len(bags), 1, squeeze=False, height_ratios=heights)[:, 0]
    for sub, bag in zip(subfigs, bags):
        _attention_block(sub, cols, **bag)
    return fig


def _attention_block(sub, cols: int, images, attention: dict, instance_classes, witness, title: str) -> None:
    n = len(images)
    axes = sub.subplots(1 + len(attention), cols, squeeze=False,
                        gridspec_kw={"height_ratios": [1.1] + [1] * len(attention)})
    for ax in axes.flat:
        ax.set_xticks([]), ax.set_yticks([])
    for i in range(n, cols):
        for ax in axes[:, i]:
            ax.axis("off")
    for i in range(n):
        ax = axes[0, i]
        ax.imshow(np.asarray(images[i][0]), cmap="gray")
        _frame(ax, witness is not None and int(instance_classes[i]) == witness)
    top = max(float(np.max(w)) for w in attention.values())
    for row, (label, weights) in enumerate(attention.items(), start=1):
        for i in range(n):
            ax = axes[row, i]
            ax.bar([0], [float(weights[i])], color=style.BLUE, width=0.8)
            ax.set_ylim(0, top * 1.05)
            for side in ("top", "right", "left"):
                ax.spines[side].set_visible(False)
        axes[row, 0].set_ylabel(label, fontsize=FONT["tiny"], rotation=0, ha="right", va="center")
    axes[0, 0].set_ylabel("instances", fontsize=FONT["tiny"], rotation=0, ha="right", va="center")
    sub.suptitle(title, fontsize=FONT["small"])


def bag_examples(images_per_bag: list, titles: list[str], witnesses: list):
    """A few bags, one per row (their first 16 instances), witness instances framed vermillion."""
    cols = max(min(len(b), 16) for b in images_per_bag)
    cell = (style.WIDTH - 1.3) / cols
    fig, axes = style.subplots(len(images_per_bag), cols, height=cell * len(images_per_bag) + 0.2, squeeze=False)
    for r, (images, title, marks) in enumerate(zip(images_per_bag, titles, witnesses)):
        for c in range(cols):
            ax = axes[r, c]
            ax.set_xticks([]), ax.set_yticks([])
            if c < min(len(images), 16):
                ax.imshow(np.asarray(images[c][0]), cmap="gray")
                _frame(ax, bool(marks[c]))
            else:
                ax.axis("off")
        axes[r, 0].set_ylabel(title, fontsize=FONT["tiny"], rotation=0, ha="right", va="center")
    return fig
