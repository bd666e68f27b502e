"""The scripts as users run them: a full tiny run, re-evaluation, the notebook (bad input:
tests/test_papercuts.py)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
TINY = [
    "--total-timesteps",
    "2048",
    "--num-envs",
    "4",
    "--num-steps",
    "32",
    "--num-seeds",
    "2",
    "--hidden-sizes",
    "16",
    "16",
    "--eval-episodes",
    "4",
    "--no-progress",
]


def script(name, *args, cwd=None):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, str(ROOT / "experiments" / name), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=600,
    )


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "tiny"
    result = script("train.py", *TINY, "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "IQM final return" in result.stdout
    return out


def test_run_directory_contract(run_dir):
    assert {p.name for p in run_dir.iterdir()} >= {
        "config.json",
        "metrics.parquet",
        "summary.json",
        "checkpoints",
    }
    summary = json.loads((run_dir / "summary.json").read_text())
    for key in (
        "algo",
        "env",
        "num_seeds",
        "total_timesteps",
        "final_return",
        "iqm",
        "ci_low",
        "ci_high",
        "compile_seconds",
        "train_seconds",
        "steps_per_second",
        "compile_cache_hits",
    ):
        assert key in summary, key
    assert summary["status"] == "ok" and len(summary["final_return"]) == 2
    assert summary["ci_low"] <= summary["iqm"] <= summary["ci_high"]
    metrics = pd.read_parquet(run_dir / "metrics.parquet")
    assert list(metrics.columns[:4]) == ["seed", "update", "env_steps", "episode_return"]
    assert len(metrics) == 2 * 16 and {"policy_loss", "value_loss", "entropy"} <= set(
        metrics.columns
    )
    config = json.loads((run_dir / "config.json").read_text())
    assert config["config"]["num_envs"] == 4 and config["versions"]["jax"]


def test_evaluate_reproduces_final_return(run_dir):
    result = script("evaluate.py", "--run", str(run_dir))
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    assert "matches summary.json" in result.stdout


def test_refuses_to_overwrite_a_finished_run(run_dir):
    result = script("train.py", *TINY, "--out", str(run_dir))
    assert result.returncode == 2 and "already holds a finished run" in result.stderr


def test_quickstart_notebook_executes(run_dir, monkeypatch):
    monkeypatch.setenv("JAXOPT_LAB_RUN", str(run_dir))
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    notebook = nbformat.read(ROOT / "notebooks" / "quickstart.ipynb", as_version=4)
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    ).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert any("image/png" in o.get("data", {}) for o in outputs)


def test_nonfinite_run_is_reported_not_summarised(tmp_path):
    out = tmp_path / "diverged"
    result = script(
        "train.py", *TINY, "--learning-rate", "1e30", "--max-grad-norm", "1e30", "--out", str(out)
    )
    assert result.returncode == 1, result.stderr[-2000:]
    assert "NOT A RESULT" in result.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "nonfinite" and "iqm" not in summary
    assert summary["nonfinite_seeds"] == [0, 1]


@pytest.mark.slow
def test_default_job_solves_cartpole(tmp_path):
    result = script("train.py", "--out", str(tmp_path / "default"), "--no-progress")
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((tmp_path / "default" / "summary.json").read_text())
    assert summary["num_seeds"] == 8 and summary["total_timesteps"] <= 500_000
    assert summary["iqm"] >= 475
