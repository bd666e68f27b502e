"""Rebuild a finished run from its directory: config, trainer and checkpointed state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from jaxopt_lab.checkpoint import restore_state
from jaxopt_lab.launch.population import SeedBatch
from jaxopt_lab.rl import TrainConfig
from jaxopt_lab.rl.config import config_from_dict
from jaxopt_lab.rundir import CHECKPOINTS, load_run


def load_config(run_dir: str | Path) -> tuple[TrainConfig, dict[str, Any]]:
    """The run's :class:`TrainConfig` and the whole ``config.json`` record."""
    record = load_run(run_dir).config
    return config_from_dict(record["config"]), record


def reevaluate(run_dir: str | Path, seed: int | None = None) -> tuple[np.ndarray, int]:
    """Evaluation returns per seed of the latest checkpoint, with the run's evaluation keys
    (or those of ``seed``). Returns ``(final_return, checkpoint_update)``."""
    config, record = load_config(run_dir)
    batch = SeedBatch(config, record["num_seeds"], record["seed"] if seed is None else seed)
    step, state = restore_state(Path(run_dir) / CHECKPOINTS, batch.abstract_state())
    returns, _ = batch.evaluate(state)
    return returns, step
