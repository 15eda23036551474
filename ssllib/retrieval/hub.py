"""Where a Hugging Face model loads from: nothing is fetched unless the user asked for it."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path


HUB = ("huggingface.co", 443)


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face hub answers from here (one TCP connection, ``timeout`` seconds),
    and downloads are not switched off (``HF_HUB_OFFLINE``)."""
    import os
    import socket

    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    try:
        socket.create_connection(HUB, timeout=timeout).close()
        return True
    except OSError:
        return False


def cached(name: str) -> bool:
    """Whether the hub model ``name`` is in this machine's Hugging Face cache."""
    from huggingface_hub import try_to_load_from_cache

    try:
        return isinstance(try_to_load_from_cache(name, "config.json"), str)
    except Exception:  # a name that is not a repository id
        return False


def resolve_model(name: str, allow_download: bool, what: str, offline_default: str) -> str:
    """A local folder (resolved), or the hub name itself only with ``allow_download`` and where
    it is cached or the hub answers; anything else is refused at once, in one sentence that says
    how to provide the weights (no minutes of retries before the error)."""
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser().resolve())
    if allow_download:
        if cached(name) or hub_reachable():
            return name
        raise ValueError(f"{what}={name!r} is not in this machine's Hugging Face cache and the hub cannot be reached "
                         f"from here; on a machine with network run `huggingface-cli download {name} --local-dir "
                         f"<folder>`, copy the folder here and pass it as {what}")
    raise ValueError(f"{what}={name!r} is neither {offline_default!r} (shipped offline) nor a local folder; to fetch "
                     f"it from the Hugging Face hub, pass allow_download=True")


@contextmanager
def quiet_loading():
    """No per-tensor 'Loading weights' progress bar from transformers while a model loads (a
    chapter's output should hold results, not a bar of a second); restored afterwards."""
    from transformers.utils import logging

    shown = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        if shown:
            logging.enable_progress_bar()
