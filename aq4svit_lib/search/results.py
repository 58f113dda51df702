"""The result folder every search writes (QSViT and AQ4SViT alike).

    result.json      summary (schema below, validated by :func:`validate_result`)
    settings.json    the run's complete settings (a resume with different ones is refused)
    config.json      the final QuantConfig
    trace.jsonl      one line per evaluated candidate
    sensitivity.csv  QSViT Algorithm 1 table (QSViT only)
    pareto.csv       every feasible config with accuracy and memory, front marked (AQ4SViT)

JSON / CSV files are written atomically (temporary file + rename); the trace is appended one
flushed line at a time, so a killed run leaves at most one partial last line, which ``--resume``
drops.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from .. import __version__
from ..errors import UsageError
from ..ioutil import write_json_atomic, write_text_atomic

RESULT_FILES = ("result.json", "config.json", "trace.jsonl", "sensitivity.csv", "pareto.csv", "settings.json")
#: settings a resumed run may change: they do not alter what is computed
RESUMABLE_CHANGES = ("engine.quiet", "max_evaluations", "export")
#: removed too by --force, so a forced run starts cold (the memo lives in the folder by default)
OWNED_FILES = RESULT_FILES + ("memo.sqlite", "final.safetensors")

#: result.json fields and their types (documented in README, "Result folder").
RESULT_SCHEMA = {
    "method": str,
    "model": str,
    "scheme": dict,
    "bits": list,
    "delta": float,
    "relative_delta": bool,
    "seed": int,
    "fp32": dict,  # {"search_accuracy", "test_accuracy", "bytes"}
    "final": dict,  # {"search_accuracy", "test_accuracy", "bytes", "paper_notation"}
    "memory_bytes": int,
    "fp32_bytes": int,
    "saving_vs_fp32": float,
    "search_seconds": float,
    "evaluations": dict,  # {"generated", "gated", "minibatch", "full"}
    "images_forwarded": int,
    "phases": dict,  # phase -> {"seconds", "evaluations", "images_forwarded"}
    "package_version": str,
    "splits": dict,
}
TRACE_FIELDS = ("index", "phase", "config", "memory_bytes", "drift", "minibatch_accuracy", "search_accuracy", "decision", "seconds")


class ResultFolder:
    """A search's result folder: checked at construction (before anything is loaded), locked and written by
    :meth:`prepare`. Only one process writes a folder at a time (``<folder>/.lock``, see edges.FolderLock);
    ``force`` removes only files aq4svit wrote; :meth:`abandon` undoes what a failed start created."""

    def __init__(self, path: str | Path, resume: bool = False, force: bool = False, dry: bool = False):
        self.path = Path(path)
        self.resume = resume
        self._lock: Any = None  # an edges.FolderLock while this process writes the folder
        self._created: list[Path] = []  # what prepare created (abandon removes exactly these)
        if not dry:
            self._check(force)

    def _check(self, force: bool) -> None:
        from ..edges import FolderLock, output_dir

        output_dir(self.path, "result folder")
        FolderLock.check(self.path)
        existing = [f for f in RESULT_FILES if (self.path / f).exists()]
        if existing and not (self.resume or force):
            raise UsageError(
                f"{self.path} already holds a run's results ({', '.join(existing)}); "
                "pass --resume to continue it or --force to overwrite it"
            )
        if existing and force and not self.resume and not self._ours():
            raise UsageError(f"{self.path} holds {', '.join(existing)} that aq4svit did not write (no settings.json or result.json "
                             "of a search); --force removes only files aq4svit wrote: pass another --out")

    def _ours(self) -> bool:
        """The folder holds a search's settings.json or result.json (so its result files are ours)."""
        for name, key in (("settings.json", "method"), ("result.json", "package_version")):
            try:
                d = json.loads((self.path / name).read_text())
            except (OSError, ValueError):
                continue
            if isinstance(d, dict) and key in d:
                return True
        return False

    def prepare(self, force: bool = False, settings: dict | None = None) -> None:
        from ..edges import FolderLock
        from ..evaluate.memo import foreign_reason

        missing = [p for p in (self.path, *self.path.parents) if not p.exists()]
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self._created = [p for p in missing if p.exists()]
            raise UsageError(f"result folder {self.path} cannot be created ({exc.strerror or exc}); pass --out in a writable "
                             "folder") from None
        self._created = list(missing)  # deepest first
        fresh = {f: not (self.path / f).exists() for f in ("settings.json", "trace.jsonl", "memo.sqlite", ".lock")}
        self._lock = FolderLock(self.path).acquire()
        self._created += [self.path / f for f, new in fresh.items() if new]
        if force and not self.resume:
            for f in OWNED_FILES:
                if f == "memo.sqlite" and foreign_reason(self.path / f):
                    continue  # not our memo: never removed (Memo refuses it with a message)
                (self.path / f).unlink(missing_ok=True)
        if settings is not None:
            stored = self.path / "settings.json"
            if self.resume and stored.exists():
                changed = settings_differences(json.loads(stored.read_text()), settings)
                if changed:
                    raise UsageError(f"--resume: {self.path} holds a run with other settings ({'; '.join(changed)}); "
                                     "resume with the same settings, or pass --force to start this one over")
            write_json_atomic(stored, settings)
        # the trace is rebuilt during a resumed (replayed) run
        (self.path / "trace.jsonl").write_text("")

    def has_trace(self) -> bool:
        """Whether a candidate was recorded (a search that started, as opposed to a refused start)."""
        trace = self.path / "trace.jsonl"
        return trace.exists() and trace.stat().st_size > 0

    def release(self) -> None:
        """Let other processes write the folder (also happens when this object goes, or the process exits)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def abandon(self) -> None:
        """A start that failed: remove the files and folders :meth:`prepare` created (only those), release the lock."""
        self.release()
        files = [p for p in self._created if p.parent == self.path and p != self.path]
        for p in files:
            for extra in ("", "-wal", "-shm", "-journal") if p.name == "memo.sqlite" else ("",):
                Path(str(p) + extra).unlink(missing_ok=True)
        for d in [p for p in self._created if p not in files]:  # deepest first
            try:
                d.rmdir()  # only if empty: never a file we did not create
            except OSError:
                break
        self._created = []

    def append_trace(self, record: dict) -> None:
        with (self.path / "trace.jsonl").open("a") as f:
            f.write(json.dumps(record, sort_keys=True) + "\n")
            f.flush()

    def write_result(self, result: dict) -> None:
        validate_result(result)
        write_json_atomic(self.path / "result.json", result)

    def write_config(self, config) -> None:
        config.save(self.path / "config.json")

    def write_csv(self, name: str, df: pd.DataFrame) -> None:
        write_text_atomic(self.path / name, df.to_csv(index=False))


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def settings_differences(old: dict, new: dict) -> list[str]:
    """``name: old -> new`` for every setting that differs (those in RESUMABLE_CHANGES aside)."""
    a, b = _flat(json.loads(json.dumps(old))), _flat(json.loads(json.dumps(new)))
    return [f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in sorted(set(a) | set(b)) if k not in RESUMABLE_CHANGES and a.get(k) != b.get(k)]


def validate_result(result: dict) -> None:
    """Raise ValueError unless ``result`` follows RESULT_SCHEMA."""
    missing = [k for k in RESULT_SCHEMA if k not in result]
    if missing:
        raise ValueError(f"result.json lacks {missing}")
    for key, typ in RESULT_SCHEMA.items():
        value = result[key]
        ok = isinstance(value, typ) or (typ is float and isinstance(value, int) and not isinstance(value, bool))
        if not ok:
            raise ValueError(f"result.json field {key!r} should be {typ.__name__}, got {type(value).__name__}")
    for key in ("generated", "gated", "minibatch", "full"):
        if not isinstance(result["evaluations"].get(key), int):
            raise ValueError(f"result.json evaluations.{key} missing")
    for part in ("fp32", "final"):
        for key in ("search_accuracy", "test_accuracy", "bytes"):
            if key not in result[part]:
                raise ValueError(f"result.json {part}.{key} missing")


def read_trace(path: str | Path) -> pd.DataFrame:
    """trace.jsonl as a DataFrame (a partial last line, left by a killed run, is skipped)."""
    rows = []
    for line in Path(path).read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return pd.DataFrame(rows)


def load_result(folder: str | Path) -> dict:
    return json.loads((Path(folder) / "result.json").read_text())


def base_result(**fields) -> dict:
    return {"package_version": __version__, **fields}


#: result.json fields that say how long or where a search ran, not what it found
HOW_IT_RAN = ("search_seconds", "wall_seconds", "replayed_seconds", "replayed_images", "phases", "memo", "executor", "images_forwarded", "resumed",
              "machine")
TRACE_TIMINGS = ("seconds",)


def result_differences(a: dict, b: dict, trace_a=None, trace_b=None) -> list[str]:
    """Where two searches' results differ, timings and executor aside (empty: the same search).

    Compares every other result.json field (final config and accuracies, evaluation counts by kind,
    verify summary, energy) and, when given, the traces row by row (decisions, drift, accuracies).
    """
    out = [k for k in sorted(set(a) | set(b)) if k not in HOW_IT_RAN and a.get(k) != b.get(k)]
    if trace_a is not None and trace_b is not None:
        ta = [{k: v for k, v in r.items() if k not in TRACE_TIMINGS} for r in _records(trace_a)]
        tb = [{k: v for k, v in r.items() if k not in TRACE_TIMINGS} for r in _records(trace_b)]
        if len(ta) != len(tb):
            out.append(f"trace: {len(ta)} vs {len(tb)} rows")
        out += [f"trace[{i}].{k}" for i, (x, y) in enumerate(zip(ta, tb, strict=False)) for k in sorted(set(x) | set(y))
                if not _same(x.get(k), y.get(k))]
    return out


def _records(trace) -> list[dict]:
    return trace.to_dict("records") if isinstance(trace, pd.DataFrame) else list(trace)


def _same(x, y) -> bool:
    """Equal, NaN equal to NaN (a DataFrame turns missing trace fields into NaN)."""
    if isinstance(x, float) and isinstance(y, float) and x != x and y != y:
        return True
    return x == y
