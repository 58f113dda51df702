"""Rewrite README.md's gallery section from the default profile's figures (run by `make reproduce`), and render the
executed default-profile notebooks to HTML in figures/notebooks/ so a reviewer can read them without running anything.

Repository upkeep, not library code: the library never edits the README.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

GALLERY = (
    ("01_memory_share", "Where the FP32 memory sits: per stage (left) and per block (right)."),
    ("02_sensitivity_uniform_default_bits", "QSViT Algorithm 1 on sdtv2_tiny at the default search space (32/8/6/4/3/2), "
                                            "uniform per-channel quantizer: below 4 bits the layer groups separate."),
    ("02_sensitivity_uniform", "The same sweep at QSViT's own list (32/16/12/8/4), uniform per-channel."),
    ("02_sensitivity_uniform_per_tensor", "At QSViT's list with one scale per weight tensor (likely the papers' granularity)."),
    ("02_sensitivity_fixed_point", "At QSViT's list with the fixed-point (Qm.n, truncation) quantizer."),
    ("02_uniform_sweeps", "Whole network at one precision, and one layer kind network-wide, for every quantizer."),
    ("03_expsettings", "QSViT Algorithm 3 on sdtv2_tiny with the paper's target (FP32 - 2.1 points) at its own list: every ExpSetting."),
    ("04_greedy_trace_sdtv2_tiny", "AQ4SViT-Greedy on sdtv2_tiny: memory of every candidate, coloured by the gate's decision."),
    ("04_beam_trace_sdtv2_tiny", "AQ4SViT-Beam on sdtv2_tiny (seeded with Greedy, rank gate, trade moves)."),
    ("05_bitmap_sdt_tiny", "Bits per block of QSViT's, Greedy's and Beam's answers on sdt_tiny."),
    ("05_bitmap_sdtv2_tiny", "The same on sdtv2_tiny."),
    ("05_bitmap_sdtv3_tiny", "The same on sdtv3_tiny."),
    ("05_pareto", "Accuracy vs memory saving: every feasible config evaluated, the Pareto front, and each method's result."),
    ("05_search_time", "Search wall-clock time and images forwarded per method."),
    ("06_drift_vs_drop_sdtv2_tiny", "Membrane-potential drift vs accuracy drop for every candidate AQ4SViT-Beam screened on sdtv2_tiny."),
    ("07_anytime", "Peer baselines: best feasible memory saving after n full evaluations, every method on one engine."),
    ("07_fronts", "Peer baselines: each method's feasible configurations and its answer."),
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
