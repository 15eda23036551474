"""How well one network keeps another's similarity structure over a set of images.

Given features F_S (N × d_S) of the student and F_T (N × d_T) of the teacher for the same N
images, the relations are the pairwise cosine similarities S_ij = cos(f_i, f_j), i ≠ j. Two
measures, both 1 when the student's relations equal the teacher's and independent of the
feature dimensions (so a narrow student can be compared with a wide teacher):

- relation correlation: Pearson's r between the N(N−1)/2 entries of S_S and of S_T above the
  diagonal;
- neighbour overlap at k: for each image, the fraction of its k nearest images under the teacher
  (largest S_T) that are also among its k nearest under the student, averaged over images.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def cosine_relations(features: torch.Tensor) -> torch.Tensor:
    """The N × N cosine similarities of the rows of ``features`` (N, d)."""
    z = F.normalize(features.double(), dim=1)
    return z @ z.t()


def relation_correlation(student: torch.Tensor, teacher: torch.Tensor) -> float:
    """Pearson's r between the off-diagonal cosine similarities of the two feature sets."""
    _check(student, teacher)
    rows, cols = torch.triu_indices(len(student), len(student), offset=1)
    s, t = cosine_relations(student)[rows, cols], cosine_relations(teacher)[rows, cols]
    s, t = s - s.mean(), t - t.mean()
    return float((s @ t) / (s.norm() * t.norm()))


def neighbour_overlap(student: torch.Tensor, teacher: torch.Tensor, k: int = 10) -> float:
    """Mean over images of |kNN_T(i) ∩ kNN_S(i)| / k (each image's own entry left out)."""
    _check(student, teacher)
    if not 1 <= k < len(student):
        raise ValueError(f"k={k} must be between 1 and the number of images minus one ({len(student) - 1})")
    eye = torch.eye(len(student), dtype=torch.bool)
    near_s = cosine_relations(student).masked_fill(eye, -2).topk(k, dim=1).indices
    near_t = cosine_relations(teacher).masked_fill(eye, -2).topk(k, dim=1).indices
    shared = (near_s[:, :, None] == near_t[:, None, :]).any(dim=2).sum(dim=1)
    return float(shared.double().mean() / k)


def _check(student: torch.Tensor, teacher: torch.Tensor) -> None:
    if student.dim() != 2 or teacher.dim() != 2 or len(student) != len(teacher) or len(student) < 3:
        raise ValueError(f"relations need two feature matrices with the same number (≥ 3) of rows; got "
                         f"{tuple(student.shape)} and {tuple(teacher.shape)}")
