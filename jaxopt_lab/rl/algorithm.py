"""The algorithm interface of the on-policy trainer.

The trainer (:mod:`jaxopt_lab.rl.trainer`) owns what every algorithm shares: the rollout, GAE,
the critic's fit (``update_epochs`` shuffled passes of ``num_minibatches`` steps), the scan
over updates and the evaluation. An algorithm owns the rest, declared once in its own module:

- its settings: dataclass fields declared with :func:`~jaxopt_lab.fields.static` (program
  structure) or :func:`~jaxopt_lab.fields.traced` (swept by ``vmap``), each with its default,
  its check and its help text (they become ``--flags`` of ``experiments/train.py``);
- its presets: ``preset`` (shared settings it changes wherever it runs, e.g. A2C's 5-step
  rollouts) and ``env_presets`` (tuned for one environment);
- how its actor's state starts (:meth:`Algorithm.init_actor_state`, e.g. an optax state);
- how it updates the actor: a per-minibatch loss optimised in the critic's minibatch loop
  (:class:`MinibatchAlgorithm`, PPO style), or :meth:`Algorithm.update_actor` on the whole
  batch once the critic is fitted (TRPO, MDPO).

``@register`` makes a class an algorithm (a frozen dataclass and a pytree whose children are its
traced fields) and gives it its ``--algo`` name. Instances are the ``algo`` field of
:class:`~jaxopt_lab.rl.config.TrainConfig`; inside the compiled program the trainer calls the
methods of the run's traced instance, so ``self.<field>`` is a tracer for a traced field and
a Python value for a static one, and the shared hyperparameters are read from ``hp``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxopt_lab.fields import config_class
from jaxopt_lab.optim import sam
from jaxopt_lab.rl.distributions import Distribution, make_distribution
from jaxopt_lab.rl.networks import Actor, Critic
from jaxopt_lab.rl.optimizers import optimizer_step

if TYPE_CHECKING:
    from jaxopt_lab.rl.config import TrainConfig

ALGORITHMS: dict[str, type[Algorithm]] = {}
"""Registered algorithms by ``--algo`` name."""


class Batch(NamedTuple):
    """One rollout after GAE, flattened to ``[num_steps * num_envs, ...]``: the behaviour
    policy's ``log_prob`` and the critic's ``value`` at collection time."""

    obs: jax.Array
    action: jax.Array
    log_prob: jax.Array
    value: jax.Array
    advantage: jax.Array
    target: jax.Array


@dataclass(frozen=True)
class Context:
    """What the trainer lends an algorithm: the static config (its traced fields raise when
    read: use ``hp``), the two networks and the optimizer all the run's networks use."""

    config: TrainConfig
    actor: Actor
    critic: Critic

    @property
    def num_updates(self) -> int:
        return self.config.num_updates

    @property
    def steps_per_update(self) -> int:
        """Optimizer steps per update in the minibatch loop: ``update_epochs * num_minibatches``."""
        return self.config.update_epochs * self.config.num_minibatches

    def policy(self, actor_params: Any, obs: jax.Array) -> Distribution:
        return make_distribution(self.actor.apply(actor_params, obs))

    def value(self, critic_params: Any, obs: jax.Array) -> jax.Array:
        return self.critic.apply(critic_params, obs)

    def advantages(self, batch: Batch) -> jax.Array:
        """The batch's advantages, normalised to zero mean and unit std if configured."""
        advantage = batch.advantage
        if not self.config.normalize_advantages:
            return advantage
        return (advantage - advantage.mean()) / (advantage.std() + 1e-8)

    def optimizer(
        self, hp: TrainConfig, steps_per_update: int | None = None
    ) -> optax.GradientTransformationExtraArgs:
        """``clip_by_global_norm(max_grad_norm)`` then the configured optimizer (wrapped in SAM
        if configured), its learning rate annealed linearly to 0 over the run if configured:
        ``lr * (1 - k / num_updates)`` during update ``k``, counting ``steps_per_update``
        optimizer steps per update (default: the minibatch loop's)."""
        steps = steps_per_update or self.steps_per_update
        learning_rate: Any = hp.learning_rate
        if self.config.anneal_lr:

            def learning_rate(count: jax.Array) -> jax.Array:
                done = (count // steps).astype(jnp.float32)
                return hp.learning_rate * (1.0 - done / self.num_updates)

        step = optimizer_step(self.config.optimizer, learning_rate)
        optimizer = optax.chain(optax.clip_by_global_norm(hp.max_grad_norm), step)
        if self.config.sam_rho is None:
            return optax.with_extra_args_support(optimizer)
        # SAM perturbs along the raw gradient; the clip then applies to the perturbed one.
        return sam(optimizer, rho=self.config.sam_rho)


class Algorithm:
    """Base class of the algorithms (see the module docstring). Subclasses are decorated with
    :func:`register` and set ``name``; the defaults below give an actor with no state that
    does not change."""

    name: ClassVar[str]
    preset: ClassVar[Mapping[str, Any]] = {}
    """Shared settings this algorithm changes, over the environment's preset."""
    env_presets: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    """Settings tuned for one environment (shared or this algorithm's own), over ``preset``."""

    def check_config(self, config: TrainConfig) -> None:
        """Raise ``ValueError`` if the shared settings do not suit this algorithm."""

    def init_actor_state(self, ctx: Context, actor: Any, hp: TrainConfig) -> Any:
        """The actor's state when training starts (an optimizer state, or ``None``)."""
        return None

    def update_actor(
        self,
        ctx: Context,
        actor: Any,
        actor_state: Any,
        batch: Batch,
        hp: TrainConfig,
        update: jax.Array,
    ) -> tuple[Any, Any, dict[str, jax.Array]]:
        """Update the actor from the whole batch after the critic's fit (update ``update`` of
        ``ctx.num_updates``). Returns the actor, its state and diagnostics, which must include
        ``actor_loss``, the objective the update minimised, when the actor changes here."""
        return actor, actor_state, {}

    def to_dict(self) -> dict[str, Any]:
        """``{"name": ..., field: value, ...}``; a traced pytree field (weights) is left out."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {"name": self.name, **{k: v for k, v in fields.items() if _is_plain(v)}}


class MinibatchAlgorithm(Algorithm):
    """An actor trained PPO-style: :meth:`actor_loss` on each minibatch of the critic's
    minibatch loop, with the run's optimizer (``ctx.optimizer(hp)``) and its own state."""

    def init_actor_state(self, ctx: Context, actor: Any, hp: TrainConfig) -> Any:
        return ctx.optimizer(hp).init(actor)

    def actor_loss(
        self, ctx: Context, actor: Any, minibatch: Batch, hp: TrainConfig, update: jax.Array
    ) -> tuple[jax.Array, dict[str, jax.Array]]:
        """``(loss, diagnostics)`` of the actor on one minibatch of update ``update``."""
        raise NotImplementedError


def _is_plain(value: Any) -> bool:
    if type(value) is tuple:
        return all(map(_is_plain, value))
    return value is None or isinstance(value, bool | int | float | str)


def register(cls: type[Algorithm]) -> type[Algorithm]:
    """Make ``cls`` an algorithm: a frozen dataclass and a pytree of its traced fields, known
    to ``config_for`` and ``--algo`` by its ``name``."""
    if not isinstance(getattr(cls, "name", None), str):
        raise TypeError(f"{cls.__name__}: set the class attribute name = '<algo name>'")
    cls = config_class(cls)
    ALGORITHMS[cls.name] = cls
    return cls


def algorithm_names() -> tuple[str, ...]:
    return tuple(ALGORITHMS)


def own_fields(algo: type[Algorithm] | Algorithm) -> dict[str, dataclasses.Field]:
    """An algorithm's own settings by name."""
    return {f.name: f for f in dataclasses.fields(algo)}
