"""Claims as data: every claim of the two papers is an entry that computes our number from a run's tables.

A *run* is a figures folder (``tables/*.csv``, wall-clock columns in ``tables/timings/``), as the notebooks write
it; nothing here evaluates a model, so ``aq4svit check`` runs in seconds on a reviewer's machine. An entry says
what the paper states (with its number from :mod:`aq4svit_lib.papers`), computes named quantities from the run,
each with a tolerance a re-run must meet and how that tolerance was derived, and a verdict on the claim's
*direction* (holds / does not hold / mixed / not measurable here). Renderers (``render.py``) turn the same
entries into REPRODUCTION.md, the README's summary and each notebook's result sentence.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import UsageError

#: the verdicts a claim can have; a re-run must reproduce the same one (with the same counts)
VERDICTS = ("holds", "does not hold", "mixed", "not measurable here", "not measured in this run")

#: tables are written rounded to 4 decimals (report.save_table callers): no tolerance is finer than that
TABLE_RESOLUTION = 1e-4


class MissingTable(LookupError):
    """A table a claim needs is not in the run (a partial run, or a profile without that notebook)."""


@dataclass(frozen=True)
class Tolerance:
    """How far a re-run's value may be from the committed one, and why (absolute, in the quantity's unit;
    ``relative`` for wall-clock ratios)."""

    value: float
    basis: str
    relative: bool = False

    def allows(self, committed: float | None, now: float | None) -> bool:
        missing = (committed is None or _nan(committed), now is None or _nan(now))
        if any(missing):  # a value that is absent (or NaN) must be absent on both sides
            return missing[0] and missing[1] and (committed is None) == (now is None)
        assert committed is not None and now is not None
        if self.relative:
            return abs(now - committed) <= self.value * abs(committed) + TABLE_RESOLUTION
        return abs(now - committed) <= self.value + TABLE_RESOLUTION / 2 + 1e-12

    def describe(self) -> str:
        amount = f"±{self.value:.0%}" if self.relative else f"±{self.value:.4g}"
        return f"{amount} ({self.basis})"


def _nan(x) -> bool:
    return isinstance(x, float) and math.isnan(x)


@dataclass(frozen=True)
class Quantity:
    name: str
    value: float | None
    unit: str  # "pp" (points), "%", "x", "count", "bytes", "s"
    tolerance: Tolerance
    label: str = ""  # what it is, for the check table
    timing: bool = False  # wall-clock: depends on the machine (its tolerance is relative)

    def to_dict(self) -> dict:
        return {"name": self.name, "value": self.value, "unit": self.unit, "tolerance": self.tolerance.value,
                "relative": self.tolerance.relative, "basis": self.tolerance.basis, "label": self.label, "timing": self.timing}


@dataclass
class Measurement:
    """What a claim's compute function returns for one run."""

    verdict: str
    reason: str  # one line: why this verdict (or why not measurable)
    sentence: str  # ours, with the numbers, for tables and notebooks
    quantities: list[Quantity] = field(default_factory=list)
    #: what the values rest on where a run may hold more or less of it (the best known: with the extended run's
    #: searches or without); a re-run on another basis is not comparable, so `aq4svit check` reports it as not re-run
    basis: str = ""

    def __post_init__(self):
        if self.verdict.split(" (")[0] not in VERDICTS:
            raise ValueError(f"unknown verdict {self.verdict!r}")

    def value(self, name: str):
        return next(q.value for q in self.quantities if q.name == name)


@dataclass(frozen=True)
class Claim:
    id: str
    paper: str  # "QSViT", "AQ4SViT" or "field" (our comparison with the practitioners' methods)
    statement: str  # the paper's claim in words
    paper_value: str  # the paper's number, rendered from papers.py ("(implicit)" where it states none)
    source: str  # where the paper says it (papers.md section)
    compute: Callable[[Run], Measurement]
    figures: tuple[str, ...]
    tables: tuple[str, ...]
    notebooks: tuple[str, ...]  # what reproduces it alone: `aq4svit reproduce --only <these>`
    extended: bool = False  # measured by the extended run only (`--extended`: our variants, the seed study)

    @property
    def command(self) -> str:
        only = " ".join(f"--only {nb}" for nb in self.notebooks)
        more = " --extended" if self.extended else ""
        return f"aq4svit reproduce --profile default{more} {only} && aq4svit check --claim {self.id}"

    def measure(self, run: Run) -> Measurement:
        try:
            return self.compute(run)
        except MissingTable as exc:
            return Measurement("not measured in this run", f"{exc}", f"not measured in this run ({exc})")


_CLAIMS: dict[str, Claim] = {}


def claim(id: str, *, paper: str, statement: str, paper_value: str, source: str, figures=(), tables=(), notebooks=(),
          extended: bool = False):
    """Decorator: ``@claim("A1", ...)`` on ``compute(run) -> Measurement`` registers the entry (``extended``: only the
    extended run measures it; its command and time are that run's)."""

    def wrap(fn):
        if id in _CLAIMS:
            raise ValueError(f"claim {id} is registered twice")
        _CLAIMS[id] = Claim(id, paper, statement, paper_value, source, fn, tuple(figures), tuple(tables), tuple(notebooks), extended)
        return fn

    return wrap


def all_claims() -> list[Claim]:
    from . import aq4svit, field, qsvit, seeds  # noqa: F401  (importing registers the entries)

    order = {"QSViT": 0, "AQ4SViT": 1, "field": 2, "seeds": 3}
    return sorted(_CLAIMS.values(), key=lambda c: (order.get(c.paper, 9), c.id))


def get_claim(id: str) -> Claim:
    claims = {c.id: c for c in all_claims()}
    if id not in claims:
        raise UsageError(f"unknown claim {id!r}; the claims are {', '.join(claims)}")
    return claims[id]


# -- a run's tables ----------------------------------------------------------------------------------
class Run:
    """The tables of one run: ``<folder>/tables/<name>.csv`` (``folder`` is a figures folder, or a results profile
    folder holding ``figures/``)."""

    def __init__(self, folder: str | Path):
        folder = Path(folder)
        candidates = [folder / "tables", folder / "figures" / "tables"]
        found = next((c for c in candidates if c.is_dir()), None)
        if found is None:
            raise UsageError(f"{folder} holds no run's tables: expected {candidates[0]} or {candidates[1]} "
                             "(a figures folder written by `aq4svit reproduce`)")
        self.folder, self.tables = folder, found
        self._cache: dict[str, pd.DataFrame] = {}

    def has(self, name: str) -> bool:
        return (self.tables / f"{name}.csv").is_file()

    def table(self, name: str) -> pd.DataFrame:
        if name not in self._cache:
            path = self.tables / f"{name}.csv"
            if not path.is_file():
                raise MissingTable(f"table {name} is missing from this run")
            self._cache[name] = pd.read_csv(path)
        return self._cache[name]

    def timing(self, name: str) -> pd.DataFrame:
        return self.table(f"timings/{name}")


# -- tolerances, derived ----------------------------------------------------------------------------------
#: the cross-CPU difference measured between the AVX2 and the AVX-512 runs of one code version: single images at
#: spike thresholds flipped (FP32 test accuracy by one image on two models, a few sweep cells by one image)
CROSS_CPU_IMAGES = 1
#: the largest change of a search-time ratio between two machines' runs of the same code (AVX2 EPYC vs AVX-512 Xeon:
#: Greedy's speed-up over QSViT moved from 9.7x to 8.0x on sdtv2_tiny; ratios of wall-clock times, not the times)
CROSS_MACHINE_RATIO = 0.30


def images(n: int, k: int = CROSS_CPU_IMAGES, what: str = "accuracy") -> Tolerance:
    """k images of an n-image split, in points."""
    return Tolerance(100 * k / n, f"{k} image{'s' if k > 1 else ''} of {n}: a float sum at a spike threshold flips "
                                  f"single images between CPU kernel families ({what})")


def drop_noise(n: int, se_pts: float | None = None) -> Tolerance:
    """A drop of an answer on an n-image split: two images (both accuracies), or 1.96 paired SE when the answer
    itself may change (an equivalent configuration differs from it by sampling noise)."""
    if se_pts is None or _nan(se_pts):
        return images(n, 2 * CROSS_CPU_IMAGES, "a drop: two accuracies")
    return Tolerance(1.96 * se_pts, f"1.96 paired SE of the drop on {n} images: another feasible answer differs by noise")


def one_decision(share: float) -> Tolerance:
    """An answer's memory saving: one decision that flips moves one unit one step (up to 2 bits of 32) of at most
    the largest block (``share`` of FP32 memory)."""
    return Tolerance(100 * share * 2 / 32, f"one flipped decision: 2 of 32 bits of the largest block ({share:.1%} of FP32 memory)")


def wall_clock() -> Tolerance:
    return Tolerance(CROSS_MACHINE_RATIO, "wall-clock ratio on another machine: the largest change measured between two "
                                          "machines' runs", relative=True)


EXACT = Tolerance(0.0, "deterministic: counts and configurations of the run")
ARITHMETIC = Tolerance(0.0, "arithmetic on the architecture, no data")


def largest_block_share(run: Run, model: str) -> float:
    t = run.table("01_memory_per_block")
    t = t[(t.model == model) & (t.stage.astype(str) != "head")]
    return float(t.share.max()) if len(t) else 0.1


def pct(x: float | None, digits: int = 2) -> str:
    return "n/a" if x is None or _nan(x) else f"{100 * x:.{digits}f} %"


def pts(x: float | None, digits: int = 2) -> str:
    return "n/a" if x is None or _nan(x) else f"{x:.{digits}f} pp"


def holds_on(flags: dict[str, bool], what: str = "models") -> tuple[str, str]:
    """(verdict, "k of n models") for a claim tested on several models or seeds."""
    k, n = sum(bool(v) for v in flags.values()), len(flags)
    if n == 0:
        return "not measured in this run", "no data"
    count = f"{k} of {n} {what}"
    verdict = "holds" if k == n else "does not hold" if k == 0 else "mixed"
    return f"{verdict} ({count})", count


def split_size(run: Run, split: str, default: dict | None = None) -> int:
    """Images in ``split`` of this run (05_run_statistics), else the default profile's sizes."""
    sizes = {"search": 2000, "verify": 3000, "test": 10000, **(default or {})}
    if run.has("05_run_statistics"):
        col = f"n_{split}"
        t = run.table("05_run_statistics")
        if col in t and t[col].notna().any():
            return int(t[col].dropna().iloc[0])
    return sizes[split]
