"""Reading a sweep's runs back: normalized scores, rliable aggregates, tables and figures."""

from tfprune_rl.analysis.aggregate import (
    METRICS, RLIABLE_DEFAULT_REPS, ConfigResult, Normalization, aggregate, interval_estimates,
    iqm,
)
from tfprune_rl.analysis.plots import draw_all
from tfprune_rl.analysis.reference_scores import references
from tfprune_rl.analysis.report import FILES, report
from tfprune_rl.analysis.runs import Run, load_runs

__all__ = [
    "FILES", "METRICS", "RLIABLE_DEFAULT_REPS", "ConfigResult", "Normalization", "Run",
    "aggregate", "draw_all", "interval_estimates", "iqm", "load_runs",
    "references", "report",
]
