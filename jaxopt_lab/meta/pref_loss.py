"""A parameterised family of preference losses of ``x = beta * rho``, for discovery by ES.

    f_theta(x) = sum_k softplus(a_k) softplus(-(softplus(b_k) x + c_k))
               + sum_k softplus(d_k) sigmoid(-(softplus(e_k) x + g_k)),

a mixture of logistic (convex, unbounded as ``x -> -inf``, like DPO's ``-log sigma(x)``) and
sigmoid (bounded, like APO / KTO) units with positive weights and slopes, so every member is
non-increasing in ``x``: a sensible preference loss that never rewards lowering the chosen
completion's margin. The family contains DPO (Rafailov et al. 2023) exactly in the limit of
zero weights on all but one logistic unit, and smooth approximations of DiscoPOP's
logistic/exponential blend (Lu et al. 2024, "Discovering Preference Optimization Algorithms
with and for LLMs"), whose gated search space inspired it. :func:`dpo_init` starts there.

A discovered loss is stored with :func:`jaxopt_lab.meta.save_pytree` (``mean.npz`` of an ES
run) and loaded with :func:`load_learned_loss`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxopt_lab._pytree_io import load_pytree
from jaxopt_lab.objectives.preference import PreferenceLoss, validate_preference_inputs

FAMILY = "monotone_logistic_sigmoid_mixture"
NUM_UNITS = 4
"""Units of each kind; ``4 + 4`` units, 24 parameters."""

_OFF = -4.0  # softplus(-4) = 0.018: a unit that starts (almost) switched off
_SLOPES = (1.0, 0.5, 2.0, 4.0)
_OFFSETS = (0.0, 1.0, -1.0, 2.0)


def _inverse_softplus(y: np.ndarray) -> np.ndarray:
    return np.log(np.expm1(y))


def dpo_init() -> dict[str, jax.Array]:
    """Parameters of (almost) DPO: one logistic unit of weight 1 and slope 1, the rest near 0."""
    weights = np.full(NUM_UNITS, _OFF)
    weights[0] = _inverse_softplus(np.array(1.0))
    slopes = _inverse_softplus(np.array(_SLOPES))
    offsets = np.array(_OFFSETS)
    as_array = lambda v: jnp.asarray(v, jnp.float32)  # noqa: E731
    return {
        "logistic_weight": as_array(weights),
        "logistic_slope": as_array(slopes),
        "logistic_offset": as_array(offsets),
        "sigmoid_weight": as_array(np.full(NUM_UNITS, _OFF)),
        "sigmoid_slope": as_array(slopes),
        "sigmoid_offset": as_array(offsets),
    }


def family_value(params: dict[str, jax.Array], x: ArrayLike) -> jax.Array:
    """``f_theta(x)`` elementwise (see the module docstring)."""
    x = jnp.asarray(x)[..., None]
    sp = jax.nn.softplus
    logistic = sp(params["logistic_weight"]) * sp(
        -(sp(params["logistic_slope"]) * x + params["logistic_offset"])
    )
    bounded = sp(params["sigmoid_weight"]) * jax.nn.sigmoid(
        -(sp(params["sigmoid_slope"]) * x + params["sigmoid_offset"])
    )
    return logistic.sum(-1) + bounded.sum(-1)


def learned_preference_loss(
    policy_chosen_logps: ArrayLike,
    policy_rejected_logps: ArrayLike,
    reference_chosen_logps: ArrayLike,
    reference_rejected_logps: ArrayLike,
    *,
    beta: ArrayLike,
    params: dict[str, jax.Array],
) -> jax.Array:
    """Per-pair ``f_theta(beta * rho)``, the library's preference-loss signature plus ``params``."""
    validate_preference_inputs(
        policy_chosen_logps,
        policy_rejected_logps,
        reference_chosen_logps,
        reference_rejected_logps,
        beta,
    )
    rho = (jnp.asarray(policy_chosen_logps) - jnp.asarray(reference_chosen_logps)) - (
        jnp.asarray(policy_rejected_logps) - jnp.asarray(reference_rejected_logps)
    )
    return family_value(params, beta * rho)


def metadata() -> dict[str, Any]:
    """What a saved loss file must declare to be loaded as this family."""
    return {"family": FAMILY, "num_units": NUM_UNITS}


def resolve_loss_file(path: str | os.PathLike) -> Path:
    """``path`` itself, or ``path/mean.npz`` for the directory of a discovery run."""
    path = Path(path)
    return path / "mean.npz" if path.is_dir() else path


def load_learned_loss(path: str | os.PathLike) -> tuple[PreferenceLoss, dict[str, jax.Array]]:
    """``(loss, params)`` of a discovered loss; ``loss`` has the library signature.

    ``path`` is the ``mean.npz`` written by ``experiments/discover_loss.py`` or its run
    directory. ValueError (naming the file) if it is missing, unreadable or of another family.
    """
    file = resolve_loss_file(path)
    if not file.is_file():
        raise ValueError(
            f"loss checkpoint {path}: not found (expected a discovery run directory "
            "holding mean.npz, or the .npz file itself)"
        )
    try:
        params, _ = load_pytree(file, dpo_init(), expect=metadata())
    except ValueError as error:
        raise ValueError(f"loss checkpoint {error}") from None  # the error names the file
    params = jax.tree.map(jnp.asarray, params)
    if not all(bool(jnp.all(jnp.isfinite(p))) for p in jax.tree.leaves(params)):
        raise ValueError(f"loss checkpoint {path}: holds non-finite parameters")

    def loss(pc, pr, rc, rr, *, beta):
        return learned_preference_loss(pc, pr, rc, rr, beta=beta, params=params)

    return loss, params
