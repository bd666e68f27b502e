"""Lion: optax's own, with the reference's default ``weight_decay=0``."""

import jax
import optax

from jaxopt_lab.optim.validation import check_non_negative, check_unit_interval


def check_lion_args(
    learning_rate: optax.ScalarOrSchedule,
    b1: jax.typing.ArrayLike,
    b2: jax.typing.ArrayLike,
    weight_decay: jax.typing.ArrayLike,
) -> None:
    """Raise ``ValueError`` for a negative ``learning_rate``/``weight_decay`` or betas outside
    [0, 1)."""
    check_non_negative("learning_rate", learning_rate)
    check_unit_interval("b1", b1)
    check_unit_interval("b2", b2)
    check_non_negative("weight_decay", weight_decay)


def lion(
    learning_rate: optax.ScalarOrSchedule,
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.99,
    weight_decay: jax.typing.ArrayLike = 0.0,
) -> optax.GradientTransformationExtraArgs:
    r"""Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms").

    .. math::
        c = b_1 m + (1-b_1) g,\quad
        p \leftarrow p\,(1 - \mathrm{lr}\cdot\mathrm{wd}) - \mathrm{lr}\,\mathrm{sign}(c),\quad
        m \leftarrow b_2 m + (1-b_2) g

    This is ``optax.lion`` with the reference's ``weight_decay=0`` (optax's is 1e-3). Use a
    learning rate 3-10x smaller than AdamW's and a weight decay 3-10x larger.
    """
    check_lion_args(learning_rate, b1, b2, weight_decay)
    return optax.lion(learning_rate, b1=b1, b2=b2, weight_decay=weight_decay)
