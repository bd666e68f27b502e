"""Offline preference training of the lab's policy with any loss, as one pure function.

``train(key, hparams, lab) -> (params, metrics)``: start from the reference, take
``num_steps`` Adam steps on minibatches of ``batch_size`` pairs (drawn with replacement) of
``mean_i loss(logpi(y_w), logpi(y_l), logref(y_w), logref(y_l); beta)``, then evaluate true
reward and KL(pi || ref) by sampling. Beta, learning rate, the loss index and a learned loss's
parameters are traced (:class:`PrefHParams`), so one compiled program trains a whole sweep.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxopt_lab.pref.config import LabConfig, PrefHParams
from jaxopt_lab.pref.data import LabData
from jaxopt_lab.pref.evaluate import evaluate_policy
from jaxopt_lab.pref.losses import LabLoss, apply_loss
from jaxopt_lab.pref.policy import sequence_logps

TrainFn = Callable[[jax.Array, PrefHParams, LabData], tuple[dict, dict[str, Any]]]


def make_train(config: LabConfig, losses: Sequence[LabLoss]) -> TrainFn:
    """The pure training function for ``config``; ``hparams.loss_index`` indexes ``losses``.

    Metrics: ``loss``, ``accuracy`` (fraction of pairs with ``rho > 0``), ``margin`` (mean
    ``beta rho``) and ``nonfinite`` averaged over windows of ``log_every`` steps (arrays of
    ``num_steps / log_every``), and the final ``reward`` and ``kl``.
    """
    config.validate()
    losses = tuple(losses)
    if not losses:
        raise ValueError("losses: got none; give at least one loss")
    adam = optax.scale_by_adam()
    batch = config.batch_size

    def train(key: jax.Array, hparams: PrefHParams, lab: LabData) -> tuple[dict, dict]:
        pairs = lab.pairs
        k_train, k_eval = jax.random.split(key)

        def objective(params, idx):
            prompts = jnp.concatenate([pairs.prompts[idx], pairs.prompts[idx]])
            completions = jnp.concatenate([pairs.chosen[idx], pairs.rejected[idx]])
            logps = sequence_logps(config, params, prompts, completions)
            ref_w, ref_l = pairs.ref_chosen_logps[idx], pairs.ref_rejected_logps[idx]
            logps4 = (logps[:batch], logps[batch:], ref_w, ref_l)
            per_pair = apply_loss(
                losses, hparams.loss_index, logps4, hparams.beta, hparams.loss_params
            )
            rho = (logps[:batch] - ref_w) - (logps[batch:] - ref_l)
            return per_pair.mean(), rho

        def step(carry, key):
            params, opt_state = carry
            idx = jax.random.randint(key, (batch,), 0, config.num_pairs)
            (loss, rho), grads = jax.value_and_grad(objective, has_aux=True)(params, idx)
            updates, opt_state = adam.update(grads, opt_state)
            params = jax.tree.map(lambda p, u: p - hparams.learning_rate * u, params, updates)
            metrics = {
                "loss": loss,
                "accuracy": (rho > 0).mean(),
                "margin": hparams.beta * rho.mean(),
                "nonfinite": (~jnp.isfinite(loss)).astype(jnp.float32),
            }
            return (params, opt_state), metrics

        params = lab.ref_params
        (params, _), metrics = jax.lax.scan(
            step, (params, adam.init(params)), jax.random.split(k_train, config.num_steps)
        )
        logged = jax.tree.map(lambda m: m.reshape(-1, config.log_every).mean(-1), metrics)
        evaluation = evaluate_policy(k_eval, config, params, lab.ref_params, lab.eval_prompts)
        return params, {**logged, **evaluation}

    return train


def make_sweep(config: LabConfig, losses: Sequence[LabLoss]) -> TrainFn:
    """``jit(vmap over data seeds (vmap over configurations))`` of :func:`make_train`.

    Arguments: ``keys`` of shape ``(S, C)``, ``hparams`` with leaves of shape ``(C,)``, ``lab``
    with leaves of shape ``(S, ...)`` (one lab per data seed, from a vmapped ``build_lab``).
    Outputs have leading axes ``(S, C)``.
    """
    train = make_train(config, losses)
    per_seed = jax.vmap(train, in_axes=(0, 0, None))
    return jax.jit(jax.vmap(per_seed, in_axes=(0, None, 0)))
