"""Live logging: TensorBoard event files written between chunks, read back."""

import struct
import sys
from pathlib import Path

import numpy as np
import pytest
from tensorboardX.proto import event_pb2

from jaxopt_lab.launch import Experiment, run_experiment
from jaxopt_lab.launch.loggers import check_logger, member_means


def read_events(directory: Path) -> dict[str, list[tuple[int, float]]]:
    """``{tag: [(step, value), ...]}`` of every event file under ``directory`` (TFRecord
    framing: length, its CRC, the Event proto, its CRC)."""
    scalars: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(directory.glob("events.out.tfevents.*")):
        data = path.read_bytes()
        offset = 0
        while offset < len(data):
            (length,) = struct.unpack("<Q", data[offset : offset + 8])
            event = event_pb2.Event.FromString(data[offset + 12 : offset + 12 + length])
            offset += 12 + length + 4
            for value in event.summary.value:
                scalars.setdefault(value.tag, []).append((event.step, value.simple_value))
    return scalars


@pytest.fixture(scope="module")
def logged(tiny_config, tmp_path_factory):
    out = tmp_path_factory.mktemp("log") / "run"
    experiment = Experiment(tiny_config, 2, sweep=("learning_rate=1e-3,1e-2",))
    summary = run_experiment(experiment, out, progress=False, log="tensorboard")
    return out, summary


def test_tensorboard_events_read_back_per_member(logged, tiny_config):
    out, _ = logged
    members = sorted(p.name for p in (out / "tensorboard").iterdir())
    assert members == ["member-0", "member-1"]
    import pandas as pd

    metrics = pd.read_parquet(out / "metrics.parquet")
    for member in (0, 1):
        events = read_events(out / "tensorboard" / f"member-{member}")
        assert {"episode_return", "actor_loss", "value_loss", "entropy", "approx_kl"} <= set(events)
        assert len(events["steps_per_second"]) >= 1 and events["steps_per_second"][0][1] > 0
        losses = events["value_loss"]
        assert [step for step, _ in losses] == [
            (u + 1) * tiny_config.batch_size for u in range(tiny_config.num_updates)
        ]
        expected = metrics[metrics["member"] == member].groupby("update")["value_loss"].mean()
        np.testing.assert_allclose([v for _, v in losses], expected.to_numpy(), rtol=1e-5)


def test_member_means_average_each_members_seeds():
    metrics = {
        "env_steps": np.array([[8, 16]] * 4),
        "loss": np.array([[1.0, 2.0], [3.0, 4.0], [5.0, np.nan], [7.0, 8.0]]),
        "nonfinite": np.zeros((4, 2), bool),
    }
    means = member_means(metrics, [0, 1, 2, 3], num_seeds=2)
    np.testing.assert_array_equal(means[0]["loss"], [2.0, 3.0])
    np.testing.assert_array_equal(means[1]["loss"], [6.0, 8.0])  # NaN ignored
    assert "nonfinite" not in means[0]


def test_unknown_or_missing_loggers_are_refused(monkeypatch):
    with pytest.raises(ValueError, match="log: unknown value 'mlflow'"):
        check_logger("mlflow")
    monkeypatch.setitem(sys.modules, "wandb", None)
    with pytest.raises(ValueError, match=r"log: wandb needs the package wandb"):
        check_logger("wandb")


def test_wandb_logs_offline(tiny_config, tmp_path, monkeypatch):
    wandb = pytest.importorskip("wandb")
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("WANDB_SILENT", "true")
    run_experiment(Experiment(tiny_config, 2), tmp_path / "run", progress=False, log="wandb")
    runs = list((tmp_path / "run" / "wandb" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    records = read_wandb_history(wandb, next(runs[0].glob("*.wandb")))
    steps = [r["_step"] for r in records if "member0/value_loss" in r]
    assert steps == [(u + 1) * tiny_config.batch_size for u in range(tiny_config.num_updates)]


def read_wandb_history(wandb, path: Path) -> list[dict]:
    """The history rows of an offline run's ``.wandb`` file: a 7-byte header (``:W&B``, ident,
    version), then LevelDB-log records in 32 KiB blocks (CRC, 2-byte length, type: 1 full,
    2 first, 3 middle, 4 last), each complete record one ``wandb_internal_pb2.Record``."""
    import json

    from wandb.proto import wandb_internal_pb2

    data, offset, block, pieces, rows = path.read_bytes(), 7, 32768, b"", []
    while offset + 7 <= len(data):
        if block - offset % block < 7:  # too little room left in this block: padding
            offset += block - offset % block
            continue
        length = int.from_bytes(data[offset + 4 : offset + 6], "little")
        kind, payload = data[offset + 6], data[offset + 7 : offset + 7 + length]
        offset += 7 + length
        pieces = payload if kind in (1, 2) else pieces + payload
        if kind in (1, 4):
            record = wandb_internal_pb2.Record.FromString(pieces)
            if record.WhichOneof("record_type") == "history":
                row = {"/".join(i.nested_key) or i.key: json.loads(i.value_json)
                       for i in record.history.item}  # fmt: skip
                rows.append({**row, "_step": record.history.step.num})
    return rows
