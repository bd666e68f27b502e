"""experiments/optimizers.py at a tiny budget: its files exist and hold sane numbers."""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
SPEC = importlib.util.spec_from_file_location(
    "optimizers_script", ROOT / "experiments/optimizers.py"
)
script = sys.modules["optimizers_script"] = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(script)

TINY = [
    "--optimizers", "adam", "cautious_lion",
    "--lr-factors", "0.5", "2",
    "--num-seeds", "2",
    "--regression-steps", "40",
    "--regression-log-every", "20",
    "--ppo-timesteps", "1024",
]  # fmt: skip


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "opt"
    assert script.main([*TINY, "--out", str(out)]) == 0
    return out


def test_writes_tables_figure_and_run_directories(sweep_dir):
    for name in ("config.json", "summary.json", "table.md", "optimizers.png"):
        assert (sweep_dir / name).stat().st_size > 0, name
    for name in ("results.parquet", "results.csv", "curves.parquet", "summary.json"):
        assert (sweep_dir / "regression" / name).exists(), name
    for optimizer in ("adam", "cautious_lion"):
        run = sweep_dir / "ppo" / optimizer
        assert {"config.json", "metrics.parquet", "summary.json"} <= {p.name for p in run.iterdir()}
        summary = json.loads((run / "summary.json").read_text())
        config = json.loads((run / "config.json").read_text())["config"]
        assert summary["status"] == "ok" and config["optimizer"] == optimizer
        assert np.shape(summary["final_return"]) == (2, 2) and len(summary["members"]) == 2
        metrics = pd.read_parquet(run / "metrics.parquet")
        assert len(metrics) == 2 * 2 * 2  # learning rates x seeds x updates
        assert set(metrics["seed"]) == {0, 1} and metrics["learning_rate"].nunique() == 2
    table = (sweep_dir / "table.md").read_text()
    assert table.count("| adam |") == 2 and table.count("| cautious_lion |") == 2


def test_results_are_sane(sweep_dir):
    regression = pd.read_csv(sweep_dir / "regression" / "results.csv")
    assert len(regression) == 2 * 2 * 2  # optimizers x learning rates x seeds
    assert np.isfinite(regression["final_loss"]).all() and (regression["final_loss"] > 0).all()
    # The learning rates are the factors times each optimizer's default; Lion's is smaller.
    lrs = regression.groupby("optimizer")["learning_rate"].unique()
    np.testing.assert_allclose(lrs["adam"], [1.5e-3, 6e-3])
    np.testing.assert_allclose(lrs["cautious_lion"], [3e-4, 1.2e-3])
    curves = pd.read_parquet(sweep_dir / "regression" / "curves.parquet")
    assert sorted(curves["step"].unique()) == [20, 40]
    ppo = pd.read_csv(sweep_dir / "ppo" / "results.csv")
    assert len(ppo) == 8 and ppo["final_return"].between(1, 500).all()


def test_bad_input_exits_2_before_running(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        script.main(["--optimizers", "nadam", "--out", str(tmp_path / "x")])
    assert exit_info.value.code == 2
    assert "optimizers: unknown value 'nadam'; allowed: adam" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
