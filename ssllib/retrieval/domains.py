"""A cross-domain benchmark made from one dataset: each domain is a fixed, documented transform
of the same grayscale images (the Caption-Matching chapter's offline default).

- ``photo``: the image itself, its gray copied to three channels;
- ``sketch``: dark lines on white, the Sobel edge magnitude (kornia) of the image scaled so the
  image's strongest edge is black: 1 − |∇x| / max(max |∇x|, 1/255);
- ``negative``: the inverted image 1 − x, tinted amber (R, G, B) × (1.0, 0.55, 0.2).

Every transform is deterministic (no draw), works on a batch on its device, and returns uint8
(N, 3, H, W), the format every dataset of the book holds.
"""
from __future__ import annotations

from typing import Callable

import torch

NEGATIVE_TINT = (1.0, 0.55, 0.2)


def _gray(images: torch.Tensor) -> torch.Tensor:
    if images.dim() != 4 or images.shape[1] != 1 or images.dtype != torch.uint8:
        raise ValueError(f"domains are made from grayscale uint8 batches (N, 1, H, W), got {images.dtype} "
                         f"{tuple(images.shape)}")
    return images.float() / 255


def _to_uint8(x: torch.Tensor) -> torch.Tensor:
    return (x.clamp(0, 1) * 255).round().to(torch.uint8)


def photo(images: torch.Tensor) -> torch.Tensor:
    return _to_uint8(_gray(images).expand(-1, 3, -1, -1))


def sketch(images: torch.Tensor) -> torch.Tensor:
    from kornia.filters import sobel

    edges = sobel(_gray(images), eps=0.0)                                   # (N, 1, H, W), ≥ 0
    # An image whose strongest edge is under one grey level has none: it stays white.
    strongest = edges.flatten(1).amax(1).clamp_min(1 / 255)[:, None, None, None]
    return _to_uint8((1 - edges / strongest).expand(-1, 3, -1, -1))


def negative(images: torch.Tensor) -> torch.Tensor:
    tint = torch.tensor(NEGATIVE_TINT, device=images.device).view(1, 3, 1, 1)
    return _to_uint8((1 - _gray(images)) * tint)


DOMAINS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"photo": photo, "sketch": sketch, "negative": negative}


def make_domain(images: torch.Tensor, domain: str) -> torch.Tensor:
    """``images`` (uint8 (N, 1, H, W)) as they look in ``domain``: uint8 (N, 3, H, W)."""
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}; choose one of {', '.join(DOMAINS)}")
    return DOMAINS[domain](images)
