"""What retrieval scores a ranking that knows nothing would get: the chance level of P@K and
mAP for one query domain against one gallery domain, worked out from the labels alone.

A ranking drawn uniformly at random puts a gallery image of the query's class at any rank with
the same probability, R/N, for a gallery of N images of which R share the query's class. So, for
the micro-averaged P@K of :func:`ssllib.evaluate.retrieval.precision_at_k` (k_q = min(K, R_q)),

    chance P@K = 100 · Σ_q k_q · R_q / N  /  Σ_q k_q,

and for the average precision of the whole ranking (:func:`~ssllib.evaluate.retrieval.mean_average_precision`),
the expectation over random orders of (1/R) Σ over relevant ranks r of P@r is

    E[AP] = (R − 1) / (N − 1) + H_N · (N − R) / (N · (N − 1)),   H_N = 1 + 1/2 + … + 1/N,

so chance mAP = 100 · mean over queries of E[AP] (for N = 1, AP is 1). Both are exact
expectations, not simulations; a representation is informative only as far as it rises above them.
"""
from __future__ import annotations

from collections import Counter
from typing import Mapping, Sequence

import torch


def expected_average_precision(relevant: int, gallery: int) -> float:
    """E[AP] of a uniformly random ranking of ``gallery`` images of which ``relevant`` count."""
    if gallery == 1:
        return 1.0
    harmonic = sum(1.0 / i for i in range(1, gallery + 1))
    return (relevant - 1) / (gallery - 1) + harmonic * (gallery - relevant) / (gallery * (gallery - 1))


def chance_scores(query_labels: torch.Tensor, gallery_labels: torch.Tensor, ks: Sequence[int]) -> dict[str, float]:
    """{'P@K': …, 'mAP': …} in % that a random ranking scores in expectation, for these labels."""
    queries = Counter(query_labels.tolist())
    gallery = Counter(gallery_labels.tolist())
    n = len(gallery_labels)
    out = {}
    for k in ks:
        shown = {c: min(int(k), gallery[c]) for c in queries}
        out[f"P@{int(k)}"] = 100.0 * sum(q * shown[c] * gallery[c] / n for c, q in queries.items()) / sum(
            q * shown[c] for c, q in queries.items())
    out["mAP"] = 100.0 * sum(q * expected_average_precision(gallery[c], n) for c, q in queries.items()) / len(
        query_labels)
    return out


def chance_by_direction(labels: Mapping[str, torch.Tensor], directions: Sequence[tuple[str, str]],
                        ks: Sequence[int]) -> list[dict]:
    """One row per direction (query domain → gallery domain): its chance P@K and mAP."""
    return [{"direction": f"{q} → {g}", **chance_scores(labels[q], labels[g], ks)} for q, g in directions]
