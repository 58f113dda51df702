"""One declaration per setting (issue 25 §3): defaults, validation and flags all come from it."""

from __future__ import annotations

import dataclasses

import pytest

from aq4svit_lib import schema
from aq4svit_lib.data import SplitSpec
from aq4svit_lib.errors import UsageError
from aq4svit_lib.quant import QuantScheme
from aq4svit_lib.reproduce import PROFILES, Profile, get_profile
from aq4svit_lib.search import get_method, method_names
from aq4svit_lib.search.settings import DataSettings, EngineSettings, ModelSettings, SearchSettings, declared_default

PARTS = (SplitSpec, ModelSettings, DataSettings, EngineSettings, SearchSettings, QuantScheme)


def settings_classes():
    return (*PARTS, *dict.fromkeys(get_method(m).settings for m in method_names()))  # ordered: xdist workers collect alike


@pytest.mark.parametrize("cls", settings_classes(), ids=lambda c: c.__name__)
def test_every_field_is_declared_with_help_and_a_default(cls):
    for f in dataclasses.fields(cls):
        spec = schema.spec_of(f)
        assert spec is not None, f"{cls.__name__}.{f.name} is not declared with schema.setting"
        assert spec.help, f"{cls.__name__}.{f.name} has no help"
        schema.default(cls, f.name)  # raises without one


def test_a_profile_holds_a_template_not_copies_of_the_settings():
    search_names = {f.name for f in dataclasses.fields(SearchSettings)} | {f.name for f in dataclasses.fields(SplitSpec)}
    search_names |= {f.name for m in method_names() for f in get_method(m).options()}
    search_names |= {f.name for part in (ModelSettings, DataSettings, EngineSettings) for f in dataclasses.fields(part)}
    # a profile names its models and dataset (what the notebooks loop over); everything a search reads is the template
    copied = {f.name for f in dataclasses.fields(Profile)} & (search_names - {"spec", "dataset", "name"})
    assert not copied, f"Profile copies search settings: {sorted(copied)}"
    default = get_profile("default")
    assert default.search == ()  # the default profile is the declared defaults, nothing restated
    assert default.delta == schema.default(SearchSettings, "delta") == 1.5
    assert default.bits == schema.default(SearchSettings, "bits")
    assert default.setting("beam_width", "beam") == declared_default("beam_width") == 3
    assert default.spec == SplitSpec()


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_every_profile_template_names_real_settings(name):
    from aq4svit_lib.search.settings import check_template

    check_template(dict(PROFILES[name].search))


def test_a_template_typo_is_refused_naming_it():
    with pytest.raises(UsageError, match="detla: not a search setting"):
        get_profile("default", detla=2.0)
    prof = get_profile("ci", search_size=300, beam_width=4, models=("sdtv3_tiny",))
    assert (prof.spec.search_size, prof.setting("beam_width"), prof.models) == (300, 4, ("sdtv3_tiny",))
    assert prof.spec.minibatch_size == PROFILES["ci"].spec.minibatch_size  # the rest of the profile's split kept


@pytest.mark.parametrize("cls, field, value, flag", [
    (SearchSettings, "delta", 0.0, "--delta"), (SearchSettings, "delta", 100.0, "--delta"), (SearchSettings, "delta", float("nan"), "--delta"),
    (SearchSettings, "delta", True, "--delta"), (SearchSettings, "search_confidence", 1.0, "--search-confidence"),
    (SearchSettings, "verify_confidence", 0.4999, "--verify-confidence"), (SearchSettings, "max_evaluations", 0, "--max-evaluations"),
    (SearchSettings, "max_evaluations", 2.5, "--max-evaluations"), (SearchSettings, "bits", (32,), "--bits"),
    (SearchSettings, "bits", "32,8,x", "--bits"), (SplitSpec, "seed", -1, "--split-seed"), (SplitSpec, "search_size", 0, "--search-size"),
    (SplitSpec, "verify_size", "10", "--verify-size"), (EngineSettings, "batch_size", 0, "--batch-size"),
    (QuantScheme, "granularity", "per_row", "--granularity"), (DataSettings, "dataset", "cifar10", "--dataset"),
])
def test_a_wrong_value_names_the_flag_that_sets_it(cls, field, value, flag):
    with pytest.raises(UsageError, match=flag):
        if cls is SearchSettings:
            SearchSettings.build("greedy", **{field: value})
        else:
            cls(**{field: value})


@pytest.mark.parametrize("interval, inside, outside", [
    (schema.Interval(float, 0, 100, "neither"), (1e-9, 99.999), (0, 100, -1, float("inf"))),
    (schema.Interval(float, 0.5, 1, "left"), (0.5, 0.999), (0.4999, 1.0)),
    (schema.Interval(int, 1), (1, 2, 3.0), (0, 1.5, True, "2")),
    (schema.Interval(float, 0, allow_inf=True), (0, float("inf")), (-1e-12, float("nan"), float("-inf"))),
])
def test_interval_ends_are_exact(interval, inside, outside):
    assert all(interval.accepts(v) for v in inside), [v for v in inside if not interval.accepts(v)]
    assert not any(interval.accepts(v) for v in outside), [v for v in outside if interval.accepts(v)]


def test_method_options_are_declared_and_checked_the_same_way():
    with pytest.raises(UsageError, match="--beam-width"):
        get_method("beam").make_settings(beam_width=0)
    with pytest.raises(UsageError, match="--levels.*unknown level"):
        get_method("greedy").make_settings(levels=("network", "blocks"))
    assert get_method("greedy").make_settings(levels="network, stage").levels == ("network", "stage")
    assert get_method("beam").make_settings(drift_threshold=float("inf")).drift_threshold == float("inf")


def test_cli_flags_and_defaults_come_from_the_declarations(capsys):
    from aq4svit_lib.cli import build_parser, main

    args = build_parser(only="search").parse_args(["search", "--method", "greedy"])
    for cls in (SearchSettings, SplitSpec, EngineSettings, QuantScheme):
        for f in dataclasses.fields(cls):
            spec = schema.spec_of(f)
            if spec.cli:
                assert getattr(args, schema.dest_of(f)) == schema.default(cls, f.name), f.name
    for argv, needle in ((["--search-confidence", "1"], "--search-confidence: must be a number in [0.5, 1)"),
                         (["--granularity", "per_row"], "one of per_channel, per_tensor"), (["--bits", "32"], "--bits: must be")):
        with pytest.raises(SystemExit) as exit_:
            main(["search", "--method", "greedy", *argv])
        assert exit_.value.code == 2 and needle in capsys.readouterr().err


def test_only_the_named_command_builds_its_options():
    from aq4svit_lib.cli import COMMANDS, build_parser

    parser = build_parser(only="check")
    sub = next(a for a in parser._actions if a.dest == "command")
    assert {a.dest for a in sub.choices["check"]._actions} >= {"results", "committed", "claim"}
    assert {a.dest for a in sub.choices["search"]._actions} == {"help"}
    assert set(sub.choices) == {name for name, *_ in COMMANDS}
