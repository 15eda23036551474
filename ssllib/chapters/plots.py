"""Figures the chapters draw. Each function returns the matplotlib Figure, drawn through
:mod:`ssllib.chapters.style`: the text column's width, text no smaller than 9 px as displayed,
one palette in which a baseline keeps its look."""
from __future__ import annotations

import textwrap

import numpy as np
import torch

from ssllib.chapters import style
from ssllib.chapters.style import FONT


def _to_display(x: torch.Tensor, mean, std) -> np.ndarray:
    """Undo the normalisation of one (C, H, W) image for display."""
    m = torch.as_tensor(mean).view(-1, 1, 1)
    s = torch.as_tensor(std).view(-1, 1, 1)
    img = (x.detach().cpu().float() * s + m).clamp(0, 1)
    return img[0].numpy() if img.shape[0] == 1 else img.permute(1, 2, 0).numpy()


def wrapped(text: str, width: int = 16) -> str:
    """``text`` broken at spaces into lines of about ``width`` characters (a narrow column's
    title); a longer word stays whole."""
    return "\n".join(textwrap.wrap(str(text), width, break_long_words=False, break_on_hyphens=False)) or str(text)


def augmented_views(images: torch.Tensor, augment, mean, std, views: int = 4, seed: int = 0, titles=None):
    """Each row: an original image, then ``views`` augmented views of it."""
    n = len(images)
    gen = torch.Generator().manual_seed(seed)
    outs = [augment(images, gen) for _ in range(views)]
    cell = style.WIDTH / (views + 2)     # one column's worth of room for the row labels
    fig, axes = style.subplots(n, views + 1, height=cell * n + 0.3, squeeze=False)
    for i in range(n):
        original = images[i].float() / 255
        axes[i, 0].imshow(original[0] if original.shape[0] == 1 else original.permute(1, 2, 0), cmap="gray",
                          vmin=0, vmax=1)
        for v in range(views):
            axes[i, v + 1].imshow(_to_display(outs[v][i], mean, std), cmap="gray", vmin=0, vmax=1)
        if titles is not None:
            axes[i, 0].set_ylabel(titles[i], fontsize=FONT["small"])
    for ax in axes.flat:
        ax.set_xticks([]), ax.set_yticks([])
    axes[0, 0].set_title("original")
    for v in range(views):
        axes[0, v + 1].set_title(f"view {v + 1}")
    return fig


def distribution_match(ours: dict[str, np.ndarray], reference: dict[str, np.ndarray], bins: int = 30,
                       labels=("ssllib (batched)", "torchvision (per image)")):
    """Overlaid histograms, one panel per quantity (its name on the x-axis): ours filled, the
    reference as a black outline."""
    fig, axes = style.subplots(1, len(ours), height=2.5, squeeze=False)
    for ax, key in zip(axes[0], ours):
        lo = min(ours[key].min(), reference[key].min())
        hi = max(ours[key].max(), reference[key].max())
        edges = np.linspace(lo, hi, bins + 1)
        ax.hist(ours[key], edges, alpha=0.6, density=True, label=labels[0], color=style.SKY)
        ax.hist(reference[key], edges, histtype="step", linewidth=1.4, density=True, label=labels[1], color="black")
        ax.set_xlabel(key)
    axes[0, 0].set_ylabel("density")
    style.legend(fig, "below")
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


def _line(ax, x, values: np.ndarray, look: style.Look, label: str, order: tuple[int, int] = (0, 1)) -> None:
    """The mean over seeds (rows of ``values``) as a line in ``look``, markers at about 12 points
    (the ``order[0]``-th of ``order[1]`` lines starts them a little later, so lines that overlap
    still show every marker), and the min–max over seeds as a band of the same colour."""
    step = max(1, len(x) // 12)
    start = min(len(x) - 1, order[0] * step // max(1, order[1])) if step > 1 else 0
    ax.plot(x, np.nanmean(values, 0), label=label, markevery=(start, step), **look.line())
    if len(values) > 1:
        ax.fill_between(x, np.nanmin(values, 0), np.nanmax(values, 0), alpha=0.2, color=look.colour, linewidth=0)


def training_curves(histories: dict[str, list[list[dict]]], metrics=("loss", "knn_monitor"),
                    titles=("training loss", "kNN monitor top-1 (%)"), ylabels=None):
    """Mean (line) and min–max (band) over seeds of each metric against epochs, one line per
    label; metrics logged within epochs are drawn at that resolution. ``ylabels`` (default the
    titles) name each panel's y-axis with its unit."""
    fig, axes = style.subplots(1, len(metrics), height=2.9, squeeze=False)
    look = style.looks(histories)
    for ax, metric, title, ylabel in zip(axes[0], metrics, titles, ylabels or titles):
        for i, (label, runs) in enumerate(histories.items()):
            series = [_series(run, metric) for run in runs]
            length = min(len(x) for x, _ in series)
            if length == 0:
                continue
            values = np.array([y[:length] for _, y in series])
            if np.isnan(values).all():
                continue
            _line(ax, series[0][0][:length], values, look[label], label, (i, len(histories)))
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(alpha=0.3)
        mark_cut(ax)
    style.legend(fig, "right" if len(metrics) == 1 else "below")
    return fig


def budget_curve(histories: dict[str, list[list[dict]]], levels: dict[str, float], start: dict[str, list[float]],
                 steps_per_epoch: int | None = None, title: str = "kNN monitor top-1 (%) against training budget"):
    """Accuracy against training budget: each label's per-epoch kNN monitor (mean over seeds,
    min–max band), starting at epoch 0 from ``start[label]`` (its networks at initialisation),
    with ``levels`` (name → accuracy on the same monitor) drawn as horizontal lines in their
    baselines' looks. With ``steps_per_epoch`` a second axis counts optimisation steps."""
    fig, ax = style.subplots(height=3.3)
    look = style.looks([*histories, *levels])
    for i, (label, runs) in enumerate(histories.items()):
        series = [_series(run, "knn_monitor") for run in runs]
        length = min(len(x) for x, _ in series)
        x = np.concatenate([[0], series[0][0][:length]])
        values = np.array([np.concatenate([[s0], y[:length]]) for s0, (_, y) in zip(start[label], series)])
        _line(ax, x, values, look[label], label, (i, len(histories)))
    for name, value in levels.items():
        ax.axhline(value, color=look[name].colour, linestyle=look[name].linestyle, linewidth=1.3,
                   label=f"{name} ({value:.1f})")
    if steps_per_epoch:
        top = ax.secondary_xaxis("top", functions=(lambda e: e * steps_per_epoch, lambda s: s / steps_per_epoch))
        top.set_xlabel("optimisation steps")
    return _finish(fig, ax, title, "top-1 (%)")


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
    """The finish of a one-axes plot: axis labels, title, grid, a cut y-axis marked, the legend
    to the right of the axes."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    mark_cut(ax)
    style.legend(fig, "right")
    return fig


def difference_curve(differences, title: str, ylabel: str = "difference (points)"):
    """A paired difference against epochs: ``differences`` is a list of (epoch,
    :class:`~ssllib.chapters.statistics.PairedDifference`); the line is the mean, the band its
    95% interval, the dashed line zero."""
    fig, ax = style.subplots(height=2.8)
    epochs = [e for e, _ in differences]
    colour = style.METHOD_COLOURS[0]
    ax.plot(epochs, [d.mean for _, d in differences], marker="o", color=colour, label="mean over paired seeds")
    ax.fill_between(epochs, [d.low for _, d in differences], [d.high for _, d in differences], alpha=0.25,
                    color=colour, linewidth=0, label="95% CI over paired seeds")
    ax.axhline(0, color="black", linestyle="--", linewidth=1)
    return _finish(fig, ax, title, ylabel)


def accuracy_dots(table, metrics=("kNN top-1", "linear top-1"), title: str = "", reference: str | None = None,
                  spread=None, spread_label: str = ""):
    """One panel per metric, one row per method of ``table`` (a
    :func:`~ssllib.chapters.report.mean_std_table`): the mean over seeds (dot) with ± one standard
    deviation (line); a row of one seed is a hollow dot with no line, and its label says so. The
    axis spans the values rather than 0 to 100, so sub-point differences show (dots encode
    position, not length). With ``reference`` (a row) and ``spread`` (a row of another table with
    '<metric> std'), a band of ± that std around the reference row's value: how far one seed
    may move by chance (``spread_label`` names it in the legend)."""
    rows = list(table.index)
    counts = [int(n) for n in table[f"{metrics[0]} runs"]] if f"{metrics[0]} runs" in table else []
    seeds = {n: "one seed" if n == 1 else f"{n} seeds" for n in counts}
    if len(seeds) > 1:      # rows of different numbers of seeds: each label says its own
        names = [f"{r} ({seeds[n]})" for r, n in zip(rows, counts)]
    else:                   # one number for every row: the title says it once
        names = [str(r) for r in rows]
        if counts:
            title = f"{title}, {seeds[counts[0]]} per row" if title else f"{seeds[counts[0]]} per row"
    fig, axes = style.subplots(1, len(metrics), height=0.9 + 0.27 * len(rows), sharey=True, squeeze=False)
    look = style.looks(rows)
    y = np.arange(len(rows))[::-1]
    for ax, metric in zip(axes[0], metrics):
        means, stds = table[f"{metric} mean"].to_numpy(float), table[f"{metric} std"].to_numpy(float)
        if reference is not None and spread is not None and np.isfinite(float(spread[f"{metric} std"])):
            centre, half = float(table.loc[reference, f"{metric} mean"]), float(spread[f"{metric} std"])
            ax.axvspan(centre - half, centre + half, color=style.NEUTRAL, alpha=0.35, linewidth=0,
                       label=spread_label or f"± one std around {reference}")
        for yi, row, mean, std in zip(y, rows, means, stds):
            single = not np.isfinite(std)
            if not single:
                ax.plot([mean - std, mean + std], [yi, yi], color=look[row].colour, linewidth=1.6)
            ax.plot([mean], [yi], linestyle="none", marker=look[row].marker or "o", markersize=6,
                    color=look[row].colour, markerfacecolor="white" if single else look[row].colour)
        ax.set_xlabel(f"{metric} (%)")
        ax.grid(axis="x", alpha=0.3)
        ax.margins(x=0.12)
    axes[0, 0].set_yticks(y, [wrapped(n, 34) for n in names])
    axes[0, 0].set_ylim(-0.6, len(rows) - 0.4)
    if title:
        fig.suptitle(title)
    style.legend(fig, "below")
    return fig


def similarity_distributions(summary: dict, title: str = "q·n for each kind of negative"):
    """One box per kind of negative (whiskers 1st–99th percentile), ordered as given, from
    :func:`ssllib.chapters.diagnostics.similarity_summary`."""
    fig, ax = style.subplots(height=3.2)
    stats = [{"whislo": s["q01"], "q1": s["q25"], "med": s["median"], "q3": s["q75"], "whishi": s["q99"],
              "label": name} for name, s in summary.items()]
    ax.bxp(stats, showfliers=False, widths=0.6, medianprops={"color": style.VERMILLION, "linewidth": 1.6})
    ax.set_xticks(np.arange(1, len(summary) + 1), list(summary), rotation=30, ha="right")
    ax.set_ylabel("cosine similarity to the query")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    return fig


def metric_traces(series: dict[str, tuple[list[list[dict]], str]], title: str, ylabel: str = ""):
    """Several logged metrics on one axis: ``{label: (histories over seeds, metric name)}``;
    mean over seeds with the min–max band, at the resolution the metric was logged."""
    fig, ax = style.subplots(height=3.1)
    look = style.looks(series)
    for i, (label, (runs, metric)) in enumerate(series.items()):
        curves = [_series(run, metric) for run in runs]
        length = min(len(x) for x, _ in curves)
        if length == 0:
            continue
        _line(ax, curves[0][0][:length], np.array([y[:length] for _, y in curves]), look[label], label,
              (i, len(series)))
    return _finish(fig, ax, title, ylabel)


def relation_distributions(p_t: np.ndarray, p_s: np.ndarray, top: int = 30, titles=None):
    """For each row (one image), the teacher's distribution over the memory at its ``top``
    entries, largest first (bars), with the student's probability of the same entries (dots)."""
    n = len(p_t)
    fig, axes = style.subplots(1, n, height=2.7, sharey=True, squeeze=False)
    teacher = style.BASELINES["teacher"]
    for i, ax in enumerate(axes[0]):
        order = np.argsort(-p_t[i])[:top]
        ax.bar(np.arange(top), p_t[i][order], color=teacher.colour, alpha=0.45, label="teacher $p_T$")
        ax.plot(np.arange(top), p_s[i][order], "o", color=style.ORANGE, markersize=3.5, label="student $p_S$")
        ax.set_xlabel(f"teacher's top {top} entries")
        if titles is not None:
            ax.set_title(wrapped(titles[i], 26), fontsize=FONT["small"])
        ax.grid(axis="y", alpha=0.3)
    axes[0, 0].set_ylabel("probability")
    style.legend(fig, "below")
    return fig


def band_lines(series: dict[str, tuple[np.ndarray, np.ndarray]], title: str, ylabel: str, xlabel: str = "epoch"):
    """One line per label: ``(x, values)`` with values (seeds, points); the mean is the line,
    the min–max over seeds the band."""
    fig, ax = style.subplots(height=3.1)
    look = style.looks(series)
    for i, (label, (x, values)) in enumerate(series.items()):
        if len(x) == 0:
            continue
        _line(ax, x, values, look[label], label, (i, len(series)))
    return _finish(fig, ax, title, ylabel, xlabel)


def _name_groups(ax, points: np.ndarray, groups: np.ndarray, names: dict) -> None:
    """Each group's name written at its points' median, so no colour has to be matched to a key."""
    import matplotlib.patheffects as effects

    for g, name in names.items():
        where = points[groups == g]
        if len(where):
            ax.text(*np.median(where, 0), name, fontsize=FONT["tiny"], ha="center", va="center",
                    path_effects=[effects.withStroke(linewidth=2.5, foreground="white")])


def cluster_picture(picture: dict, shown_clusters: int = 10):
    """Two views of one 2-D embedding (``cluster_experiments.picture``): points coloured by
    their cluster (the ``shown_clusters`` largest in colour and numbered, the rest grey) and by
    their class (each class's name written at its points' median)."""
    points, clusters, classes = picture["points"], picture["clusters"], picture["classes"]
    fig, axes = style.subplots(1, 2, height=3.5)
    ids, counts = np.unique(clusters, return_counts=True)
    largest = ids[np.argsort(-counts)][:shown_clusters]
    rest = ~np.isin(clusters, largest)
    colours = style.categorical(max(len(largest), len(np.unique(classes))))
    axes[0].scatter(points[rest, 0], points[rest, 1], s=2, color=style.NEUTRAL)
    for i, c in enumerate(largest):
        mask = clusters == c
        axes[0].scatter(points[mask, 0], points[mask, 1], s=2, color=colours[i])
    _name_groups(axes[0], points, clusters, {c: str(c) for c in largest})
    axes[0].set_title(f"by cluster ({len(largest)} largest of {len(ids)} numbered)")
    for i, y in enumerate(np.unique(classes)):
        mask = classes == y
        axes[1].scatter(points[mask, 0], points[mask, 1], s=2, color=colours[i])
    _name_groups(axes[1], points, classes, {y: picture["class_names"][int(y)] for y in np.unique(classes)})
    axes[1].set_title("by true class")
    for ax in axes:
        ax.set_xticks([]), ax.set_yticks([])
        ax.set_xlabel("t-SNE 1"), ax.set_ylabel("t-SNE 2")
    return fig


def patch_maps(images: torch.Tensor, maps: dict[str, torch.Tensor], mean, std):
    """Each row an image, then one map per label (``(N, rows, columns)``, e.g. a patch
    similarity), each drawn over the image's full extent on a shared colour scale."""
    n, labels = len(images), list(maps)
    low = min(float(m.min()) for m in maps.values())
    high = max(float(m.max()) for m in maps.values())
    cell = (style.WIDTH - 1.1) / (1 + len(labels))
    fig, axes = style.subplots(n, 1 + len(labels), height=cell * n + 0.5, squeeze=False)
    shown = None
    for i in range(n):
        axes[i, 0].imshow(_to_display(images[i].cpu(), mean, std), cmap="gray" if images.shape[1] == 1 else None)
        for j, label in enumerate(labels, start=1):
            shown = axes[i, j].imshow(maps[label][i].cpu().numpy(), cmap="magma", vmin=low, vmax=high)
            if i == 0:
                axes[i, j].set_title(wrapped(label, 14), fontsize=FONT["small"])
        if i == 0:
            axes[i, 0].set_title("image", fontsize=FONT["small"])
        axes[i, 0].set_ylabel(f"test image {i}", fontsize=FONT["small"])
    for ax in axes.flat:
        ax.set_xticks([]), ax.set_yticks([])
    fig.colorbar(shown, ax=axes, fraction=0.04, pad=0.02, label="cosine to the pooled feature")
    return fig
