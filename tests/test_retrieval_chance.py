"""The chance level of retrieval scores: exact expectations, checked against every ordering."""
from itertools import permutations

import pytest
import torch

from ssllib.chapters.retrieval_chance import chance_by_direction, chance_scores, expected_average_precision
from ssllib.evaluate.retrieval import mean_average_precision, precision_at_k


def _over_every_order(query_labels, gallery_labels, score):
    """The mean of ``score`` over every ordering of the gallery (each a distinct similarity row)."""
    values = []
    for order in permutations(range(len(gallery_labels))):
        similarity = torch.zeros(len(query_labels), len(gallery_labels))
        similarity[:, list(order)] = -torch.arange(len(gallery_labels), dtype=torch.float32)
        values.append(score(similarity, query_labels, gallery_labels))
    return sum(values) / len(values)


def test_one_relevant_among_three_is_found_at_rank_one_two_or_three():
    assert expected_average_precision(1, 3) == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)   # 11/18
    assert expected_average_precision(1, 1) == 1.0 and expected_average_precision(3, 3) == pytest.approx(1.0)


def test_chance_is_the_mean_of_the_metrics_over_every_ordering_of_the_gallery():
    query_labels, gallery_labels = torch.tensor([0, 0, 1]), torch.tensor([0, 1, 1, 2, 0])
    chance = chance_scores(query_labels, gallery_labels, ks=(1, 2))
    for k in (1, 2):
        exact = _over_every_order(query_labels, gallery_labels, lambda s, q, g: precision_at_k(s, q, g, k))
        assert chance[f"P@{k}"] == pytest.approx(exact)
    assert chance["mAP"] == pytest.approx(_over_every_order(query_labels, gallery_labels, mean_average_precision))


def test_ten_balanced_classes_give_ten_percent_at_every_k():
    labels = torch.arange(10).repeat(30)
    rows = chance_by_direction({"a": labels, "b": labels}, [("a", "b"), ("b", "a")], ks=(1, 15))
    assert [r["direction"] for r in rows] == ["a → b", "b → a"]
    assert rows[0]["P@1"] == pytest.approx(10.0) and rows[0]["P@15"] == pytest.approx(10.0)
    assert rows[0]["mAP"] == pytest.approx(100 * (29 / 299 + sum(1 / i for i in range(1, 301)) * 270 / (300 * 299)))
    assert rows[0]["mAP"] > 10.0     # above R/N: wherever the first relevant image falls, its precision counts
