"""AQ4SViT's claims, computed from notebooks 04-06's tables (QSViT, Greedy and Beam on one engine)."""

from __future__ import annotations

from ..papers import AQ4SVIT
from .core import (
    Measurement,
    Quantity,
    Run,
    Tolerance,
    claim,
    drop_noise,
    holds_on,
    largest_block_share,
    one_decision,
    pct,
    pts,
    split_size,
    wall_clock,
)

MAIN = "05_comparison"
#: the searches the papers specify; the extended run adds our variants to the same table (field.py's claims read them)
AS_SPECIFIED = ("qsvit", "greedy", "beam")


def _main(run: Run, table=None):
    """Rows of the profile's search space (the full profile adds QSViT's list as a second one), by (model, method)."""
    t = run.table(MAIN) if table is None else table
    return t[t.bits == t.bits.mode().iloc[0]].set_index(["model", "method"])


def _seconds(run: Run):
    """Each search's wall-clock seconds (the timings table), by (model, method)."""
    return _main(run, run.timing(MAIN)).search_seconds


def _models(t) -> list[str]:
    return list(dict.fromkeys(t.index.get_level_values("model")))


def _smaller(t, run: Run, a: str, b: str):
    """Per model: how much smaller ``a``'s answer is than ``b``'s (in % of b's memory, and in pp of FP32 memory)."""
    flags, quantities, parts = {}, [], []
    for m in _models(t):
        if (m, a) not in t.index or (m, b) not in t.index:
            continue
        ra, rb = t.loc[(m, a)], t.loc[(m, b)]
        rel = 1 - ra.memory_bytes / rb.memory_bytes
        diff = 100 * (ra.saving_vs_fp32 - rb.saving_vs_fp32)
        flags[m] = bool(ra.memory_bytes < rb.memory_bytes)
        tol = one_decision(largest_block_share(run, m))
        quantities.append(Quantity(f"{a}_minus_{b}_saving_{m}", diff, "pp", Tolerance(2 * tol.value, "two answers: " + tol.basis),
                                   f"{a} saving − {b} saving, {m} (pp of FP32 memory)"))
        word = "smaller" if rel > 0 else "larger" if rel < 0 else "equal"
        parts.append(f"{abs(rel):.1%} {word} on `{m}`" if rel else f"equal on `{m}`")
    return flags, quantities, parts


def _savings(t, run: Run, method: str) -> tuple[list[Quantity], str]:
    qs, parts = [], []
    for m in _models(t):
        if (m, method) in t.index:
            s = float(t.loc[(m, method)].saving_vs_fp32)
            qs.append(Quantity(f"{method}_saving_{m}", 100 * s, "%", one_decision(largest_block_share(run, m)), f"{method} saving vs FP32, {m}"))
            parts.append(pct(s))
    return qs, " / ".join(parts)


@claim("A0", paper="AQ4SViT", statement="the search space decides something (mixed precision is needed)", paper_value="(implicit)",
       source="papers.md, AQ4SViT: search space", figures=("05_bitmap_sdt_tiny", "05_bitmap_sdtv2_tiny", "05_bitmap_sdtv3_tiny", "02_uniform_sweeps"),
       tables=("05_decides", "05_comparison"), notebooks=("05",))
def a0(run: Run) -> Measurement:
    d = run.table("05_decides").set_index("model")
    t = _main(run)
    widths = t.widths_used
    n = split_size(run, "search")
    flags = {m: bool(d.loc[m, "infeasible"]) and int(widths.xs(m, level="model").min()) >= 2 for m in d.index}
    verdict, count = holds_on(flags)
    lowest = int(d.lowest_bits.iloc[0])
    per_method = {meth: " / ".join(str(int(widths.loc[(m, meth)])) for m in d.index if (m, meth) in widths.index)
                  for meth in dict.fromkeys(t.index.get_level_values("method"))}
    return Measurement(verdict, f"the all-{lowest}-bit network misses Δ and every answer mixes widths on {count}",
                       f"the all-{lowest}-bit network misses Δ (drops " + " / ".join(pts(v, 1) for v in d.drop_pts)
                       + f" on {' / '.join(f'`{m}`' for m in d.index)}); widths used by the answers: "
                       + "; ".join(f"{meth} {v}" for meth, v in per_method.items()),
                       [Quantity(f"all{lowest}_drop_{m}", float(d.loc[m, "drop_pts"]), "pp", drop_noise(n), f"all-{lowest}-bit drop, {m}")
                        for m in d.index])


@claim("A1", paper="AQ4SViT", statement="AQ4SViT-Greedy searches faster than QSViT", paper_value=f"up to {AQ4SVIT['speedup_vs_qsvit']}×",
       source="papers.md, AQ4SViT: results", figures=("timings/05_search_time",), tables=("05_comparison", "timings/05_comparison"),
       notebooks=("05",))
def a1(run: Run) -> Measurement:
    t = _main(run)
    times = _seconds(run)
    flags, qs, parts = {}, [], []
    for m in _models(t):
        if (m, "qsvit") not in times.index or (m, "greedy") not in times.index:
            continue
        speedup = float(times.loc[(m, "qsvit")] / times.loc[(m, "greedy")])
        evals = float(t.loc[(m, "qsvit")].full / t.loc[(m, "greedy")].full)
        flags[m] = speedup > 1
        qs.append(Quantity(f"greedy_speedup_{m}", speedup, "x", wall_clock(), f"QSViT time / Greedy time, {m}", timing=True))
        parts.append(f"{speedup:.1f}× faster on `{m}` ({times.loc[(m, 'greedy')]:.0f} vs {times.loc[(m, 'qsvit')]:.0f} s; "
                     f"{evals:.0f}× fewer full evaluations)")
    verdict, count = holds_on(flags)
    return Measurement(verdict, f"Greedy is faster than QSViT on {count} (same engine, splits, Δ, space, margin and verification)",
                       "Greedy is " + ", ".join(parts) + " than QSViT", qs)


@claim("A2", paper="AQ4SViT", statement="AQ4SViT-Greedy's model is smaller than QSViT's",
       paper_value=f"up to {AQ4SVIT['memory_saving_greedy']:.1%} saving vs FP32", source="papers.md, AQ4SViT: results",
       figures=("05_bitmap_sdt_tiny", "05_bitmap_sdtv2_tiny", "05_bitmap_sdtv3_tiny", "05_fronts"), tables=("05_comparison",), notebooks=("05",))
def a2(run: Run) -> Measurement:
    t = _main(run)
    flags, qs, parts = _smaller(t, run, "greedy", "qsvit")
    g, gtext = _savings(t, run, "greedy")
    q, qtext = _savings(t, run, "qsvit")
    verdict, count = holds_on(flags)
    return Measurement(verdict, f"Greedy's answer is smaller than QSViT's on {count}",
                       f"saving vs FP32: Greedy {gtext}, QSViT {qtext}; Greedy's model is " + ", ".join(parts) + " than QSViT's",
                       g + q + qs)


@claim("A3", paper="AQ4SViT", statement="AQ4SViT-Beam finds smaller models than Greedy",
       paper_value=f"up to {AQ4SVIT['memory_saving_beam']:.0%} saving vs FP32", source="papers.md, AQ4SViT: results",
       figures=("05_bitmap_sdt_tiny", "05_bitmap_sdtv2_tiny", "05_bitmap_sdtv3_tiny", "05_fronts", "04_beam_trace_sdtv2_tiny"),
       tables=("05_comparison",), notebooks=("05",))
def a3(run: Run) -> Measurement:
    t = _main(run)
    flags, qs, parts = _smaller(t, run, "beam", "greedy")
    b, btext = _savings(t, run, "beam")
    vs_q = _smaller(t, run, "beam", "qsvit")[2]
    verdict, count = holds_on(flags)
    backoffs = {m: int(t.loc[(m, "beam")].backoff_steps) for m in _models(t) if (m, "beam") in t.index and t.loc[(m, "beam")].backoff_steps > 0}
    note = ("; Beam backed off on `verify` on " + ", ".join(f"`{m}` ({k} step{'s' if k > 1 else ''})" for m, k in backoffs.items())) if backoffs else ""
    return Measurement(verdict, f"Beam's answer is strictly smaller than Greedy's on {count}",
                       f"saving vs FP32: Beam {btext}; Beam's model is " + ", ".join(parts) + " than Greedy's, "
                       + ", ".join(vs_q) + " than QSViT's" + note, b + qs)


@claim("A4", paper="AQ4SViT", statement="AQ4SViT-Beam takes longer than Greedy", paper_value="4.5× longer",
       source="papers.md, AQ4SViT: results", figures=("timings/05_search_time",), tables=("timings/05_comparison", "05_comparison"),
       notebooks=("05",))
def a4(run: Run) -> Measurement:
    t = _main(run)
    times = _seconds(run)
    flags, qs, parts = {}, [], []
    for m in _models(t):
        if (m, "beam") not in times.index or (m, "greedy") not in times.index:
            continue
        ratio = float(times.loc[(m, "beam")] / times.loc[(m, "greedy")])
        flags[m] = ratio > 1
        qs.append(Quantity(f"beam_over_greedy_time_{m}", ratio, "x", wall_clock(), f"Beam time / Greedy time, {m}", timing=True))
        parts.append(f"{ratio:.1f}× Greedy's time on `{m}` ({int(t.loc[(m, 'beam')].full)} vs {int(t.loc[(m, 'greedy')].full)} full evaluations)")
    verdict, count = holds_on(flags)
    return Measurement(verdict, f"Beam takes longer than Greedy on {count} (Beam includes Greedy's path)",
                       "Beam takes " + ", ".join(parts), qs)


@claim("A5", paper="AQ4SViT", statement="the answer stays within the accuracy constraint",
       paper_value=f"within {AQ4SVIT['accuracy_constraint_pts']} %", source="papers.md, AQ4SViT: results",
       figures=("05_split_accuracies",), tables=("05_comparison",), notebooks=("05",))
def a5(run: Run) -> Measurement:
    t = _main(run).reset_index()
    t = t[t.method.isin(AS_SPECIFIED)]  # the papers' answers: the same count whichever run wrote the table
    n_test = split_size(run, "test")
    delta = AQ4SVIT["accuracy_constraint_pts"]
    flags = {f"{r.model}/{r.method}": bool(r.test_drop_within_delta) for r in t.itertuples()}
    verdict, count = holds_on(flags, "answers")
    qs = [Quantity(f"test_drop_{r.method}_{r.model}", float(r.test_drop_pts), "pp",
                   drop_noise(n_test, getattr(r, "test_drop_se_pts", None)), f"test drop, {r.method} on {r.model}") for r in t.itertuples()]
    backoff = int((t.backoff_steps > 0).sum())
    return Measurement(verdict, f"the test drop is within Δ = {delta:g} pp for {count}",
                       f"test drops {pts(t.test_drop_pts.min())} to {pts(t.test_drop_pts.max())} (largest allowed {delta:g}); "
                       f"verify drops ≤ {pts(t.verify_drop_pts.max())}; {backoff} of {len(t)} answers backed off on `verify`", qs)


@claim("A6", paper="AQ4SViT", statement="the membrane-drift gate screens candidates before full evaluations, saving work",
       paper_value="yes (no numbers)", source="papers.md, AQ4SViT: method",
       figures=("06_gate_ablation", "06_tau_sweep", "06_drift_vs_drop_sdtv2_tiny"), tables=("06_gate_ablation", "06_gate_quality"),
       notebooks=("06",))
def a6(run: Run) -> Measurement:
    t = run.table("06_gate_ablation").set_index("run")
    q = run.table("06_gate_quality").set_index("run")
    pairs = [(r, off) for r, off in (("AQ4SViT-Greedy, threshold gate", "AQ4SViT-Greedy, gate off"),
                                     ("AQ4SViT-Beam, rank gate", "AQ4SViT-Beam, gate off"),
                                     ("AQ4SViT-Beam, threshold gate", "AQ4SViT-Beam, gate off")) if r in t.index and off in t.index]
    flags, qs, parts = {}, [], []
    for gated, off in pairs:
        a, b = t.loc[gated], t.loc[off]
        fewer = 1 - a.full / b.full
        no_larger = a.saving_vs_fp32 >= b.saving_vs_fp32 - 1e-9
        flags[gated] = bool(fewer > 0 and no_larger)
        qs += [Quantity(f"full_{_slug(gated)}", float(a.full), "count", Tolerance(0.1 * b.full, "10 % of the ungated search's full "
                        "evaluations: one flipped decision changes a ladder"), f"full evaluations, {gated}"),
               Quantity(f"full_{_slug(off)}", float(b.full), "count", Tolerance(0.1 * b.full, "10 % of the ungated search's full evaluations"),
                        f"full evaluations, {off}")]
        parts.append(f"{gated}: {int(a.full)} vs {int(b.full)} full evaluations gate off ({fewer:.0%} fewer), answer saving "
                     f"{pct(a.saving_vs_fp32)} vs {pct(b.saving_vs_fp32)}")
    for label in q.index:
        r = q.loc[label]
        parts.append(f"{label}: {int(r.gate_pruned)} prunes, precision {r.gate_precision:.2f}, recall {r.gate_recall:.2f}, "
                     f"Spearman ρ(drift added, drop) {r.spearman_rho_increase:.2f} over {int(r.candidates)} candidates")
    verdict, count = holds_on(flags, "gated searches")
    return Measurement(verdict, f"the gate saves full evaluations at an answer no larger in {count}", "; ".join(parts), qs)


def _slug(label: str) -> str:
    return label.lower().replace("aq4svit-", "").replace(", ", "_").replace(" ", "-")
