"""Sums that XLA compiles into one pass over their operands."""

import jax
import jax.numpy as jnp


def fused_sums(operands: tuple[jax.Array, ...], axes: tuple[int, ...]) -> tuple[jax.Array, ...]:
    """The sums of same-shape ``operands`` over ``axes``, as one variadic ``lax.reduce``.

    XLA fuses the elementwise producers of all operands into a single loop that reads each
    input once. Separate ``jnp.sum`` calls can each re-read the inputs, and on XLA:CPU a
    one-operand reduction of a compound expression first materialises that expression
    (a float one is handed to a library kernel, an integer one is rewritten as a tree of
    windowed reductions); a variadic reduce is neither.
    """
    zeros = tuple(jnp.zeros((), x.dtype) for x in operands)
    return tuple(
        jax.lax.reduce(
            tuple(operands),
            zeros,
            lambda a, b: tuple(x + y for x, y in zip(a, b, strict=True)),
            tuple(axes),
        )
    )
