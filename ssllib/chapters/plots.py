"""Figures the chapters draw. Each function returns the matplotlib Figure."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg") if not matplotlib.get_backend().lower().startswith(("module://", "nbagg")) else None
import matplotlib.pyplot as plt
import numpy as np
import torch


def _to_display(x: torch.Tensor, mean, std) -> np.ndarray:
    """Undo the normalisation of one (C, H, W) image for display."""
    m = torch.as_tensor(mean).view(-1, 1, 1)
    s = torch.as_tensor(std).view(-1, 1, 1)
    img = (x.detach().cpu().float() * s + m).clamp(0, 1)
    return img[0].numpy() if img.shape[0] == 1 else img.permute(1, 2, 0).numpy()


def augmented_views(images: torch.Tensor, augment, mean, std, views: int = 4, seed: int = 0, titles=None):
    """Each row: an original image, then ``views`` augmented views of it."""
    n = len(images)
    gen = torch.Generator().manual_seed(seed)
    outs = [augment(images, gen) for _ in range(views)]
    fig, axes = plt.subplots(n, views + 1, figsize=(1.5 * (views + 1), 1.5 * n))
    axes = np.atleast_2d(axes)
    for i in range(n):
        original = images[i].float() / 255
        axes[i, 0].imshow(original[0] if original.shape[0] == 1 else original.permute(1, 2, 0), cmap="gray",
                          vmin=0, vmax=1)
        for v in range(views):
            axes[i, v + 1].imshow(_to_display(outs[v][i], mean, std), cmap="gray", vmin=0, vmax=1)
        if titles is not None:
            axes[i, 0].set_ylabel(titles[i], fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([]), ax.set_yticks([])
    axes[0, 0].set_title("original", fontsize=9)
    for v in range(views):
        axes[0, v + 1].set_title(f"view {v + 1}", fontsize=9)
    fig.tight_layout()
    return fig


def distribution_match(ours: dict[str, np.ndarray], reference: dict[str, np.ndarray], bins: int = 30,
                       labels=("ssllib (batched)", "torchvision (per image)")):
    """Overlaid histograms, one panel per quantity."""
    fig, axes = plt.subplots(1, len(ours), figsize=(3.4 * len(ours) + 1.8, 2.8))
    for ax, key in zip(np.atleast_1d(axes), ours):
        lo = min(ours[key].min(), reference[key].min())
        hi = max(ours[key].max(), reference[key].max())
        edges = np.linspace(lo, hi, bins + 1)
        ax.hist(ours[key], edges, alpha=0.55, density=True, label=labels[0])
        ax.hist(reference[key], edges, histtype="step", linewidth=1.5, density=True, label=labels[1], color="k")
        ax.set_title(key, fontsize=10)
        ax.set_xlabel(key)
        ax.set_ylabel("density")
    legend_outside(np.atleast_1d(axes)[-1])
    fig.tight_layout()
    return fig


def _series(run: list[dict], metric: str) -> tuple[np.ndarray, np.ndarray]:
    """(epoch, value) points of one run: the within-epoch trace where it has the metric, else
    one point per epoch."""
    if run and all(metric in t for h in run for t in h.get("trace", [{}])):
        steps_per_epoch = run[0]["trace"][-1]["step"]
        points = [(t["step"] / steps_per_epoch, t[metric]) for h in run for t in h["trace"]]
    else:
        points = [(h["epoch"], h.get(metric, np.nan)) for h in run]
    x, y = zip(*points) if points else ((), ())
    return np.asarray(x, float), np.asarray(y, float)


def training_curves(histories: dict[str, list[list[dict]]], metrics=("loss", "knn_monitor"),
                    titles=("training loss", "kNN monitor top-1 (%)"), ylabels=None):
    """Mean (line) and min–max (band) over seeds of each metric against epochs, one line per
    label; metrics logged within epochs are drawn at that resolution. ``ylabels`` (default the
    titles) name each panel's y-axis with its unit."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics) + 1.6, 3.2))
    for ax, metric, title, ylabel in zip(np.atleast_1d(axes), metrics, titles, ylabels or titles):
        for label, runs in histories.items():
            series = [_series(run, metric) for run in runs]
            length = min(len(x) for x, _ in series)
            if length == 0:
                continue
            x = series[0][0][:length]
            values = np.array([y[:length] for _, y in series])
            if np.isnan(values).all():
                continue
            ax.plot(x, np.nanmean(values, 0), marker="o" if length < 20 else None, label=label)
            if len(values) > 1:
                ax.fill_between(x, np.nanmin(values, 0), np.nanmax(values, 0), alpha=0.2)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        mark_cut(ax)
    legend_outside(np.atleast_1d(axes)[-1])
    fig.tight_layout()
    return fig


def budget_curve(histories: dict[str, list[list[dict]]], levels: dict[str, float], start: dict[str, list[float]],
                 steps_per_epoch: int | None = None, title: str = "kNN monitor top-1 (%) against training budget"):
    """Accuracy against training budget: each label's per-epoch kNN monitor (mean over seeds,
    min–max band), starting at epoch 0 from ``start[label]`` (its networks at initialisation),
    with ``levels`` (name → accuracy on the same monitor) drawn as horizontal lines. With
    ``steps_per_epoch`` a second axis counts optimisation steps."""
    fig, ax = plt.subplots(figsize=(7.4, 3.6))
    for label, runs in histories.items():
        series = [_series(run, "knn_monitor") for run in runs]
        length = min(len(x) for x, _ in series)
        x = np.concatenate([[0], series[0][0][:length]])
        values = np.array([np.concatenate([[s0], y[:length]]) for s0, (_, y) in zip(start[label], series)])
        ax.plot(x, values.mean(0), marker="o", label=label)
        if len(values) > 1:
            ax.fill_between(x, values.min(0), values.max(0), alpha=0.2)
    for i, (name, value) in enumerate(levels.items()):
        ax.axhline(value, color=f"C{len(histories) + i}", linestyle="--", linewidth=1.2, label=f"{name} ({value:.1f})")
    if steps_per_epoch:
        top = ax.secondary_xaxis("top", functions=(lambda e: e * steps_per_epoch, lambda s: s / steps_per_epoch))
        top.set_xlabel("optimisation steps", fontsize=9)
    return _finish(fig, ax, title, "top-1 (%)")


def legend_outside(ax) -> None:
    """The legend to the right of the axes, where it covers no data."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, frameon=False)


def mark_cut(ax) -> None:
    """A y-axis that does not start at 0 says so: break marks at its foot and 'axis from …' in
    its label. An axis that reaches 0 or below is left alone."""
    low, _ = ax.get_ylim()
    if low <= 0:
        return
    marks = dict(transform=ax.transAxes, color="black", clip_on=False, linewidth=1)
    for dy in (0.0, 0.025):
        ax.plot([-0.02, 0.02], [0.005 + dy, 0.025 + dy], **marks)
    ax.set_ylabel(f"{ax.get_ylabel()}, axis from {low:.3g}")


def _finish(fig, ax, title: str, ylabel: str, xlabel: str = "epoch"):
    """The finish of a plot: axis labels, title, grid, a cut y-axis marked, the legend outside."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    mark_cut(ax)
    legend_outside(ax)
    fig.tight_layout()
    return fig


def difference_curve(differences, title: str, ylabel: str = "difference (points)"):
    """A paired difference against epochs: ``differences`` is a list of (epoch,
    :class:`~ssllib.chapters.statistics.PairedDifference`); the line is the mean, the band its
    95% interval, the dashed line zero."""
    fig, ax = plt.subplots(figsize=(7.4, 3.0))
    epochs = [e for e, _ in differences]
    ax.plot(epochs, [d.mean for _, d in differences], marker="o")
    ax.fill_between(epochs, [d.low for _, d in differences], [d.high for _, d in differences], alpha=0.25,
                    label="95% CI over paired seeds")
    ax.axhline(0, color="black", linestyle="--", linewidth=1)
    return _finish(fig, ax, title, ylabel)


def accuracy_bars(table, metrics=("kNN top-1", "linear top-1"), title: str = ""):
    """Grouped bars with ± std error bars from a table with '<metric> mean' and '<metric> std' columns."""
    fig, ax = plt.subplots(figsize=(2.6 + 1.1 * len(table), 3.4))
    x = np.arange(len(table))
    width = 0.8 / len(metrics)
    for i, metric in enumerate(metrics):
        ax.bar(x + (i - (len(metrics) - 1) / 2) * width, table[f"{metric} mean"], width,
               yerr=table[f"{metric} std"].fillna(0), capsize=3, label=metric)
    ax.set_xticks(x, table.index, rotation=15, ha="right", fontsize=9)
    ax.set_ylim(0, 100)
    ax.set_ylabel("top-1 accuracy (%)")
    legend_outside(ax)
    ax.grid(axis="y", alpha=0.3)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def similarity_distributions(summary: dict, title: str = "q·n for each kind of negative"):
    """One box per kind of negative (whiskers 1st–99th percentile), ordered as given, from
    :func:`ssllib.chapters.diagnostics.similarity_summary`."""
    fig, ax = plt.subplots(figsize=(1.4 + 0.9 * len(summary), 3.4))
    stats = [{"whislo": s["q01"], "q1": s["q25"], "med": s["median"], "q3": s["q75"], "whishi": s["q99"],
              "label": name} for name, s in summary.items()]
    ax.bxp(stats, showfliers=False, widths=0.6)
    ax.set_xticks(np.arange(1, len(summary) + 1), list(summary), rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("cosine similarity to the query")
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def metric_traces(series: dict[str, tuple[list[list[dict]], str]], title: str, ylabel: str = ""):
    """Several logged metrics on one axis: ``{label: (histories over seeds, metric name)}``;
    mean over seeds with the min–max band, at the resolution the metric was logged."""
    fig, ax = plt.subplots(figsize=(7.6, 3.4))
    for label, (runs, metric) in series.items():
        curves = [_series(run, metric) for run in runs]
        length = min(len(x) for x, _ in curves)
        if length == 0:
            continue
        x, values = curves[0][0][:length], np.array([y[:length] for _, y in curves])
        ax.plot(x, values.mean(0), label=label)
        if len(values) > 1:
            ax.fill_between(x, values.min(0), values.max(0), alpha=0.2)
    return _finish(fig, ax, title, ylabel)


def relation_distributions(p_t: np.ndarray, p_s: np.ndarray, top: int = 30, titles=None):
    """For each row (one image), the teacher's distribution over the memory at its ``top``
    entries, largest first (bars), with the student's probability of the same entries (dots)."""
    n = len(p_t)
    fig, axes = plt.subplots(1, n, figsize=(3.4 * n + 1.6, 3.0), sharey=True)
    for i, ax in enumerate(np.atleast_1d(axes)):
        order = np.argsort(-p_t[i])[:top]
        ax.bar(np.arange(top), p_t[i][order], color="tab:blue", alpha=0.6, label="teacher $p_T$")
        ax.plot(np.arange(top), p_s[i][order], "o", color="tab:orange", markersize=3.5, label="student $p_S$")
        ax.set_xlabel(f"memory entries (teacher's top {top})")
        if titles is not None:
            ax.set_title(titles[i], fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("probability")
    legend_outside(np.atleast_1d(axes)[-1])
    fig.tight_layout()
    return fig


def band_lines(series: dict[str, tuple[np.ndarray, np.ndarray]], title: str, ylabel: str, xlabel: str = "epoch"):
    """One line per label: ``(x, values)`` with values (seeds, points); the mean is the line,
    the min–max over seeds the band."""
    fig, ax = plt.subplots(figsize=(7.6, 3.4))
    for label, (x, values) in series.items():
        if len(x) == 0:
            continue
        ax.plot(x, values.mean(0), label=label)
        if len(values) > 1:
            ax.fill_between(x, values.min(0), values.max(0), alpha=0.2)
    return _finish(fig, ax, title, ylabel, xlabel)


def cluster_picture(picture: dict, shown_clusters: int = 10):
    """Two views of one 2-D embedding (``cluster_experiments.picture``): points coloured by
    their cluster (the ``shown_clusters`` largest in colour, the rest grey) and by their class."""
    points, clusters, classes = picture["points"], picture["clusters"], picture["classes"]
    fig, axes = plt.subplots(1, 2, figsize=(11.5, 4.6))
    ids, counts = np.unique(clusters, return_counts=True)
    largest = ids[np.argsort(-counts)][:shown_clusters]
    rest = ~np.isin(clusters, largest)
    axes[0].scatter(points[rest, 0], points[rest, 1], s=3, color="lightgrey", label="other clusters")
    for i, c in enumerate(largest):
        mask = clusters == c
        axes[0].scatter(points[mask, 0], points[mask, 1], s=3, color=plt.cm.tab10(i % 10), label=f"cluster {c}")
    axes[0].set_title(f"by cluster (the {len(largest)} largest of {len(ids)} in colour)", fontsize=10)
    for y in np.unique(classes):
        mask = classes == y
        axes[1].scatter(points[mask, 0], points[mask, 1], s=3, color=plt.cm.tab10(int(y) % 10),
                        label=picture["class_names"][int(y)])
    axes[1].set_title("by true class", fontsize=10)
    for ax in axes:
        ax.set_xticks([]), ax.set_yticks([])
        ax.set_xlabel("t-SNE 1"), ax.set_ylabel("t-SNE 2")
        ax.legend(fontsize=7, markerscale=3, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def patch_maps(images: torch.Tensor, maps: dict[str, torch.Tensor], mean, std):
    """Each row an image, then one map per label (``(N, rows, columns)``, e.g. a patch
    similarity), each drawn over the image's full extent on a shared colour scale."""
    n, labels = len(images), list(maps)
    low = min(float(m.min()) for m in maps.values())
    high = max(float(m.max()) for m in maps.values())
    fig, axes = plt.subplots(n, 1 + len(labels), figsize=(1.55 * (1 + len(labels)) + 0.9, 1.55 * n + 0.5),
                             squeeze=False)
    shown = None
    for i in range(n):
        axes[i, 0].imshow(_to_display(images[i].cpu(), mean, std), cmap="gray" if images.shape[1] == 1 else None)
        for j, label in enumerate(labels, start=1):
            shown = axes[i, j].imshow(maps[label][i].cpu().numpy(), cmap="magma", vmin=low, vmax=high)
            if i == 0:
                axes[i, j].set_title(label, fontsize=8)
        if i == 0:
            axes[i, 0].set_title("image", fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([]), ax.set_yticks([])
    fig.colorbar(shown, ax=axes, fraction=0.03, pad=0.02, label="cosine to the pooled feature")
    return fig
