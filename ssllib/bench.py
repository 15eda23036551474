"""Throughput of a training step, measured on this machine.

    python -m ssllib.bench [--profile cpu] [--steps 20]

Two figures for the same MoCo-v2 model and batch: the full step (batch indexing, on-device
augmentation of both views, key shuffle, EMA update, forward, backward, optimiser step,
enqueue) and the bare encoders: query forward/backward and key forward with the same loss on
views augmented once beforehand (the compute limit). Their
ratio is the pipeline's efficiency; the results are printed and written to
``results/bench/step-<profile>.json``.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from .checkpoint import write_json
from .config import RunConfig
from .devices import autocast, autocast_dtype, pick_device, place_model
from .ledger import device_name, environment, results_dir
from .loader import TrainBatches
from .losses import contrastive_logits, info_nce
from .methods import build_method
from .profiles import FOUNDATIONS, resolve
from .trainer import load_run_data, optimise, prepare_inputs


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def step_throughput(cfg: RunConfig, steps: int = 20, warmup: int = 5, data=None) -> dict:
    """Images per second of the full training step and of the bare forward/backward."""
    device = pick_device(cfg.device)
    dtype = autocast_dtype(device, cfg.precision)
    data = data or load_run_data(cfg)
    torch.manual_seed(cfg.seed)
    model, channels_last = place_model(build_method(cfg, data.train, data.size), device, cfg.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.sgd_momentum, weight_decay=cfg.weight_decay)
    batches = TrainBatches(data.train, cfg.batch_size, device, data.size, (cfg.crop_min_scale, 1.0), num_workers=cfg.num_workers)
    gen = torch.Generator(device=device if device.type == "cuda" else "cpu").manual_seed(0)

    def batch_stream():
        while True:
            yield from batches.epoch(torch.Generator().manual_seed(0))

    stream = batch_stream()

    def full_step():
        images, labels = next(stream)
        return optimise(model, optimizer, prepare_inputs(model, images, labels, gen, channels_last),
                        device, dtype, 0, 0.5, gen)

    images, labels = next(stream)
    view_q, view_k = prepare_inputs(model, images, labels, gen, channels_last)

    def bare_step():
        """The encoders' compute alone: no batch draw, augmentation, shuffle, EMA or enqueue."""
        with autocast(device, dtype):
            q = F.normalize(model.encoder(view_q), dim=1)
            with torch.no_grad():
                k = F.normalize(model.momentum_encoder(view_k), dim=1)
            loss = info_nce(contrastive_logits(q, k, model.queue.keys.to(q.dtype)), model.temperature)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def timed(step):
        for _ in range(warmup):
            step()
        _sync(device)
        start = time.perf_counter()
        for _ in range(steps):
            step()
        _sync(device)
        return cfg.batch_size * steps / (time.perf_counter() - start)

    # Interleave to share any drift in machine speed between the two.
    full, bare = [], []
    for _ in range(2):
        full.append(timed(full_step))
        bare.append(timed(bare_step))
    result = {"method": cfg.method, "backbone": f"{cfg.backbone} w{cfg.width} {data.size}px", "batch": cfg.batch_size,
              "full_img_per_s": max(full), "bare_img_per_s": max(bare), "device": device_name(device)}
    result["full_over_bare"] = result["full_img_per_s"] / result["bare_img_per_s"]
    result["pipeline_share_of_step"] = 1 - result["full_over_bare"]
    return result


def step_time_ratio(cfg: RunConfig, baseline: RunConfig, steps: int = 2, rounds: int = 16, warmup: int = 3,
                    data=None) -> dict:
    """Seconds per training step of ``cfg`` and of ``baseline`` (for example SynCo and MoCo-v2)
    on the same batches, timed in alternating rounds so that drift in machine speed falls on
    both; the ratio is the median over rounds of each round's ratio. Steps run at the last epoch, after any
    warm-up, so methods that switch something on later are timed with it on."""
    device = pick_device(cfg.device)
    data = data or load_run_data(cfg)
    epoch = cfg.epochs - 1
    timers = {}
    for name, c in (("method", cfg), ("baseline", baseline)):
        dtype = autocast_dtype(device, c.precision)
        torch.manual_seed(c.seed)
        model, channels_last = place_model(build_method(c, data.train, data.size), device, c.channels_last)
        optimizer = torch.optim.SGD(model.parameters(), lr=c.lr, momentum=c.sgd_momentum, weight_decay=c.weight_decay)
        batches = TrainBatches(data.train, c.batch_size, device, data.size, (c.crop_min_scale, 1.0),
                               num_workers=c.num_workers)
        timers[name] = _step_timer(model, optimizer, batches, device, dtype, channels_last, epoch)
    times = {name: [] for name in timers}
    for name, timer in timers.items():
        timer(warmup)
    for r in range(rounds):
        order = list(timers) if r % 2 == 0 else list(reversed(timers))  # ABBA: drift falls on both
        for name in order:
            times[name].append(timers[name](steps) / steps)
    ratios = sorted(m / b for m, b in zip(times["method"], times["baseline"]))
    median = {name: statistics.median(t) for name, t in times.items()}
    return {"method": cfg.method, "baseline": baseline.method, "method_step_s": median["method"],
            "baseline_step_s": median["baseline"], "ratio": statistics.median(ratios),
            "ratio_range": (ratios[0], ratios[-1]), "steps": steps, "rounds": rounds, "device": device_name(device)}


def _step_timer(model, optimizer, batches, device, dtype, channels_last, epoch):
    """A function n -> seconds taken by n full training steps on a fixed cycle of batches."""
    gen = torch.Generator(device=device if device.type == "cuda" else "cpu").manual_seed(0)

    def stream():
        while True:
            yield from batches.epoch(torch.Generator().manual_seed(0))

    batches_iter = stream()

    def run(n: int) -> float:
        _sync(device)
        start = time.perf_counter()
        for _ in range(n):
            images, labels = next(batches_iter)
            optimise(model, optimizer, prepare_inputs(model, images, labels, gen, channels_last),
                     device, dtype, epoch, 0.5, gen)
        _sync(device)
        return time.perf_counter() - start
    return run


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ssllib.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="cpu", choices=("smoke", "cpu", "paper"))
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--dataset", default=None)
    args = parser.parse_args(argv)
    settings = resolve(FOUNDATIONS, {"profile": args.profile, "dataset": args.dataset})
    cfg = settings.run_config()
    result = step_throughput(cfg, steps=args.steps)
    print(f"{result['method']} {result['backbone']}, batch {result['batch']}, on {result['device']}")
    print(f"  full step (augmentation, queue, EMA included): {result['full_img_per_s']:8.0f} images/s")
    print(f"  bare forward/backward on fixed views:          {result['bare_img_per_s']:8.0f} images/s")
    print(f"  full ÷ bare: {result['full_over_bare']:.3f}")
    path = results_dir() / "bench" / f"step-{args.profile}.json"
    write_json({**result, "environment": environment(pick_device(cfg.device)), "config": cfg.to_dict()}, path)
    print(f"written to {path}")


if __name__ == "__main__":
    main()
