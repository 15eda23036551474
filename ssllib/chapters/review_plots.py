"""The review chapter's figures. Each function returns the matplotlib Figure."""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ssllib.chapters import plots  # noqa: F401  (the book's matplotlib backend and style)
from ssllib.chapters.review import setting_gaps

FAMILY_COLOURS = {"contrastive": "tab:blue", "clustering": "tab:orange", "self-distillation": "tab:green",
                  "knowledge distillation": "tab:purple", "feature decorrelation": "tab:red"}


def _saying(text: str):
    """A one-line figure that says ``text``: what a figure shows while it has nothing to draw."""
    fig, ax = plt.subplots(figsize=(7.0, 1.2))
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=9)
    ax.set_axis_off()
    return fig


def field_results(field: pd.DataFrame):
    """Published ImageNet linear top-1 against pre-training epochs, one colour per family. The
    stated lengths are evenly spaced columns (in order, not to scale: 800 and 1000 epochs would
    otherwise share a column's labels), and rows without stated epochs sit in a column of their
    own on the right."""
    fig, ax = plt.subplots(figsize=(7.0, 3.8))
    stated = field["pretrain_epochs"].notna()
    lengths = sorted({float(e) for e in field.loc[stated, "pretrain_epochs"]})
    column = {length: i for i, length in enumerate(lengths)}
    xs = [column[float(e)] if not pd.isna(e) else len(lengths) for e in field["pretrain_epochs"]]
    points = list(zip(xs, field["value"].astype(float)))
    for family, group in field.groupby("family", sort=False):
        x = [xs[field.index.get_loc(i)] for i in group.index]
        ax.scatter(x, group["value"], color=FAMILY_COLOURS.get(family, "gray"), label=family, zorder=3)
    # Labels of points that sit within 0.6 points of each other in one column fan out from the
    # cluster's middle: the higher ones upwards, the lower ones downwards, each beside its own dot.
    for (xi, yi), name in zip(points, field["method"]):
        near = sorted(py for px, py in points if px == xi and abs(py - yi) < 0.6)
        rank = near.index(yi) - (len(near) - 1) / 2
        ax.annotate(name, (xi, yi), textcoords="offset points", xytext=(5, -3 + 7 * rank), fontsize=6, va="center")
    ax.set_xticks(range(len(lengths) + 1), [f"{t:g}" for t in lengths] + ["not\nstated"])
    ax.set_xlim(-0.4, len(lengths) + 0.9)     # room for the labels of the right-hand column
    ax.set_xlabel("pre-training epochs (in order, not to scale)")
    ax.set_ylabel("linear top-1 (%)")
    ax.set_title("ResNet-50 on ImageNet-1k, as the official repositories report it", fontsize=9)
    ax.grid(alpha=0.3)
    plots.legend_outside(ax)
    fig.tight_layout()
    return fig


def rankings(panels: dict[str, pd.DataFrame], metric_names: dict[str, str], empty: str = "no runs yet"):
    """One panel per paper: each compared variant's mean with its 95% interval over seeds
    (``panels``: paper title → rows with 'label', 'mean', 'low', 'high', 'seeds', 'replicates'); with no
    panel, one that says ``empty`` (so the figure the text refers to is always there)."""
    panels = {k: v for k, v in panels.items() if len(v)}
    if not panels:
        return _saying(empty)
    heights = [0.5 + 0.28 * len(v) for v in panels.values()]
    fig, axes = plt.subplots(len(panels), 1, figsize=(7.0, sum(heights) + 0.4), squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    for ax, (title, rows) in zip(axes[:, 0], panels.items()):
        y = np.arange(len(rows))[::-1]
        low = np.where(np.isnan(rows["low"]), rows["mean"], rows["low"])
        high = np.where(np.isnan(rows["high"]), rows["mean"], rows["high"])
        ax.errorbar(rows["mean"], y, xerr=[rows["mean"] - low, high - rows["mean"]], fmt="o", color="tab:blue",
                    capsize=3, markersize=4)
        ax.set_yticks(y, [f"{label} ({n})" for label, n in zip(rows["label"], rows["replicates"])], fontsize=7)
        ax.set_title(title, fontsize=8, loc="left")
        ax.set_xlabel(metric_names[title], fontsize=7)
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(axis="x", alpha=0.3)
        lo, hi = float(np.min(low)), float(np.max(high))
        pad = max(0.5, 0.08 * (hi - lo))
        ax.set_xlim(lo - pad, hi + pad)
        if not all(math.isfinite(v) for v in (lo, hi)):
            ax.set_xlim(auto=True)
    fig.tight_layout()
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
    fig, axes = plt.subplots(rows, cols, figsize=(7.0, 2.5 * rows + 0.6), squeeze=False)
    for ax in axes.flat[len(papers):]:
        ax.set_axis_off()
    for ax, paper in zip(axes.flat, papers):
        group = setting_gaps(pairs[pairs["paper"] == paper])
        half = group["half"].fillna(0.0)
        wide = max(float(group["x"].abs().max()), 0.5) * 1.15
        tall = max(float((group["y"].abs() + half).max()), 0.5) * 1.1
        ax.fill_between([0, wide], 0, tall, color="tab:green", alpha=0.06, lw=0)
        ax.fill_between([-wide, 0], -tall, 0, color="tab:green", alpha=0.06, lw=0)
        edge = min(wide, tall)
        ax.plot([-edge, edge], [-edge, edge], "--", color="gray", lw=0.8)
        ax.axhline(0, color="gray", lw=0.5)
        ax.axvline(0, color="gray", lw=0.5)
        for method, points in group.groupby("method", sort=False):
            dots = ax.scatter(points["x"], points["y"], s=14, label=method, zorder=3)
            # Half our 95% interval of the method's mean: a gap inside it is no side to call.
            ax.errorbar(points["x"], points["y"], yerr=half[points.index], fmt="none", lw=0.6, alpha=0.35,
                        color=dots.get_facecolor()[0], zorder=2)
        ax.set_xlim(-wide, wide)
        ax.set_ylim(-tall, tall)
        ax.set_title(f"{paper} ({group['published setting'].nunique()} settings)", fontsize=8, loc="left")
        ax.set_xlabel("published − setting mean", fontsize=7)
        ax.set_ylabel(f"ours − mean ({group['metric'].iloc[0]})", fontsize=7)
        ax.tick_params(labelsize=6)
        ax.legend(fontsize=6, loc="upper left", frameon=False)
    fig.tight_layout()
    return fig
