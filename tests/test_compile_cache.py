"""The scripts' persistent compilation cache (jaxopt_lab.compile_cache).

The test session keeps the cache off (conftest); these tests turn it on in folders of their
own, in subprocesses (JAX reads its cache settings once per process)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from jaxopt_lab.compile_cache import default_cache_dir, use_compile_cache

ROOT = Path(__file__).resolve().parents[1]
TINY = [
    "--total-timesteps", "1024",
    "--num-envs", "4",
    "--num-steps", "16",
    "--hidden-sizes", "16", "16",
    "--eval-episodes", "4",
    "--update-epochs", "2",
    "--num-minibatches", "2",
    "--num-seeds", "2",
    "--no-progress",
]  # fmt: skip


def train(out: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("JAX_")}
    # tiny programs compile in well under the default threshold: cache every one
    environment.update(PYTHONPATH=str(ROOT), JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0")
    command = [sys.executable, str(ROOT / "experiments" / "train.py"), *TINY, "--out", str(out)]
    result = subprocess.run(
        command, capture_output=True, text=True, env={**environment, **env}, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_a_rerun_loads_its_programs_from_the_cache_and_gives_the_same_bits(tmp_path):
    xdg = tmp_path / "xdg"
    train(tmp_path / "first", XDG_CACHE_HOME=str(xdg))
    cache = xdg / "jaxopt_lab" / "xla"
    assert cache.is_dir() and (cache.stat().st_mode & 0o777) == 0o700
    assert any(p.name.endswith("-cache") for p in cache.iterdir())
    second = train(tmp_path / "second", XDG_CACHE_HOME=str(xdg))
    assert "program(s) from the compilation cache" in second.stderr
    first, again = (
        json.loads((tmp_path / d / "summary.json").read_text()) for d in ("first", "second")
    )
    assert first["compile_cache_hits"] == 0 and again["compile_cache_hits"] == 3
    assert first["final_return"] == again["final_return"]
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "first" / "metrics.parquet"),
        pd.read_parquet(tmp_path / "second" / "metrics.parquet"),
    )


def test_jax_settings_win(tmp_path):
    xdg, chosen = tmp_path / "xdg", tmp_path / "chosen"
    train(tmp_path / "off", XDG_CACHE_HOME=str(xdg), JAX_ENABLE_COMPILATION_CACHE="false")
    assert not (xdg / "jaxopt_lab").exists()  # (matplotlib may keep its own cache there)
    train(tmp_path / "chosen-run", XDG_CACHE_HOME=str(xdg), JAX_COMPILATION_CACHE_DIR=str(chosen))
    assert not (xdg / "jaxopt_lab").exists() and any(
        p.name.endswith("-cache") for p in chosen.iterdir()
    )


def test_default_folder_and_off_in_this_session(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "jaxopt_lab" / "xla"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == Path.home() / ".cache" / "jaxopt_lab" / "xla"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert use_compile_cache() is None  # conftest turned it off: nothing created
    assert not (tmp_path / "jaxopt_lab").exists()
