"""What the rendered pages rely on: distinct citation labels, figures whose axes say what they
show, and the curated 'ours beside the paper' table."""
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pybtex.database import parse_string

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import bibyear  # noqa: E402

from ssllib.chapters import plots, report, tables  # noqa: E402

BIB = r"""
@article{chen2020b, author = {Chen, Ting and Kornblith, Simon and Hinton, Geoffrey}, title = {B}, year = {2020}}
@article{chen2020a, author = {Chen, Xinlei and Fan, Haoqi and He, Kaiming}, title = {A}, year = {2020}}
@article{g2024x, author = {Giakoumoglou, Nikolaos and Stathaki, Tania}, title = {X}, year = {2024}}
@article{g2024y, author = {Giakoumoglou, Nikolaos and Stathaki, Tania}, title = {Y}, year = {2024}}
@article{g2024z, author = {Giakoumoglou, Nikolaos and Stathaki, Tania and Gkelias, Athanasios}, title = {Z}, year = {2024}}
@article{g2025, author = {Giakoumoglou, Nikolaos and Stathaki, Tania}, title = {W}, year = {2025}}
"""


def test_papers_that_would_share_a_label_get_letters_in_key_order():
    entries = parse_string(BIB, "bibtex").entries
    assert bibyear.disambiguate(entries) == {"chen2020a": "2020a", "chen2020b": "2020b",
                                             "g2024x": "2024a", "g2024y": "2024b"}


def test_the_books_bibliography_has_no_two_papers_with_one_label():
    from pybtex.database import parse_file

    entries = parse_file(str(ROOT / "book" / "references.bib")).entries
    years = bibyear.disambiguate(entries)
    labels = [(bibyear.author_text(e), years.get(k, e.fields["year"])) for k, e in entries.items()]
    assert len(labels) == len(set(labels))
    assert years["chen2020mocov2"] == "2020a" and years["chen2020simclr"] == "2020b"


def test_a_cut_axis_is_marked_and_an_axis_from_zero_is_not():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [60, 70])
    ax.set_ylabel("top-1 (%)")
    plots.mark_cut(ax)
    assert ax.get_ylabel().startswith("top-1 (%), axis from ")
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 70])
    ax.set_ylim(0, 80)
    ax.set_ylabel("top-1 (%)")
    plots.mark_cut(ax)
    assert ax.get_ylabel() == "top-1 (%)"


def test_training_curves_label_every_y_axis():
    history = [[{"epoch": 1, "loss": 3.0}, {"epoch": 2, "loss": 2.0}]]
    fig = plots.training_curves({"m": history}, metrics=("loss",), titles=("training loss",),
                                ylabels=("loss (nats)",))
    assert fig.axes[0].get_ylabel().startswith("loss (nats)")
    assert fig.axes[0].get_xlabel() == "epoch"


def test_the_curated_table_shows_ours_and_published_with_their_conditions():
    table = report.mean_std_table([{"method": "m", "top": 70.0}, {"method": "m", "top": 72.0}], "method", {"top": "top"})
    ours = report.measured_entry(table, "m", "top", data="d", network="n", epochs=5, protocol="p")
    assert ours["result"] == "71.00 ± 1.41" and ours["runs"] == 2 and ours["from"] == "this run"
    theirs = report.published_entry("m", 67.5, "the README", data="ImageNet", network="R50", epochs=200.0,
                                    protocol="linear", std=0.1, runs=5)
    assert theirs["result"] == "67.50 ± 0.10" and theirs["from"] == "published: the README"
    none = report.published_entry("m", "AP 57.0", "x", data="d", network="n", epochs=pd.NA, protocol="p")
    frame = report.beside_the_paper([ours, theirs, none])
    assert list(frame.columns) == list(report.BESIDE_COLUMNS)
    assert list(frame.runs) == ["2", "5", "n/a"] and list(frame.epochs) == ["5", "200", "n/a"]
    assert list(tables.framed(frame).columns) == list(report.BESIDE_COLUMNS)  # no index column


def test_the_budget_figure_levels_are_raw_pixels_and_the_mean_random_network():
    from ssllib.chapters.selfsup_experiments import monitor_levels
    raw = {"knn_monitor_top1": {"value": 80.0}}
    randoms = [{"knn_monitor_top1": {"value": v}} for v in (50.0, 53.0, 59.0)]
    levels, start = monitor_levels(raw, randoms)
    assert levels == {"raw pixels": 80.0, "random init": 54.0} and start == [50.0, 53.0, 59.0]


def test_a_published_number_says_how_many_runs_stand_behind_it():
    assert report.published_runs("MoCo-v2", 5, 0.1) == "MoCo-v2: 5 runs, std 0.10"
    assert report.published_runs("SynCo", 1, float("nan")) == "SynCo: one run"
    assert report.published_runs("X", 3, float("nan")) == "X: 3 runs"
    assert report.published_runs("Y", float("nan")) == "Y: runs not stated"
