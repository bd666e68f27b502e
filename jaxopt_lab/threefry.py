"""Threefry-2x32 written out for XLA:CPU: the same bits, no loop.

JAX's default PRNG hashes with Threefry-2x32, 20 rounds (Salmon et al. 2011, "Parallel random
numbers: as easy as 1, 2, 3"). On CPU, jax 0.10 lowers each hash as a ``fori_loop`` over its five
4-round blocks, to keep compiles short. In a training step that draws a few small arrays, that
loop is what costs: XLA:CPU runs every iteration as a sequence of tiny kernels plus copies of
the loop state. The rollout of the canonical CartPole config makes five hashes per env step,
about 350 copies per step, most of the rollout's time. Written out straight, each hash is one
fused elementwise kernel, and XLA also compiles it faster than the loop.

:func:`use_unrolled_threefry` registers :func:`threefry2x32` as the CPU lowering of JAX's
``threefry2x32`` primitive (``import jaxopt_lab`` does it). Every key, split and draw gives the
same bits as before (tests/test_threefry.py checks Random123's known-answer vectors). A whole
program's results usually do not change either, but they may in the last bits: XLA fuses the
written-out hash with the code around it differently, and so can generate that code's
floating-point arithmetic differently (TA-LPO's meta-training diverged from generation 6 on;
the trainer's tables did not move).
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np

ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
"""Rotation constants of Threefry-2x32, alternating between the 4-round blocks."""
KEY_PARITY = np.uint32(0x1BD11BDA)
"""Threefish's key-schedule parity constant."""


def rotate_left(x: jax.Array, bits: int) -> jax.Array:
    return jax.lax.shift_left(x, np.uint32(bits)) | jax.lax.shift_right_logical(
        x, np.uint32(32 - bits)
    )


def threefry2x32(key1, key2, x1, x2) -> tuple[jax.Array, jax.Array]:
    """Threefry-2x32-20 of the counters ``(x1, x2)`` under the key ``(key1, key2)``.

    With key words ``k = (key1, key2, key1 ^ key2 ^ 0x1BD11BDA)``: inject ``(k0, k1)``, then 5
    blocks ``b`` of 4 rounds ``x1 += x2; x2 = rotl(x2, r) ^ x1``, each block followed by the
    injection ``x1 += k[(b + 1) % 3]``, ``x2 += k[(b + 2) % 3] + b + 1``. Arguments broadcast.
    """
    keys = (key1, key2, key1 ^ key2 ^ KEY_PARITY)
    x1, x2 = x1 + keys[0], x2 + keys[1]
    for block in range(5):
        for bits in ROTATIONS[block % 2]:
            x1 = x1 + x2
            x2 = rotate_left(x2, bits) ^ x1
        x1 = x1 + keys[(block + 1) % 3]
        x2 = x2 + keys[(block + 2) % 3] + np.uint32(block + 1)
    return jnp.asarray(x1), jnp.asarray(x2)


def use_unrolled_threefry() -> bool:
    """Lower JAX's ``threefry2x32`` on CPU with :func:`threefry2x32` (same bits, no loop).

    The hooks it needs (``jax.extend``, ``jax.interpreters.mlir``) are outside JAX's
    compatibility promise: with a JAX that lacks them, JAX's own lowering stays (the same bits,
    slower on CPU), a warning says so, and this returns ``False``."""
    try:
        from jax.extend.random import threefry2x32_p
        from jax.interpreters import mlir

        lowering = mlir.lower_fun(threefry2x32, multiple_results=True)
        mlir.register_lowering(threefry2x32_p, lowering, platform="cpu")
    except (ImportError, AttributeError, TypeError) as error:
        warnings.warn(
            f"jaxopt_lab: JAX {jax.__version__}'s own threefry lowering kept ({error})",
            stacklevel=2,
        )
        return False
    return True
