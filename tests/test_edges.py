"""A hostile user's mistakes end as one message and exit 2, never as "internal error" (exit 70, our bugs only).

One test per class of value, each run over every command that accepts such a value (the tables below
mirror cli.build_parser); all of them fail at validation, before any data is loaded.
"""

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from aq4svit_lib import cli
from aq4svit_lib.errors import UsageError

CONFIG = {"format": "aq4svit.quant_config", "version": 1, "default": 8}


def call(argv, capsys):
    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    return code, capsys.readouterr().err


def assert_user_error(code, err, value):
    assert code == 2, err
    assert "internal error" not in err and "Traceback" not in err, err
    assert str(value) in err, err
    assert "\n\n" not in err.strip(), err  # one paragraph


@pytest.fixture
def place(tmp_path):
    """Things of every kind: a folder, a text file, a binary file, a missing path, a path through a file."""
    (tmp_path / "dir").mkdir()
    (tmp_path / "notes.txt").write_text("hello\n")
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00\x01\x89PNG")
    (tmp_path / "cfg.json").write_text(json.dumps(CONFIG))
    kinds = {
        "dir": tmp_path / "dir", "file": tmp_path / "notes.txt", "binary": tmp_path / "binary.json",
        "missing": tmp_path / "missing.bin", "through": tmp_path / "notes.txt" / "sub",
        "unwritable": Path("/sys/aq4svit-edges-test/sub"),  # root ignores permissions; a read-only file system does not
    }
    return tmp_path, kinds


def _unwritable_or_skip(path: Path) -> None:
    import tempfile

    try:
        with tempfile.TemporaryFile(dir=next(p for p in path.parents if p.exists())):
            pass
    except OSError:
        return
    pytest.skip(f"{path.parent} is writable here: no unwritable location to try")


# argv templates: V is the value under test, OUT a fresh folder, CFG a valid config, DIR an existing folder
INPUT_FILES = [  # binary files (checkpoints)
    ["eval", "--checkpoint", "V"],
    ["quantize", "--config", "CFG", "--checkpoint", "V", "--out", "OUT/q.safetensors"],
    ["memory", "--checkpoint", "V"],
    ["search", "--method", "greedy", "--checkpoint", "V", "--out", "OUT"],
    ["train", "--init-from", "V"],
]
TEXT_FILES = [
    ["eval", "--config", "V"],
    ["quantize", "--config", "V", "--out", "OUT/q.safetensors"],
    ["memory", "--config", "V"],
    ["config", "--show", "V"],
    ["check", "--committed", "V"],
]
INPUT_DIRS = [
    ["info", "--data-root", "V"],
    ["data", "--data-root", "V"],
    ["eval", "--data-root", "V"],
    ["search", "--method", "greedy", "--data-root", "V", "--out", "OUT"],
    ["search", "--method", "greedy", "--model", "sdtv2_55m", "--dataset", "imagenet", "--imagenet-root", "V", "--out", "OUT"],
    ["train", "--data-root", "V"],
    ["reproduce", "--profile", "imagenet", "--imagenet-root", "V"],
    ["reproduce", "--profile", "imagenet", "--imagenet-root", "DIR", "--checkpoint-dir", "V"],
    ["check", "--results", "V"],
    ["claims", "--results", "V"],
]
OUTPUT_FILES = [
    ["quantize", "--config", "CFG", "--out", "V"],
    ["compare", "--out", "V"],
    ["config", "--out", "V"],
    ["train", "--out", "V"],
    ["claims", "--write", "--committed", "V"],
]
OUTPUT_DIRS = [["search", "--method", "greedy", "--out", "V"]]
MEMOS = [["search", "--method", "greedy", "--memo", "V", "--out", "OUT"]]

PATH_CASES = (
    [(argv, k) for argv in INPUT_FILES for k in ("dir", "missing", "through")]
    + [(argv, k) for argv in TEXT_FILES for k in ("dir", "missing", "through", "binary")]
    + [(argv, k) for argv in INPUT_DIRS for k in ("file", "missing", "through")]
    + [(argv, k) for argv in OUTPUT_FILES for k in ("dir", "through", "unwritable")]
    + [(argv, k) for argv in OUTPUT_DIRS for k in ("file", "through", "unwritable")]
    + [(argv, k) for argv in MEMOS for k in ("dir", "through", "file")]
)


def _argv(template, value, tmp_path):
    subs = {"V": value, "CFG": tmp_path / "cfg.json", "DIR": tmp_path / "dir"}
    return [str(tmp_path / "out") + a[3:] if a.startswith("OUT") else str(subs.get(a, a)) for a in template]


@pytest.mark.parametrize("template,kind", PATH_CASES, ids=[f"{t[0]}-{t[t.index('V') - 1]}-{k}" for t, k in PATH_CASES])
def test_class1_paths_of_the_wrong_kind(template, kind, place, capsys):
    tmp_path, kinds = place
    value = kinds[kind]
    if kind == "unwritable":
        _unwritable_or_skip(value)
    before = {p: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    code, err = call(_argv(template, value, tmp_path), capsys)
    assert_user_error(code, err, value)
    assert {p: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before  # nothing of the user's touched
    assert not (tmp_path / "out").exists()  # nothing half-written


MISMATCHES = [
    ["eval", "--model", "sdtv2_55m"],
    ["eval", "--model", "sdt_8_768", "--split", "minibatch"],
    ["search", "--method", "greedy", "--model", "sdtv2_55m", "--out", "OUT"],
    ["search", "--method", "beam", "--model", "sdtv3_tiny", "--dataset", "imagenet", "--imagenet-root", "DIR", "--out", "OUT"],
    ["train", "--model", "sdt_8_768"],
    ["compare", "--model", "sdtv2_55m", "--profile", "ci"],
]


@pytest.mark.parametrize("template", MISMATCHES, ids=[" ".join(t[:3]) for t in MISMATCHES])
def test_class2_model_and_data_that_do_not_fit(template, place, capsys):
    tmp_path, _ = place
    model = template[template.index("--model") + 1]
    code, err = call(_argv(template, "", tmp_path), capsys)
    assert_user_error(code, err, model)
    assert "28x28x1" in err and "224x224x3" in err and "10 classes" in err and "1000 classes" in err
    assert not (tmp_path / "out").exists()


def test_class2_library_entry_refuses_before_writing(tmp_path):
    from aq4svit_lib.search import run_search

    with pytest.raises(UsageError, match="does not fit dataset fashion_mnist"):
        run_search("greedy", "sdtv2_55m", out=tmp_path / "X")
    assert not (tmp_path / "X").exists()


DEVICE_COMMANDS = [["eval", "--split", "minibatch", "--device", "V"], ["search", "--method", "greedy", "--device", "V", "--out", "OUT"]]
DEVICES = ["foo", "cuda:99", "gpu0"] + ([] if torch.cuda.is_available() else ["cuda", "cuda:3"])


@pytest.mark.parametrize("template", DEVICE_COMMANDS, ids=lambda t: t[0])
@pytest.mark.parametrize("device", DEVICES)
def test_class3_devices_that_do_not_exist(template, device, place, capsys):
    tmp_path, _ = place
    code, err = call(_argv(template, device, tmp_path), capsys)
    assert_user_error(code, err, device)
    assert "devices available here: cpu" in err
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def nan_checkpoints(tmp_path_factory):
    from aq4svit_lib.models import create_model
    from aq4svit_lib.models.checkpoint import save_checkpoint

    d = tmp_path_factory.mktemp("nan")
    model = create_model("sdtv3_tiny", checkpoint="default")
    name = next(k for k, v in model.state_dict().items() if v.is_floating_point() and v.dim() == 4)
    with torch.no_grad():
        model.state_dict()[name].view(-1)[:3] = torch.tensor([float("nan"), float("inf"), -float("inf")])
    st = save_checkpoint(model, d / "nan.safetensors")
    pth = d / "nan.pth"
    torch.save({"model": model.state_dict()}, pth)
    return name, {"safetensors": st, "pth": pth}


WEIGHT_COMMANDS = [
    ["eval", "--model", "sdtv3_tiny", "--split", "minibatch", "--checkpoint", "V"],
    ["quantize", "--model", "sdtv3_tiny", "--config", "CFG", "--checkpoint", "V", "--out", "OUT/q.safetensors"],
    ["memory", "--model", "sdtv3_tiny", "--checkpoint", "V"],
    ["search", "--method", "greedy", "--model", "sdtv3_tiny", "--checkpoint", "V", "--out", "OUT"],
    ["train", "--model", "sdtv3_tiny", "--epochs", "1", "--init-from", "V"],
]


@pytest.mark.parametrize("fmt", ["safetensors", "pth"])
@pytest.mark.parametrize("template", WEIGHT_COMMANDS, ids=lambda t: t[0])
def test_class4_non_finite_weights(template, fmt, nan_checkpoints, place, capsys):
    tmp_path, _ = place
    name, files = nan_checkpoints
    code, err = call(_argv(template, files[fmt], tmp_path), capsys)
    assert_user_error(code, err, files[fmt])
    assert name in err and "non-finite" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("extra", [["--resume"], ["--force"], []])
def test_class5_two_processes_on_one_result_folder(extra, tmp_path):
    from aq4svit_lib.edges import FolderLock

    out = tmp_path / "run"
    out.mkdir()
    lock = FolderLock(out).acquire()
    try:
        r = subprocess.run([sys.executable, "-m", "aq4svit_lib.cli", "search", "--method", "greedy", "--out", str(out), *extra],
                           capture_output=True, text=True, timeout=300)
    finally:
        lock.release()
    assert_user_error(r.returncode, r.stderr, out)
    assert f"pid {os.getpid()}" in r.stderr and "in use by another process" in r.stderr
    assert sorted(p.name for p in out.iterdir()) == [".lock"]  # the second process wrote nothing


def test_class5_lock_is_free_again_after_release(tmp_path):
    from aq4svit_lib.edges import FolderLock
    from aq4svit_lib.search.results import ResultFolder

    folder = ResultFolder(tmp_path / "run")
    folder.prepare(settings={"method": "greedy"})
    assert (tmp_path / "run" / ".lock").read_text().split("\n")[0] == str(os.getpid())
    code = "import sys; from aq4svit_lib.edges import FolderLock; FolderLock.check(sys.argv[1])"
    held = subprocess.run([sys.executable, "-c", code, str(tmp_path / "run")], capture_output=True, text=True)
    assert held.returncode != 0 and "in use by another process" in held.stderr
    folder.release()
    free = subprocess.run([sys.executable, "-c", code, str(tmp_path / "run")], capture_output=True, text=True)
    assert free.returncode == 0, free.stderr
    FolderLock.check(tmp_path / "run")


def test_class6_a_users_file_is_never_moved_as_a_memo(tmp_path, capsys):
    from aq4svit_lib.evaluate.memo import Memo

    text = tmp_path / "notes.txt"
    text.write_text("my notes\n")
    other = tmp_path / "app.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE users (name TEXT)")
    folder = tmp_path / "dir"
    folder.mkdir()
    for path in (text, other, folder):
        with pytest.raises(UsageError, match="not an aq4svit memo|another program|is a folder"):
            Memo(path)
        assert path.exists() and not Path(str(path) + ".corrupt").exists()
        code, err = call(["search", "--method", "greedy", "--memo", path, "--out", tmp_path / "out"], capsys)
        assert_user_error(code, err, path)
        assert path.exists() and not Path(str(path) + ".corrupt").exists()
    assert text.read_text() == "my notes\n"


def test_class6_force_removes_only_files_we_wrote(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "result.json").write_text('{"my": "own results"}')
    (out / "memo.sqlite").write_text("not a memo")
    code, err = call(["search", "--method", "greedy", "--out", out, "--force"], capsys)
    assert_user_error(code, err, out)
    assert "did not write" in err
    assert (out / "result.json").read_text() == '{"my": "own results"}' and (out / "memo.sqlite").exists()


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_class7_files_get_the_users_umask(tmp_path, umask, mode):
    from aq4svit_lib.ioutil import write_json_atomic, write_text_atomic

    old = os.umask(umask)
    try:
        a = write_text_atomic(tmp_path / "a.txt", "x")
        b = write_json_atomic(tmp_path / "sub" / "b.json", {"x": 1})
    finally:
        os.umask(old)
    assert a.stat().st_mode & 0o777 == mode and b.stat().st_mode & 0o777 == mode


def test_class8_no_command_is_a_usage_error(capsys):
    code = cli.main([])
    captured = capsys.readouterr()
    assert code == 2 and "usage: aq4svit" in captured.err and "a command is required" in captured.err
    assert "internal error" not in captured.err and captured.out == ""


SPEC_ARGS = dict(search_size=50, minibatch_size=16, seed=0, verify_size=0)


def test_class9_a_failed_start_leaves_nothing_behind(tmp_path, monkeypatch, capsys):
    from aq4svit_lib.data import SplitSpec
    from aq4svit_lib.search import run as run_module

    global SPEC
    SPEC = SplitSpec(**SPEC_ARGS)
    out = tmp_path / "X"
    code, err = call(["search", "--method", "greedy", "--model", "sdtv2_55m", "--out", out], capsys)
    assert code == 2 and not out.exists()
    # a start that fails after the folder was prepared: only what it created goes, the user's file stays
    out.mkdir()
    (out / "notes.txt").write_text("mine")

    def broken(*args, **kwargs):
        raise UsageError("simulated failure while starting the evaluator")

    monkeypatch.setattr(run_module, "Evaluator", broken)
    with pytest.raises(UsageError, match="simulated"):
        run_module.run_search("greedy", "sdtv3_tiny", out=out, spec=SPEC)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    with pytest.raises(UsageError, match="simulated"):
        run_module.run_search("greedy", "sdtv3_tiny", out=tmp_path / "new" / "deeper", spec=SPEC)
    assert not (tmp_path / "new").exists()


def test_no_hostile_input_reaches_internal_error(place, capsys, nan_checkpoints):
    tmp_path, k = place
    _, nan = nan_checkpoints
    hostile = [
        [], ["eval", "--device", "foo"], ["eval", "--device", "cuda:7"], ["eval", "--model", "sdtv2_55m"],
        ["memory", "--config", k["dir"]], ["memory", "--config", k["binary"]], ["config", "--show", k["binary"]],
        ["config", "--out", k["dir"]], ["config", "--out", k["through"]], ["quantize", "--config", k["dir"], "--out", k["file"]],
        ["eval", "--checkpoint", k["dir"]], ["eval", "--model", "sdtv3_tiny", "--checkpoint", nan["pth"], "--split", "minibatch"],
        ["search", "--method", "greedy", "--out", k["file"]], ["search", "--method", "greedy", "--out", k["through"]],
        ["search", "--method", "greedy", "--memo", k["file"], "--out", tmp_path / "o"], ["search", "--method", "nope"],
        ["search", "--method", "greedy", "--dataset", "mnist"], ["compare", "--out", k["dir"]], ["train", "--out", k["dir"]],
        ["info", "--data-root", k["file"]], ["data", "--data-root", k["through"]], ["check", "--results", k["file"]],
        ["claims", "--results", k["missing"]], ["reproduce", "--profile", "imagenet", "--imagenet-root", k["file"]],
        ["train", "--model", "sdtv2_55m"], ["compare", "--model", "sdt_8_768"], ["eval", "--split", "nope"],
    ]
    for argv in hostile:
        code, err = call(argv, capsys)
        assert code != cli.INTERNAL_ERROR and "internal error" not in err, (argv, err)
        assert code == 2, (argv, err)


def test_class9_a_refusal_after_the_baseline_leaves_nothing_and_a_search_frees_its_folder(tmp_path):
    """An untrained model is refused once its FP32 accuracy is known (after the folder was prepared): the folder goes,
    so the corrected command starts clean; a search that ends (either way) releases its lock without waiting for GC."""
    from aq4svit_lib.data import SplitSpec
    from aq4svit_lib.models import create_model
    from aq4svit_lib.search import run_search

    spec = SplitSpec(**SPEC_ARGS)
    out = tmp_path / "run"
    torch.manual_seed(0)
    with pytest.raises(UsageError, match="near chance"):
        run_search("greedy", "sdtv3_tiny", out=out, spec=spec, net=create_model("sdtv3_tiny"), levels=("network",))
    assert not out.exists()
    run_search("greedy", "sdtv3_tiny", out=out, spec=spec, levels=("network",), export=False)
    code = "import sys; from aq4svit_lib.edges import FolderLock; FolderLock.check(sys.argv[1])"
    free = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True)
    assert free.returncode == 0, free.stderr  # the object still lives in this test; its lock is released all the same
