"""The reproduction layer: profiles, cached searches, and the ImageNet code path with fakes."""

import argparse
from pathlib import Path

import pytest
import torch

from aq4svit_lib.errors import UsageError
from aq4svit_lib.models import REGISTRY
from aq4svit_lib.models.registry import ModelEntry, register
from aq4svit_lib.reproduce import IMAGENET_CHECKPOINTS, ensure_search, get_profile, profile_model, profile_splits
from tests.conftest import random_model
from tests.test_data import fake_imagenet


def test_profiles_and_errors():
    assert get_profile("default").models == ("sdt_tiny", "sdtv2_tiny", "sdtv3_tiny")
    assert get_profile("ci", models=("sdtv3_tiny",)).models == ("sdtv3_tiny",)
    with pytest.raises(UsageError, match="valid profiles"):
        get_profile("nope")
    with pytest.raises(UsageError, match="--imagenet-root and --checkpoint-dir"):
        get_profile("imagenet")


def test_notebook_parameters_override_the_profile_in_their_own_folder():
    from aq4svit_lib.quant import QuantScheme
    from aq4svit_lib.reproduce import figures_dir, notebook_profile, results_dir, search_settings

    same = notebook_profile("default")
    assert same == get_profile("default") and figures_dir(same).name == "figures"
    custom = notebook_profile("default", delta=2.0, bits=[4, 32, 2], scheme="uniform/per_tensor/nearest", beam_width=2)
    assert custom.name == "default+delta=2.0,bits=32-4-2,scheme=uniform-per_tensor-nearest,beam_width=2"
    assert (custom.delta, custom.bits, custom.setting("beam_width")) == (2.0, (32, 4, 2), 2)
    assert results_dir(custom).name == custom.name and figures_dir(custom).parent == results_dir(custom)  # not the gallery
    beam = search_settings(custom, "sdtv2_tiny", "beam")
    assert beam.delta == 2.0 and beam.bits == (32, 4, 2) and beam.options.beam_width == 2
    assert beam.scheme == QuantScheme("uniform", "per_tensor", "nearest")
    # no override: the profile's settings exactly (the cached default results stay valid)
    assert search_settings(same, "sdtv2_tiny", "greedy").to_dict() == search_settings(get_profile("default"), "sdtv2_tiny", "greedy").to_dict()
    with pytest.raises(UsageError, match="--granularity .* must be one of per_channel, per_tensor"):
        notebook_profile("default", scheme="uniform/per_row/nearest")


def test_ensure_search_reuses_a_finished_folder(tmp_path):
    prof = get_profile("ci", models=("sdtv3_tiny",), search_size=200, minibatch_size=32, verify_size=100)
    first = ensure_search(prof, "sdtv3_tiny", "greedy", base=tmp_path)
    stamp = (first.folder / "result.json").stat().st_mtime_ns
    again = ensure_search(prof, "sdtv3_tiny", "greedy", base=tmp_path)
    assert (again.folder / "result.json").stat().st_mtime_ns == stamp  # reused, not recomputed
    assert again.bits == first.bits and again.result["final"] == first.result["final"]
    changed = ensure_search(prof, "sdtv3_tiny", "greedy", base=tmp_path, delta=3.0)  # other settings: recomputed
    assert changed.result["delta"] == 3.0


def test_our_variants_are_computed_only_by_the_extended_run_and_read_whenever_present(tmp_path):
    """Outside the default profile's time aim (issue 26): without --extended a variant of ours is neither computed nor
    invented; once the extended run has computed it, the default profile reads the same result."""
    from aq4svit_lib.reproduce import compare_methods, results_dir

    kw = dict(models=("sdtv3_tiny",), search_size=200, minibatch_size=32, verify_size=100)
    default, extended = get_profile("ci", long_run=False, **kw), get_profile("ci", long_run=True, **kw)
    methods = ("greedy", "greedy-kind")
    assert list(compare_methods(default, "sdtv3_tiny", methods, base=tmp_path)) == ["greedy"]  # as specified: always
    assert (results_dir(default, tmp_path) / "sdtv3_tiny" / "greedy").is_dir()
    assert not (results_dir(default, tmp_path) / "sdtv3_tiny" / "greedy-kind").exists()
    computed = compare_methods(extended, "sdtv3_tiny", methods, base=tmp_path)["greedy-kind"]
    read = compare_methods(default, "sdtv3_tiny", methods, base=tmp_path)["greedy-kind"]
    assert read.bits == computed.bits and read.result["final"] == computed.result["final"]


def test_the_extended_run_asks_every_notebook_that_shows_long_runs_to_compute_them(tmp_path, monkeypatch):
    """``reproduce --extended`` hands long_run=True to each notebook declaring it (our variants in 05 and 07, their gate
    ablation in 06, the reference runs in 07) and to no other; the parameter keeps the profile's results folder."""
    import papermill

    from aq4svit_lib.reproduce import declared_parameters, figures_dir, notebook_setup, run_notebooks

    monkeypatch.setenv("AQ4SVIT_RESULTS", str(tmp_path))
    handed, source = {}, {}

    def fake(src, dst, parameters, **kw):
        handed[Path(dst).stem], source[Path(dst).stem] = parameters, Path(src).stem

    monkeypatch.setattr(papermill, "execute_notebook", fake)
    run_notebooks("ci", ["05", "06", "07", "09"], output_dir=tmp_path, log=lambda m: None, extended=True)
    assert {nb for nb, p in handed.items() if p.get("long_run")} == {"05_comparison", "06_drift_proxy", "07_peer_baselines"}
    assert "long_run" not in declared_parameters("09_seed_study") and set(handed) >= {"09_seed_study"}
    handed.clear()
    run_notebooks("ci", ["05", "07"], output_dir=tmp_path, log=lambda m: None)
    assert all("long_run" not in p for p in handed.values()) and len(handed) == 2
    from aq4svit_lib.evaluate.executor import ExecutorSettings

    handed.clear()
    said: list[str] = []
    run_notebooks("ci", output_dir=tmp_path, log=said.append, extended=True, include_optional=True,
                  executor=ExecutorSettings("ray", workers=2))  # every notebook, as `aq4svit reproduce --executor ray` runs them
    assert len(handed) >= 10  # 00-09, 04 once per method
    for stem, params in handed.items():
        assert set(params) <= declared_parameters(source[stem]), (stem, set(params) - declared_parameters(source[stem]))
    assert handed["05_comparison"]["executor"] == "ray" and "executor" not in handed["08_your_model"]
    assert any("08_your_model takes no executor parameters" in s for s in said)
    for asked in (True, False):
        prof, fig, _ = notebook_setup("default", long_run=asked)
        assert prof.long_run is asked and prof.name == "default" and fig == figures_dir(get_profile("default"))


def test_a_notebook_that_fails_keeps_the_times_measured_before_it(tmp_path, monkeypatch):
    import json

    import pandas as pd
    import papermill

    from aq4svit_lib.reproduce import figures_dir, run_notebooks

    def fake(src, dst, **kw):
        if "02_" in Path(dst).name:
            raise RuntimeError("a cell failed")
        Path(dst).write_text("{}")

    monkeypatch.setenv("AQ4SVIT_RESULTS", str(tmp_path))
    monkeypatch.setattr(papermill, "execute_notebook", fake)
    with pytest.raises(RuntimeError, match="a cell failed"):
        run_notebooks("ci", ["01", "02", "03"], output_dir=tmp_path, log=lambda m: None)
    kept = json.loads((tmp_path / "executed" / "timings.json").read_text())["notebooks"]
    assert [t["notebook"] for t in kept] == ["01_models_and_baselines"]
    table = pd.read_csv(figures_dir(get_profile("ci")) / "tables" / "timings" / "00_notebooks.csv")
    assert table.notebook.tolist() == ["01_models_and_baselines"]


def test_the_extended_runs_notebook_times_do_not_replace_the_default_runs(tmp_path, monkeypatch):
    """05-07 run in the default profile and again with ``long_run`` in the extended run: both times are kept, each
    tagged with its run and when it ended (the later run wrote the pages)."""
    import pandas as pd
    import papermill

    from aq4svit_lib.reproduce import figures_dir, run_notebooks

    monkeypatch.setenv("AQ4SVIT_RESULTS", str(tmp_path))
    monkeypatch.setattr(papermill, "execute_notebook", lambda src, dst, **kw: Path(dst).write_text("{}"))
    quiet = {"output_dir": tmp_path, "log": lambda m: None}
    run_notebooks("ci", ["01", "05"], **quiet)
    run_notebooks("ci", ["05", "09"], extended=True, **quiet)
    path = figures_dir(get_profile("ci")) / "tables" / "timings" / "00_notebooks.csv"
    table = pd.read_csv(path).set_index(["notebook", "run"])
    assert sorted(table.index) == [("01_models_and_baselines", "default"), ("05_comparison", "default"),
                                   ("05_comparison", "extended"), ("09_seed_study", "extended")]
    assert table.loc[("05_comparison", "extended"), "finished"] >= table.loc[("05_comparison", "default"), "finished"]
    run_notebooks("ci", ["05"], **quiet)  # a later default run replaces its own row only
    again = pd.read_csv(path).set_index(["notebook", "run"])
    assert len(again) == 4 and again.loc[("05_comparison", "default"), "finished"] >= table.loc[("05_comparison", "extended"), "finished"]


def test_the_searches_of_one_model_share_its_memo_and_each_reports_what_it_costs_alone(tmp_path):
    """Beam after Greedy meets Greedy's path in the model's memo: it forwards less, and finds and reports exactly what
    it finds and reports alone (its images and seconds include the replayed records')."""
    from aq4svit_lib.reproduce import model_memo
    from aq4svit_lib.search.results import result_differences

    prof = get_profile("ci", models=("sdtv3_tiny",), search_size=200, minibatch_size=32, verify_size=100)
    ensure_search(prof, "sdtv3_tiny", "greedy", base=tmp_path)
    shared = ensure_search(prof, "sdtv3_tiny", "beam", base=tmp_path)
    alone = ensure_search(prof, "sdtv3_tiny", "beam", base=tmp_path / "alone")
    assert model_memo(prof, "sdtv3_tiny", tmp_path).is_file() and not (shared.folder / "memo.sqlite").exists()
    assert result_differences(shared.result, alone.result, shared.trace, alone.trace) == []
    assert alone.result["replayed_images"] == 0 < shared.result["replayed_images"]
    assert shared.result["memo"]["writes"] < alone.result["memo"]["writes"]  # what Greedy had forwarded is not forwarded again
    assert shared.result["images_forwarded"] == alone.result["images_forwarded"]


def test_drift_study_judges_each_candidate_like_its_search_did(tmp_path):
    from aq4svit_lib.reproduce import drift_study_for

    prof = get_profile("ci", models=("sdtv3_tiny",), search_size=200, minibatch_size=32, verify_size=100)
    run = ensure_search(prof, "sdtv3_tiny", "greedy", base=tmp_path)
    study = drift_study_for(prof, "sdtv3_tiny", [run])
    screened = run.trace[run.trace.drift.notna()]
    assert len(study) == screened.key.nunique() and study.search_accuracy.notna().all()  # pruned ones evaluated too
    full = screened[screened.decision.isin(["accepted", "rejected", "rejected_margin"])].set_index("index")
    judged = study.set_index("index").loc[full.index]
    assert (judged.search_accuracy == full.search_accuracy).all()  # replayed from the search's memo: the same numbers
    assert (judged.feasible == (full.decision == "accepted")).all()  # and the search's own rule, margin included


def test_a_changed_weight_or_code_changes_what_cached_results_are_keyed_on(tmp_path):
    from safetensors.torch import load_file, save_file

    from aq4svit_lib.evaluate import engine
    from aq4svit_lib.models import default_checkpoint
    from aq4svit_lib.provenance import SWEEP_ENTRY, code_digest, library_versions
    from aq4svit_lib.reproduce import provenance

    ckpt = tmp_path / "sdtv3_tiny.safetensors"
    tensors = load_file(default_checkpoint("sdtv3_tiny"))
    save_file(tensors, ckpt)
    prof = get_profile("ci", models=("sdtv3_tiny",), checkpoints=(("sdtv3_tiny", str(ckpt)),))
    before = provenance(prof, "sdtv3_tiny")
    assert before == provenance(get_profile("ci"), "sdtv3_tiny")  # same content as the shipped file: same key
    name = next(k for k in tensors if k.endswith("weight"))
    tensors[name].view(-1)[0] += 1e-3  # one weight
    save_file(tensors, ckpt)
    after = provenance(prof, "sdtv3_tiny")
    assert after["weights"] != before["weights"] and after["code"] == before["code"]
    assert before["torch"] == torch.__version__ == library_versions()["torch"]
    assert code_digest(("search",)) != code_digest(("evaluate",))  # the code hash covers what it names
    assert provenance(prof, "sdtv3_tiny", SWEEP_ENTRY)["code"] != after["code"]  # a sweep keys on less code
    assert torch.__version__ in engine.ENGINE_VERSION and code_digest() in engine.ENGINE_VERSION  # the memo's key


def test_sweeps_key_on_the_code_they_import_not_on_other_search_methods():
    from aq4svit_lib.provenance import SEARCH_ENTRY, SWEEP_ENTRY, import_closure

    # a search keys on its entry and on its method's registering module (found by discovery, not imported by run)
    sweep, search = set(import_closure(*SWEEP_ENTRY)), set(import_closure(*SEARCH_ENTRY, "aq4svit_lib.search.aq4svit"))
    assert {"aq4svit_lib.search.sensitivity", "aq4svit_lib.search.common", "aq4svit_lib.evaluate.engine",
            "aq4svit_lib.quant.quantizers"} <= sweep < set(import_closure(*SEARCH_ENTRY, "aq4svit_lib.search.qsvit"))
    # editing the gate, Beam or the verification step must not discard an hour of QSViT sweeps
    assert not sweep & {"aq4svit_lib.search.gate", "aq4svit_lib.search.aq4svit", "aq4svit_lib.search.verify",
                        "aq4svit_lib.search.qsvit", "aq4svit_lib.search.run"}
    assert {"aq4svit_lib.search.gate", "aq4svit_lib.search.verify", "aq4svit_lib.models.checkpoint"} <= search
    assert "aq4svit_lib.search.optuna_search" not in search  # another method's code does not discard Greedy's results


@pytest.fixture
def tiny_imagenet_model():
    """A small SDT v3 with ImageNet's input and head, registered for the duration of the test."""
    name = "sdtv3_imagenet_test"
    register(ModelEntry(name, "sdtv3", dict(embed_dims=[8, 16, 16, 24], num_heads=8, in_channels=3, num_classes=1000, img_size=224)))
    IMAGENET_CHECKPOINTS[name] = "test_ckpt.pth"
    yield name
    REGISTRY.pop(name)
    IMAGENET_CHECKPOINTS.pop(name)


def test_imagenet_profile_runs_a_search_on_a_fake_imagefolder(tmp_path, tiny_imagenet_model):
    name = tiny_imagenet_model
    root = fake_imagenet(tmp_path / "imagenet", classes=4, per_class=5)
    ckpt_dir = tmp_path / "ckpts"
    ckpt_dir.mkdir()
    model = random_model(name, seed=0)
    # the official v2/v3 layout: weights under "model", an argparse.Namespace under "args"
    torch.save({"model": model.state_dict(), "epoch": 1, "args": argparse.Namespace(model=name)}, ckpt_dir / "test_ckpt.pth")
    prof = get_profile("imagenet", str(root), str(ckpt_dir), models=(name,), search_size=8, minibatch_size=4, batch_size=4,
                       verify_size=4, bits=(32, 8, 4), device="cpu")
    splits = profile_splits(prof, name)
    assert len(splits["search"]) == 8 and len(splits["verify"]) == 4 and len(splits["test"]) == 8 and splits["search"].pool == "val"
    x, _ = next(splits["test"].batches(4))
    assert x.shape == (4, 3, 224, 224)
    loaded = profile_model(prof, name)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in loaded.state_dict().items())
    with pytest.raises(UsageError, match="near chance"):  # a random model: a search would decide nothing
        ensure_search(prof, name, "greedy", base=tmp_path / "refused")
    outcome = ensure_search(prof, name, "greedy", base=tmp_path / "results", require_trained=False)  # the plumbing, on purpose
    r = outcome.result
    assert r["model"] == name and r["splits"]["search"]["dataset"] == "imagenet"
    assert 0 <= r["final"]["test_accuracy"] <= 1 and r["final"]["meets_constraint"]


def test_a_misspelt_method_writes_nothing(tmp_path):
    from aq4svit_lib.errors import UsageError
    from aq4svit_lib.reproduce import ensure_search

    with pytest.raises(UsageError, match="unknown method 'greddy'"):
        ensure_search(get_profile("ci"), "sdtv3_tiny", "greddy", base=tmp_path)
    assert not any(tmp_path.rglob("*"))
