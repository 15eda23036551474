"""Command-line entry point: train one run from a JSON configuration.

    python -m ssllib.train run.json [--paper synco] [--profile cpu]

Under ``torchrun`` the same command trains on several processes (one per GPU, or gloo
processes on the CPU), and across nodes through torchrun's rendezvous:

    torchrun --nproc_per_node 4 -m ssllib.train run.json

``batch_size`` stays the global batch; each process takes its share of it, gradients are
averaged, keys are gathered before they join the queue and the key shuffle spans all
processes. Only rank 0 writes checkpoints, the record and the ledger, and evaluates.

``run.json`` holds RunConfig fields (missing ones take their defaults), or, for a distillation
run, DistillConfig fields with a distillation ``method`` (ce, kd, crd, crd_kd, rrd, rrd_kd, dcd,
dcd_kd; see ``ssllib/distill/config.py``). Run it again after an
interruption and it resumes from the last completed epoch; run it after it finished and it
loads the result. The record's path is printed at the end.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .allocator import keep_freed_memory
from .config import RunConfig
from .params import ParameterError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ssllib.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("config", type=Path, help="JSON file of RunConfig fields")
    parser.add_argument("--paper", default="", help="paper slug recorded in the ledger")
    parser.add_argument("--profile", default="", help="profile name recorded in the ledger")
    parser.add_argument("--runs-dir", type=Path, default=None, help="where run folders go (default results/runs)")
    parser.add_argument("--ledger-dir", type=Path, default=None, help="where records go (default results/ledger)")
    parser.add_argument("--no-eval", action="store_true", help="skip the final kNN and linear evaluation")
    args = parser.parse_args(argv)
    keep_freed_memory()

    from .distill.config import METHOD_WEIGHTS, DistillConfig

    try:
        values = json.loads(args.config.read_text())
        distill = isinstance(values, dict) and values.get("method") in METHOD_WEIGHTS
        cfg = (DistillConfig if distill else RunConfig).from_dict(values)
    except FileNotFoundError:
        parser.error(f"no configuration file at {args.config}")
    except (json.JSONDecodeError, ParameterError) as err:
        parser.error(f"{args.config}: {err}")

    from .distributed import init_from_environment, is_main_process, shutdown

    init_from_environment()
    try:
        record_path = _train(cfg, distill, args)
        if is_main_process():
            print(record_path)
    finally:
        shutdown()
    return 0


def _train(cfg, distill: bool, args) -> Path:
    """Train (or load) the run; returns its record's path."""
    if distill:
        from .distill.trainer import train_distill

        result = train_distill(cfg, paper=args.paper, profile=args.profile, runs_dir=args.runs_dir,
                               ledger_dir=args.ledger_dir)
        return result.run_dir / "record.json"

    from .trainer import train

    result = train(cfg, paper=args.paper, profile=args.profile, evaluate=not args.no_eval,
                   runs_dir=args.runs_dir, ledger_dir=args.ledger_dir)
    return result.run_dir / "record.json"


if __name__ == "__main__":
    sys.exit(main())
