"""Caption-Matching as runs of the retrieval family: each representation of each seed is an
evaluation run (:class:`~ssllib.engine.runs.Result`), identified by its configuration, the
benchmark's images and the runs it reads, and recorded like a trained run (one metric per
direction and score). A run that is found is not scored again, and what a chapter draws from a
representation (the fusion sweep, top results, the stand-in's captions) is kept with its run, so
nothing here needs an encoder's weights unless a run is new.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch

from ssllib.engine.devices import pick_device
from ssllib.engine.fingerprint import run_code_fingerprint
from ssllib.engine.identity import Input, run_key, state_digest
from ssllib.engine.ledger import results_dir
from ssllib.engine.loop import Run
from ssllib.engine.registry import methods
from ssllib.engine.runs import Result, obtain
from ssllib.retrieval import matching
from ssllib.retrieval.captioners import HuggingFaceCaptioner, TemplateCaptioner, to_channels
from ssllib.retrieval.captions import CaptionCache
from ssllib.retrieval.config import RetrievalConfig
from ssllib.retrieval.datasets import DomainImages
from ssllib.retrieval.representations import STAND_IN, Context


def sets_key(sets: dict[str, DomainImages]) -> str:
    """What the benchmark's images are, for run identities: every domain's name, pixels and labels."""
    return state_digest({d: [s.images, s.labels, list(s.classes)] for d, s in sets.items()})[:12]


def as_dataset(images: DomainImages, like):
    """A domain's images as the encoders' evaluation reads them: ``like``'s channels and
    normalisation (the grayscale encoders see the mean of the three channels)."""
    from ssllib.data.base import ImageDataset

    return ImageDataset(images.domain, "test", to_channels(images.images, like.channels), images.labels,
                        images.classes, like.mean, like.std)


def feature_embeddings(backbone, sets: dict[str, DomainImages], context: Context) -> dict[str, torch.Tensor]:
    """Each domain's pooled features from a frozen backbone (CPU)."""
    from ssllib.selfsup.trainer import backbone_features

    return {d: backbone_features(backbone, as_dataset(s, context.like), context.size, context.encoder_cfg).cpu()
            for d, s in sets.items()}


def stand_in(run: Result, like, size: int, second_guess: float) -> TemplateCaptioner:
    """The stand-in captioner: a supervised run's backbone and classifier writing templates."""
    model = run.model
    return TemplateCaptioner(model.backbone, model.classifier, like.classes, like.mean, like.std, size, like.channels,
                             name=run.run_id, second_guess=second_guess)


def make_captioner(cfg: RetrievalConfig, classifier: Result | None, context: Context):
    o = cfg.options
    if o["captioner"] == STAND_IN:
        return stand_in(classifier, context.like, context.size, o["second_guess"])
    return HuggingFaceCaptioner(o["captioner"], pick_device(cfg.device), o["caption_prompt"] or None,
                                num_beams=o["caption_beams"], allow_download=cfg.allow_download)


@dataclass
class Captioned:
    """Each domain's captions and their sentence embeddings, and the cache's hits and misses."""

    captions: dict[str, list[str]]
    embeddings: dict[str, torch.Tensor]
    hits: int = 0
    misses: int = 0
    seconds: float = 0.0
    captioner: object = None


def caption_domains(sets: dict[str, DomainImages], captioner, encode: Callable[[list[str]], torch.Tensor],
                    cache_folder=None) -> Captioned:
    """Caption every image (through the cache), then embed the distinct captions once."""
    start = time.perf_counter()
    cache = CaptionCache(cache_folder or results_dir() / "captions", captioner.name)
    captions = {d: cache.captions(s.images, captioner) for d, s in sets.items()}
    embeddings = {d: matching.embed_texts(c, encode).cpu() for d, c in captions.items()}
    return Captioned(captions, embeddings, cache.hits, cache.misses, time.perf_counter() - start, captioner)


@dataclass
class Scored:
    """One representation of one seed: its configuration, the runs it reads, its run."""

    label: str
    cfg: RetrievalConfig
    inputs: dict[str, Result]
    run_id: str = ""
    result: Result | None = field(default=None, repr=False)

    @property
    def seed(self):
        return self.cfg.seed

    def rows(self) -> list[dict]:
        """One row per direction: {'method', 'seed', 'query', 'gallery', score …}, from the record."""
        rows: dict[tuple, dict] = {}
        for name, metric in self.result.record["metrics"].items():
            direction, score = name.split(" ", 1)
            query, gallery = direction.split("->")
            rows.setdefault((query, gallery), {"method": self.label, "seed": self.seed, "query": query,
                                               "gallery": gallery})[score] = metric["value"]
        return list(rows.values())


def similarity(scored: Scored, sets: dict[str, DomainImages], context: Context):
    """``similarity(a, b)`` of a scored representation, built once per experiment (this may
    need the weights of the runs it reads)."""
    if scored.run_id not in context.similarities:
        context.current = scored.run_id
        context.similarities[scored.run_id] = methods("retrieval")[scored.cfg.method].build(
            scored.cfg, sets, scored.inputs, context)
    return context.similarities[scored.run_id]


def _protocol(name: str, sets, row) -> dict:
    return {"queries": len(sets[row["query"]]), "gallery": len(sets[row["gallery"]]),
            "metric": "P@K micro-averaged, k_q = min(K, gallery images of the query's class)" if name.startswith("P@")
            else "mAP over the whole ranked gallery", "split": "test images, no training"}


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


def evaluate(cfg: RetrievalConfig, sets: dict[str, DomainImages], label: str, context: Context,
             inputs: dict[str, Result] | None = None, *, paper: str = "cdir", profile: str = "",
             described: dict | None = None) -> Scored:
    """The run of one representation: found, or scored in every direction and recorded."""
    inputs = dict(inputs or {})
    code = run_code_fingerprint(cfg.method, "ssllib.evaluate.retrieval")
    key = run_key(f"cdir-{_slug(label)}-{cfg.benchmark}-s{cfg.seed}", cfg.identity(), code,
                  {"images": sets_key(sets), **{k: Input(r.run_id, r.record["setting"]) for k, r in inputs.items()}})
    scored = Scored(label, cfg, inputs, key.run_id)
    context.scored[key.run_id] = scored

    def measure() -> dict:
        labels = {d: s.labels for d, s in sets.items()}
        rows = matching.retrieval_rows(labels, [int(k) for k in cfg.ks], similarity(scored, sets, context))
        return {f"{r['query']}->{r['gallery']} {name}": {"value": r[name], "protocol": _protocol(name, sets, r)}
                for r in rows for name in r if name not in ("query", "gallery")}

    run = Run(cfg, key, pick_device(cfg.device), evaluate=measure, paper=paper, profile=profile, method=label,
              dataset=cfg.benchmark, fields={"backbone": (described or {}).get("backbone"),
                                             "described": described or {}})
    scored.result = obtain(run)
    return scored


def top_results(scored: Scored, sets, context: Context, query_domain: str, gallery_domain: str,
                queries: Sequence[int], k: int) -> torch.Tensor:
    """(len(queries), k) gallery indices of each query's best matches (ties in index order),
    kept with the run."""
    from ssllib.evaluate.retrieval import ranking

    def compute():
        return ranking(similarity(scored, sets, context)(query_domain, gallery_domain)[list(queries)], k)
    return scored.result.derived("top-results", compute, key={"query": query_domain, "gallery": gallery_domain,
                                                              "queries": list(queries), "k": k})


def fusion_sweep(fused: Scored, sets, context: Context, weights: Sequence[float],
                 metrics: Sequence[str] = ("mAP", "P@1")) -> dict[str, list[float]]:
    """Each metric's mean over directions of the fusion of ``fused``'s two runs at each weight,
    kept with the fusion run."""
    def compute():
        caption_sim = similarity(context.scored[fused.inputs["captions"].run_id], sets, context)
        image_sim = similarity(context.scored[fused.inputs["image_features"].run_id], sets, context)
        labels = {d: s.labels for d, s in sets.items()}
        out = {m: [] for m in metrics}
        for w in weights:
            rows = matching.retrieval_rows(labels, [1], lambda a, b: matching.fuse(caption_sim(a, b),
                                                                                  image_sim(a, b), w))
            for m in metrics:
                out[m].append(sum(r[m] for r in rows) / len(rows))
        return out
    return fused.result.derived("fusion-sweep", compute, key={"weights": [float(w) for w in weights],
                                                               "metrics": list(metrics)})


def caption_summary(scored: Scored, sets, context: Context, examples: int = 4) -> dict:
    """For a caption run: per domain, the share of its captions whose first class is the
    image's own (the stand-in only), the number of distinct captions, and the first
    ``examples`` captions; kept with the run."""
    def compute():
        similarity(scored, sets, context)
        captioned = context.captioned[scored.run_id]
        out = {"examples": {d: c[:examples] for d, c in captioned.captions.items()},
               "distinct": {d: len(set(c)) for d, c in captioned.captions.items()}}
        if isinstance(captioned.captioner, TemplateCaptioner):
            out["names_class_first"] = {
                d: 100.0 * float((captioned.captioner.probabilities(s.images).argmax(1) == s.labels).float().mean())
                for d, s in sets.items()}
        return out
    return scored.result.derived("caption-summary", compute, key={"examples": examples})
