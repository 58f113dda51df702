"""Optuna: multi-objective black-box search (memory down, accuracy up) with NSGA-II, under a budget.

Each unit of ``level`` (default ``block``, Greedy's and Beam's finest level) is one categorical
parameter over the bit list. Every trial is one full evaluation on ``search`` *without* early
rejection (NSGA-II ranks infeasible trials by their accuracy too); the constraint's own rule is
passed to NSGA-II as a constraint (``Trial.set_constraint``; ``constraints_func`` before Optuna 5), so it prefers feasible trials. A proposal
already evaluated is answered from the run's record and not counted: ``budget`` is the number of
distinct configurations evaluated. The answer is the smallest feasible trial; the table marks the
Pareto set. Trials are asked one NSGA-II generation (``population``) at a time: a generation's children
do not depend on each other's results, so this proposes what one-at-a-time asking does, and a parallel
executor evaluates a generation at once; trials asked after the budget is spent are told FAIL.

Resume (our choice): the study is written to ``optuna.journal`` in the result folder (a record for
Optuna's own tools), but a resumed run replays the seeded study from the start against the memo:
NSGA-II's random state is not in the storage, so continuing a loaded study would propose other
trials than the uninterrupted run, while the replay gives the identical result at no forward cost.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UsageError
from ..schema import Interval, Options, setting, validate
from .common import SearchContext, fp32_bits, pareto_front
from .random_search import BUDGET
from .registry import MethodOutput, register_method
from .space import LEVELS
from .trials import Trials

MiB = 1 << 20


@dataclass
class OptunaSettings:
    budget: int = setting(BUDGET, Interval(int, 1), "full evaluations (distinct configurations); random and optuna share it")
    level: str = setting("block", Options(LEVELS), "unit that is one parameter")
    population: int = setting(16, Interval(int, 2), "NSGA-II population size")

    def __post_init__(self):
        validate(self)


def _optuna():
    try:
        import optuna
    except ImportError:
        raise UsageError("the optuna method needs Optuna: pip install 'aq4svit[baselines]' (or pip install optuna)") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def _storage(optuna, ctx: SearchContext):
    if ctx.folder is None:
        return None
    path = ctx.folder.path / "optuna.journal"
    path.unlink(missing_ok=True)  # a fresh record per run (a resume replays; see the module docstring)
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    return JournalStorage(JournalFileBackend(str(path)))


@register_method("optuna", OptunaSettings, table_file="trials.csv",
                 summary="Optuna NSGA-II over per-unit widths (memory, accuracy) under a budget of full evaluations",
                 display_name="Optuna NSGA-II", color="#9d4edd", marker="^", peer=True, order=50)
def run_optuna(ctx: SearchContext, settings: OptunaSettings) -> MethodOutput:
    optuna = _optuna()
    space, trials = ctx.space, Trials(ctx, "optuna")
    units = space.units(settings.level)
    per_trial = hasattr(optuna.trial.Trial, "set_constraint")  # Optuna >= 5 (constraints_func is deprecated there)
    legacy = {} if per_trial else {"constraints_func": lambda t: [t.user_attrs["violation"]]}
    sampler = optuna.samplers.NSGAIISampler(population_size=settings.population, seed=ctx.seed, **legacy)
    study = optuna.create_study(directions=["minimize", "maximize"], sampler=sampler, storage=_storage(optuna, ctx), study_name="aq4svit")
    asks = 0
    with ctx.in_phase("optuna"):
        while ctx.counters["full"] < settings.budget and asks < 20 * settings.budget:
            # one NSGA-II generation per round: its children come from the previous generation's parents, never from
            # each other's results, so asking them together proposes exactly what one-at-a-time asking would
            # (checked against sequential ask/tell), and a parallel executor evaluates them at once
            generation = [study.ask() for _ in range(settings.population)]
            asks += len(generation)
            proposals = [(trial, _bits(space, units, trial)) for trial in generation]
            trials.prefetch([bits for _, bits in proposals], early_rejection=False)
            for i, (trial, bits) in enumerate(proposals):
                if ctx.counters["full"] >= settings.budget:  # budget spent: the rest of the generation is never evaluated
                    for rest, _ in proposals[i:]:
                        study.tell(rest, state=optuna.trial.TrialState.FAIL)
                    break
                _evaluate(ctx, study, trials, trial, bits, per_trial)
    table = trials.table()
    if len(table):
        table["on_front"] = pareto_front(table, "memory_bytes", "search_accuracy")
    return MethodOutput(trials.best(), table, {"budget": settings.budget, "level": settings.level, "population": settings.population,
                                               "asks": asks, "sampler": "NSGAIISampler", "optuna": optuna.__version__})


def _bits(space, units, trial) -> dict[str, int]:
    bits = fp32_bits(space)
    for unit in units:
        bits = space.set_unit(bits, unit, trial.suggest_categorical(unit.name, list(space.bits)))
    return bits


def _evaluate(ctx: SearchContext, study, trials: Trials, trial, bits: dict[str, int], per_trial: bool) -> None:
    """One full evaluation (none for a repeated proposal), told to the study with the constraint's violation."""
    row = trials.evaluate(bits, early_rejection=False, trial=trial.number)
    se = row.get("search_standard_error") or 0.0
    violation = 0.0 if row["feasible"] else ctx.constraint.floor + ctx.constraint.z * se - row["search_accuracy"] + 1e-9
    trial.set_user_attr("violation", violation)
    if per_trial:
        trial.set_constraint("violation", violation)
    study.tell(trial, [row["memory_bytes"] / MiB, row["search_accuracy"]])
