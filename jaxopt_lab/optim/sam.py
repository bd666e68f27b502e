"""SAM (Foret et al. 2021, "Sharpness-Aware Minimization for Efficiently Improving
Generalization") and ASAM (Kwon et al. 2021, "ASAM: Adaptive Sharpness-Aware Minimization for
Scale-Invariant Learning of Deep Neural Networks")."""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxopt_lab.optim.validation import check_non_negative


class SAMState(NamedTuple):
    """State of :func:`sam`: the base optimizer's state (no copy of the parameters)."""

    inner_state: optax.OptState


def _global_norm(tree: optax.Updates) -> jax.Array:
    leaves = jax.tree.leaves(tree)
    acc = jnp.result_type(jnp.float32, *leaves)
    return jnp.sqrt(sum(jnp.sum(jnp.square(x.astype(acc))) for x in leaves))


def sam(
    optimizer: optax.GradientTransformation,
    rho: jax.typing.ArrayLike = 0.05,
    adaptive: bool = False,
    eps: jax.typing.ArrayLike = 1e-12,
) -> optax.GradientTransformationExtraArgs:
    r"""One full SAM (or ASAM, ``adaptive=True``) step per ``update`` call.

    ``update(grads, state, params, grad_fn=...)`` perturbs the parameters along the gradient,
    with the L2 norm taken over the whole pytree,

    .. math::
        e = \rho\,\frac{g}{\lVert g \rVert + \epsilon}\qquad
        \Big(\text{ASAM: } e = \rho\,\frac{p^2 \odot g}{\lVert\, |p| \odot g \,\rVert
        + \epsilon}\Big),

    evaluates ``grad_fn(params + e)`` and lets ``optimizer`` step from ``params`` with that
    gradient. ``grad_fn(params) -> grads`` is the loss's gradient on the current batch.
    Unlike ``optax.contrib.sam`` it needs no alternating calls and is finite on a zero gradient.
    ASAM is usually run with ``rho`` around 2.0.
    """
    check_non_negative("rho", rho)
    check_non_negative("eps", eps)
    optimizer = optax.with_extra_args_support(optimizer)

    def init_fn(params: optax.Params) -> SAMState:
        return SAMState(inner_state=optimizer.init(params))

    def update_fn(
        updates: optax.Updates,
        state: SAMState,
        params: optax.Params | None = None,
        *,
        grad_fn: Callable[[optax.Params], optax.Updates] | None = None,
        **extra_args: Any,
    ) -> tuple[optax.Updates, SAMState]:
        if grad_fn is None or params is None:
            raise ValueError(
                "sam needs the parameters and the loss's gradient function: "
                "call update(grads, state, params, grad_fn=grad_fn)"
            )
        if adaptive:
            direction = jax.tree.map(lambda g, p: jnp.square(p) * g, updates, params)
            norm = _global_norm(jax.tree.map(lambda g, p: jnp.abs(p) * g, updates, params))
        else:
            direction, norm = updates, _global_norm(updates)
        scale = rho / (norm + eps)
        perturbed = jax.tree.map(
            lambda p, d: (p + scale.astype(d.dtype) * d).astype(p.dtype), params, direction
        )
        sam_grads = grad_fn(perturbed)
        new_updates, inner_state = optimizer.update(
            sam_grads, state.inner_state, params, grad_fn=grad_fn, **extra_args
        )
        return new_updates, SAMState(inner_state=inner_state)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
