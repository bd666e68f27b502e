"""The accelerator benchmark, one command: population scaling of the canonical PPO CartPole-v1
config (1, 64, 1024, 4096 runs), Breakout-MinAtar with 256 runs, and the optimizers against
``optax.adamw`` on a 101M-parameter pytree. Each part is its own script, run here in turn.

    python experiments/bench_gpu.py

Anchors: PureJaxRL reports about 10M aggregate env steps/s on CartPole (2048 agents, A100);
rejax about 5M on MinAtar Breakout (300 agents, A100).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from jaxopt_lab.console import entry_point, fail, parse

HERE = Path(__file__).resolve().parent
PARTS = (
    ("bench_scaling.py", "--runs", "1", "64", "1024", "4096", "--devices", "1"),
    ("bench_scaling.py", "--env", "Breakout-MinAtar", "--runs", "256", "--updates", "16",
     "--devices", "1"),
    ("bench_optim.py", "--scale", "10"),
)  # fmt: skip


@dataclass(frozen=True)
class GPUArgs:
    """Runs the parts in turn; takes no settings."""


@entry_point
def main(argv: Sequence[str] | None = None) -> int:
    try:
        parse(GPUArgs, argv)
    except ValueError as error:
        fail(str(error))
    failed = []
    for script, *args in PARTS:  # a part that fails does not stop the others
        command = f"python experiments/{script} {' '.join(args)}"
        print(f"$ {command}", flush=True)
        if subprocess.run([sys.executable, str(HERE / script), *args]).returncode != 0:
            failed.append(command)
    for command in failed:
        print(f"failed: {command}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
