"""Progress bars (aq4svit_lib/progress.py), the machine record (provenance.machine) and tidy rendered notebooks."""

import io
import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from aq4svit_lib import progress
from aq4svit_lib.progress import progress_bar, progress_mode

PACKAGE = Path(progress.__file__).resolve().parent


@pytest.fixture
def env(monkeypatch):
    for k in ("AQ4SVIT_HEADLESS", "AQ4SVIT_QUIET", "CI"):
        monkeypatch.delenv(k, raising=False)
    return monkeypatch


def test_every_bar_of_the_package_goes_through_the_factory():
    users = [p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")
             if p.name != "progress.py" and re.search(r"^\s*(from tqdm|import tqdm)", p.read_text(), re.M)]
    assert users == []


def test_headless_bar_writes_one_line_when_it_closes(env):
    env.setenv("AQ4SVIT_HEADLESS", "1")
    assert progress_mode() == "headless"
    stream = io.StringIO()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bar = progress_bar(total=100, desc="beam sdtv2_tiny", unit="cand", file=stream)
        for _ in range(100):
            bar.update(1)
        assert stream.getvalue() == ""  # nothing while it runs
        bar.close()
        bar.close()  # a second close writes nothing more
    assert not caught  # no TqdmWarning / TqdmExperimentalWarning
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 and re.fullmatch(r"beam sdtv2_tiny: 100/100 cand in \d+\.\d s", lines[0]), lines


def test_headless_iteration_closes_itself_and_keeps_the_postfix(env):
    env.setenv("AQ4SVIT_HEADLESS", "1")
    stream = io.StringIO()
    bar = progress_bar(range(7), desc="epoch 1/2", unit="step", file=stream)
    assert list(bar) == list(range(7))
    bar.set_postfix(loss="0.123")
    bar.close()  # already closed by the loop: the line stays as it was
    assert stream.getvalue().count("\n") == 1 and stream.getvalue().startswith("epoch 1/2: 7/7 step")


def test_headless_default_stream_is_the_current_stdout(env, capsys):
    env.setenv("AQ4SVIT_HEADLESS", "1")
    bar = progress_bar(desc="search", unit="cand")  # no total: a count
    bar.update(3)
    bar.close()
    out, err = capsys.readouterr()
    assert re.fullmatch(r"search: 3 cand in \d+\.\d s\n", out) and err == ""


def test_inner_bars_are_silent_in_a_headless_run(env):
    env.setenv("AQ4SVIT_HEADLESS", "1")
    stream = io.StringIO()
    with progress_bar(total=50, desc="eval search", file=stream, inner=True) as bar:
        for _ in range(50):
            bar.update(1)
    assert stream.getvalue() == "" and bar.n == 50


@pytest.mark.parametrize("how", ["argument", "AQ4SVIT_QUIET", "CI"])
def test_quiet_writes_nothing(env, how):
    env.setenv("AQ4SVIT_HEADLESS", "1")  # quiet wins over headless
    if how != "argument":
        env.setenv(how, "1")
    stream = io.StringIO()
    bar = progress_bar(total=100, desc="x", file=stream, quiet=True if how == "argument" else None)
    for _ in range(100):
        bar.update(1)
    bar.close()
    assert stream.getvalue() == "" and progress_mode(True) == "quiet"


def test_a_terminal_gets_a_normal_tqdm_bar(env):
    from tqdm.std import tqdm

    assert progress_mode() == "terminal"  # pytest: no Jupyter kernel
    stream = io.StringIO()
    bar = progress_bar(total=3, desc="t", file=stream, leave=True)
    assert isinstance(bar, tqdm)
    bar.update(3)
    bar.close()
    assert "3/3" in stream.getvalue()


def test_machine_is_recorded_and_never_makes_results_differ():
    from aq4svit_lib.provenance import machine, machine_line
    from aq4svit_lib.search.results import result_differences

    m = machine("cpu")
    assert {"cpu", "cpu_kernels", "torch_threads", "logical_cores", "torch", "numpy", "python", "device", "os"} <= set(m)
    assert isinstance(m["cpu_kernels"], str) and m["cpu_kernels"] and m["device"] == "cpu"
    assert m["torch_threads"] >= 1 and m["logical_cores"] >= 1
    assert json.loads(json.dumps(m)) == m
    line = machine_line(m)
    assert line == f"{m['cpu']} ({m['cpu_kernels']}), {m['torch_threads']} threads, torch {m['torch']}, cpu"
    a = {"final": {"bytes": 10}, "machine": m}
    assert result_differences(a, {**a, "machine": {**m, "cpu": "other", "torch_threads": 64}}) == []
    assert result_differences(a, {**a, "final": {"bytes": 11}}) == ["final"]


def test_highs_stray_line_does_not_reach_stdout(capfd):
    """HiGHS prints a debug line with printf when it repairs an incumbent (this instance does, with SciPy 1.17)."""
    from aq4svit_lib.search.sensitivity_ilp import solve_allocation

    rng = np.random.default_rng(0)
    for _ in range(355):  # the 355th instance of this sequence triggers it
        u = rng.integers(4, 30)
        mem = np.sort(rng.random((u, 6)) * 100, axis=1)[:, ::-1].copy()
        score = np.sort(rng.random((u, 6)), axis=1)
        score[:, 0] = 0
        budget = rng.random() * score.sum(1).mean()
    choice = solve_allocation(mem, score, budget)
    assert choice is not None and score[np.arange(u), choice].sum() <= budget + 1e-9
    print("after")  # stdout still works afterwards
    assert capfd.readouterr().out == "after\n"


def test_run_notebooks_runs_kernels_headless_and_records_the_machine(env, tmp_path, monkeypatch):
    import papermill

    from aq4svit_lib.reproduce import run_notebooks

    seen = []

    def fake(src, dst, **kwargs):
        import os

        seen.append(os.environ.get("AQ4SVIT_HEADLESS"))
        Path(dst).write_text("{}")

    monkeypatch.setattr(papermill, "execute_notebook", fake)
    timings = run_notebooks("ci", ["01"], output_dir=tmp_path, log=lambda m: None)
    assert seen == ["1"] and "AQ4SVIT_HEADLESS" not in __import__("os").environ  # restored afterwards
    stored = json.loads((tmp_path / "executed" / "timings.json").read_text())
    assert stored["notebooks"] == timings and [t["notebook"] for t in timings] == ["01_models_and_baselines"]
    assert {"cpu", "cpu_kernels", "torch_threads", "device"} <= set(stored["machine"])


def test_render_html_merges_streams_and_drops_tqdm_notes(tmp_path):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    from aq4svit_lib.reproduce import render_html

    note = ("/x/.venv/lib/python3.11/site-packages/tqdm/auto.py:21: TqdmWarning: IProgress not found. Please update jupyter\n"
            "  from .autonotebook import tqdm as notebook_tqdm\n")
    cell = new_code_cell("run()", outputs=[new_output("stream", name="stderr", text=note),
                                           new_output("stream", name="stdout", text="line one\n"),
                                           new_output("stream", name="stdout", text="line two\n"),
                                           new_output("stream", name="stderr", text="\rbar 1/3\rbar 3/3\n")])
    (tmp_path / "nb").mkdir()
    nbformat.write(new_notebook(cells=[cell]), tmp_path / "nb" / "x.ipynb")
    page = render_html(tmp_path / "nb", tmp_path / "html")[0].read_text()
    assert "IProgress" not in page and "TqdmWarning" not in page
    assert "line one\nline two" in page and "bar 3/3" in page and "bar 1/3" not in page
