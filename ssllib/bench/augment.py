"""Throughput of MoCo-v2's training view, made five ways on the training device.

    python -m ssllib.bench.augment [--batch 256] [--source 32] [--size 32] [--rounds 5]

The same view (random resized crop with flip, colour jitter in random order, grayscale, Gaussian
blur, normalisation), every image with its own draws, on a batch of uint8 images already on the
device:

- ``ssllib eager``: :class:`~ssllib.data.augment.ViewAugmentation` as training runs it on this
  device (on the CPU only the drawn rows are transformed; on a GPU every row, see
  :func:`~ssllib.data.augment.sync_free_default`);
- ``ssllib eager, sync-free``: every row through every step, the drawn rows kept (what a GPU runs);
- ``ssllib compiled``: :class:`~ssllib.data.augment.CompiledViews`, the sync-free pixel work as
  one ``torch.compile`` graph (what ``compile=True`` trains with; compilation not timed);
- ``kornia``: the same transforms as one ``kornia.augmentation.AugmentationSequential``
  (per-sample parameters; ``ColorJiggle`` for torchvision's random order);
- ``torchvision v2``: ``torchvision.transforms.v2`` image by image (called on a whole batch, v2
  draws one set of parameters for all of it, which is another augmentation).

Each is timed for ``--rounds`` rounds after a warm-up call and the median kept; the figures are
printed and written to ``results/bench/augment-<device>-<size>.json``.
"""
from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

import torch

from ssllib.data.augment import CompiledViews, ViewAugmentation
from ssllib.engine.checkpoint import write_json
from ssllib.engine.devices import pick_device
from ssllib.engine.ledger import environment, results_dir

MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
WAYS = ("ssllib eager", "ssllib eager, sync-free", "ssllib compiled", "kornia", "torchvision v2")


def kornia_views(aug: ViewAugmentation):
    import kornia.augmentation as K

    b, c, s, h = aug.jitter
    pipeline = K.AugmentationSequential(
        K.RandomResizedCrop((aug.size, aug.size), scale=aug.crop_scale, ratio=aug.crop_ratio),
        K.ColorJiggle(b, c, s, h, p=aug.jitter_p), K.RandomGrayscale(p=aug.grayscale_p),
        K.RandomGaussianBlur((aug.kernel_size, aug.kernel_size), aug.blur_sigma, p=aug.blur_p),
        K.RandomHorizontalFlip(p=aug.flip_p), K.Normalize(torch.tensor(MEAN), torch.tensor(STD)))
    return lambda images: pipeline(images.float() / 255)


def torchvision_views(aug: ViewAugmentation):
    from torchvision.transforms import v2 as T

    b, c, s, h = aug.jitter
    one = T.Compose([T.RandomResizedCrop(aug.size, scale=aug.crop_scale, ratio=aug.crop_ratio, antialias=True),
                     T.RandomApply([T.ColorJitter(b, c, s, h)], p=aug.jitter_p), T.RandomGrayscale(aug.grayscale_p),
                     T.RandomApply([T.GaussianBlur(aug.kernel_size, aug.blur_sigma)], p=aug.blur_p),
                     T.RandomHorizontalFlip(aug.flip_p), T.ToDtype(torch.float32, scale=True), T.Normalize(MEAN, STD)])
    return lambda images: torch.stack([one(image) for image in images])


def _median_seconds(make, images, device, rounds: int) -> float:
    make(images)                                  # warm-up (compiled: the compilation)
    times = []
    for _ in range(rounds):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        make(images)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def view_throughput(batch: int = 256, source: int = 32, size: int = 32, rounds: int = 5, device: str = "auto",
                    ways: tuple[str, ...] = WAYS) -> dict:
    """Images per second of each way of making the view, and each ÷ ``ssllib eager``."""
    dev = pick_device(device)
    images = torch.randint(0, 256, (batch, 3, source, source), generator=torch.Generator().manual_seed(0),
                           dtype=torch.uint8).to(dev)
    aug = ViewAugmentation(size=size)
    generator = torch.Generator(dev).manual_seed(0)
    with_draws = {"ssllib eager": aug, "ssllib eager, sync-free": replace(aug, sync_free=True)}
    makers = {name: (lambda a: lambda x: a(x, MEAN, STD, generator))(a) for name, a in with_draws.items()}
    if "ssllib compiled" in ways:
        compiled = CompiledViews(aug, devices=(dev.type,))
        makers["ssllib compiled"] = lambda x: compiled(x, MEAN, STD, generator)
    makers.update({"kornia": kornia_views(aug), "torchvision v2": torchvision_views(aug)})
    rates = {}
    for name in ways:
        start = time.perf_counter()
        seconds = _median_seconds(makers[name], images, dev, rounds)
        rates[name] = {"img_per_s": batch / seconds, "first_call_s": time.perf_counter() - start - rounds * seconds}
    base = rates["ssllib eager"]["img_per_s"] if "ssllib eager" in rates else None
    for r in rates.values():
        r["over_ssllib_eager"] = r["img_per_s"] / base if base else None
    return {"batch": batch, "source": source, "size": size, "rounds": rounds, "device": str(dev), "views": rates}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ssllib.bench.augment", description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--source", type=int, default=32, help="side of the stored images")
    parser.add_argument("--size", type=int, default=32, help="side of the views")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    result = view_throughput(args.batch, args.source, args.size, args.rounds, args.device)
    print(f"MoCo-v2 views of a batch of {args.batch} ({args.source} px → {args.size} px) on {result['device']}:")
    for name, r in result["views"].items():
        print(f"  {name:<24} {r['img_per_s']:10.0f} images/s  ({r['over_ssllib_eager']:.2f} × ssllib eager; "
              f"first call {r['first_call_s']:.1f} s)")
    dev = pick_device(args.device)
    path = results_dir() / "bench" / f"augment-{dev.type}-{args.size}.json"
    write_json({**result, "environment": environment(dev),
                "command": " ".join(["python -m ssllib.bench.augment", *(argv or [])])}, path)
    print(f"written to {path}")


if __name__ == "__main__":
    main()
