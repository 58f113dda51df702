"""Claims as data: each claim of the papers (and of our field comparison) computed from a run's tables, with a
tolerance, a verdict, a figure and a command; ``aq4svit check`` re-verifies them; ``render`` writes the prose."""

from .check import compare, load_committed, measure, run_check, write_committed
from .core import Claim, Measurement, Quantity, Run, Tolerance, all_claims, get_claim
from .render import render_documents, show

__all__ = ["Claim", "Measurement", "Quantity", "Run", "Tolerance", "all_claims", "get_claim", "compare", "load_committed", "measure",
           "run_check", "write_committed", "render_documents", "show"]
