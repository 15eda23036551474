"""Small values kept with a run (what a chapter's diagnostics and figures read of it), written
so that a reader without torch can open them and so that the same value gives the same bytes.

A value is a tree of dicts, lists, numbers, strings, None, NumPy arrays and tensors. It is
stored as ``<name>.json`` (the tree, each array replaced by a reference) and, when it holds
arrays, ``<name>.npz`` beside it (uncompressed entries are compressed by git anyway; a fixed
timestamp in every zip entry keeps the bytes stable). Arrays come back as NumPy arrays and
tensors as tensors; nothing is unpickled.

The ``.json`` is sealed: ``{"sha256": …, "value": tree}``, the SHA-256 of the tree (compact,
sorted JSON) and of the ``.npz`` bytes. A value whose files do not match it, or that carries no
seal, is refused with one sentence (:class:`ArtifactError`: which file, how to restore it), so a
chapter never draws an edited or damaged value as a run's.
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ssllib.engine.checkpoint import CheckpointError, atomic_write


class ArtifactError(CheckpointError):
    """A run's artifact is unreadable, unsealed or does not match its seal."""

FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def _split(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(value, torch.Tensor):
        name = f"a{len(arrays)}"
        arrays[name] = value.detach().cpu().numpy()
        return {"__tensor__": name}
    if isinstance(value, np.ndarray):
        name = f"a{len(arrays)}"
        arrays[name] = value
        return {"__array__": name}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError(f"an artifact's dict keys must be strings, got {sorted(map(repr, value))[:3]}")
        return {k: _split(v, arrays) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_split(v, arrays) for v in value]
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return {"__float__": repr(value)}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"an artifact cannot hold a {type(value).__name__}")


def _join(value: Any, arrays) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__tensor__"}:
            return torch.from_numpy(arrays[value["__tensor__"]].copy())
        if set(value) == {"__array__"}:
            return arrays[value["__array__"]]
        if set(value) == {"__float__"}:
            return float(value["__float__"])
        return {k: _join(v, arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [_join(v, arrays) for v in value]
    return value


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            entry = io.BytesIO()
            np.lib.format.write_array(entry, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, entry.getvalue())
    return buffer.getvalue()


def encode(value: Any) -> dict[str, bytes]:
    """``{suffix: bytes}`` of ``value``: '.json', and '.npz' where it holds arrays."""
    arrays: dict[str, np.ndarray] = {}
    tree = _split(value, arrays)
    npz = _npz_bytes(arrays) if arrays else b""
    sealed = {"sha256": _seal(tree, npz), "value": tree}
    files = {".json": (json.dumps(sealed, indent=1, sort_keys=True) + "\n").encode()}
    if arrays:
        files[".npz"] = npz
    return files


def _seal(tree: Any, npz: bytes) -> str:
    digest = hashlib.sha256(json.dumps(tree, sort_keys=True, separators=(",", ":")).encode())
    digest.update(npz)
    return digest.hexdigest()


def write_artifact(value: Any, stem: Path) -> list[Path]:
    """Write ``value`` as ``stem.json`` (and ``stem.npz``), each atomically; the .npz first, so
    a reader that finds the .json finds its arrays."""
    written = []
    for suffix, data in sorted(encode(value).items(), key=lambda kv: kv[0] != ".npz"):
        path = stem.with_name(stem.name + suffix)
        atomic_write(path, lambda f, data=data: f.write(data))
        written.append(path)
    return written


RESTORE = ("restore it (git checkout -- <file>, where it is committed) or delete the run's artifacts/ folder so "
           "that the value is computed again")


def read_artifact(stem: Path) -> Any:
    """The value :func:`write_artifact` wrote at ``stem``, checked against its seal."""
    path = stem.with_name(stem.name + ".json")
    restore = RESTORE.replace("<file>", str(path))
    try:
        sealed = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise ArtifactError(f"{path} is not a readable artifact ({type(err).__name__}: {err}); {restore}") from None
    if not (isinstance(sealed, dict) and set(sealed) == {"sha256", "value"}):
        raise ArtifactError(f"{path} carries no seal, so it cannot be told from an edited copy; {restore}")
    npz = stem.with_name(stem.name + ".npz")
    data = npz.read_bytes() if npz.exists() else b""
    if _seal(sealed["value"], data) != sealed["sha256"]:
        raise ArtifactError(f"{path} (with its .npz) does not match its seal: it was changed after the run wrote "
                            f"it; {restore}")
    arrays = {}
    if data:
        with np.load(io.BytesIO(data), allow_pickle=False) as loaded:
            arrays = {name: loaded[name] for name in loaded.files}
    return _join(sealed["value"], arrays)


def artifact_files(stem: Path) -> list[Path]:
    """The files of the artifact at ``stem`` that exist."""
    return [p for p in (stem.with_name(stem.name + ".json"), stem.with_name(stem.name + ".npz")) if p.exists()]
