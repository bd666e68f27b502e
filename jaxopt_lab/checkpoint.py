"""Orbax checkpoints of any pytree of arrays: a population's runner state, an ES state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp


def _is_key(x: Any) -> bool:
    return hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _to_saveable(state: Any) -> Any:
    """Typed PRNG keys become their raw ``uint32`` data (orbax stores plain arrays)."""
    return jax.tree.map(lambda x: jax.random.key_data(x) if _is_key(x) else x, state)


def _from_saveable(saved: Any, like: Any) -> Any:
    """Inverse of :func:`_to_saveable` (keys use JAX's default implementation)."""
    return jax.tree.map(
        lambda x, ref: jax.random.wrap_key_data(x) if _is_key(ref) else x, saved, like
    )


def checkpoint_manager(
    directory: str | Path, keep_period: int | None = None
) -> ocp.CheckpointManager:
    """A manager keeping the latest checkpoint under ``directory``, and with ``keep_period``
    every step that is a multiple of it (a group's final state, say)."""
    options = ocp.CheckpointManagerOptions(max_to_keep=1, keep_period=keep_period, create=True)
    return ocp.CheckpointManager(Path(directory).absolute(), options=options)


def save_state(manager: ocp.CheckpointManager, step: int, state: Any) -> None:
    """Save ``state``: JAX arrays (sharded ones stay sharded, each process writing its part),
    PRNG keys, and NumPy arrays (written once)."""
    manager.save(step, args=ocp.args.StandardSave(_to_saveable(state)))


def restore_state(
    directory: str | Path, like: Any, step: int | None = None, sharding: Any = None
) -> tuple[int, Any]:
    """Restore the latest (or ``step``) checkpoint into the structure of ``like``.

    ``like`` may be abstract (``jax.eval_shape`` of the vmapped ``init``); its NumPy leaves
    come back as NumPy arrays, the others as JAX arrays laid out with ``sharding`` (default:
    one device). Returns ``(step, state)``; raises ``FileNotFoundError`` when there is no
    checkpoint.
    """
    manager = checkpoint_manager(directory)
    step = manager.latest_step() if step is None else step
    if step is None:
        raise FileNotFoundError(f"no checkpoint under {directory}")
    abstract = jax.tree.map(lambda x: _abstract(x, sharding), like)
    saved = manager.restore(step, args=ocp.args.StandardRestore(abstract))
    return step, _from_saveable(saved, like)


def _abstract(leaf: Any, sharding: Any) -> Any:
    if isinstance(leaf, np.ndarray):
        return leaf
    shape = jax.eval_shape(lambda x: jax.random.key_data(x) if _is_key(x) else x, leaf)
    return jax.ShapeDtypeStruct(shape.shape, shape.dtype, sharding=sharding)
