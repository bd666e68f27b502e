"""One data seed of the lab: the SFT reference, its labelled preference pairs, eval prompts."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_lab.pref.config import LabConfig
from jaxopt_lab.pref.evaluate import evaluate_policy
from jaxopt_lab.pref.policy import sample_completions, sequence_logps
from jaxopt_lab.pref.sft import train_reference
from jaxopt_lab.pref.task import label_pairs, sample_prompts, true_reward


class PairData(NamedTuple):
    """Offline preference pairs with the reference's log-probabilities (computed once)."""

    prompts: jax.Array
    chosen: jax.Array
    rejected: jax.Array
    ref_chosen_logps: jax.Array
    ref_rejected_logps: jax.Array


class LabData(NamedTuple):
    """Everything a preference-training run needs that does not depend on the loss."""

    ref_params: dict
    pairs: PairData
    eval_prompts: jax.Array
    """Fresh prompts (a separate sample, not the pairs' prompts) for the reward and KL."""
    stats: dict[str, jax.Array]
    """``sft_loss`` (final, nats/token), ``ref_reward``, ``label_agreement`` (fraction of pairs
    whose chosen completion has the higher true reward, ties counted half)."""


def build_lab(key: jax.Array, config: LabConfig) -> LabData:
    """SFT a reference, sample two of its completions per prompt and label them (Bradley-Terry).

    Pure: ``jax.jit(jax.vmap(build_lab, in_axes=(0, None)), static_argnums=1)`` builds one lab
    per data seed.
    """
    k_ref, k_prompt, k_sample, k_label, k_eval_prompt, k_eval = jax.random.split(key, 6)
    ref_params, sft_losses = train_reference(k_ref, config)
    prompts = sample_prompts(k_prompt, config, config.num_pairs)
    ka, kb = jax.random.split(k_sample)
    first = sample_completions(ka, config, ref_params, prompts)
    second = sample_completions(kb, config, ref_params, prompts)
    reward_first = true_reward(config, prompts, first)
    reward_second = true_reward(config, prompts, second)
    first_wins = label_pairs(k_label, reward_first, reward_second, config.bt_scale)
    chosen = jnp.where(first_wins[:, None], first, second)
    rejected = jnp.where(first_wins[:, None], second, first)
    pairs = PairData(
        prompts,
        chosen,
        rejected,
        sequence_logps(config, ref_params, prompts, chosen),
        sequence_logps(config, ref_params, prompts, rejected),
    )
    margin = true_reward(config, prompts, chosen) - true_reward(config, prompts, rejected)
    eval_prompts = sample_prompts(k_eval_prompt, config, config.eval_prompts)
    ref_eval = evaluate_policy(k_eval, config, ref_params, ref_params, eval_prompts)
    stats = {
        "sft_loss": sft_losses[-1],
        "ref_reward": ref_eval["reward"],
        "label_agreement": jnp.mean((margin > 0) + 0.5 * (margin == 0)),
    }
    return LabData(ref_params, pairs, eval_prompts, stats)
