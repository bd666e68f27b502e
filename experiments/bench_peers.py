"""Side by side with rejax 0.1.3 (a peer, never a dependency): the same harness
(``experiments/peer_harness.py``) on the canonical PPO CartPole-v1 config, systems
alternating, in one run; prints each measurement, the medians and the ratios.

    python experiments/bench_peers.py                 # 3 rounds, 8 seeds
    python experiments/bench_peers.py --rounds 5 --venv ~/.cache/jaxopt_lab/peers/rejax

The peer is installed into its own virtual environment (``--venv``, created when missing:
``pip install rejax==0.1.3 'gymnax<1.0'`` with this process's jax and jaxlib versions).
Modes: ``one device`` (``jit(vmap(train))``, each system's per-run efficiency) and
``N devices`` (the same ``shard_map`` of that over N host devices for both systems). The last
table line compares what each library does with 8 seeds as shipped: this library shards a
population over the host's devices (``Population``), rejax leaves it to ``jit(vmap)``. Each
round also times ``peer_harness.py ceiling``, the learning phase's matrix products alone on one
device: the last line says how far either library is from what those products cost.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from jaxopt_lab.console import entry_point, fail, parse
from jaxopt_lab.fields import at_least

HARNESS = Path(__file__).with_name("peer_harness.py")
ROOT = HARNESS.parents[1]


@dataclass(frozen=True)
class PeerArgs:
    rounds: int = 3
    """Alternating rounds (each: every system in every mode)."""
    num_seeds: int = 8
    """Seeds of the canonical config per measurement."""
    venv: str = str(Path.home() / ".cache" / "jaxopt_lab" / "peers" / "rejax-0.1.3")
    """The peer's virtual environment (created when missing)."""
    devices: int = len(os.sched_getaffinity(0))
    """Host devices of the sharded mode (default: this machine's cores)."""


def ensure_peer(venv: Path) -> Path:
    """The peer's python, installing rejax 0.1.3 into ``venv`` first if needed."""
    python = venv / "bin" / "python"
    if python.exists():
        return python
    jax_version = metadata.version("jax")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    packages = ["rejax==0.1.3", "gymnax<1.0", f"jax=={jax_version}", f"jaxlib=={jax_version}"]
    subprocess.run([str(python), "-m", "pip", "install", "-q", *packages], check=True)
    return python


def measure(python: Path, system: str, seeds: int, devices: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [str(python), str(HARNESS), system, "--num-seeds", str(seeds)]
    result = subprocess.run([*command, "--devices", str(devices)], capture_output=True,
                            text=True, env=env, check=True)  # fmt: skip
    return json.loads(result.stdout.strip().splitlines()[-1])


@entry_point
def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parse(PeerArgs, argv)
        for name in ("rounds", "num_seeds", "devices"):
            at_least(1)(name, getattr(args, name))
        if Path(args.venv).exists() and not (Path(args.venv) / "bin" / "python").exists():
            raise ValueError(f"venv: {args.venv} exists and is not a virtual environment")
    except ValueError as error:
        fail(str(error))
    pythons = {"jaxopt_lab": Path(sys.executable), "rejax": ensure_peer(Path(args.venv))}
    print(f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, {args.num_seeds} seeds")
    results: dict[tuple[str, int], list[dict]] = {}
    for round_index in range(args.rounds):
        for devices in (1, args.devices):
            for system, python in pythons.items():
                row = measure(python, system, args.num_seeds, devices)
                results.setdefault((system, devices), []).append(row)
                report(round_index, row)
        row = measure(pythons["jaxopt_lab"], "ceiling", args.num_seeds, 1)
        results.setdefault(("ceiling", 1), []).append(row)
        report(round_index, row)
    print(summary_table(results, args.devices))
    print(ceiling_line(results))
    return 0


def report(round_index: int, row: dict) -> None:
    print(f"round {round_index} {row['system']:10s} {row['devices']} device(s): "
          f"{row['steps_per_second']:>9,.0f} steps/s, compile "
          f"{row['compile_seconds']:.2f} s, returns {row['final_return']}",
          flush=True)  # fmt: skip


def median(rows: list[dict], key: str) -> float:
    return float(np.median([row[key] for row in rows]))


def summary_table(results: dict, devices: int) -> str:
    lines = [
        "| mode | jaxopt_lab env steps/s | rejax env steps/s | ratio | compile s (ours / rejax) |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    shipped = f"as shipped: ours sharded over {devices} devices, rejax jit(vmap)"
    modes = [
        ("one device, jit(vmap)", 1, 1),
        (f"{devices} devices, the same shard_map", devices, devices),
        (shipped, devices, 1),
    ]
    for label, ours, theirs in modes:
        a, b = results[("jaxopt_lab", ours)], results[("rejax", theirs)]
        sa, sb = median(a, "steps_per_second"), median(b, "steps_per_second")
        ca, cb = median(a, "compile_seconds"), median(b, "compile_seconds")
        lines.append(f"| {label} | {sa:,.0f} | {sb:,.0f} | {sa / sb:.2f} | {ca:.1f} / {cb:.1f} |")
    return "\n".join(lines)


def ceiling_line(results: dict) -> str:
    """The one-device matmul ceiling (``peer_harness.ceiling_train``) and each system's share."""
    ceiling = median(results[("ceiling", 1)], "steps_per_second")
    shares = ", ".join(
        f"{system} {median(results[(system, 1)], 'steps_per_second') / ceiling:.0%}"
        for system in ("jaxopt_lab", "rejax")
    )
    rejax = median(results[("rejax", 1)], "steps_per_second")
    return (
        "matmul ceiling, one device (the learning phase's matrix products alone): "
        f"{ceiling:,.0f} env steps/s = {ceiling / rejax:.2f}x rejax; share of it: {shares}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
