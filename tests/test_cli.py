import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from aq4svit_lib import cli
from aq4svit_lib.data import fashion_mnist as fm


def run(*args):
    return subprocess.run([sys.executable, "-m", "aq4svit_lib.cli", *args], capture_output=True, text=True, timeout=300)


def test_help_lists_every_command():
    r = run("--help")
    assert r.returncode == 0
    for command in ("info", "data", "eval", "quantize", "memory", "search", "compare", "reproduce", "train"):
        assert command in r.stdout


def test_info_prints_zoo_and_splits():
    r = run("info")
    assert r.returncode == 0, r.stderr
    assert "sdtv2_55m" in r.stdout and "sdtv3_tiny" in r.stdout and "search" in r.stdout and "2000" in r.stdout
    assert "verify" in r.stdout and "3000" in r.stdout


@pytest.mark.parametrize("method", ["qsvit", "greedy", "beam", "sensitivity-ilp", "optuna", "random"])
def test_cli_defaults_equal_the_default_profile(method):
    from aq4svit_lib.cli import build_parser, search_settings_from_args
    from aq4svit_lib.reproduce import get_profile, search_settings
    from aq4svit_lib.search.space import DEFAULT_BITS as SPACE_BITS

    prof = get_profile("default")
    assert SPACE_BITS == prof.bits
    cli = search_settings_from_args(build_parser().parse_args(["search", "--method", method])).to_dict()
    profile = search_settings(prof, "sdtv2_tiny", method).to_dict()
    assert cli == profile  # every setting: split sizes, bits, delta, verify confidence, method options
    if method in ("greedy", "beam"):
        assert profile["options"]["gate"] == {"greedy": "threshold", "beam": "rank"}[method]


def test_every_method_option_is_a_cli_option_and_foreign_ones_are_refused(capsys):
    from aq4svit_lib.cli import build_parser, search_settings_from_args
    from aq4svit_lib.search import get_method, method_names

    parser = build_parser()
    for name in method_names():
        for f in get_method(name).options():
            assert _in_search_help(parser, f.name), f.name
    args = parser.parse_args(["search", "--method", "beam", "--beam-width", "2", "--no-seed-greedy", "--levels", "network,stage"])
    s = search_settings_from_args(args)
    assert (s.options.beam_width, s.options.seed_greedy, s.options.levels) == (2, False, ("network", "stage"))
    assert cli.main(["search", "--method", "greedy", "--tolerance", "3"]) == 2
    assert "--tolerance: not an option of --method greedy" in capsys.readouterr().err


def _in_search_help(parser, name: str) -> bool:
    sub = next(a for a in parser._actions if a.dest == "command").choices["search"]
    return any(o == "--" + name.replace("_", "-") for a in sub._actions for o in a.option_strings)


def test_missing_dataset_is_one_message_without_traceback(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(fm, "DEBIAN_DIR", tmp_path / "debian")
    monkeypatch.setattr(fm, "TORCHVISION_CACHE", tmp_path / "tv")
    monkeypatch.delenv("AQ4SVIT_DATA", raising=False)
    fm._load_cached.cache_clear()
    code = cli.main(["data", "--data-root", str(tmp_path / "nowhere")])
    err = capsys.readouterr().err
    assert code == 2
    assert "no such folder" in err and str(tmp_path / "nowhere") in err and "Traceback" not in err


def test_console_script_and_eval_print_the_accuracy():
    import re
    import shutil

    from aq4svit_lib.data import load_splits
    from aq4svit_lib.models import create_model

    exe = shutil.which("aq4svit") or str(Path(sys.executable).with_name("aq4svit"))
    r = subprocess.run([exe, "eval", "--model", "sdtv3_tiny", "--split", "minibatch"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    top1 = float(re.search(r"top-1 ([0-9.]+)", r.stdout).group(1))
    model = create_model("sdtv3_tiny", checkpoint="default")
    x, y = next(load_splits()["minibatch"].batches(256))
    with torch.no_grad():
        assert top1 == pytest.approx(float((model(x).argmax(1) == y).float().mean()), abs=5e-5)


def test_memory_and_quantize_with_a_config(tmp_path):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"format": "aq4svit.quant_config", "version": 1, "default": 8, "stages": {"3": 4}}))
    r = run("memory", "--model", "sdtv2_tiny", "--config", str(cfg), "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert 0.7 < report["saving"] < 0.875
    out = tmp_path / "q.safetensors"
    r = run("quantize", "--model", "sdtv2_tiny", "--config", str(cfg), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert out.is_file() and "saving vs FP32" in r.stdout


@pytest.mark.parametrize("content,needle", [
    ('{"format": "aq4svit.quant_config", "version": 1, "stages": {"9": 4}}', "unknown name '9'"),
    ('{"format": "aq4svit.quant_config", "version": 3}', "format version 3"),
    ("not json", "not valid JSON"),
])
def test_bad_configs_exit_2_with_a_message(tmp_path, content, needle):
    cfg = tmp_path / "bad.json"
    cfg.write_text(content)
    r = run("memory", "--model", "sdtv2_tiny", "--config", str(cfg))
    assert r.returncode == 2 and needle in r.stderr and "Traceback" not in r.stderr


def test_search_refuses_a_folder_with_results(tmp_path):
    (tmp_path / "result.json").write_text("{}")
    r = run("search", "--method", "greedy", "--out", str(tmp_path))
    assert r.returncode == 2 and "--resume" in r.stderr and "--force" in r.stderr


def test_unknown_profile_and_notebook(tmp_path):
    r = run("reproduce", "--profile", "huge")
    assert r.returncode == 2 and "ci, default, full, imagenet" in r.stderr
    r = run("reproduce", "--profile", "imagenet")
    assert r.returncode == 2 and "--imagenet-root" in r.stderr


def test_config_command_writes_and_validates(tmp_path):
    out = tmp_path / "c.json"
    r = run("config", "--model", "sdtv3_tiny", "--default", "8", "--stage", "3=4", "--block-kind", "block3.0:q=32", "--out", str(out))
    assert r.returncode == 0, r.stderr
    cfg = json.loads(out.read_text())
    assert cfg["default"] == 8 and cfg["stages"] == {"3": 4} and cfg["block_kinds"] == {"block3.0": {"q": 32}}
    assert "Stage-3: (4,4|32,4)" in r.stdout
    r = run("config", "--model", "sdtv3_tiny", "--show", str(out))
    assert r.returncode == 0 and '"format": "aq4svit.quant_config"' in r.stdout
    r = run("config", "--model", "sdtv3_tiny", "--block", "block9.9=4")
    assert r.returncode == 2 and "valid blocks" in r.stderr


@pytest.mark.parametrize("argv,needle", [
    (["info", "--threads", "-1"], "--threads: must be >= 0"),
    (["eval", "--batch-size", "0"], "--batch-size: must be an integer >= 1"),
    (["eval", "--batch-size", "-5"], "--batch-size: must be an integer >= 1"),
    (["eval", "--time-steps", "0"], "--time-steps: must be >= 1"),
    (["eval", "--time-steps", "-2"], "--time-steps: must be >= 1"),
    (["search", "--method", "greedy", "--delta", "150"], "--delta: must be a number in (0, 100), got '150'"),
    (["search", "--method", "greedy", "--delta", "nan"], "--delta: must be a number in (0, 100), got 'nan'"),
    (["search", "--method", "beam", "--beam-width", "2.5"], "--beam-width: must be an integer >= 1, got '2.5'"),
    (["search", "--method", "greedy", "--search-size", "0"], "--search-size: must be an integer >= 1"),
    (["search", "--method", "greedy", "--verify-size", "-1"], "--verify-size: must be an integer >= 0"),
    (["search", "--method", "greedy", "--drift-margin", "0"], "--drift-margin: must be a number > 0"),
    (["search", "--method", "greedy", "--delta", "100"], "--delta: must be a number in (0, 100), got '100'"),
    (["train", "--label-smoothing", "2"], "--label-smoothing: must be <= 1"),
])
def test_bad_numbers_are_usage_errors_without_traceback(argv, needle):
    r = run(*argv)
    assert r.returncode == 2 and needle in r.stderr and "Traceback" not in r.stderr, r.stderr
