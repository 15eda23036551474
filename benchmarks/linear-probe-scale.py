"""Time and peak memory of the book's linear probes on synthetic features of the ImageNet
protocol's width and classes (2,048 × 1,000), at growing numbers of training images, each size in
a fresh process; extrapolated linearly to ImageNet-1k's 1.28 M images:

- ``--solver lbfgs``: full-batch L-BFGS on standardised features (ssllib.evaluate.linear.linear_probe),
  timed per iteration; writes benchmarks/linear-probe-scale-<machine>.json;
- ``--solver sgd``: MoCo's mini-batch SGD protocol (ssllib.evaluate.linear.sgd_linear_probe, batch 256),
  timed per epoch; writes benchmarks/linear-probe-scale-sgd-<machine>.json.

    python benchmarks/linear-probe-scale.py [--solver lbfgs|sgd] [--sizes 5000,10000,20000] [--iters 10]
                                            [--machine cpu-2core]
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def one(n: int, dim: int, classes: int, iters: int, solver: str, device: str = "cpu") -> dict:
    import torch

    from ssllib.evaluate.linear import linear_probe, sgd_linear_probe

    gen = torch.Generator().manual_seed(0)
    labels = torch.randint(classes, (n,), generator=gen)
    centres = torch.randn(classes, dim, generator=gen)
    x = torch.empty(n, dim)
    for start in range(0, n, 4096):  # in chunks, so the peak before the probe is the features themselves
        rows = labels[start:start + 4096]
        x[start:start + len(rows)] = centres[rows] + 2 * torch.randn(len(rows), dim, generator=gen)
    test_labels = torch.randint(classes, (1000,), generator=gen)
    xt = centres[test_labels] + 2 * torch.randn(1000, dim, generator=gen)
    x, labels, xt, test_labels = (t.to(device) for t in (x, labels, xt, test_labels))
    if device != "cpu":
        torch.cuda.reset_peak_memory_stats()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    if solver == "sgd":  # ``iters`` epochs at MoCo's batch; a rate that suits these features
        top1, protocol = sgd_linear_probe(x, labels, xt, test_labels, classes, epochs=iters, lr=0.01, batch_size=256)
    else:
        top1, protocol = linear_probe(x, labels, xt, test_labels, classes, l2=1e-4, max_iter=iters)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"n": n, "seconds": seconds, "seconds_per_iteration": seconds / iters, "features_gb": n * dim * 4 / 1e9,
            "peak_rss_gb": peak / 1e6, "rss_growth_gb": (peak - before) / 1e6, "top1": top1,
            **({"peak_gpu_gb": torch.cuda.max_memory_allocated() / 1e9} if device != "cpu" else {})}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="5000,10000,20000")
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--solver", choices=("lbfgs", "sgd"), default="lbfgs")
    parser.add_argument("--iters", type=int, default=10, help="L-BFGS iterations (the book's probe allows 200), or "
                                                                "SGD epochs (MoCo's protocol runs 100), timed")
    parser.add_argument("--machine", default="cpu")
    parser.add_argument("--device", default="cpu", help="where the features and the probe live (cuda on a GPU)")
    parser.add_argument("--one", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.dim, args.classes, args.iters, args.solver, args.device)))
        return 0
    rows = []
    for n in map(int, args.sizes.split(",")):
        out = subprocess.run([sys.executable, __file__, "--one", str(n), "--dim", str(args.dim), "--classes",
                              str(args.classes), "--iters", str(args.iters), "--solver", args.solver, "--device", args.device], capture_output=True, text=True,
                             check=True, cwd=ROOT)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    a, b = rows[0], rows[-1]  # linear in n: memory and time per iteration
    slope_gb = (b["peak_rss_gb"] - a["peak_rss_gb"]) / (b["n"] - a["n"])
    slope_s = (b["seconds_per_iteration"] - a["seconds_per_iteration"]) / (b["n"] - a["n"])
    imagenet = 1_281_167
    estimate = {"n": imagenet, "peak_rss_gb": a["peak_rss_gb"] + slope_gb * (imagenet - a["n"]),
                "seconds_per_iteration": a["seconds_per_iteration"] + slope_s * (imagenet - a["n"]),
                "features_gb": imagenet * args.dim * 4 / 1e9}
    unit = "SGD epoch" if args.solver == "sgd" else "L-BFGS iteration"
    result = {"when": time.strftime("%Y-%m-%d"), "solver": args.solver, "dim": args.dim, "classes": args.classes,
              "iters": args.iters, "timed_per": unit, "rows": rows, "imagenet_estimate": estimate}
    name = "linear-probe-scale-sgd" if args.solver == "sgd" else "linear-probe-scale"
    path = ROOT / "benchmarks" / f"{name}-{args.machine}.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"{path}: at 1.28 M images about {estimate['peak_rss_gb']:.0f} GB (features alone "
          f"{estimate['features_gb']:.1f} GB) and {estimate['seconds_per_iteration']:.0f} s per {unit} on this machine")
    return 0


if __name__ == "__main__":
    sys.exit(main())
