"""``aq4svit check``: recompute every claim from a run's tables and compare it with the committed values.

The committed values (``figures/claims.json``) are written by ``aq4svit claims --write`` from the gallery's run;
a re-run passes when every claim keeps its verdict (direction and counts) and every quantity stays within its
stated tolerance. Nothing here runs a model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import UsageError
from .core import Claim, Measurement, Run, Tolerance, all_claims, get_claim

FORMAT = "aq4svit.claims"
VERSION = 1


def record(claim: Claim, m: Measurement, times: dict[str, float] | None = None) -> dict:
    """One claim's entry as committed: the paper's side, ours, the tolerance of each quantity, how to reproduce it."""
    seconds = sum(times.get(nb, 0.0) for nb in claim.notebooks) if times else None
    return {"id": claim.id, "paper": claim.paper, "statement": claim.statement, "paper_value": claim.paper_value,
            "source": claim.source, "verdict": m.verdict, "reason": m.reason, "sentence": m.sentence,
            "quantities": [q.to_dict() for q in m.quantities], "figures": list(claim.figures), "tables": list(claim.tables),
            "command": claim.command, "notebooks": list(claim.notebooks), "seconds": seconds, "extended": claim.extended,
            "basis": m.basis}


#: outside the default profile's time aim (`aq4svit reproduce --extended`, run once on the gallery's machine)
EXTENDED_NOTEBOOKS = ("09_seed_study",)


def run_kind(notebook: str, long_run: bool = False) -> str:
    """Which run a notebook's time belongs to: the extended run's notebooks, and any notebook handed ``long_run``."""
    return "extended" if long_run or notebook.startswith(EXTENDED_NOTEBOOKS) else "default"


def timing_rows(t: pd.DataFrame) -> pd.DataFrame:
    """The notebook timing table with its ``run`` and ``finished`` columns; a table written before runs were told apart
    has neither: its only extended notebook was the seed study, and when each ended was not recorded."""
    t = t.copy()
    if "run" not in t:
        t["run"] = [run_kind(str(nb)) for nb in t.notebook]
    t["finished"] = t["finished"].fillna("") if "finished" in t else ""
    return t


def notebook_times(run: Run, extended: bool = False) -> dict[str, float]:
    """Notebook prefix ("05") -> seconds it took in the default run (timings/00_notebooks), summing variants (04 Greedy +
    Beam); with ``extended``, the extended run's time wherever that run executed the notebook."""
    if not run.has("timings/00_notebooks"):
        return {}
    t = timing_rows(run.timing("00_notebooks"))
    out: dict[str, float] = {}
    for kind in ("default", "extended") if extended else ("default",):
        out.update(seconds_by_notebook(t, kind))
    return out


def seconds_by_notebook(t: pd.DataFrame, kind: str) -> dict[str, float]:
    """Notebook prefix -> seconds of one run (``timing_rows``), variants summed."""
    rows = t[t.run == kind]
    return {str(k): float(v) for k, v in rows.groupby(rows.notebook.astype(str).str[:2]).seconds.sum().items()}


def machine_of(run: Run) -> dict:
    path = run.tables / "timings" / "00_machine.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def measure(run: Run, ids: list[str] | None = None) -> list[dict]:
    claims = [get_claim(i) for i in ids] if ids else all_claims()
    times = {kind: notebook_times(run, extended=kind) for kind in (False, True)}
    return [record(c, c.measure(run), times[c.extended]) for c in claims]


def write_committed(run: Run, path: str | Path) -> dict:
    from ..ioutil import write_json_atomic

    doc = {"format": FORMAT, "version": VERSION, "machine": machine_of(run), "claims": measure(run)}
    write_json_atomic(path, doc)
    return doc


def load_committed(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"no committed claims at {path}: a clone of the repository ships figures/claims.json; "
                         "`aq4svit claims --write` writes it from a run")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path} is not a claims file (JSON of format {FORMAT}): {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise UsageError(f"{path} is not a claims file (format {FORMAT!r})")
    return doc


@dataclass
class Verdict:
    id: str
    paper_value: str
    committed_verdict: str
    verdict: str
    quantities: list[dict] = field(default_factory=list)
    #: a claim only the extended run measures, which this run (a default one) did not: not re-run, not a failure
    not_rerun: str = ""

    @property
    def direction_unchanged(self) -> bool:
        return self.committed_verdict == self.verdict

    @property
    def within_tolerance(self) -> bool:
        return all(q["within"] for q in self.quantities)

    @property
    def moved_within_wall_clock(self) -> bool:
        """A verdict decided by wall-clock ratios alone that moved while every ratio stayed within its tolerance: the
        threshold lies inside another machine's noise, so the move is the machine's, not a failure to reproduce."""
        return (not self.direction_unchanged and bool(self.quantities) and self.within_tolerance
                and all(q.get("timing") for q in self.quantities))

    @property
    def ok(self) -> bool:
        return bool(self.not_rerun) or (self.direction_unchanged and self.within_tolerance) or self.moved_within_wall_clock

    def failures(self) -> list[str]:
        out = [] if self.direction_unchanged or self.moved_within_wall_clock else [f"verdict {self.committed_verdict!r} -> {self.verdict!r}"]
        out += [f"{q['name']} {_fmt(q['committed'])} -> {_fmt(q['now'])} (tolerance {q['tolerance']})" for q in self.quantities
                if not q["within"]]
        return out


def _fmt(v) -> str:
    return "missing" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v)


def compare(committed: dict, now: list[dict]) -> list[Verdict]:
    """Claim by claim: the committed entry against this run's (a claim missing on either side fails)."""
    before = {c["id"]: c for c in committed["claims"]}
    out = []
    for c in now:
        old = before.get(c["id"])
        if old is None:
            out.append(Verdict(c["id"], c["paper_value"], "absent from the committed claims", c["verdict"]))
            continue
        if c.get("extended") and _unmeasured(c["verdict"]) and not _unmeasured(old["verdict"]):
            out.append(Verdict(c["id"], c["paper_value"], old["verdict"], c["verdict"], not_rerun=f"needs the extended run: {c['command']}"))
            continue
        if old.get("basis", "") != c.get("basis", ""):  # e.g. a best known without the extended run's searches
            out.append(Verdict(c["id"], c["paper_value"], old["verdict"], c["verdict"],
                               not_rerun=f"rests on {old.get('basis') or 'another basis'}, this run on {c.get('basis') or 'another'}: "
                                         "re-run on the same basis (`aq4svit reproduce --extended` adds our variants and the reference runs)"))
            continue
        olds = {q["name"]: q for q in old["quantities"]}
        rows = []
        for q in c["quantities"]:
            o = olds.get(q["name"])
            tol = Tolerance(o["tolerance"], o["basis"], o["relative"]) if o else Tolerance(q["tolerance"], q["basis"], q["relative"])
            rows.append({"name": q["name"], "label": q["label"], "unit": q["unit"], "committed": None if o is None else o["value"],
                         "now": q["value"], "tolerance": tol.describe(), "within": o is not None and tol.allows(o["value"], q["value"]),
                         "timing": bool(q.get("timing")) and bool(o and o.get("timing"))})
        for name in set(olds) - {q["name"] for q in c["quantities"]}:
            rows.append({"name": name, "label": olds[name]["label"], "unit": olds[name]["unit"], "committed": olds[name]["value"],
                         "now": None, "tolerance": "", "within": False})
        out.append(Verdict(c["id"], c["paper_value"], old["verdict"], c["verdict"], rows))
    return out


def _unmeasured(verdict: str) -> bool:
    return verdict.startswith("not measured in this run")


def check_table(verdicts: list[Verdict]) -> pd.DataFrame:
    """One row per claim: paper, committed, this run, within tolerance, direction unchanged."""
    return pd.DataFrame([{"claim": v.id, "paper": v.paper_value, "committed": v.committed_verdict,
                          "this run": "not re-run (extended run)" if v.not_rerun else
                          f"{v.verdict} (moved within the wall-clock tolerance)" if v.moved_within_wall_clock else v.verdict,
                          "within tolerance": f"{sum(q['within'] for q in v.quantities)} of {len(v.quantities)}",
                          "direction unchanged": v.direction_unchanged, "ok": v.ok} for v in verdicts])


def run_check(results: str | Path, committed_path: str | Path, ids: list[str] | None = None) -> list[Verdict]:
    committed = load_committed(committed_path)
    run = Run(results)
    now = measure(run, ids)
    if ids:
        committed = {**committed, "claims": [c for c in committed["claims"] if c["id"] in ids]}
    return compare(committed, now)
