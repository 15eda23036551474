"""The JPEG path: decoding and cropping in DataLoader workers, per worker, and the workers a
training step needs.

    python -m ssllib.bench.jpeg [--images 512] [--workers 0,1,2] [--size 224] [--step-rate 3000]

Makes a synthetic folder in ImageNet's layout (``train/<wnid>/*.JPEG`` and ``val/``: smooth
random images of ImageNet's typical 500 × 375 at quality 90) unless ``--folder`` names one, and
reads it the way training does: the book's image-folder dataset and
:class:`~ssllib.data.loader.TrainBatches` (in each worker: decode with PIL, two random resized
crops with flips, stacked; then the batch moves to the device). For each worker count it times
one epoch, worker start-up included, and reports images per second, per worker, and

    workers needed = ⌈ step rate ÷ images per second per worker ⌉

for the training step's rate (``--step-rate``; without it, for reference rates of 1,000, 3,000
and 10,000 images/s, which are not measurements). It also times the decoders alone on one core:
PIL (what the workers use) and ``torchvision.io.decode_jpeg`` (libjpeg-turbo), and on CUDA the
batched ``decode_jpeg(..., device="cuda")``, saying whether decoding on the GPU is faster.
Results: ``results/bench/jpeg-<device>.json``.
"""
from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from ssllib.data.base import FolderDataset, decode_rgb
from ssllib.data.formats import list_class_folders
from ssllib.data.loader import TrainBatches
from ssllib.engine.checkpoint import write_json
from ssllib.engine.devices import pick_device
from ssllib.engine.ledger import environment, results_dir

REFERENCE_RATES = (1000.0, 3000.0, 10000.0)
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def make_jpeg_folder(root: str | Path, images: int, classes: int = 8, height: int = 375, width: int = 500,
                     quality: int = 90, seed: int = 0) -> Path:
    """``images`` JPEGs in ImageNet's layout under ``root`` (``train/n0000000k/…`` and one image
    per class under ``val/``): smooth random colour fields, so they compress like photographs
    rather than like noise."""
    from torchvision.io import encode_jpeg, write_file

    root = Path(root)
    generator = torch.Generator().manual_seed(seed)
    for i in range(images + classes):
        split, k = ("train", i % classes) if i < images else ("val", i - images)
        coarse = torch.rand(1, 3, height // 25, width // 25, generator=generator)
        image = (F.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=False)[0]
                 .clamp(0, 1) * 255).to(torch.uint8)
        path = root / split / f"n{k:08d}" / f"image_{i:06d}.JPEG"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_file(str(path), encode_jpeg(image, quality=quality))
    return root


def folder_dataset(root: str | Path) -> FolderDataset:
    """The training split of an ImageNet-layout folder as the book reads one (any class count)."""
    files, labels, classes = list_class_folders(Path(root) / "train")
    return FolderDataset("jpeg-bench", "train", files, labels, classes, IMAGENET_MEAN, IMAGENET_STD)


def loader_throughput(dataset: FolderDataset, workers: int, size: int = 224, batch: int = 64,
                      device: str = "auto") -> dict:
    """One epoch of training batches read with ``workers`` DataLoader workers (0: in this
    process), worker start-up included: images per second, and per worker."""
    dev = pick_device(device)
    batches = TrainBatches(dataset, batch, dev, size, views=2, num_workers=workers)
    start = time.perf_counter()
    seen = 0
    for images, _ in batches.epoch(torch.Generator().manual_seed(0)):
        seen += images.shape[0]
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    seconds = time.perf_counter() - start
    rate = seen / seconds
    return {"workers": workers, "images": seen, "seconds": seconds, "img_per_s": rate,
            "img_per_s_per_worker": rate / max(workers, 1)}


def decoder_throughput(files: list[Path], device: str = "auto", batch: int = 64) -> dict:
    """Images per second of each decoder alone on one core (and, on CUDA, on the GPU)."""
    from torchvision.io import decode_jpeg, read_file

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        start = time.perf_counter()
        for f in files:
            decode_rgb(f)
        rates = {"PIL (one core)": len(files) / (time.perf_counter() - start)}
        data = [read_file(str(f)) for f in files]
        start = time.perf_counter()
        for d in data:
            decode_jpeg(d)
        rates["torchvision.io.decode_jpeg (one core)"] = len(files) / (time.perf_counter() - start)
    finally:
        torch.set_num_threads(threads)
    dev = pick_device(device)
    if dev.type == "cuda":
        decode_jpeg(data[:batch], device=dev)                       # warm-up
        torch.cuda.synchronize(dev)
        start = time.perf_counter()
        for i in range(0, len(data), batch):
            decode_jpeg(data[i:i + batch], device=dev)
        torch.cuda.synchronize(dev)
        rates[f"torchvision.io.decode_jpeg on {torch.cuda.get_device_name(dev)} (batches of {batch})"] = \
            len(files) / (time.perf_counter() - start)
    return rates


def workers_needed(step_rate: float, per_worker: float) -> int:
    """⌈ step rate ÷ per-worker rate ⌉: the workers that keep a step of ``step_rate`` images/s fed."""
    if per_worker <= 0:
        raise ValueError("a per-worker rate must be positive")
    return math.ceil(step_rate / per_worker)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ssllib.bench.jpeg", description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=512, help="training images of the synthetic folder")
    parser.add_argument("--folder", help="an ImageNet-layout folder to read instead (train/<class>/*.JPEG)")
    parser.add_argument("--workers", default="0,1,2", help="DataLoader worker counts, comma-separated")
    parser.add_argument("--size", type=int, default=224, help="side of the training crops")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--step-rate", type=float, help="the training step's images/s to feed")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    counts = [int(w) for w in args.workers.split(",") if w.strip()]
    with tempfile.TemporaryDirectory(prefix="ssllib-jpeg-") as scratch:
        root = Path(args.folder) if args.folder else make_jpeg_folder(scratch, args.images)
        dataset = folder_dataset(root)
        print(f"{len(dataset):,} JPEGs in {root}, crops of {args.size} px, batches of {args.batch}")
        loaders = [loader_throughput(dataset, w, args.size, args.batch, args.device) for w in counts]
        decoders = decoder_throughput(dataset.files[:256], args.device)
    for r in loaders:
        print(f"  {r['workers']} workers: {r['img_per_s']:8.1f} images/s ({r['img_per_s_per_worker']:.1f} per worker)")
    for name, rate in decoders.items():
        print(f"  decode only, {name}: {rate:8.1f} images/s")
    per_worker = max(r["img_per_s_per_worker"] for r in loaders if r["workers"] > 0) if any(
        r["workers"] > 0 for r in loaders) else loaders[0]["img_per_s"]
    rates = [args.step_rate] if args.step_rate else list(REFERENCE_RATES)
    needed = {f"{rate:g}": workers_needed(rate, per_worker) for rate in rates}
    label = "the step's" if args.step_rate else "reference (not measured)"
    print(f"  workers to feed {label} rates at {per_worker:.1f} images/s per worker: "
          + ", ".join(f"{n} for {r} images/s" for r, n in needed.items()))
    gpu = [k for k in decoders if " on " in k]
    if gpu:
        faster = decoders[gpu[0]] > per_worker * max(counts)
        print(f"  decoding on the GPU is {'faster' if faster else 'not faster'} than {max(counts)} workers here")
    dev = pick_device(args.device)
    path = results_dir() / "bench" / f"jpeg-{dev.type}.json"
    write_json({"loaders": loaders, "decoders": decoders, "per_worker": per_worker, "workers_needed": needed,
                "step_rate_measured": bool(args.step_rate), "size": args.size, "batch": args.batch,
                "images": len(dataset), "environment": environment(dev),
                "command": " ".join(["python -m ssllib.bench.jpeg", *(argv or [])])}, path)
    print(f"written to {path}")


if __name__ == "__main__":
    main()
