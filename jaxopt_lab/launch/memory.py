"""How much memory a population needs, estimated before anything compiles.

Per run: the runner state, exactly (``jax.eval_shape`` of the trainer's init: parameters,
optimizer states, environment states), plus the learning phase's working set: the rollout,
GAE's batch and its shuffled copy, the networks' activations and gradients on a minibatch,
a chunk of metrics and the evaluation environments; then a safety factor of 2 for XLA's
temporaries. The population then runs in groups of as many runs as fit in the memory of its
devices (all of it at once if it fits), or is refused when not even one run per device fits.
The host keeps every run's metrics of every update, and must have the memory for them too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import numpy as np

from jaxopt_lab.device_memory import GIB, check_runs_fit, host_available, usable_bytes
from jaxopt_lab.rl import TrainConfig, make_trainer

SAFETY = 2.0
METRIC_BYTES = 32 * 4
"""Host memory per run and update for its metrics (about 15 float32 values today, room for an
algorithm's own diagnostics), kept in memory for the whole run."""


@dataclass(frozen=True)
class MemoryPlan:
    per_run_bytes: int
    available_bytes: int
    num_runs: int
    group_size: int

    @property
    def num_groups(self) -> int:
        return math.ceil(self.num_runs / self.group_size)

    def describe(self) -> str:
        total = self.per_run_bytes * self.num_runs / GIB
        head = (
            f"population: {self.num_runs} runs x ~{self.per_run_bytes / 2**20:,.1f} MiB = "
            f"~{total:,.2f} GiB; {self.available_bytes / GIB:,.1f} GiB usable"
        )
        if self.num_groups == 1:
            return f"{head}: one program for all runs"
        return f"{head}: {self.num_groups} groups of {self.group_size} runs, one after another"


def tree_bytes(tree: object) -> int:
    return sum(int(np.prod(x.shape)) * x.dtype.itemsize for x in jax.tree.leaves(tree))


def run_bytes(config: TrainConfig) -> int:
    """The estimated peak memory of one run of ``config`` (see the module docstring)."""
    trainer = make_trainer(config)
    state = jax.eval_shape(trainer.init, jax.random.key(0), config.hparams())
    params = tree_bytes((state.actor, state.critic))
    obs = int(np.prod(state.obs.shape[1:]))
    rollout = config.batch_size * (2 * obs + 16) * 4
    width = obs + 2 * sum(config.hidden_sizes) + 16
    activations = 2 * 3 * config.minibatch_size * width * 4
    env_state = tree_bytes(state.env_state) / config.num_envs
    evaluation = config.eval_episodes * (env_state + 2 * obs * 4)
    working = 3 * rollout + activations + 3 * params + evaluation + 64 * 1024
    return int(SAFETY * (tree_bytes(state) + working))


def plan_memory(
    config: TrainConfig, num_runs: int, num_devices: int, available: int | None = None
) -> MemoryPlan:
    """Groups of runs (a multiple of ``num_devices``) that fit; ``ValueError`` naming the
    sizes when not even one run per device does, or when the host cannot hold every run's
    metrics (kept for the whole run)."""
    host = usable_bytes(host_available() if available is None else available)
    metrics = num_runs * config.num_updates * METRIC_BYTES
    if metrics > host:
        raise ValueError(
            f"population: the metrics of {num_runs:,} runs x {config.num_updates:,} updates "
            f"need ~{metrics / GIB:,.1f} GiB of host memory and only {host / GIB:,.2f} GiB is "
            "usable: train fewer runs (num_seeds, sweep points) or fewer updates "
            "(total_timesteps)"
        )
    per_run = run_bytes(config)
    usable = usable_bytes(available)
    fit = usable // per_run // num_devices * num_devices
    if fit < num_devices:
        raise ValueError(
            f"population: one run needs ~{per_run / GIB:,.2f} GiB (num_envs {config.num_envs}, "
            f"hidden_sizes {config.hidden_sizes}) and {num_devices} device(s) need one each; "
            f"only {usable / GIB:,.2f} GiB of memory is usable: make the run smaller"
        )
    padded = math.ceil(num_runs / num_devices) * num_devices
    return MemoryPlan(per_run, usable, num_runs, min(fit, padded))


def check_fits(config: TrainConfig, num_runs: int, available: int | None = None) -> None:
    """``ValueError`` unless ``num_runs`` runs of ``config`` fit in the devices' memory at
    once: for programs that cannot run in groups (a meta-training generation)."""
    check_runs_fit("population", num_runs, run_bytes(config), available=available)
