"""Tests for jaxopt_lab.analysis: IQM, bootstrap intervals, run loading and plots."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from scipy import stats

from jaxopt_lab.analysis import (
    Run,
    bootstrap_ci,
    iqm,
    learning_curve_band,
    load_run,
    load_runs,
    plot_learning_curves,
    plot_runs,
    summarize_returns,
)


@pytest.fixture(autouse=True, scope="module")
def _agg_backend():
    plt.switch_backend("agg")


def _curves(n_x: int, n_seeds: int, rng: np.random.Generator) -> pd.DataFrame:
    """Long-format metrics: ``n_seeds`` noisy rising curves logged at ``n_x`` points."""
    steps = np.arange(1, n_x + 1) * 128
    return pd.DataFrame(
        {
            "seed": np.tile(np.arange(n_seeds), n_x),
            "update": np.repeat(np.arange(n_x), n_seeds),
            "env_steps": np.repeat(steps, n_seeds),
            "episode_return": np.repeat(steps / 10.0, n_seeds) + rng.normal(size=n_x * n_seeds),
            "policy_loss": rng.normal(size=n_x * n_seeds),
        }
    )


# ---------------------------------------------------------------- stats


def test_iqm_hand_computed():
    assert iqm([1, 2, 3, 4, 5, 6, 7, 8]) == 4.5
    assert iqm([100, 5, -50, 2, 8, 1, 3, 4]) == 3.5  # middle four of the sorted sample: 2,3,4,5
    assert iqm([1, 2, 3, 10]) == 2.5  # n=4 drops one from each end
    assert iqm([1, 2, 9]) == 4.0  # n<4 drops nothing
    assert iqm([7.0]) == 7.0
    assert isinstance(iqm([1.0, 2.0]), float)


def test_iqm_matches_trim_mean():
    rng = np.random.default_rng(0)
    for n in range(1, 13):
        x = rng.normal(size=n)
        assert iqm(x) == pytest.approx(stats.trim_mean(x, 0.25))
    x = rng.normal(size=(5, 9))
    np.testing.assert_allclose(iqm(x), stats.trim_mean(x, 0.25, axis=-1))
    np.testing.assert_allclose(iqm(x, axis=0), stats.trim_mean(x, 0.25, axis=0))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_iqm_rejects_non_finite(bad):
    with pytest.raises(ValueError, match="1 of 4 values are non-finite"):
        iqm([1.0, 2.0, 3.0, bad])


def test_bootstrap_ci_contains_iqm_and_narrows():
    rng = np.random.default_rng(1)
    small, large = rng.normal(size=8), rng.normal(size=128)
    lo_s, hi_s = bootstrap_ci(small)
    lo_l, hi_l = bootstrap_ci(large)
    assert lo_s <= iqm(small) <= hi_s
    assert lo_l <= iqm(large) <= hi_l
    assert hi_l - lo_l < 0.5 * (hi_s - lo_s)
    lo_m, hi_m = bootstrap_ci(large, statistic=np.mean, confidence=0.5)
    assert lo_m < np.mean(large) < hi_m and hi_m - lo_m < hi_l - lo_l


def test_bootstrap_ci_deterministic():
    x = np.random.default_rng(2).normal(size=10)
    assert bootstrap_ci(x) == bootstrap_ci(x)
    assert bootstrap_ci(x, seed=1) != bootstrap_ci(x, seed=2)


def test_bootstrap_ci_degenerate_samples():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert bootstrap_ci([3.5] * 6) == (3.5, 3.5)
        assert bootstrap_ci([2.0]) == (2.0, 2.0)


def test_bootstrap_ci_bad_input():
    with pytest.raises(ValueError, match="1 of 3"):
        bootstrap_ci([1.0, np.nan, 2.0])
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ci([1.0, 2.0], confidence=95)
    with pytest.raises(ValueError, match="empty"):
        bootstrap_ci([])


def test_summarize_returns():
    x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    s = summarize_returns(x)
    assert set(s) == {"iqm", "ci_low", "ci_high", "mean", "median", "std"}
    assert json.loads(json.dumps(s)) == s
    assert all(type(v) is float for v in s.values())
    assert s["iqm"] == 4.5 and s["mean"] == 4.5 and s["median"] == 4.5
    assert s["std"] == pytest.approx(np.std(x))
    assert s["ci_low"] <= s["iqm"] <= s["ci_high"]


def test_summarize_returns_rejects_non_finite():
    with pytest.raises(ValueError, match="2 of 5 values are non-finite"):
        summarize_returns([1.0, np.nan, 3.0, -np.inf, 5.0])


# ---------------------------------------------------------------- learning_curve_band


def test_band_collapses_when_seeds_agree():
    df = pd.DataFrame(
        {
            "seed": np.tile(np.arange(4), 3),
            "env_steps": np.repeat([10, 20, 30], 4),
            "episode_return": np.repeat([1.0, 5.0, 2.0], 4),
        }
    )
    band = learning_curve_band(df)
    assert list(band.columns) == ["env_steps", "iqm", "low", "high"]
    assert band["env_steps"].tolist() == [10, 20, 30]
    for col in ("iqm", "low", "high"):
        assert band[col].tolist() == [1.0, 5.0, 2.0]


def test_band_matches_per_point_iqm_and_scipy_bootstrap():
    df = _curves(5, 8, np.random.default_rng(3))
    band = learning_curve_band(df, n_resamples=4000)
    for _, row in band.iterrows():
        vals = df.loc[df["env_steps"] == row["env_steps"], "episode_return"].to_numpy()
        assert row["iqm"] == pytest.approx(stats.trim_mean(vals, 0.25))
        assert row["low"] <= row["iqm"] <= row["high"]
        lo, hi = bootstrap_ci(vals, n_resamples=4000)
        assert row["low"] == pytest.approx(lo, abs=0.1)
        assert row["high"] == pytest.approx(hi, abs=0.1)


def test_band_ignores_nan_per_point():
    df = _curves(4, 6, np.random.default_rng(4))
    steps = sorted(df["env_steps"].unique())
    df.loc[df["env_steps"] == steps[0], "episode_return"] = np.nan  # no episode finished yet
    df.loc[(df["env_steps"] == steps[1]) & (df["seed"] > 0), "episode_return"] = np.nan
    df.loc[(df["env_steps"] == steps[2]) & (df["seed"] < 2), "episode_return"] = np.nan
    band = learning_curve_band(df).set_index("env_steps")
    assert steps[0] not in band.index and len(band) == 3
    only = df.loc[(df["env_steps"] == steps[1]) & (df["seed"] == 0), "episode_return"].item()
    assert band.loc[steps[1]].tolist() == [only, only, only]
    finite = df.loc[df["env_steps"] == steps[2], "episode_return"].dropna().to_numpy()
    assert len(finite) == 4
    assert band.loc[steps[2], "iqm"] == pytest.approx(stats.trim_mean(finite, 0.25))
    assert np.isfinite(band.to_numpy()).all()


def test_band_is_deterministic():
    df = _curves(1000, 8, np.random.default_rng(5))
    band = learning_curve_band(df)
    assert len(band) == 1000
    pd.testing.assert_frame_equal(band, learning_curve_band(df))


def test_band_bad_input():
    df = _curves(3, 2, np.random.default_rng(6))
    with pytest.raises(ValueError, match="lacks columns"):
        learning_curve_band(df, y="return")
    with pytest.raises(ValueError, match="duplicate"):
        learning_curve_band(pd.concat([df, df]))
    df.loc[0, "episode_return"] = np.inf
    with pytest.raises(ValueError, match="infinite"):
        learning_curve_band(df)


# ---------------------------------------------------------------- results


def _write_run(path: Path, algo: str, env: str, seed: int) -> pd.DataFrame:
    path.mkdir(parents=True)
    metrics = _curves(6, 3, np.random.default_rng(seed))
    final = [10.0, 12.0, 11.0]
    (path / "config.json").write_text(json.dumps({"algo": algo, "env": env, "lr": 3e-4}))
    metrics.to_parquet(path / "metrics.parquet")
    summary = {
        "algo": algo,
        "env": env,
        "num_seeds": 3,
        "total_timesteps": 768,
        "final_return": final,
        **{k: summarize_returns(final)[k] for k in ("iqm", "ci_low", "ci_high")},
        "compile_seconds": 1.0,
        "train_seconds": 2.0,
        "steps_per_second": 1152.0,
    }
    (path / "summary.json").write_text(json.dumps(summary))
    return metrics


def test_load_run(tmp_path):
    metrics = _write_run(tmp_path / "run", "ppo", "CartPole-v1", 0)
    run = load_run(str(tmp_path / "run"))
    assert isinstance(run, Run) and run.path == tmp_path / "run"
    assert run.config["lr"] == 3e-4
    assert run.summary["algo"] == "ppo" and run.summary["final_return"] == [10.0, 12.0, 11.0]
    pd.testing.assert_frame_equal(run.metrics, metrics)


def test_load_run_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_run(tmp_path / "nope")
    _write_run(tmp_path / "run", "ppo", "CartPole-v1", 0)
    (tmp_path / "run" / "metrics.parquet").unlink()
    with pytest.raises(FileNotFoundError, match=r"missing metrics\.parquet"):
        load_run(tmp_path / "run")

    _write_run(tmp_path / "bad", "ppo", "CartPole-v1", 0)
    summary = json.loads((tmp_path / "bad" / "summary.json").read_text())
    del summary["iqm"]
    (tmp_path / "bad" / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(ValueError, match=r"lacks keys \['iqm'\]"):
        load_run(tmp_path / "bad")
    (tmp_path / "bad" / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_run(tmp_path / "bad")


def test_load_runs(tmp_path):
    _write_run(tmp_path / "ppo_a", "ppo", "CartPole-v1", 0)
    _write_run(tmp_path / "ppo_b", "ppo", "Acrobot-v1", 1)
    _write_run(tmp_path / "nested" / "a2c", "a2c", "CartPole-v1", 2)
    df = load_runs(tmp_path)
    assert len(df) == 3 * 18
    assert {"run", "algo", "env", "seed", "episode_return"} <= set(df.columns)
    assert df.groupby("algo")["run"].nunique().to_dict() == {"a2c": 1, "ppo": 2}
    assert set(load_runs(str(tmp_path / "ppo_*"))["env"]) == {"CartPole-v1", "Acrobot-v1"}
    assert set(load_runs([tmp_path / "ppo_a"])["algo"]) == {"ppo"}
    assert set(load_runs(tmp_path / "ppo_a")["algo"]) == {"ppo"}
    with pytest.raises(FileNotFoundError, match="no run directories"):
        load_runs(str(tmp_path / "dqn_*"))


# ---------------------------------------------------------------- plots


def test_plot_learning_curves():
    ax = Figure().subplots()
    df = _curves(20, 4, np.random.default_rng(7))
    out = plot_learning_curves(df, ax=ax, label="ppo", color="C3", smooth=5)
    assert out is ax
    assert len(ax.lines) == 1 and len(ax.collections) == 1  # IQM line + band
    assert ax.lines[0].get_label() == "ppo"
    assert len(ax.lines[0].get_xdata()) == 20
    with pytest.raises(ValueError, match="smooth"):
        plot_learning_curves(df, ax=ax, smooth=0)


def test_plot_learning_curves_creates_figure():
    ax = plot_learning_curves(_curves(5, 3, np.random.default_rng(8)))
    assert len(ax.lines) == 1
    plt.close(ax.figure)


def test_plot_runs(tmp_path):
    _write_run(tmp_path / "ppo_a", "ppo", "CartPole-v1", 0)
    _write_run(tmp_path / "ppo_b", "ppo", "CartPole-v1", 1)  # same seeds, pooled via run column
    _write_run(tmp_path / "a2c", "a2c", "CartPole-v1", 2)
    ax = plot_runs(load_runs(tmp_path), ax=Figure().subplots())
    assert [line.get_label() for line in ax.lines] == ["a2c", "ppo"]
    assert len(ax.collections) == 2
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a2c", "ppo"]
    with pytest.raises(ValueError, match="group column"):
        plot_runs(load_runs(tmp_path), group="optimizer")
