"""Time and peak memory of the book's linear probe (full-batch L-BFGS on standardised features,
ssllib.evaluate.frozen.linear_probe) on synthetic features of the ImageNet protocol's width and
classes (2,048 × 1,000), at growing numbers of training images, each size in a fresh process;
extrapolated linearly to ImageNet-1k's 1.28 M images. Writes benchmarks/linear-probe-scale-<machine>.json.

    python benchmarks/linear-probe-scale.py [--sizes 5000,10000,20000] [--iters 10] [--machine cpu-2core]
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


def one(n: int, dim: int, classes: int, iters: int) -> dict:
    import torch

    from ssllib.evaluate.frozen import linear_probe

    gen = torch.Generator().manual_seed(0)
    labels = torch.randint(classes, (n,), generator=gen)
    centres = torch.randn(classes, dim, generator=gen)
    x = centres[labels] + 2 * torch.randn(n, dim, generator=gen)
    test_labels = torch.randint(classes, (1000,), generator=gen)
    xt = centres[test_labels] + 2 * torch.randn(1000, dim, generator=gen)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    top1, protocol = linear_probe(x, labels, xt, test_labels, classes, l2=1e-4, max_iter=iters)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"n": n, "seconds": seconds, "seconds_per_iteration": seconds / iters, "features_gb": n * dim * 4 / 1e9,
            "peak_rss_gb": peak / 1e6, "rss_growth_gb": (peak - before) / 1e6, "top1": top1}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="5000,10000,20000")
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--iters", type=int, default=10, help="L-BFGS iterations timed (the book's probe allows 200)")
    parser.add_argument("--machine", default="cpu")
    parser.add_argument("--one", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.dim, args.classes, args.iters)))
        return 0
    rows = []
    for n in map(int, args.sizes.split(",")):
        out = subprocess.run([sys.executable, __file__, "--one", str(n), "--dim", str(args.dim), "--classes",
                              str(args.classes), "--iters", str(args.iters)], capture_output=True, text=True,
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
    result = {"when": time.strftime("%Y-%m-%d"), "dim": args.dim, "classes": args.classes, "iters": args.iters,
              "rows": rows, "imagenet_estimate": estimate}
    path = ROOT / "benchmarks" / f"linear-probe-scale-{args.machine}.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"{path}: at 1.28 M images about {estimate['peak_rss_gb']:.0f} GB and {estimate['seconds_per_iteration']:.0f} s "
          f"per L-BFGS iteration on this machine")
    return 0


if __name__ == "__main__":
    sys.exit(main())
