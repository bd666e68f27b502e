"""Saving and loading a pytree of arrays as one ``.npz`` file with JSON metadata.

Leaves are stored under their ``/``-joined key paths (``hidden``, ``net/out``, ``0/kernel``);
the metadata (a JSON object) under ``__metadata__``. :func:`load_pytree` checks the file
against a template (same leaves, same shapes) and the metadata against what the caller expects,
raising ``ValueError`` that names the file and the mismatch.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jax
import numpy as np

METADATA_KEY = "__metadata__"


def _name(path: tuple[Any, ...]) -> str:
    parts = []
    for entry in path:
        for attribute in ("key", "name", "idx"):
            if hasattr(entry, attribute):
                parts.append(str(getattr(entry, attribute)))
                break
    return "/".join(parts)


def flatten_named(tree: Any) -> dict[str, np.ndarray]:
    """``{key path: leaf}`` of ``tree`` as host arrays."""
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {_name(path): np.asarray(leaf) for path, leaf in leaves}


def save_pytree(path: str | os.PathLike, tree: Any, metadata: dict[str, Any] | None = None) -> None:
    """Write ``tree`` (and ``metadata``, JSON-serialisable) to ``path`` exactly as named."""
    arrays = flatten_named(tree)
    arrays[METADATA_KEY] = np.array(json.dumps(metadata or {}))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as file:
        np.savez(file, **arrays)


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The metadata of a file written by :func:`save_pytree`."""
    with _open(path) as data:
        if METADATA_KEY not in data:
            raise ValueError(f"{path}: not a jaxopt_lab parameter file (no metadata)")
        return json.loads(str(data[METADATA_KEY]))


def load_pytree(
    path: str | os.PathLike, like: Any, expect: dict[str, Any] | None = None
) -> tuple[Any, dict[str, Any]]:
    """Load a file written by :func:`save_pytree` into the structure of ``like``.

    Every leaf of ``like`` must be in the file with the same shape (dtype follows ``like``),
    the file must hold no other leaves, and each ``expect`` item must equal the metadata's.
    Returns ``(tree, metadata)``.
    """
    metadata = read_metadata(path)
    for key, value in (expect or {}).items():
        if metadata.get(key) != value:
            raise ValueError(
                f"{path}: {key} is {metadata.get(key)!r}, expected {value!r} "
                f"(a file from another setting cannot be used here)"
            )
    wanted = flatten_named(like)
    with _open(path) as data:
        stored = {name: data[name] for name in data.files if name != METADATA_KEY}
    if set(stored) != set(wanted):
        raise ValueError(f"{path}: holds parameters {sorted(stored)}, expected {sorted(wanted)}")
    for name, ref in wanted.items():
        if stored[name].shape != ref.shape:
            raise ValueError(
                f"{path}: parameter {name!r} has shape {stored[name].shape}, expected {ref.shape}"
            )
    leaves, treedef = jax.tree_util.tree_flatten_with_path(like)
    values = [stored[_name(p)].astype(np.asarray(leaf).dtype) for p, leaf in leaves]
    return jax.tree_util.tree_unflatten(treedef, values), metadata


def _open(path: str | os.PathLike) -> Any:
    if not Path(path).is_file():
        raise ValueError(f"{path}: no such file")
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: not a readable .npz parameter file ({error})") from None
