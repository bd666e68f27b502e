"""Rebuild a finished run from its directory: experiment, population and final states."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from jaxopt_lab.checkpoint import check_checkpoint, restore_state
from jaxopt_lab.launch.experiment import Experiment, experiment_plan
from jaxopt_lab.launch.population import Population
from jaxopt_lab.launch.progress import empty_metrics
from jaxopt_lab.rl.config import config_from_dict
from jaxopt_lab.rundir import CHECKPOINTS, CONFIG, SUMMARY, load_run, read_status

EXPERIMENT_KEYS = ("num_seeds", "seed", "sweep", "sweep_mode")
DEVICE_KEYS = ("device_count",)


def load_experiment(run_dir: str | Path) -> tuple[Experiment, dict[str, Any]]:
    """The run's :class:`Experiment` and the whole ``config.json`` record; ``ValueError``
    naming ``config.json`` when it does not hold a training config."""
    record = load_run(run_dir).config
    try:
        fields = dict(record["config"])
        settings = {key: fields.pop(key) for key in EXPERIMENT_KEYS if key in fields}
        for key in DEVICE_KEYS:
            fields.pop(key, None)
        settings["sweep"] = tuple(settings.get("sweep", ()))
        return Experiment(config_from_dict(fields), **settings), record
    except (KeyError, TypeError, ValueError) as error:
        reason = f"no setting {error}" if isinstance(error, KeyError) else str(error)
        raise ValueError(
            f"{Path(run_dir) / CONFIG}: not the config of a training run ({reason})"
        ) from None


def check_finished(run_dir: str | Path) -> None:
    """``ValueError`` unless the run finished training (status ``ok`` or ``nonfinite``): the
    checkpoints of a crashed, interrupted or unfinished (killed) run hold no final state."""
    path = Path(run_dir)
    status = read_status(path)
    if status in ("ok", "nonfinite"):
        return
    what = {"running": "an unfinished run (killed, or still training)"}.get(
        status, f"a {status} run"
    )
    error = json.loads((path / SUMMARY).read_text()).get("error") if status == "crashed" else ""
    raise ValueError(
        f"{path / SUMMARY}: status {status!r}{f' ({error})' if error else ''}; the checkpoints "
        f"are those of {what}, not of a finished one: rerun its train.py command to finish it"
    )


def reevaluate(run_dir: str | Path, seed: int | None = None) -> tuple[np.ndarray, int]:
    """Evaluation returns of every run (member-major) from the final states kept in the
    checkpoints, with the run's evaluation keys (or those of ``seed``). Returns
    ``(final_return, last_update)``. ``ValueError`` (before anything compiles) for a run that
    did not finish, a config that is not one, a checkpoint that is missing, damaged or of
    another config."""
    check_finished(run_dir)
    experiment, _ = load_experiment(run_dir)
    if seed is not None:
        experiment = dataclasses.replace(experiment, seed=seed)
    plan = experiment_plan(experiment, Path(run_dir))  # the groups its checkpoints hold
    population = Population(
        experiment.config, experiment.num_seeds, experiment.seed, experiment.members(), memory=plan
    )
    like = {"state": population.abstract_state(), "metrics": empty_metrics(population)}
    directory = Path(run_dir) / CHECKPOINTS
    steps = [(group + 1) * experiment.config.num_updates for group in range(len(population.groups))]
    for step in steps:  # every group's final state, before anything compiles
        check_checkpoint(directory, like, step)
    returns = []
    for group, step in enumerate(steps):
        _, saved = restore_state(directory, like, step, population.sharding)
        returns.append(population.evaluate(group, saved["state"]))
    return np.concatenate(returns), steps[-1]
