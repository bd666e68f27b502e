"""Run directories: the one writer and the one loader that every script uses.

A run directory holds

- ``config.json``: ``kind`` (``rl``, ``comparison``, ``optimizer_sweep``,
  ``preference_frontier``, ``es``, ...), the fully resolved ``config``, ``argv`` and the
  package ``versions``;
- ``summary.json``: ``kind`` and ``status``, always, whatever happened: ``running`` while the
  run is in progress, then ``ok``, ``nonfinite`` (a loss or result was NaN or infinite: not a
  result), ``crashed`` (with the ``error``) or ``interrupted`` (Ctrl-C); plus what the kind
  reports (for ``rl``: ``algo, env, num_seeds, final_return, iqm, ci_low, ci_high, ...``);
- ``metrics.parquet`` (optional): long-format tables, one row per logged point;
- ``checkpoints/`` (optional): orbax checkpoints.

:func:`run_directory` writes the first two however the run ends; :func:`load_run` reads any run
directory, finished or not, healthy or not, and checks the keys its kind and status promise.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import jax
import numpy as np
import pandas as pd

CONFIG, SUMMARY, METRICS, CHECKPOINTS = (
    "config.json",
    "summary.json",
    "metrics.parquet",
    "checkpoints",
)
STATUSES = ("running", "ok", "nonfinite", "crashed", "interrupted")
PACKAGES = (
    "jaxopt_lab",
    "jax",
    "jaxlib",
    "flax",
    "optax",
    "chex",
    "gymnax",
    "brax",
    "orbax-checkpoint",
    "evosax",
)
RL_KEYS = ("algo", "env", "num_seeds")
"""What every ``rl`` run's summary holds; a healthy one also :data:`RL_RESULT_KEYS`."""
RL_RESULT_KEYS = (
    "final_return",
    "iqm",
    "ci_low",
    "ci_high",
    "compile_seconds",
    "train_seconds",
    "steps_per_second",
)


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.write_text(json.dumps(payload, indent=2, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray | jax.Array):
        return np.asarray(value).tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def as_json(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists, arrays lists)."""
    return json.loads(json.dumps(value, default=_json_default))


def check_out_dir(out: str | os.PathLike, config: dict[str, Any] | None = None) -> Path:
    """The one check of an output directory, before anything runs: refuse an empty path, a
    file, an unwritable place and a directory that holds a run. With ``config`` (a resumable
    script), a run of exactly that config is accepted (to resume it) and a run of any other
    config is refused, naming the settings that differ."""
    if not str(out).strip():
        raise ValueError("out: got an empty path; name a directory")
    path = Path(out).expanduser()
    if path.exists() and not path.is_dir():
        raise ValueError(f"out: {path} exists and is not a directory")
    if (path / CONFIG).is_file():
        _check_existing_run(path, config)
    elif (path / SUMMARY).is_file():
        raise ValueError(f"out: {path} already holds a finished run; choose another directory")
    _check_writable(path, path, "out")
    return path


def check_out_file(path: str | os.PathLike, flag: str) -> Path:
    """The check of a file a script will write (``flag`` names it), before anything runs:
    refuse an empty path, a directory, and a place where no file can be created."""
    if not str(path).strip():
        raise ValueError(f"{flag}: got an empty path; name a file")
    file = Path(path).expanduser()
    if file.is_dir():
        raise ValueError(f"{flag}: {file} is a directory; name a file")
    if not file.parent.is_dir():
        raise ValueError(f"{flag}: the directory of {file} does not exist")
    _check_writable(file, file.parent, flag)
    return file


def _check_writable(path: Path, start: Path, flag: str) -> None:
    """``ValueError`` naming ``path`` unless the first existing directory from ``start`` up
    accepts new files."""
    parent = start
    while not parent.exists():
        parent = parent.parent
    try:  # a real probe: permission bits do not tell for root or for special file systems
        os.rmdir(tempfile.mkdtemp(dir=parent, prefix=".jaxopt_lab-probe-"))
    except OSError as error:
        raise ValueError(
            f"{flag}: {path} is not writable ({parent} does not accept new files: {error.strerror})"
        ) from None


def _check_existing_run(path: Path, config: dict[str, Any] | None) -> None:
    recorded = read_json_object(path / CONFIG)
    status = read_status(path)
    if config is None:
        raise ValueError(
            f"out: {path} already holds a {'finished ' if status == 'ok' else ''}run "
            f"(status {status}); choose another directory"
        )
    if status == "ok":
        raise ValueError(f"out: {path} already holds a finished run; choose another directory")
    found, wanted = recorded.get("config"), as_json(config)
    if found != wanted:
        raise ValueError(
            f"out: {path} holds an unfinished run of another config (differs in "
            f"{', '.join(_differences(found, wanted)) or 'its kind'}); rerun that run's command "
            "to resume it, or choose another directory"
        )


def _differences(found: Any, wanted: Any, prefix: str = "") -> list[str]:
    if isinstance(found, dict) and isinstance(wanted, dict):
        names = sorted(set(found) | set(wanted))
        return [
            d for n in names for d in _differences(found.get(n), wanted.get(n), f"{prefix}{n}.")
        ]
    return [] if found == wanted else [prefix.rstrip(".") or "config"]


def read_status(path: Path) -> str:
    """The ``status`` in ``path/summary.json``; ``running`` with no summary (killed)."""
    if not (path / SUMMARY).is_file():
        return "running"
    return str(read_json_object(path / SUMMARY).get("status", "ok"))


@contextmanager
def run_directory(
    path: Path, kind: str, config: dict[str, Any], **record: Any
) -> Iterator[dict[str, Any]]:
    """Create ``path``, write ``config.json`` and yield the summary dict; ``summary.json`` is
    written however the block ends: the status the block set (``ok`` if it set none), else
    ``crashed`` with the error, or ``interrupted`` on Ctrl-C (both re-raised)."""
    path.mkdir(parents=True, exist_ok=True)
    payload = {"kind": kind, "config": config, **record}
    write_json(path / CONFIG, {**payload, "argv": sys.argv, "versions": package_versions()})
    summary: dict[str, Any] = {"kind": kind, "status": "running"}
    write_json(path / SUMMARY, summary)
    try:
        yield summary
    except KeyboardInterrupt:
        summary["status"] = "interrupted"
        write_json(path / SUMMARY, summary)
        raise
    except Exception as error:
        summary["status"] = "crashed"
        summary["error"] = "".join(traceback.format_exception_only(error)).strip()
        write_json(path / SUMMARY, summary)
        raise
    if summary["status"] == "running":
        summary["status"] = "ok"
    write_json(path / SUMMARY, summary)


@dataclass(frozen=True, eq=False)
class Run:
    """One loaded run directory. ``metrics`` is ``None`` when the run wrote none (crashed)."""

    path: Path
    config: dict[str, Any]
    summary: dict[str, Any]
    metrics: pd.DataFrame | None

    @property
    def kind(self) -> str:
        return str(self.summary.get("kind", self.config.get("kind", "rl")))

    @property
    def status(self) -> str:
        return str(self.summary.get("status", "ok"))

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def read_json_object(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``; ``ValueError`` for invalid JSON or another JSON type."""
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from err
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a JSON object, got {type(data).__name__}")
    return data


def load_run(path: str | os.PathLike) -> Run:
    """Load the run directory ``path``, whatever its status.

    ``FileNotFoundError`` if the directory, its ``config.json`` or ``summary.json`` is missing
    (or a healthy run's ``metrics.parquet``); ``ValueError`` if a file is malformed or lacks
    what its kind and status promise (an ``rl`` run: ``algo, env, num_seeds``, and when ``ok``
    its results; its metrics ``seed, update, env_steps, episode_return``).
    """
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"run directory {path} does not exist")
    absent = [name for name in (CONFIG, SUMMARY) if not (path / name).is_file()]
    if absent:
        raise FileNotFoundError(f"incomplete run directory {path}: missing {', '.join(absent)}")
    config, summary = read_json_object(path / CONFIG), read_json_object(path / SUMMARY)
    metrics = pd.read_parquet(path / METRICS) if (path / METRICS).is_file() else None
    run = Run(path, config, summary, metrics)
    if run.status not in STATUSES:
        raise ValueError(f"{path / SUMMARY}: unknown status {run.status!r}")
    if run.kind == "rl":
        _check_rl_run(run)
    return run


def _check_rl_run(run: Run) -> None:
    required = RL_KEYS + (RL_RESULT_KEYS if run.ok else ())
    missing = [key for key in required if key not in run.summary]
    if missing:
        raise ValueError(f"{run.path / SUMMARY} lacks keys {missing}")
    if run.metrics is None:
        if run.ok:
            raise FileNotFoundError(f"incomplete run directory {run.path}: missing {METRICS}")
        return
    columns = ("seed", "update", "env_steps", "episode_return")
    missing = [c for c in columns if c not in run.metrics.columns]
    if missing:
        raise ValueError(f"{run.path / METRICS} lacks columns {missing}")
