"""The package installs like a library: a non-editable install, used from another directory, finds its weights."""

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed_for_the_wheel():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "aq4svit_lib").rglob("__init__.py")}
    assert found <= listed, f"add {sorted(found - listed)} to [tool.setuptools] packages"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    # build from a copy of what the wheel is made of: setuptools writes build/ into the source folder
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    junk = shutil.ignore_patterns("__pycache__", "*.pyc", "*.run*.json")
    shutil.copytree(ROOT / "aq4svit_lib", source / "aq4svit_lib", ignore=junk)
    shutil.copytree(ROOT / "data" / "checkpoints", source / "data" / "checkpoints", ignore=junk)
    target = tmp_path_factory.mktemp("site")
    # --no-build-isolation: the test venv already has setuptools, and CI has no network for a build env
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--target",
                    str(target), str(source)], check=True, cwd=tmp_path_factory.mktemp("elsewhere"))
    return target


def test_non_editable_install_evaluates_a_default_model_from_another_directory(installed, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(installed), "AQ4SVIT_QUIET": "1"}
    code = ("import aq4svit_lib, sys; from aq4svit_lib.models import default_checkpoint; "
            "print(aq4svit_lib.__file__); print(default_checkpoint('sdtv2_tiny'))")
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True, check=True)
    package, weights = out.stdout.split()
    assert package.startswith(str(installed)) and weights == str(installed / "aq4svit_lib" / "_checkpoints" / "sdtv2_tiny.safetensors")
    run = subprocess.run([sys.executable, "-m", "aq4svit_lib.cli", "eval", "--model", "sdtv2_tiny", "--split", "minibatch", "--json",
                          "--threads", "1"], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["n"] == 256 and result["accuracy"] > 0.8  # the trained weights, not a random init (10 % on 10 classes)
