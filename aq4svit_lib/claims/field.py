"""Findings of our comparison with the practitioners' methods (notebook 07): claims of this package, not of the papers."""

from __future__ import annotations

from .core import Measurement, Quantity, Run, Tolerance, claim, holds_on, largest_block_share, one_decision, pct

PEERS = "07_peer_comparison"


def _table(run: Run):
    return run.table(PEERS).set_index(["model", "method"])


def _models(t) -> list[str]:
    return list(dict.fromkeys(t.index.get_level_values("model")))


def _best_aq4svit(t, m: str) -> float:
    return min(t.loc[(m, meth)].memory_bytes for meth in ("greedy", "beam") if (m, meth) in t.index)


@claim("F1", paper="field", statement="AQ4SViT (Greedy or Beam) ends at the best known feasible configuration", paper_value="(ours)",
       source="notebook 07", figures=("07_anytime", "07_fronts"), tables=(PEERS,), notebooks=("07",))
def f1(run: Run) -> Measurement:
    t = _table(run)
    flags, qs, parts = {}, [], []
    for m in _models(t):
        gap = _best_aq4svit(t, m) / t.loc[(m, "greedy")].best_known_bytes - 1
        flags[m] = gap <= 0
        tol = one_decision(largest_block_share(run, m))
        qs.append(Quantity(f"aq4svit_gap_{m}", 100 * gap, "%", Tolerance(2 * tol.value, "two answers: " + tol.basis),
                           f"best AQ4SViT answer over the best known, {m}"))
        parts.append(f"{gap:.1%} on `{m}`")
    verdict, count = holds_on(flags)
    return Measurement(verdict, f"the better of Greedy and Beam is the best known configuration on {count}",
                       "the better AQ4SViT answer is above the best known feasible configuration by " + ", ".join(parts), qs)


@claim("F2", paper="field", statement="at the same budget of full evaluations, black-box searches (NSGA-II, random) end larger than "
       "AQ4SViT-Greedy", paper_value="(ours)", source="notebook 07", figures=("07_anytime",), tables=(PEERS,), notebooks=("07",))
def f2(run: Run) -> Measurement:
    t = _table(run)
    flags, qs, parts = {}, [], []
    for m in _models(t):
        g = t.loc[(m, "greedy")]
        for meth in ("optuna", "random"):
            if (m, meth) not in t.index:
                continue
            r = t.loc[(m, meth)]
            flags[f"{m}/{meth}"] = bool(r.memory_bytes > g.memory_bytes)
            tol = one_decision(largest_block_share(run, m))
            qs.append(Quantity(f"{meth}_saving_{m}", 100 * float(r.saving_vs_fp32), "%", tol, f"{meth} saving, {m}"))
            parts.append(f"{meth} {pct(r.saving_vs_fp32, 1)} vs Greedy {pct(g.saving_vs_fp32, 1)} on `{m}` ({int(r.full)} full evaluations)")
    verdict, count = holds_on(flags, "runs")
    return Measurement(verdict, f"the black-box search ends larger than Greedy in {count}", "; ".join(parts), qs)


@claim("F3", paper="field", statement="an integer program over additive single-group sensitivities finds a small feasible configuration",
       paper_value="(HAWQ-V3 / AutoQuantize practice)", source="notebook 07", figures=("07_fronts",), tables=(PEERS,), notebooks=("07",))
def f3(run: Run) -> Measurement:
    t = _table(run)
    flags, qs, parts = {}, [], []
    for m in _models(t):
        if (m, "sensitivity-ilp") not in t.index:
            continue
        r, g = t.loc[(m, "sensitivity-ilp")], t.loc[(m, "greedy")]
        flags[m] = bool(r.memory_bytes <= g.memory_bytes)
        qs.append(Quantity(f"ilp_saving_{m}", 100 * float(r.saving_vs_fp32), "%", one_decision(largest_block_share(run, m)), f"ILP saving, {m}"))
        parts.append(f"{pct(r.saving_vs_fp32, 1)} on `{m}` after {int(r.full)} full evaluations (Greedy {pct(g.saving_vs_fp32, 1)})")
    verdict, count = holds_on(flags)
    return Measurement(verdict, f"the measured-score ILP is as small as Greedy on {count}", "the sensitivity ILP saves " + ", ".join(parts), qs)


@claim("F4", paper="field", statement="QSViT's many evaluations buy a smaller model than AQ4SViT's", paper_value="(the papers claim the "
       "opposite)", source="notebook 07", figures=("07_fronts",), tables=(PEERS,), notebooks=("07",))
def f4(run: Run) -> Measurement:
    t = _table(run)
    flags: dict[str, bool] = {}
    qs: list[Quantity] = []
    parts: list[str] = []
    for m in _models(t):
        q = t.loc[(m, "qsvit")]
        best = _best_aq4svit(t, m)
        flags[m] = bool(q.memory_bytes < best)
        full = min(t.loc[(m, meth)].full for meth in ("greedy", "beam") if (m, meth) in t.index)
        parts.append(f"`{m}`: QSViT {1 - q.memory_bytes / best:+.1%} vs the better AQ4SViT answer with {int(q.full)} vs ≥ {int(full)} "
                     "full evaluations")
    verdict, count = holds_on(flags)
    return Measurement(verdict, f"QSViT's answer is smaller than both AQ4SViT answers on {count}",
                       "memory smaller than the better AQ4SViT answer (+: QSViT smaller): " + "; ".join(parts), qs)
