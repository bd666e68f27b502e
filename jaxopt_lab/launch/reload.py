"""Rebuild a finished run from its directory: experiment, population and final states."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from jaxopt_lab.checkpoint import restore_state
from jaxopt_lab.launch.experiment import Experiment
from jaxopt_lab.launch.population import Population
from jaxopt_lab.launch.progress import empty_metrics
from jaxopt_lab.rl.config import config_from_dict
from jaxopt_lab.rundir import CHECKPOINTS, load_run

EXPERIMENT_KEYS = ("num_seeds", "seed", "sweep", "sweep_mode")
DEVICE_KEYS = ("device_count",)


def load_experiment(run_dir: str | Path) -> tuple[Experiment, dict[str, Any]]:
    """The run's :class:`Experiment` and the whole ``config.json`` record."""
    record = load_run(run_dir).config
    fields = dict(record["config"])
    settings = {key: fields.pop(key) for key in EXPERIMENT_KEYS if key in fields}
    for key in DEVICE_KEYS:
        fields.pop(key, None)
    settings["sweep"] = tuple(settings.get("sweep", ()))
    return Experiment(config_from_dict(fields), **settings), record


def reevaluate(run_dir: str | Path, seed: int | None = None) -> tuple[np.ndarray, int]:
    """Evaluation returns of every run (member-major) from the final states kept in the
    checkpoints, with the run's evaluation keys (or those of ``seed``). Returns
    ``(final_return, last_update)``."""
    experiment, _ = load_experiment(run_dir)
    if seed is not None:
        experiment = dataclasses.replace(experiment, seed=seed)
    population = Population(
        experiment.config, experiment.num_seeds, experiment.seed, experiment.members()
    )
    num_updates = experiment.config.num_updates
    returns, step = [], 0
    for group in range(len(population.groups)):
        step = (group + 1) * num_updates
        like = {"state": population.abstract_state(), "metrics": empty_metrics(population)}
        _, saved = restore_state(Path(run_dir) / CHECKPOINTS, like, step, population.sharding)
        returns.append(population.evaluate(group, saved["state"]))
    return np.concatenate(returns), step
