"""Persistent memo of evaluation results, so a re-run or a resumed search recomputes nothing.

Results live in one SQLite file (standard library), keyed by a content hash of (model weights,
quantization scheme, resolved per-layer bits, split, kind of result, code version). Each write is
one committed transaction, hence atomic. A store that is corrupted or truncated is detected
(``PRAGMA quick_check`` on open, and any database error later), reported once, moved aside as
``<name>.corrupt`` and rebuilt empty; the run goes on and simply recomputes.

Only a memo of ours is ever moved aside: a file that holds our ``results`` table, or one named
``memo.sqlite`` (the name our result folders give theirs). Any other existing file (a text file, a
folder, another program's database) is refused with a UsageError and left untouched.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import time
from pathlib import Path

import torch

from ..errors import UsageError

log = logging.getLogger("aq4svit.memo")

#: the first 16 bytes of every SQLite 3 database file
SQLITE_HEADER = b"SQLite format 3\x00"
#: the file name of the memo in a result folder (search/run.py)
FOLDER_MEMO = "memo.sqlite"

SCHEMA = "CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, kind TEXT, value TEXT, created REAL)"


def model_fingerprint(model: torch.nn.Module) -> str:
    """Hash of the model's architecture arguments and every state_dict tensor."""
    h = hashlib.sha256(json.dumps(getattr(model, "default_cfg", {}), sort_keys=True, default=str).encode())
    for key, tensor in model.state_dict().items():
        h.update(key.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:20]


def foreign_reason(path: str | Path) -> str | None:
    """None when ``path`` may be used (and, if corrupt, moved aside) as our memo; else why it is not ours."""
    path = Path(path)
    if not path.exists():
        return None
    if path.is_dir():
        return "is a folder, not a memo file"
    if not path.is_file():
        return "is not a regular file"
    try:
        with path.open("rb") as f:
            head = f.read(len(SQLITE_HEADER))
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if not head:
        return None  # an empty file is an empty database
    if head != SQLITE_HEADER:
        return f"is not an aq4svit memo (not an SQLite database; it starts with {head[:8]!r})"
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            db.close()
    except sqlite3.DatabaseError:
        if path.name == FOLDER_MEMO:
            return None  # our result folder's memo, damaged: ours to move aside
        return "is a damaged SQLite database that cannot be told for an aq4svit memo"
    if tables and "results" not in tables:
        return f"is an SQLite database of another program (tables: {', '.join(sorted(tables))}), not an aq4svit memo"
    return None


def result_key(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


class Memo:
    """Dictionary-like, persistent: ``get(key)`` -> dict or None, ``put(key, kind, value)``."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.hits = self.misses = self.writes = 0
        self.rebuilt = False
        self._open()

    def _open(self) -> None:
        reason = foreign_reason(self.path)
        if reason:
            raise UsageError(f"memo {self.path} {reason}; aq4svit only ever moves aside a memo it wrote, so it leaves this one "
                             "alone: pass a new memo path (or remove the file yourself)")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"memo {self.path}: its folder cannot be created ({exc.strerror or exc}); pass a memo path in a "
                             "writable folder") from None
        try:
            self._db = sqlite3.connect(str(self.path))
            ok = self._db.execute("PRAGMA quick_check").fetchone()[0]
            if ok != "ok":
                raise sqlite3.DatabaseError(ok)
            self._configure()
        except sqlite3.DatabaseError as exc:
            self._rebuild(exc)

    def _rebuild(self, exc: Exception) -> None:
        try:
            self._db.close()
        except Exception:
            pass
        if not self.rebuilt:  # report once
            log.warning("memo %s is corrupted (%s); moved aside to %s.corrupt and rebuilt empty", self.path, exc, self.path.name)
            self.rebuilt = True
        if self.path.exists():
            self.path.replace(self.path.with_name(self.path.name + ".corrupt"))
        for suffix in ("-journal", "-wal", "-shm"):
            Path(str(self.path) + suffix).unlink(missing_ok=True)
        self._db = sqlite3.connect(str(self.path))
        self._configure()

    def _configure(self) -> None:
        # WAL + synchronous=NORMAL: commits stay atomic (a crash loses at most the last few, never
        # corrupts), without an fsync per write
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(SCHEMA)
        self._db.commit()

    def get(self, key: str) -> dict | None:
        try:
            row = self._db.execute("SELECT value FROM results WHERE key = ?", (key,)).fetchone()
        except sqlite3.DatabaseError as exc:
            self._rebuild(exc)
            row = None
        if row is None:
            self.misses += 1
            return None
        try:
            value = json.loads(row[0])
        except json.JSONDecodeError:
            self.misses += 1
            return None
        self.hits += 1
        return value

    def put(self, key: str, kind: str, value: dict) -> None:
        payload = json.dumps(value, sort_keys=True)
        for attempt in range(2):
            try:
                with self._db:  # one transaction: committed whole or not at all
                    self._db.execute(
                        "INSERT OR REPLACE INTO results (key, kind, value, created) VALUES (?, ?, ?, ?)",
                        (key, kind, payload, time.time()),
                    )
                self.writes += 1
                return
            except sqlite3.DatabaseError as exc:
                if attempt:
                    raise
                self._rebuild(exc)

    def __len__(self) -> int:
        try:
            return self._db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            self._rebuild(exc)
            return 0

    def close(self) -> None:
        self._db.close()

    def stats(self) -> dict:
        return {"path": str(self.path), "hits": self.hits, "misses": self.misses, "writes": self.writes, "rebuilt": self.rebuilt}


class InMemoryMemo:
    """The memo of an evaluator without a file (``memo=None``): remembers for its own lifetime only."""

    path = None
    rebuilt = False

    def __init__(self) -> None:
        self._store: dict[str, dict] = {}
        self.hits = self.misses = self.writes = 0

    def get(self, key: str):
        value = self._store.get(key)
        if value is None:
            self.misses += 1
        else:
            self.hits += 1
        return value

    def put(self, key: str, kind: str, value: dict) -> None:
        self._store[key] = json.loads(json.dumps(value))  # same round trip as the SQLite memo
        self.writes += 1

    def __len__(self) -> int:
        return len(self._store)

    def close(self) -> None:
        pass

    def stats(self) -> dict:
        return {"path": None, "hits": self.hits, "misses": self.misses, "writes": self.writes, "rebuilt": False}
