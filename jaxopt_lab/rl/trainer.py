"""The on-policy trainer: rollout, GAE, the critic's fit, the algorithm's actor update, in
nested ``lax.scan``s, for any algorithm of :mod:`jaxopt_lab.rl.algorithm`.

A run is ``train(key, hparams) -> (runner_state, metrics)``, a pure function that
``jax.jit(jax.vmap(...))`` batches over seeds, traced hyperparameters (the algorithm's
included) and environment parameters: ``hparams`` is the config's pytree of traced values
(:meth:`TrainConfig.hparams`). The trainer is built from the config's static fields only (a
traced field read from the config raises), so every traced number is traced wherever it is
used. A run is also available in pieces, ``init`` then repeated ``run(state, hparams,
num_updates)`` chunks, so long runs checkpoint and report progress between compiled chunks:
the chunks compose to exactly the same computation as one call.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_lab.envs import Env, make_base_env, make_eval_env, make_vec_env
from jaxopt_lab.fields import is_traced, static_view
from jaxopt_lab.rl.algorithm import Context
from jaxopt_lab.rl.config import TrainConfig
from jaxopt_lab.rl.evaluation import evaluate_policy
from jaxopt_lab.rl.learn import make_batch, minibatch_epochs
from jaxopt_lab.rl.networks import Actor, Critic, init_network
from jaxopt_lab.rl.rollout import Transition, collect, episode_metrics

Metrics = dict[str, jax.Array]


class RunnerState(NamedTuple):
    """Everything a run carries from one update to the next: actor and critic as separate
    pytrees, each with its own state (the actor's is the algorithm's: an optimizer state or
    ``None``)."""

    actor: Any
    actor_state: Any
    critic: Any
    critic_state: Any
    env_state: Any
    obs: jax.Array
    key: jax.Array
    update: jax.Array


class Trainer(NamedTuple):
    """The pure pieces of one configuration (all jittable and vmappable)."""

    config: TrainConfig
    context: Context
    init: Callable[[jax.Array, TrainConfig], RunnerState]
    rollout: Callable[[RunnerState, TrainConfig], tuple[RunnerState, Transition]]
    learn: Callable[[RunnerState, Transition, TrainConfig], tuple[RunnerState, Metrics]]
    run: Callable[..., tuple[RunnerState, Metrics]]
    train: Callable[[jax.Array, TrainConfig], tuple[RunnerState, Metrics]]
    evaluate: Callable[[jax.Array, RunnerState, TrainConfig], jax.Array]


def make_context(config: TrainConfig, base_env: Env) -> Context:
    """The networks for ``base_env`` and the static view of ``config``."""
    obs_ndim = len(base_env.observation_shape)
    layers = {"hidden_sizes": tuple(config.hidden_sizes), "activation": config.activation}
    return Context(
        config=static_view(config),
        actor=Actor(base_env.action_spec, obs_ndim=obs_ndim, **layers),
        critic=Critic(obs_ndim=obs_ndim, **layers),
    )


def make_trainer(config: TrainConfig) -> Trainer:
    """Build the pure training functions of ``config`` (validated when it was built)."""
    base_env = make_base_env(config.env, config.brax_backend)
    ctx = make_context(config, base_env)
    static = ctx.config

    def training_env(hp: TrainConfig) -> Env:
        return make_vec_env(
            base_env,
            static.num_envs,
            params=hp.env_params,
            normalize_observations=static.normalize_observations,
            normalize_rewards=static.normalize_rewards,
            gamma=hp.gamma,
            reward_scale=hp.reward_scale,
        )

    def init(key: jax.Array, hp: TrainConfig) -> RunnerState:
        check_hparams(config, hp)
        key, actor_key, critic_key, env_key = jax.random.split(key, 4)
        actor = init_network(ctx.actor, actor_key, base_env.observation_shape)
        critic = init_network(ctx.critic, critic_key, base_env.observation_shape)
        obs, env_state = training_env(hp).reset(env_key)
        actor_state = hp.algo.init_actor_state(ctx, actor, hp)
        critic_state = ctx.optimizer(hp).init(critic)
        update = jnp.int32(0)
        return RunnerState(actor, actor_state, critic, critic_state, env_state, obs, key, update)

    def rollout(runner: RunnerState, hp: TrainConfig) -> tuple[RunnerState, Transition]:
        carry = (runner.env_state, runner.obs, runner.key)
        env = training_env(hp)
        carry, traj = collect(ctx, env, runner.actor, runner.critic, carry, static.num_steps)
        env_state, obs, key = carry
        return runner._replace(env_state=env_state, obs=obs, key=key), traj

    def learn(runner: RunnerState, traj: Transition, hp: TrainConfig):
        return learn_from_rollout(ctx, runner, traj, hp)

    def update(runner: RunnerState, hp: TrainConfig) -> tuple[RunnerState, Metrics]:
        runner, traj = rollout(runner, hp)
        runner, metrics = learn(runner, traj, hp)
        metrics = {**metrics, **episode_metrics(traj)}
        metrics["update"] = runner.update
        metrics["env_steps"] = (runner.update + 1) * static.batch_size
        return runner._replace(update=runner.update + 1), metrics

    def run(runner: RunnerState, hp: TrainConfig, num_updates: int = config.num_updates):
        """``num_updates`` updates (static) in one scan; metrics hold one row per update."""
        check_hparams(config, hp)
        return jax.lax.scan(lambda r, _: update(r, hp), runner, None, num_updates)

    def train(key: jax.Array, hp: TrainConfig) -> tuple[RunnerState, Metrics]:
        return run(init(key, hp), hp)

    def evaluate(key: jax.Array, runner: RunnerState, hp: TrainConfig) -> jax.Array:
        """Mean return of ``eval_episodes`` episodes of the run's policy in its environment."""
        env = make_eval_env(base_env, static.eval_episodes, hp.env_params)
        stats = runner.env_state.obs_stats if static.normalize_observations else None
        return evaluate_policy(ctx, env, key, runner.actor, stats)

    return Trainer(config, ctx, init, rollout, learn, run, train, evaluate)


def learn_from_rollout(
    ctx: Context, runner: RunnerState, traj: Transition, hp: TrainConfig
) -> tuple[RunnerState, Metrics]:
    """GAE, the minibatch loop (critic, and a minibatch algorithm's actor), then the
    algorithm's full-batch actor update; metrics are means over the minibatch steps."""
    batch = make_batch(ctx, runner.critic, traj, hp)
    key, epoch_key = jax.random.split(runner.key)
    networks = (runner.actor, runner.actor_state, runner.critic, runner.critic_state)
    networks, diagnostics = minibatch_epochs(ctx, hp, networks, batch, epoch_key, runner.update)
    actor, actor_state, critic, critic_state = networks
    actor, actor_state, actor_diagnostics = hp.algo.update_actor(
        ctx, actor, actor_state, batch, hp, runner.update
    )
    metrics = {name: value.mean() for name, value in {**diagnostics, **actor_diagnostics}.items()}
    if "actor_loss" not in metrics:
        raise ValueError(f"algo {hp.algo.name}: its actor update must report actor_loss")
    metrics["loss"] = metrics["actor_loss"] + metrics["critic_loss"]
    metrics["nonfinite"] = ~jnp.isfinite(metrics["loss"])
    runner = runner._replace(
        actor=actor, actor_state=actor_state, critic=critic, critic_state=critic_state, key=key
    )
    return runner, metrics


def check_hparams(config: TrainConfig, hp: TrainConfig) -> None:
    """``ValueError`` unless ``hp`` has ``config``'s static settings (the trainer was built
    for those; only traced values may differ)."""
    if static_settings(hp) != static_settings(config):
        raise ValueError(
            "hparams: static settings differ from the trainer's config; build a trainer for "
            "that config (only traced fields may differ between runs of one trainer)"
        )


def static_settings(config: TrainConfig) -> tuple:
    """The static fields of the config and of its algorithm, and the algorithm's type."""

    def statics(obj: Any) -> tuple:
        return tuple(getattr(obj, f.name) for f in dataclasses.fields(obj) if not is_traced(f))

    return statics(config), type(config.algo), statics(config.algo)


def make_train(
    config: TrainConfig,
) -> Callable[[jax.Array, TrainConfig], tuple[RunnerState, Metrics]]:
    """The pure ``train(key, hparams) -> (runner_state, metrics)`` of ``config``."""
    return make_trainer(config).train
