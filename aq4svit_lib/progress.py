"""Every progress bar of the package comes from :func:`progress_bar`, which picks how it shows by where it runs.

- quiet (``quiet=True``, or ``AQ4SVIT_QUIET`` / ``CI`` set when ``quiet`` is None): nothing at all;
- headless (``AQ4SVIT_HEADLESS=1``: notebooks executed by ``aq4svit reproduce``, whose kernels inherit it): one
  line when the bar closes (description, count, elapsed seconds) and nothing else; ``inner=True`` bars (one per
  evaluation) write nothing, so a stored notebook keeps one line per search instead of every refresh;
- an interactive Jupyter kernel with ipywidgets: one updating widget line (``tqdm.auto``);
- otherwise (a terminal): a normal text tqdm bar.

tqdm.auto is imported only in the widget case, so its "IProgress not found" warning never reaches a page.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from typing import Any

QUIET, HEADLESS, WIDGET, TERMINAL = "quiet", "headless", "widget", "terminal"

if os.environ.get("AQ4SVIT_HEADLESS"):  # libraries that import tqdm.auto themselves (Optuna) must not warn either
    warnings.filterwarnings("ignore", message="IProgress not found")
    warnings.filterwarnings("ignore", message=".*tqdm.autonotebook.tqdm.* in notebook mode")


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def quiet_default() -> bool:
    """Quiet under CI or with AQ4SVIT_QUIET set (any value, as the Evaluator's ``quiet=None``)."""
    return bool(os.environ.get("AQ4SVIT_QUIET") or os.environ.get("CI"))


def headless() -> bool:
    return _flag("AQ4SVIT_HEADLESS")


def _widgets_available() -> bool:
    """An interactive Jupyter kernel (not a terminal IPython) with ipywidgets importable."""
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    try:
        ip = shell.get_ipython()  # type: ignore[attr-defined]
    except AttributeError:
        return False
    if ip is None or type(ip).__name__ != "ZMQInteractiveShell":
        return False
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def progress_mode(quiet: bool | None = None) -> str:
    """How a bar shows here: ``quiet``, ``headless``, ``widget`` or ``terminal``."""
    if quiet if quiet is not None else quiet_default():
        return QUIET
    if headless():
        return HEADLESS
    return WIDGET if _widgets_available() else TERMINAL


class NullBar:
    """A bar that shows nothing (quiet, or an inner bar of a headless run); counts like tqdm."""

    disable = True

    def __init__(self, iterable=None, total=None, desc: str = "", unit: str = "it", **_):
        self.iterable, self.total, self.desc, self.unit, self.n = iterable, total, desc, unit, 0
        self.postfix: dict[str, Any] = {}

    def __iter__(self):
        for x in self.iterable if self.iterable is not None else ():
            yield x
            self.update(1)
        self.close()  # as tqdm: a bar iterated to its end closes

    def __len__(self):
        return self.total if self.total is not None else len(self.iterable)  # type: ignore[arg-type]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def update(self, n: int = 1) -> None:
        self.n += n

    def set_postfix(self, ordered_dict=None, refresh: bool = True, **kwargs) -> None:
        self.postfix = {**(ordered_dict or {}), **kwargs}

    def set_description(self, desc: str | None = None, refresh: bool = True) -> None:
        self.desc = desc or ""

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        pass


class LineBar(NullBar):
    """Headless: one line when the bar closes (``desc: n/total unit in s``), nothing before."""

    def __init__(self, iterable=None, total=None, desc: str = "", unit: str = "it", file=None, **_):
        super().__init__(iterable, total, desc, unit)
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            self.total = len(iterable)
        self.file, self.started, self.closed = file, time.perf_counter(), False

    def line(self) -> str:
        count = f"{self.n}/{self.total}" if self.total is not None else f"{self.n}"
        post = "".join(f", {k} {v}" for k, v in self.postfix.items())
        return f"{self.desc + ': ' if self.desc else ''}{count} {self.unit}{post} in {time.perf_counter() - self.started:.1f} s"

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        stream = self.file if self.file is not None else sys.stdout  # resolved now: the stream of the running cell
        stream.write(self.line() + "\n")
        stream.flush()


def progress_bar(iterable=None, *, total=None, desc: str = "", unit: str = "it", leave: bool = False,
                 quiet: bool | None = None, inner: bool = False, file=None, **kwargs):
    """A tqdm-like bar (update, set_postfix, close, iteration, ``with``) shown as :func:`progress_mode` says.

    ``quiet``: None follows AQ4SVIT_QUIET / CI. ``inner``: a bar inside another one (a forward loop of a search),
    silent in a headless run. ``file``: the stream (tqdm's default in a terminal, stdout for the headless line).
    """
    mode = progress_mode(quiet)
    if mode == QUIET or (mode == HEADLESS and inner):
        return NullBar(iterable, total=total, desc=desc, unit=unit)
    if mode == HEADLESS:
        return LineBar(iterable, total=total, desc=desc, unit=unit, file=file)
    if mode == WIDGET:
        from tqdm.auto import tqdm
    else:
        from tqdm.std import tqdm
    return tqdm(iterable, total=total, desc=desc, unit=unit, leave=leave, file=file, **kwargs)
