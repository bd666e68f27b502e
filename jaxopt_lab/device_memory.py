"""Free memory of this machine's devices, and the refusal of a batch of runs that cannot fit.

The bottom layer under every estimate of the library (``launch.memory`` for RL populations,
``pref`` for preference sweeps): it imports no algorithm.
"""

from __future__ import annotations

import os

import jax

USABLE = 0.7
"""Fraction of the free memory a population may plan to use."""
GIB = 2**30


def available_bytes(devices: list[jax.Device]) -> int:
    """Free memory of ``devices``: accelerators' own; the host's for CPU devices (shared)."""
    if devices[0].platform == "cpu":
        return host_available()
    free = 0
    for device in devices:
        stats = device.memory_stats() or {}
        free += stats.get("bytes_limit", 0) - stats.get("bytes_in_use", 0)
    return free or host_available()


def host_available() -> int:
    """The host's available memory (``MemAvailable``), in bytes."""
    try:
        with open("/proc/meminfo") as file:
            fields = dict(line.split(":", 1) for line in file)
        return int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def usable_bytes(available: int | None = None) -> int:
    """``USABLE`` of ``available`` bytes (default: the free memory of this machine's devices)."""
    return int(USABLE * (available_bytes(jax.devices()) if available is None else available))


def check_runs_fit(
    what: str,
    num_runs: int,
    per_run: int,
    shared: int = 0,
    available: int | None = None,
) -> None:
    """``ValueError`` naming ``what`` unless ``num_runs`` runs of ``per_run`` bytes each, plus
    ``shared`` bytes, fit at once in the usable memory of this machine's devices."""
    usable = usable_bytes(available)
    need = per_run * num_runs + shared
    if need > usable:
        extra = f" + ~{shared / GIB:,.2f} GiB shared" if shared else ""
        raise ValueError(
            f"{what}: {num_runs:,} runs at once x ~{per_run / 2**20:,.1f} MiB{extra} need "
            f"~{need / GIB:,.1f} GiB and only {usable / GIB:,.2f} GiB is usable: "
            "train fewer runs at once"
        )
