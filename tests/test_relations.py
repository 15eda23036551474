"""The relation measures on hand-worked cases."""
import math

import pytest
import torch

from ssllib.evaluate.relations import neighbour_overlap, relation_correlation


def test_relations_of_a_hand_worked_triangle():
    # teacher: three unit vectors at 0°, 90°, 180° → similarities (0,1)=0, (0,2)=−1, (1,2)=0
    teacher = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    # student: 0°, 90°, 135° → similarities 0, −1/√2, 1/√2 (mean 0)
    student = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1 / math.sqrt(2), 1 / math.sqrt(2)]])
    # centred teacher (1/3, −2/3, 1/3): r = (0 + (2/3)/√2 + (1/3)/√2) / (√(6/9) · 1) = √3/2
    assert relation_correlation(student, teacher) == pytest.approx(math.sqrt(3) / 2, abs=1e-9)
    # an affine change of every similarity (0°, 60°, 120°: 0.5, −0.5, 0.5) keeps r = 1
    evenly = torch.tensor([[1.0, 0.0], [0.5, math.sqrt(3) / 2], [-0.5, math.sqrt(3) / 2]])
    assert relation_correlation(evenly, teacher) == pytest.approx(1.0, abs=1e-9)


def test_relations_ignore_rotation_and_width_but_not_shuffling():
    g = torch.Generator().manual_seed(0)
    teacher = torch.randn(200, 16, generator=g)
    rotation, _ = torch.linalg.qr(torch.randn(16, 16, generator=g))
    wider = torch.cat([teacher @ rotation, torch.zeros(200, 8)], dim=1) * 3.0
    assert relation_correlation(wider, teacher) == pytest.approx(1.0, abs=1e-9)
    assert neighbour_overlap(wider, teacher, k=5) == pytest.approx(1.0)
    unrelated = torch.randn(200, 16, generator=g)
    assert abs(relation_correlation(unrelated, teacher)) < 0.05
    assert neighbour_overlap(unrelated, teacher, k=5) < 0.1  # chance is 5/199


def test_relations_refuse_mismatched_inputs():
    with pytest.raises(ValueError, match="same number"):
        relation_correlation(torch.randn(5, 3), torch.randn(6, 3))
    with pytest.raises(ValueError, match="k=5 must be between 1"):
        neighbour_overlap(torch.randn(5, 3), torch.randn(5, 3), k=5)
