"""Every run record the book can see, validated, as one tidy table.

Records come from two places (:mod:`ssllib.engine.ledger`): the committed ones under
``papers/<slug>/runs/`` (any depth) and the local ledger, ``results/ledger/``. A record found in
both is the same run (the same ``run_id``) and counts once, as committed. A record that cannot be
read or lacks what a table needs is never dropped quietly: it comes back as a :class:`Problem`
naming the file and what is wrong, and the chapter prints it.

One row per (record, metric). A metric named ``"A->B name"`` (a retrieval direction) is split
into ``direction`` "A → B" and ``metric`` "name"; each row says how it was measured
(``evaluation``, :mod:`ssllib.review.evaluations`). A run that evaluates another run's network
(a transfer probe) stands for that network: its row carries the network's method, backbone and
teacher, and its setting both runs' configurations. One of several runs made for one replicate
(the expert of each cluster of a cross-validation fold) is a ``part`` of it. Where one seed of
one configuration ran more than once (a chapter re-run after a change of code), the newest run
stands for it.
"""
from __future__ import annotations

import hashlib
import json
import re
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import pandas as pd

from ssllib.engine.checkpoint import DIGEST, record_digest
from ssllib.engine.ledger import ledger_dir
from ssllib.review.evaluations import run_evaluation
from ssllib.review.published import PAPERS_DIR, relative_to_repo

COLUMNS = ["paper", "method", "dataset", "backbone", "teacher", "profile", "epochs", "seed", "evaluation", "metric",
           "direction", "value", "protocol", "variant", "replicate", "part", "device", "commit", "started", "run_id",
           "where", "source"]
# The input naming the network a run evaluates (a transfer probe's frozen network).
EVALUATED = "network"
# Configuration fields that differ between the seeds (or machines) of one experiment.
NOT_THE_SETTING = ("seed", "device", "run_dir", "ledger_dir")


@dataclass(frozen=True)
class Problem:
    """A record the reader could not use."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class Records:
    """The readable records' metrics (``table``) and what could not be read (``problems``)."""

    table: pd.DataFrame
    problems: list[Problem]
    configs: dict[str, dict]        # run_id → its setting (:func:`setting_of`), flattened
    where: dict[str, str] = field(default_factory=dict)   # run_id → committed | local

    def provenance(self) -> str:
        """Where the records came from and how many the tables use, as one line."""
        committed = sum(1 for w in self.where.values() if w == "committed")
        used = self.table["run_id"].nunique() if len(self.table) else 0
        return (f"{self.count:,} records read ({committed:,} committed under papers/*/runs/, "
                f"{self.count - committed:,} from the local ledger); the tables use {used:,} of them, the newest "
                f"run of each variant and seed")

    @property
    def count(self) -> int:
        """Records read (each may hold several metrics)."""
        return len(self.configs)

    def papers(self) -> list[str]:
        return sorted(self.table["paper"].unique())


def problem_with(record) -> str | None:
    """Why ``record`` cannot be tabulated, or None when it can."""
    if not isinstance(record, dict):
        return f"holds a JSON {type(record).__name__}, not a record (an object)"
    for key in ("run_id", "paper", "method", "profile"):
        if not isinstance(record.get(key), str) or not record[key].strip():
            return f"has no {key} (a non-empty string)"
    for key in ("seed", "epochs"):
        if record.get(key) is not None and (isinstance(record[key], bool) or not isinstance(record[key], int)):
            return f"{key} is {record[key]!r}, not a whole number"
    metrics = record.get("metrics")
    if not isinstance(metrics, dict):
        return "has no metrics (an object of name → {value, protocol})"
    for name, metric in metrics.items():
        if not isinstance(metric, dict) or "value" not in metric:
            return f"metric {name!r} has no value"
        value = metric["value"]
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not math.isfinite(value)):
            return f"metric {name!r} is {value!r}, not a finite number"
    return None


# A committed artifact's file: <kind>-<12 hex digits of what it was computed from>.json
ARTIFACT_FILE = re.compile(r"^(.+)-[0-9a-f]{12}\.json$")


def artifact_kinds(papers_dir: str | Path = PAPERS_DIR) -> dict[str, list[str]]:
    """The kinds of value committed beside runs (``papers/<paper>/runs/**/artifacts/<kind>-….json``:
    cluster purity and NMI, relation statistics, attention, …), each with the papers whose runs
    hold it: what the chapters print from besides the records' metrics."""
    kinds: dict[str, set[str]] = {}
    for runs in committed_dirs(papers_dir):
        for path in runs.rglob("artifacts/*.json"):
            if match := ARTIFACT_FILE.match(path.name):
                kinds.setdefault(match.group(1), set()).add(runs.parent.name)
    return {kind: sorted(papers) for kind, papers in sorted(kinds.items())}


def committed_dirs(papers_dir: str | Path = PAPERS_DIR) -> list[Path]:
    return sorted(p for p in Path(papers_dir).glob("*/runs") if p.is_dir())


def read_records(committed: Iterable[str | Path] | None = None, local: str | Path | None | bool = None) -> Records:
    """Records under ``committed`` folders (default: every ``papers/*/runs/``, searched to any
    depth) and the ``local`` ledger (default :func:`~ssllib.engine.ledger.ledger_dir`; False: none)."""
    sources = [(Path(d), "committed") for d in (committed_dirs() if committed is None else committed)]
    if local is not False:
        sources.append((Path(ledger_dir() if local in (None, True) else local), "local"))
    readable, problems, configs, wheres = [], [], {}, {}
    for folder, where in sources:
        paths = sorted(p for p in folder.rglob("*.json") if "artifacts" not in p.relative_to(folder).parts) \
            if where == "committed" else sorted(folder.glob("*.json"))
        for path in paths:
            shown = relative_to_repo(path)
            try:
                record = json.loads(path.read_text())
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
                problems.append(Problem(shown, f"is not readable JSON ({err})"))
                continue
            if isinstance(record, dict) and DIGEST in record and record[DIGEST] != record_digest(record):
                problems.append(Problem(shown, "does not match its digest: it was changed after the run wrote it"))
                continue
            if isinstance(record, dict) and DIGEST not in record and where == "committed":
                problems.append(Problem(shown, "carries no digest, so it cannot be told from an edited copy"))
                continue
            reason = problem_with(record)
            if reason:
                problems.append(Problem(shown, reason))
                continue
            if record["run_id"] in wheres:
                continue
            wheres[record["run_id"]] = where
            readable.append((record, where, shown))
    by_id = {record["run_id"]: record for record, _, _ in readable}
    rows = []
    for record, where, shown in readable:
        upstream = evaluated_run(record, by_id)
        configs[record["run_id"]] = setting_of(record, upstream)
        rows.extend(metric_rows(record, where, shown, upstream))
    return Records(newest_per_seed(pd.DataFrame(rows, columns=COLUMNS)), problems, configs, wheres)


def evaluated_run(record: dict, by_id: dict[str, dict]) -> dict | None:
    """The record of the run whose network ``record`` evaluates (a transfer probe's), where it
    was read too; None for a run that evaluates its own network."""
    inputs = record.get("inputs") if isinstance(record.get("inputs"), dict) else {}
    return by_id.get(inputs.get(EVALUATED)) if isinstance(inputs.get(EVALUATED), str) else None


def newest_per_seed(table: pd.DataFrame) -> pd.DataFrame:
    """One run per (paper, variant, replicate: seed, and fold where there are folds): the newest, so a chapter re-run after a change of
    code counts once, not twice."""
    if table.empty:
        return table
    keep = (table.drop_duplicates("run_id").sort_values("started")
            .drop_duplicates(["paper", "variant", "replicate", "part"], keep="last")["run_id"])
    return table[table["run_id"].isin(set(keep))].reset_index(drop=True)


def metric_rows(record: dict, where: str, source: str, upstream: dict | None = None) -> list[dict]:
    """``record``'s metrics as rows; with ``upstream`` (the run whose network it evaluates), the
    rows stand for that network: its method, backbone and teacher."""
    environment = record.get("environment") or {}
    variant = hashlib.sha256(json.dumps([record["method"], record["profile"], setting_of(record, upstream)],
                                        sort_keys=True, default=str).encode()).hexdigest()
    dataset = record.get("dataset")
    fold = FOLD.search(dataset) if isinstance(dataset, str) else None
    part = PART.search(dataset) if isinstance(dataset, str) else None
    replicate = f"seed {record.get('seed')}" + (f", fold {fold.group(1)}" if fold else "")
    network = upstream or record
    common = {"paper": record["paper"], "method": network["method"], "replicate": replicate,
              "part": part.group(0).strip("|") if part else "",
              "dataset": PART.sub("", FOLD.sub("", dataset)) if isinstance(dataset, str) else dataset,
              "backbone": network.get("backbone"), "teacher": network.get("teacher"), "profile": record["profile"],
              "variant": variant[:10],
              "epochs": record.get("epochs"), "seed": record.get("seed"), "device": environment.get("device"),
              "commit": environment.get("git_commit"), "started": str(record.get("started") or ""), "run_id": record["run_id"], "where": where, "source": source}
    rows = []
    for name, metric in record["metrics"].items():
        direction, metric_name = None, name
        if "->" in name and " " in name:
            pair, metric_name = name.split(" ", 1)
            direction = " → ".join(pair.split("->", 1))
        rows.append({**common, "metric": metric_name, "direction": direction, "value": metric["value"],
                     "evaluation": run_evaluation(metric_name, metric.get("protocol")),
                     "protocol": describe_protocol(metric.get("protocol"))})
    return rows


# A cross-validation fold named in a dataset or configuration ('fashion_bags|fold 3'): the folds
# of one experiment are its replicates, as seeds are elsewhere.
FOLD = re.compile(r"\|?fold (\d+)")
# One of several runs of a replicate named in its dataset ('fashion_bags|fold 3|cluster 1 of 3':
# the expert of one cluster): the cluster numbers are arbitrary in each fold, so a cluster's
# runs are not one variant across folds; the parts of a replicate are averaged.
PART = re.compile(r"\|cluster \d+ of \d+")
# An upstream run named in a configuration ('…-s1-78c2961e1ad0'): bound to the seed, not the setting.
SEED_BOUND_RUN = re.compile(r"-s\d+-[0-9a-f]{8,}")


def setting_of(record: dict, upstream: dict | None = None) -> dict:
    """The record's configuration, flattened, without what changes from seed to seed: the seed
    itself, the machine, the seed's own upstream runs (an encoder or captioner trained with the
    same seed), the fold and the part of a fold. With ``upstream`` (the run whose network the
    record evaluates), that run's setting too, under ``network.``."""
    setting = {}
    for key, value in flatten(record.get("config") or {}).items():
        if key.split(".")[-1] in NOT_THE_SETTING:
            continue
        setting[key] = (PART.sub("", FOLD.sub("", SEED_BOUND_RUN.sub("-s<seed>", value))) if isinstance(value, str)
                        else value)
    if upstream is not None:
        setting.update({f"network.{k}": v for k, v in setting_of(upstream).items()})
        setting["network.method"] = upstream["method"]
    return setting


def flatten(config: dict, prefix: str = "") -> dict:
    """{'options': {'n_hard': 8}} → {'options.n_hard': 8}."""
    flat = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def describe_protocol(protocol) -> str:
    """A protocol as one line: 'k: 200; T: 0.1; epoch: last'."""
    if protocol is None:
        return ""
    if isinstance(protocol, dict):
        return "; ".join(f"{k}: {describe_protocol(v)}" for k, v in protocol.items())
    return str(protocol)
