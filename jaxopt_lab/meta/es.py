"""Evolution-strategy discovery over any parameter pytree: OpenAI-ES, checkpointed, resumable.

OpenAI-ES (Salimans et al. 2017) through evosax's ``Open_ES``: each generation samples
``theta_i = mean + sigma * eps_i`` (antithetic pairs ``+-eps``), evaluates ``fitness(theta_i,
key)`` for the whole population in one compiled program (``vmap``; with a ``mesh``, the members
laid out over its devices by ``shard_map``, each device evaluating its own share), shapes the
fitness (centred ranks or z-scores) and takes an Adam step along ``sum_i shaped_i eps_i / (n
sigma)``. This is the outer loop of LPO (Lu et al. 2022, "Discovered Policy Optimisation") and
of any other objective discovery (e.g. preference losses); it knows nothing about the inner
problem.

Fitness is MAXIMISED here. evosax >= 0.3 minimises, so it is handed ``-fitness``; non-finite
fitness (a diverged inner run) counts as the worst finite value of its generation.

Usage::

    def fitness(params, key):  # pure, jittable; scalar, higher is better
        ...
    result = evolve(fitness, initial_params, ESConfig(population_size=32, num_generations=100),
                    directory="runs/my_es")
    result.mean  # final search mean, a pytree like ``initial_params`` (also ``mean.npz``)
    result.fitness  # [num_generations, population_size] raw fitness

The key of generation ``g`` is ``fold_in(key(seed), g)``, so a run killed and restarted with the
same ``checkpoints`` directory (orbax: ES state, fitness and seconds so far, every
``checkpoint_every`` generations) resumes from its last checkpoint and ends in a bit-identical
ES state. :func:`es_outputs` writes a result into a run directory (:mod:`jaxopt_lab.rundir`):
``metrics.parquet`` (every member's fitness per generation) and ``mean.npz`` (the final mean,
see :func:`jaxopt_lab.meta.load_pytree`), and returns the summary's fitness curves.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd
from evosax.algorithms import Open_ES
from evosax.core.fitness_shaping import (
    centered_rank_fitness_shaping_fn,
    standardize_fitness_shaping_fn,
)
from jax.sharding import Mesh, PartitionSpec
from tqdm.auto import tqdm

from jaxopt_lab._pytree_io import save_pytree
from jaxopt_lab.checkpoint import checkpoint_manager, restore_state, save_state
from jaxopt_lab.compile_cache import cache_hits
from jaxopt_lab.fields import at_least, check_choice, positive, rng_seed
from jaxopt_lab.rundir import METRICS

Fitness = Callable[[Any, jax.Array], jax.Array]
MEMBERS = "members"  # the mesh axis the population's members are laid out over

FITNESS_SHAPING = {
    "centered_rank": centered_rank_fitness_shaping_fn,  # ranks mapped to [-0.5, 0.5]
    "z_score": standardize_fitness_shaping_fn,  # (f - mean) / std
}


@dataclass(frozen=True)
class ESConfig:
    """OpenAI-ES settings. sigma and learning_rate decay by their factor each generation
    down to their limit (the defaults of the LPO reference implementation)."""

    population_size: int = 32
    """Members per generation (even: antithetic pairs mean +- sigma * eps)."""
    num_generations: int = 100
    """Generations of the search."""
    sigma: float = 0.04
    """Initial standard deviation of the search noise."""
    sigma_decay: float = 0.999
    """Factor on sigma after each generation, in (0, 1]."""
    sigma_limit: float = 0.01
    """Floor of sigma's decay."""
    learning_rate: float = 0.01
    """Initial learning rate of Adam on the search mean."""
    learning_rate_decay: float = 0.999
    """Factor on the learning rate after each generation, in (0, 1]."""
    learning_rate_limit: float = 0.001
    """Floor of the learning rate's decay."""
    fitness_shaping: str = "z_score"
    """How fitness becomes weights: z_score ((f - mean) / std) or centered_rank (ranks in
    [-0.5, 0.5])."""
    antithetic: bool = True
    """Sample the noise in antithetic pairs (+eps, -eps)."""
    common_random_numbers: bool = True
    """Evaluate every member of a generation with the same key (lower-variance comparisons)."""
    eval_batch_size: int | None = None
    """Members evaluated at once (lax.map over vmapped batches); None: all at once."""
    checkpoint_every: int = 5
    """Generations between checkpoints (a rerun resumes from the last one)."""
    seed: int = 0
    """Seed of the search: the start and every generation's noise."""

    def validate(self) -> ESConfig:
        """Raise ``ValueError`` naming the field, its value and what is allowed."""
        check_choice("fitness_shaping", self.fitness_shaping, tuple(FITNESS_SHAPING))
        if self.population_size < 2 or self.population_size % 2:
            raise ValueError(
                f"population_size: got {self.population_size}; OpenES's antithetic sampler "
                f"needs an even population of at least 2 (pairs mean +- sigma * eps)"
            )
        at_least(2)("population_size", self.population_size)
        for name in ("num_generations", "checkpoint_every"):
            at_least(1)(name, getattr(self, name))
        rng_seed("seed", self.seed)
        for name in ("sigma", "learning_rate"):
            positive(name, getattr(self, name))
            limit, decay = getattr(self, f"{name}_limit"), getattr(self, f"{name}_decay")
            if not 0 < decay <= 1:
                raise ValueError(f"{name}_decay: got {decay}; must be in (0, 1]")
            if not 0 <= limit <= getattr(self, name):
                raise ValueError(f"{name}_limit: got {limit}; must be in [0, {name}]")
        batch = self.eval_batch_size
        if batch is not None and (batch < 1 or self.population_size % batch):
            raise ValueError(
                f"eval_batch_size: got {batch}; must divide population_size {self.population_size}"
            )
        return self


class ESResult(NamedTuple):
    mean: Any  # final search mean, structured like the initial parameters
    state: Any  # evosax Open_ES state (a pytree)
    fitness: np.ndarray  # [num_generations, population_size], raw (maximised) fitness
    seconds: np.ndarray  # [num_generations] wall time of each generation
    compile_seconds: float
    resumed_from: int  # generations found in the checkpoint (0: a fresh start)
    compile_cache_hits: int = 0  # programs loaded from the persistent compilation cache
    devices: int = 1  # the population's members were evaluated over this many devices


def _decay(init: float, decay: float, limit: float) -> optax.Schedule:
    return optax.exponential_decay(init, transition_steps=1, decay_rate=decay, end_value=limit)


def make_strategy(config: ESConfig, template: Any) -> Open_ES:
    """evosax OpenES over pytrees shaped like ``template``, Adam on the mean."""
    return Open_ES(
        population_size=config.population_size,
        solution=template,
        use_antithetic_sampling=config.antithetic,
        optimizer=optax.adam(
            _decay(config.learning_rate, config.learning_rate_decay, config.learning_rate_limit)
        ),
        std_schedule=_decay(config.sigma, config.sigma_decay, config.sigma_limit),
        fitness_shaping_fn=FITNESS_SHAPING[config.fitness_shaping],
    )


def to_minimised(fitness: jax.Array) -> jax.Array:
    """``-fitness`` for evosax (which minimises); non-finite values become the worst finite
    one (all non-finite: all equal, so the mean does not move)."""
    finite = jnp.isfinite(fitness)
    negated = jnp.where(finite, -fitness, 0.0)
    worst = jnp.max(jnp.where(finite, negated, -jnp.inf))
    return jnp.where(finite, negated, jnp.where(jnp.any(finite), worst, 0.0))


def members_mesh(population_size: int, devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A one-axis mesh (``members``) over as many of ``devices`` (default: this process's) as
    divide ``population_size``: each device evaluates an equal share of every generation."""
    devices = list(devices or jax.local_devices())
    count = max(n for n in range(1, len(devices) + 1) if population_size % n == 0)
    return Mesh(np.asarray(devices[:count]), (MEMBERS,))


def make_generation(
    strategy: Open_ES, fitness: Fitness, config: ESConfig, mesh: Mesh | None = None
) -> Callable[[Any, jax.Array], tuple[Any, jax.Array]]:
    """``generation(state, g) -> (state, fitness[population])``: ask, evaluate (over
    ``mesh``'s devices when given), tell."""
    params = strategy.default_params

    def evaluate_here(population: Any, keys: jax.Array) -> jax.Array:
        if config.eval_batch_size is None:
            return jax.vmap(fitness)(population, keys)
        return jax.lax.map(
            lambda args: fitness(*args), (population, keys), batch_size=config.eval_batch_size
        )

    evaluate = evaluate_here
    if mesh is not None and mesh.size > 1:
        spec = PartitionSpec(MEMBERS)
        evaluate = jax.shard_map(  # members are independent: no replication to check
            evaluate_here, mesh=mesh, in_specs=spec, out_specs=spec, check_vma=False
        )

    def generation(state: Any, g: jax.Array) -> tuple[Any, jax.Array]:
        key = jax.random.fold_in(jax.random.key(config.seed), g)
        ask_key, eval_key, tell_key = jax.random.split(key, 3)
        population, state = strategy.ask(ask_key, state, params)
        if config.common_random_numbers:
            keys = jnp.broadcast_to(eval_key, (config.population_size,))
        else:
            keys = jax.random.split(eval_key, config.population_size)
        values = evaluate(population, keys)
        state, _ = strategy.tell(tell_key, population, to_minimised(values), state, params)
        return state, values

    return generation


def evolve(
    fitness: Fitness,
    initial: Any,
    config: ESConfig,
    checkpoints: str | os.PathLike | None = None,
    progress: bool = True,
    on_generation: Callable[[int, np.ndarray], None] | None = None,
    mesh: Mesh | None = None,
) -> ESResult:
    """Maximise ``fitness`` over pytrees like ``initial`` (the starting mean) with OpenAI-ES.

    With a ``mesh`` (:func:`members_mesh`), each generation's members are evaluated over its
    devices; results are bit-identical for a given device count, not across counts.

    With a ``checkpoints`` directory, saves every ``config.checkpoint_every`` generations and
    resumes from the latest checkpoint found there (the caller makes sure it belongs to the
    same run: :func:`jaxopt_lab.rundir.check_out_dir`). ``on_generation(g, fitness)`` is
    called after each generation.
    """
    config.validate()
    strategy = make_strategy(config, initial)
    state = strategy.init(jax.random.key(config.seed), initial, strategy.default_params)
    num, size = config.num_generations, config.population_size
    log = {"fitness": np.full((num, size), np.nan, np.float32), "seconds": np.full(num, np.nan)}
    start, manager = 0, None
    if checkpoints is not None:
        manager = checkpoint_manager(checkpoints)
        if manager.latest_step() is not None:
            start, saved = restore_state(checkpoints, {"state": state, **log})
            state, log = saved["state"], {k: np.asarray(saved[k]) for k in log}

    started, hits = time.perf_counter(), cache_hits()
    generation = jax.jit(make_generation(strategy, fitness, config, mesh), donate_argnums=0)
    generation = generation.lower(state, jnp.int32(0)).compile()
    compile_seconds, hits = time.perf_counter() - started, cache_hits() - hits

    bar = tqdm(
        total=num, initial=start, unit="gen", disable=None if progress else True, leave=False
    )
    for g in range(start, num):
        started = time.perf_counter()
        state, values = generation(state, jnp.int32(g))
        values = np.asarray(values)
        log["fitness"][g], log["seconds"][g] = values, time.perf_counter() - started
        bar.update(1)
        bar.set_postfix(mean=f"{np.nanmean(values):.4g}", best=f"{np.nanmax(values):.4g}")
        done = g + 1
        if manager is not None and (done % config.checkpoint_every == 0 or done == num):
            save_state(manager, done, {"state": state, **log})
            manager.wait_until_finished()  # small state: a kill loses at most this interval
        if on_generation is not None:
            on_generation(g, values)
    bar.close()
    mean = strategy.get_mean(state)
    devices = 1 if mesh is None else mesh.size
    return ESResult(
        mean, state, log["fitness"], log["seconds"], compile_seconds, start, hits, devices
    )


def es_outputs(path: Path, result: ESResult, metadata: dict[str, Any] | None) -> dict[str, Any]:
    """Write ``metrics.parquet`` (generation, member, fitness) and ``mean.npz`` (the final
    mean with ``metadata``) into the run directory ``path``; returns the fitness curves and
    timing for its summary."""
    fitness = result.fitness
    generations, members = np.meshgrid(*map(np.arange, fitness.shape), indexing="ij")
    frame = pd.DataFrame(
        {"generation": generations.ravel(), "member": members.ravel(), "fitness": fitness.ravel()}
    )
    frame.to_parquet(path / METRICS, index=False)
    save_pytree(path / "mean.npz", result.mean, metadata)
    return {
        "fitness_mean": np.nanmean(fitness, axis=1).tolist(),
        "fitness_max": np.nanmax(fitness, axis=1).tolist(),
        "fitness_min": np.nanmin(fitness, axis=1).tolist(),
        "fitness_std": np.nanstd(fitness, axis=1).tolist(),
        "generation_seconds": result.seconds.tolist(),
        "compile_seconds": result.compile_seconds,
        "compile_cache_hits": result.compile_cache_hits,
        "devices": result.devices,
        "resumed_from_generation": result.resumed_from,
        "nonfinite_fitness": int(np.count_nonzero(~np.isfinite(fitness))),
    }
