"""The configuration of one self-supervised (or supervised baseline) run, as plain values.

Every field carries its help line and constraints; :data:`RUN_PARAMS` is derived from them,
so the checks, the chapters' parameter cells and the documentation share one source. The
optimisation fields come from :class:`~ssllib.engine.optim.Optimisation`; a method's own
options (``options``) come from its declaration (:mod:`ssllib.engine.registry`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ssllib.data import DATASETS
from ssllib.data.splits import check_sizes
from ssllib.engine.config import Configuration
from ssllib.evaluate.linear import SOLVERS
from ssllib.engine.params import Param, ParameterError, dataclass_params
from ssllib.engine.params import param_field as _p
from ssllib.nets import vit
from ssllib.nets.registry import BACKBONES

@dataclass(frozen=True)
class RunConfig(Configuration):
    NOT_IDENTITY = ("device", "num_workers", "log_every", "data_root", "download", "compile")
    ADDED_LATER = {"probe": "lbfgs", "probe_epochs": 100, "probe_lr": 30.0, "probe_batch_size": 256}

    # what is trained, on what
    method: str = _p("mocov2", "training method (a self-supervised method, or supervised)")
    dataset: str = _p("fashion_mnist", "training dataset", choices=tuple(DATASETS))
    data_root: str | None = _p(None, "folder holding the datasets (default $SSLLIB_DATA or ~/.cache/ssllib/data)",
                               nullable=True)
    download: bool = _p(False, "fetch the dataset with torchvision if it is not on disk")
    train_subset: int = _p(0, "train on the first N images of a fixed shuffle (0: all)", min=0)
    # network
    backbone: str = _p("resnet18", "backbone network", choices=tuple(BACKBONES))
    stem: str = _p("cifar", "ResNet stem: cifar (3×3, stride 1, no max-pool) or imagenet (7×7/2 + max-pool)",
                   choices=("cifar", "imagenet"))
    width: int = _p(64, "channels of the first ResNet stage (64 in the papers)", min=1)
    image_size: int = _p(0, "side of the training crops in pixels (0: the dataset's own size)", min=0)
    embed_dim: int = _p(128, "size of the projected embedding", min=1)
    drop_path: float = _p(0.0, "stochastic-depth rate of a transformer backbone's online encoder (the momentum "
                               "encoder has none; MoBY: 0.2)", min=0.0, max=1.0)
    # momentum contrast
    queue_size: int = _p(65536, "number of negative keys in the queue (K)", min=1)
    ema_momentum: float = _p(0.999, "momentum m of the key encoder's moving average", min=0.0, max=1.0)
    momentum_schedule: str = _p("constant", "EMA momentum over training", choices=("constant", "cosine"))
    temperature: float = _p(0.2, "softmax temperature τ of the contrastive loss", min=1e-4)
    bn_splits: int = _p(1, "batch-norm sub-batches on one device (MoCo's split-BN; 1: plain BN)", min=1)
    shuffle_keys: bool = _p(True, "shuffle the key batch so its batch-norm statistics differ from the query's")
    sync_bn: bool = _p(False, "batch-norm statistics over all processes (SyncBatchNorm; CUDA, several processes) "
                              "instead of per process")
    # augmentation (MoCo-v2 aug-plus; the view2_ fields make the two views differ, as BYOL's do)
    crop_min_scale: float = _p(0.2, "smallest area fraction of a random resized crop", min=0.01, max=1.0)
    jitter_strength: float = _p(0.4, "colour jitter: brightness, contrast, saturation = s, hue = s/4", min=0.0, max=1.0)
    jitter: tuple | None = _p(None, "colour jitter as [brightness, contrast, saturation, hue] "
                                    "(None: from jitter_strength; BYOL: [0.4, 0.4, 0.2, 0.1])", min=0.0, nullable=True)
    jitter_p: float = _p(0.8, "probability of colour jitter", min=0.0, max=1.0)
    grayscale_p: float = _p(0.2, "probability of grayscale", min=0.0, max=1.0)
    blur_p: float = _p(0.5, "probability of Gaussian blur", min=0.0, max=1.0)
    blur_sigma: tuple = _p((0.1, 2.0), "range of the blur's σ in pixels", min=0.0)
    solarize_p: float = _p(0.0, "probability of solarisation (pixels ≥ ½ inverted)", min=0.0, max=1.0)
    view2_blur_p: float | None = _p(None, "probability of blur in the second view (None: blur_p; BYOL: 1.0 and 0.1)",
                                    min=0.0, max=1.0, nullable=True)
    view2_solarize_p: float | None = _p(None, "probability of solarisation in the second view (None: solarize_p; "
                                              "BYOL: 0 and 0.2)", min=0.0, max=1.0, nullable=True)
    # monitoring and evaluation
    knn_k: int = _p(200, "neighbours of the weighted kNN classifier", min=1)
    knn_t: float = _p(0.1, "temperature of the kNN vote weights exp(s/T)", min=1e-4)
    probe: str = _p("lbfgs", "linear-probe solver: lbfgs (full-batch logistic regression on standardised features, "
                             "its L2 chosen on held-out images: small feature sets), or a published mini-batch SGD "
                             "protocol for any size: sgd (MoCo's) or sgd_moby (MoBY's)", choices=SOLVERS)
    probe_epochs: int = _p(100, "epochs of an SGD linear probe", min=1)
    probe_lr: float = _p(30.0, "peak learning rate of an SGD linear probe (MoCo: 30; MoBY: 1.0 per 512 images)",
                         min=0.0)
    probe_batch_size: int = _p(256, "batch of an SGD linear probe", min=1)
    monitor_every: int = _p(1, "run the kNN monitor every N epochs (0: never)", min=0)
    monitor_size: int = _p(10000, "train images in the kNN monitor's bank (0: all)", min=0)
    monitor_test: int = _p(2000, "held-out training images the kNN monitor classifies (never the test split)",
                           min=1)
    # system
    seed: int = _p(0, "random seed", min=0)
    device: str = _p("auto", "training device", choices=("auto", "cuda", "mps", "cpu"))
    precision: str = _p("auto", "autocast precision (auto: bf16 on CUDA, fp32 elsewhere)",
                        choices=("auto", "bf16", "fp32"))
    channels_last: bool = _p(True, "channels-last memory format for convolutions")
    compile: bool = _p(False, "torch.compile the model and the views' pixel work (the first steps pay the compile time)")
    num_workers: int = _p(8, "decoding processes for datasets read from image files", min=0)
    log_every: int = _p(50, "steps between synchronised loss checks and progress updates", min=1)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "RunConfig":
        spec, cfg = cls.checked(values, RUN_PARAMS, "selfsup", "mocov2", "a run configuration")
        cfg.validate()
        if spec.check is not None:
            spec.check(cfg)
        return cfg

    def validate(self) -> None:
        """Checks that involve more than one field."""
        if self.lr is None:
            raise ParameterError("lr needs a value (the peak learning rate)")
        self.check_optimisation()
        check_sizes(self.train_subset, self.batch_size, self.image_size)
        if self.backbone in vit.TRANSFORMERS:
            try:
                vit.check_image_size(self.backbone, self.image_size or DATASETS[self.dataset].image_size)
            except ValueError as err:
                raise ParameterError(f"{err} (set image_size)") from None
        elif self.drop_path:
            raise ParameterError(f"drop_path={self.drop_path} is stochastic depth for transformer backbones; "
                                 f"{self.backbone} has no blocks to drop, so use drop_path=0")
        if self.batch_size % self.bn_splits:
            raise ParameterError(f"batch_size={self.batch_size} does not split into bn_splits={self.bn_splits} "
                                 f"equal sub-batches; choose a batch size divisible by {self.bn_splits}")
        if self.sync_bn and self.bn_splits > 1:
            raise ParameterError(f"sync_bn=True and bn_splits={self.bn_splits} ask for opposite batch-norm statistics "
                                 f"(over all processes, or over sub-batches); choose one")
        if self.jitter is not None and (len(self.jitter) != 4 or self.jitter[3] > 0.5):
            raise ParameterError(f"jitter={list(self.jitter)} must be four numbers [brightness, contrast, saturation, "
                                 f"hue] with hue at most 0.5 (or None to use jitter_strength)")
        if len(self.blur_sigma) != 2 or self.blur_sigma[0] > self.blur_sigma[1]:
            raise ParameterError(f"blur_sigma={list(self.blur_sigma)} must be two numbers [low, high] with low ≤ high")


RUN_PARAMS: dict[str, Param] = dataclass_params(RunConfig, skip=("options",))
