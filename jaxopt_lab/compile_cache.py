"""JAX's persistent compilation cache for the experiment scripts.

A script that calls :func:`use_compile_cache` keeps every program that took at least
``MIN_COMPILE_SECONDS`` to compile on disk, so rerunning a command, resuming a killed run or
re-evaluating one loads its programs instead of compiling them again (XLA's backend compile
is most of a CartPole run's start-up). The results are the same bits: the cache key is the
lowered program with its compile options, XLA flags, devices and versions.

The cache is JAX's own (``jax_compilation_cache_dir``), and JAX's settings win:
``JAX_COMPILATION_CACHE_DIR`` picks the folder, ``JAX_ENABLE_COMPILATION_CACHE=false`` turns it
off, ``JAX_COMPILATION_CACHE_MAX_SIZE`` and ``JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS`` set
its size and threshold. Otherwise the folder is ``$XDG_CACHE_HOME/jaxopt_lab/xla`` (by default
``~/.cache/jaxopt_lab/xla``), readable by its owner only (JAX runs what it finds there), at
most ``MAX_BYTES``, least recently used entries dropped first. An entry JAX cannot read
(a process killed while writing it) is a warning and a fresh compile, every time until the
folder is deleted. The benchmarks do not call this: their compile times are first-run times.
"""

from __future__ import annotations

import os
from pathlib import Path

import jax

MAX_BYTES = 2 * 1024**3
"""The cache's size limit unless ``JAX_COMPILATION_CACHE_MAX_SIZE`` sets one."""
MIN_COMPILE_SECONDS = 0.25
"""Programs that compile faster are not cached (JAX's default, 1 s, would leave out a CartPole
run's evaluation program) unless ``JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS`` says."""
_HIT_EVENT = "/jax/compilation_cache/cache_hits"
_hits = 0
_listening = False


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/jaxopt_lab/xla``, ``~/.cache/jaxopt_lab/xla`` without it."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "jaxopt_lab" / "xla"


def use_compile_cache() -> Path | None:
    """Turn on the persistent compilation cache (module docstring); returns its folder, or
    ``None`` when it is off (``JAX_ENABLE_COMPILATION_CACHE=false``, or a default folder that
    cannot be created: the script then compiles as usual)."""
    if not jax.config.jax_enable_compilation_cache:
        return None
    directory = jax.config.jax_compilation_cache_dir
    if directory is None:
        try:
            directory = default_cache_dir()
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except (OSError, RuntimeError):  # no home folder, or not writable
            return None
        directory = str(directory)
        jax.config.update("jax_compilation_cache_dir", directory)
    if "JAX_COMPILATION_CACHE_MAX_SIZE" not in os.environ:
        jax.config.update("jax_compilation_cache_max_size", MAX_BYTES)
    if "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in os.environ:
        jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
    _count_hits()
    return Path(directory)


def cache_hits() -> int:
    """Programs this process has loaded from the persistent cache since it was turned on."""
    return _hits


def _count_hits() -> None:
    global _listening
    if not _listening:
        jax.monitoring.register_event_listener(_on_event)
        _listening = True


def _on_event(event: str, **_: object) -> None:
    global _hits
    if event == _HIT_EVENT:
        _hits += 1
