"""The Caption-Matching chapter's experiment: the benchmark's domains, the foundations chapter's
encoders, and each representation of the images (pixels, frozen encoders, captions, their
fusion) as a run of the retrieval family (:mod:`ssllib.retrieval.pipeline`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch

from ssllib.chapters.cdir import STAND_IN, domain_list
from ssllib.data.base import ImageDataset
from ssllib.retrieval import matching
from ssllib.retrieval.config import RetrievalConfig
from ssllib.retrieval.datasets import DomainImages, domainnet, fashion_mnist_domains, office_home
from ssllib.retrieval.pipeline import Scored, caption_summary, evaluate, top_results
from ssllib.retrieval.pipeline import fusion_sweep as fusion_sweep_of
from ssllib.retrieval.representations import Context


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


def mean_over_directions(rows: list[dict], metrics: Sequence[str]) -> list[dict]:
    """One row per (method, seed): each metric's mean over the directions."""
    out: dict[tuple, dict] = {}
    for r in rows:
        key = (r["method"], r["seed"])
        out.setdefault(key, {"method": r["method"], "seed": r["seed"], **{m: [] for m in metrics}})
        for m in metrics:
            out[key][m].append(r[m])
    return [{**v, **{m: sum(v[m]) / len(v[m]) for m in metrics}} for v in out.values()]


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
    if not uses_encoders(settings):
        return Encoders()
    from ssllib.data import dataset_info, load_dataset

    cfg = settings.run_config(method="mocov2")
    out = Encoders(like=load_dataset(cfg.dataset, "test", cfg.data_root), size=cfg.image_size or
                   dataset_info(cfg.dataset).image_size, cfg=cfg)
    common = dict(paper="foundations", profile=settings.record_profile)
    if settings.image_encoder == "mocov2":
        out.mocov2 = train_seeds(cfg, settings.seed_list, **common)
    if settings.captioner == STAND_IN:
        supervised = cfg.replace(method="supervised", epochs=settings.supervised_epochs, lr=settings.supervised_lr)
        out.supervised = train_seeds(supervised, settings.seed_list, **common)
    return out


@dataclass
class Experiment:
    """Every representation of every seed, each a run of the retrieval family (scored, or read
    from its record): ``scored[label][seed]``, their ``rows`` (one per method, seed and
    direction), and the ``context`` that builds a representation's similarity when a new run,
    the fusion sweep or the example figure needs it."""

    scored: dict[str, dict]
    rows: list[dict]
    context: Context

    def runs(self) -> list[Scored]:
        return [s for per_seed in self.scored.values() for s in per_seed.values()]


def retrieval_config(settings, method: str, seed, **options) -> RetrievalConfig:
    return RetrievalConfig.from_dict(dict(
        method=method, benchmark=settings.benchmark, benchmark_root=settings.benchmark_root, domains=settings.domains,
        domainnet_classes=settings.domainnet_classes, benchmark_size=settings.benchmark_size,
        images_per_domain=settings.images_per_domain, ks=tuple(settings.ks), seed=seed, device=settings.device,
        allow_download=settings.allow_download, options=options))


def run_experiment(settings, sets: dict[str, DomainImages], encoders: Encoders) -> Experiment:
    """Raw pixels, then per seed the MoCo-v2 features, the supervised features (with the
    stand-in), the captions and their fusion with the MoCo-v2 features at ``fusion_weight``.

    A Hugging Face captioner has no seed (it is not trained here): its captions are one run,
    fused with each seed's image features."""
    from ssllib.retrieval.text import TextEncoder

    text_encoder = []

    def make_text_encoder():
        if not text_encoder:
            text_encoder.append(TextEncoder(settings.text_encoder, "cpu", settings.allow_download))
        return text_encoder[0]

    context = Context(encoders.like, encoders.size, encoders.cfg, make_text_encoder)
    scored: dict[str, dict] = {}
    common = dict(paper="cdir", profile=settings.record_profile)

    def score(label, cfg, inputs=None, backbone=None):
        scored.setdefault(label, {})[cfg.seed] = evaluate(cfg, sets, label, context, inputs, **common,
                                                          described={"backbone": backbone})
        return scored[label][cfg.seed]

    channels = encoders.like.channels if encoders.like is not None else 3
    pixel_size = encoders.size or min(settings.benchmark_size, 32)
    score(PIXELS, retrieval_config(settings, "pixels", None, channels=channels, size=pixel_size))
    caption_options = dict(captioner=settings.captioner, caption_prompt=settings.caption_prompt,
                           caption_beams=settings.caption_beams, second_guess=settings.second_guess,
                           text_encoder=settings.text_encoder)
    seeds = settings.seed_list
    for seed, run in zip(seeds, encoders.mocov2):
        score(SSL, retrieval_config(settings, "image_features", seed), {"encoder": run},
              f"MoCo-v2 {run.config.backbone} (width {run.config.width})")
    if settings.captioner == STAND_IN:
        for seed, run in zip(seeds, encoders.supervised):
            score(SUPERVISED, retrieval_config(settings, "image_features", seed), {"encoder": run},
                  f"supervised {run.config.backbone} (width {run.config.width})")
        for seed, run in zip(seeds, encoders.supervised):
            score(CAPTIONS, retrieval_config(settings, "captions", seed, **caption_options), {"captioner": run})
    else:
        score(CAPTIONS, retrieval_config(settings, "captions", None, **caption_options))
    w = settings.fusion_weight
    for seed in scored.get(SSL, {}):
        captions = scored[CAPTIONS].get(seed, scored[CAPTIONS].get(None))
        score(fused_label(w), retrieval_config(settings, "fusion", seed, weight=w),
              {"captions": captions.result, "image_features": scored[SSL][seed].result})
    rows = [row for per_seed in scored.values() for s in per_seed.values() for row in s.rows()]
    return Experiment(scored, rows, context)


def fusion_sweep(experiment: Experiment, sets: dict[str, DomainImages], weights: Sequence[float],
                 metrics: Sequence[str] = ("mAP", "P@1")) -> dict[str, tuple]:
    """For each metric, (weights, values (seeds, weights)) of the fusion with each weight,
    averaged over directions, on every seed that has both captions and MoCo-v2 features (the
    sweep is a figure, kept with each fusion run)."""
    import numpy as np

    fused = [s for label, per_seed in experiment.scored.items() if label.startswith("captions + ")
             for s in per_seed.values()]
    sweeps = [fusion_sweep_of(s, sets, experiment.context, weights, metrics) for s in fused]
    return {m: (np.asarray(weights, dtype=float), np.asarray([sweep[m] for sweep in sweeps])) for m in metrics
            if sweeps}


def caption_accuracy(experiment: Experiment, sets: dict[str, DomainImages]) -> list[dict]:
    """For the stand-in: per seed and domain, the share of captions whose first class is the
    image's own, and how many distinct captions the domain received."""
    rows = []
    for seed, scored in experiment.scored.get(CAPTIONS, {}).items():
        summary = caption_summary(scored, sets, experiment.context)
        if "names_class_first" not in summary:
            continue
        for d in sets:
            rows.append({"seed": seed, "domain": d, "names its class first (%)": summary["names_class_first"][d],
                         "distinct captions": summary["distinct"][d]})
    return rows


def caption_examples(experiment: Experiment, sets: dict[str, DomainImages]) -> dict[str, list[str]]:
    """The first captions of each domain, from the first caption run."""
    first = next(iter(experiment.scored[CAPTIONS].values()))
    return caption_summary(first, sets, experiment.context)["examples"]


def example_results(experiment: Experiment, sets: dict[str, DomainImages], query_domain: str, gallery_domain: str,
                    methods: Sequence[str], seed, queries: Sequence[int], k: int) -> tuple[dict, dict]:
    """The query images and, for each method (of ``seed``), their top ``k`` gallery images and
    labels: the input of :func:`ssllib.chapters.retrieval_plots.retrieval_examples`."""
    q, g = sets[query_domain], sets[gallery_domain]
    query = {"images": q.images[list(queries)], "labels": q.labels[list(queries)], "classes": q.classes,
             "domain": query_domain}
    results = {}
    for method in methods:
        per_seed = experiment.scored[method]
        chosen = per_seed[seed] if seed in per_seed else per_seed[None]
        top = top_results(chosen, sets, experiment.context, query_domain, gallery_domain, queries, k)
        results[method] = {"images": g.images[top], "labels": g.labels[top], "domain": gallery_domain}
    return query, results
