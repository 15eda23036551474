"""The Caption-Matching chapter: cross-domain retrieval through captions, against raw pixels,
self-supervised and supervised image features, and captions fused with image features.

At the ``cpu`` profile nothing is trained here: the image features are the foundations
chapter's MoCo-v2 encoders and the offline stand-in captioner is its supervised classifier
(photo domain, training split), so both are the foundations chapter's runs, loaded from their
checkpoints when that chapter ran first.
"""
from __future__ import annotations

from pathlib import Path

from ssllib.chapters import foundations
from ssllib.chapters.spec import FIRST_SEED, ChapterSpec, Settings, derive, resolve, run_params
from ssllib.data import DatasetNotFound, require_dataset
from ssllib.engine.params import Param, ParameterError

BENCHMARKS = ("fashion_mnist", "office_home", "domainnet")
STAND_IN = "stand-in"

_RETRIEVAL = dict(captioner=STAND_IN, caption_prompt="", caption_beams=3, second_guess=0.25,
                  text_encoder="all-MiniLM-L6-v2", allow_download=False, image_encoder="mocov2", fusion_weight=0.5,
                  fusion_weights=(0.0, 0.25, 0.5, 0.75, 1.0), example_queries=3)
# The paper's setting (from its abstracts and the UCDIR/ProtoOT protocol): Office-Home's four
# domains, P@1/5/15, a BLIP captioner on a GPU; the image-feature baseline would need the
# foundations' ImageNet run, so it is off unless asked for (image_encoder=mocov2).
PAPER = dict(foundations.PAPER, benchmark="office_home", benchmark_root=None, domains="art,clipart,product,real_world",
             domainnet_classes="", benchmark_size=224, images_per_domain=0, ks=(1.0, 5.0, 15.0),
             **_RETRIEVAL)
PAPER.update(captioner="Salesforce/blip-image-captioning-base", allow_download=True, image_encoder="none")
# The offline benchmark: the Fashion-MNIST test split in three drawn domains (3,333 or 3,334 images
# each), retrieved with the foundations chapter's encoders and classifier.
CPU = derive(derive(PAPER, **foundations.CPU), benchmark="fashion_mnist", domains="photo,sketch,negative",
             benchmark_size=28, ks=(1.0, 15.0, 100.0), captioner=STAND_IN, allow_download=False,
             image_encoder="mocov2")
SMOKE = derive(derive(CPU, **foundations.SMOKE), images_per_domain=300, fusion_weights=(0.0, 0.5, 1.0),
               example_queries=2)

KNOWN_DOMAINS = {"fashion_mnist": ("photo", "sketch", "negative"),
                 "office_home": ("art", "clipart", "product", "real_world"),
                 "domainnet": ("clipart", "infograph", "painting", "quickdraw", "real", "sketch")}


def domain_list(settings) -> list[str]:
    return [d.strip() for d in settings.domains.split(",") if d.strip()]


def check_retrieval(settings) -> None:
    """Known domains (at least two), whole K ≥ 1, a captioner and a text encoder that load
    without a download unless one is allowed, the benchmark's folder where it is not embedded."""
    if settings.benchmark != "fashion_mnist":
        if not settings.benchmark_root:
            raise ParameterError(f"benchmark={settings.benchmark!r} is not embedded: download it and pass its folder "
                                 f"as benchmark_root")
        if not Path(settings.benchmark_root).expanduser().is_dir():
            raise DatasetNotFound(f"benchmark_root={settings.benchmark_root!r} is not a folder: download "
                                  f"{settings.benchmark} and pass the folder that holds it")
    if settings.benchmark != "fashion_mnist" and settings.captioner == STAND_IN and settings.budget != "tiny":
        raise ParameterError("the stand-in captioner is trained on the Fashion-MNIST photo domain only; on "
                             f"{settings.benchmark} name a Hugging Face captioner (e.g. "
                             "captioner='Salesforce/blip-image-captioning-base' with allow_download=True)")
    if settings.benchmark == "domainnet" and not settings.domainnet_classes.strip() and not settings.images_per_domain:
        raise ParameterError("benchmark='domainnet' with no domainnet_classes would decode every class of every "
                             "domain (about 586,000 images) into memory; name the classes of the protocol you follow "
                             "(UCDIR and ProtoOT use a subset of 7) with -p domainnet_classes 'a,b,…', or cap the "
                             "images with images_per_domain")
    domains = domain_list(settings)
    known = KNOWN_DOMAINS[settings.benchmark]
    unknown = [d for d in domains if d not in known]
    if unknown:
        raise ParameterError(f"domains names {unknown[0]!r}, which {settings.benchmark} does not have; choose from "
                             f"{', '.join(known)} (comma-separated)")
    if len(set(domains)) < 2:
        raise ParameterError(f"domains={settings.domains!r}: cross-domain retrieval needs at least two different "
                             f"domains")
    for k in settings.ks:
        if k != int(k) or k < 1:
            raise ParameterError(f"ks holds {k:g}; each K of P@K must be a whole number of at least 1")
    if settings.benchmark == "fashion_mnist" and settings.dataset != "fashion_mnist" and (
            settings.captioner == STAND_IN or settings.image_encoder != "none"):
        raise ParameterError(f"the Fashion-MNIST benchmark uses encoders trained on fashion_mnist, not "
                             f"dataset={settings.dataset!r}")
    from ssllib.retrieval.hub import resolve_model
    from ssllib.retrieval.text import DEFAULT_TEXT_ENCODER, resolve_text_encoder
    try:
        if settings.captioner != STAND_IN:
            resolve_model(settings.captioner, settings.allow_download, "captioner", STAND_IN)
        if settings.text_encoder != DEFAULT_TEXT_ENCODER:
            resolve_text_encoder(settings.text_encoder, settings.allow_download)
    except ValueError as err:
        raise ParameterError(str(err)) from None
    for w in (settings.fusion_weight, *settings.fusion_weights):
        if not 0 <= w <= 1:
            raise ParameterError(f"fusion weight {w:g} must lie in [0, 1] (1: captions alone, 0: image features "
                                 f"alone)")


CDIR = ChapterSpec(
    name="cdir",
    params={
        **run_params(*foundations.MOCO_RUN_FIELDS),
        "seeds": Param("seeds", int, "independent runs (from first_seed) of each trained encoder and stand-in "
                       "captioner", min=1),
        "first_seed": FIRST_SEED,
        "supervised_epochs": Param("supervised_epochs", int, "epochs of the stand-in captioner's classifier (the "
                                   "foundations chapter's supervised baseline)", min=1),
        "supervised_lr": Param("supervised_lr", float, "peak learning rate of the stand-in captioner's classifier",
                               min=0.0),
        "benchmark": Param("benchmark", str, "the retrieval benchmark", choices=BENCHMARKS),
        "benchmark_root": Param("benchmark_root", str, "folder holding Office-Home or DomainNet (not needed for "
                                "fashion_mnist)", nullable=True),
        "domains": Param("domains", str, "the domains, comma-separated; every ordered pair is retrieved"),
        "domainnet_classes": Param("domainnet_classes", str, "DomainNet classes to keep, comma-separated (empty: every "
                                   "class in the list files)"),
        "benchmark_size": Param("benchmark_size", int, "side in pixels the benchmark's images are decoded to", min=8),
        "images_per_domain": Param("images_per_domain", int, "keep the first N images of each domain (0: all)", min=0),
        "ks": Param("ks", tuple, "the K of each P@K, whole numbers", min=1),
        "captioner": Param("captioner", str, "'stand-in' (offline, Fashion-MNIST only), or a Hugging Face "
                           "image-to-text model: a local folder or a hub name"),
        "caption_prompt": Param("caption_prompt", str, "text the captioner continues (empty: none)"),
        "caption_beams": Param("caption_beams", int, "beam width of the Hugging Face captioner (1: greedy)", min=1),
        "second_guess": Param("second_guess", float, "the stand-in names its second class too when that class holds "
                              "at least this share of the probability", min=0.01, max=1.0),
        "text_encoder": Param("text_encoder", str, "sentence-transformers model: all-MiniLM-L6-v2 (offline), a "
                              "folder, or a hub name"),
        "allow_download": Param("allow_download", bool, "let a named captioner or text encoder be fetched from the "
                                "Hugging Face hub"),
        "image_encoder": Param("image_encoder", str, "image features to compare and fuse with: the foundations "
                               "chapter's MoCo-v2 encoder, or none", choices=("mocov2", "none")),
        "fusion_weight": Param("fusion_weight", float, "w in w·captions + (1−w)·image features", min=0.0, max=1.0),
        "fusion_weights": Param("fusion_weights", tuple, "the weights of the fusion sweep (every seed with captions "
                                "and MoCo-v2 features)", min=0.0, max=1.0),
        "example_queries": Param("example_queries", int, "queries shown with their top results per direction",
                                 min=1),
    },
    profiles={"smoke": SMOKE, "cpu": CPU, "paper": PAPER},
    notes={
        "smoke": "a tiny check that every cell runs (300 images per domain, the foundations smoke encoders); its "
                 "numbers mean nothing",
        "cpu": "the Fashion-MNIST test split in three drawn domains (photo, sketch, negative), retrieved with the "
               "foundations chapter's encoders (6,400 training images at 16 px, width-8 ResNet-18, 15 epochs) and "
               "its supervised classifier as the stand-in captioner",
        "paper": "Office-Home's four domains with a BLIP captioner and all-MiniLM-L6-v2, P@1/5/15 and mAP (a GPU "
                 "and the dataset on disk)",
    },
    checks=(check_retrieval,),
)


NAMES = {"raw pixels": "raw-pixel retrieval", "MoCo-v2 features": "MoCo-v2 retrieval",
         "supervised features": "supervised-feature retrieval", "captions": "caption retrieval"}


def spoken(method: str) -> str:
    """The name a sentence uses for a representation's table label: a singular noun phrase
    ("caption retrieval is lower than …"), the fused label ``captions + MoCo-v2 (w = 0.5)``
    becoming ``fused retrieval (w = 0.5)``; an unknown label is returned as it is."""
    if method in NAMES:
        return NAMES[method]
    fused = "captions + MoCo-v2 "
    return "fused retrieval " + method[len(fused):] if method.startswith(fused) else method


def uses_encoders(settings) -> bool:
    """Whether the run needs the foundations chapter's encoders (the stand-in captioner or the
    image features), and so their training dataset."""
    return settings.captioner == STAND_IN or settings.image_encoder != "none"


def resolve_settings(given: dict) -> Settings:
    """The chapter's settings (:func:`~ssllib.chapters.spec.resolve`); the encoders' dataset is
    required on disk only where this run uses the encoders."""
    settings = resolve(CDIR, given, check_data=False)
    if uses_encoders(settings):
        require_dataset(settings.dataset, settings.data_root, settings.download)
    return settings
