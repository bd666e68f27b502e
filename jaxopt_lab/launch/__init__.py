"""Launching training: populations of runs (vmapped, chunked), experiments that write run
directories, comparisons, learning-rate sweeps, and the scripts' shared command line."""

from jaxopt_lab.launch.experiment import format_summary, metrics_frame, run_experiment
from jaxopt_lab.launch.population import SeedBatch, broadcast_hparams, chunk_size, seed_keys

__all__ = [
    "SeedBatch",
    "broadcast_hparams",
    "chunk_size",
    "format_summary",
    "metrics_frame",
    "run_experiment",
    "seed_keys",
]
