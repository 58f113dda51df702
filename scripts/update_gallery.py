"""Rewrite README.md's gallery section from the default profile's figures (run by `make reproduce`), and render the
executed default-profile notebooks to HTML in figures/notebooks/ so a reviewer can read them without running anything.

Repository upkeep, not library code: the library never edits the README.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

GALLERY = (  # (figure, caption); the claim IDs are the rows of REPRODUCTION.md's claims table
    ("01_memory_share", "Where the FP32 memory sits: per stage, then per block of each model."),
    ("02_sensitivity_uniform_default_bits", "QSViT Algorithm 1 on sdtv2_tiny at the search space (32/8/6/4/3/2), uniform per-channel: "
                                            "below 4 bits the layer groups separate (Q5, A0)."),
    ("02_sensitivity_uniform", "The same sweep at QSViT's own list (32/16/12/8/4), on the same colour scale (Q4, Q5)."),
    ("02_sensitivity_uniform_per_tensor", "At QSViT's list with one scale per weight tensor (likely the papers' granularity)."),
    ("02_sensitivity_fixed_point", "At QSViT's list with the fixed-point (Qm.n, truncation) quantizer."),
    ("02_sensitivity_sdt_tiny", "QSViT Algorithm 1 on sdt_tiny at the search space: the map QSViT's answer on it comes from."),
    ("02_sensitivity_sdtv3_tiny", "The same on sdtv3_tiny."),
    ("02_uniform_sweeps", "Whole network at one width, and one layer kind network-wide, for every quantizer, with FP32 − Δ (A0, Q4)."),
    ("03_collapse", "QSViT's base settings on the whole network: each group tolerates its bSettingL alone, together they collapse (Q6)."),
    ("03_expsettings", "QSViT Algorithm 3 on sdtv2_tiny with the paper's target (FP32 − 2.1 pp) at its own list (Q1, Q2)."),
    ("04_greedy_trace_sdtv2_tiny", "AQ4SViT-Greedy on sdtv2_tiny: memory of every candidate, coloured by what stopped it (A6)."),
    ("04_beam_trace_sdtv2_tiny", "AQ4SViT-Beam on sdtv2_tiny (seeded with Greedy's path, rank gate, trade moves) (A3, A6)."),
    ("05_bitmap_sdt_tiny", "Exact width of every layer group in QSViT's, Greedy's and Beam's answers on sdt_tiny (A0, A2, A3)."),
    ("05_bitmap_sdtv2_tiny", "The same on sdtv2_tiny, with QSViT's published setting mapped onto the model."),
    ("05_bitmap_sdtv3_tiny", "The same on sdtv3_tiny."),
    ("05_fronts", "Each method's own accuracy-memory front with FP32, FP32 − Δ and the threshold the searches apply (A2, A3)."),
    ("05_split_accuracies", "Each answer's drop on search, verify and test with 95 % paired (McNemar) intervals: the constraint on "
                            "held-out data (A5)."),
    ("05_pareto", "Every feasible configuration the three searches evaluated, the Pareto front, and each answer."),
    ("timings/05_search_time", "Search wall-clock time and images forwarded per method (A1, A4; timings are kept apart)."),
    ("06_gate_ablation", "The same search with different gates on sdtv2_tiny: full evaluations, images, the answer's memory (A6, F7)."),
    ("06_tau_sweep", "Precision and recall of a threshold gate's prunes for every τ, with the calibrated τ (A6)."),
    ("06_drift_vs_drop_sdtv2_tiny", "Drift added by each move vs accuracy drop for every candidate Beam screened on sdtv2_tiny (A6)."),
    ("07_anytime", "Peer baselines: best feasible memory saving after n full evaluations, every method on one engine (F5)."),
    ("07_fronts", "Peer baselines: each method's feasible configurations and its answer (F1–F5, F8)."),
    ("07_ilp_predicted_vs_measured", "The integer program's predicted drop (sum of single-group drops) vs the measured one (F3)."),
    ("timings/07_saving_vs_time", "Memory saving vs search wall-clock time for every method (F6; timings are kept apart)."),
    ("08_bitmap_spikformer_fmnist", "Your own model: spikingjelly's Spikformer (its zoo's network, trained by us on Fashion-MNIST), "
                                    "wrapped and searched by QSViT, Greedy and Beam; the exact width of every layer group."),
    ("09_seed_comparisons", "Each headline comparison on every model and search-split seed (S1–S4; the extended run)."),
)


def update_gallery(fig_dir: Path = ROOT / "figures", readme: Path = ROOT / "README.md") -> None:
    """Rewrite the README's gallery section with the default profile's figures and links to the rendered notebooks."""
    lines = []
    pages = sorted((fig_dir / "notebooks").glob("*.html"))
    if pages:
        links = ", ".join(f"[{p.stem}]({p.relative_to(ROOT)})" for p in pages)
        lines.append(f"**Executed notebooks** (default profile, rendered to HTML: every output, no Jupyter needed): {links}\n")
    for name, caption in GALLERY:
        if (fig_dir / f"{name}.png").exists():
            rel = (fig_dir / f"{name}.png").relative_to(ROOT)
            lines.append(f"**{name}** — {caption}\n\n![{name}]({rel})\n")
    text = readme.read_text()
    start, end = "<!-- gallery:start -->", "<!-- gallery:end -->"
    if start in text and end in text and lines:
        before, rest = text.split(start, 1)
        readme.write_text(before + start + "\n" + "\n".join(lines) + rest[rest.index(end):])


if __name__ == "__main__":
    import os

    from aq4svit_lib.reproduce import get_profile, render_html, results_dir

    executed = results_dir(get_profile("default")) / "executed"
    if executed.is_dir() and not os.environ.get("AQ4SVIT_RESULTS"):
        render_html(executed, ROOT / "figures" / "notebooks")
    update_gallery()
    print("README.md gallery updated from figures/")
