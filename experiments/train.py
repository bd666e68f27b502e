"""Train an on-policy agent: a population of seeds (and sweep points) in one compiled program.

python experiments/train.py                       # PPO, CartPole-v1, 8 seeds
python experiments/train.py --env Pendulum-v1 --num-seeds 4 --out runs/pendulum
python experiments/train.py --algo trpo --max-kl 0.02 --env-param length=0.75
python experiments/train.py --sweep learning_rate=log:1e-4:1e-2:8 --sweep ent_coef=0,0.01
python experiments/train.py --help                # every setting of --algo is a flag

Rerunning the exact command of a killed run resumes it from its latest checkpoint. Several
processes (hosts) train one population with --coordinator-address HOST:PORT --num-processes N
--process-id I (a detected cluster needs none of them).
"""

import sys
from collections.abc import Sequence

import jaxopt_lab  # noqa: F401  (its CPU threefry lowering, before anything compiles)
from jaxopt_lab.compile_cache import use_compile_cache
from jaxopt_lab.console import entry_point, fail
from jaxopt_lab.distributed import start_processes


@entry_point
def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        start_processes(argv)
    except ValueError as error:
        fail(str(error))
    # Imported once the processes have joined: importing gymnax starts the XLA backend.
    from jaxopt_lab.launch.cli import parse_train_args
    from jaxopt_lab.launch.experiment import (
        Experiment,
        format_summary,
        run_experiment,
        validate_experiment,
    )
    from jaxopt_lab.launch.loggers import check_logger

    try:
        config, options = parse_train_args(argv)
        experiment = Experiment(
            config, options.num_seeds, options.seed, options.sweep, options.sweep_mode
        )
        out = validate_experiment(experiment, options.out, options.checkpoint_every)
        check_logger(options.log)
    except ValueError as error:
        fail(str(error))
    use_compile_cache()
    summary = run_experiment(
        experiment,
        out,
        progress=options.progress,
        checkpoint_every=options.checkpoint_every,
        say=lambda message: print(message, file=sys.stderr, flush=True),
        log=options.log,
    )
    print(format_summary(summary))
    print(f"run directory: {summary['run_dir']}")
    return exit_code(summary)


def exit_code(summary: dict) -> int:
    """0 for a healthy run; for a sweep, 0 when at least one member is ok (the others are
    named on stderr)."""
    members = summary["members"]
    bad = [i for i, m in enumerate(members) if m["status"] != "ok"]
    if len(members) == 1:
        return 0 if summary["status"] == "ok" else 1
    if bad:
        print(f"members not ok (left out of the statistics): {bad}", file=sys.stderr)
    return 0 if len(bad) < len(members) else 1


if __name__ == "__main__":
    raise SystemExit(main())
