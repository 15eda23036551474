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


# Set by ``python -m ssllib.book`` for the chapters it executes: the commit its tree was checked
# against before any work started, and whether it held every change (JSON: commit, clean, root).
BUILT_FROM_ENV = "SSLLIB_BUILT_FROM"
# What a build writes itself, after its check of the tree: the executed chapters and the runs it
# commits after each of them. A build of several chapters would otherwise call every chapter after
# the first one built from uncommitted files.
BUILD_OUTPUTS = (":(exclude)book/*.ipynb", ":(exclude)papers/*/runs/*")


def git_head(root: str | Path = REPO_ROOT) -> str | None:
    """The full commit ``root`` has checked out; None when ``root`` is not the top of a git checkout
    (a tarball, or a copy inside another repository) or git is missing."""
    try:
        out = subprocess.run(["git", "rev-parse", "--show-toplevel", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = out.stdout.split()
    if out.returncode != 0 or len(lines) != 2 or Path(lines[0]).resolve() != Path(root).resolve():
        return None
    return lines[1]


def tracked_changes(root: str | Path = REPO_ROOT, *exclude: str) -> list[str]:
    """``git status --porcelain`` lines of the tracked files that differ from HEAD (staged or not),
    leaving out the ``:(exclude)…`` pathspecs given. When git cannot tell, that is what it says:
    a tree it could not check is not called clean."""
    try:
        out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", *exclude],
                             cwd=root, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as err:
        return [f"git status failed: {err}"]
    return out.stdout.splitlines() if out.returncode == 0 else [f"git status failed: {out.stderr.strip()}"]


def built_from(start: dict[str, Any] | None = None) -> tuple[str | None, bool | None]:
    """(commit, clean): the commit the code running now comes from, and whether the tree held
    nothing else; (None, None) outside a git checkout.

    Under the book builder (``start``, else ``$SSLLIB_BUILT_FROM``) the commit is the one its
    tree was checked against before it started, clean only if that check found nothing and no
    file but what the build writes itself (the executed chapters, the committed runs) changed
    since. Elsewhere it is HEAD, clean when no tracked file differs from it (the executed
    chapters left out, as a build writes them)."""
    if start is None and os.environ.get(BUILT_FROM_ENV):
        start = json.loads(os.environ[BUILT_FROM_ENV])
    if start is not None:
        if start.get("commit") is None:
            return None, None
        root = start.get("root") or REPO_ROOT
        return start["commit"], bool(start.get("clean")) and not tracked_changes(root, *BUILD_OUTPUTS)
    head = git_head()
    if head is None:
        return None, None
    return head, not tracked_changes(REPO_ROOT, BUILD_OUTPUTS[0])


def git_commit() -> str | None:
    """The commit of :func:`built_from`, with '+dirty' when the tree held more than it; None
    outside a git checkout."""
    commit, clean = built_from()
    return None if commit is None else commit + ("" if clean else "+dirty")


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
