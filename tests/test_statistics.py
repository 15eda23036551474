"""The paired-difference helper on hand-worked samples, and the sentences it allows."""
import pytest

from ssllib.chapters.statistics import PairedDifference, compare, paired_difference


def test_an_interval_that_excludes_zero():
    # d = 2, 2.5, 2.5: mean 7/3, s_d = √(1/12), t(0.975, 2) = 4.302653 → half-width 0.717109
    d = paired_difference({0: 80, 1: 81, 2: 82}, {0: 78, 1: 78.5, 2: 79.5}, ("SynCo", "MoCo-v2"), "kNN top-1")
    assert d.mean == pytest.approx(7 / 3)
    assert (d.low, d.high) == pytest.approx((7 / 3 - 0.717109, 7 / 3 + 0.717109), abs=1e-5)
    assert d.detected and d.n == 3
    assert d.sentence() == ("SynCo is higher than MoCo-v2 on kNN top-1 by 2.33 points "
                            "(95% CI +1.62 to +3.05; 3 paired seeds).")
    flipped = paired_difference({0: 78, 1: 78.5, 2: 79.5}, {0: 80, 1: 81, 2: 82}, ("B", "A"), "kNN")
    assert flipped.sentence().startswith("B is lower than A on kNN by 2.33 points (95% CI -3.05 to -1.62")


def test_an_interval_that_contains_zero_gives_no_verdict():
    # d = 1, −1, 0.5: mean 1/6, s_d = 1.040833 → half-width 4.302653 · 1.040833 / √3 = 2.585573
    d = paired_difference({0: 11, 1: 9, 2: 10.5}, {0: 10, 1: 10, 2: 10}, ("KD", "student alone"), "top-1")
    assert (d.low, d.high) == pytest.approx((1 / 6 - 2.585573, 1 / 6 + 2.585573), abs=1e-5)
    assert not d.detected
    text = d.sentence()
    assert text.startswith("No detectable difference between KD and student alone on top-1 at this scale")
    for word in ("higher", "lower", "beats", "falls short"):
        assert word not in text


def test_the_sentence_shows_as_many_decimals_as_keep_the_bounds_off_zero():
    def d(mean, low, high):
        return PairedDifference("A", "B", "m", mean, low, high, (0, 1, 2))

    assert d(0.04, 0.02, 0.06).digits() == 2
    assert d(0.04, -0.004, 0.08).digits() == 3    # −0.004 would print as −0.00
    assert d(0.04, -0.0004, 0.08).digits() == 4
    assert d(0.04, -0.00001, 0.08).digits() == 4  # no more than `most`
    assert d(0.04, 0.0, 0.08).digits() == 2       # an exact 0 is shown as it is
    assert d(0.04, -0.004, 0.08).interval() == "95% CI -0.004 to +0.080"
    assert d(0.04, -0.004, 0.08).sentence("") == ("No detectable difference between A and B on m at this scale: "
                                                  "A − B = +0.040 (95% CI -0.004 to +0.080; 3 paired seeds).")
    assert d(1.5, 0.5, 2.5).sentence("points", digits=1).startswith("A is higher than B on m by 1.5 points (95% CI +0.5")


def test_one_seed_is_refused_and_only_shared_seeds_are_paired():
    with pytest.raises(ValueError, match="at least 2 seeds run by both"):
        paired_difference({0: 1.0}, {0: 2.0})
    with pytest.raises(ValueError, match="they share 1"):
        paired_difference({0: 1.0, 1: 2.0}, {1: 2.0, 2: 3.0})
    d = paired_difference({0: 3.0, 1: 5.0, 7: 100.0}, {0: 1.0, 1: 2.0, 2: -50.0})
    assert d.seeds == (0, 1) and d.mean == pytest.approx(2.5)


def test_compare_pairs_rows_by_seed_not_by_order():
    rows = [dict(method="a", seed=1, acc=12.0), dict(method="a", seed=0, acc=10.0), dict(method="a", seed=2, acc=11.0),
            dict(method="b", seed=0, acc=9.0), dict(method="b", seed=1, acc=11.0), dict(method="b", seed=2, acc=10.0)]
    d = compare(rows, "method", "a", "b", "acc")
    assert d.mean == pytest.approx(1.0) and d.low == d.high == pytest.approx(1.0) and d.detected
    with pytest.raises(ValueError, match="two runs with seed 0"):
        compare(rows + [dict(method="b", seed=0, acc=1.0)], "method", "a", "b", "acc")


def test_paired_by_epoch_compares_each_epoch_both_sides_measured():
    from ssllib.chapters.statistics import paired_by_epoch

    a = {0: [{"epoch": 1, "m": 10.0}, {"epoch": 2, "m": 12.0}], 1: [{"epoch": 1, "m": 11.0}, {"epoch": 2, "m": 13.0}]}
    b = {0: [{"epoch": 1, "m": 9.0}, {"epoch": 2}], 1: [{"epoch": 1, "m": 9.0}, {"epoch": 2, "m": 1.0}]}
    (epoch, d), = paired_by_epoch(a, b, "m", ("a", "b"))  # epoch 2 is missing for seed 0 of b
    assert epoch == 1 and d.mean == pytest.approx(1.5) and d.seeds == (0, 1)
    # d = 1, 2: s_d = 1/√2, t(0.975, 1) = 12.7062 → half-width 12.7062 · 0.5 = 6.3531
    assert (d.low, d.high) == pytest.approx((1.5 - 6.35310, 1.5 + 6.35310), abs=1e-4) and not d.detected


def _difference(mean, low, high):
    from ssllib.chapters.statistics import PairedDifference
    return PairedDifference("A", "B", "m", mean, low, high, (0, 1, 2))


def test_the_claim_sentence_follows_the_intervals():
    from ssllib.chapters.report import claim_outcome
    # intervals narrow enough to survive Holm's correction for up to three comparisons
    ahead, none, behind = _difference(1.0, 0.9, 1.1), _difference(0.3, -0.5, 1.1), _difference(-1.0, -1.1, -0.9)
    part = claim_outcome("A is better", {"x": ahead, "y": none}, "A", "B")
    assert "ahead of B in 1 of 2 comparisons (x)" in part and "behind in 0, counting" in part
    assert part.endswith("the run supports only in part (x; no detectable difference elsewhere) the claim that "
                         "A is better.")
    assert claim_outcome("A is better", {"x": ahead, "y": ahead}, "A", "B").endswith(
        "Holm's correction for 2 comparisons. At this scale the run supports the claim that A is better.")  # no 'others' left
    assert "; the other shows no detectable difference." in part
    three = claim_outcome("A is better", {"x": ahead, "y": none, "z": none}, "A", "B")
    assert "; the other 2 show no detectable difference." in three
    assert claim_outcome("A is better", {"x": none, "y": none}, "A", "B").endswith("does not support the claim that A is better.")
    assert claim_outcome("A is better", {"x": behind, "y": none}, "A", "B").endswith("goes against the claim that A is better.")
    both = claim_outcome("A is better", {"x": ahead, "y": behind}, "A", "B")
    assert "behind in 1 (y)" in both and both.endswith("gives mixed evidence on the claim that A is better.")


def test_the_p_value_is_the_paired_t_test():
    from scipy import stats

    from ssllib.chapters.statistics import paired_difference
    a, b = {0: 71.2, 1: 70.1, 2: 72.9, 3: 70.4}, {0: 70.0, 1: 69.9, 2: 71.1, 3: 70.2}
    d = paired_difference(a, b)
    assert d.p_value == pytest.approx(stats.ttest_rel(list(a.values()), list(b.values())).pvalue, rel=1e-9)
    assert paired_difference({0: 2, 1: 2}, {0: 1, 1: 1}).p_value == 0.0       # every seed the same difference


def test_holm_keeps_a_prefix_of_the_sorted_p_values():
    from types import SimpleNamespace as P

    from ssllib.chapters.statistics import holm
    # m = 3: 0.01 ≤ 0.05/3 is kept, then 0.03 > 0.05/2 stops the procedure, so 0.04 ≤ 0.05 is not reached
    assert holm({"a": P(p_value=0.01), "b": P(p_value=0.04), "c": P(p_value=0.03)}) == {"a"}
    assert holm({"a": P(p_value=0.01), "b": P(p_value=0.02), "c": P(p_value=0.04)}) == {"a", "b", "c"}
    assert holm({"a": P(p_value=0.03)}) == {"a"}                                 # one comparison: uncorrected
    assert holm({"a": P(p_value=0.03), "b": P(p_value=0.04)}) == set()           # 0.03 > 0.05/2


def test_one_interval_in_many_that_excludes_zero_is_not_a_verdict():
    from ssllib.chapters.report import claim_outcome
    lucky = _difference(1.0, 0.2, 1.8)                          # p ≈ 0.033 on 3 seeds: alone, it excludes 0
    none = _difference(0.3, -0.5, 1.1)
    assert lucky.detected and 0.03 < lucky.p_value < 0.04
    assert claim_outcome("A is better", {"x": lucky}, "A", "B").endswith("the run supports the claim that A is better.")
    many = claim_outcome("A is better", {"x": lucky, **{f"e{i}": none for i in range(13)}}, "A", "B")
    assert "ahead of B in 0 of 14 comparisons and detectably behind in 0, counting a difference only if it " \
           "survives Holm's correction for 14 comparisons" in many
    assert "(x: the interval excludes 0 on its own, but not once the 14 comparisons are corrected for" in many
    assert many.endswith("does not support the claim that A is better.")


def test_a_chapter_s_verdicts_are_one_table_and_one_sentence(capsys, monkeypatch):
    from ssllib.chapters import report

    rows = [{"method": m, "seed": s, "top": v, "knn": v + k}
            for m, vals, k in (("A", (70.0, 71.0, 72.0), 0.0), ("B", (60.0, 61.5, 62.0), 1.0), ("C", (70.2, 70.5, 72.8), 2.0))
            for s, v in enumerate(vals)]
    rows.append({"method": "D", "seed": 0, "top": 50.0, "knn": 50.0})
    differences = report.paired_differences(rows, [("A", "B"), ("A", "C"), ("A", "D")], ["top", "knn"])
    table = report.verdict_table(differences)
    assert list(table.columns) == ["comparison", "measure", "difference (points)", "95% CI", "paired seeds", "verdict"]
    sentences = report.comparisons(rows, [("A", "B"), ("A", "C")], "top")
    for (_, row), sentence, d in zip(table.iterrows(), sentences, differences):
        assert f"{row['95% CI']}; 3 paired seeds" in sentence  # the same numbers as the sentence
        assert row["verdict"] == ("higher" if d.low > 0 else "lower" if d.high < 0 else "no detectable difference")
    assert table["verdict"].iloc[2].startswith("no verdict")
    sentence = report.verdict_sentence(differences)
    assert sentence.startswith("3 of these 4 differences are detectable") and "A higher than B on top and knn" in sentence
    assert "A lower than C on knn" in sentence and "the other one shows no detectable difference" in sentence
    assert "2 comparisons with fewer than two shared seeds have no verdict" in sentence
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda data, raw=False: shown.append(data))
    report.show_verdicts(differences[:1], "one")
    assert not shown and capsys.readouterr().out.strip() == sentences[0]
    report.show_verdicts(differences, "all of them")
    assert len(shown) == 1 and capsys.readouterr().out.strip() == sentence
