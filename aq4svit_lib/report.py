"""Tidy tables for the CLI and the notebooks (pandas in, pandas out; no plotting here)."""

from __future__ import annotations

import pandas as pd
import torch

from .models import REGISTRY, create_model


def zoo_table() -> pd.DataFrame:
    """One row per registered model: family, dataset, parameters (built on the meta device)."""
    rows = []
    for name, entry in REGISTRY.items():
        if name in ("sdt", "sdtv2", "sdtv3"):
            continue
        with torch.device("meta"):
            model = create_model(name)
        params = sum(p.numel() for p in model.parameters())
        rows.append(
            {
                "model": name,
                "family": entry.family,
                "dataset": entry.dataset,
                "params_M": round(params / 1e6, 2),
                "blocks": model.num_blocks,
                "T": getattr(model, "T", None) or "-",
                "description": entry.description,
            }
        )
    return pd.DataFrame(rows)


def to_markdown(df: pd.DataFrame, floatfmt: str = ".4g") -> str:
    """Markdown table without the optional ``tabulate`` dependency."""
    def fmt(v):
        if isinstance(v, float):
            return format(v, floatfmt)
        return str(v)

    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(fmt(v) for v in row) + " |")
    return "\n".join(lines) + "\n"
