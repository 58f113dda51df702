"""The ``ray`` executor: a search's evaluations on long-lived Ray actors (Ray core, not Ray Tune).

Each actor (:class:`EvaluationWorker`) receives the model and the splits once through Ray's object
store and builds its own :class:`~aq4svit_lib.evaluate.Evaluator` (own prefix cache, an in-memory
memo); the driver sends it :class:`~.executor.Request` objects and stores the answers in *its* memo,
the only one written. A split's hardest-first order is computed once (by a worker) and travels with
every request on that split, so a restarted actor needs no state from the driver.

Threads: each actor reserves ``threads`` CPUs from Ray and sets torch to that many threads, so
workers x threads never exceed the cores Ray manages (two torch processes that each use every core
slow each other down up to 10x).

Fault tolerance: actors restart (``max_restarts``); a request whose actor died is handed to the next
free actor. Evaluations are deterministic, so a re-run gives the answer the lost one would have.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections import deque
from dataclasses import asdict

import numpy as np

from ..errors import UsageError
from .executor import ExecutorSettings, Request, register_executor

log = logging.getLogger(__name__)
MAX_TRIES = 4  # per request: a request that kills its actor this often is a bug, not bad luck
IN_FLIGHT = 2  # requests queued per actor: the next one starts while the driver reads the last answer


def import_ray():
    try:
        import ray
    except ImportError:
        raise UsageError("--executor ray needs Ray: pip install 'aq4svit[ray]' (or pip install 'ray>=2.9')") from None
    return ray


class EvaluationWorker:
    """One Ray actor: an Evaluator on its own copy of the model and splits (made remote in RayExecutor)."""

    def __init__(self, model, splits: dict, options: dict, threads: int, kill_after: int | None = None):
        import torch

        from .engine import Evaluator

        torch.set_num_threads(threads)
        self.threads = threads
        self.base = splits
        self.ev = Evaluator(model, dict(splits), hardest_first=(), quiet=True, **options)
        self.served = 0
        reborn = import_ray().get_runtime_context().was_current_actor_reconstructed
        self.kill_after = None if reborn else kill_after
        self.orders: dict[str, str | None] = {}

    def _use_order(self, name: str, order) -> None:
        digest = None if order is None else hashlib.blake2b(np.asarray(order).tobytes(), digest_size=8).hexdigest()
        if self.orders.get(name) != digest:
            self.ev.splits = {**self.ev.splits, name: self.base[name] if order is None else self.base[name].reordered(order)}
            self.orders[name] = digest
            self.ev._refresh_pins()

    def run(self, request: Request, order=None, threads: int | None = None) -> dict:
        import torch

        self.served += 1
        if self.kill_after is not None and self.served >= self.kill_after:
            os._exit(1)  # fault injection: die in the middle of a round, as a preempted node would
        torch.set_num_threads(min(threads or self.threads, os.cpu_count() or 1))
        if request.kind in ("accuracy", "drift", "order"):
            self._use_order(request.split, order)
        return self.ev.answer(request)

    def pin(self, configs: list) -> None:
        self.ev.pin(*configs)

    def numerics(self) -> tuple[str, str]:
        from .engine import device_numerics

        return device_numerics(self.ev.device)


@register_executor("ray")
class RayExecutor:
    remote = True

    def __init__(self, settings: ExecutorSettings):
        self.settings = settings
        self.ray = import_ray()
        self.actors: list = []
        self.counts: dict = {"requests": 0, "resubmitted": 0, "worker_seconds": 0.0, "start_seconds": 0.0}
        self._orders: dict[str, tuple[str, object]] = {}
        self.threads = self.burst = 1
        self.numerics: tuple[str, str] | None = None  # set when the actors start

    @property
    def speculates(self) -> bool:
        """Worth computing guesses (Greedy's next ladder steps)? When one request cannot use every worker's
        resources: GPU workers, or more workers x threads than this node has cores (a multi-node cluster)."""
        s = self.settings
        return s.gpus_per_worker > 0 or (self.actors != [] and len(self.actors) * self.threads > (os.cpu_count() or 1))

    @property
    def device_type(self) -> str:
        return "cuda" if self.settings.gpus_per_worker > 0 else "cpu"

    # -- start ---------------------------------------------------------------------------------------
    def _init_ray(self) -> None:
        ray = self.ray
        if ray.is_initialized():
            return
        kwargs = dict(include_dashboard=False, ignore_reinit_error=True, logging_level=logging.WARNING, log_to_driver=False)
        if self.settings.address:
            ray.init(address=self.settings.address, **kwargs)
        else:
            ray.init(num_cpus=os.cpu_count() or 1, **kwargs)

    def start(self, evaluator) -> None:
        """Start the actors on ``evaluator``'s model and splits (once; the evaluator calls it when it is made)."""
        if self.actors:
            return
        t0 = time.perf_counter()
        self._init_ray()
        s, ray = self.settings, self.ray
        cpus = float(ray.cluster_resources().get("CPU", 1))
        # each actor reserves its share of Ray's CPUs (a fraction when workers outnumber them: one thread each,
        # oversubscribed but without OpenMP spinning) and uses as many torch threads as whole CPUs it reserved
        if s.threads_per_worker:
            share = float(s.threads_per_worker)
        else:
            share = float(cpus // s.workers) if cpus >= s.workers else cpus / s.workers
        threads = max(1, int(share))
        if s.workers * share > cpus + 1e-9:
            raise UsageError(f"{s.workers} workers x {share:g} CPUs exceed the Ray cluster's {cpus:g}")
        self.burst = max(threads, int(min(cpus, s.workers * share)))  # a lone request's threads (see run)
        if s.gpus_per_worker > 0 and s.gpus_per_worker * s.workers > ray.cluster_resources().get("GPU", 0):
            raise UsageError(f"{s.workers} workers x {s.gpus_per_worker} GPUs exceed the cluster's {ray.cluster_resources().get('GPU', 0)}")
        self.threads = threads
        options = dict(scheme=evaluator.scheme, batch_size=evaluator.batch_size, cache_bytes=evaluator.cache.budget_bytes,
                       device=self.device_type, drift_split=evaluator.drift_split, drift_aggregate=evaluator.drift_aggregate,
                       drift_reference_bytes=evaluator.drift_reference_bytes)
        # held here for the executor's lifetime: a restarting actor re-reads its constructor arguments
        self._inputs = ray.put(evaluator.model), ray.put({k: v for k, v in evaluator.base_splits.items() if k != "train"})
        cls = ray.remote(EvaluationWorker).options(num_cpus=share, num_gpus=s.gpus_per_worker, max_restarts=MAX_TRIES,
                                                  max_task_retries=0)
        self.actors = [cls.remote(*self._inputs, options, threads, s.kill_worker_after if i == 0 else None) for i in range(s.workers)]
        # up and loaded (the start-up cost is measured on its own); where they compute is part of every memo key
        kinds = sorted(set(ray.get([a.numerics.remote() for a in self.actors])))
        if len(kinds) > 1:
            log.warning("Ray workers compute on different hardware (%s): their float sums can differ, so results may differ "
                        "from a serial run's; use alike nodes for bit-identical results", kinds)
        self.numerics = kinds[0]
        self.counts["start_seconds"] = round(time.perf_counter() - t0, 3)

    def _order_ref(self, evaluator, request: Request):
        order = evaluator.orders.get(request.split) if request.kind != "order" else None
        if order is None:
            return None
        digest = hashlib.blake2b(np.asarray(order).tobytes(), digest_size=8).hexdigest()
        if self._orders.get(request.split, ("",))[0] != digest:
            self._orders[request.split] = (digest, self.ray.put(np.asarray(order)))
        return self._orders[request.split][1]

    # -- run -----------------------------------------------------------------------------------------
    def run(self, evaluator, requests: list[Request]) -> list[dict]:
        """Answers to ``requests``, in order; each runs on the next free actor (a dead actor's go elsewhere)."""
        self.start(evaluator)
        ray = self.ray
        # a lone request (a sequential step: QSViT's Algorithm 3, a verify back-off) has every worker's
        # threads to itself: no other actor computes meanwhile, so workers x threads <= cores still holds
        threads = self.burst if len(requests) == 1 else self.threads
        pending = deque(enumerate(requests))
        tries = dict.fromkeys(range(len(requests)), 0)
        answers: list[dict | None] = [None] * len(requests)
        slots = deque(a for _ in range(IN_FLIGHT) for a in range(len(self.actors)))
        inflight: dict = {}
        while pending or inflight:
            while pending and slots:
                i, req = pending.popleft()
                a = slots.popleft()
                inflight[self.actors[a].run.remote(req, self._order_ref(evaluator, req), threads)] = (i, a, req)
            done, _ = ray.wait(list(inflight), num_returns=1)
            for ref in done:
                i, a, req = inflight.pop(ref)
                try:
                    answers[i] = ray.get(ref)
                    slots.appendleft(a)
                except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError):
                    tries[i] += 1
                    if tries[i] >= MAX_TRIES:
                        raise RuntimeError(f"{req.kind} request failed on {tries[i]} workers; last error follows") from None
                    self.counts["resubmitted"] += 1
                    pending.appendleft((i, req))
                    slots.append(a)  # the restarted actor goes last: the retry runs elsewhere if it can
        self.counts["requests"] += len(requests)
        sizes = self.counts.setdefault("batch_sizes", {})  # the parallelism the search offered (bench_parallel's cost model)
        sizes[str(len(requests))] = sizes.get(str(len(requests)), 0) + 1
        self.counts["worker_seconds"] += sum(a.get("seconds") or 0.0 for a in answers if a)  # type: ignore[union-attr]
        return answers  # type: ignore[return-value]

    def broadcast(self, method: str, *args) -> None:
        """Fire-and-forget to every actor (actor calls run in submission order, so it lands before later requests)."""
        for actor in self.actors:
            getattr(actor, method).remote(*args)

    def stats(self) -> dict:
        return {"executor": "ray", **asdict(self.settings), "threads_per_worker": self.threads, "burst_threads": self.burst, **self.counts}

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)
        self.actors = []
