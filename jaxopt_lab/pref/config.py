"""Static configuration of the preference-learning lab and its traced hyperparameters."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_lab.fields import at_least, non_negative, positive, rng_seed


class PrefHParams(NamedTuple):
    """Traced values of one preference-training run (``vmap`` sweeps them).

    ``loss_index`` picks one of the trainer's losses (``lax.switch``); ``loss_params`` is the
    parameter pytree of a learned loss (``()`` for the registry's fixed losses).
    """

    beta: jax.Array
    learning_rate: jax.Array
    loss_index: jax.Array
    loss_params: Any = ()


@dataclass(frozen=True)
class LabConfig:
    """The synthetic task, the policy, the reference's SFT and the preference training.

    Task: prompts of prompt_length and completions of completion_length tokens over
    vocab_size tokens (jaxopt_lab.pref.task). Every setting here is static; the swept numbers
    (beta, learning rate, loss) are the traced PrefHParams.
    """

    vocab_size: int = 8
    """Tokens in the vocabulary."""
    prompt_length: int = 4
    """Tokens per prompt."""
    completion_length: int = 6
    """Tokens per completion."""
    task_seed: int = 0
    """Seed of the demonstrator's transition matrix (the fixed "language" of the task)."""
    dirichlet_alpha: float = 0.5
    """Concentration of the demonstrator's transition rows (small: peaked, language-like)."""
    repeat_penalty: float = 0.5
    """Ground-truth reward lost per repeated adjacent token (fraction of the L - 1 pairs)."""
    bt_scale: float = 4.0
    """Inverse temperature of the Bradley-Terry labeller: P(y1 > y2) = sigma(s (r1 - r2))."""
    hidden: int = 64
    """Width of the policy's embeddings and hidden layer."""
    num_demos: int = 8192
    """Demonstrations the reference policy is fine-tuned on (SFT)."""
    sft_steps: int = 600
    """SFT steps of the reference policy."""
    sft_batch_size: int = 256
    """Demonstrations per SFT step."""
    sft_learning_rate: float = 3e-3
    """SFT learning rate."""
    num_pairs: int = 4096
    """Preference pairs per data seed, labelled by the Bradley-Terry labeller."""
    num_steps: int = 200
    """Preference-training steps per run."""
    batch_size: int = 64
    """Pairs per preference-training step (at most num_pairs)."""
    log_every: int = 10
    """Steps between logged training metrics (a divisor of num_steps)."""
    eval_prompts: int = 256
    """Held-out prompts for the final reward and KL estimates."""
    eval_samples: int = 4
    """Completions sampled per held-out prompt for the reward and KL estimates."""

    def validate(self) -> None:
        """Raise ValueError naming the first field out of range."""
        counts = (
            "vocab_size",
            "prompt_length",
            "completion_length",
            "hidden",
            "num_demos",
            "sft_steps",
            "sft_batch_size",
            "num_pairs",
            "num_steps",
            "batch_size",
            "log_every",
            "eval_prompts",
            "eval_samples",
        )
        for name in counts:
            at_least(1)(name, getattr(self, name))
        at_least(2)("vocab_size", self.vocab_size)
        at_least(2)("completion_length", self.completion_length)
        rng_seed("task_seed", self.task_seed)
        for name in ("dirichlet_alpha", "bt_scale", "sft_learning_rate"):
            positive(name, getattr(self, name))
        non_negative("repeat_penalty", self.repeat_penalty)
        if self.num_steps % self.log_every:
            raise ValueError(
                f"log_every: got {self.log_every}; must divide num_steps ({self.num_steps})"
            )
        if self.batch_size > self.num_pairs:
            raise ValueError(
                f"batch_size: got {self.batch_size}; must be <= num_pairs ({self.num_pairs})"
            )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def num_params(self) -> int:
        """Parameters of the policy: prompt and token embeddings, position, two dense layers."""
        v, h, length = self.vocab_size, self.hidden, self.completion_length
        return self.prompt_length * v * h + length * v * h + length * h + h * h + h + h * v + v

    def _sequence_floats(self) -> int:
        """Float32 activations alive per completion in a forward pass (``[L, H]`` layers and
        ``[L, V]`` logits)."""
        return self.completion_length * (4 * self.hidden + 2 * self.vocab_size)

    def run_bytes(self) -> int:
        """Estimated peak memory of one preference-training run (a sweep holds one per run):
        parameters, Adam's moments and the gradient, the metrics, and the activations of the
        larger of a training step (``2 batch_size`` completions, forward and backward) and the
        evaluation (``eval_prompts x eval_samples`` completions); x2 for XLA's temporaries."""
        sequences = max(4 * self.batch_size, self.eval_prompts * self.eval_samples)
        floats = 4 * self.num_params() + 4 * self.num_steps + sequences * self._sequence_floats()
        return 2 * 4 * floats

    def lab_bytes(self) -> int:
        """Estimated peak memory of one data seed's lab (shared by its runs): demonstrations,
        pairs with their reference log-probabilities, evaluation prompts, the reference's
        parameters and its SFT step's activations; x2 for XLA's temporaries."""
        tokens = (
            self.num_demos * (self.prompt_length + self.completion_length)
            + self.num_pairs * (self.prompt_length + 2 * self.completion_length + 2)
            + self.eval_prompts * self.prompt_length
        )
        sft = 2 * self.sft_batch_size * self._sequence_floats()
        return 2 * 4 * (tokens + 4 * self.num_params() + sft)


def make_hparams(
    beta: float | jax.Array, learning_rate: float | jax.Array, loss_index: int | jax.Array = 0
) -> PrefHParams:
    """:class:`PrefHParams` as arrays (broadcast together, so vectors give a sweep)."""
    beta, learning_rate, loss_index = jnp.broadcast_arrays(
        jnp.asarray(beta, jnp.float32),
        jnp.asarray(learning_rate, jnp.float32),
        jnp.asarray(loss_index, jnp.int32),
    )
    return PrefHParams(beta, learning_rate, loss_index)
