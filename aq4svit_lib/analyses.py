"""Measurements that run models, for the notebooks: FP32 baselines, firing rates, the published setting.

Tables built from results that already exist are in :mod:`aq4svit_lib.report` (which evaluates nothing).
"""

from __future__ import annotations

import time

import pandas as pd
import torch

from .data import EVAL_BATCH_SIZE
from .models import create_model
from .papers import QSVIT_PAPER_SETTING
from .report import memory_breakdown


def firing_rates(model, split, batch_size: int = 256) -> pd.DataFrame:
    """Mean output (spike rate, or normalised multi-spike count) of every neuron layer on ``split``."""
    from .models import record_membranes

    sums: dict[str, float] = {}
    n = 0
    with torch.inference_mode():
        for x, _ in split.batches(batch_size):
            with record_membranes(model) as rec:
                model(x)
            for k, v in rec.firing_rates().items():
                sums[k] = sums.get(k, 0.0) + v * len(x)
            n += len(x)
    blocks = model.quant_structure().blocks
    def owner(name):
        for b in blocks:
            if any(name == p or name.startswith(p + ".") for p in b.modules):
                return b.name, b.stage
        return "head", "head"
    rows = [{"neuron": k, "block": owner(k)[0], "stage": owner(k)[1], "rate": v / n, "order": i} for i, (k, v) in enumerate(sums.items())]
    return pd.DataFrame(rows)




def model_baseline(name: str, splits: dict, checkpoint="default", batch_size: int = EVAL_BATCH_SIZE) -> dict:
    """FP32 accuracy on search and test, eval time of the test split, params and memory."""
    from .evaluate import Evaluator
    from .quant import QuantConfig

    model = create_model(name, checkpoint=checkpoint)
    with Evaluator(model, splits, batch_size=batch_size, quiet=True) as ev:
        search = ev.accuracy(QuantConfig(), "search")
        t0 = time.perf_counter()
        test = ev.accuracy(QuantConfig(), "test")
        seconds = time.perf_counter() - t0
    mem = memory_breakdown(model)
    row = {
        "model": name,
        "params": sum(p.numel() for p in model.parameters()),
        "fp32_MiB": mem.fp32_bytes.sum() / 2**20,
        "search_accuracy": search.accuracy,
        "test_accuracy": test.accuracy,
        "test_eval_seconds": seconds,
        "test_images": test.n,
    }
    for stage, share in mem.groupby("stage", sort=False).share.sum().items():
        row[f"share_stage_{stage}"] = share
    return row


def qsvit_paper_setting(scheme=None):
    """The paper's final SDTv2 setting as a QuantConfig (blocks not named, incl. the head, stay FP32)."""
    from .quant import QuantConfig, QuantScheme

    return QuantConfig(default=32, blocks=dict(QSVIT_PAPER_SETTING), scheme=scheme or QuantScheme())


def paper_setting_bits(model_name: str) -> dict[str, int] | None:
    """QSViT's published SDTv2 setting resolved on ``model_name``'s layers (None for a model that is not SDT v2)."""
    from .models import get_entry

    if get_entry(model_name).family != "sdtv2":
        return None
    with torch.device("meta"):
        structure = create_model(model_name).quant_structure()
    return qsvit_paper_setting().resolve(structure)


def paper_setting_check(model_name: str, splits: dict, checkpoint="default", schemes=None) -> pd.DataFrame:
    """Memory saving of QSViT's published setting on the 55M architecture (``papers.QSVIT['memory_saving']``), and
    its memory saving and accuracy on our SDT v2 model, for each quantizer scheme."""
    from .evaluate import Evaluator
    from .quant import QuantScheme, memory_report

    schemes = schemes or {"uniform": QuantScheme(), "fixed_point": QuantScheme("fixed_point", "per_tensor", "truncate")}
    with torch.device("meta"):
        big = create_model("sdtv2_55m")
    rows = [{"model": "sdtv2_55m (architecture only)", "scheme": "uniform",
             "saving_vs_fp32": memory_report(big, qsvit_paper_setting()).saving, "search_accuracy": None, "test_accuracy": None}]
    model = create_model(model_name, checkpoint=checkpoint)
    with Evaluator(model, splits, quiet=True) as ev:
        fp32 = ev.accuracy({}, "search").accuracy, ev.accuracy({}, "test").accuracy
        rows.append({"model": model_name, "scheme": "FP32", "saving_vs_fp32": 0.0, "search_accuracy": fp32[0], "test_accuracy": fp32[1]})
        for name, scheme in schemes.items():
            cfg = qsvit_paper_setting(scheme)
            rows.append({"model": model_name, "scheme": name, "saving_vs_fp32": memory_report(model, cfg).saving,
                         "search_accuracy": ev.accuracy(cfg, "search").accuracy, "test_accuracy": ev.accuracy(cfg, "test").accuracy})
    return pd.DataFrame(rows)
