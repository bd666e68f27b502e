"""Preference-optimisation losses as pure functions of policy and reference log-probabilities.

Every loss has the signature ``loss(policy_chosen_logps, policy_rejected_logps,
reference_chosen_logps, reference_rejected_logps, *, beta, ...) -> per-pair losses`` (same shape
as the inputs; reduce with ``mean`` yourself). Notation, for a pair of a chosen (w) and a
rejected (l) completion: ``h_w = logp_w - logref_w``, ``h_l = logp_l - logref_l``,
``rho = h_w - h_l`` and ``x = beta * rho``; ``sigma`` is the logistic function.

References: Rafailov et al. 2023 (DPO); Azar et al. 2023 (IPO); Lu et al. 2024, "Discovering
Preference Optimization Algorithms with and for LLMs" (DiscoPOP and the other discovered losses,
whose definitions follow the authors' code); TRL's ``DPOTrainer`` for the ``loss_type`` names
(trl 1.16, see SPEC section 4). Losses in :data:`BATCH_DEPENDENT_LOSSES` use statistics of the
whole input (all pairs, all axes), so a pair's loss depends on the rest of the batch; call them
on one batch at a time (``vmap`` over seeds or configurations, not over pairs).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

PreferenceLoss = Callable[..., jax.Array]

_ARG_NAMES = (
    "policy_chosen_logps",
    "policy_rejected_logps",
    "reference_chosen_logps",
    "reference_rejected_logps",
)


def _check_concrete(
    name: str, value: ArrayLike, ok: Callable[[np.ndarray], np.ndarray], rule: str
) -> None:
    """Raise ValueError if a concrete (not traced) hyperparameter breaks ``rule``."""
    if isinstance(value, jax.core.Tracer):
        return
    if not np.all(ok(np.asarray(value))):
        raise ValueError(f"{name} must be {rule}, got {value!r}")


def validate_preference_inputs(
    policy_chosen_logps: ArrayLike,
    policy_rejected_logps: ArrayLike,
    reference_chosen_logps: ArrayLike,
    reference_rejected_logps: ArrayLike,
    beta: ArrayLike,
) -> None:
    """Raise ValueError for log-probability arrays of different shapes or ``beta <= 0``.

    Shapes are checked always (also while tracing); ``beta`` only when it is a concrete number
    or array, so a traced ``beta`` inside ``jit``/``vmap`` passes through unchecked.
    """
    arrays = (
        policy_chosen_logps,
        policy_rejected_logps,
        reference_chosen_logps,
        reference_rejected_logps,
    )
    expected = jnp.shape(policy_chosen_logps)
    for name, array in zip(_ARG_NAMES[1:], arrays[1:], strict=True):
        if jnp.shape(array) != expected:
            raise ValueError(
                f"{name} has shape {jnp.shape(array)} but policy_chosen_logps has shape "
                f"{expected}: all four log-probability arrays must have the same shape"
            )
    _check_concrete("beta", beta, lambda b: b > 0, "> 0")


def _logratios(
    pc: ArrayLike, pr: ArrayLike, rc: ArrayLike, rr: ArrayLike, beta: ArrayLike
) -> tuple[jax.Array, jax.Array]:
    """Validate the inputs and return ``(h_w, h_l)``, the chosen and rejected log-ratios."""
    validate_preference_inputs(pc, pr, rc, rr, beta)
    return jnp.asarray(pc) - jnp.asarray(rc), jnp.asarray(pr) - jnp.asarray(rr)


def _margin(
    pc: ArrayLike, pr: ArrayLike, rc: ArrayLike, rr: ArrayLike, beta: ArrayLike
) -> jax.Array:
    """Validate the inputs and return ``x = beta * rho``."""
    h_w, h_l = _logratios(pc, pr, rc, rr, beta)
    return beta * (h_w - h_l)


def _batch_std_var(z: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Unbiased (as torch's default) std and variance over all of ``z``, NaN-free gradients.

    A batch of one falls back to the biased estimate (zero); at zero variance the gradient of
    the std is set to 0 instead of ``0 / 0``.
    """
    var = jnp.var(z, ddof=1 if z.size > 1 else 0)
    positive = var > 0
    std = jnp.where(positive, jnp.sqrt(jnp.where(positive, var, 1.0)), 0.0)
    return std, var


def implicit_rewards(
    policy_chosen_logps: ArrayLike,
    policy_rejected_logps: ArrayLike,
    reference_chosen_logps: ArrayLike,
    reference_rejected_logps: ArrayLike,
    *,
    beta: ArrayLike,
) -> tuple[jax.Array, jax.Array]:
    """DPO's implicit rewards ``(beta * h_w, beta * h_l)`` (Rafailov et al. 2023, eq. 5)."""
    h_w, h_l = _logratios(
        policy_chosen_logps,
        policy_rejected_logps,
        reference_chosen_logps,
        reference_rejected_logps,
        beta,
    )
    return beta * h_w, beta * h_l


def sigmoid_loss(
    policy_chosen_logps: ArrayLike,
    policy_rejected_logps: ArrayLike,
    reference_chosen_logps: ArrayLike,
    reference_rejected_logps: ArrayLike,
    *,
    beta: ArrayLike,
    label_smoothing: float = 0.0,
) -> jax.Array:
    """DPO (Rafailov et al. 2023), conservative with label smoothing ``eps`` in [0, 1] (TRL).

    ``-(1 - eps) log sigma(x) - eps log sigma(-x)``.
    """
    _check_concrete("label_smoothing", label_smoothing, lambda e: (e >= 0) & (e <= 1), "in [0, 1]")
    x = _margin(
        policy_chosen_logps,
        policy_rejected_logps,
        reference_chosen_logps,
        reference_rejected_logps,
        beta,
    )
    eps = label_smoothing
    return -(1 - eps) * jax.nn.log_sigmoid(x) - eps * jax.nn.log_sigmoid(-x)


def robust_loss(
    policy_chosen_logps: ArrayLike,
    policy_rejected_logps: ArrayLike,
    reference_chosen_logps: ArrayLike,
    reference_rejected_logps: ArrayLike,
    *,
    beta: ArrayLike,
    label_smoothing: float = 0.0,
) -> jax.Array:
    """Robust DPO (Chowdhury et al. 2024; TRL ``robust``), unbiased under label-flip rate eps.

    ``(-(1 - eps) log sigma(x) + eps log sigma(-x)) / (1 - 2 eps)``, ``eps`` in [0, 0.5).
    """
    _check_concrete(
        "label_smoothing", label_smoothing, lambda e: (e >= 0) & (e < 0.5), "in [0, 0.5)"
    )
    x = _margin(
        policy_chosen_logps,
        policy_rejected_logps,
        reference_chosen_logps,
        reference_rejected_logps,
        beta,
    )
    eps = label_smoothing
    return (-(1 - eps) * jax.nn.log_sigmoid(x) + eps * jax.nn.log_sigmoid(-x)) / (1 - 2 * eps)


def hinge_loss(
    policy_chosen_logps: ArrayLike,
    policy_rejected_logps: ArrayLike,
    reference_chosen_logps: ArrayLike,
    reference_rejected_logps: ArrayLike,
    *,
    beta: ArrayLike,
) -> jax.Array:
    """SLiC's hinge loss (Zhao et al. 2023; TRL ``hinge``): ``relu(1 - x)``."""
    x = _margin(
        policy_chosen_logps,
        policy_rejected_logps,
        reference_chosen_logps,
        reference_rejected_logps,
        beta,
    )
    return jax.nn.relu(1 - x)


def ipo_loss(
    policy_chosen_logps: ArrayLike,
    policy_rejected_logps: ArrayLike,
    reference_chosen_logps: ArrayLike,
    reference_rejected_logps: ArrayLike,
    *,
    beta: ArrayLike,
) -> jax.Array:
    """IPO (Azar et al. 2023, eq. 17; TRL ``ipo``): ``(rho - 1 / (2 beta))^2``.

    TRL feeds IPO per-token mean log-probabilities; pass those for the same behaviour.
    """
    h_w, h_l = _logratios(
        policy_chosen_logps,
        policy_rejected_logps,
        reference_chosen_logps,
        reference_rejected_logps,
        beta,
    )
    return (h_w - h_l - 1 / (2 * beta)) ** 2


def kto_pair_loss(
    policy_chosen_logps: ArrayLike,
    policy_rejected_logps: ArrayLike,
    reference_chosen_logps: ArrayLike,
    reference_rejected_logps: ArrayLike,
    *,
    beta: ArrayLike,
) -> jax.Array:
    """Paired KTO (Ethayarajh et al. 2024, HALOs eq. 7), as TRL's DPOTrainer ``kto_pair``.

    With batch KL estimates ``KL_w = max(mean(h_w), 0)``, ``KL_l = max(mean(h_l), 0)``:
    ``0.5 * [(1 - sigma(beta (h_w - KL_l))) + (1 - sigma(beta (KL_w - h_l)))]``. Batch-dependent
    (the means run over all pairs, gradients flow through them as in TRL). TRL concatenates
    the two halves into 2N losses; their average per pair keeps the batch mean identical.
    """
    h_w, h_l = _logratios(
        policy_chosen_logps,
        policy_rejected_logps,
        reference_chosen_logps,
        reference_rejected_logps,
        beta,
    )
    kl_w = jnp.maximum(jnp.mean(h_w), 0.0)
    kl_l = jnp.maximum(jnp.mean(h_l), 0.0)
    chosen = 1 - jax.nn.sigmoid(beta * (h_w - kl_l))
    rejected = 1 - jax.nn.sigmoid(beta * (kl_w - h_l))
    return 0.5 * (chosen + rejected)


def bco_pair_loss(
    policy_chosen_logps: ArrayLike,
    policy_rejected_logps: ArrayLike,
    reference_chosen_logps: ArrayLike,
    reference_rejected_logps: ArrayLike,
    *,
    beta: ArrayLike,
) -> jax.Array:
    """Paired BCO (Jung et al. 2024; TRL ``bco_pair``).

    ``-log sigma(beta h_w) - log sigma(-beta h_l)``, as in TRL 1.x: without the running-mean
    reward shift that older TRL versions subtracted.
    """
    h_w, h_l = _logratios(
        policy_chosen_logps,
        policy_rejected_logps,
        reference_chosen_logps,
        reference_rejected_logps,
        beta,
    )
    return -jax.nn.log_sigmoid(beta * h_w) - jax.nn.log_sigmoid(-beta * h_l)


def exo_pair_loss(
    policy_chosen_logps: ArrayLike,
    policy_rejected_logps: ArrayLike,
    reference_chosen_logps: ArrayLike,
    reference_rejected_logps: ArrayLike,
    *,
    beta: ArrayLike,
    label_smoothing: float = 1e-3,
) -> jax.Array:
    """EXO-pref (Ji et al. 2024, eq. 16; TRL ``exo_pair``): ``KL(q || (1 - eps, eps))``.

    ``sigma(x) (log sigma(x) - log(1 - eps)) + sigma(-x) (log sigma(-x) - log eps)`` with
    ``eps`` in (0, 1); the default 1e-3 is what TRL substitutes for ``eps = 0``.
    """
    _check_concrete("label_smoothing", label_smoothing, lambda e: (e > 0) & (e < 1), "in (0, 1)")
    x = _margin(
        policy_chosen_logps,
        policy_rejected_logps,
        reference_chosen_logps,
        reference_rejected_logps,
        beta,
    )
    eps = label_smoothing
    return jax.nn.sigmoid(x) * (jax.nn.log_sigmoid(x) - jnp.log1p(-eps)) + jax.nn.sigmoid(-x) * (
        jax.nn.log_sigmoid(-x) - jnp.log(eps)
    )


def nca_pair_loss(
    policy_chosen_logps: ArrayLike,
    policy_rejected_logps: ArrayLike,
    reference_chosen_logps: ArrayLike,
    reference_rejected_logps: ArrayLike,
    *,
    beta: ArrayLike,
) -> jax.Array:
    """Paired NCA (Chen et al. 2024; TRL ``nca_pair``), with ``r = beta h``.

    ``-log sigma(r_w) - 0.5 log sigma(-r_w) - 0.5 log sigma(-r_l)``.
    """
    h_w, h_l = _logratios(
        policy_chosen_logps,
        policy_rejected_logps,
        reference_chosen_logps,
        reference_rejected_logps,
        beta,
    )
    r_w, r_l = beta * h_w, beta * h_l
    return (
        -jax.nn.log_sigmoid(r_w) - 0.5 * jax.nn.log_sigmoid(-r_w) - 0.5 * jax.nn.log_sigmoid(-r_l)
    )


def sppo_hard_loss(
    policy_chosen_logps: ArrayLike,
    policy_rejected_logps: ArrayLike,
    reference_chosen_logps: ArrayLike,
    reference_rejected_logps: ArrayLike,
    *,
    beta: ArrayLike,
) -> jax.Array:
    """SPPO with hard win probabilities (Wu et al. 2024, eq. 4.7; TRL ``sppo_hard``).

    ``(h_w - 1 / (2 beta))^2 + (h_l + 1 / (2 beta))^2``.
    """
    h_w, h_l = _logratios(
        policy_chosen_logps,
        policy_rejected_logps,
        reference_chosen_logps,
        reference_rejected_logps,
        beta,
    )
    return (h_w - 0.5 / beta) ** 2 + (h_l + 0.5 / beta) ** 2


def apo_zero_loss(
    policy_chosen_logps: ArrayLike,
    policy_rejected_logps: ArrayLike,
    reference_chosen_logps: ArrayLike,
    reference_rejected_logps: ArrayLike,
    *,
    beta: ArrayLike,
) -> jax.Array:
    """APO-zero (D'Oosterlinck et al. 2024, eq. 7; TRL ``apo_zero``).

    ``1 - sigma(beta h_w) + sigma(beta h_l)``: raise the chosen and lower the rejected likelihood.
    """
    h_w, h_l = _logratios(
        policy_chosen_logps,
        policy_rejected_logps,
        reference_chosen_logps,
        reference_rejected_logps,
        beta,
    )
    return 1 - jax.nn.sigmoid(beta * h_w) + jax.nn.sigmoid(beta * h_l)


def apo_down_loss(
    policy_chosen_logps: ArrayLike,
    policy_rejected_logps: ArrayLike,
    reference_chosen_logps: ArrayLike,
    reference_rejected_logps: ArrayLike,
    *,
    beta: ArrayLike,
) -> jax.Array:
    """APO-down (D'Oosterlinck et al. 2024, eq. 8; TRL ``apo_down``).

    ``sigma(beta h_w) + 1 - sigma(x)``: lower both likelihoods, the rejected one more.
    """
    h_w, h_l = _logratios(
        policy_chosen_logps,
        policy_rejected_logps,
        reference_chosen_logps,
        reference_rejected_logps,
        beta,
    )
    return jax.nn.sigmoid(beta * h_w) + 1 - jax.nn.sigmoid(beta * (h_w - h_l))


def discopop_loss(
    policy_chosen_logps: ArrayLike,
    policy_rejected_logps: ArrayLike,
    reference_chosen_logps: ArrayLike,
    reference_rejected_logps: ArrayLike,
    *,
    beta: ArrayLike,
    tau: float = 0.05,
) -> jax.Array:
    """DiscoPOP / LRML, the log-ratio modulated loss (Lu et al. 2024, eq. 5; TRL ``discopop``).

    ``m = sigma(x / tau)``, ``(1 - m) (-log sigma(x)) + m exp(-x)``: logistic for ``x << 0``,
    exponential for ``x >> 0``; non-convex. ``m exp(-x)`` is computed as
    ``exp(log sigma(x / tau) - x)``, which is finite where ``exp(-x)`` alone overflows (tau < 1).
    """
    _check_concrete("tau", tau, lambda t: t > 0, "> 0")
    x = _margin(
        policy_chosen_logps,
        policy_rejected_logps,
        reference_chosen_logps,
        reference_rejected_logps,
        beta,
    )
    logistic = jax.nn.softplus(-x)
    return jax.nn.sigmoid(-x / tau) * logistic + jnp.exp(jax.nn.log_sigmoid(x / tau) - x)


def padll_loss(
    policy_chosen_logps: ArrayLike,
    policy_rejected_logps: ArrayLike,
    reference_chosen_logps: ArrayLike,
    reference_rejected_logps: ArrayLike,
    *,
    beta: ArrayLike,
) -> jax.Array:
    """Performance-adaptive decay logistic loss (Lu et al. 2024).

    ``0.9 (1 - 0.5 * 1[rho < 0]) (-log sigma(x))``: mismatched pairs are down-weighted.
    """
    h_w, h_l = _logratios(
        policy_chosen_logps,
        policy_rejected_logps,
        reference_chosen_logps,
        reference_rejected_logps,
        beta,
    )
    rho = h_w - h_l
    return 0.9 * jnp.where(rho < 0, 0.5, 1.0) * jax.nn.softplus(-beta * rho)


def cell_loss(
    policy_chosen_logps: ArrayLike,
    policy_rejected_logps: ArrayLike,
    reference_chosen_logps: ArrayLike,
    reference_rejected_logps: ArrayLike,
    *,
    beta: ArrayLike,
) -> jax.Array:
    """Combined exponential and logistic loss (Lu et al. 2024).

    ``0.5 exp(-x) + 0.5 (-log sigma(x))``; the exponential term grows without bound for ``x << 0``.
    """
    x = _margin(
        policy_chosen_logps,
        policy_rejected_logps,
        reference_chosen_logps,
        reference_rejected_logps,
        beta,
    )
    return 0.5 * jnp.exp(-x) + 0.5 * jax.nn.softplus(-x)


def pfl_loss(
    policy_chosen_logps: ArrayLike,
    policy_rejected_logps: ArrayLike,
    reference_chosen_logps: ArrayLike,
    reference_rejected_logps: ArrayLike,
    *,
    beta: ArrayLike,
) -> jax.Array:
    """Policy-focused loss (Lu et al. 2024).

    ``-log sigma(x) / 2`` where the policy already prefers the chosen completion
    (``logp_w > logp_l``, reference ignored), else ``2 relu(1 - x)``. Discontinuous there.
    """
    x = _margin(
        policy_chosen_logps,
        policy_rejected_logps,
        reference_chosen_logps,
        reference_rejected_logps,
        beta,
    )
    correct = jnp.asarray(policy_chosen_logps) > jnp.asarray(policy_rejected_logps)
    return jnp.where(correct, 0.5 * jax.nn.softplus(-x), 2.0 * jax.nn.relu(1 - x))


def aql_loss(
    policy_chosen_logps: ArrayLike,
    policy_rejected_logps: ArrayLike,
    reference_chosen_logps: ArrayLike,
    reference_rejected_logps: ArrayLike,
    *,
    beta: ArrayLike,
    tau: float = 0.05,
) -> jax.Array:
    """Adaptive quantile loss (Lu et al. 2024). Batch-dependent.

    With ``z = x / tau`` and the batch mean ``q = 0.5 + 0.01 (sigma(mean(z)) - 0.5)``:
    ``w = sigma(q - z)``, loss ``w (-log sigma(x)) + (1 - w) relu(1 - x)``.
    """
    _check_concrete("tau", tau, lambda t: t > 0, "> 0")
    x = _margin(
        policy_chosen_logps,
        policy_rejected_logps,
        reference_chosen_logps,
        reference_rejected_logps,
        beta,
    )
    z = x / tau
    quantile = 0.5 + 0.01 * (jax.nn.sigmoid(jnp.mean(z)) - 0.5)
    weight = jax.nn.sigmoid(quantile - z)
    return weight * jax.nn.softplus(-x) + (1 - weight) * jax.nn.relu(1 - x)


def aqfl_loss(
    policy_chosen_logps: ArrayLike,
    policy_rejected_logps: ArrayLike,
    reference_chosen_logps: ArrayLike,
    reference_rejected_logps: ArrayLike,
    *,
    beta: ArrayLike,
    tau: float = 0.05,
) -> jax.Array:
    """Adaptive quantile feedback loss (Lu et al. 2024). Batch-dependent.

    With ``z = x / tau``, ``q0 = std(z) mean(sigma(-z))`` (unbiased std, as torch) and
    ``q = q0 + 0.05 (sigma(mean(z)) - q0)``: ``b = sigma(0.1 |z - q|)``, loss
    ``b (-log sigma(x)) + (1 - b) relu(1 - x)``.
    """
    _check_concrete("tau", tau, lambda t: t > 0, "> 0")
    x = _margin(
        policy_chosen_logps,
        policy_rejected_logps,
        reference_chosen_logps,
        reference_rejected_logps,
        beta,
    )
    z = x / tau
    std, _ = _batch_std_var(z)
    quantile = std * jnp.mean(jax.nn.sigmoid(-z))
    quantile = quantile + 0.05 * (jax.nn.sigmoid(jnp.mean(z)) - quantile)
    blend = jax.nn.sigmoid(0.1 * jnp.abs(z - quantile))
    return blend * jax.nn.softplus(-x) + (1 - blend) * jax.nn.relu(1 - x)


def dbaql_loss(
    policy_chosen_logps: ArrayLike,
    policy_rejected_logps: ArrayLike,
    reference_chosen_logps: ArrayLike,
    reference_rejected_logps: ArrayLike,
    *,
    beta: ArrayLike,
    tau: float = 0.05,
) -> jax.Array:
    """Dynamic blended adaptive quantile loss (Lu et al. 2024). Batch-dependent.

    With ``c = sigma(var(x / tau))`` (unbiased variance, as torch):
    ``c (-log sigma(x / 0.9)) + (1 - c) exp(-0.9 x)``; the second term is computed as
    ``exp(log sigma(-var) - 0.9 x)`` so that it stays finite where its weight vanishes.
    """
    _check_concrete("tau", tau, lambda t: t > 0, "> 0")
    x = _margin(
        policy_chosen_logps,
        policy_rejected_logps,
        reference_chosen_logps,
        reference_rejected_logps,
        beta,
    )
    _, var = _batch_std_var(x / tau)
    blend = jax.nn.sigmoid(var)
    return blend * jax.nn.softplus(-x / 0.9) + jnp.exp(jax.nn.log_sigmoid(-var) - 0.9 * x)


PREFERENCE_LOSSES: dict[str, PreferenceLoss] = {
    "sigmoid": sigmoid_loss,
    "robust": robust_loss,
    "hinge": hinge_loss,
    "ipo": ipo_loss,
    "kto_pair": kto_pair_loss,
    "bco_pair": bco_pair_loss,
    "exo_pair": exo_pair_loss,
    "nca_pair": nca_pair_loss,
    "sppo_hard": sppo_hard_loss,
    "apo_zero": apo_zero_loss,
    "apo_down": apo_down_loss,
    "discopop": discopop_loss,
    "padll": padll_loss,
    "cell": cell_loss,
    "pfl": pfl_loss,
    "aql": aql_loss,
    "aqfl": aqfl_loss,
    "dbaql": dbaql_loss,
}
"""The losses by TRL ``loss_type`` name (and the DiscoPOP paper's abbreviations)."""

BATCH_DEPENDENT_LOSSES: frozenset[str] = frozenset({"kto_pair", "aql", "aqfl", "dbaql"})
"""Names whose per-pair loss depends on statistics of the whole batch."""


def get_preference_loss(name: str) -> PreferenceLoss:
    """The loss registered as ``name``; ValueError listing the registry for unknown names."""
    try:
        return PREFERENCE_LOSSES[name]
    except KeyError:
        known = ", ".join(sorted(PREFERENCE_LOSSES))
        raise ValueError(f"unknown preference loss {name!r}; known losses: {known}") from None
