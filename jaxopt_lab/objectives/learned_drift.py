"""The learned drift of LPO, "Learned Policy Optimisation" (Lu et al. 2022, "Discovered Policy
Optimisation").

``drift(r, A) = relu(f_phi(x) - 1e-4)``, ``f_phi = Dense(1, no bias) . tanh . Dense(128, no
bias)`` on the 8 features ``x = [log r, (log r)^2, 1 - r, (1 - r)^2]`` and the same four times
``A``. All features vanish at ``r = 1`` and the network has no biases, so ``f_phi = 0`` there and
the ``- 1e-4`` puts the drift's value and gradient at 0 in a neighbourhood of ``r = 1`` (the
mirror-learning conditions, Kuba et al. 2022) for ANY ``phi``. "PPO init" adds PPO's drift
inside: ``relu(relu((r - clip(r, 0.8, 1.2)) A) + f_phi(x) - 1e-4)``.

The drift's parameters are a :class:`LearnedDriftParams`: the network weights (what evolution
strategies search) and the PPO-init switch, both arrays, so a trainer takes them as a traced
input and ``vmap`` covers a population of drifts. A drift file (``.npz``) holds them:
:func:`save_drift_params` / :func:`load_drift_params`.
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab._pytree_io import load_pytree, read_metadata, save_pytree
from jaxopt_lab.objectives.policy import ppo_drift

FEATURE_SET = "lpo8: log r, (log r)^2, 1 - r, (1 - r)^2, and each times A"
TEMPORAL_FEATURE_SET = "ta-lpo16: the 8 LPO features, and each times the training progress t"
NUM_FEATURES = 8
FEATURE_SETS = {NUM_FEATURES: FEATURE_SET, 2 * NUM_FEATURES: TEMPORAL_FEATURE_SET}
HIDDEN_SIZE = 128
PPO_INIT_CLIP = 0.2
DRIFT_FILE_KIND = "lpo_drift"


class LearnedDriftParams(NamedTuple):
    """``weights = {"hidden": [F, 128], "out": [128, 1]}`` (``F`` 8, or 16 for TA-LPO);
    ``ppo_init`` 1.0 adds PPO's drift."""

    weights: dict[str, jax.Array]
    ppo_init: jax.Array


def lpo_features(ratio: jax.Array, advantages: jax.Array) -> jax.Array:
    """``[log r, (log r)^2, 1 - r, (1 - r)^2] + the same times A``, in a trailing axis of 8."""
    log_ratio = jnp.log(ratio)
    base = jnp.stack([log_ratio, log_ratio**2, 1.0 - ratio, (1.0 - ratio) ** 2], axis=-1)
    return jnp.concatenate([base, base * advantages[..., None]], axis=-1)


def drift_features(
    ratio: jax.Array, advantages: jax.Array, progress: jax.Array | float, num_features: int
) -> jax.Array:
    """The LPO features, and for TA-LPO (``num_features`` 16) the same times ``progress``."""
    features = lpo_features(ratio, advantages)
    if num_features == NUM_FEATURES:
        return features
    return jnp.concatenate([features, features * progress], axis=-1)


def is_temporal(params: LearnedDriftParams) -> bool:
    """Whether a drift is temporally aware (sees the training progress)."""
    return params.weights["hidden"].shape[0] == 2 * NUM_FEATURES


def drift_network(weights: dict[str, jax.Array], features: jax.Array) -> jax.Array:
    """``f_phi(x) = tanh(x W_hidden) W_out``, no biases."""
    return (jnp.tanh(features @ weights["hidden"]) @ weights["out"])[..., 0]


def learned_drift(
    ratio: jax.Array,
    advantages: jax.Array,
    params: LearnedDriftParams,
    progress: jax.Array | float = 0.0,
) -> jax.Array:
    """``relu(ppo_init * relu((r - clip(r, 0.8, 1.2)) A) + f_phi(x) - 1e-4)``; ``progress``
    (``k / K``) is seen only by a temporally-aware drift."""
    residual = params.ppo_init * ppo_drift(ratio, advantages, PPO_INIT_CLIP)
    num_features = params.weights["hidden"].shape[0]
    features = drift_features(ratio, advantages, progress, num_features)
    return jax.nn.relu(residual + drift_network(params.weights, features) - 1e-4)


def zero_drift_weights(temporal: bool = False) -> dict[str, jax.Array]:
    """All-zero weights: zero drift (PPO's drift with PPO init). NOT an ES starting point:
    ``tanh(x W_h) W_o`` is odd in ``(W_h, W_o)`` jointly, so an antithetic pair ``+-sigma eps``
    around zero is the SAME drift, its fitness difference is 0 and OpenES's gradient estimate
    vanishes (see :func:`start_drift_weights`)."""
    return {
        "hidden": jnp.zeros((_num_features(temporal), HIDDEN_SIZE)),
        "out": jnp.zeros((HIDDEN_SIZE, 1)),
    }


def _num_features(temporal: bool) -> int:
    return 2 * NUM_FEATURES if temporal else NUM_FEATURES


def init_drift_weights(
    key: jax.Array, scale: float = 1.0, temporal: bool = False
) -> dict[str, jax.Array]:
    """LeCun-normal weights (flax ``Dense``'s default) times ``scale``."""
    hidden_key, out_key = jax.random.split(key)
    fan_in = _num_features(temporal)
    return {
        "hidden": scale * jax.random.normal(hidden_key, (fan_in, HIDDEN_SIZE)) / fan_in**0.5,
        "out": scale * jax.random.normal(out_key, (HIDDEN_SIZE, 1)) / HIDDEN_SIZE**0.5,
    }


def start_drift_weights(key: jax.Array, temporal: bool = False) -> dict[str, jax.Array]:
    """The ES starting point: a random LeCun-normal hidden layer and a ZERO output layer.

    The drift is exactly zero (PPO's drift with PPO init), like :func:`zero_drift_weights`, but
    ``f_phi`` is linear in ``W_out`` here, so the antithetic pair ``+-sigma eps`` gives two
    different drifts (``+-sigma tanh(x W_h) eps_out`` to first order) and evolution strategies
    get a first-order signal from generation 0 on."""
    return {**init_drift_weights(key, temporal=temporal), "out": jnp.zeros((HIDDEN_SIZE, 1))}


def make_drift_params(
    weights: dict[str, jax.Array], ppo_init: bool | jax.Array = False
) -> LearnedDriftParams:
    return LearnedDriftParams(weights, jnp.asarray(ppo_init, jnp.float32))


def drift_file_metadata(ppo_init: bool, temporal: bool = False) -> dict[str, Any]:
    """What a drift file records besides the weights (checked on loading)."""
    features = FEATURE_SETS[_num_features(temporal)]
    return {"kind": DRIFT_FILE_KIND, "features": features, "ppo_init": bool(ppo_init)}


def save_drift_params(path: str | os.PathLike, params: LearnedDriftParams) -> None:
    """Write a drift file."""
    metadata = drift_file_metadata(bool(params.ppo_init), is_temporal(params))
    save_pytree(path, params.weights, metadata)


def load_drift_params(path: str | os.PathLike) -> LearnedDriftParams:
    """Load and check a drift file (LPO's or TA-LPO's): ``ValueError`` for another kind of
    file, an unknown feature set, weights of the wrong shape or non-finite weights."""
    metadata = read_metadata(path)
    kind, features = metadata.get("kind"), metadata.get("features")
    if kind != DRIFT_FILE_KIND:
        raise ValueError(f"{path}: kind is {kind!r}, expected {DRIFT_FILE_KIND!r}")
    if features not in FEATURE_SETS.values():
        allowed = " or ".join(map(repr, FEATURE_SETS.values()))
        raise ValueError(f"{path}: features is {features!r}, expected {allowed}")
    like = zero_drift_weights(temporal=features == TEMPORAL_FEATURE_SET)
    weights, metadata = load_pytree(path, like)
    check_drift_params(str(path), weights)
    return make_drift_params(weights, bool(metadata.get("ppo_init", False)))


def check_drift_params(name: str, weights: dict[str, Any]) -> None:
    """``ValueError`` naming ``name`` if any weight is NaN or infinite."""
    for key, value in weights.items():
        bad = int(np.count_nonzero(~np.isfinite(np.asarray(value))))
        if bad:
            raise ValueError(f"{name}: {bad} non-finite values in the drift weights {key!r}")
