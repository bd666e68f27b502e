"""The trainer's optimizers by name (``TrainConfig.optimizer``) and their default learning rates.

Each preset's ``learning_rate`` is tuned for its own optimizer (Adam; PyTorch-style RMSprop for
A2C, an Adam-like scale). Choosing another optimizer through :func:`jaxopt_lab.rl.config_for` or
``experiments/train.py --optimizer`` without ``--learning-rate`` multiplies the preset's rate by
``LR_SCALE[optimizer] / LR_SCALE[preset's optimizer]``; an explicit learning rate is used as
given. ``TrainConfig(...)`` built by hand takes its ``learning_rate`` as given too.
"""

from __future__ import annotations

from collections.abc import Callable

import optax

from jaxopt_lab import optim


def _rmsprop(learning_rate: optax.ScalarOrSchedule) -> optax.GradientTransformation:
    """PyTorch's RMSprop: ``decay 0.99, eps 1e-5`` outside the sqrt (optax's defaults differ:
    decay 0.9, eps 1e-8 inside), as Huang et al. 2022's A2C uses."""
    return optax.rmsprop(learning_rate, decay=0.99, eps=1e-5, eps_in_sqrt=False)


# Adam-family optimizers use PPO's eps = 1e-5 (Huang et al. 2022); other arguments are the
# references' defaults (AdamW and C-AdamW: PyTorch's weight decay 1e-2; Lion: no decay).
OPTIMIZER_STEPS: dict[str, Callable[[optax.ScalarOrSchedule], optax.GradientTransformation]] = {
    "adam": lambda lr: optax.adam(lr, eps=1e-5),
    "adamw": lambda lr: optim.adamw(lr, eps=1e-5),
    "rmsprop": _rmsprop,
    "lion": optim.lion,
    "adamp": lambda lr: optim.adamp(lr, eps=1e-5),
    "sgdp": lambda lr: optim.sgdp(lr, momentum=0.9, nesterov=True),
    "cautious_adamw": lambda lr: optim.cautious_adamw(lr, eps=1e-5),
    "cautious_lion": optim.cautious_lion,
}

# Default learning rate relative to Adam's: Lion's sign step is larger per coordinate (the
# paper: 3-10x smaller than AdamW's); SGD's step scales with the (clipped) gradient.
LR_SCALE: dict[str, float] = {
    "adam": 1.0,
    "adamw": 1.0,
    "rmsprop": 1.0,
    "lion": 0.2,
    "adamp": 1.0,
    "sgdp": 40.0,
    "cautious_adamw": 1.0,
    "cautious_lion": 0.2,
}


def optimizer_step(
    name: str, learning_rate: optax.ScalarOrSchedule
) -> optax.GradientTransformation:
    """The optimizer ``name`` (one of ``OPTIMIZER_STEPS``) with ``learning_rate``."""
    return OPTIMIZER_STEPS[name](learning_rate)
