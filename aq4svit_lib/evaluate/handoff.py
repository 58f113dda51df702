"""The hand-off to the executor (executor.py): questions sent ahead to workers, answers written to the memo.

Apart from the rest of the engine because it is both sides of the seam: the driver's (``prefetch``,
``_remote``: one memo, one writer) and the worker's (``answer``: one request computed in this process).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..quant.config import QuantConfig
from ..quant.quantizers import QuantScheme
from .executor import Request
from .keys import _answers
from .state import EvaluatorState


class Handoff(EvaluatorState):
    def prefetch(self, requests: Iterable[Request]) -> int:
        """Have the executor's workers answer ``requests`` now, in parallel, into the memo; the search then
        asks them one by one as before and finds them there. Serial executor: nothing (computed on demand).
        Returns the number of requests sent (those already answered by the memo are not)."""
        if not self.executor.remote:
            return 0
        todo: dict[str, Request] = {}
        for req in requests:
            key = self._request_key(req)
            cached = self.memo.get(key)
            if key not in todo and not (_answers(cached, req.floor) if req.kind == "accuracy" else cached is not None):
                todo[key] = req
        self._remote(todo)
        self.counters["prefetched"] += len(todo)
        return len(todo)

    def _own(self, scheme: QuantScheme) -> QuantScheme | None:
        return None if scheme == self.scheme else scheme

    def _request_key(self, req: Request) -> str:
        bits, scheme = self.resolve(req.config)
        scheme = req.scheme or scheme
        kind = "accuracy" if req.kind == "accuracy" else self._drift_kind()
        return self._key(kind, bits, scheme, self.split(req.split))

    def _remote(self, todo: dict[str, Request]) -> dict[str, dict]:
        """Answers of the executor's workers, written to this (the only) memo as this session's work."""
        answers = self.executor.run(self, list(todo.values())) if todo else []
        out = {}
        for (key, req), answer in zip(todo.items(), answers, strict=True):
            record = {k: v for k, v in answer.items() if k != "start_block"}  # "forwarded": what a replay adds back
            self.memo.put(key, req.kind, {**record, "session": self.session})
            self.counters["images_forwarded"] += answer["forwarded"]
            self.counters["evaluations" if req.kind == "accuracy" else "drift_probes"] += 1
            out[key] = answer
        return out

    def answer(self, req: Request) -> dict:
        """Compute one request in this process (what a remote worker runs): a memo record plus the images forwarded."""
        before = self.counters["images_forwarded"]
        out: dict[str, Any]
        config = req.config if req.scheme in (None, self.scheme) else QuantConfig.from_layer_bits(req.config, self.structure, req.scheme)
        if req.kind == "accuracy":
            r = self.accuracy(config, req.split, req.floor)
            out = {"n": r.n, "correct": r.correct, "correct5": r.correct5, "seen": r.seen, "complete": r.complete, "floor": r.floor,
                   "seconds": r.seconds, "hits": r.hits, "start_block": r.start_block}
        elif req.kind == "drift":
            out = self.drift(config).to_dict()
        elif req.kind == "order":
            order, record, forwarded = self._compute_order(self.split(req.split))
            self.counters["images_forwarded"] += forwarded
            out = {"order": order.tolist(), "record": record}
        elif req.kind == "positions":
            out = {"positions": self._drift_positions()}
        else:
            raise ValueError(f"unknown request kind {req.kind!r}")
        return {**out, "forwarded": self.counters["images_forwarded"] - before}
