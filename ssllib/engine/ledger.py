"""The results ledger: one JSON record per run.

A record holds the paper, method, dataset, backbone, profile, epochs, seed, metrics (each with
its protocol), the full resolved configuration, the environment (torch, device, git commit),
wall time and start time. Local runs go to ``results/ledger/`` (ignored by git); curated runs
are copied to ``papers/<slug>/runs/`` and committed. Chapters read records; nothing edits them.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import torch

from ssllib.engine.checkpoint import note_run, sealed, write_json

REPO_ROOT = Path(__file__).resolve().parents[2]


def results_dir() -> Path:
    """``$SSLLIB_RESULTS``, else ``results/`` in the checkout (or ``~/.cache/ssllib/results``
    when ssllib is installed outside one)."""
    if os.environ.get("SSLLIB_RESULTS"):
        return Path(os.environ["SSLLIB_RESULTS"]).expanduser()
    if (REPO_ROOT / "pyproject.toml").exists() and os.access(REPO_ROOT, os.W_OK):
        return REPO_ROOT / "results"
    return Path("~/.cache/ssllib/results").expanduser()


def require_writable_results() -> Path:
    """The results folder, checked to be writable before any work starts."""
    from ssllib.engine.params import ParameterError

    folder = results_dir()
    existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if existing is None or not os.access(existing, os.W_OK | os.X_OK):
        raise ParameterError(f"the results folder {folder} is not writable; set SSLLIB_RESULTS to a folder you can "
                             f"write to, or fix its permissions")
    return folder


def ledger_dir() -> Path:
    return results_dir() / "ledger"


def git_commit() -> str | None:
    """HEAD, with '+dirty' when tracked files differ from it. The executed chapters are left out
    of that test: they are what a build writes, so a build of several chapters would otherwise
    mark every chapter after the first as built from uncommitted code."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=5)
        if out.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":(exclude)book/*.ipynb"], cwd=REPO_ROOT, capture_output=True, text=True,
                               timeout=5).stdout.strip()
        return out.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "cpu":
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    return f"CPU: {line.split(':', 1)[1].strip()} ({os.cpu_count()} cores)"
        except OSError:
            pass
        return f"CPU: {platform.processor() or platform.machine()} ({os.cpu_count()} cores)"
    return device.type


def environment(device: torch.device, processes: int = 1) -> dict[str, Any]:
    return {"torch": torch.__version__, "python": platform.python_version(), "device": device_name(device),
            "processes": processes, "threads": torch.get_num_threads(), "git_commit": git_commit()}


def write_record(record: dict[str, Any], directory: str | Path | None = None) -> Path:
    path = Path(directory or ledger_dir()) / f"{record['run_id']}.json"
    write_json(sealed(record), path)
    note_run(record["run_id"])
    return path


def read_records(*directories: str | Path) -> list[dict[str, Any]]:
    """Every record in the given folders (default: the local ledger), oldest first."""
    records = []
    for d in directories or (ledger_dir(),):
        for path in sorted(Path(d).glob("*.json")):
            records.append(json.loads(path.read_text()))
    return sorted(records, key=lambda r: r.get("started", ""))
