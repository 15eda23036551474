"""The run configuration of the retrieval family: one representation of a benchmark's domains,
scored by P@K and mAP in every direction. Nothing is trained: a retrieval run is an evaluation,
recorded and kept like a trained run, whose inputs are the runs it reads (an encoder, a
captioner's classifier, the two runs a fusion combines)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from ssllib.engine.config import PlainValues
from ssllib.engine.params import check_all, dataclass_params
from ssllib.engine.params import param_field as _p
from ssllib.engine.registry import method as find_method

BENCHMARKS = ("fashion_mnist", "office_home", "domainnet")


@dataclass(frozen=True)
class RetrievalConfig(PlainValues):
    NOT_IDENTITY: ClassVar[tuple[str, ...]] = ("device", "benchmark_root", "allow_download")

    method: str = _p("pixels", "the representation: pixels, image_features, captions or fusion")
    benchmark: str = _p("fashion_mnist", "the retrieval benchmark", choices=BENCHMARKS)
    benchmark_root: str | None = _p(None, "folder holding Office-Home or DomainNet", nullable=True)
    domains: str = _p("photo,sketch,negative", "the domains, comma-separated; every ordered pair is retrieved")
    domainnet_classes: str = _p("", "DomainNet classes to keep, comma-separated")
    benchmark_size: int = _p(28, "side in pixels the benchmark's images are decoded to", min=8)
    images_per_domain: int = _p(0, "keep N images of each domain (0: all)", min=0)
    ks: tuple = _p((1.0, 15.0, 100.0), "the K of each P@K", min=1)
    seed: int | None = _p(None, "seed of the trained runs it reads (None: it reads none)", min=0, nullable=True)
    device: str = _p("auto", "device of the encoders", choices=("auto", "cuda", "mps", "cpu"))
    allow_download: bool = _p(False, "let a named captioner or text encoder be fetched from the hub")
    options: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "RetrievalConfig":
        values = dict(values)
        options = values.pop("options", {}) or {}
        checked = check_all(RETRIEVAL_PARAMS, values, "a retrieval run configuration")
        spec = find_method(checked.get("method", "pixels"), "retrieval")
        return cls(**checked, options=spec.complete_options(dict(options)))

    @property
    def domain_list(self) -> list[str]:
        return [d.strip() for d in self.domains.split(",") if d.strip()]


RETRIEVAL_PARAMS = dataclass_params(RetrievalConfig, skip=("options",))
