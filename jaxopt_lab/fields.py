"""Configuration fields that say once whether they are static or traced, with their checks.

A configuration class is a frozen dataclass whose fields are declared with :func:`static`
(part of the compiled program's structure: sizes, names, switches) or :func:`traced` (numbers
that users sweep: array leaves of a pytree, so ``jax.vmap`` batches them). :func:`config_class`
registers the class as a pytree with exactly that split, so the configuration itself is what a
training function is vmapped over (as in rejax): its traced fields are the leaves, its static
fields are the tree structure.

Every field carries a check and a help text. Checks run when an instance is built: always on
static fields, and on traced ones whenever the value is concrete (Python numbers, NumPy arrays,
concrete JAX arrays, elementwise for a batched sweep); inside ``jit``/``vmap`` the leaves are
tracers and their checks are skipped. So a config that
exists is valid, and bad input fails with ``ValueError("field: got value; must be ...")``
before anything compiles.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

Check = Callable[[str, Any], None]


def static(default: Any, check: Check | None = None, doc: str = "", cli: bool = True) -> Any:
    """A static field: hashable, part of the compiled program's structure."""
    return _field(default, check, doc, cli, traced=False)


def traced(default: Any, check: Check | None = None, doc: str = "", cli: bool = True) -> Any:
    """A traced field: a pytree leaf (or subtree), swept with ``jax.vmap``."""
    return _field(default, check, doc, cli, traced=True)


def _field(default: Any, check: Check | None, doc: str, cli: bool, traced: bool) -> Any:
    metadata = {"traced": traced, "check": check, "doc": doc, "cli": cli}
    return dataclasses.field(default=default, metadata=metadata)


def is_traced(field: dataclasses.Field) -> bool:
    return bool(field.metadata.get("traced", False))


def config_class(cls: type) -> type:
    """Freeze ``cls`` as a dataclass, register it as a pytree (traced fields are its children,
    static fields its structure) and validate every instance when it is built.

    A class may define ``_resolve(self)``, run first (fill in derived defaults, with
    ``object.__setattr__``), and ``_check(self)`` for checks across fields, run after the field
    checks; both should look only at static fields or at values :func:`is_concrete` accepts.
    """
    cls.__post_init__ = _validate  # before dataclass(): its __init__ then calls it
    cls = dataclasses.dataclass(frozen=True)(cls)
    fields = dataclasses.fields(cls)
    jax.tree_util.register_dataclass(
        cls,
        data_fields=[f.name for f in fields if is_traced(f)],
        meta_fields=[f.name for f in fields if not is_traced(f)],
    )
    cls.replace = lambda self, **changes: dataclasses.replace(self, **changes)
    return cls


def _validate(self: Any) -> None:
    if hasattr(self, "_resolve"):
        self._resolve()
    for field in dataclasses.fields(self):
        check = field.metadata.get("check")
        value = getattr(self, field.name)
        if check is not None and (not is_traced(field) or is_concrete(value)):
            check(field.name, value)
    if hasattr(self, "_check"):
        self._check()


def is_concrete(value: Any) -> bool:
    """A value a check can read: a number, a NumPy array or a concrete JAX array of this
    process (no tracer)."""
    if isinstance(value, jax.core.Tracer):
        return False
    if isinstance(value, jax.Array):
        return value.is_fully_addressable  # another process's part cannot be read here
    return isinstance(value, int | float | np.ndarray | np.generic)


def as_leaf_array(value: Any) -> Any:
    """A traced field's Python number as a JAX scalar of its own kind (float32, int32, bool)."""
    if isinstance(value, bool):
        return jnp.bool_(value)
    if isinstance(value, int):
        return jnp.int32(value)
    if isinstance(value, float):
        return jnp.float32(value)
    return jnp.asarray(value)


# -- checks: each raises ValueError("<field>: got <value>; must be <rule>") ------------------


def _fail(name: str, value: Any, rule: str) -> None:
    raise ValueError(f"{name}: got {_show(value)}; must be {rule}")


def _show(value: Any) -> str:
    if isinstance(value, str | tuple | list):
        return repr(value)
    array = np.asarray(value)
    if array.ndim == 0:
        return repr(array.item())
    return np.array2string(array, threshold=8)


def _numbers(value: Any) -> np.ndarray:
    return np.asarray(value, dtype=np.float64)


def _all(name: str, value: Any, ok: Callable[[np.ndarray], np.ndarray], rule: str) -> None:
    numbers = _numbers(value)
    bad = ~ok(numbers)
    if np.any(bad):
        _fail(name, numbers[bad].ravel()[0] if numbers.ndim else value, rule)


def positive(name: str, value: Any) -> None:
    _all(name, value, lambda x: np.isfinite(x) & (x > 0), "> 0 and finite")


def non_negative(name: str, value: Any) -> None:
    _all(name, value, lambda x: np.isfinite(x) & (x >= 0), ">= 0 and finite")


def unit_interval(name: str, value: Any) -> None:
    _all(name, value, lambda x: (x >= 0) & (x <= 1), "in [0, 1]")


def open_unit_interval(name: str, value: Any) -> None:
    _all(name, value, lambda x: (x > 0) & (x < 1), "in (0, 1)")


def finite(name: str, value: Any) -> None:
    _all(name, value, np.isfinite, "finite")


INT32_MAX = 2**31 - 1


def at_least(minimum: int) -> Check:
    """An integer ``>= minimum`` and at most ``2**31 - 1``: compiled programs count steps,
    loop iterations and sizes in int32."""

    def check(name: str, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            _fail(name, value, f"an integer >= {minimum}")
        if value < minimum:
            _fail(name, value, f">= {minimum}")
        if value > INT32_MAX:
            _fail(name, value, f"<= 2**31 - 1 = {INT32_MAX} (compiled programs count in int32)")

    return check


def rng_seed(name: str, value: Any) -> None:
    """A seed ``jax.random.key`` takes: an integer in ``[0, 2**63)``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        _fail(name, value, "an integer in [0, 2**63)")
    if not 0 <= value < 2**63:
        _fail(name, value, "in [0, 2**63)")


def one_of(allowed: Sequence[str] | Callable[[], Sequence[str]]) -> Check:
    """A name among ``allowed`` (a sequence, or a function returning one when checked)."""

    def check(name: str, value: Any) -> None:
        check_choice(name, value, allowed() if callable(allowed) else allowed)

    check.allowed = allowed  # named in the command line's help
    return check


def check_choice(field: str, value: str, allowed: Sequence[str]) -> None:
    """Raise ``ValueError`` naming ``field``, the bad ``value`` and the ``allowed`` values."""
    if value not in allowed:
        raise ValueError(f"{field}: unknown value {value!r}; allowed: {', '.join(allowed)}")


def optional(check: Check) -> Check:
    """``check`` for a value that may also be ``None``."""

    def wrapped(name: str, value: Any) -> None:
        if value is not None:
            check(name, value)

    return wrapped


def sizes(name: str, value: Any) -> None:
    """A non-empty tuple of positive integers (layer sizes)."""
    if not isinstance(value, tuple) or not value:
        _fail(name, value, "a non-empty tuple of positive integers")
    for size in value:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            _fail(name, value, "a non-empty tuple of positive integers")


def boolean(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        _fail(name, value, "True or False")


class TracedValue:
    """Stands in for a traced field in the static view of a config (:func:`static_view`):
    any arithmetic, comparison or conversion raises, so code built from the static config
    cannot read a number that ``vmap`` sweeps by mistake."""

    __slots__ = ("path",)

    def __init__(self, path: str):
        self.path = path

    def __repr__(self) -> str:
        return f"TracedValue({self.path})"

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            f"config{self.path} is a traced hyperparameter: read it from the hyperparameters "
            "the function receives, not from the static config"
        )

    __float__ = __int__ = __bool__ = __index__ = __array__ = __jax_array__ = _refuse
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _refuse
    __truediv__ = __rtruediv__ = __pow__ = __rpow__ = __neg__ = _refuse
    __lt__ = __le__ = __gt__ = __ge__ = _refuse


def static_view(config: Any) -> Any:
    """``config`` with every traced leaf replaced by a :class:`TracedValue`."""
    return jax.tree_util.tree_map_with_path(
        lambda path, _: TracedValue(jax.tree_util.keystr(path)), config
    )
