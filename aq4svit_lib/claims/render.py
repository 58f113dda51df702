"""Prose from claims: REPRODUCTION.md, the README's summary and each notebook's result sentence.

Every measured number a reader sees is rendered here from a run's tables (through the claim entries, or the
tables themselves for the field and timing sections); the templates hold words and ``{{ placeholders }}`` only
(a test scans them for digits).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..plot_style import method_name
from .check import machine_of, measure, notebook_times, seconds_by_notebook, timing_rows
from .core import Run

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_.]+)\s*\}\}")


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def claims_table(records: list[dict]) -> str:
    rows = ["| id | claim (paper) | paper | ours | verdict | figure | table | tolerance a re-run must meet | reproduce alone (time here) |",
            "|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        figs = ", ".join(f"`{f}`" for f in r["figures"]) or "—"
        tabs = ", ".join(f"`{t}`" for t in r["tables"]) or "—"
        tols = "; ".join(sorted({f"{q['unit']}: " + _tol(q) for q in r["quantities"]})) or "verdict only"
        secs = f" ({_duration(r['seconds'])})" if r.get("seconds") else ""
        rows.append(f"| {r['id']} | {_cell(r['statement'])} | {_cell(r['paper_value'])} | {_cell(r['sentence'])} | "
                    f"**{_cell(r['verdict'])}**: {_cell(r['reason'])} | {figs} | {tabs} | {_cell(tols)} | `{r['command']}`{secs} |")
    return "\n".join(rows) + "\n"


def _tol(q: dict) -> str:
    amount = f"±{q['tolerance']:.0%}" if q["relative"] else f"±{q['tolerance']:.3g}"
    return f"{amount} ({q['basis']})"


def _duration(seconds: float | None) -> str:
    if not seconds:
        return "not timed"
    m = seconds / 60
    return f"{seconds:.0f} s" if m < 2 else f"{m:.0f} min"


def summary(records: list[dict]) -> str:
    """The README's results summary: one line per claim."""
    return "\n".join(f"- **{r['id']}** {r['statement']} (paper: {r['paper_value']}) — **{r['verdict']}**: {r['sentence']}."
                     for r in records) + "\n"


def sentence(r: dict) -> str:
    return f"**{r['id']} — {r['verdict']}.** {r['sentence'][0].upper() + r['sentence'][1:]}. Paper: {r['paper_value']}."


def field_table(run: Run) -> str:
    """Notebook 07's peer table: every method on every model, cost in evaluations and images, gap to the best known."""
    t = run.table("07_peer_comparison")
    secs = run.timing("07_peer_comparison").search_seconds if run.has("timings/07_peer_comparison") else None
    rows = ["| model | method | saving vs FP32 | gap to best known | full evaluations | images forwarded | test drop (pp) | search time (s) |",
            "|---|---|---|---|---|---|---|---|"]
    for i, r in enumerate(t.itertuples()):
        gap = "0 (best known)" if r.gap_to_best_known <= 0 else f"{r.gap_to_best_known:.1%}"
        time = f"{secs.iloc[i]:.0f}" if secs is not None else "—"
        rows.append(f"| {r.model} | {method_name(r.method)} | {r.saving_vs_fp32:.2%} | {gap} | {int(r.full)} | {int(r.images_forwarded):,} | "
                    f"{r.test_drop_pts:.2f} | {time} |")
    return "\n".join(rows) + "\n"


def reference_table(run: Run) -> str:
    """The reference runs behind "best known" (extended run): what each reached, against the best known, and its cost;
    then which search holds the best known configuration of each model."""
    if not run.has("07_reference_runs"):
        return ("The reference runs have not been computed in this run (`aq4svit reproduce --extended`): the best known is "
                "the smallest configuration the compared methods evaluated.\n")
    ref, peers = run.table("07_reference_runs"), run.table("07_peer_comparison")
    best = peers.groupby("model").best_known_bytes.first()
    secs = run.timing("07_reference_runs").search_seconds if run.has("timings/07_reference_runs") else None
    rows = ["| model | reference run | saving vs FP32 | gap to best known | full evaluations | images forwarded | search time (s) |",
            "|---|---|---|---|---|---|---|"]
    for i, r in enumerate(ref.itertuples()):
        gap = int(r.memory_bytes) / int(best[r.model]) - 1
        rows.append(f"| {r.model} | {_reference_name(r.method)} | {r.saving_vs_fp32:.2%} | {'0 (best known)' if gap <= 0 else f'{gap:.1%}'} | "
                    f"{int(r.full)} | {int(r.images_forwarded):,} | {'—' if secs is None else f'{secs.iloc[i]:.0f}'} |")
    holders = []
    for m, b in best.items():
        who = [method_name(x) for x in peers[(peers.model == m) & (peers.memory_bytes <= b)].method]
        who += [_reference_name(x) for x in ref[(ref.model == m) & (ref.memory_bytes <= b)].method]
        holders.append(f"`{m}`: {', '.join(who) or 'a configuration evaluated during a search, not an answer'}")
    return "\n".join(rows) + "\n\nThe best known configuration is the answer of " + "; ".join(holders) + ".\n"


def _reference_name(folder: str) -> str:
    """``optuna_long`` -> "Optuna NSGA-II (long)": the method's name and what the reference changed."""
    method, _, change = folder.partition("_")
    return f"{method_name(method)} ({change})" if change else method_name(method)


def timing_section(run: Run) -> str:
    """How long each notebook took in the default run and in the extended one, and which run made each page."""
    if not run.has("timings/00_notebooks"):
        return "No notebook timings in this run.\n"
    t = timing_rows(run.timing("00_notebooks")).assign(prefix=lambda d: d.notebook.str[:2])
    who = machine_of(run).get("line") or "this run's machine"
    default = notebook_times(run)
    text = ""
    if default:
        parts = ", ".join(f"{nb} {_duration(s)}" for nb, s in sorted(default.items()))
        text = (f"`aq4svit reproduce --profile default` from an empty results folder on {who}: {parts}; "
                f"**{_duration(sum(default.values()))} in total**.")
    ext = t[t.run == "extended"]
    if len(ext):  # our variants, their gate ablation, the reference runs and the seed study, on the default run's folder
        more = ", ".join(f"{nb} {_duration(s)}" for nb, s in sorted(seconds_by_notebook(t, "extended").items()))
        where = "the same machine" if set(ext.machine) <= set(t[t.run == "default"].machine) else ", ".join(sorted(set(ext.machine)))
        text += (f" Outside the time aim, `aq4svit reproduce --extended` on {where}, in the default run's results folder (it "
                 f"reuses that run's records): {more}.")
        made = _pages_made_by(t)
        if made["extended"]:
            text += (f" The gallery's pages, figures and tables of {_listing(made['extended'])} come from the extended run "
                     f"(the later run of each); {_listing(made['default']) or 'no other notebook'} from the default run.")
    return (text or "No notebook timings in this run.") + "\n"


def _pages_made_by(t: pd.DataFrame) -> dict[str, list[str]]:
    """Notebook prefix by the run that executed it last (it wrote its figures); an unrecorded end counts as earliest."""
    last = t.sort_values(["prefix", "finished", "run"]).groupby("prefix").run.last()
    return {kind: sorted(p for p, r in last.items() if r == kind) for kind in ("default", "extended")}


def _listing(prefixes: list[str]) -> str:
    return ", ".join(prefixes[:-1]) + (f" and {prefixes[-1]}" if len(prefixes) > 1 else "".join(prefixes))


def context(run: Run, extra: dict[str, str] | None = None) -> dict[str, str]:
    records = measure(run)
    ctx: dict[str, str] = {**(extra or {}), "claims_table": claims_table(records), "summary": summary(records), "timing": timing_section(run),
                           "machine": machine_of(run).get("line", "not recorded")}
    for r in records:
        ctx[f"{r['id']}.sentence"], ctx[f"{r['id']}.verdict"], ctx[f"{r['id']}.reason"] = r["sentence"], r["verdict"], r["reason"]
    try:
        ctx["field_table"], ctx["reference_table"] = field_table(run), reference_table(run)
    except LookupError:
        ctx["field_table"] = ctx["reference_table"] = "Notebook 07 has not run.\n"
    return ctx


def fill(template: str, ctx: dict[str, str]) -> str:
    def sub(m: re.Match) -> str:
        if m.group(1) not in ctx:
            raise KeyError(f"unknown placeholder {{{{ {m.group(1)} }}}}; known: {', '.join(sorted(ctx))}")
        return ctx[m.group(1)].rstrip("\n")

    return PLACEHOLDER.sub(sub, template)


def replace_between(text: str, name: str, body: str) -> str:
    """Replace what lies between ``<!-- name:start -->`` and ``<!-- name:end -->``."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    if start not in text or end not in text:
        raise ValueError(f"markers {start} / {end} not found")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{body.rstrip()}\n{end}{tail}"


def render_documents(run: Run, root: str | Path, extra: dict[str, str] | None = None) -> list[Path]:
    """REPRODUCTION.md from its template, the README's generated sections; returns the files written.

    ``extra``: further placeholders (the CLI passes ``setting``, the profile's one-line description)."""
    from ..ioutil import write_text_atomic

    root = Path(root)
    ctx = context(run, extra)
    out = [write_text_atomic(root / "REPRODUCTION.md", fill((root / "docs" / "REPRODUCTION.md.in").read_text(encoding="utf-8"), ctx))]
    readme = (root / "README.md").read_text(encoding="utf-8")
    for name, key in (("claims-summary", "summary"), ("timing", "timing")):
        readme = replace_between(readme, name, ctx[key])
    out.append(write_text_atomic(root / "README.md", readme))
    return out


def show(*ids: str, run=None) -> None:
    """A notebook's result cell: each claim's verdict and numbers, computed from this run's tables."""
    from .core import Run as _Run

    records = measure(_Run(run), list(ids))
    text = "\n\n".join(sentence(r) for r in records)
    try:
        from IPython.display import Markdown, display

        display(Markdown(text))
    except ImportError:  # outside Jupyter
        print(text)


def table_frame(records: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{k: r[k] for k in ("id", "paper", "statement", "paper_value", "verdict", "sentence")} for r in records])
