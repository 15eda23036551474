"""Launch a run on several processes from Python (a notebook, say) and read back its record.

    from ssllib.engine.launch import train_on_processes
    record = train_on_processes(settings.run_config(method="synco"), nproc=4)

It writes the configuration to a JSON file, runs ``torchrun --standalone --nproc_per_node N
-m ssllib.train`` on it, echoes the output as it comes, and returns the record rank 0 wrote.
Several nodes need torchrun's own rendezvous options; run the command from a shell there.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import deque
from pathlib import Path


def torchrun_command(config_path: Path, nproc: int, *, paper: str = "", profile: str = "",
                     runs_dir: str | Path | None = None, ledger_dir: str | Path | None = None,
                     evaluate: bool = True) -> list[str]:
    """The command line that trains ``config_path`` on ``nproc`` processes of this machine."""
    if not isinstance(nproc, int) or nproc < 1:
        raise ValueError(f"nproc={nproc!r} must be a positive whole number of processes")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               "-m", "ssllib.train", str(config_path), "--paper", paper, "--profile", profile]
    if runs_dir is not None:
        command += ["--runs-dir", str(runs_dir)]
    if ledger_dir is not None:
        command += ["--ledger-dir", str(ledger_dir)]
    if not evaluate:
        command.append("--no-eval")
    return command


def train_on_processes(cfg, nproc: int, *, paper: str = "", profile: str = "",
                       runs_dir: str | Path | None = None, ledger_dir: str | Path | None = None,
                       evaluate: bool = True, echo: bool = True) -> dict:
    """Train ``cfg`` (a RunConfig or DistillConfig) on ``nproc`` processes and return its record."""
    with tempfile.TemporaryDirectory() as folder:
        config_path = Path(folder) / "run.json"
        config_path.write_text(json.dumps(cfg.to_dict()))
        command = torchrun_command(config_path, nproc, paper=paper, profile=profile, runs_dir=runs_dir,
                                   ledger_dir=ledger_dir, evaluate=evaluate)
        env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
        tail: deque[str] = deque(maxlen=40)
        first_error: list[str] = []  # rank 0's traceback, which torchrun's summary leaves out
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env) as proc:
            for line in proc.stdout:
                tail.append(line.rstrip("\n"))
                if line.startswith("[rank0]:") and len(first_error) < 80:
                    first_error.append(line.rstrip("\n"))
                if echo:
                    print(line, end="", flush=True)
        if proc.returncode != 0:
            raise RuntimeError(f"the {nproc}-process run failed (exit status {proc.returncode}); its output ends:\n"
                               + "\n".join(first_error or tail))
    record_path = Path(next(line for line in reversed(tail) if line.endswith("record.json")))
    return json.loads(record_path.read_text())
