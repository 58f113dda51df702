"""pyproject.toml and environment.yml must list the same packages with the same pins."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pyproject_deps():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    extras = data["project"]["optional-dependencies"]
    everything = (data["project"]["dependencies"] + extras["notebooks"] + extras["baselines"] + extras["ray"] + extras["spikingjelly"]
                  + extras["dev"])
    return sorted(d for d in everything if not d.startswith("aq4svit["))  # dev includes the other extras


def test_extras_separate_runtime_notebooks_and_tests():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    runtime, extras = data["project"]["dependencies"], data["project"]["optional-dependencies"]
    names = lambda deps: {re.split(r"[<>=\[]", d)[0] for d in deps}
    assert not names(runtime) & {"jupyterlab", "papermill", "ipykernel", "seaborn", "matplotlib", "spikingjelly", "pytest"}
    assert {"jupyterlab", "papermill", "ipykernel", "seaborn", "nbformat"} <= names(extras["notebooks"])
    assert "aq4svit[notebooks,baselines,ray,spikingjelly]" in extras["dev"] and "mypy" in names(extras["dev"])
    assert names(extras["spikingjelly"]) == {"spikingjelly"}  # a user's own model (models/adapter.py) needs only it
    assert "optuna" in names(extras["baselines"]) and "optuna" not in names(runtime)  # only its method needs it
    assert "ray" in names(extras["ray"]) and "ray" not in names(runtime)  # only --executor ray needs it


def _environment_deps():
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(r"\s*- pip:\s*$", line))
    deps = []
    for line in lines[start + 1 :]:
        m = re.match(r"\s+- (.+)$", line)
        if not m:
            break
        if m.group(1).strip() != "-e .":
            deps.append(m.group(1).strip())
    return sorted(deps)


def test_environment_yml_mirrors_pyproject():
    assert _environment_deps() == _pyproject_deps()


def test_torch_pinned_exactly():
    deps = _pyproject_deps()
    assert "torch==2.14.1" in deps and "torchvision==0.29.1" in deps


def test_python_version_agrees():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert data["project"]["requires-python"] == ">=3.11"
    assert "python>=3.11" in (ROOT / "environment.yml").read_text()
