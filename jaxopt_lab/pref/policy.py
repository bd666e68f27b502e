"""A tiny autoregressive sequence policy: an MLP over position-specific token embeddings.

The logits of completion token ``t`` are a two-layer MLP of
``h_t = sum_p E_p[x_p] + sum_{s < t} F_s[y_s] + b_t``: a linear layer on the one-hot prompt and
the one-hot completion prefix, masked as in MADE (Germain et al. 2015), so all positions are
scored in one parallel pass (teacher forcing) and sampling takes ``L`` sequential passes.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxopt_lab.pref.config import LabConfig


class SequencePolicy(nn.Module):
    """``pi(y_t | x, y_<t)``: ``(prompt (P,), completion (L,)) -> logits (L, V)``."""

    vocab_size: int
    completion_length: int
    hidden: int

    @nn.compact
    def __call__(self, prompt: jax.Array, completion: jax.Array) -> jax.Array:
        v, length = self.vocab_size, self.completion_length
        prompt_embed = nn.Embed(prompt.shape[-1] * v, self.hidden, name="prompt_embed")
        token_embed = nn.Embed(length * v, self.hidden, name="token_embed")
        position = self.param("position", nn.initializers.zeros, (length, self.hidden))
        context = prompt_embed(prompt + v * jnp.arange(prompt.shape[-1])).sum(-2)
        tokens = token_embed(completion + v * jnp.arange(length))
        prefix = jnp.cumsum(tokens, axis=-2) - tokens  # sum over s < t only
        h = nn.relu(context[..., None, :] + prefix + position)
        h = nn.relu(nn.Dense(self.hidden)(h))
        return nn.Dense(v)(h)


def make_policy(config: LabConfig) -> SequencePolicy:
    return SequencePolicy(config.vocab_size, config.completion_length, config.hidden)


def init_policy(key: jax.Array, config: LabConfig) -> dict:
    """Fresh parameters of the policy."""
    prompt = jnp.zeros((config.prompt_length,), jnp.int32)
    completion = jnp.zeros((config.completion_length,), jnp.int32)
    return make_policy(config).init(key, prompt, completion)


def sequence_logps(
    config: LabConfig, params: dict, prompts: jax.Array, completions: jax.Array
) -> jax.Array:
    """``log pi(y | x) = sum_t log pi(y_t | x, y_<t)`` for a batch ``(N, P), (N, L) -> (N,)``."""
    logits = make_policy(config).apply(params, prompts, completions)
    logp = jax.nn.log_softmax(logits)
    return jnp.take_along_axis(logp, completions[..., None], axis=-1)[..., 0].sum(-1)


def sample_completions(
    key: jax.Array, config: LabConfig, params: dict, prompts: jax.Array
) -> jax.Array:
    """One completion per prompt, ``(N, P) -> (N, L)``, sampled token by token."""
    policy = make_policy(config)
    length = config.completion_length

    def step(completions, inputs):
        t, key = inputs
        logits = policy.apply(params, prompts, completions)[:, t]
        token = jax.random.categorical(key, logits)
        return completions.at[:, t].set(token), None

    start = jnp.zeros((*prompts.shape[:-1], length), jnp.int32)
    completions, _ = jax.lax.scan(step, start, (jnp.arange(length), jax.random.split(key, length)))
    return completions
