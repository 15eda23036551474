"""The Caption-Matching chapter's experiment: the benchmark's domains, each representation of
their images (pixels, frozen encoders, captions), and the retrieval scores of every direction,
written to the ledger as one evaluation record per representation and seed."""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Sequence

import torch

from ssllib.chapters.cdir import STAND_IN, domain_list
from ssllib.data.base import ImageDataset
from ssllib.engine.devices import pick_device
from ssllib.engine.fingerprint import shared_code_fingerprint
from ssllib.engine.ledger import environment, results_dir, write_record
from ssllib.evaluate.frozen import raw_pixels
from ssllib.retrieval import matching
from ssllib.retrieval.captioners import HuggingFaceCaptioner, TemplateCaptioner, to_channels
from ssllib.retrieval.captions import CaptionCache
from ssllib.retrieval.datasets import DomainImages, domainnet, fashion_mnist_domains, office_home
from ssllib.selfsup.trainer import backbone_features


def load_benchmark(settings, test_set: ImageDataset | None = None) -> dict[str, DomainImages]:
    """The domains of the chosen benchmark: drawn from ``test_set`` for fashion_mnist, read from
    ``benchmark_root`` otherwise; each cut to ``images_per_domain`` if set, and checked so that
    every gallery holds every class its queries ask for."""
    domains = domain_list(settings)
    if settings.benchmark == "fashion_mnist":
        if test_set is None:
            from ssllib.data import load_dataset
            test_set = load_dataset("fashion_mnist", "test", settings.data_root)
        sets = fashion_mnist_domains(test_set.images, test_set.labels, test_set.classes, domains,
                                     settings.images_per_domain)
    elif settings.benchmark == "office_home":
        sets = office_home(settings.benchmark_root, domains, settings.benchmark_size)
    else:
        classes = [c.strip() for c in settings.domainnet_classes.split(",") if c.strip()]
        sets = domainnet(settings.benchmark_root, domains, "all", classes, settings.benchmark_size)
    if settings.benchmark != "fashion_mnist" and settings.images_per_domain:
        sets = {d: evenly_spaced(s, settings.images_per_domain) for d, s in sets.items()}
    check_galleries(sets)
    return sets


def evenly_spaced(images: DomainImages, n: int) -> DomainImages:
    """``n`` images spread evenly over a domain stored class by class, so every class keeps its share."""
    if n >= len(images):
        return images
    index = torch.linspace(0, len(images) - 1, n).round().long()
    return DomainImages(images.domain, images.images[index], images.labels[index], images.classes)


def check_galleries(sets: dict[str, DomainImages]) -> None:
    """Every class a domain queries is in every other domain's gallery (else no ranking of
    that query can be scored): one sentence, before any encoder is loaded."""
    for a, b in matching.directions(list(sets)):
        missing = sorted(set(sets[a].labels.tolist()) - set(sets[b].labels.tolist()))
        if missing:
            raise ValueError(f"the {b} gallery holds no image of class {sets[a].classes[missing[0]]!r}, which {a} "
                             f"queries; raise images_per_domain (0 keeps every image) or drop the class")


def as_dataset(images: DomainImages, like: ImageDataset) -> ImageDataset:
    """A domain's images as the encoders' evaluation reads them: ``like``'s channels and
    normalisation (the grayscale encoders see the mean of the three channels)."""
    return ImageDataset(images.domain, "test", to_channels(images.images, like.channels), images.labels,
                        images.classes, like.mean, like.std)


def pixel_embeddings(sets: dict[str, DomainImages], channels: int, size: int) -> dict[str, torch.Tensor]:
    """Each domain's pixels in ``channels`` channels at ``size`` px, flattened (the encoders'
    input where there are encoders)."""
    return {d: raw_pixels(DomainImages(d, to_channels(s.images, channels), s.labels, s.classes), size)
            for d, s in sets.items()}


def feature_embeddings(backbone, sets: dict[str, DomainImages], like: ImageDataset, size: int, cfg,
                       device) -> dict[str, torch.Tensor]:
    """Each domain's pooled features from a frozen backbone."""
    return {d: backbone_features(backbone, as_dataset(s, like), size, cfg, device).cpu() for d, s in sets.items()}


def stand_in(run, like: ImageDataset, size: int, second_guess: float) -> TemplateCaptioner:
    """The stand-in captioner: a supervised run's backbone and classifier writing templates."""
    model = run.model
    return TemplateCaptioner(model.backbone, model.classifier, like.classes, like.mean, like.std, size, like.channels,
                             name=run.run_id, second_guess=second_guess)


def hugging_face(settings, device) -> HuggingFaceCaptioner:
    return HuggingFaceCaptioner(settings.captioner, device, settings.caption_prompt or None,
                                num_beams=settings.caption_beams, allow_download=settings.allow_download)


@dataclass
class Captioned:
    """Each domain's captions and their sentence embeddings, and the cache's hits and misses."""

    captions: dict[str, list[str]]
    embeddings: dict[str, torch.Tensor]
    hits: int = 0
    misses: int = 0
    seconds: float = 0.0


def caption_domains(sets: dict[str, DomainImages], captioner, encode: Callable[[list[str]], torch.Tensor],
                    cache_folder=None) -> Captioned:
    """Caption every image (through the cache), then embed the distinct captions once."""
    start = time.perf_counter()
    cache = CaptionCache(cache_folder or results_dir() / "captions", captioner.name)
    captions = {d: cache.captions(s.images, captioner) for d, s in sets.items()}
    embeddings = {d: matching.embed_texts(c, encode).cpu() for d, c in captions.items()}
    return Captioned(captions, embeddings, cache.hits, cache.misses, time.perf_counter() - start)


@dataclass
class Evaluation:
    """One representation of one seed: its rows (one per direction) and its ledger record."""

    method: str
    seed: int | None
    rows: list[dict]
    record: dict = field(repr=False, default_factory=dict)


def evaluate(method: str, seed: int | None, sets: dict[str, DomainImages], ks: Sequence[int], similarity, *,
             settings=None, profile: str = "", described: dict | None = None,
             write: bool = True) -> Evaluation:
    """Score one representation in every direction and record it in the ledger (paper 'cdir')."""
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    start = time.perf_counter()
    labels = {d: s.labels for d, s in sets.items()}
    rows = matching.retrieval_rows(labels, [int(k) for k in ks], similarity)
    wall = time.perf_counter() - start
    metrics = {f"{r['query']}->{r['gallery']} {name}": {"value": r[name], "protocol": _protocol(name, sets, r)}
               for r in rows for name in r if name not in ("query", "gallery")}
    config = {k: (list(v) if isinstance(v, tuple) else v) for k, v in dict(settings or {}).items()}
    identity = json.dumps({"method": method, "seed": seed, "config": config, **(described or {})}, sort_keys=True,
                          default=str)
    digest = hashlib.sha256((identity + shared_code_fingerprint("ssllib.evaluate.retrieval")).encode()).hexdigest()
    record = {"run_id": f"cdir-{_slug(method)}-{config.get('benchmark', 'benchmark')}-s{seed}-{digest[:12]}",
              "paper": "cdir", "kind": "evaluation", "method": method, "dataset": config.get("benchmark"),
              "backbone": (described or {}).get("backbone"), "profile": profile, "epochs": None, "seed": seed,
              "metrics": metrics, "config": {**config, **(described or {})},
              "environment": environment(pick_device(config.get("device", "cpu"))), "wall_time_s": wall,
              "started": started}
    if write:
        write_record(record)
    return Evaluation(method, seed, [{"method": method, "seed": seed, **r} for r in rows], record)


def _protocol(name: str, sets, row) -> dict:
    return {"queries": len(sets[row["query"]]), "gallery": len(sets[row["gallery"]]),
            "metric": "P@K micro-averaged, k_q = min(K, gallery images of the query's class)" if name.startswith("P@")
            else "mAP over the whole ranked gallery", "split": "test images, no training"}


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


def mean_over_directions(rows: list[dict], metrics: Sequence[str]) -> list[dict]:
    """One row per (method, seed): each metric's mean over the directions."""
    out: dict[tuple, dict] = {}
    for r in rows:
        key = (r["method"], r["seed"])
        out.setdefault(key, {"method": r["method"], "seed": r["seed"], **{m: [] for m in metrics}})
        for m in metrics:
            out[key][m].append(r[m])
    return [{**v, **{m: sum(v[m]) / len(v[m]) for m in metrics}} for v in out.values()]


def top_results(similarity: torch.Tensor, queries: Sequence[int], k: int) -> torch.Tensor:
    """(len(queries), k) gallery indices of each query's best matches (ties in index order)."""
    from ssllib.evaluate.retrieval import ranking

    return ranking(similarity[list(queries)], k)


PIXELS, SSL, SUPERVISED, CAPTIONS = "raw pixels", "MoCo-v2 features", "supervised features", "captions"


def fused_label(weight: float) -> str:
    return f"captions + MoCo-v2 (w = {weight:g})"


@dataclass
class Encoders:
    """The foundations chapter's runs this chapter reads (none where the run uses none):
    MoCo-v2 for image features, the supervised classifier for the stand-in captioner."""

    mocov2: list = field(default_factory=list)
    supervised: list = field(default_factory=list)
    like: ImageDataset | None = None      # the encoders' test set: channels and normalisation
    size: int = 0                         # their input side in pixels
    cfg: object = None


def foundations_encoders(settings) -> Encoders:
    """The MoCo-v2 and supervised runs of the foundations recipe in ``settings``, one per seed,
    trained here only if that chapter has not trained them already."""
    from ssllib.chapters.cdir import uses_encoders
    from ssllib.chapters.selfsup_experiments import train_seeds
    from ssllib.selfsup.trainer import load_run_data

    if not uses_encoders(settings):
        return Encoders()
    cfg = settings.run_config(method="mocov2")
    data = load_run_data(cfg)
    out = Encoders(like=data.test, size=data.size, cfg=cfg)
    common = dict(paper="foundations", profile=settings.profile, data=data)
    if settings.image_encoder == "mocov2":
        out.mocov2 = train_seeds(cfg, settings.seed_list, **common)
    if settings.captioner == STAND_IN:
        supervised = cfg.replace(method="supervised", epochs=settings.supervised_epochs, lr=settings.supervised_lr)
        out.supervised = train_seeds(supervised, settings.seed_list, **common)
    return out


@dataclass
class Experiment:
    """Every representation scored in every direction: ``rows`` (one per method, seed and
    direction), the ledger ``evaluations``, each method's ``similarity`` per seed (for the
    fusion sweep and the example queries) and the captions of each captioner seed."""

    rows: list[dict]
    evaluations: list[Evaluation]
    similarity: dict[str, dict]
    captioned: dict
    captioners: dict


def run_experiment(settings, sets: dict[str, DomainImages], encoders: Encoders, text_encoder) -> Experiment:
    """Raw pixels, then per seed the MoCo-v2 features, the supervised features (with the
    stand-in), the captions and their fusion with the MoCo-v2 features at ``fusion_weight``.

    A Hugging Face captioner has no seed (it is not trained here): its captions are one
    evaluation, fused with each seed's image features."""
    ks = [int(k) for k in settings.ks]
    device = pick_device(settings.device)
    described = {"domains": list(sets), "images": {d: len(s) for d, s in sets.items()},
                 "text_encoder": settings.text_encoder}
    evaluations, similarity = [], {}

    def score(method, seed, sim, **extra):
        similarity.setdefault(method, {})[seed] = sim
        evaluations.append(evaluate(method, seed, sets, ks, sim, settings=settings, profile=settings.profile,
                                    described={**described, **extra}))

    channels = encoders.like.channels if encoders.like is not None else 3
    pixel_size = encoders.size or min(settings.benchmark_size, 32)
    score(PIXELS, None, matching.cosine_between(pixel_embeddings(sets, channels, pixel_size)),
          pixels=f"{channels} channel(s) at {pixel_size} px")
    seeds = settings.seed_list
    features = {}
    for seed, run in zip(seeds, encoders.mocov2):
        features[seed] = feature_embeddings(run.backbone, sets, encoders.like, encoders.size, encoders.cfg, device)
        score(SSL, seed, matching.cosine_between(features[seed]), encoder=run.run_id)
    if settings.captioner == STAND_IN:
        captioners = {seed: stand_in(run, encoders.like, encoders.size, settings.second_guess)
                      for seed, run in zip(seeds, encoders.supervised)}
        for seed, run in zip(seeds, encoders.supervised):
            own = feature_embeddings(run.backbone, sets, encoders.like, encoders.size, encoders.cfg, device)
            score(SUPERVISED, seed, matching.cosine_between(own), encoder=run.run_id)
    else:
        captioners = {None: hugging_face(settings, device)}
    captioned = {seed: caption_domains(sets, c, text_encoder.encode) for seed, c in captioners.items()}
    for seed, c in captioned.items():
        score(CAPTIONS, seed, matching.cosine_between(c.embeddings), captioner=captioners[seed].name)
    for seed, image in features.items():
        text = captioned[seed if seed in captioned else None].embeddings
        w = settings.fusion_weight
        score(fused_label(w), seed, fusion(text, image, w), captioner=captioners[seed if seed in captioners else None]
              .name, fusion_weight=w)
    rows = [row for e in evaluations for row in e.rows]
    return Experiment(rows, evaluations, similarity, captioned, captioners)


def fusion(text: dict[str, torch.Tensor], image: dict[str, torch.Tensor], weight: float):
    """``similarity(a, b)`` of the late fusion w · captions + (1 − w) · image features."""
    caption_sim, image_sim = matching.cosine_between(text), matching.cosine_between(image)
    return lambda a, b: matching.fuse(caption_sim(a, b), image_sim(a, b), weight)


def fusion_sweep(experiment: Experiment, sets: dict[str, DomainImages], weights: Sequence[float],
                 metrics: Sequence[str] = ("mAP", "P@1")) -> dict[str, tuple]:
    """For each metric, (weights, values (seeds, weights)) of the fusion with each weight,
    averaged over directions, on every seed that has both captions and MoCo-v2 features (the
    sweep is a figure, not a record)."""
    labels = {d: s.labels for d, s in sets.items()}
    out = {m: [] for m in metrics}
    for seed in experiment.similarity.get(SSL, {}):
        text = experiment.captioned[seed if seed in experiment.captioned else None].embeddings
        image_sim = experiment.similarity[SSL][seed]
        caption_sim = matching.cosine_between(text)
        per_weight = {m: [] for m in metrics}
        for w in weights:
            rows = matching.retrieval_rows(labels, [1], lambda a, b: matching.fuse(caption_sim(a, b), image_sim(a, b),
                                                                                  w))
            for m in metrics:
                per_weight[m].append(sum(r[m] for r in rows) / len(rows))
        for m in metrics:
            out[m].append(per_weight[m])
    import numpy as np
    return {m: (np.asarray(weights, dtype=float), np.asarray(v)) for m, v in out.items() if v}


def caption_accuracy(experiment: Experiment, sets: dict[str, DomainImages]) -> list[dict]:
    """For the stand-in: per seed and domain, the share of captions whose first class is the
    image's own, and how many distinct captions the domain received."""
    rows = []
    for seed, captioner in experiment.captioners.items():
        if not isinstance(captioner, TemplateCaptioner):
            continue
        for d, s in sets.items():
            guess = captioner.probabilities(s.images).argmax(1)
            rows.append({"seed": seed, "domain": d, "names its class first (%)":
                         100.0 * float((guess == s.labels).float().mean()),
                         "distinct captions": len(set(experiment.captioned[seed].captions[d]))})
    return rows


def example_results(experiment: Experiment, sets: dict[str, DomainImages], query_domain: str, gallery_domain: str,
                    methods: Sequence[str], seed, queries: Sequence[int], k: int) -> tuple[dict, dict]:
    """The query images and, for each method (of ``seed``), their top ``k`` gallery images and
    labels: the input of :func:`ssllib.chapters.retrieval_plots.retrieval_examples`."""
    q, g = sets[query_domain], sets[gallery_domain]
    query = {"images": q.images[list(queries)], "labels": q.labels[list(queries)], "classes": q.classes,
             "domain": query_domain}
    results = {}
    for method in methods:
        sim = experiment.similarity[method]
        chosen = sim[seed] if seed in sim else sim[None]
        top = top_results(chosen(query_domain, gallery_domain), queries, k)
        results[method] = {"images": g.images[top], "labels": g.labels[top], "domain": gallery_domain}
    return query, results
