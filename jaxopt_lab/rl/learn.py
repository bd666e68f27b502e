"""The learning phase every algorithm shares: GAE, gradient steps and the minibatch loop.

The minibatch loop makes ``update_epochs`` shuffled passes over the batch in
``num_minibatches`` minibatches. On each it fits the critic, ``vf_coef * value_loss``
(clipped as PPO's if configured), and, for a :class:`MinibatchAlgorithm`, takes the actor's
step on its own loss: each network with its own optimizer state and its own gradient clip.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxopt_lab.objectives import value_loss
from jaxopt_lab.rl.algorithm import Batch, Context, MinibatchAlgorithm
from jaxopt_lab.rl.gae import gae
from jaxopt_lab.rl.rollout import Transition

Loss = Callable[..., tuple[jax.Array, dict[str, jax.Array]]]


def make_batch(ctx: Context, critic: Any, traj: Transition, hp: Any) -> Batch:
    """GAE over the rollout (bootstrapping from ``V(final_obs)`` on truncation only),
    flattened to ``[num_steps * num_envs, ...]``."""
    next_values = ctx.value(critic, traj.final_obs)
    advantages, targets = gae(
        traj.reward, traj.value, next_values, traj.terminated, traj.done, hp.gamma, hp.gae_lambda
    )
    batch = Batch(traj.obs, traj.action, traj.log_prob, traj.value, advantages, targets)
    return jax.tree.map(lambda x: x.reshape((ctx.config.batch_size, *x.shape[2:])), batch)


def gradient_step(
    loss_fn: Loss,
    params: Any,
    opt_state: Any,
    optimizer: optax.GradientTransformationExtraArgs,
    prefix: str,
) -> tuple[tuple[Any, Any], dict[str, jax.Array]]:
    """One optimizer step on ``loss_fn(params) -> (loss, diagnostics)``; the diagnostics gain
    ``<prefix>_loss`` and ``<prefix>_grad_norm``. (SAM re-evaluates the gradient.)"""
    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
    (loss, diagnostics), grads = grad_fn(params)

    def perturbed_grad(params: Any) -> Any:  # SAM's gradient at its perturbed point
        return jax.grad(loss_fn, has_aux=True)(params)[0]

    updates, opt_state = optimizer.update(grads, opt_state, params, grad_fn=perturbed_grad)
    diagnostics = {
        **diagnostics,
        f"{prefix}_loss": loss,
        f"{prefix}_grad_norm": optax.global_norm(grads),
    }
    return (optax.apply_updates(params, updates), opt_state), diagnostics


def critic_loss(ctx: Context, critic: Any, minibatch: Batch, hp: Any):
    """``vf_coef * value_loss``: ``0.5 (V - R)^2``, or PPO's clipped form if configured."""
    values = ctx.value(critic, minibatch.obs)
    if ctx.config.clip_value_loss:
        loss = value_loss(values, minibatch.target, minibatch.value, hp.clip_eps)
    else:
        loss = value_loss(values, minibatch.target)
    return hp.vf_coef * loss, {"value_loss": loss}


def shuffle_indices(key: jax.Array, n: int, rounds: int = 2) -> jax.Array:
    """A random permutation of ``range(n)``: ``rounds`` sorts of packed 32-bit keys.

    Each round sorts ``(random bits << b) | position`` (``b = ceil(log2 n)``): one operand, no
    payload, so XLA:CPU sorts it 4x faster than ``argsort`` of random keys (0.10 vs 0.41 ms
    for 8 seeds x 512 samples), and the position comes back in the low bits. A pair whose
    random bits tie keeps its order from the previous round, which the first round makes
    random for all but ties in both rounds: about ``n^2 / 2^(2 (33 - b))`` pairs per shuffle
    (``2e-9`` at 512 samples, ``1e-4`` at 8192), against ``jax.random.permutation``'s
    several multi-operand sorts.
    """
    bits = max(1, (n - 1).bit_length())
    order = jnp.arange(n, dtype=jnp.uint32)
    for round_key in jax.random.split(key, rounds):
        random = jax.random.bits(round_key, (n,), jnp.uint32) >> bits << bits
        order = order[jnp.sort(random | jnp.arange(n, dtype=jnp.uint32)) & ((1 << bits) - 1)]
    return order.astype(jnp.int32)


def minibatch_epochs(
    ctx: Context,
    hp: Any,
    networks: tuple[Any, Any, Any, Any],
    batch: Batch,
    key: jax.Array,
    update: jax.Array,
) -> tuple[tuple[Any, Any, Any, Any], dict[str, jax.Array]]:
    """The minibatch loop of update ``update`` over ``networks = (actor, actor_state, critic,
    critic_state)``; diagnostics are ``[update_epochs, num_minibatches]`` arrays."""
    config = ctx.config
    optimizer = ctx.optimizer(hp)
    algo = hp.algo
    trains_actor = isinstance(algo, MinibatchAlgorithm)

    def minibatch_step(carry, minibatch: Batch):
        actor, actor_state, critic, critic_state = carry
        (critic, critic_state), diagnostics = gradient_step(
            lambda c: critic_loss(ctx, c, minibatch, hp), critic, critic_state, optimizer, "critic"
        )
        if trains_actor:
            (actor, actor_state), actor_diagnostics = gradient_step(
                lambda a: algo.actor_loss(ctx, a, minibatch, hp, update),
                actor,
                actor_state,
                optimizer,
                "actor",
            )
            diagnostics = {**diagnostics, **actor_diagnostics}
        return (actor, actor_state, critic, critic_state), diagnostics

    def epoch(carry, key: jax.Array):
        permutation = shuffle_indices(key, config.batch_size)
        shape = (config.num_minibatches, config.minibatch_size)
        minibatches = jax.tree.map(lambda x: x[permutation].reshape(*shape, *x.shape[1:]), batch)
        return jax.lax.scan(minibatch_step, carry, minibatches)

    return jax.lax.scan(epoch, networks, jax.random.split(key, config.update_epochs))
