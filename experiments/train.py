"""Train an on-policy agent over several seeds in one compiled program.

python experiments/train.py                       # PPO, CartPole-v1, 8 seeds
python experiments/train.py --env Pendulum-v1 --num-seeds 4 --out runs/pendulum
python experiments/train.py --help                # every hyperparameter is a flag
"""

import jaxopt_lab  # noqa: F401  (sets the XLA flags before JAX starts)
from jaxopt_lab.experiment.cli import fail, parse_train_args
from jaxopt_lab.experiment.run import format_summary, run_experiment, validate_experiment


def main() -> int:
    args = parse_train_args()
    config = args.train_config()
    try:
        out = validate_experiment(config, args.num_seeds, args.out, args.checkpoint_every)
    except ValueError as error:
        fail(str(error))
    summary = run_experiment(
        config,
        num_seeds=args.num_seeds,
        seed=args.seed,
        out=out,
        progress=args.progress,
        checkpoint_every=args.checkpoint_every,
    )
    print(format_summary(summary))
    print(f"run directory: {summary['run_dir']}")
    return 0 if summary["status"] == "ok" else 1


if __name__ == "__main__":
    raise SystemExit(main())
