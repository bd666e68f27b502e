"""Cautious optimizers (Liang et al. 2024, "Cautious Optimizers: Improving Training with One
Line of Code"): keep only the components of a direction that agree with the gradient."""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxopt_lab.optim.adam import bias_corrected_direction
from jaxopt_lab.optim.lion import check_lion_args
from jaxopt_lab.optim.reductions import fused_sums
from jaxopt_lab.optim.validation import check_non_negative, check_unit_interval


class CautiousState(NamedTuple):
    """State of :func:`cautious`: the wrapped direction's state, nothing more."""

    inner_state: optax.OptState


def _mask(u: jax.Array, g: jax.Array, sign: jax.Array | None = None) -> jax.Array:
    """``u * phi / max(mean(phi), 1e-3)`` with ``phi = 1[s * g > 0]``, ``s = sign or u``.

    ``sign`` is any array with the sign of ``u`` that is cheaper to read (Adam's first moment).
    The agreements are counted exactly in int32 in one pass over ``s`` and ``g``, per row of
    the ``[shape[0], -1]`` view and then over rows: a vector of row counts is a reduction
    XLA:CPU splits across threads (a scalar one runs on one), and its long rows vectorise (a
    3x3 kernel's minor dimension does not). The disagreements are counted alongside
    (``max(agree, -disagree)`` is ``agree``) so that XLA keeps a two-output reduce fused with
    the comparison instead of materialising the mask (see :func:`fused_sums`).
    """
    s = u if sign is None else sign
    rows = s.shape[0] if s.ndim > 1 else 1
    row_s, row_g = s.reshape(rows, -1), g.reshape(rows, -1)
    row_counts = fused_sums(
        ((row_s * row_g > 0).astype(jnp.int32), (row_s * row_g < 0).astype(jnp.int32)), (1,)
    )
    count, disagree = fused_sums(row_counts, (0,))
    acc = jnp.promote_types(u.dtype, jnp.float32)
    frac = jnp.maximum(count, -disagree).astype(acc) / u.size
    scale = 1.0 / jnp.maximum(frac, 1e-3)
    return jnp.where(s * g > 0, u * scale.astype(u.dtype), jnp.zeros_like(u))


def cautious(direction: optax.GradientTransformation) -> optax.GradientTransformationExtraArgs:
    r"""Mask a descent direction against the raw gradient, renormalised per tensor.

    ``direction`` outputs ``u`` with the gradient's sign convention (the step is
    ``p <- p - lr * u``), as optax's ``scale_by_*`` blocks do; chain the learning rate and any
    decoupled weight decay after it, so that the decay stays outside the mask:

    .. math::
        \phi = \mathbb{1}[u \odot g > 0],\qquad
        u \leftarrow \frac{u \odot \phi}{\max(\mathrm{mean}(\phi), 10^{-3})}

    (timm's ``caution=True``). Example:
    ``optax.chain(cautious(optax.scale_by_adam()), optax.scale_by_learning_rate(1e-3))``.
    Do not wrap a full optimizer such as ``optax.adam(lr)``: its output has the opposite sign.
    """
    direction = optax.with_extra_args_support(direction)

    def init_fn(params: optax.Params) -> CautiousState:
        return CautiousState(inner_state=direction.init(params))

    def update_fn(
        updates: optax.Updates,
        state: CautiousState,
        params: optax.Params | None = None,
        **extra_args: Any,
    ) -> tuple[optax.Updates, CautiousState]:
        u, inner_state = direction.update(updates, state.inner_state, params, **extra_args)
        return jax.tree.map(_mask, u, updates), CautiousState(inner_state=inner_state)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def scale_by_cautious_adam(
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.999,
    eps: jax.typing.ArrayLike = 1e-8,
) -> optax.GradientTransformation:
    r"""``cautious(optax.scale_by_adam(b1, b2, eps))``, fused: the agreement is read off ``m``.

    .. math::
        m \leftarrow b_1 m + (1-b_1) g,\quad v \leftarrow b_2 v + (1-b_2) g^2,\quad
        u = \frac{m / (1-b_1^t)}{\sqrt{v}/\sqrt{1-b_2^t} + \epsilon},\quad
        \phi = \mathbb{1}[m \odot g > 0]

    then :func:`cautious`'s renormalised mask. ``u`` has the sign of the new ``m`` (bias
    corrections and denominator are positive), so counting agreements reads ``m`` and ``g``
    instead of recomputing ``u``. Same state as ``optax.scale_by_adam``; same output as the
    generic wrapper to rounding (see :func:`~jaxopt_lab.optim.adam.bias_corrected_direction`),
    except where a nonzero ``m`` gives a ``u`` that underflows to zero (counted as agreeing; its
    step is zero either way).
    """
    check_unit_interval("b1", b1)
    check_unit_interval("b2", b2)
    check_non_negative("eps", eps)
    init_fn = optax.scale_by_adam(b1=b1, b2=b2, eps=eps).init  # optax's Adam state

    def update_fn(
        updates: optax.Updates, state: optax.ScaleByAdamState, params: optax.Params | None = None
    ) -> tuple[optax.Updates, optax.ScaleByAdamState]:
        mu = optax.tree.update_moment(updates, state.mu, b1, 1)
        nu = optax.tree.update_moment_per_elem_norm(updates, state.nu, b2, 2)
        count = optax.safe_increment(state.count)

        def leaf(g: jax.Array, m: jax.Array, v: jax.Array) -> jax.Array:
            u = bias_corrected_direction(m, v, count, b1, b2, eps)
            return _mask(u.astype(g.dtype), g, sign=m)

        new_updates = jax.tree.map(leaf, updates, mu, nu)
        return new_updates, optax.ScaleByAdamState(count=count, mu=mu, nu=nu)

    return optax.GradientTransformation(init_fn, update_fn)


def cautious_adamw(
    learning_rate: optax.ScalarOrSchedule,
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.999,
    eps: jax.typing.ArrayLike = 1e-8,
    weight_decay: jax.typing.ArrayLike = 1e-2,
) -> optax.GradientTransformationExtraArgs:
    r"""C-AdamW: AdamW whose Adam direction is masked by :func:`cautious`.

    .. math::
        p \leftarrow p\,(1 - \mathrm{lr}\cdot\mathrm{wd}) - \mathrm{lr}\,
        \mathrm{caution}\Big(\frac{\hat m}{\sqrt{\hat v} + \epsilon}, g\Big)

    Liang et al. 2024; the decay is applied outside the mask, ``p`` taken before the step.
    """
    check_non_negative("learning_rate", learning_rate)
    check_non_negative("weight_decay", weight_decay)
    return optax.chain(
        scale_by_cautious_adam(b1=b1, b2=b2, eps=eps),
        optax.add_decayed_weights(weight_decay),
        optax.scale_by_learning_rate(learning_rate),
    )


def cautious_lion(
    learning_rate: optax.ScalarOrSchedule,
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.99,
    weight_decay: jax.typing.ArrayLike = 0.0,
) -> optax.GradientTransformationExtraArgs:
    r"""C-Lion: Lion whose sign direction is masked by :func:`cautious`.

    .. math::
        c = b_1 m + (1-b_1) g,\quad
        p \leftarrow p\,(1 - \mathrm{lr}\cdot\mathrm{wd}) - \mathrm{lr}\,
        \mathrm{caution}(\mathrm{sign}(c), g),\quad m \leftarrow b_2 m + (1-b_2) g

    Liang et al. 2024 on Chen et al. 2023; the decay is applied outside the mask.
    """
    check_lion_args(learning_rate, b1, b2, weight_decay)
    return optax.chain(
        cautious(optax.scale_by_lion(b1=b1, b2=b2)),
        optax.add_decayed_weights(weight_decay),
        optax.scale_by_learning_rate(learning_rate),
    )
