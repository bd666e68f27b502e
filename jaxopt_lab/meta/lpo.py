"""LPO meta-training (Lu et al. 2022, "Discovered Policy Optimisation"): OpenAI-ES over the
weights of a learned drift, fitness = mean evaluation return at the end of full inner training
runs that use it.

The inner run is the shared on-policy trainer with algorithm LPO; the drift's parameters are
its traced ``drift_params``, so the ES engine's ``vmap`` over the population (and the ``vmap``
over inner seeds here) make ONE compiled program train ``population x seeds`` agents.

Temporally-aware LPO (Jackson et al. 2024, "Discovering Temporally-Aware Reinforcement Learning
Algorithms") meta-trains a drift that also sees the training progress over a distribution of
tasks: ``variants`` of the inner config that differ only in traced settings (learning rate,
environment parameters), vmapped in the same program; the fitness is the mean over them.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab.launch.memory import check_fits
from jaxopt_lab.meta.es import ESConfig, Fitness, es_outputs, evolve, members_mesh
from jaxopt_lab.objectives.learned_drift import (
    drift_file_metadata,
    make_drift_params,
    start_drift_weights,
    zero_drift_weights,
)
from jaxopt_lab.rl import TrainConfig, config_for, make_trainer
from jaxopt_lab.rl.algos import LPO
from jaxopt_lab.rl.config import make_env_params
from jaxopt_lab.rl.trainer import static_settings
from jaxopt_lab.rundir import CHECKPOINTS, check_out_dir, run_directory


@dataclass(frozen=True)
class LPOSetting:
    """One meta-training setting: inner task (and its ``variants``: more tasks that differ
    only in traced settings), inner seeds per member and task, PPO init, a temporally-aware
    drift (TA-LPO), outer ES."""

    inner: TrainConfig
    es: ESConfig
    num_seeds: int = 1
    ppo_init: bool = False
    temporal: bool = False
    variants: tuple[TrainConfig, ...] = ()

    def validate(self) -> LPOSetting:
        if not isinstance(self.inner.algo, LPO):
            raise ValueError(f"inner.algo: got {self.inner.algo.name!r}; LPO trains algo 'lpo'")
        if self.inner.algo.drift_file is not None:
            raise ValueError("inner.drift_file: the drift is what meta-training searches")
        if self.num_seeds < 1:
            raise ValueError(f"num_seeds: got {self.num_seeds}; must be >= 1")
        for i, variant in enumerate(self.variants):
            if static_settings(variant) != static_settings(self.inner):
                raise ValueError(
                    f"variants[{i}]: differs from inner in a static setting; variants may "
                    "change only traced ones (learning rate, environment parameters, ...)"
                )
        self.es.validate()
        return self

    def check_memory(self) -> LPOSetting:
        """``ValueError`` unless a generation's inner runs (members evaluated at once x seeds x
        tasks) fit in the memory of this machine's devices."""
        members = self.es.eval_batch_size or self.es.population_size
        check_fits(self.inner, members * self.num_seeds * len(self.tasks))
        return self

    @property
    def tasks(self) -> tuple[TrainConfig, ...]:
        return (self.inner, *self.variants)

    @property
    def env_steps_per_generation(self) -> int:
        runs = self.es.population_size * self.num_seeds * len(self.tasks)
        return runs * self.inner.total_timesteps


def make_lpo_fitness(
    inner: TrainConfig,
    num_seeds: int = 1,
    ppo_init: bool = False,
    variants: Sequence[TrainConfig] = (),
) -> Fitness:
    """``fitness(weights, key)``: mean evaluation return of ``num_seeds`` inner runs of
    ``inner`` and of each of its ``variants`` (all vmapped), trained with the drift
    ``weights`` (see :func:`learned_drift`)."""
    trainer = make_trainer(inner)
    tasks = [task.hparams() for task in (inner, *variants)]

    def one_run(hp: Any, train_key: jax.Array, eval_key: jax.Array) -> jax.Array:
        state, _ = trainer.train(train_key, hp)
        return trainer.evaluate(eval_key, state, hp)

    def fitness(weights: dict[str, jax.Array], key: jax.Array) -> jax.Array:
        drift = make_drift_params(weights, ppo_init)
        hp = [task.replace(algo=task.algo.replace(drift_params=drift)) for task in tasks]
        hp = jax.tree.map(lambda *leaves: jnp.stack(leaves), *hp)
        train_key, eval_key = jax.random.split(key)
        keys = jax.random.split(train_key, num_seeds), jax.random.split(eval_key, num_seeds)
        per_seed = jax.vmap(one_run, in_axes=(None, 0, 0))  # common seeds across tasks
        return jax.vmap(per_seed, in_axes=(0, None, None))(hp, *keys).mean()

    return fitness


def lpo_metadata(setting: LPOSetting) -> dict[str, Any]:
    """The drift-file metadata of a setting's result, with where it was trained."""
    trained_on = [task.to_dict() for task in setting.tasks] if setting.variants else None
    return {
        **drift_file_metadata(setting.ppo_init, setting.temporal),
        "trained_on": setting.inner.env,
        **({"tasks": trained_on} if trained_on else {}),
    }


def setting_record(setting: LPOSetting) -> dict[str, Any]:
    """What a meta-training run directory records as its config (a rerun must match it),
    with the devices the members are evaluated over (the fitness bits depend on their count)."""
    return {
        "problem": "lpo",
        "devices": members_mesh(setting.es.population_size).size,
        "inner": setting.inner.to_dict(),
        "es": dataclasses.asdict(setting.es),
        "num_seeds": setting.num_seeds,
        "ppo_init": setting.ppo_init,
        "temporal": setting.temporal,
        "variants": [variant.to_dict() for variant in setting.variants],
    }


def meta_train(
    setting: LPOSetting,
    out: str | os.PathLike,
    progress: bool = True,
    on_generation: Callable[[int, np.ndarray], None] | None = None,
) -> dict[str, Any]:
    """Meta-train a drift: OpenES from :func:`start_drift_weights` (keyed by the ES seed) on
    the setting's fitness, in the run directory ``out`` (kind ``es``; a killed run of the same
    setting there is resumed, one of another setting refused). Its ``mean.npz`` is a drift file
    for ``train.py --algo lpo --drift-file``. Each generation's members are evaluated over this
    process's devices (:func:`members_mesh`). Returns the summary (also ``summary.json``)."""
    setting.validate().check_memory()
    record = setting_record(setting)
    path = check_out_dir(out, config=record)
    fitness = make_lpo_fitness(setting.inner, setting.num_seeds, setting.ppo_init, setting.variants)
    start = start_drift_weights(jax.random.key(setting.es.seed), setting.temporal)
    with run_directory(path, "es", record) as summary:
        mesh = members_mesh(setting.es.population_size)
        result = evolve(
            fitness, start, setting.es, path / CHECKPOINTS, progress, on_generation, mesh
        )
        summary.update(es_outputs(path, result, lpo_metadata(setting)))
        seconds = float(np.nanmedian(result.seconds))
        summary.update(
            env=setting.inner.env,
            population_size=setting.es.population_size,
            num_generations=setting.es.num_generations,
            inner_seeds=setting.num_seeds,
            inner_timesteps=setting.inner.num_updates * setting.inner.batch_size,
            seconds_per_generation=seconds,
            inner_steps_per_second=setting.env_steps_per_generation / seconds,
        )
        if summary["nonfinite_fitness"]:
            summary["status"] = "nonfinite"
    return {**summary, "run_dir": str(path), "result": result}


def inner_config(env: str, temporal: bool = False, **overrides: Any) -> TrainConfig:
    """The inner training config: LPO on ``env`` (its drift, zero here, is what ES searches)."""
    drift = make_drift_params(zero_drift_weights(temporal))
    return config_for(env, "lpo", drift_params=drift, **overrides)


# CPU default: CartPole-v1 at a small budget, so one generation of 16 members x 6 seeds x 16384
# steps is well under a minute on 2 cores. The inner learning rate is high (1e-2) so that the
# drift matters: with no drift these runs reach ~170, with PPO's ~300 (16 runs each), and 500 is
# the ceiling. The search starts at the zero drift (start_drift_weights: weak, and not OpenES's
# saddle at all-zero weights); 6 seeds per member, fresh each generation and common to all
# members (common random numbers), and centred ranks (robust to CartPole's bimodal returns)
# keep the gradient estimate usable; sigma 0.1 makes a member's drift O(1) on the features.
CPU_SETTING = LPOSetting(
    inner=inner_config(
        "CartPole-v1",
        total_timesteps=16_384,
        num_envs=8,
        num_steps=64,
        learning_rate=1e-2,
        hidden_sizes=(32, 32),
        eval_episodes=8,
    ),
    es=ESConfig(
        population_size=16,
        num_generations=50,
        sigma=0.1,
        learning_rate=0.02,
        fitness_shaping="centered_rank",
        checkpoint_every=5,
    ),
    num_seeds=6,
)

# The paper's meta-training task (Lu et al. 2022; brax PPO's Ant setting): 30M steps, 2048
# envs, 4 epochs x 32 minibatches, gamma 0.97, reward scale 10, normalised observations,
# population 32. brax collects 2048 envs x 16 unrolls of 5 steps per update; here that is one
# 80-step rollout per env (same data per update; GAE over 80 steps instead of 5). Meant for a GPU.
ANT_SETTING = LPOSetting(
    inner=inner_config(
        "brax/ant",
        total_timesteps=30_000_000,
        num_envs=2048,
        num_steps=80,
        update_epochs=4,
        num_minibatches=32,
        gamma=0.97,
        gae_lambda=0.95,
        learning_rate=3e-4,
        ent_coef=1e-2,
        reward_scale=10.0,
        normalize_observations=True,
        hidden_sizes=(32, 32, 32, 32),  # brax PPO's default policy network
        activation="tanh",
        eval_episodes=16,
        brax_backend="spring",
    ),
    es=ESConfig(population_size=32, num_generations=1024, checkpoint_every=16),
    num_seeds=1,
)


def _ta_task(learning_rate: float, length: float) -> TrainConfig:
    return CPU_SETTING.inner.replace(
        algo=LPO(drift_params=make_drift_params(zero_drift_weights(temporal=True))),
        learning_rate=learning_rate,
        env_params=make_env_params("CartPole-v1", {"length": length}),
    )


# TA-LPO on CPU (Jackson et al. 2024 meta-train over tasks): CartPole-v1 at CPU_SETTING's small
# budget, four tasks (inner learning rate 3e-3 or 1e-2, pole half-length 0.5 or 1.0), 2 seeds
# each, a drift that sees the training progress and starts as PPO's (PPO init: the search
# begins at PPO's drift, so what it learns is a correction to it). Every other environment is
# held out (never seen in meta-training): the README's transfer table.
TA_CPU_SETTING = LPOSetting(
    inner=_ta_task(1e-2, 0.5),
    variants=(_ta_task(3e-3, 0.5), _ta_task(1e-2, 1.0), _ta_task(3e-3, 1.0)),
    es=dataclasses.replace(CPU_SETTING.es, num_generations=150),
    num_seeds=2,
    ppo_init=True,
    temporal=True,
)

SETTINGS = {"cpu": CPU_SETTING, "ta-cpu": TA_CPU_SETTING, "ant": ANT_SETTING}
