"""Re-evaluate a finished run from its orbax checkpoints.

    python experiments/evaluate.py --run runs/ppo-CartPole-v1-...

With the run's own evaluation seed this reproduces ``final_return`` of ``summary.json``. The
run's devices are set up as they were (a checkpoint's layout depends on their count).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import jaxopt_lab  # noqa: F401  (its CPU threefry lowering, before anything compiles)
from jaxopt_lab.compile_cache import use_compile_cache
from jaxopt_lab.console import entry_point, fail, parse
from jaxopt_lab.distributed import set_cpu_devices
from jaxopt_lab.fields import optional, rng_seed


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


@entry_point
def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parse(EvaluateArgs, argv)
        run = Path(args.run)
        if not str(args.run).strip():
            raise ValueError("run: got an empty path; name a run directory of train.py")
        optional(rng_seed)("seed", args.seed)
        set_cpu_devices(recorded_device_count(run))
    except ValueError as error:
        fail(str(error))
    use_compile_cache()
    # Imported once the devices are set: importing gymnax starts the XLA backend.
    from jaxopt_lab.analysis import summarize_returns
    from jaxopt_lab.launch.reload import reevaluate

    if not (run / "config.json").is_file() or not (run / "checkpoints").is_dir():
        fail(f"run: {run} is not a run directory with config.json and checkpoints/")
    try:
        returns, step = reevaluate(run, args.seed)
    except (ValueError, FileNotFoundError) as error:
        fail(str(error))
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
