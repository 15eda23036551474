"""The caption cache: a caption is computed once per (captioner, image) and kept on disk.

Captioning dominates the cost of caption matching, so every caption is stored under the
captioner's name and the SHA-256 of the image's bytes (its uint8 pixels and shape): a second
run, or another chapter, reads it back; another captioner or a changed image misses. One JSON
file per captioner, written atomically (temp file, then rename), so an interrupted run loses at
most the captions of its last batch and never corrupts the file.
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Callable, Sequence

import torch

from ssllib.engine.checkpoint import write_json


def image_key(image: torch.Tensor) -> str:
    """SHA-256 of one uint8 image (C, H, W): its shape and its bytes."""
    image = image.detach().to("cpu", torch.uint8).contiguous()
    digest = hashlib.sha256(str(tuple(image.shape)).encode())
    digest.update(image.numpy().tobytes())
    return digest.hexdigest()


class CaptionCache:
    """``captions(images, captioner)``: the cached caption of each image, computing only the
    missing ones (``captioner(batch) -> list[str]``, in batches of ``batch_size``)."""

    def __init__(self, folder: str | Path, captioner_name: str, batch_size: int = 256):
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", captioner_name)
        self.path = Path(folder) / f"captions-{safe}.json"
        self.captioner_name, self.batch_size = captioner_name, batch_size
        self.hits = self.misses = 0
        self._store: dict[str, str] = {}
        if self.path.exists():
            saved = json.loads(self.path.read_text())
            if saved.get("captioner") != captioner_name:
                raise ValueError(f"{self.path} holds captions of {saved.get('captioner')!r}, not {captioner_name!r}; "
                                 f"move it aside")
            self._store = saved["captions"]

    def captions(self, images: Sequence[torch.Tensor] | torch.Tensor,
                 captioner: Callable[[torch.Tensor], list[str]]) -> list[str]:
        keys = [image_key(img) for img in images]
        missing = [i for i, k in enumerate(keys) if k not in self._store]
        self.hits += len(keys) - len(missing)
        self.misses += len(missing)
        for start in range(0, len(missing), self.batch_size):
            rows = missing[start:start + self.batch_size]
            texts = captioner(torch.stack([images[i] for i in rows]))
            if len(texts) != len(rows):
                raise ValueError(f"the captioner returned {len(texts)} captions for {len(rows)} images")
            self._store.update({keys[i]: str(t) for i, t in zip(rows, texts)})
            write_json({"captioner": self.captioner_name, "captions": self._store}, self.path)
        return [self._store[k] for k in keys]
