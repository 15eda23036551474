"""Chapter parameters and the three profiles, resolved in one place.

``smoke``: seconds to a minute on a laptop CPU, a tiny subset (nbval and CI).
``cpu``: the book's embedded default, minutes per chapter on a 2-core CPU, Fashion-MNIST.
``paper``: the published recipe for a GPU; for some datasets a one-GPU preset (say so where used).

Precedence: a value given explicitly > the profile's value (with its dataset overlay) >
the profile named by ``$SSLLIB_PROFILE`` > ``cpu``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from .config import RUN_PARAMS, RunConfig
from .data import require_dataset
from .params import Param, ParameterError, check_all, check_names

PROFILES = ("smoke", "cpu", "paper")


@dataclass(frozen=True)
class ChapterSpec:
    """What a chapter can be given: its parameters and the value of each under each profile."""

    name: str
    params: dict[str, Param]
    profiles: dict[str, dict[str, Any]]
    overlays: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # profile → dataset → values
    notes: dict[str, str] = field(default_factory=dict)  # profile or profile/dataset → what it is
    family: str = "self_supervised"  # or "distillation": which run configuration the settings make
    methods: tuple[str, ...] = ()  # distillation: the methods the chapter trains (checked up front)


class Settings(dict):
    """The resolved parameters of a chapter run: a dict with attribute access."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def method_options(self, method: str) -> dict[str, Any]:
        """The settings that are options of ``method`` (see :mod:`ssllib.methods.options`)."""
        from .methods.options import option_params
        return {k: self[k] for k in option_params(method) if k in self}

    def run_config(self, **changes) -> RunConfig:
        """A :class:`RunConfig` from the settings that name run fields, with ``changes`` applied."""
        values = {k: v for k, v in self.items() if k in RUN_PARAMS}
        values.update(changes)
        return RunConfig.from_dict(values)

    def distill_config(self, method: str, **changes):
        """A :class:`~ssllib.distill.config.DistillConfig` of ``method`` from the settings that
        name its fields, with ``changes`` applied."""
        from .distill.config import DISTILL_PARAMS, DistillConfig
        values = {k: v for k, v in self.items() if k in DISTILL_PARAMS}
        if "student" in self:
            values["network"] = self["student"]
        return DistillConfig.from_dict({**values, "method": method, **changes})


def _run(*names: str) -> dict[str, Param]:
    return {n: RUN_PARAMS[n] for n in names}


PROFILE_PARAM = Param("profile", str, "preset: smoke, cpu or paper (default: $SSLLIB_PROFILE, else cpu)",
                      choices=PROFILES, nullable=True)


def resolve(spec: ChapterSpec, given: dict[str, Any], check_data: bool = True) -> Settings:
    """Check every given value, pick the profile, fill the rest from it, check the dataset is
    on disk. Values of None mean 'not given'. Raises :class:`ParameterError` on the first problem."""
    schema = {"profile": PROFILE_PARAM, **spec.params}
    check_names(schema, given, f"the {spec.name} chapter")
    explicit = check_all(schema, {k: v for k, v in given.items() if v is not None}, f"the {spec.name} chapter")
    profile = explicit.pop("profile", None) or os.environ.get("SSLLIB_PROFILE") or "cpu"
    if profile not in PROFILES:
        raise ParameterError(f"SSLLIB_PROFILE={profile!r} is not a profile; choose one of {', '.join(PROFILES)}")
    values = dict(spec.profiles[profile])
    dataset = explicit.get("dataset", values.get("dataset"))
    values.update(spec.overlays.get(profile, {}).get(dataset, {}))
    values.update(explicit)
    missing = [n for n in spec.params if n not in values]
    if missing:
        raise ParameterError(f"the {profile} profile of {spec.name} sets no value for {', '.join(missing)}")
    settings = Settings(check_all(spec.params, values, f"the {spec.name} chapter"), profile=profile)
    if spec.family == "distillation":
        for method in spec.methods:
            settings.distill_config(method)  # cross-field checks (queue vs batch, teacher, …)
    elif any(k in RUN_PARAMS for k in settings):
        settings.run_config()  # cross-field checks (batch vs queue, warm-up vs epochs, …)
        from .methods.options import METHOD_OPTIONS
        for method, options in METHOD_OPTIONS.items():  # and those of the method options it sets
            if options and all(name in settings for name in options):
                settings.run_config(method=method, options=settings.method_options(method))
    if check_data:
        for key in ("dataset", "transfer_dataset"):
            if key in settings:
                require_dataset(settings[key], settings.get("data_root"), settings.get("download", False))
    return settings


def describe(spec: ChapterSpec, settings: Settings) -> str:
    """One line saying which profile is in use and what it is for."""
    note = spec.notes.get(f"{settings.profile}/{settings.get('dataset')}") or spec.notes.get(settings.profile, "")
    return f"profile {settings.profile}" + (f": {note}" if note else "")


# ------------------------------------------------------------------------------------ chapters

MOCO_RUN_FIELDS = ("dataset", "data_root", "download", "train_subset", "backbone", "stem", "width", "image_size",
                   "embed_dim", "queue_size", "ema_momentum", "temperature", "bn_splits", "crop_min_scale",
                   "blur_p", "epochs", "batch_size", "lr", "weight_decay", "lr_warmup_epochs", "knn_k", "knn_t",
                   "monitor_every", "monitor_size", "device")

CIFAR_PRESET = ("the one-GPU CIFAR preset (not in the paper): ResNet-18 CIFAR stem, K 4,096, m 0.99, τ 0.1, "
                "batch 512, lr 0.06, 200 epochs")

FOUNDATIONS = ChapterSpec(
    name="foundations",
    params={
        **_run(*MOCO_RUN_FIELDS),
        "seeds": Param("seeds", int, "independent runs (seeds 0…seeds−1) for mean ± std", min=1),
        "supervised_epochs": Param("supervised_epochs", int, "epochs of the supervised baseline", min=1),
        "supervised_lr": Param("supervised_lr", float, "peak learning rate of the supervised baseline", min=0.0),
    },
    profiles={
        "smoke": dict(dataset="fashion_mnist", data_root=None, download=False, train_subset=1024,
                      backbone="resnet18", stem="cifar", width=4, image_size=16, embed_dim=32, queue_size=256,
                      ema_momentum=0.99, temperature=0.2, bn_splits=2, crop_min_scale=0.3, blur_p=0.0, epochs=1,
                      batch_size=64, lr=0.06, weight_decay=5e-4, lr_warmup_epochs=0, knn_k=20, knn_t=0.1,
                      monitor_every=1, monitor_size=512, device="auto", seeds=2, supervised_epochs=1,
                      supervised_lr=0.05),
        "cpu": dict(dataset="fashion_mnist", data_root=None, download=False, train_subset=0,
                    backbone="resnet18", stem="cifar", width=16, image_size=16, embed_dim=128, queue_size=4096,
                    ema_momentum=0.99, temperature=0.1, bn_splits=4, crop_min_scale=0.4, blur_p=0.0, epochs=2,
                    batch_size=128, lr=0.03, weight_decay=5e-4, lr_warmup_epochs=0, knn_k=200, knn_t=0.1,
                    monitor_every=1, monitor_size=10000, device="auto", seeds=2, supervised_epochs=1,
                    supervised_lr=0.05),
        "paper": dict(dataset="imagenet", data_root=None, download=False, train_subset=0,
                      backbone="resnet50", stem="imagenet", width=64, image_size=224, embed_dim=128,
                      queue_size=65536, ema_momentum=0.999, temperature=0.2, bn_splits=8, crop_min_scale=0.2,
                      blur_p=0.5, epochs=200, batch_size=256, lr=0.03, weight_decay=1e-4, lr_warmup_epochs=0,
                      knn_k=200, knn_t=0.1, monitor_every=10, monitor_size=50000, device="auto", seeds=1,
                      supervised_epochs=90, supervised_lr=0.1),
    },
    overlays={"paper": {
        d: dict(backbone="resnet18", stem="cifar", width=64, image_size=0, queue_size=4096, ema_momentum=0.99,
                temperature=0.1, batch_size=512, lr=0.06, weight_decay=5e-4, epochs=200, blur_p=0.0,
                monitor_every=5, monitor_size=0, supervised_epochs=200, supervised_lr=0.1)
        for d in ("cifar10", "cifar100")}},
    notes={
        "smoke": "a tiny check that every cell runs (1,024 images, width-4 network); its numbers mean nothing",
        "cpu": "Fashion-MNIST at 16×16 px, a width-16 ResNet-18, two seeds of about three and a half minutes per run on a 2-core CPU",
        "paper": "MoCo-v2's ImageNet recipe: ResNet-50, 200 epochs, batch 256, lr 0.03, K 65,536, m 0.999, τ 0.2",
        **{f"paper/{d}": CIFAR_PRESET for d in ("cifar10", "cifar100")},
    },
)

def _options(method: str, **overrides) -> dict[str, Param]:
    from .methods.options import option_params
    return {**option_params(method), **overrides}


_SYNCO_DEFAULTS = dict(n_hard=1024, n1=256, n2=256, n3=256, n4=64, n5=64, n6=64, sigma=0.01, delta=0.01, eta=0.01,
                       finite_difference=False, mochi_n_hard=1024, mochi_n3=1024, mochi_n1=128)
_FOUNDATION_ONLY = ("seeds", "supervised_epochs", "supervised_lr")

SYNCO = ChapterSpec(
    name="synco",
    params={
        **_run(*MOCO_RUN_FIELDS, "log_every"),
        **_options("synco"),
        "mochi_n_hard": Param("mochi_n_hard", int, "MoCHI's N: size of each query's hard set", min=1),
        "mochi_n3": Param("mochi_n3", int, "MoCHI's s: mixes of two hard negatives per query", min=0),
        "mochi_n1": Param("mochi_n1", int, "MoCHI's s′: mixes of the query with a hard negative per query", min=0),
        "seeds": Param("seeds", int, "independent runs (seeds 0…seeds−1) of MoCo-v2, MoCHI and SynCo", min=1),
        "ablation": Param("ablation", bool, "also train SynCo with each type alone (seed 0)"),
        "overhead_steps": Param("overhead_steps", int, "training steps per round (16 rounds) when timing SynCo "
                                "against MoCo-v2", min=1),
    },
    profiles={
        "smoke": {**{k: v for k, v in FOUNDATIONS.profiles["smoke"].items() if k not in _FOUNDATION_ONLY},
                  **_SYNCO_DEFAULTS, "epochs": 2, "warmup_epochs": 1, "n_hard": 64, "n1": 16, "n2": 16, "n3": 16,
                  "n4": 4, "n5": 4, "n6": 4, "mochi_n_hard": 64, "mochi_n3": 16, "mochi_n1": 4, "seeds": 2,
                  "ablation": True, "overhead_steps": 2, "log_every": 4},
        "cpu": {**{k: v for k, v in FOUNDATIONS.profiles["cpu"].items() if k not in _FOUNDATION_ONLY},
                **_SYNCO_DEFAULTS, "train_subset": 6400, "epochs": 3, "warmup_epochs": 1, "monitor_size": 0,
                "seeds": 3, "ablation": True, "overhead_steps": 2, "log_every": 10},
        "paper": {**{k: v for k, v in FOUNDATIONS.profiles["paper"].items() if k not in _FOUNDATION_ONLY},
                  **_SYNCO_DEFAULTS, "warmup_epochs": 10, "seeds": 1, "ablation": False, "overhead_steps": 10,
                  "log_every": 50},
    },
    overlays={"paper": {d: {k: v for k, v in FOUNDATIONS.overlays["paper"][d].items() if k not in _FOUNDATION_ONLY}
                        for d in ("cifar10", "cifar100")}},
    notes={
        "smoke": "a tiny check that every cell runs (1,024 images, width-4 network, few negatives); "
                 "its numbers mean nothing",
        "cpu": "Fashion-MNIST (6,400 training images) at 16×16 px, a width-16 ResNet-18, 3 epochs with synthetic "
               "negatives from the second; the paper's counts (n_hard 1,024, 3×256 + 3×64) against a queue of 4,096",
        "paper": "SynCo's ImageNet recipe: MoCo-v2's ResNet-50 200-epoch recipe, six types at the defaults from "
                 "epoch 10",
        **{f"paper/{d}": f"{CIFAR_PRESET}, synthetic negatives from epoch 10" for d in ("cifar10", "cifar100")},
    },
)


def _distill(*names: str) -> dict[str, Param]:
    from .distill.config import DISTILL_PARAMS
    return {n: DISTILL_PARAMS[n] for n in names}


DISTILL_FIELDS = ("dataset", "data_root", "download", "train_subset", "image_size", "teacher", "teacher_checkpoint",
                  "epochs", "batch_size", "lr", "lr_milestones", "weight_decay", "kd_temperature", "embed_dim",
                  "crd_negatives", "crd_temperature", "crd_momentum", "device", "log_every")
_RRD_ONLY = ("rrd_queue", "rrd_tau_s", "rrd_tau_t", "rrd_enqueue")
BENCHMARK_RECIPE = dict(dataset="cifar100", data_root=None, download=False, train_subset=0, image_size=0,
                        teacher="resnet32x4", student="resnet8x4", teacher_checkpoint=None, epochs=240,
                        batch_size=64, lr=None, lr_milestones=(150.0, 180.0, 210.0), weight_decay=5e-4,
                        kd_temperature=4.0, embed_dim=128, crd_negatives=16384, crd_temperature=0.07,
                        crd_momentum=0.5, device="auto", log_every=50, seeds=1)
# Fashion-MNIST at 16 px, 5,120 training images, 5 epochs with the benchmark's milestones scaled
# from 240 epochs (150, 180, 210 → 3.125, 3.75, 4.375): resnet110→resnet20 shrunk to resnet32→resnet8.
CPU_DISTILLATION = dict(BENCHMARK_RECIPE, dataset="fashion_mnist", train_subset=5120, image_size=16,
                        teacher="resnet32", student="resnet8", epochs=5, lr_milestones=(3.125, 3.75, 4.375),
                        crd_negatives=4096, log_every=10, seeds=3)
SMOKE_DISTILLATION = dict(CPU_DISTILLATION, train_subset=512, teacher="resnet14", epochs=2, lr_milestones=(1.5,),
                          embed_dim=32, crd_negatives=256, log_every=4, seeds=2)
RRD_SETTINGS = dict(rrd_queue=16384, rrd_tau_s=0.04, rrd_tau_t=0.10, rrd_enqueue="after")


def _student_param() -> Param:
    from .distill.zoo import ZOO
    return Param("student", str, "the student network", choices=tuple(ZOO))


RRD = ChapterSpec(
    name="rrd",
    params={**_distill(*DISTILL_FIELDS, *_RRD_ONLY), "student": _student_param(),
            "seeds": Param("seeds", int, "independent runs (seeds 0…seeds−1) of every student", min=1)},
    profiles={"smoke": {**SMOKE_DISTILLATION, **RRD_SETTINGS, "rrd_queue": 256},
              "cpu": {**CPU_DISTILLATION, **RRD_SETTINGS, "rrd_queue": 4096},
              "paper": {**BENCHMARK_RECIPE, **RRD_SETTINGS}},
    notes={
        "smoke": "a tiny check that every cell runs (512 images, resnet14→resnet8, 2 epochs); its numbers mean "
                 "nothing",
        "cpu": "Fashion-MNIST (5,120 training images) at 16×16 px, resnet32→resnet8, 5 epochs with the "
               "benchmark's learning-rate milestones scaled down; CRD's 4,096 negatives and RRD's queue of 4,096 "
               "(the training set is 5,120 images)",
        "paper": "the CIFAR-100 benchmark recipe: 240 epochs, batch 64, lr 0.05 (0.01 for MobileNetV2 and "
                 "ShuffleNets) ×0.1 at 150/180/210, weight decay 5e-4, resnet32x4→resnet8x4 unless a pair is given",
    },
    family="distillation",
    methods=("ce", "kd", "crd", "rrd", "rrd_kd"),
)

TRANSFER_PARAMS = {
    "transfer_dataset": Param("transfer_dataset", str, "dataset of the transfer probe (a new linear classifier on "
                              "the frozen student)", choices=("digits", "stl10", "tiny_imagenet", "cifar10")),
    "transfer_epochs": Param("transfer_epochs", int, "epochs of the transfer probe", min=1),
    "transfer_milestones": Param("transfer_milestones", tuple, "epochs after which the probe's learning rate is "
                                 "multiplied by 0.1", min=0.0),
}

DCD = ChapterSpec(
    name="dcd",
    params={**RRD.params, **_distill("dcd_alpha"), **TRANSFER_PARAMS},
    profiles={"smoke": {**RRD.profiles["smoke"], "dcd_alpha": 0.5, "transfer_dataset": "digits",
                        "transfer_epochs": 2, "transfer_milestones": (1.0,)},
              "cpu": {**RRD.profiles["cpu"], "dcd_alpha": 0.5, "transfer_dataset": "digits", "transfer_epochs": 30,
                      "transfer_milestones": (7.5, 15.0, 22.5)},
              "paper": {**RRD.profiles["paper"], "teacher": "wrn_40_2", "student": "wrn_16_2", "dcd_alpha": 0.5,
                        "transfer_dataset": "stl10", "transfer_epochs": 120,
                        "transfer_milestones": (30.0, 60.0, 90.0)}},
    notes={
        "smoke": RRD.notes["smoke"],
        "cpu": RRD.notes["cpu"] + "; the students then transfer to scikit-learn's digits (16 px) with a 30-epoch "
               "linear probe",
        "paper": "the CIFAR-100 benchmark recipe with wrn_40_2→wrn_16_2 (the pair of the transfer test), then a "
                 "120-epoch linear probe on STL-10 at 32 px (or Tiny ImageNet: -p transfer_dataset tiny_imagenet)",
    },
    family="distillation",
    methods=("ce", "kd", "crd", "rrd", "dcd", "dcd_kd"),
)

CHAPTERS = {spec.name: spec for spec in (FOUNDATIONS, SYNCO, RRD, DCD)}
