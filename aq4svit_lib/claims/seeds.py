"""Do the headline differences survive another search split? The seed study's verdicts (notebook 09)."""

from __future__ import annotations

from .core import Measurement, Quantity, Run, Tolerance, claim, holds_on

SEEDS = "09_seed_comparisons"
#: comparison id of the seed table -> (claim id, what it says)
COMPARISONS = {
    "greedy_smaller_than_qsvit": ("S1", "Greedy's answer is smaller than QSViT's (A2) on another search split"),
    "beam_smaller_than_greedy": ("S2", "Beam's answer is smaller than Greedy's (A3) on another search split"),
    "greedy_faster_than_qsvit": ("S3", "Greedy is faster than QSViT (A1) on another search split"),
    "test_drop_within_delta": ("S4", "every answer meets Δ on test (A5) on another search split"),
}


def _make(comparison: str, claim_id: str, statement: str):
    @claim(claim_id, paper="seeds", statement=statement, paper_value="(robustness of ours)", source="notebook 09",
           figures=("09_seed_comparisons",), tables=(SEEDS,), notebooks=("09",), extended=True)
    def compute(run: Run) -> Measurement:
        t = run.table(SEEDS)
        t = t[t.comparison == comparison]
        if not len(t):
            return Measurement("not measured in this run", f"no {comparison} rows in {SEEDS}", "not measured in this run")
        flags = {f"{r.model}/{getattr(r, 'method', '')}/seed {r.seed}": bool(r.holds) for r in t.itertuples()}
        verdict, count = holds_on(flags, "model-seed pairs")
        per_model = t.groupby("model").holds.agg(["sum", "count"])
        qs = [Quantity(f"{comparison}_holds_{m}", int(r["sum"]), "count", Tolerance(0, "a verdict count: the same seeds give the same "
                       "splits"), f"seeds on which it holds, {m}") for m, r in per_model.iterrows()]
        parts = ", ".join(f"`{m}` {int(r['sum'])} of {int(r['count'])}" for m, r in per_model.iterrows())
        return Measurement(verdict, f"it holds for {count}", f"holds on {parts} (seed, model) cases", qs)

    return compute


for _comparison, (_id, _statement) in COMPARISONS.items():
    _make(_comparison, _id, _statement)
