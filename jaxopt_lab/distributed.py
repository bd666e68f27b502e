"""Joining a multi-process (multi-host) run, before anything touches JAX.

This module imports nothing but JAX: ``jax.distributed.initialize`` must run before the XLA
backend starts, and importing gymnax already starts it (module-level arrays).
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Sequence

import jax


def start_processes(argv: Sequence[str]) -> None:
    """Join a multi-process run before anything touches JAX: with ``--coordinator-address``,
    ``--num-processes`` and ``--process-id``, ``jax.distributed.initialize`` with them;
    without, it auto-detects a cluster (SLURM, Open MPI, Cloud TPU, ...), and a lone machine
    stays one process."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--coordinator-address")
    pre.add_argument("--num-processes", type=int)
    pre.add_argument("--process-id", type=int)
    known, _ = pre.parse_known_args(argv)
    flags = (known.coordinator_address, known.num_processes, known.process_id)
    if all(flag is None for flag in flags):
        with contextlib.suppress(ValueError, RuntimeError):  # no cluster detected: one process
            jax.distributed.initialize()
        return
    if any(flag is None for flag in flags):
        raise ValueError(
            "coordinator_address: give --coordinator-address, --num-processes and "
            "--process-id together"
        )
    if not 0 <= known.process_id < known.num_processes:
        raise ValueError(
            f"process_id: got {known.process_id}; must be in [0, {known.num_processes})"
        )
    jax.distributed.initialize(*flags)
