"""The engine's seams (evaluate/protocols.py): the real classes and the test fakes have every member of their
protocol, with the same parameters (names, kinds, defaults), so a fake cannot drift from what it stands for.

isinstance on a runtime-checkable protocol only sees that a member exists; :func:`mismatches` also compares
the parameters of every method (their annotations are mypy's to check).
"""

import inspect
from collections import Counter
from pathlib import Path

import pytest

from aq4svit_lib.evaluate import Evaluator, EvaluatorProtocol, ExecutorProtocol, MemoProtocol
from aq4svit_lib.evaluate.executor import ExecutorSettings, SerialExecutor, executor_names, get_executor
from aq4svit_lib.evaluate.memo import InMemoryMemo, Memo
from aq4svit_lib.evaluate.ray_executor import RayExecutor
from tests.conftest import random_model
from tests.test_beam_known_answer import AdditiveEvaluator, losses

PROTOCOLS = (EvaluatorProtocol, ExecutorProtocol, MemoProtocol)


def protocol_members(proto: type) -> tuple[dict[str, inspect.Signature], set[str]]:
    """(methods and their signatures, data members) declared in ``proto``'s body."""
    methods, data = {}, set(getattr(proto, "__annotations__", {}))
    for name, value in vars(proto).items():
        if isinstance(value, property):
            data.add(name)
        elif inspect.isfunction(value) and value.__module__ == proto.__module__:  # not typing's own
            methods[name] = inspect.signature(value)
    return methods, data


def _parameters(sig: inspect.Signature) -> list[tuple]:
    return [(p.name, p.kind, p.default) for p in sig.parameters.values()]


def mismatches(proto: type, candidate) -> list[str]:
    """How ``candidate`` (a class; an instance also has its data members checked) departs from ``proto``."""
    cls = candidate if isinstance(candidate, type) else type(candidate)
    methods, data = protocol_members(proto)
    problems = []
    for name, expected in methods.items():
        impl = getattr(cls, name, None)
        if impl is None or not callable(impl):
            problems.append(f"{cls.__name__}.{name}: missing")
        elif _parameters(got := inspect.signature(impl)) != _parameters(expected):
            problems.append(f"{cls.__name__}.{name}{got} is not the protocol's {name}{expected}")
    if not isinstance(candidate, type):
        problems += [f"{cls.__name__}.{name}: missing" for name in sorted(data) if not hasattr(candidate, name)]
    return problems


def test_the_protocols_declare_methods_and_attributes():
    """The helper sees what each protocol declares (an empty list would make every check below pass)."""
    methods, data = protocol_members(EvaluatorProtocol)
    assert {"accuracy", "drift", "prefetch", "pin", "split", "resolve", "stats"} <= set(methods)
    assert {"counters", "replayed_seconds", "replayed_images", "executor", "memo", "splits", "structure", "quantizer"} <= data
    methods, data = protocol_members(ExecutorProtocol)
    assert set(methods) == {"start", "run", "broadcast", "stats", "close"} and {"remote", "speculates", "numerics"} <= data
    assert set(protocol_members(MemoProtocol)[0]) == {"get", "put", "__len__", "close", "stats"}


@pytest.mark.parametrize(("proto", "cls"), [(EvaluatorProtocol, Evaluator), (ExecutorProtocol, SerialExecutor),
                                           (ExecutorProtocol, RayExecutor), (MemoProtocol, Memo), (MemoProtocol, InMemoryMemo)])
def test_real_classes_have_the_protocols_signatures(proto, cls):
    assert mismatches(proto, cls) == []


def test_every_registered_executor_has_the_protocols_signatures():
    for name in executor_names():  # built-in modules and installed plugins
        assert mismatches(ExecutorProtocol, get_executor(name)) == [], name


def test_real_instances_satisfy_the_protocols(tmp_path, small_splits):
    ev = Evaluator(random_model("sdtv3_tiny"), small_splits, quiet=True, hardest_first=(), memo=tmp_path / "memo.sqlite")
    other = Memo(tmp_path / "other.sqlite")
    try:
        memos = [ev.memo, InMemoryMemo(), other]
        executors = [ev.executor, SerialExecutor(ExecutorSettings())]
        for proto, objects in ((EvaluatorProtocol, [ev]), (ExecutorProtocol, executors), (MemoProtocol, memos)):
            for obj in objects:
                assert isinstance(obj, proto), (proto.__name__, obj)
                assert mismatches(proto, obj) == []
        assert isinstance(ev.memo, Memo)  # a path still makes an SQLite memo (the engine tells memos by the protocol)
    finally:
        ev.close()
        other.close()
    for path in ("memo.sqlite", Path("memo.sqlite")):
        assert not isinstance(path, MemoProtocol)


def test_the_ray_executor_instance_satisfies_the_protocol():
    pytest.importorskip("ray")
    ex = RayExecutor(ExecutorSettings("ray", workers=1))  # nothing starts before start()
    assert isinstance(ex, ExecutorProtocol) and mismatches(ExecutorProtocol, ex) == []


def test_the_beam_fake_satisfies_the_evaluator_protocol():
    from aq4svit_lib.quant import MemoryModel
    from aq4svit_lib.search import SearchSpace
    from tests.test_beam_known_answer import BITS, MODEL

    space = SearchSpace(MODEL.quant_structure(), MemoryModel(MODEL), BITS)
    fake = AdditiveEvaluator(space, losses(space)[0])
    assert isinstance(fake, EvaluatorProtocol)
    assert mismatches(EvaluatorProtocol, fake) == []


class Drifted:
    """A fake written against an older engine: ``accuracy`` without ``split`` and ``floor``, ``pin`` of one config,
    a ``drift`` whose parameter has another name, no ``resolve`` and no ``memo``."""

    counters: Counter = Counter()
    replayed_seconds = 0.0
    replayed_images = 0
    executor = SerialExecutor()
    splits: dict = {}
    model = structure = None
    drift_aggregate, drift_split, batch_size, quantizer = "mean", "minibatch", 256, None

    def accuracy(self, cfg):
        return None

    def drift(self, bits):
        return None

    def prefetch(self, requests):
        return 0

    def pin(self, config):
        pass

    def split(self, name):
        return None

    def stats(self):
        return {}


def test_a_drifted_fake_is_reported():
    problems = mismatches(EvaluatorProtocol, Drifted())
    assert [p.split(":")[0].split("(")[0] for p in problems] == ["Drifted.accuracy", "Drifted.drift", "Drifted.pin", "Drifted.resolve",
                                                                 "Drifted.memo"], problems
    assert not isinstance(Drifted(), EvaluatorProtocol)  # runtime_checkable sees the missing members...

    class Fixed(Drifted):
        memo = InMemoryMemo()

        def resolve(self, config):
            return config, None

    assert isinstance(Fixed(), EvaluatorProtocol)  # ...but not the parameters: only the signature check does
    assert len(mismatches(EvaluatorProtocol, Fixed())) == 3


def test_a_changed_default_is_reported():
    class OtherDefault(AdditiveEvaluator):
        def accuracy(self, config, split="test", floor=None):  # type: ignore[override]
            return super().accuracy(config, split, floor)

    assert [p.split("(")[0] for p in mismatches(EvaluatorProtocol, OtherDefault)] == ["OtherDefault.accuracy"]
