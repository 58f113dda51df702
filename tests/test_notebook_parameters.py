"""A parameter papermill injects that the notebook does not declare is refused (papermill itself only warns)."""

from pathlib import Path

import pytest

from aq4svit_lib.reproduce import unknown_parameters

ROOT = Path(__file__).resolve().parents[1]
DECLARED = '# Parameters (papermill injects replacements below this cell)\nprofile = "default"\ndelta = None  # Δ\n'


def test_unknown_parameters_are_the_injected_names_the_parameters_cell_lacks():
    assert unknown_parameters([DECLARED, '# Parameters\nprofile = "ci"\ndetla = 2.0\n', "setup()"]) == {"detla"}
    assert unknown_parameters([DECLARED, '# Parameters\nprofile = "ci"\ndelta = 2.0\n']) == set()
    assert unknown_parameters([DECLARED, "x = 1"]) == set()  # interactive: nothing injected, nothing refused


def test_a_notebook_run_with_an_undeclared_parameter_fails_naming_it(tmp_path):
    import papermill as pm

    with pytest.raises(pm.PapermillExecutionError) as err:
        pm.execute_notebook(str(ROOT / "notebooks" / "01_models_and_baselines.ipynb"), str(tmp_path / "out.ipynb"),
                            parameters={"profile": "ci", "detla": 2.0}, cwd=str(ROOT / "notebooks"), progress_bar=False,
                            kernel_name="python3")
    assert "unknown notebook parameter(s) detla" in str(err.value)
