"""PPO, A2C, the discovered DPO drift and learned LPO drifts: one mirror-learning objective.

Mirror learning (Kuba et al. 2022): each update maximises ``E[r A - drift(r, A)]`` with
``r = pi(a|s) / pi_old(a|s)``, a drift ``>= 0`` that vanishes with its slope at ``r = 1``; the
actor minimises ``-mean(r A - drift(r, A)) - ent_coef * entropy`` on every minibatch of the
trainer's minibatch loop (advantages normalised per minibatch if configured). The four
algorithms differ only in the drift (:mod:`jaxopt_lab.objectives`) and their presets.
"""

from __future__ import annotations

from functools import partial
from typing import Any, ClassVar

import jax
import jax.numpy as jnp

from jaxopt_lab.fields import is_concrete, positive, static, traced
from jaxopt_lab.objectives import discovered_drift, drift_policy_loss, learned_drift, ppo_drift
from jaxopt_lab.objectives.learned_drift import (
    LearnedDriftParams,
    check_drift_params,
    load_drift_params,
)
from jaxopt_lab.rl.algorithm import Batch, Context, MinibatchAlgorithm, register


class DriftAlgorithm(MinibatchAlgorithm):
    """A mirror-learning actor: subclasses define :meth:`drift`."""

    def drift(
        self, ratio: jax.Array, advantages: jax.Array, hp: Any, progress: jax.Array
    ) -> jax.Array:
        """The drift at training progress ``k / K`` (seen only by a temporally-aware one)."""
        raise NotImplementedError

    def actor_loss(
        self, ctx: Context, actor: Any, minibatch: Batch, hp: Any, update: jax.Array
    ) -> tuple[jax.Array, dict[str, jax.Array]]:
        dist = ctx.policy(actor, minibatch.obs)
        log_ratio = dist.log_prob(minibatch.action) - minibatch.log_prob
        ratio = jnp.exp(log_ratio)
        progress = update.astype(jnp.float32) / ctx.num_updates
        drift = partial(self.drift, hp=hp, progress=progress)
        policy_loss = drift_policy_loss(drift, ratio, ctx.advantages(minibatch))
        entropy = dist.entropy().mean()
        return policy_loss - hp.ent_coef * entropy, {
            "policy_loss": policy_loss,
            "entropy": entropy,
            "approx_kl": jnp.mean((ratio - 1.0) - log_ratio),
            "clip_fraction": jnp.mean(jnp.abs(ratio - 1.0) > hp.clip_eps),
        }


@register
class PPO(DriftAlgorithm):
    """PPO (Schulman et al. 2017): the clip drift ``relu((r - clip(r, 1 - eps, 1 + eps)) A)``
    with the shared ``clip_eps``."""

    name: ClassVar[str] = "ppo"

    def drift(
        self, ratio: jax.Array, advantages: jax.Array, hp: Any, progress: jax.Array
    ) -> jax.Array:
        return ppo_drift(ratio, advantages, hp.clip_eps)


@register
class A2C(PPO):
    """A2C as a special case of PPO (Huang et al. 2022, "A2C is a special case of PPO"): one
    full-batch step per 5-step rollout, so ``r = 1`` at the only step and the clip never
    binds; no advantage normalisation or value clipping, no entropy bonus, lr 7e-4 constant,
    PyTorch's RMSprop (optax's defaults differ: decay 0.9, eps 1e-8 inside the sqrt)."""

    name: ClassVar[str] = "a2c"
    preset: ClassVar[dict[str, Any]] = {
        "num_steps": 5,
        "update_epochs": 1,
        "num_minibatches": 1,
        "gae_lambda": 1.0,
        "normalize_advantages": False,
        "clip_value_loss": False,
        "ent_coef": 0.0,
        "learning_rate": 7e-4,
        "anneal_lr": False,
        "max_grad_norm": 0.5,
        "vf_coef": 0.5,
        "optimizer": "rmsprop",
    }


@register
class DPO(DriftAlgorithm):
    """The closed-form drift of "Discovered Policy Optimisation" (Lu et al. 2022), not Direct
    Preference Optimization: ``A >= 0: relu((r-1) A - alpha tanh((r-1) A / alpha))``,
    ``A < 0: relu(log(r) A - beta tanh(log(r) A / beta))``."""

    name: ClassVar[str] = "dpo"
    env_presets: ClassVar[dict[str, dict[str, Any]]] = {
        # With the paper's alpha = 2 the drift barely restrains steps on positive advantages
        # here: the policy's entropy rose from 1.42 to 1.60 during training (PPO's fell to 0.75)
        # and the final return stalled near 700. Final return (gamma 0.99, 2e6 steps, two sets
        # of 4 seeds): alpha 2: 713; 1: 793; 0.5: 764; 0.25: 955 and 849; 0.1: 915.
        "brax/inverted_pendulum": {"dpo_alpha": 0.25},
    }

    dpo_alpha: float = traced(2.0, positive, "DPO drift's alpha (positive advantages)")
    dpo_beta: float = traced(0.6, positive, "DPO drift's beta (negative advantages)")

    def drift(
        self, ratio: jax.Array, advantages: jax.Array, hp: Any, progress: jax.Array
    ) -> jax.Array:
        return discovered_drift(ratio, advantages, self.dpo_alpha, self.dpo_beta)


@register
class LPO(DriftAlgorithm):
    """Learned Policy Optimisation (Lu et al. 2022): PPO's setting with a learned drift
    ``relu(f_phi(x) - 1e-4)`` (:func:`jaxopt_lab.objectives.learned_drift`), or TA-LPO's
    (Jackson et al. 2024) that also sees the training progress ``k / K``. The drift's
    parameters are traced, so one program trains a population of drifts (meta-training);
    ``drift_file`` loads them from a file of ``experiments/lpo_meta.py``."""

    name: ClassVar[str] = "lpo"

    drift_file: str | None = static(
        None, None, "learned drift file (mean.npz of experiments/lpo_meta.py)"
    )
    drift_params: LearnedDriftParams | None = traced(None, None, "learned drift", cli=False)

    def _resolve(self) -> None:
        """Read the drift file, once: when the instance is first built from it (copies and
        the traced instances inside the compiled program carry the loaded parameters)."""
        if self.drift_params is None and self.drift_file is not None:
            object.__setattr__(self, "drift_params", load_drift_params(self.drift_file))

    def _check(self) -> None:
        if self.drift_params is None:
            raise ValueError(
                "drift_file: algo lpo needs a learned drift: --drift-file PATH (a mean.npz "
                "written by experiments/lpo_meta.py), or drift_params"
            )
        weights = self.drift_params.weights
        if all(map(is_concrete, weights.values())):
            check_drift_params("drift_params", weights)

    def drift(
        self, ratio: jax.Array, advantages: jax.Array, hp: Any, progress: jax.Array
    ) -> jax.Array:
        return learned_drift(ratio, advantages, self.drift_params, progress)
