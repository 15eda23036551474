"""From a chapter to a launcher: a chapter's runs at any profile, as the JSON files
``python -m ssllib.train`` (and so ``torchrun``) takes.

    python -m ssllib.chapters.launch synco --profile paper -p data_root /data --out runs/

writes one file per run the chapter's settings make (``runs/synco-mocov2.json``, …) and prints
the command that trains each. Values after ``-p`` are read as papermill reads them (YAML: ``3``,
``0.5``, ``true``, ``[150, 180, 210]``). Settings are checked as the chapter checks them, all
conflicts in one message, before anything is written; the dataset need not be on this machine.

Which runs: each method the chapter trains (its spec's ``methods``) with the chapter's settings,
on every backbone it trains (the supervised baseline on its own epochs and rate); a distillation
student trains its teacher first, or reads ``teacher_checkpoint``. A chapter's variants of one
method (CueCo's two forms, an ablation) are the same file with another ``-p`` value. Each run is
one seed (``first_seed``): pass ``-p first_seed N`` for another. The whole-slide and retrieval
chapters make their runs from other runs' outputs, so they have no launcher file.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ssllib.chapters.spec import ChapterSpec, Settings, resolve
from ssllib.engine.params import ParameterError


def run_configs(spec: ChapterSpec, settings: Settings) -> dict[str, dict]:
    """``{name: configuration as plain values}`` of each run the chapter's settings make."""
    seed = {"seed": settings.get("first_seed", 0)}
    if spec.family == "distillation":
        return {method: settings.distill_config(method, **seed).to_dict() for method in spec.methods}
    if not any(name in settings for name in ("epochs", "batch_size")):
        return {}
    out = {}
    for backbone in [{"backbone": settings[name]} for name in spec.backbones] or [{}]:
        suffix = f"-{backbone['backbone']}" if backbone else ""
        for name in spec.methods:
            if name == "supervised":  # the baseline, on its own epochs and rate where the chapter sets them
                changes = {k: settings[s] for k, s in (("epochs", "supervised_epochs"), ("lr", "supervised_lr"))
                           if s in settings}
                config = settings.run_config(method=name, **changes, **backbone, **seed)
            else:
                config = settings.run_config(method=name, options=settings.method_options(name), **backbone, **seed)
            out[f"{name}{suffix}"] = config.to_dict()
    return out


def parameters_given(pairs, parameters_file: Path | None = None) -> dict:
    """The parameters of a command line as papermill reads them: a YAML file (``-f``), then each
    ``-p NAME VALUE`` pair with its value read as YAML (``3``, ``0.1``, ``[1, 2]``, ``null``)."""
    import yaml

    given = yaml.safe_load(parameters_file.read_text()) or {} if parameters_file else {}
    given.update({name: yaml.safe_load(value) for name, value in pairs})
    return given


def main(argv: list[str] | None = None) -> int:
    from ssllib.chapters import chapter_specs

    specs = chapter_specs()
    parser = argparse.ArgumentParser(prog="python -m ssllib.chapters.launch", description=__doc__.split("\n\n")[0])
    parser.add_argument("chapter", choices=sorted(specs), help="the chapter whose runs to write")
    parser.add_argument("--profile", default=None, help="smoke, cpu or paper (default: $SSLLIB_PROFILE, else cpu)")
    parser.add_argument("--budget", default=None, help="full (default) or tiny (a dry run)")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="a chapter parameter, as papermill's -p; repeatable")
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for the JSON files (default: here)")
    args = parser.parse_args(argv)
    spec = specs[args.chapter]
    given = {"profile": args.profile, "budget": args.budget, **parameters_given(args.parameter)}
    try:
        settings = resolve(spec, given, check_data=False)
        configs = run_configs(spec, settings)
    except ParameterError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not configs:
        print(f"error: the {args.chapter} chapter makes its runs from other runs' outputs; execute the chapter "
              f"(papermill) instead", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    from ssllib.engine.checkpoint import write_json

    for name, config in configs.items():
        path = args.out / f"{args.chapter}-{name}.json"
        write_json(config, path)
        print(f"{path}: python -m ssllib.train {path} --paper {args.chapter} --profile {settings.record_profile}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
