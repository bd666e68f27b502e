"""Running batches of runs (vmapped over seeds), checkpoints and run directories."""

from jaxopt_lab.experiment.batch import SeedBatch, chunk_size, seed_keys
from jaxopt_lab.experiment.run import (
    format_summary,
    metrics_frame,
    run_experiment,
    validate_experiment,
)

__all__ = [
    "SeedBatch",
    "chunk_size",
    "format_summary",
    "metrics_frame",
    "run_experiment",
    "seed_keys",
    "validate_experiment",
]
