"""Command-line entry point: train one run from a JSON configuration.

    python -m ssllib.train run.json [--paper synco] [--profile cpu] [--plugin my_methods.py]

Under ``torchrun`` the same command trains on several processes (one per GPU, or gloo
processes on the CPU), and across nodes through torchrun's rendezvous:

    torchrun --nproc_per_node 4 -m ssllib.train run.json

``batch_size`` stays the global batch; each process takes its share of it, gradients are
averaged, keys are gathered before they join the queue and the key shuffle spans all
processes. Only rank 0 writes checkpoints, the record and the ledger, and evaluates.

``run.json`` names a ``method``; the method's family decides which configuration the other
fields fill (missing ones take their defaults): a self-supervised run
(``ssllib/selfsup/config.py``) or a distillation run (``ssllib/distill/config.py``). A method
declared outside ssllib is loaded with ``--plugin`` (a module name or a .py file that calls
``ssllib.engine.registry.register_method``). Run it again after an interruption and it resumes
from the last completed epoch; run it after it finished (or when the book holds its record) and
it reads the result; after a change of code it first checks the run's first epoch against the
earlier run of the same setting and re-keys it when they are equal bit for bit
(:mod:`ssllib.engine.verify`). The record's path is printed at the end. The whole-slide and
retrieval families read other runs and data a configuration does not name: their chapters make
their runs.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ssllib.data import DatasetDamaged, DatasetNotFound
from ssllib.engine.allocator import keep_freed_memory, refuse_beyond_memory, step_memory
from ssllib.engine.devices import pick_device
from ssllib.engine.checkpoint import CheckpointError, WriteError
from ssllib.engine.loop import TrainingDiverged
from ssllib.engine.params import ParameterError
from ssllib.evaluate.linear import ProbeDiverged
from ssllib.engine.registry import family_of, load_plugin


# Errors a user can cause and fix (a bad value, missing data, a damaged or foreign checkpoint, a
# damaged dataset file, an edited record, a diverged run or probe, a folder that cannot be written):
# reported in their own words.
USER_ERRORS = (ParameterError, DatasetNotFound, DatasetDamaged, CheckpointError, TrainingDiverged, ProbeDiverged,
               PermissionError, WriteError)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ssllib.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("config", type=Path, help="JSON file of run configuration fields, with a method")
    parser.add_argument("--paper", default="", help="paper slug recorded in the ledger")
    parser.add_argument("--profile", default="", help="profile name recorded in the ledger")
    parser.add_argument("--runs-dir", type=Path, default=None, help="where run folders go (default results/runs)")
    parser.add_argument("--ledger-dir", type=Path, default=None, help="where records go (default results/ledger)")
    parser.add_argument("--no-eval", action="store_true", help="skip the final evaluation where a family has one")
    parser.add_argument("--plugin", action="append", default=[],
                        help="import this module or .py file first (it may register methods); repeatable")
    args = parser.parse_args(argv)
    keep_freed_memory()

    try:
        for plugin in args.plugin:
            load_plugin(plugin)
        values = json.loads(args.config.read_text())
        if not isinstance(values, dict):
            raise ParameterError("the file must hold one JSON object of configuration fields")
        family = family_of(values.get("method", "mocov2"))
        if not family.standalone:
            raise ParameterError(f"method {values['method']!r} belongs to the {family.name} family, whose runs also "
                                 f"read other runs and data a configuration does not name; its chapter makes them")
        cfg = family.config.from_dict(values)
        refuse_beyond_memory(step_memory(cfg), pick_device(getattr(cfg, "device", "auto")))
    except FileNotFoundError as err:
        parser.error(f"no such file: {err.filename}")
    except (json.JSONDecodeError, ParameterError) as err:
        parser.error(f"{args.config}: {err}")

    from ssllib.engine.distributed import init_from_environment, is_main_process, shutdown

    init_from_environment()
    try:
        kwargs = dict(paper=args.paper, profile=args.profile, runs_dir=args.runs_dir, ledger_dir=args.ledger_dir,
                      evaluate=not args.no_eval)
        try:
            result = family.train(cfg, **kwargs)
        except USER_ERRORS as err:  # one sentence, no traceback: what is wrong and how to fix it
            parser.exit(1, f"python -m ssllib.train: {type(err).__name__}: {err}\n")
        if is_main_process():
            print(result.record_path)
    finally:
        shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
