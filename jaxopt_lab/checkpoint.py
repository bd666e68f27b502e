"""Orbax checkpoints of any pytree of arrays: a population's runner state, an ES state."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

from jaxopt_lab._pytree_io import flat_name


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
    one device). Returns ``(step, state)``; raises what :func:`check_checkpoint` raises, and
    ``ValueError`` naming the checkpoint when an array cannot be read (damaged, truncated).
    """
    with _reader(directory) as manager:
        step = _checked_step(manager, directory, like, step)
        abstract = jax.tree.map(lambda x: _abstract(x, sharding), like)
        try:
            saved = manager.restore(step, args=ocp.args.StandardRestore(abstract))
        except Exception as error:  # orbax raises what its file readers raise
            message = f"{directory}/{step}: unreadable checkpoint ({_reason(error)})"
            raise ValueError(message) from None
    return step, _from_saveable(saved, like)


def check_checkpoint(directory: str | Path, like: Any, step: int | None = None) -> int:
    """The step :func:`restore_state` would restore, checked without reading an array:
    ``FileNotFoundError`` when there is no checkpoint; ``ValueError`` naming the checkpoint
    when ``step`` is not there, when its metadata cannot be read (damaged, truncated) or when
    its arrays do not have the shapes of ``like`` (a checkpoint of another config)."""
    with _reader(directory) as manager:
        return _checked_step(manager, directory, like, step)


def _reader(directory: str | Path) -> ocp.CheckpointManager:
    options = ocp.CheckpointManagerOptions(create=False)
    handler = ocp.StandardCheckpointHandler()  # lets the manager read the arrays' metadata
    return ocp.CheckpointManager(Path(directory).absolute(), options=options, item_handlers=handler)


def _checked_step(
    manager: ocp.CheckpointManager, directory: str | Path, like: Any, step: int | None
) -> int:
    steps = manager.all_steps()
    step = max(steps, default=None) if step is None else step
    if step is None:
        raise FileNotFoundError(f"no checkpoint under {directory}")
    if step not in steps:
        found = ", ".join(map(str, sorted(steps))) or "none"
        raise ValueError(f"{directory}: no checkpoint of step {step} (steps found: {found})")
    name = f"{directory}/{step}"
    absl = logging.getLogger("absl")
    level = absl.level
    absl.setLevel(logging.ERROR)  # orbax logs a warning before returning no metadata
    try:
        metadata = manager.item_metadata(step)
    except Exception as error:  # orbax raises what its file reader raises
        raise ValueError(f"{name}: unreadable checkpoint ({_reason(error)})") from None
    finally:
        absl.setLevel(level)
    tree = getattr(metadata, "tree", metadata)
    if not tree:
        raise ValueError(f"{name}: unreadable checkpoint (its metadata is missing or damaged)")
    saved = {flat_name(path): leaf for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]}
    wanted = jax.tree.map(lambda x: _abstract(x, None), like)
    for path, leaf in jax.tree_util.tree_flatten_with_path(wanted)[0]:
        array = flat_name(path)
        if array not in saved:
            raise ValueError(f"{name}: holds no array {array} (a checkpoint of another config)")
        if tuple(saved[array].shape) != tuple(leaf.shape):
            raise ValueError(
                f"{name}: {array} has shape {tuple(saved[array].shape)}, the config needs "
                f"{tuple(leaf.shape)} (a checkpoint of another config)"
            )
    return step


def _reason(error: BaseException) -> str:
    """The error's type and the start of its first line (orbax's can run for pages)."""
    lines = str(error).strip().splitlines()
    text = lines[0] if lines else ""
    return f"{type(error).__name__}: {text[:160]}{'...' if len(text) > 160 else ''}"


def _abstract(leaf: Any, sharding: Any) -> Any:
    if isinstance(leaf, np.ndarray):
        return leaf
    shape = jax.eval_shape(lambda x: jax.random.key_data(x) if _is_key(x) else x, leaf)
    return jax.ShapeDtypeStruct(shape.shape, shape.dtype, sharding=sharding)
