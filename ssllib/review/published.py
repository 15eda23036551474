"""Every published number the book carries, as one tidy table.

Each paper's ``papers/<slug>/reported.csv`` has the columns its tables need (a distillation
table has a teacher and a student, a retrieval table a direction). :func:`read_reported` maps
them onto one set of columns (each row's ``evaluation``, declared in its file, says how the
number was measured: :mod:`ssllib.review.evaluations`), keeps every number with the file and line it came from, and
refuses a row it cannot read, naming the file and line.
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ssllib.engine.ledger import REPO_ROOT
from ssllib.review.evaluations import EVALUATIONS

PAPERS_DIR = REPO_ROOT / "papers"

COLUMNS = ["paper", "method", "kind", "dataset", "backbone", "pretrain_epochs", "setting", "evaluation", "metric",
           "value", "std", "runs", "source", "row"]
REQUIRED = ("method", "evaluation", "metric", "value", "source")
# Columns that say under which conditions a number was measured; joined into ``setting``.
SETTING_COLUMNS = ("table", "task", "protocol", "direction")


class ReportedError(ValueError):
    """A published table the reader cannot use: the message names the file and line."""


def _blank(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or str(value).strip() == ""


def _number(value, where: str, column: str) -> float | None:
    if _blank(value):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ReportedError(f"{where}: {column} is {value!r}, not a number") from None
    if not math.isfinite(number):
        raise ReportedError(f"{where}: {column} is {value!r}, not a finite number")
    return number


def read_table(path: str | Path, paper: str | None = None) -> pd.DataFrame:
    """One ``reported.csv`` in the tidy columns (:data:`COLUMNS`)."""
    path = Path(path)
    paper = paper or path.parent.name
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise ReportedError(f"{path}: not a readable CSV ({err})") from None
    missing = [c for c in REQUIRED if c not in raw.columns]
    if missing:
        raise ReportedError(f"{path}: no {', '.join(missing)} column; every published table needs "
                            f"{', '.join(REQUIRED)}")
    rows = []
    for i, r in enumerate(raw.to_dict("records")):
        where = f"{relative_to_repo(path)}:{i + 2}"          # line 1 is the header
        for column in ("method", "metric", "source"):
            if _blank(r[column]):
                raise ReportedError(f"{where}: {column} is empty")
        if r["evaluation"] not in EVALUATIONS:
            raise ReportedError(f"{where}: evaluation is {r['evaluation']!r}; name one of "
                                f"{', '.join(EVALUATIONS)} (ssllib/review/evaluations.py says what each means)")
        value = _number(r["value"], where, "value")
        if value is None:
            raise ReportedError(f"{where}: value is empty")
        if "backbone" in r and not _blank(r["backbone"]):
            backbone = r["backbone"]
        elif "teacher" in r and "student" in r:
            backbone = f"{r['teacher']} → {r['student']}"
        else:
            backbone = None
        epochs = _number(r.get("pretrain_epochs"), where, "pretrain_epochs")
        runs = _number(r.get("runs"), where, "runs")
        rows.append({"paper": paper, "method": r["method"], "kind": r.get("kind") or "the paper's table",
                     "dataset": r.get("dataset") or None, "backbone": backbone,
                     "pretrain_epochs": None if epochs is None else int(epochs),
                     "setting": "; ".join(r[c] for c in SETTING_COLUMNS if not _blank(r.get(c))) or None,
                     "evaluation": r["evaluation"], "metric": r["metric"], "value": value, "std": _number(r.get("std"), where, "std"),
                     "runs": None if runs is None else int(runs), "source": r["source"], "row": where})
    return pd.DataFrame(rows, columns=COLUMNS).astype({"pretrain_epochs": "Int64", "runs": "Int64"})


def read_reported(papers_dir: str | Path = PAPERS_DIR) -> pd.DataFrame:
    """Every ``papers/*/reported.csv`` in one table, paper by paper."""
    tables = [read_table(p) for p in sorted(Path(papers_dir).glob("*/reported.csv"))]
    tables = [t for t in tables if len(t)]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=COLUMNS)


def relative_to_repo(path: Path) -> str:
    """``path`` relative to the checkout where it lies inside it."""
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)
