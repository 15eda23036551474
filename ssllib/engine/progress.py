"""Progress of a run wherever it runs: a bar in a notebook or a terminal, plain lines in a log.

``SSLLIB_PROGRESS``: ``auto`` (default: a widget in a live notebook, a text bar on a terminal,
plain lines when stderr is a file or a pipe, as under ``nohup`` or a batch scheduler), ``text``,
``notebook``, ``lines`` or ``off``. ``lines`` writes one line per epoch and one every
``SSLLIB_PROGRESS_EVERY`` steps (default: a twentieth of the run), each with the time elapsed
and an estimate of the time left; a resumed run says from which epoch.
"""
from __future__ import annotations

import os
import sys
import time
from datetime import timedelta

from ssllib.engine.distributed import is_main_process


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython

        shell = get_ipython()
        return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"
    except ImportError:
        return False


def mode() -> str:
    chosen = os.environ.get("SSLLIB_PROGRESS", "auto")
    if chosen != "auto":
        return chosen
    if _in_notebook():
        return "notebook"
    return "text" if sys.stderr.isatty() else "lines"


class _Silent:
    def __init__(self, *args, **kwargs):
        self.n = kwargs.get("initial", 0)

    def update(self, n=1):
        self.n += n

    def set_postfix(self, *args, **kwargs):
        pass

    def set_description(self, *args, **kwargs):
        pass

    def close(self):
        pass


def _clock(seconds: float) -> str:
    return str(timedelta(seconds=round(seconds)))


class Lines(_Silent):
    """Plain progress lines on stderr (flushed): one per epoch, one every ``every`` steps."""

    def __init__(self, total: int, desc: str, initial: int = 0, steps_per_epoch: int | None = None,
                 every: int | None = None, stream=None):
        super().__init__(initial=initial)
        self.total, self.desc, self.start_n, self.latest = total, desc, initial, {}
        self.every = every or max(1, total // 20)
        self.steps_per_epoch = steps_per_epoch
        self.stream = stream or sys.stderr
        self.t0 = time.perf_counter()
        if initial and steps_per_epoch:
            self._say(f"resumed from epoch {initial // steps_per_epoch} (step {initial:,} of {total:,})")

    def _say(self, text: str) -> None:
        print(f"{self.desc}: {text}", file=self.stream, flush=True)
        self._said_at = self.n

    def _where(self) -> str:
        elapsed = time.perf_counter() - self.t0
        done = self.n - self.start_n
        left = elapsed / done * (self.total - self.n) if done else float("nan")
        epoch = (f"epoch {-(-self.n // self.steps_per_epoch)}/{self.total // self.steps_per_epoch}, "
                 if self.steps_per_epoch else "")
        return (f"{epoch}step {self.n:,}/{self.total:,} ({100 * self.n / max(self.total, 1):.0f}%), "
                f"{_clock(elapsed)} elapsed" + (f", about {_clock(left)} left" if done else ""))

    def update(self, n=1):
        before = self.n
        super().update(n)
        if self.n // self.every > before // self.every and self.n < self.total:
            self._say(self._where() + self._postfix())

    def _postfix(self) -> str:
        shown = ", ".join(f"{k} {v}" for k, v in self.latest.items() if k != "epoch")
        return f"; {shown}" if shown else ""

    def set_postfix(self, *args, **kwargs):
        """The latest values (the loss at each host sync, the epoch's metrics at its end): every
        line says them; at an epoch's end they get a line of their own."""
        metrics = set(kwargs) - {"epoch", "loss"}
        self.latest = {**{k: v for k, v in self.latest.items() if k in ("epoch", "loss")}, **kwargs}
        at_end = self.steps_per_epoch and self.n % self.steps_per_epoch == 0 and self.n > self.start_n
        if at_end and (metrics or getattr(self, "_said_at", None) != self.n):
            self._say(self._where() + self._postfix())


def bar(total: int, desc: str, initial: int = 0, unit: str = "step", steps_per_epoch: int | None = None):
    """A tqdm bar, plain lines or a silent stand-in, with ``update``, ``set_postfix`` and
    ``close``; only the main process of a distributed run shows one."""
    chosen = mode()
    if chosen == "off" or not is_main_process():
        return _Silent(total=total, initial=initial)
    if chosen == "lines":
        every = os.environ.get("SSLLIB_PROGRESS_EVERY")
        return Lines(total, desc, initial, steps_per_epoch, int(every) if every else None)
    if chosen == "notebook":
        try:
            from tqdm.notebook import tqdm

            return tqdm(total=total, desc=desc, initial=initial, unit=unit, leave=True)
        except ImportError:
            pass
    from tqdm import tqdm

    if initial and steps_per_epoch:
        print(f"{desc}: resumed from epoch {initial // steps_per_epoch}", file=sys.stderr, flush=True)
    return tqdm(total=total, desc=desc, initial=initial, unit=unit, leave=True, dynamic_ncols=True,
                mininterval=1.0, file=sys.stderr)
