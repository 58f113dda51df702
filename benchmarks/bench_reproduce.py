"""Where the time of `aq4svit reproduce` goes: per notebook, per cached search and sweep, and QSViT's arithmetic.

Reads a finished run (no model runs): the notebooks' times from the figures folder's timing table and every result
folder under results/<profile>/ (each search's wall time from its reproduce.json stamp, its full evaluations and
images forwarded from result.json). The searches of one model share its memo (reproduce.model_memo): a search's
``alone_seconds`` adds to its wall time the seconds of the records another search had computed for it, i.e. what it
costs from a cold start on its own; ``wall_seconds`` is what it cost in this run.

    python benchmarks/bench_reproduce.py [--results results/default] [--figures figures]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import record  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def searches(results: Path) -> pd.DataFrame:
    rows = []
    for stamp in sorted(results.glob("*/*/reproduce.json")):
        folder = stamp.parent
        s = json.loads(stamp.read_text())
        result = folder / "result.json"
        r = json.loads(result.read_text()) if result.is_file() else {}
        ev = r.get("evaluations", {})
        sweep = (folder / "sensitivity.csv").is_file() and not result.is_file()
        rows.append({"model": folder.parent.name, "folder": folder.name, "kind": "sweep" if sweep else r.get("method", "?"),
                     "full_evaluations": ev.get("full") if not sweep else len(pd.read_csv(folder / "sensitivity.csv")),
                     "images_forwarded": r.get("images_forwarded"), "wall_seconds": s.get("seconds"),
                     "replayed_seconds": r.get("replayed_seconds", s.get("replayed_seconds", 0.0))})
    df = pd.DataFrame(rows)
    df["alone_seconds"] = df.wall_seconds + df.replayed_seconds.fillna(0.0)
    df["seconds_per_full"] = df.alone_seconds / df.full_evaluations
    return df


def extended_search(folder: str) -> bool:
    """A search only ``aq4svit reproduce --extended`` runs: the seed study's, our variants' (and their gate ablation),
    the reference runs."""
    from aq4svit_lib.reproduce import get_profile, reference_specs
    from aq4svit_lib.search.registry import all_methods

    ours = {n for n, m in all_methods().items() if m.family == "ours"}
    return "_resample" in folder or folder.split("_")[0] in ours or folder in reference_specs(get_profile("default"))


#: issue 24's aim for the default profile from a cold start on 2 AVX-512 cores
AIM_SECONDS = 30 * 60
#: the searches the papers' claims rest on (QSViT's answer, Greedy's and Beam's, per model)
CLAIMED = ("qsvit", "greedy", "beam")


def bound_section(s: pd.DataFrame, notebooks: pd.DataFrame) -> str:
    """The aim against what the claims cannot do without: those searches' times alone from a cold start, summed."""
    need = s[s.folder.isin(CLAIMED)]
    per = need.pivot_table(index="model", columns="folder", values="alone_seconds", aggfunc="sum").reindex(columns=list(CLAIMED))
    per["sum"] = per.sum(axis=1)
    bound, total = float(need.alone_seconds.sum()), float(notebooks.seconds.sum())
    from aq4svit_lib.report import to_markdown

    return (f"\nThe aim ({AIM_SECONDS // 60} min on 2 AVX-512 cores) against what the papers' claims cannot do without: "
            f"QSViT, Greedy and Beam on every model, each from a cold start, take {bound:.0f} s ({bound / 60:.0f} min) here, "
            f"{bound / AIM_SECONDS:.2f}× the aim, before any figure, sweep, ablation or peer method; the whole run took "
            f"{total:.0f} s ({total / AIM_SECONDS:.2f}× the aim; sharing each model's memo spared "
            f"{s.replayed_seconds.sum():.0f} s of evaluations another search had already made). QSViT alone is {per['qsvit'].sum():.0f} s: its count of "
            f"evaluations (above) times the seconds one evaluation of the search split takes.\n\n"
            f"{to_markdown(per.round(1).reset_index())}\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", default=str(ROOT / "results" / "default"))
    p.add_argument("--figures", default=str(ROOT / "figures"))
    args = p.parse_args()
    from aq4svit_lib.claims.check import timing_rows
    from aq4svit_lib.report import to_markdown

    nb_path = Path(args.figures) / "tables" / "timings" / "00_notebooks.csv"
    notebooks = timing_rows(pd.read_csv(nb_path)) if nb_path.is_file() else pd.DataFrame(columns=["notebook", "seconds", "run"])
    notebooks = notebooks[notebooks.run == "default"]  # the default profile's time (the aim's)
    s = searches(Path(args.results))
    s = s[~s.folder.map(extended_search)]  # the extended run's searches are not the default profile's time
    by_kind = s.groupby("kind").agg(runs=("folder", "count"), full_evaluations=("full_evaluations", "sum"),
                                    wall_seconds=("wall_seconds", "sum"), alone_seconds=("alone_seconds", "sum"))
    by_kind = by_kind.sort_values("wall_seconds", ascending=False).reset_index()
    by_kind["share"] = by_kind.wall_seconds / by_kind.wall_seconds.sum()
    q = s[s.kind == "qsvit"]
    arithmetic = "\n".join(
        f"- QSViT on {r.model}: {int(r.full_evaluations)} full evaluations × {r.seconds_per_full:.2f} s = {r.alone_seconds:.0f} s"
        for r in q.itertuples())
    body = (f"Notebooks ({notebooks.machine.iloc[0] if len(notebooks) else 'no timing table'}; total "
            f"{notebooks.seconds.sum():.0f} s):\n\n{to_markdown(notebooks.drop(columns=['machine'], errors='ignore'))}\n"
            f"Cached searches and sweeps by kind (wall: their first computation in this run; alone: from a cold start on "
            f"their own, i.e. with the records another search made for them counted):\n\n"
            f"{to_markdown(by_kind.round(3))}\nEvery search and sweep:\n\n{to_markdown(s.round(3))}\n"
            f"Where QSViT's time comes from: its Algorithm 1 measures every (block, kind) group at every width of the list, "
            f"the whole network and each layer kind at each width, and its Algorithm 3 one evaluation per group; the count, "
            f"not the engine, bounds it:\n\n{arithmetic}\n")
    body += bound_section(s, notebooks)
    record("reproduce_time", "Where the time of `aq4svit reproduce` goes (default profile)", body)


if __name__ == "__main__":
    main()
