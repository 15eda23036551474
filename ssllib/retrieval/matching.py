"""Cross-domain retrieval by cosine similarity, through captions, image features or both.

Every image of domain A queries every image of domain B (and B queries A); a representation is
any unit-vector embedding of each image: its caption's sentence embedding, a frozen encoder's
feature, or its pixels. Late fusion ranks by a weighted sum of two similarities,

    s(q, g) = w · s_caption(q, g) + (1 − w) · s_image(q, g),        w ∈ [0, 1],

so w = 1 is caption matching alone and w = 0 the image features alone.
"""
from __future__ import annotations

from itertools import permutations
from typing import Mapping, Sequence

import torch
import torch.nn.functional as F

from ssllib.evaluate.retrieval import mean_average_precision, precision_at_k


def unit_rows(x: torch.Tensor) -> torch.Tensor:
    """(N, D) rows scaled to unit length, float32."""
    return F.normalize(x.float().flatten(1), dim=1)


def cosine_similarity(queries: torch.Tensor, gallery: torch.Tensor) -> torch.Tensor:
    """(Q, G) cosine similarities of two sets of rows (normalised here)."""
    return unit_rows(queries) @ unit_rows(gallery).T


def fuse(caption_similarity: torch.Tensor, image_similarity: torch.Tensor, weight: float) -> torch.Tensor:
    """w · s_caption + (1 − w) · s_image."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"fusion weight {weight} must lie in [0, 1] (1: captions alone, 0: image features alone)")
    if caption_similarity.shape != image_similarity.shape:
        raise ValueError(f"cannot fuse a {tuple(caption_similarity.shape)} and a {tuple(image_similarity.shape)} "
                         f"similarity matrix")
    return weight * caption_similarity + (1.0 - weight) * image_similarity


def scores(similarity: torch.Tensor, query_labels: torch.Tensor, gallery_labels: torch.Tensor,
           ks: Sequence[int]) -> dict[str, float]:
    """{'P@K': …, 'mAP': …} in % for one query domain against one gallery domain."""
    out = {f"P@{k}": precision_at_k(similarity, query_labels, gallery_labels, int(k)) for k in ks}
    out["mAP"] = mean_average_precision(similarity, query_labels, gallery_labels)
    return out


def embed_texts(texts: Sequence[str], encode) -> torch.Tensor:
    """``encode`` (a list of texts → (M, D) unit rows) run once per distinct text, then spread
    back to every position: captions repeat, and a sentence encoder is the slow part."""
    distinct = sorted(set(texts))
    where = {t: i for i, t in enumerate(distinct)}
    return encode(distinct)[torch.tensor([where[t] for t in texts])]


def directions(domains: Sequence[str]) -> list[tuple[str, str]]:
    """Every ordered pair (query domain, gallery domain) of different domains."""
    return list(permutations(domains, 2))


def cosine_between(embeddings: Mapping[str, torch.Tensor]):
    """``similarity(a, b)``: the cosine between domain a's and domain b's rows of ``embeddings``."""
    return lambda a, b: cosine_similarity(embeddings[a], embeddings[b])


def retrieval_rows(labels: Mapping[str, torch.Tensor], ks: Sequence[int], similarity) -> list[dict]:
    """One row per direction A→B of the domains in ``labels``: {'query', 'gallery', 'P@K' …,
    'mAP'}; ``similarity(a, b)`` gives the (|A|, |B|) matrix (:func:`cosine_between`, a fusion)."""
    return [{"query": a, "gallery": b, **scores(similarity(a, b), labels[a], labels[b], ks)}
            for a, b in directions(list(labels))]
