"""Retrieval metrics: each query ranks a gallery by similarity, and the ranking is scored
against the labels (the cross-domain protocol of UCDIR and ProtoOT, used by the Caption-Matching
chapter).

Rankings are by descending similarity; ties go to the lower gallery index (a stable order),
so every metric is a function of the similarity matrix alone. Work is batched over queries on
the similarity matrix's device.
"""
from __future__ import annotations

import torch


def _check(similarity: torch.Tensor, query_labels: torch.Tensor, gallery_labels: torch.Tensor) -> torch.Tensor:
    """The (Q, G) relevance counts of each query's class in the gallery; refuses a query whose
    class the gallery lacks (no ranking of it can be scored)."""
    q, g = similarity.shape
    if len(query_labels) != q or len(gallery_labels) != g:
        raise ValueError(f"a {q} × {g} similarity matrix needs {q} query labels and {g} gallery labels, "
                         f"got {len(query_labels)} and {len(gallery_labels)}")
    classes = torch.unique(gallery_labels)
    missing = sorted(set(torch.unique(query_labels).tolist()) - set(classes.tolist()))
    if missing:
        raise ValueError(f"the gallery holds no image of class {missing[0]} (of {len(missing)} such classes), so a "
                         f"query of that class has nothing to retrieve; use a gallery with every query class")
    return (gallery_labels[None, :] == classes[:, None]).sum(1), classes


def ranking(similarity: torch.Tensor, k: int | None = None) -> torch.Tensor:
    """Gallery indices by descending similarity, (Q, k) or (Q, G): ties in index order."""
    order = torch.sort(-similarity, dim=1, stable=True).indices
    return order if k is None else order[:, :k]


def precision_at_k(similarity: torch.Tensor, query_labels: torch.Tensor, gallery_labels: torch.Tensor, k: int,
                   chunk: int = 1024) -> float:
    """Micro-averaged P@K in %: for each query q, k_q = min(K, gallery images of q's class), and

        P@K = 100 · Σ_q |relevant among the top k_q| / Σ_q k_q,

    so a class with fewer than K gallery images is not penalised for the ranks it cannot fill."""
    if k < 1:
        raise ValueError(f"K={k}: precision at K needs K ≥ 1")
    counts, classes = _check(similarity, query_labels, gallery_labels)
    gallery_labels = gallery_labels.to(similarity.device)
    k_q = torch.clamp(counts[torch.searchsorted(classes, query_labels.cpu())], max=k).to(similarity.device)
    top = min(k, similarity.shape[1])
    hits = 0
    for start in range(0, len(similarity), chunk):
        rows = slice(start, start + chunk)
        relevant = gallery_labels[ranking(similarity[rows], top)] == query_labels[rows].to(similarity.device)[:, None]
        within = torch.arange(top, device=similarity.device)[None, :] < k_q[rows, None]
        hits += int((relevant & within).sum())
    return 100.0 * hits / int(k_q.sum())


def mean_average_precision(similarity: torch.Tensor, query_labels: torch.Tensor, gallery_labels: torch.Tensor,
                           chunk: int = 256) -> float:
    """mAP@all in %: the mean over queries of the average precision of the whole ranked gallery,

        AP(q) = (1 / R_q) Σ_{r : g_r relevant} P@r,   P@r = |relevant among the top r| / r,

    with R_q the gallery images of q's class (every one of them is ranked somewhere)."""
    _check(similarity, query_labels, gallery_labels)
    gallery_labels = gallery_labels.to(similarity.device)
    ranks = torch.arange(1, similarity.shape[1] + 1, device=similarity.device, dtype=torch.float64)
    total = 0.0
    for start in range(0, len(similarity), chunk):
        rows = slice(start, start + chunk)
        relevant = (gallery_labels[ranking(similarity[rows])] == query_labels[rows].to(similarity.device)[:, None])
        relevant = relevant.double()
        precision = relevant.cumsum(1) / ranks
        total += float(((precision * relevant).sum(1) / relevant.sum(1)).sum())
    return 100.0 * total / len(similarity)
