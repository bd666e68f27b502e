"""The comparison experiment: run directories, combined table, figures, bad input."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from jaxopt_lab.launch.cli import parse_overrides
from jaxopt_lab.launch.compare import TABLE_COLUMNS, format_table, validate_comparison
from jaxopt_lab.rl import ALGORITHMS, config_for, register
from jaxopt_lab.rl.algos import PPO, TRPO
from jaxopt_lab.rundir import load_run

ROOT = Path(__file__).resolve().parents[1]
SPEC = importlib.util.spec_from_file_location("compare_script", ROOT / "experiments" / "compare.py")
compare_script = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(compare_script)
TINY = [
    "num_envs=4",
    "num_steps=16",
    "total_timesteps=1024",
    "update_epochs=2",
    "num_minibatches=2",
    "hidden_sizes=(16,16)",
    "eval_episodes=4",
]


@pytest.fixture(scope="module")
def diverging_algorithm():
    """PPO whose actor becomes NaN at the first update in runs whose first observation's cart
    position is above -0.018: with experiment seed 0 (first positions -0.0218 and -0.0139),
    seed 1 of 2 only (a deterministic divergence in one seed)."""

    @register
    class Diverging(PPO):
        name = "diverging"

        def update_actor(self, ctx, actor, actor_state, batch, hp, update):
            poison = jnp.where((update == 0) & (batch.obs[0, 0] > -0.018), jnp.nan, 1.0)
            return jax.tree.map(lambda x: x * poison, actor), actor_state, {}

    yield Diverging
    ALGORITHMS.pop("diverging")


@pytest.fixture(scope="module")
def comparison(diverging_algorithm, tmp_path_factory):
    out = tmp_path_factory.mktemp("compare") / "cmp"
    argv = ["--algos", "ppo", "trpo", "diverging", "--envs", "CartPole-v1", "--num-seeds", "2"]
    code = compare_script.main([*argv, "--override", *TINY, "--no-progress", "--out", str(out)])
    return out, code


def test_table_matches_the_run_summaries(comparison):
    out, _ = comparison
    table = pd.read_csv(out / "table.csv")
    assert list(table["algo"]) == ["ppo", "trpo", "diverging"]
    assert list(table["status"]) == ["ok", "ok", "nonfinite"]
    for row in table.itertuples():
        summary = json.loads((out / f"{row.algo}--CartPole-v1" / "summary.json").read_text())
        assert row.status == summary["status"]
        if row.status == "ok":
            assert row.iqm == pytest.approx(summary["iqm"])
            assert row.ci_low <= row.iqm <= row.ci_high
    markdown = (out / "table.md").read_text()
    assert markdown.count("| CartPole-v1 |") == 3


def test_a_run_non_finite_in_one_seed_is_marked_and_the_script_finishes(comparison):
    out, code = comparison
    assert code == 1  # not every pair is a result
    run = load_run(out / "diverging--CartPole-v1")
    assert run.status == "nonfinite" and run.summary["nonfinite_seeds"] == [1]
    assert run.metrics.groupby("seed")["nonfinite"].any().tolist() == [False, True]
    assert "| diverging | NOT A RESULT (nonfinite) |" in (out / "table.md").read_text()
    assert (out / "curves-CartPole-v1.png").is_file()
    comparison_dir = load_run(out)
    assert comparison_dir.kind == "comparison" and comparison_dir.status == "ok"
    assert comparison_dir.summary["runs"]["diverging on CartPole-v1"] == "nonfinite"


def test_the_figure_marks_the_non_finite_run(comparison):
    from matplotlib.figure import Figure

    from jaxopt_lab.analysis import load_runs, plot_runs

    out, _ = comparison
    ax = plot_runs(load_runs(out), ax=Figure().subplots())
    labels = [line.get_label() for line in ax.lines]
    assert labels == ["diverging (nonfinite)", "ppo", "trpo"]
    assert ax.lines[0].get_linestyle() == "--"


def test_one_figure_per_env(comparison):
    out, _ = comparison
    assert [p.name for p in out.glob("curves-*.png")] == ["curves-CartPole-v1.png"]


def test_finished_comparison_is_not_overwritten(comparison, tiny_config):
    out, _ = comparison
    with pytest.raises(ValueError, match="already holds a finished run"):
        validate_comparison([tiny_config], 2, out)


def test_duplicate_runs_are_refused(tiny_config, tmp_path):
    with pytest.raises(ValueError, match="duplicate"):
        validate_comparison([tiny_config, tiny_config], 2, tmp_path / "cmp")


def test_overrides_reach_the_algorithms_that_have_them():
    args = compare_script.CompareArgs(
        algos=("ppo", "trpo"), envs=("CartPole-v1",), override=("max_kl=0.02", "num_envs=8")
    )
    ppo, trpo = compare_script.build_configs(args)
    assert trpo.algo.max_kl == 0.02 and ppo.num_envs == trpo.num_envs == 8
    assert trpo == config_for("CartPole-v1", TRPO, max_kl=0.02, num_envs=8)


def test_non_results_are_marked_in_the_table():
    table = pd.DataFrame(
        [{"env": "E", "algo": "a", "status": "nonfinite", "num_seeds": 2, "total_timesteps": 10}],
        columns=list(TABLE_COLUMNS),
    )
    assert "NOT A RESULT (nonfinite)" in format_table(table)


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--algos", "ppo", "sarsa"], "algo: unknown value 'sarsa'; allowed: ppo, a2c"),
        (["--algos", "ppo", "--override", "max_kl=0.1"], "override: expected FIELD=VALUE"),
        (["--envs", "NoSuchEnv-v0"], "env:"),
        (["--num-seeds", "0"], "num_seeds"),
        (["--override", "lr=1e-2"], "override: expected FIELD=VALUE, got 'lr=1e-2'"),
        (["--override", "num_envs=2.5"], "num_envs: expected int"),
        (["--override", "learning_rate=-1.0"], "learning_rate"),
    ],
)
def test_bad_input_is_one_error_line_and_nothing_written(tmp_path, args, field):
    out = tmp_path / "cmp"
    result = subprocess.run(
        [sys.executable, str(ROOT / "experiments" / "compare.py"), *args, "--out", str(out)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=300,
    )
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and field in errors[0]
    assert not out.exists()


def test_overrides_are_typed_like_the_config_fields():
    pairs = ["learning_rate=1e-2", "hidden_sizes=(256, 256)", "anneal_lr=False"]
    overrides = parse_overrides([*pairs, "activation=relu", "total_timesteps=1e5", "gamma=1"])
    assert parse_overrides(["max_kl=1e-2"], [TRPO]) == {"max_kl": 0.01}
    assert overrides == {
        "learning_rate": 0.01,
        "hidden_sizes": (256, 256),
        "anneal_lr": False,
        "activation": "relu",
        "total_timesteps": 100_000,
        "gamma": 1.0,
    }
    assert type(overrides["total_timesteps"]) is int and type(overrides["gamma"]) is float
    with pytest.raises(ValueError, match="anneal_lr: expected bool"):
        parse_overrides(["anneal_lr=yes"])


def test_a_killed_comparison_resumes_pair_by_pair(tiny_config, tmp_path):
    from jaxopt_lab.launch.compare import run_comparison

    configs = [
        config_for("CartPole-v1", algo, **_tiny_settings(tiny_config)) for algo in ("ppo", "a2c")
    ]

    def interrupt(summary):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_comparison(configs, 2, tmp_path / "cmp", progress=False, on_run=interrupt)
    assert load_run(tmp_path / "cmp").status == "interrupted"
    assert load_run(tmp_path / "cmp" / "ppo--CartPole-v1").status == "ok"
    seen = []
    table = run_comparison(configs, 2, tmp_path / "cmp", progress=False, on_run=seen.append)
    assert [s.get("resumed") for s in seen] == ["finished before", None]
    assert list(table["status"]) == ["ok", "ok"]
    with pytest.raises(ValueError, match="already holds a finished run"):
        validate_comparison(configs, 2, tmp_path / "cmp")


def _tiny_settings(config):
    names = ("num_envs", "num_steps", "total_timesteps", "update_epochs", "num_minibatches")
    return {name: getattr(config, name) for name in (*names, "hidden_sizes", "eval_episodes")}


def test_statistics_across_tasks_are_written(comparison):
    out, _ = comparison
    poi = pd.read_csv(out / "poi.csv", index_col=0)
    assert list(poi.index) == ["ppo vs trpo"]  # the non-finite run left out
    ppo, trpo = (
        load_run(out / f"{a}--CartPole-v1").summary["final_return"] for a in ("ppo", "trpo")
    )
    wins = [(x > y) + 0.5 * (x == y) for x in ppo for y in trpo]  # Mann-Whitney U / (n m)
    assert poi.loc["ppo vs trpo", "estimate"] == pytest.approx(np.mean(wins))
    assert (poi["ci_low"] <= poi["estimate"]).all() and (poi["estimate"] <= poi["ci_high"]).all()
    assert "| ppo vs trpo |" in (out / "poi.md").read_text()
    assert (out / "performance_profile.png").stat().st_size > 0
    aggregates = pd.read_csv(out / "aggregates.csv")
    assert set(aggregates["metric"]) == {"median", "iqm", "mean", "optimality_gap"}
    statistics = load_run(out).summary["statistics"]
    assert statistics["score_ranges"] == {"CartPole-v1": [0.0, 500.0]}
    assert statistics["excluded"]["diverging--CartPole-v1"] == "status 'nonfinite'"
