"""The on-policy trainer: rollout, GAE and minibatch epochs in nested ``lax.scan``s.

A run is ``train(key, hparams) -> (runner_state, metrics)``, a pure function that
``jax.jit(jax.vmap(...))`` batches over seeds and traced hyperparameters. It is also available
in pieces, ``init`` then repeated ``run(state, hparams, num_updates)`` chunks, so long runs can
checkpoint and report progress between compiled chunks at no extra cost: the chunks compose to
exactly the same computation as one call.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxopt_lab.envs import make_base_env, make_vec_env, normalize_observation
from jaxopt_lab.envs.wrappers import ClipAction, EpisodeStatistics, RunningMeanStd, VecEnv
from jaxopt_lab.objectives import (
    discovered_drift,
    drift_policy_loss,
    mdpo_loss,
    ppo_drift,
    value_loss,
)
from jaxopt_lab.objectives.learned_drift import learned_drift
from jaxopt_lab.optim import sam
from jaxopt_lab.rl.config import HParams, TrainConfig
from jaxopt_lab.rl.distributions import make_distribution
from jaxopt_lab.rl.gae import gae
from jaxopt_lab.rl.networks import ActorCritic, init_params
from jaxopt_lab.rl.optimizers import optimizer_step
from jaxopt_lab.rl.trpo import natural_gradient_step


def _ppo_drift(ratio: jax.Array, advantages: jax.Array, hp: HParams) -> jax.Array:
    return ppo_drift(ratio, advantages, hp.clip_eps)


def _discovered_drift(ratio: jax.Array, advantages: jax.Array, hp: HParams) -> jax.Array:
    return discovered_drift(ratio, advantages, hp.dpo_alpha, hp.dpo_beta)


def _learned_drift(ratio: jax.Array, advantages: jax.Array, hp: HParams) -> jax.Array:
    if hp.drift is None:
        raise ValueError(
            "drift: algo lpo needs a learned drift (TrainConfig.drift, a file, or HParams.drift)"
        )
    return learned_drift(ratio, advantages, hp.drift)


# Drift of each algorithm, with its hyperparameters read from the traced HParams. A2C is PPO
# under the A2C preset (Huang et al. 2022): the clip cannot bind at r = 1. LPO's drift network
# is itself a traced input (HParams.drift), so one program trains a population of drifts.
DRIFTS: dict[str, Callable[[jax.Array, jax.Array, HParams], jax.Array]] = {
    "ppo": _ppo_drift,
    "a2c": _ppo_drift,
    "dpo": _discovered_drift,
    "lpo": _learned_drift,
}


class RunnerState(NamedTuple):
    """Everything a run carries from one update to the next."""

    params: Any
    opt_state: Any
    env_state: Any
    obs: jax.Array
    key: jax.Array
    update: jax.Array


class Transition(NamedTuple):
    obs: jax.Array
    action: jax.Array
    log_prob: jax.Array
    value: jax.Array
    reward: jax.Array
    terminated: jax.Array
    done: jax.Array
    final_obs: jax.Array
    episode_return: jax.Array


class Batch(NamedTuple):
    obs: jax.Array
    action: jax.Array
    log_prob: jax.Array
    value: jax.Array
    advantage: jax.Array
    target: jax.Array


class Trainer(NamedTuple):
    """The compiled-program pieces of one configuration (all pure, all vmappable)."""

    config: TrainConfig
    network: ActorCritic
    init: Callable[[jax.Array, HParams], RunnerState]
    rollout: Callable[[RunnerState], tuple[RunnerState, Transition]]
    learn: Callable[[RunnerState, Transition, HParams], tuple[RunnerState, dict]]
    run: Callable[..., tuple[RunnerState, dict[str, jax.Array]]]
    train: Callable[[jax.Array, HParams], tuple[RunnerState, dict[str, jax.Array]]]
    evaluate: Callable[[jax.Array, Any, Any], jax.Array]
    obs_stats: Callable[[RunnerState], Any]


def make_trainer(config: TrainConfig) -> Trainer:
    """Build the pure training functions for a validated ``config``."""
    config.validate()
    env = make_vec_env(
        config.env,
        config.num_envs,
        normalize_observations=config.normalize_observations,
        normalize_rewards=config.normalize_rewards,
        reward_scale=config.reward_scale,
        gamma=config.gamma,
        brax_backend=config.brax_backend,
    )
    network = ActorCritic(
        action_spec=env.action_spec,
        obs_ndim=len(env.observation_shape),
        hidden_sizes=tuple(config.hidden_sizes),
        activation=config.activation,
    )
    updates_per_step = config.update_epochs * config.num_minibatches
    drift = DRIFTS.get(config.algo)

    def make_optimizer(hp: HParams, steps_per_update: int) -> optax.GradientTransformation:
        learning_rate: Any = hp.learning_rate
        if config.anneal_lr:

            def learning_rate(count: jax.Array) -> jax.Array:
                done = (count // steps_per_update).astype(jnp.float32)
                return hp.learning_rate * (1.0 - done / config.num_updates)

        step = optimizer_step(config.optimizer, learning_rate)
        optimizer = optax.chain(optax.clip_by_global_norm(hp.max_grad_norm), step)
        if config.sam_rho is None:
            return optimizer
        # SAM perturbs along the raw gradient; the clip then applies to the perturbed one.
        return sam(optimizer, rho=config.sam_rho)

    def init(key: jax.Array, hp: HParams) -> RunnerState:
        key, net_key, env_key = jax.random.split(key, 3)
        params = init_params(network, net_key, env.observation_shape)
        obs, env_state = env.reset(env_key)
        if config.algo == "mdpo":
            actor, critic = split_params(params)
            optimizer = make_optimizer(hp, config.mdpo_steps)
            opt_state = (optimizer.init(actor), make_optimizer(hp, updates_per_step).init(critic))
        elif config.algo == "trpo":
            opt_state = ((), make_optimizer(hp, updates_per_step).init(split_params(params)[1]))
        else:
            opt_state = make_optimizer(hp, updates_per_step).init(params)
        return RunnerState(params, opt_state, env_state, obs, key, jnp.int32(0))

    def rollout(runner: RunnerState) -> tuple[RunnerState, Transition]:
        def env_step(carry, _):
            env_state, obs, key = carry
            key, action_key, step_key = jax.random.split(key, 3)
            policy_params, value = network.apply(runner.params, obs)
            dist = make_distribution(policy_params)
            action = dist.sample(action_key)
            step = env.step(step_key, env_state, action)
            done = step.terminated | step.truncated
            transition = Transition(
                obs,
                action,
                dist.log_prob(action),
                value,
                step.reward,
                step.terminated,
                done,
                step.final_obs,
                step.info["episode_return"],
            )
            return (step.state, step.obs, key), transition

        carry = (runner.env_state, runner.obs, runner.key)
        (env_state, obs, key), traj = jax.lax.scan(env_step, carry, None, config.num_steps)
        return runner._replace(env_state=env_state, obs=obs, key=key), traj

    def normalized(advantages: jax.Array) -> jax.Array:
        if not config.normalize_advantages:
            return advantages
        return (advantages - advantages.mean()) / (advantages.std() + 1e-8)

    def critic_loss(values: jax.Array, batch: Batch, hp: HParams) -> jax.Array:
        if config.clip_value_loss:
            return value_loss(values, batch.target, batch.value, hp.clip_eps)
        return value_loss(values, batch.target)

    def drift_loss(params: Any, batch: Batch, hp: HParams):
        """PPO-family loss: ``-mean(r A - drift) + vf * value loss - ent * entropy``."""
        policy_params, values = network.apply(params, batch.obs)
        dist = make_distribution(policy_params)
        log_ratio = dist.log_prob(batch.action) - batch.log_prob
        ratio = jnp.exp(log_ratio)
        policy_loss = drift_policy_loss(partial(drift, hp=hp), ratio, normalized(batch.advantage))
        critic = critic_loss(values, batch, hp)
        entropy = dist.entropy().mean()
        loss = policy_loss + hp.vf_coef * critic - hp.ent_coef * entropy
        diagnostics = {
            "policy_loss": policy_loss,
            "value_loss": critic,
            "entropy": entropy,
            "approx_kl": jnp.mean((ratio - 1.0) - log_ratio),
            "clip_fraction": jnp.mean(jnp.abs(ratio - 1.0) > hp.clip_eps),
        }
        return loss, diagnostics

    def minibatch_epochs(loss_fn, params, opt_state, batch: Batch, hp: HParams, key):
        """``update_epochs`` shuffled passes of ``num_minibatches`` optimizer steps."""
        optimizer = make_optimizer(hp, updates_per_step)
        grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

        def minibatch_step(carry, minibatch: Batch):
            params, opt_state = carry
            (loss, diagnostics), grads = grad_fn(params, minibatch, hp)

            def minibatch_grad(params):  # SAM's gradient at its perturbed point
                return jax.grad(loss_fn, has_aux=True)(params, minibatch, hp)[0]

            updates, opt_state = optimizer.update(grads, opt_state, params, grad_fn=minibatch_grad)
            params = optax.apply_updates(params, updates)
            diagnostics = {**diagnostics, "loss": loss, "grad_norm": optax.global_norm(grads)}
            return (params, opt_state), diagnostics

        def epoch(carry, key):
            permutation = shuffle_indices(key, config.batch_size)
            minibatches = jax.tree.map(
                lambda x: x[permutation].reshape(
                    (config.num_minibatches, config.minibatch_size, *x.shape[1:])
                ),
                batch,
            )
            return jax.lax.scan(minibatch_step, carry, minibatches)

        keys = jax.random.split(key, config.update_epochs)
        return jax.lax.scan(epoch, (params, opt_state), keys)

    def make_batch(runner: RunnerState, traj: Transition, hp: HParams) -> Batch:
        """GAE over the rollout, flattened to ``[num_steps * num_envs, ...]``."""
        next_values = network.apply(runner.params, traj.final_obs, method=ActorCritic.value)
        advantages, targets = gae(
            traj.reward,
            traj.value,
            next_values,
            traj.terminated,
            traj.done,
            hp.gamma,
            hp.gae_lambda,
        )
        batch = Batch(traj.obs, traj.action, traj.log_prob, traj.value, advantages, targets)
        return jax.tree.map(lambda x: x.reshape((config.batch_size, *x.shape[2:])), batch)

    def learn(runner: RunnerState, traj: Transition, hp: HParams):
        batch = make_batch(runner, traj, hp)
        key, epoch_key = jax.random.split(runner.key)
        if not separate_actor:
            (params, opt_state), diagnostics = minibatch_epochs(
                drift_loss, runner.params, runner.opt_state, batch, hp, epoch_key
            )
            return runner._replace(params=params, opt_state=opt_state, key=key), diagnostics
        actor, critic = split_params(runner.params)
        actor_state, critic_state = runner.opt_state

        def critic_only(critic, minibatch, hp):
            values = network.apply(
                merge_params(actor, critic), minibatch.obs, method=ActorCritic.value
            )
            loss = critic_loss(values, minibatch, hp)
            return loss, {"value_loss": loss}

        (critic, critic_state), critic_diagnostics = minibatch_epochs(
            critic_only, critic, critic_state, batch, hp, epoch_key
        )
        actor, actor_state, actor_diagnostics = actor_update(
            actor, critic, actor_state, batch, hp, runner.update
        )
        diagnostics = {
            **jax.tree.map(jnp.mean, critic_diagnostics),
            **actor_diagnostics,
        }
        diagnostics["loss"] = actor_diagnostics["policy_loss"] + diagnostics["value_loss"]
        runner = runner._replace(
            params=merge_params(actor, critic), opt_state=(actor_state, critic_state), key=key
        )
        return runner, diagnostics

    def policy_terms(actor, critic, batch: Batch, old_policy):
        """Ratio, normalised advantages and the new and old distributions on the batch."""
        dist = make_distribution(network.apply(merge_params(actor, critic), batch.obs)[0])
        ratio = jnp.exp(dist.log_prob(batch.action) - batch.log_prob)
        return ratio, normalized(batch.advantage), dist, make_distribution(old_policy)

    def mdpo_update(actor, critic, opt_state, batch: Batch, hp: HParams, update: jax.Array):
        """Tomar et al. 2022: ``mdpo_steps`` full-batch steps on
        ``mean(r A) - mean KL(pi_new || pi_old) / t_k``, ``t_k = 1 - k / K``."""
        step_size = 1.0 - update.astype(jnp.float32) / config.num_updates
        old_policy = jax.lax.stop_gradient(network.apply(merge_params(actor, critic), batch.obs)[0])
        optimizer = make_optimizer(hp, config.mdpo_steps)

        def loss_fn(actor):
            ratio, advantages, dist, old = policy_terms(actor, critic, batch, old_policy)
            kl = dist.kl(old)
            loss = mdpo_loss(ratio, advantages, kl, step_size)
            return loss, {
                "policy_loss": loss,
                "kl_new_old": kl.mean(),
                "entropy": dist.entropy().mean(),
            }

        def actor_grad(actor):  # SAM's gradient at its perturbed point
            return jax.grad(loss_fn, has_aux=True)(actor)[0]

        def step(carry, _):
            actor, opt_state = carry
            (_, diagnostics), grads = jax.value_and_grad(loss_fn, has_aux=True)(actor)
            updates, opt_state = optimizer.update(grads, opt_state, actor, grad_fn=actor_grad)
            return (optax.apply_updates(actor, updates), opt_state), diagnostics

        (actor, opt_state), diagnostics = jax.lax.scan(
            step, (actor, opt_state), None, config.mdpo_steps
        )
        diagnostics = jax.tree.map(lambda x: x[-1], diagnostics)
        diagnostics["mdpo_step_size"] = step_size
        return actor, opt_state, diagnostics

    def trpo_update(actor, critic, opt_state, batch: Batch, hp: HParams, update: jax.Array):
        """Schulman et al. 2015: maximise ``mean(r A)`` s.t. ``mean KL(pi_old || pi) <= delta``.

        With ``anneal_max_kl`` the trust region shrinks linearly, ``delta (1 - k / K)``, as PPO's
        learning rate does; a constant one keeps taking full-size steps to the end of training.
        """
        max_kl = hp.max_kl
        if config.anneal_max_kl:
            max_kl = max_kl * (1.0 - update.astype(jnp.float32) / config.num_updates)
        old_policy = jax.lax.stop_gradient(network.apply(merge_params(actor, critic), batch.obs)[0])

        def surrogate(actor):
            ratio, advantages, _, _ = policy_terms(actor, critic, batch, old_policy)
            return jnp.mean(ratio * advantages)

        def kl_old_new(actor, batch=batch, old_policy=old_policy):
            _, _, dist, old = policy_terms(actor, critic, batch, old_policy)
            return old.kl(dist).mean()

        fisher_batch = jax.tree.map(lambda x: x[:: config.fisher_subsample], batch)
        fisher_old = jax.lax.stop_gradient(
            network.apply(merge_params(actor, critic), fisher_batch.obs)[0]
        )
        actor, info = natural_gradient_step(
            surrogate,
            kl_old_new,
            actor,
            max_kl,
            hp.cg_damping,
            config.cg_iterations,
            config.backtrack_coef,
            config.backtrack_steps,
            fisher_kl=partial(kl_old_new, batch=fisher_batch, old_policy=fisher_old),
        )
        entropy = policy_terms(actor, critic, batch, old_policy)[2].entropy().mean()
        diagnostics = {
            "policy_loss": -surrogate(actor),
            "entropy": entropy,
            "trpo_kl": info.kl,
            "trpo_accepted": info.accepted.astype(jnp.float32),
            "trpo_step_fraction": info.step_fraction,
            "trpo_improvement": info.improvement,
        }
        return actor, opt_state, diagnostics

    separate_actor = config.algo in ("mdpo", "trpo")
    actor_update = {"mdpo": mdpo_update, "trpo": trpo_update}.get(config.algo)

    def update(runner: RunnerState, hp: HParams):
        runner, traj = rollout(runner)
        runner, diagnostics = learn(runner, traj, hp)
        episodes = traj.done.sum()
        finished_return = jnp.where(traj.done, traj.episode_return, 0.0).sum()
        metrics = {name: value.mean() for name, value in diagnostics.items()}
        metrics["nonfinite"] = ~jnp.all(jnp.isfinite(diagnostics["loss"]))
        metrics["episode_return"] = jnp.where(
            episodes > 0, finished_return / jnp.maximum(episodes, 1), jnp.nan
        )
        metrics["episodes"] = episodes
        metrics["update"] = runner.update
        metrics["env_steps"] = (runner.update + 1) * config.batch_size
        return runner._replace(update=runner.update + 1), metrics

    def run(runner: RunnerState, hp: HParams, num_updates: int = config.num_updates):
        """``num_updates`` updates (static) in one scan; metrics hold one row per update."""
        return jax.lax.scan(lambda r, _: update(r, hp), runner, None, num_updates)

    def train(key: jax.Array, hp: HParams):
        return run(init(key, hp), hp)

    def obs_stats(runner: RunnerState) -> Any:
        """The observation-normalisation statistics of a run (``None`` when not normalising)."""
        return runner.env_state.obs_stats if config.normalize_observations else None

    eval_env = EpisodeStatistics(make_base_env(config.env, config.brax_backend))
    if not eval_env.action_spec.discrete:
        eval_env = ClipAction(eval_env)
    eval_env = VecEnv(eval_env, config.eval_episodes)

    def evaluate(key: jax.Array, params: Any, stats: RunningMeanStd | None) -> jax.Array:
        """Mean undiscounted return of ``eval_episodes`` episodes, one per parallel env."""

        def policy_input(obs: jax.Array) -> jax.Array:
            return obs if stats is None else normalize_observation(obs, stats)

        def step(carry, _):
            env_state, obs, key, finished, returns = carry
            key, action_key, step_key = jax.random.split(key, 3)
            dist = make_distribution(network.apply(params, policy_input(obs))[0])
            action = dist.mode() if config.eval_deterministic else dist.sample(action_key)
            step = eval_env.step(step_key, env_state, action)
            first_end = step.info["episode_done"] & ~finished
            returns = jnp.where(first_end, step.info["episode_return"], returns)
            carry = (step.state, step.obs, key, finished | first_end, returns)
            return carry, None

        key, reset_key = jax.random.split(key)
        obs, env_state = eval_env.reset(reset_key)
        zeros = jnp.zeros(config.eval_episodes)
        carry = (env_state, obs, key, zeros.astype(bool), zeros)
        (_, _, _, _, returns), _ = jax.lax.scan(step, carry, None, eval_env.max_episode_steps)
        return returns.mean()

    return Trainer(config, network, init, rollout, learn, run, train, evaluate, obs_stats)


def split_params(params: Any) -> tuple[Any, Any]:
    """``(actor, critic)`` parts of the :class:`ActorCritic` parameters (``log_std`` is actor)."""
    inner = params["params"]
    return {k: v for k, v in inner.items() if k != "critic"}, inner["critic"]


def merge_params(actor: Any, critic: Any) -> Any:
    return {"params": {**actor, "critic": critic}}


def shuffle_indices(key: jax.Array, n: int) -> jax.Array:
    """A uniformly random permutation of ``range(n)`` from one sort of random 32-bit keys.

    ``jax.random.permutation`` sorts several rounds to make ties impossible; a single sort
    (ties have probability ~n^2 / 2^33) costs a third and dominates the epoch loop on CPU.
    """
    return jnp.argsort(jax.random.bits(key, (n,), jnp.uint32))


def make_train(config: TrainConfig) -> Callable[[jax.Array, HParams], tuple[RunnerState, dict]]:
    """The pure ``train(key, hparams) -> (runner_state, metrics)`` of ``config``."""
    return make_trainer(config).train
