"""The review chapter's figures. Each function returns the matplotlib Figure (drawn through
:mod:`ssllib.chapters.style`)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ssllib.chapters import style
from ssllib.chapters.review import setting_gaps
from ssllib.chapters.style import FONT

FAMILIES = ("contrastive", "clustering", "self-distillation", "knowledge distillation", "feature decorrelation")
FAMILY_LOOKS = style.looks(FAMILIES)   # a colour and a marker each


def _saying(text: str):
    """A one-line figure that says ``text``: what a figure shows while it has nothing to draw."""
    fig, ax = style.subplots(height=0.8)
    ax.text(0.5, 0.5, text, ha="center", va="center")
    ax.set_axis_off()
    return fig


# About how much of a column's width one character of a label takes at this figure's size.
LABEL_COLUMNS_PER_CHARACTER = 0.062


def label_reaches_next_column(name: str, x: float, y: float, points: list[tuple[float, float]]) -> bool:
    """Whether ``name``, written to the right of its dot at (``x``, ``y``), would reach a dot of
    the next column that lies within one point of its height, while the previous column has no
    dot that near (so the left side is free)."""
    reaches = 0.03 + LABEL_COLUMNS_PER_CHARACTER * len(name) > 0.8

    def crowded(column: float) -> bool:
        return any(px == column and abs(py - y) < 1.0 for px, py in points)
    return reaches and crowded(x + 1) and not crowded(x - 1)


def field_results(field: pd.DataFrame):
    """Published ImageNet linear top-1 against pre-training epochs, one colour per family. The
    stated lengths are evenly spaced columns (in order, not to scale: 800 and 1000 epochs would
    otherwise share a column's labels), and rows without stated epochs sit in a column of their
    own on the right."""
    fig, ax = style.subplots(height=4.2)
    stated = field["pretrain_epochs"].notna()
    lengths = sorted({float(e) for e in field.loc[stated, "pretrain_epochs"]})
    column = {length: i for i, length in enumerate(lengths)}
    xs = [column[float(e)] if not pd.isna(e) else len(lengths) for e in field["pretrain_epochs"]]
    points = list(zip(xs, field["value"].astype(float)))
    for family, group in field.groupby("family", sort=False):
        x = [xs[field.index.get_loc(i)] for i in group.index]
        look = FAMILY_LOOKS.get(family, style.Look(style.NEUTRAL, "o"))
        ax.scatter(x, group["value"], color=look.colour, marker=look.marker, s=26, label=family, zorder=3)
    # Labels of points that sit within 0.6 points of each other in one column fan out from the
    # cluster's middle: the higher ones upwards, the lower ones downwards, each beside its own dot.
    # A label long enough to reach the next column, where a dot sits near its height, goes on the
    # left of its dot instead where that side is free ('SwAV (no multi-crop)' ran into SynCo's dot).
    for (xi, yi), name in zip(points, field["method"]):
        near = sorted(py for px, py in points if px == xi and abs(py - yi) < 0.8)
        rank = near.index(yi) - (len(near) - 1) / 2
        left = xi > 0 and label_reaches_next_column(name, xi, yi, points)
        ax.annotate(name, (xi, yi), textcoords="offset points", xytext=(-5 if left else 5, -2 + 8 * rank),
                    fontsize=FONT["tiny"], va="center", ha="right" if left else "left")
    ax.set_xticks(range(len(lengths) + 1), [f"{t:g}" for t in lengths] + ["not\nstated"])
    ax.set_xlim(-0.4, len(lengths) + 1.0)     # room for the labels of the right-hand column
    ax.set_xlabel("pre-training epochs (in order, not to scale)")
    ax.set_ylabel("linear top-1 (%)")
    ax.set_title("ResNet-50 on ImageNet-1k, as the official repositories report it")
    ax.grid(alpha=0.3)
    style.legend(fig, "below")
    return fig


def rankings(panels: dict[str, pd.DataFrame], metric_names: dict[str, str], empty: str = "no runs yet"):
    """One panel per paper: each compared variant's mean with its 95% interval over seeds
    (``panels``: paper title → rows with 'label', 'mean', 'low', 'high', 'seeds', 'replicates'); with no
    panel, one that says ``empty`` (so the figure the text refers to is always there)."""
    panels = {k: v for k, v in panels.items() if len(v)}
    if not panels:
        return _saying(empty)
    heights = [0.55 + 0.26 * len(v) for v in panels.values()]
    fig, axes = style.subplots(len(panels), 1, height=sum(heights) + 0.3, squeeze=False,
                               gridspec_kw={"height_ratios": heights})
    for ax, (title, rows) in zip(axes[:, 0], panels.items()):
        y = np.arange(len(rows))[::-1]
        low = np.where(np.isnan(rows["low"]), rows["mean"], rows["low"])
        high = np.where(np.isnan(rows["high"]), rows["mean"], rows["high"])
        look = style.looks(rows["label"])
        for yi, label, mean, lo_, hi_ in zip(y, rows["label"], rows["mean"], low, high):
            if hi_ > lo_:
                ax.plot([lo_, hi_], [yi, yi], color=look[label].colour, linewidth=1.6)
            ax.plot([mean], [yi], linestyle="none", marker=look[label].marker or "o", markersize=5,
                    color=look[label].colour, markerfacecolor=look[label].colour if hi_ > lo_ else "white")
        ax.set_yticks(y, [f"{label} ({n})" for label, n in zip(rows["label"], rows["replicates"])],
                      fontsize=FONT["tiny"])
        ax.set_ylim(-0.6, len(rows) - 0.4)
        ax.set_title(title, fontsize=FONT["small"], loc="left")
        ax.set_xlabel(metric_names[title], fontsize=FONT["tiny"])
        ax.tick_params(axis="x", labelsize=FONT["tiny"])
        ax.grid(axis="x", alpha=0.3)
        lo, hi = float(np.min(low)), float(np.max(high))
        pad = max(0.5, 0.08 * (hi - lo))
        ax.set_xlim(lo - pad, hi + pad)
        if not all(math.isfinite(v) for v in (lo, hi)):
            ax.set_xlim(auto=True)
    return fig


def published_against_reproduced(pairs: pd.DataFrame, empty: str = "no published setting shares two methods with our runs yet"):
    """One panel per paper: each point a method in one published setting, at how far the paper
    puts it above or below the mean of the methods both ran in that setting (x) and how far our
    runs put it (y), both in points of their metric. On the dashed diagonal the two agree on the
    size of the gap; in the shaded quadrants they agree on its sign. Vertical bars: half our 95%
    interval of the method's mean (where the records give one)."""
    papers = list(dict.fromkeys(pairs["paper"])) if len(pairs) else []
    if not papers:
        return _saying(empty)
    cols = min(3, len(papers))
    rows = math.ceil(len(papers) / cols)
    fig, axes = style.subplots(rows, cols, height=2.6 * rows + 0.6, squeeze=False)
    look = style.looks(dict.fromkeys(pairs["method"]))    # one look per method across the panels
    for ax in axes.flat[len(papers):]:
        ax.set_axis_off()
    for ax, paper in zip(axes.flat, papers):
        group = setting_gaps(pairs[pairs["paper"] == paper])
        half = group["half"].fillna(0.0)
        wide = max(float(group["x"].abs().max()), 0.5) * 1.15
        tall = max(float((group["y"].abs() + half).max()), 0.5) * 1.1
        ax.fill_between([0, wide], 0, tall, color=style.SKY, alpha=0.12, lw=0)
        ax.fill_between([-wide, 0], -tall, 0, color=style.SKY, alpha=0.12, lw=0)
        edge = min(wide, tall)
        ax.plot([-edge, edge], [-edge, edge], "--", color="gray", lw=0.8)
        ax.axhline(0, color="gray", lw=0.5)
        ax.axvline(0, color="gray", lw=0.5)
        for method, points in group.groupby("method", sort=False):
            ax.scatter(points["x"], points["y"], s=18, label=method, zorder=3, color=look[method].colour,
                       marker=look[method].marker or "o")
            # Half our 95% interval of the method's mean: a gap inside it is no side to call.
            ax.errorbar(points["x"], points["y"], yerr=half[points.index], fmt="none", lw=0.6, alpha=0.35,
                        color=look[method].colour, zorder=2)
        ax.set_xlim(-wide, wide)
        ax.set_ylim(-tall, tall)
        ax.set_title(f"{paper} ({group['published setting'].nunique()} settings)", fontsize=FONT["small"], loc="left")
        ax.set_xlabel("published − setting mean", fontsize=FONT["tiny"])
        ax.set_ylabel(f"ours − mean ({group['metric'].iloc[0]})", fontsize=FONT["tiny"])
        ax.tick_params(labelsize=FONT["tiny"])
    style.legend(fig, "below")
    return fig
