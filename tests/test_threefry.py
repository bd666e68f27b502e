"""The unrolled Threefry lowering gives Threefry-2x32-20's bits and compiles without a loop."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.extend.random import threefry_2x32

from jaxopt_lab.threefry import threefry2x32

# Random123's known-answer vectors for threefry2x32_20: (key, counter) -> output.
KNOWN_ANSWERS = [
    ((0x00000000, 0x00000000), (0x00000000, 0x00000000), (0x6B200159, 0x99BA4EFE)),
    ((0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF), (0x1CB996FC, 0xBB002BE7)),
    ((0x13198A2E, 0x03707344), (0x243F6A88, 0x85A308D3), (0xC4923A9C, 0x483DF7A0)),
]


@pytest.mark.parametrize(("key", "counter", "expected"), KNOWN_ANSWERS)
def test_function_matches_known_answers(key, counter, expected):
    words = [np.uint32(w) for w in (*key, *counter)]
    with np.errstate(over="ignore"):
        out = threefry2x32(*words)
    assert [int(x) for x in out] == list(expected)


@pytest.mark.parametrize(("key", "counter", "expected"), KNOWN_ANSWERS)
def test_jax_primitive_on_cpu_matches_known_answers(key, counter, expected):
    out = jax.jit(threefry_2x32)(np.uint32(key), np.uint32(counter))
    assert [int(x) for x in out] == list(expected)


def test_draws_compile_without_a_loop():
    """``import jaxopt_lab`` installed the lowering: no ``while`` in a draw's program."""
    hlo = jax.jit(lambda k: jax.random.normal(k, (8,))).lower(jax.random.key(0)).as_text()
    assert "while" not in hlo
    assert "threefry" in hlo  # still JAX's threefry primitive, lowered by us


def test_counters_broadcast_against_scalar_keys():
    counters = jnp.arange(6, dtype=jnp.uint32)
    out = jax.jit(threefry2x32)(np.uint32(7), np.uint32(9), counters, counters[::-1])
    pairs = zip(counters, counters[::-1], strict=True)
    singles = [[int(x) for x in threefry2x32(np.uint32(7), np.uint32(9), c, d)] for c, d in pairs]
    np.testing.assert_array_equal(np.stack(out, 1), np.array(singles))


def test_a_jax_without_the_hooks_keeps_its_own_lowering(monkeypatch):
    """The hooks are outside JAX's compatibility promise: without one, a warning and JAX's
    own lowering (the same bits), not an import error."""
    from jax.interpreters import mlir

    from jaxopt_lab.threefry import use_unrolled_threefry

    assert use_unrolled_threefry() is True  # registering it again changes nothing
    monkeypatch.delattr(mlir, "lower_fun")
    with pytest.warns(UserWarning, match="own threefry lowering kept"):
        assert use_unrolled_threefry() is False
