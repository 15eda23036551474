"""The book's figure style (ssllib/chapters/style.py): every plotting helper draws at the text
column's width with text of at least 9 px as displayed, records that size in its PNG, and uses
one palette in which a baseline keeps its look and no two series are told apart by red against
green."""
import io
import itertools
import struct
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.colors import to_rgb

from ssllib.chapters import plots, retrieval_plots, review_plots, style, wsi_plots

sys.path.insert(0, str(Path(__file__).resolve().parent))
import browser  # noqa: E402

@pytest.fixture(autouse=True)
def _close_figures():
    import matplotlib.pyplot as plt
    yield
    plt.close("all")


# --- colour vision -------------------------------------------------------------------------------
# Machado, Oliveira & Fernandes (2009), severity 1: what a protanope and a deuteranope see, in linear RGB.
SIMULATIONS = {
    "protanopia": np.array([[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
}
APART = 12.0   # CIE76 ΔE: two colours further apart than this are told apart at a glance


def _lab(linear: np.ndarray) -> np.ndarray:
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ np.clip(linear, 0, 1)
    f = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(f > 0.008856, np.cbrt(f), 7.787 * f + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def seen_apart(a: str, b: str, simulation: np.ndarray) -> float:
    """ΔE between colours ``a`` and ``b`` as a viewer with the simulated deficiency sees them."""
    def linear(c):
        c = np.asarray(to_rgb(c))
        return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return float(np.linalg.norm(_lab(simulation @ linear(a)) - _lab(simulation @ linear(b))))


def test_the_measure_catches_red_against_green():
    assert seen_apart("tab:green", "tab:red", SIMULATIONS["deuteranopia"]) < APART   # matplotlib's old default pair
    assert seen_apart("tab:green", "tab:red", np.eye(3)) > 3 * APART                 # obvious to everyone else


def test_no_two_colours_of_the_palette_are_told_apart_by_red_and_green_alone():
    palette = {*style.METHOD_COLOURS, *(look.colour for look in style.BASELINES.values())}
    for (a, b), (kind, simulation) in itertools.product(itertools.combinations(sorted(palette), 2), SIMULATIONS.items()):
        assert seen_apart(a, b, simulation) >= APART, (a, b, kind)


def test_every_series_of_a_figure_differs_in_marker_or_line_as_well_as_colour():
    labels = ["raw pixels", "random init", "supervised", "MoCo-v2", *(f"method {i}" for i in range(8))]
    looks = style.looks(labels)
    assert len({(look.colour, look.marker, look.linestyle) for look in looks.values()}) == len(labels)
    assert len({(look.marker, look.linestyle) for look in looks.values()}) == len(labels)   # even in grey


# --- a baseline keeps its look ---------------------------------------------------------------------
def test_a_baseline_keeps_its_look_whatever_else_the_figure_shows():
    alone = style.looks(["raw pixels", "MoCo-v2"])
    crowded = style.looks(["SynCo", "MoCHI", "CueCo", "MoCo-v2", "raw pixels (70.9)", "random init (63.4)"])
    assert alone["raw pixels"] == crowded["raw pixels (70.9)"] == style.BASELINES["raw pixels"]
    assert alone["MoCo-v2"] == crowded["MoCo-v2"] == style.BASELINES["MoCo-v2"]
    assert crowded["random init (63.4)"] == style.BASELINES["random init"]
    method_colours = {crowded[m].colour for m in ("SynCo", "MoCHI", "CueCo")}
    assert len(method_colours) == 3 and not method_colours & {b.colour for b in style.BASELINES.values()}


@pytest.mark.parametrize("label, baseline", [
    ("raw pixels", "raw pixels"), ("raw pixels (70.9)", "raw pixels"), ("random init · vit_micro_small_image", "random init"),
    ("Student (cross-entropy, alone)", "student alone"), ("Student", "student alone"), ("student alone", "student alone"),
    ("teacher", "teacher"), ("Teacher", "teacher"), ("supervised features", "supervised"), ("supervised", "supervised"),
    ("MoCo-v2 (no synthetic)", "MoCo-v2"), ("MoCo-v2 features", "MoCo-v2"), ("chance (k/K)", "chance"),
    ("captions + MoCo-v2 (w = 0.5)", None), ("SynCo", None), ("MoBY + synthetic negatives", None), ("KD", None),
])
def test_labels_name_their_baseline(label, baseline):
    assert style.baseline_of(label) == baseline


def test_the_raw_pixel_line_is_the_same_beside_one_method_or_three():
    def raw_line(methods):
        history = [{"epoch": e, "knn_monitor": 60.0 + e} for e in (1, 2, 3)]
        fig = plots.budget_curve({m: [history] for m in methods}, {"raw pixels": 70.0, "random init": 55.0},
                                 {m: [50.0] for m in methods})
        line = next(l for l in fig.axes[0].lines if l.get_label().startswith("raw pixels"))
        return line.get_color(), line.get_linestyle()
    assert raw_line(["MoCo-v2"]) == raw_line(["MoCo-v2", "MoCHI", "SynCo"]) == (style.BASELINES["raw pixels"].colour, "--")


# --- sizes -------------------------------------------------------------------------------------------
def test_the_sizes_agree():
    assert style.WIDTH * style.PX_PER_INCH == style.COLUMN_PX
    assert style.displayed_px(style.MIN_FONT_PT) >= style.MIN_TEXT_PX
    assert min(style.FONT.values()) == style.MIN_FONT_PT
    assert browser.FIGURE_TEXT_PX == style.MIN_TEXT_PX and browser.TEXT_SIZE_KEY == style.TEXT_SIZE_KEY


def _history(n=6, seed=0):
    rng = np.random.default_rng(seed)
    return [{"epoch": e + 1, "loss": 5 - 0.1 * e, "knn_monitor": 60 + e + rng.normal(), "ce": 2 - 0.05 * e,
             "val_top1": 70 + 0.3 * e, "scale": 1 + 0.1 * e} for e in range(n)]


def _table(rows, seeds):
    values = np.linspace(70, 74, len(rows))
    return pd.DataFrame({"kNN top-1 mean": values, "kNN top-1 std": [0.4 if n > 1 else np.nan for n in seeds],
                         "kNN top-1 runs": seeds, "linear top-1 mean": values + 5,
                         "linear top-1 std": [0.3 if n > 1 else np.nan for n in seeds], "linear top-1 runs": seeds},
                        index=rows)


def _figures():
    """One figure of every plotting helper, on small made-up inputs."""
    rng = np.random.default_rng(0)
    images = (torch.rand(3, 1, 28, 28) * 255).to(torch.uint8)
    runs = {"MoCo-v2": [_history(), _history(seed=1)], "SynCo": [_history(seed=2)],
            "Student (cross-entropy, alone)": [_history(seed=3)]}
    names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

    class Domain:
        def __init__(self):
            self.labels, self.classes = torch.arange(10), names
            self.images = (torch.rand(10, 3, 16, 16) * 255).to(torch.uint8)

    gallery = {"images": (torch.rand(2, 5, 3, 16, 16) * 255).to(torch.uint8), "labels": torch.tensor([[0, 1] * 2 + [0]] * 2)}
    yield "augmented_views", plots.augmented_views(images, lambda x, g: x.float() / 255, [0.0], [1.0], views=4,
                                                   titles=names[:3])
    yield "distribution_match", plots.distribution_match({"area": rng.random(200), "ratio": rng.random(200)},
                                                         {"area": rng.random(200), "ratio": rng.random(200)})
    yield "training_curves", plots.training_curves(runs, metrics=("ce", "val_top1"), titles=("ce", "top-1"))
    yield "budget_curve", plots.budget_curve(runs, {"raw pixels": 70.0, "random init": 60.0},
                                             {k: [55.0] * len(v) for k, v in runs.items()}, steps_per_epoch=100)
    yield "difference_curve", plots.difference_curve(
        [(e, type("D", (), {"mean": 0.1 * e, "low": -1.0, "high": 1.0})()) for e in range(1, 6)], "A − B")
    yield "accuracy_dots", plots.accuracy_dots(_table(["raw pixels", "random init", "MoCo-v2", "supervised"], [1, 3, 3, 3]),
                                               title="test top-1 (%)")
    yield "similarity_distributions", plots.similarity_distributions(
        {n: {"q01": -0.1, "q25": 0.0, "median": 0.1, "q75": 0.2, "q99": 0.5} for n in ("queue", "hard", "1 mixup")})
    yield "metric_traces", plots.metric_traces({"DCD": ([_history()], "scale"), "DCD+KD": ([_history()], "scale")},
                                               "κ", ylabel="κ")
    yield "relation_distributions", plots.relation_distributions(rng.dirichlet(np.ones(50), 3),
                                                                 rng.dirichlet(np.ones(50), 3), titles=names[:3])
    yield "band_lines", plots.band_lines({"w": (np.arange(5), rng.random((3, 5)))}, "fusion", "score (%)")
    yield "cluster_picture", plots.cluster_picture({"points": rng.normal(size=(300, 2)), "clusters": rng.integers(0, 30, 300),
                                                    "classes": rng.integers(0, 10, 300), "class_names": names})
    yield "patch_maps", plots.patch_maps(torch.rand(3, 1, 16, 16), {f"{a}, MoBY + negatives": torch.rand(3, 4, 4)
                                                                    for a in ("ViT", "Swin")}, [0.0], [1.0])
    yield "domain_examples", retrieval_plots.domain_examples({"photo": Domain(), "sketch": Domain(), "negative": Domain()})
    yield "retrieval_examples", retrieval_plots.retrieval_examples(
        {"images": (torch.rand(2, 3, 16, 16) * 255).to(torch.uint8), "labels": torch.tensor([0, 1]), "classes": names,
         "domain": "sketch"}, {"captions + MoCo-v2 (w = 0.5)": gallery, "MoCo-v2 features": gallery}, 5)
    yield "attention_bags", wsi_plots.attention_bags(
        [{"images": torch.rand(n, 1, 28, 28), "attention": {"base": rng.dirichlet(np.ones(n)), "D&D": rng.dirichlet(np.ones(n))},
          "instance_classes": rng.integers(0, 3, n), "witness": 1, "title": "a positive slide"} for n in (20, 8)])
    yield "bag_examples", wsi_plots.bag_examples([torch.rand(16, 1, 28, 28)] * 2, ["tops, positive", "shoes, positive"],
                                                 [rng.integers(0, 2, 16)] * 2)
    yield "field_results", review_plots.field_results(pd.DataFrame(
        {"method": ["MoCo v2", "SwAV", "DINO", "Barlow Twins"], "family": ["contrastive", "clustering", "self-distillation",
                                                                            "feature decorrelation"],
         "pretrain_epochs": [200, 800, None, 1000], "value": [67.5, 75.3, 75.3, 73.2]}))
    yield "rankings", review_plots.rankings(
        {"RRD": pd.DataFrame({"label": ["RRD", "KD", "Student (cross-entropy, alone)"], "mean": [78.0, 77.5, 77.0],
                              "low": [77.0, 76.0, np.nan], "high": [79.0, 79.0, np.nan], "seeds": [3, 3, 1],
                              "replicates": ["3 seeds", "3 seeds", "one seed"]})}, {"RRD": "test_top1 (%)"})


def _inline_png(fig) -> bytes:
    """The PNG a notebook shows for ``fig``: what the inline backend makes of it."""
    from IPython.core.pylabtools import print_figure
    return print_figure(fig, "png", bbox_inches="tight")


@pytest.mark.parametrize("name, fig", list(_figures()), ids=lambda x: x if isinstance(x, str) else "")
def test_every_figure_fills_the_column_with_text_of_at_least_9_px_as_displayed(name, fig):
    png = _inline_png(fig)
    width = struct.unpack(">I", png[16:20])[0]
    full = style.COLUMN_PX * style.DENSITY
    assert 0.95 * full <= width <= full, f"{name}: {width} px wide, the column is {full}"
    record = style.recorded_text_size(png)
    assert record is not None and record["pt"] == style.smallest_text(fig)[0]
    shown = min(width, style.COLUMN_PX)    # the browser shows it no wider than the column
    assert record["px"] * shown / width >= style.MIN_TEXT_PX, (name, record)


def test_savefig_records_the_text_size_too_and_hidden_text_does_not_count():
    fig, (ax, hidden) = style.subplots(1, 2, height=2.0)
    ax.set_title("shown")
    hidden.set_title("hidden", fontsize=3)
    hidden.set_visible(False)
    ax2 = fig.add_axes((0.1, 0.1, 0.1, 0.1))
    ax2.tick_params(labelsize=2)
    ax2.axis("off")
    assert style.smallest_text(fig)[0] == style.FONT["small"]      # ax's tick labels; nothing of the hidden axes
    out = io.BytesIO()
    fig.savefig(out, format="png")
    assert style.recorded_text_size(out.getvalue())["pt"] == style.FONT["small"]
    from PIL import Image
    assert Image.open(io.BytesIO(out.getvalue())).mode == "P"     # 256 colours: a page's weight allows 2× pixels
    ax.text(0, 0, "too small", fontsize=5)
    assert style.smallest_text(fig) == (5.0, "too small")


# --- what the figures say ----------------------------------------------------------------------------
def test_single_seed_rows_are_dots_without_an_interval_and_say_so():
    fig = plots.accuracy_dots(_table(["raw pixels", "MoCo-v2"], [1, 3]))
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["raw pixels (one seed)", "MoCo-v2 (3 seeds)"]
    intervals = [l for l in ax.lines if len(l.get_xdata()) == 2]
    assert len(intervals) == 1 and not ax.containers          # one interval (MoCo-v2's), no bars, no caps
    fig = plots.accuracy_dots(_table(["a", "b"], [1, 1]), title="t")
    assert fig.get_suptitle() == "t, one seed per row" and not [l for l in fig.axes[0].lines if len(l.get_xdata()) == 2]


def test_sub_point_differences_are_not_hidden_by_an_axis_from_0_to_100():
    table = _table(["a", "b", "c"], [3, 3, 3]).assign(**{"kNN top-1 mean": [72.1, 72.4, 72.9]})
    low, high = plots.accuracy_dots(table).axes[0].get_xlim()
    assert low > 70 and high < 75     # the values span 0.8 points of an axis a few points wide
