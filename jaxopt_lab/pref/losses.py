"""The trainer's view of a preference loss: ``(logps..., beta, loss_params) -> per-pair loss``.

Registry losses (:data:`jaxopt_lab.objectives.PREFERENCE_LOSSES`) ignore ``loss_params``; a
learned loss reads its parameters from there, so they can be traced and vmapped (discovery).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax

from jaxopt_lab.objectives.preference import PreferenceLoss, get_preference_loss

LabLoss = Callable[[jax.Array, jax.Array, jax.Array, jax.Array, jax.Array, Any], jax.Array]


def registry_loss(name: str) -> LabLoss:
    """The registry's ``name`` (ValueError listing the registry if unknown) as a lab loss."""
    return fixed_loss(get_preference_loss(name))


def fixed_loss(loss: PreferenceLoss) -> LabLoss:
    """Any loss with the library signature ``loss(pc, pr, rc, rr, *, beta)`` as a lab loss."""

    def lab_loss(pc, pr, rc, rr, beta, loss_params):
        del loss_params
        return loss(pc, pr, rc, rr, beta=beta)

    return lab_loss


def apply_loss(
    losses: Sequence[LabLoss],
    index: jax.Array,
    logps: tuple[jax.Array, jax.Array, jax.Array, jax.Array],
    beta: jax.Array,
    loss_params: Any,
) -> jax.Array:
    """Per-pair losses of ``losses[index]`` with ``index`` traced (``lax.switch``).

    Under ``vmap`` the switch evaluates every branch and selects, which costs little here: the
    losses are elementwise on the batch of log-probabilities, the policy runs once.
    """
    if len(losses) == 1:
        return losses[0](*logps, beta, loss_params)
    branches = [lambda ops, f=f: f(*ops) for f in losses]
    return jax.lax.switch(index, branches, (*logps, beta, loss_params))
