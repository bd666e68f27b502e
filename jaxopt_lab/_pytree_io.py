"""Saving and loading a pytree of arrays as one ``.npz`` file with JSON metadata.

Leaves are stored under their ``/``-joined key paths (``hidden``, ``net/out``, ``0/kernel``);
the metadata (a JSON object) under ``__metadata__``. :func:`load_pytree` checks the file
against a template (same leaves, same shapes) and the metadata against what the caller expects,
raising ``ValueError`` that names the file and the mismatch.
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from pathlib import Path
from typing import Any

import jax
import numpy as np

METADATA_KEY = "__metadata__"


def flat_name(path: tuple[Any, ...]) -> str:
    """A key path as ``a/b/0``."""
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
    return {flat_name(path): np.asarray(leaf) for path, leaf in leaves}


def save_pytree(path: str | os.PathLike, tree: Any, metadata: dict[str, Any] | None = None) -> None:
    """Write ``tree`` (and ``metadata``, JSON-serialisable) to ``path`` exactly as named."""
    arrays = flatten_named(tree)
    arrays[METADATA_KEY] = np.array(json.dumps(metadata or {}))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as file:
        np.savez(file, **arrays)


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The metadata of a file written by :func:`save_pytree`."""
    data = _read(path)
    if METADATA_KEY not in data:
        raise ValueError(f"{path}: not a jaxopt_lab parameter file (no metadata)")
    try:
        return json.loads(str(data[METADATA_KEY]))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: unreadable metadata ({error})") from None


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
    stored = {name: value for name, value in _read(path).items() if name != METADATA_KEY}
    if set(stored) != set(wanted):
        raise ValueError(f"{path}: holds parameters {sorted(stored)}, expected {sorted(wanted)}")
    for name, ref in wanted.items():
        if stored[name].shape != ref.shape:
            raise ValueError(
                f"{path}: parameter {name!r} has shape {stored[name].shape}, expected {ref.shape}"
            )
    leaves, treedef = jax.tree_util.tree_flatten_with_path(like)
    values = [stored[flat_name(p)].astype(np.asarray(leaf).dtype) for p, leaf in leaves]
    return jax.tree_util.tree_unflatten(treedef, values), metadata


def _read(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` file ``path``; ``ValueError`` saying what ``path`` is
    instead: missing, a directory, empty, not a zip archive (a text file, say) or a damaged
    (truncated) one."""
    file = Path(path)
    if not file.exists():
        raise ValueError(f"{path}: no such file")
    if file.is_dir():
        raise _unreadable(path, "it is a directory")
    with open(file, "rb") as handle:
        head = handle.read(4)
    if head != b"PK\x03\x04":  # how every zip archive (an .npz) starts
        raise _unreadable(
            path,
            f"it starts with {head!r}, not as a zip archive does" if head else "the file is empty",
        )
    try:
        with np.load(file, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise _unreadable(path, f"a damaged or truncated zip archive: {error}") from None


def _unreadable(path: str | os.PathLike, reason: str) -> ValueError:
    return ValueError(f"{path}: not a readable .npz parameter file ({reason})")
