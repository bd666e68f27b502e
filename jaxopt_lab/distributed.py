"""Setting up devices and processes, before anything touches JAX.

This module imports nothing but JAX: the CPU device count and ``jax.distributed.initialize``
must be set before the XLA backend starts, and importing gymnax already starts it
(module-level arrays). The scripts call :func:`start_processes` first thing.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Sequence

import jax

MAX_CPU_DEVICES = 1024


def start_processes(argv: Sequence[str]) -> None:
    """Set the CPU devices and join a multi-process run, before anything touches JAX.

    ``--cpu-devices N`` (default: the cores this process may use, unless ``JAX_NUM_CPU_DEVICES``
    or ``XLA_FLAGS`` already set a count) makes the host N XLA devices, over which a
    population is sharded: on CPU that runs N streams of runs in parallel, one per core,
    instead of splitting each small op over the cores. With ``--coordinator-address``,
    ``--num-processes`` and ``--process-id``, ``jax.distributed.initialize`` with them; without,
    it auto-detects a cluster (SLURM, Open MPI, Cloud TPU, ...), and a lone machine stays one
    process."""
    set_cpu_devices(cpu_devices_flag(argv))
    pre = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    pre.add_argument("--coordinator-address")
    pre.add_argument("--num-processes", type=int)
    pre.add_argument("--process-id", type=int)
    try:
        known, _ = pre.parse_known_args(argv)
    except argparse.ArgumentError as error:
        raise ValueError(f"{error.argument_name}: {error.message}") from None
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


def cpu_devices_flag(argv: Sequence[str]) -> int | None:
    """The ``--cpu-devices N`` of a command line, read before anything starts JAX."""
    pre = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    pre.add_argument("--cpu-devices", type=int)
    try:
        return pre.parse_known_args(argv)[0].cpu_devices
    except argparse.ArgumentError as error:
        raise ValueError(f"{error.argument_name}: {error.message}") from None


def set_cpu_devices(count: int | None) -> None:
    """``jax_num_cpu_devices``: ``count``, or the available cores when neither it nor the
    environment says; nothing (by default) when JAX has already started."""
    if count is not None and not 1 <= count <= MAX_CPU_DEVICES:
        raise ValueError(
            f"cpu_devices: got {count}; must be in [1, {MAX_CPU_DEVICES}] (host devices beyond "
            "the cores only add overhead)"
        )
    already = "JAX_NUM_CPU_DEVICES" in os.environ or (
        "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", "")
    )
    if count is None and already:
        return
    try:
        jax.config.update("jax_num_cpu_devices", count or len(os.sched_getaffinity(0)))
    except RuntimeError:  # JAX already started (a script run in-process): keep its devices
        if count is not None and count != jax.local_device_count():
            raise ValueError(
                f"cpu_devices: JAX has already started in this process with "
                f"{jax.local_device_count()} device(s), not {count}"
            ) from None
