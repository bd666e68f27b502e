"""Rebuild a finished run from its directory: config, trainer and checkpointed state."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from jaxopt_lab.experiment.batch import SeedBatch
from jaxopt_lab.experiment.checkpoint import restore_state
from jaxopt_lab.rl.config import TrainConfig


def load_config(run_dir: str | Path) -> tuple[TrainConfig, dict[str, Any]]:
    """The run's :class:`TrainConfig` and the whole ``config.json`` record."""
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"run: {run_dir} has no config.json")
    record = json.loads(path.read_text())
    fields = dict(record["config"])
    fields["hidden_sizes"] = tuple(fields["hidden_sizes"])
    return TrainConfig(**fields), record


def reevaluate(run_dir: str | Path, seed: int | None = None) -> tuple[np.ndarray, int]:
    """Evaluation returns per seed of the latest checkpoint, with the run's evaluation keys
    (or those of ``seed``). Returns ``(final_return, checkpoint_update)``."""
    config, record = load_config(run_dir)
    batch = SeedBatch(config, record["num_seeds"], record["seed"] if seed is None else seed)
    step, state = restore_state(Path(run_dir) / "checkpoints", batch.abstract_state())
    returns, _ = batch.evaluate(state)
    return returns, step
