"""Evaluation by sampling: true reward of a policy and its sequence-level KL to the reference."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxopt_lab.pref.config import LabConfig
from jaxopt_lab.pref.policy import sample_completions, sequence_logps
from jaxopt_lab.pref.task import true_reward


def evaluate_policy(
    key: jax.Array, config: LabConfig, params: dict, ref_params: dict, prompts: jax.Array
) -> dict[str, jax.Array]:
    """Mean true reward and ``KL(pi || ref)`` on ``eval_samples`` completions per prompt.

    ``KL = E_{y ~ pi(.|x)}[log pi(y | x) - log ref(y | x)]``, estimated without bias from the
    sampled completions (exact sequence log-probabilities, so ``KL(ref || ref) = 0`` exactly).
    """
    prompts = jnp.repeat(prompts, config.eval_samples, axis=0)
    completions = sample_completions(key, config, params, prompts)
    log_ratio = sequence_logps(config, params, prompts, completions) - sequence_logps(
        config, ref_params, prompts, completions
    )
    return {
        "reward": true_reward(config, prompts, completions).mean(),
        "kl": log_ratio.mean(),
    }
