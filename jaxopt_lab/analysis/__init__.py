"""Results analysis: load run directories, IQM + bootstrap intervals over seeds, plots."""

from jaxopt_lab.analysis.aggregate import (
    Estimate,
    ScoreMatrices,
    aggregate_iqm,
    aggregate_mean,
    aggregate_median,
    aggregate_metrics,
    aggregate_optimality_gap,
    average_score_distribution,
    interval_estimate,
    load_score_matrices,
    normalize_scores,
    performance_profile,
    plot_performance_profile,
    probability_of_improvement,
    probability_of_improvement_table,
    score_distribution,
    stratified_bootstrap,
)
from jaxopt_lab.analysis.plots import (
    learning_curve_band,
    plot_fitness_curve,
    plot_learning_curves,
    plot_runs,
)
from jaxopt_lab.analysis.results import Run, load_run, load_runs
from jaxopt_lab.analysis.stats import bootstrap_ci, iqm, summarize_returns

__all__ = [
    "Estimate",
    "Run",
    "ScoreMatrices",
    "aggregate_iqm",
    "aggregate_mean",
    "aggregate_median",
    "aggregate_metrics",
    "aggregate_optimality_gap",
    "average_score_distribution",
    "bootstrap_ci",
    "interval_estimate",
    "iqm",
    "learning_curve_band",
    "load_run",
    "load_runs",
    "load_score_matrices",
    "normalize_scores",
    "performance_profile",
    "plot_fitness_curve",
    "plot_learning_curves",
    "plot_performance_profile",
    "plot_runs",
    "probability_of_improvement",
    "probability_of_improvement_table",
    "score_distribution",
    "stratified_bootstrap",
    "summarize_returns",
]
