"""Input checks shared by configs and environment constructors."""

from collections.abc import Sequence


def check_choice(field: str, value: str, allowed: Sequence[str]) -> None:
    """Raise ``ValueError`` naming ``field``, the bad ``value`` and the ``allowed`` values."""
    if value not in allowed:
        raise ValueError(f"{field}: unknown value {value!r}; allowed: {', '.join(allowed)}")
