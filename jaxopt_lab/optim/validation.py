"""Early checks of optimizer hyperparameters.

A hyperparameter is checked when its value is known at construction: a Python number or a
concrete array (all of its entries). Schedules and traced values (``optax.inject_hyperparams``
inside ``jit``/``vmap``) are left alone; ``inject_hyperparams`` builds the optimizer once on
concrete values in ``init``, so its inputs are checked there.
"""

from typing import Any

import jax
import numpy as np


def _concrete(value: Any) -> np.ndarray | None:
    if callable(value) or isinstance(value, jax.core.Tracer):
        return None
    return np.asarray(value)


def _check(name: str, value: Any, ok: Any, allowed: str) -> None:
    v = _concrete(value)
    if v is not None and not np.all(ok(v)):
        raise ValueError(f"{name} must be {allowed}, got {value!r}")


def check_non_negative(name: str, value: Any) -> None:
    """Raise ``ValueError`` unless ``value >= 0`` and finite (NaN and inf fail)."""
    _check(name, value, lambda v: v >= 0, ">= 0")
    _check(name, value, np.isfinite, "finite")


def check_positive(name: str, value: Any) -> None:
    """Raise ``ValueError`` unless ``value > 0`` and finite (NaN and inf fail)."""
    _check(name, value, lambda v: v > 0, "> 0")
    _check(name, value, np.isfinite, "finite")


def check_unit_interval(name: str, value: Any, *, closed: bool = False) -> None:
    """Raise ``ValueError`` unless ``0 <= value < 1`` (``<= 1`` when ``closed``)."""
    if closed:
        _check(name, value, lambda v: (v >= 0) & (v <= 1), "in [0, 1]")
    else:
        _check(name, value, lambda v: (v >= 0) & (v < 1), "in [0, 1)")
