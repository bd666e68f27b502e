"""Re-evaluate a finished run from its orbax checkpoints.

    python experiments/evaluate.py --run runs/ppo-CartPole-v1-...

With the run's own evaluation seed this reproduces ``final_return`` of ``summary.json``. The
run's devices are set up as they were (a checkpoint's layout depends on their count).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tyro

import jaxopt_lab  # noqa: F401  (sets the XLA flags before JAX starts)
from jaxopt_lab.distributed import set_cpu_devices


@dataclass(frozen=True)
class EvaluateArgs:
    run: str
    """Run directory written by experiments/train.py."""
    seed: int | None = None
    """Experiment seed for the evaluation keys (default: the run's own)."""


def recorded_device_count(run: Path) -> int | None:
    """The device count the run trained on (``config.json``), read before JAX starts."""
    try:
        return json.loads((run / "config.json").read_text())["config"].get("device_count")
    except (OSError, ValueError, KeyError, TypeError):
        return None


def main() -> int:
    args = tyro.cli(EvaluateArgs)
    run = Path(args.run)
    set_cpu_devices(recorded_device_count(run))
    # Imported once the devices are set: importing gymnax starts the XLA backend.
    from jaxopt_lab.analysis import summarize_returns
    from jaxopt_lab.launch.reload import reevaluate

    if not (run / "config.json").is_file() or not (run / "checkpoints").is_dir():
        print(f"error: run: {run} is not a run directory with config.json and checkpoints/",
              file=sys.stderr)  # fmt: skip
        return 2
    returns, step = reevaluate(run, args.seed)
    print(f"checkpoint after update {step}: final_return per run {np.round(returns, 2).tolist()}")
    print(f"IQM {summarize_returns(returns)['iqm']:.2f}")
    summary_path = run / "summary.json"
    if summary_path.is_file() and args.seed is None:
        recorded = json.loads(summary_path.read_text()).get("final_return", [])
        recorded = np.asarray(recorded, dtype=float).ravel()
        same = recorded.shape == returns.shape and np.array_equal(recorded, returns)
        print("matches summary.json" if same else f"DIFFERS from summary.json: {recorded.tolist()}")
        return 0 if same else 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
