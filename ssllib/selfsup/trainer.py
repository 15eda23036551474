"""A self-supervised (or supervised-baseline) run on the engine's loop: ``train`` takes a
:class:`RunConfig` to its :class:`~ssllib.engine.runs.Result` (record, and the trained model
on demand).

- The device is picked for you (CUDA, MPS, CPU); on CUDA the step runs under bf16 autocast in
  channels-last format. Data and augmentation live on the device.
- The per-epoch kNN monitor classifies held-out *training* images against a bank of other
  training images; the test split is read once, after the last epoch, by the final kNN and
  linear evaluation.
- Finding, checking, resuming and training the run, the finite-loss check and the record are
  the engine's (:mod:`ssllib.engine.runs`, :mod:`ssllib.engine.loop`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn

from ssllib.data import dataset_info, load_dataset
from ssllib.data.registry import data_folder
from ssllib.data.loader import TrainBatches
from ssllib.data.splits import fixed_order, fixed_subset
from ssllib.engine.devices import autocast_dtype, formatted, pick_device, place_model
from ssllib.engine.allocator import refuse_beyond_memory
from ssllib.engine.distributed import broadcast_state, is_main_process, world_identity, world_size
from ssllib.engine.fingerprint import run_code_fingerprint
from ssllib.engine.identity import RunKey, run_key
from ssllib.engine.loop import Run, Task, TrainingDiverged
from ssllib.engine.runs import Result, obtain
from ssllib.engine.optim import build_optimizer
from ssllib.engine.registry import method as find_method
from ssllib.nets.registry import backbone_modules, build_backbone
from ssllib.engine.predict import device_of
from ssllib.evaluate.frozen import extract_features, knn_accuracy, knn_protocol
from ssllib.evaluate.linear import linear_probe, sgd_linear_probe
from ssllib.engine.params import ParameterError
from ssllib.selfsup.config import RunConfig

__all__ = ["Result", "RunData", "TrainingDiverged", "backbone_features", "evaluate_backbone", "evaluate_features",
           "initial_model", "load_run_data", "monitor_accuracy", "run_id_for", "run_key_for", "train"]

PRETRAIN_SPLIT = {"stl10": "train+unlabeled"}  # unlabelled images join self-supervised training


@dataclass
class RunData:
    train: object          # what self-supervised methods train on (labels may be -1)
    bank: object           # labelled training images: supervised training, kNN bank, linear probe
    test: object           # read only after the last epoch
    size: int              # side of the network's input

    def training_set(self, uses_labels: bool):
        return self.bank if uses_labels else self.train

    def monitor_split(self, bank_size: int, query_size: int):
        """(bank, queries) for the per-epoch kNN monitor: disjoint subsets of the labelled
        training images from one fixed shuffle (seed 1); at most a quarter are queries."""
        n = len(self.bank)
        n_query = min(query_size, n // 4)
        order = fixed_order(n, seed=1)
        bank = order[n_query:] if not bank_size else order[n_query:n_query + bank_size]
        return self.bank.subset(bank), self.bank.subset(order[:n_query])


def load_run_data(cfg: RunConfig) -> RunData:
    """The splits a run needs, loaded once and shared by every run on the same data."""
    info = dataset_info(cfg.dataset)
    split = PRETRAIN_SPLIT.get(cfg.dataset, "train")
    labelled = load_dataset(cfg.dataset, "train", cfg.data_root, cfg.download)
    if split == "train":
        bank = train = fixed_subset(labelled, cfg.train_subset)
    else:  # unlabelled images join training; the bank holds the labelled ones among the first train_subset
        train = fixed_subset(load_dataset(cfg.dataset, split, cfg.data_root), cfg.train_subset)
        bank = fixed_subset(labelled, min(cfg.train_subset, len(labelled)))
    data = RunData(train, bank, load_dataset(cfg.dataset, "test", cfg.data_root), cfg.image_size or info.image_size)
    check_against_data(cfg, data)
    return data


def check_against_data(cfg: RunConfig, data: RunData) -> None:
    """What a configuration asks of the data that only the loaded data can answer, checked before
    any training: the kNN's neighbours fit in its banks (the final one, and the monitor's), rather
    than being cut to the bank's size while the record says otherwise."""
    banks = {"the kNN bank (the labelled training images)": len(data.bank)}
    if cfg.monitor_every:
        monitor_bank, _ = data.monitor_split(cfg.monitor_size, cfg.monitor_test)
        banks["the kNN monitor's bank (monitor_size)"] = len(monitor_bank)
    short = {name: size for name, size in banks.items() if size < cfg.knn_k}
    if short:
        smallest = min(short.values())
        raise ParameterError(f"knn_k={cfg.knn_k:,} neighbours do not fit in "
                             + " or ".join(f"{name}, {size:,} images" for name, size in short.items())
                             + f"; give knn_k at most {smallest:,}, or more images")


def run_key_for(cfg: RunConfig) -> RunKey:
    """The run's identity (:func:`ssllib.engine.identity.run_key`): its configuration and the
    code of its method, its family, the engine and its backbone."""
    code = run_code_fingerprint(cfg.method, *backbone_modules(cfg.backbone))
    return run_key(f"{cfg.method}-{cfg.dataset}-{cfg.backbone}w{cfg.width}-s{cfg.seed}",
                   {**cfg.identity(), **world_identity()}, code)


def run_id_for(cfg: RunConfig) -> str:
    return run_key_for(cfg).run_id


def memory_needed(cfg: RunConfig, channels: int, size: int) -> dict[str, tuple[int, str]]:
    """What a run's networks and queue take, {what: (bytes, the setting that sizes it)}, from the
    backbone built on the meta device (no memory allocated): about four copies of its weights
    (the query encoder, the key encoder, the gradients and the optimiser's momentum), and the
    queue of keys for a method that keeps one."""
    with torch.device("meta"):
        backbone = build_backbone(cfg.backbone, cfg.stem, cfg.width, channels, cfg.bn_splits, size)
    weights = 4 * sum(p.numel() for p in backbone.parameters())
    parts = {"four copies of the backbone's weights": (4 * weights, "width" if cfg.backbone.startswith("resnet")
                                                        else "backbone")}
    if not find_method(cfg.method).uses_labels:
        parts["the queue of keys"] = (4 * cfg.queue_size * cfg.embed_dim, "queue_size")
    return parts


def initial_model(cfg: RunConfig, train_set, size: int) -> nn.Module:
    """The method's networks as seed ``cfg.seed`` initialises them: what a run starts from, and
    what the random-init baseline of the same seed measures."""
    refuse_beyond_memory(memory_needed(cfg, train_set.channels, size), torch.device("cpu"))  # built on the CPU
    torch.manual_seed(cfg.seed)
    return find_method(cfg.method).build(cfg, train_set, size)


def ready_model(model: nn.Module, cfg: RunConfig, device: torch.device) -> tuple[nn.Module, bool]:
    """``model`` on ``device`` as the run trains it: channels-last where asked for and safe,
    SyncBatchNorm where asked for, rank 0's starting weights on every process, and the method's
    networks compiled where asked for. Returns (model, whether channels-last is in use)."""
    if cfg.sync_bn and world_size() > 1:
        if device.type != "cuda":
            raise ValueError("sync_bn=True needs CUDA (NCCL); on the CPU keep per-process statistics "
                             "(sync_bn=False, shuffle_keys=True)")
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    model, channels_last = place_model(model, device, cfg.channels_last)
    broadcast_state(model)
    if cfg.compile:
        for part in model.compiled_parts():
            part.compile()
    return model, channels_last


def prepare_inputs(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, generator,
                   channels_last: bool) -> tuple:
    """The method's augmented inputs for one batch, in the memory format the network runs in."""
    return formatted(model.make_inputs(images, labels, generator), channels_last)


def backbone_features(backbone: nn.Module, dataset, size: int, cfg: RunConfig) -> torch.Tensor:
    """The frozen backbone's features of every image of ``dataset`` at the run's input size, on
    the backbone's device."""
    return extract_features(backbone, dataset, size, num_workers=cfg.num_workers,
                            autocast_dtype=autocast_dtype(device_of(backbone), cfg.precision))


def monitor_accuracy(encode, split, cfg: RunConfig) -> float:
    """kNN top-1 of the per-epoch monitor for ``encode`` (a dataset → its features) on
    ``split``, the (bank, queries) of :meth:`RunData.monitor_split`: held-out training images,
    never the test split, so anything can be compared on it at any epoch."""
    bank, queries = split
    return knn_accuracy(encode(bank), bank.labels, encode(queries), queries.labels, bank.num_classes, cfg.knn_k,
                        cfg.knn_t)


def evaluate_backbone(backbone: nn.Module, data: RunData, cfg: RunConfig, linear: bool = True, seed: int = 0) -> dict:
    """kNN and linear-probe top-1 of a frozen backbone on the full bank and test sets."""
    return evaluate_features(backbone_features(backbone, data.bank, data.size, cfg), data.bank.labels,
                             backbone_features(backbone, data.test, data.size, cfg), data.test.labels,
                             data.bank.num_classes, cfg, linear, seed)


def evaluate_features(fb, yb, ft, yt, num_classes: int, cfg: RunConfig, linear: bool = True, seed: int = 0) -> dict:
    metrics = {"knn_top1": {"value": knn_accuracy(fb, yb, ft, yt, num_classes, cfg.knn_k, cfg.knn_t),
                            "protocol": {**knn_protocol(cfg.knn_k, cfg.knn_t, len(fb), len(ft)), "epoch": "last"}}}
    if linear:
        if cfg.probe != "lbfgs":
            value, protocol = sgd_linear_probe(fb, yb, ft, yt, num_classes, cfg.probe_epochs, cfg.probe_lr,
                                               cfg.probe_batch_size, seed=seed, protocol=cfg.probe)
        else:
            value, protocol = linear_probe(fb, yb, ft, yt, num_classes, seed=seed)
        metrics["linear_top1"] = {"value": value, "protocol": {**protocol, "epoch": "last"}}
    return metrics


class SelfSupervisedTask(Task):
    """The hooks of a self-supervised run: two views per image, the kNN monitor on held-out
    training images after an epoch, kNN and linear probe on the test split at the end."""

    def __init__(self, cfg: RunConfig, data: RunData, device: torch.device, evaluate: bool):
        self.cfg, self.data, self.device, self.evaluate = cfg, data, device, evaluate
        check_against_data(cfg, data)
        spec = find_method(cfg.method)
        train_set = data.training_set(spec.uses_labels)
        refuse_beyond_memory(memory_needed(cfg, train_set.channels, data.size), device)
        self.model, self.channels_last = ready_model(initial_model(cfg, train_set, data.size), cfg, device)
        self.optimizer = build_optimizer(cfg, [self.model])
        self.batches = TrainBatches(train_set, cfg.batch_size, device, data.size, (cfg.crop_min_scale, 1.0),
                                    views=spec.views, num_workers=cfg.num_workers)
        self.label = f"{cfg.method} seed {cfg.seed}"
        self.monitor = data.monitor_split(cfg.monitor_size, cfg.monitor_test) if cfg.monitor_every else None

    def inputs(self, images, labels, index, generator):
        return prepare_inputs(self.model, images, labels, generator, self.channels_last)

    def _monitor(self) -> float:
        return monitor_accuracy(lambda images: backbone_features(self.model.backbone, images, self.data.size, self.cfg),
                                self.monitor, self.cfg)

    def after_epoch(self, epoch, entry):
        cfg = self.cfg
        if cfg.monitor_every and ((epoch + 1) % cfg.monitor_every == 0 or epoch + 1 == cfg.epochs):
            entry["knn_monitor"] = self._monitor()

    def final_metrics(self, history):
        cfg = self.cfg
        metrics = evaluate_backbone(self.model.backbone, self.data, cfg, seed=cfg.seed) \
            if self.evaluate else {}
        if history and "knn_monitor" in history[-1]:
            bank, queries = self.monitor
            metrics["knn_monitor_top1"] = {"value": history[-1]["knn_monitor"], "protocol": {
                **knn_protocol(cfg.knn_k, cfg.knn_t, len(bank), len(queries)),
                "test": f"held-out training images ({len(queries)})", "epoch": "last"}}
        return metrics

    def record_fields(self):
        cfg = self.cfg
        return {"backbone": f"{cfg.backbone} ({cfg.stem} stem, width {cfg.width})",
                "data_folder": data_folder(cfg.dataset, cfg.data_root)}


def train(cfg: RunConfig, *, paper: str = "", profile: str = "", evaluate: bool = True,
          data: RunData | None = None, runs_dir: str | Path | None = None,
          ledger_dir: str | Path | None = None, retrain: bool = False) -> Result:
    """The run ``cfg``: found (committed or local), checked, resumed or trained, and evaluated.
    ``data`` is loaded only when the run must train or its model is asked for."""
    device = pick_device(cfg.device)
    loaded = [data]

    def make_task() -> SelfSupervisedTask:
        if loaded[0] is None:
            loaded[0] = load_run_data(cfg)
        return SelfSupervisedTask(cfg, loaded[0], device, evaluate and is_main_process())

    run = Run(cfg, run_key_for(cfg), device, make_task=make_task, dtype=autocast_dtype(device, cfg.precision),
              paper=paper, profile=profile, method=cfg.method, dataset=cfg.dataset,
              ledger_dir=Path(ledger_dir) if ledger_dir else None, runs_dir=Path(runs_dir) if runs_dir else None)
    return obtain(run, retrain)
