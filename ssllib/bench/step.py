"""Throughput of a training step, measured on this machine.

    python -m ssllib.bench.step [--profile cpu] [--steps 20] [--compile] [--epoch] [--peer-workers 2]

For the same MoCo-v2 model and batch: (a) the full step (batch indexing, on-device
augmentation of both views, key shuffle, EMA update, forward, backward, optimiser step,
enqueue); (b) the bare encoders: query forward/backward and key forward with the same loss on
views augmented once beforehand (the compute limit); (c) a peer, the same model, batch,
augmentations and queue built from the ``lightly`` package with per-image transforms in
DataLoader workers (``pip install -e .[bench]``; ``--peer-workers -1`` skips it); (d) SynCo's
step time ÷ MoCo-v2's at the SynCo chapter's settings of the same profile (``--synco-rounds 0``
skips it); (e) MoBY + synthetic negatives ÷ MoBY on the ViT chapter's vision transformer, at an
epoch inside the negatives' window (``--vit-rounds 0`` skips it); (f) with ``--paper-synco-rounds``,
SynCo ÷ MoCo-v2 at the ImageNet recipe on synthetic images (a GPU's work). ``--epoch`` also times one whole epoch of full steps. Ratios are the result; they
are printed and written to ``results/bench/step-<profile>[-<dataset>].json``.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from ssllib.engine.allocator import keep_freed_memory
from ssllib.engine.checkpoint import write_json
from ssllib.selfsup.config import RunConfig
from ssllib.engine.devices import autocast, autocast_dtype, pick_device
from ssllib.engine.ledger import device_name, environment, results_dir
from ssllib.data.loader import TrainBatches
from ssllib.selfsup.losses import contrastive_logits, info_nce
from ssllib.engine.registry import method as find_method
from ssllib.chapters.foundations import FOUNDATIONS
from ssllib.chapters.spec import resolve
from ssllib.chapters.synco import SYNCO
from ssllib.chapters.synco_vit import SYNCO_VIT
from ssllib.engine.loop import optimise
from ssllib.engine.optim import build_optimizer
from ssllib.selfsup.trainer import load_run_data, prepare_inputs, ready_model


def seconds_of(step, n: int, device: torch.device) -> float:
    """Seconds taken by ``n`` calls of ``step``, the device synchronised at both ends."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(n):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


class _Training:
    """One method's model, optimiser and batch stream, ready to time full training steps."""

    def __init__(self, cfg: RunConfig, data, device: torch.device, epoch: int = 0):
        self.cfg, self.device, self.epoch = cfg, device, epoch
        keep_freed_memory()
        self.dtype = autocast_dtype(device, cfg.precision)
        torch.manual_seed(cfg.seed)
        self.model, self.channels_last = ready_model(find_method(cfg.method).build(cfg, data.train, data.size), cfg,
                                                     device)
        self.optimizer = build_optimizer(cfg, [self.model])
        self.gen = torch.Generator(device=device if device.type == "cuda" else "cpu").manual_seed(0)
        batches = TrainBatches(data.train, cfg.batch_size, device, data.size, (cfg.crop_min_scale, 1.0),
                               num_workers=cfg.num_workers)
        self.steps_per_epoch = len(batches)

        def stream():
            while True:
                yield from batches.epoch(torch.Generator().manual_seed(0))
        self.batches = stream()

    def inputs(self):
        images, labels = next(self.batches)
        return prepare_inputs(self.model, images, labels, self.gen, self.channels_last)

    def step(self):
        """One full step: batch draw, augmentation, forward, backward, optimiser, queue."""
        optimise(self.model, self.optimizer, self.inputs(), self.device, self.dtype, self.epoch, 0.5, self.gen)

    def seconds(self, step, n: int) -> float:
        return seconds_of(step, n, self.device)


def host_syncs(run: _Training, steps: int = 3) -> dict:
    """CUDA only: calls that make the host wait for the device during full steps, counted by
    torch's sync debug mode, with the source lines that made them."""
    import warnings

    run.seconds(run.step, 1)
    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for _ in range(steps):
                run.step()
    finally:
        torch.cuda.set_sync_debug_mode(0)
    sites = sorted({f"{w.filename.split('ssllib/')[-1]}:{w.lineno}" for w in caught})
    return {"host_syncs_per_step": len(caught) / steps, "host_sync_sites": sites}


def step_throughput(cfg: RunConfig, steps: int = 20, warmup: int = 5, data=None, epoch: bool = False) -> dict:
    """Images per second of the full training step and of the bare forward/backward; with
    ``epoch`` also the seconds of one whole epoch of full steps. Warm-up steps (which pay
    ``torch.compile``'s compilation where it is on) are not timed."""
    device = pick_device(cfg.device)
    data = data or load_run_data(cfg)
    run = _Training(cfg, data, device)
    model, optimizer = run.model, run.optimizer
    view_q, view_k = run.inputs()

    def bare_step():
        """The encoders' compute alone: no batch draw, augmentation, shuffle, EMA or enqueue."""
        with autocast(device, run.dtype):
            q = F.normalize(model.encoder(view_q), dim=1)
            with torch.no_grad():
                k = F.normalize(model.momentum_encoder(view_k), dim=1)
            loss = info_nce(contrastive_logits(q, k, model.queue.keys.to(q.dtype)), model.temperature)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def images_per_second(step):
        run.seconds(step, warmup)
        return cfg.batch_size * steps / run.seconds(step, steps)

    # Interleave to share any drift in machine speed between the two.
    full, bare = [], []
    for _ in range(2):
        full.append(images_per_second(run.step))
        bare.append(images_per_second(bare_step))
    result = {"method": cfg.method, "backbone": f"{cfg.backbone} w{cfg.width} {data.size}px", "batch": cfg.batch_size,
              "full_img_per_s": max(full), "bare_img_per_s": max(bare), "device": device_name(device)}
    result["full_over_bare"] = result["full_img_per_s"] / result["bare_img_per_s"]
    result["pipeline_share_of_step"] = 1 - result["full_over_bare"]
    result["compile"] = cfg.compile
    if device.type == "cuda":
        result.update(host_syncs(run))
    if epoch:
        result["epoch_steps"] = run.steps_per_epoch
        result["epoch_images"] = run.steps_per_epoch * cfg.batch_size
        result["epoch_s"] = run.seconds(run.step, run.steps_per_epoch)
    return result


def step_time_ratio(cfg: RunConfig, baseline: RunConfig, steps: int = 2, rounds: int = 16, warmup: int = 3,
                    data=None, epoch: int | None = None) -> dict:
    """Seconds per training step of ``cfg`` and of ``baseline`` (for example SynCo and MoCo-v2)
    on the same batches, timed in alternating rounds so that drift in machine speed falls on
    both; the ratio is the median over rounds of each round's ratio. Steps run at ``epoch``
    (default the last, after any warm-up, so methods that switch something on later are timed
    with it on; a method whose extra work stops before the end needs an epoch inside its window)."""
    device = pick_device(cfg.device)
    data = data or load_run_data(cfg)
    epoch = cfg.epochs - 1 if epoch is None else epoch
    runs = {"method": _Training(cfg, data, device, epoch), "baseline": _Training(baseline, data, device, epoch)}
    for run in runs.values():
        run.seconds(run.step, warmup)
    times = {name: [] for name in runs}
    for r in range(rounds):
        order = list(runs) if r % 2 == 0 else list(reversed(runs))  # ABBA: drift falls on both
        for name in order:
            times[name].append(runs[name].seconds(runs[name].step, steps) / steps)
    ratios = sorted(m / b for m, b in zip(times["method"], times["baseline"]))
    median = {name: statistics.median(t) for name, t in times.items()}
    result = {"method": cfg.method, "baseline": baseline.method, "method_step_s": median["method"],
              "baseline_step_s": median["baseline"], "ratio": statistics.median(ratios),
              "ratio_range": (ratios[0], ratios[-1]), "steps": steps, "rounds": rounds, "device": device_name(device)}
    if device.type == "cuda":
        result["method_host_syncs"] = host_syncs(runs["method"])
    return result


def paper_scale_synco_ratio(rounds: int = 4, steps: int = 2, batch: int | None = None, image_size: int | None = None,
                            queue: int | None = None, device: str | None = None, compile: bool = False,
                            backbone: str | None = None, width: int | None = None) -> dict:
    """SynCo ÷ MoCo-v2, seconds per step, at the SynCo chapter's ``paper`` recipe (ResNet-50,
    224 px, batch 256, K 65,536, the six types at their defaults, inside the negatives' window)
    on synthetic ImageNet-sized images held on the device (the step, not the JPEG path:
    :mod:`ssllib.bench.jpeg` times that). ``batch``, ``image_size`` and ``queue`` shrink it for a
    machine that cannot hold the recipe (``backbone`` and ``width`` too, for a test); the record
    says which were changed."""
    from ssllib.data.base import ImageDataset
    from ssllib.selfsup.trainer import RunData

    paper = resolve(SYNCO, {"profile": "paper"}, check_data=False)
    changes = {k: v for k, v in (("batch_size", batch), ("image_size", image_size), ("queue_size", queue),
                                 ("device", device), ("backbone", backbone), ("width", width)) if v is not None}
    synco = paper.run_config(method="synco", options=paper.method_options("synco"), compile=compile, **changes)
    moco = paper.run_config(method="mocov2", compile=compile, **changes)
    size = synco.image_size
    stored = round(size * 8 / 7)                              # crops come from larger images, as on disk
    n = 2 * synco.batch_size
    images = torch.randint(0, 256, (n, 3, stored, stored), generator=torch.Generator().manual_seed(0),
                           dtype=torch.uint8)
    train = ImageDataset("synthetic", "train", images, torch.zeros(n, dtype=torch.int64), ["none"],
                         (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    ratio = step_time_ratio(synco, moco, steps=steps, rounds=rounds, data=RunData(train, train, train, size),
                            epoch=paper.warmup_epochs)
    return {**ratio, "recipe": {"backbone": synco.backbone, "image_size": size, "batch_size": synco.batch_size,
                                "queue_size": synco.queue_size, "options": synco.options},
            "changed_from_the_recipe": sorted(k for k in changes if k != "device")}


def vit_step_ratio(profile: str, dataset: str | None = None, rounds: int = 8, compile: bool = False,
                   steps: int = 4, backbone: str | None = None) -> dict:
    """MoBY + synthetic negatives ÷ MoBY, seconds per step, at the ViT chapter's settings of
    ``profile`` on its vision transformer (or ``backbone``), timed at the first epoch of the
    negatives' window."""
    vit = resolve(SYNCO_VIT, {"profile": profile, "dataset": dataset})
    backbone = backbone or vit.vit_backbone
    configs = [vit.run_config(method=m, backbone=backbone, options=vit.method_options(m), compile=compile)
               for m in ("moby_synco", "moby")]
    ratio = step_time_ratio(*configs, steps=steps, rounds=rounds, epoch=vit.warmup_epochs)
    return {**ratio, "backbone": backbone, "epoch": vit.warmup_epochs}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ssllib.bench.step", description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="cpu", choices=("smoke", "cpu", "paper"))
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--dataset", default=None)
    parser.add_argument("--compile", action="store_true", help="torch.compile the encoders (warm-up not timed)")
    parser.add_argument("--epoch", action="store_true", help="also time one whole epoch of full steps")
    parser.add_argument("--peer-workers", type=int, default=2,
                        help="DataLoader workers of the lightly peer (-1 skips the peer)")
    parser.add_argument("--synco-rounds", type=int, default=8, help="ABBA rounds timing SynCo against MoCo-v2")
    parser.add_argument("--vit-rounds", type=int, default=8,
                        help="ABBA rounds timing MoBY + synthetic negatives against MoBY on a ViT")
    parser.add_argument("--paper-synco-rounds", type=int, default=0,
                        help="ABBA rounds timing SynCo against MoCo-v2 at the ImageNet recipe (ResNet-50, 224 px, "
                             "batch 256, K 65,536; a GPU's work: 0 skips it)")
    args = parser.parse_args(argv)
    settings = resolve(FOUNDATIONS, {"profile": args.profile, "dataset": args.dataset})
    cfg = settings.run_config(compile=args.compile)
    device = pick_device(cfg.device)
    data = load_run_data(cfg)
    result = step_throughput(cfg, steps=args.steps, data=data, epoch=args.epoch)
    print(f"{result['method']} {result['backbone']}, batch {result['batch']}, on {result['device']}"
          f"{' (compiled)' if cfg.compile else ''}")
    print(f"  (a) full step (augmentation, queue, EMA included): {result['full_img_per_s']:8.0f} images/s")
    print(f"  (b) bare forward/backward on fixed views:          {result['bare_img_per_s']:8.0f} images/s")
    print(f"      full ÷ bare: {result['full_over_bare']:.3f}")
    if "host_syncs_per_step" in result:
        print(f"      host syncs per full step: {result['host_syncs_per_step']:g} "
              f"{', '.join(result['host_sync_sites'])}")
    if args.epoch:
        print(f"      one epoch, {result['epoch_images']:,} images in {result['epoch_steps']} steps: "
              f"{result['epoch_s']:.2f} s")
    if args.peer_workers >= 0:
        from ssllib.bench.peer import peer_throughput

        try:
            peer = peer_throughput(cfg, data, device, steps=args.steps, workers=args.peer_workers)
        except ImportError as err:
            print(f"  (c) peer skipped: {err}")
        else:
            result.update(peer, full_over_peer=result["full_img_per_s"] / peer["peer_img_per_s"])
            print(f"  (c) peer, {peer['peer']} with {peer['workers']} DataLoader workers: "
                  f"{peer['peer_img_per_s']:8.0f} images/s")
            print(f"      ssllib ÷ peer: {result['full_over_peer']:.2f}")
    if args.synco_rounds:
        synco = resolve(SYNCO, {"profile": args.profile, "dataset": args.dataset})
        ratio = step_time_ratio(synco.run_config(method="synco", options=synco.method_options("synco"),
                                                 compile=args.compile),
                                synco.run_config(method="mocov2", compile=args.compile), steps=synco.overhead_steps,
                                rounds=args.synco_rounds)
        print(f"  (d) SynCo step ÷ MoCo-v2 step (SynCo chapter settings): {ratio['ratio']:.3f} "
              f"(rounds {ratio['ratio_range'][0]:.2f}–{ratio['ratio_range'][1]:.2f})")
        if "method_host_syncs" in ratio:
            syncs = ratio["method_host_syncs"]
            print(f"      host syncs per SynCo step: {syncs['host_syncs_per_step']:g} "
                  f"{', '.join(syncs['host_sync_sites'])}")
        result["synco_over_mocov2"] = ratio
    if args.vit_rounds:
        ratio = vit_step_ratio(args.profile, args.dataset, args.vit_rounds, args.compile)
        print(f"  (e) MoBY + negatives step ÷ MoBY step ({ratio['backbone']}, ViT chapter settings, epoch "
              f"{ratio['epoch']}): {ratio['ratio']:.3f} (rounds {ratio['ratio_range'][0]:.2f}–{ratio['ratio_range'][1]:.2f}); "
              f"median steps {ratio['method_step_s'] * 1000:.0f} and {ratio['baseline_step_s'] * 1000:.0f} ms")
        result["moby_synco_over_moby"] = ratio
    if args.paper_synco_rounds:
        ratio = paper_scale_synco_ratio(args.paper_synco_rounds, compile=args.compile)
        print(f"  (f) SynCo step ÷ MoCo-v2 step at the ImageNet recipe (ResNet-50, 224 px, batch 256, K 65,536): "
              f"{ratio['ratio']:.3f} (rounds {ratio['ratio_range'][0]:.2f}–{ratio['ratio_range'][1]:.2f}); "
              f"median steps {ratio['method_step_s'] * 1000:.0f} and {ratio['baseline_step_s'] * 1000:.0f} ms")
        result["paper_synco_over_mocov2"] = ratio
    name = f"step-{args.profile}" + (f"-{args.dataset}" if args.dataset else "") + ("-compiled" if args.compile else "")
    path = results_dir() / "bench" / f"{name}.json"
    write_json({**result, "environment": environment(device), "config": cfg.to_dict()}, path)
    print(f"written to {path}")


if __name__ == "__main__":
    main()
