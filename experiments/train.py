"""Train an on-policy agent over several seeds in one compiled program.

python experiments/train.py                       # PPO, CartPole-v1, 8 seeds
python experiments/train.py --env Pendulum-v1 --num-seeds 4 --out runs/pendulum
python experiments/train.py --algo trpo --max-kl 0.02 --env-param length=0.75
python experiments/train.py --help                # every setting of --algo is a flag
"""

import jaxopt_lab  # noqa: F401  (sets the XLA flags before JAX starts)
from jaxopt_lab.launch.cli import fail, parse_train_args
from jaxopt_lab.launch.experiment import format_summary, run_experiment, validate_experiment


def main() -> int:
    try:
        config, options = parse_train_args()
        out = validate_experiment(options.num_seeds, options.out, config, options.checkpoint_every)
    except ValueError as error:
        fail(str(error))
    summary = run_experiment(
        config,
        num_seeds=options.num_seeds,
        seed=options.seed,
        out=out,
        progress=options.progress,
        checkpoint_every=options.checkpoint_every,
    )
    print(format_summary(summary))
    print(f"run directory: {summary['run_dir']}")
    return 0 if summary["status"] == "ok" else 1


if __name__ == "__main__":
    raise SystemExit(main())
