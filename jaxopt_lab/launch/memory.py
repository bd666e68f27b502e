"""How much memory a population needs, estimated before anything compiles.

Per run: the runner state, exactly (``jax.eval_shape`` of the trainer's init: parameters,
optimizer states, environment states), plus the learning phase's working set: the rollout,
GAE's batch and its shuffled copy, the networks' activations and gradients on a minibatch,
a chunk of metrics and the evaluation environments; then a safety factor of 2 for XLA's
temporaries. The population then runs in groups of as many runs as fit in the memory of its
devices (all of it at once if it fits), or is refused when not even one run per device fits.
The host keeps every run's metrics of every update, and must have the memory for them too.

On CPU a group also holds at most ``CPU_RUNS_PER_DEVICE`` runs per device: a larger program's
working set outgrows the caches, and the same runs go faster in groups (module constant).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import jax
import numpy as np

from jaxopt_lab.device_memory import GIB, check_runs_fit, host_available, usable_bytes
from jaxopt_lab.rl import TrainConfig, make_trainer

SAFETY = 2.0
METRIC_BYTES = 32 * 4
"""Host memory per run and update for its metrics (about 15 float32 values today, room for an
algorithm's own diagnostics), kept in memory for the whole run."""
CPU_RUNS_PER_DEVICE = 16
"""Runs per CPU device in one group. Measured on a 2-core AMD EPYC (2 MiB L2 per core, 32 MiB
L3), 2 devices, 2026-11-30: PPO CartPole-v1, 512 runs, 510k env steps/s in one program, 548k in
groups of 64 per device, 600k of 32, 708k of 16, 718k of 8; Pendulum-v1, 256 runs, 227k in one
program, 309k in groups of 16; Breakout-MinAtar (256-256 networks), 16 runs, the same from 1 to
8 per device."""


@dataclass(frozen=True)
class MemoryPlan:
    per_run_bytes: int
    available_bytes: int
    num_runs: int
    group_size: int
    cpu_capped: bool = False  # the group is CPU_RUNS_PER_DEVICE per device, not what fits

    @property
    def num_groups(self) -> int:
        return math.ceil(self.num_runs / self.group_size)

    def regrouped(self, group_size: int, num_devices: int) -> MemoryPlan:
        """This plan with groups of ``group_size`` runs (a resumed run's: its checkpoints hold
        groups of that size); ``ValueError`` unless they divide over the devices and fit."""
        fit = largest_group(self.available_bytes, self.per_run_bytes, num_devices)
        if group_size % num_devices:
            problem = f"do not divide over {num_devices} devices"
        elif group_size > fit:
            problem = f"do not fit in memory here (at most {fit})"
        else:
            return replace(self, group_size=group_size, cpu_capped=False)
        raise ValueError(
            f"out: its checkpoints hold groups of {group_size} runs, which {problem}: resume it "
            "where it ran, or train into a new --out"
        )

    def describe(self) -> str:
        total = self.per_run_bytes * self.num_runs / GIB
        head = (
            f"population: {self.num_runs} runs x ~{self.per_run_bytes / 2**20:,.1f} MiB = "
            f"~{total:,.2f} GiB; {self.available_bytes / GIB:,.1f} GiB usable"
        )
        if self.num_groups == 1:
            return f"{head}: one program for all runs"
        why = f" (at most {CPU_RUNS_PER_DEVICE} per CPU device: faster)" if self.cpu_capped else ""
        return f"{head}: {self.num_groups} groups of {self.group_size} runs{why}, one after another"


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


def largest_group(usable: int, per_run: int, num_devices: int) -> int:
    """The most runs of ``per_run`` bytes, a multiple of ``num_devices``, in ``usable`` bytes."""
    return usable // per_run // num_devices * num_devices


def plan_memory(
    config: TrainConfig,
    num_runs: int,
    num_devices: int,
    available: int | None = None,
    cpu: bool = False,
) -> MemoryPlan:
    """Groups of runs (a multiple of ``num_devices``, as even as can be) that fit, at most
    ``CPU_RUNS_PER_DEVICE`` per device if ``cpu``; ``ValueError`` naming the sizes when not
    even one run per device fits, or when the host cannot hold every run's metrics (kept for
    the whole run)."""
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
    fit = largest_group(usable, per_run, num_devices)
    if fit < num_devices:
        raise ValueError(
            f"population: one run needs ~{per_run / GIB:,.2f} GiB (num_envs {config.num_envs}, "
            f"hidden_sizes {config.hidden_sizes}) and {num_devices} device(s) need one each; "
            f"only {usable / GIB:,.2f} GiB of memory is usable: make the run smaller"
        )
    padded = math.ceil(num_runs / num_devices) * num_devices
    group = min(fit, padded)
    cap = CPU_RUNS_PER_DEVICE * num_devices if cpu else group
    groups = math.ceil(num_runs / min(group, cap))
    balanced = math.ceil(math.ceil(num_runs / groups) / num_devices) * num_devices
    return MemoryPlan(per_run, usable, num_runs, balanced, cpu_capped=cap < group)


def check_fits(config: TrainConfig, num_runs: int, available: int | None = None) -> None:
    """``ValueError`` unless ``num_runs`` runs of ``config`` fit in the devices' memory at
    once: for programs that cannot run in groups (a meta-training generation)."""
    check_runs_fit("population", num_runs, run_bytes(config), available=available)
