"""The representations Caption-Matching compares, each a method of the retrieval family. A
method's ``build(cfg, sets, inputs, context)`` returns ``similarity(a, b)``, the (|a|, |b|)
cosine matrix between two domains' images (:func:`ssllib.retrieval.matching.cosine_between`):

- ``pixels``: the flattened pixels, in the encoders' channels and size;
- ``image_features``: a frozen encoder's pooled features (input ``encoder``: a trained run);
- ``captions``: the sentence embedding of each image's caption, from the stand-in captioner
  (input ``captioner``: the supervised run it is made of) or a Hugging Face captioner;
- ``fusion``: w · captions + (1 − w) · image features (inputs ``captions`` and ``image_features``:
  the two runs it fuses).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from ssllib.engine.params import Param
from ssllib.engine.registry import Method, register_method
from ssllib.retrieval import matching
from ssllib.retrieval.datasets import DomainImages

STAND_IN = "stand-in"


@dataclass
class Context:
    """What the representations share within one experiment: the encoders' input (channels,
    normalisation and size of their test set ``like``), the sentence encoder (made on first
    use), the caption cache's folder, and the similarity of each scored run (by run id)."""

    like: Any = None
    size: int = 0
    encoder_cfg: Any = None
    text_encoder: Callable[[], Any] | None = None
    caption_folder: Any = None
    current: str = ""                                 # the run id being built
    similarities: dict = field(default_factory=dict)  # run id → similarity(a, b)
    scored: dict = field(default_factory=dict)        # run id → its Scored (pipeline)
    captioned: dict = field(default_factory=dict)     # run id → its Captioned (caption runs)


def pixels(cfg, sets: dict[str, DomainImages], inputs: dict, context: Context):
    from ssllib.evaluate.frozen import raw_pixels
    from ssllib.retrieval.captioners import to_channels

    channels, size = cfg.options["channels"], cfg.options["size"]
    return matching.cosine_between({d: raw_pixels(DomainImages(d, to_channels(s.images, channels), s.labels,
                                                                s.classes), size) for d, s in sets.items()})


def image_features(cfg, sets, inputs, context: Context):
    from ssllib.retrieval.pipeline import feature_embeddings

    return matching.cosine_between(feature_embeddings(inputs["encoder"].model.backbone, sets, context))


def captions(cfg, sets, inputs, context: Context):
    from ssllib.retrieval.pipeline import caption_domains, make_captioner

    captioner = make_captioner(cfg, inputs.get("captioner"), context)
    captioned = caption_domains(sets, captioner, context.text_encoder().encode, context.caption_folder)
    context.captioned[context.current] = captioned
    return matching.cosine_between(captioned.embeddings)


def fusion(cfg, sets, inputs, context: Context):
    from ssllib.retrieval.pipeline import similarity

    caption_sim = similarity(context.scored[inputs["captions"].run_id], sets, context)
    image_sim = similarity(context.scored[inputs["image_features"].run_id], sets, context)
    weight = cfg.options["weight"]
    return lambda a, b: matching.fuse(caption_sim(a, b), image_sim(a, b), weight)


CODE = ("ssllib.retrieval.representations",)
register_method(Method("pixels", "retrieval", pixels, title="raw pixels", help="the flattened pixels",
                       options={"channels": (Param("channels", int, "input channels (the encoders')", min=1), 1),
                                "size": (Param("size", int, "side in pixels (the encoders' input)", min=1), 32)},
                       code=CODE))
register_method(Method("image_features", "retrieval", image_features, title="image features",
                       help="a frozen encoder's pooled features", code=CODE))
register_method(Method("captions", "retrieval", captions, title="captions",
                       help="the sentence embeddings of the images' captions",
                       options={"captioner": (Param("captioner", str, "stand-in, or a Hugging Face model"), STAND_IN),
                                "caption_prompt": (Param("caption_prompt", str, "text the captioner continues"), ""),
                                "caption_beams": (Param("caption_beams", int, "beam width", min=1), 3),
                                "second_guess": (Param("second_guess", float, "share of the probability above which "
                                                       "the stand-in names its second class", min=0.01, max=1.0),
                                                 0.25),
                                "text_encoder": (Param("text_encoder", str, "sentence-transformers model"),
                                                 "all-MiniLM-L6-v2")},
                       code=("ssllib.retrieval.representations", "ssllib.retrieval.captioners",
                             "ssllib.retrieval.captions", "ssllib.retrieval.text", "ssllib.retrieval.hub")))
register_method(Method("fusion", "retrieval", fusion, title="fusion", help="w · captions + (1 − w) · image features",
                       options={"weight": (Param("weight", float, "w, the captions' weight", min=0.0, max=1.0), 0.5)},
                       code=CODE))
