"""The reference policy: supervised fine-tuning (maximum likelihood) on demonstrations."""

from __future__ import annotations

import jax
import optax

from jaxopt_lab.pref.config import LabConfig
from jaxopt_lab.pref.policy import init_policy, sequence_logps
from jaxopt_lab.pref.task import sample_demonstrations


def train_reference(key: jax.Array, config: LabConfig) -> tuple[dict, jax.Array]:
    """SFT from scratch: Adam on ``-mean log pi(y | x) / L`` over ``num_demos`` demonstrations.

    Returns ``(params, losses)`` with the per-step loss (nats per token). Pure, so ``vmap``
    over keys builds one reference per data seed.
    """
    k_demo, k_init, k_batch = jax.random.split(key, 3)
    prompts, completions = sample_demonstrations(k_demo, config, config.num_demos)
    params = init_policy(k_init, config)
    optimizer = optax.adam(config.sft_learning_rate)

    def nll(params, idx):
        logps = sequence_logps(config, params, prompts[idx], completions[idx])
        return -logps.mean() / config.completion_length

    def step(carry, key):
        params, opt_state = carry
        idx = jax.random.randint(key, (config.sft_batch_size,), 0, config.num_demos)
        loss, grads = jax.value_and_grad(nll)(params, idx)
        updates, opt_state = optimizer.update(grads, opt_state)
        return (optax.apply_updates(params, updates), opt_state), loss

    (params, _), losses = jax.lax.scan(
        step, (params, optimizer.init(params)), jax.random.split(k_batch, config.sft_steps)
    )
    return params, losses
