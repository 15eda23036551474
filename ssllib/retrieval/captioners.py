"""Captioners: uint8 images (N, 3, H, W) → one caption each.

Two kinds share one call, ``captioner(images) -> list[str]``, and a ``name`` that keys the
caption cache:

- :class:`HuggingFaceCaptioner`: any image-to-text model of Hugging Face ``transformers`` (a
  BLIP captioning model on a GPU, the paper's kind of captioner), batched, decoded
  deterministically (greedy or beam search, never sampling), with an optional text prompt. A
  local folder loads offline; a hub name is fetched only when the user allows a download.
- :class:`TemplateCaptioner`: the book's offline stand-in. A small classifier, trained with
  labels on the training split of the photo domain only, writes "a photo of a {class}" for its
  most probable class, and "a photo of a {class} or a {class}" when its second guess holds at
  least ``second_guess`` of the probability. It has never seen another domain, as a web-scale
  captioner has never seen the benchmark; but its vocabulary is the benchmark's class names,
  which no real captioner is given.
"""
from __future__ import annotations

from typing import Protocol, Sequence

import torch
import torch.nn as nn

from ssllib.data.augment import prepare_eval
from ssllib.retrieval.hub import quiet_loading, resolve_model

DEFAULT_GPU_CAPTIONER = "Salesforce/blip-image-captioning-base"
PHOTO_TEMPLATE = "a photo of a {}"


class Captioner(Protocol):
    name: str

    def __call__(self, images: torch.Tensor) -> list[str]: ...


class HuggingFaceCaptioner:
    """A ``transformers`` image-to-text model (``AutoModelForImageTextToText`` and its
    processor), in eval mode on ``device``; ``num_beams`` 1 is greedy decoding."""

    def __init__(self, name: str = DEFAULT_GPU_CAPTIONER, device: str | torch.device = "cpu", prompt: str | None = None,
                 max_new_tokens: int = 30, num_beams: int = 1, allow_download: bool = False):
        from transformers import AutoModelForImageTextToText, AutoProcessor

        source = resolve_model(name, allow_download, "captioner", "stand-in")
        self.name = f"hf:{name}" + (f"|prompt={prompt}" if prompt else "") + f"|beams={num_beams}|max={max_new_tokens}"
        self.device, self.prompt = torch.device(device), prompt
        self.generate_options = dict(max_new_tokens=max_new_tokens, num_beams=num_beams, do_sample=False)
        with quiet_loading():
            self.processor = AutoProcessor.from_pretrained(source, local_files_only=not allow_download)
            self.model = AutoModelForImageTextToText.from_pretrained(source, local_files_only=not allow_download)
        self.model.to(self.device).eval()

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> list[str]:
        pictures = [img.permute(1, 2, 0).cpu().numpy() for img in images]          # (H, W, 3) uint8 each
        text = [self.prompt] * len(pictures) if self.prompt else None
        inputs = self.processor(images=pictures, text=text, return_tensors="pt").to(self.device)
        tokens = self.model.generate(**inputs, **self.generate_options)
        captions = self.processor.batch_decode(tokens, skip_special_tokens=True)
        return [c.strip() for c in captions]


def to_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    """uint8 (N, 3, H, W) as a network of ``channels`` input channels reads it: the mean of the
    three channels for a grayscale network, unchanged for a colour one."""
    if channels == images.shape[1]:
        return images
    if channels == 1:
        return images.float().mean(1, keepdim=True).round().to(torch.uint8)
    raise ValueError(f"cannot feed {images.shape[1]}-channel images to a network of {channels} input channels")


class TemplateCaptioner:
    """A trained classifier (backbone and linear head) that writes template captions; its
    input is prepared as in training (channels, size, the dataset's normalisation)."""

    def __init__(self, backbone: nn.Module, head: nn.Linear, classes: Sequence[str], mean, std, size: int,
                 channels: int, name: str, second_guess: float = 0.25, template: str = PHOTO_TEMPLATE,
                 batch_size: int = 512):
        if not 0 < second_guess <= 1:
            raise ValueError(f"second_guess={second_guess}: it is a share of the probability, in (0, 1]")
        self.backbone, self.head = backbone.eval(), head.eval()
        self.classes, self.mean, self.std, self.size, self.channels = list(classes), mean, std, size, channels
        self.second_guess, self.template, self.batch_size = second_guess, template, batch_size
        self.name = f"template:{name}|second={second_guess:g}|{template}"
        self.device = next(backbone.parameters()).device

    @torch.no_grad()
    def probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """(N, classes) softmax of the classifier on uint8 (N, 3, H, W) images."""
        out = []
        for start in range(0, len(images), self.batch_size):
            x = to_channels(images[start:start + self.batch_size].to(self.device), self.channels)
            out.append(self.head(self.backbone(prepare_eval(x, self.mean, self.std, self.size))).float().softmax(1))
        return torch.cat(out).cpu()

    def __call__(self, images: torch.Tensor) -> list[str]:
        top = self.probabilities(images).topk(2, dim=1)
        captions = []
        for (p1, p2), (c1, c2) in zip(top.values.tolist(), top.indices.tolist()):
            name = self.classes[c1].lower()
            if p2 >= self.second_guess:
                name = f"{name} or a {self.classes[c2].lower()}"
            captions.append(self.template.format(name))
        return captions
