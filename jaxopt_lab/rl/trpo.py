"""TRPO's natural-gradient step (Schulman et al. 2015), jit- and vmap-compatible.

The step direction solves ``(F + damping I) s = g`` by conjugate gradient, with Fisher-vector
products ``F v`` taken as Hessian-vector products of the mean KL (``jax.jvp`` of its gradient;
``F`` is never materialised). The full step ``sqrt(2 delta / s^T (F + damping I) s) s`` is then
shrunk by a backtracking line search whose candidates are all evaluated at once with ``vmap``;
the first one with ``KL <= delta`` and a better surrogate is taken, else the parameters stay.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree


def conjugate_gradient(
    matvec: Callable[[jax.Array], jax.Array], b: jax.Array, iterations: int
) -> jax.Array:
    """``iterations`` steps of conjugate gradient for ``A x = b`` from ``x = 0`` (A SPD)."""

    def body(carry, _):
        x, r, p, rr = carry
        ap = matvec(p)
        alpha = rr / jnp.maximum(p @ ap, 1e-30)
        x, r = x + alpha * p, r - alpha * ap
        rr_new = r @ r
        p = r + (rr_new / jnp.maximum(rr, 1e-30)) * p
        return (x, r, p, rr_new), None

    init = (jnp.zeros_like(b), b, b, b @ b)
    (x, *_), _ = jax.lax.scan(body, init, None, iterations)
    return x


class TRPOInfo(NamedTuple):
    kl: jax.Array  # mean KL(old || new) at the accepted step (0 if rejected)
    accepted: jax.Array  # whether a line-search candidate was accepted
    step_fraction: jax.Array  # fraction of the full step taken (0 if rejected)
    improvement: jax.Array  # surrogate gain of the update


def natural_gradient_step(
    surrogate: Callable[[Any], jax.Array],
    kl: Callable[[Any], jax.Array],
    params: Any,
    max_kl: jax.Array | float,
    damping: jax.Array | float,
    cg_iterations: int = 10,
    backtrack_coef: float = 0.8,
    backtrack_steps: int = 10,
    fisher_kl: Callable[[Any], jax.Array] | None = None,
) -> tuple[Any, TRPOInfo]:
    """One TRPO update of ``params`` maximising ``surrogate`` subject to ``kl <= max_kl``.

    ``kl(params)`` is the mean ``KL(pi_old || pi_params)``, zero with zero gradient at the old
    parameters, so its Hessian there is the Fisher matrix. ``fisher_kl`` (default ``kl``) is
    the KL whose Hessian the conjugate gradient uses: the same KL on a subsample of the batch
    makes the step several times cheaper (OpenAI baselines' TRPO uses every 5th sample); the
    line search always checks the constraint with ``kl``.
    """
    flat, unravel = ravel_pytree(params)

    def flat_surrogate(x: jax.Array) -> jax.Array:
        return surrogate(unravel(x))

    def flat_kl(x: jax.Array) -> jax.Array:
        return kl(unravel(x))

    base, gradient = jax.value_and_grad(flat_surrogate)(flat)
    kl_grad = jax.grad(lambda x: (fisher_kl or kl)(unravel(x)))

    def fisher_vector(v: jax.Array) -> jax.Array:
        return jax.jvp(kl_grad, (flat,), (v,))[1] + damping * v

    direction = conjugate_gradient(fisher_vector, gradient, cg_iterations)
    curvature = direction @ fisher_vector(direction)
    full_step = jnp.sqrt(2.0 * max_kl / jnp.maximum(curvature, 1e-30)) * direction
    fractions = backtrack_coef ** jnp.arange(backtrack_steps, dtype=flat.dtype)
    candidates = flat[None] + fractions[:, None] * full_step[None]
    kls = jax.vmap(flat_kl)(candidates)
    gains = jax.vmap(flat_surrogate)(candidates) - base
    valid = (kls <= max_kl) & (gains > 0) & jnp.isfinite(gains)
    first = jnp.argmax(valid)
    accepted = valid.any()
    new_flat = jnp.where(accepted, candidates[first], flat)
    info = TRPOInfo(
        kl=jnp.where(accepted, kls[first], 0.0),
        accepted=accepted,
        step_fraction=jnp.where(accepted, fractions[first], 0.0),
        improvement=jnp.where(accepted, gains[first], 0.0),
    )
    return unravel(new_flat), info
