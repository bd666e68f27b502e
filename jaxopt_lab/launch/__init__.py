"""Launching training: populations of runs (sweep members x seeds, sharded over devices,
chunked, resumable), experiments that write run directories, comparisons, learning-rate
sweeps, and the scripts' shared command line."""

from jaxopt_lab.launch.experiment import Experiment, format_summary, metrics_frame, run_experiment
from jaxopt_lab.launch.population import Population, broadcast_hparams, chunk_size, seed_keys
from jaxopt_lab.launch.sweep import apply_point, parse_sweep

__all__ = [
    "Experiment",
    "Population",
    "apply_point",
    "broadcast_hparams",
    "chunk_size",
    "format_summary",
    "metrics_frame",
    "parse_sweep",
    "run_experiment",
    "seed_keys",
]
