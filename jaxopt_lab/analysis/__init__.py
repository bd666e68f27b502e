"""Results analysis: load run directories, IQM + bootstrap intervals over seeds, plots."""

from jaxopt_lab.analysis.plots import learning_curve_band, plot_learning_curves, plot_runs
from jaxopt_lab.analysis.results import Run, load_run, load_runs
from jaxopt_lab.analysis.stats import bootstrap_ci, iqm, summarize_returns

__all__ = [
    "Run",
    "bootstrap_ci",
    "iqm",
    "learning_curve_band",
    "load_run",
    "load_runs",
    "plot_learning_curves",
    "plot_runs",
    "summarize_returns",
]
