"""Preference-optimisation losses as pure functions of policy and reference log-probabilities.

Every loss has the signature ``loss(policy_chosen_logps, policy_rejected_logps,
reference_chosen_logps, reference_rejected_logps, *, beta, ...) -> per-pair losses`` (same shape
as the inputs; reduce with ``mean`` yourself). Notation, for a pair of a chosen (w) and a
rejected (l) completion: ``h_w = logp_w - logref_w``, ``h_l = logp_l - logref_l``,
``rho = h_w - h_l`` and ``x = beta * rho``; ``sigma`` is the logistic function.

Inputs. TRL 1.16's ``DPOTrainer`` passes every loss the completions' log-probabilities summed over
their tokens; pass those for its behaviour. The length-normalised losses (``ipo``,
``sigmoid_norm``, ``sft``) also take ``chosen_lengths`` / ``rejected_lengths``, the completions'
token counts (TRL's ``completion_mask.sum(1)``, clamped to at least 1): with them they divide the
summed inputs by the lengths as TRL does; without them they take the inputs to be per-token means
already (lengths 1), which is the same thing under the default ``f_divergence_type``.

f-divergences (Wang et al. 2023, "Beyond Reverse KL"; TRL's ``f_divergence_type``): the losses in
:data:`F_DIVERGENCE_LOSSES` replace each log-ratio ``h`` by the score ``f'(exp h)`` of the chosen
divergence before taking the chosen-minus-rejected difference (see :func:`f_divergence_score`).
:func:`combined_preference_loss` is TRL's weighted list of loss types (``loss_weights``).

References: Rafailov et al. 2023 (DPO); Azar et al. 2023 (IPO); Lu et al. 2024, "Discovering
Preference Optimization Algorithms with and for LLMs" (DiscoPOP and the other discovered losses,
whose definitions follow the authors' code); TRL's ``DPOTrainer._compute_loss`` for the
``loss_type`` names and formulas (trl 1.16, ``trl/trainer/dpo_trainer.py``; each docstring
names the TRL version a loss equals where TRL changed). Losses in
:data:`BATCH_DEPENDENT_LOSSES` use statistics or the order of the whole input (all pairs;
``aot`` sorts along axis 0), so a pair's loss depends on the rest of the batch; call them on
one batch at a time (``vmap`` over seeds or
configurations, not over pairs).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

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

F_DIVERGENCE_TYPES: tuple[str, ...] = (
    "reverse_kl",
    "forward_kl",
    "js_divergence",
    "alpha_divergence",
)
"""TRL 1.16's ``f_divergence_type`` values; ``reverse_kl`` (the default) is standard DPO."""


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
        _check_shape(name, array, expected)
    _check_concrete("beta", beta, lambda b: b > 0, "> 0")


def _check_shape(name: str, array: ArrayLike, expected: tuple[int, ...]) -> None:
    """Raise ValueError unless ``array`` has the shape of ``policy_chosen_logps``."""
    if jnp.shape(array) != expected:
        raise ValueError(
            f"{name} has shape {jnp.shape(array)} but policy_chosen_logps has shape "
            f"{expected}: the log-probability arrays and lengths must all have the same shape"
        )


def _logratios(
    pc: ArrayLike, pr: ArrayLike, rc: ArrayLike, rr: ArrayLike, beta: ArrayLike
) -> tuple[jax.Array, jax.Array]:
    """Validate the inputs and return ``(h_w, h_l)``, the chosen and rejected log-ratios."""
    validate_preference_inputs(pc, pr, rc, rr, beta)
    return jnp.asarray(pc) - jnp.asarray(rc), jnp.asarray(pr) - jnp.asarray(rr)


def f_divergence_score(
    logratio: ArrayLike,
    f_divergence_type: str = "reverse_kl",
    f_alpha_divergence_coef: ArrayLike = 0.5,
) -> jax.Array:
    r"""The score ``f'(u)`` of a log-ratio ``h = log u`` (Wang et al. 2023; TRL 1.16).

    .. math::
        \text{reverse\_kl: } h,\quad \text{forward\_kl: } 1 - e^{-h},\quad
        \text{js\_divergence: } \log 2 + \log\sigma(h),\quad
        \text{alpha\_divergence: } \frac{e^{\min((\alpha-1) h,\, c)} - 1}{\alpha - 1}

    with ``alpha = f_alpha_divergence_coef`` (TRL's default 0.5; within 1e-6 of 1 it is
    ``reverse_kl``, the limit) and TRL's clamp ``c = 11`` for float16, 80 otherwise. TRL 1.16 has
    no float64 entry in its clamp table (it raises there); float64 uses 80, as float32.
    """
    if f_divergence_type not in F_DIVERGENCE_TYPES:
        raise ValueError(
            f"f_divergence_type must be one of {', '.join(F_DIVERGENCE_TYPES)}, "
            f"got {f_divergence_type!r}"
        )
    h = jnp.asarray(logratio)
    if f_divergence_type == "reverse_kl":
        return h
    if f_divergence_type == "forward_kl":
        return -jnp.expm1(-h)
    if f_divergence_type == "js_divergence":
        return math.log(2.0) + jax.nn.log_sigmoid(h)
    shift = jnp.asarray(f_alpha_divergence_coef) - 1.0
    limit = jnp.abs(shift) < 1e-6
    safe = jnp.where(limit, 1.0, shift)
    t = jnp.minimum(safe * h, 11.0 if h.dtype == jnp.float16 else 80.0)
    return jnp.where(limit, h, jnp.expm1(t) / safe)


def _scores(
    pc: ArrayLike,
    pr: ArrayLike,
    rc: ArrayLike,
    rr: ArrayLike,
    beta: ArrayLike,
    f_divergence_type: str = "reverse_kl",
    f_alpha_divergence_coef: ArrayLike = 0.5,
) -> tuple[jax.Array, jax.Array]:
    """Validate the inputs and return the chosen and rejected scores ``f'(exp h)``."""
    h_w, h_l = _logratios(pc, pr, rc, rr, beta)
    return (
        f_divergence_score(h_w, f_divergence_type, f_alpha_divergence_coef),
        f_divergence_score(h_l, f_divergence_type, f_alpha_divergence_coef),
    )


def _margin(
    pc: ArrayLike,
    pr: ArrayLike,
    rc: ArrayLike,
    rr: ArrayLike,
    beta: ArrayLike,
    f_divergence_type: str = "reverse_kl",
    f_alpha_divergence_coef: ArrayLike = 0.5,
) -> jax.Array:
    """Validate the inputs and return ``x = beta * (s_w - s_l)`` (``beta * rho`` by default)."""
    s_w, s_l = _scores(pc, pr, rc, rr, beta, f_divergence_type, f_alpha_divergence_coef)
    return beta * (s_w - s_l)


def _per_token(score: jax.Array, lengths: ArrayLike | None, name: str) -> jax.Array:
    """``score / max(lengths, 1)`` (TRL's length normalisation); ``score`` if no lengths."""
    if lengths is None:
        return score
    _check_shape(name, lengths, score.shape)
    return score / jnp.maximum(jnp.asarray(lengths), 1).astype(score.dtype)


def _per_token_margin(
    pc: ArrayLike,
    pr: ArrayLike,
    rc: ArrayLike,
    rr: ArrayLike,
    beta: ArrayLike,
    lengths: tuple[ArrayLike | None, ArrayLike | None],
    f_divergence_type: str,
    f_alpha_divergence_coef: ArrayLike,
) -> jax.Array:
    """Validate and return ``s_w / n_w - s_l / n_l``, the per-token score difference (no beta)."""
    s_w, s_l = _scores(pc, pr, rc, rr, beta, f_divergence_type, f_alpha_divergence_coef)
    return _per_token(s_w, lengths[0], "chosen_lengths") - _per_token(
        s_l, lengths[1], "rejected_lengths"
    )


def _times(weight: ArrayLike, value: jax.Array) -> jax.Array:
    """``weight * value`` with ``0 * inf = 0``: a zero-weight term vanishes at infinite margins."""
    return jnp.where(jnp.asarray(weight) == 0, 0.0, weight * value)


def _smoothed_logistic(x: jax.Array, eps: ArrayLike) -> jax.Array:
    """``-(1 - eps) log sigma(x) - eps log sigma(-x)``, NaN-free at ``x = +-inf``."""
    return -_times(1 - eps, jax.nn.log_sigmoid(x)) - _times(eps, jax.nn.log_sigmoid(-x))


def _finite_or_limit(
    fn: Callable[[jax.Array], jax.Array], x: jax.Array, at_inf: ArrayLike, at_minus_inf: ArrayLike
) -> jax.Array:
    """``fn(x)`` where ``x`` is finite, the given limits at ``x = +-inf`` (value and gradient).

    ``fn`` runs on ``x`` with its infinities replaced by 0, so neither its value nor its gradient
    meets ``0 * inf`` there; NaN margins stay NaN.
    """
    infinite = jnp.isinf(x)
    value = fn(jnp.where(infinite, 0.0, x))
    return jnp.where(infinite, jnp.where(x > 0, at_inf, at_minus_inf), value)


def _batch_std_var(z: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Unbiased (as torch's default) std and variance over all of ``z``, NaN-free gradients.

    A batch of one falls back to the biased estimate (zero); at zero variance the gradient of
    the std is set to 0 instead of ``0 / 0``.
    """
    var = jnp.var(z, ddof=1 if z.size > 1 else 0)
    positive = var > 0
    std = jnp.where(positive, jnp.sqrt(jnp.where(positive, var, 1.0)), 0.0)
    return std, var


def _sort_batch(x: jax.Array) -> jax.Array:
    """``x`` sorted along axis 0, the batch axis (a 0-d input is a batch of one)."""
    return jnp.sort(x, axis=0) if x.ndim else x


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
    f_divergence_type: str = "reverse_kl",
    f_alpha_divergence_coef: ArrayLike = 0.5,
) -> jax.Array:
    """DPO (Rafailov et al. 2023; TRL ``sigmoid``, alias ``dpo``): ``-log sigma(x)``.

    Summed log-probs; ``x = beta (s_w - s_l)`` with the f-divergence scores. Equals TRL 1.16 at
    ``label_smoothing = 0`` (the default). With ``eps = label_smoothing`` in (0, 1] it is
    conservative DPO, ``-(1 - eps) log sigma(x) - eps log sigma(-x)``, the form of TRL <= 0.28:
    TRL >= 0.29 ignores ``label_smoothing`` for ``sigmoid``. Finite (no NaN) for a ``-inf``
    log-probability.
    """
    _check_concrete("label_smoothing", label_smoothing, lambda e: (e >= 0) & (e <= 1), "in [0, 1]")
    x = _margin(
        policy_chosen_logps,
        policy_rejected_logps,
        reference_chosen_logps,
        reference_rejected_logps,
        beta,
        f_divergence_type,
        f_alpha_divergence_coef,
    )
    return _smoothed_logistic(x, label_smoothing)


def robust_loss(
    policy_chosen_logps: ArrayLike,
    policy_rejected_logps: ArrayLike,
    reference_chosen_logps: ArrayLike,
    reference_rejected_logps: ArrayLike,
    *,
    beta: ArrayLike,
    label_smoothing: float = 0.0,
    f_divergence_type: str = "reverse_kl",
    f_alpha_divergence_coef: ArrayLike = 0.5,
) -> jax.Array:
    """Robust DPO (Chowdhury et al. 2024; TRL ``robust``), unbiased under label-flip rate eps.

    ``(-(1 - eps) log sigma(x) + eps log sigma(-x)) / (1 - 2 eps)``, ``eps`` in [0, 0.5), as in
    TRL 1.16 (summed log-probs, f-divergence scores). No NaN for a ``-inf`` log-probability.
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
        f_divergence_type,
        f_alpha_divergence_coef,
    )
    eps = label_smoothing
    flipped = _times(eps, jax.nn.log_sigmoid(-x))
    return (-_times(1 - eps, jax.nn.log_sigmoid(x)) + flipped) / (1 - 2 * eps)


def hinge_loss(
    policy_chosen_logps: ArrayLike,
    policy_rejected_logps: ArrayLike,
    reference_chosen_logps: ArrayLike,
    reference_rejected_logps: ArrayLike,
    *,
    beta: ArrayLike,
    f_divergence_type: str = "reverse_kl",
    f_alpha_divergence_coef: ArrayLike = 0.5,
) -> jax.Array:
    """SLiC's hinge loss (Zhao et al. 2023; TRL ``hinge``): ``relu(1 - x)``, as in TRL 1.16."""
    x = _margin(
        policy_chosen_logps,
        policy_rejected_logps,
        reference_chosen_logps,
        reference_rejected_logps,
        beta,
        f_divergence_type,
        f_alpha_divergence_coef,
    )
    return jax.nn.relu(1 - x)


def ipo_loss(
    policy_chosen_logps: ArrayLike,
    policy_rejected_logps: ArrayLike,
    reference_chosen_logps: ArrayLike,
    reference_rejected_logps: ArrayLike,
    *,
    beta: ArrayLike,
    chosen_lengths: ArrayLike | None = None,
    rejected_lengths: ArrayLike | None = None,
    f_divergence_type: str = "reverse_kl",
    f_alpha_divergence_coef: ArrayLike = 0.5,
) -> jax.Array:
    """IPO (Azar et al. 2023, eq. 17; TRL ``ipo``): ``(s_w / n_w - s_l / n_l - 1 / (2 beta))^2``.

    TRL 1.16 divides each score by its completion's token count ``n`` (not in the paper's
    eq. 17): pass summed log-probs with ``chosen_lengths`` / ``rejected_lengths`` for TRL's value
    under any f-divergence, or per-token mean log-probs without lengths (the same under the
    default ``reverse_kl``, where ``s = h``).
    """
    delta = _per_token_margin(
        policy_chosen_logps,
        policy_rejected_logps,
        reference_chosen_logps,
        reference_rejected_logps,
        beta,
        (chosen_lengths, rejected_lengths),
        f_divergence_type,
        f_alpha_divergence_coef,
    )
    return (delta - 1 / (2 * beta)) ** 2


def sigmoid_norm_loss(
    policy_chosen_logps: ArrayLike,
    policy_rejected_logps: ArrayLike,
    reference_chosen_logps: ArrayLike,
    reference_rejected_logps: ArrayLike,
    *,
    beta: ArrayLike,
    chosen_lengths: ArrayLike | None = None,
    rejected_lengths: ArrayLike | None = None,
    f_divergence_type: str = "reverse_kl",
    f_alpha_divergence_coef: ArrayLike = 0.5,
) -> jax.Array:
    """Length-normalised DPO (TRL ``sigmoid_norm``): ``-log sigma(beta (s_w / n_w - s_l / n_l))``.

    As TRL 1.16: summed log-probs with the completions' token counts ``chosen_lengths`` /
    ``rejected_lengths`` (clamped to at least 1); without lengths the inputs are taken as
    per-token means. Unlike SimPO (Meng et al. 2024) it keeps the reference model.
    """
    delta = _per_token_margin(
        policy_chosen_logps,
        policy_rejected_logps,
        reference_chosen_logps,
        reference_rejected_logps,
        beta,
        (chosen_lengths, rejected_lengths),
        f_divergence_type,
        f_alpha_divergence_coef,
    )
    return jax.nn.softplus(-beta * delta)


def sft_loss(
    policy_chosen_logps: ArrayLike,
    policy_rejected_logps: ArrayLike,
    reference_chosen_logps: ArrayLike,
    reference_rejected_logps: ArrayLike,
    *,
    beta: ArrayLike,
    chosen_lengths: ArrayLike | None = None,
) -> jax.Array:
    """Supervised fine-tuning (TRL ``sft``; MPO's generation term). Batch-dependent.

    The chosen completions' negative log-likelihood per token over the whole batch,
    ``-sum(logp_w) / max(sum(n_w), 1)``, given to every pair: TRL 1.16's mean over all chosen
    completion tokens when ``policy_chosen_logps`` are summed log-probs and ``chosen_lengths``
    their token counts. Without lengths (``n_w = 1``) it is ``-mean(logp_w)``, TRL's value for
    per-token mean inputs of equal lengths. The rejected and reference log-probs are only
    shape-checked and ``beta`` only validated. Without any chosen token (lengths summing to 0)
    it is 0, where TRL's mean over no tokens is NaN.
    """
    validate_preference_inputs(
        policy_chosen_logps,
        policy_rejected_logps,
        reference_chosen_logps,
        reference_rejected_logps,
        beta,
    )
    logps = jnp.asarray(policy_chosen_logps)
    if chosen_lengths is None:
        tokens = jnp.asarray(logps.size, logps.dtype)
    else:
        _check_shape("chosen_lengths", chosen_lengths, logps.shape)
        tokens = jnp.sum(jnp.asarray(chosen_lengths)).astype(logps.dtype)
    return jnp.broadcast_to(-jnp.sum(logps) / jnp.maximum(tokens, 1), logps.shape)


def kto_pair_loss(
    policy_chosen_logps: ArrayLike,
    policy_rejected_logps: ArrayLike,
    reference_chosen_logps: ArrayLike,
    reference_rejected_logps: ArrayLike,
    *,
    beta: ArrayLike,
) -> jax.Array:
    """Paired KTO (Ethayarajh et al. 2024, HALOs eq. 7): TRL's ``kto_pair`` up to 0.9.5.

    Not in TRL 1.16 (removed in 0.9.6; TRL's ``KTOTrainer`` replaced it); kept as TRL 0.9.5 had
    it. With batch KL estimates ``KL_w = max(mean(h_w), 0)``, ``KL_l = max(mean(h_l), 0)``:
    ``0.5 * [(1 - sigma(beta (h_w - KL_l))) + (1 - sigma(beta (KL_w - h_l)))]``. Batch-dependent
    (the means run over all pairs, gradients flow through them as in TRL). TRL concatenated
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


class BCORewardShift(NamedTuple):
    """Running mean of the batch-mean implicit reward, BCO's reward shift (explicit state).

    ``BCORewardShift()`` is the initial state; advance it with
    :func:`update_bco_reward_shift` once per batch, before the loss.
    """

    mean: ArrayLike = 0.0
    count: ArrayLike = 0.0


def update_bco_reward_shift(
    state: BCORewardShift, chosen_rewards: ArrayLike, rejected_rewards: ArrayLike
) -> BCORewardShift:
    """Fold one batch's mean implicit reward into the running mean (no gradient flows).

    ``m = mean([r_w, r_l])`` over the batch; ``mean <- mean + (m - mean) / (count + 1)``,
    ``count <- count + 1``: TRL <= 0.28's ``RunningMoments.update`` on that scalar (which starts
    from ``count = 1e-24`` and rounds ``m`` to float32; here it stays in the input dtype).
    """
    rewards = jnp.concatenate([jnp.ravel(chosen_rewards), jnp.ravel(rejected_rewards)])
    batch_mean = jax.lax.stop_gradient(jnp.mean(rewards))
    count = jnp.asarray(state.count) + 1
    return BCORewardShift(state.mean + (batch_mean - state.mean) / count, count)


def bco_pair_loss(
    policy_chosen_logps: ArrayLike,
    policy_rejected_logps: ArrayLike,
    reference_chosen_logps: ArrayLike,
    reference_rejected_logps: ArrayLike,
    *,
    beta: ArrayLike,
    reward_shift: ArrayLike = 0.0,
) -> jax.Array:
    """Paired BCO (Jung et al. 2024; TRL ``bco_pair``).

    ``-log sigma(beta h_w - delta) - log sigma(-(beta h_l - delta))``. The default
    ``delta = 0`` is TRL 1.16, which dropped the shift. The BCO paper and TRL <= 0.28 use
    ``delta`` = the running mean of the implicit rewards: pass
    ``reward_shift=update_bco_reward_shift(state, *implicit_rewards(...)).mean`` (no gradient
    flows through it) for that form. Summed log-probs.
    """
    h_w, h_l = _logratios(
        policy_chosen_logps,
        policy_rejected_logps,
        reference_chosen_logps,
        reference_rejected_logps,
        beta,
    )
    delta = jax.lax.stop_gradient(reward_shift)
    return -jax.nn.log_sigmoid(beta * h_w - delta) - jax.nn.log_sigmoid(-(beta * h_l - delta))


def exo_pair_loss(
    policy_chosen_logps: ArrayLike,
    policy_rejected_logps: ArrayLike,
    reference_chosen_logps: ArrayLike,
    reference_rejected_logps: ArrayLike,
    *,
    beta: ArrayLike,
    label_smoothing: float = 1e-3,
    f_divergence_type: str = "reverse_kl",
    f_alpha_divergence_coef: ArrayLike = 0.5,
) -> jax.Array:
    """EXO-pref (Ji et al. 2024, eq. 16; TRL ``exo_pair``): ``KL(q || (1 - eps, eps))``.

    ``sigma(x) (log sigma(x) - log(1 - eps)) + sigma(-x) (log sigma(-x) - log eps)`` with
    ``eps = label_smoothing`` in (0, 1), as TRL 1.16 (summed log-probs, f-divergence scores).
    ``eps = 0`` raises, as in TRL 1.16 (TRL <= 0.28 substituted 1e-3); the default 1e-3 is the
    paper's value (TRL 1.16's default is 0, which raises: pass it explicitly). At ``x = +-inf``
    (a ``-inf`` log-probability) it takes its limits ``-log(1 - eps)`` and ``-log eps``.
    """
    _check_concrete("label_smoothing", label_smoothing, lambda e: (e > 0) & (e < 1), "in (0, 1)")
    x = _margin(
        policy_chosen_logps,
        policy_rejected_logps,
        reference_chosen_logps,
        reference_rejected_logps,
        beta,
        f_divergence_type,
        f_alpha_divergence_coef,
    )
    log_keep, log_flip = jnp.log1p(-label_smoothing), jnp.log(label_smoothing)

    def kl(x: jax.Array) -> jax.Array:
        return jax.nn.sigmoid(x) * (jax.nn.log_sigmoid(x) - log_keep) + jax.nn.sigmoid(-x) * (
            jax.nn.log_sigmoid(-x) - log_flip
        )

    return _finite_or_limit(kl, x, -log_keep, -log_flip)


def nca_pair_loss(
    policy_chosen_logps: ArrayLike,
    policy_rejected_logps: ArrayLike,
    reference_chosen_logps: ArrayLike,
    reference_rejected_logps: ArrayLike,
    *,
    beta: ArrayLike,
) -> jax.Array:
    """Paired NCA (Chen et al. 2024; TRL ``nca_pair``), with ``r = beta h``.

    ``-log sigma(r_w) - 0.5 log sigma(-r_w) - 0.5 log sigma(-r_l)``, as in TRL 1.16 (summed
    log-probs; no f-divergence).
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

    ``(h_w - 1 / (2 beta))^2 + (h_l + 1 / (2 beta))^2``, as in TRL 1.16 (summed log-probs; no
    f-divergence).
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
    As in TRL 1.16 (summed log-probs; no f-divergence).
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

    ``sigma(beta h_w) + 1 - sigma(x)``: lower both likelihoods, the rejected one more. As in
    TRL 1.16 (summed log-probs; no f-divergence).
    """
    h_w, h_l = _logratios(
        policy_chosen_logps,
        policy_rejected_logps,
        reference_chosen_logps,
        reference_rejected_logps,
        beta,
    )
    return jax.nn.sigmoid(beta * h_w) + 1 - jax.nn.sigmoid(beta * (h_w - h_l))


def aot_loss(
    policy_chosen_logps: ArrayLike,
    policy_rejected_logps: ArrayLike,
    reference_chosen_logps: ArrayLike,
    reference_rejected_logps: ArrayLike,
    *,
    beta: ArrayLike,
    label_smoothing: float = 0.0,
) -> jax.Array:
    """AOT for paired data (Melnyk et al. 2024; TRL ``aot``). Batch-dependent.

    "Distributional Preference Alignment of LLMs via Optimal Transport": the policy's and the
    reference's margins are sorted over the batch (axis 0) separately:
    ``d = sort(logp_w - logp_l) - sort(logref_w - logref_l)``, loss
    ``-(1 - eps) log sigma(beta d) - eps log sigma(-beta d)`` with ``eps = label_smoothing``,
    as in TRL 1.16 (summed log-probs; no f-divergence). Entry ``i`` belongs to the ``i``-th
    smallest margins, not to pair ``i``: only batch reductions (the mean) are meaningful.
    """
    _check_concrete("label_smoothing", label_smoothing, lambda e: (e >= 0) & (e <= 1), "in [0, 1]")
    validate_preference_inputs(
        policy_chosen_logps,
        policy_rejected_logps,
        reference_chosen_logps,
        reference_rejected_logps,
        beta,
    )
    policy = jnp.asarray(policy_chosen_logps) - jnp.asarray(policy_rejected_logps)
    reference = jnp.asarray(reference_chosen_logps) - jnp.asarray(reference_rejected_logps)
    return _smoothed_logistic(
        beta * (_sort_batch(policy) - _sort_batch(reference)), label_smoothing
    )


def aot_unpaired_loss(
    policy_chosen_logps: ArrayLike,
    policy_rejected_logps: ArrayLike,
    reference_chosen_logps: ArrayLike,
    reference_rejected_logps: ArrayLike,
    *,
    beta: ArrayLike,
    label_smoothing: float = 0.0,
) -> jax.Array:
    """AOT for unpaired data (Melnyk et al. 2024; TRL ``aot_unpaired``). Batch-dependent.

    The chosen and the rejected log-ratios are sorted over the batch (axis 0) separately:
    ``d = sort(h_w) - sort(h_l)``, loss ``-(1 - eps) log sigma(beta d) - eps log sigma(-beta d)``,
    as in TRL 1.16 (summed log-probs; no f-divergence). Entry ``i`` pairs the ``i``-th smallest
    log-ratios, not pair ``i``: only batch reductions (the mean) are meaningful.
    """
    _check_concrete("label_smoothing", label_smoothing, lambda e: (e >= 0) & (e <= 1), "in [0, 1]")
    h_w, h_l = _logratios(
        policy_chosen_logps,
        policy_rejected_logps,
        reference_chosen_logps,
        reference_rejected_logps,
        beta,
    )
    return _smoothed_logistic(beta * (_sort_batch(h_w) - _sort_batch(h_l)), label_smoothing)


def discopop_loss(
    policy_chosen_logps: ArrayLike,
    policy_rejected_logps: ArrayLike,
    reference_chosen_logps: ArrayLike,
    reference_rejected_logps: ArrayLike,
    *,
    beta: ArrayLike,
    tau: float = 0.05,
    f_divergence_type: str = "reverse_kl",
    f_alpha_divergence_coef: ArrayLike = 0.5,
) -> jax.Array:
    """DiscoPOP / LRML, the log-ratio modulated loss (Lu et al. 2024, eq. 5; TRL ``discopop``).

    ``m = sigma(x / tau)``, ``(1 - m) (-log sigma(x)) + m exp(-x)``: logistic for ``x << 0``,
    exponential for ``x >> 0``; non-convex. TRL 1.16's formula (summed log-probs, f-divergence
    scores; ``tau`` is its ``discopop_tau``), computed stably where TRL is not: ``m exp(-x)`` as
    ``exp(log sigma(x / tau) - x)``, finite where ``exp(-x)`` alone overflows (TRL's
    ``exp(-x) * sigma(x / tau)`` is NaN for ``x`` below about -88 in float32). At ``x = +-inf``
    it takes its limits 0 and ``+inf``.
    """
    _check_concrete("tau", tau, lambda t: t > 0, "> 0")
    x = _margin(
        policy_chosen_logps,
        policy_rejected_logps,
        reference_chosen_logps,
        reference_rejected_logps,
        beta,
        f_divergence_type,
        f_alpha_divergence_coef,
    )

    def lrml(x: jax.Array) -> jax.Array:
        logistic = jax.nn.softplus(-x)
        return jax.nn.sigmoid(-x / tau) * logistic + jnp.exp(jax.nn.log_sigmoid(x / tau) - x)

    return _finite_or_limit(lrml, x, 0.0, jnp.inf)


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
    "aot": aot_loss,
    "aot_unpaired": aot_unpaired_loss,
    "apo_zero": apo_zero_loss,
    "apo_down": apo_down_loss,
    "discopop": discopop_loss,
    "sft": sft_loss,
    "sigmoid_norm": sigmoid_norm_loss,
    "padll": padll_loss,
    "cell": cell_loss,
    "pfl": pfl_loss,
    "aql": aql_loss,
    "aqfl": aqfl_loss,
    "dbaql": dbaql_loss,
}
"""The losses by TRL ``loss_type`` name (and the DiscoPOP paper's abbreviations)."""

PREFERENCE_LOSS_ALIASES: dict[str, str] = {"dpo": "sigmoid"}
"""Other names :func:`get_preference_loss` accepts, and the registry name each stands for."""

TRL_LOSS_TYPES: tuple[str, ...] = (
    "sigmoid",
    "hinge",
    "ipo",
    "exo_pair",
    "nca_pair",
    "robust",
    "bco_pair",
    "sppo_hard",
    "aot",
    "aot_unpaired",
    "apo_zero",
    "apo_down",
    "discopop",
    "sft",
    "sigmoid_norm",
)
"""TRL 1.16's ``DPOConfig.loss_type`` values, in its order; all are registered."""

F_DIVERGENCE_LOSSES: frozenset[str] = frozenset(
    {"sigmoid", "sigmoid_norm", "hinge", "ipo", "exo_pair", "robust", "discopop", "sft"}
)
"""The loss types TRL 1.16 allows with a non-default ``f_divergence_type`` (``sft`` ignores it)."""

BATCH_DEPENDENT_LOSSES: frozenset[str] = frozenset(
    {"kto_pair", "aot", "aot_unpaired", "sft", "aql", "aqfl", "dbaql"}
)
"""Names whose per-pair loss depends on the whole batch (its statistics or its order)."""


def get_preference_loss(name: str) -> PreferenceLoss:
    """The loss registered as ``name`` or an alias (``dpo``); ValueError listing the names."""
    try:
        return PREFERENCE_LOSSES[PREFERENCE_LOSS_ALIASES.get(name, name)]
    except KeyError:
        known = ", ".join(sorted([*PREFERENCE_LOSSES, *PREFERENCE_LOSS_ALIASES]))
        raise ValueError(f"unknown preference loss {name!r}; known losses: {known}") from None


def _keyword_names(loss: PreferenceLoss) -> frozenset[str]:
    """The optional keyword arguments of a registered loss (all but ``beta``)."""
    parameters = inspect.signature(loss).parameters.values()
    return frozenset(p.name for p in parameters if p.kind is p.KEYWORD_ONLY) - {"beta"}


def combined_preference_loss(
    loss_types: Sequence[str],
    weights: Sequence[float] | None = None,
    loss_kwargs: Mapping[str, Mapping[str, Any]] | None = None,
) -> PreferenceLoss:
    """TRL's list of ``loss_type`` with ``loss_weights``: ``sum_k w_k loss_k``, per pair.

    Its mean over the batch is TRL 1.16's loss, ``sum_k w_k mean(loss_k)`` (e.g. MPO:
    ``["sigmoid", "bco_pair", "sft"]``, ``[0.8, 0.2, 1.0]``); ``weights`` default to 1 each, as
    in TRL. The returned loss has the library signature. Each keyword argument of a call goes to
    every listed loss that takes it (one that none takes raises TypeError; the f-divergence
    arguments are always accepted, as in TRL); ``loss_kwargs[name]`` are fixed for that loss
    alone and win. TRL 1.16 ignores ``label_smoothing`` for ``sigmoid`` where this library's
    ``sigmoid`` applies it (conservative DPO): for TRL's ``["sigmoid", "robust"]`` with
    smoothing, pass it as ``loss_kwargs={"robust": {"label_smoothing": eps}}``. A non-default
    ``f_divergence_type`` with a loss outside :data:`F_DIVERGENCE_LOSSES` raises ValueError, as
    in TRL. Entries of ``aot`` / ``aot_unpaired`` follow sorted order, so with them only the
    mean is meaningful.
    """
    names = list(loss_types)
    scale = [1.0] * len(names) if weights is None else list(weights)
    if not names or len(scale) != len(names):
        raise ValueError(
            f"need one weight per loss type and at least one loss type, got {len(names)} loss "
            f"types and {len(scale)} weights"
        )
    losses = [get_preference_loss(name) for name in names]
    fixed = dict(loss_kwargs or {})
    if not set(fixed) <= set(names):
        raise ValueError(f"loss_kwargs names {sorted(set(fixed) - set(names))} not in loss_types")
    keywords = [_keyword_names(loss) for loss in losses]
    rejects_f = [n for n in names if PREFERENCE_LOSS_ALIASES.get(n, n) not in F_DIVERGENCE_LOSSES]
    known = set().union(*keywords, {"f_divergence_type", "f_alpha_divergence_coef"})

    def combined(
        policy_chosen_logps: ArrayLike,
        policy_rejected_logps: ArrayLike,
        reference_chosen_logps: ArrayLike,
        reference_rejected_logps: ArrayLike,
        *,
        beta: ArrayLike,
        **kwargs: Any,
    ) -> jax.Array:
        unused = set(kwargs) - known
        if unused:
            raise TypeError(f"no loss in {names} takes the keyword arguments {sorted(unused)}")
        if kwargs.get("f_divergence_type", "reverse_kl") != "reverse_kl" and rejects_f:
            raise ValueError(
                f"f_divergence_type={kwargs['f_divergence_type']!r} is only supported for "
                f"{sorted(F_DIVERGENCE_LOSSES)}; {rejects_f} take only reverse_kl"
            )
        logps = (
            policy_chosen_logps,
            policy_rejected_logps,
            reference_chosen_logps,
            reference_rejected_logps,
        )
        total = 0.0
        for name, weight, loss, own in zip(names, scale, losses, keywords, strict=True):
            shared = {key: value for key, value in kwargs.items() if key in own}
            own_kwargs = {**shared, **fixed.get(name, {})}
            total = total + weight * loss(*logps, beta=beta, **own_kwargs)
        return total

    return combined
