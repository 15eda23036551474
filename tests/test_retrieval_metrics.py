"""Retrieval metrics (ssllib.evaluate.retrieval): P@K and mAP@all against hand-worked rankings and
an independent computation, and the refusals."""
import random

import pytest
import torch
from sklearn.metrics import average_precision_score

from ssllib.evaluate.retrieval import mean_average_precision, precision_at_k, ranking

# Two queries (classes 0 and 1) against a gallery of five: class 0 ×3 (indices 0, 2, 4), class 1 ×2 (1, 3).
GALLERY = torch.tensor([0, 1, 0, 1, 0])
QUERIES = torch.tensor([0, 1])
SIMILARITY = torch.tensor([[0.9, 0.8, 0.1, 0.7, 0.5],     # ranking 0, 1, 3, 4, 2: relevant at ranks 1, 4, 5
                           [0.2, 0.6, 0.9, 0.1, 0.3]])    # ranking 2, 1, 4, 0, 3: relevant at ranks 2, 5


def test_ranking_breaks_ties_by_gallery_index():
    assert ranking(torch.tensor([[0.5, 0.9, 0.5, 0.9]])).tolist() == [[1, 3, 0, 2]]


def test_precision_at_k_by_hand_with_a_class_smaller_than_k():
    assert precision_at_k(SIMILARITY, QUERIES, GALLERY, 1) == pytest.approx(100 * 1 / 2)
    # K = 3: query 0 has k_q = 3 (1 hit in its top 3), query 1 only 2 gallery images, k_q = 2 (1 hit in top 2)
    assert precision_at_k(SIMILARITY, QUERIES, GALLERY, 3) == pytest.approx(100 * (1 + 1) / (3 + 2))
    # K = 5: k_q = 3 and 2; hits in the top 3 and top 2
    assert precision_at_k(SIMILARITY, QUERIES, GALLERY, 5) == pytest.approx(100 * (1 + 1) / (3 + 2))


def test_map_by_hand():
    ap0 = (1 / 1 + 2 / 4 + 3 / 5) / 3
    ap1 = (1 / 2 + 2 / 5) / 2
    assert mean_average_precision(SIMILARITY, QUERIES, GALLERY) == pytest.approx(100 * (ap0 + ap1) / 2)


def _naive_precision(similarity, queries, gallery, k):
    hits = total = 0
    for row, label in zip(similarity.tolist(), queries.tolist()):
        order = sorted(range(len(row)), key=lambda j: (-row[j], j))
        k_q = min(k, sum(1 for g in gallery.tolist() if g == label))
        hits += sum(1 for j in order[:k_q] if gallery[j] == label)
        total += k_q
    return 100 * hits / total


@pytest.mark.parametrize("seed", range(5))
def test_both_metrics_agree_with_an_independent_computation(seed):
    g = torch.Generator().manual_seed(seed)
    gallery = torch.randint(0, 4, (60,), generator=g)
    queries = torch.randint(0, 4, (25,), generator=g)
    similarity = torch.rand(25, 60, generator=g)              # continuous: no ties
    for k in (1, 5, 15, 100):
        assert precision_at_k(similarity, queries, gallery, k, chunk=7) == \
            pytest.approx(_naive_precision(similarity, queries, gallery, k))
    expected = sum(average_precision_score((gallery == q).numpy(), s.numpy())
                   for q, s in zip(queries, similarity)) / len(queries)
    assert mean_average_precision(similarity, queries, gallery, chunk=4) == pytest.approx(100 * expected)


def test_a_perfect_ranking_scores_100_and_a_reversed_one_less():
    gallery = torch.tensor(random.Random(0).choices(range(3), k=30))
    queries = torch.arange(3)
    perfect = (queries[:, None] == gallery[None, :]).float()
    assert precision_at_k(perfect, queries, gallery, 10) == 100 == mean_average_precision(perfect, queries, gallery)
    assert mean_average_precision(-perfect, queries, gallery) < 60


def test_bad_inputs_get_one_sentence():
    with pytest.raises(ValueError, match="K=0: precision at K needs K ≥ 1"):
        precision_at_k(SIMILARITY, QUERIES, GALLERY, 0)
    with pytest.raises(ValueError, match="the gallery holds no image of class 7"):
        precision_at_k(SIMILARITY, torch.tensor([0, 7]), GALLERY, 1)
    with pytest.raises(ValueError, match="the gallery holds no image of class 7"):
        mean_average_precision(SIMILARITY, torch.tensor([7, 1]), GALLERY)
    with pytest.raises(ValueError, match="needs 2 query labels and 5 gallery labels"):
        precision_at_k(SIMILARITY, torch.tensor([0]), GALLERY, 1)
