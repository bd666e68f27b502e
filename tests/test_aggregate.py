"""Tests for jaxopt_lab.analysis.aggregate: rliable's statistics, hand-computed."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure
from scipy import stats

from jaxopt_lab.analysis import (
    Estimate,
    aggregate_iqm,
    aggregate_mean,
    aggregate_median,
    aggregate_metrics,
    aggregate_optimality_gap,
    average_score_distribution,
    interval_estimate,
    load_score_matrices,
    normalize_scores,
    performance_profile,
    plot_performance_profile,
    probability_of_improvement,
    probability_of_improvement_table,
    score_distribution,
    stratified_bootstrap,
)

# 4 runs x 3 tasks. Task means 0.75, 0.5, 2.0; run means 2.2/3, 3.7/3, 1.4/3, 5.7/3.
M = np.array(
    [
        [0.0, 0.2, 2.0],
        [0.5, 0.2, 3.0],
        [1.0, 0.4, 0.0],
        [1.5, 1.2, 3.0],
    ]
)


@pytest.fixture(autouse=True, scope="module")
def _agg_backend():
    plt.switch_backend("agg")


# ---------------------------------------------------------------- point statistics


def test_aggregate_metrics_hand_computed():
    # pooled sorted: 0 0 .2 .2 | .4 .5 1 1.2 1.5 2 | 3 3 -> trim 3 per end, (0.2+...+1.5)/6
    assert aggregate_iqm(M) == pytest.approx(4.8 / 6)
    assert aggregate_mean(M) == pytest.approx(3.25 / 3)
    assert aggregate_median(M) == pytest.approx(0.75)  # median of task means, not run means
    assert aggregate_median(M) != pytest.approx(np.median(M.mean(axis=1)))
    # shortfalls below 1: task A 1+.5, task B .8+.8+.6, task C 1 -> 4.7 over 12 scores
    assert aggregate_optimality_gap(M) == pytest.approx(4.7 / 12)
    assert aggregate_optimality_gap(M, gamma=0.5) == pytest.approx(1.7 / 12)
    assert all(isinstance(f(M), float) for f in (aggregate_iqm, aggregate_mean, aggregate_median))


def test_rliable_published_test_values():
    # rliable tests/rliable/metrics_test.py
    x = np.array([[1, 2], [2, 2], [1, 1], [2, 1]])
    y = np.array([[1, 1], [2, 2], [3, 3]])
    assert (aggregate_median(x), aggregate_mean(x), aggregate_iqm(x)) == (1.5, 1.5, 1.5)
    assert (aggregate_median(y), aggregate_mean(y), aggregate_iqm(y)) == (2.0, 2.0, 2.0)
    assert probability_of_improvement(x, y) == pytest.approx(1 / 3)


def test_statistics_accept_a_batch_axis():
    batch = np.stack([M, M + 1.0])
    np.testing.assert_allclose(aggregate_iqm(batch), [0.8, 1.8])
    np.testing.assert_allclose(aggregate_median(batch), [0.75, 1.75])
    np.testing.assert_allclose(aggregate_optimality_gap(batch), [4.7 / 12, 0.0], atol=1e-12)
    np.testing.assert_allclose(score_distribution(batch, [0.5, 1.5]), [[0.5, 0.25], [1, 0.5]])


def test_statistics_reject_bad_input():
    with pytest.raises(ValueError, match=r"shape \[runs, tasks\]"):
        aggregate_iqm([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="scores: 1 of 4 values are non-finite"):
        aggregate_mean([[1.0, np.nan], [2.0, 3.0]])
    with pytest.raises(ValueError, match="share the tasks"):
        probability_of_improvement(np.ones((3, 2)), np.ones((3, 3)))


# ---------------------------------------------------------------- probability of improvement


def test_probability_of_improvement_with_ties_by_hand():
    x = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 6.0]])
    y = np.array([[2.0, 5.0], [0.0, 7.0]])
    # task 0: x=1 beats 0 (1); x=2 ties 2, beats 0 (1.5); x=3 beats both (2) -> 4.5 / 6
    # task 1: x=5 ties 5 (0.5) twice; x=6 beats 5 (1) -> 2 / 6
    assert probability_of_improvement(x, y) == pytest.approx((4.5 / 6 + 2 / 6) / 2)
    assert probability_of_improvement(y, x) == pytest.approx(1 - 13 / 24)
    assert probability_of_improvement(x, x) == 0.5


def test_probability_of_improvement_is_mann_whitney_u():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 4, size=(5, 6)).astype(float)  # few values: many ties
    y = rng.integers(0, 4, size=(7, 6)).astype(float)
    per_task = [
        stats.mannwhitneyu(x[:, t], y[:, t], alternative="greater").statistic / (5 * 7)
        for t in range(6)
    ]
    assert probability_of_improvement(x, y) == pytest.approx(np.mean(per_task))


def test_probability_of_improvement_table():
    a, b, c = M, M + 10.0, M - 10.0
    table = probability_of_improvement_table({"a": a, "b": b, "c": c}, n_resamples=200)
    assert table.index.tolist() == ["a vs b", "a vs c", "b vs c"]
    assert table.columns.tolist() == ["estimate", "ci_low", "ci_high"]
    # b is far above a and c in every run, so every resample agrees
    assert table.loc["a vs b"].tolist() == [0.0, 0.0, 0.0]
    assert table.loc["b vs c"].tolist() == [1.0, 1.0, 1.0]
    one = probability_of_improvement_table({"a": a, "b": b}, [("b", "a")], n_resamples=200)
    assert one.index.tolist() == ["b vs a"]
    with pytest.raises(ValueError, match=r"\['z'\] not in score_dict"):
        probability_of_improvement_table({"a": a}, [("a", "z")])


def test_probability_of_improvement_interval_resamples_each_algorithm():
    x = np.array([[1.0], [3.0], [5.0]])
    y = np.array([[2.0], [4.0]])
    est = interval_estimate(probability_of_improvement, x, y, n_resamples=4000)
    assert est.estimate == pytest.approx(3 / 6)
    assert est.ci_low == 0.0 and est.ci_high == 1.0  # all-1 vs all-4 and all-5 vs all-2 occur


# ---------------------------------------------------------------- performance profiles


def test_score_distribution_counted_by_hand():
    taus = [-1.0, 0.0, 0.5, 1.0, 3.0]
    # > 0: all but the two zeros; > 0.5: 1, 1.2, 1.5, 2, 3, 3; > 1: 1.2, 1.5, 2, 3, 3
    np.testing.assert_allclose(score_distribution(M, taus), [1, 10 / 12, 6 / 12, 5 / 12, 0])
    # task means 0.75, 0.5, 2.0
    np.testing.assert_allclose(
        average_score_distribution(M, [0.0, 0.5, 0.75, 2.0]), [1, 2 / 3, 1 / 3, 0]
    )


def test_performance_profile_frame_and_plot():
    profile = performance_profile({"m": M, "n": M + 1.0}, [0.5, 1.0], n_resamples=300)
    assert profile.columns.tolist() == ["algo", "tau", "estimate", "ci_low", "ci_high"]
    assert profile["algo"].tolist() == ["m", "m", "n", "n"]
    np.testing.assert_allclose(profile["estimate"], [0.5, 5 / 12, 1.0, 10 / 12])
    assert (profile["ci_low"] <= profile["estimate"]).all()
    assert (profile["estimate"] <= profile["ci_high"]).all()
    averaged = performance_profile({"m": M}, [0.5, 1.0], average=True, n_resamples=300)
    np.testing.assert_allclose(averaged["estimate"], [2 / 3, 1 / 3])

    ax = Figure().subplots()
    assert plot_performance_profile(profile, ax=ax) is ax
    assert [line.get_label() for line in ax.lines] == ["m", "n"]
    assert len(ax.collections) == 2
    np.testing.assert_allclose(ax.lines[1].get_ydata(), [1.0, 10 / 12])
    with pytest.raises(ValueError, match="lacks columns"):
        plot_performance_profile(profile.drop(columns="ci_low"))


# ---------------------------------------------------------------- stratified bootstrap


def test_stratified_bootstrap_keeps_runs_within_their_task():
    scores = np.array([[0.0, 1000.0], [0.5, 1500.0], [1.0, 2000.0]])
    boot = stratified_bootstrap(scores, n_resamples=500, seed=3)
    assert boot.shape == (500, 3, 2)
    assert np.isin(boot[:, :, 0], scores[:, 0]).all()
    assert np.isin(boot[:, :, 1], scores[:, 1]).all()
    # runs are drawn independently per task, not one run index shared by all tasks
    rank0 = np.searchsorted(scores[:, 0], boot[:, :, 0])
    rank1 = np.searchsorted(scores[:, 1], boot[:, :, 1])
    assert (rank0 != rank1).any()

    task_means = interval_estimate(lambda s: np.mean(s, axis=-2), scores, n_resamples=500)
    np.testing.assert_allclose(task_means.estimate, [0.5, 1500.0])
    assert 0.0 <= task_means.ci_low[0] < 0.5 < task_means.ci_high[0] <= 1.0
    assert 1000.0 <= task_means.ci_low[1] < 1500.0 < task_means.ci_high[1] <= 2000.0
    # pooled IQM keeps the 2nd and 3rd smallest of each task's 3 resampled runs: within
    # [(0 + 0 + 1000 + 1000) / 4, (1 + 1 + 2000 + 2000) / 4] unless runs cross tasks
    iqm = interval_estimate(aggregate_iqm, scores, n_resamples=500)
    assert iqm.estimate == pytest.approx((0.5 + 1.0 + 1000.0 + 1500.0) / 4)
    assert 500.0 <= iqm.ci_low < iqm.estimate < iqm.ci_high <= 1000.5


def test_interval_estimate_deterministic_and_degenerate():
    scores = np.random.default_rng(1).normal(size=(6, 4))
    est = interval_estimate(aggregate_iqm, scores, n_resamples=500, seed=7)
    assert isinstance(est, Estimate) and est.ci_low < est.estimate < est.ci_high
    assert est == interval_estimate(aggregate_iqm, scores, n_resamples=500, seed=7)
    assert est != interval_estimate(aggregate_iqm, scores, n_resamples=500, seed=8)
    np.testing.assert_array_equal(stratified_bootstrap(scores, 5), stratified_bootstrap(scores, 5))
    constant = np.full((4, 3), 2.0)
    assert interval_estimate(aggregate_mean, constant) == (2.0, 2.0, 2.0)
    with pytest.raises(ValueError, match="confidence"):
        interval_estimate(aggregate_mean, scores, confidence=95)
    with pytest.raises(ValueError, match="n_resamples"):
        stratified_bootstrap(scores, n_resamples=0)


def test_aggregate_metrics_frame():
    table = aggregate_metrics({"m": M, "n": M + 1.0}, n_resamples=500)
    assert table.columns.tolist() == ["algo", "metric", "estimate", "ci_low", "ci_high"]
    m = table[table["algo"] == "m"].set_index("metric")
    assert m.index.tolist() == ["median", "iqm", "mean", "optimality_gap"]
    np.testing.assert_allclose(m["estimate"], [0.75, 0.8, 3.25 / 3, 4.7 / 12])
    assert (m["ci_low"] <= m["estimate"]).all() and (m["estimate"] <= m["ci_high"]).all()
    n = table[table["algo"] == "n"].set_index("metric")
    # every score of n is >= 1, so no resample falls short of gamma
    assert n.loc["optimality_gap", ["estimate", "ci_low", "ci_high"]].tolist() == [0.0, 0.0, 0.0]
    gap = aggregate_metrics({"m": M}, gamma=0.5, n_resamples=10).set_index("metric")
    assert gap.loc["optimality_gap", "estimate"] == pytest.approx(1.7 / 12)


# ---------------------------------------------------------------- normalisation


def test_normalize_scores():
    scores = np.array([[0.0, 10.0], [5.0, 30.0]])
    np.testing.assert_allclose(
        normalize_scores(scores, [0.0, 10.0], [10.0, 30.0]), [[0, 0], [0.5, 1]]
    )
    np.testing.assert_allclose(normalize_scores(scores, 0.0, 20.0), [[0, 0.5], [0.25, 1.5]])


@pytest.mark.parametrize(
    ("scores", "low", "high", "match"),
    [
        (
            [[1.0, 2.0]],
            [0.0, 0.0, 0.0],
            [1.0, 1.0, 1.0],
            r"min_scores must be a scalar or .*\(2,\)",
        ),
        ([[1.0, 2.0]], [0.0, 5.0], [1.0, 5.0], r"must exceed min_scores; not so for tasks \[1\]"),
        ([[1.0, 2.0]], [0.0, 3.0], [1.0, 2.0], r"not so for tasks \[1\]"),
        ([[1.0, np.nan]], 0.0, 1.0, "scores: 1 of 2 values are non-finite"),
        ([[1.0, 2.0]], 0.0, [1.0, np.inf], "max_scores: 1 of 2 values are non-finite"),
        ([1.0, 2.0], 0.0, 1.0, r"shape \[runs, tasks\]"),
    ],
)
def test_normalize_scores_errors(scores, low, high, match):
    with pytest.raises(ValueError, match=match):
        normalize_scores(scores, low, high)


# ---------------------------------------------------------------- run directories


def _write_summary(path: Path, algo: str, env: str, final: list[float] | None, status="ok"):
    path.mkdir(parents=True)
    summary = {"algo": algo, "env": env, "status": status, "num_seeds": 3}
    if final is not None:
        summary["final_return"] = final
    (path / "summary.json").write_text(json.dumps(summary))


def test_load_score_matrices_excludes_and_reports_non_ok_runs(tmp_path):
    _write_summary(tmp_path / "a-E1", "a", "E1", [1.0, 2.0, 3.0])
    _write_summary(tmp_path / "a-E2", "a", "E2", [4.0, 5.0, 6.0])
    _write_summary(tmp_path / "b-E1", "b", "E1", [7.0, 8.0, 9.0])
    _write_summary(tmp_path / "b-E2", "b", "E2", [10.0, 11.0, 12.0])
    _write_summary(tmp_path / "b-E2-crash", "b", "E2", None, status="crashed")
    _write_summary(tmp_path / "a-E1-nan", "a", "E1", [1.0, 2.0, 3.0], status="nonfinite")
    # A comparison's own directory (kind "comparison") is neither a run nor an exclusion.
    (tmp_path / "summary.json").write_text(json.dumps({"kind": "comparison", "status": "ok"}))
    out = load_score_matrices(tmp_path)
    assert out.tasks == ["E1", "E2"]
    assert list(out.scores) == ["a", "b"]
    np.testing.assert_array_equal(out.scores["a"], [[1, 4], [2, 5], [3, 6]])
    np.testing.assert_array_equal(out.scores["b"], [[7, 10], [8, 11], [9, 12]])
    assert out.excluded == {
        str(tmp_path / "b-E2-crash"): "status 'crashed'",
        str(tmp_path / "a-E1-nan"): "status 'nonfinite'",
    }


def test_load_score_matrices_pools_runs_and_drops_incomplete_envs(tmp_path):
    _write_summary(tmp_path / "a-E1-0", "a", "E1", [1.0, 2.0])
    _write_summary(tmp_path / "a-E1-1", "a", "E1", [3.0])
    _write_summary(tmp_path / "a-E2", "a", "E2", [4.0, 5.0, 6.0])
    _write_summary(tmp_path / "b-E1", "b", "E1", [7.0])
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "summary.json").write_text("{not json")
    out = load_score_matrices(tmp_path)
    assert out.tasks == ["E1"]
    np.testing.assert_array_equal(out.scores["a"], [[1.0], [2.0], [3.0]])
    np.testing.assert_array_equal(out.scores["b"], [[7.0]])
    assert out.excluded[str(tmp_path / "a-E2")] == "env 'E2' has no ok run of ['b']"
    assert out.excluded[str(tmp_path / "broken")].startswith("unreadable summary.json")
    assert len(out.excluded) == 2


def test_load_score_matrices_errors(tmp_path):
    _write_summary(tmp_path / "a-E1", "a", "E1", [1.0, 2.0])
    _write_summary(tmp_path / "a-E2", "a", "E2", [4.0, 5.0, 6.0])
    with pytest.raises(ValueError, match=r"'a' has different seed counts per env: \{'E1': 2"):
        load_score_matrices(tmp_path)
    _write_summary(tmp_path / "only-bad" / "x", "a", "E1", [1.0, "x"])
    out = load_score_matrices(tmp_path / "only-bad")
    assert out.scores == {} and out.tasks == []
    assert list(out.excluded.values()) == ["final_return is not a non-empty list of finite numbers"]
