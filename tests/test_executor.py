"""Executors: a search run on Ray actors gives the serial run's result (timings aside), survives a dead
worker and a kill + resume, and says how to install Ray when it is missing."""

import sys

import pytest

from aq4svit_lib.data import SplitSpec
from aq4svit_lib.errors import UsageError
from aq4svit_lib.evaluate.executor import ExecutorSettings, Request, make_executor
from aq4svit_lib.search import run_search
from aq4svit_lib.search.common import SearchInterrupted
from aq4svit_lib.search.results import result_differences

MODEL = "sdtv3_tiny"  # the fastest default model: CI time
SPEC = SplitSpec(search_size=150, minibatch_size=32, seed=0, verify_size=150, test_size=200)  # small: CI time
SETTINGS = {
    "qsvit": dict(bits=(32, 4), uniform_sweeps=False),
    "greedy": dict(bits=(32, 8, 4, 2), levels=("network", "stage")),
    "beam": dict(bits=(32, 8, 4, 2), levels=("network", "stage"), beam_width=2, trade_partners=2),
    "optuna": dict(bits=(32, 4, 2), budget=6, population=4),  # generations asked together: the same proposals
}


def search(method, out, executor=None, **kw):
    return run_search(method, MODEL, out=out, spec=SPEC, quiet=True, export=False, executor=executor, **{**SETTINGS[method], **kw})


@pytest.fixture(scope="module")
def ray_cluster():
    import ray  # in the dev extra: CI always has it

    from tests.conftest import THREADS  # the cores this test process may use (1 beside another xdist worker)

    ray.init(num_cpus=THREADS, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def serial_runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("serial")
    return {m: search(m, base / m) for m in SETTINGS}


def _same(a, b) -> list[str]:
    return result_differences(a.result, b.result, a.trace, b.trace)


@pytest.mark.parametrize("method", list(SETTINGS))
def test_ray_gives_the_serial_result(method, serial_runs, ray_cluster, tmp_path):
    ray_run = search(method, tmp_path / "ray", ExecutorSettings("ray", workers=2))
    serial = serial_runs[method]
    assert _same(serial, ray_run) == []  # final config, accuracies, evaluation counts, every trace row
    assert ray_run.bits == serial.bits and ray_run.result["evaluations"] == serial.result["evaluations"]
    stats = ray_run.result["executor"]
    assert stats["executor"] == "ray" and stats["workers"] == 2 and stats["threads_per_worker"] == 1  # workers x threads <= cores
    assert stats["requests"] > 0 and serial.result["executor"] == {"executor": "serial", "workers": 1}
    if method == "qsvit":  # Algorithm 1's candidates went out in one batch, not one by one
        assert stats["requests"] >= serial.result["evaluations"]["full"]


def test_a_worker_killed_during_a_round_changes_nothing(serial_runs, ray_cluster, tmp_path):
    ray_run = search("beam", tmp_path / "killed", ExecutorSettings("ray", workers=2, kill_worker_after=3))
    assert ray_run.result["executor"]["resubmitted"] >= 1  # the dead worker's request ran again elsewhere
    assert _same(serial_runs["beam"], ray_run) == []


def test_a_ray_search_killed_and_resumed_ends_with_the_serial_result(serial_runs, ray_cluster, tmp_path):
    out = tmp_path / "greedy"
    with pytest.raises(SearchInterrupted):
        search("greedy", out, ExecutorSettings("ray", workers=2), max_evaluations=4)
    resumed = run_search("greedy", MODEL, out=out, spec=SPEC, quiet=True, export=False, resume=True,
                         executor=ExecutorSettings("ray", workers=2), **SETTINGS["greedy"])
    reference = serial_runs["greedy"].result
    assert resumed.bits == serial_runs["greedy"].bits
    for key in ("final", "evaluations", "memory_bytes", "fp32", "verify"):
        assert resumed.result[key] == reference[key]


def test_ray_missing_is_a_usage_error_that_says_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` meets when Ray is not installed
    with pytest.raises(UsageError, match=r"pip install 'aq4svit\[ray\]'"):
        make_executor("ray")
    from aq4svit_lib.cli import main

    assert main(["search", "--method", "greedy", "--executor", "ray", "--out", "unused"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "aq4svit[ray]" in err[0]


@pytest.mark.parametrize("kwargs,needle", [
    ({"name": "dask"}, "unknown executor 'dask'"),
    ({"name": "ray", "workers": 0}, "workers must be an integer >= 1"),
    ({"name": "ray", "gpus_per_worker": -0.5}, "GPUs per worker must be >= 0"),
])
def test_executor_settings_are_validated(kwargs, needle):
    with pytest.raises(UsageError, match=needle):
        ExecutorSettings(**kwargs)


def test_serial_executor_prefetches_nothing_and_requests_key_like_the_engine(small_splits):
    from aq4svit_lib.evaluate import Evaluator
    from aq4svit_lib.models import create_model

    ev = Evaluator(create_model("sdtv2_tiny", checkpoint="default"), small_splits, quiet=True, hardest_first=())
    bits = {layer.name: 4 for layer in ev.structure.layers}
    assert ev.prefetch([Request.accuracy(bits), Request.drift(bits)]) == 0 and ev.counters["images_forwarded"] == 0
    answer = ev.answer(Request.accuracy(bits, "search"))  # what a worker sends back: a memo record
    r = ev.accuracy(bits, "search")
    assert r.from_memo and (answer["correct"], answer["n"], answer["complete"]) == (r.correct, r.n, True)
    assert answer["forwarded"] == len(small_splits["search"])


def test_cli_executor_flags_reach_the_settings_and_bad_values_exit_2(capsys):
    from aq4svit_lib.cli import _executor, _with_executor, build_parser, main
    from aq4svit_lib.reproduce import get_profile

    args = build_parser().parse_args(["search", "--method", "greedy", "--executor", "ray", "--workers", "3", "--gpus-per-worker", "0.5",
                                      "--ray-address", "10.0.0.1:6379"])
    assert _executor(args) == ExecutorSettings("ray", workers=3, address="10.0.0.1:6379", gpus_per_worker=0.5)
    prof = _with_executor(get_profile("ci"), args)
    assert prof.name == "ci" and prof.executor_settings() == _executor(args)  # how, not what: the profile keeps its name
    assert build_parser().parse_args(["reproduce", "--executor", "ray"]).executor == "ray"
    with pytest.raises(SystemExit) as exit_:
        main(["search", "--method", "greedy", "--workers", "0"])
    assert exit_.value.code == 2 and "--workers" in capsys.readouterr().err
