"""The review's reader: records and published tables gathered, validated, summarised."""
import json
import math

import pandas as pd
import pytest

from ssllib.chapters import review
from ssllib.engine.params import ParameterError
from ssllib.review import curate, published, records, summary, taxonomy


def _record(run_id, seed, value, *, paper="synco", method="synco", started="2026-01-01T00:00:00", n_hard=8,
            metrics=None, profile="cpu"):
    return {"run_id": run_id, "paper": paper, "method": method, "dataset": "fashion_mnist", "profile": profile,
            "epochs": 15, "seed": seed, "backbone": "resnet18", "started": started,
            "config": {"seed": seed, "epochs": 15, "options": {"n_hard": n_hard}},
            "environment": {"device": "CPU", "git_commit": "abc"},
            "metrics": metrics or {"knn_top1": {"value": value, "protocol": {"k": 200, "epoch": "last"}}}}


KIND = "the paper's table"   # a published row from the paper's own table (not a literature row it lists)


def _write(folder, record, name=None):
    """A record as a run writes it: sealed with its digest (a string is written as it is)."""
    from ssllib.engine.checkpoint import sealed
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name or f"{record['run_id']}.json")
    path.write_text(record if isinstance(record, str) else json.dumps(sealed(record)))
    return path


@pytest.fixture
def book(tmp_path):
    committed, local = tmp_path / "papers" / "synco" / "runs", tmp_path / "ledger"
    for seed, value in ((0, 1.0), (1, 2.0), (2, 3.0)):
        _write(committed / "cpu", _record(f"s{seed}", seed, value))
    _write(local, _record("s0", 0, 1.0))                                        # the same run, also local
    _write(local, _record("old-s1", 1, 50.0, started="2025-01-01T00:00:00"))   # an older run of seed 1
    _write(local, _record("other", 0, 9.0, n_hard=16))                           # another variant
    _write(local, "{not json", "broken.json")
    _write(local, {**_record("nometrics", 0, 1.0), "metrics": None})
    _write(local, _record("nan", 0, 1.0, metrics={"knn_top1": {"value": "high"}}))
    return committed.parent, local


def test_records_are_read_once_validated_and_the_malformed_named(book):
    committed, local = book
    found = records.read_records([committed], local)
    problems = {p.path.rsplit("/", 1)[-1]: p.reason for p in found.problems}
    assert set(problems) == {"broken.json", "nometrics.json", "nan.json"}
    assert "not readable JSON" in problems["broken.json"] and "no metrics" in problems["nometrics.json"]
    assert "'high', not a finite number" in problems["nan.json"]
    runs = committed / "runs" / "cpu"
    edited = json.loads((runs / "s2.json").read_text())
    (runs / "s2.json").write_text(json.dumps({**edited, "epochs": 16}))            # changed by hand
    (runs / "s3.json").write_text(json.dumps(_record("s3", 3, 4.0)))               # never sealed
    again = {p.path.rsplit("/", 1)[-1]: p.reason for p in records.read_records([committed], local).problems}
    assert again["s2.json"] == "does not match its digest: it was changed after the run wrote it"
    assert again["s3.json"] == "carries no digest, so it cannot be told from an edited copy"
    (runs / "s2.json").write_text(json.dumps(edited))
    (runs / "s3.json").unlink()
    # s0 counts once (as committed); the older run of seed 1 gives way to the newer one.
    assert sorted(found.table["run_id"]) == ["other", "s0", "s1", "s2"]
    assert found.table.set_index("run_id").loc["s0", "where"] == "committed"
    # every record counted once, where it was read: 3 committed, 2 local (s0 again counts as committed); the
    # tables use 4 (the older run of seed 1 gives way)
    assert found.provenance() == ("5 records read (3 committed under papers/*/runs/, 2 from the local ledger); the "
                                  "tables use 4 of them, the newest run of each variant and seed")


def test_summary_over_seeds_matches_a_hand_worked_interval(book):
    committed, local = book
    table = summary.reproduced(records.read_records([committed], local))
    main = table[table["seeds"] == 3].iloc[0]
    # 1, 2, 3: mean 2, s = 1, t(0.975, 2) = 4.302653; half-width 4.302653 / √3 = 2.484138
    assert main["mean"] == pytest.approx(2.0) and main["std"] == pytest.approx(1.0)
    # the low end, 2 − 2.484138, is cut to 0: a percentage's mean cannot be below it
    assert (main["low"], main["high"]) == pytest.approx((0.0, 2 + 2.484138), abs=1e-6)
    # 99, 100, 96: mean 98.33, s = 2.081666, half-width 4.302653 · 2.081666 / √3 = 5.171145 → 93.16 to 100 (not 103.50)
    assert summary.interval([99, 100, 96]) == pytest.approx((98 + 1 / 3 - 5.171145, 100.0), abs=1e-5)
    assert summary.interval([50, 51, 52]) == pytest.approx((51 - 2.484138, 51 + 2.484138), abs=1e-6)
    single = table[table["seeds"] == 1].iloc[0]
    assert single["mean"] == 9.0 and math.isnan(single["low"])
    assert set(summary.variant_differences(records.read_records([committed], local), "synco").values()) == \
        {"n_hard=8", "n_hard=16"}


def test_retrieval_directions_are_split_and_averaged_within_a_seed(tmp_path):
    metrics = {"photo->sketch mAP": {"value": 10.0}, "sketch->photo mAP": {"value": 20.0},
               "photo->sketch P@1": {"value": 5.0}}
    _write(tmp_path, _record("r", 0, 0, paper="cdir", method="captions", metrics=metrics))
    found = records.read_records([], tmp_path)
    assert set(found.table["direction"]) == {"photo → sketch", "sketch → photo"}
    rows = summary.per_seed(found).set_index("metric")
    assert rows.loc["mAP", "value"] == 15.0 and rows.loc["mAP", "directions"] == 2


def test_a_published_table_is_tidied_and_a_bad_row_named(tmp_path):
    good = tmp_path / "rrd" / "reported.csv"
    good.parent.mkdir()
    good.write_text("table,teacher,student,method,dataset,evaluation,metric,value,source\n"
                    "same,wrn_40_2,wrn_16_2,RRD,CIFAR-100,test,top-1 (%),75.3,the paper\n")
    tidy = published.read_reported(tmp_path)
    assert tidy.loc[0, "backbone"] == "wrn_40_2 → wrn_16_2" and tidy.loc[0, "value"] == 75.3
    assert tidy.loc[0, "row"].endswith("rrd/reported.csv:2") and tidy.loc[0, "paper"] == "rrd"
    bad = tmp_path / "x" / "reported.csv"
    bad.parent.mkdir()
    bad.write_text("method,evaluation,metric,value,source\nA,linear,top-1,75.1,s\nB,linear,top-1,n/a,s\n")
    with pytest.raises(published.ReportedError, match=r"x/reported.csv:3: value is 'n/a', not a number"):
        published.read_reported(tmp_path)
    bad.write_text("method,value,source\nA,1,s\n")
    with pytest.raises(published.ReportedError, match="no evaluation, metric column"):
        published.read_reported(tmp_path)
    # a row that does not say how its number was measured cannot be compared with anything
    bad.write_text("method,evaluation,metric,value,source\nA,linear probe,top-1,75.1,s\n")
    with pytest.raises(published.ReportedError, match=r"x/reported.csv:2: evaluation is 'linear probe'; name one of"):
        published.read_reported(tmp_path)


def test_every_committed_published_table_and_the_field_table_read():
    tidy = published.read_reported()
    assert set(tidy["paper"]) >= {"synco", "synco-vit", "cueco", "rrd", "dcd", "cdir"}
    assert tidy["source"].str.len().min() > 0 and tidy["value"].notna().all()
    field = taxonomy.field_table()
    assert len(field) == 19 and set(field["family"]) <= set(taxonomy.FAMILIES)
    assert field.set_index(["method", "pretrain_epochs"]).loc[("SynCo", 800), "value"] == 70.7


def test_a_paper_without_records_says_so(book, capsys):
    committed, local = book
    found = records.read_records([committed], local)
    review.show_reproduced(summary.reproduced(found), found, "wsi")
    assert "No runs of this paper yet" in capsys.readouterr().out


def test_ranking_agreement_is_kendalls_tau_over_the_shared_methods():
    reported = pd.DataFrame({"paper": "p", "kind": KIND, "evaluation": "test", "method": ["KD", "CRD", "RRD", "Other"], "dataset": "C",
                             "backbone": "n", "pretrain_epochs": pd.array([None] * 4, dtype="Int64"),
                             "setting": "s", "metric": "top-1", "value": [1.0, 2.0, 3.0, 4.0],
                             "row": ["f:2", "f:3", "f:4", "f:5"]})
    two = reported.iloc[:2].assign(setting="s2", value=[2.0, 1.0])             # KD above CRD: reversed in ours
    reported = pd.concat([reported, two], ignore_index=True)
    ours = pd.DataFrame({"paper": "p", "method": ["kd", "crd", "rrd"], "evaluation": "test", "metric": "test_top1",
                         "mean": [10.0, 30.0, 20.0], "low": 0.0, "high": 40.0, "seeds": 3, "profile": "cpu",
                         "backbone": "n", "variant": "v"})
    table = review.ranking_agreement(reported, ours, "p")
    # pairs (KD,CRD) (KD,RRD) agree, (CRD,RRD) disagree: τ = (2 − 1) / 3
    assert table.loc[0, "Kendall τ"] == pytest.approx(1 / 3) and table.loc[0, "methods"] == "KD, CRD, RRD"
    assert review.agreement_sentence(table) == (
        "Of 1 published settings that rank three or more of the methods our runs share, 0 keep our order, 0 reverse "
        "it and 1 do neither (τ from 0.33 to 0.33, median 0.33). Of 1 settings that share only two methods, 0 put "
        "the same one first as our runs (a single gap's sign, whatever its size). Each of these 2 settings is set "
        "against a ranking of ours of its own.")


def test_a_published_vit_row_is_compared_with_our_vit_runs():
    reported = pd.DataFrame({"paper": "p", "kind": KIND, "evaluation": "kNN", "method": ["MoBY", "MoCo-v2"] * 2, "dataset": "I",
                             "backbone": ["DeiT-S", "DeiT-S", "Swin-T", "Swin-T"],
                             "pretrain_epochs": pd.array([300] * 4, dtype="Int64"), "setting": "lin",
                             "metric": "top-1", "value": [72.0, 71.0, 75.0, 74.0], "row": [f"f:{i}" for i in range(4)]})
    ours = pd.DataFrame({"paper": "p", "method": ["moby", "moby", "mocov2"], "evaluation": "kNN", "metric": "knn_top1",
                         "mean": [60.0, 65.0, 50.0], "low": 0.0, "high": 1.0, "seeds": [3, 3, 3], "profile": "cpu",
                         "backbone": ["swin_micro (w 64)", "vit_micro (w 64)", "resnet18"], "variant": ["a", "b", "c"]})
    pairs = review.agreement_pairs(reported, ours, "p").set_index(["published setting", "method"])
    assert pairs.loc[("I, DeiT-S, 300, lin, top-1", "MoBY"), "ours"] == 65.0
    assert pairs.loc[("I, Swin-T, 300, lin, top-1", "MoBY"), "ours"] == 60.0
    assert pairs.loc[("I, Swin-T, 300, lin, top-1", "MoCo-v2"), "ours"] == 50.0   # no family: the main variant


def _chapter(book, name, profile, runs=None):
    meta = {"ssllib": {"profile": profile, **({"runs": runs} if runs is not None else {})}}
    book.mkdir(parents=True, exist_ok=True)
    (book / f"{name}.ipynb").write_text(json.dumps({"cells": [], "metadata": meta}))


def _run(folder, record, artifacts=()):
    """A run's folder: its record and artifacts (name → JSON value)."""
    _write(folder / record["run_id"], record, "record.json")
    for name in artifacts:
        _write(folder / record["run_id"] / "artifacts", {"value": name}, f"{name}.json")


def test_curate_commits_exactly_the_runs_and_artifacts_the_committed_chapters_used(tmp_path):
    papers, book, runs = tmp_path / "papers", tmp_path / "book", tmp_path / "runs"
    _run(runs, _record("a", 0, 1.0), ["tsne-1", "old-0"])
    _run(runs, _record("b", 1, 2.0))
    _run(runs, _record("superseded", 1, 3.0, n_hard=99, started="2027-01-01T00:00:00"))  # newest, unused
    _run(runs, _record("enc", 0, 1.0, paper="foundations", method="mocov2"))
    _run(runs, {**_record("probe", 0, 1.0), "paper": ""})                  # no paper: the chapter's
    _run(papers / "synco" / "runs" / "cpu", _record("read", 2, 4.0), ["kept-1", "unused-1"])  # committed, read
    _run(papers / "synco" / "runs" / "cpu", _record("stale", 5, 1.0))
    _run(papers / "wsi" / "runs" / "cpu", _record("gone", 0, 1.0, paper="wsi"))  # no chapter uses it any more
    _write(papers / "wsi" / "runs" / "cpu", _record("legacy", 0, 1.0, paper="wsi"))   # the flat layout of old
    _run(papers / "synco" / "runs" / "paper", _record("gpu", 0, 1.0, profile="paper"))
    _chapter(book, "synco", "cpu", ["a", "a/artifacts/tsne-1", "b", "probe", "read", "read/artifacts/kept-1",
                                    "trained:a", "measured:probe"])
    _chapter(book, "cdir", "cpu", ["enc"])            # another paper's run, committed under its own paper
    _chapter(book, "vit", "paper", ["gpu"])           # another profile: not this curate's
    assert curate.curate("cpu", book, runs, papers) == {"foundations": 1, "synco": 4}
    committed = papers / "synco" / "runs" / "cpu"
    assert sorted(p.name for p in committed.iterdir()) == ["a", "b", "probe", "read"]
    assert sorted(p.name for p in (committed / "a" / "artifacts").iterdir()) == ["tsne-1.json"]
    assert sorted(p.name for p in (committed / "read" / "artifacts").iterdir()) == ["kept-1.json"]
    assert [p.name for p in (papers / "foundations" / "runs" / "cpu").iterdir()] == ["enc"]
    assert not list((papers / "wsi" / "runs" / "cpu").iterdir())
    assert (papers / "synco" / "runs" / "paper" / "gpu" / "record.json").exists()
    # the same chapters again: nothing is written (no churn in git)
    stamps = {p: p.stat().st_mtime_ns for p in papers.rglob("*.json")}
    curate.curate("cpu", book, runs, papers)
    assert {p: p.stat().st_mtime_ns for p in papers.rglob("*.json")} == stamps


def test_curate_names_a_chapter_without_its_runs_and_a_run_without_its_record(tmp_path):
    papers, book, runs = tmp_path / "papers", tmp_path / "book", tmp_path / "runs"
    _run(papers / "synco" / "runs" / "cpu", _record("kept", 0, 1.0))
    _chapter(book, "synco", "cpu")
    with pytest.raises(ValueError, match=r"synco.ipynb was executed before .* --force --only synco"):
        curate.curate("cpu", book, runs, papers)
    _chapter(book, "synco", "cpu", ["missing"])
    with pytest.raises(FileNotFoundError, match="run missing has no record on this machine"):
        curate.curate("cpu", book, runs, papers)
    assert (papers / "synco" / "runs" / "cpu" / "kept" / "record.json").exists()   # nothing changed before the error


def test_review_parameters_are_checked():
    with pytest.raises(ParameterError, match="profiles_shown='cpu,gpu': name profiles from smoke, cpu, paper"):
        review.resolve_settings({"profiles_shown": "cpu,gpu"})
    with pytest.raises(ParameterError, match="ranking_profile='smoke' is not among profiles_shown"):
        review.resolve_settings({"profile": "cpu", "ranking_profile": "smoke"})


def test_a_seeds_own_upstream_run_does_not_make_a_new_variant(tmp_path):
    for seed in (0, 1):
        record = _record(f"c{seed}", seed, float(seed), paper="cdir", method="captions")
        record["config"]["encoder"] = f"mocov2-fashion_mnist-resnet18w8-s{seed}-{'ab12' * 3}"
        _write(tmp_path, record)
    other = _record("c9", 0, 5.0, paper="cdir", method="captions")
    other["config"]["encoder"] = "supervised-fashion_mnist-resnet18w8-s0-" + "cd34" * 3
    _write(tmp_path, other)
    table = summary.reproduced(records.read_records([], tmp_path))
    assert sorted(table["seeds"]) == [1, 2]


def test_the_folds_of_one_experiment_are_its_replicates(tmp_path):
    for fold in range(3):
        record = _record(f"f{fold}", 0, float(fold), paper="wsi", method="abmil (base)")
        record["dataset"] = record["config"]["data"] = f"fashion_bags|fold {fold}"
        _write(tmp_path, record)
    found = records.read_records([], tmp_path)
    assert set(found.table["dataset"]) == {"fashion_bags"} and found.count == 3
    row = summary.reproduced(found).iloc[0]
    assert row["seeds"] == 3 and row["mean"] == 1.0 and row["seed list"] == "0, fold 0; 0, fold 1; 0, fold 2"


def test_a_reading_table_puts_what_rows_share_above_them_and_folds_what_differs():
    table = pd.DataFrame({
        "method": ["MoBY", "MoBY", "KD", "ce"],
        "variant settings": [{"backbone": "swin_t"}, {"backbone": "vit_t"}, {}, {"lr_warmup_epochs": 0}],
        "dataset": "fashion_mnist", "network": ["swin_t (width 64)", "vit_t (width 64)", "resnet8", "resnet32"],
        "teacher": ["", "", "resnet32", ""], "profile": "cpu", "epochs": [10.0, 10.0, 10.0, 20.0],
        "metric": "knn_top1", "mean ± std": ["1", "2", "3", "4"]})
    caption, frame = review.reading_table(table, ["mean ± std"])
    assert caption == "fashion_mnist · cpu profile · knn_top1"
    assert list(frame.columns) == ["setting", "mean ± std"] and list(frame.index) == ["MoBY", "MoBY", "KD", "ce"]
    # The backbone a variant names is already in its network; a 0 is not said by '20 epochs'.
    assert frame["setting"].tolist() == ["swin_t (width 64), 10 epochs", "vit_t (width 64), 10 epochs",
                                         "resnet32 → resnet8, 10 epochs", "resnet32, 20 epochs, lr_warmup_epochs=0"]


def test_a_method_drawn_twice_in_the_rankings_is_labelled_by_what_sets_its_variants_apart(tmp_path):
    for seed in range(3):
        for n_hard, value in ((8, 70.0 + seed), (16, 60.0 + seed)):
            _write(tmp_path, _record(f"h{n_hard}-{seed}", seed, value, n_hard=n_hard))
        _write(tmp_path, _record(f"m{seed}", seed, 65.0 + seed, method="mocov2"))
    found = records.read_records([], tmp_path)
    panels, metrics = review.ranking_panels(summary.reproduced(found), found, "cpu")
    panel = panels["SynCo"]
    assert panel["label"].tolist() == ["SynCo · n_hard=8", "MoCo-v2", "SynCo · n_hard=16"]
    assert panel["mean"].tolist() == pytest.approx([71.0, 66.0, 61.0]) and metrics["SynCo"] == "knn_top1 (%)"


def test_the_published_gaps_against_ours_and_the_sides_they_fall_on():
    reported = pd.DataFrame({"paper": "p", "kind": KIND, "evaluation": "kNN", "method": ["KD", "CRD", "RRD"] * 2,
                             "dataset": "C", "backbone": "n",
                             "pretrain_epochs": pd.array([None] * 6, dtype="Int64"), "setting": ["s1"] * 3 + ["s2"] * 3,
                             "metric": "top-1", "value": [1.0, 2.0, 4.0, 1.0, 3.0, 4.0],
                             "row": [f"p.csv:{i}" for i in range(2, 8)]})
    ours = pd.DataFrame({"paper": "p", "method": ["kd", "crd", "rrd"], "evaluation": "kNN", "metric": "knn_top1",
                         "mean": [1.0, 2.5, 3.0],
                         "low": [0.5, 2.4, 2.9], "high": [1.5, 2.6, 3.1], "seeds": 3, "profile": "cpu",
                         "backbone": "n", "variant": "v"})
    pairs = review.agreement_pairs(reported, ours, "p")
    assert len(pairs) == 6 and set(pairs["published setting"]) == {"C, n, s1, top-1", "C, n, s2, top-1"}
    sentence = review.gap_sentence(pairs)
    # Our gaps: KD −, CRD +, RRD +. Published s1 (mean 7/3): −, −, +; s2 (mean 8/3): −, +, +.
    assert "on the same side in every setting: KD (p, 2 settings), RRD (p, 2 settings)" in sentence
    assert "on the same side in some settings only: CRD (p, 2 settings)" in sentence and "opposite" not in sentence
    # A gap inside half the method's own interval is no side: KD's interval 0.5 to 1.5 around a gap of −1.17 is
    # clear; widen it to 0 to 3 and KD is too close to call.
    wide = ours.assign(low=[-1.0, 2.4, 2.9], high=[3.0, 2.6, 3.1])
    assert "too close to the others in our runs to say: KD (p, 2 settings)" in \
        review.gap_sentence(review.agreement_pairs(reported, wide, "p"))
    from ssllib.chapters import review_plots
    fig = review_plots.published_against_reproduced(pairs)
    assert len(fig.axes) == 1 and sum(len(c.get_offsets()) for c in fig.axes[0].collections if hasattr(c, "get_offsets")) >= 6


def test_protocols_of_several_variants_merge_into_one_line():
    merged = review.merged_protocol(["epoch: last; l2: 1e-05; test: t", "epoch: last; l2: 0.001; test: t",
                                     summary.PROTOCOL_VARIES])
    assert merged == "epoch: last; l2: 1e-05 or 0.001; test: t; and it differs between seeds in some variants"
    assert review.merged_protocol(["k: 200", "k: 200"]) == "k: 200" and review.merged_protocol([]) == ""


def test_among_variants_with_as_many_seeds_the_comparison_takes_the_declared_defaults(tmp_path):
    for seed in range(3):
        for scale, value in ((1e6, 50.0), (10.0, 60.0)):
            record = _record(f"{'a' if scale > 10 else 'b'}-{seed}", seed, value, paper="dcd", method="dcd",
                             metrics={"test_top1": {"value": value}})
            record["config"]["options"] = {"dcd_max_scale": scale}
            _write(tmp_path, record)
        _write(tmp_path, _record(f"kd{seed}", seed, 55.0, paper="dcd", method="kd", metrics={"test_top1": {"value": 55.0}}))
    found = records.read_records([], tmp_path)
    reported = pd.DataFrame({"paper": "dcd", "kind": KIND, "evaluation": "test", "method": ["DCD", "KD"], "dataset": "C",
                             "backbone": "n",
                             "pretrain_epochs": pd.array([None] * 2, dtype="Int64"), "setting": "s",
                             "metric": "top-1", "value": [2.0, 1.0], "row": ["f:2", "f:3"]})
    pairs = review.agreement_pairs(reported, summary.reproduced(found), "dcd", found).set_index("method")
    assert pairs.loc["DCD", "ours"] == 60.0 and pairs.loc["DCD", "variant"] == "dcd_max_scale=10.0"


def test_the_build_curates_past_the_runs_of_chapters_it_has_not_executed_yet(tmp_path):
    """After executing one chapter the build commits its runs; another chapter that still names
    runs of old code (stale, to be executed next) does not stop it, and loses its old records."""
    papers, book, runs = tmp_path / "papers", tmp_path / "book", tmp_path / "runs"
    _run(runs, _record("new", 0, 1.0))
    _write(papers / "synco" / "runs" / "cpu", _record("old", 0, 1.0))         # the flat layout of old
    _chapter(book, "foundations", "cpu", ["new"])
    _chapter(book, "synco", "cpu", ["old-gone"])
    with pytest.raises(FileNotFoundError, match="run old-gone has no record"):
        curate.curate("cpu", book, runs, papers)
    assert curate.curate("cpu", book, runs, papers, only={"foundations"}) == {"synco": 1}
    assert not (papers / "synco" / "runs" / "cpu" / "old.json").exists()


def test_a_gpu_run_of_the_paper_recipe_is_its_own_row_with_device_commit_and_overrides(tmp_path):
    """A reader's paper runs, curated: one seed each, filed as paper (the recipe) and paper-custom
    (a changed rate); shown beside the cpu rows with their device, commit and what they changed,
    a value and no interval. A dry run (paper-tiny) is not shown unless asked for."""
    from ssllib.chapters import chapter_specs
    from ssllib.chapters.launch import run_configs
    from ssllib.chapters.spec import resolve

    spec = chapter_specs()["foundations"]
    recipe = run_configs(spec, resolve(spec, {"profile": "paper"}, check_data=False))["mocov2"]
    runs = tmp_path / "papers" / "foundations" / "runs"
    for seed, value in ((0, 70.0), (1, 71.0), (2, 72.0)):
        _write(runs / "cpu", _record(f"cpu{seed}", seed, value, paper="foundations", method="mocov2"))
    gpu = {"device": "NVIDIA H100", "git_commit": "0123456789abcdef0123"}
    _write(runs / "paper", {**_record("gpu", 0, 67.5, paper="foundations", method="mocov2", profile="paper"),
                            "config": recipe, "environment": gpu})
    _write(runs / "paper-custom", {**_record("gpu-lr", 0, 66.0, paper="foundations", method="mocov2",
                                             profile="paper-custom"),
                                   "config": {**recipe, "lr": 0.06, "data_root": "/data"}, "environment": gpu})
    _write(runs / "paper-tiny", _record("dry", 0, 1.0, paper="foundations", method="mocov2", profile="paper-tiny"))
    found = records.read_records([tmp_path / "papers"], None)
    table = review.reproduced_table(summary.reproduced(found, ("cpu", "paper")), found, "foundations")
    by_profile = table.set_index("profile")
    assert set(by_profile.index) == {"cpu", "paper", "paper-custom"}          # no dry run
    assert by_profile.loc["paper", "device"] == "NVIDIA H100" and by_profile.loc["paper", "commit"] == "0123456789ab"
    assert by_profile.loc["paper", "overrides"] == "the recipe"
    assert by_profile.loc["paper-custom", "overrides"] == "lr=0.06"           # where the data lives is not a change
    assert by_profile.loc["paper", "95% CI"] == "one seed: no interval"
    assert by_profile.loc["cpu", "device"] == by_profile.loc["cpu", "overrides"] == ""   # the book's own rows
    only_cpu = review.reproduced_table(summary.reproduced(found, ("cpu",)), found, "foundations")
    assert "device" not in only_cpu and "overrides" not in only_cpu
    assert "paper-tiny" in set(summary.reproduced(found, ("paper-tiny",))["profile"])


def test_every_ranking_label_stands_beside_its_own_rows_value(tmp_path):
    """The rankings figure took its labels from the curated table (its variants sorted) and its
    values from the summary (in the records' order): with the records read as SynCo n_hard=16,
    MoCo-v2, SynCo n_hard=8, MoCo-v2's mean was drawn as 'SynCo · n_hard=8'. Each label now
    comes with its own row's numbers, and the replicates are named for what they are."""
    for seed in range(3):
        _write(tmp_path, _record(f"a-h16-{seed}", seed, 60.0 + seed, n_hard=16))
        _write(tmp_path, _record(f"b-moco-{seed}", seed, 65.0 + seed, method="mocov2"))
        _write(tmp_path, _record(f"c-h8-{seed}", seed, 70.0 + seed, n_hard=8))
    found = records.read_records([], tmp_path)
    panel = review.ranking_panels(summary.reproduced(found), found, "cpu")[0]["SynCo"]
    assert dict(zip(panel["label"], panel["mean"])) == pytest.approx(
        {"SynCo · n_hard=8": 71.0, "MoCo-v2": 66.0, "SynCo · n_hard=16": 61.0})
    assert set(panel["replicates"]) == {"3 seeds"}


def test_the_agreement_table_uses_the_variant_the_comparison_uses(tmp_path):
    """The agreement table chose among a method's variants without the records (so without the
    tie-break on declared defaults) and could set another variant against the paper than the
    figure and the sentence did."""
    reported = pd.DataFrame({"paper": "synco", "kind": KIND, "evaluation": "kNN", "method": ["MoCo-v2", "SynCo"],
                             "dataset": "ImageNet",
                             "backbone": "ResNet-50", "pretrain_epochs": pd.array([200, 200], dtype="Int64"),
                             "setting": "linear", "metric": "top-1", "value": [67.5, 68.1],
                             "row": ["synco.csv:2", "synco.csv:3"]})
    for seed in range(3):
        _write(tmp_path, _record(f"d-{seed}", seed, 60.0 + seed, n_hard=1024))   # SynCo's declared default
        _write(tmp_path, _record(f"o-{seed}", seed, 50.0 + seed, n_hard=16))
        _write(tmp_path, _record(f"m-{seed}", seed, 55.0 + seed, method="mocov2"))
    found = records.read_records([], tmp_path)
    reproduced = summary.reproduced(found)
    pairs = review.agreement_pairs(reported, reproduced, "synco", found)
    table = review.ranking_agreement(reported, reproduced, "synco", found)
    synco = pairs.set_index("method").loc["SynCo", "ours"]
    assert synco == pytest.approx(61.0) and f"{synco:.2f}" in table["ours"].iloc[0]


def test_the_agreement_sentence_counts_each_ranking_of_ours_once():
    """'17 of 17 settings agree' counted RRD's one ranking of ours once per published teacher–
    student pair it was set against; the sentence now says how many distinct rankings of ours
    the settings rest on."""
    agreement = pd.DataFrame({"paper": ["rrd"] * 3 + ["dcd"], "published setting": ["a", "b", "c", "d"],
                              "methods": ["KD, CRD, RRD"] * 3 + ["KD, DCD"], "published": "",
                              "ours": ["70.00, 71.00, 72.00"] * 3 + ["70.00, 71.00"], "ours as": "",
                              "Kendall τ": [1.0, 1.0, 1.0, 1.0], "published rows": ""})
    sentence = review.agreement_sentence(agreement)
    assert "These 4 settings rest on 2 distinct rankings of ours, so they are at most 2 independent" in sentence
    assert "(rrd's faces 3)" in sentence
    alone = review.agreement_sentence(agreement.iloc[[0, 3]])
    assert "Each of these 2 settings is set against a ranking of ours of its own." in alone


def _published(rows, paper="p"):
    """Published rows as the reader tidies them: each dict names method, value and what differs."""
    base = {"paper": paper, "kind": KIND, "dataset": "D", "backbone": "n", "pretrain_epochs": None, "setting": "s",
            "metric": "top-1 (%)"}
    frame = pd.DataFrame([{**base, **r} for r in rows])
    frame["row"] = [f"{paper}.csv:{i + 2}" for i in range(len(frame))]
    return frame.astype({"pretrain_epochs": "Int64"})


def test_a_published_linear_number_is_set_against_our_linear_probe_never_our_knn(tmp_path):
    """The review ranked our kNN accuracy (its headline) against published linear accuracy."""
    for seed in range(3):
        for method, knn, linear in (("moby", 60.0, 70.0), ("moby_synco", 65.0, 68.0)):
            _write(tmp_path, _record(f"{method}-{seed}", seed, 0, paper="synco-vit", method=method, metrics={
                "knn_top1": {"value": knn, "protocol": {"protocol": "knn"}},
                "linear_top1": {"value": linear, "protocol": {"protocol": "linear"}}}))
    found = records.read_records([], tmp_path)
    reported = _published([{"method": "MoBY", "evaluation": "linear", "value": 72.3},
                           {"method": "MoBY + synthetic negatives", "evaluation": "linear", "value": 73.1},
                           {"method": "MoBY", "evaluation": "linear", "metric": "top-5 (%)", "value": 90.0},
                           {"method": "MoBY + synthetic negatives", "evaluation": "linear", "metric": "top-5 (%)",
                            "value": 91.0},
                           {"method": "MoBY", "evaluation": "fine-tune", "metric": "AP", "value": 40.0},
                           {"method": "MoBY + synthetic negatives", "evaluation": "fine-tune", "metric": "AP",
                            "value": 41.0}], paper="synco-vit")
    pairs = review.agreement_pairs(reported, summary.reproduced(found), "synco-vit", found)
    # only the top-1 linear setting: top-5 measures something else, and we fine-tuned nothing
    assert set(pairs["published setting"]) == {"D, n, s, top-1 (%)"}
    assert set(pairs["metric"]) == {"linear_top1"} and sorted(pairs["ours"]) == [68.0, 70.0]
    assert review.ranking_agreement(reported, summary.reproduced(found), "synco-vit", found)["Kendall τ"].iat[0] == -1


def test_the_papers_own_reproduction_is_compared_not_a_literature_row_it_lists(tmp_path):
    """Published 'MoBY' was the MoBY paper's row (72.8) listed by the ViT paper, not the ViT
    paper's own reproduction (72.3), which its chapter uses."""
    for seed in range(3):
        for method, value in (("moby", 60.0), ("moby_synco", 65.0)):
            _write(tmp_path, _record(f"{method}-{seed}", seed, value, paper="synco-vit", method=method))
    found = records.read_records([], tmp_path)
    reported = _published([{"method": "MoBY (authors' reproduction)", "evaluation": "kNN", "value": 64.3},
                           {"method": "MoBY + synthetic negatives", "evaluation": "kNN", "value": 71.0},
                           {"method": "MoBY", "evaluation": "kNN", "value": 72.8,
                            "kind": "literature row the authors list"}], paper="synco-vit")
    pairs = review.agreement_pairs(reported, summary.reproduced(found), "synco-vit", found)
    assert list(pairs["published"]) == [64.3, 71.0] and "72.8" not in str(pairs["published"].tolist())


def _transfer(run_id, upstream, seed, value):
    record = _record(run_id, seed, 0, paper="dcd", method="transfer probe", metrics={"test_top1": {
        "value": value, "protocol": {"protocol": "linear transfer probe on the frozen network's pooled feature"}}})
    record.update(dataset="digits", inputs={"network": upstream}, backbone=None)
    record["config"] = {"seed": seed, "epochs": 30, "lr": 0.05}
    return record


def test_transfer_probes_stand_for_the_network_they_probe_and_meet_only_published_transfer_rows(tmp_path):
    """Sixteen transfer probes of different students collapsed into one 'transfer probe' row (the
    newest per seed), which the DCD panel ranked beside the students, and the paper's STL-10 rows
    were set against our in-domain accuracy."""
    for seed in range(3):
        for method, in_domain, transferred in (("kd", 78.0, 69.0), ("dcd", 79.0, 72.0)):
            student = _record(f"{method}-s{seed}-{seed}abcdef01", seed, 0, paper="dcd", method=method,
                              metrics={"test_top1": {"value": in_domain, "protocol": {"split": "test"}}})
            student.update(teacher="resnet32", backbone="resnet8")
            _write(tmp_path, student)
            _write(tmp_path, _transfer(f"transfer-{method}-{seed}", student["run_id"], seed, transferred))
    found = records.read_records([], tmp_path)
    reproduced = summary.reproduced(found)
    transfer = reproduced[reproduced["evaluation"] == "transfer linear"].set_index("method")
    assert sorted(transfer.index) == ["dcd", "kd"] and transfer.loc["dcd", "mean"] == 72.0
    assert transfer.loc["kd", "seeds"] == 3 and transfer.loc["dcd", "backbone"] == "resnet8"
    assert set(summary.headline_rows(reproduced)["evaluation"]) == {"test"}       # the panel: in-domain only
    reported = _published([{"method": "KD", "evaluation": "test", "value": 70.7},
                           {"method": "DCD", "evaluation": "test", "value": 71.2},
                           {"method": "KD", "evaluation": "transfer linear", "dataset": "STL-10", "value": 70.9,
                            "metric": "linear probe top-1 (%), CIFAR-100 network frozen, 32 px"},
                           {"method": "DCD", "evaluation": "transfer linear", "dataset": "STL-10", "value": 71.2,
                            "metric": "linear probe top-1 (%), CIFAR-100 network frozen, 32 px"}], paper="dcd")
    pairs = review.agreement_pairs(reported, reproduced, "dcd", found).set_index(["evaluation", "method"])
    assert pairs.loc[("test", "DCD"), "ours"] == 79.0 and pairs.loc[("transfer linear", "DCD"), "ours"] == 72.0
    assert pairs.loc[("transfer linear", "KD"), "ours"] == 69.0


def test_the_cross_entropy_runs_of_a_distillation_paper_are_its_teacher_and_its_student_alone(tmp_path):
    for seed in range(2):
        for run, backbone, value in (("t", "resnet32", 85.0), ("s", "resnet8", 77.0)):
            record = _record(f"ce-{run}{seed}", seed, 0, paper="rrd", method="ce",
                             metrics={"test_top1": {"value": value}})
            record.update(backbone=backbone, config={"seed": seed, "network": backbone})
            _write(tmp_path, record)
        kd = _record(f"kd-{seed}", seed, 0, paper="rrd", method="kd", metrics={"test_top1": {"value": 78.0}})
        kd.update(backbone="resnet8", teacher="resnet32")
        _write(tmp_path, kd)
    found = records.read_records([], tmp_path)
    reproduced = summary.reproduced(found)
    table = review.reproduced_table(reproduced, found, "rrd")
    assert set(table["method"]) == {"Teacher (cross-entropy)", "Student (cross-entropy, alone)", "KD"}
    reported = _published([{"method": "Teacher", "evaluation": "test", "value": 75.6},
                           {"method": "Student", "evaluation": "test", "value": 73.3},
                           {"method": "KD", "evaluation": "test", "value": 74.9}], paper="rrd")
    pairs = review.agreement_pairs(reported, reproduced, "rrd", found).set_index("method")
    assert pairs.loc["Teacher", "ours"] == 85.0 and pairs.loc["Student", "ours"] == 77.0


def test_whole_slide_experts_are_averaged_within_each_fold_not_by_cluster_number_across_folds(tmp_path):
    """Expert k of one fold and expert k of another share only an arbitrary k-means number; the
    review averaged them as one variant across folds."""
    values = {0: (50.0, 60.0, 70.0), 1: (40.0, 50.0, 90.0)}
    for fold, experts in values.items():
        for cluster, value in enumerate(experts):
            record = _record(f"e{fold}{cluster}", 0, 0, paper="wsi", method="abmil (expert)",
                             metrics={"test_auc": {"value": value}})
            record.update(dataset=f"fashion_bags|fold {fold}|cluster {cluster} of 3")
            record["config"] = {"seed": 0, "data": record["dataset"]}
            _write(tmp_path, record)
    found = records.read_records([], tmp_path)
    row = summary.reproduced(found).iloc[0]
    assert len(summary.reproduced(found)) == 1 and row["seeds"] == 2 and row["parts"] == 3
    assert row["mean"] == pytest.approx((60.0 + 60.0) / 2) and row["seed list"] == "0, fold 0; 0, fold 1"
    table = review.reproduced_table(summary.reproduced(found), found, "wsi")
    assert table["method"].iat[0] == "abmil (expert), the mean of each fold's 3" and "folds" in table


def test_the_review_says_what_its_tables_hold_and_what_they_leave_to_the_chapters(tmp_path):
    """The review claimed every number of the book was in its tables, while cluster purity and
    NMI, relation statistics and the like (kept beside the runs) were not."""
    runs = tmp_path / "cueco" / "runs" / "cpu" / "run-1"
    (runs / "artifacts").mkdir(parents=True)
    (runs / "artifacts" / "cluster-quality-0123456789ab.json").write_text("{}")
    (runs / "artifacts" / "cluster-quality-0123456789ab.npz").write_text("")
    kinds = records.artifact_kinds(tmp_path)
    assert kinds == {"cluster-quality": ["cueco"]}
    reproduced = pd.DataFrame({"evaluation": ["kNN", "linear", "kNN"], "metric": ["knn_top1", "linear_top1", "knn_top1"]})
    said = review.coverage_sentence(reproduced, kinds)
    assert said.startswith("The tables above hold every metric of every record they use, by evaluation: "
                           "kNN (knn_top1); linear (linear_top1).")
    assert "cluster-quality (cueco)" in said


def test_the_field_tables_length_effects_and_gaps_are_worked_out_from_its_values():
    field = pd.DataFrame({"method": ["A", "A", "A", "B", "B", "C"], "pretrain_epochs": [100, 400, 200, 100, 400, None],
                          "value": [60.0, 70.0, 65.0, 62.0, 69.5, 50.0]})
    assert taxonomy.length_effects(field) == [
        "A: 60 at 100 → 65 at 200 → 70 at 400 epochs (+10.0; never lower at a longer length)",
        "B: 62 at 100 → 69.5 at 400 epochs (+7.5; never lower at a longer length)"]
    assert taxonomy.field_gap(field, "A", "B") == "A − B: -2.0 at 100 epochs, +0.5 at 400 epochs"
    falls = field.assign(value=[60.0, 58.0, 65.0, 62.0, 69.5, 50.0])
    assert "lower at some longer length" in taxonomy.length_effects(falls)[0]


def test_a_long_field_label_goes_left_of_its_dot_where_it_would_run_into_the_next_column():
    """'SwAV (no multi-crop)' (400 epochs, 70.1) ran into SynCo's dot (800 epochs, 70.7)."""
    from ssllib.chapters import review_plots
    points = [(4, 75.2), (5, 74.8), (3, 74.6), (3, 70.1), (4, 70.7), (0, 68.1), (1, 68.1)]
    assert review_plots.label_reaches_next_column("SwAV (no multi-crop)", 3, 70.1, points)
    assert not review_plots.label_reaches_next_column("SimSiam", 0, 68.1, points)      # short: it ends first
    assert not review_plots.label_reaches_next_column("DeepCluster-v2", 5, 74.8, points)  # no next column
    assert not review_plots.label_reaches_next_column("DeepCluster-v2", 4, 75.2, points)  # the left is no freer
    fig = review_plots.field_results(taxonomy.field_table())
    texts = {t.get_text(): t.get_horizontalalignment() for t in fig.axes[0].texts}
    assert texts["SwAV (no multi-crop)"] == "right" and texts["SimSiam"] == "left"
