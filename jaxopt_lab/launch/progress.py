"""Training a population to the end: chunk by chunk, group by group, with a progress bar,
checkpoints and resume.

A checkpoint (orbax, ``checkpoints/``) holds the current group's runner state (sharded) and
the metrics of every run so far (``[run, update]`` NumPy arrays). Its step counts updates over
all groups, ``group * num_updates + updates_done``; the latest one is kept, and so is each
group's last (``keep_period``), so every group's final state stays loadable (re-evaluation).
Resuming restores the latest state and metrics and re-evaluates finished groups from their
kept final states: evaluation keys are fixed, so the result equals an uninterrupted run's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from jaxopt_lab.checkpoint import checkpoint_manager, restore_state, save_state
from jaxopt_lab.launch.loggers import MetricLogger
from jaxopt_lab.launch.population import Population, to_host
from jaxopt_lab.rl import RunnerState


@dataclass
class Results:
    metrics: dict[str, np.ndarray]  # [run, update]
    final_return: np.ndarray  # [run]
    train_seconds: float = 0.0
    eval_seconds: float = 0.0
    resumed_from: int = 0  # updates (over all groups) found in the checkpoint
    env_steps_trained: int = 0  # by every run together, in this session


def empty_metrics(population: Population) -> dict[str, np.ndarray]:
    """Host arrays ``[run, update]`` for every metric the chunk program reports."""
    shape = (population.num_runs, population.config.num_updates)
    return {name: np.zeros(shape, spec.dtype) for name, spec in population.metric_specs().items()}


def train_population(
    population: Population,
    directory: Path,
    progress: bool,
    checkpoint_every: int,
    say: Callable[[str], None],
    logger: MetricLogger | None = None,
) -> Results:
    """Train every group (resuming from ``directory``'s latest checkpoint), evaluating each
    group when it finishes."""
    num_updates = population.config.num_updates
    manager = checkpoint_manager(directory, keep_period=num_updates)
    results = Results(empty_metrics(population), np.full(population.num_runs, np.nan))
    step = manager.latest_step() or 0
    group, done = divmod(step, num_updates)
    state = None
    if step:
        state = restore(population, directory, step, results, group if done else None)
        results.resumed_from = step
        say(f"resumed from update {done} of group {group} ({step} updates in the checkpoint)")
        for finished in range(group):
            evaluate_kept(population, directory, finished, results)
    total = len(population.groups) * num_updates
    bar = tqdm(total=total, initial=step, unit="update", disable=None if progress else True)
    for index in range(group, len(population.groups)):
        start = time.perf_counter()
        state = train_group(
            population, index, state, manager, results, bar, checkpoint_every, logger
        )
        results.train_seconds += time.perf_counter() - start
        start = time.perf_counter()
        results.final_return[list(population.groups[index])] = population.evaluate(index, state)
        results.eval_seconds += time.perf_counter() - start
        state = None
    bar.close()
    manager.wait_until_finished()
    if logger is not None:
        logger.close()
    results.env_steps_trained = env_steps_trained(population, group, done)
    return results


def env_steps_trained(population: Population, first_group: int, done: int) -> int:
    """Env steps of a session that began at update ``done`` of ``first_group``: every run of
    that group and of each later one trains to the end (a group's padding is not a run)."""
    sizes = [len(group) for group in population.groups[first_group:]]
    run_updates = sum(sizes) * population.config.num_updates - (sizes[0] * done if sizes else 0)
    return run_updates * population.config.batch_size


def train_group(
    population: Population,
    group: int,
    state: RunnerState | None,
    manager: Any,
    results: Results,
    bar: tqdm,
    checkpoint_every: int,
    logger: MetricLogger | None,
) -> RunnerState:
    num_updates, chunk = population.config.num_updates, population.chunk
    runs = list(population.groups[group])
    steps_per_chunk = len(runs) * chunk * population.config.batch_size
    last_chunk_end = time.perf_counter()

    def on_chunk(state: RunnerState, done: int, metrics: dict[str, np.ndarray]) -> None:
        nonlocal last_chunk_end
        for name, values in metrics.items():
            results.metrics[name][runs, done - chunk : done] = values
        now = time.perf_counter()
        if logger is not None:
            logger.log(metrics, runs, steps_per_chunk / (now - last_chunk_end))
        last_chunk_end = now
        bar.update(chunk)
        recent = metrics["episode_return"][:, -1]
        if np.isfinite(recent).any():
            bar.set_postfix(episode_return=f"{np.nanmean(recent):.1f}")
        if (done // chunk) % checkpoint_every == 0 or done == num_updates:
            payload = {"state": state, "metrics": results.metrics}
            save_state(manager, group * num_updates + done, payload)

    state, _, _ = population.run(group, state, on_chunk)
    return state


def restore(
    population: Population, directory: Path, step: int, results: Results, group: int | None
) -> RunnerState | None:
    """Metrics from the checkpoint at ``step``, and the state of ``group`` if it is not done."""
    like = {"state": population.abstract_state(), "metrics": results.metrics}
    _, saved = restore_state(directory, like, step, population.sharding)
    results.metrics.update({k: np.asarray(v) for k, v in saved["metrics"].items()})
    return saved["state"] if group is not None else None


def evaluate_kept(population: Population, directory: Path, group: int, results: Results) -> None:
    """Final returns of a finished group, from its kept final state."""
    step = (group + 1) * population.config.num_updates
    like = {"state": population.abstract_state(), "metrics": results.metrics}
    _, saved = restore_state(directory, like, step, population.sharding)
    runs = list(population.groups[group])
    results.final_return[runs] = to_host(population.evaluate(group, saved["state"]))
