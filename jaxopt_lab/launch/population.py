"""A batch of runs over seeds as one compiled program, executed in chunks of updates."""

from __future__ import annotations

import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab.rl import RunnerState, TrainConfig, Trainer, make_trainer


def seed_keys(seed: int, num_seeds: int) -> tuple[jax.Array, jax.Array]:
    """Training and evaluation keys, one per seed, derived from the experiment ``seed``."""
    root = jax.random.key(seed)
    train_key, eval_key = jax.random.split(root)
    return jax.random.split(train_key, num_seeds), jax.random.split(eval_key, num_seeds)


def broadcast_hparams(hparams: TrainConfig, num_runs: int) -> TrainConfig:
    """Give every traced leaf a leading axis of ``num_runs`` (repeated)."""
    return jax.tree.map(lambda x: jnp.broadcast_to(x, (num_runs, *jnp.shape(x))), hparams)


def chunk_size(num_updates: int, target_chunks: int = 25) -> int:
    """The divisor of ``num_updates`` giving the number of chunks closest to ``target_chunks``.

    Chunks must divide the run so that one compiled chunk program serves the whole run.
    """
    divisors = [d for d in range(1, num_updates + 1) if num_updates % d == 0]
    return min(divisors, key=lambda d: (abs(num_updates // d - target_chunks), d))


OnChunk = Callable[[RunnerState, int, dict[str, np.ndarray]], None]


class SeedBatch:
    """``num_seeds`` runs of one config, ``jax.jit(jax.vmap(...))``-compiled once per piece
    (init, a chunk of updates, evaluation).

    ``run`` executes the training as repeated calls of one compiled chunk of updates, calling
    ``on_chunk(state, updates_done, chunk_metrics)`` between chunks (progress, checkpoints).
    The chunks compose to exactly the single-program computation.
    """

    def __init__(
        self, config: TrainConfig, num_seeds: int, seed: int = 0, chunk: int | None = None
    ):
        self.config = config
        self.trainer: Trainer = make_trainer(config)
        self.num_seeds = num_seeds
        self.train_keys, self.eval_keys = seed_keys(seed, num_seeds)
        self.hparams = broadcast_hparams(config.hparams(), num_seeds)
        self.chunk = chunk or chunk_size(config.num_updates)
        if config.num_updates % self.chunk:
            raise ValueError(
                f"chunk: {self.chunk} does not divide num_updates {config.num_updates}"
            )
        trainer = self.trainer
        self._init = jax.jit(jax.vmap(trainer.init))
        self._run = jax.jit(
            jax.vmap(lambda state, hp: trainer.run(state, hp, self.chunk)), donate_argnums=0
        )
        self._evaluate = jax.jit(jax.vmap(trainer.evaluate))

    def abstract_state(self) -> RunnerState:
        return jax.eval_shape(self._init, self.train_keys, self.hparams)

    def compile(self) -> float:
        """Compile init, chunk and evaluation ahead of time; returns the seconds it took."""
        start = time.perf_counter()
        state = self.abstract_state()
        self._init = self._init.lower(self.train_keys, self.hparams).compile()
        self._run = self._run.lower(state, self.hparams).compile()
        self._evaluate = self._evaluate.lower(self.eval_keys, state, self.hparams).compile()
        return time.perf_counter() - start

    def run(
        self, on_chunk: OnChunk | None = None, state: RunnerState | None = None
    ) -> tuple[RunnerState, dict[str, np.ndarray], float]:
        """Train all seeds; returns the final state, metrics ``[seed, update]`` and seconds."""
        start = time.perf_counter()
        if state is None:
            state = self._init(self.train_keys, self.hparams)
        chunks = []
        done = int(np.asarray(state.update)[0])
        while done < self.config.num_updates:
            state, metrics = self._run(state, self.hparams)
            chunks.append(jax.device_get(metrics))
            done += self.chunk
            if on_chunk is not None:
                on_chunk(state, done, chunks[-1])
        jax.block_until_ready(state)
        seconds = time.perf_counter() - start
        metrics = {k: np.concatenate([c[k] for c in chunks], axis=1) for k in chunks[0]}
        return state, metrics, seconds

    def evaluate(self, state: RunnerState) -> tuple[np.ndarray, float]:
        """Mean evaluation return per seed (``config.eval_episodes`` episodes each)."""
        start = time.perf_counter()
        returns = np.asarray(self._evaluate(self.eval_keys, state, self.hparams))
        return returns, time.perf_counter() - start
