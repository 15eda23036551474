"""The paragraph under a chapter's experiment heading that says what this run trained and
measured on, written from the run's own data and configuration, so that it is right at any
profile (the prose around it explains the choices of the book's ``cpu`` profile)."""
from __future__ import annotations

from ssllib.data.registry import dataset_info, require_dataset
from ssllib.engine.devices import pick_device


def _images(count: int, dataset: str, subset: int, size: int, root) -> str:
    title = dataset_info(dataset).title
    which = f"a fixed subset of {count:,}" if subset else f"all {count:,}"
    return f"{which} {title} training images (read from `{require_dataset(dataset, root)}`) at {size}×{size} px"


def _network(cfg) -> str:
    if cfg.backbone.startswith("resnet"):
        return f"a {cfg.backbone} of width {cfg.width} ({cfg.stem} stem)"
    return f"a {cfg.backbone.replace('_', ' ')}"


def _device(requested: str) -> str:
    try:
        return pick_device(requested).type.upper()
    except (RuntimeError, ValueError):
        return requested


def selfsup_recipe(data, cfg, network: str | None = None) -> str:
    """'This run: …' for a self-supervised chapter: the images, the network (``network`` where a
    chapter compares several), the schedule, the queue, the kNN bank and the probe's training
    set, the test set and the device."""
    images = _images(len(data.train), cfg.dataset, cfg.train_subset, data.size, cfg.data_root)
    return (f"**This run** trains on {images}: "
            f"{network or _network(cfg)}, {cfg.epochs} epochs of batch {cfg.batch_size}, a queue of {cfg.queue_size:,} keys, "
            f"on the {_device(cfg.device)}. The kNN bank and the linear probe's training set are the same "
            f"{len(data.bank):,} labelled images; every accuracy is measured on the {len(data.test):,} test images.")


def distill_recipe(data, cfg, teacher_epochs: int) -> str:
    """'This run: …' for a distillation chapter: the pair, the images, the schedule, the
    held-out images (if any), the test set and the device."""
    tail = f"every accuracy is measured on the {len(data.test):,} test images."
    if data.validation is not None and len(data.validation):
        tail = f"{len(data.validation):,} training images held out choose each run's best epoch; {tail}"
    images = _images(len(data.train), cfg.dataset, cfg.train_subset, data.size, cfg.data_root)
    return (f"**This run** distils {cfg.teacher} into {cfg.network} on {images}: {cfg.epochs} epochs of "
            f"batch {cfg.batch_size} for each student and {teacher_epochs} for the teacher, on the "
            f"{_device(cfg.device)}. {tail[0].upper()}{tail[1:]}")
