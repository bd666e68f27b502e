"""The synthetic sequence task: a demonstrator "language", a known reward, Bradley-Terry labels.

Tokens ``0 .. V-1``. A fixed Markov chain (transition rows ~ Dirichlet(alpha), drawn from
``task_seed``) generates the prompts ``x`` (first token uniform) and the demonstrations ``y``
(continuing the chain from the prompt's last token): a reward-agnostic language model, the
analogue of the IMDb text the DiscoPOP paper's GPT-2 is fine-tuned on. The ground-truth reward,
the analogue of its sentiment classifier, is

    r(x, y) = tau(x) * mean_t s(y_t) - c * mean_t 1[y_t = y_{t-1}],

with token sentiments ``s(v) = -1 + 2 v / (V - 1)``, the prompt's topic ``tau(x) = +1`` if
``x_0 < V / 2`` else ``-1`` (the policy must read the prompt) and a repetition penalty ``c``
(so the reward is not a sum of independent token rewards). Preferences follow the
Bradley-Terry model ``P(y1 > y2 | x) = sigma(k (r(x, y1) - r(x, y2)))`` (Bradley and Terry 1952;
the preference model behind DPO, Rafailov et al. 2023).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxopt_lab.pref.config import LabConfig


def transition_matrix(config: LabConfig) -> jax.Array:
    """The demonstrator's ``(V, V)`` transition probabilities (fixed by ``task_seed``).

    A constant of the task: evaluated eagerly even while tracing, so no sampler enters
    compiled programs.
    """
    with jax.ensure_compile_time_eval():
        alpha = jnp.full((config.vocab_size,), config.dirichlet_alpha)
        key = jax.random.key(config.task_seed)
        return jax.random.dirichlet(key, alpha, (config.vocab_size,))


def _chain(key: jax.Array, first: jax.Array, transitions: jax.Array, length: int) -> jax.Array:
    """``length`` tokens of the Markov chain after token ``first`` (``first`` excluded)."""

    def step(token, key):
        nxt = jax.random.categorical(key, jnp.log(transitions[token]))
        return nxt, nxt

    _, tokens = jax.lax.scan(step, first, jax.random.split(key, length))
    return tokens


def sample_prompts(key: jax.Array, config: LabConfig, num: int) -> jax.Array:
    """``(num, P)`` prompts of the demonstrator's language."""
    transitions = transition_matrix(config)

    def one(key):
        k0, k1 = jax.random.split(key)
        first = jax.random.randint(k0, (), 0, config.vocab_size)
        rest = _chain(k1, first, transitions, config.prompt_length - 1)
        return jnp.concatenate([first[None], rest])

    return jax.vmap(one)(jax.random.split(key, num))


def sample_demonstrations(key: jax.Array, config: LabConfig, num: int) -> tuple[jax.Array, ...]:
    """``(prompts, completions)``: ``num`` demonstrations of the language (for the SFT)."""
    kp, kc = jax.random.split(key)
    prompts = sample_prompts(kp, config, num)
    transitions = transition_matrix(config)
    completions = jax.vmap(lambda k, x: _chain(k, x[-1], transitions, config.completion_length))(
        jax.random.split(kc, num), prompts
    )
    return prompts, completions


def true_reward(config: LabConfig, prompts: jax.Array, completions: jax.Array) -> jax.Array:
    """Ground-truth reward ``r(x, y)`` of each prompt/completion (leading axes broadcast).

    Computed from integer counts, so completions with equal counts tie exactly.
    """
    v, length = config.vocab_size, config.completion_length
    sentiment_sum = (2 * completions - (v - 1)).sum(-1)  # (v - 1) * L * mean_t s(y_t)
    topic = jnp.where(prompts[..., 0] < v / 2, 1.0, -1.0)
    repeats = (completions[..., 1:] == completions[..., :-1]).sum(-1)
    return topic * sentiment_sum / ((v - 1) * length) - config.repeat_penalty * repeats / (
        length - 1
    )


def bradley_terry_prob(reward_a: jax.Array, reward_b: jax.Array, scale: float) -> jax.Array:
    """``P(a preferred to b) = sigma(scale (r_a - r_b))``."""
    return jax.nn.sigmoid(scale * (reward_a - reward_b))


def label_pairs(
    key: jax.Array, reward_a: jax.Array, reward_b: jax.Array, scale: float
) -> jax.Array:
    """Sample Bradley-Terry labels: True where ``a`` is the chosen completion."""
    return jax.random.bernoulli(key, bradley_terry_prob(reward_a, reward_b, scale))
