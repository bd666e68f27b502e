"""A population of runs (members x seeds) as one compiled program, sharded over devices.

A member is a configuration that differs from the population's config only in traced
settings (a sweep point, :mod:`jaxopt_lab.launch.sweep`); every member trains with the same
``num_seeds`` seeds (common random numbers: run ``m * num_seeds + s`` has seed ``s``'s keys).
The run axis is laid out over every device with ``jax.sharding``: a ``Mesh`` with one axis,
``runs``, and ``shard_map`` of the vmapped trainer, so each device trains its own runs and no
device talks to another. When the count does not divide the devices, runs are padded (copies
of the first run) and the padding is dropped from every result. A population too large for
the memory runs in groups, one after another, through the same compiled programs.

Training runs as repeated calls of one compiled chunk of updates, so long runs report progress
and checkpoint between chunks; the chunks compose to exactly the single-program computation.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxopt_lab.launch.memory import MemoryPlan, plan_memory
from jaxopt_lab.launch.sweep import stack_members
from jaxopt_lab.rl import RunnerState, TrainConfig, Trainer, make_trainer
from jaxopt_lab.rl.trainer import static_settings

RUNS = "runs"
OnChunk = Callable[[RunnerState, int, dict[str, np.ndarray]], None]


def seed_keys(seed: int, num_seeds: int) -> tuple[jax.Array, jax.Array]:
    """Training and evaluation keys, one per seed, derived from the experiment ``seed``."""
    root = jax.random.key(seed)
    train_key, eval_key = jax.random.split(root)
    return jax.random.split(train_key, num_seeds), jax.random.split(eval_key, num_seeds)


def broadcast_hparams(hparams: TrainConfig, num_runs: int) -> TrainConfig:
    """Give every traced leaf a leading axis of ``num_runs`` (repeated)."""
    return jax.tree.map(lambda x: jnp.broadcast_to(x, (num_runs, *jnp.shape(x))), hparams)


def chunk_size(num_updates: int, target_chunks: int = 25) -> int:
    """The divisor of ``num_updates`` giving the number of chunks closest to ``target_chunks``.

    Chunks must divide the run so that one compiled chunk program serves the whole run.
    """
    small = [d for d in range(1, math.isqrt(num_updates) + 1) if num_updates % d == 0]
    divisors = sorted({*small, *(num_updates // d for d in small)})
    return min(divisors, key=lambda d: (abs(num_updates // d - target_chunks), d))


class Population:
    """``members x num_seeds`` runs of ``config``: compiled once per piece (init, a chunk of
    updates, evaluation), sharded over ``devices`` (default: all of them, every process's)."""

    def __init__(
        self,
        config: TrainConfig,
        num_seeds: int,
        seed: int = 0,
        members: Sequence[TrainConfig] = (),
        chunk: int | None = None,
        devices: Sequence[jax.Device] | None = None,
        memory: MemoryPlan | None = None,
    ):
        self.config = config
        self.members = list(members) or [config]
        for member in self.members:
            if static_settings(member) != static_settings(config):
                raise ValueError("members: a member differs from the config in static settings")
        self.num_seeds = num_seeds
        self.num_runs = len(self.members) * num_seeds
        self.trainer: Trainer = make_trainer(config)
        self.chunk = chunk or chunk_size(config.num_updates)
        if config.num_updates % self.chunk:
            raise ValueError(
                f"chunk: {self.chunk} does not divide num_updates {config.num_updates}"
            )
        self.mesh = Mesh(np.asarray(devices or jax.devices()), (RUNS,))
        cpu = self.mesh.devices.flat[0].platform == "cpu"
        self.memory = memory or plan_memory(config, self.num_runs, self.mesh.size, cpu=cpu)
        self.group_size = self.memory.group_size
        self.groups = [
            range(start, min(start + self.group_size, self.num_runs))
            for start in range(0, self.num_runs, self.group_size)
        ]
        self._inputs(seed)
        self._programs()

    def _inputs(self, seed: int) -> None:
        """Keys and hyperparameters of every run (member-major), on the host."""
        train, evaluation = seed_keys(seed, self.num_seeds)
        members = len(self.members)
        self.train_keys = jnp.tile(train, members)
        self.eval_keys = jnp.tile(evaluation, members)
        hp = stack_members(self.members)
        self.hparams = jax.tree.map(lambda x: jnp.repeat(x, self.num_seeds, axis=0), hp)

    def _programs(self) -> None:
        trainer, chunk = self.trainer, self.chunk
        self._jitted = {
            "init": shard_runs(trainer.init, self.mesh),
            "run": shard_runs(lambda state, hp: trainer.run(state, hp, chunk), self.mesh),
            "evaluate": shard_runs(trainer.evaluate, self.mesh),
        }
        self._init, self._run, self._evaluate = self._jitted.values()
        self._inputs_cache: dict[int, tuple] = {}

    @property
    def sharding(self) -> NamedSharding:
        """Where every array with a leading run axis lives: split over the devices."""
        return NamedSharding(self.mesh, PartitionSpec(RUNS))

    def group_inputs(self, group: int) -> tuple[jax.Array, jax.Array, TrainConfig]:
        """Training keys, evaluation keys and hyperparameters of one group, padded to the
        group size (copies of its first run) and laid out over the devices."""
        if group not in self._inputs_cache:
            index = np.asarray(self.groups[group])
            index = np.concatenate([index, np.full(self.group_size - len(index), index[0])])

            def take(x: Any) -> jax.Array:
                return self.place(np.asarray(x)[index])

            keys = [
                jax.random.wrap_key_data(take(jax.random.key_data(k)))
                for k in (self.train_keys, self.eval_keys)
            ]
            self._inputs_cache = {group: (keys[0], keys[1], jax.tree.map(take, self.hparams))}
        return self._inputs_cache[group]

    def place(self, host: np.ndarray) -> jax.Array:
        """A host array with a leading run axis as a global array laid out over the devices
        (every process holds the whole host array; each gives its devices their part)."""
        return jax.make_array_from_callback(host.shape, self.sharding, lambda index: host[index])

    def abstract_state(self) -> RunnerState:
        keys, _, hp = self.group_inputs(0)
        return jax.eval_shape(self._jitted["init"], keys, hp)

    def metric_specs(self) -> dict[str, jax.ShapeDtypeStruct]:
        """Shapes and dtypes of a chunk's metrics, ``[group_size, chunk]`` each."""
        _, _, hp = self.group_inputs(0)
        return jax.eval_shape(self._jitted["run"], self.abstract_state(), hp)[1]

    def compile(self) -> float:
        """Compile init, chunk and evaluation ahead of time; returns the seconds it took."""
        start = time.perf_counter()
        keys, eval_keys, hp = self.group_inputs(0)
        state = self.abstract_state()
        self._init = self._jitted["init"].lower(keys, hp).compile()
        self._run = self._jitted["run"].lower(state, hp).compile()
        self._evaluate = self._jitted["evaluate"].lower(eval_keys, state, hp).compile()
        return time.perf_counter() - start

    def init(self, group: int = 0) -> RunnerState:
        keys, _, hp = self.group_inputs(group)
        return self._init(keys, hp)

    def run(
        self, group: int = 0, state: RunnerState | None = None, on_chunk: OnChunk | None = None
    ) -> tuple[RunnerState, dict[str, np.ndarray], float]:
        """Train one group to the end (from ``state`` if given); returns its final state,
        its metrics ``[run, update]`` from where it started (padding dropped), and seconds."""
        start = time.perf_counter()
        _, _, hp = self.group_inputs(group)
        state = self.init(group) if state is None else state
        done = int(to_host(state.update)[0])
        chunks = []
        while done < self.config.num_updates:
            state, metrics = self._run(state, hp)
            chunks.append(self.trim(group, to_host(metrics)))
            done += self.chunk
            if on_chunk is not None:
                on_chunk(state, done, chunks[-1])
        jax.block_until_ready(state)
        seconds = time.perf_counter() - start
        if not chunks:
            return state, {}, seconds
        metrics = {k: np.concatenate([c[k] for c in chunks], axis=1) for k in chunks[0]}
        return state, metrics, seconds

    def evaluate(self, group: int, state: RunnerState) -> np.ndarray:
        """Mean evaluation return of each run of the group (``eval_episodes`` episodes)."""
        _, eval_keys, hp = self.group_inputs(group)
        return self.trim(group, to_host(self._evaluate(eval_keys, state, hp)))

    def trim(self, group: int, values: Any) -> Any:
        """Drop the padding runs of a group from host arrays with a leading run axis."""
        count = len(self.groups[group])
        return jax.tree.map(lambda x: x[:count], values)


def shard_runs(fn: Callable, mesh: Mesh) -> Callable:
    """``jit`` of ``fn`` vmapped over a leading run axis laid out over ``mesh``'s ``runs``
    axis: each device vmaps over its own runs. Nothing is replicated, so the replication
    check (which would need every scan carry marked per-device) is off."""
    spec = PartitionSpec(RUNS)
    mapped = jax.shard_map(jax.vmap(fn), mesh=mesh, in_specs=spec, out_specs=spec, check_vma=False)
    return jax.jit(mapped)


def to_host(tree: Any) -> Any:
    """Every array of ``tree`` as a NumPy array, gathered from every process."""
    return jax.tree.map(
        lambda x: (
            np.asarray(multihost_utils.process_allgather(x, tiled=True))
            if isinstance(x, jax.Array) and not x.is_fully_addressable
            else np.asarray(x)
        ),
        tree,
    )
