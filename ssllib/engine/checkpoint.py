"""Checkpoints and records written atomically, and read back safely."""
from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch


# Where the book builder asks for a list of the runs a chapter's execution used, one a line: every
# run found, trained or measured in the process (and its children) adds its id, every artifact read
# or written ``<run id>/artifacts/<name>``, and what happened to a run ``<outcome>:<run id>``
# (trained, re-keyed, replaced, measured).
USED_RUNS_ENV = "SSLLIB_RUNS_USED"


def note_run(run_id: str) -> None:
    """Add ``run_id`` to the list named by ``$SSLLIB_RUNS_USED``, if set."""
    if listing := os.environ.get(USED_RUNS_ENV):
        with open(listing, "a", encoding="utf-8") as f:
            f.write(run_id + "\n")


def runs_used(listing: str | Path) -> list[str]:
    """The entries of a list that :func:`note_run` wrote, sorted, each once."""
    path = Path(listing)
    return sorted(set(path.read_text(encoding="utf-8").split())) if path.exists() else []


class CheckpointError(RuntimeError):
    """A checkpoint could not be read, or does not fit the model it is loaded into."""


class WriteError(OSError):
    """A result could not be written (a read-only or full disk); what was there is unchanged."""


def _cannot_write(path: Path, err: OSError) -> WriteError:
    if err.errno == errno.ENOSPC:
        why = "the disk is full; free some space or set SSLLIB_RESULTS to a folder on another disk"
    else:
        why = (f"its folder is not writable ({err.strerror}); set SSLLIB_RESULTS to a writable folder or fix "
               f"the folder's permissions")
    return WriteError(err.errno, f"cannot write {path}: {why} (what was there before is unchanged)")


# Free space below which a failed write is read as a full disk: torch.save reports one as a bare
# RuntimeError ("[enforce fail at inline_container.cc] … unexpected pos"), without an errno.
FULL_DISK_BYTES = 1 << 20


def _another_process_runs(pid: int) -> bool:
    """Whether ``pid`` is a live process of this host other than this one."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True   # alive, another user's
    return True


def _holder_alive(tmp: Path) -> bool:
    """Whether the process that named temporary file ``tmp`` (``.<name>.<pid>.<random>.tmp``) still runs."""
    try:
        pid = int(tmp.name.rsplit(".", 3)[-3])
    except (ValueError, IndexError):
        return False  # an older naming, without a pid: left by a writer that no longer runs
    return _another_process_runs(pid)


def _disk_full(folder: Path) -> bool:
    try:
        return shutil.disk_usage(folder).free < FULL_DISK_BYTES
    except OSError:
        return False


def atomic_write(path: Path, write) -> None:
    """Write to a temporary file beside ``path``, then rename it over ``path``. The temporary
    file is named with the writer's pid; those of writers that no longer run (killed mid-write)
    are removed first, never another live writer's. The result gets the permissions of an
    ordinary new file (0666 less the umask), not mkstemp's 0600. A read-only or full disk raises
    :class:`WriteError` with one sentence, and leaves no temporary file."""
    umask = os.umask(0)
    os.umask(umask)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in path.parent.glob(f".{path.name}.*.tmp"):
            if not _holder_alive(stale):
                stale.unlink(missing_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException as err:
        full = isinstance(err, RuntimeError) and _disk_full(path.parent)
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        if full:
            raise _cannot_write(path, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))) from None
        if isinstance(err, OSError) and err.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC):
            raise _cannot_write(path, err) from None
        raise


def save_checkpoint(state: dict[str, Any], path: str | Path) -> None:
    """``torch.save`` to a temporary file beside ``path``, then rename: a reader (or a crash)
    sees either the old checkpoint or the new one, never half of one."""
    atomic_write(Path(path), lambda f: torch.save(state, f))


RUN_CHECKPOINT_HINT = "move it aside to start the run again from scratch, or restore a good copy"


def load_checkpoint(path: str | Path, map_location="cpu", hint: str = RUN_CHECKPOINT_HINT) -> dict[str, Any]:
    """Load with ``weights_only=True`` (no code in the file is run); a damaged file, a file
    that needs code to unpickle, or one that holds no dict raises :class:`CheckpointError`
    ending with ``hint``, and is left where it is."""
    path = Path(path)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as err:
        unsafe = "GLOBAL" in str(err) or "Unsupported global" in str(err)  # a class or function to import
        what = ("holds objects that only running its code could rebuild, which is refused" if unsafe
                else "is damaged or truncated and cannot be read")
        raise CheckpointError(f"checkpoint {path} {what} ({type(err).__name__}); {hint}") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(state).__name__}, not a dict of weights; {hint}")
    return state


def load_weights(module: torch.nn.Module, state_dict: dict, source: str) -> None:
    """``load_state_dict`` with a readable error when the architecture does not match."""
    result = module.load_state_dict(state_dict, strict=False)
    own = module.state_dict()
    wrong = [k for k, v in state_dict.items() if k in own and own[k].shape != v.shape]
    if result.missing_keys or result.unexpected_keys or wrong:
        parts = []
        if result.missing_keys:
            parts.append(f"{len(result.missing_keys)} missing (e.g. {result.missing_keys[0]})")
        if result.unexpected_keys:
            parts.append(f"{len(result.unexpected_keys)} unexpected (e.g. {result.unexpected_keys[0]})")
        if wrong:
            parts.append(f"{len(wrong)} of another shape (e.g. {wrong[0]})")
        raise CheckpointError(f"{source} does not fit this {type(module).__name__}: "
                              f"{'; '.join(parts)} weights; was it saved from another architecture?")


def write_json(record: dict[str, Any], path: str | Path) -> None:
    """Write a JSON record atomically."""
    text = json.dumps(record, indent=2, sort_keys=True, default=str) + "\n"
    atomic_write(Path(path), lambda f: f.write(text.encode()))


# A run's record carries the SHA-256 of its own content (``digest``), so that a record edited or
# damaged after the run wrote it is never reused as if the run had measured it.
DIGEST = "digest"


class RecordError(CheckpointError):
    """A run's record is unreadable, or its content does not match its digest; the message
    names the file and how to restore it."""


def record_digest(record: dict[str, Any]) -> str:
    """SHA-256 of ``record`` without its digest, as compact sorted JSON (what JSON gives back)."""
    body = {k: v for k, v in json.loads(json.dumps(record, default=str)).items() if k != DIGEST}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def sealed(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` with its digest."""
    return {**{k: v for k, v in record.items() if k != DIGEST}, DIGEST: record_digest(record)}


def write_record_json(record: dict[str, Any], path: str | Path) -> dict[str, Any]:
    """Write a run's record atomically, sealed with its digest; returns what was written."""
    record = sealed(record)
    write_json(record, path)
    return record


RESTORE = ("restore it (git checkout -- <file>, where it is committed) or delete the run's folder so that the run "
           "is trained again")


def read_record_json(path: str | Path, unsealed_ok: bool = False) -> dict[str, Any]:
    """A run's record, checked against its digest. Unreadable JSON, a record that is not an
    object, a digest that does not match, or (unless ``unsealed_ok``) no digest at all raise
    :class:`RecordError` with one sentence; nothing is reused from such a file."""
    path = Path(path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise RecordError(f"{path} is not a readable run record ({type(err).__name__}: {err}); "
                          f"{RESTORE.replace('<file>', str(path))}") from None
    if not isinstance(record, dict):
        raise RecordError(f"{path} holds a {type(record).__name__}, not a run record; "
                          f"{RESTORE.replace('<file>', str(path))}")
    if DIGEST not in record:
        if unsealed_ok:
            return record
        raise RecordError(f"{path} carries no digest, so it cannot be told from an edited copy; "
                          f"{RESTORE.replace('<file>', str(path))}")
    if record[DIGEST] != record_digest(record):
        raise RecordError(f"{path} does not match its digest: it was changed after the run wrote it; "
                          f"{RESTORE.replace('<file>', str(path))}")
    return record


LOCK = ".lock"


class RunBusy(CheckpointError):
    """Another live process is training the same run; the message names it."""


class run_lock:
    """One writer per run folder: a lock file holding the writer's pid, host and start time,
    made atomically (``O_EXCL``). A second process refuses with a sentence naming the holder; a
    lock whose process no longer runs on this host (killed) is stale and taken over. Only the
    process that made the lock removes it."""

    def __init__(self, folder: Path, run_id: str):
        self.path, self.run_id, self.held = Path(folder) / LOCK, run_id, False

    def __enter__(self):
        import socket
        import time

        self.path.parent.mkdir(parents=True, exist_ok=True)
        mine = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                           "since": time.strftime("%Y-%m-%d %H:%M:%S")})
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if holder is not None:
                    raise RunBusy(f"run {self.run_id} is being trained by process {holder['pid']} on "
                                  f"{holder['host']} (since {holder['since']}); wait for it to finish or stop it "
                                  f"(if no such process runs, delete {self.path})") from None
                self.path.unlink(missing_ok=True)   # stale: its process is gone
                continue
            with os.fdopen(fd, "w") as f:
                f.write(mine)
            self.held = True
            return self
        raise RunBusy(f"run {self.run_id}: another process took {self.path} at the same moment; try again")

    def _holder(self) -> dict | None:
        """The live holder of the lock, or None when it is stale (its process no longer runs here)."""
        import socket

        try:
            holder = json.loads(self.path.read_text())
            pid = int(holder["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if holder.get("host") != socket.gethostname():
            return holder   # another machine's process: it cannot be checked from here
        return {"since": "?", **holder} if _another_process_runs(pid) else None

    def __exit__(self, *exc):
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False
        return False
