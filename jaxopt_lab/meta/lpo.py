"""LPO meta-training (Lu et al. 2022, "Discovered Policy Optimisation"): OpenAI-ES over the
weights of a learned drift, fitness = mean evaluation return at the end of full inner training
runs that use it.

The inner run is the shared on-policy trainer with ``algo = "lpo"``; the drift enters as the
traced ``HParams.drift``, so the ES engine's ``vmap`` over the population (and the ``vmap`` over
inner seeds here) make ONE compiled program train ``population x seeds`` agents.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np

from jaxopt_lab.meta.es import ESConfig, ESResult, Fitness, evolve
from jaxopt_lab.objectives.learned_drift import (
    drift_file_metadata,
    make_learned_drift,
    start_drift_weights,
)
from jaxopt_lab.rl.config import TrainConfig, config_for
from jaxopt_lab.rl.trainer import make_trainer


@dataclass(frozen=True)
class LPOSetting:
    """One meta-training setting: inner task, inner seeds per member, PPO init, outer ES."""

    inner: TrainConfig
    es: ESConfig
    num_seeds: int = 1
    ppo_init: bool = False

    def validate(self) -> LPOSetting:
        if self.inner.algo != "lpo":
            raise ValueError(f"inner.algo: got {self.inner.algo!r}; LPO trains algo 'lpo'")
        if self.inner.drift is not None:
            raise ValueError("inner.drift: the drift is what meta-training searches; leave unset")
        if self.num_seeds < 1:
            raise ValueError(f"num_seeds: got {self.num_seeds}; must be >= 1")
        self.inner.validate()
        self.es.validate()
        return self

    @property
    def env_steps_per_generation(self) -> int:
        return self.es.population_size * self.num_seeds * self.inner.total_timesteps


def make_lpo_fitness(inner: TrainConfig, num_seeds: int = 1, ppo_init: bool = False) -> Fitness:
    """``fitness(weights, key)``: mean evaluation return of ``num_seeds`` inner runs (vmapped)
    trained with the drift ``weights`` (see :func:`learned_drift`)."""
    trainer = make_trainer(inner)
    base = inner.hparams()

    def one_run(hp: Any, train_key: jax.Array, eval_key: jax.Array) -> jax.Array:
        state, _ = trainer.train(train_key, hp)
        return trainer.evaluate(eval_key, state.params, trainer.obs_stats(state))

    def fitness(weights: dict[str, jax.Array], key: jax.Array) -> jax.Array:
        hp = base._replace(drift=make_learned_drift(weights, ppo_init))
        train_key, eval_key = jax.random.split(key)
        keys = jax.random.split(train_key, num_seeds), jax.random.split(eval_key, num_seeds)
        return jax.vmap(one_run, in_axes=(None, 0, 0))(hp, *keys).mean()

    return fitness


def lpo_metadata(setting: LPOSetting) -> dict[str, Any]:
    """The drift-file metadata of a setting's result, with where it was trained."""
    return {**drift_file_metadata(setting.ppo_init), "trained_on": setting.inner.env}


def meta_train(
    setting: LPOSetting,
    directory: str | os.PathLike | None = None,
    progress: bool = True,
    on_generation: Callable[[int, np.ndarray], None] | None = None,
) -> ESResult:
    """Meta-train a drift: OpenES from :func:`start_drift_weights` (keyed by the ES seed) on
    the setting's fitness. With a ``directory`` (resumed when it holds a checkpoint), its
    ``mean.npz`` is a drift file that ``train.py --algo lpo --drift`` loads."""
    setting.validate()
    fitness = make_lpo_fitness(setting.inner, setting.num_seeds, setting.ppo_init)
    start = start_drift_weights(jax.random.key(setting.es.seed))
    metadata = lpo_metadata(setting)
    return evolve(fitness, start, setting.es, directory, progress, metadata, on_generation)


# CPU default: CartPole-v1 at a small budget, so one generation of 16 members x 6 seeds x 16384
# steps is well under a minute on 2 cores. The inner learning rate is high (1e-2) so that the
# drift matters: with no drift these runs reach ~170, with PPO's ~300 (16 runs each), and 500 is
# the ceiling. The search starts at the zero drift (start_drift_weights: weak, and not OpenES's
# saddle at all-zero weights); 6 seeds per member, fresh each generation and common to all
# members (common random numbers), and centred ranks (robust to CartPole's bimodal returns)
# keep the gradient estimate usable; sigma 0.1 makes a member's drift O(1) on the features.
CPU_SETTING = LPOSetting(
    inner=config_for(
        "CartPole-v1",
        "lpo",
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
    inner=config_for(
        "brax/ant",
        "lpo",
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

SETTINGS = {"cpu": CPU_SETTING, "ant": ANT_SETTING}
