"""On-policy MDPO (Tomar et al. 2022, "Mirror Descent Policy Optimization").

At update ``k`` of ``K`` the actor takes ``mdpo_steps`` full-batch gradient steps (the paper:
10 Adam steps at lr 3e-4) on ``mean(r A) - mean_s KL(pi_new(.|s) || pi_old(.|s)) / t_k``,
``t_k = 1 - k / K`` (the penalty grows as training proceeds; the KL is of the NEW policy from
the OLD one, the reverse of TRPO's), plus the shared entropy bonus. The critic is fitted by
the trainer's minibatch loop as for PPO.
"""

from __future__ import annotations

from typing import Any, ClassVar

import jax
import jax.numpy as jnp

from jaxopt_lab.fields import at_least, static
from jaxopt_lab.objectives import mdpo_loss
from jaxopt_lab.rl.algorithm import Algorithm, Batch, Context, register
from jaxopt_lab.rl.learn import gradient_step


@register
class MDPO(Algorithm):
    name: ClassVar[str] = "mdpo"
    # The critic's loss is not rescaled (vf_coef 1), as the paper fits it on its own.
    preset: ClassVar[dict[str, Any]] = {"learning_rate": 3e-4, "ent_coef": 0.0, "vf_coef": 1.0}

    mdpo_steps: int = static(10, at_least(1), "MDPO's full-batch actor steps per update")

    def init_actor_state(self, ctx: Context, actor: Any, hp: Any) -> Any:
        return ctx.optimizer(hp, self.mdpo_steps).init(actor)

    def update_actor(
        self, ctx: Context, actor: Any, actor_state: Any, batch: Batch, hp: Any, update: jax.Array
    ) -> tuple[Any, Any, dict[str, jax.Array]]:
        step_size = 1.0 - update.astype(jnp.float32) / ctx.num_updates
        old = jax.lax.stop_gradient(ctx.policy(actor, batch.obs))
        advantages = ctx.advantages(batch)
        optimizer = ctx.optimizer(hp, self.mdpo_steps)

        def loss_fn(actor: Any) -> tuple[jax.Array, dict[str, jax.Array]]:
            dist = ctx.policy(actor, batch.obs)
            ratio = jnp.exp(dist.log_prob(batch.action) - batch.log_prob)
            kl = dist.kl(old)
            entropy = dist.entropy().mean()
            policy_loss = mdpo_loss(ratio, advantages, kl, step_size)
            diagnostics = {"policy_loss": policy_loss, "kl_new_old": kl.mean(), "entropy": entropy}
            return policy_loss - hp.ent_coef * entropy, diagnostics

        def step(carry: tuple[Any, Any], _: None) -> tuple[tuple[Any, Any], dict]:
            return gradient_step(loss_fn, *carry, optimizer, "actor")

        (actor, actor_state), diagnostics = jax.lax.scan(
            step, (actor, actor_state), None, self.mdpo_steps
        )
        diagnostics = jax.tree.map(lambda x: x[-1], diagnostics)
        return actor, actor_state, {**diagnostics, "mdpo_step_size": step_size}
