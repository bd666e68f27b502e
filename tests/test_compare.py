"""The comparison experiment: run directories, combined table, figures, bad input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from jaxopt_lab.experiment.cli import parse_overrides
from jaxopt_lab.experiment.compare import (
    TABLE_COLUMNS,
    format_table,
    run_comparison,
    validate_comparison,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def comparison(tiny_config, tmp_path_factory):
    out = tmp_path_factory.mktemp("compare") / "cmp"
    configs = [tiny_config.replace(algo=algo) for algo in ("ppo", "trpo")]
    seen = []
    table = run_comparison(configs, num_seeds=2, out=out, progress=False, on_run=seen.append)
    return out, table, seen


def test_table_matches_the_run_summaries(comparison):
    out, table, seen = comparison
    assert list(table["algo"]) == ["ppo", "trpo"] == [s["algo"] for s in seen]
    assert (table["status"] == "ok").all()
    for row in table.itertuples():
        summary = json.loads((out / f"{row.algo}--CartPole-v1" / "summary.json").read_text())
        assert row.iqm == summary["iqm"]
        assert row.ci_low <= row.iqm <= row.ci_high
    assert pd.read_csv(out / "table.csv")["iqm"].tolist() == pytest.approx(table["iqm"].tolist())
    markdown = (out / "table.md").read_text()
    assert markdown.count("| CartPole-v1 |") == 2


def test_one_figure_per_env(comparison):
    out, _, _ = comparison
    assert [p.name for p in out.glob("curves-*.png")] == ["curves-CartPole-v1.png"]


def test_finished_comparison_is_not_overwritten(comparison, tiny_config):
    out, _, _ = comparison
    with pytest.raises(ValueError, match="already holds a finished comparison"):
        validate_comparison([tiny_config], 2, out)


def test_duplicate_runs_are_refused(tiny_config, tmp_path):
    with pytest.raises(ValueError, match="duplicate"):
        validate_comparison([tiny_config, tiny_config], 2, tmp_path / "cmp")


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
