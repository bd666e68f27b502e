"""AdamP and SGDP (Heo et al. 2021, "AdamP: Slowing Down the Slowdown for Momentum Optimizers
on Scale-invariant Weights"): remove the radial component of the step on scale-invariant
weights, detected by a small cosine between the gradient and the weight."""

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxopt_lab.optim.adam import bias_corrected_direction
from jaxopt_lab.optim.reductions import fused_sums
from jaxopt_lab.optim.validation import check_non_negative, check_positive, check_unit_interval


def _project(
    p: jax.Array,
    g: jax.Array,
    d: jax.Array,
    delta: jax.typing.ArrayLike,
    wd_ratio: jax.typing.ArrayLike,
    eps: jax.typing.ArrayLike,
) -> tuple[jax.Array, jax.Array]:
    """AdamP's projection of ``d`` for one tensor with ``ndim > 1``; returns ``(d, wd_factor)``.

    Channel view ``[shape[0], -1]`` first, then layer view ``[1, -1]``; a view fires when
    ``max_rows |cos(g, p)| < delta / sqrt(row_length)`` (torch's cosine, clamped norms), and then
    ``d <- d - p_n * sum_row(p_n * d)`` with ``p_n = p / (|p|_row + eps)``.

    Cost: one fused pass computes the four per-channel sums ``p.p, g.g, g.p, p.d`` that both
    views need (the layer view's sums are the sums of the channels' sums), and the projected
    direction is ``d - p * coef`` with one coefficient per channel, so the caller's final
    elementwise update absorbs it. Everything stays in ``p``'s own shape: XLA then updates
    donated parameters in place.
    """
    acc = jnp.promote_types(d.dtype, jnp.float32)
    P, G, D = (x.astype(acc) for x in (p, g, d))
    pp, gg, gp, pd = fused_sums((P * P, G * G, G * P, P * D), tuple(range(1, p.ndim)))
    layer_pp, layer_gg, layer_gp, layer_pd = fused_sums((pp, gg, gp, pd), (0,))

    def abs_cos(gp: jax.Array, gg: jax.Array, pp: jax.Array) -> jax.Array:
        return jnp.abs(gp) / (jnp.maximum(jnp.sqrt(gg), eps) * jnp.maximum(jnp.sqrt(pp), eps))

    channel = jnp.max(abs_cos(gp, gg, pp)) < delta / math.sqrt(p.size // p.shape[0])
    layer = abs_cos(layer_gp, layer_gg, layer_pp) < delta / math.sqrt(p.size)
    coef = jnp.where(
        channel,
        pd / jnp.square(jnp.sqrt(pp) + eps),
        jnp.where(layer, layer_pd / jnp.square(jnp.sqrt(layer_pp) + eps), 0.0),
    )
    projected = D - P * coef.reshape(-1, *[1] * (p.ndim - 1))
    return projected, jnp.where(channel | layer, wd_ratio, 1.0)


class ScaleByAdamPState(NamedTuple):
    """Adam's step count and moments."""

    count: jax.Array
    mu: optax.Updates
    nu: optax.Updates


def scale_by_adamp(
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.999,
    eps: jax.typing.ArrayLike = 1e-8,
    weight_decay: jax.typing.ArrayLike = 0.0,
    delta: jax.typing.ArrayLike = 0.1,
    wd_ratio: jax.typing.ArrayLike = 0.1,
    nesterov: bool = False,
) -> optax.GradientTransformation:
    r"""AdamP's direction, including its weight decay (its factor depends on the projection).

    .. math::
        d = \frac{m}{\sqrt{v}/\sqrt{1-b_2^t} + \epsilon}\ \Big(\text{nesterov: }
        \frac{b_1 m + (1-b_1) g}{\sqrt{v}/\sqrt{1-b_2^t} + \epsilon}\Big),\qquad
        u = \frac{\mathrm{proj}(d)}{1-b_1^t} + \mathrm{wd}\cdot r\cdot p

    with ``proj`` and ``r`` (``wd_ratio`` when projected, else 1) from the channel/layer test
    for tensors with ``ndim > 1``. Follow with ``optax.scale_by_learning_rate(lr)``.
    Heo et al. 2021.

    ``proj`` is linear in ``d``, so the ``1/(1-b_1^t)`` correction is applied before it, with
    the other one, in :func:`~jaxopt_lab.optim.adam.bias_corrected_direction`.
    """

    def init_fn(params: optax.Params) -> ScaleByAdamPState:
        return ScaleByAdamPState(
            count=jnp.zeros([], jnp.int32),
            mu=optax.tree.zeros_like(params),
            nu=optax.tree.zeros_like(params),
        )

    def update_fn(
        updates: optax.Updates, state: ScaleByAdamPState, params: optax.Params | None = None
    ) -> tuple[optax.Updates, ScaleByAdamPState]:
        if params is None:
            raise ValueError("scale_by_adamp needs params: call update(grads, state, params)")
        mu = optax.tree.update_moment(updates, state.mu, b1, 1)
        nu = optax.tree.update_moment_per_elem_norm(updates, state.nu, b2, 2)
        count = optax.safe_increment(state.count)

        def leaf(g: jax.Array, m: jax.Array, v: jax.Array, p: jax.Array) -> jax.Array:
            numerator = b1 * m + (1 - b1) * g if nesterov else m
            d = bias_corrected_direction(numerator, v, count, b1, b2, eps)
            wd_factor = 1.0
            if p.ndim > 1:
                d, wd_factor = _project(p, g, d, delta, wd_ratio, eps)
            return (d + (weight_decay * wd_factor) * p).astype(g.dtype)

        new_updates = jax.tree.map(leaf, updates, mu, nu, params)
        return new_updates, ScaleByAdamPState(count=count, mu=mu, nu=nu)

    return optax.GradientTransformation(init_fn, update_fn)


def adamp(
    learning_rate: optax.ScalarOrSchedule = 1e-3,
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.999,
    eps: jax.typing.ArrayLike = 1e-8,
    weight_decay: jax.typing.ArrayLike = 0.0,
    delta: jax.typing.ArrayLike = 0.1,
    wd_ratio: jax.typing.ArrayLike = 0.1,
    nesterov: bool = False,
) -> optax.GradientTransformationExtraArgs:
    r"""AdamP (Heo et al. 2021), equal to the reference ``adamp.AdamP``.

    .. math::
        p \leftarrow p\,(1 - \mathrm{lr}\cdot\mathrm{wd}\cdot r) - \frac{\mathrm{lr}}{1-b_1^t}
        \,\mathrm{proj}(d)

    See :func:`scale_by_adamp` for ``d``, ``proj`` and ``r``; all tests use ``p`` before the
    step. On 1-D tensors this is AdamW.
    """
    check_non_negative("learning_rate", learning_rate)
    check_unit_interval("b1", b1)
    check_unit_interval("b2", b2)
    _check_projection_args(eps, weight_decay, delta, wd_ratio)
    return optax.chain(
        scale_by_adamp(b1, b2, eps, weight_decay, delta, wd_ratio, nesterov),
        optax.scale_by_learning_rate(learning_rate),
    )


class ScaleBySGDPState(NamedTuple):
    """The momentum buffer (``None`` when ``momentum`` is the constant 0)."""

    momentum_buffer: optax.Updates | None


def scale_by_sgdp(
    momentum: jax.typing.ArrayLike = 0.0,
    dampening: jax.typing.ArrayLike = 0.0,
    weight_decay: jax.typing.ArrayLike = 0.0,
    nesterov: bool = False,
    eps: jax.typing.ArrayLike = 1e-8,
    delta: jax.typing.ArrayLike = 0.1,
    wd_ratio: jax.typing.ArrayLike = 0.1,
    project_momentum_buffer: bool = True,
) -> optax.GradientTransformation:
    r"""SGDP's direction, including its weight decay.

    .. math::
        b \leftarrow \mu b + (1-\tau) g,\quad d = g + \mu b\ \text{(nesterov) or } b,\quad
        u = \mathrm{proj}(d) + \frac{\mathrm{wd}\cdot r}{1-\mu}\,p

    with the projection test of :func:`scale_by_adamp` (cosine of ``g`` with ``p``). Follow
    with ``optax.scale_by_learning_rate(lr)``. Heo et al. 2021.

    Without nesterov, clovaai's reference makes ``d`` the momentum buffer itself and projects it
    in place, so the stored buffer is ``proj(b)`` and later steps build on the projected
    momentum: that is the default here. ``project_momentum_buffer=False`` projects a copy and
    keeps ``b`` unprojected (the two agree until a projection fires with ``momentum > 0``). With
    nesterov ``d`` is a new tensor in the reference, and the buffer is never projected.
    """
    keep_buffer = not (isinstance(momentum, int | float) and momentum == 0)
    carry_projection = project_momentum_buffer and not nesterov

    def init_fn(params: optax.Params) -> ScaleBySGDPState:
        return ScaleBySGDPState(optax.tree.zeros_like(params) if keep_buffer else None)

    def update_fn(
        updates: optax.Updates, state: ScaleBySGDPState, params: optax.Params | None = None
    ) -> tuple[optax.Updates, ScaleBySGDPState]:
        if params is None:
            raise ValueError("scale_by_sgdp needs params: call update(grads, state, params)")
        if keep_buffer:
            buf = jax.tree.map(
                lambda b, g: (momentum * b + (1 - dampening) * g).astype(b.dtype),
                state.momentum_buffer,
                updates,
            )
        else:
            buf = jax.tree.map(lambda g: (1 - dampening) * g, updates)

        def leaf(g: jax.Array, b: jax.Array, p: jax.Array) -> tuple[jax.Array, jax.Array]:
            d = g + momentum * b if nesterov else b
            wd_factor = 1.0
            if p.ndim > 1:
                d, wd_factor = _project(p, g, d, delta, wd_ratio, eps)
            update = (d + (weight_decay * wd_factor / (1 - momentum)) * p).astype(g.dtype)
            return update, d.astype(b.dtype) if carry_projection else b

        pairs = jax.tree.map(leaf, updates, buf, params)
        outer, inner = jax.tree.structure(updates), jax.tree.structure((0, 0))
        new_updates, new_buf = jax.tree.transpose(outer, inner, pairs)
        return new_updates, ScaleBySGDPState(new_buf if keep_buffer else None)

    return optax.GradientTransformation(init_fn, update_fn)


def sgdp(
    learning_rate: optax.ScalarOrSchedule,
    momentum: jax.typing.ArrayLike = 0.0,
    dampening: jax.typing.ArrayLike = 0.0,
    weight_decay: jax.typing.ArrayLike = 0.0,
    nesterov: bool = False,
    eps: jax.typing.ArrayLike = 1e-8,
    delta: jax.typing.ArrayLike = 0.1,
    wd_ratio: jax.typing.ArrayLike = 0.1,
    project_momentum_buffer: bool = True,
) -> optax.GradientTransformationExtraArgs:
    r"""SGDP (Heo et al. 2021), equal to the reference ``adamp.SGDP`` (clovaai).

    .. math::
        p \leftarrow p\,\Big(1 - \frac{\mathrm{lr}\cdot\mathrm{wd}\cdot r}{1-\mu}\Big)
        - \mathrm{lr}\,\mathrm{proj}(d)

    See :func:`scale_by_sgdp`; the first step's buffer is ``(1 - dampening) * g``. Without
    nesterov the momentum buffer itself is projected, as in the reference;
    ``project_momentum_buffer=False`` projects a copy instead.
    """
    check_non_negative("learning_rate", learning_rate)
    check_unit_interval("momentum", momentum)
    check_unit_interval("dampening", dampening, closed=True)
    _check_projection_args(eps, weight_decay, delta, wd_ratio)
    return optax.chain(
        scale_by_sgdp(
            momentum,
            dampening,
            weight_decay,
            nesterov,
            eps,
            delta,
            wd_ratio,
            project_momentum_buffer,
        ),
        optax.scale_by_learning_rate(learning_rate),
    )


def _check_projection_args(
    eps: jax.typing.ArrayLike,
    weight_decay: jax.typing.ArrayLike,
    delta: jax.typing.ArrayLike,
    wd_ratio: jax.typing.ArrayLike,
) -> None:
    check_non_negative("eps", eps)
    check_non_negative("weight_decay", weight_decay)
    check_positive("delta", delta)
    check_non_negative("wd_ratio", wd_ratio)
