"""Reward-vs-KL frontier of preference losses on the lab's synthetic task (issue 6).

python experiments/preference.py                     # 8 losses x 7 betas x 5 seeds, 2-8 min
python experiments/preference.py --losses sigmoid discopop --num-seeds 5
python experiments/preference.py --losses sigmoid --loss runs/discover/mean.npz  # a learned loss
python experiments/preference.py --help              # every lab setting is a flag (--lab.*)
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated

import tyro

import jaxopt_lab  # noqa: F401  (its CPU threefry lowering, before anything compiles)
from jaxopt_lab.compile_cache import use_compile_cache
from jaxopt_lab.console import entry_point, fail, parse
from jaxopt_lab.objectives import PREFERENCE_LOSSES
from jaxopt_lab.pref.config import LabConfig
from jaxopt_lab.pref.frontier import (
    DEFAULT_BETAS,
    DEFAULT_LOSSES,
    FrontierSpec,
    run_frontier,
    validate_frontier,
)
from jaxopt_lab.rundir import check_out_file


@dataclass(frozen=True)
class PreferenceArgs:
    """Train every loss at every beta over several seeds in one compiled program."""

    losses: Annotated[
        tuple[str, ...], tyro.conf.arg(help=f"Losses, any of {', '.join(PREFERENCE_LOSSES)}.")
    ] = DEFAULT_LOSSES
    loss: tuple[str, ...] = ()
    """Discovered losses: mean.npz files or run directories of experiments/discover_loss.py."""
    betas: tuple[float, ...] = DEFAULT_BETAS
    """Betas every loss trains at (the frontier's points)."""
    num_seeds: int = 5
    """Data seeds (each: its own SFT reference, preference pairs and eval prompts)."""
    seed: int = 0
    """Experiment seed: every data seed's keys derive from it."""
    learning_rate: float = 1e-3
    """Preference-training learning rate."""
    out: str | None = None
    """Run directory (default: runs/preference-<time>)."""
    figure: str | None = None
    """Also copy frontier.png here (e.g. docs/preference_frontier.png)."""
    progress: bool = True
    """Print the build and compile steps as they happen."""
    lab: LabConfig = field(default_factory=LabConfig)


@entry_point
def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parse(PreferenceArgs, argv)
        spec = FrontierSpec(
            losses=args.losses,
            loss_files=args.loss,
            betas=args.betas,
            num_seeds=args.num_seeds,
            seed=args.seed,
            learning_rate=args.learning_rate,
        )
        out, _, _ = validate_frontier(args.lab, spec, args.out)
        figure = check_out_file(args.figure, "figure") if args.figure is not None else None
    except ValueError as error:
        fail(str(error))
    use_compile_cache()
    summary = run_frontier(args.lab, spec, out=str(out), progress=args.progress)
    print((out / "table.md").read_text())
    if summary["nonfinite_runs"]:
        print(f"non-finite runs (left out): {summary['nonfinite_runs']}")
    print(
        f"{summary['runs']} runs ({len(spec.betas)} betas x {spec.num_seeds} seeds x "
        f"{len(summary['losses'])} losses): build {summary['build_seconds']:.1f} s, compile "
        f"{summary['compile_seconds']:.1f} s, train {summary['train_seconds']:.1f} s "
        f"({summary['pairs_per_second']:,.0f} pairs/s), wall {summary['wall_seconds']:.1f} s"
        f"  [{summary['status']}]"
    )
    if figure is not None and (out / "frontier.png").is_file():
        shutil.copyfile(out / "frontier.png", figure)
    print(f"run directory: {out}")
    return 0 if summary["status"] == "ok" else 1


if __name__ == "__main__":
    raise SystemExit(main())
